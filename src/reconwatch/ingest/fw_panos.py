"""Palo Alto Networks PAN-OS traffic and threat logs, CSV over syslog (``--format panos``).

PAN-OS sends each log as one CSV record, by default in a BSD syslog envelope
whose program tag is missing (``Oct 10 12:00:00 PA-VM 1,2023/10/10 12:00:00,...``),
or with the syslog profile's IETF format in an RFC 5424 one
(``<14>1 2023-10-10T12:00:00+02:00 PA-VM - - - - 1,2023/10/10 12:00:00,...``),
so the record is found by its own start: a future-use field, the receive time,
the serial number and the type. The field order is the documented one for
PAN-OS 10.x and 11.x; the fields read are the same positions in both types:

====  ==================  ====  =============================
  3   serial number        25   source port
  4   type (TRAFFIC...)    26   destination port
  5   subtype              30   protocol
  7   generated time       31   action
  8   source address       32   bytes (traffic) / URL (threat)
  9   destination address  33   threat id (threat)
 19   inbound interface    34   category (threat) / (traffic: bytes received)
 20   outbound interface   35   severity (threat) / packets (traffic)
 12   rule name
====  ==================  ====  =============================

TRAFFIC records go to ``network`` (``allow`` -> allowed, ``deny`` -> denied,
``drop``/``drop ICMP`` -> dropped, ``reset-*`` -> rejected); THREAT records go
to ``alert`` with the threat name and id (``TCP Port Scan(8001)``), the subtype
as category (``scan`` for port scans and host sweeps) and the severity on the
1 (critical, high) .. 4 (informational) scale. The generated time has no zone:
the configured syslog zone applies. Fields are cut with one CSV-aware
``regexp_extract_all`` (quoted fields may hold commas).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import ClassVar, Final

import pyarrow as pa

from reconwatch.ingest import syslog
from reconwatch.ingest.base import Parsed
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
from reconwatch.ingest.linesql import lit, run_batch

NOT_PANOS: Final = "not a PAN-OS log record"
UNSUPPORTED: Final = "unsupported PAN-OS log type"
MALFORMED: Final = "malformed PAN-OS log record"
UNKNOWN_ACTION: Final = "unknown action"

#: What stands before the record: the RFC 5424 header of the syslog profile's
#: IETF format (``<14>1 2026-10-10T12:00:00+02:00 PA-VM - - - - 1,2026/...``),
#: or an optional ``<PRI>`` (with a stray ``1``, as some relays leave it), then
#: an optional BSD stamp and host, or one token (ISO stamp, host...). Captured
#: short, so the record itself is taken with substr() rather than carried
#: through a capture.
HEAD: Final = (
    r"^((?:<\d{1,3}>1 \S+ \S+ \S+ \S+ \S+ " + syslog.STRUCTURED_DATA + r" +|"
    r"(?:<\d{1,3}>(?:1 )?)?(?:[A-Z][a-z]{2} +\d{1,2} \d{2}:\d{2}:\d{2} \S+ |"
    r"(?:\S+ ){0,2})))[^\s,]*,\d{4}/"
)
#: The record's own start: future use, receive time, serial, type.
RECORD: Final = r"^[^\s,]*,\d{4}/\d{2}/\d{2} \d{2}:\d{2}:\d{2},[^,]*,[A-Z]+,"
#: One CSV field (quoted with "" escapes, or bare), after a comma or the start.
CSV_FIELD: Final = r'(?:^|,)("(?:[^"]|"")*"|[^,]*)'
TRAFFIC_ACTIONS: Final = {
    "allow": "allowed", "deny": "denied", "drop": "dropped", "drop ICMP": "dropped",
    "drop-icmp": "dropped", "drop-all-packets": "dropped", "reset-client": "rejected",
    "reset-server": "rejected", "reset-both": "rejected", "reset client": "rejected",
    "reset server": "rejected", "reset both": "rejected",
}  # fmt: skip
#: Threat actions: the IPS let it pass (alert, allow) or stopped it (the rest).
THREAT_ALLOWED: Final = ("alert", "allow", "continue", "override")
SEVERITIES: Final = {"critical": "1", "high": "1", "medium": "2", "low": "3", "informational": "4"}

_SNIFF: Final = re.compile(
    r"(?:^|\s)[^\s,]*,\d{4}/\d{2}/\d{2} \d{2}:\d{2}:\d{2},[^,]*,(?:TRAFFIC|THREAT),"
)


class PanosParser(syslog.EnvelopedParser):
    """PAN-OS TRAFFIC (network) and THREAT (alert) CSV records."""

    name = "panos"
    dataset = "panos.traffic"
    table = "network"
    #: PAN-OS sends no program tag: the syslog multiplexer cannot route it by one.
    programs: ClassVar[tuple[str, ...]] = ()

    @classmethod
    def sniff(cls, sample: Sequence[str]) -> bool:
        return sniff_share(sample, _SNIFF)

    def parse(self, lines: pa.Table) -> Parsed:
        def f(index: int) -> str:
            # Quoted fields lose their quotes ("" inside stays as the CSV escape of ").
            return f"replace(trim(c[{index}], '\"'), '\"\"', '\"')"

        allowed = ", ".join(lit(a) for a in THREAT_ALLOWED)
        local = "try_strptime(" + f(7) + ", '%Y/%m/%d %H:%M:%S')"
        tz = self.ctx.config.syslog.timezone
        sql = f"""
        WITH lines AS (
            SELECT log_line, _row, line, regexp_full_match(line, '\\s*') AS skip,
                   regexp_extract(line, {lit(HEAD)}, 1) AS head,
                   regexp_matches(line, {lit(HEAD)}) AS found
            FROM {{view}}
        ),
        recs AS (
            SELECT *, CASE WHEN found THEN substr(line, length(head) + 1) ELSE '' END AS rec0
            FROM lines
        ),
        checked AS (
            SELECT *, CASE WHEN regexp_matches(rec0, {lit(RECORD)}) THEN rec0 ELSE '' END AS rec
            FROM recs
        ),
        cut AS (
            -- A plain split unless the record quotes a field (rare in traffic logs).
            SELECT *, CASE WHEN rec = '' THEN NULL
                           WHEN contains(rec, '"') THEN regexp_extract_all(rec, {lit(CSV_FIELD)}, 1)
                           ELSE string_split(rec, ',') END AS c
            FROM checked
        ),
        v AS (
            SELECT *, c[4] AS kind, c[4] = 'THREAT' AS {ALERT_FLAG},
                   {transport_sql("NULL", f(30))} AS network_transport,
                   CASE WHEN c[4] = 'THREAT' THEN
                        CASE WHEN {f(31)} IN ({allowed}) THEN 'allowed' ELSE 'denied' END
                        ELSE {case_map(f(31), TRAFFIC_ACTIONS)} END AS event_action,
                   regexp_extract({f(33)}, '^(.*?) ?\\((\\d+)\\)$', ['name', 'id']) AS threat
            FROM cut
        )
        SELECT log_line, _row, skip,
               {local_to_utc_sql(local, tz, "panos_tz")} AS timestamp,
               {ALERT_FLAG},
               CASE WHEN {ALERT_FLAG} THEN 'panos.threat' ELSE 'panos.traffic' END
                   AS event_dataset,
               nullif({f(3)}, '') AS observer_name,
               {f(8)} AS source_raw, {f(9)} AS destination_raw,
               {ports_sql(f(25), f(26))},
               network_transport,
               nullif({f(19)}, '') AS interface_in,
               nullif({f(20)}, '') AS interface_out,
               nullif({f(12)}, '') AS log_prefix,
               event_action,
               CASE WHEN NOT {ALERT_FLAG} THEN {outcome_sql("event_action")} END
                   AS connection_outcome,
               CASE WHEN NOT {ALERT_FLAG} THEN nullif({f(31)}, '') END AS connection_state,
               CASE WHEN NOT {ALERT_FLAG} THEN CAST(TRY_CAST({f(32)} AS UBIGINT) AS BIGINT) END
                   AS network_bytes,
               CASE WHEN NOT {ALERT_FLAG} THEN CAST(TRY_CAST({f(35)} AS UBIGINT) AS BIGINT) END
                   AS network_packets,
               CASE WHEN {ALERT_FLAG} THEN coalesce(nullif(threat.id, ''), {f(33)}) END
                   AS rule_id,
               CASE WHEN {ALERT_FLAG} THEN coalesce(nullif(threat.name, ''), {f(33)}) END
                   AS rule_name,
               CASE WHEN {ALERT_FLAG} THEN nullif(c[5], '') END AS rule_category,
               CASE WHEN {ALERT_FLAG} THEN CAST({case_map(f(35), SEVERITIES)} AS SMALLINT) END
                   AS event_severity,
               CASE WHEN c IS NULL THEN {lit(NOT_PANOS)}
                    WHEN kind NOT IN ('TRAFFIC', 'THREAT') THEN {lit(UNSUPPORTED)}
                    WHEN len(c) < 35 OR network_transport IS NULL OR {f(9)} = ''
                        THEN {lit(MALFORMED)}
                    WHEN event_action IS NULL THEN {lit(UNKNOWN_ACTION)}
                    WHEN {bad_port_sql(f(25))} OR {bad_port_sql(f(26))} THEN {lit(INVALID_PORT)}
               END AS reason
        FROM v
        """  # noqa: S608 - constant patterns and a generated view name only
        params = local_to_utc_params(tz, "panos_tz")
        return split_alerts(run_batch(self.ctx.con, lines, sql, params))
