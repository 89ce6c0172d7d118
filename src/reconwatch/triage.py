"""Tier 1 triage as the playbook (T1590.005) says: techniques, severity, escalation, answers.

Escalation here implements the playbook's first criterion, "evidence of
repeated scanning activity from the same source IP". The other criteria
(internal enumeration from outside, known threat actors, signs of compromise)
and the L1 steps (threat intel, approved exercises, user activity) arrive
with their data sources; until then the answers say plainly what was not
checked, rather than implying a clean result.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import asdict, dataclass
from ipaddress import ip_network
from typing import Any, Final

from reconwatch.cases import Activity, Case, Finding, ZoneTransfer
from reconwatch.config import Config
from reconwatch.detect import DETECTIONS
from reconwatch.detect.dns import exposure_test
from reconwatch.detect.internal import INTERNAL_ENUMERATION
from reconwatch.enrich import Enrichment, SourceContext
from reconwatch.enrich.exercises import Verdict
from reconwatch.netaddr import IPNetwork, in_any, parse_ip
from reconwatch.report.text import plural
from reconwatch.scanning import SCAN_DETECTIONS
from reconwatch.store import History, count_episodes

#: What each detection outside ``SCAN_DETECTIONS`` says about reconnaissance,
#: for question 3 when a case holds nothing else (see ``reconwatch.scanning``).
NOT_SCANNING: Final = {
    "traffic_spike": (
        "traffic above the source's own baseline, which backups, updates and flash crowds cause too"
    ),
    "private_answer_leak": (
        "our DNS answered with internal addresses, a disclosure by our servers rather "
        "than a pattern of the client's"
    ),
    "web_host_bare_ip": (
        "requests addressed to our servers by IP instead of by name, as clients walking "
        "address ranges do, but also load-balancer health checks and uptime monitors"
    ),
}

#: The playbook's "Questions for Analysis", verbatim: the keys of ``Case.answers``.
QUESTIONS = (
    "Are there unusual patterns of access to public-facing resources?",
    "Are there any known malicious IPs involved in accessing our endpoints?",
    "Do accessed or queried IP ranges align with any recognized reconnaissance patterns?",
    "What is the frequency and volume of DNS queries, and do they correspond with "
    "potential IP address gathering?",
)

#: Scan detections that summarise a whole day (``slow_scan``) or the whole
#: input (``dark_space_probe``): their span is not one burst, so they mark the
#: episode they start in but do not stretch it over the bursts in between.
WHOLE_SPAN_DETECTIONS = frozenset({"slow_scan", "dark_space_probe"})

#: nmap options behind psad's probe types, for the analyst's benefit.
PROBE_NAMES = {
    "SYN": "TCP SYN scan (nmap -sS)",
    "FIN": "TCP FIN scan (nmap -sF)",
    "NULL": "TCP NULL scan (nmap -sN)",
    "XMAS": "TCP XMAS scan (nmap -sX)",
    "ACK": "TCP ACK scan (nmap -sA)",
    "UDP": "UDP scan (nmap -sU)",
    "IP_PROTO": "IP protocol scan (nmap -sO)",
    "ICMP": "ICMP probes (ping sweep, nmap -sn)",
    "TCP_OTHER": "TCP with unusual flags",
    "TCP": "TCP (flags not logged)",
}

SEVERITIES = ("low", "medium", "high", "critical")


def triage(
    cases: list[Case],
    config: Config,
    tables: Collection[str] = ("network",),
    history: Mapping[str, History] | None = None,
    enrichment: Enrichment | None = None,
    transfer_exposes: Callable[[ZoneTransfer], bool] | None = None,
) -> list[Case]:
    """Fill techniques, escalation, severity, disposition and the four answers, in place.

    ``tables`` names the lake tables the hunt had, so an answer can tell "no
    DNS queries from this source" apart from "no DNS logs at all". ``history``
    is what the case store knew of each actor before this hunt: earlier
    sightings count towards "repeated scanning" across runs and days.
    ``enrichment`` (threat intel, benign scanner lists, exercises, geo) is
    looked up once for every source of every case. ``transfer_exposes``:
    ``exposes(config)`` when the caller has it already.
    """
    home = config.site.home()
    transfer_exposes = transfer_exposes or exposes(config)
    history = history or {}
    contexts = enrichment.sources(s for c in cases for s in c.sources) if enrichment else {}
    intel = _Intel.of(config, enrichment)
    calendar = _calendar_problem(config, enrichment)
    for case in cases:
        case.internal = all(_is_internal(source, home) for source in case.sources)
        case.techniques = _techniques(case)
        case.enrichment = {s: _context_dict(contexts[s]) for s in case.sources if s in contexts}
        earlier = history.get(case.actor)
        given = list(filter(transfer_exposes, case.activity.zone_transfers))
        case.criteria = evaluate_criteria(case, config, earlier, given)
        case.episodes = episode_spans(case, config.triage.repeat_gap_seconds)
        case.criteria["known_threat_actor"] = _known_actor(case, contexts, intel)
        case.escalate = any(c["met"] for c in case.criteria.values())
        case.reasons = [
            reason for c in case.criteria.values() if c["met"] for reason in c["evidence"]
        ]
        case.score = score(case)
        case.severity = severity_of(case.score)
        case.disposition = "malicious" if case.escalate else "suspicious"
        exercise = _exercise_verdicts(case, enrichment)
        _benign_or_exercise(case, contexts, exercise)
        _still_escalated(case, earlier)
        case.answers = _answers(case, tables, contexts, intel, given)
        case.checklist = _checklist(case, tables, intel, exercise, config, calendar)
    near = _Neighbours(cases, contexts)
    for at, case in enumerate(cases):
        case.tier2 = _tier2_package(at, cases, history.get(case.actor), near)
    return sorted(cases, key=lambda c: (-SEVERITIES.index(c.severity), c.first_seen, c.id))


def _still_escalated(case: Case, earlier: History | None) -> None:
    """An actor's case escalated to Tier 2 (by an analyst or an earlier hunt) stays so.

    Escalation is undone only by closing the case: a later hunt that sees
    less of the actor (a quiet day, a lake since trimmed) must not report the
    case as merely suspicious while Tier 2 works on it.
    """
    if earlier is None or earlier.status != "escalated":
        return
    if case.disposition in ("approved_exercise", "benign_scanner"):
        return  # known since: the exercise calendar or a benign list says who it is
    # Nor does its severity fall while Tier 2 works on it (nor its block's length),
    # whether or not this hunt's own evidence escalates it again.
    if earlier.severity in SEVERITIES and SEVERITIES.index(earlier.severity) > SEVERITIES.index(
        case.severity
    ):
        case.severity = earlier.severity
    if case.escalate:
        return
    case.escalate = True
    case.disposition = "malicious"
    case.reasons.append(
        f"Escalated to Tier 2 earlier (case {earlier.case_id}); it stays escalated until closed"
    )


def _techniques(case: Case) -> list[str]:
    """ATT&CK techniques: T1590.005 for every external actor mapping our addresses,
    plus what each detection is evidence of; from inside, scanning is T1046."""
    found = {DETECTIONS[d].technique for d in case.detections if d in DETECTIONS}
    if case.internal:
        scanning = {t for t in found if t.startswith("T1595")}
        return sorted((found - scanning) | ({"T1046"} if scanning or not found else set()))
    return sorted(found | {"T1590.005"})


def _is_internal(source: str, home: Sequence[IPNetwork]) -> bool:
    addr = parse_ip(source)
    return addr.is_loopback or in_any(addr, home)


def scan_episodes(case: Case, gap_seconds: int) -> list[list[Finding]]:
    """Scan findings merged into episodes: a finding starting more than
    ``gap_seconds`` after everything before it ended opens a new episode.

    A whole-span summary (``slow_scan``'s day) does not stretch the episode for
    the bursts after it, but the next day's summary of the same detection
    continues it: one low-and-slow scan running past midnight is one episode.
    """
    episodes: list[list[Finding]] = []
    end: dt.datetime | None = None
    #: Per whole-span detection, where its summaries in the current episode end.
    summary_end: dict[str, dt.datetime] = {}
    for finding in sorted(case.findings, key=lambda f: (f.first_seen, f.detection)):
        if finding.detection not in SCAN_DETECTIONS:
            continue
        whole = finding.detection in WHOLE_SPAN_DETECTIONS
        reach = end
        if whole and finding.detection in summary_end and reach is not None:
            reach = max(reach, summary_end[finding.detection])
        if reach is None or (finding.first_seen - reach).total_seconds() > gap_seconds:
            episodes.append([])
            end = finding.first_seen
            summary_end = {}
        episodes[-1].append(finding)
        if whole:
            before = summary_end.get(finding.detection, finding.last_seen)
            summary_end[finding.detection] = max(before, finding.last_seen)
        else:
            end = max(end, finding.last_seen) if end is not None else finding.last_seen
    return episodes


def episode_spans(case: Case, gap_seconds: int) -> list[dict[str, Any]]:
    """The case's scan episodes as the store records them (one sighting each).

    The same episodes the "repeated scanning" criterion counts, so the store's
    episode count and the escalation reason agree; a case without scan
    findings has none (the store then records the case's span).
    """
    return [
        {
            "first_seen": episode[0].first_seen,
            "last_seen": _episode_end(episode),
            "detections": sorted({f.detection for f in episode}),
            "events": sum(f.event_count for f in episode),
        }
        for episode in scan_episodes(case, gap_seconds)
    ]


def _episode_end(episode: list[Finding]) -> dt.datetime:
    """Where an episode ends: its last finding's end, whole-span summaries aside."""
    ends = [f.last_seen for f in episode if f.detection not in WHOLE_SPAN_DETECTIONS]
    return max(ends) if ends else episode[0].first_seen


def evaluate_criteria(
    case: Case, config: Config, earlier: History | None, exposing: Sequence[ZoneTransfer]
) -> dict[str, dict[str, Any]]:
    """The playbook's four escalation criteria: met, not met or not evaluable, with
    evidence. ``exposing``: the case's zone transfers that gave a zone away (``exposes``)."""
    return {
        "repeated_scanning": _repeated_scanning(case, config, earlier),
        "internal_enumeration": _internal_enumeration(case, config),
        "known_threat_actor": {
            "met": None,
            "evidence": ["not checked: no threat-intelligence feed is configured"],
        },
        "compromise": _compromise(case, exposing),
    }


def _repeated_scanning(case: Case, config: Config, earlier: History | None) -> dict[str, Any]:
    """Criterion 1: repeated scanning from the same source IP, within this hunt and across hunts."""
    rules = config.triage
    source = ", ".join(case.sources[:5]) + (" ..." if len(case.sources) > 5 else "")
    reasons: list[str] = []
    episodes = scan_episodes(case, rules.repeat_gap_seconds)
    if earlier is not None and episodes:
        # Only earlier sightings that were scan episodes: a hunt that saw the
        # actor's health checks (web_host_bare_ip) saw no scanning to repeat.
        spans = [(e[0].first_seen, _episode_end(e)) for e in episodes]
        total = count_episodes([*spans, *earlier.episodes], rules.repeat_gap_seconds)
        if total > len(episodes) and total >= rules.repeat_min_episodes:
            reasons.append(
                f"Repeated scanning from {source} across hunts: {total} separate episodes "
                f"including {len(earlier.episodes)} earlier scan episode(s) in case "
                f"{earlier.case_id}"
            )
    if len(episodes) >= rules.repeat_min_episodes:
        starts = ", ".join(f"{e[0].first_seen:%Y-%m-%d %H:%M}" for e in episodes[:5])
        more = f" and {len(episodes) - 5} more" if len(episodes) > 5 else ""
        kinds = ", ".join(sorted({f.detection for e in episodes for f in e}))
        reasons.append(
            f"Repeated scanning from {source}: {len(episodes)} separate scan episodes "
            f"(starting {starts}{more} UTC; {kinds})"
        )
    probed = case.activity.probed_pairs
    if probed >= rules.repeat_min_probes:
        reasons.append(
            f"Repeated scanning from {source}: {probed} distinct host:port pairs probed "
            f"without success (threshold {rules.repeat_min_probes})"
        )
    if reasons:
        return {"met": True, "evidence": reasons}
    return {
        "met": False,
        "evidence": [
            f"not met: {len(episodes)} scan episode(s), {probed} distinct host:port pairs probed"
        ],
    }


def _internal_enumeration(case: Case, config: Config) -> dict[str, Any]:
    """Criterion 2: an outside source reaching for addresses never visible from outside.

    Met by probes of ``site.internal_only`` targets, and by the internal
    enumeration detections (internal-only names or private reverse zones asked
    of our DNS, private addresses our DNS handed out, internal Host headers).
    """
    if case.internal:
        return {"met": False, "evidence": ["not applicable: the source is internal"]}
    evidence = [
        f"{f.describe()}: {', '.join(f.targets[:5])}"
        for f in case.findings
        if f.detection in INTERNAL_ENUMERATION
    ]
    inside = config.site.internal_only_networks()
    hits = sorted(
        {
            t
            for f in case.findings
            for t in f.targets
            if inside and _is_address(t) and in_any(parse_ip(t), inside)
        }
    )
    if hits:
        evidence.append(
            f"Enumeration of internal-only addresses from outside: {len(hits)} target(s) in "
            f"site.internal_only, e.g. {', '.join(hits[:5])}"
        )
    if evidence:
        return {"met": True, "evidence": evidence}
    if not inside:
        return {
            "met": None,
            "evidence": [
                "not evaluated for packets: site.internal_only lists no internal-only ranges; "
                "no internal names, private answers or internal Host headers seen"
            ],
        }
    return {"met": False, "evidence": ["not met: no target inside site.internal_only"]}


def exposes(config: Config) -> Callable[[ZoneTransfer], bool]:
    """Whether a zone transfer handed one of our zones to someone who should
    not have it (``detect.dns.transfer_exposes`` with ``config``'s authorised
    secondaries and home networks)."""
    test = exposure_test(config.detect.zone_transfer, config.site.home())
    return lambda t: test(t.source, t.server)


def _compromise(case: Case, given: Sequence[ZoneTransfer]) -> dict[str, Any]:
    """Criterion 4: signs of compromise or unauthorised access after the reconnaissance.

    A successful login from the scanning source at or after its first scan,
    IDS exploitation/intrusion alerts on the source, secret, source or backup
    paths served (2xx) to it (data exposed), a zone transfer one of our DNS
    servers gave it (every name and address of the zone: unauthorised access
    unless it is an authorised secondary), or one of our hosts opening
    connections back to it. An admin interface served (a login page, a
    console) is exposure worth reporting, not a compromise by itself: it is
    named in the evidence either way but never meets the criterion alone.
    """
    act = case.activity
    evidence = []
    if act.first_auth_success_after_scan is not None:
        users = ", ".join(act.auth_success_users_after_scan[:5]) or "unknown user"
        first = act.first_auth_success_after_scan
        earlier = (
            f"; an earlier one, at {_ts(act.first_auth_success)}, came before the scan"
            if act.first_auth_success is not None and act.first_auth_success < first
            else ""
        )
        evidence.append(
            f"{act.auth_successes_after_scan} successful login(s) from the scanning source at or "
            f"after the scan began, the first at {_ts(first)}, user(s): {users}{earlier}"
        )
    if act.exploit_alerts:
        evidence.append(
            f"{act.exploit_alerts} IDS exploitation alert(s) from the source, first at "
            f"{_ts(act.first_exploit_alert)}: {'; '.join(act.exploit_rules[:3])}"
        )
    if act.sensitive_successes:
        evidence.append(
            f"{act.sensitive_successes} secret/source/backup path request(s) answered 2xx "
            f"(data exposed): {', '.join(act.sensitive_success_paths[:5])}"
        )
    if given:
        evidence.append(
            "Zone transfer served to the source (unauthorised access to zone data: an AXFR "
            "hands over every name and address of the zone, an IXFR its changes or the whole "
            "zone): "
            f"{'; '.join(t.describe() for t in given[:5])}"
            + (f"; and {len(given) - 5} more" if len(given) > 5 else "")
        )
    if act.back_connections:
        evidence.append(
            f"{act.back_connections} connection(s) from our hosts back to the source after the "
            f"scan began, e.g. {', '.join(act.back_connection_samples[:5])}"
        )
    # Our hosts using a service at that address before it scanned us is context.
    before = (
        [
            f"{act.back_connections_before_scan} connection(s) from our hosts to the source "
            "before the scan began (not a sign of compromise by itself)"
        ]
        if act.back_connections_before_scan
        else []
    )
    admin = (
        [
            f"{act.admin_successes} admin interface request(s) answered 2xx (an exposed "
            f"admin interface, not a compromise by itself): "
            f"{', '.join(act.admin_success_paths[:5])}"
        ]
        if act.admin_successes
        else []
    )
    # Transfers to a secondary, or our hosts' pulls from outside servers: facts, not counted.
    others = len(act.zone_transfers) - len(given)
    uncounted = (
        [
            f"{plural(others, 'zone transfer')} served to an authorised secondary or pulled by "
            "one of our hosts from a server outside our networks (not counted)"
        ]
        if others
        else []
    )
    if evidence:
        return {"met": True, "evidence": evidence + admin + before + uncounted}
    logins = (
        f"no login success after the scan began (the first, at {_ts(act.first_auth_success)}, "
        "came before it)"
        if act.first_auth_success is not None
        else "no login success"
    )
    return {
        "met": False,
        "evidence": [
            f"not met: {logins}, exploitation alert, secret path served, zone transfer served "
            "or back-connection seen",
            *admin,
            *before,
            *uncounted,
        ],
    }


def _context_dict(ctx: SourceContext) -> dict[str, Any]:
    return {"intel": ctx.intel, "benign_lists": ctx.benign, "geo": asdict(ctx.geo)}


@dataclass(frozen=True)
class _Intel:
    """Which configured threat-intelligence feeds triage could match against."""

    #: Feed names in the configuration, in its order.
    configured: tuple[str, ...]
    #: Configured feeds that could not be read: name -> why.
    unread: Mapping[str, str]

    @classmethod
    def of(cls, config: Config, enrichment: Enrichment | None) -> _Intel:
        names = tuple(feed.name for feed in config.enrich.feeds)
        if enrichment is None:
            unread = {name: "not loaded for this run" for name in names}
        else:
            unread = {n: why for n, why in enrichment.unread_feeds().items() if n in names}
        return cls(names, unread)

    @property
    def on(self) -> bool:
        return bool(self.configured)

    @property
    def read(self) -> list[str]:
        return [name for name in self.configured if name not in self.unread]

    def unread_notes(self) -> list[str]:
        """One line per feed that could not be read."""
        return [f"feed {name} could not be read: {why}" for name, why in self.unread.items()]

    def unread_names(self) -> str:
        return ", ".join(self.unread)


def _calendar_problem(config: Config, enrichment: Enrichment | None) -> str | None:
    """Why the configured exercise calendar was not consulted; None when it was (or is none)."""
    if config.enrich.exercises is None:
        return None
    if enrichment is None:
        return "the exercise calendar was not loaded for this run"
    if enrichment.exercises_error is not None:
        return f"the exercise calendar could not be read: {enrichment.exercises_error}"
    return None


def _known_actor(
    case: Case, contexts: Mapping[str, SourceContext], intel: _Intel
) -> dict[str, Any]:
    """Criterion 3: sources linked to known threat actor activity (threat-intel matches).

    A match in a feed that was read meets it; no match is "not met" only when
    every configured feed was read: otherwise the criterion was not evaluated
    (in full), and each feed that could not be read is named.
    """
    if not intel.on:
        return {
            "met": None,
            "evidence": ["not checked: no threat-intelligence feed is configured"],
        }
    evidence = []
    for source in case.sources:
        for hit in contexts[source].intel if source in contexts else []:
            actor = f", actor {hit['actor']}" if hit.get("actor") else ""
            confidence = (
                f", confidence {hit['confidence']}" if hit.get("confidence") is not None else ""
            )
            evidence.append(
                f"{source} matches indicator {hit['indicator']} from feed {hit['feed']}"
                f"{actor}{confidence}"
            )
    if evidence:
        return {"met": True, "evidence": evidence[:20] + intel.unread_notes()}
    if not intel.unread:
        return {
            "met": False,
            "evidence": ["not met: no source matches a threat-intelligence indicator"],
        }
    if not intel.read:
        return {"met": None, "evidence": [f"not checked: {n}" for n in intel.unread_notes()]}
    return {
        "met": None,
        "evidence": [
            f"not evaluated in full: no source matches feed {', '.join(intel.read)}",
            *intel.unread_notes(),
        ],
    }


#: How events that name no destination address (an sshd line, a web log
#: without the server's address) show among the hosts an exercise source
#: touched: they cannot be shown to lie in the exercise's scope.
NO_DESTINATION: Final = "a host its logs do not name"


def _exercise_verdicts(case: Case, enrichment: Enrichment | None) -> list[tuple[str, Verdict]]:
    """Each source's exercise verdict, judged on everything the actor did.

    The window holds all of the actor's activity in any log, not only its
    findings (a login hours after the scan is activity too); the scope holds
    the hosts it touched (the destination addresses of its events), never the
    paths or names a web or DNS finding lists.
    """
    if enrichment is None or not enrichment.exercises:
        return []
    act = case.activity
    first = min(t for t in (case.first_seen, act.active_from) if t is not None)
    last = max(t for t in (case.last_seen, act.active_until) if t is not None)
    # The hosts the findings name: the only record of hosts a finding over
    # earlier batches touched (slow_scan's state), and all there is when the
    # destinations were not gathered (cases built without the testers).
    named = sorted(
        {t for f in case.findings if f.source_table == "network" for t in f.targets}
        | {e.destination_ip for f in case.findings for e in f.evidence if e.destination_ip}
    )
    if case.destinations is not None:
        hosts = [d if d is not None else NO_DESTINATION for d in case.destinations]
        seen = set(hosts)
        hosts += [t for t in named if t not in seen]
    else:
        hosts = named
    return [(s, enrichment.exercise(s, first, last, hosts)) for s in case.sources]


def _benign_or_exercise(
    case: Case,
    contexts: Mapping[str, SourceContext],
    exercise: list[tuple[str, Verdict]],
) -> None:
    """Known research scanners and approved exercises are recorded, not escalated.

    Never when the source did more than scan (a login, a back-connection): a
    "benign" scanner that logs in is not benign, and an exercise covers
    reconnaissance, not a sign of compromise. An exercise source acting
    outside its window or scope is flagged, never suppressed; nor is a
    listed research scanner that matches threat intelligence.
    """
    compromise = bool(case.criteria["compromise"]["met"])
    did_more = compromise or case.activity.auth_successes > 0
    statuses = {v.status for _, v in exercise}
    if exercise and statuses == {"in_exercise"} and not did_more:
        names = sorted({v.exercise or "" for _, v in exercise})
        case.disposition = "approved_exercise"
        case.escalate = False
        case.reasons = [f"Approved exercise {', '.join(names)}: inside its window and scope"]
        return
    what = "signs of compromise" if compromise else "a successful login"
    for source, verdict in exercise:
        if verdict.status in ("outside_window", "outside_scope"):
            where = "window" if verdict.status == "outside_window" else "scope"
            strays = (
                f", touching {', '.join(verdict.out_of_scope[:5])}"
                + (" ..." if len(verdict.out_of_scope) > 5 else "")
                if verdict.status == "outside_scope" and verdict.out_of_scope
                else ""
            )
            case.reasons.append(
                f"{source} belongs to exercise {verdict.exercise} but acted outside its {where}"
                f"{strays} (contact {verdict.contact}): not suppressed"
            )
        elif verdict.status == "in_exercise" and did_more:
            case.reasons.append(
                f"{source} belongs to exercise {verdict.exercise} but did more than scan "
                f"({what}; contact {verdict.contact}): not suppressed"
            )
        elif verdict.status == "in_exercise":
            # Inside its window and scope, but the case's other sources are not all so.
            case.reasons.append(
                f"{source} belongs to exercise {verdict.exercise}, but not every source of "
                f"the case is covered by an exercise (contact {verdict.contact}): not suppressed"
            )
    listed = [contexts[s].benign for s in case.sources if s in contexts]
    if not listed or len(listed) != len(case.sources) or not all(listed) or did_more:
        return
    lists = ", ".join(sorted({name for names in listed for name in names}))
    if case.criteria["known_threat_actor"]["met"]:
        # A threat-intelligence match outweighs a list of research scanners:
        # an address on both (reassigned, or an actor hiding among scanners)
        # is for Tier 2 to judge, not to be recorded away.
        case.reasons.append(
            f"On a research-scanner list ({lists}) but matches threat intelligence: not suppressed"
        )
        return
    case.disposition = "benign_scanner"
    case.escalate = False
    case.reasons = [f"Known research scanner ({lists}): recorded, not escalated"]


def _is_address(text: str) -> bool:
    try:
        parse_ip(text)
    except ValueError:
        return False
    return True


#: Points per criterion and aggravating fact; the sum, capped at 100, is the score.
SCORE_WEIGHTS = {
    "repeated_scanning": 40,
    "internal_enumeration": 30,
    "known_threat_actor": 30,
    "compromise": 50,
    "stealth_flags": 10,
    "breadth": 10,
    "internal_source": 10,
}


def score(case: Case) -> float:
    """0-100: the weights of the criteria met plus aggravating facts (SCORE_WEIGHTS).

    Stealth flags = a flag_scan finding (deliberate evasion); breadth = 256+
    hosts or 1,000+ ports touched; internal source = a host of ours scanning.
    """
    points = sum(SCORE_WEIGHTS[name] for name, c in case.criteria.items() if c["met"])
    if any(f.detection == "flag_scan" for f in case.findings):
        points += SCORE_WEIGHTS["stealth_flags"]
    if case.activity.target_count >= 256 or case.activity.port_count >= 1000:
        points += SCORE_WEIGHTS["breadth"]
    if case.internal:
        points += SCORE_WEIGHTS["internal_source"]
    return float(min(points, 100))


def severity_of(value: float) -> str:
    """Score bands: < 30 low, < 50 medium, < 80 high, else critical."""
    if value >= 80:
        return "critical"
    if value >= 50:
        return "high"
    if value >= 30:
        return "medium"
    return "low"


def _checklist(
    case: Case,
    tables: Collection[str],
    intel: _Intel,
    exercise: list[tuple[str, Verdict]],
    config: Config,
    calendar: str | None,
) -> list[dict[str, str]]:
    """The playbook's additional L1 steps, each with what was done and found.

    A step whose source (a feed, the calendar) could not be read is "not
    done", saying why: never a clean result.
    """
    act = case.activity
    if "auth" not in tables:
        users = {"status": "not done", "result": "no user-activity (auth/VPN) logs in this hunt"}
    elif act.auth_successes or act.auth_failures:
        when = ""
        first, after = act.first_auth_success, act.first_auth_success_after_scan
        if first is not None and after is not None and first < after:
            when = (
                f"; first success {_ts(first)} (before the scan), "
                f"first after the scan began {_ts(after)}"
            )
        elif first is not None:
            when = f"; first success {_ts(first)} ({'after' if after else 'before'} the scan)"
        users = {
            "status": "done",
            "result": f"{act.auth_successes} successful and {act.auth_failures} failed logins "
            f"from the source, user(s): {', '.join(act.auth_users[:5]) or '-'}{when}",
        }
    else:
        users = {"status": "done", "result": "no login from the source in the user-activity logs"}
    identity = _identity(act)
    if identity:
        # DNS names alone are no user activity: without auth logs the step stays not done.
        users = {"status": users["status"], "result": f"{users['result']}. {identity}"}
    known = case.criteria["known_threat_actor"]
    if not intel.on:
        checked = {"status": "not done", "result": "no threat-intelligence feed is configured"}
    else:
        notes = known["evidence"][:3] + [
            n for n in intel.unread_notes() if n not in known["evidence"][:3]
        ]
        checked = {"status": "not done" if intel.unread else "done", "result": "; ".join(notes)}
    if config.enrich.exercises is None:
        drill = {"status": "not done", "result": "no exercise calendar is configured"}
    elif calendar is not None:
        drill = {"status": "not done", "result": calendar}
    elif not exercise or all(v.status == "none" for _, v in exercise):
        drill = {"status": "done", "result": "no approved exercise covers these sources"}
    else:
        # A source no exercise names beside one that an exercise does (a
        # campaign): "no approved exercise", not "none (None)".
        drill = {
            "status": "done",
            "result": "; ".join(
                f"{s}: {v.status} ({v.exercise})" if v.exercise else f"{s}: no approved exercise"
                for s, v in exercise
            ),
        }
    return [
        {"step": "Cross-reference the sources with threat intelligence", **checked},
        {"step": "Check approved security exercises and red-team activity", **drill},
        {"step": "Correlate with user activity for legitimate access", **users},
    ]


def _identity(act: Activity) -> str:
    """What our own logs say the source machine is and who uses it."""
    parts = []
    if act.host_names:
        parts.append(f"DNS names it {', '.join(act.host_names[:5])}")
    if act.host_users:
        parts.append(f"users who logged on to it: {', '.join(act.host_users[:10])}")
    if act.auth_success_users:
        parts.append(f"users who logged in from it: {', '.join(act.auth_success_users[:10])}")
    return ("The source machine: " + "; ".join(parts)) if parts else ""


#: The playbook's "T2 Analyst Actions", handed over with every escalated case.
TIER2_ACTIONS = (
    "Trace the source and intent of the reconnaissance with advanced network monitoring tools.",
    "Engage the network security team to validate the suspected scanning activity.",
    "Investigate the involved IP addresses in threat intelligence platforms for historical data.",
)


def _tier2_package(
    at: int, cases: Sequence[Case], earlier: History | None, near: _Neighbours
) -> dict[str, Any]:
    """Timeline, related sources (same /24 or /64, same ASN, same campaign; the
    first ``RELATED_MAX`` by address, with their total), earlier sightings, and
    the playbook's T2 actions."""
    case = cases[at]
    timeline = [
        {
            "time": f.first_seen.isoformat(),
            "until": f.last_seen.isoformat(),
            "event": f"{f.detection} from {f.source_ip}: {f.describe()}",
        }
        for f in sorted(case.findings, key=lambda f: f.first_seen)
    ]
    related = _related(at, cases, near)
    shown = sorted(related, key=by_address)[:RELATED_MAX]
    return {
        "timeline": timeline,
        "related_sources": shown,
        "related": [
            {"source": s, "case": related[s][0], "reasons": sorted(related[s][1])} for s in shown
        ],
        "related_total": len(related),
        "earlier_sightings": [
            {"first_seen": a.isoformat(), "last_seen": b.isoformat()}
            for a, b in (earlier.sightings if earlier else [])
        ],
        "recommended_actions": list(TIER2_ACTIONS),
    }


def by_address(source: str) -> tuple[int, int]:
    """Sort key of an address: IPv4 before IPv6, each in numeric order."""
    addr = parse_ip(source)
    return addr.version, int(addr)


def _asn(source: str, contexts: Mapping[str, SourceContext]) -> int | None:
    return contexts[source].geo.asn if source in contexts else None


#: Related sources listed in a Tier 2 package at most (``related_total`` says
#: how many there were): a rotating IPv6 scanner's neighbours are thousands.
RELATED_MAX: Final = 100


class _Neighbours:
    """Every case's sources by address, by /24 or /64 and by ASN, worked out
    once per triage. Looking through every other case's sources for each
    case cost cases x sources, and a rotating IPv6 scanner chooses how many
    sources its case has (1,000 cases and one of 10,000 addresses: 231 s)."""

    def __init__(self, cases: Sequence[Case], contexts: Mapping[str, SourceContext]) -> None:
        self.contexts = contexts
        self.blocks: dict[str, str] = {}
        #: (case position, source position) of each case source, by key.
        self.by_source: dict[str, list[tuple[int, int]]] = defaultdict(list)
        self.by_block: dict[str, list[tuple[int, int]]] = defaultdict(list)
        self.by_asn: dict[int, list[tuple[int, int]]] = defaultdict(list)
        for i, case in enumerate(cases):
            for j, source in enumerate(case.sources):
                self.by_source[source].append((i, j))
                self.by_block[self.block(source)].append((i, j))
                if (asn := _asn(source, contexts)) is not None:
                    self.by_asn[asn].append((i, j))

    def block(self, source: str) -> str:
        if source not in self.blocks:
            self.blocks[source] = _neighbourhood(source)
        return self.blocks[source]


def _related(at: int, cases: Sequence[Case], near: _Neighbours) -> dict[str, tuple[str, set[str]]]:
    """Sources of other cases that share a /24 or /64, an ASN or a campaign with
    case ``at``'s sources: source -> (its case id, why). In case and source
    order: a source in several other cases gets the first one's id."""
    case = cases[at]
    mine = set(case.sources)
    blocks = {near.block(s) for s in mine}
    asns = {a for s in mine if (a := _asn(s, near.contexts)) is not None}
    found: set[tuple[int, int]] = set()
    for source in mine:
        found.update(near.by_source.get(source, ()))
    for block in blocks:
        found.update(near.by_block.get(block, ()))
    for number in asns:
        found.update(near.by_asn.get(number, ()))
    related: dict[str, tuple[str, set[str]]] = {}
    for i, j in sorted(found):
        if i == at:
            continue
        other = cases[i]
        source = other.sources[j]
        if source in mine:
            # The same source in another case: a campaign it joined.
            why = f"same campaign ({other.campaign or case.campaign or other.id})"
        elif (block := near.block(source)) in blocks:
            why = f"same {block}"
        elif (asn := _asn(source, near.contexts)) is not None and asn in asns:
            org = near.contexts[source].geo.as_organization
            why = f"same ASN AS{asn}" + (f" ({org})" if org else "")
        else:
            continue
        related.setdefault(source, (other.id, set()))[1].add(why)
    return related


def _neighbourhood(source: str) -> str:
    """The /24 (IPv4) or /64 (IPv6) a source lives in."""
    addr = parse_ip(source)
    prefix = 24 if addr.version == 4 else 64
    return str(ip_network(f"{addr}/{prefix}", strict=False))


def _answers(
    case: Case,
    tables: Collection[str],
    contexts: Mapping[str, SourceContext],
    intel: _Intel,
    transfers: list[ZoneTransfer],
) -> dict[str, str]:
    """The playbook's four questions; ``transfers``: the case's zone transfers that
    gave a zone away (``exposes``)."""
    act = case.activity
    source = ", ".join(case.sources[:10]) + (
        f" and {len(case.sources) - 10} more" if len(case.sources) > 10 else ""
    )
    where = "internal" if case.internal else "external"
    who = (
        f"{where.capitalize()} source {source}"
        if len(case.sources) == 1
        else (f"A coordinated group of {len(case.sources)} {where} sources ({source})")
    )
    if case.internal and act.host_names:
        who += f" ({', '.join(act.host_names[:3])})"
    parts = []
    if act.events:
        exposed = (
            f" {act.exposed_count} service(s) answered or were let through, e.g. "
            f"{', '.join(act.exposed[:5])}."
            if act.exposed_count
            else " Nothing it probed answered or was let through."
        )
        parts.append(
            f"{who} made {act.events} logged connection attempts to {act.target_count} of "
            f"our addresses on {act.port_count} ports, {act.failed} of them failed or denied, "
            f"between {_ts(act.first_seen)} and {_ts(act.last_seen)}.{exposed}"
        )
    if act.http_requests:
        parts.append(
            f"It sent {act.http_requests} web requests for {act.http_paths} distinct paths; "
            f"{act.http_client_errors} were answered with a 4xx error."
        )
        if act.sensitive_successes:
            parts.append(
                f"{act.sensitive_successes} request(s) for secret, source or backup paths "
                f"were served (2xx): {', '.join(act.sensitive_success_paths[:5])}."
            )
        if act.admin_successes:
            parts.append(
                f"Exposed admin interface(s): {act.admin_successes} request(s) answered 2xx, "
                f"{', '.join(act.admin_success_paths[:5])}."
            )
    if act.dns_queries:
        # Our DNS servers are public-facing too (question 4 weighs the queries).
        parts.append(
            f"{'It' if parts else who} sent our DNS servers "
            f"{plural(act.dns_queries, 'query', 'queries')} for "
            f"{plural(act.dns_names, 'distinct name')}."
        )
        if transfers:
            parts.append(
                f"Zone transfer(s) served: {'; '.join(t.describe() for t in transfers[:5])}."
            )
    attempts = act.auth_successes + act.auth_failures
    if attempts:
        # VPN and SSH gateways are public-facing too: logins belong in this answer.
        logins = f"It made {attempts} login attempt(s) to our services, {act.auth_failures} failed"
        if act.auth_successes:
            users = ", ".join(act.auth_success_users[:5]) or "unknown user"
            logins += (
                f"; {act.auth_successes} succeeded (as {users}), the first at "
                f"{_ts(act.first_auth_success)}"
            )
            after = act.first_auth_success_after_scan
            if after is not None and after != act.first_auth_success:
                logins += f", the first after the scan began at {_ts(after)}"
        parts.append(logins + ".")
    if act.alerts:
        rules = f": {', '.join(act.alert_rules[:3])}" if act.alert_rules else ""
        parts.append(f"The IDS or a honeypot raised {act.alerts} alert(s) on it{rules}.")
    q1 = (
        ("Yes. " + " ".join(parts))
        if parts
        else f"{who}: no network, DNS, web, login or alert activity logged."
    )
    known = case.criteria.get("known_threat_actor", {})
    benign = sorted({n for s in case.sources if s in contexts for n in contexts[s].benign})
    unread = f"the threat-intelligence feed(s) {intel.unread_names()} could not be read"
    if not intel.on:
        q2 = (
            "Not checked: no threat-intelligence feed is configured, so the source could "
            "not be matched against known malicious addresses. Cross-reference it manually "
            "(L1 step) until feeds are set up."
        )
    elif known.get("met"):
        q2 = "Yes. " + "; ".join(known["evidence"][:5]) + "."
        if intel.unread:
            q2 += f" Besides, {unread}."
    elif intel.unread and not intel.read:
        q2 = (
            f"Not checked: {unread}, so the source could not be matched against known "
            "malicious addresses. Cross-reference it manually (L1 step)."
        )
    elif intel.unread:
        q2 = (
            f"Not checked in full: none of the sources matches an indicator of feed(s) "
            f"{', '.join(intel.read)}, but {unread}. Cross-reference it manually against "
            "those (L1 step)."
        )
    else:
        q2 = "No: none of the sources matches an indicator of the configured feeds."
    if benign:
        q2 += f" The source is on known research-scanner lists: {', '.join(benign)}."
    if case.network is not None:
        # One actor behind many addresses: the /64's scan, not six of its members.
        patterns = (
            f"ipv6_prefix_scan: {len(case.sources)} addresses of {case.network} split a "
            f"port scan between them ({act.port_count} port(s) of {act.target_count} "
            f"host(s), {act.probed_pairs} host:port pairs failed), none at a limit alone"
        )
    else:
        patterns = "; ".join(f"{f.detection}: {f.describe()}" for f in case.findings[:6])
        if len(case.findings) > 6:
            patterns += f"; and {len(case.findings) - 6} more finding(s)"
    probes = ", ".join(
        f"{PROBE_NAMES.get(kind, kind)} x{count}"
        for kind, count in sorted(act.probe_types.items(), key=lambda kv: -kv[1])
    )
    q3 = f"Yes. {patterns}." + (f" Probe types: {probes}." if probes else "")
    if case.network is None and not any(f.detection in SCAN_DETECTIONS for f in case.findings):
        # Signals that clients other than scanners give too: say so, not "Yes".
        caveats = "; ".join(
            NOT_SCANNING[d]
            for d in sorted({f.detection for f in case.findings})
            if d in NOT_SCANNING
        )
        q3 = (
            f"Not clearly. {patterns}: {caveats}. No scan of address ranges, DNS "
            "enumeration or web reconnaissance was seen from this source."
        )
    if act.resolved_then_probed:
        q3 += (
            f" It probed {act.resolved_then_probed} address(es) our DNS had given it, e.g. "
            f"{', '.join(act.resolved_then_probed_samples[:5])}: enumeration feeding the scan."
        )
    if act.tools:
        tools = "; ".join(f"{t['tool']} ({t['confidence']}: {t['evidence']})" for t in act.tools)
        q3 += f" Tool hints: {tools}."
    dns_findings = [f for f in case.findings if f.source_table == "dns"]
    if "dns" not in tables:
        q4 = (
            "No DNS query logs were part of this hunt, so DNS frequency and volume could "
            "not be assessed for this source."
        )
    elif act.dns_queries == 0:
        q4 = "The DNS logs in this hunt hold no query from this source."
    else:
        verdict = (
            "They match enumeration: " + "; ".join(f.describe() for f in dns_findings[:4]) + "."
            if dns_findings
            else "No DNS enumeration pattern was detected in them."
        )
        if act.dns_answered == 0:
            answers = "their answers are not in the logs (a query log records no response codes)"
        elif act.dns_answered < act.dns_queries:
            share = 100 * act.dns_nxdomain / act.dns_answered
            answers = (
                f"{act.dns_nxdomain} of the {act.dns_answered} with a logged answer NXDOMAIN "
                f"({share:.0f}%)"
            )
        else:
            share = 100 * act.dns_nxdomain / act.dns_queries
            answers = f"{act.dns_nxdomain} of them NXDOMAIN ({share:.0f}%)"
        names = (
            f"{plural(act.dns_queries, 'DNS query', 'DNS queries')} for "
            f"{plural(act.dns_names, 'distinct name')}"
        )
        q4 = f"{names}, {answers}. {verdict}"
        if transfers:
            # The most complete IP address gathering DNS allows: the zone itself.
            q4 += (
                f" Zone data went to the source by zone transfer: "
                f"{'; '.join(t.describe() for t in transfers[:3])}."
            )
    return dict(zip(QUESTIONS, (q1, q2, q3, q4), strict=True))


def _ts(value: object) -> str:
    return f"{value:%Y-%m-%d %H:%M:%S} UTC" if value is not None else "unknown"
