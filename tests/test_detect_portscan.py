"""Vertical, horizontal and block scans, and the two-grid window selection.

Each case builds its events inline (scanner 198.51.100.7 against 203.0.113.0/24
unless it says otherwise) and asserts the exact findings.
"""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Any

import ibis
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import BASE_TIME, network_rows
from reconwatch.config import BlockScanConfig, HorizontalScanConfig, VerticalScanConfig
from reconwatch.detect.base import FINDINGS
from reconwatch.detect.portscan import block_scan, horizontal_scan, vertical_scan

SCANNER = "198.51.100.7"
HOST = "203.0.113.10"


def at(seconds: float) -> dt.datetime:
    return BASE_TIME + dt.timedelta(seconds=seconds)


def table(rows: list[dict[str, Any]]) -> ibis.Table:
    return ibis.memtable(network_rows(rows))


def probes(
    ports: range | list[int], *, start: float = 0, step: float = 1, **row: Any
) -> list[dict[str, Any]]:
    """One failed SYN per port against HOST, ``step`` seconds apart."""
    base = {"source_ip": SCANNER, "destination_ip": HOST, **row}
    return [
        {**base, "destination_port": port, "seconds": start + n * step}
        for n, port in enumerate(ports)
    ]


def sweep(hosts: int, *, port: int = 22, start: float = 0, **row: Any) -> list[dict[str, Any]]:
    """One failed probe of ``port`` on each of ``hosts`` hosts, a second apart."""
    base = {"source_ip": SCANNER, "destination_port": port, **row}
    return [
        {**base, "destination_ip": f"203.0.113.{n + 1}", "seconds": start + n} for n in range(hosts)
    ]


def findings(expr: ibis.Table) -> list[dict[str, Any]]:
    result = expr.to_pyarrow()
    return sorted(
        result.to_pylist(), key=lambda f: (f["source_ip"], f["label"] or "", f["window_start"])
    )


def windows(expr: ibis.Table) -> list[tuple[str | None, dt.datetime]]:
    return [(f["label"], f["window_start"]) for f in findings(expr)]


# --- vertical scan -----------------------------------------------------------------------------


def test_vertical_scan_of_16_ports_is_one_exact_finding() -> None:
    result = findings(vertical_scan(table(probes(range(1000, 1016))), VerticalScanConfig()))
    assert result == [
        {
            "detection": "vertical_scan",
            "source_ip": SCANNER,
            "window_start": at(0),
            "first_seen": at(0),
            "last_seen": at(15),
            "event_count": 16,
            "target_count": 1,
            "port_count": 16,
            "targets": [HOST],
            "ports": list(range(1000, 1016)),
            "score": 16.0,
            "label": HOST,
        }
    ]


def test_vertical_scan_of_15_ports_is_below_zeeks_threshold() -> None:
    assert findings(vertical_scan(table(probes(range(1000, 1015))), VerticalScanConfig())) == []


def test_vertical_scan_counts_distinct_ports_not_events() -> None:
    # 15 ports, each tried three times: 45 failures, still 15 ports.
    rows = probes(list(range(1000, 1015)) * 3)
    assert findings(vertical_scan(table(rows), VerticalScanConfig())) == []


def test_allowed_or_succeeded_probes_do_not_count() -> None:
    rows = probes(range(1000, 1015)) + probes(
        range(2000, 2005),
        start=20,
        event_action="allowed",
        connection_outcome="succeeded",
    )
    assert findings(vertical_scan(table(rows), VerticalScanConfig())) == []


def test_vertical_scan_counts_per_destination_host() -> None:
    # 10 ports on each of two hosts: 20 ports in all but no host reaches 16.
    rows = probes(range(1000, 1010)) + probes(range(1000, 1010), destination_ip="203.0.113.11")
    assert findings(vertical_scan(table(rows), VerticalScanConfig())) == []


def test_events_without_a_port_are_ignored() -> None:
    rows = [
        *probes(range(1000, 1015)),
        {
            "source_ip": SCANNER,
            "destination_ip": HOST,
            "network_transport": "icmp",
            "tcp_flags": None,
        },
    ]
    assert findings(vertical_scan(table(rows), VerticalScanConfig())) == []


def test_vertical_scan_thresholds_come_from_config() -> None:
    cfg = VerticalScanConfig(window_seconds=60, min_ports=5)
    rows = probes(range(5), start=0) + probes(range(4), start=120)
    assert windows(vertical_scan(table(rows), cfg)) == [(HOST, at(0))]


def test_vertical_scan_of_an_ipv6_host_from_an_ipv6_source() -> None:
    rows = probes(range(1, 17), source_ip="2001:db8::bad", destination_ip="2001:db8:1::10")
    result = findings(vertical_scan(table(rows), VerticalScanConfig()))
    assert [(f["source_ip"], f["label"], f["targets"]) for f in result] == [
        ("2001:db8::bad", "2001:db8:1::10", ["2001:db8:1::10"])
    ]


# --- windows: two grids, non-overlapping best findings -----------------------------------------


def test_scan_straddling_a_window_boundary_is_caught_once() -> None:
    # 16 ports from 10:04:52 to 10:05:07: 8 + 8 on the 5-minute grid, 16 on the
    # grid offset by 2.5 minutes (window 10:02:30-10:07:30).
    result = findings(
        vertical_scan(table(probes(range(1000, 1016), start=292)), VerticalScanConfig())
    )
    assert [
        (f["window_start"], f["first_seen"], f["last_seen"], f["port_count"]) for f in result
    ] == [(at(150), at(292), at(307), 16)]


def test_scan_inside_one_window_is_one_finding_on_the_round_grid() -> None:
    # Seconds 200-215 lie in the 10:00 window and in the offset 10:02:30 window.
    result = findings(
        vertical_scan(table(probes(range(1000, 1016), start=200)), VerticalScanConfig())
    )
    assert [(f["window_start"], f["event_count"]) for f in result] == [(at(0), 16)]


def test_a_scan_retried_inside_one_window_is_one_finding() -> None:
    """16 ports at 10:00:10, all retried at 10:03:00 (nmap retransmits what went
    unanswered): both offset windows around the 10:00 one hold 16 ports too,
    but the scan lies wholly inside the 10:00 window, which is its one finding
    (the offset pair covers the same probes with two findings, not more)."""
    rows = probes(range(1000, 1016), start=10) + probes(range(1000, 1016), start=180)
    result = findings(vertical_scan(table(rows), VerticalScanConfig()))
    assert [(f["window_start"], f["event_count"]) for f in result] == [(at(0), 32)]


def test_fractions_of_a_second_never_round_into_the_next_window() -> None:
    # The last probe at 10:04:59.9 belongs to the 10:00 window: 16 ports there.
    rows = probes(range(1000, 1016), start=284.9)
    result = findings(vertical_scan(table(rows), VerticalScanConfig()))
    assert [(f["window_start"], f["last_seen"]) for f in result] == [(at(0), at(299.9))]


def test_offset_window_wins_when_it_holds_the_whole_scan() -> None:
    # 60 ports over 10:02:30-10:07:25: 30 + 30 on the round grid, all 60 offset.
    rows = probes(range(1000, 1060), start=150, step=5)
    assert [
        (f["window_start"], f["port_count"])
        for f in findings(vertical_scan(table(rows), VerticalScanConfig()))
    ] == [(at(150), 60)]


def test_steady_scan_yields_the_non_overlapping_round_windows() -> None:
    # One new port every 10 s for 20 minutes: 30 ports in every 5-minute window
    # of both grids; keep the four round windows, not seven overlapping ones.
    rows = probes(range(1000, 1120), step=10)
    assert windows(vertical_scan(table(rows), VerticalScanConfig())) == [
        (HOST, at(0)),
        (HOST, at(300)),
        (HOST, at(600)),
        (HOST, at(900)),
    ]


def test_a_scan_both_grids_cut_is_found_in_a_window_starting_at_a_probe() -> None:
    """nmap -T1 --top-ports 20: 20 ports 15 s apart (285 s) from 10:01:15.
    The round grid holds 15 + 5 of them, the offset grid 5 + 15: no grid
    window reaches 16 ports. The window starting at the first probe holds all
    20: one finding, its window starting at that probe."""
    rows = probes(range(1000, 1020), start=75, step=15)
    result = findings(vertical_scan(table(rows), VerticalScanConfig()))
    assert [
        (f["window_start"], f["first_seen"], f["last_seen"], f["port_count"], f["event_count"])
        for f in result
    ] == [(at(75), at(75), at(360), 20, 20)]
    assert result[0]["score"] == 20 and result[0]["ports"] == list(range(1000, 1020))


def test_a_cut_scan_of_exactly_the_threshold_is_found() -> None:
    """16 ports 15 s apart from 10:01:15 (225 s): 15 + 1 and 5 + 11 on the
    grids; the window starting at the first probe holds exactly 16."""
    rows = probes(range(1000, 1016), start=75, step=15)
    assert [
        (f["window_start"], f["port_count"])
        for f in findings(vertical_scan(table(rows), VerticalScanConfig()))
    ] == [(at(75), 16)]


def test_a_cut_windows_metrics_end_before_its_end() -> None:
    """The -T1 scan, then its last port again at exactly 300 s after the
    first probe: outside the window [75 s, 375 s), so not in its metrics."""
    rows = probes(range(1000, 1020), start=75, step=15) + probes([1019], start=375)
    (found,) = findings(vertical_scan(table(rows), VerticalScanConfig()))
    assert (found["window_start"], found["event_count"], found["last_seen"]) == (
        at(75),
        20,
        at(360),
    )


def test_a_cut_scan_is_not_found_again_beside_a_grid_finding() -> None:
    """The same cut scan, then 16 ports inside the 10:10 window: the grid's
    finding stands and the cut scan is found once, before it."""
    rows = probes(range(1000, 1020), start=75, step=15) + probes(range(2000, 2016), start=610)
    assert [
        (f["window_start"], f["port_count"])
        for f in findings(vertical_scan(table(rows), VerticalScanConfig()))
    ] == [(at(75), 20), (at(600), 16)]


def test_a_near_miss_both_grids_cut_is_still_no_finding() -> None:
    """15 ports 20 s apart: no window of any start holds 16."""
    rows = probes(range(1000, 1015), start=75, step=20) + probes([1000], start=75 + 15 * 20)
    assert findings(vertical_scan(table(rows), VerticalScanConfig())) == []


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from([HOST, "203.0.113.11"]),
            st.integers(1, 8),  # the port
            st.integers(0, 2 * 150),  # in half seconds: 0 to 150 s, windows of 40 s
        ),
        max_size=60,
    ),
    st.sampled_from([3, 4, 5]),
    st.sampled_from([40, 41]),  # an odd width: grid B starts half a second off the half
)
def test_every_window_holding_the_threshold_overlaps_a_finding(
    probed: list[tuple[str, int, int]], minimum: int, width: int
) -> None:
    """Against a brute force over windows starting at every probe: each one
    holding ``minimum`` ports overlaps a finding of its host; each finding's
    metrics are its own window's; a finding off both grids starts at a probe;
    the grid's findings and the cut ones never overlap each other."""
    rows = [
        {"source_ip": SCANNER, "destination_ip": host, "destination_port": port, "seconds": t / 2}
        for host, port, t in probed
    ]
    cfg = VerticalScanConfig(window_seconds=width, min_ports=minimum)
    found = findings(vertical_scan(table(rows), cfg)) if rows else []

    def inside(host: str, start: float) -> list[dict[str, Any]]:
        return [
            r for r in rows
            if r["destination_ip"] == host and start <= r["seconds"] < start + width
        ]  # fmt: skip

    def seconds(when: dt.datetime) -> float:
        return (when - BASE_TIME).total_seconds()

    def on_grid(start: float) -> bool:
        """Grid A starts on multiples of the width in epoch seconds, grid B half
        a width (floored) later."""
        epoch = BASE_TIME.timestamp() + start
        return epoch % width == 0 or (epoch - width // 2) % width == 0

    spans = {host: [seconds(f["window_start"]) for f in found if f["label"] == host]
             for host in (HOST, "203.0.113.11")}  # fmt: skip
    for row in rows:
        host, start = row["destination_ip"], row["seconds"]
        if len({r["destination_port"] for r in inside(host, start)}) >= minimum:
            assert any(abs(s - start) < width for s in spans[host]), (host, start)
    for f in found:
        start = seconds(f["window_start"])
        mine = inside(f["label"], start)
        assert f["port_count"] == len({r["destination_port"] for r in mine}) >= minimum
        assert f["event_count"] == len(mine)
        assert seconds(f["first_seen"]) == min(r["seconds"] for r in mine)
        assert seconds(f["last_seen"]) == max(r["seconds"] for r in mine)
        if not on_grid(start):
            assert start == seconds(f["first_seen"]), f  # a cut window starts at a probe

    # A cut window never starts on a grid (it would be a grid window the grids'
    # findings overlap). Only two cut windows may overlap.
    for host, starts in spans.items():
        for one, other in itertools.combinations(starts, 2):
            if abs(one - other) < width:
                assert not on_grid(one) and not on_grid(other), (host, one, other)


def test_selection_is_per_source_and_host() -> None:
    rows = (
        probes(range(1000, 1016))
        + probes(range(1000, 1016), destination_ip="203.0.113.11", start=200)
        + probes(range(1000, 1016), source_ip="198.51.100.8", start=292)
    )
    assert [
        (f["source_ip"], f["label"], f["window_start"])
        for f in findings(vertical_scan(table(rows), VerticalScanConfig()))
    ] == [
        (SCANNER, HOST, at(0)),
        (SCANNER, "203.0.113.11", at(0)),
        ("198.51.100.8", HOST, at(150)),
    ]


def test_findings_have_the_findings_types() -> None:
    expr = vertical_scan(table(probes(range(16))), VerticalScanConfig())
    schema = expr.to_pyarrow().schema
    assert schema.names == FINDINGS.names
    assert [f.type for f in schema] == [f.type for f in FINDINGS]


# --- horizontal scan ---------------------------------------------------------------------------


def test_horizontal_sweep_of_26_hosts_is_one_exact_finding() -> None:
    result = findings(horizontal_scan(table(sweep(26)), HorizontalScanConfig()))
    assert result == [
        {
            "detection": "horizontal_scan",
            "source_ip": SCANNER,
            "window_start": at(0),
            "first_seen": at(0),
            "last_seen": at(25),
            "event_count": 26,
            "target_count": 26,
            "port_count": 1,
            "targets": sorted(f"203.0.113.{n}" for n in range(1, 27)),
            "ports": [22],
            "score": 26.0,
            "label": "tcp/22",
        }
    ]


def test_horizontal_sweep_of_25_hosts_is_below_zeeks_threshold() -> None:
    assert findings(horizontal_scan(table(sweep(25)), HorizontalScanConfig())) == []


def test_horizontal_sweep_counts_failed_attempts_only() -> None:
    rows = [
        *sweep(25),
        {
            "source_ip": SCANNER,
            "destination_ip": "203.0.113.200",
            "destination_port": 22,
            "connection_outcome": "succeeded",
            "event_action": "allowed",
        },
    ]
    assert findings(horizontal_scan(table(rows), HorizontalScanConfig())) == []


def test_horizontal_sweep_separates_transports() -> None:
    # 13 hosts on tcp/53 and 13 on udp/53 are two small sweeps, not one of 26.
    rows = sweep(13, port=53) + [
        {**row, "network_transport": "udp", "tcp_flags": None}
        for row in sweep(13, port=53, start=20)
    ]
    assert findings(horizontal_scan(table(rows), HorizontalScanConfig())) == []
    rows += [
        {**row, "network_transport": "udp", "tcp_flags": None}
        for row in sweep(26, port=53, start=40)
    ]
    assert [f["label"] for f in findings(horizontal_scan(table(rows), HorizontalScanConfig()))] == [
        "udp/53"
    ]


def test_horizontal_sweep_labels_each_port() -> None:
    rows = sweep(26, port=22) + sweep(30, port=3389, start=100)
    assert [
        (f["label"], f["target_count"])
        for f in findings(horizontal_scan(table(rows), HorizontalScanConfig()))
    ] == [("tcp/22", 26), ("tcp/3389", 30)]


def test_a_horizontal_sweep_both_grids_cut_is_found() -> None:
    """30 hosts 9.5 s apart (275.5 s) from 10:01:15: at most 24 of them in any
    grid window, all 30 in the window starting at the first probe."""
    rows = [{**row, "seconds": 75 + n * 9.5} for n, row in enumerate(sweep(30))]
    result = findings(horizontal_scan(table(rows), HorizontalScanConfig()))
    assert [(f["label"], f["window_start"], f["target_count"]) for f in result] == [
        ("tcp/22", at(75), 30)
    ]


def test_horizontal_sweep_straddling_a_boundary_is_caught_once() -> None:
    rows = sweep(26, start=290)
    assert windows(horizontal_scan(table(rows), HorizontalScanConfig())) == [("tcp/22", at(150))]


# --- block scan --------------------------------------------------------------------------------


def block(hosts: int, ports: int, *, start: float = 0, **row: Any) -> list[dict[str, Any]]:
    """``hosts`` x ``ports`` failed probes, a second apart."""
    base = {"source_ip": SCANNER, **row}
    return [
        {
            **base,
            "destination_ip": f"203.0.113.{h + 1}",
            "destination_port": 8000 + p,
            "seconds": start + h * ports + p,
        }
        for h in range(hosts)
        for p in range(ports)
    ]


def test_block_scan_of_8_hosts_by_8_ports_is_one_exact_finding() -> None:
    network = table(block(8, 8))
    assert findings(block_scan(network, BlockScanConfig())) == [
        {
            "detection": "block_scan",
            "source_ip": SCANNER,
            "window_start": at(0),
            "first_seen": at(0),
            "last_seen": at(63),
            "event_count": 64,
            "target_count": 8,
            "port_count": 8,
            "targets": [f"203.0.113.{n}" for n in range(1, 9)],
            "ports": list(range(8000, 8008)),
            "score": 64.0,
            "label": None,
        }
    ]
    # The reason block_scan exists: neither of the other two sees it.
    assert findings(vertical_scan(network, VerticalScanConfig())) == []
    assert findings(horizontal_scan(network, HorizontalScanConfig())) == []


def test_block_scan_needs_enough_pairs() -> None:
    # 6 x 6 = 36 distinct pairs, retried twice: 72 failures but under 40 pairs.
    rows = block(6, 6) + block(6, 6, start=100)
    assert findings(block_scan(table(rows), BlockScanConfig())) == []


def test_block_scan_needs_enough_hosts() -> None:
    # 4 hosts x 20 ports = 80 pairs: a vertical scan of four hosts, not a block.
    network = table(block(4, 20))
    assert findings(block_scan(network, BlockScanConfig())) == []
    assert [f["label"] for f in findings(vertical_scan(network, VerticalScanConfig()))] == [
        "203.0.113.1",
        "203.0.113.2",
        "203.0.113.3",
        "203.0.113.4",
    ]


def test_block_scan_ignores_successful_connections() -> None:
    # 8 x 8 again, but half the ports answer: 8 hosts x 4 failed ports = 32 pairs.
    rows = [
        {**row, "connection_outcome": "succeeded", "event_action": "allowed"}
        if row["destination_port"] >= 8004
        else row
        for row in block(8, 8)
    ]
    assert findings(block_scan(table(rows), BlockScanConfig())) == []


def test_block_scan_straddling_a_boundary_is_caught_once() -> None:
    assert windows(block_scan(table(block(8, 8, start=270)), BlockScanConfig())) == [
        (None, at(150))
    ]
