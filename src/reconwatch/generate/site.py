"""The sample site: one border firewall, a DMZ, an internal network, a Zeek sensor.

Every address is from a documentation range (RFC 5737, RFC 3849) or RFC 1918,
so nothing in a demo points at a real network. The topology decides what
each log can see: the firewall logs inbound packets (drops, and accepts of new
connections to the public servers), the internal sensor logs flows that got
past the firewall and everything inside.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from reconwatch.generate import addresses
from reconwatch.generate.addresses import Addrs


@dataclass(frozen=True)
class Site:
    """Names and addresses of the sample site (defaults are the demo's)."""

    #: Syslog host name of the firewall.
    hostname: str = "fw1"
    #: Outside interface (IN= of every logged packet) and DMZ interface (OUT=
    #: of packets forwarded to the public range; packets for the firewall's own
    #: address are logged in INPUT with an empty OUT=).
    outside_if: str = "eth0"
    dmz_if: str = "eth1"
    #: MAC= is destination MAC, source MAC, ethertype: our outside NIC, the
    #: upstream router (every inbound packet comes from it), then 08:00 / 86:dd.
    firewall_mac: str = "52:54:00:1f:0a:01"
    upstream_mac: str = "00:1b:21:3c:9d:f8"
    #: LOG prefixes, indexed by ``Packets.action`` (DROP, ACCEPT).
    log_prefixes: tuple[str, ...] = ("RW-DROP: ", "RW-ACCEPT: ")
    public_v4: str = "203.0.113.0/24"
    public_v6: str = "2001:db8:100::/48"
    internal_v4: str = "10.0.0.0/8"
    firewall_v4: str = "203.0.113.1"
    firewall_v6: str = "2001:db8:100::1"
    web_v4: str = "203.0.113.10"
    mail_v4: str = "203.0.113.25"
    web_v6: str = "2001:db8:100::10"
    #: Internal DNS resolver every internal client asks.
    resolver: str = "10.0.0.53"
    #: The name server: authoritative for ``zone`` on its public address and
    #: recursive for internal clients on ``resolver`` (one BIND instance).
    dns_v4: str = "203.0.113.53"
    #: The site's DNS zone (what a subdomain brute force enumerates).
    zone: str = "example.com"
    #: SSH jump host (``auth.log``), reachable from outside.
    bastion_v4: str = "203.0.113.22"
    bastion_hostname: str = "bastion"
    #: Interface of the IDS sensor (Suricata ``in_iface``).
    sensor_if: str = "eth1"
    #: Internal clients live in 10.0.<first..last>.<10..250>.
    client_subnets: tuple[int, int] = (1, 4)
    #: Kernel uptime at the scenario start, seconds (the ``[...]`` stamp).
    uptime_at_start: float = 19_950_112.318_442

    @property
    def home_networks(self) -> tuple[str, ...]:
        """What ``site.home_networks`` of the written config lists."""
        return (self.public_v4, self.public_v6, self.internal_v4)

    def open_ports(self, address: str) -> frozenset[int]:
        """TCP ports the firewall lets through to ``address`` (logged as RW-ACCEPT)."""
        services = {
            self.web_v4: frozenset({80, 443}),
            self.web_v6: frozenset({80, 443}),
            self.mail_v4: frozenset({25}),
        }
        return services.get(str(ipaddress.ip_address(address)), frozenset())

    def firewall_addresses(self) -> Addrs:
        return addresses.parse([self.firewall_v4, self.firewall_v6])

    def mac(self, version: int) -> str:
        ethertype = "08:00" if version == 4 else "86:dd"
        return f"{self.firewall_mac}:{self.upstream_mac}:{ethertype}"


DEFAULT_SITE = Site()
