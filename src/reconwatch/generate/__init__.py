"""Seeded sample logs with ground truth, for ``reconwatch demo``, the tests and the benchmarks.

The generator models *actors* (each one kind of behaviour: a vertical SYN
scanner, a sweep, a benign client, background populations) that produce
columnar events, and *writers* (one per log format) that print those events
exactly as the real producer would. New formats add a record kind and a
writer; new behaviours add an actor.

- :func:`generate_sample` writes the demo site: ``firewall/kern.log``,
  ``zeek/conn.log``, ``reconwatch.yaml`` and ``truth.json``.
- :func:`write_netfilter_lines` streams N netfilter lines with hidden
  scanners, for throughput benchmarks.
"""

from __future__ import annotations

from reconwatch.generate.scenario import (
    DEFAULT_START,
    FIREWALL_LOG,
    MIN_SAMPLE_SIZE,
    SPAN,
    ZEEK_CONN_LOG,
    generate_sample,
    write_netfilter_lines,
)
from reconwatch.generate.truth import ActorTruth, GroundTruth

__all__ = [
    "DEFAULT_START",
    "FIREWALL_LOG",
    "MIN_SAMPLE_SIZE",
    "SPAN",
    "ZEEK_CONN_LOG",
    "ActorTruth",
    "GroundTruth",
    "generate_sample",
    "write_netfilter_lines",
]
