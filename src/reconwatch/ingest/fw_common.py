"""SQL pieces and helpers shared by the firewall and flow log parsers (``fw_*``).

Every firewall parser writes one DuckDB query per batch and runs it with
``linesql.run_batch`` (slices on several cursors, RFC 3164 years, addresses
normalised per distinct value). What they share is how a vendor's verdict
becomes ``event_action`` / ``connection_outcome`` (the same as netfilter's:
denied, dropped and rejected fail; allowed succeeds), how a protocol becomes
``network_transport``, and how one batch's rows are split between ``network``
and ``alert`` (threat logs).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Final

import pyarrow as pa
import pyarrow.compute as pc

from reconwatch.ingest.base import Parsed, Parser
from reconwatch.ingest.linesql import lit
from reconwatch.ingest.syslog import UTC_NAMES as SYSLOG_UTC_NAMES

NOT_SYSLOG: Final = "not a syslog line"
INVALID_PORT: Final = "invalid port"
MISSING_DESTINATION: Final = "missing destination address"
UNKNOWN_ACTION: Final = "unknown action"

#: Column a query sets to TRUE for rows of the ``alert`` table.
ALERT_FLAG: Final = "_alert"

#: Sniffing reads at most this much of a line: the markers sit at its start.
SNIFF_CHARS: Final = 4096


def outcome_sql(action: str) -> str:
    """``connection_outcome`` from an ``event_action`` expression (as netfilter does)."""
    return (
        f"CASE WHEN {action} = 'allowed' THEN 'succeeded' "
        f"WHEN {action} IN ('denied', 'dropped', 'rejected') THEN 'failed' END"
    )


def port_sql(text: str) -> str:
    """An INTEGER port from text; NULL for '' or NULL, NULL too for a bad value
    (pair with ``bad_port_sql`` to reject those)."""
    return f"CAST(TRY_CAST(nullif({text}, '') AS USMALLINT) AS INTEGER)"


#: Transports whose packets carry ports.
PORTED: Final = "('tcp', 'udp', 'sctp')"


def ports_sql(source: str, destination: str, transport: str = "network_transport") -> str:
    """The ``source_port`` and ``destination_port`` columns (a SELECT list
    part): ``port_sql`` of each where ``transport`` carries ports, else NULL."""
    return (
        f"CASE WHEN {transport} IN {PORTED} THEN {port_sql(source)} END AS source_port, "
        f"CASE WHEN {transport} IN {PORTED} THEN {port_sql(destination)} END AS destination_port"
    )


def bad_port_sql(text: str) -> str:
    """TRUE when ``text`` is given but is not a port number 0..65535."""
    return (
        f"(coalesce({text}, '') <> '' AND (NOT regexp_full_match({text}, '[0-9]{{1,5}}') "
        f"OR TRY_CAST({text} AS USMALLINT) IS NULL))"
    )


def transport_sql(number: str, name: str = "NULL") -> str:
    """``network_transport`` from an IANA protocol number and/or a protocol name.

    Names are lower-cased (``TCP`` -> ``tcp``); ICMPv6 spellings become
    ``ipv6-icmp`` as in the rest of the lake; an unnamed number keeps its digits,
    except the common ones, which get their names so that detections compare
    like with like.
    """
    return f"""CASE
        WHEN lower({name}) IN ('icmpv6', 'ipv6-icmp', 'icmp6') OR {number} = '58' THEN 'ipv6-icmp'
        WHEN regexp_full_match({name}, '[A-Za-z][A-Za-z0-9_-]{{0,15}}') THEN lower({name})
        WHEN {number} = '6' THEN 'tcp' WHEN {number} = '17' THEN 'udp'
        WHEN {number} = '1' THEN 'icmp'
        WHEN regexp_full_match({number}, '[0-9]{{1,3}}')
            THEN CAST(TRY_CAST({number} AS UTINYINT) AS VARCHAR)
    END"""


def case_map(expr: str, mapping: dict[str, str], default: str = "NULL") -> str:
    """A CASE mapping constant keys of ours to constant values (no log text in SQL)."""
    whens = " ".join(f"WHEN {lit(k)} THEN {lit(v)}" for k, v in mapping.items())
    return f"CASE {expr} {whens} ELSE {default} END"


def split_alerts(parsed: Parsed) -> Parsed:
    """Move rows flagged ``ALERT_FLAG`` to ``other_tables['alert']``; drop the flag."""
    rows = parsed.rows
    if ALERT_FLAG not in rows.column_names:
        return parsed
    flag = pc.fill_null(rows.column(ALERT_FLAG), False)
    alerts = rows.filter(flag).drop_columns([ALERT_FLAG])
    network = rows.filter(pc.invert(flag)).drop_columns([ALERT_FLAG])
    other = {"alert": alerts} if alerts.num_rows else {}
    return Parsed(rows=network, rejects=parsed.rejects, skipped=parsed.skipped, other_tables=other)


def sniff_share(sample: Sequence[str], pattern: re.Pattern[str], share: float = 0.5) -> bool:
    """True when at least ``share`` of the non-blank sample lines (and one) match ``pattern``.

    A sniffer must never raise: anything odd in the sample is a "no".
    """
    try:
        lines = [line for line in sample[:50] if isinstance(line, str) and line.strip()]
        hits = sum(1 for line in lines if pattern.search(line[:SNIFF_CHARS]))
        return hits > 0 and hits >= share * len(lines)
    except Exception:  # a sniffer must never stop format detection
        return False


def extract_struct(text: str, pattern: str, groups: Sequence[str], fields: Sequence[str]) -> str:
    """SQL extracting ``pattern``'s groups (named ``groups``) as a STRUCT of all ``fields``.

    Fields the pattern lacks get an empty group each, so every branch of a CASE
    over several message patterns has the same STRUCT type (all VARCHAR).
    """
    missing = [f for f in fields if f not in groups]
    names = ", ".join(lit(g) for g in [*groups, *missing])
    full = pattern + "()" * len(missing)
    struct = "STRUCT(" + ", ".join(f"{f} VARCHAR" for f in fields) + ")"
    return f"CAST(regexp_extract({text}, {lit(full)}, [{names}]) AS {struct})"


#: Zone names that mean UTC: a wall-clock stamp in them needs no conversion.
UTC_NAMES: Final = SYSLOG_UTC_NAMES


def local_to_utc_sql(local: str, timezone: str, parameter: str) -> str:
    """SQL turning a wall-clock TIMESTAMP of ``timezone`` (bound as ``$parameter``) into UTC.

    Skipped for UTC itself: the ICU conversion costs more than the rest of a
    short line's parse.
    """
    if timezone in UTC_NAMES:
        return local
    return f"timezone('UTC', timezone(${parameter}, {local}))"


def local_to_utc_params(timezone: str, parameter: str) -> dict[str, object]:
    """The query parameters ``local_to_utc_sql(..., timezone, parameter)`` binds."""
    return {} if timezone in UTC_NAMES else {parameter: timezone}


class UnpairedNote:
    """A file's note while lines of a kind its parser skips (``marker``, a
    regex) have met no row of the kind that stands for them: a firewall set
    to log only the skipped half gives no row of that kind at all, which the
    accounting alone would not say. A later batch with such a row takes the
    note back; that one was seen is kept for a later run that reads the grown
    file on (``Parser.learnt`` under ``key``), which does not see it again."""

    def __init__(self, note: str, marker: str, key: str, parser: Parser) -> None:
        self.note = note
        self.marker = marker
        self.key = key
        self.parser = parser
        self.kept = parser.ctx.carried.get(key) == "1"
        self.skipped = False

    def update(self, lines: pa.Table, parsed: Parsed, column: str, value: str) -> None:
        """``lines``: the batch read; ``parsed``: what it gave, of which the rows
        whose ``column`` is ``value`` stand for the skipped kind."""
        notes = self.parser.notes
        rows = parsed.rows
        if not self.kept and column in rows.column_names and rows.num_rows:
            self.kept = bool(pc.any(pc.equal(rows[column], value)).as_py())
        if self.kept:
            self.parser.learnt[self.key] = "1"
        elif not self.skipped and parsed.skipped:
            # The batch's lines are searched only while the note is open and
            # the batch skipped some: never on a file of denials alone.
            said = pc.match_substring_regex(lines["line"], self.marker)
            self.skipped = bool(pc.any(said).as_py())
        noted = self.note in notes
        if self.skipped and not self.kept and not noted:
            notes.append(self.note)
        elif self.kept and noted:
            notes.remove(self.note)
