"""Files written so that a reader never sees a part of one, and files held by one run.

A SIEM that polls ``OUT/cases.json``, a script that loads ``block.nft``, or a
browser open on ``report.html`` may read a file while a hunt rewrites it:
each output is written under a temporary name in its folder and renamed over
the old one (a rename within a folder is atomic on POSIX filesystems), so
the reader gets the old file or the whole new one.

``exclusive`` holds a lock file (``flock``) for the hunt's output folder
(refused when busy) and the lake's ingest (waited for).
"""

from __future__ import annotations

import fcntl
import os
import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path


class LockBusy(Exception):
    """Another process holds the lock (``exclusive(..., wait=None)``)."""


def write_atomic(path: Path, data: bytes, *, private: bool = False) -> None:
    """Write ``data`` to ``path``: readers see the old file or the whole new one.

    The file gets the mode a plain write would give it (0666 less the umask),
    or 0600 with ``private`` (caches of downloaded feeds). It is flushed to
    disk before the rename, so a crash leaves the old file rather than an
    empty new one. An ``OSError`` names ``path`` (``filename``).
    """
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    try:
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600 if private else 0o666)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            temporary.replace(path)
        except BaseException:
            temporary.unlink(missing_ok=True)
            raise
    except OSError as exc:
        # The error names the temporary file, or none (a full disk): callers
        # report ``filename``, which is to be the file they asked for. The
        # errno keeps the subclass (IsADirectoryError...).
        raise OSError(exc.errno, exc.strerror, str(path)) from exc


def write_text_atomic(path: Path, text: str) -> None:
    """``write_atomic`` for UTF-8 text."""
    write_atomic(path, text.encode("utf-8"))


@contextmanager
def exclusive(path: Path, *, wait: Callable[[], None] | None) -> Iterator[None]:
    """Hold ``path`` (created if absent) with an exclusive ``flock`` for the block.

    When another process holds it: ``wait`` None raises ``LockBusy`` at once;
    otherwise ``wait()`` is called (to say so) and the lock is waited for.
    Opening the file may raise ``OSError``.
    """
    with path.open("a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if wait is None:
                raise LockBusy(str(path)) from None
            wait()
            fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
