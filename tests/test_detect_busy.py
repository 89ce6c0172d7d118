"""Detections handed only the busy sources' events find exactly what they find on all events.

``busy_inputs`` narrows a table once to the sources with at least the lowest
``Detection.least_events`` of the detections that take it; every bound must
be a true lower bound, or a finding would be lost. These tests compare whole
runs with and without narrowing, on the generated sample and under random
thresholds around the bounds, and pin the edges: a source with exactly the
bound, dark space judged from every source, the share limit.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any

import ibis
import pyarrow as pa
import pytest

from conftest import network_rows, sample_lake
from reconwatch import schema
from reconwatch.config import Config, DetectConfig
from reconwatch.detect import (
    BUSY_COLUMNS,
    DETECTIONS,
    NARROW_FLOOR,
    Busy,
    busy_inputs,
    run_detections,
)
from reconwatch.detect.portscan import busy_sources, busy_sources_read_once
from reconwatch.engine import Engine
from reconwatch.lake import Lake


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> tuple[Lake, Config]:
    return sample_lake(tmp_path_factory.mktemp("busy"), seed=5)


@pytest.fixture()
def engine(sample: tuple[Lake, Config]) -> Iterator[Engine]:
    lake, config = sample
    opened = Engine(lake, config.engine)
    yield opened
    opened.close()


#: The detections that may be narrowed (the others never see a narrowed table).
NARROWABLE = [name for name, d in DETECTIONS.items() if d.least_events is not None]


def both_ways(
    engine: Engine, config: Config, detect: DetectConfig
) -> tuple[pa.Table, pa.Table, int]:
    """Findings without and with narrowing (always narrowed), and the narrowed row count."""
    tables = engine.tables()
    whole = run_detections(tables, detect, NARROWABLE, site=config.site)
    with engine.busy_sources(share_limit=1.0) as narrow:
        busy = busy_inputs(tables, detect, NARROWABLE, narrow)
        narrowed = run_detections(tables, detect, NARROWABLE, site=config.site, busy=busy)
        rows = busy["network"].events.count().execute() if "network" in busy else -1
    return whole, narrowed, rows


def test_narrowing_changes_no_finding_on_the_generated_sample(
    engine: Engine, sample: tuple[Lake, Config]
) -> None:
    _, config = sample
    whole, narrowed, rows = both_ways(engine, config, config.detect)
    total = engine.tables()["network"].count().execute()
    assert 0 < rows < total  # the noise's one-off sources are left out
    detections = set(whole.column("detection").to_pylist())
    assert {"vertical_scan", "horizontal_scan", "trw_scan", "dark_space_probe"} <= detections
    assert {"web_wordlist_scan", "web_vhost_sweep"} <= detections  # http narrowed too
    assert narrowed.equals(whole)


def random_thresholds(rng: random.Random) -> DetectConfig:
    """Thresholds spread around NARROW_FLOOR and the sample's scanners' sizes."""
    low = partial(rng.randint, 2, 12)
    return DetectConfig.model_validate(
        {
            "vertical_scan": {"min_ports": low()},
            "horizontal_scan": {"min_hosts": rng.randint(2, 30)},
            "block_scan": {"min_hosts": low(), "min_ports": low(), "min_pairs": rng.randint(2, 45)},
            "flag_scan": {"min_packets": rng.randint(1, 6)},
            "trw": {"theta1": rng.choice([0.2, 0.3, 0.45])},
            "distributed_scan": {"min_member_hosts": rng.randint(2, 10), "min_sources": 2},
            "dark_space_probe": {"min_dark_hosts": rng.randint(1, 8)},
            "slow_scan": {
                "min_pairs": rng.randint(4, 40),
                "max_pairs_per_fast_window": rng.randint(5, 40),
            },
            "web_wordlist_scan": {"min_error_paths": low(), "min_errors": low()},
            "web_vhost_sweep": {"min_hosts": rng.randint(2, 12)},
            "traffic_spike": {
                "min_events": rng.randint(1, 120),
                "min_baseline_windows": rng.randint(3, 8),
                "min_ratio": rng.choice([1.0, 2.0]),
                "k": rng.choice([1.0, 6.0]),
            },
        }
    )


@pytest.mark.parametrize("seed", range(3))
def test_narrowing_changes_no_finding_under_random_thresholds(
    engine: Engine, sample: tuple[Lake, Config], seed: int
) -> None:
    _, config = sample
    detect = random_thresholds(random.Random(seed))
    whole, narrowed, rows = both_ways(engine, config, detect)
    assert whole.num_rows > 0 and rows > 0
    assert narrowed.equals(whole), seed


@pytest.mark.parametrize(("seed", "wider_bound"), [(None, 1), (None, 2), (0, 2), (1, 1)])
def test_extra_quiet_sources_in_the_narrowed_table_change_no_finding(
    engine: Engine, sample: tuple[Lake, Config], seed: int | None, wider_bound: int
) -> None:
    """The busy sources are picked by a hash of their address, so a quiet source
    sharing a hash with a busy one comes along: harmless, as are the sources
    between the bound narrowed with and a detection's own."""
    _, config = sample
    detect = config.detect if seed is None else random_thresholds(random.Random(seed))
    tables = engine.tables()
    whole = run_detections(tables, detect, NARROWABLE, site=config.site)
    with engine.busy_sources(share_limit=1.0) as narrow:
        wider = narrow(tables["network"], wider_bound)
        assert wider is not None
        strict = narrow(tables["network"], NARROW_FLOOR)
        assert strict is not None and wider.count().execute() > strict.count().execute()
        # Declared as narrowed with the floor, holding every source with
        # ``wider_bound`` events or more (1: every source).
        busy = {"network": Busy(NARROW_FLOOR, wider)}
        narrowed = run_detections(tables, detect, NARROWABLE, site=config.site, busy=busy)
    assert whole.num_rows > 0
    assert narrowed.equals(whole)


def lake_of(tmp_path: Path, rows: list[dict[str, Any]]) -> Lake:
    lake = Lake(tmp_path / "lake")
    lake.write("network", network_rows(rows), "test")
    return lake


def noise(count: int) -> list[dict[str, Any]]:
    """One failed probe each from ``count`` sources (the internet's background)."""
    return [
        {
            "source_ip": f"10.{n // 65536}.{n // 256 % 256}.{n % 256}",
            "destination_ip": "203.0.113.1",
        }
        for n in range(count)
    ]


def test_a_source_with_exactly_the_bound_is_still_found(tmp_path: Path) -> None:
    detect = DetectConfig()
    least = DETECTIONS["vertical_scan"].least_events
    assert least is not None and least(detect.vertical_scan) == detect.vertical_scan.min_ports
    ports = detect.vertical_scan.min_ports
    scanner = [
        {
            "source_ip": "198.51.100.9",
            "destination_ip": "203.0.113.7",
            "destination_port": p,
            "seconds": p,
        }
        for p in range(1, ports + 1)
    ]
    engine = Engine(lake_of(tmp_path, scanner + noise(200)))
    try:
        tables = engine.tables()
        busy = busy_inputs(tables, detect, None, engine.busy_events)
        assert busy["network"].least == NARROW_FLOOR  # TRW's 4 is the lowest bound
        assert busy["network"].events.count().execute() == ports
        found = run_detections(tables, detect, ["vertical_scan"], busy=busy)
    finally:
        engine.close()
    assert found.column("source_ip").to_pylist() == ["198.51.100.9"]


def test_dark_space_is_judged_from_every_source_when_narrowed(tmp_path: Path) -> None:
    """A host that only a one-packet client reached is alive, narrowed table or not."""
    prober = "198.51.100.66"
    dark = [f"203.0.113.{h}" for h in range(50, 55)]
    alive = "203.0.113.99"
    rows = [
        {"source_ip": prober, "destination_ip": host, "destination_port": 23, "seconds": n}
        for n, host in enumerate([*dark, alive])
    ]
    rows.append(
        {
            "source_ip": "192.0.2.200",
            "destination_ip": alive,
            "destination_port": 443,
            "event_action": "allowed",
            "connection_outcome": "succeeded",
            "seconds": 30,
        }
    )
    detect = DetectConfig()
    engine = Engine(lake_of(tmp_path, rows + noise(100)))
    try:
        tables = engine.tables()
        busy = busy_inputs(tables, detect, None, engine.busy_events)
        assert busy["network"].events.count().execute() == len(dark) + 1  # the client is gone
        found = run_detections(tables, detect, ["dark_space_probe"], busy=busy)
    finally:
        engine.close()
    assert found.column("source_ip").to_pylist() == [prober]
    assert found.column("targets").to_pylist() == [dark]


def test_busy_events_declines_when_busy_sources_hold_most_events(tmp_path: Path) -> None:
    rows = [
        {"source_ip": f"198.51.100.{s}", "destination_ip": "203.0.113.1", "destination_port": p}
        for s in range(1, 4)
        for p in range(10)
    ]
    engine = Engine(lake_of(tmp_path, rows + noise(20)))

    def temporary() -> int:
        query = "SELECT count(*) FROM duckdb_tables() WHERE temporary"
        count: int = engine.con.con.sql(query).fetchall()[0][0]
        return count

    try:
        network = engine.tables()["network"]
        with engine.busy_sources(share_limit=0.7) as narrow:
            narrowed = narrow(network, 4)
            assert narrowed is not None and narrowed.count().execute() == 30
            assert temporary() == 2  # the busy sources and their events
            # Declining drops its own count at once, and nothing made before it.
            assert engine.busy_events(network, 4) is None  # 30 of 50 events are busy
            assert temporary() == 2 and narrowed.count().execute() == 30
        assert temporary() == 0  # dropped on leaving
        with engine.busy_sources() as narrow:
            assert busy_inputs({"network": network}, DetectConfig(), None, narrow) == {}
        assert temporary() == 0
    finally:
        engine.close()


def test_one_detection_alone_is_not_narrowed(engine: Engine) -> None:
    calls: list[int] = []

    def narrow(table: Any, least: int) -> None:
        calls.append(least)

    tables = engine.tables()
    assert busy_inputs(tables, DetectConfig(), ["vertical_scan"], narrow) == {}
    assert calls == []
    busy_inputs(tables, DetectConfig(), ["vertical_scan", "horizontal_scan", "flag_scan"], narrow)
    assert calls == [DetectConfig().vertical_scan.min_ports]  # flag_scan's 3 is under the floor


@pytest.mark.parametrize("seed", range(5))
def test_busy_sources_read_once_keeps_the_same_rows_as_busy_sources(seed: int) -> None:
    rng = random.Random(seed)
    sources = [f"198.51.100.{n}" for n in range(12)] + [None]
    rows = [
        {
            "source_ip": rng.choice(sources),
            "destination_port": rng.randrange(1, 30),
            "seconds": rng.randrange(0, 3600),
        }
        for _ in range(rng.randrange(0, 120))
    ]
    events = ibis.memtable(network_rows(rows))
    keys = [(key, "ascending") for key in ("source_ip", "destination_port", "timestamp")]
    for minimum in (1, 3, 8, 20):
        plain = busy_sources(events, minimum).to_pyarrow().sort_by(keys)
        once = busy_sources_read_once(events, minimum).to_pyarrow().sort_by(keys)
        assert once.to_pylist() == plain.to_pylist()  # (nullability flags differ)
        assert None not in once.column("source_ip").to_pylist()


@pytest.mark.parametrize("name", [n for n, d in DETECTIONS.items() if d.least_events is not None])
def test_a_narrowed_detection_reads_only_the_busy_columns(name: str) -> None:
    """The narrowed table holds BUSY_COLUMNS only: every detection that may
    get it must be computable from them (Ibis checks columns as it builds)."""
    detection = DETECTIONS[name]
    table = detection.inputs[0]
    columns = BUSY_COLUMNS.get(table, tuple(schema.TABLES[table].names))
    fields = [schema.TABLES[table].field(column) for column in columns]
    narrowed = ibis.table(ibis.schema(pa.schema(fields)), name="busy")
    whole = ibis.table(ibis.schema(schema.TABLES[table]), name="whole")
    options: dict[str, Any] = {}
    if detection.site:
        options["site"] = Config().site
    if detection.whole:
        options["whole"] = whole
    cfg = getattr(DetectConfig(), detection.config)
    detection.function(narrowed, cfg, **options)  # raises on a column it lacks


def test_a_count_first_detection_gets_only_its_own_busy_sources(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``traffic_spike`` (``Detection.count_first``) is handed the narrowed table
    cut to the sources with its own ``least_events``, counted first; a source
    with exactly that many events still spikes."""
    detect = DetectConfig()
    cfg = detect.traffic_spike
    detection = DETECTIONS["traffic_spike"]
    assert detection.count_first and detection.least_events is not None
    least = detection.least_events(cfg)
    spiker = "198.51.100.7"
    # Six quiet 5-minute windows, then min_events in one: the fewest events a spike needs.
    target = {"destination_ip": "203.0.113.5", "destination_port": 80}
    quiet = [
        {"source_ip": spiker, "seconds": 300 * w, **target} for w in range(cfg.min_baseline_windows)
    ]
    burst = [
        {"source_ip": spiker, "seconds": 3000 + n % 60, **target} for n in range(cfg.min_events)
    ]
    assert len(quiet) + len(burst) == least
    # Sources busy enough for the narrowed table (NARROW_FLOOR), short of a spike's bound.
    medium = [
        {
            "source_ip": f"192.0.2.{s}",
            "destination_ip": "203.0.113.9",
            "destination_port": p,
            "seconds": 60 * p,
        }
        for s in range(1, 6)
        for p in range(1, NARROW_FLOOR + 6)
    ]
    seen: list[list[str]] = []
    real = detection.function

    def spy(network: Any, settings: Any, **options: Any) -> Any:
        seen.append(sorted(set(network.source_ip.execute())))
        return real(network, settings, **options)

    monkeypatch.setitem(DETECTIONS, "traffic_spike", detection._replace(function=spy))
    engine = Engine(lake_of(tmp_path, quiet + burst + medium + noise(300)))
    try:
        tables = engine.tables()
        busy = busy_inputs(tables, detect, None, engine.busy_events)
        assert busy["network"].least < least
        narrowed_sources = set(busy["network"].events.source_ip.execute())
        assert {spiker, "192.0.2.1"} <= narrowed_sources
        found = run_detections(tables, detect, ["traffic_spike"], busy=busy)
    finally:
        engine.close()
    assert seen == [[spiker]]
    assert found.column("source_ip").to_pylist() == [spiker]
    assert found.column("event_count").to_pylist() == [cfg.min_events]
