"""`reconwatch block` end to end in a throwaway network namespace (root; never the host)."""

from __future__ import annotations

import json
import secrets
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from reconwatch.cli import main


@pytest.mark.root
def test_block_commands_in_a_namespace(tmp_path: Path) -> None:
    ns = f"rw-cli-{secrets.token_hex(3)}"
    subprocess.run(["ip", "netns", "add", ns], check=True)
    try:
        cases = {
            "cases": [
                {
                    "id": "RW-1",
                    "severity": "high",
                    "disposition": "malicious",
                    "detections": ["vertical_scan"],
                    "sources": ["198.51.100.7", "10.0.0.1"],
                }
            ]
        }
        path = tmp_path / "cases.json"
        path.write_text(json.dumps(cases), encoding="utf-8")
        audit = tmp_path / "audit.jsonl"
        common = ["--netns", ns, "--audit", str(audit)]
        runner = CliRunner()
        refused = runner.invoke(
            main, ["block", "apply", "--cases", str(path), *common], input="n\n"
        )
        assert refused.exit_code == 2
        assert not audit.exists()
        dry = runner.invoke(
            main, ["block", "apply", "--cases", str(path), "--netns", ns, "--dry-run"]
        )
        assert dry.exit_code == 0
        assert "1 entries for 1 cases, 1 refused" in dry.output
        done = runner.invoke(main, ["block", "apply", "--cases", str(path), *common, "--yes"])
        assert done.exit_code == 0, done.output
        listed = runner.invoke(main, ["block", "list", "--netns", ns, "--json"])
        assert [b["network"] for b in json.loads(listed.output)] == ["198.51.100.7/32"]
        assert (
            runner.invoke(main, ["block", "extend", "198.51.100.7", "60", *common]).exit_code == 0
        )
        assert runner.invoke(main, ["block", "remove", "198.51.100.9", *common]).exit_code == 2
        assert runner.invoke(main, ["block", "remove", "198.51.100.7", *common]).exit_code == 0
        assert runner.invoke(main, ["block", "unblock", *common, "--yes"]).exit_code == 0
        assert runner.invoke(main, ["block", "list", "--netns", ns]).exit_code == 2
        whats = [json.loads(line)["what"] for line in audit.read_text().splitlines()]
        assert whats == ["apply", "extend", "remove", "unblock"]
    finally:
        subprocess.run(["ip", "netns", "delete", ns], check=False)
