"""Benchmark: threat-intel indicators matched against event source addresses.

Builds N indicators (mostly IPv4 /32s, some /24s and /16s, some IPv6 /48s and
/128s, as real feeds look) and M events drawn from a pool of distinct sources
of which a share is listed, then times each stage: parsing the indicator text,
preparing the bucketed range table, and the engine join (distinct sources ->
integers -> equi-joins -> filter), and the join of the hits back to every
event. Usage::

    .venv/bin/python bench/intel_match.py --indicators 1000000 --events 10000000
"""

from __future__ import annotations

import argparse
import resource
import time

import ibis
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from reconwatch.enrich.intel import IntelIndex, LoadReport, raw_table, to_indicators


def _v4_text(values: np.ndarray) -> pa.Array:
    octets = [
        pa.array(((values >> s) & 255).astype(np.int64)).cast(pa.string()) for s in (24, 16, 8, 0)
    ]
    return pc.binary_join_element_wise(*octets, ".")


def _v6_text(values: np.ndarray) -> pa.Array:
    """``2001:a:b:c`` prefixes (the caller adds the host part or the length)."""
    groups = [pa.array([format(int(g), "x") for g in (values >> s) & 0xFFFF]) for s in (32, 16, 0)]
    return pc.binary_join_element_wise(pa.array(["2001"] * len(values)), *groups, ":")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--indicators", type=int, default=100_000)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--sources", type=int, default=200_000, help="distinct event sources")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)

    n = args.indicators
    n32, n24, n16 = int(n * 0.88), int(n * 0.08), int(n * 0.01)
    n6 = n - n32 - n24 - n16
    v4 = rng.integers(1 << 24, 224 << 24, size=n32 + n24 + n16, dtype=np.int64)
    text = _v4_text(v4)
    cidr24 = pc.binary_join_element_wise(_v4_text(v4[n32 : n32 + n24] & ~255), pa.scalar("24"), "/")
    cidr16 = pc.binary_join_element_wise(_v4_text(v4[n32 + n24 :] & ~0xFFFF), pa.scalar("16"), "/")
    v6 = rng.integers(0, 1 << 62, size=n6, dtype=np.int64)
    half = n6 // 2
    v6_text = pa.concat_arrays(
        [
            pc.binary_join_element_wise(_v6_text(v6[:half]), pa.scalar("::1"), ""),
            pc.binary_join_element_wise(_v6_text(v6[half:]), pa.scalar("::/64"), ""),
        ]
    )
    values = pa.concat_arrays([text[:n32], cidr24, cidr16, v6_text])
    raw = raw_table([])
    raw = pa.table(
        {
            "value": values,
            **{c: pa.nulls(len(values), raw.schema.field(c).type) for c in raw.column_names[1:]},
        },
        schema=raw.schema,
    )

    t0 = time.perf_counter()
    report = LoadReport("bench")
    indicators = to_indicators(raw, "bench", report)
    t1 = time.perf_counter()
    index = IntelIndex.from_tables([indicators], [report])
    prepared = index.ranges
    t2 = time.perf_counter()

    # Event sources: a pool of distinct addresses, 5% of them listed /32s.
    pool = rng.integers(1 << 24, 224 << 24, size=args.sources, dtype=np.int64)
    listed = rng.choice(n32, size=max(1, args.sources // 20), replace=False)
    pool[: len(listed)] = v4[listed]
    pool_text = _v4_text(pool)
    picks = pa.array(rng.integers(0, args.sources, size=args.events))
    events = ibis.memtable(pa.table({"source_ip": pc.take(pool_text, picks)}))

    t3 = time.perf_counter()
    hits = index.match(events, "source_ip")
    distinct_hits = hits.count().to_pyarrow().as_py()
    t4 = time.perf_counter()
    listed_sources = hits.select("ip").distinct()
    joined = events.join(listed_sources, events.source_ip == listed_sources.ip)
    event_hits = joined.count().to_pyarrow().as_py()
    t5 = time.perf_counter()

    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"indicators       {n:>12,}  kept {report.indicators:,}, refused {report.refused}")
    print(
        f"bucket rows      {prepared.buckets.num_rows:>12,}  exact rows {prepared.exact.num_rows:,}"
    )
    print(f"events           {args.events:>12,}  distinct sources {args.sources:,}")
    print(f"parse indicators {t1 - t0:>11.2f}s")
    print(f"prepare ranges   {t2 - t1:>11.2f}s")
    print(f"match (distinct) {t4 - t3:>11.2f}s  {distinct_hits:,} (source, indicator) pairs")
    print(f"hits -> events   {t5 - t4:>11.2f}s  {event_hits:,} events from listed sources")
    print(f"peak RSS         {rss:>11.0f} MiB")


if __name__ == "__main__":
    main()
