"""Suricata eve.json: one JSON event per line, spread over several tables.

One file holds every event type. Each line lands in exactly one place:

* ``flow`` -> ``network`` (``suricata.flow``): the flow's start time, ports,
  bytes and packets of both directions, ``connection_state`` = ``flow.state``,
  ``tcp_flags`` = the union of the flow's TCP flags (``tcp.tcp_flags``, hex)
  in psad's names, and ``connection_outcome``: TCP succeeded when the
  responder sent SYN+ACK (``tcp.tcp_flags_tc``), failed when it sent nothing
  or a RST without one; UDP succeeded when the responder sent a packet, failed
  when not; other protocols null.
* ``alert`` -> ``alert`` (``suricata.alert``): ``rule_id`` the signature id,
  ``rule_name`` the signature, ``rule_category``, ``event_severity`` and
  ``event_action`` (allowed, or denied for an IPS ``blocked``).
* ``anomaly`` -> ``alert`` (``suricata.anomaly``): ``rule_name`` the anomaly's
  event (``stream.pkt_invalid_ack``...), ``rule_category`` its type.
* ``dns`` -> ``dns`` (``suricata.dns``): queries (eve v1/v2 ``type: query``,
  v3 ``request``) and answers (``answer``/``response``); the name and type
  from ``rrname``/``rrtype`` or v3's ``queries[0]`` (Suricata writes the number
  of a type it has no name for, ``"252"`` for AXFR: made the mnemonic by
  ``dns_lines.qtype_sql``); ``dns_answers`` from v2/v3
  ``answers[].rdata``, v1's single ``rdata``, or v2 ``grouped``. An answer's
  packet goes from the server to the client, so its addresses are swapped:
  ``source_ip`` is always the client.
* ``http`` -> ``http`` (``suricata.http``): hostname, the url split at its
  first ``?`` into path and query, method, status, user agent, referrer,
  ``length`` as response bytes, protocol as version.
* any other event type (stats, tls, fileinfo, ssh, netflow, drop...) is
  skipped: it has no table here (yet), and counting it as a reject would bury
  real rejects under normal traffic.

Rejects: ``invalid JSON``, ``missing event_type``, ``missing timestamp``,
``invalid timestamp``, missing or invalid addresses.

Everything is one DuckDB query per slice: each document is parsed once by a
multi-path ``json_extract_string``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Final

import pyarrow as pa
import pyarrow.compute as pc

from reconwatch.ingest.base import Parsed
from reconwatch.ingest.dns_lines import (
    BLANK_SQL,
    MISSING_TIMESTAMP,
    VIEW,
    SqlLineParser,
    check_rows,
    qname_sql,
    qtype_sql,
)
from reconwatch.ingest.linesql import byte_count_sql, lit, present_sum_sql, status_code_sql
from reconwatch.schema import TABLES

INVALID_JSON: Final = "invalid JSON"
MISSING_EVENT_TYPE: Final = "missing event_type"
MISSING_DESTINATION: Final = "missing destination address"

#: Event types with a table; the others are skipped.
EVENT_TABLES: Final = {
    "flow": "network",
    "alert": "alert",
    "anomaly": "alert",
    "dns": "dns",
    "http": "http",
}
#: The JSON paths read from every event, in the order of the extracted list.
PATHS: Final = (
    "timestamp",
    "event_type",
    "src_ip",
    "src_port",
    "dest_ip",
    "dest_port",
    "proto",
    "host",
    "alert.signature_id",
    "alert.signature",
    "alert.category",
    "alert.severity",
    "alert.action",
    "dns.type",
    "dns.rrname",
    "dns.rrtype",
    "dns.rcode",
    "dns.rdata",
    "dns.answers",
    "dns.grouped",
    "dns.queries[0].rrname",
    "dns.queries[0].rrtype",
    "dns.id",
    "http.hostname",
    "http.url",
    "http.http_method",
    "http.status",
    "http.http_user_agent",
    "http.http_refer",
    "http.length",
    "http.protocol",
    "flow.state",
    "flow.start",
    "flow.pkts_toserver",
    "flow.pkts_toclient",
    "flow.bytes_toserver",
    "flow.bytes_toclient",
    "tcp.tcp_flags",
    "tcp.tcp_flags_tc",
    "anomaly.type",
    "anomaly.event",
)
#: TCP flag bits in the order the schema writes their names.
TCP_FLAG_BITS: Final = (
    ("CWR", 0x80),
    ("ECE", 0x40),
    ("URG", 0x20),
    ("ACK", 0x10),
    ("PSH", 0x08),
    ("RST", 0x04),
    ("SYN", 0x02),
    ("FIN", 0x01),
)


def _path(dotted: str) -> str:
    """A JSON path for a dotted key: ``alert.signature_id`` -> ``$.alert.signature_id``."""
    return "$." + dotted


def _v(name: str) -> str:
    """SQL for the extracted value of ``name`` (a member of PATHS)."""
    return f"v[{PATHS.index(name) + 1}]"


def _utc(expr: str) -> str:
    """SQL: eve stamps carry an offset (``+0000``): an instant, made a UTC TIMESTAMP."""
    return f"timezone('UTC', TRY_CAST({expr} AS TIMESTAMPTZ))"


class SuricataEveParser(SqlLineParser):
    """Suricata eve.json (flow, alert, anomaly, dns, http events)."""

    name = "suricata-eve"
    dataset = "suricata.alert"
    table = "alert"

    @classmethod
    def sniff(cls, sample: Sequence[str]) -> bool:
        try:
            for line in sample[:20]:
                if not line.lstrip().startswith("{") or '"event_type"' not in line:
                    continue
                try:
                    data = json.loads(line)
                except (ValueError, RecursionError):
                    continue
                if isinstance(data, dict) and {"event_type", "timestamp"} <= data.keys():
                    return True
            return False
        except Exception:  # a sniffer must never stop format detection
            return False

    def query(self) -> str:
        paths = ", ".join(lit(_path(p)) for p in PATHS)
        flags = "TRY_CAST('0x' || tcp_flags AS INTEGER)"
        flag_names = ", ".join(
            f"CASE WHEN ({flags} & {bit}) <> 0 THEN '{name}' END" for name, bit in TCP_FLAG_BITS
        )
        tc = "TRY_CAST('0x' || tcp_flags_tc AS INTEGER)"
        kinds = " ".join(f"WHEN {lit(k)} THEN {lit(t)}" for k, t in EVENT_TABLES.items())
        answers = (
            f"CASE WHEN {_v('dns.answers')} IS NOT NULL "
            f"THEN json_extract_string({_v('dns.answers')}, '$[*].rdata') "
            f"WHEN {_v('dns.rdata')} IS NOT NULL THEN [{_v('dns.rdata')}] "
            f"WHEN {_v('dns.grouped')} IS NOT NULL "
            f"THEN json_extract_string({_v('dns.grouped')}, '$.*[*]') END"
        )
        return f"""
        WITH docs AS (
            SELECT log_line, _row, v, v IS NOT NULL AS ok FROM (
                SELECT log_line, _row,
                       -- json_valid first: json_extract_string raises on broken JSON.
                       CASE WHEN json_valid(line) THEN json_extract_string(line, [{paths}]) END
                           AS v
                FROM {VIEW}
                WHERE NOT {BLANK_SQL}
            )
        ),
        targeted AS (SELECT *, CASE {_v("event_type")} {kinds} END AS target FROM docs),
        typed AS (SELECT * FROM targeted),
        fields AS (
            SELECT log_line, _row, ok, target,
                   {_v("event_type")} AS event_type,
                   {_v("timestamp")} AS ts_text,
                   {_v("flow.start")} AS flow_start,
                   {_v("dns.type")} IN ('answer', 'response') AS is_answer,
                   {_v("src_ip")} AS src_ip, {_v("dest_ip")} AS dest_ip,
                   CAST(TRY_CAST({_v("src_port")} AS USMALLINT) AS INTEGER) AS src_port,
                   CAST(TRY_CAST({_v("dest_port")} AS USMALLINT) AS INTEGER) AS dest_port,
                   CASE lower({_v("proto")}) WHEN 'tcp' THEN 'tcp' WHEN 'udp' THEN 'udp'
                        WHEN 'icmp' THEN 'icmp' WHEN 'ipv6-icmp' THEN 'ipv6-icmp'
                        ELSE lower({_v("proto")}) END AS network_transport,
                   {_v("host")} AS observer_name,
                   {_v("tcp.tcp_flags")} AS tcp_flags, {_v("tcp.tcp_flags_tc")} AS tcp_flags_tc,
                   TRY_CAST({_v("flow.pkts_toserver")} AS BIGINT) AS pts,
                   TRY_CAST({_v("flow.pkts_toclient")} AS BIGINT) AS ptc,
                   TRY_CAST({_v("flow.bytes_toserver")} AS BIGINT) AS bts,
                   TRY_CAST({_v("flow.bytes_toclient")} AS BIGINT) AS btc,
                   {_v("flow.state")} AS connection_state,
                   {_v("alert.signature_id")} AS sid,
                   v
            FROM typed
        )
        SELECT log_line, _row,
               {
            _utc(
                "CASE WHEN event_type = 'flow' THEN coalesce(flow_start, ts_text) ELSE ts_text END"
            )
        } AS own_time,
               target,
               CASE WHEN is_answer AND event_type = 'dns' THEN dest_ip ELSE src_ip END
                   AS source_raw,
               CASE WHEN is_answer AND event_type = 'dns' THEN src_ip ELSE dest_ip END
                   AS destination_raw,
               CASE WHEN is_answer AND event_type = 'dns' THEN dest_port ELSE src_port END
                   AS source_port,
               CASE WHEN is_answer AND event_type = 'dns' THEN src_port ELSE dest_port END
                   AS destination_port,
               network_transport, observer_name, connection_state,
               'suricata.' || event_type AS event_dataset,
               -- network
               CASE WHEN tcp_flags IS NOT NULL AND network_transport = 'tcp'
                    THEN concat_ws(' ', {flag_names}) END AS tcp_flags,
               CASE WHEN event_type <> 'flow' THEN NULL
                    WHEN network_transport = 'tcp' THEN CASE
                        WHEN ({tc} & 18) = 18 THEN 'succeeded'
                        WHEN ptc = 0 OR ({tc} & 4) <> 0 THEN 'failed' END
                    WHEN network_transport = 'udp' THEN CASE
                        WHEN ptc > 0 THEN 'succeeded' WHEN ptc = 0 THEN 'failed' END
               END AS connection_outcome,
               {present_sum_sql("bts", "btc")} AS network_bytes,
               {present_sum_sql("pts", "ptc")} AS network_packets,
               -- alert
               CASE event_type WHEN 'alert' THEN sid END AS rule_id,
               CASE event_type WHEN 'alert' THEN {_v("alert.signature")}
                               WHEN 'anomaly' THEN {_v("anomaly.event")} END AS rule_name,
               CASE event_type WHEN 'alert' THEN {_v("alert.category")}
                               WHEN 'anomaly' THEN {_v("anomaly.type")} END AS rule_category,
               CASE event_type WHEN 'alert' THEN
                   CAST(TRY_CAST({_v("alert.severity")} AS UTINYINT) AS SMALLINT) END
                   AS event_severity,
               CASE WHEN event_type = 'alert' THEN CASE {_v("alert.action")}
                        WHEN 'allowed' THEN 'allowed' WHEN 'blocked' THEN 'denied' END
                    WHEN event_type = 'dns' THEN 'allowed' END AS event_action,
               -- dns
               {qname_sql(f"coalesce({_v('dns.rrname')}, {_v('dns.queries[0].rrname')})")}
                   AS dns_question_name,
               {qtype_sql(f"coalesce({_v('dns.rrtype')}, {_v('dns.queries[0].rrtype')})")}
                   AS dns_question_type,
               CASE WHEN event_type = 'dns' THEN 'IN' END AS dns_question_class,
               -- An answer's only: Suricata 8 (eve v3) writes a request's header code too
               -- (always NOERROR), which would make every request look answered.
               CASE WHEN is_answer THEN {_v("dns.rcode")} END AS dns_response_code,
               CASE WHEN event_type = 'dns' THEN {answers} END AS dns_answers,
               CAST(TRY_CAST({_v("dns.id")} AS USMALLINT) AS INTEGER) AS dns_id,
               -- http
               lower({_v("http.hostname")}) AS url_domain,
               {_v("http.http_method")} AS http_request_method,
               CASE WHEN contains({_v("http.url")}, '?')
                    THEN split_part({_v("http.url")}, '?', 1) ELSE {_v("http.url")} END
                   AS url_path,
               CASE WHEN contains({_v("http.url")}, '?')
                    THEN substr({_v("http.url")}, strpos({_v("http.url")}, '?') + 1) END
                   AS url_query,
               {_v("http.protocol")} AS http_version,
               {status_code_sql(_v("http.status"))} AS http_response_status_code,
               {byte_count_sql(_v("http.length"))} AS http_response_bytes,
               {_v("http.http_refer")} AS http_request_referrer,
               {_v("http.http_user_agent")} AS user_agent_original,
               CASE WHEN NOT ok THEN {lit(INVALID_JSON)}
                    WHEN event_type IS NULL THEN {lit(MISSING_EVENT_TYPE)}
                    WHEN ts_text IS NULL THEN {lit(MISSING_TIMESTAMP)}
                    WHEN target = 'network' AND dest_ip IS NULL THEN {lit(MISSING_DESTINATION)}
               END AS reason,
               -- Event types without a table are skipped (see the module docstring).
               ok AND event_type IS NOT NULL AND target IS NULL AS skip
        FROM fields
        """  # noqa: S608 - constant paths and patterns, a generated view name only

    def finish(self, result: pa.Table, envelope_time: pa.Array, lines: pa.Table) -> Parsed:
        table, good, rejects = check_rows(result, envelope_time, lines)
        target = table.column("target")
        tables = {}
        # Python per table (four), never per line; each table's own columns only.
        for name in sorted(set(EVENT_TABLES.values())):
            mask = pc.and_(good, pc.fill_null(pc.equal(target, name), False))
            columns = [c for c in table.column_names if c in TABLES[name].names and c != "log_line"]
            part = table.select(["log_line", *columns]).filter(mask)
            if part.num_rows or name == self.table:
                tables[name] = part
        main = tables.pop(self.table)
        return Parsed(
            rows=main, rejects=rejects, other_tables={k: v for k, v in tables.items() if v.num_rows}
        )


PARSERS: Final = (SuricataEveParser,)
