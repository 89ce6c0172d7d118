"""`reconwatch block apply --case`: unknown ids, adding without lifting, refusals listed.

The ``root`` tests load real nftables rules into a throwaway network namespace
(never the host), like ``tests/test_cli_block.py``.
"""

from __future__ import annotations

import dataclasses
import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from conftest import scratch_netns
from reconwatch.cli import main
from reconwatch.config import Config

SECONDS = Config().respond.block_for_seconds


def case(cid: str, severity: str, *sources: str, disposition: str = "malicious") -> dict[str, Any]:
    return {
        "id": cid,
        "severity": severity,
        "disposition": disposition,
        "detections": ["vertical_scan"],
        "sources": list(sources),
    }


def write_cases(path: Path, *cases: dict[str, Any]) -> Path:
    path.write_text(json.dumps({"cases": list(cases)}), encoding="utf-8")
    return path


def run(*args: str) -> Result:
    return CliRunner().invoke(main, ["block", *args])


@pytest.fixture
def netns() -> Iterator[str]:
    with scratch_netns("rw-case") as name:
        yield name


def live(ns: str) -> dict[str, dict[str, Any]]:
    listed = run("list", "--netns", ns, "--json")
    assert listed.exit_code == 0, listed.output
    return {b["network"]: b for b in json.loads(listed.output)}


# --- no root: nothing reaches nft ---


def test_unknown_case_id_is_an_error_even_in_a_dry_run(tmp_path: Path) -> None:
    path = write_cases(tmp_path / "cases.json", case("RW-1", "high", "198.51.100.7"))
    done = run(
        "apply", "--cases", str(path), "--case", "RW-1", "--case", "RW-nope", "--case", "RW-x"
    )
    assert done.exit_code == 2
    assert done.output.strip().splitlines() == [
        f"reconwatch: error: {path} has no case RW-nope, RW-x; nothing applied"
    ]
    dry = run("apply", "--cases", str(path), "--case", "RW-doesnotexist", "--dry-run")
    assert dry.exit_code == 2
    assert "RW-doesnotexist" in dry.output
    assert "delete table" not in dry.output


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({"cases": [{**case("RW-1", "high", "198.51.100.7"), "detections": None}]},
         "case 0: 'detections' must be a list of names"),
        ({"cases": [case("RW-1", "apocalyptic", "198.51.100.7")]},
         "case 0: severity 'apocalyptic' is not one of low, medium, high, critical"),
        ({"cases": [{**case("RW-1", "high", "198.51.100.7"), "containment": [1]}]},
         "case 0: 'containment' must be an object"),
        ({"cases": [{**case("RW-1", "high"), "sources": "198.51.100.7"}]},
         "case 0: 'sources' must be a list"),
        ({"schema": "other/1", "cases": []},
         "schema 'other/1' is not supported (expected reconwatch.cases/1)"),
        ({"cases": {"RW-1": {}}}, "not a cases document (a JSON object with a cases list)"),
        ({"cases": ["RW-1"]}, "case 0 is not an object"),
    ],
)  # fmt: skip
def test_a_malformed_cases_document_is_one_line_not_a_traceback_nor_nothing(
    tmp_path: Path, document: dict[str, Any], message: str
) -> None:
    """A hand edit must fail in one line, not crash in planning or apply 'nothing'."""
    path = tmp_path / "cases.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    done = run("apply", "--cases", str(path), "--dry-run")
    assert done.exit_code == 2, done.output
    assert done.output.strip().splitlines() == [f"reconwatch: error: {path}: {message}"]


def test_refused_addresses_are_listed_with_case_and_reason(tmp_path: Path) -> None:
    path = write_cases(
        tmp_path / "cases.json",
        case("RW-1", "high", "198.51.100.7", "10.0.0.1", "127.0.0.1"),
        case("RW-2", "medium", "1.2.3.4\x1b[31m; reboot\nx"),
    )
    dry = run("apply", "--cases", str(path), "--dry-run")
    assert dry.exit_code == 0, dry.output
    lines = dry.output.splitlines()
    assert lines[0].startswith("1 entries for 1 cases, 3 refused")
    assert lines[1:4] == [
        "refused 10.0.0.1 (case RW-1): protected: overlaps home network 10.0.0.0/8",
        "refused 127.0.0.1 (case RW-1): protected: overlaps IPv4 loopback 127.0.0.0/8",
        "refused 1.2.3.4\\x1b[31m; reboot\\nx (case RW-2): not exactly one IP address",
    ]
    assert "\x1b" not in dry.output


def test_a_case_without_blocks_says_why(tmp_path: Path) -> None:
    path = write_cases(
        tmp_path / "cases.json",
        case("RW-1", "low", "198.51.100.7", disposition="suspicious"),
    )
    done = run("apply", "--cases", str(path), "--case", "RW-1", "--yes")
    assert done.exit_code == 0, done.output
    assert done.output.splitlines() == [
        "0 entries for 0 cases, 0 refused, added to table inet reconwatch (other live blocks kept)",
        "no case store given or beside the cases file: analysts' decisions since the hunt "
        "were not checked (--store URL)",
        "case RW-1 is not blocked: disposition 'suspicious' is not in respond.block_dispositions",
        "nothing to add to table inet reconwatch",
    ]


# --- real nftables in a network namespace (root) ---


@pytest.mark.root
def test_unknown_case_leaves_live_blocks_alone(tmp_path: Path, netns: str) -> None:
    path = write_cases(
        tmp_path / "cases.json",
        case("RW-1", "high", "198.51.100.7"),
        case("RW-2", "medium", "203.0.113.9"),
    )
    audit = tmp_path / "audit.jsonl"
    common = ["--netns", netns, "--audit", str(audit), "--yes"]
    assert run("apply", "--cases", str(path), *common).exit_code == 0
    before = live(netns)
    assert sorted(before) == ["198.51.100.7/32", "203.0.113.9/32"]
    done = run("apply", "--cases", str(path), "--case", "RW-gone", *common)
    assert done.exit_code == 2
    assert "has no case RW-gone" in done.output
    assert sorted(live(netns)) == sorted(before)
    assert len(audit.read_text().splitlines()) == 1


@pytest.mark.root
def test_case_adds_to_the_live_set_and_keeps_other_expiries(tmp_path: Path, netns: str) -> None:
    path = write_cases(
        tmp_path / "cases.json",
        case("RW-1", "high", "198.51.100.7"),
        case("RW-2", "medium", "203.0.113.9", "10.0.0.5"),
    )
    audit = tmp_path / "audit.jsonl"
    common = ["--netns", netns, "--audit", str(audit)]
    # No table yet: --case creates it with only RW-1.
    first = run("apply", "--cases", str(path), "--case", "RW-1", *common, "--yes")
    assert first.exit_code == 0, first.output
    assert list(live(netns)) == ["198.51.100.7/32"]
    # Give RW-1's block a distinctive expiry, then add RW-2.
    extend = run("extend", "198.51.100.7", "5000", *common)
    assert extend.exit_code == 0, extend.output
    extended = live(netns)["198.51.100.7/32"]["expires_seconds"]
    assert extended > SECONDS["high"]

    dry = run("apply", "--cases", str(path), "--case", "RW-2", "--netns", netns, "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert "added to table inet reconwatch" in dry.output
    assert "refused 10.0.0.5 (case RW-2): protected: overlaps home network" in dry.output
    assert "delete table" not in dry.output
    assert "add element inet reconwatch ipv4_addr { 203.0.113.9/32 timeout 1d" in dry.output
    assert list(live(netns)) == ["198.51.100.7/32"]  # the dry run changed nothing

    second = run("apply", "--cases", str(path), "--case", "RW-2", *common, "--yes")
    assert second.exit_code == 0, second.output
    now = live(netns)
    assert sorted(now) == ["198.51.100.7/32", "203.0.113.9/32"]
    assert extended - 30 <= now["198.51.100.7/32"]["expires_seconds"] <= extended
    assert now["203.0.113.9/32"]["timeout_seconds"] == SECONDS["medium"]
    assert now["203.0.113.9/32"]["comment"] == "case RW-2 : reconnaissance: vertical_scan"

    # Re-adding RW-1 never shortens its longer live block.
    again = run("apply", "--cases", str(path), "--case", "RW-1", *common, "--yes")
    assert again.exit_code == 0, again.output
    assert "198.51.100.7/32: live block 198.51.100.7/32 kept" in again.output
    assert "nothing to add" in again.output
    assert live(netns)["198.51.100.7/32"]["expires_seconds"] >= extended - 30

    records = [json.loads(line) for line in audit.read_text().splitlines()]
    assert [(r["what"], r["cases"], r["entries"]) for r in records] == [
        ("apply", ["RW-1"], ["198.51.100.7/32"]),
        ("extend", [], [records[1]["entries"][0]]),
        ("apply", ["RW-2"], ["203.0.113.9/32"]),
    ]
    assert records[2]["details"] == {
        "table": "reconwatch",
        "netns": netns,
        "mode": "add",
        "replaced": [],
    }


@pytest.mark.root
def test_case_merges_with_overlapping_live_blocks(tmp_path: Path, netns: str) -> None:
    eight = [f"198.51.100.{i}" for i in range(8)]
    path = write_cases(
        tmp_path / "cases.json",
        case("RW-short", "low", "198.51.100.1"),
        case("RW-long", "critical", "198.51.100.2"),
        case("RW-wide", "high", *eight),
        case("RW-other", "medium", "203.0.113.9"),
    )
    common = ["--netns", netns, "--yes"]
    for cid in ("RW-short", "RW-long", "RW-other"):
        assert run("apply", "--cases", str(path), "--case", cid, *common).exit_code == 0
    done = run("apply", "--cases", str(path), "--case", "RW-wide", *common)
    assert done.exit_code == 0, done.output
    assert "198.51.100.0/29: live block 198.51.100.2/32 kept" in done.output
    now = live(netns)
    # The 1 h block inside the /29 is replaced by the 7 d one; the 21 d block
    # stays with its own expiry and is cut out of the /29; 203.0.113.9 stays.
    assert sorted(now) == [
        "198.51.100.0/31",
        "198.51.100.2/32",
        "198.51.100.3/32",
        "198.51.100.4/30",
        "203.0.113.9/32",
    ]
    assert now["198.51.100.2/32"]["timeout_seconds"] == SECONDS["critical"]
    assert now["203.0.113.9/32"]["timeout_seconds"] == SECONDS["medium"]
    for network in ("198.51.100.0/31", "198.51.100.3/32", "198.51.100.4/30"):
        assert now[network]["timeout_seconds"] == SECONDS["high"]

    # An entry inside a wider live block that outlasts it is not added (and says so).
    single = write_cases(
        tmp_path / "single.json",
        case("RW-in", "low", "198.51.100.5"),
        case("RW-in-long", "critical", "198.51.100.6"),
    )
    inside = run("apply", "--cases", str(single), "--case", "RW-in", *common)
    assert inside.exit_code == 0, inside.output
    assert "198.51.100.5/32: not added, live block 198.51.100.4/30 holds it" in inside.output
    assert sorted(live(netns)) == sorted(now)
    # One that would outlive it gets its full time: the wider block is split
    # around it, its other parts keeping the time they had (never lengthened).
    longer = run("apply", "--cases", str(single), "--case", "RW-in-long", *common)
    assert longer.exit_code == 0, longer.output
    assert "live block 198.51.100.4/30" in longer.output and "split" in longer.output
    after = live(netns)
    assert sorted(after) == [
        "198.51.100.0/31", "198.51.100.2/32", "198.51.100.3/32", "198.51.100.4/31",
        "198.51.100.6/32", "198.51.100.7/32", "203.0.113.9/32",
    ]  # fmt: skip
    assert after["198.51.100.6/32"]["timeout_seconds"] == SECONDS["critical"]
    for network in ("198.51.100.4/31", "198.51.100.7/32"):
        assert after[network]["expires_seconds"] <= SECONDS["high"]
        assert after[network]["comment"] == now["198.51.100.4/30"]["comment"]


def test_two_entries_inside_one_expiring_block_split_it_once() -> None:
    """The second entry splits what the first left of the wider block, not the block again
    (deleting it twice, or re-adding parts that overlap the first entry, would make
    nft refuse the whole transaction)."""
    from ipaddress import ip_network

    from reconwatch.respond.apply import ActiveBlock, _additions
    from reconwatch.respond.blocklist import BlockEntry

    wide = ActiveBlock(ip_network("198.51.100.0/24"), "ipv4_addr", 3600, 60, "case RW-old")
    entries = [
        BlockEntry(ip_network(f"198.51.100.{i}/32"), ("RW-new",), "scan", "high", 86400)
        for i in (5, 200)
    ]
    changes = _additions(entries, [wide])
    assert changes.deletes == [wide]
    assert [str(e.network) for e in changes.adds] == ["198.51.100.5/32", "198.51.100.200/32"]
    kept = [b.network for b in changes.keeps]
    # The rest of the /24, exactly once: 254 addresses, no overlap with the entries.
    assert sum(n.num_addresses for n in kept) == 254
    assert not any(n.overlaps(e.network) for n in kept for e in entries)
    assert all((b.timeout_seconds, b.comment) == (60, "case RW-old") for b in changes.keeps)
    # A live element that never expires is never split: it already holds both.
    forever = ActiveBlock(ip_network("198.51.100.0/24"), "ipv4_addr", 0, 0, "by hand")
    held = _additions(entries, [forever])
    assert (held.deletes, held.adds, held.keeps) == ([], [], [])
    assert all("holds it (no timeout)" in note for note in held.notes)


def test_a_block_ending_now_is_not_re_added_in_parts_without_a_timeout() -> None:
    """nft prints what an element has left in whole seconds: under one second
    reads 0. Its parts re-added with ``timeout 0s`` would never expire."""
    from ipaddress import ip_network

    from reconwatch.respond.apply import ActiveBlock, _additions
    from reconwatch.respond.blocklist import BlockEntry

    ending = ActiveBlock(ip_network("198.51.100.0/25"), "ipv4_addr", 2, 0, "case RW-old")
    entry = BlockEntry(ip_network("198.51.100.5/32"), ("RW-new",), "scan", "high", 3600)
    changes = _additions([entry], [ending])
    assert changes.deletes == [ending] and changes.keeps == []
    assert [e.network for e in changes.adds] == [entry.network]
    assert changes.notes == [
        "198.51.100.5/32: live block 198.51.100.0/25 (ending now) replaced by it"
    ]
    # With a second left, the parts keep that second.
    left = dataclasses.replace(ending, expires_seconds=1)
    assert {b.expires_seconds for b in _additions([entry], [left]).keeps} == {1}


def test_a_dry_run_without_the_rights_to_read_the_live_set_shows_the_plan() -> None:
    """A preview by a user who may not list the ruleset: the planned elements, and why.

    Run as an unprivileged user (``setpriv`` to nobody when the suite runs as root).
    """
    import os
    import sys

    script = (
        "from ipaddress import ip_network\n"
        "from reconwatch.respond.apply import add_nftables\n"
        "from reconwatch.respond.blocklist import BlockEntry, BlockPlan\n"
        "entry = BlockEntry(ip_network('198.51.100.7/32'), ('RW-1',), 'scan', 'high', 3600)\n"
        "result = add_nftables(BlockPlan((entry,), ()), 'reconwatch', dry_run=True)\n"
        "print(result.applied)\nprint(result.notes[0])\nprint(result.ruleset, end='')\n"
    )
    unprivileged = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
    argv = [*(unprivileged if os.geteuid() == 0 else []), sys.executable, "-c", script]
    out = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=True)
    applied, note, *rules = out.stdout.splitlines()
    assert applied == "False"
    assert note.startswith("live table not read (") and "not permitted" in note.lower()
    assert note.endswith("shown: the planned elements")
    assert rules == [
        "add element inet reconwatch ipv4_addr { 198.51.100.7/32 timeout 1h comment "
        '"case RW-1 : scan" }'
    ]
