"""A syslog receiver: UDP and TCP listeners feeding lines to the watch loop.

It runs an asyncio loop in a thread of its own, so sockets are read while
the main thread parses and runs detections (DuckDB releases the GIL). What
it hands on is lines, exactly as a syslog file would hold them, so the same
parsers (the syslog multiplexer routing by program) read both:

* **UDP** (RFC 5426): one datagram is one message.
* **TCP** (RFC 6587), framing detected per connection from its first byte:
  a digit means octet counting (``LEN SP MSG``), anything else (``<PRI>``)
  newline framing (LF, CR LF or NUL as trailer).

Messages are RFC 3164 (``<PRI>Mmm dd hh:mm:ss host tag: msg``) or RFC 5424
(``<PRI>1 stamp host app procid msgid sd msg``); both are lines the syslog
envelope parser reads. Newlines inside a message become spaces, so one
message stays one line.

Nothing is lost under load: messages wait in a queue bounded by
``max_pending``; past it, TCP connections stop being read (the kernel's
window pushes back on the sender) until the watch loop drains the queue.
UDP cannot push back: a datagram past the bound is dropped and counted.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import socket
import threading
from dataclasses import dataclass, field
from typing import Final
from urllib.parse import urlsplit

log = logging.getLogger(__name__)

#: Longest octet-counted message accepted; a larger count is a framing error
#: (or an attack on memory) and the connection is closed.
MAX_MESSAGE_BYTES: Final = 256 * 1024
#: Kernel receive buffer asked for UDP sockets: room for a burst while the
#: loop thread waits for the GIL.
UDP_RCVBUF: Final = 8 * 1024 * 1024
#: Bytes of messages waiting to be parsed before TCP peers are paused.
MAX_PENDING_BYTES: Final = 256 * 1024 * 1024
#: Open TCP connections at most (each holds a descriptor and a partial frame).
MAX_CONNECTIONS: Final = 512
#: Seconds without data after which a TCP connection is closed (see
#: ``WatchConfig.tcp_idle_seconds``).
IDLE_TIMEOUT: Final = 3600.0


class EndpointError(ValueError):
    """A listen address that is not ``udp://HOST:PORT`` or ``tcp://HOST:PORT``."""


@dataclass(frozen=True)
class Endpoint:
    transport: str
    host: str
    port: int

    @classmethod
    def parse(cls, text: str, schemes: tuple[str, ...] = ("udp", "tcp")) -> Endpoint:
        try:
            parts = urlsplit(text)
            port = parts.port
        except ValueError as exc:
            raise EndpointError(f"{text!r}: {exc}") from exc
        if parts.scheme not in schemes or not parts.hostname or port is None:
            raise EndpointError(f"{text!r}: expected {' or '.join(schemes)}://HOST:PORT")
        return cls(parts.scheme, parts.hostname, port)

    def name(self, port: int | None = None) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.transport}://{host}:{self.port if port is None else port}"


@dataclass
class Batch:
    """Messages of one listener: lines joined by newlines, and how many."""

    stream: str
    data: bytes
    messages: int


@dataclass
class ReceiverStats:
    messages: int = 0
    udp_dropped: int = 0
    connections: int = 0
    refused_connections: int = 0
    #: TCP connections closed after ``idle_timeout`` seconds without data.
    idle_closed: int = 0
    framing_errors: int = 0
    #: Newline-framed messages longer than ``MAX_MESSAGE_BYTES``: handed on
    #: cut there, the rest of each dropped up to its trailer.
    cut_messages: int = 0
    per_stream: dict[str, int] = field(default_factory=dict)


def _clean(message: bytes) -> bytes:
    """One message as one line: trailers dropped, inner newlines made spaces."""
    message = message.rstrip(b"\r\n\x00")
    if b"\n" in message or b"\r" in message:
        message = message.replace(b"\r\n", b" ").replace(b"\n", b" ").replace(b"\r", b" ")
    return message


class SyslogReceiver:
    """Listeners on ``endpoints``: ``start`` binds (errors surface at once), ``drain`` reads."""

    def __init__(
        self,
        endpoints: list[Endpoint],
        max_pending: int = 500_000,
        max_pending_bytes: int = MAX_PENDING_BYTES,
        max_connections: int = MAX_CONNECTIONS,
        idle_timeout: float = IDLE_TIMEOUT,
    ) -> None:
        self.endpoints = endpoints
        self.max_pending = max_pending
        #: Bytes waiting, bounded too: 500,000 messages of 256 KiB each would
        #: be 128 GB before TCP peers were paused.
        self.max_pending_bytes = max_pending_bytes
        #: Open TCP connections beyond this are refused (file descriptors).
        self.max_connections = max_connections
        #: Seconds of silence after which a TCP connection is closed.
        self.idle_timeout = idle_timeout
        self._pending_bytes = 0
        self.stats = ReceiverStats()
        #: Stream names (``tcp://127.0.0.1:5514``) as bound, in endpoint order.
        self.streams: list[str] = []
        self._lock = threading.Lock()
        self._queue: list[Batch] = []
        self._pending = 0
        self._paused: set[asyncio.Transport] = set()
        self._sockets: list[tuple[Endpoint, socket.socket, str]] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._servers: list[asyncio.AbstractServer] = []
        self._transports: list[asyncio.BaseTransport] = []
        self._connections: set[asyncio.Transport] = set()
        self._ready = threading.Event()
        self._error: Exception | None = None
        #: Set when enough messages wait for the watch loop to cycle early.
        self.wake: threading.Event | None = None
        self.wake_at = 10_000

    # -- life cycle (main thread) -----------------------------------------------------

    def start(self) -> None:
        for endpoint in self.endpoints:
            family = socket.AF_INET6 if ":" in endpoint.host else socket.AF_INET
            if endpoint.transport == "udp":
                sock = socket.socket(family, socket.SOCK_DGRAM)
                with contextlib.suppress(OSError):
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, UDP_RCVBUF)
            else:
                sock = socket.socket(family, socket.SOCK_STREAM)
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((endpoint.host, endpoint.port))
            if endpoint.transport == "tcp":
                sock.listen(128)
            sock.setblocking(False)
            name = endpoint.name(sock.getsockname()[1])
            self._sockets.append((endpoint, sock, name))
            self.streams.append(name)
            self.stats.per_stream[name] = 0
        self._thread = threading.Thread(target=self._run, name="syslog-receiver", daemon=True)
        self._thread.start()
        self._ready.wait(10)
        if self._error is not None:
            raise self._error

    def ports(self) -> list[int]:
        return [sock.getsockname()[1] for _, sock, _ in self._sockets]

    def stop(self, timeout: float = 5.0) -> None:
        """Stop listening, read what connections already sent, then end the loop."""
        loop = self._loop
        if loop is None or self._thread is None:
            return
        future = asyncio.run_coroutine_threadsafe(self._shutdown(), loop)
        with contextlib.suppress(Exception):
            future.result(timeout)
        loop.call_soon_threadsafe(loop.stop)
        self._thread.join(timeout)

    def drain(self) -> list[Batch]:
        """Take every waiting message (and let paused TCP peers send again)."""
        with self._lock:
            batches, self._queue, self._pending = self._queue, [], 0
            self._pending_bytes = 0
        if self._paused and self._loop is not None:
            self._loop.call_soon_threadsafe(self._resume_all)
        return batches

    @property
    def pending(self) -> int:
        return self._pending

    # -- the loop thread --------------------------------------------------------------

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(self._listen())
        except Exception as exc:  # handed to start(), in the main thread
            self._error = exc
            self._ready.set()
            loop.close()
            return
        self._ready.set()
        try:
            loop.run_forever()
        finally:
            loop.close()

    async def _listen(self) -> None:
        loop = asyncio.get_running_loop()
        for endpoint, sock, name in self._sockets:
            if endpoint.transport == "udp":
                transport, _ = await loop.create_datagram_endpoint(
                    functools.partial(_Datagrams, self, name), sock=sock
                )
                self._transports.append(transport)
            else:
                server = await loop.create_server(functools.partial(_Stream, self, name), sock=sock)
                self._servers.append(server)

    async def _shutdown(self) -> None:
        for server in self._servers:
            server.close()
        # Paused peers hold data in the kernel: let them deliver it before closing.
        self._resume_all()
        # Let data already in the kernel buffers arrive: a few loop turns, until quiet.
        for _ in range(50):
            before = self.stats.messages
            await asyncio.sleep(0.02)
            if self.stats.messages == before:
                break
        for connection in list(self._connections):
            connection.close()
        for transport in self._transports:
            transport.close()
        await asyncio.sleep(0)

    def _resume_all(self) -> None:
        for transport in list(self._paused):
            if not transport.is_closing():
                transport.resume_reading()
        self._paused.clear()

    def _put(self, stream: str, data: bytes, messages: int) -> None:
        with self._lock:
            self._queue.append(Batch(stream, data, messages))
            self._pending += messages
            self._pending_bytes += len(data)
            pending = self._pending
        self.stats.messages += messages
        self.stats.per_stream[stream] += messages
        if self.wake is not None and pending >= self.wake_at:
            self.wake.set()

    def _full(self) -> bool:
        return self._pending >= self.max_pending or self._pending_bytes >= self.max_pending_bytes


class _Datagrams(asyncio.DatagramProtocol):
    def __init__(self, receiver: SyslogReceiver, stream: str) -> None:
        self.receiver = receiver
        self.stream = stream

    def datagram_received(self, data: bytes, addr: tuple[str | object, ...]) -> None:
        if self.receiver._full():
            self.receiver.stats.udp_dropped += 1
            return
        self.receiver._put(self.stream, _clean(data), 1)

    def error_received(self, exc: Exception) -> None:
        log.warning("syslog %s: %s", self.stream, exc)


def _has_long_message(block: bytes) -> bool:
    """Whether a message in ``block`` (messages joined by newlines) is longer
    than ``MAX_MESSAGE_BYTES``: a search for a newline in each stretch of that
    many bytes, not a split of every message (a busy stream's reads fill the
    buffer past that length nearly every time, each of short messages)."""
    start = 0
    while len(block) - start > MAX_MESSAGE_BYTES:
        newline = block.rfind(b"\n", start, start + MAX_MESSAGE_BYTES + 1)
        if newline < 0:
            return True
        start = newline + 1
    return False


class _Stream(asyncio.Protocol):
    """One TCP connection: frames messages, octet-counted or newline-separated."""

    def __init__(self, receiver: SyslogReceiver, stream: str) -> None:
        self.receiver = receiver
        self.stream = stream
        self.buffer = bytearray()
        self.octets: bool | None = None
        #: A message was cut at ``MAX_MESSAGE_BYTES``: its rest, up to the
        #: next trailer, is dropped, not read as a message of its own (whose
        #: start the sender would then choose).
        self.skipping = False
        self.transport: asyncio.Transport | None = None
        self.last_data = 0.0
        self.idle_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        if len(self.receiver._connections) >= self.receiver.max_connections:
            self.receiver.stats.refused_connections += 1
            transport.close()
            return
        self.transport = transport
        self.receiver._connections.add(transport)
        self.receiver.stats.connections += 1
        loop = asyncio.get_running_loop()
        self.last_data = loop.time()
        self.idle_timer = loop.call_later(self.receiver.idle_timeout, self._check_idle)

    def _check_idle(self) -> None:
        """Close the connection after ``idle_timeout`` s without data (one timer, re-armed)."""
        if self.transport is None or self.transport.is_closing():
            return
        loop = asyncio.get_running_loop()
        if self.transport in self.receiver._paused:
            self.last_data = loop.time()  # silent because we stopped reading it
        idle = loop.time() - self.last_data
        if idle >= self.receiver.idle_timeout:
            self.receiver.stats.idle_closed += 1
            self.transport.close()
            return
        # Active since the timer was armed: look again when it could be idle.
        wait = max(self.receiver.idle_timeout - idle, self.receiver.idle_timeout / 10)
        self.idle_timer = loop.call_later(wait, self._check_idle)

    def connection_lost(self, exc: Exception | None) -> None:
        # The peer is gone: its last message needs no trailer to be complete.
        if self.skipping:
            self.buffer.clear()  # the rest of a cut message
        if self.buffer and self.octets is not True:
            self.receiver._put(self.stream, _clean(bytes(self.buffer)), 1)
        elif self.buffer:
            self.receiver.stats.framing_errors += 1
        self.buffer.clear()
        if self.idle_timer is not None:
            self.idle_timer.cancel()
        if self.transport is not None:
            self.receiver._connections.discard(self.transport)
            self.receiver._paused.discard(self.transport)

    def data_received(self, data: bytes) -> None:
        if self.transport is None:
            return  # refused at connection_made
        self.last_data = asyncio.get_running_loop().time()
        self.buffer += data
        if self.octets is None:
            # Leading blanks say nothing about the framing; keep none of them
            # (a peer sending spaces forever must not grow the buffer).
            self.buffer = bytearray(self.buffer.lstrip())
            if not self.buffer:
                return
            self.octets = self.buffer[:1].isdigit()
        if self.octets:
            self._octet_counted()
        else:
            self._newline_framed()
        if self.receiver._full() and self.transport is not None:
            self.transport.pause_reading()
            self.receiver._paused.add(self.transport)

    def _newline_framed(self) -> None:
        # Many messages at once: one cut at the last trailer, split later in Arrow.
        if b"\x00" in self.buffer:
            self.buffer = bytearray(self.buffer.replace(b"\x00", b"\n"))
        if self.skipping:
            end = self.buffer.find(b"\n")
            if end < 0:
                self.buffer.clear()
                return
            del self.buffer[: end + 1]
            self.skipping = False
        cut = self.buffer.rfind(b"\n")
        if cut < 0:
            if len(self.buffer) > MAX_MESSAGE_BYTES:
                # Bounded memory: handed on cut, its rest dropped up to its trailer.
                self.receiver._put(self.stream, _clean(bytes(self.buffer[:MAX_MESSAGE_BYTES])), 1)
                self.receiver.stats.cut_messages += 1
                self.buffer.clear()
                self.skipping = True
            return
        block = bytes(self.buffer[:cut]).replace(b"\r\n", b"\n")
        del self.buffer[: cut + 1]
        if _has_long_message(block):
            # A message that came whole with its trailer (reads of up to 256
            # KiB each: one of 300 KiB never sat alone in the buffer) is cut
            # as well, as one that is still coming would be.
            parts = block.split(b"\n")
            long = sum(len(part) > MAX_MESSAGE_BYTES for part in parts)
            if long:
                self.receiver.stats.cut_messages += long
                block = b"\n".join(part[:MAX_MESSAGE_BYTES] for part in parts)
        self.receiver._put(self.stream, block, block.count(b"\n") + 1)

    def _octet_counted(self) -> None:
        messages: list[bytes] = []
        view = self.buffer
        pos = 0
        size = len(view)
        broken = False
        while pos < size:
            # Separators between frames are tolerated (some senders add a newline).
            while pos < size and view[pos] in b" \r\n":
                pos += 1
            space = view.find(b" ", pos, pos + 8)
            if space < 0:
                broken = size - pos >= 8
                break
            digits = bytes(view[pos:space])
            if not digits.isdigit() or int(digits) > MAX_MESSAGE_BYTES:
                broken = True
                break
            end = space + 1 + int(digits)
            if end > size:
                break
            messages.append(_clean(bytes(view[space + 1 : end])))
            pos = end
        del self.buffer[:pos]
        # The frames read before a broken one are good: they are kept.
        if messages:
            self.receiver._put(self.stream, b"\n".join(messages), len(messages))
        if broken:
            self._framing_error()

    def _framing_error(self) -> None:
        # A broken frame cannot be resynchronised safely: count it and hang up.
        self.receiver.stats.framing_errors += 1
        log.warning("syslog %s: bad octet-counted frame; connection closed", self.stream)
        self.buffer.clear()
        if self.transport is not None:
            self.transport.close()
