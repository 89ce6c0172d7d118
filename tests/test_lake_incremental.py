"""Ingest into a lake reads only what earlier runs into it did not.

A daily ``hunt --lake L /var/log/kern.log`` must not add the lines it read the
day before again: that doubles events, evidence and episode counts.
"""

from __future__ import annotations

import datetime as dt
import gzip
from pathlib import Path

import pyarrow.compute as pc

from reconwatch.config import Config
from reconwatch.hunt import hunt
from reconwatch.ingest.run import IngestOptions, ingest
from reconwatch.lake import Lake

OPTIONS = IngestOptions(now=dt.datetime(2026, 11, 28, tzinfo=dt.UTC))
LINE = (
    "Sep 30 10:{minute:02d}:{second:02d} fw1 kernel: [1.0] RW-DROP: IN=eth0 OUT= MAC=00:00 "
    "SRC=198.51.100.7 DST=203.0.113.10 LEN=44 TOS=0x00 PREC=0x00 TTL=43 ID=1 PROTO=TCP "
    "SPT=40000 DPT={port} WINDOW=1024 RES=0x00 SYN URGP=0\n"
)


def lines(first: int, count: int) -> str:
    return "".join(
        LINE.format(minute=n // 60 % 60, second=n % 60, port=n + 1)
        for n in range(first, first + count)
    )


def log_lines(lake: Lake) -> list[int]:
    return sorted(pc.cast(lake.read("network").column("log_line"), "int64").to_pylist())


def test_the_same_file_again_is_not_read_again(tmp_path: Path) -> None:
    log = tmp_path / "kern.log"
    log.write_text(lines(0, 30))
    lake = Lake(tmp_path / "lake")
    first = ingest([str(log)], lake, Config(), OPTIONS)
    assert first.totals.parsed == 30 and first.files[0].fingerprint is not None
    again = ingest([str(log)], lake, Config(), OPTIONS)
    (stats,) = again.files
    assert (stats.lines, stats.parsed) == (0, 0)
    assert stats.error is not None and "already in the lake" in stats.error
    assert first.run_id in stats.error and "30 lines" in stats.error
    assert log_lines(lake) == list(range(1, 31))


def test_a_grown_file_is_read_on_from_where_the_last_run_stopped(tmp_path: Path) -> None:
    log = tmp_path / "kern.log"
    log.write_text(lines(0, 30))
    lake = Lake(tmp_path / "lake")
    ingest([str(log)], lake, Config(), OPTIONS)
    with log.open("a") as handle:
        handle.write(lines(30, 12))
    grown = ingest([str(log)], lake, Config(), OPTIONS)
    (stats,) = grown.files
    assert (stats.first_line, stats.lines, stats.parsed, stats.error) == (31, 12, 12, None)
    with log.open("a") as handle:
        handle.write(lines(42, 3))
    (third,) = ingest([str(log)], lake, Config(), OPTIONS).files
    assert (third.first_line, third.lines) == (43, 3)
    # Every line once, numbered as in the file.
    assert log_lines(lake) == list(range(1, 46))


def test_a_rotated_copy_is_recognised_and_another_file_is_read_whole(tmp_path: Path) -> None:
    log = tmp_path / "kern.log"
    log.write_text(lines(0, 20))
    lake = Lake(tmp_path / "lake")
    ingest([str(log)], lake, Config(), OPTIONS)
    log.rename(tmp_path / "kern.log.1")
    log.write_text(lines(100, 5))  # the new file of the same name: other content
    run = ingest([str(tmp_path / "kern.log.1"), str(log)], lake, Config(), OPTIONS)
    rotated, new = run.files
    assert rotated.lines == 0 and "already in the lake" in (rotated.error or "")
    assert (new.first_line, new.lines, new.error) == (1, 5, None)
    assert lake.read("network").num_rows == 25


def test_a_compressed_file_is_skipped_when_unchanged(tmp_path: Path) -> None:
    archive = tmp_path / "kern.log.2.gz"
    archive.write_bytes(gzip.compress(lines(0, 10).encode()))
    lake = Lake(tmp_path / "lake")
    (first,) = ingest([str(archive)], lake, Config(), OPTIONS).files
    assert first.fingerprint is not None and first.fingerprint["resumable"] is False
    (again,) = ingest([str(archive)], lake, Config(), OPTIONS).files
    assert again.lines == 0 and "already in the lake" in (again.error or "")
    assert lake.read("network").num_rows == 10


def test_hunting_a_lake_twice_with_the_same_file_counts_its_events_once(tmp_path: Path) -> None:
    log = tmp_path / "kern.log"
    log.write_text(lines(0, 30))
    lake = tmp_path / "lake"
    (first,) = hunt([str(log)], Config(), lake_dir=lake, options=OPTIONS).cases
    (again,) = hunt([str(log)], Config(), lake_dir=lake, options=OPTIONS).cases
    assert first.activity.events == again.activity.events == 30
