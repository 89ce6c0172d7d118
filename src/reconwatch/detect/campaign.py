"""Distributed (coordinated) scans: several sources splitting one sweep between them.

Gates, "Coordinated scan detection" (NDSS 2009, from her 2006 CMU work):
a coordinated scan is one sweep of a target space divided among many
sources, each covering a slice with little overlap, so that no single source
trips a per-source threshold. Zeek's scan.zeek names the same blind spot:
its counters are per source. The heuristic here is Gates's idea reduced to
what a portable GROUP BY can say:

1. Members. Per tumbling window of ``window_seconds`` (1 h), source, transport,
   destination port and destination /24: the distinct hosts probed with
   failed attempts. A source is a member candidate when it probed at least
   ``min_member_hosts`` (8) hosts there, while no ``fast_window_seconds``
   (5 min) window inside held more than ``max_member_hosts_per_fast_window``
   (25) of them: each member stays under the horizontal-scan threshold,
   which is the point of distributing a scan.
2. Campaigns. Candidates sharing the signature (window, transport, port, /24)
   form a campaign when there are at least ``min_sources`` (3), they cover
   at least ``min_total_hosts`` (64) distinct hosts together, and they split
   the space rather than repeat it: the sum of their host counts is at most
   ``(1 + max_overlap)`` times the union (1.25 by default). Independent
   scanners (worms, research scanners) hitting one port each sweep the
   *same* hosts, so their ratio approaches the number of sources.

The /24 is the destination's first three octets, cut with ``reverse`` and
``find`` (no regex, same on DuckDB and Spark). IPv6 destinations have no
portable prefix here and are left out: IPv6 sweeps are rare (the space is too
large to sweep), and a coordinated IPv6 scan would need integer prefixes.

Label contract: every member's finding carries the same label,
``campaign:<transport>/<port>@<a.b.c>.0/24@<window epoch seconds>``, e.g.
``campaign:tcp/22@203.0.113.0/24@1790762400``. It is stable (the same data
gives the same label on every engine and run) and readable. The same sweep
continuing into the next hour gets the next window's label; everything
before the last ``@`` names the sweep across windows.

One sweep often spans several ports, /24s or hours, each its own label: the
case builder makes one campaign case of the labels linked by shared member
sources (``cases.joined_actors``), known by the first label in
:func:`label_signature` order.
"""

from __future__ import annotations

from typing import Final

import ibis
import ibis.expr.types as ir

from reconwatch.campaign_labels import CAMPAIGN_PREFIX
from reconwatch.config import DistributedScanConfig
from reconwatch.detect.portscan import (
    FINDING_TYPES,
    as_findings,
    busy_sources,
    failed_probes,
    scan_metrics,
)

DISTRIBUTED: Final = "distributed_scan"


def ipv4_net24(ip: ir.StringValue) -> ir.StringValue:
    """The first three octets of an IPv4 address (``"203.0.113"``); null for IPv6.

    Everything before the last dot: ``find`` on the reversed string gives the
    last dot's distance from the end. Both functions are plain string
    functions on DuckDB and Spark (Spark's ``split`` would take a regex).
    """
    from_end = ip.reverse().find(".")
    return ibis.ifelse(from_end >= 0, ip.substr(0, ip.length() - from_end - 1), ibis.null("string"))


def distributed_least_events(cfg: DistributedScanConfig) -> int:
    """A member probes ``min_member_hosts`` hosts, so it sent at least as many
    failed probes; non-members' events never count."""
    return cfg.min_member_hosts


def distributed_scan(network: ir.Table, cfg: DistributedScanConfig) -> ir.Table:
    """Members of coordinated sweeps: ``distributed_scan`` findings, one per member source.

    See the module docstring for the heuristic and the label contract. Each
    finding covers the member's own probes in the campaign (targets, ports,
    counts); ``window_start`` is the campaign window; score is the number of
    distinct hosts the whole campaign covered.
    """
    # The sources with too few failed probes cannot be members.
    probes = busy_sources(failed_probes(network), distributed_least_events(cfg))
    probes = probes.mutate(
        network_transport=probes.network_transport.coalesce("unknown"),
        _net=ipv4_net24(probes.destination_ip),
    )
    probes = probes.filter(probes._net.notnull())
    epoch = probes.timestamp.epoch_seconds()
    # Floor division before any cast (see portscan.window_slots).
    probes = probes.mutate(
        _window=(epoch // cfg.window_seconds).cast("int64"),
        _fast=(epoch // cfg.fast_window_seconds).cast("int64"),
    )
    signature = ["_window", "network_transport", "destination_port", "_net"]
    member_key = [*signature, "source_ip"]

    fast = probes.group_by([*member_key, "_fast"]).aggregate(_hosts=probes.destination_ip.nunique())
    fast_max = fast.group_by(member_key).aggregate(_fast_max=fast._hosts.max())
    per_member = probes.group_by(member_key).aggregate(_hosts=probes.destination_ip.nunique())
    members = per_member.join(fast_max, member_key)
    members = members.filter(
        (members._hosts >= cfg.min_member_hosts)
        & (members._fast_max <= cfg.max_member_hosts_per_fast_window)
    ).select(*member_key, "_hosts")

    member_probes = probes.semi_join(members, member_key)
    union = member_probes.group_by(signature).aggregate(
        _sources=member_probes.source_ip.nunique(),
        _union=member_probes.destination_ip.nunique(),
    )
    summed = members.group_by(signature).aggregate(_sum=members._hosts.sum())
    campaigns = union.join(summed, signature)
    campaigns = campaigns.filter(
        (campaigns._sources >= cfg.min_sources)
        & (campaigns._union >= cfg.min_total_hosts)
        & (campaigns._sum <= campaigns._union * (1 + cfg.max_overlap))
    ).select(*signature, "_union")

    chosen = member_probes.semi_join(campaigns, signature)
    per_source = chosen.group_by(member_key).aggregate(**scan_metrics(chosen))
    found = per_source.join(campaigns, signature)
    window_start = (
        (found._window * cfg.window_seconds)
        .cast("int64")
        .as_timestamp("s")
        .cast(FINDING_TYPES["window_start"])
    )
    label = (
        CAMPAIGN_PREFIX
        + found.network_transport
        + "/"
        + found.destination_port.cast("string")
        + "@"
        + found._net
        + ".0/24@"
        + (found._window * cfg.window_seconds).cast("int64").cast("string")
    )
    return as_findings(
        found, DISTRIBUTED, window_start=window_start, score=found._union, label=label
    )
