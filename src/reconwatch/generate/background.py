"""Background behaviours: the bulk of every sample, generated in vectorised form.

Three populations make an ordinary day at the border: external clients using
the public web and mail servers (firewall accept + Zeek session), internal
clients using the internet and the internal resolver (Zeek only), and
internet noise: stray packets from many sources, each far too little to be a
scan (at most :data:`NOISE_MAX_HOSTS` hosts and :data:`NOISE_MAX_PORTS`
ports per source, for the whole sample). Detections must stay silent on all
of it, which makes it the false-positive test and the benchmark load.

Each behaviour emits a given number of *units* (a packet, a connection)
between two instants; the scenario calls it once per time slice, so memory
stays bounded however many lines are asked for. Sources are drawn from
counter-based pools, hence unique across slices.
"""

from __future__ import annotations

import dataclasses
import ipaddress
from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import ClassVar, Final

import numpy as np
import numpy.typing as npt

from reconwatch.generate import addresses
from reconwatch.generate.actors import client_session
from reconwatch.generate.addresses import Addrs, PublicV4Pool
from reconwatch.generate.model import (
    ACCEPT,
    DROP,
    HISTORIES,
    ICMP,
    ICMPV6,
    SERVICES,
    STATES,
    SYN,
    TCP,
    UDP,
    Conns,
    Events,
    Packets,
    code,
)
from reconwatch.generate.site import Site

NOISE_MAX_HOSTS: Final = 2
NOISE_MAX_PORTS: Final = 3

#: Ports internet background radiation favours (telnet/SSH/RDP/SMB/VNC/DB/IoT).
_POPULAR_PORTS: Final = np.array(
    [22, 23, 445, 3389, 8080, 8443, 21, 5900, 1433, 3306, 6379, 2323, 5555, 7547, 8081, 8888,
     9200, 27017, 81, 8000, 5060, 53, 123, 161, 1900, 11211, 389, 137, 19, 5432],
    dtype=np.int32,
)  # fmt: skip
#: Payload bytes of typical UDP probes, by destination port.
_UDP_PAYLOAD: Final = {53: 29, 123: 48, 161: 43, 1900: 94, 5060: 420, 11211: 15, 389: 52, 137: 50}

_PAYLOAD_BY_PORT: Final = np.full(65536, -1, dtype=np.int32)
for _port, _size in _UDP_PAYLOAD.items():
    _PAYLOAD_BY_PORT[_port] = _size

_V6_PREFIX: Final = 0x20010DB8 << 32


def _v6_sources(rng: np.random.Generator, counters: npt.NDArray[np.uint64], key: int) -> Addrs:
    """Unique IPv6 sources under 2001:db8::/32 (never our 2001:db8:100::/48 or
    the actors' 2001:db8:ffff::/48): random /64, counter-derived interface id."""
    n = len(counters)
    g3 = rng.integers(0x1000, 0xF000, size=n).astype(np.uint64)
    g4 = rng.integers(1, 0x10000, size=n).astype(np.uint64)
    hi = np.uint64(_V6_PREFIX) | (g3 << np.uint64(16)) | g4
    lo = addresses.mix64(counters, key)
    return Addrs(np.full(n, 6, np.uint8), hi, lo)


def _sizes(
    rng: np.random.Generator, total: int, sizes: list[int], p: list[float]
) -> npt.NDArray[np.int64]:
    """Group sizes drawn from ``sizes`` that add up to exactly ``total``."""
    if total == 0:
        return np.empty(0, np.int64)
    draw = rng.choice(np.array(sizes, dtype=np.int64), p=p, size=total)
    cum = np.cumsum(draw)
    m = int(np.searchsorted(cum, total)) + 1
    out = draw[:m].copy()
    out[-1] -= int(cum[m - 1]) - total
    return out


class Background(ABC):
    """A population emitting ``units`` events between two instants."""

    name: ClassVar[str]
    #: Log lines one unit produces, by record kind (see ``Events.KINDS``).
    lines_per_unit: ClassVar[Mapping[str, int]]

    def __init__(self, site: Site, seed: int) -> None:
        self.site = site
        self.seed = seed
        self.stats: dict[str, int] = {}

    def lines(self, kinds: frozenset[str]) -> int:
        """Lines per unit when only ``kinds`` are written."""
        return sum(n for kind, n in self.lines_per_unit.items() if kind in kinds)

    def _count(self, key: str, n: int) -> None:
        self.stats[key] = self.stats.get(key, 0) + n

    @abstractmethod
    def emit(
        self, rng: np.random.Generator, units: int, t0: int, t1: int, kinds: frozenset[str]
    ) -> Events:
        """``units`` units with timestamps in ``[t0, t1)`` (microseconds)."""


class InternetNoise(Background):
    """Background radiation: 1-3 dropped packets per source, from many sources.

    Each source gets one fingerprint (masscan-like, nmap-like, Linux or
    Windows bot SYN, a UDP probe, an ICMP echo), two candidate hosts and three
    candidate ports, so by construction no source exceeds the caps. TCP
    probes never hit the ports the firewall allows (25/80/443): those would
    be accepts, not noise.
    """

    name: ClassVar[str] = "internet_noise"
    lines_per_unit: ClassVar[Mapping[str, int]] = {"packets": 1}

    # Fingerprints: proto, IPv4 length (UDP/ICMP: headers only), window, DF,
    # TTL range as logged, share.
    _PROTO = np.array([TCP, TCP, TCP, TCP, UDP, ICMP], dtype=np.uint8)
    _LEN = np.array([40, 44, 60, 52, 28, 28], dtype=np.int32)
    _WINDOW = np.array([1024, 1024, 29200, 8192, 0, 0], dtype=np.int32)
    _DF = np.array([False, False, True, True, False, True])
    _TTL_LO = np.array([228, 24, 40, 100, 40, 40])
    _TTL_HI = np.array([250, 50, 60, 120, 60, 60])
    _SHARE = (0.30, 0.15, 0.20, 0.10, 0.17, 0.08)

    def __init__(self, site: Site, seed: int) -> None:
        super().__init__(site, seed)
        self._pool = PublicV4Pool(seed, role=0)
        self._v6_next = 0
        net = ipaddress.ip_network(site.public_v4)
        self._net4 = int(net.network_address)
        self._hosts6 = addresses.parse(
            [
                str(ipaddress.ip_address(site.web_v6) + d - 0x10)
                for d in (0x1, 0x10, 0x25, 0x53, 0x80)
            ]
        )

    def emit(
        self, rng: np.random.Generator, units: int, t0: int, t1: int, kinds: frozenset[str]
    ) -> Events:
        if "packets" not in kinds or units == 0:
            return Events()
        counts = _sizes(rng, units, [1, 2, 3], [0.72, 0.2, 0.08])
        m = len(counts)
        self._count("noise_sources", m)
        self._count("noise_packets", units)
        six = rng.random(m) < 0.04
        profile = rng.choice(6, p=list(self._SHARE), size=m)
        # Sources.
        src = addresses.v4(self._pool.take(m))
        n6 = int(six.sum())
        if n6:
            counters = np.arange(self._v6_next, self._v6_next + n6, dtype=np.uint64)
            self._v6_next += n6
            v6 = _v6_sources(rng, counters, self.seed ^ 0x5EED)
            src.version[six], src.hi[six], src.lo[six] = v6.version, v6.hi, v6.lo
        # Two candidate hosts and three candidate ports per source.
        host4 = self._net4 + rng.integers(1, 255, size=(m, 2))
        host6 = rng.integers(0, len(self._hosts6), size=(m, 2))
        popular = _POPULAR_PORTS[rng.integers(0, len(_POPULAR_PORTS), size=(m, 3))]
        ports = np.where(rng.random((m, 3)) < 0.6, popular, rng.integers(1, 65536, size=(m, 3)))
        tcp = self._PROTO[profile] == TCP
        allowed = np.isin(ports, [25, 80, 443]) & tcp[:, None]
        ports = np.where(allowed, ports + 8000, ports)
        ttl = rng.integers(self._TTL_LO[profile], self._TTL_HI[profile] + 1)
        sport = np.where(
            self._PROTO[profile] == ICMP,
            rng.integers(1, 65536, size=m),
            rng.integers(1024, 65536, size=m),
        )
        payload = rng.integers(0, 65, size=m)
        tos = np.where(rng.random(m) < 0.03, 0x28, 0).astype(np.uint8)
        base = rng.integers(t0, t1, size=m)
        # Packets.
        who = np.repeat(np.arange(m), counts)
        rank = np.arange(units) - np.repeat(np.cumsum(counts) - counts, counts)
        pick_host = (rng.random(units) < 0.2).astype(np.int64)
        pick_port = rng.integers(0, 3, size=units)
        ts = np.minimum(
            base[who] + (rank * rng.exponential(15e6, size=units)).astype(np.int64), t1 - 1
        )
        prof = profile[who]
        is6 = six[who]
        proto = self._PROTO[prof].copy()
        proto[(proto == ICMP) & is6] = ICMPV6
        dport = ports[who, pick_port].astype(np.int32)
        udp_payload = np.where(_PAYLOAD_BY_PORT[dport] >= 0, _PAYLOAD_BY_PORT[dport], payload[who])
        icmp_payload = np.where(sport[who] % 2 == 0, 56, 0)
        length = self._LEN[prof] + np.where(
            proto == UDP, udp_payload, np.where(proto == TCP, 0, icmp_payload)
        )
        length = length + np.where(is6, 20, 0)
        dst4 = addresses.v4(host4[who, pick_host])
        dst6 = self._hosts6.take(host6[who, pick_host])
        dst = Addrs(
            np.where(is6, dst6.version, dst4.version),
            np.where(is6, dst6.hi, dst4.hi),
            np.where(is6, dst6.lo, dst4.lo),
        )
        icmp = (proto == ICMP) | (proto == ICMPV6)
        p = Packets.build(
            units,
            ts=ts,
            src=src.take(who),
            dst=dst,
            proto=proto,
            sport=sport[who],
            dport=np.where(icmp, rank, dport),
            icmp_type=np.where(proto == ICMP, 8, np.where(proto == ICMPV6, 128, 0)),
            flags=np.where(proto == TCP, SYN, 0),
            length=length,
            ttl=ttl[who],
            ip_id=np.where(is6, 0, rng.integers(1, 65536, size=units)),
            tos=tos[who],
            df=self._DF[prof] & ~is6,
            window=self._WINDOW[prof],
            action=DROP,
        )
        return Events(packets=p)


class InboundClients(Background):
    """External clients using the public servers: a firewall accept and a Zeek session each.

    Clients make one to a few connections (about 2.5 on average) to HTTPS,
    HTTP or SMTP; 8 % are IPv6 (to the v6 web server). SYNs carry the client
    OS's fingerprint (Linux, Windows, macOS, Android). Most sessions end
    normally (SF); a few are reset or still open (RSTO, RSTR, S1) as on any
    busy server.
    """

    name: ClassVar[str] = "inbound_clients"
    lines_per_unit: ClassVar[Mapping[str, int]] = {"packets": 1, "conns": 1}

    _LEN = np.array([60, 52, 64, 60], dtype=np.int32)
    _TTL = np.array([64, 128, 64, 64])
    _WINDOW = np.array([64240, 64240, 65535, 65535], dtype=np.int32)
    _EPHEMERAL_LO = np.array([32768, 49152, 49152, 32768])
    _EPHEMERAL_HI = np.array([61000, 65536, 65536, 61000])

    def __init__(self, site: Site, seed: int) -> None:
        super().__init__(site, seed)
        self._pool = PublicV4Pool(seed, role=1)
        self._v6_next = 1 << 40
        self._servers = addresses.parse([site.web_v4, site.mail_v4, site.web_v6])

    def emit(
        self, rng: np.random.Generator, units: int, t0: int, t1: int, kinds: frozenset[str]
    ) -> Events:
        if units == 0 or not ({"packets", "conns"} & kinds):
            return Events()
        n_clients = max(1, -(-units * 2 // 5))
        self._count("inbound_connections", units)
        six = rng.random(n_clients) < 0.08
        src = addresses.v4(self._pool.take(n_clients))
        n6 = int(six.sum())
        if n6:
            counters = np.arange(self._v6_next, self._v6_next + n6, dtype=np.uint64)
            self._v6_next += n6
            v6 = _v6_sources(rng, counters, self.seed ^ 0xC11E)
            src.version[six], src.hi[six], src.lo[six] = v6.version, v6.hi, v6.lo
        os_ = rng.choice(4, p=[0.3, 0.4, 0.2, 0.1], size=n_clients)
        hops = rng.integers(6, 23, size=n_clients)
        who = rng.integers(0, n_clients, size=units)
        self._count("inbound_clients", len(np.unique(who)))
        is6 = six[who]
        u = rng.random(units)
        server = np.where(is6, 2, np.where(u < 0.85, 0, 1))
        dport = np.where(server == 1, 25, np.where(u < 0.6, 443, 80)).astype(np.int32)
        dport = np.where(is6, np.where(u < 0.7, 443, 80), dport).astype(np.int32)
        ts = rng.integers(t0, max(t0 + 1, t1 - 1000), size=units)
        o = os_[who]
        p = Packets.build(
            units,
            ts=ts,
            src=src.take(who),
            dst=self._servers.take(server),
            proto=TCP,
            sport=rng.integers(self._EPHEMERAL_LO[o], self._EPHEMERAL_HI[o]),
            dport=dport,
            flags=SYN,
            length=self._LEN[o] + np.where(is6, 20, 0),
            ttl=self._TTL[o] - hops[who],
            ip_id=np.where(
                is6,
                np.where(o == 1, 0, rng.integers(1, 1 << 20, size=units)),
                rng.integers(1, 65536, size=units),
            ),
            df=~is6,
            window=self._WINDOW[o],
            action=ACCEPT,
        )
        conns = Conns.empty()
        if "conns" in kinds:
            conns = client_session(p, rng, internal_src=False)
            end = rng.random(units)
            state = np.select(
                [end < 0.03, end < 0.07, end < 0.10],
                [code(STATES, "RSTO"), code(STATES, "RSTR"), code(STATES, "S1")],
                code(STATES, "SF"),
            )
            history = np.select(
                [end < 0.03, end < 0.07, end < 0.10, end < 0.40],
                [
                    code(HISTORIES, "ShADadR"),
                    code(HISTORIES, "ShADadr"),
                    code(HISTORIES, "ShADad"),
                    code(HISTORIES, "ShADadfF"),
                ],
                code(HISTORIES, "ShADadFf"),
            )
            conns = dataclasses.replace(
                conns,
                ts=np.minimum(conns.ts, t1 - 1),
                state=state.astype(np.uint8),
                history=history.astype(np.uint8),
            )
        return Events(packets=p if "packets" in kinds else Packets.empty(), conns=conns)


class InternalClients(Background):
    """Internal hosts using the internet and the internal resolver, seen by Zeek only.

    Outbound traffic is not logged by the firewall (it logs inbound), so
    these are conn.log lines only: TLS, HTTP, SSH, DNS to the resolver, NTP,
    with the failures any network has (1.5 % S0, 0.5 % REJ) spread thinly over
    about a thousand hosts that mostly succeed.
    """

    name: ClassVar[str] = "internal_clients"
    lines_per_unit: ClassVar[Mapping[str, int]] = {"conns": 1}

    def __init__(self, site: Site, seed: int) -> None:
        super().__init__(site, seed)
        self._servers = addresses.v4(PublicV4Pool(seed, role=2).take(4000))
        self._resolver = addresses.parse(site.resolver)

    def emit(
        self, rng: np.random.Generator, units: int, t0: int, t1: int, kinds: frozenset[str]
    ) -> Events:
        if units == 0 or "conns" not in kinds:
            return Events()
        self._count("internal_connections", units)
        n = units
        first, last = self.site.client_subnets
        orig = addresses.v4(
            (10 << 24)
            + (rng.integers(first, last + 1, size=n) << 8)
            + rng.integers(10, 251, size=n)
        )
        what = rng.choice(5, p=[0.55, 0.12, 0.25, 0.03, 0.05], size=n)  # ssl http dns ntp ssh
        dns = what == 2
        udp = dns | (what == 3)
        server = self._servers.take((len(self._servers) * rng.random(n) ** 3).astype(np.int64))
        resp = Addrs(
            server.version,
            server.hi,
            np.where(dns, self._resolver.lo[0], server.lo),
        )
        resp_p = np.array([443, 80, 53, 123, 22], dtype=np.int32)[what]
        service = np.array(
            [code(SERVICES, s) for s in ("ssl", "http", "dns", "ntp", "ssh")], dtype=np.uint8
        )[what]
        # Outcome of TCP connections: S0 1.5 %, REJ 0.5 %, S1 2 %, RSTR 1 %,
        # RSTO 1 %, the rest SF (a third of those closed by the server first).
        out = rng.random(n)
        edges = (0.015, 0.02, 0.04, 0.05, 0.06)
        tcp_state = np.select(
            [out < e for e in edges],
            [code(STATES, s) for s in ("S0", "REJ", "S1", "RSTR", "RSTO")],
            code(STATES, "SF"),
        )
        tcp_hist = np.select(
            [out < e for e in (*edges, 0.35)],
            [code(HISTORIES, h) for h in ("S", "Sr", "ShADad", "ShADadr", "ShADadR", "ShADadfF")],
            code(HISTORIES, "ShADadFf"),
        )
        failed = ~udp & (out < edges[1])
        orig_bytes = np.where(
            udp,
            np.where(dns, rng.integers(28, 61, size=n), 48),
            np.round(rng.lognormal(np.log(700), 0.9, size=n)).astype(np.int64),
        )
        resp_bytes = np.where(
            udp,
            np.where(dns, rng.integers(44, 301, size=n), 48),
            np.round(rng.lognormal(np.log(25000), 1.3, size=n)).astype(np.int64),
        )
        orig_bytes = np.where(failed, 0, orig_bytes)
        resp_bytes = np.where(failed, 0, resp_bytes)
        resp_pkts = np.where(udp, 1, 2 + -(-resp_bytes // 1448))
        orig_pkts = np.where(udp, 1, 3 + -(-orig_bytes // 1448) + resp_pkts // 2)
        s0 = ~udp & (out < edges[0])
        rej = ~udp & (out >= edges[0]) & (out < edges[1])
        orig_pkts = np.where(s0, 2, np.where(rej, 1, orig_pkts))
        resp_pkts = np.where(s0, 0, np.where(rej, 1, resp_pkts))
        header = np.where(udp, 28, 52)
        orig_ip = np.where(s0, 120, np.where(rej, 60, orig_bytes + orig_pkts * header))
        resp_ip = np.where(s0, 0, np.where(rej, 40, resp_bytes + resp_pkts * header))
        duration = np.where(
            udp,
            rng.integers(800, 40_000, size=n),
            np.round(rng.lognormal(np.log(2.5e6), 1.4, size=n)).astype(np.int64),
        )
        duration = np.where(s0, rng.integers(1_000_000, 1_010_000, size=n), duration)
        duration = np.where(rej, rng.integers(8_000, 60_000, size=n), duration)
        conns = Conns.build(
            n,
            ts=rng.integers(t0, t1, size=n),
            orig=orig,
            resp=resp,
            orig_p=rng.integers(32768, 61000, size=n),
            resp_p=resp_p,
            proto=np.where(udp, UDP, TCP),
            service=np.where(failed, code(SERVICES, "-"), service),
            duration=duration,
            orig_bytes=orig_bytes,
            resp_bytes=resp_bytes,
            state=np.where(udp, code(STATES, "SF"), tcp_state),
            local_orig=True,
            local_resp=dns,
            history=np.where(udp, code(HISTORIES, "Dd"), tcp_hist),
            orig_pkts=orig_pkts,
            orig_ip_bytes=orig_ip,
            resp_pkts=resp_pkts,
            resp_ip_bytes=resp_ip,
        )
        return Events(conns=conns)
