"""IPv6 scanners rotating their source address inside their own /64."""

from __future__ import annotations

from typing import Any

import ibis

from conftest import network_rows
from reconwatch.cases import build_cases
from reconwatch.config import Config, Ipv6RotationConfig
from reconwatch.detect import run_detections
from reconwatch.detect.rotation import ipv6_rotating_scan, source_prefixes
from reconwatch.respond.blocklist import build_blocklist
from reconwatch.respond.protect import ProtectedRanges

PREFIX = "2a0b:4340:a1:7::/64"
TARGET = "2001:db8:1::10"


def rotating(count: int, *, ports: bool = True, start: int = 0) -> list[dict[str, Any]]:
    """``count`` failed probes, each from a new address of PREFIX, one per second."""
    return [
        {
            "source_ip": f"2a0b:4340:a1:7:{n + 1:x}:{(n * 7919) % 65536:x}:1:{n + 2:x}",
            "destination_ip": TARGET if ports else f"2001:db8:1::{n + 1:x}",
            "destination_port": 1000 + n if ports else 22,
            "seconds": start + n,
        }
        for n in range(count)
    ]


def findings(rows: list[dict[str, Any]], **config: Any) -> list[dict[str, Any]]:
    table = ibis.memtable(network_rows(rows))
    found = ipv6_rotating_scan(table, Ipv6RotationConfig(**config)).to_pyarrow()
    return sorted(found.to_pylist(), key=lambda f: f["source_ip"])


def test_a_vertical_scan_from_sixty_addresses_of_one_prefix_is_one_actor() -> None:
    rows = rotating(60)
    found = findings(rows)
    assert len(found) == 60
    assert {f["label"] for f in found} == {f"campaign:ipv6 {PREFIX}"}
    assert {f["source_ip"] for f in found} == {r["source_ip"] for r in rows}
    assert all(f["event_count"] == 1 and f["targets"] == [TARGET] for f in found)
    assert {f["score"] for f in found} == {60.0}  # host:port pairs of the whole prefix
    # Per address nothing fires: that is the blind spot.
    per_source = run_detections(ibis.memtable(network_rows(rows)), Config().detect)
    assert set(per_source.column("detection").to_pylist()) == {"ipv6_rotating_scan"}


def test_the_prefix_is_one_case_and_one_block() -> None:
    rows = rotating(30, ports=False)  # a horizontal sweep of port 22, one host per address
    network = ibis.memtable(network_rows(rows))
    found = run_detections(network, Config().detect, ["ipv6_rotating_scan"])
    (case,) = build_cases(network, found, 3)
    assert case.campaign == f"campaign:ipv6 {PREFIX}" and len(case.sources) == 30
    from reconwatch.respond.blocklist import BlockRequest

    plan = build_blocklist(
        [BlockRequest(s, case.id, "scan", "high", 3600) for s in case.sources],
        ProtectedRanges.always(), 100, ipv6_prefix=64,
    )  # fmt: skip
    assert [str(e.network) for e in plan.entries] == [PREFIX]


def test_a_lan_of_three_devices_is_not_a_rotating_scanner() -> None:
    # Three addresses of one /64, each failing 20 ports of one host: under min_sources.
    rows = [
        {"source_ip": f"2a0b:4340:a1:7::{d}", "destination_ip": TARGET,
         "destination_port": 2000 + p, "seconds": p}
        for d in (1, 2, 3) for p in range(20)
    ]  # fmt: skip
    assert findings(rows) == []
    assert len(findings(rows, min_sources=3)) == 3


def test_probes_spread_over_hours_do_not_add_up() -> None:
    # 60 addresses, one probe every 10 minutes: never 16 ports in 5 minutes.
    rows = [{**row, "seconds": n * 600} for n, row in enumerate(rotating(60))]
    assert findings(rows) == []


def test_ipv4_sources_are_left_alone() -> None:
    rows = [
        {"source_ip": f"198.51.100.{n}", "destination_ip": "203.0.113.10",
         "destination_port": 3000 + n, "seconds": n}
        for n in range(1, 60)
    ]  # fmt: skip
    assert findings(rows) == []


def test_prefixes_are_exact_for_every_spelling() -> None:
    got = source_prefixes(["2a0b:4340:a1:7::1", "2a0b:4340:a1:7:ffff::9", "::1", "10.0.0.1"], 64)
    assert got == {
        "2a0b:4340:a1:7::1": PREFIX, "2a0b:4340:a1:7:ffff::9": PREFIX, "::1": "::/64",
    }  # fmt: skip
    assert source_prefixes(["2a0b:4340:a1:7::1"], 48) == {"2a0b:4340:a1:7::1": "2a0b:4340:a1::/48"}
