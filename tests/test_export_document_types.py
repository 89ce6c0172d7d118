"""A hand-edited cases document: any value of any type in any field an exporter
reads is either exported or refused with one line naming the file, the case and
the field, by every exporter, never a traceback."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from export_helpers import INTEL_SOURCE, case_by_source, hunted
from reconwatch.export.document import CasesDocumentError, parse_document
from reconwatch.export.ecs import export_ecs
from reconwatch.export.ocsf import export_ocsf
from reconwatch.export.stix import export_stix
from reconwatch.export.thehive import export_thehive

__all__ = ["hunted"]

EXPORTERS: list[Callable[[dict[str, Any]], str]] = [
    export_stix,
    export_ocsf,
    export_ecs,
    export_thehive,
]

#: Where a value goes (a path into the case), and what the error must name.
FIELDS: list[tuple[tuple[str | int, ...], str]] = [
    (("id",), "'id'"),
    (("actor",), "'actor'"),
    (("sources",), "source"),
    (("severity",), "severity"),
    (("disposition",), "'disposition'"),
    (("first_seen",), "first_seen"),
    (("last_seen",), "last_seen"),
    (("score",), "'score'"),
    (("detections",), "'detections'"),
    (("techniques",), "'techniques'"),
    (("reasons",), "'reasons'"),
    (("targets",), "'targets'"),
    (("ports",), "'ports'"),
    (("campaign",), "'campaign'"),
    (("escalate",), "'escalate'"),
    (("answers",), "'answers'"),
    (("tier2",), "'tier2"),
    (("tier2", "recommended_actions"), "'tier2.recommended_actions'"),
    (("criteria",), "'criteria"),
    (("criteria", "repeated_scanning"), "'criteria.repeated_scanning'"),
    (("activity",), "'activity"),
    (("activity", "datasets"), "'activity.datasets'"),
    (("findings",), "'findings"),
    (("findings", 0), "'findings"),
    (("findings", 0, "event_count"), "'findings[].event_count'"),
    (("findings", 0, "evidence"), "'findings[].evidence'"),
    (("containment",), "'containment"),
    (("containment", "block"), "'containment.block'"),
    (("containment", "entries"), "'containment.entries'"),
    (("containment", "timeout_seconds"), "'containment.timeout_seconds'"),
    (("containment", "refused"), "'containment.refused'"),
    (("enrichment",), "'enrichment"),
    (("enrichment", INTEL_SOURCE), f"'enrichment.{INTEL_SOURCE}"),
    (
        ("enrichment", INTEL_SOURCE, "intel", 0, "confidence"),
        f"'enrichment.{INTEL_SOURCE}.intel[].confidence'",
    ),
    (("generated_at",), "generated_at"),
]

JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63)
    | st.floats()
    | st.text(max_size=12)
    | st.sampled_from(["T1595", "198.51.100.7", "2026-09-30T10:00:00Z", "low", "malicious"]),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=6,
)


@pytest.fixture(scope="module")
def base(hunted: dict[str, Any]) -> dict[str, Any]:
    """A real escalated, blocked case named by intel, with every part an exporter reads."""
    case = copy.deepcopy(case_by_source(hunted, INTEL_SOURCE))
    assert case["findings"] and case["findings"][0]["evidence"]
    assert case["enrichment"][INTEL_SOURCE]["intel"]
    case["tier2"] = case.get("tier2") or {"recommended_actions": ["Block the source"]}
    case["ports"], case["targets"] = case["ports"] or [22], case["targets"] or ["203.0.113.10"]
    document = {**hunted, "cases": [case]}
    for build in EXPORTERS:
        build(document)  # the real case exports
    return document


def _set(document: dict[str, Any], path: tuple[str | int, ...], value: Any) -> None:
    target: Any = document if path == ("generated_at",) else document["cases"][0]
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(field=st.sampled_from(FIELDS), value=JSON_VALUES)
def test_any_value_in_any_field_is_exported_or_one_line_naming_it(
    base: dict[str, Any], field: tuple[tuple[str | int, ...], str], value: Any
) -> None:
    path, named = field
    document = copy.deepcopy(base)
    _set(document, path, value)
    text = json.dumps(document)  # NaN and Infinity too: json reads them back
    try:
        checked = parse_document(text, "hand.json")
    except CasesDocumentError as exc:
        message = str(exc)
        assert "\n" not in message and message.startswith("hand.json: "), message
        assert named in message, (named, message)
        case_id = document["cases"][0].get("id")
        if path != ("generated_at",) and isinstance(case_id, str):
            assert f"case 0 ({case_id[:60]})" in message, message
        return
    for build in EXPORTERS:
        build(checked)


@pytest.mark.parametrize(
    ("path", "value", "named"),
    [
        (("techniques",), 5, "'techniques' must be a list"),
        (("techniques",), "T1595", "'techniques' must be a list"),
        (("reasons",), 5, "'reasons' must be a list of text"),
        (("targets",), 5, "'targets' must be a list of text"),
        (("ports",), "22", "'ports' must be a list of integers"),
        (("tier2",), "none", "'tier2' must be an object"),
        (("tier2", "recommended_actions"), 3, "'tier2.recommended_actions' must be a list"),
        (("criteria", "compromise"), "yes", "'criteria.compromise' must be an object"),
        (("activity", "datasets"), 7, "'activity.datasets' must be a list of text"),
        (("containment", "entries"), 7, "'containment.entries' must be a list of text"),
        (("score",), float("nan"), "'score' must be a number"),
    ],
)
def test_the_reported_hand_edits_are_one_line_naming_the_case_and_field(
    base: dict[str, Any], path: tuple[str, ...], value: Any, named: str
) -> None:
    document = copy.deepcopy(base)
    _set(document, path, value)
    case_id = document["cases"][0]["id"]
    with pytest.raises(CasesDocumentError) as caught:
        parse_document(json.dumps(document), "hand3.json")
    assert str(caught.value).startswith(f"hand3.json: case 0 ({case_id}): {named}")
