"""A low-and-slow scan split over two hunts into the same OUT folder is found by the second."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import ibis
import pyarrow as pa
import pyarrow.parquet as pq

from reconwatch.config import Config, SlowScanConfig
from reconwatch.detect.slow import SLOW_STATE, filled_state
from reconwatch.hunt import SLOW_STATE_FILE, HuntResult, hunt
from reconwatch.ingest.run import IngestOptions

SOURCE = "198.51.100.7"
NOW = IngestOptions(now=dt.datetime(2026, 11, 28, 23, 0, tzinfo=dt.UTC))


def slow_lines(first: int, count: int) -> str:
    """One failed SYN every 6 minutes to a new host:port pair (10 per hour, never
    more than one per 5 minutes): under every fast threshold."""
    start = dt.datetime(2026, 11, 28, 0, 0, tzinfo=dt.UTC)
    lines = []
    for n in range(first, first + count):
        at = start + dt.timedelta(minutes=6 * n)
        lines.append(
            f"{at:%b %d %H:%M:%S} gw kernel: [UFW BLOCK] IN=eth0 OUT= MAC=00 SRC={SOURCE} "
            f"DST=203.0.113.{n % 200 + 1} LEN=44 TOS=0x00 PREC=0x00 TTL=43 ID=1 PROTO=TCP "
            f"SPT=40000 DPT={1000 + n} WINDOW=1024 RES=0x00 SYN URGP=0"
        )
    return "\n".join(lines) + "\n"


def _slow_sources(result: HuntResult) -> list[str]:
    return [s for c in result.cases for s in c.sources if "slow_scan" in c.detections]


def test_slow_scan_state_carries_across_hunts(tmp_path: Path) -> None:
    out = tmp_path / "out"
    morning, evening = tmp_path / "morning.log", tmp_path / "evening.log"
    morning.write_text(slow_lines(0, 60))  # 60 pairs: under min_pairs (100)
    evening.write_text(slow_lines(60, 60))  # 60 more the same day
    first = hunt([str(morning)], Config(), out_dir=out, options=NOW)
    assert _slow_sources(first) == []
    assert (out / SLOW_STATE_FILE).is_file()
    second = hunt([str(evening)], Config(), out_dir=out, options=NOW)
    assert _slow_sources(second) == [SOURCE]
    (case,) = [c for c in second.cases if SOURCE in c.sources]
    (finding,) = [f for f in case.findings if f.detection == "slow_scan"]
    assert finding.score == 120  # distinct pairs over both hunts
    # The new state was written beside the old one, then put in its place.
    state = out / SLOW_STATE_FILE
    assert state.is_file() and not state.with_name(state.name + ".partial").exists()
    # Merged counts stay integers in the file (DuckDB sums BIGINT as HUGEINT,
    # which Parquet would store as DOUBLE).
    assert pq.read_schema(state).field("event_count").type == pa.int64()
    assert pq.read_schema(state).names == SLOW_STATE.names


def test_without_state_each_half_is_below_threshold(tmp_path: Path) -> None:
    evening = tmp_path / "evening.log"
    evening.write_text(slow_lines(60, 60))
    alone = hunt([str(evening)], Config(), out_dir=tmp_path / "fresh", options=NOW)
    assert _slow_sources(alone) == []


def test_a_line_stamped_years_ahead_does_not_wipe_the_state(tmp_path: Path) -> None:
    out = tmp_path / "out"
    morning, evening = tmp_path / "morning.log", tmp_path / "evening.log"
    # A forged line (syslog over UDP is easy to forge) dated 2039, among the morning's.
    forged = slow_lines(0, 1).replace("Nov 28 00:00:00", "2039-06-01T00:00:00Z", 1)
    morning.write_text(slow_lines(0, 60) + forged.replace(f"SRC={SOURCE}", "SRC=192.0.2.250"))
    evening.write_text(slow_lines(60, 60))
    hunt([str(morning)], Config(), out_dir=out, options=NOW)
    saved = filled_state(ibis.memtable(pq.read_table(out / SLOW_STATE_FILE)), SlowScanConfig())
    days = set(saved.to_pyarrow().column("window_start").to_pylist())
    assert dt.datetime(2026, 11, 28, tzinfo=dt.UTC) in days  # the real day is still there
    assert _slow_sources(hunt([str(evening)], Config(), out_dir=out, options=NOW)) == [SOURCE]
