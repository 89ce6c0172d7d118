"""Port scans: vertical (many ports, one host), horizontal (one port, many hosts), block.

All three count *failed* attempts only (``connection_outcome == 'failed'``):
a scanner mostly hits closed or filtered ports, while a busy legitimate client
mostly succeeds, so counting failures is what separates the two (Zeek's scan
policy does the same). Events without a destination port (ICMP, other IP
protocols) are left out: they have no port to count.

Windows
-------
A tumbling window misses a scan split across its boundary: 16 ports probed
from 10:04:52 to 10:05:07 are 8 + 8 on a 5-minute grid. Each windowed
detection therefore runs on two grids of the same width ``W``, offset by
``W // 2`` (grid A starts at multiples of ``W``, grid B half a window later).
Any burst shorter than ``W / 2`` then lies wholly inside some window of one
of the grids, whichever second it started in.

The two grids overlap, so one burst inside one window usually shows up twice
(once per grid). Number the windows of both grids along time as slots
``k = 0, 1, 2, ...`` (even k: grid A, odd k: grid B); window k overlaps only
windows k-1 and k+1. Per source and key (the scanned host, the probed port,
...) the candidate windows that met the threshold form runs of consecutive
slots, and inside a run we keep every other window -- the even or the odd
ones -- so the kept findings never overlap and every dropped window overlaps
a kept one. The alternation kept is the one holding the strongest window
(highest score); on a tie, the one covering more events (the sum of its
windows' ``event_count``: each event lies in one window of each grid, so
this is how many of the run's events its findings hold, the better coverage
of a long scan); on a tie again, grid A (windows on round times, which
analysts expect). So a scan inside one window yields one finding, a scan
straddling a boundary is found once on grid B, and a steady scan over an
hour yields the twelve non-overlapping grid-A windows, not 23. (A sum of
scores would not do: a scan retried inside one grid-A window shows its full
distinct count in both grid-B windows around it, whose scores then add up
to twice the grid-A one for the same probes.)

Two grids still cut a burst longer than half a window in the worst
alignment (20 probes over 285 s, 75 s into a window: 15 + 5 on one grid,
5 + 15 on the other). ``vertical_scan`` and ``horizontal_scan`` therefore
also look for windows starting at any probe where both grids came close
(``cut_windows``: linear in the few near misses' probes); such a window is
a finding when it overlaps none the grids kept. ``block_scan`` (three
counts at once) keeps the two grids only.

Everything here is the portable Ibis subset (integer division of epoch
seconds, GROUP BY with COUNT(DISTINCT), window functions over a partition with
an ORDER BY, sorted collected arrays), so DuckDB and Spark give the same rows.
The window helpers are shared with the other windowed detections.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.types as ir

from reconwatch.config import BlockScanConfig, HorizontalScanConfig, VerticalScanConfig
from reconwatch.detect.base import FINDINGS

VERTICAL: Final = "vertical_scan"
HORIZONTAL: Final = "horizontal_scan"
BLOCK: Final = "block_scan"

#: Ibis types of the findings columns (nullable: Ibis cannot promise non-null
#: after an aggregation; the runner conforms the executed result to FINDINGS).
FINDING_TYPES: Final[dict[str, dt.DataType]] = {
    field.name: dt.DataType.from_pyarrow(field.type) for field in FINDINGS
}

#: Columns added by :func:`window_slots`.
SLOT: Final = "window_slot"
WINDOW_START: Final = "window_start"


def failed_probes(network: ir.Table) -> ir.Table:
    """Failed attempts that name a destination port: what the port-scan counts see."""
    return network.filter(
        (network.connection_outcome == "failed") & network.destination_port.notnull()
    )


def busy_sources(events: ir.Table, minimum: int) -> ir.Table:
    """``events`` of the sources with at least ``minimum`` of them in the whole input.

    A pre-filter that never changes a result: a window's distinct count of
    anything is at most its events, which are at most the source's events, so
    a source with fewer than ``minimum`` events meets no threshold of
    ``minimum``. It is cheap (one plain count per source, no distinct counts,
    no window grids) and on real traffic drops nearly every source: most of
    the internet sends a firewall a handful of packets. The costly distinct
    counts then run over the few busy sources only (measured on 2M events:
    1.1M failed probes from 800,000 sources, 7,560 of them from sources with
    16 or more).
    """
    counts = events.group_by("source_ip").aggregate(_events=events.count())
    busy = counts.filter(counts._events >= minimum).select("source_ip")
    return events.semi_join(busy, "source_ip")


def busy_sources_read_once(events: ir.Table, minimum: int) -> ir.Table:
    """``busy_sources`` for ``events`` that are costly to compute: the same rows.

    ``busy_sources`` reads ``events`` twice (the count, then the rows), and
    DuckDB computes a subquery read twice twice. Here the count per source
    is a window over the rows, which reads them once, at the price of
    partitioning them: slower on a plain scan (block_scan 0.12 to 0.18 s on
    20M generated lines), faster on a join (dark_space_probe 2.8 to 1.5 s).
    Sources without an address (null) are dropped, as the semi-join drops them.
    """
    counted = events.mutate(_events=events.source_ip.count().over(group_by="source_ip"))
    return counted.filter(counted._events >= minimum).drop("_events")


def window_slots(events: ir.Table, window_seconds: int) -> ir.Table:
    """Each event twice, once in its grid-A window and once in its grid-B window.

    Adds ``window_slot`` (k: 2n for grid-A window n, 2n+1 for grid-B window n)
    and ``window_start`` (a UTC timestamp). The epoch seconds are never cast
    before the floor division: DuckDB's epoch is fractional and a cast would
    round 10:04:59.7 into the next window, while Spark truncates.
    """
    width = int(window_seconds)
    half = width // 2
    grids = []
    for grid, offset in ((0, 0), (1, half)):
        epoch = events.timestamp.epoch_seconds()
        window = (epoch - offset) // width
        grids.append(
            events.mutate(
                **{
                    SLOT: (window * 2 + grid).cast("int64"),
                    WINDOW_START: (window * width + offset)
                    .cast("int64")
                    .as_timestamp("s")
                    .cast(FINDING_TYPES["window_start"]),
                }
            )
        )
    return ibis.union(grids[0], grids[1], distinct=False)


#: The columns ``scan_metrics`` reads.
SCAN_COLUMNS: Final = ("timestamp", "destination_ip", "destination_port")


def scan_metrics(events: ir.Table) -> dict[str, ir.Value]:
    """The aggregates every scan finding carries, over a grouped ``events`` table."""
    return {
        "first_seen": events.timestamp.min(),
        "last_seen": events.timestamp.max(),
        "event_count": events.count(),
        "target_count": events.destination_ip.nunique(),
        "port_count": events.destination_port.nunique(),
        # Sorted so that the arrays are identical whatever order the engine
        # met the rows in (collect alone gives no order guarantee).
        "targets": events.destination_ip.collect(distinct=True).sort(),
        "ports": events.destination_port.collect(distinct=True).sort(),
    }


def best_windows(candidates: ir.Table, keys: Sequence[str]) -> ir.Table:
    """Keep the non-overlapping best windows per ``keys`` (see the module docstring).

    ``candidates`` has one row per ``keys`` + ``window_slot`` that met its
    threshold, with a numeric ``score`` and the window's ``event_count``. Runs
    of consecutive slots are found with the gaps-and-islands trick (slot minus
    row number is constant along a run); then every other slot of a run is kept.
    """
    key_columns = list(keys)
    ordered = ibis.window(group_by=key_columns, order_by=[SLOT])
    numbered = candidates.mutate(_row=ibis.row_number().over(ordered))
    runs = numbered.mutate(_run=numbered[SLOT] - numbered._row, _even=numbered[SLOT] % 2 == 0)
    run = ibis.window(group_by=[*key_columns, "_run"])
    even_score = ibis.ifelse(runs._even, runs.score, None)
    odd_score = ibis.ifelse(runs._even, None, runs.score)
    even_events = ibis.ifelse(runs._even, runs.event_count, None)
    odd_events = ibis.ifelse(runs._even, None, runs.event_count)
    scored = runs.mutate(
        _even_max=even_score.max().over(run).coalesce(0),
        _odd_max=odd_score.max().over(run).coalesce(0),
        _even_sum=even_events.sum().over(run).coalesce(0),
        _odd_sum=odd_events.sum().over(run).coalesce(0),
    )
    keep_even = (scored._even_max > scored._odd_max) | (
        (scored._even_max == scored._odd_max) & (scored._even_sum >= scored._odd_sum)
    )
    kept = scored.filter(ibis.ifelse(scored._even, keep_even, ~keep_even))
    return kept.drop("_row", "_run", "_even", "_even_max", "_odd_max", "_even_sum", "_odd_sum")


def as_findings(table: ir.Table, detection: str, **columns: Any) -> ir.Table:
    """``table`` as exactly the FINDINGS columns, in order and with their types.

    ``columns`` gives values for findings columns ``table`` lacks (expressions
    or literals); any column still missing is null.
    """
    values: dict[str, Any] = {"detection": ibis.literal(detection)}
    for name in FINDING_TYPES:
        if name in columns:
            values[name] = columns[name]
        elif name != "detection" and name in table.columns:
            values[name] = table[name]
    selected = {}
    for name, dtype in FINDING_TYPES.items():
        value = values.get(name)
        expr = ibis.null() if value is None else value
        if not isinstance(expr, ir.Value):
            expr = ibis.literal(expr)
        selected[name] = expr.cast(dtype)
    return table.select(**selected)


def _windowed_findings(
    events: ir.Table,
    window_seconds: int,
    keys: Sequence[str],
    counted: str,
    minimum: int,
    score: str,
) -> ir.Table:
    """The windows whose distinct ``counted`` values reach ``minimum``, with
    full metrics and ``score`` (a metric's name) as the score: the best of
    both grids (``best_windows``), then the windows both grids cut
    (``cut_windows``).

    Two passes over the grids, because nearly every (key, window) group is
    innocent: the first counts distinct values per group (cheap); only the
    groups over the threshold are then re-read to collect their sorted target
    and port arrays, which is the costly part. On 2M events this is several
    times faster than collecting arrays for every group. Before both,
    ``busy_sources`` drops the sources with fewer than ``minimum`` events in all.
    """
    # Only the columns read below: every step's SQL would carry all of them
    # (Ibis's compile time grows with it; the engines prune them anyway).
    events = events.select(*dict.fromkeys([*keys, *SCAN_COLUMNS]))
    slotted = window_slots(busy_sources(events, minimum), window_seconds)
    group = [*keys, SLOT, WINDOW_START]
    counts = slotted.group_by(group).aggregate(_distinct=slotted[counted].nunique())
    hits = counts.filter(counts._distinct >= minimum).drop("_distinct")
    chosen = slotted.semi_join(hits, group)
    candidates = chosen.group_by(group).aggregate(**scan_metrics(chosen))
    best = best_windows(candidates.mutate(score=candidates[score]), keys).drop(SLOT)
    cut = cut_windows(slotted, counts, best, keys, counted, minimum, window_seconds, score)
    # Spark reads timestamps without a zone: the grids' starts carry UTC.
    types = best.schema()
    cut = cut.select(**{name: cut[name].cast(types[name]) for name in best.columns})
    return ibis.union(best, cut, distinct=False)


def cut_windows(
    slotted: ir.Table,
    counts: ir.Table,
    kept: ir.Table,
    keys: Sequence[str],
    counted: str,
    minimum: int,
    window_seconds: int,
    score: str,
) -> ir.Table:
    """Windows of ``window_seconds`` that hold ``minimum`` distinct ``counted``
    values where both grids cut them, one per grid-A window they start in.

    Two grids find every burst of at most half a window; a longer one can be
    split by both (nmap ``-T1 --top-ports 20``: 20 probes in 285 s started
    75 s into a window show 15 ports in every window of both grids). Here the
    windows start at any probe. A window starting in grid-A window ``A_k``
    ends inside ``A_(k+1)``, and every such window overlaps the grid-B window
    ``B_k`` between them (or is ``A_k``): when ``B_k`` met the threshold, a
    window ``best_windows`` kept overlaps it already (``B_k`` or a neighbour
    of its run: ``A_k``, ``A_(k+1)``). Only where ``B_k`` did not, and ``A_k``
    and ``A_(k+1)`` together hold ``minimum`` distinct values (a window inside
    both holds no more), are the probes of those two windows looked at (near
    misses: counted together, so a client retrying the same ten closed ports
    all day is none). Every join is on the keys and ``k`` (a kept window that
    overlaps a start in ``A_k`` starts in ``A_(k-1)``, ``A_k`` or
    ``A_(k+1)``): linear in the probes whatever one key sends.

    The count, without a self-join: each value's distinct probe times
    ``o`` (ascending, the one before ``p``) give the window starts ``t`` whose
    window ``[t, t + W)`` holds the value from ``o`` on: ``max(o - W, p) < t
    <= o``; those intervals of one value are disjoint, so the values a window
    starting at ``t`` holds are the intervals around ``t``: the intervals
    begun before ``t`` minus those ended before ``t``, one running sum over
    the interval ends in time order. The count only falls just after an
    interval's end, so its highest values are at ends: windows starting at a
    probe. Per ``A_k`` the window holding the most values (the earliest on a
    tie) among those overlapping no window ``kept`` (the grids' findings)
    is the finding, with metrics from its probes; every window that meets the
    threshold thus overlaps a finding. Two such findings of neighbouring
    ``A_k`` may overlap (a long scan both grids cut twice): rare, since a
    scan that long fills grid windows.
    """
    key_columns = list(keys)
    width = int(window_seconds)
    span = ibis.interval(seconds=width)
    # Each probe of grid-A window A_n as near miss n's and n-1's (A_k and
    # A_(k+1) hold the probes of every window starting in A_k), with A_k's start.
    grid_a = slotted.filter(slotted[SLOT] % 2 == 0)
    number = grid_a[SLOT] // 2
    start = grid_a[WINDOW_START]
    columns = dict.fromkeys([*key_columns, *SCAN_COLUMNS])
    pairs = ibis.union(
        grid_a.select(*columns, _k=number, _from=start),
        grid_a.select(*columns, _k=number - 1, _from=start - span),
        distinct=False,
    )
    # Near misses: A_k and A_(k+1) together hold ``minimum`` values (counted
    # together: a client retrying the same ten ports is none), B_k does not.
    together = pairs.group_by([*key_columns, "_k", "_from"]).aggregate(
        _values=pairs[counted].nunique()
    )
    near = together.filter(together._values >= minimum)
    grid_b = counts.filter((counts[SLOT] % 2 == 1) & (counts._distinct >= minimum))
    near = near.anti_join(grid_b, [*key_columns, grid_b[SLOT] == near._k * 2 + 1])
    around = pairs.semi_join(near, [*key_columns, "_k"])

    # Each value's distinct probe times: the interval of window starts each adds.
    value = [*key_columns, "_k", counted]
    times = around.select(*value, "_from", "timestamp").distinct()
    before = times.timestamp.lag().over(ibis.window(group_by=value, order_by="timestamp"))
    opens = ibis.greatest(times.timestamp - span, before.coalesce(times.timestamp - span))
    intervals = times.mutate(_open=opens)
    moments = [*key_columns, "_k", "_from", "_at"]
    edges = ibis.union(
        intervals.select(*key_columns, "_k", "_from", _at=intervals._open, _opened=1, _ended=0),
        intervals.select(*key_columns, "_k", "_from", _at=intervals.timestamp, _opened=0, _ended=1),
        distinct=False,
    )
    edges = edges.group_by(moments).aggregate(
        _opened=edges._opened.sum(), _ended=edges._ended.sum()
    )
    running = ibis.cumulative_window(group_by=[*key_columns, "_k"], order_by="_at")
    held = edges.mutate(
        _held=(edges._opened.sum().over(running) - edges._opened)
        - (edges._ended.sum().over(running) - edges._ended)
    )
    starts = held.filter(
        (held._ended > 0)
        & (held._held >= minimum)
        & (held._at >= held._from)
        & (held._at < held._from + span)
    )
    # Not over a window the grids' findings hold already. A kept window that
    # overlaps a start in A_k starts in A_(k-1), A_k or A_(k+1): joined on k
    # (an equi-join, whatever the number of a key's findings).
    base = kept[WINDOW_START].epoch_seconds() // width
    nearby = ibis.union(
        *(kept.select(*key_columns, WINDOW_START, _k=base + step) for step in (-1, 0, 1)),
        distinct=False,
    )
    starts = starts.anti_join(
        nearby,
        [
            *key_columns,
            "_k",
            nearby[WINDOW_START] < starts._at + span,
            starts._at < nearby[WINDOW_START] + span,
        ],
    )
    pick = ibis.window(
        group_by=[*key_columns, "_k"], order_by=[ibis.desc(starts._held), starts._at]
    )
    best = starts.filter(ibis.row_number().over(pick) == 0).select(*key_columns, "_k", "_at")

    # The chosen windows' probes, for the findings' metrics.
    inside = around.join(
        best,
        [
            *key_columns,
            "_k",
            around.timestamp >= best._at,
            around.timestamp < best._at + span,
        ],
    )
    window = inside.group_by([*key_columns, "_at"]).aggregate(**scan_metrics(inside))
    metrics = window.rename({WINDOW_START: "_at"})
    return metrics.mutate(score=metrics[score])


def vertical_least_events(cfg: VerticalScanConfig) -> int:
    """A vertical scan is ``min_ports`` failed probes at least (see ``Detection.least_events``)."""
    return cfg.min_ports


def horizontal_least_events(cfg: HorizontalScanConfig) -> int:
    """A horizontal sweep is ``min_hosts`` failed probes at least."""
    return cfg.min_hosts


def block_least_events(cfg: BlockScanConfig) -> int:
    """A block scan's window has ``min_pairs`` distinct pairs (and ``min_hosts``,
    ``min_ports``), so at least as many failed probes."""
    return max(cfg.min_pairs, cfg.min_hosts, cfg.min_ports)


def vertical_scan(network: ir.Table, cfg: VerticalScanConfig) -> ir.Table:
    """One source probing many ports of one host: ``vertical_scan`` findings.

    Per source, destination host and window of ``cfg.window_seconds`` (300 s),
    count the distinct destination ports among failed attempts; a finding when
    at least ``cfg.min_ports`` (16). These are Zeek's scan-policy numbers
    ("more than 15 ports on one host in 5 minutes"), which CrowdSec's
    iptables-scan-multi-port also uses: a client legitimately failing against
    one host rarely tries more than a handful of ports. Score: distinct ports.
    Label: the scanned host.
    """
    keys = ["source_ip", "destination_ip"]
    best = _windowed_findings(
        failed_probes(network), cfg.window_seconds, keys, "destination_port", cfg.min_ports,
        "port_count",
    )  # fmt: skip
    return as_findings(best, VERTICAL, label=best.destination_ip)


def horizontal_scan(network: ir.Table, cfg: HorizontalScanConfig) -> ir.Table:
    """One source probing one port across many hosts: ``horizontal_scan`` findings.

    Per source, destination port, transport and window of
    ``cfg.window_seconds`` (300 s), count the distinct destination hosts among
    failed attempts; a finding when at least ``cfg.min_hosts`` (26): Zeek's
    "more than 25 hosts on one port in 5 minutes". Elastic's rule waits for
    100 hosts, which misses sweeps of a /27 or a sparse /24; 26 failures on
    one port from one source is already far beyond a mistyped address.
    Score: distinct hosts. Label: ``transport/port`` such as ``tcp/22``.
    """
    keys = ["source_ip", "destination_port", "network_transport"]
    probes = failed_probes(network)
    # Null never equals null in the second pass's join: name the unknown transport.
    probes = probes.mutate(network_transport=probes.network_transport.coalesce("unknown"))
    best = _windowed_findings(
        probes, cfg.window_seconds, keys, "destination_ip", cfg.min_hosts, "target_count"
    )
    label = best.network_transport + "/" + best.destination_port.cast("string")
    return as_findings(best, HORIZONTAL, label=label)


def block_scan(network: ir.Table, cfg: BlockScanConfig) -> ir.Table:
    """One source probing several ports on several hosts: ``block_scan`` findings.

    Per source and window of ``cfg.window_seconds`` (300 s), among failed
    attempts: at least ``cfg.min_hosts`` (5) distinct hosts, ``cfg.min_ports``
    (5) distinct ports and ``cfg.min_pairs`` (40) distinct host:port pairs.
    A 10 x 10 scan stays under both the vertical (16) and horizontal (26)
    limits; the pair count is what keeps one client retrying a few closed
    services on a few servers (say 5 x 5 = 25 pairs) out. Score: distinct
    pairs. No label: the finding is about the source as a whole.
    """
    events = busy_sources(failed_probes(network), block_least_events(cfg))
    # "host:port" is unambiguous even for IPv6 hosts: the port, all digits, is
    # what follows the last colon.
    events = events.mutate(
        _pair=events.destination_ip + ":" + events.destination_port.cast("string")
    )
    slotted = window_slots(events, cfg.window_seconds)
    group = ["source_ip", SLOT, WINDOW_START]
    # First pass: counts only; the arrays are collected for the few hits (see
    # _windowed_findings).
    counts = slotted.group_by(group).aggregate(
        _hosts=slotted.destination_ip.nunique(),
        _ports=slotted.destination_port.nunique(),
        _pairs=slotted._pair.nunique(),
    )
    hits = counts.filter(
        (counts._hosts >= cfg.min_hosts)
        & (counts._ports >= cfg.min_ports)
        & (counts._pairs >= cfg.min_pairs)
    ).select(*group)
    chosen = slotted.semi_join(hits, group)
    candidates = chosen.group_by(group).aggregate(
        **scan_metrics(chosen), score=chosen._pair.nunique()
    )
    return as_findings(best_windows(candidates, ["source_ip"]), BLOCK)
