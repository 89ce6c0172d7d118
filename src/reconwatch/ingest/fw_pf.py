"""pf ``filterlog`` lines from pfSense and OPNsense (``--format pf``).

filterlog writes one CSV record per logged packet inside a syslog envelope
(RFC 3164 on pfSense, RFC 5424 on OPNsense; ``reconwatch.ingest.syslog``)::

    Sep 28 10:38:24 pfSense filterlog: 53,,,1000102631,em0,match,block,in,4,0x0,,64,600,0,
        none,6,tcp,44,10.0.2.2,10.0.2.15,53792,22,0,S,31552001,,65535,,mss

The field order is pfSense's documented one (``filterlog`` format): rule,
sub-rule, anchor, tracker, interface, reason, action, direction, IP version;
then for IPv4 TOS, ECN, TTL, ID, offset, flags, protocol id, protocol name,
length, source, destination; for IPv6 class, flow label, hop limit, protocol
name, protocol id, length, source, destination; then for TCP and UDP source
port, destination port, data length, and for TCP flags, sequence, ack, window.
The record is split once (``string_split``) and the fields taken by position,
shifted by three for IPv6.

``block`` is ``denied``, ``reject`` is ``rejected``, ``pass`` is ``allowed``.
The tracker (the rule's stable id) is kept as ``log_prefix``.
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
    NOT_SYSLOG,
    bad_port_sql,
    case_map,
    outcome_sql,
    port_sql,
    sniff_share,
    transport_sql,
)
from reconwatch.ingest.linesql import lit, run_batch

NOT_FILTERLOG: Final = "not a filterlog line"
MALFORMED: Final = "malformed filterlog record"

ACTIONS: Final = {"block": "denied", "reject": "rejected", "pass": "allowed"}
#: pf's TCP flag letters, in the schema's order (CWR ECE URG ACK PSH RST SYN FIN).
TCP_FLAGS: Final = (("W", "CWR"), ("E", "ECE"), ("U", "URG"), ("A", "ACK"), ("P", "PSH"),
                    ("R", "RST"), ("S", "SYN"), ("F", "FIN"))  # fmt: skip

#: Sniffing: the program tag, then the start of the record up to the IP version.
_SNIFF: Final = re.compile(
    r"\bfilterlog(?:\[\d+\])?(?::| \S+ \S+ (?:-|\[.*?\])) "
    r"\d*,\d*,[^,]*,[^,]*,[^,]*,[^,]*,(?:block|pass|reject),(?:in|out),[46],"
)


class PfParser(syslog.EnvelopedParser):
    """pfSense / OPNsense filterlog CSV records (IPv4 and IPv6, any protocol)."""

    name = "pf"
    dataset = "pf"
    table = "network"
    programs: ClassVar[tuple[str, ...]] = ("filterlog",)

    @classmethod
    def sniff(cls, sample: Sequence[str]) -> bool:
        return sniff_share(sample, _SNIFF)

    def parse(self, lines: pa.Table) -> Parsed:
        k = syslog
        flags = ", ".join(
            f"CASE WHEN contains(tcpflags, {lit(letter)}) THEN {lit(name)} END"
            for letter, name in TCP_FLAGS
        )
        sql = f"""
        WITH lines AS (
            SELECT log_line, _row, line, regexp_full_match(line, '\\s*') AS skip FROM {{view}}
        ),
        -- rsyslog's "message repeated N times: [ ...]": the record inside, N times.
        env AS ({self.envelope.select_sql("lines", repeats=True)}),
        cut AS (
            SELECT *, CASE WHEN {k.PROGRAM} = 'filterlog' THEN string_split({k.MESSAGE}, ',')
                      END AS f
            FROM env
        ),
        v AS (
            SELECT *, CASE f[9] WHEN '4' THEN 0 WHEN '6' THEN -3 END AS o,
                   {case_map("f[7]", ACTIONS)} AS event_action
            FROM cut
        ),
        g AS (
            SELECT *,
                   CASE WHEN o = 0 THEN f[16] ELSE f[14] END AS proto_id,
                   CASE WHEN o = 0 THEN f[17] ELSE f[13] END AS proto_name,
                   f[19 + o] AS src, f[20 + o] AS dst,
                   f[21 + o] AS spt, f[22 + o] AS dpt,
                   f[24 + o] AS tcpflags, f[27 + o] AS win
            FROM v
        ),
        t AS (SELECT *, {transport_sql("proto_id", "proto_name")} AS network_transport FROM g)
        SELECT log_line, _row, skip, {k.TIME}, {k.MONTH}, {k.DAY}, {k.TOD},
               {k.HOST} AS observer_name,
               src AS source_raw, dst AS destination_raw,
               CASE WHEN network_transport IN ('tcp', 'udp') THEN {port_sql("spt")} END
                   AS source_port,
               CASE WHEN network_transport IN ('tcp', 'udp') THEN {port_sql("dpt")} END
                   AS destination_port,
               network_transport,
               CASE WHEN network_transport = 'tcp' THEN concat_ws(' ', {flags}) END AS tcp_flags,
               CAST(TRY_CAST(f[12] AS UTINYINT) AS SMALLINT) AS ip_ttl,
               CASE WHEN o = 0 THEN CAST(TRY_CAST(f[13] AS USMALLINT) AS INTEGER) END AS ip_id,
               CASE WHEN network_transport = 'tcp'
                    THEN CAST(TRY_CAST(win AS USMALLINT) AS INTEGER) END AS tcp_window,
               CASE WHEN f[8] = 'in' THEN nullif(f[5], '') END AS interface_in,
               CASE WHEN f[8] = 'out' THEN nullif(f[5], '') END AS interface_out,
               nullif(f[4], '') AS log_prefix,
               event_action,
               {outcome_sql("event_action")} AS connection_outcome,
               {REPEAT},
               CASE WHEN {k.KIND} IS NULL THEN {lit(NOT_SYSLOG)}
                    WHEN f IS NULL THEN {lit(NOT_FILTERLOG)}
                    WHEN o IS NULL OR event_action IS NULL OR f[8] NOT IN ('in', 'out')
                         OR coalesce(src, '') = '' OR coalesce(dst, '') = ''
                         OR network_transport IS NULL THEN {lit(MALFORMED)}
                    WHEN network_transport IN ('tcp', 'udp')
                         AND ({bad_port_sql("spt")} OR {bad_port_sql("dpt")}
                              OR coalesce(spt, '') = '' OR coalesce(dpt, '') = '')
                        THEN {lit(INVALID_PORT)}
               END AS reason
        FROM t
        """  # noqa: S608 - constant patterns and a generated view name only
        return run_batch(self.ctx.con, lines, sql, {}, self.envelope)
