"""Addresses as numbers, and their text forms made in bulk.

Events carry addresses as ``(version, hi, lo)`` integer columns: sorting,
taking and comparing them costs nothing, and each writer formats them the way
its log does. The kernel prints IPv6 fully expanded (``%pI6``:
``2001:0db8:0000:...``) while Zeek prints the RFC 5952 compressed form, so the
same packet must be formattable both ways without a Python call per address.

Background sources come from :class:`PublicV4Pool`, which turns a counter into
an address through a bijective 32-bit mix: distinct counters give distinct
addresses, so millions of sources stay unique across streamed chunks without
remembering any of them. That is what lets the generator promise caps per
noise source (a repeated source could add up to a scan).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Any, Final, TypeAlias

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

U8 = npt.NDArray[np.uint8]
U32 = npt.NDArray[np.uint32]
U64 = npt.NDArray[np.uint64]
Bool = npt.NDArray[np.bool_]
#: What selects rows: positions, a boolean mask or a slice.
Index: TypeAlias = npt.NDArray[np.integer[Any]] | npt.NDArray[np.bool_] | slice | list[int]

#: First octets never drawn for a "random public" IPv4 source: this-network,
#: RFC 1918, CGNAT, loopback, link-local, the /8s holding the documentation
#: ranges (so no background source collides with a named actor or our own
#: 203.0.113.0/24), and multicast/reserved.
_EXCLUDED_FIRST_OCTETS: Final = frozenset({0, 10, 100, 127, 169, 172, 192, 198, 203}) | frozenset(
    range(224, 256)
)
_PUBLIC_FIRST_OCTET: Final = np.array(
    [i not in _EXCLUDED_FIRST_OCTETS for i in range(256)], dtype=np.bool_
)

_DEC: Final = pa.array([str(i) for i in range(256)], type=pa.string())
_HEX4: Final = pa.array([f"{i:04x}" for i in range(65536)], type=pa.string())
_HEX: Final = pa.array([f"{i:x}" for i in range(65536)], type=pa.string())

_MASK32: Final = np.uint64(0xFFFFFFFF)


@dataclass(frozen=True)
class Addrs:
    """A column of addresses: IP version plus the 128-bit value split in two."""

    version: U8
    hi: U64
    lo: U64

    def __len__(self) -> int:
        return len(self.version)

    def take(self, index: Index) -> Addrs:
        return Addrs(self.version[index], self.hi[index], self.lo[index])


def mix32(x: U32, key: int) -> U32:
    """A bijection of uint32 (key xor, then the lowbias32 finaliser).

    Each step (xor with a constant, xor-shift, multiply by an odd constant) is
    invertible, so the whole map is too: distinct inputs, distinct outputs.
    """
    with np.errstate(over="ignore"):
        y = x ^ np.uint32(key & 0xFFFFFFFF)
        y = y ^ (y >> np.uint32(16))
        y = y * np.uint32(0x7FEB352D)
        y = y ^ (y >> np.uint32(15))
        y = y * np.uint32(0x846CA68B)
        y = y ^ (y >> np.uint32(16))
    return y


def mix64(x: U64, key: int) -> U64:
    """A bijection of uint64 (key xor, then the splitmix64 finaliser)."""
    with np.errstate(over="ignore"):
        y = x ^ np.uint64(key & 0xFFFFFFFFFFFFFFFF)
        y = y ^ (y >> np.uint64(30))
        y = y * np.uint64(0xBF58476D1CE4E5B9)
        y = y ^ (y >> np.uint64(27))
        y = y * np.uint64(0x94D049BB133111EB)
        y = y ^ (y >> np.uint64(31))
    return y


class PublicV4Pool:
    """Unique, realistic-looking public IPv4 addresses, drawn in order.

    ``role`` (0-3) selects a disjoint quarter of the counter space, so pools
    of different roles (noise, clients, servers, hidden scanners) never share
    an address either. Deterministic for a given ``(seed, role)`` and sequence
    of ``take`` calls.
    """

    ROLES: Final = 4

    def __init__(self, seed: int, role: int) -> None:
        if not 0 <= role < self.ROLES:
            raise ValueError(f"role must be in 0..{self.ROLES - 1}")
        self._key = (seed * 0x9E3779B1 + 0x632BE5AB) & 0xFFFFFFFF
        self._base = role << 30
        self._next = 0

    def take(self, n: int) -> U32:
        """The next ``n`` addresses of this pool as uint32."""
        out: list[U32] = []
        need = n
        while need > 0:
            batch = need + need // 3 + 64
            if self._next + batch > 1 << 30:
                raise ValueError("address pool exhausted")
            counters = np.arange(
                self._base + self._next, self._base + self._next + batch, dtype=np.uint32
            )
            cand = mix32(counters, self._key)
            last = cand & np.uint32(0xFF)
            ok = _PUBLIC_FIRST_OCTET[cand >> np.uint32(24)] & (last != 0) & (last != 255)
            picked = np.flatnonzero(ok)[:need]
            out.append(cand[picked])
            if len(picked) < need:
                self._next += batch
            else:
                self._next += int(picked[-1]) + 1
            need -= len(picked)
        return np.concatenate(out) if out else np.empty(0, dtype=np.uint32)


def v4(values: npt.ArrayLike) -> Addrs:
    """IPv4 addresses from integer values."""
    lo = np.asarray(values, dtype=np.uint64)
    return Addrs(np.full(lo.shape, 4, np.uint8), np.zeros(lo.shape, np.uint64), lo)


def parse(texts: list[str] | tuple[str, ...] | str) -> Addrs:
    """Addresses from text (for the handful that named actors use)."""
    items = [texts] if isinstance(texts, str) else list(texts)
    parsed = [ipaddress.ip_address(t) for t in items]
    version = np.array([a.version for a in parsed], dtype=np.uint8)
    hi = np.array([int(a) >> 64 for a in parsed], dtype=np.uint64)
    lo = np.array([int(a) & 0xFFFFFFFFFFFFFFFF for a in parsed], dtype=np.uint64)
    return Addrs(version, hi, lo)


def repeat(addr: Addrs, n: int) -> Addrs:
    """One address (an ``Addrs`` of length 1) repeated ``n`` times."""
    return addr.take(np.zeros(n, dtype=np.intp))


def concat(parts: list[Addrs]) -> Addrs:
    return Addrs(
        np.concatenate([p.version for p in parts]),
        np.concatenate([p.hi for p in parts]),
        np.concatenate([p.lo for p in parts]),
    )


def to_text(addr: Addrs, index: int) -> str:
    """Canonical text of one address (compressed IPv6)."""
    value = (int(addr.hi[index]) << 64) | int(addr.lo[index])
    if int(addr.version[index]) == 4:
        return str(ipaddress.IPv4Address(value))
    return str(ipaddress.IPv6Address(value))


def _groups(addr: Addrs) -> list[npt.NDArray[np.int64]]:
    """The eight 16-bit groups of each address, most significant first."""
    out = []
    for word in (addr.hi, addr.lo):
        for shift in (48, 32, 16, 0):
            out.append(((word >> np.uint64(shift)) & np.uint64(0xFFFF)).astype(np.int64))
    return out


def _format_v4(lo: U64) -> pa.Array:
    octets = [
        pc.take(_DEC, pa.array(((lo >> np.uint64(s)) & np.uint64(0xFF)).astype(np.int64)))
        for s in (24, 16, 8, 0)
    ]
    return pc.binary_join_element_wise(*octets, ".")


def _format_v6_expanded(addr: Addrs) -> pa.Array:
    return pc.binary_join_element_wise(*[pc.take(_HEX4, pa.array(g)) for g in _groups(addr)], ":")


def _format_v6_compressed(addr: Addrs) -> pa.Array:
    """RFC 5952 text (what ``ipaddress`` and Zeek print), vectorised.

    The longest run of two or more zero groups (the first, on ties) becomes
    ``::``. Rows are grouped by where that run lies (at most 29 cases), and
    each case is joined from its groups in one call.
    """
    n = len(addr)
    groups = _groups(addr)
    zero = np.stack([g == 0 for g in groups], axis=1)
    run = np.zeros((n, 9), dtype=np.int64)
    for i in range(7, -1, -1):
        run[:, i] = np.where(zero[:, i], run[:, i + 1] + 1, 0)
    best_len = run[:, :8].max(axis=1)
    best_start = run[:, :8].argmax(axis=1)
    best_start = np.where(best_len >= 2, best_start, -1)
    best_len = np.where(best_len >= 2, best_len, 0)
    hexes = [pc.take(_HEX, pa.array(g)) for g in groups]
    result = pa.nulls(n, type=pa.string())
    case = best_start * 16 + best_len
    for key in np.unique(case):
        rows = np.flatnonzero(case == key)
        start, length = int(key) // 16, int(key) % 16
        if start < 0:
            start, length = -1, 0
        idx = pa.array(rows)
        cols = [pc.take(h, idx) for h in hexes]
        if start < 0:
            text = pc.binary_join_element_wise(*cols, ":")
        else:
            left = cols[:start]
            right = cols[start + length :]
            left_text = pc.binary_join_element_wise(*left, ":") if left else None
            right_text = pc.binary_join_element_wise(*right, ":") if right else None
            if left_text is None and right_text is None:
                text = pa.array(["::"] * len(rows), type=pa.string())
            elif left_text is None:
                text = pc.binary_join_element_wise("::", right_text, "")
            elif right_text is None:
                text = pc.binary_join_element_wise(left_text, "::", "")
            else:
                text = pc.binary_join_element_wise(left_text, "::", right_text, "")
        mask = np.zeros(n, dtype=np.bool_)
        mask[rows] = True
        result = pc.replace_with_mask(result, pa.array(mask), text)
    return result


def format_addresses(addr: Addrs, *, expanded_v6: bool) -> pa.Array:
    """Text of every address as an Arrow string array.

    ``expanded_v6`` chooses the kernel's ``%pI6`` form (eight 4-digit groups)
    over the compressed one. IPv4 is the same either way.
    """
    n = len(addr)
    if n == 0:
        return pa.array([], type=pa.string())
    is6 = addr.version == 6
    if not is6.any():
        return _format_v4(addr.lo)
    if is6.all():
        return _format_v6_expanded(addr) if expanded_v6 else _format_v6_compressed(addr)
    text = _format_v4(addr.lo & _MASK32)
    sub = addr.take(is6)
    six = _format_v6_expanded(sub) if expanded_v6 else _format_v6_compressed(sub)
    return pc.replace_with_mask(text, pa.array(is6), six)


def equals(addr: Addrs, other: Addrs) -> Bool:
    """Row-wise equality with one address (``other`` of length 1)."""
    same: Bool = (
        (addr.version == other.version[0]) & (addr.hi == other.hi[0]) & (addr.lo == other.lo[0])
    )
    return same
