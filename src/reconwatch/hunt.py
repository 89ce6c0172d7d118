"""The whole hunt, stage by stage: ingest -> lake -> detect -> cases -> triage -> respond -> report.

Each stage reads what the previous one wrote: detections read the lake, not
the parsers' output, so a hunt over an existing lake and a hunt over fresh
files run the same code.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import json
import shutil
import tempfile
from collections import defaultdict
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Final

import pyarrow as pa
import pyarrow.compute as pc

from reconwatch.campaign_labels import CAMPAIGN_PREFIX
from reconwatch.cases import (
    Case,
    Finding,
    ZoneTransfer,
    actor_of,
    build_cases,
    finding_of,
    joined_actors,
)
from reconwatch.config import Config
from reconwatch.detect import DETECTIONS, busy_inputs, narrowed_events, run_detections
from reconwatch.detect.slow import (
    SLOW,
    commit_slow_state,
    findings_over_state,
    slow_least_events,
    write_state,
)
from reconwatch.engine import Engine, of_sources
from reconwatch.enrich import Enrichment
from reconwatch.files import LockBusy, exclusive, write_text_atomic
from reconwatch.ingest.run import IngestOptions, InputPaths, Progress, ingest
from reconwatch.lake import (
    INGEST_LOCK,
    JOURNALS,
    MAINTENANCE,
    PARTITION,
    RUNS,
    Lake,
    LakeError,
    RunStats,
    require_lake,
)
from reconwatch.netaddr import IPNetwork
from reconwatch.report.casejson import case_to_dict, cases_document
from reconwatch.report.html import render_html
from reconwatch.report.markdown import render_report
from reconwatch.report.series import attach_series
from reconwatch.respond.blocklist import BlockPlan
from reconwatch.respond.containment import plan_blocks, write_rules
from reconwatch.respond.exposure import ExposureReport, exposure_audit, write_exposure_files
from reconwatch.respond.honeypot import HoneypotSuggestions, suggest_honeypots, write_honeypot_files
from reconwatch.store import CaseStore, Decision, History
from reconwatch.triage import exposes, triage

if TYPE_CHECKING:
    import ibis.expr.types as ir

CASES_FILE = "cases.json"
STORE_FILE = "reconwatch.db"
REPORT_FILE = "report.md"
HTML_FILE = "report.html"
SLOW_STATE_FILE = Path("state") / "slow_scan.parquet"


@dataclass
class HuntResult:
    run: RunStats | None
    cases: list[Case]
    plan: BlockPlan
    #: Problems that did not stop the hunt but weaken its verdicts (an unreadable
    #: feed, exercise calendar or geo database): shown and kept in cases.json.
    warnings: list[str] = field(default_factory=list)
    exposure: ExposureReport | None = None
    honeypots: HoneypotSuggestions | None = None
    outputs: dict[str, Path] = field(default_factory=dict)

    def document(self) -> dict[str, object]:
        return cases_document(self.cases, self.run, self.warnings)


#: Held (``flock``) by the hunt writing into OUT: one hunt per OUT at a time.
OUT_LOCK = ".reconwatch-hunt.lock"
#: What a lake holds: OUT/lake holding anything else is not replaced.
_LAKE_ENTRIES: Final = frozenset({*PARTITION, RUNS, MAINTENANCE, JOURNALS, INGEST_LOCK, "_tmp"})


@contextmanager
def _out_lock(out_dir: Path) -> Iterator[None]:
    """Hold OUT for this hunt, or fail at once if another hunt holds it.

    Two hunts into one OUT would share its fresh lake (each counting the
    other's events) and overwrite each other's cases and rules: the second
    is refused rather than made to wait.
    """
    with contextlib.ExitStack() as held:
        try:
            held.enter_context(exclusive(out_dir / OUT_LOCK, wait=None))
        except OSError as exc:
            raise LakeError(f"{out_dir}: cannot write the output folder: {exc}") from exc
        except LockBusy:
            raise LakeError(
                f"{out_dir}: another hunt is writing into this folder; "
                "wait for it to finish or give another --out"
            ) from None
        yield


def _fresh(root: Path) -> None:
    """Remove what an earlier hunt left in ``root`` (OUT/lake), finished or cut short."""
    if not root.exists() and not root.is_symlink():
        return
    if not root.is_dir() or root.is_symlink():
        raise LakeError(f"{root}: not a folder; a hunt into OUT writes its lake there")
    strangers = sorted(p.name for p in root.iterdir() if p.name not in _LAKE_ENTRIES)
    if strangers:
        raise LakeError(
            f"{root}: holds {strangers[0]!r}, which is no part of a lake; "
            "not replaced (move it away, or give another --out)"
        )
    try:
        shutil.rmtree(root)
    except OSError as exc:
        raise LakeError(f"{root}: cannot replace the lake of an earlier hunt: {exc}") from exc


@contextmanager
def _lake_for(out_dir: Path | None, lake_dir: Path | str | None) -> Iterator[Lake]:
    """The lake a hunt writes to.

    An explicit ``--lake`` is appended to (history accumulates). Otherwise a
    hunt gets a fresh lake: ``OUT/lake`` (replaced if an earlier hunt left one,
    even one cut short, so re-running a hunt never double-counts events; the
    caller holds OUT, see ``_out_lock``) or a temporary folder.
    """
    if lake_dir is not None:
        yield Lake(lake_dir)
        return
    if out_dir is not None:
        root = out_dir / "lake"
        _fresh(root)
        yield Lake(root)
        return
    with tempfile.TemporaryDirectory(prefix="reconwatch-lake-") as tmp:
        yield Lake(Path(tmp))


class OutputError(Exception):
    """The output folder cannot be made; the message is one line naming it."""


def make_folder(folder: Path) -> None:
    """Create ``folder`` (and its parents) or raise :class:`OutputError`."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"{folder}: cannot create the folder: {exc.strerror or exc}") from None


def hunt(
    paths: InputPaths | None,
    config: Config,
    *,
    out_dir: Path | str | None = None,
    lake_dir: Path | str | None = None,
    options: IngestOptions | None = None,
    progress: Progress | None = None,
    store_url: str | None = None,
) -> HuntResult:
    """Run every stage; with ``paths=None`` hunt over an existing lake only.

    ``paths``: files, folders or ``-`` (standard input), as text, bytes or
    ``Path``, one alone or several.

    OUT is one hunt's at a time: a second hunt into an OUT that another is
    writing into raises ``LakeError`` at once. A lake hunted without inputs
    must exist (``require_lake``); with inputs, ``lake_dir`` is made if new.
    """
    if paths is None and lake_dir is not None:
        require_lake(Lake(lake_dir))  # a typo is not an empty lake
    if out_dir is None:
        return _hunt_into(paths, config, None, lake_dir, options, progress, store_url)
    out_dir = Path(out_dir)
    make_folder(out_dir)
    with _out_lock(out_dir):
        return _hunt_into(paths, config, out_dir, lake_dir, options, progress, store_url)


def _hunt_into(
    paths: InputPaths | None,
    config: Config,
    out_dir: Path | None,
    lake_dir: Path | str | None,
    options: IngestOptions | None,
    progress: Progress | None,
    store_url: str | None,
) -> HuntResult:
    """``hunt`` once OUT (if any) is there and held."""
    # Low-and-slow scans span batches: a hunt over a fresh lake carries the
    # slow-scan state in OUT/state (a hunt over --lake reads every batch anyway).
    state_file = out_dir / SLOW_STATE_FILE if out_dir is not None and lake_dir is None else None
    store_url = store_url or config.store.url
    if store_url is None and out_dir is not None:
        store_url = f"sqlite:///{(out_dir / STORE_FILE).resolve()}"
    # Opened first: a store that cannot be opened fails the hunt before any
    # work, and the analysts' closed cases shape the cases built below.
    store = CaseStore(store_url) if store_url else None
    try:
        # Read before the lake: the exercise calendar says whose destinations
        # the cases gather (an exercise's scope is judged on them).
        # Indicators are judged valid at the hunt's reference time (a replay's
        # fixed ``now`` too), as the syslog years are.
        enrichment = Enrichment.load(config.enrich, now=options.now if options else None)
        try:
            return _hunt(
                paths, config, out_dir, lake_dir, options, progress, store, state_file, enrichment
            )
        finally:
            enrichment.close()
    finally:
        if store is not None:
            store.close()


def _hunt(
    paths: InputPaths | None,
    config: Config,
    out_dir: Path | None,
    lake_dir: Path | str | None,
    options: IngestOptions | None,
    progress: Progress | None,
    store: CaseStore | None,
    state_file: Path | None,
    enrichment: Enrichment,
) -> HuntResult:
    with _lake_for(out_dir, lake_dir) as lake:
        options = options or IngestOptions()
        if lake_dir is not None:  # appended to: a later run reads an unfinished last line whole
            options = replace(options, hold_unfinished_line=True)
        run = ingest(paths, lake, config, options, progress) if paths is not None else None
        # Arrow's allocator keeps the freed parse buffers (about 180 MB) for
        # reuse; the detections run in DuckDB, so give them back first.
        pa.default_memory_pool().release_unused()
        engine = Engine(lake, config.engine)
        # Findings are few: cases and their evidence are gathered on embedded
        # DuckDB over the same lake whichever engine ran the detections.
        local = engine if engine.kind == "duckdb" else Engine(lake, config.engine, "duckdb")
        try:
            # With a state file, findings_over_state computes slow_scan (over state
            # and input): running it here as well would only be thrown away.
            names = None if state_file is None else [n for n in DETECTIONS if n != SLOW]
            detected = engine.tables()
            slow_state = None
            slow_cfg = config.detect.slow_scan
            with engine.busy_sources() as narrow:
                busy = busy_inputs(detected, config.detect, names, narrow)
                findings = run_detections(detected, config.detect, names, config.site, busy=busy)
                if state_file is not None:
                    # On DuckDB whatever the detection engine (the same cells on both,
                    # see slow.py). The busy sources' events (DuckDB only) spare it a
                    # count per source.
                    narrowed = narrowed_events(busy, "network", slow_least_events(slow_cfg))
                    findings = findings_over_state(
                        local.table("network"),
                        findings,
                        state_file,
                        slow_cfg,
                        busy=narrowed if local is engine else None,
                    )
            if state_file is not None:
                # Streamed from DuckDB to one Parquet file, once the busy tables
                # are dropped: a regrouping of the old rows needs their memory.
                slow_state = write_state(
                    local.table("network"),
                    state_file,
                    slow_cfg,
                    now=options.now or dt.datetime.now(dt.UTC),
                )
            tables = local.tables()
            with contextlib.ExitStack() as releases:
                # The stages below read the findings' sources' events (the cases
                # also the events towards them): cut from each table once.
                sources = findings.column("source_ip").to_pylist()
                cut = of_sources(tables, sources, releases) if sources else tables
                # An approved exercise's scope is judged on every host its testers touched.
                testers = enrichment.testers(sources)
                transfer_exposes = exposes(config)  # which zone transfers gave ours away
                cases = _cases(
                    tables,
                    findings,
                    config.triage.evidence_samples,
                    store,
                    cut,
                    testers,
                    transfer_exposes,
                    config.site.home(),
                )
                attach_series(cut, cases)  # chart data for report.html and the web UI
                # The playbook's network audit and honeypot plan, while the lake is open.
                actors = sorted({s for c in cases for s in c.sources})
                exposure = exposure_audit(
                    cut,
                    actors,
                    config.respond.inventory,
                    exposes=transfer_exposes,
                )
                honeypots = suggest_honeypots(
                    tables["network"],
                    actors,
                    home=config.site.home(),
                    scanner_events=cut["network"],
                )
            copies = local.copy_notes()
        finally:
            engine.close()
            local.close()

    history = _case_ids(store, cases) if store else {}
    # An input read only in part (truncated, corrupt, unreadable) leaves the
    # verdicts blind to what it held: say so wherever the cases go.
    warnings = [f.error for f in (run.files if run else []) if f.error]
    warnings += [f"enrichment: {error}" for error in enrichment.errors]
    warnings += copies  # events two inputs both logged, counted once
    exercise_sources = [str(n) for e in enrichment.exercises for n in e.sources]
    cases = triage(
        cases,
        config,
        tables=list(tables),
        history=history,
        enrichment=enrichment,
        transfer_exposes=transfer_exposes,
    )
    _keep_decisions(cases)
    plan = plan_blocks(cases, config, extra_protected=exercise_sources)
    if store is not None:
        run_id = run.run_id if run else "lake"
        store.record([case_to_dict(c) for c in cases], run_id, config.triage.repeat_gap_seconds)
    if state_file is not None and slow_state is not None:
        commit_slow_state(slow_state, state_file)  # only once the whole hunt succeeded
    exposure.cases = {c.id: sorted(c.sources) for c in cases}
    result = HuntResult(
        run=run,
        cases=cases,
        plan=plan,
        warnings=warnings,
        exposure=exposure,
        honeypots=honeypots,
    )
    if out_dir is not None:
        result.outputs = _write_outputs(result, out_dir, config)
    return result


#: An analyst's closing disposition as a case's (cases.json's ``disposition`` values).
_ANALYST_DISPOSITIONS: Final = {
    "false_positive": "benign",
    "benign": "benign",
    "benign_scanner": "benign_scanner",
    "approved_exercise": "approved_exercise",
    "malicious": "malicious",
}


def _cases(
    tables: Mapping[str, ir.Table],
    findings: pa.Table,
    evidence_samples: int,
    store: CaseStore | None,
    by_source: Mapping[str, ir.Table] | None = None,
    testers: Collection[str] = (),
    transfer_exposes: Callable[[ZoneTransfer], bool] | None = None,
    home: Sequence[IPNetwork] = (),
) -> list[Case]:
    """The hunt's cases; activity an analyst's closed case covers stays that case's.

    Re-hunting logs an analyst has closed a case on (say, as a false positive)
    must not open a new case, escalate or block again, and must not count as
    an earlier episode of the actor's new activity either. So each finding
    that lies within one of its actor's closed spans goes to a case marked
    with that decision (``_mark_decided``), and only the other findings build
    the open or new cases that triage judges.
    """
    built = functools.partial(
        build_cases,
        by_source=by_source,
        testers=testers,
        exposes=transfer_exposes,
        home=home,
    )
    if store is None or findings.num_rows == 0:
        return built(tables, findings, evidence_samples)
    rows = [finding_of(row) for row in findings.to_pylist()]  # findings are few
    # A sweep with an open case keeps that case's key when a label sorting
    # first joins it (``joined_actors``): the case goes on, no new one opens.
    campaigns = sorted({a for f in rows if (a := actor_of(f)).startswith(CAMPAIGN_PREFIX)})
    keys = set(store.history(campaigns))
    joined = joined_actors(rows, keys)
    group: dict[str, list[str]] = defaultdict(list)
    for own, actor in sorted(joined.items()):
        group[actor].append(own)

    def actors(finding: Finding) -> list[str]:
        """Every key its actor's decisions may be stored under: each label of a
        joined campaign (the key moves when a label that sorts first joins;
        a case closed before campaigns were joined is keyed by its own label)."""
        return group[joined[actor_of(finding)]]

    decided = store.decided(sorted({a for f in rows for a in actors(f)}))
    if not decided:
        return built(tables, findings, evidence_samples, keys=keys)

    def decisions(finding: Finding) -> list[Decision]:
        return [d for a in actors(finding) for d in decided.get(a, [])]

    # Per actor, the newest closed case covering any of its findings.
    covering: dict[str, Decision] = {}
    covered = []
    for finding in rows:
        actor = joined[actor_of(finding)]
        within = [d for d in decisions(finding) if d.covers(finding.first_seen, finding.last_seen)]
        covered.append(bool(within))
        if within:
            newest = max(within, key=lambda d: d.first_seen)
            known = covering.get(actor)
            covering[actor] = (
                newest if known is None or known.first_seen <= newest.first_seen else known
            )
    mask = pa.array(covered, pa.bool_())
    # The new cases' activity and evidence leave the closed spans out too.
    excluded = sorted(
        {
            (finding.source_ip, decision.first_seen, decision.last_seen)
            for finding in rows
            for decision in decisions(finding)
        }
    )
    cases = built(tables, findings.filter(pc.invert(mask)), evidence_samples, excluded, keys=keys)
    closed = built(tables, findings.filter(mask), evidence_samples)
    for case in closed:
        # The whole hunt's actor: the closed findings alone may join differently.
        _mark_decided(case, covering[joined[actor_of(case.findings[0])]])
    return cases + closed


def _mark_decided(case: Case, closed: Decision) -> None:
    """``case`` is activity the analyst's closed case ``closed`` covers: its id and verdict."""
    case.id = closed.case_id
    case.analyst = {
        "case_id": closed.case_id,
        "status": "closed",
        "disposition": closed.disposition,
        "reason": closed.reason,
    }


def _case_ids(store: CaseStore, cases: list[Case]) -> dict[str, History]:
    """Give each case its id in the store; return the history triage may count.

    Cases of decided activity already carry their closed case's id (``_cases``).
    An actor's open case keeps its id across hunts, and a new case whose id a
    closed case holds is renamed now, so cases.json, the rule comments and
    the store all name it alike.
    """
    undecided = [c for c in cases if c.analyst is None]
    history = store.history([c.actor for c in undecided])
    for case in undecided:
        if case.actor in history:
            case.id = history[case.actor].case_id
    fresh = [c for c in undecided if c.actor not in history]
    renamed = store.new_ids([c.id for c in fresh])
    for case in fresh:
        case.id = renamed.get(case.id, case.id)
    return history


def _keep_decisions(cases: list[Case]) -> None:
    """After triage: the analyst's verdict stands over the hunt's for decided activity."""
    for case in cases:
        if case.analyst is None:
            continue
        case.escalate = False
        case.reasons = []
        case.tier2 = {}  # nothing to hand over: the case is closed
        case.disposition = _ANALYST_DISPOSITIONS.get(case.analyst["disposition"] or "", "benign")


def _write_outputs(result: HuntResult, out_dir: Path, config: Config) -> dict[str, Path]:
    """Write every output file into ``out_dir``; a file that cannot be written
    (the disk full, a folder where cases.json should be) is an :class:`OutputError`
    naming it, not a traceback after the whole hunt."""
    try:
        return _write_output_files(result, out_dir, config)
    except OSError as exc:
        where = exc.filename or out_dir  # write_atomic names the output it was writing
        raise OutputError(f"{where}: cannot write the output: {exc.strerror or exc}") from None


def _write_output_files(result: HuntResult, out_dir: Path, config: Config) -> dict[str, Path]:
    document = result.document()
    cases_path = out_dir / CASES_FILE
    write_text_atomic(cases_path, json.dumps(document, indent=2) + "\n")
    html_path = out_dir / HTML_FILE
    exposure = result.exposure.to_dict() if result.exposure is not None else None
    write_text_atomic(html_path, render_html(document, exposure, result.plan))
    report_path = out_dir / REPORT_FILE
    write_text_atomic(
        report_path,
        render_report(
            result.cases,
            result.run,
            len(result.plan.entries),
            len(result.plan.refused),
            result.warnings,
        ),
    )
    rules = write_rules(result.plan, out_dir, config)
    outputs = {
        "cases": cases_path,
        "report": report_path,
        "html": html_path,
        "nftables": rules.nftables,
        "ipset": rules.ipset,
        **rules.vendors,
    }
    if result.exposure is not None:
        outputs.update(write_exposure_files(result.exposure, out_dir))
    if result.honeypots is not None:
        outputs.update(
            write_honeypot_files(result.honeypots, out_dir, config.respond.honeypot_node_id)
        )
    return outputs
