"""AWS Application Load Balancer access logs (``--format aws-alb``).

AWS documents the line as space-separated fields, the free-text ones quoted::

    type time elb client:port target:port request_processing_time
    target_processing_time response_processing_time elb_status_code
    target_status_code received_bytes sent_bytes "request" "user_agent"
    ssl_cipher ssl_protocol target_group_arn "trace_id" "domain_name" ...

(more fields follow in newer logs; they are allowed and ignored). The request is
always in absolute form (``GET https://www.example.com:443/robots.txt HTTP/1.1``),
so ``url_domain`` is the request's host: what the client asked for (its Host
header), which an HTTPS vhost sweep varies under one TLS SNI name. The SNI
``domain_name`` stands in only when the request has no host.
``destination_ip`` stays null: the client talked to the load balancer, whose
address the log does not give (``target:port`` is the back end the balancer
chose, not something the client aimed at). The status is the balancer's own
(``elb_status_code``), which is what the client saw.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Final

import pyarrow as pa

from reconwatch.ingest.base import Parsed, Parser
from reconwatch.ingest.linesql import byte_count_sql, is_status_sql, lit, run_batch, status_code_sql
from reconwatch.ingest.web_clf import (
    INVALID_STATUS,
    QUOTED,
    dash_null,
    path_query_sql,
    request_sql,
    request_struct,
    unescape,
)

NOT_ALB: Final = "not an ALB access log line"

#: After the twelfth field: "request" "user agent".
QUOTED_PAIR: Final = "^" + QUOTED + " " + QUOTED
#: After those: ssl_cipher ssl_protocol target_group_arn "trace_id" "domain_name".
DOMAIN: Final = r'^ \S+ \S+ \S+ "[^"]*" "([^"]*)"'
#: type and an ISO stamp start every line.
PREFIX: Final = r"^\S+ \d{4}-\d\d-\d\dT\S+ "
_SNIFF_RE: Final = re.compile(r"^(?:https?|h2|grpcs?|wss?) \d{4}-\d\d-\d\dT[0-9:.]+Z \S+ \S+:\d+ ")


class AlbParser(Parser):
    """AWS ALB access logs, as written to S3 (one gunzipped object is one input)."""

    name = "aws-alb"
    dataset = "aws.elb"
    table = "http"

    @classmethod
    def sniff(cls, sample: Sequence[str]) -> bool:
        try:
            hits = sum(1 for line in sample if _SNIFF_RE.match(line[:4096]))
            return hits > 0 and hits * 2 >= len(sample)
        except Exception:  # a sniffer must never stop format detection
            return False

    def parse(self, lines: pa.Table) -> Parsed:
        sql = f"""
        WITH pos AS (
            SELECT log_line, _row, line, regexp_full_match(line, '\\s*') AS skip,
                   strpos(line, ' "') AS q
            FROM {{view}}
        ),
        cut AS (
            -- The twelve unquoted fields by a plain split, the quoted ones by two
            -- short anchored patterns: cheaper than one pattern of eight groups.
            SELECT *, CASE WHEN q > 0 THEN string_split(left(line, q - 1), ' ') END AS f,
                      regexp_extract(substr(line, q + 1), {lit(QUOTED_PAIR)},
                                     ['request', 'agent']) AS m
            FROM pos
        ),
        named AS (
            SELECT log_line, _row, skip,
                   coalesce(len(f) = 12 AND m.request <> '' AND regexp_matches(line, {lit(PREFIX)}),
                            FALSE) AS matched,
                   f[2] AS time0,
                   -- client is ip:port; IPv6 without brackets, so cut at the last ':'.
                   regexp_extract(f[4], '^\\[?(.*?)\\]?:(\\d+)$', ['ip', 'port']) AS client,
                   f[9] AS status0, f[12] AS bytes0, {unescape("m.request")} AS request,
                   {unescape("m.agent")} AS agent0,
                   regexp_extract(substr(line, q + length(m.request) + length(m.agent) + 6),
                                  {lit(DOMAIN)}, 1) AS domain0
            FROM cut
        ),
        split AS (SELECT *, {request_struct("request")} FROM named),
        reqs AS (SELECT *, {request_sql("request")} FROM split),
        targets AS (
            SELECT *, CASE WHEN abs_url IS NOT NULL THEN coalesce(nullif(abs_url.rest, ''), '/')
                           ELSE target0 END AS target1
            FROM reqs
        )
        SELECT log_line, _row, skip,
               timezone('UTC', TRY_CAST(time0 AS TIMESTAMPTZ)) AS timestamp,
               nullif(client.ip, '') AS source_raw,
               CAST(TRY_CAST(nullif(client.port, '') AS USMALLINT) AS INTEGER) AS source_port,
               -- The request's host is what the client asked for (the Host header);
               -- the TLS SNI name only stands in when the request has none.
               lower(coalesce(nullif(abs_url.host, ''), {dash_null("domain0")})) AS url_domain,
               http_request_method, http_version,
               {path_query_sql()},
               {status_code_sql("status0")} AS http_response_status_code,
               {byte_count_sql("nullif(bytes0, '-')")} AS http_response_bytes,
               {dash_null("agent0")} AS user_agent_original,
               CASE WHEN NOT matched THEN {lit(NOT_ALB)}
                    WHEN status0 <> '-' AND NOT {is_status_sql("status0")}
                        THEN {lit(INVALID_STATUS)}
               END AS reason
        FROM targets
        """  # noqa: S608 - constant patterns and a generated view name only
        return run_batch(self.ctx.con, lines, sql, {})
