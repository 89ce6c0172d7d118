"""Lake upkeep: partition info, compaction (rows unchanged, crash-safe) and retention."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from conftest import network_rows
from reconwatch.config import Config, load_config
from reconwatch.detect import run_detections
from reconwatch.engine import Engine
from reconwatch.generate import ALL_FAMILIES, generate_sample
from reconwatch.ingest.run import IngestOptions, ingest
from reconwatch.lake import JOURNALS, PARTITION, Lake, LakeError, plain_columns
from reconwatch.lake_cli import lake as lake_group

NOW = dt.datetime(2026, 10, 1, tzinfo=dt.UTC)


def probe(source: str, seconds: int = 0) -> dict[str, Any]:
    return {"source_ip": source, "destination_ip": "203.0.113.5", "destination_port": 22,
            "seconds": seconds}  # fmt: skip


def runs_of_four(tmp_path: Path, runs: int) -> Lake:
    """A lake of ``runs`` files in one partition, four probes from one source each."""
    lake = Lake(tmp_path / "lake")
    for n in range(runs):
        lake.write("network", network_rows([probe(f"192.0.2.{n}")] * 4), f"run-{n}")
    return lake


def sorted_rows(lake: Lake, table: str) -> list[dict[str, Any]]:
    return sorted(lake.read(table).to_pylist(), key=lambda r: repr(sorted(r.items())))


@pytest.fixture
def fragmented(tmp_path: Path) -> tuple[Lake, Config]:
    """A lake of many small files: 8 KiB batches, each one Parquet file per day."""
    generate_sample(tmp_path / "sample", size=5000, seed=9, families=ALL_FAMILIES)
    config = load_config(tmp_path / "sample" / "reconwatch.yaml")
    lake = Lake(tmp_path / "lake")
    ingest([str(tmp_path / "sample")], lake, config,
           IngestOptions(now=NOW, block_bytes=8 * 1024, sniff_bytes=2048))  # fmt: skip
    return lake, config


def findings(lake: Lake, config: Config) -> list[dict[str, Any]]:
    engine = Engine(lake, config.engine)
    try:
        return run_detections(engine.tables(), config.detect).to_pylist()
    finally:
        engine.close()


def test_compaction_keeps_every_row_and_every_finding(fragmented: tuple[Lake, Config]) -> None:
    lake, config = fragmented
    before = {t: sorted_rows(lake, t) for t in PARTITION}
    parts = lake.partitions()
    assert sum(p.files for p in parts if p.table == "network") >= 20
    expected = findings(lake, config)
    assert expected

    done = lake.compact()

    after = lake.partitions()
    assert [(p.name, p.rows) for p in after] == [(p.name, p.rows) for p in parts]
    assert all(p.files == 1 for p in after)
    assert {t: sorted_rows(lake, t) for t in PARTITION} == before
    assert findings(lake, config) == expected
    assert {d["partition"] for d in done} == {p.name for p in parts if p.files >= 2}
    (record,) = lake.maintenance()
    assert record["kind"] == "compact" and record["partitions"] == done
    # No temporary or journal files are left behind.
    leftovers = [p for p in (lake.root).rglob("*") if p.name.startswith(".compact-")]
    assert leftovers == [] and not any((lake.root / JOURNALS).glob("*.json"))
    assert lake.compact() == []  # nothing left to compact


def _encodings(lake: Lake, table: str) -> dict[str, bool]:
    """Each Parquet leaf column of ``table``: whether some row group stores it
    with a dictionary."""
    found: dict[str, bool] = {}
    for path in lake.files(table):
        meta = pq.ParquetFile(path).metadata
        for group in range(meta.num_row_groups):
            for index in range(meta.num_columns):
                column = meta.row_group(group).column(index)
                dictionary = "RLE_DICTIONARY" in column.encodings
                found[column.path_in_schema] = found.get(column.path_in_schema, False) or dictionary
    return found


def test_near_unique_columns_alone_are_written_without_a_dictionary(
    fragmented: tuple[Lake, Config],
) -> None:
    lake, _ = fragmented
    for compacted in (False, True):
        for table in PARTITION:
            encodings = _encodings(lake, table)
            assert encodings, table
            plain = {leaf for leaf, dictionary in encodings.items() if not dictionary}
            assert plain == set(encodings) & plain_columns(table), (table, compacted)
        assert "dns_answers.list.element" in _encodings(lake, "dns")
        lake.compact()


def test_compaction_of_one_table_and_day_only(fragmented: tuple[Lake, Config]) -> None:
    lake, _ = fragmented
    target = max((p for p in lake.partitions("network")), key=lambda p: p.files)
    others = [(p.name, p.files) for p in lake.partitions() if p.name != target.name]
    result = CliRunner().invoke(
        lake_group,
        ["compact", str(lake.root), "--dataset", "network", "--date", target.day.isoformat()],
    )
    assert result.exit_code == 0, result.output
    assert f"{target.name}: {target.files} -> 1 file(s), {target.rows:,} rows" in result.output
    assert [(p.name, p.files) for p in lake.partitions() if p.name != target.name] == others
    (now,) = lake.partitions("network", target.day)
    assert (now.files, now.rows) == (1, target.rows)


def test_a_compaction_cut_short_is_never_seen_twice_and_is_finished(tmp_path: Path) -> None:
    lake = runs_of_four(tmp_path, 3)
    (part,) = lake.partitions("network")
    old = lake.files("network")
    merged = pa.concat_tables(pq.read_table(p) for p in old)
    # As if the process died after the new file was renamed into place and the
    # journal written, but before the old files were deleted.
    new = f"{part.path}/compacted-x-000.parquet"
    pq.write_table(merged, new)
    journal = lake.root / JOURNALS / "x.json"
    journal.parent.mkdir()
    journal.write_text(json.dumps({"partition": part.path, "old": old, "new": [new]}))
    assert lake.files("network") == [new]
    assert lake.read("network").num_rows == 12
    assert lake.recover() == 1
    assert sorted(str(p) for p in Path(part.path).iterdir()) == [new]
    assert lake.read("network").num_rows == 12 and not journal.exists()


def test_a_compaction_cut_short_before_its_files_were_in_place_is_undone(tmp_path: Path) -> None:
    lake = runs_of_four(tmp_path, 2)
    (part,) = lake.partitions("network")
    old = lake.files("network")
    first = f"{part.path}/compacted-y-000.parquet"
    pq.write_table(pq.read_table(old[0]), first)  # one of two new files made it
    (Path(part.path) / ".compact-y-001.parquet").write_bytes(b"partial")
    journal = lake.root / JOURNALS / "y.json"
    journal.parent.mkdir()
    journal.write_text(
        json.dumps(
            {"partition": part.path, "old": old, "new": [first, f"{part.path}/gone.parquet"]}
        )
    )
    assert lake.files("network") == old
    assert lake.read("network").num_rows == 8
    lake.recover()
    assert sorted(str(p) for p in Path(part.path).iterdir()) == old


def test_a_compaction_that_loses_rows_changes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lake = runs_of_four(tmp_path, 3)
    old = lake.files("network")
    before = sorted_rows(lake, "network")
    # A fault in the writer: the rewrite holds one row less than the files it replaces.
    write_table = pq.ParquetWriter.write_table

    def lossy(self: pq.ParquetWriter, table: pa.Table, *args: Any, **kwargs: Any) -> None:
        write_table(self, table.slice(1), *args, **kwargs)

    monkeypatch.setattr(pq.ParquetWriter, "write_table", lossy)
    with pytest.raises(LakeError, match="wrote 11 of 12 rows; nothing changed"):
        lake.compact("network")
    monkeypatch.undo()
    (part,) = lake.partitions("network")
    assert lake.files("network") == old  # the old files are still there, nothing new
    assert sorted(p.name for p in Path(part.path).iterdir()) == sorted(Path(f).name for f in old)
    assert sorted_rows(lake, "network") == before and lake.maintenance() == []


def test_a_file_written_during_a_compaction_is_compacted_with_the_rest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lake = runs_of_four(tmp_path, 2)
    partitions = lake.partitions

    def then_an_ingest(*args: Any, **kwargs: Any) -> Any:
        listed = partitions(*args, **kwargs)
        lake.write("network", network_rows([probe("192.0.2.9")] * 4), "late")
        return listed

    # An ingest writes between the listing of the partitions and their rewrite.
    monkeypatch.setattr(lake, "partitions", then_an_ingest)
    (done,) = lake.compact("network")
    assert done["files_before"] == 3 and done["rows"] == 12 and done["files_after"] == 1
    assert lake.read("network").num_rows == 12


def test_retention_drops_old_days_and_records_it(tmp_path: Path) -> None:
    lake = Lake(tmp_path / "lake")
    for day in range(6):  # 2026-09-30 and the five days before
        rows = network_rows([probe("192.0.2.1", -day * 86400)] * (day + 1))
        lake.write("network", rows, f"d{day}")
    lake.write("rejects", pa.table({"log_line": [1], "reason": ["x"], "raw": ["y"],
                                    "log_file": ["f"], "event_dataset": [None]},
                                   schema=lake.read("rejects").schema), "r")  # fmt: skip
    result = CliRunner().invoke(
        lake_group, ["retain", str(lake.root), "--days", "3", "--today", "2026-10-01"]
    )
    assert result.exit_code == 0, result.output
    kept = [(p.name, p.rows) for p in lake.partitions()]
    assert kept == [
        ("network/event_date=2026-09-28", 3),
        ("network/event_date=2026-09-29", 2),
        ("network/event_date=2026-09-30", 1),
        # rejects are kept by the day they were ingested (today, by the clock)
        (f"rejects/ingest_date={dt.datetime.now(dt.UTC).date().isoformat()}", 1),
    ]
    assert "3 partition(s) older than 3 day(s) dropped" in result.output
    (record,) = lake.maintenance()
    assert record["kind"] == "retain" and record["cutoff"] == "2026-09-28"
    assert [(d["partition"], d["rows"]) for d in record["dropped"]] == [
        ("network/event_date=2026-09-25", 6),
        ("network/event_date=2026-09-26", 5),
        ("network/event_date=2026-09-27", 4),
    ]
    assert lake.read("network").num_rows == 6


def test_retention_days_come_from_the_config_or_are_asked_for(tmp_path: Path) -> None:
    lake = Lake(tmp_path / "lake")
    lake.write("network", network_rows([probe("192.0.2.1")]), "a")
    runner = CliRunner()
    missing = runner.invoke(lake_group, ["retain", str(lake.root)])
    assert missing.exit_code == 2 and "--days" in missing.output
    config = tmp_path / "rw.yaml"
    config.write_text("ingest:\n  retention_days: 1\n")
    done = runner.invoke(
        lake_group, ["retain", str(lake.root), "--config", str(config), "--today", "2026-10-05"]
    )
    assert done.exit_code == 0, done.output
    assert lake.partitions() == []
    with pytest.raises(LakeError):
        lake.retain(0)


def test_info_lists_partitions_with_files_rows_and_bytes(fragmented: tuple[Lake, Config]) -> None:
    lake, _ = fragmented
    result = CliRunner().invoke(lake_group, ["info", str(lake.root), "--dataset", "dns"])
    assert result.exit_code == 0, result.output
    parts = lake.partitions("dns")
    assert parts and all(p.bytes > 0 for p in parts)
    for part in parts:
        assert part.name in result.output
    total = sum(p.rows for p in parts)
    assert total == lake.read("dns").num_rows
    assert f"{total:,}" in result.output


@pytest.mark.parametrize("command", [["info"], ["compact"], ["retain", "--days", "3"]])
def test_a_path_that_is_no_lake_is_an_error_not_an_empty_lake(
    tmp_path: Path, command: list[str]
) -> None:
    """A typo must not read as "0 partitions": it is said in one line."""
    a_file = tmp_path / "kern.log"
    a_file.write_text("x\n")
    (tmp_path / "logs").mkdir()
    cases = {
        str(tmp_path / "missing"): "no such directory (no lake here)",
        str(a_file): "not a directory (a lake is a folder)",
        str(tmp_path / "logs"): "not a reconwatch lake (no tables and no _runs folder)",
    }
    for location, message in cases.items():
        result = CliRunner().invoke(lake_group, [command[0], location, *command[1:]])
        assert result.exit_code == 2, result.output
        assert result.output.strip().splitlines() == [f"reconwatch: error: {location}: {message}"]
