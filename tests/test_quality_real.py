"""Real logs of an ordinary site must not raise an escalated case."""

from __future__ import annotations

from pathlib import Path

from reconwatch.config import Config
from reconwatch.hunt import hunt


def test_a_real_site_log_raises_no_escalated_case(shared_data: Path) -> None:
    # 10,000 lines of a real public web server: crawlers, feed readers and
    # visitors, 404s included. One client in it does probe: 91.236.75.25 sends
    # eight HEAD requests for FCKeditor's sample and connector pages in a
    # minute, without a User-Agent (looking for the file-upload connector).
    # That is one low case, never escalated or blocked; nobody else is one.
    result = hunt([str(shared_data / "benign-web" / "apache_logs")], Config())
    assert result.run is not None and result.run.totals.parsed == 10_000
    escalated = [(c.sources, c.detections, c.reasons) for c in result.cases if c.escalate]
    assert escalated == []
    assert not result.plan.entries  # nothing proposed for blocking
    assert [(c.sources, c.detections) for c in result.cases] == [
        (["91.236.75.25"], ["web_technology_probe"])
    ]
    (finding,) = result.cases[0].findings
    assert finding.label == "FCKeditor" and finding.event_count == 8
