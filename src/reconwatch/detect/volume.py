"""Traffic spikes: a source's events per window far above its own baseline.

Per source, events (lines, whatever the outcome) per tumbling window of
``window_seconds`` (5 min). The baseline is the source's own: the median of
its non-empty windows and the median absolute deviation (MAD) around it. Both
are robust -- half the windows would have to be spikes to move them -- where a
mean and standard deviation are dragged up by the very spike they should
reveal. A window is a spike when

    count > median + k * max(MAD, 1)   and   count >= min_events
                                       and   count >= min_ratio * median

with k = 6 (about 4 standard deviations for normal data, 1 sigma = 1.4826
MAD), min_ratio = 2 (a busy source's ordinary fluctuation never doubles it;
see ``TrafficSpikeConfig``) and a floor of 1 under the MAD so that a
perfectly steady source (MAD 0) does not alarm on one extra event.
``min_events`` (100) keeps small sources' noise out, and a window is judged
only after ``min_baseline_windows`` (6) non-empty windows of the source
before it: its history (the window itself and later ones are not; the
median and MAD, once there is such a history, are those of every window
read, see ``docs/detections.md``).
Empty windows are not counted (a source idle most of the day would otherwise
have median 0 and spike on every active window).

Exact medians, portably: percentile functions differ by engine (DuckDB's
``median`` interpolates, Spark's ``percentile_approx`` does not and is
approximate), so the median is computed with window functions: number each
source's windows by count (``row_number``), take the row(s) in the middle
(positions ``(n - 1) // 2`` and ``n // 2``, 0-based) and average them. Same
integers in, same double out, on every engine.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

import ibis
import ibis.expr.types as ir

from reconwatch.config import TrafficSpikeConfig
from reconwatch.detect.campaign import ipv4_net24
from reconwatch.detect.portscan import FINDING_TYPES, as_findings, scan_metrics

TRAFFIC_SPIKE: Final = "traffic_spike"


def exact_median(table: ir.Table, keys: Sequence[str], value: str, name: str) -> ir.Table:
    """Per ``keys``, the exact median of ``value`` as column ``name`` (see the module docstring)."""
    key_columns = list(keys)
    ordered = ibis.window(group_by=key_columns, order_by=[value])
    everyone = ibis.window(group_by=key_columns)
    numbered = table.mutate(
        _row=ibis.row_number().over(ordered),
        _n=table[value].count().over(everyone),
    )
    middle = numbered.filter(
        (numbered._row == (numbered._n - 1) // 2) | (numbered._row == numbered._n // 2)
    )
    return middle.group_by(key_columns).aggregate(**{name: middle[value].cast("float64").mean()})


def _spikes(cells: ir.Table, keys: Sequence[str], cfg: TrafficSpikeConfig) -> ir.Table:
    """Per ``keys``, the windows above the baseline: ``keys``, ``_window``, ``score``.

    ``cells`` holds event counts (``_cells``) per ``keys``, ``_window`` and
    maybe finer keys, summed here. A window is judged only when the key has
    ``min_baseline_windows`` non-empty windows before it (``_before``, its
    history). Keys that cannot spike -- too few windows for a history and a
    spike after it, or no window reaching ``min_events`` -- are dropped
    before the medians: nearly every source is such a key, and the window
    functions behind the medians are the costly part.
    """
    key_columns = list(keys)
    counts = cells.group_by([*key_columns, "_window"]).aggregate(_count=cells._cells.sum())
    shape = counts.group_by(key_columns).aggregate(
        _windows=counts.count(), _busiest=counts._count.max()
    )
    eligible = shape.filter(
        (shape._windows > cfg.min_baseline_windows) & (shape._busiest >= cfg.min_events)
    )
    counts = counts.semi_join(eligible, key_columns)
    # A key's windows are distinct: the 0-based row number is how many came before.
    counts = counts.mutate(
        _before=ibis.row_number().over(group_by=key_columns, order_by=counts._window)
    )
    median = exact_median(counts, key_columns, "_count", "_median")
    with_median = counts.join(median, key_columns)
    deviation = with_median.mutate(_dev=(with_median._count - with_median._median).abs())
    mad = exact_median(deviation, key_columns, "_dev", "_mad")
    scored = with_median.join(mad, key_columns)
    spread = ibis.greatest(scored._mad, 1.0)
    spikes = scored.filter(
        (scored._before >= cfg.min_baseline_windows)
        & (scored._count > scored._median + cfg.k * spread)
        & (scored._count >= cfg.min_events)
        & (scored._count >= cfg.min_ratio * scored._median)
    ).mutate(score=(scored._count - scored._median) / spread)
    return spikes.select(*key_columns, "_window", "score")


def traffic_least_events(cfg: TrafficSpikeConfig) -> int:
    """A spike needs ``min_baseline_windows`` non-empty windows of the source
    (overall or towards one range) before a window with ``min_events``."""
    return cfg.min_events + cfg.min_baseline_windows


def traffic_spike(network: ir.Table, cfg: TrafficSpikeConfig) -> ir.Table:
    """Windows in which a source sends far more than it usually does: ``traffic_spike``.

    Two baselines, both per source: over all its events, and over its events
    towards each destination /24 (IPv4; the first three octets, see
    ``campaign.ipv4_net24``). The second finds a burst towards one range hidden
    in a source's large overall volume (a CDN client suddenly sweeping our
    /24); it is reported only for windows the first did not flag, so one burst
    is one finding. One finding per source and spike window (per range for
    the second). Score: the robust z-score ``(count - median) / max(MAD, 1)``.
    Label: null for the source baseline, ``"to a.b.c.0/24"`` for a range.
    """
    epoch = network.timestamp.epoch_seconds()
    # Floor division before any cast (see portscan.window_slots).
    events = network.mutate(_window=(epoch // cfg.window_seconds).cast("int64"))
    window = ["source_ip", "_window"]
    # Only a source with a history and a window after it, one reaching
    # min_events, can spike, overall or towards one range (a range's windows
    # are the source's windows, its counts at most the source's). Nearly every
    # source fails this cheap test, which spares the string work and medians below.
    per_window = events.group_by(window).aggregate(_count=events.count())
    shape = per_window.group_by("source_ip").aggregate(
        _windows=per_window.count(), _busiest=per_window._count.max()
    )
    possible = shape.filter(
        (shape._windows > cfg.min_baseline_windows) & (shape._busiest >= cfg.min_events)
    )
    busy = events.semi_join(possible, "source_ip")
    # Both baselines sum these cells.
    with_net = busy.mutate(_net=ipv4_net24(busy.destination_ip))
    cells = with_net.group_by([*window, "_net"]).aggregate(_cells=with_net.count())
    overall = _spikes(cells, ["source_ip"], cfg)
    ranged_cells = cells.filter(cells._net.notnull())
    per_range = _spikes(ranged_cells, ["source_ip", "_net"], cfg).anti_join(overall, window)

    chosen = events.semi_join(overall, window)
    found = chosen.group_by(window).aggregate(**scan_metrics(chosen))
    found = found.join(overall, window).mutate(_label=ibis.null("string"))
    # The few spike windows first, then the /24 of their events only.
    in_window = events.semi_join(per_range, window)
    in_window = in_window.mutate(_net=ipv4_net24(in_window.destination_ip))
    in_range = in_window.semi_join(per_range, [*window, "_net"])
    found_range = in_range.group_by([*window, "_net"]).aggregate(**scan_metrics(in_range))
    found_range = found_range.join(per_range, [*window, "_net"])
    found_range = found_range.mutate(_label="to " + found_range._net + ".0/24").drop("_net")
    both = ibis.union(found, found_range.select(*found.columns), distinct=False)
    window_start = (
        (both._window * cfg.window_seconds)
        .cast("int64")
        .as_timestamp("s")
        .cast(FINDING_TYPES["window_start"])
    )
    return as_findings(both, TRAFFIC_SPIKE, window_start=window_start, label=both._label)
