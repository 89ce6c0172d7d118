"""engine.results: expressions run in order, the next compiled while one runs."""

from __future__ import annotations

from pathlib import Path

import duckdb
import ibis
import pyarrow as pa
import pytest

from conftest import network_rows
from reconwatch.engine import Engine, results
from reconwatch.lake import Lake


def test_each_result_is_the_expressions_own_in_order(tmp_path: Path) -> None:
    lake = Lake(tmp_path / "lake")
    rows = [
        {"source_ip": f"198.51.100.{n % 7}", "destination_ip": "203.0.113.1", "seconds": n}
        for n in range(50)
    ]
    lake.write("network", network_rows(rows), "batch")
    engine = Engine(lake)
    try:
        network = engine.table("network")
        # An in-memory table too: Ibis registers it with DuckDB before the query.
        wanted = ibis.memtable(pa.table({"s": ["198.51.100.3", "198.51.100.5"]}))
        exprs = [
            network.group_by("source_ip").aggregate(n=network.count()).order_by("source_ip"),
            network.semi_join(wanted, network.source_ip == wanted.s).select("log_line"),
            network.filter(network.source_ip == "nobody"),
            wanted,
        ]
        got = list(results(exprs))
        assert len(got) == len(exprs)
        for expr, table in zip(exprs, got, strict=True):
            expected = expr.to_pyarrow()
            assert table.to_pylist() == expected.to_pylist()
            assert table.schema == expected.schema  # the types Ibis would give
        assert got[0].column("n").to_pylist() == [8, 7, 7, 7, 7, 7, 7]
        assert got[2].num_rows == 0
    finally:
        engine.close()


def test_a_failing_query_raises_after_the_results_before_it() -> None:
    ok = ibis.memtable(pa.table({"x": [1, 2]}))
    # Compiles, but fails in DuckDB: a text that is no integer.
    bad = ibis.memtable(pa.table({"t": ["not a number"]}))
    bad = bad.select(n=bad.t.cast("int64"))
    stream = results([ok, bad, ok])
    assert next(stream).column("x").to_pylist() == [1, 2]
    with pytest.raises(duckdb.Error):
        next(stream)


def test_a_failing_detection_notes_its_name(monkeypatch: pytest.MonkeyPatch) -> None:
    from reconwatch.config import DetectConfig
    from reconwatch.detect import DETECTIONS, run_detections

    detection = DETECTIONS["vertical_scan"]

    def broken(network: ibis.Table, *args: object, **kwargs: object) -> ibis.Table:
        # Compiles, but DuckDB cannot read a file name as a number.
        return network.select(source_ip=network.log_file.cast("int64").cast("string"))

    monkeypatch.setitem(DETECTIONS, "vertical_scan", detection._replace(function=broken))
    table = ibis.memtable(network_rows([{"source_ip": "198.51.100.7", "seconds": 1}]))
    with pytest.raises(duckdb.Error) as raised:
        run_detections(table, DetectConfig(), ["block_scan", "vertical_scan"])
    assert "in detection vertical_scan" in raised.value.__notes__
