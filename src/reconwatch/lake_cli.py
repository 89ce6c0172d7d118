"""``reconwatch lake``: look after a Parquet lake (partitions, compaction, retention).

The group is registered on the main command by ``cli.py``. Every command takes
the lake as a folder or a URL (``s3://bucket/prefix``, ``file:///srv/lake``).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING

import click
from rich.table import Table

from reconwatch.cli_console import make_console
from reconwatch.cli_errors import config_from, fail
from reconwatch.cli_types import LazyChoice

if TYPE_CHECKING:
    from reconwatch.lake import Lake, PartitionInfo


def _datasets() -> list[str]:
    from reconwatch.lake import PARTITION

    return sorted(PARTITION)


def _lake_errors() -> tuple[type[Exception], ...]:
    # The lake (Arrow) is imported by the time one of its errors is raised.
    from reconwatch.lake import LakeError

    return (LakeError, OSError)


def _open(location: str) -> Lake:
    """The lake at ``location``, which must exist: a typo is not an empty lake."""
    # Imported here: other reconwatch commands need not load Arrow to start.
    from reconwatch.lake import Lake, LakeError, require_lake

    try:
        store = Lake(location)
        require_lake(store)
    except LakeError as exc:
        fail(str(exc))
        raise  # unreachable; keeps type checkers calm
    return store


def _day(value: str | None) -> dt.date | None:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        fail(f"--date: not a YYYY-MM-DD date: {value!r}")
        raise


_dataset_option = click.option(
    "--dataset",
    type=LazyChoice(_datasets),
    help="Only this table (network, dns, http, auth, alert, rejects).",
)
_date_option = click.option("--date", "day", help="Only this day's partition (YYYY-MM-DD).")


@click.group()
def lake() -> None:
    """Look after a Parquet lake: partitions, compaction of small files, retention."""


@lake.command("info")
@click.argument("location")
@_dataset_option
@_date_option
def lake_info(location: str, dataset: str | None, day: str | None) -> None:
    """Partitions of LOCATION with their files, rows and bytes."""
    store = _open(location)
    parts = _partitions(store, dataset, _day(day))
    table = Table(title=f"{store.location}: {len(parts)} partition(s)")
    for column in ("partition", "files", "rows", "bytes"):
        table.add_column(column, justify="left" if column == "partition" else "right")
    for part in parts:
        table.add_row(part.name, f"{part.files:,}", f"{part.rows:,}", f"{part.bytes:,}")
    table.add_row(
        "total",
        f"{sum(p.files for p in parts):,}",
        f"{sum(p.rows for p in parts):,}",
        f"{sum(p.bytes for p in parts):,}",
        style="bold",
    )
    make_console().print(table)


@lake.command("compact")
@click.argument("location")
@_dataset_option
@_date_option
@click.option(
    "--min-files",
    default=2,
    show_default=True,
    type=click.IntRange(min=2),
    help="Rewrite only partitions holding at least this many files.",
)
def lake_compact(location: str, dataset: str | None, day: str | None, min_files: int) -> None:
    """Rewrite each partition's many small Parquet files into few (rows unchanged)."""
    store = _open(location)
    try:
        done = store.compact(dataset, _day(day), min_files=min_files)
    except _lake_errors() as exc:
        fail(f"{location}: compaction failed: {exc}")
        return
    for item in done:
        click.echo(
            f"{item['partition']}: {item['files_before']} -> {item['files_after']} file(s), "
            f"{item['rows']:,} rows, {item['bytes_before']:,} -> {item['bytes_after']:,} bytes"
        )
    click.echo(f"{len(done)} partition(s) compacted")


@lake.command("retain")
@click.argument("location")
@click.option(
    "--days",
    type=click.IntRange(min=1),
    help="Keep this many days; older partitions are dropped (default: ingest.retention_days).",
)
@click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path, dir_okay=False),
    help="YAML config file (for ingest.retention_days).",
)
@click.option("--today", help="Reference day (YYYY-MM-DD, UTC); default: today.")
def lake_retain(
    location: str, days: int | None, config_path: Path | None, today: str | None
) -> None:
    """Drop partitions older than --days days and record what was dropped."""
    if days is None:
        days = config_from(config_path).ingest.retention_days
    if days is None:
        fail("how many days to keep? pass --days or set ingest.retention_days")
        return
    store = _open(location)
    try:
        dropped = store.retain(days, _day(today))
    except _lake_errors() as exc:
        fail(f"{location}: retention failed: {exc}")
        return
    for part in dropped:
        click.echo(f"dropped {part.name}: {part.files:,} file(s), {part.rows:,} rows")
    click.echo(f"{len(dropped)} partition(s) older than {days} day(s) dropped")


def _partitions(store: Lake, dataset: str | None, day: dt.date | None) -> list[PartitionInfo]:
    try:
        return store.partitions(dataset, day)
    except _lake_errors() as exc:
        fail(f"{store.location}: cannot list the lake: {exc}")
        raise
