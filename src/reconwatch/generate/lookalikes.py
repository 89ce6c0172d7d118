"""Benign look-alikes: sources that do a lot, or touch a lot, and are not reconnaissance.

A detection that only ever meets scanners and a quiet background has not been
tested for false positives. These actors are what a SOC's logs hold every day
and what naive counting mistakes for scans:

- a branch office's NAT gateway (``nat_gateway``): one internal address for a
  few hundred users, 4,000 connections to a thousand internet servers, mostly
  successful, with the ordinary 2.5 % of unanswered or refused attempts;
- a Nagios server (``monitoring_probe``) checking 8 TCP services on each of 3
  internal servers every 5 minutes (Nagios' default ``check_interval``), all
  answered;
- an internal vulnerability scanner (``internal_vuln_scanner``), a scheduled
  Nessus-style scan of 40 ports on 24 internal servers;
- search-engine crawlers (``search_crawler``): Googlebot and bingbot with
  their real user agents, ``/robots.txt`` first, then many distinct pages,
  mostly 200;
- CDN health checks (``cdn_health_check``): three edge nodes asking for
  ``/healthz`` every 30 seconds with the site's name as Host;
- the mail server's reverse lookups (``mail_ptr_lookups``): a PTR query for
  each connecting SMTP client, 200 an hour, scattered over the internet;
- a forwarding resolver (``forwarding_resolver``): a branch office's dnsmasq
  sending its users' queries, many names in many zones, few NXDOMAIN.

Every one must raise no case, except the vulnerability scanner: reconwatch
has no allowlist that silences detections (benign-scanner lists only set the
disposition), and an internal host scanning 24 servers is exactly what the
internal-scan detections exist for. Its expected outcome is an *internal*
case (T1046, never blocked) that the analyst closes as a false positive
("our vulnerability scanner"); it carries its expected detections like any
scanner, and :data:`EXPECTED_INTERNAL_CASE` names it.

They are generated only with ``generate_sample(..., lookalikes=True)``: the
default sample stays byte for byte what the existing tests pin. Line counts
do not depend on the seed (only contents do), so :func:`lookalike_lines` can
size the minimum sample.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import ClassVar, Final

import numpy as np
import numpy.typing as npt

from reconwatch.generate import addresses, dns, text, web
from reconwatch.generate.actors import TOP_100_TCP, Actor, BenignActor
from reconwatch.generate.addresses import PublicV4Pool
from reconwatch.generate.families import Planted
from reconwatch.generate.family import US, Context, FamilyActor
from reconwatch.generate.model import (
    HISTORIES,
    SERVICES,
    STATES,
    TCP,
    Conns,
    Events,
    code,
)
from reconwatch.generate.site import Site
from reconwatch.generate.text import I64

#: Kinds of every look-alike (the benchmark reports false cases on them by name).
LOOKALIKE_KINDS: Final = frozenset(
    {
        "nat_gateway",
        "monitoring_probe",
        "internal_vuln_scanner",
        "search_crawler",
        "cdn_health_check",
        "mail_ptr_lookups",
        "forwarding_resolver",
    }
)
#: Look-alikes whose correct outcome is an internal case rather than none.
EXPECTED_INTERNAL_CASE: Final = frozenset({"internal_vuln_scanner"})

GOOGLEBOT_UA: Final = (
    "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; Googlebot/2.1; "
    "+http://www.google.com/bot.html) Chrome/128.0.6613.137 Safari/537.36"
)
BINGBOT_UA: Final = (
    "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; bingbot/2.0; "
    "+http://www.bing.com/bingbot.htm) Chrome/116.0.1938.76 Safari/537.36"
)
#: Cloudflare's load-balancer health monitor identifies itself this way.
CDN_MONITOR_UA: Final = (
    "Mozilla/5.0 (compatible; Cloudflare-Traffic-Manager/1.0; "
    "+https://www.cloudflare.com/traffic-manager/; pool-id: 4f2a9c81d3e07b65)"
)

I32 = npt.NDArray[np.int32]

# Zeek outcomes of a TCP connection attempt, as indexes into the tables below.
_SF, _S0, _REJ = 0, 1, 2


def _tcp_conns(
    rng: np.random.Generator,
    ts: I64,
    orig: str,
    resp: addresses.Addrs,
    resp_p: npt.ArrayLike,
    outcome: npt.NDArray[np.int64],
    *,
    service: npt.ArrayLike,
    local_resp: bool,
    short: bool,
) -> Conns:
    """Zeek rows for TCP attempts from ``orig``: completed (SF), unanswered
    (S0, a SYN and one retransmission) or refused (REJ). ``short`` sessions
    are a service check's connect-and-close; otherwise a web session's bytes."""
    n = len(ts)
    sf = outcome == _SF
    if short:
        orig_bytes = np.where(sf, rng.integers(0, 40, size=n), 0)
        resp_bytes = np.where(sf, rng.integers(20, 400, size=n), 0)
        sf_duration = rng.integers(800, 30_000, size=n)
        sf_history = code(HISTORIES, "ShAFf")
    else:
        orig_bytes = np.where(sf, np.round(rng.lognormal(np.log(900), 0.8, size=n)), 0)
        resp_bytes = np.where(sf, np.round(rng.lognormal(np.log(22000), 1.2, size=n)), 0)
        sf_duration = np.round(rng.lognormal(np.log(2.5e6), 1.3, size=n)).astype(np.int64)
        sf_history = code(HISTORIES, "ShADadFf")
    orig_bytes = orig_bytes.astype(np.int64)
    resp_bytes = resp_bytes.astype(np.int64)
    resp_pkts = np.where(sf, 2 + -(-resp_bytes // 1448), np.array([0, 0, 1])[outcome])
    orig_pkts = np.where(sf, 3 + -(-orig_bytes // 1448), np.array([0, 2, 1])[outcome])
    states = np.array([code(STATES, s) for s in ("SF", "S0", "REJ")], dtype=np.uint8)
    histories = np.array([sf_history, code(HISTORIES, "S"), code(HISTORIES, "Sr")], np.uint8)
    return Conns.build(
        n,
        ts=ts,
        orig=addresses.repeat(addresses.parse(orig), n),
        resp=resp,
        orig_p=rng.integers(32768, 61000, size=n),
        resp_p=resp_p,
        proto=TCP,
        service=np.where(sf, np.asarray(service, dtype=np.uint8), code(SERVICES, "-")),
        duration=np.select(
            [sf, outcome == _S0],
            [sf_duration, rng.integers(1_000_000, 1_010_000, size=n)],
            rng.integers(200, 900, size=n),
        ),
        orig_bytes=orig_bytes,
        resp_bytes=resp_bytes,
        state=states[outcome],
        local_orig=True,
        local_resp=local_resp,
        history=histories[outcome],
        orig_pkts=orig_pkts,
        orig_ip_bytes=orig_bytes + orig_pkts * 52,
        resp_pkts=resp_pkts,
        resp_ip_bytes=resp_bytes + resp_pkts * 52,
    )


@dataclass(frozen=True)
class NatGateway(BenignActor):
    """A branch office's NAT gateway: ``connections`` outbound connections over
    the whole sample from one internal address, to ``servers`` internet
    servers (popular ones far more often, as real traffic is).

    TLS 75 %, HTTP 20 %, IMAPS 3 %, SSH 2 %; 97.5 % complete, 2 % are never
    answered (S0) and 0.5 % refused (REJ), the failure rate of the internal
    background. 4,000 connections in two hours is modest for a few hundred
    users, yet about 100 of them fail, a handful towards servers nobody else
    reaches. About 170 connections per 5 minutes at a steady rate: no
    ``traffic_spike`` (a spike must exceed the median by 6 MAD). Seen by Zeek
    only (the firewall logs inbound traffic).
    """

    kind: ClassVar[str] = "nat_gateway"
    description: ClassVar[str] = (
        "branch-office NAT gateway: one address for many users, ordinary outbound connections"
    )
    address: str
    connections: int = 4000
    servers: int = 1000
    span_s: float = 7100.0

    @property
    def internal(self) -> bool:
        return True

    def emit(self, site: Site, rng: np.random.Generator, start_us: int) -> Events:
        n = self.connections
        seed = int(rng.integers(0, 2**31))
        pool = addresses.v4(PublicV4Pool(seed, role=2).take(self.servers))
        # Zipf-like popularity: a few servers take most connections.
        which = (self.servers * rng.random(n) ** 3).astype(np.int64)
        what = rng.choice(4, p=[0.75, 0.20, 0.03, 0.02], size=n)
        port = np.array([443, 80, 993, 22], dtype=np.int32)[what]
        service = np.array([code(SERVICES, s) for s in ("ssl", "http", "ssl", "ssh")])[what]
        u = rng.random(n)
        outcome = np.select([u < 0.02, u < 0.025], [_S0, _REJ], _SF).astype(np.int64)
        ts = start_us + np.sort(rng.integers(0, round(self.span_s * US), size=n))
        conns = _tcp_conns(
            rng, ts, self.address, pool.take(which), port, outcome,
            service=service, local_resp=False, short=False,
        )  # fmt: skip
        return Events(conns=conns)


@dataclass(frozen=True)
class MonitoringProbe(BenignActor):
    """Nagios checking ``ports`` on each of ``hosts`` every ``interval_s``
    seconds (``check_tcp``: connect, read the banner, close), with a little
    scheduling jitter. Every check is answered: monitoring only watches
    services that exist. 24 successful pairs per round: no failed attempt for
    the port scans, every first contact a success for TRW.
    """

    kind: ClassVar[str] = "monitoring_probe"
    description: ClassVar[str] = "Nagios check_tcp of 8 services on 3 servers every 5 minutes"
    address: str
    hosts: tuple[str, ...]
    ports: tuple[int, ...] = (22, 25, 53, 80, 443, 3306, 5432, 9100)
    interval_s: float = 300.0
    rounds: int = 23

    @property
    def internal(self) -> bool:
        return True

    def emit(self, site: Site, rng: np.random.Generator, start_us: int) -> Events:
        per_round = len(self.hosts) * len(self.ports)
        n = per_round * self.rounds
        pair = np.tile(np.arange(per_round), self.rounds)
        host_i, port = (
            pair // len(self.ports),
            np.array(self.ports, np.int32)[pair % len(self.ports)],
        )
        rounds = np.repeat(np.arange(self.rounds, dtype=np.int64), per_round)
        # Nagios spreads a round's checks over a few seconds (inter-check delay).
        offset = np.tile(np.arange(per_round, dtype=np.int64) * 250_000, self.rounds)
        ts = (
            start_us
            + 20 * US
            + rounds * round(self.interval_s * US)
            + offset
            + rng.integers(0, 200_000, size=n)
        )
        resp = addresses.parse(list(self.hosts)).take(host_i)
        service = np.select(
            [port == 22, port == 25, port == 80, port == 443],
            [code(SERVICES, s) for s in ("ssh", "smtp", "http", "ssl")],
            code(SERVICES, "-"),
        )
        conns = _tcp_conns(
            rng, ts, self.address, resp, port, np.zeros(n, np.int64),
            service=service, local_resp=True, short=True,
        )  # fmt: skip
        return Events(conns=conns)


@dataclass(frozen=True)
class InternalVulnScanner(Actor):
    """A scheduled Nessus-style scan: ``ports`` on each of ``hosts`` (the
    server inventory, all alive), in random order, about 20 probes a second.
    Live hosts refuse closed ports (REJ) and accept the 2-4 services they
    run (SF, closed at once). 24 hosts x 40 ports = 960 pairs, 40 failed ports
    per host against the vertical threshold of 16; the first contact with
    most hosts is a refused port, so TRW flags it too. Escalated (>= 100
    pairs); internal, so T1046 and never blocked.
    """

    kind: ClassVar[str] = "internal_vuln_scanner"
    description: ClassVar[str] = (
        "scheduled internal vulnerability scan (Nessus-style) of 40 ports on 24 servers"
    )
    address: str
    hosts: tuple[str, ...]
    ports: tuple[int, ...] = TOP_100_TCP[:40]
    at: float = 0.0

    @property
    def internal(self) -> bool:
        return True

    @property
    def expected_detections(self) -> tuple[str, ...]:
        return ("trw_scan", "vertical_scan")

    @property
    def escalate(self) -> bool:
        return True

    def emit(self, site: Site, rng: np.random.Generator, start_us: int) -> Events:
        ports = np.array(self.ports, dtype=np.int32)
        n = len(self.hosts) * len(ports)
        order = rng.permutation(n)
        host_i, port_i = order // len(ports), order % len(ports)
        # Which services each server runs: 2-4 of the scanned ports.
        running = np.zeros((len(self.hosts), len(ports)), dtype=np.bool_)
        for row in running:
            row[rng.choice(len(ports), size=int(rng.integers(2, 5)), replace=False)] = True
        outcome = np.where(running[host_i, port_i], _SF, _REJ).astype(np.int64)
        host = addresses.parse(list(self.hosts)).take(host_i)
        port = ports[port_i]
        steps = np.maximum(rng.exponential(0.05 * US, size=n), 200).astype(np.int64)
        steps[0] = 0
        ts = start_us + round(self.at * US) + np.cumsum(steps)
        conns = _tcp_conns(
            rng, ts, self.address, host, port, outcome,
            service=code(SERVICES, "-"), local_resp=True, short=True,
        )  # fmt: skip
        return Events(conns=conns)


def network_lookalikes(site: Site) -> tuple[Actor, ...]:
    """The look-alikes the firewall and conn.log show (Zeek only: all internal)."""
    servers = tuple(str(ipaddress.ip_address("10.0.6.10") + i) for i in range(24))
    return (
        NatGateway("10.0.8.1"),
        MonitoringProbe("10.0.0.5", hosts=("10.0.0.53", "10.0.6.10", "10.0.6.11")),
        InternalVulnScanner("10.0.0.30", hosts=servers, at=5700.0),
    )


# --- DNS and web look-alikes ------------------------------------------------------


def _at(ctx: Context, offsets: I64) -> I64:
    out: I64 = ctx.actors_us + offsets
    return out


def crawler(ctx: Context, address: str, agent: str, at: float, pages: int) -> web.WebActor:
    """A search engine's crawler: ``/robots.txt`` first, then ``pages`` distinct
    pages, one every ~12 s (crawlers pace themselves per host). 93 % 200, 4 %
    301 (a missing trailing slash), 3 % 404 (stale links from other sites):
    a handful of 4xx paths, far from the wordlist threshold of 25."""
    rng = ctx.rng(f"search_crawler:{address}")
    sections = ("blog/2025", "blog/2026", "docs", "products", "careers", "news")
    paths = [
        f"/{sections[i % len(sections)]}/{word}-{i // len(sections) + 1}/"
        for i, word in enumerate(_slugs(pages))
    ]
    targets = ["/robots.txt", *paths]
    n = len(targets)
    u = rng.random(n)
    status = np.select([u < 0.03, u < 0.07], [404, 301], 200)
    status[0] = 200
    size = np.select([status == 404, status == 301], [555, 169], rng.integers(7000, 26000, size=n))
    size[0] = 68
    steps = np.maximum(rng.exponential(12.0 * US, size=n), 500_000).astype(np.int64)
    steps[0] = 0
    req = web._requests(
        n,
        ts=_at(ctx, round(at * US) + np.cumsum(steps)),
        client=address,
        host=f"www.{ctx.site.zone}:443",
        method="GET",
        target=targets,
        status=status.astype(np.int64),
        size=size.astype(np.int64),
        referer="-",
        agent=agent,
    )
    name = "Googlebot" if "Googlebot" in agent else "bingbot"
    actor = FamilyActor(
        address,
        "search_crawler",
        f"{name} crawling {pages} pages after /robots.txt",
        (),
        ports=1,
    )
    return web.WebActor(actor, req)


def _slugs(count: int) -> list[str]:
    words = (
        "release", "notes", "guide", "pricing", "install", "update", "security", "roadmap",
        "team", "customer", "story", "api", "changelog", "faq", "webinar",
    )  # fmt: skip
    return [f"{words[i % len(words)]}-{words[(i * 7 + 3) % len(words)]}" for i in range(count)]


def cdn_health_check(ctx: Context, address: str, phase: float, every: float = 30.0) -> web.WebActor:
    """One CDN edge node's health monitor: ``GET /healthz`` every ``every``
    seconds over the whole sample, 200, with the site's name as Host (the
    origin is configured by name, so no bare-IP Host)."""
    rng = ctx.rng(f"cdn_health_check:{address}")
    count = int((ctx.end_us - ctx.actors_us) / US - phase - 5.0) // int(every)
    ticks = np.arange(count, dtype=np.int64) * round(every * US)
    ts = _at(ctx, round(phase * US) + ticks + rng.integers(0, 150_000, size=count))
    req = web._requests(
        count,
        ts=ts,
        client=address,
        host=f"www.{ctx.site.zone}:443",
        method="GET",
        target="/healthz",
        status=np.full(count, 200, np.int64),
        size=np.full(count, 2, np.int64),
        referer="-",
        agent=CDN_MONITOR_UA,
    )
    actor = FamilyActor(
        address, "cdn_health_check", f"CDN health check of /healthz every {every:g} s", ()
    )
    return web.WebActor(actor, req)


def mail_ptr_lookups(ctx: Context, address: str, per_hour: int = 200) -> dns.DnsActor:
    """The mail server resolving each connecting SMTP client's address (Postfix
    ``reject_unknown_client_hostname`` and friends) through the internal
    resolver: ``per_hour`` PTR queries an hour for two hours, of addresses
    scattered over the internet (a few clients connect more than once).
    30 % have no PTR record (NXDOMAIN): spam bots on residential lines."""
    site = ctx.site
    rng = ctx.rng(f"mail_ptr_lookups:{address}")
    n = per_hour * 2
    clients = PublicV4Pool(ctx.seed ^ 0x5A7, role=1).take(n)
    # A quarter of the lookups are repeat visits of an earlier client.
    pick = np.where(rng.random(n) < 0.25, rng.integers(0, n // 4, size=n), np.arange(n))
    ip = clients[pick].astype(np.int64)
    octets = [(ip >> s) & 0xFF for s in (0, 8, 16, 24)]
    name = text.join(*(x for o in octets for x in (text.dec(o), ".")), "in-addr.arpa")
    dashed = text.join(
        text.dec(octets[3]), "-", text.dec(octets[2]), "-", text.dec(octets[1]), "-",
        text.dec(octets[0]), ".mail.isp.example",
    )  # fmt: skip
    nx = rng.random(n) < 0.3
    q = dns.Queries.build(
        n,
        ts=_at(ctx, np.sort(rng.integers(30 * US, 7150 * US, size=n))),
        client=address,
        cport=rng.integers(1024, 65536, size=n),
        server=site.resolver,
        name=np.asarray(name.to_pylist(), dtype=object),
        qclass="IN",
        qtype="PTR",
        rcode=np.where(nx, "NXDOMAIN", "NOERROR").astype(object),
        answers=np.where(nx, "-", np.asarray(dashed.to_pylist(), dtype=object)),
        ttl=np.full(n, 3600),
        rd=np.ones(n, np.bool_),
        ra=np.ones(n, np.bool_),
        aa=np.zeros(n, np.bool_),
        tcp=np.zeros(n, np.bool_),
        cookie=rng.random(n) < 0.6,
        rtt=rng.integers(2_000, 40_000, size=n),
    )
    actor = FamilyActor(
        address,
        "mail_ptr_lookups",
        f"mail server reverse-resolving its SMTP clients ({per_hour} PTR lookups an hour)",
        (),
        internal=True,
        targets=1,
    )
    return dns.DnsActor(actor, q)


#: Zones of the content networks a forwarder's users reach, with the pattern
#: of their many distinct host names.
_CDN_ZONES: Final = (
    ("googlevideo.com", "rr{k}---sn-4g5e{j}n7s"),
    ("akamaiedge.net", "e{k}{j}.dscb"),
    ("cloudfront.net", "d{k}{j}x7q2mzt"),
    ("fbcdn.net", "scontent-fra{k}-{j}.xx"),
    ("amazonaws.com", "s3.eu-west-{j}.bucket{k}"),
    ("office.com", "r{k}.res{j}"),
    ("slack-edge.com", "a{k}{j}"),
    ("azureedge.net", "cdn{k}-{j}"),
)


def forwarding_resolver(ctx: Context, address: str, queries: int = 700) -> dns.DnsActor:
    """A branch office's dnsmasq forwarding its users' queries to the internal
    resolver: the popular names of the DNS background plus many distinct
    content-network names across :data:`_CDN_ZONES` (no zone gets more than
    ~15 distinct names in 15 minutes), 4 % NXDOMAIN (search-domain leftovers)."""
    site = ctx.site
    rng = ctx.rng(f"forwarding_resolver:{address}")
    n = queries
    cdn = rng.random(n) < 0.45
    zone = rng.integers(0, len(_CDN_ZONES), size=n)
    k = rng.integers(1, 40, size=n)
    j = rng.integers(1, 9, size=n)
    cdn_names = np.array(
        [
            f"{_CDN_ZONES[z][1].format(k=kk, j=jj)}.{_CDN_ZONES[z][0]}"
            for z, kk, jj in zip(zone.tolist(), k.tolist(), j.tolist(), strict=True)
        ],
        dtype=object,
    )
    weights = 1.0 / np.arange(1, len(dns.POPULAR) + 1)
    popular = np.asarray(dns.POPULAR, dtype=object)[
        rng.choice(len(dns.POPULAR), p=weights / weights.sum(), size=n)
    ]
    nx = rng.random(n) < 0.04
    leftovers = np.asarray(dns.NX_NOISE, dtype=object)[rng.integers(0, len(dns.NX_NOISE), n)]
    name = np.where(nx, leftovers, np.where(cdn, cdn_names, popular))
    answers = text.v4_text(PublicV4Pool(ctx.seed ^ 0xF0D, role=2).take(n))
    aaaa = ~nx & (rng.random(n) < 0.3)
    answers = np.where(aaaa, "2001:db8:ca5e::" + (k + 100).astype(str).astype(object), answers)
    q = dns.Queries.build(
        n,
        ts=_at(ctx, np.sort(rng.integers(15 * US, 7160 * US, size=n))),
        client=address,
        cport=rng.integers(1024, 65536, size=n),
        server=site.resolver,
        name=name.astype(object),
        qclass="IN",
        qtype=np.where(aaaa, "AAAA", "A").astype(object),
        rcode=np.where(nx, "NXDOMAIN", "NOERROR").astype(object),
        answers=np.where(nx, "-", answers).astype(object),
        ttl=rng.choice([20, 60, 300, 3600], size=n),
        rd=np.ones(n, np.bool_),
        ra=np.ones(n, np.bool_),
        aa=np.zeros(n, np.bool_),
        tcp=np.zeros(n, np.bool_),
        cookie=np.zeros(n, np.bool_),
        rtt=rng.integers(900, 40_000, size=n),
    )
    actor = FamilyActor(
        address,
        "forwarding_resolver",
        f"branch-office dnsmasq forwarding {n} users' queries across many zones",
        (),
        internal=True,
    )
    return dns.DnsActor(actor, q)


def family_lookalikes(ctx: Context) -> list[Planted]:
    """The DNS and web look-alikes, in a fixed order (their truth order)."""
    site = ctx.site
    out: list[Planted] = []
    for item in (
        crawler(ctx, "198.51.100.180", GOOGLEBOT_UA, 600.0, 160),
        crawler(ctx, "198.51.100.181", BINGBOT_UA, 3300.0, 100),
        *(cdn_health_check(ctx, f"192.0.2.{140 + i}", 7.0 + 9.0 * i) for i in range(3)),
    ):
        out.append(Planted(item.actor, (web.part(item.requests),)))
    for d in (mail_ptr_lookups(ctx, site.mail_v4), forwarding_resolver(ctx, "10.0.9.53")):
        parts = tuple(dns.parts(d.queries, ctx.rng(d.actor.kind), site))
        out.append(Planted(d.actor, parts))
    return out
