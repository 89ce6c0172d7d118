"""Low-and-slow scans, the state carried across runs, and this family's registry."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import ibis
import pyarrow.compute as pc
import pytest

from conftest import BASE_TIME, network_rows, spark_sql_options
from reconwatch.config import (
    DarkSpaceConfig,
    DetectConfig,
    EngineConfig,
    SiteConfig,
    SlowScanConfig,
)
from reconwatch.detect import DETECTIONS as ALL_DETECTIONS
from reconwatch.detect import run_detections
from reconwatch.detect.darkspace import dark_space_probe
from reconwatch.detect.portscan import busy_sources
from reconwatch.detect.slow import (
    DETECTIONS,
    SLOW_STATE,
    STATE_KEYS,
    load_slow_state,
    save_slow_state,
    slow_least_events,
    slow_scan,
    slow_scan_with_state,
    state_path,
)
from reconwatch.engine import Engine
from reconwatch.lake import Lake
from test_detect_campaign import coordinated
from test_detect_darkspace import DARK, clients
from test_detect_darkspace import probes as dark_probes
from test_detect_volume import steady, window

SCANNER = "198.51.100.7"
CLIENT = "192.0.2.10"
#: Midnight UTC of BASE_TIME's day: the start of its 24-hour window.
MIDNIGHT = -36000


def at(seconds: float) -> dt.datetime:
    return BASE_TIME + dt.timedelta(seconds=seconds)


def table(rows: list[dict[str, Any]]) -> ibis.Table:
    return ibis.memtable(network_rows(rows))


def slow_probes(count: int, *, step: float = 600, start: float = MIDNIGHT) -> list[dict[str, Any]]:
    """``count`` failed probes of tcp/22, one new host each, ``step`` seconds apart."""
    return [
        {
            "source_ip": SCANNER,
            "destination_ip": f"203.0.113.{n % 250 + 1}",
            "destination_port": 22 + n // 250,
            "seconds": start + n * step,
        }
        for n in range(count)
    ]


def busy_client() -> list[dict[str, Any]]:
    """A client working all day: 1,440 connections to 50 servers, 1 in 20 failing."""
    return [
        {
            "source_ip": CLIENT,
            "destination_ip": f"203.0.113.{n % 50 + 1}",
            "destination_port": 443,
            "connection_outcome": "failed" if n % 20 == 0 else "succeeded",
            "event_action": "allowed",
            "seconds": MIDNIGHT + n * 60,
        }
        for n in range(1440)
    ]


def findings(expr: ibis.Table) -> list[dict[str, Any]]:
    return sorted(expr.to_pyarrow().to_pylist(), key=lambda f: (f["source_ip"], f["window_start"]))


def test_one_probe_every_10_minutes_for_a_day_is_one_exact_finding() -> None:
    result = findings(slow_scan(table(slow_probes(144) + busy_client()), SlowScanConfig()))
    assert result == [
        {
            "detection": "slow_scan",
            "source_ip": SCANNER,
            "window_start": at(MIDNIGHT),
            "first_seen": at(MIDNIGHT),
            "last_seen": at(MIDNIGHT + 143 * 600),
            "event_count": 144,
            "target_count": 144,
            "port_count": 1,
            "targets": sorted(f"203.0.113.{n}" for n in range(1, 145)),
            "ports": [22],
            "score": 144.0,
            "label": "at most 1 pairs per 300 s",
        }
    ]


def test_busy_benign_client_is_not_a_slow_scan() -> None:
    # 72 failures over the day, but to 50 pairs at most (the same servers).
    assert findings(slow_scan(table(busy_client()), SlowScanConfig())) == []
    assert findings(slow_scan(table(busy_client()), SlowScanConfig(min_pairs=50))) == []


def test_99_pairs_are_under_the_threshold() -> None:
    assert findings(slow_scan(table(slow_probes(99)), SlowScanConfig())) == []
    assert [f["score"] for f in findings(slow_scan(table(slow_probes(100)), SlowScanConfig()))] == [
        100.0
    ]


def test_a_fast_scan_is_not_a_slow_scan() -> None:
    # 144 pairs in 144 s: the horizontal scan's finding, not this one's.
    assert findings(slow_scan(table(slow_probes(144, step=1)), SlowScanConfig())) == []
    # 15 pairs per 5 minutes is the most a slow scan may show (one every 20 s).
    result = findings(slow_scan(table(slow_probes(144, step=20)), SlowScanConfig()))
    assert [f["label"] for f in result] == ["at most 15 pairs per 300 s"]
    assert findings(slow_scan(table(slow_probes(144, step=19)), SlowScanConfig())) == []


def test_days_are_separate_windows() -> None:
    # 144 probes from noon to noon: 72 on each UTC day, neither reaches 100.
    rows = slow_probes(144, start=MIDNIGHT + 43200)
    assert findings(slow_scan(table(rows), SlowScanConfig())) == []
    cfg = SlowScanConfig(min_pairs=72)
    assert [f["window_start"] for f in findings(slow_scan(table(rows), cfg))] == [
        at(MIDNIGHT),
        at(MIDNIGHT + 86400),
    ]


def mixed_day() -> list[dict[str, Any]]:
    """A slow scanner, a busy client, and a fast scanner, sorted by time."""
    fast = [{**row, "source_ip": "198.51.100.99"} for row in slow_probes(120, step=2, start=-3600)]
    rows = slow_probes(144) + busy_client() + fast
    return sorted(rows, key=lambda r: r["seconds"])


def test_state_across_two_runs_gives_the_findings_of_the_whole() -> None:
    rows = mixed_day()
    half = len(rows) // 2
    cfg = SlowScanConfig()
    first, state = slow_scan_with_state(table(rows[:half]), None, cfg)
    assert findings(first) == []  # 72 probes so far
    second, _ = slow_scan_with_state(table(rows[half:]), state.to_pyarrow(), cfg)
    whole = findings(slow_scan(table(rows), cfg))
    assert [f["source_ip"] for f in whole] == [SCANNER]
    assert findings(second) == whole


def test_state_survives_a_round_trip_through_parquet(tmp_path: Path) -> None:
    rows = mixed_day()
    third = len(rows) // 3
    cfg = SlowScanConfig()
    path = state_path(tmp_path / "lake")
    assert path == tmp_path / "lake" / "_state" / "slow_scan.parquet"
    assert load_slow_state(path) is None
    for batch in (rows[:third], rows[third : 2 * third], rows[2 * third :]):
        found, state = slow_scan_with_state(table(batch), load_slow_state(path), cfg)
        save_slow_state(state.to_pyarrow(), path)
    assert findings(found) == findings(slow_scan(table(rows), cfg))
    saved = load_slow_state(path)
    assert saved is not None
    assert saved.schema == SLOW_STATE
    assert not path.with_name("slow_scan.parquet.partial").exists()


def test_state_keeps_only_the_newest_windows() -> None:
    cfg = SlowScanConfig(state_windows=1)
    _, state = slow_scan_with_state(table(slow_probes(10)), None, cfg)
    _, state = slow_scan_with_state(table(slow_probes(10, start=MIDNIGHT + 86400)), state, cfg)
    days = set(state.to_pyarrow().column("window_start").to_pylist())
    assert days == {at(MIDNIGHT + 86400)}
    _, kept = slow_scan_with_state(
        table(slow_probes(10, start=MIDNIGHT + 86400)),
        None,
        SlowScanConfig(state_windows=2),
    )
    _, both = slow_scan_with_state(table(slow_probes(10)), kept, SlowScanConfig(state_windows=2))
    assert set(both.to_pyarrow().column("window_start").to_pylist()) == {
        at(MIDNIGHT),
        at(MIDNIGHT + 86400),
    }


def test_the_busy_sources_events_change_no_finding_and_no_state() -> None:
    # A slow scanner one probe short of min_pairs: not busy, but in the state.
    short = [{**row, "source_ip": "198.51.100.55"} for row in slow_probes(99, start=MIDNIGHT + 60)]
    rows = mixed_day() + short
    cfg = SlowScanConfig()
    whole_findings, whole_state = slow_scan_with_state(table(rows), None, cfg)
    busy = busy_sources(table(rows), slow_least_events(cfg))
    assert busy.source_ip.nunique().execute() == 3  # the scanners and the busy client
    found, state = slow_scan_with_state(table(rows), None, cfg, busy=busy)
    assert findings(found) == findings(whole_findings)
    assert [f["source_ip"] for f in findings(found)] == [SCANNER]
    keys = [(key, "ascending") for key in STATE_KEYS]
    # The state holds every source's cells, the busy table's or not.
    assert state.to_pyarrow().sort_by(keys).equals(whole_state.to_pyarrow().sort_by(keys))
    assert "198.51.100.55" in set(state.to_pyarrow().column("source_ip").to_pylist())


def test_a_batch_without_failed_probes_keeps_the_newest_windows_of_the_state() -> None:
    cfg = SlowScanConfig(state_windows=1)
    quiet = table(busy_client()).filter(lambda t: t.connection_outcome != "failed")
    found, state = slow_scan_with_state(quiet, None, cfg)
    assert findings(found) == [] and state.to_pyarrow().num_rows == 0
    _, saved = slow_scan_with_state(table(slow_probes(10, start=MIDNIGHT + 86400)), None, cfg)
    _, kept = slow_scan_with_state(quiet, saved.to_pyarrow(), cfg)
    assert kept.to_pyarrow().num_rows == 10
    assert set(kept.to_pyarrow().column("window_start").to_pylist()) == {at(MIDNIGHT + 86400)}


@pytest.mark.parametrize(
    "first_day",
    [
        dt.datetime(2040, 1, 1, tzinfo=dt.UTC),  # epoch seconds past 2**31
        dt.datetime(1969, 12, 29, tzinfo=dt.UTC),  # before 1970, fractional seconds
    ],
)
def test_the_state_keeps_the_newest_windows_whatever_the_epoch(first_day: dt.datetime) -> None:
    cfg = SlowScanConfig(state_windows=1)
    # Hourly from 00:59:59.5: the newest probe is half a second before the
    # last day's end (epoch -0.5 for 1969-12-31, whose floor is in that day).
    start = (first_day - BASE_TIME).total_seconds() + 3599.5
    rows = [p for day in range(3) for p in slow_probes(24, step=3600, start=start + day * 86400)]
    _, state = slow_scan_with_state(table(rows), None, cfg)
    kept = state.to_pyarrow()
    assert kept.num_rows == 24  # the last day's cells only
    assert set(kept.column("window_start").to_pylist()) == {first_day + dt.timedelta(days=2)}


def test_a_forged_future_stamp_does_not_make_the_state_forget_the_real_days() -> None:
    cfg = SlowScanConfig(state_windows=2)
    rows = slow_probes(10) + slow_probes(10, start=MIDNIGHT + 86400)
    forged = (dt.datetime(2039, 6, 1, tzinfo=dt.UTC) - BASE_TIME).total_seconds()
    rows += [{**rows[0], "seconds": forged}]
    now = at(MIDNIGHT + 86400 + 3600)
    _, state = slow_scan_with_state(table(rows), None, cfg, now=now)
    days = set(state.to_pyarrow().column("window_start").to_pylist())
    # The two real days stay; the forged day's cell too (it is no reason to drop anything).
    assert days == {at(MIDNIGHT), at(MIDNIGHT + 86400), dt.datetime(2039, 6, 1, tzinfo=dt.UTC)}
    # Without the clock the forged day would be the newest and the only one kept.
    _, blind = slow_scan_with_state(table(rows), None, cfg)
    assert set(blind.to_pyarrow().column("window_start").to_pylist()) == {
        dt.datetime(2039, 6, 1, tzinfo=dt.UTC)
    }


def test_windows_must_nest() -> None:
    with pytest.raises(ValueError, match="multiple of fast_window_seconds"):
        SlowScanConfig(window_seconds=1000, fast_window_seconds=300)


def test_family_registry_is_merged_with_configs_and_techniques() -> None:
    assert list(DETECTIONS) == [
        "distributed_scan",
        "ipv6_prefix_scan",
        "slow_scan",
        "dark_space_probe",
        "traffic_spike",
    ]
    cfg = DetectConfig()
    for name, detection in DETECTIONS.items():
        assert ALL_DETECTIONS[name] is detection
        assert hasattr(cfg, detection.config)
        assert detection.description and "\n" not in detection.description
    assert {name: d.technique for name, d in DETECTIONS.items()} == {
        "distributed_scan": "T1595.001",
        "ipv6_prefix_scan": "T1595.001",
        "slow_scan": "T1595.001",
        "dark_space_probe": "T1595.001",
        "traffic_spike": "T1590.005",
    }


def spark_sql(expr: ibis.Table, monkeypatch: pytest.MonkeyPatch) -> str:
    """``expr`` in Spark SQL, without pyspark installed (see test_detect_runner.py)."""
    spark_sql_options(monkeypatch)
    sql: str = ibis.to_sql(expr, dialect="pyspark")
    return sql


@pytest.mark.parametrize("name", list(DETECTIONS))
def test_each_detection_compiles_for_spark(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    detection = DETECTIONS[name]
    cfg = getattr(DetectConfig(), detection.config)
    options = {"site": SiteConfig(home_networks=["2001:db8:100::/48"])} if detection.site else {}
    sql = spark_sql(detection.function(table(mixed_day()), cfg, **options), monkeypatch)
    assert "SELECT" in sql
    # The portable subset: no regex functions, no engine-specific percentiles.
    for banned in ("REGEXP", "RLIKE", "PERCENTILE", "MEDIAN(", "APPROX_"):
        assert banned not in sql.upper()


def test_stateful_slow_scan_and_listed_dark_ranges_compile_for_spark(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    cfg = SlowScanConfig()
    _, state = slow_scan_with_state(table(mixed_day()), None, cfg)
    findings_expr, new_state = slow_scan_with_state(table(mixed_day()), state.to_pyarrow(), cfg)
    assert "SELECT" in spark_sql(findings_expr, monkeypatch)
    assert "SELECT" in spark_sql(new_state, monkeypatch)
    dark = DarkSpaceConfig(known_dark=["203.0.113.96/28"], monitored=["203.0.113.0/24"])
    assert "SELECT" in spark_sql(dark_space_probe(table(mixed_day()), dark), monkeypatch)


def family_day() -> list[dict[str, Any]]:
    """Something for each detection of the family, from distinct sources."""
    rows = coordinated() + slow_probes(144)  # 198.51.100.1-4; 198.51.100.7
    rows += clients() + dark_probes(DARK, source="198.51.100.66")
    rows += steady(10, source="192.0.2.77") + window(8, 150, source="192.0.2.77", hosts=20)
    return rows


def test_the_family_through_the_runner_is_exact_and_order_independent() -> None:
    rows = family_day()
    names = list(DETECTIONS)
    forward = run_detections(table(rows), DetectConfig(), names=names)
    backward = run_detections(table(rows[::-1]), DetectConfig(), names=names)
    assert forward.equals(backward)
    pairs = list(
        zip(
            forward.column("detection").to_pylist(),
            forward.column("source_ip").to_pylist(),
            strict=True,
        )
    )
    # The campaign member covering .64-.127 and the slow scanner also probed
    # the dark .100-.105 (seen unanswered by Zeek): dark-space evidence too.
    assert pairs == [
        ("dark_space_probe", "198.51.100.2"),
        ("dark_space_probe", "198.51.100.66"),
        ("dark_space_probe", "198.51.100.7"),
        ("distributed_scan", "198.51.100.1"),
        ("distributed_scan", "198.51.100.2"),
        ("distributed_scan", "198.51.100.3"),
        ("distributed_scan", "198.51.100.4"),
        ("slow_scan", "198.51.100.7"),
        ("traffic_spike", "192.0.2.77"),
    ]


def test_the_family_and_the_state_are_identical_on_spark(tmp_path: Path) -> None:
    # The conformance suite's generated sample trips only dark_space_probe of
    # this family; this day trips all four, and the state, on both engines.
    lake = Lake(tmp_path / "lake")
    lake.write("network", network_rows(family_day()), "family")
    duck = Engine(lake)
    spark = Engine(lake, EngineConfig(kind="spark", spark_master="local[2]"))
    try:
        names = list(DETECTIONS)
        expected = run_detections(duck.tables(), DetectConfig(), names)
        assert expected.num_rows == 9
        assert run_detections(spark.tables(), DetectConfig(), names).equals(expected)
        cfg = SlowScanConfig()
        _, duck_state = slow_scan_with_state(duck.table("network"), None, cfg)
        state = duck_state.to_pyarrow()
        # The same day again over its own state: counts double, on both engines.
        on_duck, duck_twice = slow_scan_with_state(duck.table("network"), state, cfg)
        on_spark, spark_state = slow_scan_with_state(spark.table("network"), state, cfg)
        assert findings(on_spark) == findings(on_duck)
        assert len(findings(on_duck)) == 1
        keys = [(key, "ascending") for key in STATE_KEYS]
        twice = duck_twice.to_pyarrow().sort_by(keys)
        assert spark_state.to_pyarrow().sort_by(keys).equals(twice)
        assert pc.sum(twice["event_count"]).as_py() == 2 * pc.sum(state["event_count"]).as_py()
        dark = DarkSpaceConfig(known_dark=["203.0.113.96/28"], monitored=["203.0.113.0/24"])
        assert findings(dark_space_probe(spark.table("network"), dark)) == findings(
            dark_space_probe(duck.table("network"), dark)
        )
    finally:
        duck.close()
        spark.close()
