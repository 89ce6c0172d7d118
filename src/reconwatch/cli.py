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
from reconwatch.generate import MIN_SAMPLE_SIZE
from reconwatch.ingest.mapping import MappingError
from reconwatch.ingest.run import AUTO, IngestOptions, UnknownFormatError, format_names
from reconwatch.ingest.sources import InputError
from reconwatch.report.text import clean

_USER_ERRORS = (ConfigError, InputError, UnknownFormatError, EngineError, MappingError)


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


@main.command()
@click.argument("paths", nargs=-1, required=True)
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
    type=click.Path(path_type=Path, file_okay=False),
    help="Append to this Parquet lake and hunt over all of it (default: a fresh lake).",
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
def hunt(
    paths: tuple[str, ...],
    config_path: Path | None,
    fmt: str,
    out_dir: Path | None,
    lake_dir: Path | None,
    store_url: str | None,
    as_json: bool,
    engine: str | None,
    spark_master: str | None,
    now: str | None,
) -> None:
    """Ingest PATHS (files, directories, .gz, or - for stdin) and hunt for reconnaissance."""
    from reconwatch.hunt import hunt as run_hunt
    from reconwatch.report.console import print_cases, print_ingest

    config = _config(config_path)
    overrides = {k: v for k, v in (("kind", engine), ("spark_master", spark_master)) if v}
    if overrides:
        config = config.model_copy(update={"engine": config.engine.model_copy(update=overrides)})
    console = _console(stderr=as_json)
    options = IngestOptions(format=fmt, now=_parse_now(now))
    try:
        with _progress(console) as progress:
            result = run_hunt(
                paths,
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
                console.print(f"reconwatch: warning: {f.error}", markup=False)
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
    type=click.Path(path_type=Path, file_okay=False),
    help="Parquet lake to append to.",
)
@_config_option
@_format_option
@_now_option
def ingest(
    paths: tuple[str, ...], lake_dir: Path, config_path: Path | None, fmt: str, now: str | None
) -> None:
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
                IngestOptions(format=fmt, now=_parse_now(now)),
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
    type=click.IntRange(min=MIN_SAMPLE_SIZE),
    help="Approximate number of background log lines to generate.",
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
    """Generate a realistic seeded sample (firewall + Zeek logs with scanners) and hunt it."""
    from reconwatch.generate import generate_sample
    from reconwatch.hunt import hunt as run_hunt
    from reconwatch.report.console import print_cases, print_ingest

    console = _console()
    sample_dir = out_dir / "sample"
    truth = generate_sample(sample_dir, size=size, seed=seed)
    console.print(f"Generated sample logs in {sample_dir} (seed {seed}).", markup=False)
    config = _config(sample_dir / "reconwatch.yaml")
    inputs = [str(sample_dir / "firewall"), str(sample_dir / "zeek")]
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


if __name__ == "__main__":
    main()
