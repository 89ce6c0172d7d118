"""IP ranges as integers, and matching addresses to ranges as a join in the engine.

Representation
--------------
Every address is a family (4 or 6) and a 128-bit-safe pair of 64-bit halves
``(hi, lo)``; an IPv4 address has ``hi = 0`` and ``lo`` = its 32-bit value.
The halves are stored as *signed* int64 with the sign bit flipped
(``stored = unsigned - 2**63``), which keeps the unsigned order under signed
comparison: every engine (DuckDB, Spark) has int64, few have uint64 or 128-bit
integers. ``::ffff:a.b.c.d`` is unwrapped to IPv4 before conversion, so a
mapped address matches IPv4 ranges. An IPv6 range never matches an IPv4
address, even ``::/0`` (``ipaddress`` keeps the families apart the same way).

A range is ``[start, end]`` inclusive (a CIDR, or an arbitrary range as in
iptoasn files).

Matching
--------
Range containment is not an equi-join, so the join is made one by bucketing:

* Single-address ranges (``start == end``: most threat intelligence) are joined
  on ``(family, hi, lo)`` equality, exactly. They never share a bucket with
  wide ranges, so a feed with a million /32s cannot blow up a bucket.
* Wider ranges are cut into buckets: the address prefix at one of four levels,
  IPv4 ``/24, /16, /8, /0`` and IPv6 ``/48, /32, /16, /0``. Each range is put
  at the finest level where it spans at most ``FANOUT_CAP`` (256) buckets, so
  no range is stored more than 256 times (a /8 sits at /16 level in 256
  buckets; a /7 at /8 level in 2). Every address gets one key per level (4
  rows), equi-joins the bucket table, and the join is filtered by
  ``start <= ip <= end`` on the (hi, lo) pairs.

The bucket key is one int64: ``level << 50 | (family == 6) << 49 | prefix``
(an IPv6 /48 prefix needs 48 bits).

Converting text to integers runs vectorised: canonical dotted-quad IPv4 with
Arrow compute and numpy, everything else once per *distinct* value with
``ipaddress``. Nothing loops per event.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Any, Final

import ibis
import ibis.expr.types as ir
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from reconwatch.ingest.addresses import CANONICAL_IPV4, MAX_IP_CHARS
from reconwatch.netaddr import parse_ip

#: No range is stored in more than this many buckets (see the module docstring).
FANOUT_CAP: Final = 256
#: Prefix lengths of the bucket levels, finest first.
V4_LEVELS: Final = (24, 16, 8, 0)
V6_LEVELS: Final = (48, 32, 16, 0)
_SIGN: Final = 1 << 63
_MASK64: Final = (1 << 64) - 1
_INT64_MIN: Final = -(1 << 63)

#: The integer columns of an address table.
ADDRESS_INT_COLUMNS: Final = ("family", "hi", "lo")
#: The integer columns every range table starts with.
RANGE_COLUMNS: Final = ("family", "start_hi", "start_lo", "end_hi", "end_lo")


def split128(value: int) -> tuple[int, int]:
    """A 128-bit unsigned integer as the two order-preserving signed int64 halves."""
    return (value >> 64) - _SIGN, (value & _MASK64) - _SIGN


def join128(hi: int, lo: int) -> int:
    """The inverse of :func:`split128`."""
    return ((hi + _SIGN) << 64) | (lo + _SIGN)


def addresses_to_ints(values: pa.Array | pa.ChunkedArray) -> pa.Table:
    """``family`` (int8), ``hi``, ``lo`` (int64) for each text address; nulls where invalid.

    Canonical dotted quads are converted with Arrow and numpy over the whole
    column; other spellings (IPv6, ``::ffff:`` mapped, leading zeros refused
    by ``ipaddress``) once per distinct value.
    """
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    values = values.cast(pa.string())
    n = len(values)
    family = np.zeros(n, dtype=np.int8)
    hi = np.zeros(n, dtype=np.int64)
    lo = np.zeros(n, dtype=np.int64)
    valid = np.zeros(n, dtype=bool)

    canonical = pc.fill_null(pc.match_substring_regex(values, CANONICAL_IPV4), False)
    v4_mask = np.asarray(canonical.to_numpy(zero_copy_only=False), dtype=bool)
    if v4_mask.any():
        quads = pc.list_flatten(pc.split_pattern(pc.filter(values, canonical), "."))
        octets = np.asarray(quads.cast(pa.int64()).to_numpy()).reshape(-1, 4)
        v4 = (octets[:, 0] << 24) | (octets[:, 1] << 16) | (octets[:, 2] << 8) | octets[:, 3]
        family[v4_mask] = 4
        hi[v4_mask] = _INT64_MIN
        lo[v4_mask] = v4 + np.int64(_INT64_MIN)
        valid[v4_mask] = True

    other_mask = ~v4_mask & ~np.asarray(values.is_null().to_numpy(zero_copy_only=False))
    if other_mask.any():
        others = pc.filter(values, pa.array(other_mask))
        distinct = pc.unique(others).to_pylist()
        fam_d, hi_d, lo_d, ok_d = [], [], [], []
        for text in distinct:
            addr = _parse_or_none(text)
            if addr is None:
                fam_d.append(0)
                hi_d.append(0)
                lo_d.append(0)
                ok_d.append(False)
                continue
            h, lw = split128(int(addr))
            fam_d.append(addr.version)
            hi_d.append(h)
            lo_d.append(lw)
            ok_d.append(True)
        index = pc.index_in(others, pa.array(distinct, pa.string())).to_numpy()
        family[other_mask] = np.asarray(fam_d, dtype=np.int8)[index]
        hi[other_mask] = np.asarray(hi_d, dtype=np.int64)[index]
        lo[other_mask] = np.asarray(lo_d, dtype=np.int64)[index]
        valid[other_mask] = np.asarray(ok_d, dtype=bool)[index]

    null = ~valid
    return pa.table(
        {
            "family": pa.array(family, pa.int8(), mask=null),
            "hi": pa.array(hi, pa.int64(), mask=null),
            "lo": pa.array(lo, pa.int64(), mask=null),
        }
    )


def _parse_or_none(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    if len(text) > MAX_IP_CHARS:
        return None
    try:
        return parse_ip(text)
    except ValueError:
        return None


def _prefix_values(
    family: np.ndarray[Any, Any], hi: np.ndarray[Any, Any], lo: np.ndarray[Any, Any], level: int
) -> np.ndarray[Any, Any]:
    """The bucket prefix of each address at ``level`` (uint64), per its family."""
    uhi = hi.astype(np.int64).view(np.uint64) ^ np.uint64(_SIGN)
    ulo = lo.astype(np.int64).view(np.uint64) ^ np.uint64(_SIGN)
    out = np.zeros(len(family), dtype=np.uint64)
    v4_bits, v6_bits = V4_LEVELS[level], V6_LEVELS[level]
    is4 = family == 4
    if v4_bits:
        out[is4] = ulo[is4] >> np.uint64(32 - v4_bits)
    if v6_bits:
        out[~is4] = uhi[~is4] >> np.uint64(64 - v6_bits)
    return out


def _bucket_key(
    level: int, family: np.ndarray[Any, Any], prefix: np.ndarray[Any, Any]
) -> np.ndarray[Any, Any]:
    fam_bit = (family == 6).astype(np.int64) << np.int64(49)
    key: np.ndarray[Any, Any] = np.int64(level << 50) | fam_bit | prefix.astype(np.int64)
    return key


@dataclass(frozen=True)
class RangeTable:
    """Ranges with attributes, prepared for the bucket join.

    ``ranges``: ``rid`` then :data:`RANGE_COLUMNS` then the attribute columns.
    ``exact``: ``rid, family, hi, lo`` of single-address ranges.
    ``buckets``: ``bucket, rid, start_hi, start_lo, end_hi, end_lo`` of the others.
    """

    ranges: pa.Table
    exact: pa.Table
    buckets: pa.Table

    @property
    def attributes(self) -> list[str]:
        return [c for c in self.ranges.column_names if c != "rid" and c not in RANGE_COLUMNS]

    def __len__(self) -> int:
        return int(self.ranges.num_rows)


def build_ranges(ranges: pa.Table) -> RangeTable:
    """Prepare a table with :data:`RANGE_COLUMNS` (plus any attributes) for :func:`match`.

    Vectorised with numpy: the bucket fan-out is a ``repeat`` and an offset,
    never a Python loop per range.
    """
    missing = [c for c in RANGE_COLUMNS if c not in ranges.column_names]
    if missing:
        raise ValueError(f"range table lacks columns {missing}")
    n = ranges.num_rows
    rid = pa.array(np.arange(n, dtype=np.int64))
    table = ranges.add_column(0, "rid", rid)
    fam = np.asarray(ranges.column("family").to_numpy(), dtype=np.int8)
    cols = {c: np.asarray(ranges.column(c).to_numpy(), dtype=np.int64) for c in RANGE_COLUMNS[1:]}
    single = (cols["start_hi"] == cols["end_hi"]) & (cols["start_lo"] == cols["end_lo"])
    exact = pa.table(
        {
            "rid": pa.array(np.arange(n)[single], pa.int64()),
            "family": pa.array(fam[single], pa.int8()),
            "hi": pa.array(cols["start_hi"][single], pa.int64()),
            "lo": pa.array(cols["start_lo"][single], pa.int64()),
        }
    )
    wide = np.nonzero(~single)[0]
    f = fam[wide]
    chosen_level = np.full(len(wide), -1, dtype=np.int64)
    first = np.zeros(len(wide), dtype=np.uint64)
    count = np.zeros(len(wide), dtype=np.uint64)
    for level in range(len(V4_LEVELS)):
        s = _prefix_values(f, cols["start_hi"][wide], cols["start_lo"][wide], level)
        e = _prefix_values(f, cols["end_hi"][wide], cols["end_lo"][wide], level)
        span = e - s + np.uint64(1)
        take = (chosen_level < 0) & (span <= np.uint64(FANOUT_CAP))
        chosen_level[take] = level
        first[take] = s[take]
        count[take] = span[take]
    repeats = count.astype(np.int64)
    rows = np.repeat(np.arange(len(wide)), repeats)
    starts = np.cumsum(repeats) - repeats
    offset = np.arange(len(rows), dtype=np.int64) - np.repeat(starts, repeats)
    prefix = first[rows] + offset.astype(np.uint64)
    keys = np.zeros(len(rows), dtype=np.int64)
    for level in range(len(V4_LEVELS)):
        at = chosen_level[rows] == level
        keys[at] = _bucket_key(level, f[rows][at], prefix[at])
    src = wide[rows]
    buckets = pa.table(
        {
            "bucket": pa.array(keys, pa.int64()),
            "rid": pa.array(src.astype(np.int64), pa.int64()),
            **{c: pa.array(cols[c][src], pa.int64()) for c in RANGE_COLUMNS[1:]},
        }
    )
    return RangeTable(ranges=table, exact=exact, buckets=buckets)


def network_bounds(net: ipaddress.IPv4Network | ipaddress.IPv6Network) -> tuple[int, int, int]:
    """``(family, first, last)`` of a network as unsigned integers."""
    return net.version, int(net.network_address), int(net.broadcast_address)


def ranges_from_bounds(
    families: list[int], firsts: list[int], lasts: list[int], attributes: pa.Table | None = None
) -> pa.Table:
    """A range table (:data:`RANGE_COLUMNS` + attributes) from unsigned integer bounds."""
    s = [split128(v) for v in firsts]
    e = [split128(v) for v in lasts]
    table = pa.table(
        {
            "family": pa.array(families, pa.int8()),
            "start_hi": pa.array([p[0] for p in s], pa.int64()),
            "start_lo": pa.array([p[1] for p in s], pa.int64()),
            "end_hi": pa.array([p[0] for p in e], pa.int64()),
            "end_lo": pa.array([p[1] for p in e], pa.int64()),
        }
    )
    if attributes is not None:
        for name in attributes.column_names:
            table = table.append_column(name, attributes.column(name))
    return table


def address_keys(addresses: pa.Table) -> pa.Table:
    """``ip, bucket, hi, lo``: one row per valid address and bucket level."""
    fam = np.asarray(addresses.column("family").fill_null(0).to_numpy(), dtype=np.int8)
    ok = fam != 0
    ip = pc.filter(addresses.column("ip"), pa.array(ok))
    fam = fam[ok]
    hi = np.asarray(addresses.column("hi").fill_null(0).to_numpy(), dtype=np.int64)[ok]
    lo = np.asarray(addresses.column("lo").fill_null(0).to_numpy(), dtype=np.int64)[ok]
    parts = []
    for level in range(len(V4_LEVELS)):
        key = _bucket_key(level, fam, _prefix_values(fam, hi, lo, level))
        parts.append(
            pa.table(
                {
                    "ip": ip,
                    "bucket": pa.array(key, pa.int64()),
                    "hi": pa.array(hi, pa.int64()),
                    "lo": pa.array(lo, pa.int64()),
                }
            )
        )
    return pa.concat_tables(parts)


def match(addresses: ir.Table | pa.Table, ranges: RangeTable, ip_column: str = "ip") -> ir.Table:
    """Every (address, range) pair where the range holds the address, as an Ibis table.

    Columns: ``ip`` (the text as given, so callers can join back to events)
    then the range table's attribute columns. Distinct addresses leave the
    engine once to be converted (vectorised); the matching itself is two
    equi-joins and a filter in the engine.
    """
    if isinstance(addresses, pa.Table):
        addresses = ibis.memtable(addresses)
    distinct = (
        addresses.select(ip=addresses[ip_column].cast("string"))
        .filter(ibis._.ip.notnull())
        .distinct()
        .to_pyarrow()
    )
    ips = distinct.column("ip")
    ints = addresses_to_ints(ips)
    addr_table = pa.table({"ip": ips, **{c: ints.column(c) for c in ADDRESS_INT_COLUMNS}})
    keyed = ibis.memtable(address_keys(addr_table))
    addr = ibis.memtable(addr_table.filter(pc.is_valid(addr_table.column("family"))))
    exact = ibis.memtable(ranges.exact)
    buckets = ibis.memtable(ranges.buckets)
    attrs = ibis.memtable(ranges.ranges.select(["rid", *ranges.attributes]))

    hits_exact = addr.join(
        exact,
        [addr.family == exact.family, addr.hi == exact.hi, addr.lo == exact.lo],
    ).select(ip=addr.ip, rid=exact.rid)
    j = keyed.join(buckets, keyed.bucket == buckets.bucket)
    after_start = (j.start_hi < j.hi) | ((j.start_hi == j.hi) & (j.start_lo <= j.lo))
    before_end = (j.hi < j.end_hi) | ((j.hi == j.end_hi) & (j.lo <= j.end_lo))
    hits_wide = j.filter(after_start & before_end).select(ip=j.ip, rid=j.rid)
    hits = hits_exact.union(hits_wide, distinct=False)
    out = hits.join(attrs, hits.rid == attrs.rid)
    return out.select("ip", *ranges.attributes)
