"""The scaling curve: docs/benchmarks.md's Scale table as a chart and as exponents.

Reads the table ``bench/scale.py``'s figures were recorded in (the first
table under "## Scale" in docs/benchmarks.md), prints for each phase how its
time grows with the events (the slope of log(seconds) over log(events): 1.0
is linear) and writes docs/scale-curve.svg: seconds (log-log) and peak
memory of the process tree against events, one line per phase. The chart is
drawn from the table, so the two cannot disagree: ``--check`` fails when the
SVG is not what the table gives (run by the test suite).

    .venv/bin/python bench/scale_curve.py            # print the exponents, write the SVG
    .venv/bin/python bench/scale_curve.py --check    # is docs/scale-curve.svg current?

Not a test: figures go to docs/benchmarks.md with the command that produced them.
"""

from __future__ import annotations

import argparse
import html
import itertools
import math
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "benchmarks.md"
SVG = ROOT / "docs" / "scale-curve.svg"
COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e")


@dataclass(frozen=True)
class Point:
    events: int
    phase: str
    seconds: float
    tree_mib: float


def _number(text: str) -> float | None:
    try:
        return float(text.replace(",", "").strip())
    except ValueError:
        return None


def read_table(doc: str) -> list[Point]:
    """The measured rows of the Scale table (rows not yet run are left out)."""
    section = doc.split("\n## Scale\n", 1)[1].split("\n## ", 1)[0]
    lines = section.splitlines()
    start = next(n for n, line in enumerate(lines) if line.startswith("|"))
    # The first table only: later ones in the section are other runs.
    rows = list(itertools.takewhile(lambda line: line.startswith("|"), lines[start:]))
    header = [cell.strip() for cell in rows[0].strip("|").split("|")]
    column = {name: index for index, name in enumerate(header)}
    points = []
    for line in rows[2:]:
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        events = _number(cells[column["events"]])
        seconds = _number(cells[column["seconds"]])
        tree = _number(cells[column["tree MiB"]])
        if events is None or seconds is None or tree is None:
            continue
        points.append(Point(int(events), cells[column["phase"]], seconds, tree))
    return points


def exponent(points: list[Point]) -> float | None:
    """Least-squares slope of log(seconds) over log(events); None under two sizes."""
    if len({p.events for p in points}) < 2:
        return None
    xs = [math.log(p.events) for p in points]
    ys = [math.log(p.seconds) for p in points]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    spread = sum((x - mx) ** 2 for x in xs)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / spread


def by_phase(points: list[Point]) -> dict[str, list[Point]]:
    phases: dict[str, list[Point]] = {}
    for point in points:
        phases.setdefault(point.phase, []).append(point)
    return {name: sorted(rows, key=lambda p: p.events) for name, rows in phases.items()}


def _f(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".")


def _panel(
    phases: dict[str, list[Point]],
    value: str,
    left: float,
    title: str,
    log_y: bool,
) -> list[str]:
    """One chart: events (log) across, ``value`` up, one polyline per phase."""
    width, height, top = 300.0, 220.0, 40.0
    events = sorted({p.events for rows in phases.values() for p in rows})
    values = [getattr(p, value) for rows in phases.values() for p in rows]
    lo_x, hi_x = math.log10(events[0]) - 0.15, math.log10(events[-1]) + 0.15
    if log_y:
        lo_y = math.floor(math.log10(min(values)))
        hi_y = math.ceil(math.log10(max(values)))
        ticks = [10.0**k for k in range(lo_y, hi_y + 1)]
    else:
        lo_y, step = 0, 10 ** math.floor(math.log10(max(values)))
        hi_y = math.ceil(max(values) / step) * step
        ticks = [float(t) for t in range(0, int(hi_y) + 1, int(step))]

    def x(v: float) -> float:
        return left + (math.log10(v) - lo_x) / (hi_x - lo_x) * width

    def y(v: float) -> float:
        share = (math.log10(v) - lo_y) / (hi_y - lo_y) if log_y else v / hi_y
        return top + height - share * height

    out = [
        f'<text x="{_f(left + width / 2)}" y="{_f(top - 12)}" text-anchor="middle" '
        f'font-weight="bold">{html.escape(title)}</text>',
        f'<rect x="{_f(left)}" y="{_f(top)}" width="{_f(width)}" height="{_f(height)}" '
        'fill="none" stroke="#999"/>',
    ]
    for tick in ticks:
        out.append(
            f'<line x1="{_f(left)}" x2="{_f(left + width)}" y1="{_f(y(tick))}" '
            f'y2="{_f(y(tick))}" stroke="#eee"/>'
            f'<text x="{_f(left - 4)}" y="{_f(y(tick) + 4)}" text-anchor="end">{tick:,.0f}</text>'
        )
    for count in events:
        label = f"{count / 1e6:g}M" if count >= 1_000_000 else f"{count:,}"
        out.append(
            f'<text x="{_f(x(count))}" y="{_f(top + height + 16)}" '
            f'text-anchor="middle">{html.escape(label)}</text>'
        )
    for colour, rows in zip(COLOURS, phases.values(), strict=False):
        points = " ".join(f"{_f(x(p.events))},{_f(y(getattr(p, value)))}" for p in rows)
        out.append(f'<polyline points="{points}" fill="none" stroke="{colour}" stroke-width="2"/>')
        for p in rows:
            out.append(
                f'<circle cx="{_f(x(p.events))}" cy="{_f(y(getattr(p, value)))}" r="3" '
                f'fill="{colour}"><title>{html.escape(p.phase)}, {p.events:,} events: '
                f"{getattr(p, value):,.1f}</title></circle>"
            )
    return out


def render(points: list[Point]) -> str:
    """The two-panel SVG: seconds (log-log) and tree MiB (log-linear) against events."""
    phases = by_phase(points)
    body = _panel(phases, "seconds", 70, "seconds (log scale)", log_y=True)
    body += _panel(phases, "tree_mib", 450, "peak MiB, process tree", log_y=False)
    for index, (colour, name) in enumerate(zip(COLOURS, phases, strict=False)):
        k = exponent(phases[name])
        slope = "" if k is None else f" (time ~ events^{k:.2f})"
        body.append(
            f'<rect x="{70 + index * 220}" y="292" width="12" height="12" fill="{colour}"/>'
            f'<text x="{86 + index * 220}" y="302">{html.escape(name + slope)}</text>'
        )
    return (
        '<svg xmlns="http://www.w3.org/2000/svg" width="780" height="315" '
        'font-family="sans-serif" font-size="11" role="img">'
        "<title>reconwatch: hunt time and memory against events (docs/benchmarks.md)</title>"
        + "".join(body)
        + "</svg>\n"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--doc", type=Path, default=DOC, help="the benchmarks page to read")
    parser.add_argument("--out", type=Path, default=SVG, help="the SVG to write")
    parser.add_argument("--check", action="store_true", help="fail if --out is not current")
    args = parser.parse_args()
    points = read_table(args.doc.read_text(encoding="utf-8"))
    svg = render(points)
    if args.check:
        current = args.out.read_text(encoding="utf-8") if args.out.exists() else ""
        if current != svg:
            sys.exit(f"{args.out} is not what {args.doc}'s Scale table gives: run {__file__}")
        print(f"{args.out} is current")
        return
    print(f"{'phase':<24} {'sizes':>5} {'exponent':>9}  events/s at each size")
    for name, rows in by_phase(points).items():
        k = exponent(rows)
        rates = ", ".join(f"{p.events / p.seconds:,.0f}" for p in rows)
        print(f"{name:<24} {len(rows):>5} {'-' if k is None else f'{k:.2f}':>9}  {rates}")
    args.out.write_text(svg, encoding="utf-8")
    print(f"# wrote {args.out}")


if __name__ == "__main__":
    main()
