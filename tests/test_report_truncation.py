"""A report that lists part of something says how much it left out."""

from __future__ import annotations

import copy
import datetime as dt
import re
from typing import Any

from reconwatch.cases import Activity, Case, Finding
from reconwatch.report.html import render_html
from reconwatch.report.markdown import render_report
from reconwatch.report.text import LISTED

AT = dt.datetime(2026, 9, 30, 10, tzinfo=dt.UTC)
SOURCE = "198.51.100.7"
#: What triage appends after the first 20 intel matches: a feed it could not read.
UNREAD = "feed corp-intel could not be read: connection refused"


def _case_doc() -> dict[str, Any]:
    return {
        "id": "RW-20260930-00000001",
        "actor": SOURCE,
        "sources": [SOURCE],
        "severity": "high",
        "escalate": True,
        "criteria": {
            "known_threat_actor": {
                "met": True,
                "evidence": [f"{SOURCE} matches indicator 198.51.100.{i}" for i in range(20)]
                + [UNREAD],
            }
        },
        "enrichment": {
            SOURCE: {
                "intel": [{"indicator": f"198.51.100.{i}", "feed": "f"} for i in range(25)],
            }
        },
        "tier2": {
            "timeline": [],
            "related_sources": [f"198.51.100.{i}" for i in range(100)],
            "related_total": 3000,
        },
    }


EXPOSURE = {
    "cases": {
        "RW-20260930-00000001": {
            "actors": [SOURCE],
            "services": [f"10.0.0.{i}:443/tcp" for i in range(120)],
        }
    },
    "actors": {
        SOURCE: {
            "web": [{"host": "h", "path": f"/p{i}", "status": 200, "count": 1} for i in range(60)],
            # exposure.json sorts them by name: the one internal answer comes last.
            "dns": [
                {"name": f"a{i:03d}.example.com", "type": "A", "answer": "203.0.113.1"}
                for i in range(70)
            ]
            + [{"name": "zz.example.com", "type": "A", "answer": "10.1.2.3", "internal": True}],
            "internal_addresses": ["10.1.2.3"],
        }
    },
}


def _page() -> str:
    return re.sub(r"\s+", " ", render_html({"cases": [_case_doc()]}, copy.deepcopy(EXPOSURE)))


def test_a_criterion_s_evidence_keeps_the_unread_feed_past_twenty_matches() -> None:
    assert UNREAD in _page()


def test_intel_matches_past_the_cut_are_counted() -> None:
    page = _page()
    assert page.count("(feed f)") == min(25, LISTED)  # it was cut at 20, unsaid


def test_exposure_lists_say_what_they_leave_out() -> None:
    page = _page()
    shown_web = min(60, LISTED)
    assert page.count("(1x)") == shown_web
    assert f"and {60 - shown_web} more web path(s) (exposure.json)" in page
    assert f"and {71 - LISTED} more DNS answer(s) (exposure.json)" in page
    assert "10.0.0.99:443/tcp</span> ... and 20 more (exposure.json)" in page


def test_dns_answers_that_leak_internal_addresses_come_first() -> None:
    page = _page()
    assert 'zz.example.com -&gt; 10.1.2.3 <span class="yes">internal</span>' in page


def test_related_sources_give_their_total() -> None:
    page = _page()
    assert "198.51.100.19</span>" in page and "198.51.100.20," not in page
    assert "and 2,980 more (3,000 in all; cases.json names the first 100)" in page

    finding = Finding(
        detection="vertical_scan", source_ip=SOURCE, window_start=AT, first_seen=AT,
        last_seen=AT, event_count=30, target_count=1, port_count=30, targets=[], ports=[],
        score=30.0, label="10.0.0.1",
    )  # fmt: skip
    case = Case(
        id="RW-1", sources=[SOURCE], findings=[finding], activity=Activity(), escalate=True,
        tier2={"timeline": [], "related_sources": [f"198.51.100.{i}" for i in range(100)],
               "related_total": 3000, "earlier_sightings": [], "recommended_actions": []},
    )  # fmt: skip
    report = render_report([case], None, 0, 0)
    line = next(line for line in report.splitlines() if "Related sources" in line)
    assert line.endswith("and 2,980 more (3,000 in all; cases.json names the first 100)")
