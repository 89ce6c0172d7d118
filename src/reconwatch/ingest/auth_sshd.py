"""OpenSSH ``sshd`` lines from auth.log, secure, the journal, a relay (``--format sshd``).

sshd writes one line per step of a connection, in any syslog envelope
(``reconwatch.ingest.syslog``)::

    Sep  6 09:57:21 host sshd[581]: Accepted publickey for vagrant from 192.168.121.1 port 56296
    Feb 12 14:10:21 host sshd[16378]: Invalid user pascal from 35.188.49.176 port 53502
    <38>1 2022-01-19T14:23:55+00:00 opn sshd 44255 - [meta sequenceId="1"] Invalid user tutu ...

Each message that names a client address is one ``auth`` row; the table below
(``MESSAGES``) says which ``event_action`` and ``event_outcome`` it gets. The
messages that scanners cause without ever logging in (no identification
string, bad banner, failed key exchange, timeout before authentication) are
kept too: they are what an SSH sweep leaves behind.

A user name is everything between the fixed words, greedy: ``Invalid user a from
1.2.3.4 from 5.6.7.8`` was sent as user ``a from 1.2.3.4`` and came from
5.6.7.8, the address sshd writes last. sshd lines that name no client
(``Server listening``, ``session opened``) and messages not in ``MESSAGES`` are
rejected with the fixed reason
``NO_CLIENT``, so a reader sees how many there were.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import ClassVar, Final, NamedTuple

import pyarrow as pa

from reconwatch.ingest import syslog
from reconwatch.ingest.base import REPEAT, Parsed
from reconwatch.ingest.linesql import lit, run_batch

NOT_SYSLOG: Final = "not a syslog line"
NOT_SSHD: Final = "not an sshd line"
NO_CLIENT: Final = "unrecognised sshd message"

#: The program names sshd logs under: OpenSSH 9.8 split the per-connection
#: work into ``sshd-session`` (and ``sshd-auth`` in 10.0).
SSHD_PROGRAMS: Final = ("sshd", "sshd-session", "sshd-auth")

#: Fields each message pattern extracts, in this order.
FIELDS: Final = ("method", "user", "ip", "port", "dip", "dport")


class Message(NamedTuple):
    """One sshd message: its pattern, the field each group fills, and what it means."""

    pattern: str
    groups: tuple[str, ...]
    action: str
    outcome: str | None


#: Optional "error: "/"fatal: " before a message (OpenSSH levels some of them so).
_LEVEL: Final = r"^(?:error: |fatal: )?"
_USER_KIND: Final = r"(?:authenticating |invalid )?user "

#: In matching order (first match wins).
MESSAGES: Final = (
    Message(r"^Accepted (\S+) for (.*) from (\S+) port (\d+)", ("method", "user", "ip", "port"),
            "login", "success"),
    Message(r"^Failed (\S+) for (?:invalid user )?(.*) from (\S+) port (\d+)",
            ("method", "user", "ip", "port"), "login", "failure"),
    Message(r"^Invalid user (.*) from (\S+)(?: port (\d+))?", ("user", "ip", "port"),
            "invalid_user", "failure"),
    Message(r"^User (.*) from (\S+) not allowed because", ("user", "ip"), "not_allowed",
            "failure"),
    Message(_LEVEL + r"maximum authentication attempts exceeded for (?:invalid user )?(.*) "
            r"from (\S+) port (\d+)", ("user", "ip", "port"), "too_many_attempts", "failure"),
    Message(r"^Disconnecting " + _USER_KIND + r"(.*) (\S+) port (\d+): Too many authentication",
            ("user", "ip", "port"), "too_many_attempts", "failure"),
    Message(r"^pam_unix\(sshd:auth\): authentication failure;.* rhost=(\S*)(?: +user=(\S*))?",
            ("ip", "user"), "pam_failure", "failure"),
    Message(r"^Disconnected from user (.*) (\S+) port (\d+)", ("user", "ip", "port"),
            "logout", None),
    Message(r"^Disconnected from " + _USER_KIND + r"(.*) (\S+) port (\d+)",
            ("user", "ip", "port"), "disconnect", None),
    Message(r"^Disconnected from (\S+) port (\d+)", ("ip", "port"), "disconnect", None),
    Message(r"^Connection (?:closed|reset) by " + _USER_KIND + r"(.*) (\S+) port (\d+)",
            ("user", "ip", "port"), "disconnect", None),
    Message(r"^Connection (?:closed|reset) by (\S+) port (\d+)", ("ip", "port"),
            "disconnect", None),
    Message(r"^Received disconnect from (\S+) port (\d+):", ("ip", "port"), "disconnect", None),
    Message(r"^Connection from (\S+) port (\d+) on (\S+) port (\d+)",
            ("ip", "port", "dip", "dport"), "connect", None),
    Message(_LEVEL + r"(?:kex_exchange_identification: )?"
            r"Did not receive identification string from (\S+)(?: port (\d+))?",
            ("ip", "port"), "no_identification", "failure"),
    Message(_LEVEL + r"banner exchange: Connection from (\S+) port (\d+):", ("ip", "port"),
            "bad_banner", "failure"),
    Message(r"^Unable to negotiate with (\S+) port (\d+):", ("ip", "port"),
            "negotiation_failed", "failure"),
    Message(_LEVEL + r"Timeout before authentication for (\S+) port (\d+)", ("ip", "port"),
            "timeout", "failure"),
    Message(r"^ssh_dispatch_run_fatal: Connection from (?:" + _USER_KIND + r"(.*) )?"
            r"(\S+) port (\d+):", ("user", "ip", "port"), "protocol_error", "failure"),
    Message(r"^Magic value check failed \(\d+\) on obfuscated handshake from (\S+) port (\d+)",
            ("ip", "port"), "protocol_error", "failure"),
    Message(r"^refused connect from \S* \(([^)]*)\)", ("ip",), "refused", "failure"),
)  # fmt: skip

_STRUCT: Final = "STRUCT(" + ", ".join(f"{f} VARCHAR" for f in FIELDS) + ")"

_ENVELOPE_RE: Final = re.compile(syslog.bsd_iso_pattern(r"(.*)"))
_RFC5424_RE: Final = re.compile(syslog.rfc5424_pattern(r"(.*)").replace(r"\x{FEFF}", "\ufeff"))


def syslog_program(line: str) -> str | None:
    """The program tag of one syslog line (sniffing only: a handful of lines)."""
    match = _ENVELOPE_RE.match(line) or _RFC5424_RE.match(line)
    return match.group(3) if match else None


def sniff_programs(sample: Sequence[str], programs: Sequence[str]) -> bool:
    """True when at least half of ``sample`` (and one line) comes from ``programs``."""
    try:
        hits = sum(1 for line in sample if syslog_program(line[:65536]) in programs)
        return hits > 0 and hits * 2 >= len(sample)
    except Exception:  # a sniffer must never stop format detection
        return False


def _extract(message: Message, text: str) -> str:
    names = "[" + ", ".join(f"'{g}'" for g in message.groups) + "]"
    # Fields the message lacks become '' like an empty group, so all branches match.
    fillers = "".join("()" for f in FIELDS if f not in message.groups)
    pattern = message.pattern + fillers
    all_names = names[:-1] + "".join(f", '{f}'" for f in FIELDS if f not in message.groups) + "]"
    return f"CAST(regexp_extract({text}, {lit(pattern)}, {all_names}) AS {_STRUCT})"


def messages_sql(text: str) -> tuple[str, str]:
    """SQL for the matching message's index (``kind``) and its fields (``f``).

    The tests are DFA-only ``regexp_matches`` (fast); only the one pattern
    that matched extracts its groups.
    """
    kind = " ".join(
        f"WHEN regexp_matches({text}, {lit(m.pattern)}) THEN {i}" for i, m in enumerate(MESSAGES)
    )
    fields = " ".join(f"WHEN {i} THEN {_extract(m, text)}" for i, m in enumerate(MESSAGES))
    return f"CASE {kind} END", f"CASE kind {fields} END"


def _case(values: Sequence[str | None]) -> str:
    whens = " ".join(
        f"WHEN {i} THEN {lit(v) if v is not None else 'NULL'}" for i, v in enumerate(values)
    )
    return f"CASE kind {whens} END"


class SshdParser(syslog.EnvelopedParser):
    """OpenSSH server lines: logins, failures, invalid users, disconnects, pre-auth noise."""

    name = "sshd"
    dataset = "sshd"
    table = "auth"
    programs: ClassVar[tuple[str, ...]] = SSHD_PROGRAMS

    @classmethod
    def sniff(cls, sample: Sequence[str]) -> bool:
        return sniff_programs(sample, cls.programs)

    def parse(self, lines: pa.Table) -> Parsed:
        k = syslog
        kind, fields = messages_sql(k.MESSAGE)
        programs = ", ".join(lit(p) for p in self.programs)
        sql = f"""
        WITH lines AS (
            SELECT log_line, _row, line, regexp_full_match(line, '\\s*') AS skip FROM {{view}}
        ),
        -- rsyslog's "message repeated N times: [ msg]": msg, N times.
        env AS ({self.envelope.select_sql("lines", repeats=True)}),
        kinds AS (
            SELECT *, CASE WHEN {k.PROGRAM} IN ({programs}) THEN {kind} END AS kind
            FROM env
        ),
        cut AS (SELECT *, {fields} AS f FROM kinds)
        SELECT log_line, _row, skip, {k.TIME}, {k.MONTH}, {k.DAY}, {k.TOD},
               {k.HOST} AS observer_name,
               f.ip AS source_raw,
               f.dip AS destination_raw,
               CAST(TRY_CAST(nullif(f.port, '') AS USMALLINT) AS INTEGER) AS source_port,
               CAST(TRY_CAST(nullif(f.dport, '') AS USMALLINT) AS INTEGER) AS destination_port,
               nullif(f.user, '') AS user_name,
               nullif(f.method, '') AS auth_method,
               {_case([m.action for m in MESSAGES])} AS event_action,
               {_case([m.outcome for m in MESSAGES])} AS event_outcome,
               'sshd' AS service_name,
               {REPEAT},
               CASE WHEN {k.KIND} IS NULL THEN {lit(NOT_SYSLOG)}
                    WHEN {k.PROGRAM} IS NULL OR {k.PROGRAM} NOT IN ({programs})
                        THEN {lit(NOT_SSHD)}
                    WHEN kind IS NULL THEN {lit(NO_CLIENT)}
               END AS reason
        FROM cut
        """  # noqa: S608 - constant patterns and a generated view name only
        return run_batch(self.ctx.con, lines, sql, {}, self.envelope)
