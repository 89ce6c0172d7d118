"""Approved security exercises and red teams (the playbook's L1 step).

A YAML file lists what was approved::

    exercises:
      - name: Q4 external red team
        sources: [198.51.100.0/28]          # where the testers come from
        start: 2026-09-30T08:00:00Z         # ISO 8601; a time zone is required
        end: 2026-09-30T18:00:00Z
        scope: [203.0.113.0/24]             # what they may touch
        contact: redteam-lead@example.com

Activity from an exercise's sources is ``in_exercise`` only when it lies
wholly inside the window *and* every target lies in scope. Outside either, it
is reported as ``outside_window`` or ``outside_scope`` with the exercise's
name: an approved tester straying out of scope, or an attacker who knows the
testers' addresses, is exactly what an analyst must hear about.

An exercise's ``sources`` may be no wider than /8 (IPv4) or /16 (IPv6): a
``0.0.0.0/0`` there (a typo, or a copy of the scope) would approve every
attacker's scan inside the window, so the file is refused instead.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, model_validator

from reconwatch import strict_yaml
from reconwatch.enrich.intel import MIN_PREFIX, too_wide
from reconwatch.netaddr import IPAddress, IPNetwork, in_any, parse_ip, parse_networks

Status = Literal["in_exercise", "outside_window", "outside_scope", "none"]


class ExerciseError(Exception):
    """An exercises file that cannot be used; the message names the file and key."""


def _cidrs(items: list[str]) -> list[str]:
    parse_networks(items)
    return items


def _tester_cidrs(items: list[str]) -> list[str]:
    for text, net in zip(items, parse_networks(items), strict=True):
        if too_wide(net):
            raise ValueError(
                f"{text.strip()} is wider than /{MIN_PREFIX[net.version]}: it would approve "
                "every source inside it (list the testers' own ranges)"
            )
    return items


def _aware(value: dt.datetime) -> dt.datetime:
    if value.tzinfo is None:
        raise ValueError("needs a time zone (e.g. Z or +02:00): a window is a promise to the SOC")
    return value.astimezone(dt.UTC)


Cidrs = Annotated[list[str], AfterValidator(_cidrs)]
TesterCidrs = Annotated[list[str], AfterValidator(_tester_cidrs)]
Stamp = Annotated[dt.datetime, AfterValidator(_aware)]


class Exercise(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1)
    sources: TesterCidrs = Field(min_length=1)
    start: Stamp
    end: Stamp
    scope: Cidrs = Field(min_length=1)
    contact: str = Field(min_length=1)

    @model_validator(mode="after")
    def _ordered(self) -> Exercise:
        if self.end <= self.start:
            raise ValueError("end must be after start")
        return self

    def source_networks(self) -> list[IPNetwork]:
        return parse_networks(self.sources)

    def scope_networks(self) -> list[IPNetwork]:
        return parse_networks(self.scope)


class ExerciseFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    exercises: list[Exercise] = Field(default_factory=list)


@dataclass(frozen=True)
class Verdict:
    """What the exercises say about one source's activity."""

    status: Status
    exercise: str | None = None
    contact: str | None = None
    #: Targets outside the exercise's scope (a sample), when status is outside_scope.
    out_of_scope: tuple[str, ...] = ()


def load_exercises(path: Path) -> list[Exercise]:
    """Read and validate an exercises file; errors name the file and the key."""
    try:
        data = strict_yaml.load(path.read_text(encoding="utf-8")) or {}
    except OSError as exc:
        raise ExerciseError(f"{path}: cannot read: {exc.strerror}") from exc
    except strict_yaml.DuplicateKeyError as exc:  # e.g. two 'scope:' lists: the first lost
        raise ExerciseError(f"{path}:{strict_yaml.error_line(exc)}: {exc}") from exc
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}" if mark is not None else ""
        raise ExerciseError(f"{path}{where}: not valid YAML") from exc
    if not isinstance(data, dict):
        raise ExerciseError(f"{path}: the top level must be a mapping with 'exercises'")
    try:
        return list(ExerciseFile.model_validate(data).exercises)
    except ValidationError as exc:
        first = exc.errors()[0]
        key = ".".join(str(p) for p in first["loc"])
        raise ExerciseError(f"{path}: {key}: {first['msg']}") from exc


def check(
    exercises: Iterable[Exercise],
    source: str,
    first_seen: dt.datetime,
    last_seen: dt.datetime,
    targets: Iterable[str],
) -> Verdict:
    """Decide whether one source's activity is an approved exercise.

    Several exercises may share testers' addresses: an exact fit anywhere wins;
    otherwise a fit in scope but not in time (``outside_window``) is reported
    before one in time but not in scope (``outside_scope``), and both name the
    exercise. ``source`` must be an address (``ValueError`` otherwise); a
    target that is not one counts as out of scope. Per-case work (a handful
    of sources), so plain Python.
    """
    addr = parse_ip(source)
    target_addrs = [(t, _parse_or_none(t)) for t in targets]
    candidates = [e for e in exercises if in_any(addr, e.source_networks())]
    if not candidates:
        return Verdict("none")
    fallback: Verdict | None = None
    for exercise in candidates:
        in_window = exercise.start <= first_seen and last_seen <= exercise.end
        scope = exercise.scope_networks()
        # A target that is not an address cannot be shown to be in scope.
        strays = tuple(text for text, a in target_addrs if a is None or not in_any(a, scope))
        if in_window and not strays:
            return Verdict("in_exercise", exercise.name, exercise.contact)
        if not in_window and not strays:
            verdict = Verdict("outside_window", exercise.name, exercise.contact)
        elif in_window:
            verdict = Verdict("outside_scope", exercise.name, exercise.contact, strays[:20])
        else:
            verdict = Verdict("outside_window", exercise.name, exercise.contact, strays[:20])
        if fallback is None or _rank(verdict) < _rank(fallback):
            fallback = verdict
    assert fallback is not None
    return fallback


def _parse_or_none(text: str) -> IPAddress | None:
    try:
        return parse_ip(text)
    except ValueError:
        return None


def _rank(verdict: Verdict) -> int:
    return (
        0
        if verdict.status == "outside_window" and not verdict.out_of_scope
        else (1 if verdict.status == "outside_scope" else 2)
    )
