"""Charts of one case as inline SVG, drawn on the server: no JavaScript, no network.

Each function takes one case document (a ``cases.json`` entry with its
``series``, see report/series.py) and returns SVG markup, or ``""`` when the
case has nothing to draw. The HTML report and the web UI both embed them, so
they depend on nothing but markupsafe: no template engine, no browser code.

Everything that came from a log (addresses, client names, dataset names, the
case id) goes through :func:`markupsafe.escape`; numbers are formatted from
``int``/``float`` values, never copied as text. A case document read back from
a store or a file is not trusted either: values are coerced, and the charts
cap what they draw (re-bucketing time, cutting rows) whatever the document says.

Colours are the Okabe-Ito palette (distinguishable with colour-blindness);
every bar and cell has a ``<title>`` tooltip with its exact value, and every
chart an accessible name (``role="img"``, ``aria-label``).
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Final

from markupsafe import escape

from reconwatch.report.text import clean, duration, plural

#: Charts never draw more than this, even from a hand-edited document.
MAX_SLOTS: Final = 120
MAX_ROWS: Final = 40
MAX_COLUMNS: Final = 40

FONT: Final = "system-ui, -apple-system, 'Segoe UI', sans-serif"
INK: Final = "#222"
GRID: Final = "#ddd"
#: Okabe-Ito, one per lake table, in stacking order.
DATASET_COLOURS: Final = {
    "network": "#0072B2",
    "dns": "#E69F00",
    "http": "#009E73",
    "auth": "#CC79A7",
    "alert": "#D55E00",
}
OTHER_COLOUR: Final = "#999999"
QUERY_COLOUR: Final = "#56B4E9"
NXDOMAIN_COLOUR: Final = "#D55E00"
#: Heat map scale, light to dark; an empty cell is drawn apart so zero is never a colour.
HEAT_LOW: Final = (0xDE, 0xEB, 0xF7)
HEAT_HIGH: Final = (0x08, 0x30, 0x6B)
HEAT_EMPTY: Final = "#f6f6f6"


# -- reading a case document defensively ------------------------------------------------


def _series(case_doc: Mapping[str, Any]) -> Mapping[str, Any]:
    series = case_doc.get("series")
    return series if isinstance(series, Mapping) else {}


#: The largest count a chart takes (a float holds every whole number up to it): a
#: JSON document may hold an integer with 400 digits, which no scale can draw.
MAX_COUNT: Final = 2**53


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, float) and math.isfinite(value):
        value = int(value)
    if isinstance(value, int) and abs(value) <= MAX_COUNT:
        return value
    return None


#: Epoch seconds of 0001-01-01T00:00:00Z and 9999-12-31T23:59:59Z: the stamps a
#: datetime (hence an axis label or a tooltip) can show.
FIRST_EPOCH: Final = int(dt.datetime(1, 1, 1, tzinfo=dt.UTC).timestamp())
LAST_EPOCH: Final = int(dt.datetime(9999, 12, 31, 23, 59, 59, tzinfo=dt.UTC).timestamp())


def _time(value: Any) -> int | None:
    """Epoch seconds of an ISO 8601 stamp (``Z`` or offset), or None.

    Kept within years 1-9999 in UTC, as series.py keeps its buckets: an offset
    can put a stamp outside them (``0001-01-01T00:00:00+01:00`` is in year 0).
    """
    if not isinstance(value, str) or len(value) > 40:
        return None
    try:
        stamp = dt.datetime.fromisoformat(value)
    except ValueError:
        return None
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=dt.UTC)
    return min(max(int(stamp.timestamp()), FIRST_EPOCH), LAST_EPOCH)


#: Code points XML 1.0 (hence standalone SVG) forbids that ``clean`` leaves alone:
#: lone surrogates (possible in a JSON document) and the two non-characters.
_NOT_XML: Final = re.compile("[\ud800-\udfff\ufffe\uffff]")


def safe_text(value: Any, limit: int = 60) -> str:
    """Log text fit for a label: control characters shown as ``\\xNN``, cut to ``limit``.

    Escaping for markup happens where the text is written; this makes the
    text itself valid in XML and UTF-8 (an ANSI escape is not) and short.
    """
    return _NOT_XML.sub("\ufffd", clean(str(value), limit))


# -- small drawing helpers ------------------------------------------------------------------


def _f(value: float) -> str:
    return f"{value:.1f}".removesuffix(".0")


def _svg(width: float, height: float, label: str, body: Iterable[str]) -> str:
    name = escape(label)
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="rw-chart" role="img" '
        f'aria-label="{name}" width="{_f(width)}" height="{_f(height)}" '
        f'viewBox="0 0 {_f(width)} {_f(height)}" font-family="{FONT}" font-size="11" '
        f'fill="{INK}"><title>{name}</title>' + "".join(body) + "</svg>"
    )


def _label(
    x: float, y: float, text: str, anchor: str = "start", extra: str = "", size: int = 11
) -> str:
    return (
        f'<text x="{_f(x)}" y="{_f(y)}" text-anchor="{anchor}" font-size="{size}"{extra}>'
        f"{escape(text)}</text>"
    )


def _rect(x: float, y: float, w: float, h: float, fill: str, tip: str, extra: str = "") -> str:
    return (
        f'<rect x="{_f(x)}" y="{_f(y)}" width="{_f(max(w, 0.5))}" height="{_f(max(h, 0.0))}" '
        f'fill="{fill}"{extra}><title>{escape(tip)}</title></rect>'
    )


def _scale(value: int) -> tuple[int, int]:
    """An axis maximum at or above ``value`` and its tick step (1, 2 or 5 x 10^k, whole numbers).

    At most five steps, so the ticks read 0, 5, 10, 15, 20 rather than 0, 1.25, 2.5...
    """
    value = max(value, 1)
    power = 1
    while True:
        for unit in (1, 2, 5):
            step = unit * power
            if step * 5 >= value:
                return step * -(-value // step), step
        power *= 10


def _stamp(epoch: int) -> str:
    return dt.datetime.fromtimestamp(epoch, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _tick(epoch: int, bucket: int, span: int) -> str:
    """An axis label as short as the scale allows."""
    moment = dt.datetime.fromtimestamp(epoch, dt.UTC)
    if span >= 86400 or bucket >= 86400:
        return moment.strftime("%m-%d %H:%M") if bucket < 86400 else moment.strftime("%Y-%m-%d")
    return moment.strftime("%H:%M:%S") if bucket < 60 else moment.strftime("%H:%M")


class _Slots:
    """Time buckets of a chart: a dense run from the first to the last, at most MAX_SLOTS.

    Buckets come from the document; if there would be too many (a document
    not made by reconwatch), neighbours are merged into wider ones. A bucket
    never starts before year 1 (no datetime could label it): one that would
    starts at 0001-01-01T00:00:00Z instead, as series.first_bucket does.
    """

    def __init__(self, stamps: Sequence[int], bucket: int) -> None:
        bucket = max(bucket, 1)
        start = max(min(stamps) // bucket * bucket, FIRST_EPOCH)
        end = max(stamps)
        while (end - start) // bucket + 1 > MAX_SLOTS:
            bucket *= 2
            start = max(min(stamps) // bucket * bucket, FIRST_EPOCH)
        self.bucket = bucket
        self.start = start
        self.count = (end - start) // bucket + 1

    def index(self, epoch: int) -> int:
        return (epoch - self.start) // self.bucket

    def epoch(self, index: int) -> int:
        return self.start + index * self.bucket


def _time_axis(slots: _Slots, left: float, width: float, y: float, slot_width: float) -> list[str]:
    span = slots.count * slots.bucket
    body = [f'<line x1="{_f(left)}" y1="{_f(y)}" x2="{_f(left + width)}" y2="{_f(y)}" '
            f'stroke="{INK}"/>']  # fmt: skip
    ticks = min(6, slots.count)
    seen: set[int] = set()
    for k in range(ticks):
        index = round(k * (slots.count - 1) / max(ticks - 1, 1))
        if index in seen:
            continue
        seen.add(index)
        x = left + index * slot_width
        body.append(f'<line x1="{_f(x)}" y1="{_f(y)}" x2="{_f(x)}" y2="{_f(y + 4)}" '
                    f'stroke="{INK}"/>')  # fmt: skip
        body.append(_label(x, y + 15, _tick(slots.epoch(index), slots.bucket, span), "middle"))
    caption = f"time (UTC) from {_stamp(slots.start)}, buckets of {duration(slots.bucket)}"
    body.append(_label(left + width / 2, y + 30, caption, "middle", ' fill="#555"'))
    return body


def _value_axis(
    maximum: int, step: int, left: float, top: float, height: float, width: float
) -> list[str]:
    body = []
    for value in range(0, maximum + 1, step):
        y = top + height - height * value / maximum
        body.append(f'<line x1="{_f(left)}" y1="{_f(y)}" x2="{_f(left + width)}" y2="{_f(y)}" '
                    f'stroke="{GRID}"/>')  # fmt: skip
        body.append(_label(left - 4, y + 4, f"{value:,}", "end"))
    return body


def _legend(items: Sequence[tuple[str, str]], x: float, y: float) -> list[str]:
    body = []
    for colour, name in items:
        body.append(f'<rect x="{_f(x)}" y="{_f(y - 9)}" width="10" height="10" fill="{colour}"/>')
        body.append(_label(x + 14, y, name))
        x += 24 + 7 * len(name)
    return body


# -- the charts ---------------------------------------------------------------------------------


def timeline_svg(case_doc: Mapping[str, Any]) -> str:
    """Events over time from the case's sources, stacked by lake table."""
    series = _series(case_doc)
    raw = series.get("timeline")
    points: list[tuple[int, str, int]] = []
    for item in raw if isinstance(raw, list) else []:
        if not isinstance(item, Mapping):
            continue
        epoch, events = _time(item.get("t")), _int(item.get("events"))
        if epoch is None or events is None or events <= 0:
            continue
        points.append((epoch, safe_text(item.get("dataset", ""), 20), events))
    if not points:
        return ""
    slots = _Slots([p[0] for p in points], _int(series.get("bucket_seconds")) or 1)
    datasets = [d for d in DATASET_COLOURS if any(p[1] == d for p in points)]
    datasets += sorted({p[1] for p in points} - set(datasets))
    stacks: dict[int, dict[str, int]] = {}
    for epoch, dataset, events in points:
        stack = stacks.setdefault(slots.index(epoch), {})
        stack[dataset] = stack.get(dataset, 0) + events
    total = sum(p[2] for p in points)
    maximum, step = _scale(max(sum(s.values()) for s in stacks.values()))

    width, height = 720.0, 270.0
    left, right, top, bottom = 64.0, 16.0, 16.0, 84.0
    plot_w, plot_h = width - left - right, height - top - bottom
    slot_w = plot_w / slots.count
    bar_w = max(slot_w * 0.85, 1.0)
    body = _value_axis(maximum, step, left, top, plot_h, plot_w)
    body.append(
        _label(14, top + plot_h / 2, "events", "middle",
               f' transform="rotate(-90 14 {_f(top + plot_h / 2)})"')
    )  # fmt: skip
    for index, stack in sorted(stacks.items()):
        x = left + index * slot_w + (slot_w - bar_w) / 2
        y = top + plot_h
        when = _stamp(slots.epoch(index))
        for dataset in datasets:
            events = stack.get(dataset, 0)
            if not events:
                continue
            h = plot_h * events / maximum
            y -= h
            colour = DATASET_COLOURS.get(dataset, OTHER_COLOUR)
            body.append(
                _rect(x, y, bar_w, h, colour, f"{when} {dataset}: {plural(events, 'event')}")
            )
    body += _time_axis(slots, left, plot_w, top + plot_h, slot_w)
    legend = [(DATASET_COLOURS.get(d, OTHER_COLOUR), d) for d in datasets]
    body += _legend(legend, left, height - 12)
    label = (
        f"Events over time from case {safe_text(case_doc.get('id', ''))}: {total:,} events "
        f"({', '.join(datasets)}) in buckets of {duration(slots.bucket)}"
    )
    return _svg(width, height, label, body)


def _heat_colour(count: int, maximum: int) -> str:
    # Log scale: a scan's few busy cells would otherwise wash out every other one.
    share = math.log1p(count) / math.log1p(maximum) if maximum > 0 else 0.0
    rgb = (round(lo + (hi - lo) * share) for lo, hi in zip(HEAT_LOW, HEAT_HIGH, strict=True))
    return "#" + "".join(f"{c:02x}" for c in rgb)


def heatmap_svg(case_doc: Mapping[str, Any]) -> str:
    """Destination hosts (rows) x destination ports (columns), coloured by events."""
    heat = _series(case_doc).get("heatmap")
    if not isinstance(heat, Mapping):
        return ""
    raw_hosts, raw_ports, counts = heat.get("hosts"), heat.get("ports"), heat.get("counts")
    if not (isinstance(raw_hosts, list) and isinstance(raw_ports, list)):
        return ""
    # Rows and columns keep their positions: they index ``counts``.
    hosts = [safe_text(h, 45) for h in raw_hosts[:MAX_ROWS]]
    ports = [_int(p) for p in raw_ports[:MAX_COLUMNS]]
    if not hosts or not ports or not isinstance(counts, list):
        return ""
    grid: list[list[int]] = []
    for r in range(len(hosts)):
        row = counts[r] if r < len(counts) and isinstance(counts[r], list) else []
        grid.append([max(_int(row[c]) or 0, 0) if c < len(row) else 0 for c in range(len(ports))])
    maximum = max(max(row) for row in grid)
    if maximum <= 0:
        return ""

    cell = 16.0
    left = 30.0 + 6.6 * max(len(h) for h in hosts)
    top = 64.0
    width = max(left + cell * len(ports) + 16, 360.0)
    height = top + cell * len(hosts) + 56
    body = [
        _label(left + cell * len(ports) / 2, 12, "destination port", "middle", ' fill="#555"'),
        _label(12, top + cell * len(hosts) / 2, "destination host", "middle",
               f' fill="#555" transform="rotate(-90 12 {_f(top + cell * len(hosts) / 2)})"'),
    ]  # fmt: skip
    for c, port in enumerate(ports):
        x, y = left + c * cell + cell / 2 + 4, top - 6
        text = "?" if port is None else str(port)
        body.append(_label(x, y, text, "start", f' transform="rotate(-90 {_f(x)} {_f(y)})"'))
    for r, host in enumerate(hosts):
        y = top + r * cell
        body.append(_label(left - 6, y + cell - 4, host, "end", ' font-family="monospace"'))
        for c, port in enumerate(ports):
            count = grid[r][c]
            fill = _heat_colour(count, maximum) if count else HEAT_EMPTY
            tip = f"{host} port {port}: {plural(count, 'event') if count else 'none'}"
            body.append(
                _rect(left + c * cell, y, cell - 1, cell - 1, fill, tip,
                      "" if count else ' stroke="#e4e4e4"')
            )  # fmt: skip
    # Legend: five steps of the (log) scale with their counts.
    y = top + cell * len(hosts) + 24
    body.append(_label(left, y, "events:", "end", ' fill="#555"'))
    marks = (round(math.expm1(math.log1p(maximum) * k / 4)) for k in range(1, 5))
    steps = sorted({1, *(m for m in marks if m >= 1)})
    x = left + 6
    for value in steps:
        body.append(_rect(x, y - 10, 14, 14, _heat_colour(value, maximum), plural(value, "event")))
        body.append(_label(x + 18, y + 1, f"{value:,}"))
        x += 30 + 7 * len(f"{value:,}")
    total = sum(sum(row) for row in grid)
    label = (
        f"Ports x hosts heat map of case {safe_text(case_doc.get('id', ''))}: "
        f"{len(hosts)} hosts x {len(ports)} ports, {total:,} events, busiest cell {maximum:,}"
    )
    return _svg(width, height, label, body)


def dns_volume_svg(case_doc: Mapping[str, Any]) -> str:
    """DNS queries per client over time (one strip per client), NXDOMAIN answers overlaid."""
    series = _series(case_doc)
    raw = series.get("dns")
    points: list[tuple[str, int, int, int]] = []
    for item in raw if isinstance(raw, list) else []:
        if not isinstance(item, Mapping):
            continue
        epoch, queries = _time(item.get("t")), _int(item.get("queries"))
        if epoch is None or queries is None or queries <= 0:
            continue
        nx = min(max(_int(item.get("nxdomain")) or 0, 0), queries)
        points.append((safe_text(item.get("client", ""), 45), epoch, queries, nx))
    if not points:
        return ""
    clients = list(dict.fromkeys(p[0] for p in points))[:MAX_ROWS]
    slots = _Slots([p[1] for p in points], _int(series.get("bucket_seconds")) or 1)
    cells: dict[tuple[str, int], list[int]] = {}
    for client, epoch, queries, nx in points:
        if client not in clients:
            continue
        cell = cells.setdefault((client, slots.index(epoch)), [0, 0])
        cell[0] += queries
        cell[1] += nx
    maximum, _ = _scale(max(c[0] for c in cells.values()))

    row_h, gap = 30.0, 6.0
    left = 40.0 + 6.6 * max(len(c) for c in clients)
    right, top = 16.0, 22.0
    width = max(720.0, left + 240)
    plot_w = width - left - right
    height = top + len(clients) * (row_h + gap) + 64
    slot_w = plot_w / slots.count
    bar_w = max(slot_w * 0.85, 1.0)
    body = [_label(left, 12, f"queries per bucket (scale 0 to {maximum:,} per strip)", "start",
                   ' fill="#555"')]  # fmt: skip
    for r, client in enumerate(clients):
        base = top + r * (row_h + gap) + row_h
        body.append(f'<line x1="{_f(left)}" y1="{_f(base)}" x2="{_f(left + plot_w)}" '
                    f'y2="{_f(base)}" stroke="{GRID}"/>')  # fmt: skip
        sent = sum(v[0] for (c, _), v in cells.items() if c == client)
        failed = sum(v[1] for (c, _), v in cells.items() if c == client)
        body.append(_label(left - 6, base - 12, client, "end", ' font-family="monospace"'))
        body.append(_label(left - 6, base - 1, f"{sent:,} q, {failed:,} NX", "end",
                           ' fill="#555"', 9))  # fmt: skip
        for (c, index), (queries, nx) in sorted(cells.items()):
            if c != client:
                continue
            x = left + index * slot_w + (slot_w - bar_w) / 2
            h = row_h * queries / maximum
            when = _stamp(slots.epoch(index))
            tip = f"{client} {when}: {queries:,} queries, {nx:,} NXDOMAIN"
            body.append(_rect(x, base - h, bar_w, h, QUERY_COLOUR, tip))
            if nx:
                nh = row_h * nx / maximum
                body.append(_rect(x, base - nh, bar_w, nh, NXDOMAIN_COLOUR, tip))
    axis_y = top + len(clients) * (row_h + gap)
    body += _time_axis(slots, left, plot_w, axis_y, slot_w)
    body += _legend([(QUERY_COLOUR, "queries"), (NXDOMAIN_COLOUR, "NXDOMAIN")], left, height - 8)
    total = sum(c[0] for c in cells.values())
    label = (
        f"DNS query volume of case {safe_text(case_doc.get('id', ''))}: {total:,} queries from "
        f"{plural(len(clients), 'client')} in buckets of {duration(slots.bucket)}"
    )
    return _svg(width, height, label, body)
