"""The detections over the rolling window, compiled once and re-run every cycle.

``reconwatch.detect.run_detections`` builds each Ibis expression and compiles
it to SQL on every call: about two thirds of its time on a small window,
too much to spend every half second. Here each detection is built once
over views of the window (``network``, ``dns``...), compiled once, and its
SQL re-run on DuckDB after the views are re-pointed at the window's current
Arrow tables (zero copy). Results are conformed and ordered as
``run_detections`` returns them (``tests/test_watch_detect.py`` checks both
agree). A detection runs again only when one of its input tables received
rows (or lost rows to eviction) since it last ran.
"""

from __future__ import annotations

import datetime as dt
import tempfile
import time
from collections.abc import Iterable
from typing import Any, Final

import ibis
import ibis.expr.operations as ops
import ibis.expr.types as ir
import pyarrow as pa
import pyarrow.compute as pc

from reconwatch import schema
from reconwatch.config import Config
from reconwatch.detect import DETECTIONS
from reconwatch.detect.base import FINDINGS, RUN_FINDINGS, SORT_KEYS
from reconwatch.detect.dns import exposure_test, transfers_served
from reconwatch.detect.ids import HONEYPOT_CATEGORY, is_exploit
from reconwatch.detect.web import is_secret
from reconwatch.watch.window import EVENT_TABLES

#: Detections that need the whole window whatever their own window: a
#: baseline of many windows (traffic_spike), "nobody ever reached it"
#: (dark space), a day of slow probing (slow_scan), and "this address never
#: scanned alone" (ipv6_prefix_scan: cut mid-window, a lone scanner's probes
#: joined a neighbour's stray packet as a /64 "rotation").
WHOLE_WINDOW: Final = frozenset(
    {"traffic_spike", "dark_space_probe", "slow_scan", "ipv6_prefix_scan"}
)
#: Detections whose findings from windows eviction has cut into are dropped:
#: an address whose first probes were evicted is a lone scanner no longer
#: (ipv6_prefix_scan would join what is left of it with a neighbour's packet
#: into a /64 "rotation" a day old). Those windows were whole, and looked at,
#: when they were current.
WHOLE_WINDOWS_ONLY: Final = frozenset({"ipv6_prefix_scan"})
#: Look-back of detections without a window of their own (TRW's first
#: contacts): an hour of a source's first contacts decides it.
DEFAULT_HORIZON: Final = 3600
#: A detection that costs more than this per run (seconds) is re-run at most
#: once per ``THROTTLE`` times its cost, so no single detection takes more
#: than about a quarter of the time; cheaper ones run every cycle.
CHEAP: Final = 0.1
THROTTLE: Final = 4.0


def horizon(name: str, config: Config) -> int | None:
    """Seconds of the window a detection reads (None: all of it).

    Twice its own window: tumbling windows are aligned on two grids (see
    ``detect.dns.windowed_findings``), so the current window and the one
    before it hold every finding that can still change. Older findings were
    alerted on when they were current.
    """
    if name in WHOLE_WINDOW:
        return None
    settings = getattr(config.detect, DETECTIONS[name].config)
    window = getattr(settings, "window_seconds", None)
    return 2 * int(window) if window else DEFAULT_HORIZON


def _view(table: str, seconds: int | None) -> str:
    return table if seconds is None else f"{table}_last_{seconds}"


class WindowDetections:
    """An in-memory DuckDB (through Ibis) whose views are the window's tables.

    Each table has a view of the whole window (``network``) and one per
    look-back the detections need (``network_last_600``), all zero-copy Arrow.
    """

    def __init__(self, config: Config, names: Iterable[str] | None = None) -> None:
        self.config = config
        # Beyond memory_limit DuckDB spills; an in-memory database's default
        # spill folder is ./.tmp, which a service's working directory (often
        # /) refuses. A private folder, removed on close.
        self._spill = tempfile.TemporaryDirectory(prefix="reconwatch-watch-spill-")
        settings: dict[str, Any] = {
            "memory_limit": config.engine.memory_limit,
            "temp_directory": self._spill.name,
        }
        if config.engine.threads is not None:
            settings["threads"] = config.engine.threads
        self.ibis = ibis.duckdb.connect(**settings)
        self.con = self.ibis.con
        self.names = list(DETECTIONS) if names is None else list(names)
        self.horizons: dict[str, int | None] = {n: horizon(n, config) for n in self.names}
        #: Per table, the look-backs some detection reads.
        self.views: dict[str, set[int]] = {name: set() for name in EVENT_TABLES}
        for name in self.names:
            seconds = self.horizons[name]
            if seconds is not None:
                for table in DETECTIONS[name].inputs:
                    self.views[table].add(seconds)
        self.sizes: dict[str, int] = {}
        #: Per table, the bound of its evicted rows (RollingWindow.evicted_until).
        self.evicted_until: dict[str, dt.datetime] = {}
        self._dirty: set[str] = set(self.names)
        for name in EVENT_TABLES:
            self.point(name, schema.empty(schema.TABLES[name]))
        self._exprs: dict[str, ir.Table] = {}
        self._sql: dict[str, str] = {}
        self._findings: dict[str, pa.Table] = {}
        #: Seconds the last run of each detection took, and when it ran (monotonic).
        self.cost: dict[str, float] = {}
        self._ran: dict[str, float] = {}
        for name in self.names:
            detection = DETECTIONS[name]
            seconds = self.horizons[name]
            inputs = [self.ibis.table(_view(table, seconds)) for table in detection.inputs]
            settings = getattr(config.detect, detection.config)
            # Detections that read the site (our ranges and zones) take it by keyword.
            if getattr(detection, "site", False):
                expr = detection.function(*inputs, settings, site=config.site)
            else:
                expr = detection.function(*inputs, settings)
            if any(True for _ in expr.op().find(ops.InMemoryTable)):
                # Executing once registers the expression's in-memory tables
                # (lists from the config) with the connection; the expression
                # is kept so that they stay registered.
                expr.to_pyarrow()
            self._exprs[name] = expr
            self._sql[name] = str(self.ibis.compile(expr))
        self._sensitive = self._compile_sensitive()
        self._exploits = self._compile_exploits()
        self._transfers = self._compile_transfers()
        self._exposes = exposure_test(config.detect.zone_transfer, config.site.home())

    def point(
        self,
        name: str,
        rows: pa.Table,
        newest: dt.datetime | None = None,
        evicted_until: dt.datetime | None = None,
    ) -> None:
        """Make table ``name``'s views read ``rows`` (Arrow, zero copy).

        ``newest`` (the window's watermark) places the look-back views;
        ``evicted_until`` bounds the rows the window evicted (None: none yet).
        The detections reading this table must re-run.
        """
        self.con.register(name, rows)
        if evicted_until is not None:
            self.evicted_until[name] = evicted_until
        self.sizes[name] = rows.num_rows
        for seconds in self.views.get(name, ()):
            part = rows
            if newest is not None and rows.num_rows:
                since = pa.scalar(newest - dt.timedelta(seconds=seconds), schema.TIMESTAMP)
                part = rows.filter(pc.greater_equal(rows.column("timestamp"), since))
            self.con.register(_view(name, seconds), part)
        for detection in self.names:
            if name in DETECTIONS[detection].inputs:
                self._dirty.add(detection)

    def table(self, name: str) -> ir.Table:
        return self.ibis.table(name)

    @property
    def pending(self) -> bool:
        """Some detection has changed input it has not run on yet (throttled)."""
        return bool(self._dirty)

    def run(self, now: float | None = None) -> pa.Table:
        """Findings of every detection, re-running those whose tables changed.

        A costly detection (more than ``CHEAP`` seconds a run) waits
        ``THROTTLE`` times its cost between runs; its last findings stand
        meanwhile.
        """
        now = time.monotonic() if now is None else now
        for name in self.names:
            inputs = DETECTIONS[name].inputs
            if any(self.sizes.get(t, 0) == 0 for t in inputs):
                self._findings.pop(name, None)
                self._dirty.discard(name)
                continue
            if name not in self._dirty:
                continue
            cost = self.cost.get(name, 0.0)
            if cost > CHEAP and now - self._ran.get(name, -1e18) < THROTTLE * cost:
                continue
            began = time.monotonic()
            found = self.con.sql(self._sql[name]).to_arrow_table()
            self.cost[name] = time.monotonic() - began
            self._ran[name] = now
            self._dirty.discard(name)
            found = schema.conform(found, FINDINGS)
            found = found.append_column(
                "source_table", pa.repeat(pa.scalar(inputs[0]), found.num_rows)
            )
            self._findings[name] = schema.conform(found, RUN_FINDINGS)
        parts = [RUN_FINDINGS.empty_table()]
        parts += [self._whole_windows(name, found) for name, found in self._findings.items()]
        findings = pa.concat_tables(parts)
        return findings.sort_by([(key, "ascending") for key in SORT_KEYS])

    def _whole_windows(self, name: str, found: pa.Table) -> pa.Table:
        """``found`` without the findings of windows eviction cut into, for
        ``WHOLE_WINDOWS_ONLY`` detections: a finding's window began less than
        ``window_seconds`` before its first event."""
        cuts = [self.evicted_until[t] for t in DETECTIONS[name].inputs if t in self.evicted_until]
        if name not in WHOLE_WINDOWS_ONLY or not cuts or not found.num_rows:
            return found
        window = getattr(self.config.detect, DETECTIONS[name].config).window_seconds
        since = pa.scalar(max(cuts) + dt.timedelta(seconds=window), schema.TIMESTAMP)
        return found.filter(pc.greater_equal(found.column("first_seen"), since))

    # -- beyond reconnaissance, on one batch's rows ----------------------------------------

    def _compile_sensitive(self) -> str:
        view = "watch_http_batch"
        self.point(view, schema.empty(schema.TABLES["http"]))
        http = self.ibis.table(view)
        status = http.http_response_status_code
        hits = http.filter(
            (status >= 200) & (status <= 299) & http.url_path.notnull() & is_secret(http.url_path)
        ).select("source_ip", "url_path", "http_response_status_code")
        return str(self.ibis.compile(hits))

    def _compile_exploits(self) -> str:
        view = "watch_alert_batch"
        self.point(view, schema.empty(schema.TABLES["alert"]))
        alert = self.ibis.table(view)
        honeypot = alert.rule_category.lower().fill_null("") == HONEYPOT_CATEGORY
        hits = alert.filter(is_exploit(alert) & ~honeypot).select("source_ip", "rule_name")
        return str(self.ibis.compile(hits))

    def _compile_transfers(self) -> str:
        view = "watch_dns_batch"
        self.point(view, schema.empty(schema.TABLES["dns"]))
        given = transfers_served(self.ibis.table(view))
        server = given.destination_ip.fill_null(given.observer_name).name("server")
        return str(self.ibis.compile(given.select("source_ip", "dns_question_name", server)))

    def exploit_alerts(self, alerts: pa.Table) -> pa.Table:
        """Rows of ``alerts`` that are exploitation signatures (data/ids_signatures.yaml,
        as triage's "signs of compromise" reads them), honeypot touches aside."""
        return self._batch_query("watch_alert_batch", "alert", self._exploits, alerts)

    def sensitive_successes(self, http: pa.Table) -> pa.Table:
        """Rows of ``http`` answered 2xx on a secret, source or backup path (the
        ``secrets`` of data/sensitive_paths.yaml): data served, as triage's "signs of
        compromise" reads it. An admin interface served (``/wp-login.php``) is not
        beyond reconnaissance by itself, so it is not among them."""
        return self._batch_query("watch_http_batch", "http", self._sensitive, http)

    def zone_transfers_served(self, dns: pa.Table) -> pa.Table:
        """Rows of ``dns`` that are zone transfers a server of ours gave to a
        client that should not have them (``detect.dns.transfers_served`` and
        ``transfer_exposes``: not an authorised secondary, not one of our hosts
        pulling from outside), as triage's "signs of compromise" reads them.
        The secondaries (up to 65,536 addresses) are looked up here, in a set,
        on the few served rows: in the query they were a 1.4 MB ``IN`` list."""
        given = self._batch_query("watch_dns_batch", "dns", self._transfers, dns)
        if given.num_rows == 0:
            return given
        pairs = zip(given["source_ip"].to_pylist(), given["server"].to_pylist(), strict=True)
        keep = [self._exposes(source, server) for source, server in pairs]
        return given.filter(pa.array(keep, pa.bool_()))

    def _batch_query(self, view: str, table: str, sql: str, rows: pa.Table) -> pa.Table:
        if rows.num_rows == 0:
            return pa.table({"source_ip": pa.array([], pa.string())})
        self.point(view, rows)
        try:
            return self.con.sql(sql).to_arrow_table()
        finally:
            self.point(view, schema.empty(schema.TABLES[table]))

    def close(self) -> None:
        self.ibis.disconnect()
        self._spill.cleanup()


def honeypot_touches(alerts: pa.Table) -> pa.Table:
    """Per source: touches of a honeypot (OpenCanary, Cowrie: category ``honeypot``) in
    ``alerts``, with first/last stamp and the honeypots' rules touched."""
    category = pc.utf8_lower(pc.fill_null(alerts.column("rule_category"), ""))
    touched = alerts.filter(pc.equal(category, HONEYPOT_CATEGORY))
    return touched.group_by("source_ip").aggregate(
        [
            ("timestamp", "count"),
            ("timestamp", "min"),
            ("timestamp", "max"),
            ("destination_ip", "count_distinct"),
            ("rule_name", "distinct"),
        ]
    )
