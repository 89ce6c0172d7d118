"""The human report of a hunt, in Markdown (readable as text, renders anywhere)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Final

from reconwatch.cases import Case
from reconwatch.lake import RunStats
from reconwatch.report.casejson import iso
from reconwatch.report.text import (
    LISTED,
    RELATED_SHOWN,
    code_span,
    expiry,
    input_format,
    input_notes,
    related_more,
)
from reconwatch.report.text import markdown as md

#: A case's sources a heading or table row names, and room for them: ten IPv6
#: addresses and "and N more" (cut at 200 characters, a campaign lost its count).
NAMED: Final = 10
NAMED_LIMIT: Final = NAMED * 47 + 40


def render_report(
    cases: list[Case],
    run: RunStats | None,
    blocked: int,
    refused: int,
    warnings: Sequence[str] = (),
) -> str:
    """The report; ``warnings`` as in cases.json (an unreadable input or feed,
    a year assumed for syslog): what the report's figures may lack."""
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
    if warnings:
        lines += ["## Warnings", "", *(f"- {md(w, 500)}" for w in warnings), ""]
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
                f"| {c.id} | {md(c.named(NAMED), NAMED_LIMIT)} | {c.severity} | "
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
        # The error, what the console's notes say, then the reject reasons:
        # an input that failed part way still rejected what it rejected.
        said = [f.error] if f.error else []
        said += input_notes(
            first_line=f.first_line, lines=f.lines, note=f.note, repeated=f.repeated,
            repeats_cut=f.repeats_cut, forwarded=f.forwarded, forwarded_unread=f.forwarded_unread,
        )  # fmt: skip
        said += [f"{reason}: {count}" for reason, count in sorted(f.reject_reasons.items())]
        lines.append(
            f"| {md(f.name, 160)} | {input_format(f.format, f.note, f.rejected)} | {f.lines} | "
            f"{f.parsed} | {f.rejected} | {f.skipped} | {md('; '.join(said), 600)} |"
        )
    t = run.totals
    lines += [f"| **total** | | {t.lines} | {t.parsed} | {t.rejected} | {t.skipped} | |", ""]
    return lines


def _case(c: Case) -> list[str]:
    lines = [
        f"## {c.id}: {md(c.named(NAMED), NAMED_LIMIT)} ({c.severity}, {c.disposition})",
        "",
        f"- Source is **{'internal' if c.internal else 'external'}**; "
        f"techniques: {', '.join(c.techniques)}",
        f"- Escalate to Tier 2: **{'yes' if c.escalate else 'no'}**",
    ]
    lines += [f"  - {md(reason, 800)}" for reason in c.reasons]
    contain = c.containment
    if contain.get("block"):
        # At most LISTED, as report.html: a campaign of thousands of sources
        # made one line of thousands of entries.
        entries = contain["entries"]
        more = f" and {len(entries) - LISTED} more" if len(entries) > LISTED else ""
        lines.append(
            f"- Containment: block {', '.join(md(e) for e in entries[:LISTED])}{more} for "
            f"{expiry(contain['timeout_seconds'])} (see block.nft / block-ipset.sh)"
        )
    elif contain.get("refused"):
        refused = list(contain["refused"].items())
        why = "; ".join(f"{md(k)}: {md(v)}" for k, v in refused[:LISTED])
        why += f"; and {len(refused) - LISTED} more (cases.json)" if len(refused) > LISTED else ""
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
        related = c.tier2["related_sources"]
        if related:
            lines.append(
                "- Related sources (same /24 or /64, same ASN or same campaign): "
                + ", ".join(md(s) for s in related[:RELATED_SHOWN])
                + related_more(len(related), c.tier2.get("related_total"))
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
                f"  - {code_span(e.location(160), 200)} {iso(e.timestamp)} -> "
                f"{md(e.destination_ip or '-')}{port} {md(e.detail, 300)}"
            )
    if len(c.findings) > LISTED:
        lines.append(f"- ... and {len(c.findings) - LISTED} more finding(s) (cases.json)")
    lines.append("")
    return lines
