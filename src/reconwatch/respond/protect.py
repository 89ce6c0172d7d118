"""Address ranges that containment must never block, and the one check for them.

Blocking is the only step of reconwatch that can hurt its own site: one bad
entry can cut off a resolver, the default gateway, a partner or the operators
themselves. So every network that might become a rule passes through
:meth:`ProtectedRanges.check`, which refuses it when

* it is wider than /8 (IPv4) or /32 (IPv6), whatever it overlaps: no
  reconnaissance response needs that much of the Internet, and such a prefix
  is always a bug (``0.0.0.0/0`` and ``::/0`` are refused by this rule first);
* it shares even one address with a protected range (overlap, not containment:
  a /24 that merely touches a protected /32 still blocks that /32);
* it is an IPv6 form of a protected IPv4 range (IPv4-mapped ``::ffff:a.b.c.d``,
  NAT64 ``64:ff9b::/96`` and the local-use ``64:ff9b:1::/48``,
  IPv4-compatible ``::a.b.c.d``, 6to4 ``2002::/16``; :data:`IPV4_CARRIERS`):
  the IPv4 part is read out and checked as IPv4, so a protected address
  cannot be smuggled through in an IPv6 spelling.

Protected ranges are: the always-protected special ranges (:data:`ALWAYS`),
the site's home networks, the site's ``protected`` list, the site's own
proxies and load balancers (``ingest.trusted_proxies``: a web log's rows keep
a proxy's address when X-Forwarded-For cannot be read, and a CDN's ranges are
public, not home) and any ``extra`` ranges a caller adds (approved exercise
sources, allowlists).
"""

from __future__ import annotations

import bisect
import ipaddress
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Final

from reconwatch.config import Config, SiteConfig
from reconwatch.netaddr import IPNetwork, parse_networks

#: Wider prefixes than these are never a recon response (see module docstring).
MIN_PREFIX: Final[dict[int, int]] = {4: 8, 6: 32}

#: IPv4-mapped IPv6 addresses (RFC 4291 2.5.5.2); checked by unwrapping to IPv4.
IPV4_MAPPED: Final = ipaddress.IPv6Network("::ffff:0:0/96")


#: RFC 8215's local-use NAT64 prefix: the operator picks the layout inside it,
#: so both readings are tried, and a reading that gives 0.0.0.0/8 (zero bits
#: where the other layout has none) is taken as "not this layout".
LOCAL_NAT64: Final = ipaddress.IPv6Network("64:ff9b:1::/48")
_THIS_NETWORK: Final = ipaddress.IPv4Network("0.0.0.0/8")


def _contiguous(start: int) -> Callable[[ipaddress.IPv6Network], ipaddress.IPv4Network]:
    """The IPv4 network carried in 32 bits from bit ``start`` of ``inner``."""

    def carried(inner: ipaddress.IPv6Network) -> ipaddress.IPv4Network:
        length = min(max(inner.prefixlen - start, 0), 32)
        bits = (int(inner.network_address) >> (128 - start - 32)) & 0xFFFFFFFF
        return ipaddress.IPv4Network((bits, length), strict=False)

    return carried


def _nat64_48(inner: ipaddress.IPv6Network) -> ipaddress.IPv4Network:
    """RFC 6052's /48 layout: IPv4 bits 0-15 at bits 48-63, 16-31 at 72-87 (u octet between)."""
    value = int(inner.network_address)
    bits = ((value >> 64) & 0xFFFF) << 16 | ((value >> 40) & 0xFFFF)
    prefix = inner.prefixlen
    length = min(max(prefix - 48, 0), 16) + min(max(prefix - 72, 0), 16)
    return ipaddress.IPv4Network((bits, length), strict=False)


def _teredo_client(inner: ipaddress.IPv6Network) -> ipaddress.IPv4Network:
    """RFC 4380: the Teredo client's IPv4 address is the last 32 bits, inverted."""
    length = min(max(inner.prefixlen - 96, 0), 32)
    bits = ~int(inner.network_address) & 0xFFFFFFFF
    return ipaddress.IPv4Network((bits, length), strict=False)


#: IPv6 prefixes that carry an IPv4 address, and how to read it: a source
#: there is an IPv4 host (or site) in IPv6 form, so the IPv4 address is
#: checked as well (a protected resolver reached through NAT64 stays
#: protected). IPv4-mapped, NAT64's well-known prefix (RFC 6052) and its
#: local-use prefix (RFC 8215; read both as a /96 and in RFC 6052's /48
#: layout, since the operator chooses), the deprecated IPv4-compatible form
#: (RFC 4291), IPv4-translated (SIIT, RFC 2765: ``::ffff:0:a.b.c.d``), 6to4
#: (RFC 3056: the site's router's address follows 2002::/16),
#: Teredo (RFC 4380: the client's address, inverted, in the last 32 bits).
IPV4_CARRIERS: Final[
    tuple[
        tuple[ipaddress.IPv6Network, Callable[[ipaddress.IPv6Network], ipaddress.IPv4Network], str],
        ...,
    ]
] = (
    (IPV4_MAPPED, _contiguous(96), "IPv4-mapped"),
    (ipaddress.IPv6Network("64:ff9b::/96"), _contiguous(96), "NAT64"),
    (LOCAL_NAT64, _contiguous(96), "local-use NAT64"),
    (LOCAL_NAT64, _nat64_48, "local-use NAT64 (/48 layout)"),
    (ipaddress.IPv6Network("::/96"), _contiguous(96), "IPv4-compatible"),
    (ipaddress.IPv6Network("::ffff:0:0:0/96"), _contiguous(96), "IPv4-translated (SIIT)"),
    (ipaddress.IPv6Network("2002::/16"), _contiguous(16), "6to4"),
    (ipaddress.IPv6Network("2001::/32"), _teredo_client, "Teredo"),
)

#: Ranges no containment may touch on any site, with why. Blocking any of them
#: breaks the host itself (loopback, unspecified), its neighbours (link-local,
#: broadcast, multicast: DHCP, ARP-adjacent services, routing protocols, mDNS)
#: or is meaningless as a source (``0.0.0.0/8``).
ALWAYS: Final[tuple[tuple[str, str], ...]] = (
    ("0.0.0.0/8", "this-network (0.0.0.0/8)"),
    ("127.0.0.0/8", "IPv4 loopback"),
    ("169.254.0.0/16", "IPv4 link-local"),
    ("224.0.0.0/4", "IPv4 multicast"),
    ("255.255.255.255/32", "IPv4 limited broadcast"),
    ("::/128", "IPv6 unspecified"),
    ("::1/128", "IPv6 loopback"),
    ("fe80::/10", "IPv6 link-local"),
    ("ff00::/8", "IPv6 multicast"),
)


@dataclass(frozen=True)
class ProtectedRange:
    """One protected network and the kind of protection (shown in refusals)."""

    network: IPNetwork
    label: str


@dataclass(frozen=True)
class ProtectedRanges:
    """The protected ranges of one run, with a fast overlap test.

    ``ranges`` keeps every range with its label (for the refusal message);
    the private interval tables, one per family, hold the merged ranges as
    sorted disjoint ``[first, last]`` integer intervals so that checking a few
    thousand networks against thousands of allowlist entries stays fast.
    """

    ranges: tuple[ProtectedRange, ...]
    _starts: dict[int, list[int]] = field(init=False, repr=False, compare=False)
    _ends: dict[int, list[int]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        starts: dict[int, list[int]] = {4: [], 6: []}
        ends: dict[int, list[int]] = {4: [], 6: []}
        for version in (4, 6):
            intervals = sorted(
                (int(r.network.network_address), int(r.network.broadcast_address))
                for r in self.ranges
                if r.network.version == version
            )
            for first, last in intervals:
                if ends[version] and first <= ends[version][-1] + 1:
                    ends[version][-1] = max(ends[version][-1], last)
                else:
                    starts[version].append(first)
                    ends[version].append(last)
        object.__setattr__(self, "_starts", starts)
        object.__setattr__(self, "_ends", ends)

    @classmethod
    def always(cls) -> ProtectedRanges:
        """Only the always-protected special ranges (renderers re-check with these)."""
        return cls(tuple(_labelled(ALWAYS)))

    @classmethod
    def from_config(cls, config: Config, extra: Iterable[str] = ()) -> ProtectedRanges:
        """``from_site`` with the site's own proxies (``ingest.trusted_proxies``)."""
        return cls.from_site(config.site, extra, proxies=config.ingest.trusted_proxies)

    @classmethod
    def from_site(
        cls, site: SiteConfig, extra: Iterable[str] = (), *, proxies: Iterable[str] = ()
    ) -> ProtectedRanges:
        """Always-protected ranges + home networks + ``site.protected`` + the
        site's own ``proxies`` + ``extra``. With a whole ``Config`` at hand, call
        ``from_config``: it passes the trusted proxies, which must never be blocked.

        ``extra`` takes CIDRs or bare addresses (allowlists, approved exercise
        sources). A malformed entry raises ``ValueError``: a typo in an
        allowlist must stop the run, never silently shrink what is protected.
        """
        ranges = list(_labelled(ALWAYS))
        ranges += [ProtectedRange(n, "home network") for n in site.home()]
        ranges += [ProtectedRange(n, "site protected range") for n in site.protected_networks()]
        ranges += [ProtectedRange(n, "trusted proxy") for n in parse_networks(list(proxies))]
        ranges += [ProtectedRange(n, "allowlisted") for n in parse_networks(list(extra))]
        ranges += [carried for r in ranges for carried in _carried_ranges(r)]
        return cls(tuple(ranges))

    def check(self, network: IPNetwork) -> str | None:
        """Why ``network`` must not be blocked, or ``None`` when it may be.

        The reason never contains caller-supplied text, only our labels and
        CIDRs printed by ``ipaddress``.
        """
        if not isinstance(network, ipaddress.IPv4Network | ipaddress.IPv6Network):
            return "not an IP network"
        minimum = MIN_PREFIX[network.version]
        if network.prefixlen < minimum:
            return (
                f"prefix /{network.prefixlen} is wider than /{minimum}: "
                "blocking that much is never a reconnaissance response"
            )
        hit = self._overlapping(network)
        if hit is not None:
            return f"overlaps {hit.label} {hit.network}"
        if isinstance(network, ipaddress.IPv6Network):
            for carrier, carried, kind in IPV4_CARRIERS:
                if not network.overlaps(carrier):
                    continue
                # Overlapping CIDRs nest, so the overlap is the smaller of the two.
                unwrapped = carried(network if network.subnet_of(carrier) else carrier)
                if carrier == LOCAL_NAT64 and unwrapped.subnet_of(_THIS_NETWORK):
                    continue  # the other layout's reading
                why = self.check(unwrapped)
                if why is not None:
                    return f"{kind} {unwrapped}: {why}"
        return None

    def _overlapping(self, network: IPNetwork) -> ProtectedRange | None:
        first = int(network.network_address)
        last = int(network.broadcast_address)
        starts = self._starts[network.version]
        index = bisect.bisect_right(starts, last) - 1
        # Merged intervals are disjoint and sorted: only the last one starting
        # at or before ``last`` can reach back to ``first``.
        if index < 0 or self._ends[network.version][index] < first:
            return None
        for candidate in self.ranges:
            if candidate.network.version == network.version and candidate.network.overlaps(network):
                return candidate
        raise AssertionError("interval table and range list disagree")  # pragma: no cover

    def networks(self) -> Sequence[IPNetwork]:
        """Every protected network, in the order given (for display and tests)."""
        return [r.network for r in self.ranges]


def _carried_ranges(protected: ProtectedRange) -> Iterable[ProtectedRange]:
    """The IPv4 range a protected IPv6 range carries (a resolver written in
    its NAT64 form, a 6to4 site whose router's address it holds), at least a
    /8: the IPv4 host is protected in either form. A whole carrier prefix
    (``64:ff9b::/96``) carries all of IPv4 and protects none of it."""
    network = protected.network
    if not isinstance(network, ipaddress.IPv6Network):
        return
    for carrier, carried, kind in IPV4_CARRIERS:
        if not network.subnet_of(carrier):
            continue
        unwrapped = carried(network)
        if carrier == LOCAL_NAT64 and unwrapped.subnet_of(_THIS_NETWORK):
            continue  # the other layout's reading
        if unwrapped.prefixlen >= MIN_PREFIX[4]:
            yield ProtectedRange(unwrapped, f"{protected.label} {network} ({kind})")


def _labelled(items: Iterable[tuple[str, str]]) -> Iterable[ProtectedRange]:
    for cidr, label in items:
        yield ProtectedRange(ipaddress.ip_network(cidr), label)
