"""IPv6 scanners that send each probe from another address of their own prefix.

An IPv6 host owns a whole /64 (RFC 7421) and may pick a new source address in
it for every packet: a vertical scan of 60 ports from 60 addresses is, per
source address, 60 single probes, and no per-source detection fires. The
blocklist already widens IPv6 sources to their /64 for this reason; this
detection gives the detections the same view.

Failed probes from IPv6 sources are keyed by the source's prefix
(``prefix_length``, 64) and counted as the per-source port scans count:
distinct ports of one host (``min_ports``) or distinct hosts on one port
(``min_hosts``) within ``window_seconds``, on the two offset grids of
``portscan``. A prefix whose windows meet either threshold, with at least
``min_sources`` of its addresses taking part, is one actor: every member
address gets an ``ipv6_rotating_scan`` finding covering its probes in those
windows, labelled ``campaign:ipv6 <prefix>``, so the case builder makes one
case of the prefix listing its addresses (the campaign mechanism of
``distributed_scan``), and containment blocks the prefix once.

The prefix of each distinct IPv6 source with failed probes is computed with
``ipaddress`` (exact for every spelling; there is no portable prefix of an
IPv6 string in SQL): once per distinct address, not per line, and IPv6
scanning sources are few. The rest is the portable Ibis subset, the same on
DuckDB and Spark.
"""

from __future__ import annotations

import ipaddress
from typing import Final

import ibis
import ibis.expr.types as ir
import pyarrow as pa

from reconwatch.config import Ipv6RotationConfig
from reconwatch.detect.portscan import (
    _windowed_candidates,
    as_findings,
    failed_probes,
    scan_metrics,
)

ROTATION: Final = "ipv6_rotating_scan"
#: Labels start with the campaign prefix: the case builder groups the members.
LABEL_PREFIX: Final = "campaign:ipv6 "


def source_prefixes(sources: list[str], prefix_length: int) -> dict[str, str]:
    """Each IPv6 address of ``sources`` -> its ``/prefix_length`` network text."""
    prefixes: dict[str, str] = {}
    for text in sources:
        try:
            address = ipaddress.IPv6Address(text)
        except ValueError:
            continue  # IPv4, or not an address (the lake holds canonical text)
        network = ipaddress.IPv6Network((int(address), prefix_length), strict=False)
        prefixes[text] = str(network)
    return prefixes


def ipv6_rotating_scan(network: ir.Table, cfg: Ipv6RotationConfig) -> ir.Table:
    """Members of IPv6 prefixes that scanned together: ``ipv6_rotating_scan`` findings."""
    probes = failed_probes(network)
    v6 = probes.filter(probes.source_ip.contains(":"))
    sources = v6.select("source_ip").distinct().to_pyarrow().column("source_ip").to_pylist()
    prefixes = source_prefixes([s for s in sources if s is not None], cfg.prefix_length)
    members: dict[str, int] = {}
    for prefix in prefixes.values():
        members[prefix] = members.get(prefix, 0) + 1
    # Only prefixes with enough addresses can meet min_sources: a single
    # scanning address is the per-source detections' business.
    mapped = {s: p for s, p in prefixes.items() if members[p] >= cfg.min_sources}
    mapping = ibis.memtable(
        pa.table(
            {
                "source_ip": pa.array(list(mapped), pa.string()),
                "_prefix": pa.array(list(mapped.values()), pa.string()),
            }
        )
    )
    events = v6.join(mapping, "source_ip")
    # The prefix stands where the source stands in the per-source counts.
    keyed = events.mutate(source_ip=events._prefix)
    vertical = _windowed_candidates(
        keyed, cfg.window_seconds, ["source_ip", "destination_ip"], "destination_port",
        cfg.min_ports,
    )  # fmt: skip
    vertical = vertical.filter(vertical.port_count >= cfg.min_ports)
    horizontal = _windowed_candidates(
        keyed.mutate(network_transport=keyed.network_transport.coalesce("unknown")),
        cfg.window_seconds, ["source_ip", "destination_port", "network_transport"],
        "destination_ip", cfg.min_hosts,
    )  # fmt: skip
    horizontal = horizontal.filter(horizontal.target_count >= cfg.min_hosts)
    spans = ibis.union(
        vertical.select(_span_prefix="source_ip", _from="first_seen", _to="last_seen"),
        horizontal.select(_span_prefix="source_ip", _from="first_seen", _to="last_seen"),
        distinct=True,
    )
    # Each member's probes inside its prefix's windows (a semi-join: an event
    # in two overlapping windows counts once).
    inside = events.semi_join(
        spans,
        [
            events._prefix == spans._span_prefix,
            events.timestamp >= spans._from,
            events.timestamp <= spans._to,
        ],
    )
    per_prefix = inside.group_by("_prefix").aggregate(
        _members=inside.source_ip.nunique(),
        _pairs=(inside.destination_ip + "|" + inside.destination_port.cast("string")).nunique(),
    )
    per_prefix = per_prefix.filter(per_prefix._members >= cfg.min_sources)
    per_member = inside.group_by(["_prefix", "source_ip"]).aggregate(**scan_metrics(inside))
    found = per_member.join(per_prefix, "_prefix")
    return as_findings(found, ROTATION, score=found._pairs, label=LABEL_PREFIX + found._prefix)
