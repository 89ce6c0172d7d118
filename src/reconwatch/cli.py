"""The ``reconwatch`` command. Subcommands stay thin: each calls one pipeline function.

Errors the user can fix (a missing file, a bad config key, an unknown format)
print one line naming the file and exit 2; they never show a traceback.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn

from reconwatch import __version__
from reconwatch.config import Config, ConfigError, load_config
from reconwatch.engine import EngineError
from reconwatch.generate import ALL_FAMILIES, min_sample_size
from reconwatch.ingest.mapping import MappingError
from reconwatch.ingest.run import AUTO, IngestOptions, UnknownFormatError, format_names
from reconwatch.ingest.sources import InputError
from reconwatch.lake import LakeError
from reconwatch.report.text import clean

_USER_ERRORS = (ConfigError, InputError, UnknownFormatError, EngineError, MappingError, LakeError)


def _fail(message: str) -> None:
    # One line, cleaned: the message may quote a file name or text from a log.
    click.echo(f"reconwatch: error: {clean(message, 1000)}", err=True)
    sys.exit(2)


def _console(stderr: bool = False) -> Console:
    """Rich console; 120 columns when output is not a terminal (files, CI logs, pipes)."""
    console = Console(stderr=stderr, highlight=False)
    if not console.is_terminal:
        console = Console(stderr=stderr, highlight=False, width=120)
    return console


def _config(path: Path | None) -> Config:
    try:
        return load_config(path)
    except ConfigError as exc:
        _fail(str(exc))
        raise  # unreachable; keeps type checkers calm


def _parse_now(value: str | None) -> dt.datetime | None:
    if value is None:
        return None
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        _fail(f"--now: not an ISO 8601 time: {value!r}")
        raise
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


@contextmanager
def _progress(console: Console) -> Iterator[Callable[[str, int], None] | None]:
    """A live line counter on long runs, only when a person is watching the terminal."""
    if not console.is_terminal:
        yield None
        return
    with Progress(
        SpinnerColumn(), TextColumn("{task.description}"), console=console, transient=True
    ) as bar:
        task = bar.add_task("reading", total=None)

        def update(name: str, lines: int) -> None:
            bar.update(task, description=f"{lines:,} lines from {name[-60:]}")

        yield update


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="reconwatch")
def main() -> None:
    """Hunt IP-address reconnaissance (ATT&CK T1590.005, T1595) in firewall and sensor logs."""


_config_option = click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path, dir_okay=False),
    help="YAML config file (defaults are documented in docs/configuration.md).",
)
_format_option = click.option(
    "--format",
    "fmt",
    default=AUTO,
    show_default=True,
    type=click.Choice(format_names()),
    help="Input format; auto sniffs each file.",
)
_now_option = click.option(
    "--now",
    help="Reference time (ISO 8601) for year-less syslog stamps; default: the clock.",
)
_jobs_option = click.option(
    "--jobs",
    type=click.IntRange(1, 256),
    help="Worker processes reading input files side by side (default: ingest.jobs, 1).",
)


@main.command()
@click.argument("paths", nargs=-1)
@_config_option
@_format_option
@click.option(
    "--out",
    "out_dir",
    type=click.Path(path_type=Path, file_okay=False),
    help="Write cases.json, report.md, block.nft and block-ipset.sh here.",
)
@click.option(
    "--lake",
    "lake_dir",
    help="Append to this Parquet lake (folder, s3://bucket/prefix, file://...) and hunt "
    "over all of it (default: a fresh lake).",
)
@click.option(
    "--store",
    "store_url",
    help="Case store URL (sqlite:///file.db, postgresql+psycopg://...); "
    "default: OUT/reconwatch.db with --out.",
)
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="Print the cases JSON on stdout (the summary goes to stderr).",
)
@click.option(
    "--engine",
    type=click.Choice(["duckdb", "spark"]),
    help="Detection engine (default: engine.kind in the config, duckdb).",
)
@click.option("--spark-master", help="Spark master URL, e.g. local[2] or spark://host:7077.")
@_now_option
@_jobs_option
def hunt(
    paths: tuple[str, ...],
    config_path: Path | None,
    fmt: str,
    out_dir: Path | None,
    lake_dir: str | None,
    store_url: str | None,
    as_json: bool,
    engine: str | None,
    spark_master: str | None,
    now: str | None,
    jobs: int | None,
) -> None:
    """Ingest PATHS (files, directories, .gz, or - for stdin) and hunt for reconnaissance.

    With --lake and no PATHS, hunt over what the lake already holds (e.g. after
    `ingest --engine spark` on a cluster).
    """
    from reconwatch.hunt import hunt as run_hunt
    from reconwatch.report.console import print_cases, print_ingest

    if not paths and lake_dir is None:
        _fail("give PATHS to ingest, or --lake to hunt over an existing lake")
        return
    config = _config(config_path)
    overrides = {k: v for k, v in (("kind", engine), ("spark_master", spark_master)) if v}
    if overrides:
        config = config.model_copy(update={"engine": config.engine.model_copy(update=overrides)})
    console = _console(stderr=as_json)
    options = IngestOptions(format=fmt, now=_parse_now(now), jobs=jobs)
    try:
        with _progress(console) as progress:
            result = run_hunt(
                paths or None,
                config,
                out_dir=out_dir,
                lake_dir=lake_dir,
                options=options,
                progress=progress,
                store_url=store_url,
            )
    except _USER_ERRORS as exc:
        _fail(str(exc))
        return
    if result.run is not None:
        print_ingest(console, result.run)
        for f in result.run.files:
            if f.error:
                console.print(f"reconwatch: warning: {clean(f.error, 500)}", markup=False)
    for warning in result.warnings:
        console.print(f"reconwatch: warning: {clean(warning, 500)}", markup=False)
    print_cases(console, result.cases)
    for name, path in result.outputs.items():
        console.print(f"{name}: {path}", markup=False)
    if as_json:
        click.echo(json.dumps(result.document(), indent=2))


@main.command()
@click.argument("paths", nargs=-1, required=True)
@click.option(
    "--lake",
    "lake_dir",
    required=True,
    help="Parquet lake to append to (folder, s3://bucket/prefix, file://...).",
)
@_config_option
@_format_option
@_now_option
@_jobs_option
@click.option(
    "--engine",
    type=click.Choice(["duckdb", "spark"]),
    default="duckdb",
    show_default=True,
    help="Where files are parsed: here (--jobs processes) or as Spark tasks, one per file.",
)
@click.option("--spark-master", help="Spark master URL (default: engine.spark_master).")
def ingest(
    paths: tuple[str, ...], lake_dir: str, config_path: Path | None, fmt: str, now: str | None,
    jobs: int | None, engine: str, spark_master: str | None,
) -> None:  # fmt: skip
    """Parse PATHS into the Parquet lake without hunting (for later `hunt --lake`)."""
    from reconwatch.ingest.run import ingest as run_ingest
    from reconwatch.lake import Lake
    from reconwatch.report.console import print_ingest

    config = _config(config_path)
    console = _console()
    try:
        with _progress(console) as progress:
            run = run_ingest(
                paths,
                Lake(lake_dir),
                config,
                IngestOptions(
                    format=fmt,
                    now=_parse_now(now),
                    jobs=jobs,
                    engine=engine,
                    spark_master=spark_master,
                ),
                progress,
            )
    except _USER_ERRORS as exc:
        _fail(str(exc))
        return
    print_ingest(console, run)


@main.command()
@click.option(
    "--size",
    default=20000,
    show_default=True,
    type=click.IntRange(min=min_sample_size(ALL_FAMILIES)),
    help="Number of log lines to generate over all the sample's files.",
)
@click.option("--seed", default=7, show_default=True, type=int, help="Random seed.")
@click.option(
    "--out",
    "out_dir",
    default=Path("out/demo"),
    show_default=True,
    type=click.Path(path_type=Path, file_okay=False),
)
def demo(size: int, seed: int, out_dir: Path) -> None:
    """Generate a realistic seeded sample and hunt it.

    Firewall, Zeek, DNS server, web server, Suricata and sshd logs of one site,
    with planted reconnaissance actors whose ground truth the summary checks.
    """
    from reconwatch.generate import generate_sample
    from reconwatch.hunt import hunt as run_hunt
    from reconwatch.report.console import print_cases, print_ingest

    console = _console()
    sample_dir = out_dir / "sample"
    truth = generate_sample(sample_dir, size=size, seed=seed, families=ALL_FAMILIES)
    console.print(f"Generated sample logs in {sample_dir} (seed {seed}).", markup=False)
    config = _config(sample_dir / "reconwatch.yaml")
    inputs = [str(sample_dir / d) for d in SAMPLE_DIRS]
    result = run_hunt(inputs, config, out_dir=out_dir / "hunt")
    if result.run is not None:
        print_ingest(console, result.run)
    print_cases(console, result.cases)
    found = {s for c in result.cases for s in c.sources}
    expected = _expected_sources(truth)
    console.print(
        f"Ground truth: {len(expected & found)} of {len(expected)} planted scanners found; "
        f"{len(found - expected)} other source(s) flagged.",
        markup=False,
    )
    for name, path in result.outputs.items():
        console.print(f"{name}: {path}", markup=False)


#: The log folders of a generated sample (its config and truth.json sit beside them).
SAMPLE_DIRS = ("firewall", "zeek", "dns", "web", "ids", "auth")


def _expected_sources(truth: Any) -> set[str]:
    return {a.address for a in truth.actors if a.expected_detections}


@main.group()
def cases() -> None:
    """Work the case store: list, show, and record analyst decisions."""


_store_option = click.option(
    "--store",
    "store_url",
    required=True,
    help="Case store URL, e.g. sqlite:///out/today/reconwatch.db",
)


def _open_store(url: str) -> Any:
    from reconwatch.store import CaseStore

    try:
        return CaseStore(url)
    except Exception as exc:  # a bad URL or an unreachable server is a user error
        _fail(f"cannot open case store {url}: {type(exc).__name__}: {str(exc).splitlines()[0]}")


@cases.command("list")
@_store_option
@click.option("--status", type=click.Choice(["open", "escalated", "closed"]))
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 10_000))
def cases_list(store_url: str, status: str | None, limit: int) -> None:
    """The case queue, newest activity first."""
    from rich.table import Table
    from rich.text import Text

    store = _open_store(store_url)
    try:
        rows = store.list(status=status, limit=limit)
    finally:
        store.close()
    table = Table(title=f"{len(rows)} case(s)")
    for column in ("case", "actor", "status", "severity", "score", "T2", "runs", "episodes",
                   "last seen UTC"):  # fmt: skip
        table.add_column(column)
    for row in rows:
        table.add_row(
            row.id, Text(clean(row.actor, 60)), row.status, row.severity, f"{row.score:.0f}",
            "yes" if row.escalate else "no", str(row.runs), str(row.episodes),
            f"{row.last_seen:%Y-%m-%d %H:%M}",
        )  # fmt: skip
    _console().print(table)


@cases.command("show")
@_store_option
@click.argument("case_id")
def cases_show(store_url: str, case_id: str) -> None:
    """One case as JSON: the latest hunt document, sightings and the audit trail."""
    store = _open_store(store_url)
    try:
        row = store.get(case_id)
    finally:
        store.close()
    if row is None:
        _fail(f"no case {case_id!r} in {store_url}")
        return
    click.echo(
        json.dumps(
            {
                "case": row.document,
                "status": row.status,
                "analyst_disposition": row.analyst_disposition,
                "analyst_reason": row.analyst_reason,
                "assignee": row.assignee,
                "runs": row.runs,
                "episodes": row.episodes,
                "sightings": [
                    {
                        "run": s.run_id,
                        "first_seen": s.first_seen.isoformat(),
                        "last_seen": s.last_seen.isoformat(),
                        "detections": s.detections,
                    }
                    for s in row.sightings
                ],
                "actions": [
                    {"at": a.at.isoformat(), "who": a.who, "action": a.action, "detail": a.detail}
                    for a in row.actions
                ],
            },
            indent=2,
        )
    )


@cases.command("decide")
@_store_option
@click.argument("case_id")
@click.argument("action", type=click.Choice(["escalate", "close", "assign", "comment"]))
@click.option(
    "--disposition",
    type=click.Choice(
        ["benign", "false_positive", "benign_scanner", "approved_exercise", "malicious"]
    ),
)
@click.option("--reason", default="", help="Why (required to close); kept in the audit trail.")
@click.option("--assignee", help="Analyst to assign the case to.")
@click.option("--who", default=lambda: os.environ.get("USER", "analyst"), show_default="$USER")
def cases_decide(
    store_url: str, case_id: str, action: str, disposition: str | None, reason: str,
    assignee: str | None, who: str,
) -> None:  # fmt: skip
    """Record an analyst decision on a case (hunts never overwrite it)."""
    store = _open_store(store_url)
    try:
        store.decide(case_id, who, action, disposition=disposition, reason=reason,
                     assignee=assignee)  # fmt: skip
    except KeyError:
        _fail(f"no case {case_id!r} in {store_url}")
    except ValueError as exc:
        _fail(str(exc))
    finally:
        store.close()
    click.echo(f"{case_id}: {action} recorded")


_netns_option = click.option(
    "--netns", help="Run nft inside this network namespace (ip netns exec NS)."
)
_table_option = click.option(
    "--table", help="nft table (default: respond.nft_table from the config)."
)
_audit_option = click.option(
    "--audit",
    "audit_path",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Audit log (JSON lines); default: respond.audit_log from the config.",
)
_why_option = click.option("--why", default="", help="Why; recorded in the audit log.")
_who_option = click.option("--who", help="Who; default: the OS user (the sudo invoker).")


@main.group()
def block() -> None:
    """List, apply, extend and remove live nftables blocks (root).

    Every change is written to the audit log. ``apply`` changes the live
    ruleset only with --yes (or after a confirmation prompt).
    """


def _block_settings(
    config_path: Path | None, table: str | None, audit_path: Path | None
) -> tuple[Config, str, Path | None]:
    config = _config(config_path)
    audit = audit_path or getattr(config.respond, "audit_log", None)
    return config, table or config.respond.nft_table, audit


def _respond_call(action: Callable[[], Any]) -> Any:
    from reconwatch.respond.apply import NftError

    try:
        return action()
    except (NftError, LookupError, ValueError, OSError) as exc:
        _fail(str(exc))


@block.command("list")
@_config_option
@_table_option
@_netns_option
@click.option("--json", "as_json", is_flag=True, help="JSON on stdout.")
def block_list(
    config_path: Path | None, table: str | None, netns: str | None, as_json: bool
) -> None:
    """The live blocks with their remaining time."""
    from reconwatch.respond.apply import list_blocks

    _, table_name, _ = _block_settings(config_path, table, None)
    blocks = _respond_call(lambda: list_blocks(table_name, netns))
    if as_json:
        rows = [
            {
                "network": str(b.network),
                "timeout_seconds": b.timeout_seconds,
                "expires_seconds": b.expires_seconds,
                "comment": b.comment,
            }
            for b in blocks
        ]
        click.echo(json.dumps(rows, indent=2))
        return
    for b in blocks:
        click.echo(f"{b.network!s:45} {b.expires_seconds:>9}s left  {clean(b.comment, 128)}")
    click.echo(f"{len(blocks)} blocks in table inet {table_name}")


@block.command("apply")
@click.option(
    "--cases",
    "cases_path",
    required=True,
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    help="cases.json written by a hunt.",
)
@click.option("--case", "case_ids", multiple=True, help="Only these case ids (repeatable).")
@_config_option
@_table_option
@_netns_option
@_audit_option
@_why_option
@_who_option
@click.option("--yes", is_flag=True, help="Apply without asking (scripts).")
@click.option("--dry-run", is_flag=True, help="Print the ruleset; change nothing.")
def block_apply(
    cases_path: Path,
    case_ids: tuple[str, ...],
    config_path: Path | None,
    table: str | None,
    netns: str | None,
    audit_path: Path | None,
    why: str,
    who: str | None,
    yes: bool,
    dry_run: bool,
) -> None:
    """Load the blocks of a hunt's cases into the live nftables ruleset."""
    from reconwatch.respond.apply import apply_nftables, plan_from_cases_document

    config, table_name, audit = _block_settings(config_path, table, audit_path)
    try:
        document = json.loads(cases_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        _fail(f"{cases_path}: {exc}")
    plan = _respond_call(lambda: plan_from_cases_document(document, config, case_ids=case_ids))
    preview = _respond_call(lambda: apply_nftables(plan, table_name, netns=netns, dry_run=True))
    click.echo(
        f"{len(plan.entries)} entries for {len(preview.cases)} cases, "
        f"{len(plan.refused)} refused, into table inet {table_name}"
        + (f" in netns {netns}" if netns else "")
    )
    if dry_run:
        click.echo(preview.ruleset)
        return
    if not yes and not click.confirm("Apply these blocks to the live ruleset?", default=False):
        _fail("not applied (answer yes, or pass --yes)")
    _respond_call(
        lambda: apply_nftables(
            plan,
            table_name,
            netns=netns,
            dry_run=False,
            audit=audit,
            who=who,
            why=why or f"reconwatch block apply --cases {cases_path}",
        )
    )
    click.echo("applied")


@block.command("extend")
@click.argument("address")
@click.argument("seconds", type=click.IntRange(1, 365 * 86400))
@_config_option
@_table_option
@_netns_option
@_audit_option
@_why_option
@_who_option
@click.option("--case", "case_ids", multiple=True, help="Case ids this is for (audit).")
def block_extend(
    address: str,
    seconds: int,
    config_path: Path | None,
    table: str | None,
    netns: str | None,
    audit_path: Path | None,
    why: str,
    who: str | None,
    case_ids: tuple[str, ...],
) -> None:
    """Add SECONDS to the live block holding ADDRESS."""
    from reconwatch.respond.apply import extend_block
    from reconwatch.respond.protect import ProtectedRanges

    config, table_name, audit = _block_settings(config_path, table, audit_path)
    protected = _respond_call(lambda: ProtectedRanges.from_site(config.site))
    block_ = _respond_call(
        lambda: extend_block(
            address,
            seconds,
            table_name,
            netns=netns,
            protected=protected,
            audit=audit,
            who=who,
            why=why,
            cases=case_ids,
        )
    )
    click.echo(f"{block_.network} now ends in {block_.timeout_seconds}s")


@block.command("remove")
@click.argument("address")
@_config_option
@_table_option
@_netns_option
@_audit_option
@_why_option
@_who_option
@click.option("--case", "case_ids", multiple=True, help="Case ids this is for (audit).")
def block_remove(
    address: str,
    config_path: Path | None,
    table: str | None,
    netns: str | None,
    audit_path: Path | None,
    why: str,
    who: str | None,
    case_ids: tuple[str, ...],
) -> None:
    """Remove the live block holding ADDRESS (the whole element)."""
    from reconwatch.respond.apply import remove_block

    _, table_name, audit = _block_settings(config_path, table, audit_path)
    removed = _respond_call(
        lambda: remove_block(
            address, table_name, netns=netns, audit=audit, who=who, why=why, cases=case_ids
        )
    )
    click.echo(f"removed {removed.network}")


@block.command("unblock")
@_config_option
@_table_option
@_netns_option
@_audit_option
@_why_option
@_who_option
@click.option("--yes", is_flag=True, help="Unblock without asking.")
def block_unblock(
    config_path: Path | None,
    table: str | None,
    netns: str | None,
    audit_path: Path | None,
    why: str,
    who: str | None,
    yes: bool,
) -> None:
    """Delete the whole reconwatch table: every block ends now."""
    from reconwatch.respond.apply import unblock_all

    _, table_name, audit = _block_settings(config_path, table, audit_path)
    if not yes and not click.confirm(f"Delete table inet {table_name}?", default=False):
        _fail("nothing changed (answer yes, or pass --yes)")
    held = _respond_call(
        lambda: unblock_all(table_name, netns=netns, audit=audit, who=who, why=why)
    )
    click.echo(f"unblocked {len(held)} entries")


@main.group()
def feeds() -> None:
    """Threat-intelligence feeds: download the configured ones into the local cache."""


@feeds.command("update")
@_config_option
def feeds_update(config_path: Path | None) -> None:
    """Download every configured feed (ETag / If-Modified-Since); hunts read only the cache."""
    from reconwatch.enrich import update_feeds

    config = _config(config_path)
    if not config.enrich.feeds:
        _fail("no feed is configured (enrich.feeds in the config file)")
    report = update_feeds(config.enrich)
    for feed in report.feeds:
        note = f": {clean(str(feed.error), 300)}" if feed.error else ""
        click.echo(f"{feed.feed}: {feed.status}{note}")
    if not report.ok:
        sys.exit(1)


@main.command("config")
@_config_option
def show_config(config_path: Path | None) -> None:
    """Print the effective configuration (defaults merged with --config) as YAML."""
    import yaml

    click.echo(yaml.safe_dump(_config(config_path).model_dump(mode="json"), sort_keys=False))


@main.command()
def formats() -> None:
    """List the input formats and what each one reads."""
    from reconwatch.ingest.registry import PARSERS

    for parser in PARSERS:
        doc = (parser.__doc__ or "").strip().splitlines()[0] if parser.__doc__ else ""
        click.echo(f"{parser.name:12} {parser.table:8} {doc}")


def _register_fronts() -> None:
    """The command groups that live beside their code (each imports its heavy
    parts, FastAPI or the watch loop, only when run)."""
    from reconwatch.export.cli import export
    from reconwatch.lake_cli import lake
    from reconwatch.watch.cli import watch as watch_command
    from reconwatch.web.cli import serve, users

    for command in (export, lake, watch_command, serve, users):
        main.add_command(command)


_register_fronts()

if __name__ == "__main__":
    main()
