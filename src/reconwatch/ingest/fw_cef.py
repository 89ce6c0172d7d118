"""ArcSight CEF and IBM QRadar LEEF events, bare or in syslog (``--format cef`` / ``leef``).

CEF: ``CEF:0|Vendor|Product|Version|SignatureID|Name|Severity|ext``, where the
extension is ``key=value`` pairs separated by spaces (a value runs to the next
`` key=``; ``\\=`` and ``\\|`` are escapes). LEEF 1.0:
``LEEF:1.0|Vendor|Product|Version|EventID|attrs`` with tab-separated
``key=value`` attributes; LEEF 2.0 adds a delimiter field before the attributes
(one character, or its hex code such as ``x09`` / ``^``).

Both are generic carriers: the keys read are the network ones (CEF ``src``,
``dst``, ``spt``, ``dpt``, ``proto``, ``act``, ``rt``/``end``/``start``,
``dvchost``; LEEF ``src``, ``dst``, ``srcPort``, ``dstPort``, ``proto``,
``action``, ``devTime``), and a record without source or destination is
rejected (``network`` needs both). The action word is read by keywords:
deny/block -> denied, drop -> dropped, reject/reset -> rejected,
allow/accept/permit/pass -> allowed; an event without one keeps a null action.
Time: ``rt`` / ``devTime`` (epoch milliseconds or ``MMM dd yyyy HH:mm:ss``
with optional ``.SSS`` and zone: ``GMT+02:00``, ``+0200`` and ``UTC`` are
applied, no zone means UTC, the CEF default for an agent that normalised it,
and a zone abbreviation such as ``CEST``, which several zones share, is not
guessed: the syslog envelope's stamp is used, or, on a line without one, the
stamp read in ``syslog.timezone``), else the syslog envelope's stamp.

Whom a row blames: the header must start the line or the syslog message
(``anchored``): a ``CEF:0|...|src=...`` further in is text another program
logged (a requested URL, a user name), rejected as not at the start. An event
naming ``src`` or ``dst`` twice is rejected: a producer that left an ``=`` (or
LEEF's delimiter) unescaped in a value an outsider wrote would give the
second one, and which is the device's cannot be told.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import ClassVar, Final

import pyarrow as pa

from reconwatch.ingest import syslog
from reconwatch.ingest.base import Parsed
from reconwatch.ingest.fw_common import (
    INVALID_PORT,
    bad_port_sql,
    local_to_utc_params,
    local_to_utc_sql,
    outcome_sql,
    ports_sql,
    sniff_share,
    transport_sql,
)
from reconwatch.ingest.linesql import lit, run_batch

NOT_CEF: Final = "not a CEF event"
NOT_LEEF: Final = "not a LEEF event"
MISSING_ADDRESS: Final = "missing source or destination address"
INVALID_PROTOCOL: Final = "invalid protocol"

#: CEF header: version, vendor, product, version, signature id, name, severity, extension.
CEF_HEADER: Final = (
    r"CEF:(\d+)\|((?:[^|\\]|\\.)*)\|((?:[^|\\]|\\.)*)\|(?:[^|\\]|\\.)*\|"
    r"((?:[^|\\]|\\.)*)\|((?:[^|\\]|\\.)*)\|(?:[^|\\]|\\.)*\|(.*)$"
)
LEEF_HEADER: Final = r"LEEF:([12]\.0)\|((?:[^|])*)\|([^|]*)\|[^|]*\|([^|]*)\|(.*)$"

NOT_AT_START: Final = "{} header not at the start of the message"
REPEATED_KEY: Final = "source or destination key named twice"


#: The words syslog headers are made of, by shape: a stamp (BSD, perhaps with
#: its year, or ISO), a facility and level (``local4.info``, ``<local0.info>``),
#: a host (no quote, ``=``, ``|`` or angle bracket, not ending in ``:``); the
#: program's tag is ``syslog.TAG``.
_STAMP: Final = (
    r"(?:[A-Z][a-z]{2} +\d{1,2}(?: \d{4})? \d{2}:\d{2}:\d{2}(?:\.\d{1,9})?"
    r"|\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:Z|[+-]\d{2}:?\d{2})?)"
)
_FACILITY: Final = r"(?:<[a-z0-9]+\.[a-z]+>|[a-z0-9]+\.[a-z]+)"
_HOST: Final = r'[^\s"=|<>]*[^\s"=|<>:]'
#: One sender's (or relay's) header: ``<PRI>stamp [facility] host [facility]``.
_ENVELOPE: Final = rf"{syslog.PRI}{_STAMP}\s+(?:{_FACILITY}\s+)?{_HOST}\s+(?:{_FACILITY}\s+)?"


def anchored(marker: str) -> str:
    """Where a CEF or LEEF header may start: the line (after a ``<PRI>``, or a
    host alone), the message after one or more syslog headers (a relay's
    before the sender's; a stamp with its year, NetScaler's ``<local0.info>``
    before its address, a facility word) and perhaps a program's tag
    (``prog[1]: ``, F5's ``ASM:``), or after an RFC 5424 header and its
    structured data. Each part is matched by its shape, never as "any word":
    in another program's line the header stands in its message, after words
    no header is made of (``sshd[1]: Invalid user CEF:0|...``, an RFC 5424
    ``sshd 1234 - - Invalid user CEF:0|...``, MikroTik's ``system,error login
    failure for user CEF:0|...``), and its ``src`` would be an outsider's. The
    first marker of a real event is its own: the header's ``|`` end any match
    before a later one.
    """
    rfc5424 = rf"{syslog.PRI}1 \S+ \S+ \S+ \S+ \S+ {syslog.STRUCTURED_DATA}\s+\x{{FEFF}}?"
    headers = (
        rf"(?:(?:{_ENVELOPE}){{1,4}}|{syslog.PRI}(?:{_HOST}\s+(?:{_FACILITY}\s+)?)?)"
        rf"(?:{syslog.TAG}\s*)?"
    )
    return rf"^\s*(?:{rfc5424}|{headers}){marker}"


def repeated_sql(keys: str, names: Sequence[str]) -> str:
    """SQL: TRUE when the key list ``keys`` holds one of ``names`` twice.

    A producer that leaves an ``=`` (CEF) or the delimiter (LEEF) unescaped in
    a value an outsider wrote (a URL, a user agent) makes a second ``src=``:
    which one the device meant cannot be told, so the event is rejected."""
    return " OR ".join(f"len(list_filter({keys}, lambda x: x = {lit(n)})) > 1" for n in names)


#: Keys whose value decides whom a row blames (the same in CEF and LEEF).
BLAME_KEYS: Final = ("src", "dst")
CEF_AT_START: Final = anchored(r"CEF:\d+\|")
LEEF_AT_START: Final = anchored(r"LEEF:[12]\.0\|")

_SNIFF_CEF: Final = re.compile(r"CEF:\d+\|[^|]*\|[^|]*\|[^|]*\|[^|]*\|[^|]*\|[^|]*\|")
_SNIFF_LEEF: Final = re.compile(r"LEEF:[12]\.0\|[^|]*\|[^|]*\|[^|]*\|[^|]*\|")


def action_sql(text: str) -> str:
    """``event_action`` from a vendor's free action word, by keyword."""
    word = f"lower(coalesce({text}, ''))"
    return f"""CASE
        WHEN regexp_matches({word}, 'deny|denied|block') THEN 'denied'
        WHEN contains({word}, 'drop') THEN 'dropped'
        WHEN regexp_matches({word}, 'reject|reset') THEN 'rejected'
        WHEN regexp_matches({word}, 'allow|accept|permit|pass') THEN 'allowed'
    END"""


#: ``MMM dd yyyy HH:mm:ss[.SSS][ zzz]``: the stamp, then the zone CEF allows after it.
CEF_STAMP: Final = r"^([A-Z][a-z]{2} \d{1,2} \d{4} \d{2}:\d{2}:\d{2})(?:\.\d{1,9})?(?: (.+))?$"


def _stamp_parts(text: str) -> tuple[str, str]:
    """SQL: a ``CEF_STAMP``'s wall clock (``MMM dd yyyy HH:mm:ss``) and its zone text."""
    return (
        f"regexp_extract({text}, {lit(CEF_STAMP)}, 1)",
        f"regexp_extract({text}, {lit(CEF_STAMP)}, 2)",
    )


def time_sql(text: str) -> str:
    """A naive UTC TIMESTAMP from epoch milliseconds or ``MMM dd yyyy HH:mm:ss[.SSS][ zzz]``.

    The zone (``zzz``, Java's: ``GMT+02:00``, ``+0200``, ``UTC``) is applied;
    without one the stamp is UTC. A zone named otherwise (``CEST``, ``PST``:
    abbreviations several zones share) gives NULL, so that the envelope's
    stamp is used rather than a time off by the zone's offset
    (``abbreviated_sql`` reads it when there is no envelope).
    """
    local, zone = _stamp_parts(text)
    offset = f"""CASE WHEN {zone} IN ('', 'UTC', 'GMT', 'Z') THEN '+0000'
                     WHEN regexp_full_match({zone}, '(?:GMT|UTC)?[+-]\\d{{2}}:?\\d{{2}}')
                         THEN replace(replace({zone}, 'GMT', ''), 'UTC', '') END"""
    zoned = f"try_strptime({local} || ' ' || ({offset}), '%b %d %Y %H:%M:%S %z')"
    return f"""CASE
        WHEN regexp_full_match({text}, '\\d{{12,14}}')
            THEN CAST(epoch_ms(TRY_CAST({text} AS BIGINT)) AS TIMESTAMP)
        WHEN regexp_matches({text}, {lit(CEF_STAMP)}) THEN timezone('UTC', {zoned})
    END"""


def abbreviated_sql(text: str, timezone: str) -> str:
    """SQL: a ``MMM dd yyyy HH:mm:ss zzz`` stamp whose zone is an abbreviation
    (``CEST``), read as the wall clock of the configured ``timezone`` (bound as
    ``$cef_tz``), as every stamp without a usable zone is; NULL otherwise. For
    a line without a syslog envelope (an ArcSight Logger export): rejecting it
    would lose the event for a zone the site's clock most likely wrote."""
    wall, zone = _stamp_parts(text)
    local = f"try_strptime({wall}, '%b %d %Y %H:%M:%S')"
    utc = local_to_utc_sql(local, timezone, "cef_tz")
    return f"CASE WHEN regexp_full_match({zone}, '[A-Za-z]{{2,6}}') THEN {utc} END"


#: Where a CEF extension's next pair starts: spaces, a key, '='. Values may hold
#: spaces; an '=' inside a value is escaped (``\=``), so it never follows a key.
CEF_PAIR_START: Final = r"\s+([A-Za-z0-9_.\[\]]+=)"


def _cef_key(name: str) -> str:
    """SQL: a CEF extension value, unescaped; '' when absent.

    The extension is split once into ``key=value`` tokens (``cef_toks``, with
    their keys in ``cef_keys``), and each key read is a list lookup.
    """
    token = f"coalesce(cef_toks[list_position(cef_keys, {lit(name)})], '')"
    value = f"trim(substr({token}, {len(name) + 2}))"
    return f"regexp_replace({value}, '\\\\([\\\\=|])', '\\1', 'g')"


def _leef_key(name: str) -> str:
    """SQL: a LEEF attribute value from the tab-split ``leef_toks``; '' when absent."""
    token = f"coalesce(leef_toks[list_position(leef_keys, {lit(name)})], '')"
    return f"substr({token}, {len(name) + 2})"


class _KeyedParser(syslog.EnvelopedParser):
    """Shared query tail: network columns from source/destination/ports/proto/action/time."""

    table = "network"
    programs: ClassVar[tuple[str, ...]] = ()

    def _params(self) -> dict[str, object]:
        return local_to_utc_params(self.ctx.config.syslog.timezone, "cef_tz")

    def _tail(self, source: str, not_mine: str) -> str:
        k = syslog
        return f"""
        SELECT log_line, _row, skip, {k.TIME}, {k.MONTH}, {k.DAY}, {k.TOD},
               coalesce({time_sql("t_own")},
                        CASE WHEN {k.TIME} IS NULL AND {k.MONTH} IS NULL THEN
                            {abbreviated_sql("t_own", self.ctx.config.syslog.timezone)} END)
                   AS timestamp,
               coalesce(nullif(o_host, ''), {k.HOST}) AS observer_name,
               {lit(self.dataset)} AS event_dataset,
               src AS source_raw, dst AS destination_raw,
               {ports_sql("spt", "dpt")},
               network_transport,
               nullif(name, '') AS log_prefix,
               event_action,
               {outcome_sql("event_action")} AS connection_outcome,
               nullif(act, '') AS connection_state,
               CASE WHEN NOT mine THEN {lit(not_mine)}
                    WHEN NOT at_start THEN {lit(NOT_AT_START.format(self.name.upper()))}
                    WHEN repeated THEN {lit(REPEATED_KEY)}
                    WHEN src = '' OR dst = '' THEN {lit(MISSING_ADDRESS)}
                    WHEN proto <> '' AND network_transport IS NULL THEN {lit(INVALID_PROTOCOL)}
                    WHEN {bad_port_sql("spt")} OR {bad_port_sql("dpt")} THEN {lit(INVALID_PORT)}
               END AS reason
        FROM (SELECT *, {transport_sql("proto", "proto")} AS network_transport,
                        {action_sql("act")} AS event_action
              FROM {source})
        """  # noqa: S608 - constant patterns and relation names of ours only


class CefParser(_KeyedParser):
    """ArcSight Common Event Format: firewall events from any vendor that speaks it."""

    name = "cef"
    dataset = "cef"
    #: ``host CEF:0|...``: the envelope reads ``CEF`` as the program tag.
    programs: ClassVar[tuple[str, ...]] = ("CEF",)

    @classmethod
    def sniff(cls, sample: Sequence[str]) -> bool:
        return sniff_share(sample, _SNIFF_CEF)

    def parse(self, lines: pa.Table) -> Parsed:
        sql = f"""
        WITH lines AS (
            SELECT log_line, _row, line, regexp_full_match(line, '\\s*') AS skip FROM {{view}}
        ),
        env AS ({self.envelope.select_sql("lines")}),
        h AS (
            SELECT *, regexp_extract(line, {lit(CEF_HEADER)},
                                     ['v', 'vendor', 'product', 'sig', 'name', 'ext']) AS h
            FROM env
        ),
        c AS (
            SELECT *, h.v <> '' AS mine, h.ext AS ext, h.name AS name,
                   regexp_matches(line, {lit(CEF_AT_START)}) AS at_start
            FROM h
        ),
        toks AS (
            SELECT *, string_split(regexp_replace(' ' || ext, {lit(CEF_PAIR_START)},
                                                  chr(1) || '\\1', 'g'), chr(1)) AS cef_toks
            FROM c
        ),
        keyed AS (
            SELECT *, list_transform(cef_toks, lambda x: split_part(x, '=', 1)) AS cef_keys
            FROM toks
        ),
        kv AS (
            SELECT *, {_cef_key("src")} AS src, {_cef_key("dst")} AS dst,
                   {_cef_key("spt")} AS spt, {_cef_key("dpt")} AS dpt,
                   {_cef_key("proto")} AS proto, {_cef_key("act")} AS act,
                   coalesce(nullif({_cef_key("rt")}, ''), nullif({_cef_key("end")}, ''),
                            {_cef_key("start")}) AS t_own,
                   {_cef_key("dvchost")} AS o_host,
                   {repeated_sql("cef_keys", BLAME_KEYS)} AS repeated
            FROM keyed
        )
        {self._tail("kv", NOT_CEF)}
        """  # noqa: S608 - constant patterns and a generated view name only
        return run_batch(self.ctx.con, lines, sql, self._params(), self.envelope)


class LeefParser(_KeyedParser):
    """IBM QRadar Log Event Extended Format 1.0 and 2.0."""

    name = "leef"
    dataset = "leef"
    programs: ClassVar[tuple[str, ...]] = ("LEEF",)

    @classmethod
    def sniff(cls, sample: Sequence[str]) -> bool:
        return sniff_share(sample, _SNIFF_LEEF)

    def parse(self, lines: pa.Table) -> Parsed:
        # LEEF 2.0's delimiter field is log text: it is turned into a tab with
        # replace(), never into a pattern. A hex code (x5E, 0x5E) names the character.
        sql = f"""
        WITH lines AS (
            SELECT log_line, _row, line, regexp_full_match(line, '\\s*') AS skip FROM {{view}}
        ),
        env AS ({self.envelope.select_sql("lines")}),
        h AS (
            SELECT *, regexp_extract(line, {lit(LEEF_HEADER)},
                                     ['v', 'vendor', 'product', 'name', 'rest']) AS h
            FROM env
        ),
        d AS (
            SELECT *, h.v <> '' AS mine, h.name AS name,
                   regexp_matches(line, {lit(LEEF_AT_START)}) AS at_start,
                   CASE WHEN h.v = '2.0' THEN regexp_extract(h.rest, '^([^|]*)\\|(.*)$',
                                                             ['delim', 'attrs']) END AS l2
            FROM h
        ),
        a AS (
            SELECT *,
                   CASE WHEN l2 IS NULL OR l2.delim = '' AND l2.attrs = '' THEN h.rest
                        WHEN regexp_full_match(l2.delim, '(?:0?[xX])([0-9A-Fa-f]{{2}})')
                            THEN replace(l2.attrs, chr(CAST(TRY_CAST('0x' || right(l2.delim, 2)
                                 AS INTEGER) AS INTEGER)), chr(9))
                        WHEN length(l2.delim) = 1 THEN replace(l2.attrs, l2.delim, chr(9))
                        ELSE l2.attrs END AS attrs
            FROM d
        ),
        toks AS (SELECT *, string_split(attrs, chr(9)) AS leef_toks FROM a),
        keyed AS (
            SELECT *, list_transform(leef_toks, lambda x: split_part(x, '=', 1)) AS leef_keys
            FROM toks
        ),
        kv AS (
            SELECT *, {_leef_key("src")} AS src, {_leef_key("dst")} AS dst,
                   {_leef_key("srcPort")} AS spt, {_leef_key("dstPort")} AS dpt,
                   {_leef_key("proto")} AS proto, {_leef_key("action")} AS act,
                   {_leef_key("devTime")} AS t_own, '' AS o_host,
                   {repeated_sql("leef_keys", BLAME_KEYS)} AS repeated
            FROM keyed
        )
        {self._tail("kv", NOT_LEEF)}
        """  # noqa: S608 - constant patterns and a generated view name only
        return run_batch(self.ctx.con, lines, sql, self._params(), self.envelope)
