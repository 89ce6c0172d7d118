"""Syslog envelopes in DuckDB SQL: the stamp, host and program around a message.

Parsers of formats that travel inside syslog (netfilter LOG, pf filterlog,
Cisco ASA, sshd...) build their batch query on this module, so that all of them
read the same envelopes the same way and turn the same stamps into UTC:

* RFC 3164 (BSD): ``Sep 30 10:09:23 host kernel: msg``, ``<PRI>`` optional.
  The stamp has neither year nor zone: the zone is ``config.syslog.timezone``
  and the year is inferred per file (``SyslogEnvelope``).
* ISO 8601 stamps with a zone, as ``journalctl -o short-iso`` and rsyslog's
  high-precision template write them: ``2026-09-30T10:09:23+0200 host kernel:
  msg``, ``2023-03-18T20:36:59.594792+01:00 host kernel: msg``.
* RFC 5424: ``<4>1 2026-09-30T10:09:23.123+02:00 host app procid msgid [sd] msg``
  where any header field may be the NILVALUE ``-``.

Why the regexes look as they do: DuckDB runs RE2, which extracts submatches
quickly only from an anchored pattern with at most four capturing groups (its
one-pass engine); with a fifth group the same pattern costs about three times
as much. So the envelope captures exactly four groups (stamp, host, program and
one group the caller supplies for the part of the message it needs), and one
pass over each line both recognises the envelope and cuts the message.

Usage, per batch, with one ``SyslogEnvelope`` per file (see ``netfilter``)::

    envelope = SyslogEnvelope(ctx.config.syslog, ctx.now)   # in __init__
    sql = f"WITH env AS ({envelope.select_sql('lines', HEAD)}) SELECT ... FROM env"
    result = con.sql(sql, params=envelope.params()).to_arrow_table()
    timestamps = envelope.resolve(con, result)   # RFC 3164 years, in line order
"""

from __future__ import annotations

import datetime as dt
import uuid
import zoneinfo
from functools import lru_cache
from typing import Final

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from reconwatch.config import SyslogConfig
from reconwatch.ingest.base import REPEAT, ParseContext, Parser, ascending

#: ``<PRI>`` before a BSD or ISO envelope (syslog relays keep it, files drop it).
PRI: Final = r"(?:<\d{1,3}>)?"
#: RFC 3164 stamp: day padded with a space ("Jun  8") or, from some relays, not.
BSD_STAMP: Final = r"[A-Z][a-z]{2}  ?\d{1,2} \d{2}:\d{2}:\d{2}"
#: ISO 8601 stamp with a zone: journal short-iso (+0200), rsyslog (+02:00), Z.
ISO_STAMP: Final = r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:Z|[+-]\d{2}:?\d{2})"
#: The program tag: ``kernel:``, ``sshd[1234]:``. The pid is dropped, not captured,
#: to stay within four groups.
TAG: Final = r"([^\s:\[\]]+)(?:\[\d+\])?:"
#: RFC 5424 structured data: ``-`` or one or more ``[id k="v"]`` (``\]`` escaped).
STRUCTURED_DATA: Final = r"(?:-|(?:\[(?:[^\]\\]|\\.)*\])+)"

#: Names of the columns ``SyslogEnvelope.select_sql`` adds.
KIND: Final = "sl_kind"
HOST: Final = "sl_host"
PROGRAM: Final = "sl_program"
MESSAGE: Final = "sl_message"
#: rsyslog's line for identical messages it folded (``$RepeatedMsgReduction``,
#: on in Debian's and Ubuntu's rsyslog.conf): ``message repeated 3 times: [
#: Failed password for root from 203.0.113.5 port 22 ssh2]``. With
#: ``select_sql(..., repeats=True)`` the message inside is read as any other,
#: and its row written N times (``base.REPEAT``).
REPEATED: Final = r"^message repeated (\d{1,9}) times: \[ ?(.*)\]$"


def repeat_sql(text: str, pattern: str = REPEATED) -> str:
    """SQL: rsyslog's repeat wrapper in ``text`` as a struct ``{n, msg}`` (the
    count's digits, the message inside), NULL when ``text`` is no wrapper.
    A prefix test first: the pattern runs on the repeat lines only.
    ``pattern`` has those two groups: ``REPEATED``, or a parser's own for a
    text its envelope cut short of the closing ']' (netfilter's head)."""
    return (
        f"CASE WHEN starts_with({text}, 'message repeated ') THEN "
        f"nullif(regexp_extract({text}, {sql_literal(pattern)}, ['n', 'msg']), "
        "{'n': '', 'msg': ''}) END"
    )


def repeat_count_sql(rep: str) -> str:
    """SQL: the ``base.REPEAT`` value of a ``repeat_sql`` struct ``rep``."""
    return f"TRY_CAST({rep}.n AS BIGINT)"


TIME: Final = "sl_time"
MONTH: Final = "sl_month"
DAY: Final = "sl_day"
TOD: Final = "sl_tod"
#: Used inside ``select_sql`` only.
STAMP: Final = "sl_stamp"

#: The columns that hold the BSD/ISO envelope's four groups already cut, for
#: ``select_sql(..., precut=True)`` (the netfilter scanner cuts them in C).
PRECUT: Final = ("e_stamp", "e_host", "e_program", "e_head")

#: A month that steps back by this many months or more starts the next year
#: (Dec -> Jan is -11); one that jumps forward by more is a late line from the
#: year before (Jan, then a Dec line relayed late). Half a year either way is
#: the only split that reads both a year boundary and a few out-of-order lines
#: around it correctly: with "any step back is a new year", one late line at a
#: month's end would move the whole rest of the file a year ahead.
ROLLOVER_MONTHS: Final = 6

_MONTHS: Final = "JanFebMarAprMayJunJulAugSepOctNovDec"
#: Zone names that mean UTC: stamps in them need no conversion.
UTC_NAMES: Final = frozenset({"UTC", "Etc/UTC", "Etc/UCT", "UCT", "Universal", "Zulu", "GMT"})


def sql_literal(text: str) -> str:
    """A DuckDB string literal (for the constant patterns below, never for log text)."""
    return "'" + text.replace("'", "''") + "'"


def _bsd_month(stamp: str) -> str:
    return f"CAST(nullif((instr({sql_literal(_MONTHS)}, left({stamp}, 3)) + 2) // 3, 0) AS INTEGER)"


def _bsd_day(stamp: str) -> str:
    return f"CAST(trim(substr({stamp}, 5, 2)) AS INTEGER)"


def _bsd_tod(stamp: str) -> str:
    return f"TRY_CAST(right({stamp}, 8) AS TIME)"


#: The UTC time of a zoned (ISO or RFC 5424) stamp in column ``{stamp}``.
ISO_TIME_SQL: Final = "timezone('UTC', TRY_CAST({stamp} AS TIMESTAMPTZ))"

#: Whether the line starts an RFC 5424 envelope (a DFA-only test).
IS_5424: Final = "regexp_matches(line, '^<\\d{1,3}>1 ')"

#: What ``select_sql(..., precut=True)`` reads besides ``PRECUT``, computed
#: beforehand from the line and ``e_stamp`` (the netfilter scanner does it in
#: C); each SQL expression is the specification. The month, day and time of
#: day are those of a BSD stamp (``e_stamp`` starting with a capital), NULL
#: for any other.
PRECUT_TYPED: Final = (
    *(
        (name, f"CASE WHEN e_stamp[1] BETWEEN 'A' AND 'Z' THEN {part('e_stamp')} END")
        for name, part in (("e_month", _bsd_month), ("e_day", _bsd_day), ("e_tod", _bsd_tod))
    ),
    ("e_5424", IS_5424),
)


def bsd_iso_pattern(message: str) -> str:
    """The RFC 3164 / ISO envelope regex; ``message`` has exactly one group.

    The message is optional as a whole, after one space. Written so, the pattern
    stays one-pass (each byte decides the next step); ``: ?`` or ``:(?: |$)``
    before the message would let two branches take the same space and cost
    RE2's slower engine, more than twice the time per line.
    """
    return rf"^{PRI}({BSD_STAMP}|{ISO_STAMP}) (\S+) {TAG}(?: {message})?"


def rfc5424_pattern(message: str) -> str:
    """The RFC 5424 envelope regex; ``message`` has exactly one group.

    The stamp is captured as any token so that a malformed one reads as an
    invalid timestamp rather than as an unknown envelope. A UTF-8 BOM, which
    RFC 5424 allows before the message, is skipped.
    """
    return rf"^<\d{{1,3}}>1 (\S+) (\S+) (\S+) \S+ \S+ {STRUCTURED_DATA}(?: \x{{FEFF}}?{message})?"


class SyslogEnvelope:
    """Reads the envelopes of one file, batch after batch; one instance per file.

    Two steps per batch, so that the line-parallel work and the line-ordered
    work each run at their best:

    1. ``select_sql`` goes into the parser's batch query and cuts the envelope
       of every line (parallel over lines). Zoned stamps become UTC there;
       RFC 3164 stamps only get their month, day and time of day.
    2. ``resolve`` gives RFC 3164 stamps their year (counting the turns of
       the year in line order over the stamps where the month changes) and
       their UTC time, and returns the batch's complete UTC timestamp column.

    Years: the first RFC 3164 stamp of a file takes ``config.year``, or when
    that is null the year of ``now``, minus one if its month is after ``now``'s
    month (a file read in January that starts in December). From there each
    such stamp is compared with the one before it: a step back of
    ``ROLLOVER_MONTHS`` or more starts the next year, a jump forward of more
    than that is a late line of the year before. The last stamp's year and
    month are kept for the file's next batch.

    Clocks going back: in a zone with daylight saving time, the wall-clock
    hour before the autumn change comes twice (02:00-03:00 in Europe/Paris),
    and a stamp without a zone does not say which. File order does: a stamp
    in that hour is the first (summer) reading until the file jumps back by
    more than ``FOLD_JUMP`` within the hour, and the second (winter) reading
    from there on. A file that never shows the jump reads the first (as
    Python's ``fold=0``). The state carries across batches.
    """

    def __init__(self, config: SyslogConfig, now: dt.datetime) -> None:
        self.config = config
        self.now = now.astimezone(dt.UTC) if now.tzinfo else now
        #: Year and month of the last RFC 3164 stamp seen in this file (None before any).
        self.year: int | None = None
        self.month: int | None = None
        #: Per repeated hour (its local start): the latest local stamp seen in
        #: it so far (µs) and whether the file already jumped back into it.
        self.folds: dict[int, tuple[int, bool]] = {}

    # -- step 1: in the parser's query ------------------------------------------------

    @property
    def _convert_zone(self) -> bool:
        return self.config.timezone not in UTC_NAMES

    def params(self) -> dict[str, object]:
        """Named parameters that ``select_sql`` needs bound in the parser's query."""
        return {"syslog_tz": self.config.timezone} if self._convert_zone else {}

    def _local_to_utc(self, local: str) -> str:
        """SQL turning a wall-clock TIMESTAMP of the configured zone into UTC.

        ICU resolves a wall-clock time that a DST change skips or repeats to one
        of its readings; a stamp that carries no zone cannot say which is meant.
        """
        if not self._convert_zone:
            return local
        return f"timezone('UTC', timezone($syslog_tz, {local}))"

    def select_sql(
        self, source: str, message: str = r"(.*)", precut: bool = False, repeats: bool = False
    ) -> str:
        """A query over ``source`` (a relation with a ``line`` column) adding the envelope.

        Added columns: ``sl_kind`` ('bsd', 'iso', 'rfc5424', or NULL when no
        envelope is recognised); ``sl_host`` and ``sl_program`` (NULL for
        ``-``); ``sl_message``, what the single group of ``message`` captured
        (pass a narrower pattern than ``(.*)`` to cut only what the parser
        needs; where it does not match, the envelope still does and this is
        ''); ``sl_time``, the UTC TIMESTAMP of a zoned stamp (NULL for RFC 3164
        until ``resolve``, and for impossible stamps); and for RFC 3164
        ``sl_month``, ``sl_day`` and ``sl_tod`` (time of day), which ``resolve``
        needs. ``source`` keeps its columns; keep ``log_line`` among them.
        ``precut``: ``source`` has the ``PRECUT`` columns, what
        ``bsd_iso_pattern(message)`` captures on each line, cut beforehand,
        and the ``PRECUT_TYPED`` columns computed from them.
        ``repeats``: rsyslog's ``message repeated N times: [ msg]`` is read as
        ``msg`` (``sl_message``) and N goes to a ``base.REPEAT`` column (NULL
        for other lines), which the parser passes on for the framework to write
        the row N times (``message`` must then capture the whole message).
        """
        fields = "['stamp', 'host', 'program', 'message']"
        bsd_iso = f"regexp_extract(line, {sql_literal(bsd_iso_pattern(message))}, {fields})"
        if precut:
            pieces = ", ".join(
                f"{name} := {column}"
                for name, column in zip(
                    ("stamp", "host", "program", "message"), PRECUT, strict=True
                )
            )
            bsd_iso = f"struct_pack({pieces})"
            # For a BSD line the stamp is e_stamp: its parts are computed already.
            month, day, tod, is_5424 = (name for name, _ in PRECUT_TYPED)
        else:
            month, day, tod = _bsd_month(STAMP), _bsd_day(STAMP), _bsd_tod(STAMP)
            is_5424 = IS_5424
        rfc5424 = sql_literal(rfc5424_pattern(message))
        iso_zoned = sql_literal(ISO_STAMP)
        iso_local = sql_literal(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?")
        zoned_time = ISO_TIME_SQL.format(stamp=STAMP)
        local_time = self._local_to_utc(f"TRY_CAST({STAMP} AS TIMESTAMP)")
        sql = f"""
        SELECT * EXCLUDE ({STAMP}),
               CASE {KIND}
                   WHEN 'iso' THEN {zoned_time}
                   WHEN 'rfc5424' THEN CASE
                       WHEN regexp_full_match({STAMP}, {iso_zoned}) THEN {zoned_time}
                       -- RFC 5424 requires a zone; a relay that drops it means local time.
                       WHEN regexp_full_match({STAMP}, {iso_local}) THEN {local_time}
                   END
               END AS {TIME},
               CASE WHEN {KIND} = 'bsd' THEN {month} END AS {MONTH},
               CASE WHEN {KIND} = 'bsd' THEN {day} END AS {DAY},
               CASE WHEN {KIND} = 'bsd' THEN {tod} END AS {TOD}
        FROM (
            SELECT * EXCLUDE (sl_env, is_5424),
                   CASE WHEN sl_env.stamp = '' THEN NULL
                        WHEN is_5424 THEN 'rfc5424'
                        WHEN sl_env.stamp[1] BETWEEN 'A' AND 'Z' THEN 'bsd'
                        ELSE 'iso' END AS {KIND},
                   sl_env.stamp AS {STAMP},
                   nullif(nullif(sl_env.host, '-'), '') AS {HOST},
                   nullif(sl_env.program, '-') AS {PROGRAM},
                   sl_env.message AS {MESSAGE}
            FROM (
                SELECT *,
                       -- A DFA-only test first: the RFC 5424 pattern runs for its lines only.
                       CASE WHEN is_5424 THEN regexp_extract(line, {rfc5424}, {fields})
                            ELSE {bsd_iso} END AS sl_env
                FROM (SELECT *, {is_5424} AS is_5424 FROM {source})
            )
        )
        """  # noqa: S608 - constant patterns and a caller-given relation name only
        if not repeats:
            return sql
        return f"""
        SELECT * EXCLUDE (sl_rep) REPLACE (
                   CASE WHEN sl_rep.msg <> '' THEN sl_rep.msg ELSE {MESSAGE} END AS {MESSAGE}),
               CASE WHEN sl_rep.msg <> '' THEN {repeat_count_sql("sl_rep")} END AS {REPEAT}
        FROM (SELECT *, {repeat_sql(MESSAGE)} AS sl_rep FROM ({sql}))
        """  # noqa: S608 - constant patterns and the query above only

    # -- step 2: after the parser's query ---------------------------------------------

    def _base_year(self, first_month: int) -> int:
        if self.year is not None:
            return self.year
        if self.config.year is not None:
            return self.config.year
        return self.now.year - 1 if first_month > self.now.month else self.now.year

    def resolve(self, con: duckdb.DuckDBPyConnection, result: pa.Table) -> pa.Array:
        """The UTC timestamps of ``result``'s rows, RFC 3164 ones given their year.

        ``result`` is the batch's query result with ``log_line`` and the columns
        of ``select_sql``, in any row order. Advances the file's year state.

        A year can only turn where the month changes from one stamp to the
        next, so the turns are counted over those rows alone (a handful per
        batch), and the other stamps take the year of the change before them.
        """
        months = result.column(MONTH).combine_chunks()
        # Most batches are RFC 3164 throughout (a firewall's kernel log): then
        # every stamp is resolved here, and nothing is picked out or merged back.
        has_month = None if len(months) and months.null_count == 0 else pc.is_valid(months)
        if has_month is not None and not pc.any(has_month).as_py():
            return self._zoned_times(result)

        def picked(column: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
            return column if has_month is None else pc.filter(column, has_month)

        stamps = pa.table(
            {
                "pos": np.arange(len(months))
                if has_month is None
                else pc.indices_nonzero(has_month),
                "log_line": picked(result.column("log_line")),
                "month": picked(months),
                "day": picked(result.column(DAY)),
                "tod": picked(result.column(TOD)),
            }
        )
        if not ascending(stamps.column("log_line")):
            stamps = stamps.sort_by("log_line")
        month = stamps.column("month").combine_chunks()
        previous = pa.concat_arrays([pa.array([self.month], pa.int32()), month[:-1]])
        # The batch's first stamp always counts as a change: it carries the year in.
        before = pa.concat_arrays([pa.nulls(1, pa.int32()), month[:-1]])
        changed = pc.fill_null(pc.not_equal(month, before), True)
        changes = pa.table(
            {
                "log_line": pc.filter(stamps.column("log_line"), changed),
                "month": pc.filter(month, changed),
                "previous": pc.filter(previous, changed),
            }
        )
        base = self._base_year(int(month[0].as_py()))
        # Each change's year: the base plus the turns up to it (a step back of
        # ROLLOVER_MONTHS or more is a new year, a jump forward of more than
        # that a late line of the year before; no month before: no turn).
        step = pc.fill_null(pc.subtract(changes.column("month"), changes.column("previous")), 0)
        steps = step.to_numpy(zero_copy_only=False)
        turns = np.where(steps <= -ROLLOVER_MONTHS, 1, np.where(steps > ROLLOVER_MONTHS, -1, 0))
        at_changes = pa.array(base + np.cumsum(turns), pa.int32())
        year = pc.fill_null_forward(
            pc.replace_with_mask(pa.nulls(len(month), pa.int32()), changed, at_changes)
        )
        local = wall_clock(year, month, stamps.column("day"), stamps.column("tod"))
        utc = (
            _query(
                con,
                self._to_utc,
                pa.table({"i": np.arange(len(local)), "local": local}),
                self.params(),
            ).column("utc")
            if self._convert_zone
            else local
        )
        self.year = int(year[-1].as_py())
        self.month = int(month[-1].as_py())
        if self._convert_zone:
            utc = self._repeated_hours(local, utc.combine_chunks().cast(pa.timestamp("us")))
        # Back in the order of ``result``: ``stamps`` is in line order (most often the same).
        positions = stamps.column("pos")
        if not ascending(positions):
            utc = pc.take(utc, pc.sort_indices(positions))
        if has_month is None:
            return utc
        return pc.replace_with_mask(self._zoned_times(result), has_month, utc)

    @staticmethod
    def _zoned_times(result: pa.Table) -> pa.Array:
        """The times ``select_sql`` gave the stamps that carry their zone (UTC)."""
        return result.column(TIME).combine_chunks().cast(pa.timestamp("us"))

    @property
    def _to_utc(self) -> str:
        """A query turning the wall-clock ``local`` column of ``{view}`` into UTC, in row order."""
        return f"SELECT {self._local_to_utc('local')} AS utc FROM {{view}} ORDER BY i"  # noqa: S608

    def _repeated_hours(self, local: pa.Array, utc: pa.Array) -> pa.Array:
        """``utc`` with the stamps of a repeated (clocks back) hour read in file order."""
        valid = local.drop_null()
        if len(valid) == 0:
            return utc
        lows, highs = pc.min_max(valid.cast(pa.int64())).values()
        # Years through NumPy: Python's datetime stops at 9999 (a configured
        # year of 9999 rolls over into 10000). ``fall_backs`` steps a day past
        # its year's ends, which datetime cannot do for years 1 and 9999: their
        # clock changes (and any beyond) are not looked up.
        first, last = (
            int(np.datetime64(bound.as_py(), "us").astype("datetime64[Y]").astype(int)) + 1970
            for bound in (lows, highs)
        )
        years = range(max(first, dt.MINYEAR + 1), min(last, dt.MAXYEAR - 1) + 1)
        micros = pc.fill_null(local.cast(pa.int64()), 0).to_numpy(zero_copy_only=False)
        missing = pc.is_null(utc).to_numpy(zero_copy_only=False)  # impossible dates stay null
        result = pc.fill_null(utc.cast(pa.int64()), 0).to_numpy(zero_copy_only=False).copy()
        changed = False
        for start, end, first, second in (
            r for y in years for r in fall_backs(self.config.timezone, y)
        ):
            inside = pc.fill_null(
                pc.and_(pc.greater_equal(local, pa.scalar(start, pa.timestamp("us"))),
                        pc.less(local, pa.scalar(end, pa.timestamp("us")))),
                False,
            )  # fmt: skip
            where = np.flatnonzero(inside.to_numpy(zero_copy_only=False))
            if len(where) == 0:
                continue
            key = int(np.datetime64(start, "us").astype(np.int64))
            # No stamp of the hour yet: its start stands in (nothing jumps back past it).
            seen, jumped = self.folds.get(key, (key, False))
            values = micros[where]
            # The latest stamp of the hour before each one, in file order.
            before = np.maximum.accumulate(np.concatenate([[seen], values]))[:-1]
            jumps = values < before - FOLD_JUMP_US
            second_reading = np.logical_or.accumulate(np.concatenate([[jumped], jumps]))[1:]
            result[where] = values - np.where(second_reading, second, first)
            self.folds[key] = (int(max(seen, values.max())), bool(second_reading[-1]))
            changed = True
        if not changed:
            return utc
        return pa.array(result, pa.int64(), mask=missing).cast(pa.timestamp("us"))


def wall_clock(year: pa.Array, month: pa.Array, day: pa.Array, tod: pa.Array) -> pa.Array:
    """The wall-clock TIMESTAMPs (µs) of dates and times of day, null where the
    date does not exist (February 30) or a part is missing -- what DuckDB's
    ``try(make_date(year, month, day)) + tod`` gives, in NumPy: DuckDB took
    a query per batch (about 10 ms of 25 for 130,000 netfilter stamps).

    Stamps in line order keep their date for hours, so each run of one date
    is turned into days once (the arithmetic over every stamp cost 9 ms).
    """
    y, m, d = (_filled(part.cast(pa.int64()), 1) for part in (year, month, day))
    valid = np.ones(len(y), dtype=bool)
    for part in (year, month, day, tod):
        if part.null_count:
            valid &= pc.is_valid(part).to_numpy(zero_copy_only=False)
    runs = np.flatnonzero(np.diff(y) | np.diff(m) | np.diff(d)) + 1
    starts = np.concatenate([[0], runs]) if len(y) else runs
    days, known = _days_from_civil(y[starts], m[starts], d[starts])
    # Beyond what a timestamp holds (a year carried past 290,000 by as many
    # rollovers) the microseconds would wrap: no such time, as for February 30.
    known &= np.abs(days) < TIMESTAMP_DAYS
    lengths = np.diff(np.append(starts, len(y)))
    valid &= np.repeat(known, lengths)
    seconds = _filled(tod.cast(pa.time64("us")).cast(pa.int64()), 0)
    micros = np.repeat(days * 86_400_000_000, lengths) + seconds
    return pa.array(micros, pa.timestamp("us"), mask=~valid)


def _filled(values: pa.Array | pa.ChunkedArray, fill: int) -> np.ndarray:
    """``values`` as NumPy, nulls replaced by ``fill`` (no copy in Arrow when there is none)."""
    if values.null_count:
        values = pc.fill_null(values, fill)
    filled: np.ndarray = values.to_numpy(zero_copy_only=False)
    return filled


#: Whole days a microsecond TIMESTAMP holds on either side of 1970, less the
#: day a time of day may add.
TIMESTAMP_DAYS: Final = (2**63 - 1) // 86_400_000_000 - 1
_MONTH_DAYS: Final = np.array([0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31])


def _days_from_civil(y: np.ndarray, m: np.ndarray, d: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Days since 1970-01-01 of proleptic Gregorian dates (H. Hinnant's
    ``days_from_civil``), and whether each date exists."""
    leap = ((y % 4 == 0) & (y % 100 != 0)) | (y % 400 == 0)
    in_range = (m >= 1) & (m <= 12) & (d >= 1)
    last = _MONTH_DAYS[np.where(in_range, m, 0)] + (leap & (m == 2))
    exists = in_range & (d <= last)
    y = y - (m <= 2)
    era = np.floor_divide(y, 400)
    year_of_era = y - era * 400
    day_of_year = (153 * np.where(m > 2, m - 3, m + 9) + 2) // 5 + d - 1
    day_of_era = year_of_era * 365 + year_of_era // 4 - year_of_era // 100 + day_of_year
    return era * 146097 + day_of_era - 719468, exists


#: A step back in the repeated hour larger than this is the clocks going back,
#: not a line logged a little late.
FOLD_JUMP: Final = dt.timedelta(minutes=10)
FOLD_JUMP_US: Final = int(FOLD_JUMP.total_seconds() * 1_000_000)


@lru_cache(maxsize=256)
def fall_backs(zone: str, year: int) -> tuple[tuple[dt.datetime, dt.datetime, int, int], ...]:
    """The repeated wall-clock intervals of ``zone`` in ``year``: clocks going back.

    Each is (local start, local end, the first reading's UTC offset, the
    second's), offsets in microseconds: a wall-clock time ``t`` inside is UTC
    ``t - first`` the first time round and ``t - second`` the second.
    Found by stepping through the year's UTC hours (offset changes fall on
    whole hours or half hours; a half-hour step finds them all).
    """
    tz = zoneinfo.ZoneInfo(zone)
    found = []
    at = dt.datetime(year, 1, 1, tzinfo=dt.UTC) - dt.timedelta(days=1)
    end = dt.datetime(year + 1, 1, 1, tzinfo=dt.UTC) + dt.timedelta(days=1)
    step = dt.timedelta(minutes=30)
    before = at.astimezone(tz).utcoffset()
    while at < end:
        after_at = at + step
        after = after_at.astimezone(tz).utcoffset()
        if before is not None and after is not None and after < before:
            # The change happened at ``after_at`` (to the step): local time
            # jumped from after_at + before back to after_at + after.
            naive = after_at.replace(tzinfo=None)
            start, stop = naive + after, naive + before
            if start.year == year:
                found.append(
                    (
                        start,
                        stop,
                        int(before.total_seconds() * 1e6),
                        int(after.total_seconds() * 1e6),
                    )
                )
        before, at = after, after_at
    return tuple(found)


def _query(
    con: duckdb.DuckDBPyConnection, sql: str, table: pa.Table, params: dict[str, object]
) -> pa.Table:
    """Run ``sql`` (with ``{view}`` for ``table``) on a cursor of its own."""
    view = f"syslog_stamps_{uuid.uuid4().hex}"
    cursor = con.cursor()
    try:
        cursor.register(view, table)
        return cursor.sql(sql.replace("{view}", view), params=params).to_arrow_table()
    finally:
        cursor.close()


#: A syslog daemon's note that the previous message came again, without the
#: message: sysklogd's and the BSDs' ``last message repeated 3 times`` (macOS
#: and FreeBSD between ``---``), syslog-ng's ``Last message 'kernel: ...'
#: repeated 2 times, suppressed by syslog-ng on fw1`` (the message cut short).
#: rsyslog's ``message repeated N times: [ msg ]`` holds the message and is
#: read by each parser as N events.
#: Anchored to the envelope: the words inside another program's message (a
#: URL a client chose, say) must not rename that line's reject.
REPEAT_MARKER: Final = (
    rf"^{PRI}(?:{BSD_STAMP}|{ISO_STAMP}) \S+ (?:(?:syslogd|syslog-ng)(?:\[\d+\])?: )?"
    r"(?:--- )?last message repeated \d{1,9} times?(?: ---)?\s*$"
    rf"|^{PRI}(?:{BSD_STAMP}|{ISO_STAMP}) \S+ syslog-ng(?:\[\d+\])?: Last message '.*' "
    r"repeated \d{1,9} times?, suppressed by syslog-ng on \S+\s*$"
)
#: The reject reason of such a line, whatever the parser said of it.
REPEAT_MARKER_REASON: Final = "syslog repeat marker without the message (not expanded)"


def named_repeat_markers(rejects: pa.Table) -> pa.Table:
    """``rejects`` with repeat markers' reason set to ``REPEAT_MARKER_REASON``.

    Such a line is no event of any format, so every parser rejects it, each
    with its own words ("not a netfilter LOG line", "not a syslog line"):
    one reason for all says what it is. It is not expanded into copies of
    the line before it (the daemon's previous message in that file, which
    may be a line rejected, or in an earlier batch). One regex over the
    rejected lines only.
    """
    if rejects.num_rows == 0:
        return rejects
    marker = pc.fill_null(pc.match_substring_regex(rejects.column("raw"), REPEAT_MARKER), False)
    if not pc.any(marker).as_py():
        return rejects
    reasons = pc.if_else(marker, REPEAT_MARKER_REASON, rejects.column("reason"))
    return rejects.set_column(rejects.schema.get_field_index("reason"), "reason", reasons)


class EnvelopedParser(Parser):
    """A parser of lines that may come in a syslog envelope: its ``envelope``
    (the year and clock state of one input) made with it, once per input."""

    def __init__(self, ctx: ParseContext) -> None:
        super().__init__(ctx)
        self.envelope = SyslogEnvelope(ctx.config.syslog, ctx.now)
