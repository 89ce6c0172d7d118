"""Case documents -> what the pages show.

Every string taken from a case document came from a log and is hostile. This
module only picks and shapes values; the templates escape them (Jinja2
autoescape) after the ``t`` filter (:func:`text`) has made control
characters visible and cut very long values.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from reconwatch.report.text import LISTED, clean
from reconwatch.store.models import Action, StoredCase

CRITERIA = {
    "repeated_scanning": "Repeated scanning from the same source",
    "internal_enumeration": "Enumeration of internal addresses",
    "known_threat_actor": "Known threat actor",
    "compromise": "Signs of compromise or unauthorized access",
}
MAX_DNS_NAMES = 200
SOURCES_SHOWN = 200


def text(value: object, limit: int = 500) -> str:
    """Any value as one line: control characters (ANSI escapes) shown as ``\\xNN``, cut."""
    if value is None:
        return ""
    return clean(value if isinstance(value, str) else str(value), limit)


def lines(value: str, limit: int = 2000) -> str:
    """Multi-line text (rule files) with each line cleaned like :func:`text`."""
    return "\n".join(clean(line.expandtabs(4), limit) for line in value.splitlines()[:2000])


def when(value: object) -> str:
    if isinstance(value, dt.datetime):
        value = value if value.tzinfo else value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    return text(value, 40)


def _list(value: object) -> list[Any]:
    return list(value) if isinstance(value, list) else []


def _dict(value: object) -> dict[str, Any]:
    return dict(value) if isinstance(value, Mapping) else {}


def dns_names(doc: Mapping[str, Any]) -> list[str]:
    """Names the actor queried: the targets of its DNS findings (bounded)."""
    names: set[str] = set()
    for finding in _list(doc.get("findings")):
        finding = _dict(finding)
        tables = {_dict(e).get("table") for e in _list(finding.get("evidence"))}
        if "dns" in tables:
            names.update(str(t) for t in _list(finding.get("targets")))
    return sorted(names)[:MAX_DNS_NAMES]


def intel_matches(doc: Mapping[str, Any]) -> list[tuple[str, list[str]]]:
    """(source, matches as 'key: value' lines) for every source with a TI or benign-list hit."""
    rows: list[tuple[str, list[str]]] = []
    for source, context in _dict(doc.get("enrichment")).items():
        context = _dict(context)
        lines: list[str] = []
        for match in _list(context.get("intel")):
            if isinstance(match, Mapping):
                lines.append(", ".join(f"{k}: {v}" for k, v in match.items()))
            else:
                lines.append(str(match))
        lines.extend(f"benign list: {name}" for name in _list(context.get("benign_lists")))
        if lines:
            rows.append((str(source), lines))
    return rows


def geo(doc: Mapping[str, Any]) -> list[tuple[str, str]]:
    rows = []
    for source, context in _dict(doc.get("enrichment")).items():
        info = _dict(_dict(context).get("geo"))
        parts = [
            str(info[k])
            for k in ("country", "city", "asn", "as_organization")
            if info.get(k) not in (None, "")
        ]
        if parts:
            rows.append((str(source), " / ".join(parts)))
    return rows


def criteria(doc: Mapping[str, Any]) -> list[dict[str, Any]]:
    found = _dict(doc.get("criteria"))
    rows = []
    for key, label in CRITERIA.items():
        item = _dict(found.get(key))
        rows.append(
            {
                "key": key,
                "label": label,
                "met": item.get("met"),
                "evidence": _list(item.get("evidence")),
            }
        )
    return rows


def case_view(case: StoredCase) -> dict[str, Any]:
    """Everything the case page shows, from the stored case and its latest document."""
    doc = _dict(case.document)
    activity = _dict(doc.get("activity"))
    return {
        "case": case,
        "doc": doc,
        # A rotating IPv6 scanner's case has thousands of addresses, each with
        # its findings: the page lists the first ones, the API has them all.
        "sources": [s.source_ip for s in case.sources[:SOURCES_SHOWN]],
        "sources_total": len(case.sources),
        "sources_shown": SOURCES_SHOWN,
        "answers": list(_dict(doc.get("answers")).items()),
        "reasons": _list(doc.get("reasons")),
        "criteria": criteria(doc),
        "findings": [_dict(f) for f in _list(doc.get("findings"))[:LISTED]],
        "findings_total": len(_list(doc.get("findings"))),
        "checklist": [_dict(c) for c in _list(doc.get("checklist"))],
        "dns_names": dns_names(doc),
        "dns_total": activity.get("dns_names", 0),
        "intel": intel_matches(doc),
        "geo": geo(doc),
        "exposed": _list(activity.get("exposed")),
        "exposed_count": activity.get("exposed_count", 0),
        "activity": activity,
        "containment": _dict(doc.get("containment")),
        "tier2": _dict(doc.get("tier2")),
        "techniques": _list(doc.get("techniques")),
        "detections": _list(doc.get("detections")),
        "series": _dict(doc.get("series")),
    }


def action_json(action: Action) -> dict[str, str]:
    return {"at": action.at.isoformat(), "who": action.who, "action": action.action,
            "detail": action.detail}  # fmt: skip


def case_summary(case: StoredCase) -> dict[str, Any]:
    """One queue row (API)."""
    return {
        "id": case.id,
        "actor": case.actor,
        "status": case.status,
        "severity": case.severity,
        "score": case.score,
        "escalate": case.escalate,
        "disposition": case.disposition,
        "analyst_disposition": case.analyst_disposition,
        "assignee": case.assignee,
        "first_seen": _iso(case.first_seen),
        "last_seen": _iso(case.last_seen),
        "runs": case.runs,
        "episodes": case.episodes,
    }


def _iso(value: dt.datetime) -> str:
    return (value if value.tzinfo else value.replace(tzinfo=dt.UTC)).isoformat()


def case_detail(case: StoredCase) -> dict[str, Any]:
    """A whole case (API): the summary, the latest document, sightings and audit trail."""
    return {
        **case_summary(case),
        "analyst_reason": case.analyst_reason,
        "sources": [s.source_ip for s in case.sources],
        "document": case.document,
        "sightings": [
            {
                "run": s.run_id,
                "first_seen": _iso(s.first_seen),
                "last_seen": _iso(s.last_seen),
                "detections": s.detections,
                "events": s.events,
            }
            for s in case.sightings
        ],
        "actions": [action_json(a) for a in case.actions],
    }
