"""What actors produce: columnar batches of records, one type per kind of log.

Actors describe behaviour (who talks to whom, when, with what outcome); the
writers decide how each log prints it. Keeping records as numpy columns lets
the background emit millions of them in vectorised form and lets the writers
sort, filter and format whole batches at once.

A record kind per log view: :class:`Packets` is what a packet filter's LOG
rule sees (one packet), :class:`Conns` what a flow sensor such as Zeek sees
(one connection). New log kinds (DNS queries, web requests, IDS alerts) get a
new batch type here, a field in :class:`Events` and a writer.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Final, Self

import numpy as np
import numpy.typing as npt

from reconwatch.generate.addresses import Addrs, Index

# TCP flag bits, numbered as in the TCP header; the kernel prints them from
# CWR down to FIN.
FIN: Final = 0x01
SYN: Final = 0x02
RST: Final = 0x04
PSH: Final = 0x08
ACK: Final = 0x10
URG: Final = 0x20
ECE: Final = 0x40
CWR: Final = 0x80

TCP: Final = 6
UDP: Final = 17
ICMP: Final = 1
ICMPV6: Final = 58

# Values of Packets.action: which LOG rule printed the packet (index into
# Site.log_prefixes).
DROP: Final = 0
ACCEPT: Final = 1

#: Zeek ``service`` values the generator uses ("-" is unset).
SERVICES: Final = ("-", "http", "ssl", "dns", "smtp", "ntp", "ssh")
#: Zeek ``conn_state`` values.
STATES: Final = (
    "S0",
    "S1",
    "SF",
    "REJ",
    "S2",
    "S3",
    "RSTO",
    "RSTR",
    "RSTOS0",
    "RSTRH",
    "SH",
    "SHR",
    "OTH",
)
#: Zeek ``history`` strings the generator uses.
HISTORIES: Final = (
    "-",
    "S",
    "Sr",
    "ShR",
    "ShADadFf",
    "ShADadfF",
    "ShADad",
    "ShADadR",
    "ShADadr",
    "ShAFf",
    "Dd",
    "D",
)


def code(table: Sequence[str], value: str) -> int:
    """Index of ``value`` in one of the code tables above."""
    return table.index(value)


def _meta(dtype: type[np.generic], default: object = None) -> dict[str, object]:
    """Field metadata of a column: its numpy dtype and the default ``build`` fills in."""
    return {"dtype": np.dtype(dtype), "default": default}


class Columns:
    """Shared behaviour of the batch types: equal-length numpy columns.

    Addresses are stored as three columns each (``<name>_version/_hi/_lo``
    collapsed to one shared ``version``): see :mod:`.addresses`.
    """

    ADDRESS_FIELDS: ClassVar[tuple[str, ...]] = ()
    # Every batch type has these two columns.
    ts: npt.NDArray[np.int64]
    version: npt.NDArray[np.uint8]

    def __len__(self) -> int:
        first = dataclasses.fields(self)[0]  # type: ignore[arg-type]
        return len(getattr(self, first.name))

    @classmethod
    def build(cls, n: int, **values: Any) -> Self:
        """A batch of ``n`` rows; scalars broadcast, unnamed columns take their default.

        Address columns are given as :class:`Addrs` under their short name
        (``src=``, ``dst=``) and set ``version`` from the first one.
        """
        for name in cls.ADDRESS_FIELDS:
            if name in values:
                addr: Addrs = values.pop(name)
                if len(addr) != n:
                    raise ValueError(f"{name}: {len(addr)} addresses for {n} rows")
                values[f"{name}_hi"] = addr.hi
                values[f"{name}_lo"] = addr.lo
                values.setdefault("version", addr.version)
        columns = {}
        for f in dataclasses.fields(cls):  # type: ignore[arg-type]
            dtype = f.metadata["dtype"]
            if f.name in values:
                value = values.pop(f.name)
            elif f.metadata["default"] is not None:
                value = f.metadata["default"]
            else:
                raise TypeError(f"{cls.__name__}.build: missing column {f.name}")
            array = np.asarray(value, dtype=dtype)
            if array.ndim == 0:
                array = np.full(n, array, dtype=dtype)
            elif array.shape != (n,):
                raise ValueError(f"{f.name}: shape {array.shape}, expected ({n},)")
            columns[f.name] = array
        if values:
            raise TypeError(f"{cls.__name__}.build: unknown columns {sorted(values)}")
        return cls(**columns)

    @classmethod
    def empty(cls) -> Self:
        return cls.build(
            0,
            **{
                f.name: np.empty(0, f.metadata["dtype"])
                for f in dataclasses.fields(cls)  # type: ignore[arg-type]
            },
        )

    @classmethod
    def concat(cls, parts: Sequence[Self]) -> Self:
        if not parts:
            return cls.empty()
        return cls(
            **{
                f.name: np.concatenate([getattr(p, f.name) for p in parts])
                for f in dataclasses.fields(cls)  # type: ignore[arg-type]
            }
        )

    def take(self, index: Index) -> Self:
        return type(self)(
            **{
                f.name: getattr(self, f.name)[index]
                for f in dataclasses.fields(self)  # type: ignore[arg-type]
            }
        )

    def shifted(self, micros: int) -> Self:
        """The same rows ``micros`` microseconds later."""
        values = {
            f.name: getattr(self, f.name)
            for f in dataclasses.fields(self)  # type: ignore[arg-type]
        }
        values["ts"] = values["ts"] + np.int64(micros)
        return type(self)(**values)

    def addresses(self, name: str) -> Addrs:
        return Addrs(self.version, getattr(self, f"{name}_hi"), getattr(self, f"{name}_lo"))


@dataclass(frozen=True)
class Packets(Columns):
    """Packets a netfilter LOG rule printed (one row per packet, one log line)."""

    ADDRESS_FIELDS: ClassVar[tuple[str, ...]] = ("src", "dst")

    #: Microseconds since the epoch, UTC.
    ts: npt.NDArray[np.int64] = field(metadata=_meta(np.int64))
    version: npt.NDArray[np.uint8] = field(metadata=_meta(np.uint8))
    src_hi: npt.NDArray[np.uint64] = field(metadata=_meta(np.uint64))
    src_lo: npt.NDArray[np.uint64] = field(metadata=_meta(np.uint64))
    dst_hi: npt.NDArray[np.uint64] = field(metadata=_meta(np.uint64))
    dst_lo: npt.NDArray[np.uint64] = field(metadata=_meta(np.uint64))
    #: IP protocol number: TCP, UDP, ICMP or ICMPV6.
    proto: npt.NDArray[np.uint8] = field(metadata=_meta(np.uint8, TCP))
    #: TCP/UDP ports; for ICMP echo, the echo identifier and sequence.
    sport: npt.NDArray[np.int32] = field(metadata=_meta(np.int32, 0))
    dport: npt.NDArray[np.int32] = field(metadata=_meta(np.int32, 0))
    icmp_type: npt.NDArray[np.uint8] = field(metadata=_meta(np.uint8, 0))
    icmp_code: npt.NDArray[np.uint8] = field(metadata=_meta(np.uint8, 0))
    #: TCP flag bits (SYN, FIN, ...).
    flags: npt.NDArray[np.uint8] = field(metadata=_meta(np.uint8, 0))
    #: IP total length (IPv6: payload length plus the 40-byte header).
    length: npt.NDArray[np.int32] = field(metadata=_meta(np.int32))
    #: TTL, or IPv6 hop limit.
    ttl: npt.NDArray[np.uint8] = field(metadata=_meta(np.uint8))
    #: IPv4 identification, or IPv6 flow label.
    ip_id: npt.NDArray[np.int32] = field(metadata=_meta(np.int32, 0))
    #: IPv4 TOS byte, or IPv6 traffic class.
    tos: npt.NDArray[np.uint8] = field(metadata=_meta(np.uint8, 0))
    #: IPv4 don't-fragment bit.
    df: npt.NDArray[np.bool_] = field(metadata=_meta(np.bool_, False))
    window: npt.NDArray[np.int32] = field(metadata=_meta(np.int32, 0))
    #: Which LOG rule printed it: DROP or ACCEPT.
    action: npt.NDArray[np.uint8] = field(metadata=_meta(np.uint8, DROP))


@dataclass(frozen=True)
class Conns(Columns):
    """Connections a flow sensor logged (one row per Zeek conn.log line)."""

    ADDRESS_FIELDS: ClassVar[tuple[str, ...]] = ("orig", "resp")

    #: Start of the connection, microseconds since the epoch, UTC.
    ts: npt.NDArray[np.int64] = field(metadata=_meta(np.int64))
    version: npt.NDArray[np.uint8] = field(metadata=_meta(np.uint8))
    orig_hi: npt.NDArray[np.uint64] = field(metadata=_meta(np.uint64))
    orig_lo: npt.NDArray[np.uint64] = field(metadata=_meta(np.uint64))
    resp_hi: npt.NDArray[np.uint64] = field(metadata=_meta(np.uint64))
    resp_lo: npt.NDArray[np.uint64] = field(metadata=_meta(np.uint64))
    orig_p: npt.NDArray[np.int32] = field(metadata=_meta(np.int32))
    resp_p: npt.NDArray[np.int32] = field(metadata=_meta(np.int32))
    proto: npt.NDArray[np.uint8] = field(metadata=_meta(np.uint8, TCP))
    #: Index into SERVICES.
    service: npt.NDArray[np.uint8] = field(metadata=_meta(np.uint8, 0))
    #: Microseconds; -1 is unset (Zeek leaves duration and byte counts unset
    #: for single-packet connections).
    duration: npt.NDArray[np.int64] = field(metadata=_meta(np.int64, -1))
    orig_bytes: npt.NDArray[np.int64] = field(metadata=_meta(np.int64, -1))
    resp_bytes: npt.NDArray[np.int64] = field(metadata=_meta(np.int64, -1))
    #: Index into STATES.
    state: npt.NDArray[np.uint8] = field(metadata=_meta(np.uint8))
    local_orig: npt.NDArray[np.bool_] = field(metadata=_meta(np.bool_))
    local_resp: npt.NDArray[np.bool_] = field(metadata=_meta(np.bool_))
    #: Index into HISTORIES.
    history: npt.NDArray[np.uint8] = field(metadata=_meta(np.uint8))
    orig_pkts: npt.NDArray[np.int64] = field(metadata=_meta(np.int64))
    orig_ip_bytes: npt.NDArray[np.int64] = field(metadata=_meta(np.int64))
    resp_pkts: npt.NDArray[np.int64] = field(metadata=_meta(np.int64, 0))
    resp_ip_bytes: npt.NDArray[np.int64] = field(metadata=_meta(np.int64, 0))


@dataclass(frozen=True)
class Events:
    """Everything one behaviour produced, one batch per log view."""

    packets: Packets = field(default_factory=Packets.empty)
    conns: Conns = field(default_factory=Conns.empty)

    #: Record kind -> field name; the scenario routes each kind to its writer.
    KINDS: ClassVar[tuple[str, ...]] = ("packets", "conns")

    @classmethod
    def concat(cls, parts: Sequence[Events]) -> Events:
        return cls(
            packets=Packets.concat([p.packets for p in parts]),
            conns=Conns.concat([p.conns for p in parts]),
        )

    def batches(self) -> Mapping[str, Columns]:
        return {kind: getattr(self, kind) for kind in self.KINDS}

    def shifted(self, micros: int) -> Events:
        return Events(self.packets.shifted(micros), self.conns.shifted(micros))

    def within(self, t0: int, t1: int) -> Events:
        """Rows with ``t0 <= ts < t1``."""
        parts: dict[str, Any] = {}
        for kind, batch in self.batches().items():
            ts = batch.ts
            parts[kind] = batch.take(np.flatnonzero((ts >= t0) & (ts < t1)))
        return Events(**parts)

    def bounds(self) -> tuple[int, int] | None:
        """First and last timestamp over every kind, or None when empty."""
        stamps = [b.ts for b in self.batches().values() if len(b)]
        if not stamps:
            return None
        return min(int(s.min()) for s in stamps), max(int(s.max()) for s in stamps)
