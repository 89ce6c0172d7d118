"""The terminal summary of a hunt (Rich tables; every log-derived string cleaned)."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table
from rich.text import Text

from reconwatch.cases import Case
from reconwatch.lake import RunStats
from reconwatch.report.text import clean

SEVERITY_STYLE = {"critical": "bold red", "high": "red", "medium": "yellow", "low": "cyan"}


def print_ingest(console: Console, run: RunStats) -> None:
    table = Table(title="Input accounting (every line parsed, rejected or skipped)")
    for column in (
        "file",
        "format",
        "lines",
        "parsed",
        "rejected",
        "skipped",
        "top reject reasons",
    ):
        justify = "right" if column in ("lines", "parsed", "rejected", "skipped") else "left"
        table.add_column(column, justify=justify)  # type: ignore[arg-type]
    for f in run.files:
        reasons = sorted(f.reject_reasons.items(), key=lambda kv: -kv[1])[:2]
        note = f.error or "; ".join(f"{r} ({n})" for r, n in reasons)
        table.add_row(
            Text(clean(f.name, 60)),
            Text(f.format or "unrecognised"),
            str(f.lines),
            str(f.parsed),
            str(f.rejected),
            str(f.skipped),
            Text(clean(note, 80)),
        )
    t = run.totals
    table.add_row("total", "", str(t.lines), str(t.parsed), str(t.rejected), str(t.skipped), "")
    console.print(table)


def print_cases(console: Console, cases: list[Case]) -> None:
    if not cases:
        console.print("No reconnaissance found.")
        return
    table = Table(title=f"{len(cases)} case(s), {sum(c.escalate for c in cases)} escalated")
    for column in ("case", "source", "sev", "T2", "detections", "targets", "ports", "first seen"):
        table.add_column(column)
    for c in cases:
        table.add_row(
            c.id,
            Text(clean(", ".join(c.sources), 40)),
            Text(c.severity, style=SEVERITY_STYLE[c.severity]),
            Text("yes", style="bold") if c.escalate else Text("no"),
            ", ".join(c.detections),
            str(c.activity.target_count),
            str(c.activity.port_count),
            f"{c.first_seen:%Y-%m-%d %H:%M:%S}",
        )
    console.print(table)
