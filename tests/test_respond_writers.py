"""Block plans and the nftables / ipset writers.

Pure tests prove the safety properties on arbitrary input (hypothesis); the
``root`` tests load the rendered files into real nft / ipset / iptables inside
a throwaway network namespace. Those never skip: a missing tool or missing
root privileges is a failure with a clear message.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import os
import random
import re
import secrets
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reconwatch.config import SiteConfig
from reconwatch.netaddr import IPNetwork, parse_ip
from reconwatch.respond import (
    BlockEntry,
    BlockPlan,
    BlockRequest,
    ProtectedRanges,
    Refusal,
    build_blocklist,
    render_ipset_script,
    render_nftables,
)
from reconwatch.respond.blocklist import (
    MAX_TIMEOUT_SECONDS,
    _split_until_allowed,
    entry_comment,
    sanitize_comment,
    verified_entries,
)
from reconwatch.respond.ipset import IPSET_MAX_TIMEOUT
from reconwatch.respond.nftables import nft_duration

SITE = SiteConfig(
    home_networks=["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "203.0.113.0/25", "fc00::/7"],
    protected=["192.0.2.53", "2001:db8:53::/64"],
)
EXTRA = ("45.33.32.200", "2001:db8:77::/64")
PROTECTED = ProtectedRanges.from_site(SITE, extra=EXTRA)
WHEN = dt.datetime(2026, 9, 30, 10, 0, tzinfo=dt.UTC)
HOUR = 3600
DAY = 86400


def req(
    address: str,
    case_id: str = "RW-1",
    *,
    reason: str = "scan",
    severity: str = "high",
    timeout: int = HOUR,
) -> BlockRequest:
    return BlockRequest(address, case_id, reason, severity, timeout)  # type: ignore[arg-type]


def plan_of(*requests: BlockRequest, max_entries: int = 10000) -> BlockPlan:
    return build_blocklist(list(requests), PROTECTED, max_entries)


def cidrs(plan: BlockPlan) -> list[str]:
    return [str(e.network) for e in plan.entries]


# --- validation of untrusted addresses ---

GARBAGE = [
    "1.2.3.4; rm -rf /",
    "$(reboot)",
    "`reboot`",
    "1.2.3.4\n",
    " 1.2.3.4",
    "1.2.3.4 ",
    "1.2.3.4\x00",
    "1.2.3.4/32",
    "1.2.3.0/24",
    "1.2.3",
    "1.2.3.4.5",
    "01.2.3.4",
    "fe80::1%eth0",
    "2001:db8::1%$(reboot)",
    "2001:db8::1%25eth0",
    "١.٢.٣.٤",
    '1.2.3.4"; drop',
    "",
    "0x01020304",
    "16909060",
    "::ffff:1.2.3.4:80",
    "1.2.3.4:80",
    "[2001:db8::1]",
    "a" * 1000,
]


@pytest.mark.parametrize("garbage", GARBAGE)
def test_garbage_is_refused_and_never_rendered(garbage: str) -> None:
    plan = plan_of(req(garbage), req("198.51.100.1"))
    why = "too long to be an IP address" if len(garbage) > 45 else "not exactly one IP address"
    assert plan.refused == (Refusal(garbage, "RW-1", why),)
    assert cidrs(plan) == ["198.51.100.1/32"]
    for text in (render_nftables(plan, "reconwatch"), render_ipset_script(plan, "reconwatch")):
        if len(garbage) > 3:
            assert garbage not in text


def test_non_string_addresses_are_refused() -> None:
    plan = build_blocklist(
        [req(16909060), req(b"\x01\x02\x03\x04")],  # type: ignore[arg-type]
        PROTECTED,
        10,
    )
    assert plan.entries == ()
    assert plan.refused == (
        Refusal("16909060", "RW-1", "not a string"),
        Refusal("b'\\x01\\x02\\x03\\x04'", "RW-1", "not a string"),
    )


@pytest.mark.parametrize(
    ("address", "why"),
    [
        ("::ffff:127.0.0.1", "protected: overlaps IPv4 loopback 127.0.0.0/8"),
        ("::FFFF:10.1.2.3", "protected: overlaps home network 10.0.0.0/8"),
        ("127.0.0.1", "protected: overlaps IPv4 loopback 127.0.0.0/8"),
        ("0.0.0.0", "protected: overlaps this-network (0.0.0.0/8) 0.0.0.0/8"),
        ("255.255.255.255", "protected: overlaps IPv4 limited broadcast 255.255.255.255/32"),
        ("169.254.169.254", "protected: overlaps IPv4 link-local 169.254.0.0/16"),
        ("224.0.0.251", "protected: overlaps IPv4 multicast 224.0.0.0/4"),
        ("::", "protected: overlaps IPv6 unspecified ::/128"),
        ("::1", "protected: overlaps IPv6 loopback ::1/128"),
        ("fe80::1", "protected: overlaps IPv6 link-local fe80::/10"),
        ("ff02::fb", "protected: overlaps IPv6 multicast ff00::/8"),
        ("203.0.113.5", "protected: overlaps home network 203.0.113.0/25"),
        ("fd12:3456::1", "protected: overlaps home network fc00::/7"),
        ("192.0.2.53", "protected: overlaps site protected range 192.0.2.53/32"),
        ("2001:db8:53::99", "protected: overlaps site protected range 2001:db8:53::/64"),
        ("45.33.32.200", "protected: overlaps allowlisted 45.33.32.200/32"),
        ("2001:db8:77::1", "protected: overlaps allowlisted 2001:db8:77::/64"),
    ],
)
def test_protected_addresses_are_refused(address: str, why: str) -> None:
    plan = plan_of(req(address, "RW-9"))
    assert plan.entries == ()
    assert plan.refused == (Refusal(address, "RW-9", why),)


def test_ipv4_mapped_public_address_is_blocked_as_ipv4() -> None:
    plan = plan_of(req("::ffff:198.51.100.7"), req("198.51.100.6"))
    assert cidrs(plan) == ["198.51.100.6/31"]


@pytest.mark.parametrize(
    ("timeout", "severity", "why"),
    [
        (0, "high", f"timeout must be a whole number of seconds in 1..{MAX_TIMEOUT_SECONDS}"),
        (-5, "high", f"timeout must be a whole number of seconds in 1..{MAX_TIMEOUT_SECONDS}"),
        (True, "high", f"timeout must be a whole number of seconds in 1..{MAX_TIMEOUT_SECONDS}"),
        (1.5, "high", f"timeout must be a whole number of seconds in 1..{MAX_TIMEOUT_SECONDS}"),
        (
            MAX_TIMEOUT_SECONDS + 1,
            "high",
            f"timeout must be a whole number of seconds in 1..{MAX_TIMEOUT_SECONDS}",
        ),
        (HOUR, "urgent", "unknown severity"),
    ],
)
def test_blocks_must_expire_and_have_a_known_severity(
    timeout: object, severity: str, why: str
) -> None:
    plan = plan_of(req("198.51.100.1", timeout=timeout, severity=severity))  # type: ignore[arg-type]
    assert plan.entries == ()
    assert plan.refused == (Refusal("198.51.100.1", "RW-1", why),)


# --- collapse, merge, budget ---


def test_adjacent_addresses_collapse_to_one_cidr() -> None:
    plan = plan_of(*(req(f"198.51.100.{i}", f"RW-{i % 3}") for i in range(256)))
    assert plan.refused == ()
    assert plan.entries == (
        BlockEntry(
            network=ipaddress.ip_network("198.51.100.0/24"),
            case_ids=("RW-0", "RW-1", "RW-2"),
            reason="scan",
            severity="high",
            timeout_seconds=HOUR,
        ),
    )


def test_collapse_skips_protected_holes() -> None:
    # 45.33.32.200 is allowlisted: the other 255 addresses become 8 CIDRs
    # that leave exactly that address out.
    plan = plan_of(*(req(f"45.33.32.{i}") for i in range(256)))
    assert plan.refused == (
        Refusal("45.33.32.200", "RW-1", "protected: overlaps allowlisted 45.33.32.200/32"),
    )
    assert cidrs(plan) == [
        "45.33.32.0/25",
        "45.33.32.128/26",
        "45.33.32.192/29",
        "45.33.32.201/32",
        "45.33.32.202/31",
        "45.33.32.204/30",
        "45.33.32.208/28",
        "45.33.32.224/27",
    ]


def test_only_same_timeout_collapses() -> None:
    plan = plan_of(
        req("198.51.100.0", timeout=HOUR),
        req("198.51.100.1", timeout=HOUR),
        req("198.51.100.2", timeout=DAY, severity="critical"),
        req("198.51.100.3", timeout=DAY, severity="low", reason="other"),
    )
    assert [(str(e.network), e.timeout_seconds, e.severity, e.reason) for e in plan.entries] == [
        ("198.51.100.0/31", HOUR, "high", "scan"),
        ("198.51.100.2/31", DAY, "critical", "scan (+1 more)"),
    ]


def test_one_address_many_requests_keeps_the_longest_block() -> None:
    plan = plan_of(
        req("198.51.100.9", "RW-2", timeout=HOUR, severity="low", reason="sweep"),
        req("198.51.100.9", "RW-1", timeout=DAY, severity="medium", reason="trw"),
        req("198.51.100.9", "RW-2", timeout=60, severity="critical", reason="flags"),
    )
    assert plan.entries == (
        BlockEntry(
            network=ipaddress.ip_network("198.51.100.9/32"),
            case_ids=("RW-1", "RW-2"),
            reason="flags (+2 more)",
            severity="critical",
            timeout_seconds=DAY,
        ),
    )


def test_ipv6_collapses_and_sorts_after_ipv4() -> None:
    plan = plan_of(
        *(req(f"2001:db8:1234::{i:x}", "RW-6") for i in range(4)),
        req("2001:db8:1234::10", "RW-6"),
        req("198.51.100.1", "RW-4"),
    )
    assert cidrs(plan) == ["198.51.100.1/32", "2001:db8:1234::/126", "2001:db8:1234::10/128"]
    assert [str(e.network) for e in plan.family(6)] == cidrs(plan)[1:]


def test_budget_keeps_most_severe_then_longest() -> None:
    plan = plan_of(
        req("198.51.100.1", "RW-low", severity="low", timeout=30 * DAY),
        req("198.51.100.3", "RW-med-short", severity="medium", timeout=HOUR),
        req("198.51.100.5", "RW-crit", severity="critical", timeout=60),
        req("198.51.100.7", "RW-med-long", severity="medium", timeout=DAY),
        req("2001:db8:9::1", "RW-high", severity="high", timeout=HOUR),
        max_entries=3,
    )
    assert cidrs(plan) == ["198.51.100.5/32", "198.51.100.7/32", "2001:db8:9::1/128"]
    assert plan.refused == (
        Refusal("198.51.100.1", "RW-low", "over the rule budget"),
        Refusal("198.51.100.3", "RW-med-short", "over the rule budget"),
    )


def test_budget_refuses_every_request_behind_a_dropped_cidr() -> None:
    plan = plan_of(
        req("198.51.100.4", "RW-a", severity="low"),
        req("198.51.100.5", "RW-b", severity="low"),
        req("198.51.100.9", "RW-c", severity="critical"),
        max_entries=1,
    )
    assert cidrs(plan) == ["198.51.100.9/32"]
    assert [(r.address, r.case_id, r.why) for r in plan.refused] == [
        ("198.51.100.4", "RW-a", "over the rule budget"),
        ("198.51.100.5", "RW-b", "over the rule budget"),
    ]


def test_zero_budget_and_empty_input() -> None:
    assert plan_of(req("198.51.100.1"), max_entries=0).refused == (
        Refusal("198.51.100.1", "RW-1", "over the rule budget"),
    )
    assert plan_of() == BlockPlan(entries=(), refused=())


def test_an_aggregate_wider_than_allowed_is_split() -> None:
    # Cannot happen from single addresses in practice (it takes 2**25 of
    # them); the splitter is still what guards it.
    wide = ipaddress.ip_network("12.0.0.0/7")
    assert [str(n) for n in _split_until_allowed(wide, PROTECTED)] == ["12.0.0.0/8", "13.0.0.0/8"]
    holed = ProtectedRanges.from_site(SITE, extra=["12.0.0.5"])
    pieces = list(_split_until_allowed(ipaddress.IPv4Network("12.0.0.0/24"), holed))
    expected = ipaddress.IPv4Network("12.0.0.0/24").address_exclude(
        ipaddress.IPv4Network("12.0.0.5/32")
    )
    assert sorted(str(p) for p in pieces) == sorted(str(e) for e in expected)


# --- comments ---


def test_comments_are_sanitized_and_bounded() -> None:
    assert sanitize_comment("a\"b\\c$(d);e\n#f{g}'h`", 100) == "a_b_c_(d)_e _f_g__h_"
    assert sanitize_comment("x" * 200, 10) == "xxxxxxx..."
    assert len(sanitize_comment("y " * 200, 128)) <= 128
    entry = BlockEntry(
        ipaddress.ip_network("198.51.100.1/32"), ("A", "B", "C", "D", "E"), "r", "low", 60
    )
    assert entry_comment(entry, 128) == "case A B C (+2) : r"


# --- exact renderings ---

SMALL = plan_of(
    *(req(f"198.51.100.{i}", "RW-0001", reason="vertical scan") for i in range(8)),
    req(
        "2001:db8:4::1",
        "RW-0002",
        reason='horizontal "sweep"; drop',
        severity="critical",
        timeout=30 * DAY,
    ),
    req("10.1.1.1", "RW-0003"),
)

SMALL_NFT = """\
#!/usr/sbin/nft -f
# Reconnaissance containment generated by reconwatch (dry run: review, then apply).
# Generated at 2026-09-30T10:00:00Z: 1 IPv4 and 1 IPv6 entries, 1 requests refused.
# Check:  nft -c -f FILE
# Apply:  nft -f FILE   (again replaces this table, and only it, atomically)
# Remove: nft delete table inet rw_test   (entries also expire by themselves)

table inet rw_test {}
delete table inet rw_test

table inet rw_test {
\tset ipv4_addr {
\t\ttype ipv4_addr
\t\tflags interval, timeout
\t\telements = {
\t\t\t198.51.100.0/29 timeout 1h comment "case RW-0001 : vertical scan",
\t\t}
\t}

\tset ipv6_addr {
\t\ttype ipv6_addr
\t\tflags interval, timeout
\t\telements = {
\t\t\t2001:db8:4::1/128 timeout 30d comment "case RW-0002 : horizontal _sweep__ drop",
\t\t}
\t}

\tchain input {
\t\ttype filter hook input priority filter - 10; policy accept;
\t\tip saddr @ipv4_addr counter drop
\t\tip6 saddr @ipv6_addr counter drop
\t}

\tchain forward {
\t\ttype filter hook forward priority filter - 10; policy accept;
\t\tip saddr @ipv4_addr counter drop
\t\tip6 saddr @ipv6_addr counter drop
\t}
}
"""

SMALL_IPSET = """\
#!/bin/sh
# Reconnaissance containment generated by reconwatch (dry run: review, then run as root).
# Generated at 2026-09-30T10:00:00Z: 1 IPv4 and 1 IPv6 entries, 1 requests refused.
# Shortened to ipset's longest timeout (2147483 s): 1 entries.
# Apply:  sh FILE   (running it again changes nothing; entries expire by themselves)
# Remove: for c in INPUT FORWARD; do
#           iptables -D $c -m set --match-set rw-test-v4 src -m comment --comment reconwatch -j DROP
#           ip6tables -D $c -m set --match-set rw-test-v6 src -m comment --comment reconwatch -j DROP
#         done; ipset destroy rw-test-v4; ipset destroy rw-test-v6

set -eu

for tool in ipset iptables ip6tables; do
\tcommand -v "$tool" >/dev/null 2>&1 || {
\t\techo "reconwatch: $tool not found" >&2
\t\texit 1
\t}
done

ipset create 'rw-test-v4' hash:net family inet timeout 0 comment -exist
ipset create 'rw-test-v6' hash:net family inet6 timeout 0 comment -exist

ipset -exist restore <<'RECONWATCH_IPSET_END'
add rw-test-v4 198.51.100.0/29 timeout 3600 comment "case RW-0001 : vertical scan"
add rw-test-v6 2001:db8:4::1/128 timeout 2147483 comment "case RW-0002 : horizontal _sweep__ drop"
RECONWATCH_IPSET_END

iptables -w -C INPUT -m set --match-set 'rw-test-v4' src -m comment --comment 'reconwatch' -j DROP 2>/dev/null || iptables -w -I INPUT 1 -m set --match-set 'rw-test-v4' src -m comment --comment 'reconwatch' -j DROP
ip6tables -w -C INPUT -m set --match-set 'rw-test-v6' src -m comment --comment 'reconwatch' -j DROP 2>/dev/null || ip6tables -w -I INPUT 1 -m set --match-set 'rw-test-v6' src -m comment --comment 'reconwatch' -j DROP
iptables -w -C FORWARD -m set --match-set 'rw-test-v4' src -m comment --comment 'reconwatch' -j DROP 2>/dev/null || iptables -w -I FORWARD 1 -m set --match-set 'rw-test-v4' src -m comment --comment 'reconwatch' -j DROP
ip6tables -w -C FORWARD -m set --match-set 'rw-test-v6' src -m comment --comment 'reconwatch' -j DROP 2>/dev/null || ip6tables -w -I FORWARD 1 -m set --match-set 'rw-test-v6' src -m comment --comment 'reconwatch' -j DROP
"""  # noqa: E501


def test_render_nftables_exactly() -> None:
    assert render_nftables(SMALL, "rw_test", generated_at=WHEN) == SMALL_NFT


def test_render_ipset_exactly() -> None:
    assert render_ipset_script(SMALL, "rw-test", generated_at=WHEN) == SMALL_IPSET


def test_empty_plan_renders_empty_sets() -> None:
    empty = plan_of()
    nft = render_nftables(empty, "rw_test", generated_at=WHEN)
    assert "elements" not in nft
    assert "\tset ipv4_addr {\n\t\ttype ipv4_addr\n\t\tflags interval, timeout\n\t}\n" in nft
    script = render_ipset_script(empty, "rw-test", generated_at=WHEN)
    assert "restore" not in script
    assert "\nadd " not in script
    assert script.count(" -j DROP 2>/dev/null || ") == 4


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (1, "1s"),
        (59, "59s"),
        (60, "1m"),
        (90, "90s"),
        (3600, "1h"),
        (5400, "90m"),
        (86400, "1d"),
        (30 * 86400, "30d"),
        (86401, "86401s"),
    ],
)
def test_nft_duration(seconds: int, text: str) -> None:
    assert nft_duration(seconds) == text


@pytest.mark.parametrize(
    "name", ["counter", "table", "ip", "bad name", "a;b", "x" * 32, "1abc", "", "rw-dash"]
)
def test_unsafe_nft_table_names_are_rejected(name: str) -> None:
    with pytest.raises(ValueError):
        render_nftables(SMALL, name)


@pytest.mark.parametrize("name", ["a'b", "a b", "x" * 22, "-x", "$(x)", ""])
def test_unsafe_ipset_names_are_rejected(name: str) -> None:
    with pytest.raises(ValueError):
        render_ipset_script(SMALL, name)


def entry(network: str, timeout: int = HOUR) -> BlockEntry:
    return BlockEntry(ipaddress.ip_network(network), ("RW-1",), "x", "low", timeout)


@pytest.mark.parametrize(
    ("entries", "message"),
    [
        ([entry("127.0.0.0/8")], "refusing to write 127.0.0.0/8: overlaps IPv4 loopback"),
        ([entry("0.0.0.0/0")], "refusing to write 0.0.0.0/0: prefix /0"),
        ([entry("::/0")], "refusing to write ::/0: prefix /0"),
        ([entry("::ffff:127.0.0.1/128")], "IPv4-mapped 127.0.0.1/32: overlaps IPv4 loopback"),
        ([entry("198.51.100.1/32", 0)], "timeout 0 is not in"),
        ([entry("198.51.100.0/24"), entry("198.51.100.7/32")], "overlaps the entry before it"),
    ],
)
def test_writers_recheck_hand_made_plans(entries: list[BlockEntry], message: str) -> None:
    plan = BlockPlan(entries=tuple(entries), refused=())
    for render in (render_nftables, render_ipset_script):
        with pytest.raises(ValueError, match=re.escape(message)):
            render(plan, "reconwatch")
    with pytest.raises(ValueError, match=re.escape(message)):
        verified_entries(plan)


def test_ipset_refuses_more_entries_than_a_set_holds() -> None:
    many = tuple(entry(str(ipaddress.IPv4Network((0x0B000000 + i, 32)))) for i in range(65537))
    with pytest.raises(ValueError, match="an ipset holds at most 65536"):
        render_ipset_script(BlockPlan(entries=many, refused=()), "reconwatch")


# --- properties over arbitrary input ---

PUBLIC_BLOCKS = ["198.51.100.0/24", "45.33.32.0/24", "2001:db8:4::/120", "2a03:2880::/120"]
PROTECTED_SAMPLES = [
    "127.0.0.0/8",
    "10.0.0.0/8",
    "169.254.0.0/16",
    "224.0.0.0/4",
    "0.0.0.0/8",
    "203.0.113.0/25",
    "fe80::/10",
    "ff00::/8",
    "fc00::/7",
    "2001:db8:53::/64",
    "2001:db8:77::/64",
]

address_texts = st.one_of(
    st.ip_addresses().map(str),
    st.sampled_from(PUBLIC_BLOCKS).flatmap(lambda n: st.ip_addresses(network=n)).map(str),
    st.sampled_from(PROTECTED_SAMPLES).flatmap(lambda n: st.ip_addresses(network=n)).map(str),
    st.ip_addresses(v=4).map(lambda a: f"::ffff:{a}"),
    st.sampled_from(["::", "::1", "255.255.255.255", "192.0.2.53", "45.33.32.200", "0.0.0.0"]),
    st.sampled_from(GARBAGE),
    st.text(max_size=60),
    st.text(alphabet="0123456789abcdef.:%/ \n;$()", max_size=45),
)

requests_strategy = st.lists(
    st.builds(
        BlockRequest,
        address=address_texts,
        case_id=st.one_of(st.from_regex(r"RW-[0-9]{4}", fullmatch=True), st.text(max_size=20)),
        reason=st.text(max_size=300),
        severity=st.sampled_from(["low", "medium", "high", "critical"]),
        timeout_seconds=st.one_of(
            st.sampled_from([60, HOUR, DAY, 7 * DAY, 30 * DAY]),
            st.integers(-10, MAX_TIMEOUT_SECONDS + 10),
        ),
    ),
    max_size=60,
)


def touches_protected(network: IPNetwork) -> bool:
    if any(network.version == p.version and network.overlaps(p) for p in PROTECTED.networks()):
        return True
    if network.prefixlen < (8 if network.version == 4 else 32):
        return True
    mapped = ipaddress.ip_network("::ffff:0:0/96")
    return isinstance(network, ipaddress.IPv6Network) and network.overlaps(mapped)


_COMMENT = re.compile(r'comment "[^"]*"')
_NFT_ELEMENT = re.compile(r"^\t\t\t(\S+) timeout (\d+[smhd]) comment \"([^\"]*)\",$", re.M)
_IPSET_ADD = re.compile(r"^add (\S+) (\S+) timeout (\d+) comment \"([^\"]*)\"$", re.M)
_SAFE_COMMENT = re.compile(r"[A-Za-z0-9 ._:,/+=@()-]{0,128}")


def networks_in(text: str) -> list[IPNetwork]:
    """Every token outside comments that parses as an address or network."""
    found = []
    for token in re.split(r"[\s,{}@;'\"]+", _COMMENT.sub(" ", text)):
        try:
            found.append(ipaddress.ip_network(token, strict=False))
        except ValueError:
            continue
    return found


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(requests_strategy, st.integers(0, 40))
def test_no_plan_or_rendering_touches_a_protected_range(
    requests: list[BlockRequest], budget: int
) -> None:
    plan = build_blocklist(requests, PROTECTED, budget)
    assert len(plan.entries) <= budget
    for item in plan.entries:
        assert not touches_protected(item.network), item
    # Every request is covered by exactly one entry or refused: none is lost.
    assert len(plan.refused) <= len(requests)
    refused = {(r.address, r.case_id) for r in plan.refused}
    for request in requests:
        if (request.address, request.case_id) in refused:
            continue
        address = parse_ip(request.address)  # accepted, so it parses (mapped unwrapped)
        covering = [e for e in plan.entries if address in e.network]
        assert len(covering) == 1
        assert covering[0].timeout_seconds >= request.timeout_seconds
        assert request.case_id in covering[0].case_ids
    # Entries are disjoint (nft interval sets reject overlaps).
    verified_entries(plan)
    nft = render_nftables(plan, "reconwatch", generated_at=WHEN)
    script = render_ipset_script(plan, "reconwatch", generated_at=WHEN)
    for text in (nft, script):
        for network in networks_in(text):
            assert not touches_protected(network), (network, text)
    assert [ipaddress.ip_network(m[0]) for m in _NFT_ELEMENT.findall(nft)] == [
        e.network for e in plan.entries
    ]
    assert [ipaddress.ip_network(m[1]) for m in _IPSET_ADD.findall(script)] == [
        e.network for e in plan.entries
    ]
    for comment in _COMMENT.findall(nft + script):
        assert _SAFE_COMMENT.fullmatch(comment[len('comment "') : -1]), comment
    # Nothing but our fixed template around the element lines.
    assert without_elements(nft) == without_elements(EMPTY_NFT)
    assert without_elements(script) == without_elements(EMPTY_IPSET)


EMPTY_NFT = render_nftables(BlockPlan((), ()), "reconwatch", generated_at=WHEN)
EMPTY_IPSET = render_ipset_script(BlockPlan((), ()), "reconwatch", generated_at=WHEN)


def without_elements(text: str) -> str:
    """``text`` minus comment lines, element lines and their wrappers."""
    text = re.sub(r'^\t\t\t\S+ timeout \d+[smhd] comment "[^"]*",\n', "", text, flags=re.M)
    text = re.sub(r'^add \S+ \S+ timeout \d+ comment "[^"]*"\n', "", text, flags=re.M)
    text = text.replace("\t\telements = {\n\t\t}\n", "")
    text = text.replace(
        "ipset -exist restore <<'RECONWATCH_IPSET_END'\nRECONWATCH_IPSET_END\n\n", ""
    )
    return "\n".join(line for line in text.splitlines() if not line.startswith("#"))


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=80))
def test_arbitrary_strings_are_refused_unless_exactly_an_address(text: str) -> None:
    plan = build_blocklist([req(text)], PROTECTED, 10)
    strict = re.fullmatch(r"[0-9A-Fa-f.:]{1,45}", text)
    try:
        ipaddress.ip_address(text)
        valid = strict is not None
    except ValueError:
        valid = False
    if not valid:
        assert plan.entries == ()
        assert [r.why for r in plan.refused] in (
            ["not exactly one IP address"],
            ["too long to be an IP address"],
        )


@settings(max_examples=60, deadline=None)
@given(st.lists(st.ip_addresses(), max_size=40), st.randoms(use_true_random=False))
def test_plan_does_not_depend_on_request_order(addresses: list[object], rnd: random.Random) -> None:
    requests = [
        req(str(a), f"RW-{i % 4}", severity=["low", "high"][i % 2], timeout=[HOUR, DAY][i % 3 % 2])
        for i, a in enumerate(addresses)
    ]
    shuffled = list(requests)
    rnd.shuffle(shuffled)
    assert plan_of(*requests, max_entries=15).entries == plan_of(*shuffled, max_entries=15).entries


# --- real nft / ipset / iptables (root) ---


def tool(name: str) -> str:
    path = shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin:/usr/bin:/bin")
    if path is None:
        pytest.fail(f"`{name}` is not installed: apt-get install nftables ipset iptables iproute2")
    return path


@pytest.fixture
def as_root() -> None:
    if os.geteuid() != 0:
        pytest.fail("this test loads firewall rules in a network namespace and must run as root")


def run(*argv: str, netns: str | None = None, check: bool = True) -> str:
    prefix = [tool("ip"), "netns", "exec", netns] if netns else []
    done = subprocess.run([*prefix, *argv], capture_output=True, text=True, timeout=120)
    if check and done.returncode != 0:
        pytest.fail(f"{' '.join(argv)} failed ({done.returncode}):\n{done.stderr}")
    return done.stdout


@pytest.fixture
def netns(as_root: None) -> Iterator[str]:
    name = f"rw-test-{secrets.token_hex(4)}"
    run(tool("ip"), "netns", "add", name)
    try:
        yield name
    finally:
        subprocess.run([tool("ip"), "netns", "delete", name], check=False)


def nft_check(text: str, tmp_path: Path) -> None:
    path = tmp_path / "rules.nft"
    path.write_text(text, encoding="utf-8")
    done = subprocess.run(
        [tool("nft"), "-c", "-f", str(path)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, f"nft -c rejected the ruleset:\n{done.stderr}\n{text}"


PLANS = {
    "empty": plan_of(),
    "small": SMALL,
    "ipv6-only": plan_of(*(req(f"2a03:2880::{i:x}", severity="low", timeout=90) for i in range(9))),
    "adjacent-timeouts": plan_of(
        *(req(f"198.51.100.{i}", timeout=HOUR) for i in range(0, 128)),
        *(req(f"198.51.100.{i}", timeout=DAY) for i in range(128, 256)),
    ),
    "long-comments": plan_of(
        req("45.33.32.156", "RW-" + "9" * 200, reason="é" * 500 + '"\\$;{}'),
        req("45.33.32.157", "x\ny", reason="\x00\x1b[31m"),
    ),
    "thousands": plan_of(
        *(req(str(ipaddress.IPv4Address(0x2D000000 + 2 * i)), f"RW-{i}") for i in range(3000)),
        *(req(f"2a03:2880:{i:x}::1", severity="critical", timeout=30 * DAY) for i in range(500)),
    ),
}


@pytest.mark.root
@pytest.mark.parametrize("name", sorted(PLANS))
def test_nft_accepts_rendered_rulesets(name: str, as_root: None, tmp_path: Path) -> None:
    nft_check(render_nftables(PLANS[name], "reconwatch", generated_at=WHEN), tmp_path)


@pytest.mark.root
@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(requests=requests_strategy)
def test_nft_accepts_arbitrary_plans(
    requests: list[BlockRequest], as_root: None, tmp_path: Path
) -> None:
    plan = build_blocklist(requests, PROTECTED, 100)
    nft_check(render_nftables(plan, "reconwatch", generated_at=WHEN), tmp_path)


def nft_elements(netns: str, table: str, set_name: str) -> list[tuple[str, int, str]]:
    out = json.loads(run(tool("nft"), "-j", "list", "set", "inet", table, set_name, netns=netns))
    (found,) = [item["set"] for item in out["nftables"] if "set" in item]
    result = []
    for item in found.get("elem", []):
        elem = item["elem"]
        value = elem["val"]
        text = (
            f"{value['prefix']['addr']}/{value['prefix']['len']}"
            if isinstance(value, dict)
            else value
        )
        result.append((text, elem["timeout"], elem["comment"]))
    return sorted(result, key=lambda r: ipaddress.ip_network(r[0]))


@pytest.mark.root
def test_nft_ruleset_applies_and_reapplies_in_a_namespace(netns: str, tmp_path: Path) -> None:
    path = tmp_path / "block.nft"
    path.write_text(render_nftables(PLANS["adjacent-timeouts"], "rwtest"), encoding="utf-8")
    for _ in range(2):
        run(tool("nft"), "-f", str(path), netns=netns)
        assert nft_elements(netns, "rwtest", "ipv4_addr") == [
            ("198.51.100.0/25", HOUR, "case RW-1 : scan"),
            ("198.51.100.128/25", DAY, "case RW-1 : scan"),
        ]
        assert nft_elements(netns, "rwtest", "ipv6_addr") == []
        assert run(tool("nft"), "list", "tables", netns=netns) == "table inet rwtest\n"
    chain = run(tool("nft"), "list", "chain", "inet", "rwtest", "input", netns=netns)
    assert "ip saddr @ipv4_addr counter packets 0 bytes 0 drop" in chain
    assert "ip6 saddr @ipv6_addr counter packets 0 bytes 0 drop" in chain

    path.write_text(render_nftables(SMALL, "rwtest"), encoding="utf-8")
    run(tool("nft"), "-f", str(path), netns=netns)
    assert nft_elements(netns, "rwtest", "ipv4_addr") == [
        ("198.51.100.0/29", HOUR, "case RW-0001 : vertical scan"),
    ]
    assert nft_elements(netns, "rwtest", "ipv6_addr") == [
        ("2001:db8:4::1", 30 * DAY, "case RW-0002 : horizontal _sweep__ drop"),
    ]

    path.write_text(render_nftables(PLANS["empty"], "rwtest"), encoding="utf-8")
    run(tool("nft"), "-f", str(path), netns=netns)
    assert nft_elements(netns, "rwtest", "ipv4_addr") == []
    run(tool("nft"), "delete", "table", "inet", "rwtest", netns=netns)
    assert run(tool("nft"), "list", "tables", netns=netns) == ""


def ipset_members(netns: str, name: str) -> list[tuple[str, int, str]]:
    out = run(tool("ipset"), "list", name, netns=netns)
    members = out.split("Members:\n", 1)[1]
    found = re.findall(r'^(\S+) timeout (\d+) comment "([^"]*)"$', members, re.M)
    return sorted((net, int(seconds), comment) for net, seconds, comment in found)


@pytest.mark.root
def test_ipset_script_runs_twice_in_a_namespace(netns: str, tmp_path: Path) -> None:
    for name in ("ipset", "iptables", "ip6tables"):
        tool(name)
    plan = plan_of(
        *(req(f"198.51.100.{i}", "RW-0001") for i in range(16)),
        req("45.33.32.156", "RW-0002", severity="low", timeout=60),
        req("2001:db8:4::1", "RW-0003", severity="critical", timeout=30 * DAY),
    )
    path = tmp_path / "block.sh"
    path.write_text(render_ipset_script(plan, "rwtest"), encoding="utf-8")
    for _ in range(2):
        run("sh", str(path), netns=netns)
        v4 = ipset_members(netns, "rwtest-v4")
        # Timeouts count down from the moment of adding: allow a few seconds.
        assert [(n, c) for n, _, c in v4] == [
            ("198.51.100.0/28", "case RW-0001 : scan"),
            ("45.33.32.156", "case RW-0002 : scan"),
        ]
        assert HOUR - 10 <= v4[0][1] <= HOUR
        assert 50 <= v4[1][1] <= 60
        v6 = ipset_members(netns, "rwtest-v6")
        assert [(n, c) for n, _, c in v6] == [("2001:db8:4::1", "case RW-0003 : scan")]
        assert IPSET_MAX_TIMEOUT - 10 <= v6[0][1] <= IPSET_MAX_TIMEOUT
        for binary, set_name in (("iptables", "rwtest-v4"), ("ip6tables", "rwtest-v6")):
            for chain in ("INPUT", "FORWARD"):
                rules = run(tool(binary), "-S", chain, netns=netns).splitlines()
                assert rules == [
                    f"-P {chain} ACCEPT",
                    f"-A {chain} -m set --match-set {set_name} src "
                    "-m comment --comment reconwatch -j DROP",
                ]


@pytest.mark.root
def test_empty_ipset_script_is_harmless(netns: str, tmp_path: Path) -> None:
    path = tmp_path / "block.sh"
    path.write_text(render_ipset_script(plan_of(), "rwtest"), encoding="utf-8")
    run("sh", str(path), netns=netns)
    run("sh", str(path), netns=netns)
    assert ipset_members(netns, "rwtest-v4") == []
    assert ipset_members(netns, "rwtest-v6") == []
    assert len(run(tool("iptables"), "-S", "INPUT", netns=netns).splitlines()) == 2


def test_translation_and_tunnel_addresses_are_never_widened() -> None:
    """A NAT64 or Teredo /64 holds other people's traffic: the single address is blocked."""
    plan = build_blocklist(
        [req("64:ff9b::2d21:2009"), req("64:ff9b:1::c633:6407"), req("2001:0:4136:e378::1"),
         req("2a01:4f8:1:2::99")],
        PROTECTED, 100, ipv6_prefix=64,
    )  # fmt: skip
    assert sorted(cidrs(plan)) == sorted(
        ["64:ff9b::2d21:2009/128", "64:ff9b:1::c633:6407/128", "2001:0:4136:e378::1/128",
         "2a01:4f8:1:2::/64"]
    )  # fmt: skip


def test_a_slash_64_holding_a_translation_prefix_is_never_widened() -> None:
    """64:ff9b::1:0:1 is outside 64:ff9b::/96 but its /64 holds all of it: kept a /128.

    With different severities the /128 of the /96 source used to sit inside the
    other's /64: the writers refused the overlapping plan and no rule file was
    written for any actor.
    """
    plan = build_blocklist(
        [req("64:ff9b::1:0:1", "RW-1", severity="medium", timeout=HOUR),
         req("64:ff9b::c633:6417", "RW-2", severity="critical", timeout=7 * 24 * HOUR),
         req("64:ff9b:2::5", "RW-3")],
        PROTECTED, 100, ipv6_prefix=64,
    )  # fmt: skip
    assert sorted(cidrs(plan)) == sorted(
        ["64:ff9b::1:0:1/128", "64:ff9b::c633:6417/128", "64:ff9b:2::/64"]
    )
    assert len(verified_entries(plan)) == 3  # no overlap: the writers accept it
    assert "64:ff9b::1:0:1" in render_nftables(plan, "reconwatch")  # and render it
