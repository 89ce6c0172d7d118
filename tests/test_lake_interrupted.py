"""A run cut short (Ctrl-C, a crash) leaves the lake readable and counts each line once.

The runs here are real ``reconwatch`` processes, stopped at a chosen point
by a small wrapper (``pause.py``): SIGINT once every lake file of the run is
written but not its record in ``_runs``, or SIGKILL halfway through writing
a lake file.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.compute as pc
import pytest
from click.testing import CliRunner

import reconwatch
from conftest import network_rows
from reconwatch.cli import main
from reconwatch.config import Config
from reconwatch.hunt import hunt
from reconwatch.lake import RUNS, WRITING, FileStats, Lake, LakeError, RunStats

SRC = Path(reconwatch.__file__).resolve().parents[1]
LINE = (
    "Sep 30 10:{minute:02d}:{second:02d} fw1 kernel: [1.0] RW-DROP: IN=eth0 OUT= MAC=00:00 "
    "SRC=198.51.100.7 DST=203.0.113.10 LEN=44 TOS=0x00 PREC=0x00 TTL=43 ID=1 PROTO=TCP "
    "SPT=40000 DPT={port} WINDOW=1024 RES=0x00 SYN URGP=0\n"
)
#: Stops the command it runs at RW_PAUSE_AT; the CLI otherwise as installed.
PAUSE = """
import os, signal, sys, time

# A job started in the background by a shell ignores SIGINT: Ctrl-C's default back.
signal.signal(signal.SIGINT, signal.default_int_handler)
marker, at = os.environ["RW_PAUSED"], os.environ["RW_PAUSE_AT"]
if at == "record":  # every lake file of the run written, its record in _runs not yet
    from reconwatch.lake import Lake

    def paused(self, run):
        open(marker, "w").close()
        time.sleep(120)

    Lake.save_run = paused
elif at == "write":  # the machine dies halfway through writing a lake file
    import pyarrow as pa
    import pyarrow.parquet as pq

    whole = pq.write_table

    def half(table, where, filesystem=None, **options):
        sink = pa.BufferOutputStream()
        whole(table, sink, **options)
        data = sink.getvalue().to_pybytes()
        with open(where, "wb") as out:
            out.write(data[: len(data) // 2])
        os.kill(os.getpid(), signal.SIGKILL)

    pq.write_table = half
from reconwatch.cli import main

sys.argv[0] = "reconwatch"
main()
"""


def lines(first: int, count: int) -> str:
    return "".join(
        LINE.format(minute=n // 60 % 60, second=n % 60, port=n + 1)
        for n in range(first, first + count)
    )


def log_lines(lake: Lake) -> list[int]:
    return sorted(pc.cast(lake.read("network").column("log_line"), "int64").to_pylist())


def environment() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(SRC), "COLUMNS": "200"}


def reconwatch_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "reconwatch.cli", *args],
        env=environment(),
        capture_output=True,
        text=True,
        timeout=120,
    )


def paused(tmp_path: Path, at: str, *args: str) -> subprocess.Popen[str]:
    """``reconwatch ARGS`` started and, for ``record``, waited for until it is stopped there."""
    wrapper = tmp_path / "pause.py"
    wrapper.write_text(PAUSE)
    marker = tmp_path / f"paused-{time.monotonic_ns()}"
    process = subprocess.Popen(
        [sys.executable, str(wrapper), *args],
        env={**environment(), "RW_PAUSED": str(marker), "RW_PAUSE_AT": at},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    if at == "record":
        deadline = time.monotonic() + 120
        while not marker.exists():
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                out, err = process.communicate()
                pytest.fail(f"the run did not reach its record: {out}{err}")
            time.sleep(0.05)
    return process


def interrupt(process: subprocess.Popen[str]) -> None:
    """Ctrl-C: SIGINT, then the process is waited for."""
    process.send_signal(signal.SIGINT)
    try:
        process.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()
        pytest.fail("the run did not stop on SIGINT")
    assert process.returncode != 0


def one_line_error(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("reconwatch: error: ")
    return line


def test_a_file_cut_off_mid_write_is_never_read(tmp_path: Path) -> None:
    log = tmp_path / "kern.log"
    log.write_text(lines(0, 400))
    lake = tmp_path / "lake"
    crashed = paused(tmp_path, "write", "ingest", str(log), "--lake", str(lake))
    crashed.communicate(timeout=120)
    assert crashed.returncode == -signal.SIGKILL
    info = reconwatch_cli("lake", "info", str(lake))
    assert info.returncode == 0, info.stderr
    hunted = reconwatch_cli("hunt", "--lake", str(lake))
    assert hunted.returncode == 0, hunted.stderr
    assert "Traceback" not in hunted.stderr
    (half,) = [p for p in lake.rglob("*.parquet*") if p.is_file()]
    assert half.name.startswith(WRITING)  # under a hidden name, which readers pass by
    again = reconwatch_cli("ingest", str(log), "--lake", str(lake))
    assert again.returncode == 0, again.stderr
    assert log_lines(Lake(lake)) == list(range(1, 401))
    assert not half.exists()  # cleaned up by the next run
    assert reconwatch_cli("lake", "compact", str(lake)).returncode == 0


def test_the_rows_of_an_interrupted_run_are_not_counted_and_are_removed(tmp_path: Path) -> None:
    log = tmp_path / "kern.log"
    log.write_text(lines(0, 400))
    lake = tmp_path / "lake"
    first = reconwatch_cli("ingest", str(log), "--lake", str(lake))
    assert first.returncode == 0, first.stderr
    with log.open("a") as grown:
        grown.write(lines(400, 300))
    cut = paused(tmp_path, "record", "ingest", str(log), "--lake", str(lake))
    written = sorted(lake.rglob("*.parquet"))
    assert len(written) == 2  # the first run's file, and this run's
    interrupt(cut)
    # Readers see the first run only: the second never finished.
    assert log_lines(Lake(lake)) == list(range(1, 401))
    info = reconwatch_cli("lake", "info", str(lake))
    assert info.returncode == 0 and " 400 " in info.stdout, info.stdout + info.stderr
    # The next run reads on from line 401 once, and removes the leftover file with a note.
    again = reconwatch_cli("ingest", str(log), "--lake", str(lake))
    assert again.returncode == 0, again.stderr
    notes = [line for line in again.stderr.splitlines() if "did not finish" in line]
    assert len(notes) == 1 and "removed 1 file(s) of 1 ingest run(s)" in notes[0]
    assert log_lines(Lake(lake)) == list(range(1, 701))
    assert written[0].exists() and not written[1].exists()
    assert len(list((lake / RUNS).glob("*.json"))) == 2


def test_an_interrupted_hunt_does_not_poison_the_next_into_the_same_out(tmp_path: Path) -> None:
    log = tmp_path / "kern.log"
    log.write_text(lines(0, 400))
    out = tmp_path / "out"
    interrupt(paused(tmp_path, "record", "hunt", str(log), "--out", str(out)))
    assert not (out / "lake" / RUNS).exists() and list((out / "lake").rglob("*.parquet"))
    again = reconwatch_cli("hunt", str(log), "--out", str(out))
    assert again.returncode == 0, again.stderr
    assert log_lines(Lake(out / "lake")) == list(range(1, 401))
    assert "did not finish" not in again.stderr  # replaced whole, nothing to clean up


def test_a_second_hunt_into_an_out_in_use_fails_at_once(tmp_path: Path) -> None:
    log = tmp_path / "kern.log"
    log.write_text(lines(0, 400))
    out = tmp_path / "out"
    first = paused(tmp_path, "record", "hunt", str(log), "--out", str(out))
    try:
        second = reconwatch_cli("hunt", str(log), "--out", str(out))
    finally:
        interrupt(first)
    line = one_line_error(second)
    assert str(out) in line and "another hunt is writing into this folder" in line
    # Once the first is gone, OUT is free again and its lake fresh.
    third = reconwatch_cli("hunt", str(log), "--out", str(out))
    assert third.returncode == 0, third.stderr
    assert log_lines(Lake(out / "lake")) == list(range(1, 401))


def test_out_lake_holding_other_files_is_not_replaced(tmp_path: Path) -> None:
    log = tmp_path / "kern.log"
    log.write_text(lines(0, 10))
    out = tmp_path / "out"
    (out / "lake").mkdir(parents=True)
    (out / "lake" / "notes.txt").write_text("mine\n")
    with pytest.raises(LakeError, match=r"notes\.txt"):
        hunt([str(log)], Config(), out_dir=out)
    assert (out / "lake" / "notes.txt").read_text() == "mine\n"


def test_hunting_a_lake_that_is_not_there_is_an_error(tmp_path: Path) -> None:
    runner = CliRunner()
    (tmp_path / "empty").mkdir()
    cases = {
        str(tmp_path / "typo"): "no such directory (no lake here)",
        str(tmp_path / "empty"): "not a reconwatch lake (no tables and no _runs folder)",
    }
    for location, message in cases.items():
        result = runner.invoke(main, ["hunt", "--lake", location])
        assert result.exit_code == 2, result.output
        assert result.output.strip().splitlines() == [f"reconwatch: error: {location}: {message}"]
    assert not (tmp_path / "typo").exists()
    # With inputs, a new lake is made.
    log = tmp_path / "kern.log"
    log.write_text(lines(0, 10))
    made = runner.invoke(main, ["hunt", str(log), "--lake", str(tmp_path / "new")])
    assert made.exit_code == 0, made.output
    assert log_lines(Lake(tmp_path / "new")) == list(range(1, 11))


def test_a_damaged_file_of_a_finished_run_is_a_one_line_error(tmp_path: Path) -> None:
    log = tmp_path / "kern.log"
    log.write_text(lines(0, 400))
    lake = tmp_path / "lake"
    assert reconwatch_cli("ingest", str(log), "--lake", str(lake)).returncode == 0
    (damaged,) = lake.rglob("*.parquet")
    damaged.write_bytes(damaged.read_bytes()[:100])
    for command in ("info", "compact"):
        line = one_line_error(reconwatch_cli("lake", command, str(lake)))
        assert "damaged Parquet file" in line and damaged.name in line
    line = one_line_error(reconwatch_cli("hunt", "--lake", str(lake)))
    assert "cannot read table network" in line and damaged.name in line


def test_compaction_leaves_the_files_of_an_unfinished_run_alone(tmp_path: Path) -> None:
    lake = Lake(tmp_path / "lake")
    probe = {"source_ip": "192.0.2.1", "destination_ip": "203.0.113.5", "destination_port": 22}
    done, unfinished = lake.new_run_id(), lake.new_run_id()
    for n in range(2):
        lake.write("network", network_rows([probe] * 4), f"{done}-00000-{n:05d}")
    lake.write("network", network_rows([probe] * 3), f"{unfinished}-00000-00000")
    lake.save_run(RunStats(done, "2026-10-01T00:00:00+00:00", [FileStats("f", lines=8)]))
    assert lake.read("network").num_rows == 8
    (part,) = lake.partitions("network")
    assert (part.files, part.rows) == (2, 8)
    (compacted,) = lake.compact("network")
    assert compacted["files_before"] == 2 and compacted["rows"] == 8
    left = sorted(p.name for p in Path(part.path).iterdir())
    assert len(left) == 2 and left[0].startswith(unfinished) and left[1].startswith("compacted-")
    assert lake.read("network").num_rows == 8
    assert lake.remove_unfinished(locked=True) == (1, [unfinished])
    assert lake.read("network").num_rows == 8


def test_a_damaged_run_record_is_a_one_line_error(tmp_path: Path) -> None:
    log = tmp_path / "kern.log"
    log.write_text(lines(0, 10))
    lake = tmp_path / "lake"
    assert reconwatch_cli("ingest", str(log), "--lake", str(lake)).returncode == 0
    (record,) = (lake / RUNS).glob("*.json")
    record.write_text(record.read_text()[:50])
    line = one_line_error(reconwatch_cli("ingest", str(log), "--lake", str(lake)))
    assert "damaged lake record" in line and record.name in line
