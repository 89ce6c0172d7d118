"""Triage verdicts on real hunts of small logs: compromise timing, exercises, history, intel.

Each test hunts a few netfilter, sshd or nginx JSON lines end to end, so the
facts triage reads (activity, destinations, sightings) come from the lake as
in production.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import yaml

from reconwatch.cases import Case
from reconwatch.config import Config
from reconwatch.hunt import HuntResult, hunt
from reconwatch.ingest.run import IngestOptions
from reconwatch.store import CaseStore
from reconwatch.triage import QUESTIONS

NOW = IngestOptions(now=dt.datetime(2026, 11, 28, tzinfo=dt.UTC))
NETFILTER = (
    "{stamp} fw1 kernel: [1.0] RW-{action}: IN=eth0 OUT= MAC=00:00 SRC={src} DST={dst} LEN=44 "
    "TOS=0x00 PREC=0x00 TTL=43 ID=1 PROTO=TCP SPT=40000 DPT={port} WINDOW=1024 RES=0x00 "
    "SYN URGP=0"
)
SSHD = "{stamp} bastion sshd[123]: {outcome} password for {user} from {src} port 50000 ssh2"
SCANNER = "198.51.100.8"
OURS = "203.0.113.10"


def scan(day: str, hhmm: str, src: str, dst: str = OURS, ports: int = 20) -> list[str]:
    """A SYN scan of ``ports`` ports, one a second, from ``day``T``hhmm``:00Z."""
    return [
        NETFILTER.format(
            stamp=f"{day}T{hhmm}:{p - 1:02d}+00:00", action="DROP", src=src, dst=dst, port=p
        )
        for p in range(1, ports + 1)
    ]


def accepted(stamp: str, src: str, dst: str, port: int) -> str:
    """A connection the firewall let through (``connection_outcome`` succeeded)."""
    return NETFILTER.format(stamp=stamp, action="ACCEPT", src=src, dst=dst, port=port)


def login(stamp: str, user: str, src: str = SCANNER, outcome: str = "Accepted") -> str:
    return SSHD.format(stamp=stamp, outcome=outcome, user=user, src=src)


def web(stamp: str, src: str, server: str, path: str, status: int, agent: str) -> str:
    return json.dumps(
        {
            "time_iso8601": stamp,
            "remote_addr": src,
            "server_addr": server,
            "host": server,
            "request_method": "GET",
            "request_uri": path,
            "server_protocol": "HTTP/1.1",
            "status": str(status),
            "http_user_agent": agent,
        }
    )


def write(path: Path, lines: list[str]) -> str:
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def run(
    tmp_path: Path,
    logs: dict[str, list[str]],
    enrich: dict[str, Any] | None = None,
    out: Path | None = None,
) -> HuntResult:
    paths = [write(tmp_path / name, lines) for name, lines in logs.items()]
    config = Config.model_validate({"enrich": enrich or {}})
    return hunt(paths, config, out_dir=out, options=NOW)


def case_of(result: HuntResult, source: str) -> Case:
    (case,) = [c for c in result.cases if source in c.sources]
    return case


def calendar(tmp_path: Path) -> Path:
    """The Q3 red team: 198.51.100.0/28, 10:00-12:00 UTC on 30 September, 203.0.113.0/24."""
    path = tmp_path / "exercises.yaml"
    exercise = {
        "name": "Q3 red team",
        "sources": ["198.51.100.0/28"],
        "start": "2026-09-30T12:00:00+02:00",
        "end": "2026-09-30T14:00:00+02:00",
        "scope": ["203.0.113.0/24"],
        "contact": "rt@example.com",
    }
    path.write_text(yaml.safe_dump({"exercises": [exercise]}))
    return path


# -- signs of compromise: only what came at or after the scan began -------------------


def test_a_login_after_the_scan_is_compromise_although_another_came_before(
    tmp_path: Path,
) -> None:
    result = run(
        tmp_path,
        {
            "kern.log": scan("2026-09-30", "10:00", SCANNER),
            "auth.log": [
                login("2026-09-30T09:00:00+00:00", "bob"),
                login("2026-09-30T10:30:00+00:00", "mallory"),
            ],
        },
    )
    case = case_of(result, SCANNER)
    compromise = case.criteria["compromise"]
    assert compromise["met"] is True
    (login_evidence,) = [e for e in compromise["evidence"] if "login" in e]
    assert "2026-09-30 10:30:00 UTC" in login_evidence and "mallory" in login_evidence
    assert "bob" not in login_evidence
    assert "2026-09-30 09:00:00 UTC" in login_evidence  # the earlier one, said as such
    assert case.escalate and case.disposition == "malicious"
    act = case.activity
    assert act.first_auth_success == dt.datetime(2026, 9, 30, 9, tzinfo=dt.UTC)
    assert act.first_auth_success_after_scan == dt.datetime(2026, 9, 30, 10, 30, tzinfo=dt.UTC)
    assert (act.auth_successes_after_scan, act.auth_success_users_after_scan) == (1, ["mallory"])
    users = case.checklist[2]["result"]
    assert "first success 2026-09-30 09:00:00 UTC (before the scan)" in users
    assert "first after the scan began 2026-09-30 10:30:00 UTC" in users
    document = result.document()["cases"][0]["activity"]
    assert document["first_auth_success_after_scan"] == "2026-09-30T10:30:00Z"
    assert document["auth_success_users_after_scan"] == ["mallory"]


def test_only_logins_before_the_scan_are_no_compromise(tmp_path: Path) -> None:
    result = run(
        tmp_path,
        {
            "kern.log": scan("2026-09-30", "10:00", SCANNER),
            "auth.log": [login("2026-09-30T09:00:00+00:00", "bob")],
        },
    )
    case = case_of(result, SCANNER)
    assert case.criteria["compromise"]["met"] is False
    assert "came before it" in case.criteria["compromise"]["evidence"][0]
    assert case.activity.first_auth_success_after_scan is None
    assert "(before the scan)" in case.checklist[2]["result"]


def test_a_connection_back_to_the_source_before_the_scan_is_not_compromise(
    tmp_path: Path,
) -> None:
    day_before = accepted("2026-09-29T10:00:00+00:00", OURS, SCANNER, 443)
    result = run(tmp_path, {"kern.log": [day_before, *scan("2026-09-30", "10:00", SCANNER)]})
    case = case_of(result, SCANNER)
    compromise = case.criteria["compromise"]
    assert compromise["met"] is False, compromise
    assert not case.escalate
    assert case.activity.back_connections == 0
    assert case.activity.back_connections_before_scan == 1
    assert any("before the scan began" in e for e in compromise["evidence"])


def test_a_connection_back_to_the_source_after_the_scan_is_compromise(tmp_path: Path) -> None:
    before = accepted("2026-09-29T10:00:00+00:00", OURS, SCANNER, 443)
    after = accepted("2026-09-30T10:05:00+00:00", OURS, SCANNER, 4444)
    result = run(tmp_path, {"kern.log": [before, *scan("2026-09-30", "10:00", SCANNER), after]})
    case = case_of(result, SCANNER)
    assert case.criteria["compromise"]["met"] is True
    assert case.activity.back_connections == 1
    assert case.activity.back_connection_samples == [f"{OURS}:4444"]
    assert case.activity.back_connections_before_scan == 1


# -- approved exercises -------------------------------------------------------------


def nikto(src: str, server: str) -> list[str]:
    agent = "Mozilla/5.00 (Nikto/2.1.6)"
    return [
        web("2026-09-30T10:02:00+00:00", src, server, "/admin/", 404, agent),
        web("2026-09-30T10:02:01+00:00", src, server, "/test/", 404, agent),
    ]


def test_approved_web_reconnaissance_is_judged_on_the_hosts_it_touched(tmp_path: Path) -> None:
    enrich = {"exercises": str(calendar(tmp_path))}
    inside = run(tmp_path, {"access.json": nikto("198.51.100.3", "203.0.113.80")}, enrich)
    case = case_of(inside, "198.51.100.3")
    assert "web_scanner_user_agent" in case.detections
    assert case.disposition == "approved_exercise" and not case.escalate
    assert case.checklist[1]["result"] == "198.51.100.3: in_exercise (Q3 red team)"
    # The same requests to a server outside the scope are flagged, naming the server.
    outside = run(tmp_path, {"access.json": nikto("198.51.100.3", "192.0.2.80")}, enrich)
    strayed = case_of(outside, "198.51.100.3")
    assert strayed.disposition != "approved_exercise"
    assert any("outside its scope" in r and "192.0.2.80" in r for r in strayed.reasons)


def test_a_login_after_the_exercise_window_is_not_covered_by_it(tmp_path: Path) -> None:
    red = "198.51.100.4"
    result = run(
        tmp_path,
        {
            "kern.log": scan("2026-09-30", "10:01", red),
            "auth.log": [login("2026-09-30T15:00:00+00:00", "root", red)],
        },
        {"exercises": str(calendar(tmp_path))},
    )
    case = case_of(result, red)
    assert case.criteria["compromise"]["met"] is True
    assert case.escalate and case.disposition == "malicious"
    assert any("Q3 red team" in r and "not suppressed" in r for r in case.reasons)
    assert case.checklist[1]["result"] == f"{red}: outside_window (Q3 red team)"


def test_a_sign_of_compromise_inside_the_exercise_window_and_scope_is_not_covered(
    tmp_path: Path,
) -> None:
    red = "198.51.100.4"
    # The scanned host connects back to the tester within the window.
    back = accepted("2026-09-30T10:30:00+00:00", OURS, red, 4444)
    result = run(
        tmp_path,
        {"kern.log": [*scan("2026-09-30", "10:01", red), back]},
        {"exercises": str(calendar(tmp_path))},
    )
    case = case_of(result, red)
    assert case.criteria["compromise"]["met"] is True
    assert case.escalate and case.disposition == "malicious"
    assert any(
        "Q3 red team" in r and "more than scan" in r and "rt@example.com" in r for r in case.reasons
    )
    assert case.checklist[1]["result"] == f"{red}: in_exercise (Q3 red team)"


def test_events_naming_no_host_are_not_shown_in_the_exercise_scope(tmp_path: Path) -> None:
    red = "198.51.100.4"
    # sshd names no address of ours: the host tried is not known to be in scope.
    result = run(
        tmp_path,
        {
            "kern.log": scan("2026-09-30", "10:01", red),
            "auth.log": [login("2026-09-30T10:30:00+00:00", "root", red, outcome="Failed")],
        },
        {"exercises": str(calendar(tmp_path))},
    )
    case = case_of(result, red)
    assert case.disposition != "approved_exercise"
    touching = "outside its scope, touching a host its logs do not name"
    assert any(touching in r for r in case.reasons)


def test_other_activity_outside_the_exercise_window_is_not_covered(tmp_path: Path) -> None:
    red = "198.51.100.4"
    result = run(
        tmp_path,
        {
            "kern.log": scan("2026-09-30", "10:01", red),
            "auth.log": [login("2026-09-30T15:00:00+00:00", "root", red, outcome="Failed")],
        },
        {"exercises": str(calendar(tmp_path))},
    )
    case = case_of(result, red)
    assert case.disposition != "approved_exercise"
    assert any("outside its window" in r for r in case.reasons)
    assert case.activity.active_until == dt.datetime(2026, 9, 30, 15, tzinfo=dt.UTC)


# -- repeated scanning across hunts -------------------------------------------------


def test_a_sighting_that_was_no_scan_is_not_an_earlier_episode(tmp_path: Path) -> None:
    src = "198.51.100.30"
    out = tmp_path / "out"
    bare = [
        web(f"2026-09-30T10:{m:02d}:00+00:00", src, "203.0.113.80", "/", 200, "curl/8.0")
        for m in range(5)
    ]
    first = run(tmp_path, {"access.json": bare}, out=out)
    assert case_of(first, src).detections == ["web_host_bare_ip"]
    second = run(tmp_path, {"kern.log": scan("2026-10-01", "10:00", src)}, out=out)
    case = case_of(second, src)
    assert case.criteria["repeated_scanning"]["met"] is False, case.reasons
    assert not case.escalate
    store = CaseStore(f"sqlite:///{out / 'reconwatch.db'}")
    try:
        (stored,) = store.list()
        assert (stored.runs, stored.episodes) == (2, 1)
    finally:
        store.close()
    # A scan on a third day is the second scan episode: repeated.
    third = run(tmp_path, {"kern.log": scan("2026-10-02", "10:00", src)}, out=out)
    again = case_of(third, src)
    assert again.escalate
    assert any(
        "across hunts: 2 separate episodes including 1 earlier scan episode" in r
        for r in again.reasons
    )


# -- threat intelligence and calendars that could not be read -----------------------


def test_an_unreadable_feed_is_not_checked_not_clean(tmp_path: Path) -> None:
    feeds = [{"name": "partner", "type": "plain", "path": str(tmp_path / "nonexistent.txt")}]
    result = run(tmp_path, {"kern.log": scan("2026-09-30", "10:00", SCANNER)}, {"feeds": feeds})
    case = case_of(result, SCANNER)
    known = case.criteria["known_threat_actor"]
    assert known["met"] is None
    assert "could not be read" in known["evidence"][0] and "partner" in known["evidence"][0]
    assert case.checklist[0]["status"] == "not done"
    assert "partner" in case.checklist[0]["result"]
    answer = case.answers[QUESTIONS[1]]
    assert answer.startswith("Not checked") and "could not be read" in answer


def test_a_feed_that_loaded_and_one_that_did_not_are_each_named(tmp_path: Path) -> None:
    good = tmp_path / "good.txt"
    good.write_text("192.0.2.0/24\n")
    feeds = [
        {"name": "good", "type": "plain", "path": str(good)},
        {"name": "gone", "type": "plain", "path": str(tmp_path / "nonexistent.txt")},
    ]
    result = run(tmp_path, {"kern.log": scan("2026-09-30", "10:00", SCANNER)}, {"feeds": feeds})
    case = case_of(result, SCANNER)
    known = case.criteria["known_threat_actor"]
    assert known["met"] is None
    text = " ".join(known["evidence"])
    assert "no source matches feed good" in text and "gone could not be read" in text
    assert case.checklist[0]["status"] == "not done"
    answer = case.answers[QUESTIONS[1]]
    assert "good" in answer and "gone" in answer and not answer.startswith("No:")
    # A match in the feed that loaded is a match all the same.
    matched = run(
        tmp_path, {"kern.log": scan("2026-09-30", "10:00", "192.0.2.66")}, {"feeds": feeds}
    )
    hit = case_of(matched, "192.0.2.66").criteria["known_threat_actor"]
    assert hit["met"] is True
    assert any("gone could not be read" in e for e in hit["evidence"])


def test_an_unreadable_exercise_calendar_is_not_a_clean_check(tmp_path: Path) -> None:
    broken = tmp_path / "exercises.yaml"
    broken.write_text("exercises: [\n")
    result = run(
        tmp_path,
        {"kern.log": scan("2026-09-30", "10:00", SCANNER)},
        {"exercises": str(broken)},
    )
    step = case_of(result, SCANNER).checklist[1]
    assert step["status"] == "not done"
    assert "could not be read" in step["result"] and "exercises.yaml" in step["result"]


# -- the Tier 2 package ------------------------------------------------------------


def test_related_sources_are_listed_by_address(tmp_path: Path) -> None:
    sources = ["198.51.100.9", "198.51.100.10", "198.51.100.100", "198.51.100.20"]
    lines = [line for s in sources for line in scan("2026-09-30", "10:00", s)]
    result = run(tmp_path, {"kern.log": lines})
    related = case_of(result, "198.51.100.9").tier2["related_sources"]
    assert related == ["198.51.100.10", "198.51.100.20", "198.51.100.100"]


def test_by_address_puts_ipv4_before_ipv6_in_numeric_order() -> None:
    from reconwatch.triage import by_address

    shuffled = ["2001:db8::10", "10.0.0.10", "2001:db8::9", "10.0.0.9", "9.0.0.1"]
    assert sorted(shuffled, key=by_address) == [
        "9.0.0.1", "10.0.0.9", "10.0.0.10", "2001:db8::9", "2001:db8::10",
    ]  # fmt: skip
