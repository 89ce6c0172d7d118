"""Honeypot parsers: Cowrie (JSON and text) and OpenCanary, into the alert table."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ingest_helpers import NOW, make, parse, rejects, rows, utc
from reconwatch.config import Config
from reconwatch.ingest import honeypot_cowrie, honeypot_opencanary
from reconwatch.ingest.honeypot_cowrie import CowrieJsonParser, CowrieTextParser
from reconwatch.ingest.honeypot_opencanary import OpenCanaryParser
from reconwatch.ingest.linesql import INVALID_TIMESTAMP
from reconwatch.ingest.run import IngestOptions, ingest
from reconwatch.lake import Lake

FIXTURES = Path(__file__).parent / "fixtures" / "honeypot"


def alert(**values: object) -> dict[str, object]:
    base: dict[str, object] = {
        "source_port": None,
        "destination_ip": None,
        "destination_port": None,
        "network_transport": "tcp",
        "rule_category": "honeypot",
        "event_severity": 1,
        "event_action": None,
        "observer_name": None,
    }
    return {**base, **values}


def test_cowrie_json_fixture() -> None:
    lines = (FIXTURES / "cowrie.json").read_text().splitlines()
    parsed = parse(make(CowrieJsonParser), lines)
    out = rows(parsed.rows, "alert")
    assert out[0] == alert(
        log_line=1,
        timestamp=utc(2026, 9, 30, 10, 0, 0, 123456),
        source_ip="192.0.2.7",
        source_port=40102,
        destination_ip="10.0.0.5",
        destination_port=2222,
        rule_id="cowrie.session.connect",
        rule_name="cowrie.session.connect",
        observer_name="hp1",
    )
    assert [(r["rule_name"], r["source_ip"], r["timestamp"]) for r in out[1:]] == [
        ("cowrie.client.version", "192.0.2.7", utc(2026, 9, 30, 10, 0, 0, 456789)),
        ("cowrie.login.failed", "192.0.2.7", utc(2026, 9, 30, 10, 0, 1, 1)),
        ("cowrie.login.success", "192.0.2.7", utc(2026, 9, 30, 10, 0, 2)),
        ("cowrie.command.input", "192.0.2.7", utc(2026, 9, 30, 10, 0, 3, 500000)),
        ("cowrie.session.connect", "2001:db8::7", utc(2026, 9, 30, 8, 5)),
        ("cowrie.session.closed", "192.0.2.7", utc(2026, 9, 30, 10, 0, 4)),
    ]
    assert out[5]["destination_ip"] == "2001:db8:1::5"


def test_cowrie_json_rejects() -> None:
    lines = [
        "{not json",
        '{"eventid": "suricata.alert", "src_ip": "192.0.2.1", "timestamp": "2026-09-30T10:00:00Z"}',
        '{"eventid": "cowrie.session.connect", "src_ip": "192.0.2.1", "timestamp": "nope"}',
        "",
    ]
    parsed = parse(make(CowrieJsonParser), lines)
    assert parsed.skipped == 1
    assert rejects(parsed) == [
        (1, honeypot_cowrie.NOT_JSON),
        (2, honeypot_cowrie.NOT_COWRIE),
        (3, INVALID_TIMESTAMP),
    ]


TRANSPORT = "2020-12-08T06:28:45+0000 [HoneyPotSSHTransport,0,4.2.3.1]"


def test_cowrie_text_real_sample(crowdsec_hub: Path) -> None:
    lines = (crowdsec_hub / "cowrie-logs" / "cowrie-logs.log").read_text().splitlines()
    extra = [
        f"{TRANSPORT} login attempt [b'root'/b'1234'] failed",
        f"{TRANSPORT.replace(':45', ':46')} login attempt [b'root'/b'x'] succeeded",
        f"{TRANSPORT.replace(':45', ':47')} kex alg=b'curve25519-sha256'",
    ]
    parsed = parse(make(CowrieTextParser), lines + extra)
    out = rows(parsed.rows, "alert")
    assert out[0] == alert(
        log_line=1,
        timestamp=utc(2020, 12, 8, 6, 28, 43),
        source_ip="4.2.3.1",
        source_port=47630,
        destination_ip="1.2.3.4",
        destination_port=2222,
        rule_id="cowrie.session.connect",
        rule_name="cowrie.session.connect",
    )
    assert [(r["log_line"], r["rule_name"], r["source_ip"]) for r in out] == [
        (1, "cowrie.session.connect", "4.2.3.1"),
        (2, "cowrie.session.connect", "1.1.1.1"),
        (3, "cowrie.login.failed", "4.2.3.1"),
        (4, "cowrie.login.success", "4.2.3.1"),
    ]
    assert rejects(parsed) == [(5, honeypot_cowrie.UNREAD_TEXT)]
    assert CowrieTextParser.programs == ("cowrie",)


def test_cowrie_text_lines_quoted_inside_other_text_are_not_events(crowdsec_hub: Path) -> None:
    """CrowdSec's parser.assert quotes the sample's Cowrie lines: they are not Cowrie's lines."""
    quoted = (crowdsec_hub / "cowrie-logs" / "parser.assert").read_text().splitlines()
    assert any("cowrie[2806]: 2020-12-08T06:28:43" in line for line in quoted)
    parsed = parse(make(CowrieTextParser), quoted)
    assert parsed.rows.num_rows == 0
    assert len(rejects(parsed)) == len([line for line in quoted if line.strip()])


def test_opencanary_fixture() -> None:
    lines = (FIXTURES / "opencanary.json").read_text().splitlines()
    parsed = parse(make(OpenCanaryParser), lines)
    assert parsed.skipped == 1  # the canary's own "running" message
    out = rows(parsed.rows, "alert")
    assert out[0] == alert(
        log_line=2,
        timestamp=utc(2026, 9, 30, 10, 0, 1, 123456),
        source_ip="192.0.2.7",
        source_port=40102,
        destination_ip="10.0.0.5",
        destination_port=22,
        rule_id="4002",
        rule_name="opencanary.ssh_login_attempt",
        observer_name="canary-1",
    )
    assert [(r["rule_name"], r["source_ip"], r["network_transport"]) for r in out[1:]] == [
        ("opencanary.port_syn", "2001:db8::7", "tcp"),
        ("opencanary.snmp_cmd", "192.0.2.8", "udp"),
        ("opencanary.logtype_77777", "192.0.2.9", "tcp"),
    ]
    assert rejects(parsed) == [(6, honeypot_opencanary.NOT_OPENCANARY), (7, INVALID_TIMESTAMP)]


HOSTILE = [
    '{"eventid": "cowrie.command.input", "input": "<script>\\u001b[31m", "src_ip": "192.0.2.1",'
    ' "timestamp": "2026-09-30T10:00:00Z"}',
    '{"logtype": 4002, "node_id": "\\u001b[2J", "src_host": "192.0.2.1",'
    ' "utc_time": "2026-09-30 10:00:00", "logdata": {"USERNAME": "' + "A" * 100_000 + '"}}',
    "{" * 50_000,
    '{"a": "\ufffd\x00"}',
]


@pytest.mark.parametrize("parser", [CowrieJsonParser, CowrieTextParser, OpenCanaryParser])
def test_hostile_lines_never_raise(parser: type) -> None:
    parse(make(parser), HOSTILE)


def test_hostile_json_values_are_kept() -> None:
    out = rows(parse(make(OpenCanaryParser), HOSTILE).rows, "alert")
    assert [(r["log_line"], r["observer_name"]) for r in out] == [(2, "\x1b[2J")]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.text(max_size=300), min_size=1, max_size=8))
def test_honeypot_parsers_account_for_any_text(lines: list[str]) -> None:
    lines = [line.replace("\n", " ").replace("\r", " ") for line in lines]
    for parser in (CowrieJsonParser, CowrieTextParser, OpenCanaryParser):
        parse(make(parser), lines)


@settings(max_examples=60, deadline=None)
@given(
    event=st.sampled_from(
        ["cowrie.session.connect", "cowrie.login.failed", "cowrie.command.input"]
    ),
    port=st.integers(0, 65535),
    a=st.integers(0, 255),
)
def test_cowrie_json_property(event: str, port: int, a: int) -> None:
    line = (
        f'{{"eventid": "{event}", "src_ip": "198.51.100.{a}", "src_port": {port},'
        f' "timestamp": "2026-09-30T10:00:00.5Z", "session": "s"}}'
    )
    out = rows(parse(make(CowrieJsonParser), [line]).rows, "alert")
    assert [(r["rule_name"], r["source_ip"], r["source_port"], r["timestamp"]) for r in out] == [
        (event, f"198.51.100.{a}", port, utc(2026, 9, 30, 10, 0, 0, 500000))
    ]


def test_ingest_sniffs_honeypots(tmp_path: Path, crowdsec_hub: Path) -> None:
    inputs = tmp_path / "in"
    inputs.mkdir()
    (inputs / "cowrie.json").write_bytes((FIXTURES / "cowrie.json").read_bytes())
    (inputs / "cowrie.log").write_bytes(
        (crowdsec_hub / "cowrie-logs" / "cowrie-logs.log").read_bytes()
    )
    (inputs / "opencanary.log").write_bytes((FIXTURES / "opencanary.json").read_bytes())
    lake = Lake(tmp_path / "lake")
    run = ingest([str(inputs)], lake, Config(), IngestOptions(now=NOW))
    stats = [
        (Path(f.name).name, f.format, f.lines, f.parsed, f.rejected, f.skipped) for f in run.files
    ]
    assert stats == [
        ("cowrie.json", "cowrie", 7, 7, 0, 0),
        ("cowrie.log", "cowrie-text", 2, 2, 0, 0),
        ("opencanary.log", "opencanary", 7, 4, 2, 1),
    ]
    table = lake.read("alert")
    assert table.num_rows == 13
    assert set(table.column("event_severity").to_pylist()) == {1}
