"""OpenVPN server logs (``--format openvpn``): connections, logins and their failures.

OpenVPN prefixes each message about a client with ``[user/]ip:port``, and
writes its log either through syslog (``openvpn[1234]: ...``) or to its own
file with a local stamp (``2026-09-30 12:00:00 ...``, older versions
``Wed Sep 30 12:00:00 2026 ...``, read in ``config.syslog.timezone``)::

    2026-09-30 12:00:00 192.0.2.1:51234 [alice] Peer Connection Initiated with
        [AF_INET]192.0.2.1:51234
    2026-09-30 12:00:00 alice/192.0.2.1:51234 MULTI: primary virtual IP for
        alice/192.0.2.1:51234: 10.8.0.6
    2026-09-30 12:00:01 192.0.2.2:40000 TLS Auth Error: Auth Username/Password
        verification failed for peer
    2026-09-30 12:00:02 192.0.2.3:40001 TLS Error: TLS handshake failed

(each message is one line in the log). ``MESSAGES`` below says what each
message means in the ``auth`` table. The TLS errors are what an internet-wide
OpenVPN scan leaves behind (a probe that cannot complete a handshake), so they
are kept as failures. Messages without a client prefix (start-up, routes) are
rejected with ``NO_CLIENT``; client messages not in ``MESSAGES`` with ``UNREAD``.

The server's status file (``--status FILE``, versions 1 to 3) is another
format, ``openvpn-status``: see ``OpenVpnStatusParser``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar, Final, NamedTuple

import pyarrow as pa
import pyarrow.compute as pc

from reconwatch.ingest import syslog
from reconwatch.ingest.auth_sshd import sniff_programs
from reconwatch.ingest.base import REPEAT, ParseContext, Parsed, Parser
from reconwatch.ingest.linesql import lit, run_batch

NOT_OPENVPN: Final = "not an openvpn line"
NO_CLIENT: Final = "openvpn message without a client address"
UNREAD: Final = "unrecognised openvpn message"

#: OpenVPN's own file stamps: 2.4+ ISO-like, and the ctime() of older versions.
OWN_STAMP: Final = (
    r"^(\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}|[A-Z][a-z]{2} [A-Z][a-z]{2} [ \d]\d \d{2}:\d{2}:\d{2} "
    r"\d{4}) (.*)$"
)
#: ``[user/]ip:port rest``; IPv6 without brackets, so the port is after the last ':'.
CLIENT: Final = r"^(?:([^/\s]+)/)?(?:\[AF_INET6?\])?(\S+):(\d+) (.*)$"


class Message(NamedTuple):
    pattern: str
    action: str
    outcome: str | None


#: In matching order, against the message after the client prefix.
MESSAGES: Final = (
    Message(r"^\[([^\]]*)\] Peer Connection Initiated", "vpn_connect", "success"),
    Message(r"^MULTI: primary virtual IP", "vpn_address", "success"),
    Message(r"^TLS Auth Error: Auth Username/Password verification failed", "login", "failure"),
    Message(r"^(?:TLS Auth Error|AUTH-PAM|PLUGIN_CALL).*(?:fail|FAIL)", "login", "failure"),
    Message(r"^VERIFY ERROR", "certificate_error", "failure"),
    Message(r"^TLS Error", "tls_error", "failure"),
    Message(r"^SIGTERM\[soft,remote-exit\]", "vpn_disconnect", None),
    Message(r"^(?:SIGUSR1\[soft,connection-reset\]|Connection reset)", "vpn_disconnect", None),
)


def _case(values: Sequence[str | None]) -> str:
    whens = " ".join(
        f"WHEN {i} THEN {lit(v) if v is not None else 'NULL'}" for i, v in enumerate(values)
    )
    return f"CASE kind {whens} END"


class OpenVpnParser(syslog.EnvelopedParser):
    """OpenVPN server log lines, from syslog or OpenVPN's own log file."""

    name = "openvpn"
    dataset = "openvpn"
    table = "auth"
    programs: ClassVar[tuple[str, ...]] = ("openvpn", "ovpn-server")

    @classmethod
    def sniff(cls, sample: Sequence[str]) -> bool:
        """Syslog lines of openvpn, or OpenVPN's own stamps with its client messages."""
        if sniff_programs(sample, cls.programs):
            return True
        try:
            markers = ("Peer Connection Initiated", "MULTI:", "TLS Error", "OpenVPN ")
            hits = sum(1 for line in sample if any(m in line[:2048] for m in markers))
            return (
                hits > 0
                and hits * 4 >= len(sample)
                and all(line[:4].isdigit() or line[:3].isalpha() for line in sample)
            )
        except Exception:  # a sniffer must never stop format detection
            return False

    def parse(self, lines: pa.Table) -> Parsed:
        k = syslog
        programs = ", ".join(lit(p) for p in self.programs)
        kinds = " ".join(
            f"WHEN regexp_matches(c.rest, {lit(m.pattern)}) THEN {i}"
            for i, m in enumerate(MESSAGES)
        )
        sql = f"""
        WITH lines AS (
            SELECT log_line, _row, line, regexp_full_match(line, '\\s*') AS skip FROM {{view}}
        ),
        -- rsyslog's "message repeated N times: [ ...]" (a client's identical
        -- packets: a scanner's retries from one port): the message inside, N times.
        env AS ({self.envelope.select_sql("lines", repeats=True)}),
        own AS (
            SELECT *, CASE WHEN {k.KIND} IS NULL
                           THEN regexp_extract(line, {lit(OWN_STAMP)}, ['stamp', 'msg']) END AS o
            FROM env
        ),
        msg AS (
            SELECT *,
                   CASE WHEN {k.KIND} IS NOT NULL AND {k.PROGRAM} IN ({programs}) THEN {k.MESSAGE}
                        WHEN o.stamp <> '' THEN o.msg END AS text
            FROM own
        ),
        c AS (
            SELECT *, regexp_extract(text, {lit(CLIENT)}, ['user', 'ip', 'port', 'rest']) AS c
            FROM msg
        ),
        kinds AS (SELECT *, CASE {kinds} END AS kind FROM c)
        SELECT log_line, _row, skip, {k.TIME}, {k.MONTH}, {k.DAY}, {k.TOD},
               {k.HOST} AS observer_name,
               timezone('UTC', timezone($ovpn_tz, coalesce(
                   TRY_CAST(nullif(o.stamp, '') AS TIMESTAMP),
                   try_strptime(regexp_replace(o.stamp, '  ', ' '), '%a %b %d %H:%M:%S %Y'))))
                   AS timestamp,
               c.ip AS source_raw,
               CAST(TRY_CAST(nullif(c.port, '') AS USMALLINT) AS INTEGER) AS source_port,
               coalesce(nullif(c.user, ''),
                        CASE WHEN kind = 0
                             THEN nullif(regexp_extract(c.rest, '^\\[([^\\]]*)\\]', 1), '')
                        END) AS user_name,
               {_case([m.action for m in MESSAGES])} AS event_action,
               {_case([m.outcome for m in MESSAGES])} AS event_outcome,
               'openvpn' AS service_name,
               {REPEAT},
               CASE WHEN text IS NULL THEN {lit(NOT_OPENVPN)}
                    WHEN c.ip = '' THEN {lit(NO_CLIENT)}
                    WHEN kind IS NULL THEN {lit(UNREAD)}
               END AS reason
        FROM kinds
        """  # noqa: S608 - constant patterns and a generated view name only
        params: dict[str, object] = {"ovpn_tz": self.ctx.config.syslog.timezone}
        return run_batch(self.ctx.con, lines, sql, params, self.envelope)


NOT_STATUS: Final = "not an openvpn status line"
BAD_ROW: Final = "malformed openvpn status client row"

#: The ``CLIENT_LIST`` columns read from a version 2/3 status file, by header name.
_COLUMNS: Final = {
    "cn": "Common Name",
    "real": "Real Address",
    "since": "Connected Since",
    "epoch": "Connected Since (time_t)",
    "user": "Username",
}
#: 1-based places in a ``CLIENT_LIST`` row when no header has been seen: OpenVPN
#: 2.4+ (12 fields; 13 from 2.5 with the cipher) and 2.2/2.3 (8 or 9 fields).
_LAYOUT_24: Final = {"cn": 2, "real": 3, "since": 8, "epoch": 9, "user": 10}
_LAYOUT_23: Final = {"cn": 2, "real": 3, "since": 7, "epoch": 8, "user": 9}
#: Lines of a status file that carry no session (titles, headers, routes, stats):
#: whole lines, then line starts.
_SKIPPED_LINES: Final = ("OpenVPN CLIENT LIST", "ROUTING TABLE", "GLOBAL STATS", "END")
_SKIPPED_STARTS: Final = (
    "Updated,", "Common Name,Real Address,", "Virtual Address,Common Name,",
    "Max bcast/mcast queue length,",
    "TITLE,", "TIME,", "HEADER,", "ROUTING_TABLE,", "GLOBAL_STATS,",
    "TITLE\t", "TIME\t", "HEADER\t", "ROUTING_TABLE\t", "GLOBAL_STATS\t",
)  # fmt: skip


class OpenVpnStatusParser(Parser):
    """The status file of an OpenVPN server (``--status FILE``), versions 1, 2 and 3.

    ``--status-version 1`` (the default)::

        OpenVPN CLIENT LIST
        Updated,2026-09-30 12:05:00
        Common Name,Real Address,Bytes Received,Bytes Sent,Connected Since
        alice,192.0.2.1:51234,12345,67890,2026-09-30 12:00:00
        ROUTING TABLE
        Virtual Address,Common Name,Real Address,Last Ref
        10.8.0.6,alice,192.0.2.1:51234,2026-09-30 12:04:59
        GLOBAL STATS
        Max bcast/mcast queue length,0
        END

    Version 2 writes ``TITLE``/``TIME`` lines and one ``HEADER,<table>,...``
    line per table, then rows that start with the table's name
    (``CLIENT_LIST,alice,192.0.2.1:51234,10.8.0.6,,12345,67890,2026-09-30
    12:00:00,1790762400,alice,0,0,AES-256-GCM``); version 3 is version 2
    with tabs for commas.

    Each client row becomes an ``auth`` row like a connect (``vpn_connect``,
    success): the user is ``Username``, or ``Common Name`` when the username is
    ``UNDEF`` (certificate-only logins) or the version has none; the source is
    ``Real Address`` (``addr:port``, the port after the last colon, IPv6 also
    ``[addr]:port``); the time is ``Connected Since (time_t)`` (UTC) where the
    version has it, else the text stamp (``2026-09-30 12:00:00`` or, before
    2.4, ``Thu Sep 30 12:00:00 2026``) read in ``syslog.timezone``. Version 2/3
    columns are found by the ``HEADER,CLIENT_LIST`` line (remembered for the
    file's next batches); without one, by the row's length (2.4+ or 2.2/2.3
    layout). Titles, headers, routing rows, stats and ``END`` are skipped.

    OpenVPN rewrites the file every ``--status`` interval: ingesting successive
    copies gives one identical row (same time, user and address) per copy for a
    session still connected.
    """

    #: Its lines are read by a header (columns, layout) met before them.
    reads_lines_alone = False

    name = "openvpn-status"
    dataset = "openvpn.status"
    table = "auth"

    def __init__(self, ctx: ParseContext) -> None:
        super().__init__(ctx)
        #: Places of ``_COLUMNS`` from the file's last ``HEADER CLIENT_LIST`` line.
        self.layout: dict[str, int | None] | None = None

    @classmethod
    def sniff(cls, sample: Sequence[str]) -> bool:
        try:
            lines = [line.strip() for line in sample[:20]]
            return bool(lines) and (
                lines[0] == "OpenVPN CLIENT LIST"
                or any(
                    line.startswith(("HEADER,CLIENT_LIST,", "HEADER\tCLIENT_LIST\t"))
                    for line in lines
                )
            )
        except Exception:  # a sniffer must never stop format detection
            return False

    def _read_header(self, lines: pa.Table) -> None:
        """Remember the column places of the batch's last ``HEADER CLIENT_LIST`` line."""
        text = lines.column("line")
        headers = pc.filter(
            text,
            pc.or_(
                pc.starts_with(text, "HEADER,CLIENT_LIST,"),
                pc.starts_with(text, "HEADER\tCLIENT_LIST\t"),
            ),
        )
        if len(headers) == 0:
            return
        header = str(headers[-1].as_py()).rstrip("\r\n")
        names = header.split("\t" if "\t" in header else ",")
        # Header field i (1-based) names row field i - 1 (HEADER before CLIENT_LIST).
        self.layout = {
            key: names.index(name) if name in names else None for key, name in _COLUMNS.items()
        }

    def parse(self, lines: pa.Table) -> Parsed:
        self._read_header(lines)

        def place(key: str) -> str:
            if self.layout is not None:
                at = self.layout[key]
                return f"f[{at}]" if at is not None else "NULL"
            return f"CASE WHEN len(f) >= 12 THEN f[{_LAYOUT_24[key]}] ELSE f[{_LAYOUT_23[key]}] END"

        skipped = " OR ".join(
            [f"line = {lit(p)}" for p in _SKIPPED_LINES]
            + [f"starts_with(line, {lit(p)})" for p in _SKIPPED_STARTS]
        )
        local = (
            "timezone('UTC', timezone($ovpn_tz, coalesce(TRY_CAST(stamp AS TIMESTAMP), "
            "try_strptime(regexp_replace(stamp, '  ', ' '), '%a %b %d %H:%M:%S %Y'))))"
        )
        sql = f"""
        WITH lines AS (
            SELECT log_line, _row, rtrim(line, chr(13)) AS line FROM {{view}}
        ),
        kinds AS (
            SELECT *,
                   CASE WHEN starts_with(line, 'CLIENT_LIST,') THEN 2
                        WHEN starts_with(line, 'CLIENT_LIST' || chr(9)) THEN 3
                        WHEN regexp_full_match(line, '[^,]*,[^,]*,[0-9]+,[0-9]+,[^,]*') THEN 1
                   END AS version,
                   regexp_full_match(line, '\\s*') OR {skipped}
                       -- a version 1 routing row: virtual address, name, real address, time
                       OR regexp_full_match(line, '[^,\\t]*,[^,\\t]*,[^,\\t]*,[^,\\t]*')
                       AS skip0
            FROM lines
        ),
        kept AS (
            -- A client row is never skipped, whatever its name starts with.
            SELECT * EXCLUDE (skip0), skip0 AND version IS NULL AS skip FROM kinds
        ),
        fields AS (
            SELECT *,
                   CASE version WHEN 3 THEN string_split(line, chr(9))
                                ELSE string_split(line, ',') END AS f
            FROM kept
        ),
        cols AS (
            SELECT *,
                   CASE WHEN version = 1 THEN f[1] ELSE {place("cn")} END AS cn,
                   CASE WHEN version = 1 THEN f[2] ELSE {place("real")} END AS real,
                   CASE WHEN version = 1 THEN f[5] ELSE {place("since")} END AS stamp,
                   CASE WHEN version > 1 THEN {place("epoch")} END AS epoch,
                   CASE WHEN version > 1 THEN {place("user")} END AS username
            FROM fields
        ),
        addr AS (
            SELECT *,
                   regexp_replace(real, '^\\[AF_INET6?\\]', '') AS r
            FROM cols
        ),
        ends AS (
            SELECT *, split_part(r, ':', -1) AS port,
                   CASE WHEN contains(r, ':')
                        THEN left(r, length(r) - length(split_part(r, ':', -1)) - 1)
                        ELSE r END AS host
            FROM addr
        )
        SELECT log_line, _row, skip,
               coalesce(
                   CASE WHEN regexp_full_match(epoch, '[0-9]{{1,12}}')
                        THEN timezone('UTC', to_timestamp(CAST(epoch AS BIGINT))) END,
                   {local}) AS timestamp,
               nullif(CASE WHEN starts_with(host, '[') AND suffix(host, ']')
                           THEN substr(host, 2, length(host) - 2) ELSE host END, '')
                   AS source_raw,
               CAST(TRY_CAST(port AS USMALLINT) AS INTEGER) AS source_port,
               coalesce(CASE WHEN username NOT IN ('UNDEF', '') THEN username END,
                        CASE WHEN cn NOT IN ('UNDEF', '') THEN cn END) AS user_name,
               'vpn_connect' AS event_action,
               'success' AS event_outcome,
               'openvpn' AS service_name,
               CASE WHEN version IS NULL THEN {lit(NOT_STATUS)}
                    WHEN real IS NULL OR NOT regexp_full_match(port, '[0-9]{{1,5}}')
                         OR TRY_CAST(port AS USMALLINT) IS NULL THEN {lit(BAD_ROW)}
               END AS reason
        FROM ends
        """  # noqa: S608 - constant patterns, generated column places and view name only
        params: dict[str, object] = {"ovpn_tz": self.ctx.config.syslog.timezone}
        return run_batch(self.ctx.con, lines, sql, params)
