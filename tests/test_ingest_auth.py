"""User activity parsers: OpenSSH sshd and OpenVPN, into the auth table."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ingest_helpers import NOW, make, parse, rejects, rows, utc
from reconwatch.config import Config, SyslogConfig
from reconwatch.ingest import auth_openvpn, auth_sshd, auth_windows
from reconwatch.ingest.auth_openvpn import OpenVpnParser
from reconwatch.ingest.auth_sshd import SshdParser
from reconwatch.ingest.auth_windows import WindowsJsonParser
from reconwatch.ingest.linesql import INVALID_SOURCE
from reconwatch.ingest.run import IngestOptions, ingest
from reconwatch.lake import Lake

FIXTURES = Path(__file__).parent / "fixtures" / "auth"

AUTH_NULLS = {
    "source_port": None,
    "destination_ip": None,
    "destination_port": None,
    "user_name": None,
    "event_outcome": None,
    "auth_method": None,
    "event_code": None,
    "observer_name": None,
}


def sshd(**values: object) -> dict[str, object]:
    return {**AUTH_NULLS, "service_name": "sshd", **values}


def test_sshd_real_success_lines(crowdsec_hub: Path) -> None:
    lines = (crowdsec_hub / "sshd-success-logs" / "sshd-success-logs.log").read_text().splitlines()
    out = rows(parse(make(SshdParser), lines).rows, "auth")
    assert out[0] == sshd(
        log_line=1,
        timestamp=utc(2026, 9, 6, 9, 57, 21),
        source_ip="192.168.121.1",
        source_port=56296,
        user_name="vagrant",
        event_outcome="success",
        event_action="login",
        auth_method="publickey",
        observer_name="bullseye",
    )
    assert [(r["user_name"], r["auth_method"]) for r in out] == [
        ("vagrant", "publickey"),
        ("vagrant", "publickey"),
        ("vagrant", "publickey"),
        ("test", "password"),
    ]


def test_sshd_real_sample_every_message(crowdsec_hub: Path) -> None:
    lines = (crowdsec_hub / "sshd-logs" / "sshd-logs.log").read_text().splitlines()
    config = Config(syslog=SyslogConfig(year=2025))
    parsed = parse(make(SshdParser, config), lines)
    out = rows(parsed.rows, "auth")
    summary = [
        (
            r["log_line"],
            r["event_action"],
            r["event_outcome"],
            r["user_name"],
            r["source_ip"],
            r["source_port"],
        )
        for r in out
    ]
    assert summary == [
        (1, "invalid_user", "failure", "pascal", "35.188.49.176", 53502),
        (2, "invalid_user", "failure", "pascal", "35.188.49.176", 53502),
        (3, "invalid_user", "failure", "pascal", "35.188.49.176", 53502),
        (4, "pam_failure", "failure", "workshop", "5.33.63.160", None),
        (5, "pam_failure", "failure", None, "5.33.63.161", None),
        (6, "disconnect", None, "root", "206.81.24.125", 45362),
        (7, "disconnect", None, "ftp", "92.255.85.135", 26138),
        (8, "disconnect", None, "ftp", "92.255.85.135", 26138),
        (10, "protocol_error", "failure", None, "94.232.46.213", 62730),
        (11, "protocol_error", "failure", None, "94.232.46.213", 62730),
        (12, "disconnect", None, "root", "206.81.24.125", 45362),
        (13, "negotiation_failed", "failure", None, "123.57.135.134", 45626),
        (14, "negotiation_failed", "failure", None, "206.189.59.169", 34386),
        (15, "negotiation_failed", "failure", None, "123.123.123.123", 45296),
        (16, "disconnect", None, "root", "80.94.92.63", 49115),
        (17, "not_allowed", "failure", "root", "192.168.1.1", None),
        (18, "login", "failure", "root", "192.168.1.2", 51182),
        (19, "timeout", "failure", None, "192.168.9.212", 47056),
        (20, "protocol_error", "failure", None, "192.168.9.213", 48680),
        (21, "invalid_user", "failure", "pascal5", "192.168.1.3", 53502),
        (22, "disconnect", None, None, "118.27.24.104", 33594),
        (23, "refused", "failure", None, "192.168.1.1", None),
        (24, "refused", "failure", None, "192.168.1.1", None),
    ]
    # "Disconnected from totobad user ..." is no sshd message.
    assert rejects(parsed) == [(9, auth_sshd.NO_CLIENT)]
    # The ISO journal stamp carries its own zone (+01:00).
    assert out[15]["timestamp"] == utc(2023, 11, 13, 23, 20, 42, 738197)
    assert out[0]["timestamp"] == utc(2025, 2, 12, 14, 10, 21)


def test_sshd_rfc5424_opnsense(crowdsec_hub: Path) -> None:
    lines = (crowdsec_hub / "opnsense-sshd" / "opnsense-sshd.log").read_text().splitlines()
    out = rows(parse(make(SshdParser), lines).rows, "auth")
    assert len(out) == 10
    assert out[0] == sshd(
        log_line=1,
        timestamp=utc(2022, 1, 19, 14, 23, 55),
        source_ip="1.2.3.4",
        source_port=33166,
        user_name="tutu",
        event_outcome="failure",
        event_action="invalid_user",
        observer_name="OPNsense.localdomain",
    )


def test_sshd_more_messages_ipv6_and_spoofed_users() -> None:
    stamp = "Sep 30 10:00:00 bastion"
    lines = [
        f"{stamp} sshd[1]: Failed password for invalid user admin from 2001:DB8::9 port 40000 ssh2",
        f"{stamp} sshd[1]: Invalid user x from 1.2.3.4 from 5.6.7.8 port 22",
        f"{stamp} sshd[1]: Did not receive identification string from 198.51.100.3 port 6000",
        f"{stamp} sshd[1]: error: kex_exchange_identification: Did not receive identification"
        " string from 198.51.100.4 port 6001",
        f"{stamp} sshd[1]: banner exchange: Connection from 198.51.100.5 port 6002: invalid format",
        f'{stamp} sshd[1]: Connection from 198.51.100.6 port 6003 on 10.0.0.2 port 22 rdomain ""',
        f"{stamp} sshd-session[2]: Disconnected from user alice 10.0.0.9 port 5000",
        f"{stamp} sshd[1]: Server listening on 0.0.0.0 port 22.",
        f"{stamp} CRON[3]: pam_unix(cron:session): session opened for user root",
        "no envelope at all",
        f"{stamp} sshd[1]: Invalid user bob from not-an-ip port 1",
        "",
    ]
    parsed = parse(make(SshdParser), lines)
    summary = [
        (
            r["log_line"],
            r["event_action"],
            r["user_name"],
            r["source_ip"],
            r["destination_ip"],
            r["destination_port"],
        )
        for r in rows(parsed.rows, "auth")
    ]
    assert summary == [
        (1, "login", "admin", "2001:db8::9", None, None),
        (2, "invalid_user", "x from 1.2.3.4", "5.6.7.8", None, None),
        (3, "no_identification", None, "198.51.100.3", None, None),
        (4, "no_identification", None, "198.51.100.4", None, None),
        (5, "bad_banner", None, "198.51.100.5", None, None),
        (6, "connect", None, "198.51.100.6", "10.0.0.2", 22),
        (7, "logout", "alice", "10.0.0.9", None, None),
    ]
    assert parsed.skipped == 1
    assert rejects(parsed) == [
        (8, auth_sshd.NO_CLIENT),
        (9, auth_sshd.NOT_SSHD),
        (10, auth_sshd.NOT_SYSLOG),
        (11, INVALID_SOURCE),
    ]


def test_sshd_parses_a_batch_of_only_its_own_lines() -> None:
    """What the syslog multiplexer hands over: the programs it claims, nothing else."""
    assert SshdParser.programs == ("sshd", "sshd-session", "sshd-auth")
    lines = [
        f"Sep 30 10:00:0{n} h {program}[9]: Invalid user u{n} from 192.0.2.{n} port 22"
        for n, program in enumerate(SshdParser.programs)
    ]
    parsed = parse(make(SshdParser), lines)
    assert [r["user_name"] for r in rows(parsed.rows, "auth")] == ["u0", "u1", "u2"]


@settings(max_examples=60, deadline=None)
@given(
    user=st.text(
        st.characters(exclude_categories=("Cs", "Cc", "Zs", "Zl", "Zp")), min_size=1, max_size=20
    ),
    a=st.integers(0, 255),
    port=st.integers(0, 65535),
    accepted=st.booleans(),
)
def test_sshd_property(user: str, a: int, port: int, accepted: bool) -> None:
    ip = f"203.0.113.{a}"
    verb = "Accepted" if accepted else "Failed"
    line = f"Sep 30 10:00:00 h sshd[1]: {verb} password for {user} from {ip} port {port} ssh2"
    out = rows(parse(make(SshdParser), [line]).rows, "auth")
    assert [
        (r["user_name"], r["source_ip"], r["source_port"], r["event_outcome"]) for r in out
    ] == [(user, ip, port, "success" if accepted else "failure")]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.text(max_size=300), min_size=1, max_size=8))
def test_auth_parsers_account_for_any_text(lines: list[str]) -> None:
    lines = [line.replace("\n", " ").replace("\r", " ") for line in lines]
    for parser in (SshdParser, OpenVpnParser):
        parse(make(parser), lines)


HOSTILE = [
    "Sep 30 10:00:00 h sshd[1]: Invalid user <script>alert(1)</script> from 192.0.2.1 port 22",
    "Sep 30 10:00:00 h sshd[1]: Invalid user \x1b[31mred from 192.0.2.1 port 22",
    "Sep 30 10:00:00 h sshd[1]: Invalid user " + "A" * 100_000 + " from 192.0.2.1 port 22",
    "Sep 30 10:00:00 h sshd[1]: \ufffd\ufffd\x00",
    "2026-09-30 10:00:00 " + "[" * 50_000,
]


@pytest.mark.parametrize("parser", [SshdParser, OpenVpnParser])
def test_hostile_lines_never_raise(parser: type) -> None:
    parse(make(parser), HOSTILE)


def test_sshd_keeps_hostile_user_names_as_text() -> None:
    out = rows(parse(make(SshdParser), HOSTILE[:3]).rows, "auth")
    assert [r["user_name"] for r in out] == [
        "<script>alert(1)</script>",
        "\x1b[31mred",
        "A" * 100_000,
    ]


# -- OpenVPN ---------------------------------------------------------------------------


def test_openvpn_fixture() -> None:
    lines = (FIXTURES / "openvpn.log").read_text().splitlines()
    config = Config(syslog=SyslogConfig(timezone="Europe/Paris"))
    parsed = parse(make(OpenVpnParser, config), lines)
    out = rows(parsed.rows, "auth")
    assert out[0] == {
        **AUTH_NULLS,
        "log_line": 1,
        "timestamp": utc(2026, 9, 30, 10),
        "source_ip": "192.0.2.1",
        "source_port": 51234,
        "user_name": "alice",
        "event_outcome": "success",
        "event_action": "vpn_connect",
        "service_name": "openvpn",
    }
    summary = [
        (r["log_line"], r["event_action"], r["event_outcome"], r["user_name"], r["source_ip"])
        for r in out
    ]
    assert summary == [
        (1, "vpn_connect", "success", "alice", "192.0.2.1"),
        (2, "vpn_address", "success", "alice", "192.0.2.1"),
        (3, "login", "failure", None, "192.0.2.2"),
        (4, "tls_error", "failure", None, "192.0.2.3"),
        (6, "tls_error", "failure", None, "2001:db8::5"),
        (7, "vpn_disconnect", None, "alice", "192.0.2.1"),
        (9, "tls_error", "failure", None, "192.0.2.9"),
    ]
    assert out[4]["timestamp"] == utc(2026, 9, 30, 10, 0, 4)  # ctime stamp, Paris time
    assert out[6]["timestamp"] == utc(2026, 9, 30, 10, 0, 7)  # syslog envelope
    assert out[6]["observer_name"] == "vpn1"
    assert rejects(parsed) == [(5, auth_openvpn.NO_CLIENT), (8, auth_openvpn.UNREAD)]


def test_ingest_sniffs_auth_formats(tmp_path: Path, crowdsec_hub: Path) -> None:
    inputs = tmp_path / "in"
    inputs.mkdir()
    (inputs / "auth.log").write_bytes((crowdsec_hub / "sshd-logs" / "sshd-logs.log").read_bytes())
    (inputs / "openvpn.log").write_bytes((FIXTURES / "openvpn.log").read_bytes())
    lake = Lake(tmp_path / "lake")
    run = ingest([str(inputs)], lake, Config(), IngestOptions(now=NOW))
    stats = [(Path(f.name).name, f.format, f.lines, f.parsed, f.rejected) for f in run.files]
    assert stats == [("auth.log", "sshd", 24, 23, 1), ("openvpn.log", "openvpn", 9, 7, 2)]
    table = lake.read("auth")
    assert table.num_rows == 30
    assert sorted(set(table.column("service_name").to_pylist())) == ["openvpn", "sshd"]


# -- Windows Security events (JSON lines) ----------------------------------------------


def test_windows_json_winlogbeat_and_evtx_dump_shapes() -> None:
    lines = (FIXTURES / "windows.jsonl").read_text().splitlines()
    parsed = parse(make(WindowsJsonParser), lines)
    assert rows(parsed.rows, "auth") == [
        {
            **AUTH_NULLS,
            "log_line": 1,
            "timestamp": utc(2026, 9, 30, 10, 0, 0, 123000),
            "source_ip": "198.51.100.7",
            "source_port": 51234,
            "user_name": "administrator",
            "event_outcome": "failure",
            "event_action": "login",
            "auth_method": "ntlm",
            "service_name": "windows",
            "event_code": "4625",
            "observer_name": "DC01.corp.example",
        },
        {
            **AUTH_NULLS,
            "log_line": 2,
            "timestamp": utc(2026, 9, 30, 10, 0, 1),
            "source_ip": "10.0.0.9",
            "user_name": "alice",
            "event_outcome": "success",
            "event_action": "login",
            "auth_method": "negotiate",
            "service_name": "windows",
            "event_code": "4624",
            "observer_name": "DC01.corp.example",
        },
        {
            **AUTH_NULLS,
            "log_line": 3,
            "timestamp": utc(2026, 9, 30, 10, 0, 2),
            "source_ip": "2001:db8::5",
            "source_port": 40000,
            "user_name": "bob",
            "event_outcome": "failure",
            "event_action": "login",
            "auth_method": "kerberos",
            "service_name": "windows",
            "event_code": "4625",
            "observer_name": "WS-7",
        },
    ]
    assert rejects(parsed) == [
        (4, auth_windows.NO_ADDRESS),
        (5, auth_windows.NO_ADDRESS),
        (6, auth_windows.OTHER_EVENT),
        (7, auth_windows.NO_ADDRESS),
        (8, auth_windows.NOT_WINDOWS),
    ]


def test_windows_explicit_credentials_and_ntlm_outcome() -> None:
    lines = [
        '{"@timestamp":"2026-09-30T10:00:00Z","winlog":{"event_id":4648,"computer_name":"S",'
        '"event_data":{"TargetUserName":"svc","IpAddress":"192.0.2.4","IpPort":"445"}}}',
        '{"@timestamp":"2026-09-30T10:00:00Z","winlog":{"event_id":4776,"computer_name":"S",'
        '"event_data":{"TargetUserName":"eve","IpAddress":"192.0.2.5","Status":"0xC0000064"}}}',
    ]
    out = rows(parse(make(WindowsJsonParser), lines).rows, "auth")
    assert [(r["event_action"], r["event_outcome"], r["user_name"]) for r in out] == [
        ("explicit_credentials", None, "svc"),
        ("credential_validation", "failure", "eve"),
    ]


@settings(max_examples=40, deadline=None)
@given(st.lists(st.text(max_size=300), min_size=1, max_size=8))
def test_windows_parser_accounts_for_any_text(lines: list[str]) -> None:
    parse(make(WindowsJsonParser), [line.replace("\n", " ").replace("\r", " ") for line in lines])
