"""``reconwatch watch``: follow files and syslog streams, alert as scans happen.

Alerts go to stdout as JSON lines (and to a webhook and/or syslog when
asked); everything else (warnings, the final counts) goes to stderr, so
stdout can be piped straight into a SIEM shipper.
"""

from __future__ import annotations

import json
import logging
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from types import FrameType

import click

from reconwatch.cli_errors import config_from, fail
from reconwatch.cli_types import AUTO, format_choice
from reconwatch.report.text import clean
from reconwatch.watch.receiver import Endpoint, EndpointError


@click.command()
@click.argument("paths", nargs=-1)
@click.option(
    "--syslog",
    "syslog",
    multiple=True,
    metavar="udp://HOST:PORT|tcp://HOST:PORT",
    help="Receive syslog (RFC 3164/5424) here; repeatable.",
)
@click.option(
    "--format",
    "fmt",
    default=AUTO,
    show_default=True,
    type=format_choice(),
    help="Input format; auto sniffs each file (syslog streams: routed by program).",
)
@click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    help="YAML config file (thresholds, site networks, the watch section).",
)
@click.option("--store", "store_url", help="Case store URL: earlier cases' actors are watched.")
@click.option("--alert-webhook", "webhooks", multiple=True, help="POST each alert as JSON here.")
@click.option(
    "--alert-syslog",
    "syslog_targets",
    multiple=True,
    metavar="udp://HOST:PORT",
    help="Send each alert as RFC 5424 over UDP here.",
)
@click.option(
    "--alert-interval",
    type=click.FloatRange(min=0),
    help="At most one update per actor per this many seconds "
    "(default: watch.alert_interval_seconds, 60).",
)
@click.option("--from-start", is_flag=True, help="Read files from their start, not their end.")
@click.option(
    "--state",
    "state_dir",
    type=click.Path(path_type=Path, file_okay=False),
    help="Keep file positions, the window and the alert book here across restarts.",
)
@click.option("--quiet", is_flag=True, help="No alerts on stdout (webhook/syslog only).")
def watch(
    paths: tuple[str, ...],
    syslog: tuple[str, ...],
    fmt: str,
    config_path: Path | None,
    store_url: str | None,
    webhooks: tuple[str, ...],
    syslog_targets: tuple[str, ...],
    alert_interval: float | None,
    from_start: bool,
    state_dir: Path | None,
    quiet: bool,
) -> None:
    """Follow PATHS (files, directories) and syslog listeners; alert on reconnaissance.

    Stops on SIGINT or SIGTERM: what was read is parsed and alerted, the
    counts are printed on stderr, and the exit status is 0.
    """
    # Imported here: other reconwatch commands need not load the engine to start.
    from sqlalchemy.exc import SQLAlchemyError

    from reconwatch.ingest.run import UnknownFormatError
    from reconwatch.store import StoreError
    from reconwatch.watch.alerts import Sink, StdoutSink, SyslogSink, WebhookSink
    from reconwatch.watch.runner import Watcher, WatchOptions

    if not paths and not syslog:
        fail("nothing to watch: give PATHS and/or --syslog udp://HOST:PORT")
    logging.basicConfig(level=logging.WARNING, format="reconwatch: %(levelname)s: %(message)s")
    config = config_from(config_path)
    store_url = store_url or config.store.url
    if alert_interval is not None:
        config = config.model_copy(
            update={
                "watch": config.watch.model_copy(update={"alert_interval_seconds": alert_interval})
            }
        )
    sinks: list[Sink] = [] if quiet else [StdoutSink()]
    try:
        # Addresses first: a typo fails at once, not after the detections compile.
        for text in syslog:
            Endpoint.parse(text)
        for url in webhooks:
            sinks.append(
                WebhookSink(
                    url, config.watch.webhook_timeout_seconds, config.watch.webhook_attempts
                )
            )
        for target in syslog_targets:
            sinks.append(SyslogSink(target))
        options = WatchOptions(
            paths=paths,
            syslog=syslog,
            format=fmt,
            from_start=from_start,
            store_url=store_url,
            state_dir=state_dir,
        )
        watcher = Watcher(config, options, sinks)
        watcher.start()
    except (
        EndpointError,
        UnknownFormatError,
        ValueError,
        OSError,
        SQLAlchemyError,
        StoreError,
    ) as exc:
        fail(str(exc))
        return
    for path in paths:
        if not Path(path).exists():
            click.echo(
                f"reconwatch: warning: {clean(path, 500)}: not there yet; followed when it appears",
                err=True,
            )
    stop = StopFlag()
    signal.signal(signal.SIGTERM, stopper(stop))
    signal.signal(signal.SIGINT, stopper(stop))
    listening = ", ".join(watcher.receiver.streams) if watcher.receiver else "no syslog"
    click.echo(
        f"reconwatch: watching {len(paths)} path(s); {listening}; "
        f"window {watcher.window_seconds} s",
        err=True,
    )
    watcher.run(stop)
    click.echo(json.dumps(watcher.summary(), sort_keys=True), err=True)
    sys.exit(0)


class StopFlag:
    """Set by the stop signals' handler, read by the watch between cycles.

    A plain attribute, not a ``threading.Event``: Python runs a signal
    handler on the main thread between two bytecodes, and runs it again for
    a second signal while the first is still running, so the handler must
    take no lock. Setting an Event takes the Event's lock (and notifies under
    it): a second signal (Ctrl-C twice, or SIGTERM after Ctrl-C) arriving
    then made the nested handler wait for ever on a lock its own thread held;
    setting the watcher's ``wake`` Event from the handler hung the same way
    when the signal came inside ``wake.wait``. The pause between cycles looks
    at this flag every ``STOP_POLL_SECONDS`` instead of being woken.
    """

    def __init__(self) -> None:
        self._set = False

    def set(self) -> None:
        self._set = True

    def is_set(self) -> bool:
        return self._set


def stopper(stop: StopFlag) -> Callable[[int, FrameType | None], None]:
    """A signal handler that sets ``stop`` and touches nothing else (see ``StopFlag``)."""

    def handle(signum: int, frame: FrameType | None) -> None:
        del signum, frame
        stop.set()

    return handle
