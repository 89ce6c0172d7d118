"""Fortinet FortiGate key=value logs (``--format fortigate``).

FortiOS writes each log as ``key=value`` pairs, values quoted when they may
hold spaces, often behind a syslog ``<PRI>`` or a relay's envelope::

    date=2026-10-10 time=12:00:00 devname="FGT60E" devid="FGT60E0000000001" tz="+0200"
    logid="0000000013" type="traffic" subtype="forward" level="notice" srcip=198.51.100.7
    srcport=40123 srcintf="wan1" dstip=203.0.113.10 dstport=23 dstintf="internal"
    proto=6 action="deny" policyid=0 sentbyte=0 rcvdbyte=0 sentpkt=0 rcvdpkt=0

The line is split at spaces once and the keys read (``KEYS``) are looked up
among the tokens' names: no regex per key. A quoted value holding spaces
(``msg="..."``) spans several tokens; the keys read here never hold spaces,
and the first token named so wins, as it would with a leftmost regex match. ``type=traffic`` goes
to ``network``: ``deny`` is denied, ``ip-conn`` (the unit could not reach the
next hop) dropped; ``accept``, ``start`` and the ends of allowed sessions
(``close``, ``timeout``, ``client-rst``, ``server-rst``) allowed, the verdict
kept verbatim as ``connection_state``. ``type=utm`` (``subtype=ips``,
``anomaly``...) and the older ``type=ips``/``type=anomaly`` go to ``alert``,
named by ``attack`` and ``attackid``; ``pass``/``detected``/``monitored``
(and the web filter's and antivirus' ``passthrough``) are allowed, every
other IPS action denied. Time is ``date`` + ``time`` in the
``tz`` offset the log carries, or else the configured syslog zone.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import ClassVar, Final

import pyarrow as pa

from reconwatch.ingest.base import ParseContext, Parsed, Parser
from reconwatch.ingest.fw_common import (
    ALERT_FLAG,
    INVALID_PORT,
    bad_port_sql,
    case_map,
    local_to_utc_params,
    local_to_utc_sql,
    outcome_sql,
    ports_sql,
    sniff_share,
    split_alerts,
    transport_sql,
)
from reconwatch.ingest.linesql import count_sum_sql, lit, run_batch

NOT_FORTIGATE: Final = "not a FortiGate log"
UNSUPPORTED: Final = "unsupported FortiGate log type"
MALFORMED: Final = "malformed FortiGate log"
UNKNOWN_ACTION: Final = "unknown action"

KEYS: Final = (
    "date", "time", "tz", "devname", "type", "subtype", "srcip", "srcport", "srcintf",
    "dstip", "dstport", "dstintf", "proto", "action", "policyid", "sentbyte", "rcvdbyte",
    "sentpkt", "rcvdpkt", "attack", "attackid", "severity", "crlevel",
)  # fmt: skip
TRAFFIC_ACTIONS: Final = {
    "deny": "denied", "ip-conn": "dropped", "accept": "allowed", "start": "allowed",
    "close": "allowed", "timeout": "allowed", "client-rst": "allowed", "server-rst": "allowed",
}  # fmt: skip
#: UTM verdicts that let the traffic through: ``passthrough`` is the web filter's
#: and the antivirus' (an allowed URL category, a clean or monitored file).
IPS_ALLOWED: Final = ("pass", "detected", "monitored", "pass_session", "passthrough")
SEVERITIES: Final = {"critical": "1", "high": "1", "medium": "2", "low": "3", "info": "4",
                     "information": "4"}  # fmt: skip
ALERT_TYPES: Final = ("utm", "ips", "anomaly")

_SNIFF: Final = re.compile(r"(?:^|[\s>])date=\d{4}-\d{2}-\d{2} time=\d{2}:\d{2}:\d{2} .*\btype=")


def _key(name: str) -> str:
    """SQL: the value of ``name=`` (quotes removed), '' when the line lacks the key."""
    token = f"coalesce(kv_toks[list_position(kv_keys, {lit(name)})], '')"
    return f"trim(substr({token}, {len(name) + 2}), '\"')"


class FortigateParser(Parser):
    """FortiGate traffic logs (network) and IPS/anomaly logs (alert)."""

    name = "fortigate"
    dataset = "fortigate"
    table = "network"
    #: FortiOS sends no program tag: the syslog multiplexer cannot route it by one.
    programs: ClassVar[tuple[str, ...]] = ()

    def __init__(self, ctx: ParseContext) -> None:
        super().__init__(ctx)

    @classmethod
    def sniff(cls, sample: Sequence[str]) -> bool:
        return sniff_share(sample, _SNIFF)

    def parse(self, lines: pa.Table) -> Parsed:
        keys = ",\n".join(f"{_key(k)} AS k_{k}" for k in KEYS)
        types = ", ".join(lit(t) for t in ALERT_TYPES)
        passed = ", ".join(lit(a) for a in IPS_ALLOWED)
        local = "try_strptime(k_date || ' ' || k_time, '%Y-%m-%d %H:%M:%S')"
        zoned = "try_strptime(k_date || ' ' || k_time || ' ' || k_tz, '%Y-%m-%d %H:%M:%S %z')"
        tz = self.ctx.config.syslog.timezone
        sql = f"""
        WITH lines AS (
            SELECT log_line, _row, line, regexp_full_match(line, '\\s*') AS skip FROM {{view}}
        ),
        toks AS (
            SELECT *, string_split(regexp_replace(line, '^<\\d{{1,3}}>', ''), ' ') AS kv_toks
            FROM lines
        ),
        pairs AS (
            SELECT *, list_transform(kv_toks, lambda x: split_part(x, '=', 1)) AS kv_keys
            FROM toks
        ),
        kv AS (SELECT * EXCLUDE (kv_toks, kv_keys), {keys} FROM pairs),
        v AS (
            SELECT *, k_type IN ({types}) AS {ALERT_FLAG},
                   {transport_sql("k_proto")} AS network_transport,
                   CASE WHEN k_type IN ({types}) THEN
                        CASE WHEN k_action IN ({passed}) THEN 'allowed' ELSE 'denied' END
                        ELSE {case_map("k_action", TRAFFIC_ACTIONS)} END AS event_action
            FROM kv
        )
        SELECT log_line, _row, skip,
               CASE WHEN regexp_full_match(k_tz, '[+-]\\d{{4}}') THEN timezone('UTC', {zoned})
                    ELSE {local_to_utc_sql(local, tz, "fg_tz")} END AS timestamp,
               {ALERT_FLAG},
               nullif(k_devname, '') AS observer_name,
               k_srcip AS source_raw, k_dstip AS destination_raw,
               {ports_sql("k_srcport", "k_dstport")},
               network_transport,
               nullif(k_srcintf, '') AS interface_in,
               nullif(k_dstintf, '') AS interface_out,
               CASE WHEN k_policyid <> '' THEN 'policy ' || k_policyid END AS log_prefix,
               event_action,
               CASE WHEN NOT {ALERT_FLAG} THEN {outcome_sql("event_action")} END
                   AS connection_outcome,
               CASE WHEN NOT {ALERT_FLAG} THEN nullif(k_action, '') END AS connection_state,
               {count_sum_sql("k_sentbyte", "k_rcvdbyte")} AS network_bytes,
               {count_sum_sql("k_sentpkt", "k_rcvdpkt")} AS network_packets,
               nullif(k_attackid, '') AS rule_id,
               nullif(k_attack, '') AS rule_name,
               nullif(k_subtype, '') AS rule_category,
               CAST({case_map("coalesce(nullif(k_severity, ''), k_crlevel)", SEVERITIES)}
                    AS SMALLINT) AS event_severity,
               CASE WHEN k_date = '' OR k_type = '' THEN {lit(NOT_FORTIGATE)}
                    WHEN k_type <> 'traffic' AND NOT {ALERT_FLAG} THEN {lit(UNSUPPORTED)}
                    WHEN k_srcip = '' OR (NOT {ALERT_FLAG} AND
                         (k_dstip = '' OR network_transport IS NULL)) THEN {lit(MALFORMED)}
                    WHEN event_action IS NULL THEN {lit(UNKNOWN_ACTION)}
                    WHEN {bad_port_sql("k_srcport")} OR {bad_port_sql("k_dstport")}
                        THEN {lit(INVALID_PORT)}
               END AS reason
        FROM v
        """  # noqa: S608 - constant patterns and a generated view name only
        params = local_to_utc_params(tz, "fg_tz")
        return split_alerts(run_batch(self.ctx.con, lines, sql, params))
