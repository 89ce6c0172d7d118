"""The detections, by name, and the runner that executes them all.

Each detection is an Ibis expression builder ``function(network, cfg)`` that
returns the FINDINGS columns (see ``reconwatch.detect.base``). The registry
says which config section feeds it, what it looks for in one line, and the
ATT&CK technique its findings support; the runner executes every detection
on the engine the network table is bound to and returns one Arrow table.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any, Final, NamedTuple

import ibis.expr.types as ir
import pyarrow as pa

from reconwatch.config import DetectConfig, SiteConfig
from reconwatch.detect import dns, ids, internal, slow, web
from reconwatch.detect.base import FINDINGS, RUN_FINDINGS, SORT_KEYS, Detection
from reconwatch.detect.portscan import (
    block_least_events,
    block_scan,
    busy_sources,
    horizontal_least_events,
    horizontal_scan,
    vertical_least_events,
    vertical_scan,
)
from reconwatch.detect.scantype import flag_least_events, flag_scan
from reconwatch.detect.trw import trw_least_events, trw_scan
from reconwatch.engine import results
from reconwatch.schema import conform

#: ATT&CK Active Scanning: Scanning IP Blocks.
SCANNING_IP_BLOCKS: Final = "T1595.001"


DETECTIONS: Final[dict[str, Detection]] = {
    "vertical_scan": Detection(
        vertical_scan,
        "vertical_scan",
        "one source probing many ports of one host (failed attempts)",
        SCANNING_IP_BLOCKS,
        least_events=vertical_least_events,
    ),
    "horizontal_scan": Detection(
        horizontal_scan,
        "horizontal_scan",
        "one source probing one port across many hosts (failed attempts)",
        SCANNING_IP_BLOCKS,
        least_events=horizontal_least_events,
    ),
    "block_scan": Detection(
        block_scan,
        "block_scan",
        "one source probing several ports on several hosts (failed attempts)",
        SCANNING_IP_BLOCKS,
        least_events=block_least_events,
    ),
    "flag_scan": Detection(
        flag_scan,
        "flag_scan",
        "TCP FIN, NULL or XMAS probes, which no stack sends to open a connection",
        SCANNING_IP_BLOCKS,
        least_events=flag_least_events,
    ),
    "trw_scan": Detection(
        trw_scan,
        "trw",
        "most first contacts with new hosts fail (threshold random walk)",
        SCANNING_IP_BLOCKS,
        least_events=trw_least_events,
    ),
}

# Families in their own modules register their detections there.
for _family in (dns, web, slow, internal, ids):
    DETECTIONS.update(_family.DETECTIONS)


#: Detections that need fewer events of a source than this take the whole
#: table: on internet-facing logs the sources of one to three packets are most
#: of the events, and a lower bar would keep most of the table.
NARROW_FLOOR: Final = 4

#: The columns the narrowed detections read, per table: the narrowed table
#: holds these only (20M generated lines: copying every column of the busy
#: sources' events took 4.3 s, these 2.8-3.2 s). A detection reading another
#: column of a narrowed table fails as Ibis builds it
#: (tests/test_detect_busy.py builds each one on these columns).
BUSY_COLUMNS: Final[dict[str, tuple[str, ...]]] = {
    "network": (
        "timestamp",
        "source_ip",
        "destination_ip",
        "destination_port",
        "connection_outcome",
        "network_transport",
        "log_file",
        "log_line",
        "tcp_flags",
    ),
    "http": (
        "timestamp",
        "source_ip",
        "url_domain",
        "url_path",
        "http_response_status_code",
    ),
}

#: ``narrow(table, least)``: the events of ``table``'s sources with at least
#: ``least`` events, ready to be read many times (``Engine.busy_events``), or
#: None when that would not pay.
Narrower = Callable[[ir.Table, int], ir.Table | None]


class Busy(NamedTuple):
    """A table narrowed to its busy sources' events, shared by the detections
    whose ``least_events`` is at least ``least``."""

    least: int
    events: ir.Table


def _selected(names: Iterable[str] | None) -> list[str]:
    selected = list(DETECTIONS) if names is None else list(names)
    unknown = [name for name in selected if name not in DETECTIONS]
    if unknown:
        raise ValueError(
            f"unknown detection(s) {', '.join(unknown)}; available: {', '.join(DETECTIONS)}"
        )
    return selected


def busy_inputs(
    tables: Mapping[str, ir.Table],
    cfg: DetectConfig,
    names: Iterable[str] | None,
    narrow: Narrower,
) -> dict[str, Busy]:
    """Per input table, the events of its busy sources, for ``run_detections(busy=)``.

    Most detections cannot report a source with only a few events (their
    ``Detection.least_events``), and each of them used to count every
    source's events to drop the rest. Done once for all of them -- with the
    lowest of their bounds, ``NARROW_FLOOR`` at least -- the table they read
    is a tenth of the input on an internet-facing firewall (2M generated
    events: 370,000 from sources with 4 or more). Never a result change: a
    detection gets the narrowed table only when its own bound is at least
    the one narrowed with. A table is narrowed only for two detections or
    more (one does the same count itself), and ``narrow`` may decline.
    """
    bounds: dict[str, list[int]] = {}
    for name in _selected(names):
        detection = DETECTIONS[name]
        if detection.least_events is None or any(t not in tables for t in detection.inputs):
            continue
        least = detection.least_events(getattr(cfg, detection.config))
        if least >= NARROW_FLOOR:
            bounds.setdefault(detection.inputs[0], []).append(least)
    busy: dict[str, Busy] = {}
    for table, leasts in bounds.items():
        if len(leasts) >= 2:
            source = tables[table]
            if table in BUSY_COLUMNS:
                source = source.select(*BUSY_COLUMNS[table])
            events = narrow(source, min(leasts))
            if events is not None:
                busy[table] = Busy(min(leasts), events)
    return busy


def narrowed_events(busy: Mapping[str, Busy] | None, table: str, least: int) -> ir.Table | None:
    """``busy``'s events of ``table`` when they hold every source with ``least``
    events or more (it was narrowed with a bound no higher), else None."""
    narrowed = (busy or {}).get(table)
    if narrowed is None or least < narrowed.least:
        return None
    return narrowed.events


def run_detections(
    tables: Mapping[str, ir.Table] | ir.Table,
    cfg: DetectConfig,
    names: Iterable[str] | None = None,
    site: SiteConfig | None = None,
    *,
    busy: Mapping[str, Busy] | None = None,
) -> pa.Table:
    """Run the detections (all, or those in ``names``) and return their findings.

    Each detection is executed on its own (a failing one's error notes its name), then
    the results are conformed to FINDINGS, concatenated and sorted by
    detection, source, window start and label (nulls last), so the same input
    gives the same table on every engine and every run. ``site`` (default
    ``SiteConfig()``) tells the detections that take it which ranges and zones
    are ours or internal. ``busy`` (from ``busy_inputs``) gives the detections
    that can take it the narrowed table instead of the whole one.
    """
    selected = _selected(names)
    if not isinstance(tables, Mapping):
        tables = {"network": tables}
    planned: list[tuple[str, str, ir.Table]] = []
    for name in selected:
        detection = DETECTIONS[name]
        if any(table not in tables for table in detection.inputs):
            continue  # e.g. no DNS table in this lake: nothing to look at
        inputs = [tables[table] for table in detection.inputs]
        settings = getattr(cfg, detection.config)
        options: dict[str, Any] = {}
        if detection.site:
            options["site"] = site or SiteConfig()
        narrowed = None
        if detection.least_events is not None:
            least = detection.least_events(settings)
            narrowed = narrowed_events(busy, detection.inputs[0], least)
            if narrowed is not None and detection.count_first:
                narrowed = busy_sources(narrowed, least)
        if narrowed is not None:
            if detection.whole:
                options["whole"] = inputs[0]
            inputs[0] = narrowed
        expr = detection.function(*inputs, settings, **options)
        planned.append((name, detection.inputs[0], expr))
    found = [RUN_FINDINGS.empty_table()]
    stream = results([expr for _, _, expr in planned])
    for name, table, _ in planned:
        try:
            result = next(stream)
        except Exception as exc:
            exc.add_note(f"in detection {name}")
            raise
        rows = conform(result, FINDINGS)
        rows = rows.append_column("source_table", pa.repeat(pa.scalar(table), rows.num_rows))
        found.append(conform(rows, RUN_FINDINGS))
    findings = pa.concat_tables(found)
    # Arrow places nulls last by default (TRW's window_start, block_scan's label).
    return findings.sort_by([(key, "ascending") for key in SORT_KEYS])
