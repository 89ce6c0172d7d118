"""The command line: real runs of the installed entry point, as a user types them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest


def reconwatch(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "reconwatch.cli", *args],
        input=stdin.decode() if stdin is not None else None,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_crowdsec_multi_port_sample_reports_the_scanners_crowdsec_lists(crowdsec_hub: Path) -> None:
    sample = crowdsec_hub / "iptables-scan-multi-port"
    assert (sample / "scenario.assert").is_file()
    # CrowdSec's scenario.assert names 62.34.17.168 and 127.0.0.2 as the overflows.
    expected = {"62.34.17.168", "127.0.0.2"}
    assert all(f'"{ip}"' in (sample / "scenario.assert").read_text() for ip in expected)
    result = reconwatch("hunt", str(sample), "--json", "--now", "2026-11-28T00:00:00Z")
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    sources = {s for case in document["cases"] for s in case["sources"]}
    assert sources == expected
    by_source = {case["sources"][0]: case for case in document["cases"]}
    assert "vertical_scan" in by_source["62.34.17.168"]["detections"]
    assert by_source["62.34.17.168"]["techniques"] == ["T1590.005", "T1595.001"]
    assert by_source["127.0.0.2"]["internal"] is True
    # The summary goes to stderr with --json, so stdout stays machine-readable.
    assert "Input accounting" in result.stderr


def test_hunt_writes_every_output_file(crowdsec_hub: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = reconwatch(
        "hunt",
        str(crowdsec_hub / "iptables-scan-multi-port"),
        "--out",
        str(out),
        "--now",
        "2026-11-28T00:00:00Z",
    )
    assert result.returncode == 0, result.stderr
    for name in ("cases.json", "report.md", "block.nft", "block-ipset.sh"):
        assert (out / name).is_file(), name
    assert "62.34.17.168" in (out / "report.md").read_text()


def test_stdin_is_an_input(crowdsec_hub: Path) -> None:
    data = (crowdsec_hub / "iptables-scan-multi-port" / "iptables-scan-multi-port.log").read_bytes()
    result = reconwatch("hunt", "-", "--json", "--now", "2026-11-28T00:00:00Z", stdin=data)
    assert result.returncode == 0, result.stderr
    assert len(json.loads(result.stdout)["cases"]) == 2


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("hunt", "/nonexistent/kern.log"), "/nonexistent/kern.log: no such file or directory"),
        (("hunt", ".", "--now", "yesterday"), "--now: not an ISO 8601 time"),
    ],
)
def test_user_errors_are_one_line_without_traceback(args: tuple[str, ...], message: str) -> None:
    result = reconwatch(*args)
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().count("\n") == 0


@pytest.mark.parametrize("command", ["hunt", "demo"])
def test_an_out_folder_that_cannot_be_made_is_one_line(command: str, tmp_path: Path) -> None:
    # A file where a folder would go (as /dev/null/x): NotADirectoryError's
    # traceback, exit 1, as --lake already does not.
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    log = tmp_path / "kern.log"
    log.write_text("")
    inputs = [str(log)] if command == "hunt" else ["--size", "5000"]
    result = reconwatch(command, *inputs, "--out", str(blocker / "x"))
    assert result.returncode == 2, result.stderr
    assert result.stderr == (
        f"reconwatch: error: --out {blocker / 'x'}: cannot create the folder: Not a directory\n"
    )


def test_an_output_that_cannot_be_written_is_one_line(tmp_path: Path) -> None:
    # A folder where cases.json goes: the rename over it failed with
    # IsADirectoryError's traceback after the whole hunt.
    out = tmp_path / "out"
    (out / "cases.json").mkdir(parents=True)
    log = tmp_path / "kern.log"
    log.write_text("")
    result = reconwatch("hunt", str(log), "--out", str(out))
    assert result.returncode == 2, result.stderr
    assert result.stderr == (
        f"reconwatch: error: --out {out / 'cases.json'}: cannot write the output: Is a directory\n"
    )
    assert not [p.name for p in (out / "cases.json").iterdir()]
    assert not list(out.glob(".*.tmp"))  # no temporary file left behind


def test_bad_config_is_one_line(tmp_path: Path) -> None:
    config = tmp_path / "bad.yaml"
    config.write_text("detect:\n  vertical_scan:\n    min_ports: -1\n")
    result = reconwatch("hunt", str(tmp_path), "--config", str(config))
    assert result.returncode == 2
    assert f"{config}: detect.vertical_scan.min_ports" in result.stderr
    assert "Traceback" not in result.stderr


def test_hostile_file_names_do_not_reach_the_terminal_raw(tmp_path: Path) -> None:
    evil = tmp_path / "evil\x1b[31mred.log"
    evil.write_text("\x1b]0;owned\x07 not a log\n")
    result = reconwatch("hunt", str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert "\x1b[31m" not in result.stdout and "\x1b]0;" not in result.stdout


def test_formats_lists_the_parsers() -> None:
    from reconwatch.ingest.registry import PARSERS

    result = reconwatch("formats")
    assert result.returncode == 0
    header, *rows = result.stdout.splitlines()
    assert header.split()[:2] == ["format", "table"]
    assert [line.split()[0] for line in rows] == [p.name for p in PARSERS]
    assert "``" not in result.stdout


def test_cases_queue_show_and_decide(crowdsec_hub: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    sample = str(crowdsec_hub / "iptables-scan-multi-port")
    assert reconwatch("hunt", sample, "--out", str(out), "--now", "2026-11-28").returncode == 0
    store = f"sqlite:///{out / 'reconwatch.db'}"
    listing = reconwatch("cases", "list", "--store", store)
    assert listing.returncode == 0, listing.stderr
    assert "62.34.17.168" in listing.stdout and "127.0.0.2" in listing.stdout
    case_id = json.loads((out / "cases.json").read_text())["cases"][0]["id"]
    closed = reconwatch(
        "cases", "decide", "--store", store, case_id, "close",
        "--disposition", "false_positive", "--reason", "our own scanner", "--who", "alice",
    )  # fmt: skip
    assert closed.returncode == 0, closed.stderr
    shown = json.loads(reconwatch("cases", "show", "--store", store, case_id).stdout)
    assert (shown["status"], shown["analyst_disposition"]) == ("closed", "false_positive")
    assert [a["action"] for a in shown["actions"]] == ["opened", "close"]
    assert shown["actions"][-1]["who"] == "alice"
    refused = reconwatch("cases", "decide", "--store", store, case_id, "close")
    assert refused.returncode == 2 and "cannot be closed again" in refused.stderr
    other_id = json.loads((out / "cases.json").read_text())["cases"][1]["id"]
    refused = reconwatch("cases", "decide", "--store", store, other_id, "close")
    assert refused.returncode == 2 and "disposition and a reason" in refused.stderr
    missing = reconwatch("cases", "show", "--store", store, "RW-nope")
    assert missing.returncode == 2 and "no case 'RW-nope'" in missing.stderr


def test_feeds_update_reports_each_feed(tmp_path: Path) -> None:
    feed = tmp_path / "list.txt"
    feed.write_text("192.0.2.0/24\n")
    config = tmp_path / "c.yaml"
    config.write_text(
        f"enrich:\n  cache_dir: {tmp_path / 'cache'}\n  feeds:\n"
        f"    - {{name: partner, type: plain, path: {feed}}}\n"
        f"    - {{name: gone, type: plain, url: 'http://127.0.0.1:9/x.txt'}}\n"
    )
    result = reconwatch("feeds", "update", "--config", str(config))
    assert result.returncode == 1  # one feed failed
    lines = dict(line.split(": ", 1) for line in result.stdout.splitlines())
    assert lines["partner"] == "local"
    assert lines["gone"].startswith("error")
    nothing = reconwatch("feeds", "update")
    assert nothing.returncode == 2 and "no feed is configured" in nothing.stderr


def test_every_front_is_a_reconwatch_command() -> None:
    from click.testing import CliRunner

    from reconwatch.cli import main

    runner = CliRunner()
    listing = runner.invoke(main, ["--help"]).output
    for command in ("export", "lake", "watch", "serve", "users"):
        assert f"  {command} " in listing, command
        result = runner.invoke(main, [command, "--help"])
        assert result.exit_code == 0, (command, result.output)


def test_a_file_read_in_part_is_one_warning_in_hunt_and_ingest(tmp_path: Path) -> None:
    import gzip

    lines = "".join(
        f"Sep 30 10:00:{n % 60:02d} gw sshd[1]: Connection closed {n}\n" for n in range(50_000)
    )
    whole = gzip.compress(lines.encode())
    # A path longer than the piped console's 120 columns: the warning is still one line.
    deep = tmp_path / ("a-long-folder-name-" * 7)
    deep.mkdir()
    cut = deep / "cut.log.gz"
    cut.write_bytes(whole[: len(whole) // 2])
    whole_file = tmp_path / "whole.log"
    whole_file.write_text(lines[:2000])
    out = tmp_path / "out"
    hunted = reconwatch("hunt", str(cut), str(whole_file), "--out", str(out))
    # The hunt finishes and writes its results, and says by its exit status
    # (3, not 0 or 2) that an input was read only in part.
    assert hunted.returncode == 3, hunted.stderr
    assert (out / "cases.json").exists()
    warnings = [line for line in hunted.stdout.splitlines() if "read failed after line" in line]
    assert len(warnings) == 1 and warnings[0].startswith("reconwatch: warning:")
    assert "not read to the end" in hunted.stdout
    assert hunted.stderr.strip().splitlines()[-1] == (
        "reconwatch: 1 of 2 inputs read only in part or not at all (see above): exit status 3"
    )
    ingested = reconwatch("ingest", str(cut), "--lake", str(tmp_path / "lake"))
    assert ingested.returncode == 3, ingested.stderr
    assert sum("read failed after line" in line for line in ingested.stdout.splitlines()) == 1
    assert "1 of 1 inputs read only in part" in ingested.stderr
    # A complete run exits 0, with --json too (the cases document on stdout).
    complete = reconwatch("hunt", str(whole_file), "--json")
    assert complete.returncode == 0, complete.stderr
    assert json.loads(complete.stdout)["cases"] == []
