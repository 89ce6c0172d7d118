"""FIFOs and other special files under ``watch``: never a hang, a stop always stops."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

from test_watch_alerts import Process, netfilter

SCANNER = "198.51.100.7"


def test_a_fifo_in_a_followed_directory_is_skipped_with_one_warning(tmp_path: Path) -> None:
    # Opening a FIFO waits for a writer: the watch hung in its poll for ever,
    # and SIGTERM could not stop it.
    folder = tmp_path / "logs"
    folder.mkdir()
    replaced = folder / "b.log"
    replaced.write_text("")
    cfg = tmp_path / "reconwatch.yaml"
    cfg.write_text("watch:\n  batch_seconds: 0.25\n")
    watch = Process([str(folder), "--config", str(cfg)])
    try:
        watch.wait_for_stderr(r"watching", timeout=60)
        os.mkfifo(folder / "fifo")
        # A followed file replaced by a FIFO (same name, new inode) is not opened either.
        os.mkfifo(tmp_path / "other")
        (tmp_path / "other").replace(replaced)
        watch.wait_for_stderr(r"fifo: a FIFO, not a regular file: skipped", timeout=30)
        watch.wait_for_stderr(r"b\.log: a FIFO, not a regular file: skipped", timeout=30)
        with (folder / "kern.log").open("w") as fh:  # files beside it are still read
            fh.write("".join(netfilter(port, SCANNER) + "\n" for port in range(100, 120)))
        alert = watch.next_alert(timeout=30)
        assert alert["actor"] == SCANNER
        time.sleep(1)  # a few more polls: the warnings are not repeated
        code, summary = watch.stop(signal.SIGTERM)
    finally:
        watch.kill()
    assert code == 0
    assert summary["files_skipped"] == {
        str(folder / "fifo"): "a FIFO, not a regular file: skipped",
        str(replaced): "a FIFO, not a regular file: skipped",
    }
    warnings = [line for line in watch.stderr if line.startswith("reconwatch: WARNING")]
    assert len(warnings) == 2, warnings


def test_a_named_fifo_is_read_and_does_not_hold_up_a_stop(tmp_path: Path) -> None:
    # Named on purpose, a FIFO is read as a stream (as hunt reads one); with
    # no writer yet, or after its writer left, a stop still stops at once.
    fifo = tmp_path / "kern.pipe"
    os.mkfifo(fifo)
    cfg = tmp_path / "reconwatch.yaml"
    cfg.write_text("watch:\n  batch_seconds: 0.25\n")
    watch = Process([str(fifo), "--config", str(cfg)])
    try:
        watch.wait_for_stderr(r"watching", timeout=60)
        # The watch holds it open: a writer does not wait (nor fail with ENXIO).
        with os.fdopen(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK), "w") as writer:
            writer.write("".join(netfilter(port, SCANNER) + "\n" for port in range(100, 120)))
            writer.write(netfilter(120, SCANNER))  # no newline: handed on at the stop
        alert = watch.next_alert(timeout=30)
        assert alert["actor"] == SCANNER and alert["counts"]["ports"] == 20
        started = time.monotonic()
        code, summary = watch.stop(signal.SIGTERM)
        assert time.monotonic() - started < 30
    finally:
        watch.kill()
    assert code == 0 and summary["lines"] == 21 and summary["parsed"] == 21
    assert summary["files_skipped"] == {}


def test_a_named_fifo_without_a_writer_stops_at_once(tmp_path: Path) -> None:
    fifo = tmp_path / "kern.pipe"
    os.mkfifo(fifo)
    watch = Process([str(fifo)])
    try:
        watch.wait_for_stderr(r"watching", timeout=60)
        code, summary = watch.stop(signal.SIGTERM)
    finally:
        watch.kill()
    assert code == 0 and summary["lines"] == 0 and summary["errors"] == 0
