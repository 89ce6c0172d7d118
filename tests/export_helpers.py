"""Cases documents for the export tests: one from a real hunt, and hand-made edge cases.

The hunt runs once per test session on a small generated sample with every
log family, plus a threat-intelligence feed whose actor name is hostile text
(quotes, HTML, Markdown), so exporters see what a real hunt writes.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from reconwatch.cli import SAMPLE_DIRS
from reconwatch.config import load_config
from reconwatch.generate import ALL_FAMILIES, generate_sample, min_sample_size
from reconwatch.hunt import hunt

#: The actor name the feed gives; log and feed content is untrusted.
HOSTILE_ACTOR = 'APT "Quote" <img src=x onerror=alert(1)> | [click](http://evil.example) *x*'
#: A planted block scanner, suspicious on its own, malicious once intel names it.
INTEL_SOURCE = "192.0.2.45"
#: A web path with markup, as a scanner would request it.
HOSTILE_PATH = "/<script>alert('x')</script>?q=`id`#[a](b)"


@pytest.fixture(scope="session")
def hunted(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The cases document of a real hunt (small sample, all families, one intel feed)."""
    root = tmp_path_factory.mktemp("export-hunt")
    sample = root / "sample"
    generate_sample(sample, size=min_sample_size(ALL_FAMILIES) + 500, seed=7, families=ALL_FAMILIES)
    feed = root / "partner.txt"
    feed.write_text(f"# partner feed\n{INTEL_SOURCE}/32\n", encoding="utf-8")
    settings = yaml.safe_load((sample / "reconwatch.yaml").read_text(encoding="utf-8"))
    settings["enrich"] = {
        "feeds": [{"name": "partner", "type": "plain", "path": str(feed), "actor": HOSTILE_ACTOR}]
    }
    config_path = root / "reconwatch.yaml"
    config_path.write_text(yaml.safe_dump(settings), encoding="utf-8")
    result = hunt(
        [str(sample / d) for d in SAMPLE_DIRS], load_config(config_path), out_dir=root / "out"
    )
    # Through JSON, exactly as cases.json is read back.
    document: dict[str, Any] = json.loads(json.dumps(result.document()))
    return document


def case_by_source(document: dict[str, Any], source: str) -> dict[str, Any]:
    return next(c for c in document["cases"] if source in c["sources"])


def swept_ports(hunted: dict[str, Any], ports: range) -> tuple[dict[str, Any], dict[str, Any]]:
    """A copy of the hunt's document whose tcp/8080 sweep (a ``distributed_scan``
    campaign) swept ``ports`` too, with the same members (the case builder
    joins such labels), and that case."""
    document = copy.deepcopy(hunted)
    case = next(c for c in document["cases"] if str(c.get("campaign")).startswith("campaign:tcp/"))
    for port in ports:
        label = case["campaign"].replace("campaign:tcp/8080@", f"campaign:tcp/{port}@")
        assert label != case["campaign"]
        case["findings"].append({**copy.deepcopy(case["findings"][0]), "label": label})
    return document, case


def edge_document(hunted: dict[str, Any]) -> dict[str, Any]:
    """Hand-made cases built on a real one: a campaign of many sources (one
    refused, one named by intel), a blocked IPv6 source, and hostile evidence."""
    base = next(c for c in hunted["cases"] if c["containment"].get("block"))
    campaign = copy.deepcopy(base)
    members = [f"198.51.100.{i}" for i in range(200, 206)]
    campaign.update(
        id="RW-20260930-campaign",
        actor="campaign:198.51.100.200-205",
        sources=members,
        campaign="campaign:198.51.100.200-205",
        detections=["distributed_scan"],
        techniques=["T1590.005", "T1595.001"],
        disposition="malicious",
        escalate=True,
        severity="critical",
        score=90.0,
        targets=["203.0.113.10", "203.0.113.11", "www.example.com"],
        ports=[22],
        containment={
            "block": True,
            "entries": ["198.51.100.200/30", "198.51.100.204/32"],
            "timeout_seconds": 86400,
            "refused": {"198.51.100.205": "protected: partner resolver"},
        },
        enrichment={
            m: {"intel": [], "benign_lists": [], "geo": {"country_code": "NL", "asn": 64500}}
            for m in members
        },
    )
    campaign["enrichment"]["198.51.100.201"]["intel"] = [
        {
            "indicator": "198.51.100.201/32",
            "feed": "partner",
            "actor": HOSTILE_ACTOR,
            "confidence": 80,
            "tags": [],
            "first_seen": None,
            "last_seen": None,
            "reference": "partner.txt:2",
        }
    ]
    v6 = copy.deepcopy(base)
    v6.update(
        id="RW-20260930-ipv6",
        actor="2001:db8:ffff:7::99",
        sources=["2001:db8:ffff:7::99"],
        campaign=None,
        disposition="malicious",
        containment={
            "block": True,
            "entries": ["2001:db8:ffff:7::99/128"],
            "timeout_seconds": 86400,
            "refused": {},
        },
        enrichment={"2001:db8:ffff:7::99": {"intel": [], "benign_lists": [], "geo": {}}},
    )
    hostile = copy.deepcopy(base)
    hostile.update(id="RW-20260930-hostile", reasons=[f"requested {HOSTILE_PATH}"])
    hostile["findings"][0]["evidence"][0]["detail"] = f"GET www.example.com {HOSTILE_PATH} 404"
    benign = copy.deepcopy(base)
    benign.update(
        id="RW-20260930-benign",
        actor="192.0.2.200",
        sources=["192.0.2.200"],
        disposition="benign_scanner",
        escalate=False,
        containment={"block": True, "entries": ["192.0.2.200/32"], "refused": {}},
        enrichment={},
    )
    document = copy.deepcopy(hunted)
    document["cases"] = [campaign, v6, hostile, benign]
    return document


def write(path: Path, document: dict[str, Any]) -> Path:
    path.write_text(json.dumps(document), encoding="utf-8")
    return path
