"""Web access lines in syslog under any program tag (``web-syslog``), and the
multiplexer handing it the access lines of programs no parser claims."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pyarrow as pa
import pytest
from hypothesis import given, settings

from ingest_helpers import NOW, make, mutated_lines, parse, rejects, rows, utc
from reconwatch.config import Config
from reconwatch.ingest import registry
from reconwatch.ingest.base import Parsed
from reconwatch.ingest.linesql import INVALID_TIMESTAMP
from reconwatch.ingest.run import IngestOptions, ingest
from reconwatch.ingest.syslogmux import NO_PARSER, SyslogMuxParser
from reconwatch.ingest.web_clf import NOT_ACCESS_LOG
from reconwatch.ingest.web_syslog import (
    NOT_ACCESS_JSON,
    NOT_SYSLOG,
    SyslogAccessParser,
    access_mask,
)
from reconwatch.lake import Lake

COMBINED = (
    '198.51.100.7 - - [30/Sep/2026:10:00:01 +0200] "GET /.env HTTP/1.1" 404 153 "-" "curl/8.0"'
)
#: Apache through ``CustomLog "|/usr/bin/logger -t apache2" combined``.
#: The envelope's stamps below are off from the lines' own: the own one wins.
APACHE = f"Sep 30 09:59:59 web1 apache2: {COMBINED}"
#: rsyslog imfile under an admin's tag, ISO envelope (the line's own stamp wins).
IMFILE = (
    "2026-09-30T08:00:02.123+00:00 web2 apache-access: 198.51.100.7 - - "
    '[30/Sep/2026:08:00:02 +0000] "GET /wp-login.php?x=1 HTTP/1.1" 404 10 "-" "zgrab"'
)
#: RFC 5424, vhost_combined (the vhost's port is the destination port).
RFC5424 = (
    "<134>1 2026-09-30T09:00:03Z web3 httpd 812 - - www.example.net:443 198.51.100.9 - - "
    '[30/Sep/2026:08:00:03 +0000] "GET /admin HTTP/1.1" 403 5 "-" "nikto"'
)
JSON = (
    'Sep 30 09:00:04 web4 web01: {"time_iso8601":"2026-09-30T08:00:04+00:00",'
    '"remote_addr":"198.51.100.10","request":"GET /.git/HEAD HTTP/1.1","status":"404"}'
)
APACHE_ERROR = (
    "Sep 30 08:00:05 web1 apache2: [Wed Sep 30 08:00:05.1 2026] [core:error] [pid 1] "
    "[client 198.51.100.7:5] AH00126: Invalid URI in request GET /..%2f HTTP/1.1"
)
CRON = "Sep 30 08:00:06 web1 CRON[42]: (root) CMD (run-parts /etc/cron.hourly)"
DROP = (
    "Sep 30 08:00:07 web1 kernel: [1.1] RW-DROP: IN=eth0 OUT= MAC=00:00 SRC=198.51.100.7 "
    "DST=203.0.113.5 LEN=44 TOS=0x00 PREC=0x00 TTL=43 ID=1 PROTO=TCP SPT=40000 DPT=22 "
    "WINDOW=1024 RES=0x00 SYN URGP=0 "
)


def test_access_lines_under_any_tag_and_envelope() -> None:
    parsed = parse(make(SyslogAccessParser), [APACHE, IMFILE, RFC5424, JSON])
    out = sorted(rows(parsed.rows, "http"), key=lambda r: r["log_line"])
    assert [
        (r["log_line"], r["source_ip"], r["url_path"], r["http_response_status_code"],
         r["observer_name"], r["timestamp"])
        for r in out
    ] == [
        (1, "198.51.100.7", "/.env", 404, "web1", utc(2026, 9, 30, 8, 0, 1)),
        (2, "198.51.100.7", "/wp-login.php", 404, "web2", utc(2026, 9, 30, 8, 0, 2)),
        (3, "198.51.100.9", "/admin", 403, "web3", utc(2026, 9, 30, 8, 0, 3)),
        (4, "198.51.100.10", "/.git/HEAD", 404, "web4", utc(2026, 9, 30, 8, 0, 4)),
    ]  # fmt: skip
    assert (out[1]["url_query"], out[1]["user_agent_original"]) == ("x=1", "zgrab")
    assert (out[2]["url_domain"], out[2]["destination_port"]) == ("www.example.net", 443)
    assert {r["event_dataset"] for r in out} == {"syslog.access"}
    assert rejects(parsed) == []


def test_the_envelope_s_stamp_stands_in_only_where_the_line_has_none() -> None:
    """JSON without a time key takes the envelope's stamp; an own stamp that
    does not read is rejected, as in its file (not dated by the envelope)."""
    garbled = COMBINED.replace("30/Sep/2026:10:00:01 +0200", "30/Sept/2026:10:00:01")
    no_time = '{"remote_addr":"198.51.100.10","request":"GET / HTTP/1.1","status":"404"}'
    lines = [f"Sep 30 09:59:59 web1 apache2: {garbled}", f"Sep 30 09:59:58 web1 x: {no_time}"]
    parsed = parse(make(SyslogAccessParser), lines)
    out = rows(parsed.rows, "http")
    assert [(r["log_line"], r["timestamp"]) for r in out] == [(2, utc(2026, 9, 30, 9, 59, 58))]
    assert rejects(parsed) == [(1, INVALID_TIMESTAMP)]


def test_application_json_is_no_access_line() -> None:
    """JSON naming a client but no request or no status (an application's
    log) is no access line: never an http row blaming that address."""
    lines = [
        'Sep 30 08:00:01 app1 myapp[12]: {"level":"warn","msg":"bad token","ip":"6.6.6.6"}',
        'Sep 30 08:00:02 app1 billing: {"event":"login failed","client":"6.6.6.7",'
        '"request":"POST /login HTTP/1.1"}',
        JSON,
    ]
    parsed = parse(make(SyslogAccessParser), lines)
    assert [r["source_ip"] for r in rows(parsed.rows, "http")] == ["198.51.100.10"]
    assert rejects(parsed) == [(1, NOT_ACCESS_JSON), (2, NOT_ACCESS_JSON)]


def test_other_lines_are_rejected_each_with_its_reason() -> None:
    lines = [APACHE_ERROR, COMBINED, "", "Sep 30 08:00:09 web1 apache2: {not json", APACHE]
    parsed = parse(make(SyslogAccessParser), lines)
    assert [r["log_line"] for r in rows(parsed.rows, "http")] == [5]
    assert parsed.skipped == 1
    assert rejects(parsed) == [
        (1, NOT_ACCESS_LOG),
        (2, NOT_SYSLOG),  # no envelope: clf's own file format, not this one
        (4, "not a JSON object"),
    ]


def test_a_repeated_access_line_stands_for_its_events(tmp_path: Path) -> None:
    log = tmp_path / "web.log"
    repeated = f"Sep 30 08:00:02 web1 apache2: message repeated 3 times: [ {COMBINED}]"
    log.write_text(f"{APACHE}\n{repeated}\n")
    lake = Lake(tmp_path / "lake")
    (stats,) = ingest([str(log)], lake, Config(), IngestOptions(now=NOW)).files
    assert (stats.format, stats.lines, stats.parsed, stats.repeated) == ("web-syslog", 2, 2, 2)
    assert Counter(lake.read("http").column("log_line").to_pylist()) == {1: 1, 2: 3}


def test_sniffed_only_where_the_messages_are_access_lines() -> None:
    assert [p.name for p in registry.PARSERS if p.sniff([APACHE, IMFILE, RFC5424])] == [
        "web-syslog"
    ]
    assert not SyslogAccessParser.sniff([COMBINED, COMBINED])  # clf's file
    assert not SyslogAccessParser.sniff([APACHE_ERROR, CRON, APACHE])
    mask = access_mask(pa.array([APACHE, IMFILE, RFC5424, JSON, APACHE_ERROR, CRON, COMBINED, ""]))
    assert mask.to_pylist() == [
        True, True, True, True, False, False, False, False,
    ]  # fmt: skip


def test_mixed_syslog_hands_unclaimed_programs_access_lines_to_web_syslog(tmp_path: Path) -> None:
    """Until now "syslog program without a parser": a relay's file where the
    web server's access log is the only record of the scan."""
    log = tmp_path / "messages"
    log.write_text("\n".join([DROP, APACHE, CRON, APACHE_ERROR, JSON]) + "\n")
    lake = Lake(tmp_path / "lake")
    (stats,) = ingest([str(log)], lake, Config(), IngestOptions(now=NOW)).files
    assert (stats.format, stats.lines, stats.parsed, stats.rejected) == ("syslog", 5, 3, 2)
    # An unclaimed program's other lines keep the reason they had.
    assert stats.reject_reasons == {NO_PARSER: 2}
    web = lake.read("http").sort_by("log_line").to_pylist()
    assert [(r["log_line"], r["event_dataset"], r["url_path"]) for r in web] == [
        (2, "syslog.access", "/.env"),
        (5, "syslog.access", "/.git/HEAD"),
    ]
    assert lake.read("network").column("log_line").to_pylist() == [1]


@settings(max_examples=60, deadline=None)
@given(mutated_lines([APACHE, IMFILE, RFC5424, JSON, APACHE_ERROR], '"[]{}: -', 12))
def test_any_mix_is_fully_accounted(lines: list[str]) -> None:
    parse(make(SyslogAccessParser), lines)  # parse() checks rows + rejects + skipped


def test_other_programs_in_a_web_syslog_file_go_to_their_parsers(tmp_path: Path) -> None:
    """Sniffed by its first lines (the web server's), a relay's file may hold
    sshd's lines further down: they are logins, not "not an access log line"."""
    sshd = "Sep 30 08:00:10 web1 sshd[7]: Failed password for root from 198.51.100.7 port 5 ssh2"
    log = tmp_path / "remote.log"
    # Past the lines sniffing reads (its sample), so the file is web-syslog's.
    first = [APACHE, IMFILE] * 100
    log.write_text("\n".join([*first, sshd, CRON, APACHE_ERROR]) + "\n")
    lake = Lake(tmp_path / "lake")
    (stats,) = ingest([str(log)], lake, Config(), IngestOptions(now=NOW)).files
    assert (stats.format, stats.lines, stats.parsed, stats.rejected) == ("web-syslog", 203, 201, 2)
    assert stats.reject_reasons == {NO_PARSER: 2}
    assert lake.read("http").num_rows == 200
    (login,) = lake.read("auth").to_pylist()
    assert (login["log_line"], login["source_ip"]) == (201, "198.51.100.7")


def test_many_unclaimed_tags_are_one_step_and_application_json_keeps_its_reason(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A relay of per-container tags (or ``logger -t`` by any local user): a
    query per tag made 4,000 lines under 400 tags take 16 s. The access lines
    of every unclaimed tag are read in one call; an application's JSON among
    them is "syslog program without a parser", as before web-syslog."""
    calls: list[int] = []
    parse_access = SyslogAccessParser.parse

    def counted(self: SyslogAccessParser, lines: pa.Table) -> Parsed:
        calls.append(lines.num_rows)
        return parse_access(self, lines)

    monkeypatch.setattr(SyslogAccessParser, "parse", counted)
    tagged = [APACHE.replace(" apache2:", f" web{n}:") for n in range(300)]
    app = 'Sep 30 08:00:01 app1 myapp[12]: {"level":"warn","msg":"bad token","ip":"6.6.6.6"}'
    parsed = parse(make(SyslogMuxParser), [*tagged, app, CRON, DROP])
    assert calls == [301]
    assert parsed.other_tables["http"].num_rows == 300
    assert parsed.rows.num_rows == 1  # the kernel's line, network
    assert rejects(parsed) == [(301, NO_PARSER), (302, NO_PARSER)]
