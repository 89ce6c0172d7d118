"""docs/sources.md has one table naming every registered format (issue #3).

The table under "Every format at a glance" must list each name of
``registry.FORMATS`` exactly once, in its first column, with a details link
that resolves to an existing page (and heading, when the link names one).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from conftest import ROOT
from reconwatch.ingest import registry

DOCS = ROOT / "docs"
SOURCES = DOCS / "sources.md"
HEADING = "## Every format at a glance"
COLUMNS = [
    "`--format`", "table", "recognised by (`--format auto`)", "fields kept", "sample line",
    "details",
]  # fmt: skip
_LINK = re.compile(r"\[[^\]]+\]\(([^)#\s]+)(?:#([^)\s]+))?\)")


def _cells(line: str) -> list[str]:
    """A markdown table row's cells (``\\|`` inside a cell is not a separator)."""
    return [c.strip() for c in re.split(r"(?<!\\)\|", line.strip().strip("|"))]


def summary_rows() -> list[list[str]]:
    text = SOURCES.read_text(encoding="utf-8")
    assert HEADING in text, f"{SOURCES} has no '{HEADING}' section"
    section = text.split(HEADING, 1)[1].split("\n## ", 1)[0]
    table = [line for line in section.splitlines() if line.startswith("|")]
    assert len(table) > 2, "the summary section has no table"
    header, rule, *body = table
    assert _cells(header) == COLUMNS
    assert set(rule.replace("|", "").replace(" ", "")) <= {"-", ":"}
    return [_cells(line) for line in body]


def _anchors(path: Path) -> set[str]:
    """GitHub's heading anchors, and explicit ``id``/``name`` anchors."""
    out = set()
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("#"):
            title = line.lstrip("#").strip().lower()
            title = re.sub(r"[^\w\- ]", "", title)
            out.add(title.replace(" ", "-"))
    out.update(re.findall(r"<a (?:id|name)=\"([^\"]+)\"", path.read_text(encoding="utf-8")))
    return out


def test_every_registered_format_has_one_row() -> None:
    names = [row[0] for row in summary_rows()]
    assert all(re.fullmatch(r"`[a-z0-9-]+`", n) for n in names), names
    listed = [n.strip("`") for n in names]
    missing = sorted(set(registry.FORMATS) - set(listed))
    assert not missing, f"formats missing from {SOURCES.name}'s summary table: {missing}"
    unknown = sorted(set(listed) - set(registry.FORMATS))
    assert not unknown, f"rows for formats the registry does not have: {unknown}"
    duplicated = sorted({n for n in listed if listed.count(n) > 1})
    assert not duplicated, f"formats listed twice: {duplicated}"


def test_rows_follow_the_sniffing_order() -> None:
    """The table is read as "what ``--format auto`` tries, in order"."""
    assert [row[0].strip("`") for row in summary_rows()] == [p.name for p in registry.PARSERS]


@pytest.mark.parametrize("row", summary_rows(), ids=lambda row: row[0].strip("`"))
def test_row_is_complete_and_links_to_its_details(row: list[str]) -> None:
    assert len(row) == len(COLUMNS), row
    assert all(cell for cell in row), row
    assert row[4].startswith("`") and row[4].endswith("`"), "sample line in backticks"
    links = _LINK.findall(row[5])
    assert links, f"no details link in {row[5]!r}"
    for target, anchor in links:
        page = (SOURCES.parent / target).resolve()
        assert page.is_file(), f"{row[0]}: {target} does not exist"
        if anchor:
            assert anchor in _anchors(page), f"{row[0]}: no #{anchor} in {target}"
