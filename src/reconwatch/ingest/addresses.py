"""Vectorised IP address validation and normalisation for parsers.

Dotted-quad IPv4 without leading zeros (nearly every address in real logs) is
already canonical and is recognised by one regex over the whole column. The
rest (IPv6, IPv4-mapped IPv6, odd spellings) is normalised once per *distinct*
value with ``ipaddress``, so the cost follows the number of distinct addresses,
not the number of lines.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from reconwatch.netaddr import IPNetwork, collapse, in_any, normalise_ip, parse_ip

_OCTET = r"(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
CANONICAL_IPV4 = rf"^{_OCTET}(\.{_OCTET}){{3}}$"
#: Longest text that can be an address (IPv6 with an embedded IPv4 and a zone is
#: still below this); longer values are rejected without parsing.
MAX_IP_CHARS = 64


def normalise_ips(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    """Canonical text of each address; null where the value is not one address."""
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    values = values.cast(pa.string())
    canonical = pc.match_substring_regex(values, CANONICAL_IPV4)
    others = pc.filter(values, pc.invert(canonical))
    if len(others) == 0:
        return values
    mapping: dict[str, str | None] = {}
    for text in pc.unique(others).to_pylist():
        if text is None:
            continue
        try:
            mapping[text] = normalise_ip(text) if len(text) <= MAX_IP_CHARS else None
        except ValueError:
            mapping[text] = None
    keys = pa.array(list(mapping), pa.string())
    normalised = pa.array(list(mapping.values()), pa.string())
    slow = pc.take(normalised, pc.index_in(values, keys))
    return pc.if_else(canonical, values, slow)


# -- Range membership ----------------------------------------------------------------
#
# ``detect.ranges.in_networks`` tests ranges in the engines (Ibis) as text
# prefixes; ingest works on Arrow batches before any engine sees them. A
# canonical IPv4 address becomes its number (numpy: two comparisons per
# range); anything else is read by ``netaddr`` once per distinct value, as
# ``normalise_ips`` already read it (IPv6 values are few beside IPv4 ones).

_OCTET_WEIGHTS = np.array([1 << 24, 1 << 16, 1 << 8, 1], dtype=np.uint64)


def ipv4_numbers(values: pa.Array) -> np.ndarray:
    """The 32-bit numbers of canonical IPv4 addresses (``CANONICAL_IPV4``, none null)."""
    octets = pc.list_flatten(pc.split_pattern(values, ".")).cast(pa.uint64()).to_numpy()
    numbers: np.ndarray = octets.reshape(-1, 4) @ _OCTET_WEIGHTS
    return numbers


def in_networks(values: pa.Array | pa.ChunkedArray, networks: Sequence[IPNetwork]) -> pa.Array:
    """Whether each address lies in one of ``networks`` (null, or text that is
    no address: false). Tested once per distinct value (a web log's clients
    repeat)."""
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    values = values.cast(pa.string())
    if not networks or len(values) == 0:
        return pa.repeat(pa.scalar(False), len(values))
    distinct = pc.drop_null(pc.unique(values))
    inside = np.zeros(len(distinct), dtype=bool)
    merged = collapse(networks)
    v4 = pc.match_substring_regex(distinct, CANONICAL_IPV4).to_numpy(zero_copy_only=False)
    v4_nets = [n for n in merged if isinstance(n, ipaddress.IPv4Network)]
    if v4_nets and v4.any():
        numbers = ipv4_numbers(distinct.filter(pa.array(v4)))
        hits = np.zeros(len(numbers), dtype=bool)
        for net4 in v4_nets:
            low, high = int(net4.network_address), int(net4.broadcast_address)
            hits |= (numbers >= low) & (numbers <= high)
        inside[np.flatnonzero(v4)] = hits
    others = np.flatnonzero(~v4)
    for at, text in zip(others, distinct.filter(pa.array(~v4)).to_pylist(), strict=True):
        try:
            inside[at] = in_any(parse_ip(text), merged)
        except ValueError:
            continue  # no address: in no range
    return pc.fill_null(pc.is_in(values, distinct.filter(pa.array(inside))), False)
