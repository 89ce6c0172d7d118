"""Microsoft IIS logs in W3C extended format (``--format iis``).

The file says which columns it has, in ``#`` directives, and may say it again
with other columns after a configuration change (IIS then writes a new header
block in the same file)::

    #Software: Microsoft Internet Information Services 10.0
    #Version: 1.0
    #Date: 2026-09-30 10:00:00
    #Fields: date time s-ip cs-method cs-uri-stem cs-uri-query s-port cs-username c-ip
        cs(User-Agent) cs(Referer) sc-status sc-substatus sc-win32-status time-taken
    2026-09-30 10:00:00 10.0.0.5 GET /index.html - 443 - 198.51.100.7
        Mozilla/5.0+(Windows+NT+10.0) - 200 0 0 15

(each shown on two lines here, one line in the file).
Each line takes the ``#Fields`` in force above it: per batch, a running count of
``#Fields`` lines (Arrow) says which header each line belongs to, and one query
runs per distinct header (``linesql.run_by_headers``: a handful per file, never one
per line; the lines under more than ``base.MAX_LAYOUTS`` different ones in a
batch, which only a hostile file has, are rejected); the last header is kept
for the next batch. Directive lines are skipped. Values are separated by
one space; IIS writes spaces inside values as ``+`` (user agent, referrer) and
an empty value as ``-``. Stamps are UTC: W3C logging always writes UTC, whatever
the server's zone (only the rollover of files follows local time, if asked).

Behind a load balancer ``c-ip`` is the balancer. IIS 8.5+ logs the request's
X-Forwarded-For as a custom field (``<customFields><add
logFieldName="X-Forwarded-For" sourceName="X-Forwarded-For"
sourceType="RequestHeader"/>``): a ``#Fields`` naming ``X-Forwarded-For`` or
``cs(X-Forwarded-For)`` (any case) hands it to the framework, which reads the
client from it behind ``ingest.trusted_proxies`` (``ingest.forwarded``;
``+`` read as the space IIS wrote it for).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

import pyarrow as pa

from reconwatch.ingest.base import (
    FORWARDED,
    ParseContext,
    Parsed,
    Parser,
)
from reconwatch.ingest.linesql import (
    byte_count_sql,
    is_status_sql,
    lit,
    run_by_headers,
    status_code_sql,
)
from reconwatch.ingest.web_clf import INVALID_STATUS

NO_HEADER: Final = "no #Fields header before this line"
FIELD_COUNT: Final = "field count differs from #Fields"
MISSING_COLUMNS: Final = "#Fields lacks date, time or c-ip"

#: W3C field -> (http column, how its text is read).
_PLUS_AS_SPACE: Final = ("cs(User-Agent)", "cs(Referer)", "cs(Cookie)")
#: Field names of the X-Forwarded-For header, any case: an IIS 8.5+ custom
#: field (its name is the operator's choice; the header's own is the usual one)
#: or W3C's request header syntax.
FORWARDED_FIELDS: Final = ("X-Forwarded-For", "cs(X-Forwarded-For)")


def _value(index: int) -> str:
    """SQL for field ``index`` (1-based) of the split line, '-' as NULL."""
    return f"nullif(parts[{index}], '-')"


def _header_sql(fields: Sequence[str]) -> str:
    """The batch query for data lines under one ``#Fields`` header."""
    where = {name.lower(): i + 1 for i, name in enumerate(fields)}

    def get(name: str, plus: bool = False) -> str:
        index = where.get(name.lower())
        if index is None:
            return "CAST(NULL AS VARCHAR)"
        value = _value(index)
        return f"replace({value}, '+', ' ')" if plus else value

    status = get("sc-status")
    port = get("s-port")
    cport = get("c-port")
    has_required = all(n in where for n in ("date", "time", "c-ip"))
    named = [name for name in FORWARDED_FIELDS if name.lower() in where]
    forwarded = get(named[0], plus=True) if named else "CAST(NULL AS VARCHAR)"
    return f"""
    WITH s AS (
        SELECT log_line, _row, regexp_full_match(line, '\\s*') AS skip,
               string_split(line, ' ') AS parts
        FROM {{view}}
    )
    SELECT log_line, _row, skip,
           TRY_CAST({get("date")} || ' ' || {get("time")} AS TIMESTAMP) AS timestamp,
           {get("c-ip")} AS source_raw,
           {get("s-ip")} AS destination_raw,
           CAST(TRY_CAST({cport} AS USMALLINT) AS INTEGER) AS source_port,
           CAST(TRY_CAST({port} AS USMALLINT) AS INTEGER) AS destination_port,
           lower(regexp_replace({get("cs-host")}, ':[0-9]+$', '')) AS url_domain,
           {get("cs-method")} AS http_request_method,
           {get("cs-uri-stem")} AS url_path,
           {get("cs-uri-query")} AS url_query,
           {get("cs-version")} AS http_version,
           {status_code_sql(status)} AS http_response_status_code,
           {byte_count_sql(get("sc-bytes"))} AS http_response_bytes,
           {get("cs(Referer)", plus=True)} AS http_request_referrer,
           {get("cs(User-Agent)", plus=True)} AS user_agent_original,
           {get("cs-username")} AS user_name,
           {get("s-computername")} AS observer_name,
           {forwarded} AS {FORWARDED},
           CASE WHEN {"FALSE" if has_required else "TRUE"} THEN {lit(MISSING_COLUMNS)}
                WHEN len(parts) <> {len(fields)} THEN {lit(FIELD_COUNT)}
                WHEN {status} IS NOT NULL AND NOT {is_status_sql(status)}
                    THEN {lit(INVALID_STATUS)}
           END AS reason
    FROM s
    """  # noqa: S608 - field positions are integers; names only pick constant SQL


class IisParser(Parser):
    """IIS W3C extended logs, header blocks and all."""

    #: Its lines are read by a header (columns, layout) met before them.
    reads_lines_alone = False

    name = "iis"
    dataset = "iis"
    table = "http"

    def __init__(self, ctx: ParseContext) -> None:
        super().__init__(ctx)
        #: The ``#Fields`` in force at the end of the previous batch.
        self.fields: tuple[str, ...] | None = None

    @classmethod
    def sniff(cls, sample: Sequence[str]) -> bool:
        """A W3C directive block: ``#Software``/``#Version`` and ``#Fields`` with c-ip."""
        try:
            head = [
                line.lstrip("\ufeff") for line in sample if line.lstrip("\ufeff").startswith("#")
            ]
            fields = [line for line in head if line.startswith("#Fields:")]
            return (
                bool(fields)
                and "c-ip" in fields[0].split()
                and (any(line.startswith(("#Software:", "#Version:")) for line in head))
            )
        except Exception:  # a sniffer must never stop format detection
            return False

    def parse(self, lines: pa.Table) -> Parsed:
        # A byte-order mark may open the file (IIS writes none, copies and exports may).
        parsed, self.fields = run_by_headers(
            self.ctx.con, lines, self.fields,
            lambda fields: None if fields is None else _header_sql(fields), {}, NO_HEADER,
        )  # fmt: skip
        return parsed
