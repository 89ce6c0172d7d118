"""A lake whose files an older version wrote, without a column added since, reads whole."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from conftest import network_rows
from reconwatch import schema
from reconwatch.engine import Engine
from reconwatch.lake import Lake

#: Columns an "older version" did not write (any columns would do).
ADDED = ["tcp_window", "observer_name"]
MIDNIGHT = 1_795_824_000  # 2026-11-28 00:00 UTC


def rows(source: str, count: int, **extra: Any) -> list[dict[str, Any]]:
    return [
        {"source_ip": source, "destination_ip": "203.0.113.10", "destination_port": 1000 + n,
         "seconds": MIDNIGHT + n, **extra}
        for n in range(count)
    ]  # fmt: skip


def read(lake: Lake) -> pa.Table:
    engine = Engine(lake)
    try:
        return engine.table("network").to_pyarrow()
    finally:
        engine.close()


@pytest.mark.parametrize("old_first", [True, False])
def test_files_without_a_newer_column_read_whole_with_it_null(
    tmp_path: Path, old_first: bool
) -> None:
    """By position, a missing column failed the read (new file first) or was
    dropped from every file (old file first)."""
    old = network_rows(rows("192.0.2.1", 3)).drop_columns(ADDED)
    new = network_rows(rows("192.0.2.2", 2, observer_name="fw1", tcp_window=1024))
    lake = Lake(tmp_path / "lake")
    for name, data in sorted(
        {"a": old if old_first else new, "b": new if old_first else old}.items()
    ):
        lake.write("network", data, name)
    table = read(lake)
    assert table.schema.names == schema.NETWORK.names
    assert table.schema.field("tcp_window").type == schema.NETWORK.field("tcp_window").type
    seen = sorted((r["source_ip"], r["observer_name"], r["tcp_window"]) for r in table.to_pylist())
    assert seen == [("192.0.2.1", None, None)] * 3 + [("192.0.2.2", "fw1", 1024)] * 2


def test_a_column_no_file_has_reads_as_typed_nulls(tmp_path: Path) -> None:
    lake = Lake(tmp_path / "lake")
    lake.write("network", network_rows(rows("192.0.2.1", 4)).drop_columns(ADDED), "a")
    table = read(lake)
    assert table.num_rows == 4
    for name in ADDED:
        assert table.schema.field(name).type == schema.NETWORK.field(name).type
        assert table.column(name).null_count == 4
