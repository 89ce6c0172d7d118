"""User-defined mappings: CSV and JSON-lines exports into a table, without code."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ingest_helpers import NOW, make, parse, rejects, rows, utc
from reconwatch.config import Config, IngestConfig
from reconwatch.ingest import mapping
from reconwatch.ingest.linesql import INVALID_SOURCE, INVALID_TIMESTAMP
from reconwatch.ingest.mapping import MappingError, MappingParser, load_mapping
from reconwatch.ingest.run import IngestOptions, ingest
from reconwatch.lake import Lake

FIXTURES = Path(__file__).parent / "fixtures" / "mapping"
VPN = FIXTURES / "vpn.yaml"
EDR = FIXTURES / "edr.yaml"


@pytest.fixture(autouse=True)
def _no_active_mappings() -> Iterator[None]:
    """Sniffing state is module-wide: leave it as found."""
    yield
    mapping.activate(Config())


def config(*paths: Path) -> Config:
    return Config(ingest=IngestConfig(mappings=[str(p) for p in paths]))


def test_csv_mapping_to_auth() -> None:
    lines = (FIXTURES / "vpn.csv").read_text().splitlines()
    parsed = parse(make(MappingParser, config(VPN)), lines)
    assert parsed.rows.num_rows == 0  # the parser's own table is network; these are auth
    assert parsed.skipped == 2  # header and blank line
    assert rows(parsed.other_tables["auth"], "auth") == [
        {
            "log_line": 2,
            "timestamp": utc(2026, 9, 30, 10),
            "source_ip": "198.51.100.7",
            "source_port": 51000,
            "destination_ip": None,
            "destination_port": None,
            "user_name": "alice",
            "event_outcome": "success",
            "event_action": "login",
            "auth_method": None,
            "service_name": "vpn",
            "event_code": None,
            "observer_name": None,
            "event_dataset": "vpn-export",
        },
        {
            "log_line": 3,
            "timestamp": utc(2026, 9, 30, 10, 0, 5),
            "source_ip": "2001:db8::9",
            "source_port": 51001,
            "destination_ip": None,
            "destination_port": None,
            "user_name": 'bob "the admin"',
            "event_outcome": "failure",
            "event_action": "login",
            "auth_method": None,
            "service_name": "vpn",
            "event_code": None,
            "observer_name": None,
            "event_dataset": "vpn-export",
        },
    ]
    assert rejects(parsed) == [
        (5, "invalid source_port"),
        (6, mapping.BAD_CSV_ROW),
        (7, INVALID_TIMESTAMP),
        (8, INVALID_SOURCE),
    ]


def test_jsonl_mapping_to_network() -> None:
    lines = (FIXTURES / "edr.jsonl").read_text().splitlines()
    parsed = parse(make(MappingParser, config(VPN, EDR)), lines)
    out = rows(parsed.rows, "network")
    assert [
        (
            r["log_line"],
            r["timestamp"],
            r["source_ip"],
            r["source_port"],
            r["destination_ip"],
            r["destination_port"],
            r["network_transport"],
            r["event_action"],
            r["observer_name"],
            r["event_dataset"],
        )
        for r in out
    ] == [
        (
            1,
            utc(2026, 9, 30, 10, 0, 0, 250000),
            "198.51.100.7",
            40000,
            "10.0.0.5",
            445,
            "tcp",
            "denied",
            "ws-01",
            "edr-net",
        ),
        (
            2,
            utc(2026, 9, 30, 10, 0, 1),
            "2001:db8::7",
            40001,
            "10.0.0.6",
            3389,
            "tcp",
            "denied",
            "ws-02",
            "edr-net",
        ),
    ]
    assert rejects(parsed) == [
        (3, "invalid destination_port"),
        (4, mapping.NOT_JSON),
        (5, INVALID_TIMESTAMP),
    ]


def test_numbers_outside_their_range_are_rejected() -> None:
    """A port is 0 to 65535 as in every parser: ``-1`` and ``65536`` are
    whole numbers the SQL type holds, and were read as ports."""
    header = "Time,User,Client IP,Port,Result,Comment"
    stamp = "30/09/2026 12:00:0{n},u,198.51.100.7,{port},failure,x"
    ports = ["0", "65535", "-1", "65536", "+7", "99999999999"]
    lines = [header, *(stamp.format(n=n, port=port) for n, port in enumerate(ports))]
    parsed = parse(make(MappingParser, config(VPN)), lines)
    assert [r["source_port"] for r in rows(parsed.other_tables["auth"], "auth")] == [0, 65535, 7]
    assert rejects(parsed) == [(n, "invalid source_port") for n in (4, 5, 7)]


def test_no_matching_mapping_rejects_the_file() -> None:
    parsed = parse(make(MappingParser, config(VPN)), ["a,b,c", "1,2,3"])
    assert rejects(parsed) == [(1, mapping.NO_MAPPING), (2, mapping.NO_MAPPING)]


def test_csv_header_is_sought_once_and_carried_across_batches() -> None:
    lines = (FIXTURES / "vpn.csv").read_text().splitlines()
    parser = make(MappingParser, config(VPN))
    first = parse(parser, lines[:2])
    second = parse(parser, lines[2:3], first=3)
    assert first.row_count == 1
    assert [r["user_name"] for r in rows(second.other_tables["auth"], "auth")] == [
        'bob "the admin"'
    ]


def test_bad_mapping_files_name_the_key(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\ntable: auth\nformat: csv\ncolumns: {source_ip: ip}\n")
    with pytest.raises(MappingError, match=r"bad.yaml: .*needs 'timestamp' mapped"):
        load_mapping(bad)
    bad.write_text("name: x\ntable: auth\nformat: csv\ncolumns: {timestamp: t, nope: ip}\n")
    with pytest.raises(MappingError, match="auth has no column 'nope'"):
        load_mapping(bad)
    bad.write_text("name: x\ntable: network\nformat: csv\ncolumns: {timestamp: t, source_ip: s}\n")
    with pytest.raises(MappingError, match="needs 'destination_ip' mapped"):
        load_mapping(bad)


def test_sniffing_needs_activated_mappings() -> None:
    sample = (FIXTURES / "vpn.csv").read_text().splitlines()[:5]
    assert not MappingParser.sniff(sample)
    mapping.activate(config(VPN, EDR))
    assert MappingParser.sniff(sample)
    assert MappingParser.sniff((FIXTURES / "edr.jsonl").read_text().splitlines())
    assert not MappingParser.sniff(["Time,User", "x,y"])


def test_ingest_with_mappings(tmp_path: Path) -> None:
    cfg = config(VPN, EDR)
    mapping.activate(cfg)  # what ingest.run should do before sniffing (see docs/mapping.md)
    lake = Lake(tmp_path / "lake")
    run = ingest(
        [str(FIXTURES / "vpn.csv"), str(FIXTURES / "edr.jsonl")], lake, cfg, IngestOptions(now=NOW)
    )
    stats = [(f.format, f.lines, f.parsed, f.rejected, f.skipped) for f in run.files]
    assert stats == [("mapping", 8, 2, 4, 2), ("mapping", 5, 2, 3, 0)]
    assert lake.read("auth").column("event_dataset").to_pylist() == ["vpn-export", "vpn-export"]
    assert lake.read("network").num_rows == 2


@settings(max_examples=40, deadline=None)
@given(st.lists(st.text(max_size=200), min_size=1, max_size=8))
def test_mapping_parser_accounts_for_any_text(lines: list[str]) -> None:
    lines = [line.replace("\n", " ").replace("\r", " ") for line in lines]
    header = "Time,User,Client IP,Port,Result,Comment"
    for paths, first in (((VPN,), [header]), ((EDR,), [])):
        parse(make(MappingParser, config(*paths)), first + lines)


@settings(max_examples=40, deadline=None)
@given(
    user=st.text(st.characters(exclude_categories=("Cs", "Cc")), max_size=30),
    port=st.integers(0, 65535),
)
def test_csv_property_quoted_values_round_trip(user: str, port: int) -> None:
    quoted = '"' + user.replace('"', '""') + '"'
    lines = [
        "Time,User,Client IP,Port,Result,Comment",
        f"30/09/2026 12:00:00,{quoted},192.0.2.1,{port},success,",
    ]
    parsed = parse(make(MappingParser, config(VPN)), lines)
    out = rows(parsed.other_tables["auth"], "auth")
    expected_user = user.strip() or None
    assert [(r["user_name"], r["source_port"]) for r in out] == [(expected_user, port)]


def test_hostile_csv_never_raises() -> None:
    lines = [
        "Time,User,Client IP,Port,Result,Comment",
        '30/09/2026 12:00:00,"<script>\x1b[31m",192.0.2.1,1,success,' + "A" * 100_000,
        '"' * 50_000,
        "\ufffd\x00,,,,,",
    ]
    parsed = parse(make(MappingParser, config(VPN)), lines)
    assert [r["user_name"] for r in rows(parsed.other_tables["auth"], "auth")] == [
        "<script>\x1b[31m"
    ]


def test_a_column_mapped_twice_is_refused_naming_file_line_and_key(tmp_path: Path) -> None:
    # The second source_ip silently replaced the first: another column read as the source.
    bad = tmp_path / "bad.yaml"
    text = VPN.read_text(encoding="utf-8")
    bad.write_text(
        text.replace("  source_port: Port\n", "  source_port: Port\n  source_ip: User\n")
    )
    line = text.splitlines().index("  source_port: Port") + 2
    with pytest.raises(MappingError) as caught:
        load_mapping(bad)
    first = line - 2
    assert str(caught.value) == f"{bad}:{line}: duplicate key 'source_ip' (first on line {first})"


def test_unusable_mapping_file_rejects_instead_of_stopping_the_run(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: [unclosed\n")
    parsed = parse(make(MappingParser, config(bad)), ["a,b", "1,2"])
    assert rejects(parsed) == [(1, mapping.BAD_MAPPING), (2, mapping.BAD_MAPPING)]
    with pytest.raises(MappingError, match=r"bad\.yaml: not valid YAML"):
        mapping.activate(config(bad))
