"""Exports of hand-edited cases documents: ECS risk_score_norm, huge numbers,
OCSF evidence endpoints."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from reconwatch.export import document as doc
from reconwatch.export.cli import export
from reconwatch.export.ecs import alerts
from reconwatch.export.ocsf import findings
from reconwatch.report import SCHEMA

CASE: dict[str, Any] = {
    "id": "RW-1",
    "actor": "192.0.2.1",
    "sources": ["192.0.2.1"],
    "severity": "high",
    "disposition": "malicious",
    "first_seen": "2026-09-30T01:00:00Z",
    "last_seen": "2026-09-30T02:00:00Z",
    "score": 50.0,
    "detections": ["vertical_scan"],
    "findings": [
        {
            "detection": "vertical_scan",
            "evidence": [
                {
                    "file": "/var/log/kern.log",
                    "line": 7,
                    "timestamp": "2026-09-30T01:00:00Z",
                    "destination_ip": "203.0.113.5",
                    "destination_port": 22,
                    "table": "network",
                    "detail": "tcp SYN dropped",
                }
            ],
        }
    ],
}


def document(**changes: Any) -> dict[str, Any]:
    case = {**copy.deepcopy(CASE), **changes}
    return {"schema": SCHEMA, "generated_at": "2026-09-30T03:00:00Z", "cases": [case]}


@pytest.mark.parametrize(("score", "norm"), [(250, 100.0), (-5, 0.0), (42.5, 42.5)])
def test_ecs_risk_score_norm_stays_within_0_100(score: float, norm: float) -> None:
    checked = doc.check_document(document(score=score))
    (_, body) = next(alerts(checked))
    assert body["event"]["risk_score_norm"] == norm
    assert isinstance(body["event"]["risk_score_norm"], float)
    assert body["event"]["risk_score"] == float(score)


def test_a_number_too_large_for_a_float_is_a_one_line_error(tmp_path: Path) -> None:
    path = tmp_path / "big.json"
    path.write_text(json.dumps(document(score=10**400)), encoding="utf-8")
    result = CliRunner().invoke(export, ["ecs", str(path)])
    assert result.exit_code == 1, result.output
    assert "'score' must be a number" in result.output
    assert not isinstance(result.exception, OverflowError)


@pytest.mark.parametrize(
    ("ip", "port", "endpoint"),
    [
        ("203.0.113.5", 22, {"ip": "203.0.113.5", "port": 22}),
        ("2001:db8::5", None, {"ip": "2001:db8::5"}),
        ("www.example.org", "22", None),
        (42, 70000, None),
        ("::ffff:10.0.0.5", True, None),
        ("203.0.113.5", -1, {"ip": "203.0.113.5"}),
    ],
)
def test_ocsf_evidence_dst_endpoint_holds_only_an_address_and_a_port(
    ip: object, port: object, endpoint: dict[str, Any] | None
) -> None:
    # OCSF 1.5 network_endpoint: ip is ip_t, port is port_t (0-65535);
    # py-ocsf-models 0.10 drops evidences' dst_endpoint, so nothing else checks it.
    edited = document()
    evidence = edited["cases"][0]["findings"][0]["evidence"][0]
    evidence.update(destination_ip=ip, destination_port=port)
    (finding,) = findings(doc.check_document(edited))
    (item,) = finding["evidences"]
    assert item.get("dst_endpoint") == endpoint


@pytest.mark.parametrize("fmt", ["ocsf", "thehive", "ecs", "stix"])
@pytest.mark.parametrize("to_file", [False, True])
def test_a_lone_surrogate_in_the_document_gives_valid_utf8_json(
    tmp_path: Path, fmt: str, to_file: bool
) -> None:
    # JSON text must be UTF-8 (RFC 8259); "\udc80" in the input is legal JSON.
    edited = document(reasons=["odd \udc80 byte"])
    edited["cases"][0]["findings"][0]["evidence"][0]["file"] = "/var/log/a\udc80.log"
    path = tmp_path / "cases.json"
    path.write_text(json.dumps(edited), encoding="utf-8")
    out = tmp_path / f"out.{fmt}"
    args = [fmt, str(path), *(["--out", str(out)] if to_file else [])]
    result = CliRunner().invoke(export, args)
    assert result.exit_code == 0, (result.output, result.exception)
    data = out.read_bytes() if to_file else result.stdout_bytes
    text = data.decode("utf-8")  # strict: no raw \x80 byte
    if fmt == "ecs":
        [json.loads(line) for line in text.splitlines()]
    else:
        json.loads(text)
