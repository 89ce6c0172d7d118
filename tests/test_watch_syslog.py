"""The syslog receiver on loopback: UDP, TCP octet-counted and newline framing, load."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pyarrow as pa
import pytest

from reconwatch.config import Config
from reconwatch.watch.receiver import Batch, Endpoint, EndpointError, SyslogReceiver
from reconwatch.watch.runner import Watcher, WatchOptions
from reconwatch.watch.tail import lines_from_bytes

KV = (
    "IN=eth0 OUT= MAC=00:16:3e:00:00:01:00:16:3e:00:00:02:08:00 SRC={src} DST=203.0.113.10 "
    "LEN=44 TOS=0x00 PREC=0x00 TTL=45 ID=54321 PROTO=TCP SPT=40000 DPT={port} WINDOW=1024 "
    "RES=0x00 SYN URGP=0 "
)


def rfc5424_netfilter(i: int) -> str:
    kv = KV.format(src=f"198.51.100.{i % 200}", port=i % 1000 + 1)
    return f"<4>1 2026-12-04T10:00:{i % 60:02d}.123Z fw1 kernel - - - [1234.5] DROP: {kv}"


def rfc3164_sshd(i: int) -> str:
    return (
        f"<38>Dec  4 10:00:{i % 60:02d} bastion sshd[812]: Failed password for invalid user "
        f"admin from 192.0.2.{i % 250} port {20000 + i % 5000} ssh2"
    )


def rfc3164_other(i: int) -> str:
    return f"<13>Dec  4 10:00:01 host cron[1]: (root) CMD (run-parts /etc/cron.hourly) {i}"


def octet(message: str) -> bytes:
    data = message.encode()
    return f"{len(data)} ".encode() + data


@pytest.fixture
def receiver() -> Iterator[SyslogReceiver]:
    rx = SyslogReceiver([Endpoint.parse("tcp://127.0.0.1:0"), Endpoint.parse("udp://127.0.0.1:0")])
    rx.start()
    yield rx
    rx.stop()


def drain_until(rx: SyslogReceiver, count: int, timeout: float = 20.0) -> list[Batch]:
    batches: list[Batch] = []
    deadline = time.monotonic() + timeout
    while sum(b.messages for b in batches) < count and time.monotonic() < deadline:
        batches += rx.drain()
        time.sleep(0.02)
    return batches


def lines_of(batches: list[Batch]) -> list[str]:
    if not batches:
        return []
    table = lines_from_bytes(b"\n".join(b.data for b in batches), 1)
    return [str(v) for v in table.column("line").to_pylist()]


def test_endpoint_parsing() -> None:
    assert Endpoint.parse("udp://0.0.0.0:514") == Endpoint("udp", "0.0.0.0", 514)
    assert Endpoint.parse("tcp://[::1]:6514").name() == "tcp://[::1]:6514"
    for bad in ("http://h:1", "udp://host", "tcp://:514", "udp://h:99999", "514"):
        with pytest.raises(EndpointError):
            Endpoint.parse(bad)


def test_tcp_burst_of_50000_messages_is_counted_in_full() -> None:
    """Octet-counted burst, mixed programs: parsed + rejected == sent, nothing lost."""
    watcher = Watcher(
        Config(),
        WatchOptions(syslog=["tcp://127.0.0.1:0"], detections=["vertical_scan"]),
        [],
    )
    watcher.start()
    assert watcher.receiver is not None
    port = watcher.receiver.ports()[0]
    sent = 50_000
    makers = (rfc5424_netfilter, rfc3164_sshd, rfc3164_other)
    payload = b"".join(octet(makers[i % 3](i)) for i in range(sent))
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(payload)
    deadline = time.monotonic() + 60
    try:
        while watcher.counts.lines < sent and time.monotonic() < deadline:
            watcher.cycle()
            time.sleep(0.05)
    finally:
        watcher.finish()
    counts = watcher.counts
    assert counts.lines == sent
    assert counts.parsed + counts.rejected + counts.skipped == sent
    assert counts.skipped == 0
    # Each program went to its parser; only cron has none.
    netfilter = len(range(0, sent, 3))
    sshd = len(range(1, sent, 3))
    assert counts.parsed == netfilter + sshd
    assert counts.reject_reasons == {"syslog program without a parser": sent - netfilter - sshd}
    assert watcher.window.table("network").num_rows == netfilter
    assert watcher.window.table("auth").num_rows == sshd
    assert watcher.receiver.stats.framing_errors == 0


def test_newline_framing_crlf_nul_and_both_rfcs(receiver: SyslogReceiver) -> None:
    port = receiver.ports()[0]
    messages = [rfc5424_netfilter(1), rfc3164_sshd(2), rfc5424_netfilter(3), rfc3164_sshd(4)]
    wire = (
        messages[0].encode()
        + b"\r\n"
        + messages[1].encode()
        + b"\x00"
        + messages[2].encode()
        + b"\n"
    )
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(wire)
        sock.sendall(messages[3][:20].encode())
        time.sleep(0.2)
        sock.sendall(messages[3][20:].encode())  # no trailer: completed by the close
    lines = lines_of(drain_until(receiver, 4))
    assert lines == messages


def test_octet_counted_frames_split_across_segments(receiver: SyslogReceiver) -> None:
    port = receiver.ports()[0]
    message = rfc3164_sshd(7) + "\nsecond physical line"
    wire = octet(message) + octet(rfc5424_netfilter(8))
    with socket.create_connection(("127.0.0.1", port)) as sock:
        for start in range(0, len(wire), 37):
            sock.sendall(wire[start : start + 37])
            time.sleep(0.001)
    lines = lines_of(drain_until(receiver, 2))
    # A newline inside a message does not make two lines of it.
    assert lines == [rfc3164_sshd(7) + " second physical line", rfc5424_netfilter(8)]


def test_bad_octet_count_is_a_framing_error_and_closes(receiver: SyslogReceiver) -> None:
    port = receiver.ports()[0]
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(octet(rfc3164_sshd(1)) + b"12x4567890 garbage that is not a frame\n")
        sock.settimeout(5)
        assert sock.recv(10) == b""  # the receiver hung up
    assert lines_of(drain_until(receiver, 1)) == [rfc3164_sshd(1)]
    assert receiver.stats.framing_errors == 1


def test_udp_datagrams_are_counted(receiver: SyslogReceiver) -> None:
    port = receiver.ports()[1]
    sent = 300
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        for i in range(sent):
            sock.sendto(rfc3164_sshd(i).encode() + b"\n", ("127.0.0.1", port))
            if i % 50 == 0:
                time.sleep(0.005)
    batches = drain_until(receiver, sent)
    stream = receiver.streams[1]
    assert stream.startswith("udp://127.0.0.1:")
    # Best effort, but every datagram that arrived is counted; on loopback all do.
    assert receiver.stats.per_stream[stream] + receiver.stats.udp_dropped == sent
    assert sorted(lines_of(batches)) == sorted(rfc3164_sshd(i) for i in range(sent))


def test_a_full_queue_pauses_tcp_without_losing_messages() -> None:
    rx = SyslogReceiver([Endpoint.parse("tcp://127.0.0.1:0")], max_pending=1000)
    rx.start()
    sent = 20_000
    port = rx.ports()[0]
    highest = 0

    def send() -> None:
        with socket.create_connection(("127.0.0.1", port)) as sock:
            sock.sendall(b"".join(rfc3164_sshd(i).encode() + b"\n" for i in range(sent)))

    sender = threading.Thread(target=send)
    sender.start()
    got: list[Batch] = []
    deadline = time.monotonic() + 30
    try:
        time.sleep(0.3)  # let the queue fill up and the receiver pause the peer
        highest = rx.pending
        while sum(b.messages for b in got) < sent and time.monotonic() < deadline:
            got += rx.drain()
            time.sleep(0.01)
    finally:
        sender.join()
        rx.stop()
    # Reading stopped near the bound (one socket read past it at most) ...
    assert 1000 <= highest < 1000 + 2000
    # ... and resumed when drained: every message arrived, in order.
    lines = lines_of(got)
    assert len(lines) == sent
    assert lines == [rfc3164_sshd(i) for i in range(sent)]


def test_received_lines_reach_the_parsers_with_their_stream_name() -> None:
    watcher = Watcher(
        Config(),
        WatchOptions(syslog=["udp://127.0.0.1:0"], detections=["vertical_scan"]),
        [],
    )
    watcher.start()
    assert watcher.receiver is not None
    port = watcher.receiver.ports()[0]
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.sendto(rfc5424_netfilter(5).encode(), ("127.0.0.1", port))
        sock.sendto(b"\x00\xffnot syslog at all", ("127.0.0.1", port))
        # RFC 5424 with structured data and a BOM, routed by its app-name.
        sshd = (
            '<38>1 2026-12-04T10:00:00Z bastion sshd 812 - [meta sequenceId="7"] '
            "\ufeffAccepted password for deploy from 198.51.100.99 port 40022 ssh2"
        )
        sock.sendto(sshd.encode(), ("127.0.0.1", port))
    deadline = time.monotonic() + 10
    try:
        while watcher.counts.lines < 3 and time.monotonic() < deadline:
            watcher.cycle()
            time.sleep(0.05)
    finally:
        watcher.finish()
    assert watcher.counts.parsed == 2
    assert watcher.counts.reject_reasons == {"not a syslog line": 1}
    auth = watcher.window.table("auth").to_pylist()
    assert [(r["source_ip"], r["event_outcome"], r["user_name"]) for r in auth] == [
        ("198.51.100.99", "success", "deploy")
    ]
    network: pa.Table = watcher.window.table("network")
    row = network.to_pylist()[0]
    assert row["source_ip"] == "198.51.100.5"
    assert row["destination_port"] == 6
    assert row["log_file"] == watcher.receiver.streams[0]
    assert row["log_line"] == 1


def test_a_port_in_use_fails_at_start() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        rx = SyslogReceiver([Endpoint.parse(f"tcp://127.0.0.1:{port}")])
        with pytest.raises(OSError):
            rx.start()


def test_a_peer_sending_blanks_forever_holds_no_memory() -> None:
    rx = SyslogReceiver([Endpoint.parse("tcp://127.0.0.1:0")])
    rx.start()
    try:
        with socket.create_connection(("127.0.0.1", rx.ports()[0])) as sock:
            for _ in range(200):
                sock.sendall(b" " * 65536)
            time.sleep(0.5)  # let the receiver read the 13 MB of blanks
            held = [len(t.get_protocol().buffer) for t in list(rx._connections)]
            assert held == [0]  # nothing kept while the framing is undecided
            sock.sendall(b"\n\n" + rfc3164_sshd(1).encode() + b"\n")
            got = drain_until(rx, 1)
    finally:
        rx.stop()
    assert lines_of(got) == [rfc3164_sshd(1)]


def test_the_queue_is_bounded_in_bytes_too() -> None:
    # Few but large messages: the byte budget, not the message count, pauses the peer.
    rx = SyslogReceiver([Endpoint.parse("tcp://127.0.0.1:0")], max_pending_bytes=1_000_000)
    rx.start()
    big = "x" * 100_000
    sent = 60

    def send() -> None:
        with socket.create_connection(("127.0.0.1", rx.ports()[0])) as sock:
            sock.sendall(
                b"".join(octet(f"<13>Oct 10 12:00:00 h app: {big} {i}") for i in range(sent))
            )

    sender = threading.Thread(target=send)
    sender.start()
    got: list[Batch] = []
    try:
        time.sleep(0.5)
        highest = rx._pending_bytes
        deadline = time.monotonic() + 30
        while sum(b.messages for b in got) < sent and time.monotonic() < deadline:
            got += rx.drain()
            time.sleep(0.01)
    finally:
        sender.join()
        rx.stop()
    assert 1_000_000 <= highest < 1_000_000 + 2 * 300_000  # paused near the bound
    assert sum(b.messages for b in got) == sent  # and nothing lost


def test_connections_beyond_the_cap_are_refused() -> None:
    rx = SyslogReceiver([Endpoint.parse("tcp://127.0.0.1:0")], max_connections=2)
    rx.start()
    socks = []
    try:
        for _ in range(4):
            socks.append(socket.create_connection(("127.0.0.1", rx.ports()[0])))
        deadline = time.monotonic() + 5
        while rx.stats.refused_connections < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        for sock in socks:
            sock.close()
        rx.stop()
    assert rx.stats.connections == 2 and rx.stats.refused_connections == 2


def test_idle_connections_are_closed_and_free_their_slot() -> None:
    rx = SyslogReceiver([Endpoint.parse("tcp://127.0.0.1:0")], max_connections=1, idle_timeout=0.5)
    rx.start()
    port = rx.ports()[0]
    try:
        idle = socket.create_connection(("127.0.0.1", port))
        deadline = time.monotonic() + 10
        while rx.stats.idle_closed < 1 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert rx.stats.idle_closed == 1
        assert idle.recv(1) == b""  # closed by the receiver
        talker = socket.create_connection(("127.0.0.1", port))  # the slot is free again
        # A connection that keeps sending is not idle, however long it lives.
        talker_start = time.monotonic()
        for i in range(12):
            talker.sendall((rfc3164_sshd(i) + "\n").encode())
            time.sleep(0.1)
        assert time.monotonic() - talker_start > 1.0  # twice the idle timeout
        got = drain_until(rx, 12)
        assert rx.stats.idle_closed == 1 and rx.stats.refused_connections == 0
        assert len(lines_of(got)) == 12
        idle.close()
        talker.close()
    finally:
        rx.stop()


def test_the_rest_of_an_oversized_message_is_dropped_not_read_as_a_message() -> None:
    # A newline-framed message past MAX_MESSAGE_BYTES is handed on cut; what
    # follows up to its trailer is no message of its own (its sender would
    # choose how it begins: a forged "<13>... sshd: Accepted ..." line).
    from reconwatch.watch.receiver import MAX_MESSAGE_BYTES

    rx = SyslogReceiver([Endpoint.parse("tcp://127.0.0.1:0")])
    rx.start()
    forged = rfc3164_sshd(7)
    try:
        with socket.create_connection(("127.0.0.1", rx.ports()[0])) as sock:
            sock.sendall(b"<13>Oct 10 12:00:00 h app: " + b"x" * (MAX_MESSAGE_BYTES + 10))
            time.sleep(0.3)  # read, and cut, before the rest arrives
            sock.sendall(b"y" * 1000 + b" " + forged.encode() + b"\n" + rfc3164_sshd(1).encode())
            sock.sendall(b"\n")
            got = drain_until(rx, 2)
    finally:
        rx.stop()
    lines = lines_of(got)
    assert len(lines) == 2 and len(lines[0]) == MAX_MESSAGE_BYTES
    assert lines[1] == rfc3164_sshd(1)
    assert rx.stats.cut_messages == 1


def test_an_oversized_message_sent_whole_with_its_trailer_is_cut_too() -> None:
    # Read 256 KiB at a time, a message of MAX_MESSAGE_BYTES + 100 with its
    # newline reaches the buffer with its trailer: it is cut all the same.
    from reconwatch.watch.receiver import MAX_MESSAGE_BYTES

    rx = SyslogReceiver([Endpoint.parse("tcp://127.0.0.1:0")])
    rx.start()
    try:
        with socket.create_connection(("127.0.0.1", rx.ports()[0])) as sock:
            big = b"<13>Oct 10 12:00:00 h app: " + b"x" * (MAX_MESSAGE_BYTES + 100)
            sock.sendall(big + b"\n" + rfc3164_sshd(1).encode() + b"\n")
            got = drain_until(rx, 2)
    finally:
        rx.stop()
    lines = lines_of(got)
    assert [len(line) for line in lines[:1]] == [MAX_MESSAGE_BYTES]
    assert lines[1:] == [rfc3164_sshd(1)]
    assert rx.stats.cut_messages == 1


@pytest.mark.parametrize(
    "lengths",
    [[10], [256 * 1024], [256 * 1024 + 1], [200, 256 * 1024], [200, 256 * 1024 + 1],
     [100 * 1024] * 6, [100 * 1024, 256 * 1024 + 5, 10], [0, 0, 256 * 1024 + 1, 0]],
)  # fmt: skip
def test_a_long_message_is_found_as_a_split_of_every_message_finds_it(
    lengths: list[int],
) -> None:
    # What a busy stream's blocks (over MAX_MESSAGE_BYTES, of short messages)
    # are checked with instead of a split per message: the same answer.
    from reconwatch.watch.receiver import MAX_MESSAGE_BYTES, _has_long_message

    block = b"\n".join(b"x" * n for n in lengths)
    assert _has_long_message(block) == any(n > MAX_MESSAGE_BYTES for n in lengths)


def test_the_watch_summary_counts_refused_and_idle_connections() -> None:
    cfg = Config()
    w = Watcher(
        cfg, WatchOptions(syslog=["tcp://127.0.0.1:0"], detections=[]), [], clock=time.monotonic
    )
    w.start()
    try:
        assert w.receiver is not None
        w.receiver.stats.refused_connections = 3
        w.receiver.stats.idle_closed = 2
    finally:
        w.finish()
    syslog = w.summary()["syslog"]
    assert (syslog["refused_connections"], syslog["idle_closed"], syslog["cut_messages"]) == (
        3,
        2,
        0,
    )
