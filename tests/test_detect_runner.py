"""The detection registry and ``run_detections`` over a mixed day of traffic."""

from __future__ import annotations

import re
from typing import Any

import ibis
import pytest

from conftest import network_rows, spark_sql_options
from reconwatch import schema
from reconwatch.config import DetectConfig, SiteConfig
from reconwatch.detect import DETECTIONS, SORT_KEYS, run_detections
from reconwatch.detect.base import RUN_FINDINGS


def mixed() -> list[dict[str, Any]]:
    """Six sources, each doing one recognisable thing."""
    rows: list[dict[str, Any]] = []
    # Vertical: 16 ports of one host (one host, so TRW sees a single trial).
    rows += [
        {
            "source_ip": "198.51.100.1",
            "destination_ip": "203.0.113.10",
            "destination_port": p,
            "seconds": p,
        }
        for p in range(1, 17)
    ]
    # Horizontal: tcp/22 on 26 hosts; 26 failed first contacts also trip TRW.
    rows += [
        {
            "source_ip": "198.51.100.2",
            "destination_ip": f"203.0.113.{h}",
            "destination_port": 22,
            "seconds": h,
        }
        for h in range(1, 27)
    ]
    # Block: 8 hosts x 8 ports; TRW too.
    rows += [
        {
            "source_ip": "198.51.100.3",
            "destination_ip": f"203.0.113.{h}",
            "destination_port": 8000 + p,
            "seconds": 8 * h + p,
        }
        for h in range(1, 9)
        for p in range(8)
    ]
    # Flag scan: FIN, NULL and XMAS probes of one host from an IPv6 source.
    rows += [
        {
            "source_ip": "2001:db8::bad",
            "destination_ip": "2001:db8:1::10",
            "destination_port": 100 + n,
            "tcp_flags": flags,
            "seconds": n,
        }
        for n, flags in enumerate(["FIN", "", "URG PSH FIN"])
    ]
    # TRW only: five failed first contacts, under every windowed threshold.
    rows += [
        {
            "source_ip": "198.51.100.5",
            "destination_ip": f"203.0.113.{h}",
            "destination_port": 443,
            "seconds": h,
        }
        for h in range(1, 6)
    ]
    # A busy client: 30 hosts reached, a few closed ports on the way.
    rows += [
        {
            "source_ip": "192.0.2.10",
            "destination_ip": f"203.0.113.{h}",
            "destination_port": 443,
            "connection_outcome": "failed" if h % 10 == 0 else "succeeded",
            "event_action": "allowed",
            "tcp_flags": "SYN",
            "seconds": h,
        }
        for h in range(1, 31)
    ]
    return rows


def test_registry_lists_every_detection_with_its_config_and_technique() -> None:
    assert list(DETECTIONS)[:5] == [
        "vertical_scan",
        "horizontal_scan",
        "block_scan",
        "flag_scan",
        "trw_scan",
    ]
    assert {"distributed_scan", "slow_scan", "dark_space_probe", "traffic_spike"} <= set(DETECTIONS)
    cfg = DetectConfig()
    for name, detection in DETECTIONS.items():
        assert hasattr(cfg, detection.config), name
        assert re.fullmatch(r"T\d{4}(\.\d{3})?", detection.technique), name
        assert detection.description and "\n" not in detection.description
        assert set(detection.inputs) <= set(schema.TABLES) - {"rejects"}, name
    for name in ("vertical_scan", "horizontal_scan", "block_scan", "flag_scan", "trw_scan"):
        assert DETECTIONS[name].technique == "T1595.001"
    assert DETECTIONS["traffic_spike"].technique == "T1590.005"
    assert DETECTIONS["trw_scan"].config == "trw"


def test_run_detections_finds_each_actor_by_the_right_detections() -> None:
    findings = run_detections(ibis.memtable(network_rows(mixed())), DetectConfig())
    pairs = set(
        zip(
            findings.column("detection").to_pylist(),
            findings.column("source_ip").to_pylist(),
            strict=True,
        )
    )
    assert pairs == {
        ("vertical_scan", "198.51.100.1"),
        ("horizontal_scan", "198.51.100.2"),
        ("trw_scan", "198.51.100.2"),
        ("block_scan", "198.51.100.3"),
        ("trw_scan", "198.51.100.3"),
        ("flag_scan", "2001:db8::bad"),
        ("trw_scan", "198.51.100.5"),
    }
    assert findings.num_rows == len(pairs)


def test_run_detections_returns_findings_schema_sorted() -> None:
    findings = run_detections(ibis.memtable(network_rows(mixed())), DetectConfig())
    assert findings.schema == RUN_FINDINGS
    rows = findings.to_pylist()
    keys = [tuple(row[k] for k in SORT_KEYS) for row in rows]
    assert [(k[0], k[1]) for k in keys] == [
        ("block_scan", "198.51.100.3"),
        ("flag_scan", "2001:db8::bad"),
        ("horizontal_scan", "198.51.100.2"),
        ("trw_scan", "198.51.100.2"),
        ("trw_scan", "198.51.100.3"),
        ("trw_scan", "198.51.100.5"),
        ("vertical_scan", "198.51.100.1"),
    ]
    labels = {row["detection"]: row["label"] for row in rows if row["detection"] != "trw_scan"}
    assert labels == {
        "block_scan": None,
        "flag_scan": "FIN,NULL,XMAS",
        "horizontal_scan": "tcp/22",
        "vertical_scan": "203.0.113.10",
    }


def test_run_detections_is_deterministic_whatever_the_input_order() -> None:
    rows = mixed()
    forward = run_detections(ibis.memtable(network_rows(rows)), DetectConfig())
    backward = run_detections(ibis.memtable(network_rows(rows[::-1])), DetectConfig())
    assert forward.equals(backward)


def test_run_detections_on_no_events_is_an_empty_findings_table() -> None:
    findings = run_detections(ibis.memtable(network_rows([])), DetectConfig())
    assert findings.num_rows == 0
    assert findings.schema == RUN_FINDINGS


def test_run_detections_can_run_a_subset() -> None:
    findings = run_detections(
        ibis.memtable(network_rows(mixed())), DetectConfig(), names=["trw_scan", "flag_scan"]
    )
    assert sorted(set(findings.column("detection").to_pylist())) == ["flag_scan", "trw_scan"]
    with pytest.raises(ValueError, match="unknown detection"):
        run_detections(ibis.memtable(network_rows([])), DetectConfig(), names=["nope"])


def test_run_detections_uses_the_config_thresholds() -> None:
    cfg = DetectConfig.model_validate({"vertical_scan": {"min_ports": 17}})
    findings = run_detections(ibis.memtable(network_rows(mixed())), cfg, names=["vertical_scan"])
    assert findings.num_rows == 0


@pytest.mark.parametrize("name", list(DETECTIONS))
def test_every_detection_compiles_for_spark(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # The portable-subset promise, checked cheaply and without pyspark installed:
    # Ibis must be able to write each detection in Spark SQL (the engine
    # conformance suite then runs it on both engines).
    spark_sql_options(monkeypatch)
    detection = DETECTIONS[name]
    inputs = [
        ibis.memtable(
            network_rows(mixed()) if table == "network" else schema.TABLES[table].empty_table()
        )
        for table in detection.inputs
    ]
    settings = getattr(DetectConfig(), detection.config)
    if detection.site:
        expr = detection.function(*inputs, settings, site=SiteConfig())
    else:
        expr = detection.function(*inputs, settings)
    assert "SELECT" in ibis.to_sql(expr, dialect="pyspark")
