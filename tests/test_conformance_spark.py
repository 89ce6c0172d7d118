"""Conformance: every detection gives identical findings on DuckDB and on Spark.

Spark runs in local mode (``local[2]``, Java 17), over the same Parquet lake:
a generated sample with all the planted actors, and the real CrowdSec hub
netfilter samples. Where a detection is not portable, the detection changes,
not this test.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from conftest import network_rows, sample_lake
from reconwatch.config import Config, EngineConfig, load_config
from reconwatch.detect import DETECTIONS, busy_inputs, run_detections
from reconwatch.engine import Engine
from reconwatch.generate import generate_sample
from reconwatch.hunt import hunt
from reconwatch.ingest.run import IngestOptions, ingest
from reconwatch.lake import Lake

SPARK = EngineConfig(kind="spark", spark_master="local[2]")


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> tuple[Lake, Config]:
    return sample_lake(tmp_path_factory.mktemp("conformance"), seed=11)


@pytest.fixture(scope="module")
def spark_engine(generated: tuple[Lake, Config]) -> Iterator[Engine]:
    lake, _ = generated
    engine = Engine(lake, SPARK)
    yield engine
    engine.close()


def findings_on(engine: Engine, config: Config, names: list[str] | None = None) -> pa.Table:
    """The findings; on DuckDB from the busy sources' events wherever a detection
    can take them (Spark never narrows), so both ways are compared as well."""
    tables = engine.tables()
    with engine.busy_sources(share_limit=1.0) as narrow:
        busy = busy_inputs(tables, config.detect, names, narrow)
        return run_detections(tables, config.detect, names, busy=busy)


def test_every_detection_is_identical_on_both_engines(
    generated: tuple[Lake, Config], spark_engine: Engine
) -> None:
    lake, config = generated
    duck = Engine(lake, config.engine)
    try:
        expected = findings_on(duck, config)
    finally:
        duck.close()
    got = findings_on(spark_engine, config)
    assert expected.num_rows > 0
    assert {row["detection"] for row in expected.to_pylist()} >= {
        "vertical_scan", "horizontal_scan", "block_scan", "flag_scan", "trw_scan",
        "dns_bruteforce", "ptr_sweep", "zone_transfer", "web_wordlist_scan",
        "web_scanner_user_agent", "web_sensitive_path_probe", "dark_space_probe",
    }  # fmt: skip
    for name in DETECTIONS:
        mine = _rows(got, name)
        theirs = _rows(expected, name)
        assert mine == theirs, f"{name} differs between Spark and DuckDB"


def test_real_crowdsec_samples_conform(crowdsec_hub: Path, tmp_path: Path) -> None:
    lake = Lake(tmp_path / "lake")
    samples = [crowdsec_hub / d for d in ("iptables-scan-multi-port", "iptables-logs",
                                          "proxmox-iptables-logs")]  # fmt: skip
    ingest([str(p) for p in samples], lake, Config(),
           IngestOptions(now=dt.datetime(2026, 11, 28, tzinfo=dt.UTC)))  # fmt: skip
    duck = Engine(lake)
    spark = Engine(lake, SPARK)
    try:
        expected, got = findings_on(duck, Config()), findings_on(spark, Config())
    finally:
        duck.close()
        spark.close()
    assert expected.num_rows >= 2
    assert got.to_pylist() == expected.to_pylist()


def test_real_crowdsec_web_samples_conform(crowdsec_hub: Path, tmp_path: Path) -> None:
    # The web path lists (sensitive-path families, product fingerprints, plugin
    # trees) on real probes: the generated sample plants no technology prober.
    lake = Lake(tmp_path / "lake")
    names = ("http-admin-interface-probing", "http-technology-probing", "http-wordpress-scan")
    ingest([str(crowdsec_hub / name) for name in names], lake, Config())
    web = ["web_sensitive_path_probe", "web_technology_probe", "web_wordlist_scan"]
    duck = Engine(lake)
    spark = Engine(lake, SPARK)
    try:
        expected, got = findings_on(duck, Config(), web), findings_on(spark, Config(), web)
    finally:
        duck.close()
        spark.close()
    assert {row["detection"] for row in expected.to_pylist()} == {
        "web_sensitive_path_probe", "web_technology_probe"
    }  # fmt: skip
    assert got.to_pylist() == expected.to_pylist()


def test_a_whole_hunt_on_spark_gives_the_same_cases(tmp_path: Path) -> None:
    generate_sample(tmp_path / "sample", size=3000, seed=5)
    config = load_config(tmp_path / "sample" / "reconwatch.yaml")
    spark = config.model_copy(update={"engine": SPARK})
    inputs = [str(tmp_path / "sample")]
    on_duck = hunt(inputs, config)
    on_spark = hunt(inputs, spark)
    assert [_case(c) for c in on_spark.cases] == [_case(c) for c in on_duck.cases]
    assert on_duck.cases


def _rows(table: pa.Table, detection: str) -> list[dict[str, Any]]:
    return [row for row in table.to_pylist() if row["detection"] == detection]


def _case(case: Any) -> tuple[Any, ...]:
    return (case.id, case.sources, case.detections, case.escalate, case.severity, case.score)


def test_copies_in_two_inputs_are_left_out_alike(tmp_path: Path) -> None:
    """kern.log and syslog holding the same packets: Spark drops the same rows."""
    line = (
        "Sep 30 10:00:{s:02d} fw kernel: [1.{s}] UFW BLOCK IN=eth0 OUT= MAC=00:00 "
        "SRC=198.51.100.7 DST=203.0.113.10 LEN=40 TOS=0x00 PREC=0x00 TTL=50 ID={s} PROTO={p}"
    )
    tcp = " SPT=40000 DPT={d} WINDOW=1024 RES=0x00 SYN URGP=0"
    kern = tmp_path / "kern.log"
    # ICMP rows have no ports: the twins must match on nulls too.
    lines = [line.format(s=s, p="TCP") + tcp.format(d=s + 1) for s in range(30)]
    lines += [line.format(s=s, p="ICMP") + " TYPE=8 CODE=0 ID=1 SEQ=1" for s in range(30, 40)]
    kern.write_text("\n".join(lines) + "\n")
    syslog = tmp_path / "syslog"
    syslog.write_text("\n".join(lines[5:]) + "\n")
    lake = Lake(tmp_path / "lake")
    ingest([str(kern), str(syslog)], lake, Config(),
           IngestOptions(now=dt.datetime(2026, 11, 28, tzinfo=dt.UTC)))  # fmt: skip
    counts = {}
    for name, config in (("duckdb", EngineConfig()), ("spark", SPARK)):
        engine = Engine(lake, config)
        try:
            network = engine.tables()["network"]
            counts[name] = (int(network.count().to_pyarrow().as_py()), engine.copy_notes())
        finally:
            engine.close()
    assert counts["duckdb"][0] == 40 and len(counts["duckdb"][1]) == 1
    assert counts["spark"] == counts["duckdb"]


def test_a_lake_with_files_of_an_older_schema_reads_alike(tmp_path: Path) -> None:
    """Files an older version wrote lack a newer column: Spark merges the
    files' schemas as DuckDB reads them by name (the column null in those)."""
    from test_lake_schema_evolution import ADDED, rows

    lake = Lake(tmp_path / "lake")
    lake.write("network", network_rows(rows("192.0.2.1", 3)).drop_columns(ADDED), "a")
    lake.write("network", network_rows(rows("192.0.2.2", 2, observer_name="fw1")), "b")
    seen = {}
    for name, config in (("duckdb", EngineConfig()), ("spark", SPARK)):
        engine = Engine(lake, config)
        try:
            table = engine.table("network").to_pyarrow()
            seen[name] = sorted((r["source_ip"], r["observer_name"]) for r in table.to_pylist())
        finally:
            engine.close()
    assert seen["duckdb"] == [("192.0.2.1", None)] * 3 + [("192.0.2.2", "fw1")] * 2
    assert seen["spark"] == seen["duckdb"]


def test_scans_both_grids_cut_are_found_alike(tmp_path: Path) -> None:
    """nmap -T1 --top-ports 20 started 75 s into a window (vertical) and a
    30-host sweep 9.5 s apart (horizontal): found off the grids on both
    engines, the same rows (``portscan.cut_windows``), beside a grid finding."""
    base = dt.datetime(2026, 9, 30, 10, 0, tzinfo=dt.UTC)
    rows = [
        {"source_ip": "198.51.100.7", "destination_ip": "203.0.113.10",
         "destination_port": 1000 + n, "timestamp": base + dt.timedelta(seconds=75 + 15 * n)}
        for n in range(20)
    ] + [
        {"source_ip": "198.51.100.8", "destination_ip": f"203.0.113.{n + 1}",
         "destination_port": 22, "timestamp": base + dt.timedelta(seconds=75 + 9.5 * n)}
        for n in range(30)
    ] + [
        {"source_ip": "198.51.100.7", "destination_ip": "203.0.113.10",
         "destination_port": 2000 + n, "timestamp": base + dt.timedelta(seconds=610 + n)}
        for n in range(16)
    ]  # fmt: skip
    lake = Lake(tmp_path / "lake")
    lake.write("network", network_rows(rows), "cut")
    names = ["vertical_scan", "horizontal_scan"]
    found = {}
    for name, config in (("duckdb", EngineConfig()), ("spark", SPARK)):
        engine = Engine(lake, config)
        try:
            found[name] = findings_on(engine, Config(), names).to_pylist()
        finally:
            engine.close()
    starts = [(f["detection"], f["window_start"] - base, f["score"]) for f in found["duckdb"]]
    assert sorted(starts) == [
        ("horizontal_scan", dt.timedelta(seconds=75), 30),
        ("vertical_scan", dt.timedelta(seconds=75), 20),
        ("vertical_scan", dt.timedelta(seconds=600), 16),
    ]
    assert found["spark"] == found["duckdb"]
