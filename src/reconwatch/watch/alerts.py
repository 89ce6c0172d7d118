"""Alerts and where they go: JSON lines on stdout, a webhook, RFC 5424 syslog.

An alert is one actor's current state: its detections, severity, counts,
first and last seen, the case id when known, and ``update`` (false for the
first alert of an actor, true for the later ones that replace it). Log
content reaches alerts only as JSON string values (escaped by ``json``) or,
for syslog, as escaped structured-data values: a hostile line cannot inject
a field or a terminal sequence.

Sinks never stop the watch: a webhook that is down is retried a bounded
number of times from a worker thread (the detection loop never waits on the
network), then the failure is logged and counted.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import errno
import json
import logging
import os
import queue
import socket
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass, field
from typing import Any, Final, Protocol, TextIO

from reconwatch.watch.receiver import Endpoint

log = logging.getLogger(__name__)

SEVERITIES: Final = ("low", "medium", "high", "critical")
#: RFC 5424 severities by alert severity (critical 2, error 3, warning 4, notice 5).
SYSLOG_SEVERITY: Final = {"critical": 2, "high": 3, "medium": 4, "low": 5}
#: Facility 4, security/authorization messages (RFC 5424 table 1).
SYSLOG_FACILITY: Final = 4
#: Private enterprise number for the structured-data id (reserved for documentation, RFC 5612).
SD_ID: Final = "reconwatch@32473"
#: Alerts waiting for the webhook; past it the oldest is dropped (and counted).
WEBHOOK_QUEUE: Final = 10_000


def severity_rank(severity: str) -> int:
    return SEVERITIES.index(severity) if severity in SEVERITIES else 0


@dataclass
class Alert:
    actor: str
    detections: list[str]
    severity: str
    counts: dict[str, int]
    first_seen: str | None
    last_seen: str | None
    case_id: str | None
    update: bool
    sequence: int
    sources: list[str] = field(default_factory=list)
    #: Earlier case the actor matched on the watchlist, and how.
    watchlist: dict[str, Any] | None = None
    #: What the actor did beyond reconnaissance (exploit alert, login, 2xx on a secret).
    beyond_recon: list[str] = field(default_factory=list)
    honeypot: bool = False
    reasons: list[str] = field(default_factory=list)
    emitted_at: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"type": "reconwatch.alert", **asdict(self)}


class Sink(Protocol):
    def send(self, alert: Alert) -> None: ...

    def close(self) -> None: ...


class StdoutSink:
    """One JSON object per line (ASCII only: escapes keep log text inert).

    A reader that goes away (``reconwatch watch | head``, a closed terminal)
    is told once in the log; later alerts are counted as dropped there and
    the other sinks go on. Any other write error (a full disk under
    ``> alerts.jsonl``) fails that alert only: it is counted as failed, told
    once until a write succeeds again, and the next alert is tried.
    """

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stdout
        self.stats = SinkStats()
        self._gone = False
        self._failing = False

    def send(self, alert: Alert) -> None:
        if self._gone:
            self.stats.dropped += 1
            return
        line = json.dumps(alert.to_dict(), sort_keys=True) + "\n"
        try:
            self.stream.write(line)
            self.stream.flush()
        except (OSError, ValueError) as exc:  # EPIPE; ValueError: a closed file
            if _reader_gone(exc):
                self._went(exc)
                self.stats.dropped += 1
            else:
                self._failed(exc)
            return
        self._failing = False
        self.stats.sent += 1

    def close(self) -> None:
        if self._gone:
            return
        try:
            self.stream.flush()
        except (OSError, ValueError) as exc:
            if _reader_gone(exc):
                self._went(exc)
            else:
                log.error("standard output: alerts not flushed: %s", exc)

    def _failed(self, exc: Exception) -> None:
        self.stats.failed += 1
        if not self._failing:
            log.error("standard output: alert not written (%s); later alerts are tried", exc)
        self._failing = True

    def _went(self, exc: Exception) -> None:
        self._gone = True
        log.error("standard output closed (%s): alerts are no longer written there", exc)
        if self.stream is sys.stdout:
            # Python's own flush of stdout at exit would fail again, with a traceback.
            with contextlib.suppress(OSError, ValueError):
                devnull = os.open(os.devnull, os.O_WRONLY)
                os.dup2(devnull, sys.stdout.fileno())
                os.close(devnull)


#: Write errors that say stdout's reader is gone for good (a closed pipe, a
#: hung-up terminal, a closed descriptor); others (ENOSPC, EAGAIN) may pass.
_GONE: Final = frozenset({errno.EPIPE, errno.ECONNRESET, errno.EIO, errno.EBADF})


def _reader_gone(exc: Exception) -> bool:
    if isinstance(exc, OSError) and not isinstance(exc, ValueError):
        return exc.errno in _GONE
    return True  # ValueError: the stream is closed (or cannot be written)


@dataclass
class SinkStats:
    sent: int = 0
    failed: int = 0
    dropped: int = 0


class WebhookSink:
    """POST each alert as JSON to ``url``; bounded retries, from a worker thread."""

    def __init__(self, url: str, timeout: float = 5.0, attempts: int = 3) -> None:
        if not url.startswith(("http://", "https://")):
            raise ValueError(f"{url!r}: the webhook must be an http:// or https:// URL")
        self.url = url
        self.timeout = timeout
        self.attempts = attempts
        self.stats = SinkStats()
        self._queue: queue.Queue[Alert | None] = queue.Queue(WEBHOOK_QUEUE)
        self._worker = threading.Thread(target=self._run, name="webhook", daemon=True)
        self._worker.start()

    def send(self, alert: Alert) -> None:
        try:
            self._queue.put_nowait(alert)
        except queue.Full:
            self.stats.dropped += 1
            log.error("webhook %s: queue full, alert for %s dropped", self.url, alert.actor)

    def close(self, timeout: float = 10.0) -> None:
        """Deliver what is queued (within ``timeout``), then stop the worker."""
        try:
            self._queue.put(None, timeout=timeout)
        except queue.Full:
            return
        self._worker.join(timeout)

    def _run(self) -> None:
        while True:
            alert = self._queue.get()
            if alert is None:
                return
            self._deliver(alert)

    def _deliver(self, alert: Alert) -> None:
        body = json.dumps(alert.to_dict(), sort_keys=True).encode()
        error = ""
        for attempt in range(self.attempts):
            request = urllib.request.Request(  # noqa: S310 - scheme checked in __init__
                self.url,
                data=body,
                method="POST",
                headers={"Content-Type": "application/json", "User-Agent": "reconwatch-watch"},
            )
            try:
                with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310
                    response.read()
                self.stats.sent += 1
                return
            except urllib.error.HTTPError as exc:
                error = f"HTTP {exc.code}"
                if 400 <= exc.code < 500 and exc.code not in (408, 429):
                    break  # the receiver refuses this alert: retrying will not help
            except (OSError, ValueError) as exc:
                error = str(exc)
            if attempt + 1 < self.attempts:
                time.sleep(min(0.5 * 2**attempt, 4.0))
        self.stats.failed += 1
        log.error("webhook %s: alert for %s not delivered: %s", self.url, alert.actor, error)


def _sd_escape(value: str) -> str:
    """An RFC 5424 PARAM-VALUE: ``"``, ``\\`` and ``]`` escaped, control chars removed."""
    value = "".join(ch for ch in value if ch.isprintable())
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("]", "\\]")


def rfc5424(alert: Alert, hostname: str | None = None, now: dt.datetime | None = None) -> bytes:
    """The alert as one RFC 5424 message: structured data for filters, JSON as the message."""
    now = now or dt.datetime.now(dt.UTC)
    pri = SYSLOG_FACILITY * 8 + SYSLOG_SEVERITY.get(alert.severity, 5)
    host = (hostname or socket.gethostname() or "-")[:255].replace(" ", "_")
    params = {
        "actor": alert.actor,
        "severity": alert.severity,
        "detections": ",".join(alert.detections),
        "case": alert.case_id or "",
        "update": "1" if alert.update else "0",
    }
    sd = " ".join(f'{k}="{_sd_escape(v)}"' for k, v in params.items())
    stamp = now.astimezone(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    message = json.dumps(alert.to_dict(), sort_keys=True)
    header = f"<{pri}>1 {stamp} {host} reconwatch - alert [{SD_ID} {sd}] "
    return header.encode() + b"\xef\xbb\xbf" + message.encode()


class SyslogSink:
    """RFC 5424 over UDP (RFC 5426) to ``udp://HOST:PORT``."""

    def __init__(self, target: str) -> None:
        endpoint = Endpoint.parse(target, ("udp",))
        info = socket.getaddrinfo(endpoint.host, endpoint.port, type=socket.SOCK_DGRAM)[0]
        self.address = info[4]
        self.sock = socket.socket(info[0], socket.SOCK_DGRAM)
        self.stats = SinkStats()

    def send(self, alert: Alert) -> None:
        try:
            self.sock.sendto(rfc5424(alert), self.address)
            self.stats.sent += 1
        except OSError as exc:
            self.stats.failed += 1
            log.error("syslog alert for %s not sent: %s", alert.actor, exc)

    def close(self) -> None:
        self.sock.close()
