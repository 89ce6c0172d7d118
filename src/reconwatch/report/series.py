"""Per-case chart series: bounded summaries of what each case's sources did, over time.

The HTML report and the web UI draw three charts per case: events over time
per lake table, a hosts x ports heat map of the network probes, and DNS query
volume per client. This module computes their data from the lake while it is
open, for all cases at once: every query joins the events to a small
``(case, source)`` table and aggregates in the engine (never one query per
case, never a Python loop per event). Only the aggregated, bounded result
comes back to Python.

The shape is a contract (documented in docs/cases-json.md, used by the web UI)::

    {
      "bucket_seconds": int,
      "timeline": [{"t": "<ISO Z>", "dataset": "network", "events": int}, ...],
      "heatmap": {"hosts": [ip, ...], "ports": [int, ...], "counts": [[int, ...], ...]},
      "dns": [{"client": ip, "t": "<ISO Z>", "queries": int, "nxdomain": int}, ...],
    }

``timeline`` and ``dns`` are sparse: a bucket without events has no entry.
``counts`` has one row per host and one column per port.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import ipaddress
from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any, Final

import ibis
import ibis.expr.types as ir
import pyarrow as pa

from reconwatch.cases import Case
from reconwatch.engine import cached

#: At most this many time buckets per case: enough to see bursts and pauses,
#: few enough for a chart a browser draws instantly.
MAX_BUCKETS: Final = 100
#: The heat map keeps the busiest hosts and ports (a /16 sweep has 65,536 hosts).
TOP_HOSTS: Final = 30
TOP_PORTS: Final = 30
#: The DNS chart keeps the busiest clients (a campaign may have hundreds).
TOP_DNS_CLIENTS: Final = 20

#: Bucket sizes people read without arithmetic; beyond a day, whole days.
NICE_BUCKETS: Final = (
    1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400,
)  # fmt: skip
DAY: Final = 86400

#: The lake tables a timeline counts, in the order charts stack them.
DATASETS: Final = ("network", "dns", "http", "auth", "alert")


def empty_series(bucket: int = 1) -> dict[str, Any]:
    return {
        "bucket_seconds": bucket,
        "timeline": [],
        "heatmap": {"hosts": [], "ports": [], "counts": []},
        "dns": [],
    }


def bucket_seconds(span_seconds: int) -> int:
    """The smallest nice bucket that cuts ``span_seconds`` into at most ``MAX_BUCKETS``.

    Buckets are aligned to multiples of their size since the epoch (so two
    cases' charts line up), which can add one partial bucket at each end:
    ``span // size + 2 <= MAX_BUCKETS`` keeps the worst case within bounds.
    """
    limit = MAX_BUCKETS - 2
    for size in NICE_BUCKETS:
        if span_seconds // size < limit:
            return size
    days = 1
    while span_seconds // (days * DAY) >= limit:
        days += 1
    return days * DAY


#: Epoch seconds of 0001-01-01T00:00:00Z and 9999-12-31T23:59:59Z: the stamps
#: Python (and the lake, which rejects the rest at ingest) can hold.
FIRST_EPOCH: Final = -62_135_596_800
LAST_EPOCH: Final = 253_402_300_799


def first_bucket(size: int) -> int:
    """The earliest bucket start for buckets of ``size``: the first multiple of it in year 1.

    Buckets are aligned to multiples of their size since 1970; with a wide
    bucket the one that holds an event of early year 1 (Go's zero time,
    0001-01-01, which a log source may write for "no time") would start in
    year 0, which no datetime (nor the charts) can show. Such events go in
    this first bucket instead, whose start then lies a little after them.
    """
    return -(-FIRST_EPOCH // size) * size


def _iso(epoch: int) -> str:
    """ISO 8601 UTC text of ``epoch``, kept within years 1-9999 (never raises)."""
    epoch = min(max(epoch, FIRST_EPOCH), LAST_EPOCH)
    return dt.datetime.fromtimestamp(epoch, dt.UTC).isoformat().replace("+00:00", "Z")


def _ip_key(text: str) -> tuple[int, int, str]:
    """Addresses in numeric order (IPv4 first); anything unparsable last, as text."""
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return (7, 0, text)
    return (address.version, int(address), text)


def attach_series(tables: Mapping[str, ir.Table], cases: Sequence[Case]) -> None:
    """Fill ``case.series`` for every case from the lake ``tables`` (Ibis, one backend)."""
    if not cases:
        return
    members = [(index, source) for index, case in enumerate(cases) for source in case.sources]
    mapping = ibis.memtable(
        pa.table(
            {
                "_case": pa.array([m[0] for m in members], pa.int64()),
                "_source": pa.array([m[1] for m in members], pa.string()),
            }
        )
    )
    present = [name for name in DATASETS if name in tables]
    if not present:
        for case in cases:
            case.series = empty_series()
        return

    others = _other_cases_spans(cases)

    def events_of(name: str) -> ir.Table:
        """``(_case, source_ip, destination_ip, destination_port, _epoch, dataset)`` rows."""
        joined = _of_cases(tables[name], mapping, others)
        return joined.select(
            _case=joined._case,
            source_ip=joined.source_ip,
            destination_ip=joined.destination_ip,
            destination_port=joined.destination_port.cast("int32"),
            _epoch=joined.timestamp.epoch_seconds().cast("int64"),
            dataset=ibis.literal(name),
        )

    # Read three times below: cut from the lake once (a temporary table).
    with contextlib.ExitStack() as releases:
        everything = cached(ibis.union(*(events_of(name) for name in present)), releases)
        _fill(everything, tables, mapping, others, cases)


def _fill(
    everything: ir.Table,
    tables: Mapping[str, ir.Table],
    mapping: ir.Table,
    others: ir.Table | None,
    cases: Sequence[Case],
) -> None:
    """``attach_series`` once the cases' events (``everything``) can be read."""
    spans = everything.group_by("_case").aggregate(
        start=everything._epoch.min(), end=everything._epoch.max()
    )
    buckets = {index: 1 for index in range(len(cases))}
    for row in spans.to_pyarrow().to_pylist():
        buckets[row["_case"]] = bucket_seconds(int(row["end"]) - int(row["start"]))
    sizes = ibis.memtable(
        pa.table(
            {
                "_case": pa.array(list(buckets), pa.int64()),
                "_size": pa.array(list(buckets.values()), pa.int64()),
                "_floor": pa.array([first_bucket(b) for b in buckets.values()], pa.int64()),
            }
        )
    )

    series = {index: empty_series(size) for index, size in buckets.items()}
    _timeline(everything, sizes, series)
    if "network" in tables:
        _heatmap(everything.filter(everything.dataset == "network"), series)
    if "dns" in tables:
        _dns(_of_cases(tables["dns"], mapping, others), sizes, series)
    for index, case in enumerate(cases):
        case.series = series[index]


def _of_cases(table: ir.Table, mapping: ir.Table, others: ir.Table | None) -> ir.Table:
    """``table``'s rows of each case's sources, with ``_case``; see ``_other_cases_spans``."""
    joined = table.join(mapping, table.source_ip == mapping._source)
    if others is None:
        return joined
    return joined.anti_join(
        others,
        [
            joined._case == others._o_case,
            joined.source_ip == others._o_source,
            joined.timestamp >= others._o_first,
            joined.timestamp <= others._o_last,
            (joined.timestamp < others._own_first) | (joined.timestamp > others._own_last),
        ],
    )


def _other_cases_spans(cases: Sequence[Case]) -> ir.Table | None:
    """Per case, the spans of the other cases of its sources (None: no source has two).

    One actor can have two cases in a hunt: activity an analyst closed (a
    false positive, say) and new activity after it. Each case's charts leave
    out the events inside the other's span (unless they are inside its own
    too), as its activity and evidence do; events outside every case's span
    stay in both, as context.
    """
    by_source: dict[str, list[int]] = defaultdict(list)
    for index, case in enumerate(cases):
        for source in case.sources:
            by_source[source].append(index)
    spans = [(c.first_seen, c.last_seen) if c.findings else None for c in cases]
    rows: list[tuple[int, str, dt.datetime, dt.datetime, dt.datetime, dt.datetime]] = []
    for source, indices in by_source.items():
        for index in indices:
            own = spans[index]
            for other in (spans[i] for i in indices if i != index):
                if own is not None and other is not None:
                    rows.append((index, source, *other, *own))
    if not rows:
        return None
    stamp = pa.timestamp("us", tz="UTC")
    columns = zip(*rows, strict=True)
    names = ("_o_case", "_o_source", "_o_first", "_o_last", "_own_first", "_own_last")
    types = (pa.int64(), pa.string(), stamp, stamp, stamp, stamp)
    return ibis.memtable(
        pa.table(
            {
                name: pa.array(list(values), kind)
                for name, values, kind in zip(names, columns, types, strict=True)
            }
        )
    )


def _bucketed(events: ir.Table, sizes: ir.Table) -> ir.Table:
    """``events`` with ``_bucket``: the epoch second its case's bucket starts at."""
    joined = events.join(sizes, "_case")
    # Floor division before the cast, as the detections do (portable to Spark);
    # never before the first bucket that starts in year 1 (see first_bucket).
    start = ((joined._epoch // joined._size) * joined._size).cast("int64")
    return joined.mutate(_bucket=ibis.greatest(start, joined._floor))


def _timeline(events: ir.Table, sizes: ir.Table, series: dict[int, dict[str, Any]]) -> None:
    bucketed = _bucketed(events, sizes)
    counts = bucketed.group_by(["_case", "_bucket", "dataset"]).aggregate(events=bucketed.count())
    order = {name: rank for rank, name in enumerate(DATASETS)}
    rows = counts.to_pyarrow().to_pylist()
    rows.sort(key=lambda r: (r["_case"], r["_bucket"], order[r["dataset"]]))
    for row in rows:
        series[row["_case"]]["timeline"].append(
            {"t": _iso(row["_bucket"]), "dataset": row["dataset"], "events": row["events"]}
        )


def _top(table: ir.Table, key: str, limit: int) -> ir.Table:
    """Per case, the ``limit`` values of ``key`` with the most events.

    Ties (a sweep sends one probe to each host) go to the values seen first,
    so the chart shows where the scan started rather than a text-order pick.
    """
    totals = table.group_by(["_case", key]).aggregate(
        _total=table._n.sum(), _first=table._first.min()
    )
    ranked = totals.mutate(
        _rank=ibis.row_number().over(
            group_by=totals._case,
            order_by=[ibis.desc(totals._total), totals._first, totals[key]],
        )
    )
    return ranked.filter(ranked._rank < limit).select("_case", key)


def _heatmap(network: ir.Table, series: dict[int, dict[str, Any]]) -> None:
    # ICMP and other portless events have no column to go in.
    probes = network.filter(network.destination_port.notnull())
    cells = probes.group_by(["_case", "destination_ip", "destination_port"]).aggregate(
        _n=probes.count(), _first=probes._epoch.min()
    )
    hosts = _top(cells, "destination_ip", TOP_HOSTS)
    ports = _top(cells, "destination_port", TOP_PORTS)
    kept = cells.semi_join(hosts, ["_case", "destination_ip"]).semi_join(
        ports, ["_case", "destination_port"]
    )
    host_lists: dict[int, list[str]] = defaultdict(list)
    for row in hosts.to_pyarrow().to_pylist():
        host_lists[row["_case"]].append(row["destination_ip"])
    port_lists: dict[int, list[int]] = defaultdict(list)
    for row in ports.to_pyarrow().to_pylist():
        port_lists[row["_case"]].append(row["destination_port"])
    grids: dict[int, dict[tuple[str, int], int]] = defaultdict(dict)
    for row in kept.to_pyarrow().to_pylist():
        grids[row["_case"]][(row["destination_ip"], row["destination_port"])] = row["_n"]
    for index, host_list in host_lists.items():
        # Address order shows sweeps as runs of neighbours; ports ascend left to right.
        host_list.sort(key=_ip_key)
        port_list = sorted(port_lists[index])
        grid = grids[index]
        series[index]["heatmap"] = {
            "hosts": host_list,
            "ports": port_list,
            "counts": [[grid.get((h, p), 0) for p in port_list] for h in host_list],
        }


def _dns(joined: ir.Table, sizes: ir.Table, series: dict[int, dict[str, Any]]) -> None:
    """DNS volume per case and client; ``joined``: the dns table's rows of each case."""
    queries = joined.select(
        _case=joined._case,
        client=joined.source_ip,
        _epoch=joined.timestamp.epoch_seconds().cast("int64"),
        _nx=(joined.dns_response_code == "NXDOMAIN").ifelse(1, 0),
    )
    bucketed = _bucketed(queries, sizes)
    counts = bucketed.group_by(["_case", "client", "_bucket"]).aggregate(
        _n=bucketed.count(), nxdomain=bucketed._nx.sum(), _first=bucketed._bucket.min()
    )
    clients = _top(counts, "client", TOP_DNS_CLIENTS)
    kept = counts.semi_join(clients, ["_case", "client"])
    rows = kept.to_pyarrow().to_pylist()
    rows.sort(key=lambda r: (r["_case"], _ip_key(r["client"]), r["_bucket"]))
    for row in rows:
        series[row["_case"]]["dns"].append(
            {
                "client": row["client"],
                "t": _iso(row["_bucket"]),
                "queries": row["_n"],
                "nxdomain": row["nxdomain"] or 0,
            }
        )
