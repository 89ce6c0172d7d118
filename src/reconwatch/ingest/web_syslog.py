"""Web access lines relayed through syslog, under any program tag (``--format web-syslog``).

A central collector gets web access logs as syslog: Apache's ``CustomLog
"|/usr/bin/logger -t apache2" combined``, rsyslog's ``imfile`` under whatever
tag the admin chose (``apache-access``, ``web01``), lighttpd's
``accesslog.use-syslog``, nginx's ``access_log syslog:`` (tagged ``nginx``:
``nginx-error`` reads those, with this module's query). There the syslog copy
may be the only one. The message is the access line itself::

    Sep 30 10:00:01 web1 apache-access: 198.51.100.7 - - [30/Sep/2026:10:00:01 +0200]
        "GET /.env HTTP/1.1" 404 153 "-" "curl/8.0"

(one line, folded here). It is read by ``clf``'s query (common, combined,
vhost_combined, nginx's ``main``) or, for a message starting with ``{``, by
``nginx-json``'s under the configured keys (``ingest.nginx_json_fields``), and
rejected for their reasons. Rows have dataset ``syslog.access`` (``nginx.access``
for nginx's), the line's own zoned stamp (the envelope's only where the line
has none, JSON without a time key: an own stamp that does not read is
rejected, as in its file), the envelope's host as observer; JSON must name a
request (or path) and a status (``NOT_ACCESS_JSON``: an application's JSON
naming a client ``ip`` is no web request); rsyslog's ``message repeated N
times: [ msg]`` is read as ``msg``, N events. A line without a syslog envelope
is rejected (``NOT_SYSLOG``).

Chosen by sniffing when at least half of a file's first lines are syslog lines
whose message starts like an access line (``ACCESS_START``); in a mixed syslog
file the multiplexer hands it the lines of programs no parser claims whose
message starts so (``access_mask``), where they were "syslog program without a
parser".
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Final

import pyarrow as pa
import pyarrow.compute as pc

from reconwatch.config import IngestConfig
from reconwatch.ingest import syslog
from reconwatch.ingest.base import REPEAT, Parsed
from reconwatch.ingest.fw_common import NOT_SYSLOG, sniff_share
from reconwatch.ingest.linesql import INVALID_TIMESTAMP, lit, run_batch
from reconwatch.ingest.web_clf import NOT_ACCESS_LOG, clf_ctes, clf_select
from reconwatch.ingest.web_json import NOT_ACCESS_LOG as NOT_CLIENT_JSON
from reconwatch.ingest.web_json import NOT_JSON, JsonAccessQuery

#: The dataset of this parser's rows.
ACCESS_DATASET: Final = "syslog.access"
NOT_ACCESS_JSON: Final = "JSON without a request and a status: not an access line"
#: Reasons that say a message is no access line at all: for the lines the
#: multiplexer hands over (programs nobody claims), "syslog program without a
#: parser" stands instead (``syslogmux``).
NOT_ACCESS: Final = (NOT_ACCESS_LOG, NOT_JSON, NOT_CLIENT_JSON, NOT_ACCESS_JSON)

#: How an access line's message starts: ``clf``'s words before the stamp, the
#: bracketed stamp and the request's opening quote; or a JSON object's ``{``.
ACCESS_START: Final = r'(?:\{|\S+ \S+(?: \S+)?(?: \S+)? \[[^\]]*\] ")'


def _access_patterns(tag: str, app: str) -> tuple[str, str]:
    """A syslog line whose message starts like an access line: RFC 3164 or ISO
    envelope (``tag``: the program tag's pattern), RFC 5424 (``app``: its APP-NAME's)."""
    return (
        rf"^{syslog.PRI}(?:{syslog.BSD_STAMP}|{syslog.ISO_STAMP}) \S+ {tag} {ACCESS_START}",
        rf"^<\d{{1,3}}>1 \S+ \S+ {app} \S+ \S+ {syslog.STRUCTURED_DATA} "
        rf"\x{{FEFF}}?{ACCESS_START}",
    )


BSD_ISO_ACCESS, RFC5424_ACCESS = _access_patterns(syslog.TAG, r"\S+")
_SNIFF: Final = re.compile(BSD_ISO_ACCESS + "|" + RFC5424_ACCESS.replace(r"\x{FEFF}", "\ufeff"))


def access_mask(
    lines: pa.Array | pa.ChunkedArray, program: str | None = None
) -> pa.Array | pa.ChunkedArray:
    """Which of ``lines`` are syslog lines whose message starts like an access
    line, of any program or of ``program`` only (Arrow's RE2, vectorised;
    never null)."""
    patterns = (BSD_ISO_ACCESS, RFC5424_ACCESS)
    if program is not None:
        name = re.escape(program)
        patterns = _access_patterns(rf"{name}(?:\[\d+\])?:", name)
    bsd, rfc5424 = (pc.match_substring_regex(lines, pattern) for pattern in patterns)
    return pc.fill_null(pc.or_(bsd, rfc5424), False)


#: What the result's reason needs beyond the readers' columns: the line's own
#: stamp as written, and for JSON whether it names a request and a status.
CLF_EXTRA: Final = ("coalesce(time0, '') AS _stamp", "false AS _json",
                    "'' AS _request", "'' AS _status")  # fmt: skip
JSON_EXTRA: Final = (
    "coalesce(f_timestamp, '') AS _stamp", "true AS _json",
    "coalesce(nullif(f_request, ''), f_url_path, '') AS _request",
    "coalesce(f_http_response_status_code, '') AS _status",
)  # fmt: skip


def access_query(
    envelope: syslog.SyslogEnvelope, config: IngestConfig, dataset: str
) -> tuple[str, dict[str, object]]:
    """The query (and its parameters) reading access lines in syslog: the
    envelope cut, each message read by ``clf``'s steps or, starting with
    ``{``, ``nginx-json``'s, one result (``UNION ALL BY NAME``); rows of
    ``dataset``, the envelope's host as observer."""
    k = syslog
    carry = (k.KIND, k.TIME, k.MONTH, k.DAY, k.TOD, k.HOST, REPEAT, "_blank")
    json = JsonAccessQuery(config)
    # Constant SQL, our column names and a generated view name only: the log
    # text is read by the query, never written into it.
    sql = f"""
    WITH lines AS (
        SELECT log_line, _row, line, regexp_full_match(line, '\\s*') AS _blank FROM {{view}}
    ),
    env AS ({envelope.select_sql("lines", repeats=True)}),
    routed AS (SELECT *, coalesce(starts_with(ltrim({k.MESSAGE}), '{{'), false) AS _json FROM env),
    clf_env AS (SELECT * FROM routed WHERE NOT _json),
    json_env AS (SELECT * FROM routed WHERE _json),
    {clf_ctes("clf_env", k.MESSAGE, carry)},
    {json.ctes("json_env", k.MESSAGE, carry)}
    SELECT * EXCLUDE (_blank, _stamp, _json, _request, _status)
             -- A line without an envelope has an empty message, which the
             -- steps would skip as blank: it is rejected instead.
             REPLACE (_blank OR ({k.KIND} IS NOT NULL AND coalesce(skip, false)) AS skip,
                      CASE WHEN {k.KIND} IS NULL THEN {lit(NOT_SYSLOG)}
                           WHEN reason IS NOT NULL THEN reason
                           -- An access line names its request and its answer:
                           -- other JSON (an application's) is not one.
                           WHEN _json AND (_request = '' OR _status = '')
                               THEN {lit(NOT_ACCESS_JSON)}
                           -- A stamp of its own that does not read: as in its
                           -- file, not the envelope's stamp in its place.
                           WHEN _stamp <> '' AND timestamp IS NULL THEN {lit(INVALID_TIMESTAMP)}
                      END AS reason),
           {k.HOST} AS observer_name, {lit(dataset)} AS event_dataset
    FROM ({clf_select(carry, CLF_EXTRA)} UNION ALL BY NAME {json.select(carry, JSON_EXTRA)})
    """  # noqa: S608
    return sql, json.params


class SyslogAccessParser(syslog.EnvelopedParser):
    """Web access lines (clf's formats, or JSON) in syslog, under any program tag."""

    name = "web-syslog"
    dataset = ACCESS_DATASET
    table = "http"
    #: A file sniffed as this one may hold other programs' lines further down
    #: (a relay's file that starts with the web server's): they go to theirs.
    syslog_borne = True

    @classmethod
    def sniff(cls, sample: Sequence[str]) -> bool:
        """At least half of the sample syslog lines whose message starts like an access line."""
        return sniff_share(sample, _SNIFF)

    def parse(self, lines: pa.Table) -> Parsed:
        sql, params = access_query(self.envelope, self.ctx.config.ingest, self.dataset)
        return run_batch(self.ctx.con, lines, sql, params, self.envelope)
