"""BIND 9 (``named``) query log and security/transfer lines -> ``dns``.

The lines, in BIND's own log file or inside a syslog envelope (program
``named``), optionally after BIND's stamp (``print-time``), category
(``print-category``) and severity (``print-severity``)::

    28-Nov-2026 04:00:00.123 queries: info: client @0x7f3a2c0 192.0.2.1#53211
        (www.example.com): view internal: query: www.example.com IN A +E(0)K (198.51.100.53)
    19-Oct-2022 05:34:02.425 client @0x7f65 192.168.1.1#3076 (example.com):
        query (cache) 'example.com/ANY/IN' denied
    03-Nov-2022 13:34:52.235 security: error: client @0x7fb0 ::1#62449 (example.com):
        zone transfer 'example.com/AXFR/IN' denied
    client @0x7fa0 ::1#61738 (example.com): bad zone transfer request:
        'example.com/IN': non-authoritative zone (NOTAUTH)
    client @0x7fa0 192.0.2.9#40001 (example.com): transfer of 'example.com/IN': AXFR started

The ``client @0x...`` object address (BIND >= 9.11), the ``(name)`` and the
``view NAME:`` parts are optional. Rows: ``query:`` lines (dataset
``bind.query``, action allowed, the server address as destination); denied
queries and zone transfers (``bind.security``, action denied); refused transfer
requests (``bad zone transfer request``, action rejected, the response code in
parentheses kept, the type ``XFR``, ``schema.TRANSFER_UNSAID``: BIND names the
zone but not AXFR or IXFR on this line, and the request is a transfer either
way);
transfers that start (``bind.security``, action allowed, AXFR or IXFR).
``transfer of ... ended`` lines are skipped: the transfer was counted when it
started. Any other line is rejected: ``not a BIND query or security line``, or
``line of another syslog program``.

Time: BIND's own stamp when the line has one (local time, read in
``syslog.timezone``), else the syslog envelope's; a line with neither is
rejected (``missing timestamp``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar, Final

from reconwatch.ingest import syslog
from reconwatch.ingest.base import REPEAT
from reconwatch.ingest.dns_lines import (
    BLANK_SQL,
    MISSING_TIMESTAMP,
    VIEW,
    SqlLineParser,
    in_list,
    qname_sql,
    qtype_sql,
)
from reconwatch.ingest.linesql import lit
from reconwatch.schema import TRANSFER_UNSAID

NOT_BIND: Final = "not a BIND query or security line"
#: A syslog line of another program (the multiplexer routes these in mixed files).
OTHER_PROGRAM: Final = "line of another syslog program"

#: What may stand before ``client``: BIND's stamp, then categories and severities
#: (``queries: info: ``). The client part itself is cut with string functions:
#: one regex across it (optional parts, the rest captured) ran at 2.5 us a line.
PREFIX: Final = (
    r"(?:\d{2}-[A-Z][a-z]{2}-\d{4} \d{2}:\d{2}:\d{2}(?:\.\d{1,3})? )?(?:[a-z][a-z-]*: )*"
)
STAMP: Final = r"^(\d{2}-[A-Z][a-z]{2}-\d{4} \d{2}:\d{2}:\d{2}(?:\.\d{1,3})?) "
ADDRESS_PORT: Final = r"[^#\s]+#\d{1,5}"
QUERY: Final = r"^query: (\S+) (\S+) (\S+) [-+]\S* \(([^)]*)\)"
DENIED: Final = r"^(query(?: \(cache\))?|zone transfer) '(.*)/([^/']*)/([^/']*)' denied"
BAD_XFER: Final = r"^bad zone transfer request: '(.*)/([^/']*)': [^(]*\(([A-Z]+)\)"
XFER_START: Final = r"^transfer of '(.*)/([^/']*)': (AXFR-style IXFR|AXFR|IXFR) started"
XFER_END: Final = r"^transfer of '.*': \S+ ended"
_STAMP_FORMATS: Final = "['%d-%b-%Y %H:%M:%S.%g', '%d-%b-%Y %H:%M:%S']"


def _looks_like_bind(line: str) -> bool:
    """``client`` with an ``address#port`` and one of BIND's query/transfer phrases."""
    if not isinstance(line, str) or "client " not in line or "#" not in line:
        return False
    return any(
        marker in line
        for marker in (": query: ", "' denied", "bad zone transfer request", "transfer of '")
    )


class BindParser(SqlLineParser):
    """BIND 9 query log, denied queries and zone transfers (file or syslog)."""

    name = "bind"
    dataset = "bind.query"
    table = "dns"
    programs: ClassVar[tuple[str, ...]] = ("named",)

    @classmethod
    def sniff(cls, sample: Sequence[str]) -> bool:
        try:
            return any(_looks_like_bind(line) for line in sample[:50])
        except Exception:  # a sniffer must never stop format detection
            return False

    def query(self) -> str:
        k = syslog
        stamp = self.local_to_utc(f"try_strptime(c.stamp, {_STAMP_FORMATS})")
        return f"""
        WITH lines AS (SELECT log_line, _row, line FROM {VIEW} WHERE NOT {BLANK_SQL}),
        -- rsyslog's "named[..]: message repeated N times: [ ...]": the line inside, N times.
        env AS ({self.envelope.select_sql("lines", repeats=True)}),
        msg AS (
            SELECT log_line, _row, {k.KIND}, {k.TIME}, {k.MONTH}, {k.DAY}, {k.TOD},
                   {k.HOST} AS observer_name, {REPEAT},
                   {k.KIND} IS NULL OR {k.PROGRAM} IN ({in_list(self.programs)}) AS mine,
                   CASE WHEN {k.KIND} IS NULL THEN line ELSE {k.MESSAGE} END AS m
            FROM env
        ),
        client AS (
            SELECT *, strpos(m, 'client ') AS pc FROM msg
        ),
        heads AS (
            SELECT *, left(m, pc - 1) AS prefix,
                   CASE WHEN starts_with(substr(m, pc + 7), '@0x')
                        THEN substr(m, pc + 7 + strpos(substr(m, pc + 7), ' '))
                        ELSE substr(m, pc + 7) END AS after
            FROM client
        ),
        parts AS (
            SELECT *, rtrim(split_part(after, ' ', 1), ':') AS ap,
                   substr(after, strpos(after, ': ') + 2) AS rest0
            FROM heads
        ),
        cs AS (
            SELECT log_line, _row, {k.KIND}, {k.TIME}, {k.MONTH}, {k.DAY}, {k.TOD},
                   observer_name, mine, {REPEAT},
                   {{'stamp': regexp_extract(prefix, {lit(STAMP)}, 1),
                     'ip': split_part(ap, '#', 1),
                     'port': split_part(ap, '#', 2),
                     'rest': CASE WHEN starts_with(rest0, 'view ')
                                  THEN substr(rest0, strpos(rest0, ': ') + 2) ELSE rest0 END}} AS c,
                   pc > 0 AND strpos(after, ': ') > 0
                       AND regexp_full_match(prefix, {lit(PREFIX)})
                       AND regexp_full_match(ap, {lit(ADDRESS_PORT)}) AS is_client
            FROM parts
        ),
        cut AS (
            SELECT *,
                   CASE WHEN starts_with(c.rest, 'query: ')
                       THEN regexp_extract(c.rest, {lit(QUERY)}, ['name', 'cls', 'type', 'srv'])
                   END AS q,
                   CASE WHEN suffix(c.rest, ' denied') OR contains(c.rest, ' denied (')
                       THEN regexp_extract(c.rest, {lit(DENIED)}, ['what', 'name', 'type', 'cls'])
                   END AS d,
                   CASE WHEN starts_with(c.rest, 'bad zone transfer request: ')
                       THEN regexp_extract(c.rest, {lit(BAD_XFER)}, ['name', 'cls', 'rcode'])
                   END AS b,
                   CASE WHEN starts_with(c.rest, 'transfer of ')
                       THEN regexp_extract(c.rest, {lit(XFER_START)}, ['name', 'cls', 'type'])
                   END AS x,
                   starts_with(c.rest, 'transfer of ')
                       AND regexp_matches(c.rest, {lit(XFER_END)}) AS xfer_end
            FROM cs
        ),
        kinds AS (
            SELECT *,
                   CASE WHEN NOT is_client THEN NULL
                        WHEN q.name <> '' THEN 'query'
                        WHEN d.name <> '' OR d.type <> '' THEN 'denied'
                        WHEN b.cls <> '' THEN 'bad_xfer'
                        WHEN x.type <> '' THEN 'xfer' END AS kind
            FROM cut
        )
        SELECT log_line, _row, {k.TIME}, {k.MONTH}, {k.DAY}, {k.TOD}, observer_name,
               CASE WHEN c.stamp <> '' THEN {stamp} END AS own_time,
               nullif(c.ip, '') AS source_raw,
               CASE kind WHEN 'query' THEN nullif(q.srv, '') END AS destination_raw,
               CAST(TRY_CAST(nullif(c.port, '') AS USMALLINT) AS INTEGER) AS source_port,
               CASE kind WHEN 'query' THEN 53 END AS destination_port,
               {
            qname_sql(
                "CASE kind WHEN 'query' THEN q.name WHEN 'denied' THEN d.name "
                "WHEN 'bad_xfer' THEN b.name WHEN 'xfer' THEN x.name END"
            )
        }
                   AS dns_question_name,
               {
            qtype_sql(
                "CASE kind WHEN 'query' THEN q.type WHEN 'denied' THEN d.type "
                "WHEN 'xfer' THEN CASE WHEN x.type = 'AXFR' THEN 'AXFR' ELSE 'IXFR' END "
                f"WHEN 'bad_xfer' THEN {lit(TRANSFER_UNSAID)} END"
            )
        } AS dns_question_type,
               CASE kind WHEN 'query' THEN upper(q.cls) WHEN 'denied' THEN upper(d.cls)
                         WHEN 'bad_xfer' THEN upper(b.cls) WHEN 'xfer' THEN upper(x.cls)
               END AS dns_question_class,
               CASE kind WHEN 'bad_xfer' THEN b.rcode END AS dns_response_code,
               CASE kind WHEN 'query' THEN 'allowed' WHEN 'denied' THEN 'denied'
                         WHEN 'bad_xfer' THEN 'rejected' WHEN 'xfer' THEN 'allowed'
               END AS event_action,
               CASE kind WHEN 'query' THEN 'bind.query' ELSE 'bind.security' END AS event_dataset,
               {REPEAT},
               CASE WHEN NOT mine THEN {lit(OTHER_PROGRAM)}
                    WHEN kind IS NULL THEN {lit(NOT_BIND)}
                    WHEN c.stamp = '' AND {k.KIND} IS NULL THEN {lit(MISSING_TIMESTAMP)}
               END AS reason,
               coalesce(xfer_end AND mine, false) AS skip
        FROM kinds
        """  # noqa: S608 - constant patterns and a generated view name only


PARSERS: Final = (BindParser,)
