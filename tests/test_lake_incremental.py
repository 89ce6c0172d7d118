"""Ingest into a lake reads only what earlier runs into it did not.

A daily ``hunt --lake L /var/log/kern.log`` must not add the lines it read the
day before again: that doubles events, evidence and episode counts.
"""

from __future__ import annotations

import datetime as dt
import gzip
from pathlib import Path
from typing import Any

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
    assert (stats.lines, stats.parsed, stats.error) == (0, 0, None)
    assert stats.note is not None and "already in the lake" in stats.note
    assert first.run_id in stats.note and "30 lines" in stats.note
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
    assert rotated.lines == 0 and "already in the lake" in (rotated.note or "")
    assert (new.first_line, new.lines, new.error) == (1, 5, None)
    assert lake.read("network").num_rows == 25


def test_a_compressed_file_is_skipped_when_unchanged(tmp_path: Path) -> None:
    archive = tmp_path / "kern.log.2.gz"
    archive.write_bytes(gzip.compress(lines(0, 10).encode()))
    lake = Lake(tmp_path / "lake")
    (first,) = ingest([str(archive)], lake, Config(), OPTIONS).files
    assert first.fingerprint is not None and first.fingerprint["resumable"] is False
    (again,) = ingest([str(archive)], lake, Config(), OPTIONS).files
    assert again.lines == 0 and "already in the lake" in (again.note or "")
    assert lake.read("network").num_rows == 10


def test_hunting_a_lake_twice_with_the_same_file_counts_its_events_once(tmp_path: Path) -> None:
    log = tmp_path / "kern.log"
    log.write_text(lines(0, 30))
    lake = tmp_path / "lake"
    (first,) = hunt([str(log)], Config(), lake_dir=lake, options=OPTIONS).cases
    (again,) = hunt([str(log)], Config(), lake_dir=lake, options=OPTIONS).cases
    assert first.activity.events == again.activity.events == 30


def zeek_conn(rows: range) -> str:
    from test_ingest_zeek import HEADER, conn

    return "".join(
        line + "\n"
        for line in [
            *(HEADER if rows.start == 0 else []),
            *(conn(f"1790762400.{n:06d}", "198.51.100.7", 40000, "203.0.113.10", n + 1)
              for n in rows),
        ]
    )  # fmt: skip


def test_a_grown_header_bound_file_keeps_its_header_and_adds_only_new_rows(
    tmp_path: Path,
) -> None:
    """Zeek's columns come from its #fields header: it is read whole, old rows left out."""
    log = tmp_path / "conn.log"
    log.write_text(zeek_conn(range(0, 20)))
    lake = Lake(tmp_path / "lake")
    (first,) = ingest([str(log)], lake, Config(), OPTIONS).files
    assert first.parsed == 20 and first.fingerprint is not None
    assert first.fingerprint["resumable"] is False  # header-bound
    with log.open("a") as handle:
        handle.write(zeek_conn(range(20, 30)))
    (grown,) = ingest([str(log)], lake, Config(), OPTIONS).files
    assert (grown.format, grown.lines, grown.parsed, grown.rejected) == ("zeek-conn", 10, 10, 0)
    assert grown.first_line == first.fingerprint["end_line"] + 1
    ports = sorted(lake.read("network").column("destination_port").to_pylist())
    assert ports == list(range(1, 31))  # each row once


def test_a_file_that_gave_no_row_is_read_again_next_time(tmp_path: Path) -> None:
    """A wrong --format parses nothing: once mended, the file must not be 'already in the lake'."""
    log = tmp_path / "kern.log"
    log.write_text(lines(0, 5))
    lake = Lake(tmp_path / "lake")
    wrong = IngestOptions(now=OPTIONS.now, format="clf")
    (bad,) = ingest([str(log)], lake, Config(), wrong).files
    assert (bad.parsed, bad.fingerprint) == (0, None)
    (good,) = ingest([str(log)], lake, Config(), OPTIONS).files
    assert (good.parsed, good.note) == (5, None)


def test_an_unreadable_input_is_a_warning_not_a_crash_on_the_next_run(
    tmp_path: Path, monkeypatch: Any
) -> None:
    log = tmp_path / "kern.log"
    log.write_text(lines(0, 5))
    other = tmp_path / "secret.log"
    other.write_text(lines(100, 5))
    lake = Lake(tmp_path / "lake")
    ingest([str(log)], lake, Config(), OPTIONS)
    # As for a file the user may not read (this suite runs as root: a chmod would not do).
    real_open = Path.open

    def refuse(self: Path, *args: Any, **kwargs: Any) -> Any:
        if self == other:
            raise PermissionError(13, "Permission denied", str(self))
        return real_open(self, *args, **kwargs)

    monkeypatch.setattr(Path, "open", refuse)
    run = ingest([str(log), str(other)], lake, Config(), OPTIONS)
    assert run.files[0].note is not None
    assert "Permission denied" in (run.files[1].error or "")


def test_a_broken_fingerprint_in_a_run_file_is_ignored(tmp_path: Path) -> None:
    import json

    log = tmp_path / "kern.log"
    log.write_text(lines(0, 5))
    lake = Lake(tmp_path / "lake")
    first = ingest([str(log)], lake, Config(), OPTIONS)
    (record,) = (tmp_path / "lake" / "_runs").glob(f"{first.run_id}.json")
    document = json.loads(record.read_text())
    del document["files"][0]["fingerprint"]["head_sha256"]
    record.write_text(json.dumps(document))
    (again,) = ingest([str(log)], lake, Config(), OPTIONS).files
    assert (again.parsed, again.note) == (5, None)  # read again: nothing to recognise it by


HOLD = IngestOptions(now=OPTIONS.now, hold_unfinished_line=True)


def test_a_half_written_last_line_is_left_for_the_next_run(tmp_path: Path) -> None:
    """A writer caught mid-line: DPT=22 must not be read as DPT=2, nor '2 WINDOW=...' later."""
    import os

    log = tmp_path / "kern.log"
    whole = lines(0, 30) + LINE.format(minute=0, second=30, port=22)
    cut = whole.rindex("DPT=22") + len("DPT=2")
    log.write_text(whole[:cut])
    lake = Lake(tmp_path / "lake")
    (first,) = ingest([str(log)], lake, Config(), HOLD).files
    assert (first.lines, first.parsed, first.rejected) == (30, 30, 0)
    assert first.note is not None and "left for the next run" in first.note
    assert first.fingerprint is not None and first.fingerprint["bytes"] == len(lines(0, 30))
    with log.open("a") as handle:
        handle.write(whole[cut:])
    (second,) = ingest([str(log)], lake, Config(), HOLD).files
    assert (second.first_line, second.lines, second.parsed, second.rejected) == (31, 1, 1, 0)
    assert second.note is None
    ports = lake.read("network").sort_by("log_line").column("destination_port").to_pylist()
    assert ports == [*range(1, 31), 22]
    # A file that stays without its newline is read to its end once it is quiet.
    log.write_text(whole[:cut])
    quiet = dt.datetime.now().timestamp() - 3600
    os.utime(log, (quiet, quiet))
    (old,) = ingest([str(log)], Lake(tmp_path / "other"), Config(), HOLD).files
    assert (old.lines, old.parsed, old.note) == (31, 31, None)


def test_a_fresh_lake_reads_an_unfinished_last_line_as_it_is(tmp_path: Path) -> None:
    log = tmp_path / "kern.log"
    log.write_text(lines(0, 3).rstrip("\n"))
    (stats,) = ingest([str(log)], Lake(tmp_path / "lake"), Config(), OPTIONS).files
    assert (stats.lines, stats.parsed, stats.note) == (3, 3, None)


def test_hunting_into_a_lake_holds_an_unfinished_line_and_a_plain_hunt_does_not(
    tmp_path: Path,
) -> None:
    log = tmp_path / "kern.log"
    log.write_text(lines(0, 3).rstrip("\n"))
    into_lake = hunt([str(log)], Config(), lake_dir=tmp_path / "lake", options=OPTIONS)
    assert into_lake.run is not None and into_lake.run.totals.lines == 2
    plain = hunt([str(log)], Config(), options=OPTIONS)
    assert plain.run is not None and plain.run.totals.lines == 3


def test_a_pipe_never_holds_back_its_last_line(tmp_path: Path) -> None:
    """stdin or a named pipe has no next run: its last line is read as it is."""
    import os

    from reconwatch.ingest.sources import HoldBack

    reader, writer = os.pipe()
    os.write(writer, b"x")
    os.close(writer)
    with open(reader, "rb") as pipe:
        assert HoldBack(pipe).keep(b"x") is False
    written = tmp_path / "kern.log"
    written.write_bytes(b"x")
    with written.open("rb") as plain:
        assert HoldBack(plain).keep(b"x") is True


def test_two_ingests_into_one_lake_at_once_store_each_line_once(tmp_path: Path) -> None:
    """Overlapping cron runs: the second waits for the first, then reads nothing new."""
    import threading

    log = tmp_path / "kern.log"
    log.write_text(lines(0, 400))
    lake_dir = tmp_path / "lake"
    results: list[Any] = []
    start = threading.Barrier(2)

    def run() -> None:
        start.wait()
        results.append(ingest([str(log)], Lake(lake_dir), Config(), OPTIONS))

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    parsed = sorted(r.totals.parsed for r in results)
    assert parsed == [0, 400]  # one run read the file, the other found it in the lake
    assert log_lines(Lake(lake_dir)) == list(range(1, 401))
