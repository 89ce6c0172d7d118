"""Triage decisions and wording on hand-built cases: the severity an escalated
case keeps, exercises covering only part of a case or of what it touched,
and the user-activity step without user-activity logs."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path

import yaml

from reconwatch.cases import Activity, Case, Finding
from reconwatch.config import Config
from reconwatch.enrich import Enrichment
from reconwatch.store import History
from reconwatch.triage import triage

BASE = dt.datetime(2026, 1, 5, 10, tzinfo=dt.UTC)
SCANNER = "192.0.2.9"
TESTER = "198.51.100.3"
IN_SCOPE = "203.0.113.5"


def finding(
    detection: str, source: str, start: int, end: int, targets: Sequence[str] = ()
) -> Finding:
    return Finding(
        detection, source, None, BASE + dt.timedelta(seconds=start),
        BASE + dt.timedelta(seconds=end), 10, max(len(targets), 1), 5, list(targets), [22],
        5.0, None,
    )  # fmt: skip


def calendar(tmp_path: Path) -> Config:
    path = tmp_path / "exercises.yaml"
    exercise = {
        "name": "Q1 red team",
        "sources": ["198.51.100.0/28"],
        "start": "2026-01-05T00:00:00Z",
        "end": "2026-01-06T00:00:00Z",
        "scope": ["203.0.113.0/24"],
        "contact": "red@example.com",
    }
    path.write_text(yaml.safe_dump({"exercises": [exercise]}))
    return Config.model_validate({"enrich": {"exercises": str(path)}})


def test_an_escalated_case_keeps_its_severity_when_this_hunt_escalates_it_again() -> None:
    # Tier 2 works on a critical case; today's hunt sees only two scan bursts
    # (repeated scanning: escalated, but medium on its own). The severity, and
    # with it the block's length, must not fall while the case is open.
    findings = [
        finding("vertical_scan", SCANNER, 0, 60),
        finding("vertical_scan", SCANNER, 7200, 7260),
    ]
    case = Case("c1", [SCANNER], findings, Activity())
    earlier = History("c1", [], 1, "escalated", None, severity="critical")
    (out,) = triage([case], Config(), history={SCANNER: earlier})
    assert out.escalate and out.disposition == "malicious"
    assert out.severity == "critical"


def test_a_tester_sharing_a_case_with_an_outsider_is_not_said_to_have_logged_in(
    tmp_path: Path,
) -> None:
    config = calendar(tmp_path)
    enrichment = Enrichment.load(config.enrich)
    sources = [SCANNER, TESTER]
    case = Case(
        "campaign:x", sources,
        [finding("distributed_scan", s, 0, 60, [IN_SCOPE]) for s in sources],
        Activity(), campaign="campaign:x", destinations=[IN_SCOPE],
    )  # fmt: skip
    (out,) = triage([case], config, enrichment=enrichment)
    assert out.disposition != "approved_exercise"
    assert out.activity.auth_successes == 0
    assert not any("login" in r or "did more than scan" in r for r in out.reasons)
    assert any(TESTER in r and "not suppressed" in r for r in out.reasons)
    # The checklist names each source's verdict in words (was "192.0.2.9: none (None)").
    assert out.checklist[1]["result"] == (
        f"{SCANNER}: no approved exercise; {TESTER}: in_exercise (Q1 red team)"
    )


def test_exercise_scope_counts_the_hosts_a_finding_names_beyond_the_gathered_ones(
    tmp_path: Path,
) -> None:
    # A slow_scan over earlier batches (its state) names a host outside the
    # scope that this hunt's events no longer hold: still outside the scope.
    config = calendar(tmp_path)
    enrichment = Enrichment.load(config.enrich)
    stray = "192.0.2.200"
    case = Case(
        TESTER, [TESTER], [finding("slow_scan", TESTER, 0, 600, [stray, IN_SCOPE])],
        Activity(), destinations=[IN_SCOPE],
    )  # fmt: skip
    (out,) = triage([case], config, enrichment=enrichment)
    assert out.disposition != "approved_exercise"
    assert any("outside its scope" in r and stray in r for r in out.reasons)
    assert out.checklist[1]["result"] == f"{TESTER}: outside_scope (Q1 red team)"


def test_dns_names_without_auth_logs_leave_the_user_activity_step_not_done() -> None:
    case = Case(
        "c2", [SCANNER], [finding("vertical_scan", SCANNER, 0, 60)],
        Activity(host_names=["ws-17.corp.example.com"]),
    )  # fmt: skip
    (out,) = triage([case], Config(), tables=("network", "dns"))
    step = out.checklist[2]
    assert step["step"].startswith("Correlate with user activity")
    assert step["status"] == "not done"
    assert "no user-activity" in step["result"] and "ws-17.corp.example.com" in step["result"]
