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
(``(3)www(7)example(3)com(0)`` -> ``www.example.com``). The stamp is the
server's local time in its locale; the US form (``M/D/YYYY h:mm:ss AM``, or
24-hour) is read, in ``syslog.timezone``.

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

import re
from collections.abc import Sequence
from typing import Final

from reconwatch.ingest.dns_lines import VIEW, SqlLineParser, qname_sql, qtype_sql
from reconwatch.ingest.linesql import lit

NOT_PACKET: Final = "not a Windows DNS packet line"

#: Entries are cut with string functions around `` PACKET ``, ``[`` and ``]``:
#: one regex over the whole entry (six groups) ran at about 3 us a line. Only
#: short pieces are checked by patterns.
XID: Final = r"[0-9A-Fa-f]{1,4}"
LABELS: Final = r"(?:\(\d+\)[^()\s]*)+"
_SNIFF = re.compile(
    r"^\d{1,2}/\d{1,2}/(?:\d{4}|\d{2}) \d{1,2}:\d{2}:\d{2}(?: [AP]M)? [0-9A-Fa-f]+ PACKET "
)
#: The stamp's date as Windows writes it for the US short date, with a
#: four-digit year or, under a two-digit short-date setting, two digits (read
#: as strptime's ``%y``: 00-68 are 20xx). DuckDB's ``%Y`` alone would read
#: ``26`` as the year 26.
_STAMPS: Final = {
    4: ("'%m/%d/%Y %I:%M:%S %p'", "'%m/%d/%Y %H:%M:%S'"),
    2: ("'%m/%d/%y %I:%M:%S %p'", "'%m/%d/%y %H:%M:%S'"),
}


class WindowsDnsParser(SqlLineParser):
    """Windows DNS Server debug (packet) log."""

    name = "windns"
    dataset = "windns"
    table = "dns"

    @classmethod
    def sniff(cls, sample: Sequence[str]) -> bool:
        try:
            return any(_SNIFF.match(line) is not None for line in sample[:50])
        except Exception:  # a sniffer must never stop format detection
            return False

    def query(self) -> str:
        year_digits = "length(split_part(split_part(stamp, ' ', 1), '/', 3))"
        whens = " ".join(
            f"WHEN {digits} THEN coalesce(try_strptime(stamp, {twelve}), "
            f"try_strptime(stamp, {day}))"
            for digits, (twelve, day) in _STAMPS.items()
        )
        stamp = self.local_to_utc(f"CASE {year_digits} {whens} END")
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
                   trim(substr(after, rb + 2)) AS post
            FROM brackets
        ),
        tokens AS (
            SELECT *, split_part(pre, ' ', 2) AS proto, split_part(pre, ' ', 3) AS dir,
                   ltrim(substr(pre, length(split_part(pre, ' ', 1)) + 10)) AS peer_etc,
                   -- ``R`` before the opcode marks a response, a blank a query.
                   substr(pre, length(pre) - 2, 1) AS qr,
                   split_part(flagtext, ' ', -1) AS rcode,
                   split_part(post, ' ', 1) AS qtype,
                   split_part(post, ' ', -1) AS name
            FROM parts
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
