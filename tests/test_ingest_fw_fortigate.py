"""FortiGate key=value traffic (network) and UTM/IPS (alert) logs."""

from __future__ import annotations

from ingest_helpers import make, parse, rejects, utc
from reconwatch.ingest.fw_fortigate import FortigateParser
from test_ingest_fw_helpers import alerts, network, parse_fixture


def test_traffic_rows() -> None:
    out = network(parse_fixture(FortigateParser, "fortigate.log"))
    assert out == [
        # tz="+0200": 12:00 local is 10:00 UTC.
        {"log_line": 1, "timestamp": utc(2026, 10, 10, 10), "source_ip": "198.51.100.7",
         "source_port": 40123, "destination_ip": "203.0.113.10", "destination_port": 23,
         "network_transport": "tcp", "interface_in": "wan1", "interface_out": "internal",
         "log_prefix": "policy 0", "event_action": "denied", "connection_state": "deny",
         "connection_outcome": "failed", "network_bytes": 0, "network_packets": 0,
         "observer_name": "FGT60E"},
        {"log_line": 2, "timestamp": utc(2026, 10, 10, 10, 0, 1), "source_ip": "10.0.0.5",
         "source_port": 51515, "destination_ip": "192.0.2.80", "destination_port": 443,
         "network_transport": "tcp", "interface_in": "internal", "interface_out": "wan1",
         "log_prefix": "policy 3", "event_action": "allowed", "connection_state": "close",
         "connection_outcome": "succeeded", "network_bytes": 5230, "network_packets": 12,
         "observer_name": "FGT60E"},
        # No tz key: the configured zone (UTC by default).
        {"log_line": 3, "timestamp": utc(2026, 10, 10, 12, 0, 2), "source_ip": "2001:db8::7",
         "source_port": 5353, "destination_ip": "2001:db8:1::10", "destination_port": 53,
         "network_transport": "udp", "interface_in": "wan1", "interface_out": "root",
         "log_prefix": "policy 0", "event_action": "denied", "connection_state": "deny",
         "connection_outcome": "failed", "observer_name": "FGT60E"},
    ]  # fmt: skip


def test_ips_and_anomaly_alerts_and_rejects() -> None:
    parsed = parse_fixture(FortigateParser, "fortigate.log")
    assert alerts(parsed) == [
        {"log_line": 4, "timestamp": utc(2026, 10, 10, 10, 0, 3), "source_ip": "198.51.100.7",
         "source_port": 40123, "destination_ip": "203.0.113.10", "destination_port": 1024,
         "network_transport": "tcp", "rule_id": "100663398", "rule_name": "tcp_port_scan",
         "rule_category": "anomaly", "event_severity": 1, "event_action": "allowed",
         "observer_name": "FGT60E"},
        {"log_line": 5, "timestamp": utc(2026, 10, 10, 10, 0, 4), "source_ip": "198.51.100.8",
         "source_port": 50000, "destination_ip": "203.0.113.11", "destination_port": 80,
         "network_transport": "tcp", "rule_id": "43818",
         "rule_name": "Apache.Struts.Jakarta.Multipart.Parser.Code.Execution",
         "rule_category": "ips", "event_severity": 1, "event_action": "denied",
         "observer_name": "FGT60E"},
    ]  # fmt: skip
    assert rejects(parsed) == [(6, "unsupported FortiGate log type"), (7, "unknown action")]


def test_foreign_and_broken_lines() -> None:
    parsed = parse(
        make(FortigateParser),
        [
            "hello",
            'date=2026-10-10 time=12:00:00 type="traffic" srcip=1.2.3.4 proto=6 action="deny"',
            'date=2026-10-10 time=12:00:00 type="traffic" srcip=1.2.3.4 dstip=5.6.7.8 proto=6 '
            'srcport=1 dstport=65536 action="deny"',
        ],
    )
    assert rejects(parsed) == [
        (1, "not a FortiGate log"),
        (2, "malformed FortiGate log"),
        (3, "invalid port"),
    ]


def test_counts_summing_past_the_column_lose_their_count_not_the_batch() -> None:
    """sentbyte + rcvdbyte past 2**63 - 1 stopped the whole batch with DuckDB's
    overflow error; a negative count was kept as it was."""
    base = (
        'date=2026-10-10 time=12:00:00 type="traffic" srcip=198.51.100.7 dstip=203.0.113.10 '
        'srcport=1 dstport=22 proto=6 action="close" '
    )
    parsed = parse(
        make(FortigateParser),
        [
            base + "sentbyte=9223372036854775807 rcvdbyte=1 sentpkt=1 rcvdpkt=1",
            base + "sentbyte=-5 rcvdbyte=10 sentpkt=2 rcvdpkt=3",
            base + "sentbyte=100 rcvdbyte=10 sentpkt=2 rcvdpkt=3",
        ],
    )
    rows = network(parsed)
    assert [(r.get("network_bytes"), r.get("network_packets")) for r in rows] == [
        (None, 2),
        (None, 5),
        (110, 5),
    ]
    assert rejects(parsed) == []
