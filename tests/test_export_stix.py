"""STIX 2.1 export: parsed back by the stix2 library with custom content refused."""

from __future__ import annotations

import copy
import json
from collections import Counter
from typing import Any

import stix2

from export_helpers import (
    HOSTILE_ACTOR,
    INTEL_SOURCE,
    case_by_source,
    edge_document,
    hunted,
    swept_ports,
)
from reconwatch.campaign_labels import ROTATING_PREFIX
from reconwatch.export.document import blocked_sources
from reconwatch.export.stix import export_stix

__all__ = ["hunted"]  # the session fixture, imported for pytest

ROTATION = "2001:db8:ffff:9::/64"  # the sample's rotating IPv6 scanner


def parse(text: str) -> tuple[Any, dict[str, Any]]:
    bundle = stix2.parse(text, allow_custom=False)
    return bundle, {o.id: o for o in bundle.objects}


def by_type(objects: dict[str, Any], kind: str) -> list[Any]:
    return [o for o in objects.values() if o.type == kind]


def test_hunt_bundle_parses_and_indicates_exactly_the_blocked_sources(
    hunted: dict[str, Any],
) -> None:
    _, objects = parse(export_stix(hunted))
    blocked = {s for c in hunted["cases"] for s in blocked_sources(c)}
    assert blocked, "the sample must have sources containment blocks"
    patterns = {o.pattern for o in by_type(objects, "indicator")}
    assert patterns == {f"[ipv4-addr:value = '{s}']" for s in blocked}
    # Every case is observed, every source is an SCO, even the unblocked ones.
    assert len(by_type(objects, "observed-data")) == len(hunted["cases"])
    seen = {o.value for o in objects.values() if o.type in ("ipv4-addr", "ipv6-addr")}
    assert seen == {s for c in hunted["cases"] for s in c["sources"]}
    assert "2001:db8:ffff:7::66" in seen  # the sample's IPv6 scanner


def test_sightings_point_at_indicators_and_the_soc(hunted: dict[str, Any]) -> None:
    _, objects = parse(export_stix(hunted, soc_name="ACME SOC"))
    (soc,) = by_type(objects, "identity")
    assert soc.name == "ACME SOC"
    sightings = by_type(objects, "sighting")
    assert len(sightings) == len(by_type(objects, "indicator"))
    case = case_by_source(hunted, "198.51.100.23")
    sighting = next(
        s for s in sightings if objects[s.sighting_of_ref].pattern.endswith("'198.51.100.23']")
    )
    assert sighting.where_sighted_refs == [soc.id]
    # Every line from the source once (firewall, sensor, IDS...), not the
    # findings' counts, which see one packet in several detections.
    activity = case["activity"]
    logged = sum(activity[k] for k in ("events", "dns_queries", "http_requests", "alerts"))
    assert sighting.count == logged + activity["auth_successes"] + activity["auth_failures"]
    assert sighting.count >= max(f["event_count"] for f in case["findings"])
    indicator = objects[sighting.sighting_of_ref]
    expiry = indicator.valid_until - sighting.last_seen
    assert expiry.total_seconds() == case["containment"]["timeout_seconds"]
    assert sighting.first_seen.isoformat().startswith(case["first_seen"][:19])
    assert objects[sighting.observed_data_refs[0]].type == "observed-data"


def test_intel_actor_becomes_threat_actor_indicated_by_the_source(hunted: dict[str, Any]) -> None:
    case = case_by_source(hunted, INTEL_SOURCE)
    assert case["disposition"] == "malicious"  # the feed made it so
    _, objects = parse(export_stix(hunted))
    (actor,) = by_type(objects, "threat-actor")
    assert actor.name == HOSTILE_ACTOR  # carried verbatim, as data
    indicator = next(
        o
        for o in by_type(objects, "indicator")
        if o.pattern == f"[ipv4-addr:value = '{INTEL_SOURCE}']"
    )
    links = {
        (r.relationship_type, r.source_ref, r.target_ref) for r in by_type(objects, "relationship")
    }
    assert ("indicates", indicator.id, actor.id) in links


def test_attack_patterns_carry_mitre_references(hunted: dict[str, Any]) -> None:
    _, objects = parse(export_stix(hunted))
    patterns = {p.external_references[0].external_id: p for p in by_type(objects, "attack-pattern")}
    assert {"T1590.005", "T1595.001"} <= set(patterns)
    ref = patterns["T1590.005"].external_references[0]
    assert ref.source_name == "mitre-attack"
    assert ref.url == "https://attack.mitre.org/techniques/T1590/005/"
    assert patterns["T1590.005"].kill_chain_phases[0].phase_name == "reconnaissance"
    assert patterns["T1046"].kill_chain_phases[0].phase_name == "discovery"


def test_re_export_is_identical(hunted: dict[str, Any]) -> None:
    assert export_stix(hunted) == export_stix(json.loads(json.dumps(hunted)))


def test_ids_are_stable_across_hunts_of_the_same_case(hunted: dict[str, Any]) -> None:
    later = json.loads(json.dumps(hunted))
    later["generated_at"] = "2027-01-01T00:00:00Z"
    _, first = parse(export_stix(hunted))
    _, second = parse(export_stix(later))
    assert set(first) - {i for i in first if i.startswith("bundle--")} <= set(second)
    indicator = by_type(second, "indicator")[0]
    assert indicator.modified > first[indicator.id].modified  # a new version of the same object


def test_campaign_ipv6_and_benign_edge_cases(hunted: dict[str, Any]) -> None:
    _, objects = parse(export_stix(edge_document(hunted)))
    patterns = sorted(o.pattern for o in by_type(objects, "indicator"))
    members = [f"198.51.100.{i}" for i in range(200, 205)]  # .205 was refused
    expected = [f"[ipv4-addr:value = '{m}']" for m in members]
    expected.append("[ipv6-addr:value = '2001:db8:ffff:7::99']")
    # The hostile-text case is a copy of a blocked real case: its source too.
    expected += [f"[ipv4-addr:value = '{s}']" for s in _hostile_sources(hunted)]
    assert patterns == sorted(expected)
    assert not any("192.0.2.200" in p for p in patterns), "benign scanners are never indicators"
    (campaign,) = by_type(objects, "campaign")
    (actor,) = by_type(objects, "threat-actor")
    links = Counter(
        (r.relationship_type, r.source_ref, r.target_ref) for r in by_type(objects, "relationship")
    )
    assert links[("attributed-to", campaign.id, actor.id)] == 1
    # Counts are not split between campaign members, so none is claimed.
    assert all(
        "count" not in s
        for s in by_type(objects, "sighting")
        if "198.51.100.20" in objects[s.sighting_of_ref].pattern
    )
    (v6,) = [o for o in objects.values() if o.type == "ipv6-addr"]
    assert v6.value == "2001:db8:ffff:7::99"


def _hostile_sources(hunted: dict[str, Any]) -> list[str]:
    base = next(c for c in hunted["cases"] if c["containment"].get("block"))
    return list(base["sources"])


def rotation_document(hunted: dict[str, Any], campaign: str) -> dict[str, Any]:
    """The sample's rotating IPv6 scanner (40 addresses of one /64), blocked,
    one member named by intelligence."""
    case = copy.deepcopy(
        next(c for c in hunted["cases"] if c.get("campaign") == f"{ROTATING_PREFIX}{ROTATION}")
    )
    members = case["sources"]
    case.update(
        campaign=campaign,
        disposition="malicious",
        containment={"block": True, "entries": [ROTATION], "timeout_seconds": 3600},
        enrichment={members[3]: {"intel": [{"feed": "partner", "actor": HOSTILE_ACTOR}]}},
    )
    document = copy.deepcopy(hunted)
    document["cases"] = [case]
    return document


def test_a_rotating_ipv6_scanner_is_one_indicator_of_its_64(hunted: dict[str, Any]) -> None:
    document = rotation_document(hunted, f"{ROTATING_PREFIX}{ROTATION}")
    _, objects = parse(export_stix(document))
    # Its block is the /64 and its next probe comes from a new address: one
    # indicator for the /64, not one for each of the 40 addresses seen.
    (indicator,) = by_type(objects, "indicator")
    assert indicator.pattern == f"[ipv6-addr:value ISSUBSET '{ROTATION}']"
    assert indicator.name == f"Reconnaissance from {ROTATION} (40 addresses seen)"
    (sighting,) = by_type(objects, "sighting")
    assert sighting.sighting_of_ref == indicator.id and "count" not in sighting
    (campaign,) = by_type(objects, "campaign")
    assert campaign.name == f"Rotating IPv6 scan from {ROTATION}"
    (actor,) = by_type(objects, "threat-actor")
    links = {
        (r.relationship_type, r.source_ref, r.target_ref) for r in by_type(objects, "relationship")
    }
    assert ("indicates", indicator.id, actor.id) in links
    assert ("indicates", indicator.id, campaign.id) in links
    # What was seen stays per address.
    seen = {o.value for o in by_type(objects, "ipv6-addr")}
    assert seen == set(document["cases"][0]["sources"]) and len(seen) == 40


def test_a_label_that_is_no_64_keeps_one_indicator_per_address(hunted: dict[str, Any]) -> None:
    for label in (
        f"{ROTATING_PREFIX}2001:db8:ffff:9::1/64",
        f"{ROTATING_PREFIX}']",
        # Another prefix length: ipv6_prefix_scan writes /64s only, and an
        # indicator of ::/0 would ask consumers to block every IPv6 address.
        f"{ROTATING_PREFIX}::/0",
        f"{ROTATING_PREFIX}2001:db8:ffff::/48",
    ):
        _, objects = parse(export_stix(rotation_document(hunted, label)))
        patterns = {o.pattern for o in by_type(objects, "indicator")}
        assert len(patterns) == 40
        assert all(p.startswith("[ipv6-addr:value = '2001:db8:ffff:9:") for p in patterns)


def test_a_campaign_of_several_sweeps_names_each_in_its_description(
    hunted: dict[str, Any],
) -> None:
    def stix_campaign(document: dict[str, Any], case: dict[str, Any]) -> Any:
        _, objects = parse(export_stix(document))
        name = f"Coordinated scan {case['campaign']}"
        (found,) = [o for o in by_type(objects, "campaign") if o.name == name]
        return found

    # One sweep: the name is its label.
    assert "description" not in stix_campaign(*swept_ports(hunted, range(0)))
    # The same members on a second port.
    document, case = swept_ports(hunted, range(8443, 8444))
    other = case["campaign"].replace("campaign:tcp/8080@", "campaign:tcp/8443@")
    assert stix_campaign(document, case).description == (
        f"2 sweeps (transport/port@/24@hour start, epoch seconds): {case['campaign']}, {other}"
    )
    # A long sweep: the first 20 named, the rest counted.
    description = stix_campaign(*swept_ports(hunted, range(9000, 9023))).description
    assert description.startswith("24 sweeps") and description.endswith(" and 4 more")
    assert description.count("campaign:") == 20


def test_the_64_is_indicated_only_when_containment_blocked_it(hunted: dict[str, Any]) -> None:
    """A /64 touching a protected range, or ``respond.ipv6_prefix: 128``, is
    blocked address by address: the indicators must not ask for more."""
    document = rotation_document(hunted, f"{ROTATING_PREFIX}{ROTATION}")
    case = document["cases"][0]
    case["containment"]["entries"] = [f"{s}/128" for s in case["sources"]]
    _, objects = parse(export_stix(document))
    patterns = {o.pattern for o in by_type(objects, "indicator")}
    assert patterns == {f"[ipv6-addr:value = '{s}']" for s in case["sources"]}
    # A wider block holds the /64: the /64 is indicated, once.
    case["containment"]["entries"] = ["2001:db8:ffff::/48"]
    _, objects = parse(export_stix(document))
    (indicator,) = by_type(objects, "indicator")
    assert indicator.pattern == f"[ipv6-addr:value ISSUBSET '{ROTATION}']"
    # A member outside the /64 keeps its own indicator.
    case["sources"] = [*case["sources"], "2001:db8:eeee::5"]
    case["containment"]["entries"] = [ROTATION, "2001:db8:eeee::5/128"]
    _, objects = parse(export_stix(document))
    patterns = {o.pattern for o in by_type(objects, "indicator")}
    assert patterns == {
        f"[ipv6-addr:value ISSUBSET '{ROTATION}']",
        "[ipv6-addr:value = '2001:db8:eeee::5']",
    }
