"""MikroTik RouterOS firewall log lines (``--format mikrotik``).

A firewall rule with ``action=log`` (or ``log=yes``) makes RouterOS write::

    drop-tcp input: in:ether1-WAN out:(unknown 0), connection-state:new
        src-mac 00:17:10:88:bc:02, proto TCP (SYN), 36.97.161.219:59388->80.82.202.145:23, len 40

(one line), after the rule's log prefix (``drop-tcp``, optional) and the chain
(``input``). Remote logging puts a stamp, the router's address and the topics
(``firewall,info``) in front, with no ``:`` after the topics, so the common
syslog envelope does not apply: this parser reads the stamp itself (ISO 8601
with a zone, or RFC 3164, dated like every RFC 3164 stamp by
``SyslogEnvelope.resolve``). IPv6 endpoints with ports are bracketed
(``[2001:db8::1]:443``); ICMP endpoints have no port (``fe80::1`` is a bare
IPv6 address, not ``fe80`` and port ``:1``). rsyslog's ``message
repeated N times: [ ...]`` (after the topics, which it takes for the tag) is
read as the line inside, N packets: RouterOS lines carry no sequence number,
so a retransmitted SYN logged twice is folded so.

RouterOS does not log the rule's action, so it is read from the log prefix
with the netfilter keywords (``config.netfilter.prefix_actions``: ``drop``,
``reject``, ``accept``...) and ``config.netfilter.default_action`` otherwise,
as for netfilter LOG lines: log rules are nearly always put before a drop.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import ClassVar, Final

import pyarrow as pa

from reconwatch.ingest import syslog
from reconwatch.ingest.base import REPEAT, Parsed
from reconwatch.ingest.fw_common import (
    INVALID_PORT,
    bad_port_sql,
    outcome_sql,
    port_sql,
    sniff_share,
    transport_sql,
)
from reconwatch.ingest.linesql import lit, run_batch
from reconwatch.ingest.netfilter import prefix_action_sql

NOT_MIKROTIK: Final = "not a MikroTik firewall line"
MALFORMED: Final = "malformed MikroTik firewall line"

#: Stamp, router, firewall topics, then the log prefix (lazy: it may hold spaces),
#: chain and interfaces: one pattern that stops before the packet part, so RE2
#: does not carry capture state over the rest of the line.
ENVELOPE: Final = (
    rf"^(?:<\d{{1,3}}>)?({syslog.ISO_STAMP}|{syslog.BSD_STAMP}) (\S+) "
    r"([a-z0-9,]*firewall[a-z0-9,]*):? (.*?)(\S+): in:(\S*) out:([^,]*),"
)
#: rsyslog's repeat wrapper where the message follows the topics (rsyslog
#: takes them for the tag): the line up to them, the count, the line inside.
REPEATED: Final = (
    rf"^((?:<\d{{1,3}}>)?(?:{syslog.ISO_STAMP}|{syslog.BSD_STAMP}) \S+ "
    r"[a-z0-9,]*firewall[a-z0-9,]*:? )" + syslog.REPEATED.removeprefix("^")
)
#: The packet: protocol (and TCP flags or ICMP type), then the endpoints. Any
#: connection state and MAC come before it; a NAT rewrite comes after it.
PACKET: Final = r" proto (\S+)(?: \(([^)]*)\))?, ([^\s,>-]+)->([^\s,]+),"
_ENDPOINT_V6: Final = r"^\[([^\]]*)\]:(\d+)$"
#: ``v4:port``: the port is digits only, so that a bare IPv6 address (an ICMPv6
#: endpoint, ``fe80::1``) is not cut at its first colon.
_ENDPOINT_V4: Final = r"^([^:\[\]]*):(\d*)$"
TCP_FLAGS: Final = ("CWR", "ECE", "URG", "ACK", "PSH", "RST", "SYN", "FIN")

_SNIFF: Final = re.compile(r"firewall[a-z0-9,]* .*\S+: in:\S* out:.*, proto \S+")


def _endpoint(text: str) -> str:
    """SQL: STRUCT(a, p) of an endpoint: ``[v6]:port``, ``v4:port`` or a bare address."""
    return f"""CASE WHEN starts_with({text}, '[')
                    THEN regexp_extract({text}, {lit(_ENDPOINT_V6)}, ['a', 'p'])
                    WHEN regexp_matches({text}, {lit(_ENDPOINT_V4)})
                    THEN regexp_extract({text}, {lit(_ENDPOINT_V4)}, ['a', 'p'])
                    ELSE {{'a': {text}, 'p': ''}} END"""


class MikrotikParser(syslog.EnvelopedParser):
    """RouterOS firewall log lines, local or sent to a syslog server."""

    name = "mikrotik"
    dataset = "mikrotik"
    table = "network"
    #: RouterOS tags lines with topics (``firewall,info``), not a program; the
    #: syslog multiplexer names such lines ``mikrotik`` (``syslogmux.TOPICS``).
    programs: ClassVar[tuple[str, ...]] = ("mikrotik",)

    @classmethod
    def sniff(cls, sample: Sequence[str]) -> bool:
        return sniff_share(sample, _SNIFF)

    def parse(self, lines: pa.Table) -> Parsed:
        k = syslog
        netfilter = self.ctx.config.netfilter
        action, params = prefix_action_sql(netfilter, "lower(coalesce(e.prefix, ''))", "mt")
        flags = ", ".join(
            f"CASE WHEN contains(',' || replace(m.flags, ' ', '') || ',', {lit(',' + n + ',')}) "
            f"THEN {lit(n)} END"
            for n in TCP_FLAGS
        )
        stamp = "e.stamp"
        months = lit("JanFebMarAprMayJunJulAugSepOctNovDec")
        sql = f"""
        WITH wrapped AS (
            SELECT log_line, _row, line,
                   CASE WHEN contains(line, ' message repeated ')
                        THEN regexp_extract(line, {lit(REPEATED)}, ['head', 'n', 'msg']) END AS rep
            FROM {{view}}
        ),
        -- rsyslog's "message repeated N times: [ ...]": the line inside, N packets.
        lines AS (
            SELECT log_line, _row,
                   CASE WHEN rep.n <> '' THEN rep.head || rep.msg ELSE line END AS line,
                   CASE WHEN rep.n <> '' THEN {syslog.repeat_count_sql("rep")} END AS {REPEAT},
                   regexp_full_match(line, '\\s*') AS skip
            FROM wrapped
        ),
        env AS (
            SELECT *,
                   regexp_extract(line, {lit(ENVELOPE)},
                                  ['stamp', 'host', 'topics', 'prefix', 'chain', 'in_if',
                                   'out_if']) AS e
            FROM lines
        ),
        msg AS (
            SELECT *,
                   CASE WHEN e.stamp <> '' THEN
                        regexp_extract(line, {lit(PACKET)}, ['proto', 'flags', 'src', 'dst'])
                   END AS m,
                   {stamp}[1] BETWEEN 'A' AND 'Z' AS bsd
            FROM env
        ),
        ends AS (
            SELECT *, {_endpoint("m.src")} AS s, {_endpoint("m.dst")} AS d,
                   {transport_sql("NULL", "m.proto")} AS network_transport,
                   {action} AS event_action
            FROM msg
        )
        SELECT log_line, _row, skip,
               CASE WHEN {stamp} <> '' AND NOT bsd
                    THEN timezone('UTC', TRY_CAST({stamp} AS TIMESTAMPTZ)) END AS {k.TIME},
               CASE WHEN bsd THEN CAST(nullif((instr({months}, left({stamp}, 3)) + 2) // 3, 0)
                    AS INTEGER) END AS {k.MONTH},
               CASE WHEN bsd THEN CAST(trim(substr({stamp}, 5, 2)) AS INTEGER) END AS {k.DAY},
               CASE WHEN bsd THEN TRY_CAST(right({stamp}, 8) AS TIME) END AS {k.TOD},
               nullif(e.host, '') AS observer_name,
               s.a AS source_raw, d.a AS destination_raw,
               CASE WHEN network_transport IN ('tcp', 'udp') THEN {port_sql("s.p")} END
                   AS source_port,
               CASE WHEN network_transport IN ('tcp', 'udp') THEN {port_sql("d.p")} END
                   AS destination_port,
               network_transport,
               CASE WHEN network_transport = 'tcp' AND m.flags <> ''
                    THEN concat_ws(' ', {flags}) END AS tcp_flags,
               nullif(e.in_if, '') AS interface_in,
               CASE WHEN e.out_if NOT LIKE '(unknown%' THEN nullif(e.out_if, '') END
                   AS interface_out,
               nullif(trim(concat_ws(' ', nullif(trim(e.prefix), ''), e.chain)), '') AS log_prefix,
               event_action,
               {outcome_sql("event_action")} AS connection_outcome,
               {REPEAT},
               CASE WHEN e.stamp = '' THEN CASE WHEN contains(line, 'firewall,')
                    THEN {lit(MALFORMED)} ELSE {lit(NOT_MIKROTIK)} END
                    WHEN m.src = '' OR s.a = '' OR d.a = '' OR network_transport IS NULL
                        THEN {lit(MALFORMED)}
                    WHEN network_transport IN ('tcp', 'udp')
                         AND (coalesce(s.p, '') = '' OR coalesce(d.p, '') = ''
                              OR {bad_port_sql("s.p")} OR {bad_port_sql("d.p")})
                        THEN {lit(INVALID_PORT)}
               END AS reason
        FROM ends
        """  # noqa: S608 - constant patterns and a generated view name only
        return run_batch(self.ctx.con, lines, sql, params, self.envelope)
