"""ip6.arpa walks: many reverse names of every depth under one /32 zone."""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Any

import ibis
import pyarrow as pa

from conftest import table_rows
from reconwatch import schema
from reconwatch.config import DetectConfig, EngineConfig
from reconwatch.detect import run_detections
from reconwatch.engine import Engine
from reconwatch.lake import Lake

ZONE = "8.b.d.0.1.0.0.2.ip6.arpa"  # 2001:db8::/32


def walk(source: str, levels: int = 5) -> list[dict[str, Any]]:
    """nmap dns-ip6-arpa-scan style: 16 nibbles per level, descending the first branch."""
    rows, prefix = [], ZONE
    for level in range(levels):
        for nibble in "0123456789abcdef":
            rows.append(
                {
                    "source_ip": source,
                    "dns_question_name": f"{nibble}.{prefix}",
                    "seconds": level * 16 + int(nibble, 16),
                }
            )
        prefix = f"0.{prefix}"
    return rows


def single_lookups(source: str, count: int) -> list[dict[str, Any]]:
    return [
        {
            "source_ip": source,
            "seconds": i,
            "dns_question_name": ipaddress.ip_address(f"2001:db8::{i + 1:x}").reverse_pointer,
        }
        for i in range(count)
    ]


def dns(rows: list[dict[str, Any]]) -> pa.Table:
    defaults = {
        "destination_ip": "203.0.113.53",
        "event_dataset": "bind",
        "log_file": "query.log",
        "dns_question_type": "PTR",
    }
    return table_rows(schema.DNS, defaults, rows)


ROWS = walk("2001:db8:ffff::66") + single_lookups("198.51.100.5", 20)


def test_an_ip6_arpa_walk_is_a_ptr_sweep_and_single_lookups_are_not() -> None:
    found = run_detections({"dns": ibis.memtable(dns(ROWS))}, DetectConfig(), ["ptr_sweep"])
    rows = found.to_pylist()
    assert [(r["source_ip"], r["label"], r["target_count"]) for r in rows] == [
        ("2001:db8:ffff::66", ZONE, 80)
    ]


def test_the_walk_is_found_the_same_on_spark(tmp_path: Path) -> None:
    lake = Lake(tmp_path / "lake")
    lake.write("dns", dns(ROWS), "walk")
    duck, spark = Engine(lake), Engine(lake, EngineConfig(kind="spark", spark_master="local[2]"))
    try:
        expected = run_detections(duck.tables(), DetectConfig(), ["ptr_sweep"])
        assert expected.num_rows == 1
        assert run_detections(spark.tables(), DetectConfig(), ["ptr_sweep"]).equals(expected)
    finally:
        duck.close()
        spark.close()
