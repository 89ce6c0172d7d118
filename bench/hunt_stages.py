"""Where a hunt's time goes: ingest, each detection, cases, on generated netfilter lines.

The profile behind docs/benchmarks.md's "Side by side with psad and grep": the
hunt's stages run one after the other on one lake (as ``reconwatch.hunt`` runs
them), each timed alone, so a slow stage shows by name. For operator-level
detail run a detection's SQL under DuckDB's ``EXPLAIN ANALYZE``; for the
Python side, ``py-spy record`` over this script.

    .venv/bin/python bench/hunt_stages.py --lines 2000000
    .venv/bin/python bench/hunt_stages.py --log /var/log/kern.log
    .venv/bin/python bench/hunt_stages.py --lines 1000000 --engine spark

Not a test: figures go to docs/benchmarks.md with the command that produced them.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=1_000_000, help="lines to generate")
    parser.add_argument("--scanners", type=int, default=50, help="scanners hidden in the noise")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--log", type=Path, help="hunt this file instead of generating one")
    parser.add_argument("--work", type=Path, help="working folder (default: a temporary one)")
    parser.add_argument("--engine", default="duckdb", choices=["duckdb", "spark"])
    parser.add_argument("--spark-master", default="local[2]")
    args = parser.parse_args()

    import pyarrow as pa

    from reconwatch.cases import build_cases
    from reconwatch.config import Config, EngineConfig
    from reconwatch.detect import DETECTIONS, busy_inputs, run_detections
    from reconwatch.engine import Engine
    from reconwatch.generate import write_netfilter_lines
    from reconwatch.ingest.run import ingest
    from reconwatch.lake import Lake

    config = Config(engine=EngineConfig(kind=args.engine, spark_master=args.spark_master))
    if args.work is not None:
        args.work.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="rw-stages-", dir=args.work) as tmp:
        work = Path(tmp)
        log = args.log
        if log is None:
            log = work / "kern.log"
            write_netfilter_lines(log, args.lines, seed=args.seed, scanners=args.scanners)
        lake = Lake(work / "lake")
        print(f"# {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}, {log}")
        timings: list[tuple[str, float]] = []
        start = time.perf_counter()
        run = ingest([str(log)], lake, config)
        timings.append(("ingest", time.perf_counter() - start))
        start = time.perf_counter()
        engine = Engine(lake, config.engine)
        timings.append((f"start {args.engine}", time.perf_counter() - start))
        # Cases gather their evidence on DuckDB whichever engine detects (as in a hunt).
        local = engine if engine.kind == "duckdb" else Engine(lake, config.engine, "duckdb")
        try:
            tables = engine.tables()
            found = []
            with engine.busy_sources() as narrow:
                start = time.perf_counter()
                busy = busy_inputs(tables, config.detect, None, narrow)
                timings.append(("busy sources' events", time.perf_counter() - start))
                for name, detection in DETECTIONS.items():
                    if any(table not in tables for table in detection.inputs):
                        continue  # no such logs in the lake: the hunt skips it too
                    start = time.perf_counter()
                    found.append(
                        run_detections(tables, config.detect, [name], site=config.site, busy=busy)
                    )
                    timings.append((f"detect {name}", time.perf_counter() - start))
            findings = pa.concat_tables(found)
            start = time.perf_counter()
            cases = build_cases(local.tables(), findings, config.triage.evidence_samples)
            timings.append(("build_cases", time.perf_counter() - start))
        finally:
            engine.close()
            local.close()
        lines = run.totals.lines
        total = sum(seconds for _, seconds in timings)
        print(f"{'stage':<32} {'seconds':>8} {'share':>6}")
        for name, seconds in timings:
            print(f"{name:<32} {seconds:>8.2f} {seconds / total:>6.0%}")
        print(
            f"{'total':<32} {total:>8.2f}  {lines:,} lines, {lines / total:,.0f} lines/s, "
            f"{findings.num_rows} findings, {len(cases)} cases"
        )


if __name__ == "__main__":
    main()
