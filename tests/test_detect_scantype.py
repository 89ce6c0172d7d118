"""psad-style probe types, the per-source scan type summary and flag_scan."""

from __future__ import annotations

import datetime as dt
from typing import Any

import ibis
import pytest

from conftest import BASE_TIME, network_rows
from reconwatch.config import FlagScanConfig
from reconwatch.detect.scantype import NMAP_OPTIONS, flag_scan, probe_type, scan_types

SCANNER = "198.51.100.7"
HOST = "203.0.113.10"


def at(seconds: float) -> dt.datetime:
    return BASE_TIME + dt.timedelta(seconds=seconds)


def table(rows: list[dict[str, Any]]) -> ibis.Table:
    return ibis.memtable(network_rows(rows))


def packets(
    flags: list[str], *, start: float = 0, step: float = 1, **row: Any
) -> list[dict[str, Any]]:
    """One TCP packet per entry of ``flags`` to HOST, successive ports."""
    base = {"source_ip": SCANNER, "destination_ip": HOST, **row}
    return [
        {**base, "tcp_flags": f, "destination_port": 100 + n, "seconds": start + n * step}
        for n, f in enumerate(flags)
    ]


@pytest.mark.parametrize(
    ("transport", "flags", "expected"),
    [
        ("tcp", "SYN", "SYN"),
        ("tcp", "FIN", "FIN"),
        ("tcp", "", "NULL"),
        ("tcp", "URG PSH FIN", "XMAS"),
        ("tcp", "ACK", "ACK"),
        ("tcp", "ACK SYN", "TCP_OTHER"),
        ("tcp", "ACK FIN", "TCP_OTHER"),
        ("tcp", "CWR ECE SYN", "TCP_OTHER"),
        ("tcp", "CWR ECE URG ACK PSH RST SYN FIN", "TCP_OTHER"),
        ("tcp", None, "TCP"),
        ("udp", None, "UDP"),
        ("icmp", None, "ICMP"),
        ("ipv6-icmp", None, "ICMP"),
        ("47", None, "IP_PROTO"),
        ("sctp", None, "IP_PROTO"),
        (None, None, None),
    ],
)
def test_probe_type_follows_psads_mapping(
    transport: str | None, flags: str | None, expected: str | None
) -> None:
    network = table(
        [
            {
                "source_ip": SCANNER,
                "destination_ip": HOST,
                "network_transport": transport,
                "tcp_flags": flags,
            }
        ]
    )
    result = network.select(kind=probe_type(network)).to_pyarrow()
    assert result.column("kind").to_pylist() == [expected]


def test_every_probe_type_has_an_nmap_option() -> None:
    assert set(NMAP_OPTIONS) == {
        "SYN", "FIN", "NULL", "XMAS", "ACK", "TCP_OTHER", "TCP", "UDP", "IP_PROTO", "ICMP",
    }  # fmt: skip
    assert NMAP_OPTIONS["FIN"] == "-sF"
    assert NMAP_OPTIONS["XMAS"] == "-sX"
    assert NMAP_OPTIONS["IP_PROTO"] == "-sO"


def test_scan_types_counts_packets_per_source_and_type() -> None:
    rows = (
        packets(["SYN", "SYN", "FIN", ""])
        + packets(["ACK"], connection_outcome="succeeded", event_action="allowed")
        + [
            {
                "source_ip": "2001:db8::5",
                "destination_ip": HOST,
                "network_transport": "udp",
                "tcp_flags": None,
            }
        ]
        + [
            {
                "source_ip": "2001:db8::5",
                "destination_ip": HOST,
                "network_transport": None,
                "tcp_flags": None,
            }
        ]
    )
    result = (
        scan_types(table(rows))
        .to_pyarrow()
        .sort_by([("source_ip", "ascending"), ("probe_type", "ascending")])
    )
    assert result.column_names == ["source_ip", "probe_type", "nmap_option", "packets"]
    assert result.to_pylist() == [
        {"source_ip": SCANNER, "probe_type": "ACK", "nmap_option": "-sA", "packets": 1},
        {"source_ip": SCANNER, "probe_type": "FIN", "nmap_option": "-sF", "packets": 1},
        {"source_ip": SCANNER, "probe_type": "NULL", "nmap_option": "-sN", "packets": 1},
        {"source_ip": SCANNER, "probe_type": "SYN", "nmap_option": "-sS/-sT", "packets": 2},
        {"source_ip": "2001:db8::5", "probe_type": "UDP", "nmap_option": "-sU", "packets": 1},
    ]


def findings(expr: ibis.Table) -> list[dict[str, Any]]:
    return sorted(expr.to_pyarrow().to_pylist(), key=lambda f: (f["source_ip"], f["window_start"]))


def test_three_fin_packets_are_one_exact_finding() -> None:
    assert findings(flag_scan(table(packets(["FIN", "FIN", "FIN"])), FlagScanConfig())) == [
        {
            "detection": "flag_scan",
            "source_ip": SCANNER,
            "window_start": at(0),
            "first_seen": at(0),
            "last_seen": at(2),
            "event_count": 3,
            "target_count": 1,
            "port_count": 3,
            "targets": [HOST],
            "ports": [100, 101, 102],
            "score": 3.0,
            "label": "FIN",
        }
    ]


def test_two_stray_fins_are_not_a_scan() -> None:
    assert findings(flag_scan(table(packets(["FIN", "FIN"])), FlagScanConfig())) == []


def test_label_lists_the_stealth_types_seen_sorted() -> None:
    rows = packets(["URG PSH FIN", "", "FIN", "", "URG PSH FIN"]) + packets(
        ["", "URG PSH FIN", ""], source_ip="2001:db8::bad"
    )
    assert [
        (f["source_ip"], f["label"], f["score"])
        for f in findings(flag_scan(table(rows), FlagScanConfig()))
    ] == [(SCANNER, "FIN,NULL,XMAS", 5.0), ("2001:db8::bad", "NULL,XMAS", 3.0)]


def test_flag_scan_counts_whatever_the_outcome() -> None:
    # An allowed FIN to a new port is still no way to open a connection.
    rows = packets(["FIN", "FIN", "FIN"], connection_outcome="succeeded", event_action="allowed")
    assert [f["label"] for f in findings(flag_scan(table(rows), FlagScanConfig()))] == ["FIN"]


def test_syn_ack_and_other_flags_are_not_flag_scans() -> None:
    rows = packets(["SYN"] * 20 + ["ACK"] * 20 + ["ACK FIN"] * 20 + ["ACK PSH FIN"] * 5)
    rows += [
        {
            "source_ip": SCANNER,
            "destination_ip": HOST,
            "network_transport": "udp",
            "tcp_flags": None,
        }
    ] * 5
    assert findings(flag_scan(table(rows), FlagScanConfig())) == []


def test_flag_scan_window_is_an_hour() -> None:
    # Three FINs 25 minutes apart: one finding on the hour grid.
    slow = packets(["FIN", "FIN", "FIN"], step=1500)
    assert [
        (f["window_start"], f["event_count"])
        for f in findings(flag_scan(table(slow), FlagScanConfig()))
    ] == [(at(0), 3)]
    # Three FINs spread over more than an hour never share a window.
    slower = packets(["FIN", "FIN", "FIN"], step=1900)
    assert findings(flag_scan(table(slower), FlagScanConfig())) == []


def test_flag_scan_straddling_the_hour_is_caught_once() -> None:
    rows = packets(["FIN", "", "FIN"], start=3500, step=100)
    assert [
        (f["window_start"], f["first_seen"], f["last_seen"], f["label"])
        for f in findings(flag_scan(table(rows), FlagScanConfig()))
    ] == [(at(1800), at(3500), at(3700), "FIN,NULL")]


def test_flag_scan_thresholds_come_from_config() -> None:
    cfg = FlagScanConfig(window_seconds=60, min_packets=1)
    rows = packets(["FIN"]) + packets([""], start=120)
    assert [(f["window_start"], f["label"]) for f in findings(flag_scan(table(rows), cfg))] == [
        (at(0), "FIN"),
        (at(120), "NULL"),
    ]


def test_flag_scan_takes_exactly_the_events_whose_probe_type_is_stealth() -> None:
    """flag_scan picks its events by their raw columns: the same as by probe_type."""
    transports = ["tcp", "udp", "icmp", "sctp", None]
    flag_texts = ["FIN", "", "URG PSH FIN", "SYN", "ACK", "ACK FIN", "URG PSH", "fin", None]
    rows, sources = [], {}
    for t, transport in enumerate(transports):
        for f, flags in enumerate(flag_texts):
            source = f"198.51.{t}.{f}"
            sources[source] = (transport, flags)
            rows += packets([flags] * 3, source_ip=source, network_transport=transport)
    events = table(rows)
    typed = events.mutate(probe_type=probe_type(events)).to_pyarrow()
    stealth = {
        s
        for s, kind in zip(
            typed["source_ip"].to_pylist(), typed["probe_type"].to_pylist(), strict=True
        )
        if kind in ("FIN", "NULL", "XMAS")
    }
    assert len(stealth) == 3  # tcp with FIN, no flag, or URG PSH FIN
    found = findings(flag_scan(events, FlagScanConfig()))
    assert {f["source_ip"] for f in found} == stealth
