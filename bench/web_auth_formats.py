"""Throughput of the web, auth, honeypot and mapping parsers, in lines per second.

Each format's sample lines (real ones where the shared data has them) are varied
in their client address and repeated to ``--lines`` lines, then parsed in
batches of ``--batch`` lines, as ``ingest.run`` would, once on one DuckDB thread
(per-core figure) and once on every core. Parsing only: no file reading, no lake.

    .venv/bin/python bench/web_auth_formats.py --lines 1000000
    .venv/bin/python bench/web_auth_formats.py --lines 20000 --format windows-json \
        --format "mapping (JSON)"
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import time
from pathlib import Path

import duckdb
import pyarrow as pa

from reconwatch.config import Config, IngestConfig
from reconwatch.ingest.auth_openvpn import OpenVpnParser
from reconwatch.ingest.auth_sshd import SshdParser
from reconwatch.ingest.auth_windows import WindowsJsonParser
from reconwatch.ingest.base import ParseContext, Parser
from reconwatch.ingest.honeypot_cowrie import CowrieJsonParser, CowrieTextParser
from reconwatch.ingest.honeypot_opencanary import OpenCanaryParser
from reconwatch.ingest.mapping import MappingParser
from reconwatch.ingest.web_alb import AlbParser
from reconwatch.ingest.web_clf import ClfParser
from reconwatch.ingest.web_haproxy import HaproxyParser
from reconwatch.ingest.web_iis import IisParser
from reconwatch.ingest.web_json import NginxJsonParser
from reconwatch.ingest.web_nginx_error import NginxErrorParser
from reconwatch.ingest.web_syslog import SyslogAccessParser

ROOT = Path(__file__).resolve().parent.parent
HUB = ROOT.parent / "shared" / "data" / "formats" / "crowdsec-hub"
FIXTURES = ROOT / "tests" / "fixtures"
NOW = dt.datetime(2026, 10, 5, tzinfo=dt.UTC)


def _vary(templates: list[str], old: str, count: int) -> list[str]:
    """``count`` lines cycling over ``templates`` with ``old`` replaced by varied addresses."""
    lines = []
    for n in range(count):
        address = f"198.{n % 200}.{(n // 200) % 250}.{n % 250 + 1}"
        lines.append(templates[n % len(templates)].replace(old, address))
    return lines


def samples() -> dict[str, tuple[type[Parser], list[str], Config]]:
    config = Config()
    apache = (ROOT.parent / "shared" / "data" / "benign-web" / "apache_logs").read_text()
    alb = (HUB / "aws-alb-http-bad-user-agent" / "aws-alb-http-bad-user-agent.log").read_text()
    sshd = (HUB / "sshd-logs" / "sshd-logs.log").read_text().splitlines()
    iis = (FIXTURES / "web" / "iis.log").read_text().splitlines()
    nginx = json.dumps(
        {
            "time_local": "30/Sep/2026:12:00:00 +0200",
            "remote_addr": "203.0.113.1",
            "request": "GET /wp-login.php?x=1 HTTP/1.1",
            "status": "404",
            "body_bytes_sent": "153",
            "http_referrer": "-",
            "http_user_agent": "Mozilla/5.0 (X11; Linux x86_64)",
        }
    )
    cowrie = (FIXTURES / "honeypot" / "cowrie.json").read_text().splitlines()
    canary = (FIXTURES / "honeypot" / "opencanary.json").read_text().splitlines()[1:4]
    mapping = Config(ingest=IngestConfig(mappings=[str(FIXTURES / "mapping" / "vpn.yaml")]))
    csv_row = "30/09/2026 12:00:00,alice,203.0.113.1,51000,success,note"
    edr = Config(ingest=IngestConfig(mappings=[str(FIXTURES / "mapping" / "edr.yaml")]))
    # The Winlogbeat, evtx_dump and flat shapes that give rows (the fixture's later
    # lines are rejected on purpose).
    windows = (FIXTURES / "auth" / "windows.jsonl").read_text().splitlines()[:3]
    cowrie_text = (HUB / "cowrie-logs" / "cowrie-logs.log").read_text().splitlines()
    edr_rows = (FIXTURES / "mapping" / "edr.jsonl").read_text().splitlines()[:2]
    # nginx's own error file and pfSense's GUI through RFC 5424 syslog.
    nginx_error = [
        '2026/09/30 12:00:00 [error] 812#812: *7 open() "/usr/share/nginx/html/.env" failed '
        '(2: No such file or directory), client: 203.0.113.1, server: _, request: "GET /.env '
        'HTTP/1.1", host: "www.example.com"',
        *(HUB / "pfsense-rfc5424-nginx" / "pfsense-rfc5424-nginx.log").read_text().splitlines(),
    ]
    return {
        "clf (Apache/nginx combined)": (ClfParser, apache.splitlines(), config),
        "nginx-json": (NginxJsonParser, [nginx], config),
        "iis": (IisParser, iis[4:6], config),
        "aws-alb": (AlbParser, alb.splitlines(), config),
        "haproxy": (
            HaproxyParser,
            (FIXTURES / "web" / "haproxy.log").read_text().splitlines()[:3],
            config,
        ),
        "nginx-error": (NginxErrorParser, nginx_error, config),
        # Apache's access log relayed through syslog (logger -t apache2).
        "web-syslog": (
            SyslogAccessParser,
            [
                f"Sep 30 12:00:{n % 60:02d} web1 apache2: {line}"
                for n, line in enumerate(apache.splitlines()[:200])
            ],
            config,
        ),
        "sshd": (SshdParser, sshd, config),
        "windows-json": (WindowsJsonParser, windows, config),
        "openvpn": (
            OpenVpnParser,
            (FIXTURES / "auth" / "openvpn.log").read_text().splitlines(),
            config,
        ),
        "cowrie (JSON)": (CowrieJsonParser, cowrie, config),
        "cowrie (text)": (CowrieTextParser, cowrie_text, config),
        "opencanary": (OpenCanaryParser, canary, config),
        "mapping (CSV)": (MappingParser, [csv_row], mapping),
        "mapping (JSON)": (MappingParser, edr_rows, edr),
    }


def _lines(name: str, templates: list[str], count: int) -> list[str]:
    if name.startswith("sshd"):
        return _vary(templates, "35.188.49.176", count)  # only some lines change; fine
    return [templates[n % len(templates)] for n in range(count)]


def run(
    name: str, parser_cls: type[Parser], lines: list[str], config: Config, threads: int, batch: int
) -> float:
    con = duckdb.connect()
    con.execute(f"SET threads = {threads}")
    parser = parser_cls(ParseContext(config, con, "bench", NOW))
    prefix: list[str] = []
    if name.startswith("iis"):
        prefix = (FIXTURES / "web" / "iis.log").read_text().splitlines()[:4]
    if name == "mapping (CSV)":
        prefix = ["Time,User,Client IP,Port,Result,Comment"]
    tables = []
    all_lines = prefix + lines
    for start in range(0, len(all_lines), batch):
        chunk = all_lines[start : start + batch]
        tables.append(
            pa.table(
                {
                    "log_line": pa.array(range(start + 1, start + 1 + len(chunk)), pa.int64()),
                    "line": pa.array(chunk, pa.string()),
                }
            )
        )
    began = time.perf_counter()
    parsed_rows = 0
    for table in tables:
        parsed = parser.parse(table)
        parsed_rows += parsed.row_count
    elapsed = time.perf_counter() - began
    con.close()
    return len(all_lines) / elapsed


def main() -> None:
    options = argparse.ArgumentParser(description=__doc__)
    options.add_argument("--lines", type=int, default=1_000_000)
    options.add_argument("--batch", type=int, default=250_000)
    options.add_argument(
        "--format", action="append", choices=sorted(samples()), help="only these (repeatable)"
    )
    args = options.parse_args()
    cores = os.cpu_count() or 1
    print(f"{args.lines:,} lines per format, batches of {args.batch:,}, {cores} cores")
    print(f"| format | lines/s, 1 thread | lines/s, {cores} threads |")
    print("|---|---:|---:|")
    for name, (parser_cls, templates, config) in samples().items():
        if args.format and name not in args.format:
            continue
        lines = _lines(name, templates, args.lines)
        one = run(name, parser_cls, lines, config, 1, args.batch)
        every = run(name, parser_cls, lines, config, cores, args.batch)
        print(f"| {name} | {one:,.0f} | {every:,.0f} |", flush=True)


if __name__ == "__main__":
    main()
