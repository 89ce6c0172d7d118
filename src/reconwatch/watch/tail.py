"""Following files and directories as they grow: ``tail -F`` in bounded polls.

Polling (a ``stat`` per file per cycle) instead of inotify: it is portable,
needs no extra package, and a cycle of 0.5 s is well inside the alert
latency. What each poll does, per followed path:

* **growth**: read at most ``read_bytes`` from where the last read stopped;
  whole lines are handed on, a partial last line waits for its newline (and
  is cut at ``max_line_bytes`` so one endless line cannot grow memory);
* **rotation** (the path now names another inode: ``logrotate`` with
  ``create``): the old file is read to its end (``read_bytes`` per poll),
  its partial line flushed, then the new file is read from its start;
* **truncation** (the file is shorter than what was read:
  ``copytruncate``): reading restarts at 0;
* **new files** in a followed directory are read from their start (they are
  new content); files present at start are read from their end unless
  ``from_start`` (from the line after the one being written). A rotated
  file that reappears under a new name (``access.log`` -> ``access.log.1``)
  is recognised by its inode and not read twice, unless its first bytes
  changed (other content under a reused inode). The first chunk of a file
  read from its middle carries the file's first lines (``Chunk.head``), for
  a parser that needs its header (Zeek ``#fields``). Compressed files
  (rotated ``.gz``) and hidden files are skipped; so are FIFOs, sockets and
  devices found in a directory (a FIFO would block the open for ever), with
  one warning each;
* a **named pipe** given by name is read as a stream: opened non-blocking
  (no writer yet does not hold up the watch, nor its stop), read as data
  arrives, and never taken as truncated, rotated or idle.
"""

from __future__ import annotations

import hashlib
import logging
import os
import stat as stat_module
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Final

import pyarrow as pa

from reconwatch.ingest.sources import (
    BZIP2_MAGIC,
    GZIP_MAGIC,
    ZSTD_MAGIC,
    shown_name,
    split_lines,
)

#: Why a FIFO, a socket or a device found in a followed directory is not read.
NOT_REGULAR: Final = "not a regular file: skipped"
#: Inodes of finished (rotated) files remembered, so a renamed file is not re-read.
FINISHED_MEMORY: Final = 4096
#: How much of a followed file's beginning tells its content apart from what
#: replaces it in place (time stamps of the first lines, a Zeek ``#open``).
HEAD_BYTES: Final = 1024
#: A file that has not grown for this long is closed (and reopened when it
#: grows): rotated files pile up in a directory, open descriptors must not.
IDLE_CLOSE_SECONDS: Final = 300.0
#: How much of a file's beginning is handed to a parser that starts reading it
#: midway (``Chunk.head``): a Zeek ``#fields`` or an IIS ``#Fields`` header
#: says how every later line reads, as ``ingest`` reads one (its sniff size).
PREAMBLE_BYTES: Final = 64 * 1024

Inode = tuple[int, int]

log = logging.getLogger(__name__)


@dataclass
class Chunk:
    """Whole lines read from one file: ``lines`` has ``log_line`` and ``line``."""

    name: str
    lines: pa.Table
    #: True for the first chunk of a new file (or of a file after rotation or
    #: truncation): the reader starts a new parser, as ``ingest`` does per file.
    fresh: bool = False
    #: With the first chunk of a file read from its middle (joined at its end,
    #: resumed after a restart, a rotated file carried on): the file's first
    #: lines, numbered just before ``lines``, for the new parser to read its
    #: header from (a Zeek ``#fields``); never counted or kept as events.
    head: pa.Table | None = None


@dataclass
class _Left:
    """Where reading of a file stopped (finished after a rotation, or at a restart)."""

    offset: int
    next_line: int
    skipping: bool
    #: Length and SHA-256 of its first bytes then: the same inode with other
    #: first bytes is other content (copytruncate, then writes), read whole.
    head_bytes: int = 0
    head_sha256: str = ""


@dataclass
class _Followed:
    path: Path
    fh: BinaryIO | None = None
    inode: Inode | None = None
    offset: int = 0
    pending: bytes = b""
    #: The current line was cut at ``max_line_bytes``: drop its rest up to the
    #: next newline instead of reading it as a new line (whose start the writer
    #: of the log would then choose).
    skipping: bool = False
    next_line: int = 1
    fresh: bool = True
    #: Read from the start when the file (re)appears.
    start_at_zero: bool = True
    #: Closed while idle (its inode, offset and partial line are kept).
    parked: bool = False
    idle_since: float = field(default_factory=time.monotonic)
    #: Inode of a file not to be read (compressed), so it is not reopened every poll.
    ignored: Inode | None = None
    #: The file's first bytes when last seen: a file truncated and written past
    #: the old offset between two polls (copytruncate, then a burst) is no
    #: shorter than what was read, but its beginning is new.
    head: bytes = b""
    #: A named pipe (FIFO named on the command line): a stream, without
    #: offsets to seek to, a size to compare or an idle close.
    pipe: bool = False
    #: The offset reading began at when it was not 0 (the file's first chunk
    #: then carries its head, ``Chunk.head``); 0 once that chunk is handed on.
    midway: int = 0
    chunks: list[Chunk] = field(default_factory=list)


def _inode(stat: os.stat_result) -> Inode:
    return (stat.st_dev, stat.st_ino)


def _not_regular(mode: int) -> str | None:
    """What a file of ``mode`` is when it is not a regular file (``a FIFO``...), else None."""
    if stat_module.S_ISREG(mode):
        return None
    if stat_module.S_ISFIFO(mode):
        return "a FIFO"
    if stat_module.S_ISSOCK(mode):
        return "a socket"
    if stat_module.S_ISCHR(mode) or stat_module.S_ISBLK(mode):
        return "a device"
    return "not a regular file"


def _same_head(fh: BinaryIO, left: _Left) -> bool:
    """Whether the open file begins with the bytes ``left`` noted (when it noted any)."""
    if not left.head_bytes or not left.head_sha256:
        return True  # a state saved before first bytes were noted
    try:
        now = os.pread(fh.fileno(), left.head_bytes, 0)
    except OSError:
        return True
    return hashlib.sha256(now).hexdigest() == left.head_sha256


def _byte_before(fh: BinaryIO, offset: int) -> bytes:
    try:
        return os.pread(fh.fileno(), 1, offset - 1)
    except OSError:
        return b"\n"


def _compressed(fh: BinaryIO) -> bool:
    magic = fh.read(4)
    fh.seek(0)
    return (
        magic[:2] == GZIP_MAGIC
        or magic == ZSTD_MAGIC
        or (magic[:3] == BZIP2_MAGIC and magic[3:4].isdigit() and magic[3:4] != b"0")
    )


def lines_from_bytes(data: bytes, first_line: int) -> pa.Table:
    """The lines of ``data`` (lines joined by newlines, without the last newline).

    Cut by ``ingest.sources``' own splitter (in Arrow, decoded in Python only
    when not UTF-8), numbered from ``first_line``; ``b""`` is one blank line.
    Bytes that are not UTF-8 become U+FFFD; a line's ending ``\r`` is cut off.
    """
    return split_lines(data, first_line)


class FileTailer:
    """Follows files and directories; ``poll`` returns the whole lines that appeared."""

    def __init__(
        self,
        paths: list[str],
        *,
        from_start: bool = False,
        read_bytes: int = 8 * 1024 * 1024,
        max_line_bytes: int = 1024 * 1024,
        idle_close_seconds: float = IDLE_CLOSE_SECONDS,
        positions: list[dict[str, Any]] | None = None,
    ) -> None:
        self.roots = [Path(p) for p in paths]
        self.idle_close_seconds = idle_close_seconds
        self.read_bytes = read_bytes
        self.max_line_bytes = max_line_bytes
        self.followed: dict[Path, _Followed] = {}
        #: inode -> where reading stopped, for files finished after a rotation
        #: (or followed by a previous run), so evidence keeps its true line
        #: numbers when reading carries on.
        self.finished: OrderedDict[Inode, _Left] = OrderedDict()
        #: Why a file is not read (compressed...), by name, for the summary.
        self.skipped: dict[str, str] = {}
        #: Lines cut at ``max_line_bytes``.
        self.cut_lines = 0
        # Where a previous run stopped (``positions()``): a file still there
        # under the same inode carries on from its offset, wherever it is now
        # (renamed by rotation too); any other file is new since then and is
        # read whole. A saved state without files (none there yet) is a
        # restart too: what appeared while the watch was down is new.
        resumed = positions is not None
        for saved in positions or []:
            inode = (int(saved["dev"]), int(saved["ino"]))
            self.finished[inode] = _Left(
                int(saved["offset"]),
                int(saved.get("next_line", 1)),
                bool(saved.get("skipping", False)),
                int(saved.get("head_bytes", 0)),
                str(saved.get("head_sha256", "")),
            )
        # Files present now start at their end unless asked otherwise.
        for path in self._discover():
            state = self.followed[path] = _Followed(path, start_at_zero=from_start or resumed)
            # Opened now, so "the end" is the end at start-up, not at the first poll.
            try:
                stat = path.stat()
            except OSError:
                state.start_at_zero = True  # not there yet: all of it will be new
                continue
            self._open(state, stat)

    def _discover(self) -> list[Path]:
        found: list[Path] = []
        for root in self.roots:
            if root.is_dir():
                self._walk(root, found)
            else:
                # A named file is followed even before it exists (it may be created later).
                found.append(root)
        return found

    def _walk(self, folder: Path, found: list[Path]) -> None:
        """The files under ``folder`` (hidden ones left out), in name order, as ``os.walk``.

        FIFOs, sockets and devices are left out with one warning each: opening
        a FIFO blocks until a writer comes, which would hold the watch (and
        its stop) for ever. A link that leads nowhere is kept (it may come to).
        """
        try:
            with os.scandir(folder) as listing:
                entries = sorted(listing, key=lambda e: e.name)
        except OSError:
            return
        folders = []
        for entry in entries:
            if entry.name.startswith("."):
                continue
            path = Path(entry.path)
            try:
                if entry.is_dir():
                    if not entry.is_symlink():  # not followed, as os.walk does not
                        folders.append(path)
                    continue
                kind = None if entry.is_file() else _not_regular(entry.stat().st_mode)
            except OSError:
                kind = None  # gone, or a dangling link: followed when it appears
            if kind is None:
                found.append(path)
                if self.skipped.get(str(path), "").endswith(NOT_REGULAR):
                    del self.skipped[str(path)]  # a file there now: a FIFO again is told again
            else:
                self._skip(path, f"{kind}, {NOT_REGULAR}")
        for sub in folders:
            self._walk(sub, found)

    def _skip(self, path: Path, reason: str) -> None:
        """Note why ``path`` is not read (in the summary), warning the first time."""
        if self.skipped.get(str(path)) != reason:
            self.skipped[str(path)] = reason
            log.warning("%s: %s", path, reason)

    def poll(self) -> list[Chunk]:
        """Read what every followed file gained since the last poll."""
        for path in self._discover():
            if path not in self.followed:
                self.followed[path] = _Followed(path, start_at_zero=True)
        chunks: list[Chunk] = []
        gone = []
        for path, state in self.followed.items():
            if self._poll_one(state) and path not in self.roots:
                gone.append(path)
            chunks.extend(state.chunks)
            state.chunks.clear()
        for path in gone:
            del self.followed[path]  # vanished from its directory: forget it
        return chunks

    def flush(self, keep_partial: bool = False) -> list[Chunk]:
        """Partial last lines as lines (at shutdown: nothing read is left behind).

        With ``keep_partial`` (a restart will carry on: ``positions``), a file's
        partial last line is left unread instead, to be read whole after the
        restart: handed on now, ``DPT=2`` of a line stopped mid-write would be
        parsed as port 2, and its rest rejected after the restart. A named
        pipe's is handed on either way (nothing can be read from it again).
        """
        chunks = []
        for state in self.followed.values():
            if state.pending and (state.pipe or not keep_partial):
                self._emit(state, state.pending)
                state.pending = b""
            chunks.extend(state.chunks)
            state.chunks.clear()
        return chunks

    def positions(self) -> list[dict[str, Any]]:
        """Where each followed file stands, for a restart (after ``flush``).

        The offset is that of the first byte not handed on: a partial last line
        still waiting (``flush(keep_partial=True)``) is read again, whole, after
        the restart. The file's first bytes (their length and SHA-256) tell a
        file truncated and written again while the watch was down from the one
        it was. Named pipes have no position.
        """
        out = []
        for state in self.followed.values():
            if state.inode is not None and not state.pipe:
                dev, ino = state.inode
                out.append(
                    {
                        "path": str(state.path), "dev": dev, "ino": ino,
                        "offset": state.offset - len(state.pending),
                        "next_line": state.next_line, "skipping": state.skipping,
                        "head_bytes": len(state.head),
                        "head_sha256": hashlib.sha256(state.head).hexdigest(),
                    }
                )  # fmt: skip
        return out

    def close(self) -> None:
        for state in self.followed.values():
            if state.fh is not None:
                state.fh.close()
                state.fh = None

    # -- one file ---------------------------------------------------------------------

    def _poll_one(self, state: _Followed) -> bool:
        """Read what one file gained; True when the path is gone and nothing is open."""
        try:
            stat = state.path.stat()
        except OSError:
            stat = None
        if state.parked:
            same = stat is not None and _inode(stat) == state.inode
            if same and stat is not None and stat.st_size == state.offset:
                return False  # still idle: not even opened
            if not same or not self._reopen(state):
                self._finish(state)  # replaced or removed while parked
        elif state.fh is not None and (stat is None or _inode(stat) != state.inode):
            # Rotated (or removed): finish the old file first, then move on. Its
            # backlog (a burst the bounded polls had not caught up with) is read
            # ``read_bytes`` per poll like any growth, not in one go.
            if self._read(state, limit=self.read_bytes) >= self.read_bytes:
                return False  # more of the old file at the next poll
            self._finish(state)
        if stat is None:
            return state.fh is None
        if state.fh is None and (state.ignored == _inode(stat) or not self._open(state, stat)):
            return False
        assert state.fh is not None
        if not state.pipe and (stat.st_size < state.offset or self._head_changed(state)):
            # Truncated in place (copytruncate): what is there now is new content
            # (its beginning is no head of the old content's partial line).
            state.midway = 0
            if state.pending:
                self._emit(state, state.pending)
            state.pending, state.skipping = b"", False
            state.offset = 0
            state.next_line = 1
            state.fresh = True
            state.head = b""
            state.fh.seek(0)
        self._remember_head(state, stat.st_size)
        now = time.monotonic()
        if self._read(state, limit=self.read_bytes):
            state.idle_since = now
        elif not state.pipe and now - state.idle_since >= self.idle_close_seconds:
            state.fh.close()
            state.fh, state.parked = None, True
        return False

    def _head_changed(self, state: _Followed) -> bool:
        """Whether the open file's first bytes differ from those seen before."""
        if not state.head or state.fh is None:
            return False
        try:
            now = os.pread(state.fh.fileno(), len(state.head), 0)
        except OSError:
            return False
        return now != state.head

    def _remember_head(self, state: _Followed, size: int) -> None:
        """Keep the file's first ``HEAD_BYTES`` (more of them while the file is short)."""
        if len(state.head) >= HEAD_BYTES or size <= len(state.head) or state.fh is None:
            return
        try:
            state.head = os.pread(state.fh.fileno(), HEAD_BYTES, 0)
        except OSError:
            state.head = b""

    def _reopen(self, state: _Followed) -> bool:
        """Open a parked file again where it was left (same inode, same partial line)."""
        fh = self._open_file(state.path, state.inode) if state.inode is not None else None
        if fh is None:
            return False
        fh.seek(state.offset)
        state.fh, state.parked = fh, False
        state.idle_since = time.monotonic()
        return True

    def _open(self, state: _Followed, stat: os.stat_result) -> bool:
        inode = _inode(stat)
        if any(s.inode == inode for s in self.followed.values() if s is not state):
            return False  # another name of a file already followed (renamed, not yet finished)
        named = state.path in self.roots
        kind = _not_regular(stat.st_mode)
        if kind is not None and not (named and kind == "a FIFO"):
            # Found in a directory (or a socket, a device): never opened, as
            # opening a FIFO waits for a writer.
            state.ignored = inode
            self._skip(state.path, f"{kind}, {NOT_REGULAR}")
            return False
        fh = self._open_file(state.path, inode)
        if fh is None:
            return False
        pipe = kind is not None
        if not pipe and _compressed(fh):
            fh.close()
            state.ignored = inode
            self.skipped[str(state.path)] = "compressed file (rotated log): not followed"
            return False
        state.fh, state.inode, state.pending, state.pipe = fh, inode, b"", pipe
        state.fresh, state.skipping = True, False
        state.next_line = 1
        left = self.finished.pop(inode, None) if not pipe else None
        if pipe:
            state.offset = 0  # a stream: counts what was read, nothing to seek to
        elif left is not None and _same_head(fh, left):
            # A rotated file under its new name: carry on where it was left.
            state.offset, state.next_line, state.skipping = (
                left.offset,
                left.next_line,
                left.skipping,
            )
        elif state.start_at_zero or left is not None:
            # (Its inode known, its first bytes not: truncated and written
            # again since it was left, all of it new.)
            state.offset = 0
        else:
            # Joined midway: line numbers count from where reading began. A
            # line its writer is half way through is not read (its start was
            # not): reading begins after its newline.
            state.offset = stat.st_size
            state.skipping = state.offset > 0 and _byte_before(fh, state.offset) != b"\n"
        state.start_at_zero = True  # once followed, a replacement file is read whole
        state.midway = 0 if pipe else state.offset
        if not pipe:
            fh.seek(state.offset)
        return True

    @staticmethod
    def _open_file(path: Path, inode: Inode) -> BinaryIO | None:
        """``path`` opened for reading, never waiting: None if it cannot be, or is
        no longer the file ``inode`` names (replaced since its ``stat``).

        Non-blocking, so a FIFO without a writer (or one that replaced the file
        between the ``stat`` and the open) does not hold the watch; a regular
        file reads the same either way. Unbuffered: a pipe with no data yet
        reads as nothing (None), not as an error.
        """
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        except OSError:
            return None
        try:
            if _inode(os.fstat(fd)) != inode:
                os.close(fd)
                return None
            return os.fdopen(fd, "rb", buffering=0)
        except OSError:
            os.close(fd)
            return None

    def _finish(self, state: _Followed) -> None:
        if state.pending:
            self._emit(state, state.pending)
            state.pending = b""
        if state.fh is not None:
            state.fh.close()
        if state.inode is not None and not state.pipe:
            self.finished[state.inode] = _Left(
                state.offset, state.next_line, state.skipping,
                len(state.head), hashlib.sha256(state.head).hexdigest(),
            )  # fmt: skip
            while len(self.finished) > FINISHED_MEMORY:
                self.finished.popitem(last=False)
        state.fh, state.inode, state.offset, state.parked = None, None, 0, False
        state.skipping, state.head, state.pipe, state.midway = False, b"", False, 0

    def _read(self, state: _Followed, limit: int | None) -> int:
        """Read up to ``limit`` bytes (None: to the end); return how many were read."""
        assert state.fh is not None
        budget = limit
        total = 0
        while budget is None or budget > 0:
            size = self.read_bytes if budget is None else min(budget, self.read_bytes)
            block = state.fh.read(size)
            if not block:
                break
            total += len(block)
            state.offset += len(block)
            if budget is not None:
                budget -= len(block)
            if state.skipping:
                end = block.find(b"\n")
                if end < 0:
                    continue  # still inside the cut line
                block, state.skipping = block[end + 1 :], False
            data = state.pending + block
            cut = data.rfind(b"\n")
            if cut < 0:
                state.pending = data
            else:
                state.pending = data[cut + 1 :]
                self._emit(state, data[:cut])
            if len(state.pending) > self.max_line_bytes:
                # Bounded memory: a line that never ends is handed on cut, and
                # the rest of it is dropped up to its newline.
                self._emit(state, state.pending[: self.max_line_bytes])
                self.cut_lines += 1
                state.pending = b""
                state.skipping = True
        return total

    def _emit(self, state: _Followed, data: bytes) -> None:
        table = lines_from_bytes(data, state.next_line)
        if table.num_rows == 0:
            return
        head = None
        if state.fresh and state.midway and state.fh is not None:
            head = self._preamble(state)
        state.midway = 0
        state.next_line += table.num_rows
        state.chunks.append(Chunk(shown_name(str(state.path)), table, fresh=state.fresh, head=head))
        state.fresh = False

    def _preamble(self, state: _Followed) -> pa.Table | None:
        """The whole lines of the file's first ``PREAMBLE_BYTES`` before the offset
        reading began at, numbered up to the line before ``state.next_line``."""
        assert state.fh is not None
        try:
            data = os.pread(state.fh.fileno(), min(state.midway, PREAMBLE_BYTES), 0)
        except OSError:
            return None
        cut = data.rfind(b"\n")
        if cut < 0:
            return None
        data = data[:cut]
        return lines_from_bytes(data, state.next_line - data.count(b"\n") - 1)
