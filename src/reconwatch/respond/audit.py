"""The containment audit log: one JSON line per action on a live firewall.

Blocking is the one step of reconwatch that changes production traffic, so
every apply, extend, remove and unblock leaves a record a reviewer can trust:
who did it, what, when (UTC), why, for which cases and which entries. The
file is append-only JSON Lines; each record is written with one ``write`` on a
descriptor opened with ``O_APPEND`` (so concurrent writers never interleave
inside a line) and synced to disk before the action is reported done.

``who`` is the person, not the account: under ``sudo`` the invoking user
(``SUDO_USER``) is recorded as well as the effective account.
"""

from __future__ import annotations

import datetime as dt
import getpass
import json
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Final, Literal

Action = Literal["apply", "extend", "remove", "unblock"]

ACTIONS: Final = ("apply", "extend", "remove", "unblock")


def current_user() -> str:
    """``alice`` or, under sudo, ``alice (as root)``; never empty."""
    try:
        account = getpass.getuser()
    except (KeyError, OSError):
        account = f"uid {os.getuid()}"
    invoker = os.environ.get("SUDO_USER")
    if invoker and invoker != account:
        return f"{invoker} (as {account})"
    return account


def audit_record(
    what: Action,
    *,
    why: str,
    cases: Iterable[str] = (),
    entries: Iterable[str] = (),
    who: str | None = None,
    when: dt.datetime | None = None,
    details: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The record for one action (not written): a JSON-ready dict.

    ``when`` must be timezone-aware (a naive time in an audit trail is
    ambiguous); it is stored as UTC ISO 8601 with a ``Z``.
    """
    if what not in ACTIONS:
        raise ValueError(f"unknown audit action {what!r}")
    moment = when or dt.datetime.now(dt.UTC)
    if moment.tzinfo is None:
        raise ValueError("audit times must be timezone-aware")
    record: dict[str, Any] = {
        "when": moment.astimezone(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
        "who": who if who else current_user(),
        "what": what,
        "why": why,
        "cases": sorted(set(cases)),
        "entries": list(entries),
    }
    if details:
        record["details"] = dict(details)
    return record


def append_audit(path: Path, record: Mapping[str, Any]) -> None:
    """Append ``record`` as one JSON line to ``path`` (created 0600), synced to disk."""
    line = (json.dumps(record, sort_keys=True, ensure_ascii=True) + "\n").encode("ascii")
    fd = _open_for_append(path)
    try:
        os.write(fd, line)
        os.fsync(fd)
    finally:
        os.close(fd)


def audit_writable(path: Path) -> None:
    """Raise ``OSError`` unless ``append_audit(path, ...)`` can write: the
    file is opened for appending (created 0600 when absent), nothing written."""
    os.close(_open_for_append(path))


def _open_for_append(path: Path) -> int:
    """``path`` opened ``O_APPEND`` for writing (it and its folder made when absent)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    return os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)


def read_audit(path: Path) -> list[dict[str, Any]]:
    """Every record of an audit file, oldest first (an absent file has none)."""
    if not path.exists():
        return []
    with path.open(encoding="ascii") as handle:
        return [json.loads(line) for line in handle if line.strip()]
