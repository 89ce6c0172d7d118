"""Cases as ECS alert documents, NDJSON for the Elasticsearch/OpenSearch ``_bulk`` API.

One alert per case and source address (ECS ``source.ip`` holds one address,
so a campaign of five sources gives five alerts sharing ``event.id``); its
``related.ip`` names the source, up to :data:`RELATED_SOURCES` other sources
of the case, and the hosts it probed. Each
alert is an action line ``{"create": {"_index": ..., "_id": ...}}`` then the
document; the ``_id`` is a uuid5 of case and source, so sending the same
export twice makes Elasticsearch answer 409 for the duplicates instead of
storing them again.

:data:`ECS_FIELDS` lists every field written with its ECS type, taken from
the ECS 8.12 field reference (the ECS repository's generated
``fields.csv``); the tests check every emitted field against it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any, Final

from reconwatch import __version__
from reconwatch.export import DEFAULT_INDEX
from reconwatch.export import document as doc
from reconwatch.export.sigma import rule_id

ECS_VERSION: Final = "8.12.0"

#: Every field this exporter writes -> its ECS type (ECS 8.12 reference).
#: ``labels`` is an object whose values are keywords.
ECS_FIELDS: Final[dict[str, str]] = {
    "@timestamp": "date",
    "message": "match_only_text",
    "tags": "keyword",
    "labels": "object",
    "ecs.version": "keyword",
    "event.kind": "keyword",
    "event.category": "keyword",
    "event.type": "keyword",
    "event.severity": "long",
    "event.risk_score": "float",
    "event.risk_score_norm": "float",
    "event.id": "keyword",
    "event.action": "keyword",
    "event.module": "keyword",
    "event.dataset": "keyword",
    "event.provider": "keyword",
    "event.reason": "keyword",
    "event.created": "date",
    "event.start": "date",
    "event.end": "date",
    "rule.id": "keyword",
    "rule.uuid": "keyword",
    "rule.name": "keyword",
    "rule.description": "keyword",
    "rule.category": "keyword",
    "rule.ruleset": "keyword",
    "rule.version": "keyword",
    "threat.framework": "keyword",
    "threat.tactic.id": "keyword",
    "threat.tactic.name": "keyword",
    "threat.tactic.reference": "keyword",
    "threat.technique.id": "keyword",
    "threat.technique.name": "keyword",
    "threat.technique.reference": "keyword",
    "threat.technique.subtechnique.id": "keyword",
    "threat.technique.subtechnique.name": "keyword",
    "threat.technique.subtechnique.reference": "keyword",
    "threat.group.name": "keyword",
    "threat.feed.name": "keyword",
    "source.ip": "ip",
    "source.address": "keyword",
    "source.geo.country_iso_code": "keyword",
    "source.geo.country_name": "keyword",
    "source.geo.city_name": "keyword",
    "source.as.number": "long",
    "source.as.organization.name": "keyword",
    "destination.ip": "ip",
    "destination.port": "long",
    "related.ip": "ip",
    "observer.vendor": "keyword",
    "observer.product": "keyword",
    "observer.type": "keyword",
    "observer.version": "keyword",
}

#: Elastic Security's severity bands as numbers (its rules use 21/47/73/99).
SEVERITY: Final[dict[str, int]] = {"low": 21, "medium": 47, "high": 73, "critical": 99}


def _threat(case: Mapping[str, Any]) -> dict[str, Any]:
    techniques = [str(t) for t in case.get("techniques") or []]
    parents = doc.parents(techniques)
    subs = [t for t in techniques if "." in t]
    tactics = list(dict.fromkeys(doc.tactic(t) for t in techniques))
    threat: dict[str, Any] = {
        "framework": "MITRE ATT&CK",
        "tactic": {
            "id": [t[0] for t in tactics],
            "name": [t[1] for t in tactics],
            "reference": [f"https://attack.mitre.org/tactics/{t[0]}/" for t in tactics],
        },
        "technique": {
            "id": parents,
            "name": [doc.technique_name(t) for t in parents],
            "reference": [doc.technique_url(t) for t in parents],
        },
    }
    if subs:
        threat["technique"]["subtechnique"] = {
            "id": subs,
            "name": [doc.technique_name(t) for t in subs],
            "reference": [doc.technique_url(t) for t in subs],
        }
    return threat


def _source(case: Mapping[str, Any], source: str) -> dict[str, Any]:
    result: dict[str, Any] = {"ip": source, "address": source}
    location = doc.geo(case, source)
    geo = {
        key: location[name]
        for key, name in (
            ("country_iso_code", "country_code"),
            ("country_name", "country"),
            ("city_name", "city"),
        )
        if location.get(name)
    }
    if geo:
        result["geo"] = geo
    if isinstance(location.get("asn"), int):
        result["as"] = {"number": location["asn"]}
        if location.get("as_organization"):
            result["as"]["organization"] = {"name": str(location["as_organization"])}
    return result


#: Other sources of the case named in each alert's ``related.ip``: a case of
#: a rotating IPv6 scanner has as many sources as the scanner chose to use,
#: and every alert naming every source grew the export with their square
#: (10,000 addresses: 3.7 GB).
RELATED_SOURCES: Final = 20


class CaseFacts:
    """What every alert of one case shares, worked out once per case."""

    def __init__(self, case: Mapping[str, Any]) -> None:
        self.blocked = frozenset(doc.blocked_sources(case))
        self.matches: dict[str, list[dict[str, Any]]] = {}
        for source, match in doc.intel_matches(case):
            self.matches.setdefault(source, []).append(match)
        self.targets = doc.target_ips(case)
        self.sources = [str(s) for s in case["sources"][: RELATED_SOURCES + 1]]


def alert(
    case: Mapping[str, Any], source: str, exported: str, facts: CaseFacts | None = None
) -> dict[str, Any]:
    """The ECS alert document of one source of a case (``facts``: the case's
    :class:`CaseFacts`, given when writing many alerts of one case)."""
    facts = facts or CaseFacts(case)
    detections = [str(d) for d in case.get("detections") or []]
    severity = str(case["severity"])
    matches = facts.matches.get(source, [])
    actors = sorted({str(m["actor"]) for m in matches if m.get("actor")})
    feeds = sorted({str(m["feed"]) for m in matches if m.get("feed")})
    targets = facts.targets
    others = [s for s in facts.sources if s != source][:RELATED_SOURCES]
    ports = [p for p in case.get("ports") or [] if isinstance(p, int)]
    reasons = [str(r) for r in case.get("reasons") or []]
    message = (
        f"IP address reconnaissance from {source} (case {case['id']}, {severity}): "
        f"{', '.join(detections)}"
    )
    result: dict[str, Any] = {
        "@timestamp": exported,
        "message": message,
        "tags": ["reconwatch", *[str(t) for t in case.get("techniques") or []]],
        "labels": {
            "reconwatch_case": str(case["id"]),
            "disposition": str(case["disposition"]),
            "escalate": str(bool(case.get("escalate"))).lower(),
            "blocked": str(source in facts.blocked).lower(),
        },
        "ecs": {"version": ECS_VERSION},
        "event": {
            "kind": "alert",
            "category": ["network", "intrusion_detection"],
            "type": ["info"],
            "severity": SEVERITY.get(severity, 21),
            "risk_score": float(case.get("score") or 0),
            # ECS: normalised to 0-100 (hunts cap the score there; a hand edit may not).
            "risk_score_norm": min(max(float(case.get("score") or 0), 0.0), 100.0),
            "id": str(case["id"]),
            "action": "ip-address-reconnaissance",
            "module": "reconwatch",
            "dataset": "reconwatch.alerts",
            "provider": "reconwatch",
            "created": exported,
            # As UTC with a "Z", whatever offset (or none) the document wrote.
            "start": doc.iso(doc.parse_time(case["first_seen"])),
            "end": doc.iso(doc.parse_time(case["last_seen"])),
        },
        "rule": {
            "id": [rule_id(d) for d in detections],
            "uuid": [rule_id(d) for d in detections],
            "name": detections,
            "category": "reconnaissance",
            "ruleset": "reconwatch",
            "version": __version__,
        },
        "threat": _threat(case),
        "source": _source(case, source),
        "related": {"ip": list(dict.fromkeys([source, *others, *targets]))},
        "observer": {
            "vendor": "reconwatch",
            "product": "reconwatch",
            "type": "ids",
            "version": __version__,
        },
    }
    if reasons:
        result["event"]["reason"] = "; ".join(reasons)[:1024]
    if actors:
        result["threat"]["group"] = {"name": actors}
    if feeds:
        result["threat"]["feed"] = {"name": feeds}
    # ECS destination.* describe one destination: set only when there is one.
    destination: dict[str, Any] = {}
    if len(targets) == 1:
        destination["ip"] = targets[0]
    if len(ports) == 1:
        destination["port"] = ports[0]
    if destination:
        result["destination"] = destination
    return result


def alerts(document: Mapping[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(``_id``, alert) for every case and source."""
    exported = doc.iso(doc.generated_at(document))
    for case in document["cases"]:
        facts = CaseFacts(case)
        for source in case["sources"]:
            yield (
                str(doc.stable_uuid("ecs", str(case["id"]), source)),
                alert(case, source, exported, facts),
            )


def export_ecs(document: Mapping[str, Any], index: str = DEFAULT_INDEX) -> str:
    """``_bulk`` NDJSON: an action line then the document, for every alert."""
    lines = []
    for alert_id, body in alerts(document):
        lines.append(json.dumps({"create": {"_index": index, "_id": alert_id}}))
        lines.append(json.dumps(body, ensure_ascii=False))
    return "".join(line + "\n" for line in lines)
