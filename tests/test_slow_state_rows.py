"""The slow-scan state: written a row per failed probe, kept as parts of cells."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
import ibis
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from conftest import network_rows
from reconwatch.config import Config, SlowScanConfig
from reconwatch.detect.base import RUN_FINDINGS
from reconwatch.detect.slow import (
    DERIVED,
    SLOW,
    STATE_KEYS,
    commit_slow_state,
    filled_state,
    findings_over_state,
    save_slow_state,
    slow_scan,
    slow_scan_with_state,
    write_state,
)
from reconwatch.engine import Engine, record_batches
from reconwatch.lake import Lake
from test_detect_slow import MIDNIGHT, SCANNER, at, findings, mixed_day, slow_probes, table

CFG = SlowScanConfig()


def lake_of(tmp_path: Path, batches: list[list[dict[str, Any]]]) -> Lake:
    """A lake whose network table holds one file per batch, in this order."""
    lake = Lake(tmp_path / "lake")
    for n, rows in enumerate(batches):
        lake.write("network", network_rows(rows), f"batch-{n:03d}")
    return lake


def cells(state: pa.Table) -> pa.Table:
    """The state's rows regrouped into cells (rows of one key are one cell), sorted;
    compact rows filled in first."""
    state = filled_state(ibis.memtable(state), CFG).to_pyarrow()
    grouped = state.group_by(list(STATE_KEYS)).aggregate(
        [("first_seen", "min"), ("last_seen", "max"), ("event_count", "sum")]
    )
    grouped = grouped.rename_columns(
        [*STATE_KEYS, "first_seen", "last_seen", "event_count"]
    ).select(state.column_names)
    return grouped.sort_by([(key, "ascending") for key in STATE_KEYS])


def in_batches(rows: list[dict[str, Any]], size: int) -> list[list[dict[str, Any]]]:
    return [rows[n : n + size] for n in range(0, len(rows), size)]


def split_cell_day() -> list[dict[str, Any]]:
    """mixed_day plus one cell whose two probes fall in different files (batches of 40)."""
    rows = mixed_day()
    twice = {"source_ip": "192.0.2.99", "destination_ip": "203.0.113.200", "destination_port": 8}
    return [{**twice, "seconds": MIDNIGHT + 1}, *rows, {**twice, "seconds": MIDNIGHT + 2}]


def test_the_state_is_a_row_per_failed_probe_and_regrouped_the_cells_of_the_whole(
    tmp_path: Path,
) -> None:
    rows = split_cell_day()
    lake = lake_of(tmp_path, in_batches(rows, 40))
    engine = Engine(lake)
    try:
        network = engine.table("network")
        compact = pq.read_table(write_state(network, tmp_path / "state.parquet", CFG))
        # A first run's rows are all its probes' own: compact, only what is
        # theirs (source, destination, time) written, the rest filled in on reading.
        for name in DERIVED:
            assert compact[name].null_count == compact.num_rows, name
        written = filled_state(ibis.memtable(compact), CFG).to_pyarrow()
        _, whole = slow_scan_with_state(table(rows), None, CFG)
        expected = cells(whole.to_pyarrow())  # the same probes, grouped into cells
        assert cells(written).equals(expected)
        # The cell of two probes (in the first and the last file) is two rows.
        split = pc.equal(written["source_ip"], "192.0.2.99")
        assert pc.sum(split).as_py() == 2
        assert written.num_rows == expected.num_rows + 1
        probes = network.filter(
            (network.connection_outcome == "failed") & network.destination_port.notnull()
        )
        assert written.num_rows == probes.count().to_pyarrow().as_py()
        # Each row is one event, its first and last time its own.
        assert set(written["event_count"].to_pylist()) == {1}
        assert written["first_seen"].equals(written["last_seen"])
    finally:
        engine.close()


def test_findings_over_a_written_state_are_those_of_the_whole(tmp_path: Path) -> None:
    rows = sorted(split_cell_day(), key=lambda r: r["seconds"])
    half = len(rows) // 2
    state_file = tmp_path / "state" / "slow_scan.parquet"
    first = Engine(lake_of(tmp_path / "first", in_batches(rows[:half], 30)))
    try:
        network = first.table("network")
        commit_slow_state(write_state(network, state_file, CFG), state_file)
    finally:
        first.close()
    second = Engine(lake_of(tmp_path / "second", in_batches(rows[half:], 30)))
    try:
        empty = pa.Table.from_pylist([], schema=RUN_FINDINGS)
        found = findings_over_state(second.table("network"), empty, state_file, CFG)
    finally:
        second.close()
    assert found.column("detection").to_pylist() == [SLOW]
    whole = findings(slow_scan(table(rows), CFG))
    assert [f["source_ip"] for f in whole] == [SCANNER]
    assert found.select(whole[0].keys()).to_pylist() == whole


def test_a_state_file_without_compact_rows_reads_the_same(tmp_path: Path) -> None:
    """A state file whose rows are all filled in (an older version's, or the
    watch's) gives the same findings and the same next state as a compact one."""
    rows = sorted(split_cell_day(), key=lambda r: r["seconds"])
    half = len(rows) // 2
    compact_file = tmp_path / "compact" / "slow_scan.parquet"
    filled_file = tmp_path / "filled" / "slow_scan.parquet"
    first = Engine(lake_of(tmp_path / "first", in_batches(rows[:half], 30)))
    try:
        commit_slow_state(write_state(first.table("network"), compact_file, CFG), compact_file)
    finally:
        first.close()
    _, filled = slow_scan_with_state(table(rows[:half]), None, CFG)
    save_slow_state(filled.to_pyarrow(), filled_file)
    assert pq.read_table(filled_file)["window_start"].null_count == 0
    compact = pq.read_table(compact_file)
    assert compact["window_start"].null_count == compact.num_rows > 0
    second = Engine(lake_of(tmp_path / "second", in_batches(rows[half:], 30)))
    empty = pa.Table.from_pylist([], schema=RUN_FINDINGS)
    try:
        network = second.table("network")
        found = [findings_over_state(network, empty, f, CFG) for f in (compact_file, filled_file)]
        states = [pq.read_table(write_state(network, f, CFG)) for f in (compact_file, filled_file)]
    finally:
        second.close()
    assert found[0].column("detection").to_pylist() == [SLOW]
    assert found[0].equals(found[1])
    assert cells(states[0]).equals(cells(states[1]))


def test_a_run_appends_its_cells_to_the_old_rows_without_regrouping_them() -> None:
    cfg = SlowScanConfig(state_windows=2)
    _, first = slow_scan_with_state(table(slow_probes(10)), None, cfg)
    old = first.to_pyarrow()
    # The same probes again, and one more day.
    again = slow_probes(10) + slow_probes(5, start=MIDNIGHT + 86400)
    _, second = slow_scan_with_state(table(again), old, cfg)
    new = second.to_pyarrow()
    assert new.num_rows == 2 * old.num_rows + 5  # the old rows, then the batch's cells
    assert new.slice(0, old.num_rows).equals(old)
    merged = cells(new)
    assert merged.num_rows == old.num_rows + 5
    assert set(pc.unique(merged["event_count"]).to_pylist()) == {1, 2}  # a day seen twice
    # The day after next forgets the first day, old rows and new alike.
    _, third = slow_scan_with_state(table(slow_probes(1, start=MIDNIGHT + 2 * 86400)), new, cfg)
    days = set(third.to_pyarrow().column("window_start").to_pylist())
    assert days == {at(MIDNIGHT + 86400), at(MIDNIGHT + 2 * 86400)}


def test_record_batches_streams_an_expression_over_an_in_memory_table() -> None:
    data = pa.table({"n": list(range(10))})
    expr = ibis.memtable(data)
    expr = expr.filter(expr.n % 2 == 0)
    reader = record_batches(expr, rows=2)
    batches = list(reader)
    assert all(batch.num_rows <= 2 for batch in batches)
    assert pa.Table.from_batches(batches).column("n").to_pylist() == [0, 2, 4, 6, 8]


def test_write_state_keeps_the_saved_rows_then_appends_the_new_probes(tmp_path: Path) -> None:
    state_file = tmp_path / "state" / "slow_scan.parquet"
    morning = Engine(lake_of(tmp_path / "morning", in_batches(slow_probes(30), 10)))
    try:
        commit_slow_state(write_state(morning.table("network"), state_file, CFG), state_file)
    finally:
        morning.close()
    saved = pq.read_table(state_file)
    assert saved.num_rows == 30
    evening = Engine(lake_of(tmp_path / "evening", in_batches(slow_probes(20, start=0), 10)))
    try:
        partial = write_state(evening.table("network"), state_file, CFG)
    finally:
        evening.close()
    written = pq.read_table(partial)
    assert written.num_rows == 50
    assert written.slice(0, 30).equals(saved)
    assert pq.read_table(state_file).equals(saved)  # the old file untouched until committed


def test_hunts_run_again_over_the_same_log_keep_the_state_within_bounds(tmp_path: Path) -> None:
    """Each run over the same lines adds a copy of their probes; once the rows
    pass twice those of the last regrouping, the old rows are regrouped."""
    from reconwatch.detect.slow import COMPACTED_KEY

    state_file = tmp_path / "state" / "slow_scan.parquet"
    engine = Engine(lake_of(tmp_path, in_batches(split_cell_day(), 40)))
    counts, compacted = [], []
    try:
        network = engine.table("network")
        for _ in range(8):
            partial = write_state(network, state_file, CFG)
            commit_slow_state(partial, state_file)
            meta = pq.read_metadata(state_file)
            counts.append(meta.num_rows)
            compacted.append(int(meta.metadata[COMPACTED_KEY.encode()]))
    finally:
        engine.close()
    first = counts[0]
    assert compacted[0] == first
    # Appended twice more, regrouped on the fourth run (3x > 2x), and so on.
    # Regrouped, the old rows are the cells (one cell is two probes), then
    # the run's probes follow.
    assert counts[:4] == [first, 2 * first, 3 * first, 2 * first - 1]
    assert max(counts) <= 5 * first
    assert compacted[3] == counts[3]
    # Whatever the rows, they are the cells of the day with eight times its events.
    _, once = slow_scan_with_state(table(split_cell_day()), None, CFG)
    expected = cells(once.to_pyarrow())
    merged = cells(pq.read_table(state_file))
    assert merged.drop_columns(["event_count"]).equals(expected.drop_columns(["event_count"]))
    assert merged["event_count"].to_pylist() == [8 * n for n in expected["event_count"].to_pylist()]


def test_a_failed_state_write_leaves_no_partial_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import reconwatch.detect.slow as slow_module

    state_file = tmp_path / "state" / "slow_scan.parquet"
    partial = state_file.with_name(state_file.name + ".partial")
    opened = []
    writer = slow_module.pq.ParquetWriter

    def watched(*args: Any, **kwargs: Any) -> Any:
        opened.append(partial.exists())
        made = writer(*args, **kwargs)
        opened.append(partial.exists())
        return made

    monkeypatch.setattr(slow_module.pq, "ParquetWriter", watched)
    engine = Engine(lake_of(tmp_path, in_batches(slow_probes(30), 10)))
    try:
        network = engine.table("network")
        # Only the rows' stream reads source_ip: it fails once the file is open.
        broken = network.mutate(source_ip=network.log_file.cast("int32").cast("string"))
        with pytest.raises(duckdb.Error):
            write_state(broken, state_file, CFG)
    finally:
        engine.close()
    assert opened == [False, True]  # the partial file was there when the stream failed
    assert not partial.exists()
    assert not state_file.exists()


def test_a_hunt_over_several_inputs_carries_the_state(tmp_path: Path) -> None:
    import reconwatch.hunt as hunt_module
    from test_hunt_slow_state import NOW, SOURCE, slow_lines

    out = tmp_path / "out"
    mornings = []
    for n in range(3):  # three inputs: three lake files
        path = tmp_path / f"morning-{n}.log"
        path.write_text(slow_lines(20 * n, 20))
        mornings.append(str(path))
    evening = tmp_path / "evening.log"
    evening.write_text(slow_lines(60, 60))
    hunt_module.hunt(mornings, Config(), out_dir=out, options=NOW)
    state = pq.read_table(out / hunt_module.SLOW_STATE_FILE)
    assert state.num_rows == 60 and set(state["source_ip"].to_pylist()) == {SOURCE}
    second = hunt_module.hunt([str(evening)], Config(), out_dir=out, options=NOW)
    (finding,) = [f for c in second.cases for f in c.findings if f.detection == "slow_scan"]
    assert finding.score == 120
