"""Vectorised IP address validation and normalisation for parsers.

Dotted-quad IPv4 without leading zeros (nearly every address in real logs) is
already canonical and is recognised by one regex over the whole column. The
rest (IPv6, IPv4-mapped IPv6, odd spellings) is normalised once per *distinct*
value with ``ipaddress``, so the cost follows the number of distinct addresses,
not the number of lines.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from reconwatch.netaddr import normalise_ip

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
