"""Dark-space probes: addresses nobody reaches and that never talk, probed by one source."""

from __future__ import annotations

import datetime as dt
from typing import Any

import ibis
import pytest
from pydantic import ValidationError

from conftest import BASE_TIME, network_rows
from reconwatch.config import DarkSpaceConfig
from reconwatch.detect.darkspace import dark_destinations, dark_space_probe

SCANNER = "198.51.100.7"
LIVE = [f"203.0.113.{n}" for n in range(1, 11)]
DARK = [f"203.0.113.{n}" for n in range(100, 106)]


def at(seconds: float) -> dt.datetime:
    return BASE_TIME + dt.timedelta(seconds=seconds)


def table(rows: list[dict[str, Any]]) -> ibis.Table:
    return ibis.memtable(network_rows(rows))


def zeek(**row: Any) -> dict[str, Any]:
    """A Zeek conn row (a log source that records successes), failed unless told."""
    return {"event_dataset": "zeek.conn", "tcp_flags": None, "event_action": None, **row}


def clients() -> list[dict[str, Any]]:
    """Two clients reaching the ten live servers on tcp/443; the servers answer."""
    return [
        zeek(
            source_ip=f"192.0.2.{c}",
            destination_ip=host,
            destination_port=443,
            connection_outcome="succeeded",
            seconds=c * 100 + n,
        )
        for c in (1, 2)
        for n, host in enumerate(LIVE)
    ]


def probes(hosts: list[str], *, source: str = SCANNER, **row: Any) -> list[dict[str, Any]]:
    return [
        zeek(source_ip=source, destination_ip=host, destination_port=23, seconds=500 + n, **row)
        for n, host in enumerate(hosts)
    ]


def findings(expr: ibis.Table) -> list[dict[str, Any]]:
    return sorted(expr.to_pyarrow().to_pylist(), key=lambda f: f["source_ip"])


def dark(expr: ibis.Table) -> list[str]:
    return sorted(expr.to_pyarrow().column("destination_ip").to_pylist())


def test_probes_of_six_dark_addresses_are_one_exact_finding() -> None:
    rows = clients() + probes(LIVE + DARK)
    network = table(rows)
    assert dark(dark_destinations(network, DarkSpaceConfig())) == DARK
    assert findings(dark_space_probe(network, DarkSpaceConfig())) == [
        {
            "detection": "dark_space_probe",
            "source_ip": SCANNER,
            "window_start": None,
            "first_seen": at(510),
            "last_seen": at(515),
            "event_count": 6,
            "target_count": 6,
            "port_count": 1,
            "targets": DARK,
            "ports": [23],
            "score": 6.0,
            "label": None,
        }
    ]


def test_four_dark_addresses_are_too_few() -> None:
    assert findings(dark_space_probe(table(clients() + probes(DARK[:4])), DarkSpaceConfig())) == []
    cfg = DarkSpaceConfig(min_dark_hosts=4)
    assert [
        f["target_count"]
        for f in findings(dark_space_probe(table(clients() + probes(DARK[:4])), cfg))
    ] == [4]


def test_an_address_anybody_reached_or_that_talks_is_not_dark() -> None:
    rows = clients() + probes(DARK)
    # 203.0.113.100 answered someone once; 203.0.113.101 sent a packet itself.
    rows.append(
        zeek(
            source_ip="192.0.2.3",
            destination_ip=DARK[0],
            destination_port=80,
            connection_outcome="succeeded",
        )
    )
    rows.append(zeek(source_ip=DARK[1], destination_ip="192.0.2.1", destination_port=53, seconds=9))
    network = table(rows)
    assert dark(dark_destinations(network, DarkSpaceConfig())) == DARK[2:]
    assert findings(dark_space_probe(network, DarkSpaceConfig())) == []


def test_an_allowed_firewall_event_counts_as_reached() -> None:
    rows = clients() + probes(DARK)
    rows.append(
        {
            "source_ip": "192.0.2.3",
            "destination_ip": DARK[0],
            "destination_port": 80,
            "event_action": "allowed",
            "connection_outcome": None,
        }
    )
    assert dark(dark_destinations(table(rows), DarkSpaceConfig())) == DARK[1:]


def test_a_drop_only_log_says_nothing_about_darkness() -> None:
    # Firewall drops only: every address would look dark, so none is judged.
    rows = [
        {"source_ip": SCANNER, "destination_ip": host, "destination_port": 23, "seconds": n}
        for n, host in enumerate(LIVE + DARK)
    ]
    assert dark(dark_destinations(table(rows), DarkSpaceConfig())) == []
    assert findings(dark_space_probe(table(rows), DarkSpaceConfig())) == []
    # Known-dark ranges are dark whatever the logs say.
    cfg = DarkSpaceConfig(known_dark=["203.0.113.96/28"])
    result = findings(dark_space_probe(table(rows), cfg))
    assert [(f["source_ip"], f["targets"]) for f in result] == [(SCANNER, DARK)]


def test_monitored_ranges_limit_the_inferred_dark_space() -> None:
    network = table(clients() + probes(DARK))
    inside = DarkSpaceConfig(monitored=["203.0.113.96/29"])  # .96 - .103
    assert dark(dark_destinations(network, inside)) == DARK[:4]
    assert findings(dark_space_probe(network, inside)) == []
    elsewhere = DarkSpaceConfig(monitored=["198.18.0.0/24"])
    assert dark(dark_destinations(network, elsewhere)) == []


def test_ipv6_dark_addresses_match_in_canonical_form() -> None:
    hosts = [f"2001:db8::{n:x}" for n in range(0xA0, 0xA5)]
    rows = clients() + probes(hosts, source="2001:db8:bad::1")
    cfg = DarkSpaceConfig(known_dark=["2001:db8::a0/126"], monitored=["2001:db8::/120"])
    result = findings(dark_space_probe(table(rows), cfg))
    assert [(f["source_ip"], f["targets"]) for f in result] == [("2001:db8:bad::1", hosts)]


def test_listed_ranges_are_capped() -> None:
    with pytest.raises(ValidationError, match="at most 65536"):
        DarkSpaceConfig(known_dark=["10.0.0.0/15"])
    assert DarkSpaceConfig(monitored=["10.0.0.0/16"]).monitored == ["10.0.0.0/16"]
