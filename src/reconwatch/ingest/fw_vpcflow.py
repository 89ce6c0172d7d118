"""AWS VPC Flow Logs in their text form (``--format aws-vpcflow``).

Flow logs delivered to S3 or exported from CloudWatch are space-separated,
one flow record per line, ``-`` for a value that does not apply. A file starts
with a header naming the fields, in the default (version 2) format::

    version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes
        start end action log-status
    2 123456789010 eni-1235b8ca123456789 172.31.16.139 172.31.16.21 20641 22 6 20 4249
        1418530010 1418530070 ACCEPT OK

(each one line, folded here)

or any custom list of version 3 to 5 fields (``tcp-flags``, ``flow-direction``,
``pkt-srcaddr``...). The header sets the field positions for the lines after
it (several concatenated files have several headers: one query per distinct
header, never per line or per file; the lines under more than
``base.MAX_LAYOUTS`` different ones in a batch are rejected); a file without a
header is read in the default format. Headers are skipped lines, and so are
records with ``log-status`` ``NODATA`` or ``SKIPDATA``, which carry no flow by
design.

``ACCEPT`` is ``allowed``; ``REJECT`` (a security group or network ACL
refused the flow) is ``rejected``. ``start`` (epoch seconds) is the time;
``interface-id`` is the observer; ``tcp-flags`` (the OR of the flags seen in
the aggregation window: FIN 1, SYN 2, RST 4, PSH 8, ACK 16, URG 32) becomes
the flag names.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import ClassVar, Final

import pyarrow as pa
import pyarrow.compute as pc

from reconwatch.ingest.base import ParseContext, Parsed, Parser, layouts
from reconwatch.ingest.fw_common import (
    INVALID_PORT,
    bad_port_sql,
    outcome_sql,
    ports_sql,
    sniff_share,
    transport_sql,
)
from reconwatch.ingest.linesql import lit, run_by_layouts, without_bom

WRONG_FIELD_COUNT: Final = "wrong number of fields"
UNKNOWN_ACTION: Final = "unknown action"
MALFORMED: Final = "malformed flow record"

DEFAULT_FIELDS: Final = (
    "version", "account-id", "interface-id", "srcaddr", "dstaddr", "srcport", "dstport",
    "protocol", "packets", "bytes", "start", "end", "action", "log-status",
)  # fmt: skip
#: Fields a header must name for its records to be read.
REQUIRED: Final = ("srcaddr", "dstaddr", "start", "action")
#: A header line: only field names (and ``srcaddr`` and ``dstaddr`` among them,
#: tested beside this pattern with ``_NAMED``: first or last in a custom list too).
HEADER: Final = r"^[a-z][a-z0-9-]*( [a-z][a-z0-9-]*)+\s*$"
_NAMED: Final = r"(?:^| ){name}(?: |\s*$)"
_FLAG_BITS: Final = (("URG", 32), ("ACK", 16), ("PSH", 8), ("RST", 4), ("SYN", 2), ("FIN", 1))

_SNIFF_HEADER: Final = re.compile(r"^(?=.*\bsrcaddr\b)(?=.*\bdstaddr\b)[a-z][a-z0-9 -]*$")
_SNIFF_DEFAULT: Final = re.compile(
    r"^2 (?:\d{12}|unknown) eni-[0-9a-f]+ \S+ \S+ \S+ \S+ \S+ \S+ \S+ \d+ \d+ "
    r"(?:ACCEPT|REJECT|-) (?:OK|NODATA|SKIPDATA)$"
)


class VpcFlowParser(Parser):
    """AWS VPC Flow Logs, default or custom field lists, header-driven."""

    #: Its lines are read by a header (columns, layout) met before them.
    reads_lines_alone = False

    name = "aws-vpcflow"
    dataset = "aws.vpcflow"
    table = "network"
    programs: ClassVar[tuple[str, ...]] = ()

    def __init__(self, ctx: ParseContext) -> None:
        super().__init__(ctx)
        #: Field names of the file's current header (kept across batches).
        self.fields: tuple[str, ...] = DEFAULT_FIELDS

    @classmethod
    def sniff(cls, sample: Sequence[str]) -> bool:
        try:
            lines = [line.strip() for line in sample[:50] if line.strip()]
            if lines and _SNIFF_HEADER.match(lines[0][:4096]):
                return all(name in lines[0].split() for name in REQUIRED)
        except Exception:  # a sniffer must never stop format detection
            return False
        return sniff_share(sample, _SNIFF_DEFAULT)

    def parse(self, lines: pa.Table) -> Parsed:
        lines = without_bom(lines)
        text = lines.column("line")
        is_header = pc.fill_null(
            pc.and_(
                pc.match_substring_regex(text, HEADER),
                pc.and_(
                    pc.match_substring_regex(text, _NAMED.format(name="srcaddr")),
                    pc.match_substring_regex(text, _NAMED.format(name="dstaddr")),
                ),
            ),
            False,
        )
        found = layouts(text, is_header, _fields_of, self.fields)
        # Never "no header": the default fields are in force before the first.
        parsed = run_by_layouts(self.ctx.con, lines, is_header, found, _sql, {}, MALFORMED)
        self.fields = found.last or DEFAULT_FIELDS
        return parsed


def _fields_of(header: str) -> tuple[str, ...] | None:
    """A header's fields; None (the fields before stay in force) when it lacks
    one the records need."""
    fields = tuple(header.split())
    return fields if all(name in fields for name in REQUIRED) else None


def _sql(fields: tuple[str, ...] | None) -> str:
    """The query for the records under ``fields``."""
    fields = fields or DEFAULT_FIELDS
    positions = {name: index + 1 for index, name in enumerate(fields)}

    def field(name: str) -> str:
        # A field the header does not name is NULL; '-' means "does not apply".
        position = positions.get(name)
        return f"nullif(f[{position}], '-')" if position else "CAST(NULL AS VARCHAR)"

    flags = ", ".join(
        f"CASE WHEN flagbits & {bit} <> 0 THEN {lit(name)} END" for name, bit in _FLAG_BITS
    )
    count = len(fields)
    status = field("log-status")
    return f"""
    WITH lines AS (
        SELECT log_line, _row, line, string_split(trim(line), ' ') AS f,
               regexp_full_match(line, '\\s*') AS blank
        FROM {{view}}
    ),
    v AS (
        SELECT *, {field("srcaddr")} AS src, {field("dstaddr")} AS dst,
               {field("srcport")} AS spt, {field("dstport")} AS dpt,
               {field("protocol")} AS proto, {field("action")} AS verdict,
               TRY_CAST({field("tcp-flags")} AS INTEGER) AS flagbits,
               CASE {field("action")} WHEN 'ACCEPT' THEN 'allowed'
                    WHEN 'REJECT' THEN 'rejected' END AS event_action,
               len(f) = {count} AS complete
        FROM lines
    ),
    t AS (SELECT *, {transport_sql("proto")} AS network_transport FROM v)
    SELECT log_line, _row,
           blank OR (complete AND {status} IN ('NODATA', 'SKIPDATA')) AS skip,
           timezone('UTC', TRY(to_timestamp(TRY_CAST({field("start")} AS BIGINT))))
               AS timestamp,
           src AS source_raw, dst AS destination_raw,
           {ports_sql("spt", "dpt")},
           network_transport,
           CASE WHEN network_transport = 'tcp' AND flagbits IS NOT NULL
                THEN concat_ws(' ', {flags}) END AS tcp_flags,
           event_action,
           {outcome_sql("event_action")} AS connection_outcome,
           CAST(TRY_CAST({field("bytes")} AS UBIGINT) AS BIGINT) AS network_bytes,
           CAST(TRY_CAST({field("packets")} AS UBIGINT) AS BIGINT) AS network_packets,
           {field("interface-id")} AS observer_name,
           CASE WHEN NOT complete THEN {lit(WRONG_FIELD_COUNT)}
                WHEN event_action IS NULL THEN {lit(UNKNOWN_ACTION)}
                WHEN src IS NULL OR dst IS NULL OR network_transport IS NULL
                    THEN {lit(MALFORMED)}
                WHEN {bad_port_sql("spt")} OR {bad_port_sql("dpt")} THEN {lit(INVALID_PORT)}
           END AS reason
    FROM t
    """  # noqa: S608 - constant patterns, integer positions and a generated view name only
