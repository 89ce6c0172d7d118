"""Every report tells the same story of each input: its notes, where reading began, its rejects."""

from __future__ import annotations

from html.parser import HTMLParser

from rich.console import Console

from reconwatch.lake import FileStats, RunStats
from reconwatch.report.casejson import cases_document
from reconwatch.report.console import print_ingest
from reconwatch.report.html import render_html
from reconwatch.report.markdown import render_report

ALREADY = "already in the lake (run r0, 1,000 lines): not read again"
#: A parser's note can quote a log (an X-Forwarded-For value here).
NOTE = "X-Forwarded-For could not be read: <b>[bold]spoof[/bold]</b> on"


def _run() -> RunStats:
    return RunStats("r1", "2026-09-30T10:00:00Z", [
        FileStats("/logs/old.log", None, note=ALREADY),
        FileStats("/logs/grown.log", "clf", 20, 20, first_line=1001),
        FileStats("/logs/cut.log.gz", "clf", 10, 5, 5, error="cut.log.gz: read failed after "
                  "line 10: CRC check failed", reject_reasons={"bad request line": 5}, note=NOTE),
    ])  # fmt: skip


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.rows: list[list[str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "tr":
            self.rows.append([])
        elif tag == "td" and self.rows:
            self.rows[-1].append("")

    def handle_data(self, data: str) -> None:
        if self.rows and self.rows[-1]:
            self.rows[-1][-1] += data


def _html_rows() -> dict[str, list[str]]:
    page = render_html(cases_document([], _run()))
    assert "<b>[bold]" not in page  # the note is text, not markup
    parser = _Text()
    parser.feed(page)
    return {row[0].strip(): [cell.strip() for cell in row] for row in parser.rows if row}


def _markdown_rows() -> dict[str, list[str]]:
    report = render_report([], _run(), 0, 0)
    rows = [line for line in report.splitlines() if line.startswith("| /logs/")]
    return {row.split(" | ")[0][2:]: row.split(" | ") for row in rows}


def test_an_input_not_read_again_is_not_called_unrecognised() -> None:
    html, markdown = _html_rows()["/logs/old.log"], _markdown_rows()["/logs/old.log"]
    assert html[1] == "-" and markdown[1] == "-"
    assert ALREADY in html[6]
    assert ALREADY in markdown[6]


def test_an_input_read_on_says_from_which_line() -> None:
    assert "read on from line 1,001" in _html_rows()["/logs/grown.log"][6]
    assert "read on from line 1,001" in _markdown_rows()["/logs/grown.log"][6]


def test_an_input_cut_short_keeps_its_notes_and_reject_reasons() -> None:
    html, markdown = _html_rows()["/logs/cut.log.gz"], _markdown_rows()["/logs/cut.log.gz"]
    assert "CRC check failed; " in html[6] and "bad request line: 5" in html[6]
    assert "could not be read: <b>[bold]spoof[/bold]</b>" in html[6]
    # report.md dropped the reject reasons of an input with an error.
    assert "CRC check failed" in markdown[6] and "bad request line: 5" in markdown[6]
    assert r"could not be read: &lt;b&gt;\[bold\]spoof\[/bold\]&lt;/b&gt;" in markdown[6]


def test_the_console_says_the_same() -> None:
    console = Console(width=200, record=True)
    print_ingest(console, _run())
    text = console.export_text()
    old = next(line for line in text.splitlines() if "old.log" in line)
    assert " - " in old and "unrecognised" not in old and "already in the lake" in old
    assert "read on from line 1,001" in text
