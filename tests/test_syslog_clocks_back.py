"""RFC 3164 stamps in the hour that comes twice when clocks go back, read in file order."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pyarrow.compute as pc

from reconwatch.config import Config, SyslogConfig
from reconwatch.hunt import hunt
from reconwatch.ingest.run import IngestOptions, ingest
from reconwatch.ingest.syslog import fall_backs
from reconwatch.lake import Lake

LINE = (
    "Oct 25 {clock} fw1 kernel: [1.0] DROP: IN=eth0 OUT= MAC=00 SRC=198.51.100.50 "
    "DST=203.0.113.10 LEN=44 TOS=0x00 PREC=0x00 TTL=43 ID=1 PROTO=TCP SPT=5555 DPT={port} "
    "WINDOW=1024 RES=0x00 SYN URGP=0\n"
)
PARIS = Config(syslog=SyslogConfig(timezone="Europe/Paris", year=2026))
OPTIONS = IngestOptions(now=dt.datetime(2026, 11, 28, tzinfo=dt.UTC))


def write(path: Path, clocks: list[str]) -> Path:
    path.write_text("".join(LINE.format(clock=c, port=n + 1) for n, c in enumerate(clocks)))
    return path


def utc_times(lake: Lake) -> list[dt.datetime]:
    table = lake.read("network").sort_by("log_line")
    return [
        t.replace(tzinfo=None) for t in pc.cast(table["timestamp"], "timestamp[us]").to_pylist()
    ]


def test_the_repeated_hours_of_a_year() -> None:
    (paris,) = fall_backs("Europe/Paris", 2026)
    assert paris[:2] == (dt.datetime(2026, 10, 25, 2), dt.datetime(2026, 10, 25, 3))
    assert (paris[2], paris[3]) == (7_200_000_000, 3_600_000_000)
    assert fall_backs("UTC", 2026) == ()


def test_a_scan_across_the_change_is_read_in_file_order(tmp_path: Path) -> None:
    """02:59:50-59 summer time, then 02:00:01-10 winter time: twenty seconds, not an hour."""
    clocks = [f"02:59:{s}" for s in range(50, 60)] + [f"02:00:{s:02d}" for s in range(1, 11)]
    log = write(tmp_path / "kern.log", clocks)
    lake = Lake(tmp_path / "lake")
    ingest([str(log)], lake, PARIS, OPTIONS)
    times = utc_times(lake)
    assert times[:10] == [dt.datetime(2026, 10, 25, 0, 59, s) for s in range(50, 60)]
    assert times[10:] == [dt.datetime(2026, 10, 25, 1, 0, s) for s in range(1, 11)]
    (case,) = hunt([str(log)], PARIS, options=OPTIONS).cases
    assert "vertical_scan" in {f.detection for f in case.findings}


def test_lines_a_little_late_are_not_the_change(tmp_path: Path) -> None:
    # A minute back (a late line) is not the clocks going back: still summer time.
    log = write(tmp_path / "kern.log", ["02:30:00", "02:31:00", "02:30:30", "03:10:00"])
    lake = Lake(tmp_path / "lake")
    ingest([str(log)], lake, PARIS, OPTIONS)
    assert utc_times(lake) == [
        dt.datetime(2026, 10, 25, 0, 30), dt.datetime(2026, 10, 25, 0, 31),
        dt.datetime(2026, 10, 25, 0, 30, 30), dt.datetime(2026, 10, 25, 2, 10),
    ]  # fmt: skip


def test_the_change_carries_across_batches(tmp_path: Path) -> None:
    clocks = [f"02:{m:02d}:00" for m in range(40, 60)] + [f"02:{m:02d}:30" for m in range(0, 20)]
    log = write(tmp_path / "kern.log", clocks)
    lake = Lake(tmp_path / "lake")
    # Small blocks: the jump back falls in a later batch than the summer lines.
    ingest([str(log)], lake, PARIS, IngestOptions(now=OPTIONS.now, block_bytes=4096))
    times = utc_times(lake)
    assert times[19] == dt.datetime(2026, 10, 25, 0, 59)
    assert times[20:] == [dt.datetime(2026, 10, 25, 1, m, 30) for m in range(0, 20)]


def test_an_impossible_date_beside_the_repeated_hour_stays_a_reject(tmp_path: Path) -> None:
    log = write(tmp_path / "kern.log", ["02:59:50", "02:00:10"])
    with log.open("a") as handle:
        handle.write(LINE.replace("Oct 25", "Oct 32").format(clock="02:30:00", port=99))
    lake = Lake(tmp_path / "lake")
    (stats,) = ingest([str(log)], lake, PARIS, OPTIONS).files
    assert (stats.parsed, stats.rejected) == (2, 1)
    assert utc_times(lake) == [
        dt.datetime(2026, 10, 25, 0, 59, 50), dt.datetime(2026, 10, 25, 1, 0, 10),
    ]  # fmt: skip
