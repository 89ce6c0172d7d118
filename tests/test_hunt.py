"""A whole hunt over a generated sample: the planted actors are found, nothing else is."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from reconwatch.cli import SAMPLE_DIRS
from reconwatch.config import load_config
from reconwatch.detect import DETECTIONS
from reconwatch.generate import ALL_FAMILIES, GroundTruth, generate_sample
from reconwatch.hunt import HuntResult, hunt

#: Detections whose findings go to a campaign case, never to the member's own.
CAMPAIGN_DETECTIONS = frozenset({"distributed_scan", "ipv6_prefix_scan"})


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> tuple[GroundTruth, HuntResult, Path]:
    root = tmp_path_factory.mktemp("hunt")
    truth = generate_sample(root / "sample", size=20_000, seed=7, families=ALL_FAMILIES)
    config = load_config(root / "sample" / "reconwatch.yaml")
    result = hunt([str(root / "sample" / d) for d in SAMPLE_DIRS], config, out_dir=root / "out")
    return truth, result, root / "out"


def test_every_line_of_the_sample_is_parsed(sample: tuple[GroundTruth, HuntResult, Path]) -> None:
    truth, result, _ = sample
    assert result.run is not None
    totals = result.run.totals
    assert totals.rejected == 0
    assert totals.parsed == truth.size
    assert totals.lines == totals.parsed + totals.skipped


def test_each_planted_scanner_is_one_case_with_its_detections(
    sample: tuple[GroundTruth, HuntResult, Path],
) -> None:
    truth, result, _ = sample
    # A coordinated scan's members are each in their own case (TRW) and all in
    # one campaign case, which holds their distributed_scan findings; the
    # members of a rotating IPv6 scan are only in their /64's campaign case.
    cases = {c.sources[0]: c for c in result.cases if c.campaign is None}
    campaigns = {frozenset(c.sources): c for c in result.cases if c.campaign is not None}
    scanners = [a for a in truth.actors if a.expected_detections]
    own = {a.address for a in scanners if set(a.expected_detections) - CAMPAIGN_DETECTIONS}
    assert own == set(cases), "missed scanners or false alarms"
    keys = {a.campaign for a in scanners if a.campaign}
    assert len(keys) == 2
    assert set(campaigns) == {frozenset(truth.campaign_members(key)) for key in keys}
    for actor in scanners:
        expected = set(actor.expected_detections)
        if actor.campaign:
            campaign = campaigns[frozenset(truth.campaign_members(actor.campaign))]
            assert expected & CAMPAIGN_DETECTIONS <= set(campaign.detections), actor.kind
            assert campaign.escalate == actor.escalate
            expected -= CAMPAIGN_DETECTIONS
            if not expected:
                continue
        case = cases[actor.address]
        assert expected <= set(case.detections), actor.kind
        assert case.escalate == actor.escalate, (actor.kind, case.reasons)
        assert case.internal == actor.internal, actor.kind
        expected = {DETECTIONS[d].technique for d in actor.expected_detections}
        if actor.internal:
            assert "T1046" in case.techniques and "T1590.005" not in case.techniques
        else:
            assert "T1590.005" in case.techniques
            assert expected - {"T1595.001"} <= set(case.techniques)


def test_benign_client_is_not_a_case(sample: tuple[GroundTruth, HuntResult, Path]) -> None:
    truth, result, _ = sample
    benign = [a.address for a in truth.actors if not a.expected_detections]
    assert benign, "the sample must plant a negative control"
    flagged = {s for c in result.cases for s in c.sources}
    assert not flagged & set(benign)


def test_escalated_external_scanners_are_blocked_and_internal_ones_refused(
    sample: tuple[GroundTruth, HuntResult, Path],
) -> None:
    truth, result, out = sample
    nft = (out / "block.nft").read_text()
    ipset = (out / "block-ipset.sh").read_text()
    for actor in truth.actors:
        if not actor.expected_detections:
            continue
        blocked = actor.address in nft
        assert blocked == (actor.escalate and not actor.internal), actor.kind
        assert (actor.address in ipset) == blocked
    internal = next(c for c in result.cases if c.internal)
    assert internal.containment["block"] is False
    assert internal.containment["refused"]


def test_cases_json_has_the_documented_fields(sample: tuple[GroundTruth, HuntResult, Path]) -> None:
    _, result, out = sample
    document = json.loads((out / "cases.json").read_text())
    assert document["schema"] == "reconwatch.cases/1"
    assert len(document["cases"]) == len(result.cases)
    required = {
        "id", "sources", "techniques", "detections", "first_seen", "last_seen",
        "escalate", "reasons", "disposition", "severity", "answers",
    }  # fmt: skip
    for case in document["cases"]:
        assert required <= set(case)
        assert case["first_seen"].endswith("Z") and case["last_seen"].endswith("Z")
        assert len(case["answers"]) == 4
        assert case["disposition"] in {"malicious", "suspicious"}
        for finding in case["findings"]:
            assert finding["evidence"], finding["detection"]
            for item in finding["evidence"]:
                assert Path(item["file"]).is_file() and item["line"] >= 1


def test_evidence_points_at_the_real_line(sample: tuple[GroundTruth, HuntResult, Path]) -> None:
    _, result, _ = sample
    for case in result.cases:
        for finding in case.findings:
            source = finding.source_ip  # a campaign case has several sources
            for item in finding.evidence:
                line = Path(item.log_file).read_text().splitlines()[item.log_line - 1]
                assert source in line or _expanded(source) in line


def _expanded(address: str) -> str:
    import ipaddress

    return ipaddress.ip_address(address).exploded


def test_rerunning_into_the_same_out_dir_does_not_double_count(
    sample: tuple[GroundTruth, HuntResult, Path],
) -> None:
    _, first, out = sample
    sample_dir = out.parent / "sample"
    config = load_config(sample_dir / "reconwatch.yaml")
    inputs = [str(sample_dir / d) for d in SAMPLE_DIRS]
    again = hunt(inputs, config, out_dir=str(out))  # a str names the folder as well as a Path
    assert again.outputs["cases"] == out / "cases.json"
    assert [(c.id, c.activity.events) for c in again.cases] == [
        (c.id, c.activity.events) for c in first.cases
    ]


def test_inputs_may_be_paths_or_one_path_alone(tmp_path: Path) -> None:
    """The Python API takes ``Path`` objects, and one path not in a list is
    that one file (a bare text was read as one input per character)."""
    from reconwatch.config import Config
    from reconwatch.generate import write_netfilter_lines

    log = tmp_path / "kern.log"
    write_netfilter_lines(log, 2_000, seed=3, scanners=2)
    listed = hunt([log], Config())
    alone = hunt(str(log), Config())
    as_path = hunt(log, Config())
    for result in (listed, alone, as_path):
        assert result.run is not None
        assert [f.name for f in result.run.files] == [str(log)]
        assert result.run.totals.lines == 2_000
    assert [c.sources for c in alone.cases] == [c.sources for c in listed.cases]


def test_input_names_take_bytes_generators_and_stdin() -> None:
    """Bytes (``os.listdir(b".")``) one alone or listed, a generator read once,
    ``-`` as one input (a bare bytes was read as one input per byte)."""
    import os

    from reconwatch.ingest.run import input_names

    assert input_names(b"/var/log/kern.log") == ["/var/log/kern.log"]
    assert input_names([b"a.log", Path("b.log"), "-"]) == ["a.log", "b.log", "-"]
    assert input_names(os.fsencode("\udcffx.log")) == ["\udcffx.log"]  # as sys.argv has it
    assert input_names(name for name in ["a.log", "b.log"]) == ["a.log", "b.log"]
    assert input_names("-") == ["-"]


def test_a_file_name_that_is_not_utf8_is_read_and_named_readably(tmp_path: Path) -> None:
    """The OS hands such a name over with lone surrogates, which no lake column,
    report or store can hold: the hunt crashed in a directory walk."""
    import os

    from reconwatch.config import Config
    from reconwatch.generate import write_netfilter_lines

    folder = tmp_path / "logs"
    folder.mkdir()
    log = Path(os.fsdecode(bytes(folder) + b"/k\xffern.log"))
    write_netfilter_lines(log, 500, seed=3, scanners=1)
    for inputs in ([str(folder)], [str(log)]):
        result = hunt(inputs, Config(), out_dir=tmp_path / f"out{len(inputs[0])}")
        assert result.run is not None
        assert [f.name for f in result.run.files] == [str(folder) + "/k\\xffern.log"]
        assert result.run.totals.lines == 500
