"""Events stamped in year 1 (Go's zero time) or 9999 never crash the series and reports."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

from conftest import network_rows
from reconwatch.cases import Activity, Case
from reconwatch.config import Config
from reconwatch.engine import Engine
from reconwatch.hunt import hunt
from reconwatch.lake import Lake
from reconwatch.report.casejson import case_to_dict
from reconwatch.report.charts import dns_volume_svg, heatmap_svg, timeline_svg
from reconwatch.report.series import FIRST_EPOCH, _iso, attach_series, first_bucket

SCANNER = "192.0.2.66"
YEAR_1 = dt.datetime(1, 1, 1, tzinfo=dt.UTC)
YEAR_9999 = dt.datetime(9999, 12, 31, 23, 59, 59, tzinfo=dt.UTC)
NOW = dt.datetime(2026, 11, 28, 4, 0, tzinfo=dt.UTC)


def _series(tmp_path: Path, stamps: list[dt.datetime]) -> dict[str, Any]:
    rows = [
        {"source_ip": SCANNER, "destination_ip": "203.0.113.10", "destination_port": 1000 + n,
         "timestamp": stamp}
        for n, stamp in enumerate(stamps)
    ]  # fmt: skip
    lake = Lake(tmp_path / "lake")
    lake.write("network", network_rows(rows), "test")
    engine = Engine(lake)
    case = Case(id="RW-1", sources=[SCANNER], findings=[], activity=Activity())
    try:
        attach_series(engine.tables(), [case])
    finally:
        engine.close()
    assert case.series is not None
    return case.series


def _charts_render(series: dict[str, Any]) -> None:
    doc = {"series": json.loads(json.dumps(series))}
    for draw in (timeline_svg, heatmap_svg, dns_volume_svg):
        draw(doc)


def test_a_year_1_event_among_recent_ones(tmp_path: Path) -> None:
    stamps = [NOW + dt.timedelta(seconds=n) for n in range(30)] + [YEAR_1]
    series = _series(tmp_path, stamps)
    times = [dt.datetime.fromisoformat(p["t"]) for p in series["timeline"]]
    assert sum(p["events"] for p in series["timeline"]) == 31
    # The year-1 event sits in the first bucket that starts in year 1 or later.
    first = min(times) - YEAR_1
    assert first.total_seconds() < series["bucket_seconds"] and max(times) <= NOW
    _charts_render(series)


def test_year_9999_and_year_1_together(tmp_path: Path) -> None:
    series = _series(tmp_path, [YEAR_1, YEAR_9999, NOW])
    assert sum(p["events"] for p in series["timeline"]) == 3
    _charts_render(series)


def test_bucket_starts_stay_in_year_1_or_later() -> None:
    for size in (1, 86400, 7 * 86400, 7540 * 86400, 37000 * 86400):
        first = first_bucket(size)
        assert first % size == 0 and FIRST_EPOCH <= first < FIRST_EPOCH + size
    assert _iso(FIRST_EPOCH - 10**9) == "0001-01-01T00:00:00Z"
    assert _iso(10**13) == "9999-12-31T23:59:59Z"


def _flow(n: int, stamp: str) -> str:
    return json.dumps({
        "timestamp": stamp, "flow_id": n, "event_type": "flow", "src_ip": SCANNER,
        "src_port": 40000 + n, "dest_ip": "203.0.113.10", "dest_port": 1 + n, "proto": "TCP",
        "flow": {"pkts_toserver": 1, "pkts_toclient": 0, "state": "new", "reason": "timeout"},
        "tcp": {"tcp_flags": "02", "syn": True, "state": "syn_sent"},
    })  # fmt: skip


def test_hunt_over_eve_with_go_zero_time_writes_its_reports(tmp_path: Path) -> None:
    lines = [_flow(n, f"2026-11-28T04:00:{n:02d}.000000+0000") for n in range(30)]
    lines.append(_flow(99, "0001-01-01T00:00:00Z"))
    eve = tmp_path / "eve.json"
    eve.write_text("\n".join(lines) + "\n")
    clf = tmp_path / "access.log"
    clf.write_text(
        f'{SCANNER} - - [02/Jan/0001:00:00:00 +0000] "GET / HTTP/1.1" 404 10 "-" "curl"\n'
        f'{SCANNER} - - [28/Nov/2026:04:00:00 +0000] "GET /x HTTP/1.1" 404 10 "-" "curl"\n'
    )
    out = tmp_path / "out"
    result = hunt([str(eve), str(clf)], Config(), out_dir=out, lake_dir=tmp_path / "lake")
    assert result.cases, "the scanner should make a case"
    doc = json.loads((out / "cases.json").read_text())
    assert doc["cases"]
    for case in result.cases:
        case_to_dict(case)
