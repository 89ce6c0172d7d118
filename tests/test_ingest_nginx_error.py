"""nginx error log (``nginx-error``): its own file and syslog, one http row per request."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ingest_helpers import NOW, http, make, parse, rejects, rows, utc
from reconwatch.config import Config, SyslogConfig
from reconwatch.hunt import hunt
from reconwatch.ingest import base, registry
from reconwatch.ingest.base import ParseContext
from reconwatch.ingest.linesql import INVALID_SOURCE
from reconwatch.ingest.run import IngestOptions, ingest
from reconwatch.ingest.sources import head_lines
from reconwatch.ingest.syslogmux import SyslogMuxParser, claimants
from reconwatch.ingest.web_nginx_error import (
    AMBIGUOUS_CLIENT,
    CUT,
    DEBUG,
    MAX_LINE_BYTES,
    NO_CONNECTION,
    NO_REQUEST,
    NO_STATUS,
    NOT_NGINX_ERROR,
    OTHER_PROGRAM,
    NginxErrorParser,
)
from reconwatch.lake import Lake

PFSENSE = Path("pfsense-rfc5424-nginx") / "pfsense-rfc5424-nginx.log"


def own(message: str, level: str = "error", second: int = 0) -> str:
    """A line of nginx's own error.log for connection 7."""
    return f"2026/09/30 10:00:{second:02d} [{level}] 812#812: *7 {message}"


def request_of(message: str, client: str = "198.51.100.7", path: str = "/x") -> str:
    return (
        f'{message}, client: {client}, server: www.example.net, request: "GET {path} HTTP/1.1", '
        'host: "www.example.net"'
    )


# -- the real sample ----------------------------------------------------------------------


def test_real_pfsense_line_through_rfc5424_syslog(crowdsec_hub: Path) -> None:
    lines = (crowdsec_hub / PFSENSE).read_text().splitlines()
    parsed = parse(make(NginxErrorParser), lines)
    assert rows(parsed.rows, "http") == [
        http(
            log_line=1,
            timestamp=utc(2025, 11, 5, 20, 47, 3),
            source_ip="fdfd:ace:ace:7::17a",
            url_domain="firewall.lan",
            http_request_method="GET",
            url_path="/crowdsec-test-NtktlJHV4TfBSK3wvlhiOBnl",
            http_version="HTTP/2.0",
            http_response_status_code=404,
            observer_name="firewall.lan",
        )
    ]
    assert parsed.rejects.num_rows == 0


def test_real_pfsense_sample_is_sniffed_and_ingested_as_nginx_error(
    crowdsec_hub: Path, tmp_path: Path
) -> None:
    # Before this parser the line was "syslog program without a parser".
    sample = head_lines((crowdsec_hub / PFSENSE).read_bytes())
    assert registry.sniff(sample) is NginxErrorParser
    lake = Lake(tmp_path / "lake")
    (stats,) = ingest([str(crowdsec_hub / PFSENSE)], lake, Config(), IngestOptions(now=NOW)).files
    # The file ends with a blank line: skipped.
    assert (stats.format, stats.lines, stats.parsed, stats.rejected, stats.skipped) == (
        "nginx-error", 2, 1, 0, 1,
    )  # fmt: skip
    (row,) = lake.read("http").to_pylist()
    assert (row["event_dataset"], row["source_ip"], row["http_response_status_code"]) == (
        "nginx.error",
        "fdfd:ace:ace:7::17a",
        404,
    )


# -- own file: messages, levels and the status table --------------------------------------


@pytest.mark.parametrize(
    ("level", "message", "status"),
    [
        ("error", 'open() "/srv/www/.env" failed (2: No such file or directory)', 404),
        ("error", 'stat() "/srv/www/a/b" failed (20: Not a directory)', 404),
        ("error", '"/srv/www/admin/index.html" is not found (2: No such file or directory)', 404),
        ("error", 'open() "/srv/www/secret" failed (13: Permission denied)', 403),
        ("error", '"/srv/www/private/index.html" is forbidden (13: Permission denied)', 403),
        ("error", 'directory index of "/srv/www/backup/" is forbidden', 403),
        ("error", "access forbidden by rule", 403),
        ("error", 'user "admin" was not found in "/etc/nginx/.htpasswd"', 401),
        ("error", 'user "admin": password mismatch', 401),
        ("error", 'FastCGI sent in stderr: "Primary script unknown" while reading response '
                  "header from upstream", 404),
        ("error", "client intended to send too large body: 10485760 bytes", 413),
        ("error", 'limiting requests, excess: 20.500 by zone "perip"', 503),
        ("warn", 'limiting requests, excess: 20.500 by zone "perip"', 503),
        ("error", 'limiting connections by zone "addr"', 503),
        ("error", "upstream timed out (110: Connection timed out) while reading response header "
                  "from upstream", 504),
        ("error", "connect() failed (111: Connection refused) while connecting to upstream", 502),
        ("crit", "connect() to unix:/run/php/php-fpm.sock failed (2: No such file or directory) "
                 "while connecting to upstream", 502),
        ("error", "no live upstreams while connecting to upstream", 502),
        ("error", "upstream prematurely closed connection while reading response header from "
                  "upstream", 502),
        ("info", "client sent invalid method while reading client request line", 400),
        # The same words at another level, or a limit not enforced: no status.
        ("crit", 'open() "/var/lib/nginx/body/0000000001" failed (13: Permission denied)', None),
        ("error", 'limiting requests, dry run, excess: 20.500 by zone "perip"', None),
        ("warn", "delaying request, excess: 0.500, by zone \"perip\"", None),
        ("error", "upstream timed out (110: Connection timed out) while reading upstream", None),
        ("info", "client closed connection while waiting for request", None),
    ],
)  # fmt: skip
def test_own_file_status_from_the_message(level: str, message: str, status: int | None) -> None:
    parsed = parse(make(NginxErrorParser), [own(request_of(message), level)])
    if status is None:
        # No status implied (mostly a request that succeeded, in the access log):
        # as a row it would count the request twice.
        assert parsed.rows.num_rows == 0 and rejects(parsed) == [(1, NO_STATUS)]
        return
    assert rows(parsed.rows, "http") == [
        http(
            log_line=1,
            timestamp=utc(2026, 9, 30, 10),
            source_ip="198.51.100.7",
            url_domain="www.example.net",
            http_request_method="GET",
            url_path="/x",
            http_version="HTTP/1.1",
            http_response_status_code=status,
        )
    ]


def test_ipv6_clients_queries_referrers_ports_and_absolute_targets() -> None:
    lines = [
        own('open() "/srv/www/wp-login.php" failed (2: No such file or directory), '
            "client: 2001:DB8::1, server: _, "
            'request: "GET /wp-login.php?redirect_to=%2Fwp-admin&x=1 HTTP/1.1", '
            'host: "WWW.Example.NET:8443", referrer: "http://evil.example/?q=1"'),
        own('open() "/srv/www/a" failed (2: No such file or directory), '
            'client: ::ffff:192.0.2.5, server: www.example.net, '
            'request: "GET http://Other.Example:81/a?b HTTP/1.0"'),
        own('open() "/srv/www/a" failed (2: No such file or directory), client: not-an-ip, '
            'server: , request: "GET /a HTTP/1.1"'),
    ]  # fmt: skip
    parsed = parse(make(NginxErrorParser), lines)
    assert rows(parsed.rows, "http") == [
        http(
            log_line=1,
            timestamp=utc(2026, 9, 30, 10),
            source_ip="2001:db8::1",
            url_domain="www.example.net",
            http_request_method="GET",
            url_path="/wp-login.php",
            url_query="redirect_to=%2Fwp-admin&x=1",
            http_version="HTTP/1.1",
            http_response_status_code=404,
            http_request_referrer="http://evil.example/?q=1",
        ),
        http(
            log_line=2,
            timestamp=utc(2026, 9, 30, 10),
            source_ip="192.0.2.5",
            url_domain="other.example",  # no Host header: the absolute target's host
            http_request_method="GET",
            url_path="/a",
            url_query="b",
            http_version="HTTP/1.0",
            http_response_status_code=404,
        ),
    ]
    assert rejects(parsed) == [(3, INVALID_SOURCE)]


def test_garbage_request_lines_are_rows_with_null_method_and_cut_ones_rejected() -> None:
    tls = "\\x16\\x03\\x01\\x00\\xA5\\x01\\x00\\x00\\xA1\\x03\\x03"
    lines = [
        # Escaped as in the brief's sample, and raw bytes read as U+FFFD.
        own("client sent invalid method while reading client request line, client: "
            f'203.0.113.9, server: _, request: "{tls}"', "info"),
        own("client sent invalid method while reading client request line, client: "
            'fd00::9, server: _, request: "\ufffd\ufffd\x01"', "info"),
        # A request line with a quote inside (nginx writes it raw), then host.
        own('open() "/srv/www/a\\"b" failed (2: No such file or directory), client: 203.0.113.9, '
            'server: _, request: "GET /a"b HTTP/1.1", host: "h"'),
        # Cut at nginx's 2048 bytes: no closing quote.
        own('open() "/srv/www/aaa" failed (2: No such file or directory), client: 203.0.113.9, '
            'server: _, request: "GET /aaa?q=' + "z" * 40),
    ]  # fmt: skip
    parsed = parse(make(NginxErrorParser), lines)
    summary = [
        (r["source_ip"], r["http_request_method"], r["url_path"], r["url_query"],
         r["http_version"], r["url_domain"], r["http_response_status_code"])
        for r in rows(parsed.rows, "http")
    ]  # fmt: skip
    assert summary == [
        ("203.0.113.9", None, tls, None, None, None, 400),
        ("fd00::9", None, "\ufffd\ufffd\x01", None, None, None, 400),
        ("203.0.113.9", "GET", '/a"b', None, "HTTP/1.1", "h", 404),
    ]
    # Without its last field's closing quote, the line may have lost its real client.
    assert rejects(parsed) == [(4, CUT)]


def test_no_line_blames_an_address_a_client_wrote() -> None:
    """Request data quoting a client: in a debug line (nginx adds no fields of
    its own there), and in a line cut at nginx's 2048 bytes, where the real
    client is what was cut off."""
    forged = ', client: 10.0.0.5, server: , request: "GET /.git/config HTTP/1.1", host: "w"'
    debug = own(f'http header: "X-Note: a{forged}"', "debug")
    path = '/x" failed (2: No such file or directory)' + forged[:-1] + "/" + "a/" * 1200
    cut = own(f'open() "/srv/www{path}" failed (2: No such file or directory), client: 198.5')
    assert len(cut.encode()) > MAX_LINE_BYTES
    cut = cut.encode()[:MAX_LINE_BYTES].decode() + '"'  # an attacker can end it on a quote
    referred = own(request_of('open() "/srv/www/x" failed (2: No such file or directory)')
                   + ', referrer: "http://x/, client: 1.1.1.1, server: y"')  # fmt: skip
    parsed = parse(make(NginxErrorParser), [debug, cut, referred])
    assert parsed.rows.num_rows == 0
    # The third hides its own sender (a second client in its Referer): rejected,
    # and counted under its reason, not blamed on anyone.
    assert rejects(parsed) == [(1, DEBUG), (2, CUT), (3, AMBIGUOUS_CLIENT)]


def test_other_lines_are_rejected_each_with_its_reason() -> None:
    lines = [
        "2026/09/30 10:00:00 [notice] 1#1: using the \"epoll\" event method",
        "2026/09/30 10:00:00 [notice] 1#1: start worker process 812",
        "2026/09/30 10:00:00 [emerg] 1#1: bind() to 0.0.0.0:80 failed (98: Address in use)",
        own("SSL_do_handshake() failed (SSL: error:0A00006C:SSL routines::bad key share) "
            "while SSL handshaking, client: 198.51.100.7, server: 0.0.0.0:443", "crit"),
        own("client closed connection while waiting for request, client: 198.51.100.7, "
            "server: 0.0.0.0:80", "info"),
        # A decoded URI naming another client: which one made the request?
        own('open() "/srv/www/, client: 192.0.2.99, server: x" failed (2: No such file or '
            'directory), client: 198.51.100.7, server: , request: "GET /%2C HTTP/1.1"'),
        "PHP message: PHP Warning:  Undefined variable $x in /srv/www/index.php on line 3",
        "[error] 812#812: *7 access forbidden by rule, client: 198.51.100.7, server: a, "
        'request: "GET / HTTP/1.1"',  # own file without its stamp
        "2026/09/30 10:00:00 [fatal] 812#812: *7 no such level",
        "Sep 30 10:00:02 web nginx: worker process 812 exited on signal 9",
        "Sep 30 10:00:03 web sshd[1]: Accepted publickey for a from 198.51.100.7 port 1 ssh2",
        "",
    ]  # fmt: skip
    parsed = parse(make(NginxErrorParser), lines)
    assert parsed.rows.num_rows == 0 and parsed.skipped == 1
    assert rejects(parsed) == [
        (1, NO_CONNECTION),
        (2, NO_CONNECTION),
        (3, NO_CONNECTION),
        (4, NO_REQUEST),
        (5, NO_REQUEST),
        (6, AMBIGUOUS_CLIENT),
        (7, NOT_NGINX_ERROR),
        (8, NOT_NGINX_ERROR),
        (9, NOT_NGINX_ERROR),
        (10, NOT_NGINX_ERROR),
        (11, OTHER_PROGRAM),
    ]


# -- access lines nginx sends through syslog ---------------------------------------------

ACCESS = (
    '198.51.100.7 - - [30/Sep/2026:10:00:01 +0200] "GET /.env?x=1 HTTP/1.1" 404 153 "-" "curl/8.0"'
)


def test_access_lines_in_syslog_are_read_as_the_access_log() -> None:
    """``access_log syslog:server=...`` tags its lines ``nginx``, as the error
    log's writer does: where syslog is the only copy of the access log, its
    lines are the record of the scan (they were rejected, "read them from the
    access log file"). Read as ``clf`` reads the file, beside the error lines,
    with the envelope's host as observer and their own dataset."""
    lines = [
        f"<190>Sep 30 09:59:59 web1 nginx: {ACCESS}",  # the line's own stamp wins
        "Sep 30 08:00:02 web1 nginx: " + own(request_of('open() "/srv/www/x" failed '
                                                       "(2: No such file or directory)")),
        "Sep 30 08:00:03 web1 nginx: 198.51.100.7 - - [30/Sep/2026:10:00:03 +0200] "
        '"GET / HTTP/1.1" 2x0 1 "-" "-"',  # a status that is none: clf's reason
        "Sep 30 08:00:04 web1 nginx: message repeated 2 times: [ " + ACCESS + "]",
    ]  # fmt: skip
    parsed = parse(make(NginxErrorParser), lines)
    out = sorted(rows(parsed.rows, "http"), key=lambda r: r["log_line"])
    assert [(r["log_line"], r["event_dataset"], r["http_response_status_code"]) for r in out] == [
        (1, "nginx.access", 404),
        (2, "nginx.error", 404),
        (4, "nginx.access", 404),
    ]
    first = out[0]
    assert first["timestamp"] == utc(2026, 9, 30, 8, 0, 1)  # the line's own zoned stamp
    assert (first["source_ip"], first["url_path"], first["url_query"]) == (
        "198.51.100.7", "/.env", "x=1",
    )  # fmt: skip
    assert (first["user_agent_original"], first["observer_name"]) == ("curl/8.0", "web1")
    assert rejects(parsed) == [(3, "invalid status")]
    assert parsed.rows.column("event_repeat").to_pylist()[-1:] == [2]


JSON_ACCESS = (
    '{"time_iso8601":"2026-09-30T10:00:05+02:00","remote_addr":"198.51.100.8",'
    '"request":"GET /wp-login.php?a=b HTTP/1.1","status":"404","body_bytes_sent":"10",'
    '"http_user_agent":"zgrab/0.x"}'
)


def test_json_access_lines_in_syslog_are_read_as_nginx_json_reads_them() -> None:
    """An ``escape=json`` recipe sent through syslog: read under the configured
    keys (``ingest.nginx_json_fields``), rejected for nginx-json's reasons."""
    lines = [
        f"Sep 30 09:00:05 web1 nginx: {JSON_ACCESS}",  # the line's own stamp wins
        'Sep 30 08:00:06 web1 nginx: {"status":"404","request":"GET / HTTP/1.1"}',
        "Sep 30 08:00:07 web1 nginx: {not json",
        # No stamp of its own: the envelope's.
        'Sep 30 08:00:08 web1 nginx: {"remote_addr":"198.51.100.8","request":"GET /a HTTP/1.0",'
        '"status":"403"}',
    ]
    parsed = parse(make(NginxErrorParser), lines)
    out = sorted(rows(parsed.rows, "http"), key=lambda r: r["log_line"])
    assert [
        (r["log_line"], r["event_dataset"], r["source_ip"], r["url_path"], r.get("url_query"),
         r["http_response_status_code"], r["observer_name"], r["timestamp"])
        for r in out
    ] == [
        (1, "nginx.access", "198.51.100.8", "/wp-login.php", "a=b", 404, "web1",
         utc(2026, 9, 30, 8, 0, 5)),
        (4, "nginx.access", "198.51.100.8", "/a", None, 403, "web1", utc(2026, 9, 30, 8, 0, 8)),
    ]  # fmt: skip
    assert out[0]["user_agent_original"] == "zgrab/0.x"
    assert rejects(parsed) == [
        (2, "JSON without the configured client address key"),
        (3, "not a JSON object"),
    ]


def test_json_access_lines_in_syslog_follow_the_configured_keys() -> None:
    config = Config.model_validate(
        {"ingest": {"nginx_json_fields": {"source_ip": ["client"], "url_path": ["uri"]}}}
    )
    line = 'Sep 30 08:00:05 web1 nginx: {"client":"198.51.100.9","uri":"/.git/HEAD","status":"404"}'
    parsed = parse(make(NginxErrorParser, config), [line])
    assert [(r["source_ip"], r["url_path"]) for r in rows(parsed.rows, "http")] == [
        ("198.51.100.9", "/.git/HEAD")
    ]


@pytest.mark.parametrize("kernel", [False, True], ids=["nginx only", "mixed syslog"])
def test_access_lines_in_syslog_reach_the_lake_once_per_event(tmp_path: Path, kernel: bool) -> None:
    """Through the file's own parser and through the syslog multiplexer: each
    row under its own dataset, a repeated access line written once per event."""
    log = tmp_path / "messages"
    nginx = [
        f"Sep 30 08:00:01 web1 nginx: {ACCESS}",
        "Sep 30 08:00:04 web1 nginx: message repeated 2 times: [ " + ACCESS + "]",
        NGINX.format(name=".git/config"),
    ]
    log.write_text("\n".join([DROP.format(port=22)] * kernel + nginx) + "\n")
    lake = Lake(tmp_path / "lake")
    (stats,) = ingest([str(log)], lake, Config(), IngestOptions(now=NOW)).files
    assert stats.format == ("syslog" if kernel else "nginx-error")
    assert (stats.lines, stats.parsed, stats.rejected, stats.repeated) == (
        3 + kernel,
        3 + kernel,
        0,
        1,
    )
    web = lake.read("http").to_pylist()
    assert Counter((r["event_dataset"], r["url_path"]) for r in web) == {
        ("nginx.access", "/.env"): 3,
        ("nginx.error", "/.git/config"): 1,
    }


def test_a_client_named_twice_alike_is_read() -> None:
    """The same address twice (a URI quoting the real client) names one client."""
    line = own(
        'open() "/srv/www/, client: 198.51.100.7, server: x" failed (2: No such file or '
        'directory), client: 198.51.100.7, server: , request: "GET /%2C HTTP/1.1"'
    )
    out = rows(parse(make(NginxErrorParser), [line]).rows, "http")
    assert [(r["source_ip"], r["url_path"]) for r in out] == [("198.51.100.7", "/%2C")]


# -- syslog envelopes, stamps and zones ----------------------------------------------------


ERROR_MESSAGE = request_of('open() "/srv/www/x" failed (2: No such file or directory)')


def test_each_envelope_with_and_without_nginx_stamp() -> None:
    stamp = "2026/09/30 12:00:05 [error] 812#812: *7 "
    lines = [
        f"Sep 30 12:00:05 web1 nginx: {stamp}{ERROR_MESSAGE}",
        f"<187>Sep 30 12:00:05 web1 nginx[812]: {stamp}{ERROR_MESSAGE}",
        f"2026-09-30T12:00:05.250+02:00 web2 nginx: {stamp}{ERROR_MESSAGE}",
        f"<187>1 2026-09-30T12:00:05+02:00 web3 nginx - - - {stamp}{ERROR_MESSAGE}",
        # Without nginx's stamp the envelope's stands in.
        f"2026-09-30T12:00:09+02:00 web4 nginx: [error] 812#812: *7 {ERROR_MESSAGE}",
    ]
    # The configured zone (UTC) is not these hosts' (+02:00): an envelope's zoned
    # stamp wins over nginx's zone-less one; under RFC 3164 nginx's is read in UTC.
    out = rows(parse(make(NginxErrorParser), lines).rows, "http")
    assert [(r["observer_name"], r["timestamp"], r["http_response_status_code"]) for r in out] == [
        ("web1", utc(2026, 9, 30, 12, 0, 5), 404),
        ("web1", utc(2026, 9, 30, 12, 0, 5), 404),
        ("web2", utc(2026, 9, 30, 10, 0, 5, 250_000), 404),
        ("web3", utc(2026, 9, 30, 10, 0, 5), 404),
        ("web4", utc(2026, 9, 30, 10, 0, 9), 404),
    ]


@pytest.mark.parametrize(
    ("zone", "expected"),
    [
        ("UTC", utc(2026, 1, 15, 23, 30)),
        ("Europe/Paris", utc(2026, 1, 15, 22, 30)),  # UTC+1 in winter
        ("America/New_York", utc(2026, 1, 16, 4, 30)),  # UTC-5, the next day in UTC
    ],
)
def test_own_stamp_is_read_in_the_configured_zone(zone: str, expected: dt.datetime) -> None:
    line = f"2026/01/15 23:30:00 [error] 812#812: *7 {ERROR_MESSAGE}"
    config = Config(syslog=SyslogConfig(timezone=zone))
    (row,) = rows(parse(make(NginxErrorParser, config), [line]).rows, "http")
    assert row["timestamp"] == expected


def test_per_input_zones_apply_to_the_own_stamp(tmp_path: Path) -> None:
    line = f"2026/07/15 12:00:00 [error] 812#812: *7 {ERROR_MESSAGE}\n"
    for folder in ("paris", "utc"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "error.log").write_text(line)
    config = Config(syslog=SyslogConfig(timezones={"*/paris/*": "Europe/Paris"}))
    lake = Lake(tmp_path / "lake")
    run = ingest(
        [str(tmp_path / f) for f in ("paris", "utc")], lake, config, IngestOptions(now=NOW)
    )
    assert [f.format for f in run.files] == ["nginx-error", "nginx-error"]
    stamps = {
        Path(r["log_file"]).parent.name: r["timestamp"] for r in lake.read("http").to_pylist()
    }
    assert stamps == {"paris": utc(2026, 7, 15, 10), "utc": utc(2026, 7, 15, 12)}


def test_an_impossible_own_stamp_is_rejected() -> None:
    line = f"2026/02/30 10:00:00 [error] 812#812: *7 {ERROR_MESSAGE}"
    assert rejects(parse(make(NginxErrorParser), [line])) == [(1, "invalid timestamp")]


# -- rsyslog's "message repeated N times" ------------------------------------------------


REPEATED_LOG = [
    f"Sep 30 10:00:00 fw nginx: 2026/09/30 10:00:00 [error] 1#1: *3 {ERROR_MESSAGE}",
    f"Sep 30 10:00:02 fw nginx: message repeated 4 times: [ 2026/09/30 10:00:00 [error] 1#1: "
    f"*3 {ERROR_MESSAGE}]",
    "Sep 30 10:00:03 fw nginx: message repeated 2 times: [ 2026/09/30 10:00:03 [notice] 1#1: "
    "signal process started]",
]


def test_repeated_messages_are_read_inside_and_marked_with_their_count() -> None:
    parsed = parse(make(NginxErrorParser), REPEATED_LOG)
    assert parsed.rows.column("log_line").to_pylist() == [1, 2]
    assert parsed.rows.column(base.REPEAT).to_pylist() == [None, 4]
    assert [r["url_path"] for r in rows(parsed.rows, "http")] == ["/x", "/x"]
    assert rejects(parsed) == [(3, NO_CONNECTION)]


def test_repeated_rows_are_written_once_per_event(tmp_path: Path) -> None:
    log = tmp_path / "nginx.log"
    log.write_text("\n".join(REPEATED_LOG) + "\n")
    lake = Lake(tmp_path / "lake")
    (stats,) = ingest([str(log)], lake, Config(), IngestOptions(now=NOW)).files
    assert (stats.format, stats.lines, stats.parsed, stats.rejected) == ("nginx-error", 3, 2, 1)
    assert stats.repeated == 3
    table = pq.read_table(lake.files("http"))
    assert Counter(table.column("log_line").to_pylist()) == {1: 1, 2: 4}
    assert "event_repeat" not in table.column_names


# -- mixed syslog files -------------------------------------------------------------------


DROP = (
    "Sep 30 10:09:23 fw kernel: [19955416.516358] RW-DROP: IN=eth0 OUT= MAC=00:00 "
    "SRC=198.51.100.7 DST=203.0.113.5 LEN=44 TOS=0x00 PREC=0x00 TTL=43 ID=1 PROTO=TCP "
    "SPT=40000 DPT={port} WINDOW=1024 RES=0x00 SYN URGP=0 "
)
NGINX = (
    "Sep 30 10:09:24 fw nginx: 2026/09/30 10:09:24 [error] 9#9: *1 open() "
    '"/usr/local/www/{name}" failed (2: No such file or directory), client: 198.51.100.7, '
    'server: , request: "GET /{name} HTTP/1.1", host: "fw.lan"'
)
CRON = "Sep 30 10:09:25 fw CRON[4242]: (root) CMD (run-parts /etc/cron.hourly)"


def test_nginx_is_claimed_for_the_syslog_multiplexer() -> None:
    assert NginxErrorParser.programs == ("nginx",)
    assert claimants()["nginx"] is NginxErrorParser
    assert SyslogMuxParser.sniff([DROP.format(port=22), NGINX.format(name="a")])


def test_mixed_syslog_routes_nginx_lines_next_to_kernel_lines(tmp_path: Path) -> None:
    log = tmp_path / "messages"
    log.write_text(
        "\n".join(
            [DROP.format(port=22), NGINX.format(name=".env"), CRON,
             "Sep 30 10:09:26 fw nginx: 2026/09/30 10:09:26 [notice] 9#9: signal process started",
             DROP.format(port=23), NGINX.format(name="wp-login.php")]
        ) + "\n"
    )  # fmt: skip
    lake = Lake(tmp_path / "lake")
    (stats,) = ingest([str(log)], lake, Config(), IngestOptions(now=NOW)).files
    assert (stats.format, stats.lines, stats.parsed, stats.rejected) == ("syslog", 6, 4, 2)
    assert stats.reject_reasons == {"syslog program without a parser": 1, NO_CONNECTION: 1}
    network = lake.read("network").sort_by("log_line").to_pylist()
    assert [(r["log_line"], r["destination_port"]) for r in network] == [(1, 22), (5, 23)]
    web = lake.read("http").sort_by("log_line").to_pylist()
    assert [
        (r["log_line"], r["event_dataset"], r["url_path"], r["observer_name"],
         r["http_response_status_code"], r["timestamp"])
        for r in web
    ] == [
        (2, "nginx.error", "/.env", "fw", 404, utc(2026, 9, 30, 10, 9, 24)),
        (6, "nginx.error", "/wp-login.php", "fw", 404, utc(2026, 9, 30, 10, 9, 24)),
    ]  # fmt: skip


# -- sniffing ------------------------------------------------------------------------------


def test_sniffs_own_files_and_nginx_syslog_only() -> None:
    own_file = [own(ERROR_MESSAGE), "2026/09/30 10:00:01 [notice] 1#1: start worker process 2"]
    assert NginxErrorParser.sniff(own_file)
    assert NginxErrorParser.sniff([NGINX.format(name="a")])
    assert registry.sniff(own_file) is NginxErrorParser
    # An access log with one error line in it stays an access log.
    access = '198.51.100.7 - - [30/Sep/2026:10:00:00 +0000] "GET / HTTP/1.1" 404 1 "-" "x"'
    assert not NginxErrorParser.sniff([access, access, own(ERROR_MESSAGE)])
    assert not NginxErrorParser.sniff([CRON, DROP.format(port=1)])
    assert not NginxErrorParser.sniff(["2026/09/30 10:00:00 [error] starting", "x"])
    assert not NginxErrorParser.sniff([])


def test_no_other_shared_sample_or_fixture_is_claimed(shared_data: Path) -> None:
    """The new sniffer steals no file from the formats that had it before."""
    fixtures = Path(__file__).parent / "fixtures"
    paths = [
        p
        for root in (shared_data, fixtures)
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.suffix not in (".assert", ".yaml", ".md") and p.name != "LICENSE"
    ]
    assert len(paths) > 30
    claimed = [p.name for p in paths if NginxErrorParser.sniff(head_lines(p.read_bytes()[:65536]))]
    assert claimed == [PFSENSE.name]


# -- accounting, for any text ------------------------------------------------------------


LINES = [
    own(ERROR_MESSAGE),
    own(request_of("access forbidden by rule", "2001:db8::5")),
    NGINX.format(name="x"),
    REPEATED_LOG[1],
    REPEATED_LOG[2],
    DROP.format(port=80),
    CRON,
    "2026/09/30 10:00:00 [notice] 1#1: start worker process 2",
    own('open() "/a" failed (2: x), client: 1.2.3.4, server: , request: "' + '"' * 30),
    own(', client: , server: , request: ", host: "'),
    "",
    "x",
]


def _batch(texts: list[str]) -> pa.Table:
    texts = [t.replace("\n", " ").replace("\r", " ") for t in texts]
    return pa.table(
        {
            "log_line": pa.array(range(1, len(texts) + 1), pa.int64()),
            "line": pa.array(texts, pa.string()),
        }
    )


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from(LINES) | st.text(max_size=300), max_size=12))
def test_any_mix_is_fully_accounted(lines: list[str]) -> None:
    batch = _batch(lines)
    ctx = ParseContext(Config(), duckdb.connect(), "t", dt.datetime.now(dt.UTC))
    for parser in (NginxErrorParser(ctx), SyslogMuxParser(ctx)):
        parsed = parser.parse(batch)
        assert parsed.row_count + parsed.rejects.num_rows + parsed.skipped == len(lines)
        tables = [parsed.rows, *parsed.other_tables.values(), parsed.rejects]
        numbers = [n for t in tables for n in t.column("log_line").to_pylist()]
        assert len(numbers) == len(set(numbers))


HOSTILE = [
    '"' * 50_000,
    "[" * 50_000,
    own(", client: 198.51.100.7, server: " * 3000),
    own('x, client: 198.51.100.7, server: , request: "' + '", host: "' * 5000),
    own("a" * 100_000 + ', client: 198.51.100.7, server: , request: "GET /' + "b" * 100_000 + '"'),
]


def test_hostile_lines_never_raise_and_overlong_lines_are_not_trusted() -> None:
    parsed = parse(make(NginxErrorParser), HOSTILE)
    assert parsed.rows.num_rows == 0
    # nginx writes no line longer than 2047 bytes: the last one is no line of its.
    assert [n for n, _ in rejects(parsed)] == [1, 2, 3, 4, 5] and rejects(parsed)[4] == (5, CUT)


# -- end to end ---------------------------------------------------------------------------


def test_a_scanners_missing_files_make_a_web_case(tmp_path: Path) -> None:
    """30 missing files from one client in a minute: web_wordlist_scan (25
    distinct 4xx paths in 300 s by default) opens a case for it."""
    scanner = "198.51.100.23"
    lines = [
        f"2026/09/30 10:00:{i * 2:02d} [error] 812#812: *{100 + i} open() "
        f'"/usr/share/nginx/html/probe{i}.php" failed (2: No such file or directory), '
        f'client: {scanner}, server: www.example.net, request: "GET /probe{i}.php HTTP/1.1", '
        'host: "www.example.net"'
        for i in range(30)
    ]
    log = tmp_path / "error.log"
    log.write_text("\n".join(lines) + "\n")
    result = hunt([str(log)], Config(), options=IngestOptions(now=NOW))
    assert result.run is not None and result.run.totals.parsed == 30
    (case,) = [c for c in result.cases if scanner in c.sources]
    (finding,) = [f for f in case.findings if f.detection == "web_wordlist_scan"]
    assert (finding.source_table, finding.event_count, finding.target_count) == ("http", 30, 30)
