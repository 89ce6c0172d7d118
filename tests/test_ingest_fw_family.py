"""The firewall family as a whole: sniffing, the framework, and robustness."""

from __future__ import annotations

from pathlib import Path

import pyarrow.compute as pc
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ingest_helpers import NOW, make, mutated_lines, parse
from reconwatch.config import Config
from reconwatch.ingest import firewalls, registry
from reconwatch.ingest.base import Parser
from reconwatch.ingest.run import IngestOptions, ingest
from reconwatch.lake import Lake
from test_ingest_fw_helpers import FIXTURES, fixture_lines

#: Which parser each fixture and real sample belongs to.
OWN_FIXTURES = {
    "pf.log": "pf",
    "cisco-asa.log": "cisco-asa",
    "mikrotik.log": "mikrotik",
    "vpcflow-v2.log": "aws-vpcflow",
    "vpcflow-v5.log": "aws-vpcflow",
    "panos.log": "panos",
    "fortigate.log": "fortigate",
    "cef.log": "cef",
    "leef.log": "leef",
}
OWN_SAMPLES = {
    "pf-logs.log": "pf",
    "pf-scan-multi-port.log": "pf",
    "mikrotik-scan-multi_ports.log": "mikrotik",
}


def _head(path: Path) -> list[str]:
    with path.open(errors="replace") as stream:
        lines = [line.rstrip("\n") for _, line in zip(range(200), stream, strict=False)]
    return [line for line in lines if line.strip()][:50]


def test_family_lists_every_parser_once() -> None:
    names = [parser.name for parser in firewalls.PARSERS]
    assert names == ["cef", "leef", "aws-vpcflow", "panos", "fortigate", "cisco-asa", "pf",
                     "mikrotik", "windows-firewall", "juniper-srx"]  # fmt: skip
    assert all(registry.FORMATS[name] in firewalls.PARSERS for name in names)


def test_sniffers_claim_only_their_own_shared_samples(shared_data: Path) -> None:
    claims: dict[str, list[str]] = {}
    for path in sorted(p for p in shared_data.rglob("*") if p.is_file()):
        if path.suffix in {".assert", ".yaml", ".md", ".gz", ".parquet", ".zst"}:
            continue
        head = _head(path)
        for parser in firewalls.PARSERS:
            if parser.sniff(head):
                claims.setdefault(path.name, []).append(parser.name)
    assert claims == {name: [fmt] for name, fmt in OWN_SAMPLES.items()}


def test_sniffers_claim_only_their_own_fixtures() -> None:
    for name, fmt in OWN_FIXTURES.items():
        head = fixture_lines(name)
        assert [p.name for p in firewalls.PARSERS if p.sniff(head)] == [fmt], name
        sniffed = registry.sniff(head)
        # pf.log holds a dhcpd line too: a mixed syslog file, which the syslog
        # multiplexer claims and hands the filterlog lines to pf (by ``programs``).
        expected = "syslog" if name == "pf.log" else fmt
        assert sniffed is not None and sniffed.name == expected, name


def test_ingest_sniffs_every_format_into_the_lake(tmp_path: Path, crowdsec_hub: Path) -> None:
    inputs = tmp_path / "in"
    inputs.mkdir()
    for name in OWN_FIXTURES:
        (inputs / name).write_bytes((FIXTURES / name).read_bytes())
    mikrotik = crowdsec_hub / "mikrotik-scan-multi_ports" / "mikrotik-scan-multi_ports.log"
    (inputs / "zz-mikrotik-real.log").write_bytes(mikrotik.read_bytes())
    lake = Lake(tmp_path / "lake")
    run = ingest([str(inputs)], lake, Config(), IngestOptions(now=NOW))
    stats = {Path(f.name).name: (f.format, f.lines, f.parsed, f.rejected, f.skipped)
             for f in run.files}  # fmt: skip
    assert stats == {
        "cef.log": ("cef", 5, 3, 2, 0),
        "cisco-asa.log": ("cisco-asa", 20, 15, 3, 2),  # two teardowns skipped
        "fortigate.log": ("fortigate", 7, 5, 2, 0),
        "leef.log": ("leef", 4, 3, 1, 0),
        "mikrotik.log": ("mikrotik", 5, 3, 2, 0),
        "panos.log": ("panos", 7, 5, 2, 0),
        "pf.log": ("syslog", 8, 4, 4, 0),
        "vpcflow-v2.log": ("aws-vpcflow", 9, 4, 2, 3),
        "vpcflow-v5.log": ("aws-vpcflow", 3, 2, 0, 1),
        "zz-mikrotik-real.log": ("mikrotik", stats["zz-mikrotik-real.log"][1],
                                 stats["zz-mikrotik-real.log"][1], 0, 0),
    }  # fmt: skip
    datasets = pc.value_counts(lake.read("alert").column("event_dataset")).to_pylist()
    assert sorted((d["values"], d["counts"]) for d in datasets) == [
        ("cisco.asa", 2),
        ("fortigate", 2),
        ("panos.threat", 2),
    ]
    network = pc.value_counts(lake.read("network").column("event_dataset")).to_pylist()
    counts = dict(sorted((d["values"], d["counts"]) for d in network))
    assert {k: v for k, v in counts.items() if k != "mikrotik"} == {
        "aws.vpcflow": 6,
        "cef": 3,
        "cisco.asa": 13,
        "fortigate": 3,
        "leef": 3,
        "panos.traffic": 3,
        "pf": 4,
    }


# -- robustness: random and mutated lines never raise and are all accounted for ----------

_SEEDS = [line for name in OWN_FIXTURES for line in fixture_lines(name)]


_LINES = mutated_lines(_SEEDS, ',|= :"\\[]()-/.x9\t', 8)


def _check(parser: type[Parser], lines: list[str]) -> None:
    lines = [line.replace("\n", " ").replace("\r", " ") for line in lines]
    parsed = parse(make(parser), lines)  # asserts rows + rejects + skipped == lines
    if parsed.rejects.num_rows:
        assert all(r.as_py() for r in parsed.rejects.column("reason"))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_LINES)
def test_pf_accounts_for_any_text(lines: list[str]) -> None:
    _check(firewalls.PARSERS[6], lines)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_LINES)
def test_cisco_accounts_for_any_text(lines: list[str]) -> None:
    _check(firewalls.PARSERS[5], lines)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_LINES)
def test_mikrotik_accounts_for_any_text(lines: list[str]) -> None:
    _check(firewalls.PARSERS[7], lines)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_LINES)
def test_vpcflow_accounts_for_any_text(lines: list[str]) -> None:
    _check(firewalls.PARSERS[2], lines)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_LINES)
def test_panos_accounts_for_any_text(lines: list[str]) -> None:
    _check(firewalls.PARSERS[3], lines)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_LINES)
def test_fortigate_accounts_for_any_text(lines: list[str]) -> None:
    _check(firewalls.PARSERS[4], lines)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_LINES)
def test_cef_accounts_for_any_text(lines: list[str]) -> None:
    _check(firewalls.PARSERS[0], lines)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_LINES)
def test_leef_accounts_for_any_text(lines: list[str]) -> None:
    _check(firewalls.PARSERS[1], lines)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_LINES)
def test_juniper_accounts_for_any_text(lines: list[str]) -> None:
    _check(firewalls.PARSERS[9], lines)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.text(max_size=300), min_size=1, max_size=12))
def test_sniffers_never_raise(sample: list[str]) -> None:
    for parser in firewalls.PARSERS:
        assert parser.sniff(sample) in (True, False)
