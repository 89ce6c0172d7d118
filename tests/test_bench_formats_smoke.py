"""The per-format throughput benches run the formats added for issue #3 (tiny sizes;
the figures themselves are not tested, only that every row is a positive rate)."""

from __future__ import annotations

import subprocess
import sys

from conftest import ROOT

ZEEK = ["zeek-conn", "zeek-http", "zeek-notice", "zeek-weird"]
WEB_AUTH = ["nginx-error", "windows-json", "cowrie (text)", "mapping (JSON)"]


def _rate(value: str) -> int:
    return int(value.replace(",", ""))


def test_ids_dns_bench_runs_the_zeek_formats() -> None:
    argv = [sys.executable, str(ROOT / "bench" / "ids_dns_formats.py"), "--lines", "2000"]
    for fmt in ZEEK:
        argv += ["--format", fmt]
    out = subprocess.run(argv, capture_output=True, text=True, timeout=300, check=True)
    _, *rows = [line for line in out.stdout.splitlines() if not line.startswith("#")]
    assert [row.split()[0] for row in rows] == ZEEK
    for row in rows:
        assert all(_rate(value) > 0 for value in row.split()[1:]), row


def test_web_auth_bench_runs_nginx_error_windows_cowrie_text_and_json_mapping() -> None:
    argv = [sys.executable, str(ROOT / "bench" / "web_auth_formats.py"), "--lines", "2000"]
    for fmt in WEB_AUTH:
        argv += ["--format", fmt]
    out = subprocess.run(argv, capture_output=True, text=True, timeout=300, check=True)
    rows = [line for line in out.stdout.splitlines() if line.startswith("| ")][1:]
    cells = [[c.strip() for c in row.strip("|").split("|")] for row in rows]
    assert [c[0] for c in cells] == WEB_AUTH
    for name, *rates in cells:
        assert all(_rate(value) > 0 for value in rates), name


def test_firewall_bench_runs_two_formats() -> None:
    argv = [sys.executable, str(ROOT / "bench" / "firewall_formats.py"), "--lines", "2000"]
    argv += ["--format", "pf", "--format", "cef"]
    out = subprocess.run(argv, capture_output=True, text=True, timeout=300, check=True)
    lines = out.stdout.splitlines()
    start = next(n for n, line in enumerate(lines) if line.startswith("format"))
    rows = [line.split() for line in lines[start + 1 :] if line.strip()]
    assert [row[0] for row in rows] == ["pf", "cef"]
    for name, *rates in rows:
        assert len(rates) == 3 and all(_rate(value) > 0 for value in rates), name
