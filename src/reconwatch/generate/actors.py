"""Named actors: one source address each, one kind of behaviour, known expectations.

An actor turns its parameters into :class:`~.model.Events` (what the firewall
logged, what the internal sensor logged) and states what a correct pipeline
should conclude about it: which detections fire (``vertical_scan``,
``horizontal_scan``, ``block_scan``, ``flag_scan``, ``trw_scan``, and for the
actors of :func:`family_network_actors` ``distributed_scan``,
``ipv6_prefix_scan`` and ``traffic_spike``), whether the case is escalated, whether the source is
internal, and for some the coordinated scan it belongs to (:attr:`Actor.campaign`)
or the tool hints its case must carry (:attr:`Actor.tools`). Those statements are
the ground truth tests and benchmarks score against, so each actor is built
to sit clearly on one side of every default threshold in
:mod:`reconwatch.config` (the docstrings say by how much).

Packets imitate the tools they stand for (nmap's 44-byte SYN with window 1024
and random TTL/ID, zmap's fixed IP ID 54321, nmap retrying unanswered probes
from the next source port, a Linux client's 60-byte SYN with DF). Probes to a
port the firewall allows reach the server: the firewall logs an accept and
the internal sensor sees the handshake the scanner then resets (Zeek RSTO).

Escalation follows the default triage rule: scan detections in >= 2 time
windows, or >= 100 distinct host:port pairs probed.
"""

from __future__ import annotations

import ipaddress
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar, Final

import numpy as np
import numpy.typing as npt

from reconwatch.generate import addresses
from reconwatch.generate.model import (
    ACCEPT,
    ACK,
    DROP,
    FIN,
    HISTORIES,
    ICMP,
    ICMPV6,
    PSH,
    SERVICES,
    STATES,
    SYN,
    TCP,
    URG,
    Conns,
    Events,
    Packets,
    code,
)
from reconwatch.generate.site import Site

US: Final = 1_000_000

#: nmap's 100 most common TCP ports (``--top-ports 100``, the ``-F`` list).
TOP_100_TCP: Final = (
    7, 9, 13, 21, 22, 23, 25, 26, 37, 53, 79, 80, 81, 88, 106, 110, 111, 113, 119, 135,
    139, 143, 144, 179, 199, 389, 427, 443, 444, 445, 465, 513, 514, 515, 543, 544, 548,
    554, 587, 631, 646, 873, 990, 993, 995, 1025, 1026, 1027, 1028, 1029, 1110, 1433,
    1720, 1723, 1755, 1900, 2000, 2001, 2049, 2121, 2717, 3000, 3128, 3306, 3389, 3986,
    4899, 5000, 5009, 5051, 5060, 5101, 5190, 5357, 5432, 5631, 5666, 5800, 5900, 6000,
    6001, 6646, 7070, 8000, 8008, 8009, 8080, 8081, 8443, 8888, 9100, 9999, 10000, 32768,
    49152, 49153, 49154, 49155, 49156, 49157,
)  # fmt: skip

#: Detection names the pipeline reports.
DETECTIONS: Final = ("vertical_scan", "horizontal_scan", "block_scan", "flag_scan", "trw_scan")

#: Default triage rule (``TriageConfig``): this many distinct host:port pairs escalate.
REPEAT_MIN_PROBES: Final = 100

I64 = npt.NDArray[np.int64]


def _us(seconds: float) -> int:
    return round(seconds * US)


def _gaps(rng: np.random.Generator, n: int, mean_s: float) -> I64:
    """Cumulative offsets (microseconds, first is 0) of ``n`` events ``mean_s`` apart."""
    if n == 0:
        return np.empty(0, np.int64)
    steps = np.maximum(rng.exponential(mean_s * US, size=n), 50).astype(np.int64)
    steps[0] = 0
    return np.cumsum(steps)


def _is6(address: str) -> bool:
    return ipaddress.ip_address(address).version == 6


def probes(
    site: Site,
    rng: np.random.Generator,
    src: str,
    dsts: Sequence[str],
    ts: I64,
    *,
    sport: npt.ArrayLike,
    dport: npt.ArrayLike,
    flags: int,
    length4: int,
    ttl: npt.ArrayLike,
    window: int,
    df: bool = False,
    ip_id: npt.ArrayLike | None = None,
    flowlabel: int = 0,
) -> Packets:
    """TCP packets from ``src`` to ``dsts[i]`` at ``ts[i]``, as the firewall logs them.

    A plain SYN to a port the site allows is accepted (RW-ACCEPT); anything
    else is dropped. ``length4`` is the IPv4 total length; IPv6 adds 20 for
    its larger header. IPv4 IDs are random unless given; IPv6 rows carry
    ``flowlabel``.
    """
    n = len(ts)
    dport_arr = np.broadcast_to(np.asarray(dport, dtype=np.int32), (n,))
    unique = sorted(set(dsts))
    index = {text: i for i, text in enumerate(unique)}
    rows = np.array([index[d] for d in dsts], dtype=np.intp)
    dst = addresses.parse(unique).take(rows)
    allowed = [site.open_ports(text) for text in unique]
    accept = np.array(
        [flags == SYN and int(dport_arr[i]) in allowed[rows[i]] for i in range(n)],
        dtype=np.bool_,
    )
    six = _is6(src)
    if ip_id is None:
        ip_id = rng.integers(1, 65536, size=n)
    return Packets.build(
        n,
        ts=ts,
        src=addresses.repeat(addresses.parse(src), n),
        dst=dst,
        proto=TCP,
        sport=sport,
        dport=dport_arr,
        flags=flags,
        length=length4 + (20 if six else 0),
        ttl=ttl,
        ip_id=flowlabel if six else ip_id,
        df=df and not six,
        window=window,
        action=np.where(accept, ACCEPT, DROP),
    )


def reset_handshakes(p: Packets, rng: np.random.Generator, *, internal_src: bool) -> Conns:
    """What the sensor logs for accepted scanner SYNs: SYN, SYN-ACK, then the
    scanner's RST (nmap, zmap and masscan never complete the handshake).

    Zeek calls that RSTO with history ``ShR``; no payload, so service is unset.
    """
    rows = np.flatnonzero(p.action == ACCEPT)
    q = p.take(rows)
    n = len(q)
    header = np.where(q.version == 6, 40, 20).astype(np.int64)
    return Conns.build(
        n,
        ts=q.ts + rng.integers(80, 400, size=n),
        orig=q.addresses("src"),
        resp=q.addresses("dst"),
        orig_p=q.sport,
        resp_p=q.dport,
        proto=TCP,
        service=code(SERVICES, "-"),
        duration=rng.integers(20_000, 90_000, size=n),
        orig_bytes=0,
        resp_bytes=0,
        state=code(STATES, "RSTO"),
        local_orig=internal_src,
        local_resp=True,
        history=code(HISTORIES, "ShR"),
        orig_pkts=2,
        orig_ip_bytes=q.length.astype(np.int64) + header + 20,
        resp_pkts=1,
        resp_ip_bytes=q.length.astype(np.int64),
    )


def _nmap_ttl(rng: np.random.Generator, n: int) -> npt.NDArray[np.int64]:
    # nmap picks a random TTL per probe (37-59); a dozen hops take some off.
    return rng.integers(24, 50, size=n)


class Actor(ABC):
    """One source with one behaviour; subclasses are frozen dataclasses.

    ``emit`` must be deterministic in ``rng`` and place every event at or
    after ``start_us``; the scenario gives each actor its own generator
    (derived from the seed and :attr:`key`), so adding an actor never changes
    another's events.
    """

    kind: ClassVar[str]
    description: ClassVar[str]
    address: str

    @property
    def key(self) -> str:
        return f"{self.kind}:{self.address}"

    @property
    def internal(self) -> bool:
        return False

    @property
    def campaign(self) -> str:
        """Key shared by the members of one coordinated scan ("" for a lone actor)."""
        return ""

    @property
    def tools(self) -> tuple[str, ...]:
        """Tool hints (``detect/tools.py`` names) the source's case must carry."""
        return ()

    @property
    @abstractmethod
    def expected_detections(self) -> tuple[str, ...]:
        """Detections that must fire for this source (sorted); none for benign actors."""

    @property
    @abstractmethod
    def escalate(self) -> bool:
        """Whether triage with default settings escalates the case (repeated scanning)."""

    @abstractmethod
    def emit(self, site: Site, rng: np.random.Generator, start_us: int) -> Events:
        """The events of this actor; ``start_us`` is the scenario start."""


class BenignActor(Actor):
    """An actor no detection may flag and triage may not escalate: a control."""

    @property
    def expected_detections(self) -> tuple[str, ...]:
        return ()

    @property
    def escalate(self) -> bool:
        return False


@dataclass(frozen=True)
class VerticalScanner(Actor):
    """nmap SYN scan (``-sS --top-ports 100``) of one host, run at each of ``runs``.

    Each run: nmap's host discovery (ICMP echo, SYN to 443, ACK to 80, ICMP
    timestamp), the ports in random order over about 1.5 s, then one retry of
    every unanswered port from the next source port. With 100 ports a run
    probes 100 host:port pairs (>= 98 fail, against a threshold of 16 ports),
    well inside one 5-minute window; two runs an hour apart are repeated
    scanning. One host only, so no TRW, sweep or block detection.
    """

    kind: ClassVar[str] = "vertical_scanner"
    description: ClassVar[str] = "nmap SYN scan of the top 100 ports of one host"
    address: str
    target: str
    #: Seconds after the scenario start of each run.
    runs: tuple[float, ...] = (0.0,)
    ports: tuple[int, ...] = TOP_100_TCP

    @property
    def expected_detections(self) -> tuple[str, ...]:
        return ("vertical_scan",)

    @property
    def escalate(self) -> bool:
        return len(self.runs) >= 2 or len(self.ports) >= REPEAT_MIN_PROBES

    def emit(self, site: Site, rng: np.random.Generator, start_us: int) -> Events:
        packets: list[Packets] = []
        six = _is6(self.address)
        open_ports = site.open_ports(self.target)
        for run in self.runs:
            t0 = start_us + _us(run)
            packets.append(self._discovery(site, rng, t0, six))
            sport = int(rng.integers(33000, 64000))
            order = rng.permutation(np.array(self.ports, dtype=np.int32))
            ts = t0 + _us(0.25) + _gaps(rng, len(order), 0.015)
            packets.append(self._syn(site, rng, ts, sport, order))
            retry = order[~np.isin(order, list(open_ports))]
            ts = int(ts[-1]) + _us(0.6) + _gaps(rng, len(retry), 0.015)
            packets.append(self._syn(site, rng, ts, sport + 1, retry))
        p = Packets.concat(packets)
        return Events(packets=p, conns=reset_handshakes(p, rng, internal_src=False))

    def _syn(
        self,
        site: Site,
        rng: np.random.Generator,
        ts: I64,
        sport: int,
        ports: npt.NDArray[np.int32],
    ) -> Packets:
        n = len(ports)
        return probes(
            site,
            rng,
            self.address,
            [self.target] * n,
            ts,
            sport=sport,
            dport=ports,
            flags=SYN,
            length4=44,
            ttl=_nmap_ttl(rng, n),
            window=1024,
        )

    def _discovery(self, site: Site, rng: np.random.Generator, t0: int, six: bool) -> Packets:
        src = addresses.parse(self.address)
        dst = addresses.parse(self.target)
        echo_id = int(rng.integers(1, 65536))
        if six:
            return Packets.build(
                1,
                ts=t0,
                src=src,
                dst=dst,
                proto=ICMPV6,
                icmp_type=128,
                sport=echo_id,
                dport=0,
                length=48,
                ttl=_nmap_ttl(rng, 1),
            )
        icmp = Packets.build(
            2,
            ts=np.array([t0, t0 + 90], dtype=np.int64),
            src=addresses.repeat(src, 2),
            dst=addresses.repeat(dst, 2),
            proto=ICMP,
            icmp_type=np.array([8, 13]),
            sport=np.array([echo_id, 0]),
            dport=0,
            length=np.array([28, 40]),
            ttl=_nmap_ttl(rng, 2),
            ip_id=rng.integers(1, 65536, size=2),
        )
        sport = int(rng.integers(33000, 64000))
        syn = probes(
            site,
            rng,
            self.address,
            [self.target],
            np.array([t0 + 30], dtype=np.int64),
            sport=sport,
            dport=443,
            flags=SYN,
            length4=44,
            ttl=_nmap_ttl(rng, 1),
            window=1024,
        )
        # nmap's probe to 80 is a bare ACK, which conntrack drops as INVALID.
        ack = probes(
            site,
            rng,
            self.address,
            [self.target],
            np.array([t0 + 60], dtype=np.int64),
            sport=sport,
            dport=80,
            flags=ACK,
            length4=40,
            ttl=_nmap_ttl(rng, 1),
            window=1024,
        )
        return Packets.concat([icmp.take([0]), syn, ack, icmp.take([1])])


@dataclass(frozen=True)
class IPv6Scanner(VerticalScanner):
    """nmap ``-6`` SYN scan of the top 40 ports of our IPv6 web server.

    IPv6 space cannot be swept, so v6 scanners probe known hosts: an ICMPv6
    echo, then 40 SYNs (38 fail, threshold 16) with one retry each. One run,
    40 pairs: not escalated.
    """

    kind: ClassVar[str] = "ipv6_scanner"
    description: ClassVar[str] = "nmap -6 SYN scan of the top 40 ports of one IPv6 host"
    ports: tuple[int, ...] = TOP_100_TCP[:40]


@dataclass(frozen=True)
class HorizontalSweep(Actor):
    """zmap-style sweep of one port over every host of a network.

    254 SYNs (IP ID 54321, window 65535, TTL from 255) to .1-.254 in random
    order within about 30 s: 254 hosts against a threshold of 26, 254 failed
    first contacts for TRW, 254 host:port pairs (escalated).
    """

    kind: ClassVar[str] = "horizontal_sweep"
    description: ClassVar[str] = "zmap-style SYN sweep of one port across a /24"
    address: str
    network: str
    port: int
    at: float = 0.0

    @property
    def expected_detections(self) -> tuple[str, ...]:
        return ("horizontal_scan", "trw_scan")

    @property
    def escalate(self) -> bool:
        return self._hosts() >= REPEAT_MIN_PROBES

    def _hosts(self) -> int:
        return ipaddress.ip_network(self.network).num_addresses - 2

    def emit(self, site: Site, rng: np.random.Generator, start_us: int) -> Events:
        net = ipaddress.ip_network(self.network)
        hosts = [str(h) for h in net.hosts()]
        order = [hosts[i] for i in rng.permutation(len(hosts))]
        n = len(order)
        ts = start_us + _us(self.at) + _gaps(rng, n, 0.12)
        p = probes(
            site,
            rng,
            self.address,
            order,
            ts,
            sport=rng.integers(32768, 61000, size=n),
            dport=self.port,
            flags=SYN,
            length4=40,
            ttl=rng.integers(243, 250, size=n),
            window=65535,
            ip_id=54321,
        )
        return Events(packets=p, conns=reset_handshakes(p, rng, internal_src=False))


@dataclass(frozen=True)
class BlockScanner(Actor):
    """masscan-style scan of a few ports on a few hosts (8 x 8 by default).

    64 probes in random order within about 40 s: under the vertical (16 ports)
    and horizontal (26 hosts) thresholds, over the block thresholds (>= 5
    hosts, >= 5 ports, >= 40 pairs); 8 failed first contacts for TRW. 64
    pairs in one window: not escalated.
    """

    kind: ClassVar[str] = "block_scanner"
    description: ClassVar[str] = "masscan-style scan of 8 ports on 8 hosts"
    address: str
    hosts: tuple[str, ...]
    ports: tuple[int, ...] = (21, 23, 110, 139, 445, 1433, 3306, 5900)
    at: float = 0.0

    @property
    def expected_detections(self) -> tuple[str, ...]:
        return ("block_scan", "trw_scan")

    @property
    def escalate(self) -> bool:
        return len(self.hosts) * len(self.ports) >= REPEAT_MIN_PROBES

    def emit(self, site: Site, rng: np.random.Generator, start_us: int) -> Events:
        pairs = [(h, p) for h in self.hosts for p in self.ports]
        order = [pairs[i] for i in rng.permutation(len(pairs))]
        n = len(order)
        ts = start_us + _us(self.at) + _gaps(rng, n, 0.6)
        p = probes(
            site,
            rng,
            self.address,
            [h for h, _ in order],
            ts,
            sport=int(rng.integers(40000, 60000)),
            dport=np.array([q for _, q in order]),
            flags=SYN,
            length4=40,
            ttl=rng.integers(48, 56, size=n),
            window=1024,
        )
        return Events(packets=p, conns=reset_handshakes(p, rng, internal_src=False))


@dataclass(frozen=True)
class FlagScanner(Actor):
    """nmap FIN, NULL and XMAS scans (``-sF``, ``-sN``, ``-sX``) of 12 ports of one host.

    Each pass sends every port once and retries it once; conntrack drops all
    of them as INVALID. 72 flag packets within two minutes (threshold: 3 per
    hour); 12 ports stays under the vertical threshold of 16; one host, so no
    TRW. Not escalated (12 pairs, one window).
    """

    kind: ClassVar[str] = "flag_scanner"
    description: ClassVar[str] = "nmap FIN, NULL and XMAS scans of one host"
    address: str
    target: str
    ports: tuple[int, ...] = (21, 22, 23, 25, 53, 80, 110, 143, 443, 445, 993, 3389)
    at: float = 0.0

    @property
    def expected_detections(self) -> tuple[str, ...]:
        return ("flag_scan",)

    @property
    def escalate(self) -> bool:
        return len(self.ports) >= REPEAT_MIN_PROBES

    def emit(self, site: Site, rng: np.random.Generator, start_us: int) -> Events:
        parts = []
        t = start_us + _us(self.at)
        for flags in (FIN, 0, FIN | PSH | URG):
            sport = int(rng.integers(33000, 64000))
            for attempt in range(2):
                order = rng.permutation(np.array(self.ports, dtype=np.int32))
                ts = t + _gaps(rng, len(order), 0.02)
                parts.append(
                    probes(
                        site,
                        rng,
                        self.address,
                        [self.target] * len(order),
                        ts,
                        sport=sport + attempt,
                        dport=order,
                        flags=flags,
                        length4=40,
                        ttl=_nmap_ttl(rng, len(order)),
                        window=1024,
                    )
                )
                t = int(ts[-1]) + _us(1.0)
            t += _us(20.0)
        return Events(packets=Packets.concat(parts))


@dataclass(frozen=True)
class SlowScanner(Actor):
    """A patient SSH prober: one host every ~20 s, ``windows`` x 15 hosts.

    A Linux ``connect()`` per host (60-byte SYN with DF, one retransmission a
    second later). 15 hosts per 5-minute window stays under the horizontal
    threshold of 26, so only TRW (whole-input, not windowed) sees it: 60
    failed first contacts by default. 60 pairs, no windowed detection: not
    escalated. Windows start at multiples of 300 s after the epoch, so ``at``
    must be a multiple of 300 for the per-window count to hold.
    """

    kind: ClassVar[str] = "slow_scanner"
    description: ClassVar[str] = "low-and-slow SSH probe, 15 hosts per 5-minute window"
    address: str
    network: str
    port: int = 22
    at: float = 0.0
    windows: int = 4
    per_window: int = 15

    @property
    def expected_detections(self) -> tuple[str, ...]:
        return ("trw_scan",)

    @property
    def escalate(self) -> bool:
        return self.windows * self.per_window >= REPEAT_MIN_PROBES

    def emit(self, site: Site, rng: np.random.Generator, start_us: int) -> Events:
        hosts = [str(h) for h in ipaddress.ip_network(self.network).hosts()]
        n = self.windows * self.per_window
        chosen = [hosts[i] for i in np.sort(rng.choice(len(hosts), size=n, replace=False))]
        chosen = [chosen[i] for i in rng.permutation(n)]
        slot = 300.0 / self.per_window
        offsets = np.array(
            [w * 300.0 + j * slot for w in range(self.windows) for j in range(self.per_window)]
        )
        jitter = rng.uniform(0.5, slot - 2.0, size=n)
        ts = start_us + _us(self.at) + np.round((offsets + jitter) * US).astype(np.int64)
        sport = rng.integers(32768, 61000, size=n)
        ttl = rng.integers(46, 53, size=n)
        first = probes(
            site,
            rng,
            self.address,
            chosen,
            ts,
            sport=sport,
            dport=self.port,
            flags=SYN,
            length4=60,
            ttl=ttl,
            window=64240,
            df=True,
        )
        again = probes(
            site,
            rng,
            self.address,
            chosen,
            ts + _us(1.0) + rng.integers(0, 5000, size=n),
            sport=sport,
            dport=self.port,
            flags=SYN,
            length4=60,
            ttl=ttl,
            window=64240,
            df=True,
        )
        return Events(packets=Packets.concat([first, again]))


@dataclass(frozen=True)
class InternalSweep(Actor):
    """An infected internal host sweeping an internal /24 for SMB with ``connect()``.

    Internal traffic never crosses the border firewall, so only Zeek sees it:
    most addresses are empty (S0: a SYN and one retransmission), live hosts
    without SMB refuse (REJ), Windows hosts accept and are closed at once
    (SF, ``ShAFf``). 254 hosts in about 25 s: horizontal scan and TRW;
    254 pairs, escalated; internal (T1046 rather than external recon).
    """

    kind: ClassVar[str] = "internal_scanner"
    description: ClassVar[str] = "internal host sweeping an internal /24 on 445 (Zeek only)"
    address: str
    network: str
    port: int = 445
    at: float = 0.0
    #: Live hosts with the port open, and live hosts refusing it.
    open_hosts: int = 22
    closed_hosts: int = 8

    @property
    def internal(self) -> bool:
        return True

    @property
    def expected_detections(self) -> tuple[str, ...]:
        return ("horizontal_scan", "trw_scan")

    @property
    def escalate(self) -> bool:
        return ipaddress.ip_network(self.network).num_addresses - 2 >= REPEAT_MIN_PROBES

    def emit(self, site: Site, rng: np.random.Generator, start_us: int) -> Events:
        hosts = [str(h) for h in ipaddress.ip_network(self.network).hosts()]
        n = len(hosts)
        outcome = np.zeros(n, dtype=np.int64)  # 0 absent, 1 open, 2 closed
        live = rng.choice(n, size=self.open_hosts + self.closed_hosts, replace=False)
        outcome[live[: self.open_hosts]] = 1
        outcome[live[self.open_hosts :]] = 2
        ts = start_us + _us(self.at) + _gaps(rng, n, 0.1)
        states = np.array([code(STATES, s) for s in ("S0", "SF", "REJ")])
        hist = np.array([code(HISTORIES, h) for h in ("S", "ShAFf", "Sr")])
        duration = np.select(
            [outcome == 0, outcome == 1],
            [rng.integers(1_000_000, 1_010_000, size=n), rng.integers(1_200, 4_000, size=n)],
            rng.integers(200, 900, size=n),
        )
        return Events(
            conns=Conns.build(
                n,
                ts=ts,
                orig=addresses.repeat(addresses.parse(self.address), n),
                resp=addresses.parse(hosts),
                orig_p=rng.integers(49152, 65535, size=n),
                resp_p=self.port,
                proto=TCP,
                service=code(SERVICES, "-"),
                duration=duration,
                orig_bytes=0,
                resp_bytes=0,
                state=states[outcome],
                local_orig=True,
                local_resp=True,
                history=hist[outcome],
                orig_pkts=np.array([2, 4, 1])[outcome],
                orig_ip_bytes=np.array([104, 196, 52])[outcome],
                resp_pkts=np.array([0, 2, 1])[outcome],
                resp_ip_bytes=np.array([0, 92, 40])[outcome],
            )
        )


@dataclass(frozen=True)
class BenignClient(BenignActor):
    """A real user of the web server who also mistypes two ports (negative control).

    HTTPS and HTTP visits that succeed, plus two failed connections (each a
    SYN and one retransmission) to 8443 and 8080 on the same host. The first
    contact succeeds, so TRW walks towards benign; 2 ports and 1 host are far
    from every threshold. No detection may fire.
    """

    kind: ClassVar[str] = "benign_client"
    description: ClassVar[str] = "ordinary web client with two failed connections"
    address: str
    target: str
    #: (seconds after start, port) of each connection attempt.
    visits: tuple[tuple[float, int], ...] = (
        (312.0, 443),
        (1840.0, 8443),
        (1846.0, 8080),
        (1851.0, 443),
        (5460.0, 443),
        (5463.0, 80),
    )

    def emit(self, site: Site, rng: np.random.Generator, start_us: int) -> Events:
        open_ports = site.open_ports(self.target)
        packets = []
        conns = []
        ttl = 64 - 11
        for at, port in self.visits:
            t = start_us + _us(at)
            sport = int(rng.integers(32768, 61000))
            tries = 1 if port in open_ports else 2
            ts = t + np.array([0, _us(1.0) + 700][:tries], dtype=np.int64)
            p = probes(
                site,
                rng,
                self.address,
                [self.target] * tries,
                ts,
                sport=sport,
                dport=port,
                flags=SYN,
                length4=60,
                ttl=ttl,
                window=64240,
                df=True,
                flowlabel=int(rng.integers(1, 1 << 20)),
            )
            packets.append(p)
            if port in open_ports:
                conns.append(client_session(p, rng, internal_src=False))
        return Events(packets=Packets.concat(packets), conns=Conns.concat(conns))


@dataclass(frozen=True)
class ZmapScanner(Actor):
    """zmap ``-p PORT`` over part of our range, with a fixed source port.

    zmap's probes carry IP ID 54321 (its signature), window 65535 and a high
    TTL; ``--source-port`` pins one port for the whole run. Over the /25 by
    default: 126 hosts in about 15 s (threshold 26 per 5 minutes), 126 failed
    first contacts for TRW, 126 host:port pairs (escalated). The packet
    fields give the case the ``zmap`` tool hint (detect/tools.py: IP ID 54321
    in >= 90 % of >= 10 failed SYNs).
    """

    kind: ClassVar[str] = "zmap_scanner"
    description: ClassVar[str] = (
        "zmap sweep of one port across a /25 (IP ID 54321, one source port)"
    )
    address: str
    network: str
    port: int
    at: float = 0.0

    @property
    def expected_detections(self) -> tuple[str, ...]:
        return ("horizontal_scan", "trw_scan")

    @property
    def escalate(self) -> bool:
        return ipaddress.ip_network(self.network).num_addresses - 2 >= REPEAT_MIN_PROBES

    @property
    def tools(self) -> tuple[str, ...]:
        return ("zmap",)

    def emit(self, site: Site, rng: np.random.Generator, start_us: int) -> Events:
        hosts = [str(h) for h in ipaddress.ip_network(self.network).hosts()]
        order = [hosts[i] for i in rng.permutation(len(hosts))]
        n = len(order)
        ts = start_us + _us(self.at) + _gaps(rng, n, 0.12)
        p = probes(
            site,
            rng,
            self.address,
            order,
            ts,
            sport=int(rng.integers(32768, 61000)),
            dport=self.port,
            flags=SYN,
            length4=40,
            ttl=rng.integers(243, 250, size=n),
            window=65535,
            ip_id=54321,
        )
        return Events(packets=p, conns=reset_handshakes(p, rng, internal_src=False))


@dataclass(frozen=True)
class CoordinatedScanner(Actor):
    """One member of a coordinated scan: its own slice of a shared sweep.

    Several sources split the hosts of one /24 on one port between them
    (:func:`coordinated_scan` deals the slices, disjoint). Each member sends
    one masscan-style SYN per host of its slice, about 15 s apart: 14 hosts by
    default, far under the horizontal threshold (26 per 5 minutes), but a
    ``distributed_scan`` member (>= 8 hosts in the hour, <= 25 per 5 minutes);
    the members together cover 6 x 14 = 84 hosts (>= 64) with no overlap, so
    the campaign detection makes one case listing every member. Every probe
    fails, so TRW flags each member on its own too (its own case). 14 pairs
    per member and 84 for the campaign: not escalated.
    """

    kind: ClassVar[str] = "scan_campaign"
    description: ClassVar[str] = "member of a coordinated SYN sweep split among several sources"
    address: str
    hosts: tuple[str, ...]
    port: int
    group: str
    at: float = 0.0

    @property
    def campaign(self) -> str:
        return self.group

    @property
    def expected_detections(self) -> tuple[str, ...]:
        return ("distributed_scan", "trw_scan")

    @property
    def escalate(self) -> bool:
        return len(self.hosts) >= REPEAT_MIN_PROBES

    def emit(self, site: Site, rng: np.random.Generator, start_us: int) -> Events:
        order = [self.hosts[i] for i in rng.permutation(len(self.hosts))]
        n = len(order)
        ts = start_us + _us(self.at) + _gaps(rng, n, 15.0)
        p = probes(
            site,
            rng,
            self.address,
            order,
            ts,
            sport=int(rng.integers(40000, 60000)),
            dport=self.port,
            flags=SYN,
            length4=40,
            ttl=rng.integers(44, 58, size=n),
            window=1024,
        )
        return Events(packets=p, conns=reset_handshakes(p, rng, internal_src=False))


def coordinated_scan(
    members: Sequence[str], network: str, port: int, at: float, per_member: int = 14
) -> tuple[CoordinatedScanner, ...]:
    """The members of one coordinated scan of ``network`` on ``port``.

    The hosts are shuffled once (a generator seeded by the campaign key, so
    the split does not depend on the sample's seed) and dealt in disjoint
    slices of ``per_member``; members start a few seconds apart from ``at``.
    """
    group = f"tcp/{port}@{network}"
    hosts = [str(h) for h in ipaddress.ip_network(network).hosts()]
    shuffle = np.random.default_rng(list(group.encode())).permutation(len(hosts))
    return tuple(
        CoordinatedScanner(
            address,
            hosts=tuple(hosts[j] for j in shuffle[i * per_member : (i + 1) * per_member]),
            port=port,
            group=group,
            at=at + 7.0 * i,
        )
        for i, address in enumerate(members)
    )


@dataclass(frozen=True)
class RotatingScanner(Actor):
    """One address of an IPv6 scanner that sends every probe from a new
    address of its /64 (the SI6 IPv6 Toolkit's ``-s PREFIX/LEN`` does it).

    :func:`rotating_scan` gives each port of the scan its own member: one
    nmap-like SYN (44 bytes, window 1024, random hop limit), no retry, to a
    closed port (one reaching an open port would look like any client). No
    address probes more than one port, so no per-source detection can fire;
    the members together probe 40 ports of one host in about 80 s, a vertical
    scan of the /64 (threshold 16), so ``ipv6_prefix_scan`` makes one case
    listing every member. 40 pairs: not escalated.
    """

    kind: ClassVar[str] = "ipv6_rotation"
    description: ClassVar[str] = (
        "one address of an IPv6 /64 that spreads a SYN scan over its addresses, a port each"
    )
    address: str
    target: str
    port: int
    group: str
    at: float = 0.0

    @property
    def campaign(self) -> str:
        return self.group

    @property
    def expected_detections(self) -> tuple[str, ...]:
        return ("ipv6_prefix_scan",)

    @property
    def escalate(self) -> bool:
        return False

    def emit(self, site: Site, rng: np.random.Generator, start_us: int) -> Events:
        p = probes(
            site,
            rng,
            self.address,
            [self.target],
            np.array([start_us + _us(self.at)], dtype=np.int64),
            sport=int(rng.integers(33000, 64000)),
            dport=self.port,
            flags=SYN,
            length4=44,
            ttl=_nmap_ttl(rng, 1),
            window=1024,
        )
        return Events(packets=p, conns=reset_handshakes(p, rng, internal_src=False))


def rotating_scan(
    network: str, target: str, ports: Sequence[int], at: float, step: float = 2.0
) -> tuple[RotatingScanner, ...]:
    """The members of one rotating scan of ``target`` from the /64 ``network``:
    one per port, ``step`` seconds apart from ``at``. Their interface ids come
    from a generator seeded by the network (not the sample's seed), so the
    members are the same in every sample."""
    net = ipaddress.IPv6Network(network)
    draw = np.random.default_rng(list(network.encode()))
    iids = draw.integers(1, 2**63, size=len(ports), dtype=np.int64)
    return tuple(
        RotatingScanner(
            str(net.network_address + int(iid)),
            target=target,
            port=port,
            group=f"ipv6@{network}",
            at=at + step * i,
        )
        for i, (iid, port) in enumerate(zip(iids, ports, strict=True))
    )


@dataclass(frozen=True)
class SpikingClient(Actor):
    """A regular client of the web server whose volume jumps in one window.

    One HTTPS connection (firewall accept and Zeek ``SF``: two events) in each
    5-minute window of ``windows``, then ``burst`` connections within about
    two minutes of ``burst_at``: a mirror job pulling the site, or someone
    mapping it through the same address. Every connection succeeds, so no
    scan detection applies; ``traffic_spike`` does: the burst window holds
    2 x (``burst`` + 1) = 122 events (>= 100) against a median of 2 and a MAD
    of 0 (threshold 2 + 6 x 1). Not escalated (no scan, no pairs probed).
    """

    kind: ClassVar[str] = "traffic_spike"
    description: ClassVar[str] = (
        "web client polling once per 5 minutes, then 60 connections in two minutes"
    )
    address: str
    target: str
    #: Window numbers (5 minutes each, from the scenario start) of the polls.
    windows: tuple[int, int] = (1, 21)
    burst_at: float = 0.0
    burst: int = 60

    @property
    def expected_detections(self) -> tuple[str, ...]:
        return ("traffic_spike",)

    @property
    def escalate(self) -> bool:
        return False

    def emit(self, site: Site, rng: np.random.Generator, start_us: int) -> Events:
        first, last = self.windows
        polls = np.arange(first, last, dtype=np.int64) * 300 * US + rng.integers(
            5 * US, 290 * US, size=last - first
        )
        burst = _us(self.burst_at) + _gaps(rng, self.burst, 2.0)
        ts = np.sort(start_us + np.concatenate([polls, burst]))
        n = len(ts)
        p = probes(
            site,
            rng,
            self.address,
            [self.target] * n,
            ts,
            sport=rng.integers(32768, 61000, size=n),
            dport=443,
            flags=SYN,
            length4=60,
            ttl=52,
            window=64240,
            df=True,
        )
        return Events(packets=p, conns=client_session(p, rng, internal_src=False))


@dataclass(frozen=True)
class ResolvedHostScanner(BlockScanner):
    """The network step of a recon chain: a block scan of the addresses the
    source's own DNS enumeration returned (the DNS and web steps are family
    actors at the same address, merged into one truth entry, one case).

    5 hosts x 10 ports = 50 probes in about 30 s; 3 reach open services
    (80 and 443 on the web server, 25 on the mail server), 47 fail: block scan
    (>= 5 hosts, >= 5 ports, >= 40 pairs), under the vertical (16 ports) and
    horizontal (26 hosts) thresholds. TRW is not expected: with 5 hosts and an
    accepted first contact possible, the walk may stop short of the boundary.
    """

    kind: ClassVar[str] = "recon_chain"
    description: ClassVar[str] = (
        "DNS enumeration of the zone, then a scan of the addresses it resolved"
    )
    ports: tuple[int, ...] = (21, 22, 25, 80, 110, 143, 443, 3306, 3389, 8080)

    @property
    def expected_detections(self) -> tuple[str, ...]:
        return ("block_scan",)


def client_session(p: Packets, rng: np.random.Generator, *, internal_src: bool) -> Conns:
    """Complete HTTP/HTTPS/SMTP sessions for accepted client SYNs (Zeek SF)."""
    n = len(p)
    service = np.select(
        [p.dport == 443, p.dport == 80, p.dport == 25],
        [code(SERVICES, "ssl"), code(SERVICES, "http"), code(SERVICES, "smtp")],
        code(SERVICES, "-"),
    )
    orig_bytes = np.round(rng.lognormal(np.log(900), 0.8, size=n)).astype(np.int64)
    resp_bytes = np.round(rng.lognormal(np.log(18000), 1.2, size=n)).astype(np.int64)
    # Mail flows the other way: the client sends the message.
    smtp = p.dport == 25
    orig_bytes, resp_bytes = (
        np.where(smtp, resp_bytes, orig_bytes),
        np.where(smtp, orig_bytes // 2, resp_bytes),
    )
    resp_pkts = 2 + -(-resp_bytes // 1448)
    orig_pkts = 3 + -(-orig_bytes // 1448) + resp_pkts // 2
    header = np.where(p.version == 6, 72, 52).astype(np.int64)
    return Conns.build(
        n,
        ts=p.ts + rng.integers(80, 400, size=n),
        orig=p.addresses("src"),
        resp=p.addresses("dst"),
        orig_p=p.sport,
        resp_p=p.dport,
        proto=TCP,
        service=service,
        duration=np.round(rng.lognormal(np.log(1.2e6), 1.0, size=n)).astype(np.int64),
        orig_bytes=orig_bytes,
        resp_bytes=resp_bytes,
        state=code(STATES, "SF"),
        local_orig=internal_src,
        local_resp=True,
        history=code(HISTORIES, "ShADadFf"),
        orig_pkts=orig_pkts,
        orig_ip_bytes=orig_bytes + orig_pkts * header,
        resp_pkts=resp_pkts,
        resp_ip_bytes=resp_bytes + resp_pkts * header,
    )


def demo_actors(site: Site) -> tuple[Actor, ...]:
    """The named actors of ``reconwatch demo``, placed over a two-hour sample.

    Each scanning run sits inside one 5-minute window (windows start at
    multiples of 300 s; the sample starts on one), so per-window counts are
    exactly what the docstrings promise.
    """
    net = ipaddress.ip_network(site.public_v4)
    block_hosts = tuple(str(net.network_address + i) for i in range(40, 48))
    return (
        VerticalScanner("198.51.100.23", target=site.web_v4, runs=(725.0, 4330.0)),
        HorizontalSweep("198.51.100.77", network=site.public_v4, port=3389, at=1270.0),
        BlockScanner("192.0.2.45", hosts=block_hosts, at=2000.0),
        FlagScanner("192.0.2.99", target=site.mail_v4, at=2825.0),
        InternalSweep("10.20.30.40", network="10.0.5.0/24", at=3310.0),
        SlowScanner("198.51.100.150", network=site.public_v4, port=22, at=4800.0),
        IPv6Scanner("2001:db8:ffff:7::66", target=site.web_v6, runs=(6315.0,)),
        BenignClient("192.0.2.200", target=site.web_v4),
    )


def family_network_actors(site: Site) -> tuple[Actor, ...]:
    """The network actors planted only with the other log families.

    They came after the default sample was pinned, so the network-only
    sample leaves them out (its files stay byte for byte the same); with any
    other family they join :func:`demo_actors`. Placed (seconds after the
    first 5-minute boundary) where no other actor shares what their
    detections count: the recon chain's scan at 610 s, the coordinated
    sweep of tcp/8080 from 3000 s (hour 0, no other
    source probes 8 hosts on 8080 then), the traffic spike's burst at 5400 s
    over polls from 300 s to 6300 s, zmap on tcp/6379 at 6610 s, and a
    rotating IPv6 scan of the v6 web server at 1810-1888 s (the other IPv6
    scanner comes at 6315 s, from another /64).
    """
    members = ("192.0.2.31", "192.0.2.57", "192.0.2.93", "198.51.100.131", "198.51.100.164",
               "198.51.100.227")  # fmt: skip
    # An address that reached an open port did nothing a client does not do:
    # the rotating scan's members each probe a closed one.
    closed = [port for port in TOP_100_TCP if port not in site.open_ports(site.web_v6)]
    return (
        ResolvedHostScanner("198.51.100.120", hosts=CHAIN_TARGETS, at=610.0),
        *coordinated_scan(members, site.public_v4, 8080, at=3000.0),
        SpikingClient("198.51.100.140", target=site.web_v4, burst_at=5400.0),
        ZmapScanner("198.51.100.190", network="203.0.113.128/25", port=6379, at=6610.0),
        *rotating_scan("2001:db8:ffff:9::/64", site.web_v6, closed[:40], at=1810.0),
    )


#: What the recon chain's DNS enumeration resolves (www, mail, ns1, ns2, vpn):
#: the hosts its scan then probes.
CHAIN_TARGETS: Final = ("203.0.113.10", "203.0.113.25", "203.0.113.30", "203.0.113.53",
                        "203.0.113.54")  # fmt: skip
