"""Internal scanners mapped to their host names and users; related sources for Tier 2."""

from __future__ import annotations

from typing import Any

import ibis

from conftest import network_rows, table_rows
from reconwatch import schema
from reconwatch.cases import Case, build_cases
from reconwatch.config import Config
from reconwatch.detect import run_detections
from reconwatch.enrich.context import SourceContext
from reconwatch.enrich.geo import GeoInfo
from reconwatch.triage import _related, triage

SCANNER = "10.20.30.40"


def sweep(source: str, hosts: int = 30, start: int = 0) -> list[dict[str, Any]]:
    return [
        {
            "source_ip": source,
            "destination_ip": f"10.1.2.{i + 1}",
            "destination_port": 445,
            "seconds": start + i,
        }
        for i in range(hosts)
    ]


def _tables(dns: list[dict[str, Any]], auth: list[dict[str, Any]]) -> dict[str, ibis.Table]:
    dns_table = table_rows(
        schema.DNS,
        {
            "source_ip": "10.0.0.9",
            "destination_ip": "10.0.0.53",
            "event_dataset": "bind",
            "log_file": "query.log",
        },
        dns,
    )
    auth_table = table_rows(
        schema.AUTH,
        {
            "source_ip": "10.0.0.8",
            "event_dataset": "sshd",
            "log_file": "auth.log",
            "event_outcome": "success",
            "event_action": "login",
        },
        auth,
    )
    return {
        "network": ibis.memtable(network_rows(sweep(SCANNER))),
        "dns": ibis.memtable(dns_table),
        "auth": ibis.memtable(auth_table),
    }


def _case(tables: dict[str, ibis.Table]) -> Case:
    config = Config()
    findings = run_detections(tables, config.detect)
    cases = triage(build_cases(tables, findings, 3), config, tables=list(tables))
    (case,) = [c for c in cases if c.sources == [SCANNER]]
    return case


def test_an_internal_scanner_is_named_with_its_host_and_users() -> None:
    tables = _tables(
        dns=[
            {
                "dns_question_name": "ws-17.corp.example.com",
                "dns_question_type": "A",
                "dns_answers": [SCANNER],
            },
            {
                "dns_question_name": "40.30.20.10.in-addr.arpa",
                "dns_question_type": "PTR",
                "dns_answers": ["ws-17.corp.example.com"],
            },
            # Another machine's name is not this one's.
            {
                "dns_question_name": "db1.corp.example.com",
                "dns_question_type": "A",
                "dns_answers": ["10.0.0.5"],
            },
        ],
        auth=[
            # Logged by the workstation itself (syslog short host name).
            {"observer_name": "ws-17", "user_name": "alice"},
            # A login to it by address.
            {"destination_ip": SCANNER, "user_name": "bob"},
            # From it to a server: a user seen on it too.
            {"source_ip": SCANNER, "observer_name": "db1", "user_name": "carol"},
            # A failure and another host's user are not evidence.
            {"observer_name": "ws-17", "user_name": "mallory", "event_outcome": "failure"},
            {"observer_name": "db1", "user_name": "dave"},
        ],
    )
    case = _case(tables)
    assert case.internal
    assert case.activity.host_names == ["ws-17.corp.example.com"]
    assert case.activity.host_users == ["alice", "bob"]
    assert case.activity.auth_users == ["carol"]
    (users,) = [c for c in case.checklist if c["step"].startswith("Correlate with user")]
    assert "ws-17.corp.example.com" in users["result"] and "alice, bob" in users["result"]
    assert "carol" in users["result"]
    assert "ws-17" in next(iter(case.answers.values()))


def test_related_sources_by_neighbourhood_asn_and_campaign() -> None:
    rows = sweep("198.51.100.7") + sweep("198.51.100.99", start=1000)
    rows += sweep("192.0.2.5", start=2000) + sweep("203.0.113.200", start=3000)
    network = ibis.memtable(network_rows(rows))
    config = Config()
    cases = build_cases(network, run_detections(network, config.detect), 3)
    contexts = {
        "198.51.100.7": SourceContext(geo=GeoInfo(asn=64500, as_organization="Example Hosting")),
        "192.0.2.5": SourceContext(geo=GeoInfo(asn=64500, as_organization="Example Hosting")),
        "203.0.113.200": SourceContext(geo=GeoInfo(asn=64511)),
    }
    (mine,) = [c for c in cases if c.sources == ["198.51.100.7"]]
    related = _related(mine, cases, contexts)
    assert {s: sorted(why) for s, (_, why) in related.items()} == {
        "198.51.100.99": ["same 198.51.100.0/24"],
        "192.0.2.5": ["same ASN AS64500 (Example Hosting)"],
    }
