"""Review fixes in the non-firewall parsers (sshd, Cowrie, Suricata eve)."""

from __future__ import annotations

import json

from ingest_helpers import make, parse, rejects, rows
from reconwatch.ingest.auth_sshd import SshdParser
from reconwatch.ingest.honeypot_cowrie import CowrieJsonParser
from reconwatch.ingest.ids_suricata import SuricataEveParser


def test_sshd_pam_failure_keeps_the_user_after_pam_unix_two_spaces() -> None:
    # pam_unix writes "rhost=%s " then " user=%s": two spaces before user=.
    line = (
        "Feb 12 14:10:21 host sshd[16378]: pam_unix(sshd:auth): authentication failure; "
        "logname= uid=0 euid=0 tty=ssh ruser= rhost=218.92.0.12  user=root"
    )
    out = rows(parse(make(SshdParser), [line]).rows, "auth")
    assert [(r["source_ip"], r["user_name"], r["event_action"]) for r in out] == [
        ("218.92.0.12", "root", "pam_failure")
    ]


def test_cowrie_direct_tcpip_target_is_not_the_destination() -> None:
    # dst_ip/dst_port of a direct-tcpip event are the tunnel the client asked
    # for (often a host name), src_port its claimed originator.
    base = {"src_ip": "198.51.100.7", "session": "a", "sensor": "hp1"}
    stamp = {"timestamp": "2026-09-30T10:00:01.123456Z"}
    lines = [
        json.dumps(
            {"eventid": "cowrie.direct-tcpip.request", "dst_ip": "ya.ru", "dst_port": 443,
             "src_port": 5556, **base, **stamp}
        ),
        json.dumps(
            {"eventid": "cowrie.direct-tcpip.data", "dst_ip": "10.0.0.9", "dst_port": 25,
             "data": "x", **base, **stamp}
        ),
        json.dumps(
            {"eventid": "cowrie.session.connect", "src_port": 40102, "dst_ip": "10.0.0.5",
             "dst_port": 22, **base, **stamp}
        ),
    ]  # fmt: skip
    parsed = parse(make(CowrieJsonParser), lines)
    assert rejects(parsed) == []
    out = rows(parsed.rows, "alert")
    assert [
        (r["rule_id"], r["source_ip"], r["source_port"], r["destination_ip"], r["destination_port"])
        for r in out
    ] == [
        ("cowrie.direct-tcpip.request", "198.51.100.7", None, None, None),
        ("cowrie.direct-tcpip.data", "198.51.100.7", None, None, None),
        ("cowrie.session.connect", "198.51.100.7", 40102, "10.0.0.5", 22),
    ]


def test_suricata_flow_with_huge_counts_does_not_fail_the_batch() -> None:
    huge = 9_000_000_000_000_000_000
    flow = {
        "timestamp": "2022-07-11T10:29:32.251216+0000",
        "event_type": "flow",
        "src_ip": "192.0.2.1",
        "src_port": 40000,
        "dest_ip": "198.51.100.5",
        "dest_port": 80,
        "proto": "TCP",
        "flow": {
            "pkts_toserver": huge,
            "pkts_toclient": huge,
            "bytes_toserver": huge,
            "bytes_toclient": huge,
            "start": "2022-07-11T10:29:32.251216+0000",
            "state": "new",
        },
    }
    small = {**flow, "flow": {**flow["flow"], "pkts_toserver": 1, "pkts_toclient": 2,
                              "bytes_toserver": 60, "bytes_toclient": 40}}  # fmt: skip
    parsed = parse(make(SuricataEveParser), [json.dumps(flow), json.dumps(small)])
    assert rejects(parsed) == []
    network = rows(parsed.other_tables["network"], "network")
    assert [(r["network_bytes"], r["network_packets"]) for r in network] == [
        (None, None),
        (100, 3),
    ]
