"""HAProxy HTTP logs (``option httplog``) through syslog (``--format haproxy``).

HAProxy's documented HTTP format, after the syslog envelope (one line)::

    haproxy[14389]: 10.0.1.2:33317 [06/Feb/2009:12:14:14.655] http-in static/srv1
        10/0/30/69/109 200 2750 - - ---- 1/1/1/1/0 0/0 {1wt.eu} {} "GET /index.html HTTP/1.1"

client:port, [accept date], frontend, backend/server, timers, status, bytes
read, cookies, termination state, connection counts, queues, optional
``{captured headers}``, and the request line in quotes, last. The accept date has
milliseconds and no zone: it is read in ``config.syslog.timezone`` and preferred
to the envelope's stamp. A status of -1 (the client went away) is null. Other
HAProxy lines (TCP-mode logs, start-up messages) are rejected with ``NOT_HTTPLOG``.
rsyslog's ``message repeated N times: [ ...]`` is read as the line inside, N times.

X-Forwarded-For is not read (``ingest.trusted_proxies`` does not apply): the
``{captured headers}`` are positional, ``|``-separated values whose names
only HAProxy's configuration holds (``capture request header``), and HAProxy
is most often the site's edge, whose client is the real one.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar, Final

import pyarrow as pa

from reconwatch.ingest import syslog
from reconwatch.ingest.auth_sshd import sniff_programs
from reconwatch.ingest.base import REPEAT, Parsed
from reconwatch.ingest.linesql import byte_count_sql, lit, run_batch, status_code_sql
from reconwatch.ingest.web_clf import path_query_sql, request_sql, request_struct

NOT_HAPROXY: Final = "not a haproxy line"
NOT_HTTPLOG: Final = "haproxy line not in HTTP log format"

#: The request line in quotes. HAProxy has no backslash escapes (Apache's
#: ``\"`` and ``\\`` are not HAProxy's): it writes ``"`` as ``#22``, ``#`` as
#: ``#23`` and bytes outside 32-126 as ``#XX`` (configuration.txt, "Non-printable
#: characters"), so the field holds no quote and a backslash is a byte of the
#: request. The ``#XX`` codes are kept as logged, as ``clf`` keeps ``\xNN``.
#: Some syslog daemons (syslog-ng) write HAProxy's two quotes as ``\"`` (the
#: same section): a backslash before the opening quote says so (HAProxy puts
#: a space there), and the one before the closing quote is then dropped.
QUOTED: Final = r'(\\?)"([^"]*)"'
HTTPLOG: Final = r"^(\S+):(\d+) \[([^\]]+)\] (\S+) \S+ \S+ (-?\d+) \+?(\d+) .* " + QUOTED + "$"
_NAMES: Final = "['ip', 'port', 'accept', 'frontend', 'status', 'bytes', 'esc', 'request']"


class HaproxyParser(syslog.EnvelopedParser):
    """HAProxy ``option httplog`` lines."""

    name = "haproxy"
    dataset = "haproxy"
    table = "http"
    programs: ClassVar[tuple[str, ...]] = ("haproxy",)

    @classmethod
    def sniff(cls, sample: Sequence[str]) -> bool:
        return sniff_programs(sample, cls.programs)

    def parse(self, lines: pa.Table) -> Parsed:
        k = syslog
        sql = f"""
        WITH lines AS (
            SELECT log_line, _row, line, regexp_full_match(line, '\\s*') AS skip FROM {{view}}
        ),
        -- rsyslog's "message repeated N times: [ ...]": the request inside, N times
        -- (one cut at rsyslog's 800 characters loses its closing quote: rejected).
        env AS ({self.envelope.select_sql("lines", repeats=True)}),
        cut AS (
            SELECT *, CASE WHEN {k.PROGRAM} = 'haproxy'
                           THEN regexp_extract({k.MESSAGE}, {lit(HTTPLOG)}, {_NAMES}) END AS m
            FROM env
        ),
        -- HAProxy escapes no backslash: the request line is kept as logged
        -- (less the relay's backslash before the closing quote, see QUOTED).
        named AS (
            SELECT *, CASE WHEN m.esc <> '' AND suffix(m.request, '\\')
                           THEN left(m.request, -1) ELSE m.request END AS request
            FROM cut
        ),
        split AS (SELECT *, {request_struct("request")} FROM named),
        reqs AS (SELECT *, {request_sql("request")} FROM split),
        targets AS (
            SELECT *, CASE WHEN abs_url IS NOT NULL THEN coalesce(nullif(abs_url.rest, ''), '/')
                           ELSE target0 END AS target1
            FROM reqs
        )
        SELECT log_line, _row, skip, {k.TIME}, {k.MONTH}, {k.DAY}, {k.TOD},
               {k.HOST} AS observer_name,
               timezone('UTC', timezone($hap_tz,
                   try_strptime(m.accept, '%d/%b/%Y:%H:%M:%S.%g'))) AS timestamp,
               m.ip AS source_raw,
               CAST(TRY_CAST(nullif(m.port, '') AS USMALLINT) AS INTEGER) AS source_port,
               lower(nullif(abs_url.host, '')) AS url_domain,
               http_request_method, http_version,
               {path_query_sql()},
               {status_code_sql("m.status")} AS http_response_status_code,
               {byte_count_sql("m.bytes")} AS http_response_bytes,
               {REPEAT},
               CASE WHEN {k.KIND} IS NULL OR {k.PROGRAM} IS DISTINCT FROM 'haproxy'
                        THEN {lit(NOT_HAPROXY)}
                    WHEN m.ip = '' THEN {lit(NOT_HTTPLOG)}
               END AS reason
        FROM targets
        """  # noqa: S608 - constant patterns and a generated view name only
        params: dict[str, object] = {"hap_tz": self.ctx.config.syslog.timezone}
        return run_batch(self.ctx.con, lines, sql, params, self.envelope)
