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
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar, Final, NamedTuple

import pyarrow as pa

from reconwatch.ingest import syslog
from reconwatch.ingest.auth_sshd import sniff_programs
from reconwatch.ingest.base import ParseContext, Parsed, Parser
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


class OpenVpnParser(Parser):
    """OpenVPN server log lines, from syslog or OpenVPN's own log file."""

    name = "openvpn"
    dataset = "openvpn"
    table = "auth"
    programs: ClassVar[tuple[str, ...]] = ("openvpn", "ovpn-server")

    def __init__(self, ctx: ParseContext) -> None:
        super().__init__(ctx)
        self.envelope = syslog.SyslogEnvelope(ctx.config.syslog, ctx.now)

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
        env AS ({self.envelope.select_sql("lines")}),
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
               CASE WHEN text IS NULL THEN {lit(NOT_OPENVPN)}
                    WHEN c.ip = '' THEN {lit(NO_CLIENT)}
                    WHEN kind IS NULL THEN {lit(UNREAD)}
               END AS reason
        FROM kinds
        """  # noqa: S608 - constant patterns and a generated view name only
        params: dict[str, object] = {"ovpn_tz": self.ctx.config.syslog.timezone}
        return run_batch(self.ctx.con, lines, sql, params, self.envelope)
