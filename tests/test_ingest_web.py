"""Web access log parsers: Apache/nginx (clf), nginx JSON, IIS W3C, AWS ALB, HAProxy."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.compute as pc
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ingest_helpers import NOW, batch, http, make, parse, rejects, rows, utc
from reconwatch.config import Config, IngestConfig, SyslogConfig
from reconwatch.ingest import web_clf
from reconwatch.ingest.base import MAX_LAYOUTS, TOO_MANY_LAYOUTS
from reconwatch.ingest.linesql import INVALID_SOURCE, INVALID_TIMESTAMP
from reconwatch.ingest.run import IngestOptions, ingest
from reconwatch.ingest.slices import MIN_SLICE_ROWS
from reconwatch.ingest.web_alb import AlbParser
from reconwatch.ingest.web_clf import ClfParser
from reconwatch.ingest.web_haproxy import HaproxyParser
from reconwatch.ingest.web_iis import FIELD_COUNT, NO_HEADER, IisParser
from reconwatch.ingest.web_json import NginxJsonParser
from reconwatch.lake import Lake

FIXTURES = Path(__file__).parent / "fixtures" / "web"


# -- Apache / nginx: common, combined, vhost_combined ----------------------------------


def test_clf_combined_real_line(crowdsec_hub: Path) -> None:
    lines = (crowdsec_hub / "apache2-logs" / "apache2-logs.log").read_text().splitlines()
    parsed = parse(make(ClfParser), lines[1:2], first=2)
    assert rows(parsed.rows, "http") == [
        http(
            log_line=2,
            timestamp=utc(2020, 6, 8, 7, 1, 28),
            source_ip="164.68.112.178",
            http_request_method="GET",
            url_path="/",
            http_version="HTTP/1.0",
            http_response_status_code=500,
            http_response_bytes=799,
            user_agent_original="masscan/1.0 (https://github.com/robertdavidgraham/masscan)",
        )
    ]


def test_clf_vhost_combined_and_common(crowdsec_hub: Path) -> None:
    lines = (crowdsec_hub / "nginx_http-logs" / "nginx_http-logs.log").read_text().splitlines()
    apache = (crowdsec_hub / "apache2-logs" / "apache2-logs.log").read_text().splitlines()
    parsed = parse(make(ClfParser), [lines[5], apache[5]])
    assert rows(parsed.rows, "http") == [
        http(
            log_line=1,
            timestamp=utc(2020, 6, 8, 8, 4, 43),
            source_ip="192.168.1.1",
            url_domain="www.crowdsec11.net",
            destination_port=80,
            http_request_method="GET",
            url_path="/test/uppercase/extensions.JPG",
            http_version="HTTP/1.1",
            http_response_status_code=301,
            http_response_bytes=0,
            user_agent_original=(
                "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
                "(KHTML, like Gecko) Chrome/78.0.3904.108 Safari/537.36"
            ),
        ),
        # common format (no referrer, no agent), +0100 stamp
        http(
            log_line=2,
            timestamp=utc(2021, 3, 5, 8, 1, 38),
            source_ip="116.203.1.1",
            http_request_method="GET",
            url_path="/test/lists/sip_30d.txt",
            http_version="HTTP/1.0",
            http_response_status_code=200,
            http_response_bytes=1513,
        ),
    ]


def test_clf_a_user_name_with_a_space_is_the_user_not_a_vhost() -> None:
    """Apache writes %u as the client sent it: ``John Smith`` is two words before the stamp."""
    stamp = '[30/Sep/2026:10:00:00 +0000] "GET /admin/ HTTP/1.1" 401 381'
    parsed = parse(
        make(ClfParser),
        [
            f"198.51.100.9 - John Smith {stamp}",
            f"2001:db8::9 - Jo Ann Smith {stamp}",
            f"www.example.org:443 198.51.100.10 - John Smith {stamp}",
            f"www.example.org:443 198.51.100.11 - - {stamp}",
        ],
    )
    assert rejects(parsed) == []
    got = [(r["source_ip"], r["user_name"], r["url_domain"]) for r in rows(parsed.rows, "http")]
    assert got == [
        ("198.51.100.9", "John Smith", None),
        ("2001:db8::9", "Jo Ann Smith", None),
        ("198.51.100.10", "John Smith", "www.example.org"),
        ("198.51.100.11", None, "www.example.org"),
    ]


def test_clf_malformed_requests_are_rows_with_null_method(crowdsec_hub: Path) -> None:
    lines = (crowdsec_hub / "apache2-malformed" / "apache2-logs.log").read_text().splitlines()
    parsed = parse(
        make(ClfParser), [*lines, '198.51.100.1 - - [17/Oct/2023:05:57:49 +1100] "-" 408 0 "-" "-"']
    )
    out = rows(parsed.rows, "http")
    assert len(out) == len(lines) + 1
    assert out[0] == http(
        log_line=1,
        timestamp=utc(2023, 10, 16, 18, 57, 49),
        source_ip="1.2.3.4",
        url_path="\\x16\\x03\\x01\\x01 \\x02",
        http_response_status_code=400,
        http_response_bytes=226,
    )
    assert {r["http_request_method"] for r in out} == {None}
    assert out[-1]["url_path"] is None  # "-": no request at all


def test_clf_nginx_malformed_binary_requests(crowdsec_hub: Path) -> None:
    lines = (crowdsec_hub / "nginx-http-malformed" / "nginx_http-logs.log").read_text().splitlines()
    out = rows(parse(make(ClfParser), lines).rows, "http")
    assert len(out) == 12
    assert out[4]["url_path"] == "HELP"
    assert out[4]["http_request_method"] is None
    assert out[4]["http_response_status_code"] == 400


def test_clf_escapes_ipv6_absolute_targets_and_users() -> None:
    lines = [
        '2001:DB8::1 - bob [30/Sep/2026:12:00:00 +0200] "GET /a?b=c&d HTTP/1.1" 200 - '
        '"http://x/\\"q\\"" "Agent \\"quoted\\" \\\\ back"',
        "::ffff:192.0.2.1 - - [30/Sep/2026:10:00:00 +0000] "
        '"GET http://Evil.Example:8080/p?q HTTP/1.1" 404 10 "-" "-" "extra nginx field"',
        '192.0.2.2 - - [30/Sep/2026:10:00:00 -0000] "CONNECT example.org:443 HTTP/1.1" 405 0',
    ]
    assert rows(parse(make(ClfParser), lines).rows, "http") == [
        http(
            log_line=1,
            timestamp=utc(2026, 9, 30, 10),
            source_ip="2001:db8::1",
            user_name="bob",
            http_request_method="GET",
            url_path="/a",
            url_query="b=c&d",
            http_version="HTTP/1.1",
            http_response_status_code=200,
            http_request_referrer='http://x/"q"',
            user_agent_original='Agent "quoted" \\ back',
        ),
        http(
            log_line=2,
            timestamp=utc(2026, 9, 30, 10),
            source_ip="192.0.2.1",
            url_domain="evil.example",
            http_request_method="GET",
            url_path="/p",
            url_query="q",
            http_version="HTTP/1.1",
            http_response_status_code=404,
            http_response_bytes=10,
        ),
        http(
            log_line=3,
            timestamp=utc(2026, 9, 30, 10),
            source_ip="192.0.2.2",
            http_request_method="CONNECT",
            url_path="example.org:443",
            http_version="HTTP/1.1",
            http_response_status_code=405,
            http_response_bytes=0,
        ),
    ]


def test_clf_rejects_with_reasons() -> None:
    good = '"GET / HTTP/1.1" 200 5 "-" "-"'
    lines = [
        "",
        "not a web line at all",
        f"192.0.2.1 - - [32/Sep/2026:10:00:00 +0000] {good}",
        f"999.0.2.1 - - [30/Sep/2026:10:00:00 +0000] {good}",
        '192.0.2.1 - - [30/Sep/2026:10:00:00 +0000] "GET / HTTP/1.1" 2000 5',
        '192.0.2.1 - - [30/Sep/2026:10:00:00 +0000] "GET / HTTP/1.1" 200 five',
        "   ",
    ]
    parsed = parse(make(ClfParser), lines)
    assert parsed.rows.num_rows == 0
    assert parsed.skipped == 2
    assert rejects(parsed) == [
        (2, web_clf.NOT_ACCESS_LOG),
        (3, INVALID_TIMESTAMP),
        (4, INVALID_SOURCE),
        (5, web_clf.INVALID_STATUS),
        (6, web_clf.INVALID_BYTES),
    ]


@pytest.mark.parametrize("status", ["32768", "40000", "65535", "65536", "-1", "0x1F"])
def test_a_status_out_of_range_is_rejected_not_a_batch_error(status: str) -> None:
    # A status cast to USMALLINT and then to SMALLINT raised a conversion error
    # above 32767, which failed the whole batch, the good lines with it.
    good = '192.0.2.1 - - [30/Sep/2026:10:00:00 +0000] "GET / HTTP/1.1" 200 5'
    parsed = parse(make(ClfParser), [good, good.replace(" 200 ", f" {status} ")])
    assert [r["http_response_status_code"] for r in rows(parsed.rows, "http")] == [200]
    assert rejects(parsed) == [(2, web_clf.INVALID_STATUS)]
    entry = {
        "time": "2026-09-30T10:00:00Z",
        "remote_addr": "192.0.2.1",
        "request": "GET / HTTP/1.1",
    }
    lines = [json.dumps({**entry, "status": 200}), json.dumps({**entry, "status": status})]
    parsed = parse(make(NginxJsonParser), lines)
    assert [r["http_response_status_code"] for r in rows(parsed.rows, "http")] == [200]
    assert rejects(parsed) == [(2, web_clf.INVALID_STATUS)]


def test_clf_all_real_samples_parse(shared_data: Path, crowdsec_hub: Path) -> None:
    benign = (shared_data / "benign-web" / "apache_logs").read_text().splitlines()
    parsed = parse(make(ClfParser), benign)
    assert parsed.rows.num_rows == 10_000
    assert pc.count_distinct(parsed.rows.column("source_ip")).as_py() == 1753
    expected = {  # lines -> rows; the rest are Apache error-log lines or other formats
        "apache-http-probing": (77, 77),
        "apache2-logs": (9, 7),
        "http-admin-interface-probing": (3, 3),
        "http-wordpress-scan": (8, 8),
        "nginx-bad-user-agent": (3, 3),
        "nginx-http-sensitive-files": (9, 9),
        "nginx_http-logs": (9, 8),
    }
    for name, (count, good) in expected.items():
        log = next((crowdsec_hub / name).glob("*.log"))
        lines = log.read_text().splitlines()
        assert (name, len(lines), parse(make(ClfParser), lines).rows.num_rows) == (
            name,
            count,
            good,
        )


HOSTILE = [
    '192.0.2.1 - - [30/Sep/2026:10:00:00 +0000] "GET /<script>alert(1)</script> HTTP/1.1" 200 1'
    ' "-" "\x1b[31mred\x1b[0m"',
    '192.0.2.1 - - [30/Sep/2026:10:00:00 +0000] "GET /' + "A" * 100_000 + ' HTTP/1.1" 200 1',
    '\ufffd\ufffd\x00\x07 [x] "',
    '"' * 50_000,
    "[" * 50_000 + "]",
]


@pytest.mark.parametrize(
    "parser", [ClfParser, NginxJsonParser, AlbParser, IisParser, HaproxyParser]
)
def test_hostile_lines_never_raise(parser: type) -> None:
    parsed = parse(make(parser), HOSTILE)
    assert parsed.row_count + parsed.rejects.num_rows + parsed.skipped == len(HOSTILE)


def test_clf_hostile_content_is_kept_as_text() -> None:
    out = rows(parse(make(ClfParser), HOSTILE[:2]).rows, "http")
    assert out[0]["url_path"] == "/<script>alert(1)</script>"
    assert out[0]["user_agent_original"] == "\x1b[31mred\x1b[0m"
    assert out[1]["url_path"] == "/" + "A" * 100_000


def test_clf_slices_on_threads_give_the_same_rows(shared_data: Path) -> None:
    benign = (shared_data / "benign-web" / "apache_logs").read_text().splitlines()
    lines = benign * (MIN_SLICE_ROWS * 3 // len(benign) + 1)
    one = make(ClfParser, threads=1).parse(batch(lines))
    two = make(ClfParser, threads=2).parse(batch(lines))
    assert one.rows.num_rows == len(lines)
    assert one.rows.equals(two.rows)


octet = st.integers(0, 255)
ipv4 = st.tuples(octet, octet, octet, octet).map(lambda t: ".".join(map(str, t)))
token = st.text(
    st.characters(min_codepoint=33, max_codepoint=126, exclude_characters='"?\\'),
    min_size=1,
    max_size=20,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    ip=ipv4,
    method=st.sampled_from(["GET", "POST", "HEAD", "PROPFIND"]),
    path=token,
    query=st.none() | token,
    status=st.integers(100, 599),
    size=st.none() | st.integers(0, 10**12),
    agent=st.text(
        st.characters(exclude_categories=("Cs", "Cc"), exclude_characters='\n\r"\\'), max_size=40
    ),
)
def test_clf_property_round_trip(
    ip: str, method: str, path: str, query: str | None, status: int, size: int | None, agent: str
) -> None:
    target = "/" + path + (f"?{query}" if query is not None else "")
    line = (
        f'{ip} - - [30/Sep/2026:10:00:00 +0000] "{method} {target} HTTP/1.1" {status} '
        f'{"-" if size is None else size} "-" "{agent}"'
    )
    out = rows(parse(make(ClfParser), [line]).rows, "http")
    assert out == [
        http(
            log_line=1,
            timestamp=utc(2026, 9, 30, 10),
            source_ip=ip,
            http_request_method=method,
            url_path="/" + path,
            url_query=query,
            http_version="HTTP/1.1",
            http_response_status_code=status,
            http_response_bytes=size,
            user_agent_original=None if agent in ("", "-") else agent,
        )
    ]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.text(max_size=300), min_size=1, max_size=8))
def test_every_web_parser_accounts_for_any_text(lines: list[str]) -> None:
    lines = [line.replace("\n", " ").replace("\r", " ") for line in lines]
    for parser in (ClfParser, NginxJsonParser, AlbParser, IisParser, HaproxyParser):
        parse(make(parser), lines)


# -- nginx JSON ----------------------------------------------------------------------


def test_nginx_json_fixture() -> None:
    lines = (FIXTURES / "nginx.json").read_text().splitlines()
    parsed = parse(make(NginxJsonParser), lines)
    assert rows(parsed.rows, "http") == [
        http(
            log_line=1,
            timestamp=utc(2026, 9, 30, 10),
            source_ip="198.51.100.7",
            http_request_method="GET",
            url_path="/wp-login.php",
            url_query="redirect_to=%2F",
            http_version="HTTP/1.1",
            http_response_status_code=404,
            http_response_bytes=153,
            user_agent_original='Mozilla/5.0 "quoted" agent',
        ),
        http(
            log_line=2,
            timestamp=utc(2026, 9, 30, 10, 0, 1),
            source_ip="2001:db8::1",
            source_port=51234,
            url_domain="www.example.org",
            http_request_method="HEAD",
            url_path="/.env",
            http_version="HTTP/2.0",
            http_response_status_code=403,
            http_response_bytes=0,
            user_agent_original="curl/8.0",
        ),
        http(
            log_line=3,
            timestamp=utc(2026, 9, 30, 10, 0, 2, 250000),
            source_ip="203.0.113.9",
            url_path="\x16\x03\x01",
            http_response_status_code=400,
            http_response_bytes=157,
        ),
    ]
    assert rejects(parsed) == [
        (4, INVALID_TIMESTAMP),
        (5, "JSON without the configured client address key"),
        (6, "not a JSON object"),
        (7, INVALID_SOURCE),
    ]


def test_nginx_json_keys_come_from_config() -> None:
    config = Config(ingest=IngestConfig(nginx_json_fields={"source_ip": ["xff_client"]}))
    line = json.dumps(
        {
            "xff_client": "192.0.2.44",
            "time": "2026-09-30T10:00:00Z",
            "request": "GET / HTTP/1.0",
            "status": 200,
            "remote_addr": "10.0.0.1",
        }
    )
    out = rows(parse(make(NginxJsonParser, config), [line]).rows, "http")
    assert [(r["source_ip"], r["http_response_status_code"]) for r in out] == [("192.0.2.44", 200)]


# -- IIS W3C ---------------------------------------------------------------------------


def test_iis_headers_change_mid_file() -> None:
    lines = (FIXTURES / "iis.log").read_text().splitlines()
    parsed = parse(make(IisParser), lines)
    assert parsed.skipped == 8
    assert rejects(parsed) == [(7, FIELD_COUNT), (13, web_clf.INVALID_STATUS)]
    assert rows(parsed.rows, "http") == [
        http(
            log_line=5,
            timestamp=utc(2026, 9, 30, 10),
            source_ip="198.51.100.7",
            destination_ip="10.0.0.5",
            destination_port=443,
            http_request_method="GET",
            url_path="/index.html",
            http_response_status_code=200,
            user_agent_original="Mozilla/5.0 (Windows NT 10.0; Win64; x64)",
        ),
        http(
            log_line=6,
            timestamp=utc(2026, 9, 30, 10, 0, 1),
            source_ip="2001:db8::7",
            destination_ip="10.0.0.5",
            destination_port=443,
            user_name="CONTOSO\\alice",
            http_request_method="GET",
            url_path="/owa/auth/logon.aspx",
            url_query="replaceCurrent=1&url=https%3a%2f%2fmail",
            http_response_status_code=302,
            http_request_referrer="https://mail.example.org/",
            user_agent_original="curl/8.0",
        ),
        http(
            log_line=12,
            timestamp=utc(2026, 9, 30, 11),
            source_ip="203.0.113.9",
            url_domain="www.example.org",
            http_request_method="PROPFIND",
            url_path="/",
            http_response_status_code=405,
            http_response_bytes=1293,
        ),
    ]


def test_iis_header_carries_over_to_the_next_batch() -> None:
    lines = (FIXTURES / "iis.log").read_text().splitlines()
    parser = make(IisParser)
    first = parse(parser, lines[:4])
    second = parse(parser, lines[4:6], first=5)
    assert (first.skipped, first.rows.num_rows) == (4, 0)
    assert [r["source_ip"] for r in rows(second.rows, "http")] == ["198.51.100.7", "2001:db8::7"]


def test_iis_file_with_a_byte_order_mark() -> None:
    lines = (FIXTURES / "iis.log").read_text().splitlines()
    lines[0] = "\ufeff" + lines[0]
    assert IisParser.sniff(lines[:6])
    parsed = parse(make(IisParser), lines)
    assert (parsed.rows.num_rows, parsed.skipped) == (3, 8)


def test_iis_lines_under_too_many_different_headers_are_rejected_not_queried() -> None:
    """The same header again is one layout; a hostile file of a new header
    before every record would be a query each: past MAX_LAYOUTS, rejected."""
    lines = (FIXTURES / "iis.log").read_text().splitlines()
    fields, record = lines[3], lines[4]
    again = parse(make(IisParser), [fields, record] * 100)
    assert again.rows.num_rows == 100
    hostile = [line for n in range(MAX_LAYOUTS + 6) for line in (f"{fields} x-{n}", record + " -")]
    parsed = parse(make(IisParser), hostile)
    assert parsed.rows.num_rows == MAX_LAYOUTS - 1  # layout 0 is the one before the batch
    assert {reason for _, reason in rejects(parsed)} == {TOO_MANY_LAYOUTS}
    assert parsed.rows.num_rows + len(rejects(parsed)) + parsed.skipped == len(hostile)


def test_iis_data_before_any_header_is_rejected() -> None:
    parsed = parse(make(IisParser), ["2026-09-30 10:00:00 10.0.0.5 GET / - 80 - 192.0.2.1 - - 200"])
    assert rejects(parsed) == [(1, NO_HEADER)]


# -- AWS ALB ---------------------------------------------------------------------------


def test_alb_real_sample(crowdsec_hub: Path) -> None:
    log = crowdsec_hub / "aws-alb-http-bad-user-agent" / "aws-alb-http-bad-user-agent.log"
    out = rows(parse(make(AlbParser), log.read_text().splitlines()).rows, "http")
    assert len(out) == 4
    assert out[0] == http(
        log_line=1,
        timestamp=utc(2023, 4, 26, 12, 23, 0, 186641),
        source_ip="192.168.1.100",
        source_port=44740,
        url_domain="www.example.com",
        http_request_method="GET",
        url_path="/robots.txt",
        http_version="HTTP/1.1",
        http_response_status_code=200,
        http_response_bytes=57,
        user_agent_original="curl/7.46.0",
    )
    assert out[1]["url_domain"] == "10.0.2.105"
    assert (
        out[1]["user_agent_original"]
        == "Mozilla/5.00 (Nikto/2.1.5) (Evasions:None) (Test:Port Check)"
    )


def test_alb_byte_counts_below_zero_are_no_count(crowdsec_hub: Path) -> None:
    """A ``-1`` where a byte count stands (what ALB writes for "none" in its
    other number fields) is no count, not a negative one."""
    log = crowdsec_hub / "aws-alb-http-bad-user-agent" / "aws-alb-http-bad-user-agent.log"
    line = log.read_text().splitlines()[0]
    fields = line.split(" ")
    assert fields[10:12] == ["0", "57"]  # received_bytes, sent_bytes
    for sent in ("-1", "18446744073709551616", "57"):
        (row,) = rows(
            parse(make(AlbParser), [" ".join([*fields[:11], sent, *fields[12:]])]).rows, "http"
        )
        assert row["http_response_bytes"] == (57 if sent == "57" else None)


ALB_SWEEP = (
    "https 2026-11-28T04:00:{s:02d}.186641Z app/x/490d 198.51.100.88:{port} 10.0.0.1:80 0.086"
    ' 0.048 0.037 404 404 0 57 "GET https://{host}:443/ HTTP/1.1"'
    ' "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/120.0" ECDHE-RSA-AES128-GCM-SHA256'
    " TLSv1.2 arn:aws:elasticloadbalancing:us-east-2:123456789012:targetgroup/my-targets/"
    '73e2d6bc24d8a067 "Root=1-58337281-1d84f3d73c47ec4e58577259" "{sni}"'
    ' "arn:aws:acm:us-east-2:123456789012:certificate/1" 1 2026-11-28T04:00:00.000000Z'
    ' "forward" "-" "-" "10.0.0.1:80" "404" "-" "-"'
)


def alb_sweep_lines(count: int, *, sni: str = "www.example.com") -> list[str]:
    """An HTTPS vhost sweep through one balancer: ``count`` Host names, one SNI name."""
    return [
        ALB_SWEEP.format(s=10 + i, port=44740 + i, host=f"w{i}.example.com", sni=sni)
        for i in range(count)
    ]


def test_alb_domain_is_the_requested_host_not_the_sni_name() -> None:
    """The request's host is what the client asked for (its Host header); the TLS
    SNI name is what it negotiated, the same for every vhost behind one certificate."""
    out = rows(parse(make(AlbParser), alb_sweep_lines(3)).rows, "http")
    assert [r["url_domain"] for r in out] == ["w0.example.com", "w1.example.com", "w2.example.com"]
    no_host = ALB_SWEEP.format(s=1, port=1, host="", sni="WWW.Example.com")
    (row,) = rows(parse(make(AlbParser), [no_host]).rows, "http")
    assert row["url_domain"] == "www.example.com"  # the SNI name, only when the URL has no host


def test_alb_rejects_other_lines() -> None:
    parsed = parse(make(AlbParser), ["https 2023-04-26T12:23:00Z app/x 1.2.3.4:1 - truncated"])
    assert rejects(parsed) == [(1, "not an ALB access log line")]


# -- HAProxy ---------------------------------------------------------------------------


def test_haproxy_httplog() -> None:
    lines = (FIXTURES / "haproxy.log").read_text().splitlines()
    config = Config(syslog=SyslogConfig(timezone="Europe/Paris"))
    parsed = parse(make(HaproxyParser, config), lines)
    out = rows(parsed.rows, "http")
    assert out[0] == http(
        log_line=1,
        timestamp=utc(2009, 2, 6, 11, 14, 14, 655000),
        source_ip="10.0.1.2",
        source_port=33317,
        http_request_method="GET",
        url_path="/index.html",
        url_query="x=1",
        http_version="HTTP/1.1",
        http_response_status_code=200,
        http_response_bytes=2750,
        observer_name="lb1",
    )
    assert (out[1]["source_ip"], out[1]["url_path"], out[1]["http_request_method"]) == (
        "2001:db8::7",
        "<BADREQ>",
        None,
    )
    assert out[2]["http_response_status_code"] is None  # -1: the client left
    assert rejects(parsed) == [
        (4, "haproxy line not in HTTP log format"),
        (5, "not a haproxy line"),
    ]
    assert HaproxyParser.programs == ("haproxy",)


# -- through the framework ------------------------------------------------------------


def test_ingest_sniffs_web_formats_into_the_lake(tmp_path: Path, shared_data: Path) -> None:
    inputs = tmp_path / "in"
    inputs.mkdir()
    (inputs / "a_access.log").write_bytes((shared_data / "benign-web" / "apache_logs").read_bytes())
    (inputs / "b_iis.log").write_bytes((FIXTURES / "iis.log").read_bytes())
    (inputs / "c_nginx.json").write_bytes((FIXTURES / "nginx.json").read_bytes())
    lake = Lake(tmp_path / "lake")
    run = ingest([str(inputs)], lake, Config(), IngestOptions(now=NOW))
    stats = [
        (Path(f.name).name, f.format, f.lines, f.parsed, f.rejected, f.skipped) for f in run.files
    ]
    assert stats == [
        ("a_access.log", "clf", 10_000, 10_000, 0, 0),
        ("b_iis.log", "iis", 13, 3, 2, 8),
        ("c_nginx.json", "nginx-json", 7, 3, 4, 0),
    ]
    table = lake.read("http")
    assert table.num_rows == 10_006
    datasets = pc.value_counts(table.column("event_dataset")).to_pylist()
    assert sorted((d["values"], d["counts"]) for d in datasets) == [
        ("clf", 10_000),
        ("iis", 3),
        ("nginx.json", 3),
    ]
    assert lake.read("rejects").num_rows == 6
