"""Windows Defender Firewall ``pfirewall.log``: header-driven fields, zones, sniffing, a hunt."""

from __future__ import annotations

from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ingest_helpers import NOW, check_two_batches, make, mutated_lines, parse, rejects, utc
from reconwatch.config import Config, SyslogConfig
from reconwatch.hunt import hunt
from reconwatch.ingest import registry
from reconwatch.ingest.base import MAX_LAYOUTS, TOO_MANY_LAYOUTS
from reconwatch.ingest.fw_common import INVALID_PORT, UNKNOWN_ACTION
from reconwatch.ingest.fw_windows import (
    EVENTS_LOST,
    MALFORMED,
    MISSING_FIELDS,
    NOT_RECORD,
    WRONG_FIELD_COUNT,
    WindowsFirewallParser,
)
from reconwatch.ingest.linesql import INVALID_SOURCE, INVALID_TIMESTAMP
from reconwatch.ingest.run import IngestOptions, ingest
from reconwatch.ingest.sources import head_lines
from reconwatch.lake import Lake
from test_ingest_fw_helpers import network

FIELDS = (
    "#Fields: date time action protocol src-ip dst-ip src-port dst-port size tcpflags tcpsyn "
    "tcpack tcpwin icmptype icmpcode info path"
)
HEADER = [
    "#Version: 1.5",
    "#Software: Microsoft Windows Firewall",
    "#Time Format: Local",
    FIELDS,
]
HEADER_PID = [*HEADER[:3], FIELDS + " pid"]

SYN = "2026-09-30 10:00:01 DROP TCP 198.51.100.7 203.0.113.5 40000 3389 52 S 3301937187 0 64240 - - - RECEIVE"  # noqa: E501
DNS = "2026-09-30 10:00:02 ALLOW UDP 203.0.113.5 192.0.2.53 62383 53 0 - - - - - - - SEND"
PING = "2026-09-30 10:00:03 DROP ICMP 198.51.100.7 203.0.113.5 - - 60 - - - - 8 0 - RECEIVE"
V6 = "2026-09-30 10:00:04 DROP TCP 2001:db8::7 2001:db8:0:1::5 51000 445 64 AP 1 2 1024 - - - RECEIVE"  # noqa: E501
LOST = "2026-09-30 10:00:05 INFO-EVENTS-LOST - - - - - - - - - - - - 59 -"

DROP = {"event_action": "dropped", "connection_outcome": "failed"}
ALLOW = {"event_action": "allowed", "connection_outcome": "succeeded"}


def with_pid(record: str, pid: int = 4) -> str:
    return f"{record} {pid}"


def test_tcp_udp_icmp_and_ipv6_records_under_the_documented_header() -> None:
    parsed = parse(make(WindowsFirewallParser), [*HEADER, SYN, DNS, PING, V6, LOST])
    assert network(parsed) == [
        {**DROP, "log_line": 5, "timestamp": utc(2026, 9, 30, 10, 0, 1),
         "source_ip": "198.51.100.7", "source_port": 40000, "destination_ip": "203.0.113.5",
         "destination_port": 3389, "network_transport": "tcp", "tcp_flags": "SYN",
         "tcp_window": 64240, "network_bytes": 52},
        # ALLOW is logged when the connection is authorised: size 0 is "not measured".
        {**ALLOW, "log_line": 6, "timestamp": utc(2026, 9, 30, 10, 0, 2),
         "source_ip": "203.0.113.5", "source_port": 62383, "destination_ip": "192.0.2.53",
         "destination_port": 53, "network_transport": "udp"},
        {**DROP, "log_line": 7, "timestamp": utc(2026, 9, 30, 10, 0, 3),
         "source_ip": "198.51.100.7", "destination_ip": "203.0.113.5",
         "network_transport": "icmp", "network_bytes": 60},
        {**DROP, "log_line": 8, "timestamp": utc(2026, 9, 30, 10, 0, 4),
         "source_ip": "2001:db8::7", "source_port": 51000, "destination_ip": "2001:db8:0:1::5",
         "destination_port": 445, "network_transport": "tcp", "tcp_flags": "ACK PSH",
         "tcp_window": 1024, "network_bytes": 64},
    ]  # fmt: skip
    # The four directives are skipped; the lost-events record is rejected, not a row.
    assert parsed.skipped == 4
    assert rejects(parsed) == [(9, EVENTS_LOST)]
    assert parsed.rejects.column("raw").to_pylist() == [LOST]  # the count stays readable


def test_records_with_pid_under_a_header_naming_it() -> None:
    parsed = parse(make(WindowsFirewallParser), [*HEADER_PID, with_pid(SYN, 1234), SYN])
    (row,) = network(parsed)
    assert (row["log_line"], row["source_ip"], row["destination_port"]) == (5, "198.51.100.7", 3389)
    # Under a header naming pid, a record without it is one field short.
    assert rejects(parsed) == [(6, WRONG_FIELD_COUNT)]


def test_records_with_pid_under_the_1_5_header_of_a_file_begun_before_an_upgrade() -> None:
    lines = [*HEADER, SYN, with_pid(DNS, 812), with_pid(SYN) + " 9"]
    parsed = parse(make(WindowsFirewallParser), lines)
    assert [(r["log_line"], r["destination_port"]) for r in network(parsed)] == [(5, 3389), (6, 53)]
    assert rejects(parsed) == [(7, WRONG_FIELD_COUNT)]
    # A header naming other fields takes its own count only, pid or not.
    other = FIELDS.replace("src-port dst-port", "dst-port src-port")
    parsed = parse(make(WindowsFirewallParser), [other, SYN, with_pid(SYN)])
    assert [r["destination_port"] for r in network(parsed)] == [40000]
    assert rejects(parsed) == [(3, WRONG_FIELD_COUNT)]


def test_records_before_any_header_take_the_default_fields_with_or_without_pid() -> None:
    short = SYN.rsplit(" ", 1)[0]  # path cut off
    parsed = parse(
        make(WindowsFirewallParser), [SYN, with_pid(DNS, 812), short, with_pid(SYN) + " 9"]
    )
    assert [(r["log_line"], r["destination_port"]) for r in network(parsed)] == [(1, 3389), (2, 53)]
    assert rejects(parsed) == [(3, WRONG_FIELD_COUNT), (4, WRONG_FIELD_COUNT)]


def test_a_header_block_mid_file_applies_from_there_on() -> None:
    # The log rolled over: Windows wrote the header again, this time with pid and
    # (as a later version could) another order: positions follow the new #Fields.
    swapped = FIELDS.replace("src-ip dst-ip", "dst-ip src-ip") + " pid"
    lines = [*HEADER, SYN, with_pid(SYN), *HEADER[:3], swapped, with_pid(SYN), SYN]
    parsed = parse(make(WindowsFirewallParser), lines)
    assert [(r["log_line"], r["source_ip"], r["destination_ip"]) for r in network(parsed)] == [
        (5, "198.51.100.7", "203.0.113.5"),
        (6, "198.51.100.7", "203.0.113.5"),
        (11, "203.0.113.5", "198.51.100.7"),
    ]
    # The new header names pid: a record without it is one field short.
    assert rejects(parsed) == [(12, WRONG_FIELD_COUNT)]
    assert parsed.skipped == 8


def test_a_files_fields_are_kept_across_batches() -> None:
    parser = make(WindowsFirewallParser)
    swapped = [*HEADER[:3], FIELDS.replace("src-port dst-port", "dst-port src-port") + " pid"]
    first = parse(parser, swapped)
    assert (first.skipped, first.rows.num_rows, first.rejects.num_rows) == (4, 0, 0)
    second = parse(parser, [with_pid(SYN), SYN], first=5)
    (row,) = network(second)
    # Read by the header of the batch before: ports swapped, pid expected.
    assert (row["log_line"], row["source_port"], row["destination_port"]) == (5, 3389, 40000)
    assert rejects(second) == [(6, WRONG_FIELD_COUNT)]
    # A header in a later batch replaces it for the batches after.
    third = parse(parser, [*HEADER_PID, with_pid(SYN)], first=7)
    fourth = parse(parser, [with_pid(SYN), SYN], first=12)
    assert [r["destination_port"] for r in network(third)] == [3389]
    assert [(r["log_line"], r["destination_port"]) for r in network(fourth)] == [(12, 3389)]
    assert rejects(fourth) == [(13, WRONG_FIELD_COUNT)]


def test_fields_kept_across_the_frameworks_batches(tmp_path: Path) -> None:
    """Through ingest with small blocks, so records land in batches after their header's."""
    swapped = FIELDS.replace("src-ip dst-ip", "dst-ip src-ip")
    lines = [*HEADER[:3], swapped] + [SYN] * 60
    log = tmp_path / "pfirewall.log"
    log.write_text("\r\n".join(lines) + "\r\n")  # Windows writes CRLF
    lake = Lake(tmp_path / "lake")
    small = IngestOptions(now=NOW, block_bytes=512, sniff_bytes=1024)
    (stats,) = ingest([str(log)], lake, Config(), small).files
    assert (stats.format, stats.lines, stats.parsed, stats.rejected, stats.skipped) == (
        "windows-firewall", 64, 60, 0, 4,
    )  # fmt: skip
    network_table = lake.read("network")
    assert set(network_table.column("source_ip").to_pylist()) == {"203.0.113.5"}
    assert set(network_table.column("event_dataset").to_pylist()) == {"windows.firewall"}
    assert network_table.column("observer_name").null_count == 60


def test_tcp_flag_letters_become_the_schemas_names() -> None:
    def record(flags: str, proto: str = "TCP") -> str:
        return f"2026-09-30 10:00:01 DROP {proto} 198.51.100.7 203.0.113.5 40000 80 40 {flags} 1 2 3 - - - RECEIVE"  # noqa: E501

    cases = ["S", "SA", "FA", "R", "FPU", "AP", "-", "x"]
    parsed = parse(make(WindowsFirewallParser), [record(f) for f in cases] + [record("S", "UDP")])
    assert [r.get("tcp_flags") for r in network(parsed)] == [
        "SYN", "ACK SYN", "ACK FIN", "RST", "URG PSH FIN", "ACK PSH", None, None, None,
    ]  # fmt: skip


def test_other_protocols_and_the_older_firewalls_actions() -> None:
    lines = [
        # IGMP by number, ICMPv6 by name: no ports, whatever the fields say.
        "2026-09-30 10:00:01 DROP 2 192.0.2.1 224.0.0.1 - - 32 - - - - - - - RECEIVE",
        "2026-09-30 10:00:02 DROP ICMPv6 fe80::1 ff02::1 - - 72 - - - - 135 0 - RECEIVE",
        # Windows XP SP2 / Server 2003 logged connections opened and closed.
        "2005-04-11 08:05:58 OPEN UDP 192.0.2.90 192.0.2.91 500 500 - - - - - - - - -",
        "2005-04-11 08:06:02 CLOSE TCP 192.0.2.90 192.0.2.91 1027 445 - - - - - - - - -",
    ]
    out = network(parse(make(WindowsFirewallParser), lines))
    assert [(r["network_transport"], r.get("destination_port"), r["event_action"],
             r.get("connection_state")) for r in out] == [
        ("2", None, "dropped", None),
        ("ipv6-icmp", None, "dropped", None),
        ("udp", 500, "allowed", "OPEN"),
        ("tcp", 445, "allowed", "CLOSE"),
    ]  # fmt: skip


def test_malformed_lines_are_rejected_with_their_reasons() -> None:
    lines = [
        "Sep 30 10:00:01 host sshd[1]: Accepted password for alice",
        "2026-09-30 10:00:01 DROP TCP 198.51.100.7",
        SYN.replace(" DROP ", " BLOCK "),
        SYN.replace("198.51.100.7", "-"),
        SYN.replace(" TCP ", " - "),
        SYN.replace(" 40000 ", " 70000 "),
        SYN.replace("198.51.100.7", "198.51.100.777"),
        SYN.replace("2026-09-30", "2026-02-30"),
        "",
    ]
    parsed = parse(make(WindowsFirewallParser), lines)
    assert parsed.rows.num_rows == 0
    assert rejects(parsed) == [
        (1, NOT_RECORD), (2, WRONG_FIELD_COUNT), (3, UNKNOWN_ACTION), (4, MALFORMED),
        (5, MALFORMED), (6, INVALID_PORT), (7, INVALID_SOURCE), (8, INVALID_TIMESTAMP),
    ]  # fmt: skip
    assert parsed.skipped == 1  # the blank line


def test_a_shifted_record_is_never_read_with_its_fields_shifted() -> None:
    """A doubled blank (an empty field) or a stray token: under the 1.5 layout,
    17 or 18 fields, the 18th read as pid only where it is one, after a path."""
    doubled = SYN.replace(" 3389 ", "  3389 ")
    extra = SYN.replace(" S ", " S X ")
    for head in ([], HEADER):
        parsed = parse(make(WindowsFirewallParser), [*head, doubled, extra, with_pid(SYN)])
        assert [r["log_line"] for r in network(parsed)] == [len(head) + 3]
        assert rejects(parsed) == [
            (len(head) + 1, WRONG_FIELD_COUNT),
            (len(head) + 2, WRONG_FIELD_COUNT),
        ]
    # Under a header naming pid, a record without it but with a doubled blank
    # has the count; its empty field still says it is shifted.
    parsed = parse(make(WindowsFirewallParser), [*HEADER_PID, doubled])
    assert parsed.rows.num_rows == 0 and rejects(parsed) == [(5, WRONG_FIELD_COUNT)]


def test_trailing_blanks_a_bom_and_a_capitalised_header_are_read() -> None:
    capitalised = "#Fields: " + " ".join(
        name.capitalize() for name in FIELDS.removeprefix("#Fields: ").split()
    )
    lines = [
        "\ufeff#Version: 1.5",
        capitalised,
        with_pid(SYN) + "  ",
        PING.replace(" - - 60", " 7 9 60"),
    ]
    parsed = parse(make(WindowsFirewallParser), lines)
    got = [
        (r["log_line"], r.get("destination_port"), r.get("source_port")) for r in network(parsed)
    ]
    # ICMP has no ports, whatever the record says.
    assert got == [(3, 3389, 40000), (4, None, None)] and parsed.skipped == 2
    assert registry.sniff([SYN + " ", DNS + " "]) is WindowsFirewallParser


def test_a_name_given_twice_is_read_at_its_first_place() -> None:
    parsed = parse(make(WindowsFirewallParser), [FIELDS + " src-ip", SYN + " 192.0.2.99"])
    assert [r["source_ip"] for r in network(parsed)] == ["198.51.100.7"]


def test_lines_under_too_many_different_headers_are_rejected_not_queried() -> None:
    """A hostile file of a new header before every record: one query per
    distinct header would be thousands per batch."""
    lines = []
    for n in range(MAX_LAYOUTS + 6):
        lines += [FIELDS + f" extra{n}", SYN + " 0"]
    parsed = parse(make(WindowsFirewallParser), lines)
    assert parsed.rows.num_rows == MAX_LAYOUTS - 1  # the batch's first layout is number 0
    assert {reason for _, reason in rejects(parsed)} == {TOO_MANY_LAYOUTS}
    assert parsed.rows.num_rows + len(rejects(parsed)) + parsed.skipped == len(lines)


def test_a_header_without_the_addresses_rejects_its_records() -> None:
    header = "#Fields: date time action protocol src-port dst-port"
    parsed = parse(make(WindowsFirewallParser), [header, "2026-09-30 10:00:01 DROP TCP 1 2", SYN])
    assert rejects(parsed) == [(2, MISSING_FIELDS), (3, MISSING_FIELDS)]


def test_local_stamps_are_read_in_the_configured_zone() -> None:
    paris = Config(syslog=SyslogConfig(timezone="Europe/Paris"))
    parser = make(WindowsFirewallParser, paris)
    # The session zone of DuckDB must not matter.
    parser.ctx.con.execute("SET TimeZone = 'America/New_York'")
    winter = SYN.replace("2026-09-30 10:00:01", "2026-01-15 10:00:01")
    out = network(parse(parser, [*HEADER, SYN, winter]))
    # CEST is UTC+2 in September, CET UTC+1 in January.
    assert [r["timestamp"] for r in out] == [utc(2026, 9, 30, 8, 0, 1), utc(2026, 1, 15, 9, 0, 1)]


def test_per_input_zones_apply(tmp_path: Path) -> None:
    for host in ("paris", "tokyo"):
        (tmp_path / host).mkdir()
        (tmp_path / host / "pfirewall.log").write_text("\n".join([*HEADER, SYN]) + "\n")
    config = Config(
        syslog=SyslogConfig(timezone="Asia/Tokyo", timezones={"*/paris/*": "Europe/Paris"})
    )
    lake = Lake(tmp_path / "lake")
    ingest([str(tmp_path / "paris"), str(tmp_path / "tokyo")], lake, config,
           IngestOptions(now=NOW))  # fmt: skip
    table = lake.read("network")
    stamps = {
        Path(name).parent.name: stamp
        for name, stamp in zip(
            table.column("log_file").to_pylist(), table.column("timestamp").to_pylist(), strict=True
        )
    }
    assert stamps == {"paris": utc(2026, 9, 30, 8, 0, 1), "tokyo": utc(2026, 9, 30, 1, 0, 1)}


# -- sniffing ---------------------------------------------------------------------------------


def test_sniffed_by_its_header_or_by_headerless_records() -> None:
    for sample in ([*HEADER, SYN, DNS], HEADER, [SYN, with_pid(DNS), PING, V6, LOST]):
        assert [p.name for p in registry.PARSERS if p.sniff(sample)] == ["windows-firewall"]
        found = registry.sniff(sample)
        assert found is not None and found.name == "windows-firewall"


def test_near_misses_are_not_sniffed() -> None:
    lowered = [SYN.replace("DROP", "drop"), DNS.replace("ALLOW", "allow")]
    extra = [SYN + " 4 5", DNS + " 1 2"]
    other_w3c = ["#Software: Microsoft Internet Information Services 10.0", "#Version: 1.0"]
    for sample in (lowered, extra, other_w3c, [SYN.replace(" RECEIVE", " INBOUND")]):
        assert not WindowsFirewallParser.sniff(sample), sample


def test_no_other_fixture_is_sniffed_as_a_windows_firewall_log() -> None:
    fixtures = Path(__file__).parent / "fixtures"
    paths = sorted(path for path in fixtures.rglob("*") if path.is_file())
    assert len(paths) >= 30
    claimed = [
        str(path.relative_to(fixtures))
        for path in paths
        if WindowsFirewallParser.sniff(head_lines(path.read_bytes()[:65536]))
    ]
    assert claimed == []


# -- end to end -------------------------------------------------------------------------------


def test_twenty_dropped_syns_to_one_host_make_a_vertical_scan_case(tmp_path: Path) -> None:
    scanner, host = "198.51.100.23", "203.0.113.5"
    records = [
        f"2026-09-30 10:00:{2 * i:02d} DROP TCP {scanner} {host} {40000 + i} {1000 + i} 44 S "
        f"{1000 + i} 0 1024 - - - RECEIVE 4"
        for i in range(20)
    ]
    log = tmp_path / "pfirewall.log"
    log.write_text("\n".join([*HEADER_PID, *records]) + "\n")
    result = hunt([str(log)], Config(), options=IngestOptions(now=NOW))
    assert result.run is not None
    assert (result.run.totals.parsed, result.run.totals.skipped) == (20, 4)
    (case,) = [c for c in result.cases if scanner in c.sources]
    (finding,) = [f for f in case.findings if f.detection == "vertical_scan"]
    assert (finding.port_count, finding.label, finding.event_count) == (20, host, 20)
    assert finding.evidence[0].location() == f"{log}:5"


# -- robustness -------------------------------------------------------------------------------

_SEEDS = [*HEADER_PID, SYN, DNS, PING, V6, LOST, with_pid(SYN), FIELDS, ""]


_LINES = mutated_lines(_SEEDS, "#- :.x9\tSA", 12)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(lines=_LINES, cut=st.integers(0, 12))
def test_any_mix_of_lines_is_accounted_for(lines: list[str], cut: int) -> None:
    # The framework cuts lines at line breaks: none inside a line.
    lines = [line.replace("\n", " ").replace("\r", " ") for line in lines]
    parser = make(WindowsFirewallParser)
    check_two_batches(parser, lines, cut)  # rows + rejects + skipped == lines, per batch
    again = parse(make(WindowsFirewallParser), lines)
    assert all(r.as_py() for r in again.rejects.column("reason"))


def test_a_byte_order_mark_before_a_headerless_record() -> None:
    """A file cut before its header (or joined with cat) may start a record
    with a byte order mark: it is the record's, not part of its date."""
    parsed = parse(make(WindowsFirewallParser), ["\ufeff" + SYN, SYN])
    assert len(network(parsed)) == 2
    assert rejects(parsed) == []
