"""Run ingest: inputs -> parsers -> lake, accounting for every line.

The promise kept here: for each input, ``lines == parsed + rejected + skipped``;
an unreadable input or a parser failure is reported against the input and the
lines it covers, and the run carries on with the next input.

Inputs are independent (one parser instance per file), so a run may read them
in a process pool (``jobs``) or as Spark tasks (``engine="spark"``, see
``ingest/parallel.py``); every path goes through :func:`ingest_source`, so the
lake and the accounting are the same whichever way the files were spread.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import zlib
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Final

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from reconwatch import schema
from reconwatch.config import Config
from reconwatch.ingest import AUTO, mapping, registry
from reconwatch.ingest.base import (
    FORWARDED,
    ParseContext,
    Parsed,
    Parser,
    empty_rows,
    reject_table,
    repeat_counts,
    repeated_rows,
)
from reconwatch.ingest.forwarded import forwarded_rows
from reconwatch.ingest.linesql import INVALID_TIMESTAMP
from reconwatch.ingest.sources import (
    BLOCK_BYTES,
    SNIFF_BYTES,
    HoldBack,
    InputError,
    ReadAhead,
    Source,
    expand,
    head_digests,
    head_lines,
    is_plain,
    read_batches,
    read_head,
)
from reconwatch.ingest.syslog import named_repeat_markers
from reconwatch.ingest.syslogmux import OtherPrograms
from reconwatch.lake import FileStats, Lake, LakeError, RunStats

log = logging.getLogger(__name__)

#: Where the per-file parsers run: this machine (DuckDB, serial or a process pool) or Spark tasks.
INGEST_ENGINES = ("duckdb", "spark")
#: Called after each batch with the input's name and the lines read so far.
Progress = Callable[[str, int], None]


class AccountingError(Exception):
    """A parser returned more or fewer rows than it was given lines (a bug)."""


class UnknownFormatError(ValueError):
    """``--format`` named a format that does not exist."""


@dataclass(frozen=True)
class IngestOptions:
    format: str = AUTO
    now: dt.datetime | None = None
    #: Bytes per batch and bytes read for sniffing (small values in tests put
    #: a file's header and its data in different batches).
    block_bytes: int = BLOCK_BYTES
    sniff_bytes: int = SNIFF_BYTES
    #: Worker processes reading files side by side; None = ``ingest.jobs`` in the config.
    jobs: int | None = None
    #: ``duckdb`` (this machine, serial or a process pool) or ``spark`` (one Spark task per file).
    engine: str = "duckdb"
    #: Spark master for ``engine="spark"``; None = ``engine.spark_master`` in the config.
    spark_master: str | None = None
    #: Leave out a plain file's last line while it has no newline and the file
    #: was just written (``sources.HoldBack``): for runs into a lake that later
    #: runs append to, which read the line whole. A fresh lake reads it as is.
    hold_unfinished_line: bool = False


def format_names() -> list[str]:
    return [AUTO, *registry.FORMATS]


#: One path: text, bytes (as ``os.listdir`` gives them) or ``Path``.
InputPath = str | bytes | os.PathLike[str] | os.PathLike[bytes]
#: What ``ingest`` and ``hunt`` read: paths, ``-`` for standard input, or one
#: such path alone.
InputPaths = InputPath | Iterable[InputPath]


def input_names(paths: InputPaths) -> list[str]:
    """``paths`` as the names the run reads and reports: one path alone is a
    list of one (a bare text would otherwise be read character by character),
    ``Path`` objects are their text, and bytes are decoded as the file system
    names are (``os.fsdecode``, as ``sys.argv`` is)."""
    if isinstance(paths, str | bytes | os.PathLike):
        return [os.fsdecode(paths)]
    return [os.fsdecode(path) for path in paths]


def ingest(
    paths: InputPaths,
    lake: Lake,
    config: Config,
    options: IngestOptions | None = None,
    progress: Progress | None = None,
) -> RunStats:
    """Parse every input into ``lake``; return (and store) the per-file accounting."""
    options = options or IngestOptions()
    # User-defined mappings take part in sniffing, which sees no config.
    mapping.activate(config)
    if options.format != AUTO and options.format not in registry.FORMATS:
        raise UnknownFormatError(
            f"unknown format {options.format!r}; known: {', '.join(format_names())}"
        )
    if options.engine not in INGEST_ENGINES:
        raise ValueError(
            f"unknown ingest engine {options.engine!r}; known: {', '.join(INGEST_ENGINES)}"
        )
    with lake.ingest_lock():
        return _ingest_locked(input_names(paths), lake, config, options, progress)


def _ingest_locked(
    paths: Iterable[str],
    lake: Lake,
    config: Config,
    options: IngestOptions,
    progress: Progress | None,
) -> RunStats:
    """``ingest`` under the lake's lock: what earlier runs read, then this run."""
    remove_unfinished(lake)
    sources = after_earlier_runs(expand(paths), lake)
    run = RunStats(run_id=lake.new_run_id(), started=dt.datetime.now(dt.UTC).isoformat())
    # One reference time for the whole run, whichever process reads which file.
    now = options.now or dt.datetime.now(dt.UTC)
    jobs = options.jobs or config.ingest.jobs
    if options.engine == "spark" or (jobs > 1 and len(sources) > 1):
        from reconwatch.ingest.parallel import ingest_parallel

        run.files = ingest_parallel(
            sources, run.run_id, lake, config, replace(options, now=now), jobs, progress
        )
    else:
        con = duckdb.connect()
        try:
            for index, source in enumerate(sources):
                run.files.append(
                    ingest_source(
                        source, index, run.run_id, lake, config, options, con, now, progress
                    )
                )
        finally:
            con.close()
    lake.save_run(run)
    return run


def remove_unfinished(lake: Lake) -> None:
    """Delete what runs cut short left in ``lake`` (no reader counts it), with a note.

    A run's files count once its record is in ``_runs`` (written last): the
    lines of a run without one were never counted as read, so this run reads
    them again if it is given them, and its files must go rather than count
    twice. A local lake is under its ingest lock here, so no other run is
    writing; on object storage only runs started over a day ago are taken.
    """
    try:
        count, runs = lake.remove_unfinished(locked=lake.local is not None)
    except OSError as exc:
        raise LakeError(f"{lake.location}: cannot clean up the lake: {exc}") from exc
    if count:
        log.warning(
            "%s: removed %d file(s) of %d ingest run(s) that did not finish (%s): "
            "their lines were never counted",
            lake.location, count, len(runs), ", ".join(runs),
        )  # fmt: skip


def after_earlier_runs(sources: list[Source], lake: Lake) -> list[Source]:
    """``sources`` less what earlier runs into ``lake`` read of them.

    A lake is appended to: a daily ``hunt --lake L /var/log/kern.log`` would
    otherwise add every line read the day before again, doubling events,
    evidence and counts. A file whose first bytes and length match what an
    earlier run read (``FileStats.fingerprint``), under whatever name (a
    rotated ``kern.log.1`` not yet compressed), is not read again: the
    accounting notes it. A plain file that has grown since, of a format whose
    lines read alone, is read on from where that run stopped, as the format
    that run found, its lines numbered on. Anything else (a file shorter
    than what was read, a different beginning, a compressed or header-bound
    file that changed) is read whole.
    """
    earlier: dict[int, list[tuple[str, dict[str, Any]]]] = {}
    for run in lake.runs():
        for stats in run.get("files", []):
            seen = stats.get("fingerprint")
            if _usable(seen):
                earlier.setdefault(int(seen["head_bytes"]), []).append((run["run_id"], seen))
    if not earlier:
        return sources
    result = []
    for source in sources:
        match = _read_before(source, earlier)
        if match is None:
            result.append(source)
            continue
        (run_id, seen), size = match
        if seen["bytes"] == size:
            note = f"already in the lake (run {run_id}, {seen['end_line']:,} lines): not read again"
            result.append(replace(source, already=note))
        elif seen["resumable"] and seen.get("format") in registry.FORMATS:
            result.append(
                replace(
                    source,
                    start_byte=int(seen["bytes"]),
                    first_line=int(seen["end_line"]) + 1,
                    format=str(seen["format"]),
                    carried=_learnt(seen),
                )
            )
        else:
            # Read whole (the header, the decompression), the known lines left out.
            result.append(replace(source, keep_from=int(seen["end_line"]) + 1))
    return result


def _learnt(seen: dict[str, Any]) -> tuple[tuple[str, str], ...]:
    """What the earlier run's parser learnt about the file (text to text only:
    a run file may have been edited by hand)."""
    learnt = seen.get("learnt")
    if not isinstance(learnt, dict):
        return ()
    return tuple(
        sorted((k, v) for k, v in learnt.items() if isinstance(k, str) and isinstance(v, str))
    )


def _usable(seen: object) -> bool:
    """A fingerprint with every key of the right type (a hand-edited run file may not)."""
    if not isinstance(seen, dict):
        return False
    numbers = ("bytes", "head_bytes", "end_line")
    return (
        all(isinstance(seen.get(key), int) and seen[key] >= 0 for key in numbers)
        and isinstance(seen.get("head_sha256"), str)
        and isinstance(seen.get("resumable"), bool)
    )


def _read_before(
    source: Source, earlier: dict[int, list[tuple[str, dict[str, Any]]]]
) -> tuple[tuple[str, dict[str, Any]], int] | None:
    """The earlier run that read the most of ``source``'s content, and its size now.

    The file's beginning is read once and hashed at each length an earlier
    fingerprint covers. A file that cannot be read here is left to the run,
    which reports it as for any input.
    """
    path = source.path
    if path is None or source.skipped is not None:
        return None
    try:
        if not path.is_file():
            return None
        size = path.stat().st_size
        digests = head_digests(path, [n for n in earlier if n <= size])
    except OSError:
        return None
    best: tuple[str, dict[str, Any]] | None = None
    for head, runs in earlier.items():
        digest = digests.get(head)
        if digest is None:
            continue
        for run_id, seen in runs:
            if seen["head_sha256"] != digest or seen["bytes"] > size:
                continue
            if best is None or seen["bytes"] > best[1]["bytes"]:
                best = (run_id, seen)
    return (best, size) if best is not None else None


def ingest_source(
    source: Source,
    index: int,
    run_id: str,
    lake: Lake,
    config: Config,
    options: IngestOptions,
    con: duckdb.DuckDBPyConnection,
    now: dt.datetime,
    progress: Progress | None = None,
) -> FileStats:
    """Parse one input into the lake and return its accounting.

    ``index`` (the input's place in the run) names its lake files, so serial,
    pooled and Spark runs write the same layout.
    """
    stats = FileStats(name=source.name, first_line=max(source.first_line, source.keep_from))
    if source.already is not None:
        stats.note = source.already
        return stats
    try:
        stream = source.open()
        head = read_head(stream, options.sniff_bytes)
    except (InputError, OSError, EOFError, zlib.error) as exc:
        stats.error = str(exc) if isinstance(exc, InputError) else f"{source.name}: {exc}"
        stats.deliberate_skip = source.skipped is not None
        return stats
    parser_cls: type[Parser] | None
    if options.format == AUTO and source.format in registry.FORMATS:
        parser_cls = registry.FORMATS[source.format]  # read on mid-file: as found before
    elif options.format == AUTO:
        parser_cls = registry.sniff(head_lines(head, options.sniff_bytes))
    else:
        parser_cls = registry.FORMATS[options.format]
    stats.format = parser_cls.name if parser_cls else None
    context = ParseContext(
        config.for_input(source.name), con, source.name, now, dict(source.carried)
    )
    parser = parser_cls(context) if parser_cls else None
    # One batch's lake files are written on a thread while the next batch is
    # read and parsed (Parquet encoding releases the GIL and uses one core,
    # parsing leaves one idle between its parallel steps); at most one write
    # is in flight, so memory stays at two batches.
    writer = ThreadPoolExecutor(1, thread_name_prefix="lake-write")
    pending: Future[None] | None = None
    hold: HoldBack | None = None
    batches: Iterator[pa.Table] | None = None
    others: OtherPrograms | None = None
    try:
        hold = HoldBack(stream) if options.hold_unfinished_line and is_plain(stream) else None
        batches = read_batches(stream, head, options.block_bytes, source.first_line, hold)
        if source.path is not None and source.path.is_file():
            # Read ahead from files only: a read from a pipe or stdin can wait
            # for its writer indefinitely, and stopping (Ctrl-C, a lake that
            # cannot be written) would wait for that read.
            batches = ReadAhead(batches)
        others = OtherPrograms.of(parser)
        for number, lines in enumerate(batches):
            parsed = parse_batch(parser, lines, stats, others)
            if source.keep_from > 1:
                parsed, lines = new_part(parsed, lines, source.keep_from)
            account_batch(parsed, lines, stats)
            outputs = _lake_tables(parsed, parser, source.name, stats)
            if pending is not None:
                pending.result()
            basename = f"{run_id}-{index:05d}-{number:05d}"
            pending = writer.submit(_write_tables, lake, outputs, basename)
            if progress:
                progress(source.name, stats.lines)
    except (OSError, EOFError, zlib.error) as exc:
        # A truncated or corrupt compressed file: keep what was read, say where it stopped.
        stats.error = f"{source.name}: read failed after line {stats.lines}: {exc}"
    finally:
        if isinstance(batches, ReadAhead):
            batches.close()  # no read in flight when the stream is asked where it stands
        held = hold.bytes if hold is not None else 0
        notes = [hold.note() if hold is not None else None, *parser_notes(parser, others)]
        stats.note = "; ".join(note for note in notes if note) or None
        if stats.error is None and stats.parsed > 0 and parser_cls and parser is not None:
            # Nothing parsed (a wrong --format, a missing mapping): a later run,
            # config mended, should read it again rather than skip it.
            # What its parser, and other programs' parsers in it, learnt.
            learnt = {**(others.file_learnt() if others else {}), **parser.file_learnt()}
            stats.fingerprint = source.fingerprint(
                stream, stats.first_line + stats.lines - 1, parser_cls.name,
                parser_cls.reads_lines_alone, held, learnt,
            )  # fmt: skip
        stream.close()
        writer.shutdown(wait=True)
    if pending is not None:
        pending.result()  # a lake that cannot be written stops the run (LakeError)
    return stats


def parser_notes(parser: Parser | None, others: OtherPrograms | None) -> list[str]:
    """What ``parser`` noted on its input (``Parser.file_notes``), then what the
    other programs' parsers it handed lines to noted (``others``), each once."""
    notes = [
        *(parser.file_notes() if parser else []),
        *(others.file_notes() if others else []),
    ]
    return list(dict.fromkeys(note for note in notes if note))


def event_tables(
    parsed: Parsed, parser: Parser | None, log_file: str, stats: FileStats
) -> list[tuple[str, pa.Table]]:
    """The event tables of one parsed batch as the lake (and the watch) keep
    them: (table name, rows) pairs, conformed. On the way each row's client is
    read from X-Forwarded-For behind trusted proxies (counted into ``stats``)
    and a row standing for several events is written that many times."""
    if parser is None:
        return []
    outputs = []
    trusted = parser.ctx.config.ingest.trusted_proxies
    for table_name, rows in [(parser.table, parsed.rows), *parsed.other_tables.items()]:
        if rows.num_rows:
            try:
                rows, forwarded, unread = forwarded_rows(rows, trusted)
            except Exception as exc:  # a bug reading the header must not stop the run
                rows = _forwarded_failed(rows, parser, log_file, exc)
                forwarded = unread = 0
            stats.forwarded += forwarded
            stats.forwarded_unread += unread
            rows = with_constants(repeated_rows(rows), log_file, parser)
            outputs.append((table_name, schema.conform(rows, schema.TABLES[table_name])))
    return outputs


#: The input's note when X-Forwarded-For could not be read (then the line number).
FORWARDED_FAILED: Final = "X-Forwarded-For not read (a reconwatch error, see the log) from line"


def _forwarded_failed(rows: pa.Table, parser: Parser, log_file: str, exc: Exception) -> pa.Table:
    """``rows`` as they came, less the header: each keeps its peer's address
    (the proxy's, which is never blocked), as if the header named no client.
    Logged with the batch's lines and noted once per input. The exception's
    text may quote a header (log text): only its type is shown, the whole
    of it is logged at debug level.
    """
    numbers = rows.column("log_line")
    first, last = pc.min(numbers).as_py(), pc.max(numbers).as_py()
    log.warning(
        "%s: X-Forwarded-For not read on lines %s-%s (%s); the rows keep the peer's address",
        log_file, first, last, type(exc).__name__,
    )  # fmt: skip
    log.debug("X-Forwarded-For failure", exc_info=exc)
    if not any(note.startswith(FORWARDED_FAILED) for note in parser.notes):
        parser.notes.append(f"{FORWARDED_FAILED} {first} on: those rows keep the proxy's address")
    return rows.drop_columns([FORWARDED]) if FORWARDED in rows.column_names else rows


def _lake_tables(
    parsed: Parsed, parser: Parser | None, log_file: str, stats: FileStats
) -> list[tuple[str, pa.Table]]:
    """The lake tables of one parsed batch, conformed: (table name, rows) pairs
    (``event_tables``, then the rejects)."""
    outputs = event_tables(parsed, parser, log_file, stats)
    if parsed.rejects.num_rows:
        rejects = with_constants(parsed.rejects, log_file, parser)
        rejects = rejects.set_column(
            rejects.schema.get_field_index("raw"),
            "raw",
            pc.utf8_slice_codeunits(rejects.column("raw"), 0, schema.MAX_RAW_CHARS),
        )
        outputs.append(("rejects", schema.conform(rejects, schema.REJECTS)))
    return outputs


def _write_tables(lake: Lake, outputs: list[tuple[str, pa.Table]], basename: str) -> None:
    for table_name, table in outputs:
        lake.write(table_name, table, basename)


def parse_batch(
    parser: Parser | None,
    lines: pa.Table,
    stats: FileStats,
    others: OtherPrograms | None = None,
) -> Parsed:
    """One batch through ``parser`` (None: every line rejected as unrecognised).

    ``others`` (``OtherPrograms.of(parser)``, one per file) passes the lines of
    other syslog programs that ``parser`` rejected on to their own parsers.
    """
    numbers = lines.column("log_line")
    raw = lines.column("line")
    if parser is None:
        # Blank lines are skipped, as every parser skips them (a file of blank
        # lines is empty, not unrecognised).
        blank = pc.equal(pc.utf8_trim_whitespace(raw), "")
        kept = pc.invert(blank)
        rejects = reject_table(
            pc.filter(numbers, kept), "format not recognised", pc.filter(raw, kept)
        )
        return Parsed(rows=empty_rows(), rejects=rejects, skipped=lines.num_rows - len(rejects))
    try:
        parsed = parser.parse(lines)
        if others is not None:
            parsed = others(parsed, lines)
        parsed = reject_impossible_times(parsed, lines)
        parsed = replace(parsed, rejects=named_repeat_markers(parsed.rejects))
        total = parsed.row_count + parsed.rejects.num_rows + parsed.skipped
        if total != lines.num_rows:
            raise AccountingError(f"accounted for {total} of {lines.num_rows} lines")
        return parsed
    except Exception as exc:  # a parser bug must not lose the batch or stop the run
        first, last = numbers[0].as_py(), numbers[-1].as_py()
        stats.error = f"{stats.name}: parser {parser.name} failed on lines {first}-{last}: {exc}"
        reason = f"parser {parser.name} failed"
        return Parsed(rows=empty_rows(), rejects=reject_table(numbers, reason, raw))


#: Timestamps a reader of the lake can hold: Python's datetime (years 1 to
#: 9999), in microseconds from the epoch. Engines hold wider ones, so a parser
#: may let "30/Sep/0000" or an epoch of 10^14 s through; every reader would
#: then fail on the row (and the lake would get a partition for year 0).
_MIN_MICROS: Final = -62_135_596_800_000_000
_MAX_MICROS: Final = 253_402_300_799_999_999
_PER_UNIT: Final = {"s": 1_000_000, "ms": 1_000, "us": 1, "ns": 0}


def reject_impossible_times(parsed: Parsed, lines: pa.Table) -> Parsed:
    """Rows whose timestamp lies outside years 1-9999 become "invalid timestamp" rejects.

    One check for every parser, in Arrow, after parsing: a row is moved, so
    each line still lands once (in a table, or in the rejects).
    """
    tables = {"": parsed.rows, **parsed.other_tables}
    moved: list[pa.Array] = []
    kept: dict[str, pa.Table] = {}
    for name, table in tables.items():
        column = "timestamp"
        if column not in table.column_names or table.num_rows == 0:
            kept[name] = table
            continue
        values = table.column(column)
        unit = getattr(values.type, "unit", None)
        per = _PER_UNIT.get(unit or "", 0)
        if per == 0:  # nanoseconds (or not a timestamp) cannot leave years 1677-2262
            kept[name] = table
            continue
        raw = pc.cast(values, pa.int64())
        bad = pc.fill_null(
            pc.or_(pc.less(raw, _MIN_MICROS // per), pc.greater(raw, _MAX_MICROS // per)),
            False,
        )
        if not pc.any(bad).as_py():
            kept[name] = table
            continue
        moved.append(pc.filter(table.column("log_line"), bad).combine_chunks())
        kept[name] = table.filter(pc.invert(bad))
    if not moved:
        return parsed
    numbers = pa.concat_arrays(moved)
    raw_lines = pc.take(lines.column("line"), pc.index_in(numbers, lines.column("log_line")))
    rejects = pa.concat_tables(
        [parsed.rejects, reject_table(numbers, INVALID_TIMESTAMP, raw_lines)],
        promote_options="permissive",
    ).sort_by("log_line")
    rows = kept.pop("")
    return replace(parsed, rows=rows, rejects=rejects, other_tables=kept)


def new_part(parsed: Parsed, lines: pa.Table, keep_from: int) -> tuple[Parsed, pa.Table]:
    """A batch's rows, rejects and lines from line ``keep_from`` on.

    The lines before it were read into the lake by an earlier run; they were
    parsed again only for what they set up (a header). Lines that gave no row
    and no reject are counted as skipped, as the parser counted them.
    """

    def kept(table: pa.Table) -> pa.Table:
        if table.num_rows == 0:
            return table
        return table.filter(pc.greater_equal(table.column("log_line"), keep_from))

    lines = kept(lines)
    rows, rejects = kept(parsed.rows), kept(parsed.rejects)
    others = {name: kept(table) for name, table in parsed.other_tables.items()}
    accounted = rows.num_rows + rejects.num_rows + sum(t.num_rows for t in others.values())
    new = replace(
        parsed, rows=rows, rejects=rejects, other_tables=others,
        skipped=lines.num_rows - accounted,
    )  # fmt: skip
    return new, lines


def account_batch(parsed: Parsed, lines: pa.Table, stats: FileStats) -> None:
    """Add a parsed batch's counts and reject reasons to ``stats``."""
    stats.lines += lines.num_rows
    stats.parsed += parsed.row_count
    stats.rejected += parsed.rejects.num_rows
    stats.skipped += parsed.skipped
    for rows in [parsed.rows, *parsed.other_tables.values()]:
        repeats = repeat_counts(rows)
        stats.repeated += repeats.extra
        stats.repeats_cut += repeats.cut
    if parsed.rejects.num_rows:
        counts = pc.value_counts(parsed.rejects.column("reason")).to_pylist()
        for item in counts:
            reason = str(item["values"])
            stats.reject_reasons[reason] = stats.reject_reasons.get(reason, 0) + item["counts"]


def with_constants(table: pa.Table, log_file: str, parser: Parser | None) -> pa.Table:
    """``table`` with the columns every row of one input shares (its file, dataset)."""
    n = table.num_rows
    table = table.drop_columns([c for c in ("log_file",) if c in table.column_names])
    table = table.append_column("log_file", pa.repeat(pa.scalar(log_file, pa.string()), n))
    if "event_dataset" not in table.column_names:
        dataset = parser.dataset if parser else None
        table = table.append_column("event_dataset", pa.repeat(pa.scalar(dataset, pa.string()), n))
    return table


def ingest_path(path: Path, lake: Lake, config: Config) -> RunStats:
    """Convenience for tests and the demo: ingest one path with sniffing."""
    return ingest([str(path)], lake, config)
