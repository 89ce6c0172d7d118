"""IPv6 address rotation: the addresses of one /64 splitting a scan are one actor."""

from __future__ import annotations

import datetime as dt
import ipaddress
from pathlib import Path
from typing import Any

import ibis
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rich.console import Console

from conftest import BASE_TIME, network_rows
from reconwatch.cases import build_cases
from reconwatch.config import DetectConfig, EngineConfig, Ipv6PrefixScanConfig, SiteConfig
from reconwatch.detect import run_detections
from reconwatch.detect.prefix import ipv6_net64, ipv6_prefix_scan, key_in_networks, net64_groups
from reconwatch.engine import Engine
from reconwatch.lake import Lake
from reconwatch.report.console import print_cases

PREFIX = "2001:db8:77:1"
NETWORK = f"{PREFIX}::/64"
LABEL = f"campaign:ipv6@{NETWORK}"
WEB = "2001:db8:100::80"


def at(seconds: float) -> dt.datetime:
    return BASE_TIME + dt.timedelta(seconds=seconds)


def table(rows: list[dict[str, Any]]) -> ibis.Table:
    return ibis.memtable(network_rows(rows))


def scan(
    rows: list[dict[str, Any]],
    cfg: Ipv6PrefixScanConfig | None = None,
    site: SiteConfig | None = None,
    detect: DetectConfig | None = None,
) -> list[dict[str, Any]]:
    """The detection's findings over ``rows``, sorted (``cfg`` replaces the
    section of ``detect``, default ``DetectConfig()``)."""
    detect = detect or DetectConfig()
    if cfg is not None:
        detect = detect.model_copy(update={"ipv6_prefix_scan": cfg})
    expr = ipv6_prefix_scan(table(rows), detect.ipv6_prefix_settings, site or SiteConfig())
    return findings(expr)


def findings(expr: ibis.Table) -> list[dict[str, Any]]:
    rows = expr.to_pyarrow().to_pylist()
    return sorted(rows, key=lambda f: (f["label"], f["window_start"], f["source_ip"]))


def rotating(
    probes: list[tuple[str, int]], *, prefix: str = PREFIX, offset: float = 0, step: float = 2
) -> list[dict[str, Any]]:
    """One failed probe per (host, port), each from a new address of ``prefix``::/64."""
    return [
        {
            "source_ip": str(
                ipaddress.IPv6Address(f"{prefix}:{n + 1:x}:{n * 7 + 3:x}:0:{n + 1:x}")
            ),
            "destination_ip": host,
            "destination_port": port,
            "seconds": offset + n * step,
        }
        for n, (host, port) in enumerate(probes)
    ]


def vertical(ports: int) -> list[tuple[str, int]]:
    return [(WEB, 1000 + p) for p in range(ports)]


def net64(addresses: list[str]) -> list[str]:
    ips = ibis.memtable(pa.table({"ip": addresses}))
    result = ips.select(net=ipv6_net64(ips.ip)).to_pyarrow().column("net").to_pylist()
    return [str(net) for net in result]


def expected_net64(address: str) -> str:
    return str(ipaddress.IPv6Network(f"{address}/64", strict=False))


def test_net64_on_the_corner_cases() -> None:
    addresses = ["::", "::1", "fe80::", "2001:db8::1", "1::", "0:0:0:1::", "1:0:0:1::1"]
    addresses += ["1:2:3:4:5:6:7:8", "1:0:0:0:5:6:7:8", "1::5:6:7:8", "::4:5:6:7:8"]
    assert net64(addresses) == [expected_net64(a) for a in addresses]
    assert net64(["1:0:0:1::1", "::4:5:6:7:8"]) == ["1:0:0:1::/64", "0:0:0:4::/64"]


#: Hextets as canonical text has them: zeros are likely, so are runs of them.
HEXTET = st.one_of(st.just(0), st.just(0), st.integers(0, 0xFFFF))


@settings(max_examples=50, deadline=None)
@given(st.lists(st.lists(HEXTET, min_size=8, max_size=8), min_size=1, max_size=40))
def test_net64_is_what_ipaddress_says(hextets: list[list[int]]) -> None:
    addresses = []
    for groups in hextets:
        address = ipaddress.IPv6Address(":".join(f"{h:x}" for h in groups))
        if address.ipv4_mapped is None:  # mapped addresses are stored as IPv4
            addresses.append(str(address))
    if addresses:
        assert net64(addresses) == [expected_net64(a) for a in addresses]


def canonical(hextets: list[int]) -> str | None:
    """Canonical text of eight hextets; None for an IPv4-mapped address
    (the lake holds those as IPv4)."""
    address = ipaddress.IPv6Address(":".join(f"{h:x}" for h in hextets))
    return None if address.ipv4_mapped is not None else str(address)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.lists(HEXTET, min_size=8, max_size=8), min_size=1, max_size=20),
    st.lists(
        st.tuples(st.lists(HEXTET, min_size=8, max_size=8), st.integers(0, 128)),
        min_size=1,
        max_size=4,
    ),
)
def test_key_in_networks_is_overlap_of_the_64(
    hextets: list[list[int]], ranges: list[tuple[list[int], int]]
) -> None:
    addresses = [a for a in map(canonical, hextets) if a is not None]
    networks = [
        ipaddress.IPv6Network(
            (ipaddress.IPv6Address(":".join(f"{h:x}" for h in groups)), bits), strict=False
        )
        for groups, bits in ranges
    ]
    if not addresses:
        return
    ips = ibis.memtable(pa.table({"ip": addresses}))
    keyed = ips.mutate(key=net64_groups(ips.ip))
    got = keyed.select(hit=key_in_networks(keyed.key, networks)).to_pyarrow().column(0)
    expected = [
        any(ipaddress.IPv6Network(f"{a}/64", strict=False).overlaps(n) for n in networks)
        for a in addresses
    ]
    assert got.to_pylist() == expected


@pytest.mark.parametrize(
    ("network", "inside", "outside"),
    [
        ("fe80::/10", ["fe80::1", "fe9a::1", "febf:ffff::1"], ["fec0::1", "fe7f::1", "fe8::1"]),
        ("fc00::/7", ["fc00::1", "fd12:3456::1"], ["fe00::1", "fbff::1", "fc::1"]),
        ("2001:db8::/29", ["2001:db8::1", "2001:dbf:ffff::1"], ["2001:dc0::1", "2001:db7::1"]),
        ("2001::/32", ["2001:0:4136:e378::1", "2001::1"], ["2001:1::1", "2002::1"]),
        ("64:ff9b::/96", ["64:ff9b::c000:201", "64:ff9b::1:0:1"], ["64:ff9b:1::1"]),
        ("::/64", ["::1", "::ffff:0:c000:201", "::1:0:0:1"], ["0:0:0:1::1", "1::"]),
    ],
)
def test_key_in_networks_on_partial_hextets(
    network: str, inside: list[str], outside: list[str]
) -> None:
    ips = ibis.memtable(pa.table({"ip": inside + outside}))
    keyed = ips.mutate(key=net64_groups(ips.ip))
    test = key_in_networks(keyed.key, [ipaddress.IPv6Network(network)])
    got = keyed.select(hit=test).to_pyarrow().column(0).to_pylist()
    assert got == [True] * len(inside) + [False] * len(outside)


def test_a_vertical_scan_from_forty_addresses_is_one_actor() -> None:
    rows = rotating(vertical(40))
    result = scan(rows, Ipv6PrefixScanConfig())
    assert len(result) == 40
    assert {f["label"] for f in result} == {LABEL}
    assert {f["source_ip"] for f in result} == {row["source_ip"] for row in rows}
    assert {f["window_start"] for f in result} == {at(0)}
    assert {f["score"] for f in result} == {40.0}  # host:port pairs of the whole /64
    first = next(f for f in result if f["source_ip"] == rows[0]["source_ip"])
    assert (first["event_count"], first["targets"], first["ports"]) == (1, [WEB], [1000])
    assert first["first_seen"] == first["last_seen"] == at(0)
    # No single address reaches any per-source threshold.
    per_source = run_detections(table(rows), DetectConfig(), ["vertical_scan", "block_scan"])
    assert per_source.num_rows == 0


def test_each_threshold_of_the_port_scans_applies_to_the_prefix() -> None:
    cfg = Ipv6PrefixScanConfig()
    hosts = [f"2001:db8:100::{h:x}" for h in range(1, 41)]
    cases = {
        "vertical": (vertical(16), vertical(15)),
        "horizontal": ([(h, 22) for h in hosts[:26]], [(h, 22) for h in hosts[:25]]),
        "block": (
            [(h, p) for h in hosts[:5] for p in range(8)],  # 5 hosts x 8 ports
            [(h, p) for h in hosts[:5] for p in range(7)],  # 35 pairs: too few
        ),
    }
    for name, (enough, short) in cases.items():
        assert scan(rotating(enough), cfg), name
        assert not scan(rotating(short), cfg), name


def test_an_address_scanning_alone_is_the_per_source_detections_business() -> None:
    lone = [{**row, "source_ip": f"{PREFIX}::9"} for row in rotating(vertical(40))]
    assert not scan(lone)
    # A neighbour's stray packet in the scan's window makes no rotation ...
    stray = {**lone[0], "source_ip": f"{PREFIX}::a", "destination_port": 25, "seconds": 5}
    assert not scan([*lone, stray])
    # ... nor do the lone scanner's later probes, under every limit, with the
    # neighbour's: 10 + 10 ports, but the first address is a scanner of its own.
    later = [{**row, "seconds": row["seconds"] + 900} for row in lone[:10]]
    later += [{**row, "source_ip": f"{PREFIX}::a", "seconds": 900} for row in lone[10:20]]
    assert not scan([*lone, *later])
    # Two addresses sharing the scan, neither at a limit alone: one rotation.
    shared = [{**row, "source_ip": f"{PREFIX}::{n % 2 + 1}"} for n, row in enumerate(lone[:30])]
    assert {f["source_ip"] for f in scan(shared)} == {f"{PREFIX}::1", f"{PREFIX}::2"}
    assert not scan(shared, Ipv6PrefixScanConfig(min_sources=3))


def test_our_own_networks_and_shared_prefixes_are_no_actor() -> None:
    # An office LAN's /64 (ours) whose outbound probes the firewall drops.
    ours = rotating(vertical(40), prefix="2001:db8:100:10")
    assert scan(ours)
    assert not scan(ours, site=SiteConfig(home_networks=["2001:db8:100::/48"]))
    # NAT64: the IPv4 internet behind one /64; Teredo; link-local; SIIT.
    for prefix in ("64:ff9b:0:0", "2001:0:4136:e378", "fe80:0:0:0", "0:0:0:0"):
        rows = rotating(vertical(40), prefix=prefix)
        assert not scan(rows), prefix
        assert scan(rows, Ipv6PrefixScanConfig(shared_ranges=[])), prefix
    # A site's own NAT64 prefix, narrower than a /64, stands for its /64.
    mine = rotating(vertical(40), prefix="2001:db8:64:0")
    assert not scan(mine, Ipv6PrefixScanConfig(shared_ranges=["2001:db8:64::/96"]))


def test_neighbouring_prefixes_ipv4_and_successes_do_not_add_up() -> None:
    cfg = Ipv6PrefixScanConfig()
    # Ten ports from each of two /64s of one /48: 20 together, under 16 each.
    split = rotating(vertical(10)) + rotating(vertical(20)[10:], prefix="2001:db8:77:2")
    assert not scan(split, cfg)
    ipv4 = [
        {**row, "source_ip": f"198.51.100.{n + 1}", "destination_ip": "203.0.113.5"}
        for n, row in enumerate(rotating(vertical(40)))
    ]
    assert not scan(ipv4, cfg)
    answered = [{**row, "connection_outcome": "succeeded"} for row in rotating(vertical(40))]
    assert not scan(answered, cfg)


def test_a_busy_lan_is_no_scan() -> None:
    """Two hundred addresses of one office /64 failing to reach two services."""
    probes = [(WEB, 443), ("2001:db8:100::25", 25)] * 100
    assert not scan(rotating(probes), Ipv6PrefixScanConfig())


def test_a_scan_straddling_a_window_boundary_is_found_once() -> None:
    # 20 ports from 280 s to 318 s: 10 + 10 on grid A, all 20 in grid B's 150-450 s.
    rows = rotating(vertical(20), offset=280)
    result = scan(rows, Ipv6PrefixScanConfig())
    assert {f["window_start"] for f in result} == {at(150)}
    assert len(result) == 20


def test_a_long_scan_is_one_actor_over_its_windows() -> None:
    # 16 ports in each of three 5-minute windows: three windows, one label.
    rows = []
    for w in range(3):
        rows += rotating(vertical(16), offset=300 * w + 10)
    result = scan(rows, Ipv6PrefixScanConfig())
    assert {f["window_start"] for f in result} == {at(0), at(300), at(600)}
    assert {f["label"] for f in result} == {LABEL}


def test_the_members_make_one_case() -> None:
    rows = rotating(vertical(30))
    network = table(rows)
    found = run_detections(network, DetectConfig(), ["ipv6_prefix_scan"])
    (case,) = build_cases(network, found, 3)
    assert case.campaign == LABEL
    assert sorted(case.sources) == sorted(row["source_ip"] for row in rows)
    assert (case.activity.port_count, case.activity.target_count) == (30, 1)
    assert case.activity.events == 30
    # Shown as the /64 it is, not as one address of it.
    assert case.network == NETWORK
    first = case.findings[0]
    assert first.describe() == (
        f"1 port(s) of 1 host(s) probed from {first.source_ip}, one of the addresses of "
        f"{NETWORK}, which probed 30 host:port pairs together in the window"
    )
    console = Console(record=True, width=160)
    print_cases(console, [case])
    assert f"{NETWORK} (30 addresses)" in console.export_text()


def test_identical_on_spark(tmp_path: Path) -> None:
    rows = rotating(vertical(20), offset=280) + rotating(
        [(f"2001:db8:100::{h:x}", 22) for h in range(1, 30)], prefix="::1:2", offset=900
    )
    # Left out on both engines: a lone scanner with a neighbour's stray
    # packet, a NAT64 /64, and a /64 of ours.
    lone = [{**row, "source_ip": "2001:db8:5::9"} for row in rotating(vertical(40))]
    rows += [*lone, {**lone[0], "source_ip": "2001:db8:5::a", "destination_port": 25}]
    rows += rotating(vertical(40), prefix="64:ff9b:0:0", offset=1800)
    rows += rotating(vertical(40), prefix="2001:db8:100:10", offset=2400)
    lake = Lake(tmp_path / "lake")
    lake.write("network", network_rows(rows), "rotation")
    duck = Engine(lake)
    spark = Engine(lake, EngineConfig(kind="spark", spark_master="local[2]"))
    try:
        names = ["ipv6_prefix_scan"]
        site = SiteConfig(home_networks=["2001:db8:100::/48"])
        expected = run_detections(duck.tables(), DetectConfig(), names, site)
        assert set(expected.column("label").to_pylist()) == {LABEL, "campaign:ipv6@0:0:1:2::/64"}
        assert run_detections(spark.tables(), DetectConfig(), names, site).equals(expected)
        sources = spark.table("network").select("source_ip").distinct()
        nets = sources.mutate(net=ipv6_net64(sources.source_ip)).to_pyarrow().to_pylist()
        assert {r["net"] for r in nets} == {expected_net64(r["source_ip"]) for r in nets}
    finally:
        duck.close()
        spark.close()


def test_one_source_is_no_rotation_and_shared_ranges_are_ipv6() -> None:
    with pytest.raises(ValueError, match="min_sources"):
        Ipv6PrefixScanConfig(min_sources=1)
    with pytest.raises(ValueError, match=r"IPv6 ranges only; not 100\.64\.0\.0/10"):
        Ipv6PrefixScanConfig(shared_ranges=["64:ff9b::/96", "100.64.0.0/10"])


def test_the_limits_are_the_port_scans_own() -> None:
    """One setting per limit, for an address and for a /64: raised in
    ``vertical_scan``, it is raised for both."""
    rows = rotating(vertical(20))
    assert scan(rows)
    higher = DetectConfig.model_validate({"vertical_scan": {"min_ports": 21}})
    assert not scan(rows, detect=higher)
    # An address probing 18 ports is a scanner alone at 16, not at 21: then
    # it and a neighbour's 3 ports are a rotation of 21.
    lone = [{**row, "source_ip": f"{PREFIX}::9"} for row in rows[:18]]
    neighbour = [{**row, "source_ip": f"{PREFIX}::a"} for row in rotating(vertical(21))[18:]]
    assert not scan([*lone, *neighbour])
    assert {f["source_ip"] for f in scan([*lone, *neighbour], detect=higher)} == {
        f"{PREFIX}::9",
        f"{PREFIX}::a",
    }


def kernel_line(n: int, source: str, port: int) -> str:
    """A netfilter LOG line as the kernel writes an IPv6 SYN (``%pI6``: every
    group written out in full, four hex digits each)."""
    full = ipaddress.IPv6Address(source).exploded
    dst = ipaddress.IPv6Address(WEB).exploded
    stamp = (BASE_TIME + dt.timedelta(seconds=2 * n)).strftime("%b %d %H:%M:%S").replace(" 0", "  ")
    return (
        f"{stamp} fw kernel: [{1000 + n}.000000] RW-DROP IN=eth0 OUT= SRC={full} DST={dst} "
        f"LEN=80 TC=0 HOPLIMIT=52 FLOWLBL=0 PROTO=TCP SPT=40000 DPT={port} WINDOW=1024 "
        "RES=0x00 SYN URGP=0\n"
    )


def test_a_hunt_makes_one_escalated_case_and_blocks_the_prefix_once(tmp_path: Path) -> None:
    from reconwatch.config import Config
    from reconwatch.hunt import hunt
    from reconwatch.triage import QUESTIONS

    # 120 ports of our web server in four minutes, each from a new address.
    probes = rotating(vertical(120))
    log = tmp_path / "fw.log"
    log.write_text(
        "".join(
            kernel_line(n, row["source_ip"], row["destination_port"])
            for n, row in enumerate(probes)
        )
    )
    result = hunt([str(log)], Config(), out_dir=tmp_path / "out")
    assert result.run is not None and result.run.totals.rejected == 0
    (case,) = result.cases
    assert case.campaign == LABEL
    assert sorted(case.sources) == sorted(row["source_ip"] for row in probes)
    assert case.escalate  # 120 host:port pairs: repeated scanning
    # The analyst reads one scan of the /64, not six of its members.
    assert case.answers[QUESTIONS[2]].startswith(
        f"Yes. ipv6_prefix_scan: 120 addresses of {NETWORK} split a port scan between them "
        "(120 port(s) of 1 host(s), 120 host:port pairs failed), none at a limit alone."
    )
    (entry,) = result.plan.entries  # the /64, once for its 120 addresses
    assert str(entry.network) == NETWORK
    assert NETWORK in (tmp_path / "out" / "block.nft").read_text()
    # The report names the /64 and lists 50 of the 120 findings, not all.
    report = (tmp_path / "out" / "report.md").read_text()
    assert f"## {case.id}: {NETWORK} (120 addresses)" in report
    assert report.count("- **ipv6_prefix_scan**:") == 50
    assert "- ... and 70 more finding(s) (cases.json)" in report
    assert "- ... and 70 more (cases.json)" in report  # the Tier 2 timeline
    # So does the HTML report: its first 50 addresses, findings and context rows.
    page = (tmp_path / "out" / "report.html").read_text()
    assert page.count("<p><b>ipv6_prefix_scan</b>") == 50
    assert "... and 70 more finding(s) (cases.json)" in page
    assert "... and 70 more address(es) (cases.json)" in page
    assert "... and 70 more timeline entries (cases.json)" in page
