"""OpenCanary JSON logs (``--format opencanary``).

OpenCanary writes one JSON object per line (its ``file`` log handler)::

    {"dst_host": "10.0.0.5", "dst_port": 22, "local_time": "2026-09-30 10:00:01.123456",
     "local_time_adjusted": "2026-09-30 12:00:01.123456", "logdata": {"USERNAME": "root",
     "PASSWORD": "1234"}, "logtype": 4002, "node_id": "canary-1", "src_host": "192.0.2.7",
     "src_port": 40102, "utc_time": "2026-09-30 10:00:01.123456"}

``logtype`` is a code of ``opencanary/logger.py`` (``LOGTYPES`` below); every
touch is an ``alert`` row with ``event_severity`` 1, ``rule_id`` the code and
``rule_name`` ``opencanary.<name>`` (``opencanary.ssh_login_attempt``). Codes
1000-1006 are the canary's own status (boot, debug, ping, config saved): they
carry no source and no touch, and are counted as skipped. ``utc_time`` is UTC
without a zone suffix; ``local_time`` is read only when it is missing.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

import pyarrow as pa

from reconwatch.ingest.base import Parsed, Parser
from reconwatch.ingest.linesql import (
    json_path,
    json_values_sql,
    lit,
    run_batch,
    sniff_json_objects,
)

NOT_JSON: Final = "not a JSON object"
NOT_OPENCANARY: Final = "not an opencanary event"

#: ``opencanary/logger.py`` ``LoggerBase`` codes, named without ``LOG_``, lower-case.
LOGTYPES: Final = {
    1000: "base_boot",
    1001: "base_msg",
    1002: "base_debug",
    1003: "base_error",
    1004: "base_ping",
    1005: "base_config_save",
    1006: "base_example",
    2000: "ftp_login_attempt",
    2001: "ftp_auth_attempt_initiated",
    3000: "http_get",
    3001: "http_post_login_attempt",
    3002: "http_unimplemented_method",
    3003: "http_redirect",
    4000: "ssh_new_connection",
    4001: "ssh_remote_version_sent",
    4002: "ssh_login_attempt",
    5000: "smb_file_open",
    5001: "port_syn",
    5002: "port_nmapos",
    5003: "port_nmapnull",
    5004: "port_nmapxmas",
    5005: "port_nmapfin",
    6001: "telnet_login_attempt",
    6002: "telnet_connection_made",
    7001: "httpproxy_login_attempt",
    8001: "mysql_login_attempt",
    9001: "mssql_login_sqlauth",
    9002: "mssql_login_winauth",
    9003: "mysql_connection_made",
    10001: "tftp",
    11001: "ntp_monlist",
    12001: "vnc",
    13001: "snmp_cmd",
    14001: "rdp",
    15001: "sip_request",
    16001: "git_clone_request",
    17001: "redis_command",
    18001: "tcp_banner_connection_made",
    18002: "tcp_banner_keep_alive_connection_made",
    18003: "tcp_banner_keep_alive_secret_received",
    18004: "tcp_banner_keep_alive_data_received",
    18005: "tcp_banner_data_received",
    19001: "llmnr_query_response",
}
#: The canary's own status messages: no one touched anything.
STATUS_CODES: Final = range(1000, 1007)
#: Services over UDP; the rest of OpenCanary's listeners are TCP.
UDP_CODES: Final = (10001, 11001, 13001, 15001, 19001)

_KEYS: Final = (
    "logtype",
    "src_host",
    "src_port",
    "dst_host",
    "dst_port",
    "utc_time",
    "local_time",
    "node_id",
)


def _is_opencanary(value: dict[str, object]) -> bool:
    return isinstance(value.get("logtype"), int) and "src_host" in value and "node_id" in value


class OpenCanaryParser(Parser):
    """OpenCanary's JSON log: one alert per touch of a fake service."""

    name = "opencanary"
    dataset = "opencanary"
    table = "alert"

    @classmethod
    def sniff(cls, sample: Sequence[str]) -> bool:
        try:
            return sniff_json_objects(sample, _is_opencanary)
        except Exception:  # a sniffer must never stop format detection
            return False

    def parse(self, lines: pa.Table) -> Parsed:
        names = " ".join(
            f"WHEN {code} THEN {lit('opencanary.' + name)}" for code, name in LOGTYPES.items()
        )
        udp = ", ".join(str(code) for code in UDP_CODES)
        sql = f"""
        WITH j AS (
            SELECT log_line, _row, regexp_full_match(line, '\\s*') AS skip0,
                   {json_values_sql("line", "oc_paths")} AS v
            FROM {{view}}
        ),
        c AS (SELECT *, TRY_CAST(v[1] AS INTEGER) AS code FROM j)
        SELECT log_line, _row,
               skip0 OR coalesce(code BETWEEN {STATUS_CODES.start} AND {STATUS_CODES.stop - 1},
                                 FALSE) AS skip,
               coalesce(TRY_CAST(v[6] AS TIMESTAMP), TRY_CAST(v[7] AS TIMESTAMP)) AS timestamp,
               v[2] AS source_raw, v[4] AS destination_raw,
               CAST(TRY_CAST(v[3] AS USMALLINT) AS INTEGER) AS source_port,
               CAST(TRY_CAST(v[5] AS USMALLINT) AS INTEGER) AS destination_port,
               v[8] AS observer_name,
               v[1] AS rule_id,
               CASE code {names} ELSE 'opencanary.logtype_' || v[1] END AS rule_name,
               'honeypot' AS rule_category,
               CAST(1 AS SMALLINT) AS event_severity,
               CASE WHEN code IN ({udp}) THEN 'udp' ELSE 'tcp' END AS network_transport,
               CASE WHEN v IS NULL THEN {lit(NOT_JSON)}
                    WHEN code IS NULL THEN {lit(NOT_OPENCANARY)}
               END AS reason
        FROM c
        """  # noqa: S608 - constant SQL and a generated view name; JSON paths are bound
        params: dict[str, object] = {"oc_paths": [json_path(k) for k in _KEYS]}
        return run_batch(self.ctx.con, lines, sql, params)
