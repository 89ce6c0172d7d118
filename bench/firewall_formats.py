"""Parse throughput of the firewall and flow formats on generated lines (lines/s per format).

For each format: N generated lines of that format (random addresses and ports,
a mix of verdicts), in batches of the framework's size, parsed by the format's
parser alone (no file reading, no lake writing), once with DuckDB on one thread
("per core"; lines per CPU-second is the figure a loaded machine disturbs
least) and once with its default thread count. Every batch's accounting
is checked, and every generated line must parse (no rejects).

    .venv/bin/python bench/firewall_formats.py --lines 1000000
    .venv/bin/python bench/firewall_formats.py --lines 200000 --format pf --format cisco-asa

Not a test: figures go to docs/sources/firewalls.md with the command that produced them.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import time
from collections.abc import Callable

import duckdb
import pyarrow as pa

from reconwatch.config import Config
from reconwatch.ingest.base import ParseContext, Parser
from reconwatch.ingest.registry import FORMATS

NOW = dt.datetime(2026, 11, 28, 5, 0, tzinfo=dt.UTC)
#: Lines per batch: about what a 32 MiB block holds for these formats.
BATCH = 200_000


def _ip(r: random.Random) -> str:
    return f"{r.randrange(1, 224)}.{r.randrange(256)}.{r.randrange(256)}.{r.randrange(1, 255)}"


def _port(r: random.Random) -> int:
    return r.randrange(1, 65536)


def pf(r: random.Random, i: int) -> str:
    action = "block" if i % 4 else "pass"
    return (f"Nov 28 04:{i // 60 % 60:02d}:{i % 60:02d} fw filterlog[4242]: 53,,,1000102631,em0,"
            f"match,{action},in,4,0x0,,64,{r.randrange(65536)},0,none,6,tcp,44,{_ip(r)},{_ip(r)},"
            f"{_port(r)},{_port(r)},0,S,17536001,,65535,,mss")  # fmt: skip


def cisco(r: random.Random, i: int) -> str:
    stamp = f"Nov 28 04:{i // 60 % 60:02d}:{i % 60:02d} fw01"
    if i % 3 == 0:
        return (f"{stamp} %ASA-4-106023: Deny tcp src outside:{_ip(r)}/{_port(r)} dst "
                f"inside:{_ip(r)}/{_port(r)} by access-group \"outside_in\" "
                "[0x0, 0x0]")  # fmt: skip
    if i % 3 == 1:
        return (f"{stamp} %ASA-6-302013: Built inbound TCP connection {i} for outside:{_ip(r)}/"
                f"{_port(r)} ({_ip(r)}/1) to inside:{_ip(r)}/443 ({_ip(r)}/443)")  # fmt: skip
    return (f"{stamp} %ASA-6-106100: access-list outside_in denied tcp outside/{_ip(r)}"
            f"({_port(r)}) -> inside/{_ip(r)}({_port(r)}) hit-cnt 1 first hit "
            "[0x1, 0x0]")  # fmt: skip


def mikrotik(r: random.Random, i: int) -> str:
    return (f"2026-11-28T04:00:{i % 60:02d}.594792+01:00 10.120.127.1 firewall,info drop-tcp "
            f"input: in:ether1-WAN out:(unknown 0), connection-state:new src-mac "
            f"00:17:10:88:bc:02, proto TCP (SYN), {_ip(r)}:{_port(r)}->{_ip(r)}:{_port(r)}, "
            "len 40")  # fmt: skip


def vpcflow(r: random.Random, i: int) -> str:
    action = "REJECT" if i % 2 else "ACCEPT"
    return (f"2 123456789010 eni-1235b8ca123456789 {_ip(r)} {_ip(r)} {_port(r)} {_port(r)} 6 "
            f"20 4249 {1795838400 + i} {1795838460 + i} {action} OK")  # fmt: skip


def panos(r: random.Random, i: int) -> str:
    stamp = f"2026/11/28 04:00:{i % 60:02d}"
    return (f"<14>Nov 28 04:00:{i % 60:02d} PA-VM 1,{stamp},012801000001,TRAFFIC,drop,2561,"
            f"{stamp},{_ip(r)},{_ip(r)},0.0.0.0,0.0.0.0,deny-all,,,not-applicable,vsys1,untrust,"
            f"trust,ethernet1/1,,default,{stamp},0,1,{_port(r)},{_port(r)},0,0,0x0,tcp,drop,60,"
            f"60,0,1,{stamp},0,any,0,7212,0x0,United States,10.0.0.0-10.255.255.255,0,1,0,"
            "policy-deny,0,0,0,0,,PA-VM,from-policy,,,0,,0,,N/A,0,0,0,0")  # fmt: skip


def fortigate(r: random.Random, i: int) -> str:
    return (f'date=2026-11-28 time=04:00:{i % 60:02d} devname="FGT60E" devid="FGT60E0001" '
            f'tz="+0100" logid="0000000013" type="traffic" subtype="forward" level="notice" '
            f'vd="root" srcip={_ip(r)} srcport={_port(r)} srcintf="wan1" srcintfrole="wan" '
            f'dstip={_ip(r)} dstport={_port(r)} dstintf="internal" dstintfrole="lan" '
            f'sessionid={i} proto=6 action="deny" policyid=0 policytype="policy" '
            'service="tcp" sentbyte=0 rcvdbyte=0 sentpkt=1 rcvdpkt=0')  # fmt: skip


def cef(r: random.Random, i: int) -> str:
    return (f"Nov 28 04:00:{i % 60:02d} cp CEF:0|Check Point|VPN-1 & FireWall-1|R81|drop|Drop|5|"
            f"src={_ip(r)} dst={_ip(r)} spt={_port(r)} dpt={_port(r)} proto=TCP act=drop "
            f"rt={1795838400000 + i} dvchost=cp-gw1")  # fmt: skip


def leef(r: random.Random, i: int) -> str:
    return (f"LEEF:1.0|Palo Alto Networks|PAN-OS|10.1|deny|src={_ip(r)}\tdst={_ip(r)}\t"
            f"srcPort={_port(r)}\tdstPort={_port(r)}\tproto=tcp\taction=deny\t"
            f"devTime={1795838400000 + i}")  # fmt: skip


def windows_firewall(r: random.Random, i: int) -> str:
    # Records as Windows 10 and Server 2019+ write them (with pid), no header: a
    # file read on from the middle.
    if i % 4:
        return (f"2026-11-28 04:00:{i % 60:02d} DROP TCP {_ip(r)} {_ip(r)} {_port(r)} "
                f"{_port(r)} 52 S {r.randrange(1 << 32)} 0 64240 - - - RECEIVE 4")  # fmt: skip
    return (f"2026-11-28 04:00:{i % 60:02d} ALLOW UDP {_ip(r)} {_ip(r)} {_port(r)} 53 0 - - - "
            "- - - - SEND 2188")  # fmt: skip


def juniper_srx(r: random.Random, i: int) -> str:
    # Half structured (sd-syslog), half text; denials, closed sessions (with
    # their skipped CREATE in the text half) and screen scans.
    if i % 2:
        stamp = f"<14>1 2026-11-28T04:{i // 60 % 60:02d}:{i % 60:02d}.184+01:00 srx1"
        if i % 6 == 1:
            return (f'{stamp} RT_FLOW - RT_FLOW_SESSION_DENY [junos@2636.1.1.1.2.134 '
                    f'source-address="{_ip(r)}" source-port="{_port(r)}" '
                    f'destination-address="{_ip(r)}" destination-port="{_port(r)}" '
                    'connection-tag="0" service-name="None" protocol-id="6" icmp-type="0" '
                    'policy-name="deny-all" source-zone-name="untrust" '
                    'destination-zone-name="trust" application="UNKNOWN" '
                    'nested-application="UNKNOWN" username="N/A" roles="N/A" '
                    'packet-incoming-interface="ge-0/0/0.0" encrypted="No" '
                    f'reason="Denied by policy" session-id-32="{i}"]')  # fmt: skip
        if i % 6 == 3:
            return (f'{stamp} RT_FLOW - RT_FLOW_SESSION_CLOSE [junos@2636.1.1.1.2.134 '
                    f'reason="TCP FIN" source-address="{_ip(r)}" source-port="{_port(r)}" '
                    f'destination-address="{_ip(r)}" destination-port="443" connection-tag="0" '
                    'service-name="junos-https" nat-source-address="192.0.2.1" '
                    f'nat-source-port="{_port(r)}" nat-destination-address="{_ip(r)}" '
                    'nat-destination-port="443" nat-connection-tag="0" '
                    'src-nat-rule-type="source rule" src-nat-rule-name="nat1" '
                    'dst-nat-rule-type="N/A" dst-nat-rule-name="N/A" protocol-id="6" '
                    'policy-name="permit-web" source-zone-name="trust" '
                    f'destination-zone-name="untrust" session-id-32="{i}" '
                    'packets-from-client="6" bytes-from-client="337" packets-from-server="4" '
                    'bytes-from-server="535" elapsed-time="1" application="HTTP" '
                    'nested-application="UNKNOWN" username="N/A" roles="N/A" '
                    'packet-incoming-interface="ge-0/0/1.0" encrypted="No"]')  # fmt: skip
        return (f'{stamp} RT_IDS - RT_SCREEN_TCP [junos@2636.1.1.1.2.137 '
                f'attack-name="TCP port scan!" source-address="{_ip(r)}" '
                f'source-port="{_port(r)}" destination-address="{_ip(r)}" '
                f'destination-port="{_port(r)}" source-zone-name="untrust" '
                'interface-name="ge-0/0/0.0" action="drop"]')  # fmt: skip
    stamp = f"Nov 28 04:{i // 60 % 60:02d}:{i % 60:02d} srx1"
    if i % 6 == 0:
        return (f"{stamp} RT_FLOW: RT_FLOW_SESSION_DENY: session denied {_ip(r)}/{_port(r)}->"
                f"{_ip(r)}/{_port(r)} 0x0 None 6(0) deny-all untrust trust UNKNOWN UNKNOWN "
                "N/A(N/A) ge-0/0/0.0 UNKNOWN policy deny")  # fmt: skip
    src, sport, dst = _ip(r), _port(r), _ip(r)
    if i % 6 == 2:
        return (f"{stamp} RT_FLOW: RT_FLOW_SESSION_CREATE: session created {src}/{sport}->"
                f"{dst}/443 0x0 junos-https 192.0.2.1/{sport}->{dst}/443 0x0 source rule nat1 "
                f"N/A N/A 6 permit-web trust untrust {i} N/A(N/A) ge-0/0/1.0 HTTP UNKNOWN "
                "No")  # fmt: skip
    return (f"{stamp} RT_FLOW: RT_FLOW_SESSION_CLOSE: session closed TCP FIN: {src}/{sport}->"
            f"{dst}/443 0x0 junos-https 192.0.2.1/{sport}->{dst}/443 0x0 source rule nat1 "
            f"N/A N/A 6 permit-web trust untrust {i} 6(337) 4(535) 1 HTTP UNKNOWN N/A(N/A) "
            "ge-0/0/1.0 No")  # fmt: skip


GENERATORS: dict[str, Callable[[random.Random, int], str]] = {
    "pf": pf,
    "cisco-asa": cisco,
    "mikrotik": mikrotik,
    "aws-vpcflow": vpcflow,
    "panos": panos,
    "fortigate": fortigate,
    "cef": cef,
    "leef": leef,
    "windows-firewall": windows_firewall,
    "juniper-srx": juniper_srx,
}


def measure(fmt: str, lines: list[str], threads: int) -> tuple[float, float]:
    """Lines per CPU-second and per wall-second of ``fmt``'s parser, in batches of BATCH."""
    con = duckdb.connect()
    con.execute(f"SET threads = {threads}")
    parser: Parser = FORMATS[fmt](ParseContext(Config(), con, "bench", NOW))
    batches = [
        pa.table(
            {
                "log_line": pa.array(range(start + 1, start + 1 + len(chunk)), pa.int64()),
                "line": pa.array(chunk, pa.string()),
            }
        )
        for start in range(0, len(lines), BATCH)
        for chunk in [lines[start : start + BATCH]]
    ]
    cpu0, wall0 = time.process_time(), time.perf_counter()
    for batch in batches:
        parsed = parser.parse(batch)
        total = parsed.row_count + parsed.rejects.num_rows + parsed.skipped
        assert total == batch.num_rows, f"{fmt}: accounted {total} of {batch.num_rows}"
        assert parsed.rejects.num_rows == 0, parsed.rejects.slice(0, 3).to_pylist()
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    con.close()
    return len(lines) / cpu, len(lines) / wall


def main() -> None:
    args = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    args.add_argument("--lines", type=int, default=1_000_000)
    args.add_argument("--format", action="append", choices=sorted(GENERATORS))
    args.add_argument("--seed", type=int, default=7)
    options = args.parse_args()
    cores = os.cpu_count() or 1
    print(f"{options.lines:,} lines per format, batches of {BATCH:,}, {cores} cores")
    print(f"{'format':<12} {'1 thread lines/CPU-s':>21} {'1 thread lines/s':>17} "
          f"{f'{cores} threads lines/s':>20}")  # fmt: skip
    for fmt in options.format or list(GENERATORS):
        r = random.Random(options.seed)
        lines = [GENERATORS[fmt](r, i) for i in range(options.lines)]
        per_cpu, single = measure(fmt, lines, 1)
        _, multi = measure(fmt, lines, cores)
        print(f"{fmt:<12} {per_cpu:>21,.0f} {single:>17,.0f} {multi:>20,.0f}")


if __name__ == "__main__":
    main()
