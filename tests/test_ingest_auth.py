"""User activity parsers: OpenSSH sshd and OpenVPN, into the auth table."""

from __future__ import annotations

import json
import tempfile
from collections import Counter
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ingest_helpers import NOW, make, parse, rejects, rows, utc
from reconwatch.config import Config, SyslogConfig
from reconwatch.ingest import auth_openvpn, auth_sshd, auth_windows, base
from reconwatch.ingest.auth_openvpn import OpenVpnParser
from reconwatch.ingest.auth_sshd import SshdParser
from reconwatch.ingest.auth_windows import WindowsJsonParser
from reconwatch.ingest.linesql import INVALID_SOURCE, INVALID_TIMESTAMP
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
        # 4776 and 4634 name no client address: kept with a null source.
        {
            **AUTH_NULLS,
            "log_line": 4,
            "timestamp": utc(2026, 9, 30, 10, 0, 3),
            "source_ip": None,
            "user_name": "carol",
            "event_outcome": "success",
            "event_action": "credential_validation",
            "auth_method": "ntlm",
            "service_name": "windows",
            "event_code": "4776",
            "observer_name": "DC01",
        },
        {
            **AUTH_NULLS,
            "log_line": 5,
            "timestamp": utc(2026, 9, 30, 10, 0, 4),
            "source_ip": None,
            "user_name": "alice",
            "event_action": "logout",
            "service_name": "windows",
            "event_code": "4634",
            "observer_name": "DC01",
        },
    ]
    assert rejects(parsed) == [
        (6, auth_windows.OTHER_EVENT),
        # A 4624 local logon (IpAddress "-") stays rejected: the address is its point.
        (7, auth_windows.NO_ADDRESS),
        (8, auth_windows.NOT_WINDOWS),
    ]


def test_windows_events_without_a_client_address_by_nature() -> None:
    lines = [
        # 4776 with an address anyway (an enriched export): kept.
        '{"@timestamp":"2026-09-30T10:00:00Z","winlog":{"event_id":4776,"computer_name":"DC",'
        '"event_data":{"TargetUserName":"eve","Workstation":"WS-9","IpAddress":"192.0.2.5",'
        '"Status":"0xC000006A"}}}',
        # "-" is no address; a given but invalid one is still a reject.
        '{"@timestamp":"2026-09-30T10:00:01Z","winlog":{"event_id":4634,"computer_name":"DC",'
        '"event_data":{"TargetUserName":"bob","IpAddress":"-"}}}',
        '{"@timestamp":"2026-09-30T10:00:02Z","winlog":{"event_id":4634,"computer_name":"DC",'
        '"event_data":{"TargetUserName":"bob","IpAddress":"not-an-ip"}}}',
        '{"@timestamp":"2026-09-30T10:00:03Z","winlog":{"event_id":4625,"computer_name":"DC",'
        '"event_data":{"TargetUserName":"bob"}}}',
    ]
    parsed = parse(make(WindowsJsonParser), lines)
    out = rows(parsed.rows, "auth")
    assert [
        (r["log_line"], r["source_ip"], r["event_action"], r["event_outcome"], r["auth_method"])
        for r in out
    ] == [
        (1, "192.0.2.5", "credential_validation", "failure", "ntlm"),
        (2, None, "logout", None, None),
    ]
    assert rejects(parsed) == [(3, INVALID_SOURCE), (4, auth_windows.NO_ADDRESS)]


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


# -- Windows Security events: Get-WinEvent | ConvertTo-Json ----------------------------


def winevent(line: int, second: int, **values: object) -> dict[str, object]:
    """A row of the Get-WinEvent fixtures (DC01, 2023-11-14 22:13:2x.123 UTC)."""
    return {
        **AUTH_NULLS,
        "log_line": line,
        "timestamp": utc(2023, 11, 14, 22, 13, second, 123000),
        "service_name": "windows",
        "observer_name": "DC01.corp.example",
        "event_dataset": "windows.security",
        **values,
    }


GET_WINEVENT_ROWS = [
    winevent(1, 20, source_ip="198.51.100.20", source_port=49812, user_name="alice",
             event_outcome="success", event_action="login", auth_method="ntlm",
             event_code="4624"),
    # RDP (logon type 10): IpPort "0" is no port.
    winevent(2, 21, source_ip="203.0.113.45", user_name="alice", event_outcome="success",
             event_action="login", auth_method="negotiate", event_code="4624"),
    winevent(3, 22, source_ip="203.0.113.66", source_port=51515, user_name="administrator",
             event_outcome="failure", event_action="login", auth_method="ntlm",
             event_code="4625"),
    winevent(4, 23, source_ip="203.0.113.66", source_port=51516, user_name="admin",
             event_outcome="failure", event_action="login", auth_method="ntlm",
             event_code="4625"),
    # 4634 logoff and 4776 NTLM validation (which names a workstation only): no source.
    winevent(5, 24, source_ip=None, user_name="alice", event_action="logout",
             event_code="4634"),
    winevent(6, 25, source_ip="10.0.0.15", user_name="bob", event_action="explicit_credentials",
             event_code="4648"),
    winevent(7, 26, source_ip=None, user_name="carol", event_outcome="success",
             event_action="credential_validation", auth_method="ntlm", event_code="4776"),
]  # fmt: skip


@pytest.mark.parametrize(
    "name",
    [
        "get-winevent-ps51.json",  # UTF-16 LE + BOM, CRLF, 4-space indent, "\/Date(ms)\/"
        "get-winevent-ps7.json",  # UTF-8, 2-space indent, ISO stamps with a +01:00 offset
    ],
)
def test_get_winevent_convertto_json_arrays(tmp_path: Path, name: str) -> None:
    lake = Lake(tmp_path / "lake")
    (stats,) = ingest([str(FIXTURES / name)], lake, Config(), IngestOptions(now=NOW)).files
    # Line N is the Nth event of the array: 8 events, 7 rows, 1 reject.
    assert (stats.error, stats.format, stats.lines, stats.parsed, stats.rejected) == (
        None, "windows-json", 8, 7, 1,
    )  # fmt: skip
    table = lake.read("auth").sort_by("log_line").drop_columns(["log_file"])
    assert table.to_pylist() == GET_WINEVENT_ROWS
    rejected = [(r["log_line"], r["reason"]) for r in lake.read("rejects").to_pylist()]
    assert sorted(rejected) == [
        (8, auth_windows.OTHER_EVENT),  # 4672 special privileges
    ]
    raw = {r["log_line"]: r["raw"] for r in lake.read("rejects").to_pylist()}
    assert raw[8].startswith('{"Id":4672,')


def _record(code: object, properties: object, **extra: object) -> dict[str, object]:
    return {
        "Id": code,
        "ProviderName": "Microsoft-Windows-Security-Auditing",
        "MachineName": "DC01",
        "TimeCreated": "/Date(1700000000123)/",
        "Properties": properties,
        **extra,
    }


def _values(*values: object) -> list[dict[str, object]]:
    return [{"Value": v} for v in values]


#: 4625 with SID objects (ConvertTo-Json -Depth 3 or more) and numbers as numbers.
LOGON_FAILURE = _values(
    {"BinaryLength": 12, "AccountDomainSid": None, "Value": "S-1-0-0"}, "-", "-", 0,
    {"BinaryLength": 12, "AccountDomainSid": None, "Value": "S-1-0-0"}, "guest", "", 3221225581,
    "%%2313", 3221225572, 3, "NtLmSsp ", "NTLM", "x", "-", "-", 0, 0, "-", "192.0.2.9", "40000",
)  # fmt: skip


def test_get_winevent_single_event_is_one_pretty_object(tmp_path: Path) -> None:
    # One event: ConvertTo-Json writes an object, not an array.
    path = tmp_path / "one.json"
    path.write_text(json.dumps(_record(4625, LOGON_FAILURE), indent=4).replace("\n", "\r\n"))
    lake = Lake(tmp_path / "lake")
    (stats,) = ingest([str(path)], lake, Config()).files
    assert (stats.format, stats.lines, stats.parsed) == ("windows-json", 1, 1)
    (row,) = lake.read("auth").to_pylist()
    assert (row["user_name"], row["source_ip"], row["source_port"], row["timestamp"]) == (
        "guest", "192.0.2.9", 40000, utc(2023, 11, 14, 22, 13, 20, 123000),
    )  # fmt: skip


def test_get_winevent_bad_records_are_rejected_at_their_place(tmp_path: Path) -> None:
    events: list[object] = [
        _record(4625, LOGON_FAILURE),
        5,
        {"RecordId": 1, "Properties": []},
        _record("x", LOGON_FAILURE),
        _record(4625, None),
        _record(4625, "not a list"),
        _record(4625, LOGON_FAILURE, ProviderName="Some-Other-Provider"),
        _record(4625, LOGON_FAILURE, TimeCreated="/Date(99999999999999999)/"),
        _record(4625, LOGON_FAILURE[:19]),  # cut before IpAddress
        _record(4776, _values("MICROSOFT_AUTHENTICATION_PACKAGE_V1_0", "eve", "WS-1", 0)),
        _record(4625, LOGON_FAILURE, TimeCreated="2023-11-14T22:13:20.1234567-05:00"),
    ]
    path = tmp_path / "mixed.json"
    path.write_text(json.dumps(events, indent=2))
    lake = Lake(tmp_path / "lake")
    (stats,) = ingest([str(path)], lake, Config(), IngestOptions(format="windows-json")).files
    assert (stats.error, stats.lines, stats.parsed + stats.rejected) == (None, 11, 11)
    rows_ = lake.read("auth").sort_by("log_line").to_pylist()
    assert [(r["log_line"], r["timestamp"]) for r in rows_] == [
        (1, utc(2023, 11, 14, 22, 13, 20, 123000)),
        (10, utc(2023, 11, 14, 22, 13, 20, 123000)),
        (11, utc(2023, 11, 15, 3, 13, 20, 123456)),
    ]
    (ntlm,) = (r for r in rows_ if r["log_line"] == 10)
    assert (ntlm["source_ip"], ntlm["user_name"], ntlm["event_outcome"]) == (None, "eve", "success")
    assert sorted((r["log_line"], r["reason"]) for r in lake.read("rejects").to_pylist()) == [
        (2, auth_windows.NOT_JSON),
        (3, auth_windows.NOT_WINDOWS),
        (4, auth_windows.NOT_WINDOWS),
        (5, auth_windows.NO_ADDRESS),
        (6, auth_windows.NO_ADDRESS),
        (7, auth_windows.OTHER_EVENT),
        (8, INVALID_TIMESTAMP),
        (9, auth_windows.NO_ADDRESS),
    ]


def test_get_winevent_ntlm_validation_status_zero_is_success() -> None:
    # Get-WinEvent gives Status as a number: 0 is success, like evtx_dump's "0x0".
    lines = [
        json.dumps(
            {"@timestamp": "2026-09-30T10:00:00Z",
             "winlog": {"event_id": 4776, "event_data": {"TargetUserName": "eve",
                                                         "IpAddress": "192.0.2.5", "Status": s}}}
        )
        for s in ("0", "0x0", "3221225578")
    ]  # fmt: skip
    out = rows(parse(make(WindowsJsonParser), lines).rows, "auth")
    assert [r["event_outcome"] for r in out] == ["success", "success", "failure"]


@pytest.mark.parametrize(
    ("content", "where"),
    [
        (b'[\n  {\n    "Id": 4624,\n    "Properties": [\n', "unexpected end of data"),
        (b"[\n  {garbage\n", "not valid JSON"),
    ],
)
def test_broken_json_array_is_a_one_line_error(tmp_path: Path, content: bytes, where: str) -> None:
    path = tmp_path / "broken.json"
    path.write_bytes(content)
    (stats,) = ingest([str(path)], Lake(tmp_path / "lake"), Config()).files
    assert stats.error is not None and where in stats.error
    assert str(path) in stats.error and "\n" not in stats.error and "Traceback" not in stats.error
    assert stats.lines == 0


def test_truncated_array_keeps_the_events_before_the_cut(tmp_path: Path) -> None:
    record = _record(4625, LOGON_FAILURE, Message="x\r\n" * 300)
    text = json.dumps([record] * 30_000, indent=2)
    path = tmp_path / "cut.json"
    path.write_text(text[: len(text) - 500])
    (stats,) = ingest([str(path)], Lake(tmp_path / "lake"), Config()).files
    assert stats.error is not None and str(path) in stats.error and "\n" not in stats.error
    assert "unexpected end of data" in stats.error
    # The values DuckDB handed out before it met the cut (whole batches of
    # 10,000, as many as it had parsed: 10,000 here) are read and kept.
    assert stats.lines % 10_000 == 0 and stats.parsed == stats.lines
    assert f"read failed after line {stats.lines}:" in stats.error


_JSON_SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.text(max_size=30),
    st.sampled_from(["-", "0", "0x0", "192.0.2.1", "::1", "/Date(1700000000123)/",
                     "/Date(-99999999999999999)/", "2023-11-14T22:13:20+01:00"]),
)  # fmt: skip
_JSON_VALUES = st.recursive(
    _JSON_SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=8,
)
_WIN_EVENTS = st.one_of(
    _JSON_VALUES,
    st.builds(
        _record,
        st.one_of(st.sampled_from([4624, 4625, 4634, 4648, 4776, 4672]), _JSON_SCALARS),
        st.one_of(st.lists(st.builds(lambda v: {"Value": v}, _JSON_VALUES), max_size=22),
                  _JSON_VALUES),
        TimeCreated=_JSON_SCALARS,
        MachineName=_JSON_SCALARS,
    ),
)  # fmt: skip


@settings(max_examples=40, deadline=None)
@given(events=st.lists(_WIN_EVENTS, min_size=1, max_size=12), indent=st.sampled_from([None, 2, 4]))
def test_get_winevent_property_every_event_accounted_for(events: list[object], indent: int) -> None:
    if not any(isinstance(e, dict) for e in events[:1]):
        events = [{"Id": 4624, "Properties": []}, *events]  # "[" then "{": an array of objects
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "events.json"
        path.write_text(json.dumps(events, indent=indent))
        options = IngestOptions(format="windows-json")
        (stats,) = ingest([str(path)], Lake(Path(folder) / "lake"), Config(), options).files
    assert stats.error is None
    assert stats.lines == len(events) == stats.parsed + stats.rejected + stats.skipped


@settings(max_examples=30, deadline=None)
@given(cut=st.integers(0, 14_000), junk=st.binary(max_size=8), at=st.integers(0, 14_000))
def test_get_winevent_mutated_export_never_crashes(cut: int, junk: bytes, at: int) -> None:
    data = (FIXTURES / "get-winevent-ps7.json").read_bytes()
    data = data[:at] + junk + data[at + len(junk) : len(data) - cut]
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "events.json"
        path.write_bytes(data)
        (stats,) = ingest([str(path)], Lake(Path(folder) / "lake"), Config()).files
    assert stats.lines == stats.parsed + stats.rejected + stats.skipped
    if stats.error is not None:
        assert str(path) in stats.error and "\n" not in stats.error


# -- rsyslog's "message repeated N times" ----------------------------------------------------

REPEATED_LOG = [
    "Dec  6 10:00:00 host sshd[123]: Failed password for root from 203.0.113.5 port 22 ssh2",
    "Dec  6 10:00:02 host sshd[123]: message repeated 3 times: [ Failed password for root from "
    "203.0.113.5 port 22 ssh2]",
    "Dec  6 10:00:03 host sshd[124]: message repeated 2 times: [ Server listening on 0.0.0.0 "
    "port 22.]",
    "Dec  6 10:00:04 host sshd[125]: message repeated 99999999 times: [ Failed password for "
    "invalid user a from 203.0.113.6 port 23 ssh2]",
    "Dec  6 10:00:05 host sshd[126]: message repeated 2 times: [ Failed password for root from "
    "203.0.113.7 port 24 ssh2",  # no closing bracket: not rsyslog's line
    "Dec  6 10:00:06 host sshd[127]: message repeated 2 times:[Failed password for root from "
    "203.0.113.8 port 25 ssh2]",  # nor this
]


def test_sshd_repeated_messages_are_read_inside_and_marked_with_their_count() -> None:
    parsed = parse(make(SshdParser), REPEATED_LOG)
    table = parsed.rows
    assert table.column("log_line").to_pylist() == [1, 2, 4]
    assert table.column(base.REPEAT).to_pylist() == [None, 3, 99999999]
    out = rows(table, "auth")
    assert [(r["source_ip"], r["user_name"], r["event_action"]) for r in out] == [
        ("203.0.113.5", "root", "login"),
        ("203.0.113.5", "root", "login"),
        ("203.0.113.6", "a", "login"),
    ]
    assert rejects(parsed) == [(3, auth_sshd.NO_CLIENT), (5, auth_sshd.NO_CLIENT),
                               (6, auth_sshd.NO_CLIENT)]  # fmt: skip


def test_repeated_rows_are_written_once_per_event_and_counted(tmp_path: Path) -> None:
    log = tmp_path / "auth.log"
    log.write_text("\n".join(REPEATED_LOG) + "\n")
    lake = Lake(tmp_path / "lake")
    run = ingest([str(log)], lake, Config(), IngestOptions(now=NOW))
    (stats,) = run.files
    # Lines are accounted once each; the events beyond them are counted apart.
    assert (stats.lines, stats.parsed, stats.rejected, stats.skipped) == (6, 3, 3, 0)
    assert stats.repeated == 2 + (base.MAX_REPEAT - 1)
    assert stats.repeats_cut == 99999999 - base.MAX_REPEAT
    assert run.to_json()["totals"]["repeated"] == stats.repeated
    table = pq.read_table(lake.files("auth"))
    per_line = Counter(table.column("log_line").to_pylist())
    assert per_line == {1: 1, 2: 3, 4: base.MAX_REPEAT}
    assert "event_repeat" not in table.column_names


def test_repeat_counts_are_clamped_and_null_is_one() -> None:
    import pyarrow as pa

    rows_in = pa.table({"log_line": [1, 2, 3, 4], base.REPEAT: [None, 0, 2, -5]})
    repeats = base.repeat_counts(rows_in)
    assert repeats.counts is not None and repeats.counts.tolist() == [1, 1, 2, 1]
    assert (repeats.extra, repeats.cut) == (1, 0)
    out = base.repeated_rows(rows_in)
    assert out.column_names == ["log_line"]
    assert out.column("log_line").to_pylist() == [1, 2, 3, 3, 4]
    plain = pa.table({"log_line": [1]})
    assert base.repeated_rows(plain).equals(plain) and base.repeat_counts(plain).extra == 0


def test_a_batch_of_forged_repeat_counts_stays_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    """Log text says how many events a line stands for: capped per line and per
    batch (in line order), and what the caps leave out is counted."""
    import pyarrow as pa

    monkeypatch.setattr(base, "MAX_BATCH_REPEAT", 1500)
    rows_in = pa.table({"log_line": [1, 2, 3, 4], base.REPEAT: [10**9, 5, 10**6, 3]})
    repeats = base.repeat_counts(rows_in)
    # Line 1: 1,000 (the line cap, 999 extra); line 2: 5; line 3: what is
    # left of the batch's 1,500 extra rows (497 of its 999); line 4: none.
    assert repeats.counts is not None
    assert repeats.counts.tolist() == [1000, 5, 498, 1]
    assert repeats.extra == 1500
    assert repeats.cut == (10**9 - 1 + 4 + 10**6 - 1 + 2) - 1500
    assert base.repeated_rows(rows_in).num_rows == 4 + 1500


@pytest.mark.parametrize("kernel_lines", [1, 30])  # read by the multiplexer / handed to it
def test_repeated_sshd_lines_in_a_mixed_syslog_file(tmp_path: Path, kernel_lines: int) -> None:
    kernel = (
        "Dec  6 10:00:00 fw kernel: [12.3] DROP IN=eth0 OUT= MAC= SRC=198.51.100.9 "
        "DST=203.0.113.10 LEN=44 TOS=0x00 PREC=0x00 TTL=49 ID=1 PROTO=TCP SPT=4000 DPT=22 "
        "WINDOW=1024 RES=0x00 SYN URGP=0"
    )
    log = tmp_path / "syslog"
    log.write_text("\n".join([*[kernel] * kernel_lines, *REPEATED_LOG[:2]]) + "\n")
    lake = Lake(tmp_path / "lake")
    (stats,) = ingest([str(log)], lake, Config(), IngestOptions(now=NOW)).files
    assert stats.format == ("syslog" if kernel_lines == 1 else "netfilter")
    assert (stats.lines, stats.parsed, stats.repeated) == (kernel_lines + 2, kernel_lines + 2, 2)
    auth = pq.read_table(lake.files("auth"))
    assert sorted(Counter(auth.column("log_line").to_pylist()).values()) == [1, 3]
    assert pq.read_table(lake.files("network")).num_rows == kernel_lines


def test_the_reports_say_how_many_events_repeated_lines_added(tmp_path: Path) -> None:
    from reconwatch.hunt import hunt

    log = tmp_path / "auth.log"
    # 2 more events, then 999 more and 99,998,999 beyond the cap of 1,000 a line.
    log.write_text("\n".join([*REPEATED_LOG[:2], REPEATED_LOG[3]]) + "\n")
    out = tmp_path / "out"
    result = hunt([str(log)], Config(), out_dir=out, options=IngestOptions(now=NOW))
    assert result.run is not None and result.run.totals.repeated == 1001
    said = "1,001 more events in repeated-message lines (99,998,999 beyond the repeat caps"
    assert said in (out / "report.md").read_text()
    assert said in (out / "report.html").read_text()
    document = json.loads((out / "cases.json").read_text())
    assert document["ingest"]["files"][0]["repeated"] == 1001
    assert document["ingest"]["files"][0]["repeats_cut"] == 99_998_999
