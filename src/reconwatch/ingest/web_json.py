"""nginx JSON access logs (``--format nginx-json``).

nginx writes JSON with a ``log_format ... escape=json`` recipe whose keys are the
operator's choice, e.g. the one in nginx's own docs::

    log_format json_combined escape=json '{"time_local":"$time_local",'
        '"remote_addr":"$remote_addr","remote_user":"$remote_user",'
        '"request":"$request","status":"$status","body_bytes_sent":"$body_bytes_sent",'
        '"http_referrer":"$http_referer","http_user_agent":"$http_user_agent"}';

so the keys read for each column come from ``config.ingest.nginx_json_fields``
(defaults cover nginx's variable names and the usual short names). Either the
whole request line (``request``) or its parts (``request_method``,
``request_uri``, ``server_protocol``) may be logged; the parts win when both are.
A stamp may be ``$time_iso8601``, ``$time_local`` (``30/Sep/2026:10:00:00 +0200``)
or ``$msec`` (epoch seconds with milliseconds).

Behind a reverse proxy or load balancer ``remote_addr`` is the proxy: log
``"http_x_forwarded_for":"$http_x_forwarded_for"`` too (keys of the
``forwarded_for`` column), and list the proxies in
``ingest.trusted_proxies``; the framework then reads the client from it
(``ingest.forwarded``). Without that list the header is never read.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

import pyarrow as pa

from reconwatch.config import IngestConfig
from reconwatch.ingest.base import FORWARDED, Parsed, Parser
from reconwatch.ingest.linesql import (
    byte_count_sql,
    is_status_sql,
    json_path,
    json_values_sql,
    leading,
    lit,
    run_batch,
    sniff_json_objects,
    status_code_sql,
)
from reconwatch.ingest.web_clf import INVALID_STATUS, REQUEST, dash_null

NOT_JSON: Final = "not a JSON object"
NOT_ACCESS_LOG: Final = "JSON without the configured client address key"

#: Keys that tell an nginx JSON access log from other JSON (any of the defaults).
_DEFAULT_KEYS: Final = IngestConfig().nginx_json_keys()


def _looks_like_access_log(value: dict[str, object]) -> bool:
    keys = set(value)
    has_client = bool(keys & set(_DEFAULT_KEYS["source_ip"]))
    has_request = bool(keys & set(_DEFAULT_KEYS["request"] + _DEFAULT_KEYS["url_path"]))
    has_status = bool(keys & set(_DEFAULT_KEYS["http_response_status_code"]))
    return has_client and has_request and has_status


class JsonAccessQuery:
    """The query reading JSON access lines under the configured keys; its
    steps and result are apart so that ``nginx-error`` runs it over syslog
    messages (``ctes`` over a relation and column of its choice)."""

    def __init__(self, config: IngestConfig) -> None:
        paths: list[str] = []
        #: Per column, the SQL of its value: the first of its keys present
        #: ('' counts as present: nginx logs '' for unset).
        self.first: dict[str, str] = {}
        for column, names in config.nginx_json_keys().items():
            indices = []
            for key in names:
                paths.append(json_path(key))
                indices.append(f"v[{len(paths)}]")
            self.first[column] = (
                f"coalesce({', '.join(indices)})" if len(indices) > 1 else indices[0]
            )
        #: The JSON paths, bound as a parameter (keys are config text: never in the SQL).
        self.params: dict[str, object] = {"nginx_paths": paths}

    def ctes(self, source: str, text: str = "line", carry: Sequence[str] = ()) -> str:
        """The steps (``WITH`` list items, ending with ``t``) over ``source``,
        whose column ``text`` holds the JSON; ``carry``: columns passed on."""
        keep = leading(carry)
        values = ", ".join(f"{expr} AS f_{column}" for column, expr in self.first.items())
        return f"""
        j AS (
            SELECT log_line, _row, {keep}regexp_full_match({text}, '\\s*') AS skip,
                   {json_values_sql(text, "nginx_paths")} AS v
            FROM {source}
        ),
        f AS (
            SELECT log_line, _row, {keep}skip, v, {values}
            FROM j
        ),
        r AS (
            SELECT *, regexp_extract(f_request, {lit(REQUEST)}, ['method', 'target', 'version'])
                          AS req
            FROM f
        ),
        t AS (
            SELECT *, coalesce(nullif(f_url_path, ''), nullif(req.target, '')) AS target
            FROM r
        )
        """  # noqa: S608 - constant SQL and the caller's names; JSON paths are bound

    @staticmethod
    def select(carry: Sequence[str] = (), extra: Sequence[str] = ()) -> str:
        """The result over ``ctes``'s ``t`` (the ``linesql`` contract), with
        ``carry`` and ``extra`` columns (``expression AS name``)."""
        keep = leading([*carry, *extra])
        return f"""
        SELECT log_line, _row, {keep}skip,
               coalesce(
                   timezone('UTC', TRY_CAST(f_timestamp AS TIMESTAMPTZ)),
                   timezone('UTC', try_strptime(f_timestamp, '%d/%b/%Y:%H:%M:%S %z')),
                   CASE WHEN regexp_full_match(f_timestamp, '[0-9]{{9,10}}(\\.[0-9]{{1,6}})?')
                        THEN timezone('UTC', to_timestamp(CAST(f_timestamp AS DOUBLE))) END
               ) AS timestamp,
               f_source_ip AS source_raw,
               f_destination_ip AS destination_raw,
               CAST(TRY_CAST(f_source_port AS USMALLINT) AS INTEGER) AS source_port,
               CAST(TRY_CAST(f_destination_port AS USMALLINT) AS INTEGER) AS destination_port,
               lower(nullif(regexp_replace(f_url_domain, ':[0-9]+$', ''), '')) AS url_domain,
               coalesce(nullif(f_http_request_method, ''), nullif(req.method, ''))
                   AS http_request_method,
               coalesce(nullif(f_http_version, ''), nullif(req.version, '')) AS http_version,
               CASE WHEN contains(target, '?') THEN left(target, strpos(target, '?') - 1)
                    WHEN target IS NULL THEN {dash_null("f_request")}
                    ELSE target END AS url_path,
               coalesce(nullif(f_url_query, ''),
                        CASE WHEN contains(target, '?')
                             THEN substr(target, strpos(target, '?') + 1) END) AS url_query,
               {status_code_sql("f_http_response_status_code")} AS http_response_status_code,
               {byte_count_sql("f_http_response_bytes")} AS http_response_bytes,
               {dash_null("f_http_request_referrer")} AS http_request_referrer,
               {dash_null("f_user_agent_original")} AS user_agent_original,
               {dash_null("f_user_name")} AS user_name,
               f_forwarded_for AS {FORWARDED},
               CASE WHEN v IS NULL THEN {lit(NOT_JSON)}
                    WHEN f_source_ip IS NULL THEN {lit(NOT_ACCESS_LOG)}
                    WHEN f_http_response_status_code IS NOT NULL
                         AND NOT {is_status_sql("f_http_response_status_code")}
                        THEN {lit(INVALID_STATUS)}
               END AS reason
        FROM t
        """  # noqa: S608 - constant SQL and the caller's column names


class NginxJsonParser(Parser):
    """nginx (or any web server's) JSON access log with configurable keys."""

    name = "nginx-json"
    dataset = "nginx.json"
    table = "http"

    @classmethod
    def sniff(cls, sample: Sequence[str]) -> bool:
        """JSON objects with a client address, a request and a status under default keys."""
        try:
            return sniff_json_objects(sample, _looks_like_access_log)
        except Exception:  # a sniffer must never stop format detection
            return False

    def parse(self, lines: pa.Table) -> Parsed:
        query = JsonAccessQuery(self.ctx.config.ingest)
        sql = f"WITH {query.ctes('{view}')} {query.select()}"
        return run_batch(self.ctx.con, lines, sql, query.params)
