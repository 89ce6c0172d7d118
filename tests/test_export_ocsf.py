"""OCSF export: every finding validates against py-ocsf-models' DetectionFinding (OCSF 1.5.0)."""

from __future__ import annotations

import json
from typing import Any

import py_ocsf_models
from py_ocsf_models.events.findings.detection_finding import DetectionFinding

from export_helpers import (
    HOSTILE_ACTOR,
    INTEL_SOURCE,
    case_by_source,
    edge_document,
    hunted,
    swept_ports,
)
from reconwatch.export.ocsf import OCSF_VERSION, export_ocsf, findings

__all__ = ["hunted"]

#: Keys OCSF 1.5 defines that py-ocsf-models 0.10 does not model yet (a TODO
#: in its EvidenceArtifacts); every other key must survive validation.
NOT_MODELLED = {"evidences[].dst_endpoint"}


def dropped(sent: Any, kept: Any, path: str = "") -> set[str]:
    """Keys of ``sent`` that the validated model did not keep (unknown to it)."""
    lost: set[str] = set()
    if isinstance(sent, dict):
        for key, value in sent.items():
            where = f"{path}.{key}" if path else key
            if key not in kept:
                lost.add(where)
            else:
                lost |= dropped(value, kept[key], where)
    elif isinstance(sent, list):
        for a, b in zip(sent, kept, strict=True):
            lost |= dropped(a, b, f"{path}[]")
    return lost


def validate(item: dict[str, Any]) -> DetectionFinding:
    model = DetectionFinding.model_validate(item)
    kept = json.loads(model.model_dump_json(exclude_none=True))
    assert dropped(item, kept) <= NOT_MODELLED
    return model


def test_models_cover_the_schema_version_we_claim() -> None:
    assert py_ocsf_models.OCSF_VERSION == OCSF_VERSION == "1.5.0"


def test_every_hunt_case_is_a_valid_detection_finding(hunted: dict[str, Any]) -> None:
    items = findings(hunted)
    assert len(items) == len(hunted["cases"])
    for item, case in zip(items, hunted["cases"], strict=True):
        model = validate(item)
        assert model.class_uid == 2004 and model.category_uid == 2
        assert model.type_uid == 200400 + model.activity_id
        assert model.finding_info.uid == case["id"]
        assert model.metadata.product.name == "reconwatch"
        assert model.metadata.version == "1.5.0"
        assert [o.value for o in model.observables or [] if o.name == "src_endpoint.ip"] == case[
            "sources"
        ]


def test_severity_status_and_attacks_map(hunted: dict[str, Any]) -> None:
    items = {i["finding_info"]["uid"]: i for i in findings(hunted)}
    expected = {"low": 2, "medium": 3, "high": 4, "critical": 5}
    for case in hunted["cases"]:
        item = items[case["id"]]
        assert item["severity_id"] == expected[case["severity"]]
        assert item["status_id"] == (1 if case["disposition"] in ("malicious", "suspicious") else 3)
    case = case_by_source(hunted, "198.51.100.23")
    attacks = items[case["id"]]["finding_info"]["attacks"]
    sub = {a["sub_technique"]["uid"]: a for a in attacks if "sub_technique" in a}
    assert sub["T1590.005"]["technique"]["uid"] == "T1590"
    assert sub["T1590.005"]["tactic"] == {"uid": "TA0043", "name": "Reconnaissance"}
    assert (
        items[case["id"]]["finding_info"]["first_seen_time"]
        < items[case["id"]]["finding_info"]["last_seen_time"]
    )


def test_evidence_keeps_file_and_line(hunted: dict[str, Any]) -> None:
    case = case_by_source(hunted, "198.51.100.23")
    item = next(i for i in findings(hunted) if i["finding_info"]["uid"] == case["id"])
    first = case["findings"][0]["evidence"][0]
    assert item["evidences"][0]["data"]["file"] == first["file"]
    assert item["evidences"][0]["data"]["line"] == first["line"]


def test_intel_match_is_a_reputation_and_an_enrichment(hunted: dict[str, Any]) -> None:
    case = case_by_source(hunted, INTEL_SOURCE)
    item = next(i for i in findings(hunted) if i["finding_info"]["uid"] == case["id"])
    model = validate(item)
    source = next(o for o in model.observables or [] if o.value == INTEL_SOURCE)
    assert source.reputation is not None and source.reputation.provider == "partner"
    intel = [e for e in model.enrichments or [] if e.type == "threat_intel"]
    assert intel[0].data["actor"] == HOSTILE_ACTOR


def test_a_campaign_lists_its_sweeps(hunted: dict[str, Any]) -> None:
    for extra, shown, count in ((range(0), 1, 1), (range(9000, 9023), 20, 24)):
        document, case = swept_ports(hunted, extra)
        (item,) = [i for i in findings(document) if i["finding_info"]["uid"] == case["id"]]
        validate(item)
        mine = item["unmapped"]["reconwatch"]
        assert mine["campaign"] == case["campaign"] and mine["sweep_count"] == count
        assert len(mine["sweeps"]) == shown and case["campaign"] in mine["sweeps"]


def test_a_campaign_lists_its_sweeps_by_port_number(hunted: dict[str, Any]) -> None:
    document, case = swept_ports(hunted, range(79, 82))
    (item,) = [i for i in findings(document) if i["finding_info"]["uid"] == case["id"]]
    swept = item["unmapped"]["reconwatch"]["sweeps"]
    # As text, 8080 would come between 80 and 81.
    assert [int(label.split("/")[1].split("@")[0]) for label in swept] == [79, 80, 81, 8080]


def test_edge_cases_validate_and_ndjson_is_one_finding_per_line(hunted: dict[str, Any]) -> None:
    document = edge_document(hunted)
    for item in findings(document):
        validate(item)
    lines = export_ocsf(document, ndjson=True).splitlines()
    assert len(lines) == len(document["cases"])
    campaign = json.loads(lines[0])
    assert [o["value"] for o in campaign["observables"] if o["name"] == "src_endpoint.ip"] == [
        f"198.51.100.{i}" for i in range(200, 206)
    ]
    assert {o["value"] for o in campaign["observables"] if o["name"] == "dst_endpoint.ip"} == {
        "203.0.113.10",
        "203.0.113.11",
    }
    benign = json.loads(lines[3])
    assert benign["status"] == "Suppressed"
    assert json.loads(export_ocsf(document)) == [json.loads(line) for line in lines]


def test_case_seen_in_an_earlier_hunt_is_an_update(hunted: dict[str, Any]) -> None:
    case = json.loads(json.dumps(case_by_source(hunted, "198.51.100.23")))
    assert findings({**hunted, "cases": [case]})[0]["activity_id"] == 1
    case["tier2"] = {**(case["tier2"] or {}), "earlier_sightings": [{"case": "RW-20260901-x"}]}
    (item,) = findings({**hunted, "cases": [case]})
    assert (item["activity_id"], item["type_uid"], item["activity_name"]) == (2, 200402, "Update")
    validate(item)


def test_reputation_keeps_the_feeds_confidence_even_zero(hunted: dict[str, Any]) -> None:
    def base_score(confidence: int | None) -> float:
        document = edge_document(hunted)
        case = document["cases"][0]
        case["enrichment"]["198.51.100.201"]["intel"][0]["confidence"] = confidence
        item = validate(findings({**document, "cases": [case]})[0])
        (source,) = [o for o in item.observables or [] if o.value == "198.51.100.201"]
        assert source.reputation is not None
        return float(source.reputation.base_score)

    assert (base_score(80), base_score(0), base_score(None)) == (80.0, 0.0, 100.0)
