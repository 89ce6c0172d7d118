"""Shared bits of the firewall parser tests (no tests here; a test_ name keeps the
file within the firewall tests' own files)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ingest_helpers import make, parse, rows
from reconwatch.ingest.base import Parsed, Parser

FIXTURES = Path(__file__).parent / "fixtures" / "firewalls"


def brief(table_rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows without their null columns: an expected dict then names every non-null value."""
    return [{k: v for k, v in row.items() if v is not None} for row in table_rows]


def fixture_lines(name: str) -> list[str]:
    return (FIXTURES / name).read_text().splitlines()


def parse_fixture(parser: type[Parser], name: str) -> Parsed:
    return parse(make(parser), fixture_lines(name))


def network(parsed: Parsed) -> list[dict[str, Any]]:
    return brief(rows(parsed.rows, "network"))


def alerts(parsed: Parsed) -> list[dict[str, Any]]:
    if "alert" not in parsed.other_tables:
        return []
    return brief(rows(parsed.other_tables["alert"], "alert"))
