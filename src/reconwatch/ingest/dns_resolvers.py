"""Resolver query logs -> ``dns``: dnsmasq, Unbound and CoreDNS.

dnsmasq (``log-queries``; syslog program ``dnsmasq``, or its own
``log-facility`` file, which has no host)::

    Nov 28 04:00:00 gw dnsmasq[812]: query[A] www.example.com from 192.0.2.1
    Nov 28 04:00:00 dnsmasq[812]: 17 192.0.2.1/53211 query[AAAA] x.example.com from 192.0.2.1

Query lines become rows (``log-queries=extra`` adds the client's port). The
lines that follow a query (``forwarded``, ``reply``, ``cached``, ``config``,
``/etc/hosts``, ``validation``, ``dnssec-query``...) describe that query's
resolution, not another event: they are skipped, and their answers and
NXDOMAINs are not joined back to the query (a later version may). Any other
dnsmasq line is rejected (``not a dnsmasq query line``).

Unbound (``log-queries``/``log-replies``; syslog program ``unbound``, or its
own ``logfile`` with an epoch or ``log-time-ascii`` stamp)::

    Nov 28 04:00:00 ns unbound: [812:0] info: 192.0.2.1 www.example.com. A IN
    [1796097600] unbound[812:0] info: 192.0.2.1 www.example.com. A IN NOERROR 0.000000 0 45

A reply line keeps its response code. Other lines: ``not an unbound query line``.

CoreDNS ``log`` plugin, after a container runtime's ISO stamp
(``kubectl logs --timestamps``) or in a syslog envelope (program ``coredns``)::

    2026-11-28T04:00:00.123Z [INFO] 192.0.2.1:53211 - 4711 "A IN www.example.com. udp 44
        false 512" NOERROR qr,rd,ra 60 0.000123s

CoreDNS itself writes no time; a line without one is rejected (``missing
timestamp``): inventing one would misplace every event. Other lines:
``not a CoreDNS query line``.

Each parser rejects the syslog lines of other programs (``line of another
syslog program``) until the syslog multiplexer routes them.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import ClassVar, Final

from reconwatch.ingest import syslog
from reconwatch.ingest.dns_lines import (
    BLANK_SQL,
    MISSING_TIMESTAMP,
    VIEW,
    SqlLineParser,
    in_list,
    qname_sql,
)
from reconwatch.ingest.linesql import lit

#: RFC 3164 stamp at the start of a line (a program's own file, no host).
_BSD_START: Final = r"^(?:<\d{1,3}>)?([A-Z][a-z]{2}  ?\d{1,2} \d{2}:\d{2}:\d{2}) "

_DNSMASQ_OWN: Final = _BSD_START + r"(dnsmasq\[)"
_UNBOUND_OWN: Final = _BSD_START + r"unbound\[(\d+):\d+\] "


#: A syslog line of another program (the multiplexer routes these in mixed files).
OTHER_PROGRAM: Final = "line of another syslog program"


class _ResolverParser(SqlLineParser):
    """Shared: the envelope, the program test, and a ``message`` column per line."""

    programs: ClassVar[tuple[str, ...]]
    #: SQL CASE branch rewriting a line of the program's own file into a syslog
    #: line with the host ``-`` (NULL), so that one envelope reads both.
    own_file_sql: ClassVar[str] = "line"

    def lines_sql(self) -> str:
        """Envelope-cut lines: ``mine``, ``message`` (the whole line without an envelope)."""
        k = syslog
        return f"""
        raw AS (SELECT log_line, _row, {self.own_file_sql} AS line FROM {VIEW}
                WHERE NOT {BLANK_SQL}),
        env AS ({self.envelope.select_sql("raw")}),
        msg AS (
            SELECT log_line, _row, line, {k.KIND}, {k.TIME}, {k.MONTH}, {k.DAY}, {k.TOD},
                   {k.HOST} AS observer_name,
                   {k.KIND} IS NULL OR {k.PROGRAM} IN ({in_list(self.programs)}) AS mine,
                   CASE WHEN {k.KIND} IS NULL THEN line ELSE {k.MESSAGE} END AS message
            FROM env
        )"""  # noqa: S608 - constant patterns and a generated view name only

    @classmethod
    def _sniff_lines(cls, sample: Sequence[str], pattern: re.Pattern[str]) -> bool:
        try:
            return any(pattern.search(line) is not None for line in sample[:50])
        except Exception:  # a sniffer must never stop format detection
            return False


DNSMASQ_QUERY: Final = r"^(?:\d+ ([^/\s]+)/(\d+) )?query\[([A-Za-z0-9]+)\] (\S+) from (\S+)$"
#: Lines that follow a query and describe its resolution: skipped.
DNSMASQ_FOLLOW: Final = (
    r"^(?:\d+ \S+/\d+ )?(?:reply|forwarded|cached|cached-stale|config|validation|"
    r"dnssec-query|dnssec-retry|dnssec-response|ipset add|nftset add|auth|/\S+) "
)
NOT_DNSMASQ: Final = "not a dnsmasq query line"
_DNSMASQ_SNIFF = re.compile(r"dnsmasq\[\d+\]: (?:\d+ \S+/\d+ )?query\[[A-Za-z0-9]+\] \S+ from ")


class DnsmasqParser(_ResolverParser):
    """dnsmasq ``log-queries`` lines (syslog or its own log file)."""

    name = "dnsmasq"
    dataset = "dnsmasq"
    table = "dns"
    programs: ClassVar[tuple[str, ...]] = ("dnsmasq",)
    own_file_sql = (
        f"CASE WHEN regexp_matches(line, {lit(_DNSMASQ_OWN)}) "
        f"THEN regexp_replace(line, {lit(_DNSMASQ_OWN)}, '\\1 - \\2') ELSE line END"
    )

    @classmethod
    def sniff(cls, sample: Sequence[str]) -> bool:
        return cls._sniff_lines(sample, _DNSMASQ_SNIFF)

    def query(self) -> str:
        k = syslog
        return f"""
        WITH {self.lines_sql()},
        cut AS (
            SELECT *,
                   regexp_extract(message, {lit(DNSMASQ_QUERY)},
                                  ['cip', 'cport', 'type', 'name', 'ip']) AS q
            FROM msg
        )
        SELECT log_line, _row, {k.TIME}, {k.MONTH}, {k.DAY}, {k.TOD}, observer_name,
               nullif(q.ip, '') AS source_raw,
               CAST(TRY_CAST(nullif(q.cport, '') AS USMALLINT) AS INTEGER) AS source_port,
               {qname_sql("q.name")} AS dns_question_name,
               upper(q.type) AS dns_question_type,
               'IN' AS dns_question_class,
               'allowed' AS event_action,
               CASE WHEN NOT mine THEN {lit(OTHER_PROGRAM)}
                    WHEN q.name = '' THEN {lit(NOT_DNSMASQ)} END AS reason,
               q.name = '' AND mine AND regexp_matches(message, {lit(DNSMASQ_FOLLOW)}) AS skip
        FROM cut
        """  # noqa: S608 - constant patterns and a generated view name only


UNBOUND_QUERY: Final = (
    r"^(?:\[\d+:\d+\] )?info: (\S+) (\S+\.) ([A-Za-z0-9]+) (IN|CH|HS|NONE|ANY|CLASS\d+)"
    r"(?: ([A-Z]+|RCODE\d+) \d+\.\d+ \d+ \d+)?$"
)
#: The own log file with an epoch stamp: ``[1796097600] unbound[812:0] message``.
UNBOUND_EPOCH: Final = r"^\[(\d{9,11})\] unbound\[\d+:\d+\] (.*)$"
NOT_UNBOUND: Final = "not an unbound query line"
_UNBOUND_SNIFF = re.compile(
    r"unbound(?:\[\d+(?::\d+)?\])?:? (?:\[\d+:\d+\] )?info: \S+ \S+\. [A-Za-z0-9]+ "
    r"(?:IN|CH|HS|NONE|ANY|CLASS\d+)"
)


class UnboundParser(_ResolverParser):
    """Unbound ``log-queries``/``log-replies`` lines (syslog or its own log file)."""

    name = "unbound"
    dataset = "unbound"
    table = "dns"
    programs: ClassVar[tuple[str, ...]] = ("unbound",)
    # log-time-ascii writes ``Nov 28 04:00:00 unbound[812:0] info: ...``.
    own_file_sql = (
        f"CASE WHEN regexp_matches(line, {lit(_UNBOUND_OWN)}) "
        f"THEN regexp_replace(line, {lit(_UNBOUND_OWN)}, '\\1 - unbound[\\2]: ') ELSE line END"
    )

    @classmethod
    def sniff(cls, sample: Sequence[str]) -> bool:
        return cls._sniff_lines(sample, _UNBOUND_SNIFF)

    def query(self) -> str:
        k = syslog
        return f"""
        WITH {self.lines_sql()},
        epoch AS (
            SELECT *, CASE WHEN {k.KIND} IS NULL
                THEN regexp_extract(message, {lit(UNBOUND_EPOCH)}, ['secs', 'rest']) END AS e
            FROM msg
        ),
        cut AS (
            SELECT *,
                   regexp_extract(CASE WHEN e.secs <> '' THEN e.rest ELSE message END,
                                  {lit(UNBOUND_QUERY)}, ['ip', 'name', 'type', 'cls', 'rcode'])
                       AS q
            FROM epoch
        )
        SELECT log_line, _row, {k.TIME}, {k.MONTH}, {k.DAY}, {k.TOD}, observer_name,
               CASE WHEN e.secs <> '' THEN
                   CAST(to_timestamp(CAST(e.secs AS BIGINT)) AS TIMESTAMP) END AS own_time,
               nullif(q.ip, '') AS source_raw,
               {qname_sql("q.name")} AS dns_question_name,
               upper(q.type) AS dns_question_type,
               nullif(q.cls, '') AS dns_question_class,
               nullif(q.rcode, '') AS dns_response_code,
               'allowed' AS event_action,
               CASE WHEN NOT mine THEN {lit(OTHER_PROGRAM)}
                    WHEN q.name = '' THEN {lit(NOT_UNBOUND)}
                    WHEN {k.KIND} IS NULL AND coalesce(e.secs, '') = ''
                        THEN {lit(MISSING_TIMESTAMP)} END AS reason
        FROM cut
        """  # noqa: S608 - constant patterns and a generated view name only


#: A line CoreDNS wrote itself (``[INFO]``, ``[ERROR]``...), after an optional runtime stamp.
COREDNS_OWN: Final = r"^(?:\d{4}-\d{2}-\d{2}T\S+ )?\[[A-Z]+\] "
NOT_COREDNS: Final = "not a CoreDNS query line"
_COREDNS_SNIFF = re.compile(r"\[INFO\] \S+:\d+ - \d+ \"\S+ \S+ \S+ \S+ \d+ ")


class CoreDnsParser(_ResolverParser):
    """CoreDNS ``log`` plugin lines (runtime ISO stamp, or syslog)."""

    name = "coredns"
    dataset = "coredns"
    table = "dns"
    programs: ClassVar[tuple[str, ...]] = ("coredns",)

    @classmethod
    def sniff(cls, sample: Sequence[str]) -> bool:
        return cls._sniff_lines(sample, _COREDNS_SNIFF)

    def query(self) -> str:
        k = syslog
        return f"""
        WITH {self.lines_sql()},
        whole AS (
            -- CoreDNS's own lines first: a runtime stamp followed by ``[INFO] 192.0.2.1:53``
            -- also reads as an ISO syslog envelope with host [INFO] and program 192.0.2.1.
            SELECT *, regexp_matches(line, {lit(COREDNS_OWN)}) AS own FROM msg
        ),
        cut AS (
            SELECT * EXCLUDE (mine, {k.KIND}, observer_name),
                   CASE WHEN own THEN line ELSE message END AS src,
                   CASE WHEN NOT own THEN {k.KIND} END AS {k.KIND},
                   CASE WHEN NOT own THEN observer_name END AS observer_name,
                   own OR mine AS mine
            FROM whole
        ),
        -- Cut with string functions: the regexes this replaced (five groups, a lazy
        -- endpoint) cost several times as much per line.
        heads AS (SELECT *, strpos(src, '[INFO] ') AS pi FROM cut),
        afters AS (
            SELECT *, CASE WHEN pi > 1 THEN rtrim(left(src, pi - 1)) ELSE '' END AS stamp,
                   substr(src, pi + 7) AS after
            FROM heads
        ),
        parts AS (
            SELECT *, split_part(after, ' ', 1) AS peer, split_part(after, ' ', 2) AS dash,
                   split_part(after, ' ', 3) AS id, split_part(after, '"', 2) AS q,
                   split_part(split_part(after, '" ', 2), ' ', 1) AS rcode
            FROM afters
        ),
        fields AS (
            SELECT *, split_part(peer, ':', -1) AS port,
                   split_part(q, ' ', 1) AS qtype, split_part(q, ' ', 2) AS qclass,
                   split_part(q, ' ', 3) AS qname, split_part(q, ' ', 4) AS proto
            FROM parts
        ),
        hosts AS (
            SELECT *, left(peer, length(peer) - length(port) - 1) AS host FROM fields
        )
        SELECT log_line, _row, {k.TIME}, {k.MONTH}, {k.DAY}, {k.TOD}, observer_name,
               CASE WHEN stamp <> '' THEN
                   timezone('UTC', TRY_CAST(stamp AS TIMESTAMPTZ)) END AS own_time,
               nullif(CASE WHEN starts_with(host, '[') AND suffix(host, ']')
                           THEN substr(host, 2, length(host) - 2) ELSE host END, '')
                   AS source_raw,
               CAST(TRY_CAST(port AS USMALLINT) AS INTEGER) AS source_port,
               CASE lower(proto) WHEN 'udp' THEN 'udp' WHEN 'tcp' THEN 'tcp' END
                   AS network_transport,
               {qname_sql("qname")} AS dns_question_name,
               upper(qtype) AS dns_question_type,
               nullif(qclass, '') AS dns_question_class,
               nullif(rcode, '') AS dns_response_code,
               CAST(TRY_CAST(id AS USMALLINT) AS INTEGER) AS dns_id,
               'allowed' AS event_action,
               CASE WHEN NOT mine THEN {lit(OTHER_PROGRAM)}
                    WHEN pi = 0 OR dash <> '-' OR qname = '' OR rcode = ''
                         OR NOT regexp_full_match(id, '[0-9]{{1,5}}')
                         OR NOT regexp_full_match(port, '[0-9]{{1,5}}')
                        THEN {lit(NOT_COREDNS)}
                    WHEN {k.KIND} IS NULL AND stamp = '' THEN {lit(MISSING_TIMESTAMP)}
               END AS reason
        FROM hosts
        """  # noqa: S608 - constant patterns and a generated view name only


PARSERS: Final = (DnsmasqParser, UnboundParser, CoreDnsParser)
