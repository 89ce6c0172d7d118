"""Zeek logs, TSV (with ``#`` headers) or JSON lines, and the conn.log parser.

Zeek's ASCII writer opens each log with a header block::

    #separator \\x09
    #set_separator	,
    #empty_field	(empty)
    #unset_field	-
    #path	conn
    #open	2026-09-30-10-00-00
    #fields	ts	uid	id.orig_h	...
    #types	time	string	addr	...

and may end it with ``#close``. ``#fields`` alone says where each column sits,
so the header is parser state: it may come in an earlier batch than its data,
and concatenated logs (``cat conn.*.log``) repeat or change it mid-file. With
``LogAscii::use_json`` Zeek writes one flat JSON object per line instead, with
dotted keys (``"id.orig_h"``) and ``ts`` as epoch seconds, epoch milliseconds
(``JSON::TS_MILLIS``) or ISO 8601 (``JSON::TS_ISO8601``). Both forms are read
per line (a line starting with ``{`` is JSON), so a file mixing them still
parses. Lines starting with ``#`` (headers, comments) and blank lines carry no
event and count as skipped; every other line becomes a row or a reject.

The work is split so that every later Zeek log (dns, http, notice, weird) only
describes its columns:

* ``ZeekHeader`` folds header lines into the state that decodes data lines;
* ``ZeekParser`` does the vectorised part in DuckDB: the header lines that
  matter are fetched (a handful per file), turned into a small *segment* table
  (one row per header state, with the 1-based position of each wanted field),
  and one query ASOF-joins every data line to the segment it falls in, splits
  TSV lines with ``string_split`` and JSON lines with one multi-path
  ``json_extract_string`` (the document is parsed once, not once per key);
* a subclass lists its Zeek fields, writes the SQL that maps them to its
  table, and finishes the batch in Arrow (``ZeekConnParser`` below).

No Python code runs per data line; Python only runs per header line.
"""

from __future__ import annotations

import dataclasses
import json
import re
import uuid
from abc import abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar, Final

import pyarrow as pa
import pyarrow.compute as pc

from reconwatch import schema
from reconwatch.ingest.addresses import normalise_ips
from reconwatch.ingest.base import (
    EMPTY_REJECTS,
    ParseContext,
    Parsed,
    Parser,
    kept_rows,
    reject_table,
)
from reconwatch.ingest.dns_lines import qtype_sql
from reconwatch.ingest.linesql import byte_count_sql, present_sum_sql, status_code_sql

# Reject reasons: short and fixed, because the run statistics count them by value.
NO_FIELDS: Final = "data before #fields header"
WRONG_FIELD_COUNT: Final = "wrong number of fields"
INVALID_JSON: Final = "invalid JSON"
MISSING_TIMESTAMP: Final = "missing timestamp"
INVALID_TIMESTAMP: Final = "invalid timestamp"
MISSING_SOURCE: Final = "missing source address"
INVALID_SOURCE: Final = "invalid source address"
MISSING_DESTINATION: Final = "missing destination address"
INVALID_DESTINATION: Final = "invalid destination address"
INVALID_PORT: Final = "invalid port"

#: Header directives that change how the following data lines are read.
#: ``#open``, ``#close`` and ``#types`` are informational: skipped, never state.
STATE_DIRECTIVES: Final = (
    "separator",
    "set_separator",
    "empty_field",
    "unset_field",
    "path",
    "fields",
)

_DIRECTIVE = re.compile(r"#([a-z_]+)")
_HEX_ESCAPE = re.compile(r"\\x([0-9A-Fa-f]{2})")
#: Lines that carry no event: headers and comments, blank lines. Regexes, not
#: trim(): RE2 stops at the first other character, trim() copies every line.
_SKIPPED_SQL: Final = r"starts_with(line, '#') OR regexp_full_match(line, '[ \t]*')"
#: JSON lines; anything else that is not skipped is read as TSV.
_JSON_SQL: Final = r"regexp_matches(line, '^[ \t]*\{')"
#: Start of the segment holding the state carried in from earlier batches: below
#: any line number, so the ASOF join always finds a segment for every data line.
_BEFORE_ALL_LINES: Final = -(2**62)


def unescape(text: str) -> str:
    r"""Decode the ``\xHH`` escapes Zeek writes in header values (``\x09`` is a tab)."""
    return _HEX_ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), text)


@dataclass(frozen=True)
class ZeekHeader:
    """What the header lines read so far say about the data lines that follow.

    The defaults are Zeek's own, so a file whose header lacks ``#separator``
    and friends still reads; only ``#fields`` is indispensable.
    """

    separator: str = "\t"
    set_separator: str = ","
    empty_field: str = "(empty)"
    unset_field: str = "-"
    #: ``#path`` (conn, dns...); None until a header names it.
    path: str | None = None
    #: ``#fields`` names in column order; None until a header gives them.
    fields: tuple[str, ...] | None = None

    def apply(self, line: str) -> ZeekHeader:
        """The state after one header line; lines that change nothing return ``self``."""
        match = _DIRECTIVE.match(line)
        if match is None or match.group(1) not in STATE_DIRECTIVES:
            return self
        name = match.group(1)
        rest = line[match.end() :]
        if name == "separator":
            # The separator is not known yet when this line is written, so Zeek
            # puts one space after the directive and escapes the value.
            value = unescape(rest[1:] if rest[:1] in (" ", "\t") else rest)
            return dataclasses.replace(self, separator=value) if value else self
        if rest.startswith(self.separator):
            value, split_on = rest[len(self.separator) :], self.separator
        else:
            # Hand-made or re-spaced headers: fall back to whitespace.
            value, split_on = rest.strip(), None
        if name == "fields":
            names = value.split(split_on) if value else []
            return dataclasses.replace(self, fields=tuple(names))
        if name == "path":
            return dataclasses.replace(self, path=value.strip())
        if name == "set_separator":
            return dataclasses.replace(self, set_separator=unescape(value))
        if name == "empty_field":
            return dataclasses.replace(self, empty_field=unescape(value))
        return dataclasses.replace(self, unset_field=unescape(value))


# The SQL below is assembled from class constants and generated view names;
# log content only ever reaches DuckDB as data in the registered Arrow tables.
# That is why the f-string queries carry ``noqa: S608``.


def _quote(identifier: str) -> str:
    """A DuckDB identifier, e.g. ``"id.orig_h"`` (a dot would otherwise mean table.column)."""
    return '"' + identifier.replace('"', '""') + '"'


def _literal(text: str) -> str:
    """A DuckDB string literal."""
    return "'" + text.replace("'", "''") + "'"


def zeek_time_sql(column: str) -> str:
    """SQL giving the epoch microseconds (BIGINT) of a Zeek time value, NULL if not one.

    ``column`` must name a VARCHAR column. Epoch seconds go through DOUBLE (a
    tenth of the cost of a DECIMAL cast) and are exact all the same: for a
    stamp with at most 6 decimals before 2106 (< 2**32 s) the parse error is at
    most 0.24 us and the product's rounding at most 0.25 us, so rounding to the
    whole microsecond recovers the written value. 12-13 digit integers are
    ``JSON::TS_MILLIS``; ISO 8601 with Z or an offset is an instant, without one
    it is UTC (Zeek writes UTC), never the DuckDB session's time zone.
    """
    seconds = f"TRY_CAST({column} AS DOUBLE)"
    iso = r"[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,9})?"
    zone = r"([Zz]|[+-][0-9]{2}(:?[0-9]{2})?)"
    # NaN and infinities fail the range test (DuckDB orders NaN above every number).
    return f"""CASE
        WHEN {seconds} >= 0 AND {seconds} < 100000000000
            THEN CAST(round({seconds} * 1000000) AS BIGINT)
        WHEN regexp_full_match({column}, '[0-9]{{12,13}}')
            THEN CAST({column} AS BIGINT) * 1000
        WHEN regexp_full_match({column}, '{iso}{zone}')
            THEN epoch_us(TRY_CAST({column} AS TIMESTAMPTZ))
        WHEN regexp_full_match({column}, '{iso}')
            THEN epoch_us(TRY_CAST({column} AS TIMESTAMP))
    END"""


class ZeekParser(Parser):
    """Common machinery of the Zeek log parsers; a subclass describes one log.

    A subclass sets ``zeek_path``, ``zeek_fields`` and ``sniff_keys`` and
    implements ``select_sql`` (Zeek fields -> its table's columns) and
    ``finish`` (the Arrow-side checks, then rows and rejects).
    """

    #: Its lines are read by a header (columns, layout) met before them.
    reads_lines_alone = False

    #: The log's ``#path`` (and JSON ``_path``) value, e.g. "conn".
    zeek_path: ClassVar[str]
    #: Zeek fields the mapping needs besides ``ts`` (always extracted).
    zeek_fields: ClassVar[tuple[str, ...]]
    #: Fields whose joint presence in ``#fields`` or a JSON object identifies the log.
    sniff_keys: ClassVar[tuple[str, ...]]

    def __init__(self, ctx: ParseContext) -> None:
        super().__init__(ctx)
        #: Header state at the end of the batches parsed so far.
        self.header = ZeekHeader()

    # -- class-level description ------------------------------------------------

    @classmethod
    def all_fields(cls) -> tuple[str, ...]:
        return ("ts", *cls.zeek_fields)

    @classmethod
    def path_pattern(cls) -> str:
        """``#path`` values taken as this log: "conn", and filter-made "conn_internal"..."""
        return re.escape(cls.zeek_path) + r"([_.-].*)?"

    @classmethod
    def wrong_path_reason(cls) -> str:
        return f"not a {cls.zeek_path} log"

    @classmethod
    def sniff(cls, sample: Sequence[str]) -> bool:
        """A header with ``#separator`` and our ``#path``, or ``#fields``/JSON with our keys."""
        try:
            return cls._sniff(sample)
        except Exception:  # a sniffer must never stop format detection
            return False

    @classmethod
    def _sniff(cls, sample: Sequence[str]) -> bool:
        keys = set(cls.sniff_keys)
        separator = False
        path = None
        for line in sample[:50]:
            directive = _DIRECTIVE.match(line)
            name = directive.group(1) if directive else None
            if name == "separator":
                separator = True
            elif name == "path":
                path = line[len("#path") :].strip()
            elif name == "fields":
                if keys <= set(line[len("#fields") :].split()):
                    return True
            elif line.startswith("{") and all(f'"{key}"' in line for key in keys):
                try:
                    data = json.loads(line)
                except (ValueError, RecursionError):
                    continue
                if isinstance(data, dict) and keys <= data.keys():
                    return True
        return separator and path is not None and re.fullmatch(cls.path_pattern(), path) is not None

    # -- what a subclass provides -------------------------------------------------

    @abstractmethod
    def select_sql(self, relation: str) -> str:
        """A query over ``relation`` giving the batch's result, one row per data line.

        ``relation`` has ``log_line``, ``error`` (a reject reason or NULL),
        ``ts_us`` (epoch microseconds), ``set_sep`` (the TSV ``#set_separator``
        for set/vector fields; NULL for JSON lines, whose sets are JSON arrays)
        and one VARCHAR column per name in ``all_fields()`` (quoted, e.g.
        ``"id.orig_h"``): NULL when unset or absent, '' when ``(empty)``. TSV
        values are as written: Zeek's ``\\xHH`` escapes inside text fields
        (URIs, queries) are the subclass's to decode. Keep ``log_line`` and ``error``.
        """

    @abstractmethod
    def finish(self, result: pa.Table, lines: pa.Table) -> Parsed:
        """Turn ``select_sql``'s result into rows and rejects (``skipped`` is set after)."""

    # -- the machinery --------------------------------------------------------------

    def parse(self, lines: pa.Table) -> Parsed:
        if lines.num_rows == 0:
            return Parsed(rows=schema.empty(schema.TABLES[self.table]), rejects=EMPTY_REJECTS)
        con = self.ctx.con
        view = f"zeek_lines_{uuid.uuid4().hex}"
        segments_view = f"zeek_segments_{uuid.uuid4().hex}"
        con.register(view, lines)
        try:
            headers = con.sql(self._header_sql(view)).fetchall()
            con.register(segments_view, self._segments(headers))
            try:
                result = con.sql(self._batch_sql(view, segments_view)).to_arrow_table()
            finally:
                con.unregister(segments_view)
        finally:
            con.unregister(view)
        # Every line that is neither blank nor a header is in ``result``, as a
        # row or a reject; the rest are skipped, so the accounting holds by construction.
        parsed = self.finish(result, lines)
        return dataclasses.replace(parsed, skipped=lines.num_rows - result.num_rows)

    @staticmethod
    def _header_sql(view: str) -> str:
        """The state-changing header lines that can affect a data line, in order.

        A header is superseded when the next one of the same directive follows
        with no data line in between (``gap`` counts the non-``#`` lines before
        a header), so a file of a million repeated headers costs one Python
        step, not a million. ``#separator`` also decides how the *other* header
        lines split, so it is only dropped when the next state header is
        another ``#separator``. The last header of each directive is always
        kept: it carries over to the next batch.
        """
        directives = ", ".join(_literal(d) for d in STATE_DIRECTIVES)
        return f"""
            SELECT log_line, line FROM (
                SELECT *, row_number() OVER (ORDER BY log_line) AS k FROM (
                    SELECT log_line, line,
                           regexp_extract(line, '^#([a-z_]+)', 1) AS directive,
                           log_line - row_number() OVER (ORDER BY log_line) AS gap
                    FROM {view}
                    WHERE starts_with(line, '#')
                )
                WHERE directive IN ({directives})
            )
            QUALIFY NOT coalesce(
                lead(gap) OVER (PARTITION BY directive ORDER BY log_line) = gap
                AND (directive <> 'separator'
                     OR lead(k) OVER (PARTITION BY directive ORDER BY log_line) = k + 1),
                false)
            ORDER BY log_line
        """  # noqa: S608

    def _segments(self, headers: list[tuple[int, str]]) -> pa.Table:
        """One row per header state (from its header line on), with field positions."""
        starts = [_BEFORE_ALL_LINES]
        states = [self.header]
        for log_line, line in headers:
            state = states[-1].apply(line)
            if state != states[-1]:
                starts.append(log_line)
                states.append(state)
        self.header = states[-1]
        wanted = self.all_fields()
        path_re = re.compile(self.path_pattern())
        columns: dict[str, pa.Array] = {
            "start_line": pa.array(starts, pa.int64()),
            "sep": pa.array([s.separator for s in states], pa.string()),
            "set_sep": pa.array([s.set_separator for s in states], pa.string()),
            "empty_field": pa.array([s.empty_field for s in states], pa.string()),
            "unset_field": pa.array([s.unset_field for s in states], pa.string()),
            "path_ok": pa.array(
                [s.path is None or path_re.fullmatch(s.path) is not None for s in states],
                pa.bool_(),
            ),
            "n_fields": pa.array(
                [None if s.fields is None else len(s.fields) for s in states], pa.int32()
            ),
        }
        for index, name in enumerate(wanted):
            positions = []
            for s in states:
                fields = s.fields or ()
                positions.append(fields.index(name) + 1 if name in fields else None)
            columns[f"pos_{index}"] = pa.array(positions, pa.int32())
        return pa.table(columns)

    def _batch_sql(self, view: str, segments: str) -> str:
        wanted = self.all_fields()
        picks = ", ".join(f"parts[pos_{i}] AS v_{i}" for i in range(len(wanted)))
        tsv_values = ", ".join(
            f"CASE WHEN v_{i} = unset_field THEN NULL WHEN v_{i} = empty_field THEN '' "
            f"ELSE v_{i} END AS {_quote(name)}"
            for i, name in enumerate(wanted)
        )
        # JSON keys with dots must be quoted in the path: $."id.orig_h".
        paths = ", ".join(_literal(f"$.{_quote(name)}") for name in (*wanted, "_path"))
        json_values = ", ".join(f"v[{i + 1}] AS {_quote(name)}" for i, name in enumerate(wanted))
        path_index = len(wanted) + 1
        wrong_path = _literal(self.wrong_path_reason())
        path_re = _literal(self.path_pattern())
        return f"""
            WITH tsv_split AS (
                SELECT l.log_line, seg.*, string_split(l.line, seg.sep) AS parts
                FROM {view} AS l ASOF LEFT JOIN {segments} AS seg ON l.log_line >= seg.start_line
                WHERE NOT ({_SKIPPED_SQL}) AND NOT ({_JSON_SQL})
            ),
            tsv AS (
                SELECT log_line,
                       CASE WHEN n_fields IS NULL THEN {_literal(NO_FIELDS)}
                            WHEN NOT path_ok THEN {wrong_path}
                            WHEN len(parts) <> n_fields THEN {_literal(WRONG_FIELD_COUNT)}
                       END AS error,
                       {tsv_values},
                       set_sep
                FROM (SELECT log_line, n_fields, path_ok, parts, unset_field, empty_field, set_sep,
                             {picks}
                      FROM tsv_split)
            ),
            json_raw AS (
                -- json_valid first: json_extract_string raises on broken JSON.
                SELECT log_line,
                       CASE WHEN json_valid(line) THEN json_extract_string(line, [{paths}]) END AS v
                FROM {view} WHERE {_JSON_SQL}
            ),
            json AS (
                SELECT log_line,
                       CASE WHEN v IS NULL THEN {_literal(INVALID_JSON)}
                            WHEN v[{path_index}] IS NOT NULL
                                 AND NOT regexp_full_match(v[{path_index}], {path_re})
                                THEN {wrong_path}
                       END AS error,
                       {json_values},
                       -- JSON writes sets and vectors as arrays, not joined text.
                       CAST(NULL AS VARCHAR) AS set_sep
                FROM json_raw
            ),
            fields AS (SELECT * FROM tsv UNION ALL BY NAME SELECT * FROM json),
            timed AS (SELECT * EXCLUDE (error), error AS error0, {zeek_time_sql('"ts"')} AS ts_us
                      FROM fields),
            zeek AS (
                SELECT * EXCLUDE (error0),
                       coalesce(error0, CASE WHEN "ts" IS NULL THEN {_literal(MISSING_TIMESTAMP)}
                                             WHEN ts_us IS NULL THEN {_literal(INVALID_TIMESTAMP)}
                                        END) AS error
                FROM timed
            )
            -- Sorted so a batch gives the same rows in the same order on every run.
            SELECT * FROM ({self.select_sql("zeek")}) ORDER BY log_line
        """  # noqa: S608


def address_reasons(raw: pa.Array, normalised: pa.Array, missing: str, invalid: str) -> pa.Array:
    """Per row: ``missing`` where there was no value, ``invalid`` where it was no address."""
    reason = pc.if_else(pc.is_null(raw), pa.scalar(missing), pa.scalar(invalid))
    return pc.if_else(pc.is_null(normalised), reason, pa.scalar(None, pa.string()))


def raw_lines(lines: pa.Table, log_lines: pa.Array) -> pa.Array:
    """The original text of the given line numbers (for rejects)."""
    index = pc.index_in(log_lines, value_set=lines.column("log_line").combine_chunks())
    return pc.take(lines.column("line").combine_chunks(), index)


#: conn_state values where the originator did not reach a listening service:
#: no reply (S0), refused (REJ), half-open or backscatter (RSTOS0, RSTRH, SH,
#: SHR) and RSTR. Zeek documents RSTR only as "responder sent a RST", which can
#: follow a handshake; the issue defines it as failed: a responder that aborts is
#: treated as a refused probe (services that accept and reset at once look so).
FAILED_STATES: Final = ("S0", "REJ", "RSTOS0", "RSTR", "RSTRH", "SH", "SHR")
#: conn_state values with an established connection; RSTO (originator aborted
#: after the handshake) included, since the service did answer.
SUCCEEDED_STATES: Final = ("SF", "S1", "S2", "S3", "RSTO")


class ZeekConnParser(ZeekParser):
    """Zeek conn.log (TSV or JSON) -> ``network`` rows, one per connection.

    ``connection_outcome`` comes from ``conn_state``: failed for S0, REJ,
    RSTOS0, RSTR, RSTRH, SH, SHR; succeeded for SF, S1, S2, S3, RSTO; null for
    OTH (midstream, no handshake seen) and anything unknown. RSTR counts as
    failed by the issue's definition: a responder that aborts is treated as a
    refused probe. ``event_action`` stays null, Zeek observes and filters
    nothing; ``tcp_flags`` stays null (``history`` is not per packet).
    """

    name = "zeek-conn"
    dataset = "zeek.conn"
    table = "network"
    zeek_path = "conn"
    zeek_fields = (
        "id.orig_h",
        "id.orig_p",
        "id.resp_h",
        "id.resp_p",
        "proto",
        "conn_state",
        "orig_bytes",
        "resp_bytes",
        "orig_pkts",
        "resp_pkts",
    )
    sniff_keys = ("id.orig_h", "conn_state")

    def select_sql(self, relation: str) -> str:
        failed = ", ".join(_literal(s) for s in FAILED_STATES)
        succeeded = ", ".join(_literal(s) for s in SUCCEEDED_STATES)
        return f"""
            SELECT log_line, error, ts_us, source_ip, destination_ip, source_port,
                   destination_port, network_transport, connection_state, connection_outcome,
                   {present_sum_sql("ob", "rb")} AS network_bytes,
                   {present_sum_sql("op", "rp")} AS network_packets,
                   CASE WHEN (orig_p IS NOT NULL AND source_port IS NULL)
                          OR (resp_p IS NOT NULL AND destination_port IS NULL)
                       THEN {_literal(INVALID_PORT)}
                   END AS port_error
            FROM (
                SELECT log_line, error, ts_us,
                       "id.orig_h" AS source_ip,
                       "id.resp_h" AS destination_ip,
                       "id.orig_p" AS orig_p,
                       "id.resp_p" AS resp_p,
                       -- For ICMP Zeek puts type and code here; they are kept as ports.
                       CAST(TRY_CAST("id.orig_p" AS USMALLINT) AS INTEGER) AS source_port,
                       CAST(TRY_CAST("id.resp_p" AS USMALLINT) AS INTEGER) AS destination_port,
                       -- Zeek says icmp for ICMPv6 as well; unknown_transport -> null.
                       CASE lower(proto) WHEN 'tcp' THEN 'tcp' WHEN 'udp' THEN 'udp'
                                         WHEN 'icmp' THEN 'icmp' END AS network_transport,
                       conn_state AS connection_state,
                       CASE WHEN conn_state IN ({failed}) THEN 'failed'
                            WHEN conn_state IN ({succeeded}) THEN 'succeeded'
                       END AS connection_outcome,
                       -- Counts that are not counts are dropped, not the connection.
                       TRY_CAST(orig_bytes AS UBIGINT) AS ob,
                       TRY_CAST(resp_bytes AS UBIGINT) AS rb,
                       TRY_CAST(orig_pkts AS UBIGINT) AS op,
                       TRY_CAST(resp_pkts AS UBIGINT) AS rp
                FROM {relation}
            )
        """  # noqa: S608

    def finish(self, result: pa.Table, lines: pa.Table) -> Parsed:
        def col(name: str) -> pa.Array:
            return result.column(name).combine_chunks()

        source = normalise_ips(col("source_ip"))
        destination = normalise_ips(col("destination_ip"))
        reason = pc.coalesce(
            col("error"),
            address_reasons(col("source_ip"), source, MISSING_SOURCE, INVALID_SOURCE),
            address_reasons(
                col("destination_ip"), destination, MISSING_DESTINATION, INVALID_DESTINATION
            ),
            col("port_error"),
        )
        good = pc.is_null(reason)
        rows = pa.table(
            {
                "log_line": col("log_line"),
                "timestamp": col("ts_us").cast(schema.TIMESTAMP),
                "source_ip": source,
                "source_port": col("source_port"),
                "destination_ip": destination,
                "destination_port": col("destination_port"),
                "network_transport": col("network_transport"),
                "connection_state": col("connection_state"),
                "connection_outcome": col("connection_outcome"),
                "network_bytes": col("network_bytes"),
                "network_packets": col("network_packets"),
            }
        )
        rows = kept_rows(rows, good)
        if rows.num_rows == result.num_rows:
            return Parsed(rows=rows, rejects=EMPTY_REJECTS)
        bad = pc.invert(good)
        rejected_lines = pc.filter(col("log_line"), bad)
        rejects = reject_table(
            rejected_lines, pc.filter(reason, bad), raw_lines(lines, rejected_lines)
        )
        return Parsed(rows=rows, rejects=rejects)


#: Columns of a ``_ZeekEventParser`` query result that are not copied to the table.
_EVENT_INTERNAL: Final = ("error", "ts_us", "set_sep", "source_raw", "destination_raw")


def _ports_sql(orig: str, resp: str) -> str:
    """SQL: ``source_port``/``destination_port`` from Zeek port values, and ``port_error``."""
    return f"""
        CAST(TRY_CAST({orig} AS USMALLINT) AS INTEGER) AS source_port,
        CAST(TRY_CAST({resp} AS USMALLINT) AS INTEGER) AS destination_port,
        CASE WHEN ({orig} IS NOT NULL AND TRY_CAST({orig} AS USMALLINT) IS NULL)
               OR ({resp} IS NOT NULL AND TRY_CAST({resp} AS USMALLINT) IS NULL)
            THEN {_literal(INVALID_PORT)} END AS port_error"""


def _transport_sql(proto: str) -> str:
    return (
        f"CASE lower({proto}) WHEN 'tcp' THEN 'tcp' WHEN 'udp' THEN 'udp' "
        "WHEN 'icmp' THEN 'icmp' END"
    )


class _ZeekEventParser(ZeekParser):
    """Zeek logs whose rows have a source and an optional destination (dns, http...).

    ``select_sql`` gives ``log_line``, ``error``, ``ts_us``, ``source_raw``,
    ``destination_raw``, ``port_error`` and the table's other columns; this
    ``finish`` normalises the addresses and splits rows from rejects. Unlike
    conn.log, a missing destination is fine (a notice about a sweep has none).
    """

    def finish(self, result: pa.Table, lines: pa.Table) -> Parsed:
        def col(name: str) -> pa.Array:
            return result.column(name).combine_chunks()

        source_raw, destination_raw = col("source_raw"), col("destination_raw")
        source = normalise_ips(source_raw)
        destination = normalise_ips(destination_raw)
        bad_destination = pc.and_(pc.is_valid(destination_raw), pc.is_null(destination))
        reason = pc.coalesce(
            col("error"),
            address_reasons(source_raw, source, MISSING_SOURCE, INVALID_SOURCE),
            pc.if_else(
                bad_destination, pa.scalar(INVALID_DESTINATION), pa.scalar(None, pa.string())
            ),
            col("port_error"),
        )
        good = pc.is_null(reason)
        keep = [c for c in result.column_names if c not in (*_EVENT_INTERNAL, "port_error")]
        rows = (
            result.select(keep)
            .append_column("timestamp", col("ts_us").cast(schema.TIMESTAMP))
            .append_column("source_ip", source)
            .append_column("destination_ip", destination)
        )
        rows = kept_rows(rows, good)
        if rows.num_rows == result.num_rows:
            return Parsed(rows=rows, rejects=EMPTY_REJECTS)
        bad = pc.invert(good)
        rejected_lines = pc.filter(col("log_line"), bad)
        rejects = reject_table(
            rejected_lines, pc.filter(reason, bad), raw_lines(lines, rejected_lines)
        )
        return Parsed(rows=rows, rejects=rejects)


def _set_sql(column: str) -> str:
    """SQL: a Zeek set/vector value as a list (TSV joined by ``set_sep``, JSON an array)."""
    return f"""CASE WHEN {column} IS NULL THEN NULL
                    WHEN set_sep IS NULL THEN json_extract_string({column}, '$[*]')
                    WHEN {column} = '' THEN []
                    ELSE string_split({column}, set_sep) END"""


#: Zeek's qclass_name values -> the mnemonics of the ``dns`` table.
_QCLASSES: Final = {
    "C_INTERNET": "IN",
    "C_CHAOS": "CH",
    "C_HESIOD": "HS",
    "C_NONE": "NONE",
    "C_ANY": "ANY",
}


class ZeekDnsParser(_ZeekEventParser):
    """Zeek dns.log (TSV or JSON) -> ``dns``, one row per DNS transaction.

    ``query`` lower-cased without a trailing dot; ``qtype_name`` (``*`` is
    ANY; an unnamed type, ``query-<n>`` or only ``qtype``, becomes the
    number's mnemonic or ``TYPE<n>``: ``dns_lines.qtype_sql``); ``qclass_name`` as IN, CH...;
    ``rcode_name``; ``answers`` (Zeek's TTLs are not kept: the table has no
    column for them); ``trans_id``. ``event_action`` is ``rejected`` when Zeek
    saw the server reject the query (``rejected`` T), else allowed. Query
    names are kept as written, Zeek's ``\\xHH`` escapes included.
    """

    name = "zeek-dns"
    dataset = "zeek.dns"
    table = "dns"
    zeek_path = "dns"
    zeek_fields = (
        "id.orig_h",
        "id.orig_p",
        "id.resp_h",
        "id.resp_p",
        "proto",
        "trans_id",
        "query",
        "qclass_name",
        "qtype",
        "qtype_name",
        "rcode_name",
        "answers",
        "rejected",
    )
    sniff_keys = ("id.orig_h", "trans_id", "qtype_name")

    def select_sql(self, relation: str) -> str:
        classes = " ".join(
            f"WHEN {_literal(zeek)} THEN {_literal(ours)}" for zeek, ours in _QCLASSES.items()
        )
        query = '"query"'
        # Zeek names the types it knows; an unnamed one is ``query-<n>`` (its
        # consts.zeek default) or, with no name at all, only the number: both
        # are read from the number (qtype_sql: the mnemonic, else TYPE<n>).
        qtype = qtype_sql(
            "CASE WHEN qtype_name IS NULL OR starts_with(qtype_name, 'query-') "
            "THEN coalesce(qtype, substr(qtype_name, 7)) ELSE qtype_name END"
        )
        return f"""
            SELECT log_line, error, ts_us,
                   "id.orig_h" AS source_raw, "id.resp_h" AS destination_raw,
                   {_ports_sql('"id.orig_p"', '"id.resp_p"')},
                   {_transport_sql("proto")} AS network_transport,
                   CASE WHEN suffix({query}, '.') AND {query} <> '.'
                        THEN lower(left({query}, -1)) ELSE lower({query}) END
                       AS dns_question_name,
                   CASE WHEN qtype_name = '*' THEN 'ANY'
                        ELSE {qtype} END AS dns_question_type,
                   CASE qclass_name {classes} ELSE qclass_name END AS dns_question_class,
                   rcode_name AS dns_response_code,
                   {_set_sql('"answers"')} AS dns_answers,
                   CAST(TRY_CAST(trans_id AS USMALLINT) AS INTEGER) AS dns_id,
                   CASE WHEN rejected IN ('T', 'true') THEN 'rejected' ELSE 'allowed' END
                       AS event_action
            FROM {relation}
        """  # noqa: S608


class ZeekHttpParser(_ZeekEventParser):
    """Zeek http.log (TSV or JSON) -> ``http``, one row per request.

    ``host`` (lower-case) as the domain, ``uri`` split at its first ``?`` into
    path and query, ``method``, ``version``, ``status_code``,
    ``response_body_len``, ``referrer``, ``user_agent``. Values are kept as
    written, Zeek's ``\\xHH`` escapes included.
    """

    name = "zeek-http"
    dataset = "zeek.http"
    table = "http"
    zeek_path = "http"
    zeek_fields = (
        "id.orig_h",
        "id.orig_p",
        "id.resp_h",
        "id.resp_p",
        "host",
        "uri",
        "method",
        "version",
        "status_code",
        "response_body_len",
        "referrer",
        "user_agent",
        "username",
    )
    sniff_keys = ("id.orig_h", "trans_depth")

    def select_sql(self, relation: str) -> str:
        return f"""
            SELECT log_line, error, ts_us,
                   "id.orig_h" AS source_raw, "id.resp_h" AS destination_raw,
                   {_ports_sql('"id.orig_p"', '"id.resp_p"')},
                   lower(host) AS url_domain,
                   method AS http_request_method,
                   CASE WHEN contains(uri, '?') THEN split_part(uri, '?', 1) ELSE uri END
                       AS url_path,
                   CASE WHEN contains(uri, '?') THEN substr(uri, strpos(uri, '?') + 1) END
                       AS url_query,
                   version AS http_version,
                   {status_code_sql("status_code")} AS http_response_status_code,
                   {byte_count_sql("response_body_len")} AS http_response_bytes,
                   referrer AS http_request_referrer,
                   user_agent AS user_agent_original,
                   username AS user_name
            FROM {relation}
        """  # noqa: S608


class ZeekNoticeParser(_ZeekEventParser):
    """Zeek notice.log (TSV or JSON) -> ``alert``, one row per notice.

    ``note`` (``Scan::Address_Scan``, ``Scan::Port_Scan``...) is the rule id,
    ``msg`` the rule name, the note's module (``Scan``) the category. Scan
    notices name their actor in ``src`` (and a ``dst``/``p`` for a port scan)
    without a connection, so the endpoints are ``src``/``dst``/``p`` when set,
    else the connection's ``id.*``. ``event_action`` is denied when the
    notice's actions include ``Notice::ACTION_DROP``.
    """

    name = "zeek-notice"
    dataset = "zeek.notice"
    table = "alert"
    zeek_path = "notice"
    zeek_fields = (
        "id.orig_h",
        "id.orig_p",
        "id.resp_h",
        "id.resp_p",
        "proto",
        "note",
        "msg",
        "src",
        "dst",
        "p",
        "actions",
    )
    sniff_keys = ("note", "msg", "actions")

    def select_sql(self, relation: str) -> str:
        return f"""
            SELECT log_line, error, ts_us,
                   coalesce(src, "id.orig_h") AS source_raw,
                   coalesce(dst, "id.resp_h") AS destination_raw,
                   {_ports_sql('"id.orig_p"', 'coalesce(p, "id.resp_p")')},
                   {_transport_sql("proto")} AS network_transport,
                   note AS rule_id,
                   msg AS rule_name,
                   nullif(split_part(note, '::', 1), '') AS rule_category,
                   CASE WHEN contains(actions, 'Notice::ACTION_DROP') THEN 'denied' END
                       AS event_action
            FROM {relation}
        """  # noqa: S608


class ZeekWeirdParser(_ZeekEventParser):
    """Zeek weird.log (TSV or JSON) -> ``alert``: protocol oddities scanners provoke.

    ``name`` is the rule id and name (``addl`` appended to the name when set),
    the category ``weird``. Weirds not tied to a connection (no ``id.orig_h``)
    are rejected: ``missing source address``.
    """

    name = "zeek-weird"
    dataset = "zeek.weird"
    table = "alert"
    zeek_path = "weird"
    zeek_fields = ("id.orig_h", "id.orig_p", "id.resp_h", "id.resp_p", "name", "addl")
    sniff_keys = ("name", "notice", "peer")

    def select_sql(self, relation: str) -> str:
        return f"""
            SELECT log_line, error, ts_us,
                   "id.orig_h" AS source_raw, "id.resp_h" AS destination_raw,
                   {_ports_sql('"id.orig_p"', '"id.resp_p"')},
                   "name" AS rule_id,
                   CASE WHEN addl IS NOT NULL AND addl <> '' THEN "name" || ' ' || addl
                        ELSE "name" END AS rule_name,
                   'weird' AS rule_category
            FROM {relation}
        """  # noqa: S608


PARSERS: tuple[type[Parser], ...] = (
    ZeekConnParser,
    ZeekDnsParser,
    ZeekHttpParser,
    ZeekNoticeParser,
    ZeekWeirdParser,
)
