"""The CrowdSec hub's scenario tests, replayed through reconwatch (issue #4).

Each ``formats/crowdsec-hub/<sample>/scenario.assert`` is CrowdSec's own
expectation for its sample: how many overflows (``len(results) == N``), which
scenario each one is (``results[i].Overflow.Alert.GetScenario() == "..."``) and
which sources it names (``"1.2.3.4" in results[i].Overflow.GetSources()``).
The expectation is read from the file, never copied here.

Every CrowdSec scenario is classified below. For a reconnaissance scenario,
hunting the sample must give a case for exactly the sources CrowdSec flags. For
an out-of-scope one, the source's lines must reach the lake (parsed) and
reconwatch must open no case for it: it hunts reconnaissance, nothing else.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from conftest import SHARED_DATA
from reconwatch import schema
from reconwatch.config import Config
from reconwatch.hunt import hunt
from reconwatch.ingest.run import IngestOptions
from reconwatch.lake import Lake

HUB = SHARED_DATA / "formats" / "crowdsec-hub"

#: The reference time for syslog stamps without a year (as tests/test_cli.py).
NOW = dt.datetime(2026, 11, 28, tzinfo=dt.UTC)

RESULT_COUNT = re.compile(r"^len\(results\) == (\d+)$", re.MULTILINE)
RESULT_SOURCE = re.compile(
    r'^"([^"]+)" in results\[(\d+)\]\.Overflow\.GetSources\(\)$', re.MULTILINE
)
RESULT_SCENARIO = re.compile(
    r'^results\[(\d+)\]\.Overflow\.Alert\.GetScenario\(\) == "([^"]+)"$', re.MULTILINE
)


@dataclass(frozen=True)
class Overflow:
    """One of CrowdSec's expected results: a scenario and the sources it flagged."""

    scenario: str
    sources: frozenset[str]


def crowdsec_overflows(assert_file: Path) -> list[Overflow]:
    """The overflows a ``scenario.assert`` expects, in result order."""
    text = assert_file.read_text(encoding="utf-8")
    counts = RESULT_COUNT.findall(text)
    assert len(counts) == 1, f"{assert_file}: expected one len(results) line, got {counts}"
    count = int(counts[0])
    scenarios = {int(i): name for i, name in RESULT_SCENARIO.findall(text)}
    sources: dict[int, set[str]] = {}
    for ip, i in RESULT_SOURCE.findall(text):
        sources.setdefault(int(i), set()).add(ip)
    assert sorted(scenarios) == list(range(count)), f"{assert_file}: scenarios {scenarios}"
    assert sorted(sources) == list(range(count)), f"{assert_file}: sources {sources}"
    return [Overflow(scenarios[i], frozenset(sources[i])) for i in range(count)]


@dataclass(frozen=True)
class Scope:
    recon: bool
    reason: str


def recon(reason: str) -> Scope:
    return Scope(True, reason)


def out_of_scope(reason: str) -> Scope:
    return Scope(False, reason)


#: Every CrowdSec scenario the hub samples assert, classified.
SCENARIOS: dict[str, Scope] = {
    "crowdsecurity/iptables-scan-multi_ports": recon(
        "port scan: one source, many closed ports of one host (T1046, T1595.001)"
    ),
    "a1ad/mikrotik-scan-multi_ports": recon("port scan seen by a MikroTik firewall (T1595.001)"),
    "firewallservices/pf-scan-multi_ports": recon("port scan seen by pf (T1595.001)"),
    "crowdsecurity/http-probing": recon(
        "content discovery: many distinct paths answered 4xx (T1595.003)"
    ),
    "crowdsecurity/http-bad-user-agent": recon("a web scanner's own User-Agent (T1595.002)"),
    "crowdsecurity/http-sensitive-files": recon(
        "probes for secrets (.env, .git, shell histories) (T1595.003)"
    ),
    "crowdsecurity/http-admin-interface-probing": recon(
        "probes for admin interfaces, renamed installs included (phpMyAdmin variants, "
        "Cisco ASA WebVPN): web_sensitive_path_probe (T1595.003)"
    ),
    "crowdsecurity/http-wordpress-scan": recon(
        "WordPress plugin scripts and readmes answered 404: vulnerability hunting, "
        "web_technology_probe (T1595.002)"
    ),
    "crowdsecurity/http-technology-probing": recon(
        "a path that fingerprints one product (AEM, camera CGI) answered 403/404: "
        "web_technology_probe (T1595.002)"
    ),
    "mstilkerich/bind9-refused": recon(
        "refused zone transfers and ANY queries: DNS enumeration (T1590.002)"
    ),
    "crowdsecurity/suricata-high-medium-severity": recon(
        "severity 2-3 IDS alerts, where ET SCAN and attempted-recon signatures sit "
        "(the sample's are ET SCAN SIPVicious)"
    ),
    "crowdsecurity/suricata-major-severity": out_of_scope(
        "severity-1 IDS alerts are exploitation (the sample's: ET EXPLOIT CVE-2021-41773); "
        "triage reads them only as signs of compromise of an actor already in a case"
    ),
    "crowdsecurity/ssh-bf": out_of_scope(
        "SSH password guessing is credential access (T1110), not reconnaissance"
    ),
}

#: Samples whose content puts a reconnaissance scenario's overflow out of scope.
SAMPLE_SCOPES: dict[str, Scope] = {
    "apache2-malformed": out_of_scope(
        "malformed HTTP: http-probing counts each garbled request line as a path, but "
        "they are TLS ClientHellos sent to the plain-HTTP port, not paths probed"
    ),
    "nginx-http-malformed": out_of_scope(
        "malformed HTTP: Gh0st and njRAT beacons, a TLS ClientHello and 'HELP' sent to the "
        "HTTP port; http-probing counts the garbled request lines as paths"
    ),
}

#: Reconnaissance that CrowdSec flags and reconwatch misses by design of its
#: thresholds: real findings, kept failing (strict xfail) until addressed.
#: None today: http-admin-interface-probing (``/phpmyadmin2017``) is caught by
#: the ``/phpmyadmin*`` family of data/sensitive_paths.yaml, and
#: http-technology-probing and http-wordpress-scan by web_technology_probe
#: (data/technology_paths.yaml: product fingerprints at 1 path, WordPress
#: plugin scripts and readmes at 3).
KNOWN_MISSES: dict[str, str] = {}


def hub_samples() -> list[str]:
    """Samples whose scenario.assert expects something (an empty one is a parser-only test)."""
    return sorted(
        d.name
        for d in HUB.iterdir()
        if (d / "scenario.assert").is_file() and (d / "scenario.assert").stat().st_size > 0
    )


def sample_params() -> list[object]:
    if not HUB.is_dir():
        return ["<no shared data>"]  # fails in the shared_data fixture, never skipped
    return [
        pytest.param(
            name,
            marks=[pytest.mark.xfail(strict=True, reason=KNOWN_MISSES[name])]
            if name in KNOWN_MISSES
            else [],
        )
        for name in hub_samples()
    ]


def lake_sources(lake: Lake) -> set[str]:
    """Every source address the hunt's lake holds an event of."""
    return {
        ip
        for table in schema.TABLES
        if table != "rejects" and lake.files(table)
        for ip in lake.read(table).column("source_ip").to_pylist()
    }


def test_every_scenario_and_sample_is_classified(crowdsec_hub: Path) -> None:
    names = hub_samples()
    assert names, f"no scenario.assert under {crowdsec_hub}"
    asserted = {
        o.scenario for name in names for o in crowdsec_overflows(HUB / name / "scenario.assert")
    }
    assert asserted - set(SCENARIOS) == set(), "classify these CrowdSec scenarios"
    assert set(SCENARIOS) - asserted == set(), "no sample asserts these any more"
    assert set(SAMPLE_SCOPES) | set(KNOWN_MISSES) <= set(names)
    # An empty scenario.assert belongs to a parser-only hub test: it expects
    # nothing of the scenarios, and its parser.assert holds the expectation.
    for sample in crowdsec_hub.iterdir():
        if (sample / "scenario.assert").is_file() and sample.name not in names:
            assert (sample / "parser.assert").stat().st_size > 0, sample.name


@pytest.mark.parametrize("name", sample_params())
def test_hunt_matches_crowdsec_scenario_assert(
    name: str, shared_data: Path, tmp_path: Path
) -> None:
    sample = shared_data / "formats" / "crowdsec-hub" / name
    overflows = crowdsec_overflows(sample / "scenario.assert")
    logs = [str(p) for p in sorted(sample.iterdir()) if p.suffix != ".assert"]
    lake_dir = tmp_path / "lake"
    result = hunt(logs, Config(), lake_dir=lake_dir, options=IngestOptions(now=NOW, jobs=1))

    assert result.run is not None
    totals = result.run.totals
    assert totals.lines > 0 and totals.rejected == 0, totals
    assert totals.parsed + totals.skipped == totals.lines, totals

    expected: set[str] = set()
    ignored: dict[str, str] = {}
    for overflow in overflows:
        scope = SAMPLE_SCOPES.get(name, SCENARIOS[overflow.scenario])
        if scope.recon:
            expected |= overflow.sources
        else:
            ignored.update(dict.fromkeys(overflow.sources, scope.reason))
    cased = {source: case for case in result.cases for source in case.sources}

    missed = expected - set(cased)
    extra = {source: case.detections for source, case in cased.items() if source not in expected}
    assert not missed, f"reconnaissance CrowdSec flags and reconwatch misses: {sorted(missed)}"
    assert not extra, f"cases for sources CrowdSec does not flag as reconnaissance: {extra}"

    # Out of scope: reconwatch read the source's lines (and, above, opened no case).
    seen = lake_sources(Lake(lake_dir))
    assert set(ignored) <= seen, f"out-of-scope sources never parsed: {set(ignored) - seen}"
