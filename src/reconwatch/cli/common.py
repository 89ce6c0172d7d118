"""What the core commands share: the console, progress, user-error types, common options.

Errors the user can fix (a missing file, a bad config key, an unknown format)
print one line naming the file and exit 2 (``reconwatch.cli_errors.fail``, shared
with the fronts); they never show a traceback.
"""

from __future__ import annotations

import datetime as dt
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import click
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn

from reconwatch.cli_errors import fail
from reconwatch.cli_types import AUTO, format_choice

if TYPE_CHECKING:  # the lake module imports Arrow: not at start-up
    from reconwatch.lake import RunStats


def user_errors() -> tuple[type[Exception], ...]:
    """The error types a user can fix (a one-line message, no traceback).

    A function, not a module constant: naming the types imports the engine,
    the lake and every parser (DuckDB, Arrow, Ibis: about a second), which a
    command that never reaches them (``--help``, ``cases list``) should not
    pay for. ``except user_errors()`` evaluates only when something was raised.
    """
    from reconwatch.config import ConfigError
    from reconwatch.engine import EngineError
    from reconwatch.ingest.mapping import MappingError
    from reconwatch.ingest.run import UnknownFormatError
    from reconwatch.ingest.sources import InputError
    from reconwatch.lake import LakeError

    return (ConfigError, InputError, UnknownFormatError, EngineError, MappingError, LakeError)


def parse_now(value: str | None) -> dt.datetime | None:
    if value is None:
        return None
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        fail(f"--now: not an ISO 8601 time: {value!r}")
        raise
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


@contextmanager
def progress_bar(console: Console) -> Iterator[Callable[[str, int], None] | None]:
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


#: Exit status of a hunt or ingest that finished but read some input only in
#: part or not at all (truncated gzip, unreadable file): its results stand,
#: and scripts can tell them from a complete run's (0) and a failed run's (2).
INCOMPLETE_INPUT_EXIT = 3


def exit_if_incomplete(run: RunStats | None) -> None:
    """Exit with ``INCOMPLETE_INPUT_EXIT`` when an input of ``run`` stopped on an error."""
    failed = [
        f for f in (run.files if run is not None else []) if f.error and not f.deliberate_skip
    ]
    if failed:
        total = len(run.files) if run is not None else 0
        click.echo(
            f"reconwatch: {len(failed)} of {total} inputs read only in part or not at all "
            f"(see above): exit status {INCOMPLETE_INPUT_EXIT}",
            err=True,
        )
        sys.exit(INCOMPLETE_INPUT_EXIT)


config_option = click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path, dir_okay=False),
    help="YAML config file (defaults are documented in docs/configuration.md).",
)
format_option = click.option(
    "--format",
    "fmt",
    default=AUTO,
    show_default=True,
    type=format_choice(),
    help="Input format; auto sniffs each file.",
)
now_option = click.option(
    "--now",
    help="Reference time (ISO 8601) for year-less syslog stamps; default: the clock.",
)
jobs_option = click.option(
    "--jobs",
    type=click.IntRange(1, 256),
    help="Worker processes reading input files side by side (default: ingest.jobs, 1).",
)
