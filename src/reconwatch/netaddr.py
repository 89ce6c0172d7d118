"""IP address helpers shared by every stage (IPv4 and IPv6 alike).

Per-line work never happens here: parsers normalise addresses in the engine.
These helpers serve per-case and per-rule work (a few thousand values), where
Python's ``ipaddress`` is exact and clear.
"""

from __future__ import annotations

import ipaddress
import itertools
from collections.abc import Iterable, Sequence
from typing import Final, NamedTuple, TypeAlias

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
    """Parse CIDRs or bare addresses (host bits must be zero, as a config typo is a bug).

    IPv4-mapped ranges (``::ffff:198.51.100.0/120``) are the IPv4 ranges they
    hold (``198.51.100.0/24``): log addresses are unwrapped the same way
    (``parse_ip``), so a protected range written in its dual-stack form must
    protect the IPv4 addresses. Zone ids (``fe80::1%eth0``) are refused.
    """
    networks = []
    for item in items:
        text = item.strip()
        if "%" in text:
            raise ValueError(f"zone ids are not accepted in a range: {text!r}")
        networks.append(unmapped(ipaddress.ip_network(text, strict=True)))
    return networks


def unmapped(network: IPNetwork) -> IPNetwork:
    """The IPv4 network an IPv4-mapped IPv6 network of /96 or longer stands for, else itself."""
    if isinstance(network, ipaddress.IPv6Network) and network.prefixlen >= 96:
        mapped = network.network_address.ipv4_mapped
        if mapped is not None:
            return ipaddress.IPv4Network((mapped, network.prefixlen - 96))
    return network


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

    ``prefix`` starts it; when ``colon_at`` is set, the hextet that ``prefix``
    opens ends (its first ``:`` or the end of the text) at that 0-based offset
    (so that the partial hextet ``fd`` matches ``fd12:`` but neither the
    3-digit ``fd1:`` nor ``fd::1:2``);
    with ``colon_from`` as well, it ends anywhere from ``colon_from`` to
    ``colon_at`` (a hextet whose fixed nibbles are zero prints 1 to n digits).
    When ``exact``, the text is ``prefix`` itself (a single address:
    ``10.0.0.2`` must not match ``10.0.0.25``). When ``expanded``, the test
    reads the text with its ``::`` written out as zero hextets (see
    ``expand_text``): ranges whose prefix ends in zero hextets cannot be
    matched on the compressed text, as those zeros may be folded into ``::``
    with the free part.
    """

    prefix: str
    colon_at: int | None = None
    exact: bool = False
    expanded: bool = False
    colon_from: int | None = None

    def matches(self, text: str) -> bool:
        """The same test in Python (the engines evaluate it in ``detect.ranges``)."""
        if self.expanded:
            text = expand_text(text)
        if self.exact:
            return text == self.prefix
        if not text.startswith(self.prefix):
            return False
        at = self.colon_at
        if at is None:
            return True
        first = at if self.colon_from is None else self.colon_from
        # The hextet runs on to ``first`` at least, and ends by ``at``.
        if ":" in text[len(self.prefix) : first] or len(text) < first:
            return False
        return ":" in text[first : at + 1] or len(text) <= at


#: IPv6 prefixes whose addresses stand for many hosts each: a NAT64 prefix's
#: /64 is every IPv4 address reached through that translator (RFC 6052
#: well-known 64:ff9b::/96, RFC 8215 local-use 64:ff9b:1::/48), and a Teredo
#: address (2001::/32) is one tunnelled client of a shared server.
TRANSLATED_IPV6: Final = ("64:ff9b::/96", "64:ff9b:1::/48", "2001::/32")

#: ``::`` written out: ``ZERO_HEXTETS[: 2 * n - 1]`` is ``n`` zero hextets.
ZERO_HEXTETS = ":".join(["0"] * 8)


def _hextet_count(part: str) -> int:
    """Hextets written in ``part`` (one side of ``::``); a dotted IPv4 tail counts two."""
    if part == "":
        return 0
    return part.count(":") + 1 + (1 if "." in part else 0)


def expand_text(text: str) -> str:
    """``text`` with its ``::`` written out as zero hextets, nothing else changed.

    ``2001:db8::1`` -> ``2001:db8:0:0:0:0:0:1``; text without ``::`` (IPv4,
    uncompressed IPv6) is returned as it is. Canonical hextets carry no
    leading zeros, so every address then has one text of 8 hextets (or 6 and
    a dotted IPv4 tail) and zero hextets in a prefix become plain text.
    ``detect.ranges.expanded`` is the same function in the engines.
    """
    at = text.find("::")
    if at < 0:
        return text
    left, right = text[:at], text[at + 2 :]
    zeros = 8 - _hextet_count(left) - _hextet_count(right)
    middle = ZERO_HEXTETS[: max(2 * zeros - 1, 0)]
    return (left + ":" if left else "") + middle + (":" + right if right else "")


def _aligned(net: IPNetwork, step: int) -> list[IPNetwork]:
    """``net`` split into subnets whose prefix length is a multiple of ``step``."""
    target = -(-net.prefixlen // step) * step
    if target == net.prefixlen:
        return [net]
    if target - net.prefixlen > 12:
        raise ValueError(f"{net} is too wide to match by text; list aligned ranges instead")
    return list(net.subnets(new_prefix=target))


def _v4_prefixes(
    net: ipaddress.IPv4Network, *, head: str = "", expanded: bool = False
) -> list[TextPrefix]:
    """Text prefixes of an IPv4 range, after ``head`` (an IPv6 text before a dotted tail)."""
    result = []
    for sub in _aligned(net, 8):
        if sub.prefixlen == 32:
            result.append(
                TextPrefix(head + str(sub.network_address), exact=True, expanded=expanded)
            )
            continue
        octets = str(sub.network_address).split(".")[: sub.prefixlen // 8]
        text = ".".join(octets) + "." if octets else ""
        result.append(TextPrefix(head + text, expanded=expanded))
    return result


def _v6_exact(address: ipaddress.IPv6Address) -> list[TextPrefix]:
    """One IPv6 address: its canonical text, and for IPv4-mapped also the dotted form."""
    texts = [str(address)]
    if address.ipv4_mapped is not None:
        texts.append(f"::ffff:{address.ipv4_mapped}")
    return [TextPrefix(text, exact=True) for text in dict.fromkeys(texts)]


def _v6_prefixes(sub: ipaddress.IPv6Network) -> list[TextPrefix]:
    """Text prefixes of an IPv6 range aligned to a nibble (prefix length < 128)."""
    hextets = sub.network_address.exploded.split(":")
    full, nibbles = divmod(sub.prefixlen, 16)
    head = [format(int(h, 16), "x") for h in hextets[:full]]
    fixed = hextets[full][: nibbles // 4]
    digits = fixed.lstrip("0")
    zero_run = any(a == b == "0" for a, b in itertools.pairwise(head))
    zero_edge = (digits == "") if nibbles else (not head or head[-1] == "0")
    # A zero hextet next to the free part, or two in a row, may be compressed
    # into ``::`` (with the zeros after it): such ranges test the expanded text.
    expanded = zero_run or zero_edge
    text = ":".join(head) + (":" if head else "")
    result: list[TextPrefix] = []
    if nibbles == 0:
        result.append(TextPrefix(text, expanded=expanded))
    elif digits:
        # Leading zero nibbles are not printed; the rest fixes the hextet's
        # printed width, so where it ends is known.
        width = 4 - (len(fixed) - len(digits))
        result.append(TextPrefix(text + digits, len(text) + width, expanded=expanded))
    else:
        # The fixed nibbles are zero: the hextet prints 1 to (4 - nibbles) digits.
        width = 4 - nibbles // 4
        result.append(TextPrefix(text, len(text) + width, expanded=True, colon_from=len(text) + 1))
    if expanded and sub.prefixlen > 96:
        # The last 32 bits may be printed as a dotted IPv4 tail (``::ffff:1.2.3.4``).
        tail = ipaddress.IPv4Network((int(sub.network_address) & 0xFFFFFFFF, sub.prefixlen - 96))
        head6 = ":".join(format(int(h, 16), "x") for h in hextets[:6]) + ":"
        result.extend(_v4_prefixes(tail, head=head6, expanded=True))
    return result


def text_prefixes(networks: Iterable[IPNetwork]) -> list[TextPrefix]:
    """Text prefixes that match exactly the canonical addresses inside ``networks``.

    Engines store addresses as canonical text (what ``ipaddress`` prints), so
    range membership becomes ``startswith`` tests that run on every engine
    without integer conversion. IPv4 ranges widen to whole octets
    (172.16.0.0/12 -> ``172.16.`` .. ``172.31.``). IPv6 ranges match whole
    hextets plus the printed nibbles of a partial one (fc00::/7 -> ``fc`` and
    ``fd`` with the hextet ending 4 characters on). Single addresses match
    exactly. IPv6 prefixes that end in a zero hextet (or all-zero nibbles) or
    hold two zero hextets in a row test the text with its ``::`` written out
    (``expanded``): 2001:db8::/48 -> ``2001:db8:0:`` on ``2001:db8:0:0:...``.
    """
    result: list[TextPrefix] = []
    for net in networks:
        if net.prefixlen == 0:
            raise ValueError(f"{net} matches every address; list real ranges")
        if isinstance(net, ipaddress.IPv4Network):
            result.extend(_v4_prefixes(net))
        else:
            for sub in _aligned(net, 4):
                assert isinstance(sub, ipaddress.IPv6Network)
                if sub.prefixlen == sub.max_prefixlen:
                    result.extend(_v6_exact(sub.network_address))
                else:
                    result.extend(_v6_prefixes(sub))
        if len(result) > MAX_TEXT_PREFIXES:
            raise ValueError(f"{net} widens to too many text prefixes; list aligned ranges")
    return result


def mapped_text_prefixes(networks: Iterable[IPNetwork]) -> list[TextPrefix]:
    """Text prefixes of the IPv4 ranges among ``networks`` in IPv4-mapped form.

    10.0.0.0/8 -> ``::ffff:10.``: text read from a log as it came (a DNS
    answer, a Host) may write an IPv4 address mapped into IPv6, which is the
    same address (``parse_ip`` unwraps it at ingest; ranges are unwrapped by
    ``parse_networks``).
    """
    result: list[TextPrefix] = []
    for net in networks:
        if isinstance(net, ipaddress.IPv4Network):
            result.extend(_v4_prefixes(net, head="::ffff:"))
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
