"""Zeek dns.log, http.log, notice.log and weird.log (TSV and JSON) -> dns, http, alert."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ingest_helpers import check_two_batches, make
from ingest_helpers import parse as parse_with
from reconwatch import schema
from reconwatch.config import Config
from reconwatch.ingest import registry, run
from reconwatch.ingest.base import ParseContext, Parsed, Parser
from reconwatch.ingest.zeek import (
    PARSERS,
    ZeekConnParser,
    ZeekDnsParser,
    ZeekHttpParser,
    ZeekNoticeParser,
    ZeekWeirdParser,
)
from reconwatch.lake import Lake

FIXTURES = Path(__file__).parent / "fixtures" / "ids"
NOW = dt.datetime(2026, 11, 28, 5, 0, tzinfo=dt.UTC)
NEW_PARSERS = [p for p in PARSERS if p is not ZeekConnParser]


def at(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0, us: int = 0
) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, second, us, tzinfo=dt.UTC)


def parse(parser_cls: type[Parser], lines: list[str]) -> Parsed:
    con = duckdb.connect()
    try:
        return parse_with(parser_cls(ParseContext(Config(), con, "t.log", NOW)), lines)
    finally:
        con.close()


def stored(parsed: Parsed, table: str, *keys: str) -> list[tuple[Any, ...]]:
    rows = parsed.rows.append_column("event_dataset", pa.repeat("x", parsed.rows.num_rows))
    rows = rows.append_column("log_file", pa.repeat("t.log", rows.num_rows))
    return [
        tuple(r[k] for k in keys) for r in schema.conform(rows, schema.TABLES[table]).to_pylist()
    ]


def rejects(parsed: Parsed) -> list[tuple[int, str]]:
    return [(r["log_line"], r["reason"]) for r in parsed.rejects.to_pylist()]


def fixture(name: str) -> list[str]:
    return (FIXTURES / name).read_text().splitlines()


DNS_KEYS = (
    "log_line", "timestamp", "source_ip", "source_port", "destination_ip", "destination_port",
    "network_transport", "dns_question_name", "dns_question_type", "dns_question_class",
    "dns_response_code", "dns_answers", "dns_id", "event_action",
)  # fmt: skip


def test_dns_log_tsv() -> None:
    parsed = parse(ZeekDnsParser, fixture("zeek-dns.log"))
    assert stored(parsed, "dns", *DNS_KEYS) == [
        (9, at(2026, 11, 28, 4, 0, 0, 123456), "192.0.2.1", 53211, "198.51.100.53", 53, "udp",
         "www.example.com", "A", "IN", "NOERROR", ["93.184.216.34", "93.184.216.35"], 4711,
         "allowed"),
        (10, at(2026, 11, 28, 4, 0, 1), "2001:db8::7", 40000, "198.51.100.53", 53, "tcp",
         "example.com", "AXFR", "IN", "REFUSED", None, 1, "rejected"),
        (11, at(2026, 11, 28, 4, 0, 2), "192.0.2.1", 53212, "198.51.100.53", 53, "udp",
         "version.bind", "TXT", "CH", None, [], 9, "allowed"),
    ]  # fmt: skip
    assert rejects(parsed) == [(12, "invalid source address")]
    assert parsed.skipped == 9  # eight header lines and #close


def test_dns_log_json() -> None:
    parsed = parse(ZeekDnsParser, fixture("zeek-dns.json"))
    assert stored(parsed, "dns", *DNS_KEYS) == [
        (1, at(2026, 11, 28, 4, 0, 0, 123456), "192.0.2.1", 53211, "198.51.100.53", 53, "udp",
         "www.example.com", "ANY", "IN", "NOERROR", ["93.184.216.34"], 4711, "allowed"),
        # Zeek JSON leaves unset fields out: no class, rcode or answers here.
        (2, at(2026, 11, 28, 4, 0, 1), "2001:db8::7", 40000, "198.51.100.53", 53, "udp",
         "1.2.0.192.in-addr.arpa", "PTR", None, None, None, 2, "allowed"),
    ]  # fmt: skip


def test_dns_log_unnamed_types_are_read_from_the_number() -> None:
    """Zeek names a type it does not know ``query-<n>`` (consts.zeek's default);
    with no name only ``qtype`` is there. Both become the number's mnemonic (a
    Zeek older than the type) or ``TYPE<n>``, as every DNS parser writes it."""
    base = {"ts": 1795838400.0, "uid": "C1", "id.orig_h": "192.0.2.1", "id.orig_p": 53211,
            "id.resp_h": "198.51.100.53", "id.resp_p": 53, "proto": "udp", "trans_id": 1,
            "query": "example.com"}  # fmt: skip
    lines = [
        json.dumps(base | {"qtype": 65, "qtype_name": "query-65"}),
        json.dumps(base | {"qtype": 65280, "qtype_name": "query-65280"}),
        json.dumps(base | {"qtype": 252}),
        json.dumps(base | {"qtype": 255, "qtype_name": "*"}),
        json.dumps(base | {"qtype": 1, "qtype_name": "A"}),
    ]
    parsed = parse(ZeekDnsParser, lines)
    assert [t for (t,) in stored(parsed, "dns", "dns_question_type")] == [
        "HTTPS", "TYPE65280", "AXFR", "ANY", "A"
    ]  # fmt: skip


def test_http_log() -> None:
    parsed = parse(ZeekHttpParser, fixture("zeek-http.log"))
    assert stored(parsed, "http", "log_line", "timestamp", "source_ip", "destination_ip",
                  "destination_port", "url_domain", "http_request_method", "url_path",
                  "url_query", "http_version", "http_response_status_code",
                  "http_response_bytes", "http_request_referrer", "user_agent_original",
                  "user_name") == [
        (9, at(2026, 11, 28, 4, 0, 0, 500000), "192.0.2.1", "203.0.113.10", 80,
         "www.example.com", "GET", "/admin/login.php", "user=a&x=1", "1.1", 404, 512, None,
         "sqlmap/1.7", None),
        (10, at(2026, 11, 28, 4, 0, 1, 500000), "2001:db8::7", "2001:db8::80", 443,
         "example.com", "HEAD", "/", None, "1.1", 200, 0, "http://evil.example/", "curl/8.0",
         "bob"),
    ]  # fmt: skip


def test_notice_log_scan_notices_name_their_actor() -> None:
    parsed = parse(ZeekNoticeParser, fixture("zeek-notice.log"))
    assert stored(parsed, "alert", "log_line", "timestamp", "source_ip", "source_port",
                  "destination_ip", "destination_port", "network_transport", "rule_id",
                  "rule_category", "event_action") == [
        (9, at(2026, 11, 28, 4, 0), "192.0.2.66", None, None, 22, None, "Scan::Address_Scan",
         "Scan", None),
        (10, at(2026, 11, 28, 4, 0, 1), "2001:db8::66", None, "2001:db8::10", None, None,
         "Scan::Port_Scan", "Scan", "denied"),
        (11, at(2026, 11, 28, 4, 0, 2), "192.0.2.5", 5555, "203.0.113.10", 443, "tcp",
         "SSL::Invalid_Server_Cert", "SSL", None),
    ]  # fmt: skip
    assert parsed.rows.column("rule_name").to_pylist()[0] == (
        "192.0.2.66 scanned at least 25 unique hosts on port 22/tcp in 0m4s"
    )


def test_weird_log() -> None:
    parsed = parse(ZeekWeirdParser, fixture("zeek-weird.log"))
    assert stored(parsed, "alert", "log_line", "source_ip", "destination_port", "rule_id",
                  "rule_name", "rule_category") == [
        (9, "192.0.2.66", 80, "bad_TCP_checksum", "bad_TCP_checksum", "weird"),
        (10, "192.0.2.66", 23, "data_before_established", "data_before_established", "weird"),
    ]  # fmt: skip
    assert rejects(parsed) == [(11, "missing source address")]


def test_json_notice_and_weird() -> None:
    notice = json.dumps({"ts": 1795838400.25, "note": "Scan::Port_Scan", "msg": "m",
                         "src": "192.0.2.66", "dst": "203.0.113.10", "p": 443,
                         "actions": ["Notice::ACTION_LOG"], "suppress_for": 3600.0})  # fmt: skip
    parsed = parse(ZeekNoticeParser, [notice, '{"ts": 1, "note": "x", "src": "nope"}'])
    assert stored(parsed, "alert", "timestamp", "source_ip", "destination_ip", "destination_port",
                  "rule_id") == [
        (at(2026, 11, 28, 4, 0, 0, 250000), "192.0.2.66", "203.0.113.10", 443, "Scan::Port_Scan")
    ]  # fmt: skip
    assert rejects(parsed) == [(2, "invalid source address")]
    weird = json.dumps({"ts": "2026-11-28T04:00:00Z", "uid": "C1", "id.orig_h": "::ffff:192.0.2.9",
                        "id.orig_p": 1, "id.resp_h": "192.0.2.1", "id.resp_p": 99999,
                        "name": "x", "notice": False, "peer": "zeek"})  # fmt: skip
    assert rejects(parse(ZeekWeirdParser, [weird])) == [(1, "invalid port")]


HTTP_KEYS = (
    "log_line", "timestamp", "source_ip", "source_port", "destination_ip", "destination_port",
    "url_domain", "http_request_method", "url_path", "url_query", "http_version",
    "http_response_status_code", "http_response_bytes", "http_request_referrer",
    "user_agent_original", "user_name",
)  # fmt: skip


def test_http_log_json() -> None:
    """http.log as ``LogAscii::use_json`` writes it: Zeek's own field names, epoch or
    ISO 8601 ``ts``, unset fields left out, sets and vectors as arrays."""
    parsed = parse(ZeekHttpParser, fixture("zeek-http.json"))
    assert stored(parsed, "http", *HTTP_KEYS) == [
        (1, at(2026, 11, 28, 4, 0, 0, 500000), "192.0.2.1", 46378, "203.0.113.10", 80,
         "testmyids.com", "GET", "/admin/login.php", "user=a&x=1", "1.1", 404, 39, None,
         "sqlmap/1.7", None),
        (2, at(2026, 11, 28, 4, 0, 1, 250000), "2001:db8::7", 40002, "2001:db8::80", 443,
         "example.com", "POST", "/", None, "1.1", 301, 0, "http://evil.example/", None, "bob"),
        # A request Zeek saw no HTTP fields for (e.g. a connection cut before the
        # request line) is still a row: who talked to the web server, when.
        (3, at(2026, 11, 28, 4, 0, 2), "192.0.2.3", 40003, "203.0.113.10", 80,
         None, None, None, None, None, None, None, None, None, None),
    ]  # fmt: skip
    assert rejects(parsed) == [(4, "invalid source address")]
    assert parsed.skipped == 0


def test_http_log_json_and_tsv_give_the_same_row() -> None:
    """The same request written as TSV and as JSON lines ends up as the same row."""
    tsv = fixture("zeek-http.log")
    fields = tsv[6].split("\t")[1:]
    values = tsv[8].split("\t")
    record: dict[str, Any] = {
        name: value for name, value in zip(fields, values, strict=True) if value not in ("-",)
    }
    record["ts"] = float(record["ts"])
    for name in ("id.orig_p", "id.resp_p", "trans_depth", "request_body_len",
                 "response_body_len", "status_code"):  # fmt: skip
        record[name] = int(record[name])
    record["tags"] = []
    from_json = stored(parse(ZeekHttpParser, [json.dumps(record)]), "http", *HTTP_KEYS[1:])
    from_tsv = stored(parse(ZeekHttpParser, tsv[:9]), "http", *HTTP_KEYS[1:])
    assert from_json == from_tsv and len(from_tsv) == 1


def test_json_notice_and_weird_fixtures() -> None:
    notice = parse(ZeekNoticeParser, fixture("zeek-notice.json"))
    assert stored(notice, "alert", "log_line", "timestamp", "source_ip", "source_port",
                  "destination_ip", "destination_port", "network_transport", "rule_id",
                  "rule_category", "event_action") == [
        (1, at(2026, 11, 28, 4, 0), "192.0.2.66", None, None, 22, None, "Scan::Address_Scan",
         "Scan", None),
        (2, at(2026, 11, 28, 4, 0, 2), "192.0.2.5", 5555, "203.0.113.10", 443, "tcp",
         "SSL::Invalid_Server_Cert", "SSL", "denied"),
    ]  # fmt: skip
    weird = parse(ZeekWeirdParser, fixture("zeek-weird.json"))
    assert stored(weird, "alert", "log_line", "source_ip", "source_port", "destination_ip",
                  "destination_port", "rule_id", "rule_category") == [
        (1, "192.0.2.66", 40000, "203.0.113.10", 80, "bad_TCP_checksum", "weird"),
    ]  # fmt: skip
    # A weird without a connection (no id.*) names no actor: rejected, as in TSV.
    assert rejects(weird) == [(2, "missing source address")]


@pytest.mark.parametrize(
    ("name", "fmt"),
    [
        ("zeek-http.json", "zeek-http"),
        ("zeek-notice.json", "zeek-notice"),
        ("zeek-weird.json", "zeek-weird"),
    ],
)
def test_format_auto_sniffs_zeek_json(tmp_path: Path, name: str, fmt: str) -> None:
    """``--format auto`` on a JSON log without any ``#`` header: the keys decide."""
    sample = fixture(name)
    chosen = registry.sniff(sample)
    assert chosen is not None and chosen.name == fmt
    assert [p.name for p in registry.PARSERS if p.sniff(sample)] == [fmt]
    # Through the framework, from a file whose name says nothing.
    data = tmp_path / "export.log"
    data.write_text("\n".join(sample) + "\n")
    stats = run.ingest([str(data)], Lake(tmp_path / "lake"), Config(), run.IngestOptions(now=NOW))
    assert [f.format for f in stats.files] == [fmt]


def test_another_zeek_log_is_rejected_by_path() -> None:
    lines = fixture("zeek-http.log")
    parsed = parse(ZeekDnsParser, lines)
    assert rejects(parsed) == [(9, "not a dns log"), (10, "not a dns log")]


# -- sniffing --------------------------------------------------------------------------------

OWNED = {
    "zeek-dns.log": "zeek-dns",
    "zeek-dns.json": "zeek-dns",
    "zeek-http.log": "zeek-http",
    "zeek-notice.log": "zeek-notice",
    "zeek-weird.log": "zeek-weird",
    "zeek-http.json": "zeek-http",
    "zeek-notice.json": "zeek-notice",
    "zeek-weird.json": "zeek-weird",
}


def _sample(path: Path) -> list[str]:
    return [line for line in path.read_text(errors="replace").splitlines() if line.strip()][:50]


def test_each_sniffer_claims_only_its_own_samples(shared_data: Path) -> None:
    paths = [p for p in sorted(shared_data.rglob("*")) if p.suffix in (".log", ".json")]
    paths += sorted((Path(__file__).parent / "fixtures").rglob("*.*"))
    claims = {p: [c.name for c in NEW_PARSERS if c.sniff(_sample(p))] for p in paths}
    assert {p.name: names for p, names in claims.items() if names} == {
        name: [fmt] for name, fmt in OWNED.items()
    }
    for name, fmt in OWNED.items():
        chosen = registry.sniff(_sample(FIXTURES / name))
        assert chosen is not None and chosen.name == fmt


# -- properties ------------------------------------------------------------------------------

_REAL = [line for name in OWNED for line in fixture(name)]


def _mutate(line: str, cut: int, insert: str) -> str:
    cut = min(cut, len(line))
    return line[:cut] + insert + line[cut:]


_LINES = st.lists(
    st.one_of(
        st.sampled_from(_REAL),
        st.text(max_size=80),
        st.builds(_mutate, st.sampled_from(_REAL), st.integers(0, 200),
                  st.sampled_from(["", "\t", "-", "(empty)", "{", '"', ",", "#", "999", "\\x09"])),
    ),
    max_size=30,
)  # fmt: skip


@pytest.mark.parametrize("parser_cls", NEW_PARSERS, ids=lambda p: p.name)
@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(lines=_LINES, cut=st.integers(0, 30))
def test_random_and_mutated_lines_never_raise_and_are_accounted(
    parser_cls: type[Parser], lines: list[str], cut: int
) -> None:
    check_two_batches(make(parser_cls), lines, cut)


# -- through the framework -------------------------------------------------------------------


def test_ingest_zeek_logs_into_their_tables(tmp_path: Path) -> None:
    lake = Lake(tmp_path / "lake")
    paths = [str(FIXTURES / name) for name in OWNED]
    stats = run.ingest(paths, lake, Config(), run.IngestOptions(now=NOW, block_bytes=400))
    assert [(f.format, f.lines, f.parsed, f.rejected, f.skipped) for f in stats.files] == [
        ("zeek-dns", 13, 3, 1, 9),
        ("zeek-dns", 2, 2, 0, 0),
        ("zeek-http", 10, 2, 0, 8),
        ("zeek-notice", 11, 3, 0, 8),
        ("zeek-weird", 11, 2, 1, 8),
        ("zeek-http", 4, 3, 1, 0),
        ("zeek-notice", 2, 2, 0, 0),
        ("zeek-weird", 2, 1, 1, 0),
    ]  # fmt: skip
    assert sorted(lake.read("dns").column("event_dataset").to_pylist()) == ["zeek.dns"] * 5
    assert lake.read("http").num_rows == 5
    alerts = lake.read("alert").to_pylist()
    assert sorted(r["event_dataset"] for r in alerts) == ["zeek.notice"] * 5 + ["zeek.weird"] * 3
