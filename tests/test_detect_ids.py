"""IDS scan signatures and honeypot touches as findings; exploitation alerts and
secrets served as signs of compromise in triage."""

from __future__ import annotations

from typing import Any

import ibis
import pyarrow as pa

from conftest import network_rows, table_rows
from reconwatch import schema
from reconwatch.cases import build_cases
from reconwatch.config import Config, DetectConfig
from reconwatch.detect import run_detections
from reconwatch.detect.ids import is_exploit, is_scan
from reconwatch.triage import triage


def alert_rows(rows: list[dict[str, Any]]) -> pa.Table:
    defaults = {
        "destination_ip": "203.0.113.10",
        "destination_port": 22,
        "event_dataset": "suricata.alert",
        "log_file": "eve.json",
        "event_severity": 2,
    }
    return table_rows(schema.ALERT, defaults, rows)


ALERTS = [
    # Reconnaissance, whatever the sensor.
    {
        "source_ip": "198.51.100.1",
        "rule_id": "2009582",
        "rule_name": "ET SCAN NMAP -sS window 1024",
        "rule_category": "Attempted Information Leak",
    },
    {
        "source_ip": "198.51.100.2",
        "rule_id": "Scan::Port_Scan",
        "event_dataset": "zeek.notice",
        "rule_name": "198.51.100.2 scanned at least 15 unique ports of host 203.0.113.10 in 0m2s",
        "rule_category": "Scan",
    },
    {
        "source_ip": "198.51.100.3",
        "rule_id": "122:1",
        "rule_name": "(portscan) TCP Portscan",
        "rule_category": None,
        "event_dataset": "snort.fast",
    },
    # ET files Nikto under web-application-attack; it is a scan, not an exploit.
    {
        "source_ip": "198.51.100.4",
        "rule_id": "2002677",
        "destination_port": 80,
        "rule_name": "ET SCAN Nikto Web App Scan in Progress",
        "rule_category": "Web Application Attack",
    },
    # Exploitation.
    {
        "source_ip": "198.51.100.5",
        "rule_id": "2034647",
        "destination_port": 443,
        "rule_name": "ET EXPLOIT Apache log4j RCE Attempt (http ldap) (CVE-2021-44228)",
        "rule_category": "Attempted Administrator Privilege Gain",
        "seconds": 30,
    },
    # Reputation, not behaviour: neither.
    {
        "source_ip": "198.51.100.6",
        "rule_id": "2402000",
        "rule_name": "ET DROP Dshield Block Listed Source",
        "rule_category": "Misc Attack",
    },
    # A honeypot touch.
    {
        "source_ip": "198.51.100.7",
        "rule_id": "4002",
        "rule_name": "opencanary.ssh_login_attempt",
        "rule_category": "honeypot",
        "event_severity": 1,
        "event_dataset": "opencanary",
    },
]


def _alerts() -> ibis.Table:
    return ibis.memtable(alert_rows(ALERTS))


def test_scan_signatures_from_every_sensor_become_findings() -> None:
    found = run_detections({"alert": _alerts()}, DetectConfig(), ["ids_scan_alert"])
    rows = found.to_pylist()
    assert [r["source_ip"] for r in rows] == [
        "198.51.100.1",
        "198.51.100.2",
        "198.51.100.3",
        "198.51.100.4",
    ]
    assert all(r["source_table"] == "alert" for r in rows)
    assert rows[3]["ports"] == [80] and rows[3]["targets"] == ["203.0.113.10"]


def test_a_honeypot_touch_is_a_finding_of_its_own() -> None:
    found = run_detections({"alert": _alerts()}, DetectConfig(), ["honeypot_touch"]).to_pylist()
    assert [(r["source_ip"], r["label"], r["event_count"]) for r in found] == [
        ("198.51.100.7", "honeypot", 1)
    ]


def test_exploitation_is_told_from_scanning() -> None:
    table = _alerts()
    marked = table.mutate(scan=is_scan(table), exploit=is_exploit(table)).to_pyarrow()
    kinds = {r["source_ip"]: (r["scan"], r["exploit"]) for r in marked.to_pylist()}
    assert kinds["198.51.100.4"] == (True, False)
    assert kinds["198.51.100.5"] == (False, True)
    assert kinds["198.51.100.6"] == (False, False)


def _scan_then(alerts: list[dict[str, Any]], http: list[dict[str, Any]]) -> Any:
    source = "198.51.100.5"
    network = network_rows(
        [
            {
                "source_ip": source,
                "destination_ip": "203.0.113.10",
                "destination_port": p,
                "seconds": p,
            }
            for p in range(1, 21)
        ]
    )
    http_table = table_rows(
        schema.HTTP,
        {
            "source_ip": source,
            "destination_ip": "203.0.113.80",
            "event_dataset": "nginx",
            "log_file": "access.log",
        },
        http,
    )
    tables = {
        "network": ibis.memtable(network),
        "alert": ibis.memtable(alert_rows(alerts)),
        "http": ibis.memtable(http_table),
    }
    config = Config()
    findings = run_detections(tables, config.detect)
    cases = triage(build_cases(tables, findings, 3), config, tables=list(tables))
    (case,) = [c for c in cases if c.sources == [source]]
    return case


def test_an_exploit_alert_after_a_scan_is_a_sign_of_compromise() -> None:
    case = _scan_then([ALERTS[4]], [])
    assert case.activity.exploit_alerts == 1
    assert case.criteria["compromise"]["met"] is True
    assert "log4j" in case.criteria["compromise"]["evidence"][0]
    assert case.escalate


def test_a_secret_served_2xx_is_a_sign_of_compromise_and_a_404_is_not() -> None:
    served = _scan_then(
        [],
        [
            {"url_path": "/.env", "http_response_status_code": 200},
            {"url_path": "/index.html", "http_response_status_code": 200},
        ],
    )
    assert served.activity.sensitive_successes == 1
    assert served.activity.sensitive_success_paths == ["/.env"]
    assert served.criteria["compromise"]["met"] is True
    refused = _scan_then([], [{"url_path": "/.env", "http_response_status_code": 404}])
    assert refused.activity.sensitive_successes == 0
    assert refused.criteria["compromise"]["met"] is False
