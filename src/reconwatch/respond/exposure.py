"""The playbook's network audit: what did the reconnaissance actually learn?

Blocking an actor stops the next probe; it does not undo what the earlier ones
revealed. So for the actors of the cases this module lists, from the lake:

* **services that answered**: network events from the actor that the firewall
  allowed or that succeeded (a handshake completed), per destination
  address, port and transport;
* **web paths that answered**: HTTP 2xx and 3xx responses to the actor (a 404
  reveals little; a 200 on ``/admin`` or a 301 to a login page a lot);
* **what DNS revealed**: answers our resolvers gave the actor, flagging
  internal addresses (RFC 1918, RFC 6598, IPv6 ULA and other non-global
  ranges) handed to an external client, and the names PTR answers revealed;
* **zones handed over**: zone transfers (AXFR/IXFR) our DNS servers gave
  an actor that is not an authorised secondary: every name and address of
  the zone, the most complete answer reconnaissance can get;
* **services nobody listed**: with an asset inventory (CSV ``ip, port, proto,
  service, owner``), every exposed service the inventory does not name is
  flagged: an unknown service answering a scanner is the finding that
  matters most.

The queries filter and aggregate in the engine (Ibis over DuckDB) per actor
set, never per line; only the small aggregated result comes back to Python.
Everything from logs is shown through :func:`reconwatch.report.text.markdown`.
"""

from __future__ import annotations

import csv
import ipaddress
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import ibis.expr.types as ir

from reconwatch.cases import ZoneTransfer, zone_transfers_given
from reconwatch.files import write_text_atomic
from reconwatch.netaddr import parse_ip
from reconwatch.report.casejson import zone_transfer_dict
from reconwatch.report.text import markdown

#: Cap on each list per actor in the report (counts stay exact).
LIST_CAP: Final = 200

INVENTORY_COLUMNS: Final = ("ip", "port", "proto", "service", "owner")


@dataclass(frozen=True)
class InventoryItem:
    """One row of the asset inventory; ``port``/``proto`` None = the whole host."""

    ip: str
    port: int | None
    proto: str | None
    service: str
    owner: str


@dataclass
class ExposedService:
    """One of our services that answered at least one actor."""

    ip: str
    port: int | None
    proto: str
    actors: list[str] = field(default_factory=list)
    events: int = 0
    #: "succeeded" (a connection completed or a web response) or "allowed"
    #: (the firewall let it through; whether it was answered is unknown).
    evidence: str = "allowed"
    #: From the inventory: None without an inventory, else listed or not.
    listed: bool | None = None
    service: str = ""
    owner: str = ""

    def key(self) -> tuple[str, int | None, str]:
        return (self.ip, self.port, self.proto)

    def label(self) -> str:
        host = f"[{self.ip}]" if ":" in self.ip else self.ip
        return (
            f"{host}:{self.port}/{self.proto}" if self.port is not None else f"{host}/{self.proto}"
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "service": self.label(),
            "ip": self.ip,
            "port": self.port,
            "proto": self.proto,
            "actors": self.actors,
            "events": self.events,
            "evidence": self.evidence,
            "listed": self.listed,
            "inventory_service": self.service,
            "owner": self.owner,
        }


@dataclass(frozen=True)
class WebAnswer:
    """A web path that answered an actor with 2xx/3xx."""

    actor: str
    host: str
    path: str
    status: int
    count: int


@dataclass(frozen=True)
class DnsReveal:
    """One DNS answer given to an actor."""

    actor: str
    name: str
    qtype: str
    answer: str
    #: The answer is an address outside the global unicast space (RFC 1918,
    #: RFC 6598, ULA, ...): an internal address handed to an outside client.
    internal: bool


@dataclass
class ActorExposure:
    """What one actor learnt."""

    actor: str
    services: list[ExposedService] = field(default_factory=list)
    web: list[WebAnswer] = field(default_factory=list)
    dns: list[DnsReveal] = field(default_factory=list)
    zone_transfers: list[ZoneTransfer] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "services": [s.label() for s in self.services],
            "web": [
                {"host": w.host, "path": w.path, "status": w.status, "count": w.count}
                for w in self.web
            ],
            "dns": [
                {"name": d.name, "type": d.qtype, "answer": d.answer, "internal": d.internal}
                for d in self.dns
            ],
            "internal_addresses": sorted({d.answer for d in self.dns if d.internal}),
            "ptr_names": sorted({d.answer for d in self.dns if d.qtype == "PTR"}),
            "zone_transfers": [zone_transfer_dict(t) for t in self.zone_transfers],
        }


@dataclass
class ExposureReport:
    """The audit: per actor, per case, and overall."""

    actors: dict[str, ActorExposure]
    services: list[ExposedService]
    cases: dict[str, list[str]]
    inventory_used: bool

    def unlisted(self) -> list[ExposedService]:
        """Exposed services the inventory does not name (empty without inventory)."""
        return [s for s in self.services if s.listed is False]

    def internal_leaks(self) -> list[DnsReveal]:
        return [d for a in self.actors.values() for d in a.dns if d.internal]

    def zone_transfers(self) -> list[ZoneTransfer]:
        """Every zone transfer given to an actor, by actor, first first."""
        return [t for _, a in sorted(self.actors.items()) for t in a.zone_transfers]

    def to_dict(self) -> dict[str, Any]:
        return {
            "inventory": self.inventory_used,
            "services": [s.to_dict() for s in self.services],
            "unlisted": [s.label() for s in self.unlisted()],
            "internal_leaks": [
                {"actor": d.actor, "name": d.name, "answer": d.answer}
                for d in self.internal_leaks()
            ],
            "zone_transfers": [zone_transfer_dict(t) for t in self.zone_transfers()],
            "actors": {a: e.to_dict() for a, e in sorted(self.actors.items())},
            "cases": {
                cid: {
                    "actors": actors,
                    "services": sorted(
                        {
                            s
                            for a in actors
                            if a in self.actors
                            for s in self.actors[a].to_dict()["services"]
                        }
                    ),
                }
                for cid, actors in sorted(self.cases.items())
            },
        }


def load_inventory(path: Path) -> list[InventoryItem]:
    """Read the asset inventory CSV (header ``ip,port,proto,service,owner``).

    ``port`` and ``proto`` may be empty (the entry then covers the whole
    host). A malformed row raises ``ValueError`` naming its line: an
    inventory that silently loses rows would flag services that are listed.
    """
    items: list[InventoryItem] = []
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        missing = [c for c in ("ip",) if c not in (reader.fieldnames or [])]
        if missing:
            raise ValueError(f"{path}: inventory header needs an ip column")
        for number, row in enumerate(reader, start=2):
            try:
                ip = str(parse_ip((row.get("ip") or "").strip()))
                port_text = (row.get("port") or "").strip()
                port = int(port_text) if port_text else None
                if port is not None and not 0 <= port <= 65535:
                    raise ValueError("port out of range")
            except ValueError as exc:
                raise ValueError(f"{path}:{number}: {exc}") from None
            proto = (row.get("proto") or "").strip().lower() or None
            items.append(
                InventoryItem(
                    ip=ip,
                    port=port,
                    proto=proto,
                    service=(row.get("service") or "").strip(),
                    owner=(row.get("owner") or "").strip(),
                )
            )
    return items


def _is_internal(text: str) -> bool:
    try:
        address = parse_ip(text)
    except ValueError:
        return False
    return not address.is_global and not address.is_loopback


def _canonical(text: str) -> str:
    try:
        return str(parse_ip(text))
    except ValueError:
        return text


def _network_services(network: ir.Table, actors: list[str]) -> list[dict[str, Any]]:
    events = network.filter(
        network.source_ip.isin(actors)
        & ((network.connection_outcome == "succeeded") | (network.event_action == "allowed"))
    )
    grouped = events.group_by(
        ["source_ip", "destination_ip", "destination_port", "network_transport"]
    ).aggregate(
        events=events.count(),
        succeeded=(events.connection_outcome == "succeeded").ifelse(1, 0).sum(),
    )
    rows: list[dict[str, Any]] = grouped.to_pyarrow().to_pylist()
    return rows


def _web_answers(http: ir.Table, actors: list[str]) -> list[dict[str, Any]]:
    status = http.http_response_status_code
    answered = http.filter(http.source_ip.isin(actors) & (status >= 200) & (status < 400))
    grouped = answered.group_by(
        [
            "source_ip",
            "destination_ip",
            "destination_port",
            "url_domain",
            "url_path",
            status.name("status"),
        ]
    ).aggregate(count=answered.count())
    rows: list[dict[str, Any]] = grouped.to_pyarrow().to_pylist()
    return rows


def _dns_answers(dns: ir.Table, actors: list[str]) -> list[dict[str, Any]]:
    answered = dns.filter(
        dns.source_ip.isin(actors) & dns.dns_answers.notnull() & (dns.dns_answers.length() > 0)
    )
    distinct = answered.select(
        "source_ip", "dns_question_name", "dns_question_type", "dns_answers"
    ).distinct()
    rows: list[dict[str, Any]] = distinct.to_pyarrow().to_pylist()
    return rows


def exposure_audit(
    tables: Mapping[str, ir.Table],
    actors: Sequence[str],
    inventory: Path | Sequence[InventoryItem] | None = None,
    *,
    cases: Mapping[str, Sequence[str]] | None = None,
    exposes: Callable[[ZoneTransfer], bool] | None = None,
) -> ExposureReport:
    """The exposure of ``actors`` (source addresses) over the lake ``tables``.

    ``tables`` is :meth:`reconwatch.engine.Engine.tables` (or memtables in
    tests); absent tables are simply not audited. ``cases`` maps case ids to
    their sources for the per-case summary. ``exposes`` (``triage.exposes``:
    not to an authorised secondary, not our host pulling from outside) tells
    the zone transfers that exposed a zone of ours; by default every one.
    """
    wanted = sorted({_canonical(a) for a in actors})
    per_actor = {a: ActorExposure(a) for a in wanted}
    services: dict[tuple[str, int | None, str], ExposedService] = {}

    def service(ip: str, port: int | None, proto: str) -> ExposedService:
        key = (_canonical(ip), port, proto)
        if key not in services:
            services[key] = ExposedService(*key)
        return services[key]

    if wanted and "network" in tables:
        for row in _network_services(tables["network"], wanted):
            item = service(
                row["destination_ip"], row["destination_port"], row["network_transport"] or "ip"
            )
            item.events += row["events"]
            if row["succeeded"]:
                item.evidence = "succeeded"
            if row["source_ip"] not in item.actors:
                item.actors.append(row["source_ip"])
    if wanted and "http" in tables:
        for row in _web_answers(tables["http"], wanted):
            actor = row["source_ip"]
            host = row["url_domain"] or row["destination_ip"] or ""
            per_actor[actor].web.append(
                WebAnswer(actor, host, row["url_path"] or "", int(row["status"]), row["count"])
            )
            if row["destination_ip"]:
                item = service(row["destination_ip"], row["destination_port"], "tcp")
                item.events += row["count"]
                item.evidence = "succeeded"
                if actor not in item.actors:
                    item.actors.append(actor)
    if wanted and "dns" in tables:
        for row in _dns_answers(tables["dns"], wanted):
            for answer in row["dns_answers"] or []:
                if not answer:
                    continue
                per_actor[row["source_ip"]].dns.append(
                    DnsReveal(
                        actor=row["source_ip"],
                        name=row["dns_question_name"] or "",
                        qtype=row["dns_question_type"] or "",
                        answer=_canonical(answer),
                        internal=_is_internal(answer),
                    )
                )

    if wanted and "dns" in tables:
        dns = tables["dns"]
        for transfer in zone_transfers_given(dns.filter(dns.source_ip.isin(wanted))):
            given = per_actor[transfer.source].zone_transfers
            if (exposes is None or exposes(transfer)) and len(given) < LIST_CAP:
                given.append(transfer)

    items: list[InventoryItem] = (
        load_inventory(inventory) if isinstance(inventory, Path) else list(inventory or [])
    )
    if inventory is not None:
        for item in services.values():
            match = _inventory_match(item, items)
            item.listed = match is not None
            if match is not None:
                item.service, item.owner = match.service, match.owner

    ordered = sorted(
        services.values(),
        key=lambda s: (_sort_ip(s.ip), s.port if s.port is not None else -1, s.proto),
    )
    for item in ordered:
        item.actors.sort()
        for actor in item.actors:
            if len(per_actor[actor].services) < LIST_CAP:
                per_actor[actor].services.append(item)
    for exposure in per_actor.values():
        exposure.web.sort(key=lambda w: (w.host, w.path, w.status))
        del exposure.web[LIST_CAP:]
        exposure.dns.sort(key=lambda d: (d.name, d.qtype, d.answer))
        del exposure.dns[LIST_CAP:]
    case_map = {cid: sorted({_canonical(s) for s in src}) for cid, src in (cases or {}).items()}
    return ExposureReport(
        actors=per_actor, services=ordered, cases=case_map, inventory_used=inventory is not None
    )


def _sort_ip(text: str) -> tuple[int, int, str]:
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return (9, 0, text)
    return (address.version, int(address), "")


def _inventory_match(
    item: ExposedService, inventory: Sequence[InventoryItem]
) -> InventoryItem | None:
    for entry in inventory:
        if entry.ip != item.ip:
            continue
        if entry.port is not None and entry.port != item.port:
            continue
        if entry.proto is not None and entry.proto != item.proto:
            continue
        return entry
    return None


def render_markdown(report: ExposureReport) -> str:
    """``exposure.md``: overall findings first, then one section per actor."""
    lines = ["# Exposure audit", ""]
    unlisted = report.unlisted()
    leaks = report.internal_leaks()
    transfers = report.zone_transfers()
    lines += [
        f"- Services that answered the actors: {len(report.services)}",
        f"- Not in the asset inventory: {len(unlisted)}"
        if report.inventory_used
        else "- Asset inventory: none given (no service could be checked against it)",
        f"- Internal addresses revealed by DNS: {len({d.answer for d in leaks})}",
        f"- Zones handed over by zone transfer: {len({t.zone for t in transfers})}",
        "",
    ]
    if transfers:
        lines += [
            "## Zones handed over by zone transfer",
            "",
            "Every name and address in these zones is now known to the actor. Allow "
            "transfers to the secondaries only (BIND `allow-transfer`, Windows DNS "
            '"Only to servers listed on the Name Servers tab", CoreDNS `transfer { to ... }`) '
            "and review what the zones reveal (internal hosts, test systems, names that "
            "give away roles).",
            "",
        ]
        lines += [f"- {markdown(t.describe(), 400)}" for t in transfers]
        lines.append("")
    if unlisted:
        lines += ["## Exposed services nobody listed", ""]
        lines += [
            f"- **{markdown(s.label())}** answered {', '.join(markdown(a) for a in s.actors)} "
            f"({s.events} events, {s.evidence})"
            for s in unlisted
        ]
        lines.append("")
    if leaks:
        lines += ["## Internal addresses handed to outside clients", ""]
        lines += [
            f"- {markdown(d.name)} {markdown(d.qtype)} -> **{markdown(d.answer)}** "
            f"(asked by {markdown(d.actor)})"
            for d in leaks
        ]
        lines.append("")
    if report.services:
        lines += [
            "## Services that answered",
            "",
            "| service | evidence | events | actors | inventory |",
            "|---|---|---|---|---|",
        ]
        for s in report.services:
            listed = (
                "-"
                if s.listed is None
                else (
                    f"{markdown(s.service) or 'listed'} ({markdown(s.owner) or 'no owner'})"
                    if s.listed
                    else "**not listed**"
                )
            )
            lines.append(
                f"| {markdown(s.label())} | {s.evidence} | {s.events} | "
                f"{', '.join(markdown(a) for a in s.actors)} | {listed} |"
            )
        lines.append("")
    for actor, exposure in sorted(report.actors.items()):
        if not (exposure.services or exposure.web or exposure.dns or exposure.zone_transfers):
            continue
        lines += [f"## Actor {markdown(actor)}", ""]
        if exposure.services:
            lines.append("Services: " + ", ".join(markdown(s.label()) for s in exposure.services))
        lines += [
            f"- web {w.status} {markdown(w.host)}{markdown(w.path)} (x{w.count})"
            for w in exposure.web
        ]
        lines += [
            f"- dns {markdown(d.name)} {markdown(d.qtype)} -> {markdown(d.answer)}"
            + (" **internal**" if d.internal else "")
            for d in exposure.dns
        ]
        lines += [f"- zone transfer {markdown(t.describe(), 400)}" for t in exposure.zone_transfers]
        lines.append("")
    return "\n".join(lines).rstrip("\n") + "\n"


__all__ = [
    "ActorExposure",
    "DnsReveal",
    "ExposedService",
    "ExposureReport",
    "InventoryItem",
    "WebAnswer",
    "exposure_audit",
    "load_inventory",
    "render_markdown",
    "write_exposure_files",
]


EXPOSURE_MD: Final = "exposure.md"
EXPOSURE_JSON: Final = "exposure.json"


def write_exposure_files(report: ExposureReport, out_dir: Path) -> dict[str, Path]:
    """``exposure.md`` (for people) and ``exposure.json`` (for scripts)."""
    markdown_path = out_dir / EXPOSURE_MD
    write_text_atomic(markdown_path, render_markdown(report))
    json_path = out_dir / EXPOSURE_JSON
    write_text_atomic(json_path, json.dumps(report.to_dict(), indent=2) + "\n")
    return {"exposure": markdown_path, "exposure_json": json_path}
