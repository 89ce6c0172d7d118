"""The rolling window: the recent events of every table, as Arrow, with eviction.

Detections look back at most their longest window (slow_scan's day by
default), so that is all that is kept. Time is the events' own time: the
*watermark* is the newest event stamp seen, capped a few minutes past the
clock so that one line with a forged future stamp cannot evict everything.
Rows older than ``watermark - seconds`` are evicted every cycle; past
``max_rows`` (all tables together) the oldest parts go first whatever their
age, so memory is bounded at any event rate.

Each cycle appends one small part per table; parts are merged now and then
(``COMPACT_PARTS``) so DuckDB scans a few large chunks, not thousands.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Final

import pyarrow as pa
import pyarrow.compute as pc

from reconwatch import schema

#: The event tables (``rejects`` stay out of the window).
EVENT_TABLES: Final = tuple(name for name in schema.TABLES if name != "rejects")
#: Parts per table before they are merged into one.
COMPACT_PARTS: Final = 32
#: How far past the clock an event stamp may move the watermark.
FUTURE_SKEW: Final = dt.timedelta(minutes=5)


@dataclass
class _Part:
    rows: pa.Table
    first: dt.datetime
    last: dt.datetime


def _bounds(rows: pa.Table) -> tuple[dt.datetime, dt.datetime]:
    stats = pc.min_max(rows.column("timestamp"))
    return stats["min"].as_py(), stats["max"].as_py()


class RollingWindow:
    def __init__(self, seconds: int, max_rows: int) -> None:
        self.span = dt.timedelta(seconds=seconds)
        self.max_rows = max_rows
        self.parts: dict[str, list[_Part]] = {name: [] for name in EVENT_TABLES}
        self.watermark: dt.datetime | None = None
        self.evicted = 0
        #: Per table, a bound on the stamps of the rows evicted so far (every
        #: evicted row is at or before it): windows of events from before it
        #: are no longer whole. Absent while nothing of the table was evicted.
        self.evicted_until: dict[str, dt.datetime] = {}

    @property
    def rows(self) -> int:
        return sum(p.rows.num_rows for parts in self.parts.values() for p in parts)

    def append(self, table: str, rows: pa.Table, now: dt.datetime | None = None) -> None:
        """Add rows conformed to ``schema.TABLES[table]``."""
        if rows.num_rows == 0:
            return
        first, last = _bounds(rows)
        ceiling = (now or dt.datetime.now(dt.UTC)) + FUTURE_SKEW
        newest = min(last, ceiling)
        if self.watermark is None or newest > self.watermark:
            self.watermark = newest
        parts = self.parts[table]
        parts.append(_Part(rows, first, last))
        if len(parts) > COMPACT_PARTS:
            merged = pa.concat_tables([p.rows for p in parts]).combine_chunks()
            parts[:] = [_Part(merged, min(p.first for p in parts), max(p.last for p in parts))]

    def evict(self) -> int:
        """Drop rows older than the window, then the oldest past ``max_rows``."""
        evicted = 0
        if self.watermark is not None:
            cutoff = self.watermark - self.span
            for name, parts in self.parts.items():
                kept = []
                for part in parts:
                    if part.last < cutoff:
                        evicted += part.rows.num_rows
                        self.cut(name, part.last)
                        continue
                    if part.first < cutoff:
                        mask = pc.greater_equal(part.rows.column("timestamp"), pa.scalar(cutoff))
                        rows = part.rows.filter(mask)
                        evicted += part.rows.num_rows - rows.num_rows
                        self.cut(name, cutoff)
                        if rows.num_rows == 0:
                            continue
                        part = _Part(rows, *_bounds(rows))
                    kept.append(part)
                parts[:] = kept
        excess = self.rows - self.max_rows
        while excess > 0:
            # The part whose newest row is the oldest goes first (or its head).
            name, index = min(
                ((n, i) for n, ps in self.parts.items() for i in range(len(ps))),
                key=lambda item: self.parts[item[0]][item[1]].last,
            )
            part = self.parts[name][index]
            if part.rows.num_rows <= excess:
                del self.parts[name][index]
                excess -= part.rows.num_rows
                evicted += part.rows.num_rows
                self.cut(name, part.last)
            else:
                ordered = part.rows.take(pc.sort_indices(part.rows.column("timestamp")))
                rows = ordered.slice(excess)
                self.parts[name][index] = _Part(rows, *_bounds(rows))
                self.cut(name, ordered.column("timestamp")[excess - 1].as_py())
                evicted += excess
                excess = 0
        self.evicted += evicted
        return evicted

    def cut(self, table: str, until: dt.datetime) -> None:
        """Note that rows of ``table`` up to ``until`` may be gone (evicted, or
        before a saved window was written)."""
        known = self.evicted_until.get(table)
        if known is None or until > known:
            self.evicted_until[table] = until

    def table(self, name: str) -> pa.Table:
        parts = self.parts[name]
        if not parts:
            return schema.empty(schema.TABLES[name])
        if len(parts) == 1:
            return parts[0].rows
        return pa.concat_tables([p.rows for p in parts])
