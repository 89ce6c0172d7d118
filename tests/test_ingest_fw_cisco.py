"""Cisco ASA / FTD syslog messages, from fixtures written to Cisco's documented formats."""

from __future__ import annotations

from pathlib import Path

from ingest_helpers import NOW, make, parse, rejects, utc
from reconwatch.config import Config, SyslogConfig
from reconwatch.ingest.fw_cisco import UNPAIRED_TEARDOWNS, CiscoAsaParser
from reconwatch.ingest.run import IngestOptions, ingest
from reconwatch.ingest.sources import SNIFF_LINES
from reconwatch.lake import Lake
from test_ingest_fw_helpers import alerts, network, parse_fixture

DENY = {"event_action": "denied", "connection_outcome": "failed", "connection_state": "deny",
        "event_dataset": "cisco.asa", "observer_name": "fw01"}  # fmt: skip
ALLOW = {**DENY, "event_action": "allowed", "connection_outcome": "succeeded"}
SCANNER = "198.51.100.7"


def t(second: int, minute: int = 35) -> object:
    return utc(2026, 10, 10, 12, minute, second)


def test_fixture_network_rows() -> None:
    parsed = parse_fixture(CiscoAsaParser, "cisco-asa.log")
    assert parsed.skipped == 2  # the two teardowns
    out = network(parsed)
    assert out == [
        {**DENY, "log_line": 1, "timestamp": t(56, 34), "source_ip": SCANNER, "source_port": 40123,
         "destination_ip": "203.0.113.10", "destination_port": 23, "network_transport": "tcp",
         "tcp_flags": "SYN", "interface_in": "outside"},
        {**DENY, "log_line": 2, "timestamp": t(57, 34), "source_ip": SCANNER, "source_port": 40124,
         "destination_ip": "203.0.113.10", "destination_port": 161, "network_transport": "udp",
         "interface_in": "outside"},
        {**DENY, "log_line": 3, "timestamp": t(58, 34), "source_ip": SCANNER, "source_port": 53,
         "destination_ip": "203.0.113.10", "destination_port": 53, "network_transport": "udp"},
        {**DENY, "log_line": 4, "timestamp": t(59, 34), "source_ip": SCANNER,
         "destination_ip": "203.0.113.10", "network_transport": "icmp", "interface_in": "outside"},
        {**DENY, "log_line": 5, "timestamp": t(0), "source_ip": SCANNER, "source_port": 40125,
         "destination_ip": "203.0.113.10", "destination_port": 443, "network_transport": "tcp",
         "tcp_flags": "RST", "interface_in": "outside"},
        {**DENY, "log_line": 6, "timestamp": t(1), "source_ip": SCANNER, "source_port": 40126,
         "destination_ip": "203.0.113.11", "destination_port": 3389, "network_transport": "tcp",
         "interface_in": "outside"},
        {**DENY, "log_line": 7, "timestamp": t(2), "source_ip": "2001:db8::7", "source_port": 40127,
         "destination_ip": "2001:db8:1::10", "destination_port": 22, "network_transport": "tcp",
         "interface_in": "outside"},
        {**DENY, "log_line": 8, "timestamp": t(3), "source_ip": SCANNER, "source_port": 40128,
         "destination_ip": "203.0.113.12", "destination_port": 445, "network_transport": "tcp",
         "interface_in": "outside", "connection_state": "acl"},
        {**ALLOW, "log_line": 9, "timestamp": t(4), "source_ip": "198.51.100.8",
         "source_port": 5353, "destination_ip": "203.0.113.12", "destination_port": 53,
         "network_transport": "udp", "interface_in": "outside", "connection_state": "acl"},
        {**ALLOW, "log_line": 10, "timestamp": t(5), "source_ip": "198.51.100.9",
         "source_port": 51000, "destination_ip": "10.0.0.5", "destination_port": 443,
         "network_transport": "tcp", "interface_in": "outside", "connection_state": "built"},
        # Built outbound: Cisco writes the outside end first; the inside host initiated.
        {**ALLOW, "log_line": 11, "timestamp": t(6), "source_ip": "10.0.0.6",
         "source_port": 51515, "destination_ip": "192.0.2.80", "destination_port": 80,
         "network_transport": "tcp", "connection_state": "built"},
        # Line 12, the teardown of line 10's connection: skipped (its Built is the row).
        {**ALLOW, "log_line": 13, "timestamp": t(8), "source_ip": "198.51.100.9",
         "source_port": 5060, "destination_ip": "10.0.0.7", "destination_port": 5060,
         "network_transport": "udp", "interface_in": "outside", "connection_state": "built"},
        # Line 14, line 13's teardown: skipped too.
        {**DENY, "log_line": 15, "timestamp": t(10), "source_ip": SCANNER, "source_port": 40129,
         "destination_ip": "203.0.113.1", "destination_port": 22, "network_transport": "tcp",
         "interface_in": "outside"},
    ]  # fmt: skip


def test_fixture_threat_detection_alerts_and_rejects() -> None:
    parsed = parse_fixture(CiscoAsaParser, "cisco-asa.log")
    assert alerts(parsed) == [
        # The ASA's own stamp (with its year) and device id, no relay envelope.
        {"log_line": 16, "timestamp": t(11), "source_ip": SCANNER, "rule_id": "733100",
         "rule_name": "drop rate exceeded", "rule_category": "threat-detection",
         "event_severity": 4, "event_dataset": "cisco.asa", "observer_name": "fw02"},
        {"log_line": 17, "timestamp": t(12), "source_ip": SCANNER, "rule_id": "733101",
         "rule_name": "host attacking", "rule_category": "threat-detection",
         "event_severity": 4, "event_dataset": "cisco.asa", "observer_name": "fw01"},
    ]  # fmt: skip
    assert rejects(parsed) == [
        (18, "threat detection without an attacker address"),
        (19, "unsupported Cisco ASA message"),
        (20, "invalid port"),
    ]


def test_a_teardown_is_skipped_never_a_row_blaming_the_outside_end() -> None:
    # An outbound connection: our client 10.0.0.6 to a web server. Its
    # teardown names the server first and no direction; read as it stands it
    # would make the server the source of a "probe" of the client's port.
    server = "192.0.2.80"
    built = (
        "Oct 10 12:35:06 fw01 %ASA-6-302013: Built outbound TCP connection 7 for "
        f"outside:{server}/80 ({server}/80) to inside:10.0.0.6/51515 (203.0.113.6/51515)"
    )
    teardown = (
        "Oct 10 12:35:09 fw01 %ASA-6-302014: Teardown TCP connection 7 for "
        f"outside:{server}/80 to inside:10.0.0.6/51515 duration 0:00:03 bytes 5120 TCP FINs"
    )
    broken = "Oct 10 12:35:09 fw01 %ASA-6-302016: Teardown UDP connection 8 for nowhere"
    parsed = parse(make(CiscoAsaParser), [built, teardown, broken])
    rows = network(parsed)
    assert [(r["source_ip"], r["destination_ip"], r["destination_port"]) for r in rows] == [
        ("10.0.0.6", server, 80)
    ]
    assert parsed.skipped == 1
    assert rejects(parsed) == [(3, "malformed Cisco ASA message")]


def test_own_stamp_takes_the_configured_zone() -> None:
    config = Config(syslog=SyslogConfig(timezone="Europe/Paris"))
    line = (
        "Oct 10 2026 12:35:11 fw02 : %ASA-2-106006: Deny inbound UDP from 198.51.100.7/1 "
        "to 203.0.113.10/161 on interface outside"
    )
    out = network(parse(make(CiscoAsaParser, config), [line]))
    assert [row["timestamp"] for row in out] == [utc(2026, 10, 10, 10, 35, 11)]


def test_malformed_and_foreign_lines() -> None:
    parsed = parse(
        make(CiscoAsaParser),
        [
            "Oct 10 12:35:15 fw01 %ASA-2-106006: Deny inbound UDP from nowhere",
            "Oct 10 12:35:15 fw01 sshd[1]: hello",
            "Oct 10 12:35:15 fw01 %ASA-2-106006: Deny inbound UDP from 1.2.3/1 to 2.3.4.5/2 on "
            "interface outside",
            "",
        ],
    )
    assert rejects(parsed) == [
        (1, "malformed Cisco ASA message"),
        (2, "not a Cisco ASA message"),
        (3, "invalid source address"),
    ]
    assert parsed.skipped == 1


def test_106023_of_a_protocol_without_a_name_and_pix_fwsm_markers() -> None:
    acl = 'by access-group "outside_in" [0x0, 0x0]'
    parsed = parse(
        make(CiscoAsaParser),
        [
            f"Oct 10 12:35:16 fw01 %ASA-4-106023: Deny protocol 47 src outside:{SCANNER} "
            f"dst inside:203.0.113.11 {acl}",
            # The ASA's forerunners wrote the same messages under their own names.
            f"Oct 10 12:35:17 fw01 %PIX-4-106023: Deny protocol 4 src outside:{SCANNER} "
            f"dst inside:203.0.113.11 {acl}",
            f"Oct 10 12:35:18 fw01 %FWSM-4-106023: Deny tcp src outside:{SCANNER}/40126 "
            f"dst inside:203.0.113.11/3389 {acl}",
            # A common number is named like the other messages' protocols.
            f"Oct 10 12:35:19 fw01 %ASA-4-106023: Deny protocol 6 src outside:{SCANNER} "
            f"dst inside:203.0.113.11 {acl}",
            f"Oct 10 12:35:20 fw01 %ASA-4-106023: Deny protocol 999 src outside:{SCANNER} "
            f"dst inside:203.0.113.11 {acl}",
        ],
    )
    base = {**DENY, "source_ip": SCANNER, "destination_ip": "203.0.113.11",
            "interface_in": "outside"}  # fmt: skip
    assert network(parsed) == [
        {**base, "log_line": 1, "timestamp": t(16), "network_transport": "47"},
        {**base, "log_line": 2, "timestamp": t(17), "network_transport": "4"},
        {**base, "log_line": 3, "timestamp": t(18), "network_transport": "tcp",
         "source_port": 40126, "destination_port": 3389},
        {**base, "log_line": 4, "timestamp": t(19), "network_transport": "tcp"},
    ]  # fmt: skip
    assert rejects(parsed) == [(5, "malformed Cisco ASA message")]
    assert CiscoAsaParser.sniff([f"Oct 10 12:35:17 fw01 %PIX-4-106023: Deny protocol 4 src "
                                 f"outside:{SCANNER} dst inside:203.0.113.11 {acl}"])  # fmt: skip


def test_a_file_of_teardowns_without_built_lines_says_it_gives_no_allowed_connection(
    tmp_path: Path,
) -> None:
    # An ASA with 302013/302015 turned off: every teardown is skipped, and the
    # file's note says why no allowed connection came of it. A file with its
    # Built lines (later in the file) has no note; nor has one through a
    # syslog server that mixes other programs' lines in.
    teardown = (
        "Oct 10 12:35:{:02} fw01 %ASA-6-302014: Teardown TCP connection {} for "
        "outside:192.0.2.80/80 to inside:10.0.0.6/51515 duration 0:00:03 bytes 5120 TCP FINs"
    )
    built = (
        "Oct 10 12:35:30 fw01 %ASA-6-302013: Built outbound TCP connection 9 for "
        "outside:192.0.2.80/80 (192.0.2.80/80) to inside:10.0.0.6/51516 (203.0.113.6/51516)"
    )
    sshd = "Oct 10 12:35:31 host2 sshd[7]: Accepted publickey for ops from 10.0.0.9 port 5 ssh2"
    # More lines than the sniffer's head holds: the Built line comes in a later batch.
    teardowns = [teardown.format(i % 60, i) for i in range(SNIFF_LINES + 20)]
    files = {
        "unpaired.log": teardowns,
        "paired.log": [*teardowns, built],
        "mixed.log": [sshd, *teardowns],
        # Sniffed as sshd's: the teardowns go to the Cisco parser as another program's.
        "handed.log": [*([sshd] * (SNIFF_LINES + 5)), *teardowns],
    }
    for name, lines in files.items():
        (tmp_path / name).write_text("\n".join(lines) + "\n")
    options = IngestOptions(now=NOW, block_bytes=300, sniff_bytes=300)
    run = ingest([str(tmp_path / n) for n in files], Lake(tmp_path / "lake"), Config(), options)
    notes = {Path(f.name).name: (f.format, f.note) for f in run.files}
    assert notes["unpaired.log"] == ("cisco-asa", UNPAIRED_TEARDOWNS)
    assert notes["paired.log"] == ("cisco-asa", None)
    assert notes["mixed.log"] == ("syslog", UNPAIRED_TEARDOWNS)
    assert notes["handed.log"] == ("sshd", UNPAIRED_TEARDOWNS)


def test_a_later_run_reading_appended_teardowns_says_nothing(tmp_path: Path) -> None:
    # The Built lines were in the part an earlier run read: what the later run
    # reads alone (one more teardown) says nothing of the file as a whole.
    log = tmp_path / "asa.log"
    log.write_text(
        "Oct 10 12:35:06 fw01 %ASA-6-302013: Built outbound TCP connection 7 for "
        "outside:192.0.2.80/80 (192.0.2.80/80) to inside:10.0.0.6/51515 (203.0.113.6/51515)\n"
    )
    lake = Lake(tmp_path / "lake")
    (first,) = ingest([str(log)], lake, Config(), IngestOptions(now=NOW)).files
    with log.open("a") as out:
        out.write(
            "Oct 10 12:35:09 fw01 %ASA-6-302014: Teardown TCP connection 7 for outside:"
            "192.0.2.80/80 to inside:10.0.0.6/51515 duration 0:00:03 bytes 5120 TCP FINs\n"
        )
    (second,) = ingest([str(log)], lake, Config(), IngestOptions(now=NOW)).files
    assert (first.note, second.note) == (None, None)
    assert (second.first_line, second.skipped) == (2, 1)  # only the appended line was read
