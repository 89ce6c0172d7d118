"""Low-and-slow scans, with state across runs; and the registry of this family.

A scanner that sends one probe every few minutes is invisible to the
5-minute detections (Zeek's simple-scan forgets a source after 15 idle
minutes; psad keeps state for 3600 s by default, or forever). ``slow_scan``
counts, per source and tumbling window of ``window_seconds`` (24 h, on UTC
day boundaries), the distinct host:port pairs probed with failed attempts; a
finding when they reach ``min_pairs`` (100) while no ``fast_window_seconds``
(5 min) window of that day held more than ``max_pairs_per_fast_window`` (15)
pairs -- a fast scan is the port-scan detections' finding, not this one's.

State across runs
-----------------
Hunts may run on successive batches of logs, and a slow scan spans batches.
Everything ``slow_scan`` needs is one *cell* per (source, long window, fast
window, destination host, destination port) with the first and last time and
the number of failed events (``SLOW_STATE``). Cells merge exactly: the union
of two batches' cells, regrouped (min, max, sum), is the cells of the whole.
So ``slow_scan_with_state(batch, state, cfg)`` returns the findings over
state + batch and the new state, and findings over two halves chained
through the state equal the findings over the whole (tested). The plain
``slow_scan`` registered in ``DETECTIONS`` is the same computation without
prior state.

The state's rows are *parts* of cells: rows with the same key are one cell
(first and last time their min and max, events their sum). A run writes its
batch's failed probes one row each (``_probe_rows``: a part of its cell,
first and last time its own, one event) after the old state's kept rows,
instead of grouping them into cells or regrouping the old rows: grouping
cost more than writing (20M generated lines, 11M failed probes: 10.3M cells
in 4.5 s, 11M rows in 2.7 s), since on internet noise nearly every probe is
a cell of its own. In the state file such a row is *compact*: the columns
that follow from its time (``DERIVED``: its windows, last time and count)
are null, and every reader fills them in (``filled_state``) before anything
else (the file of an older version, whose rows are all filled, reads the
same). Whatever reads the state regroups it (``_merge``) or
counts distinct pairs, which several rows of one cell do not change; and a
source's rows are still at least its cells, so counting rows bounds its
cells from above.

Wiring: ``findings_over_state`` replaces the ``slow_scan`` rows of the
runner's findings with those over state + batch, and ``write_state`` writes
the new state; the hunt keeps the state in
``OUT/state/slow_scan.parquet`` (when it runs on a fresh lake with ``--out``)
and saves it only after the whole hunt succeeded. When the hunt reads the
whole lake (``--lake``) no state is needed: the lake already holds every
batch. Re-running a hunt on the same batch counts its events twice in the
state, but not its host:port pairs, which are what the threshold counts; it
adds a copy of the batch's probes to the state's rows, which ``write_state``
regroups into cells once they pass twice the rows of their last regrouping. The state
keeps the newest ``state_windows`` (2) long windows; a batch older than that is counted
without the days already forgotten. Changing ``window_seconds`` or
``fast_window_seconds`` invalidates the state: delete the file.

The state holds a row per failed probe (a host:port pair's repeats within 5
minutes become one row once the state is regrouped), so a fast scanner's pairs are in it
too (a source is only known to be "not slow" once its day is over); it is
pruned by age, not by source.
"""

from __future__ import annotations

import datetime
import math
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any, Final

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.types as ir
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from reconwatch.config import SlowScanConfig
from reconwatch.detect.base import FINDINGS, RUN_FINDINGS, SORT_KEYS, Detection
from reconwatch.detect.campaign import DISTRIBUTED, distributed_least_events, distributed_scan
from reconwatch.detect.darkspace import DARK_SPACE, dark_least_events, dark_space_probe
from reconwatch.detect.portscan import FINDING_TYPES, as_findings, busy_sources, failed_probes
from reconwatch.detect.prefix import PREFIX_SCAN, ipv6_prefix_scan
from reconwatch.detect.volume import TRAFFIC_SPIKE, traffic_least_events, traffic_spike
from reconwatch.engine import record_batches
from reconwatch.schema import TIMESTAMP, conform

SLOW: Final = "slow_scan"

#: ATT&CK Active Scanning: Scanning IP Blocks; Gather Victim Network
#: Information: IP Addresses (a volume spike is mapping, not yet a scan).
SCANNING_IP_BLOCKS: Final = "T1595.001"
IP_ADDRESSES: Final = "T1590.005"

#: One row per source, long window, fast window and destination host:port.
SLOW_STATE: Final = pa.schema(
    [
        pa.field("source_ip", pa.string()),
        pa.field("window_start", TIMESTAMP),
        pa.field("fast_start", TIMESTAMP),
        pa.field("destination_ip", pa.string()),
        pa.field("destination_port", pa.int32()),
        pa.field("first_seen", TIMESTAMP),
        pa.field("last_seen", TIMESTAMP),
        pa.field("event_count", pa.int64()),
    ]
)

#: How far past the clock an event may stand for the newest day of the state
#: (as far as the watch's window lets one move its watermark).
FUTURE_SKEW: Final = datetime.timedelta(minutes=5)

STATE_KEYS: Final = (
    "source_ip",
    "window_start",
    "fast_start",
    "destination_ip",
    "destination_port",
)

#: The columns of a state row that the state file leaves null for a failed
#: probe's own row (a *compact* row): its windows follow from its time, its
#: last time is its first, its events are one. Each reader fills them in
#: (``filled_state``); a grouped cell's row has them all. Writing 11M probes:
#: the stream out of DuckDB 1.2 -> 0.6 s, the Parquet writing 1.25 -> 1.05 s.
DERIVED: Final = ("window_start", "fast_start", "last_seen", "event_count")

#: Parquet options of the state file: dictionaries for the destinations (a
#: network's own addresses and ports), statistics for the times (what the next
#: run filters by). Writing 10.3M rows: 1.65 s with pyarrow's defaults, 1.25 s.
STATE_WRITER: Final[dict[str, Any]] = {
    "use_dictionary": ["destination_ip", "destination_port"],
    "write_statistics": ["window_start", "fast_start", "first_seen", "last_seen"],
}

#: Rows per batch streamed to the state file: with the batch DuckDB makes
#: meanwhile and the one being written, about 60 MB outside DuckDB's budget.
STATE_BATCH_ROWS: Final = 1 << 18

#: The state file's metadata key for its rows right after they were last
#: regrouped into cells (``write_state``).
COMPACTED_KEY: Final = "reconwatch.compacted_rows"

#: The state file under a lake: ``LAKE/_state/slow_scan.parquet``.
STATE_FILE: Final = Path("_state") / "slow_scan.parquet"

_STATE_TYPES: Final[dict[str, dt.DataType]] = {
    field.name: dt.DataType.from_pyarrow(field.type) for field in SLOW_STATE
}


TIMESTAMP_TYPE: Final = FINDING_TYPES["window_start"]


def _window_start(epoch: ir.NumericValue, seconds: int) -> ir.TimestampValue:
    # Floor division before any cast (see portscan.window_slots).
    start: ir.TimestampValue = (
        ((epoch // seconds) * seconds).cast("int64").as_timestamp("s").cast(TIMESTAMP_TYPE)
    )
    return start


def slow_cells(network: ir.Table, cfg: SlowScanConfig) -> ir.Table:
    """The state cells (``SLOW_STATE`` columns) of the failed probes in ``network``."""
    probes = failed_probes(network)
    # Grouped by the fast window's number: one integer key instead of two
    # timestamps hashes and spills lighter (10M cells: 6.3 to 5.2 s under a
    # 512 MB budget). The long window is a multiple of the fast one (the
    # config checks it), so it follows from the fast window.
    fast = cfg.fast_window_seconds
    probes = probes.mutate(_fast=(probes.timestamp.epoch_seconds() // fast).cast("int64"))
    cells = probes.group_by(["source_ip", "_fast", "destination_ip", "destination_port"]).aggregate(
        first_seen=probes.timestamp.min(),
        last_seen=probes.timestamp.max(),
        event_count=probes.count(),
    )
    fast_epoch = cells._fast * fast
    cells = cells.mutate(
        window_start=_window_start(fast_epoch, cfg.window_seconds),
        fast_start=_window_start(fast_epoch, fast),
    )
    return _as_state(cells)


def _probe_rows(network: ir.Table, cfg: SlowScanConfig, *, compact: bool = False) -> ir.Table:
    """The failed probes in ``network`` as state rows, one each: a part of its
    cell (``SLOW_STATE`` columns; first and last time its own, one event).

    ``compact``: as the state file holds them, with only the probe's own
    columns and its time (``first_seen``); the rest is null, what every
    reader fills in (``filled_state``)."""
    probes = failed_probes(network)
    rows = probes.mutate(
        first_seen=probes.timestamp,
        **{name: ibis.null().cast(_STATE_TYPES[name]) for name in DERIVED},
    )
    return _as_state(rows) if compact else filled_state(rows, cfg)


def _window_of(state: ir.Table, cfg: SlowScanConfig, seconds: int) -> ir.TimestampValue:
    """The start of the ``seconds`` window of a compact row's probe (its ``first_seen``)."""
    fast = cfg.fast_window_seconds
    # Through the fast window's number, as ``slow_cells`` groups: the long
    # window is a multiple of the fast one (the config checks it).
    fast_epoch = (state.first_seen.epoch_seconds() // fast).cast("int64") * fast
    return _window_start(fast_epoch, seconds).cast(_STATE_TYPES["window_start"])


def filled_state(state: ir.Table, cfg: SlowScanConfig) -> ir.Table:
    """``state`` (``SLOW_STATE`` columns) with the null columns of compact rows
    (``DERIVED``) filled in from their ``first_seen``; other rows as they are."""
    return _as_state(
        state.mutate(
            window_start=state.window_start.coalesce(_window_of(state, cfg, cfg.window_seconds)),
            fast_start=state.fast_start.coalesce(_window_of(state, cfg, cfg.fast_window_seconds)),
            last_seen=state.last_seen.coalesce(state.first_seen),
            event_count=state.event_count.coalesce(ibis.literal(1, "int64")),
        )
    )


def _as_state(table: ir.Table) -> ir.Table:
    """``table`` with exactly the SLOW_STATE columns and types (so unions line up)."""
    return table.select(**{name: table[name].cast(dtype) for name, dtype in _STATE_TYPES.items()})


def _merge(cells: ir.Table, state: ir.Table) -> ir.Table:
    """Cells of two batches as the cells of both: regrouped by key (min, max, sum).
    Neither holds compact rows (``filled_state``)."""
    both = ibis.union(_as_state(cells), _as_state(state), distinct=False)
    merged = both.group_by(list(STATE_KEYS)).aggregate(
        first_seen=both.first_seen.min(),
        last_seen=both.last_seen.max(),
        # DuckDB sums BIGINT as HUGEINT (Parquet: DOUBLE), but Ibis types the
        # sum int64 and drops a cast to int64 as a no-op: go through a decimal.
        event_count=both.event_count.sum().cast("decimal(38, 0)").cast("int64"),
    )
    return _as_state(merged)


def _findings(cells: ir.Table, cfg: SlowScanConfig) -> ir.Table:
    """``slow_scan`` findings from state cells."""
    # A day of min_pairs pairs is at least that many cells of its source.
    cells = busy_sources(cells, cfg.min_pairs)
    cells = cells.mutate(
        _pair=cells.destination_ip + ":" + cells.destination_port.cast("string"),
    )
    day = ["source_ip", "window_start"]
    fast = cells.group_by([*day, "fast_start"]).aggregate(_pairs=cells._pair.nunique())
    fast_max = fast.group_by(day).aggregate(_fast_max=fast._pairs.max())
    totals = cells.group_by(day).aggregate(_pairs=cells._pair.nunique())
    slow = totals.join(fast_max, day)
    slow = slow.filter(
        (slow._pairs >= cfg.min_pairs) & (slow._fast_max <= cfg.max_pairs_per_fast_window)
    )
    chosen = cells.semi_join(slow, day)
    found = chosen.group_by(day).aggregate(
        first_seen=chosen.first_seen.min(),
        last_seen=chosen.last_seen.max(),
        event_count=chosen.event_count.sum(),
        target_count=chosen.destination_ip.nunique(),
        port_count=chosen.destination_port.nunique(),
        targets=chosen.destination_ip.collect(distinct=True).sort(),
        ports=chosen.destination_port.collect(distinct=True).sort(),
        score=chosen._pair.nunique(),
    )
    found = found.join(slow.select(*day, "_fast_max"), day)
    label = (
        "at most "
        + found._fast_max.cast("string")
        + " pairs per "
        + ibis.literal(str(cfg.fast_window_seconds))
        + " s"
    )
    return as_findings(found, SLOW, label=label)


def slow_scan(network: ir.Table, cfg: SlowScanConfig) -> ir.Table:
    """Low-and-slow scans over the given data only: ``slow_scan`` findings.

    One finding per source and long window (see the module docstring).
    Score: distinct failed host:port pairs in the window. Label: ``"at most N
    pairs per 300 s"``, the busiest fast window, which shows how far under
    the fast thresholds the scanner kept.
    """
    # A source with fewer failed probes than min_pairs has fewer cells: its
    # cells are never made (on internet noise nearly every source).
    return _findings(slow_cells(busy_sources(failed_probes(network), cfg.min_pairs), cfg), cfg)


def slow_least_events(cfg: SlowScanConfig) -> int:
    """Fewer events of one source than this make no ``slow_scan`` finding."""
    return cfg.min_pairs


def slow_scan_with_state(
    network: ir.Table,
    state: ir.Table | pa.Table | None,
    cfg: SlowScanConfig,
    *,
    busy: ir.Table | None = None,
    now: datetime.datetime | None = None,
) -> tuple[ir.Table, ir.Table]:
    """Findings over ``state`` + ``network``, and the state to keep for the next run.

    ``state`` is a previous run's new state (``SLOW_STATE`` columns; an Arrow
    table such as ``load_slow_state`` returns, or an Ibis table), or None on
    the first run. The new state is ``network``'s cells after the old
    state's rows (not regrouped with them, see the module docstring), in the
    newest ``cfg.state_windows`` long windows. ``busy``, if given, holds
    every event of ``network``'s sources with ``cfg.min_pairs`` events or
    more (``slow_least_events``; the hunt's narrowed table): without a state
    the findings are counted on it alone.
    ``now`` (the clock): events stamped more than ``FUTURE_SKEW`` past it do
    not count as the newest day, so one line with a forged future stamp
    cannot make the state forget the real days (its own cell is kept).
    """
    if isinstance(state, pa.Table):
        state = ibis.memtable(conform(state, SLOW_STATE))
    filled = filled_state(state, cfg) if state is not None else None
    findings = _findings_with_state(network, filled, cfg, busy)
    # The rows it returns are filled: a caller may read them as they are.
    rows = _state_rows(network, filled, cfg, _oldest_kept(network, filled, cfg, now))
    return findings, rows[0] if len(rows) == 1 else ibis.union(*rows, distinct=False)


def _findings_with_state(
    network: ir.Table, state: ir.Table | None, cfg: SlowScanConfig, busy: ir.Table | None
) -> ir.Table:
    """``slow_scan`` findings over ``state`` + ``network``.

    ``busy`` as for ``slow_scan_with_state``; ``state`` without compact rows
    (``filled_state``)."""
    if state is None:
        return slow_scan(network if busy is None else busy, cfg)
    # The findings need the cells of the sources that can reach min_pairs
    # only: a source has at most as many cells as it has failed probes in
    # this batch plus rows in the state. On internet noise that drops nearly
    # every source (20M generated lines: 10.3M cells, 4,602 of them from
    # sources with 100 or more), so the findings' distinct counts never see
    # the rest.
    probes = failed_probes(network)
    candidates = _candidates(probes, state, cfg.min_pairs)
    return _findings(
        _merge(
            slow_cells(probes.semi_join(candidates, "source_ip"), cfg),
            state.semi_join(candidates, "source_ip"),
        ),
        cfg,
    )


def _candidates(probes: ir.Table, state: ir.Table, least: int) -> ir.Table:
    """``source_ip`` of the sources with ``least`` failed probes and state rows or more."""
    source_type = _STATE_TYPES["source_ip"]
    rows = ibis.union(
        probes.select(source_ip=probes.source_ip.cast(source_type)),
        state.select(source_ip=state.source_ip.cast(source_type)),
        distinct=False,
    )
    counts = rows.group_by("source_ip").aggregate(_rows=rows.count())
    return counts.filter(counts._rows >= least).select("source_ip")


def _oldest_kept(
    network: ir.Table,
    state: ir.Table | None,
    cfg: SlowScanConfig,
    now: datetime.datetime | None,
) -> int | None:
    """Epoch seconds of the oldest long window the new state keeps; None when
    there is nothing to keep (no failed probe, no state row).

    The newest window is taken from the batch's failed probes and the old
    state beforehand (a plain maximum each): a bound the engine filters the
    cells by as it writes them, where a subquery over the cells would have it
    compute them twice or join every cell with it.
    """
    newest = [_seconds(failed_probes(network).timestamp.max())]
    if state is not None:
        newest.append(_seconds(state.window_start.max()))
    known = [seconds for seconds in newest if seconds is not None]
    if not known:
        return None
    latest = max(known)
    if now is not None:
        latest = min(latest, math.floor((now + FUTURE_SKEW).timestamp()))
    newest_window = latest // cfg.window_seconds * cfg.window_seconds
    return newest_window - (cfg.state_windows - 1) * cfg.window_seconds


def _state_rows(
    network: ir.Table,
    state: ir.Table | None,
    cfg: SlowScanConfig,
    oldest: int | None,
    *,
    regroup: bool = False,
    compact: bool = False,
) -> list[ir.Table]:
    """The new state's rows: the old state's (``regroup``: regrouped into their
    cells), then ``network``'s failed probes (``compact``: as compact rows), in
    the windows from ``oldest`` on. Old rows are kept as they are, compact or not."""
    rows = []
    if state is not None:
        filled = filled_state(state, cfg)
        rows.append(_merge(filled.limit(0), filled) if regroup else _as_state(state))
    rows.append(_probe_rows(network, cfg, compact=compact))
    if oldest is None:  # no probe and no state row: every table is empty
        return rows
    # A compact row's long window starts at ``oldest`` or later exactly when its
    # time does (``oldest`` starts a long window): no window arithmetic per row.
    return [
        table.filter(table.window_start.coalesce(table.first_seen).epoch_seconds() >= oldest)
        for table in rows
    ]


def _seconds(value: ir.TimestampScalar) -> int | None:
    """A time's whole epoch seconds (floored), None for no value (empty input).

    The engine's own epoch (as the windows use it), fetched as a double: Ibis
    types ``epoch_seconds`` int32, which would wrap after 2038 and truncate
    (not floor) before 1970 on its way to Python.
    """
    # Through Arrow: Ibis's ``execute`` converts through pandas.
    result = value.epoch_seconds().cast("float64").to_pyarrow().as_py()
    if result is None or result != result:  # None or NaN: an empty table's maximum
        return None
    return math.floor(float(result))


def _saved_state(network: ir.Table, state_file: Path) -> ir.Table | None:
    """The state file read by ``network``'s engine, None before the first run;
    its compact rows as written (``filled_state`` fills them in)."""
    if not state_file.exists():
        return None
    return ibis.get_backend(network).read_parquet(str(state_file))


def findings_over_state(
    network: ir.Table,
    findings: pa.Table,
    state_file: Path,
    cfg: SlowScanConfig,
    *,
    busy: ir.Table | None = None,
) -> pa.Table:
    """The runner's ``findings`` with ``slow_scan`` rows counted over the saved state too.

    Returns the findings (same columns and order as ``run_detections``).
    ``busy`` as for ``slow_scan_with_state`` (on the same engine as ``network``).
    """
    state = _saved_state(network, state_file)
    filled = filled_state(state, cfg) if state is not None else None
    slow = conform(_findings_with_state(network, filled, cfg, busy).to_pyarrow(), FINDINGS)
    slow = slow.append_column("source_table", pa.repeat(pa.scalar("network"), slow.num_rows))
    others = findings.filter(pc.not_equal(findings["detection"], SLOW))
    merged = pa.concat_tables([others, conform(slow, RUN_FINDINGS)])
    return merged.sort_by([(key, "ascending") for key in SORT_KEYS])


def write_state(
    network: ir.Table,
    state_file: Path,
    cfg: SlowScanConfig,
    *,
    now: datetime.datetime | None = None,
) -> Path:
    """The new state over the saved one and ``network``, written next to ``state_file``.

    Returns the partial file; the caller puts it in place with
    ``commit_slow_state`` once the hunt has succeeded, so a failed hunt
    leaves the old state in place (a failed write leaves no partial file
    either). ``now`` as for ``slow_scan_with_state``.

    The old state's rows are copied as they are, unless they have grown past
    twice the rows the state had when they were last regrouped (each run
    adds its failed probes, hunts run again over the same log a copy of them):
    then they are regrouped into their cells first. The file's metadata keeps
    that count (``COMPACTED_KEY``), so the state stays within a few times
    its cells plus the newest batch's probes, and a run regroups it once
    per doubling.

    The state holds a row per failed probe (about half the lines of a
    firewall log full of internet noise), so it never passes through Python
    whole: DuckDB streams it in batches of ``STATE_BATCH_ROWS`` to one
    Parquet file.
    """
    state = _saved_state(network, state_file)
    partial = _partial(state_file)
    partial.parent.mkdir(parents=True, exist_ok=True)
    filled = filled_state(state, cfg) if state is not None else None
    oldest = _oldest_kept(network, filled, cfg, now)
    old_count, compacted = _state_counts(state_file)
    regroup = state is not None and old_count > 2 * compacted
    rows = _state_rows(network, state, cfg, oldest, regroup=regroup, compact=True)
    try:
        # Each batch is written on a thread while DuckDB makes the next (4.7
        # to 4.1 s on 20M generated lines); one batch in flight at most. One
        # stream at a time: the old state's rows (if any), then the batch's.
        with (
            pq.ParquetWriter(partial, SLOW_STATE, **STATE_WRITER) as writer,
            ThreadPoolExecutor(1, thread_name_prefix="state-write") as pool,
        ):
            written: Future[None] | None = None
            count = 0
            for stream in (record_batches(t, STATE_BATCH_ROWS) for t in rows):
                for batch in stream:
                    batch_table = conform(pa.Table.from_batches([batch]), SLOW_STATE)
                    if written is not None:
                        written.result()
                    written = pool.submit(writer.write_table, batch_table)
                    count += batch.num_rows
            if written is not None:
                written.result()
            kept = count if state is None or regroup else compacted
            writer.add_key_value_metadata({COMPACTED_KEY: str(kept)})
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return partial


def _state_counts(state_file: Path) -> tuple[int, int]:
    """The state file's rows, and its rows when they were last regrouped
    (``COMPACTED_KEY``; a file without it was written regrouped)."""
    if not state_file.exists():
        return 0, 0
    meta = pq.read_metadata(state_file)
    compacted = (meta.metadata or {}).get(COMPACTED_KEY.encode())
    return meta.num_rows, meta.num_rows if compacted is None else int(compacted)


def commit_slow_state(partial: Path, state_file: Path) -> None:
    """Put the state ``write_state`` wrote in place (an atomic rename)."""
    partial.replace(state_file)


def _partial(path: Path) -> Path:
    return path.with_name(path.name + ".partial")


def state_path(lake_root: Path) -> Path:
    """Where a lake keeps the slow-scan state."""
    return lake_root / STATE_FILE


def load_slow_state(path: Path) -> pa.Table | None:
    """The saved state, or None when there is none yet (first run)."""
    if not path.exists():
        return None
    return conform(pq.read_table(path), SLOW_STATE)


def save_slow_state(state: pa.Table, path: Path) -> None:
    """Write the state atomically: a crash mid-write leaves the old state intact."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = _partial(path)
    pq.write_table(conform(state, SLOW_STATE), partial)
    partial.replace(path)


DETECTIONS: Final[dict[str, Detection]] = {
    DISTRIBUTED: Detection(
        distributed_scan,
        "distributed_scan",
        "several sources splitting one sweep of a /24 between them (coordinated scan)",
        SCANNING_IP_BLOCKS,
        least_events=distributed_least_events,
    ),
    PREFIX_SCAN: Detection(
        ipv6_prefix_scan,
        "ipv6_prefix_settings",
        "addresses of one IPv6 /64 splitting a port scan between them (address rotation)",
        SCANNING_IP_BLOCKS,
        site=True,
    ),
    SLOW: Detection(
        slow_scan,
        "slow_scan",
        "one source probing many host:port pairs over a day, under every fast threshold",
        SCANNING_IP_BLOCKS,
        least_events=slow_least_events,
    ),
    DARK_SPACE: Detection(
        dark_space_probe,
        "dark_space_probe",
        "one source probing addresses that nothing legitimate talks to (dark space)",
        SCANNING_IP_BLOCKS,
        site=True,
        least_events=dark_least_events,
        whole=True,
    ),
    TRAFFIC_SPIKE: Detection(
        traffic_spike,
        "traffic_spike",
        "a source's events per window far above its own median baseline",
        IP_ADDRESSES,
        least_events=traffic_least_events,
        count_first=True,
    ),
}
