"""Protected ranges: what containment may never block, and the check itself."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reconwatch.config import SiteConfig
from reconwatch.netaddr import IPNetwork
from reconwatch.respond.protect import IPV4_CARRIERS, LOCAL_NAT64, MIN_PREFIX, ProtectedRanges

SITE = SiteConfig(
    home_networks=["203.0.113.0/24", "10.0.0.0/8", "2001:db8:1::/48"],
    protected=["192.0.2.53", "2001:db8:53::/64"],
)
PROTECTED = ProtectedRanges.from_site(SITE, extra=["198.51.100.77", "2001:db8:77::/64"])


def net(text: str) -> IPNetwork:
    return ipaddress.ip_network(text)


@pytest.mark.parametrize(
    ("network", "why"),
    [
        ("127.0.0.1/32", "overlaps IPv4 loopback 127.0.0.0/8"),
        ("0.0.0.1/32", "overlaps this-network (0.0.0.0/8) 0.0.0.0/8"),
        ("169.254.10.0/24", "overlaps IPv4 link-local 169.254.0.0/16"),
        ("239.255.255.250/32", "overlaps IPv4 multicast 224.0.0.0/4"),
        ("255.255.255.255/32", "overlaps IPv4 limited broadcast 255.255.255.255/32"),
        ("::/128", "overlaps IPv6 unspecified ::/128"),
        ("::1/128", "overlaps IPv6 loopback ::1/128"),
        ("fe80::1/128", "overlaps IPv6 link-local fe80::/10"),
        ("ff02::1/128", "overlaps IPv6 multicast ff00::/8"),
        ("203.0.113.9/32", "overlaps home network 203.0.113.0/24"),
        ("10.200.0.0/16", "overlaps home network 10.0.0.0/8"),
        ("2001:db8:1:2::/64", "overlaps home network 2001:db8:1::/48"),
        ("192.0.2.53/32", "overlaps site protected range 192.0.2.53/32"),
        ("192.0.2.0/24", "overlaps site protected range 192.0.2.53/32"),
        ("2001:db8:53::1/128", "overlaps site protected range 2001:db8:53::/64"),
        ("198.51.100.0/25", "overlaps allowlisted 198.51.100.77/32"),
        ("2001:db8:77::/48", "overlaps allowlisted 2001:db8:77::/64"),
        # A network that contains a protected range overlaps it.
        (
            "8.0.0.0/7",
            "prefix /7 is wider than /8: blocking that much is never a reconnaissance response",
        ),
        (
            "0.0.0.0/0",
            "prefix /0 is wider than /8: blocking that much is never a reconnaissance response",
        ),
        (
            "::/0",
            "prefix /0 is wider than /32: blocking that much is never a reconnaissance response",
        ),
        (
            "2001:d00::/24",
            "prefix /24 is wider than /32: blocking that much is never a reconnaissance response",
        ),
        ("::ffff:127.0.0.1/128", "IPv4-mapped 127.0.0.1/32: overlaps IPv4 loopback 127.0.0.0/8"),
        ("::ffff:10.1.0.0/112", "IPv4-mapped 10.1.0.0/16: overlaps home network 10.0.0.0/8"),
        (
            "::ffff:0:0/96",
            "IPv4-mapped 0.0.0.0/0: prefix /0 is wider than /8: "
            "blocking that much is never a reconnaissance response",
        ),
    ],
)
def test_check_refuses_with_reason(network: str, why: str) -> None:
    assert PROTECTED.check(net(network)) == why


@pytest.mark.parametrize(
    "network",
    [
        "8.8.8.8/32",
        "11.0.0.0/8",  # exactly /8: the widest allowed IPv4 prefix
        "198.51.100.78/32",
        "198.51.100.128/25",
        "203.0.112.0/24",
        "2001:db9::/32",  # exactly /32: the widest allowed IPv6 prefix
        "2001:db8:2::/48",
        "::ffff:8.8.8.8/128",
        "2a00:1450::1/128",
    ],
)
def test_check_allows_public_networks(network: str) -> None:
    assert PROTECTED.check(net(network)) is None


def test_defaults_protect_private_space() -> None:
    default = ProtectedRanges.from_site(SiteConfig())
    assert default.check(net("192.168.1.1/32")) == "overlaps home network 192.168.0.0/16"
    assert default.check(net("100.64.0.1/32")) == "overlaps home network 100.64.0.0/10"
    assert default.check(net("fd00::1/128")) == "overlaps home network fc00::/7"
    assert default.check(net("172.31.255.255/32")) == "overlaps home network 172.16.0.0/12"
    assert default.check(net("172.32.0.0/32")) is None


def test_always_has_only_special_ranges() -> None:
    always = ProtectedRanges.always()
    assert [str(n) for n in always.networks()] == [
        "0.0.0.0/8",
        "127.0.0.0/8",
        "169.254.0.0/16",
        "224.0.0.0/4",
        "255.255.255.255/32",
        "::/128",
        "::1/128",
        "fe80::/10",
        "ff00::/8",
    ]
    assert always.check(net("10.0.0.1/32")) is None


@pytest.mark.parametrize("bad", ["10.0.0.1/8", "not-a-network", "1.2.3.4; rm -rf /", ""])
def test_malformed_extra_stops_the_run(bad: str) -> None:
    with pytest.raises(ValueError):
        ProtectedRanges.from_site(SITE, extra=[bad])


# --- properties: the fast interval check agrees with a naive overlap scan ---


@st.composite
def networks(draw: st.DrawFn) -> IPNetwork:
    address = draw(
        st.one_of(
            st.ip_addresses(),
            st.ip_addresses(network="10.0.0.0/8"),
            st.ip_addresses(network="127.0.0.0/8"),
            st.ip_addresses(network="203.0.113.0/24"),
            st.ip_addresses(network="198.51.100.0/24"),
            st.ip_addresses(network="192.0.2.0/24"),
            st.ip_addresses(network="::ffff:0:0/96"),
            st.ip_addresses(network="2001:db8::/32"),
            st.ip_addresses(network="fe80::/10"),
        )
    )
    bits = 32 if address.version == 4 else 128
    prefix = draw(st.integers(0, bits) | st.just(bits))
    return ipaddress.ip_network(f"{address}/{prefix}", strict=False)


def naive_check(ranges: ProtectedRanges, network: IPNetwork) -> bool:
    """True when ``network`` must be refused, by brute force."""
    if network.prefixlen < MIN_PREFIX[network.version]:
        return True
    if any(network.version == p.version and network.overlaps(p) for p in ranges.networks()):
        return True
    if not isinstance(network, ipaddress.IPv6Network):
        return False
    for carrier, carried, _kind in IPV4_CARRIERS:
        if not network.overlaps(carrier):
            continue
        inner = network if network.subnet_of(carrier) else carrier
        v4 = carried(inner)
        if carrier == LOCAL_NAT64 and v4.subnet_of(ipaddress.IPv4Network("0.0.0.0/8")):
            continue
        if naive_check(ranges, v4):
            return True
    return False


@settings(max_examples=400)
@given(networks(), st.lists(networks(), max_size=12))
def test_check_agrees_with_naive_overlap(network: IPNetwork, extra: list[IPNetwork]) -> None:
    ranges = ProtectedRanges.from_site(SITE, extra=[str(e) for e in extra])
    why = ranges.check(network)
    assert (why is not None) == naive_check(ranges, network), why


@settings(max_examples=300)
@given(networks())
def test_allowed_networks_never_touch_a_protected_address(network: IPNetwork) -> None:
    if PROTECTED.check(network) is not None:
        return
    for protected in PROTECTED.networks():
        assert not (protected.version == network.version and protected.overlaps(network))
    assert network.prefixlen >= MIN_PREFIX[network.version]


@pytest.mark.parametrize(
    ("carried", "neighbour"),
    [("64:ff9b::c633:6435", "64:ff9b::c633:6436"), ("::c633:6435", "::c633:6436"),
     ("::ffff:198.51.100.53", "::ffff:198.51.100.54"),
     ("2002:c633:6435::/48", "2002:c633:6436::/48"),
     ("2002:c633:6435:7::/64", "2002:c633:6436:7::/64"),
     ("64:ff9b:1::c633:6435", "64:ff9b:1::c633:6436"),  # RFC 8215, as a /96
     ("64:ff9b:1:c633:64:3500::", "64:ff9b:1:c633:64:3600::"),  # RFC 6052's /48 layout
     ("::ffff:0:c633:6435", "::ffff:0:c633:6436"),  # IPv4-translated (SIIT)
     # Teredo (RFC 4380): the client's address inverted in the last 32 bits.
     ("2001:0:4136:e378:8000:63bf:39cc:9bca", "2001:0:4136:e378:8000:63bf:39cc:9bc9")],
)  # fmt: skip
def test_an_ipv6_form_of_a_protected_ipv4_address_is_protected(
    carried: str, neighbour: str
) -> None:
    """A resolver reached through NAT64, or a partner's 6to4 site, stays protected."""
    ranges = ProtectedRanges.from_site(SiteConfig(home_networks=[], protected=["198.51.100.53"]))
    why = ranges.check(ipaddress.ip_network(carried))
    expected = "198.51.100.53/32: overlaps site protected range 198.51.100.53/32"
    assert why is not None and why.endswith(expected), why
    assert ranges.check(ipaddress.ip_network(neighbour)) is None


@pytest.mark.parametrize(
    ("written", "carried", "neighbour"),
    [("64:ff9b::c633:6435", "198.51.100.53", "198.51.100.54"),  # a resolver, in NAT64 form
     ("::ffff:0:c633:6400/120", "198.51.100.200", "198.51.101.1"),  # SIIT
     ("2002:c633:6435::/48", "198.51.100.53", "198.51.100.54")],  # a 6to4 site: its router
)  # fmt: skip
def test_a_protected_range_written_in_an_ipv6_form_protects_its_ipv4(
    written: str, carried: str, neighbour: str
) -> None:
    ranges = ProtectedRanges.from_site(SiteConfig(home_networks=[], protected=[written]))
    why = ranges.check(ipaddress.ip_network(carried))
    assert why is not None and why.startswith(
        f"overlaps site protected range {ipaddress.ip_network(written)} ("
    ), why
    assert ranges.check(ipaddress.ip_network(neighbour)) is None


def test_a_whole_translation_prefix_protected_does_not_protect_all_of_ipv4() -> None:
    ranges = ProtectedRanges.from_site(SiteConfig(home_networks=[], protected=["64:ff9b::/96"]))
    assert ranges.check(ipaddress.ip_network("198.51.100.7")) is None
    assert ranges.check(ipaddress.ip_network("64:ff9b::c633:6407")) is not None
