"""Where lines come from: files, gzip/bzip2/zstd files, directories, stdin — in bounded batches.

Lines are cut in Arrow (``split_pattern`` over each block, UTF-8 checked by a
cast), not in a Python loop, and carry their 1-based line number. Bytes that
are not UTF-8 become U+FFFD so a corrupt line is kept (and usually rejected)
rather than lost.

Content is recognised by its first bytes, whatever the file is called: a
compression magic, an ``.evtx`` header, UTF-16 with or without a byte order
mark (the text is re-encoded as UTF-8), and JSON that is not one object per line (an array of
objects, or pretty-printed objects, as PowerShell's ``ConvertTo-Json`` and
``jq .`` write), which becomes one compact JSON value per line: line N is the
Nth element of the array.
"""

from __future__ import annotations

import bz2
import codecs
import gzip
import hashlib
import importlib
import io
import mmap
import os
import re
import stat
import sys
import time
import zlib
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Final, cast

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
#: UTF-16 byte order marks, little- and big-endian (Windows PowerShell 5.1's
#: ``>`` and ``Out-File`` write UTF-16 LE with one).
UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
UTF8_BOM = b"\xef\xbb\xbf"
#: Bytes looked at for UTF-16 without a byte order mark (``utf16_without_bom``),
#: and the fewest code units that can tell.
UTF16_SNIFF_BYTES: Final = 512
UTF16_SNIFF_UNITS: Final = 8
#: Bytes of UTF-16 decoded at a time.
UTF16_BLOCK_BYTES = 4 * 1024 * 1024
#: JSON values (array elements) handed out per batch by a multi-line JSON input.
JSON_VALUES_PER_BATCH = 10_000


class InputError(Exception):
    """An input that cannot be read at all; the message names it."""


def shown_name(name: str) -> str:
    """A file's name as shown and stored: a name that is not UTF-8
    (``k\xffern.log``) comes from the OS with lone surrogates, which no
    report, lake column or database can hold; such bytes are spelt ``\xff``."""
    return name.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


@dataclass(frozen=True)
class Source:
    """One input: a path on disk, or stdin (``path is None``).

    With ``skipped`` set, the input is not read at all: ``open`` raises an
    ``InputError`` with that text, so the run reports it as a warning (a FIFO
    met in a directory walk, a path naming a file already read).
    """

    name: str
    path: Path | None
    skipped: str | None = None
    #: Where to start reading a plain file an earlier run into the same lake
    #: read up to ``start_byte`` (its lines then numbered from ``first_line``,
    #: read as ``format``: the middle of a file is no place to sniff it).
    start_byte: int = 0
    first_line: int = 1
    format: str | None = None
    #: And with what that run's parser learnt about the file (``Parser.learnt``).
    carried: tuple[tuple[str, str], ...] = ()
    #: For a file read whole although an earlier run read its first lines (a
    #: header-bound or compressed file that grew): rows of lines before this
    #: number are parsed (headers hold state) but neither kept nor counted.
    keep_from: int = 1
    #: Not read, for a good reason (already in the lake): the accounting's note.
    already: str | None = None

    def __post_init__(self) -> None:
        shown = shown_name(self.name)
        if shown != self.name:
            object.__setattr__(self, "name", shown)  # ``path`` still opens the file

    def open(self) -> BinaryIO:
        """A binary stream of the decompressed content (a leading UTF-8 BOM removed)."""
        raw: BinaryIO
        if self.skipped is not None:
            raise InputError(self.skipped)
        if self.start_byte and self.path is not None:
            return self._open_on()
        if self.path is None:
            raw = sys.stdin.buffer
        else:
            if self.path.is_dir():
                raise InputError(f"{self.name}: no input files in this directory")
            try:
                raw = self.path.open("rb")
            except OSError as exc:
                raise InputError(f"{self.name}: cannot open: {exc.strerror}") from exc
        buffered = raw if isinstance(raw, io.BufferedReader) else io.BufferedReader(raw)  # type: ignore[type-var]
        stream = _decompressed(buffered)
        if _peek_evtx(stream):
            plain = stream is buffered and self.path is not None
            return _evtx_lines(self.path if plain and self.path else stream, self.name)
        if _peek(stream, 2)[:2] in UTF16_BOMS:
            stream = io.BufferedReader(_Utf16AsUtf8(stream))
        elif (encoding := utf16_without_bom(_peek(stream, UTF16_SNIFF_BYTES))) is not None:
            stream = io.BufferedReader(_Utf16AsUtf8(stream, encoding))
        # A UTF-8 BOM (Notepad, PowerShell 7's ``Out-File -Encoding utf8BOM``)
        # says nothing about the lines: it goes before sniffing and parsing see
        # the first line, whatever the format.
        bom = _peek(stream, len(UTF8_BOM)).startswith(UTF8_BOM)
        if bom:
            stream.read(len(UTF8_BOM))
        layout = _json_layout(_peek(stream, 256))
        if layout is None:
            return stream
        if stream is buffered and self.path is not None and not bom:
            stream.close()  # DuckDB reads the file itself
            return _json_values(self.path, layout, self.name)
        return _json_values(stream, layout, self.name)

    def _open_on(self) -> BinaryIO:
        """The plain file from ``start_byte`` on (it was plain lines when first read)."""
        assert self.path is not None
        try:
            raw = self.path.open("rb")
        except OSError as exc:
            raise InputError(f"{self.name}: cannot open: {exc.strerror}") from exc
        raw.seek(self.start_byte)
        return raw

    def fingerprint(
        self,
        stream: BinaryIO,
        end_line: int,
        fmt: str,
        lines_alone: bool,
        held: int = 0,
        learnt: dict[str, str] | None = None,
    ) -> dict[str, Any] | None:
        """What identifies what was read from ``stream`` (see ``FileStats.fingerprint``).

        Called once the stream was read to its end, before it is closed;
        ``held`` bytes at its end were left unread (``HoldBack``). A plain
        file (read as bytes, not decompressed or re-encoded) of a format whose
        lines read alone may be read on from where this run stopped; any other
        file is only skipped when it is the same again. Length and head are
        taken from the open file, so a rotation meanwhile cannot mix two.
        ``learnt``: what the parser learnt about the file, for a run reading on.
        """
        if self.path is None or self.skipped is not None:
            return None
        plain = is_plain(stream)
        try:
            if plain:
                end = stream.tell() - held
                head = os.pread(stream.fileno(), min(end, FINGERPRINT_HEAD_BYTES), 0)
            else:
                end = self.path.stat().st_size
                head = head_bytes(self.path, min(end, FINGERPRINT_HEAD_BYTES))
        except (OSError, ValueError, io.UnsupportedOperation):
            return None  # nothing to recognise it by: a later run reads it whole
        found = {
            "bytes": end, "head_bytes": len(head),
            "head_sha256": hashlib.sha256(head).hexdigest(), "end_line": end_line,
            "format": fmt, "resumable": plain and lines_alone,
        }  # fmt: skip
        return {**found, "learnt": dict(learnt)} if learnt else found


def is_plain(stream: BinaryIO) -> bool:
    """True for bytes read as they are (not decompressed or re-encoded): a file on
    disk, or stdin or a pipe (``HoldBack`` and fingerprints tell those apart)."""
    return isinstance(stream, io.BufferedReader) and isinstance(stream.raw, io.FileIO)


#: A plain file's last line without its newline, in a file written to less
#: than this long ago, is left for the next run: its writer is most likely
#: still writing it (Zeek and buffered writers flush in blocks, not lines).
PARTIAL_LINE_SECONDS: Final = 60


class HoldBack:
    """Leaves out a plain file's unfinished last line (see ``PARTIAL_LINE_SECONDS``).

    Read half-written, ``DPT=22`` is taken as ``DPT=2`` and the next run into
    the lake, reading on from the byte after it, rejects ``2 WINDOW=...``.
    Left out, the line is read whole by the next run. A file that stays
    without a final newline is read to its end once it has been quiet for
    ``PARTIAL_LINE_SECONDS``.
    """

    def __init__(self, stream: BinaryIO) -> None:
        self.fileno = stream.fileno()
        #: Bytes left out (0: none), and how long before the file had last been written.
        self.bytes = 0
        self.age = 0.0

    def keep(self, line: bytes) -> bool:
        """True when ``line``, the file's last and without a newline, is left out.

        Regular files only: stdin and a named pipe have no next run to read
        the line (no fingerprint), and a pipe's mtime is its last write.
        """
        try:
            status = os.fstat(self.fileno)
        except OSError:
            return False
        if not stat.S_ISREG(status.st_mode):
            return False
        age = time.time() - status.st_mtime
        if age >= PARTIAL_LINE_SECONDS:
            return False
        self.bytes, self.age = len(line), max(age, 0.0)
        return True

    def note(self) -> str | None:
        """What the run's accounting says of the line left out (None: nothing was)."""
        if not self.bytes:
            return None
        return (
            f"last line not finished (no newline, file written {self.age:.0f} s ago):"
            " left for the next run"
        )


#: How much of a file's beginning identifies it (its first lines, time stamps and all).
FINGERPRINT_HEAD_BYTES: Final = 65536


def head_bytes(path: Path, size: int) -> bytes:
    """The first ``size`` bytes of the file at ``path`` (fewer if it is shorter)."""
    with path.open("rb") as handle:
        return handle.read(size)


def head_digests(path: Path, sizes: Iterable[int]) -> dict[int, str]:
    """SHA-256 of the file's first ``n`` bytes for each ``n`` of ``sizes``: one read,
    one pass (the hash of each shorter prefix is taken on the way)."""
    wanted = sorted(set(sizes))
    head = head_bytes(path, wanted[-1]) if wanted else b""
    digests: dict[int, str] = {}
    hasher, done = hashlib.sha256(), 0
    for size in wanted:
        if size > len(head):
            break
        hasher.update(head[done:size])
        done = size
        digests[size] = hasher.copy().hexdigest()
    return digests


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
        zstd = zstd_module()
        # Python's own zstd file (3.14's compression.zstd): it reads every frame
        # of a concatenated file (``cat a.zst b.zst``, logrotate appending) and,
        # like gzip and bz2, raises EOFError where a file was cut short (the
        # ``zstandard`` package's reader ended such a file silently).
        reader = zstd.ZstdFile(buffered, mode="rb")
        return io.BufferedReader(_ZstdErrorsAsOSError(reader, zstd.ZstdError))
    return buffered


def zstd_module() -> Any:
    """``compression.zstd`` (Python 3.14+) or its backport, imported when a zstd input comes."""
    try:
        return importlib.import_module("compression.zstd")
    except ImportError:
        return importlib.import_module("backports.zstd")


def _peek(stream: BinaryIO, size: int) -> bytes:
    """Up to ``size`` first bytes of ``stream`` without consuming them (fewer if not buffered)."""
    peek = getattr(stream, "peek", None)
    if peek is None:
        return b""
    return bytes(peek(size)[:size])


def _peek_evtx(stream: BinaryIO) -> bool:
    """True when the (decompressed) stream holds an ``.evtx`` file."""
    return _peek(stream, 8) == EVTX_MAGIC


class _Chunks(io.RawIOBase):
    """A read-only byte stream over the chunks ``_next_chunk`` returns (None at the end)."""

    def __init__(self) -> None:
        super().__init__()
        self._chunk = b""
        self._offset = 0

    def readable(self) -> bool:
        return True

    def _next_chunk(self) -> bytes | None:
        raise NotImplementedError

    def readinto(self, buffer: memoryview | bytearray) -> int:  # type: ignore[override]
        while self._offset >= len(self._chunk):
            chunk = self._next_chunk()
            if chunk is None:
                return 0
            self._chunk, self._offset = chunk, 0
        size = min(len(buffer), len(self._chunk) - self._offset)
        buffer[:size] = self._chunk[self._offset : self._offset + size]
        self._offset += size
        return size


def utf16_without_bom(head: bytes) -> str | None:
    """``"utf-16-le"`` or ``"utf-16-be"`` for text that starts like UTF-16
    without a byte order mark, else None.

    Some Windows writers leave the mark out (.NET's ``UnicodeEncoding(false,
    false)``, the redirections of ``cmd /u``). Log text is mostly ASCII, which UTF-16
    writes as its byte and a zero: a zero in nearly every high byte and in
    almost no low byte says which order. UTF-8 and single-byte log text hold
    no zero bytes at all.
    """
    units = len(head) // 2
    if units < UTF16_SNIFF_UNITS:
        return None
    even = head[0 : units * 2 : 2].count(0)
    odd = head[1 : units * 2 : 2].count(0)
    if odd >= units * 0.75 and even <= units * 0.05:
        return "utf-16-le"
    if even >= units * 0.75 and odd <= units * 0.05:
        return "utf-16-be"
    return None


class _Utf16AsUtf8(_Chunks):
    """A UTF-16 stream re-encoded as UTF-8, block by block.

    ``utf-16``: the stream starts with a byte order mark, which goes (it tells
    the byte order); ``utf-16-le`` or ``-be`` for one without
    (``utf16_without_bom``). A malformed code unit becomes U+FFFD.
    """

    def __init__(self, stream: BinaryIO, encoding: str = "utf-16") -> None:
        super().__init__()
        self._stream = stream
        self._decoder = codecs.getincrementaldecoder(encoding)(errors="replace")
        self._done = False

    def _next_chunk(self) -> bytes | None:
        if self._done:
            return None
        block = self._stream.read(UTF16_BLOCK_BYTES)
        self._done = not block
        return self._decoder.decode(block, final=self._done).encode("utf-8")

    def close(self) -> None:
        self._stream.close()
        super().close()


def _json_layout(head: bytes) -> str | None:
    """DuckDB's ``read_json`` format for JSON that is not one object per line, else None.

    ``[`` then ``{`` (blanks between): an array of objects, one or many lines
    (``ConvertTo-Json``, ``ConvertTo-Json -Compress``). ``{`` alone on the
    first line, then a key or ``}``: pretty-printed objects, one or several
    (``ConvertTo-Json`` of a single object, ``jq .``). JSON lines start ``{"``
    and stay as they are, even after a stray ``{`` line.
    """
    text = head.removeprefix(UTF8_BOM).lstrip()
    if text.startswith(b"["):
        return "array" if text[1:].lstrip().startswith(b"{") else None
    if text.startswith(b"{"):
        first, newline, rest = text[1:].partition(b"\n")
        pretty = newline and not first.strip() and rest.lstrip()[:1] in (b'"', b"}")
        return "unstructured" if pretty else None
    return None


def _json_values(source: Path | BinaryIO, layout: str, name: str) -> BinaryIO:
    """Multi-line JSON as JSON lines: one compact value per line, in file order.

    DuckDB parses the file (``read_json_objects``) and re-serialises each
    array element (or top-level object) with ``json()``, which escapes every
    newline inside strings, so line N is the Nth value. A stream that is not
    a plain file (compressed, re-encoded, stdin) is first copied to a
    temporary file, as DuckDB reads files by path. Malformed or truncated JSON
    is an ``InputError`` (nothing read) or an ``OSError`` (after the values
    before it), each one line naming the value where parsing stopped, unless
    the content is JSON lines after all (``_lines_after_all``): then the plain
    lines are returned.
    """
    import shutil
    import tempfile

    import duckdb

    temp: str | None = None
    if isinstance(source, Path):
        path = str(source)
    else:
        descriptor, temp = tempfile.mkstemp(prefix="reconwatch-", suffix=".json")
        try:
            with os.fdopen(descriptor, "wb") as spool:
                shutil.copyfileobj(source, spool, BLOCK_BYTES)
        except BaseException:
            Path(temp).unlink()
            raise
        finally:
            source.close()
        path = temp
    con = duckdb.connect()
    try:
        relation = con.sql(
            "SELECT coalesce(json(json), 'null') AS line"
            " FROM read_json_objects($path, format = $layout)",
            params={"path": path, "layout": layout},
        )
        reader = relation.to_arrow_reader(JSON_VALUES_PER_BATCH)
        first = _JsonValues.first_chunk(reader)
    except Exception as exc:  # duckdb.Error, or DuckDB's error surfaced through Arrow
        con.close()
        with open(path, "rb") as spooled:
            head = spooled.read(SNIFF_BYTES)
        if _lines_after_all(head):
            # Not one JSON document but lines that start like one: read them
            # as lines, so each is parsed or rejected on its own (nothing lost).
            lines = open(path, "rb")  # noqa: SIM115 - handed to the caller, who closes it
            if temp is not None:
                Path(temp).unlink()  # the open handle keeps the content readable
            return lines
        if temp is not None:
            Path(temp).unlink()
        raise InputError(f"{name}: {_json_error(exc)}") from exc
    # Unbuffered: each read is one chunk at most, so an error raised by a
    # read never takes the values read before it along (a buffered read would).
    return cast(BinaryIO, _JsonValues(con, reader, temp, first))


def _lines_after_all(head: bytes) -> bool:
    """True when JSON that DuckDB could not read as one document is JSON lines after all.

    Two shapes that look like an array at first sight: JSON lines under a
    stray ``[`` line (a hand-edited export), and one array per line (some
    exporters batch events so). Both have a whole JSON value on the first or
    second non-blank line; a broken pretty-printed document has not, and stays
    an error naming the fault.
    """
    import json

    values = [line.strip() for line in head.removeprefix(UTF8_BOM).split(b"\n")[:-1]]
    values = [line for line in values if line]
    if values[:1] == [b"["]:
        values = values[1:]
    if not values:
        return False
    try:
        json.loads(values[0])
    except ValueError:
        return False
    return True


_DUCKDB_JSON_ERROR = re.compile(r"record/value \d+: ([^\n]*?)\.?\s*$", re.MULTILINE)
_IN_FILE = re.compile(r' in file "[^"]*"')


def _json_error(exc: BaseException) -> str:
    """A one-line account of DuckDB's JSON error, without the (maybe temporary) path.

    DuckDB's own position (byte, record/value) is left out: it does not count
    array elements as lines do; ``ingest.run`` says after which line reading stopped.
    """
    found = _DUCKDB_JSON_ERROR.search(str(exc))
    if found:
        return f"not valid JSON: {found.group(1)}"
    text = str(exc).strip()
    first = text.splitlines()[0] if text else type(exc).__name__
    return "not valid JSON: " + _IN_FILE.sub("", first)


class _JsonValues(_Chunks):
    """The values of a DuckDB JSON reader as a byte stream of lines."""

    def __init__(self, con: Any, reader: Any, temp: str | None, first: bytes | None) -> None:
        super().__init__()
        self._con = con
        self._reader = reader
        self._temp = temp
        self._first: bytes | None = first

    @staticmethod
    def first_chunk(reader: Any) -> bytes | None:
        """The first values, read before the stream is handed out (errors raise as DuckDB's)."""
        try:
            batch = reader.read_next_batch()
        except StopIteration:
            return None
        return _JsonValues._lines(batch)

    def _next_chunk(self) -> bytes | None:
        if self._first is not None:
            first, self._first = self._first, None
            return first
        try:
            batch = self._reader.read_next_batch()
        except StopIteration:
            return None
        except Exception as exc:  # DuckDB's error, surfaced through Arrow
            raise OSError(_json_error(exc)) from exc
        return self._lines(batch)

    @staticmethod
    def _lines(batch: pa.RecordBatch) -> bytes:
        if batch.num_rows == 0:
            return b""
        # The batch's values joined by newlines in one Arrow call.
        values = batch.column(0).cast(pa.large_string())
        whole = pa.LargeListArray.from_arrays(pa.array([0, len(values)], pa.int64()), values)
        newline = pa.scalar("\n", pa.large_string())
        joined: bytes = pc.binary_join(whole, newline)[0].as_buffer().to_pybytes()
        return joined + b"\n"

    def close(self) -> None:
        if not self.closed:
            self._reader.close()
            self._con.close()
            if self._temp is not None:
                Path(self._temp).unlink(missing_ok=True)
        super().close()


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
    zstd module raises its own ``ZstdError``, which would stop the run.
    """

    def __init__(self, reader: Any, error: type[Exception]) -> None:
        super().__init__()
        self._reader = reader  # a ZstdFile (read1: BinaryIO does not declare it)
        self._error = error

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview | bytearray) -> int:  # type: ignore[override]
        try:
            # read1: one step of decompression, so a fault loses nothing read before it.
            data = self._reader.read1(len(buffer))
        except self._error as exc:
            raise OSError(f"zstd: {exc}") from exc
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        self._reader.close()
        super().close()


def _file_key(path: Path) -> tuple[int, int] | None:
    """What identifies the file ``path`` leads to (device, inode); None if it cannot be read."""
    try:
        found = path.stat()
    except OSError:
        return None
    return (found.st_dev, found.st_ino)


def _not_regular(path: Path) -> str | None:
    """What ``path`` is when it is not a regular file (``a FIFO``...), else None."""
    try:
        mode = path.stat().st_mode
    except OSError:
        return None  # a dangling link: opening it reports the error
    if stat.S_ISREG(mode):
        return None
    kinds = {stat.S_ISFIFO: "a FIFO", stat.S_ISSOCK: "a socket", stat.S_ISCHR: "a device",
             stat.S_ISBLK: "a device"}  # fmt: skip
    return next((kind for test, kind in kinds.items() if test(mode)), "not a regular file")


def expand(paths: Iterable[str]) -> list[Source]:
    """Turn command-line paths into sources: directories recursively, in name order.

    Hidden files (``.name``) inside directories are left out, as editors and
    rotation tools leave state files there; a hidden file named explicitly is read.
    A directory without any file is kept as a source that cannot be opened, so
    the run reports it instead of finding nothing in silence. FIFOs, sockets
    and devices met in a directory are skipped with a warning (a FIFO would
    block the run forever); one named on the command line is read, as a named
    pipe handed over on purpose is an ordinary input. Paths that lead to the
    same file (``a.log ./a.log``, a directory and a file in it, hard links)
    are read once, at the first, and the others named in one warning.
    """
    sources: list[Source] = []
    firsts: dict[tuple[int, int] | str, str] = {}
    #: Where each file's (first) source is in ``sources``.
    where: dict[tuple[int, int] | str, int] = {}
    repeats: dict[tuple[int, int] | str, list[str]] = {}
    #: Each repeated file's placeholder (its position in ``sources``) and key.
    placeholders: dict[int, tuple[int, int] | str] = {}
    not_read: set[tuple[int, int] | str] = set()

    def add(name: str, path: Path | None, skipped: str | None = None) -> None:
        key = "-" if path is None else _file_key(path)
        if key is not None and key in firsts:
            if key in not_read:
                if skipped is None:  # a FIFO skipped in a walk, then named: read it there
                    not_read.discard(key)
                    firsts[key] = name
                    sources[where[key]] = Source(name, path)
                return  # else skipped already, with its warning
            if key not in repeats:
                repeats[key] = []
                placeholders[len(sources)] = key
                sources.append(Source(name, path, skipped=""))  # its warning, filled in below
            repeats[key].append(name)
            return
        if key is not None:
            firsts[key] = name
            where[key] = len(sources)
            if skipped is not None:
                not_read.add(key)
        sources.append(Source(name, path, skipped))

    for text in paths:
        if text == "-":
            add("-", None)
            continue
        path = Path(text)
        if path.is_dir():
            found = 0
            for root, dirs, files in os.walk(path):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                for name in sorted(files):
                    if not name.startswith("."):
                        found += 1
                        child = Path(root) / name
                        kind = _not_regular(child)
                        reason = f"{child}: {kind}, not a regular file: skipped" if kind else None
                        add(str(child), child, reason)
            if not found:
                # Kept as an input that cannot be read, so the run says so (a
                # hunt of an empty folder is not "no reconnaissance found").
                sources.append(Source(text, path))
        elif path.exists():
            add(text, path)
        else:
            raise InputError(f"{text}: no such file or directory")
    for index, key in placeholders.items():
        sources[index] = _repeated(sources[index], firsts[key], repeats[key])
    return sources


def _repeated(source: Source, first: str, repeats: list[str]) -> Source:
    """The placeholder of a file's repeated paths, with its one-line warning."""
    times = len(repeats) + 1
    others = [name for name in dict.fromkeys(repeats) if name != first]
    also = f" (also as {', '.join(others)})" if others else ""
    reason = f"{first}: the same file named {times} times{also}: read once"
    return Source(", ".join(others) or first, source.path, skipped=reason)


def split_lines(block: bytes | memoryview, first_line: int) -> pa.Table:
    """``block`` cut at its newlines into numbered lines.

    The block is wrapped as one Arrow binary value (no copy, no Python
    ``str``), split in Arrow and checked as UTF-8 by the cast; only a block
    that is not valid UTF-8 is decoded in Python, with U+FFFD for bad bytes.
    Decoding every block took about five times as long as this. The lines
    are new Arrow buffers: nothing returned refers to ``block`` (whose memory
    ``read_batches`` reuses). A carriage return ending a line (CRLF files)
    is cut off.
    """
    offsets = pa.array([0, len(block)], pa.int64()).buffers()[1]
    whole = pa.Array.from_buffers(pa.large_binary(), 1, [None, offsets, pa.py_buffer(block)])
    raw = pc.list_flatten(pc.split_pattern(whole, "\n")).cast(pa.binary())
    try:
        lines = raw.cast(pa.string())
    except pa.ArrowInvalid:
        text = str(block, "utf-8", errors="replace")
        lines = pc.list_flatten(pc.split_pattern(pa.array([text], pa.large_string()), "\n"))
        lines = lines.cast(pa.string())
    if _ends_with_cr(lines):
        lines = pc.utf8_rtrim(lines, "\r")
    numbers = pa.array(np.arange(first_line, first_line + len(lines), dtype=np.int64))
    return pa.table({"log_line": numbers, "line": lines})


def _ends_with_cr(lines: pa.Array) -> bool:
    """Whether any of ``lines`` (strings) ends with a carriage return: a look
    at each line's last byte, where searching the block for one (nearly
    always in vain) read all of it while holding the GIL."""
    _, offsets, data = lines.buffers()
    if data is None or len(lines) == 0:
        return False
    bounds = np.frombuffer(offsets, np.int32)[lines.offset : lines.offset + len(lines) + 1]
    ends = bounds[1:]
    last = ends[ends > bounds[:-1]] - 1  # the last byte of every line that has one
    return bool(np.any(np.frombuffer(data, np.uint8)[last] == ord("\r")))


def read_batches(
    stream: BinaryIO,
    head: bytes = b"",
    block_bytes: int = BLOCK_BYTES,
    first_line: int = 1,
    hold: HoldBack | None = None,
) -> Iterator[pa.Table]:
    """Yield tables of (``log_line``, ``line``), each holding whole lines only.

    ``head`` is content already read from the stream (for sniffing). A final
    line without a newline is still a line, unless ``hold`` leaves it out
    (a file still being written); an empty input yields nothing. Lines are
    numbered from ``first_line``.

    Blocks are read into one buffer that is used again for the next block
    (the unfinished line moved to its front), and cut where they lie: a new
    32 MiB ``bytes`` per block, joined to the carried-over line and sliced
    again, cost more than the cutting itself (page faults on fresh memory).
    """
    # Anonymous memory is zeroed page by page as it is first touched: a small
    # input costs a few pages, not a whole zero-filled block (a bytearray).
    buffer = _buffer(max(len(head), block_bytes) + block_bytes)
    view = memoryview(buffer)
    view[: len(head)] = head
    pending = len(head)  # bytes of unfinished line at the front of ``buffer``
    next_line = first_line
    # A fault met while the head was read (a small file cut short) comes first.
    fault: Exception | None = head.error if isinstance(head, Head) else None
    while True:
        if len(buffer) - pending < block_bytes:
            # A line longer than a block: a bigger buffer (never resized in
            # place: a slice of the old one may still be exported).
            grown = _buffer(pending + block_bytes)
            grown[:pending] = view[:pending]
            buffer, view = grown, memoryview(grown)
        got, error = 0, fault
        if error is None:
            got, error = _read_into(stream, view[pending : pending + block_bytes])
        end = pending + got
        cut = buffer.rfind(b"\n", 0, end) if got or error is not None else -1
        if error is not None:
            # Keep every whole line read before the fault (a truncated gzip's
            # readable lines); the line it cut short is left out, as a cut line
            # can read as a different event (an address missing its last digit).
            if cut >= 0:
                yield split_lines(view[:cut], next_line)
            cut_short = " (the line it cut short was not read)" if end > cut + 1 else ""
            raise OSError(f"{error}{cut_short}") from error
        if not got:
            break
        if cut < 0:
            pending = end
            continue
        batch = split_lines(view[:cut], next_line)
        next_line += batch.num_rows
        yield batch
        # The tail may overlap where it goes: copied out first.
        rest = bytes(view[cut + 1 : end])
        view[: len(rest)] = rest
        pending = len(rest)
    # ``head`` may hold whole lines that the loop above never cut.
    cut = buffer.rfind(b"\n", 0, pending)
    if cut >= 0:
        batch = split_lines(view[:cut], next_line)
        next_line += batch.num_rows
        yield batch
    tail = bytes(view[cut + 1 : pending])
    if tail and not (hold is not None and hold.keep(tail)):
        yield split_lines(tail, next_line)


class ReadAhead:
    """``batches`` (``read_batches``) produced one batch ahead on a thread of its own.

    Reading and splitting a block (about a third of a netfilter batch's time)
    then runs while the caller parses the batch before, on the core the
    parse leaves idle between its parallel steps; both release the GIL. At
    most one batch is read ahead, so memory grows by one batch. A read error
    is raised where the batch it stopped would have come, after the batches
    read before it. ``close()`` (or leaving a ``with``) waits for the read in
    flight: call it before closing the stream, and read ahead only where
    reads end (files): a pipe's read can wait for its writer indefinitely,
    and stopping would wait with it.
    """

    def __init__(self, batches: Iterator[pa.Table]) -> None:
        self._batches = batches
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="read-ahead")
        self._next: Future[pa.Table | None] | None = self._pool.submit(self._read)

    def _read(self) -> pa.Table | None:
        return next(self._batches, None)

    def __iter__(self) -> Iterator[pa.Table]:
        return self

    def __next__(self) -> pa.Table:
        if self._next is None:
            raise StopIteration
        try:
            batch = self._next.result()
        except BaseException:
            self._next = None
            raise
        if batch is None:
            self._next = None
            raise StopIteration
        self._next = self._pool.submit(self._read)
        return batch

    def close(self) -> None:
        self._next = None
        self._pool.shutdown(wait=True)  # the read in flight ends before the stream closes
        # A reader left part-way (a lake that cannot be written) lets go of its
        # block buffer now, not whenever this object is collected.
        close = getattr(self._batches, "close", None)
        if close is not None:
            close()

    def __enter__(self) -> ReadAhead:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _buffer(size: int) -> mmap.mmap:
    """``size`` bytes of anonymous memory, writable, zeroed lazily by the kernel."""
    return mmap.mmap(-1, size)


def _read_into(stream: BinaryIO, target: memoryview) -> tuple[int, Exception | None]:
    """Fill ``target`` from ``stream`` as far as it goes: the byte count, and the
    error that stopped reading early (None if none).

    Read in the stream's own pieces (``readinto1`` or ``readinto``, else
    ``read1`` or ``read``): a plain ``read(size)`` that fails part-way (a
    truncated or corrupt compressed file) loses everything it had decompressed
    in that call, up to a whole block of good lines.
    """
    readinto = getattr(stream, "readinto1", None) or getattr(stream, "readinto", None)
    read = getattr(stream, "read1", None) or stream.read
    got = 0
    while got < len(target):
        try:
            if readinto is not None:
                try:
                    count = readinto(target[got:]) or 0
                except NotImplementedError:  # a raw stream that only has read()
                    readinto = None
                    continue
            else:
                piece = read(len(target) - got)
                count = len(piece)
                target[got : got + count] = piece
        except (OSError, EOFError, zlib.error) as exc:
            return got, exc
        if not count:
            break
        got += count
    return got, None


def _read_block(stream: BinaryIO, size: int) -> tuple[bytes, Exception | None]:
    """Up to ``size`` bytes, and the error that stopped reading early (None if none).

    Read in the stream's own pieces (``read1``): a plain ``read(size)`` that
    fails part-way (a truncated or corrupt compressed file) loses everything
    it had decompressed in that call, up to a whole block of good lines.
    """
    read = getattr(stream, "read1", None) or stream.read
    pieces: list[bytes] = []
    got = 0
    while got < size:
        try:
            piece = read(size - got)
        except (OSError, EOFError, zlib.error) as exc:
            return b"".join(pieces), exc
        if not piece:
            break
        pieces.append(piece)
        got += len(piece)
    return b"".join(pieces), None


SNIFF_BYTES = 64 * 1024
#: Lines sniffers are given, and how far the head is read to find them.
SNIFF_LINES: Final = 20
SNIFF_MAX_BYTES: Final = 2 * 1024 * 1024


class Head(bytes):
    """The first bytes of a stream, and the read error met while reading them (if any)."""

    error: Exception | None = None


def read_head(stream: BinaryIO, size: int = SNIFF_BYTES) -> Head:
    """Read the first bytes of a stream for sniffing (pass them back to ``read_batches``).

    A fault (a small compressed file cut short) does not lose what came before
    it: the head holds those bytes and the error, which ``read_batches`` raises
    after their lines.
    """
    more, error = _read_block(stream, size)
    pieces, got, lines = [more], len(more), more.count(b"\n")
    # Long lines (eve.json with payloads, a 70 KB URL put first to hide a file)
    # must not leave the sniffer without a whole line: read on until the head
    # holds enough lines to sniff, the input ends, or SNIFF_MAX_BYTES.
    while error is None and more and got < SNIFF_MAX_BYTES and lines < SNIFF_LINES:
        more, error = _read_block(stream, size)
        pieces.append(more)
        got, lines = got + len(more), lines + more.count(b"\n")
    head = Head(b"".join(pieces))
    head.error = error
    return head


def head_lines(head: bytes, size: int = SNIFF_BYTES, limit: int = SNIFF_LINES) -> list[str]:
    """The first ``limit`` non-blank lines of ``head``, read with ``read_head(stream, size)``.

    When ``head`` filled ``size`` its last line may be cut, so it is dropped.
    """
    text = head.decode("utf-8", errors="replace")
    lines = text.split("\n")
    if len(head) >= size and len(lines) > 1:
        lines = lines[:-1]
    stripped = (line.rstrip("\r") for line in lines)
    return [line for line in stripped if line.strip()][:limit]
