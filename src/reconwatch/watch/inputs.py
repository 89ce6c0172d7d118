"""Each input's own parser, kept across micro-batches (syslog years, Zeek headers), and parsing."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Collection

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from reconwatch.config import Config
from reconwatch.ingest import registry
from reconwatch.ingest.base import ParseContext, Parser
from reconwatch.ingest.run import (
    account_batch,
    event_tables,
    new_part,
    parse_batch,
    parser_notes,
)
from reconwatch.ingest.sources import head_lines
from reconwatch.ingest.syslogmux import OtherPrograms, SyslogMuxParser
from reconwatch.lake import FileStats, LineTally, add_counts

log = logging.getLogger(__name__)


class Input:
    """One input (a followed file or a syslog stream) and its parser."""

    def __init__(self, name: str, fixed: type[Parser] | None) -> None:
        self.name = name
        self.fixed = fixed
        self.parser: Parser | None = None
        #: Lines of other syslog programs ``parser`` rejected, to their parsers.
        self.others: OtherPrograms | None = None
        self.stats = FileStats(name=name)
        #: The parsers' notes on this input already told (``Parser.file_notes``).
        self.told: set[str] = set()


class Inputs:
    """The inputs by name; parses their lines, counting each into the input and ``totals``."""

    def __init__(
        self,
        config: Config,
        fixed: type[Parser] | None,
        con: duckdb.DuckDBPyConnection,
        totals: LineTally,
    ) -> None:
        self.config = config
        #: The parser of ``--format`` (None: sniffed per file).
        self.fixed = fixed
        #: Where parsers register and query their Arrow tables (ParseContext.con).
        self.con = con
        self.totals = totals
        self._inputs: dict[str, Input] = {}

    def __len__(self) -> int:
        return len(self._inputs)

    def get(self, name: str, syslog: bool = False) -> Input:
        state = self._inputs.get(name)
        if state is None:
            fixed = self.fixed or (SyslogMuxParser if syslog else None)
            state = self._inputs[name] = Input(name, fixed)
        return state

    def retain(self, names: Collection[str]) -> None:
        """Forget the inputs not in ``names``, and their parsers."""
        for name in [n for n in self._inputs if n not in names]:
            del self._inputs[name]

    def parse(
        self,
        name: str,
        lines: pa.Table,
        fresh: bool,
        batches: dict[str, list[pa.Table]],
        head: pa.Table | None = None,
    ) -> FileStats:
        """Parse one input's ``lines``, appending the rows to ``batches`` by table.

        Every line is counted (parsed, rejected with a reason, or skipped) into
        the input's stats and the totals; returns this batch's counts. ``head``
        (``tail.Chunk.head``: the file's first lines, when ``lines`` come from
        its middle) is what a new parser sniffs and reads its header from, as
        ``ingest`` reads a file on from its middle; its own lines are neither
        counted nor kept.
        """
        state = self.get(name)
        if fresh and state.fixed is None:
            state.parser, state.others = (
                None,
                None,
            )  # a new file (or a rotated one) is sniffed again
            state.told.clear()
        preamble = None
        if state.parser is None:
            sample = lines if head is None else pa.concat_tables([head, lines])
            parser_cls = state.fixed or registry.sniff(
                head_lines(_sample(sample), 1 << 30, limit=20)
            )
            if parser_cls is not None:
                now = dt.datetime.now(dt.UTC)
                context = ParseContext(self.config.for_input(name), self.con, name, now)
                state.parser = parser_cls(context)
                state.others = OtherPrograms.of(state.parser)
                state.stats.format = parser_cls.name
                if head is not None and head.num_rows and not parser_cls.reads_lines_alone:
                    preamble = head
        stats = FileStats(name=name)
        if preamble is None:
            parsed = parse_batch(state.parser, lines, stats, state.others)
        else:
            # The header read again only for what it sets up (``ingest``'s
            # ``keep_from``): what it gives is dropped, the new lines counted.
            first = lines.column("log_line")[0].as_py()
            whole = pa.concat_tables([preamble, lines])
            parsed = parse_batch(state.parser, whole, stats, state.others)
            parsed, _ = new_part(parsed, whole, first)
        account_batch(parsed, lines, stats)
        self._tell_notes(state, stats)
        if stats.error:
            log.warning("%s", stats.error)
        for table, rows in event_tables(parsed, state.parser, name, stats):
            if table in batches:
                batches[table].append(_valid(rows))
        for target in (state.stats, self.totals):
            add_counts(target, stats)
        return stats

    def _tell_notes(self, state: Input, stats: FileStats) -> None:
        """Keep the input's parser notes (``FileStats.note``, as ``hunt`` shows them)
        and warn once per note: a Cisco ASA file whose teardowns meet no Built line
        gives no allowed connection, which its counts alone do not say."""
        notes = parser_notes(state.parser, state.others)
        state.stats.note = stats.note = "; ".join(notes) or None
        for note in notes:
            if note not in state.told:
                state.told.add(note)
                log.warning("%s: %s", state.name, note)

    def notes(self) -> dict[str, str]:
        """Each input's current note, by name (for the watch's summary)."""
        return {name: s.stats.note for name, s in self._inputs.items() if s.stats.note}


def _sample(lines: pa.Table) -> bytes:
    head = lines.column("line").slice(0, 50).to_pylist()
    return "\n".join(str(v) for v in head).encode("utf-8", errors="replace")


def _valid(rows: pa.Table) -> pa.Table:
    """Rows with a timestamp and a source, the ones the watch window can use.

    Detections key on the source and the window evicts by time, so a row missing
    either cannot count towards anything there. Some rows lack a source by design
    (Windows 4634/4776 auth events), and log text is untrusted; the rows dropped
    here were already counted as parsed.
    """
    ok = pc.and_(pc.is_valid(rows.column("timestamp")), pc.is_valid(rows.column("source_ip")))
    if pc.all(ok).as_py():
        return rows
    return rows.filter(ok)
