"""Parse throughput of the IDS, Zeek and DNS formats on generated lines (lines/s per format).

For each format: N generated lines (random clients, names, ports) in batches of
the framework's size, parsed by the format's parser alone (no file reading, no
lake writing), with DuckDB on its default thread count. Two figures: lines per
second of process CPU time (all threads' CPU summed: the throughput of one
core, and steady when other work shares the machine), and lines per second of
wall-clock time. Every batch's accounting is checked.

    .venv/bin/python bench/ids_dns_formats.py --lines 1000000
    .venv/bin/python bench/ids_dns_formats.py --lines 200000 --format bind --format suricata-eve

Not a test: figures go to docs/benchmarks.md with the command that produced them.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
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
BATCH = 250_000
TYPES = ["A", "AAAA", "PTR", "TXT", "MX", "ANY", "AXFR"]
RCODES = ["NOERROR", "NXDOMAIN", "REFUSED", "SERVFAIL"]


def _ip(r: random.Random) -> str:
    return f"{r.randrange(1, 224)}.{r.randrange(256)}.{r.randrange(256)}.{r.randrange(1, 255)}"


def _name(r: random.Random) -> str:
    return f"h{r.randrange(100000)}.example{r.randrange(50)}.com"


def bind(r: random.Random, i: int) -> str:
    if i % 10 == 0:
        return (f"28-Nov-2026 04:{i // 60 % 60:02d}:{i % 60:02d}.123 client @0x7f65100ee4d8 "
                f"{_ip(r)}#{r.randrange(1024, 65536)} (example.com): zone transfer "
                "'example.com/AXFR/IN' denied")  # fmt: skip
    name = _name(r)
    return (f"28-Nov-2026 04:{i // 60 % 60:02d}:{i % 60:02d}.123 queries: info: client "
            f"@0x7f3a2c0 {_ip(r)}#{r.randrange(1024, 65536)} ({name}): view internal: query: "
            f"{name} IN {r.choice(TYPES)} +E(0)K (198.51.100.53)")  # fmt: skip


def windns(r: random.Random, i: int) -> str:
    return (f"11/28/2026 4:{i // 60 % 60:02d}:{i % 60:02d} AM 0E4C PACKET  0000020D2A6F2150 "
            f"UDP Rcv {_ip(r)}       {r.randrange(65536):04x}   Q [0001   D   NOERROR] "
            f"{r.choice(TYPES)}      (5)h{r.randrange(1000, 10000)}(7)example(3)com(0)"
            )  # fmt: skip


def dnsmasq(r: random.Random, i: int) -> str:
    if i % 2:
        stamp = f"Nov 28 04:{i // 60 % 60:02d}:{i % 60:02d}"
        return f"{stamp} gw dnsmasq[812]: reply {_name(r)} is {_ip(r)}"
    return (f"Nov 28 04:{i // 60 % 60:02d}:{i % 60:02d} gw dnsmasq[812]: "
            f"query[{r.choice(TYPES)}] {_name(r)} from {_ip(r)}")  # fmt: skip


def unbound(r: random.Random, i: int) -> str:
    return (f"Nov 28 04:{i // 60 % 60:02d}:{i % 60:02d} ns unbound: [812:0] info: {_ip(r)} "
            f"{_name(r)}. {r.choice(TYPES)} IN {r.choice(RCODES)} 0.000000 0 45")  # fmt: skip


def coredns(r: random.Random, i: int) -> str:
    return (f"2026-11-28T04:{i // 60 % 60:02d}:{i % 60:02d}.123456789Z [INFO] {_ip(r)}:"
            f"{r.randrange(1024, 65536)} - {r.randrange(65536)} \"{r.choice(TYPES)} IN "
            f"{_name(r)}. udp 44 false 512\" {r.choice(RCODES)} qr,rd,ra 60 0.000123s")  # fmt: skip


def route53(r: random.Random, i: int) -> str:
    return json.dumps({
        "version": "1.100000", "account_id": "111122223333", "region": "eu-west-1",
        "vpc_id": "vpc-0a1b2c3d", "query_timestamp": f"2026-11-28T04:00:{i % 60:02d}Z",
        "query_name": _name(r) + ".", "query_type": r.choice(TYPES), "query_class": "IN",
        "rcode": r.choice(RCODES), "answers": [{"Rdata": _ip(r), "Type": "A", "Class": "IN"}],
        "srcaddr": _ip(r), "srcport": str(r.randrange(1024, 65536)), "transport": "UDP",
        "srcids": {"instance": "i-0abc"},
    }, separators=(",", ":"))  # fmt: skip


def fastlog(r: random.Random, i: int) -> str:
    return (f"11/28/2026-04:{i // 60 % 60:02d}:{i % 60:02d}.123456  [**] [1:2001219:20] "
            "ET SCAN Potential SSH Scan [**] [Classification: Attempted Information Leak] "
            f"[Priority: 2] {{TCP}} {_ip(r)}:{r.randrange(1024, 65536)} -> "
            f"{_ip(r)}:{r.randrange(1, 1024)}")  # fmt: skip


def eve(r: random.Random, i: int) -> str:
    base = {"timestamp": f"2026-11-28T04:00:{i % 60:02d}.123456+0000", "flow_id": i,
            "in_iface": "eth0", "src_ip": _ip(r), "src_port": r.randrange(1024, 65536),
            "dest_ip": _ip(r), "dest_port": r.randrange(1, 1024), "proto": "TCP"}  # fmt: skip
    kind = i % 4
    if kind == 0:
        base |= {"event_type": "flow", "flow": {"pkts_toserver": 1, "pkts_toclient": 0,
                 "bytes_toserver": 60, "bytes_toclient": 0, "start": base["timestamp"],
                 "state": "new"}, "tcp": {"tcp_flags": "02", "tcp_flags_ts": "02",
                 "tcp_flags_tc": "00"}}  # fmt: skip
    elif kind == 1:
        base |= {"event_type": "alert", "alert": {"action": "allowed", "gid": 1,
                 "signature_id": 2001219, "rev": 20, "signature": "ET SCAN Potential SSH Scan",
                 "category": "Attempted Information Leak", "severity": 2}}  # fmt: skip
    elif kind == 2:
        base |= {"event_type": "dns", "proto": "UDP", "dns": {"version": 2, "type": "answer",
                 "id": 1, "rrname": _name(r), "rrtype": "A", "rcode": "NOERROR",
                 "answers": [{"rrname": "x", "rrtype": "A", "ttl": 60,
                              "rdata": _ip(r)}]}}  # fmt: skip
    else:
        base |= {"event_type": "http", "http": {"hostname": "www.example.com",
                 "url": f"/p{r.randrange(1000)}?q=1", "http_user_agent": "Mozilla/5.0",
                 "http_method": "GET", "protocol": "HTTP/1.1", "status": 404,
                 "length": 162}}  # fmt: skip
    return json.dumps(base, separators=(",", ":"))


def _zeek_dns(r: random.Random, i: int) -> str:
    return "\t".join([f"{1795838400 + i}.123456", "CAbc", _ip(r), str(r.randrange(1024, 65536)),
                      "198.51.100.53", "53", "udp", str(r.randrange(65536)), "0.001", _name(r),
                      "1", "C_INTERNET", "1", r.choice(TYPES), "0", r.choice(RCODES), "F", "F",
                      "T", "T", "0", _ip(r), "60.0", "F"])  # fmt: skip


ZEEK_DNS_HEADER = [
    r"#separator \x09", "#set_separator\t,", "#empty_field\t(empty)", "#unset_field\t-",
    "#path\tdns", "#fields\t" + "\t".join([
        "ts", "uid", "id.orig_h", "id.orig_p", "id.resp_h", "id.resp_p", "proto", "trans_id",
        "rtt", "query", "qclass", "qclass_name", "qtype", "qtype_name", "rcode", "rcode_name",
        "AA", "TC", "RD", "RA", "Z", "answers", "TTLs", "rejected"]),
]  # fmt: skip


def _zeek_header(path: str, fields: list[str]) -> list[str]:
    return [r"#separator \x09", "#set_separator\t,", "#empty_field\t(empty)",
            "#unset_field\t-", f"#path\t{path}", "#fields\t" + "\t".join(fields)]  # fmt: skip


def _zeek_conn(r: random.Random, i: int) -> str:
    state = r.choice(["S0", "REJ", "SF", "RSTO", "OTH"])
    return "\t".join([f"{1795838400 + i}.123456", "CAbc", _ip(r), str(r.randrange(1024, 65536)),
                      _ip(r), str(r.randrange(1, 1024)), r.choice(["tcp", "udp"]), "-",
                      "0.000123", "0", "0", state, "T", "F", "0", "S", "1", "44", "0", "0",
                      "(empty)"])  # fmt: skip


def _zeek_http(r: random.Random, i: int) -> str:
    return "\t".join([f"{1795838400 + i}.5", "CH1", _ip(r), str(r.randrange(1024, 65536)),
                      _ip(r), "80", "1", r.choice(["GET", "POST", "HEAD"]), _name(r),
                      f"/p{r.randrange(1000)}?q={r.randrange(100)}", "-", "1.1", "sqlmap/1.7",
                      "-", "0", str(r.randrange(100000)), r.choice(["200", "404", "403"]), "OK",
                      "-", "-", "(empty)", "-", "-", "-", "-", "-", "-", "-", "-",
                      "-"])  # fmt: skip


def _zeek_notice(r: random.Random, i: int) -> str:
    src = _ip(r)
    note, msg = r.choice([
        ("Scan::Address_Scan", f"{src} scanned at least 25 unique hosts on port 22/tcp in 0m4s"),
        ("Scan::Port_Scan", f"{src} scanned at least 15 unique ports of host 192.0.2.1 in 0m2s"),
    ])  # fmt: skip
    return "\t".join([f"{1795838400 + i}.0", "-", "-", "-", "-", "-", "-", "-", "-", "-", note,
                      msg, "local", src, "-", "22", "-", "zeek", "Notice::ACTION_LOG", "(empty)",
                      "3600.000000"])  # fmt: skip


def _zeek_weird(r: random.Random, i: int) -> str:
    return "\t".join([f"{1795838400 + i}.0", "CW1", _ip(r), str(r.randrange(1024, 65536)),
                      _ip(r), str(r.randrange(1, 1024)),
                      r.choice(["bad_TCP_checksum", "data_before_established"]), "-", "F",
                      "zeek", "TCP"])  # fmt: skip


#: Zeek logs start with their TSV header; the other formats have none.
HEADERS: dict[str, list[str]] = {
    "zeek-dns": ZEEK_DNS_HEADER,
    "zeek-conn": _zeek_header("conn", [
        "ts", "uid", "id.orig_h", "id.orig_p", "id.resp_h", "id.resp_p", "proto", "service",
        "duration", "orig_bytes", "resp_bytes", "conn_state", "local_orig", "local_resp",
        "missed_bytes", "history", "orig_pkts", "orig_ip_bytes", "resp_pkts", "resp_ip_bytes",
        "tunnel_parents"]),
    "zeek-http": _zeek_header("http", [
        "ts", "uid", "id.orig_h", "id.orig_p", "id.resp_h", "id.resp_p", "trans_depth", "method",
        "host", "uri", "referrer", "version", "user_agent", "origin", "request_body_len",
        "response_body_len", "status_code", "status_msg", "info_code", "info_msg", "tags",
        "username", "password", "proxied", "orig_fuids", "orig_filenames", "orig_mime_types",
        "resp_fuids", "resp_filenames", "resp_mime_types"]),
    "zeek-notice": _zeek_header("notice", [
        "ts", "uid", "id.orig_h", "id.orig_p", "id.resp_h", "id.resp_p", "fuid",
        "file_mime_type", "file_desc", "proto", "note", "msg", "sub", "src", "dst", "p", "n",
        "peer_descr", "actions", "email_dest", "suppress_for"]),
    "zeek-weird": _zeek_header("weird", [
        "ts", "uid", "id.orig_h", "id.orig_p", "id.resp_h", "id.resp_p", "name", "addl",
        "notice", "peer", "source"]),
}  # fmt: skip

GENERATORS: dict[str, Callable[[random.Random, int], str]] = {
    "bind": bind,
    "windns": windns,
    "dnsmasq": dnsmasq,
    "unbound": unbound,
    "coredns": coredns,
    "route53resolver": route53,
    "fastlog": fastlog,
    "suricata-eve": eve,
    "zeek-dns": _zeek_dns,
    "zeek-conn": _zeek_conn,
    "zeek-http": _zeek_http,
    "zeek-notice": _zeek_notice,
    "zeek-weird": _zeek_weird,
}


def measure(fmt: str, lines: list[str], threads: int) -> tuple[float, float]:
    """Lines per CPU-second and per wall-second of ``fmt``'s parser, in batches of BATCH."""
    con = duckdb.connect()
    con.execute(f"SET threads = {threads}")
    parser: Parser = FORMATS[fmt](ParseContext(Config(), con, "bench", NOW))
    batches = []
    for start in range(0, len(lines), BATCH):
        chunk = lines[start : start + BATCH]
        batches.append(pa.table({
            "log_line": pa.array(range(start + 1, start + 1 + len(chunk)), pa.int64()),
            "line": pa.array(chunk, pa.string()),
        }))  # fmt: skip
    begin, cpu = time.perf_counter(), time.process_time()
    for batch in batches:
        parsed = parser.parse(batch)
        assert parsed.row_count + parsed.rejects.num_rows + parsed.skipped == batch.num_rows
    seconds, cpu_seconds = time.perf_counter() - begin, time.process_time() - cpu
    con.close()
    return len(lines) / cpu_seconds, len(lines) / seconds


def main() -> None:
    options = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    options.add_argument("--lines", type=int, default=500_000)
    options.add_argument("--format", action="append", choices=sorted(GENERATORS))
    options.add_argument("--seed", type=int, default=7)
    args = options.parse_args()
    cores = os.cpu_count() or 1
    print(f"# {args.lines:,} generated lines per format, batches of {BATCH:,}, {cores} cores")
    print(f"{'format':<18}{'lines/s per core':>18}{'lines/s wall':>18}")
    for fmt in args.format or sorted(GENERATORS):
        r = random.Random(args.seed)
        lines = [GENERATORS[fmt](r, i) for i in range(args.lines)]
        lines = HEADERS.get(fmt, []) + lines
        per_core, wall = measure(fmt, lines, cores)
        print(f"{fmt:<18}{per_core:>18,.0f}{wall:>18,.0f}")


if __name__ == "__main__":
    main()
