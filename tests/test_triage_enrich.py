"""Triage with enrichment: threat intel, known research scanners, approved exercises."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import stix2
import yaml

from reconwatch.cases import Case
from reconwatch.config import Config
from reconwatch.hunt import hunt
from reconwatch.ingest.run import IngestOptions

LINE = (
    "Sep 30 {time} fw1 kernel: [1.0] RW-DROP: IN=eth0 OUT= MAC=00:00 SRC={src} "
    "DST=203.0.113.10 LEN=44 TOS=0x00 PREC=0x00 TTL=43 ID=1 PROTO=TCP SPT=40000 "
    "DPT={port} WINDOW=1024 RES=0x00 SYN URGP=0 "
)
NOW = IngestOptions(now=dt.datetime(2026, 11, 28, tzinfo=dt.UTC))
SHODAN = "134.209.95.237"  # listed in ../shared/data/benign-scanners/shodan-scanning.json
ACTOR = "192.0.2.66"
RED_TEAM = "198.51.100.3"


def scan(src: str, time: str = "10:00:00", ports: int = 120) -> list[str]:
    return [LINE.format(time=time, src=src, port=p) for p in range(1, ports + 1)]


def run(tmp_path: Path, enrich: dict[str, object], lines: list[str]) -> dict[str, Case]:
    log = tmp_path / "kern.log"
    log.write_text("\n".join(lines) + "\n")
    config = Config.model_validate({"enrich": enrich})
    result = hunt([str(log)], config, options=NOW)
    return {c.sources[0]: c for c in result.cases}


def test_threat_intel_match_names_the_actor_and_escalates(tmp_path: Path) -> None:
    feed = tmp_path / "bad.txt"
    feed.write_text("# partner feed\n192.0.2.0/24\n")
    cases = run(
        tmp_path,
        {"feeds": [{"name": "partner", "type": "plain", "path": str(feed), "actor": "APT-Test"}]},
        scan(ACTOR, ports=20),
    )
    case = cases[ACTOR]
    known = case.criteria["known_threat_actor"]
    assert known["met"] is True
    assert "feed partner" in known["evidence"][0] and "APT-Test" in known["evidence"][0]
    assert case.escalate and case.disposition == "malicious"
    answer = next(iter(v for k, v in case.answers.items() if "known malicious" in k))
    assert answer.startswith("Yes.") and "APT-Test" in answer


def test_no_feed_means_not_checked_not_clean(tmp_path: Path) -> None:
    case = run(tmp_path, {}, scan(ACTOR, ports=20))[ACTOR]
    assert case.criteria["known_threat_actor"]["met"] is None
    assert case.checklist[0]["status"] == "not done"


def test_known_research_scanner_is_recorded_not_escalated(
    tmp_path: Path, shared_data: Path
) -> None:
    lists = [str(shared_data / "benign-scanners" / "shodan-scanning.json")]
    cases = run(tmp_path, {"warninglists": lists}, scan(SHODAN) + scan(ACTOR))
    shodan, actor = cases[SHODAN], cases[ACTOR]
    assert shodan.disposition == "benign_scanner" and not shodan.escalate
    assert "Shodan" in shodan.reasons[0]
    assert actor.disposition == "malicious" and actor.escalate


def test_a_research_scanner_that_matches_threat_intel_is_not_suppressed(
    tmp_path: Path, shared_data: Path
) -> None:
    lists = [str(shared_data / "benign-scanners" / "shodan-scanning.json")]
    feed = tmp_path / "bad.txt"
    feed.write_text(f"{SHODAN}\n")
    enrich = {
        "warninglists": lists,
        "feeds": [{"name": "partner", "type": "plain", "path": str(feed), "actor": "APT-Test"}],
    }
    shodan = run(tmp_path, enrich, scan(SHODAN))[SHODAN]
    assert shodan.criteria["known_threat_actor"]["met"] is True
    assert shodan.enrichment[SHODAN]["benign_lists"]  # on the list all the same
    assert shodan.disposition == "malicious" and shodan.escalate
    assert any("matches threat intelligence: not suppressed" in r for r in shodan.reasons)


def test_exercise_inside_window_and_scope_is_approved_outside_is_flagged(tmp_path: Path) -> None:
    calendar = tmp_path / "exercises.yaml"
    calendar.write_text(
        yaml.safe_dump(
            {
                "exercises": [
                    {
                        "name": "Q3 red team",
                        "sources": ["198.51.100.0/28"],
                        "start": "2026-09-30T09:00:00Z",
                        "end": "2026-09-30T11:00:00Z",
                        "scope": ["203.0.113.0/24"],
                        "contact": "red@example.com",
                    }
                ]
            }
        )
    )
    inside = run(tmp_path, {"exercises": str(calendar)}, scan(RED_TEAM, "10:00:00"))[RED_TEAM]
    assert inside.disposition == "approved_exercise" and not inside.escalate
    late = run(tmp_path, {"exercises": str(calendar)}, scan(RED_TEAM, "12:00:00"))[RED_TEAM]
    assert late.escalate and late.disposition == "malicious"
    assert any("outside its window" in r for r in late.reasons)
    # Escalated, but an approved exercise's source is never blocked.
    assert late.containment["block"] is False
    assert "allowlisted" in late.containment["refused"][RED_TEAM]


def test_an_unreadable_feed_is_a_warning_not_silence(tmp_path: Path) -> None:
    log = tmp_path / "kern.log"
    log.write_text("\n".join(scan(ACTOR, ports=20)) + "\n")
    missing = tmp_path / "nope.txt"
    config = Config.model_validate(
        {"enrich": {"feeds": [{"name": "gone", "type": "plain", "path": str(missing)}]}}
    )
    result = hunt([str(log)], config, options=NOW, out_dir=tmp_path / "out")
    assert any("gone" in w and "enrichment" in w for w in result.warnings)
    assert result.document()["warnings"] == result.warnings
    # report.md lists it as report.html does: what the report's figures may lack.
    report = (tmp_path / "out" / "report.md").read_text()
    assert "enrichment" in report and "gone" in report


def test_a_too_wide_benign_entry_does_not_hide_a_scan(tmp_path: Path) -> None:
    poisoned = tmp_path / "poisoned.json"
    poisoned.write_text(
        json.dumps({"name": "poisoned", "type": "cidr", "list": ["0.0.0.0/1", "128.0.0.0/1"]})
    )
    case = run(tmp_path, {"warninglists": [str(poisoned)]}, scan(ACTOR))[ACTOR]
    assert case.enrichment[ACTOR]["benign_lists"] == []
    assert case.disposition == "malicious" and case.escalate


def test_an_expired_or_revoked_indicator_is_no_known_threat_actor(tmp_path: Path) -> None:
    expired = stix2.Indicator(
        pattern=f"[ipv4-addr:value = '{ACTOR}']", pattern_type="stix",
        valid_from="2025-01-01T00:00:00Z", valid_until="2025-06-01T00:00:00Z",
    )  # fmt: skip
    listed = stix2.Indicator(
        pattern=f"[ipv4-addr:value = '{RED_TEAM}']", pattern_type="stix",
        valid_from="2025-01-01T00:00:00Z", modified="2025-01-01T00:00:00Z",
        created="2025-01-01T00:00:00Z",
    )  # fmt: skip
    withdrawn = listed.new_version(revoked=True, modified="2025-02-01T00:00:00Z")
    feed = tmp_path / "bundle.json"
    feed.write_text(stix2.Bundle(expired, listed, withdrawn).serialize())
    cases = run(
        tmp_path,
        {"feeds": [{"name": "stix", "type": "stix", "path": str(feed)}]},
        scan(ACTOR, ports=20) + scan(RED_TEAM, ports=20),
    )
    for source in (ACTOR, RED_TEAM):
        assert cases[source].criteria["known_threat_actor"]["met"] is False
        assert cases[source].enrichment[source]["intel"] == []


def test_indicators_are_judged_valid_at_the_hunts_reference_time(tmp_path: Path) -> None:
    """A hunt given a fixed ``now`` (a replay) judges validity then, not by the clock."""
    indicator = stix2.Indicator(
        pattern=f"[ipv4-addr:value = '{ACTOR}']", pattern_type="stix",
        valid_from="2025-01-01T00:00:00Z", valid_until="2025-06-01T00:00:00Z",
    )  # fmt: skip
    feed = tmp_path / "bundle.json"
    feed.write_text(stix2.Bundle(indicator).serialize())
    log = tmp_path / "kern.log"
    log.write_text("\n".join(scan(ACTOR, ports=20)) + "\n")
    config = Config.model_validate(
        {"enrich": {"feeds": [{"name": "stix", "type": "stix", "path": str(feed)}]}}
    )
    then = IngestOptions(now=dt.datetime(2025, 3, 1, tzinfo=dt.UTC))
    case = next(c for c in hunt([str(log)], config, options=then).cases if ACTOR in c.sources)
    assert case.criteria["known_threat_actor"]["met"] is True
