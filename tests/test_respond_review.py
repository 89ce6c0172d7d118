"""Containment fixes found in review: an unblock that must really unblock, an
extend that must never shorten a block, and a hunt's protections that hold for
a case it did not block but an analyst approves later.

The ``root`` tests run nft inside a throwaway network namespace; the host's
ruleset is never touched.
"""

from __future__ import annotations

import ipaddress
import secrets
import subprocess
from collections.abc import Iterator
from pathlib import Path

import ibis
import pytest
from click.testing import CliRunner

from conftest import network_rows, scratch_netns
from reconwatch.cases import build_cases
from reconwatch.cli import main
from reconwatch.config import Config, SiteConfig
from reconwatch.detect import run_detections
from reconwatch.report.casejson import case_to_dict
from reconwatch.report.markdown import render_report
from reconwatch.respond.apply import (
    NftError,
    apply_nftables,
    extend_block,
    list_blocks,
    plan_from_cases_document,
    remove_block,
    unblock_all,
)
from reconwatch.respond.audit import read_audit
from reconwatch.respond.blocklist import BlockEntry, BlockPlan
from reconwatch.respond.containment import plan_blocks
from reconwatch.triage import triage

TABLE = "rwreview"


def plan(*networks: str, seconds: int = 3600) -> BlockPlan:
    entries = tuple(
        BlockEntry(ipaddress.ip_network(n), ("RW-1",), "vertical scan", "high", seconds)
        for n in networks
    )
    return BlockPlan(entries, ())


def nft(ns: str, *args: str) -> str:
    done = subprocess.run(
        ["ip", "netns", "exec", ns, "nft", *args], capture_output=True, text=True, check=True
    )
    return done.stdout


@pytest.fixture
def netns() -> Iterator[str]:
    with scratch_netns("rw-review") as name:
        yield name


@pytest.mark.root
def test_unblock_deletes_the_table_even_when_an_element_cannot_be_listed(
    netns: str, tmp_path: Path
) -> None:
    # An operator adds a range by hand: nft lists it as {"range": [...]}, which
    # is no CIDR. The unblock used to fail on it and leave every block in place.
    apply_nftables(plan("198.18.0.2/32"), TABLE, netns=netns, dry_run=False)
    nft(netns, "add", "element", "inet", TABLE, "ipv4_addr", "{ 198.18.1.1-198.18.1.5 }")
    audit = tmp_path / "audit.jsonl"
    unblock_all(TABLE, netns=netns, audit=audit, who="tester")
    assert TABLE not in nft(netns, "list", "tables")
    assert [r["what"] for r in read_audit(audit)] == ["unblock"]
    assert unblock_all(TABLE, netns=netns) == []  # twice is still the same as once


@pytest.mark.root
def test_unblock_deletes_a_table_missing_one_of_its_sets(netns: str, tmp_path: Path) -> None:
    # A hand-edited (or foreign) table of the same name without ipv6_addr:
    # listing says "no such set", which must not read as "no table".
    nft(netns, "add", "table", "inet", TABLE)
    nft(netns, "add", "set", "inet", TABLE, "ipv4_addr", "{ type ipv4_addr; }")
    nft(netns, "add", "element", "inet", TABLE, "ipv4_addr", "{ 198.18.0.7 }")
    audit = tmp_path / "audit.jsonl"
    unblock_all(TABLE, netns=netns, audit=audit)
    assert TABLE not in nft(netns, "list", "tables")
    # A range element cannot be listed: the table goes, the audit says the
    # entries are unknown rather than claiming there were none.
    apply_nftables(plan("198.18.0.2/32"), TABLE, netns=netns, dry_run=False)
    nft(netns, "add", "element", "inet", TABLE, "ipv4_addr", "{ 198.18.1.1-198.18.1.5 }")
    unblock_all(TABLE, netns=netns, audit=audit)
    assert TABLE not in nft(netns, "list", "tables")
    records = read_audit(audit)
    # Both deleted with their entries unread: the record says so, not "none".
    assert [r["details"].get("entries_unknown") for r in records] == [True, True]
    # A table of that name in another family only: nothing of ours to delete
    # (nft's "did you mean table ... in family ip?"), as unblocking twice.
    nft(netns, "add", "table", "ip", TABLE)
    assert unblock_all(TABLE, netns=netns, audit=audit) == []
    assert read_audit(audit)[-1]["entries"] == []
    assert "entries_unknown" not in read_audit(audit)[-1]["details"]
    assert TABLE in nft(netns, "list", "tables")  # the ip family's own stays


@pytest.mark.root
def test_unblock_in_a_namespace_that_does_not_exist_is_an_error(tmp_path: Path) -> None:
    # It used to report success ("unblocked 0 entries", exit 0, an audit record)
    # while nothing had been unblocked anywhere.
    audit = tmp_path / "audit.jsonl"
    missing = f"rw-none-{secrets.token_hex(3)}"
    with pytest.raises(NftError):
        unblock_all(TABLE, netns=missing, audit=audit)
    assert read_audit(audit) == []
    result = CliRunner().invoke(
        main, ["block", "unblock", "--netns", missing, "--table", TABLE, "--yes"]
    )
    assert result.exit_code != 0
    assert "unblocked" not in result.output


@pytest.mark.root
def test_extend_never_shortens_a_block_without_timeout(netns: str) -> None:
    # An element without a timeout never ends; extending it used to give it
    # "0 s left + seconds", so a permanent block ended after those seconds.
    apply_nftables(plan("198.18.0.2/32"), TABLE, netns=netns, dry_run=False)
    nft(netns, "add", "element", "inet", TABLE, "ipv4_addr", "{ 198.18.0.9 }")
    with pytest.raises(ValueError, match="no timeout"):
        extend_block("198.18.0.9", 60, TABLE, netns=netns)
    held = {str(b.network): b for b in list_blocks(TABLE, netns)}
    assert held["198.18.0.9/32"].timeout_seconds == 0  # still never ends
    # A block with a timeout is still extended.
    longer = extend_block("198.18.0.2", 60, TABLE, netns=netns)
    assert 3600 < longer.timeout_seconds <= 3660


def test_an_approved_case_the_hunt_did_not_block_keeps_the_hunts_protections() -> None:
    # The hunt protects 198.51.100.7 (site.protected); its one scan burst is
    # "suspicious", so nothing is planned and, before the fix, nothing was
    # recorded either. A Tier 2 approval then planned it under whatever config
    # ``block apply`` (or the web UI) had: without the hunt's, it was blocked.
    rows = [
        {"source_ip": "198.51.100.7", "destination_ip": "203.0.113.10", "destination_port": p}
        | {"seconds": i}
        for i, p in enumerate(range(1, 21))
    ]
    hunt_config = Config(site=SiteConfig(protected=["198.51.100.7/32"]))
    network = ibis.memtable(network_rows(rows))
    findings = run_detections(network, hunt_config.detect)
    cases = triage(build_cases(network, findings, 5), hunt_config)
    plan_blocks(cases, hunt_config)
    (case,) = cases
    assert case.disposition == "suspicious"
    assert case.containment == {
        "block": False,
        "why": "disposition suspicious",
        "refused": {"198.51.100.7": "protected: overlaps site protected range 198.51.100.7/32"},
    }
    # report.md says both: why no block was planned, and what stays protected.
    report = render_report(cases, None, 0, 0)
    assert (
        "- Containment: not blocked (disposition suspicious; 198.51.100.7: protected: "
        "overlaps site protected range 198.51.100.7/32)"
    ) in report
    document = {"cases": [case_to_dict(case)]}
    approved = plan_from_cases_document(document, Config(), case_ids=[case.id], approved=[case.id])
    assert approved.entries == ()
    assert [r.why for r in approved.refused] == [
        "refused by the hunt: protected: overlaps site protected range 198.51.100.7/32"
    ]


def test_a_case_not_blocked_with_unprotected_sources_records_no_refusals() -> None:
    rows = [
        {"source_ip": "198.51.100.7", "destination_ip": "203.0.113.10", "destination_port": p}
        | {"seconds": i}
        for i, p in enumerate(range(1, 21))
    ]
    network = ibis.memtable(network_rows(rows))
    cases = triage(build_cases(network, run_detections(network, Config().detect), 5), Config())
    plan_blocks(cases, Config())
    assert cases[0].containment == {"block": False, "why": "disposition suspicious"}


def test_an_approved_ipv6_case_the_hunt_did_not_block_is_not_widened() -> None:
    # The hunt protects a partner's resolver in the scanner's /64; the case is
    # "suspicious", nothing planned. Approved later under a config that does
    # not know the partner, respond.ipv6_prefix (64) would widen the scanner to
    # its /64 and block the partner with it: the approval blocks the /128 only.
    scanner, partner = "2001:db8:5::7", "2001:db8:5::53"
    rows = [
        {"source_ip": scanner, "destination_ip": "2001:db8:1::10", "destination_port": p}
        | {"seconds": i}
        for i, p in enumerate(range(1, 21))
    ]
    hunt_config = Config(site=SiteConfig(protected=[f"{partner}/128"]))
    network = ibis.memtable(network_rows(rows))
    findings = run_detections(network, hunt_config.detect)
    cases = triage(build_cases(network, findings, 5), hunt_config)
    plan_blocks(cases, hunt_config)
    (case,) = cases
    assert case.disposition == "suspicious" and "refused" not in case.containment
    document = {"cases": [case_to_dict(case)]}
    assert Config().respond.ipv6_prefix == 64  # the widening the approval must not get
    approved = plan_from_cases_document(document, Config(), case_ids=[case.id], approved=[case.id])
    assert [str(e.network) for e in approved.entries] == [f"{scanner}/128"]


@pytest.mark.root
def test_nothing_changes_when_the_audit_record_could_not_be_written(
    netns: str, tmp_path: Path
) -> None:
    # The audit folder's place is a file (as root, permissions would not stop
    # the write): the change must not be made, rather than made and unrecorded.
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    audit = blocker / "audit.jsonl"
    with pytest.raises(NftError, match="nothing was changed"):
        apply_nftables(plan("198.18.0.2/32"), TABLE, netns=netns, dry_run=False, audit=audit)
    assert TABLE not in nft(netns, "list", "tables")
    apply_nftables(plan("198.18.0.2/32"), TABLE, netns=netns, dry_run=False)
    (before,) = list_blocks(TABLE, netns)
    with pytest.raises(NftError, match="nothing was changed"):
        extend_block("198.18.0.2", 3600, TABLE, netns=netns, audit=audit)
    with pytest.raises(NftError, match="nothing was changed"):
        remove_block("198.18.0.2", TABLE, netns=netns, audit=audit)
    with pytest.raises(NftError, match="nothing was changed"):
        unblock_all(TABLE, netns=netns, audit=audit)
    (after,) = list_blocks(TABLE, netns)
    # Still there, and not extended (an extend of 3600 s would have doubled it).
    assert str(after.network) == "198.18.0.2/32"
    assert after.timeout_seconds == before.timeout_seconds == 3600


@pytest.mark.root
def test_a_hand_added_range_is_named_when_the_blocks_cannot_be_listed(netns: str) -> None:
    apply_nftables(plan("198.18.0.2/32"), TABLE, netns=netns, dry_run=False)
    nft(netns, "add", "element", "inet", TABLE, "ipv4_addr", "{ 198.18.1.1-198.18.1.5 }")
    with pytest.raises(ValueError, match=r"range reconwatch did not write \(198\.18\.1\.1-198"):
        list_blocks(TABLE, netns)
    result = CliRunner().invoke(main, ["block", "list", "--netns", netns, "--table", TABLE])
    assert result.exit_code == 2
    assert "unblock the whole table" in result.output
