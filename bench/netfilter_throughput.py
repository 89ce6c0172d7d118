"""Throughput and peak memory of reconwatch on generated netfilter logs.

Prints, for N lines: lines/s for ingest alone (parse + Parquet lake) and for
the whole hunt (ingest, every detection, cases, triage, rule files), with the
peak resident memory of each, measured in a fresh child process so one
phase's peak does not hide another's. Also prints the floor: `grep -c` over
the same file.

    .venv/bin/python bench/netfilter_throughput.py --lines 1000000
    .venv/bin/python bench/netfilter_throughput.py --lines 2000000 --lines 20000000

Not a test: figures go to docs/benchmarks.md with the command that produced them.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CHILD = r"""
import json, resource, sys, time
from pathlib import Path
from reconwatch.config import Config
from reconwatch.ingest.run import ingest
from reconwatch.lake import Lake
from reconwatch.hunt import hunt

phase, log, work = sys.argv[1], sys.argv[2], Path(sys.argv[3])
config = Config()
start = time.perf_counter()
if phase == "ingest":
    run = ingest([log], Lake(work / "lake"), config)
    lines, cases = run.totals.lines, None
else:
    result = hunt([log], config, out_dir=work / "out")
    lines, cases = result.run.totals.lines, len(result.cases)
seconds = time.perf_counter() - start
peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"seconds": seconds, "lines": lines, "peak_mib": peak_kib / 1024, "cases": cases}))
"""


def run_phase(phase: str, log: Path, work: Path) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, "-c", CHILD, phase, str(log), str(work)],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def grep_floor(log: Path) -> float:
    start = time.perf_counter()
    subprocess.run(["grep", "-c", "SRC=", str(log)], capture_output=True, check=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, action="append", help="lines to generate (repeatable)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--scanners", type=int, default=50, help="scanners hidden in the noise")
    args = parser.parse_args()
    sizes = args.lines or [1_000_000]

    from reconwatch.generate import write_netfilter_lines

    print(f"# {platform.processor() or platform.machine()}, Python {platform.python_version()}")
    header = (
        f"{'lines':>12} {'MB':>8} {'grep -c s':>10} {'ingest l/s':>12} {'ingest MiB':>11} "
        f"{'hunt l/s':>10} {'hunt MiB':>9} {'hunt/grep':>9} {'cases':>6}"
    )
    print(header)
    for n in sizes:
        with tempfile.TemporaryDirectory(prefix="rw-bench-") as tmp:
            work = Path(tmp)
            log = work / "kern.log"
            start = time.perf_counter()
            write_netfilter_lines(log, n, seed=args.seed, scanners=args.scanners)
            gen = time.perf_counter() - start
            floor = grep_floor(log)
            ing = run_phase("ingest", log, work / "i")
            hun = run_phase("hunt", log, work / "h")
            size_mb = log.stat().st_size / 1e6
            print(
                f"{n:>12,} {size_mb:>8.0f} {floor:>10.2f} {n / ing['seconds']:>12,.0f} "
                f"{ing['peak_mib']:>11.0f} {n / hun['seconds']:>10,.0f} {hun['peak_mib']:>9.0f} "
                f"{hun['seconds'] / floor:>9.1f} {hun['cases']:>6}"
            )
            print(f"#   generated in {gen:.1f} s ({n / gen:,.0f} lines/s)", file=sys.stderr)
    _ = resource  # peak memory is read in the child processes


if __name__ == "__main__":
    main()
