"""Ctrl-C in a command: one line, status 130, no traceback, OUT left whole."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

from reconwatch.cli import INTERRUPTED_EXIT
from reconwatch.hunt import OUT_LOCK

LINE = (
    b"Sep 30 10:00:00 fw kernel: [1.0] UFW BLOCK IN=eth0 OUT= MAC=00 SRC=198.51.100.7 "
    b"DST=203.0.113.10 LEN=40 TOS=0x00 PREC=0x00 TTL=50 ID=1 PROTO=TCP SPT=4000 DPT=22 "
    b"WINDOW=1024 RES=0x00 SYN URGP=0\n"
)


def test_ctrl_c_during_a_hunt_ends_it_with_status_130(tmp_path: Path) -> None:
    out = tmp_path / "out"
    # A hunt reading a pipe that stays open: it is still reading when interrupted.
    hunt = subprocess.Popen(
        [sys.executable, "-m", "reconwatch.cli", "hunt", "-", "--out", str(out)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert hunt.stdin is not None
    hunt.stdin.write(LINE)
    hunt.stdin.flush()
    # The hunt holds OUT's lock once it runs (imports done, the command started).
    deadline = time.monotonic() + 60
    while not (out / OUT_LOCK).exists():
        assert hunt.poll() is None, hunt.communicate()
        assert time.monotonic() < deadline, "the hunt never started"
        time.sleep(0.05)
    time.sleep(0.5)
    hunt.send_signal(signal.SIGINT)
    stdout, stderr = hunt.communicate(timeout=60)
    assert hunt.returncode == INTERRUPTED_EXIT == 130, stderr
    assert stderr.decode().strip().splitlines()[-1] == "reconwatch: interrupted"
    assert b"Traceback" not in stderr and stdout == b""
    # Nothing half-written where a reader looks: no cases file at all yet.
    assert not (out / "cases.json").exists()
