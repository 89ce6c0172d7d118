"""The escalation rules' two splits: secrets served versus admin interfaces
served (signs of compromise), and which reconnaissance counts as "repeated
scanning from the same source" (port scans, DNS enumeration, web recon)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import ibis
import pyarrow as pa

from conftest import table_rows
from reconwatch import schema
from reconwatch.cases import Activity, Case, Finding, build_cases
from reconwatch.config import Config
from reconwatch.detect import DETECTIONS, run_detections
from reconwatch.detect.web import (
    is_admin_interface,
    is_secret,
    is_sensitive,
    sensitive_families,
    sensitive_paths,
)
from reconwatch.report.casejson import case_to_dict
from reconwatch.triage import QUESTIONS, SCAN_DETECTIONS, scan_episodes, triage
from reconwatch.watch.detector import WindowDetections

SOURCE = "198.51.100.44"
HOUR = 3600
DAY = 86400


def hunt(
    http: list[dict[str, Any]] | None = None,
    dns: list[dict[str, Any]] | None = None,
    auth: list[dict[str, Any]] | None = None,
) -> Case:
    tables = {}
    if auth is not None:
        tables["auth"] = ibis.memtable(
            table_rows(
                schema.AUTH,
                {
                    "source_ip": SOURCE,
                    "destination_ip": "203.0.113.22",
                    "event_dataset": "sshd",
                    "log_file": "auth.log",
                    "event_action": "login",
                    "service_name": "sshd",
                },
                auth,
            )
        )
    if http is not None:
        tables["http"] = ibis.memtable(
            table_rows(
                schema.HTTP,
                {
                    "source_ip": SOURCE,
                    "destination_ip": "203.0.113.80",
                    "event_dataset": "nginx",
                    "log_file": "access.log",
                    "http_response_status_code": 404,
                },
                http,
            )
        )
    if dns is not None:
        tables["dns"] = ibis.memtable(
            table_rows(
                schema.DNS,
                {
                    "source_ip": SOURCE,
                    "destination_ip": "203.0.113.53",
                    "event_dataset": "bind",
                    "log_file": "query.log",
                    "dns_question_type": "A",
                    "dns_question_class": "IN",
                },
                dns,
            )
        )
    config = Config()
    findings = run_detections(tables, config.detect)
    cases = triage(build_cases(tables, findings, 3), config, tables=list(tables))
    (case,) = [c for c in cases if c.sources == [SOURCE]]
    return case


NIKTO = "Mozilla/5.00 (Nikto/2.1.6) (Evasions:None) (Test:000003)"


def scanner(path: str, status: int, seconds: int = 0) -> dict[str, Any]:
    return {
        "url_path": path,
        "http_response_status_code": status,
        "user_agent_original": NIKTO,
        "seconds": seconds,
    }


# --- data/sensitive_paths.yaml: secrets versus admin interfaces --------------------------------


def test_secrets_and_admin_interfaces_are_told_apart() -> None:
    paths = {
        "/.env": (True, False),
        "/app/.git/config": (True, False),
        "/backup.sql": (True, False),
        "/id_rsa": (True, False),
        "/wp-login.php": (False, True),
        "/wp-admin/": (False, True),
        "/xmlrpc.php": (False, True),
        "/phpmyadmin2017/index.php": (False, True),
        "/manager/html": (False, True),
        "/administrator/index.php": (False, True),
        # Under an admin path but a secret all the same: the secret wins.
        "/phpmyadmin/.env": (True, False),
        "/index.html": (False, False),
    }
    t = ibis.memtable(pa.table({"p": pa.array(list(paths), pa.string())}))
    got = t.select(s=is_secret(t.p), a=is_admin_interface(t.p), any=is_sensitive(t.p))
    rows = got.to_pyarrow().to_pylist()
    assert {p: (r["s"], r["a"]) for p, r in zip(paths, rows, strict=True)} == paths
    # The probing detection (and the Sigma export) still reads both lists.
    assert [r["any"] for r in rows] == [s or a for s, a in paths.values()]
    assert {"/.env", "/wp-login.php", "/manager/html"} <= set(sensitive_paths())
    assert "/phpmyadmin" in sensitive_families()


def test_a_login_page_served_is_an_exposed_admin_interface_not_a_compromise() -> None:
    # A web scanner on a WordPress site: /wp-login.php answers 200 to everyone.
    # It used to meet "signs of compromise" and escalate the scan as malicious.
    case = hunt([scanner("/", 200), scanner("/wp-login.php", 200, 1), scanner("/.env", 404, 2)])
    act = case.activity
    assert (act.sensitive_successes, act.sensitive_success_paths) == (0, [])
    assert (act.admin_successes, act.admin_success_paths) == (1, ["/wp-login.php"])
    compromise = case.criteria["compromise"]
    assert compromise["met"] is False
    assert any(
        "exposed admin interface" in e and "/wp-login.php" in e for e in compromise["evidence"]
    )
    assert case.escalate is False and case.disposition == "suspicious"
    assert "Exposed admin interface(s)" in case.answers[QUESTIONS[0]]
    assert "/wp-login.php" in case.answers[QUESTIONS[0]]
    activity = case_to_dict(case)["activity"]
    assert activity["admin_successes"] == 1
    assert activity["admin_success_paths"] == ["/wp-login.php"]
    assert activity["sensitive_successes"] == 0


def test_a_secret_served_is_still_a_sign_of_compromise() -> None:
    case = hunt([scanner("/.env", 200), scanner("/wp-login.php", 200, 1)])
    act = case.activity
    assert (act.sensitive_successes, act.sensitive_success_paths) == (1, ["/.env"])
    assert (act.admin_successes, act.admin_success_paths) == (1, ["/wp-login.php"])
    compromise = case.criteria["compromise"]
    assert compromise["met"] is True and case.escalate is True
    assert "/.env" in compromise["evidence"][0] and "data exposed" in compromise["evidence"][0]
    assert "/wp-login.php" not in " ".join(case.reasons[:1])


def test_a_login_after_the_scan_names_only_the_users_who_logged_in() -> None:
    case = hunt(
        [scanner("/.git/HEAD", 404)],
        auth=[
            {"user_name": "admin", "event_outcome": "failure", "seconds": 60},
            {"user_name": "root", "event_outcome": "failure", "seconds": 61},
            {"user_name": "alice", "event_outcome": "success", "seconds": 62},
        ],
    )
    act = case.activity
    assert act.auth_users == ["admin", "alice", "root"]
    assert act.auth_success_users == ["alice"]
    compromise = case.criteria["compromise"]
    assert compromise["met"] is True
    assert compromise["evidence"][0].endswith("user(s): alice")
    assert case_to_dict(case)["activity"]["auth_success_users"] == ["alice"]
    # The access question names the logins: VPN and SSH are public-facing too.
    q1 = case.answers[QUESTIONS[0]]
    assert "3 login attempt(s) to our services, 2 failed; 1 succeeded (as alice)" in q1


def test_the_access_answer_of_a_dns_only_source_names_its_login() -> None:
    case = hunt(
        dns=_name_brute_force(["NXDOMAIN"]),
        auth=[{"user_name": "bob", "event_outcome": "success", "seconds": 120}],
    )
    q1 = case.answers[QUESTIONS[0]]
    assert q1.startswith("Yes. ") and "1 succeeded (as bob)" in q1
    assert "no network" not in q1


def test_the_access_answer_of_a_dns_only_source_names_its_queries() -> None:
    """Our DNS servers are public-facing: a name brute force is access to them."""
    q1 = hunt(dns=_name_brute_force(["NXDOMAIN"])).answers[QUESTIONS[0]]
    assert q1 == (
        f"Yes. External source {SOURCE} sent our DNS servers 60 queries for 60 distinct names."
    )


def test_a_login_before_the_scan_is_not_called_no_login() -> None:
    case = hunt(
        [scanner("/.git/HEAD", 404, 600)],
        auth=[{"user_name": "alice", "event_outcome": "success", "seconds": 0}],
    )
    compromise = case.criteria["compromise"]
    assert compromise["met"] is False
    assert "no login success after the scan began" in compromise["evidence"][0]
    assert "came before it" in compromise["evidence"][0]


def test_campaign_activity_merges_admin_successes() -> None:
    from reconwatch.cases import _merge

    one = Activity(admin_successes=1, admin_success_paths=["/wp-login.php"])
    two = Activity(
        admin_successes=2,
        admin_success_paths=["/manager/html"],
        sensitive_successes=1,
        sensitive_success_paths=["/.env"],
    )
    merged = _merge([one, two])
    assert merged.admin_successes == 3
    assert merged.admin_success_paths == ["/manager/html", "/wp-login.php"]
    assert (merged.sensitive_successes, merged.sensitive_success_paths) == (1, ["/.env"])


def test_watch_mode_critical_only_for_secrets_served() -> None:
    detections = WindowDetections(Config(), ["web_sensitive_path_probe"])
    try:
        rows = table_rows(
            schema.HTTP,
            {"destination_ip": "203.0.113.80", "log_file": "access.log"},
            [
                {
                    "source_ip": "192.0.2.1",
                    "url_path": "/wp-login.php",
                    "http_response_status_code": 200,
                },
                {
                    "source_ip": "192.0.2.2",
                    "url_path": "/phpmyadmin/",
                    "http_response_status_code": 200,
                },
                {
                    "source_ip": "192.0.2.3",
                    "url_path": "/.git/config",
                    "http_response_status_code": 200,
                },
                {"source_ip": "192.0.2.4", "url_path": "/.env", "http_response_status_code": 404},
            ],
        )
        hits = detections.sensitive_successes(rows)
    finally:
        detections.close()
    assert hits.column("source_ip").to_pylist() == ["192.0.2.3"]


# --- repeated scanning: every reconnaissance detection ----------------------------------------


def axfr(seconds: int) -> dict[str, Any]:
    return {
        "dns_question_name": "example.com",
        "dns_question_type": "AXFR",
        "dns_response_code": "REFUSED",
        "seconds": seconds,
    }


def test_zone_transfers_on_separate_days_are_repeated_scanning() -> None:
    # The bind9-refused sample's pattern: AXFR refused, once a day, four days.
    case = hunt(dns=[axfr(n * DAY) for n in range(4)])
    assert case.detections == ["zone_transfer"]
    repeated = case.criteria["repeated_scanning"]
    assert repeated["met"] is True, repeated
    assert "4 separate scan episodes" in repeated["evidence"][0]
    assert "zone_transfer" in repeated["evidence"][0]
    assert case.escalate is True and case.disposition == "malicious"


def test_one_zone_transfer_attempt_is_not_repeated_scanning() -> None:
    case = hunt(dns=[axfr(0), axfr(60)])
    assert case.criteria["repeated_scanning"]["met"] is False
    assert case.escalate is False


def test_web_recon_in_two_episodes_is_repeated_and_one_is_not() -> None:
    once = hunt([scanner("/", 404), scanner("/admin", 404, 5)])
    assert once.criteria["repeated_scanning"]["met"] is False
    assert "1 scan episode(s)" in once.criteria["repeated_scanning"]["evidence"][0]
    twice = hunt([scanner("/", 404), scanner("/", 404, 5 * HOUR)])
    assert [f.detection for f in twice.findings] == ["web_scanner_user_agent"] * 2
    assert twice.criteria["repeated_scanning"]["met"] is True
    assert twice.escalate is True


def test_bare_ip_host_requests_alone_never_repeat() -> None:
    # An uptime monitor addressing the server by IP every 20 minutes: a
    # web_host_bare_ip finding every hour, but monitoring, not scanning.
    rows = [
        {"url_domain": "203.0.113.80", "url_path": "/", "http_response_status_code": 200,
         "seconds": n * 1200}
        for n in range(3 * 6)
    ]  # fmt: skip
    case = hunt(rows)
    assert set(case.detections) == {"web_host_bare_ip"} and len(case.findings) >= 2
    assert case.criteria["repeated_scanning"]["met"] is False
    assert case.escalate is False


def test_the_scan_detections_are_known_and_exclusions_are_deliberate() -> None:
    assert set(DETECTIONS) >= SCAN_DETECTIONS
    left_out = set(DETECTIONS) - SCAN_DETECTIONS
    assert left_out == {"traffic_spike", "private_answer_leak", "web_host_bare_ip"}


BASE = dt.datetime(2026, 1, 5, tzinfo=dt.UTC)


def finding(detection: str, start: int, end: int) -> Finding:
    return Finding(
        detection, SOURCE, None, BASE + dt.timedelta(seconds=start),
        BASE + dt.timedelta(seconds=end), 10, 5, 1, [], [], 5.0, None,
    )  # fmt: skip


def test_a_whole_input_summary_does_not_swallow_separate_bursts() -> None:
    # dark_space_probe spans its first to last dark contact over the whole
    # input; the two vertical scans three hours apart stay two episodes.
    findings = [
        finding("dark_space_probe", 0, 6 * HOUR),
        finding("vertical_scan", 60, 300),
        finding("vertical_scan", 3 * HOUR, 3 * HOUR + 300),
    ]
    case = Case("c", [SOURCE], findings, Activity())
    episodes = scan_episodes(case, Config().triage.repeat_gap_seconds)
    assert [[f.detection for f in e] for e in episodes] == [
        ["dark_space_probe", "vertical_scan"],
        ["vertical_scan"],
    ]


def test_one_slow_scan_running_past_midnight_is_one_episode() -> None:
    """slow_scan reports one finding per UTC day: the day after's continues the scan.

    A scan probing every few minutes from 20:00 to 04:00 is one finding ending
    near 23:59 and one starting near 00:00: one episode, not "repeated"; a
    burst three hours after the slow scan's first day began is still its own.
    """
    day = 24 * HOUR
    gap = Config().triage.repeat_gap_seconds
    midnight = [finding("slow_scan", 0, day - 120), finding("slow_scan", day + 60, day + 4 * HOUR)]
    episodes = scan_episodes(Case("c", [SOURCE], midnight, Activity()), gap)
    assert [[f.detection for f in e] for e in episodes] == [["slow_scan", "slow_scan"]]
    # Two days apart (a quiet day between): two episodes.
    apart = [finding("slow_scan", 0, day - 120), finding("slow_scan", 2 * day + 60, 3 * day)]
    assert len(scan_episodes(Case("c", [SOURCE], apart, Activity()), gap)) == 2
    # A burst long after the first day's summary began is not swallowed by it.
    burst = [finding("slow_scan", 0, day - 120), finding("vertical_scan", 3 * HOUR, 3 * HOUR + 60)]
    assert len(scan_episodes(Case("c", [SOURCE], burst, Activity()), gap)) == 2


def _name_brute_force(codes: list[str | None]) -> list[dict[str, Any]]:
    """Sixty random names under one zone, answered with ``codes`` in turn."""
    return [
        {
            "dns_question_name": f"w{n:03d}x.example.com",
            "dns_response_code": codes[n % len(codes)],
            "seconds": n,
        }
        for n in range(60)
    ]


def test_the_dns_answer_says_when_the_log_holds_no_response_codes() -> None:
    """A BIND query log records questions only: '0 NXDOMAIN (0%)' would read as all resolved."""
    q4 = QUESTIONS[3]
    logged = hunt(dns=_name_brute_force(["NXDOMAIN", "NXDOMAIN", "NOERROR"]))
    assert "60 DNS queries for 60 distinct names, 40 of them NXDOMAIN (67%)" in logged.answers[q4]
    unlogged = hunt(dns=_name_brute_force([None]))
    answer = unlogged.answers[q4]
    assert "their answers are not in the logs" in answer and "NXDOMAIN (" not in answer
    assert unlogged.activity.dns_answered == 0 and logged.activity.dns_answered == 60
    partly = hunt(dns=_name_brute_force(["NXDOMAIN", None]))
    assert "30 of the 30 with a logged answer NXDOMAIN (100%)" in partly.answers[q4]


def test_question_three_does_not_call_bare_ip_requests_alone_a_reconnaissance_pattern() -> None:
    rows = [
        {"url_domain": "203.0.113.80", "url_path": "/", "http_response_status_code": 200,
         "seconds": n * 1200}
        for n in range(6)
    ]  # fmt: skip
    monitor = hunt(rows)
    assert set(monitor.detections) == {"web_host_bare_ip"}
    answer = monitor.answers[QUESTIONS[2]]
    assert answer.startswith("Not clearly. web_host_bare_ip: ")
    assert "health checks" in answer and "No scan of address ranges" in answer
    # The same requests beside a scanner's user agent: a reconnaissance pattern.
    scanned = hunt([*rows, scanner("/", 404), scanner("/admin", 404, 5)])
    assert scanned.answers[QUESTIONS[2]].startswith("Yes. ")


def test_every_detection_left_out_of_scanning_has_a_question_three_caveat() -> None:
    from reconwatch.triage import NOT_SCANNING

    assert set(NOT_SCANNING) == set(DETECTIONS) - SCAN_DETECTIONS
