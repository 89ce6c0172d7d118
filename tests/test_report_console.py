"""The terminal's case table: the scope column speaks the terms of the detections' logs."""

from __future__ import annotations

import datetime as dt

from reconwatch.cases import Activity, Case, Finding
from reconwatch.report.console import _scope

AT = dt.datetime(2026, 9, 30, 10, tzinfo=dt.UTC)


def finding(detection: str, table: str, events: int = 10) -> Finding:
    return Finding(
        detection=detection, source_ip="198.51.100.7", window_start=AT, first_seen=AT,
        last_seen=AT, event_count=events, target_count=1, port_count=1, targets=[], ports=[],
        score=1.0, label=None, source_table=table,
    )  # fmt: skip


def case(*findings: Finding, **activity: int) -> Case:
    return Case(id="RW-1", sources=["198.51.100.7"], findings=list(findings),
                activity=Activity(**activity))  # type: ignore[arg-type]  # fmt: skip


def test_a_web_scanner_seen_by_the_firewall_too_is_measured_in_paths() -> None:
    scanner = case(
        finding("web_recon", "http"),
        events=40, target_count=1, port_count=2, http_requests=300, http_paths=250,
    )  # fmt: skip
    assert _scope(scanner) == "250 web paths"


def test_findings_in_several_logs_name_each_measure() -> None:
    both = case(
        finding("vertical_scan", "network"), finding("dns_bruteforce", "dns"),
        events=20, target_count=1, port_count=16, dns_queries=90, dns_names=80,
    )  # fmt: skip
    assert _scope(both) == "1 hosts x 16 ports; 80 DNS names"


def test_other_logs_fall_back_to_what_was_logged() -> None:
    assert _scope(case(finding("ids_scan", "alert"), dns_queries=5, dns_names=4)) == "4 DNS names"
    assert _scope(case(finding("ids_scan", "alert", events=7))) == "7 events"


def test_the_case_table_always_shows_who_and_tier_2_at_120_columns() -> None:
    """A 6-source campaign and several logs' scope squeezed the source column to nothing."""
    import datetime as dt

    from rich.console import Console

    from reconwatch.cases import Activity, Case, Finding
    from reconwatch.report.console import print_cases

    at = dt.datetime(2026, 9, 30, tzinfo=dt.UTC)

    def finding(name: str, source: str) -> Finding:
        return Finding(name, source, None, at, at, 1, 1, 1, [], [], 1.0, None)

    busy = Activity(events=5, target_count=5, port_count=10, dns_names=52, http_paths=8)
    cases = [
        Case("RW-20260930-336be1234", ["198.51.100.7"],
             [finding("ids_scan_alert", "198.51.100.7"),
              finding("web_sensitive_path_probe", "198.51.100.7")],
             busy, severity="critical", escalate=True),
        Case("RW-20260930-ad5da1234", [f"203.0.113.{i}" for i in range(6)],
             [finding("distributed_scan", "203.0.113.1")], Activity(), severity="low"),
    ]  # fmt: skip
    console = Console(width=120, record=True)
    print_cases(console, cases)
    text = console.export_text()
    assert "198.51.100.7" in text and "203.0.113.0 +5" in text
    assert "T2 crit" in text
