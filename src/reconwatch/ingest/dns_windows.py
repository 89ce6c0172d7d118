"""Windows DNS Server debug log (packet logging) -> ``dns`` (``windns``).

::

    11/28/2026 4:00:00 AM 0E4C PACKET  0000020D2A6F2150 UDP Rcv 192.0.2.1       d2f0   Q
        [0001   D   NOERROR] A      (3)www(7)example(3)com(0)
    11/28/2026 4:00:00 AM 0E4C PACKET  0000020D2A6F2150 UDP Snd 192.0.2.1       d2f0 R Q
        [8081   DR  NOERROR] A      (3)www(7)example(3)com(0)

(each entry is one line).
After the transport and direction come the remote address, the query id
(hex), ``R`` for a response or a blank for a query, the opcode, the flags and
response code in brackets, the type and the name in DNS label form
(``(3)www(7)example(3)com(0)`` -> ``www.example.com``).

The stamp is the server's local time (read in ``syslog.timezone``) written in
the server's short-date locale: month first in the US (``11/28/2026 4:00:00
AM``), day first in most others (en-GB, fr-FR ``28/11/2026 16:00:00``, de-DE
``28.11.2026``, nl-NL ``28-11-2026``); 12- or 24-hour (``AM``/``PM`` in
any case, as some locales write ``pm``), a year of four digits or
two (``%y``: 00-68 are 20xx). The date's separator is ``/``, ``.`` or ``-``,
the same twice; the time's ``:`` or ``.`` (fi-FI ``28.11.2026 16.00.00``),
the same twice. A date that starts with its year (sv-SE ``2026-11-28``, ja-JP
and zh-CN ``2026/11/28``) says its order and is read so whatever the
setting. For the others ``ingest.windows_dns_date_order`` sets the order: ``mdy`` or
``dmy`` read every date in that order only (a date impossible in it, such as
``28/11/2026`` under ``mdy``, is ``invalid timestamp``); ``auto`` (the default)
settles it per file from the first ``SAMPLE_LINES`` lines of a batch: a first
number above 12 means day first, a second number above 12 month first. A
batch whose dates all read both ways is read month first (Windows' US
default) with a warning naming the file, as a day-first file whose days are
all 12 or less would be misread (day and month swapped), and the next batch
is looked at again; the first batch that says the order settles it for the
rest of the file (a warning says where, if it is not month first), and for a
later run that reads the grown file on from where this one stopped
(``Parser.learnt``, kept with the input's fingerprint). A sample with both
(two locales in one file) is read line by line in the one order each date
allows, with a warning, and a date that reads both ways differently
(``5/6/2026``) is ``invalid timestamp``: it is never guessed.

Rows: queries the server received (``Rcv`` without ``R``) and the responses it
sent (``Snd R``, with the response code): the remote is the client. Packets
the server sends and receives for its own recursion (``Snd`` queries, ``Rcv``
responses) are skipped: the remote there is an upstream server, not a client,
and the client's own query is already a row. The header block (``DNS Server
log file creation...``, the field key) and the detail lines of detailed
logging (indented) are skipped. Lines that start like an entry (a digit) but do
not parse are rejected: ``not a Windows DNS packet line``.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from typing import Final, Literal, cast

import pyarrow as pa
import pyarrow.compute as pc

from reconwatch.ingest.base import ParseContext, Parsed
from reconwatch.ingest.dns_lines import VIEW, SqlLineParser, qname_sql, qtype_sql
from reconwatch.ingest.linesql import lit

log = logging.getLogger(__name__)

NOT_PACKET: Final = "not a Windows DNS packet line"

#: Entries are cut with string functions around `` PACKET ``, ``[`` and ``]``:
#: one regex over the whole entry (six groups) ran at about 3 us a line. Only
#: short pieces are checked by patterns.
XID: Final = r"[0-9A-Fa-f]{1,4}"
LABELS: Final = r"(?:\(\d+\)[^()\s]*)+"
_SNIFF = re.compile(
    r"^(?:\d{1,2}([/.-])\d{1,2}\1(?:\d{4}|\d{2})|\d{4}([/.-])\d{1,2}\2\d{1,2}) "
    r"\d{1,2}([:.])\d{2}\3\d{2}(?: [AaPp][Mm])? [0-9A-Fa-f]+ PACKET "
)
#: The orders of a date (``ingest.windows_dns_date_order`` less ``auto``), and
#: ``either``: each date in the one order it allows (a file whose sample holds
#: both orders), NULL for one that reads both ways.
Order = Literal["mdy", "dmy", "either"]
#: The stamp's day and month as strptime reads them once the date's separators
#: are ``/``, the year of four digits or, under a two-digit short-date setting,
#: two (strptime's ``%y``: 00-68 are 20xx; DuckDB's ``%Y`` alone would read
#: ``26`` as the year 26), the time 12- or 24-hour.
_DATES: Final = {"mdy": "%m/%d/", "dmy": "%d/%m/"}
_YEARS: Final = {4: "%Y", 2: "%y"}
_TIMES: Final = (" %I:%M:%S %p", " %H:%M:%S")
#: ``auto`` looks for a file's order in at most this many lines at each end
#: of a batch (each batch until one settles it; dates only move on, so the
#: batch's last lines hold its latest days): with detailed logging about 20
#: lines a packet.
SAMPLE_LINES: Final = 5_000
#: The key of the settled order in ``Parser.learnt`` (kept for a run that
#: reads the file on from where this one stopped), and its values.
DATE_ORDER: Final = "windns_date_order"
ORDERS: Final = ("mdy", "dmy", "either")
#: The key, in ``Parser.learnt`` while no order is settled, of the first line
#: read month first for want of a day above 12: the run that settles the
#: order later says from where the file's rows were read so.
GUESSED_FROM: Final = "windns_guessed_from"
#: An entry's date in the sample, read by Arrow (RE2 has no back-references:
#: the two separators are compared apart).
_SAMPLE: Final = (
    r"^(?P<first>\d{1,2})(?P<sep>[/.-])(?P<second>\d{1,2})(?P<sep2>[/.-])"
    r"(?:\d{4}|\d{2}) .* PACKET "
)


def _read_sql(order: Literal["mdy", "dmy"]) -> str:
    """SQL: the wall-clock TIMESTAMP of ``ustamp`` (the stamp with ``/`` between
    the parts of its date) read in ``order``, NULL when it does not read so."""
    year_digits = "length(split_part(split_part(ustamp, ' ', 1), '/', 3))"
    whens = " ".join(
        f"WHEN {digits} THEN coalesce("
        + ", ".join(f"try_strptime(ustamp, {lit(_DATES[order] + year + time)})" for time in _TIMES)
        + ")"
        for digits, year in _YEARS.items()
    )
    return f"CASE {year_digits} {whens} END"


#: SQL: the date of ``ustamp`` starts with its year (sv-SE ``2026-11-28``,
#: ja-JP and zh-CN ``2026/11/28``): read so whatever the order setting.
_YEAR_FIRST: Final = "length(split_part(ustamp, '/', 1)) = 4"
#: SQL: such a stamp's wall-clock TIMESTAMP.
_YEAR_FIRST_SQL: Final = (
    "coalesce("
    + ", ".join(f"try_strptime(ustamp, {lit('%Y/%m/%d' + time)})" for time in _TIMES)
    + ")"
)


def _times_sql(order: Order) -> str:
    """SQL select list: ``t_main`` and ``t_other``, the stamp read in ``order``
    (``either``: month first, then day first; else ``t_other`` is NULL); a
    stamp whose date starts with its year is read so, ``t_other`` NULL."""
    main = _read_sql("mdy" if order == "either" else order)
    other = _read_sql("dmy") if order == "either" else "CAST(NULL AS TIMESTAMP)"
    return (
        f"CASE WHEN {_YEAR_FIRST} THEN {_YEAR_FIRST_SQL} ELSE {main} END AS t_main, "
        f"CASE WHEN {_YEAR_FIRST} THEN NULL ELSE {other} END AS t_other"
    )


#: SQL: the local time of ``t_main`` and ``t_other`` (``_times_sql``): the one
#: that is not NULL, NULL when they differ (a date that reads both ways).
_LOCAL_SQL: Final = (
    "CASE WHEN t_other IS NULL THEN t_main WHEN t_main IS NULL THEN t_other "
    "WHEN t_main = t_other THEN t_main END"
)


class WindowsDnsParser(SqlLineParser):
    """Windows DNS Server debug (packet) log."""

    name = "windns"
    dataset = "windns"
    table = "dns"

    def __init__(self, ctx: ParseContext) -> None:
        super().__init__(ctx)
        setting = ctx.config.ingest.windows_dns_date_order
        #: The file's date order; None while ``auto`` has not settled it (no
        #: entry yet, or only dates that read both ways: ``_guessed``).
        self.order: Order | None = None if setting == "auto" else setting
        #: The order an earlier run settled, read on with (the file's new
        #: lines may hold no day above 12) until this run's first dates are
        #: checked against it (a file's locale can change, a run file be edited).
        self._carried: Order | None = None
        #: The first line read month first for want of a day above 12, by this
        #: run or (``GUESSED_FROM``) an earlier one; None: none was.
        self._guessed: int | None = None
        #: Whether this run has said it reads ambiguous dates month first.
        self._said_guess = False
        if setting == "auto":
            carried = ctx.carried.get(DATE_ORDER)
            guessed = ctx.carried.get(GUESSED_FROM, "")
            if carried in ORDERS:
                self.order = self._carried = cast(Order, carried)
                self.learnt[DATE_ORDER] = carried
            elif guessed.isdigit():
                self._guessed = int(guessed)
                self.learnt[GUESSED_FROM] = guessed

    @classmethod
    def sniff(cls, sample: Sequence[str]) -> bool:
        try:
            return any(_SNIFF.match(line) is not None for line in sample[:50])
        except Exception:  # a sniffer must never stop format detection
            return False

    def parse(self, lines: pa.Table) -> Parsed:
        if self._carried is not None:
            self._check_carried(lines)
        elif self.order is None:
            self._settle(lines)
        return super().parse(lines)

    def _settle(self, lines: pa.Table) -> None:
        """Settle the file's order from this batch's dates if they say it (and
        keep it for a run that reads on: ``learnt``); else read them month
        first, noted once a run, and look again at the next batch (an earlier
        run's guess is kept too: ``GUESSED_FROM``)."""
        order, entries, dated = self.sample_order(lines)
        first = int(lines.column("log_line")[0].as_py()) if lines.num_rows else 0
        if order is not None:
            if self._guessed is not None and order != "mdy":
                self._caution(
                    f"Windows DNS dates: a day above 12 came in the batch from line "
                    f"{first:,}: read {'day first' if order == 'dmy' else 'in either order'} "
                    f"from there; the dates from line {self._guessed:,} up to it were "
                    "read month first"
                )
            self.order = order
            self.learnt.pop(GUESSED_FROM, None)
            self.learnt[DATE_ORDER] = order
        elif entries:
            if self._guessed is None:
                self._guessed = dated
                self.learnt[GUESSED_FROM] = str(dated)
            if not self._said_guess:
                self._said_guess = True
                self._caution(
                    f"Windows DNS dates are ambiguous (no day above 12 in the first "
                    f"{entries:,} entries); read as month/day; set "
                    "ingest.windows_dns_date_order to dmy if the server writes day first"
                )

    def _check_carried(self, lines: pa.Table) -> None:
        """The carried order against the first dates of this run: kept when
        they fit it (or say nothing), else dates are read in either order
        (each in the one order it allows), noted."""
        order, entries, _ = self.sample_order(lines)
        if not entries:
            return
        carried, self._carried = self._carried, None
        if order is None or order == carried or carried == "either":
            return
        first = int(lines.column("log_line")[0].as_py())
        self._caution(
            f"Windows DNS dates from line {first:,} do not fit the {carried} order an "
            "earlier run of this file settled on: read in either order from there"
        )
        self.order = "either"
        self.learnt[DATE_ORDER] = "either"

    def sample_order(self, lines: pa.Table) -> tuple[Order | None, int, int]:
        """The date order the dates of ``lines`` say (see the module
        docstring; None: they do not say it), how many dates were looked at
        and the line of the first (0 when none)."""
        n = lines.num_rows
        sample = (
            lines
            if n <= 2 * SAMPLE_LINES
            else pa.concat_tables([lines.slice(0, SAMPLE_LINES), lines.slice(n - SAMPLE_LINES)])
        )
        found = pc.extract_regex(sample.column("line"), _SAMPLE)
        same = pc.equal(pc.struct_field(found, "sep"), pc.struct_field(found, "sep2"))
        first = pc.cast(pc.struct_field(found, "first"), pa.int8())
        second = pc.cast(pc.struct_field(found, "second"), pa.int8())
        entries = pc.sum(pc.cast(same, pa.int64())).as_py() or 0
        if entries == 0:
            return None, 0, 0

        def is_day(n: pa.ChunkedArray) -> pa.ChunkedArray:
            return pc.and_(pc.greater(n, 12), pc.less_equal(n, 31))

        def is_month(n: pa.ChunkedArray) -> pa.ChunkedArray:
            return pc.and_(pc.greater_equal(n, 1), pc.less_equal(n, 12))

        def first_line(mask: pa.ChunkedArray) -> int | None:
            """The line number of the first sampled date that ``mask`` marks."""
            at = pc.index(pc.fill_null(pc.and_(same, mask), False), True).as_py()
            return None if at < 0 else int(sample.column("log_line")[at].as_py())

        dated = first_line(pc.is_valid(first)) or 0
        day_first = first_line(pc.and_(is_day(first), is_month(second)))
        month_first = first_line(pc.and_(is_month(first), is_day(second)))
        if day_first is not None and month_first is not None:
            self._caution(
                f"Windows DNS dates disagree (day first on line {day_first}, month first on "
                f"line {month_first}): each date is read in the one order it allows and dates "
                "that read both ways are rejected; set ingest.windows_dns_date_order to mdy "
                "or dmy to read them all one way"
            )
            return "either", entries, dated
        if day_first is not None:
            return "dmy", entries, dated
        return ("mdy" if month_first is not None else None), entries, dated

    def _caution(self, text: str) -> None:
        """Say what was assumed about the file: logged now, and the input's
        accounting note (stored with the run, shown in the reports)."""
        log.warning("%s: %s", self.ctx.log_file, text)
        self.notes.append(text)

    def query(self) -> str:
        stamp = self.local_to_utc(_LOCAL_SQL)
        name = "trim(regexp_replace(name, '\\(\\d+\\)', '.', 'g'), '.')"
        return f"""
        WITH entries AS (
            -- Only lines that start with a digit are entries; headers and details are skipped.
            SELECT log_line, _row, line, strpos(line, ' PACKET ') AS pk
            FROM {VIEW} WHERE regexp_matches(line, '^[0-9]')
        ),
        heads AS (
            SELECT log_line, _row, pk, left(line, pk - 1) AS head,
                   ltrim(substr(line, pk + 8)) AS after
            FROM entries
        ),
        brackets AS (
            SELECT *, strpos(after, ' [') AS lb, strpos(after, '] ') AS rb,
                   -- The thread id ends the head; the stamp is what precedes it.
                   rtrim(left(head, length(head) - length(split_part(head, ' ', -1)))) AS stamp
            FROM heads
        ),
        parts AS (
            SELECT *, left(after, lb - 1) AS pre,
                   substr(after, lb + 2, rb - lb - 2) AS flagtext,
                   trim(substr(after, rb + 2)) AS post,
                   split_part(stamp, ' ', 1) AS sdate,
                   substr(stamp, length(split_part(stamp, ' ', 1)) + 1) AS stime
            FROM brackets
        ),
        stamps AS (
            SELECT *,
                   -- The date's separators made ``/`` when they are ``.`` or ``-``
                   -- (a date that mixes them then reads in no order), the time's
                   -- ``:`` when they are ``.`` (fi-FI ``16.00.00``).
                   CASE WHEN strpos(sdate, '/') > 0 THEN sdate
                        WHEN strpos(sdate, '.') > 0 THEN replace(sdate, '.', '/')
                        ELSE replace(sdate, '-', '/') END
                   || CASE WHEN strpos(stime, ':') > 0 THEN stime
                           ELSE replace(stime, '.', ':') END AS ustamp
            FROM parts
        ),
        tokens AS (
            SELECT *, {_times_sql(self.order or "mdy")},
                   split_part(pre, ' ', 2) AS proto, split_part(pre, ' ', 3) AS dir,
                   ltrim(substr(pre, length(split_part(pre, ' ', 1)) + 10)) AS peer_etc,
                   -- ``R`` before the opcode marks a response, a blank a query.
                   substr(pre, length(pre) - 2, 1) AS qr,
                   split_part(flagtext, ' ', -1) AS rcode,
                   split_part(post, ' ', 1) AS qtype,
                   split_part(post, ' ', -1) AS name
            FROM stamps
        ),
        peers AS (
            SELECT *, split_part(peer_etc, ' ', 1) AS ip,
                   split_part(ltrim(substr(peer_etc, length(split_part(peer_etc, ' ', 1)) + 1)),
                              ' ', 1) AS xid
            FROM tokens
        )
        SELECT log_line, _row,
               {stamp} AS own_time,
               nullif(ip, '') AS source_raw,
               lower(proto) AS network_transport,
               {qname_sql(name)} AS dns_question_name,
               {qtype_sql("qtype")} AS dns_question_type,
               CASE WHEN qr = 'R' THEN rcode END AS dns_response_code,
               CAST(TRY_CAST('0x' || xid AS INTEGER) AS INTEGER) AS dns_id,
               'allowed' AS event_action,
               CASE WHEN pk = 0 OR lb = 0 OR rb = 0 OR proto NOT IN ('UDP', 'TCP')
                         OR dir NOT IN ('Snd', 'Rcv') OR qr NOT IN ('R', ' ')
                         OR NOT regexp_full_match(xid, {lit(XID)})
                         OR NOT regexp_full_match(name, {lit(LABELS)})
                    THEN {lit(NOT_PACKET)} END AS reason,
               -- The server's own recursion is skipped (see the module docstring).
               (dir = 'Snd' AND qr = ' ') OR (dir = 'Rcv' AND qr = 'R') AS skip
        FROM peers
        """  # noqa: S608 - constant patterns and a generated view name only


PARSERS: Final = (WindowsDnsParser,)
