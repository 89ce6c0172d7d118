"""Findings -> cases -> triage -> containment, on small hand-built traffic."""

from __future__ import annotations

import ibis
import pyarrow as pa

from conftest import network_rows
from reconwatch.cases import Case, build_cases
from reconwatch.config import Config, SiteConfig
from reconwatch.detect import run_detections
from reconwatch.respond.containment import plan_blocks
from reconwatch.triage import QUESTIONS, triage


def vertical(source: str, host: str, ports: range, start: int = 0) -> list[dict[str, object]]:
    return [
        {"source_ip": source, "destination_ip": host, "destination_port": p, "seconds": start + i}
        for i, p in enumerate(ports)
    ]


def hunt_rows(table: pa.Table, config: Config | None = None) -> list[Case]:
    config = config or Config()
    network = ibis.memtable(table)
    findings = run_detections(network, config.detect)
    cases = build_cases(network, findings, config.triage.evidence_samples)
    cases = triage(cases, config)
    plan_blocks(cases, config)
    return cases


def test_one_case_per_source_with_evidence_lines() -> None:
    rows = vertical("198.51.100.7", "203.0.113.10", range(1, 21)) + vertical(
        "192.0.2.9", "203.0.113.11", range(100, 120)
    )
    cases = hunt_rows(network_rows(rows))
    assert sorted(c.sources[0] for c in cases) == ["192.0.2.9", "198.51.100.7"]
    case = next(c for c in cases if c.sources == ["198.51.100.7"])
    (finding,) = [f for f in case.findings if f.detection == "vertical_scan"]
    assert finding.port_count == 20 and finding.label == "203.0.113.10"
    assert [e.location() for e in finding.evidence] == [f"test.log:{n}" for n in range(1, 6)]
    assert case.activity.probed_pairs == 20
    assert case.techniques == ["T1590.005", "T1595.001"]
    assert set(case.answers) == set(QUESTIONS)
    assert "20 ports of 203.0.113.10" in case.answers[QUESTIONS[2]]
    assert "SYN scan (nmap -sS)" in case.answers[QUESTIONS[2]]


def test_a_single_burst_is_suspicious_not_escalated_nor_blocked() -> None:
    cases = hunt_rows(network_rows(vertical("198.51.100.7", "203.0.113.10", range(1, 21))))
    (case,) = cases
    assert (case.escalate, case.disposition, case.reasons) == (False, "suspicious", [])
    assert case.containment == {"block": False, "why": "disposition suspicious"}


def test_scanning_again_in_another_window_is_repeated_and_escalated() -> None:
    rows = vertical("198.51.100.7", "203.0.113.10", range(1, 21)) + vertical(
        "198.51.100.7", "203.0.113.10", range(1, 21), start=3600
    )
    (case,) = hunt_rows(network_rows(rows))
    assert case.escalate is True and case.disposition == "malicious"
    assert "2 separate scan episodes" in case.reasons[0]
    assert case.containment["block"] is True
    assert case.containment["entries"] == ["198.51.100.7/32"]
    assert case.containment["timeout_seconds"] == Config().respond.block_for_seconds[case.severity]


def test_many_probed_pairs_in_one_window_is_repeated_scanning() -> None:
    rows = vertical("198.51.100.7", "203.0.113.10", range(1, 121))
    (case,) = hunt_rows(network_rows(rows))
    assert case.escalate
    assert "120 distinct host:port pairs" in case.reasons[0]


def test_internal_scanner_is_t1046_and_never_blocked() -> None:
    rows = vertical("10.1.2.3", "10.1.2.4", range(1, 21)) + vertical(
        "10.1.2.3", "10.1.2.4", range(1, 21), start=3600
    )
    (case,) = hunt_rows(network_rows(rows))
    assert case.internal and case.techniques == ["T1046"]
    assert case.escalate
    assert case.containment["block"] is False
    assert "10.1.2.3" in case.containment["refused"]


def test_configured_protected_source_is_refused_with_a_reason() -> None:
    rows = vertical("198.51.100.7", "203.0.113.10", range(1, 121))
    config = Config(site=SiteConfig(protected=["198.51.100.0/24"]))
    (case,) = hunt_rows(network_rows(rows), config)
    assert case.escalate and case.containment["block"] is False
    assert case.containment["refused"]["198.51.100.7"]


def test_no_findings_no_cases() -> None:
    rows = [
        {
            "source_ip": "198.51.100.7",
            "destination_ip": "203.0.113.10",
            "destination_port": 443,
            "event_action": "allowed",
            "connection_outcome": "succeeded",
        }
    ]
    assert hunt_rows(network_rows(rows)) == []


def test_severity_ranks_escalated_stealth_scans_above_a_burst() -> None:
    burst = vertical("192.0.2.1", "203.0.113.10", range(1, 21))
    stealth = [
        {**row, "tcp_flags": "FIN"} for row in vertical("192.0.2.2", "203.0.113.10", range(1, 121))
    ]
    cases = hunt_rows(network_rows(burst + stealth))
    assert [c.sources[0] for c in cases] == ["192.0.2.2", "192.0.2.1"]
    assert cases[0].severity == "high" and cases[1].severity == "low"


def test_two_detections_of_one_burst_are_one_episode_not_repetition() -> None:
    # 20 ports on each of 5 hosts within a minute: block_scan, vertical_scan and
    # trw_scan all fire, but it is one burst, so it is not "repeated scanning".
    rows = []
    for n in range(5):
        rows += vertical("198.51.100.7", f"203.0.113.{10 + n}", range(1, 17), start=n * 10)
    (case,) = hunt_rows(network_rows(rows))
    assert {"vertical_scan", "trw_scan", "block_scan"} <= set(case.detections)
    assert case.activity.probed_pairs == 80
    assert case.escalate is False
