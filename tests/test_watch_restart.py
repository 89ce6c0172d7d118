"""A watch stopped with SIGTERM and started again resumes where it stopped."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import pytest

from reconwatch.watch import state as saved
from test_watch_alerts import Process, netfilter
from test_watch_detect import probe_rows

SCANNER = "198.51.100.7"


def probes(ports: range) -> str:
    return "".join(netfilter(p, SCANNER) + "\n" for p in ports)


def test_restart_keeps_positions_window_and_alert_book(tmp_path: Path) -> None:
    log, state = tmp_path / "kern.log", tmp_path / "state"
    log.write_text(netfilter(1, "192.0.2.1") + "\n")  # before the first start: not read
    cfg = tmp_path / "reconwatch.yaml"
    cfg.write_text("watch:\n  batch_seconds: 0.25\n  alert_interval_seconds: 0\n")
    args = [str(log), "--config", str(cfg), "--state", str(state)]

    # First run: 10 ports, under the vertical-scan threshold (16).
    first = Process(args)
    try:
        first.wait_for_stderr(r"watching|listening|following", timeout=60)
        with log.open("a") as fh:
            fh.write(probes(range(100, 110)))
        code, summary = first.stop(signal.SIGTERM)
    finally:
        first.kill()
    assert code == 0 and summary["lines"] == 10 and summary["alerts"] == 0
    assert saved.load_positions(state) and saved.load_window(state)["network"].num_rows == 10

    # Written while nothing watched: read after the restart, and only these.
    with log.open("a") as fh:
        fh.write(probes(range(110, 120)))
    second = Process(args)
    try:
        alert = second.next_alert(timeout=60)
        # 20 ports: the 10 of the first run are still in the window.
        assert alert["actor"] == SCANNER and alert["update"] is False
        assert alert["detections"] == ["vertical_scan"]
        code, summary = second.stop(signal.SIGTERM)
    finally:
        second.kill()
    assert code == 0 and summary["lines"] == 10

    # Third run: the actor is already in the alert book, so more is an update.
    third = Process(args)
    try:
        third.wait_for_stderr(r"watching|listening|following", timeout=60)
        with log.open("a") as fh:
            fh.write(probes(range(120, 160)))
        update = third.next_alert(timeout=60)
        assert update["actor"] == SCANNER and update["update"] is True
        assert update["sequence"] == 2
        code, _ = third.stop(signal.SIGTERM)
    finally:
        third.kill()
    assert code == 0


def test_a_line_half_written_at_the_stop_is_read_whole_after_the_restart(
    tmp_path: Path,
) -> None:
    # "nothing is read twice", and DPT=22 is never taken as DPT=2: the stop
    # used to parse the half line (port 2) and save the offset past it, and
    # the restart rejected its rest.
    log, state = tmp_path / "p.log", tmp_path / "state"
    log.write_text("")
    args = [str(log), "--state", str(state), "--from-start"]
    line = netfilter(22, SCANNER)
    cut = line.index("DPT=22") + len("DPT=2")
    first = Process(args)
    try:
        first.wait_for_stderr(r"watching", timeout=60)
        with log.open("a") as fh:
            fh.write(line[:cut])
        time.sleep(1.5)  # polled: the half line waits for its newline
        code, summary = first.stop(signal.SIGTERM)
    finally:
        first.kill()
    assert code == 0 and (summary["lines"], summary["rejected"]) == (0, 0)
    with log.open("a") as fh:
        fh.write(line[cut:] + "\n")
    second = Process(args)
    try:
        second.wait_for_stderr(r"watching", timeout=60)
        time.sleep(1.5)
        code, summary = second.stop(signal.SIGTERM)
    finally:
        second.kill()
    assert code == 0
    assert (summary["lines"], summary["parsed"], summary["rejected"]) == (1, 1, 0), summary
    window = saved.load_window(state)["network"]
    assert window.select(["destination_port", "log_line"]).to_pylist() == [
        {"destination_port": 22, "log_line": 1}
    ]


def test_a_file_rotated_while_down_is_finished_and_its_successor_read_whole(
    tmp_path: Path,
) -> None:
    from reconwatch.watch.tail import FileTailer

    folder = tmp_path / "logs"
    folder.mkdir()
    current = folder / "syslog"
    current.write_text("old 1\nold 2\n")
    tailer = FileTailer([str(folder)], from_start=True)
    assert sum(c.lines.num_rows for c in tailer.poll()) == 2
    positions = tailer.positions()
    tailer.close()
    # While down: two more lines, then rotation, then a new file.
    with current.open("a") as fh:
        fh.write("old 3\nold 4\n")
    current.rename(folder / "syslog.1")
    current.write_text("new 1\n")
    again = FileTailer([str(folder)], positions=positions)
    got = {c.name: c.lines.to_pylist() for c in again.poll()}
    again.close()
    # Line numbers carry on too: evidence must point at the true file:line.
    assert got == {
        str(folder / "syslog.1"): [
            {"log_line": 3, "line": "old 3"},
            {"log_line": 4, "line": "old 4"},
        ],
        str(current): [{"log_line": 1, "line": "new 1"}],
    }


def test_a_state_folder_that_cannot_be_written_is_an_error_at_start(tmp_path: Path) -> None:
    """Found only at shutdown, the whole run's positions and window were lost."""
    from click.testing import CliRunner

    from reconwatch.cli import main

    log = tmp_path / "kern.log"
    log.write_text("")
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    done = CliRunner().invoke(main, ["watch", str(log), "--state", str(blocker / "state")])
    assert done.exit_code == 2, done.output
    lines = done.output.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in done.output
    assert lines[0].startswith(f"reconwatch: error: --state {blocker / 'state'}: cannot save")


def test_a_store_that_cannot_be_opened_is_one_line(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from reconwatch.cli import main

    log = tmp_path / "kern.log"
    log.write_text("")
    missing = tmp_path / "missing" / "dir" / "x.db"
    for url, error in (
        (f"sqlite:///{missing}", f"no case store at {missing}"),
        ("bogus://", "cannot open case store bogus://"),
    ):
        done = CliRunner().invoke(main, ["watch", str(log), "--store", url])
        assert done.exit_code == 2, done.output
        lines = done.output.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith(f"reconwatch: error: {error}")


def test_a_mistyped_store_is_refused_not_created(tmp_path: Path) -> None:
    # Watch only reads the store: a typo made a new empty one (and a watchlist
    # of nothing), where `cases` refuses it.
    from reconwatch.store import CaseStore

    log = tmp_path / "kern.log"
    log.write_text("")
    typo = tmp_path / "reconwatch.bd"
    refused = Process([str(log), "--store", f"sqlite:///{typo}"])
    try:
        assert refused.proc.wait(60) == 2
        refused.err_thread.join(10)
    finally:
        refused.kill()
    assert "".join(refused.stderr) == f"reconwatch: error: no case store at {typo}\n"
    assert not typo.exists()
    CaseStore(f"sqlite:///{typo}").close()  # a hunt made it: now it is watched
    watch = Process([str(log), "--store", f"sqlite:///{typo}"])
    try:
        watch.wait_for_stderr(r"watching", timeout=60)
        code, summary = watch.stop(signal.SIGTERM)
    finally:
        watch.kill()
    assert code == 0 and summary["errors"] == 0


def test_a_save_cut_short_leaves_the_previous_state_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """New window rows beside old positions would read lines twice; new
    positions beside an old window would lose them: a save is all or nothing."""
    import datetime as dt

    folder = tmp_path / "state"
    start = dt.datetime(2026, 9, 30, 10, 0, tzinfo=dt.UTC)
    first = probe_rows(start, [("192.0.2.1", 100 + n, n) for n in range(3)])
    spot = {"path": str(tmp_path / "kern.log"), "dev": 1, "ino": 2, "offset": 300}
    saved.save(folder, [spot], {"network": first}, [{"actor": "192.0.2.1"}])

    real = saved._write_json

    def dies_at_the_alerts(path: Path, data: object) -> None:
        if path.name == saved.ALERTS:
            raise OSError("killed mid-save")
        real(path, data)

    monkeypatch.setattr(saved, "_write_json", dies_at_the_alerts)
    more = probe_rows(start, [("192.0.2.1", 100 + n, n) for n in range(8)])
    with pytest.raises(OSError, match="killed"):
        saved.save(folder, [{**spot, "offset": 800}], {"network": more}, [])
    assert saved.load_positions(folder) == [spot]
    assert saved.load_window(folder)["network"].num_rows == 3
    assert saved.load_alerts(folder) == [{"actor": "192.0.2.1"}]

    monkeypatch.setattr(saved, "_write_json", real)
    saved.save(folder, [{**spot, "offset": 800}], {"network": more}, [])
    assert saved.load_positions(folder) == [{**spot, "offset": 800}]
    assert saved.load_window(folder)["network"].num_rows == 8
    assert saved.load_alerts(folder) == []
    assert sorted(p.name for p in folder.iterdir()) == [".save.lock", "CURRENT", "saved-2"]


def test_a_state_folder_of_the_earlier_layout_is_read_and_replaced(tmp_path: Path) -> None:
    import json

    folder = tmp_path / "state"
    (folder / "window").mkdir(parents=True)
    spot = {"path": "kern.log", "dev": 1, "ino": 2, "offset": 42}
    (folder / "positions.json").write_text(json.dumps({"version": 1, "files": [spot]}))
    (folder / "alerts.json").write_text(json.dumps({"version": 1, "actors": [{"actor": "a"}]}))
    assert saved.load_positions(folder) == [spot]
    assert saved.load_alerts(folder) == [{"actor": "a"}]
    saved.save(folder, [spot], {}, [])
    assert saved.load_positions(folder) == [spot] and saved.load_alerts(folder) == []
    assert sorted(p.name for p in folder.iterdir()) == [".save.lock", "CURRENT", "saved-1"]


def test_a_save_removes_only_its_own_earlier_saves(tmp_path: Path) -> None:
    """``--state`` may name a folder holding other things: ``saved-`` and more
    than digits is not one of ours."""
    folder = tmp_path / "state"
    (folder / "saved-photos").mkdir(parents=True)
    (folder / "saved-photos" / "cat.jpg").write_bytes(b"\xff\xd8")
    (folder / "saved-2.bak").write_text("mine")
    spot = {"path": "kern.log", "dev": 1, "ino": 2, "offset": 42}
    saved.save(folder, [spot], {}, [])
    saved.save(folder, [spot], {}, [])
    assert (folder / "saved-photos" / "cat.jpg").read_bytes() == b"\xff\xd8"
    assert (folder / "saved-2.bak").read_text() == "mine"
    assert not (folder / "saved-1").exists() and saved.load_positions(folder) == [spot]


def test_two_saves_into_one_folder_take_turns(tmp_path: Path) -> None:
    """Two watches given one ``--state``: a save waits for the other's, never
    removing its half-written folder nor writing beside it."""
    import threading

    from reconwatch.files import exclusive

    folder = tmp_path / "state"
    first = {"path": "kern.log", "dev": 1, "ino": 2, "offset": 42}
    saved.save(folder, [first], {}, [])
    later = {**first, "offset": 84}
    with exclusive(folder / ".save.lock", wait=None):  # the other watch, mid-save
        other = threading.Thread(target=saved.save, args=(folder, [later], {}, []))
        other.start()
        other.join(0.5)
        assert other.is_alive() and saved.load_positions(folder) == [first]
    other.join(10)
    assert not other.is_alive() and saved.load_positions(folder) == [later]


def test_a_save_flushes_its_folders_names_to_disk(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A power cut after CURRENT is renamed must not leave it naming a folder
    whose entry never reached the disk."""
    import os

    folder = tmp_path / "state"
    synced: list[str] = []
    real = os.fsync

    def fsync(fd: int) -> None:
        synced.append(os.readlink(f"/proc/self/fd/{fd}"))
        real(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    saved.save(folder, [], {}, [])
    assert synced.count(str(folder)) >= 2  # saved-1's entry, then CURRENT's rename
    assert str(folder / "saved-1") in synced
