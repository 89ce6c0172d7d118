"""Small builders shared by the web, auth, honeypot and mapping parser tests."""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Any

import duckdb
import pyarrow as pa
from hypothesis import strategies as st

from reconwatch import schema
from reconwatch.config import Config
from reconwatch.ingest.base import ParseContext, Parsed, Parser

UTC = dt.UTC
NOW = dt.datetime(2026, 10, 5, 12, 0, tzinfo=UTC)


def utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0, us: int = 0
) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, second, us, tzinfo=UTC)


def make(parser: type[Parser], config: Config | None = None, threads: int | None = None) -> Parser:
    con = duckdb.connect()
    if threads is not None:
        con.execute(f"SET threads = {threads}")
    return parser(ParseContext(config or Config(), con, "test.log", NOW))


def batch(lines: list[str], first: int = 1) -> pa.Table:
    return pa.table(
        {
            "log_line": pa.array(range(first, first + len(lines)), pa.int64()),
            "line": pa.array(lines, pa.string()),
        }
    )


def parse(parser: Parser, lines: list[str], first: int = 1) -> Parsed:
    """Parse one batch as ingest does (the parser, then the framework's time
    range check) and check the accounting promise on it."""
    from reconwatch.ingest.run import reject_impossible_times

    lines_table = batch(lines, first)
    parsed = reject_impossible_times(parser.parse(lines_table), lines_table)
    assert parsed.row_count + parsed.rejects.num_rows + parsed.skipped == len(lines)
    return parsed


def rows(data: pa.Table, table: str) -> list[dict[str, Any]]:
    """Rows as the framework stores them (conformed to ``table``'s schema, UTC stamps),
    without ``log_file`` and, unless the parser set it, ``event_dataset``."""
    data = data.append_column("log_file", pa.repeat(pa.scalar("test.log"), data.num_rows))
    own_dataset = "event_dataset" in data.column_names
    if not own_dataset:
        data = data.append_column("event_dataset", pa.repeat(pa.scalar("x"), data.num_rows))
    out: list[dict[str, Any]] = schema.conform(data, schema.TABLES[table]).to_pylist()
    for row in out:
        del row["log_file"]
        if not own_dataset:
            del row["event_dataset"]
    return out


def rejects(parsed: Parsed) -> list[tuple[int, str]]:
    return [(r["log_line"], r["reason"]) for r in parsed.rejects.to_pylist()]


def check_two_batches(parser: Parser, lines: list[str], cut: int) -> None:
    """Parse ``lines`` as two batches cut at ``cut`` (a parser carries state from
    one to the next) and check that each line lands once, in its own batch, and
    that every row, in any table, has a time and a source address."""
    cut = min(cut, len(lines))
    for start, end in itertools.pairwise(sorted({0, cut, len(lines)})):
        parsed = parse(parser, lines[start:end], first=start + 1)
        tables = [parsed.rows, *parsed.other_tables.values()]
        seen = [n for t in tables for n in t.column("log_line").to_pylist()]
        seen += parsed.rejects.column("log_line").to_pylist()
        assert len(seen) == len(set(seen))
        assert set(seen) <= set(range(start + 1, end + 1))
        for table in tables:
            if table.num_rows:
                assert table.column("timestamp").null_count == 0
                assert table.column("source_ip").null_count == 0


#: An ``http`` row's columns that a parser may leave null (``http(**values)`` fills them).
HTTP_NULLS: dict[str, Any] = {
    "source_port": None,
    "destination_ip": None,
    "destination_port": None,
    "url_domain": None,
    "url_query": None,
    "http_request_referrer": None,
    "user_agent_original": None,
    "user_name": None,
    "observer_name": None,
    "http_request_method": None,
    "http_version": None,
    "url_path": None,
    "http_response_status_code": None,
    "http_response_bytes": None,
}


def http(**values: object) -> dict[str, object]:
    return {**HTTP_NULLS, **values}


def mutated_lines(seeds: list[str], inserts: str, max_size: int) -> st.SearchStrategy[list[str]]:
    """Batches of up to ``max_size`` lines: ``seeds`` as they are, seeds with up to
    four edits (a character deleted, one of ``inserts`` inserted, the rest cut
    off or doubled), and any text: for the "every line accounted" properties."""

    @st.composite
    def mutated(draw: st.DrawFn) -> str:
        line = draw(st.sampled_from(seeds))
        for _ in range(draw(st.integers(1, 4))):
            if not line:
                break
            at = draw(st.integers(0, len(line) - 1))
            kind = draw(st.sampled_from(["delete", "insert", "cut", "dup"]))
            if kind == "delete":
                line = line[:at] + line[at + 1 :]
            elif kind == "insert":
                line = line[:at] + draw(st.sampled_from(list(inserts))) + line[at:]
            elif kind == "cut":
                line = line[:at]
            else:
                line = line[:at] + line[at:] + line[at:]
        return line

    return st.lists(
        st.one_of(mutated(), st.text(max_size=200), st.sampled_from(seeds)),
        min_size=1,
        max_size=max_size,
    )
