"""What a detection is and what it returns.

A detection is a function ``name(*input_tables, cfg) -> ibis.Table`` in a
module of ``reconwatch.detect``, with its config class in ``reconwatch.config``
and an entry in ``reconwatch.detect.DETECTIONS`` naming its input tables. Its
result has the ``FINDINGS`` columns; the runner adds ``source_table``. Findings are few (one per
actor and window), so stages after detection may work on them in Python.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final, NamedTuple

import ibis.expr.types as ir
import pyarrow as pa

from reconwatch.schema import TIMESTAMP

FINDINGS: Final = pa.schema(
    [
        pa.field("detection", pa.string(), nullable=False),
        pa.field("source_ip", pa.string(), nullable=False),
        # Start of the tumbling window the finding belongs to (null when the
        # detection is not windowed, e.g. TRW over the whole input).
        pa.field("window_start", TIMESTAMP),
        pa.field("first_seen", TIMESTAMP, nullable=False),
        pa.field("last_seen", TIMESTAMP, nullable=False),
        # Events (lines) that support the finding.
        pa.field("event_count", pa.int64(), nullable=False),
        pa.field("target_count", pa.int64(), nullable=False),
        pa.field("port_count", pa.int64(), nullable=False),
        # Distinct destination addresses and ports involved.
        pa.field("targets", pa.list_(pa.string())),
        pa.field("ports", pa.list_(pa.int32())),
        # Detection-specific strength: distinct ports/hosts/pairs for scans, the
        # log-likelihood ratio for TRW, packet count for flag scans.
        pa.field("score", pa.float64(), nullable=False),
        # Detection-specific label, e.g. the probed port of a horizontal sweep,
        # the scanned host of a vertical scan, or "FIN,NULL" for flag scans.
        pa.field("label", pa.string()),
    ]
)

#: What the runner returns: FINDINGS plus the lake table holding each
#: finding's evidence (the detection's first input: network, dns, http...).
RUN_FINDINGS: Final = FINDINGS.append(pa.field("source_table", pa.string()))

#: Deterministic order of the runner's output.
SORT_KEYS: Final = ("detection", "source_ip", "window_start", "label")


class Detection(NamedTuple):
    """One registered detection."""

    #: ``function(*input_tables, cfg) -> ibis.Table`` with the FINDINGS columns.
    function: Callable[..., ir.Table]
    #: Attribute of ``DetectConfig`` holding its thresholds (a section, or a
    #: property combining sections: ``ipv6_prefix_settings``).
    config: str
    #: What it finds, in one line (for ``--help``, reports and docs).
    description: str
    #: The ATT&CK technique its findings are evidence of.
    technique: str
    #: Lake tables the function takes, in order; the first is where its
    #: evidence lines come from.
    inputs: tuple[str, ...] = ("network",)
    #: Takes ``site=SiteConfig`` too (which ranges and zones are ours or internal).
    site: bool = False
    #: ``least_events(cfg)``: fewer events of one source in the first input
    #: than this, and the detection cannot report that source, whatever the
    #: other sources do. The runner may then give it only the events of the
    #: sources with at least that many (``reconwatch.detect.busy_inputs``):
    #: on internet-facing logs nearly every source sends a handful of packets.
    #: None when a source's findings depend on other sources' events.
    least_events: Callable[[Any], int] | None = None
    #: Takes ``whole=`` too: the whole first input when the runner narrowed it
    #: (dark space is judged from every source's traffic, probers from their own).
    whole: bool = False
    #: Given a narrowed table (``busy_inputs``, a table DuckDB holds), the runner
    #: first keeps only the sources with ``least_events`` there (one plain count
    #: per source): for a detection whose own first steps cost more per source
    #: than that count and which does not count them itself. Not done in the
    #: detection: Spark (never given a narrowed table) would compute such a count
    #: again at every reading of the events it feeds.
    count_first: bool = False
