"""nginx error log, its own file or through syslog (``--format nginx-error``).

nginx writes every request for a missing file to its error log
(``log_not_found on`` is the default), and pfSense sends its web GUI's nginx
error log through syslog (as OPNsense does with its nginx plugin): for those
hosts it is the only record of web reconnaissance. The line, as ``ngx_log_error_core`` and
``ngx_http_log_error`` write it::

    2026/09/30 10:00:00 [error] 812#812: *7 open() "/usr/local/www/.env" failed
        (2: No such file or directory), client: 198.51.100.7, server: , request: "GET /.env
        HTTP/2.0", host: "fw.example.net"

stamp (server local time, no zone), ``[level]``, ``pid#tid:``, ``*connection``
(only for messages about a connection), the message, then for messages about a
request ``[ while ACTION], client: ADDR, server: NAME[, request: "LINE"][,
subrequest: "URI"][, upstream: "URL"][, host: "HOST"][, referrer: "URL"]`` in
that order. Each request-bound line (with ``client:`` and ``request:``) is one
``http`` row: client, method, path, query and protocol from the request line,
``url_domain`` from ``host`` (lower-case, port dropped), referrer, and a status
read from the message (``STATUSES``): the error log has none, and the status is
what nginx answers such a request with, unless ``error_page`` or a retry on
another upstream server changes it. A line whose message implies no status (a
PHP warning over FastCGI, a response buffered to a file: mostly requests that
succeeded, which the access log holds) is rejected (``NO_STATUS``): as a row it
would count the request twice beside its access log.

In syslog (RFC 3164, ISO and RFC 5424 envelopes, program ``nginx``: nginx's own
``error_log syslog:`` writer sends the whole line, stamp included) the
envelope's stamp is taken when it carries a zone (ISO, RFC 5424: nginx's own
has none, and the configured zone may not be that host's), nginx's own under an
RFC 3164 envelope (seconds and a year); the envelope host is the observer; rsyslog's
``message repeated N times: [ msg]`` is read as ``msg``, N times. Stamps
without a zone (nginx's own) are read in ``config.syslog.timezone`` (the
input's zone of ``syslog.timezones``, as every parser's own stamps are).

Log text is written raw by nginx (``%V``: no escapes, not even for ``"``): the
request line is kept as logged, and a quoted value holding quotes is cut where
the rest of the line still reads as nginx's fields. A request line that is no
request (TLS handshakes and binary junk from scanners, a bare word) is a row
with a null method and the text in ``url_path``, as in ``clf``.

Whom a line blames must be the client nginx wrote, never text a client sent:
the message before nginx's ``, client:`` quotes the decoded URI, and the
request line, host and referrer after it are the client's own bytes. So a
line naming two different clients is rejected (``AMBIGUOUS_CLIENT``: a scanner
can have its own lines rejected so, by quoting a second client in a header,
which the accounting then shows), and so is a line nginx (or a relay) cut
short (``CUT``: 2047 bytes and more, nginx's ``NGX_MAX_ERROR_STR``, or not
ending in the closing quote of its last field), whose real client may be the
part cut off, with a forged one left in the message. ``[debug]`` lines carry
no request fields of nginx's (``DEBUG``), only raw request data.

Rejected, each with its reason: lines that are no nginx error line
(``NOT_NGINX_ERROR``), nginx's process messages (start-up, signals, workers:
no ``*connection``, ``NO_CONNECTION``), connection messages without a client
request (TLS handshake failures, keepalive timeouts, ``NO_REQUEST``), lines
naming two different clients (``AMBIGUOUS_CLIENT``) and lines of other syslog
programs (``OTHER_PROGRAM``).

nginx *access* lines in syslog (``access_log syslog:`` tags them ``nginx`` too,
and syslog may be their only copy) are read by ``clf``'s query over the
message, or ``nginx-json``'s for a message starting with ``{``
(``web_syslog.access_query``): rows of dataset ``nginx.access``
(``ACCESS_DATASET``), rejected for those parsers' reasons, the envelope's host
as observer.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import ClassVar, Final, NamedTuple

import pyarrow as pa
import pyarrow.compute as pc

from reconwatch.ingest import syslog
from reconwatch.ingest.auth_sshd import sniff_programs
from reconwatch.ingest.base import REPEAT, Parsed
from reconwatch.ingest.fw_common import local_to_utc_sql, sniff_share
from reconwatch.ingest.linesql import lit, run_batch
from reconwatch.ingest.web_clf import (
    path_query_sql,
    request_sql,
    request_struct,
)
from reconwatch.ingest.web_syslog import access_mask, access_query

NOT_NGINX_ERROR: Final = "not an nginx error log line"
DEBUG: Final = "nginx debug line: no request fields"
CUT: Final = "nginx error line cut short: client not trusted"
NO_STATUS: Final = "nginx error line implying no status: not read"
#: nginx cuts a line at ``NGX_MAX_ERROR_STR`` (2048) bytes, its newline included.
MAX_LINE_BYTES: Final = 2047
NO_CONNECTION: Final = "nginx message without a client connection"
NO_REQUEST: Final = "nginx error line without a client request"
AMBIGUOUS_CLIENT: Final = "nginx error line naming more than one client"
#: The dataset of the access lines read from syslog.
ACCESS_DATASET: Final = "nginx.access"
OTHER_PROGRAM: Final = "line of another syslog program"

#: nginx's level names (``err_levels`` in ``src/core/ngx_log.c``).
LEVELS: Final = ("emerg", "alert", "crit", "error", "warn", "notice", "info", "debug")
_LEVEL: Final = "(?:" + "|".join(LEVELS) + ")"
_STAMP: Final = r"\d{4}/\d{2}/\d{2} \d{2}:\d{2}:\d{2}"

#: A line of nginx's own file, for sniffing: stamp, [level], pid#tid.
OWN_LINE: Final = rf"^{_STAMP} \[{_LEVEL}\] \d+#\d+: "
#: The head of a message: the stamp (optional in syslog only), the level, the
#: connection number (absent from process messages) and the rest.
HEAD: Final = rf"^(?:({_STAMP}) )?\[({_LEVEL})\] \d+#\d+: (?:\*(\d+) )?(.*)$"
_HEAD_NAMES: Final = "['stamp', 'level', 'conn', 'rest']"

#: Where the request's fields start: ``, client: ADDR, server: `` (the address
#: is nginx's ``addr_text``, never holding a space or a comma).
CLIENT_AT: Final = r", client: ([^\s,]*), server: "
#: The message before the first ``CLIENT_AT`` (lazy: the shortest).
BEFORE_CLIENT: Final = r"^(.*?)" + CLIENT_AT
#: The message before the last ``CLIENT_AT``: what the status is read from (the
#: same as the first where nginx named its client once; where a URI quotes the
#: same address again, the message nginx wrote before its own).
BEFORE_LAST_CLIENT: Final = r"^(.*)" + CLIENT_AT


def _field(name: str, capture: bool) -> str:
    """An optional ``, name: "value"`` field; a value the line's end cut off
    (no closing quote) still reads, so that the line is rejected as ``CUT``
    rather than as having no request."""
    value = "(.*?)" if capture else "(?:.*?)"
    return f'(?:, {name}: "{value}(?:"|$))?'


#: The request's fields from ``CLIENT_AT`` to the end, in nginx's order.
#: Values are raw text: each is the shortest that lets the rest of the line
#: read as the fields that follow.
FIELDS: Final = (
    r"^, client: ([^\s,]*), server: (.*?)"
    + _field("request", True)
    + _field("subrequest", False)
    + _field("upstream", False)
    + _field("host", True)
    + _field("referrer", True)
    + "$"
)
_FIELD_NAMES: Final = "['client', 'server', 'request', 'host', 'referrer']"


class Status(NamedTuple):
    """A message nginx logs for a request, and the status it answers it with."""

    pattern: str
    status: int
    #: The level nginx logs it at, where the same words at another level mean
    #: something else (an ``open()`` of a temporary file fails at ``crit``).
    level: str | None = None


_ACTION: Final = r"(?: while [a-z ]+)?$"
_ERRNO: Final = r"\(\d+: [^)]*\)"

#: nginx's own messages and the status it answers the request with, first
#: match wins (source: nginx's ``src/http``; the errno texts are glibc's and
#: FreeBSD's, which agree). Upstream failures come first: ``connect() to
#: unix:/run/php.sock failed (2: No such file or directory)`` is a 502.
STATUSES: Final = (
    # ngx_event_connect / ngx_http_upstream_next(NGX_HTTP_UPSTREAM_FT_ERROR)
    Status(rf"^connect\(\) (?:to \S+ )?failed {_ERRNO} while connecting to upstream$", 502),
    Status(r"^no live upstreams while connecting to upstream$", 502),
    Status(r"^upstream prematurely closed connection while reading response header "
           r"from upstream$", 502),
    Status(rf"^recv\(\) failed {_ERRNO} while reading response header from upstream$", 502),
    # NGX_HTTP_UPSTREAM_FT_TIMEOUT (after the header nginx has sent its status already)
    Status(rf"^upstream timed out {_ERRNO} while (?:connecting to|sending request to|"
           r"reading response header from) upstream$", 504),
    # ngx_http_static_module (and flv, mp4): ENOENT, ENOTDIR, ENAMETOOLONG
    Status(r'^[a-z]+\(\) ".*" failed \(\d+: (?:No such file or directory|Not a directory|'
           r"File name too long)\)" + _ACTION, 404, "error"),
    # ngx_http_index_module: any error but EACCES
    Status(rf'^".*" is not found {_ERRNO}' + _ACTION, 404, "error"),
    # ngx_http_static_module: EACCES, and EMLINK/ELOOP under disable_symlinks
    Status(r'^[a-z]+\(\) ".*" failed \(\d+: (?:Permission denied|Too many links|'
           r"Too many levels of symbolic links)\)" + _ACTION, 403, "error"),
    Status(r'^".*" is forbidden \(\d+: Permission denied\)' + _ACTION, 403, "error"),
    # ngx_http_core_module: a directory without an index file, autoindex off
    Status(r'^directory index of ".*" is forbidden' + _ACTION, 403),
    # ngx_http_access_module (deny)
    Status(r"^access forbidden by rule" + _ACTION, 403),
    # ngx_http_auth_basic_module
    Status(r'^user ".*" was not found in ".*"' + _ACTION, 401),
    Status(r'^user ".*": password mismatch' + _ACTION, 401),
    # PHP-FPM answers a script it cannot find with "Status: 404"
    Status(r'^FastCGI sent in stderr: "Primary script unknown"', 404),
    # client_max_body_size
    Status(r"^client intended to send too large (?:chunked )?body: ", 413),
    # limit_req_status and limit_conn_status default to 503 (", dry run" rejects nothing)
    Status(r"^limiting requests, excess: ", 503),
    Status(r"^limiting connections by zone ", 503),
    # ngx_http_process_request_line: a request line that does not parse, or too long a URI
    Status(r"^client sent invalid (?:method|request)(?: in HTTP/0\.9 request)?" + _ACTION, 400),
    Status(r"^client sent too long URI" + _ACTION, 414),
    # ngx_http_request.c: a bad Host header; plain HTTP to a TLS port (497, answered 400)
    Status(r"^client sent invalid host header" + _ACTION, 400),
    Status(r"^client sent plain HTTP request to HTTPS port" + _ACTION, 400),
)  # fmt: skip


def status_sql(message: str, level: str) -> str:
    """SQL: the status of ``STATUSES`` for ``message`` logged at ``level``, else NULL."""
    whens = " ".join(
        f"WHEN {f'{level} = {lit(s.level)} AND ' if s.level else ''}"
        f"regexp_matches({message}, {lit(s.pattern)}) THEN {s.status}"
        for s in STATUSES
    )
    return f"CAST(CASE {whens} END AS SMALLINT)"


_OWN_LINE_RE: Final = re.compile(OWN_LINE)


class NginxErrorParser(syslog.EnvelopedParser):
    """nginx error log lines about client requests (own file, or syslog program ``nginx``)."""

    name = "nginx-error"
    dataset = "nginx.error"
    table = "http"
    programs: ClassVar[tuple[str, ...]] = ("nginx",)

    @classmethod
    def sniff(cls, sample: Sequence[str]) -> bool:
        """At least half of the sample nginx's own error lines (stamp, level,
        pid#tid), or syslog lines of program ``nginx``."""
        return sniff_share(sample, _OWN_LINE_RE) or sniff_programs(sample, cls.programs)

    def parse(self, lines: pa.Table) -> Parsed:
        # nginx's access_log syslog: writer tags its lines "nginx" too: they
        # are read as web-syslog reads access lines in syslog, the rest as
        # error lines (one query each; most batches have no access lines).
        access = access_mask(lines.column("line"), "nginx")
        if not pc.any(access).as_py():
            return self._errors(lines)
        errors = self._errors(lines.filter(pc.invert(access)))
        access_sql, access_params = access_query(
            self.envelope, self.ctx.config.ingest, ACCESS_DATASET
        )
        read = run_batch(
            self.ctx.con, lines.filter(access), access_sql, access_params, self.envelope
        )
        named = errors.rows.append_column(
            "event_dataset", pa.repeat(pa.scalar(self.dataset), errors.rows.num_rows)
        )
        return Parsed(
            rows=pa.concat_tables([named, read.rows], promote_options="default"),
            rejects=pa.concat_tables([errors.rejects, read.rejects]).sort_by("log_line"),
            skipped=errors.skipped + read.skipped,
        )

    def _errors(self, lines: pa.Table) -> Parsed:
        """The error lines (and whatever else is not an nginx access line)."""
        k = syslog
        tz = self.ctx.config.syslog.timezone
        local = "try_strptime(h.stamp, '%Y/%m/%d %H:%M:%S')"
        sql = f"""
        WITH lines AS (
            SELECT log_line, _row, line, regexp_full_match(line, '\\s*') AS skip FROM {{view}}
        ),
        -- rsyslog's "message repeated N times: [ msg]": msg, N times.
        env AS ({self.envelope.select_sql("lines", repeats=True)}),
        msg AS (
            -- A line of nginx's own file has no envelope: the whole line is the message.
            SELECT *, CASE WHEN {k.KIND} IS NULL THEN line ELSE {k.MESSAGE} END AS message,
                   {k.KIND} IS NOT NULL AND {k.PROGRAM} IS DISTINCT FROM 'nginx' AS other
            FROM env
        ),
        heads AS (
            SELECT *, CASE WHEN NOT other
                           THEN regexp_extract(message, {lit(HEAD)}, {_HEAD_NAMES}) END AS h
            FROM msg
        ),
        clients AS (
            -- Every client the line names: a message quoting a decoded URI or a
            -- header can hold the words of a forged one (", client: 192.0.2.9,
            -- server: "); a line naming two different ones is not read.
            SELECT *, regexp_extract_all(h.rest, {lit(CLIENT_AT)}, 1) AS named,
                      regexp_extract(h.rest, {lit(BEFORE_CLIENT)}, 1) AS text,
                      regexp_extract(h.rest, {lit(BEFORE_LAST_CLIENT)}, 1) AS said
            FROM heads
        ),
        cut AS (
            SELECT *, regexp_extract(substr(h.rest, length(text) + 1), {lit(FIELDS)},
                                     {_FIELD_NAMES}) AS f,
                   {status_sql("said", "h.level")} AS status
            FROM clients
        ),
        -- nginx writes the request line raw (no escapes to undo).
        split AS (SELECT *, nullif(f.request, '') AS request, {request_struct("f.request")}
                  FROM cut),
        reqs AS (SELECT *, {request_sql("request")} FROM split),
        targets AS (
            SELECT *, CASE WHEN abs_url IS NOT NULL THEN coalesce(nullif(abs_url.rest, ''), '/')
                           ELSE target0 END AS target1
            FROM reqs
        )
        SELECT log_line, _row, skip, {k.TIME}, {k.MONTH}, {k.DAY}, {k.TOD},
               {k.HOST} AS observer_name,
               -- nginx's stamp has no zone: an envelope's zoned time comes first.
               CASE WHEN h.stamp <> '' AND {k.TIME} IS NULL
                    THEN {local_to_utc_sql(local, tz, "nginx_tz")} END AS timestamp,
               f.client AS source_raw,
               lower(coalesce(nullif(regexp_replace(f.host, ':[0-9]+$', ''), ''),
                              nullif(abs_url.host, ''))) AS url_domain,
               http_request_method, http_version,
               {path_query_sql()},
               status AS http_response_status_code,
               nullif(f.referrer, '') AS http_request_referrer,
               {REPEAT},
               CASE WHEN other THEN {lit(OTHER_PROGRAM)}
                    -- nginx's own file always has the stamp; only syslog may stand in for it
                    WHEN h.level = '' OR ({k.KIND} IS NULL AND h.stamp = '')
                        THEN {lit(NOT_NGINX_ERROR)}
                    WHEN h.level = 'debug' THEN {lit(DEBUG)}
                    WHEN h.conn = '' THEN {lit(NO_CONNECTION)}
                    -- A request-bound line ends with its last field's closing quote.
                    WHEN strlen(rtrim(message)) >= {MAX_LINE_BYTES}
                         OR (request IS NOT NULL AND NOT suffix(rtrim(message), '"'))
                        THEN {lit(CUT)}
                    WHEN len(list_distinct(named)) > 1 THEN {lit(AMBIGUOUS_CLIENT)}
                    WHEN len(named) = 0 OR request IS NULL THEN {lit(NO_REQUEST)}
                    WHEN status IS NULL THEN {lit(NO_STATUS)}
               END AS reason
        FROM targets
        """  # noqa: S608 - constant patterns and a generated view name only
        params: dict[str, object] = {}
        if tz not in syslog.UTC_NAMES:
            params["nginx_tz"] = tz
        return run_batch(self.ctx.con, lines, sql, params, self.envelope)
