"""Review of the detections: null query types, SRV names on Spark, sparse packet fields."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import ibis
import pyarrow as pa

from conftest import network_rows, table_rows
from reconwatch import schema
from reconwatch.config import DetectConfig, DnsBruteforceConfig, EngineConfig, TRWConfig
from reconwatch.detect import run_detections
from reconwatch.detect.dns import dns_bruteforce
from reconwatch.detect.tools import hints_from_packets, packet_stats
from reconwatch.detect.trw import trw_scan
from reconwatch.engine import Engine
from reconwatch.lake import Lake

ATTACKER = "198.51.100.7"


def dns_rows(rows: list[dict[str, Any]]) -> pa.Table:
    defaults = {
        "event_dataset": "mapped-dns",
        "log_file": "dns.log",
        "destination_ip": "192.0.2.53",
    }
    return table_rows(schema.DNS, defaults, rows)


def test_brute_force_in_a_log_without_query_types_is_found() -> None:
    # A mapping file of queries and answer codes, no type column: the guesses
    # are no PTR queries and must not vanish with the unknown type.
    rows = [
        {
            "source_ip": ATTACKER,
            "dns_question_name": f"w{n}.example.com",
            "dns_response_code": "NXDOMAIN",
            "seconds": n,
        }
        for n in range(60)
    ]
    found = dns_bruteforce(ibis.memtable(dns_rows(rows)), DnsBruteforceConfig()).to_pyarrow()
    assert [(r["source_ip"], r["label"], r["target_count"]) for r in found.to_pylist()] == [
        (ATTACKER, "example.com", 60)
    ]


def test_srv_query_of_a_one_label_name_does_not_fail_spark(tmp_path: Path) -> None:
    # One client's `dig SRV _foo` (one label) made Spark's ANSI ELEMENT_AT fail
    # the whole detection; the brute force beside it must still be found.
    services = [f"_s{n}._tcp.example.org" for n in range(12)]
    rows: list[dict[str, Any]] = [
        {"source_ip": "192.0.2.99", "dns_question_name": "_foo", "dns_question_type": "SRV"}
    ]
    rows += [
        {"source_ip": ATTACKER, "dns_question_name": name, "dns_question_type": "SRV", "seconds": n}
        for n, name in enumerate(services)
    ]
    lake = Lake(tmp_path / "lake")
    lake.write("dns", dns_rows(rows), "srv")
    duck = Engine(lake)
    spark = Engine(lake, EngineConfig(kind="spark", spark_master="local[1]"))
    try:
        expected = run_detections(duck.tables(), DetectConfig(), ["srv_bruteforce"])
        assert [(r["source_ip"], r["target_count"]) for r in expected.to_pylist()] == [
            (ATTACKER, 12)
        ]
        assert run_detections(spark.tables(), DetectConfig(), ["srv_bruteforce"]).equals(expected)
    finally:
        duck.close()
        spark.close()


def _syn(source: str, n: int, **fields: Any) -> list[dict[str, Any]]:
    return [
        {
            "source_ip": source,
            "destination_ip": f"203.0.113.{i + 1}",
            "destination_port": 22,
            "source_port": 40000 + i,
            "seconds": i,
            **fields,
        }
        for i in range(n)
    ]


def _hints(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    (stats,) = packet_stats(ibis.memtable(network_rows(rows))).to_pyarrow().to_pylist()
    return hints_from_packets(stats)


def test_one_probe_with_packet_fields_names_no_tool() -> None:
    # 40 SYN probes logged by a firewall that records no IP ID nor window, one
    # by netfilter with zmap's IP ID and window 1024: one packet is no share.
    odd = {**_syn(ATTACKER, 1)[0], "ip_id": 54321, "tcp_window": 1024, "seconds": 50}
    rows = [*_syn(ATTACKER, 40), odd]
    assert _hints(rows) == []


def test_shares_quote_the_probes_that_logged_the_field() -> None:
    rows = _syn(ATTACKER, 20) + _syn(ATTACKER, 12, ip_id=54321, seconds=100)
    (zmap,) = _hints(rows)
    assert zmap["tool"] == "zmap"
    assert zmap["evidence"] == "IP ID 54321 in 100% of 12 SYN probes"


def test_events_without_destination_are_no_first_contact() -> None:
    # Three failed first contacts walk to 4.16, under ln 99: events whose
    # destination the log did not give are no fourth host.
    rows = [
        {"source_ip": ATTACKER, "destination_ip": f"203.0.113.{n}", "destination_port": 22}
        for n in (1, 2, 3)
    ]
    rows += [{"source_ip": ATTACKER, "destination_ip": None, "destination_port": 22}] * 2
    rows = [{**row, "seconds": n} for n, row in enumerate(rows)]
    found = trw_scan(ibis.memtable(network_rows(rows)), TRWConfig()).to_pyarrow()
    assert found.num_rows == 0
