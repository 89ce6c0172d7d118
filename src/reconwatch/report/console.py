"""The terminal summary of a hunt (Rich tables; every log-derived string cleaned)."""

from __future__ import annotations

from typing import Final

from rich.cells import cell_len
from rich.console import Console
from rich.table import Table
from rich.text import Text

from reconwatch.cases import Case
from reconwatch.cli_console import COLUMN_FRAME
from reconwatch.lake import FileStats, RunStats
from reconwatch.report.text import clean, input_format, input_notes, plural

SEVERITY_STYLE = {"critical": "bold red", "high": "red", "medium": "yellow", "low": "cyan"}


#: The accounting table's widths: the most of a path shown (its end: what
#: tells files apart), the narrowest the notes get beside the counts; below
#: that the notes are printed under the table, one line per file.
FILE_WIDTH: Final = 48
NOTES_WIDTH: Final = 16
_COUNTS: Final = ("lines", "parsed", "rejected", "skipped")
_HEADERS: Final = ("file", "format", *_COUNTS)


def print_ingest(console: Console, run: RunStats, errors: bool = True) -> None:
    """The per-file line accounting; then, with ``errors``, each file's read error.

    A hunt passes ``errors=False``: its warnings, printed after, hold them.
    On a narrow terminal the paths keep their end and the notes go under the
    table (at 80 columns Rich cut every path to the same "/var/lo…").
    """
    t = run.totals
    rows = [
        [_tail(clean(f.name, 1000), FILE_WIDTH), input_format(f.format, f.note, f.rejected),
         str(f.lines), str(f.parsed), str(f.rejected), str(f.skipped), _note(f)]
        for f in run.files
    ]  # fmt: skip
    rows.append(["total", "", str(t.lines), str(t.parsed), str(t.rejected), str(t.skipped), ""])
    # The widest cell of each column but the notes, its header included.
    widths = [max(cell_len(row[i]) for row in [_HEADERS, *rows]) for i in range(6)]
    counts = 1 + 6 * COLUMN_FRAME + sum(widths[1:])
    # The notes beside the counts while the path keeps 16 characters too:
    # the notes take up to half of what is left, the path the rest.
    room = console.width - counts - COLUMN_FRAME
    notes_beside = room >= 2 * NOTES_WIDTH
    if notes_beside:
        notes_width = min(max(cell_len(row[-1]) for row in rows), max(NOTES_WIDTH, room // 2))
        room -= max(notes_width, NOTES_WIDTH)
    else:
        room += COLUMN_FRAME
    file_width = max(min(widths[0], room), len("total"))
    table = Table(title="Input accounting (every line parsed, rejected or skipped)")
    table.add_column("file", no_wrap=True, min_width=file_width, max_width=file_width)
    table.add_column("format", no_wrap=True, min_width=widths[1])
    for column, width in zip(_COUNTS, widths[2:], strict=True):
        table.add_column(column, justify="right", no_wrap=True, min_width=width)
    if notes_beside:
        table.add_column("notes (top reject reasons)", min_width=max(notes_width, NOTES_WIDTH))
    for row in rows:
        row[0] = _tail(row[0], file_width)
        cells = [Text(cell) for cell in row]
        table.add_row(*(cells if notes_beside else cells[:-1]))
    console.print(table)
    if not notes_beside:
        for row in rows:
            if row[-1]:
                console.print(Text(f"{row[0]}: {row[-1]}"), soft_wrap=True)
    for f in run.files if errors else []:
        if f.error:
            # Text, not a str: markup=False alone still turned ":smile:" into an emoji.
            # soft_wrap: one line however long (a path), as the errors are.
            console.print(Text(f"reconwatch: warning: {clean(f.error, 500)}"), soft_wrap=True)


def _note(f: FileStats) -> str:
    """An input's accounting note: why it was not read (whole), where reading
    began, what its counts leave unsaid, its top reject reasons."""
    reasons = sorted(f.reject_reasons.items(), key=lambda kv: -kv[1])[:2]
    note = "; ".join(f"{r} ({n})" for r, n in reasons)
    if f.error:
        # The error itself (long, with the file name) is a warning under the table.
        # Nothing read (a skipped FIFO, a repeated path, an unreadable file)
        # or stopped part way (a truncated archive): the note says which.
        what = "not read" if f.lines == 0 else "not read to the end"
        note = f"{what} (see the warning)" + (f"; {note}" if note else "")
    else:
        said = input_notes(
            first_line=f.first_line, lines=f.lines, note=f.note, repeated=f.repeated,
            repeats_cut=f.repeats_cut, forwarded=f.forwarded, forwarded_unread=f.forwarded_unread,
        )  # fmt: skip
        note = "; ".join([*said, note] if note else said)
    return clean(note, 80)


def _scope(case: Case) -> str:
    """What the actor touched, in the terms of the logs its detections read.

    A web scanner's case says how many paths it asked for, even when the
    firewall also logged its connections; a case with findings in several
    logs names each (``16 hosts x 1 port; 40 DNS names``).
    """
    act = case.activity
    measures = {
        "network": (
            act.events,
            f"{plural(act.target_count, 'host')} x {plural(act.port_count, 'port')}",
        ),
        "dns": (act.dns_queries, plural(act.dns_names, "DNS name")),
        "http": (act.http_requests, plural(act.http_paths, "web path")),
    }
    found = {f.source_table for f in case.findings}
    parts = [text for table, (seen, text) in measures.items() if table in found and seen]
    if not parts:  # findings in other logs (IDS alerts, auth): what was logged at all
        parts = [text for seen, text in measures.values() if seen][:1]
    return "; ".join(parts) or plural(sum(f.event_count for f in case.findings), "event")


def _sources(case: Case) -> str:
    """The case's first source and how many more, or a rotating scanner's /64.

    Listing a 6-source campaign in full squeezed the column to nothing on a
    120-column terminal: every case lost its source.
    """
    return case.named(1, compact=True)


def _tail(text: str, width: int) -> str:
    """The end of a path is what tells files apart: ``text`` cut to ``width``
    terminal cells from the left (a CJK character takes two)."""
    if cell_len(text) <= width:
        return text
    kept: list[str] = []
    used = 1  # the "…"
    for char in reversed(text):
        used += cell_len(char)
        if used > width:
            break
        kept.append(char)
    return "…" + "".join(reversed(kept))


#: The case table's widths: the longest severity ("T2 critical"), a time
#: ("09-30 10:12"), the narrowest a source, a detection's name or a scope may
#: get, the widest a detection's name is shown (``COLUMN_FRAME``: each column's
#: frame).
SEVERITY_WIDTH: Final = len("T2 critical")
TIME_WIDTH: Final = len("09-30 10:12")
SOURCE_WIDTH: Final = 20
NARROWEST: Final = 10
DETECTION_WIDTH: Final = 24


def print_cases(console: Console, cases: list[Case]) -> None:
    if not cases:
        console.print("No reconnaissance found.")
        return
    escalated = sum(c.escalate for c in cases)
    table = Table(title=f"{len(cases)} case(s), {escalated} escalated (times in UTC)")
    # What must always show, whatever the width (piped output is laid out at
    # 120 columns): the case id whole (the handle every later command
    # takes), the source (at least 20 characters: a campaign lists its first
    # source, "+N more"), the severity with T2 first, and when. The
    # detections and the scope come next while they fit at 10 characters;
    # a long name or source (an IPv6 /64 and its count) is cut with "…",
    # the scope wraps.
    ids = max(len(c.id) for c in cases)
    names = min(
        DETECTION_WIDTH,
        max((len(d) for c in cases for d in c.detections), default=len("detections")),
    )
    # Past the four columns that always show: what the others may take.
    room = console.width - 1 - 4 * COLUMN_FRAME - ids - SOURCE_WIDTH - SEVERITY_WIDTH - TIME_WIDTH
    show_detections = room >= COLUMN_FRAME + NARROWEST
    names = min(names, room - COLUMN_FRAME)
    room -= COLUMN_FRAME + names if show_detections else 0
    show_scope = room >= COLUMN_FRAME + NARROWEST
    room -= COLUMN_FRAME + NARROWEST if show_scope else 0
    table.add_column("case", no_wrap=True, min_width=ids)
    table.add_column(
        "source", no_wrap=True, min_width=SOURCE_WIDTH, max_width=SOURCE_WIDTH + max(room, 0)
    )
    table.add_column("severity", no_wrap=True, min_width=SEVERITY_WIDTH)
    if show_detections:
        table.add_column("detections", no_wrap=True, min_width=NARROWEST, max_width=names)
    if show_scope:
        table.add_column("scope", justify="right", min_width=NARROWEST)
    table.add_column("first seen", no_wrap=True, min_width=TIME_WIDTH)
    for c in cases:
        # Escalated to Tier 2: first in the severity cell, so no narrow
        # terminal can cut it away (a column of its own was squeezed to "…").
        level = Text("T2 ", style="bold") if c.escalate else Text()
        level.append(c.severity, style=SEVERITY_STYLE[c.severity])
        cells: list[str | Text] = [Text(c.id), Text(clean(_sources(c), 60)), level]
        if show_detections:
            cells.append("\n".join(c.detections))
        if show_scope:
            cells.append(_scope(c).replace("; ", "\n"))  # one line per log, as the detections
        cells.append(f"{c.first_seen:%m-%d %H:%M}")
        table.add_row(*cells)
    console.print(table)
