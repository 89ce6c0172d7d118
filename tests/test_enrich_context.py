"""Enrichment loaded from config: every source of knowledge at once, errors collected."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from reconwatch.config import CsvColumnsConfig, EnrichConfig, FeedConfig, GeoConfig
from reconwatch.enrich import Enrichment
from reconwatch.enrich.geo import GeoInfo

FIXTURES = Path(__file__).parent / "fixtures" / "enrich"


def test_sources_and_exercise(shared_data: Path, tmp_path: Path) -> None:
    config = EnrichConfig(
        cache_dir=tmp_path / "cache",
        feeds=[
            FeedConfig(name="drop", type="plain", path=FIXTURES / "blocklist.txt", actor="DROP"),
            FeedConfig(
                name="partner",
                type="csv",
                path=FIXTURES / "intel.csv",
                csv=CsvColumnsConfig(ip="address", actor="group", confidence="score"),
            ),
        ],
        warninglists=[shared_data / "benign-scanners" / "censys-scanning.json"],
        exercises=FIXTURES / "exercises.yaml",
        geo=GeoConfig(iptoasn=[FIXTURES / "ip2asn-v4.tsv"]),
    )
    enrichment = Enrichment.load(config)
    try:
        assert enrichment.errors == []
        ctx = enrichment.sources(["198.51.100.23", "162.142.125.7", "203.0.113.50"])
        first = ctx["198.51.100.23"]
        assert [(h["feed"], h["indicator"], h["actor"], h["confidence"]) for h in first.intel] == [
            ("drop", "198.51.100.23", "DROP", None),
            ("partner", "198.51.100.0/25", None, None),
            ("partner", "198.51.100.23", "ShadowSurveyor", 85),
        ]
        assert first.actors == ["DROP", "ShadowSurveyor"]
        assert first.geo == GeoInfo(
            country_code="DE", asn=64501,
            as_organization='EXAMPLE-HOSTING Example "Hosting" GmbH', asn_source="iptoasn",
        )  # fmt: skip
        assert ctx["162.142.125.7"].benign == ["Censys IP Ranges Used for Scanning"]
        assert ctx["162.142.125.7"].intel == []
        assert [h["indicator"] for h in ctx["203.0.113.50"].intel] == ["203.0.113.0/24"]
        when = dt.datetime(2026, 9, 30, 9, tzinfo=dt.UTC)
        verdict = enrichment.exercise("198.51.100.1", when, when, ["203.0.113.1"])
        assert (verdict.status, verdict.exercise) == ("in_exercise", "Q4 external red team")
    finally:
        enrichment.close()


def test_problems_are_collected_not_raised(tmp_path: Path) -> None:
    config = EnrichConfig(
        cache_dir=tmp_path / "cache",
        feeds=[FeedConfig(name="remote", type="plain", url="https://intel.invalid/list.txt")],
        exercises=tmp_path / "missing.yaml",
        geo=GeoConfig(asn_mmdb=tmp_path / "missing.mmdb"),
    )
    enrichment = Enrichment.load(config)
    assert len(enrichment.errors) == 3
    assert enrichment.errors[0] == (
        f"feed remote: {tmp_path / 'cache' / 'remote' / 'feed.txt'}: not found "
        "(run `reconwatch feeds update`?)"
    )
    assert enrichment.errors[1].startswith(f"{tmp_path / 'missing.yaml'}: cannot read")
    assert enrichment.errors[2].startswith(f"{tmp_path / 'missing.mmdb'}: cannot open")
    assert enrichment.sources(["192.0.2.1"])["192.0.2.1"].intel == []
