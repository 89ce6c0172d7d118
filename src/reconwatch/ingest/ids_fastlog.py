"""Snort/Suricata fast.log (one alert per line) -> ``alert`` (``snort.fast``).

::

    07/11/2022-10:29:32.251216  [**] [1:2008578:4] ET SCAN Sipvicious Scan [**]
        [Classification: Attempted Information Leak] [Priority: 2] {UDP} 89.248.163.216:5116
        -> 172.31.18.55:5060

(one line). ``[Classification: ...]`` is absent for rules without a classtype.
The stamp is the sensor's local time (read in ``syslog.timezone``). Suricata
writes ``MM/DD/YYYY-HH:MM:SS.ffffff``; Snort 2, and Snort 3 without ``-y``
(``--include-year``), leave the year out (``08/04-13:32:11.123456``); with
``-y`` Snort writes two digits (``08/04/22-13:32:11.123456``: 2022, read as
strptime's ``%y`` reads it). A
yearless stamp is dated like an RFC 3164 syslog stamp: its month, day and time
of day go to ``SyslogEnvelope.resolve``, which takes the year from
``syslog.year`` (or the ingest date) and turns it over at Dec -> Jan in line
order, carrying it from batch to batch of the file. Snort 3 puts the message
in double quotes, which are dropped.

An inline sensor writes what it did with the packet between the stamp and the
first ``[**]``: Suricata ``[Drop]`` (dropped, in IPS mode) or ``[wDrop]`` (would
have dropped, IDS mode), Snort 2 ``[Drop]``/``[WDrop]``, Snort 3 its action
(``[drop]``, ``[block]``, ``[reset]``, ``[would_drop]``, ``[cant_block]``...).
``event_action`` is ``denied`` for a packet the sensor stopped (``BLOCKED``),
``allowed`` for one it let through (no marker, a "would" or "can't" marker),
NULL for a marker of neither kind.

Endpoints: the protocol is a name (``TCP``, ``IPv6-ICMP``, ``GRE``) or, for a
number the sensor cannot name, ``PROTO:NNN``: ``network_transport`` follows
``fw_common.transport_sql`` (``tcp``, ``ipv6-icmp``, ``gre``, ``47``). Suricata
writes every endpoint as ``addr:N`` (for ICMP, N is the type and the code; for
protocols without ports, 0); Snort writes ``addr:port`` for TCP and UDP and the
bare address otherwise (and for fragments). IPv6 may be in brackets
(``[2001:db8::1]:80``), but usually is not, and then ``2001:db8::1:128`` reads
either way: see ``endpoints`` for how a line's ``:N`` suffixes are told from
address groups. Ports are kept for TCP, UDP and SCTP; other protocols' numbers
(ICMP type and code, Suricata's 0) have no column and are left out.

``rule_id`` is the signature id (the middle of ``gid:sid:rev``), as for eve.json.
Rejects: ``not a fast.log alert``, ``invalid timestamp``, ``invalid port`` (also
a port on one side of the arrow only), invalid addresses.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Final

import pyarrow as pa
import pyarrow.compute as pc

from reconwatch.ingest import syslog
from reconwatch.ingest.addresses import normalise_ips
from reconwatch.ingest.base import Parsed
from reconwatch.ingest.dns_lines import BLANK_SQL, VIEW, SqlLineParser, split_rows
from reconwatch.ingest.fw_common import transport_sql
from reconwatch.ingest.linesql import lit

NOT_FASTLOG: Final = "not a fast.log alert"

INVALID_PORT: Final = "invalid port"

#: Lines are cut with string functions (``strpos``, ``split_part``), not regexes:
#: one pattern over a whole ~200-byte alert costs about 1 us a line in RE2 even
#: without captures, and finding the message before the next `` [**] `` needs a
#: lazy group (2.6 us, measured). Only short pieces are checked by patterns.
GID_SID_REV: Final = r"\d+:\d+:\d+"
PORT: Final = r"\d{1,5}"
#: The action an inline sensor writes before the first ``[**]`` (without brackets).
MARKER: Final = r"[A-Za-z_]{1,24}"
_SNIFF = re.compile(  # the head as a whole, for a handful of sample lines
    r"^\d{2}/\d{2}(?:/\d{4}|/\d{2})?-\d{2}:\d{2}:\d{2}(?:\.\d+)? +(?:\[[A-Za-z_]{1,24}\] +)?"
    r"\[\*\*\] \[\d+:\d+:\d+\] "
)
#: Where the first ``-`` of a stamp stands (1-based) when it holds a four-digit
#: year (Suricata: ``07/11/2022-10:29:32``) and a two-digit one (Snort's ``-y``,
#: ``%02d`` of the year modulo 100: ``08/04/22-13:32:11``, read as 20YY for 00-68,
#: 19YY for 69-99, as strptime's ``%y`` does).
FULL_YEAR_DASH: Final = 11
SHORT_YEAR_DASH: Final = 9
#: Snort's stamp without ``-y``: month, day, time of day (the year from the syslog rules).
YEARLESS: Final = r"\d{2}/\d{2}-\d{2}:\d{2}:\d{2}(?:\.\d{1,6})?"
#: Transports whose ports are kept.
PORTED: Final = ("tcp", "udp", "sctp")
#: Transports every writer gives ports (Snort none for SCTP, whose ports it does not read).
ALWAYS_PORTED: Final = ("tcp", "udp")
#: Markers (lower-cased) of a packet the sensor stopped: Suricata and Snort 2
#: ``[Drop]``, Snort 3's actions (``Active::get_action_string``) and their
#: ``force_`` forms.
BLOCKED: Final = ("drop", "block", "reset", "force_drop", "force_block", "force_reset")
#: Markers of a packet the sensor let through although a rule said to stop it:
#: Suricata ``[wDrop]``, Snort 2 ``[WDrop]``, Snort 3 ``would_*``/``cant_*``, ``allow``.
PASSED: Final = (
    "wdrop",
    "allow",
    "would_drop",
    "would_block",
    "would_reset",
    "cant_drop",
    "cant_block",
    "cant_reset",
)
#: Query columns that ``endpoints`` reads and drops (per side: ``s_`` and ``d_``).
_SIDE_COLUMNS: Final = ("mode", "host", "port", "whole")
_HELPERS: Final = (
    "settled",
    "port_proto",
    "dated",
    *(f"{s}_{c}" for s in "sd" for c in _SIDE_COLUMNS),
)
#: What ``endpoints`` fills in for the lines the query leaves unsettled.
_DECIDED: Final = ("source_raw", "destination_raw", "source_port", "destination_port", "reason")


def _side_sql(text: str, p: str) -> str:
    """SQL columns ``{p}_mode``, ``{p}_host``, ``{p}_port``, ``{p}_whole`` of one endpoint
    (``{p}_tail`` is the text after its last colon, ``{p}_colon`` its first colon).

    ``mode`` says what the text itself tells of a port: ``port`` when it has
    one for sure (``[addr]:N``, or one colon: IPv4 ``a.b.c.d:N``), ``bare``
    when it has none (no colon, ``[addr]``, a last group that is not a number),
    ``cand`` when the last colon may start a port or end an IPv6 address
    (``2001:db8::1:128``). ``host``/``port`` are the text cut at that colon
    (brackets dropped), ``whole`` the text as one address.
    """
    br = f"starts_with({text}, '[')"
    close = f"strpos({text}, ']')"
    tail = f"{p}_tail"
    return f"""
           CASE WHEN {br} THEN
                    CASE WHEN {close} > 0 AND substr({text}, {close} + 1, 1) = ':'
                         THEN 'port' ELSE 'bare' END
                WHEN {p}_colon = 0 THEN 'bare'
                -- One colon (the first is the last): IPv4 and its port.
                WHEN {p}_colon = length({text}) - length({tail}) THEN 'port'
                WHEN regexp_full_match({tail}, {lit(PORT)}) THEN 'cand'
                ELSE 'bare' END AS {p}_mode,
           CASE WHEN {br} THEN substr({text}, 2, {close} - 2)
                ELSE left({text}, length({text}) - length({tail}) - 1) END AS {p}_host,
           CASE WHEN {br} THEN substr({text}, {close} + 2) ELSE {tail} END AS {p}_port,
           CASE WHEN {br} AND suffix({text}, ']') THEN substr({text}, 2, length({text}) - 2)
                ELSE {text} END AS {p}_whole"""


def endpoints(result: pa.Table) -> pa.Table:
    """``result`` with the endpoints of the lines the query left unsettled decided.

    Both ends of a line carry a port or neither does (Suricata writes one for
    every protocol, Snort for TCP and UDP). The query settles the lines whose
    ends say it themselves (``_side_sql``: both ``port``, both ``bare``, or
    one of each: ``INVALID_PORT``), nearly all of them. The others have an end
    of mode ``cand``, and here each end votes:

    * for ports: ``mode`` port; or a ``cand`` whose cut-off host is an address
      and, for a protocol other than TCP and UDP, whose whole text is not
      (``2001:db8:::80`` is ``2001:db8::`` port 80). For TCP and UDP a cand
      whose host is an address is cut: every writer gives them ports (Snort
      leaves them out of fragments only, which then read as ports when the
      address ends in a decimal-looking group).
    * against: ``mode`` bare; or a ``cand`` whose host is not an address
      (``2001:db8::80``: ``2001:db8:`` is none, so 80 is the last group).
    * neither: the rest, a cand that reads both ways (``2001:db8::1:128`` of an
      ICMPv6 alert).

    A vote for ports wins over none, against over none. When neither end votes, the
    stamp decides: a stamp with a four-digit year is Suricata's, which always writes
    ports; a yearless one, or one with Snort's two-digit year (``-y``), Snort's,
    which writes none for these protocols. One end for and one against:
    ``INVALID_PORT``. "An address" is what ``normalise_ips`` accepts, the test every
    address of the lake passes; it runs on the cut-off hosts of cand ends
    (addresses, few distinct) and on the whole text of the ones that may read both
    ways (other protocols only: ICMP types, few distinct). Arrow only, on the
    unsettled lines alone.
    """
    unsettled = pc.invert(pc.fill_null(result.column("settled").combine_chunks(), True))
    table = result
    if pc.any(unsettled).as_py():
        decided = _decide(result.filter(unsettled))
        for name in _DECIDED:
            at = table.column_names.index(name)
            values = table.column(name).combine_chunks()
            merged = pc.replace_with_mask(values, unsettled, decided[name].cast(values.type))
            table = table.set_column(at, name, merged)
    return table.drop_columns(list(_HELPERS))


def _decide(result: pa.Table) -> dict[str, pa.Array]:
    """``_DECIDED`` for unsettled lines (see ``endpoints``)."""

    def column(name: str) -> pa.Array:
        return result.column(name).combine_chunks()

    none_text = pa.scalar(None, pa.string())
    port_proto = pc.fill_null(column("port_proto"), False)
    keep = pc.fill_null(pc.is_in(column("network_transport"), pa.array(PORTED)), False)
    dated = pc.fill_null(column("dated"), False)
    votes = {}
    for p in "sd":
        mode = column(f"{p}_mode")
        cand = pc.fill_null(pc.equal(mode, "cand"), False)
        host_ok = pc.is_valid(normalise_ips(pc.if_else(cand, column(f"{p}_host"), none_text)))
        either = pc.and_(pc.and_(cand, host_ok), pc.invert(port_proto))
        whole_ok = pc.is_valid(normalise_ips(pc.if_else(either, column(f"{p}_whole"), none_text)))
        votes[p] = (
            pc.or_(
                pc.fill_null(pc.equal(mode, "port"), False),
                pc.and_(pc.and_(cand, host_ok), pc.invert(whole_ok)),
            ),
            pc.or_(pc.fill_null(pc.equal(mode, "bare"), False), pc.and_(cand, pc.invert(host_ok))),
        )
    any_port = pc.or_(votes["s"][0], votes["d"][0])
    any_bare = pc.or_(votes["s"][1], votes["d"][1])
    ports = pc.or_(any_port, pc.and_(pc.invert(any_bare), pc.or_(dated, port_proto)))
    bad = pc.and_(any_port, any_bare)
    out = {}
    for p, name in (("s", "source"), ("d", "destination")):
        cut = pc.and_(ports, pc.is_in(column(f"{p}_mode"), pa.array(["port", "cand"])))
        out[f"{name}_raw"] = pc.if_else(cut, column(f"{p}_host"), column(f"{p}_whole"))
        text = pc.if_else(cut, column(f"{p}_port"), none_text)
        digits = pc.fill_null(pc.match_substring_regex(text, f"^{PORT}$"), False)
        number = pc.cast(pc.if_else(digits, text, none_text), pa.int32())
        fits = pc.fill_null(pc.less_equal(number, 65535), False)
        bad = pc.or_(bad, pc.and_(ports, pc.invert(fits)))
        kept = pc.and_(pc.and_(ports, keep), fits)
        out[f"{name}_port"] = pc.if_else(kept, number, pa.scalar(None, pa.int32()))
    out["reason"] = pc.coalesce(
        column("reason"), pc.if_else(bad, pa.scalar(INVALID_PORT), none_text)
    )
    return out


class FastLogParser(SqlLineParser):
    """Snort/Suricata fast.log alerts."""

    name = "fastlog"
    dataset = "snort.fast"
    table = "alert"

    @classmethod
    def sniff(cls, sample: Sequence[str]) -> bool:
        try:
            return any(_SNIFF.match(line) is not None for line in sample[:20])
        except Exception:  # a sniffer must never stop format detection
            return False

    def query(self) -> str:
        k = syslog

        def parsed(year: str) -> str:
            return (
                f"coalesce(try_strptime(stamp, '%m/%d/{year}-%H:%M:%S.%f'), "
                f"try_strptime(stamp, '%m/%d/{year}-%H:%M:%S'))"
            )

        # The year's digits are told by where the time starts: DuckDB's %Y
        # reads "22" as the year 22 (a Snort -y stamp would land in year 0022).
        stamp = self.local_to_utc(
            f"CASE strpos(stamp, '-') WHEN {FULL_YEAR_DASH} THEN {parsed('%Y')}"
            f" WHEN {SHORT_YEAR_DASH} THEN {parsed('%y')} END"
        )
        blocked = ", ".join(lit(m) for m in BLOCKED)
        passed = ", ".join(lit(m) for m in PASSED)
        ported = ", ".join(lit(t) for t in ALWAYS_PORTED)
        kept = ", ".join(lit(t) for t in PORTED)
        sides = ", ".join(
            f"CASE WHEN NOT settled THEN {p}_{c} END AS {p}_{c}"
            for p in "sd"
            for c in _SIDE_COLUMNS
        )
        # ``PROTO:047``: a protocol number the sensor has no name for.
        number = "CAST(TRY_CAST(substr(proto, 7) AS UTINYINT) AS VARCHAR)"
        # The common names first: transport_sql tests every name with a pattern.
        transport = (
            "CASE WHEN proto IN ('TCP', 'UDP', 'ICMP') THEN lower(proto) ELSE "
            + transport_sql(
                f"CASE WHEN starts_with(upper(proto), 'PROTO:') THEN {number} END", "proto"
            )
            + " END"
        )
        return f"""
        WITH marks AS (
            SELECT log_line, _row, line, strpos(line, ' [**] [') AS p1
            FROM {VIEW} WHERE NOT {BLANK_SQL}
        ),
        heads AS (
            SELECT log_line, _row, p1, rtrim(left(line, p1 - 1)) AS head,
                   substr(line, p1 + 7) AS after
            FROM marks
        ),
        -- An inline sensor's ``[Drop]`` (or other action) between the stamp and
        -- ``[**]``: the stamp itself has no `` [``.
        acted AS (
            SELECT *, strpos(head, ' [') AS pm FROM heads
        ),
        stamped AS (
            SELECT * EXCLUDE (head),
                   CASE WHEN pm > 0 THEN rtrim(left(head, pm - 1)) ELSE head END AS stamp,
                   CASE WHEN pm > 0 THEN substr(head, pm + 1) END AS marker
            FROM acted
        ),
        gsr AS (SELECT *, split_part(after, ']', 1) AS gsr, strpos(after, ' [**] ') AS p2
                FROM stamped),
        tails AS (
            SELECT *, substr(after, length(gsr) + 3, p2 - length(gsr) - 3) AS msg,
                   substr(after, p2 + 6) AS rest
            FROM gsr
        ),
        fields AS (
            SELECT *,
                   CASE WHEN starts_with(rest, '[Classification: ')
                        THEN split_part(substr(rest, 18), ']', 1) END AS cls,
                   strpos(rest, '[Priority: ') AS pp,
                   split_part(split_part(rest, '{{', 2), '}}', 1) AS proto,
                   substr(rest, strpos(rest, '}} ') + 2) AS ends
            FROM tails
        ),
        typed AS (
            SELECT *,
                   CASE WHEN pp > 0 THEN
                       TRY_CAST(split_part(substr(rest, pp + 11), ']', 1) AS UTINYINT) END AS prio,
                   {transport} AS network_transport,
                   CASE WHEN marker IS NULL THEN TRUE
                        ELSE length(marker) >= 3 AND starts_with(marker, '[')
                             AND suffix(marker, ']')
                             AND regexp_full_match(substr(marker, 2, length(marker) - 2),
                                                   {lit(MARKER)}) END AS marker_ok,
                   lower(substr(marker, 2, length(marker) - 2)) AS action,
                   split_part(ends, ' -> ', 1) AS src,
                   split_part(ends, ' -> ', 2) AS dst
            FROM fields
        ),
        colons AS (
            SELECT *, split_part(src, ':', -1) AS s_tail, strpos(src, ':') AS s_colon,
                   split_part(dst, ':', -1) AS d_tail, strpos(dst, ':') AS d_colon
            FROM typed
        ),
        sided AS (
            SELECT *,
                   regexp_full_match(stamp, {lit(YEARLESS)}) AS yearless,
                   network_transport IN ({ported}) AS port_proto,
                   {_side_sql("src", "s")},
                   {_side_sql("dst", "d")}
            FROM colons
        ),
        settling AS (
            SELECT *, s_mode <> 'cand' AND d_mode <> 'cand' AS settled,
                   s_mode = 'port' AND d_mode = 'port' AS cut,
                   network_transport IN ({kept}) AS keep
            FROM sided
        ),
        numbered AS (
            SELECT *,
                   CASE WHEN settled AND cut THEN
                       regexp_full_match(s_port, {lit(PORT)})
                       AND regexp_full_match(d_port, {lit(PORT)}) END AS digits,
                   CASE WHEN digits THEN CAST(TRY_CAST(s_port AS USMALLINT) AS INTEGER) END
                       AS s_number,
                   CASE WHEN digits THEN CAST(TRY_CAST(d_port AS USMALLINT) AS INTEGER) END
                       AS d_number
            FROM settling
        )
        SELECT log_line, _row,
               {stamp} AS own_time,
               -- A yearless (Snort) stamp: dated by ``SyslogEnvelope.resolve``.
               CAST(NULL AS TIMESTAMP) AS {k.TIME},
               CASE WHEN yearless AND TRY_CAST(left(stamp, 2) AS INTEGER) BETWEEN 1 AND 12
                    THEN CAST(left(stamp, 2) AS INTEGER) END AS {k.MONTH},
               CASE WHEN yearless THEN CAST(substr(stamp, 4, 2) AS INTEGER) END AS {k.DAY},
               CASE WHEN yearless THEN TRY_CAST(substr(stamp, 7) AS TIME) END AS {k.TOD},
               settled,
               -- For ``endpoints``, on the lines left to it.
               CASE WHEN NOT settled THEN port_proto END AS port_proto,
               -- Suricata's stamp (with its year): its endpoints always carry a number.
               CASE WHEN NOT settled THEN substr(stamp, 6, 1) = '/'
                                          AND strpos(stamp, '-') = {FULL_YEAR_DASH} END AS dated,
               {sides},
               CASE WHEN settled THEN CASE WHEN cut THEN s_host ELSE s_whole END END
                   AS source_raw,
               CASE WHEN settled THEN CASE WHEN cut THEN d_host ELSE d_whole END END
                   AS destination_raw,
               CASE WHEN keep THEN s_number END AS source_port,
               CASE WHEN keep THEN d_number END AS destination_port,
               network_transport,
               split_part(gsr, ':', 2) AS rule_id,
               -- Snort 3 quotes the message; Snort 2 and Suricata do not.
               CASE WHEN length(msg) >= 2 AND starts_with(msg, '"') AND suffix(msg, '"')
                    THEN substr(msg, 2, length(msg) - 2) ELSE msg END AS rule_name,
               nullif(cls, '') AS rule_category,
               CAST(prio AS SMALLINT) AS event_severity,
               CASE WHEN marker IS NULL OR action IN ({passed}) THEN 'allowed'
                    WHEN action IN ({blocked}) THEN 'denied' END AS event_action,
               CASE WHEN p1 = 0 OR p2 = 0 OR prio IS NULL OR dst = '' OR NOT marker_ok
                         OR NOT regexp_full_match(gsr, {lit(GID_SID_REV)})
                        THEN {lit(NOT_FASTLOG)}
                    WHEN settled AND (s_mode <> d_mode
                                      OR cut AND (s_number IS NULL OR d_number IS NULL))
                        THEN {lit(INVALID_PORT)}
               END AS reason
        FROM numbered
        """  # noqa: S608 - constant patterns and a generated view name only

    def finish(self, result: pa.Table, envelope_time: pa.Array, lines: pa.Table) -> Parsed:
        rows, rejects = split_rows(endpoints(result), envelope_time, lines)
        return Parsed(rows=rows, rejects=rejects)


PARSERS: Final = (FastLogParser,)
