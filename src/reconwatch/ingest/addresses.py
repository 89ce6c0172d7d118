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

from reconwatch.netaddr import IPNetwork, collapse, normalise_ip

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


# -- Range membership, vectorised -----------------------------------------------------
#
# ``detect.ranges.in_networks`` tests ranges in the engines (Ibis) as text
# prefixes; ingest works on Arrow batches before any engine sees them. Here a
# canonical IPv4 address becomes its number (numpy), and a canonical IPv6 one
# a key whose text order is the numeric order (the 32 hex digits of its 128
# bits), so a range is two comparisons either way.

#: A canonical IPv6 text (lower-case hex, at most one ``::``): the hextets
#: before ``::``, and when it is there, the ones after it.
_V6_PARTS = (
    r"^(?P<head>(?:[0-9a-f]{1,4}(?::[0-9a-f]{1,4})*)?)"
    r"(?:(?P<gap>::)(?P<tail>(?:[0-9a-f]{1,4}(?::[0-9a-f]{1,4})*)?))?$"
)
_OCTET_WEIGHTS = np.array([1 << 24, 1 << 16, 1 << 8, 1], dtype=np.uint64)


def ipv4_numbers(values: pa.Array) -> np.ndarray:
    """The 32-bit numbers of canonical IPv4 addresses (``CANONICAL_IPV4``, none null)."""
    octets = pc.list_flatten(pc.split_pattern(values, ".")).cast(pa.uint64()).to_numpy()
    numbers: np.ndarray = octets.reshape(-1, 4) @ _OCTET_WEIGHTS
    return numbers


def _hextets(text: pa.Array) -> pa.Array:
    """Each ``:``-separated hextet of ``text`` on 4 hex digits, the colons
    dropped ("2001:db8" -> "20010db8"; "" stays "")."""
    padded = pc.replace_substring_regex(text, "(^|:)", "\\1000")
    joined = pc.replace_substring_regex(padded, "0*([0-9a-f]{4})(?::|$)", "\\1")
    return pc.if_else(pc.equal(text, ""), "", joined)


def ipv6_keys(values: pa.Array) -> pa.Array:
    """The 32 hex digits of each canonical IPv6 address; null for anything else."""
    values = values.cast(pa.string())
    parts = pc.extract_regex(values, _V6_PARTS)
    head = _hextets(pc.struct_field(parts, "head"))
    tail = _hextets(pc.struct_field(parts, "tail"))
    gap = pc.equal(pc.struct_field(parts, "gap"), "::")
    zeros = pc.subtract(32, pc.add(pc.binary_length(head), pc.binary_length(tail)))
    # Without ``::`` the text writes all 8 hextets; with it, at least one is left out.
    whole = pc.if_else(gap, pc.greater_equal(zeros, 4), pc.equal(zeros, 0))
    filler = pc.binary_repeat(pa.repeat(pa.scalar("0"), len(values)), pc.max_element_wise(zeros, 0))
    keys = pc.binary_join_element_wise(head, filler, tail, "")
    return pc.if_else(pc.fill_null(whole, False), keys, pa.scalar(None, pa.string()))


def ipv6_key(address: ipaddress.IPv6Address) -> str:
    """``ipv6_keys`` of one address, for a range's ends."""
    return f"{int(address):032x}"


def in_networks(values: pa.Array | pa.ChunkedArray, networks: Sequence[IPNetwork]) -> pa.Array:
    """Whether each canonical address lies in one of ``networks`` (null: false).

    Tested once per distinct value (a web log's clients repeat), two
    comparisons per merged range; text that is no canonical address is in none.
    """
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
    v6 = pc.match_substring_regex(distinct, ":").to_numpy(zero_copy_only=False)
    v6_nets = [n for n in merged if isinstance(n, ipaddress.IPv6Network)]
    if v6_nets and v6.any():
        keys = ipv6_keys(distinct.filter(pa.array(v6)))
        found = pa.repeat(pa.scalar(False), len(keys))
        for net6 in v6_nets:
            first, last = ipv6_key(net6.network_address), ipv6_key(net6.broadcast_address)
            within = pc.and_(pc.greater_equal(keys, first), pc.less_equal(keys, last))
            found = pc.or_(found, pc.fill_null(within, False))
        inside[np.flatnonzero(v6)] = found.to_numpy(zero_copy_only=False)
    return pc.fill_null(pc.is_in(values, distinct.filter(pa.array(inside))), False)
