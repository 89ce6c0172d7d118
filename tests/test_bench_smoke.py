"""The benchmark scripts still run (a tiny size; the figures themselves are not tested)."""

from __future__ import annotations

import subprocess
import sys

from conftest import ROOT


def test_netfilter_bench_prints_its_figures() -> None:
    out = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "netfilter_throughput.py"), "--lines", "20000",
         "--scanners", "4"],
        capture_output=True, text=True, timeout=300, check=True,
    )  # fmt: skip
    header, row = [line for line in out.stdout.splitlines() if not line.startswith("#")]
    assert header.split()[:2] == ["lines", "MB"]
    fields = row.split()
    assert fields[0] == "20,000"
    assert int(fields[-1]) == 4  # cases: the four hidden scanners, nothing else
