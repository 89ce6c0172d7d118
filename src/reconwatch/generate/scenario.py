"""Put actors and background together over time and stream them to the writers.

A scenario is a site, a time span, named actors and background populations
with shares of a line budget. It runs in time slices: each slice's background
is generated, the actors' events falling in it are merged in, every record
kind is sorted by time and handed to its writer. Slices keep memory bounded
(``reconwatch demo`` and a 50-million-line benchmark run the same code) and
keep timestamps ascending in every file.

Everything random comes from generators seeded with ``(seed, stable name,
slice)``, so identical arguments give byte-identical files, and one actor's
events do not depend on which other actors exist.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import zlib
from collections.abc import Collection, Mapping, Sequence
from pathlib import Path
from typing import Any, Final, Protocol

import numpy as np

from reconwatch.generate import addresses
from reconwatch.generate.actors import (
    TOP_100_TCP,
    Actor,
    BlockScanner,
    FlagScanner,
    HorizontalSweep,
    VerticalScanner,
    demo_actors,
    family_network_actors,
)
from reconwatch.generate.addresses import PublicV4Pool
from reconwatch.generate.background import (
    NOISE_MAX_HOSTS,
    NOISE_MAX_PORTS,
    Background,
    InboundClients,
    InternalClients,
    InternetNoise,
)
from reconwatch.generate.families import (
    IDS_CONTEXT,
    NETWORK,
    SHARES,
    Written,
    actor_lines,
    check_families,
    planted,
    selected,
    write_families,
)
from reconwatch.generate.family import Context
from reconwatch.generate.lookalikes import family_lookalikes, network_lookalikes
from reconwatch.generate.model import TCP, UDP, Columns, Conns, Events, Packets
from reconwatch.generate.site import DEFAULT_SITE, Site
from reconwatch.generate.truth import ActorTruth, GroundTruth
from reconwatch.generate.writers import NetfilterWriter, ZeekConnWriter, write_config

#: Default start of every sample: fixed, so demo output is the same every day.
#: It falls on a 5-minute boundary, as the actors' placement expects.
DEFAULT_START: Final = dt.datetime(2026, 9, 30, 0, 0, 0, tzinfo=dt.UTC)
#: How long the demo sample lasts.
SPAN: Final = dt.timedelta(hours=2)
#: Lines generated and formatted per slice (bounds memory to a few hundred MB).
SLICE_LINES: Final = 500_000
#: Sizes below this cannot hold the demo's named actors (1,267 lines) and a
#: little background; ``generate_sample`` refuses them.
MIN_SAMPLE_SIZE: Final = 2000
#: Tumbling windows of the detections; actors are placed relative to them.
WINDOW_US: Final = 300 * 1_000_000

#: ``families`` of :func:`generate_sample` by default: the firewall and conn.log.
NETWORK_ONLY: Final = (NETWORK,)

FIREWALL_LOG: Final = "firewall/kern.log"
ZEEK_CONN_LOG: Final = "zeek/conn.log"

_EPOCH: Final = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


class Writer(Protocol):
    """What the scenario needs of a writer (see :mod:`.writers`)."""

    lines: int

    def write(self, batch: Any) -> None: ...


def _micros(t: dt.datetime) -> int:
    if t.tzinfo is None:
        t = t.replace(tzinfo=dt.UTC)
    return (t - _EPOCH) // dt.timedelta(microseconds=1)


def _iso(micros: int) -> str:
    return (_EPOCH + dt.timedelta(microseconds=micros)).isoformat()


def _stable(name: str) -> int:
    return zlib.crc32(name.encode())


def _only(events: Events, kinds: frozenset[str]) -> Events:
    """``events`` without the record kinds nobody writes."""
    return Events(
        packets=events.packets if "packets" in kinds else Packets.empty(),
        conns=events.conns if "conns" in kinds else Conns.empty(),
    )


def _split(total: int, parts: int) -> list[int]:
    edges = np.round(np.linspace(0, total, parts + 1)).astype(np.int64)
    return [int(x) for x in np.diff(edges)]


def _actor_truth(actor: Actor, events: Events, files: Mapping[str, str]) -> ActorTruth:
    bounds = events.bounds()
    if bounds is None:
        raise ValueError(f"actor {actor.key} produced no events")
    p, c = events.packets, events.conns
    targets = {
        (int(v), int(h), int(lo))
        for v, h, lo in zip(
            np.concatenate([p.version, c.version]),
            np.concatenate([p.dst_hi, c.resp_hi]),
            np.concatenate([p.dst_lo, c.resp_lo]),
            strict=True,
        )
    }
    ported = np.isin(p.proto, [TCP, UDP])
    ports = set(p.dport[ported].tolist()) | set(c.resp_p.tolist())
    lines = {files[kind]: len(batch) for kind, batch in events.batches().items() if kind in files}
    return ActorTruth(
        address=addresses.to_text(addresses.parse(actor.address), 0),
        kind=actor.kind,
        description=actor.description,
        expected_detections=tuple(sorted(actor.expected_detections)),
        escalate=actor.escalate,
        internal=actor.internal,
        first_seen=_iso(bounds[0]),
        last_seen=_iso(bounds[1]),
        lines=lines,
        targets=len(targets),
        ports=len(ports),
        campaign=actor.campaign,
        tools=actor.tools,
    )


def run_scenario(
    *,
    site: Site,
    seed: int,
    start_us: int,
    end_us: int,
    size: int,
    writers: Mapping[str, Writer],
    files: Mapping[str, str],
    actors: Sequence[Actor],
    actors_start_us: int,
    background: Sequence[tuple[Background, float]],
    slice_lines: int = SLICE_LINES,
) -> tuple[tuple[ActorTruth, ...], dict[str, int]]:
    """Generate ``size`` data lines over ``[start_us, end_us)`` into ``writers``.

    ``writers`` maps record kinds ("packets", "conns") to writers; kinds
    without one are not generated. ``background[0]`` must produce one line
    per unit: it absorbs the rounding so the total is exactly ``size``.
    Returns the actors' truth and the background statistics.
    """
    kinds = frozenset(writers)
    actor_events = []
    truths = []
    for actor in actors:
        rng = np.random.default_rng([seed, _stable(actor.key)])
        ev = _only(actor.emit(site, rng, actors_start_us), kinds)
        bounds = ev.bounds()
        if bounds is None or bounds[0] < start_us or bounds[1] >= end_us:
            raise ValueError(f"actor {actor.key} falls outside the sample's time span")
        actor_events.append(ev)
        truths.append(_actor_truth(actor, ev, files))
    merged = Events.concat(actor_events)
    actor_lines = sum(len(b) for b in merged.batches().values())

    budget = size - actor_lines
    if budget < 0:
        raise ValueError(f"size {size} is smaller than the {actor_lines} lines of the actors")
    filler, *others = background
    if filler[0].lines(kinds) != 1:
        raise ValueError("the first background population must write one line per unit")
    total_share = sum(share for bg, share in background if bg.lines(kinds) > 0)
    units: list[int] = [0]
    for bg, share in others:
        per_unit = bg.lines(kinds)
        units.append(int(budget * share / total_share) // per_unit if per_unit else 0)
    units[0] = budget - sum(
        u * bg.lines(kinds) for u, (bg, _) in zip(units, background, strict=True)
    )

    slices = max(1, -(-size // slice_lines))
    edges = [start_us + (end_us - start_us) * k // slices for k in range(slices + 1)]
    per_slice = [_split(u, slices) for u in units]
    for k in range(slices):
        t0, t1 = edges[k], edges[k + 1]
        parts = []
        for (bg, _), counts in zip(background, per_slice, strict=True):
            rng = np.random.default_rng([seed, _stable(bg.name), k])
            parts.append(bg.emit(rng, counts[k], t0, t1, kinds))
        parts.append(merged.within(t0, t1))
        events = Events.concat(parts)
        for kind, writer in writers.items():
            batch: Columns = getattr(events, kind)
            order = np.argsort(batch.ts, kind="stable")
            writer.write(batch.take(order))
    stats: dict[str, int] = {}
    for bg, _ in background:
        stats.update(bg.stats)
    return tuple(truths), stats


def _aligned(start_us: int) -> int:
    """The first window boundary at or after ``start_us``."""
    return start_us + (-start_us) % WINDOW_US


def min_sample_size(families: Collection[str] = NETWORK_ONLY, *, lookalikes: bool = False) -> int:
    """The smallest ``size`` :func:`generate_sample` accepts for ``families``:
    :data:`MIN_SAMPLE_SIZE` for the network logs, plus the lines of the other
    families' actors and, with ``lookalikes``, of the benign look-alikes
    (none of which depend on the seed or the start)."""
    chosen = check_families(families)
    if chosen == NETWORK_ONLY and not lookalikes:
        return MIN_SAMPLE_SIZE
    start_us = _micros(DEFAULT_START)
    ctx = Context(DEFAULT_SITE, 0, start_us, start_us + _span_us(), _aligned(start_us))
    plants = planted(ctx) + (family_lookalikes(ctx) if lookalikes else [])
    extra = 0
    for actor in _network_extras(DEFAULT_SITE, chosen, lookalikes):
        events = actor.emit(DEFAULT_SITE, np.random.default_rng(0), ctx.actors_us)
        extra += sum(len(b) for b in events.batches().values())
    return MIN_SAMPLE_SIZE + extra + actor_lines(selected(plants, chosen))


def _network_extras(site: Site, chosen: Collection[str], lookalikes: bool) -> tuple[Actor, ...]:
    """Network actors beyond :func:`demo_actors`: those planted with the other
    families (none in the network-only sample, which stays as pinned), then
    the look-alikes."""
    extras = family_network_actors(site) if tuple(chosen) != NETWORK_ONLY else ()
    return extras + (network_lookalikes(site) if lookalikes else ())


def _span_us() -> int:
    return SPAN // dt.timedelta(microseconds=1)


def _truths(network: Sequence[ActorTruth], written: Written) -> tuple[ActorTruth, ...]:
    """Network actors' truth with the family actors merged in by address.

    One source is one case, so a family actor at the address of an earlier
    actor (the wordlist scanner back for SSH, IDS alerts on a scanner) adds
    its lines, time span, detections and escalation to that entry; its
    description is appended unless it is only IDS context. ``targets`` and
    ``ports`` of a merged entry stay those of its first actor.
    """
    out = list(network)
    where = {a.address: i for i, a in enumerate(out)}
    for item in written.actors:
        fam = item.actor
        address = addresses.to_text(addresses.parse(fam.address), 0)
        if address in where:
            old = out[where[address]]
            lines = dict(old.lines)
            for file, n in item.lines.items():
                lines[file] = lines.get(file, 0) + n
            description = old.description
            if fam.kind != IDS_CONTEXT and fam.description:
                description = f"{description}; {fam.description}"
            out[where[address]] = dataclasses.replace(
                old,
                description=description,
                expected_detections=tuple(
                    sorted(set(old.expected_detections) | set(fam.expected_detections))
                ),
                escalate=old.escalate or fam.escalate,
                first_seen=min(old.first_seen, _iso(item.first_us)),
                last_seen=max(old.last_seen, _iso(item.last_us)),
                lines=lines,
                tools=tuple(sorted(set(old.tools) | set(fam.tools))),
                resolved_then_probed=old.resolved_then_probed or fam.resolved_then_probed,
            )
            continue
        where[address] = len(out)
        out.append(
            ActorTruth(
                address=address,
                kind=fam.kind,
                description=fam.description,
                expected_detections=tuple(sorted(fam.expected_detections)),
                escalate=fam.escalate,
                internal=fam.internal,
                first_seen=_iso(item.first_us),
                last_seen=_iso(item.last_us),
                lines=dict(item.lines),
                targets=fam.targets,
                ports=fam.ports,
                tools=tuple(sorted(fam.tools)),
                resolved_then_probed=fam.resolved_then_probed,
            )
        )
    return tuple(out)


def generate_sample(
    out_dir: Path,
    *,
    size: int = 20000,
    seed: int = 7,
    start: dt.datetime | None = None,
    families: Collection[str] = NETWORK_ONLY,
    lookalikes: bool = False,
) -> GroundTruth:
    """Write the demo sample into ``out_dir`` and return its ground truth.

    Files of the ``network`` family (always written): ``firewall/kern.log``
    (netfilter LOG lines of the border firewall) and ``zeek/conn.log`` (the
    internal sensor). :data:`ALL_FAMILIES` adds ``dns/query.log`` and
    ``zeek/dns.log`` (``dns``), ``web/access.log`` (``web``),
    ``ids/eve.json`` (``ids``) and ``auth/auth.log`` (``auth``), each with
    background and planted actors. Always: ``reconwatch.yaml`` (home networks
    and syslog year of the sample site) and ``truth.json``.

    ``size`` is the exact number of data lines over every log written. With
    the network alone, 1,267 belong to the named actors and the rest is
    background, exactly as before the other families existed (the files are
    byte for byte the same, which is why the network alone is the default).
    With more families, the network logs also hold the actors of
    :func:`.actors.family_network_actors` (a recon chain's scan, a coordinated
    scan, a traffic spike, zmap), each family gets its actors' lines plus a
    share (:data:`.families.SHARES`) of the lines beyond
    :func:`min_sample_size`, and the network logs take the rest. ``start``
    (UTC; naive means UTC) defaults to :data:`DEFAULT_START`; the sample
    lasts :data:`SPAN`.

    ``lookalikes`` adds the benign look-alikes of :mod:`.lookalikes` (NAT
    gateway, monitoring, an internal vulnerability scanner, crawlers, CDN
    health checks, a mail server's PTR lookups, a forwarding resolver) after
    the other actors, for the detection quality benchmark. They are off by
    default so the default files stay what the tests pin; the DNS and web
    ones need the ``dns`` and ``web`` families.
    """
    chosen = check_families(families)
    minimum = min_sample_size(chosen, lookalikes=lookalikes)
    if size < minimum:
        raise ValueError(f"size must be at least {minimum} lines, not {size}")
    site = DEFAULT_SITE
    start = start or DEFAULT_START
    start_us = _micros(start)
    end_us = start_us + _span_us()
    out_dir.mkdir(parents=True, exist_ok=True)
    ctx = Context(site, seed, start_us, end_us, _aligned(start_us))
    every = planted(ctx) + (family_lookalikes(ctx) if lookalikes else [])
    plants = selected(every, chosen) if chosen != NETWORK_ONLY else []
    excess = size - minimum
    budget = {fam: int(excess * share) for fam, share in SHARES.items() if fam in chosen}
    written = write_families(out_dir, ctx, chosen, plants, budget)
    network_size = size - sum(written.files.values())
    files = {"packets": FIREWALL_LOG, "conns": ZEEK_CONN_LOG}
    background: list[tuple[Background, float]] = [
        (InternetNoise(site, seed), 0.35),
        (InboundClients(site, seed), 0.40),
        (InternalClients(site, seed), 0.25),
    ]
    netfilter = NetfilterWriter(out_dir / FIREWALL_LOG, site, start_us)
    zeek = ZeekConnWriter(out_dir / ZEEK_CONN_LOG, start_us, seed)
    with netfilter, zeek:
        actors, stats = run_scenario(
            site=site,
            seed=seed,
            start_us=start_us,
            end_us=end_us,
            size=network_size,
            writers={"packets": netfilter, "conns": zeek},
            files=files,
            actors=demo_actors(site) + _network_extras(site, chosen, lookalikes),
            actors_start_us=_aligned(start_us),
            background=background,
        )
        zeek.finish(end_us)
    year = (_EPOCH + dt.timedelta(microseconds=start_us)).year
    write_config(out_dir / "reconwatch.yaml", site, year, seed=seed)
    truth = GroundTruth(
        seed=seed,
        size=size,
        start=_iso(start_us),
        end=_iso(end_us),
        home_networks=site.home_networks,
        files={FIREWALL_LOG: netfilter.lines, ZEEK_CONN_LOG: zeek.lines, **written.files},
        background={
            **stats,
            **written.stats,
            "noise_max_hosts": NOISE_MAX_HOSTS,
            "noise_max_ports": NOISE_MAX_PORTS,
        },
        actors=_truths(actors, written),
    )
    (out_dir / "truth.json").write_text(truth.to_json(), encoding="utf-8")
    return truth


def bench_actors(
    site: Site, seed: int, count: int, start_us: int, duration_us: int
) -> tuple[Actor, ...]:
    """``count`` scanners for the benchmark: vertical, horizontal, block and flag in turn.

    Sources are unique realistic public addresses (a pool disjoint from the
    background's); each scanner acts once, at a random time, targets chosen
    at random in the public range.
    """
    rng = np.random.default_rng([seed, _stable("bench-actors")])
    pool = PublicV4Pool(seed, role=3).take(count)
    net = int(addresses.parse(site.public_v4.split("/")[0]).lo[0])
    reserve = 150 * 1_000_000
    latest = max(1, duration_us - reserve)
    at = np.sort(rng.integers(0, latest, size=count)) / 1e6
    out: list[Actor] = []
    for i in range(count):
        address = addresses.to_text(addresses.v4([int(pool[i])]), 0)
        host = addresses.to_text(addresses.v4([net + int(rng.integers(1, 255))]), 0)
        when = float(at[i])
        kind = i % 4
        if kind == 0:
            out.append(VerticalScanner(address, target=host, runs=(when,), ports=TOP_100_TCP))
        elif kind == 1:
            port = int(rng.choice([22, 23, 445, 3389, 5900, 8080]))
            out.append(HorizontalSweep(address, network=site.public_v4, port=port, at=when))
        elif kind == 2:
            first = int(rng.integers(1, 247))
            hosts = tuple(addresses.to_text(addresses.v4([net + first + j]), 0) for j in range(8))
            out.append(BlockScanner(address, hosts=hosts, at=when))
        else:
            out.append(FlagScanner(address, target=host, at=when))
    return tuple(out)


def write_netfilter_lines(
    path: Path,
    n: int,
    seed: int = 7,
    scanners: int = 100,
    *,
    start: dt.datetime | None = None,
    lines_per_second: float = 2000.0,
    chunk_lines: int = SLICE_LINES,
) -> GroundTruth:
    """Write exactly ``n`` netfilter LOG lines to ``path``, ``scanners`` scanners hidden in them.

    The background is internet noise (each source capped as in the demo) and
    accepted client connections, from millions of distinct sources; scanners
    cycle through vertical, horizontal, block and flag scans. Lines are
    generated and written ``chunk_lines`` at a time, so memory stays bounded
    for any ``n``. The span is ``n / lines_per_second`` seconds (at least
    10 minutes). Returns the ground truth (file key: ``path.name``).
    """
    site = DEFAULT_SITE
    start_us = _micros(start or DEFAULT_START)
    duration_us = max(round(n / lines_per_second * 1_000_000), 600 * 1_000_000)
    end_us = start_us + duration_us
    files = {"packets": path.name}
    background: list[tuple[Background, float]] = [
        (InternetNoise(site, seed), 0.6),
        (InboundClients(site, seed), 0.4),
    ]
    with NetfilterWriter(path, site, start_us) as netfilter:
        actors, stats = run_scenario(
            site=site,
            seed=seed,
            start_us=start_us,
            end_us=end_us,
            size=n,
            writers={"packets": netfilter},
            files=files,
            actors=bench_actors(site, seed, scanners, start_us, duration_us),
            actors_start_us=start_us,
            background=background,
            slice_lines=chunk_lines,
        )
    return GroundTruth(
        seed=seed,
        size=n,
        start=_iso(start_us),
        end=_iso(end_us),
        home_networks=site.home_networks,
        files={path.name: netfilter.lines},
        background={
            **stats,
            "noise_max_hosts": NOISE_MAX_HOSTS,
            "noise_max_ports": NOISE_MAX_PORTS,
        },
        actors=actors,
    )
