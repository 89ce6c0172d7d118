"""The pipeline commands: ``hunt`` (ingest, detect, triage, contain), ``ingest`` and ``demo``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from reconwatch.cli.common import (
    config_option,
    exit_if_incomplete,
    format_option,
    jobs_option,
    now_option,
    parse_now,
    progress_bar,
    user_errors,
)
from reconwatch.cli_console import make_console
from reconwatch.cli_errors import config_from, fail
from reconwatch.report.text import clean


@click.command()
@click.argument("paths", nargs=-1)
@config_option
@format_option
@click.option(
    "--out",
    "out_dir",
    type=click.Path(path_type=Path, file_okay=False),
    help="Write cases.json, report.md, block.nft and block-ipset.sh here "
    "(one hunt at a time: a second hunt into a folder in use fails).",
)
@click.option(
    "--lake",
    "lake_dir",
    help="Append to this Parquet lake (folder, s3://bucket/prefix, file://...) and hunt "
    "over all of it (default: a fresh lake, OUT/lake with --out). Without PATHS it must exist.",
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
@now_option
@jobs_option
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
    from reconwatch.hunt import OutputError
    from reconwatch.hunt import hunt as run_hunt
    from reconwatch.ingest.run import IngestOptions
    from reconwatch.report.console import print_cases, print_ingest
    from reconwatch.store import StoreError

    if not paths and lake_dir is None:
        fail("give PATHS to ingest, or --lake to hunt over an existing lake")
        return
    config = config_from(config_path)
    overrides = {k: v for k, v in (("kind", engine), ("spark_master", spark_master)) if v}
    if overrides:
        config = config.model_copy(update={"engine": config.engine.model_copy(update=overrides)})
    # A store named by --store or store.url is opened (created) before any work, so a
    # bad URL fails in a second, not after the whole hunt. OUT/reconwatch.db, the
    # default, is left to the hunt: OUT may not exist yet.
    _check_store(store_url or config.store.url)
    console = make_console(stderr=as_json)
    options = IngestOptions(format=fmt, now=parse_now(now), jobs=jobs)
    try:
        with progress_bar(console) as progress:
            result = run_hunt(
                paths or None,
                config,
                out_dir=out_dir,
                lake_dir=lake_dir,
                options=options,
                progress=progress,
                store_url=store_url,
            )
    except OutputError as exc:
        fail(f"--out {exc}")
    except user_errors() as exc:
        fail(str(exc))
    except StoreError as exc:  # OUT/reconwatch.db, or a server gone since the check
        fail(str(exc))
        return
    if result.run is not None:
        print_ingest(console, result.run, errors=False)  # the warnings below hold them
    for warning in result.warnings:
        # One line however long (a path): soft_wrap, or Rich cuts it at the width.
        console.print(f"reconwatch: warning: {clean(warning, 500)}", markup=False, soft_wrap=True)
    print_cases(console, result.cases)
    for name, path in result.outputs.items():
        console.print(f"{name}: {path}", markup=False)
    if as_json:
        click.echo(json.dumps(result.document(), indent=2))
    exit_if_incomplete(result.run)


def _check_store(url: str | None) -> None:
    """Open and close the case store at ``url`` (creating it, as the hunt would), or fail."""
    if url is None:
        return
    from reconwatch.store import CaseStore, StoreError

    try:
        CaseStore(url).close()
    except StoreError as exc:
        fail(str(exc))


@click.command()
@click.argument("paths", nargs=-1, required=True)
@click.option(
    "--lake",
    "lake_dir",
    required=True,
    help="Parquet lake to append to (folder, s3://bucket/prefix, file://...).",
)
@config_option
@format_option
@now_option
@jobs_option
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
    from reconwatch.ingest.run import IngestOptions
    from reconwatch.ingest.run import ingest as run_ingest
    from reconwatch.lake import Lake
    from reconwatch.report.console import print_ingest

    config = config_from(config_path)
    console = make_console()
    try:
        with progress_bar(console) as progress:
            run = run_ingest(
                paths,
                Lake(lake_dir),
                config,
                IngestOptions(
                    format=fmt,
                    now=parse_now(now),
                    jobs=jobs,
                    engine=engine,
                    spark_master=spark_master,
                    hold_unfinished_line=True,
                ),
                progress,
            )
    except user_errors() as exc:
        fail(str(exc))
        return
    print_ingest(console, run)
    exit_if_incomplete(run)


class _SampleSize(click.IntRange):
    """Line counts from the smallest sample that holds every planted actor.

    The minimum is computed by the generator (NumPy, Arrow), imported only
    when ``demo`` runs or shows its help, not whenever a command starts.
    """

    def __init__(self) -> None:
        super().__init__()

    @property  # click sets it in __init__; here it is computed
    def min(self) -> int:
        from reconwatch.generate import ALL_FAMILIES, min_sample_size

        return min_sample_size(ALL_FAMILIES)

    @min.setter
    def min(self, _value: object) -> None:
        """Ignored: ``click.IntRange.__init__`` assigns the bound it was given (none)."""


@click.command()
@click.option(
    "--size",
    default=20000,
    show_default=True,
    type=_SampleSize(),
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
    from reconwatch.generate import ALL_FAMILIES, generate_sample
    from reconwatch.hunt import OutputError, make_folder
    from reconwatch.hunt import hunt as run_hunt
    from reconwatch.report.console import print_cases, print_ingest

    console = make_console()
    sample_dir = out_dir / "sample"
    try:
        make_folder(out_dir)
        truth = generate_sample(sample_dir, size=size, seed=seed, families=ALL_FAMILIES)
    except OutputError as exc:
        fail(f"--out {exc}")
    except OSError as exc:  # the disk full, a folder made read-only meanwhile
        fail(f"--out {out_dir}: cannot write the sample: {exc.strerror or exc}")
    console.print(f"Generated sample logs in {sample_dir} (seed {seed}).", markup=False)
    config = config_from(sample_dir / "reconwatch.yaml")
    inputs = [str(sample_dir / d) for d in SAMPLE_DIRS]
    try:
        result = run_hunt(inputs, config, out_dir=out_dir / "hunt")
    except OutputError as exc:
        fail(f"--out {exc}")
    except user_errors() as exc:
        fail(str(exc))
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
