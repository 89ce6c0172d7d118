"""Shared fixtures: the read-only sample data beside the project, and small builders."""

from __future__ import annotations

import datetime as dt
import secrets
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import ibis
import pyarrow as pa
import pytest

from reconwatch import schema
from reconwatch.config import Config
from reconwatch.lake import Lake

ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = ROOT.parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """../shared/data; a test that needs it fails (never skips) when it is missing."""
    if not SHARED_DATA.is_dir():
        pytest.fail(
            f"shared sample data not found at {SHARED_DATA}: check out shared/ beside the project"
        )
    return SHARED_DATA


@pytest.fixture(scope="session")
def crowdsec_hub(shared_data: Path) -> Path:
    return shared_data / "formats" / "crowdsec-hub"


BASE_TIME = dt.datetime(2026, 9, 30, 10, 0, 0, tzinfo=dt.UTC)


def table_rows(
    table_schema: pa.Schema, defaults: dict[str, Any], rows: list[dict[str, Any]]
) -> pa.Table:
    """A table of ``table_schema`` from partial rows over ``defaults``.

    Line numbers run 1..n; ``seconds`` (offset from BASE_TIME) may stand in for
    ``timestamp``; columns named nowhere are null.
    """
    full = []
    for number, row in enumerate(rows, start=1):
        item = {**defaults, "log_line": number, **row}
        seconds = item.pop("seconds", 0)
        item.setdefault("timestamp", BASE_TIME + dt.timedelta(seconds=seconds))
        full.append(item)
    columns = {
        field.name: pa.array([r.get(field.name) for r in full], type=field.type)
        for field in table_schema
    }
    return pa.Table.from_pydict(columns, schema=table_schema)


def sample_lake(root: Path, seed: int) -> tuple[Lake, Config]:
    """Every log family's generated sample (8,000 lines) in a lake under ``root``,
    with the sample's config (its site, exercises and thresholds)."""
    from reconwatch.cli import SAMPLE_DIRS
    from reconwatch.config import load_config
    from reconwatch.generate import ALL_FAMILIES, generate_sample
    from reconwatch.ingest.run import ingest

    generate_sample(root / "sample", size=8000, seed=seed, families=ALL_FAMILIES)
    config = load_config(root / "sample" / "reconwatch.yaml")
    lake = Lake(root / "lake")
    ingest([str(root / "sample" / d) for d in SAMPLE_DIRS], lake, config)
    return lake, config


def network_rows(rows: list[dict[str, Any]]) -> pa.Table:
    """A ``network`` table from partial rows: by default TCP SYN dropped by a firewall."""
    defaults: dict[str, Any] = {
        "source_port": 40000,
        "network_transport": "tcp",
        "tcp_flags": "SYN",
        "event_action": "dropped",
        "connection_outcome": "failed",
        "event_dataset": "netfilter",
        "log_file": "test.log",
    }
    return table_rows(schema.NETWORK, defaults, rows)


class _SparkOptions(ibis.config.Config):  # type: ignore[misc]
    """What the PySpark backend registers on import; its SQL compiler reads it."""

    treat_nan_as_null: bool = False


def spark_sql_options(monkeypatch: pytest.MonkeyPatch) -> None:
    """Let Ibis write Spark SQL (``ibis.to_sql(..., dialect="pyspark")``) without pyspark."""
    if ibis.options.pyspark is None:
        monkeypatch.setattr(ibis.options, "pyspark", _SparkOptions())


@contextmanager
def scratch_netns(prefix: str) -> Iterator[str]:
    """A throwaway network namespace (root): nft runs there, never on the host's ruleset."""
    name = f"{prefix}-{secrets.token_hex(3)}"
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        yield name
    finally:
        subprocess.run(["ip", "netns", "delete", name], check=False)
