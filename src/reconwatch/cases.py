"""Findings -> cases: one case per actor, with the facts triage needs.

An actor is one source IP, or many: the addresses of one IPv6 /64 scanning
together (``ipv6_prefix_scan``), or the members of a coordinated sweep
(``distributed_scan``, one actor per sweep: ``joined_actors``). The
facts are gathered from the lake in a handful of set-based queries for all
actors at once (never one query per case): activity totals, what answered
the actor, probe types, and sample events with file:line for every finding.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
from collections import defaultdict
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from ipaddress import ip_address
from typing import Any

import ibis
import ibis.expr.types as ir
import pyarrow as pa

from reconwatch.campaign_labels import (
    CAMPAIGN_PREFIX,
    ROTATING_PREFIX,
    Signature,
    label_signature,
)
from reconwatch.detect.dns import PTR_SWEEP, transfers_served
from reconwatch.detect.ids import is_exploit
from reconwatch.detect.scantype import scan_types
from reconwatch.detect.tools import hints_from_findings, hints_from_packets, packet_stats
from reconwatch.detect.web import is_admin_interface, is_secret
from reconwatch.engine import cached
from reconwatch.netaddr import IPNetwork, in_any, parse_ip
from reconwatch.report.text import clean, plural

#: Cap on list-valued facts kept per case (targets, ports, exposed services):
#: a /16 sweep has 65,536 targets; counts stay exact, lists are samples.
LIST_CAP = 100


@dataclass
class Evidence:
    """One sample event behind a finding, pointing back to its line."""

    log_file: str
    log_line: int
    timestamp: dt.datetime
    destination_ip: str | None
    destination_port: int | None
    #: What the event was, in a few words built from its table's own columns
    #: (e.g. "tcp SYN dropped", "PTR 7.113.0.203.in-addr.arpa NXDOMAIN").
    detail: str = ""
    #: Lake table the event comes from.
    table: str = "network"

    def location(self, file_limit: int | None = None) -> str:
        """``file:line``; with ``file_limit``, the file name cleaned and cut to
        it (``report.text.clean``), never the line number: the line is the pointer."""
        name = self.log_file if file_limit is None else clean(self.log_file, file_limit)
        return f"{name}:{self.log_line}"


#: Per table: the columns that describe an event, in the order they read well.
EVIDENCE_DETAIL: dict[str, tuple[str, ...]] = {
    "network": ("network_transport", "tcp_flags", "event_action", "connection_state"),
    "dns": ("dns_question_type", "dns_question_name", "dns_response_code", "event_action"),
    "http": (
        "http_request_method",
        "url_domain",
        "url_path",
        "http_response_status_code",
        "user_agent_original",
    ),
    "auth": ("service_name", "event_action", "user_name", "event_outcome"),
    "alert": ("rule_id", "rule_name", "event_action"),
}


@dataclass
class Finding:
    """A detection result for one actor, as cases and reports use it."""

    detection: str
    source_ip: str
    window_start: dt.datetime | None
    first_seen: dt.datetime
    last_seen: dt.datetime
    event_count: int
    target_count: int
    port_count: int
    targets: list[str]
    ports: list[int]
    score: float
    label: str | None
    source_table: str = "network"
    evidence: list[Evidence] = field(default_factory=list)

    def describe(self) -> str:
        """One sentence an analyst reads in a summary."""
        span = _duration(self.last_seen - self.first_seen)
        if self.detection == "vertical_scan":
            return f"{self.port_count} ports of {self.label} probed within {span}"
        if self.detection == "horizontal_scan":
            return f"{self.target_count} hosts probed on {self.label} within {span}"
        if self.detection == "block_scan":
            return (
                f"{self.target_count} hosts x {self.port_count} ports probed "
                f"({int(self.score)} host:port pairs) within {span}"
            )
        if self.detection == "flag_scan":
            return f"{self.event_count} stealth-scan packets ({self.label}) within {span}"
        if self.detection == "trw_scan":
            return (
                f"sequential test (TRW) flagged it {self.label} "
                f"({self.target_count} hosts, log-likelihood {self.score:.1f})"
            )
        if self.detection == "ipv6_prefix_scan" and self.label:
            return (
                f"{self.port_count} port(s) of {self.target_count} host(s) probed from "
                f"{self.source_ip}, one of the addresses of {rotating_network(self.label)}, "
                f"which probed {int(self.score)} host:port pairs together in the window"
            )
        if self.detection == "internal_name_probe":
            return (
                f"{self.target_count} internal-only names or private reverse-zone names "
                f"asked of our DNS from outside within {span}"
            )
        if self.detection == "private_answer_leak":
            return (
                f"our DNS answered an outside client with {self.target_count} private or "
                f"internal-only address(es) within {span}"
            )
        if self.detection == "web_internal_host":
            return (
                f"{self.event_count} request(s) naming internal hosts in Host "
                f"({self.target_count} distinct) within {span}"
            )
        label = f" ({self.label})" if self.label else ""
        return (
            f"{plural(self.event_count, 'event')}, {plural(self.target_count, 'target')}{label} "
            f"within {span}"
        )


@dataclass(frozen=True)
class ZoneTransfer:
    """A zone transfer a DNS server gave a source (``detect.dns.transfers_served``)."""

    source: str
    zone: str
    #: AXFR or IXFR.
    type: str
    #: The server that answered (its address, else the host that logged it); None if unsaid.
    server: str | None
    transfers: int
    first_seen: dt.datetime
    last_seen: dt.datetime

    def describe(self) -> str:
        """``AXFR of example.com from 203.0.113.53 to 198.51.100.9 (2 times, first ...)``."""
        server = f" from {self.server}" if self.server else ""
        return (
            f"{self.type} of {self.zone}{server} to {self.source} "
            f"({plural(self.transfers, 'time')}, first {self.first_seen:%Y-%m-%d %H:%M:%S} UTC)"
        )


@dataclass
class Activity:
    """Everything the lake says about one source, not only what a detection flagged."""

    events: int = 0
    failed: int = 0
    succeeded: int = 0
    first_seen: dt.datetime | None = None
    last_seen: dt.datetime | None = None
    target_count: int = 0
    port_count: int = 0
    #: Distinct host:port pairs among failed attempts: the breadth of probing.
    probed_pairs: int = 0
    #: "ip:port/proto" services that answered or were let through (exposure).
    exposed: list[str] = field(default_factory=list)
    exposed_count: int = 0
    #: psad-style probe type -> packets.
    probe_types: dict[str, int] = field(default_factory=dict)
    datasets: list[str] = field(default_factory=list)
    #: DNS queries the source made, distinct names, and how many failed (NXDOMAIN).
    dns_queries: int = 0
    dns_names: int = 0
    dns_nxdomain: int = 0
    #: Queries whose answer code was logged (a query-only log such as BIND's
    #: query log records none: NXDOMAIN shares mean nothing there).
    dns_answered: int = 0
    #: Web requests the source made, and how many got a 4xx answer.
    http_requests: int = 0
    http_client_errors: int = 0
    http_paths: int = 0
    #: User activity from the source (auth logs): logins and failures, the
    #: users involved, and when the first successful login happened.
    auth_successes: int = 0
    auth_failures: int = 0
    auth_users: list[str] = field(default_factory=list)
    #: The users of the successful logins only (``auth_users`` holds every attempt's).
    auth_success_users: list[str] = field(default_factory=list)
    first_auth_success: dt.datetime | None = None
    #: The successful logins at or after the scan began (the case's first
    #: finding): how many, the first one's time, and their users. A login
    #: before the scan (the source's usual user, say) does not hide a later one.
    auth_successes_after_scan: int = 0
    first_auth_success_after_scan: dt.datetime | None = None
    auth_success_users_after_scan: list[str] = field(default_factory=list)
    #: IDS alerts and honeypot touches from the source, with their rule names.
    alerts: int = 0
    alert_rules: list[str] = field(default_factory=list)
    #: Of those, exploitation/intrusion signatures (data/ids_signatures.yaml):
    #: the source went beyond reconnaissance.
    exploit_alerts: int = 0
    exploit_rules: list[str] = field(default_factory=list)
    first_exploit_alert: dt.datetime | None = None
    #: Secret, source and backup paths (data/sensitive_paths.yaml, ``secrets``)
    #: that answered 2xx to the source: data was served, not only asked for.
    sensitive_successes: int = 0
    sensitive_success_paths: list[str] = field(default_factory=list)
    #: Admin interfaces (data/sensitive_paths.yaml, ``admin_interfaces``; not
    #: secrets) that answered 2xx to the source: an exposed login or console,
    #: reported, but not a sign of compromise by itself.
    admin_successes: int = 0
    admin_success_paths: list[str] = field(default_factory=list)
    #: Zone transfers a DNS server gave the source (not only refused): an AXFR
    #: hands over every name and address of the zone, an IXFR its changes. Per
    #: source, zone, type and server, first first; the facts, whoever's server
    #: it was (``triage.exposes`` tells those that exposed a zone of ours).
    zone_transfers: list[ZoneTransfer] = field(default_factory=list)
    #: Connections that succeeded *from* one of our hosts *to* the source at
    #: or after the scan began: a scanned host talking back to the scanner is
    #: a sign of compromise. Samples are "our host:port".
    back_connections: int = 0
    back_connection_samples: list[str] = field(default_factory=list)
    #: Such connections before the scan began: our hosts using a service at
    #: that address (a mirror, an API) is not the scan's doing; reported only.
    back_connections_before_scan: int = 0
    #: The source's first and last event in any log (network, DNS, web, auth,
    #: alerts): ``first_seen``/``last_seen`` are its network events only.
    active_from: dt.datetime | None = None
    active_until: dt.datetime | None = None
    #: Who and what the source address is, from our own logs: names DNS gives
    #: it (A/AAAA answers holding it, PTR answers for it), and the users who
    #: logged on to it (auth events aimed at it or logged by a host of that
    #: name). For an internal scanner this names the machine and its users.
    host_names: list[str] = field(default_factory=list)
    host_users: list[str] = field(default_factory=list)
    #: Cross-log link: addresses our DNS gave the source that it then probed
    #: (first packet after the first answer): enumeration feeding a scan.
    resolved_then_probed: int = 0
    resolved_then_probed_samples: list[str] = field(default_factory=list)
    #: Tool hints from packet fields (detect/tools.py): tool, confidence, evidence.
    tools: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Case:
    """One actor's case; triage fills the decision fields."""

    id: str
    sources: list[str]
    findings: list[Finding]
    activity: Activity
    internal: bool = False
    techniques: list[str] = field(default_factory=list)
    severity: str = "low"
    escalate: bool = False
    reasons: list[str] = field(default_factory=list)
    disposition: str = "suspicious"
    answers: dict[str, str] = field(default_factory=dict)
    containment: dict[str, Any] = field(default_factory=dict)
    #: The campaign key when the case groups several coordinated sources.
    campaign: str | None = None
    #: The playbook's escalation criteria: name -> {"met": bool|None, "evidence": [...]}
    #: (None = could not be evaluated, with the reason as evidence).
    criteria: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: 0-100, see triage.score for the formula.
    score: float = 0.0
    #: The L1 analysis steps, each with its status and result.
    checklist: list[dict[str, str]] = field(default_factory=list)
    #: What Tier 2 receives: timeline, related sources, earlier sightings, actions.
    tier2: dict[str, Any] = field(default_factory=dict)
    #: Per source: threat-intel matches, benign-scanner lists, geo/ASN.
    enrichment: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: Bounded chart data (timeline, hosts x ports heat map, DNS volume), see
    #: report/series.py; empty until the hunt computes it from the lake.
    series: dict[str, Any] = field(default_factory=dict)
    #: The scan episodes triage counted (``triage.episode_spans``): first_seen,
    #: last_seen, detections, events. The case store records one sighting each.
    episodes: list[dict[str, Any]] = field(default_factory=list)
    #: An analyst's decision that already covers this activity (the case store's
    #: closed case: ``case_id``, ``disposition``, ``reason``); None otherwise.
    analyst: dict[str, Any] | None = None
    #: Every destination address the actor's events name, in any log (None
    #: for events that name none): the hosts it touched, on which an approved
    #: exercise's scope is judged. Gathered only for the actors ``build_cases``
    #: is asked for (an exercise's testers); None when not gathered.
    destinations: list[str | None] | None = None

    @property
    def actor(self) -> str:
        """What identifies the case across hunts: its campaign key, or its source."""
        return self.campaign or self.sources[0]

    @property
    def network(self) -> str | None:
        """The IPv6 /64 whose addresses the case's sources are (a rotating
        scanner's case, ``ipv6_prefix_scan``); None for other cases."""
        return rotating_network(self.campaign) if self.campaign else None

    def named(self, shown: int, *, compact: bool = False) -> str:
        """The case's actor in a line of text: a rotating IPv6 scanner as its
        /64 and how many addresses; other cases as their first ``shown``
        sources and how many more, "+N more" when ``compact`` (a table
        column), else "and N more" (a campaign's full list is in cases.json)."""
        if self.network is not None:
            return f"{self.network} ({len(self.sources)} addresses)"
        more = len(self.sources) - shown
        if more <= 0:
            return ", ".join(self.sources)
        tail = f" +{more} more" if compact else f" and {more} more"
        return ", ".join(self.sources[:shown]) + tail

    @property
    def detections(self) -> list[str]:
        return sorted({f.detection for f in self.findings})

    @property
    def first_seen(self) -> dt.datetime:
        return min(f.first_seen for f in self.findings)

    @property
    def last_seen(self) -> dt.datetime:
        return max(f.last_seen for f in self.findings)

    @property
    def targets(self) -> list[str]:
        return sorted({t for f in self.findings for t in f.targets})

    @property
    def ports(self) -> list[int]:
        return sorted({p for f in self.findings for p in f.ports})


def _duration(delta: dt.timedelta) -> str:
    seconds = int(delta.total_seconds())
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    return f"{seconds // 3600} h {seconds % 3600 // 60} min"


def rotating_network(label: str) -> str | None:
    """The /64 an ``ipv6_prefix_scan`` label names (``campaign:ipv6@N/64``), else None."""
    return label[len(ROTATING_PREFIX) :] if label.startswith(ROTATING_PREFIX) else None


def case_id(actor: str, first_seen: dt.datetime) -> str:
    """Stable id: the same actor starting at the same moment gets the same id on a rerun."""
    digest = hashlib.sha256(f"{actor}|{first_seen.isoformat()}".encode()).hexdigest()
    return f"RW-{first_seen:%Y%m%d}-{digest[:8]}"


def actor_of(finding: Finding) -> str:
    """The actor a finding belongs to: its campaign when it has one, else its source.

    Campaign detections give each member source the same ``label`` starting
    with ``campaign:``; their findings form one case listing every member.
    """
    if finding.label and finding.label.startswith(CAMPAIGN_PREFIX):
        return finding.label
    return finding.source_ip


def joined_actors(found: Iterable[Finding], keys: Collection[str] = ()) -> dict[str, str]:
    """Each ``actor_of`` of ``found`` -> the actor its case is known by: itself,
    but for ``distributed_scan`` campaigns that share a member source, which
    are one actor.

    The detection labels each (hour, transport, port, /24) of a sweep apart,
    so twelve sources splitting a /24 on eight ports made eight cases listing
    the same twelve: one sweep, one case. Labels are linked when a source is
    a member of both (transitively); a source is one actor wherever it
    shows. The joined actor is known by its first label in
    ``label_signature`` order (earliest hour, then transport, port, /24): a
    later hunt that sees the sweep go on in later hours keeps the key, and
    the case's id and history with it. A label sorting earlier (the sweep
    reached port 22 after port 80) would move the key: ``keys``, the labels
    already known as a sweep's key (an open case's actor in the store, an
    actor in the watch's alert book), keep it. A sweep holding several keeps
    the first of them (two sweeps a new source joins: the earlier one's).
    Whatever groups findings by actor (the case builder, the analysts'
    decisions, the watch's book) reads it here.
    """
    members: dict[str, set[str]] = defaultdict(set)
    signatures: dict[str, Signature] = {}
    joined: dict[str, str] = {}
    for finding in found:
        actor = actor_of(finding)
        joined[actor] = actor
        if (signature := label_signature(actor)) is not None:
            signatures[actor] = signature
            members[actor].add(finding.source_ip)
    owner: dict[str, str] = {}  # member source -> the first label it was seen in

    def root(label: str) -> str:
        while joined[label] != label:
            joined[label] = joined[joined[label]]
            label = joined[label]
        return label

    for label in sorted(signatures, key=signatures.__getitem__):
        for source in sorted(members[label]):
            linked = sorted(
                {root(label), root(owner.setdefault(source, label))}, key=signatures.__getitem__
            )
            # The earlier root stays: each group's root is its first label.
            for later in linked[1:]:
                joined[later] = linked[0]
    kept: dict[str, str] = {}  # a group's root -> the first known key among its labels
    for label in sorted(set(keys).intersection(signatures), key=signatures.__getitem__):
        kept.setdefault(root(label), label)
    return {actor: kept.get(root(actor), root(actor)) for actor in joined}


def actor_keys(found: Sequence[Finding], keys: Collection[str] = ()) -> list[str]:
    """The actor each of ``found`` belongs to, campaigns joined (``joined_actors``)."""
    joined = joined_actors(found, keys)
    return [joined[actor_of(finding)] for finding in found]


def build_cases(
    tables: Mapping[str, ir.Table] | ir.Table,
    findings: pa.Table,
    evidence_samples: int,
    excluded: Sequence[tuple[str, dt.datetime, dt.datetime]] = (),
    *,
    by_source: Mapping[str, ir.Table] | None = None,
    testers: Collection[str] = (),
    keys: Collection[str] = (),
    exposes: Callable[[ZoneTransfer], bool] | None = None,
    home: Sequence[IPNetwork] = (),
) -> list[Case]:
    """Group findings by actor and attach activity facts and evidence from the lake tables.

    ``excluded`` holds (source, first, last) spans whose events are left out
    of the activity and evidence: activity an analyst already closed a case
    on, which must not weigh on the source's new case. ``by_source``: tables
    that hold every event of the findings' sources (or more), such as
    ``engine.of_sources`` cuts, read for those instead of the whole tables
    (the events towards the sources still come from ``tables``).
    ``testers``: sources whose actors' destination addresses are gathered in
    full (``Case.destinations``): an approved exercise's, whose scope triage
    judges on them. ``keys``: campaign labels a sweep keeps as its actor
    (``joined_actors``). ``exposes`` (``triage.exposes``) tells the zone
    transfers that handed a zone of ours away: kept first where an actor's
    list is cut at ``LIST_CAP``. ``home`` (``site.home_networks``): the
    sources whose host names may lend them the users of our hosts of that
    name (``_identities``); loopback ones always may.
    """
    if findings.num_rows == 0:
        return []
    if not isinstance(tables, Mapping):
        tables = {"network": tables}
    found = [finding_of(row) for row in findings.to_pylist()]
    sources = sorted({f.source_ip for f in found})
    actors = ibis.memtable(pa.table({"actor": pa.array(sources, pa.string())}))
    spans = _spans(excluded) if excluded else None

    cut: dict[str, ir.Table] = {}
    # Each cache is released when the cases are built, even if one release fails.
    releases = contextlib.ExitStack()

    def events_of(name: str) -> ir.Table:
        """The actors' events of table ``name``, cut from the lake once.

        A dozen queries below read them: each one joined the whole table (2M
        events) to the actors again before they were cached (``engine.cached``:
        a temporary table of the lake's backend, released when the cases are
        built).
        """
        if name in cut:
            return cut[name]
        table = (by_source or tables).get(name, tables[name])
        events = table.join(actors, table.source_ip == actors.actor).select(table)
        if spans is not None:
            within = [
                events.source_ip == spans._span_source,
                events.timestamp >= spans._span_first,
                events.timestamp <= spans._span_last,
            ]
            events = events.anti_join(spans, within)
        cut[name] = cached(events, releases)
        return cut[name]

    with releases:
        ours = {s for s in sources if _is_ours(s, home)}
        return _cases_of(
            tables, found, sources, events_of, evidence_samples, set(testers), keys, exposes, ours
        )


def _cases_of(
    tables: Mapping[str, ir.Table],
    found: list[Finding],
    sources: list[str],
    events_of: Callable[[str], ir.Table],
    evidence_samples: int,
    testers: set[str],
    keys: Collection[str],
    exposes: Callable[[ZoneTransfer], bool] | None,
    ours: Collection[str],
) -> list[Case]:
    """``build_cases`` once the actors' events can be read (``events_of``);
    ``ours``: the sources in our own networks."""

    activity: dict[str, Activity] = defaultdict(Activity)
    if "network" in tables:
        activity.update(_activity(events_of("network")))
    if "dns" in tables:
        _dns_activity(events_of("dns"), activity, exposes)
    if "http" in tables:
        _http_activity(events_of("http"), activity)
    if "auth" in tables:
        _auth_activity(events_of("auth"), activity)
    if "alert" in tables:
        _alert_activity(events_of("alert"), activity)
    _active_spans(tables, events_of, activity)
    if "dns" in tables and "network" in tables:
        _resolved_then_probed(events_of("dns"), events_of("network"), activity)
    _identities(tables, sources, activity, ours)
    for name in sorted({f.source_table for f in found}):
        if name in tables:
            subset = [f for f in found if f.source_table == name]
            _attach_evidence(events_of(name), name, subset, evidence_samples)

    by_actor: dict[str, list[Finding]] = defaultdict(list)
    for finding, actor in zip(found, actor_keys(found, keys), strict=True):
        by_actor[actor].append(finding)
    groups = {
        actor: members
        for actor, items in by_actor.items()
        if len(members := sorted({f.source_ip for f in items})) > 1
    }
    breadth = _union_breadth(tables, events_of, groups) if groups else {}
    # Every actor with its members and when its scan began (its first finding).
    members_of = {actor: sorted({f.source_ip for f in items}) for actor, items in by_actor.items()}
    began = _actor_members(
        [(a, m, min(f.first_seen for f in by_actor[a])) for a, ms in members_of.items() for m in ms]
    )
    after = _after_scan(tables, events_of, began)
    wanted = sorted(a for a, ms in members_of.items() if testers.intersection(ms))
    touched = _destinations(tables, events_of, began, wanted) if wanted else {}
    cases = []
    for actor, items in sorted(by_actor.items()):
        items.sort(key=_finding_order)
        members = sorted({f.source_ip for f in items})
        first = min(f.first_seen for f in items)
        merged = _merge([activity[m] for m in members], exposes)
        # Distinct counts of the union, not the members' sum (``_merge`` made
        # a new Activity for a multi-source actor: no member's is changed).
        for name, value in breadth.get(actor, {}).items():
            setattr(merged, name, value)
        labels: dict[str, list[str | None]] = defaultdict(list)
        for f in items:
            labels[f.detection].append(f.label)
        # A copy: a source's Activity may also serve a campaign case.
        merged = replace(merged, tools=_unique_tools([*merged.tools, *hints_from_findings(labels)]))
        # Facts about what came after the scan began are the actor's own (a
        # source's scan may begin earlier in its campaign than on its own).
        for name, value in after.get(actor, {}).items():
            setattr(merged, name, value)
        cases.append(
            Case(
                id=case_id(actor, first),
                sources=members,
                findings=items,
                activity=merged,
                campaign=actor if actor.startswith(CAMPAIGN_PREFIX) else None,
                destinations=touched.get(actor, []) if actor in wanted else None,
            )
        )
    return cases


def _finding_order(f: Finding) -> tuple[Any, ...]:
    """A case's findings in time order, ties broken on every column that
    tells two findings apart: the order never follows the engine's rows (two
    sweeps of one source starting the same second, on ports 22 and 80)."""
    return (
        f.first_seen,
        f.detection,
        f.source_ip,
        f.label or "",
        f.last_seen,
        f.window_start or f.first_seen,
        f.source_table,
        # Findings alike in all of the above still differ in what they
        # counted and listed (a findings table holding two such rows).
        f.event_count,
        f.target_count,
        f.port_count,
        f.targets,
        f.ports,
    )


def _actor_members(rows: Sequence[tuple[str, str, dt.datetime]]) -> ir.Table:
    """(actor, member source, when the actor's scan began) as a table to join events to."""
    return ibis.memtable(
        pa.table(
            {
                "_actor": pa.array([a for a, _, _ in rows], pa.string()),
                "_member": pa.array([m for _, m, _ in rows], pa.string()),
                "_began": pa.array([b for _, _, b in rows], pa.timestamp("us", "UTC")),
            }
        )
    )


def _after_scan(
    tables: Mapping[str, ir.Table], events_of: Callable[[str], ir.Table], began: ir.Table
) -> dict[str, dict[str, Any]]:
    """Per actor, the signs of compromise that count only at or after its scan began.

    Successful logins from its members (how many, the first, their users), and
    connections our hosts opened to its members: those at or after the scan
    (count, samples) and those before it (count). One query per table.
    """
    result: dict[str, dict[str, Any]] = defaultdict(
        lambda: {
            "auth_successes_after_scan": 0,
            "first_auth_success_after_scan": None,
            "auth_success_users_after_scan": [],
            "back_connections": 0,
            "back_connection_samples": [],
            "back_connections_before_scan": 0,
        }
    )
    if "auth" in tables:
        auth = events_of("auth")
        joined = auth.join(began, auth.source_ip == began._member)
        ok = joined.filter(
            (joined.event_outcome == "success") & (joined.timestamp >= joined._began)
        )
        logins = ok.group_by("_actor").aggregate(
            count=ok.count(),
            first=ok.timestamp.min(),
            users=ok.user_name.collect(distinct=True),
        )
        for row in logins.to_pyarrow().to_pylist():
            facts = result[row["_actor"]]
            facts["auth_successes_after_scan"] = row["count"]
            facts["first_auth_success_after_scan"] = row["first"]
            facts["auth_success_users_after_scan"] = sorted(u for u in (row["users"] or []) if u)[
                :LIST_CAP
            ]
    if "network" in tables:
        network = tables["network"]
        succeeded = network.filter(network.connection_outcome == "succeeded")
        back = succeeded.join(began, succeeded.destination_ip == began._member)
        later = back.timestamp >= back._began
        # "our host:port" as ``_service`` writes it: an IPv6 host bracketed
        # ("2001:db8::80:4444" reads as one address), a portless event (ICMP)
        # as the host alone rather than no sample.
        host = back.source_ip.contains(":").ifelse("[" + back.source_ip + "]", back.source_ip)
        sample = back.destination_port.isnull().ifelse(
            host, host.concat(":", back.destination_port.cast("string"))
        )
        totals = back.group_by("_actor").aggregate(
            after=later.ifelse(1, 0).sum(),
            before=later.ifelse(0, 1).sum(),
            samples=later.ifelse(sample, ibis.null("string")).collect(distinct=True),
        )
        for row in totals.to_pyarrow().to_pylist():
            facts = result[row["_actor"]]
            facts["back_connections"] = row["after"] or 0
            facts["back_connections_before_scan"] = row["before"] or 0
            facts["back_connection_samples"] = sorted(s for s in (row["samples"] or []) if s)[:10]
    return dict(result)


#: Tables whose events name a destination address (the host the source touched).
DESTINATION_TABLES = ("network", "dns", "http", "auth", "alert")


def _destinations(
    tables: Mapping[str, ir.Table],
    events_of: Callable[[str], ir.Table],
    began: ir.Table,
    actors: Sequence[str],
) -> dict[str, list[str | None]]:
    """The distinct destination addresses of the ``actors``' events in every log
    (None once when some event names none), one union query."""
    wanted = began.filter(began._actor.isin(list(actors)))
    parts = []
    for name in DESTINATION_TABLES:
        if name in tables:
            events = events_of(name)
            joined = events.join(wanted, events.source_ip == wanted._member)
            parts.append(joined.select("_actor", "destination_ip"))
    if not parts:
        return {}
    found = ibis.union(*parts, distinct=True).order_by(["_actor", "destination_ip"])
    result: dict[str, list[str | None]] = defaultdict(list)
    for row in found.to_pyarrow().to_pylist():
        result[row["_actor"]].append(row["destination_ip"])
    return dict(result)


def _active_spans(
    tables: Mapping[str, ir.Table],
    events_of: Callable[[str], ir.Table],
    result: dict[str, Activity],
) -> None:
    """Each source's first and last event in any log (``active_from``, ``active_until``)."""
    for name in DESTINATION_TABLES:
        if name not in tables:
            continue
        events = events_of(name)
        spans = events.group_by("source_ip").aggregate(
            first=events.timestamp.min(), last=events.timestamp.max()
        )
        for row in spans.to_pyarrow().to_pylist():
            activity = result[row["source_ip"]]
            activity.active_from = _earliest(activity.active_from, row["first"])
            activity.active_until = _latest(activity.active_until, row["last"])


def _union_breadth(
    tables: Mapping[str, ir.Table],
    events_of: Callable[[str], ir.Table],
    groups: Mapping[str, Sequence[str]],
) -> dict[str, dict[str, int]]:
    """Distinct counts over the union of each multi-source actor's events.

    A campaign's members probe the same port on different hosts: adding up
    their per-source counts of distinct ports would give six members six
    ports where they probed one. Counts of events stay sums (``_merge``).
    """
    pairs = [(actor, member) for actor, members in groups.items() for member in members]
    mapping = ibis.memtable(
        pa.table(
            {
                "_actor": pa.array([a for a, _ in pairs], pa.string()),
                "_member": pa.array([m for _, m in pairs], pa.string()),
            }
        )
    )

    def joined(name: str) -> ir.Table:
        events = events_of(name)
        return events.join(mapping, events.source_ip == mapping._member)

    def distinct_rows(table: ir.Table, columns: Sequence[str], name: str) -> ir.Table:
        return (
            table.select("_actor", *columns)
            .distinct()
            .group_by("_actor")
            .aggregate(**{name: ibis._.count()})
        )

    queries: list[ir.Table] = []
    if "network" in tables:
        network = joined("network")
        queries.append(
            network.group_by("_actor").aggregate(
                target_count=network.destination_ip.nunique(),
                port_count=network.destination_port.nunique(),
            )
        )
        failed = network.filter(network.connection_outcome == "failed")
        pair = ["destination_ip", "destination_port"]
        queries.append(distinct_rows(failed, pair, "probed_pairs"))
        answered = network.filter(network.connection_outcome == "succeeded")
        service = ["destination_ip", "destination_port", "network_transport"]
        queries.append(distinct_rows(answered, service, "exposed_count"))
    if "dns" in tables:
        dns = joined("dns")
        queries.append(dns.group_by("_actor").aggregate(dns_names=dns.dns_question_name.nunique()))
    if "http" in tables:
        http = joined("http")
        queries.append(http.group_by("_actor").aggregate(http_paths=http.url_path.nunique()))
    if "dns" in tables and "network" in tables:
        # Addresses, not (member, address) pairs: two members given the same
        # address and probing it are one address of the campaign's.
        pairs = _resolved_probed(events_of("dns"), events_of("network"))
        fed = pairs.join(mapping, pairs.source_ip == mapping._member)
        queries.append(
            fed.group_by("_actor").aggregate(resolved_then_probed=fed._address.nunique())
        )
    result: dict[str, dict[str, int]] = defaultdict(dict)
    for query in queries:
        for row in query.to_pyarrow().to_pylist():
            actor = row.pop("_actor")
            result[actor].update({key: int(value or 0) for key, value in row.items()})
    return dict(result)


def _spans(excluded: Sequence[tuple[str, dt.datetime, dt.datetime]]) -> ir.Table:
    stamp = pa.timestamp("us", tz="UTC")
    return ibis.memtable(
        pa.table(
            {
                "_span_source": pa.array([s for s, _, _ in excluded], pa.string()),
                "_span_first": pa.array([f for _, f, _ in excluded], stamp),
                "_span_last": pa.array([last for _, _, last in excluded], stamp),
            }
        )
    )


def _unique_tools(hints: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One hint per tool, the first (most certain) kept."""
    seen: dict[str, dict[str, Any]] = {}
    for hint in hints:
        seen.setdefault(hint["tool"], hint)
    return list(seen.values())


def _earliest(a: dt.datetime | None, b: dt.datetime | None) -> dt.datetime | None:
    return min(t for t in (a, b) if t is not None) if (a or b) else None


def _latest(a: dt.datetime | None, b: dt.datetime | None) -> dt.datetime | None:
    return max(t for t in (a, b) if t is not None) if (a or b) else None


def _merge(
    parts: list[Activity], exposes: Callable[[ZoneTransfer], bool] | None = None
) -> Activity:
    """One actor's activity from its member sources' (a campaign has many)."""
    if len(parts) == 1:
        return parts[0]
    merged = Activity()
    for part in parts:
        for name in (
            "events", "failed", "succeeded", "target_count", "port_count", "probed_pairs",
            "exposed_count", "dns_queries", "dns_names", "dns_nxdomain", "dns_answered",
            "http_requests",
            "http_client_errors", "http_paths", "auth_successes", "auth_failures", "alerts",
            "exploit_alerts", "sensitive_successes", "admin_successes", "resolved_then_probed",
        ):  # fmt: skip
            setattr(merged, name, getattr(merged, name) + getattr(part, name))
        stamps = [t for t in (merged.first_seen, part.first_seen) if t is not None]
        merged.first_seen = min(stamps) if stamps else None
        stamps = [t for t in (merged.last_seen, part.last_seen) if t is not None]
        merged.last_seen = max(stamps) if stamps else None
        merged.exposed = sorted({*merged.exposed, *part.exposed})[:LIST_CAP]
        for kind, count in part.probe_types.items():
            merged.probe_types[kind] = merged.probe_types.get(kind, 0) + count
        merged.datasets = sorted({*merged.datasets, *part.datasets})
        merged.auth_users = sorted({*merged.auth_users, *part.auth_users})[:LIST_CAP]
        merged.auth_success_users = sorted({*merged.auth_success_users, *part.auth_success_users})[
            :LIST_CAP
        ]
        merged.alert_rules = sorted({*merged.alert_rules, *part.alert_rules})[:LIST_CAP]
        merged.exploit_rules = sorted({*merged.exploit_rules, *part.exploit_rules})[:LIST_CAP]
        merged.sensitive_success_paths = sorted(
            {*merged.sensitive_success_paths, *part.sensitive_success_paths}
        )[:LIST_CAP]
        merged.admin_success_paths = sorted(
            {*merged.admin_success_paths, *part.admin_success_paths}
        )[:LIST_CAP]
        merged.zone_transfers = _kept_transfers(
            [*merged.zone_transfers, *part.zone_transfers], exposes
        )
        merged.first_exploit_alert = _earliest(merged.first_exploit_alert, part.first_exploit_alert)
        merged.active_from = _earliest(merged.active_from, part.active_from)
        merged.active_until = _latest(merged.active_until, part.active_until)
        merged.tools = _unique_tools([*merged.tools, *part.tools])
        merged.host_names = sorted({*merged.host_names, *part.host_names})[:LIST_CAP]
        merged.host_users = sorted({*merged.host_users, *part.host_users})[:LIST_CAP]
        merged.resolved_then_probed_samples = sorted(
            {*merged.resolved_then_probed_samples, *part.resolved_then_probed_samples}
        )[:LIST_CAP]
        if part.first_auth_success is not None and (
            merged.first_auth_success is None or part.first_auth_success < merged.first_auth_success
        ):
            merged.first_auth_success = part.first_auth_success
    return merged


def _transfer_order(t: ZoneTransfer) -> tuple[dt.datetime, str, str, str, str]:
    return (t.first_seen, t.source, t.zone, t.type, t.server or "")


def _kept_transfers(
    transfers: list[ZoneTransfer], exposes: Callable[[ZoneTransfer], bool] | None
) -> list[ZoneTransfer]:
    """At most ``LIST_CAP`` of ``transfers``, first first. Those that exposed a
    zone of ours are kept before the others: triage judges the kept list, and
    a cut by time alone could leave out the one transfer that matters behind
    a hundred an authorised secondary (or our own host's pulls) made first."""
    ordered = sorted(transfers, key=_transfer_order)
    if len(ordered) > LIST_CAP and exposes is not None:
        ordered.sort(key=lambda t: not exposes(t))  # stable: time order within each part
    return sorted(ordered[:LIST_CAP], key=_transfer_order)


def finding_of(row: dict[str, Any]) -> Finding:
    """A runner findings row (``RUN_FINDINGS``) as a ``Finding``."""
    return Finding(
        detection=row["detection"],
        source_ip=row["source_ip"],
        window_start=row["window_start"],
        first_seen=row["first_seen"],
        last_seen=row["last_seen"],
        event_count=row["event_count"],
        target_count=row["target_count"],
        port_count=row["port_count"],
        targets=list(row["targets"] or []),
        ports=list(row["ports"] or []),
        score=row["score"],
        label=row["label"],
        source_table=row.get("source_table") or "network",
    )


def _activity(events: ir.Table) -> dict[str, Activity]:
    failed = events.connection_outcome == "failed"
    succeeded = events.connection_outcome == "succeeded"
    totals = events.group_by("source_ip").aggregate(
        events=events.count(),
        failed=failed.ifelse(1, 0).sum(),
        succeeded=succeeded.ifelse(1, 0).sum(),
        first_seen=events.timestamp.min(),
        last_seen=events.timestamp.max(),
        target_count=events.destination_ip.nunique(),
        port_count=events.destination_port.nunique(),
        datasets=events.event_dataset.collect(distinct=True),
    )
    result: dict[str, Activity] = {}
    for row in totals.to_pyarrow().to_pylist():
        result[row["source_ip"]] = Activity(
            events=row["events"],
            failed=row["failed"] or 0,
            succeeded=row["succeeded"] or 0,
            first_seen=row["first_seen"],
            last_seen=row["last_seen"],
            target_count=row["target_count"],
            port_count=row["port_count"],
            datasets=sorted(row["datasets"] or []),
        )

    pairs = (
        events.filter(failed)
        .select("source_ip", "destination_ip", "destination_port")
        .distinct()
        .group_by("source_ip")
        .aggregate(pairs=ibis._.count())
    )
    for row in pairs.to_pyarrow().to_pylist():
        result[row["source_ip"]].probed_pairs = row["pairs"]

    # The first LIST_CAP services of each source and their number, cut in
    # the engine: a scanner that found a /16 answering brings 100 rows to
    # Python, not 65,536.
    listed = ["destination_ip", "destination_port", "network_transport"]
    services = events.filter(succeeded).select("source_ip", *listed).distinct()
    ranked = services.mutate(
        _n=ibis.row_number().over(group_by=services.source_ip, order_by=listed),
        _total=services.source_ip.count().over(group_by=services.source_ip),
    )
    kept = ranked.filter(ranked._n < LIST_CAP).order_by(["source_ip", "_n"])
    for row in kept.to_pyarrow().to_pylist():
        activity = result[row["source_ip"]]
        activity.exposed_count = row["_total"]
        activity.exposed.append(_service(row))

    for row in scan_types(events).to_pyarrow().to_pylist():
        result[row["source_ip"]].probe_types[row["probe_type"]] = row["packets"]
    for row in packet_stats(events).to_pyarrow().to_pylist():
        result[row["source_ip"]].tools = hints_from_packets(row)
    return result


def _dns_activity(
    events: ir.Table,
    result: dict[str, Activity],
    exposes: Callable[[ZoneTransfer], bool] | None = None,
) -> None:
    nx = (events.dns_response_code == "NXDOMAIN").ifelse(1, 0)
    totals = events.group_by("source_ip").aggregate(
        queries=events.count(),
        names=events.dns_question_name.nunique(),
        nxdomain=nx.sum(),
        answered=events.dns_response_code.notnull().ifelse(1, 0).sum(),
    )
    for row in totals.to_pyarrow().to_pylist():
        activity = result[row["source_ip"]]
        activity.dns_queries = row["queries"]
        activity.dns_names = row["names"]
        activity.dns_nxdomain = row["nxdomain"] or 0
        activity.dns_answered = row["answered"] or 0
    given: dict[str, list[ZoneTransfer]] = defaultdict(list)
    for transfer in zone_transfers_given(events):
        given[transfer.source].append(transfer)
    for source, transfers in given.items():
        result[source].zone_transfers = _kept_transfers(transfers, exposes)


def zone_transfers_given(dns: ir.Table) -> list[ZoneTransfer]:
    """The zone transfers DNS servers gave the sources of ``dns``
    (``detect.dns.transfers_served``), per source, zone, type and server,
    first first. One transfer that BIND logged (no server named, or its host
    through syslog) and a sensor saw (the server's address) is two entries:
    two observations, each judged on its own by ``transfer_exposes`` (folding
    them lost the BIND line's word that the server was ours, and could not
    tell which transfers the two logs shared)."""
    served = transfers_served(dns)
    given = served.group_by(
        source_ip=served.source_ip,
        zone=served.dns_question_name.lower().fill_null(""),
        type=served.dns_question_type.upper(),
        server=served.destination_ip.fill_null(served.observer_name),
    ).aggregate(
        transfers=served.count(),
        first_seen=served.timestamp.min(),
        last_seen=served.timestamp.max(),
    )
    transfers = [
        ZoneTransfer(source=r.pop("source_ip"), **r) for r in given.to_pyarrow().to_pylist()
    ]
    return sorted(transfers, key=_transfer_order)


def _http_activity(events: ir.Table, result: dict[str, Activity]) -> None:
    status = events.http_response_status_code
    client_error = ((status >= 400) & (status < 500)).ifelse(1, 0)
    totals = events.group_by("source_ip").aggregate(
        requests=events.count(),
        errors=client_error.sum(),
        paths=events.url_path.nunique(),
    )
    for row in totals.to_pyarrow().to_pylist():
        activity = result[row["source_ip"]]
        activity.http_requests = row["requests"]
        activity.http_client_errors = row["errors"] or 0
        activity.http_paths = row["paths"]
    ok = (status >= 200) & (status <= 299) & events.url_path.notnull()
    served = events.filter(ok).mutate(
        _secret=is_secret(events.url_path), _admin=is_admin_interface(events.url_path)
    )
    served = served.filter(served._secret | served._admin)
    hits = served.group_by("source_ip").aggregate(
        secrets=served._secret.ifelse(1, 0).sum(),
        secret_paths=served._secret.ifelse(served.url_path, ibis.null("string")).collect(
            distinct=True
        ),
        admin=served._admin.ifelse(1, 0).sum(),
        admin_paths=served._admin.ifelse(served.url_path, ibis.null("string")).collect(
            distinct=True
        ),
    )
    for row in hits.to_pyarrow().to_pylist():
        activity = result[row["source_ip"]]
        activity.sensitive_successes = row["secrets"] or 0
        activity.sensitive_success_paths = sorted(p for p in row["secret_paths"] or [] if p)[
            :LIST_CAP
        ]
        activity.admin_successes = row["admin"] or 0
        activity.admin_success_paths = sorted(p for p in row["admin_paths"] or [] if p)[:LIST_CAP]


def _auth_activity(events: ir.Table, result: dict[str, Activity]) -> None:
    success = events.event_outcome == "success"
    totals = events.group_by("source_ip").aggregate(
        successes=success.ifelse(1, 0).sum(),
        failures=(events.event_outcome == "failure").ifelse(1, 0).sum(),
        first_success=success.ifelse(events.timestamp, ibis.null()).min(),
        users=events.user_name.collect(distinct=True),
        success_users=success.ifelse(events.user_name, ibis.null()).collect(distinct=True),
    )
    for row in totals.to_pyarrow().to_pylist():
        activity = result[row["source_ip"]]
        activity.auth_successes = row["successes"] or 0
        activity.auth_failures = row["failures"] or 0
        activity.first_auth_success = row["first_success"]
        activity.auth_users = sorted(u for u in (row["users"] or []) if u)[:LIST_CAP]
        activity.auth_success_users = sorted(u for u in (row["success_users"] or []) if u)[
            :LIST_CAP
        ]


def _alert_activity(events: ir.Table, result: dict[str, Activity]) -> None:
    totals = events.group_by("source_ip").aggregate(
        alerts=events.count(), rules=events.rule_name.collect(distinct=True)
    )
    for row in totals.to_pyarrow().to_pylist():
        activity = result[row["source_ip"]]
        activity.alerts = row["alerts"]
        activity.alert_rules = sorted(r for r in (row["rules"] or []) if r)[:LIST_CAP]
    exploits = events.filter(is_exploit(events))
    hits = exploits.group_by("source_ip").aggregate(
        count=exploits.count(),
        rules=exploits.rule_name.collect(distinct=True),
        first=exploits.timestamp.min(),
    )
    for row in hits.to_pyarrow().to_pylist():
        activity = result[row["source_ip"]]
        activity.exploit_alerts = row["count"]
        activity.exploit_rules = sorted(r for r in (row["rules"] or []) if r)[:LIST_CAP]
        activity.first_exploit_alert = row["first"]


def _resolved_then_probed(dns: ir.Table, network: ir.Table, result: dict[str, Activity]) -> None:
    """Per source: addresses it was given in DNS answers and probed afterwards."""
    after = _resolved_probed(dns, network)
    totals = after.group_by(after.source_ip).aggregate(
        count=after.count(), samples=after._address.collect(distinct=True)
    )
    for row in totals.to_pyarrow().to_pylist():
        activity = result[row["source_ip"]]
        activity.resolved_then_probed = row["count"]
        activity.resolved_then_probed_samples = sorted(row["samples"] or [])[:LIST_CAP]


def _resolved_probed(dns: ir.Table, network: ir.Table) -> ir.Table:
    """(source_ip, _address): each address a source was given in a DNS answer
    and probed afterwards, once."""
    answered = dns.filter(dns.dns_answers.notnull() & (dns.dns_answers.length() > 0))
    one = answered.mutate(_address=answered.dns_answers.unnest())
    resolved = one.group_by(["source_ip", "_address"]).aggregate(_resolved=one.timestamp.min())
    probed = network.group_by(["source_ip", "destination_ip"]).aggregate(
        _probed=network.timestamp.min()
    )
    both = resolved.join(
        probed,
        (resolved.source_ip == probed.source_ip) & (resolved._address == probed.destination_ip),
    )
    after = both.filter(both._probed >= both._resolved)
    return after.select("source_ip", "_address")


#: Names that name no particular machine (a PTR of "localhost." is a common
#: misconfiguration): never a source's host name, and never matched to the
#: hosts that syslog as "localhost", whose users are not the source's.
NO_HOST_NAMES: frozenset[str] = frozenset(
    {"localhost", "localhost4", "localhost6", "ip6-localhost", "ip6-loopback"}
)


def _is_ours(source: str, home: Sequence[IPNetwork]) -> bool:
    addr = parse_ip(source)
    return addr.is_loopback or in_any(addr, home)


def _identities(
    tables: Mapping[str, ir.Table],
    sources: list[str],
    result: dict[str, Activity],
    ours: Collection[str],
) -> None:
    """Host names and users of each source address, from DNS and auth logs.

    Names: questions whose A/AAAA answers hold the address, and PTR answers
    for its reverse name. Users: successful logins aimed at the address, or,
    for a source of ours (``ours``: in ``site.home_networks``), logged by a
    host (``observer_name``) carrying one of those names (full or first
    label: syslog writes short host names). An outside address's names are
    its owner's to choose (a PTR of ``dc01.anything``): matched to our hosts,
    they would give a scanner the users of our ``dc01``.
    """
    names: dict[str, set[str]] = defaultdict(set)
    if "dns" in tables:
        dns = tables["dns"]
        answered = dns.filter(dns.dns_answers.notnull() & (dns.dns_answers.length() > 0))
        one = answered.mutate(_answer=answered.dns_answers.unnest())
        wanted = ibis.memtable(pa.table({"actor": pa.array(sources, pa.string())}))
        forward = one.join(wanted, one._answer == wanted.actor).filter(
            one.dns_question_type.isin(["A", "AAAA"])
        )
        reverse_names = {ip_address(s).reverse_pointer: s for s in sources}
        reverse = ibis.memtable(
            pa.table(
                {
                    "actor": pa.array(list(reverse_names.values()), pa.string()),
                    "ptr": pa.array(list(reverse_names), pa.string()),
                }
            )
        )
        ptr = one.join(reverse, one.dns_question_name == reverse.ptr)
        found = ibis.union(
            forward.select(actor=forward.actor, name=forward.dns_question_name),
            ptr.select(actor=ptr.actor, name=ptr._answer),
            distinct=True,
        )
        for row in found.to_pyarrow().to_pylist():
            name = str(row["name"] or "").lower().rstrip(".")
            if name and name.split(".")[0] not in NO_HOST_NAMES:
                names[row["actor"]].add(name)
    users: dict[str, set[str]] = defaultdict(set)
    if "auth" in tables:
        auth = tables["auth"]
        ok = auth.filter((auth.event_outcome == "success") & auth.user_name.notnull())
        # (actor, host name) pairs, full and first label: one name may be
        # several sources' (round-robin answers), each gets its users.
        by_host = sorted(
            {
                (a, h)
                for a, ns in names.items()
                if a in ours
                for n in ns
                for h in {n, n.split(".")[0]}
            }
        )
        hosts = ibis.memtable(
            pa.table(
                {
                    "actor": pa.array([a for a, _ in by_host], pa.string()),
                    "host": pa.array([h for _, h in by_host], pa.string()),
                }
            )
        )
        wanted = ibis.memtable(pa.table({"actor": pa.array(sources, pa.string())}))
        aimed = ok.join(wanted, ok.destination_ip == wanted.actor)
        logged = ok.join(hosts, ok.observer_name.lower() == hosts.host)
        found = ibis.union(
            aimed.select(actor=aimed.actor, user=aimed.user_name),
            logged.select(actor=logged.actor, user=logged.user_name),
            distinct=True,
        )
        for row in found.to_pyarrow().to_pylist():
            users[row["actor"]].add(row["user"])
    for source in sources:
        if names.get(source) or users.get(source):
            activity = result[source]
            activity.host_names = sorted(names.get(source, ()))[:LIST_CAP]
            activity.host_users = sorted(users.get(source, ()))[:LIST_CAP]


def _service(row: dict[str, Any]) -> str:
    host = row["destination_ip"]
    host = f"[{host}]" if ":" in host else host
    port = row["destination_port"]
    proto = row["network_transport"] or "ip"
    return f"{host}:{port}/{proto}" if port is not None else f"{host}/{proto}"


def _attach_evidence(events: ir.Table, table: str, found: list[Finding], samples: int) -> None:
    """Give each finding its first ``samples`` supporting events, in one query per table."""
    spans = ibis.memtable(
        pa.table(
            {
                "finding": pa.array(range(len(found)), pa.int64()),
                "actor": pa.array([f.source_ip for f in found], pa.string()),
                "span_start": pa.array([f.first_seen for f in found], pa.timestamp("us", "UTC")),
                "span_end": pa.array([f.last_seen for f in found], pa.timestamp("us", "UTC")),
            }
        )
    )
    joined = events.join(
        spans,
        [
            events.source_ip == spans.actor,
            events.timestamp >= spans.span_start,
            events.timestamp <= spans.span_end,
        ],
    )
    # The events the finding is about first: its own hosts and ports, names,
    # paths. A source's other traffic in the same span (the campaign's port
    # 22 beside its port 80, a sweep beside a vertical scan of one host, PTR
    # queries beside a brute force of names) is not evidence of this finding.
    joined = _off_finding(joined, table, found)
    order = [joined._off_finding, joined.timestamp, joined.log_file, joined.log_line]
    if table == "network":
        # Then failed attempts: they are what the scan detections counted.
        order.insert(1, (joined.connection_outcome == "failed").ifelse(0, 1))
    ranked = joined.mutate(rank=ibis.row_number().over(group_by=joined.finding, order_by=order))
    detail_columns = EVIDENCE_DETAIL.get(table, ())
    columns = [
        "finding", "log_file", "log_line", "timestamp", "destination_ip", "destination_port",
        *detail_columns,
    ]  # fmt: skip
    picked = ranked.filter(ranked["rank"] < samples).order_by(["finding", "rank"])
    for row in picked.select(*columns).to_pyarrow().to_pylist():
        index = row.pop("finding")
        values = [row.pop(c) for c in detail_columns]
        detail = " ".join(str(v) for v in values if v not in (None, ""))
        found[index].evidence.append(Evidence(**row, detail=detail, table=table))


def _off_finding(joined: ir.Table, table: str, found: list[Finding]) -> ir.Table:
    """``joined`` (events x findings) with ``_off_finding``: 0 for an event
    its finding lists, else 1 (ranked after). Listed: in network events, a
    host among the finding's ``targets`` and a port among its ``ports`` (any,
    when it lists none); in DNS events, a question among its targets (names,
    or the reverse names of the addresses a PTR sweep lists); in web events,
    a path among them. Other targets (a Host, an answer) match nothing and
    leave the order as it was: a ranking, never a filter, so a finding whose
    lists are cut short (``detect.dns.MAX_TARGETS``) still has its lines.
    Hash joins on (finding, target) and (finding, port): a /16 sweep's
    65,536 targets are rows to join, not a list each event is looked up in."""
    names = {"network": "destination_ip", "dns": "dns_question_name", "http": "url_path"}
    if table not in names:
        return joined.mutate(_off_finding=ibis.literal(0))
    column = joined[names[table]]
    column = column if table == "network" else column.lower()
    by_port = table == "network"
    keys = [
        (i, key)
        for i, f in enumerate(found)
        for key in dict.fromkeys(
            k for t in f.targets if t for k in _target_keys(t, table, f.detection == PTR_SWEEP)
        )
    ]
    ports = [(i, p) for i, f in enumerate(found) if by_port for p in dict.fromkeys(f.ports)]
    on_key = ibis.memtable(
        pa.table(
            {
                "_key_finding": pa.array([i for i, _ in keys], pa.int64()),
                "_key": pa.array([k for _, k in keys], pa.string()),
            }
        )
    )
    on_port = ibis.memtable(
        pa.table(
            {
                "_port_finding": pa.array([i for i, _ in ports], pa.int64()),
                "_port": pa.array([p for _, p in ports], pa.int64()),
            }
        )
    )
    listed = ibis.memtable(
        pa.table(
            {
                "_listed_finding": pa.array(range(len(found)), pa.int64()),
                "_lists_keys": pa.array([any(f.targets) for f in found], pa.bool_()),
                "_lists_ports": pa.array([by_port and bool(f.ports) for f in found], pa.bool_()),
            }
        )
    )
    marked = (
        joined.mutate(_event_key=column)
        .join(listed, ibis._.finding == listed._listed_finding)
        .left_join(
            on_key, [ibis._.finding == on_key._key_finding, ibis._._event_key == on_key._key]
        )
        .left_join(
            on_port,
            [
                ibis._.finding == on_port._port_finding,
                ibis._.destination_port.cast("int64") == on_port._port,
            ],
        )
    )
    key_ok = ~marked._lists_keys | marked._key.notnull()
    port_ok = ~marked._lists_ports | marked._port.notnull()
    return marked.mutate(_off_finding=(key_ok & port_ok).ifelse(0, 1))


def _target_keys(target: str, table: str, swept: bool = False) -> list[str]:
    """What a finding's target is in ``table``'s events (``_off_finding``);
    ``swept``: a PTR sweep's, whose addresses are asked as reverse names (the
    addresses other DNS findings list, ``private_answer_leak``'s answers,
    are not: their reverse names are other queries)."""
    if table == "network":
        return [target]
    if table != "dns":
        # A path as it is: "/.." or "/backup." cut at its dots was another path.
        return [target.lower()]
    keys = [target.lower().rstrip(".")]
    if not swept:
        return [*keys, f"{keys[0]}."]  # questions logged with the root's dot
    # A PTR sweep's address is its question's four labels turned round
    # (``detect.dns._ptr_names``), as the question wrote them: reversed as
    # text, "010.113.000.203.in-addr.arpa" (no address to ``ip_address``) is
    # still its own.
    labels = keys[0].split(".")
    if len(labels) == 4:
        keys.append(".".join(reversed(labels)) + ".in-addr.arpa")
    with contextlib.suppress(ValueError):
        keys.append(ip_address(target).reverse_pointer)
    keys += [f"{k}." for k in keys]  # questions logged with the root's dot
    return keys
