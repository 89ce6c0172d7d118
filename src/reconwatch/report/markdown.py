"""The human report of a hunt, in Markdown (readable as text, renders anywhere)."""

from __future__ import annotations

import datetime as dt

from reconwatch.cases import Case
from reconwatch.lake import RunStats
from reconwatch.report.casejson import iso
from reconwatch.report.text import LISTED, accounting_notes, code_span, expiry
from reconwatch.report.text import markdown as md


def render_report(cases: list[Case], run: RunStats | None, blocked: int, refused: int) -> str:
    now = dt.datetime.now(dt.UTC)
    escalated = [c for c in cases if c.escalate]
    lines = [
        "# reconwatch hunt report",
        "",
        f"Generated {iso(now)}. Playbook: MITRE ATT&CK T1590.005 "
        "(Gather Victim Network Information: IP Addresses).",
        "",
        "## Summary",
        "",
        f"- Cases: **{len(cases)}**, escalated to Tier 2: **{len(escalated)}**",
        f"- Block entries proposed: **{blocked}** (refused as protected or over budget: {refused})",
        "",
    ]
    if run is not None:
        lines += _ingest(run)
    if cases:
        lines += [
            "## Cases",
            "",
            "| case | source | severity | escalate | detections | first seen | last seen |",
            "|---|---|---|---|---|---|---|",
        ]
        for c in cases:
            lines.append(
                f"| {c.id} | {md(c.named(10))} | {c.severity} | "
                f"{'yes' if c.escalate else 'no'} | {', '.join(c.detections)} | "
                f"{iso(c.first_seen)} | {iso(c.last_seen)} |"
            )
        lines.append("")
    for c in cases:
        lines += _case(c)
    return "\n".join(lines) + "\n"


def _ingest(run: RunStats) -> list[str]:
    lines = [
        "## Input",
        "",
        "| file | format | lines | parsed | rejected | skipped | note |",
        "|---|---|---|---|---|---|---|",
    ]
    for f in run.files:
        note = f.error or ", ".join(
            f"{reason}: {count}" for reason, count in sorted(f.reject_reasons.items())
        )
        said = accounting_notes(f.repeated, f.repeats_cut, f.forwarded, f.forwarded_unread)
        note = "; ".join([*said, note] if note else said)
        lines.append(
            f"| {md(f.name, 80)} | {f.format or 'unrecognised'} | {f.lines} | {f.parsed} | "
            f"{f.rejected} | {f.skipped} | {md(note, 160)} |"
        )
    t = run.totals
    lines += [f"| **total** | | {t.lines} | {t.parsed} | {t.rejected} | {t.skipped} | |", ""]
    return lines


def _case(c: Case) -> list[str]:
    lines = [
        f"## {c.id}: {md(c.named(10))} ({c.severity}, {c.disposition})",
        "",
        f"- Source is **{'internal' if c.internal else 'external'}**; "
        f"techniques: {', '.join(c.techniques)}",
        f"- Escalate to Tier 2: **{'yes' if c.escalate else 'no'}**",
    ]
    lines += [f"  - {md(reason, 800)}" for reason in c.reasons]
    contain = c.containment
    if contain.get("block"):
        lines.append(
            f"- Containment: block {', '.join(contain['entries'])} for "
            f"{expiry(contain['timeout_seconds'])} (see block.nft / block-ipset.sh)"
        )
    elif contain.get("refused"):
        why = "; ".join(f"{md(k)}: {md(v)}" for k, v in contain["refused"].items())
        # A case not planned for blocking keeps its reason beside its protected sources.
        reason = f"{md(str(contain['why']))}; " if contain.get("why") else ""
        lines.append(f"- Containment: not blocked ({reason}{why})")
    else:
        lines.append(f"- Containment: no block ({md(str(contain.get('why', 'not requested')))})")
    lines += ["", "### Escalation criteria (playbook)", ""]
    for name, criterion in c.criteria.items():
        state = {True: "**met**", False: "not met", None: "not evaluated"}[criterion["met"]]
        evidence = "; ".join(md(e, 800) for e in criterion["evidence"])
        lines.append(f"- {name.replace('_', ' ')}: {state} - {evidence}")
    lines += ["", f"Score {c.score:.0f}/100.", "", "### L1 checklist", ""]
    for step in c.checklist:
        lines.append(f"- [{'x' if step['status'] == 'done' else ' '}] {step['step']}: "
                     f"{md(step['result'], 300)}")  # fmt: skip
    if c.escalate and c.tier2:
        lines += ["", "### Tier 2 package", ""]
        timeline = c.tier2["timeline"]
        lines += [f"- {md(item['time'])} {md(item['event'], 300)}" for item in timeline[:LISTED]]
        if len(timeline) > LISTED:
            lines.append(f"- ... and {len(timeline) - LISTED} more (cases.json)")
        if c.tier2["related_sources"]:
            lines.append(
                "- Related sources (same /24 or /64): "
                + ", ".join(md(s) for s in c.tier2["related_sources"][:20])
            )
        if c.tier2["earlier_sightings"]:
            lines.append(f"- Earlier sightings: {len(c.tier2['earlier_sightings'])}")
        lines += [f"- To do: {action}" for action in c.tier2["recommended_actions"]]
    lines += ["", "### Analysis questions", ""]
    for question, answer in c.answers.items():
        lines += [f"**{question}**", "", md(answer, 2000), ""]
    lines += ["### Findings", ""]
    for f in c.findings[:LISTED]:
        lines.append(f"- **{f.detection}**: {md(f.describe(), 300)}")
        for e in f.evidence:
            port = f":{e.destination_port}" if e.destination_port is not None else ""
            lines.append(
                f"  - {code_span(e.location(), 120)} {iso(e.timestamp)} -> "
                f"{md(e.destination_ip or '-')}{port} {md(e.detail, 300)}"
            )
    if len(c.findings) > LISTED:
        lines.append(f"- ... and {len(c.findings) - LISTED} more finding(s) (cases.json)")
    lines.append("")
    return lines
