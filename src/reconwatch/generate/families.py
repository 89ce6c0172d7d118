"""The log families beyond the network: DNS, web, IDS and auth, planted and written.

Each family has a module (:mod:`.dns`, :mod:`.web`, :mod:`.ids`, :mod:`.auth`)
that generates its background in vectorised form and its actors' records,
and formats both into :class:`~.text.Part` objects. This module places the
actors over the demo's two hours, sizes each family's background from the
line budget, merges every file's parts in time order, writes the files and
accounts each actor's lines per file for the ground truth.

Where the actors are (seconds after the first 5-minute boundary, as for the
network actors of :func:`.actors.demo_actors`): the web wordlist scan at
900 s, the subdomain brute force at 1500 s, the benign admin from 1800 s,
the PTR sweep at 2400 s, Nikto at 2650 s, the zone transfer at 3000 s, the
CHAOS probe at 3620 s, the secrets prober at 3900 s, the wordlist scanner
back for SSH at 4500 s, the bare-IP client at 5100 s. Added later: the
recon chain's DNS enumeration at 420 s (its scan, a network actor, at 610 s)
and web probing at 700 s, the SRV brute force at 1150 s, the virtual-host
sweep at 2150 s, the ANY flood at 4150 s, the internal Host probe at 5250 s.

Unlike the network logs, these files are generated in one piece (not in time
slices): they are a third of the lines at most, and a million-line sample
holds them in a few hundred megabytes.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from reconwatch.generate import auth, dns, ids, text, web
from reconwatch.generate.family import Context, FamilyActor
from reconwatch.generate.text import Part

NETWORK: Final = "network"
#: Every family ``generate_sample`` can write, network first.
ALL_FAMILIES: Final = (NETWORK, "dns", "web", "ids", "auth")
#: Files of each family beyond the network.
FAMILY_FILES: Final = {
    "dns": (dns.BIND_LOG, dns.ZEEK_DNS_LOG),
    "web": (web.ACCESS_LOG,),
    "ids": (ids.EVE_LOG,),
    "auth": (auth.AUTH_LOG,),
}
#: Share of the background budget (lines beyond the actors' and the network
#: minimum) each family gets; the network keeps the rest (66 %).
SHARES: Final = {"dns": 0.14, "web": 0.12, "ids": 0.05, "auth": 0.03}

IDS_CONTEXT: Final = "ids_context"


@dataclass(frozen=True)
class Planted:
    """One family actor and the lines it adds (possibly to several files)."""

    actor: FamilyActor
    parts: tuple[Part, ...]


@dataclass(frozen=True)
class ActorLines:
    """What the ground truth needs of a planted actor after writing."""

    actor: FamilyActor
    first_us: int
    last_us: int
    lines: dict[str, int]


@dataclass(frozen=True)
class Written:
    """Result of :func:`write_families`."""

    files: dict[str, int]
    actors: tuple[ActorLines, ...]
    stats: dict[str, int] = field(default_factory=dict)


def check_families(families: Collection[str]) -> tuple[str, ...]:
    """``families`` in canonical order; unknown names are refused."""
    unknown = set(families) - set(ALL_FAMILIES)
    if unknown:
        raise ValueError(f"unknown log families {sorted(unknown)}; known: {ALL_FAMILIES}")
    if NETWORK not in families:
        raise ValueError("the network family (firewall and conn.log) is always written")
    return tuple(f for f in ALL_FAMILIES if f in families)


def _with_index(parts: Sequence[Part], index: int) -> tuple[Part, ...]:
    return tuple(Part(p.file, p.ts, p.lines, index) for p in parts)


def planted(ctx: Context) -> list[Planted]:
    """Every family actor of the demo, in a fixed order (their truth order)."""
    site = ctx.site
    out: list[Planted] = []

    def dns_actor(a: dns.DnsActor) -> None:
        out.append(Planted(a.actor, tuple(dns.parts(a.queries, ctx.rng(a.actor.kind), site))))

    def web_actor(a: web.WebActor) -> None:
        out.append(Planted(a.actor, (web.part(a.requests),)))

    web_actor(web.wordlist_scan(ctx, "198.51.100.61", 900.0))
    dns_actor(dns.brute_force(ctx, "198.51.100.33", 1500.0))
    admin = FamilyActor(
        "192.0.2.210",
        "benign_admin",
        "administrator logging in from home by key, then checking the zone's records",
        (),
        targets=2,
        ports=2,
    )
    out.append(
        Planted(
            admin,
            (
                auth.part(
                    auth.admin_login(ctx, admin.address, 1800.0, 900.0), site.bastion_hostname
                ),
                *dns.parts(dns.admin_checks(ctx, admin.address, 1880.0), ctx.rng("admin"), site),
            ),
        )
    )
    dns_actor(dns.ptr_sweep(ctx, "198.51.100.44", 2400.0))
    web_actor(web.nikto(ctx, "192.0.2.77", 2650.0))
    dns_actor(dns.zone_transfer(ctx, "198.51.100.9", 3000.0))
    dns_actor(dns.zone_transfer_served(ctx, "198.51.100.11", 3300.0))
    dns_actor(dns.chaos_probe(ctx, "192.0.2.66", 3620.0))
    dns_actor(dns.internal_probe(ctx, "192.0.2.171", 3700.0))
    web_actor(web.sensitive_probe(ctx, "192.0.2.88", 3900.0))
    guesser = FamilyActor(
        "198.51.100.61",
        "ssh_password_guesser",
        "then SSH password guessing on the bastion, ending in one successful login",
        (),
        escalate=True,
    )
    guesses = auth.password_guesser(ctx, guesser.address, 4500.0)
    out.append(Planted(guesser, (auth.part(guesses, site.bastion_hostname),)))
    web_actor(web.bare_ip(ctx, "192.0.2.120", 5100.0))
    # Added with the actors of actors.family_network_actors: the recon chain's
    # DNS and web steps (merged into its network entry), then four more.
    chain = "198.51.100.120"
    dns_actor(dns.chain_enumeration(ctx, chain, 420.0))
    web_actor(web.chain_probe(ctx, chain, 700.0))
    dns_actor(dns.srv_bruteforce(ctx, "198.51.100.70", 1150.0))
    web_actor(web.vhost_sweep(ctx, "198.51.100.88", 2150.0))
    dns_actor(dns.any_flood(ctx, "192.0.2.150", 4150.0))
    web_actor(web.internal_host(ctx, "192.0.2.130", 5250.0))
    web_actor(web.technology_probe(ctx, "192.0.2.96", 4700.0))
    # IDS alerts: context on sources the other logs show scanning.
    web_v4, block = site.web_v4, "203.0.113.40"
    alerts = (
        ("198.51.100.23", 725.0, ids.NMAP_SS, web_v4, 3389, 1, "failed"),
        ("198.51.100.23", 4330.0, ids.NMAP_SS, web_v4, 5900, 1, "failed"),
        ("192.0.2.45", 2001.0, ids.MYSQL, block, 3306, 2, "failed"),
        ("192.0.2.45", 2003.0, ids.MSSQL, "203.0.113.43", 1433, 1, "failed"),
        ("192.0.2.45", 2005.0, ids.VNC, "203.0.113.46", 5900, 1, "failed"),
        ("192.0.2.77", 2660.0, ids.NIKTO, web_v4, 80, 3, "http"),
        ("198.51.100.9", 3001.0, ids.AXFR, site.dns_v4, 53, 1, "dns"),
        ("198.51.100.61", 4530.0, ids.SSH_SCAN, site.bastion_v4, 22, 1, "ssh"),
    )
    for address, at, rule, dst, port, count, app in alerts:
        events = ids.alerts(ctx, address, at, rule, dst, port, count, app_proto=app)
        context = FamilyActor(address, IDS_CONTEXT, rule.signature, ())
        part = ids.part(events, ctx.rng(f"eve:{address}:{at}"), site.sensor_if)
        out.append(Planted(context, (part,)))
    return out


def selected(plants: Sequence[Planted], families: Collection[str]) -> list[Planted]:
    """``plants`` restricted to the files of ``families`` (actors left empty are dropped)."""
    files = {f for fam in families if fam != NETWORK for f in FAMILY_FILES[fam]}
    out = []
    for p in plants:
        parts = tuple(part for part in p.parts if part.file in files)
        if parts:
            out.append(Planted(p.actor, parts))
    return out


def actor_lines(plants: Sequence[Planted]) -> int:
    return sum(len(part.ts) for p in plants for part in p.parts)


def background(ctx: Context, family: str, lines: int) -> tuple[list[Part], dict[str, int]]:
    """About ``lines`` background lines of ``family`` (never more)."""
    rng = ctx.rng(f"background:{family}")
    t0, t1 = ctx.start_us, ctx.end_us
    site = ctx.site
    if family == "dns":
        q, stats = dns.background(site, ctx.seed, rng, lines // 2, t0, t1)
        return dns.parts(q, rng, site), stats
    if family == "web":
        r, stats = web.background(ctx, rng, lines, t0, t1)
        return [web.part(r)], stats
    if family == "ids":
        e, stats = ids.background(ctx, rng, lines, t0, t1)
        return [ids.part(e, rng, site.sensor_if)], stats
    if family == "auth":
        m, stats = auth.background(ctx, rng, lines, t0, t1)
        return [auth.part(m, site.bastion_hostname)], stats
    raise ValueError(family)


def _frame(file: str, ctx: Context) -> tuple[str, str]:
    if file == dns.ZEEK_DNS_LOG:
        return dns.zeek_header(ctx.start_us), dns.zeek_footer(ctx.end_us)
    return "", ""


def write_families(
    out_dir: Path,
    ctx: Context,
    families: Collection[str],
    plants: Sequence[Planted],
    budget: Mapping[str, int],
) -> Written:
    """Write the files of ``families`` (beyond the network) into ``out_dir``.

    ``budget`` is the background lines of each family; ``plants`` the actors
    (already :func:`selected`). Returns the data lines per file (Zeek header
    lines not counted), each actor's lines, and background statistics.
    """
    parts: dict[str, list[Part]] = {}
    for index, plant in enumerate(plants):
        for part in _with_index(plant.parts, index):
            parts.setdefault(part.file, []).append(part)
    stats: dict[str, int] = {}
    for family in families:
        if family == NETWORK:
            continue
        bg, fam_stats = background(ctx, family, budget[family])
        stats.update(fam_stats)
        for part in bg:
            parts.setdefault(part.file, []).append(part)
    files: dict[str, int] = {}
    counts: list[dict[str, int]] = [{} for _ in plants]
    first = [2**63 - 1 for _ in plants]
    last = [-(2**63) for _ in plants]
    order = [f for fam in families if fam != NETWORK for f in FAMILY_FILES[fam]]
    for file in order:
        merged = text.merge(parts.get(file, []))
        if len(merged.ts) and (merged.ts[0] < ctx.start_us or merged.ts[-1] >= ctx.end_us):
            raise ValueError(f"{file}: events fall outside the sample's time span")
        head, tail = _frame(file, ctx)
        text.write_file(out_dir / file, head, merged.lines, tail)
        files[file] = len(merged.lines)
        for index in range(len(plants)):
            mask = merged.actor == index
            n = int(mask.sum())
            if n:
                counts[index][file] = n
                stamps = merged.ts[mask]
                first[index] = min(first[index], int(stamps[0]))
                last[index] = max(last[index], int(stamps[-1]))
    actors = tuple(ActorLines(p.actor, first[i], last[i], counts[i]) for i, p in enumerate(plants))
    return Written(files, actors, stats)
