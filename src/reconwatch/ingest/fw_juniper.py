"""Juniper SRX (Junos) security logs: session and screen events (``--format juniper-srx``).

The SRX logs sessions under the syslog tag ``RT_FLOW`` and screens (its
built-in IDS) under ``RT_IDS``, in one of two forms:

* structured (``set security log format sd-syslog``): RFC 5424 with the
  message id as MSGID and every field a parameter of one structured-data
  element whose id names Juniper's enterprise number and the model
  (``junos@2636.1.1.1.2.134``), the English text after it or nothing::

      <14>1 2026-09-30T10:00:01.184+02:00 srx1 RT_FLOW - RT_FLOW_SESSION_DENY
          [junos@2636.1.1.1.2.134 source-address="198.51.100.7" source-port="40000"
          destination-address="203.0.113.5" destination-port="22" protocol-id="6"
          policy-name="deny-all" ... reason="Denied by policy" session-id-32="7087"]

* standard text (``format syslog``), in a BSD (or ISO-stamped) envelope, the
  message id first and the fields by position::

      Sep 30 10:00:01 srx1 RT_FLOW: RT_FLOW_SESSION_DENY: session denied
          198.51.100.7/40000->203.0.113.5/22 0x0 junos-ssh 6(0) deny-all untrust trust ...

  A relay that writes a structured message in a traditional template keeps
  the tag and the text but drops the MSGID (``RT_FLOW: session denied ...``):
  for sessions the verb says which message it is, and such lines are read too.

Messages read (each also as its logical-system ``_LS`` variant):

* ``RT_FLOW_SESSION_DENY`` -> ``network``, ``denied`` (a failed attempt: what
  the scan detections count), ``connection_state`` ``deny``.
* ``RT_FLOW_SESSION_CLOSE`` -> ``network``, ``allowed``, the close reason
  (``TCP FIN``, ``idle Timeout``...) verbatim as ``connection_state``, bytes and
  packets of both directions summed.
* ``RT_FLOW_SESSION_CREATE`` is skipped (counted, never a row). A session the
  policy logs at both ends (``then log session-init session-close``) writes a
  CREATE and a CLOSE line: kept both, each allowed session would count twice.
  The CLOSE carries everything the CREATE does (addresses, ports, protocol,
  policy, zones, interface) plus how the session ended and its volume, so it
  is the one kept; its time is the session's end (``elapsed-time`` seconds
  after the start, for a probe nearly the same). A policy that logs
  ``session-init`` only gives no allowed rows: log ``session-close`` (a
  file whose starts meet no end gets a note saying so).
* ``RT_SCREEN_TCP``, ``_UDP``, ``_ICMP``, ``_IP``, ``_TCP_SRC_IP``,
  ``_TCP_DST_IP`` and ``_SESSION_LIMIT`` -> ``alert``: ``rule_id`` the message
  id, ``rule_name`` the attack name (``TCP port scan!``), category ``scan``
  with severity 2 for scans and sweeps (attack names holding ``scan`` or
  ``sweep``: the reconnaissance this tool hunts, which ``ids_scan_alert``
  reads by that category) and ``screen`` with severity 3 for the others
  (floods, malformed packets, IP options); ``drop`` -> denied,
  ``alarm-without-drop`` -> allowed. A screen event that names no source
  (``RT_SCREEN_TCP_DST_IP``: a SYN flood on one destination) cannot blame
  anyone: rejected with ``NO_SOURCE``.

Other messages of these programs (``APPTRACK_SESSION_*``, which repeat the
sessions for application tracking, ``RT_FLOW_SESSION_*`` of other kinds) are
rejected with ``UNSUPPORTED``.

Whom a row blames is never chosen by text an outsider or a user controls. In
the structured form only the element's real parameters count: it must match
the whole ``name="value"`` grammar (values quoted, ``"``, ``\\`` and ``]``
escaped), and is then cut at its quotes (without a backslash no value holds
one) or, holding a backslash, matched parameter by parameter and unescaped,
so a ``source-address="..."`` inside another value (a user name, a reason) is
part of that value; an
element that does not match the grammar, or names a parameter twice (what an
unescaped quote in a user name would make), is rejected as ``MALFORMED``. In
the text form the addresses come first, before any field a user chooses; the
close reason before them is Junos' own and holds no ``:``. The text form's
incoming interface stands after the user name and roles (``N/A(N/A)``), which
a user name holding spaces shifts: it is not read from the text form.

Time: the RFC 5424 / ISO stamp with its zone; BSD stamps through
``syslog.SyslogEnvelope`` (configured zone, year inferred). rsyslog's
``message repeated N times: [ ...]`` (text form) is read as the message inside,
N events.

One DuckDB query per batch; SQL holds constant patterns only. The structured
element is matched against its grammar once, then cut at its quotes (no regex
per parameter; an element holding a backslash is matched parameter by
parameter instead); the envelope is handed the RFC 5424 header alone, so the
structured data is not scanned a second time (measured: a third of the time
of a structured line).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import ClassVar, Final

import pyarrow as pa

from reconwatch.ingest import syslog
from reconwatch.ingest.base import REPEAT, ParseContext, Parsed
from reconwatch.ingest.fw_common import (
    ALERT_FLAG,
    INVALID_PORT,
    PORTED,
    UnpairedNote,
    bad_port_sql,
    extract_struct,
    outcome_sql,
    ports_sql,
    sniff_share,
    split_alerts,
    transport_sql,
)
from reconwatch.ingest.linesql import count_sum_sql, lit, run_batch

NOT_JUNOS: Final = "not a Junos RT_FLOW or RT_IDS message"
UNSUPPORTED: Final = "unsupported Junos message"
MALFORMED: Final = "malformed Junos message"
NO_SOURCE: Final = "screen event without a source address"

PROGRAMS: Final = ("RT_FLOW", "RT_IDS")
#: Message ids by what they become; each is also read with the ``_LS`` suffix.
DENY: Final = "RT_FLOW_SESSION_DENY"
CLOSE: Final = "RT_FLOW_SESSION_CLOSE"
CREATE: Final = "RT_FLOW_SESSION_CREATE"
#: A session start in either form, for the file's note on starts without ends.
CREATE_MARK: Final = r"RT_FLOW_SESSION_CREATE|RT_FLOW: session created "
CREATES_ONLY: Final = (
    "session starts (RT_FLOW_SESSION_CREATE) but no session end (RT_FLOW_SESSION_CLOSE): "
    "starts are skipped, so this file gives no allowed session; log session-close"
)
#: A screen relayed without its message id (``RT_IDS: TCP port scan! source: ...``).
SCREEN_UNNAMED: Final = "RT_SCREEN"
SCREENS: Final = (
    *(
        f"RT_SCREEN_{name}"
        for name in ("TCP", "UDP", "ICMP", "IP", "TCP_SRC_IP", "TCP_DST_IP", "SESSION_LIMIT")
    ),
    SCREEN_UNNAMED,
)
#: Screens whose text endpoints carry a port (``addr:port``, IPv6 too).
PORTED_SCREENS: Final = ("RT_SCREEN_TCP", "RT_SCREEN_UDP")
TCP_SCREENS: Final = ("RT_SCREEN_TCP", "RT_SCREEN_TCP_SRC_IP", "RT_SCREEN_TCP_DST_IP")
#: Category and severity of screens that are scans or sweeps, and of the rest.
SCAN_CATEGORY: Final = "scan"
SCREEN_CATEGORY: Final = "screen"
SCAN_SEVERITY: Final = 2
SCREEN_SEVERITY: Final = 3

#: One structured-data parameter, quote- and escape-aware (RFC 5424 escapes
#: ``"``, ``\\`` and ``]`` with a backslash inside a value).
PARAM: Final = r'[a-z][a-z0-9-]*="(?:[^"\\]|\\.)*"'
#: RFC 5424: the header up to the MSGID (captured too), then Junos' element,
#: whose parameters must all match ``PARAM`` up to its ``]``.
STRUCTURED: Final = (
    rf"^(<\d{{1,3}}>1 \S+ \S+ \S+ \S+ (\S+)) "
    rf"(?:\[junos@[0-9]+(?:\.[0-9]+)*((?: {PARAM})*)\])?"
)
#: Junos' own log files: two spaces between the stamp and the host.
ON_BOX: Final = r"^((?:<\d{1,3}>)?[A-Z][a-z]{2}  ?\d{1,2} \d{2}:\d{2}:\d{2})  "
#: The text form's message id before its text.
TEXT_ID: Final = r"^([A-Z][A-Z0-9_]*): "
#: The text form of a logical system's messages may name it first.
_LSYS: Final = r"^(?:Lsys \S+: )?"
_FLOW: Final = r"([^\s/]+)/(\d+)->([^\s/]+)/(\d+) (?:0x[0-9a-fA-F]+ )?\S+ "
#: ``session denied S/p->D/p [tag] service proto(icmp-type) policy from-zone to-zone ...``
DENY_TEXT: Final = _LSYS + r"session denied " + _FLOW + r"(\d+)\(\d+\) (\S+) \S+ \S+"
#: ``session closed REASON: S/p->D/p [tag] service NAT-S/p->NAT-D/p [tag] <NAT rule
#: types and names> proto policy from-zone to-zone session-id pkts(bytes) pkts(bytes) elapsed``
CLOSE_TEXT: Final = (
    _LSYS + r"session closed ([^:]*): " + _FLOW + r"[^\s/]+/\d+->[^\s/]+/\d+ (?:.*? )?"
    r"(\d+) (\S+) \S+ \S+ \d+ (\d+)\((\d+)\) (\d+)\((\d+)\) \d+"
)
#: ``ATTACK source: S[:p], destination: D[:p], [protocol-id: N, ]zone name: Z,
#: interface name: I[, action: A]`` (either endpoint may be missing).
SCREEN_TEXT: Final = (
    _LSYS + r"(.+?)(?: source: ([^\s,]+),)?(?: destination: ([^\s,]+),)?"
    r"(?: protocol-id: (\d+),)? zone name: [^\s,]+, interface name: ([^\s,]+)"
    r"(?:, action: ([^\s,]+))?"
)
FIELDS: Final = (
    "src", "spt", "dst", "dpt", "proto", "policy", "ended", "pc", "bc", "ps", "bs",
    "attack", "iface", "action",
)  # fmt: skip
_TEXT: Final = {
    DENY: (DENY_TEXT, ("src", "spt", "dst", "dpt", "proto", "policy")),
    CLOSE: (CLOSE_TEXT, ("ended", "src", "spt", "dst", "dpt", "proto", "policy",
                         "pc", "bc", "ps", "bs")),
    "screen": (SCREEN_TEXT, ("attack", "src", "dst", "proto", "iface", "action")),
}  # fmt: skip
#: Structured-data parameter of each field.
PARAMS: Final = {
    "src": "source-address", "spt": "source-port", "dst": "destination-address",
    "dpt": "destination-port", "proto": "protocol-id", "policy": "policy-name",
    "ended": "reason", "pc": "packets-from-client", "bc": "bytes-from-client",
    "ps": "packets-from-server", "bs": "bytes-from-server", "attack": "attack-name",
    "action": "action",
}  # fmt: skip
#: The interface: of the packet that opened the session, or where a screen fired.
IFACE_PARAMS: Final = ("packet-incoming-interface", "interface-name")

_SNIFF: Final = re.compile(
    r"(?:^|\s)RT_(?:FLOW|IDS)(?:\[\d+\])?(?:: | \S+ )"
    r"(?:(?:RT_FLOW_SESSION_|RT_SCREEN_)[A-Z_]+(?:: | \[junos@)|session (?:denied|closed|created) )"
)


def _param(name: str) -> str:
    """SQL: the value of structured-data parameter ``name``, '' when absent
    (``sd_parts`` alternates names and values, ``sd_keys`` holds the names)."""
    return f"coalesce(sd_parts[2 * list_position(sd_keys, {lit(' ' + name + '=')})], '')"


class JuniperSrxParser(syslog.EnvelopedParser):
    """Juniper SRX session (RT_FLOW) and screen (RT_IDS) logs, structured or text."""

    name = "juniper-srx"
    dataset = "juniper.srx"
    table = "network"
    programs: ClassVar[tuple[str, ...]] = PROGRAMS

    def __init__(self, ctx: ParseContext) -> None:
        super().__init__(ctx)
        self._creates = UnpairedNote(CREATES_ONLY, CREATE_MARK, "juniper-srx.closed", self)

    @classmethod
    def sniff(cls, sample: Sequence[str]) -> bool:
        return sniff_share(sample, _SNIFF)

    def parse(self, lines: pa.Table) -> Parsed:
        k = syslog
        programs = ", ".join(lit(p) for p in PROGRAMS)
        screens = ", ".join(lit(s) for s in SCREENS)
        params = ",\n".join(f"{_param(p)} AS s_{f}" for f, p in PARAMS.items())
        opened, fired = (_param(p) for p in IFACE_PARAMS)
        texts = " ".join(
            f"WHEN {lit(kind)} THEN {extract_struct('body', pattern, groups, FIELDS)}"
            for kind, (pattern, groups) in _TEXT.items()
        )
        picked = ",\n".join(
            f"CASE WHEN structured THEN s_{f} ELSE t.{f} END AS {f}" for f in FIELDS
        )
        ported = ", ".join(lit(s) for s in PORTED_SCREENS)
        tcp_screens = ", ".join(lit(s) for s in TCP_SCREENS)
        endpoint = "regexp_extract({0}, '^(.*):([^:]*)$', ['a', 'p'])"
        with_port = (
            "contains({0}, ':') AND (base IN ({1}) OR regexp_full_match({0}, '[0-9.]+:[0-9]*'))"
        )
        scan = "regexp_matches(lower(attack), 'scan|sweep')"
        sql = f"""
        WITH raw AS (
            SELECT log_line, _row, regexp_full_match(line, '\\s*') AS skip,
                   -- Junos' own log files put two spaces between the stamp
                   -- and the host (``Nov  3 19:06:50  srx1 RT_FLOW: ...``).
                   regexp_replace(line, {lit(ON_BOX)}, '\\1 ') AS line,
                   -- The MSGID and Junos' element, checked against the whole
                   -- parameter grammar (no parameters: not Junos' element).
                   CASE WHEN {k.IS_5424} THEN regexp_extract(line, {lit(STRUCTURED)},
                                                             ['head', 'id', 'params'])
                   END AS sd
            FROM {{view}}
        ),
        -- The envelope reads an RFC 5424 line's header with a NILVALUE for its
        -- structured data: read above, it would be scanned again (the text
        -- after it, Junos' English, is not read). An RFC 5424 line without
        -- Junos' element (a relay re-sending the text form) keeps its text.
        lines AS (
            SELECT * REPLACE (CASE WHEN sd.params <> '' THEN sd.head || ' -' ELSE line END AS line)
            FROM raw
        ),
        -- rsyslog's "message repeated N times: [ ...]": the message inside, N events.
        env AS ({self.envelope.select_sql("lines", repeats=True)}),
        h0 AS (
            SELECT *,
                   {k.PROGRAM} IN ({programs}) AS ours,
                   coalesce({k.KIND} = 'rfc5424' AND sd.params <> '', false) AS structured
            FROM env
        ),
        h AS (
            SELECT *, CASE WHEN NOT structured
                           THEN regexp_extract({k.MESSAGE}, {lit(TEXT_ID)}, 1) END AS tag
            FROM h0
        ),
        i AS (
            SELECT *,
                   CASE WHEN ours IS NOT TRUE THEN NULL
                        WHEN structured THEN nullif(sd.id, '')
                        WHEN tag <> '' THEN tag
                        -- RFC 5424 without Junos' element: the MSGID names the
                        -- text form's message (a relay re-sending it), if it is one.
                        WHEN {k.KIND} = 'rfc5424' AND sd.id NOT IN ('', '-') THEN sd.id
                        -- A structured message relayed in a traditional template: no id.
                        WHEN {k.PROGRAM} = 'RT_FLOW' THEN CASE
                            WHEN starts_with({k.MESSAGE}, 'session denied ') THEN {lit(DENY)}
                            WHEN starts_with({k.MESSAGE}, 'session closed ') THEN {lit(CLOSE)}
                            WHEN starts_with({k.MESSAGE}, 'session created ') THEN {lit(CREATE)}
                        END
                        -- A screen without its id: which screen is not said.
                        WHEN {k.PROGRAM} = 'RT_IDS'
                             AND regexp_matches({k.MESSAGE}, {lit(SCREEN_TEXT)})
                            THEN {lit(SCREEN_UNNAMED)}
                   END AS msg_id,
                   CASE WHEN tag <> '' THEN substr({k.MESSAGE}, length(tag) + 3)
                        ELSE {k.MESSAGE} END AS body,
                   -- Without a backslash no value holds a quote (the grammar
                   -- checked above): the element splits at its quotes, names
                   -- and values alternating. With one, each parameter is
                   -- matched in turn and its value unescaped.
                   CASE WHEN structured THEN
                        CASE WHEN NOT contains(sd.params, '\\')
                             THEN string_split(sd.params, '"')
                             ELSE flatten(list_transform(
                                 regexp_extract_all(sd.params, {lit(PARAM)}),
                                 lambda x: [' ' || split_part(x, '=', 1) || '=',
                                            regexp_replace(x[strpos(x, '="') + 2:-2],
                                                           '\\\\(.)', '\\1', 'g')]))
                        END
                   END AS sd_parts
            FROM h
        ),
        j AS (
            SELECT *, list_slice(sd_parts, 1, -1, 2) AS sd_keys,
                   CASE WHEN suffix(msg_id, '_LS') THEN left(msg_id, length(msg_id) - 3)
                        ELSE msg_id END AS base
            FROM i
        ),
        kd AS (
            SELECT *, CASE WHEN base IN ({lit(DENY)}, {lit(CLOSE)}, {lit(CREATE)}) THEN base
                           WHEN base IN ({screens}) THEN 'screen'
                      END AS kind,
                      -- A parameter named twice (an unescaped quote in a value
                      -- would make one): which is Junos' own cannot be told.
                      list_unique(sd_keys) = len(sd_keys) AS sd_ok
            FROM j
        ),
        s AS (
            SELECT * EXCLUDE (sd_keys, sd_parts), {params},
                   CASE WHEN {opened} <> '' THEN {opened} ELSE {fired} END AS s_iface
            FROM kd
        ),
        t AS (
            SELECT *,
                   CASE WHEN NOT structured AND kind IN ({lit(DENY)}, {lit(CLOSE)}, 'screen')
                        THEN CASE kind {texts} END END AS t
            FROM s
        ),
        u AS (
            SELECT *, {picked},
                   -- A text pattern matched: it captured an address (flows) or
                   -- the interface (screens, whose endpoints are optional).
                   CASE WHEN structured THEN sd_ok
                        WHEN kind = 'screen' THEN t.iface <> ''
                        ELSE t.src <> '' END AS known
            FROM t
        ),
        -- The text form's screen endpoints: addr:port (TCP and UDP screens,
        -- IPv6 too: the port follows the last colon), IPv4 addr:port, or an
        -- address alone.
        ports AS (
            SELECT *,
                   NOT structured AND kind = 'screen' AND {with_port.format("src", ported)} AS sp,
                   NOT structured AND kind = 'screen' AND {with_port.format("dst", ported)} AS dp
            FROM u
        ),
        e AS (
            SELECT * EXCLUDE (sp, dp, ep_src, ep_dst) REPLACE (
                       CASE WHEN sp THEN ep_src.a ELSE src END AS src,
                       CASE WHEN sp THEN ep_src.p ELSE spt END AS spt,
                       CASE WHEN dp THEN ep_dst.a ELSE dst END AS dst,
                       CASE WHEN dp THEN ep_dst.p ELSE dpt END AS dpt)
            FROM (
                SELECT *,
                       CASE WHEN sp THEN {endpoint.format("src")} END AS ep_src,
                       CASE WHEN dp THEN {endpoint.format("dst")} END AS ep_dst
                FROM ports
            )
        ),
        v AS (
            SELECT *,
                   kind = 'screen' AS {ALERT_FLAG},
                   CASE WHEN kind = 'screen' THEN CASE
                            WHEN base IN ({tcp_screens}) THEN 'tcp'
                            WHEN base = 'RT_SCREEN_UDP' THEN 'udp'
                            WHEN base = 'RT_SCREEN_ICMP' THEN
                                CASE WHEN contains(src, ':') THEN 'ipv6-icmp' ELSE 'icmp' END
                            ELSE {transport_sql("nullif(proto, '')")} END
                        ELSE {transport_sql("proto")} END AS network_transport,
                   CASE kind WHEN {lit(DENY)} THEN 'denied' WHEN {lit(CLOSE)} THEN 'allowed'
                        WHEN 'screen' THEN CASE WHEN action = 'drop' THEN 'denied'
                                                WHEN starts_with(action, 'alarm') THEN 'allowed'
                                           END
                   END AS event_action
            FROM e
        ),
        w AS (SELECT *, network_transport IN {PORTED} AS has_ports,
                        {ALERT_FLAG} AND {scan} AS is_scan FROM v)
        SELECT log_line, _row, skip OR coalesce(kind = {lit(CREATE)}, false) AS skip,
               {k.TIME}, {k.MONTH}, {k.DAY}, {k.TOD},
               {k.HOST} AS observer_name,
               {ALERT_FLAG},
               src AS source_raw, dst AS destination_raw,
               {ports_sql("spt", "dpt")},
               network_transport,
               nullif(iface, '') AS interface_in,
               nullif(policy, '') AS log_prefix,
               event_action,
               CASE WHEN NOT {ALERT_FLAG} THEN {outcome_sql("event_action")} END
                   AS connection_outcome,
               CASE kind WHEN {lit(DENY)} THEN 'deny' WHEN {lit(CLOSE)} THEN nullif(ended, '')
                   END AS connection_state,
               {count_sum_sql("bc", "bs")} AS network_bytes,
               {count_sum_sql("pc", "ps")} AS network_packets,
               'juniper.srx' AS event_dataset,
               CASE WHEN {ALERT_FLAG} THEN msg_id END AS rule_id,
               CASE WHEN {ALERT_FLAG} THEN nullif(attack, '') END AS rule_name,
               CASE WHEN {ALERT_FLAG} THEN CASE WHEN is_scan THEN {lit(SCAN_CATEGORY)}
                                                ELSE {lit(SCREEN_CATEGORY)} END END
                   AS rule_category,
               CAST(CASE WHEN {ALERT_FLAG} THEN CASE WHEN is_scan THEN {SCAN_SEVERITY}
                                                     ELSE {SCREEN_SEVERITY} END END
                    AS SMALLINT) AS event_severity,
               {REPEAT},
               CASE WHEN ours IS NOT TRUE THEN {lit(NOT_JUNOS)}
                    WHEN kind IS NULL THEN {lit(UNSUPPORTED)}
                    WHEN known IS NOT TRUE THEN {lit(MALFORMED)}
                    WHEN {ALERT_FLAG} AND src = '' THEN {lit(NO_SOURCE)}
                    WHEN {ALERT_FLAG} AND attack = '' THEN {lit(MALFORMED)}
                    WHEN NOT {ALERT_FLAG} AND (dst = '' OR src = '' OR network_transport IS NULL)
                        THEN {lit(MALFORMED)}
                    WHEN has_ports AND ({bad_port_sql("spt")} OR {bad_port_sql("dpt")})
                        THEN {lit(INVALID_PORT)}
               END AS reason
        FROM w
        """  # noqa: S608 - constant patterns and a generated view name only
        parsed = split_alerts(run_batch(self.ctx.con, lines, sql, {}, self.envelope))
        # Session starts without any session end: a policy logging session-init only.
        self._creates.update(lines, parsed, "event_action", "allowed")
        return parsed
