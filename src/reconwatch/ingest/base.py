"""What every parser is and returns.

A parser turns one batch of raw lines (an Arrow table ``log_line``, ``line``)
into rows of a normalised table plus rejects, inside DuckDB or Arrow compute
(never a Python loop per line). One parser instance reads one file, so it may
keep state across that file's batches (Zeek's ``#fields`` header, the syslog
year across a Dec -> Jan rollover).

Accounting is the framework's promise: for every batch,
``row_count + len(rejects) + skipped == len(lines)``, checked in ``ingest.run``.
``skipped`` is for lines that carry no event by design (blank lines, Zeek
``#`` header lines); anything else that does not parse is a reject with a reason.
"""

from __future__ import annotations

import datetime as dt
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import ClassVar, Final, NamedTuple

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from reconwatch.config import Config


@dataclass(frozen=True)
class ParseContext:
    """What a parser may read besides its lines."""

    config: Config
    #: A DuckDB connection private to this ingest run (parsers register Arrow
    #: tables on it and query them; unregister what you register).
    con: duckdb.DuckDBPyConnection
    #: Display name of the input (path as given, or "-" for stdin).
    log_file: str
    #: Reference "now" for year inference of year-less syslog stamps (UTC).
    now: dt.datetime
    #: What the parser of an earlier run learnt about this input
    #: (``Parser.learnt``), when this run reads it on from where that one
    #: stopped (``ingest.run.after_earlier_runs``); empty otherwise.
    carried: Mapping[str, str] = field(default_factory=dict)


#: Optional column of a parser's rows: how many events the row's line stands
#: for (rsyslog's "message repeated N times: [ ... ]"; null is one). The
#: framework accounts the line once and writes the row that many times
#: (``repeated_rows``). The count is log text (a forged syslog line can say
#: anything), so it is capped: at ``MAX_REPEAT`` per line (sshd, the parser
#: that reads such lines, repeats a message within one connection, at most
#: MaxAuthTries times) and ``MAX_BATCH_REPEAT`` extra rows per batch, which
#: keeps a batch's memory bounded; what the caps leave out is counted
#: (``Repeats.cut``), never written.
REPEAT: Final = "event_repeat"
MAX_REPEAT: Final = 1_000
MAX_BATCH_REPEAT: Final = 1_000_000


#: Optional column of a web parser's rows: the X-Forwarded-For header as
#: logged (``"203.0.113.9, 10.0.0.2"``; null or '-' when absent). Behind the
#: site's own proxies (``ingest.trusted_proxies``) the framework reads the
#: client from it, then drops the column (``ingest.forwarded.forwarded_rows``).
FORWARDED: Final = "forwarded_for"


class Repeats(NamedTuple):
    """A batch's repeated events: ``counts`` per row (None: one each), the
    events written beyond one per row (``extra``) and those the caps cut."""

    counts: np.ndarray | None
    extra: int
    cut: int


def repeat_counts(rows: pa.Table) -> Repeats:
    """How many times to write each row (``REPEAT``, capped, see there)."""
    if REPEAT not in rows.column_names or rows.num_rows == 0:
        return Repeats(None, 0, 0)
    asked = pc.fill_null(rows.column(REPEAT), 1).combine_chunks().cast(pa.int64()).to_numpy()
    asked = np.maximum(asked, 1)
    per_line = np.minimum(asked, MAX_REPEAT) - 1
    # The batch's budget goes to the rows in line order.
    before = np.cumsum(per_line) - per_line
    extra = np.clip(MAX_BATCH_REPEAT - before, 0, per_line)
    return Repeats(extra + 1, int(extra.sum()), int((asked - 1).sum() - extra.sum()))


def repeated_rows(rows: pa.Table) -> pa.Table:
    """``rows`` with each row written as many times as ``repeat_counts`` says,
    without the ``REPEAT`` column."""
    repeats = repeat_counts(rows)
    rows = rows.drop_columns([c for c in (REPEAT,) if c in rows.column_names])
    if repeats.counts is None or repeats.extra == 0:
        return rows
    return rows.take(pa.array(np.repeat(np.arange(rows.num_rows), repeats.counts)))


@dataclass(frozen=True)
class Parsed:
    """One batch's result.

    ``rows`` holds at least ``log_line`` and the columns of the parser's table
    (see ``reconwatch.schema``); the framework conforms it to the schema and
    fills ``log_file``. ``rejects`` holds ``log_line``, ``reason``, ``raw``.
    """

    rows: pa.Table
    rejects: pa.Table
    skipped: int = 0
    #: Rows for other tables than the parser's own, by table name: a source
    #: such as Suricata's eve.json carries flows, DNS, HTTP and alerts in one
    #: file. Each line still lands in exactly one table (or rejects, or skipped).
    other_tables: dict[str, pa.Table] = field(default_factory=dict)

    @property
    def row_count(self) -> int:
        count: int = self.rows.num_rows
        return count + sum(int(t.num_rows) for t in self.other_tables.values())


class Parser(ABC):
    """Base of every log format parser; subclasses register in ``ingest.registry``."""

    #: The name users give to ``--format``.
    name: ClassVar[str]
    #: The normalised table the rows belong to (a key of ``schema.TABLES``).
    table: ClassVar[str] = "network"
    #: ``event_dataset`` value, e.g. "netfilter", "zeek.conn".
    dataset: ClassVar[str]
    #: Syslog program tags whose lines this parser reads ("kernel", "sshd"...):
    #: the syslog multiplexer routes a mixed file's lines by them.
    programs: ClassVar[tuple[str, ...]] = ()
    #: Program tags claimed by prefix, for devices whose tag is a message id
    #: (Cisco ``%ASA-6-302013``: "%ASA-").
    program_prefixes: ClassVar[tuple[str, ...]] = ()
    #: Its lines are syslog lines of programs it does not name (``web-syslog``:
    #: any tag): other parsers' programs in its file go to them, as for a
    #: parser with ``programs`` (``syslogmux.OtherPrograms``).
    syslog_borne: ClassVar[bool] = False
    #: Every line reads on its own, without lines before it (a header naming
    #: the columns): a file of this format that grew may be read on from the
    #: middle by a later run into the same lake (``ingest.run.after_earlier_runs``).
    reads_lines_alone: ClassVar[bool] = True

    def __init__(self, ctx: ParseContext) -> None:
        self.ctx = ctx
        #: What the parser had to assume about this input (a Windows DNS log
        #: whose date order its lines do not settle): the input's accounting
        #: note (``FileStats.note``), so it is shown and stored with the run.
        self.notes: list[str] = []
        #: What the parser settled about this input from lines a later run,
        #: reading the grown file on from where this one stopped, will not see
        #: (the Windows DNS log's date order): kept in the input's fingerprint
        #: and handed to that run's parser (``ParseContext.carried``).
        self.learnt: dict[str, str] = {}

    def file_notes(self) -> list[str]:
        """Its ``notes`` on the input, with those of the parsers it hands lines to."""
        return list(self.notes)

    def file_learnt(self) -> dict[str, str]:
        """What it learnt (``learnt``), with what the parsers it hands lines to learnt."""
        return dict(self.learnt)

    @classmethod
    @abstractmethod
    def sniff(cls, sample: Sequence[str]) -> bool:
        """True when the first non-blank lines of a file look like this format.

        Must be cheap and must not raise on any text.
        """

    @abstractmethod
    def parse(self, lines: pa.Table) -> Parsed:
        """Parse one batch: ``lines`` has ``log_line`` (int64) and ``line`` (string)."""


def reject_table(log_line: pa.Array, reason: pa.Array | str, raw: pa.Array) -> pa.Table:
    """Build a rejects batch; ``reason`` may be one string for all rows."""
    if isinstance(reason, str):
        reason = pa.repeat(pa.scalar(reason, pa.string()), len(log_line))
    return pa.table({"log_line": log_line, "reason": reason, "raw": raw})


#: Distinct field headers (W3C ``#Fields:``, a VPC flow log's field names) read
#: in one batch: one query each. Writers repeat one header at each rollover or
#: restart (and ``cat`` of many delivered files repeats it once per file); the
#: lines under any more are rejected (``TOO_MANY_LAYOUTS``), so a file of
#: thousands of different headers cannot cost thousands of queries.
MAX_LAYOUTS: Final = 64
TOO_MANY_LAYOUTS: Final = f"more than {MAX_LAYOUTS} different field headers in one batch"


class Layouts(NamedTuple):
    """A batch's field headers: each line's layout number, the layouts."""

    #: Per line, the number of the header in force above it (0: the one in
    #: force when the batch began).
    of_line: pa.Array
    #: Each distinct header (None: none yet), by number in order of appearance.
    numbers: dict[tuple[str, ...] | None, int]
    #: The header in force at the batch's end, for the next batch.
    last: tuple[str, ...] | None


def header_layouts(text: pa.Array, directive: str, previous: tuple[str, ...] | None) -> Layouts:
    """The layouts of a W3C-style batch (``directive``: ``"#Fields:"``)."""
    is_header = pc.fill_null(pc.starts_with(text, directive), False)

    def fields_of(header: str) -> tuple[str, ...]:
        return tuple(header[len(directive) :].split())

    return layouts(text, is_header, fields_of, previous)


def layouts(
    text: pa.Array,
    is_header: pa.Array,
    fields_of: Callable[[str], tuple[str, ...] | None],
    previous: tuple[str, ...] | None,
) -> Layouts:
    """The layouts of a header-driven batch: ``is_header`` marks its header
    lines, ``fields_of`` reads one (None: a header that changes nothing, the
    one before stays in force).

    One Python step per header line (a handful), never per record; a header
    met again (the same one written at every rollover) is one layout.
    """
    group = pc.cumulative_sum(is_header.cast(pa.int64()))
    numbers: dict[tuple[str, ...] | None, int] = {previous: 0}
    per_header = [0]
    last = previous
    for header in pc.filter(text, is_header).to_pylist():
        fields = fields_of(str(header))
        last = last if fields is None else fields
        per_header.append(numbers.setdefault(last, len(numbers)))
    return Layouts(pc.take(pa.array(per_header, pa.int64()), group), numbers, last)


def kept_rows(table: pa.Table, good: pa.Array) -> pa.Table:
    """``table``'s rows where ``good`` is true (never null); ``table`` itself when
    every row is: a filter copies every column, and most batches are clean."""
    if good.null_count == 0 and pc.all(good).as_py():
        return table
    return table.filter(good)


def ascending(values: pa.ChunkedArray | pa.Array) -> bool:
    """True when ``values`` (no nulls) never goes down: a check that saves a sort."""
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    if len(values) < 2:
        return True
    return bool(pc.all(pc.greater_equal(values[1:], values[:-1])).as_py())


def empty_rows() -> pa.Table:
    """The rows of a batch that gave none (only ``log_line``; the framework
    conforms rows to their table)."""
    return pa.table({"log_line": pa.array([], pa.int64())})


EMPTY_REJECTS = pa.table(
    {
        "log_line": pa.array([], pa.int64()),
        "reason": pa.array([], pa.string()),
        "raw": pa.array([], pa.string()),
    }
)
