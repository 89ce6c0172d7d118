"""Range tests for any valid network, incl. IPv6 prefixes that end in zero hextets.

2001:db8::/48 is a normal home network, yet the canonical text of an address
inside it may fold the prefix's zero hextet into ``::`` (``2001:db8::1``):
such ranges test the text with ``::`` written out, on both engines.
"""

from __future__ import annotations

import ipaddress
import random
from collections.abc import Iterator
from typing import Any

import ibis
import pyarrow as pa
import pytest

from conftest import network_rows
from reconwatch.config import DetectConfig, SiteConfig
from reconwatch.detect import run_detections
from reconwatch.detect.ranges import in_networks
from reconwatch.netaddr import IPNetwork, expand_text, parse_networks, text_prefixes

Net = ipaddress.IPv4Network | ipaddress.IPv6Network
Addr = ipaddress.IPv4Address | ipaddress.IPv6Address

FIXED = [
    "2001:db8::/48",
    "2001:db8:5:6::ff00/120",
    "2001:db8::/32",
    "2001:db8::/64",
    "2001:db8:0::/52",
    "2001:0:0:5::/64",
    "::/8",
    "::/1",
    "::/96",
    "::1/128",
    "::ffff:0:0/96",
    "::ffff:10.0.0.0/104",
    "::ffff:10.1.2.0/124",
    "fe80::/10",
    "fd00::/8",
    "8000::/1",
    "fc00::/7",
    "2001:db8:1:2:3:4:5:ff00/120",
    "2001:db8:1:2:3:4:5:0/113",
    "1:0:0:0:0:0:0:0/127",
    "10.0.0.0/8",
    "172.16.0.0/12",
    "0.0.0.0/1",
    "10.0.0.2/31",
]


def _v6(hextets: list[int]) -> ipaddress.IPv6Address:
    return ipaddress.IPv6Address(sum(h << (16 * (7 - i)) for i, h in enumerate(hextets)))


def _random_network(rng: random.Random) -> Net:
    if rng.random() < 0.25:
        return ipaddress.ip_network((rng.getrandbits(32), rng.randint(1, 32)), strict=False)
    hextets = [rng.choice([0, 0, 0, 1, 0xFFFF, rng.getrandbits(16), rng.getrandbits(4)])
               for _ in range(8)]  # fmt: skip
    if rng.random() < 0.15:
        hextets[:6] = [0, 0, 0, 0, 0, 0xFFFF]  # IPv4-mapped
    return ipaddress.ip_network((int(_v6(hextets)), rng.randint(1, 128)), strict=False)


def _near(net: Net, rng: random.Random) -> Addr:
    """An address around one end of ``net``, often with zero hextets (``::`` in its text)."""
    top = 2**32 if net.version == 4 else 2**128
    base = rng.choice([int(net.network_address), int(net.broadcast_address)])
    offset = rng.choice([0, 1, -1, rng.randint(-(2**20), 2**20),
                         rng.getrandbits(16) << rng.randint(0, 112)])  # fmt: skip
    value = (base + offset) % top
    if net.version == 4:
        return ipaddress.IPv4Address(value % 2**32)
    hextets = [(value >> (16 * (7 - i))) & 0xFFFF for i in range(8)]
    if rng.random() < 0.4:
        hextets = [0 if rng.random() < 0.4 else h for h in hextets]
    return _v6(hextets)


def _texts(address: Addr) -> list[str]:
    """The canonical text, and the dotted form of an IPv4-mapped address (Python >= 3.13)."""
    texts = [str(address)]
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        texts.append(f"::ffff:{address.ipv4_mapped}")
    return texts


def _cases(seed: int, count: int, per: int) -> Iterator[tuple[Net, list[str]]]:
    rng = random.Random(seed)
    nets: list[Net] = [ipaddress.ip_network(n) for n in FIXED]
    nets += [_random_network(rng) for _ in range(count)]
    for net in nets:
        texts = sorted({t for _ in range(per) for t in _texts(_near(net, rng))})
        yield net, texts


def test_the_reported_networks_are_accepted() -> None:
    (p,) = text_prefixes(parse_networks(["2001:db8::/48"]))
    assert p.matches("2001:db8::1") and p.matches("2001:db8:0:ffff::")
    assert not p.matches("2001:db8:1::1") and not p.matches("2001:db9::")
    prefixes = text_prefixes(parse_networks(["2001:db8:5:6::ff00/120"]))
    assert any(p.matches("2001:db8:5:6::ff12") for p in prefixes)
    assert not any(p.matches("2001:db8:5:6::fe12") for p in prefixes)
    assert not any(p.matches("2001:db8:5:6::1:ff12") for p in prefixes)


def test_a_short_hextet_before_double_colon_is_not_a_partial_match() -> None:
    """``fd::1:2`` is 00fd::1:2, outside fd00::/8 though a ``:`` sits 4 characters on."""
    for net, text in [("fd00::/8", "fd::1:2"), ("8000::/1", "8::1:0:0:f:0")]:
        assert not any(p.matches(text) for p in text_prefixes(parse_networks([net])))
        t = ibis.memtable(pa.table({"a": [text]}))
        hit = ibis.duckdb.connect().to_pyarrow(t.select(h=in_networks(t.a, parse_networks([net]))))
        assert hit["h"].to_pylist() == [False]


def test_expand_text() -> None:
    assert expand_text("::") == "0:0:0:0:0:0:0:0"
    assert expand_text("2001:db8::1") == "2001:db8:0:0:0:0:0:1"
    assert expand_text("1::") == "1:0:0:0:0:0:0:0"
    assert expand_text("::ffff:10.0.0.1") == "0:0:0:0:0:ffff:10.0.0.1"
    assert expand_text("10.0.0.1") == "10.0.0.1"


def test_text_prefixes_agree_with_ipaddress_on_random_networks() -> None:
    for net, texts in _cases(seed=5, count=4000, per=12):
        prefixes = text_prefixes([net])
        for text in texts:
            got = any(p.matches(text) for p in prefixes)
            assert got == (ipaddress.ip_address(text) in net), (net, text, prefixes)


def _engine_table(seed: int, count: int) -> tuple[list[list[IPNetwork]], pa.Table]:
    """Several network sets (mixed families) and a column of addresses near them."""
    rng = random.Random(seed)
    cases = list(_cases(seed, count, per=8))
    sets = [[net for net, _ in cases[i : i + 4]] for i in range(0, len(cases), 4)]
    rng.shuffle(sets)
    texts = sorted({t for _, ts in cases for t in ts} | {"", "not-an-address", "::", "1::"})
    return sets, pa.table({"a": pa.array([*texts, None], pa.string())})


def _check(con: Any, sets: list[list[IPNetwork]], table: pa.Table) -> None:
    t = ibis.memtable(table)
    hits = {f"h{i}": in_networks(t.a, nets) for i, nets in enumerate(sets)}
    got = con.to_pyarrow(t.select("a", **hits)).to_pylist()
    for row in got:
        text = row["a"]
        for i, nets in enumerate(sets):
            try:
                address: Addr | None = ipaddress.ip_address(text)
            except (ValueError, TypeError):
                address = None
            expected = address is not None and any(address in n for n in nets)
            if address is None and row[f"h{i}"]:
                continue  # not an address: what a prefix says of it does not matter
            assert row[f"h{i}"] == expected, (text, nets)


def test_in_networks_on_duckdb_agrees_with_ipaddress() -> None:
    sets, table = _engine_table(seed=7, count=120)
    _check(ibis.duckdb.connect(), sets, table)


def test_in_networks_on_spark_agrees_with_ipaddress() -> None:
    pytest.importorskip("pyspark")
    from reconwatch.engine import spark_session

    session = spark_session("local[2]", "zero-hextets")
    try:
        sets, table = _engine_table(seed=9, count=60)
        _check(ibis.pyspark.connect(session), sets, table)
    finally:
        session.stop()


def test_detections_run_with_a_zero_hextet_home_network() -> None:
    """The hunt's site-aware detections no longer refuse 2001:db8::/48 (they crashed)."""
    site = SiteConfig(home_networks=["10.0.0.0/8", "2001:db8::/48"])
    scanner = "2001:db9::66"
    rows: list[dict[str, Any]] = [
        {"source_ip": scanner, "destination_ip": f"2001:db8::{n:x}", "destination_port": 22,
         "seconds": n}
        for n in range(1, 30)
    ]  # fmt: skip
    # One success makes the firewall a source that logs successes.
    rows.append({"source_ip": "198.51.100.1", "destination_ip": "2001:db8::80",
                 "connection_outcome": "succeeded", "event_action": "allowed"})  # fmt: skip
    # An inside host reaching out: not a dark-space probe of ours.
    rows += [
        {"source_ip": "2001:db8::5", "destination_ip": f"2001:db9::{n:x}", "destination_port": 443,
         "seconds": n}
        for n in range(1, 30)
    ]  # fmt: skip
    con = ibis.duckdb.connect()
    tables = {"network": con.create_table("network", network_rows(rows))}
    found = run_detections(tables, DetectConfig(), ["dark_space_probe"], site=site)
    assert {r["source_ip"] for r in found.to_pylist()} == {scanner}
