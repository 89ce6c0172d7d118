"""OpenVPN server status files (``--status FILE``, versions 1-3) -> ``auth``."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ingest_helpers import NOW, check_two_batches, make, parse, rejects, rows, utc
from reconwatch.config import Config, SyslogConfig
from reconwatch.ingest import auth, auth_openvpn, registry
from reconwatch.ingest.auth_openvpn import OpenVpnParser, OpenVpnStatusParser
from reconwatch.ingest.base import Parsed
from reconwatch.ingest.linesql import INVALID_SOURCE
from reconwatch.ingest.run import IngestOptions, ingest
from reconwatch.lake import Lake

FIXTURES = Path(__file__).parent / "fixtures" / "auth"
PARIS = Config(syslog=SyslogConfig(timezone="Europe/Paris"))
KEYS = ("log_line", "timestamp", "source_ip", "source_port", "user_name", "event_action",
        "event_outcome", "service_name")  # fmt: skip


def fixture(version: int) -> list[str]:
    return (FIXTURES / f"openvpn-status-v{version}.log").read_text().splitlines()


Row = tuple[object, ...]


def picked(lines: list[str], config: Config | None = None) -> tuple[list[Row], Parsed]:
    parsed = parse(make(OpenVpnStatusParser, config), lines)
    out = [tuple(r[k] for k in KEYS) for r in rows(parsed.rows, "auth")]
    return out, parsed


def test_version_1_text_stamps_in_the_configured_zone() -> None:
    out, parsed = picked(fixture(1), PARIS)
    assert out == [
        (4, utc(2026, 9, 30, 10), "192.0.2.1", 51234, "alice", "vpn_connect", "success",
         "openvpn"),
        # IPv6 without brackets: the port is after the last colon.
        (5, utc(2026, 9, 30, 9, 30), "2001:db8::5", 1194, "bob@example.com", "vpn_connect",
         "success", "openvpn"),
        # OpenVPN before 2.4 wrote ctime() stamps.
        (6, utc(2026, 9, 29, 21, 59, 59), "198.51.100.9", 5000, "old-client", "vpn_connect",
         "success", "openvpn"),
    ]  # fmt: skip
    assert rejects(parsed) == [(7, auth_openvpn.BAD_ROW)]
    # Title, Updated, two headers, routing title and rows, stats title and row, END.
    assert parsed.skipped == 10


def test_version_2_time_t_wins_and_undef_usernames_fall_back_to_the_common_name() -> None:
    # The text stamps are Paris time; time_t is UTC whatever the configured zone.
    out, parsed = picked(fixture(2))
    assert out == [
        (4, utc(2026, 9, 30, 10), "192.0.2.1", 51234, "alice", "vpn_connect", "success",
         "openvpn"),
        (5, utc(2026, 9, 30, 9, 30), "2001:db8::5", 1194, "bob", "vpn_connect", "success",
         "openvpn"),
    ]  # fmt: skip
    assert rejects(parsed) == [(6, auth_openvpn.BAD_ROW)]
    assert parsed.skipped == 9


def test_version_3_is_tab_separated() -> None:
    out, parsed = picked(fixture(3))
    assert out == [
        (4, utc(2026, 9, 29, 21, 59, 59), "198.51.100.20", 40001, "carol", "vpn_connect",
         "success", "openvpn"),
        (5, utc(2026, 9, 30, 9, 30), "2001:db8::9", 40002, "dave", "vpn_connect", "success",
         "openvpn"),
    ]  # fmt: skip
    assert rejects(parsed) == []
    assert parsed.skipped == 7


def test_header_is_remembered_across_batches_and_layout_guessed_without_one() -> None:
    lines = fixture(2)
    parser = make(OpenVpnStatusParser)
    parse(parser, lines[:3])
    second = parse(parser, lines[3:5], first=4)
    assert [r["user_name"] for r in rows(second.rows, "auth")] == ["alice", "bob"]
    # No header at all: a 2.4+ row by its length, and a 2.3 row (no IPv6, no ids).
    old = "CLIENT_LIST,erin,192.0.2.50:1200,10.8.0.22,10,20,2026-09-30 08:00:00,1790748000,erin2"
    fresh = parse(make(OpenVpnStatusParser), [lines[4], old])
    assert [(r["user_name"], r["timestamp"]) for r in rows(fresh.rows, "auth")] == [
        ("bob", utc(2026, 9, 30, 9, 30)),
        ("erin2", utc(2026, 9, 30, 6)),
    ]


def test_client_rows_are_never_mistaken_for_skipped_lines() -> None:
    lines = [
        "ENDuser,192.0.2.8:1000,1,2,2026-09-30 12:00:00",
        "CLIENT_LIST,x,999.1.1.1:5,10.8.0.2,,1,2,2026-09-30 12:00:00,1790762400,UNDEF,0,0",
        "something else entirely",
    ]
    out, parsed = picked(lines)
    assert [(r[0], r[4]) for r in out] == [(1, "ENDuser")]
    assert rejects(parsed) == [(2, INVALID_SOURCE), (3, auth_openvpn.NOT_STATUS)]


def test_sniffing_picks_the_status_parser_and_nothing_else_claims_the_files() -> None:
    for version in (1, 2, 3):
        sample = [line for line in fixture(version) if line.strip()]
        chosen = registry.sniff(sample)
        assert chosen is OpenVpnStatusParser, version
    others = [p for p in sorted(FIXTURES.iterdir()) if "openvpn-status" not in p.name]
    for path in others:
        if path.suffix in (".log", ".json", ".jsonl"):
            sample = path.read_text(errors="replace").splitlines()[:50]
            assert not OpenVpnStatusParser.sniff(sample), path
    assert OpenVpnParser.sniff((FIXTURES / "openvpn.log").read_text().splitlines())


@given(st.lists(st.text(max_size=200), max_size=20))
def test_sniffer_never_raises(sample: list[str]) -> None:
    assert OpenVpnStatusParser.sniff(sample) in (True, False)


_REAL = fixture(1) + fixture(2) + fixture(3)


def _mutate(line: str, cut: int, insert: str) -> str:
    cut = min(cut, len(line))
    return line[:cut] + insert + line[cut:]


_LINES = st.lists(
    st.one_of(
        st.sampled_from(_REAL),
        st.text(max_size=120).map(lambda t: t.replace("\n", " ").replace("\r", " ")),
        st.builds(_mutate, st.sampled_from(_REAL), st.integers(0, 200),
                  st.sampled_from(["", " ", ",", "\t", ":", "[", "]", "\x00", "é", "UNDEF",
                                   "999", "::", "-", "HEADER,CLIENT_LIST,Username,"])),
    ),
    max_size=30,
)  # fmt: skip


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(lines=_LINES, cut=st.integers(0, 30))
def test_random_and_mutated_lines_never_raise_and_are_accounted(lines: list[str], cut: int) -> None:
    check_two_batches(make(OpenVpnStatusParser), lines, cut)


@pytest.mark.parametrize("version", [1, 2, 3])
def test_ingest_stores_status_rows(tmp_path: Path, version: int) -> None:
    lake = Lake(tmp_path / "lake")
    path = FIXTURES / f"openvpn-status-v{version}.log"
    run = ingest([str(path)], lake, Config(), IngestOptions(now=NOW))
    (stats,) = run.files
    expected = {1: (14, 3, 1, 10), 2: (12, 2, 1, 9), 3: (9, 2, 0, 7)}[version]
    assert (stats.format, stats.lines, stats.parsed, stats.rejected, stats.skipped) == (
        "openvpn-status", *expected)  # fmt: skip
    table = lake.read("auth")
    assert set(table.column("event_dataset").to_pylist()) == {"openvpn.status"}
    assert OpenVpnStatusParser in auth.PARSERS


def test_time_t_is_utc_whatever_the_hosts_zone() -> None:
    # DuckDB's session zone is the host's (TZ): a non-UTC server must store the same UTC.
    parser = make(OpenVpnStatusParser)
    parser.ctx.con.execute("SET GLOBAL TimeZone = 'America/New_York'")
    out = [tuple(r[k] for k in KEYS) for r in rows(parse(parser, fixture(2)).rows, "auth")]
    assert [r[1] for r in out] == [utc(2026, 9, 30, 10), utc(2026, 9, 30, 9, 30)]
