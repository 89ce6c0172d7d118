"""Cases -> block requests -> a safe plan -> firewall rule files (dry run).

Nothing here touches a live firewall: it writes files an operator reviews and
applies. What is blocked, for how long and why is recorded on each case, and so
is every refusal (a protected address named by a case is reported, not hidden).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from reconwatch.cases import Case
from reconwatch.config import Config
from reconwatch.respond.blocklist import BlockPlan, BlockRequest, build_blocklist
from reconwatch.respond.ipset import render_ipset_script
from reconwatch.respond.nftables import render_nftables
from reconwatch.respond.protect import ProtectedRanges

NFT_FILE = "block.nft"
IPSET_FILE = "block-ipset.sh"


@dataclass(frozen=True)
class ContainmentFiles:
    plan: BlockPlan
    nftables: Path
    ipset: Path


def plan_blocks(cases: list[Case], config: Config) -> BlockPlan:
    """Block every case whose disposition calls for it; record the outcome on the case."""
    wanted = set(config.respond.block_dispositions)
    requests: list[BlockRequest] = []
    for case in cases:
        if case.disposition not in wanted:
            case.containment = {"block": False, "why": f"disposition {case.disposition}"}
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
        requests, ProtectedRanges.from_site(config.site), config.respond.max_entries
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


def write_rules(plan: BlockPlan, out_dir: Path, config: Config) -> ContainmentFiles:
    nft = out_dir / NFT_FILE
    nft.write_text(render_nftables(plan, config.respond.nft_table), encoding="utf-8")
    ipset = out_dir / IPSET_FILE
    ipset.write_text(render_ipset_script(plan, config.respond.ipset_name), encoding="utf-8")
    return ContainmentFiles(plan=plan, nftables=nft, ipset=ipset)
