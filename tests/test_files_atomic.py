"""Outputs are written whole or not at all (``reconwatch.files``)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from reconwatch import files
from reconwatch.files import write_atomic, write_text_atomic


def test_a_rewrite_replaces_the_file_whole_with_the_usual_mode(tmp_path: Path) -> None:
    path = tmp_path / "cases.json"
    path.write_text("old\n")
    old_umask = os.umask(0o022)
    try:
        write_text_atomic(path, "new é\n")
    finally:
        os.umask(old_umask)
    assert path.read_text(encoding="utf-8") == "new é\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cases.json"]  # no temporary left


def test_a_private_file_is_the_owners_alone(tmp_path: Path) -> None:
    path = tmp_path / "feed.txt"
    write_atomic(path, b"198.51.100.7\n", private=True)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_a_failed_write_leaves_the_old_file_and_no_temporary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "block.nft"
    path.write_text("old rules\n")

    def broken(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(files.os, "fsync", broken)
    with pytest.raises(OSError, match="No space left") as raised:
        write_text_atomic(path, "new rules\n")
    assert raised.value.filename == str(path)  # the file asked for, not its temporary twin
    assert path.read_text() == "old rules\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["block.nft"]


def test_an_error_names_the_file_asked_for_and_keeps_its_kind(tmp_path: Path) -> None:
    # A missing folder fails the temporary file's creation, a folder in the
    # way its rename: both named by the temporary file (or second) before.
    missing = tmp_path / "gone" / "cases.json"
    with pytest.raises(FileNotFoundError) as raised:
        write_text_atomic(missing, "{}\n")
    assert raised.value.filename == str(missing)
    folder = tmp_path / "report.html"
    folder.mkdir()
    with pytest.raises(IsADirectoryError) as in_the_way:
        write_text_atomic(folder, "<html>\n")
    assert in_the_way.value.filename == str(folder)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.html"]


def test_a_hunt_leaves_only_its_outputs(tmp_path: Path) -> None:
    from reconwatch.config import Config
    from reconwatch.hunt import hunt

    log = tmp_path / "kern.log"
    log.write_text(
        "".join(
            f"Sep 30 10:00:{n:02d} fw kernel: DROP IN=eth0 OUT= SRC=198.51.100.7 "
            f"DST=203.0.113.10 LEN=44 TTL=49 ID={n} PROTO=TCP SPT=40000 DPT={n + 1} "
            "WINDOW=1024 RES=0x00 SYN URGP=0\n"
            for n in range(30)
        )
    )
    out = tmp_path / "out"
    hunt([str(log)], Config(), out_dir=out)
    hunt([str(log)], Config(), out_dir=out)  # rewritten over the first hunt's files
    names = {p.name for p in out.iterdir()}
    assert {"cases.json", "report.html", "report.md", "block.nft", "block-ipset.sh"} <= names
    assert not [n for n in names if n.endswith(".tmp")]
    assert '"cases"' in (out / "cases.json").read_text()


def test_an_exclusive_lock_refuses_or_waits_for_its_holder(tmp_path: Path) -> None:
    import threading
    import time

    from reconwatch.files import LockBusy, exclusive

    path = tmp_path / "held.lock"
    waited: list[float] = []
    with exclusive(path, wait=None):
        with pytest.raises(LockBusy), exclusive(path, wait=None):
            pass  # pragma: no cover - never entered
        released = threading.Event()

        def second() -> None:
            with exclusive(path, wait=lambda: waited.append(time.monotonic())):
                released.set()

        thread = threading.Thread(target=second)
        thread.start()
        time.sleep(0.3)
        assert len(waited) == 1 and not released.is_set()  # told, and waiting
    thread.join(5)
    assert released.is_set()  # it got the lock once the first let go
    with exclusive(path, wait=None):  # free again
        pass


def test_a_lake_ingest_waits_for_another_and_says_so(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    import threading

    from reconwatch.lake import Lake

    lake = Lake(tmp_path / "lake")
    done = threading.Event()

    def second() -> None:
        with lake.ingest_lock():
            done.set()

    with lake.ingest_lock():
        thread = threading.Thread(target=second)
        thread.start()
        thread.join(0.3)
        assert not done.is_set()
    thread.join(5)
    assert done.is_set()
    assert "another ingest into this lake is running; waiting" in caplog.text
