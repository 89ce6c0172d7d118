"""Internal address enumeration from outside: DNS names, leaked answers, Host headers."""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Any

import ibis
import pyarrow as pa
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from conftest import table_rows
from ingest_helpers import make, parse
from reconwatch import schema
from reconwatch.config import DetectConfig, EngineConfig, SiteConfig
from reconwatch.detect import run_detections
from reconwatch.detect.ranges import is_address
from reconwatch.engine import Engine
from reconwatch.ingest.web_clf import ClfParser
from reconwatch.lake import Lake
from reconwatch.netaddr import (
    PRIVATE_NETWORKS,
    parse_networks,
    reverse_zones,
    text_prefixes,
)

OUTSIDE = "198.51.100.9"
SITE = SiteConfig(internal_zones=["corp.example.com"], internal_only=["203.0.113.128/25"])
NAMES = ["internal_name_probe", "private_answer_leak", "web_internal_host"]


def dns_rows(rows: list[dict[str, Any]]) -> pa.Table:
    defaults = {
        "source_ip": OUTSIDE,
        "destination_ip": "203.0.113.53",
        "event_dataset": "bind",
        "log_file": "query.log",
        "dns_question_type": "A",
    }
    return table_rows(schema.DNS, defaults, rows)


def http_rows(rows: list[dict[str, Any]]) -> pa.Table:
    defaults = {
        "source_ip": OUTSIDE,
        "destination_ip": "203.0.113.80",
        "event_dataset": "nginx",
        "log_file": "access.log",
        "url_path": "/",
        "http_response_status_code": 404,
    }
    return table_rows(schema.HTTP, defaults, rows)


DNS = [
    {"dns_question_name": "dc01.corp.example.com", "seconds": 1},
    {"dns_question_name": "FILES.corp.example.com.", "seconds": 2},
    {"dns_question_name": "5.1.16.172.in-addr.arpa", "dns_question_type": "PTR", "seconds": 3},
    {"dns_question_name": "printer.lan", "seconds": 4},
    # A published name whose answer leaks a private address.
    {
        "dns_question_name": "www.example.com",
        "dns_answers": ["192.168.1.10", "203.0.113.5"],
        "seconds": 5,
    },
    # Internal-only range of the site, reverse zone and answer.
    {
        "dns_question_name": "9.129.113.0.203.in-addr.arpa",
        "dns_question_type": "PTR",
        "seconds": 6,
    },
    {"dns_question_name": "vpn.example.com", "dns_answers": ["203.0.113.200"], "seconds": 7},
    # Look-alikes that are not internal.
    {"dns_question_name": "corp.example.com.evil.net", "seconds": 8},
    {"dns_question_name": "notcorp", "seconds": 9},
    {"dns_question_name": "5.1.32.172.in-addr.arpa", "dns_question_type": "PTR", "seconds": 10},
    {"dns_question_name": "mail.example.com", "dns_answers": ["172.32.0.1"], "seconds": 11},
    # An inside client asking for inside names is ordinary.
    {"source_ip": "10.1.1.1", "dns_question_name": "dc01.corp.example.com", "seconds": 12},
    {
        "source_ip": "10.1.1.1",
        "dns_question_name": "x.example.com",
        "dns_answers": ["10.0.0.1"],
        "seconds": 13,
    },
]
HTTP = [
    {"url_domain": "[fd00::1]:8080"},
    {"url_domain": "10.0.0.5:80"},
    {"url_domain": "intranet.corp"},
    {"url_domain": "203.0.113.130"},
    # Not internal: public names and addresses, a look-alike of 172.16/12.
    {"url_domain": "www.example.com"},
    {"url_domain": "172.32.0.1"},
    {"url_domain": "[2001:db8::1]"},
    {"source_ip": "10.9.9.9", "url_domain": "10.0.0.5"},
]


def _tables() -> dict[str, ibis.Table]:
    con = ibis.duckdb.connect()
    return {
        "dns": con.create_table("dns", dns_rows(DNS)),
        "http": con.create_table("http", http_rows(HTTP)),
    }


def _by_detection(found: pa.Table) -> dict[str, dict[str, Any]]:
    return {row["detection"]: row for row in found.to_pylist()}


def test_outside_clients_enumerating_internal_space_are_found() -> None:
    found = _by_detection(run_detections(_tables(), DetectConfig(), NAMES, site=SITE))
    assert set(found) == set(NAMES)
    assert {r["source_ip"] for r in found.values()} == {OUTSIDE}
    assert found["internal_name_probe"]["targets"] == [
        "5.1.16.172.in-addr.arpa",
        "9.129.113.0.203.in-addr.arpa",
        "dc01.corp.example.com",
        "files.corp.example.com",
        "printer.lan",
    ]
    assert found["private_answer_leak"]["targets"] == ["192.168.1.10", "203.0.113.200"]
    assert found["private_answer_leak"]["score"] == 2  # two names leaked
    assert found["web_internal_host"]["targets"] == [
        "10.0.0.5",
        "203.0.113.130",
        "fd00::1",
        "intranet.corp",
    ]


def test_thresholds_hold() -> None:
    cfg = DetectConfig.model_validate({"internal_name_probe": {"min_names": 6}})
    found = _by_detection(run_detections(_tables(), cfg, NAMES, site=SITE))
    assert "internal_name_probe" not in found
    # Without the site's own zones and ranges only the generic private ones count.
    found = _by_detection(run_detections(_tables(), DetectConfig(), NAMES, site=SiteConfig()))
    assert "internal_name_probe" not in found  # 2 generic names < 3
    assert found["private_answer_leak"]["targets"] == ["192.168.1.10"]


#: Names whose first labels look like a private address, and address forms.
LOOK_ALIKES_DNS = [
    # A PTR answer (Google Cloud's reverse names start with the address, reversed).
    {
        "dns_question_name": "34.117.59.10.in-addr.arpa",
        "dns_question_type": "PTR",
        "dns_answers": ["10.59.117.34.bc.googleusercontent.com"],
        "seconds": 1,
    },
    {
        "dns_question_name": "cdn.example.net",
        "dns_answers": ["192.168.example.net", "172.16.0.1.nip.example", "fdab"],
        "seconds": 2,
    },
    # Not canonical dotted quads: no address an engine would store.
    {"dns_question_name": "odd.example.net", "dns_answers": ["10.0.0.256"], "seconds": 3},
    # IPv6 literals are addresses: a ULA, and a private IPv4 in its mapped form.
    {"dns_question_name": "v6.example.net", "dns_answers": ["FD00::7"], "seconds": 4},
    {"dns_question_name": "mapped.example.net", "dns_answers": ["::ffff:10.0.0.5"], "seconds": 5},
]
LOOK_ALIKES_HTTP = [
    {"url_domain": "10.mirror.example.org:80"},
    {"url_domain": "192.168.example.org"},
    {"url_domain": "fdab"},
    {"url_domain": "[fd00::1]"},
    {"url_domain": "[::ffff:10.0.0.5]:8080"},
]


def test_names_that_start_like_addresses_are_not_addresses() -> None:
    """Only address literals are tested against address ranges; names are names."""
    con = ibis.duckdb.connect()
    tables = {
        "dns": con.create_table("dns", dns_rows(LOOK_ALIKES_DNS)),
        "http": con.create_table("http", http_rows(LOOK_ALIKES_HTTP)),
    }
    found = _by_detection(run_detections(tables, DetectConfig(), NAMES, site=SiteConfig()))
    assert set(found) == {"private_answer_leak", "web_internal_host"}
    # Targets as answered: the mapped form is the address 10.0.0.5.
    assert found["private_answer_leak"]["targets"] == ["::ffff:10.0.0.5", "fd00::7"]
    assert found["private_answer_leak"]["score"] == 2
    assert found["web_internal_host"]["targets"] == ["::ffff:10.0.0.5", "fd00::1"]
    assert found["web_internal_host"]["event_count"] == 2


def test_a_debian_mirror_vhost_and_a_cloud_ptr_name_are_no_findings() -> None:
    """The reviewer's two lines: a CLF vhost and a Zeek PTR answer, both names."""
    line = (
        '10.mirror.example.org:80 198.51.100.7 - - [28/Nov/2026:04:00:01 +0000] "GET /debian/'
        ' HTTP/1.1" 200 512 "-" "Debian APT-HTTP/1.3 (2.6.1)"'
    )
    parsed = parse(make(ClfParser), [line]).rows
    assert parsed.column("url_domain").to_pylist() == ["10.mirror.example.org"]
    parsed = parsed.append_column("event_dataset", pa.array(["clf"]))
    parsed = parsed.append_column("log_file", pa.array(["access.log"]))
    con = ibis.duckdb.connect()
    tables = {
        "dns": con.create_table("dns", dns_rows(LOOK_ALIKES_DNS[:1])),
        "http": con.create_table("http", schema.conform(parsed, schema.HTTP)),
    }
    assert run_detections(tables, DetectConfig(), NAMES, site=SiteConfig()).num_rows == 0


ADDRESS_TEXTS = {
    "10.0.0.5": True,
    "0.0.0.0": True,
    "255.255.255.255": True,
    "199.99.9.9": True,
    "fd00::1": True,
    "::ffff:10.0.0.5": True,
    "2001:db8::1": True,
    "10.mirror.example.org": False,
    "10.59.117.34.bc.googleusercontent.com": False,
    "192.168.example.org": False,
    "fdab": False,
    "cafe": False,
    "10.0.0.256": False,
    "10.0.0.260": False,
    "10.0.0.300": False,
    "010.0.0.5": False,
    "10.0.0.05": False,
    "10.0.0.1234": False,
    "10..0.5": False,
    "10.0.0.": False,
    "1.2.3": False,
    "1.2.3.4.5": False,
    "fe80::1%eth0": False,
    "": False,
}


def _is_address(texts: list[str | None]) -> list[bool]:
    t = ibis.memtable(pa.table({"text": pa.array(texts, pa.string())}))
    return t.select(a=is_address(t.text)).to_pyarrow().column("a").to_pylist()


def test_address_literals_are_told_from_names() -> None:
    texts: list[str | None] = [*ADDRESS_TEXTS, None]
    assert _is_address(texts) == [*ADDRESS_TEXTS.values(), False]


@settings(max_examples=200, deadline=None)
@given(octets=st.lists(st.integers(0, 1100), min_size=4, max_size=4), pad=st.integers(0, 3))
def test_dotted_quads_are_exactly_the_canonical_ones(octets: list[int], pad: int) -> None:
    text = ".".join(str(o) for o in octets)
    padded = ".".join(str(o).zfill(pad) for o in octets)
    expected = []
    for candidate in (text, padded):
        try:
            expected.append(str(ipaddress.IPv4Address(candidate)) == candidate)
        except ValueError:
            expected.append(False)
    assert _is_address([text, padded]) == expected


def test_the_detections_are_identical_on_spark(tmp_path: Path) -> None:
    lake = Lake(tmp_path / "lake")
    lake.write("dns", dns_rows(DNS + LOOK_ALIKES_DNS), "internal")
    lake.write("http", http_rows(HTTP + LOOK_ALIKES_HTTP), "internal")
    duck = Engine(lake)
    spark = Engine(lake, EngineConfig(kind="spark", spark_master="local[2]"))
    try:
        expected = run_detections(duck.tables(), DetectConfig(), NAMES, site=SITE)
        assert expected.num_rows == 3
        assert run_detections(spark.tables(), DetectConfig(), NAMES, site=SITE).equals(expected)
    finally:
        duck.close()
        spark.close()


def _v4_networks() -> st.SearchStrategy[ipaddress.IPv4Network]:
    return st.builds(
        lambda a, p: ipaddress.ip_network(f"{ipaddress.IPv4Address(a)}/{p}", strict=False),
        st.integers(0, 2**32 - 1),
        st.integers(4, 32),
    )


def _v6_networks() -> st.SearchStrategy[ipaddress.IPv6Network]:
    # Zero hextets as often as not: they may fold into ``::`` in the text.
    hextet = st.one_of(st.just(0), st.integers(1, 0xFFFF))
    return st.builds(
        lambda hs, p: ipaddress.ip_network(
            f"{ipaddress.IPv6Address(sum(h << (16 * (7 - i)) for i, h in enumerate(hs)))}/{p}",
            strict=False,
        ),
        st.lists(hextet, min_size=8, max_size=8),
        st.integers(8, 64),
    )


@settings(max_examples=300, deadline=None)
@given(
    net=st.one_of(_v4_networks(), _v6_networks()),
    offsets=st.lists(st.integers(-(2**20), 2**20), min_size=1, max_size=20),
)
def test_text_prefixes_match_exactly_the_range(
    net: ipaddress.IPv4Network | ipaddress.IPv6Network, offsets: list[int]
) -> None:
    try:
        prefixes = text_prefixes([net])
    except ValueError:
        # Refused ranges (zeros that compress) are covered below; nothing to compare.
        assume(False)
        return
    top = 2**32 if net.version == 4 else 2**128
    for offset in offsets:
        # Addresses around both ends of the range, inside and out.
        for base in (int(net.network_address), int(net.broadcast_address)):
            value = (base + offset) % top
            address = (
                ipaddress.ip_address(value) if net.version == 4 else ipaddress.IPv6Address(value)
            )
            matched = any(p.matches(str(address)) for p in prefixes)
            assert matched == (address in net), (net, address)


def test_reverse_zones_of_the_private_ranges() -> None:
    zones = reverse_zones(parse_networks(PRIVATE_NETWORKS))
    assert "10.in-addr.arpa" in zones and "168.192.in-addr.arpa" in zones
    assert {f"{n}.172.in-addr.arpa" for n in range(16, 32)} <= set(zones)
    assert "15.172.in-addr.arpa" not in zones and "32.172.in-addr.arpa" not in zones
    assert {"c.f.ip6.arpa", "d.f.ip6.arpa"} <= set(zones)


def test_ranges_ending_in_zero_hextets_test_the_expanded_text() -> None:
    for net in ("2001:db8::/64", "2001:db8:0::/48", "::/8", "2001:db8:0:0:1::/80"):
        prefixes = text_prefixes(parse_networks([net]))
        assert prefixes and all(p.expanded for p in prefixes)
    (p,) = text_prefixes(parse_networks(["2001:db8::/64"]))
    assert p.matches("2001:db8::1") and not p.matches("2001:db8:0:1::1")
    # A single zero hextet followed by a fixed one is never compressed alone.
    assert text_prefixes(parse_networks(["2001:db8:0:1::/64"]))[0].prefix == "2001:db8:0:1:"
    # Single addresses match exactly, not as prefixes.
    (only,) = text_prefixes(parse_networks(["10.0.0.2/32"]))
    assert only.matches("10.0.0.2") and not only.matches("10.0.0.25")
    with pytest.raises(ValueError, match="every address"):
        text_prefixes(parse_networks(["0.0.0.0/0"]))


@settings(max_examples=60, deadline=None)
@given(
    nets=st.lists(st.one_of(_v4_networks(), _v6_networks()), min_size=1, max_size=6),
    offsets=st.lists(st.integers(-(2**12), 2**12), min_size=1, max_size=8),
)
def test_in_networks_on_the_engine_agrees_with_ipaddress(
    nets: list[ipaddress.IPv4Network | ipaddress.IPv6Network], offsets: list[int]
) -> None:
    """The engine test (prefixes grouped under their first octet or hextet) is exact."""
    from reconwatch.detect.ranges import in_networks

    try:
        text_prefixes(nets)
    except ValueError:
        assume(False)
        return
    # Siblings under the same first octet/hextet put several prefixes in one group.
    nets = nets + [n.supernet(new_prefix=n.prefixlen - 1) for n in nets if n.prefixlen > 8]
    nets = [n for n in nets if _refused(n) is False]
    assume(nets)
    addresses = set()
    for net in nets:
        top = 2**32 if net.version == 4 else 2**128
        for offset in offsets:
            for base in (int(net.network_address), int(net.broadcast_address)):
                value = (base + offset) % top
                addresses.add(
                    str(
                        ipaddress.ip_address(value)
                        if net.version == 4
                        else ipaddress.IPv6Address(value)
                    )
                )
    table = ibis.memtable(pa.table({"a": pa.array(sorted(addresses), pa.string())}))
    con = ibis.duckdb.connect()
    got = con.to_pyarrow(table.mutate(hit=in_networks(table.a, nets)))
    for address, hit in zip(got["a"].to_pylist(), got["hit"].to_pylist(), strict=True):
        expected = any(ipaddress.ip_address(address) in net for net in nets)
        assert hit == expected, (address, nets)


def _refused(net: ipaddress.IPv4Network | ipaddress.IPv6Network) -> bool:
    try:
        text_prefixes([net])
    except ValueError:
        return True
    return False


def test_in_networks_matches_grouped_prefixes_of_the_private_ranges() -> None:
    """172.16.0.0/12 is 16 prefixes under "172.": the group's head test must admit them."""
    from reconwatch.detect.ranges import in_networks

    inside = ["172.16.0.1", "172.20.1.1", "172.31.255.254", "10.1.2.3", "192.168.1.1"]
    outside = ["172.15.0.1", "172.32.0.1", "11.0.0.1", "8.8.8.8"]
    table = ibis.memtable(pa.table({"a": pa.array(inside + outside, pa.string())}))
    nets = parse_networks(["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"])
    got = ibis.duckdb.connect().to_pyarrow(table.mutate(hit=in_networks(table.a, nets)))
    assert got["hit"].to_pylist() == [True] * len(inside) + [False] * len(outside)
