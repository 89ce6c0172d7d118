"""IPv6 address rotation: the addresses of one /64 splitting a port scan between them.

An IPv6 host owns a whole /64 (SLAAC and privacy addresses give it 2^64
addresses for nothing), so a scanner may send every probe from a new address
of it: then no address ever reaches a per-source threshold and every
per-source detection (vertical, horizontal, block, TRW, slow) misses the
scan. Zeek's scan policy and psad count per address and share the blind
spot. Here the /64 is the actor: per window of ``window_seconds`` (300 s, two
grids as for the port scans, see ``portscan``), over the failed attempts of
every IPv6 source, a /64 trips when at least ``min_sources`` (2) of its
addresses together meet one of the port-scan thresholds -- ``min_ports`` (16)
ports of one host, ``min_hosts`` (26) hosts on one port, or
``min_block_hosts`` (5) hosts, ``min_block_ports`` (5) ports and
``min_block_pairs`` (40) host:port pairs -- the same numbers as a single
source is judged by, so a /64 is held to exactly the standard one address is.

Findings are per member address and window (its own targets, ports and
counts in the window; score: the host:port pairs the whole /64 probed there).
Every member's finding carries the label ``campaign:ipv6@<network>/64``,
e.g. ``campaign:ipv6@2001:db8:1:2::/64``, the network in canonical RFC 5952
text, with no window in it: the /64 is one actor, so its windows and members
make one case (``cases.actor_of`` groups findings by a ``campaign:`` label).

The /64 is computed from the canonical address text (``ipv6_net64``) with
plain string functions, identical on DuckDB and Spark.
"""

from __future__ import annotations

from typing import Final

import ibis
import ibis.expr.types as ir

from reconwatch.config import Ipv6PrefixScanConfig
from reconwatch.detect.portscan import (
    SLOT,
    WINDOW_START,
    as_findings,
    best_windows,
    failed_probes,
    scan_metrics,
    window_slots,
)

PREFIX_SCAN: Final = "ipv6_prefix_scan"
#: Every member's label starts with this, then the /64 (see the module docstring).
LABEL_PREFIX: Final = "campaign:ipv6@"


def ipv6_net64(ip: ir.StringValue) -> ir.StringValue:
    """The /64 holding a canonical IPv6 address, as canonical network text
    (``"2001:db8:1:2::/64"``, ``"2001:db8::/64"``, ``"::/64"``).

    ``::`` is expanded to ``:`` and one ``0:`` per zero group it stands for:
    8 minus the colons of the text (``2001:db8::1``, 3 colons, gives
    ``2001:db8:0:0:0:0:0:1``). A leading ``::`` leaves the first group empty
    (``::1`` gives ``:0:0:0:0:0:0:1``), read as 0; a trailing one, the last,
    which a /64 never reads. Of the first four groups, trailing zeros are then
    dropped: the last four groups of a /64 are zero, so its longest run of
    zero groups is the one at its end, which ``::`` stands for (RFC 5952
    4.2.3). Plain string functions on DuckDB and Spark (Spark's ``split``
    takes a regex, and ``:`` is no regex operator). Only for IPv6 text: an
    IPv4 address gives nonsense.
    """
    colons = ip.length() - ip.replace(":", "").length()
    groups = ip.replace("::", ":" + ibis.literal("0:").repeat(8 - colons)).split(":")
    first = [groups[0].nullif("").coalesce("0"), groups[1], groups[2], groups[3]]
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


def prefix_least_events(cfg: Ipv6PrefixScanConfig) -> int:
    """Failed probes a /64 sends in a window that trips: at least the smallest
    threshold (a distinct count is at most the events counted)."""
    block = max(cfg.min_block_hosts, cfg.min_block_ports, cfg.min_block_pairs)
    return max(cfg.min_sources, min(cfg.min_ports, cfg.min_hosts, block))


def ipv6_prefix_scan(network: ir.Table, cfg: Ipv6PrefixScanConfig) -> ir.Table:
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
        _prefix=ipv6_net64(probes.source_ip),
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
    probes = probes.mutate(
        _pair=probes.destination_ip + "|" + probes.destination_port.cast("string")
    )
    slotted = window_slots(probes, cfg.window_seconds)
    group = ["_prefix", SLOT, WINDOW_START]
    totals = slotted.group_by(group).aggregate(
        _sources=slotted.source_ip.nunique(),
        _hosts=slotted.destination_ip.nunique(),
        _ports=slotted.destination_port.nunique(),
        _pairs=slotted._pair.nunique(),
    )
    # The widest vertical scan (ports of one host) and horizontal sweep (hosts
    # on one port) inside each /64's window.
    per_host = slotted.group_by([*group, "destination_ip"]).aggregate(
        _n=slotted.destination_port.nunique()
    )
    vertical = per_host.group_by(group).aggregate(_vertical=per_host._n.max())
    per_port = slotted.group_by([*group, "destination_port", "network_transport"]).aggregate(
        _n=slotted.destination_ip.nunique()
    )
    horizontal = per_port.group_by(group).aggregate(_horizontal=per_port._n.max())
    windows = totals.join(vertical, group).join(horizontal, group)
    scanning = (
        (windows._vertical >= cfg.min_ports)
        | (windows._horizontal >= cfg.min_hosts)
        | (
            (windows._hosts >= cfg.min_block_hosts)
            & (windows._ports >= cfg.min_block_ports)
            & (windows._pairs >= cfg.min_block_pairs)
        )
    )
    candidates = windows.filter(scanning & (windows._sources >= cfg.min_sources))
    candidates = candidates.select(*group, score=candidates._pairs)
    kept = best_windows(candidates, ["_prefix"])

    chosen = slotted.semi_join(kept, group)
    members = chosen.group_by(["source_ip", *group]).aggregate(**scan_metrics(chosen))
    found = members.join(kept, group)
    return as_findings(found, PREFIX_SCAN, label=LABEL_PREFIX + found._prefix)
