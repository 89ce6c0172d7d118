"""Bounded memory: a hunt over more data than DuckDB's memory_limit completes by spilling.

800,000 netfilter events (210 MB of log text, about 160 MB as Arrow in
memory) are hunted with ``engine.memory_limit: 88MB`` and one thread. The same
detections with spilling forbidden (``max_temp_directory_size`` 0) run out of
memory, so the limit really binds and the hunt completes because DuckDB
spills to ``LAKE/_tmp``; the cases are those of an unbounded hunt.

(The detections drop sources that cannot reach their thresholds first, so
they need little memory: with a ``traffic_spike`` pre-filter that was tried,
72 MB no longer bound at 500,000 events and 66 MB ran out of memory even with
spilling, as some hash tables cannot spill; at 800,000 events 80-96 MB bound
and completed. 88 MB leaves room either way; see docs/benchmarks.md.)
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from reconwatch.config import Config, EngineConfig
from reconwatch.detect import DETECTIONS, run_detections
from reconwatch.engine import Engine
from reconwatch.generate import write_netfilter_lines
from reconwatch.hunt import hunt
from reconwatch.ingest.run import ingest
from reconwatch.lake import Lake

LINES = 800_000
LIMIT = "88MB"
SMALL = Config(engine=EngineConfig(memory_limit=LIMIT, threads=1))


@pytest.fixture(scope="module")
def big(tmp_path_factory: pytest.TempPathFactory) -> tuple[Lake, set[str]]:
    root = tmp_path_factory.mktemp("memory")
    log = root / "kern.log"
    truth = write_netfilter_lines(log, LINES, seed=2, scanners=8)
    assert log.stat().st_size > 120 * 1024 * 1024
    lake = Lake(root / "lake")
    run = ingest([str(log)], lake, Config())
    assert run.totals.parsed == LINES
    return lake, {a.address for a in truth.actors if a.expected_detections}


def test_the_limit_binds_without_spilling(big: tuple[Lake, set[str]]) -> None:
    lake, _ = big
    assert lake.read("network").nbytes > 96 * 1024 * 1024
    engine = Engine(lake, SMALL.engine)
    try:
        engine.con.raw_sql("SET max_temp_directory_size = '0KB'")
        with pytest.raises(duckdb.OutOfMemoryException, match="max_temp_directory_size"):
            run_detections(engine.tables(), SMALL.detect, list(DETECTIONS))
    finally:
        engine.close()


def test_a_hunt_over_more_than_the_limit_completes_by_spilling(
    big: tuple[Lake, set[str]], tmp_path: Path
) -> None:
    lake, scanners = big
    bounded = hunt(None, SMALL, lake_dir=lake.root)
    unbounded = hunt(None, Config(), lake_dir=lake.root)
    assert {s for c in bounded.cases for s in c.sources} >= scanners
    assert [(c.id, c.sources, c.detections, c.score) for c in bounded.cases] == [
        (c.id, c.sources, c.detections, c.score) for c in unbounded.cases
    ]
