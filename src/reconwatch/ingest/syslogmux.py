"""Mixed syslog files: each line goes to the parser of its program.

``/var/log/syslog``, ``/var/log/messages`` or a central relay's file holds the
lines of many programs: kernel netfilter drops next to sshd logins next to
BIND queries. Rejecting such a file wholesale, or parsing it with the parser
of its first lines, would lose most of it. This parser reads the program tag
of every line (one vectorised regex in DuckDB), splits the batch by program
with Arrow filters, and hands each part to the parser that claims the program
(``Parser.programs``), one instance per program per file, so each keeps its
own state (the syslog year, for instance). Lines of programs nobody claims
are rejected with the reason ``syslog program without a parser``.

It is chosen by sniffing only when a file's first lines come from programs of
more than one parser, or from programs no parser claims next to ones a parser
does; a file of one program goes straight to that program's parser.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from typing import ClassVar, Final

import pyarrow as pa
import pyarrow.compute as pc

from reconwatch.ingest.base import (
    EMPTY_REJECTS,
    REPEAT,
    ParseContext,
    Parsed,
    Parser,
    empty_rows,
    reject_table,
)
from reconwatch.ingest.syslog import (
    BSD_STAMP,
    ISO_STAMP,
    PRI,
    bsd_iso_pattern,
    rfc5424_pattern,
)
from reconwatch.ingest.web_syslog import NOT_ACCESS, SyslogAccessParser, access_mask
from reconwatch.schema import TABLES, conform

NO_PARSER: Final = "syslog program without a parser"
NOT_SYSLOG: Final = "not a syslog line"

_BSD = bsd_iso_pattern(r"(.*)")
#: RouterOS writes topics where a program tag would be (``gw firewall,info
#: input: ...``); such lines get the program name ``mikrotik``.
TOPICS: Final = rf"^{PRI}(?:{BSD_STAMP}|{ISO_STAMP}) \S+ [a-z][a-z0-9-]*(?:,[a-z0-9-]+)+ "
_TOPICS_RE = re.compile(TOPICS)
#: Unbound's own log file with ``log-time-ascii: yes`` has no host:
#: ``Nov 28 04:00:01 unbound[812:0] info: ...``; the envelope would read the
#: program as the host and ``info`` as the tag. The ``[pid:thread]`` marks it.
THREADED: Final = rf"^(?:{BSD_STAMP}) ([a-z][a-z0-9_-]*)\[\d+:\d+\] "
_THREADED_RE = re.compile(THREADED)
_RFC5424 = rfc5424_pattern(r"(.*)")
_BSD_RE = re.compile(_BSD)
_RFC5424_RE = re.compile(_RFC5424.replace(r"\x{FEFF}", "\ufeff"))


def program_of(line: str) -> str | None:
    """The program tag of one syslog line (for sniffing a handful of lines only),
    with claimed prefixes folded (``%ASA-6-302013`` -> ``%ASA-``)."""
    match = _THREADED_RE.match(line) or _BSD_RE.match(line)
    if match:
        return _fold(match.group(1 if match.re is _THREADED_RE else 3))
    match = _RFC5424_RE.match(line)
    if match:
        return _fold(match.group(3))
    return MIKROTIK if _TOPICS_RE.match(line) else None


MIKROTIK: Final = "mikrotik"


def prefixes() -> dict[str, type[Parser]]:
    """Program prefix -> the parser that claims it."""
    from reconwatch.ingest.registry import PARSERS

    owners: dict[str, type[Parser]] = {}
    for parser in PARSERS:
        for prefix in getattr(parser, "program_prefixes", ()):
            owners.setdefault(prefix, parser)
    return owners


def _fold(program: str) -> str:
    return next((p for p in prefixes() if program.startswith(p)), program)


def claimants() -> dict[str, type[Parser]]:
    """Program name (or claimed prefix) -> the parser that claims it."""
    from reconwatch.ingest.registry import PARSERS

    owners: dict[str, type[Parser]] = {}
    for parser in PARSERS:
        for program in getattr(parser, "programs", ()):
            owners.setdefault(program, parser)
    for prefix, parser in prefixes().items():
        owners.setdefault(prefix, parser)
    return owners


def _refuse(part: pa.Table, reason: str, rejects: list[pa.Table]) -> None:
    """``part``'s lines, if any, as rejects for ``reason``."""
    if part.num_rows:
        rejects.append(reject_table(part.column("log_line"), reason, part.column("line")))


class SyslogMuxParser(Parser):
    """Mixed syslog files: routes each line to the parser of its program."""

    name = "syslog"
    dataset = "syslog"
    table = "network"
    programs: ClassVar[tuple[str, ...]] = ()

    def __init__(self, ctx: ParseContext) -> None:
        super().__init__(ctx)
        self.owners = claimants()
        self._claimed = pa.array(list(self.owners), pa.string())
        self.parsers: dict[type[Parser], Parser] = {}

    @classmethod
    def sniff(cls, sample: Sequence[str]) -> bool:
        programs = {program_of(line) for line in sample}
        programs.discard(None)
        if len(programs) < 2:
            return False
        owners = claimants()
        claimed = {owners[p] for p in programs if p in owners}
        unclaimed = [p for p in programs if p not in owners]
        return len(claimed) >= 2 or (len(claimed) == 1 and bool(unclaimed))

    def parse(self, lines: pa.Table) -> Parsed:
        programs = self._programs(lines)
        blank = pc.equal(pc.utf8_trim_whitespace(lines.column("line")), "")
        outputs: dict[str, list[pa.Table]] = {}
        rejects = [EMPTY_REJECTS]
        skipped = int(pc.sum(blank).as_py() or 0)
        # Lines of programs nobody claims, in one step however many tags they
        # carry (a relay of per-container tags, ``logger -t`` by any user):
        # web servers' access lines go to web-syslog, the rest are rejected.
        # The access test (two regexes) runs on those lines only: none in a
        # file whose every program is claimed.
        claimed = pc.fill_null(pc.is_in(programs, value_set=self._claimed), False)
        unclaimed = lines.filter(pc.and_(pc.invert(claimed), pc.is_valid(programs)))
        if unclaimed.num_rows:
            access = access_mask(unclaimed.column("line"))
            if pc.any(access).as_py():
                skipped += self._run_access(unclaimed.filter(access), outputs, rejects)
            empty = pc.equal(pc.utf8_trim_whitespace(unclaimed.column("line")), "")
            _refuse(unclaimed.filter(pc.and_not(pc.invert(access), empty)), NO_PARSER, rejects)
        _refuse(lines.filter(pc.and_not(pc.is_null(programs), blank)), NOT_SYSLOG, rejects)
        # Python runs per distinct claimed program (at most the registry's
        # claims), never per line.
        for program in pc.unique(pc.filter(programs, claimed)).to_pylist():
            part = lines.filter(pc.and_not(pc.equal(programs, program), blank))
            if part.num_rows:
                skipped += self._run(self.owners[program], part, outputs, rejects)
        tables = {
            name: pa.concat_tables(parts, promote_options="default")
            for name, parts in outputs.items()
        }
        main = tables.pop(self.table, empty_rows())
        return Parsed(
            rows=main,
            rejects=pa.concat_tables(
                [r.select(["log_line", "reason", "raw"]) for r in rejects],
                promote_options="default",
            ),
            skipped=skipped,
            other_tables=tables,
        )

    def file_notes(self) -> list[str]:
        """Its own notes, then its programs' parsers' (read when the file is
        done: a parser may take a note back when a later batch answers it)."""
        theirs = [note for parser in self.parsers.values() for note in parser.file_notes()]
        return [*self.notes, *(note for note in theirs if note not in self.notes)]

    def file_learnt(self) -> dict[str, str]:
        """What its programs' parsers learnt (their keys name their format), and its own."""
        learnt: dict[str, str] = {}
        for parser in self.parsers.values():
            learnt.update(parser.file_learnt())
        return {**learnt, **self.learnt}

    def _run(
        self,
        parser_cls: type[Parser],
        part: pa.Table,
        outputs: dict[str, list[pa.Table]],
        rejects: list[pa.Table],
    ) -> int:
        """``part`` parsed by the file's one ``parser_cls`` (made on first use),
        its rows added to ``outputs``, its rejects to ``rejects``; its skipped
        lines returned."""
        parser = self.parsers.get(parser_cls)
        if parser is None:
            parser = self.parsers[parser_cls] = parser_cls(self.ctx)
        parsed = parser.parse(part)
        rejects.append(parsed.rejects)
        for table, rows in [(parser.table, parsed.rows), *parsed.other_tables.items()]:
            if rows.num_rows:
                outputs.setdefault(table, []).append(_conformed(rows, parser.dataset, table))
        return parsed.skipped

    def _run_access(
        self, part: pa.Table, outputs: dict[str, list[pa.Table]], rejects: list[pa.Table]
    ) -> int:
        """Unclaimed programs' access lines, read by web-syslog: those it finds
        are no access line after all (an application's JSON) keep "syslog
        program without a parser"."""
        mine: list[pa.Table] = []
        skipped = self._run(SyslogAccessParser, part, outputs, mine)
        for table in mine:
            reason = table.column("reason")
            other = pc.fill_null(pc.is_in(reason, value_set=pa.array(NOT_ACCESS)), False)
            fixed = pc.if_else(other, pa.scalar(NO_PARSER), reason)
            rejects.append(
                table.set_column(table.schema.get_field_index("reason"), "reason", fixed)
            )
        return skipped

    def _programs(self, lines: pa.Table) -> pa.ChunkedArray:
        view = f"mux_{uuid.uuid4().hex}"
        con = self.ctx.con.cursor()
        con.register(view, lines)
        try:
            # The view name is our own uuid; the patterns are bound parameters.
            query = f"""
                SELECT coalesce(nullif(regexp_extract(line, $threaded, 1), ''),
                                nullif(regexp_extract(line, $bsd, 3), ''),
                                nullif(regexp_extract(line, $rfc5424, 3), ''),
                                CASE WHEN regexp_matches(line, $topics) THEN $mikrotik END)
                           AS program
                FROM {view} ORDER BY log_line
            """  # noqa: S608
            params = {
                "threaded": THREADED, "bsd": _BSD, "rfc5424": _RFC5424,
                "topics": TOPICS, "mikrotik": MIKROTIK,
            }  # fmt: skip
            result = con.sql(query, params=params).to_arrow_table()
        finally:
            con.unregister(view)
            con.close()
        programs = result.column("program")
        # Message-id tags fold into their claimed prefix, vectorised.
        for prefix in prefixes():
            programs = pc.if_else(pc.starts_with(programs, prefix), prefix, programs)
        return programs


class OtherPrograms:
    """Lines of other programs in a file sniffed as one program's, parsed by theirs.

    Sniffing reads a file's first lines: a ``/var/log/messages`` that starts
    with the kernel's boot messages is given to the netfilter parser, which
    rejects the sshd logins and BIND queries further down as "not a netfilter
    LOG line". After each batch, the program tags of the parser's rejected
    lines are read (rejects only: one more regex over a few lines, none over
    a clean file); lines of a program that another parser claims go through a
    multiplexer kept for the whole file (so their parsers keep their state,
    such as the syslog year, from batch to batch), and what it makes of them
    replaces their rejects; lines of programs nobody claims get its reason,
    "syslog program without a parser". Lines of the parser's own programs
    stay rejected with its reason.
    """

    def __init__(self, parser: Parser) -> None:
        self.parser = parser
        self.mux: SyslogMuxParser | None = None

    def file_notes(self) -> list[str]:
        """What the other programs' parsers noted on the file (``Parser.file_notes``)."""
        return self.mux.file_notes() if self.mux is not None else []

    def file_learnt(self) -> dict[str, str]:
        """What they learnt about it (``Parser.file_learnt``), for a later run."""
        return self.mux.file_learnt() if self.mux is not None else {}

    @classmethod
    def of(cls, parser: Parser | None) -> OtherPrograms | None:
        """The hand-over for ``parser``, None where it reads no syslog programs."""
        if parser is None or isinstance(parser, SyslogMuxParser):
            return None
        if not (parser.programs or parser.syslog_borne):
            return None
        return cls(parser)

    def __call__(self, parsed: Parsed, lines: pa.Table) -> Parsed:
        if parsed.rejects.num_rows == 0:
            return parsed
        # In line order, as _programs returns its tags.
        rejects = parsed.rejects.sort_by("log_line")
        mux = self.mux or SyslogMuxParser(self.parser.ctx)
        self.mux = mux
        rejected = lines.take(pc.index_in(rejects.column("log_line"), lines.column("log_line")))
        programs = mux._programs(rejected)
        own = type(self.parser)
        others = [
            program
            for program in pc.unique(programs).drop_null().to_pylist()
            # Unclaimed programs too: the multiplexer rejects them for what
            # they are ("syslog program without a parser").
            if mux.owners.get(program) is not own
        ]
        if not others:
            return parsed
        handed = pc.fill_null(pc.is_in(programs, pa.array(others, pa.string())), False)
        if self.parser.syslog_borne:
            # web-syslog read its access lines already: they keep its reasons
            # (the multiplexer would hand them to a second web-syslog).
            handed = pc.and_not(handed, access_mask(rejected.column("line")))
        taken = mux.parse(rejected.filter(handed))
        tables = {self.parser.table: parsed.rows, **parsed.other_tables}
        for table, rows in [(mux.table, taken.rows), *taken.other_tables.items()]:
            if rows.num_rows == 0:
                continue
            mine = tables.get(table)
            if mine is None or mine.num_rows == 0:
                tables[table] = rows
                continue
            mine = _conformed(mine, self.parser.dataset, table)
            both = pa.concat_tables([mine, rows], promote_options="default")
            tables[table] = both.sort_by("log_line")
        kept = rejects.filter(pc.invert(handed)).select(["log_line", "reason", "raw"])
        return Parsed(
            rows=tables.pop(self.parser.table),
            rejects=pa.concat_tables([kept, taken.rejects]).sort_by("log_line"),
            skipped=parsed.skipped + taken.skipped,
            other_tables=tables,
        )


def _conformed(rows: pa.Table, dataset: str, table: str) -> pa.Table:
    """``rows`` conformed to ``table``'s schema with their parser's dataset,
    keeping how many events each stands for (``REPEAT``, written out later)."""
    out = conform(_with_dataset(rows, dataset), TABLES[table])
    if REPEAT in rows.column_names:
        out = out.append_column(REPEAT, rows.column(REPEAT).cast(pa.int64()))
    return out


def _with_dataset(rows: pa.Table, dataset: str) -> pa.Table:
    """Keep each sub-parser's dataset name (the framework would write "syslog")."""
    if "event_dataset" in rows.column_names:
        return rows
    return rows.append_column(
        "event_dataset", pa.repeat(pa.scalar(dataset, pa.string()), rows.num_rows)
    )


PARSERS: tuple[type[Parser], ...] = (SyslogMuxParser,)
