"""Where lines come from: files, gzip files, directories, stdin — in bounded batches.

Lines are cut in Arrow (``split_pattern`` over a decoded block), not in a Python
loop, and carry their 1-based line number. Bytes that are not UTF-8 become
U+FFFD so a corrupt line is kept (and usually rejected) rather than lost.
"""

from __future__ import annotations

import gzip
import io
import os
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

#: Bytes read per batch. Bounds memory whatever the file size; large enough
#: that per-batch overhead in DuckDB stays small next to the parsing itself.
BLOCK_BYTES = 32 * 1024 * 1024

GZIP_MAGIC = b"\x1f\x8b"


class InputError(Exception):
    """An input that cannot be read at all; the message names it."""


@dataclass(frozen=True)
class Source:
    """One input: a path on disk, or stdin (``path is None``)."""

    name: str
    path: Path | None

    def open(self) -> BinaryIO:
        """A binary stream of the decompressed content."""
        raw: BinaryIO
        if self.path is None:
            raw = sys.stdin.buffer
        else:
            try:
                raw = self.path.open("rb")
            except OSError as exc:
                raise InputError(f"{self.name}: cannot open: {exc.strerror}") from exc
        buffered = raw if isinstance(raw, io.BufferedReader) else io.BufferedReader(raw)  # type: ignore[type-var]
        if buffered.peek(2)[:2] == GZIP_MAGIC:
            return gzip.GzipFile(fileobj=buffered, mode="rb")  # type: ignore[return-value]
        return buffered


def expand(paths: Iterable[str]) -> list[Source]:
    """Turn command-line paths into sources: directories recursively, in name order.

    Hidden files (``.name``) inside directories are left out, as editors and
    rotation tools leave state files there; a hidden file named explicitly is read.
    """
    sources: list[Source] = []
    for text in paths:
        if text == "-":
            sources.append(Source("-", None))
            continue
        path = Path(text)
        if path.is_dir():
            for root, dirs, files in os.walk(path):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                for name in sorted(files):
                    if not name.startswith("."):
                        child = Path(root) / name
                        sources.append(Source(str(child), child))
        elif path.exists():
            sources.append(Source(text, path))
        else:
            raise InputError(f"{text}: no such file or directory")
    return sources


def _split(block: bytes, first_line: int) -> pa.Table:
    text = block.decode("utf-8", errors="replace")
    parts = pc.split_pattern(pa.array([text], pa.large_string()), "\n")
    lines = pc.list_flatten(parts)
    lines = pc.utf8_rtrim(lines, "\r").cast(pa.string())
    numbers = pa.array(np.arange(first_line, first_line + len(lines), dtype=np.int64))
    return pa.table({"log_line": numbers, "line": lines})


def read_batches(
    stream: BinaryIO, head: bytes = b"", block_bytes: int = BLOCK_BYTES
) -> Iterator[pa.Table]:
    """Yield tables of (``log_line``, ``line``), each holding whole lines only.

    ``head`` is content already read from the stream (for sniffing). A final
    line without a newline is still a line; an empty input yields nothing.
    """
    pending = head
    next_line = 1
    while True:
        block = stream.read(block_bytes)
        if not block:
            break
        data = pending + block
        cut = data.rfind(b"\n")
        if cut < 0:
            pending = data
            continue
        pending = data[cut + 1 :]
        batch = _split(data[:cut], next_line)
        next_line += batch.num_rows
        yield batch
    # ``head`` may hold whole lines that the loop above never cut.
    cut = pending.rfind(b"\n")
    if cut >= 0:
        batch = _split(pending[:cut], next_line)
        next_line += batch.num_rows
        yield batch
        pending = pending[cut + 1 :]
    if pending:
        yield _split(pending, next_line)


SNIFF_BYTES = 64 * 1024


def read_head(stream: BinaryIO, size: int = SNIFF_BYTES) -> bytes:
    """Read the first bytes of a stream for sniffing (pass them back to ``read_batches``)."""
    return stream.read(size)


def head_lines(head: bytes, size: int = SNIFF_BYTES, limit: int = 20) -> list[str]:
    """The first ``limit`` non-blank lines of ``head``, read with ``read_head(stream, size)``.

    When ``head`` filled ``size`` its last line may be cut, so it is dropped.
    """
    text = head.decode("utf-8", errors="replace")
    lines = text.split("\n")
    if len(head) >= size and len(lines) > 1:
        lines = lines[:-1]
    stripped = (line.rstrip("\r") for line in lines)
    return [line for line in stripped if line.strip()][:limit]
