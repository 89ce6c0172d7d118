"""IP address helpers shared by every stage (IPv4 and IPv6 alike).

Per-line work never happens here: parsers normalise addresses in the engine.
These helpers serve per-case and per-rule work (a few thousand values), where
Python's ``ipaddress`` is exact and clear.
"""

from __future__ import annotations

import ipaddress
import itertools
from collections.abc import Iterable, Sequence
from typing import NamedTuple, TypeAlias

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


#: Address ranges that are internal wherever they appear (RFC 1918, IPv6 ULA):
#: never routed on the internet, so seeing them handed to or asked for by an
#: outside party means internal addressing is leaking.
PRIVATE_NETWORKS: tuple[str, ...] = ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7")

#: Widening a range into text prefixes stops here: a config that needs more
#: (a /9 of IPv6 with odd bits) is better listed as aligned ranges.
MAX_TEXT_PREFIXES = 4096


class TextPrefix(NamedTuple):
    """A test on an address's canonical text.

    ``prefix`` starts it; when ``colon_at`` is set, a ``:`` sits at that
    0-based offset (so that the partial hextet ``fd`` matches ``fd12:`` but not
    the 3-digit ``fd1:``); when ``exact``, the text is ``prefix`` itself (a
    single address: ``10.0.0.2`` must not match ``10.0.0.25``).
    """

    prefix: str
    colon_at: int | None = None
    exact: bool = False

    def matches(self, text: str) -> bool:
        """The same test in Python (the engines evaluate it in ``detect.internal``)."""
        if self.exact:
            return text == self.prefix
        at = self.colon_at
        return text.startswith(self.prefix) and (at is None or text[at : at + 1] == ":")


def _aligned(net: IPNetwork, step: int) -> list[IPNetwork]:
    """``net`` split into subnets whose prefix length is a multiple of ``step``."""
    target = -(-net.prefixlen // step) * step
    if target == net.prefixlen:
        return [net]
    if target - net.prefixlen > 12:
        raise ValueError(f"{net} is too wide to match by text; list aligned ranges instead")
    return list(net.subnets(new_prefix=target))


def text_prefixes(networks: Iterable[IPNetwork]) -> list[TextPrefix]:
    """Text prefixes that match exactly the canonical addresses inside ``networks``.

    Engines store addresses as canonical text (what ``ipaddress`` prints), so
    range membership becomes ``startswith`` tests that run on every engine
    without integer conversion. IPv4 ranges widen to whole octets
    (172.16.0.0/12 -> ``172.16.`` .. ``172.31.``). IPv6 ranges match whole
    hextets plus the printed nibbles of a partial one (fc00::/7 -> ``fc`` and
    ``fd`` with a colon 4 characters on). Single addresses match exactly. IPv6
    prefixes that end in a zero hextet (or all-zero nibbles) or hold two zero
    hextets in a row are refused: the canonical text may compress those zeros
    with the free part into ``::``, and no plain prefix can follow that.
    """
    result: list[TextPrefix] = []
    for net in networks:
        if net.prefixlen == 0:
            raise ValueError(f"{net} matches every address; list real ranges")
        if net.prefixlen == net.max_prefixlen:
            result.append(TextPrefix(str(net.network_address), exact=True))
            continue
        if isinstance(net, ipaddress.IPv4Network):
            for sub in _aligned(net, 8):
                if sub.prefixlen == 32:
                    result.append(TextPrefix(str(sub.network_address), exact=True))
                    continue
                octets = str(sub.network_address).split(".")[: sub.prefixlen // 8]
                result.append(TextPrefix(".".join(octets) + "."))
            continue
        for sub in _aligned(net, 4):
            if sub.prefixlen == 128:
                result.append(TextPrefix(str(sub.network_address), exact=True))
                continue
            hextets = sub.network_address.exploded.split(":")
            full, nibbles = divmod(sub.prefixlen, 16)
            head = [format(int(h, 16), "x") for h in hextets[:full]]
            fixed = hextets[full][: nibbles // 4]
            digits = fixed.lstrip("0")
            zero_run = any(a == b == "0" for a, b in itertools.pairwise(head))
            zero_edge = (digits == "") if nibbles else (not head or head[-1] == "0")
            if zero_run or zero_edge:
                # A zero hextet next to the free part may be compressed into
                # ``::`` with the zeros after it: no text prefix follows it.
                raise ValueError(f"{net}: zero hextets in the prefix cannot be matched by text")
            text = ":".join(head) + (":" if head else "")
            if nibbles == 0:
                result.append(TextPrefix(text))
            else:
                # Leading zero nibbles are not printed; the rest fixes the
                # hextet's printed width, so its closing colon's offset is known.
                width = 4 - (len(fixed) - len(digits))
                result.append(TextPrefix(text + digits, len(text) + width))
        if len(result) > MAX_TEXT_PREFIXES:
            raise ValueError(f"{net} widens to too many text prefixes; list aligned ranges")
    return result


def reverse_zones(networks: Iterable[IPNetwork]) -> list[str]:
    """The reverse-DNS zones (``in-addr.arpa``/``ip6.arpa``) covering ``networks``.

    Widened to octet (IPv4) or nibble (IPv6) boundaries, where zones are cut:
    172.16.0.0/12 -> ``16.172.in-addr.arpa`` .. ``31.172.in-addr.arpa``.
    """
    zones: list[str] = []
    for net in networks:
        step = 8 if isinstance(net, ipaddress.IPv4Network) else 4
        for sub in _aligned(net, step):
            labels = sub.network_address.reverse_pointer.split(".")
            keep = sub.prefixlen // step
            # reverse_pointer lists every octet/nibble, least significant first.
            zones.append(".".join(labels[len(labels) - 2 - keep :]))
    return sorted(set(zones))
