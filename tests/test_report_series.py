"""Per-case chart series computed from a hand-built lake: counts add up, shapes stay bounded."""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from conftest import BASE_TIME, network_rows, table_rows
from reconwatch import schema
from reconwatch.cases import Activity, Case, Finding
from reconwatch.engine import Engine
from reconwatch.lake import Lake
from reconwatch.report.casejson import case_to_dict
from reconwatch.report.series import (
    MAX_BUCKETS,
    NICE_BUCKETS,
    TOP_DNS_CLIENTS,
    TOP_HOSTS,
    TOP_PORTS,
    attach_series,
    bucket_seconds,
)

SCANNER = "198.51.100.7"
PARTNER_A = "198.51.100.20"
PARTNER_B = "198.51.100.21"
BYSTANDER = "192.0.2.200"


def case(*sources: str) -> Case:
    return Case(
        id="RW-" + "-".join(sources), sources=list(sources), findings=[], activity=Activity()
    )


def dns_rows(rows: list[dict[str, Any]]) -> Any:
    defaults = {"event_dataset": "bind", "log_file": "query.log", "dns_question_type": "A"}
    return table_rows(schema.DNS, defaults, rows)


def http_rows(rows: list[dict[str, Any]]) -> Any:
    defaults = {"event_dataset": "clf", "log_file": "access.log", "http_response_status_code": 404}
    return table_rows(schema.HTTP, defaults, rows)


def series_for(tmp_path: Path, tables: dict[str, Any], cases: list[Case]) -> list[dict[str, Any]]:
    lake = Lake(tmp_path / "lake")
    for name, data in tables.items():
        lake.write(name, data, "test")
    engine = Engine(lake)
    try:
        attach_series(engine.tables(), cases)
    finally:
        engine.close()
    return [c.series for c in cases]


# The scanner: 3 hosts x 2 ports with known counts over 10 minutes, plus ICMP
# (no port), DNS and HTTP. A bystander's events must appear in no case.
CELLS = {("10.0.0.2", 22): 7, ("10.0.0.2", 443): 1, ("10.0.0.10", 22): 3, ("10.0.0.9", 443): 4}


def scanner_tables() -> dict[str, Any]:
    network = []
    second = 0
    for (host, port), count in CELLS.items():
        for _ in range(count):
            network.append(
                {"source_ip": SCANNER, "destination_ip": host, "destination_port": port,
                 "seconds": second}
            )  # fmt: skip
            second += 40
    network.append(
        {"source_ip": SCANNER, "destination_ip": "10.0.0.2", "destination_port": None,
         "network_transport": "icmp", "seconds": 599}
    )  # fmt: skip
    network += [
        {"source_ip": BYSTANDER, "destination_ip": "10.0.0.2", "destination_port": 22, "seconds": s}
        for s in range(0, 3000, 10)
    ]
    dns = [
        {"source_ip": SCANNER, "dns_question_name": f"h{i}.example.com",
         "dns_response_code": "NXDOMAIN" if i % 3 else "NOERROR", "seconds": 30 * i}
        for i in range(12)
    ] + [{"source_ip": BYSTANDER, "dns_response_code": "NOERROR", "seconds": 5}]  # fmt: skip
    http = [{"source_ip": SCANNER, "url_path": f"/p{i}", "seconds": 100 + i} for i in range(5)]
    return {"network": network_rows(network), "dns": dns_rows(dns), "http": http_rows(http)}


@pytest.fixture
def scanner_series(tmp_path: Path) -> dict[str, Any]:
    (series,) = series_for(tmp_path, scanner_tables(), [case(SCANNER)])
    return series


def test_timeline_counts_add_up_to_each_tables_events(scanner_series: dict[str, Any]) -> None:
    totals: Counter[str] = Counter()
    for point in scanner_series["timeline"]:
        totals[point["dataset"]] += point["events"]
    # 15 port probes + 1 ICMP; 12 queries; 5 requests. The bystander adds nothing.
    assert totals == {"network": 16, "dns": 12, "http": 5}


def test_buckets_are_aligned_and_fit_the_span(scanner_series: dict[str, Any]) -> None:
    size = scanner_series["bucket_seconds"]
    # Events span 599 s: the smallest nice size that cuts it into < 98 buckets is 10 s.
    assert size == bucket_seconds(599) == 10
    stamps = {p["t"] for p in scanner_series["timeline"]}
    for stamp in stamps:
        moment = dt.datetime.fromisoformat(stamp)
        assert stamp.endswith("Z")
        assert int(moment.timestamp()) % size == 0
        assert BASE_TIME <= moment <= BASE_TIME + dt.timedelta(seconds=600)
    assert len(stamps) <= MAX_BUCKETS
    # The first probe (second 0) and the ICMP packet (second 599) land in their own buckets.
    first = [p for p in scanner_series["timeline"] if p["t"] == "2026-09-30T10:00:00Z"]
    assert {(p["dataset"], p["events"]) for p in first} == {("network", 1), ("dns", 1)}
    last = [p for p in scanner_series["timeline"] if p["t"] == "2026-09-30T10:09:50Z"]
    assert [(p["dataset"], p["events"]) for p in last] == [("network", 1)]


def test_heatmap_rows_are_hosts_and_columns_are_ports(scanner_series: dict[str, Any]) -> None:
    heat = scanner_series["heatmap"]
    # Hosts in address order (10.0.0.10 after 10.0.0.9), ports ascending; ICMP has no column.
    assert heat["hosts"] == ["10.0.0.2", "10.0.0.9", "10.0.0.10"]
    assert heat["ports"] == [22, 443]
    assert len(heat["counts"]) == 3 and all(len(row) == 2 for row in heat["counts"])
    for r, host in enumerate(heat["hosts"]):
        for c, port in enumerate(heat["ports"]):
            assert heat["counts"][r][c] == CELLS.get((host, port), 0), (host, port)


def test_dns_volume_per_client_counts_queries_and_nxdomain(
    scanner_series: dict[str, Any],
) -> None:
    points = scanner_series["dns"]
    assert {p["client"] for p in points} == {SCANNER}
    assert sum(p["queries"] for p in points) == 12
    assert sum(p["nxdomain"] for p in points) == 8  # every i not divisible by 3
    assert all(0 <= p["nxdomain"] <= p["queries"] for p in points)
    assert [p["t"] for p in points] == sorted(p["t"] for p in points)


def test_campaign_case_adds_its_members_and_a_source_can_be_in_two_cases(tmp_path: Path) -> None:
    network = [
        {"source_ip": PARTNER_A, "destination_ip": f"10.0.1.{i}", "destination_port": 80,
         "seconds": i}
        for i in range(1, 9)
    ] + [
        {"source_ip": PARTNER_B, "destination_ip": f"10.0.1.{i}", "destination_port": 80,
         "seconds": 60 + i}
        for i in range(9, 13)
    ]  # fmt: skip
    dns = [{"source_ip": s, "dns_response_code": "NOERROR", "seconds": 1} for s in (PARTNER_A,) * 3]
    dns += [{"source_ip": PARTNER_B, "dns_response_code": "NXDOMAIN", "seconds": 2}]
    campaign, alone = series_for(
        tmp_path,
        {"network": network_rows(network), "dns": dns_rows(dns)},
        [case(PARTNER_A, PARTNER_B), case(PARTNER_A)],
    )
    assert sum(p["events"] for p in campaign["timeline"] if p["dataset"] == "network") == 12
    assert sum(p["events"] for p in alone["timeline"] if p["dataset"] == "network") == 8
    assert campaign["heatmap"]["ports"] == [80]
    assert len(campaign["heatmap"]["hosts"]) == 12
    per_client = Counter[str]()
    for p in campaign["dns"]:
        per_client[p["client"]] += p["queries"]
    assert per_client == {PARTNER_A: 3, PARTNER_B: 1}
    assert {p["client"] for p in alone["dns"]} == {PARTNER_A}


def test_series_is_bounded_and_keeps_the_busiest(tmp_path: Path) -> None:
    # 50 hosts x 50 ports over three days; hosts .1-.5 and ports 9001-9005 are the busy ones.
    network = []
    for h in range(1, 51):
        for p in range(50):
            weight = 3 if h <= 5 or p >= 45 else 1
            network += [
                {"source_ip": SCANNER, "destination_ip": f"10.9.0.{h}",
                 "destination_port": 8956 + p, "seconds": (h * 50 + p) * 100 + k}
                for k in range(weight)
            ]  # fmt: skip
    clients = [f"198.51.100.{100 + i}" for i in range(25)]
    dns = [
        {"source_ip": c, "dns_response_code": "NOERROR", "seconds": 7 * k}
        for i, c in enumerate(clients)
        for k in range(1 + i)  # the later clients are the busiest
    ]
    (series,) = series_for(
        tmp_path,
        {"network": network_rows(network), "dns": dns_rows(dns)},
        [case(SCANNER, *clients)],
    )
    stamps = {p["t"] for p in series["timeline"]}
    assert len(stamps) <= MAX_BUCKETS
    assert series["bucket_seconds"] in NICE_BUCKETS or series["bucket_seconds"] % 86400 == 0
    assert sum(p["events"] for p in series["timeline"]) == len(network) + len(dns)
    heat = series["heatmap"]
    assert len(heat["hosts"]) == TOP_HOSTS and len(heat["ports"]) == TOP_PORTS
    assert {f"10.9.0.{h}" for h in range(1, 6)} <= set(heat["hosts"])
    assert set(range(9001, 9006)) <= set(heat["ports"])
    assert len(heat["counts"]) == TOP_HOSTS
    assert all(len(row) == TOP_PORTS for row in heat["counts"])
    kept = {p["client"] for p in series["dns"]}
    assert kept == set(clients[-TOP_DNS_CLIENTS:])


def test_heatmap_ties_go_to_the_hosts_probed_first(tmp_path: Path) -> None:
    # A sweep: one probe per host, in address order. Text order would pick .1, .10-.19...
    sweep = [
        {"source_ip": SCANNER, "destination_ip": f"10.0.0.{i}", "destination_port": 22,
         "seconds": i}
        for i in range(1, 41)
    ]  # fmt: skip
    (series,) = series_for(tmp_path, {"network": network_rows(sweep)}, [case(SCANNER)])
    assert series["heatmap"]["hosts"] == [f"10.0.0.{i}" for i in range(1, TOP_HOSTS + 1)]
    assert series["heatmap"]["counts"] == [[1]] * TOP_HOSTS


def test_a_case_without_events_gets_the_empty_shape(tmp_path: Path) -> None:
    (series,) = series_for(
        tmp_path,
        {"network": network_rows([{"source_ip": BYSTANDER, "destination_ip": "10.0.0.1"}])},
        [case(SCANNER)],
    )
    assert series == {
        "bucket_seconds": 1,
        "timeline": [],
        "heatmap": {"hosts": [], "ports": [], "counts": []},
        "dns": [],
    }


def test_series_is_in_the_case_document(scanner_series: dict[str, Any]) -> None:
    item = case(SCANNER)
    item.findings = [
        Finding(
            detection="vertical_scan", source_ip=SCANNER, window_start=None,
            first_seen=BASE_TIME, last_seen=BASE_TIME, event_count=1, target_count=1,
            port_count=1, targets=[], ports=[], score=1.0, label=None,
        )
    ]  # fmt: skip
    assert case_to_dict(item)["series"] == {}  # before the hunt computes it
    item.series = scanner_series
    document = json.loads(json.dumps(case_to_dict(item)))
    assert document["series"] == scanner_series
    assert set(document["series"]) == {"bucket_seconds", "timeline", "heatmap", "dns"}


@given(
    start=st.integers(min_value=0, max_value=4_000_000_000),
    span=st.integers(min_value=0, max_value=10 * 365 * 86400),
)
def test_bucket_size_never_gives_more_than_max_buckets(start: int, span: int) -> None:
    size = bucket_seconds(span)
    assert (start + span) // size - start // size + 1 <= MAX_BUCKETS
    smaller = [s for s in NICE_BUCKETS if s < size]
    if smaller and size <= NICE_BUCKETS[-1]:
        # The next smaller nice size would have been too fine for the worst alignment.
        assert span // smaller[-1] + 2 >= MAX_BUCKETS


def _spanning(case_id: str, source: str, first: int, last: int) -> Case:
    """A case of ``source`` whose one finding spans seconds ``first``-``last`` after BASE_TIME."""
    finding = Finding(
        detection="vertical_scan", source_ip=source, window_start=None,
        first_seen=BASE_TIME + dt.timedelta(seconds=first),
        last_seen=BASE_TIME + dt.timedelta(seconds=last),
        event_count=1, target_count=1, port_count=1, targets=[], ports=[], score=1.0, label=None,
    )  # fmt: skip
    return Case(id=case_id, sources=[source], findings=[finding], activity=Activity())


def test_an_actors_closed_case_and_its_new_case_chart_their_own_events(tmp_path: Path) -> None:
    """Activity an analyst closed (0-99 s) and new activity (1000-1099 s) of one source:
    each case's charts leave out the other's span; events between them show in both."""
    closed_span = [{"destination_port": 22, "seconds": s} for s in range(0, 100, 10)]  # 10
    between = [{"destination_port": 23, "seconds": s} for s in (500, 600)]  # 2
    new_span = [{"destination_port": 80, "seconds": s} for s in range(1000, 1100, 4)]  # 25
    network = [
        {"source_ip": SCANNER, "destination_ip": "10.0.0.2", **row}
        for row in closed_span + between + new_span
    ]
    dns = [
        {"source_ip": SCANNER, "dns_response_code": "NOERROR", "seconds": s}
        for s in (5, 1005, 1010)
    ]
    closed, new = series_for(
        tmp_path,
        {"network": network_rows(network), "dns": dns_rows(dns)},
        [_spanning("RW-closed", SCANNER, 0, 99), _spanning("RW-new", SCANNER, 1000, 1099)],
    )

    def counted(series: dict[str, Any], dataset: str) -> int:
        return sum(p["events"] for p in series["timeline"] if p["dataset"] == dataset)

    assert (counted(closed, "network"), counted(new, "network")) == (12, 27)
    assert closed["heatmap"]["ports"] == [22, 23] and sorted(new["heatmap"]["ports"]) == [23, 80]
    assert (counted(closed, "dns"), counted(new, "dns")) == (1, 2)
    assert sum(p["queries"] for p in new["dns"]) == 2
