"""Where lines come from: files, gzip/bzip2/zstd files, directories, stdin — in bounded batches.

Lines are cut in Arrow (``split_pattern`` over a decoded block), not in a Python
loop, and carry their 1-based line number. Bytes that are not UTF-8 become
U+FFFD so a corrupt line is kept (and usually rejected) rather than lost.
"""

from __future__ import annotations

import bz2
import gzip
import io
import os
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

#: Bytes read per batch. Bounds memory whatever the file size; large enough
#: that per-batch overhead in DuckDB stays small next to the parsing itself.
BLOCK_BYTES = 32 * 1024 * 1024

GZIP_MAGIC = b"\x1f\x8b"
#: "BZh" and the block size digit 1-9 (bzip2's own check; "BZh" alone starts plain text too).
BZIP2_MAGIC = b"BZh"
#: Zstandard frame magic number 0xFD2FB528, little-endian.
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
#: Windows XML event log (``.evtx``) file header signature.
EVTX_MAGIC = b"ElfFile\x00"
#: A compressed ``.evtx`` is decompressed into memory up to this size, then to disk.
EVTX_SPOOL_BYTES = 64 * 1024 * 1024
#: Corrupt records beyond the good ones by this many: the file is not an event log.
MAX_EVTX_ERRORS = 1000


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
        stream = _decompressed(buffered)
        if _peek_evtx(stream):
            plain = stream is buffered and self.path is not None
            return _evtx_lines(self.path if plain and self.path else stream, self.name)
        return stream


def _decompressed(buffered: io.BufferedReader[Any]) -> BinaryIO:
    """``buffered`` itself, or a decompressing stream over it, chosen by magic bytes.

    Magic bytes, not file names: rotated logs arrive as ``syslog.2.gz``,
    ``access.log-20260930.zst`` or piped on stdin without any name.
    """
    magic = buffered.peek(4)[:4]
    if magic[:2] == GZIP_MAGIC:
        return gzip.GzipFile(fileobj=buffered, mode="rb")  # type: ignore[return-value]
    if magic[:3] == BZIP2_MAGIC and magic[3:4].isdigit() and magic[3:4] != b"0":
        return bz2.BZ2File(buffered, mode="rb")  # type: ignore[return-value]
    if magic == ZSTD_MAGIC:
        import zstandard  # optional at import time: only zstd inputs need it

        # read_across_frames: zstd files made by concatenation (like ``cat a.zst
        # b.zst``, or logrotate appending) hold several frames, all of them lines.
        reader = zstandard.ZstdDecompressor().stream_reader(
            buffered, read_across_frames=True, closefd=True
        )
        return io.BufferedReader(_ZstdErrorsAsOSError(reader, zstandard.ZstdError))
    return buffered


def _peek_evtx(stream: BinaryIO) -> bool:
    """True when the (decompressed) stream holds an ``.evtx`` file."""
    peek = getattr(stream, "peek", None)
    if peek is None:
        return False
    return bytes(peek(8)[:8]) == EVTX_MAGIC


def _evtx_lines(source: Path | BinaryIO, name: str) -> BinaryIO:
    """An ``.evtx`` file as JSON lines, one event record per line, in record order.

    The records are decoded by the ``evtx`` package (a Rust parser) into the
    JSON shape of ``evtx_dump -o jsonl``, which the ``windows-json`` parser
    reads; line N of the result is the file's Nth record, so evidence points
    at ``file.evtx:N``. A compressed ``.evtx`` is first spooled (memory, then
    disk past ``EVTX_SPOOL_BYTES``) because the format needs random access.
    """
    import tempfile

    from evtx import PyEvtxParser

    if isinstance(source, Path):
        target: Any = str(source)
    else:
        target = tempfile.SpooledTemporaryFile(max_size=EVTX_SPOOL_BYTES)  # noqa: SIM115
        while block := source.read(BLOCK_BYTES):
            target.write(block)
        target.seek(0)
    try:
        parser = PyEvtxParser(target, indent=False)
    except (OSError, RuntimeError) as exc:
        raise InputError(f"{name}: not a readable .evtx file: {exc}") from exc
    return io.BufferedReader(_EvtxRecords(parser))


class _EvtxRecords(io.RawIOBase):
    """The JSON records of an ``evtx`` parser as a byte stream of lines."""

    def __init__(self, parser: Any) -> None:
        super().__init__()
        self._records = parser.records_json()
        self._buffer = b""
        self.records = 0
        self.errors = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview | bytearray) -> int:  # type: ignore[override]
        parts, have = [self._buffer], len(self._buffer)
        while have < len(buffer):
            try:
                record = next(self._records)
            except StopIteration:
                break
            except RuntimeError as exc:
                # One corrupt record: an empty line keeps line N = record N
                # (it is counted as skipped) and reading goes on; a file that
                # is nothing but errors is unreadable input.
                self.errors += 1
                if self.errors - self.records > MAX_EVTX_ERRORS:
                    raise OSError(f"evtx: {exc}") from exc
                parts.append(b"\n")
                have += 1
                continue
            self.records += 1
            # One record per line, whatever newlines the event text holds.
            line = record["data"].replace("\r", " ").replace("\n", " ").encode("utf-8") + b"\n"
            parts.append(line)
            have += len(line)
        self._buffer = b"".join(parts)
        size = min(len(buffer), len(self._buffer))
        buffer[:size] = self._buffer[:size]
        self._buffer = self._buffer[size:]
        return size


class _ZstdErrorsAsOSError(io.RawIOBase):
    """A zstd reader whose corrupt-data errors are ``OSError``, as gzip's and bz2's are.

    ``ingest.run`` reports an unreadable input by catching ``OSError``; the
    ``zstandard`` package raises its own ``ZstdError``, which would stop the run.
    """

    def __init__(self, reader: BinaryIO, error: type[Exception]) -> None:
        super().__init__()
        self._reader = reader
        self._error = error

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview | bytearray) -> int:  # type: ignore[override]
        try:
            data = self._reader.read(len(buffer))
        except self._error as exc:
            raise OSError(f"zstd: {exc}") from exc
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        self._reader.close()
        super().close()


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
