"""Inline SVG charts of a case document: right values, accessible, bounded, escaped."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from typing import Any

import pytest

from reconwatch.report.charts import (
    MAX_COLUMNS,
    MAX_ROWS,
    MAX_SLOTS,
    dns_volume_svg,
    heatmap_svg,
    timeline_svg,
)

SVG = "{http://www.w3.org/2000/svg}"
#: Markup, an attribute breakout, an ANSI escape, a replacement character (from invalid
#: UTF-8) and a lone surrogate (a JSON document can carry one; XML cannot).
HOSTILE = '\x1b[31m<script>alert(1)</script>"><img src=x onerror=alert(1)>\ufffd\ud800'
CHARTS = (timeline_svg, heatmap_svg, dns_volume_svg)


def doc(series: dict[str, Any], case_id: str = "RW-20260930-00000001") -> dict[str, Any]:
    return {"id": case_id, "series": series}


SERIES: dict[str, Any] = {
    "bucket_seconds": 60,
    "timeline": [
        {"t": "2026-09-30T10:00:00Z", "dataset": "network", "events": 10},
        {"t": "2026-09-30T10:00:00Z", "dataset": "dns", "events": 5},
        {"t": "2026-09-30T10:02:00Z", "dataset": "network", "events": 5},
    ],
    "heatmap": {
        "hosts": ["10.0.0.2", "10.0.0.9", "10.0.0.10"],
        "ports": [22, 443],
        "counts": [[7, 1], [0, 4], [3, 0]],
    },
    "dns": [
        {"client": "198.51.100.7", "t": "2026-09-30T10:00:00Z", "queries": 8, "nxdomain": 6},
        {"client": "198.51.100.7", "t": "2026-09-30T10:01:00Z", "queries": 4, "nxdomain": 0},
        {"client": "198.51.100.8", "t": "2026-09-30T10:02:00Z", "queries": 2, "nxdomain": 2},
    ],
}


def parse(svg: str) -> ET.Element:
    """The chart as XML: it must be well-formed on its own (the web UI may serve it alone)."""
    return ET.fromstring(svg)


def tips(root: ET.Element) -> dict[str, ET.Element]:
    """Tooltip text -> the shape carrying it (bars and cells)."""
    return {
        shape.findtext(f"{SVG}title") or "": shape
        for shape in root.iter(f"{SVG}rect")
        if shape.find(f"{SVG}title") is not None
    }


@pytest.mark.parametrize("chart", CHARTS)
def test_charts_are_accessible_images(chart: Any) -> None:
    root = parse(chart(doc(SERIES)))
    assert root.tag == f"{SVG}svg"
    assert root.get("role") == "img"
    label = root.get("aria-label") or ""
    assert "RW-20260930-00000001" in label
    assert root.findtext(f"{SVG}title") == label
    assert root.find(f".//{SVG}script") is None


def test_timeline_stacks_each_dataset_with_a_tooltip_and_legend() -> None:
    root = parse(timeline_svg(doc(SERIES)))
    bars = tips(root)
    network = bars["2026-09-30T10:00:00Z network: 10 events"]
    dns = bars["2026-09-30T10:00:00Z dns: 5 events"]
    later = bars["2026-09-30T10:02:00Z network: 5 events"]
    # Heights are proportional to the counts, and the DNS part sits on the network part.
    # (coordinates are written to 0.1 px)
    assert float(network.get("height", 0)) == pytest.approx(
        2 * float(later.get("height", 0)), abs=0.15
    )
    assert float(network.get("height", 0)) == pytest.approx(
        2 * float(dns.get("height", 0)), abs=0.15
    )
    assert float(dns.get("y", 0)) + float(dns.get("height", 0)) == pytest.approx(
        float(network.get("y", 0)), abs=0.15
    )
    texts = [t.text for t in root.iter(f"{SVG}text")]
    assert "network" in texts and "dns" in texts  # the legend
    assert "events" in texts  # the value axis
    assert any("buckets of 1 minute" in (t or "") for t in texts)
    assert "10:00" in texts  # a time tick


def test_heatmap_rows_are_hosts_and_columns_are_ports() -> None:
    root = parse(heatmap_svg(doc(SERIES)))
    cells = tips(root)
    assert cells["10.0.0.2 port 22: 7 events"] is not None
    assert cells["10.0.0.2 port 443: 1 event"] is not None
    assert cells["10.0.0.9 port 443: 4 events"] is not None
    assert cells["10.0.0.9 port 22: none"] is not None
    # Same host -> same row (y); same port -> same column (x).
    assert cells["10.0.0.2 port 22: 7 events"].get("y") == cells["10.0.0.2 port 443: 1 event"].get(
        "y"
    )
    assert cells["10.0.0.2 port 22: 7 events"].get("x") == cells["10.0.0.10 port 22: 3 events"].get(
        "x"
    )
    grid = [k for k in cells if " port " in k]
    assert len(grid) == 3 * 2
    # Busier cells are darker: compare the fill's lightness.
    assert _lightness(cells["10.0.0.2 port 22: 7 events"]) < _lightness(
        cells["10.0.0.2 port 443: 1 event"]
    )
    texts = [t.text for t in root.iter(f"{SVG}text")]
    assert {"22", "443", "10.0.0.2", "destination port", "destination host"} <= set(texts)


def _lightness(shape: ET.Element) -> int:
    fill = shape.get("fill") or ""
    assert re.fullmatch(r"#[0-9a-f]{6}", fill), fill
    return sum(int(fill[i : i + 2], 16) for i in (1, 3, 5))


def test_dns_volume_has_one_strip_per_client_with_nxdomain() -> None:
    root = parse(dns_volume_svg(doc(SERIES)))
    bars = tips(root)
    key = "198.51.100.7 2026-09-30T10:00:00Z: 8 queries, 6 NXDOMAIN"
    shapes = [s for s in root.iter(f"{SVG}rect") if s.findtext(f"{SVG}title") == key]
    assert len(shapes) == 2  # the query bar and the NXDOMAIN bar over it
    heights = sorted(float(s.get("height", 0)) for s in shapes)
    assert heights[0] == pytest.approx(heights[1] * 6 / 8, abs=0.1)
    assert "198.51.100.8 2026-09-30T10:02:00Z: 2 queries, 2 NXDOMAIN" in bars
    texts = [t.text for t in root.iter(f"{SVG}text")]
    assert "198.51.100.7" in texts and "198.51.100.8" in texts
    assert "12 q, 6 NX" in texts and "queries" in texts and "NXDOMAIN" in texts


@pytest.mark.parametrize("chart", CHARTS)
@pytest.mark.parametrize(
    "case_doc",
    [
        {},
        {"series": None},
        {"series": "nonsense"},
        doc({"bucket_seconds": 60, "timeline": [], "heatmap": {}, "dns": []}),
        doc(
            {
                "timeline": [{"t": "yesterday", "events": 3}],
                "heatmap": {"hosts": ["a"]},
                "dns": [{"t": 5, "queries": "many"}],
            }
        ),
        doc({"heatmap": {"hosts": ["10.0.0.1"], "ports": [22], "counts": [[0]]}}),
    ],
)
def test_no_data_or_garbage_gives_no_chart(chart: Any, case_doc: dict[str, Any]) -> None:
    assert chart(case_doc) == ""


def test_hostile_text_is_escaped_and_inert() -> None:
    series = {
        "bucket_seconds": 1,
        "timeline": [{"t": "2026-09-30T10:00:00Z", "dataset": HOSTILE, "events": 3}],
        "heatmap": {"hosts": [HOSTILE], "ports": [80], "counts": [[2]]},
        "dns": [{"client": HOSTILE, "t": "2026-09-30T10:00:00Z", "queries": 1, "nxdomain": 0}],
    }
    for chart in CHARTS:
        svg = chart(doc(series, case_id=HOSTILE))
        assert svg
        assert "<script" not in svg and "<img" not in svg
        root = parse(svg)  # escaped text keeps the SVG well-formed
        tags = {e.tag for e in root.iter()}
        assert tags <= {f"{SVG}{t}" for t in ("svg", "title", "text", "rect", "line")}
        assert not any(name.startswith("on") for e in root.iter() for name in e.attrib)
        # The hostile text is there, as text (shortened for labels), never as markup.
        assert any("<script>alert(1)" in (e.text or "") for e in root.iter()), chart.__name__
        # Control characters are shown, not obeyed.
        assert "\x1b" not in svg
        assert any("\\x1b[31m" in (e.text or "") for e in root.iter()), chart.__name__


def test_charts_stay_bounded_whatever_the_document_says() -> None:
    # A hand-edited document: 10,000 one-second buckets, a 100 x 100 heat map, 100 clients.
    timeline = [
        {"t": f"2026-09-30T{10 + i // 3600:02d}:{i // 60 % 60:02d}:{i % 60:02d}Z",
         "dataset": "network", "events": 1}
        for i in range(10_000)
    ]  # fmt: skip
    heat = {
        "hosts": [f"10.0.{i // 256}.{i % 256}" for i in range(100)],
        "ports": list(range(100)),
        "counts": [[1] * 100 for _ in range(100)],
    }
    dns = [
        {"client": f"192.0.2.{i}", "t": "2026-09-30T10:00:00Z", "queries": 1, "nxdomain": 0}
        for i in range(100)
    ]
    series = {"bucket_seconds": 1, "timeline": timeline, "heatmap": heat, "dns": dns}
    bars = tips(parse(timeline_svg(doc(series))))
    assert 0 < len(bars) <= MAX_SLOTS
    assert sum(int(k.split(": ")[1].split()[0].replace(",", "")) for k in bars) == 10_000
    cells = [k for k in tips(parse(heatmap_svg(doc(series)))) if " port " in k]
    assert len(cells) == MAX_ROWS * MAX_COLUMNS
    strips = {k.split()[0] for k in tips(parse(dns_volume_svg(doc(series)))) if "queries" in k}
    assert len(strips) == MAX_ROWS


@pytest.mark.parametrize("chart", CHARTS)
def test_a_count_no_float_holds_is_no_data_not_a_crash(chart: Any) -> None:
    """JSON integers have no limit: 10**309 raised OverflowError and lost the whole page."""
    huge = 10**309
    series = {
        "bucket_seconds": 60,
        "timeline": [{"t": "2026-09-30T10:00:00Z", "dataset": "network", "events": huge}],
        "heatmap": {"hosts": ["10.0.0.2"], "ports": [22], "counts": [[huge]]},
        "dns": [{"client": "192.0.2.1", "t": "2026-09-30T10:00:00Z", "queries": huge}],
    }
    assert chart(doc(series)) == ""
    series["timeline"].append({"t": "2026-09-30T10:01:00Z", "dataset": "network", "events": 2})
    series["heatmap"]["counts"] = [[huge, 2]]
    series["heatmap"]["ports"] = [22, 80]
    series["dns"].append({"client": "192.0.2.1", "t": "2026-09-30T10:01:00Z", "queries": 2})
    shown = " | ".join(tips(parse(chart(doc(series)))))
    assert re.search(r": 2 (events|queries)\b", shown), shown
