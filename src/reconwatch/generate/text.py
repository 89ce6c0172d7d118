"""Vectorised text for the log families beyond the firewall and conn.log.

The DNS, web, IDS and auth writers build their lines the way
:mod:`.writers` does: Arrow element-wise joins over whole columns, one Python
call per *distinct second* for time stamps, never one per line. A family
formats each group of records (the background, each actor) into a
:class:`Part`; :func:`merge` sorts the parts of one file by time, so every
file ascends whatever order the parts were made in.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from reconwatch.generate import addresses

MONTHS: Final = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")

I64 = npt.NDArray[np.int64]
Obj = npt.NDArray[np.object_]

_UID_ALPHABET: Final = np.frombuffer(
    b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz", dtype=np.uint8
)


def join(*parts: object) -> pa.Array:
    """Concatenate string columns and literal strings row-wise."""
    return pc.binary_join_element_wise(*parts, "")


def dec(values: npt.ArrayLike) -> pa.Array:
    """Decimal text of an integer column."""
    return pc.cast(pa.array(np.asarray(values).astype(np.int64)), pa.string())


def pick(table: Sequence[str], index: npt.ArrayLike) -> pa.Array:
    """``table[index[i]]`` for every row."""
    return pc.take(pa.array(list(table), pa.string()), pa.array(np.asarray(index, np.int64)))


def strings(values: Sequence[str] | Obj) -> pa.Array:
    """A string column from Python strings (actors' handful, or a vocabulary take)."""
    return pa.array(list(values) if not isinstance(values, np.ndarray) else values, pa.string())


def lpad(values: npt.ArrayLike, width: int) -> pa.Array:
    """Zero-padded decimal text (fractions of a second)."""
    return pc.utf8_lpad(dec(values), width, "0")


def per_second(ts: I64, render: Callable[[dt.datetime], str]) -> pa.Array:
    """``render`` of each row's whole second (UTC), called once per distinct second."""
    seconds = np.asarray(ts, np.int64) // 1_000_000
    unique, inverse = np.unique(seconds, return_inverse=True)
    table = [render(dt.datetime.fromtimestamp(int(s), dt.UTC)) for s in unique]
    return pick(table, inverse)


def syslog_stamp(t: dt.datetime) -> str:
    """RFC 3164 stamp: ``Sep 30 00:12:05`` (day padded with a space)."""
    return f"{MONTHS[t.month - 1]} {t.day:>2} {t.hour:02}:{t.minute:02}:{t.second:02}"


def zeek_ts(ts: I64) -> pa.Array:
    """Zeek's ``time`` text: seconds and six decimals."""
    ts = np.asarray(ts, np.int64)
    return join(dec(ts // 1_000_000), ".", lpad(ts % 1_000_000, 6))


def zeek_uids(rng: np.random.Generator, n: int) -> pa.Array:
    """Zeek connection uids: "C" and 17 base62 characters."""
    chars = np.empty((n, 18), dtype=np.uint8)
    chars[:, 0] = ord("C")
    chars[:, 1:] = _UID_ALPHABET[rng.integers(0, 62, size=(n, 17))]
    offsets = np.arange(0, 18 * (n + 1), 18, dtype=np.int32)
    return pa.StringArray.from_buffers(
        n, pa.py_buffer(offsets.tobytes()), pa.py_buffer(chars.tobytes())
    )


def v4_text(values: npt.ArrayLike) -> Obj:
    """Dotted-quad text of uint32 addresses, as a numpy object column."""
    text = addresses.format_addresses(addresses.v4(values), expanded_v6=False)
    out: Obj = np.asarray(text.to_numpy(zero_copy_only=False), dtype=object)
    return out


def lookup(values: Obj, table: dict[str, int]) -> I64:
    """Map a string column through ``table`` (once per distinct value)."""
    unique, inverse = np.unique(values.astype(str), return_inverse=True)
    codes = np.array([table[str(u)] for u in unique], dtype=np.int64)
    out: I64 = codes[inverse]
    return out


@dataclass(frozen=True)
class Part:
    """Formatted lines of one file (each ending in a newline) with their times.

    ``actor`` is the index of the family actor that produced them, or -1 for
    the background.
    """

    file: str
    ts: I64
    lines: pa.Array
    actor: int = -1

    def __post_init__(self) -> None:
        if len(self.ts) != len(self.lines):
            raise ValueError(f"{self.file}: {len(self.ts)} stamps for {len(self.lines)} lines")


@dataclass(frozen=True)
class Merged:
    """All lines of one file in time order, and which actor wrote each."""

    ts: I64
    lines: pa.Array
    actor: npt.NDArray[np.int64]


def merge(parts: Sequence[Part]) -> Merged:
    """The parts of one file, stably sorted by time."""
    if not parts:
        return Merged(np.empty(0, np.int64), pa.array([], pa.string()), np.empty(0, np.int64))
    ts = np.concatenate([p.ts for p in parts])
    who = np.concatenate([np.full(len(p.ts), p.actor, np.int64) for p in parts])
    lines = pa.concat_arrays([p.lines.cast(pa.string()) for p in parts])
    order = np.argsort(ts, kind="stable")
    return Merged(ts[order], pc.take(lines, pa.array(order)), who[order])


def write_file(path: Path, head: str, lines: pa.Array, tail: str) -> None:
    """``head``, the text of ``lines`` in one buffer, then ``tail``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as fh:
        fh.write(head.encode())
        if len(lines):
            # The string array's data buffer is already the file's text: write it whole.
            flat = lines.cast(pa.string())
            if isinstance(flat, pa.ChunkedArray):
                flat = flat.combine_chunks()
            offsets = np.frombuffer(
                flat.buffers()[1], dtype=np.int32, count=len(flat) + 1, offset=flat.offset * 4
            )
            data = flat.buffers()[2]
            fh.write(memoryview(data)[int(offsets[0]) : int(offsets[-1])])
        fh.write(tail.encode())
