"""What ``watch`` keeps across a restart: file positions, the window, the alert book.

Saved on a graceful stop (SIGTERM/SIGINT) into the ``--state`` folder and read
back on start, so a restart neither reads old lines again nor loses the lines
written while it was down, detections still see the events of the window
(a scan that began before the restart crosses its threshold after it), and an
actor already alerted gets an update, not a second first alert.

Written as one whole: the positions, the window and the alert book of a save
go into a folder of their own (``saved-N``), and only then does ``CURRENT``
(replaced atomically) name it. A crash mid-save leaves the previous state
whole, never new window tables beside old positions (their lines read
twice) or the reverse (lines lost). A state folder of an earlier version
(the three parts at its top) is read as it is. The state is ours, not log
content: it is read with ``json`` and Parquet, never evaluated.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
from pathlib import Path
from typing import Any, Final

import pyarrow as pa
import pyarrow.parquet as pq

from reconwatch import schema
from reconwatch.files import exclusive, write_text_atomic

POSITIONS: Final = "positions.json"
ALERTS: Final = "alerts.json"
WINDOW: Final = "window"
VERSION: Final = 1
#: The file naming the complete save to read (``saved-N``).
CURRENT: Final = "CURRENT"
SAVED_PREFIX: Final = "saved-"
#: Held while a save is written (two watches given one ``--state`` take turns).
LOCK: Final = ".save.lock"
#: A save's folder: only these are ever removed (``--state`` may be a folder
#: that holds other things, a ``saved-photos`` among them).
_SAVED: Final = re.compile(r"saved-[0-9]+")


def _write_json(path: Path, data: Any) -> None:
    write_text_atomic(path, json.dumps(data, indent=1, sort_keys=True))


def _read_json(path: Path) -> Any:
    if not path.is_file():
        return None
    data = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict) or data.get("version") != VERSION:
        return None  # another version's state: start afresh rather than misread it
    return data


def save(
    folder: Path,
    positions: list[dict[str, Any]],
    window: dict[str, pa.Table],
    alerts: list[dict[str, Any]],
) -> None:
    """Write the whole state into ``folder`` (created if needed), as one save.

    Two watches saving into one folder take turns (``LOCK``, an ``flock``):
    one's save never removes or mixes with the other's half-written one.
    """
    folder.mkdir(parents=True, exist_ok=True)
    with exclusive(folder / LOCK, wait=lambda: None):
        current = _current(folder)
        number = int(current.name.removeprefix(SAVED_PREFIX)) + 1 if current != folder else 1
        target = folder / f"{SAVED_PREFIX}{number}"
        shutil.rmtree(target, ignore_errors=True)  # a save that crashed before CURRENT named it
        tables = target / WINDOW
        tables.mkdir(parents=True)
        for name, rows in window.items():
            if rows.num_rows:
                with (tables / f"{name}.parquet").open("wb") as handle:
                    pq.write_table(rows, handle)
                    handle.flush()
                    os.fsync(handle.fileno())
        _write_json(target / POSITIONS, {"version": VERSION, "files": positions})
        _write_json(target / ALERTS, {"version": VERSION, "actors": alerts})
        # The new names on disk before CURRENT names them, and CURRENT after.
        _sync_folder(tables)
        _sync_folder(target)
        _sync_folder(folder)
        write_text_atomic(folder / CURRENT, target.name + "\n")  # the save is whole from here
        _sync_folder(folder)
        for old in [folder / POSITIONS, folder / ALERTS]:
            old.unlink(missing_ok=True)  # an earlier version's layout, replaced
        shutil.rmtree(folder / WINDOW, ignore_errors=True)
        for other in folder.glob(f"{SAVED_PREFIX}*"):
            if other != target and _SAVED.fullmatch(other.name) and other.is_dir():
                shutil.rmtree(other, ignore_errors=True)


def _sync_folder(folder: Path) -> None:
    """Flush ``folder``'s entries to disk: a power cut after a rename must not
    lose the name. Best effort (some file systems refuse a folder's fsync)."""
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _current(folder: Path) -> Path:
    """The folder holding the last whole save: the one ``CURRENT`` names, or
    ``folder`` itself (an earlier version's layout, or no save yet)."""
    try:
        name = (folder / CURRENT).read_bytes().decode("ascii", "replace").strip()
    except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
        return folder
    number = name.removeprefix(SAVED_PREFIX)
    if not name.startswith(SAVED_PREFIX) or not (number.isascii() and number.isdigit()):
        return folder  # not ours: read as no save rather than follow it anywhere
    return folder / name


def check_writable(folder: Path) -> None:
    """Raise ``OSError`` (one line, naming ``folder``) unless the state can be saved there.

    Checked when the watch starts: found only at shutdown, an unwritable
    folder would lose the positions, the window and the alert book of the
    whole run, and a service manager would never say so.
    """
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / ".reconwatch-write-test"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        why = exc.strerror or exc
        raise OSError(f"--state {folder}: cannot save the watch state there: {why}") from None


def load_positions(folder: Path) -> list[dict[str, Any]] | None:
    """The saved file positions; None when no state was saved (a first start)."""
    data = _read_json(_current(folder) / POSITIONS)
    return list(data["files"]) if data else None


def load_alerts(folder: Path) -> list[dict[str, Any]]:
    data = _read_json(_current(folder) / ALERTS)
    return list(data["actors"]) if data else []


def load_window(folder: Path) -> dict[str, pa.Table]:
    """The saved window tables, conformed to today's schema."""
    out: dict[str, pa.Table] = {}
    for name, table_schema in schema.TABLES.items():
        path = _current(folder) / WINDOW / f"{name}.parquet"
        if path.is_file():
            out[name] = schema.conform(pq.read_table(path), table_schema)
    return out
