"""Everything enrichment knows about a case's sources, loaded once per hunt.

Triage asks per case; the lookups below run once for *all* cases' sources
(one range join per source of knowledge), not once per case.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reconwatch.config import EnrichConfig
from reconwatch.enrich.benign import BenignScanners, WarninglistError
from reconwatch.enrich.exercises import Exercise, ExerciseError, Verdict, check, load_exercises
from reconwatch.enrich.feeds import load_intel
from reconwatch.enrich.geo import Geo, GeoInfo
from reconwatch.enrich.intel import MIN_PREFIX, IntelIndex
from reconwatch.netaddr import in_any, parse_ip


@dataclass
class SourceContext:
    """What enrichment says about one source address."""

    #: One dict per matching indicator: indicator, feed, actor, confidence,
    #: tags, first_seen, last_seen, reference (the evidence for triage).
    intel: list[dict[str, Any]] = field(default_factory=list)
    #: Names of the benign-scanner lists the source is on.
    benign: list[str] = field(default_factory=list)
    geo: GeoInfo = field(default_factory=GeoInfo)

    @property
    def actors(self) -> list[str]:
        return sorted({str(hit["actor"]) for hit in self.intel if hit.get("actor")})


@dataclass
class Enrichment:
    """Loaded intel, benign lists, exercises and geo; problems in ``errors``, never raised."""

    intel: IntelIndex
    benign: BenignScanners
    exercises: list[Exercise]
    geo: Geo
    errors: list[str] = field(default_factory=list)
    #: Why the configured exercise calendar could not be read; None when it was
    #: (or none is configured). Its exercises are then unknown, not absent.
    exercises_error: str | None = None

    @classmethod
    def load(
        cls, config: EnrichConfig, cache_dir: Path | None = None, now: dt.datetime | None = None
    ) -> Enrichment:
        """Read everything configured (local files and the feed cache; no network).

        Indicators are judged valid or expired at ``now`` (default: the current time).
        """
        errors: list[str] = []
        intel = load_intel(config, cache_dir, now)
        for report in intel.reports:
            errors.extend(f"feed {report.feed}: {e}" for e in report.errors)
        try:
            # Their own limits (/8, /16), not the indicators': an analyst who
            # narrows ``min_prefix_ipv6`` to /48 for feeds must not lose a
            # scanner list's /29 (onyphe's), nor one who widens it open a /4.
            benign = BenignScanners.load(config.warninglists)
            errors.extend(
                f"warninglist {b.path}: {b.too_wide} entries wider than /{MIN_PREFIX[4]} (IPv4) "
                f"or /{MIN_PREFIX[6]} (IPv6) refused"
                for b in benign.lists
                if b.too_wide
            )
        except WarninglistError as exc:
            errors.append(str(exc))
            benign = BenignScanners.load([])
        exercises: list[Exercise] = []
        exercises_error = None
        if config.exercises is not None:
            try:
                exercises = load_exercises(config.exercises)
            except ExerciseError as exc:
                errors.append(str(exc))
                exercises_error = str(exc)
        geo = Geo.open(config.geo)
        errors.extend(geo.errors)
        return cls(
            intel=intel, benign=benign, exercises=exercises, geo=geo, errors=errors,
            exercises_error=exercises_error,
        )  # fmt: skip

    def unread_feeds(self) -> dict[str, str]:
        """Configured feeds that could not be read at all: name -> why."""
        return {
            r.feed: (r.errors[0] if r.errors else "not read")
            for r in self.intel.reports
            if not r.loaded
        }

    def testers(self, ips: Iterable[str]) -> set[str]:
        """The addresses among ``ips`` that some exercise lists as its testers' sources."""
        networks = [n for e in self.exercises for n in e.source_networks()]
        return {ip for ip in set(ips) if networks and in_any(parse_ip(ip), networks)}

    def sources(self, ips: Iterable[str]) -> dict[str, SourceContext]:
        """Context for every address given, in three set-based lookups."""
        wanted = sorted(set(ips))
        result = {ip: SourceContext() for ip in wanted}
        for row in self.intel.match_ips(wanted).to_pylist():
            result[row.pop("ip")].intel.append(row)
        for ip, names in self.benign.lookup(wanted).items():
            result[ip].benign = names
        for ip, info in self.geo.lookup(wanted).items():
            result[ip].geo = info
        return result

    def exercise(
        self, source: str, first_seen: dt.datetime, last_seen: dt.datetime, targets: Iterable[str]
    ) -> Verdict:
        """Whether one source's activity is an approved exercise (see exercises.check)."""
        return check(self.exercises, source, first_seen, last_seen, targets)

    def close(self) -> None:
        self.geo.close()
