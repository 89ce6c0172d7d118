"""Approved exercises: inside window and scope, outside either, or not an exercise at all."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from reconwatch.enrich.exercises import Exercise, ExerciseError, Verdict, check, load_exercises

FIXTURES = Path(__file__).parent / "fixtures" / "enrich"
UTC = dt.UTC


def _t(hour: int, day: int = 30, month: int = 9) -> dt.datetime:
    return dt.datetime(2026, month, day, hour, tzinfo=UTC)


@pytest.fixture(scope="module")
def exercises() -> list[Exercise]:
    return load_exercises(FIXTURES / "exercises.yaml")


def test_file_is_read(exercises: list[Exercise]) -> None:
    assert [e.name for e in exercises] == ["Q4 external red team", "Web app pentest"]
    # +02:00 is normalised to UTC.
    assert exercises[1].start == dt.datetime(2026, 10, 5, 7, tzinfo=UTC)


def test_inside_window_and_scope(exercises: list[Exercise]) -> None:
    verdict = check(exercises, "198.51.100.3", _t(9), _t(10), ["203.0.113.5", "203.0.113.127"])
    assert verdict == Verdict("in_exercise", "Q4 external red team", "redteam-lead@example.com")
    v6 = check(exercises, "2001:db8:7ea::5", _t(8), _t(18), ["203.0.113.0"])
    assert v6.status == "in_exercise"


def test_window_edges_and_outside(exercises: list[Exercise]) -> None:
    assert check(exercises, "198.51.100.3", _t(7), _t(9), []).status == "outside_window"
    assert check(exercises, "198.51.100.3", _t(17), _t(19), []).status == "outside_window"
    late = check(exercises, "198.51.100.3", _t(19), _t(20), ["203.0.113.1"])
    assert late == Verdict("outside_window", "Q4 external red team", "redteam-lead@example.com")


def test_outside_scope_lists_strays(exercises: list[Exercise]) -> None:
    verdict = check(exercises, "198.51.100.3", _t(9), _t(10), ["203.0.113.5", "203.0.113.128"])
    assert verdict == Verdict(
        "outside_scope", "Q4 external red team", "redteam-lead@example.com", ("203.0.113.128",)
    )


def test_overlapping_exercises_exact_fit_wins(exercises: list[Exercise]) -> None:
    # 198.51.100.9 belongs to both; on Oct 5 it is the pentest, in scope.
    pentest = check(exercises, "198.51.100.9", _t(8, 5, 10), _t(9, 5, 10), ["203.0.113.200"])
    assert pentest == Verdict("in_exercise", "Web app pentest", "appsec@example.com")
    # On Sep 30 it is the red team's window, but 203.0.113.200 is outside its scope;
    # the pentest has it in scope but not at that time: outside_window wins.
    stray = check(exercises, "198.51.100.9", _t(9), _t(10), ["203.0.113.200"])
    assert stray == Verdict("outside_window", "Web app pentest", "appsec@example.com")


def test_unknown_source_is_none(exercises: list[Exercise]) -> None:
    assert check(exercises, "192.0.2.1", _t(9), _t(10), ["203.0.113.5"]) == Verdict("none")
    assert check([], "198.51.100.3", _t(9), _t(10), []) == Verdict("none")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("exercises:\n  - name: x\n", r"bad\.yaml: exercises\.0\.sources: Field required"),
        (
            "exercises:\n  - {name: x, sources: [10.0.0.1/8], start: 2026-01-01T00:00:00Z,"
            " end: 2026-01-02T00:00:00Z, scope: [10.0.0.0/8], contact: a}\n",
            r"bad\.yaml: exercises\.0\.sources: Value error, .*has host bits set",
        ),
        (
            "exercises:\n  - {name: x, sources: [10.0.0.0/8], start: 2026-01-01T00:00:00,"
            " end: 2026-01-02T00:00:00Z, scope: [10.0.0.0/8], contact: a}\n",
            r"bad\.yaml: exercises\.0\.start: Value error, needs a time zone",
        ),
        (
            "exercises:\n  - {name: x, sources: [10.0.0.0/8], start: 2026-01-02T00:00:00Z,"
            " end: 2026-01-01T00:00:00Z, scope: [10.0.0.0/8], contact: a}\n",
            r"bad\.yaml: exercises\.0: Value error, end must be after start",
        ),
        # A second scope list replaced the first in silence: another exercise's scope.
        (
            "exercises:\n  - name: x\n    sources: [10.0.0.0/8]\n    scope: [10.0.0.0/8]\n"
            "    scope: [0.0.0.0/0]\n",
            r"bad\.yaml:5: duplicate key 'scope' \(first on line 4\)$",
        ),
        # Testers' sources of 0.0.0.0/0 (or half the internet) would approve every scan.
        (
            "exercises:\n  - {name: x, sources: [0.0.0.0/0], start: 2026-01-01T00:00:00Z,"
            " end: 2026-01-02T00:00:00Z, scope: [10.0.0.0/8], contact: a}\n",
            r"bad\.yaml: exercises\.0\.sources: Value error, 0\.0\.0\.0/0 is wider than /8",
        ),
        (
            "exercises:\n  - {name: x, sources: ['10.0.0.0/8', '::ffff:0.0.0.0/97'],"
            " start: 2026-01-01T00:00:00Z,"
            " end: 2026-01-02T00:00:00Z, scope: [10.0.0.0/8], contact: a}\n",
            r"exercises\.0\.sources: Value error, ::ffff:0\.0\.0\.0/97 is wider than /8",
        ),
        (
            "exercises:\n  - {name: x, sources: ['2000::/3'], start: 2026-01-01T00:00:00Z,"
            " end: 2026-01-02T00:00:00Z, scope: [10.0.0.0/8], contact: a}\n",
            r"exercises\.0\.sources: Value error, 2000::/3 is wider than /16",
        ),
        ("exercises: [\n", r"bad\.yaml:\d+: not valid YAML"),
        ("- a\n", r"bad\.yaml: the top level must be a mapping"),
        ("exercise: []\n", r"bad\.yaml: exercise: Extra inputs are not permitted"),
    ],
)
def test_validation_errors_name_file_and_key(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(ExerciseError, match=message):
        load_exercises(path)


def test_unparsable_target_is_out_of_scope(exercises: list[Exercise]) -> None:
    verdict = check(exercises, "198.51.100.3", _t(9), _t(10), ["203.0.113.5", "garbage"])
    assert (verdict.status, verdict.out_of_scope) == ("outside_scope", ("garbage",))
