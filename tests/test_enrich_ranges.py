"""The range join: integers for addresses, bucketed equi-join, checked against brute force."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import network_rows
from reconwatch.engine import Engine
from reconwatch.enrich.ranges import (
    FANOUT_CAP,
    addresses_to_ints,
    build_ranges,
    join128,
    match,
    network_bounds,
    ranges_from_bounds,
    split128,
)
from reconwatch.lake import Lake


def _ranges(cidrs: list[str]) -> pa.Table:
    nets = [ipaddress.ip_network(c) for c in cidrs]
    bounds = [network_bounds(n) for n in nets]
    return ranges_from_bounds(
        [b[0] for b in bounds],
        [b[1] for b in bounds],
        [b[2] for b in bounds],
        pa.table({"name": pa.array(cidrs, pa.string())}),
    )


def _pairs(ips: list[str], cidrs: list[str]) -> set[tuple[str, str]]:
    table = pa.table({"ip": pa.array(ips, pa.string())})
    hits = match(table, build_ranges(_ranges(cidrs))).to_pyarrow()
    return set(zip(hits.column("ip").to_pylist(), hits.column("name").to_pylist(), strict=True))


def test_split128_keeps_order_and_round_trips() -> None:
    values = [0, 1, 2**32 - 1, 2**63 - 1, 2**63, 2**64 - 1, 2**64, 2**127, 2**128 - 1]
    halves = [split128(v) for v in values]
    assert halves == sorted(halves)
    assert [join128(*h) for h in halves] == values
    assert split128(0) == (-(2**63), -(2**63))


def test_addresses_to_ints_vectorised_and_per_distinct_paths() -> None:
    ips = ["1.2.3.4", "::ffff:1.2.3.4", "2001:db8::1", "01.2.3.4", "bogus", None, "255.255.255.255"]
    out = addresses_to_ints(pa.array(ips, pa.string())).to_pylist()
    assert out[0] == {"family": 4, "hi": -(2**63), "lo": 0x01020304 - 2**63}
    assert out[1] == out[0]  # mapped IPv4 is IPv4
    hi, lo = split128(int(ipaddress.ip_address("2001:db8::1")))
    assert out[2] == {"family": 6, "hi": hi, "lo": lo}
    assert out[3] == {"family": None, "hi": None, "lo": None}  # leading zeros are ambiguous
    assert out[4] == {"family": None, "hi": None, "lo": None}
    assert out[5] == {"family": None, "hi": None, "lo": None}
    assert out[6] == {"family": 4, "hi": -(2**63), "lo": 0xFFFFFFFF - 2**63}


def test_edges_of_ranges_and_families() -> None:
    cidrs = ["198.51.100.0/24", "2001:db8::/32", "10.0.0.0/8", "203.0.113.7/32", "::/0"]
    ips = [
        "198.51.100.0",  # first address
        "198.51.100.255",  # last address
        "198.51.99.255",  # one below
        "198.51.101.0",  # one above
        "2001:db8::",
        "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff",
        "2001:db9::",
        "::ffff:10.20.30.40",  # mapped: matches the IPv4 /8, not ::/0
        "203.0.113.7",
        "203.0.113.8",
    ]
    assert _pairs(ips, cidrs) == {
        ("198.51.100.0", "198.51.100.0/24"),
        ("198.51.100.255", "198.51.100.0/24"),
        ("2001:db8::", "2001:db8::/32"),
        ("2001:db8::", "::/0"),
        ("2001:db8:ffff:ffff:ffff:ffff:ffff:ffff", "2001:db8::/32"),
        ("2001:db8:ffff:ffff:ffff:ffff:ffff:ffff", "::/0"),
        ("2001:db9::", "::/0"),
        ("::ffff:10.20.30.40", "10.0.0.0/8"),
        ("203.0.113.7", "203.0.113.7/32"),
    }


def test_wide_ranges_are_cut_into_at_most_fanout_cap_buckets() -> None:
    cidrs = ["0.0.0.0/0", "10.0.0.0/7", "10.0.0.0/8", "10.0.0.0/9", "10.1.0.0/16", "::/0", "::/1"]
    prepared = build_ranges(_ranges(cidrs))
    per_range = prepared.buckets.group_by("rid").aggregate([("bucket", "count")]).to_pylist()
    counts = {cidrs[r["rid"]]: r["bucket_count"] for r in per_range}
    assert counts == {
        "0.0.0.0/0": 256,  # at /8 level
        "10.0.0.0/7": 2,  # at /8 level
        "10.0.0.0/8": 256,  # at /16 level
        "10.0.0.0/9": 128,  # at /16 level
        "10.1.0.0/16": 256,  # at /24 level
        "::/0": 1,  # at /0 level
        "::/1": 1,  # 32768 /16s is too many: /0 level
    }
    assert max(counts.values()) <= FANOUT_CAP
    assert prepared.exact.num_rows == 0


def test_no_duplicate_hits_when_a_range_spans_levels() -> None:
    assert _pairs(["10.255.255.255", "11.0.0.0"], ["10.0.0.0/7", "10.0.0.0/8"]) == {
        ("10.255.255.255", "10.0.0.0/7"),
        ("10.255.255.255", "10.0.0.0/8"),
        ("11.0.0.0", "10.0.0.0/7"),
    }
    table = pa.table({"ip": ["10.255.255.255"]})
    hits = match(table, build_ranges(_ranges(["10.0.0.0/7", "10.0.0.0/8"]))).to_pyarrow()
    assert hits.num_rows == 2


def test_arbitrary_start_end_ranges() -> None:
    a, b = int(ipaddress.ip_address("192.0.2.10")), int(ipaddress.ip_address("192.0.3.20"))
    table = ranges_from_bounds([4], [a], [b], pa.table({"name": ["odd"]}))
    ips = ["192.0.2.9", "192.0.2.10", "192.0.2.255", "192.0.3.20", "192.0.3.21"]
    hits = match(pa.table({"ip": ips}), build_ranges(table)).to_pyarrow()
    assert sorted(hits.column("ip").to_pylist()) == ["192.0.2.10", "192.0.2.255", "192.0.3.20"]


v4_nets = st.builds(
    lambda addr, plen: ipaddress.ip_network(f"{ipaddress.IPv4Address(addr)}/{plen}", strict=False),
    st.integers(0, 2**32 - 1),
    st.integers(1, 32),
)
v6_nets = st.builds(
    lambda addr, plen: ipaddress.ip_network(f"{ipaddress.IPv6Address(addr)}/{plen}", strict=False),
    st.integers(0, 2**128 - 1),
    st.integers(1, 128),
)


def _near(nets: list[ipaddress.IPv4Network | ipaddress.IPv6Network]) -> st.SearchStrategy[str]:
    """Addresses at, around and inside the ranges' edges, plus random ones."""
    points: list[str] = []
    for net in nets:
        top = 2**32 - 1 if net.version == 4 else 2**128 - 1
        cls = ipaddress.IPv4Address if net.version == 4 else ipaddress.IPv6Address
        for v in (int(net.network_address) - 1, int(net.network_address),
                  int(net.broadcast_address), int(net.broadcast_address) + 1):  # fmt: skip
            if 0 <= v <= top:
                points.append(str(cls(v)))
                if net.version == 4:
                    points.append(f"::ffff:{cls(v)}")
    randoms = st.one_of(
        st.integers(0, 2**32 - 1).map(lambda v: str(ipaddress.IPv4Address(v))),
        st.integers(0, 2**128 - 1).map(lambda v: str(ipaddress.IPv6Address(v))),
    )
    return st.one_of(st.sampled_from(points), randoms) if points else randoms


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_join_equals_brute_force(data: st.DataObject) -> None:
    nets = data.draw(st.lists(st.one_of(v4_nets, v6_nets), min_size=1, max_size=8))
    ips = data.draw(st.lists(_near(nets), min_size=1, max_size=30))
    cidrs = [str(n) for n in nets]
    expected = set()
    for ip in ips:
        addr = ipaddress.ip_address(ip)
        if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
            addr = addr.ipv4_mapped
        for net in nets:
            if addr.version == net.version and addr in net:
                expected.add((ip, str(net)))
    assert _pairs(ips, cidrs) == expected


def test_match_runs_on_an_engine_table_over_the_lake(tmp_path: Path) -> None:
    """The hunt's own Engine (DuckDB over Parquet) feeds the join, and the hits join back."""
    lake = Lake(tmp_path / "lake")
    rows = [
        {"source_ip": "198.51.100.7", "destination_ip": "203.0.113.1", "destination_port": 22},
        {"source_ip": "198.51.100.7", "destination_ip": "203.0.113.2", "destination_port": 22},
        {"source_ip": "2001:db8::5", "destination_ip": "203.0.113.3", "destination_port": 80},
        {"source_ip": "192.0.2.1", "destination_ip": "203.0.113.4", "destination_port": 80},
    ]
    lake.write("network", network_rows(rows), "t")
    engine = Engine(lake)
    try:
        events = engine.table("network")
        hits = match(events, build_ranges(_ranges(["198.51.100.0/24", "2001:db8::/32"])),
                     "source_ip")  # fmt: skip
        per_event = events.join(hits, events.source_ip == hits.ip)
        got = per_event.select("source_ip", "destination_ip", "name").to_pyarrow()
    finally:
        engine.close()
    assert sorted(got.to_pylist(), key=lambda r: r["destination_ip"]) == [
        {"source_ip": "198.51.100.7", "destination_ip": "203.0.113.1", "name": "198.51.100.0/24"},
        {"source_ip": "198.51.100.7", "destination_ip": "203.0.113.2", "name": "198.51.100.0/24"},
        {"source_ip": "2001:db8::5", "destination_ip": "203.0.113.3", "name": "2001:db8::/32"},
    ]


def test_empty_range_table_matches_nothing() -> None:
    hits = match(pa.table({"ip": ["1.2.3.4", "2001:db8::1"]}), build_ranges(_ranges([])))
    assert hits.to_pyarrow().num_rows == 0


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.integers(0, 2**32 - 1).map(lambda v: str(ipaddress.IPv4Address(v))),
            st.integers(0, 2**128 - 1).map(lambda v: str(ipaddress.IPv6Address(v))),
            st.integers(0, 2**32 - 1).map(lambda v: f"::ffff:{ipaddress.IPv4Address(v)}"),
            st.text(max_size=12),
            st.sampled_from([" 1.2.3.4", "1.2.3.4 ", "fe80::1%eth0", "1.2.3.04", "::ffff:1.2.3.4"]),
        ),
        max_size=40,
    )
)
def test_addresses_to_ints_equals_ipaddress(values: list[str]) -> None:
    got = addresses_to_ints(pa.array(values, pa.string())).to_pylist()
    for text, row in zip(values, got, strict=True):
        try:
            addr = ipaddress.ip_address(text)
        except ValueError:
            addr = None
        if addr is None or "%" in text:  # zone ids are refused (text from logs)
            assert row == {"family": None, "hi": None, "lo": None}
            continue
        if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
            addr = addr.ipv4_mapped
        hi, lo = split128(int(addr))
        assert row == {"family": addr.version, "hi": hi, "lo": lo}
