"""Scale: wall time and peak memory of a hunt over 1M, 10M, 50M netfilter events.

For each size, generated netfilter lines (``write_netfilter_lines``, scanners
hidden among many noise sources) are ingested once into a Parquet lake, then
hunted over that lake (every detection, cases, triage, rule files) with each
engine: DuckDB (bounded by ``engine.memory_limit``, spilling to disk) and
Spark in local mode. Each phase runs in a fresh child process, so one phase's
peak does not hide another's. Two memory figures:

- *peak MiB*: the child Python process's own maximum RSS (``getrusage``);
  for DuckDB this is the whole hunt.
- *tree MiB*: the largest total RSS of the child and all its descendants,
  sampled every 0.2 s; for Spark this adds the JVM and its Python workers.

    .venv/bin/python bench/scale.py --sizes 1M,10M
    .venv/bin/python bench/scale.py --sizes 50M --engines duckdb --memory-limit 1GB

Not a test: figures go to docs/benchmarks.md with the command that produced them.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

CHILD = r"""
import json, resource, sys, time
from pathlib import Path
from reconwatch.config import Config, EngineConfig
from reconwatch.hunt import hunt
from reconwatch.ingest.run import IngestOptions, ingest
from reconwatch.lake import Lake

phase, log, lake, out, engine, limit, master, jobs = sys.argv[1:9]
config = Config(engine=EngineConfig(kind=engine, memory_limit=limit, spark_master=master))
start = time.perf_counter()
if phase == "ingest":
    run = ingest([log], Lake(Path(lake)), config, IngestOptions(jobs=int(jobs)))
    events, cases = run.totals.parsed, None
else:
    result = hunt(None, config, lake_dir=Path(lake), out_dir=Path(out))
    events, cases = None, len(result.cases)
seconds = time.perf_counter() - start
peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"seconds": seconds, "events": events, "peak_mib": peak_kib / 1024,
                  "cases": cases}))
"""


def parse_size(text: str) -> int:
    text = text.strip().upper().replace("_", "").replace(",", "")
    scale = {"K": 1_000, "M": 1_000_000, "G": 1_000_000_000}.get(text[-1:], 1)
    return int(float(text[:-1] if scale > 1 else text) * scale)


def _tree_rss_kib(root: int) -> int:
    """Total RSS of ``root`` and its descendants, from /proc (Linux)."""
    parents: dict[int, int] = {}
    rss: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        pid = int(entry)
        parents[pid] = int(fields[1])
        rss[pid] = int(fields[21]) * os.sysconf("SC_PAGE_SIZE") // 1024
    tree, frontier = {root}, [root]
    while frontier:
        parent = frontier.pop()
        children = [p for p, pp in parents.items() if pp == parent and p not in tree]
        tree.update(children)
        frontier.extend(children)
    return sum(rss.get(p, 0) for p in tree)


def run_phase(args: list[str]) -> dict[str, float]:
    process = subprocess.Popen(
        [sys.executable, "-c", CHILD, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    peak = 0
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.wait(0.2):
            peak = max(peak, _tree_rss_kib(process.pid))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    stdout, stderr = process.communicate()
    done.set()
    sampler.join()
    if process.returncode != 0:
        sys.stderr.write(stderr[-4000:])
        raise SystemExit(f"phase {args[0]} failed with exit code {process.returncode}")
    result: dict[str, float] = json.loads(stdout.strip().splitlines()[-1])
    result["tree_mib"] = peak / 1024
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1M", help="events per run, comma-separated (1M,10M)")
    parser.add_argument("--engines", default="duckdb,spark", help="hunt engines to measure")
    parser.add_argument("--memory-limit", default="2GB", help="DuckDB's engine.memory_limit")
    parser.add_argument("--spark-master", default="local[2]")
    parser.add_argument("--jobs", type=int, default=1, help="ingest worker processes")
    parser.add_argument("--scanners", type=int, default=50, help="scanners hidden in the noise")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--work", type=Path, help="working folder (default: a temporary one)")
    args = parser.parse_args()
    sizes = [parse_size(s) for s in args.sizes.split(",") if s.strip()]
    engines = [e.strip() for e in args.engines.split(",") if e.strip()]

    from reconwatch.generate import write_netfilter_lines

    print(
        f"# {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"memory_limit {args.memory_limit}, spark {args.spark_master}, "
        f"load {os.getloadavg()[0]:.1f}"
    )
    print(
        f"{'events':>12} {'MB':>7} {'phase':>12} {'seconds':>9} {'events/s':>11} "
        f"{'peak MiB':>9} {'tree MiB':>9} {'cases':>6}"
    )
    for n in sizes:
        with tempfile.TemporaryDirectory(prefix="rw-scale-", dir=args.work) as tmp:
            work = Path(tmp)
            log = work / "kern.log"
            start = time.perf_counter()
            write_netfilter_lines(log, n, seed=args.seed, scanners=args.scanners)
            gen = time.perf_counter() - start
            print(f"#   {n:,} lines generated in {gen:.1f} s", file=sys.stderr, flush=True)
            size_mb = log.stat().st_size / 1e6
            lake = work / "lake"
            common = [args.memory_limit, args.spark_master, str(args.jobs)]
            phases = [("ingest", "duckdb")] + [("hunt", e) for e in engines]
            for phase, engine in phases:
                out = work / f"out-{engine}"
                got = run_phase([phase, str(log), str(lake), str(out), engine, *common])
                label = "ingest" if phase == "ingest" else f"hunt {engine}"
                cases = "" if got["cases"] is None else str(got["cases"])
                print(
                    f"{n:>12,} {size_mb:>7.0f} {label:>12} {got['seconds']:>9.1f} "
                    f"{n / got['seconds']:>11,.0f} {got['peak_mib']:>9.0f} "
                    f"{got['tree_mib']:>9.0f} {cases:>6}",
                    flush=True,
                )
            log.unlink()


if __name__ == "__main__":
    main()
