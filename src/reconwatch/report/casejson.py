"""The cases JSON document: the stable machine-readable output of a hunt.

Documented in docs/cases-json.md; bump ``SCHEMA`` on any incompatible change.
Timestamps are ISO 8601 in UTC with a ``Z`` suffix; list-valued facts are
capped samples next to exact counts.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from reconwatch import __version__
from reconwatch.cases import LIST_CAP, Case, Evidence, Finding, ZoneTransfer
from reconwatch.lake import RunStats
from reconwatch.report import SCHEMA


def iso(value: dt.datetime | None) -> str | None:
    """``value`` in UTC with a ``Z``. A naive datetime is UTC already (the lake's
    and the case store's times are): ``astimezone`` would take it for the
    machine's local time and shift it by the analyst's offset."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def zone_transfer_dict(transfer: ZoneTransfer) -> dict[str, Any]:
    """A zone transfer served, as cases.json and exposure.json write it."""
    return {
        "source": transfer.source,
        "zone": transfer.zone,
        "type": transfer.type,
        "server": transfer.server,
        "transfers": transfer.transfers,
        "first_seen": iso(transfer.first_seen),
        "last_seen": iso(transfer.last_seen),
    }


def _episode(episode: dict[str, Any]) -> dict[str, Any]:
    times = {key: iso(episode[key]) for key in ("first_seen", "last_seen")}
    return {**episode, **times}


def _evidence(item: Evidence) -> dict[str, Any]:
    return {
        "file": item.log_file,
        "line": item.log_line,
        "timestamp": iso(item.timestamp),
        "destination_ip": item.destination_ip,
        "destination_port": item.destination_port,
        "table": item.table,
        "detail": item.detail,
    }


def _finding(finding: Finding) -> dict[str, Any]:
    return {
        "detection": finding.detection,
        "description": finding.describe(),
        "window_start": iso(finding.window_start),
        "first_seen": iso(finding.first_seen),
        "last_seen": iso(finding.last_seen),
        "event_count": finding.event_count,
        "target_count": finding.target_count,
        "port_count": finding.port_count,
        "targets": finding.targets[:LIST_CAP],
        "ports": finding.ports[:LIST_CAP],
        "score": round(finding.score, 3),
        "label": finding.label,
        "evidence": [_evidence(e) for e in finding.evidence],
    }


def timeline(case: Case) -> list[dict[str, Any]]:
    """The actor's findings across every log, in time order: one story per case."""
    return [
        {
            "time": iso(f.first_seen),
            "until": iso(f.last_seen),
            "log": f.source_table,
            "detection": f.detection,
            "source": f.source_ip,
            "event": f.describe(),
        }
        for f in sorted(case.findings, key=lambda f: (f.first_seen, f.detection, f.source_ip))
    ]


def case_to_dict(case: Case) -> dict[str, Any]:
    act = case.activity
    targets, ports = case.targets, case.ports
    return {
        "id": case.id,
        "actor": case.actor,
        "sources": case.sources,
        "campaign": case.campaign,
        "internal": case.internal,
        "techniques": case.techniques,
        "detections": case.detections,
        "first_seen": iso(case.first_seen),
        "last_seen": iso(case.last_seen),
        "severity": case.severity,
        "score": case.score,
        "escalate": case.escalate,
        "reasons": case.reasons,
        "criteria": case.criteria,
        "episodes": [_episode(episode) for episode in case.episodes],
        "disposition": case.disposition,
        "analyst": case.analyst,
        "answers": case.answers,
        "targets": targets[:LIST_CAP],
        "target_count": len(targets),
        "ports": ports[:LIST_CAP],
        "port_count": len(ports),
        "activity": {
            "events": act.events,
            "failed": act.failed,
            "succeeded": act.succeeded,
            "first_seen": iso(act.first_seen),
            "last_seen": iso(act.last_seen),
            "target_count": act.target_count,
            "port_count": act.port_count,
            "probed_pairs": act.probed_pairs,
            "exposed": act.exposed,
            "exposed_count": act.exposed_count,
            "probe_types": act.probe_types,
            "datasets": act.datasets,
            "dns_queries": act.dns_queries,
            "dns_names": act.dns_names,
            "dns_nxdomain": act.dns_nxdomain,
            "dns_answered": act.dns_answered,
            "http_requests": act.http_requests,
            "http_client_errors": act.http_client_errors,
            "http_paths": act.http_paths,
            "auth_successes": act.auth_successes,
            "auth_failures": act.auth_failures,
            "auth_users": act.auth_users,
            "auth_success_users": act.auth_success_users,
            "first_auth_success": iso(act.first_auth_success),
            "auth_successes_after_scan": act.auth_successes_after_scan,
            "first_auth_success_after_scan": iso(act.first_auth_success_after_scan),
            "auth_success_users_after_scan": act.auth_success_users_after_scan,
            "alerts": act.alerts,
            "alert_rules": act.alert_rules,
            "exploit_alerts": act.exploit_alerts,
            "exploit_rules": act.exploit_rules,
            "first_exploit_alert": iso(act.first_exploit_alert),
            "sensitive_successes": act.sensitive_successes,
            "sensitive_success_paths": act.sensitive_success_paths,
            "admin_successes": act.admin_successes,
            "admin_success_paths": act.admin_success_paths,
            "zone_transfers": [zone_transfer_dict(t) for t in act.zone_transfers],
            "back_connections": act.back_connections,
            "back_connection_samples": act.back_connection_samples,
            "back_connections_before_scan": act.back_connections_before_scan,
            "active_from": iso(act.active_from),
            "active_until": iso(act.active_until),
            "tools": act.tools,
            "host_names": act.host_names,
            "host_users": act.host_users,
            "resolved_then_probed": act.resolved_then_probed,
            "resolved_then_probed_samples": act.resolved_then_probed_samples,
        },
        "findings": [_finding(f) for f in case.findings],
        "timeline": timeline(case),
        "checklist": case.checklist,
        "enrichment": case.enrichment,
        "tier2": case.tier2 if case.escalate else None,
        "containment": case.containment,
        "series": case.series,
    }


def cases_document(
    cases: list[Case], run: RunStats | None, warnings: list[str] | None = None
) -> dict[str, Any]:
    return {
        "schema": SCHEMA,
        "generated_at": iso(dt.datetime.now(dt.UTC)),
        "reconwatch_version": __version__,
        "ingest": run.to_json() if run else None,
        "warnings": warnings or [],
        "summary": {
            "cases": len(cases),
            "escalated": sum(c.escalate for c in cases),
            "by_severity": {
                s: sum(c.severity == s for c in cases)
                for s in ("critical", "high", "medium", "low")
            },
        },
        "cases": [case_to_dict(c) for c in cases],
    }
