"""Resolver query logs -> ``dns``: dnsmasq, Unbound and CoreDNS.

dnsmasq (``log-queries``; syslog program ``dnsmasq``, or its own
``log-facility`` file, which has no host)::

    Nov 28 04:00:00 gw dnsmasq[812]: query[A] www.example.com from 192.0.2.1
    Nov 28 04:00:00 dnsmasq[812]: 17 192.0.2.1/53211 query[AAAA] x.example.com from 192.0.2.1

Query lines become rows (``log-queries=extra`` adds a serial number and the
client's port; ``log-queries=proto`` a ``UDP``/``TCP`` prefix, kept as the
transport). The type is dnsmasq's mnemonic, or for a type it has no name for
(``query[type=65]``) the number's (``HTTPS``), else ``TYPE<n>``, as every DNS
parser names a number (``dns_lines.qtype_sql``). The
lines that follow a query (``forwarded``, ``reply``,
``cached``, ``config``, ``DHCP``, ``/etc/hosts``, ``validation``,
``dnssec-query``...) describe that query's resolution, not another event: they
are skipped (counted), and the answer lines among them (``reply``, ``cached``,
``cached-stale``, ``config``, ``DHCP``, ``auth``, a hosts file: ``SOURCE NAME is
DATA``) give the query row its ``dns_answers`` and ``dns_response_code``:

* which query a line answers: with ``log-queries=extra`` every line carries the
  query's serial (``42 192.0.2.1/53211 reply www.example.com is 192.0.2.80``),
  and a line answers the latest earlier query of the same serial from the same
  process (host and pid): exact, as dnsmasq itself numbers them. Without
  ``extra`` the rule is a best reading of dnsmasq's single-threaded log: the
  answer lines of one reply are written one after the other, and a run of
  answer lines (a new run starts after any other line or where the name
  changes other than after a ``<CNAME>``) answers the latest earlier query
  from the same process whose name is the run's first name (a PTR query's
  ``d.c.b.a.in-addr.arpa`` also matches the ``a.b.c.d`` that dnsmasq writes
  for reverse answers; IPv6 reverse answers match only in ``extra`` mode).
  Two concurrent queries of the same name share one upstream reply in dnsmasq:
  the later query gets it.
* ``dns_answers``: the addresses and names in answer order; a ``<CNAME>`` line
  contributes its target (the name of the next line of the reply); type
  placeholders (``<PTR>``, ``<TXT>``...) carry no data and are left out.
  NULL when no answer line carries data.
* ``dns_response_code``: ``NXDOMAIN`` (``NXDOMAIN``, ``NXDOMAIN-IPv4``...),
  ``SERVFAIL``, ``REFUSED``, ``FORMERR``, ``NOTIMP`` or the mnemonic of a
  numeric code if any answer line says so, else ``NOERROR`` (addresses, names,
  ``NODATA``); NULL for a query without an answer line (forwarded with no
  reply logged, or a reply in the next batch).
* batches: the pairing runs over one batch (about a megabyte of lines): a
  reply whose query ended the previous batch is skipped without being joined,
  and that query's row keeps NULL answers and response code.

Pi-hole's ``pihole.log`` is dnsmasq's (FTL embeds it): a query Pi-hole blocks
itself is answered by a line naming the list (``gravity blocked``, ``exactly
denied``, ``regex blacklisted``, ``special domain``... ``NAME is 0.0.0.0``),
read as any other answer line (the sinkhole address, or ``NXDOMAIN``).

Any other dnsmasq line is rejected (``not a dnsmasq query line``).

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

import pyarrow as pa
import pyarrow.compute as pc

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
from reconwatch.ingest.slices import run_on

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
        -- rsyslog's "message repeated N times: [ msg]": msg, N times.
        env AS ({self.envelope.select_sql("raw", repeats=True)}),
        msg AS (
            SELECT log_line, _row, line, {k.KIND}, {k.TIME}, {k.MONTH}, {k.DAY}, {k.TOD}, {REPEAT},
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


#: The type is its mnemonic, or ``type=N`` for one dnsmasq has no name for.
#: The name is any printable text (dnsmasq keeps a label's spaces, and writes
#: ``<name unprintable>`` for one with control bytes): everything up to the
#: last `` from ``, as dnsmasq writes the client last.
DNSMASQ_QUERY: Final = (
    r"^(?:\d+ ([^/\s]+)/(\d+) )?query\[(type=\d{1,5}|[A-Za-z0-9]+)\] (.+) from (\S+)$"
)
#: ``log-queries=extra``'s serial (and client), when dnsmasq has one for the line.
_SERIAL: Final = r"^(?:\d+ (?:\S+/\d+ )?)?"
#: Pi-hole FTL's dnsmasq answers a query it blocks itself with a line naming
#: why (FTL's ``blockingreason``: v5 "blacklisted", v6 "denied"), e.g.
#: ``gravity blocked ads.example.com is 0.0.0.0`` (or ``::``, or ``NXDOMAIN``
#: in that blocking mode).
_PIHOLE_BLOCKED: Final = (
    r"gravity blocked|exactly blacklisted|regex blacklisted|exactly denied|regex denied|"
    r"special domain"
)
#: Lines that follow a query and describe its resolution: skipped.
DNSMASQ_FOLLOW: Final = (
    _SERIAL + r"(?:reply|forwarded|cached|cached-stale|config|DHCP|validation|"
    r"dnssec-query|dnssec-retry|dnssec-response|ipset add|nftset add|auth|"
    + _PIHOLE_BLOCKED
    + r"|/\S+)(?:\[[^\]]*\])? "
)
#: The follow-up lines that answer: ``SOURCE NAME is DATA`` (then an optional
#: `` (DNSSEC signed)`` or `` (EDE: ...)``, not read), to the line's end: a
#: name or data holding `` is `` (a client's query name, an upstream's CNAME
#: or PTR target: dnsmasq keeps their spaces) cannot be split for sure, and
#: read at its first word it would answer another client's query of that name.
#: Pi-hole's ``reply NAME is blocked during CNAME inspection`` reads ``blocked``.
DNSMASQ_ANSWER: Final = (
    _SERIAL
    + r"(?:reply|cached|cached-stale|config|DHCP|auth|"
    + _PIHOLE_BLOCKED
    + r"|/\S+) (\S+) is (not implemented|\S+)(?: during CNAME inspection)?"
    + r"(?: \(DNSSEC signed\)| \(EDE: [^)]*\))?$"
)
#: Helper columns of the batch query, used by ``DnsmasqParser.combine`` only.
_PAIRING: Final = ("dm_kind", "dm_proc", "dm_serial", "dm_name", "dm_data")
#: Numeric response codes dnsmasq writes as numbers (it names SERVFAIL, REFUSED...).
_RCODES: Final = {6: "YXDOMAIN", 7: "YXRRSET", 8: "NXRRSET", 9: "NOTAUTH", 10: "NOTZONE"}
NOT_DNSMASQ: Final = "not a dnsmasq query line"
_DNSMASQ_SNIFF = re.compile(
    r"dnsmasq\[\d+\]: (?:(?:UDP|TCP) )?(?:\d+ \S+/\d+ )?query\[(?:type=\d{1,5}|[A-Za-z0-9]+)\] "
    r"\S+ from "
)


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
        proto AS (
            SELECT *, CASE WHEN starts_with(message, 'UDP ') OR starts_with(message, 'TCP ')
                           THEN lower(left(message, 3)) END AS network_transport
            FROM msg
        ),
        body AS (
            SELECT * EXCLUDE (message),
                   CASE WHEN network_transport IS NULL THEN message ELSE substr(message, 5) END
                       AS message
            FROM proto
        ),
        cut AS (
            SELECT *,
                   regexp_extract(message, {lit(DNSMASQ_QUERY)},
                                  ['cip', 'cport', 'type', 'name', 'ip']) AS q
            FROM body
        ),
        answer AS (
            SELECT *,
                   CASE WHEN q.name = '' AND mine THEN
                        regexp_extract(message, {lit(DNSMASQ_ANSWER)}, ['name', 'data']) END AS a
            FROM cut
        )
        SELECT log_line, _row, {k.TIME}, {k.MONTH}, {k.DAY}, {k.TOD}, observer_name,
               nullif(q.ip, '') AS source_raw,
               CAST(TRY_CAST(nullif(q.cport, '') AS USMALLINT) AS INTEGER) AS source_port,
               network_transport,
               {qname_sql("q.name")} AS dns_question_name,
               -- type=N: the number's mnemonic, else TYPE<n> (qtype_sql).
               {
            qtype_sql(
                "CASE WHEN starts_with(q.type, 'type=') THEN substr(q.type, 6) ELSE q.type END"
            )
        } AS dns_question_type,
               'IN' AS dns_question_class,
               'allowed' AS event_action,
               {REPEAT},
               CASE WHEN NOT mine THEN {lit(OTHER_PROGRAM)}
                    WHEN q.name = '' THEN {lit(NOT_DNSMASQ)} END AS reason,
               q.name = '' AND mine AND regexp_matches(message, {lit(DNSMASQ_FOLLOW)}) AS skip,
               CASE WHEN mine AND q.name <> '' THEN 'q'
                    WHEN coalesce(a.name, '') <> '' THEN 'a' END AS dm_kind,
               concat_ws('/', observer_name,
                         split_part(split_part(line, 'dnsmasq[', 2), ']', 1)) AS dm_proc,
               CASE WHEN regexp_matches(message, '^[0-9]{{1,10}} ')
                    THEN CAST(split_part(message, ' ', 1) AS BIGINT) END AS dm_serial,
               CASE WHEN q.name <> '' THEN {qname_sql("q.name")}
                    ELSE {qname_sql("a.name")} END AS dm_name,
               a.data AS dm_data
        FROM answer
        """  # noqa: S608 - constant patterns and a generated view name only

    def combine(self, result: pa.Table) -> pa.Table:
        """Answers and response codes joined to the queries they answer (module doc)."""
        n = result.num_rows
        answers = pa.nulls(n, pa.list_(pa.string()))
        rcodes = pa.nulls(n, pa.string())
        kind = result.column("dm_kind").combine_chunks()
        if pc.any(pc.equal(kind, "a")).as_py():
            paired = pc.is_valid(kind)
            lines = pa.table(
                {
                    "pos": pc.indices_nonzero(paired),
                    "log_line": pc.filter(result.column("log_line"), paired),
                    **{c: pc.filter(result.column(c), paired) for c in _PAIRING},
                }
            )
            cursor = self.ctx.con.cursor()
            try:
                found = run_on(_PAIR_SQL, {}, "{view}", None, cursor, lines)
            finally:
                cursor.close()
            if found.num_rows:
                # ``found`` is sorted by pos: each query row takes its own row of it.
                at = pc.is_in(pc.indices_nonzero(pa.repeat(pa.scalar(True), n)), found["pos"])
                index = pc.replace_with_mask(
                    pa.nulls(n, pa.uint64()),
                    at,
                    pc.indices_nonzero(pa.repeat(pa.scalar(True), found.num_rows)),
                )
                answers = pc.take(found["answers"], index).combine_chunks()
                rcodes = pc.take(found["rcode"], index).combine_chunks()
        return (
            result.drop_columns(list(_PAIRING))
            .append_column("dns_answers", answers)
            .append_column("dns_response_code", rcodes)
        )


def _reverse_v4(name: str) -> str:
    """SQL: ``a.b.c.d`` for a name ``d.c.b.a.in-addr.arpa``, else the name itself."""
    parts = ", ".join(f"split_part({name}, '.', {i})" for i in (4, 3, 2, 1))
    return (
        f"CASE WHEN regexp_full_match({name}, '(?:\\d{{1,3}}\\.){{4}}in-addr\\.arpa') "
        f"THEN concat_ws('.', {parts}) ELSE {name} END"
    )


_NUMERIC_RCODE = " ".join(f"WHEN {code} THEN {lit(name)}" for code, name in _RCODES.items())
#: Over the query and answer lines of a batch (``pos``, ``log_line`` and ``_PAIRING``):
#: for each query that has answer lines, its answers and response code, by ``pos``.
_PAIR_SQL: Final = f"""
WITH s AS (SELECT *, {_reverse_v4("dm_name")} AS key FROM {{view}}),
w AS (
    SELECT *, lag(dm_kind) OVER p AS prev_kind, lag(dm_name) OVER p AS prev_name,
           lag(dm_data) OVER p AS prev_data
    FROM s WINDOW p AS (PARTITION BY dm_proc ORDER BY log_line)
),
runs AS (
    SELECT *,
           sum(CASE WHEN dm_kind = 'a' AND (prev_kind IS DISTINCT FROM 'a'
                         OR (prev_name IS DISTINCT FROM dm_name
                             AND prev_data IS DISTINCT FROM '<CNAME>')) THEN 1 ELSE 0 END)
               OVER (PARTITION BY dm_proc ORDER BY log_line ROWS UNBOUNDED PRECEDING) AS run
    FROM w
),
ans AS (
    SELECT *,
           CASE WHEN dm_serial IS NOT NULL THEN 's' || dm_serial ELSE 'r' || run END AS grp,
           first_value(key) OVER (PARTITION BY dm_proc, run ORDER BY log_line) AS head_key,
           min(log_line) OVER (PARTITION BY dm_proc, run) AS head_line
    FROM runs WHERE dm_kind = 'a'
),
ans2 AS (
    SELECT *, lead(dm_name) OVER (PARTITION BY dm_proc, grp ORDER BY log_line) AS next_name
    FROM ans
),
queries AS (
    SELECT pos AS qpos, log_line AS qline, dm_proc AS qproc, dm_serial AS qserial, key AS qkey
    FROM s WHERE dm_kind = 'q'
),
by_serial AS (
    SELECT a.log_line, a.dm_data, a.next_name, q.qpos
    FROM (SELECT * FROM ans2 WHERE dm_serial IS NOT NULL) a
    ASOF JOIN queries q
        ON a.dm_proc = q.qproc AND a.dm_serial = q.qserial AND a.log_line > q.qline
),
by_name AS (
    SELECT a.log_line, a.dm_data, a.next_name, q.qpos
    FROM (SELECT * FROM ans2 WHERE dm_serial IS NULL) a
    ASOF JOIN queries q
        ON a.dm_proc = q.qproc AND a.head_key = q.qkey AND a.head_line > q.qline
),
vals AS (
    SELECT qpos, log_line,
           CASE WHEN dm_data = '<CNAME>' THEN next_name
                WHEN starts_with(dm_data, '<') OR starts_with(dm_data, 'NXDOMAIN')
                     OR starts_with(dm_data, 'NODATA')
                     OR dm_data IN ('SERVFAIL', 'REFUSED', 'FORMERR', 'not implemented')
                     OR regexp_full_match(dm_data, '[0-9]+') THEN NULL
                ELSE dm_data END AS answer,
           CASE WHEN starts_with(dm_data, 'NXDOMAIN') THEN 'NXDOMAIN'
                WHEN dm_data IN ('SERVFAIL', 'REFUSED', 'FORMERR') THEN dm_data
                WHEN dm_data = 'not implemented' THEN 'NOTIMP'
                WHEN regexp_full_match(dm_data, '[0-9]{{1,5}}') THEN
                     CASE CAST(dm_data AS INTEGER) {_NUMERIC_RCODE}
                          ELSE 'RCODE' || CAST(dm_data AS INTEGER) END
                ELSE 'NOERROR' END AS rc
    FROM (SELECT * FROM by_serial UNION ALL SELECT * FROM by_name)
)
SELECT qpos AS pos,
       list(answer ORDER BY log_line) FILTER (WHERE answer IS NOT NULL) AS answers,
       coalesce(arg_min(rc, log_line) FILTER (WHERE rc <> 'NOERROR'), 'NOERROR') AS rcode
FROM vals GROUP BY qpos ORDER BY qpos
"""  # noqa: S608 - constant patterns and a generated view name only


#: The name ends with its dot; the root is the dot alone (``. NS IN``).
UNBOUND_QUERY: Final = (
    r"^(?:\[\d+:\d+\] )?info: (\S+) (\S*\.) ([A-Za-z0-9]+) (IN|CH|HS|NONE|ANY|CLASS\d+)"
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
                   timezone('UTC', to_timestamp(CAST(e.secs AS BIGINT))) END AS own_time,
               nullif(q.ip, '') AS source_raw,
               {qname_sql("q.name")} AS dns_question_name,
               {qtype_sql("q.type")} AS dns_question_type,
               nullif(q.cls, '') AS dns_question_class,
               nullif(q.rcode, '') AS dns_response_code,
               'allowed' AS event_action,
               {REPEAT},
               CASE WHEN NOT mine THEN {lit(OTHER_PROGRAM)}
                    WHEN q.name = '' THEN {lit(NOT_UNBOUND)}
                    WHEN {k.KIND} IS NULL AND coalesce(e.secs, '') = ''
                        THEN {lit(MISSING_TIMESTAMP)} END AS reason
        FROM cut
        """  # noqa: S608 - constant patterns and a generated view name only


#: A line CoreDNS wrote itself (``[INFO]``, ``[ERROR]``...), after an optional runtime stamp.
COREDNS_OWN: Final = r"^(?:\d{4}-\d{2}-\d{2}T\S+ )?\[[A-Z]+\] "
NOT_COREDNS: Final = "not a CoreDNS query line"
#: The quoted question (``"A IN name. udp 44 false 512"``), ``\"`` inside the name.
_COREDNS_QUOTED: Final = r'"((?:[^"\\]|\\.)*)"'
#: In it, the name (``\ `` and ``\"`` escaped) and the protocol after it.
_COREDNS_NAME: Final = r"^\S+ \S+ ((?:[^ \\]|\\.)*)(?: (\S+))?"
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
        -- The name is written escaped (a quote or a space in a label after a
        -- backslash): where a backslash is, the quoted part and the name are
        -- cut by escape-aware patterns, an escaped quote or space kept in the name.
        parts AS (
            SELECT *, split_part(after, ' ', 1) AS peer, split_part(after, ' ', 2) AS dash,
                   split_part(after, ' ', 3) AS id,
                   CASE WHEN contains(after, '\\')
                        THEN regexp_extract(after, {lit(_COREDNS_QUOTED)}, 1)
                        ELSE split_part(after, '"', 2) END AS q,
                   split_part(split_part(after, '" ', 2), ' ', 1) AS rcode
            FROM afters
        ),
        escaped AS (
            SELECT *, CASE WHEN contains(q, '\\')
                           THEN regexp_extract(q, {lit(_COREDNS_NAME)}, ['name', 'proto']) END
                          AS qe
            FROM parts
        ),
        fields AS (
            SELECT *, split_part(peer, ':', -1) AS port,
                   split_part(q, ' ', 1) AS qtype, split_part(q, ' ', 2) AS qclass,
                   coalesce(qe.name, split_part(q, ' ', 3)) AS qname,
                   coalesce(qe.proto, split_part(q, ' ', 4)) AS proto
            FROM escaped
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
               {qtype_sql("qtype")} AS dns_question_type,
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
