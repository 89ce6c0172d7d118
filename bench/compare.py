"""reconwatch side by side with psad, fail2ban-regex and the ``grep -c`` floor, in one run.

Two parts, both on logs from ``reconwatch.generate`` (netfilter LOG lines, scanners
hidden among many noise sources, ground truth in ``truth.json``):

1. Throughput, per ``--lines`` size: wall time, lines/s and peak RSS of

   - ``grep -c SRC=`` over the file: the floor, the time to read the bytes once;
   - the whole reconwatch hunt (``reconwatch.hunt.hunt``: ingest, every
     detection, cases, triage, rule files) in a fresh child process;
   - ``psad -A -m`` (analysis mode, its own config copy under the work folder);
   - ``fail2ban-regex`` with a netfilter DROP filter (it only matches lines:
     banning is the jail's job, so this is fail2ban's per-line cost).

   psad runs about 2,000 lines/s, so it and fail2ban-regex read the first
   ``--slow-lines`` lines only, and psad is stopped after ``--slow-timeout``
   seconds (its lines/s then come from its own progress count). Their lines/s
   are therefore measured on that slice, and the table says so ("slice"). Ratios:
   *x grep* is seconds per line over grep's seconds per line on the full file;
   *rw / psad* is reconwatch's lines/s over psad's.

2. Detections on one labelled corpus (``--truth-lines``, ``--truth-scanners``),
   read whole by both reconwatch and psad: which scanners each found, with how
   many events or packets, and what else each flagged (false alarms). psad is
   read at its default alerting level (any danger level, DL >= 1) and at DL >= 3.

psad and fail2ban are optional: when absent they are reported as "not installed".

    .venv/bin/python bench/compare.py --lines 2000000 --lines 20000000
    .venv/bin/python bench/compare.py --lines 20000 --slow-lines 2000 --truth-lines 20000

Peak RSS comes from ``wait4`` on each tool's process (see ``LAUNCHER``). Not a test:
figures go to docs/benchmarks.md with the command that produced them.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

#: The reconwatch hunt, in a child of its own so its peak memory is its alone.
CHILD = r"""
import json, sys, time
from pathlib import Path
from reconwatch.config import Config
from reconwatch.hunt import hunt

log, out = sys.argv[1], Path(sys.argv[2])
start = time.perf_counter()
result = hunt([log], Config(), out_dir=out)
seconds = time.perf_counter() - start
flagged = {}
for case in result.cases:
    for finding in case.findings:
        entry = flagged.setdefault(finding.source_ip, {"detections": [], "events": None})
        entry["detections"] = sorted({*entry["detections"], finding.detection})
        events = finding.event_count
        entry["events"] = events if entry["events"] is None else min(entry["events"], events)
print(json.dumps({"seconds": seconds, "lines": result.run.totals.lines,
                  "cases": len(result.cases), "flagged": flagged}))
"""

#: fail2ban filter for netfilter LOG lines of dropped or rejected packets.
FAIL2BAN_REGEX = r"kernel: .*(?:DROP|REJECT|BLOCK).* SRC=<HOST> DST="
#: psad's analysis-mode line for one source.
PSAD_SOURCE = re.compile(r"^SRC:\s+(\S+), DL: (\d+), Dsts: (\d+), Pkts: (\d+)", re.MULTILINE)
PSAD_PROGRESS = re.compile(r"Processed (\d+) packets")
#: psad's folders, pointed into the work folder so that it writes nothing under /var.
PSAD_DIRS = ("PSAD_DIR", "PSAD_RUN_DIR", "PSAD_FIFO_DIR", "PSAD_CONF_DIR")
NOT_INSTALLED = "not installed"


@dataclass
class Measured:
    """One tool over one file: wall seconds, lines it covered, peak RSS of its process tree."""

    tool: str
    seconds: float
    lines: int
    peak_mib: float
    note: str = ""
    extra: dict[str, object] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        return self.lines / self.seconds if self.seconds > 0 else 0.0


#: Runs one tool and reports its wall time and peak RSS. A process's maximum RSS
#: counts the memory of the process it was forked from (Linux records the old
#: address space's high-water mark at exec), so tools are started from this
#: small interpreter rather than from the benchmark, which holds the generator.
LAUNCHER = r"""
import json, os, signal, sys, time
report, timeout, argv = sys.argv[1], float(sys.argv[2]), sys.argv[3:]
start = time.perf_counter()
pid = os.fork()
if pid == 0:
    os.execvp(argv[0], argv)
timed_out = False
while True:
    done, status, usage = os.wait4(pid, os.WNOHANG if timeout > 0 else 0)
    if done:
        break
    if time.perf_counter() - start > timeout:
        os.kill(pid, signal.SIGTERM)
        done, status, usage = os.wait4(pid, 0)
        timed_out = True
        break
    time.sleep(0.05)
seconds = time.perf_counter() - start
with open(report, "w") as out:
    json.dump({"status": os.waitstatus_to_exitcode(status), "seconds": seconds,
               "peak_kib": usage.ru_maxrss, "timed_out": timed_out}, out)
"""


def run_child(
    argv: list[str], workdir: Path, timeout: float | None = None
) -> tuple[int, float, float, str, bool]:
    """Run ``argv``; return (exit status, wall seconds, peak RSS MiB, stdout, timed out).

    The peak is the tool's own (``wait4`` in the launcher: the process and the
    descendants it waited for); with ``timeout`` the tool is stopped after that
    many seconds.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    out_path, err_path, report = workdir / "stdout", workdir / "stderr", workdir / "run.json"
    launcher = [sys.executable, "-S", "-c", LAUNCHER, str(report), str(timeout or 0)]
    with out_path.open("wb") as out, err_path.open("wb") as err:
        subprocess.run([*launcher, *argv], stdout=out, stderr=err, cwd=workdir, check=True)
    got = json.loads(report.read_text())
    status, timed_out = int(got["status"]), bool(got["timed_out"])
    text = out_path.read_text(errors="replace")
    if status != 0 and not timed_out:
        sys.stderr.write(err_path.read_text(errors="replace")[-3000:])
    return status, float(got["seconds"]), got["peak_kib"] / 1024, text, timed_out


def head_slice(log: Path, lines: int, target: Path) -> int:
    """The first ``lines`` lines of ``log`` into ``target``; how many were written."""
    written = 0
    with log.open("rb") as source, target.open("wb") as out:
        for line in source:
            if written >= lines:
                break
            out.write(line)
            written += 1
    return written


def measure_grep(log: Path, lines: int, work: Path) -> Measured:
    status, seconds, peak, out, _ = run_child(["grep", "-c", "SRC=", str(log)], work / "grep")
    if status != 0:
        raise SystemExit(f"grep -c failed with exit code {status}")
    return Measured("grep -c", seconds, lines, peak, extra={"count": int(out.strip() or 0)})


def measure_reconwatch(log: Path, work: Path) -> Measured:
    argv = [sys.executable, "-c", CHILD, str(log), str(work / "out")]
    status, seconds, peak, out, _ = run_child(argv, work)
    if status != 0:
        raise SystemExit(f"the reconwatch hunt failed with exit code {status}")
    result = json.loads(out.strip().splitlines()[-1])
    # The hunt's own clock leaves out interpreter start and imports; wall time is what a user waits.
    return Measured(
        "reconwatch hunt",
        seconds,
        int(result["lines"]),
        peak,
        extra={
            "hunt_seconds": result["seconds"],
            "cases": result["cases"],
            "flagged": result["flagged"],
        },
    )


def psad_config(work: Path) -> Path | None:
    """A copy of /etc/psad whose folders all lie under ``work``; None when psad is absent."""
    if shutil.which("psad") is None or not Path("/etc/psad/psad.conf").is_file():
        return None
    conf_dir = work / "psad-conf"
    if not conf_dir.exists():
        shutil.copytree("/etc/psad", conf_dir)
    text = (conf_dir / "psad.conf").read_text()
    folders = {"PSAD_CONF_DIR": conf_dir}
    for name in PSAD_DIRS:
        folder = folders.get(name, work / "psad-state" / name.lower())
        folder.mkdir(parents=True, exist_ok=True)
        text = re.sub(rf"^{name}\s+.*$", f"{name}    {folder};", text, flags=re.MULTILINE)
    text = re.sub(r"^HOSTNAME\s+.*$", "HOSTNAME    bench;", text, flags=re.MULTILINE)
    config = conf_dir / "psad.conf"
    config.write_text(text)
    return config


def measure_psad(log: Path, lines: int, work: Path, timeout: float) -> Measured | None:
    config = psad_config(work)
    if config is None:
        return None
    argv = [
        "psad", "-A", "-m", str(log), "-c", str(config),
        "--no-whois", "--no-rdns", "--no-netstat", "--no-fwcheck",
    ]  # fmt: skip
    status, seconds, peak, out, timed_out = run_child(argv, work / "psad", timeout)
    note = "slice"
    if timed_out:
        progress = [int(n) for n in PSAD_PROGRESS.findall(out)]
        lines = progress[-1] if progress else 0
        note = f"slice, stopped after {timeout:.0f} s"
    elif status != 0:
        return Measured("psad -A", seconds, 0, peak, note=f"failed (exit {status})")
    sources = {
        m.group(1): {"dl": int(m.group(2)), "packets": int(m.group(4))}
        for m in PSAD_SOURCE.finditer(out)
    }
    return Measured("psad -A", seconds, lines, peak, note=note, extra={"sources": sources})


def measure_fail2ban(log: Path, lines: int, work: Path) -> Measured | None:
    if shutil.which("fail2ban-regex") is None:
        return None
    argv = ["fail2ban-regex", str(log), FAIL2BAN_REGEX]
    status, seconds, peak, out, _ = run_child(argv, work / "fail2ban")
    if status != 0:
        return Measured("fail2ban-regex", seconds, 0, peak, note=f"failed (exit {status})")
    matched = re.search(r"Lines: \d+ lines, \d+ ignored, (\d+) matched", out)
    extra: dict[str, object] = {"matched": int(matched.group(1)) if matched else None}
    return Measured("fail2ban-regex", seconds, lines, peak, note="slice", extra=extra)


def throughput(args: argparse.Namespace, root: Path) -> None:
    from reconwatch.generate import write_netfilter_lines
    from reconwatch.ingest import netfilter

    # Without a C compiler the netfilter fields are cut by regexes (slower): say which.
    scanner = "compiled" if netfilter.compiled is not None else "regex (not built)"
    print(
        f"# throughput: {platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, load {os.getloadavg()[0]:.1f}; "
        f"netfilter field scanner {scanner}; "
        f"psad and fail2ban-regex on the first {args.slow_lines:,} lines of each file"
    )
    header = (
        f"{'lines':>12} {'MB':>6} {'tool':<16} {'seconds':>9} {'lines/s':>12} "
        f"{'peak MiB':>9} {'x grep':>8} {'rw/psad':>8}  note"
    )
    print(header)
    peaks: dict[int, float] = {}
    for n in args.lines or [1_000_000]:
        work = Path(tempfile.mkdtemp(prefix=f"compare-{n}-", dir=root))
        try:
            log = work / "kern.log"
            write_netfilter_lines(log, n, seed=args.seed, scanners=args.scanners)
            size_mb = log.stat().st_size / 1e6
            grep = measure_grep(log, n, work)
            rw = measure_reconwatch(log, work / "reconwatch")
            peaks[n] = rw.peak_mib
            slice_log = work / "slice.log"
            sliced = head_slice(log, args.slow_lines, slice_log)
            psad = measure_psad(slice_log, sliced, work, args.slow_timeout)
            f2b = measure_fail2ban(slice_log, sliced, work)
            grep_per_line = grep.seconds / n
            rows: list[tuple[str, Measured | None]] = [
                ("grep -c", grep),
                ("reconwatch hunt", rw),
                ("psad -A", psad),
                ("fail2ban-regex", f2b),
            ]
            for name, m in rows:
                if m is None:
                    print(f"{n:>12,} {size_mb:>6.0f} {name:<16} {NOT_INSTALLED:>9}")
                    continue
                x_grep = (m.seconds / m.lines) / grep_per_line if m.lines else float("nan")
                vs_psad = (
                    f"{rw.rate / psad.rate:>8.0f}"
                    if name == "reconwatch hunt" and psad and psad.rate
                    else f"{'':>8}"
                )
                note = m.note
                if name == "reconwatch hunt":
                    note = f"{m.extra['cases']} cases, hunt() {m.extra['hunt_seconds']:.2f} s"
                print(
                    f"{n:>12,} {size_mb:>6.0f} {name:<16} {m.seconds:>9.2f} {m.rate:>12,.0f} "
                    f"{m.peak_mib:>9.0f} {x_grep:>8.1f} {vs_psad}  {note}",
                    flush=True,
                )
        finally:
            shutil.rmtree(work, ignore_errors=True)
    if len(peaks) > 1:
        small, large = min(peaks), max(peaks)
        print(
            f"# reconwatch peak memory: {peaks[large]:.0f} MiB at {large:,} lines / "
            f"{peaks[small]:.0f} MiB at {small:,} lines = {peaks[large] / peaks[small]:.2f}x"
        )


def detections(args: argparse.Namespace, root: Path) -> None:
    from reconwatch.generate import write_netfilter_lines

    work = Path(tempfile.mkdtemp(prefix="compare-truth-", dir=root))
    try:
        log = work / "kern.log"
        truth = write_netfilter_lines(
            log, args.truth_lines, seed=args.seed, scanners=args.truth_scanners
        )
        (work / "truth.json").write_text(truth.to_json())
        scanners = {a.address: a for a in truth.actors if a.expected_detections}
        rw = measure_reconwatch(log, work / "reconwatch")
        psad = measure_psad(log, args.truth_lines, work, args.truth_timeout)
        rw_flagged: dict[str, dict[str, object]] = rw.extra["flagged"]  # type: ignore[assignment]
        psad_sources: dict[str, dict[str, int]] = psad.extra.get("sources", {}) if psad else {}  # type: ignore[assignment]
        print(
            f"# detections: {args.truth_lines:,} lines, {len(scanners)} scanners "
            f"(truth.json), both tools read the whole file"
        )
        if psad is not None and psad.note.startswith("slice, stopped"):
            print(f"# psad {psad.note.removeprefix('slice, ')}: it saw {psad.lines:,} lines only")
        print(
            f"{'scanner':<18} {'kind':<16} {'reconwatch':<34} {'rw events':>9} "
            f"{'psad DL':>7} {'psad pkts':>9}"
        )
        for address, actor in sorted(scanners.items(), key=lambda kv: kv[1].first_seen):
            found = rw_flagged.get(address)
            names = ",".join(found["detections"]) if found else "-"  # type: ignore[arg-type]
            events = str(found["events"]) if found else "-"
            if psad is None:
                dl, packets = NOT_INSTALLED, ""
            else:
                seen = psad_sources.get(address)
                dl, packets = (str(seen["dl"]), str(seen["packets"])) if seen else ("-", "-")
            print(f"{address:<18} {actor.kind:<16} {names:<34} {events:>9} {dl:>7} {packets:>9}")
        print(f"{'tool':<22} {'scanners found':>15} {'false alarms':>13} {'sources flagged':>16}")
        rows: list[tuple[str, set[str] | None]] = [("reconwatch", set(rw_flagged))]
        if psad is None:
            rows.append(("psad (DL >= 1)", None))
        else:
            rows.append(("psad (DL >= 1)", set(psad_sources)))
            rows.append(("psad (DL >= 3)", {s for s, v in psad_sources.items() if v["dl"] >= 3}))
        for name, flagged in rows:
            if flagged is None:
                print(f"{name:<22} {NOT_INSTALLED:>15}")
                continue
            hits = len(flagged & set(scanners))
            print(
                f"{name:<22} {f'{hits}/{len(scanners)}':>15} "
                f"{len(flagged - set(scanners)):>13,} {len(flagged):>16,}"
            )
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, action="append", help="lines per file (repeatable)")
    parser.add_argument("--scanners", type=int, default=50, help="scanners hidden in the noise")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--slow-lines", type=int, default=100_000, help="lines psad and fail2ban-regex read"
    )
    parser.add_argument("--slow-timeout", type=float, default=300.0, help="seconds psad may run")
    parser.add_argument("--truth-lines", type=int, default=100_000, help="labelled corpus size")
    parser.add_argument("--truth-scanners", type=int, default=12, help="scanners in the corpus")
    parser.add_argument("--truth-timeout", type=float, default=900.0, help="psad's cap there")
    parser.add_argument("--no-truth", action="store_true", help="throughput only")
    parser.add_argument("--work", type=Path, help="working folder (default: a temporary one)")
    args = parser.parse_args()
    if args.work is not None:
        args.work.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="rw-compare-", dir=args.work) as tmp:
        throughput(args, Path(tmp))
        if not args.no_truth:
            detections(args, Path(tmp))


if __name__ == "__main__":
    main()
