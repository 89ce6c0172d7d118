"""Threshold Random Walk on first contacts (Jung et al. 2004), paper defaults."""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

import ibis
import pytest

from conftest import BASE_TIME, network_rows
from reconwatch.config import TRWConfig
from reconwatch.detect.trw import first_contacts, trw_scan, walk

SCANNER = "198.51.100.7"
UP = math.log(4)  # ln((1 - 0.2) / (1 - 0.8)), one failed first contact
DOWN = math.log(0.25)  # ln(0.2 / 0.8), one successful first contact


def at(seconds: float) -> dt.datetime:
    return BASE_TIME + dt.timedelta(seconds=seconds)


def contacts(
    outcomes: str, *, source: str = SCANNER, port: int = 22, start: float = 0
) -> list[dict[str, Any]]:
    """One first contact per character, a second apart, host n = 203.0.113.n.

    ``F`` failed, ``S`` succeeded, ``?`` outcome unknown.
    """
    meaning = {"F": "failed", "S": "succeeded", "?": None}
    return [
        {
            "source_ip": source,
            "destination_ip": f"203.0.113.{n + 1}",
            "destination_port": port,
            "connection_outcome": meaning[code],
            "event_action": "dropped" if code == "F" else "allowed",
            "seconds": start + n,
        }
        for n, code in enumerate(outcomes)
    ]


def findings(rows: list[dict[str, Any]], cfg: TRWConfig | None = None) -> list[dict[str, Any]]:
    expr = trw_scan(ibis.memtable(network_rows(rows)), cfg or TRWConfig())
    return sorted(expr.to_pyarrow().to_pylist(), key=lambda f: f["source_ip"])


def test_four_failed_first_contacts_flag_a_scanner() -> None:
    assert findings(contacts("FFFFFF")) == [
        {
            "detection": "trw_scan",
            "source_ip": SCANNER,
            "window_start": None,
            "first_seen": at(0),
            "last_seen": at(3),
            "event_count": 4,
            "target_count": 4,
            "port_count": 1,
            "targets": ["203.0.113.1", "203.0.113.2", "203.0.113.3", "203.0.113.4"],
            "ports": [22],
            "score": pytest.approx(4 * UP),
            "label": "after 4 first contacts",
        }
    ]


def test_three_failed_first_contacts_are_not_enough() -> None:
    # 3 x ln 4 = 4.16 < ln 99 = 4.60.
    assert findings(contacts("FFF")) == []


def test_one_success_delays_the_decision_by_two_failures() -> None:
    # -1.39, 0, 1.39, 2.77, 4.16, 5.55: crosses at the sixth first contact.
    [finding] = findings(contacts("SFFFFFFF"))
    assert finding["label"] == "after 6 first contacts"
    assert finding["event_count"] == 6
    assert finding["last_seen"] == at(5)
    assert finding["score"] == pytest.approx(5 * UP + DOWN)


def test_mostly_successful_client_is_never_flagged() -> None:
    assert findings(contacts("SSFSSSFSSFSSSSFS")) == []


def test_walk_stops_at_the_benign_boundary_first() -> None:
    # Four successes reach -5.55 <= ln(1/99): cleared, and per the paper the
    # decision is final, so the ten failures afterwards do not flag it.
    assert findings(contacts("SSSS" + "F" * 10)) == []
    # Three successes stay above the lower boundary; the failures then win.
    [finding] = findings(contacts("SSS" + "F" * 10))
    assert finding["label"] == "after 10 first contacts"


def test_only_first_contacts_count() -> None:
    # Twenty failed connections to the same host are one trial, not twenty.
    rows = [
        {"source_ip": SCANNER, "destination_ip": "203.0.113.1", "destination_port": p, "seconds": p}
        for p in range(20)
    ]
    assert findings(rows) == []


def test_first_contact_outcome_decides_not_later_ones() -> None:
    # Three hosts answered on first contact and failed afterwards: still successes.
    rows = contacts("SSS") + contacts("FFF", start=10) + contacts("FFF", start=20)
    assert findings(rows) == []


def test_pairs_whose_first_outcome_is_unknown_are_skipped() -> None:
    rows = contacts("F?F??FF")
    [finding] = findings(rows)
    assert finding["event_count"] == 4
    assert finding["targets"] == ["203.0.113.1", "203.0.113.3", "203.0.113.6", "203.0.113.7"]
    assert finding["first_seen"] == at(0)
    assert finding["last_seen"] == at(6)
    # The first contact of each pair counts even if a later event has an outcome.
    later = [{**row, "seconds": 100, "connection_outcome": "failed"} for row in contacts("??")]
    assert findings(contacts("??") + later) == []


def test_ports_are_those_of_the_first_contacts_up_to_the_crossing() -> None:
    rows = [
        {**row, "destination_ip": f"203.0.113.{n + 1}", "seconds": n}
        for n, row in enumerate(
            contacts("F", port=445) + contacts("F", port=22) + contacts("FFF", port=3389)
        )
    ]
    [finding] = findings(rows)
    assert finding["ports"] == [22, 445, 3389]
    assert finding["port_count"] == 3
    assert finding["targets"] == ["203.0.113.1", "203.0.113.2", "203.0.113.3", "203.0.113.4"]


def test_ipv6_sources_and_several_sources_are_walked_separately() -> None:
    rows = (
        contacts("FFFF", source="2001:db8::bad")
        + contacts("FFF", source="2001:db8::1")
        + contacts("SSSSFFFF", source=SCANNER)
    )
    assert [(f["source_ip"], f["label"]) for f in findings(rows)] == [
        ("2001:db8::bad", "after 4 first contacts")
    ]


def test_thresholds_come_from_config() -> None:
    # PF 0.001 raises the scanner boundary to ln(990) = 6.90: five failures.
    cfg = TRWConfig(false_positive_probability=0.001)
    assert [f["label"] for f in findings(contacts("FFFFFF"), cfg)] == ["after 5 first contacts"]


def test_walk_exposes_each_step() -> None:
    network = ibis.memtable(network_rows(contacts("FSF")))
    steps = walk(network, TRWConfig()).order_by("contact").to_pyarrow()
    assert steps.column("contact").to_pylist() == [1, 2, 3]
    assert steps.column("llr").to_pylist() == pytest.approx([UP, UP + DOWN, 2 * UP + DOWN])
    assert first_contacts(network).count().to_pyarrow().as_py() == 3
