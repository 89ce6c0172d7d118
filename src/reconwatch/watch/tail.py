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
  ``from_start``. A rotated file that reappears under a new name
  (``access.log`` -> ``access.log.1``) is recognised by its inode and not
  read twice. Compressed files (rotated ``.gz``) and hidden files are skipped.
"""

from __future__ import annotations

import os
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Final

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from reconwatch.ingest.sources import BZIP2_MAGIC, GZIP_MAGIC, ZSTD_MAGIC

#: Inodes of finished (rotated) files remembered, so a renamed file is not re-read.
FINISHED_MEMORY: Final = 4096
#: How much of a followed file's beginning tells its content apart from what
#: replaces it in place (time stamps of the first lines, a Zeek ``#open``).
HEAD_BYTES: Final = 1024
#: A file that has not grown for this long is closed (and reopened when it
#: grows): rotated files pile up in a directory, open descriptors must not.
IDLE_CLOSE_SECONDS: Final = 300.0

Inode = tuple[int, int]


@dataclass
class Chunk:
    """Whole lines read from one file: ``lines`` has ``log_line`` and ``line``."""

    name: str
    lines: pa.Table
    #: True for the first chunk of a new file (or of a file after rotation or
    #: truncation): the reader starts a new parser, as ``ingest`` does per file.
    fresh: bool = False


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
    chunks: list[Chunk] = field(default_factory=list)


def _inode(stat: os.stat_result) -> Inode:
    return (stat.st_dev, stat.st_ino)


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

    Cut in Arrow as ``ingest.sources`` does, numbered from ``first_line``;
    ``b""`` is one blank line. Bytes that are not UTF-8 become U+FFFD.
    """
    text = data.decode("utf-8", errors="replace")
    parts = pc.split_pattern(pa.array([text], pa.large_string()), "\n")
    lines = pc.utf8_rtrim(pc.list_flatten(parts), "\r").cast(pa.string())
    numbers = pa.array(np.arange(first_line, first_line + len(lines), dtype=np.int64))
    return pa.table({"log_line": numbers, "line": lines})


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
        #: inode -> (offset reached, next line number), for files finished after
        #: a rotation (or followed by a previous run), so evidence keeps its
        #: true line numbers when reading carries on.
        self.finished: OrderedDict[Inode, tuple[int, int]] = OrderedDict()
        #: Why a file is not read (compressed...), by name, for the summary.
        self.skipped: dict[str, str] = {}
        #: Lines cut at ``max_line_bytes``.
        self.cut_lines = 0
        # Where a previous run stopped (``positions()``): a file still there
        # under the same inode carries on from its offset, wherever it is now
        # (renamed by rotation too); any other file is new since then and is
        # read whole.
        resumed = False
        for saved in positions or []:
            inode = (int(saved["dev"]), int(saved["ino"]))
            self.finished[inode] = (int(saved["offset"]), int(saved.get("next_line", 1)))
            resumed = True
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
                for dirpath, dirs, files in os.walk(root):
                    dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                    found.extend(Path(dirpath) / n for n in sorted(files) if not n.startswith("."))
            else:
                # A named file is followed even before it exists (it may be created later).
                found.append(root)
        return found

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

    def flush(self) -> list[Chunk]:
        """Partial last lines as lines (at shutdown: nothing read is left behind)."""
        chunks = []
        for state in self.followed.values():
            if state.pending:
                self._emit(state, state.pending)
                state.pending = b""
            chunks.extend(state.chunks)
            state.chunks.clear()
        return chunks

    def positions(self) -> list[dict[str, Any]]:
        """Where each followed file stands, for a restart (after ``flush``)."""
        out = []
        for state in self.followed.values():
            if state.inode is not None:
                dev, ino = state.inode
                out.append(
                    {
                        "path": str(state.path), "dev": dev, "ino": ino,
                        "offset": state.offset, "next_line": state.next_line,
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
        if stat.st_size < state.offset or self._head_changed(state):
            # Truncated in place (copytruncate): what is there now is new content.
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
        elif now - state.idle_since >= self.idle_close_seconds:
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
        try:
            fh = state.path.open("rb")
        except OSError:
            return False
        if _inode(os.fstat(fh.fileno())) != state.inode:
            fh.close()
            return False
        fh.seek(state.offset)
        state.fh, state.parked = fh, False
        state.idle_since = time.monotonic()
        return True

    def _open(self, state: _Followed, stat: os.stat_result) -> bool:
        inode = _inode(stat)
        if any(s.inode == inode for s in self.followed.values() if s is not state):
            return False  # another name of a file already followed (renamed, not yet finished)
        try:
            fh = state.path.open("rb")
        except OSError:
            return False
        if _compressed(fh):
            fh.close()
            state.ignored = inode
            self.skipped[str(state.path)] = "compressed file (rotated log): not followed"
            return False
        state.fh, state.inode, state.pending = fh, inode, b""
        state.fresh = True
        state.next_line = 1
        if inode in self.finished:
            # A rotated file under its new name: carry on where it was left.
            state.offset, state.next_line = self.finished.pop(inode)
        elif state.start_at_zero:
            state.offset = 0
        else:
            # Joined midway: line numbers count from where reading began.
            state.offset = stat.st_size
        state.start_at_zero = True  # once followed, a replacement file is read whole
        fh.seek(state.offset)
        return True

    def _finish(self, state: _Followed) -> None:
        if state.pending:
            self._emit(state, state.pending)
            state.pending = b""
        if state.fh is not None:
            state.fh.close()
        if state.inode is not None:
            self.finished[state.inode] = (state.offset, state.next_line)
            while len(self.finished) > FINISHED_MEMORY:
                self.finished.popitem(last=False)
        state.fh, state.inode, state.offset, state.parked = None, None, 0, False
        state.skipping, state.head = False, b""

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
        state.next_line += table.num_rows
        state.chunks.append(Chunk(str(state.path), table, fresh=state.fresh))
        state.fresh = False
