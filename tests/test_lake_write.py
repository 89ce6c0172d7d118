"""Lake.write: one file per day partition, whether a batch holds one day or several."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from conftest import network_rows
from reconwatch import schema
from reconwatch.lake import NO_STATISTICS, Lake, plain_columns

DAY = 86400


def rows(seconds: list[float]) -> pa.Table:
    return network_rows(
        [
            {
                "source_ip": f"198.51.100.{n % 250}",
                "destination_ip": "203.0.113.10",
                "destination_port": 22,
                "seconds": s,
            }
            for n, s in enumerate(seconds)
        ]
    )


def written(lake: Lake) -> dict[str, pa.Table]:
    """Each file of the network table (path under the table folder) as read back."""
    base = Path(lake.table_dir("network"))
    return {str(Path(f).relative_to(base)): pq.read_table(f) for f in lake.files("network")}


def test_a_batch_of_one_day_is_one_file_in_its_day_folder(tmp_path: Path) -> None:
    lake = Lake(tmp_path / "lake")
    data = rows([0, 10, 20, 3600])
    day = data.column("timestamp")[0].as_py().date().isoformat()
    lake.write("network", data, "batch")
    files = written(lake)
    assert list(files) == [f"event_date={day}/batch-0.parquet"]
    (table,) = files.values()
    # The partition column is the folder's name, not a column of the file.
    assert table.column_names == schema.TABLES["network"].names
    assert table.equals(data)
    # The same dictionaries as for every batch: none for the near-unique columns.
    meta = pq.read_metadata(f"{lake.table_dir('network')}/event_date={day}/batch-0.parquet")
    columns = [meta.row_group(0).column(i) for i in range(meta.num_columns)]
    assert "source_ip" in plain_columns("network")
    for column in columns:
        name = column.path_in_schema
        assert ("RLE_DICTIONARY" in column.encodings) == (name not in plain_columns("network")), (
            name
        )
        # Min and max only where they can rule a row group out (not addresses, not text).
        has_min_max = column.statistics is not None and column.statistics.has_min_max
        if name in NO_STATISTICS:
            assert not has_min_max, name
        elif name in ("timestamp", "log_line", "destination_port", "tcp_flags"):
            assert has_min_max, name
    read = lake.read("network")
    assert read.column("timestamp").equals(data.column("timestamp"))
    # Written again under the same name: replaced, not added to.
    lake.write("network", rows([5]), "batch")
    assert [t.num_rows for t in written(lake).values()] == [1]


def test_a_batch_across_midnight_is_one_file_per_day(tmp_path: Path) -> None:
    lake = Lake(tmp_path / "lake")
    data = rows([0, 10, DAY, DAY + 5, 2 * DAY])
    lake.write("network", data, "batch")
    days = sorted({t.date().isoformat() for t in data.column("timestamp").to_pylist()})
    files = written(lake)
    assert list(files) == [f"event_date={d}/batch-0.parquet" for d in days]
    assert [t.num_rows for t in files.values()] == [2, 2, 1]
    assert pa.concat_tables(files.values()).sort_by("log_line").equals(data.sort_by("log_line"))


def test_a_batch_across_midnight_is_written_with_the_same_parquet_options(tmp_path: Path) -> None:
    lake = Lake(tmp_path / "lake")
    lake.write("network", rows([0, DAY]), "batch")
    for path in lake.files("network"):
        meta = pq.read_metadata(path)
        columns = {meta.schema.column(i).name: meta.row_group(0).column(i) for i in range(22)}
        assert "RLE_DICTIONARY" not in columns["source_ip"].encodings
        assert "RLE_DICTIONARY" in columns["destination_ip"].encodings
        stats = columns["destination_ip"].statistics
        assert stats is None or not stats.has_min_max
        assert columns["timestamp"].statistics.has_min_max


def test_a_day_python_cannot_hold_is_named_as_arrow_names_it(tmp_path: Path) -> None:
    """Year 0 fits Arrow's dates, not Python's: the folder is still written."""
    lake = Lake(tmp_path / "lake")
    data = rows([0])
    year_zero = pa.array([-62135596800 - 300 * DAY], pa.int64()).cast(pa.timestamp("s", tz="UTC"))
    data = data.set_column(0, "timestamp", year_zero.cast(data.schema.field("timestamp").type))
    lake.write("network", data, "batch")
    assert list(written(lake)) == ["event_date=0000-03-07/batch-0.parquet"]
