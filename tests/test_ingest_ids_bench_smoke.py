"""The IDS/DNS format benchmark still runs (a tiny size; the figures are not tested)."""

from __future__ import annotations

import subprocess
import sys

from conftest import ROOT


def test_ids_dns_bench_prints_a_row_per_format() -> None:
    out = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "ids_dns_formats.py"), "--lines", "2000",
         "--format", "bind", "--format", "suricata-eve"],
        capture_output=True, text=True, timeout=300, check=True,
    )  # fmt: skip
    header, *rows = [line for line in out.stdout.splitlines() if not line.startswith("#")]
    assert header.split() == ["format", "lines/s", "per", "core", "lines/s", "wall"]
    assert [row.split()[0] for row in rows] == ["bind", "suricata-eve"]
    for row in rows:
        assert all(int(value.replace(",", "")) > 0 for value in row.split()[1:])
