"""IPv6 address rotation: the addresses of one /64 splitting a port scan between them.

An IPv6 host is usually given a whole /64 (SLAAC and privacy addresses give
it 2^64 addresses for nothing), so a scanner may send every probe from a new
address of it: then no address ever reaches a per-source threshold and every
per-source detection (vertical, horizontal, block, TRW, slow) misses the
scan. Zeek's scan policy and psad count per address and share the blind
spot. Here the /64 is the actor: per window of ``window_seconds`` (300 s, two
grids as for the port scans, see ``portscan``), over the failed attempts of
IPv6 sources, a /64 trips when at least ``min_sources`` (2) of its addresses
together meet one of the port-scan limits a single address is held to, read
from their sections -- ``vertical_scan.min_ports`` (16) ports of one host,
``horizontal_scan.min_hosts`` (26) hosts on one port, or ``block_scan``'s 5
hosts, 5 ports and 40 host:port pairs. Only the addresses that never meet
one of them alone count: those are the per-source detections' scanners.
Sources in ``site.home_networks`` (our LANs' /64s are shared by their hosts)
and in ``shared_ranges`` (NAT64, Teredo, link-local, ``::/64``: a /64 there
is many hosts) are left out.

Findings are per member address and window (its own targets, ports and
counts in the window; score: the host:port pairs the whole /64 probed there).
Every member's finding carries the label ``campaign:ipv6@<network>/64``,
e.g. ``campaign:ipv6@2001:db8:1:2::/64``, the network in canonical RFC 5952
text, with no window in it: the /64 is one actor, so its windows and members
make one case (``cases.actor_of`` groups findings by a ``campaign:`` label).

The /64 is computed from the canonical address text (``net64_groups``,
``net64_text``) with plain string functions, identical on DuckDB and Spark.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from typing import Final

import ibis
import ibis.expr.types as ir

from reconwatch.campaign_labels import ROTATING_PREFIX
from reconwatch.config import PrefixScanSettings, SiteConfig
from reconwatch.detect.portscan import (
    SLOT,
    WINDOW_START,
    as_findings,
    best_windows,
    failed_probes,
    scan_metrics,
    window_slots,
)
from reconwatch.detect.ranges import any_of
from reconwatch.netaddr import IPNetwork, parse_networks

PREFIX_SCAN: Final = "ipv6_prefix_scan"


def ipv6_net64(ip: ir.StringValue) -> ir.StringValue:
    """The /64 holding a canonical IPv6 address, as canonical network text
    (``"2001:db8:1:2::/64"``, ``"2001:db8::/64"``, ``"::/64"``): the
    ``net64_text`` of its ``net64_groups``. Only for IPv6 text: an IPv4
    address gives nonsense."""
    return net64_text(net64_groups(ip))


def net64_groups(ip: ir.StringValue) -> ir.StringValue:
    """The first four groups of a canonical IPv6 address with ``::`` written
    out: ``"2001:db8:0:7"`` for ``2001:db8:0:7::1``, ``"0:0:0:0"`` for ``::1``.

    ``::`` becomes ``:`` and one ``0:`` per zero group it stands for, 8 minus
    the colons of the text (``2001:db8::1``, 3 colons: ``2001:db8:0:0:0:0:0:1``);
    a leading ``::`` leaves the first group empty (``::1``:
    ``:0:0:0:0:0:0:1``), read as 0, a trailing one the last, which a /64
    never reads. One key per /64, spelled out only for the findings
    (``net64_text``). Short on purpose: Spark plans every copy of an
    expression, and ``ranges.expanded`` here took seconds to plan. Plain
    string and list functions on DuckDB and Spark (Spark's ``split`` takes a
    regex, and ``:`` is no regex operator).
    """
    colons = ip.length() - ip.replace(":", "").length()
    written = ip.replace("::", ":" + ibis.literal("0:").repeat(8 - colons))
    key = written.split(":")[:4].join(":")
    return ibis.ifelse(key.startswith(":"), "0" + key, key)


def key_in_networks(key: ir.StringValue, networks: Sequence[IPNetwork]) -> ir.BooleanValue:
    """True when the /64 whose ``net64_groups`` is ``key`` lies in, or holds,
    one of the IPv6 ``networks`` (IPv4 ones are passed over): a network
    narrower than a /64 stands for its /64.

    The groups a network fixes whole are a text prefix of the key; a group
    it fixes in part is left-padded to four digits, and its fixed bits are
    the first digits (one to sixteen choices of the last, partly fixed one).
    """
    groups = key.split(":")
    tests: list[ir.BooleanValue] = []
    for network in networks:
        if not isinstance(network, ipaddress.IPv6Network):
            continue
        hextets = network.network_address.exploded.split(":")[:4]
        whole, rest = divmod(min(network.prefixlen, 64), 16)
        fixed = ":".join(format(int(h, 16), "x") for h in hextets[:whole])
        if whole == 4:
            test = key == fixed
        else:
            test = key.startswith(fixed + ":") if fixed else ibis.literal(True)
        if rest:
            digits, extra = divmod(rest, 4)
            padded = groups[whole].lpad(4, "0")
            head = hextets[whole][:digits]
            if extra:
                nibble = int(hextets[whole][digits], 16) >> (4 - extra) << (4 - extra)
                starts = [head + format(nibble + n, "x") for n in range(1 << (4 - extra))]
                test = test & padded.substr(0, digits + 1).isin(starts)
            else:
                test = test & padded.startswith(head)
        tests.append(test)
    return any_of(tests)


def net64_text(groups: ir.StringValue) -> ir.StringValue:
    """``"g0:g1:g2:g3"`` (``net64_groups``) as the /64's canonical text: the
    trailing zero groups folded into ``::``. The last four groups of a /64
    are zero, so its longest run of zero groups is the one at its end, which
    ``::`` stands for (RFC 5952 4.2.3)."""
    group = groups.split(":")
    first = [group[i] for i in range(4)]
    network = ibis.cases(
        *((first[n - 1] != "0", _joined(first[:n]) + "::") for n in range(4, 0, -1)),
        else_=ibis.literal("::"),
    )
    return network + "/64"


def _joined(parts: list[ir.StringValue]) -> ir.StringValue:
    joined = parts[0]
    for part in parts[1:]:
        joined = joined + ":" + part
    return joined


def prefix_least_events(cfg: PrefixScanSettings) -> int:
    """Failed probes a /64 sends in a window that trips: at least the smallest
    limit (a distinct count is at most the events counted)."""
    block = max(cfg.block.min_hosts, cfg.block.min_ports, cfg.block.min_pairs)
    vertical, horizontal = cfg.vertical.min_ports, cfg.horizontal.min_hosts
    return max(cfg.scan.min_sources, min(vertical, horizontal, block))


def ipv6_prefix_scan(network: ir.Table, cfg: PrefixScanSettings, site: SiteConfig) -> ir.Table:
    """Addresses of one /64 scanning together: ``ipv6_prefix_scan`` findings, one
    per member address and window (see the module docstring)."""
    probes = failed_probes(network)
    # Canonical IPv4 text has no colon; every IPv6 address has two at least.
    probes = probes.filter(probes.source_ip.contains(":"))
    # Only what the counts read: the window below would carry every column.
    probes = probes.select(
        "timestamp",
        "source_ip",
        "destination_ip",
        "destination_port",
        # Null never equals null in a join: name the unknown transport.
        network_transport=probes.network_transport.coalesce("unknown"),
        _prefix=net64_groups(probes.source_ip),
    )
    # Nearly every IPv6 source is alone in its /64 and sends a few packets:
    # keep the /64s with two addresses or more and enough events for a window
    # to meet a threshold, before the windowed counts. Counted over a window
    # (one reading of the probes, no self-join); two addresses is "lowest !=
    # highest", which Spark can say over a window (it has no distinct count there).
    whole = ibis.window(group_by="_prefix")
    probes = probes.mutate(
        _events=probes.count().over(whole),
        _lowest=probes.source_ip.min().over(whole),
        _highest=probes.source_ip.max().over(whole),
    )
    probes = probes.filter(
        (probes._events >= prefix_least_events(cfg)) & (probes._lowest != probes._highest)
    ).drop("_events", "_lowest", "_highest")
    # Our own /64s and the shared ones are no actor: tested on the /64 keys of
    # the few probes left (dropping sources only lowers the counts above).
    excluded = [*site.home(), *parse_networks(cfg.scan.shared_ranges)]
    if any(network.version == 6 for network in excluded):
        probes = probes.filter(~key_in_networks(probes._prefix, excluded))
    slotted = window_slots(probes, cfg.scan.window_seconds)
    group = ["_prefix", SLOT, WINDOW_START]
    # An address that meets a limit alone in some window is a scanner the
    # per-source detections report: its probes make no /64 case, or one
    # scanner and a neighbour's stray packet would be a "rotation".
    alone = _meeting_limits(slotted, ["source_ip", *group], cfg).select("source_ip")
    rotated = slotted.anti_join(alone, "source_ip")
    windows = _meeting_limits(rotated, group, cfg)
    candidates = windows.filter(windows._sources >= cfg.scan.min_sources)
    kept = best_windows(candidates.select(*group, "score", "event_count"), ["_prefix"])
    kept = kept.drop("event_count")  # the members' own counts are the findings'.
    # Every member's metrics in every window, then the kept windows' (a
    # semi-join first would read the probes once more: see _meeting_limits).
    members = rotated.group_by(["source_ip", *group]).aggregate(**scan_metrics(rotated))
    found = members.join(kept, group)
    return as_findings(found, PREFIX_SCAN, label=ROTATING_PREFIX + net64_text(found._prefix))


def _meeting_limits(events: ir.Table, keys: list[str], cfg: PrefixScanSettings) -> ir.Table:
    """The ``keys`` groups of ``events`` whose probes meet one of the port-scan
    limits, with their distinct sources (``_sources``), host:port pairs
    (``score``) and probes (``event_count``).

    One reading of ``events``: every distinct count is a sum of "first row of
    its value" flags (``row_number() == 0``), and the widest vertical scan
    (ports of one host) and horizontal sweep (hosts on one port) are sums of
    such flags over a window, before one grouping. Three groupings joined
    (one per limit) read the events three times, and Spark, which copies a
    plan at each reading, ran out of driver memory on the copies.
    """

    def first(*columns: str) -> ir.IntegerValue:
        order = ibis.window(group_by=[*keys, *columns], order_by="timestamp")
        return (ibis.row_number().over(order) == 0).cast("int64")

    host, port, transport = "destination_ip", "destination_port", "network_transport"
    flagged = events.mutate(
        _source=first("source_ip"),
        _host=first(host),
        _port=first(port),
        _pair=first(host, port),
        _triple=first(host, port, transport),
    )
    widest = flagged.mutate(
        _host_ports=flagged._pair.sum().over(group_by=[*keys, host]),
        _port_hosts=flagged._triple.sum().over(group_by=[*keys, port, transport]),
    )
    groups = widest.group_by(keys).aggregate(
        _sources=widest._source.sum(),
        _hosts=widest._host.sum(),
        _ports=widest._port.sum(),
        score=widest._pair.sum(),
        event_count=widest.count(),
        _vertical=widest._host_ports.max(),
        _horizontal=widest._port_hosts.max(),
    )
    return groups.filter(
        (groups._vertical >= cfg.vertical.min_ports)
        | (groups._horizontal >= cfg.horizontal.min_hosts)
        | (
            (groups._hosts >= cfg.block.min_hosts)
            & (groups._ports >= cfg.block.min_ports)
            & (groups.score >= cfg.block.min_pairs)
        )
    ).select(*keys, "_sources", "score", "event_count")
