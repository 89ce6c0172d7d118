"""Apache and nginx access logs: common, combined and vhost_combined (``--format clf``).

One parser reads the three ``LogFormat`` recipes, as they differ only at the ends::

    common          %h %l %u %t "%r" %>s %b
    combined        %h %l %u %t "%r" %>s %b "%{Referer}i" "%{User-agent}i"
    vhost_combined  %v:%p %h %l %u %t "%r" %>s %O "%{Referer}i" "%{User-Agent}i"

nginx's default ``combined`` is the same text. Fields after the user agent
are allowed; the first of them, when quoted, is read as X-Forwarded-For, as
nginx's stock ``main`` recipe logs it::

    main  $remote_addr - $remote_user [$time_local] "$request" $status
          $body_bytes_sent "$http_referer" "$http_user_agent" "$http_x_forwarded_for"

(Apache: ``"%{X-Forwarded-For}i"`` after the user agent). It is used only
behind the proxies listed in ``ingest.trusted_proxies`` (see
``ingest.forwarded``), so a recipe that logs something else there
(``"$host"``, ``"$upstream_addr"``) must not be combined with that list.
Others are ignored.

Why rows are kept for broken requests: scanners send TLS handshakes, binary junk
and bare words to port 80 (``"\\x16\\x03\\x01"``, ``"HELP"``, ``"-"``); the server
logs them with a 400, and those lines are reconnaissance evidence. They become
rows with a null method, and the request text (as logged, escapes included) in
``url_path`` so it is not lost. Apache escapes ``"`` and ``\\`` inside quoted
fields as ``\\"`` and ``\\\\``; those two are unescaped, the ``\\xNN`` escapes for
other bytes are kept as text (the log does not say which encoding they had).

``ident`` (%l) has no column in the ``http`` table and is dropped: identd has
not been answered on the internet for decades.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Final

import pyarrow as pa

from reconwatch.ingest.base import FORWARDED, ParseContext, Parsed, Parser
from reconwatch.ingest.linesql import (
    byte_count_sql,
    is_status_sql,
    leading,
    lit,
    run_batch,
    status_code_sql,
)

NOT_ACCESS_LOG: Final = "not an access log line"
INVALID_STATUS: Final = "invalid status"
INVALID_BYTES: Final = "invalid byte count"

#: A quoted field with Apache's backslash escapes.
QUOTED: Final = r'"((?:[^"\\]|\\.)*)"'
#: Host (or vhost:port), then host/ident/user, [time], "request", status, bytes,
#: and optionally "referrer" "user agent". Not anchored at the end: extra fields pass.
#: Two words before the stamp (``ip - [...]``, a recipe without ``$remote_user``
#: that CrowdSec's nginx parser reads too) are host and ident; three are host,
#: ident and user; four start with the vhost (the batch query also reads a user
#: name holding spaces, see its ``vhosts`` step; the sniffer needs no such line).
CLF: Final = (
    r"^(\S+) (\S+)(?: (\S+))?(?: (\S+))? \[([^\]]*)\] " + QUOTED + r" (\S+) (\S+)"
    r"(?: " + QUOTED + " " + QUOTED + ")?"
)
#: A request line: method, target and an optional protocol (HTTP/0.9 has none).
REQUEST: Final = r"^([A-Za-z][A-Za-z0-9_-]{0,31}) (\S+)(?: (HTTP/\d(?:\.\d)?))?$"
#: scheme://[userinfo@]host[:port] at the start of an absolute-form target.
ABSOLUTE: Final = r"^[A-Za-z][A-Za-z0-9+.-]*://(?:[^@/?#]*@)?(\[[^\]]*\]|[^/?#:]*)(?::\d*)?(.*)$"

#: A word that can only be a client address (IPv4, IPv6), not a user or ident.
ADDRESS_LIKE: Final = r"[0-9]{1,3}(?:\.[0-9]{1,3}){3}|[0-9A-Fa-f]*:[0-9A-Fa-f:.]*"

#: Apache's two escapes inside a quoted field, for ``regexp_replace``.
ESCAPED: Final = r'\\(["\\])'

_SNIFF_RE: Final = re.compile(CLF)

#: What the batch query cuts after the stamp's ``] ``: "request" status bytes
#: (three groups, anchored: RE2 extracts these in one pass, see ``syslog``).
MIDDLE: Final = "^" + QUOTED + r" (\S+) (\S+)"
#: And after those: "referrer" "user agent" (absent in the common format),
#: then optionally "X-Forwarded-For" (nginx's ``main``).
TAIL: Final = "^ " + QUOTED + " " + QUOTED + "(?: " + QUOTED + ")?"


def unescape(column: str) -> str:
    """SQL undoing Apache's ``\\"`` and ``\\\\`` escapes (only where a backslash is)."""
    return (
        f"CASE WHEN contains({column}, '\\') "
        f"THEN regexp_replace({column}, {lit(ESCAPED)}, '\\1', 'g') ELSE {column} END"
    )


def dash_null(column: str) -> str:
    """'-' and '' stand for "no value" in access logs."""
    return f"CASE WHEN {column} IN ('-', '') THEN NULL ELSE {column} END"


def request_sql(request: str) -> str:
    """Columns cut from a request line: method, path, query, version, and a domain.

    Written as a SELECT list over ``{request}``; needs a ``req`` struct extracted
    first (see ``request_struct``).
    """
    target = "req.target"
    absolute = f"regexp_extract({target}, {lit(ABSOLUTE)}, ['host', 'rest'])"
    return f"""
        nullif(req.method, '') AS http_request_method,
        nullif(req.version, '') AS http_version,
        CASE WHEN req.method <> '' AND regexp_matches({target}, '^[A-Za-z][A-Za-z0-9+.-]*://')
             THEN {absolute} END AS abs_url,
        CASE WHEN req.method = '' THEN {dash_null(request)} ELSE {target} END AS target0
    """


def request_struct(request: str) -> str:
    return f"regexp_extract({request}, {lit(REQUEST)}, ['method', 'target', 'version']) AS req"


def path_query_sql() -> str:
    """Split ``target1`` (a target without scheme and host) at its first '?'."""
    return """
        CASE WHEN http_request_method IS NULL THEN target1
             WHEN contains(target1, '?') THEN left(target1, strpos(target1, '?') - 1)
             ELSE target1 END AS url_path,
        CASE WHEN http_request_method IS NOT NULL AND contains(target1, '?')
             THEN substr(target1, strpos(target1, '?') + 1) END AS url_query
    """


def clf_ctes(source: str, text: str = "line", carry: Sequence[str] = ()) -> str:
    """The access-line query's steps (``WITH`` list items, ending with
    ``targets``) over ``source``, a relation with ``log_line``, ``_row`` and
    the access line in column ``text``; ``carry``: more columns of ``source``
    the steps pass on (a syslog envelope's, see ``nginx-error``)."""
    keep = leading(carry)
    return f"""
        pos AS (
            SELECT log_line, _row, {keep}{text} AS line,
                   regexp_full_match({text}, '\\s*') AS skip, strpos({text}, ' [') AS p1
            FROM {source}
        ),
        heads AS (
            SELECT *, CASE WHEN p1 > 0 THEN string_split(left(line, p1 - 1), ' ') END AS h,
                      substr(line, p1 + 2) AS after
            FROM pos
        ),
        stamps AS (
            SELECT *, strpos(after, '] "') AS p2 FROM heads
        ),
        cut AS (
            SELECT log_line, _row, {keep}skip, h,
                   CASE WHEN p2 > 0 THEN left(after, p2 - 1) END AS time0,
                   regexp_extract(substr(after, p2 + 2), {lit(MIDDLE)},
                                  ['request', 'status', 'bytes']) AS m,
                   substr(after, p2 + 2) AS rest
            FROM stamps
        ),
        tails AS (
            SELECT *, regexp_extract(
                          substr(rest, length(m.request) + length(m.status) + length(m.bytes) + 5),
                          {lit(TAIL)}, ['ref', 'agent', 'xff']) AS t
            FROM cut
        ),
        vhosts AS (
            -- Four or more words: a vhost first when the second word is an
            -- address (``vhost:port host ident user``); else the user holds a
            -- space (``host ident John Smith``, Apache writes %u as it came).
            SELECT *, len(h) >= 4 AND regexp_full_match(h[2], {lit(ADDRESS_LIKE)}) AS has_vhost
            FROM tails
        ),
        named AS (
            SELECT log_line, _row, {keep}skip,
                   p2_ok AND len(h) >= 2 AND m.status <> '' AS matched,
                   CASE WHEN has_vhost THEN h[1] END AS vhost,
                   CASE WHEN has_vhost THEN h[2] ELSE h[1] END AS source_raw,
                   CASE WHEN has_vhost THEN nullif(array_to_string(h[4:], ' '), '')
                        WHEN len(h) >= 3 THEN array_to_string(h[3:], ' ') END AS user0,
                   time0, {unescape("m.request")} AS request,
                   m.status AS status0, m.bytes AS bytes0,
                   {unescape("t.ref")} AS ref0, {unescape("t.agent")} AS agent0,
                   {unescape("t.xff")} AS xff0
            FROM (SELECT *, time0 IS NOT NULL AS p2_ok FROM vhosts)
        ),
        split AS (
            SELECT *, {request_struct("request")} FROM named
        ),
        reqs AS (
            SELECT *, {request_sql("request")} FROM split
        ),
        targets AS (
            SELECT *, CASE WHEN abs_url IS NOT NULL THEN coalesce(nullif(abs_url.rest, ''), '/')
                           ELSE target0 END AS target1
            FROM reqs
        )
    """  # noqa: S608 - constant patterns and the caller's relation and column names only


def clf_select(carry: Sequence[str] = (), extra: Sequence[str] = ()) -> str:
    """The access-line query's result over ``clf_ctes``'s ``targets`` (the
    ``linesql`` contract), with the ``carry`` columns and ``extra`` ones
    (``expression AS name`` over the steps' columns)."""
    keep = leading([*carry, *extra])
    return f"""
        SELECT log_line, _row, {keep}skip,
               timezone('UTC', try_strptime(time0, '%d/%b/%Y:%H:%M:%S %z')) AS timestamp,
               source_raw,
               lower(coalesce(nullif(regexp_replace(vhost, ':\\d+$', ''), ''),
                              nullif(abs_url.host, ''))) AS url_domain,
               CAST(TRY_CAST(regexp_extract(vhost, ':(\\d+)$', 1) AS USMALLINT) AS INTEGER)
                   AS destination_port,
               http_request_method, http_version,
               {path_query_sql()},
               {status_code_sql("status0")} AS http_response_status_code,
               {byte_count_sql("CASE WHEN bytes0 = '-' THEN NULL ELSE bytes0 END")}
                   AS http_response_bytes,
               {dash_null("ref0")} AS http_request_referrer,
               {dash_null("agent0")} AS user_agent_original,
               {dash_null("user0")} AS user_name,
               {dash_null("xff0")} AS {FORWARDED},
               CASE WHEN NOT matched THEN {lit(NOT_ACCESS_LOG)}
                    WHEN status0 <> '-' AND NOT {is_status_sql("status0")}
                        THEN {lit(INVALID_STATUS)}
                    WHEN bytes0 <> '-' AND NOT regexp_full_match(bytes0, '[0-9]{{1,18}}')
                        THEN {lit(INVALID_BYTES)}
               END AS reason
        FROM targets
    """  # noqa: S608 - constant patterns and the caller's relation and column names only


class ClfParser(Parser):
    """Apache/nginx common, combined and vhost_combined access logs."""

    name = "clf"
    dataset = "clf"
    table = "http"

    def __init__(self, ctx: ParseContext) -> None:
        super().__init__(ctx)

    @classmethod
    def sniff(cls, sample: Sequence[str]) -> bool:
        """True when at least half of the sample lines (and one) are access log lines."""
        try:
            hits = sum(1 for line in sample if _SNIFF_RE.match(line[:65536]))
            return hits > 0 and hits * 2 >= len(sample)
        except Exception:  # a sniffer must never stop format detection
            return False

    def parse(self, lines: pa.Table) -> Parsed:
        sql = f"WITH {clf_ctes('{view}')} {clf_select()}"
        return run_batch(self.ctx.con, lines, sql, {})


PARSERS: tuple[type[Parser], ...] = (ClfParser,)
