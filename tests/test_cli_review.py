"""Command-line faults found in review: each a one-line error with a sensible
exit status, never a traceback, and nothing written where the user did not ask."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from reconwatch.cli import main

LINE = (
    "Sep 30 10:00:{second:02d} fw1 kernel: [1.0] RW-DROP: IN=eth0 OUT= MAC=00:00 "
    "SRC=198.51.100.7 DST=203.0.113.10 LEN=44 TOS=0x00 PREC=0x00 TTL=43 ID=1 PROTO=TCP "
    "SPT=40000 DPT=22 WINDOW=1024 RES=0x00 SYN URGP=0\n"
)


def one_line_error(output: str) -> str:
    (line,) = output.strip().splitlines()
    assert line.startswith("reconwatch: error:") and "Traceback" not in output
    return line


@pytest.mark.parametrize(
    "args",
    [
        ("ingest", "LOG", "--lake", ""),
        ("hunt", "LOG", "--lake", ""),
        ("hunt", "--lake", ""),
        ("lake", "info", ""),
        ("lake", "compact", ""),
    ],
)
def test_an_empty_lake_location_is_an_error_not_the_current_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args: tuple[str, ...]
) -> None:
    # ``--lake "$LAKE"`` with LAKE unset: the current folder became a lake.
    log = tmp_path / "kern.log"
    log.write_text("".join(LINE.format(second=s) for s in range(3)))
    work = tmp_path / "cwd"
    work.mkdir()
    monkeypatch.chdir(work)
    result = CliRunner().invoke(main, [str(log) if a == "LOG" else a for a in args])
    assert result.exit_code == 2, result.output
    assert "lake location is empty" in one_line_error(result.output)
    assert list(work.iterdir()) == []
