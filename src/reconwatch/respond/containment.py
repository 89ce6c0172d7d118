"""Cases -> block requests -> a safe plan -> firewall rule files (dry run).

Nothing here touches a live firewall: it writes files an operator reviews and
applies. What is blocked, for how long and why is recorded on each case, and so
is every refusal (a protected address named by a case is reported, not hidden).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from reconwatch.cases import Case
from reconwatch.config import Config
from reconwatch.files import write_text_atomic
from reconwatch.respond.blocklist import (
    BlockPlan,
    BlockRequest,
    build_blocklist,
    host_network,
    protected_refusal,
)
from reconwatch.respond.ipset import render_ipset_script
from reconwatch.respond.nftables import render_nftables
from reconwatch.respond.protect import ProtectedRanges
from reconwatch.respond.writers_vendor import write_vendor_files

NFT_FILE = "block.nft"
IPSET_FILE = "block-ipset.sh"


@dataclass(frozen=True)
class ContainmentFiles:
    plan: BlockPlan
    nftables: Path
    ipset: Path
    vendors: dict[str, Path] = field(default_factory=dict)


def plan_blocks(
    cases: list[Case], config: Config, extra_protected: Sequence[str] = ()
) -> BlockPlan:
    """Block every case whose disposition calls for it; record the outcome on the case.

    ``extra_protected`` adds ranges that must never be blocked beyond the
    site's own: approved exercise sources, known benign scanners. Every source
    on a benign-scanner list (see ``case.enrichment``) is protected too, so a
    collapsed or widened entry can never cover one.
    """
    benign = [
        source
        for case in cases
        for source, context in case.enrichment.items()
        if context.get("benign_lists")
    ]
    protected = ProtectedRanges.from_config(config, extra=[*extra_protected, *benign])
    wanted = set(config.respond.block_dispositions)
    requests: list[BlockRequest] = []
    for case in cases:
        if case.disposition not in wanted:
            why = f"disposition {case.disposition}"
            if case.analyst is not None:  # activity an analyst closed a case on
                closed = case.analyst
                why = f"case {closed['case_id']} closed by an analyst as {closed['disposition']}"
            case.containment = {"block": False, "why": why}
            # A Tier 2 analyst may approve a block later (web UI, then ``block
            # apply``), planned under another config or none: the sources this
            # hunt protects must be on record, or the approval would block them.
            kept_safe = _protected_sources(case.sources, protected)
            if kept_safe:
                case.containment["refused"] = kept_safe
            continue
        seconds = config.respond.block_for_seconds[case.severity]  # type: ignore[index]
        reason = "reconnaissance: " + ", ".join(case.detections)
        requests.extend(
            BlockRequest(
                address=source,
                case_id=case.id,
                reason=reason,
                severity=case.severity,  # type: ignore[arg-type]
                timeout_seconds=seconds,
            )
            for source in case.sources
        )
    plan = build_blocklist(
        requests,
        protected,
        config.respond.max_entries,
        ipv6_prefix=config.respond.ipv6_prefix,
    )
    refused = {(r.case_id, r.address): r.why for r in plan.refused}
    blocked: dict[str, list[str]] = {}
    for entry in plan.entries:
        for cid in entry.case_ids:
            blocked.setdefault(cid, []).append(str(entry.network))
    for case in cases:
        if case.containment:
            continue
        case.containment = {
            "block": bool(blocked.get(case.id)),
            "entries": blocked.get(case.id, []),
            "timeout_seconds": config.respond.block_for_seconds[case.severity],  # type: ignore[index]
            "refused": {
                source: refused[(case.id, source)]
                for source in case.sources
                if (case.id, source) in refused
            },
        }
    return plan


def _protected_sources(sources: Sequence[str], protected: ProtectedRanges) -> dict[str, str]:
    """Each source ``protected`` refuses, with the reason ``build_blocklist`` gives."""
    refused: dict[str, str] = {}
    for source in sources:
        network = host_network(source)
        why = protected_refusal(network, protected) if network is not None else None
        if why is not None:
            refused[source] = why
    return refused


def write_rules(plan: BlockPlan, out_dir: Path, config: Config) -> ContainmentFiles:
    nft = out_dir / NFT_FILE
    write_text_atomic(nft, render_nftables(plan, config.respond.nft_table))
    ipset = out_dir / IPSET_FILE
    write_text_atomic(ipset, render_ipset_script(plan, config.respond.ipset_name))
    r = config.respond
    vendors = write_vendor_files(
        plan,
        out_dir,
        r.writers,
        pf_table=r.pf_table,
        asa_object_group=r.asa_object_group,
        asa_access_list=r.asa_access_list,
        fortigate_prefix=r.fortigate_prefix,
        aws_network_acl_id=r.aws_network_acl_id,
        aws_first_rule_number=r.aws_first_rule_number,
        aws_max_rules=r.aws_max_rules,
    )
    return ContainmentFiles(plan=plan, nftables=nft, ipset=ipset, vendors=vendors)
