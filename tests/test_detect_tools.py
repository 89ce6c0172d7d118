"""Tool hints from packet fields and from the detections that fired."""

from __future__ import annotations

import random
from typing import Any

import ibis

from conftest import network_rows
from reconwatch.cases import build_cases
from reconwatch.config import Config
from reconwatch.detect import run_detections
from reconwatch.detect.tools import hints_from_findings, hints_from_packets, packet_stats


def probes(source: str, n: int = 30, **fields: Any) -> list[dict[str, Any]]:
    rows = []
    for i in range(n):
        row = {
            "source_ip": source,
            "destination_ip": f"203.0.113.{i + 1}",
            "destination_port": 22,
            "seconds": i,
            "tcp_flags": "SYN",
        }
        row.update({k: (v(i) if callable(v) else v) for k, v in fields.items()})
        rows.append(row)
    return rows


def _hints(rows: list[dict[str, Any]]) -> dict[str, list[str]]:
    stats = packet_stats(ibis.memtable(network_rows(rows))).to_pyarrow().to_pylist()
    return {r["source_ip"]: [h["tool"] for h in hints_from_packets(r)] for r in stats}


def test_packet_fields_name_the_scanner() -> None:
    rows = probes("198.51.100.1", ip_id=54321, source_port=lambda i: 40000 + i)
    rows += probes(
        "198.51.100.2",
        tcp_window=lambda i: 1024 if i % 4 else 2048,
        ip_ttl=lambda i: 37 + i % 20,
        source_port=lambda i: 50000 + i,
    )
    rows += probes("198.51.100.3", source_port=61000, tcp_window=0)
    # A host's own stack: fixed TTL, OS window, new ports; no hint.
    rows += probes(
        "198.51.100.4",
        ip_ttl=52,
        tcp_window=64240,
        ip_id=lambda i: 1000 + 7 * i,
        source_port=lambda i: 33000 + i,
    )
    # Too few probes to say anything.
    rows += probes("198.51.100.5", n=5, ip_id=54321)
    hints = _hints(rows)
    assert hints["198.51.100.1"] == ["zmap"]
    assert hints["198.51.100.2"] == ["nmap -sS"]
    assert hints["198.51.100.3"] == ["stateless scanner (masscan, zmap or nmap raw scan)"]
    assert hints["198.51.100.4"] == [] and hints["198.51.100.5"] == []


def test_window_1024_with_a_ttl_255_template_is_masscan_not_nmap() -> None:
    masscan = probes("198.51.100.6", tcp_window=1024, ip_ttl=lambda i: 243 + i % 3)
    # One probe below the template's range: nmap's (or anyone's) low TTLs.
    mixed = probes("198.51.100.7", tcp_window=1024, ip_ttl=lambda i: 60 if i == 0 else 243)
    hints = _hints(masscan + mixed)
    assert hints["198.51.100.6"][0] == "masscan"
    assert "masscan" not in hints["198.51.100.7"] and "nmap -sS" in hints["198.51.100.7"]


def test_nmap_confidence_rises_with_randomised_ttls() -> None:
    fixed = probes("198.51.100.2", tcp_window=1024, ip_ttl=50, source_port=lambda i: 50000 + i)
    row = packet_stats(ibis.memtable(network_rows(fixed))).to_pyarrow().to_pylist()[0]
    (hint,) = hints_from_packets(row)
    assert hint["confidence"] == "medium"


def test_a_large_nmap_scan_keeps_high_confidence() -> None:
    """nmap's TTL is random in 37..59 (23 values), so a scan of its default
    1000 ports shows about 23 distinct TTLs: a share of the probes would fall
    under 5 % past ~460 probes. Five distinct TTLs are the test, at any size."""
    rng = random.Random(7)
    for n in (30, 1000, 5000):
        scan = probes(
            "198.51.100.2",
            n=n,
            tcp_window=lambda i: 1024 if i % 8 else 2048,
            ip_ttl=lambda i: rng.randint(37, 59) - 9,  # nine hops away
            destination_ip="203.0.113.9",
            destination_port=lambda i: 1 + i,
            source_port=lambda i: 50000 + i % 3,
        )
        row = packet_stats(ibis.memtable(network_rows(scan))).to_pyarrow().to_pylist()[0]
        (hint,) = hints_from_packets(row)
        assert (hint["tool"], hint["confidence"]) == ("nmap -sS", "high")
        assert "distinct TTLs" in hint["evidence"]
    # Four TTLs (a few routes, or a stack's one TTL and some noise) stay medium.
    four = probes(
        "198.51.100.3",
        n=1000,
        tcp_window=1024,
        ip_ttl=lambda i: 50 + i % 4,
        destination_ip="203.0.113.9",
        destination_port=lambda i: 1 + i,
        source_port=lambda i: 50000 + i,
    )
    row = packet_stats(ibis.memtable(network_rows(four))).to_pyarrow().to_pylist()[0]
    assert [(h["tool"], h["confidence"]) for h in hints_from_packets(row)] == [
        ("nmap -sS", "medium")
    ]


def test_detections_imply_tools() -> None:
    hints = hints_from_findings({"web_scanner_user_agent": ["Nikto", None], "ptr_sweep": [None]})
    assert hints[0]["tool"] == "Nikto"
    assert any("fierce" in h["tool"] for h in hints)


def test_hints_reach_the_case() -> None:
    rows = probes(
        "198.51.100.1",
        ip_id=54321,
        destination_port=lambda i: 1000 + i,
        source_port=lambda i: 40000 + i,
    )
    network = ibis.memtable(network_rows(rows))
    findings = run_detections(network, Config().detect)
    (case,) = build_cases(network, findings, 3)
    assert case.activity.tools[0]["tool"] == "zmap"
    assert "54321" in case.activity.tools[0]["evidence"]
