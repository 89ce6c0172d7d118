"""Cases as OCSF Detection Findings (class 2004, category 2 Findings).

One finding per case, as plain JSON objects following OCSF 1.5.0, the schema
version py-ocsf-models 0.10 implements (the tests validate every finding with
its ``DetectionFinding`` model). The mapping is in docs/exports.md.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Final

from reconwatch import __version__
from reconwatch.detect import DETECTIONS
from reconwatch.export import document as doc

OCSF_VERSION: Final = "1.5.0"
CLASS_UID: Final = 2004
CATEGORY_UID: Final = 2
ACTIVITY_CREATE: Final = 1
ACTIVITY_UPDATE: Final = 2

SEVERITY_ID: Final[dict[str, tuple[int, str]]] = {
    "low": (2, "Low"),
    "medium": (3, "Medium"),
    "high": (4, "High"),
    "critical": (5, "Critical"),
}

#: Verdicts that close the question (known scanner, approved exercise, benign)
#: are Suppressed; anything still to work is New.
STATUS_SUPPRESSED: Final = (3, "Suppressed")
STATUS_NEW: Final = (1, "New")

#: How many evidence lines of the case go into ``evidences`` (the cases
#: document keeps a sample per finding; the rest stays in the case).
MAX_EVIDENCES: Final = 20

OBSERVABLE_IP: Final = 2  # OCSF observable type_id "IP Address"
ANALYTIC_RULE: Final = 1  # OCSF analytic type_id "Rule"


def _ms(value: str) -> int:
    return doc.epoch_ms(doc.parse_time(value))


def _attacks(techniques: list[str]) -> list[dict[str, Any]]:
    attacks = []
    for technique in techniques:
        tactic_id, tactic_name, _ = doc.tactic(technique)
        parent = technique.split(".")[0]
        attack: dict[str, Any] = {
            "tactic": {"uid": tactic_id, "name": tactic_name},
            "technique": {
                "uid": parent,
                "name": doc.technique_name(parent),
                "src_url": doc.technique_url(parent),
            },
        }
        if "." in technique:
            attack["sub_technique"] = {
                "uid": technique,
                "name": doc.technique_name(technique),
                "src_url": doc.technique_url(technique),
            }
        attacks.append(attack)
    return attacks


def _observables(case: Mapping[str, Any]) -> list[dict[str, Any]]:
    scores: dict[str, list[dict[str, Any]]] = {}
    for source, match in doc.intel_matches(case):
        scores.setdefault(source, []).append(match)
    observables = []
    for source in case["sources"]:
        item: dict[str, Any] = {
            "name": "src_endpoint.ip",
            "type": "IP Address",
            "type_id": OBSERVABLE_IP,
            "value": source,
        }
        if source in scores:
            match = scores[source][0]
            # A feed's confidence is 0..100; 0 is a value (not "unknown", which
            # is null and reads as the feed's full trust).
            confidence = match.get("confidence")
            item["reputation"] = {
                "provider": str(match.get("feed") or "threat intelligence"),
                "base_score": float(100 if confidence is None else confidence),
                "score": "Malicious",
                "score_id": 10,
            }
        observables.append(item)
    observables.extend(
        {"name": "dst_endpoint.ip", "type": "IP Address", "type_id": OBSERVABLE_IP, "value": ip}
        for ip in doc.target_ips(case)
    )
    return observables


def _evidences(case: Mapping[str, Any]) -> list[dict[str, Any]]:
    evidences: list[dict[str, Any]] = []
    for finding in case.get("findings") or []:
        for item in finding.get("evidence") or []:
            if len(evidences) >= MAX_EVIDENCES:
                return evidences
            evidence: dict[str, Any] = {
                "name": str(finding.get("detection")),
                "data": {
                    "file": item.get("file"),
                    "line": item.get("line"),
                    "timestamp": item.get("timestamp"),
                    "table": item.get("table"),
                    "detail": item.get("detail"),
                },
            }
            # OCSF 1.5 evidences carry dst_endpoint; py-ocsf-models 0.10 does
            # not model it yet (a TODO there), see docs/exports.md, so nothing
            # checks it: only an address (ip_t) and a port number (port_t)
            # go in; a hand-edited document's other values stay in ``data``.
            endpoint: dict[str, Any] = {}
            ip, port = item.get("destination_ip"), item.get("destination_port")
            if isinstance(ip, str) and doc.is_ip(ip):
                endpoint["ip"] = ip
            if doc.is_port(port):
                endpoint["port"] = port
            if endpoint:
                evidence["dst_endpoint"] = endpoint
            evidences.append(evidence)
    return evidences


def _enrichments(case: Mapping[str, Any]) -> list[dict[str, Any]]:
    enrichments = []
    for source in case["sources"]:
        location = {k: v for k, v in doc.geo(case, source).items() if v is not None}
        if location:
            enrichments.append(
                {"name": "src_endpoint.ip", "value": source, "type": "location", "data": location}
            )
    for source, match in doc.intel_matches(case):
        data = {k: v for k, v in match.items() if v is not None}
        enrichments.append(
            {
                "name": "src_endpoint.ip",
                "value": source,
                "type": "threat_intel",
                "provider": str(match.get("feed") or ""),
                "data": data,
            }
        )
    return enrichments


def _remediation(case: Mapping[str, Any]) -> dict[str, Any]:
    containment = case.get("containment")
    if not isinstance(containment, dict):
        containment = {}
    entries = [str(e) for e in containment.get("entries") or []]
    actions = (case.get("tier2") or {}).get("recommended_actions") or []
    if containment.get("block") and entries:
        hours = int(containment.get("timeout_seconds") or 0) // 3600
        desc = f"Block {', '.join(entries)} at the firewall for {hours} h (reconwatch rules)."
    elif containment.get("why"):
        desc = f"No block: {containment['why']}."
    else:
        desc = "No block."
    remediation: dict[str, Any] = {"desc": desc}
    if actions:
        remediation["references"] = [str(a) for a in actions]
    return remediation


def finding(case: Mapping[str, Any], exported_ms: int) -> dict[str, Any]:
    """The OCSF Detection Finding of one case."""
    tier2 = case.get("tier2") or {}
    update = bool(tier2.get("earlier_sightings"))
    activity_id = ACTIVITY_UPDATE if update else ACTIVITY_CREATE
    severity_id, severity = SEVERITY_ID.get(str(case["severity"]), (0, "Unknown"))
    suppressed = case["disposition"] in doc.NOT_BLOCKED
    status_id, status = STATUS_SUPPRESSED if suppressed else STATUS_NEW
    detections = [str(d) for d in case.get("detections") or []]
    techniques = [str(t) for t in case.get("techniques") or []]
    title = f"IP address reconnaissance from {case['actor']}"
    reasons = [str(r) for r in case.get("reasons") or []]
    desc = "; ".join(
        [f"{len(case['sources'])} source(s), detections: {', '.join(detections)}", *reasons]
    )
    start, end = _ms(case["first_seen"]), _ms(case["last_seen"])
    swept = doc.sweeps(case)
    result: dict[str, Any] = {
        "category_uid": CATEGORY_UID,
        "category_name": "Findings",
        "class_uid": CLASS_UID,
        "class_name": "Detection Finding",
        "activity_id": activity_id,
        "activity_name": "Update" if update else "Create",
        "type_uid": CLASS_UID * 100 + activity_id,
        "type_name": f"Detection Finding: {'Update' if update else 'Create'}",
        "time": exported_ms,
        "start_time": start,
        "end_time": end,
        "severity_id": severity_id,
        "severity": severity,
        "status_id": status_id,
        "status": status,
        "status_detail": str(case["disposition"]),
        "message": title,
        "count": doc.event_count(case),
        "risk_score": int(case.get("score") or 0),
        "finding_info": {
            "uid": str(case["id"]),
            "title": title,
            "desc": desc,
            "types": ["Reconnaissance"],
            "created_time": exported_ms,
            "first_seen_time": start,
            "last_seen_time": end,
            "analytic": {
                "uid": "reconwatch-t1590.005",
                "name": "reconwatch T1590.005 playbook",
                "type_id": ANALYTIC_RULE,
                "type": "Rule",
                "version": __version__,
            },
            "related_analytics": [
                {
                    "uid": name,
                    "name": name,
                    "type_id": ANALYTIC_RULE,
                    "type": "Rule",
                    "desc": DETECTIONS[name].description if name in DETECTIONS else None,
                }
                for name in detections
            ],
            "attacks": _attacks(techniques),
            "data_sources": [str(d) for d in (case.get("activity") or {}).get("datasets") or []],
        },
        "observables": _observables(case),
        "evidences": _evidences(case),
        "enrichments": _enrichments(case),
        "remediation": _remediation(case),
        "metadata": {
            "version": OCSF_VERSION,
            "uid": str(case["id"]),
            "product": {
                "name": "reconwatch",
                "vendor_name": "reconwatch",
                "version": __version__,
            },
            "labels": ["reconwatch", *techniques],
        },
        "unmapped": {
            "reconwatch": {
                "escalate": bool(case.get("escalate")),
                "campaign": case.get("campaign"),
                # A sweep of several ports, /24s or hours: each label (cases.json has all).
                "sweeps": swept[: doc.SWEEPS_SHOWN],
                "sweep_count": len(swept),
                "criteria_met": sorted(
                    k for k, v in (case.get("criteria") or {}).items() if (v or {}).get("met")
                ),
                "containment": case.get("containment"),
            }
        },
    }
    for analytic in result["finding_info"]["related_analytics"]:
        if analytic["desc"] is None:
            del analytic["desc"]
    return result


def findings(document: Mapping[str, Any]) -> list[dict[str, Any]]:
    exported = doc.epoch_ms(doc.generated_at(document))
    return [finding(case, exported) for case in document["cases"]]


def export_ocsf(document: Mapping[str, Any], ndjson: bool = False) -> str:
    """A JSON array of findings, or one finding per line with ``ndjson``."""
    items = findings(document)
    if ndjson:
        return "".join(json.dumps(i, ensure_ascii=False) + "\n" for i in items)
    return json.dumps(items, indent=2, ensure_ascii=False) + "\n"
