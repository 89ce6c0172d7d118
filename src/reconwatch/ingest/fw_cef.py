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
with optional ``.SSS``; no zone means UTC, the CEF default for an agent that
normalised it), else the syslog envelope's stamp.
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


def time_sql(text: str) -> str:
    """A naive UTC TIMESTAMP from epoch milliseconds or ``MMM dd yyyy HH:mm:ss[.SSS]``."""
    stamp = lit(r"^[A-Z][a-z]{2} \d{1,2} \d{4} \d{2}:\d{2}:\d{2}")
    return f"""CASE
        WHEN regexp_full_match({text}, '\\d{{12,14}}')
            THEN CAST(epoch_ms(TRY_CAST({text} AS BIGINT)) AS TIMESTAMP)
        WHEN regexp_matches({text}, {stamp})
            THEN try_strptime(regexp_extract({text}, {stamp}), '%b %d %Y %H:%M:%S')
    END"""


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

    def _tail(self, source: str, not_mine: str) -> str:
        k = syslog
        return f"""
        SELECT log_line, _row, skip, {k.TIME}, {k.MONTH}, {k.DAY}, {k.TOD},
               {time_sql("t_own")} AS timestamp,
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
            SELECT *, h.v <> '' AS mine, h.ext AS ext, h.name AS name FROM h
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
                   {_cef_key("dvchost")} AS o_host
            FROM keyed
        )
        {self._tail("kv", NOT_CEF)}
        """  # noqa: S608 - constant patterns and a generated view name only
        return run_batch(self.ctx.con, lines, sql, {}, self.envelope)


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
                   {_leef_key("devTime")} AS t_own, '' AS o_host
            FROM keyed
        )
        {self._tail("kv", NOT_LEEF)}
        """  # noqa: S608 - constant patterns and a generated view name only
        return run_batch(self.ctx.con, lines, sql, {}, self.envelope)
