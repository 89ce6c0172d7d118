"""The netfilter LOG parser: real lines, every envelope, odd packets, bad lines, the framework."""

from __future__ import annotations

import datetime as dt
import gzip
import shutil
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reconwatch import schema
from reconwatch.config import Config, NetfilterConfig, SyslogConfig
from reconwatch.ingest import netfilter as nf
from reconwatch.ingest.base import REPEAT, ParseContext, Parsed
from reconwatch.ingest.netfilter import NetfilterParser
from reconwatch.ingest.run import IngestOptions, ingest
from reconwatch.lake import Lake

UTC = dt.UTC
NOW = dt.datetime(2026, 10, 5, 12, 0, tzinfo=UTC)

REASONS = {
    nf.NOT_NETFILTER,
    nf.UNKNOWN_ENVELOPE,
    nf.INVALID_TIMESTAMP,
    nf.MISSING_FIELDS,
    nf.INVALID_SOURCE,
    nf.INVALID_DESTINATION,
    nf.INVALID_PROTOCOL,
    nf.INVALID_PORT,
    nf.MISSING_PORT,
}

MAC = "MAC=de:1c:88:64:10:19:5e:e1:a4:3b:cf:f0:08:00"
IP4 = "SRC=198.51.100.7 DST=203.0.113.10 LEN=44 TOS=0x00 PREC=0x00 TTL=43 ID=25313"
SYN = "PROTO=TCP SPT=52220 DPT=80 WINDOW=1024 RES=0x00 SYN URGP=0"
#: The kv part of a plain kernel TCP SYN line.
KV = f"IN=eth0 OUT= {MAC} {IP4} {SYN}"


def kernel(kv: str = KV, prefix: str = "", stamp: str = "Sep 30 10:09:23") -> str:
    """A kernel LOG line as rsyslog writes it to kern.log."""
    return f"{stamp} fw1 kernel: [19955416.516358] {prefix}{kv}"


def utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0, us: int = 0
) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, second, us, tzinfo=UTC)


def make_parser(
    config: Config | None = None, now: dt.datetime = NOW, threads: int | None = None
) -> NetfilterParser:
    con = duckdb.connect()
    if threads is not None:
        con.execute(f"SET threads = {threads}")
    return NetfilterParser(ParseContext(config or Config(), con, "test.log", now))


def batch(lines: list[str], first: int = 1) -> pa.Table:
    return pa.table(
        {
            "log_line": pa.array(range(first, first + len(lines)), pa.int64()),
            "line": pa.array(lines, pa.string()),
        }
    )


def stored(parsed: Parsed) -> pa.Table:
    """The rows as the framework stores them (schema-conformed, timestamps in UTC)."""
    rows = parsed.rows.drop_columns([c for c in ("log_file",) if c in parsed.rows.column_names])
    rows = rows.append_column("log_file", pa.repeat(pa.scalar("test.log"), rows.num_rows))
    if "event_dataset" not in rows.column_names:
        rows = rows.append_column("event_dataset", pa.repeat(pa.scalar("netfilter"), len(rows)))
    return schema.conform(rows, schema.NETWORK)


def network(parsed: Parsed) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = stored(parsed).to_pylist()
    return result


def rejected(parsed: Parsed) -> list[tuple[int, str]]:
    return list(
        zip(
            parsed.rejects.column("log_line").to_pylist(),
            parsed.rejects.column("reason").to_pylist(),
            strict=True,
        )
    )


def accounted(parsed: Parsed, lines: int) -> bool:
    return bool(parsed.rows.num_rows + parsed.rejects.num_rows + parsed.skipped == lines)


def parse(lines: list[str], **kwargs: Any) -> Parsed:
    parsed = make_parser(**kwargs).parse(batch(lines))
    assert accounted(parsed, len(lines))
    return parsed


def one(line: str, **kwargs: Any) -> dict[str, Any]:
    parsed = parse([line], **kwargs)
    assert rejected(parsed) == []
    (row,) = network(parsed)
    return row


def reason(line: str, **kwargs: Any) -> str:
    parsed = parse([line], **kwargs)
    assert parsed.rows.num_rows == 0
    ((_, text),) = rejected(parsed)
    return text


def read_lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines()


# -- real lines (CrowdSec hub test data) ----------------------------------------------


def test_crowdsec_iptables_logs(crowdsec_hub: Path) -> None:
    lines = read_lines(crowdsec_hub / "iptables-logs" / "iptables-logs.log")
    parsed = parse(lines)
    assert len(lines) == 4
    # CrowdSec's own parser fails line 3 as well: its first key is XX=, not IN=.
    assert rejected(parsed) == [(3, nf.NOT_NETFILTER)]
    first, second, fourth = network(parsed)
    assert first == {
        "timestamp": utc(2026, 6, 8, 14, 34, 33),
        "source_ip": "195.54.160.107",
        "source_port": 8080,
        "destination_ip": "51.15.166.67",
        "destination_port": 8123,
        "network_transport": "tcp",
        "tcp_flags": "SYN",
        "ip_ttl": 245,
        "ip_id": 37308,
        "tcp_window": 1024,
        "interface_in": "enp1s0",
        "interface_out": None,
        "log_prefix": None,
        "event_action": "dropped",
        "connection_state": None,
        "connection_outcome": "failed",
        "network_bytes": None,
        "network_packets": None,
        "observer_name": "sd-126005",
        "event_dataset": "netfilter",
        "log_file": "test.log",
        "log_line": 1,
    }
    assert (second["log_line"], second["interface_in"]) == (2, "enp.1s0")
    assert fourth == {
        **first,
        "timestamp": utc(2026, 9, 27, 20, 56, 38),
        "source_ip": "127.0.0.1",
        "source_port": 49007,
        "destination_ip": "127.0.0.53",
        "destination_port": 53,
        "network_transport": "udp",
        "tcp_flags": None,
        "ip_ttl": 64,
        "ip_id": 25029,
        "tcp_window": None,
        "interface_in": "lo",
        "log_prefix": "IPTABLES-DROP:",
        "observer_name": "ubuntu-focal",
        "log_line": 4,
    }


def test_crowdsec_iptables_scan_multi_port(crowdsec_hub: Path) -> None:
    lines = read_lines(crowdsec_hub / "iptables-scan-multi-port" / "iptables-scan-multi-port.log")
    parsed = parse(lines)
    rows = network(parsed)
    assert (len(lines), len(rows), parsed.rejects.num_rows, parsed.skipped) == (49, 49, 0, 0)
    scan = [r for r in rows if r["source_ip"] == "62.34.17.168"]
    assert len(scan) == 17
    assert len({r["destination_port"] for r in scan}) == 17
    assert {(r["timestamp"], r["tcp_flags"], r["observer_name"]) for r in scan} == {
        (utc(2026, 9, 30, 10, 9, 23), "SYN", "scw-d95986")
    }
    assert rows[12] == {
        **rows[12],
        "log_line": 13,
        "destination_port": 9090,
        "ip_ttl": 45,
        "ip_id": 34532,
        "tcp_window": 1024,
    }
    # The UFW lines of the second host: TCP without a WINDOW part, so no flags.
    last = rows[-1]
    assert (last["timestamp"], last["source_ip"], last["destination_port"]) == (
        utc(2026, 10, 30, 10, 9, 23),
        "127.0.0.2",
        68,
    )
    assert (last["log_prefix"], last["event_action"], last["tcp_flags"]) == (
        "[UFW BLOCK]",
        "denied",
        None,
    )


def test_crowdsec_proxmox_firewall(crowdsec_hub: Path) -> None:
    lines = read_lines(crowdsec_hub / "proxmox-iptables-logs" / "proxmox-iptables.log")
    parsed = parse(lines)
    rows = network(parsed)
    assert (len(rows), parsed.rejects.num_rows) == (10, 0)
    first = rows[0]
    assert {k: first[k] for k in first if k not in ("log_file", "event_dataset")} == {
        "timestamp": utc(2022, 6, 20, 11, 9, 14),
        "source_ip": "10.3.94.11",
        "source_port": 49152,
        "destination_ip": "10.3.94.12",
        "destination_port": 3784,
        "network_transport": "udp",
        "tcp_flags": None,
        "ip_ttl": 255,
        "ip_id": 64317,
        "tcp_window": None,
        "interface_in": "vmbr0.94",
        "interface_out": None,
        "log_prefix": "PVEFW-HOST-IN policy DROP:",
        "event_action": "dropped",
        "connection_state": None,
        "connection_outcome": "failed",
        "network_bytes": None,
        "network_packets": None,
        "observer_name": None,
        "log_line": 1,
    }
    actions = [(r["log_prefix"], r["event_action"], r["connection_outcome"]) for r in rows]
    assert actions[1] == ("PVEFW-HOST-IN ACCEPT:", "allowed", "succeeded")
    assert actions[2] == ("PVEFW-HOST-IN REJECT:", "rejected", "failed")
    assert actions[5] == ("tap101i0-IN PVEFW-reject:", "rejected", "failed")
    # No action word in the prefix: the configured default.
    assert actions[8] == ("GROUP-security1-IN", "dropped", "failed")
    # SEQ= and ACK=0 numbers are not flags; the trailing SYN is.
    assert {r["tcp_flags"] for r in rows[1:]} == {"SYN"}
    ipv6 = rows[5]
    assert (ipv6["source_ip"], ipv6["destination_ip"], ipv6["ip_ttl"], ipv6["ip_id"]) == (
        "2a0a:1580::a",
        "2a0a:1580::17",
        64,
        None,
    )
    assert (ipv6["tcp_window"], ipv6["interface_in"], ipv6["interface_out"]) == (
        64800,
        "fwbr101i0",
        "fwbr101i0",
    )
    # pvefw-logger leaves out an empty IN=.
    assert (rows[7]["interface_in"], rows[7]["interface_out"]) == (None, "vmbr0.94")


# -- envelopes --------------------------------------------------------------------------


def test_rfc5424_envelope() -> None:
    row = one(f"<4>1 2026-09-30T10:09:23.123+02:00 fw1 kernel - - - [UFW BLOCK] {KV}")
    assert (row["timestamp"], row["observer_name"], row["log_prefix"]) == (
        utc(2026, 9, 30, 8, 9, 23, 123000),
        "fw1",
        "[UFW BLOCK]",
    )
    assert (row["source_ip"], row["destination_port"], row["event_action"]) == (
        "198.51.100.7",
        80,
        "denied",
    )


def test_rfc5424_with_structured_data_and_nil_host() -> None:
    row = one(f'<4>1 2026-09-30T10:09:23Z - kernel - - [meta sequenceId="7"] {KV}')
    assert (row["timestamp"], row["observer_name"], row["log_prefix"]) == (
        utc(2026, 9, 30, 10, 9, 23),
        None,
        None,
    )


def test_journal_short_iso_envelope() -> None:
    row = one(f"2026-09-30T10:09:23+0200 fw1 kernel: IPTABLES-DROP: {KV}")
    assert (row["timestamp"], row["observer_name"], row["log_prefix"]) == (
        utc(2026, 9, 30, 8, 9, 23),
        "fw1",
        "IPTABLES-DROP:",
    )


def test_rsyslog_high_precision_envelope() -> None:
    row = one(f"2023-03-18T20:36:59.594792+01:00 fw1 kernel: [  203.842973] DROP: {KV}")
    assert (row["timestamp"], row["log_prefix"]) == (
        utc(2023, 3, 18, 19, 36, 59, 594792),
        "DROP:",
    )


def test_pri_and_no_uptime() -> None:
    row = one(f"<4>Sep 30 10:09:23 fw1 kernel: [UFW BLOCK] {KV}")
    assert (row["timestamp"], row["log_prefix"]) == (utc(2026, 9, 30, 10, 9, 23), "[UFW BLOCK]")


def test_prefix_without_trailing_space() -> None:
    assert one(kernel(prefix="DROP"))["log_prefix"] == "DROP"


def test_configured_year_and_zone() -> None:
    config = Config(syslog=SyslogConfig(year=2020, timezone="Europe/Paris"))
    rows = network(parse([kernel(), f"2026-09-30T10:09:23Z fw1 kernel: {KV}"], config=config))
    assert [r["timestamp"] for r in rows] == [
        utc(2020, 9, 30, 8, 9, 23),
        utc(2026, 9, 30, 10, 9, 23),
    ]


def test_year_rolls_over_within_one_batch() -> None:
    parsed = parse(
        [kernel(stamp="Dec 31 23:59:59"), kernel(stamp="Jan  1 00:00:01")],
        now=dt.datetime(2026, 1, 10, tzinfo=UTC),
    )
    assert [r["timestamp"] for r in network(parsed)] == [
        utc(2025, 12, 31, 23, 59, 59),
        utc(2026, 1, 1, 0, 0, 1),
    ]


def test_year_rolls_over_across_batches() -> None:
    parser = make_parser(now=dt.datetime(2026, 1, 10, tzinfo=UTC))
    first = parser.parse(batch([kernel(stamp="Dec 31 23:59:59"), ""]))
    second = parser.parse(batch(["not a LOG line", kernel(stamp="Jan  1 00:00:01")], first=3))
    assert [r["timestamp"] for r in network(first)] == [utc(2025, 12, 31, 23, 59, 59)]
    assert [(r["log_line"], r["timestamp"]) for r in network(second)] == [
        (4, utc(2026, 1, 1, 0, 0, 1))
    ]


# -- packets ------------------------------------------------------------------------------


def test_ipv6_is_normalised() -> None:
    kv = (
        f"IN=eth0 OUT= {MAC} SRC=2001:0DB8:0000:0000:0000:0000:0000:0001 DST=2001:db8::2 "
        "LEN=80 TC=0 HOPLIMIT=57 FLOWLBL=0 PROTO=TCP SPT=40000 DPT=22 WINDOW=64800 RES=0x00 "
        "SYN URGP=0"
    )
    row = one(kernel(kv))
    assert (row["source_ip"], row["destination_ip"], row["ip_ttl"], row["ip_id"]) == (
        "2001:db8::1",
        "2001:db8::2",
        57,
        None,
    )


def test_ipv4_mapped_ipv6_is_unwrapped() -> None:
    kv = KV.replace(
        "SRC=198.51.100.7 DST=203.0.113.10", "SRC=::ffff:192.0.2.1 DST=::ffff:c633:6402"
    )
    row = one(kernel(kv))
    assert (row["source_ip"], row["destination_ip"]) == ("192.0.2.1", "198.51.100.2")


def test_icmp_has_no_ports_and_keeps_the_ip_id() -> None:
    kv = f"IN=eth0 OUT= {IP4} PROTO=ICMP TYPE=8 CODE=0 ID=4321 SEQ=1"
    row = one(kernel(kv))
    assert (row["network_transport"], row["source_port"], row["destination_port"]) == (
        "icmp",
        None,
        None,
    )
    assert (row["ip_id"], row["tcp_flags"], row["tcp_window"]) == (25313, None, None)


def test_icmp_error_reads_the_outer_packet() -> None:
    kv = (
        f"IN=eth0 OUT= {IP4} PROTO=ICMP TYPE=3 CODE=3 [SRC=203.0.113.10 DST=198.51.100.7 "
        "LEN=40 TOS=0x00 PREC=0x00 TTL=64 ID=1 PROTO=UDP SPT=53 DPT=4444 LEN=20 ]"
    )
    row = one(kernel(kv))
    assert (row["source_ip"], row["ip_ttl"], row["network_transport"]) == (
        "198.51.100.7",
        43,
        "icmp",
    )
    assert (row["source_port"], row["destination_port"]) == (None, None)


def test_icmpv6_and_numbered_and_other_protocols() -> None:
    v6 = (
        "IN=eth0 OUT= SRC=2001:db8::1 DST=2001:db8::2 LEN=104 TC=0 HOPLIMIT=64 FLOWLBL=0 "
        "PROTO=ICMPv6 TYPE=128 CODE=0 ID=1 SEQ=2"
    )
    gre = f"IN=eth0 OUT= {IP4} PROTO=47"
    sctp = f"IN=eth0 OUT= {IP4} PROTO=SCTP SPT=5000 DPT=38412"
    rows = network(parse([kernel(v6), kernel(gre), kernel(sctp)]))
    assert [(r["network_transport"], r["source_port"], r["destination_port"]) for r in rows] == [
        ("ipv6-icmp", None, None),
        ("47", None, None),
        ("sctp", 5000, 38412),
    ]
    assert rows[0]["ip_id"] is None


def test_a_later_fragment_has_no_ports() -> None:
    kv = f"IN=eth0 OUT= {IP4} MF FRAG:185 PROTO=UDP"
    row = one(kernel(kv))
    assert (row["network_transport"], row["source_port"], row["destination_port"]) == (
        "udp",
        None,
        None,
    )


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        ("SYN ", "SYN"),
        ("", ""),
        ("URG PSH FIN ", "URG PSH FIN"),
        ("CWR ECE URG ACK PSH RST SYN FIN ", "CWR ECE URG ACK PSH RST SYN FIN"),
        ("ACK RST ", "ACK RST"),
    ],
)
def test_kernel_tcp_flags(flags: str, expected: str) -> None:
    kv = f"IN=eth0 OUT= {IP4} DF PROTO=TCP SPT=1 DPT=2 WINDOW=0 RES=0x00 {flags}URGP=0"
    assert one(kernel(kv))["tcp_flags"] == expected


def test_flags_in_another_order_and_seq_ack_numbers() -> None:
    kv = f"IN=eth0 OUT= {IP4} PROTO=TCP SPT=1 DPT=2 SEQ=2853565861 ACK=0 WINDOW=64240 SYN ACK"
    row = one(kernel(kv))
    assert (row["tcp_flags"], row["tcp_window"]) == ("ACK SYN", 64240)


@pytest.mark.parametrize(
    ("prefix", "action", "outcome"),
    [
        ("[UFW BLOCK] ", "denied", "failed"),
        ("[UFW AUDIT] ", "allowed", "succeeded"),
        ("[UFW ALLOW] ", "allowed", "succeeded"),
        ("[UFW LIMIT BLOCK] ", "denied", "failed"),
        ("IPTABLES-REJECT: ", "rejected", "failed"),
        ("nft-accept ", "allowed", "succeeded"),
        ("", "dropped", "failed"),
        ("portscan: ", "dropped", "failed"),
    ],
)
def test_action_from_prefix(prefix: str, action: str, outcome: str) -> None:
    row = one(kernel(prefix=prefix))
    assert (row["event_action"], row["connection_outcome"]) == (action, outcome)


def test_action_words_come_from_config() -> None:
    config = Config(
        netfilter=NetfilterConfig(
            prefix_actions={"PERMIT": "allowed", "it's": "rejected"}, default_action="denied"
        )
    )
    rows = network(
        parse(
            [kernel(prefix="permit-in: "), kernel(prefix="It's bad: "), kernel(prefix="DROP ")],
            config=config,
        )
    )
    assert [r["event_action"] for r in rows] == ["allowed", "rejected", "denied"]


def test_interfaces() -> None:
    row = one(kernel(KV.replace("IN=eth0 OUT=", "IN= OUT=wg0")))
    assert (row["interface_in"], row["interface_out"]) == (None, "wg0")
    forwarded = one(kernel(KV.replace("IN=eth0 OUT=", "IN=eth0 OUT=eth1 PHYSIN=veth1")))
    assert (forwarded["interface_in"], forwarded["interface_out"]) == ("eth0", "eth1")


# -- lines that are not rows ----------------------------------------------------------------


def test_blank_lines_are_skipped() -> None:
    parsed = parse(["", "   ", "\t", kernel()])
    assert (parsed.rows.num_rows, parsed.rejects.num_rows, parsed.skipped) == (1, 0, 3)


def test_other_programs_in_the_same_file_are_rejected() -> None:
    lines = [
        "Sep 30 10:09:24 fw1 sshd[1234]: Failed password for root from 198.51.100.7 port 4242",
        "Sep 30 10:09:25 fw1 sudo: pam_unix(sudo:session): session opened for user root(uid=0)",
        kernel(),
    ]
    parsed = parse(lines)
    assert rejected(parsed) == [(1, nf.NOT_NETFILTER), (2, nf.NOT_NETFILTER)]
    assert parsed.rejects.column("raw").to_pylist() == lines[:2]


SRC = "SRC=198.51.100.7"


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("garbage", nf.NOT_NETFILTER),
        (kernel(KV.replace("IN=", "XX=")), nf.NOT_NETFILTER),
        (kernel(prefix="A" * 300 + " "), nf.NOT_NETFILTER),
        ("Sep 30 10:09:23 fw1 kernel: " + "x" * 100_000, nf.NOT_NETFILTER),
        (f"[19955416.516358] {KV}", nf.UNKNOWN_ENVELOPE),
        (f"Sep 30 2026 10:09:23 fw1 kernel: {KV}", nf.UNKNOWN_ENVELOPE),
        (kernel(stamp="Feb 30 10:09:23"), nf.INVALID_TIMESTAMP),
        (kernel(stamp="Sep 30 24:09:23"), nf.INVALID_TIMESTAMP),
        (f"<4>1 - fw1 kernel - - - {KV}", nf.INVALID_TIMESTAMP),
        # Cut short in DST=: PROTO is lost too, and a missing field comes first.
        (kernel(KV[: KV.index("DST=") + 9]), nf.MISSING_FIELDS),
        (kernel(KV.replace("DST=203.0.113.10", "DST=203.0")), nf.INVALID_DESTINATION),
        (kernel(KV[: KV.index("PROTO=")]), nf.MISSING_FIELDS),
        (kernel(KV[: KV.index("SRC=")]), nf.MISSING_FIELDS),
        (kernel(KV.replace(SRC, "SRC=999.1.1.1")), nf.INVALID_SOURCE),
        (kernel(KV.replace(SRC, "SRC=198.51.\ufffd.7")), nf.INVALID_SOURCE),
        (kernel(KV.replace(SRC, "SRC=")), nf.MISSING_FIELDS),
        (kernel(KV.replace("DST=203.0.113.10", "DST=::ffff:1.2.3")), nf.INVALID_DESTINATION),
        (kernel(KV.replace("DPT=80", "DPT=70000")), nf.INVALID_PORT),
        (kernel(KV.replace("DPT=80", "DPT=http")), nf.INVALID_PORT),
        (kernel(KV.replace("SPT=52220", "SPT=-1")), nf.INVALID_PORT),
        (kernel(KV[: KV.index(" DPT=")]), nf.MISSING_PORT),
        (kernel(KV.replace("PROTO=TCP", "PROTO=T$P")), nf.INVALID_PROTOCOL),
        (kernel(KV.replace("PROTO=TCP", "PROTO=300")), nf.INVALID_PROTOCOL),
    ],
)
def test_rejects_with_a_reason(line: str, expected: str) -> None:
    assert reason(line) == expected


def test_a_long_tail_does_not_hide_the_fields() -> None:
    row = one(kernel(KV + " X=y" * 25_000))
    assert (row["source_ip"], row["destination_port"], row["tcp_flags"]) == (
        "198.51.100.7",
        80,
        "SYN",
    )


def test_invalid_utf8_in_a_file_is_rejected_not_fatal(tmp_path: Path) -> None:
    path = tmp_path / "kern.log"
    good = kernel().encode()
    broken = kernel(KV.replace(SRC, "SRC=198.51.100.7\xff")).encode("latin-1")
    path.write_bytes(good + b"\n" + broken + b"\n\xff\xfe\xfd\n")
    run = ingest([str(path)], Lake(tmp_path / "lake"), Config(), IngestOptions(now=NOW))
    (stats,) = run.files
    assert (stats.format, stats.lines, stats.parsed, stats.rejected) == ("netfilter", 3, 1, 2)
    assert stats.reject_reasons == {nf.INVALID_SOURCE: 1, nf.NOT_NETFILTER: 1}


NETFILTERISH = st.sampled_from(
    [
        kernel(),
        kernel(prefix="[UFW BLOCK] "),
        "0 3 PVEFW-HOST-IN 20/Jun/2022:13:09:14 +0200 policy DROP: IN=vmbr0 ",
        "<4>1 2026-09-30T10:09:23Z h kernel - - - IN=",
        "2026-09-30T10:09:23+0200 h kernel: ",
        "Dec 31 23:59:59 h kernel: ",
        " SRC=",
        " DST=",
        " PROTO=",
        " SPT=",
        " DPT=",
        " WINDOW=",
        "ICMPv6",
        "=",
        "[",
        "]",
        "'",
        "\\",
        "\x00",
        "\ufffd",
    ]
)
LINES = st.lists(
    st.one_of(
        st.text(max_size=80),
        st.lists(st.one_of(NETFILTERISH, st.text(max_size=8)), max_size=8).map("".join),
    ),
    max_size=30,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(LINES)
def test_any_text_is_accounted_for_and_never_raises(lines: list[str]) -> None:
    parsed = make_parser().parse(batch(lines))
    assert accounted(parsed, len(lines))
    reasons = parsed.rejects.column("reason").to_pylist()
    assert set(reasons) <= REASONS
    row_lines = set(parsed.rows.column("log_line").to_pylist())
    reject_lines = set(parsed.rejects.column("log_line").to_pylist())
    assert not row_lines & reject_lines
    assert len(row_lines) + len(reject_lines) == len(lines) - parsed.skipped
    assert stored(parsed).num_rows == parsed.rows.num_rows


# -- big batches run in slices side by side -------------------------------------------------


def test_a_big_batch_gives_the_same_result_in_slices() -> None:
    lines = []
    for i in range(40_000):
        stamp = "Dec 31 23:59:59" if i < 25_000 else "Jan  1 00:00:01"
        if i % 1000 == 7:
            lines.append("")
        elif i % 1000 == 9:
            lines.append(kernel(KV.replace("DPT=80", "DPT=99999"), stamp=stamp))
        else:
            lines.append(kernel(KV.replace("DPT=80", f"DPT={i % 65536}"), stamp=stamp))
    now = dt.datetime(2026, 1, 10, tzinfo=UTC)
    sliced = make_parser(now=now, threads=4).parse(batch(lines))
    whole = make_parser(now=now, threads=1).parse(batch(lines))
    assert accounted(sliced, len(lines))
    assert sliced.rows.equals(whole.rows)
    assert sliced.rejects.equals(whole.rejects)
    assert (sliced.rows.num_rows, sliced.rejects.num_rows, sliced.skipped) == (39_920, 40, 40)
    rows = network(sliced)
    assert rows[0]["timestamp"] == utc(2025, 12, 31, 23, 59, 59)
    assert rows[-1]["timestamp"] == utc(2026, 1, 1, 0, 0, 1)
    assert [r["log_line"] for r in rows] == sorted(r["log_line"] for r in rows)


# -- rsyslog's "message repeated N times" ------------------------------------------------------


def repeated(count: int, inner: str, close: str = "]", stamp: str = "Sep 30 10:09:24") -> str:
    """rsyslog's line for ``count`` lines identical to ``inner`` ($RepeatedMsgReduction)."""
    return f"{stamp} fw1 kernel: message repeated {count} times: [ {inner}{close}"


REPEAT_LINES = [
    kernel(prefix="[UFW BLOCK] "),
    repeated(2, f"[19955416.516358] [UFW BLOCK] {KV} "),  # the kernel's trailing space kept
    repeated(3, f"[UFW BLOCK] {KV}"),
    repeated(2, f"[UFW BLOCK] {KV}", close=""),  # no closing bracket: not rsyslog's line
    f"<13>1 2026-09-30T10:09:26Z fw1 kernel - - - message repeated 4 times: [ [UFW BLOCK] {KV}]",
    repeated(5, f"OUT=eth1 {MAC} {IP4} {SYN}"),  # no prefix at all
]


def test_a_repeated_packet_is_read_inside_the_wrapper_with_its_count() -> None:
    """The wrapper was read as the log prefix ("message repeated 2 times: [ ...")
    and the line as one packet: the prefix is the kernel's, and the row stands
    for the count the line gives (the framework writes it that many times)."""
    parsed = parse(REPEAT_LINES, threads=1)
    assert rejected(parsed) == []
    assert parsed.rows.column(REPEAT).to_pylist() == [None, 2, 3, None, 4, 5]
    out = network(parsed)
    assert [r["log_prefix"] for r in out] == [
        "[UFW BLOCK]", "[UFW BLOCK]", "[UFW BLOCK]",
        "message repeated 2 times: [ [UFW BLOCK]", "[UFW BLOCK]", None,
    ]  # fmt: skip
    assert [(r["interface_in"], r["interface_out"]) for r in out] == [("eth0", None)] * 5 + [
        (None, "eth1")
    ]
    for row in out:
        assert (row["source_ip"], row["destination_port"], row["tcp_flags"]) == (
            "198.51.100.7", 80, "SYN",
        )  # fmt: skip
    assert out[4]["timestamp"] == utc(2026, 9, 30, 10, 9, 26)


def test_a_repeat_line_in_one_slice_of_a_big_batch() -> None:
    """Slices side by side: only the slice holding the repeat line has a count."""
    lines = [kernel()] * 20_000 + [repeated(7, f"{KV} ")] + [kernel()] * 20_000
    sliced = make_parser(threads=2).parse(batch(lines))
    whole = make_parser(threads=1).parse(batch(lines))
    assert sliced.rows.equals(whole.rows)
    counts = sliced.rows.column(REPEAT).to_pylist()
    assert counts[20_000] == 7 and counts.count(None) == 40_000
    assert network(sliced)[20_000]["log_prefix"] is None


def test_lines_without_repeats_carry_no_count_column() -> None:
    assert REPEAT not in parse([kernel(), kernel(prefix="[UFW BLOCK] ")]).rows.column_names


def test_repeated_packets_are_stored_once_per_packet(tmp_path: Path) -> None:
    path = tmp_path / "kern.log"
    path.write_text("\n".join(REPEAT_LINES) + "\n", encoding="utf-8")
    lake = Lake(tmp_path / "lake")
    (stats,) = ingest([str(path)], lake, Config(), IngestOptions(now=NOW)).files
    assert (stats.lines, stats.parsed, stats.rejected, stats.repeated) == (6, 6, 0, 1 + 2 + 3 + 4)
    per_line = [r["log_line"] for r in lake.read("network").to_pylist()]
    assert sorted(per_line) == [1, 2, 2, 3, 3, 3, 4, 5, 5, 5, 5, 6, 6, 6, 6, 6]


# -- sniffing ----------------------------------------------------------------------------------


def test_sniff(crowdsec_hub: Path) -> None:
    for name in (
        "iptables-logs/iptables-logs.log",
        "iptables-scan-multi-port/iptables-scan-multi-port.log",
        "proxmox-iptables-logs/proxmox-iptables.log",
    ):
        assert NetfilterParser.sniff(read_lines(crowdsec_hub / name))
    ssh = read_lines(crowdsec_hub / "sshd-logs" / next(iter(_logs(crowdsec_hub / "sshd-logs"))))
    assert not NetfilterParser.sniff(ssh)
    assert NetfilterParser.sniff(["Sep 30 10:09:24 fw1 sshd[1]: hello", kernel()])
    assert not NetfilterParser.sniff([])
    assert not NetfilterParser.sniff(["#separator \\x09", "#fields\tts\tuid", "SRC= " * 20_000])
    assert not NetfilterParser.sniff([None, 42])  # type: ignore[list-item]


def _logs(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.suffix == ".log")


# -- through the framework ---------------------------------------------------------------------


def test_ingest_sniffs_counts_and_stores(tmp_path: Path, crowdsec_hub: Path) -> None:
    path = tmp_path / "kern.log"
    lines = read_lines(crowdsec_hub / "iptables-logs" / "iptables-logs.log")
    # Another kernel message: same program, so the netfilter parser reads the
    # file (mixed-program files go to the syslog multiplexer instead).
    ssh = "Jun  8 14:35:00 sd-126005 kernel: [50028500.1] usb 1-1: new high-speed USB device"
    path.write_text("\n".join([*lines[:2], "", ssh, *lines[2:]]) + "\n", encoding="utf-8")
    lake = Lake(tmp_path / "lake")
    run = ingest([str(path)], lake, Config(), IngestOptions(now=NOW))
    (stats,) = run.files
    assert (stats.format, stats.lines, stats.parsed, stats.rejected, stats.skipped) == (
        "netfilter",
        6,
        3,
        2,
        1,
    )
    assert stats.reject_reasons == {nf.NOT_NETFILTER: 2}
    stored = lake.read("network").sort_by("log_line").to_pylist()
    assert [(r["log_line"], r["source_ip"], r["event_dataset"]) for r in stored] == [
        (1, "195.54.160.107", "netfilter"),
        (2, "195.54.160.107", "netfilter"),
        (6, "127.0.0.1", "netfilter"),
    ]
    assert stored[0]["timestamp"] == utc(2026, 6, 8, 14, 34, 33)
    assert stored[0]["log_file"] == str(path)
    rejects = lake.read("rejects").sort_by("log_line").to_pylist()
    assert [(r["log_line"], r["reason"], r["raw"]) for r in rejects] == [
        (4, nf.NOT_NETFILTER, ssh),
        (5, nf.NOT_NETFILTER, lines[2]),
    ]


def test_ingest_gzip(tmp_path: Path, crowdsec_hub: Path) -> None:
    source = crowdsec_hub / "proxmox-iptables-logs" / "proxmox-iptables.log"
    path = tmp_path / "pve-firewall.log.1.gz"
    with source.open("rb") as raw, gzip.open(path, "wb") as packed:
        shutil.copyfileobj(raw, packed)
    lake = Lake(tmp_path / "lake")
    run = ingest([str(path)], lake, Config(), IngestOptions(now=NOW))
    (stats,) = run.files
    assert (stats.format, stats.lines, stats.parsed, stats.rejected, stats.error) == (
        "netfilter",
        10,
        10,
        0,
        None,
    )
    assert run.totals.parsed == 10
    stored = lake.read("network")
    assert sorted(set(stored.column("source_ip").to_pylist())) == [
        "10.3.94.11",
        "10.3.94.12",
        "10.3.95.200",
        "10.3.95.34",
        "2a0a:1580::a",
    ]
