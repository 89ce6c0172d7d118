"""DNS enumeration: brute force, PTR sweeps, zone transfers, CHAOS probes, ANY and SRV.

Every detection here reads the ``dns`` table and is written in the same
portable Ibis subset as the port scans (integer division of epoch seconds,
GROUP BY with COUNT(DISTINCT), window functions, sorted collected arrays,
``split``/``lower``/``startswith``/``endswith`` string functions; no regex),
and uses their two-grid windows and non-overlapping best-window selection
(``reconwatch.detect.portscan``).

Zones are approximated without the network: the last two labels of a name
(``www.example.com`` -> ``example.com``), or the last three when the last two
are a listed public suffix (``www.example.co.uk`` -> ``example.co.uk``; the
list is ``reconwatch/data/public_suffixes.yaml``).

``targets`` holds the queried names (or, for PTR sweeps, the addresses), sorted
and capped at ``MAX_TARGETS``; ``target_count`` is always the full count.

``event_count`` (and every threshold on a number of queries) counts requests,
not rows: some logs hold a query and its answer as two rows (``request_count``).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Collection, Sequence
from importlib import resources
from typing import Any, Final

import ibis
import ibis.expr.types as ir
import yaml

from reconwatch.config import (
    DnsAnyFloodConfig,
    DnsBruteforceConfig,
    DnsChaosProbeConfig,
    PtrSweepConfig,
    SiteConfig,
    SrvBruteforceConfig,
    ZoneTransferConfig,
)
from reconwatch.detect.base import Detection
from reconwatch.detect.portscan import SLOT, WINDOW_START, as_findings, best_windows, window_slots
from reconwatch.detect.ranges import DIGITS, HEX_LETTERS, gated, in_networks, without
from reconwatch.netaddr import IPNetwork, in_any, parse_ip, parse_networks
from reconwatch.schema import TRANSFER_UNSAID

DNS_BRUTEFORCE: Final = "dns_bruteforce"
PTR_SWEEP: Final = "ptr_sweep"
ZONE_TRANSFER: Final = "zone_transfer"
DNS_CHAOS_PROBE: Final = "dns_chaos_probe"
DNS_ANY_FLOOD: Final = "dns_any_flood"
SRV_BRUTEFORCE: Final = "srv_bruteforce"

#: ATT&CK Gather Victim Network Information: DNS.
DNS_TECHNIQUE: Final = "T1590.002"
#: ATT&CK Gather Victim Network Information: IP Addresses.
IP_ADDRESSES: Final = "T1590.005"
#: ATT&CK Gather Victim Network Information: Domain Properties.
DOMAIN_PROPERTIES: Final = "T1590.001"

#: At most this many targets per finding: a finding must stay small enough to
#: carry into cases and reports; the count of all of them is ``target_count``.
MAX_TARGETS: Final = 1000

#: Label of a PTR finding on the total number of PTR queries (not one /24).
PTR_TOTAL_LABEL: Final = "in-addr.arpa"

#: Names that fingerprint the server software (BIND, NSD, Unbound, Knot answer them).
CHAOS_NAMES: Final = (
    "version.bind",
    "authors.bind",
    "hostname.bind",
    "id.server",
    "version.server",
)

#: Query types that ask for a zone transfer: AXFR, IXFR, and XFR for a request
#: the log does not say is either (``schema.TRANSFER_UNSAID``: BIND's "bad zone
#: transfer request" line).
TRANSFER_TYPES: Final = ("AXFR", "IXFR", TRANSFER_UNSAID)

#: Sources (``event_dataset``) that log a query and its answer as two rows: the
#: query without a response code, the answer with one (Windows DNS debug log
#: ``Rcv`` + ``Snd R``, Suricata query + answer events, Unbound log-queries +
#: log-replies).
PAIRED_DATASETS: Final = ("suricata.dns", "unbound", "windns")
#: BIND's query log; its security and transfer lines (``BIND_VERDICTS``) are the
#: server's verdict on a request whose ``query:`` line the query log also holds
#: when query logging is on (an AXFR denied is a ``query: ... AXFR`` line and a
#: ``zone transfer ... denied`` line).
BIND_QUERIES: Final = "bind.query"
BIND_VERDICTS: Final = "bind.security"

#: A first label at least this long under a brute-forced zone is counted as a
#: wildcard probe (dnsrecon, dnsenum, fierce and dnsmap first resolve a random
#: label of 10-32 characters to learn whether the zone answers everything).
WILDCARD_PROBE_MIN_LABEL: Final = 12


@functools.cache
def public_suffixes() -> tuple[str, ...]:
    """The two-label public suffixes of ``data/public_suffixes.yaml``, sorted."""
    text = resources.files("reconwatch").joinpath("data/public_suffixes.yaml").read_text("utf-8")
    data = yaml.safe_load(text)
    return tuple(sorted({str(item).lower().strip(".") for item in data["suffixes"]}))


def labels_of(name: ir.StringValue) -> ir.ArrayValue:
    """The labels of a DNS name.

    ``re_split`` on a literal dot, not ``split``: Spark's ``split`` takes a
    regex, so ``split(".")`` there cuts at every character (the conformance
    suite caught it). The regex is the same on DuckDB and Spark.
    """
    return name.re_split(r"\.")


def zone_of(name: ir.StringValue) -> ir.StringValue:
    """The registered zone of ``name``, approximated (see the module docstring).

    A name of one or two labels is its own zone.
    """
    labels = labels_of(name)
    count = labels.length()
    last_two = labels[count - 2] + "." + labels[count - 1]
    last_three = labels[count - 3] + "." + last_two
    return ibis.cases(
        (count <= 2, name),
        ((count >= 3) & last_two.isin(public_suffixes()), last_three),
        else_=last_two,
    )


def _named(dns: ir.Table) -> ir.Table:
    """Queries with a name, lower-cased (as ingest promises, enforced again here
    because a mapping file can bring anything), with ``_type`` upper-cased, and
    ``_asked``/``_answer`` (1 or 0) marking the two halves of a logged query and
    answer pair (``request_count``)."""
    events = dns.filter(dns.dns_question_name.notnull() & (dns.dns_question_name != ""))
    paired = events.event_dataset.isin(PAIRED_DATASETS)
    answered = events.dns_response_code.notnull()
    asked = (paired & ~answered) | (events.event_dataset == BIND_QUERIES)
    answer = (paired & answered) | (events.event_dataset == BIND_VERDICTS)
    return events.mutate(
        _name=events.dns_question_name.lower(),
        _type=events.dns_question_type.upper(),
        _asked=asked.cast("int64"),
        _answer=answer.cast("int64"),
    )


def request_count(events: ir.Table) -> ir.IntegerValue:
    """The number of requests among ``events`` (an aggregate over ``_named`` rows).

    A row of a source that logs one row per query (Zeek, dnsmasq, CoreDNS,
    Route 53, a mapping file) is one request. Where a query and its answer are
    two rows (``PAIRED_DATASETS``, BIND's query log beside its security lines),
    the query rows are counted when the group holds any, else the answers (a
    log of answers only): ten ANY queries answered are ten, not twenty. A query
    never answered still counts.
    """
    asked = events._asked.sum()
    answers = events._answer.sum()
    return events.count() - asked - answers + ibis.ifelse(asked > 0, asked, answers)


#: ``x.`` 32 times: the 32 nibble labels of a reversed IPv6 address and their dots.
NIBBLE_CHARS: Final = 32 * 2


def reversed_address(name: ir.StringValue) -> ir.BooleanValue:
    """Whether ``name`` (lower-case) starts with a reversed IP address and goes on
    under a zone: ``4.3.2.1.zen.spamhaus.org`` (four decimal labels 0-255) or 32
    one-nibble labels (``b.a.9.8...1.0.0.2.zen.spamhaus.org``).

    That is how DNSBLs and other address-keyed lists are asked (a mail server
    looks up each connecting client: 1.2.3.4 -> ``4.3.2.1.<list>``), not a
    guess from a wordlist. Portable string functions only: the labels read under
    a CASE on their count (see ``_ptr_names``), digits and nibbles tested by
    removing them.
    """
    labels = labels_of(name)
    count = labels.length()
    v4 = count >= 5

    def label(i: int) -> ir.StringValue:
        return ibis.ifelse(v4, labels[i], ibis.null("string"))

    octets = [label(i) for i in range(4)]
    short = [o.length().between(1, 3) & ((o.length() < 3) | (o <= "255")) for o in octets]
    digits = without(octets[0] + octets[1] + octets[2] + octets[3], "0123456789") == ""
    ipv4 = v4 & short[0] & short[1] & short[2] & short[3] & digits
    # 32 dots and 32 hex digits in the first 64 characters, a dot last, no empty
    # label: 32 labels of one nibble each.
    head = name.substr(0, NIBBLE_CHARS)
    ipv6 = (
        (count >= 33)
        & (without(head, ".").length() == NIBBLE_CHARS // 2)
        & (without(head, "0123456789abcdef.") == "")
        & head.endswith(".")
        & ~head.startswith(".")
        & ~head.contains("..")
    )
    # Only a name starting with a digit and a digit or dot ("4.", "25"), or a
    # nibble label ("b."), can be one: the labels are split behind that test
    # (most names fail it).
    first, second = name.substr(0, 1), name.substr(1, 1)
    maybe = (first.isin(DIGITS) & second.isin([*DIGITS, "."])) | (
        first.isin(HEX_LETTERS) & (second == ".")
    )
    return gated(maybe, ipv4 | ipv6)


def capped_targets(values: ir.Column) -> ir.ArrayValue:
    """Distinct values, sorted (engine-independent order) and capped at MAX_TARGETS."""
    return values.collect(distinct=True).sort()[:MAX_TARGETS]


def windowed_findings(
    events: ir.Table,
    *,
    window_seconds: int,
    keys: Sequence[str],
    target: str,
    having: Callable[[ir.Table], ir.BooleanValue],
    score: Callable[[ir.Table], ir.NumericValue],
    extra: Callable[[ir.Table], dict[str, Any]] | None = None,
    collected: Callable[[ir.Table], dict[str, Any]] | None = None,
    count: Callable[[ir.Table], ir.IntegerValue] | None = None,
) -> ir.Table:
    """Per ``keys`` and window: the findings metrics, filtered by ``having``.

    Adds ``first_seen``, ``last_seen``, ``event_count`` (rows, or the
    aggregate ``count`` gives: the DNS detections count requests with
    ``request_count``), ``target_count``
    (distinct ``target``), ``targets``, the scalar aggregates of ``extra``
    (which ``having`` may test) and the array aggregates of ``collected``,
    then keeps the non-overlapping best windows by ``score``. The keys must
    not be null (they are joined on).

    Two passes, as in the port scans: nearly every (client, key, window)
    group is innocent, so the first pass only counts; the arrays, the costly
    part, are collected for the groups over the threshold alone.
    """
    slotted = window_slots(events, window_seconds)
    group = [*keys, SLOT, WINDOW_START]
    counts = slotted.group_by(group).aggregate(
        first_seen=slotted.timestamp.min(),
        last_seen=slotted.timestamp.max(),
        event_count=count(slotted) if count else slotted.count(),
        target_count=slotted[target].nunique(),
        **(extra(slotted) if extra else {}),
    )
    hits = counts.filter(having(counts))
    chosen = slotted.semi_join(hits, group)
    arrays = chosen.group_by(group).aggregate(
        targets=capped_targets(chosen[target]),
        **(collected(chosen) if collected else {}),
    )
    candidates = hits.join(arrays, group)
    candidates = candidates.mutate(score=score(candidates))
    return best_windows(candidates, list(keys))


def dns_bruteforce(dns: ir.Table, cfg: DnsBruteforceConfig) -> ir.Table:
    """Many distinct names under one zone, mostly NXDOMAIN: ``dns_bruteforce`` findings.

    Per client, zone and window of ``cfg.window_seconds`` (900 s): distinct
    names >= ``cfg.min_names`` (50), and NXDOMAIN share of the queries with a
    response code >= ``cfg.min_nxdomain_share`` (0.5). When no query of the
    group has a response code (query-only logs) the share test passes unless
    ``cfg.require_response_code``. Reverse zones are ``ptr_sweep``'s business
    and SRV names ``srv_bruteforce``'s, so both are left out, and so are names
    that start with a reversed address (``4.3.2.1.zen.spamhaus.org``,
    ``reversed_address``): a mail server's DNSBL lookups of its clients, mostly
    NXDOMAIN (listed is the exception), not wordlist guesses. Score: distinct
    names. Label: the zone, followed by `` (wildcard probe)`` when the window
    holds an NXDOMAIN name whose first label has at least
    ``WILDCARD_PROBE_MIN_LABEL`` characters (the random label the tools
    resolve first).
    """
    named = _named(dns)
    events = named.filter(
        ~named._name.endswith(".arpa")
        & ~named._name.startswith("_")
        # A log without query types (null) still holds guesses: not a PTR.
        & (named._type != "PTR").fill_null(True)
        & ~reversed_address(named._name)
    )
    # The first label's length from its dot: no second split of every name.
    dot = events._name.find(".")
    first_label_length = ibis.ifelse(dot >= 0, dot, events._name.length())
    rcode = events.dns_response_code.upper()
    events = events.mutate(
        _zone=zone_of(events._name),
        _answered=rcode.notnull().cast("int64"),
        _nx=(rcode == "NXDOMAIN").cast("int64").coalesce(0),
        _probe=((first_label_length >= WILDCARD_PROBE_MIN_LABEL) & (rcode == "NXDOMAIN"))
        .cast("int64")
        .coalesce(0),
    )
    # A name that is its own zone (example.com) cannot be a guess under it.
    events = events.filter(events._name != events._zone)

    def having(t: ir.Table) -> ir.BooleanValue:
        share_ok = ibis.ifelse(
            t._answered == 0,
            not cfg.require_response_code,
            t._nx.cast("float64") >= t._answered.cast("float64") * cfg.min_nxdomain_share,
        )
        return (t.target_count >= cfg.min_names) & share_ok

    best = windowed_findings(
        events,
        window_seconds=cfg.window_seconds,
        keys=["source_ip", "_zone"],
        target="_name",
        having=having,
        score=lambda t: t.target_count,
        count=request_count,
        extra=lambda s: {
            "_answered": s._answered.sum(),
            "_nx": s._nx.sum(),
            "_probe": s._probe.max(),
        },
    )
    label = ibis.ifelse(best._probe > 0, best._zone + " (wildcard probe)", best._zone)
    return as_findings(best, DNS_BRUTEFORCE, label=label)


def _ptr_names(dns: ir.Table) -> ir.Table:
    """PTR queries of one IPv4 address (``d.c.b.a.in-addr.arpa``), with ``_block``
    (``a.b.c.0/24``) and ``_address`` (``a.b.c.d``)."""
    named = _named(dns)
    ptr = named.filter((named._type == "PTR") & named._name.endswith(".in-addr.arpa"))
    labels = labels_of(ptr._name)
    ptr = ptr.mutate(_labels=labels, _count=labels.length())
    # Six labels: four octets, in-addr, arpa. Shorter names are zone cuts
    # (c.b.a.in-addr.arpa), not one address.
    ptr = ptr.filter(ptr._count == 6)
    # Each element read under a CASE on the count: Spark may evaluate these
    # before the filter above (a later filter on _address is pushed down
    # past it), and an index past the end fails in ANSI mode.
    six = ptr._count == 6

    def label(i: int) -> ir.StringValue:
        return ibis.ifelse(six, ptr._labels[i], ibis.null("string"))

    block = label(3) + "." + label(2) + "." + label(1)
    return ptr.mutate(_block=block + ".0/24", _address=block + "." + label(0))


def ptr_sweep(dns: ir.Table, cfg: PtrSweepConfig, *, site: SiteConfig | None = None) -> ir.Table:
    """Reverse-DNS sweeps: ``ptr_sweep`` findings.

    Per client and window of ``cfg.window_seconds`` (3600 s): one finding per
    /24 whose distinct queried addresses reach ``cfg.min_coverage`` (32;
    label ``a.b.c.0/24``, score: addresses covered), and one finding labelled
    ``in-addr.arpa`` when the client's distinct PTR names of single addresses
    reach ``cfg.min_queries`` (80, Splunk's anchor; score: that count). The
    coverage test catches a walk of one block well before 80 queries; the
    total catches sparse walks over many blocks of ``site.home_networks``
    (addresses elsewhere do not count towards it: a mail server looks up the
    scattered addresses of its clients all day). Targets: the addresses
    (``a.b.c.d``).

    IPv6 space is too large to sweep address by address; tools walk the
    ``ip6.arpa`` tree instead, one nibble at a time (nmap's
    dns-ip6-arpa-scan, RFC 8020 NXDOMAIN cuts), so they ask many names of
    every depth. One more finding per client and /32 reverse zone (label: the
    zone, e.g. ``8.b.d.0.1.0.0.2.ip6.arpa``) when its distinct ``ip6.arpa``
    names reach ``cfg.min_ip6_names`` (64). Targets: the names.
    """
    ptr = _ptr_names(dns)
    per_block = windowed_findings(
        ptr,
        window_seconds=cfg.window_seconds,
        keys=["source_ip", "_block"],
        target="_address",
        having=lambda t: t.target_count >= cfg.min_coverage,
        score=lambda t: t.target_count,
        count=request_count,
    )
    # The total counts our own space only: a mail server reverse-resolves its
    # clients' scattered internet addresses all day; a sweeper maps ours.
    home = site.home() if site is not None else []
    ours = ptr.filter(in_networks(ptr._address, home)) if home else ptr
    total = windowed_findings(
        ours,
        window_seconds=cfg.window_seconds,
        keys=["source_ip"],
        target="_address",
        having=lambda t: t.target_count >= cfg.min_queries,
        score=lambda t: t.target_count,
        count=request_count,
    )
    walk = windowed_findings(
        _ip6_names(dns),
        window_seconds=cfg.window_seconds,
        keys=["source_ip", "_zone"],
        target="_name",
        having=lambda t: t.target_count >= cfg.min_ip6_names,
        score=lambda t: t.target_count,
        count=request_count,
    )
    return ibis.union(
        as_findings(per_block, PTR_SWEEP, label=per_block._block),
        as_findings(total, PTR_SWEEP, label=PTR_TOTAL_LABEL),
        as_findings(walk, PTR_SWEEP, label=walk._zone),
        distinct=False,
    )


#: ``x.x.x.x.x.x.x.x.ip6.arpa``: the /32 reverse zone, 8 one-character nibble
#: labels and their dots before ``ip6.arpa``.
IP6_ZONE_CHARS: Final = 8 * 2 + len("ip6.arpa")


def _ip6_names(dns: ir.Table) -> ir.Table:
    """Queries of ``ip6.arpa`` names (any type, any depth: walkers ask NS or PTR
    of intermediate nibbles), with ``_zone`` their /32 reverse zone (or the
    name itself when shorter)."""
    named = _named(dns)
    walk = named.filter(named._name.endswith(".ip6.arpa"))
    deep = walk._name.length() >= IP6_ZONE_CHARS
    return walk.mutate(_zone=ibis.ifelse(deep, walk._name.right(IP6_ZONE_CHARS), walk._name))


def authorised_addresses(cfg: ZoneTransferConfig) -> list[str]:
    """The configured secondaries as exact addresses (config caps them at 65,536)."""
    return sorted(authorised_set(cfg))


def authorised_set(cfg: ZoneTransferConfig) -> frozenset[str]:
    """``authorised_addresses`` as a set, expanded once per list (triage asks per case)."""
    return _expanded(tuple(cfg.authorised_secondaries))


@functools.cache
def _expanded(items: tuple[str, ...]) -> frozenset[str]:
    return frozenset(str(address) for net in parse_networks(items) for address in net)


def zone_transfer(dns: ir.Table, cfg: ZoneTransferConfig) -> ir.Table:
    """AXFR/IXFR requests from clients that are not authorised: ``zone_transfer`` findings.

    Refused and denied requests count (BIND logs "zone transfer denied" and
    "bad zone transfer request ... (NOTAUTH)"; an attempt is the
    reconnaissance, whether or not it worked). The types are
    ``TRANSFER_TYPES``: ``XFR`` is a transfer request whose kind the log does
    not say (BIND's "bad zone transfer request" line). The allowlist is
    expanded to exact addresses in Python (it is small) and compared by
    equality. Per client and window of ``cfg.window_seconds`` (86400 s),
    requests >= ``cfg.min_requests`` (1). Score: requests. Label: the
    transfer types asked (``AXFR``, ``AXFR,IXFR``, ``AXFR,XFR``). Targets: the zones.
    """
    named = _named(dns)
    events = named.filter(named._type.isin(TRANSFER_TYPES))
    allowed = authorised_addresses(cfg)
    if allowed:
        events = events.filter(~events.source_ip.isin(allowed))
    best = windowed_findings(
        events,
        window_seconds=cfg.window_seconds,
        keys=["source_ip"],
        target="_name",
        having=lambda t: t.event_count >= cfg.min_requests,
        score=lambda t: t.event_count,
        count=request_count,
        collected=lambda s: {"label": s._type.collect(distinct=True).sort().join(",")},
    )
    return as_findings(best, ZONE_TRANSFER)


#: The transfer types whose answer hands zone data over (``XFR``, a request
#: BIND refused without naming the kind, never answers).
SERVED_TYPES: Final = ("AXFR", "IXFR")
#: Sensors that log an answer's records whenever it has any (Zeek's
#: ``answers``, Suricata's ``answers``/``grouped``): no records there is none.
RECORDS_LOGGED: Final = ("zeek.dns", "suricata.dns")
#: DNS logs of resolvers and forwarders, which serve no zone transfer: dnsmasq
#: answers an AXFR query NODATA (NOERROR, no record), Unbound and Route 53
#: Resolver transfer no zone to a client. Their NOERROR is no transfer.
NO_TRANSFERS: Final = ("dnsmasq", "unbound", "route53resolver")


def transfers_served(dns: ir.Table) -> ir.Table:
    """The zone transfers a server *gave*, not only was asked for.

    BIND's ``transfer of 'zone/IN': AXFR started`` (``BIND_VERDICTS``,
    allowed; "AXFR-style IXFR" and IXFR too), or an answer logged with
    ``NOERROR`` by a server that transfers zones (Zeek and Suricata answers,
    Windows DNS ``Snd R``, CoreDNS; not ``NO_TRANSFERS``): an AXFR unless
    the log keeps the answer's records and they are one or none (a sensor's
    empty answer list is none: ``RECORDS_LOGGED``), an IXFR
    only when the log keeps more than one record (an IXFR answer of a
    single SOA, "up to date", hands nothing over, and a log without records
    cannot tell it from a real one). A request alone (BIND's ``query:`` line,
    an eve request, a Windows ``Rcv``) says nothing of its outcome, and a
    refusal (REFUSED, NOTAUTH, "denied") gave nothing. ``zone_transfer``
    counts the attempts; these are what the attempts won. Whose server gave
    it and to whom it matters: ``transfer_exposes``.
    """
    kind = dns.dns_question_type.upper()
    logged = dns.dns_answers.length()
    # Null: this log keeps no records (Windows, CoreDNS), unless it is a
    # sensor's, which writes "-" for an answer without any.
    records = ibis.ifelse(dns.event_dataset.isin(RECORDS_LOGGED), logged.fill_null(0), logged)
    answered = (dns.dns_response_code.upper() == "NOERROR") & ~dns.event_dataset.isin(NO_TRANSFERS)
    axfr = (kind == "AXFR") & (records.isnull() | (records > 1))
    ixfr = (kind == "IXFR") & (records > 1)
    started = (dns.event_dataset == BIND_VERDICTS) & kind.isin(SERVED_TYPES)
    gave = (answered & (axfr | ixfr)).fill_null(False) | started.fill_null(False)
    return dns.filter(gave & (dns.event_action.fill_null("allowed") == "allowed"))


def transfer_exposes(
    source: str, server: str | None, secondaries: Collection[str], home: Sequence[IPNetwork]
) -> bool:
    """Whether a zone transfer ``server`` gave ``source`` handed one of *our*
    zones to someone who should not have it: not to an authorised secondary
    (``secondaries``: ``authorised_addresses``), and not one of our own hosts
    (``home``: ``site.home_networks``) pulling a zone from a server outside
    them (a sensor sees ``dig axfr zonetransfer.me`` leave too). A server
    the log names by host name, or not at all (BIND's own line), is the one
    that logged it: ours."""
    if source in secondaries:
        return False
    if server is None or not home:
        return True
    try:
        outside = not in_any(parse_ip(server), home)
        inside = in_any(parse_ip(source), home)
    except ValueError:
        return True
    return not (inside and outside)


def exposure_test(
    cfg: ZoneTransferConfig, home: Sequence[IPNetwork]
) -> Callable[[str, str | None], bool]:
    """``transfer_exposes(source, server)`` with ``cfg``'s authorised secondaries
    (expanded once) and ``home`` (``site.home_networks``)."""
    secondaries = authorised_set(cfg)
    return lambda source, server: transfer_exposes(source, server, secondaries, home)


def dns_chaos_probe(dns: ir.Table, cfg: DnsChaosProbeConfig) -> ir.Table:
    """Server fingerprinting queries (``version.bind``...): ``dns_chaos_probe`` findings.

    A query of one of ``CHAOS_NAMES`` in class CH, or of type TXT (some logs
    do not record the class). Per client and window of ``cfg.window_seconds``
    (86400 s), queries >= ``cfg.min_queries`` (1). Score: queries. Label:
    ``CH``. Targets: the names asked.
    """
    named = _named(dns)
    events = named.filter(
        named._name.isin(CHAOS_NAMES)
        & ((named.dns_question_class.upper() == "CH") | (named._type == "TXT"))
    )
    return _queries_per_client(events, cfg.window_seconds, cfg.min_queries, DNS_CHAOS_PROBE, "CH")


def dns_any_flood(dns: ir.Table, cfg: DnsAnyFloodConfig) -> ir.Table:
    """Many ANY queries from one client: ``dns_any_flood`` findings.

    Per client and window of ``cfg.window_seconds`` (300 s), ANY queries >=
    ``cfg.min_queries`` (20). Score: queries. Label: ``ANY``. Targets: names.
    """
    named = _named(dns)
    events = named.filter(named._type == "ANY")
    return _queries_per_client(events, cfg.window_seconds, cfg.min_queries, DNS_ANY_FLOOD, "ANY")


def _queries_per_client(
    events: ir.Table, window_seconds: int, min_queries: int, detection: str, label: str
) -> ir.Table:
    """``detection``'s findings: per client and window, ``events`` (queries
    with ``_name``) >= ``min_queries``. Score: queries; targets: the names."""
    best = windowed_findings(
        events,
        window_seconds=window_seconds,
        keys=["source_ip"],
        target="_name",
        having=lambda t: t.event_count >= min_queries,
        score=lambda t: t.event_count,
        count=request_count,
    )
    return as_findings(best, detection, label=label)


def srv_bruteforce(dns: ir.Table, cfg: SrvBruteforceConfig) -> ir.Table:
    """Many distinct ``_service._proto`` SRV names under one zone: ``srv_bruteforce``.

    SRV queries whose name starts with ``_`` and whose second label starts
    with ``_`` too (``_ldap._tcp.example.com``). Per client, zone and window
    of ``cfg.window_seconds`` (900 s), distinct names >= ``cfg.min_names``
    (10). Score: distinct names. Label: the zone. Targets: the names.
    """
    named = _named(dns)
    events = named.filter((named._type == "SRV") & named._name.startswith("_"))
    # The second label starts with "_": the character after the first dot. Not
    # the second element of the labels: Spark (ANSI) fails the whole query on
    # an index past the end, which one SRV query of a one-label name is.
    dot = events._name.find(".")
    events = events.filter((dot >= 0) & (events._name.substr(dot + 1, 1) == "_"))
    events = events.mutate(_zone=zone_of(events._name))
    best = windowed_findings(
        events,
        window_seconds=cfg.window_seconds,
        keys=["source_ip", "_zone"],
        target="_name",
        having=lambda t: t.target_count >= cfg.min_names,
        score=lambda t: t.target_count,
        count=request_count,
    )
    return as_findings(best, SRV_BRUTEFORCE, label=best._zone)


DETECTIONS: Final[dict[str, Detection]] = {
    DNS_BRUTEFORCE: Detection(
        dns_bruteforce,
        "dns_bruteforce",
        "one client resolving many names under one zone, mostly NXDOMAIN (subdomain brute force)",
        DNS_TECHNIQUE,
        ("dns",),
    ),
    PTR_SWEEP: Detection(
        ptr_sweep,
        "ptr_sweep",
        "one client reverse-resolving much of an address block (PTR sweep)",
        IP_ADDRESSES,
        ("dns",),
        site=True,
    ),
    ZONE_TRANSFER: Detection(
        zone_transfer,
        "zone_transfer",
        "AXFR/IXFR zone transfer asked by a client that is not an authorised secondary",
        DOMAIN_PROPERTIES,
        ("dns",),
    ),
    DNS_CHAOS_PROBE: Detection(
        dns_chaos_probe,
        "dns_chaos_probe",
        "version.bind-style CHAOS queries fingerprinting the DNS server",
        DOMAIN_PROPERTIES,
        ("dns",),
    ),
    DNS_ANY_FLOOD: Detection(
        dns_any_flood,
        "dns_any_flood",
        "many ANY queries from one client",
        DNS_TECHNIQUE,
        ("dns",),
    ),
    SRV_BRUTEFORCE: Detection(
        srv_bruteforce,
        "srv_bruteforce",
        "one client asking many distinct _service._proto SRV names under one zone",
        DNS_TECHNIQUE,
        ("dns",),
    ),
}
