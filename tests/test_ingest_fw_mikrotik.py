"""MikroTik RouterOS firewall lines: the real CrowdSec hub sample and fixtures."""

from __future__ import annotations

from pathlib import Path

from ingest_helpers import make, parse, rejects, utc
from reconwatch.config import Config
from reconwatch.ingest.fw_mikrotik import MikrotikParser
from test_ingest_fw_helpers import fixture_lines, network, parse_fixture


def test_real_scan_sample(crowdsec_hub: Path) -> None:
    path = crowdsec_hub / "mikrotik-scan-multi_ports" / "mikrotik-scan-multi_ports.log"
    lines = path.read_text().splitlines()
    parsed = parse(make(MikrotikParser), lines)
    assert rejects(parsed) == []
    out = network(parsed)
    assert len(out) + parsed.skipped == len(lines)
    assert out[0] == {
        "log_line": 1,
        "timestamp": utc(2023, 3, 18, 19, 36, 59, 594792),
        "source_ip": "36.97.161.219",
        "source_port": 59388,
        "destination_ip": "80.82.202.145",
        "destination_port": 23,
        "network_transport": "tcp",
        "tcp_flags": "SYN",
        "interface_in": "ether1-WAN",
        "log_prefix": "drop-tcp input",
        "event_action": "dropped",
        "connection_outcome": "failed",
        "observer_name": "10.120.127.1",
    }
    assert [row["destination_port"] for row in out[:4]] == [23, 24, 25, 26]


def test_fixture_icmp_ipv6_nat_and_rejects() -> None:
    parsed = parse_fixture(MikrotikParser, "mikrotik.log")
    assert network(parsed) == [
        {"log_line": 1, "timestamp": utc(2026, 10, 5, 10), "source_ip": "198.51.100.7",
         "destination_ip": "203.0.113.10", "network_transport": "icmp", "interface_in": "ether1",
         "log_prefix": "input", "event_action": "dropped", "connection_outcome": "failed",
         "observer_name": "gw"},
        {"log_line": 2, "timestamp": utc(2026, 10, 5, 10, 0, 1), "source_ip": "2001:db8::1",
         "source_port": 443, "destination_ip": "2001:db8::2", "destination_port": 5555,
         "network_transport": "tcp", "tcp_flags": "ACK SYN", "interface_in": "ether1",
         "interface_out": "bridge", "log_prefix": "accept-v6 forward", "event_action": "allowed",
         "connection_outcome": "succeeded", "observer_name": "gw"},
        {"log_line": 3, "timestamp": utc(2026, 10, 5, 10, 0, 2), "source_ip": "198.51.100.7",
         "source_port": 40000, "destination_ip": "203.0.113.10", "destination_port": 161,
         "network_transport": "udp", "interface_in": "ether1", "log_prefix": "reject-udp input",
         "event_action": "rejected", "connection_outcome": "failed", "observer_name": "gw"},
    ]  # fmt: skip
    assert rejects(parsed) == [(4, "invalid port"), (5, "malformed MikroTik firewall line")]


def test_foreign_lines_rejected() -> None:
    parsed = parse(make(MikrotikParser), ["Oct  5 10:00:00 gw sshd[1]: hello", "x"])
    assert rejects(parsed) == [
        (1, "not a MikroTik firewall line"),
        (2, "not a MikroTik firewall line"),
    ]


def test_no_action_keywords_give_every_line_the_default_action() -> None:
    config = Config.model_validate(
        {"netfilter": {"prefix_actions": {}, "default_action": "denied"}}
    )
    parsed = parse(make(MikrotikParser, config), fixture_lines("mikrotik.log"))
    out = network(parsed)
    assert len(out) == 3 and rejects(parsed) == [
        (4, "invalid port"),
        (5, "malformed MikroTik firewall line"),
    ]
    assert {row["event_action"] for row in out} == {"denied"}
