"""Juniper SRX (Junos) RT_FLOW and RT_IDS logs, structured (sd-syslog) and text.

Every line here is written for these tests to Juniper's documented message
formats (``RT_FLOW_SESSION_DENY``, ``RT_FLOW_SESSION_CLOSE``, ``RT_SCREEN_TCP``...).
"""

from __future__ import annotations

from pathlib import Path

from hypothesis import HealthCheck, given, settings

from ingest_helpers import NOW, make, mutated_lines, parse, rejects, utc
from reconwatch.config import Config, SyslogConfig
from reconwatch.ingest import registry
from reconwatch.ingest.fw_juniper import (
    CREATES_ONLY,
    MALFORMED,
    NO_SOURCE,
    NOT_JUNOS,
    UNSUPPORTED,
    JuniperSrxParser,
)
from reconwatch.ingest.run import IngestOptions, ingest
from reconwatch.ingest.sources import head_lines
from reconwatch.ingest.syslogmux import SyslogMuxParser, claimants
from reconwatch.lake import Lake
from test_ingest_fw_helpers import alerts, network

SCANNER = "198.51.100.7"
TARGET = "203.0.113.5"
SD = "junos@2636.1.1.1.2.134"

# -- the structured form (sd-syslog, RFC 5424) ----------------------------------------------


def flow(msg: str, params: str, stamp: str = "2026-09-30T10:00:01.184+02:00") -> str:
    return f"<14>1 {stamp} srx1 RT_FLOW - {msg} [{SD} {params}]"


def screen(msg: str, params: str, stamp: str = "2026-09-30T10:05:02.309-05:00") -> str:
    return f"<11>1 {stamp} srx1 RT_IDS - {msg} [junos@2636.1.1.1.2.137 {params}]"


def deny_params(src: str = SCANNER, dst: str = TARGET, dport: str = "22", **extra: str) -> str:
    fields = {
        "source-address": src, "source-port": "40000", "destination-address": dst,
        "destination-port": dport, "connection-tag": "0", "service-name": "junos-ssh",
        "protocol-id": "6", "icmp-type": "0", "policy-name": "deny-all",
        "source-zone-name": "untrust", "destination-zone-name": "trust",
        "application": "UNKNOWN", "nested-application": "UNKNOWN", "username": "N/A",
        "roles": "N/A", "packet-incoming-interface": "ge-0/0/0.0", "encrypted": "No",
        "reason": "Denied by policy", "session-id-32": "7087",
    }  # fmt: skip
    fields.update(extra)
    return " ".join(f'{k}="{v}"' for k, v in fields.items())


SD_DENY = flow("RT_FLOW_SESSION_DENY", deny_params())
SD_CREATE = flow(
    "RT_FLOW_SESSION_CREATE",
    'source-address="10.0.0.1" source-port="51000" destination-address="192.0.2.80" '
    'destination-port="443" connection-tag="0" service-name="junos-https" '
    'nat-source-address="192.0.2.1" nat-source-port="21000" nat-destination-address="192.0.2.80" '
    'nat-destination-port="443" nat-connection-tag="0" src-nat-rule-type="source rule" '
    'src-nat-rule-name="nat1" dst-nat-rule-type="N/A" dst-nat-rule-name="N/A" protocol-id="6" '
    'policy-name="permit-web" source-zone-name="trust" destination-zone-name="untrust" '
    'session-id-32="6093" username="N/A" roles="N/A" packet-incoming-interface="ge-0/0/1.0" '
    'application="UNKNOWN" nested-application="UNKNOWN" encrypted="UNKNOWN"',
    "2026-09-30T10:00:02+02:00",
)
SD_CLOSE = flow(
    "RT_FLOW_SESSION_CLOSE",
    'reason="TCP FIN" source-address="10.0.0.1" source-port="51000" '
    'destination-address="192.0.2.80" destination-port="443" connection-tag="0" '
    'service-name="junos-https" nat-source-address="192.0.2.1" nat-source-port="21000" '
    'nat-destination-address="192.0.2.80" nat-destination-port="443" nat-connection-tag="0" '
    'src-nat-rule-type="source rule" src-nat-rule-name="nat1" dst-nat-rule-type="N/A" '
    'dst-nat-rule-name="N/A" protocol-id="6" policy-name="permit-web" source-zone-name="trust" '
    'destination-zone-name="untrust" session-id-32="6093" packets-from-client="6" '
    'bytes-from-client="337" packets-from-server="4" bytes-from-server="535" elapsed-time="1" '
    'application="HTTP" nested-application="UNKNOWN" username="N/A" roles="N/A" '
    'packet-incoming-interface="ge-0/0/1.0" encrypted="No"',
    "2026-09-30T10:00:03Z",
)
SD_SCREEN_TCP = screen(
    "RT_SCREEN_TCP",
    f'attack-name="TCP port scan!" source-address="{SCANNER}" source-port="50630" '
    f'destination-address="{TARGET}" destination-port="10778" source-zone-name="untrust" '
    'interface-name="ge-0/0/0.0" action="drop"',
)
SD_SCREEN_UDP = screen(
    "RT_SCREEN_UDP",
    f'attack-name="UDP flood!" source-address="{SCANNER}" source-port="40001" '
    f'destination-address="{TARGET}" destination-port="53" source-zone-name="untrust" '
    'interface-name="ge-0/0/0.0" action="alarm-without-drop"',
)
SD_SCREEN_ICMP = screen(
    "RT_SCREEN_ICMP",
    f'attack-name="IP sweep!" source-address="{SCANNER}" destination-address="{TARGET}" '
    'source-zone-name="untrust" interface-name="ge-0/0/0.0" action="drop"',
)
SD_SCREEN_IP = screen(
    "RT_SCREEN_IP",
    f'attack-name="Record Route IP option!" source-address="{SCANNER}" '
    f'destination-address="{TARGET}" protocol-id="1" source-zone-name="untrust" '
    'interface-name="ge-0/0/0.0" action="drop"',
)
SD_SCREEN_SRC_IP = screen(
    "RT_SCREEN_TCP_SRC_IP",
    f'attack-name="SYN flood Src-IP based!" source-address="{SCANNER}" '
    'source-zone-name="untrust" interface-name="ge-0/0/0.0" action="alarm-without-drop"',
)
SD_SCREEN_DST_IP = screen(
    "RT_SCREEN_TCP_DST_IP",
    f'attack-name="SYN flood Dst-IP based!" destination-address="{TARGET}" '
    'source-zone-name="untrust" interface-name="ge-0/0/0.0" action="drop"',
)

# -- the standard text form (BSD envelope) ----------------------------------------------------

TEXT_DENY = (
    f"Sep 30 10:00:01 srx1 RT_FLOW: RT_FLOW_SESSION_DENY: session denied {SCANNER}/40000->"
    f"{TARGET}/22 0x0 junos-ssh 6(0) deny-all untrust trust UNKNOWN UNKNOWN N/A(N/A) "
    "ge-0/0/0.0 UNKNOWN policy deny"
)
#: Junos 10.x and 11.x: no connection tag, nothing after the zones.
TEXT_DENY_OLD = (
    f"Sep 30 10:00:02 srx1 RT_FLOW: RT_FLOW_SESSION_DENY: session denied {SCANNER}/40001->"
    f"{TARGET}/161 None 17(0) log-all-else untrust trust"
)
TEXT_CREATE = (
    "Sep 30 10:00:03 srx1 RT_FLOW: RT_FLOW_SESSION_CREATE: session created "
    "10.0.0.1/51000->192.0.2.80/443 0x0 junos-https 192.0.2.1/21000->192.0.2.80/443 0x0 "
    "source rule nat1 N/A N/A 6 permit-web trust untrust 6093 N/A(N/A) ge-0/0/1.0 UNKNOWN "
    "UNKNOWN UNKNOWN"
)
TEXT_CLOSE = (
    "Sep 30 10:00:04 srx1 RT_FLOW: RT_FLOW_SESSION_CLOSE: session closed TCP FIN: "
    "10.0.0.1/51000->192.0.2.80/443 0x0 junos-https 192.0.2.1/21000->192.0.2.80/443 0x0 "
    "source rule nat1 N/A N/A 6 permit-web trust untrust 6093 6(337) 4(535) 1 HTTP UNKNOWN "
    "N/A(N/A) ge-0/0/1.0 No"
)
#: Junos 10.x: NAT rule names only, nothing after the elapsed time.
TEXT_CLOSE_OLD = (
    "Sep 30 10:00:05 srx1 RT_FLOW: RT_FLOW_SESSION_CLOSE: session closed idle Timeout: "
    "10.0.0.2/5353->192.0.2.53/53 junos-dns-udp 192.0.2.1/11152->192.0.2.53/53 None None "
    "17 permit-dns trust untrust 220368889 1(72) 1(136) 8"
)
TEXT_SCREEN_TCP = (
    f"Sep 30 10:05:02 srx1 RT_IDS: RT_SCREEN_TCP: TCP port scan! source: {SCANNER}:50630, "
    f"destination: {TARGET}:10778, zone name: untrust, interface name: ge-0/0/0.0, action: drop"
)
TEXT_SCREEN_ICMP = (
    f"Sep 30 10:05:03 srx1 RT_IDS: RT_SCREEN_ICMP: ICMP address sweep! source: {SCANNER}, "
    f"destination: {TARGET}, zone name: untrust, interface name: ge-0/0/0.0, action: drop"
)
TEXT_SCREEN_IP = (
    f"Sep 30 10:05:04 srx1 RT_IDS: RT_SCREEN_IP: IP spoofing! source: {SCANNER}, "
    f"destination: {TARGET}, protocol-id: 17, zone name: untrust, interface name: ge-0/0/0.0, "
    "action: drop"
)
#: Older releases write no action.
TEXT_SCREEN_SRC_IP = (
    f"Sep 30 10:05:05 srx1 RT_IDS: RT_SCREEN_TCP_SRC_IP: SYN flood Src-IP based! source: "
    f"{SCANNER}, zone name: untrust, interface name: ge-0/0/0.0"
)
TEXT_SCREEN_DST_IP = (
    f"Sep 30 10:05:06 srx1 RT_IDS: RT_SCREEN_TCP_DST_IP: SYN flood Dst-IP based! destination: "
    f"{TARGET}, zone name: untrust, interface name: ge-0/0/0.0, action: drop"
)

DENY = {"event_action": "denied", "connection_outcome": "failed", "connection_state": "deny",
        "event_dataset": "juniper.srx", "observer_name": "srx1"}  # fmt: skip
ALLOW = {**DENY, "event_action": "allowed", "connection_outcome": "succeeded"}
SCAN = {"rule_category": "scan", "event_severity": 2, "event_dataset": "juniper.srx",
        "observer_name": "srx1"}  # fmt: skip
OTHER = {**SCAN, "rule_category": "screen", "event_severity": 3}


def test_structured_sessions() -> None:
    parsed = parse(make(JuniperSrxParser), [SD_DENY, SD_CREATE, SD_CLOSE])
    assert network(parsed) == [
        {**DENY, "log_line": 1, "timestamp": utc(2026, 9, 30, 8, 0, 1, 184000),
         "source_ip": SCANNER, "source_port": 40000, "destination_ip": TARGET,
         "destination_port": 22, "network_transport": "tcp", "interface_in": "ge-0/0/0.0",
         "log_prefix": "deny-all"},
        # The session's CREATE (line 2) is skipped: its CLOSE is the one row.
        {**ALLOW, "log_line": 3, "timestamp": utc(2026, 9, 30, 10, 0, 3),
         "source_ip": "10.0.0.1", "source_port": 51000, "destination_ip": "192.0.2.80",
         "destination_port": 443, "network_transport": "tcp", "interface_in": "ge-0/0/1.0",
         "log_prefix": "permit-web", "connection_state": "TCP FIN", "network_bytes": 872,
         "network_packets": 10},
    ]  # fmt: skip
    assert (rejects(parsed), parsed.skipped, alerts(parsed)) == ([], 1, [])


def test_text_sessions() -> None:
    parsed = parse(
        make(JuniperSrxParser),
        [TEXT_DENY, TEXT_DENY_OLD, TEXT_CREATE, TEXT_CLOSE, TEXT_CLOSE_OLD],
    )
    assert network(parsed) == [
        # The text form's interface stands after the user name: not read.
        {**DENY, "log_line": 1, "timestamp": utc(2026, 9, 30, 10, 0, 1), "source_ip": SCANNER,
         "source_port": 40000, "destination_ip": TARGET, "destination_port": 22,
         "network_transport": "tcp", "log_prefix": "deny-all"},
        {**DENY, "log_line": 2, "timestamp": utc(2026, 9, 30, 10, 0, 2), "source_ip": SCANNER,
         "source_port": 40001, "destination_ip": TARGET, "destination_port": 161,
         "network_transport": "udp", "log_prefix": "log-all-else"},
        {**ALLOW, "log_line": 4, "timestamp": utc(2026, 9, 30, 10, 0, 4),
         "source_ip": "10.0.0.1", "source_port": 51000, "destination_ip": "192.0.2.80",
         "destination_port": 443, "network_transport": "tcp", "log_prefix": "permit-web",
         "connection_state": "TCP FIN", "network_bytes": 872, "network_packets": 10},
        {**ALLOW, "log_line": 5, "timestamp": utc(2026, 9, 30, 10, 0, 5),
         "source_ip": "10.0.0.2", "source_port": 5353, "destination_ip": "192.0.2.53",
         "destination_port": 53, "network_transport": "udp", "log_prefix": "permit-dns",
         "connection_state": "idle Timeout", "network_bytes": 208, "network_packets": 2},
    ]  # fmt: skip
    assert (rejects(parsed), parsed.skipped) == ([], 1)


def test_both_forms_of_one_event_read_the_same() -> None:
    structured = flow("RT_FLOW_SESSION_DENY", deny_params(), "2026-09-30T10:00:01Z")
    rows = network(parse(make(JuniperSrxParser), [structured, TEXT_DENY]))
    assert rows[0].pop("interface_in") == "ge-0/0/0.0"  # the structured form's only
    assert [{k: v for k, v in r.items() if k != "log_line"} for r in rows] == [
        {**DENY, "timestamp": utc(2026, 9, 30, 10, 0, 1), "source_ip": SCANNER,
         "source_port": 40000, "destination_ip": TARGET, "destination_port": 22,
         "network_transport": "tcp", "log_prefix": "deny-all"},
    ] * 2  # fmt: skip


def test_structured_screens_go_to_alerts() -> None:
    lines = [SD_SCREEN_TCP, SD_SCREEN_UDP, SD_SCREEN_ICMP, SD_SCREEN_IP, SD_SCREEN_SRC_IP,
             SD_SCREEN_DST_IP]  # fmt: skip
    parsed = parse(make(JuniperSrxParser), lines)
    at = utc(2026, 9, 30, 15, 5, 2, 309000)
    assert alerts(parsed) == [
        {**SCAN, "log_line": 1, "timestamp": at, "source_ip": SCANNER, "source_port": 50630,
         "destination_ip": TARGET, "destination_port": 10778, "network_transport": "tcp",
         "rule_id": "RT_SCREEN_TCP", "rule_name": "TCP port scan!", "event_action": "denied"},
        {**OTHER, "log_line": 2, "timestamp": at, "source_ip": SCANNER, "source_port": 40001,
         "destination_ip": TARGET, "destination_port": 53, "network_transport": "udp",
         "rule_id": "RT_SCREEN_UDP", "rule_name": "UDP flood!", "event_action": "allowed"},
        {**SCAN, "log_line": 3, "timestamp": at, "source_ip": SCANNER, "destination_ip": TARGET,
         "network_transport": "icmp", "rule_id": "RT_SCREEN_ICMP", "rule_name": "IP sweep!",
         "event_action": "denied"},
        {**OTHER, "log_line": 4, "timestamp": at, "source_ip": SCANNER, "destination_ip": TARGET,
         "network_transport": "icmp", "rule_id": "RT_SCREEN_IP",
         "rule_name": "Record Route IP option!", "event_action": "denied"},
        # One address: the source, whom the flood is blamed on.
        {**OTHER, "log_line": 5, "timestamp": at, "source_ip": SCANNER, "network_transport": "tcp",
         "rule_id": "RT_SCREEN_TCP_SRC_IP", "rule_name": "SYN flood Src-IP based!",
         "event_action": "allowed"},
    ]  # fmt: skip
    assert rejects(parsed) == [(6, NO_SOURCE)]
    assert network(parsed) == []


def test_text_screens_go_to_alerts() -> None:
    lines = [TEXT_SCREEN_TCP, TEXT_SCREEN_ICMP, TEXT_SCREEN_IP, TEXT_SCREEN_SRC_IP,
             TEXT_SCREEN_DST_IP]  # fmt: skip
    parsed = parse(make(JuniperSrxParser), lines)
    assert alerts(parsed) == [
        {**SCAN, "log_line": 1, "timestamp": utc(2026, 9, 30, 10, 5, 2), "source_ip": SCANNER,
         "source_port": 50630, "destination_ip": TARGET, "destination_port": 10778,
         "network_transport": "tcp", "rule_id": "RT_SCREEN_TCP", "rule_name": "TCP port scan!",
         "event_action": "denied"},
        {**SCAN, "log_line": 2, "timestamp": utc(2026, 9, 30, 10, 5, 3), "source_ip": SCANNER,
         "destination_ip": TARGET, "network_transport": "icmp", "rule_id": "RT_SCREEN_ICMP",
         "rule_name": "ICMP address sweep!", "event_action": "denied"},
        {**OTHER, "log_line": 3, "timestamp": utc(2026, 9, 30, 10, 5, 4), "source_ip": SCANNER,
         "destination_ip": TARGET, "network_transport": "udp", "rule_id": "RT_SCREEN_IP",
         "rule_name": "IP spoofing!", "event_action": "denied"},
        # No action written (older releases): none invented.
        {**OTHER, "log_line": 4, "timestamp": utc(2026, 9, 30, 10, 5, 5), "source_ip": SCANNER,
         "network_transport": "tcp", "rule_id": "RT_SCREEN_TCP_SRC_IP",
         "rule_name": "SYN flood Src-IP based!"},
    ]  # fmt: skip
    assert rejects(parsed) == [(5, NO_SOURCE)]


def test_ipv6_as_junos_writes_it() -> None:
    full = "2001:0db8:0000:0000:0000:0000:0000:0007"
    lines = [
        flow("RT_FLOW_SESSION_DENY",
             deny_params(src=full, dst="2001:0db8:0001:0000:0000:0000:0000:0005", dport="443")),
        "Sep 30 10:00:02 srx1 RT_FLOW: RT_FLOW_SESSION_DENY: session denied "
        "2001:db8::7/40000->2001:db8:1::5/443 0x0 junos-https 6(0) deny-all untrust trust",
        "Sep 30 10:00:03 srx1 RT_FLOW: RT_FLOW_SESSION_DENY: session denied "
        "2001:db8::7/0->2001:db8:1::5/0 0x0 icmpv6 58(128) deny-all untrust trust",
        # The text screen's IPv6 endpoint: the port after the last colon.
        "Sep 30 10:05:02 srx1 RT_IDS: RT_SCREEN_TCP: WinNuke attack! source: "
        "2001:db8:0:0:0:0:0:7:3240, destination: 2001:db8:1:0:0:0:0:5:139, zone name: untrust, "
        "interface name: ge-0/0/0.0, action: drop",
        "Sep 30 10:05:03 srx1 RT_IDS: RT_SCREEN_ICMP: ICMP flood! source: 2001:db8:0:0:0:0:0:7, "
        "destination: 2001:db8:1:0:0:0:0:5, zone name: untrust, interface name: ge-0/0/0.0, "
        "action: drop",
    ]  # fmt: skip
    parsed = parse(make(JuniperSrxParser), lines)
    assert [(r["source_ip"], r["destination_ip"], r.get("destination_port"),
             r["network_transport"]) for r in network(parsed)] == [
        ("2001:db8::7", "2001:db8:1::5", 443, "tcp"),
        ("2001:db8::7", "2001:db8:1::5", 443, "tcp"),
        ("2001:db8::7", "2001:db8:1::5", None, "ipv6-icmp"),
    ]  # fmt: skip
    assert [(r["source_ip"], r.get("source_port"), r["destination_ip"], r.get("destination_port"),
             r["network_transport"]) for r in alerts(parsed)] == [
        ("2001:db8::7", 3240, "2001:db8:1::5", 139, "tcp"),
        ("2001:db8::7", None, "2001:db8:1::5", None, "ipv6-icmp"),
    ]  # fmt: skip
    assert rejects(parsed) == []


def test_zoned_stamps_keep_their_zone_bsd_ones_take_the_configured_one() -> None:
    config = Config(syslog=SyslogConfig(timezone="Europe/Paris"))
    lines = [
        flow("RT_FLOW_SESSION_DENY", deny_params(), "2026-09-30T10:00:01.5+02:00"),
        flow("RT_FLOW_SESSION_DENY", deny_params(), "2026-09-30T10:00:01-05:00"),
        TEXT_DENY,  # 10:00:01 in Paris (summer time, UTC+2)
        f"<14>{TEXT_DENY[:15]} srx1 RT_FLOW[2111]: {TEXT_DENY.split('RT_FLOW: ', 1)[1]}",
        f"2026-09-30T10:00:01.25+0000 srx1 RT_FLOW: {TEXT_DENY.split('RT_FLOW: ', 1)[1]}",
        # A relay that dropped the RFC 5424 zone means local time.
        flow("RT_FLOW_SESSION_DENY", deny_params(), "2026-09-30T10:00:01"),
    ]
    parsed = parse(make(JuniperSrxParser, config), lines)
    assert [r["timestamp"] for r in network(parsed)] == [
        utc(2026, 9, 30, 8, 0, 1, 500000),
        utc(2026, 9, 30, 15, 0, 1),
        utc(2026, 9, 30, 8, 0, 1),
        utc(2026, 9, 30, 8, 0, 1),
        utc(2026, 9, 30, 10, 0, 1, 250000),
        utc(2026, 9, 30, 8, 0, 1),
    ]


def test_rsyslog_repeats_are_n_events() -> None:
    message = TEXT_DENY.split("RT_FLOW: ", 1)[1]
    lines = [
        f"Sep 30 10:00:01 srx1 RT_FLOW: message repeated 3 times: [ {message}]",
        "Sep 30 10:00:02 srx1 RT_FLOW: message repeated 2 times: [ not a Junos message]",
    ]
    parsed = parse(make(JuniperSrxParser), lines)
    assert parsed.rows.column("event_repeat").to_pylist() == [3]
    assert network(parsed)[0]["source_ip"] == SCANNER
    assert rejects(parsed) == [(2, UNSUPPORTED)]


def test_logical_systems_and_messages_without_an_id() -> None:
    lines = [
        flow("RT_FLOW_SESSION_DENY_LS", deny_params() + ' logical-system-name="lsys1"'),
        "Sep 30 10:00:02 srx1 RT_FLOW: RT_FLOW_SESSION_DENY_LS: Lsys lsys1: session denied "
        f"{SCANNER}/40000->{TARGET}/23 0x0 junos-telnet 6(0) deny-all untrust trust",
        "Sep 30 10:00:03 srx1 RT_FLOW: RT_FLOW_SESSION_CREATE_LS: Lsys lsys1: session created x",
        # A structured message relayed in a traditional template keeps its
        # text but loses its MSGID: the verb says which message it is.
        f"Sep 30 10:00:04 srx1 RT_FLOW: session denied {SCANNER}/40000->{TARGET}/25 0x0 "
        "junos-smtp 6(0) deny-all untrust trust UNKNOWN UNKNOWN N/A(N/A) ge-0/0/0.0 No",
        "Sep 30 10:00:05 srx1 RT_FLOW: session created 10.0.0.1/1->192.0.2.1/2 0x0 x",
        "Sep 30 10:05:02 srx1 RT_IDS: RT_SCREEN_TCP_LS: Lsys lsys1: TCP sweep! source: "
        f"{SCANNER}:40000, destination: {TARGET}:22, zone name: untrust, interface name: "
        "ge-0/0/0.0, action: drop",
    ]
    parsed = parse(make(JuniperSrxParser), lines)
    assert [(r["log_line"], r["destination_port"]) for r in network(parsed)] == [
        (1, 22), (2, 23), (4, 25),
    ]  # fmt: skip
    assert [(r["rule_id"], r["rule_name"], r["rule_category"]) for r in alerts(parsed)] == [
        ("RT_SCREEN_TCP_LS", "TCP sweep!", "scan"),
    ]
    assert (rejects(parsed), parsed.skipped) == ([], 2)


def test_reject_reasons() -> None:
    lines = [
        "Sep 30 10:00:01 srx1 sshd[812]: Accepted publickey for admin from 10.0.0.9 port 51000",
        "not syslog at all",
        "<14>1 2026-09-30T10:00:01Z srx1 RT_FLOW - APPTRACK_SESSION_CREATE [junos@2636.1 "
        'source-address="10.0.0.1" destination-address="192.0.2.1" protocol-id="6"]',
        "Sep 30 10:00:01 srx1 RT_FLOW: APPTRACK_SESSION_CLOSE: AppTrack session closed x",
        "Sep 30 10:00:01 srx1 RT_FLOW: RT_FLOW_SESSION_DENY: session denied nowhere",
        "Sep 30 10:00:01 srx1 RT_IDS: RT_SCREEN_TCP: TCP port scan! without its fields",
        # The structured data does not follow RFC 5424's grammar (an unescaped quote).
        flow("RT_FLOW_SESSION_DENY", deny_params(username='a"b')),
        # A structured message with no Junos element.
        "<14>1 2026-09-30T10:00:01Z srx1 RT_FLOW - RT_FLOW_SESSION_DENY - session denied",
        flow("RT_FLOW_SESSION_DENY", deny_params(**{"protocol-id": ""})),
        flow("RT_FLOW_SESSION_DENY", deny_params(dport="70000")),
        flow("RT_FLOW_SESSION_DENY", deny_params(src="198.51.100.300")),
        flow("RT_FLOW_SESSION_DENY", deny_params(dst="")),
        "Sep 30 10:00:01 srx1 RT_IDS: session denied x",
        "",
    ]
    parsed = parse(make(JuniperSrxParser), lines)
    assert rejects(parsed) == [
        (1, NOT_JUNOS),
        (2, NOT_JUNOS),
        (3, UNSUPPORTED),
        (4, UNSUPPORTED),
        (5, MALFORMED),
        (6, MALFORMED),
        (7, MALFORMED),
        (8, MALFORMED),
        (9, MALFORMED),
        (10, "invalid port"),
        (11, "invalid source address"),
        (12, MALFORMED),
        (13, UNSUPPORTED),
    ]
    assert parsed.skipped == 1


# -- hostile lines: whom a row blames is Junos' own field, never text inside another -------


def test_a_source_address_inside_another_value_is_that_value() -> None:
    forged = r"x\" source-address=\"6.6.6.6"
    lines = [
        # Escaped quotes, as RFC 5424 requires, in the policy name and the reason.
        flow("RT_FLOW_SESSION_DENY", deny_params(**{"policy-name": forged})),
        flow("RT_FLOW_SESSION_DENY", deny_params(reason=forged)),
        # Without a quote: only the real parameter names a source.
        flow("RT_FLOW_SESSION_DENY", deny_params(username="source-address=6.6.6.6")),
        # An escaped ] and backslash do not end the element.
        flow("RT_FLOW_SESSION_DENY", deny_params(application=r"a\] source-address=\"6.6.6.6\"\\")),
        # A value that is itself a parameter name: never read as one.
        flow("RT_FLOW_SESSION_DENY", deny_params(roles=" source-address=")),
    ]
    parsed = parse(make(JuniperSrxParser), lines)
    out = network(parsed)
    assert [(r["log_line"], r["source_ip"], r["destination_ip"]) for r in out] == [
        (n, SCANNER, TARGET) for n in range(1, 6)
    ]
    assert out[0]["log_prefix"] == 'x" source-address="6.6.6.6'
    assert rejects(parsed) == []


def test_a_parameter_named_twice_is_rejected() -> None:
    # Junos writing a user name's quote unescaped would make a second parameter.
    injected = flow("RT_FLOW_SESSION_DENY", deny_params(username='a" source-address="6.6.6.6'))
    assert injected.count("source-address=") == 2
    screened = screen(
        "RT_SCREEN_TCP_DST_IP",
        f'attack-name="SYN flood!" destination-address="{TARGET}" '
        'interface-name="x" source-address="6.6.6.6" action="drop" source-address="6.6.6.7"',
    )
    parsed = parse(make(JuniperSrxParser), [injected, screened])
    assert rejects(parsed) == [(1, MALFORMED), (2, MALFORMED)]


def test_text_fields_a_user_chooses_come_after_the_addresses() -> None:
    user = f"{SCANNER}/1->{TARGET}/2 0x0 x 6(0) evil untrust trust"
    lines = [
        f"Sep 30 10:00:01 srx1 RT_FLOW: RT_FLOW_SESSION_DENY: session denied 10.9.9.9/40000->"
        f"{TARGET}/22 0x0 junos-ssh 6(0) deny-all untrust trust UNKNOWN UNKNOWN "
        f"{user}(N/A) ge-0/0/0.0 UNKNOWN policy deny",
        "Sep 30 10:00:02 srx1 RT_FLOW: RT_FLOW_SESSION_CLOSE: session closed TCP RST: "
        "10.0.0.1/51000->192.0.2.80/443 0x0 junos-https 192.0.2.1/21000->192.0.2.80/443 0x0 "
        "N/A N/A N/A N/A 6 permit-web trust untrust 7 2(120) 1(60) 1 HTTP UNKNOWN "
        "x 17 evil z z 1 9(9999) 9(9999) 1(N/A) ge-0/0/1.0 No",
    ]
    out = network(parse(make(JuniperSrxParser), lines))
    assert [(r["source_ip"], r["log_prefix"], r.get("network_bytes")) for r in out] == [
        ("10.9.9.9", "deny-all", None),
        ("10.0.0.1", "permit-web", 180),
    ]
    assert out[1]["network_transport"] == "tcp"


# -- a mixed syslog file, through the multiplexer ----------------------------------------------

DROP = (
    "Sep 30 10:09:23 fw kernel: [19955416.516358] RW-DROP: IN=eth0 OUT= MAC=00:00 "
    f"SRC={SCANNER} DST=10.0.0.5 LEN=44 TOS=0x00 PREC=0x00 TTL=43 ID=1 PROTO=TCP "
    "SPT=40000 DPT=3389 WINDOW=1024 RES=0x00 SYN URGP=0 "
)
CRON = "Sep 30 10:09:25 fw CRON[4242]: (root) CMD (run-parts /etc/cron.hourly)"


def test_programs_are_claimed_for_the_multiplexer() -> None:
    owners = claimants()
    assert owners["RT_FLOW"] is JuniperSrxParser and owners["RT_IDS"] is JuniperSrxParser


def test_mixed_syslog_routes_junos_lines_next_to_kernel_lines(tmp_path: Path) -> None:
    log = tmp_path / "messages"
    log.write_text(
        "\n".join([DROP, TEXT_DENY, CRON, SD_SCREEN_TCP, TEXT_CREATE, SD_CLOSE,
                   "Sep 30 10:09:26 srx1 RT_FLOW: APPTRACK_SESSION_CREATE: x"]) + "\n"
    )  # fmt: skip
    lake = Lake(tmp_path / "lake")
    (stats,) = ingest([str(log)], lake, Config(), IngestOptions(now=NOW)).files
    assert (stats.format, stats.lines, stats.parsed, stats.rejected, stats.skipped) == (
        "syslog", 7, 4, 2, 1,
    )  # fmt: skip
    assert stats.reject_reasons == {"syslog program without a parser": 1, UNSUPPORTED: 1}
    network_rows = lake.read("network").sort_by("log_line").to_pylist()
    assert [(r["log_line"], r["event_dataset"], r["source_ip"], r["destination_port"])
            for r in network_rows] == [
        (1, "netfilter", SCANNER, 3389),
        (2, "juniper.srx", SCANNER, 22),
        (6, "juniper.srx", "10.0.0.1", 443),
    ]  # fmt: skip
    alert_rows = lake.read("alert").to_pylist()
    assert [(r["log_line"], r["event_dataset"], r["rule_name"], r["rule_category"])
            for r in alert_rows] == [(4, "juniper.srx", "TCP port scan!", "scan")]  # fmt: skip


# -- sniffing ----------------------------------------------------------------------------------

OWN = [SD_DENY, SD_CLOSE, SD_SCREEN_TCP, TEXT_DENY, TEXT_CREATE, TEXT_CLOSE, TEXT_SCREEN_ICMP]


def test_sniffs_both_forms() -> None:
    assert JuniperSrxParser.sniff(OWN)
    for line in OWN:
        assert JuniperSrxParser.sniff([line]), line
        found = registry.sniff([line])
        assert found is not None and found.name == "juniper-srx", line
    assert registry.sniff(OWN) is JuniperSrxParser
    # Mixed with other programs: the multiplexer's (it routes these lines here).
    assert registry.sniff([TEXT_DENY, DROP]) is SyslogMuxParser
    # Less than half of the lines: not this format.
    assert not JuniperSrxParser.sniff([TEXT_DENY, CRON, CRON])
    assert not JuniperSrxParser.sniff([CRON, DROP, "RT_FLOW_SESSION_DENY somewhere"])
    assert not JuniperSrxParser.sniff([])


def test_no_other_format_claims_junos_lines() -> None:
    others = [p.name for p in registry.PARSERS if p is not JuniperSrxParser and p.sniff(OWN)]
    assert others == []


def test_no_fixture_or_shared_sample_is_claimed(shared_data: Path) -> None:
    fixtures = Path(__file__).parent / "fixtures"
    paths = [
        p
        for root in (shared_data, fixtures)
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.suffix not in (".assert", ".yaml", ".md", ".gz", ".parquet", ".zst")
        and p.name != "LICENSE"
    ]  # fmt: skip
    assert len(paths) > 30
    claimed = [p.name for p in paths if JuniperSrxParser.sniff(head_lines(p.read_bytes()[:65536]))]
    assert claimed == []


# -- accounting, for any text ------------------------------------------------------------------

SEEDS = [
    SD_DENY, SD_CREATE, SD_CLOSE, SD_SCREEN_TCP, SD_SCREEN_ICMP, SD_SCREEN_IP, SD_SCREEN_SRC_IP,
    SD_SCREEN_DST_IP, TEXT_DENY, TEXT_DENY_OLD, TEXT_CREATE, TEXT_CLOSE, TEXT_CLOSE_OLD,
    TEXT_SCREEN_TCP, TEXT_SCREEN_ICMP, TEXT_SCREEN_IP, TEXT_SCREEN_SRC_IP, DROP,
    flow("RT_FLOW_SESSION_DENY", deny_params(reason=r'a\"b\\c\]')),
]  # fmt: skip


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_lines(SEEDS, '"\\[]=:/()- .0x9_<>', 10))
def test_any_mix_of_mutated_lines_is_accounted(lines: list[str]) -> None:
    lines = [line.replace("\n", " ").replace("\r", " ") for line in lines]
    parsed = parse(make(JuniperSrxParser), lines)  # asserts rows + rejects + skipped == lines
    assert all(r.as_py() for r in parsed.rejects.column("reason"))
    for table in [parsed.rows, *parsed.other_tables.values()]:
        if table.num_rows:
            assert table.column("timestamp").null_count == 0
            assert table.column("source_ip").null_count == 0


# -- review: counts past 2**63, on-box files, relays ---------------------------------------


def test_counts_summing_past_the_column_lose_their_count_not_the_batch() -> None:
    """Two counts each under 2**63 summed past it stopped the whole batch with
    DuckDB's overflow error: one spoofed UDP line hid every line beside it."""
    huge = "9223372036854775807"
    lines = [
        TEXT_DENY,
        TEXT_CLOSE.replace("6(337) 4(535)", f"6({huge}) 4(1)"),
        flow("RT_FLOW_SESSION_CLOSE", SD_CLOSE.split("[", 1)[1][len(SD) + 1 : -1].replace(
            'bytes-from-client="337"', f'bytes-from-client="{huge}"')),
    ]  # fmt: skip
    parsed = parse(make(JuniperSrxParser), lines)
    rows = network(parsed)
    assert [r["log_line"] for r in rows] == [1, 2, 3]
    assert [r.get("network_bytes") for r in rows[1:]] == [None, None]
    assert [r.get("network_packets") for r in rows[1:]] == [10, 10]
    assert rejects(parsed) == []


def test_junos_own_log_files_with_two_spaces_before_the_host() -> None:
    """``/var/log/`` on the box: ``Nov  3 19:06:50  srx1 RT_FLOW: ...``."""
    on_box = TEXT_DENY.replace("Sep 30 10:00:01 srx1", "Sep 30 10:00:01  srx1")
    parsed = parse(make(JuniperSrxParser), [on_box, TEXT_SCREEN_TCP.replace(" srx1", "  srx1", 1)])
    assert [(r["source_ip"], r["observer_name"]) for r in network(parsed)] == [(SCANNER, "srx1")]
    assert [a["rule_name"] for a in alerts(parsed)] == ["TCP port scan!"]
    assert rejects(parsed) == []


def test_the_text_form_relayed_as_rfc5424_and_screens_without_their_id() -> None:
    """A relay re-sending the text form as RFC 5424 (MSGID ``-`` or the id, no
    Junos element), and a screen whose id a relay dropped: still read."""
    text = TEXT_DENY.split("RT_FLOW: ", 1)[1]
    screen_text = TEXT_SCREEN_TCP.split("RT_SCREEN_TCP: ", 1)[1]
    lines = [
        f"<14>1 2026-09-30T10:00:01Z srx1 RT_FLOW - - - {text}",
        "<14>1 2026-09-30T10:00:02Z srx1 RT_FLOW - RT_FLOW_SESSION_DENY - "
        + text.split(": ", 1)[1],
        f"Sep 30 10:05:02 srx1 RT_IDS: {screen_text}",
    ]
    parsed = parse(make(JuniperSrxParser), lines)
    assert [(r["log_line"], r["source_ip"], r["destination_port"]) for r in network(parsed)] == [
        (1, SCANNER, 22),
        (2, SCANNER, 22),
    ]
    (alert,) = alerts(parsed)
    assert (alert["rule_id"], alert["rule_name"], alert["source_ip"]) == (
        "RT_SCREEN", "TCP port scan!", SCANNER,
    )  # fmt: skip
    assert rejects(parsed) == []


def test_a_file_of_session_starts_without_ends_says_it_gives_no_allowed_session(
    tmp_path: Path,
) -> None:
    # A policy logging session-init only: every CREATE is skipped, and the
    # file's note says why no allowed session came of it; with its CLOSE
    # lines (here after the sniffer's head, in a later batch) there is none.
    starts = [TEXT_CREATE] * 30
    (tmp_path / "init-only.log").write_text("\n".join(starts) + "\n")
    (tmp_path / "both.log").write_text("\n".join([*starts, TEXT_CLOSE]) + "\n")
    options = IngestOptions(now=NOW, block_bytes=600, sniff_bytes=600)
    paths = [str(tmp_path / "init-only.log"), str(tmp_path / "both.log")]
    run = ingest(paths, Lake(tmp_path / "lake"), Config(), options)
    notes = {Path(f.name).name: f.note for f in run.files}
    assert notes == {"init-only.log": CREATES_ONLY, "both.log": None}
