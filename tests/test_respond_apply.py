"""Live nftables containment and its audit log.

The ``root`` tests build two network namespaces joined by a veth pair
(198.18.0.1 in ns-a, 198.18.0.2 in ns-b: the RFC 2544 benchmarking range,
which no default protected list holds), block ns-b's address in ns-a's
ruleset, and prove with real packets that it is dropped, and passes again
after unblocking or expiry. The host's own ruleset is never touched. They
fail (never skip) without root or the tools.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from reconwatch.config import Config, SiteConfig
from reconwatch.respond import BlockPlan, BlockRequest, ProtectedRanges, build_blocklist
from reconwatch.respond.apply import (
    ActiveBlock,
    NftError,
    NoTableError,
    apply_nftables,
    check_netns,
    extend_block,
    list_blocks,
    plan_from_cases_document,
    remove_block,
    unblock_all,
)
from reconwatch.respond.audit import append_audit, audit_record, current_user, read_audit

A_ADDR = "198.18.0.1"
B_ADDR = "198.18.0.2"
OPEN_SITE = SiteConfig(home_networks=[], protected=[])
PROTECTED = ProtectedRanges.from_site(OPEN_SITE)
TABLE = "rwlive"

#: Exit 0 when ns-a answers (refused or accepted), 1 when the SYN goes unanswered.
PROBE = """
import socket, sys
try:
    socket.create_connection((sys.argv[1], 9), timeout=1).close()
except ConnectionRefusedError:
    pass
except OSError:
    sys.exit(1)
"""


def plan_for(address: str, timeout: int, case_id: str = "RW-0001") -> BlockPlan:
    request = BlockRequest(address, case_id, "vertical scan", "high", timeout)
    return build_blocklist([request], PROTECTED, 10)


# --- pure parts (no root) ---


def test_dry_run_runs_nothing_and_returns_the_command() -> None:
    result = apply_nftables(plan_for(B_ADDR, 3600), TABLE, netns="some-ns")
    assert result.applied is False
    assert result.argv == ("ip", "netns", "exec", "some-ns", "nft", "-f", "-")
    assert result.entries == ("198.18.0.2/32",)
    assert result.cases == ("RW-0001",)
    assert f"table inet {TABLE} {{" in result.ruleset
    assert '198.18.0.2/32 timeout 1h comment "case RW-0001 : vertical scan",' in result.ruleset


@pytest.mark.parametrize("name", ["../etc", "a b", "x;reboot", "", "-n", "a/b", "." * 3])
def test_unsafe_namespace_names_are_refused(name: str) -> None:
    with pytest.raises(ValueError, match="network namespace name"):
        check_netns(name)
    with pytest.raises(ValueError, match="network namespace name"):
        apply_nftables(plan_for(B_ADDR, 60), TABLE, netns=name)


@pytest.mark.parametrize("table", ["table", "1abc", "a-b", "x y", "a" * 40])
def test_unsafe_table_names_are_refused(table: str) -> None:
    with pytest.raises(ValueError, match="nft table name"):
        apply_nftables(plan_for(B_ADDR, 60), table)


def test_audit_records_are_json_lines(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "audit.jsonl"
    when = dt.datetime(2026, 9, 30, 12, 0, 5, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    first = audit_record(
        "apply",
        why="escalated recon",
        cases=["RW-2", "RW-1", "RW-2"],
        entries=["198.51.100.0/29"],
        who="alice",
        when=when,
        details={"table": "reconwatch", "netns": None},
    )
    append_audit(path, first)
    append_audit(path, audit_record("unblock", why="", who="bob", when=when))
    assert read_audit(path) == [
        {
            "when": "2026-09-30T10:00:05Z",
            "who": "alice",
            "what": "apply",
            "why": "escalated recon",
            "cases": ["RW-1", "RW-2"],
            "entries": ["198.51.100.0/29"],
            "details": {"table": "reconwatch", "netns": None},
        },
        {
            "when": "2026-09-30T10:00:05Z",
            "who": "bob",
            "what": "unblock",
            "why": "",
            "cases": [],
            "entries": [],
        },
    ]
    assert len(path.read_text(encoding="ascii").splitlines()) == 2
    assert path.stat().st_mode & 0o777 == 0o600
    # Untrusted text in "why" cannot break a line.
    append_audit(path, audit_record("remove", why="x\ny\u2028z", who="c", when=when))
    assert read_audit(path)[2]["why"] == "x\ny\u2028z"
    assert len(path.read_text(encoding="ascii").splitlines()) == 3


def test_audit_refuses_unknown_actions_and_naive_times() -> None:
    with pytest.raises(ValueError, match="unknown audit action"):
        audit_record("delete", why="")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="timezone-aware"):
        audit_record("apply", why="", when=dt.datetime(2026, 1, 1))


def test_current_user_names_the_sudo_invoker(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SUDO_USER", "carol")
    account = current_user().split(" (as ")[-1].rstrip(")")
    assert current_user() == (f"carol (as {account})" if account != "carol" else "carol")
    monkeypatch.delenv("SUDO_USER")
    assert current_user() == account


# --- real namespaces (root) ---


def tool(name: str) -> str:
    path = shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin:/usr/bin:/bin")
    if path is None:
        pytest.fail(f"`{name}` is not installed: apt-get install nftables iproute2")
    return path


def sh(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(argv), capture_output=True, text=True, timeout=60, check=False)


def must(*argv: str) -> str:
    done = sh(*argv)
    if done.returncode != 0:
        pytest.fail(f"{' '.join(argv)} failed ({done.returncode}):\n{done.stderr}")
    return done.stdout


@dataclass(frozen=True)
class Pair:
    a: str
    b: str

    def b_pings_a(self) -> bool:
        """True when a TCP SYN from ns-b to ns-a gets an answer within a second.

        Nothing listens on port 9 in ns-a, so its kernel answers RST
        (connection refused) unless the block drops the SYN first (timeout).
        """
        done = sh(tool("ip"), "netns", "exec", self.b, sys.executable, "-c", PROBE, A_ADDR)
        if done.returncode not in (0, 1):
            pytest.fail(f"probe failed: {done.stderr}")
        return done.returncode == 0


@pytest.fixture
def pair() -> Iterator[Pair]:
    if os.geteuid() != 0:
        pytest.fail("this test creates network namespaces and must run as root")
    ip = tool("ip")
    token = secrets.token_hex(3)
    ns_a, ns_b = f"rw-a-{token}", f"rw-b-{token}"
    veth_a, veth_b = f"rwa{token}", f"rwb{token}"
    try:
        must(ip, "netns", "add", ns_a)
        must(ip, "netns", "add", ns_b)
        must(
            ip, "link", "add", veth_a, "netns", ns_a, "type", "veth", "peer", veth_b, "netns", ns_b
        )
        for ns, dev, addr in ((ns_a, veth_a, A_ADDR), (ns_b, veth_b, B_ADDR)):
            must(ip, "-n", ns, "addr", "add", f"{addr}/24", "dev", dev)
            must(ip, "-n", ns, "link", "set", dev, "up")
            must(ip, "-n", ns, "link", "set", "lo", "up")
        yield Pair(ns_a, ns_b)
    finally:
        for ns in (ns_a, ns_b):
            sh(ip, "netns", "delete", ns)


@pytest.mark.root
def test_block_drops_packets_and_unblock_lets_them_pass(pair: Pair, tmp_path: Path) -> None:
    audit = tmp_path / "audit.jsonl"
    assert pair.b_pings_a(), "the veth pair does not work before any block"

    result = apply_nftables(
        plan_for(B_ADDR, 3600),
        TABLE,
        netns=pair.a,
        dry_run=False,
        audit=audit,
        who="tester",
        why="case RW-0001 escalated",
    )
    assert result.applied is True
    (block,) = list_blocks(TABLE, pair.a)
    assert block.network == ipaddress.ip_network("198.18.0.2/32")
    assert block.set_name == "ipv4_addr"
    assert block.timeout_seconds == 3600
    assert 3590 <= block.expires_seconds <= 3600
    assert block.comment == "case RW-0001 : vertical scan"
    assert not pair.b_pings_a(), "a blocked source's packets must be dropped"
    counters = must(
        tool("ip"), "netns", "exec", pair.a, tool("nft"), "list", "chain", "inet", TABLE, "input"
    )
    # One SYN, maybe a retransmission: at least one packet was counted and dropped.
    assert re.search(r"ip saddr @ipv4_addr counter packets [1-9][0-9]* bytes", counters)

    extended = extend_block(B_ADDR, 600, TABLE, netns=pair.a, audit=audit, who="tester", why="more")
    assert 4190 <= extended.timeout_seconds <= 4200
    (after,) = list_blocks(TABLE, pair.a)
    assert after.comment == "case RW-0001 : vertical scan"
    assert 4180 <= after.expires_seconds <= 4200
    assert not pair.b_pings_a()

    removed = remove_block(B_ADDR, TABLE, netns=pair.a, audit=audit, who="tester", why="done")
    assert removed.network == ipaddress.ip_network("198.18.0.2/32")
    assert list_blocks(TABLE, pair.a) == []
    assert pair.b_pings_a(), "an unblocked source's packets must pass"
    with pytest.raises(LookupError, match=re.escape("198.18.0.2/32 is not blocked")):
        remove_block(B_ADDR, TABLE, netns=pair.a)

    apply_nftables(plan_for(B_ADDR, 3600), TABLE, netns=pair.a, dry_run=False, audit=audit)
    assert not pair.b_pings_a()
    held = unblock_all(TABLE, netns=pair.a, audit=audit, who="tester", why="incident closed")
    assert [b.network for b in held] == [ipaddress.ip_network("198.18.0.2/32")]
    assert pair.b_pings_a()
    assert must(tool("ip"), "netns", "exec", pair.a, tool("nft"), "list", "tables") == ""
    assert unblock_all(TABLE, netns=pair.a) == []  # twice is the same as once
    with pytest.raises(NoTableError, match=rf"^no table inet {TABLE} in network namespace"):
        list_blocks(TABLE, pair.a)

    records = read_audit(audit)
    assert [(r["what"], r["entries"]) for r in records] == [
        ("apply", ["198.18.0.2/32"]),
        ("extend", [f"198.18.0.2/32 timeout {extended.timeout_seconds}s"]),
        ("remove", ["198.18.0.2/32"]),
        ("apply", ["198.18.0.2/32"]),
        ("unblock", ["198.18.0.2/32"]),
    ]
    assert records[0]["who"] == "tester"
    assert records[0]["why"] == "case RW-0001 escalated"
    assert records[0]["cases"] == ["RW-0001"]
    assert records[0]["details"] == {"table": TABLE, "netns": pair.a}
    assert records[3]["who"] == current_user()
    assert all(r["when"].endswith("Z") for r in records)
    # The host's ruleset never held our table.
    host = sh(tool("nft"), "list", "table", "inet", TABLE)
    assert host.returncode != 0


@pytest.mark.root
def test_short_block_expires_by_itself(pair: Pair) -> None:
    apply_nftables(plan_for(B_ADDR, 2), TABLE, netns=pair.a, dry_run=False)
    (block,) = list_blocks(TABLE, pair.a)
    assert block.timeout_seconds == 2
    assert not pair.b_pings_a()
    deadline = time.monotonic() + 10
    while list_blocks(TABLE, pair.a) and time.monotonic() < deadline:
        time.sleep(0.25)
    assert list_blocks(TABLE, pair.a) == []
    assert pair.b_pings_a()


@pytest.mark.root
def test_extend_refuses_protected_and_unknown(pair: Pair) -> None:
    apply_nftables(plan_for(B_ADDR, 600), TABLE, netns=pair.a, dry_run=False)
    strict = ProtectedRanges.from_site(OPEN_SITE, extra=["198.18.0.0/24"])
    with pytest.raises(
        ValueError, match=re.escape("refusing to extend 198.18.0.2/32: overlaps allowlisted")
    ):
        extend_block(B_ADDR, 60, TABLE, netns=pair.a, protected=strict)
    with pytest.raises(LookupError, match=re.escape("198.18.0.9/32 is not blocked")):
        extend_block("198.18.0.9", 60, TABLE, netns=pair.a)
    with pytest.raises(ValueError, match="is not an IP address or CIDR"):
        extend_block("198.18.0.2; reboot", 60, TABLE, netns=pair.a)
    (block,) = list_blocks(TABLE, pair.a)
    assert isinstance(block, ActiveBlock)
    assert block.timeout_seconds == 600
    # The IPv4-mapped spelling names the same block (logs and plans unwrap it).
    longer = extend_block(f"::ffff:{B_ADDR}", 60, TABLE, netns=pair.a)
    assert str(longer.network) == f"{B_ADDR}/32" and longer.timeout_seconds > 600


@pytest.mark.root
def test_nft_refusal_changes_nothing(pair: Pair) -> None:
    apply_nftables(plan_for(B_ADDR, 600), TABLE, netns=pair.a, dry_run=False)
    before = list_blocks(TABLE, pair.a)
    # A table name nft rejects only at load time would be caught earlier; here
    # nft itself fails: the namespace does not exist.
    with pytest.raises(NftError, match="failed"):
        apply_nftables(plan_for(B_ADDR, 60), TABLE, netns="rw-no-such-ns", dry_run=False)
    assert [b.network for b in list_blocks(TABLE, pair.a)] == [b.network for b in before]
    assert json.loads(json.dumps([str(b.network) for b in before])) == ["198.18.0.2/32"]


def test_plan_from_cases_document_rechecks_everything() -> None:
    config = Config(site=SiteConfig(home_networks=["10.0.0.0/8"], protected=["192.0.2.53"]))
    document = {
        "cases": [
            {
                "id": "RW-1",
                "severity": "high",
                "disposition": "malicious",
                "detections": ["vertical_scan", "trw_scan"],
                "sources": ["198.51.100.7", "10.1.2.3", "192.0.2.53", "1.2.3.4; reboot"],
            },
            {
                "id": "RW-2",
                "severity": "low",
                "disposition": "suspicious",
                "detections": ["horizontal_scan"],
                "sources": ["45.33.32.9"],
            },
            {
                "id": "RW-3",
                "severity": "critical",
                "disposition": "malicious",
                "detections": ["flag_scan"],
                "sources": ["2a03:2880:1::5"],
            },
            {
                "id": "RW-4",
                "severity": "urgent",
                "disposition": "malicious",
                "sources": ["8.8.4.4"],
            },
            "not a case",
        ]
    }
    plan = plan_from_cases_document(document, config, extra_protected=["2a03:2880:1::5"])
    assert [(str(e.network), e.case_ids, e.timeout_seconds, e.reason) for e in plan.entries] == [
        ("198.51.100.7/32", ("RW-1",), 7 * 86400, "reconnaissance: vertical_scan, trw_scan"),
    ]
    assert [(r.address, r.case_id, r.why) for r in plan.refused] == [
        ("10.1.2.3", "RW-1", "protected: overlaps home network 10.0.0.0/8"),
        ("192.0.2.53", "RW-1", "protected: overlaps site protected range 192.0.2.53/32"),
        ("1.2.3.4; reboot", "RW-1", "not exactly one IP address"),
        ("2a03:2880:1::5", "RW-3", "protected: overlaps allowlisted 2a03:2880:1::5/128"),
    ]
    only = plan_from_cases_document(document, config, case_ids=["RW-3"])
    # IPv6 is widened by respond.ipv6_prefix once the config has that key (128 until then).
    prefix = getattr(config.respond, "ipv6_prefix", 128)
    expected = ipaddress.ip_network(f"2a03:2880:1::5/{prefix}", strict=False)
    assert [(e.network, e.timeout_seconds) for e in only.entries] == [(expected, 21 * 86400)]
