"""Linux netfilter LOG lines (iptables/nftables ``LOG``, UFW, Proxmox pve-firewall).

The kernel writes one line per logged packet::

    PREFIX IN=eth0 OUT= MAC=... SRC=a DST=b LEN=44 TOS=0x00 PREC=0x00 TTL=43
    ID=25313 [DF] PROTO=TCP SPT=52220 DPT=80 WINDOW=1024 RES=0x00 SYN URGP=0

(IPv6: ``TC=.. HOPLIMIT=.. FLOWLBL=..`` instead of TOS..ID), inside a syslog or
journal envelope (``reconwatch.ingest.syslog``), often after the kernel's
``[uptime]``. Proxmox's pvefw-logger writes the same fields into its own
envelope, ``VMID LEVEL CHAIN dd/Mon/yyyy:HH:MM:SS +zone PREFIX IN=...``, leaves
out empty ``IN=``/``OUT=`` and adds ``SEQ=``/``ACK=`` numbers.

The LOG prefix is free text set by the firewall rule, so it is whatever lies
between the envelope (and uptime) and the first ``key=value``; a line is a
netfilter LOG line when that first key is ``IN`` or ``OUT`` (the kernel always
starts with them). ``event_action`` is read from the prefix with the keywords
of ``config.netfilter.prefix_actions``.

Each batch is one DuckDB query, run on slices of the batch side by side; then
``SyslogEnvelope.resolve`` dates the RFC 3164 stamps (line order matters there)
and Arrow checks the addresses and splits rows from rejects. With the compiled
scanner, the query's result for a plain line (nearly every line of a firewall's
log: see ``assemble_plain``) is assembled from the scanner's columns in Arrow,
and only the batch's other lines go through the query. The packet fields
are defined by short unanchored regexes (``ADDRESSES``, ``TTL_ID``,
``PROTO_PORTS``, ``WINDOW_FLAGS``) whose match covers only that field and its
neighbours; a compiled scanner (``_nffields.c``, see ``with_compiled_fields``)
captures exactly what they capture, in one pass per line, before the query
runs -- and with them what the BSD/ISO syslog envelope regex and ``HEAD_PARTS``
capture -- and computes from those texts what ``TYPED_FIELDS`` specifies in
SQL (numbers, TCP flags, the log prefix, a BSD stamp's parts, canonical
dotted quads, blank lines, the RFC 5424 start) and the RFC 5952 text of
eight-group IPv6 addresses (``FAST_IPV6``); the query runs
the regexes and that SQL itself only when the scanner was not built
(``_regex_fields_sql``). A packet quoted inside an ICMP error
(``[SRC=... PROTO=UDP SPT=...]``) comes after the outer fields, and the
leftmost match is the outer packet's.
"""

from __future__ import annotations

import uuid
import warnings
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from types import ModuleType
from typing import ClassVar, Final

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from reconwatch import schema
from reconwatch.config import NetfilterConfig
from reconwatch.ingest import syslog
from reconwatch.ingest.addresses import CANONICAL_IPV4, normalise_ips
from reconwatch.ingest.base import (
    EMPTY_REJECTS,
    REPEAT,
    ParseContext,
    Parsed,
    Parser,
    ascending,
    kept_rows,
    reject_table,
)
from reconwatch.ingest.slices import map_sliced, run_on, run_sliced

compiled: ModuleType | None
try:
    # The field regexes and TYPED_FIELDS below in one compiled pass (setup.py builds it).
    from reconwatch.ingest import _nffields as compiled
except ImportError:  # installed without a C compiler: DuckDB's regexes cut them
    compiled = None

# Reject reasons: short and fixed, because the run statistics count them by value.
NOT_NETFILTER: Final = "not a netfilter LOG line"
UNKNOWN_ENVELOPE: Final = "netfilter LOG line without a known envelope"
INVALID_TIMESTAMP: Final = "invalid timestamp"
MISSING_FIELDS: Final = "missing SRC, DST or PROTO"
INVALID_SOURCE: Final = "invalid source address"
INVALID_DESTINATION: Final = "invalid destination address"
INVALID_PROTOCOL: Final = "invalid protocol"
INVALID_PORT: Final = "invalid port"
MISSING_PORT: Final = "missing port"

#: The kernel caps a LOG prefix at 127 characters (nftables; iptables at 29), and
#: Proxmox adds a chain name: text far longer before IN= is not a LOG prefix, and
#: is not worth a column in the lake.
MAX_PREFIX_CHARS: Final = 256
#: TCP flag names in the order the schema (and the kernel, and psad) writes them.
TCP_FLAGS: Final = ("CWR", "ECE", "URG", "ACK", "PSH", "RST", "SYN", "FIN")
#: Transports whose header carries ports; a line of these without SPT/DPT is
#: cut short, unless it is a later fragment or the kernel could not read the header.
PORT_TRANSPORTS: Final = ("tcp", "udp", "udplite", "sctp", "dccp")
ICMP_TRANSPORTS: Final = ("icmp", "ipv6-icmp")

#: The start of a message as far as its first ``key=value`` (and ``OUT=`` right
#: after ``IN=``), given to the envelope so its one pass also cuts this part.
HEAD: Final = r"([^=]*=\S*(?: OUT=\S*)?)"
#: Splits that head at its first '=': everything before (prefix and key, e.g.
#: ``[123.4] [UFW BLOCK] IN``), the value, and OUT's value. One-pass and greedy:
#: finding where the key starts is left to suffix tests, which cost less than
#: a lazy group. The prefix so holds no '=': ``XX=eth0 OUT=`` has key ``XX``.
HEAD_PARTS: Final = r"^([^=]*)=(\S*)(?: OUT=(\S*))?"
#: rsyslog's fold of identical lines (``$RepeatedMsgReduction``, on in
#: Debian's and Ubuntu's rsyslog.conf): ``kernel: message repeated 2 times: [
#: [UFW BLOCK] IN=eth0 ...]``, a retransmitted packet logged again (IPv6 has
#: no IP ID to tell them apart). Over the head the envelope cut (the wrapper
#: holds no '=', so it is the head's start): the count and the real head. A
#: line is read so only when it ends with the wrapper's ']' too.
REPEATED_HEAD: Final = r"^message repeated (\d{1,9}) times: \[ ?(.*)$"
#: The kernel's ``[uptime]`` before the prefix (printk time stamps).
UPTIME: Final = r"^\[\s*\d+\.\d+\]"
#: Proxmox pve-firewall: VMID, level, chain, stamp, then the netfilter fields.
PROXMOX: Final = r"^\d+ \d+ (\S+) (\d{2}/[A-Z][a-z]{2}/\d{4}:\d{2}:\d{2}:\d{2} [+-]\d{4}) " + HEAD
ADDRESSES: Final = r" SRC=(\S*) DST=(\S*)"
#: TTL and ID are adjacent in the IPv4 part; IPv6 has HOPLIMIT and no ID.
TTL_ID: Final = r" (?:TTL|HOPLIMIT)=(\d+)(?: ID=(\d+))?"
#: Values captured as any token so that a bad port is rejected, not missed.
PROTO_PORTS: Final = r" PROTO=(\S*)(?: SPT=(\S*) DPT=(\S*))?"
#: The flags stand between WINDOW (and the kernel's RES) and the next key:
#: ``WINDOW=1024 RES=0x00 SYN URGP=0``, Proxmox ``WINDOW=64240 SYN``. Stopping at
#: the next '=' keeps ``ACK=123`` numbers out.
WINDOW_FLAGS: Final = r" WINDOW=\d+(?: RES=0x[0-9A-Fa-f]{2})?[^=]*"

#: The texts the four patterns above capture, as the batch query names them:
#: ADDRESSES' two groups, TTL_ID's two, PROTO_PORTS' three and WINDOW_FLAGS' match;
#: then the syslog envelope's four groups (``syslog.bsd_iso_pattern(HEAD)``:
#: stamp, host, program, head) and HEAD_PARTS' three groups over that head.
FIELD_NAMES: Final = (
    "f_src",
    "f_dst",
    "f_ttl",
    "f_id",
    "f_proto",
    "f_spt",
    "f_dpt",
    "f_window",
    *syslog.PRECUT,
    "h_keypart",
    "h_value",
    "h_out",
)
FIELD_COLUMNS: Final = ", ".join(FIELD_NAMES)


def _lit(text: str) -> str:
    return syslog.sql_literal(text)


def _flags_sql(text: str) -> str:
    """The TCP flags among ``text``'s space-separated tokens, in TCP_FLAGS' order."""
    named = ", ".join(
        f"CASE WHEN contains({text} || ' ', ' {f} ') THEN '{f}' END" for f in TCP_FLAGS
    )
    return f"concat_ws(' ', {named})"


def _prefix_sql(prefix: str) -> str:
    """The log prefix in ``prefix``: without the kernel's ``[uptime]``, trimmed, NULL if empty."""
    return f"""nullif(trim(CASE WHEN starts_with({prefix}, '[')
                            THEN regexp_replace({prefix}, {_lit(UPTIME)}, '')
                            ELSE {prefix} END), '')"""


def _first_key_sql(keypart: str) -> str:
    """The key that ends the head's key part (``IN`` or ``OUT``), NULL if neither."""
    return (
        f"CASE WHEN suffix({keypart}, 'IN') THEN 'IN' WHEN suffix({keypart}, 'OUT') THEN 'OUT' END"
    )


def _prefix0_sql(keypart: str, key: str) -> str:
    """The key part without its key: the prefix as the line gives it."""
    return f"left({keypart}, length({keypart}) - length({key}))"


#: What the batch query reads besides the texts, computed from them (and, for
#: the blank test, from the line): each SQL expression is the specification,
#: and what runs when the scanner is not built; the scanner computes the same
#: in C. Numbers are TRY_CAST's reading (null where none); ports must be 1-5
#: digits; ``f_flags`` names the flags among WINDOW..flags (gated to TCP lines
#: by the query, as is ``n_window``); ``h_prefix`` is the log prefix of a
#: BSD/ISO line's head ('' for none); the ``e_`` columns are the envelope's
#: (``syslog.PRECUT_TYPED``).
TYPED_FIELDS: Final = (
    ("f_flags", _flags_sql("f_window")),
    (
        "h_prefix",
        f"coalesce({_prefix_sql(_prefix0_sql('h_keypart', _first_key_sql('h_keypart')))}, '')",
    ),
    ("n_ttl", "CAST(TRY_CAST(f_ttl AS UTINYINT) AS INTEGER)"),
    ("n_id", "CAST(TRY_CAST(f_id AS USMALLINT) AS INTEGER)"),
    *(
        (
            f"n_{port}",
            f"CASE WHEN regexp_full_match(f_{port}, '[0-9]{{1,5}}') "
            f"THEN CAST(TRY_CAST(f_{port} AS USMALLINT) AS INTEGER) END",
        )
        for port in ("spt", "dpt")
    ),
    (
        "n_window",
        "CAST(TRY_CAST(regexp_extract(f_window, '^ WINDOW=(\\d+)', 1) AS USMALLINT) AS INTEGER)",
    ),
    *syslog.PRECUT_TYPED,
    # A regex, not trim(): RE2 stops at the first other character.
    ("f_blank", "regexp_full_match(line, '\\s*')"),
    ("f_src_v4", f"regexp_full_match(f_src, {_lit(CANONICAL_IPV4)})"),
    ("f_dst_v4", f"regexp_full_match(f_dst, {_lit(CANONICAL_IPV4)})"),
)
TYPED_NAMES: Final = tuple(name for name, _ in TYPED_FIELDS)
#: SRC's and DST's RFC 5952 text when the kernel wrote them as eight full
#: groups, '' otherwise and for IPv4-mapped addresses: what ``FULL_IPV6`` and
#: ``_compress_ipv6`` (the specification) give. Without the scanner they are
#: '' and ``_addresses`` compresses in Arrow.
FAST_IPV6: Final = ("f_src6", "f_dst6")
#: Every column the scanner adds (or ``_regex_fields_sql`` computes), in order.
COMPILED_COLUMNS: Final = (*FIELD_NAMES, *TYPED_NAMES, *FAST_IPV6)


def scanner_matches(module: object) -> bool:
    """Whether a built scanner returns the columns this code names, in order.

    A build from older sources (an editable install whose extension was not
    rebuilt) returns fewer or other columns: it is left unused, and the SQL
    cuts the fields, rather than its columns being misnamed.
    """
    fields = getattr(module, "FIELDS", None)
    names = [name.split("_", 1)[1] for name in COMPILED_COLUMNS]
    return isinstance(fields, tuple) and [field[0] for field in fields] == names


if compiled is not None and not scanner_matches(compiled):
    warnings.warn(
        "the compiled netfilter scanner was built from other sources and is not used "
        "(parsing is slower): reinstall reconwatch to build it again",
        RuntimeWarning,
        stacklevel=1,
    )
    compiled = None


def typed_fields_sql() -> str:
    """``TYPED_FIELDS`` as a select list over a relation with the texts and ``line``."""
    return ", ".join(f"{sql} AS {name}" for name, sql in TYPED_FIELDS)


#: Sniffing looks this far into a line: the fields sit in its first few hundred characters.
_SNIFF_CHARS: Final = 4096


def _looks_like_netfilter(line: str) -> bool:
    """IN= or OUT=, then SRC=, DST= and PROTO=: substring tests, linear on any line."""
    if not isinstance(line, str):
        return False
    head = line[:_SNIFF_CHARS]
    source = head.find(" SRC=")
    if source < 0 or (head.find("IN=", 0, source) < 0 and head.find("OUT=", 0, source) < 0):
        return False
    return head.find(" DST=", source) >= 0 and head.find(" PROTO=", source) >= 0


class NetfilterParser(syslog.EnvelopedParser):
    """Kernel netfilter LOG lines in syslog/journal envelopes, and Proxmox firewall logs."""

    programs: ClassVar[tuple[str, ...]] = ("kernel",)
    name = "netfilter"
    dataset = "netfilter"
    table = "network"

    def __init__(self, ctx: ParseContext) -> None:
        super().__init__(ctx)
        #: Cut the fields with the compiled scanner (when built) or in the query.
        self.compiled = compiled is not None
        #: The batch query's result schema, which plain lines are assembled into.
        self._schema: pa.Schema | None = None

    @classmethod
    def sniff(cls, sample: Sequence[str]) -> bool:
        """True when any sample line is a netfilter LOG line.

        Any, not most: the kernel's packet lines share kern.log and syslog with
        other messages, and the head of such a file is often boot noise.
        """
        try:
            return any(_looks_like_netfilter(line) for line in sample[:50])
        except Exception:  # a sniffer must never stop format detection
            return False

    # -- SQL ----------------------------------------------------------------------

    def _sql(self, view: str, compiled: bool) -> tuple[str, dict[str, object]]:
        """The batch query over ``view``; ``compiled``: the view holds the
        ``COMPILED_COLUMNS`` already (``with_compiled_fields``), else regexes
        cut them and ``TYPED_FIELDS`` computes the rest here."""
        action, params = prefix_action_sql(self.ctx.config.netfilter, "lower(log_prefix)", "nf")
        params.update(self.envelope.params())
        port_transports = ", ".join(_lit(t) for t in PORT_TRANSPORTS)
        icmp = ", ".join(_lit(t) for t in ICMP_TRANSPORTS)
        k = syslog
        fields = view if compiled else _regex_fields_sql(view)
        sql = f"""
        WITH lines AS (
            SELECT log_line, _row, line, {", ".join(COMPILED_COLUMNS)} FROM {fields}
            WHERE NOT f_blank
        ),
        env AS ({self.envelope.select_sql("lines", HEAD, precut=True)}),
        cut AS (
            SELECT log_line, _row, line, {k.KIND}, {k.HOST}, {k.TIME}, {k.MONTH}, {k.DAY},
                   {k.TOD}, {k.MESSAGE},
                   CASE WHEN {k.KIND} IS NULL THEN
                       regexp_extract(line, {_lit(PROXMOX)}, ['chain', 'stamp', 'head'])
                   END AS pve,
                   CASE WHEN suffix(rtrim(line), ']')
                        THEN {k.repeat_sql(k.MESSAGE, REPEATED_HEAD)} END AS rep,
                   f_src, f_dst, f_proto, f_spt, f_dpt, f_window,
                   h_keypart, h_value, h_out, {", ".join(TYPED_NAMES)}, {", ".join(FAST_IPV6)}
            FROM env
        ),
        heads AS (
            SELECT *,
                   coalesce(pve.stamp, '') <> '' AS is_pve,
                   -- Lines in no known envelope get their head cut all the same, to
                   -- tell a netfilter line in a strange envelope from anything else.
                   rep IS NOT NULL AS repeated,
                   CASE WHEN rep IS NOT NULL THEN rep.msg
                        WHEN {k.KIND} IS NOT NULL THEN {k.MESSAGE}
                        WHEN pve.stamp <> '' THEN pve.head
                        ELSE regexp_extract(line, {_lit("^" + HEAD)}, 1) END AS head,
                   CASE WHEN f_proto = 'TCP' THEN f_window END AS wf
            FROM cut
        ),
        parts AS (
            SELECT *,
                   -- The head of a BSD or ISO envelope is split already (with
                   -- a repeat's wrapper in it: that head is split here).
                   CASE WHEN {k.KIND} IN ('bsd', 'iso') AND NOT repeated
                        THEN struct_pack(keypart := h_keypart, value := h_value, out := h_out)
                        ELSE regexp_extract(head, {_lit(HEAD_PARTS)}, ['keypart', 'value', 'out'])
                   END AS hp
            FROM heads
        ),
        keyed AS (
            SELECT *, {_first_key_sql("hp.keypart")} AS first_key FROM parts
        ),
        prefixed AS (
            SELECT *, {_prefix0_sql("hp.keypart", "first_key")} AS prefix0
            FROM keyed
        ),
        fields AS (
            SELECT log_line, _row, {k.KIND}, {k.MONTH}, {k.DAY}, {k.TOD}, is_pve,
                   CASE WHEN repeated THEN {k.repeat_count_sql("rep")} END AS {REPEAT},
                   {k.HOST} AS observer_name,
                   coalesce({k.TIME}, CASE WHEN is_pve THEN timezone('UTC',
                       try_strptime(pve.stamp, '%d/%b/%Y:%H:%M:%S %z')) END) AS {k.TIME},
                   first_key IS NOT NULL AND length(prefix0) <= {MAX_PREFIX_CHARS}
                       AS is_netfilter,
                   CASE WHEN {k.KIND} IN ('bsd', 'iso') AND NOT repeated
                        THEN nullif(h_prefix, '')
                        WHEN is_pve THEN nullif(trim(pve.chain || ' ' || prefix0), '')
                        ELSE {_prefix_sql("prefix0")} END AS log_prefix,
                   CASE first_key WHEN 'IN' THEN nullif(hp.value, '') END AS interface_in,
                   CASE first_key WHEN 'IN' THEN nullif(hp.out, '')
                                  WHEN 'OUT' THEN nullif(hp.value, '') END AS interface_out,
                   f_src AS source_raw,
                   f_dst AS destination_raw,
                   f_src6 AS source_ipv6,
                   f_dst6 AS destination_ipv6,
                   f_src_v4 AS source_canonical,
                   f_dst_v4 AS destination_canonical,
                   f_proto AS proto,
                   CASE f_proto WHEN 'TCP' THEN 'tcp' WHEN 'UDP' THEN 'udp' WHEN 'ICMP' THEN 'icmp'
                        ELSE CASE
                        WHEN lower(f_proto) = 'icmpv6' THEN 'ipv6-icmp'
                        WHEN regexp_full_match(f_proto, '[0-9]{{1,3}}')
                            THEN CAST(TRY_CAST(f_proto AS UTINYINT) AS VARCHAR)
                        WHEN regexp_full_match(f_proto, '[A-Za-z][A-Za-z0-9_-]{{0,15}}')
                            THEN lower(f_proto)
                   END END AS network_transport,
                   f_spt AS spt,
                   f_dpt AS dpt,
                   n_spt,
                   n_dpt,
                   CASE WHEN f_spt = '' AND f_proto <> '' THEN
                       contains(line, ' FRAG:') OR contains(line, ' INCOMPLETE ')
                   END AS no_l4_header,
                   CAST(n_ttl AS SMALLINT) AS ip_ttl,
                   n_id AS ip_id,
                   CASE WHEN wf IS NOT NULL THEN n_window END AS tcp_window,
                   CASE WHEN wf <> '' THEN f_flags END AS flags
            FROM prefixed
        ),
        ported AS (
            SELECT *,
                   CASE WHEN network_transport NOT IN ({icmp}) THEN n_spt END AS source_port,
                   CASE WHEN network_transport NOT IN ({icmp}) THEN n_dpt END AS destination_port,
                   {action} AS event_action
            FROM fields
        )
        SELECT log_line, _row, {k.TIME}, {k.MONTH}, {k.DAY}, {k.TOD},
               source_raw, destination_raw, source_canonical, destination_canonical,
               source_ipv6, destination_ipv6,
               network_transport, source_port, destination_port,
               CASE WHEN network_transport = 'tcp' THEN flags END AS tcp_flags,
               ip_ttl, ip_id, tcp_window, interface_in, interface_out, log_prefix,
               event_action,
               CASE WHEN event_action = 'allowed' THEN 'succeeded' ELSE 'failed' END
                   AS connection_outcome,
               observer_name,
               {REPEAT},
               -- Checked before the time (in Arrow): a line in no known envelope has none.
               CASE WHEN NOT is_netfilter THEN {_lit(NOT_NETFILTER)}
                    WHEN {k.KIND} IS NULL AND NOT is_pve THEN {_lit(UNKNOWN_ENVELOPE)}
                    WHEN source_raw = '' OR destination_raw = '' OR proto = ''
                        THEN {_lit(MISSING_FIELDS)}
               END AS line_reason,
               CASE WHEN network_transport IS NULL THEN {_lit(INVALID_PROTOCOL)}
                    WHEN network_transport IN ({icmp}) THEN NULL
                    WHEN (spt <> '' AND source_port IS NULL)
                      OR (dpt <> '' AND destination_port IS NULL) THEN {_lit(INVALID_PORT)}
                    WHEN network_transport IN ({port_transports}) AND spt = ''
                         AND NOT no_l4_header THEN {_lit(MISSING_PORT)}
               END AS packet_reason
        FROM ported
        """  # noqa: S608 - constant patterns, generated view name; config values are bound
        return sql, params

    # -- parsing --------------------------------------------------------------------

    def parse(self, lines: pa.Table) -> Parsed:
        if lines.num_rows == 0:
            return Parsed(rows=schema.empty(schema.NETWORK), rejects=EMPTY_REJECTS)
        # _row points back into ``lines``, so that the raw text of rejects is
        # taken from the input rather than copied through the query.
        numbered = pa.table(
            {
                "log_line": lines.column("log_line"),
                "_row": pc.indices_nonzero(pc.is_valid(lines.column("log_line"))),
                "line": lines.column("line"),
            }
        )
        sql, params = self._sql(_VIEW, self.compiled)
        con = self.ctx.con
        # Slices run side by side on every core (see ingest/slices.py), each
        # cutting its own fields first when the compiled scanner does it.
        if self.compiled:
            results = self._scan_and_assemble(sql, params, numbered)
        else:
            results = run_sliced(con, sql, params, numbered, _VIEW)
        # Years need every RFC 3164 stamp of the batch in line order: one
        # narrow step over the whole batch, between the two parallel ones.
        timestamps = self.envelope.resolve(con, pa.concat_tables(results))
        pieces, start = [], 0
        for result in results:
            pieces.append(timestamps[start : start + result.num_rows])
            start += result.num_rows
        with ThreadPoolExecutor(len(results)) as pool:
            finished = list(pool.map(partial(self._finish, lines=lines), results, pieces))
        # A slice with a repeat line has a REPEAT column, the others not (null there).
        rows = pa.concat_tables([part.rows for part in finished], promote_options="default")
        rejects = pa.concat_tables([part.rejects for part in finished])
        return Parsed(
            rows=_in_line_order(rows),
            rejects=_in_line_order(rejects),
            skipped=lines.num_rows - start,
        )

    def _scan_and_assemble(
        self, sql: str, params: dict[str, object], numbered: pa.Table
    ) -> list[pa.Table]:
        """The batch query's result, one table per slice: the scanner cuts each
        slice, its plain lines are assembled in Arrow (``assemble_plain``) and
        the batch's other lines go through the query, once for the batch.

        The query's result for a plain line is a renaming of the scanner's
        columns; converting some thirty columns into DuckDB and back cost more
        than the scanner itself, and planning the query costs as much as
        running it over a few hundred lines. Lines the query reads any other
        way (no known envelope, a port missing, a prefix that is not ASCII...)
        still go through it, which stays the one definition; so does a whole
        slice with fewer than ``PLAIN_SHARE`` of its lines plain.
        """
        con = self.ctx.con
        if self._schema is None:
            with con.cursor() as cursor:
                empty = numbered.slice(0, 0)
                self._schema = run_on(
                    sql, params, _VIEW, with_compiled_fields, cursor, empty
                ).schema
        schema = self._schema
        config = self.ctx.config.netfilter
        slices = map_sliced(
            con, numbered, lambda cursor, lines: _scan_slice(lines, config, sql, params, cursor)
        )
        others = [part.others for part in slices if part.others.num_rows]
        queried = pa.table({})
        if others:
            # On slices side by side too when they are many (a kern.log of
            # other kernel messages, Proxmox or RFC 5424 envelopes).
            queried = pa.concat_tables(
                run_sliced(con, sql, params, pa.concat_tables(others), _VIEW)
            )
            if not ascending(queried.column("log_line")):
                queried = queried.sort_by("log_line")
        results, start = [], 0
        for part in slices:
            count = part.others.num_rows
            results.append(part.merged(queried.slice(start, count), schema))
            start += count
        return results

    def _finish(self, result: pa.Table, timestamps: pa.Array, lines: pa.Table) -> Parsed:
        """Check times and addresses, then split rows from rejects (Arrow, no loop per line).

        Reasons in order: what the line is and which fields it lacks, its time,
        its addresses, its protocol and ports; a line gets the first that applies.
        Reason texts are built for the rejected lines only: most lines are good.
        ``lines`` is the whole batch, where the query's ``_row`` points.
        """

        def column(name: str) -> pa.Array:
            return result.column(name).combine_chunks()

        source = _addresses(*(column(f"source_{c}") for c in ("raw", "canonical", "ipv6")))
        destination = _addresses(
            *(column(f"destination_{c}") for c in ("raw", "canonical", "ipv6"))
        )
        checks = [
            column("line_reason"),
            pc.is_null(timestamps),
            pc.is_null(source),
            pc.is_null(destination),
            column("packet_reason"),
        ]
        texts = [None, INVALID_TIMESTAMP, INVALID_SOURCE, INVALID_DESTINATION, None]
        bad = pc.or_(
            pc.or_(pc.is_valid(checks[0]), pc.or_(checks[1], checks[2])),
            pc.or_(checks[3], pc.is_valid(checks[4])),
        )
        # The repeat count only when a line of the slice has one (rarely).
        repeats = column(REPEAT)
        kept = ROW_COLUMNS + ([REPEAT] if repeats.null_count < len(repeats) else [])
        rows = (
            result.select(kept)
            .append_column("timestamp", timestamps)
            .append_column("source_ip", source)
            .append_column("destination_ip", destination)
        )
        rows = kept_rows(rows, pc.invert(bad))
        if rows.num_rows == result.num_rows:
            return Parsed(rows=rows, rejects=EMPTY_REJECTS)
        rejected = pc.filter(column("_row"), bad)
        reasons = []
        for check, text in zip(checks, texts, strict=True):
            check = pc.filter(check, bad)
            if text is not None:
                check = pc.if_else(check, pa.scalar(text), pa.scalar(None, pa.string()))
            reasons.append(check)
        rejects = reject_table(
            pc.take(lines.column("log_line"), rejected),
            pc.coalesce(*reasons),
            pc.take(lines.column("line"), rejected),
        )
        return Parsed(rows=rows, rejects=rejects)


def prefix_action_sql(
    config: NetfilterConfig, lowered_prefix: str, tag: str
) -> tuple[str, dict[str, object]]:
    """``event_action`` in SQL from the lowered prefix expression ``lowered_prefix``:
    the action of the first configured keyword it contains, else the default.

    Keywords and actions are bound parameters named ``{tag}_...`` (config is
    data too); a query holding two of these needs two tags.
    """
    params: dict[str, object] = {f"{tag}_default_action": config.default_action}
    whens = []
    for index, (keyword, action) in enumerate(config.prefix_actions.items()):
        params[f"{tag}_kw_{index}"] = keyword.lower()
        params[f"{tag}_act_{index}"] = action
        whens.append(f"WHEN contains({lowered_prefix}, ${tag}_kw_{index}) THEN ${tag}_act_{index}")
    if not whens:  # no keywords configured: every line takes the default
        return f"${tag}_default_action", params
    return f"CASE {' '.join(whens)} ELSE ${tag}_default_action END", params


def _regex_fields_sql(view: str) -> str:
    """``view`` with the ``COMPILED_COLUMNS`` cut by their patterns and computed
    by ``TYPED_FIELDS`` (no scanner)."""
    stamp, host, program, head = syslog.PRECUT
    return f"""(
      SELECT *, {typed_fields_sql()}, {", ".join(f"'' AS {name}" for name in FAST_IPV6)}
      FROM (
        SELECT *, hp.keypart AS h_keypart, hp.value AS h_value, hp.out AS h_out
        FROM (
            SELECT *, regexp_extract({head}, {_lit(HEAD_PARTS)}, ['keypart', 'value', 'out'])
                   AS hp
            FROM (
                SELECT *, addr.src AS f_src, addr.dst AS f_dst, ttl_id.ttl AS f_ttl,
                       ttl_id.id AS f_id, pp.proto AS f_proto, pp.spt AS f_spt, pp.dpt AS f_dpt,
                       CASE WHEN pp.proto = 'TCP' THEN regexp_extract(line, {_lit(WINDOW_FLAGS)})
                       END AS f_window,
                       env.stamp AS {stamp}, env.host AS {host}, env.program AS {program},
                       env.message AS {head}
                FROM (
                    SELECT *,
                           regexp_extract(line, {_lit(ADDRESSES)}, ['src', 'dst']) AS addr,
                           regexp_extract(line, {_lit(TTL_ID)}, ['ttl', 'id']) AS ttl_id,
                           regexp_extract(line, {_lit(PROTO_PORTS)}, ['proto', 'spt', 'dpt'])
                               AS pp,
                           regexp_extract(line, {_lit(syslog.bsd_iso_pattern(HEAD))},
                                          ['stamp', 'host', 'program', 'message']) AS env
                    FROM {view}
                )
            )
        )
      )
    )"""  # noqa: S608 - constant patterns, generated view name


def with_compiled_fields(lines: pa.Table) -> pa.Table:
    """``lines`` with the ``COMPILED_COLUMNS`` cut and computed by the compiled scanner.

    The same values as the query's regexes and ``TYPED_FIELDS``
    (``_regex_fields_sql``), many times as fast; the scanner releases the GIL,
    so slices run side by side.
    """
    assert compiled is not None
    column = lines.column("line")
    # One chunk (a batch slice) is used as it is: combining would copy it.
    line = column.chunk(0) if column.num_chunks == 1 else column.combine_chunks()
    if line.type != pa.string():
        line = line.cast(pa.string())
    if line.null_count:
        line = pc.fill_null(line, "")  # cut lines are never null; be safe all the same
    _, offsets, data = line.buffers()
    scanned = compiled.scan(offsets, data if data is not None else b"", line.offset, len(line))
    for name, (_, kind), buffers in zip(COMPILED_COLUMNS, compiled.FIELDS, scanned, strict=True):
        if kind == "text":  # offsets and data
            array = pa.Array.from_buffers(
                pa.string(), len(line), [None, *(pa.py_buffer(b) for b in buffers)]
            )
        elif kind in ("number", "time"):  # values and validity
            values, valid = (pa.py_buffer(b) for b in buffers)
            kind_type = pa.int32() if kind == "number" else pa.time64("us")
            array = pa.Array.from_buffers(kind_type, len(line), [valid, values])
        else:  # a bitmap of truths, never null
            array = pa.Array.from_buffers(pa.bool_(), len(line), [None, pa.py_buffer(buffers[0])])
        lines = lines.append_column(name, array)
    return lines


#: The kernel's names of the transports nearly every line has, and the query's.
KNOWN_TRANSPORTS: Final = {
    "TCP": "tcp",
    "UDP": "udp",
    "ICMP": "icmp",
    "ICMPv6": "ipv6-icmp",
    "UDPLITE": "udplite",
    "SCTP": "sctp",
    "DCCP": "dccp",
}


@dataclass(frozen=True)
class _Slice:
    """A scanned slice: every line assembled as if plain, which lines are
    neither plain nor blank (``others_mask``) and their scanned columns
    (``others``), and which are blank; or (``blank`` None) the query's
    result for the whole slice, when few of its lines were plain."""

    assembled: pa.Table
    others_mask: pa.Array | None
    blank: pa.Array | None
    others: pa.Table

    def merged(self, queried: pa.Table, schema: pa.Schema) -> pa.Table:
        """The slice's result: the query's rows (``queried``, the others' in
        line order) in the others' places, blank lines left out as the query
        leaves them out."""
        merged = self.assembled.cast(schema)
        if self.blank is None:
            return merged
        if self.others.num_rows:
            merged = pa.Table.from_arrays(
                [
                    pc.replace_with_mask(
                        merged.column(i).combine_chunks(),
                        self.others_mask,
                        queried.column(i).combine_chunks(),
                    )
                    for i in range(merged.num_columns)
                ],
                schema=schema,
            )
        return merged.filter(pc.invert(self.blank)) if pc.any(self.blank).as_py() else merged


#: A slice with fewer plain lines than this share goes through the query
#: whole: assembling, then replacing most of it, costs more than the query.
PLAIN_SHARE: Final = 0.5


def _scan_slice(
    lines: pa.Table,
    config: NetfilterConfig,
    sql: str,
    params: dict[str, object],
    cursor: duckdb.DuckDBPyConnection,
) -> _Slice:
    scanned = with_compiled_fields(lines)
    plain, transport = plain_lines(scanned)
    if (pc.sum(plain).as_py() or 0) < PLAIN_SHARE * len(plain):
        whole = run_on(sql, params, _VIEW, None, cursor, scanned)
        return _Slice(whole, None, None, scanned.slice(0, 0))
    assembled = _assemble(scanned, plain, transport, config, cursor)
    blank = scanned.column("f_blank").combine_chunks()
    others = pc.and_(pc.invert(plain), pc.invert(blank))
    kept = scanned.filter(others) if pc.any(others).as_py() else scanned.slice(0, 0)
    return _Slice(assembled, others, blank, kept)


def _transports(proto: pa.ChunkedArray) -> pa.ChunkedArray:
    """``network_transport`` as the query reads PROTO's text, null where it
    rejects it and for any PROTO that is not ASCII (``lower`` in SQL is
    Unicode's: such a line is not plain, and the query reads it)."""
    known = pc.take(
        pa.array(list(KNOWN_TRANSPORTS.values())),
        pc.index_in(proto, pa.array(list(KNOWN_TRANSPORTS))),
    )
    if pc.all(pc.is_valid(known)).as_py():
        return known
    # The query's branches, in its order: icmpv6 in any case, 1-3 digits
    # (0-255, leading zeros dropped), a name (lowered).
    lowered = pc.ascii_lower(proto)
    digits = pc.match_substring_regex(proto, r"^[0-9]{1,3}$")
    number = pc.cast(pc.if_else(digits, proto, pa.scalar(None, pa.string())), pa.int16())
    number = pc.if_else(pc.less_equal(number, 255), number, pa.scalar(None, pa.int16()))
    named = pc.match_substring_regex(proto, r"^[A-Za-z][A-Za-z0-9_-]{0,15}$")
    none = pa.scalar(None, pa.string())
    return pc.if_else(
        pc.equal(lowered, "icmpv6"),
        "ipv6-icmp",
        pc.if_else(digits, pc.cast(number, pa.string()), pc.if_else(named, lowered, none)),
    )


def assemble_plain(
    scanned: pa.Table, config: NetfilterConfig, cursor: duckdb.DuckDBPyConnection
) -> tuple[pa.Table, pa.Array]:
    """The query's result for plain lines (``plain_lines``), from the scanner's
    columns, and which lines are plain. Rows of other lines hold nothing
    meaningful. ``cursor`` reads ISO stamps with the envelope's own SQL."""
    plain, transport = plain_lines(scanned)
    return _assemble(scanned, plain, transport, config, cursor), plain


def plain_lines(scanned: pa.Table) -> tuple[pa.Array, pa.ChunkedArray]:
    """Which scanned lines are plain, and ``network_transport`` as the query reads it.

    A plain line is a netfilter LOG line in a BSD or ISO envelope with SRC,
    DST and a protocol the query reads, ports where it needs them and only
    readable ones, and an ASCII prefix: a line the query gives no reason
    (its address and time are checked afterwards, for every line) and reads
    by renaming the scanner's columns. Each condition below names the
    query's branch it stands for.
    """

    def column(name: str) -> pa.ChunkedArray:
        return scanned.column(name)

    keypart = column("h_keypart")
    spt, dpt = column("f_spt"), column("f_dpt")
    transport = _transports(column("f_proto"))
    tests = [
        pc.invert(column("f_blank")),
        # sl_kind 'bsd' or 'iso': a stamp was cut and RFC 5424 is not the envelope.
        pc.invert(column("e_5424")),
        pc.not_equal(column("e_stamp"), ""),
        # is_netfilter: the head's key is IN or OUT, the prefix before it at
        # most MAX_PREFIX_CHARS (bytes here, so never more characters).
        pc.or_(
            pc.and_(
                pc.ends_with(keypart, "IN"),
                pc.less_equal(pc.binary_length(keypart), MAX_PREFIX_CHARS + 2),
            ),
            pc.and_(
                pc.ends_with(keypart, "OUT"),
                pc.less_equal(pc.binary_length(keypart), MAX_PREFIX_CHARS + 3),
            ),
        ),
        # line_reason MISSING_FIELDS.
        pc.not_equal(column("f_src"), ""),
        pc.not_equal(column("f_dst"), ""),
        # packet_reason: INVALID_PROTOCOL (and a PROTO that is not ASCII, which
        # the query may lower otherwise); INVALID_PORT (a port given but not
        # read; ICMP has none); MISSING_PORT (a transport with ports without them).
        pc.is_valid(transport),
        pc.or_(
            pc.is_in(transport, pa.array(ICMP_TRANSPORTS)),
            pc.and_(
                pc.or_(pc.equal(spt, ""), pc.is_valid(column("n_spt"))),
                pc.or_(pc.equal(dpt, ""), pc.is_valid(column("n_dpt"))),
            ),
        ),
        pc.or_(pc.invert(pc.is_in(transport, pa.array(PORT_TRANSPORTS))), pc.not_equal(spt, "")),
        # event_action lowers the prefix: ASCII's lower case is everyone's.
        pc.string_is_ascii(column("h_prefix")),
        # rsyslog's repeat wrapper: the query unwraps it (REPEATED_HEAD).
        pc.invert(pc.starts_with(keypart, "message repeated ")),
    ]
    plain = tests[0]
    for test in tests[1:]:
        plain = pc.and_(plain, test)
    plain = pc.fill_null(plain, False)
    combined = plain.combine_chunks() if isinstance(plain, pa.ChunkedArray) else plain
    return combined, transport


def _assemble(
    scanned: pa.Table,
    plain: pa.Array,
    transport: pa.ChunkedArray,
    config: NetfilterConfig,
    cursor: duckdb.DuckDBPyConnection,
) -> pa.Table:
    """``assemble_plain``'s table, given ``plain_lines``' results."""

    def column(name: str) -> pa.ChunkedArray:
        return scanned.column(name)

    n = scanned.num_rows
    none = pa.scalar(None, pa.string())
    no_int = pa.scalar(None, pa.int32())
    is_in = pc.ends_with(column("h_keypart"), "IN")
    icmp = pc.is_in(transport, pa.array(ICMP_TRANSPORTS))
    # The query reads WINDOW and the flags for the kernel's spelling "TCP" only.
    tcp = pc.equal(column("f_proto"), "TCP")
    prefix = _nullif_empty(column("h_prefix"))
    action = _action(prefix, config)
    host = column("e_host")
    return pa.table(
        {
            "log_line": column("log_line"),
            "_row": column("_row"),
            syslog.TIME: _iso_times(column("e_stamp"), plain, cursor),
            syslog.MONTH: column("e_month"),
            syslog.DAY: column("e_day"),
            syslog.TOD: column("e_tod"),
            "source_raw": column("f_src"),
            "destination_raw": column("f_dst"),
            "source_canonical": column("f_src_v4"),
            "destination_canonical": column("f_dst_v4"),
            "source_ipv6": column("f_src6"),
            "destination_ipv6": column("f_dst6"),
            "network_transport": transport,
            "source_port": pc.if_else(icmp, no_int, column("n_spt")),
            "destination_port": pc.if_else(icmp, no_int, column("n_dpt")),
            "tcp_flags": pc.if_else(
                pc.and_(tcp, pc.not_equal(column("f_window"), "")), column("f_flags"), none
            ),
            "ip_ttl": pc.cast(column("n_ttl"), pa.int16()),
            "ip_id": column("n_id"),
            "tcp_window": pc.if_else(tcp, column("n_window"), no_int),
            "interface_in": pc.if_else(is_in, _nullif_empty(column("h_value")), none),
            "interface_out": pc.if_else(
                is_in, _nullif_empty(column("h_out")), _nullif_empty(column("h_value"))
            ),
            "log_prefix": prefix,
            "event_action": action,
            "connection_outcome": pc.if_else(
                pc.fill_null(pc.equal(action, "allowed"), False), "succeeded", "failed"
            ),
            "observer_name": _nullif_empty(pc.if_else(pc.equal(host, "-"), none, host)),
            REPEAT: pa.nulls(n, pa.int64()),  # a repeat line is never plain
            "line_reason": pa.nulls(n, pa.string()),
            "packet_reason": pa.nulls(n, pa.string()),
        }
    )


def _nullif_empty(values: pa.ChunkedArray) -> pa.ChunkedArray:
    return pc.if_else(pc.equal(values, ""), pa.scalar(None, values.type), values)


def _action(prefix: pa.ChunkedArray, config: NetfilterConfig) -> pa.Array:
    """``prefix_action_sql`` over ASCII prefixes: the first keyword the lowered prefix
    contains names the action, else the default (also for no prefix)."""
    default = pa.scalar(config.default_action, pa.string())
    if not config.prefix_actions:
        return pa.repeat(default, len(prefix))
    # A log has a handful of distinct prefixes: each is read once.
    encoded = pc.dictionary_encode(prefix.combine_chunks())
    distinct = encoded.dictionary
    n = len(distinct)
    lowered = pc.ascii_lower(distinct)
    hits = [pc.match_substring(lowered, keyword.lower()) for keyword in config.prefix_actions]
    actions = pc.case_when(
        pc.make_struct(*hits),
        *(pa.repeat(pa.scalar(act, pa.string()), n) for act in config.prefix_actions.values()),
        pa.repeat(default, n),
    )
    return pc.fill_null(pc.take(actions, encoded.indices), default)


def _iso_times(
    stamps: pa.ChunkedArray, plain: pa.Array, cursor: duckdb.DuckDBPyConnection
) -> pa.Array:
    """The UTC time of the ISO stamps of plain lines as the envelope's SQL
    reads them; null for BSD stamps and other lines."""
    first = pc.utf8_slice_codeunits(stamps, 0, 1)
    iso = pc.invert(pc.and_(pc.greater_equal(first, "A"), pc.less_equal(first, "Z")))
    iso = pc.and_(iso, plain)
    if not pc.any(iso).as_py():
        return pa.nulls(len(stamps), pa.timestamp("us"))
    view = f"iso_stamps_{uuid.uuid4().hex}"
    cursor.register(view, pa.table({"stamp": stamps, "iso": iso}))
    try:
        times = cursor.sql(
            f"SELECT CASE WHEN iso THEN {syslog.ISO_TIME_SQL.format(stamp='stamp')} END "  # noqa: S608
            f"AS t FROM {view}"
        ).to_arrow_table()
    finally:
        cursor.unregister(view)
    return times.column(0)


def _addresses(raw: pa.Array, canonical: pa.Array, ipv6: pa.Array) -> pa.Array:
    """Canonical address text, null where none, for what the query did not already
    recognise as canonical dotted-quad IPv4 (nearly every value): the scanner's
    RFC 5952 text of the kernel's full IPv6 spelling (``ipv6``, '' where it gave
    none), else ``_normalised``."""
    others = pc.invert(canonical)
    if not pc.any(others).as_py():
        return raw
    done = pc.filter(ipv6, others)
    missing = pc.equal(done, "")
    if pc.any(missing).as_py():
        done = pc.replace_with_mask(
            done, missing, _normalised(pc.filter(pc.filter(raw, others), missing))
        )
    return pc.replace_with_mask(raw, others, done)


def _normalised(values: pa.Array) -> pa.Array:
    """Canonical text of address texts, null where none: the kernel's full IPv6
    spelling in Arrow (``_compress_ipv6``), anything else with ``normalise_ips``."""
    full = pc.match_substring_regex(values, FULL_IPV6)
    if not pc.any(full).as_py():
        return normalise_ips(values)
    compressed = _compress_ipv6(pc.filter(values, full))
    # IPv4-mapped addresses are unwrapped by normalise_ips; leave them to it.
    mapped = pc.starts_with(compressed, "::ffff:")
    done = pc.replace_with_mask(
        pa.nulls(len(values), pa.string()), full, pc.if_else(mapped, None, compressed)
    )
    slow = pc.is_null(done)
    if pc.any(slow).as_py():
        done = pc.replace_with_mask(done, slow, normalise_ips(pc.filter(values, slow)))
    return done


#: IPv6 as the kernel writes it: eight groups of four hex digits (and any other
#: spelling with eight groups and no ``::``, zone or embedded IPv4).
FULL_IPV6: Final = r"^[0-9A-Fa-f]{1,4}(:[0-9A-Fa-f]{1,4}){7}$"


def _compress_ipv6(full: pa.Array) -> pa.Array:
    """RFC 5952 text of eight-group IPv6 addresses, as ``ipaddress`` prints them.

    Lower case, leading zeros dropped from each group, and the longest run of
    two or more zero groups (the first of equal runs) written ``::``. Arrow
    kernels over the column; no Python per address. The run is found by
    trying lengths from eight down: the first length that matches anywhere is
    the longest, and the leftmost match of it is the first such run.
    """
    text = pc.replace_substring_regex(pc.utf8_lower(full), r"(^|:)0{1,3}([0-9a-f])", r"\1\2")
    result = text
    chosen = pa.repeat(pa.scalar(False), len(text))
    for run in range(8, 1, -1):
        pattern = rf"(^|:)0(:0){{{run - 1}}}(:|$)"
        hit = pc.and_(pc.match_substring_regex(text, pattern), pc.invert(chosen))
        if not pc.any(hit).as_py():
            continue
        replaced = pc.replace_substring_regex(text, pattern, "::", max_replacements=1)
        result = pc.if_else(hit, replaced, result)
        chosen = pc.or_(chosen, hit)
    return result


#: Columns of the query result that go to ``network`` as they are.
ROW_COLUMNS: Final = [
    "log_line",
    "network_transport",
    "source_port",
    "destination_port",
    "tcp_flags",
    "ip_ttl",
    "ip_id",
    "tcp_window",
    "interface_in",
    "interface_out",
    "log_prefix",
    "event_action",
    "connection_outcome",
    "observer_name",
]


#: Stands for the registered view's name in the batch query until it is run.
_VIEW: Final = "__netfilter_lines__"


def _in_line_order(table: pa.Table) -> pa.Table:
    """``table`` sorted by ``log_line``; DuckDB keeps the input order, so usually a no-op."""
    return table if ascending(table.column("log_line")) else table.sort_by("log_line")


PARSERS: tuple[type[Parser], ...] = (NetfilterParser,)
