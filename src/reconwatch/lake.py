"""The Parquet lake: one folder per normalised table, partitioned by day.

Layout::

    LAKE/network/event_date=2026-09-30/<run>-<file>-<batch>-0.parquet
    LAKE/rejects/ingest_date=2026-11-28/<run>-<file>-<batch>-0.parquet
    LAKE/_runs/<run>.json          per-file line accounting of each ingest run

Each ingest run appends new files and never rewrites old ones, so a crash
mid-run leaves earlier runs intact. Later stages read the lake, nothing else.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from reconwatch import schema

PARTITION = {
    "network": "event_date",
    "dns": "event_date",
    "http": "event_date",
    "auth": "event_date",
    "alert": "event_date",
    "rejects": "ingest_date",
}


@dataclass
class FileStats:
    """Line accounting for one input: ``lines == parsed + rejected + skipped``."""

    name: str
    format: str | None = None
    lines: int = 0
    parsed: int = 0
    rejected: int = 0
    skipped: int = 0
    #: A reason the input could not be read to its end (unreadable, corrupt gzip...).
    error: str | None = None
    reject_reasons: dict[str, int] = field(default_factory=dict)


@dataclass
class RunStats:
    run_id: str
    started: str
    files: list[FileStats] = field(default_factory=list)

    @property
    def totals(self) -> FileStats:
        total = FileStats(name="total")
        for f in self.files:
            total.lines += f.lines
            total.parsed += f.parsed
            total.rejected += f.rejected
            total.skipped += f.skipped
            for reason, count in f.reject_reasons.items():
                total.reject_reasons[reason] = total.reject_reasons.get(reason, 0) + count
        return total

    def to_json(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "started": self.started,
            "files": [asdict(f) for f in self.files],
            "totals": asdict(self.totals),
        }


class Lake:
    """A lake folder; create it with ``Lake(path)``, it is made on first write."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def new_run_id(self) -> str:
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S")
        return f"{stamp}-{uuid.uuid4().hex[:8]}"

    def table_dir(self, table: str) -> Path:
        return self.root / table

    def write(self, table: str, data: pa.Table, basename: str) -> None:
        """Append ``data`` (already conformed to the table's schema) to the lake."""
        if data.num_rows == 0:
            return
        column = PARTITION[table]
        if column == "event_date":
            # A cast to date is far cheaper than strftime and names folders alike.
            dates = data.column("timestamp").cast(pa.date32())
        else:
            today = dt.datetime.now(dt.UTC).date()
            dates = pa.repeat(pa.scalar(today, pa.date32()), data.num_rows)
        data = data.append_column(column, dates)
        pq.write_to_dataset(
            data,
            root_path=str(self.table_dir(table)),
            partition_cols=[column],
            basename_template=f"{basename}-{{i}}.parquet",
            existing_data_behavior="overwrite_or_ignore",
        )

    def files(self, table: str) -> list[Path]:
        directory = self.table_dir(table)
        if not directory.exists():
            return []
        return sorted(directory.rglob("*.parquet"))

    def read(self, table: str) -> pa.Table:
        """The whole table as Arrow (for small tables and tests; detections use the engine)."""
        files = self.files(table)
        if not files:
            return schema.empty(schema.TABLES[table])
        dataset = ds.dataset([str(f) for f in files], format="parquet", schema=schema.TABLES[table])
        return dataset.to_table()

    def save_run(self, run: RunStats) -> Path:
        runs = self.root / "_runs"
        runs.mkdir(parents=True, exist_ok=True)
        path = runs / f"{run.run_id}.json"
        path.write_text(json.dumps(run.to_json(), indent=2), encoding="utf-8")
        return path

    def runs(self) -> list[dict[str, Any]]:
        runs = self.root / "_runs"
        if not runs.exists():
            return []
        return [json.loads(p.read_text(encoding="utf-8")) for p in sorted(runs.glob("*.json"))]
