"""The query engine behind the detections: an Ibis backend over the Parquet lake.

DuckDB (embedded) is the default. Detections receive Ibis tables and return
Ibis expressions, so the same code can later run on PySpark. Keep detection
code to the portable subset: tumbling windows by integer division of epoch
seconds, GROUP BY with COUNT(DISTINCT), window functions over a partition with
an ORDER BY, no regex after ingest.
"""

from __future__ import annotations

from typing import Any

import ibis
import ibis.expr.types as ir

from reconwatch import schema
from reconwatch.config import EngineConfig
from reconwatch.lake import Lake

ENGINES = ("duckdb",)


class Engine:
    """An Ibis connection bound to one lake."""

    def __init__(
        self, lake: Lake, config: EngineConfig | None = None, kind: str = "duckdb"
    ) -> None:
        if kind not in ENGINES:
            raise ValueError(f"unknown engine {kind!r}; available: {', '.join(ENGINES)}")
        config = config or EngineConfig()
        self.lake = lake
        self.kind = kind
        spill = lake.root / "_tmp"
        spill.mkdir(parents=True, exist_ok=True)
        settings: dict[str, Any] = {
            "memory_limit": config.memory_limit,
            "temp_directory": str(spill),
        }
        if config.threads is not None:
            settings["threads"] = config.threads
        self.con: Any = ibis.duckdb.connect(**settings)

    def table(self, name: str) -> ir.Table:
        """A lake table as an Ibis table (empty, with the right schema, if absent)."""
        files = self.lake.files(name)
        if not files:
            return ibis.memtable(schema.empty(schema.TABLES[name]))
        table = self.con.read_parquet([str(f) for f in files], hive_partitioning=True)
        # Select the schema's columns so partition columns and evolution never leak.
        return table.select(*schema.TABLES[name].names)

    def tables(self) -> dict[str, ir.Table]:
        """Every event table the lake holds data for (``network`` always, maybe empty)."""
        present = {
            name: self.table(name)
            for name in schema.TABLES
            if name != "rejects" and self.lake.files(name)
        }
        present.setdefault("network", self.table("network"))
        return present

    def close(self) -> None:
        self.con.disconnect()
