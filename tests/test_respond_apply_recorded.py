"""`reconwatch block apply` never plans what the hunt refused.

Two checks, the stricter wins: each case's recorded ``containment`` in
``cases.json`` (what the hunt refused, and why; the entries it planned), and
the protections of the config given now (site ranges, approved exercise
sources, benign-scanner lists). No root needed: only dry runs.
"""

from __future__ import annotations

import ipaddress
import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from reconwatch.cli import SAMPLE_DIRS, main
from reconwatch.config import Config, EnrichConfig, RespondConfig, SiteConfig, load_config
from reconwatch.respond.apply import plan_from_cases_document

PROTECTED_BY_THE_HUNT = "protected: overlaps site protected range 198.51.100.64/28"


def case(
    cid: str,
    *sources: str,
    severity: str = "high",
    disposition: str = "malicious",
    containment: dict[str, Any] | None = None,
    enrichment: dict[str, Any] | None = None,
) -> dict[str, Any]:
    found: dict[str, Any] = {
        "id": cid,
        "severity": severity,
        "disposition": disposition,
        "detections": ["vertical_scan"],
        "sources": list(sources),
    }
    if containment is not None:
        found["containment"] = containment
    if enrichment is not None:
        found["enrichment"] = enrichment
    return found


def blocked(*entries: str, refused: dict[str, str] | None = None) -> dict[str, Any]:
    """``containment`` as the hunt records it (containment.plan_blocks)."""
    return {
        "block": bool(entries),
        "entries": list(entries),
        "timeout_seconds": 604800,
        "refused": refused or {},
    }


def hunt_document() -> dict[str, Any]:
    """What a hunt with ``site.protected: [198.51.100.64/28]`` writes."""
    return {
        "cases": [
            case("RW-1", "198.51.100.7", containment=blocked("198.51.100.7/32")),
            case(
                "RW-2",
                "198.51.100.67",
                containment=blocked(refused={"198.51.100.67": PROTECTED_BY_THE_HUNT}),
            ),
        ]
    }


def write(path: Path, document: dict[str, Any]) -> Path:
    path.write_text(json.dumps(document), encoding="utf-8")
    return path


def run(*args: str) -> Result:
    return CliRunner().invoke(main, ["block", *args])


def summary(plan: Any) -> tuple[list[str], list[tuple[str, str, str]]]:
    return (
        [str(e.network) for e in plan.entries],
        [(r.address, r.case_id, r.why) for r in plan.refused],
    )


# --- the hunt's record ---


def test_a_source_the_hunt_refused_is_refused_without_the_hunts_config() -> None:
    # The default config does not protect 198.51.100.64/28; the hunt's did.
    entries, refused = summary(plan_from_cases_document(hunt_document(), Config()))
    assert entries == ["198.51.100.7/32"]
    assert refused == [("198.51.100.67", "RW-2", f"refused by the hunt: {PROTECTED_BY_THE_HUNT}")]


def test_block_apply_without_config_lists_what_the_hunt_refused(tmp_path: Path) -> None:
    path = write(tmp_path / "cases.json", hunt_document())
    dry = run("apply", "--cases", str(path), "--dry-run")
    assert dry.exit_code == 0, dry.output
    lines = dry.output.splitlines()
    assert lines[0].startswith("1 entries for 1 cases, 1 refused")
    assert (
        lines[1]
        == f"refused 198.51.100.67 (case RW-2): refused by the hunt: {PROTECTED_BY_THE_HUNT}"
    )
    assert "198.51.100.67" not in "\n".join(lines[2:])
    assert "198.51.100.7/32" in dry.output
    one = run("apply", "--cases", str(path), "--case", "RW-2", "--dry-run")
    assert one.exit_code == 0, one.output
    assert "198.51.100.67/32" not in one.output
    assert "nothing to add" in one.output


def test_only_what_the_hunt_planned_is_planned() -> None:
    document = {
        "cases": [
            # A source added to the document after the hunt: no recorded entry covers it.
            case("RW-1", "198.51.100.7", "198.51.100.8", containment=blocked("198.51.100.7/32")),
            # The hunt did not block this case (its disposition then); the config now would.
            case(
                "RW-2",
                "45.33.32.9",
                disposition="suspicious",
                containment={"block": False, "why": "disposition suspicious"},
            ),
            # No record at all, in a document the hunt wrote.
            case("RW-3", "45.33.32.10"),
        ]
    }
    config = Config(respond=RespondConfig(block_dispositions=["malicious", "suspicious"]))
    entries, refused = summary(plan_from_cases_document(document, config))
    assert entries == ["198.51.100.7/32"]
    assert refused == [
        (
            "198.51.100.8",
            "RW-1",
            "not planned by the hunt (no recorded entry of the case covers it)",
        ),
        ("45.33.32.10", "RW-3", "the hunt recorded no containment for this case"),
    ]


def test_a_case_the_hunt_did_not_block_says_so(tmp_path: Path) -> None:
    document = {
        "cases": [
            case(
                "RW-2",
                "45.33.32.9",
                containment={"block": False, "why": "case RW-0 closed by an analyst as benign"},
            )
        ]
    }
    path = write(tmp_path / "cases.json", document)
    dry = run("apply", "--cases", str(path), "--case", "RW-2", "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert (
        "case RW-2 is not blocked: the hunt did not block it: "
        "case RW-0 closed by an analyst as benign"
    ) in dry.output.splitlines()


def test_no_entry_is_wider_than_the_hunts() -> None:
    # The hunt blocked the /128 (its respond.ipv6_prefix was 128); the config now says 64.
    document = {"cases": [case("RW-1", "2001:db8:5::7", containment=blocked("2001:db8:5::7/128"))]}
    config = Config(respond=RespondConfig(ipv6_prefix=64))
    assert summary(plan_from_cases_document(document, config)) == (["2001:db8:5::7/128"], [])
    # A hunt that planned the /64 gets its /64.
    document = {"cases": [case("RW-1", "2001:db8:5::7", containment=blocked("2001:db8:5::/64"))]}
    assert summary(plan_from_cases_document(document, config)) == (["2001:db8:5::/64"], [])


# --- the current config ---


def test_the_current_config_protects_too() -> None:
    # The hunt planned the block, the config given now protects the address: refused.
    document = {"cases": [case("RW-1", "198.51.100.7", containment=blocked("198.51.100.7/32"))]}
    config = Config(site=SiteConfig(protected=["198.51.100.0/28"]))
    assert summary(plan_from_cases_document(document, config)) == (
        [],
        [("198.51.100.7", "RW-1", "protected: overlaps site protected range 198.51.100.0/28")],
    )


@pytest.fixture
def enrich_config(tmp_path: Path) -> Path:
    exercises = tmp_path / "exercises.yaml"
    exercises.write_text(
        "exercises:\n"
        "  - name: red team\n"
        "    sources: [198.51.100.23]\n"
        "    start: 2026-01-01T00:00:00Z\n"
        "    end: 2026-01-02T00:00:00Z\n"
        "    scope: [203.0.113.0/24]\n"
        "    contact: redteam@example.org\n",
        encoding="utf-8",
    )
    benign = tmp_path / "research-scanners.txt"
    benign.write_text("192.0.2.171\n", encoding="utf-8")
    path = tmp_path / "reconwatch.yaml"
    path.write_text(
        f"enrich:\n  exercises: {exercises}\n  warninglists: [{benign}]\n", encoding="utf-8"
    )
    return path


def test_block_apply_with_config_protects_exercises_and_benign_scanners(
    tmp_path: Path, enrich_config: Path
) -> None:
    path = write(
        tmp_path / "cases.json",
        {"cases": [case("RW-1", "198.51.100.7", "198.51.100.23", "192.0.2.171")]},
    )
    dry = run("apply", "--cases", str(path), "--config", str(enrich_config), "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert dry.output.splitlines()[:3] == [
        "1 entries for 1 cases, 2 refused, into table inet reconwatch",
        "refused 198.51.100.23 (case RW-1): protected: overlaps allowlisted 198.51.100.23/32",
        "refused 192.0.2.171 (case RW-1): protected: overlaps allowlisted 192.0.2.171/32",
    ]
    assert "198.51.100.23/32" not in dry.output.split("\n", 3)[3]
    # A benign-scanner list the hunt saw (recorded in the case's enrichment) protects too.
    document = {
        "cases": [
            case(
                "RW-1",
                "198.51.100.7",
                "198.51.100.6",
                enrichment={"198.51.100.6": {"benign_lists": ["shodan"]}},
            )
        ]
    }
    entries, refused = summary(plan_from_cases_document(document, Config()))
    assert entries == ["198.51.100.7/32"]
    assert refused == [("198.51.100.6", "RW-1", "protected: overlaps allowlisted 198.51.100.6/32")]


def test_an_unreadable_exercises_file_plans_nothing(tmp_path: Path) -> None:
    config = Config(enrich=EnrichConfig(exercises=tmp_path / "missing.yaml"))
    with pytest.raises(ValueError, match=r"enrich\.exercises: .*nothing planned"):
        plan_from_cases_document({"cases": [case("RW-1", "198.51.100.7")]}, config)


# --- a real hunt ---


def test_apply_after_a_real_hunt_refuses_what_it_refused(tmp_path: Path) -> None:
    from reconwatch.generate import ALL_FAMILIES, generate_sample
    from reconwatch.hunt import hunt

    sample = tmp_path / "sample"
    generate_sample(sample, size=20_000, seed=7, families=ALL_FAMILIES)
    config = load_config(sample / "reconwatch.yaml")
    found = hunt([str(sample / d) for d in SAMPLE_DIRS], config, out_dir=tmp_path / "plain")
    blocked_now = [e.network for e in found.plan.entries if e.network.version == 4]
    assert blocked_now
    target = blocked_now[0]
    protect = ipaddress.ip_network(f"{target.network_address}/28", strict=False)
    site = config.site.model_copy(update={"protected": [str(protect)]})
    out = tmp_path / "out"
    hunt(
        [str(sample / d) for d in SAMPLE_DIRS],
        config.model_copy(update={"site": site}),
        out_dir=out,
    )
    # Without --config (the README's example): the hunt's protection still holds.
    dry = run("apply", "--cases", str(out / "cases.json"), "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert str(target) not in dry.output
    assert f"refused {target.network_address} (case " in dry.output
    assert f"refused by the hunt: protected: overlaps site protected range {protect}" in dry.output
    # An analyst closes that hunt's first blocked case as a false positive: applying
    # the (older) cases.json must not block it again. The hunt's store sits beside it.
    from reconwatch.store import CaseStore

    document = json.loads((out / "cases.json").read_text())
    blocked = [c for c in document["cases"] if c["containment"].get("block")]
    cleared = blocked[0]
    store = CaseStore(f"sqlite:///{out / 'reconwatch.db'}", create=False)
    try:
        store.decide(cleared["id"], "alice", "close", disposition="false_positive",
                     reason="our own scanner")  # fmt: skip
    finally:
        store.close()
    after = run("apply", "--cases", str(out / "cases.json"), "--dry-run")
    assert after.exit_code == 0, after.output
    assert f"{cleared['id']}: closed in the case store as false_positive (our own scanner)" in (
        after.output
    )
    ruleset = after.output[after.output.index("#!/usr/sbin/nft") :]
    for source in cleared["sources"]:
        assert source not in ruleset
    assert len(blocked) == 1 or any(s in ruleset for s in blocked[1]["sources"])
    # Without a store beside it (a copy elsewhere), the command says it could not check.
    copy = tmp_path / "elsewhere" / "cases.json"
    copy.parent.mkdir()
    copy.write_text((out / "cases.json").read_text())
    unchecked = run("apply", "--cases", str(copy), "--dry-run")
    assert "decisions since the hunt were not checked" in unchecked.output


def test_a_block_approved_in_the_store_counts_as_the_analysts_verdict(tmp_path: Path) -> None:
    """The web UI's approval of a case the hunt did not block (its verdict
    then) is applied by ``block apply --case``, held to the hunt's refusals."""
    from reconwatch.store import CaseStore

    refused = {"198.51.100.8": "protected: partner scanner"}
    suspicious = {
        **case("RW-20260930-approved", "198.51.100.7", "198.51.100.8", disposition="suspicious"),
        "containment": {"block": False, "why": "disposition suspicious", "refused": refused},
        "actor": "198.51.100.7", "score": 40.0, "escalate": False,
        "first_seen": "2026-09-30T10:00:00+00:00", "last_seen": "2026-09-30T10:05:00+00:00",
    }  # fmt: skip
    cases_json = write(tmp_path / "cases.json", {"cases": [suspicious]})
    args = ["apply", "--cases", str(cases_json), "--case", suspicious["id"], "--dry-run"]
    store = CaseStore(f"sqlite:///{tmp_path / 'reconwatch.db'}")  # beside cases.json
    try:
        store.record([suspicious], "hunt", 900)
        before = run(*args)
        assert before.exit_code == 0, before.output
        assert before.output.startswith("0 entries for 0 cases")
        assert "is not blocked: disposition 'suspicious'" in before.output
        store.add_action(suspicious["id"], "theo", "approve_block", "confirmed | blocks ...")
    finally:
        store.close()
    after = run(*args)
    assert after.exit_code == 0, after.output
    assert after.output.startswith("1 entries for 1 cases, 1 refused")
    assert "refused 198.51.100.8 (case RW-20260930-approved): refused by the hunt" in after.output
    assert f"{suspicious['id']}: block approved in the case store by theo" in after.output
    assert "is not blocked" not in after.output
    ruleset = after.output[after.output.index("#!/usr/sbin/nft") :]
    assert "198.51.100.7" in ruleset and "198.51.100.8" not in ruleset
