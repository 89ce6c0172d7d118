"""ECS export: _bulk NDJSON whose every field is an ECS 8.12 field of the right type."""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from export_helpers import HOSTILE_ACTOR, INTEL_SOURCE, case_by_source, edge_document, hunted, write
from reconwatch.export.cli import export
from reconwatch.export.ecs import ECS_FIELDS, RELATED_SOURCES, alerts, export_ecs

__all__ = ["hunted"]


def flatten(document: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Dotted field names -> values; ``labels`` stays one object field as in ECS."""
    out: dict[str, Any] = {}
    for key, value in document.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and name != "labels":
            out.update(flatten(value, f"{name}."))
        else:
            out[name] = value
    return out


def _is_date(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed.tzinfo is not None


def _is_ip(value: Any) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


#: ECS type -> what a JSON value of it must be (Elasticsearch also takes an
#: array of such values for any field).
CHECKS = {
    "keyword": lambda v: isinstance(v, str),
    "match_only_text": lambda v: isinstance(v, str),
    "long": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "float": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
    "date": _is_date,
    "ip": _is_ip,
    "object": lambda v: isinstance(v, dict) and all(isinstance(x, str) for x in v.values()),
}


def check_ecs(document: dict[str, Any]) -> None:
    for name, value in flatten(document).items():
        assert name in ECS_FIELDS, f"{name} is not an ECS field we checked"
        values = value if isinstance(value, list) else [value]
        assert values, name
        assert all(CHECKS[ECS_FIELDS[name]](v) for v in values), (name, value)


def bulk(text: str) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    lines = text.splitlines()
    assert text.endswith("\n") and len(lines) % 2 == 0
    return [(json.loads(a), json.loads(b)) for a, b in zip(lines[::2], lines[1::2], strict=True)]


def test_the_checked_list_uses_only_known_ecs_types() -> None:
    assert set(ECS_FIELDS.values()) <= set(CHECKS)


def test_every_alert_of_the_hunt_is_ecs(hunted: dict[str, Any]) -> None:
    pairs = bulk(export_ecs(hunted, index="soc-alerts"))
    assert len(pairs) == sum(len(c["sources"]) for c in hunted["cases"])
    for action, document in pairs:
        assert set(action) == {"create"} and action["create"]["_index"] == "soc-alerts"
        check_ecs(document)
        assert document["event"]["kind"] == "alert"
        assert document["source"]["ip"] in document["related"]["ip"]


def test_alert_fields_follow_the_case(hunted: dict[str, Any]) -> None:
    case = case_by_source(hunted, "198.51.100.23")
    (_, document), *_ = [(i, d) for i, d in alerts(hunted) if d["event"]["id"] == case["id"]]
    assert (
        document["event"]["severity"]
        == {"low": 21, "medium": 47, "high": 73, "critical": 99}[case["severity"]]
    )
    assert document["event"]["start"] == case["first_seen"]
    assert document["rule"]["name"] == case["detections"]
    assert "T1590.005" in document["threat"]["technique"]["subtechnique"]["id"]
    assert document["threat"]["technique"]["id"] == ["T1590", "T1595"]
    assert document["threat"]["framework"] == "MITRE ATT&CK"
    assert document["labels"]["blocked"] == "true"


def test_intel_actor_is_a_threat_group_carried_as_data(hunted: dict[str, Any]) -> None:
    text = export_ecs(hunted)
    document = next(d for _, d in bulk(text) if d["source"]["ip"] == INTEL_SOURCE)
    assert document["threat"]["group"]["name"] == [HOSTILE_ACTOR]
    assert document["threat"]["feed"]["name"] == ["partner"]
    # The quotes are JSON-escaped, so every line still parses on its own.
    assert all(json.loads(line) for line in text.splitlines())


def test_ids_are_stable_so_a_resend_is_refused_not_duplicated(hunted: dict[str, Any]) -> None:
    first = [a["create"]["_id"] for a, _ in bulk(export_ecs(hunted))]
    later = json.loads(json.dumps(hunted))
    later["generated_at"] = "2027-01-01T00:00:00Z"
    assert [a["create"]["_id"] for a, _ in bulk(export_ecs(later))] == first
    assert len(set(first)) == len(first)


def test_campaign_gives_one_alert_per_source_with_geo(hunted: dict[str, Any]) -> None:
    document = edge_document(hunted)
    pairs = bulk(export_ecs(document))
    for _, alert in pairs:
        check_ecs(alert)
    campaign = [d for _, d in pairs if d["event"]["id"] == "RW-20260930-campaign"]
    assert [d["source"]["ip"] for d in campaign] == [f"198.51.100.{i}" for i in range(200, 206)]
    assert campaign[0]["source"]["geo"]["country_iso_code"] == "NL"
    assert campaign[0]["source"]["as"]["number"] == 64500
    # Two scanned hosts: no single destination.ip, but both in related.ip.
    assert "ip" not in campaign[0].get("destination", {})
    assert campaign[0]["destination"]["port"] == 22
    assert {"203.0.113.10", "203.0.113.11"} <= set(campaign[0]["related"]["ip"])
    assert [d["labels"]["blocked"] for d in campaign][-1] == "false"  # the refused member
    (v6,) = [d for _, d in pairs if d["event"]["id"] == "RW-20260930-ipv6"]
    assert v6["source"]["ip"] == "2001:db8:ffff:7::99"


def test_a_case_of_many_sources_grows_the_export_linearly(hunted: dict[str, Any]) -> None:
    """A rotating IPv6 scanner decides how many sources its case has: each
    alert names a bounded share of them, so the export grows with the sources,
    not with their square."""

    def exported(n: int) -> list[dict[str, Any]]:
        document = edge_document(hunted)
        case = document["cases"][0]
        members = [f"2001:db8:77:1::{i + 1:x}" for i in range(n)]
        case.update(sources=members, enrichment={}, campaign="campaign:ipv6@2001:db8:77:1::/64")
        case["containment"]["refused"] = {}
        document["cases"] = [case]
        return [alert for _, alert in bulk(export_ecs(document))]

    small, large = exported(50), exported(2000)
    assert len(large) == 2000
    assert {a["labels"]["blocked"] for a in large} == {"true"}
    for alert in large:
        check_ecs(alert)
        sources = [ip for ip in alert["related"]["ip"] if ip.startswith("2001:db8:77:1::")]
        assert sources[0] == alert["source"]["ip"] and len(sources) == RELATED_SOURCES + 1
    per_alert = max(len(json.dumps(a)) for a in large)
    assert per_alert <= max(len(json.dumps(a)) for a in small) + 100


def test_case_times_are_written_in_utc(hunted: dict[str, Any]) -> None:
    """A hand-written or foreign document may give an offset, or no zone and a
    space (which Elasticsearch's default date format refuses): ECS gets UTC."""
    document = json.loads(json.dumps(hunted))
    case = document["cases"][0]
    case.update(first_seen="2026-09-30T02:15:00+02:00", last_seen="2026-09-30 01:20:00.5")
    document["cases"] = [case]
    (_, alert), *_ = list(alerts(document))
    check_ecs(alert)
    assert alert["event"]["start"] == "2026-09-30T00:15:00Z"
    assert alert["event"]["end"] == "2026-09-30T01:20:00.500000Z"


@pytest.mark.parametrize("bad", ["Upper", "a b", "_x", "a/b", ""])
def test_cli_refuses_bad_index_names(bad: str, hunted: dict[str, Any], tmp_path: Path) -> None:
    path = write(tmp_path / "cases.json", hunted)
    result = CliRunner().invoke(export, ["ecs", str(path), "--index", bad])
    assert result.exit_code == 1 and "not a valid index name" in result.output
