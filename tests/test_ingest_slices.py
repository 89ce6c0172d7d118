"""Slicing a batch over DuckDB's threads: how many slices each connection gets."""

from __future__ import annotations

import duckdb
import pyarrow as pa

from reconwatch.ingest.slices import MIN_SLICE_ROWS, run_sliced, threads


def test_each_connection_is_sliced_by_its_own_thread_setting() -> None:
    one = duckdb.connect(config={"threads": 1})
    three = duckdb.connect(config={"threads": 3})
    try:
        # Asked twice each, in turn: an answer is kept per connection, never shared.
        assert [threads(one), threads(three), threads(one), threads(three)] == [1, 3, 1, 3]
        lines = pa.table({"n": pa.array(range(3 * MIN_SLICE_ROWS), pa.int64())})
        sql = "SELECT sum(n) AS total, count(*) AS rows FROM lines_view"
        for con, slices in ((one, 1), (three, 3)):
            parts = run_sliced(con, sql, {}, lines, "lines_view")
            assert len(parts) == slices
            assert sum(part.column("rows")[0].as_py() for part in parts) == lines.num_rows
    finally:
        one.close()
        three.close()
