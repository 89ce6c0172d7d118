"""Known benign scanners: the real MISP warninglists in ../shared/data, and plain lists."""

from __future__ import annotations

import ipaddress
import json
import random
from pathlib import Path

import pytest

from reconwatch.config import EnrichConfig
from reconwatch.enrich import Enrichment
from reconwatch.enrich.benign import BenignScanners, WarninglistError

FIXTURES = Path(__file__).parent / "fixtures" / "enrich"


@pytest.fixture(scope="module")
def warninglists(shared_data: Path) -> list[Path]:
    paths = sorted((shared_data / "benign-scanners").glob("*.json"))
    assert len(paths) >= 30
    return paths


def test_lists_name_each_address(warninglists: list[Path]) -> None:
    scanners = BenignScanners.load([*warninglists, FIXTURES / "partner-scanners.txt"])
    found = scanners.lookup(
        [
            "162.142.125.7", "185.194.93.130", "2a00:5980:93::130", "::ffff:185.194.93.130",
            "195.184.76.1", "192.0.2.200", "2001:db8:5ca::9", "8.8.8.8", "not an ip",
        ]
    )  # fmt: skip
    assert found == {
        "162.142.125.7": ["Censys IP Ranges Used for Scanning"],
        "185.194.93.130": ["CIRCL IP address used for SSH scanning"],
        "2a00:5980:93::130": ["CIRCL IP address used for SSH scanning"],
        "::ffff:185.194.93.130": ["CIRCL IP address used for SSH scanning"],
        "195.184.76.1": [
            "List of published IP address ranges for Onyphe Scanner",
            "Onyphe IP Ranges Used for Scanning",
        ],
        "192.0.2.200": ["partner-scanners"],
        "2001:db8:5ca::9": ["partner-scanners"],
        "8.8.8.8": [],
        "not an ip": [],
    }
    partner = scanners.lists[-1]
    assert (partner.name, partner.entries, partner.skipped) == ("partner-scanners", 2, 1)
    total = sum(len(json.loads(p.read_text())["list"]) for p in warninglists)
    assert sum(b.entries + b.skipped for b in scanners.lists[:-1]) == total


def test_lookup_agrees_with_brute_force(warninglists: list[Path]) -> None:
    entries: list[tuple[str, ipaddress.IPv4Network | ipaddress.IPv6Network]] = []
    for path in warninglists:
        data = json.loads(path.read_text())
        entries += [(data["name"], ipaddress.ip_network(v, strict=False)) for v in data["list"]]
    rng = random.Random(5)
    probes: set[str] = set()
    for _, net in rng.sample(entries, 150):
        probes.add(str(net.network_address))
        probes.add(str(net.broadcast_address))
        top = 2**32 - 1 if net.version == 4 else 2**128 - 1
        if int(net.broadcast_address) < top:
            probes.add(str(ipaddress.ip_address(int(net.broadcast_address) + 1)))
    expected = {
        ip: sorted({name for name, net in entries if ipaddress.ip_address(ip) in net})
        for ip in probes
    }
    assert BenignScanners.load(warninglists).lookup(probes) == expected
    assert any(expected.values()) and not all(expected.values())


def test_not_a_warninglist_names_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"name": "x", "type": "regex", "list": ["a.*"]}))
    with pytest.raises(WarninglistError, match=r"bad\.json: warninglist type 'regex'"):
        BenignScanners.load([bad])
    bad.write_text("{not json")
    with pytest.raises(WarninglistError, match=r"bad\.json: not JSON"):
        BenignScanners.load([bad])


def test_no_lists_match_nothing() -> None:
    assert BenignScanners.load([]).lookup(["1.2.3.4"]) == {"1.2.3.4": []}


def test_too_wide_entries_are_refused_not_benign(tmp_path: Path) -> None:
    poisoned = tmp_path / "poisoned.json"
    entries = ["0.0.0.0/1", "128.0.0.0/1", "1.2.3.4/2", "::/1", "8000::/1", "::ffff:0.0.0.0/97",
               "0.0.0.0/0", "198.51.100.0/24"]  # fmt: skip
    poisoned.write_text(json.dumps({"name": "poisoned", "type": "cidr", "list": entries}))
    scanners = BenignScanners.load([poisoned])
    found = scanners.lookup(["8.8.8.8", "203.0.113.9", "2001:db8::1", "198.51.100.7"])
    assert found == {"8.8.8.8": [], "203.0.113.9": [], "2001:db8::1": [],
                     "198.51.100.7": ["poisoned"]}  # fmt: skip
    listed = scanners.lists[0]
    assert (listed.entries, listed.too_wide, listed.skipped) == (1, 7, 0)
    # The limits can be narrowed per call (the hunt keeps the lists' own /8, /16).
    strict = BenignScanners.load([poisoned], min_prefix_ipv4=25)
    assert strict.lookup(["198.51.100.7"]) == {"198.51.100.7": []}


def test_strict_feed_limits_keep_real_lists_and_too_wide_entries_are_told(
    warninglists: list[Path], tmp_path: Path
) -> None:
    # Feeds narrowed to /24 and /48 (a cautious SOC): the real lists' /22s and
    # onyphe's IPv6 /29 are still research scanners (the lists' limits are
    # their own); a poisoned entry is refused and said so.
    poisoned = tmp_path / "poisoned.json"
    poisoned.write_text(json.dumps({"name": "poisoned", "type": "cidr", "list": ["0.0.0.0/1"]}))
    config = EnrichConfig(
        warninglists=[*warninglists, poisoned], min_prefix_ipv4=24, min_prefix_ipv6=48
    )
    enrichment = Enrichment.load(config, cache_dir=tmp_path)
    try:
        found = {b.name: b for b in enrichment.benign.lists}
        assert all(b.too_wide == 0 for name, b in found.items() if name != "poisoned")
        assert found["poisoned"].too_wide == 1
        assert [e for e in enrichment.errors if "wider than" in e] == [
            f"warninglist {poisoned}: 1 entries wider than /8 (IPv4) or /16 (IPv6) refused"
        ]
    finally:
        enrichment.close()
