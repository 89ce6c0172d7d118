"""Firewall parser review: real vendor variants that were misread or rejected,
and log text that could choose whom a row blames."""

from __future__ import annotations

import pytest

from ingest_helpers import make, parse, rejects, utc
from reconwatch.config import Config, SyslogConfig
from reconwatch.ingest.fw_cef import CefParser, LeefParser
from reconwatch.ingest.fw_fortigate import FortigateParser
from reconwatch.ingest.fw_mikrotik import MikrotikParser
from reconwatch.ingest.fw_panos import PanosParser
from test_ingest_fw_helpers import alerts, fixture_lines, network

CEF_HEAD = "CEF:0|Trend Micro|Deep Security Agent|10.0|20|Log for TCP Port 80|5|"
CEF_EXT = "src=198.51.100.7 dst=203.0.113.10 spt=40000 dpt=80 proto=TCP act=Deny"


def test_mikrotik_bare_ipv6_endpoint_is_not_cut_at_its_first_colon() -> None:
    # RouterOS writes an endpoint without a port (ICMP, ICMPv6) as the bare
    # address: fe80::1 is not the address "fe80" with port ":1".
    line = (
        "Oct  5 10:00:00 gw firewall,info input: in:ether1 out:(unknown 0), "
        "proto ICMP (type 135, code 0), 2001:db8::7->2001:db8::1, len 32"
    )
    parsed = parse(make(MikrotikParser), [line])
    assert rejects(parsed) == []
    [row] = network(parsed)
    assert (row["source_ip"], row["destination_ip"]) == ("2001:db8::7", "2001:db8::1")
    assert "source_port" not in row


def test_cef_rt_zone_is_applied() -> None:
    # CEF's rt may end with a zone (MMM dd yyyy HH:mm:ss zzz); Deep Security
    # writes GMT+hh:mm. 12:00 at +02:00 is 10:00 UTC, not 12:00.
    lines = [
        f"{CEF_HEAD}{CEF_EXT} rt=Oct 10 2026 12:00:00 GMT+02:00",
        f"{CEF_HEAD}{CEF_EXT} rt=Oct 10 2026 12:00:00.250 +0200",
        f"{CEF_HEAD}{CEF_EXT} rt=Oct 10 2026 12:00:00 UTC",
        # A zone abbreviation is ambiguous: the envelope's stamp is used instead.
        f"Oct 10 09:30:00 relay {CEF_HEAD}{CEF_EXT} rt=Oct 10 2026 12:00:00 CEST",
    ]
    out = network(parse(make(CefParser), lines))
    assert [r["timestamp"] for r in out] == [
        utc(2026, 10, 10, 10),
        utc(2026, 10, 10, 10),
        utc(2026, 10, 10, 12),
        utc(2026, 10, 10, 9, 30),
    ]


def test_cef_rt_zone_abbreviation_without_an_envelope_is_read_in_the_site_zone() -> None:
    # An ArcSight Logger export: bare lines, no envelope to fall back on. The
    # stamp is read as every stamp without a usable zone is, in syslog.timezone
    # (rejecting it would lose the event); a zoneless bare line stays UTC.
    lines = [
        f"{CEF_HEAD}{CEF_EXT} rt=Oct 10 2026 12:00:00 CEST",
        f"{CEF_HEAD}{CEF_EXT} rt=Oct 10 2026 12:00:00",
        f"{CEF_HEAD}{CEF_EXT} rt=Oct 10 2026 12:00:00 not a zone",
    ]
    paris = Config(syslog=SyslogConfig(timezone="Europe/Paris"))
    parsed = parse(make(CefParser, paris), lines)
    assert [r["timestamp"] for r in network(parsed)] == [
        utc(2026, 10, 10, 10),
        utc(2026, 10, 10, 12),
    ]
    assert rejects(parsed) == [(3, "invalid timestamp")]


def test_cef_header_must_start_the_message() -> None:
    lines = [
        f"{CEF_HEAD}{CEF_EXT} rt=1791633600000",
        f"<134>Oct 10 12:00:00 fw01 {CEF_HEAD}{CEF_EXT}",
        f"<134>Oct 10 12:00:00 bigip1 ASM:{CEF_HEAD}{CEF_EXT}",
        f"Oct 10 12:00:00 fw01 agent[42]: {CEF_HEAD}{CEF_EXT}",
        f"<134>1 2026-10-10T12:00:00Z fw01 agent - - - {CEF_HEAD}{CEF_EXT}",
        # Another program's line holding a header an outsider wrote (a URL).
        "Oct 10 12:00:00 web1 nginx: 198.51.100.9 - - GET "
        "/CEF:0|a|b|c|d|e|f|src=6.6.6.6 dst=203.0.113.10 act=deny",
    ]
    parsed = parse(make(CefParser), lines)
    assert [r["source_ip"] for r in network(parsed)] == ["198.51.100.7"] * 5
    assert rejects(parsed) == [(6, "CEF header not at the start of the message")]


#: Envelopes real senders and relays put before a header, each read.
RELAYED = [
    # A syslog-ng / rsyslog relay adding its own header, with PRIs or without.
    "Oct 10 12:00:01 relay01 Oct 10 12:00:00 fw01 {}",
    "<134>Oct 10 12:00:01 relay01 <134>Oct 10 12:00:00 fw01 {}",
    # Check Point through a relay: the gateway's stamp carries its year.
    "Oct 10 12:00:01 relay01 Oct 10 2026 12:00:00 cp-gw1 {}",
    "Oct 10 2026 12:00:00 fw01 {}",
    # NetScaler's ns.log (CTX136146), one space or two before the header.
    "Dec 18 20:37:08 <local0.info> 10.217.31.247 {}",
    "Dec 18 20:37:08 <local0.info> 10.217.31.247  {}",
    # RFC 5424: two spaces after the structured data, no PRI, structured data.
    "<13>1 2026-10-10T12:00:00Z fw01 app - - -  {}",
    "1 2026-10-10T12:00:00Z fw01 app - - - {}",
    '<13>1 2026-10-10T12:00:00Z fw01 app - - [meta sequenceId="7"] {}',
    # ISO stamps without a zone, or with a space; a level or facility word.
    "2026-10-10T12:00:00 fw01 {}",
    "2026-10-10 12:00:00 fw01 {}",
    "<134>Oct 10 12:00:00 bigip1 ASM:{}",
    "fw01 local4.info {}",
    "fw01\t{}",
    " {}",
]


@pytest.mark.parametrize("envelope", RELAYED)
def test_cef_and_leef_headers_after_real_envelopes_are_read(envelope: str) -> None:
    cef = parse(make(CefParser), [envelope.format(f"{CEF_HEAD}{CEF_EXT} rt=1791633600000")])
    assert rejects(cef) == []
    assert [r["source_ip"] for r in network(cef)] == ["198.51.100.7"]
    leef_line = (
        "LEEF:1.0|Microsoft|MSExchange|2013|15345|"
        "src=198.51.100.7\tdst=203.0.113.10\tdevTime=1791633600000"
    )
    leef = parse(make(LeefParser), [envelope.format(leef_line)])
    assert rejects(leef) == []
    assert [r["source_ip"] for r in network(leef)] == ["198.51.100.7"]


#: Other programs' lines quoting a header an outsider wrote: never read.
FORGED = [
    # A user name sshd logs after its tag.
    "Oct 10 12:00:00 host sshd[1]: Invalid user {} from 192.0.2.1 port 22",
    # Request text, quoted or not.
    '198.51.100.9 - - [10/Oct/2026:12:00:00 +0000] "GET /{} HTTP/1.1" 404 0',
    "Oct 10 12:00:00 web1 nginx: 198.51.100.9 - - GET /{}",
    "[Mon Oct 10 12:00:00 2026] [core:error] [pid 1] AH00126: Invalid URI in request GET {}",
    # A key=value message (a value holding the header).
    "Oct 10 12:00:00 fw01 app: user=x msg={}",
    # RFC 5424 has no tag to stop at: the program is a field of its own.
    "<38>1 2026-10-10T12:00:00Z host1 sshd 1234 - - Invalid user {} from 192.0.2.1 port 22",
    # MikroTik writes topics, not a tag.
    "Oct 10 12:00:00 gw1 system,error,critical login failure for user {} from 192.0.2.1",
    # Words before it that no header is made of, without any tag.
    "Oct 10 12:00:00 gw1 login failure for user {}",
    "<134>Oct 10 12:00:00 gw1 local4.info Invalid user {}",
]


@pytest.mark.parametrize("line", FORGED)
def test_a_header_inside_another_programs_message_is_not_read(line: str) -> None:
    forged = "CEF:0|a|b|c|d|e|f|src=6.6.6.6 dst=203.0.113.10 act=deny rt=1791633600000"
    parsed = parse(make(CefParser), [line.format(forged)])
    assert network(parsed) == []
    assert rejects(parsed) == [(1, "CEF header not at the start of the message")]
    leef = "LEEF:1.0|a|b|c|d|src=6.6.6.6\tdst=203.0.113.10\tdevTime=1791633600000"
    parsed = parse(make(LeefParser), [line.format(leef)])
    assert network(parsed) == []
    assert rejects(parsed) == [(1, "LEEF header not at the start of the message")]


def test_cef_and_leef_source_named_twice_is_rejected() -> None:
    # An unescaped '=' in a value an outsider wrote (a user agent) makes a
    # second src= key: which one the device meant cannot be told.
    cef = f"{CEF_HEAD}requestClientApplication=Mozilla/5.0 src=6.6.6.6 {CEF_EXT}"
    leef = (
        "LEEF:2.0|Lancope|StealthWatch|1.0|41|^|url=/a^src=6.6.6.6^"
        "src=198.51.100.7^dst=203.0.113.10^proto=TCP^action=deny"
    )
    assert rejects(parse(make(CefParser), [cef])) == [(1, "source or destination key named twice")]
    assert rejects(parse(make(LeefParser), [leef])) == [
        (1, "source or destination key named twice")
    ]


def test_panos_ietf_rfc5424_envelope() -> None:
    # The syslog server profile's IETF format: an RFC 5424 header, NILVALUEs.
    record = fixture_lines("panos.log")[0].split(" PA-VM ", 1)[1]
    lines = [
        f"<14>1 2026-10-10T12:00:00+02:00 PA-VM - - - - {record}",
        f"<14>1 2026-10-10T12:00:00.123Z PA-VM - - - -  {record}",
    ]
    parsed = parse(make(PanosParser), lines)
    assert rejects(parsed) == []
    assert [(r["source_ip"], r["destination_port"]) for r in network(parsed)] == [
        ("198.51.100.7", 23),
        ("198.51.100.7", 23),
    ]


def test_fortigate_webfilter_passthrough_is_allowed() -> None:
    line = (
        'date=2026-10-10 time=12:00:00 devname="FGT60E" logid="0316013057" type="utm" '
        'subtype="webfilter" eventtype="ftgd_allow" level="notice" vd="root" srcip=10.0.0.5 '
        'srcport=51515 srcintf="internal" dstip=192.0.2.80 dstport=80 dstintf="wan1" proto=6 '
        'service="HTTP" hostname="example.com" action="passthrough" url="/" '
        'msg="URL belongs to an allowed category in policy"'
    )
    [alert] = alerts(parse(make(FortigateParser), [line]))
    assert alert["event_action"] == "allowed"
