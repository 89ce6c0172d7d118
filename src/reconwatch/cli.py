"""The ``reconwatch`` command. Subcommands stay thin: each calls one pipeline function.

Errors the user can fix (a missing file, a bad config key, an unknown format)
print one line naming the file and exit 2; they never show a traceback.
"""

from __future__ import annotations

import datetime as dt
import json
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
from reconwatch.generate import MIN_SAMPLE_SIZE
from reconwatch.ingest.run import AUTO, IngestOptions, UnknownFormatError, format_names
from reconwatch.ingest.sources import InputError
from reconwatch.report.text import clean

_USER_ERRORS = (ConfigError, InputError, UnknownFormatError)


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
@_now_option
def hunt(
    paths: tuple[str, ...],
    config_path: Path | None,
    fmt: str,
    out_dir: Path | None,
    lake_dir: Path | None,
    store_url: str | None,
    as_json: bool,
    now: str | None,
) -> None:
    """Ingest PATHS (files, directories, .gz, or - for stdin) and hunt for reconnaissance."""
    from reconwatch.hunt import hunt as run_hunt
    from reconwatch.report.console import print_cases, print_ingest

    config = _config(config_path)
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
