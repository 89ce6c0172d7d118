"""``reconwatch export``: output to stdout or a file, and one-line errors on bad input."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
import pytest
import stix2
from click.testing import CliRunner

from export_helpers import hunted, write
from reconwatch.export.cli import export

__all__ = ["hunted"]


@click.group()
def root() -> None:
    """Stands in for reconwatch's main group, as the lead registers it."""


root.add_command(export)


def run(*args: str, stdin: str | None = None) -> Any:
    return CliRunner().invoke(root, ["export", *args], input=stdin)


@pytest.mark.parametrize("fmt", ["stix", "ocsf", "ecs", "thehive"])
def test_each_format_to_stdout_and_to_a_file(
    fmt: str, hunted: dict[str, Any], tmp_path: Path
) -> None:
    path = write(tmp_path / "cases.json", hunted)
    shown = run(fmt, str(path))
    assert shown.exit_code == 0, shown.output
    out = tmp_path / f"out.{fmt}"
    saved = run(fmt, str(path), "--out", str(out))
    assert saved.exit_code == 0 and saved.stdout == ""
    assert out.read_text(encoding="utf-8") == shown.stdout
    if fmt == "ecs":
        assert all(json.loads(line) for line in shown.stdout.splitlines())
    else:
        json.loads(shown.stdout)


def test_stix_from_stdin_parses(hunted: dict[str, Any]) -> None:
    result = run("stix", "-", "--soc-name", "Blue Team", stdin=json.dumps(hunted))
    assert result.exit_code == 0, result.output
    bundle = stix2.parse(result.stdout, allow_custom=False)
    assert any(o.type == "identity" and o.name == "Blue Team" for o in bundle.objects)


def _bad_documents(hunted: dict[str, Any]) -> dict[str, tuple[str, str]]:
    wrong_schema = {**hunted, "schema": "reconwatch.cases/9"}
    injected = json.loads(json.dumps(hunted))
    injected["cases"][0]["sources"] = ["1.2.3.4'] OR [ipv4-addr:value = '0.0.0.0/0"]
    # An IPv6 zone id: ipaddress accepts any text after "%".
    zoned = json.loads(json.dumps(hunted))
    zoned["cases"][0]["sources"] = ["fe80::1%x'] OR [ipv4-addr:value = '10.0.0.1"]
    bad_findings = json.loads(json.dumps(hunted))
    bad_findings["cases"][0]["findings"] = ["x"]
    bad_time = json.loads(json.dumps(hunted))
    bad_time["cases"][0]["first_seen"] = "yesterday"

    def with_case(**changes: Any) -> str:
        document = json.loads(json.dumps(hunted))
        document["cases"][0].update(changes)
        return json.dumps(document)

    return {
        "mapped source": (with_case(sources=["::ffff:10.0.0.5"]), "is not an IP address"),
        "upper-case IPv6": (with_case(sources=["2001:DB8::1"]), "is not an IP address"),
        "score not a number": (with_case(score="high"), "'score' must be a number"),
        "unknown severity": (with_case(severity="apocalyptic"), "is not one of low, medium"),
        "detections null": (with_case(detections=None), "'detections' must be a list"),
        "containment a list": (with_case(containment=[]), "'containment' must be an object"),
        "cases an object": (json.dumps({**hunted, "cases": {}}), "'cases' is not a list"),
        "bad generated_at": (
            json.dumps({**hunted, "generated_at": "nope"}),
            "generated_at: 'nope' is not an ISO 8601 time",
        ),
        "not json": ("{oops", "not JSON"),
        "a list": ("[1, 2]", "not a reconwatch cases document"),
        "other json": ('{"hello": 1}', "not a reconwatch cases document"),
        "wrong schema": (json.dumps(wrong_schema), "reconwatch.cases/9' is not supported"),
        "injected source": (json.dumps(injected), "is not an IP address"),
        "zone id source": (json.dumps(zoned), "is not an IP address"),
        "findings not objects": (json.dumps(bad_findings), "must be a list of objects"),
        "bad time": (json.dumps(bad_time), "is not an ISO 8601 time"),
        # Python's json refuses these with ValueError / RecursionError, not
        # JSONDecodeError; astimezone overflows before year 1.
        "huge integer": (
            '{"schema": "reconwatch.cases/1", "cases": [], "n": ' + "9" * 5000 + "}",
            "not a usable JSON document",
        ),
        "nested too deep": ("[" * 100_000 + "]" * 100_000, "nested too deep"),
        "time before year 1 in UTC": (
            with_case(first_seen="0001-01-01T00:00:00+01:00"),
            "first_seen: '0001-01-01T00:00:00+01:00' is out of range",
        ),
    }


@pytest.mark.parametrize("fmt", ["stix", "ocsf", "ecs", "thehive"])
def test_bad_input_is_one_line_never_a_traceback(
    fmt: str, hunted: dict[str, Any], tmp_path: Path
) -> None:
    missing = run(fmt, str(tmp_path / "nope.json"))
    assert missing.exit_code == 1
    assert missing.output == f"Error: {tmp_path / 'nope.json'}: no such file\n"
    for name, (text, expected) in _bad_documents(hunted).items():
        path = tmp_path / "bad.json"
        path.write_text(text, encoding="utf-8")
        result = run(fmt, str(path))
        assert result.exit_code == 1, name
        assert expected in result.output, (name, result.output)
        assert result.output.count("\n") == 1 and "Traceback" not in result.output, name
        assert not isinstance(result.exception, Exception) or isinstance(
            result.exception, SystemExit
        ), name


@pytest.mark.parametrize("fmt", ["stix", "ocsf", "ecs", "thehive"])
def test_stdin_that_is_not_utf8_is_one_line(fmt: str) -> None:
    result = CliRunner().invoke(root, ["export", fmt, "-"], input=b"\xff\xfe{}")
    assert result.exit_code == 1 and result.output.startswith("Error: stdin: cannot read")
    assert result.output.count("\n") == 1 and not isinstance(result.exception, UnicodeError)


def test_a_block_timeout_past_year_9999_is_no_traceback(
    hunted: dict[str, Any], tmp_path: Path
) -> None:
    document = json.loads(json.dumps(hunted))
    case = next(c for c in document["cases"] if c["containment"].get("block"))
    case["containment"]["timeout_seconds"] = 10**30
    for fmt in ("stix", "ocsf", "ecs", "thehive"):
        result = run(fmt, str(write(tmp_path / "cases.json", document)))
        assert result.exit_code == 0, (fmt, result.output)
    bundle = stix2.parse(run("stix", str(tmp_path / "cases.json")).stdout, allow_custom=False)
    indicators = [o for o in bundle.objects if o.type == "indicator"]
    pattern = f"[ipv4-addr:value = '{case['sources'][0]}']"
    assert "valid_until" not in next(o for o in indicators if o.pattern == pattern)


def test_empty_hunt_exports_empty_but_valid_outputs(hunted: dict[str, Any]) -> None:
    empty = {**hunted, "cases": []}
    stix = run("stix", "-", stdin=json.dumps(empty))
    assert stix.exit_code == 0
    bundle = stix2.parse(stix.stdout, allow_custom=False)
    assert [o.type for o in bundle.objects] == ["identity"]
    assert run("ecs", "-", stdin=json.dumps(empty)).stdout == ""
    assert json.loads(run("ocsf", "-", stdin=json.dumps(empty)).stdout) == []
    assert json.loads(run("thehive", "-", stdin=json.dumps(empty)).stdout) == []


def test_unwritable_out_is_a_clean_error(hunted: dict[str, Any], tmp_path: Path) -> None:
    path = write(tmp_path / "cases.json", hunted)
    result = run("ocsf", str(path), "--out", str(tmp_path / "missing-dir" / "x.json"))
    assert result.exit_code == 1 and "cannot write" in result.output


def test_help_lists_every_format() -> None:
    result = run("--help")
    for name in ("stix", "ocsf", "ecs", "thehive", "sigma"):
        assert name in result.output


def test_out_replaces_an_existing_file_whole(hunted: dict[str, Any], tmp_path: Path) -> None:
    """A reader of the old file (here a hard link to it) keeps the old bytes: the
    new file is written aside and renamed over it, never rewritten in place."""
    path = write(tmp_path / "cases.json", hunted)
    out = tmp_path / "exports" / "cases.ocsf.json"
    out.parent.mkdir()
    out.write_text("stale\n", encoding="utf-8")
    reader = tmp_path / "reader-view"
    reader.hardlink_to(out)
    result = run("ocsf", str(path), "--out", str(out))
    assert result.exit_code == 0, result.output
    assert json.loads(out.read_text(encoding="utf-8")) == json.loads(run("ocsf", str(path)).stdout)
    assert reader.read_text(encoding="utf-8") == "stale\n"
    assert sorted(p.name for p in out.parent.iterdir()) == ["cases.ocsf.json"]
