"""pf filterlog (pfSense / OPNsense): real CrowdSec hub samples and fixtures."""

from __future__ import annotations

from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ingest_helpers import make, parse, rejects, utc
from reconwatch.ingest.fw_pf import PfParser
from test_ingest_fw_helpers import network, parse_fixture

BASE = {"observer_name": "pfSense", "connection_outcome": "failed", "event_action": "denied"}


def test_real_pfsense_and_opnsense_lines(crowdsec_hub: Path) -> None:
    lines = (crowdsec_hub / "pf-logs" / "pf-logs.log").read_text().splitlines()
    parsed = parse(make(PfParser), lines)
    assert rejects(parsed) == []
    out = network(parsed)
    assert len(out) == 9
    assert out[0] == {
        **BASE,
        "log_line": 1,
        "timestamp": utc(2026, 9, 28, 10, 38, 9),
        "source_ip": "10.0.2.2",
        "source_port": 53742,
        "destination_ip": "10.0.2.15",
        "destination_port": 22,
        "network_transport": "tcp",
        "tcp_flags": "ACK PSH",
        "ip_ttl": 64,
        "ip_id": 420,
        "tcp_window": 65535,
        "interface_in": "em0",
        "log_prefix": "1000000301",
    }
    assert out[2]["interface_out"] == "em0" and "interface_in" not in out[2]
    assert out[2]["tcp_flags"] == "ACK FIN"
    # RFC 5424 envelope (OPNsense), zone +02:00, pass -> allowed.
    assert out[4] == {
        "log_line": 5,
        "timestamp": utc(2022, 9, 6, 16, 37, 34),
        "source_ip": "68.41.165.77",
        "source_port": 64752,
        "destination_ip": "10.0.0.200",
        "destination_port": 51918,
        "network_transport": "udp",
        "ip_ttl": 116,
        "ip_id": 11172,
        "interface_in": "re0",
        "log_prefix": "40b9591224d055de2beec8b74ea486b1",
        "event_action": "allowed",
        "connection_outcome": "succeeded",
        "observer_name": "opnsense",
    }
    # IPv6 record: fields shifted by three, no IP id.
    assert out[8] == {
        "log_line": 9,
        "timestamp": utc(2022, 9, 6, 17, 0, 6),
        "source_ip": "2008:8a0:702e:ce00:acc6:c7ee:fa01:2f8a",
        "source_port": 6881,
        "destination_ip": "2c02:2454:ada:d900::1738",
        "destination_port": 51918,
        "network_transport": "udp",
        "ip_ttl": 51,
        "interface_in": "re0",
        "log_prefix": "64d253df-ef65-4b56-9df4-c03fc11b8ce4",
        "event_action": "denied",
        "connection_outcome": "failed",
        "observer_name": "opnsense",
    }


def test_real_scan_sample_ports(crowdsec_hub: Path) -> None:
    path = crowdsec_hub / "pf-scan-multi-port" / "pf-scan-multi-port.log"
    lines = path.read_text().splitlines()
    parsed = parse(make(PfParser), lines)
    out = network(parsed)
    # The sample holds one blank line: skipped, not lost.
    assert (len(out), parsed.skipped, rejects(parsed)) == (16, 1, [])
    assert {row["source_ip"] for row in out} == {"10.0.2.2"}
    assert [row["destination_port"] for row in out[:3]] == [22, 2222, 21]
    assert all(row["tcp_flags"] == "SYN" and row["event_action"] == "denied" for row in out)


def test_fixture_icmp_ipv6_and_rejects() -> None:
    parsed = parse_fixture(PfParser, "pf.log")
    common = {**BASE, "interface_in": "igb0"}
    assert network(parsed) == [
        {**common, "log_line": 1, "timestamp": utc(2026, 10, 5, 10), "source_ip": "198.51.100.7",
         "destination_ip": "203.0.113.10", "network_transport": "icmp", "ip_ttl": 242,
         "ip_id": 54321, "log_prefix": "1000000103"},
        {**common, "log_line": 2, "timestamp": utc(2026, 10, 5, 10, 0, 1),
         "source_ip": "198.51.100.7", "source_port": 40000, "destination_ip": "203.0.113.10",
         "destination_port": 161, "network_transport": "udp", "ip_ttl": 50, "ip_id": 1,
         "log_prefix": "1000000105", "event_action": "rejected"},
        {**common, "log_line": 3, "timestamp": utc(2026, 10, 5, 10, 0, 2),
         "source_ip": "2001:db8::7", "destination_ip": "2001:db8:1::10",
         "network_transport": "ipv6-icmp", "ip_ttl": 57, "log_prefix": "1000000107"},
        {**common, "log_line": 4, "timestamp": utc(2026, 10, 5, 10, 0, 3),
         "source_ip": "2001:db8::7", "source_port": 40001, "destination_ip": "2001:db8:1::10",
         "destination_port": 22, "network_transport": "tcp", "tcp_flags": "CWR ECE SYN",
         "ip_ttl": 57, "tcp_window": 1024, "log_prefix": "1000000107"},
    ]  # fmt: skip
    assert rejects(parsed) == [
        (5, "malformed filterlog record"),
        (6, "invalid port"),
        (7, "invalid source address"),
        (8, "not a filterlog line"),
    ]


def test_blank_and_foreign_lines() -> None:
    parsed = parse(make(PfParser), ["", "   ", "hello world"])
    assert parsed.skipped == 2
    assert rejects(parsed) == [(3, "not a syslog line")]


def test_programs_claimed() -> None:
    assert PfParser.programs == ("filterlog",)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    src=st.ip_addresses(v=4).map(str),
    dst=st.ip_addresses(v=4).map(str),
    sport=st.integers(0, 65535),
    dport=st.integers(0, 65535),
    action=st.sampled_from(["block", "pass", "reject"]),
    direction=st.sampled_from(["in", "out"]),
    proto=st.sampled_from([("6", "tcp"), ("17", "udp")]),
)
def test_generated_ipv4_records_round_trip(
    src: str,
    dst: str,
    sport: int,
    dport: int,
    action: str,
    direction: str,
    proto: tuple[str, str],
) -> None:
    tail = ",0,S,1,,1024,," if proto[1] == "tcp" else ",8"
    line = (
        f"Oct  5 10:00:00 fw filterlog: 1,,,77,em0,match,{action},{direction},4,0x0,,64,9,0,none,"
        f"{proto[0]},{proto[1]},40,{src},{dst},{sport},{dport}{tail}"
    )
    out = network(parse(make(PfParser), [line]))
    expected_action = {"block": "denied", "pass": "allowed", "reject": "rejected"}[action]
    assert len(out) == 1
    row = out[0]
    assert (row["source_ip"], row["destination_ip"]) == (src, dst)
    assert (row["source_port"], row["destination_port"]) == (sport, dport)
    assert row["network_transport"] == proto[1]
    assert row["event_action"] == expected_action
    assert row["connection_outcome"] == ("succeeded" if action == "pass" else "failed")
    assert row.get(f"interface_{direction}") == "em0"
    assert row.get("tcp_flags") == ("SYN" if proto[1] == "tcp" else None)
