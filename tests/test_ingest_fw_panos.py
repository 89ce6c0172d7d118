"""PAN-OS TRAFFIC and THREAT CSV records (PAN-OS 10/11 field order)."""

from __future__ import annotations

from ingest_helpers import make, parse, rejects, utc
from reconwatch.config import Config, SyslogConfig
from reconwatch.ingest.fw_panos import PanosParser
from test_ingest_fw_helpers import alerts, fixture_lines, network, parse_fixture

SERIAL = "012801000001"


def test_traffic_rows() -> None:
    out = network(parse_fixture(PanosParser, "panos.log"))
    common = {"observer_name": SERIAL, "event_dataset": "panos.traffic",
              "network_transport": "tcp"}  # fmt: skip
    assert out == [
        {**common, "log_line": 1, "timestamp": utc(2026, 10, 10, 11, 59, 59),
         "source_ip": "198.51.100.7", "source_port": 40123, "destination_ip": "203.0.113.10",
         "destination_port": 23, "interface_in": "ethernet1/1", "log_prefix": "deny-all",
         "event_action": "dropped", "connection_state": "drop", "connection_outcome": "failed",
         "network_bytes": 60, "network_packets": 1},
        {**common, "log_line": 2, "timestamp": utc(2026, 10, 10, 12, 0, 1),
         "source_ip": "10.0.0.5", "source_port": 51515, "destination_ip": "192.0.2.80",
         "destination_port": 443, "interface_in": "ethernet1/2", "interface_out": "ethernet1/1",
         "log_prefix": "allow-web", "event_action": "allowed", "connection_state": "allow",
         "connection_outcome": "succeeded", "network_bytes": 5230, "network_packets": 12},
        {**common, "log_line": 3, "timestamp": utc(2026, 10, 10, 12, 0, 2),
         "source_ip": "2001:db8::7", "source_port": 40124, "destination_ip": "2001:db8:1::10",
         "destination_port": 22, "interface_in": "ethernet1/1", "log_prefix": "deny-v6",
         "event_action": "rejected", "connection_state": "reset-both",
         "connection_outcome": "failed", "network_bytes": 74, "network_packets": 1},
    ]  # fmt: skip


def test_threat_alerts_and_rejects() -> None:
    parsed = parse_fixture(PanosParser, "panos.log")
    common = {"observer_name": SERIAL, "event_dataset": "panos.threat",
              "network_transport": "tcp"}  # fmt: skip
    assert alerts(parsed) == [
        {**common, "log_line": 4, "timestamp": utc(2026, 10, 10, 12, 0, 3),
         "source_ip": "198.51.100.7", "source_port": 0, "destination_ip": "203.0.113.10",
         "destination_port": 0, "rule_id": "8001", "rule_name": "TCP Port Scan",
         "rule_category": "scan", "event_severity": 1, "event_action": "denied"},
        # The quoted URL field holds a comma: the CSV cut keeps the fields after it in place.
        {**common, "log_line": 5, "timestamp": utc(2026, 10, 10, 12, 0, 4),
         "source_ip": "198.51.100.8", "source_port": 50000, "destination_ip": "203.0.113.11",
         "destination_port": 80, "rule_id": "30844",
         "rule_name": "HTTP Directory Traversal Vulnerability", "rule_category": "vulnerability",
         "event_severity": 2, "event_action": "allowed"},
    ]  # fmt: skip
    assert rejects(parsed) == [
        (6, "unsupported PAN-OS log type"),
        (7, "malformed PAN-OS log record"),
    ]


def test_generated_time_takes_the_configured_zone() -> None:
    config = Config(syslog=SyslogConfig(timezone="America/New_York"))
    parsed = parse(make(PanosParser, config), fixture_lines("panos.log")[:1])
    assert [row["timestamp"] for row in network(parsed)] == [utc(2026, 10, 10, 15, 59, 59)]


def test_foreign_lines() -> None:
    parsed = parse(make(PanosParser), ["Oct 10 12:00:00 host sshd[1]: x", "", "1,2,3"])
    assert rejects(parsed) == [(1, "not a PAN-OS log record"), (3, "not a PAN-OS log record")]
    assert parsed.skipped == 1
