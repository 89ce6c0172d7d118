"""The sample generator: exact formats, determinism, and every actor as promised.

The parsers and detections are tested against these files, so the files are
tested against the real formats first: every kern.log line must match the
kernel's LOG layout field for field (the same pattern accepts the real
CrowdSec hub lines), every conn.log line must have Zeek's 21 fields, and each
actor must have exactly the properties its ground truth claims.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import ipaddress
import re
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from reconwatch.config import load_config
from reconwatch.generate import (
    DEFAULT_START,
    FIREWALL_LOG,
    MIN_SAMPLE_SIZE,
    ZEEK_CONN_LOG,
    GroundTruth,
    generate_sample,
    write_netfilter_lines,
)
from reconwatch.generate import addresses as gaddr
from reconwatch.generate.site import DEFAULT_SITE

# --- the kernel's LOG format (net/netfilter/nf_log_syslog.c) -----------------

_V4 = r"\d{1,3}(?:\.\d{1,3}){3}"
_V6 = r"[0-9a-f]{4}(?::[0-9a-f]{4}){7}"  # %pI6: always eight 4-digit groups
_IP4 = (
    r"LEN=(?P<len>\d+) TOS=0x(?P<tos>[0-9A-F]{2}) PREC=0x(?P<prec>[0-9A-F]{2}) "
    r"TTL=(?P<ttl>\d+) ID=(?P<id>\d+) (?P<frag>(?:CE )?(?:DF )?(?:MF )?)"
)
_IP6 = r"LEN=(?P<len>\d+) TC=(?P<tc>\d+) HOPLIMIT=(?P<ttl>\d+) FLOWLBL=(?P<flowlbl>\d+) "
_L4 = (
    r"(?:PROTO=(?P<proto>TCP) SPT=(?P<spt>\d+) DPT=(?P<dpt>\d+) WINDOW=(?P<window>\d+) "
    r"RES=0x(?P<res>[0-9a-f]{2}) "
    r"(?P<flags>(?:CWR )?(?:ECE )?(?:URG )?(?:ACK )?(?:PSH )?(?:RST )?(?:SYN )?(?:FIN )?)"
    r"URGP=(?P<urgp>\d+) "
    r"|PROTO=(?P<uproto>UDP) SPT=(?P<uspt>\d+) DPT=(?P<udpt>\d+) LEN=(?P<ulen>\d+) "
    r"|PROTO=(?P<iproto>ICMP|ICMPv6) TYPE=(?P<type>\d+) CODE=(?P<code>\d+) "
    r"(?:ID=(?P<echo_id>\d+) SEQ=(?P<seq>\d+) )?)"
)
# The key=value part, for any interface and MAC; the kernel ends it with a space.
KV4 = re.compile(
    rf"IN=(?P<in>\S*) OUT=(?P<out>\S*) MAC=(?P<mac>[0-9a-f]{{2}}(?::[0-9a-f]{{2}})*) "
    rf"SRC=(?P<src>{_V4}) DST=(?P<dst>{_V4}) {_IP4}{_L4}$"
)
KV6 = re.compile(
    rf"IN=(?P<in>\S*) OUT=(?P<out>\S*) MAC=(?P<mac>[0-9a-f]{{2}}(?::[0-9a-f]{{2}})*) "
    rf"SRC=(?P<src>{_V6}) DST=(?P<dst>{_V6}) {_IP6}{_L4}$"
)
# The whole kern.log line of our firewall.
SYSLOG = re.compile(
    r"^(?P<month>Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) (?P<day>[ 123]\d) "
    r"(?P<time>\d\d:\d\d:\d\d) fw1 kernel: \[(?P<up>[ \d]{5,}\.\d{6})\] "
    r"(?P<prefix>RW-DROP|RW-ACCEPT): (?P<kv>IN=.*)$"
)
FLAG_ORDER = ("CWR", "ECE", "URG", "ACK", "PSH", "RST", "SYN", "FIN")


@dataclass(frozen=True)
class Line:
    """One parsed kern.log line (only what the assertions need)."""

    number: int
    ts: float  # seconds since the epoch, from the kernel uptime stamp
    stamp: str
    prefix: str
    src: str  # canonical text
    dst: str
    proto: str
    dport: int | None
    flags: str | None
    out: str
    fields: dict[str, str | None]


def parse_kern_log(path: Path, start: dt.datetime = DEFAULT_START) -> list[Line]:
    """Parse every line strictly; any line that does not match fails the test."""
    up0 = DEFAULT_SITE.uptime_at_start
    lines = []
    for number, raw in enumerate(path.read_text(encoding="ascii").split("\n"), start=1):
        if raw == "" and number > 1:
            continue
        head = SYSLOG.match(raw)
        assert head, f"line {number} is not a kern.log netfilter line: {raw!r}"
        kv = KV4.match(head["kv"]) or KV6.match(head["kv"])
        assert kv, f"line {number}: key=value part off the kernel's format: {raw!r}"
        fields = kv.groupdict()
        proto = fields["proto"] or fields["uproto"] or fields["iproto"]
        assert proto is not None
        dport = fields["dpt"] or fields["udpt"]
        ts = start.timestamp() + float(head["up"]) - up0
        lines.append(
            Line(
                number=number,
                ts=ts,
                stamp=f"{head['month']} {head['day']} {head['time']}",
                prefix=head["prefix"],
                src=str(ipaddress.ip_address(fields["src"])),
                dst=str(ipaddress.ip_address(fields["dst"])),
                proto=proto,
                dport=int(dport) if dport is not None else None,
                flags=fields["flags"].strip() if fields["flags"] is not None else None,
                out=fields["out"] or "",
                fields=fields,
            )
        )
    return lines


ZEEK_HEADER = [
    "#separator \\x09",
    "#set_separator\t,",
    "#empty_field\t(empty)",
    "#unset_field\t-",
    "#path\tconn",
    "#open\t2026-09-30-00-00-00",
    "#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\tservice\tduration"
    "\torig_bytes\tresp_bytes\tconn_state\tlocal_orig\tlocal_resp\tmissed_bytes\thistory"
    "\torig_pkts\torig_ip_bytes\tresp_pkts\tresp_ip_bytes\ttunnel_parents",
    "#types\ttime\tstring\taddr\tport\taddr\tport\tenum\tstring\tinterval\tcount\tcount"
    "\tstring\tbool\tbool\tcount\tstring\tcount\tcount\tcount\tcount\tset[string]",
]
ZEEK_STATES = {"S0", "S1", "SF", "REJ", "S2", "S3", "RSTO", "RSTR", "RSTOS0", "RSTRH", "SH", "SHR"}
ZEEK_STATES |= {"OTH"}
FAILED_STATES = {"S0", "REJ", "RSTO", "RSTR", "RSTOS0", "RSTRH", "SH", "SHR"}


def parse_conn_log(path: Path) -> list[list[str]]:
    rows = []
    for raw in path.read_text(encoding="ascii").splitlines():
        if raw.startswith("#"):
            continue
        rows.append(raw.split("\t"))
    return rows


# --- fixtures ----------------------------------------------------------------


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, GroundTruth]:
    out = tmp_path_factory.mktemp("sample")
    return out, generate_sample(out)


@pytest.fixture(scope="module")
def kern(sample: tuple[Path, GroundTruth]) -> list[Line]:
    return parse_kern_log(sample[0] / FIREWALL_LOG)


@pytest.fixture(scope="module")
def conns(sample: tuple[Path, GroundTruth]) -> list[list[str]]:
    return parse_conn_log(sample[0] / ZEEK_CONN_LOG)


def by_source(lines: list[Line], src: str) -> list[Line]:
    return [line for line in lines if line.src == src]


# --- determinism and counts --------------------------------------------------


def test_same_seed_gives_byte_identical_files(
    sample: tuple[Path, GroundTruth], tmp_path: Path
) -> None:
    generate_sample(tmp_path)
    for name in (FIREWALL_LOG, ZEEK_CONN_LOG, "reconwatch.yaml", "truth.json"):
        assert (tmp_path / name).read_bytes() == (sample[0] / name).read_bytes(), name


#: SHA-256 of the default sample (seed 7, 20,000 lines), unchanged since before the
#: DNS/web/IDS/auth families existed: the network-only default must stay byte for
#: byte what the hunt tests and the benchmarks were written against.
PINNED_DIGESTS = {
    FIREWALL_LOG: "6f71dbd95105ff883d99d8d7a159ad88470326df31bcfafa0dd893953f8b43c4",
    ZEEK_CONN_LOG: "ddf524b8fd859ef9e9178a14bad20b216a2f1828de6b7e7a4188c62b8829ece6",
    "truth.json": "b6ceaebc094fbf2bb0284d81b4149fb9220f8b6a950920f8de6f2149dd43f306",
}


def test_default_sample_is_pinned(sample: tuple[Path, GroundTruth]) -> None:
    for name, digest in PINNED_DIGESTS.items():
        assert hashlib.sha256((sample[0] / name).read_bytes()).hexdigest() == digest, name


def test_another_seed_gives_another_sample(
    sample: tuple[Path, GroundTruth], tmp_path: Path
) -> None:
    truth = generate_sample(tmp_path, seed=8)
    assert (tmp_path / FIREWALL_LOG).read_bytes() != (sample[0] / FIREWALL_LOG).read_bytes()
    assert truth.size == 20000
    assert sum(truth.files.values()) == 20000


def test_line_counts_are_exact(sample: tuple[Path, GroundTruth]) -> None:
    out, truth = sample
    kern_lines = (out / FIREWALL_LOG).read_text().split("\n")
    assert kern_lines[-1] == ""  # every line ends in a newline
    zeek_lines = (out / ZEEK_CONN_LOG).read_text().split("\n")
    assert zeek_lines[-1] == ""
    assert truth.files == {FIREWALL_LOG: len(kern_lines) - 1, ZEEK_CONN_LOG: len(zeek_lines) - 10}
    assert sum(truth.files.values()) == 20000
    assert sorted(p.name for p in out.iterdir()) == [
        "firewall",
        "reconwatch.yaml",
        "truth.json",
        "zeek",
    ]


def test_size_is_exact_for_other_sizes(tmp_path: Path) -> None:
    truth = generate_sample(tmp_path, size=5003, seed=3)
    assert sum(truth.files.values()) == 5003
    kern = (tmp_path / FIREWALL_LOG).read_text().count("\n")
    zeek = sum(1 for x in (tmp_path / ZEEK_CONN_LOG).read_text().splitlines() if x[0] != "#")
    assert (kern, zeek) == (truth.files[FIREWALL_LOG], truth.files[ZEEK_CONN_LOG])


def test_too_small_a_size_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="at least 2000"):
        generate_sample(tmp_path, size=MIN_SAMPLE_SIZE - 1)


def test_the_smallest_size_still_holds_every_actor(tmp_path: Path) -> None:
    truth = generate_sample(tmp_path, size=MIN_SAMPLE_SIZE)
    actor_lines = sum(sum(a.lines.values()) for a in truth.actors)
    assert actor_lines == 1267 < MIN_SAMPLE_SIZE
    assert sum(truth.files.values()) == MIN_SAMPLE_SIZE


# --- kern.log format ---------------------------------------------------------


def test_every_netfilter_line_has_the_kernel_format(kern: list[Line]) -> None:
    assert len(kern) == 11305
    protos = {(line.proto, ":" in line.src) for line in kern}
    assert protos == {
        ("TCP", False),
        ("UDP", False),
        ("ICMP", False),
        ("TCP", True),
        ("UDP", True),
        ("ICMPv6", True),
    }
    for line in kern:
        f = line.fields
        six = ":" in line.src
        assert f["in"] == "eth0"
        assert f["mac"] == "52:54:00:1f:0a:01:00:1b:21:3c:9d:f8:" + ("86:dd" if six else "08:00")
        # Packets for the firewall itself are logged in INPUT, the rest in FORWARD.
        assert line.out == ("" if line.dst in ("203.0.113.1", "2001:db8:100::1") else "eth1")
        assert int(f["ttl"] or 0) <= 255
        if line.proto == "TCP":
            assert line.flags is not None
            assert 0 < int(f["spt"] or 0) <= 65535 and 0 < (line.dport or 0) <= 65535
            assert f["res"] == "00" and f["urgp"] == "0"
        if line.proto == "UDP":
            header = 40 if six else 20
            assert int(f["ulen"] or 0) == int(f["len"] or 0) - header
        if line.proto in ("ICMP", "ICMPv6"):
            echo = f["type"] in ("8", "0", "128", "129")
            assert (f["echo_id"] is not None) == echo
        if not six:
            assert int(f["tos"] or "0", 16) & ~0x1E == 0
            assert int(f["prec"] or "0", 16) & ~0xE0 == 0


def test_accepts_are_new_connections_to_public_servers(kern: list[Line]) -> None:
    services = {"203.0.113.10": {80, 443}, "2001:db8:100::10": {80, 443}, "203.0.113.25": {25}}
    accepts = [line for line in kern if line.prefix == "RW-ACCEPT"]
    assert len(accepts) > 3000
    for line in accepts:
        assert line.proto == "TCP" and line.flags == "SYN"
        assert line.dport in services[line.dst]


def test_timestamps_ascend_and_syslog_stamp_matches_kernel_clock(kern: list[Line]) -> None:
    stamps = [line.ts for line in kern]
    assert stamps == sorted(stamps)
    assert stamps[0] >= DEFAULT_START.timestamp()
    assert stamps[-1] < DEFAULT_START.timestamp() + 7200
    for line in kern[:: max(1, len(kern) // 500)]:
        t = dt.datetime.fromtimestamp(int(line.ts), dt.UTC)
        assert line.stamp == f"{t:%b} {t.day:>2} {t:%H:%M:%S}"


def test_our_pattern_accepts_the_real_kernel_lines(crowdsec_hub: Path) -> None:
    """The hub's kernel-stamped lines (its UFW lines are hand-edited: TCP with a
    UDP length, which no kernel prints, and its ``XX=`` line is a parser trap)."""
    real = [
        *(crowdsec_hub / "iptables-scan-multi-port" / "iptables-scan-multi-port.log")
        .read_text()
        .splitlines(),
        *(crowdsec_hub / "iptables-logs" / "iptables-logs.log").read_text().splitlines(),
    ]
    stamped = re.compile(r"kernel: \[ *\d+\.\d{6}\] (?:[A-Z-]+: )?IN=")
    lines = [x for x in real if stamped.search(x)]
    assert len(lines) == 20
    for raw in lines:
        kv = raw[raw.index("IN=") :]
        # The hub's TCP samples lost the kernel's trailing space; its UDP one kept it.
        assert KV4.match(kv if kv.endswith(" ") else kv + " "), raw


def test_ipv6_lines_use_the_kernels_expanded_addresses(sample: tuple[Path, GroundTruth]) -> None:
    text = (sample[0] / FIREWALL_LOG).read_text()
    assert "SRC=2001:0db8:ffff:0007:0000:0000:0000:0066 DST=2001:0db8:0100:" in text
    assert re.search(r"LEN=64 TC=0 HOPLIMIT=\d+ FLOWLBL=0 PROTO=TCP SPT=\d+ DPT=\d+ ", text)


def test_flag_names_print_in_kernel_order(kern: list[Line]) -> None:
    seen = {line.flags for line in kern if line.flags is not None}
    assert seen == {"SYN", "ACK", "FIN", "", "URG PSH FIN"}
    for flags in seen:
        names = flags.split()
        assert names == sorted(names, key=FLAG_ORDER.index)


# --- conn.log format ---------------------------------------------------------


def test_zeek_header_and_fields(sample: tuple[Path, GroundTruth], conns: list[list[str]]) -> None:
    text = (sample[0] / ZEEK_CONN_LOG).read_text().splitlines()
    assert text[:8] == ZEEK_HEADER
    assert text[-1] == "#close\t2026-09-30-02-00-00"
    assert sum(1 for x in text if x.startswith("#")) == 9
    assert len(conns) == 8695
    uid = re.compile(r"^C[0-9A-Za-z]{17}$")
    stamp = re.compile(r"^\d{10}\.\d{6}$")
    last = 0.0
    for row in conns:
        assert len(row) == 21, row
        assert stamp.match(row[0]) and float(row[0]) >= last
        last = float(row[0])
        assert uid.match(row[1])
        for addr in (row[2], row[4]):
            assert str(ipaddress.ip_address(addr)) == addr  # compressed, canonical
        assert 0 <= int(row[3]) <= 65535 and 0 <= int(row[5]) <= 65535
        assert row[6] in ("tcp", "udp", "icmp")
        assert row[8] == "-" or re.match(r"^\d+\.\d{6}$", row[8])
        assert row[11] in ZEEK_STATES
        assert row[12] in ("T", "F") and row[13] in ("T", "F")
        assert row[14] == "0"
        assert all(x.isdigit() for x in row[16:20])
        assert row[20] == "-"
    assert len({row[1] for row in conns}) == len(conns)


def test_zeek_local_flags_follow_the_home_networks(conns: list[list[str]]) -> None:
    home = [ipaddress.ip_network(n) for n in DEFAULT_SITE.home_networks]

    def local(addr: str) -> str:
        a = ipaddress.ip_address(addr)
        return "T" if any(a.version == n.version and a in n for n in home) else "F"

    for row in conns:
        assert (row[12], row[13]) == (local(row[2]), local(row[4])), row


# --- actors ------------------------------------------------------------------

EXPECTED_ACTORS = [
    ("198.51.100.23", "vertical_scanner", ("vertical_scan",), True, False),
    ("198.51.100.77", "horizontal_sweep", ("horizontal_scan", "trw_scan"), True, False),
    ("192.0.2.45", "block_scanner", ("block_scan", "trw_scan"), False, False),
    ("192.0.2.99", "flag_scanner", ("flag_scan",), False, False),
    ("10.20.30.40", "internal_scanner", ("horizontal_scan", "trw_scan"), True, True),
    ("198.51.100.150", "slow_scanner", ("trw_scan",), False, False),
    ("2001:db8:ffff:7::66", "ipv6_scanner", ("vertical_scan",), False, False),
    ("192.0.2.200", "benign_client", (), False, False),
]


def test_ground_truth_lists_every_actor(sample: tuple[Path, GroundTruth]) -> None:
    truth = sample[1]
    got = [(a.address, a.kind, a.expected_detections, a.escalate, a.internal) for a in truth.actors]
    assert got == EXPECTED_ACTORS
    assert truth.expected("trw_scan") == (
        "198.51.100.77",
        "192.0.2.45",
        "10.20.30.40",
        "198.51.100.150",
    )
    assert truth.escalated == ("198.51.100.23", "198.51.100.77", "10.20.30.40")


def test_actor_line_counts_match_the_logs(
    sample: tuple[Path, GroundTruth], kern: list[Line], conns: list[list[str]]
) -> None:
    for actor in sample[1].actors:
        assert actor.lines[FIREWALL_LOG] == len(by_source(kern, actor.address)), actor.address
        zeek = sum(1 for row in conns if row[2] == actor.address)
        assert actor.lines[ZEEK_CONN_LOG] == zeek, actor.address


def window(ts: float) -> int:
    return int(ts // 300)


def test_vertical_scanner_hits_100_ports_in_a_minute_twice(kern: list[Line]) -> None:
    lines = [x for x in by_source(kern, "198.51.100.23") if x.proto == "TCP"]
    assert {x.dst for x in lines} == {"203.0.113.10"}
    runs: list[list[Line]] = [[lines[0]]]
    for x in lines[1:]:
        if x.ts - runs[-1][0].ts > 600:
            runs.append([x])
        else:
            runs[-1].append(x)
    assert len(runs) == 2
    assert runs[1][0].ts - runs[0][0].ts == pytest.approx(3605, abs=10)
    for run in runs:
        assert run[-1].ts - run[0].ts < 60
        assert len({x.dport for x in run}) == 100
        dropped = {x.dport for x in run if x.prefix == "RW-DROP" and x.flags == "SYN"}
        assert len(dropped) == 98
        assert len({window(x.ts) for x in run}) == 1
        assert {x.fields["window"] for x in run} == {"1024"}
        assert {x.fields["len"] for x in run if x.flags == "SYN"} == {"44"}


def test_horizontal_sweep_covers_the_public_range(kern: list[Line]) -> None:
    lines = by_source(kern, "198.51.100.77")
    assert len(lines) == 254
    assert {x.dport for x in lines} == {3389}
    assert {x.dst for x in lines} == {f"203.0.113.{i}" for i in range(1, 255)}
    assert {x.prefix for x in lines} == {"RW-DROP"}
    assert len({window(x.ts) for x in lines}) == 1
    assert {x.fields["id"] for x in lines} == {"54321"}


def test_block_scanner_probes_8_hosts_by_8_ports(kern: list[Line]) -> None:
    lines = by_source(kern, "192.0.2.45")
    pairs = {(x.dst, x.dport) for x in lines}
    assert len(lines) == len(pairs) == 64
    assert len({d for d, _ in pairs}) == 8 and len({p for _, p in pairs}) == 8
    assert {x.prefix for x in lines} == {"RW-DROP"}
    assert len({window(x.ts) for x in lines}) == 1


def test_flag_scanner_sends_fin_null_and_xmas(kern: list[Line]) -> None:
    lines = by_source(kern, "192.0.2.99")
    assert {x.flags for x in lines} == {"FIN", "", "URG PSH FIN"}
    assert len(lines) == 72
    assert len({x.dport for x in lines}) == 12  # under the vertical threshold (16)
    assert {x.dst for x in lines} == {"203.0.113.25"}
    assert {x.prefix for x in lines} == {"RW-DROP"}
    assert lines[-1].ts - lines[0].ts < 3600


def test_internal_scanner_is_seen_by_zeek_only(kern: list[Line], conns: list[list[str]]) -> None:
    assert by_source(kern, "10.20.30.40") == []
    rows = [r for r in conns if r[2] == "10.20.30.40"]
    assert len(rows) == 254
    assert {r[4] for r in rows} == {f"10.0.5.{i}" for i in range(1, 255)}
    assert {r[5] for r in rows} == {"445"}
    states: dict[str, int] = defaultdict(int)
    for r in rows:
        states[r[11]] += 1
    assert dict(states) == {"S0": 224, "REJ": 8, "SF": 22}
    assert float(rows[-1][0]) - float(rows[0][0]) < 60
    assert len({window(float(r[0])) for r in rows}) == 1


def test_slow_scanner_stays_under_the_window_thresholds(kern: list[Line]) -> None:
    lines = by_source(kern, "198.51.100.150")
    assert len({x.dst for x in lines}) == 60
    assert {x.dport for x in lines} == {22}
    per_window: dict[int, set[str]] = defaultdict(set)
    for x in lines:
        per_window[window(x.ts)].add(x.dst)
    assert sorted(len(v) for v in per_window.values()) == [15, 15, 15, 15]


def test_ipv6_scanner(kern: list[Line]) -> None:
    lines = by_source(kern, "2001:db8:ffff:7::66")
    tcp = [x for x in lines if x.proto == "TCP"]
    assert {x.dst for x in lines} == {"2001:db8:100::10"}
    assert len({x.dport for x in tcp}) == 40
    assert len({x.dport for x in tcp if x.prefix == "RW-DROP"}) == 38
    assert tcp[-1].ts - tcp[0].ts < 60
    assert [x.proto for x in lines[:1]] == ["ICMPv6"]


def test_benign_client_fails_only_twice(kern: list[Line], conns: list[list[str]]) -> None:
    lines = by_source(kern, "192.0.2.200")
    dropped = [x for x in lines if x.prefix == "RW-DROP"]
    assert {x.dport for x in dropped} == {8080, 8443}
    assert len(dropped) == 4  # two connections, each SYN retransmitted once
    accepted = [x for x in lines if x.prefix == "RW-ACCEPT"]
    assert lines[0].prefix == "RW-ACCEPT"  # first contact succeeds
    zeek = [r for r in conns if r[2] == "192.0.2.200"]
    assert len(zeek) == len(accepted) == 4
    assert {r[11] for r in zeek} == {"SF"}


def test_noise_sources_stay_under_the_caps(
    sample: tuple[Path, GroundTruth], kern: list[Line]
) -> None:
    truth = sample[1]
    actors = {a.address for a in truth.actors}
    hosts: dict[str, set[str]] = defaultdict(set)
    ports: dict[str, set[int]] = defaultdict(set)
    for x in kern:
        if x.prefix == "RW-DROP" and x.src not in actors:
            hosts[x.src].add(x.dst)
            if x.dport is not None:
                ports[x.src].add(x.dport)
    assert len(hosts) == truth.background["noise_sources"]
    assert max(len(v) for v in hosts.values()) == truth.background["noise_max_hosts"] == 2
    assert max(len(v) for v in ports.values()) == truth.background["noise_max_ports"] == 3
    # Background clients never get a drop; noise sources never get an accept.
    accepted = {x.src for x in kern if x.prefix == "RW-ACCEPT"}
    assert not (accepted & set(hosts))


def test_background_sources_avoid_reserved_space(kern: list[Line]) -> None:
    actors = {a for a, *_ in EXPECTED_ACTORS}
    for x in kern:
        if x.src in actors:
            continue
        addr = ipaddress.ip_address(x.src)
        if addr.version == 4:
            assert addr.is_global, x.src
        else:
            assert addr in ipaddress.ip_network("2001:db8::/32")
            assert addr not in ipaddress.ip_network("2001:db8:100::/48")
            assert addr not in ipaddress.ip_network("2001:db8:ffff::/48")


def test_internal_clients_never_look_like_scanners(conns: list[list[str]]) -> None:
    failed: dict[str, set[str]] = defaultdict(set)
    for r in conns:
        if r[2].startswith("10.0.") and r[11] in FAILED_STATES:
            failed[r[2]].add(r[4])
    assert max(len(v) for v in failed.values()) <= 3


# --- side files --------------------------------------------------------------


def test_truth_json_round_trips(sample: tuple[Path, GroundTruth]) -> None:
    out, truth = sample
    text = (out / "truth.json").read_text()
    assert text == truth.to_json()
    assert GroundTruth.from_json(text) == truth
    assert GroundTruth.from_json(text).actor("192.0.2.45").expected_detections == (
        "block_scan",
        "trw_scan",
    )


def test_config_names_the_site_and_the_year(sample: tuple[Path, GroundTruth]) -> None:
    cfg = load_config(sample[0] / "reconwatch.yaml")
    assert cfg.site.home_networks == ["203.0.113.0/24", "2001:db8:100::/48", "10.0.0.0/8"]
    assert cfg.syslog.year == 2026


def test_start_moves_the_sample_and_sets_the_year(tmp_path: Path) -> None:
    start = dt.datetime(2025, 12, 31, 23, 1, 30, tzinfo=dt.UTC)
    truth = generate_sample(tmp_path, size=4000, start=start)
    assert load_config(tmp_path / "reconwatch.yaml").syslog.year == 2025
    kern = parse_kern_log(tmp_path / FIREWALL_LOG, start)
    assert kern[0].stamp.startswith("Dec 31 23:0") and kern[-1].stamp.startswith("Jan  1 0")
    assert truth.start == "2025-12-31T23:01:30+00:00"
    # Actors stay aligned to 5-minute windows whatever the start.
    sweep = by_source(kern, "198.51.100.77")
    assert len({window(x.ts) for x in sweep}) == 1


# --- benchmark writer --------------------------------------------------------


def test_write_netfilter_lines_streams_exact_counts(tmp_path: Path) -> None:
    path = tmp_path / "bench.log"
    truth = write_netfilter_lines(path, 60_000, 5, scanners=8, chunk_lines=20_000)
    lines = parse_kern_log(path)
    assert len(lines) == truth.size == 60_000
    assert truth.files == {"bench.log": 60_000}
    assert [x.ts for x in lines] == sorted(x.ts for x in lines)
    kinds = [a.kind for a in truth.actors]
    assert kinds == ["vertical_scanner", "horizontal_sweep", "block_scanner", "flag_scanner"] * 2
    for actor in truth.actors:
        assert actor.lines["bench.log"] == len(by_source(lines, actor.address))
    actors = {a.address for a in truth.actors}
    hosts: dict[str, set[str]] = defaultdict(set)
    for x in lines:
        if x.prefix == "RW-DROP" and x.src not in actors:
            hosts[x.src].add(x.dst)
    assert len(hosts) == truth.background["noise_sources"]
    assert max(len(v) for v in hosts.values()) <= 2
    again = tmp_path / "again.log"
    write_netfilter_lines(again, 60_000, 5, scanners=8, chunk_lines=20_000)
    assert again.read_bytes() == path.read_bytes()


# --- address helpers ---------------------------------------------------------


def test_vectorised_ipv6_text_matches_ipaddress() -> None:
    rng = np.random.default_rng(1)
    groups = rng.integers(0, 65536, size=(2000, 8))
    groups[rng.random((2000, 8)) < 0.5] = 0  # plenty of zero runs of every length
    texts = [str(ipaddress.IPv6Address(":".join(f"{g:x}" for g in row))) for row in groups]
    texts += ["::", "::1", "1::", "2001:db8::1:0:0:1", "1:0:0:2:0:0:0:3"]
    addrs = gaddr.parse(texts)
    compressed = gaddr.format_addresses(addrs, expanded_v6=False).to_pylist()
    expanded = gaddr.format_addresses(addrs, expanded_v6=True).to_pylist()
    assert compressed == [str(ipaddress.ip_address(t)) for t in texts]
    assert expanded == [ipaddress.ip_address(t).exploded for t in texts]
    mixed = gaddr.parse(["192.0.2.1", "2001:db8::1", "10.0.0.255"])
    assert gaddr.format_addresses(mixed, expanded_v6=False).to_pylist() == [
        "192.0.2.1",
        "2001:db8::1",
        "10.0.0.255",
    ]


def test_public_pool_is_unique_and_public() -> None:
    pool = gaddr.PublicV4Pool(7, role=0)
    first = pool.take(50_000)
    more = pool.take(50_000)
    other = gaddr.PublicV4Pool(7, role=1).take(50_000)
    everything = np.concatenate([first, more, other])
    assert len(np.unique(everything)) == 150_000
    for value in everything[::997]:
        assert ipaddress.IPv4Address(int(value)).is_global
    assert np.array_equal(gaddr.PublicV4Pool(7, role=0).take(50_000), first)
