"""Parallel ingest writes exactly what serial ingest writes: rows, layout, accounting.

A generated multi-family sample (firewall, Zeek, DNS, web, IDS, auth) plus a
netfilter file with bad lines is ingested three times: serially, by a pool of
two processes (``--jobs 2``) and as Spark tasks (``local[2]``). Small batches
make every file span several batches, so batch numbering is exercised too.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from reconwatch.cli import main
from reconwatch.config import Config, load_config
from reconwatch.generate import ALL_FAMILIES, generate_sample
from reconwatch.ingest.run import IngestOptions, ingest
from reconwatch.lake import PARTITION, Lake, LakeError, RunStats

NOW = dt.datetime(2026, 10, 1, tzinfo=dt.UTC)
#: 16 KiB batches: each generated file is read in several of them.
SMALL = IngestOptions(now=NOW, block_bytes=16 * 1024, sniff_bytes=4 * 1024)


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Config]:
    root = tmp_path_factory.mktemp("parallel")
    generate_sample(root / "sample", size=6000, seed=3, families=ALL_FAMILIES)
    kern = (root / "sample" / "firewall" / "kern.log").read_text().splitlines()
    # A firewall file whose every fifth line is damaged: rejects with reasons.
    bad = [line if i % 5 else line[: len(line) // 3] for i, line in enumerate(kern[:400])]
    (root / "sample" / "firewall" / "kern-bad.log").write_text("\n".join(bad) + "\n")
    return root / "sample", load_config(root / "sample" / "reconwatch.yaml")


@pytest.fixture(scope="module")
def serial(
    sample: tuple[Path, Config], tmp_path_factory: pytest.TempPathFactory
) -> tuple[Lake, RunStats]:
    directory, config = sample
    lake = Lake(tmp_path_factory.mktemp("serial") / "lake")
    return lake, ingest([str(directory)], lake, config, SMALL)


def layout(lake: Lake, run_id: str) -> list[str]:
    """Every lake file, relative to the lake, with the run id taken out of its name."""
    names = []
    for table in PARTITION:
        for path in lake.files(table):
            relative = path[len(str(lake.root)) + 1 :]
            names.append(relative.replace(run_id, "RUN"))
    return sorted(names)


def contents(lake: Lake) -> dict[str, list[dict[str, Any]]]:
    tables = {}
    for table in PARTITION:
        rows = lake.read(table).to_pylist()
        tables[table] = sorted(rows, key=lambda r: repr(sorted(r.items())))
    return tables


def accounting(run: RunStats) -> list[dict[str, Any]]:
    return [asdict(f) for f in run.files]


def test_the_sample_exercises_several_tables_and_rejects(serial: tuple[Lake, RunStats]) -> None:
    lake, run = serial
    tables = contents(lake)
    assert {t for t, rows in tables.items() if rows} >= {
        "network",
        "dns",
        "http",
        "auth",
        "alert",
        "rejects",
    }
    bad = next(f for f in run.files if f.name.endswith("kern-bad.log"))
    assert bad.format == "netfilter" and bad.lines == 400
    assert bad.rejected >= 60 and bad.parsed + bad.rejected + bad.skipped == 400
    assert len(run.files) >= 9  # every family's file plus the config and truth files


def test_a_pool_of_two_writes_what_serial_ingest_writes(
    sample: tuple[Path, Config], serial: tuple[Lake, RunStats], tmp_path: Path
) -> None:
    directory, config = sample
    expected_lake, expected_run = serial
    lake = Lake(tmp_path / "lake")
    seen: list[str] = []
    run = ingest(
        [str(directory)],
        lake,
        config,
        IngestOptions(
            now=NOW, block_bytes=SMALL.block_bytes, sniff_bytes=SMALL.sniff_bytes, jobs=2
        ),
        progress=lambda name, lines: seen.append(name),
    )
    assert accounting(run) == accounting(expected_run)
    assert layout(lake, run.run_id) == layout(expected_lake, expected_run.run_id)
    assert contents(lake) == contents(expected_lake)
    assert sorted(seen) == sorted(f.name for f in run.files)  # progress once per file
    assert lake.runs()[0]["totals"] == expected_lake.runs()[0]["totals"]


def test_spark_tasks_write_what_serial_ingest_writes(
    sample: tuple[Path, Config], serial: tuple[Lake, RunStats], tmp_path: Path
) -> None:
    directory, config = sample
    expected_lake, expected_run = serial
    lake = Lake(tmp_path / "lake")
    options = IngestOptions(
        now=NOW,
        block_bytes=SMALL.block_bytes,
        sniff_bytes=SMALL.sniff_bytes,
        engine="spark",
        spark_master="local[2]",
    )
    run = ingest([str(directory)], lake, config, options)
    assert accounting(run) == accounting(expected_run)
    assert layout(lake, run.run_id) == layout(expected_lake, expected_run.run_id)
    assert contents(lake) == contents(expected_lake)


def test_jobs_from_the_config_and_the_command_line(
    sample: tuple[Path, Config], serial: tuple[Lake, RunStats], tmp_path: Path
) -> None:
    directory, _ = sample
    expected_lake, _ = serial
    config_file = tmp_path / "rw.yaml"
    text = (directory / "reconwatch.yaml").read_text()
    assert not re.search(r"^ingest:", text, re.M)
    config_file.write_text(text + "\ningest:\n  jobs: 2\n")
    assert load_config(config_file).ingest.jobs == 2
    result = CliRunner().invoke(
        main,
        ["ingest", str(directory), "--lake", str(tmp_path / "lake"), "--config", str(config_file),
         "--now", NOW.isoformat(), "--jobs", "2"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    # Default 32 MiB batches here, so compare rows, not file names.
    assert contents(Lake(tmp_path / "lake")) == contents(expected_lake)


def test_unknown_ingest_engine_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown ingest engine 'hadoop'"):
        ingest([str(tmp_path)], Lake(tmp_path / "lake"), Config(), IngestOptions(engine="hadoop"))


@pytest.mark.parametrize("jobs", [1, 2])
def test_a_lake_that_cannot_be_written_stops_the_run(
    sample: tuple[Path, Config], tmp_path: Path, jobs: int
) -> None:
    directory, config = sample
    blocked = tmp_path / "lake"
    blocked.write_text("a file where the lake folder should be")
    options = IngestOptions(now=NOW, jobs=jobs)
    with pytest.raises(LakeError, match="cannot write"):
        ingest(
            [str(directory / "firewall"), str(directory / "zeek")], Lake(blocked), config, options
        )


def test_cli_spark_ingest_and_hunt_with_jobs(
    sample: tuple[Path, Config], serial: tuple[Lake, RunStats], tmp_path: Path
) -> None:
    directory, _ = sample
    expected_lake, _ = serial
    config = str(directory / "reconwatch.yaml")
    runner = CliRunner()
    spark = runner.invoke(
        main,
        ["ingest", str(directory), "--lake", str(tmp_path / "lake"), "--config", config,
         "--now", NOW.isoformat(), "--engine", "spark", "--spark-master", "local[2]"],
    )  # fmt: skip
    assert spark.exit_code == 0, spark.output
    assert contents(Lake(tmp_path / "lake")) == contents(expected_lake)
    documents = []
    for jobs in ("1", "2"):
        hunted = runner.invoke(
            main,
            ["hunt", str(directory / "firewall"), str(directory / "zeek"), "--config", config,
             "--now", NOW.isoformat(), "--jobs", jobs, "--json"],
        )  # fmt: skip
        assert hunted.exit_code == 0, hunted.output
        documents.append(json.loads(hunted.stdout[hunted.stdout.index("{") :]))
    assert documents[0]["cases"] and documents[0]["cases"] == documents[1]["cases"]
    # The cluster workflow: hunt over the lake the Spark tasks wrote, without
    # ingesting anything else; Spark and DuckDB give the same cases.
    over_lake = []
    for engine in (["--engine", "spark", "--spark-master", "local[2]"], ["--engine", "duckdb"]):
        hunted = runner.invoke(
            main, ["hunt", "--lake", str(tmp_path / "lake"), "--config", config, "--json", *engine]
        )
        assert hunted.exit_code == 0, hunted.output
        over_lake.append(json.loads(hunted.stdout[hunted.stdout.index("{") :]))
    assert over_lake[0]["ingest"] is None  # nothing ingested
    assert over_lake[0]["cases"] and over_lake[0]["cases"] == over_lake[1]["cases"]
    # The lake holds every family of the sample, so more actors than firewall + zeek.
    actors = {case["actor"] for case in over_lake[0]["cases"]}
    assert {case["actor"] for case in documents[0]["cases"]} < actors
    nothing = runner.invoke(main, ["hunt", "--config", config])
    assert nothing.exit_code != 0 and "--lake to hunt over an existing lake" in nothing.output
