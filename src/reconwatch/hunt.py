"""The whole hunt, stage by stage: ingest -> lake -> detect -> cases -> triage -> respond -> report.

Each stage reads what the previous one wrote: detections read the lake, not
the parsers' output, so a hunt over an existing lake and a hunt over fresh
files run the same code.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

import pyarrow as pa

from reconwatch.cases import Case, build_cases
from reconwatch.config import Config
from reconwatch.detect import DETECTIONS, run_detections
from reconwatch.detect.slow import SLOW, carry_state, commit_slow_state
from reconwatch.engine import Engine
from reconwatch.enrich import Enrichment
from reconwatch.ingest.run import IngestOptions, Progress, ingest
from reconwatch.lake import Lake, RunStats
from reconwatch.report.casejson import case_to_dict, cases_document
from reconwatch.report.html import render_html
from reconwatch.report.markdown import render_report
from reconwatch.report.series import attach_series
from reconwatch.respond.blocklist import BlockPlan
from reconwatch.respond.containment import plan_blocks, write_rules
from reconwatch.respond.exposure import ExposureReport, exposure_audit, write_exposure_files
from reconwatch.respond.honeypot import HoneypotSuggestions, suggest_honeypots, write_honeypot_files
from reconwatch.store import CaseStore, Decision, History
from reconwatch.triage import triage

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


@contextmanager
def _lake_for(out_dir: Path | None, lake_dir: Path | str | None) -> Iterator[Lake]:
    """The lake a hunt writes to.

    An explicit ``--lake`` is appended to (history accumulates). Otherwise a
    hunt gets a fresh lake: ``OUT/lake`` (replaced if an earlier hunt left one,
    so re-running a hunt never double-counts events) or a temporary folder.
    """
    if lake_dir is not None:
        yield Lake(lake_dir)
        return
    if out_dir is not None:
        root = out_dir / "lake"
        if (root / "_runs").is_dir():
            shutil.rmtree(root)
        yield Lake(root)
        return
    with tempfile.TemporaryDirectory(prefix="reconwatch-lake-") as tmp:
        yield Lake(Path(tmp))


def hunt(
    paths: Iterable[str] | None,
    config: Config,
    *,
    out_dir: Path | None = None,
    lake_dir: Path | str | None = None,
    options: IngestOptions | None = None,
    progress: Progress | None = None,
    store_url: str | None = None,
) -> HuntResult:
    """Run every stage; with ``paths=None`` hunt over an existing lake only."""
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
    # Low-and-slow scans span batches: a hunt over a fresh lake carries the
    # slow-scan state in OUT/state (a hunt over --lake reads every batch anyway).
    state_file = out_dir / SLOW_STATE_FILE if out_dir is not None and lake_dir is None else None
    with _lake_for(out_dir, lake_dir) as lake:
        options = options or IngestOptions()
        run = ingest(paths, lake, config, options, progress) if paths is not None else None
        # Arrow's allocator keeps the freed parse buffers (about 180 MB) for
        # reuse; the detections run in DuckDB, so give them back first.
        pa.default_memory_pool().release_unused()
        engine = Engine(lake, config.engine)
        # Findings are few: cases and their evidence are gathered on embedded
        # DuckDB over the same lake whichever engine ran the detections.
        local = engine if engine.kind == "duckdb" else Engine(lake, config.engine, "duckdb")
        try:
            # With a state file, carry_state computes slow_scan (over state and
            # input): running it here as well would only be thrown away.
            names = None if state_file is None else [n for n in DETECTIONS if n != SLOW]
            findings = run_detections(engine.tables(), config.detect, names, site=config.site)
            slow_state = None
            if state_file is not None:
                # On DuckDB whatever the detection engine: the state streams to
                # one Parquet file there (the same cells on both, see slow.py).
                findings, slow_state = carry_state(
                    local.table("network"), findings, state_file, config.detect.slow_scan
                )
            tables = local.tables()
            cases = build_cases(tables, findings, config.triage.evidence_samples)
            attach_series(tables, cases)  # chart data for report.html and the web UI
            # The playbook's network audit and honeypot plan, while the lake is open.
            actors = sorted({s for c in cases for s in c.sources})
            exposure = exposure_audit(tables, actors, config.respond.inventory)
            honeypots = suggest_honeypots(tables["network"], actors, home=config.site.home())
        finally:
            engine.close()
            local.close()

    store_url = store_url or config.store.url
    if store_url is None and out_dir is not None:
        store_url = f"sqlite:///{(out_dir / STORE_FILE).resolve()}"
    store = CaseStore(store_url) if store_url else None
    try:
        history = _case_ids(store, cases) if store else {}
        enrichment = Enrichment.load(config.enrich)
        # An input read only in part (truncated, corrupt, unreadable) leaves the
        # verdicts blind to what it held: say so wherever the cases go.
        warnings = [f.error for f in (run.files if run else []) if f.error]
        warnings += [f"enrichment: {error}" for error in enrichment.errors]
        exercise_sources = [str(n) for e in enrichment.exercises for n in e.sources]
        try:
            cases = triage(
                cases, config, tables=list(tables), history=history, enrichment=enrichment
            )
        finally:
            enrichment.close()
        _keep_decisions(cases)
        plan = plan_blocks(cases, config, extra_protected=exercise_sources)
        if store is not None:
            run_id = run.run_id if run else "lake"
            store.record([case_to_dict(c) for c in cases], run_id, config.triage.repeat_gap_seconds)
    finally:
        if store is not None:
            store.close()
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


def _already_decided(case: Case, closed_cases: list[Decision]) -> bool:
    """Mark ``case`` as a closed case's activity when one's span covers it; say if so.

    Re-hunting data an analyst has already closed a case on (say, as a false
    positive) must not open a new case, escalate or block again; activity
    outside every closed span is new and gets (or joins) an open case.
    """
    covering = [c for c in closed_cases if c.covers(case.first_seen, case.last_seen)]
    if not covering:
        return False
    closed = covering[-1]
    case.id = closed.case_id
    case.analyst = {
        "case_id": closed.case_id,
        "status": "closed",
        "disposition": closed.disposition,
        "reason": closed.reason,
    }
    return True


def _case_ids(store: CaseStore, cases: list[Case]) -> dict[str, History]:
    """Give each case its id in the store; return the history triage may count.

    Activity a closed case spans is that case's (``_already_decided``), even
    when the actor has an open case for later activity, whose history then
    does not count towards it. Otherwise an actor's open case keeps its id
    across hunts, and a new case whose id a closed case holds is renamed now,
    so cases.json, the rule comments and the store all name it alike.
    """
    actors = [c.actor for c in cases]
    history = store.history(actors)
    decided = store.decided(actors)
    for case in cases:
        if _already_decided(case, decided.get(case.actor, [])):
            history.pop(case.actor, None)
        elif case.actor in history:
            case.id = history[case.actor].case_id
    fresh = [c for c in cases if c.actor not in history and c.analyst is None]
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
    document = result.document()
    cases_path = out_dir / CASES_FILE
    cases_path.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    html_path = out_dir / HTML_FILE
    exposure = result.exposure.to_dict() if result.exposure is not None else None
    html_path.write_text(render_html(document, exposure, result.plan), encoding="utf-8")
    report_path = out_dir / REPORT_FILE
    report_path.write_text(
        render_report(result.cases, result.run, len(result.plan.entries), len(result.plan.refused)),
        encoding="utf-8",
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
