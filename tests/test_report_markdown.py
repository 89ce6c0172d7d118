"""report.md: what it cuts, it cuts where no pointer is lost."""

from __future__ import annotations

import datetime as dt

from reconwatch.cases import Activity, Case, Evidence, Finding
from reconwatch.report.markdown import render_report
from reconwatch.report.text import LISTED

AT = dt.datetime(2026, 9, 30, 10, tzinfo=dt.UTC)


def test_a_long_path_keeps_its_evidence_line_number() -> None:
    path = "/var/log/remote/" + "collector-" * 30 + "kern.log"
    evidence = Evidence(log_file=path, log_line=123_456, timestamp=AT, destination_ip="10.0.0.1",
                        destination_port=22, detail="tcp SYN dropped")  # fmt: skip
    finding = Finding(
        detection="vertical_scan", source_ip="198.51.100.7", window_start=AT, first_seen=AT,
        last_seen=AT, event_count=30, target_count=1, port_count=30, targets=[], ports=[],
        score=30.0, label="10.0.0.1", evidence=[evidence],
    )  # fmt: skip
    case = Case(id="RW-1", sources=["198.51.100.7"], findings=[finding], activity=Activity())
    report = render_report([case], None, 0, 0)
    line = next(line for line in report.splitlines() if "tcp SYN dropped" in line)
    assert line.startswith("  - `/var/log/remote/collector-")
    assert "…:123456` 2026-09-30T10:00:00Z -> 10.0.0.1:22 tcp SYN dropped" in line


def test_the_hunt_s_warnings_are_in_the_report() -> None:
    warning = "enrichment: feed corp_intel [tier-1] could not be read"
    report = render_report([], None, 0, 0, warnings=[warning])
    lines = report.splitlines()
    at = lines.index("## Warnings")
    assert lines[at + 2] == r"- enrichment: feed corp\_intel \[tier-1\] could not be read"
    assert "## Warnings" not in render_report([], None, 0, 0)


def _scan(source: str) -> Finding:
    return Finding(
        detection="horizontal_scan", source_ip=source, window_start=AT, first_seen=AT,
        last_seen=AT, event_count=30, target_count=30, port_count=1, targets=[], ports=[],
        score=30.0, label="tcp/22",
    )  # fmt: skip


def test_a_campaign_of_ipv6_sources_keeps_its_count() -> None:
    sources = [f"2001:db8:{i:x}:ffff:ffff:ffff:ffff:{i:x}" for i in range(1, 13)]
    findings = [_scan(s) for s in sources]
    case = Case(id="RW-1", sources=sources, findings=findings, activity=Activity(),
                campaign="campaign:tcp/22")  # fmt: skip
    report = render_report([case], None, 0, 0)
    row = next(line for line in report.splitlines() if line.startswith("| RW-1 |"))
    heading = next(line for line in report.splitlines() if line.startswith("## RW-1"))
    for line in (row, heading):
        assert r"2001:db8:a:ffff:ffff:ffff:ffff:a and 2 more" in line, line


def _campaign(sources: list[str], containment: dict[str, object]) -> Case:
    finding = _scan(sources[0])
    return Case(id="RW-1", sources=sources, findings=[finding], activity=Activity(),
                campaign="campaign:tcp/22", containment=containment)  # fmt: skip


def test_containment_lists_fifty_entries_and_counts_the_rest() -> None:
    sources = [f"198.51.{i // 256}.{i % 256}" for i in range(3000)]
    blocked = _campaign(sources, {"block": True, "entries": [f"{s}/32" for s in sources],
                                  "timeout_seconds": 86400})  # fmt: skip
    line = next(line for line in render_report([blocked], None, 3000, 0).splitlines()
                if line.startswith("- Containment:"))  # fmt: skip
    assert line.count("/32") == LISTED
    assert f"198.51.0.49/32 and {3000 - LISTED} more for 1 day" in line
    refused = _campaign(sources, {"refused": {s: "protected: ours" for s in sources}})
    line = next(line for line in render_report([refused], None, 0, 3000).splitlines()
                if line.startswith("- Containment:"))  # fmt: skip
    assert line.count("protected: ours") == LISTED
    assert line.endswith(f"; and {3000 - LISTED} more (cases.json))")
