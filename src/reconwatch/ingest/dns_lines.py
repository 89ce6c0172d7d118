"""Shared machinery of the line parsers of the dns and ids families.

Each such parser describes one batch as a single DuckDB query over the batch's
lines (``SqlLineParser.query``); this module runs that query on slices of the
batch side by side (one cursor per slice, as ``netfilter`` does, because DuckDB
scans one Arrow batch of the framework's size on one core), dates RFC 3164
syslog stamps in line order, normalises addresses once per distinct value and
splits rows from rejects with Arrow compute. No Python runs per line.

The query's result contract (one row per line that is not skipped; a line the
query leaves out counts as skipped, so the accounting holds by construction):

* ``log_line`` and ``_row`` (the line's index in the batch, for the raw text of
  rejects), as given in the view;
* optionally ``skip``: true for a line that carries no event by design (counted
  as skipped like the lines the query leaves out). A column, not a ``WHERE``:
  DuckDB pushes such a filter below the projections it tests, and so runs the
  regexes or JSON extraction behind it twice (measured: up to 4x the query).
* ``reason``: a fixed reject reason, or NULL for a line that parsed;
* ``own_time``: the line's own UTC TIMESTAMP (BIND's, Suricata's...), or NULL;
* optionally the columns of ``SyslogEnvelope.select_sql`` (``sl_time``,
  ``sl_month``, ``sl_day``, ``sl_tod``): the envelope's time stands in where
  ``own_time`` is NULL;
* ``source_raw`` and optionally ``destination_raw``: address text to normalise;
* every other column goes to the parser's table as it is.

This module would sit better as ``ingest/lines.py``; it lives here because the
dns and ids families were written at the same time as other modules.
"""

from __future__ import annotations

from abc import abstractmethod
from typing import Final

import pyarrow as pa
import pyarrow.compute as pc

from reconwatch import schema
from reconwatch.ingest import syslog
from reconwatch.ingest.addresses import normalise_ips
from reconwatch.ingest.base import (
    EMPTY_REJECTS,
    Parsed,
    kept_rows,
    reject_table,
)
from reconwatch.ingest.linesql import INVALID_DESTINATION, INVALID_SOURCE, INVALID_TIMESTAMP, lit
from reconwatch.ingest.slices import run_sliced

# Reject reasons shared by the parsers built on this module.
MISSING_TIMESTAMP: Final = "missing timestamp"
MISSING_SOURCE: Final = "missing source address"

#: Columns of the query result that are not copied into the table as they are.
_INTERNAL: Final = frozenset(
    {
        "log_line",
        "_row",
        "reason",
        "own_time",
        "source_raw",
        "destination_raw",
        syslog.KIND,
        syslog.HOST,
        syslog.PROGRAM,
        syslog.MESSAGE,
        syslog.TIME,
        syslog.MONTH,
        syslog.DAY,
        syslog.TOD,
    }
)
#: Stands for the registered view's name in a query until it is run.
VIEW: Final = "__batch_lines__"
#: Fewer lines than this per slice and a thread costs more than it saves.
#: SQL: lines that are empty or only blanks (a regex: RE2 stops at the first other byte).
BLANK_SQL: Final = r"regexp_full_match(line, '\s*')"


def qname_sql(expr: str) -> str:
    """SQL: a DNS name lower-cased without its trailing dot (the root stays ".")."""
    return (
        f"CASE WHEN suffix({expr}, '.') AND {expr} <> '.' "
        f"THEN lower(left({expr}, -1)) ELSE lower({expr}) END"
    )


#: Query type numbers -> mnemonics (IANA DNS parameters): the types of RFC 1035
#: and the ones in use since, the transfer and meta types (IXFR 251, AXFR
#: 252, ANY 255) above all. A source that has no name for a type writes its
#: number (Suricata's eve.json ``"rrtype":"252"``, dnsmasq's ``type=65``, Zeek's
#: ``qtype``) or ``TYPE<n>`` (BIND, Unbound, CoreDNS, RFC 3597); ``qtype_sql``
#: turns either into the mnemonic, so one type is spelled one way whatever
#: logged it. A number missing here stays ``TYPE<n>``.
QTYPES: Final[dict[int, str]] = {
    1: "A", 2: "NS", 3: "MD", 4: "MF", 5: "CNAME", 6: "SOA", 7: "MB", 8: "MG",
    9: "MR", 10: "NULL", 11: "WKS", 12: "PTR", 13: "HINFO", 14: "MINFO", 15: "MX",
    16: "TXT", 17: "RP", 18: "AFSDB", 19: "X25", 20: "ISDN", 21: "RT", 22: "NSAP",
    23: "NSAP-PTR", 24: "SIG", 25: "KEY", 26: "PX", 27: "GPOS", 28: "AAAA", 29: "LOC",
    30: "NXT", 33: "SRV", 35: "NAPTR", 36: "KX", 37: "CERT", 38: "A6", 39: "DNAME",
    41: "OPT", 42: "APL", 43: "DS", 44: "SSHFP", 45: "IPSECKEY", 46: "RRSIG",
    47: "NSEC", 48: "DNSKEY", 49: "DHCID", 50: "NSEC3", 51: "NSEC3PARAM", 52: "TLSA",
    53: "SMIMEA", 55: "HIP", 59: "CDS", 60: "CDNSKEY", 61: "OPENPGPKEY", 62: "CSYNC",
    63: "ZONEMD", 64: "SVCB", 65: "HTTPS", 99: "SPF", 108: "EUI48", 109: "EUI64",
    249: "TKEY", 250: "TSIG", 251: "IXFR", 252: "AXFR", 253: "MAILB", 254: "MAILA",
    255: "ANY", 256: "URI", 257: "CAA", 32768: "TA", 32769: "DLV",
}  # fmt: skip

#: A query type written as a number: ``252``, or ``TYPE252`` (RFC 3597).
_QTYPE_NUMBER: Final = r"(?:TYPE)?[0-9]{1,5}"


def qtype_sql(expr: str) -> str:
    """SQL: the query type ``expr`` upper-cased, a number (``252``, ``TYPE252``)
    made its mnemonic from ``QTYPES`` (``AXFR``), or ``TYPE<n>`` when it has none.

    The regex runs only on values that start like a number (a digit or
    ``TYPE``): mnemonics, nearly every row, are kept after two cheap tests.
    """
    text = f"upper({expr})"
    number = f"TRY_CAST(ltrim({text}, 'TYPE') AS USMALLINT)"
    names = " ".join(f"WHEN {n} THEN {lit(name)}" for n, name in sorted(QTYPES.items()))
    return (
        f"CASE WHEN NOT (starts_with({text}, 'TYPE') OR left({text}, 1) BETWEEN '0' AND '9') "
        f"THEN {text} "
        f"WHEN regexp_full_match({text}, {lit(_QTYPE_NUMBER)}) AND {number} IS NOT NULL "
        f"THEN coalesce(CASE {number} {names} END, 'TYPE' || CAST({number} AS VARCHAR)) "
        f"ELSE {text} END"
    )


def in_list(values: tuple[str, ...]) -> str:
    """SQL list of constant literals, for ``IN (...)``."""
    return ", ".join(lit(v) for v in values)


class SqlLineParser(syslog.EnvelopedParser):
    """A parser whose batch is one DuckDB query; see the module docstring."""

    @abstractmethod
    def query(self) -> str:
        """The batch query over the relation ``VIEW`` (``log_line``, ``_row``, ``line``)."""

    def params(self) -> dict[str, object]:
        """Named parameters ``query`` may use (the envelope's and ``$local_tz``)."""
        params = self.envelope.params()
        if self._convert_local:
            params["local_tz"] = self.ctx.config.syslog.timezone
        return params

    @property
    def _convert_local(self) -> bool:
        return self.ctx.config.syslog.timezone not in syslog.UTC_NAMES

    def local_to_utc(self, local: str) -> str:
        """SQL turning a wall-clock TIMESTAMP of ``syslog.timezone`` into UTC.

        BIND's file stamps and fast.log stamps are the server's local time, as
        classic syslog stamps are, so they read in the same configured zone.
        """
        if not self._convert_local:
            return local
        return f"timezone('UTC', timezone($local_tz, {local}))"

    def parse(self, lines: pa.Table) -> Parsed:
        if lines.num_rows == 0:
            return Parsed(rows=schema.empty(schema.TABLES[self.table]), rejects=EMPTY_REJECTS)
        numbered = pa.table(
            {
                "log_line": lines.column("log_line"),
                # 0..n-1 built in Arrow (``range`` would make one Python int per line).
                "_row": pc.indices_nonzero(pa.repeat(pa.scalar(True), lines.num_rows)).cast(
                    pa.int64()
                ),
                "line": lines.column("line"),
            }
        )
        sql = self.query()
        # DuckDB refuses parameters a statement does not use.
        params = {k: v for k, v in self.params().items() if f"${k}" in sql}
        con = self.ctx.con
        result = self.combine(pa.concat_tables(run_sliced(con, sql, params, numbered, VIEW)))
        if "skip" in result.column_names:
            result = result.filter(pc.invert(pc.fill_null(result.column("skip"), False)))
            result = result.drop_columns(["skip"])
        if syslog.MONTH in result.column_names:
            # Years need every RFC 3164 stamp of the batch in line order.
            envelope_time = self.envelope.resolve(con, result)
        elif syslog.TIME in result.column_names:
            envelope_time = result.column(syslog.TIME).combine_chunks().cast(pa.timestamp("us"))
        else:
            envelope_time = pa.nulls(result.num_rows, pa.timestamp("us"))
        parsed = self.finish(result, envelope_time, lines)
        return Parsed(
            rows=parsed.rows,
            rejects=parsed.rejects,
            skipped=lines.num_rows - result.num_rows,
            other_tables=parsed.other_tables,
        )

    def combine(self, result: pa.Table) -> pa.Table:
        """The whole batch's query result, before skipped lines leave it.

        The query runs on slices of the batch; a parser that relates lines to
        each other (dnsmasq's replies to their queries) does it here, over the
        whole batch at once. The default keeps ``result`` as it is.
        """
        return result

    def finish(self, result: pa.Table, envelope_time: pa.Array, lines: pa.Table) -> Parsed:
        """Dates, addresses and the split of rows from rejects (Arrow only).

        A subclass filling several tables overrides this and calls ``split_rows``.
        """
        rows, rejects = split_rows(result, envelope_time, lines)
        return Parsed(rows=rows, rejects=rejects)


def split_rows(
    result: pa.Table, envelope_time: pa.Array, lines: pa.Table
) -> tuple[pa.Table, pa.Table]:
    """Rows and rejects of a query result that follows the module's contract."""
    table, good, rejects = check_rows(result, envelope_time, lines)
    return kept_rows(table, good), rejects


def check_rows(
    result: pa.Table, envelope_time: pa.Array, lines: pa.Table
) -> tuple[pa.Table, pa.Array, pa.Table]:
    """The result's columns with times and addresses, the mask of good rows, and rejects.

    Unfiltered, so that a parser filling several tables filters each table's
    own columns once rather than the whole wide result first.
    """

    def column(name: str) -> pa.Array:
        return result.column(name).combine_chunks()

    own = (
        column("own_time").cast(pa.timestamp("us"))
        if "own_time" in result.column_names
        else pa.nulls(result.num_rows, pa.timestamp("us"))
    )
    timestamp = pc.coalesce(own, envelope_time)
    source_raw = column("source_raw")
    source = normalise_ips(source_raw)
    none = pa.scalar(None, pa.string())
    reasons = [
        column("reason"),
        pc.if_else(pc.is_null(timestamp), pa.scalar(INVALID_TIMESTAMP), none),
        pc.if_else(
            pc.is_null(source),
            pc.if_else(
                pc.is_null(source_raw), pa.scalar(MISSING_SOURCE), pa.scalar(INVALID_SOURCE)
            ),
            none,
        ),
    ]
    table = result.drop_columns(
        [c for c in result.column_names if c in _INTERNAL and c != "log_line"]
    )
    table = table.append_column("timestamp", timestamp).append_column("source_ip", source)
    if "destination_raw" in result.column_names:
        destination_raw = column("destination_raw")
        destination = normalise_ips(destination_raw)
        bad = pc.and_(pc.is_valid(destination_raw), pc.is_null(destination))
        reasons.append(pc.if_else(bad, pa.scalar(INVALID_DESTINATION), none))
        table = table.append_column("destination_ip", destination)
    reason = pc.coalesce(*reasons)
    good = pc.is_null(reason)
    if reason.null_count == len(reason):
        return table, good, EMPTY_REJECTS
    bad_rows = pc.invert(good)
    index = pc.filter(column("_row"), bad_rows)
    rejects = reject_table(
        pc.take(lines.column("log_line"), index),
        pc.filter(reason, bad_rows),
        pc.take(lines.column("line"), index),
    )
    return table, good, rejects
