"""The detections, by name, and the runner that executes them all.

Each detection is an Ibis expression builder ``function(network, cfg)`` that
returns the FINDINGS columns (see ``reconwatch.detect.base``). The registry
says which config section feeds it, what it looks for in one line, and the
ATT&CK technique its findings support; the runner executes every detection
on the engine the network table is bound to and returns one Arrow table.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Final

import ibis.expr.types as ir
import pyarrow as pa

from reconwatch.config import DetectConfig, SiteConfig
from reconwatch.detect import dns, ids, internal, slow, web
from reconwatch.detect.base import FINDINGS, RUN_FINDINGS, SORT_KEYS, Detection
from reconwatch.detect.portscan import block_scan, horizontal_scan, vertical_scan
from reconwatch.detect.scantype import flag_scan
from reconwatch.detect.trw import trw_scan
from reconwatch.schema import conform

#: ATT&CK Active Scanning: Scanning IP Blocks.
SCANNING_IP_BLOCKS: Final = "T1595.001"


DETECTIONS: Final[dict[str, Detection]] = {
    "vertical_scan": Detection(
        vertical_scan,
        "vertical_scan",
        "one source probing many ports of one host (failed attempts)",
        SCANNING_IP_BLOCKS,
    ),
    "horizontal_scan": Detection(
        horizontal_scan,
        "horizontal_scan",
        "one source probing one port across many hosts (failed attempts)",
        SCANNING_IP_BLOCKS,
    ),
    "block_scan": Detection(
        block_scan,
        "block_scan",
        "one source probing several ports on several hosts (failed attempts)",
        SCANNING_IP_BLOCKS,
    ),
    "flag_scan": Detection(
        flag_scan,
        "flag_scan",
        "TCP FIN, NULL or XMAS probes, which no stack sends to open a connection",
        SCANNING_IP_BLOCKS,
    ),
    "trw_scan": Detection(
        trw_scan,
        "trw",
        "most first contacts with new hosts fail (threshold random walk)",
        SCANNING_IP_BLOCKS,
    ),
}

# Families in their own modules register their detections there.
for _family in (dns, web, slow, internal, ids):
    DETECTIONS.update(_family.DETECTIONS)


def run_detections(
    tables: Mapping[str, ir.Table] | ir.Table,
    cfg: DetectConfig,
    names: Iterable[str] | None = None,
    site: SiteConfig | None = None,
) -> pa.Table:
    """Run the detections (all, or those in ``names``) and return their findings.

    Each detection is executed on its own (a failing one names itself), then
    the results are conformed to FINDINGS, concatenated and sorted by
    detection, source, window start and label (nulls last), so the same input
    gives the same table on every engine and every run. ``site`` (default
    ``SiteConfig()``) tells the detections that take it which ranges and zones
    are ours or internal.
    """
    selected = list(DETECTIONS) if names is None else list(names)
    unknown = [name for name in selected if name not in DETECTIONS]
    if unknown:
        raise ValueError(
            f"unknown detection(s) {', '.join(unknown)}; available: {', '.join(DETECTIONS)}"
        )
    if not isinstance(tables, Mapping):
        tables = {"network": tables}
    results = [RUN_FINDINGS.empty_table()]
    for name in selected:
        detection = DETECTIONS[name]
        if any(table not in tables for table in detection.inputs):
            continue  # e.g. no DNS table in this lake: nothing to look at
        inputs = [tables[table] for table in detection.inputs]
        settings = getattr(cfg, detection.config)
        if detection.site:
            expr = detection.function(*inputs, settings, site=site or SiteConfig())
        else:
            expr = detection.function(*inputs, settings)
        found = conform(expr.to_pyarrow(), FINDINGS)
        found = found.append_column(
            "source_table", pa.repeat(pa.scalar(detection.inputs[0]), found.num_rows)
        )
        results.append(conform(found, RUN_FINDINGS))
    findings = pa.concat_tables(results)
    # Arrow places nulls last by default (TRW's window_start, block_scan's label).
    return findings.sort_by([(key, "ascending") for key in SORT_KEYS])
