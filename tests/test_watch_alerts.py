"""Alert sinks (stdout, webhook, syslog) and ``reconwatch watch`` end to end."""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import json
import logging
import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from reconwatch.watch.alerts import Alert, StdoutSink, SyslogSink, WebhookSink, rfc5424

ROOT = Path(__file__).resolve().parent.parent
PYTHON = ROOT / ".venv" / "bin" / "python"


def alert(**changes: Any) -> Alert:
    base: dict[str, Any] = {
        "actor": "198.51.100.7",
        "detections": ["vertical_scan"],
        "severity": "high",
        "counts": {"events": 40, "ports": 40, "targets": 1},
        "first_seen": "2026-12-04T10:00:00+00:00",
        "last_seen": "2026-12-04T10:00:30+00:00",
        "case_id": "RW-20261204-aaaaaaaa",
        "update": False,
        "sequence": 1,
    }
    return Alert(**{**base, **changes})


class Recorder:
    """A local HTTP server that records POSTed bodies and answers with ``statuses`` in turn."""

    def __init__(self, statuses: list[int] | None = None) -> None:
        self.bodies: list[dict[str, Any]] = []
        self.hits = 0
        self.statuses = statuses or []
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers["Content-Length"])
                body = self.rfile.read(length)
                recorder.hits += 1
                status = recorder.statuses.pop(0) if recorder.statuses else 200
                if status == 200:
                    recorder.bodies.append(json.loads(body))
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def recorder() -> Iterator[Recorder]:
    server = Recorder()
    yield server
    server.close()


@pytest.fixture
def udp() -> Iterator[socket.socket]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(10)
    yield sock
    sock.close()


def test_stdout_sink_writes_one_json_object_per_line() -> None:
    out = io.StringIO()
    StdoutSink(out).send(alert(actor="203.0.113.5", reasons=["line with \x1b[2J escape"]))
    text = out.getvalue()
    assert text.count("\n") == 1
    assert "\x1b" not in text  # escaped by JSON, never raw on a terminal
    doc = json.loads(text)
    assert doc["type"] == "reconwatch.alert"
    assert doc["actor"] == "203.0.113.5"
    assert doc["reasons"] == ["line with \x1b[2J escape"]
    for key in ("detections", "severity", "counts", "first_seen", "last_seen", "case_id", "update"):
        assert key in doc


def test_webhook_posts_each_alert(recorder: Recorder) -> None:
    sink = WebhookSink(recorder.url, timeout=5, attempts=3)
    sink.send(alert())
    sink.send(alert(update=True, sequence=2))
    sink.close()
    assert [b["sequence"] for b in recorder.bodies] == [1, 2]
    assert recorder.bodies[1]["update"] is True
    assert recorder.bodies[0]["case_id"] == "RW-20261204-aaaaaaaa"
    assert sink.stats.sent == 2 and sink.stats.failed == 0


def test_webhook_retries_a_bounded_number_of_times() -> None:
    server = Recorder(statuses=[503, 500, 200, 500, 500, 500])
    try:
        sink = WebhookSink(server.url, timeout=5, attempts=3)
        sink.send(alert(sequence=1))  # 503, 500, then delivered
        sink.send(alert(sequence=2))  # 500 three times: given up
        sink.close()
    finally:
        server.close()
    assert server.hits == 6
    assert [b["sequence"] for b in server.bodies] == [1]
    assert sink.stats.sent == 1
    assert sink.stats.failed == 1


def test_webhook_down_is_logged_not_fatal(caplog: pytest.LogCaptureFixture) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    sink = WebhookSink(f"http://127.0.0.1:{port}/", timeout=1, attempts=2)
    began = time.monotonic()
    sink.send(alert())  # returns at once: delivery is the worker's
    assert time.monotonic() - began < 0.5
    sink.close()
    assert sink.stats.failed == 1
    assert "not delivered" in caplog.text


def test_webhook_refuses_other_schemes() -> None:
    with pytest.raises(ValueError, match="http"):
        WebhookSink("file:///etc/passwd")


def test_syslog_sink_sends_rfc5424(udp: socket.socket) -> None:
    port = udp.getsockname()[1]
    sink = SyslogSink(f"udp://127.0.0.1:{port}")
    sink.send(alert(detections=['x"]\\y'], severity="critical"))
    data, _ = udp.recvfrom(65535)
    sink.close()
    match = re.match(
        rb"<(\d+)>1 (\S+) (\S+) reconwatch - alert \[reconwatch@32473 (.*?)\] \xef\xbb\xbf(.*)$",
        data,
        re.S,
    )
    assert match, data
    assert int(match.group(1)) == 4 * 8 + 2  # security facility, severity critical
    dt.datetime.fromisoformat(match.group(2).decode().replace("Z", "+00:00"))
    params = match.group(4).decode()
    assert 'actor="198.51.100.7"' in params
    assert 'detections="x\\"\\]\\\\y"' in params  # RFC 5424 escapes: " ] and backslash
    assert json.loads(match.group(5))["severity"] == "critical"


def test_rfc5424_severity_mapping() -> None:
    for severity, code in (("low", 5), ("medium", 4), ("high", 3), ("critical", 2)):
        assert rfc5424(alert(severity=severity)).startswith(f"<{32 + code}>1 ".encode())


# -- the command, end to end ---------------------------------------------------------------


def netfilter(port: int, src: str) -> str:
    now = dt.datetime.now(dt.UTC)
    return (
        f"{now:%b} {now.day:2d} {now:%H:%M:%S} fw1 kernel: [1.0] [UFW BLOCK] IN=eth0 OUT= "
        f"MAC= SRC={src} DST=203.0.113.10 LEN=44 TOS=0x00 PREC=0x00 TTL=45 ID=1 PROTO=TCP "
        f"SPT=40000 DPT={port} WINDOW=1024 RES=0x00 SYN URGP=0 "
    )


class Process:
    """``reconwatch watch`` as a subprocess, with its output read by threads."""

    def __init__(self, args: list[str]) -> None:
        code = "from reconwatch.watch.cli import watch; watch()"
        self.proc = subprocess.Popen(
            [str(PYTHON), "-c", code, *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=ROOT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        self.stdout: queue.Queue[str] = queue.Queue()
        self.stderr: list[str] = []
        assert self.proc.stdout is not None and self.proc.stderr is not None
        threading.Thread(target=self._pump, args=(self.proc.stdout,), daemon=True).start()
        self.err_thread = threading.Thread(target=self._errors, daemon=True)
        self.err_thread.start()

    def _pump(self, stream: Any) -> None:
        for line in stream:
            self.stdout.put(line)

    def _errors(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.stderr.append(line)

    def wait_for_stderr(self, pattern: str, timeout: float = 120) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in list(self.stderr):
                match = re.search(pattern, line)
                if match:
                    return match
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        raise AssertionError(f"no {pattern!r} on stderr: {''.join(self.stderr)}")

    def next_alert(self, timeout: float = 20) -> dict[str, Any]:
        doc: dict[str, Any] = json.loads(self.stdout.get(timeout=timeout))
        return doc

    def stop(self, sig: int) -> tuple[int, dict[str, Any]]:
        self.proc.send_signal(sig)
        code = self.proc.wait(60)
        self.err_thread.join(10)
        summaries = [json.loads(line) for line in self.stderr if line.startswith("{")]
        return code, summaries[-1]

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def test_watch_command_end_to_end(tmp_path: Path, recorder: Recorder, udp: socket.socket) -> None:
    log = tmp_path / "kern.log"
    log.write_text(netfilter(1, "192.0.2.1") + "\n")
    cfg = tmp_path / "reconwatch.yaml"
    cfg.write_text("watch:\n  batch_seconds: 0.25\n")
    udp_port = udp.getsockname()[1]
    proc = Process(
        [
            str(log),
            "--syslog",
            "tcp://127.0.0.1:0",
            "--config",
            str(cfg),
            "--alert-webhook",
            recorder.url,
            "--alert-syslog",
            f"udp://127.0.0.1:{udp_port}",
        ]
    )
    try:
        port = int(proc.wait_for_stderr(r"tcp://127\.0\.0\.1:(\d+)").group(1))
        # A vertical scan in the file ...
        with log.open("a") as fh:
            fh.write("".join(netfilter(p, "198.51.100.7") + "\n" for p in range(100, 120)))
            fh.write("not a log line at all\n")
        first = proc.next_alert()
        assert first["actor"] == "198.51.100.7"
        assert first["detections"] == ["vertical_scan"]
        assert first["update"] is False
        # ... and one over syslog (octet-counted TCP).
        with socket.create_connection(("127.0.0.1", port)) as sock:
            for p in range(200, 220):
                data = ("<4>" + netfilter(p, "203.0.113.250")).encode()
                sock.sendall(f"{len(data)} ".encode() + data)
        second = proc.next_alert()
        assert second["actor"] == "203.0.113.250"
        datagram, _ = udp.recvfrom(65535)
        assert b"reconwatch@32473" in datagram and b"198.51.100.7" in datagram
        code, summary = proc.stop(signal.SIGTERM)
    finally:
        proc.kill()
    assert code == 0
    assert summary["type"] == "reconwatch.watch.summary"
    assert summary["lines"] == 41
    assert summary["parsed"] == 40
    assert summary["rejected"] == 1
    assert sum(summary["reject_reasons"].values()) == 1
    assert summary["alerts"] == 2
    assert summary["syslog"]["messages"] == 20
    deadline = time.monotonic() + 10
    while len(recorder.bodies) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert sorted(b["actor"] for b in recorder.bodies) == ["198.51.100.7", "203.0.113.250"]


def test_watch_command_stops_cleanly_on_sigint(tmp_path: Path) -> None:
    log = tmp_path / "kern.log"
    log.write_text("")
    proc = Process([str(log), "--quiet"])
    try:
        proc.wait_for_stderr(r"watching 1 path")
        with log.open("a") as fh:
            fh.write(netfilter(22, "192.0.2.9") + "\n")
            fh.write("partial line without newline")
        time.sleep(1.5)
        code, summary = proc.stop(signal.SIGINT)
    finally:
        proc.kill()
    assert code == 0
    # The partial last line is flushed at shutdown and accounted for.
    assert summary["lines"] == 2
    assert summary["parsed"] + summary["rejected"] == 2
    assert proc.stdout.empty()  # --quiet: nothing on stdout


#: A child that installs the watch's stop handler for SIGINT and SIGTERM, sends
#: itself SIGINT, and SIGTERM at the n-th traced event of the first handler's
#: run (a second Ctrl-C, or a supervisor's SIGTERM after one): Python runs the
#: second handler inside the first.
NESTED_STOP = """
import os, signal, sys
from reconwatch.watch.cli import StopFlag, stopper
n = int(sys.argv[1])
stop = StopFlag()
handle = stopper(stop)
events = [0]
def tracer(frame, event, arg):
    if frame.f_code is handle.__code__ or events[0]:
        events[0] += 1
        if events[0] == n:
            os.kill(os.getpid(), signal.SIGTERM)
    return tracer
signal.signal(signal.SIGTERM, handle)
signal.signal(signal.SIGINT, handle)
sys.settrace(tracer)
os.kill(os.getpid(), signal.SIGINT)
for _ in range(100):
    pass
sys.settrace(None)
print(stop.is_set())
"""


def test_a_second_stop_signal_inside_the_first_handler_does_not_hang() -> None:
    # The handler takes no lock: one setting a threading.Event waited for ever
    # on the Event's lock, held by the handler it interrupted (traced events
    # 8 to 25 here), and so did one setting the watcher's wake-up Event while
    # the watch waited on it.
    hung = []
    for n in range(1, 30):
        try:
            done = subprocess.run(
                [str(PYTHON), "-c", NESTED_STOP, str(n)],
                capture_output=True,
                text=True,
                timeout=20,
                cwd=ROOT,
            )
        except subprocess.TimeoutExpired:  # run() kills the child (SIGKILL)
            hung.append(n)
            continue
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip() == "True"
    assert hung == [], f"hung when the second signal came at traced events {hung}"


def test_watch_command_rejects_bad_arguments() -> None:
    for args, message in (
        (["--syslog", "http://x:1"], "expected udp or tcp"),
        ([], "nothing to watch"),
    ):
        done = subprocess.run(
            [str(PYTHON), "-c", "from reconwatch.watch.cli import watch; watch()", *args],
            capture_output=True,
            text=True,
            cwd=ROOT,
            timeout=120,
            check=False,
        )
        assert done.returncode == 2, done.stderr
        assert message in done.stderr
        assert "Traceback" not in done.stderr


def test_a_closed_stdout_is_told_once_and_alerts_are_counted_dropped(
    caplog: pytest.LogCaptureFixture,
) -> None:
    read, write = os.pipe()
    os.close(read)  # the reader went away (`reconwatch watch | head -1` after its line)
    stream = os.fdopen(write, "w")
    sink = StdoutSink(stream)
    with caplog.at_level(logging.ERROR, logger="reconwatch.watch.alerts"):
        for n in range(3):
            sink.send(alert(sequence=n + 1))  # never raises: the other sinks go on
        sink.close()
    assert (sink.stats.sent, sink.stats.dropped) == (0, 3)
    told = [r for r in caplog.records if "standard output closed" in r.getMessage()]
    assert len(told) == 1
    with contextlib.suppress(OSError):
        stream.close()


def test_a_full_disk_under_stdout_fails_one_alert_not_the_rest(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``watch > alerts.jsonl`` on a disk that fills, then frees: the alert
    that met ENOSPC fails, the next ones are written (the stream is not taken
    for a closed one, nor stdout sent to /dev/null for good)."""
    import errno

    class Disk(io.StringIO):
        full = False

        def write(self, text: str) -> int:
            if self.full:
                raise OSError(errno.ENOSPC, "No space left on device")
            return super().write(text)

    out = Disk()
    monkeypatch.setattr(sys, "stdout", out)
    sink = StdoutSink()
    with caplog.at_level(logging.ERROR, logger="reconwatch.watch.alerts"):
        sink.send(alert(sequence=1))
        out.full = True
        sink.send(alert(sequence=2))
        sink.send(alert(sequence=3))
        out.full = False
        sink.send(alert(sequence=4))
        sink.close()
    assert [json.loads(line)["sequence"] for line in out.getvalue().splitlines()] == [1, 4]
    assert (sink.stats.sent, sink.stats.failed, sink.stats.dropped) == (2, 2, 0)
    told = [r.getMessage() for r in caplog.records]
    assert len(told) == 1 and "closed" not in told[0] and "No space left" in told[0]
