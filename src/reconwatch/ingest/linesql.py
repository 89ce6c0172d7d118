"""The batch runner shared by the line parsers of the web, firewall, auth, honeypot
and mapping families (``dns_lines`` has its own, see there).

Each of those parsers writes one DuckDB query over a batch and hands it here.
This module runs it the way ``netfilter`` does (slices of the batch side by side,
each on its own cursor, because DuckDB scans one Arrow table on one core), dates
RFC 3164 syslog stamps when the query has a syslog envelope, normalises the
addresses once per distinct value, and splits rows from rejects and skipped
lines with Arrow compute: never a Python loop per line.

The query contract (``{view}`` stands for the batch's registered relation, with
``log_line``, ``_row`` and ``line``; keep ``log_line`` and ``_row`` in the output):

* ``skip`` (BOOLEAN): lines that carry no event by design (blank lines,
  headers, a honeypot's own status messages).
* ``reason`` (VARCHAR): a fixed reject reason, NULL for a good line.
* ``source_raw`` / ``destination_raw`` (VARCHAR): address texts; NULL or ''
  for a destination the source does not give.
* optionally ``source_optional`` (BOOLEAN): true where an absent (NULL or '')
  source address is the event's nature, not a fault: the row keeps a NULL
  ``source_ip`` (only the ``auth`` table allows it). A source that is given
  but invalid is still rejected.
* ``timestamp`` (TIMESTAMP, naive UTC). With an envelope, the ``sl_*`` columns
  stand for it, and ``timestamp`` is optional: where present and not NULL it
  wins over the envelope's stamp.
* every other column goes to the rows as it is.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Final

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from reconwatch.ingest import syslog
from reconwatch.ingest.addresses import normalise_ips
from reconwatch.ingest.base import (
    EMPTY_REJECTS,
    MAX_LAYOUTS,
    TOO_MANY_LAYOUTS,
    Layouts,
    Parsed,
    empty_rows,
    header_layouts,
    kept_rows,
    reject_table,
)
from reconwatch.ingest.slices import run_sliced

INVALID_TIMESTAMP: Final = "invalid timestamp"
INVALID_SOURCE: Final = "invalid source address"
INVALID_DESTINATION: Final = "invalid destination address"


def is_status_sql(text: str) -> str:
    """Whether ``text`` is an HTTP status as the web parsers accept one: three digits."""
    return f"regexp_full_match({text}, '[0-9]{{3}}')"


def status_code_sql(text: str) -> str:
    """An HTTP status (``is_status_sql``) as a SMALLINT, anything else NULL.

    Never a cast that can fail: a status cast to USMALLINT and then to SMALLINT
    stopped the whole batch with a conversion error above 32767.
    """
    return f"CASE WHEN {is_status_sql(text)} THEN CAST({text} AS SMALLINT) END"


def byte_count_sql(value: str) -> str:
    """A byte count as a BIGINT: NULL for anything but a whole number from 0 to
    2**63 - 1 (a ``-1`` some logs write for "none", a number too big for the
    column), never a cast that can fail."""
    return f"TRY_CAST(TRY_CAST({value} AS UBIGINT) AS BIGINT)"


def count_sum_sql(first: str, second: str) -> str:
    """Two counts (bytes or packets of the two directions, each as
    ``byte_count_sql`` reads it) added as a BIGINT: NULL where either is, or
    where the sum passes 2**63 - 1 (added as HUGEINT: a BIGINT sum that
    overflows stops the whole batch with an error)."""
    return (
        f"TRY_CAST(CAST({byte_count_sql(first)} AS HUGEINT) "
        f"+ CAST({byte_count_sql(second)} AS HUGEINT) AS BIGINT)"
    )


def present_sum_sql(first: str, second: str) -> str:
    """Two BIGINT counts (the two directions of one flow) added: the sum of
    those present, NULL only where both are missing or the sum passes
    2**63 - 1 (added as HUGEINT: a BIGINT sum that overflows stops the whole
    batch with an error)."""
    return (
        f"CASE WHEN {first} IS NOT NULL OR {second} IS NOT NULL THEN "
        f"TRY_CAST(CAST(coalesce({first}, 0) AS HUGEINT) + coalesce({second}, 0) AS BIGINT) END"
    )


#: Query columns that steer the split and never reach the rows.
_INTERNAL: Final = frozenset(
    {
        "_row",
        "skip",
        "reason",
        "source_raw",
        "source_optional",
        "destination_raw",
        "timestamp",
        syslog.KIND,
        syslog.HOST,
        syslog.PROGRAM,
        syslog.MESSAGE,
        syslog.TIME,
        syslog.MONTH,
        syslog.DAY,
        syslog.TOD,
    }
)


def lit(text: str) -> str:
    """A SQL literal for a constant pattern of ours (never for log text)."""
    return syslog.sql_literal(text)


def quoted(name: str) -> str:
    """A quoted SQL identifier (for config-given JSON keys turned into column names)."""
    return '"' + name.replace('"', '""') + '"'


def leading(columns: Sequence[str]) -> str:
    """``columns`` as the start of a select list (``a, b, ``; empty for none):
    the columns a query's steps carry before their own."""
    return "".join(f"{column}, " for column in columns)


def numbered(lines: pa.Table) -> pa.Table:
    """``lines`` with ``_row``, its position, so rejects take their raw text from the input.

    Other columns of ``lines`` are kept (the mapping parser passes CSV fields so).
    """
    return lines.append_column("_row", pa.array(range(lines.num_rows), pa.int64()))


#: A header-driven parser's query for the records under one header (None: no
#: header in force yet); None for records it cannot read without one.
HeaderQuery = Callable[[tuple[str, ...] | None], str | None]


def run_by_headers(
    con: duckdb.DuckDBPyConnection,
    lines: pa.Table,
    previous: tuple[str, ...] | None,
    query: HeaderQuery,
    params: dict[str, object],
    no_header: str,
) -> tuple[Parsed, tuple[str, ...] | None]:
    """A batch of a W3C-style log (IIS, Windows Firewall): ``#`` directive
    lines skipped (a byte order mark before one too), each record read by
    ``query`` of the ``#Fields:`` in force above it (``previous`` at the
    batch's start), one query per distinct header (``base.header_layouts``).
    Records ``query`` has no SQL for are rejected with ``no_header``; those
    under more than ``MAX_LAYOUTS`` headers with ``TOO_MANY_LAYOUTS``. Returns
    the batch's result and the header in force at its end."""
    lines = without_bom(lines)
    text = lines.column("line")
    directive = pc.fill_null(pc.starts_with(text, "#"), False)
    layouts = header_layouts(text, "#Fields:", previous)
    return run_by_layouts(con, lines, directive, layouts, query, params, no_header), layouts.last


def without_bom(lines: pa.Table) -> pa.Table:
    """``lines`` with a byte order mark before any line removed: files joined
    with ``cat`` carry each file's mark at its first line, mid-batch, where
    it would hide a header, or shift a headerless record's first field."""
    at = lines.schema.get_field_index("line")
    return lines.set_column(at, "line", pc.utf8_ltrim(lines.column("line"), "\ufeff"))


def run_by_layouts(
    con: duckdb.DuckDBPyConnection,
    lines: pa.Table,
    headers: pa.Array,
    layouts: Layouts,
    query: HeaderQuery,
    params: dict[str, object],
    no_header: str,
) -> Parsed:
    """A header-driven batch: the ``headers`` lines skipped, the records under
    each layout read by one query (``query`` of its fields; None: rejected
    with ``no_header``), those under more than ``MAX_LAYOUTS`` layouts
    rejected with ``TOO_MANY_LAYOUTS``."""
    data = pc.invert(headers)
    skipped = int(pc.sum(headers.cast(pa.int64())).as_py() or 0)
    results = [Parsed(rows=empty_rows(), rejects=EMPTY_REJECTS, skipped=skipped)]
    for fields, number in layouts.numbers.items():
        if number >= MAX_LAYOUTS:
            break  # numbered in order: the rest are rejected below, in one step
        part = lines.filter(pc.and_(data, pc.equal(layouts.of_line, number)))
        if part.num_rows == 0:
            continue
        sql = query(fields)
        results.append(run_batch(con, part, sql, params) if sql else _rejected(part, no_header))
    if len(layouts.numbers) > MAX_LAYOUTS:
        beyond = lines.filter(pc.and_(data, pc.greater_equal(layouts.of_line, MAX_LAYOUTS)))
        results.append(_rejected(beyond, TOO_MANY_LAYOUTS))
    rows = [r.rows for r in results if r.rows.num_rows]
    return Parsed(
        rows=pa.concat_tables(rows, promote_options="default") if rows else empty_rows(),
        rejects=pa.concat_tables([r.rejects for r in results]),
        skipped=sum(r.skipped for r in results),
    )


def _rejected(part: pa.Table, reason: str) -> Parsed:
    """Every line of ``part`` rejected with ``reason``, blank ones skipped."""
    blank = pc.equal(pc.utf8_trim_whitespace(part.column("line")), "")
    kept = part.filter(pc.invert(blank))
    return Parsed(
        rows=empty_rows(),
        rejects=reject_table(kept.column("log_line"), reason, kept.column("line")),
        skipped=part.num_rows - kept.num_rows,
    )


def run_batch(
    con: duckdb.DuckDBPyConnection,
    lines: pa.Table,
    sql: str,
    params: dict[str, object],
    envelope: syslog.SyslogEnvelope | None = None,
) -> Parsed:
    """Run a parser's batch ``sql`` (see the module doc) and split the result."""
    if lines.num_rows == 0:
        return Parsed(rows=empty_rows(), rejects=EMPTY_REJECTS)
    if envelope is not None:
        params = {**params, **envelope.params()}
    results = run_sliced(con, sql, params, numbered(lines), "{view}")
    if envelope is not None:
        # Years need every RFC 3164 stamp of the batch in line order.
        times = envelope.resolve(con, pa.concat_tables(results))
        pieces, start = [], 0
        for result in results:
            piece = times[start : start + result.num_rows]
            if "timestamp" in result.column_names:
                # A stamp of the message's own (more precise, or the only
                # one when a line has no syslog envelope) wins over the envelope's.
                own = result.column("timestamp").combine_chunks().cast(pa.timestamp("us"))
                piece = pc.coalesce(own, piece)
            pieces.append(piece)
            start += result.num_rows
    else:
        pieces = [
            result.column("timestamp").combine_chunks().cast(pa.timestamp("us"))
            for result in results
        ]
    with ThreadPoolExecutor(len(results)) as pool:
        finished = list(pool.map(partial(_finish, lines=lines), results, pieces))
    rows = pa.concat_tables([f[0] for f in finished])
    rejects = pa.concat_tables([f[1] for f in finished])
    skipped = sum(f[2] for f in finished)
    return Parsed(rows=rows, rejects=rejects, skipped=skipped)


def addresses(raw: pa.Array) -> pa.Array:
    """Canonical address text; null where ``raw`` is null, empty or not one address."""
    return normalise_ips(pc.if_else(pc.equal(raw, ""), pa.scalar(None, pa.string()), raw))


def _finish(
    result: pa.Table, timestamps: pa.Array, lines: pa.Table
) -> tuple[pa.Table, pa.Table, int]:
    def column(name: str) -> pa.Array:
        return result.column(name).combine_chunks()

    skip = pc.fill_null(column("skip"), False)
    source_raw = column("source_raw")
    source = addresses(source_raw)
    bad_source = pc.is_null(source)
    if "source_optional" in result.column_names:
        absent = pc.fill_null(pc.equal(source_raw, ""), True)
        optional = pc.and_(pc.fill_null(column("source_optional"), False), absent)
        bad_source = pc.and_(bad_source, pc.invert(optional))
    if "destination_raw" in result.column_names:
        destination_raw = column("destination_raw")
        destination = addresses(destination_raw)
        bad_destination = pc.and_(
            pc.fill_null(pc.not_equal(destination_raw, ""), False), pc.is_null(destination)
        )
    else:
        destination = pa.nulls(result.num_rows, pa.string())
        bad_destination = pa.repeat(pa.scalar(False), result.num_rows)
    null_text = pa.scalar(None, pa.string())
    reason = pc.coalesce(
        column("reason"),
        pc.if_else(pc.is_null(timestamps), pa.scalar(INVALID_TIMESTAMP), null_text),
        pc.if_else(bad_source, pa.scalar(INVALID_SOURCE), null_text),
        pc.if_else(bad_destination, pa.scalar(INVALID_DESTINATION), null_text),
    )
    reason = pc.if_else(skip, null_text, reason)
    good = pc.and_(pc.invert(skip), pc.is_null(reason))
    keep = [c for c in result.column_names if c not in _INTERNAL]
    rows = (
        result.select(keep)
        .append_column("timestamp", timestamps)
        .append_column("source_ip", source)
        .append_column("destination_ip", destination)
    )
    rows = kept_rows(rows, good)
    bad = pc.is_valid(reason)
    rejected = pc.filter(column("_row"), bad)
    if len(rejected) == 0:
        rejects = EMPTY_REJECTS
    else:
        rejects = reject_table(
            pc.take(lines.column("log_line"), rejected),
            pc.filter(reason, bad),
            pc.take(lines.column("line"), rejected),
        )
    skipped = int(pc.sum(skip.cast(pa.int64())).as_py() or 0)
    return rows, rejects, skipped


def json_path(key: str) -> str:
    """A JSONPath for ``key``; dots separate levels (``logdata.USERNAME``), each level quoted."""
    parts = (part.replace("\\", "\\\\").replace('"', '\\"') for part in key.split("."))
    return "$." + ".".join(f'"{part}"' for part in parts)


def json_values_sql(column: str, parameter: str) -> str:
    """SQL for the list of string values at the paths bound as ``$parameter``.

    One parse per line for all the paths; NULL for a line that is not a JSON
    object (tested first, so a broken line is a NULL, never a query error).
    Values are text: numbers as their JSON text, objects as JSON.
    """
    return (
        f"CASE WHEN json_valid({column}) AND starts_with(ltrim({column}), '{{') "
        f"THEN json_extract_string({column}, ${parameter}) END"
    )


def sniff_json_objects(sample: Sequence[str], test: Callable[[dict[str, object]], bool]) -> bool:
    """True when at least half of ``sample`` (and one line) is a JSON object passing ``test``."""
    hits = 0
    for line in sample:
        text = line.strip()
        if not text.startswith("{") or len(text) > 1_000_000:
            continue
        try:
            value = json.loads(text)
        except ValueError:
            continue
        if isinstance(value, dict) and test(value):
            hits += 1
    return hits > 0 and hits * 2 >= len(sample)
