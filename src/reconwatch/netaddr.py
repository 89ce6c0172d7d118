"""IP address helpers shared by every stage (IPv4 and IPv6 alike).

Per-line work never happens here: parsers normalise addresses in the engine.
These helpers serve per-case and per-rule work (a few thousand values), where
Python's ``ipaddress`` is exact and clear.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence
from typing import TypeAlias

IPAddress: TypeAlias = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork: TypeAlias = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_ip(text: str) -> IPAddress:
    """Parse an address, unwrapping IPv4-mapped IPv6 (``::ffff:a.b.c.d``).

    Raises ``ValueError`` for anything that is not exactly one address. IPv6
    zone ids (``fe80::1%eth0``) are refused: ``ipaddress`` would print the zone
    text back out verbatim, and that text comes from untrusted logs.
    """
    addr = ipaddress.ip_address(text)
    if isinstance(addr, ipaddress.IPv6Address):
        if addr.scope_id is not None:
            raise ValueError(f"zone ids are not accepted: {text!r}")
        if addr.ipv4_mapped is not None:
            return addr.ipv4_mapped
    return addr


def normalise_ip(text: str) -> str:
    """The canonical text form of an address (compressed IPv6, mapped IPv4 unwrapped)."""
    return str(parse_ip(text))


def parse_networks(items: Iterable[str]) -> list[IPNetwork]:
    """Parse CIDRs or bare addresses (host bits must be zero, as a config typo is a bug)."""
    return [ipaddress.ip_network(item.strip(), strict=True) for item in items]


def in_any(addr: IPAddress, networks: Sequence[IPNetwork]) -> bool:
    """True when ``addr`` lies inside one of ``networks`` of the same family."""
    return any(addr.version == net.version and addr in net for net in networks)


def overlaps_any(net: IPNetwork, networks: Sequence[IPNetwork]) -> bool:
    """True when ``net`` shares at least one address with one of ``networks``."""
    return any(net.version == other.version and net.overlaps(other) for other in networks)


def collapse(addresses: Iterable[IPAddress | IPNetwork]) -> list[IPNetwork]:
    """Merge addresses and networks into the fewest covering CIDRs, per family."""
    nets = [ipaddress.ip_network(a) for a in addresses]
    v4 = [n for n in nets if n.version == 4]
    v6 = [n for n in nets if n.version == 6]
    return [*ipaddress.collapse_addresses(v4), *ipaddress.collapse_addresses(v6)]


def describe_range(addresses: Iterable[str]) -> str:
    """A short human description of a set of addresses, e.g. ``10.0.0.1-10.0.0.40 (40)``."""
    parsed = sorted({parse_ip(a) for a in addresses}, key=lambda a: (a.version, int(a)))
    if not parsed:
        return "none"
    if len(parsed) == 1:
        return str(parsed[0])
    families = {a.version for a in parsed}
    if len(families) == 1:
        return f"{parsed[0]}-{parsed[-1]} ({len(parsed)} addresses)"
    return f"{len(parsed)} addresses (IPv4 and IPv6)"
