"""The normalised tables every stage agrees on.

Column names follow ECS in snake_case so that each maps 1:1 to ECS and OCSF.
Every parser produces exactly these Arrow schemas; the lake stores them; the
detections read them. A column a source does not have is null, never invented.
"""

from __future__ import annotations

from typing import Final

import pyarrow as pa

TIMESTAMP: Final = pa.timestamp("us", tz="UTC")

#: Values of ``event_action``: what the observer did with the packet/flow.
ACTIONS: Final = ("allowed", "denied", "dropped", "rejected")

#: Values of ``connection_outcome``: did the source reach a listening service?
#: ``failed`` covers firewall denies/drops/rejects and flows that were never
#: answered or were reset (Zeek S0, REJ, RSTOS0, RSTR, SH...).
OUTCOMES: Final = ("failed", "succeeded")

NETWORK: Final = pa.schema(
    [
        pa.field("timestamp", TIMESTAMP, nullable=False),
        pa.field("source_ip", pa.string(), nullable=False),
        pa.field("source_port", pa.int32()),
        pa.field("destination_ip", pa.string(), nullable=False),
        pa.field("destination_port", pa.int32()),
        # tcp, udp, icmp, ipv6-icmp, or the protocol number as text ("47").
        pa.field("network_transport", pa.string()),
        # TCP flags as psad reads them: upper-case names joined by one space in a
        # fixed order (CWR ECE URG ACK PSH RST SYN FIN); "" is a NULL-flag
        # packet; null when the source does not say (or not TCP).
        pa.field("tcp_flags", pa.string()),
        pa.field("ip_ttl", pa.int16()),
        pa.field("ip_id", pa.int32()),
        pa.field("tcp_window", pa.int32()),
        pa.field("interface_in", pa.string()),
        pa.field("interface_out", pa.string()),
        pa.field("log_prefix", pa.string()),
        pa.field("event_action", pa.string()),
        # Source-specific state, kept verbatim (Zeek conn_state such as S0, REJ).
        pa.field("connection_state", pa.string()),
        pa.field("connection_outcome", pa.string()),
        pa.field("network_bytes", pa.int64()),
        pa.field("network_packets", pa.int64()),
        pa.field("observer_name", pa.string()),
        pa.field("event_dataset", pa.string(), nullable=False),
        pa.field("log_file", pa.string(), nullable=False),
        pa.field("log_line", pa.int64(), nullable=False),
    ]
)


def _common_tail() -> list[pa.Field]:
    """Columns every event table ends with: who logged it, and where the line is."""
    return [
        pa.field("observer_name", pa.string()),
        pa.field("event_dataset", pa.string(), nullable=False),
        pa.field("log_file", pa.string(), nullable=False),
        pa.field("log_line", pa.int64(), nullable=False),
    ]


def _endpoints(source_required: bool = True) -> list[pa.Field]:
    return [
        pa.field("timestamp", TIMESTAMP, nullable=False),
        pa.field("source_ip", pa.string(), nullable=not source_required),
        pa.field("source_port", pa.int32()),
        pa.field("destination_ip", pa.string()),
        pa.field("destination_port", pa.int32()),
    ]


#: ``dns_question_type`` of a zone transfer request that the log does not say is
#: AXFR or IXFR (BIND's ``bad zone transfer request: 'example.com/IN': ...``
#: names the zone only). Not a DNS mnemonic: no type is called XFR; it stands
#: for "AXFR or IXFR", and ``zone_transfer`` counts it as a transfer.
TRANSFER_UNSAID: Final = "XFR"

#: DNS queries and answers, from resolvers and sensors.
DNS: Final = pa.schema(
    [
        *_endpoints(),
        pa.field("network_transport", pa.string()),
        # Lower-case, without the trailing dot.
        pa.field("dns_question_name", pa.string()),
        # Mnemonic (A, AAAA, PTR, AXFR, ANY, TXT, SRV...), or TYPE<n> when unknown
        # (a number a source wrote becomes its mnemonic: ingest.dns_lines.QTYPES);
        # XFR (TRANSFER_UNSAID) for a zone transfer request whose kind the log
        # does not say.
        pa.field("dns_question_type", pa.string()),
        # IN, CH (version.bind probes), HS.
        pa.field("dns_question_class", pa.string()),
        # NOERROR, NXDOMAIN, REFUSED, SERVFAIL...; null when the source logs queries only.
        pa.field("dns_response_code", pa.string()),
        pa.field("dns_answers", pa.list_(pa.string())),
        pa.field("dns_id", pa.int32()),
        # Filled from a public suffix list when known; parsers leave it null.
        pa.field("dns_question_registered_domain", pa.string()),
        # "allowed" for a served query; "denied"/"rejected" for refused or denied
        # ones (BIND "query (cache) denied", "zone transfer denied").
        pa.field("event_action", pa.string()),
        *_common_tail(),
    ]
)

#: Web server and proxy access logs.
HTTP: Final = pa.schema(
    [
        *_endpoints(),
        # The Host header (or the vhost of vhost_combined), lower-case.
        pa.field("url_domain", pa.string()),
        pa.field("http_request_method", pa.string()),
        pa.field("url_path", pa.string()),
        pa.field("url_query", pa.string()),
        pa.field("http_version", pa.string()),
        pa.field("http_response_status_code", pa.int16()),
        pa.field("http_response_bytes", pa.int64()),
        pa.field("http_request_referrer", pa.string()),
        pa.field("user_agent_original", pa.string()),
        pa.field("user_name", pa.string()),
        *_common_tail(),
    ]
)

#: User activity: logins, logouts, VPN sessions.
AUTH: Final = pa.schema(
    [
        # source_ip is null for events that name no client address by nature
        # (Windows 4634 logoff, 4776 NTLM credential validation): they still say
        # who did what where (user, outcome, observer). Correlation by source
        # address (cases, triage, watch) joins on it and so passes them over.
        *_endpoints(source_required=False),
        pa.field("user_name", pa.string()),
        # success | failure | null (informational events such as a disconnect).
        pa.field("event_outcome", pa.string()),
        # What happened, snake_case: login, logout, invalid_user, disconnect, vpn_connect...
        pa.field("event_action", pa.string()),
        # password, publickey, keyboard-interactive, kerberos, ntlm...
        pa.field("auth_method", pa.string()),
        # sshd, windows, openvpn...
        pa.field("service_name", pa.string()),
        # Windows event id (4624...), when the source has one.
        pa.field("event_code", pa.string()),
        *_common_tail(),
    ]
)

#: IDS/IPS alerts, sensor notices and honeypot touches.
ALERT: Final = pa.schema(
    [
        *_endpoints(),
        pa.field("network_transport", pa.string()),
        pa.field("rule_id", pa.string()),
        pa.field("rule_name", pa.string()),
        pa.field("rule_category", pa.string()),
        # 1 (highest) .. 4, as Suricata/Snort priorities; honeypots use 1.
        pa.field("event_severity", pa.int16()),
        # allowed | denied (an IPS drop) | null.
        pa.field("event_action", pa.string()),
        *_common_tail(),
    ]
)

REJECTS: Final = pa.schema(
    [
        pa.field("log_file", pa.string(), nullable=False),
        pa.field("log_line", pa.int64(), nullable=False),
        pa.field("event_dataset", pa.string()),
        pa.field("reason", pa.string(), nullable=False),
        # The raw line, cut to MAX_RAW_CHARS so one monstrous line cannot bloat the lake.
        pa.field("raw", pa.string(), nullable=False),
    ]
)

MAX_RAW_CHARS: Final = 4096

TABLES: Final[dict[str, pa.Schema]] = {
    "network": NETWORK,
    "dns": DNS,
    "http": HTTP,
    "auth": AUTH,
    "alert": ALERT,
    "rejects": REJECTS,
}


def empty(schema: pa.Schema) -> pa.Table:
    """A table with no rows and the given schema."""
    return schema.empty_table()


def conform(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """Select and cast ``table``'s columns to ``schema`` (missing ones become null).

    Parsers build tables in DuckDB whose inferred types differ in width; this
    is the single place that turns them into the agreed schema.
    """
    columns = []
    for field in schema:
        if field.name in table.column_names:
            columns.append(table.column(field.name).cast(field.type))
        else:
            columns.append(pa.nulls(table.num_rows, type=field.type))
    return pa.Table.from_arrays(columns, schema=schema)
