"""Lake upkeep under faults: a compaction that fails leaves nothing behind, a
damaged or incompatible file is a one-line error naming it, retention is not
held up by a file it keeps, and readers never see a partition twice while a
compaction swaps its files."""

from __future__ import annotations

import contextlib
import datetime as dt
import errno
import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.fs as pafs
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from conftest import network_rows
from reconwatch.lake import Lake, LakeError
from reconwatch.lake_cli import lake as lake_group


def probe(source: str, day: int = 30) -> dict[str, Any]:
    return {
        "source_ip": source,
        "destination_ip": "203.0.113.5",
        "destination_port": 22,
        "timestamp": dt.datetime(2026, 9, day, 10, tzinfo=dt.UTC),
    }


def lake_of(tmp_path: Path, files: int, day: int = 30) -> Lake:
    lake = Lake(tmp_path / "lake")
    for n in range(files):
        lake.write("network", network_rows([probe(f"192.0.2.{n}", day)] * 4), f"run-{day}-{n}")
    return lake


def everything_in(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


def test_a_compaction_stopped_by_a_full_disk_leaves_no_half_written_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lake = lake_of(tmp_path, 3)
    (part,) = lake.partitions("network")
    before = everything_in(Path(part.path))
    write_table = pq.ParquetWriter.write_table
    calls = []

    def disk_fills(self: pq.ParquetWriter, table: pa.Table, *args: Any, **kwargs: Any) -> None:
        calls.append(table.num_rows)
        if len(calls) == 2:
            raise OSError(errno.ENOSPC, "No space left on device")
        write_table(self, table, *args, **kwargs)

    monkeypatch.setattr(pq.ParquetWriter, "write_table", disk_fills)
    with pytest.raises(OSError, match="No space left"):
        lake.compact("network", file_rows=4)  # one new file per old one
    monkeypatch.undo()
    # The new file written whole and the one cut off are gone: nothing hidden stays.
    assert everything_in(Path(part.path)) == before
    assert lake.read("network").num_rows == 12


def test_a_file_an_older_version_wrote_with_another_type_is_named_by_compaction(
    tmp_path: Path,
) -> None:
    lake = lake_of(tmp_path, 2)
    (part,) = lake.partitions("network")
    older = lake.read("network")
    where = older.schema.get_field_index("destination_port")
    older = older.set_column(
        where, pa.field("destination_port", pa.string()), pa.array(["ssh"] * older.num_rows)
    )
    pq.write_table(older, f"{part.path}/zz-older.parquet")  # sorts last: read after the others
    before = everything_in(Path(part.path))
    with pytest.raises(LakeError, match=r"zz-older\.parquet: cannot be read as the network"):
        lake.compact("network", file_rows=4)
    assert everything_in(Path(part.path)) == before
    result = CliRunner().invoke(lake_group, ["compact", str(lake.root)])
    assert result.exit_code == 2
    (line,) = result.output.strip().splitlines()
    assert line.startswith("reconwatch: error:") and "zz-older.parquet" in line
    assert "Traceback" not in result.output


def test_retention_is_not_held_up_by_a_damaged_file_in_a_day_it_keeps(tmp_path: Path) -> None:
    lake = lake_of(tmp_path, 2, day=1)
    for n in range(2):
        lake.write("network", network_rows([probe(f"192.0.2.{n}", 30)] * 4), f"new-{n}")
    kept = lake.partitions("network", dt.date(2026, 9, 30))[0]
    damaged = sorted(Path(kept.path).iterdir())[0]
    damaged.write_bytes(damaged.read_bytes()[:100])
    (dropped,) = lake.retain(10, today=dt.date(2026, 10, 1))
    assert dropped.name == "network/event_date=2026-09-01" and dropped.rows == 8
    assert not Path(dropped.path).exists() and damaged.exists()
    # A damaged file in a day it drops is still an error naming it, and drops nothing.
    result = CliRunner().invoke(
        lake_group, ["retain", str(lake.root), "--days", "1", "--today", "2026-10-05"]
    )
    assert result.exit_code == 2 and damaged.name in result.output
    assert damaged.exists()


class _Killed(Exception):
    """The compacting process dies here."""


class _Local(pafs.FileSystemHandler):
    """The local filesystem, with two faults to order: ``on_list`` runs once, when a
    table folder is first listed recursively (a compaction working in the middle
    of a reader's own work); every call of the method ``die_at`` raises ``_Killed``."""

    def __init__(
        self, on_list: Any = None, die_at: str | None = None, on_journals: Any = None
    ) -> None:
        self.inner = pafs.LocalFileSystem()
        self.on_list = on_list
        self.die_at = die_at
        #: Runs once, when the compaction journals are first listed.
        self.on_journals = on_journals

    def _check(self, name: str) -> None:
        if name == self.die_at:
            raise _Killed(name)

    def get_type_name(self) -> str:
        return "local-with-faults"

    def get_file_info(self, paths: list[str]) -> list[pafs.FileInfo]:
        return list(self.inner.get_file_info(paths))

    def get_file_info_selector(self, selector: pafs.FileSelector) -> list[pafs.FileInfo]:
        if selector.recursive and self.on_list is not None:
            hook, self.on_list = self.on_list, None
            hook()
        if selector.base_dir.endswith("/_compacting") and self.on_journals is not None:
            hook, self.on_journals = self.on_journals, None
            hook()
        return list(self.inner.get_file_info(selector))

    def create_dir(self, path: str, recursive: bool) -> None:
        self.inner.create_dir(path, recursive=recursive)

    def delete_dir(self, path: str) -> None:
        self.inner.delete_dir(path)

    def delete_dir_contents(self, path: str, missing_dir_ok: bool = False) -> None:
        self.inner.delete_dir_contents(path, missing_dir_ok=missing_dir_ok)

    def delete_root_dir_contents(self) -> None:
        raise NotImplementedError

    def delete_file(self, path: str) -> None:
        self._check("delete_file")
        self.inner.delete_file(path)

    def move(self, src: str, dest: str) -> None:
        self._check("move")
        self.inner.move(src, dest)

    def copy_file(self, src: str, dest: str) -> None:
        self.inner.copy_file(src, dest)

    def open_input_stream(self, path: str) -> Any:
        return self.inner.open_input_stream(path)

    def open_input_file(self, path: str) -> Any:
        return self.inner.open_input_file(path)

    def open_output_stream(self, path: str, metadata: Any = None) -> Any:
        return self.inner.open_output_stream(path)

    def open_append_stream(self, path: str, metadata: Any = None) -> Any:
        return self.inner.open_append_stream(path)

    def normalize_path(self, path: str) -> str:
        return path


def faulty(lake: Lake, **faults: Any) -> Lake:
    lake.fs = pafs.PyFileSystem(_Local(**faults))
    return lake


def compaction(tmp_path: Path, die_at: str | None) -> Any:
    """A compaction of the lake, run to its end or killed at its first ``die_at`` call."""

    def run() -> None:
        with contextlib.suppress(_Killed):
            faulty(Lake(tmp_path / "lake"), die_at=die_at).compact("network")

    return run


READERS = {
    "dataset": lambda lake: lake.dataset("network").count_rows(),
    "info": lambda lake: sum(p.rows for p in lake.partitions("network")),
}


@pytest.mark.parametrize("reader", sorted(READERS))
@pytest.mark.parametrize("die_at", [None, "move", "delete_file"])
def test_a_reader_listing_while_a_compaction_swaps_files_sees_each_row_once(
    tmp_path: Path, die_at: str | None, reader: str
) -> None:
    # The compaction runs just as the reader lists the table's files: to its
    # end, or killed before its new file is in place (move), or after, before
    # the old files go (delete_file).
    lake_of(tmp_path, 3)
    seen = READERS[reader](faulty(Lake(tmp_path / "lake"), on_list=compaction(tmp_path, die_at)))
    assert seen == 12
    assert READERS[reader](Lake(tmp_path / "lake")) == 12


def test_a_compaction_cut_short_is_settled_whatever_the_lake_is_called_next(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lake_of(tmp_path, 3)
    # Compacted as "lake" from its parent folder (a cron job's relative path),
    # killed after its new file is in place, before the old ones go...
    monkeypatch.chdir(tmp_path)
    compaction(Path("."), "delete_file")()
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    # ... then read and compacted by its absolute path from another folder.
    lake = Lake(tmp_path / "lake")
    assert lake.read("network").num_rows == 12
    assert lake.recover() == 1
    (part,) = lake.partitions("network")
    assert part.files == 1 and lake.read("network").num_rows == 12


@pytest.mark.parametrize("reader", sorted(READERS))
def test_a_compaction_finishing_between_the_listing_and_the_journals_is_not_seen_twice(
    tmp_path: Path, reader: str
) -> None:
    # The compaction has its new file in place and its old files still there
    # when the reader lists them; it deletes the old files and its journal
    # before the reader reads the journals (nothing then says which is which).
    lake_of(tmp_path, 3)
    compaction(tmp_path, "delete_file")()

    def finish() -> None:
        assert Lake(tmp_path / "lake").recover() == 1

    seen = READERS[reader](faulty(Lake(tmp_path / "lake"), on_journals=finish))
    assert seen == 12
    assert READERS[reader](Lake(tmp_path / "lake")) == 12


def test_a_journal_this_version_writes_is_honoured_by_the_previous_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Killed after its new file is in place, before the old ones go; then read
    # by the previous version (another host, a rollback), which knows journals
    # of the lake's paths as it lists them, and no "relative" paths.
    lake_of(tmp_path, 3)
    journals = tmp_path / "lake" / "_compacting"
    monkeypatch.chdir(tmp_path)
    compaction(Path("."), "delete_file")()
    (path,) = journals.iterdir()
    journal = json.loads(path.read_text())
    lake = Lake("lake")  # as the compaction named it
    listed = {info.path for info in lake._parquet(lake.table_dir("network"))}
    # The previous version: the old files hidden once every new one exists...
    assert set(journal["new"]) <= listed
    assert all(lake.fs.get_file_info(p).type == pafs.FileType.File for p in journal["new"])
    seen = listed - set(journal["old"])
    assert sum(pq.read_metadata(p).num_rows for p in seen) == 12
    # ... and its recovery deletes them: no file lost, none left twice.
    assert set(journal["old"]) == listed - set(journal["new"])
    assert journal["partition"] == lake.partitions("network")[0].path


def test_a_journal_of_the_previous_version_is_honoured_whatever_the_lake_is_called(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The previous version named every path as its lake was given (here
    # absolute); the lake is now opened by a relative path.
    lake = lake_of(tmp_path, 3)
    (part,) = lake.partitions("network")
    old = lake.files("network")
    new = f"{part.path}/compacted-x-000.parquet"
    pq.write_table(pa.concat_tables(pq.read_table(p) for p in old), new)
    (tmp_path / "lake" / "_compacting").mkdir()
    (tmp_path / "lake" / "_compacting" / "x.json").write_text(
        json.dumps({"partition": part.path, "old": old, "new": [new]})
    )
    monkeypatch.chdir(tmp_path)
    relative = Lake("lake")
    assert relative.read("network").num_rows == 12
    assert sum(p.rows for p in relative.partitions("network")) == 12
    assert relative.recover() == 1
    assert relative.files("network") == [
        "lake/network/event_date=2026-09-30/compacted-x-000.parquet"
    ]
    assert relative.read("network").num_rows == 12


def test_a_compaction_reads_its_old_files_in_one_scan(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A dataset and a scan per old file cost half as much again on a partition
    # of thousands of small files (2,000 files of 50 rows: 3.4 s, not 2.0 s).
    lake = lake_of(tmp_path, 5)
    opened = []
    dataset = ds.dataset

    def counted(source: Any, *args: Any, **kwargs: Any) -> ds.Dataset:
        opened.append(source)
        return dataset(source, *args, **kwargs)

    monkeypatch.setattr(ds, "dataset", counted)
    (done,) = lake.compact("network")
    assert done["files_before"] == 5 and done["rows"] == 20
    assert len(opened) == 1
    monkeypatch.undo()
    assert lake.read("network").num_rows == 20


def test_the_file_that_cannot_be_read_is_named_wherever_it_is_in_the_scan(tmp_path: Path) -> None:
    lake = lake_of(tmp_path, 4)
    (part,) = lake.partitions("network")
    second = lake.files("network")[1]
    older = pq.read_table(second)
    where = older.schema.get_field_index("destination_port")
    older = older.set_column(
        where, pa.field("destination_port", pa.string()), pa.array(["ssh"] * older.num_rows)
    )
    pq.write_table(older, second)
    before = everything_in(Path(part.path))
    with pytest.raises(LakeError, match=rf"{Path(second).name}: cannot be read as the network"):
        lake.compact("network", file_rows=4)
    assert everything_in(Path(part.path)) == before
