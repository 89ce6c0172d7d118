"""AWS Route 53 Resolver query logs (JSON lines) -> ``dns`` (``route53resolver``).

::

    {"version":"1.100000","account_id":"111122223333","region":"eu-west-1",
     "vpc_id":"vpc-0a1b2c3d","query_timestamp":"2026-11-28T04:00:00Z",
     "query_name":"www.example.com.","query_type":"A","query_class":"IN",
     "rcode":"NOERROR","answers":[{"Rdata":"93.184.216.34","Type":"A","Class":"IN"}],
     "srcaddr":"10.0.0.5","srcport":"53211","transport":"UDP",
     "srcids":{"instance":"i-0abc"}}

``answers[].Rdata`` become ``dns_answers``; ``vpc_id`` is the observer. A query
a Route 53 Resolver DNS Firewall rule blocked (``firewall_rule_action``
``BLOCK``) is ``denied``; the rest are ``allowed``. Rejects: ``invalid JSON``,
``missing timestamp``, ``invalid timestamp``, missing or invalid addresses.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Final

from reconwatch.ingest.dns_lines import (
    BLANK_SQL,
    MISSING_TIMESTAMP,
    VIEW,
    SqlLineParser,
    qname_sql,
    qtype_sql,
)
from reconwatch.ingest.linesql import lit

INVALID_JSON: Final = "invalid JSON"
PATHS: Final = (
    "query_timestamp",
    "query_name",
    "query_type",
    "query_class",
    "rcode",
    "answers",
    "srcaddr",
    "srcport",
    "transport",
    "firewall_rule_action",
    "vpc_id",
)


def _v(name: str) -> str:
    return f"v[{PATHS.index(name) + 1}]"


class Route53ResolverParser(SqlLineParser):
    """AWS Route 53 Resolver query logs."""

    name = "route53resolver"
    dataset = "route53resolver"
    table = "dns"

    @classmethod
    def sniff(cls, sample: Sequence[str]) -> bool:
        try:
            for line in sample[:20]:
                if '"query_name"' not in line or '"srcaddr"' not in line:
                    continue
                try:
                    data = json.loads(line)
                except (ValueError, RecursionError):
                    continue
                if isinstance(data, dict) and {"query_name", "srcaddr", "query_timestamp"} <= (
                    data.keys()
                ):
                    return True
            return False
        except Exception:  # a sniffer must never stop format detection
            return False

    def query(self) -> str:
        paths = ", ".join(lit("$." + p) for p in PATHS)
        return f"""
        WITH docs AS (
            SELECT log_line, _row, json_valid(line) AS ok,
                   CASE WHEN json_valid(line) THEN json_extract_string(line, [{paths}]) END AS v
            FROM {VIEW} WHERE NOT {BLANK_SQL}
        )
        SELECT log_line, _row,
               timezone('UTC', TRY_CAST({_v("query_timestamp")} AS TIMESTAMPTZ)) AS own_time,
               {_v("srcaddr")} AS source_raw,
               CAST(TRY_CAST({_v("srcport")} AS USMALLINT) AS INTEGER) AS source_port,
               CASE lower({_v("transport")}) WHEN 'udp' THEN 'udp' WHEN 'tcp' THEN 'tcp' END
                   AS network_transport,
               {qname_sql(_v("query_name"))} AS dns_question_name,
               {qtype_sql(_v("query_type"))} AS dns_question_type,
               upper({_v("query_class")}) AS dns_question_class,
               {_v("rcode")} AS dns_response_code,
               CASE WHEN {_v("answers")} IS NOT NULL
                    THEN json_extract_string({_v("answers")}, '$[*].Rdata') END AS dns_answers,
               CASE WHEN upper({_v("firewall_rule_action")}) = 'BLOCK' THEN 'denied'
                    ELSE 'allowed' END AS event_action,
               {_v("vpc_id")} AS observer_name,
               CASE WHEN NOT ok THEN {lit(INVALID_JSON)}
                    WHEN {_v("query_timestamp")} IS NULL THEN {lit(MISSING_TIMESTAMP)}
               END AS reason
        FROM docs
        """  # noqa: S608 - constant paths and a generated view name only


PARSERS: Final = (Route53ResolverParser,)
