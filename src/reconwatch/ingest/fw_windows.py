"""Windows Defender Firewall logs, ``pfirewall.log`` (``--format windows-firewall``).

Windows writes ``%windir%\\System32\\LogFiles\\Firewall\\pfirewall.log`` in a
W3C-style layout: a header block naming the fields, then one space-separated
record per dropped packet or allowed connection, ``-`` for an empty field::

    #Version: 1.5
    #Software: Microsoft Windows Firewall
    #Time Format: Local
    #Fields: date time action protocol src-ip dst-ip src-port dst-port size tcpflags
        tcpsyn tcpack tcpwin icmptype icmpcode info path
    2026-09-30 10:00:01 DROP TCP 198.51.100.7 203.0.113.5 40000 3389 52 S 3301937187 0
        64240 - - - RECEIVE

(each one line in the file). Windows 10 1709 and Server 2019 onwards append
``pid``. Fields are read by the ``#Fields:`` positions in force above each
record, as for IIS (``linesql.run_by_headers``: one query per distinct header
of a batch, a handful per file, never one per line; the lines under more than
``base.MAX_LAYOUTS`` are rejected), and the last header is kept for the next
batch. Windows writes the header block again when the log rolls over, so
a file may hold several. Records before any ``#Fields:`` (a file cut mid-way)
take the version 1.5 list, with or without ``pid`` by their field count, and
so do records under a header naming exactly the 1.5 fields (a file begun
before an upgrade to 1709 keeps its header until it rolls over, while the
records gain ``pid``): an 18th field is read as ``pid`` only when it is one
and a path precedes it. A record with an empty field (a doubled blank) is
rejected with the wrong count: every field after it would be shifted. ``#``
lines are skipped.

``DROP`` is ``dropped`` (a failed attempt, as for every firewall parser),
``ALLOW`` ``allowed``; the older firewall's (XP SP2, Server 2003) ``OPEN``,
``OPEN-INBOUND`` and ``CLOSE`` are allowed connections, kept verbatim as
``connection_state``. ``INFO-EVENTS-LOST`` says that the firewall failed to
log N events (N in ``info``): no event of its own, and not made into N rows
(what they were is unknown), so it is rejected with its own reason, which
the accounting shows and the rejects table keeps with the count.

Stamps are the host's local time (``#Time Format: Local``): read in
``syslog.timezone``, per input with ``syslog.timezones`` (the framework hands
each input's zone in the config). The file names no host: ``log_file`` says
whose it is, ``observer_name`` stays null. ``path`` (RECEIVE, SEND, FORWARD,
UNKNOWN) is not kept: the ``network`` table has no direction column (the
host's own address, source or destination, says it for RECEIVE and SEND).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import ClassVar, Final

import pyarrow as pa

from reconwatch.ingest.base import (
    ParseContext,
    Parsed,
    Parser,
)
from reconwatch.ingest.fw_common import (
    INVALID_PORT,
    SNIFF_CHARS,
    UNKNOWN_ACTION,
    bad_port_sql,
    case_map,
    local_to_utc_params,
    local_to_utc_sql,
    outcome_sql,
    ports_sql,
    sniff_share,
    transport_sql,
)
from reconwatch.ingest.fw_pf import TCP_FLAGS
from reconwatch.ingest.linesql import byte_count_sql, lit, run_by_headers

NOT_RECORD: Final = "not a Windows Firewall log record"
WRONG_FIELD_COUNT: Final = "wrong number of fields"
MISSING_FIELDS: Final = "#Fields lacks date, time, action, protocol, src-ip or dst-ip"
EVENTS_LOST: Final = "Windows Firewall lost events (INFO-EVENTS-LOST, not expanded)"
MALFORMED: Final = "malformed Windows Firewall log record"

#: The version 1.5 fields, which Windows has written since XP SP2.
DEFAULT_FIELDS: Final = (
    "date", "time", "action", "protocol", "src-ip", "dst-ip", "src-port", "dst-port", "size",
    "tcpflags", "tcpsyn", "tcpack", "tcpwin", "icmptype", "icmpcode", "info", "path",
)  # fmt: skip
#: Appended by Windows 10 1709 / Server 2019 and later.
PID: Final = "pid"
#: Fields a ``#Fields:`` header must name for its records to be read.
REQUIRED: Final = ("date", "time", "action", "protocol", "src-ip", "dst-ip")

ACTIONS: Final = {
    "DROP": "dropped", "ALLOW": "allowed",
    # Windows XP SP2 / Server 2003: connections opened and closed, all allowed.
    "OPEN": "allowed", "OPEN-INBOUND": "allowed", "CLOSE": "allowed",
}  # fmt: skip
#: Actions whose word says more than ``event_action``: kept as ``connection_state``.
STATES: Final = ("OPEN", "OPEN-INBOUND", "CLOSE")
LOST: Final = "INFO-EVENTS-LOST"

#: What the 18th field of a 1.5 record may be: ``pid`` (a number, or ``-``).
_PID: Final = r"[0-9]+|-"
PATHS: Final = ("RECEIVE", "SEND", "FORWARD", "UNKNOWN", "-")
SOFTWARE: Final = "#Software: Microsoft Windows Firewall"

_DATE: Final = r"[0-9]{4}-[0-9]{2}-[0-9]{2}"
_TIME: Final = r"[0-9]{2}:[0-9]{2}:[0-9]{2}"
_FLAG_LETTERS: Final = "[" + "".join(letter for letter, _ in TCP_FLAGS) + "]+"

#: A headerless file (cut mid-way): records in exactly the 1.5 layout, ``pid`` optional.
_SNIFF_RECORD: Final = re.compile(
    r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} "
    r"(?:ALLOW|DROP|INFO-EVENTS-LOST|OPEN|OPEN-INBOUND|CLOSE) "
    r"(?:[A-Za-z0-9]{1,16}|-) "  # protocol: name or number
    r"(?:[0-9A-Fa-f.:]{2,45}|-) (?:[0-9A-Fa-f.:]{2,45}|-) "  # addresses
    r"(?:\d{1,5}|-) (?:\d{1,5}|-) (?:\d+|-) "  # ports, size
    r"(?:[A-Z]{1,8}|-) (?:\d+|-) (?:\d+|-) (?:\d+|-) "  # tcpflags, tcpsyn, tcpack, tcpwin
    r"(?:\d+|-) (?:\d+|-) (?:\d+|-) "  # icmptype, icmpcode, info
    r"(?:RECEIVE|SEND|FORWARD|UNKNOWN|-)(?: (?:\d+|-))?\s*$"  # path, pid (trailing blanks)
)


def _record_sql(fields: tuple[str, ...] | None, timezone: str) -> str:
    """The batch query for the records under one ``#Fields:`` header
    (``None``: no header yet, the 1.5 fields with or without ``pid``, as under a
    header naming exactly the 1.5 fields)."""
    if fields is None or tuple(name.lower() for name in fields) == DEFAULT_FIELDS:
        # Windows appends pid to its records since 1709; a file begun before an
        # upgrade keeps its 1.5 header until it rolls over, so such a header
        # takes records with or without it, as no header does.
        names: tuple[str, ...] = (*DEFAULT_FIELDS, PID)
        counts: tuple[int, ...] = (len(DEFAULT_FIELDS), len(DEFAULT_FIELDS) + 1)
        # Which of 17 or 18 a record is must be certain: a stray token read as
        # pid would shift nothing, but one inside would shift every later field.
        layout = (
            f"n = {len(DEFAULT_FIELDS)} OR (regexp_full_match(f[{len(names)}], {lit(_PID)})"
            f" AND f[{len(DEFAULT_FIELDS)}] IN ({', '.join(lit(p) for p in PATHS)}))"
        )
    else:
        names, counts = fields, (len(fields),)
        layout = "TRUE"
    positions: dict[str, int] = {}
    for index, name in enumerate(names):
        positions.setdefault(name.lower(), index + 1)  # a name given twice: the first

    def field(name: str) -> str:
        # A field the header does not name is NULL; '-' means "empty".
        position = positions.get(name)
        return f"nullif(f[{position}], '-')" if position else "CAST(NULL AS VARCHAR)"

    required = all(name in positions for name in REQUIRED)
    flags = ", ".join(
        f"CASE WHEN contains(w_flags, {lit(letter)}) THEN {lit(name)} END"
        for letter, name in TCP_FLAGS
    )
    states = ", ".join(lit(state) for state in STATES)
    local = f"try_strptime(w_date || ' ' || w_time, {lit('%Y-%m-%d %H:%M:%S')})"
    return f"""
    WITH lines AS (
        SELECT log_line, _row, regexp_full_match(line, '\\s*') AS skip,
               string_split(trim(line), ' ') AS f
        FROM {{view}}
    ),
    v AS (
        SELECT log_line, _row, skip, len(f) AS n, f,
               {field("date")} AS w_date, {field("time")} AS w_time,
               {field("action")} AS w_action, {field("protocol")} AS w_proto,
               {field("src-ip")} AS src, {field("dst-ip")} AS dst,
               {field("src-port")} AS spt, {field("dst-port")} AS dpt,
               {field("size")} AS w_size, {field("tcpflags")} AS w_flags,
               {field("tcpwin")} AS w_win
        FROM lines
    ),
    t AS (
        SELECT *, {transport_sql("w_proto", "w_proto")} AS network_transport,
               {case_map("w_action", ACTIONS)} AS event_action,
               coalesce(regexp_full_match(w_date, {lit(_DATE)})
                        AND regexp_full_match(w_time, {lit(_TIME)}), FALSE) AS stamped
        FROM v
    )
    SELECT log_line, _row, skip,
           {local_to_utc_sql(local, timezone, "wf_tz")} AS timestamp,
           src AS source_raw, dst AS destination_raw,
           {ports_sql("spt", "dpt")},
           network_transport,
           CASE WHEN network_transport = 'tcp' AND regexp_full_match(w_flags, {lit(_FLAG_LETTERS)})
                THEN concat_ws(' ', {flags}) END AS tcp_flags,
           CASE WHEN network_transport = 'tcp'
                THEN CAST(TRY_CAST(w_win AS USMALLINT) AS INTEGER) END AS tcp_window,
           event_action,
           {outcome_sql("event_action")} AS connection_outcome,
           CASE WHEN w_action IN ({states}) THEN w_action END AS connection_state,
           -- No IP packet is 0 bytes: Windows writes 0 where it did not measure
           -- one (ALLOW records are logged when a connection is authorised).
           nullif({byte_count_sql("w_size")}, 0) AS network_bytes,
           CASE WHEN {"FALSE" if required else "TRUE"} THEN {lit(MISSING_FIELDS)}
                WHEN NOT stamped THEN {lit(NOT_RECORD)}
                WHEN w_action = {lit(LOST)} THEN {lit(EVENTS_LOST)}
                -- An empty field is a doubled blank: the fields after it are shifted.
                WHEN n NOT IN ({", ".join(str(count) for count in counts)})
                     OR list_contains(f, '') OR NOT ({layout})
                    THEN {lit(WRONG_FIELD_COUNT)}
                WHEN event_action IS NULL THEN {lit(UNKNOWN_ACTION)}
                WHEN src IS NULL OR dst IS NULL OR network_transport IS NULL
                    THEN {lit(MALFORMED)}
                WHEN {bad_port_sql("spt")} OR {bad_port_sql("dpt")} THEN {lit(INVALID_PORT)}
           END AS reason
    FROM t
    """  # noqa: S608 - constant patterns, integer positions and a generated view name only


class WindowsFirewallParser(Parser):
    """Windows Defender Firewall logs (pfirewall.log), fields by their #Fields header."""

    #: Its lines are read by a header (columns, layout) met before them.
    reads_lines_alone = False

    name = "windows-firewall"
    dataset = "windows.firewall"
    table = "network"
    #: A file of its own, never syslog: nothing for the multiplexer to route.
    programs: ClassVar[tuple[str, ...]] = ()

    def __init__(self, ctx: ParseContext) -> None:
        super().__init__(ctx)
        #: The ``#Fields:`` in force at the end of the previous batch (None: none yet).
        self.fields: tuple[str, ...] | None = None

    @classmethod
    def sniff(cls, sample: Sequence[str]) -> bool:
        """The ``#Software:`` directive Windows writes, else 1.5-layout records."""
        try:
            if any(
                isinstance(line, str) and line[:SNIFF_CHARS].lstrip("\ufeff").startswith(SOFTWARE)
                for line in sample[:50]
            ):
                return True
        except Exception:  # a sniffer must never stop format detection
            return False
        return sniff_share(sample, _SNIFF_RECORD)

    def parse(self, lines: pa.Table) -> Parsed:
        timezone = self.ctx.config.syslog.timezone
        params = local_to_utc_params(timezone, "wf_tz")
        # No header yet: the 1.5 fields (``_record_sql`` of None), never a reject.
        parsed, self.fields = run_by_headers(
            self.ctx.con, lines, self.fields, lambda fields: _record_sql(fields, timezone),
            params, no_header=NOT_RECORD,
        )  # fmt: skip
        return parsed
