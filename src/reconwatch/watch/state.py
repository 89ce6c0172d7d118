"""What ``watch`` keeps across a restart: file positions, the window, the alert book.

Saved on a graceful stop (SIGTERM/SIGINT) into the ``--state`` folder and read
back on start, so a restart neither reads old lines again nor loses the lines
written while it was down, detections still see the events of the window
(a scan that began before the restart crosses its threshold after it), and an
actor already alerted gets an update, not a second first alert.

Written atomically (a temporary name, then a rename) so a crash mid-save
leaves the previous state whole. The state is ours, not log content: it is
read with ``json`` and Parquet, never evaluated.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Final

import pyarrow as pa
import pyarrow.parquet as pq

from reconwatch import schema
from reconwatch.files import write_text_atomic

POSITIONS: Final = "positions.json"
ALERTS: Final = "alerts.json"
WINDOW: Final = "window"
VERSION: Final = 1


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
    """Write the whole state into ``folder`` (created if needed)."""
    folder.mkdir(parents=True, exist_ok=True)
    tables = folder / WINDOW
    tables.mkdir(exist_ok=True)
    for name, rows in window.items():
        target = tables / f"{name}.parquet"
        if rows.num_rows == 0:
            target.unlink(missing_ok=True)
            continue
        partial = target.with_name(target.name + ".partial")
        pq.write_table(rows, partial)
        partial.replace(target)
    _write_json(folder / POSITIONS, {"version": VERSION, "files": positions})
    _write_json(folder / ALERTS, {"version": VERSION, "actors": alerts})


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
    data = _read_json(folder / POSITIONS)
    return list(data["files"]) if data else None


def load_alerts(folder: Path) -> list[dict[str, Any]]:
    data = _read_json(folder / ALERTS)
    return list(data["actors"]) if data else []


def load_window(folder: Path) -> dict[str, pa.Table]:
    """The saved window tables, conformed to today's schema."""
    out: dict[str, pa.Table] = {}
    for name, table_schema in schema.TABLES.items():
        path = folder / WINDOW / f"{name}.parquet"
        if path.is_file():
            out[name] = schema.conform(pq.read_table(path), table_schema)
    return out
