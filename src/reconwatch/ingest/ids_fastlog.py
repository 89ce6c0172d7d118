"""Snort/Suricata fast.log (one alert per line) -> ``alert`` (``snort.fast``).

::

    07/11/2022-10:29:32.251216  [**] [1:2008578:4] ET SCAN Sipvicious Scan [**]
        [Classification: Attempted Information Leak] [Priority: 2] {UDP} 89.248.163.216:5116
        -> 172.31.18.55:5060

(one line). ``[Classification: ...]`` is absent for rules without a classtype.
The stamp is the sensor's local time (read in ``syslog.timezone``). Suricata
writes ``MM/DD/YYYY-HH:MM:SS.ffffff``; Snort 2, and Snort 3 without ``-y``
(``--include-year``), leave the year out (``08/04-13:32:11.123456``). Such a
yearless stamp is dated like an RFC 3164 syslog stamp: its month, day and time
of day go to ``SyslogEnvelope.resolve``, which takes the year from
``syslog.year`` (or the ingest date) and turns it over at Dec -> Jan in line
order, carrying it from batch to batch of the file. Snort 3 puts the message
in double quotes, which are dropped. Addresses
are ``addr:port``, IPv6 with or without brackets (the port is what follows the
last colon); ICMP and other protocols without ports write the bare address.
``rule_id`` is the signature id (the middle of ``gid:sid:rev``), as for eve.json.
Rejects: ``not a fast.log alert``, ``invalid timestamp``, ``invalid port``, invalid
addresses.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Final

from reconwatch.ingest import syslog
from reconwatch.ingest.dns_lines import BLANK_SQL, VIEW, SqlLineParser
from reconwatch.ingest.linesql import lit

NOT_FASTLOG: Final = "not a fast.log alert"

INVALID_PORT: Final = "invalid port"

#: Lines are cut with string functions (``strpos``, ``split_part``), not regexes:
#: one pattern over a whole ~200-byte alert costs about 1 us a line in RE2 even
#: without captures, and finding the message before the next `` [**] `` needs a
#: lazy group (2.6 us, measured). Only short pieces are checked by patterns.
GID_SID_REV: Final = r"\d+:\d+:\d+"
PORT: Final = r"\d{1,5}"
_SNIFF = re.compile(  # the head as a whole, for a handful of sample lines
    r"^\d{2}/\d{2}(?:/\d{4})?-\d{2}:\d{2}:\d{2}(?:\.\d+)? +\[\*\*\] \[\d+:\d+:\d+\] "
)
#: Snort's stamp without ``-y``: month, day, time of day (the year from the syslog rules).
YEARLESS: Final = r"\d{2}/\d{2}-\d{2}:\d{2}:\d{2}(?:\.\d{1,6})?"
#: Transports whose endpoints carry ports in fast.log.
_PORTED: Final = "('tcp', 'udp', 'sctp')"


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
        formats = ("'%m/%d/%Y-%H:%M:%S.%f'", "'%m/%d/%Y-%H:%M:%S'")
        stamp = self.local_to_utc(
            f"coalesce(try_strptime(stamp, {formats[0]}), try_strptime(stamp, {formats[1]}))"
        )
        return f"""
        WITH marks AS (
            SELECT log_line, _row, line, strpos(line, ' [**] [') AS p1
            FROM {VIEW} WHERE NOT {BLANK_SQL}
        ),
        heads AS (
            SELECT log_line, _row, p1, rtrim(left(line, p1 - 1)) AS stamp,
                   substr(line, p1 + 7) AS after
            FROM marks
        ),
        gsr AS (SELECT *, split_part(after, ']', 1) AS gsr, strpos(after, ' [**] ') AS p2
                FROM heads),
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
                   CASE lower(proto) WHEN 'tcp' THEN 'tcp' WHEN 'udp' THEN 'udp'
                        WHEN 'icmp' THEN 'icmp' WHEN 'ipv6-icmp' THEN 'ipv6-icmp'
                        ELSE nullif(lower(proto), '') END AS network_transport,
                   split_part(ends, ' -> ', 1) AS src,
                   split_part(ends, ' -> ', 2) AS dst
            FROM fields
        ),
        ported AS (
            SELECT *,
                   regexp_full_match(stamp, {lit(YEARLESS)}) AS yearless,
                   network_transport IN {_PORTED} AS has_ports,
                   CASE WHEN has_ports THEN split_part(src, ':', -1) END AS sport,
                   CASE WHEN has_ports THEN split_part(dst, ':', -1) END AS dport
            FROM typed
        ),
        hosts AS (
            SELECT *,
                   CASE WHEN has_ports THEN left(src, length(src) - length(sport) - 1)
                        ELSE src END AS sip,
                   CASE WHEN has_ports THEN left(dst, length(dst) - length(dport) - 1)
                        ELSE dst END AS dip
            FROM ported
        )
        SELECT log_line, _row,
               {stamp} AS own_time,
               -- A yearless (Snort) stamp: dated by ``SyslogEnvelope.resolve``.
               CAST(NULL AS TIMESTAMP) AS {k.TIME},
               CASE WHEN yearless AND TRY_CAST(left(stamp, 2) AS INTEGER) BETWEEN 1 AND 12
                    THEN CAST(left(stamp, 2) AS INTEGER) END AS {k.MONTH},
               CASE WHEN yearless THEN CAST(substr(stamp, 4, 2) AS INTEGER) END AS {k.DAY},
               CASE WHEN yearless THEN TRY_CAST(substr(stamp, 7) AS TIME) END AS {k.TOD},
               -- IPv6 may be written in brackets before its port.
               nullif(CASE WHEN starts_with(sip, '[') AND suffix(sip, ']')
                           THEN substr(sip, 2, length(sip) - 2) ELSE sip END, '') AS source_raw,
               nullif(CASE WHEN starts_with(dip, '[') AND suffix(dip, ']')
                           THEN substr(dip, 2, length(dip) - 2) ELSE dip END, '')
                   AS destination_raw,
               CAST(TRY_CAST(sport AS USMALLINT) AS INTEGER) AS source_port,
               CAST(TRY_CAST(dport AS USMALLINT) AS INTEGER) AS destination_port,
               network_transport,
               split_part(gsr, ':', 2) AS rule_id,
               -- Snort 3 quotes the message; Snort 2 and Suricata do not.
               CASE WHEN length(msg) >= 2 AND starts_with(msg, '"') AND suffix(msg, '"')
                    THEN substr(msg, 2, length(msg) - 2) ELSE msg END AS rule_name,
               nullif(cls, '') AS rule_category,
               CAST(prio AS SMALLINT) AS event_severity,
               CASE WHEN p1 = 0 OR p2 = 0 OR prio IS NULL OR dst = ''
                         OR NOT regexp_full_match(gsr, {lit(GID_SID_REV)})
                        THEN {lit(NOT_FASTLOG)}
                    WHEN has_ports AND NOT (regexp_full_match(sport, {lit(PORT)})
                                            AND regexp_full_match(dport, {lit(PORT)})
                                            AND TRY_CAST(sport AS USMALLINT) IS NOT NULL
                                            AND TRY_CAST(dport AS USMALLINT) IS NOT NULL)
                        THEN {lit(INVALID_PORT)}
               END AS reason
        FROM hosts
        """  # noqa: S608 - constant patterns and a generated view name only


PARSERS: Final = (FastLogParser,)
