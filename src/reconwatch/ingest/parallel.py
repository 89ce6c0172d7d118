"""Per-file parallel ingest: a local process pool, or one Spark task per file.

Files are independent (a parser instance reads one file and keeps state only
across that file's batches), so a run can read them side by side. Every
worker runs :func:`reconwatch.ingest.run.ingest_source`, the function serial
ingest runs, with the same run id, the input's index in the run and the same
reference time: the lake files get the same names and contents, and the
per-file accounting (``FileStats``) is the same, whichever worker read which
file. Results come back in input order.

stdin is read in the calling process: it cannot be handed to another one.

On Spark (``engine="spark"``), the file list becomes an RDD with one
partition per file, and each task parses its file and writes its part of the
lake (``sc.parallelize(tasks, n).map(ingest_task).collect()``). Executors must
see the inputs and the lake at the same paths: local mode always does; on a
cluster put the lake on object storage (``s3://``) or HDFS and the inputs on a
shared filesystem (see docs/scale.md).
"""

from __future__ import annotations

import datetime as dt
import multiprocessing
import os
from collections.abc import Sequence
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from dataclasses import dataclass

import duckdb

from reconwatch.config import Config
from reconwatch.ingest import mapping
from reconwatch.ingest.run import IngestOptions, Progress, ingest_source
from reconwatch.ingest.sources import Source
from reconwatch.lake import FileStats, Lake


@dataclass(frozen=True)
class FileTask:
    """Everything a worker needs to ingest one file (picklable for processes and Spark)."""

    source: Source
    index: int
    run_id: str
    lake: Lake
    config: Config
    options: IngestOptions
    now: dt.datetime
    #: DuckDB threads for this worker; None = DuckDB's default (one per core).
    threads: int | None = None


def ingest_task(task: FileTask) -> FileStats:
    """Ingest one file in whatever process runs this (pool worker, Spark executor)."""
    # User mappings are module state that sniffing reads; a fresh process has none.
    mapping.activate(task.config)
    settings: dict[str, str | bool | int | float | list[str]] = {}
    if task.threads:
        settings["threads"] = task.threads
    con = duckdb.connect(config=settings)
    try:
        return ingest_source(
            task.source,
            task.index,
            task.run_id,
            task.lake,
            task.config,
            task.options,
            con,
            task.now,
        )
    finally:
        con.close()


def ingest_parallel(
    sources: Sequence[Source],
    run_id: str,
    lake: Lake,
    config: Config,
    options: IngestOptions,
    jobs: int,
    progress: Progress | None = None,
) -> list[FileStats]:
    """Ingest ``sources`` with ``jobs`` processes (or on Spark); stats in input order."""
    now = options.now or dt.datetime.now(dt.UTC)
    spark = options.engine == "spark"
    workers = max(1, min(jobs, len(sources)))
    # Share the cores between workers instead of each DuckDB taking all of them.
    threads = None if spark else max(1, (os.cpu_count() or 1) // workers)
    tasks = [
        FileTask(source, index, run_id, lake, config, options, now, threads)
        for index, source in enumerate(sources)
    ]
    remote = [t for t in tasks if t.source.path is not None]
    results: dict[int, FileStats] = {}
    if remote:
        if spark:
            master = options.spark_master or config.engine.spark_master
            done = _on_spark(remote, master)
        else:
            done = _on_pool(remote, workers, progress)
        results.update(zip((t.index for t in remote), done, strict=True))
    for task in tasks:
        if task.source.path is None:  # stdin: only this process can read it
            results[task.index] = ingest_task(task)
    if progress and spark:
        for stats in results.values():
            progress(stats.name, stats.lines)
    return [results[t.index] for t in tasks]


def _on_pool(tasks: list[FileTask], workers: int, progress: Progress | None) -> list[FileStats]:
    # spawn, not fork: the parent may hold DuckDB or Spark threads, which a forked
    # child would inherit in an undefined state. Not forkserver either: its server
    # keeps the environment of its first use, so credentials (AWS_*) set since
    # then would not reach the workers writing to an object-storage lake.
    context = multiprocessing.get_context("spawn")
    results: dict[int, FileStats] = {}
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        futures: dict[Future[FileStats], int] = {
            pool.submit(ingest_task, task): task.index for task in tasks
        }
        for future in as_completed(futures):
            # A failure that serial ingest would raise (the lake unwritable) is raised here too.
            stats = future.result()
            results[futures[future]] = stats
            if progress:
                progress(stats.name, stats.lines)
    return [results[t.index] for t in tasks]


def _on_spark(tasks: list[FileTask], master: str) -> list[FileStats]:
    from reconwatch.engine import spark_session

    context = spark_session(master).sparkContext
    # One partition per file: Spark schedules files on free cores as they finish.
    rdd = context.parallelize(tasks, len(tasks))
    stats: list[FileStats] = rdd.map(ingest_task).collect()
    return stats
