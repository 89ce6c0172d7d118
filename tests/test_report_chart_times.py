"""Chart time axes: UTC, within years 1-9999, whatever offsets and buckets a document holds."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

import pytest

from reconwatch.report.charts import dns_volume_svg, timeline_svg

SVG = "{http://www.w3.org/2000/svg}"


def _doc(stamps: list[str], bucket: int) -> dict[str, Any]:
    return {
        "id": "RW-1",
        "series": {
            "bucket_seconds": bucket,
            "timeline": [{"t": t, "dataset": "network", "events": 1} for t in stamps],
            "dns": [{"client": "192.0.2.1", "t": t, "queries": 1, "nxdomain": 0} for t in stamps],
        },
    }


def _bar_total(svg: str, unit: str) -> int:
    total = 0
    for rect in ET.fromstring(svg).iter(f"{SVG}rect"):
        tip = rect.findtext(f"{SVG}title") or ""
        if unit in tip:  # no NXDOMAIN here, so no overlay bar
            words = tip.split(": ", 1)[1].split()
            total += int(words[0].replace(",", ""))
    return total


@pytest.mark.parametrize(
    ("stamps", "bucket"),
    [
        # An offset puts these stamps in year 0 and year 10000 (UTC).
        (["0001-01-01T00:00:00+01:00"], 60),
        (["9999-12-31T23:59:59-01:00"], 60),
        # Go's zero time among recent events, in a document whose one-minute buckets
        # are too many: the chart's wider buckets must not start before year 1.
        (["0001-01-01T00:00:00Z", "2026-09-30T10:00:00Z"], 60),
        (["0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z"], 7 * 86400),
        (["0001-01-01T00:00:00Z"], 7 * 86400),
        (["0001-01-01T00:00:00Z", "2026-09-30T10:00:00Z"], 10**12),
    ],
)
def test_extreme_stamps_and_buckets_draw_every_event(stamps: list[str], bucket: int) -> None:
    timeline = timeline_svg(_doc(stamps, bucket))
    assert _bar_total(timeline, "event") == len(stamps)
    dns = dns_volume_svg(_doc(stamps, bucket))
    assert _bar_total(dns, "queries") == len(stamps)
    for svg in (timeline, dns):
        label = ET.fromstring(svg).get("aria-label") or ""
        assert "buckets of" in label
