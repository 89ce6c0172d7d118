"""Running one parser query over a batch on every core.

DuckDB parallelises an Arrow scan by row groups of 122,880 rows, so a batch of
the framework's size would run on one core. Parsers therefore cut the batch
into zero-copy slices and run the same query on each, side by side, one cursor
per slice (a connection object is not safe to share across threads; DuckDB and
Arrow release the GIL). Every line-oriented parser uses this one mechanism.
"""

from __future__ import annotations

import uuid
import weakref
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Final

import duckdb
import pyarrow as pa

#: Fewer lines than this per slice and a thread costs more than it saves.
MIN_SLICE_ROWS: Final = 16_384


#: ``threads``'s answer per connection: asked once, as the setting does not
#: change while a connection parses (the query took 4 ms a batch on a busy
#: machine, on the parse's main thread).
_THREADS: weakref.WeakKeyDictionary[duckdb.DuckDBPyConnection, int] = weakref.WeakKeyDictionary()


def threads(con: duckdb.DuckDBPyConnection) -> int:
    """DuckDB's thread setting: how many slices a batch is worth."""
    known = _THREADS.get(con)
    if known is None:
        rows = con.sql("SELECT current_setting('threads')").fetchall()
        known = _THREADS[con] = max(1, int(rows[0][0]))
    return known


def split(table: pa.Table, slices: int) -> list[pa.Table]:
    """``table`` cut into at most ``slices`` zero-copy slices of at least MIN_SLICE_ROWS."""
    if table.num_rows == 0:
        return [table]
    count = max(1, min(slices, table.num_rows // MIN_SLICE_ROWS))
    size = -(-table.num_rows // count)
    return [table.slice(start, size) for start in range(0, table.num_rows, size)]


def run_on(
    sql: str,
    params: dict[str, object],
    placeholder: str,
    prepare: Callable[[pa.Table], pa.Table] | None,
    cursor: duckdb.DuckDBPyConnection,
    lines: pa.Table,
) -> pa.Table:
    """Run ``sql`` over ``lines`` (first through ``prepare``, if given), registered
    under a fresh name put for ``placeholder``."""
    if prepare is not None:
        lines = prepare(lines)
    view = f"batch_lines_{uuid.uuid4().hex}"
    cursor.register(view, lines)
    try:
        return cursor.sql(sql.replace(placeholder, view), params=params).to_arrow_table()
    finally:
        cursor.unregister(view)


def run_sliced(
    con: duckdb.DuckDBPyConnection,
    sql: str,
    params: dict[str, object],
    lines: pa.Table,
    placeholder: str,
    prepare: Callable[[pa.Table], pa.Table] | None = None,
) -> list[pa.Table]:
    """The query's result for each slice of ``lines``, in slice (= line) order.

    ``prepare``, if given, turns each slice into what the query reads, on the
    slice's own thread (work that releases the GIL runs side by side).
    """
    return map_sliced(con, lines, partial(run_on, sql, params, placeholder, prepare))


def map_sliced(
    con: duckdb.DuckDBPyConnection,
    lines: pa.Table,
    work: Callable[[duckdb.DuckDBPyConnection, pa.Table], pa.Table],
) -> list[pa.Table]:
    """``work(cursor, slice)`` for each slice of ``lines``, side by side, in slice order.

    Each slice gets a cursor of its own; ``work`` should spend its time in
    code that releases the GIL (DuckDB, Arrow, a compiled scanner).
    """
    parts = split(lines, threads(con))
    cursors = [con.cursor() for _ in parts]
    try:
        with ThreadPoolExecutor(len(parts)) as pool:
            return list(pool.map(work, cursors, parts))
    finally:
        for cursor in cursors:
            cursor.close()
