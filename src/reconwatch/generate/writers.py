"""One writer per log format: batches of records in, exact log lines out.

Each writer formats a whole batch with Arrow compute (integer casts, table
look-ups, element-wise joins) and writes the joined text buffer in one call:
no Python code runs per line, which is what lets the benchmarks write tens of
millions of lines. The output imitates the real producers byte for byte
(field order, spacing, the kernel's trailing space, Zeek's header block),
because the parsers are tested against these files.
"""

from __future__ import annotations

import datetime as dt
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from types import TracebackType
from typing import Any, BinaryIO, Final, Self

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from reconwatch.generate import addresses
from reconwatch.generate.model import (
    HISTORIES,
    ICMP,
    ICMPV6,
    SERVICES,
    STATES,
    TCP,
    UDP,
    Conns,
    Packets,
)
from reconwatch.generate.site import Site

#: Rows formatted at once: bounds the Arrow memory of one batch (~200 MB).
FORMAT_ROWS: Final = 1 << 18

_MONTHS: Final = (
    "Jan",
    "Feb",
    "Mar",
    "Apr",
    "May",
    "Jun",
    "Jul",
    "Aug",
    "Sep",
    "Oct",
    "Nov",
    "Dec",
)
_HEX2: Final = pa.array([f"{i:02X}" for i in range(256)], type=pa.string())
_DF: Final = pa.array(["", "DF "], type=pa.string())
_BOOL: Final = pa.array(["F", "T"], type=pa.string())


def _flag_names(bits: int) -> str:
    # The kernel's order (nf_log_dump_tcp_header), each name followed by a space.
    names = ("CWR", "ECE", "URG", "ACK", "PSH", "RST", "SYN", "FIN")
    return "".join(f"{name} " for i, name in enumerate(names) if bits & (0x80 >> i))


_FLAGS: Final = pa.array([_flag_names(i) for i in range(256)], type=pa.string())


def _dec(values: npt.NDArray[np.generic]) -> pa.Array:
    """Decimal text of an integer column."""
    return pc.cast(pa.array(values.astype(np.int64)), pa.string())


def _take(table: pa.Array, index: npt.NDArray[np.generic]) -> pa.Array:
    return pc.take(table, pa.array(index.astype(np.int64)))


def _join(*parts: object) -> pa.Array:
    """Concatenate string columns and literal strings row-wise."""
    return pc.binary_join_element_wise(*parts, "")


class _Rows:
    """The columns of a batch restricted to ``mask``, each copied only when read
    (and not at all when the mask selects every row)."""

    def __init__(self, batch: Packets, mask: npt.NDArray[np.bool_]) -> None:
        self._batch = batch
        self._mask = None if bool(mask.all()) else mask

    def __getattr__(self, name: str) -> npt.NDArray[Any]:
        column: npt.NDArray[Any] = getattr(self._batch, name)
        return column if self._mask is None else column[self._mask]


def _fill(n: int, pieces: list[tuple[npt.NDArray[np.bool_], pa.Array]]) -> pa.Array:
    """One column from disjoint row subsets, each formatted on its own."""
    if len(pieces) == 1 and bool(pieces[0][0].all()):
        return pieces[0][1]
    out = pa.nulls(n, type=pa.string())
    for mask, text in pieces:
        if mask.any():
            out = pc.replace_with_mask(out, pa.array(mask), text)
    if out.null_count:
        raise ValueError("a record of a kind this writer cannot print")
    return out


def _write_buffer(fh: BinaryIO, lines: pa.Array) -> None:
    """Write the text of a string array (each value ends in a newline) in one call."""
    if isinstance(lines, pa.ChunkedArray):
        lines = lines.combine_chunks()
    if len(lines) == 0:
        return
    offsets = np.frombuffer(
        lines.buffers()[1], dtype=np.int32, count=len(lines) + 1, offset=lines.offset * 4
    )
    data = lines.buffers()[2]
    fh.write(memoryview(data)[int(offsets[0]) : int(offsets[-1])])


def _seconds_text(seconds: npt.NDArray[np.int64], render: dict[int, str]) -> pa.Array:
    """Per-row text of whole-second stamps, rendering each distinct second once."""
    unique, inverse = np.unique(seconds, return_inverse=True)
    table = pa.array([render.get(int(s), "") for s in unique], pa.string())
    return _take(table, inverse)


class _Writer:
    """Common file handling: ascending timestamps, line counting, and writing
    one batch on a helper thread while the next is formatted (Arrow compute
    and file writes both release the GIL, so the two overlap)."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._fh: BinaryIO = path.open("wb")
        self.lines = 0
        self._last_ts = np.iinfo(np.int64).min
        self._io = ThreadPoolExecutor(max_workers=1, thread_name_prefix="reconwatch-writer")
        self._pending: Future[None] | None = None

    def _drain(self) -> None:
        if self._pending is not None:
            pending, self._pending = self._pending, None
            pending.result()

    def _emit(self, lines: pa.Array) -> None:
        """Queue ``lines`` for writing after everything queued before."""
        self._drain()
        self._pending = self._io.submit(_write_buffer, self._fh, lines)

    def _write_text(self, text: str) -> None:
        self._drain()
        self._fh.write(text.encode())

    def _check_order(self, ts: npt.NDArray[np.int64]) -> None:
        if len(ts) == 0:
            return
        if int(ts[0]) < self._last_ts or bool((np.diff(ts) < 0).any()):
            raise ValueError(f"{self.path}: records must arrive in ascending time")
        self._last_ts = int(ts[-1])

    def close(self) -> None:
        try:
            self._drain()
        finally:
            self._io.shutdown()
            self._fh.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class NetfilterWriter(_Writer):
    """Netfilter LOG lines as rsyslog writes kernel messages to kern.log (RFC 3164).

    ``Sep 30 10:09:23 fw1 kernel: [19955416.516358] RW-DROP: IN=eth0 OUT= MAC=...
    SRC=... DST=... LEN=44 TOS=0x00 PREC=0x00 TTL=43 ID=25313 PROTO=TCP SPT=52220
    DPT=80 WINDOW=1024 RES=0x00 SYN URGP=0 `` -- every field in the order and
    format of ``net/netfilter/nf_log_syslog.c``: IPv6 addresses fully expanded
    (``%pI6``), IPv6 header as ``LEN TC HOPLIMIT FLOWLBL``, UDP with its own
    ``LEN``, ICMP echo with ``ID``/``SEQ``, and the trailing space the kernel
    leaves after the last field.
    """

    kind = "packets"

    def __init__(self, path: Path, site: Site, start_us: int) -> None:
        super().__init__(path)
        self.site = site
        self._uptime_offset = round(site.uptime_at_start * 1_000_000) - start_us
        self._fw = site.firewall_addresses()
        self._prefixes = pa.array(list(site.log_prefixes), type=pa.string())
        self._macs = pa.array([site.mac(4), site.mac(6)], type=pa.string())
        self._outs = pa.array([site.dmz_if, ""], type=pa.string())
        self._stamps: dict[int, str] = {}

    def write(self, packets: Packets) -> None:
        self._check_order(packets.ts)
        for lo in range(0, len(packets), FORMAT_ROWS):
            part = packets.take(slice(lo, lo + FORMAT_ROWS))
            self._emit(self.format(part))
            self.lines += len(part)

    def _syslog_stamps(self, ts: npt.NDArray[np.int64]) -> pa.Array:
        seconds = ts // 1_000_000
        for s in np.unique(seconds):
            key = int(s)
            if key not in self._stamps:
                t = dt.datetime.fromtimestamp(key, dt.UTC)
                self._stamps[key] = (
                    f"{_MONTHS[t.month - 1]} {t.day:>2} {t.hour:02}:{t.minute:02}:{t.second:02}"
                )
        text = _seconds_text(seconds, self._stamps)
        if len(self._stamps) > 100_000:
            self._stamps.clear()
        return text

    def format(self, p: Packets) -> pa.Array:
        """The log lines of ``p`` (each ending in a newline) as a string array."""
        n = len(p)
        is6 = p.version == 6
        uptime = p.ts + np.int64(self._uptime_offset)
        dst = p.addresses("dst")
        to_fw = np.zeros(n, dtype=np.bool_)
        for i in range(len(self._fw)):
            to_fw |= addresses.equals(dst, self._fw.take([i]))
        return _join(
            self._syslog_stamps(p.ts),
            f" {self.site.hostname} kernel: [",
            _dec(uptime // 1_000_000)
            if int(uptime.min(initial=100_000)) >= 100_000
            else pc.utf8_lpad(_dec(uptime // 1_000_000), 5, " "),
            ".",
            pc.utf8_lpad(_dec(uptime % 1_000_000), 6, "0"),
            "] ",
            _take(self._prefixes, p.action),
            f"IN={self.site.outside_if} OUT=",
            _take(self._outs, to_fw),
            " MAC=",
            _take(self._macs, is6),
            " SRC=",
            addresses.format_addresses(p.addresses("src"), expanded_v6=True),
            " DST=",
            addresses.format_addresses(dst, expanded_v6=True),
            " ",
            self._ip_header(p, is6),
            self._transport(p),
            "\n",
        )

    @staticmethod
    def _ip_header(p: Packets, is6: npt.NDArray[np.bool_]) -> pa.Array:
        pieces = []
        is4 = ~is6
        if is4.any():
            q = _Rows(p, is4)
            pieces.append(
                (
                    is4,
                    _join(
                        "LEN=",
                        _dec(q.length),
                        " TOS=0x",
                        _take(_HEX2, q.tos & 0x1E),
                        " PREC=0x",
                        _take(_HEX2, q.tos & 0xE0),
                        " TTL=",
                        _dec(q.ttl),
                        " ID=",
                        _dec(q.ip_id),
                        " ",
                        _take(_DF, q.df),
                    ),
                )
            )
        if is6.any():
            q = _Rows(p, is6)
            pieces.append(
                (
                    is6,
                    _join(
                        "LEN=",
                        _dec(q.length),
                        " TC=",
                        _dec(q.tos),
                        " HOPLIMIT=",
                        _dec(q.ttl),
                        " FLOWLBL=",
                        _dec(q.ip_id),
                        " ",
                    ),
                )
            )
        return _fill(len(p), pieces)

    @staticmethod
    def _transport(p: Packets) -> pa.Array:
        pieces = []
        mask = p.proto == TCP
        if mask.any():
            q = _Rows(p, mask)
            pieces.append(
                (
                    mask,
                    _join(
                        "PROTO=TCP SPT=",
                        _dec(q.sport),
                        " DPT=",
                        _dec(q.dport),
                        " WINDOW=",
                        _dec(q.window),
                        " RES=0x00 ",
                        _take(_FLAGS, q.flags),
                        "URGP=0 ",
                    ),
                )
            )
        mask = p.proto == UDP
        if mask.any():
            q = _Rows(p, mask)
            header = np.where(q.version == 6, 40, 20)
            pieces.append(
                (
                    mask,
                    _join(
                        "PROTO=UDP SPT=",
                        _dec(q.sport),
                        " DPT=",
                        _dec(q.dport),
                        " LEN=",
                        _dec(q.length - header),
                        " ",
                    ),
                )
            )
        for proto, name, echo_types in ((ICMP, "ICMP", (0, 8)), (ICMPV6, "ICMPv6", (128, 129))):
            mask = p.proto == proto
            if not mask.any():
                continue
            q = _Rows(p, mask)
            echo = np.isin(q.icmp_type, echo_types)
            ids = _join("ID=", _dec(q.sport), " SEQ=", _dec(q.dport), " ")
            rest = pc.if_else(pa.array(echo), ids, "")
            pieces.append(
                (
                    mask,
                    _join(
                        f"PROTO={name} TYPE=",
                        _dec(q.icmp_type),
                        " CODE=",
                        _dec(q.icmp_code),
                        " ",
                        rest,
                    ),
                )
            )
        return _fill(len(p), pieces)


ZEEK_FIELDS: Final = (
    "ts",
    "uid",
    "id.orig_h",
    "id.orig_p",
    "id.resp_h",
    "id.resp_p",
    "proto",
    "service",
    "duration",
    "orig_bytes",
    "resp_bytes",
    "conn_state",
    "local_orig",
    "local_resp",
    "missed_bytes",
    "history",
    "orig_pkts",
    "orig_ip_bytes",
    "resp_pkts",
    "resp_ip_bytes",
    "tunnel_parents",
)
ZEEK_TYPES: Final = (
    "time",
    "string",
    "addr",
    "port",
    "addr",
    "port",
    "enum",
    "string",
    "interval",
    "count",
    "count",
    "string",
    "bool",
    "bool",
    "count",
    "string",
    "count",
    "count",
    "count",
    "count",
    "set[string]",
)

_UID_ALPHABET: Final = np.frombuffer(
    b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz", dtype=np.uint8
)
_PROTOS: Final = {TCP: "tcp", UDP: "udp", ICMP: "icmp", ICMPV6: "icmp"}


def zeek_time(micros: int) -> str:
    """Zeek's ``#open``/``#close`` stamp (``%Y-%m-%d-%H-%M-%S``, UTC)."""
    return dt.datetime.fromtimestamp(micros // 1_000_000, dt.UTC).strftime("%Y-%m-%d-%H-%M-%S")


class ZeekConnWriter(_Writer):
    """Zeek conn.log in its default TSV form, header block and ``#close`` included.

    Unset values are ``-`` as Zeek writes them: a connection of one packet has
    no duration and no byte counts; ``tunnel_parents`` is unset outside
    tunnels. ``uid`` is a "C" and 17 base62 characters, drawn from ``seed``.
    """

    kind = "conns"

    def __init__(self, path: Path, start_us: int, seed: int) -> None:
        super().__init__(path)
        self._rng = np.random.default_rng([seed, 0x2EE4])
        header = [
            "#separator \\x09",
            "#set_separator\t,",
            "#empty_field\t(empty)",
            "#unset_field\t-",
            "#path\tconn",
            f"#open\t{zeek_time(start_us)}",
            "#fields\t" + "\t".join(ZEEK_FIELDS),
            "#types\t" + "\t".join(ZEEK_TYPES),
        ]
        self._write_text("\n".join(header) + "\n")
        self._services = pa.array(list(SERVICES), type=pa.string())
        self._states = pa.array(list(STATES), type=pa.string())
        self._histories = pa.array(list(HISTORIES), type=pa.string())
        self._protos = pa.array([_PROTOS.get(i, "unknown_transport") for i in range(256)])

    def write(self, conns: Conns) -> None:
        self._check_order(conns.ts)
        for lo in range(0, len(conns), FORMAT_ROWS):
            part = conns.take(slice(lo, lo + FORMAT_ROWS))
            self._emit(self.format(part))
            self.lines += len(part)

    def _uids(self, n: int) -> pa.Array:
        chars = np.empty((n, 18), dtype=np.uint8)
        chars[:, 0] = ord("C")
        chars[:, 1:] = _UID_ALPHABET[self._rng.integers(0, 62, size=(n, 17))]
        offsets = np.arange(0, 18 * (n + 1), 18, dtype=np.int32)
        return pa.StringArray.from_buffers(
            n, pa.py_buffer(offsets.tobytes()), pa.py_buffer(chars.tobytes())
        )

    @staticmethod
    def _interval(micros: npt.NDArray[np.int64]) -> pa.Array:
        text = _join(_dec(micros // 1_000_000), ".", pc.utf8_lpad(_dec(micros % 1_000_000), 6, "0"))
        return pc.if_else(pa.array(micros < 0), "-", text)

    @staticmethod
    def _count(values: npt.NDArray[np.int64]) -> pa.Array:
        return pc.if_else(pa.array(values < 0), "-", _dec(values))

    def format(self, c: Conns) -> pa.Array:
        """The log lines of ``c`` (each ending in a newline) as a string array."""
        return _join(
            self._interval(c.ts),
            "\t",
            self._uids(len(c)),
            "\t",
            addresses.format_addresses(c.addresses("orig"), expanded_v6=False),
            "\t",
            _dec(c.orig_p),
            "\t",
            addresses.format_addresses(c.addresses("resp"), expanded_v6=False),
            "\t",
            _dec(c.resp_p),
            "\t",
            _take(self._protos, c.proto),
            "\t",
            _take(self._services, c.service),
            "\t",
            self._interval(c.duration),
            "\t",
            self._count(c.orig_bytes),
            "\t",
            self._count(c.resp_bytes),
            "\t",
            _take(self._states, c.state),
            "\t",
            _take(_BOOL, c.local_orig),
            "\t",
            _take(_BOOL, c.local_resp),
            "\t0\t",
            _take(self._histories, c.history),
            "\t",
            _dec(c.orig_pkts),
            "\t",
            _dec(c.orig_ip_bytes),
            "\t",
            _dec(c.resp_pkts),
            "\t",
            _dec(c.resp_ip_bytes),
            "\t-\n",
        )

    def finish(self, end_us: int) -> None:
        """Write the ``#close`` line Zeek adds when it rotates the log."""
        self._write_text(f"#close\t{zeek_time(end_us)}\n")


def write_config(path: Path, site: Site, year: int, *, seed: int) -> None:
    """The sample site's ``reconwatch.yaml``: home networks and the syslog year.

    RFC 3164 stamps carry no year; naming it keeps the demo's timestamps right
    whatever year the demo runs in.
    """
    nets = "\n".join(f"    - {net}" for net in site.home_networks)
    path.write_text(
        f"# The sample site of `reconwatch demo` (generated, seed {seed}).\n"
        "site:\n"
        "  # Our public range (IPv4 and IPv6) and the internal network.\n"
        "  home_networks:\n"
        f"{nets}\n"
        "syslog:\n"
        "  # kern.log stamps (RFC 3164) carry no year.\n"
        f"  year: {year}\n",
        encoding="utf-8",
    )
