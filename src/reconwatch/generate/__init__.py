"""Seeded sample logs with ground truth, for ``reconwatch demo``, the tests and the benchmarks.

The generator models *actors* (each one kind of behaviour: a vertical SYN
scanner, a sweep, a benign client, background populations) that produce
columnar events, and *writers* (one per log format) that print those events
exactly as the real producer would. New formats add a record kind and a
writer; new behaviours add an actor.

- :func:`generate_sample` writes the demo site: ``firewall/kern.log``,
  ``zeek/conn.log``, ``reconwatch.yaml`` and ``truth.json``; with
  ``families=ALL_FAMILIES`` also ``dns/query.log``, ``zeek/dns.log``,
  ``web/access.log``, ``ids/eve.json`` and ``auth/auth.log``, and actors for
  every detection family (DNS ANY flood and SRV brute force, vhost sweep,
  internal Host headers, a coordinated scan, a traffic spike, zmap, a
  DNS-to-scan-to-web recon chain) beside the demo's scanners.
- :func:`write_netfilter_lines` streams N netfilter lines with hidden
  scanners, for throughput benchmarks.
- ``generate_sample(..., lookalikes=True)`` adds the benign look-alikes of
  :mod:`.lookalikes` (NAT gateway, monitoring, an internal vulnerability
  scanner, crawlers, CDN health checks, a mail server's PTR lookups, a
  forwarding resolver) for the detection quality benchmark (``bench/quality.py``).
"""

from __future__ import annotations

from reconwatch.generate.auth import AUTH_LOG
from reconwatch.generate.dns import BIND_LOG, ZEEK_DNS_LOG
from reconwatch.generate.families import ALL_FAMILIES
from reconwatch.generate.ids import EVE_LOG
from reconwatch.generate.scenario import (
    DEFAULT_START,
    FIREWALL_LOG,
    MIN_SAMPLE_SIZE,
    NETWORK_ONLY,
    SPAN,
    ZEEK_CONN_LOG,
    generate_sample,
    min_sample_size,
    write_netfilter_lines,
)
from reconwatch.generate.truth import ActorTruth, GroundTruth
from reconwatch.generate.web import ACCESS_LOG

__all__ = [
    "ACCESS_LOG",
    "ALL_FAMILIES",
    "AUTH_LOG",
    "BIND_LOG",
    "DEFAULT_START",
    "EVE_LOG",
    "FIREWALL_LOG",
    "MIN_SAMPLE_SIZE",
    "NETWORK_ONLY",
    "SPAN",
    "ZEEK_CONN_LOG",
    "ZEEK_DNS_LOG",
    "ActorTruth",
    "GroundTruth",
    "generate_sample",
    "min_sample_size",
    "write_netfilter_lines",
]
