"""One actor across DNS, firewall and web logs: one case, one timeline, the link between them."""

from __future__ import annotations

import ibis

from conftest import network_rows, table_rows
from reconwatch import schema
from reconwatch.cases import build_cases
from reconwatch.config import Config
from reconwatch.detect import run_detections
from reconwatch.report.casejson import case_to_dict
from reconwatch.triage import QUESTIONS, triage

ACTOR = "198.51.100.61"


def test_enumeration_then_scan_then_web_probing_is_one_story() -> None:
    names = [f"host{i}.example.com" for i in range(60)]
    dns = table_rows(
        schema.DNS,
        {
            "source_ip": ACTOR,
            "destination_ip": "203.0.113.53",
            "event_dataset": "bind",
            "log_file": "query.log",
            "dns_question_type": "A",
        },
        [
            {
                "dns_question_name": n,
                "seconds": i,
                "dns_response_code": "NOERROR" if i < 10 else "NXDOMAIN",
                "dns_answers": [f"203.0.113.{i + 1}"] if i < 10 else None,
            }
            for i, n in enumerate(names)
        ],
    )
    # Then a sweep of 30 hosts on 443, the 10 resolved ones among them, minutes later.
    network = network_rows(
        [
            {
                "source_ip": ACTOR,
                "destination_ip": f"203.0.113.{h}",
                "destination_port": 443,
                "seconds": 600 + h,
            }
            for h in range(1, 31)
        ]
        # One address probed *before* it was resolved does not count.
        + [{"source_ip": ACTOR, "destination_ip": "203.0.113.99", "destination_port": 22}]
    )
    http = table_rows(
        schema.HTTP,
        {
            "source_ip": ACTOR,
            "destination_ip": "203.0.113.1",
            "event_dataset": "nginx",
            "log_file": "access.log",
            "http_response_status_code": 404,
        },
        [{"url_path": f"/admin{i}", "seconds": 1200 + i} for i in range(40)],
    )
    tables = {
        "dns": ibis.memtable(dns),
        "network": ibis.memtable(network),
        "http": ibis.memtable(http),
    }
    config = Config()
    cases = triage(
        build_cases(tables, run_detections(tables, config.detect), 3), config, tables=list(tables)
    )
    (case,) = cases
    assert case.activity.resolved_then_probed == 10
    assert case.activity.resolved_then_probed_samples[:2] == ["203.0.113.1", "203.0.113.10"]
    logs = [entry["log"] for entry in case_to_dict(case)["timeline"]]
    assert logs.index("dns") < logs.index("network") < logs.index("http")
    assert "10 address(es) our DNS had given it" in case.answers[QUESTIONS[2]]
