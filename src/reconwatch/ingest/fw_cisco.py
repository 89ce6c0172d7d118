"""Cisco ASA and Firepower Threat Defense syslog messages (``--format cisco-asa``).

Every message carries ``%ASA-<level>-<id>:`` (``%FTD-`` on FTD, ``%PIX-`` and
``%FWSM-`` on the ASA's forerunners, whose messages it kept) and the text
Cisco documents for that id in "Cisco Secure Firewall ASA Series Syslog
Messages". The line either sits in a syslog relay's envelope
(``Oct 10 12:34:56 fw01 %ASA-6-302013: ...``) or starts with the ASA's own stamp,
which carries the year (``Oct 10 2023 12:34:56 fw01 : %ASA-...``, ``logging
timestamp``); the ASA's own stamp wins when both are there. It has no zone:
the configured syslog zone applies.

The ids read (``MESSAGES``) are the ones a scan leaves: access denials
(106001, 106006, 106007, 106014, 106015, 106023, 106100, 710003), built and
torn-down connections (302013-302016) and
threat detection (733100 drop rate exceeded for a host, 733101 host attacking),
which go to the ``alert`` table. Denials are ``denied``; built, torn down and
permitted connections ``allowed``. For ``Built outbound`` connections Cisco
writes the outside (responding) end first, so the two ends are swapped to keep
the initiator as the source. A teardown (302014, 302016) is checked, counted
and skipped, never a row: it writes the outside end first too, but says
nothing of who began the connection (an outbound connection's teardown read
as it stands would blame the web server our client used, for a "scan" of the
client's ephemeral ports), and the connection's Built line already made its
row (kept both, each allowed connection would count twice). Its byte count
goes with it: no detection reads bytes. A file whose teardowns meet no Built
line (an ASA with 302013/302015 turned off) gets a note saying it gives no
allowed connection. Other ids are rejected with ``UNSUPPORTED``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import ClassVar, Final, NamedTuple

import pyarrow as pa

from reconwatch.ingest import syslog
from reconwatch.ingest.base import REPEAT, ParseContext, Parsed
from reconwatch.ingest.fw_common import (
    ALERT_FLAG,
    INVALID_PORT,
    UnpairedNote,
    bad_port_sql,
    extract_struct,
    local_to_utc_params,
    local_to_utc_sql,
    outcome_sql,
    port_sql,
    sniff_share,
    split_alerts,
    transport_sql,
)
from reconwatch.ingest.linesql import lit, run_batch

NOT_ASA: Final = "not a Cisco ASA message"
UNSUPPORTED: Final = "unsupported Cisco ASA message"
MALFORMED: Final = "malformed Cisco ASA message"
NO_ATTACKER: Final = "threat detection without an attacker address"

FIELDS: Final = (
    "proto", "pnum", "src", "spt", "dst", "dpt", "iface", "flags", "dir", "verdict", "bytes",
)  # fmt: skip


class Message(NamedTuple):
    """One message id: its documented text as a pattern and what it means."""

    pattern: str
    groups: tuple[str, ...]
    #: event_action, or None when read from the ``verdict`` group (106100).
    action: str | None
    #: connection_state kept verbatim (built / teardown / deny...).
    state: str


_IF_ADDR: Final = r"[^\s:/]+:(\S+?)"
MESSAGES: Final = {
    "106001": Message(r"^Inbound (\S+) connection denied from (\S+?)/(\d+) to (\S+?)/(\d+) "
                      r"flags (.*?) ?on interface (\S+)",
                      ("proto", "src", "spt", "dst", "dpt", "flags", "iface"), "denied", "deny"),
    "106006": Message(r"^Deny inbound (\S+) from (\S+?)/(\d+) to (\S+?)/(\d+) on interface (\S+)",
                      ("proto", "src", "spt", "dst", "dpt", "iface"), "denied", "deny"),
    "106007": Message(r"^Deny inbound (\S+) from (\S+?)/(\d+) to (\S+?)/(\d+) due to",
                      ("proto", "src", "spt", "dst", "dpt"), "denied", "deny"),
    "106014": Message(r"^Deny (?:inbound|outbound) (icmp6?) src ([^\s:]+):(\S+) dst " + _IF_ADDR
                      + r"(?: |$)", ("proto", "iface", "src", "dst"), "denied", "deny"),
    "106015": Message(r"^Deny (\S+) \(no connection\) from (\S+?)/(\d+) to (\S+?)/(\d+) "
                      r"flags (.*?) ?on interface (\S+)",
                      ("proto", "src", "spt", "dst", "dpt", "flags", "iface"), "denied", "deny"),
    # A protocol without a name is its number: ``Deny protocol 47 src ...``.
    "106023": Message(r"^Deny (?:protocol (\d{1,3})|(\S+)) src ([^\s:]+):(\S+?)(?:/(\d+))? dst "
                      + _IF_ADDR + r"(?:/(\d+))? (?:\(type \d+, code \d+\) )?by access-group",
                      ("pnum", "proto", "iface", "src", "spt", "dst", "dpt"), "denied", "deny"),
    "106100": Message(r"^access-list \S+ (permitted|denied|est-allowed) (\S+) ([^\s/]+)/(\S+?)"
                      r"\((\d+)\)(?:\(\S*\))? -> [^\s/]+/(\S+?)\((\d+)\)",
                      ("verdict", "proto", "iface", "src", "spt", "dst", "dpt"), None, "acl"),
    "302013": Message(r"^Built (inbound|outbound) (TCP) connection \d+ for ([^\s:]+):(\S+?)/(\d+) "
                      r"\(\S+\)(?:\(\S*\))? to " + _IF_ADDR + r"/(\d+) ",
                      ("dir", "proto", "iface", "src", "spt", "dst", "dpt"), "allowed", "built"),
    "302014": Message(r"^Teardown (TCP) connection \d+ for ([^\s:]+):(\S+?)/(\d+) to "
                      + _IF_ADDR + r"/(\d+) duration \S+ bytes (\d+)",
                      ("proto", "iface", "src", "spt", "dst", "dpt", "bytes"), "allowed",
                      "teardown"),
    "302015": Message(r"^Built (inbound|outbound) (UDP) connection \d+ for ([^\s:]+):(\S+?)/(\d+) "
                      r"\(\S+\)(?:\(\S*\))? to " + _IF_ADDR + r"/(\d+) ",
                      ("dir", "proto", "iface", "src", "spt", "dst", "dpt"), "allowed", "built"),
    "302016": Message(r"^Teardown (UDP) connection \d+ for ([^\s:]+):(\S+?)/(\d+) to "
                      + _IF_ADDR + r"/(\d+) duration \S+ bytes (\d+)",
                      ("proto", "iface", "src", "spt", "dst", "dpt", "bytes"), "allowed",
                      "teardown"),
    "710003": Message(r"^(\S+) access denied by ACL from (\S+?)/(\d+) to ([^\s:]+):(\S+?)/(\d+)",
                      ("proto", "src", "spt", "iface", "dst", "dpt"), "denied", "deny"),
    "733100": Message(r"^\[ *(\S+?) *\] drop rate-\d+ exceeded", ("src",), None, "threat"),
    "733101": Message(r"^(?:Host|Subnet) (\S+) is (attacking|targeted)", ("src", "verdict"),
                      None, "threat"),
}  # fmt: skip
#: The schema's flag order; ASA writes names (``flags SYN ACK``).
TCP_FLAGS: Final = ("CWR", "ECE", "URG", "ACK", "PSH", "RST", "SYN", "FIN")
ALERT_IDS: Final = ("733100", "733101")
#: Teardowns: matched (a malformed one is rejected), then skipped (see the module's docstring).
TEARDOWN_IDS: Final = ("302014", "302016")
#: A teardown's marker in a line, for the file's note on teardowns without Built lines.
TEARDOWN_MARK: Final = r"%(?:ASA|FTD|PIX|FWSM)-\d-30201[46]:"
UNPAIRED_TEARDOWNS: Final = (
    "connection teardowns (302014/302016) but no Built message (302013/302015): teardowns "
    "are skipped, so this file gives no allowed connection; log the Built messages"
)

#: What precedes ``%ASA-6-302013:`` (or %FTD-, or the older %PIX- and %FWSM-),
#: the facility, the level and the id. The message after the marker is taken
#: with substr(): a capture to the line's end costs RE2 per byte.
MARKER: Final = r"^(.*?)%(ASA|FTD|PIX|FWSM)-(\d)-(\d{6}):"
#: Length of ``%-6-302013:``, the marker without its facility.
MARKER_CHARS: Final = 11
#: The ASA's own stamp (``logging timestamp``): month, day, year, time, no zone;
#: then the device name when ``logging device-id`` is set (``fw02 : %ASA-...``).
OWN_STAMP: Final = (
    r"^(?:<\d{1,3}>)?([A-Z][a-z]{2} +\d{1,2} \d{4} \d{2}:\d{2}:\d{2})(?: ([^\s:%]+))?"
)

_SNIFF: Final = re.compile(r"%(?:ASA|FTD|PIX|FWSM)-\d-\d{6}: ")


def _case(values: dict[str, str | None], default: str = "NULL") -> str:
    whens = " ".join(f"WHEN {lit(k)} THEN {lit(v)}" for k, v in values.items() if v is not None)
    return f"CASE msg_id {whens} ELSE {default} END"


class CiscoAsaParser(syslog.EnvelopedParser):
    """Cisco ASA / FTD access, connection and threat-detection messages."""

    name = "cisco-asa"
    dataset = "cisco.asa"
    table = "network"
    #: The relay's tag is the whole marker (``%ASA-6-302013``), one per id and
    #: level: the syslog multiplexer routes these by prefix.
    programs: ClassVar[tuple[str, ...]] = ()
    program_prefixes: ClassVar[tuple[str, ...]] = ("%ASA-", "%FTD-", "%PIX-", "%FWSM-")

    def __init__(self, ctx: ParseContext) -> None:
        super().__init__(ctx)
        self._teardowns = UnpairedNote(UNPAIRED_TEARDOWNS, TEARDOWN_MARK, "cisco-asa.built", self)

    @classmethod
    def sniff(cls, sample: Sequence[str]) -> bool:
        return sniff_share(sample, _SNIFF)

    def parse(self, lines: pa.Table) -> Parsed:
        k = syslog
        kinds = " ".join(
            f"WHEN {lit(i)} THEN {extract_struct('body', m.pattern, m.groups, FIELDS)}"
            for i, m in MESSAGES.items()
        )
        tests = " ".join(
            f"WHEN {lit(i)} THEN regexp_matches(body, {lit(m.pattern)})"
            for i, m in MESSAGES.items()
        )
        ids = ", ".join(lit(i) for i in MESSAGES)
        alerts = ", ".join(lit(i) for i in ALERT_IDS)
        teardowns = ", ".join(lit(i) for i in TEARDOWN_IDS)
        verdicts = "CASE f.verdict WHEN 'denied' THEN 'denied' ELSE 'allowed' END"
        own_time = self._own_time("own.stamp")
        flags = ", ".join(
            f"CASE WHEN contains(' ' || f.flags || ' ', {lit(' ' + n + ' ')}) THEN {lit(n)} END"
            for n in TCP_FLAGS
        )
        sql = f"""
        WITH lines AS (
            SELECT log_line, _row, line, regexp_full_match(line, '\\s*') AS skip FROM {{view}}
        ),
        env AS ({self.envelope.select_sql("lines", "()")}),
        m AS (
            SELECT *,
                   regexp_extract(line, {lit(MARKER)}, ['before', 'facility', 'level', 'id'])
                       AS mk,
                   regexp_extract(line, {lit(OWN_STAMP)}, ['stamp', 'host']) AS own
            FROM env
        ),
        n0 AS (
            SELECT *, nullif(mk.id, '') AS msg_id,
                   ltrim(substr(line, length(mk.before) + length(mk.facility)
                                      + {MARKER_CHARS + 1}), ' ') AS body0,
                   CAST(nullif(mk.level, '') AS INTEGER) AS level
            FROM m
        ),
        -- rsyslog's "%ASA-4-106023: message repeated N times: [ Deny ...]" (the
        -- marker is its tag): the message inside, N events.
        r AS (SELECT *, {syslog.repeat_sql("body0")} AS rep FROM n0),
        n AS (
            SELECT *, CASE WHEN rep IS NOT NULL THEN rep.msg ELSE body0 END AS body,
                   CASE WHEN rep IS NOT NULL THEN {syslog.repeat_count_sql("rep")} END
                       AS {REPEAT}
            FROM r
        ),
        t AS (
            SELECT *, CASE msg_id {tests} END AS known FROM n
        ),
        x AS (
            SELECT *, CASE WHEN known THEN CASE msg_id {kinds} END END AS f FROM t
        ),
        y AS (
            SELECT *,
                   msg_id IN ({alerts}) AS {ALERT_FLAG},
                   f.dir = 'outbound' AS swap,
                   {transport_sql("f.pnum", "f.proto")} AS network_transport,
                   coalesce({_case({i: m.action for i, m in MESSAGES.items()})}, {verdicts})
                       AS event_action
            FROM x
        )
        SELECT log_line, _row,
               -- A teardown names the outside end first and not who began the
               -- connection (an outbound one's would blame the server, as a
               -- scan of our client's ephemeral ports): the Built line made the
               -- connection's row, with its direction.
               skip OR coalesce(known AND msg_id IN ({teardowns}), false) AS skip,
               {k.TIME}, {k.MONTH}, {k.DAY}, {k.TOD},
               {own_time} AS timestamp,
               coalesce({k.HOST}, nullif(own.host, '')) AS observer_name,
               {ALERT_FLAG},
               CASE WHEN swap THEN f.dst ELSE f.src END AS source_raw,
               CASE WHEN swap THEN f.src ELSE f.dst END AS destination_raw,
               CASE WHEN network_transport IN ('tcp', 'udp') THEN
                   {port_sql("CASE WHEN swap THEN f.dpt ELSE f.spt END")} END AS source_port,
               CASE WHEN network_transport IN ('tcp', 'udp') THEN
                   {port_sql("CASE WHEN swap THEN f.spt ELSE f.dpt END")} END
                   AS destination_port,
               network_transport,
               CASE WHEN network_transport = 'tcp' AND f.flags <> '' THEN
                   concat_ws(' ', {flags}) END AS tcp_flags,
               CASE WHEN NOT swap THEN nullif(f.iface, '') END AS interface_in,
               CASE WHEN {ALERT_FLAG} THEN NULL ELSE event_action END AS event_action,
               CASE WHEN {ALERT_FLAG} THEN NULL ELSE {outcome_sql("event_action")} END
                   AS connection_outcome,
               {_case({i: m.state for i, m in MESSAGES.items()})} AS connection_state,
               CAST(TRY_CAST(nullif(f.bytes, '') AS UBIGINT) AS BIGINT) AS network_bytes,
               'cisco.asa' AS event_dataset,
               CASE WHEN {ALERT_FLAG} THEN msg_id END AS rule_id,
               CASE msg_id WHEN '733100' THEN 'drop rate exceeded'
                           WHEN '733101' THEN 'host attacking' END AS rule_name,
               CASE WHEN {ALERT_FLAG} THEN 'threat-detection' END AS rule_category,
               CASE WHEN {ALERT_FLAG} THEN CAST(greatest(1, least(4, level)) AS SMALLINT) END
                   AS event_severity,
               {REPEAT},
               CASE WHEN msg_id IS NULL THEN {lit(NOT_ASA)}
                    WHEN msg_id NOT IN ({ids}) THEN {lit(UNSUPPORTED)}
                    WHEN NOT known THEN {lit(MALFORMED)}
                    WHEN {ALERT_FLAG} AND (f.verdict = 'targeted'
                         OR NOT regexp_full_match(f.src, '[0-9A-Fa-f:.]+')) THEN {lit(NO_ATTACKER)}
                    WHEN NOT {ALERT_FLAG} AND coalesce(f.dst, '') = '' THEN {lit(MALFORMED)}
                    WHEN NOT {ALERT_FLAG} AND network_transport IS NULL THEN {lit(MALFORMED)}
                    WHEN network_transport IN ('tcp', 'udp')
                         AND ({bad_port_sql("f.spt")} OR {bad_port_sql("f.dpt")})
                        THEN {lit(INVALID_PORT)}
               END AS reason
        FROM y
        """  # noqa: S608 - constant patterns and a generated view name only
        parsed = split_alerts(run_batch(self.ctx.con, lines, sql, self._params(), self.envelope))
        # Teardowns without any Built line: an ASA with 302013/302015 turned off.
        self._teardowns.update(lines, parsed, "connection_state", "built")
        return parsed

    def _params(self) -> dict[str, object]:
        return local_to_utc_params(self.ctx.config.syslog.timezone, "asa_tz")

    def _own_time(self, stamp: str) -> str:
        """The ASA's own stamp as naive UTC, read in the configured zone."""
        local = f"try_strptime(regexp_replace({stamp}, ' +', ' '), '%b %d %Y %H:%M:%S')"
        utc = local_to_utc_sql(local, self.ctx.config.syslog.timezone, "asa_tz")
        return f"CASE WHEN {stamp} <> '' THEN {utc} END"
