"""The whole hunt against the ``grep -c`` floor, for every log family of the sample.

Issue 9's throughput figures for the families beyond netfilter: web access
logs, DNS query logs (BIND and Zeek dns.log), Zeek conn.log, Suricata
eve.json, and also auth.log and the firewall's kern.log. One sample holds
them all: ``reconwatch.generate.generate_sample(..., families=ALL_FAMILIES)``
(``--size`` data lines over all files, split by the generator's shares:
about 36 % kern.log, 30 % conn.log, 7 % each DNS log, 12 % access.log,
5 % eve.json, 3 % auth.log; the planted actors ride along, ``truth.json``
says where). Then, for each file on its own:

- the floor: ``grep -c -F TOKEN FILE`` (``grep -c -v '^#'`` for Zeek), where
  TOKEN is a fixed string that every data line of the generated file holds
  and no other line does, so grep reads every byte once and its count is the
  data lines (checked against reconwatch's count: a mismatch is printed in
  the note). The anchored ``-v '^#'`` costs grep less per byte than a
  ``-F`` search, so the Zeek files' *x grep* reads somewhat higher:

  ============  ===========================================
  kern.log      ``SRC=`` (as ``bench/compare.py``)
  conn.log      ``-v '^#'`` (every line but the Zeek header)
  dns.log       ``-v '^#'``
  query.log     `` client @`` (BIND's query and security lines)
  access.log    ``HTTP/``
  eve.json      ``"event_type":``
  auth.log      ``sshd[``
  ============  ===========================================

- the whole reconwatch hunt (``reconwatch.hunt.hunt``: ingest, every
  detection, cases, triage, rule files) of that file alone, in a fresh child
  process, with the sample's ``reconwatch.yaml`` (home networks, syslog year)
  loaded by ``reconwatch.config.load_config``.

Both run under ``bench/compare.py``'s launcher (``run_child``): wall seconds
and peak RSS from ``wait4`` on the tool's own process. *lines* is the hunt's
``run.totals.lines`` less its skipped lines (the Zeek header), that is the
data lines; *hunt s* is the child's wall time (interpreter start and imports
included; ``hunt()`` alone is in the note); *x grep* is the hunt's seconds per
line over grep's on the same file (the same lines, so hunt s / grep s). With
``--repeat N`` each file is measured N times and the fastest run is kept;
``--sample DIR`` measures an existing sample (``generate_sample``'s output).
The default ``--size`` (5M) gives eve.json 250,000 lines; 14M gives every
file at least 420,000 (generated in 30-42 s, peak RSS about 2.7 GB).

    .venv/bin/python bench/families.py --size 14000000 --repeat 2 --markdown
    .venv/bin/python bench/families.py --size 10000 --file web/access.log --markdown

Not a test: figures go to docs/benchmarks.md with the command that produced them.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from compare import Measured, run_child

#: The hunt of one file, with the sample's config, in a child of its own.
CHILD = r"""
import json, sys, time
from pathlib import Path
from reconwatch.config import load_config
from reconwatch.hunt import hunt

log, config, out = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
start = time.perf_counter()
result = hunt([log], load_config(config), out_dir=out)
seconds = time.perf_counter() - start
totals = result.run.totals
formats = sorted({f.format or "-" for f in result.run.files})
print(json.dumps({"seconds": seconds, "lines": totals.lines, "rejected": totals.rejected,
                  "skipped": totals.skipped, "formats": formats, "cases": len(result.cases)}))
"""

#: Each file of the sample, its family and the floor's grep arguments (before the file).
FILES: dict[str, tuple[str, list[str]]] = {
    "firewall/kern.log": ("network", ["-F", "SRC="]),
    "zeek/conn.log": ("network", ["-v", "^#"]),
    "dns/query.log": ("dns", ["-F", " client @"]),
    "zeek/dns.log": ("dns", ["-v", "^#"]),
    "web/access.log": ("web", ["-F", "HTTP/"]),
    "ids/eve.json": ("ids", ["-F", '"event_type":']),
    "auth/auth.log": ("auth", ["-F", "sshd["]),
}
HEADERS = (
    "family", "file", "format", "lines", "MB", "grep s", "hunt s", "hunt lines/s",
    "peak MiB", "x grep", "cases", "note",
)  # fmt: skip


M = TypeVar("M", bound=Measured)


@dataclass
class Hunt(Measured):
    """The hunt of one file: :class:`Measured` plus what the hunt reported."""

    formats: str = ""
    cases: int = 0
    rejected: int = 0
    hunt_seconds: float = 0.0


@dataclass
class Row:
    """One file: the floor and the hunt."""

    family: str
    file: str
    size_mb: float
    grep: Measured
    hunt: Hunt

    @property
    def cells(self) -> list[str]:
        hunt = self.hunt
        x_grep = hunt.seconds / self.grep.seconds if self.grep.seconds else float("nan")
        notes = [f"hunt() {hunt.hunt_seconds:.2f} s"]
        if hunt.rejected:
            notes.append(f"{hunt.rejected:,} rejected")
        if self.grep.lines != hunt.lines:
            notes.append(f"grep counted {self.grep.lines:,}")
        return [
            self.family,
            self.file,
            hunt.formats,
            f"{hunt.lines:,}",
            f"{self.size_mb:,.1f}",
            f"{self.grep.seconds:.2f}",
            f"{hunt.seconds:.2f}",
            f"{hunt.rate:,.0f}",
            f"{hunt.peak_mib:,.0f}",
            f"{x_grep:,.1f}",
            str(hunt.cases),
            "; ".join(notes),
        ]


def measure_grep(log: Path, grep_args: list[str], work: Path) -> Measured:
    """``grep -c`` over ``log``; its count is the lines it covered."""
    status, seconds, peak, out, _ = run_child(["grep", "-c", *grep_args, str(log)], work)
    if status not in (0, 1):  # 1: nothing matched (count 0)
        raise SystemExit(f"grep -c failed on {log} with exit code {status}")
    return Measured("grep -c", seconds, int(out.strip() or 0), peak)


def measure_hunt(log: Path, config: Path, work: Path) -> Hunt:
    """The whole hunt of ``log`` alone in a fresh child; lines are its data lines."""
    argv = [sys.executable, "-c", CHILD, str(log), str(config), str(work / "out")]
    status, seconds, peak, out, _ = run_child(argv, work)
    if status != 0:
        raise SystemExit(f"the reconwatch hunt of {log} failed with exit code {status}")
    got = json.loads(out.strip().splitlines()[-1])
    return Hunt(
        "reconwatch hunt",
        seconds,
        int(got["lines"]) - int(got["skipped"]),
        peak,
        formats=",".join(got["formats"]),
        cases=int(got["cases"]),
        rejected=int(got["rejected"]),
        hunt_seconds=float(got["seconds"]),
    )


def fastest(runs: list[M]) -> M:
    return min(runs, key=lambda m: m.seconds)


def git(*args: str) -> str:
    try:
        return subprocess.run(
            ["git", *args], capture_output=True, text=True, check=True, cwd=Path(__file__).parent
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def header() -> str:
    """Commit (and whether src/ differs from it), machine and load."""
    commit = git("rev-parse", "--short", "HEAD")
    if git("status", "--porcelain", "--", "src") not in ("", "unknown"):
        commit += " + uncommitted changes under src/"
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return (
        f"commit {commit}, {now}, {platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, load {load}"
    )


def render(rows: list[Row], markdown: bool) -> str:
    table = [list(HEADERS), *(row.cells for row in rows)]
    if markdown:
        right = {"lines", "MB", "grep s", "hunt s", "hunt lines/s", "peak MiB", "x grep", "cases"}
        rule = ["---:" if h in right else "---" for h in HEADERS]
        lines = ["| " + " | ".join(r) + " |" for r in table]
        return "\n".join([lines[0], "|" + "|".join(rule) + "|", *lines[1:]])
    widths = [max(len(r[i]) for r in table) for i in range(len(HEADERS) - 1)]
    text_cols = {0, 1, 2}
    out = []
    for r in table:
        cells = [
            c.ljust(w) if i in text_cols else c.rjust(w)
            for i, (c, w) in enumerate(zip(r, widths, strict=False))
        ]
        out.append("  ".join([*cells, r[-1]]).rstrip())
    return "\n".join(out)


def measure(sample: Path, names: list[str], repeat: int, work: Path) -> list[Row]:
    """Each file of ``sample`` in ``names``: the floor and the hunt, ``repeat`` times."""
    rows = []
    for name in names:
        family, grep_args = FILES[name]
        log = sample / name
        if not log.is_file():
            raise SystemExit(f"{log}: not in the sample")
        greps, hunts = [], []
        for i in range(max(repeat, 1)):
            slot = work / "runs" / f"{name.replace('/', '-')}-{i}"
            greps.append(measure_grep(log, grep_args, slot / "grep"))
            hunts.append(measure_hunt(log, sample / "reconwatch.yaml", slot / "hunt"))
        rows.append(Row(family, name, log.stat().st_size / 1e6, fastest(greps), fastest(hunts)))
        print(f"# {name}: done, load {os.getloadavg()[0]:.2f}", file=sys.stderr, flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=5_000_000, help="data lines over all files")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--sample", type=Path, help="measure this sample (generate_sample's output) as it is"
    )
    parser.add_argument("--file", action="append", choices=sorted(FILES), help="only these files")
    parser.add_argument("--repeat", type=int, default=1, help="runs per file; the fastest is kept")
    parser.add_argument("--markdown", action="store_true", help="the table in Markdown")
    parser.add_argument("--work", type=Path, help="working folder (default: a temporary one)")
    args = parser.parse_args()

    prefix = "" if args.markdown else "# "
    print(f"{prefix}{header()}", flush=True)
    with tempfile.TemporaryDirectory(prefix="rw-families-", dir=args.work) as tmp:
        work = Path(tmp)
        sample = args.sample
        if sample is None:
            from reconwatch.generate import ALL_FAMILIES, generate_sample

            sample = work / "sample"
            start = time.perf_counter()
            generate_sample(sample, size=args.size, seed=args.seed, families=ALL_FAMILIES)
            seconds = time.perf_counter() - start
            print(
                f"{prefix}sample: {args.size:,} lines, seed {args.seed}, "
                f"generated in {seconds:.1f} s",
                flush=True,
            )
        else:
            print(f"{prefix}sample: {sample}", flush=True)
        rows = measure(sample, args.file or list(FILES), args.repeat, work)
        table = render(rows, args.markdown)
        print(f"\n{table}\n" if args.markdown else table)
        print(f"{prefix}finished: {header()}")


if __name__ == "__main__":
    main()
