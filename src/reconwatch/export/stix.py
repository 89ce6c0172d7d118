"""Cases as a STIX 2.1 bundle, built and checked by the ``stix2`` library.

What is in it (docs/exports.md has the table):

- an ``identity`` for the SOC, the ``where_sighted_refs`` of every sighting;
- per source address an ``ipv4-addr``/``ipv6-addr`` SCO, and per case one
  ``observed-data`` referencing the case's sources (what was seen, when, how
  many events);
- an ``indicator`` (pattern ``[ipv4-addr:value = '…']``) for each source that
  containment would block, a ``sighting`` of it by the SOC, and ``indicates``
  relationships to the techniques' ``attack-pattern``s; a rotating IPv6
  scanner's case has one indicator for its /64 (``ISSUBSET``) instead, as its
  block is the /64 and its next probe will come from a new address;
- a ``threat-actor`` for every actor named by matching threat intelligence,
  with ``indicates`` from the indicator and ``attributed-to`` from the
  ``campaign`` when the case is a coordinated campaign.

Ids are uuid5 of stable keys (case id, address, technique, actor name), so a
re-export of the same cases keeps every id; an object that changed gets a
later ``modified``, which is how STIX versions an object.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
from collections.abc import Mapping
from typing import Any, Final

from reconwatch.enrich.intel import untyped_import
from reconwatch.export import DEFAULT_SOC
from reconwatch.export import document as doc

stix2: Any = untyped_import("stix2")

#: ``created``/``modified`` of the shared reference objects (SOC identity,
#: attack patterns, threat actors): fixed, so every export emits the very
#: same version of them instead of a conflicting one.
REFERENCE_TIME: Final = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def _id(kind: str, *key: str) -> str:
    return f"{kind}--{doc.stable_uuid(kind, *key)}"


def _kill_chain(technique: str) -> list[Any]:
    return [
        stix2.KillChainPhase(kill_chain_name="mitre-attack", phase_name=doc.tactic(technique)[2])
    ]


def attack_pattern(technique: str) -> Any:
    return stix2.AttackPattern(
        id=_id("attack-pattern", technique),
        created=REFERENCE_TIME,
        modified=REFERENCE_TIME,
        name=doc.full_technique_name(technique),
        external_references=[
            stix2.ExternalReference(
                source_name="mitre-attack",
                external_id=technique,
                url=doc.technique_url(technique),
            )
        ],
        kill_chain_phases=_kill_chain(technique),
        allow_custom=False,
    )


def _address(value: str) -> Any:
    cls = stix2.IPv4Address if doc.ip_version(value) == 4 else stix2.IPv6Address
    return cls(value=value, allow_custom=False)


def _pattern(value: str) -> str:
    # ``value`` was parsed by ipaddress (document.check_document): no quote or
    # bracket can reach the pattern.
    kind = "ipv4-addr" if doc.ip_version(value) == 4 else "ipv6-addr"
    return f"[{kind}:value = '{value}']"


def _subnet_pattern(network: str) -> str:
    # ``network`` was parsed by ipaddress (document.rotating_network).
    return f"[ipv6-addr:value ISSUBSET '{network}']"


class _Bundle:
    """Objects by id: shared objects (attack patterns, actors) are added once."""

    def __init__(self) -> None:
        self.objects: dict[str, Any] = {}

    def add(self, obj: Any) -> Any:
        self.objects.setdefault(obj.id, obj)
        return self.objects[obj.id]


def _case_objects(
    case: Mapping[str, Any], identity: Any, exported: dt.datetime, out: _Bundle
) -> None:
    first = doc.parse_time(case["first_seen"])
    last = max(doc.parse_time(case["last_seen"]), first)
    modified = max(exported, first)
    case_id = case["id"]
    techniques = [str(t) for t in case.get("techniques") or []]
    patterns = [out.add(attack_pattern(t)) for t in techniques]

    addresses = {s: out.add(_address(s)) for s in case["sources"]}
    observed = out.add(
        stix2.ObservedData(
            id=_id("observed-data", case_id),
            created=first,
            modified=modified,
            created_by_ref=identity.id,
            first_observed=first,
            last_observed=last,
            number_observed=min(doc.event_count(case), 999_999_999),
            object_refs=[a.id for a in addresses.values()],
            labels=["reconwatch", f"case:{case_id}"],
            allow_custom=False,
        )
    )

    actor_objects = {
        name: out.add(
            stix2.ThreatActor(
                id=_id("threat-actor", name),
                created=REFERENCE_TIME,
                modified=REFERENCE_TIME,
                name=name,
                threat_actor_types=["unknown"],
                allow_custom=False,
            )
        )
        for name in doc.actors(case)
    }
    matched: dict[str, set[str]] = {}
    for source, match in doc.intel_matches(case):
        if match.get("actor"):
            matched.setdefault(source, set()).add(str(match["actor"]))

    network = doc.rotating_network(case)
    campaign = None
    if case.get("campaign"):
        campaign = out.add(
            stix2.Campaign(
                id=_id("campaign", str(case["campaign"])),
                created=first,
                modified=modified,
                created_by_ref=identity.id,
                name=f"Rotating IPv6 scan from {network}"
                if network
                else f"Coordinated scan {case['campaign']}",
                # One label per port, /24 and hour the sweep covered.
                description=doc.sweeps_named(case),
                first_seen=first,
                last_seen=last,
                allow_custom=False,
            )
        )
        for actor in actor_objects.values():
            out.add(_relationship("attributed-to", campaign, actor, first, modified, identity))

    single = len(case["sources"]) == 1
    phases = [
        stix2.KillChainPhase(kill_chain_name="mitre-attack", phase_name=name)
        for name in dict.fromkeys(doc.tactic(t)[2] for t in techniques)
    ]
    containment = case.get("containment")
    timeout = containment.get("timeout_seconds") if isinstance(containment, dict) else None
    # Our blocks expire (respond/containment.py): so does the indicator.
    valid_until = None
    if isinstance(timeout, int) and timeout > 0:
        try:
            valid_until = last + dt.timedelta(seconds=timeout)
        except OverflowError:  # past year 9999 (a hand edit): as good as never
            valid_until = None
    summary = ", ".join(str(d) for d in case.get("detections") or [])
    blocked = doc.blocked_sources(case)
    # What one indicator stands for: an address, or the /64 a rotating scanner
    # draws its addresses from (with the members whose intel it carries), when
    # containment blocked that /64 and not just the addresses (a protected
    # range inside it, ``respond.ipv6_prefix: 128``): the indicator says what
    # to block, and must not ask for more than our own block.
    indicated: dict[str, list[str]] = {source: [source] for source in blocked}
    if network and doc.network_blocked(case, network):
        net = ipaddress.ip_network(network)
        inside = [s for s in blocked if ipaddress.ip_address(s) in net]
        if inside:
            indicated = {network: inside, **{s: [s] for s in blocked if s not in inside}}
    for key, members in indicated.items():
        indicator = out.add(
            stix2.Indicator(
                id=_id("indicator", key),
                created=first,
                modified=modified,
                created_by_ref=identity.id,
                name=f"Reconnaissance from {key} ({len(members)} addresses seen)"
                if key == network
                else f"Reconnaissance source {key}",
                description=f"reconwatch case {case_id} ({case.get('disposition')}): {summary}",
                indicator_types=["malicious-activity"]
                if case.get("disposition") == "malicious"
                else ["anomalous-activity"],
                pattern=_subnet_pattern(key) if key == network else _pattern(key),
                pattern_type="stix",
                valid_from=first,
                valid_until=valid_until,
                kill_chain_phases=phases or None,
                labels=["reconwatch", f"severity:{case.get('severity')}"],
                allow_custom=False,
            )
        )
        sighting: dict[str, Any] = {
            "id": _id("sighting", case_id, key),
            "created": first,
            "modified": modified,
            "created_by_ref": identity.id,
            "sighting_of_ref": indicator.id,
            "first_seen": first,
            "last_seen": last,
            "where_sighted_refs": [identity.id],
            "observed_data_refs": [observed.id],
        }
        # Findings do not split events between the members of a campaign, so
        # a count is given only when the case has one source.
        if single:
            sighting["count"] = min(doc.event_count(case), 999_999_999)
        out.add(stix2.Sighting(**sighting, allow_custom=False))
        for pattern in patterns:
            out.add(_relationship("indicates", indicator, pattern, first, modified, identity))
        for name in sorted(set().union(*(matched.get(m, set()) for m in members))):
            out.add(
                _relationship(
                    "indicates", indicator, actor_objects[name], first, modified, identity
                )
            )
        if campaign is not None:
            out.add(_relationship("indicates", indicator, campaign, first, modified, identity))


def _relationship(
    kind: str, source: Any, target: Any, created: dt.datetime, modified: dt.datetime, by: Any
) -> Any:
    return stix2.Relationship(
        id=_id("relationship", kind, source.id, target.id),
        created=created,
        modified=modified,
        created_by_ref=by.id,
        relationship_type=kind,
        source_ref=source.id,
        target_ref=target.id,
        allow_custom=False,
    )


def identity(soc_name: str = DEFAULT_SOC) -> Any:
    return stix2.Identity(
        id=_id("identity", soc_name),
        created=REFERENCE_TIME,
        modified=REFERENCE_TIME,
        name=soc_name,
        identity_class="organization",
        allow_custom=False,
    )


def to_bundle(document: Mapping[str, Any], soc_name: str = DEFAULT_SOC) -> Any:
    """The ``stix2.Bundle`` of a checked cases document."""
    soc = identity(soc_name)
    out = _Bundle()
    out.add(soc)
    exported = doc.generated_at(document)
    for case in document["cases"]:
        _case_objects(case, soc, exported, out)
    key = ",".join(sorted(str(c["id"]) for c in document["cases"]))
    return stix2.Bundle(
        id=_id("bundle", key, exported.isoformat()),
        objects=list(out.objects.values()),
        allow_custom=False,
    )


def export_stix(document: Mapping[str, Any], soc_name: str = DEFAULT_SOC) -> str:
    """The bundle as indented JSON text."""
    bundle = to_bundle(document, soc_name)
    return json.dumps(json.loads(bundle.serialize()), indent=2, ensure_ascii=False) + "\n"
