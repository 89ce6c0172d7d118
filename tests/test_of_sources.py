"""The findings' sources' events cut once (``engine.of_sources``) give the same
cases, charts, exposure and honeypot plan as the whole tables."""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from conftest import sample_lake
from reconwatch.cases import Case, build_cases
from reconwatch.config import Config
from reconwatch.detect import run_detections
from reconwatch.engine import Engine, of_sources
from reconwatch.report.casejson import case_to_dict
from reconwatch.report.series import attach_series
from reconwatch.respond.exposure import exposure_audit
from reconwatch.respond.honeypot import suggest_honeypots


@pytest.fixture(scope="module")
def hunted(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Engine, Config, Any]]:
    lake, config = sample_lake(tmp_path_factory.mktemp("of-sources"), seed=11)
    engine = Engine(lake)
    try:
        tables = engine.tables()
        findings = run_detections(tables, config.detect, site=config.site)
        assert findings.num_rows > 5
        yield engine, config, findings
    finally:
        engine.close()


def documents(cases: list[Case]) -> list[dict[str, Any]]:
    return [case_to_dict(c) for c in cases]


def test_the_cut_holds_exactly_the_sources_events(hunted: tuple[Engine, Config, Any]) -> None:
    engine, _, findings = hunted
    tables = engine.tables()
    sources = [*findings.column("source_ip").to_pylist(), None]  # a null is no source
    with contextlib.ExitStack() as releases:
        cut = of_sources(tables, sources, releases)
        assert set(cut) == set(tables)
        for name, table in tables.items():
            wanted = set(findings.column("source_ip").to_pylist())
            expected = table.filter(table.source_ip.isin(sorted(wanted)))
            keys = [(c, "ascending") for c in ("log_file", "log_line")]
            assert (
                cut[name].to_pyarrow().sort_by(keys).equals(expected.to_pyarrow().sort_by(keys))
            ), name
        empty = of_sources(tables, [], releases)
        assert all(t.count().to_pyarrow().as_py() == 0 for t in empty.values())


def test_the_stages_give_the_same_results_on_the_cut(hunted: tuple[Engine, Config, Any]) -> None:
    engine, config, findings = hunted
    tables = engine.tables()
    samples = config.triage.evidence_samples
    whole = build_cases(tables, findings, samples)
    attach_series(tables, whole)
    actors = sorted({s for c in whole for s in c.sources})
    with contextlib.ExitStack() as releases:
        cut = of_sources(tables, findings.column("source_ip").to_pylist(), releases)
        on_cut = build_cases(tables, findings, samples, by_source=cut)
        attach_series(cut, on_cut)
        assert documents(on_cut) == documents(whole)
        assert [c.series for c in on_cut] == [c.series for c in whole]
        assert dataclasses.asdict(exposure_audit(cut, actors)) == dataclasses.asdict(
            exposure_audit(tables, actors)
        )
        home = config.site.home()
        plain = suggest_honeypots(tables["network"], actors, home=home)
        assert plain.placements or plain.ports
        assert (
            suggest_honeypots(tables["network"], actors, home=home, scanner_events=cut["network"])
            == plain
        )


def test_cases_read_the_events_towards_their_sources_from_the_whole_table(
    tmp_path: Path,
) -> None:
    """The cut holds the sources' own events; what answered them back (a
    connection from our side to the scanner) is only in the whole table."""
    from conftest import network_rows
    from reconwatch.lake import Lake

    scanner = "198.51.100.7"
    rows = [
        {
            "source_ip": scanner,
            "destination_ip": f"203.0.113.{n}",
            "destination_port": 22,
            "seconds": n,
        }
        for n in range(1, 40)
    ]
    back = {
        "source_ip": "203.0.113.5",
        "destination_ip": scanner,
        "destination_port": 4444,
        "connection_outcome": "succeeded",
        "event_action": "allowed",
        "seconds": 100,
    }
    lake = Lake(tmp_path / "lake")
    lake.write("network", network_rows([*rows, back]), "batch")
    engine = Engine(lake)
    try:
        tables = engine.tables()
        findings = run_detections(tables, Config().detect, ["horizontal_scan"])
        assert findings.column("source_ip").to_pylist() == [scanner]
        with contextlib.ExitStack() as releases:
            cut = of_sources(tables, [scanner], releases)
            assert cut["network"].count().to_pyarrow().as_py() == len(rows)
            (case,) = build_cases(tables, findings, 5, by_source=cut)
            (expected,) = build_cases(tables, findings, 5)
        assert case_to_dict(case) == case_to_dict(expected)
        assert case.activity.back_connections == expected.activity.back_connections
        assert case.activity.back_connections
    finally:
        engine.close()
