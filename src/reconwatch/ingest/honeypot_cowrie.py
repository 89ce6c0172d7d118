"""Cowrie SSH/Telnet honeypot logs: ``cowrie.json`` (``--format cowrie``) and the text log
in or out of syslog (``--format cowrie-text``).

Anyone who touches a honeypot is suspect by construction, so every event is an
``alert`` row with ``event_severity`` 1 and ``rule_name`` the Cowrie event id
(``cowrie.session.connect``, ``cowrie.login.failed``, ``cowrie.command.input``...).

Login attempts stay in ``alert`` and are not copied to ``auth``: the framework
puts each line in exactly one table, and the attempt's actor is already in
``alert`` (user names and passwords typed at a honeypot are the attacker's
dictionary, not our users; they have no column in ``alert``).

The JSON log (``output_jsonlog``) has one object per line::

    {"eventid":"cowrie.login.failed","username":"root","password":"1234",
     "src_ip":"192.0.2.7","src_port":40102,"dst_ip":"10.0.0.5","dst_port":22,
     "session":"a1b2c3","protocol":"ssh","sensor":"hp1","timestamp":"2026-09-30T10:00:01.123456Z"}

(``dst_ip``/``dst_port`` are the honeypot's on ``cowrie.session.connect``; on the
``cowrie.direct-tcpip.*`` events they are the target of the port forwarding the
client asked for, and are not read.) The text log,
as in CrowdSec's sample, carries its own ISO stamp after any syslog envelope::

    Dec  8 06:28:43 host cowrie[2806]: 2020-12-08T06:28:43+0000
        [cowrie.ssh.factory.CowrieSSHFactory] New connection: 4.2.3.1:47630 (1.2.3.4:2222) ...
    2020-12-08T06:28:45+0000 [HoneyPotSSHTransport,0,4.2.3.1] login attempt [b'root'/b'1234'] failed

Of the text log only these two messages are read (they name the source); the
rest are Twisted's chatter and rejected with ``UNREAD_TEXT``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar, Final

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
NOT_COWRIE: Final = "not a cowrie event"
UNREAD_TEXT: Final = "cowrie message not read"

#: JSON keys read, in the order of the extracted list (1-based in SQL).
_KEYS: Final = (
    "eventid",
    "src_ip",
    "src_port",
    "dst_ip",
    "dst_port",
    "timestamp",
    "sensor",
    "protocol",
)
#: Cowrie protocols all run over TCP (ssh, telnet).
_TRANSPORT: Final = "tcp"


def _is_cowrie(value: dict[str, object]) -> bool:
    event = value.get("eventid")
    return isinstance(event, str) and event.startswith("cowrie.") and "src_ip" in value


def alert_columns(rule: str) -> str:
    """The constant alert columns of a honeypot touch; ``rule`` is SQL for rule_id/rule_name."""
    return f"""
        {rule} AS rule_id, {rule} AS rule_name, 'honeypot' AS rule_category,
        CAST(1 AS SMALLINT) AS event_severity, {lit(_TRANSPORT)} AS network_transport
    """


class CowrieJsonParser(Parser):
    """Cowrie's JSON event log: one alert per event."""

    name = "cowrie"
    dataset = "cowrie"
    table = "alert"

    @classmethod
    def sniff(cls, sample: Sequence[str]) -> bool:
        try:
            return sniff_json_objects(sample, _is_cowrie)
        except Exception:  # a sniffer must never stop format detection
            return False

    def parse(self, lines: pa.Table) -> Parsed:
        sql = f"""
        WITH j AS (
            SELECT log_line, _row, regexp_full_match(line, '\\s*') AS skip,
                   {json_values_sql("line", "cowrie_paths")} AS v
            FROM {{view}}
        ),
        t AS (
            SELECT *, coalesce(starts_with(v[1], 'cowrie.direct-tcpip.'), FALSE) AS tunnel
            FROM j
        )
        SELECT log_line, _row, skip,
               timezone('UTC', TRY_CAST(v[6] AS TIMESTAMPTZ)) AS timestamp,
               v[2] AS source_raw,
               -- A direct-tcpip (SSH port forwarding) event's dst_ip/dst_port are
               -- the tunnel's target and src_port its claimed originator, as the
               -- client asked (a host name often): not the honeypot it touched.
               CASE WHEN NOT tunnel THEN v[4] END AS destination_raw,
               CASE WHEN NOT tunnel THEN CAST(TRY_CAST(v[3] AS USMALLINT) AS INTEGER) END
                   AS source_port,
               CASE WHEN NOT tunnel THEN CAST(TRY_CAST(v[5] AS USMALLINT) AS INTEGER) END
                   AS destination_port,
               v[7] AS observer_name,
               {alert_columns("v[1]")},
               CASE WHEN v IS NULL THEN {lit(NOT_JSON)}
                    WHEN NOT starts_with(coalesce(v[1], ''), 'cowrie.') THEN {lit(NOT_COWRIE)}
               END AS reason
        FROM t
        """  # noqa: S608 - constant SQL and a generated view name; JSON paths are bound
        params: dict[str, object] = {"cowrie_paths": [json_path(k) for k in _KEYS]}
        return run_batch(self.ctx.con, lines, sql, params)


#: ``ISO-stamp [system] message`` at the start, or after a syslog envelope's tag
#: (``host cowrie[2806]: 2020-...``). The envelope holds no quote or ``=``: a
#: line that merely quotes a Cowrie line (a parser test file, a SIEM export:
#: ``message == "... cowrie[2806]: 2020-..."``) is not one.
TEXT: Final = (
    r"^(?:[^\"'=]*?: )?(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2})) "
    r"\[([^\]]*)\] (.*)$"
)
NEW_CONNECTION: Final = r"^New connection: (.+):(\d+) \((.+):(\d+)\)"
#: The source address is the last field of the transport's ``[system]`` tag.
LOGIN: Final = r"^login attempt \[.*\] (succeeded|failed)$"


class CowrieTextParser(Parser):
    """Cowrie's text log (``cowrie.log``, or relayed through syslog)."""

    name = "cowrie-text"
    dataset = "cowrie"
    table = "alert"
    programs: ClassVar[tuple[str, ...]] = ("cowrie",)

    @classmethod
    def sniff(cls, sample: Sequence[str]) -> bool:
        """At least half of the lines carry Cowrie's markers."""
        try:
            hits = sum(
                1 for line in sample if "cowrie" in line[:512].lower() or "HoneyPot" in line[:512]
            )
            return hits > 0 and hits * 2 >= len(sample) and not sample[0].lstrip().startswith("{")
        except Exception:  # a sniffer must never stop format detection
            return False

    def parse(self, lines: pa.Table) -> Parsed:
        sql = f"""
        WITH t AS (
            SELECT log_line, _row, regexp_full_match(line, '\\s*') AS skip,
                   regexp_extract(line, {lit(TEXT)}, ['stamp', 'system', 'msg']) AS m
            FROM {{view}}
        ),
        k AS (
            SELECT *, regexp_extract(m.msg, {lit(NEW_CONNECTION)}, ['src', 'sport', 'dst', 'dport'])
                          AS conn,
                      regexp_extract(m.msg, {lit(LOGIN)}, 1) AS login
            FROM t
        ),
        r AS (
            SELECT *, CASE WHEN conn.src <> '' THEN 'cowrie.session.connect'
                           WHEN login <> '' THEN 'cowrie.login.' ||
                               CASE login WHEN 'succeeded' THEN 'success' ELSE 'failed' END
                      END AS rule
            FROM k
        )
        SELECT log_line, _row, skip,
               timezone('UTC', TRY_CAST(m.stamp AS TIMESTAMPTZ)) AS timestamp,
               CASE WHEN conn.src <> '' THEN conn.src
                    ELSE regexp_extract(m.system, ',([^,]*)$', 1) END AS source_raw,
               nullif(conn.dst, '') AS destination_raw,
               CAST(TRY_CAST(nullif(conn.sport, '') AS USMALLINT) AS INTEGER) AS source_port,
               CAST(TRY_CAST(nullif(conn.dport, '') AS USMALLINT) AS INTEGER) AS destination_port,
               {alert_columns("rule")},
               CASE WHEN rule IS NULL THEN {lit(UNREAD_TEXT)} END AS reason
        FROM r
        """  # noqa: S608 - constant patterns and a generated view name only
        return run_batch(self.ctx.con, lines, sql, {})
