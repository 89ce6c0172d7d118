"""A lake on object storage: a real S3-compatible server (moto, started by the test).

Ingest (serial and ``--jobs 2``), the hunt, compaction and retention all run
against ``s3://`` through pyarrow's S3 filesystem, and must give what a local
lake gives. DuckDB reads the lake through Arrow datasets, not its httpfs
extension (which it would download at first use: not possible offline).
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto.server import ThreadedMotoServer

from reconwatch.config import Config, load_config
from reconwatch.generate import generate_sample
from reconwatch.hunt import hunt
from reconwatch.ingest.run import IngestOptions, ingest
from reconwatch.lake import PARTITION, Lake

NOW = dt.datetime(2026, 10, 1, tzinfo=dt.UTC)


@pytest.fixture
def s3(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, Any]]:
    """An S3 server on a free port, an empty bucket, and the lake URL under it."""
    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_EC2_METADATA_DISABLED": "true",
    }.items():
        monkeypatch.setenv(key, value)
    # moto keeps one in-memory S3 per process whatever the server: one bucket per test.
    bucket = f"soc-lake-{uuid.uuid4().hex[:8]}"
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one log line per request
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        client = boto3.client("s3", endpoint_url=f"http://{host}:{port}", region_name="us-east-1")
        client.create_bucket(Bucket=bucket)
        url = (
            f"s3://{bucket}/reconwatch?endpoint_override={host}:{port}&scheme=http&region=us-east-1"
        )
        yield url, (client, bucket)
    finally:
        server.stop()


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Config]:
    root = tmp_path_factory.mktemp("s3sample")
    generate_sample(root / "sample", size=3000, seed=5)
    return root / "sample", load_config(root / "sample" / "reconwatch.yaml")


def keys(store: Any) -> list[str]:
    client, bucket = store
    pages = client.get_paginator("list_objects_v2").paginate(Bucket=bucket)
    return [item["Key"] for page in pages for item in page.get("Contents", [])]


def case_view(case: Any) -> tuple[Any, ...]:
    return (case.id, case.sources, case.detections, case.escalate, case.severity, case.score)


def rows(lake: Lake) -> dict[str, list[dict[str, Any]]]:
    return {
        t: sorted(lake.read(t).to_pylist(), key=lambda r: repr(sorted(r.items())))
        for t in PARTITION
    }


def test_a_hunt_over_an_s3_lake_finds_what_a_local_lake_finds(
    s3: tuple[str, Any],
    sample: tuple[Path, Config],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    url, client = s3
    directory, config = sample
    options = IngestOptions(now=NOW)
    local = hunt([str(directory)], config, lake_dir=tmp_path / "lake", options=options)
    monkeypatch.chdir(tmp_path)  # a lake URL mistaken for a path would appear here
    remote = hunt([str(directory)], config, lake_dir=url, options=options)
    assert local.cases
    assert [case_view(c) for c in remote.cases] == [case_view(c) for c in local.cases]
    stored = keys(client)
    assert any(k.startswith("reconwatch/network/event_date=") for k in stored)
    assert any(k.startswith("reconwatch/_runs/") for k in stored)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["lake"]
    assert rows(Lake(url)) == rows(Lake(tmp_path / "lake"))


def test_parallel_ingest_compaction_and_retention_on_s3(
    s3: tuple[str, Any], sample: tuple[Path, Config], tmp_path: Path
) -> None:
    url, client = s3
    directory, config = sample
    small = IngestOptions(now=NOW, block_bytes=32 * 1024, sniff_bytes=4096)
    expected = Lake(tmp_path / "lake")
    serial = ingest([str(directory)], expected, config, small)
    lake = Lake(url)
    pooled = ingest([str(directory)], lake, config, IngestOptions(**{**small.__dict__, "jobs": 2}))
    assert [vars(f) for f in pooled.files] == [vars(f) for f in serial.files]
    assert rows(lake) == rows(expected)

    before = lake.partitions()
    assert max(p.files for p in before) > 3
    lake.compact()
    after = lake.partitions()
    assert [(p.name, p.rows) for p in after] == [(p.name, p.rows) for p in before]
    assert all(p.files == 1 for p in after)
    assert rows(lake) == rows(expected)
    # (the folder marker S3 filesystems leave for "_compacting/" is no journal)
    assert not [
        k
        for k in keys(client)
        if "/.compact-" in k or (k.endswith(".json") and "_compacting/" in k)
    ]

    first_day = min(p.day for p in after if p.table == "network")
    dropped = lake.retain(1, today=first_day + dt.timedelta(days=2))
    assert [p.name for p in dropped] == [
        p.name for p in after if p.day < first_day + dt.timedelta(days=1)
    ]
    assert not [k for k in keys(client) if f"event_date={first_day.isoformat()}" in k]
    assert [m["kind"] for m in lake.maintenance()] == ["compact", "retain"]
