"""The watch loop: lines in, micro-batches parsed, detections over a rolling window, alerts out.

One cycle (every ``watch.batch_seconds``, sooner when ``watch.batch_lines``
syslog messages wait):

1. take the lines files gained (``FileTailer``) and the syslog messages
   received (``SyslogReceiver``), as Arrow tables of lines;
2. parse each input's lines with its own parser (sniffed per file as
   ``ingest`` does; the syslog multiplexer for syslog streams), accounting
   for every line as parsed, rejected with a reason, or skipped;
3. look at the new rows alone for what cannot wait: honeypot touches, and
   activity of actors of earlier cases (the watchlist), with what goes
   beyond reconnaissance (exploit alerts, logins, 2xx on secrets);
4. append the rows to the rolling window, evict what fell out of it, and
   re-run the detections whose tables changed;
5. decide per actor whether to alert, update, or keep quiet (the alert
   book, ``book``), build cases and triage for the actors about to be
   alerted, and send.

State across batches is the window, each input's parser (syslog years,
Zeek headers; ``inputs``), and the alert book; all bounded.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

import pyarrow as pa
import pyarrow.compute as pc

from reconwatch.cases import Case, actor_keys, build_cases, finding_of
from reconwatch.config import Config
from reconwatch.enrich.geo import Geo
from reconwatch.ingest import AUTO, mapping, registry
from reconwatch.ingest.run import UnknownFormatError
from reconwatch.store import CaseStore, History
from reconwatch.triage import exposes, triage
from reconwatch.watch import state as saved
from reconwatch.watch.alerts import Sink
from reconwatch.watch.book import MAX_ACTORS, ActorState, book_entry, from_book
from reconwatch.watch.detector import WindowDetections, honeypot_touches
from reconwatch.watch.inputs import Inputs
from reconwatch.watch.receiver import Endpoint, SyslogReceiver
from reconwatch.watch.tail import Chunk, FileTailer, lines_from_bytes
from reconwatch.watch.watchlist import Watchlist
from reconwatch.watch.window import EVENT_TABLES, RollingWindow

log = logging.getLogger(__name__)

#: Cycles between two passes forgetting actors that left the window (a minute).
PRUNE_EVERY = 120
#: How often a pause between cycles looks whether the watch was told to stop
#: (seconds): the longest a stop waits before the last cycle begins.
STOP_POLL_SECONDS = 0.1
#: Severity floors: an earlier case's actor back, a honeypot touched, and an
#: earlier actor going beyond reconnaissance (the playbook's "signs of
#: compromise or unauthorized access": Tier 2 now).
WATCHLIST_SEVERITY = "medium"
HONEYPOT_SEVERITY = "high"
BEYOND_RECON_SEVERITY = "critical"


class Stopping(Protocol):
    """What tells ``Watcher.run`` to stop: a ``threading.Event`` or ``cli.StopFlag``."""

    def is_set(self) -> bool: ...


def longest_window(config: Config) -> int:
    """The longest ``window_seconds`` among the detection settings."""
    spans = [
        int(getattr(section, "window_seconds", 0))
        for section in (getattr(config.detect, name) for name in type(config.detect).model_fields)
    ]
    return max([s for s in spans if s > 0] or [3600])


@dataclass
class WatchOptions:
    paths: Sequence[str] = ()
    syslog: Sequence[str] = ()
    format: str = AUTO
    from_start: bool = False
    store_url: str | None = None
    #: Detections to run (default all): each costs a compile at start-up.
    detections: Sequence[str] | None = None
    #: Folder of the state kept across restarts (watch/state.py); None: none.
    state_dir: Path | None = None


@dataclass
class Counts:
    lines: int = 0
    parsed: int = 0
    rejected: int = 0
    skipped: int = 0
    repeated: int = 0
    repeats_cut: int = 0
    forwarded: int = 0
    forwarded_unread: int = 0
    reject_reasons: dict[str, int] = field(default_factory=dict)
    alerts: int = 0
    updates: int = 0
    cycles: int = 0
    #: Cycles that failed (logged) and were skipped.
    errors: int = 0


class Watcher:
    def __init__(
        self,
        config: Config,
        options: WatchOptions,
        sinks: Sequence[Sink],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.config = config
        self.options = options
        self.sinks = list(sinks)
        self.clock = clock
        self.settings = config.watch
        mapping.activate(config)
        if options.format != AUTO and options.format not in registry.FORMATS:
            raise UnknownFormatError(f"unknown format {options.format!r}")
        self.fixed = registry.FORMATS[options.format] if options.format != AUTO else None
        self.window_seconds = self.settings.window_seconds or longest_window(config)
        self.window = RollingWindow(self.window_seconds, self.settings.max_window_rows)
        self.detections = WindowDetections(config, options.detections)
        self.tailer = (
            FileTailer(
                list(options.paths),
                from_start=options.from_start,
                read_bytes=self.settings.read_bytes,
                max_line_bytes=self.settings.max_line_bytes,
                positions=(saved.load_positions(options.state_dir) if options.state_dir else None),
            )
            if options.paths
            else None
        )
        self.endpoints = [Endpoint.parse(text) for text in options.syslog]
        self.receiver = (
            SyslogReceiver(
                self.endpoints,
                self.settings.max_pending_messages,
                idle_timeout=self.settings.tcp_idle_seconds,
            )
            if self.endpoints
            else None
        )
        if options.state_dir is not None:
            saved.check_writable(options.state_dir)
        self.wake = threading.Event()
        if self.receiver is not None:
            self.receiver.wake = self.wake
            self.receiver.wake_at = self.settings.batch_lines
        self.streams: set[str] = set()
        self.counts = Counts()
        self.inputs = Inputs(config, self.fixed, self.detections.con, totals=self.counts)
        self.book: dict[str, ActorState] = {}
        self._unsent: set[str] = set()
        #: The latest findings over the window (kept between detection runs).
        self.findings: pa.Table | None = None
        # Only read (the watchlist, case ids): a SQLite file that is not there is
        # a typo, refused as `cases` refuses it, never a new empty store.
        self.store = CaseStore(options.store_url, create=False) if options.store_url else None
        geo_config = config.enrich.geo
        has_geo = bool(
            geo_config.iptoasn
            or geo_config.asn_mmdb
            or geo_config.city_mmdb
            or geo_config.country_mmdb
        )
        self.geo = Geo.open(geo_config) if has_geo else None
        self.watchlist = Watchlist()
        self._watchlist_at = -1e18
        if options.state_dir is not None:
            self._resume(options.state_dir)

    # -- life cycle ---------------------------------------------------------------------

    def start(self) -> None:
        if self.receiver is not None:
            self.receiver.start()
            self.streams = set(self.receiver.streams)
        self._refresh_watchlist(force=True)

    def run(self, stop: Stopping) -> None:
        """Cycle until ``stop`` is set, then flush (the caller prints the summary)."""
        interval = self.settings.batch_seconds
        while not stop.is_set():
            began = self.clock()
            try:
                self.cycle()
            except Exception:
                # A bug or a broken input must not end the watch: the next
                # cycle starts afresh (the window and the alert book are kept).
                self.counts.errors += 1
                log.exception("watch cycle failed")
            self._pause(interval - (self.clock() - began), stop)
        self.finish()

    def _pause(self, seconds: float, stop: Stopping) -> None:
        """Wait ``seconds``, or less if woken (enough lines arrived) or stopped.

        ``stop`` is looked at every ``STOP_POLL_SECONDS``: the signal handler
        that sets it may take no lock, so it wakes nothing (see ``cli.StopFlag``).
        """
        end = time.monotonic() + seconds
        while not stop.is_set():
            left = end - time.monotonic()
            if left <= 0 or self.wake.wait(min(left, STOP_POLL_SECONDS)):
                break
        self.wake.clear()

    def finish(self) -> None:
        """Stop listening, read what is left (partial lines too), alert, close sinks."""
        if self.receiver is not None:
            self.receiver.stop()
        try:
            self.cycle(final=True)
        except Exception:
            self.counts.errors += 1
            log.exception("last watch cycle failed")
        for sink in self.sinks:
            sink.close()
        if self.options.state_dir is not None:
            try:
                self._save(self.options.state_dir)
            except OSError:
                self.counts.errors += 1
                log.exception("watch state not saved")
        if self.tailer is not None:
            self.tailer.close()
        self.detections.close()
        if self.store is not None:
            self.store.close()
        if self.geo is not None:
            self.geo.close()

    # -- state across restarts ------------------------------------------------------------

    def _save(self, folder: Path) -> None:
        positions = self.tailer.positions() if self.tailer is not None else []
        window = {name: self.window.table(name) for name in EVENT_TABLES}
        book = [book_entry(s) for s in self.book.values() if s.sent_at is not None]
        saved.save(folder, positions, window, book)

    def _resume(self, folder: Path) -> None:
        for name, rows in saved.load_window(folder).items():
            if name in EVENT_TABLES:
                self.window.append(name, rows)
                if rows.num_rows:
                    # What came before the saved rows may have been evicted.
                    self.window.cut(name, pc.min(rows.column("timestamp")).as_py())
        now = self.clock()
        for entry in saved.load_alerts(folder):
            self.book[entry["actor"]] = from_book(entry, now)

    def summary(self) -> dict[str, Any]:
        counts = asdict(self.counts)
        counts["type"] = "reconwatch.watch.summary"
        counts["window_rows"] = self.window.rows
        counts["evicted_rows"] = self.window.evicted
        if self.receiver is not None:
            stats = self.receiver.stats
            counts["syslog"] = {
                "messages": stats.messages,
                "udp_dropped": stats.udp_dropped,
                "framing_errors": stats.framing_errors,
                "cut_messages": stats.cut_messages,
                "connections": stats.connections,
                "refused_connections": stats.refused_connections,
                "idle_closed": stats.idle_closed,
            }
        notes = self.inputs.notes()
        if notes:
            # What the parsers noted on an input (``hunt`` shows it in its accounting).
            counts["notes"] = notes
        if self.tailer is not None:
            counts["files"] = len(self.tailer.followed)
            counts["files_skipped"] = dict(self.tailer.skipped)
            counts["cut_lines"] = self.tailer.cut_lines
        sink_stats = {
            type(sink).__name__: asdict(sink.stats) for sink in self.sinks if hasattr(sink, "stats")
        }
        if sink_stats:
            counts["sinks"] = sink_stats
        return counts

    # -- one cycle ----------------------------------------------------------------------

    def cycle(self, final: bool = False) -> int:
        """Read, parse, look, detect, alert; return the alerts sent."""
        self.counts.cycles += 1
        self._refresh_watchlist()
        batches: dict[str, list[pa.Table]] = {name: [] for name in EVENT_TABLES}
        for name, lines, fresh, head in self._lines(final):
            self.inputs.parse(name, lines, fresh, batches, head)
        now = dt.datetime.now(dt.UTC)
        changed: set[str] = set()
        new_rows: dict[str, pa.Table] = {}
        for name, parts in batches.items():
            if parts:
                rows = pa.concat_tables(parts)
                new_rows[name] = rows
                self.window.append(name, rows, now)
                changed.add(name)
        before = {name: self.detections.sizes.get(name, 0) for name in EVENT_TABLES}
        self.window.evict()
        for name in EVENT_TABLES:
            rows = self.window.table(name)
            if name in changed or rows.num_rows != before[name]:
                self.detections.point(
                    name, rows, self.window.watermark, self.window.evicted_until.get(name)
                )
                changed.add(name)
        tick = self.clock()
        touched: set[str] = set()
        touched |= self._honeypots(new_rows.get("alert"), tick)
        touched |= self._watched(new_rows, tick)
        if changed or self.detections.pending:
            self.findings = self.detections.run(tick)
            touched |= self._from_findings(self.findings, tick)
        sent = self._decide(touched, tick, self.findings, final)
        if self.counts.cycles % PRUNE_EVERY == 0:
            self._prune()
        return sent

    def _prune(self) -> None:
        """Forget actors whose last activity left the window (nothing of theirs is unsent).

        Should one come back, it is a new episode and gets a new alert.
        """
        if self.window.watermark is None:
            return
        cutoff = self.window.watermark - self.window.span
        stale = [
            actor
            for actor, state in self.book.items()
            if actor not in self._unsent
            and state.last_seen is not None
            and state.last_seen < cutoff
        ]
        for actor in stale:
            del self.book[actor]

    def _lines(self, final: bool) -> Iterable[tuple[str, pa.Table, bool, pa.Table | None]]:
        if self.tailer is not None:
            chunks: list[Chunk] = self.tailer.poll()
            if final:
                # With --state the restart reads a partial last line whole.
                chunks += self.tailer.flush(keep_partial=self.options.state_dir is not None)
            if len(self.inputs) > len(self.tailer.followed) + len(self.streams):
                # Files the tailer forgot (rotated away and deleted) take their parsers along.
                names = {str(p) for p in self.tailer.followed} | self.streams
                names |= {c.name for c in chunks}
                self.inputs.retain(names)
            for chunk in chunks:
                yield chunk.name, chunk.lines, chunk.fresh, chunk.head
        if self.receiver is not None:
            by_stream: dict[str, list[bytes]] = {}
            for batch in self.receiver.drain():
                by_stream.setdefault(batch.stream, []).append(batch.data)
            for stream, blobs in by_stream.items():
                state = self.inputs.get(stream, syslog=True)
                first = state.stats.lines + 1
                yield stream, lines_from_bytes(b"\n".join(blobs), first), False, None

    # -- what cannot wait for a detection ----------------------------------------------

    def _state(self, actor: str, tick: float) -> ActorState:
        state = self.book.get(actor)
        if state is None:
            if len(self.book) >= MAX_ACTORS:
                oldest = min(self.book.values(), key=lambda s: s.touched)
                del self.book[oldest.actor]
            state = self.book[actor] = ActorState(actor)
        state.touched = tick
        return state

    def _honeypots(self, alerts: pa.Table | None, tick: float) -> set[str]:
        if alerts is None or alerts.num_rows == 0:
            return set()
        touched = set()
        for row in honeypot_touches(alerts).to_pylist():
            state = self._state(row["source_ip"], tick)
            state.sources.add(row["source_ip"])
            state.honeypot_touches += int(row["timestamp_count"])
            state.seen(row["timestamp_min"], row["timestamp_max"])
            state.detections.add("honeypot_touch")
            state.raise_to(HONEYPOT_SEVERITY)
            rules = ", ".join(sorted(str(r) for r in row["rule_name_distinct"] if r))[:200]
            state.add_reason(f"touched a honeypot ({rules})")
            touched.add(state.actor)
        return touched

    def _watched(self, new_rows: dict[str, pa.Table], tick: float) -> set[str]:
        if not len(self.watchlist) or not new_rows:
            return set()
        sources = pc.unique(
            pa.chunked_array([rows.column("source_ip") for rows in new_rows.values()], pa.string())
        ).to_pylist()
        hits = self.watchlist.match([s for s in sources if s], self.geo)
        if not hits:
            return set()
        watched = pa.array(sorted(hits), pa.string())
        touched = set()
        for name, rows in new_rows.items():
            mine = rows.filter(pc.is_in(rows.column("source_ip"), value_set=watched))
            if mine.num_rows == 0:
                continue
            groups = mine.group_by("source_ip").aggregate(
                [("timestamp", "count"), ("timestamp", "min"), ("timestamp", "max")]
            )
            for row in groups.to_pylist():
                source = row["source_ip"]
                state = self._state(source, tick)
                hit = hits[source]
                state.watch = hit
                state.sources.add(source)
                if source == hit.entry.source_ip:
                    # Its own earlier case. A neighbour's (same /24, /64 or ASN) is
                    # named in the alert's watchlist part, never as this actor's case.
                    state.case_id = state.case_id or hit.entry.case_id
                state.seen(row["timestamp_min"], row["timestamp_max"])
                key = f"watchlist_{name}_events"
                state.counts[key] = state.counts.get(key, 0) + int(row["timestamp_count"])
                state.raise_to(WATCHLIST_SEVERITY)
                state.add_reason(f"actor of earlier case {hit.entry.case_id} ({hit.matched})")
                touched.add(source)
            for label, beyond in self._beyond_recon(name, mine).items():
                for source in beyond:
                    state = self._state(source, tick)
                    state.beyond.add(label)
                    state.raise_to(BEYOND_RECON_SEVERITY)
                    state.add_reason(f"beyond reconnaissance: {label}")
        return touched

    def _beyond_recon(self, table: str, rows: pa.Table) -> dict[str, set[str]]:
        """Sources in ``rows`` (watched actors' new rows) that went past looking."""
        found: dict[str, set[str]] = {}
        if table == "alert":
            hits = self.detections.exploit_alerts(rows)
            label = "IDS exploit alert"
        elif table == "auth":
            outcome = pc.fill_null(pc.equal(rows.column("event_outcome"), "success"), False)
            hits = rows.filter(outcome)
            label = "successful login"
        elif table == "http":
            hits = self.detections.sensitive_successes(rows)
            label = "2xx on a secret path"
        elif table == "dns":
            hits = self.detections.zone_transfers_served(rows)
            label = "zone transfer served"
        else:
            return found
        if hits.num_rows:
            found[label] = set(pc.unique(hits.column("source_ip")).to_pylist())
        return found

    # -- detections ---------------------------------------------------------------------

    def _from_findings(self, findings: pa.Table, tick: float) -> set[str]:
        touched = set()
        per_actor: dict[str, list[dict[str, Any]]] = {}
        rows = findings.to_pylist()
        # Keyed as the cases are (a coordinated sweep's labels are one actor,
        # which keeps the key it was alerted under when a label sorting first joins).
        keys = actor_keys([finding_of(r) for r in rows], self.book.keys())
        for row, actor in zip(rows, keys, strict=True):
            per_actor.setdefault(actor, []).append(row)
        for actor, rows in per_actor.items():
            state = self._state(actor, tick)
            state.detections |= {r["detection"] for r in rows}
            state.sources |= {r["source_ip"] for r in rows}
            state.evidence_events = max(
                state.evidence_events, sum(int(r["event_count"]) for r in rows)
            )
            state.seen(min(r["first_seen"] for r in rows), max(r["last_seen"] for r in rows))
            touched.add(actor)
        return touched

    def _decide(
        self, touched: set[str], tick: float, findings: pa.Table | None, final: bool = False
    ) -> int:
        """Alert, update or keep quiet, per actor; at the last cycle every unsent change goes."""
        interval = self.settings.alert_interval_seconds
        candidates = []
        # Actors with changes not sent yet (interval not over) are looked at again
        # every cycle, even when no new line of theirs arrives.
        for actor in sorted(touched | self._unsent):
            state = self.book.get(actor)
            if state is None:  # evicted from the book meanwhile
                self._unsent.discard(actor)
                continue
            if state.sent_at is None:
                candidates.append(state)
                continue
            if not state.changed(self.settings.update_growth):
                self._unsent.discard(actor)
                continue
            self._unsent.add(actor)
            due = state.due(tick, interval, final)
            # A new kind of finding may raise the severity: triage decides, now.
            if due or state.raised or frozenset(state.detections) != state.cased_detections:
                candidates.append(state)
        if not candidates:
            return 0
        self._cases(candidates, findings)
        sent = 0
        for state in candidates:
            first = state.sent_at is None
            if first or state.raised or state.due(tick, interval, final):
                self._send(state, update=not first, tick=tick)
                self._unsent.discard(state.actor)
                sent += 1
        return sent

    def _cases(self, states: list[ActorState], findings: pa.Table | None) -> None:
        """Cases and triage for actors about to be alerted, when their findings changed."""
        if findings is None or findings.num_rows == 0:
            return
        wanted = [
            s
            for s in states
            if s.detections - {"honeypot_touch"}
            and (
                s.evidence_events != s.cased_events or frozenset(s.detections) != s.cased_detections
            )
        ]
        if not wanted:
            return
        actors = {s.actor for s in wanted}
        found = [finding_of(row) for row in findings.to_pylist()]  # few: one per actor and window
        known = set(self.book)
        mask = [actor in actors for actor in actor_keys(found, known)]
        subset = findings.filter(pa.array(mask, pa.bool_()))
        if subset.num_rows == 0:
            return
        present = [n for n in EVENT_TABLES if self.detections.sizes.get(n, 0)]
        tables = {name: self.detections.table(name) for name in present}
        try:
            cases = build_cases(
                tables,
                subset,
                self.config.triage.evidence_samples,
                keys=known,
                exposes=exposes(self.config),
                home=self.config.site.home(),
            )
            history = self._history([c.actor for c in cases])
            cases = triage(cases, self.config, tables=present, history=history)
        except Exception:  # a case that cannot be built must not stop alerting
            log.exception("building cases for %s failed", sorted(actors))
            return
        for case in cases:
            state = self.book.get(case.actor)
            if state is None:
                continue
            self._apply_case(state, case, history.get(case.actor))

    def _apply_case(self, state: ActorState, case: Case, earlier: History | None) -> None:
        activity = case.activity
        state.counts.update(
            events=activity.events,
            failed=activity.failed,
            targets=activity.target_count,
            ports=activity.port_count,
            findings=len(case.findings),
        )
        state.raise_to(case.severity)
        if earlier is not None:
            state.case_id = earlier.case_id
        elif state.case_id is None:
            state.case_id = case.id
        for reason in case.reasons:
            state.add_reason(reason)
        state.cased_events = state.evidence_events
        state.cased_detections = frozenset(state.detections)

    def _history(self, actors: list[str]) -> dict[str, History]:
        if self.store is None or not actors:
            return {}
        try:
            return self.store.history(actors)
        except Exception:  # a store that is down must not stop alerting
            log.exception("case store unavailable")
            return {}

    def _send(self, state: ActorState, update: bool, tick: float) -> None:
        alert = state.next_alert(update)
        for sink in self.sinks:
            try:
                sink.send(alert)
            except Exception:  # one broken sink must not silence the others
                log.exception("alert sink %s failed", type(sink).__name__)
        state.record_sent(tick)
        self.counts.alerts += 1
        if update:
            self.counts.updates += 1

    def _refresh_watchlist(self, force: bool = False) -> None:
        if self.store is None:
            return
        now = self.clock()
        if not force and now - self._watchlist_at < self.settings.watchlist_refresh_seconds:
            return
        self._watchlist_at = now
        try:
            self.watchlist = Watchlist.load(self.store, self.geo)
        except Exception:  # keep the last good watchlist
            log.exception("watchlist not refreshed")
