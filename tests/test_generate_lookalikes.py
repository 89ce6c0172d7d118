"""The benign look-alikes of the sample generator: each one as its docstring promises.

They are the false-positive half of the detection quality benchmark
(bench/quality.py), so each must look like the real thing (a NAT gateway
mostly succeeds, a crawler reads robots.txt first, a mail server's PTR
lookups are scattered) and must stay off by default.
"""

from __future__ import annotations

import ipaddress
import itertools
import re
from collections import Counter, defaultdict
from pathlib import Path

import pytest

from reconwatch.generate import (
    ACCESS_LOG,
    ALL_FAMILIES,
    ZEEK_CONN_LOG,
    ZEEK_DNS_LOG,
    GroundTruth,
    generate_sample,
    min_sample_size,
)
from reconwatch.generate.lookalikes import BINGBOT_UA, GOOGLEBOT_UA, LOOKALIKE_KINDS

Sample = tuple[Path, GroundTruth]

_ACCESS = re.compile(
    r'^(?P<host>\S+) (?P<client>\S+) - - \[[^\]]+\] "[A-Z]+ (?P<path>\S+) HTTP/1\.1" '
    r'(?P<status>\d{3}) \d+ "[^"]*" "(?P<agent>[^"]*)"$'
)


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Sample:
    out = tmp_path_factory.mktemp("lookalikes")
    truth = generate_sample(out, size=20_000, seed=7, families=ALL_FAMILIES, lookalikes=True)
    return out, truth


def _zeek(path: Path) -> list[list[str]]:
    return [line.split("\t") for line in path.read_text().splitlines() if line[:1] != "#"]


def _by_source(rows: list[list[str]], source: str) -> list[list[str]]:
    return [r for r in rows if r[2] == source]


def _access(out: Path, client: str) -> list[dict[str, str]]:
    rows = []
    for line in (out / ACCESS_LOG).read_text().splitlines():
        m = _ACCESS.match(line)
        assert m is not None, line
        if m["client"] == client:
            rows.append(m.groupdict())
    return rows


def test_off_by_default_and_listed_after_the_other_actors(sample: Sample, tmp_path: Path) -> None:
    plain = generate_sample(tmp_path, size=20_000, seed=7, families=ALL_FAMILIES)
    assert not {a.kind for a in plain.actors} & LOOKALIKE_KINDS
    truth = sample[1]
    old = [a.kind for a in plain.actors]
    # Network look-alikes after the network actors (the demo's 8, then the 49
    # planted with the families), DNS/web ones after the rest.
    assert [a.kind for a in truth.actors] == [
        *old[:57], "nat_gateway", "monitoring_probe", "internal_vuln_scanner", *old[57:],
        "search_crawler", "search_crawler", *["cdn_health_check"] * 3, "mail_ptr_lookups",
        "forwarding_resolver",
    ]  # fmt: skip
    added = [a for a in truth.actors if a.kind in LOOKALIKE_KINDS]
    # Only the internal vulnerability scanner is expected to raise a case.
    assert [a.kind for a in added if a.expected_detections] == ["internal_vuln_scanner"]
    # The scanners' own lines do not move when the look-alikes join.
    before = {a.address: a.lines for a in plain.actors}
    for actor in truth.actors:
        if actor.address in before:
            assert actor.lines == before[actor.address], actor.kind


def test_size_stays_exact_and_the_minimum_holds_every_lookalike(tmp_path: Path) -> None:
    minimum = min_sample_size(ALL_FAMILIES, lookalikes=True)
    # 5,512 network lines (NAT 4,000, Nagios 552, vulnerability scan 960) and
    # 3,179 DNS/web lines (crawlers 262, CDN 717, mail PTR 2 x 400, forwarder
    # 2 x 700: BIND and Zeek each log a query) on top of the families' minimum.
    assert minimum == min_sample_size(ALL_FAMILIES) + 5512 + 3179
    truth = generate_sample(tmp_path, size=minimum, families=ALL_FAMILIES, lookalikes=True)
    assert sum(truth.files.values()) == minimum
    with pytest.raises(ValueError, match=f"at least {minimum}"):
        generate_sample(tmp_path / "b", size=minimum - 1, families=ALL_FAMILIES, lookalikes=True)


def test_same_seed_gives_identical_files(sample: Sample, tmp_path: Path) -> None:
    generate_sample(tmp_path, size=20_000, seed=7, families=ALL_FAMILIES, lookalikes=True)
    for name in (ZEEK_CONN_LOG, ZEEK_DNS_LOG, ACCESS_LOG, "truth.json"):
        assert (tmp_path / name).read_bytes() == (sample[0] / name).read_bytes(), name


def test_nat_gateway_mostly_succeeds_towards_many_servers(sample: Sample) -> None:
    rows = _by_source(_zeek(sample[0] / ZEEK_CONN_LOG), "10.0.8.1")
    assert len(rows) == sample[1].actor("10.0.8.1").lines[ZEEK_CONN_LOG] == 4000
    states = Counter(r[11] for r in rows)
    assert states["SF"] / len(rows) >= 0.96
    assert 0 < states["S0"] + states["REJ"] <= 0.04 * len(rows)
    assert len({r[4] for r in rows}) >= 300
    assert all(not ipaddress.ip_address(r[4]).is_private for r in rows)
    # A steady rate: no window far above the others (what traffic_spike looks for).
    per_window = sorted(Counter(int(float(r[0])) // 300 for r in rows).values())
    assert len(per_window) == 24 and per_window[-1] < 1.4 * per_window[len(per_window) // 2]


def test_monitoring_checks_the_same_services_every_five_minutes(sample: Sample) -> None:
    rows = _by_source(_zeek(sample[0] / ZEEK_CONN_LOG), "10.0.0.5")
    assert {r[11] for r in rows} == {"SF"}
    pairs = Counter((r[4], r[5]) for r in rows)
    assert len(pairs) == 24 and len({h for h, _ in pairs}) == 3
    assert set(pairs.values()) == {23}  # every check in every round
    first = sorted(float(r[0]) for r in rows if (r[4], r[5]) == ("10.0.6.10", "22"))
    gaps = [b - a for a, b in itertools.pairwise(first)]
    assert all(299.5 < g < 300.5 for g in gaps)


def test_vulnerability_scanner_probes_40_ports_on_24_servers(sample: Sample) -> None:
    rows = _by_source(_zeek(sample[0] / ZEEK_CONN_LOG), "10.0.0.30")
    assert len(rows) == 960
    assert len({r[4] for r in rows}) == 24 and len({r[5] for r in rows}) == 40
    states = Counter(r[11] for r in rows)
    assert set(states) == {"SF", "REJ"} and states["REJ"] > 800
    span = max(float(r[0]) for r in rows) - min(float(r[0]) for r in rows)
    assert span < 300  # one scheduled run


def test_crawlers_read_robots_first_then_distinct_pages(sample: Sample) -> None:
    for client, agent, pages in (
        ("198.51.100.180", GOOGLEBOT_UA, 160),
        ("198.51.100.181", BINGBOT_UA, 100),
    ):
        rows = _access(sample[0], client)
        assert len(rows) == pages + 1
        assert rows[0]["path"] == "/robots.txt" and rows[0]["status"] == "200"
        assert {r["agent"] for r in rows} == {agent}
        assert len({r["path"] for r in rows}) == len(rows)
        statuses = Counter(r["status"] for r in rows)
        assert statuses["200"] / len(rows) >= 0.85
        assert statuses["404"] < 25  # the wordlist detection's threshold


def test_cdn_health_checks_repeat_one_path_by_name(sample: Sample) -> None:
    for i in range(3):
        rows = _access(sample[0], f"192.0.2.{140 + i}")
        assert len(rows) == 239
        assert {(r["path"], r["status"], r["host"]) for r in rows} == {
            ("/healthz", "200", "www.example.com:443")
        }


def test_mail_server_ptr_lookups_are_scattered(sample: Sample) -> None:
    rows = _by_source(_zeek(sample[0] / ZEEK_DNS_LOG), "203.0.113.25")
    assert len(rows) == 400 and {r[13] for r in rows} == {"PTR"}
    addresses = [".".join(reversed(r[9].split(".")[:4])) for r in rows]
    assert all(r[9].endswith(".in-addr.arpa") for r in rows)
    assert all(ipaddress.ip_address(a).is_global for a in addresses)
    per_24 = Counter(a.rsplit(".", 1)[0] for a in set(addresses))
    assert max(per_24.values()) <= 3  # nothing like a /24 walk (ptr_sweep: 32)
    nx = sum(r[15] == "NXDOMAIN" for r in rows) / len(rows)
    assert 0.2 < nx < 0.4


def test_forwarding_resolver_spreads_names_over_many_zones(sample: Sample) -> None:
    rows = _by_source(_zeek(sample[0] / ZEEK_DNS_LOG), "10.0.9.53")
    assert len(rows) == 700
    zones = {".".join(r[9].split(".")[-2:]) for r in rows}
    assert len(zones) >= 15
    assert sum(r[15] == "NXDOMAIN" for r in rows) / len(rows) < 0.1
    names: dict[tuple[str, int], set[str]] = defaultdict(set)
    for r in rows:
        names[(".".join(r[9].split(".")[-2:]), int(float(r[0])) // 900)].add(r[9])
    assert max(len(v) for v in names.values()) < 50  # dns_bruteforce's name count
