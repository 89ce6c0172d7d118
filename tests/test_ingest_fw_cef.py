"""Generic CEF and LEEF 1.0/2.0 events into the network table."""

from __future__ import annotations

from ingest_helpers import make, parse, rejects, utc
from reconwatch.ingest.fw_cef import CefParser, LeefParser
from test_ingest_fw_helpers import network, parse_fixture


def test_cef_fixture() -> None:
    parsed = parse_fixture(CefParser, "cef.log")
    assert network(parsed) == [
        {"log_line": 1, "timestamp": utc(2026, 10, 10, 12), "source_ip": "198.51.100.7",
         "source_port": 40123, "destination_ip": "203.0.113.10", "destination_port": 23,
         "network_transport": "tcp", "log_prefix": "Drop", "event_action": "dropped",
         "connection_state": "drop", "connection_outcome": "failed", "observer_name": "cp-gw1",
         "event_dataset": "cef"},
        {"log_line": 2, "timestamp": utc(2026, 10, 10, 12, 0, 1), "source_ip": "10.0.0.5",
         "source_port": 51515, "destination_ip": "192.0.2.80", "destination_port": 443,
         "network_transport": "tcp", "log_prefix": "traffic:forward accept",
         "event_action": "allowed", "connection_state": "accept",
         "connection_outcome": "succeeded", "event_dataset": "cef"},
        {"log_line": 3, "timestamp": utc(2026, 10, 10, 12, 0, 2), "source_ip": "2001:db8::7",
         "source_port": 1, "destination_ip": "2001:db8:1::10", "destination_port": 22,
         "network_transport": "tcp", "log_prefix": "Blocked v6", "event_action": "denied",
         "connection_state": "blocked", "connection_outcome": "failed", "event_dataset": "cef"},
    ]  # fmt: skip
    assert rejects(parsed) == [(4, "missing source or destination address"), (5, "invalid port")]


def test_cef_rt_wins_over_the_envelope_and_escapes() -> None:
    line = (
        r"Oct 10 09:00:00 relay CEF:0|A\|B|FW|1|1|N|3|src=198.51.100.7 dst=203.0.113.10 "
        r"spt=1 dpt=2 proto=UDP act=drop msg=a\=b rt=1791633600000"
    )
    out = network(parse(make(CefParser), [line]))
    assert [(r["timestamp"], r["observer_name"], r["network_transport"]) for r in out] == [
        (utc(2026, 10, 10, 12), "relay", "udp")
    ]


def test_leef_fixture() -> None:
    parsed = parse_fixture(LeefParser, "leef.log")
    assert network(parsed) == [
        {"log_line": 1, "timestamp": utc(2026, 10, 10, 12), "source_ip": "198.51.100.7",
         "source_port": 40123, "destination_ip": "203.0.113.10", "destination_port": 23,
         "network_transport": "tcp", "log_prefix": "deny", "event_action": "denied",
         "connection_state": "deny", "connection_outcome": "failed", "event_dataset": "leef"},
        # LEEF 2.0 with '^' as delimiter, inside a syslog envelope.
        {"log_line": 2, "timestamp": utc(2026, 10, 10, 12, 0, 1), "source_ip": "2001:db8::7",
         "source_port": 5353, "destination_ip": "2001:db8:1::10", "destination_port": 53,
         "network_transport": "udp", "log_prefix": "41", "event_action": "allowed",
         "connection_state": "allow", "connection_outcome": "succeeded", "observer_name": "qr",
         "event_dataset": "leef"},
        # LEEF 2.0 with the delimiter given as hex (x7C is '|').
        {"log_line": 3, "timestamp": utc(2026, 10, 10, 12, 0, 2), "source_ip": "198.51.100.9",
         "source_port": 1, "destination_ip": "203.0.113.12", "destination_port": 80,
         "network_transport": "tcp", "log_prefix": "42", "event_action": "rejected",
         "connection_state": "reject", "connection_outcome": "failed", "event_dataset": "leef"},
    ]  # fmt: skip
    assert rejects(parsed) == [(4, "missing source or destination address")]


def test_foreign_lines() -> None:
    assert rejects(parse(make(CefParser), ["LEEF:1.0|a|b|c|d|src=1.2.3.4"])) == [
        (1, "not a CEF event")
    ]
    assert rejects(parse(make(LeefParser), ["CEF:0|a|b|c|d|e|f|src=1.2.3.4"])) == [
        (1, "not a LEEF event")
    ]
