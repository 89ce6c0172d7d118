"""Compressed inputs are recognised by their magic bytes, whatever the file is called."""

from __future__ import annotations

import bz2
import gzip
from pathlib import Path

import pytest
import zstandard

from reconwatch.config import Config
from reconwatch.ingest.run import ingest
from reconwatch.ingest.sources import Source, expand, read_batches
from reconwatch.lake import Lake

TEXT = b"".join(f"line {n} é\n".encode() for n in range(1, 2001)) + b"last line, no newline"


def _lines(path: Path) -> list[str]:
    stream = Source(str(path), path).open()
    try:
        batches = list(read_batches(stream, b"", block_bytes=4096))
    finally:
        stream.close()
    return [line for batch in batches for line in batch.column("line").to_pylist()]


EXPECTED = [f"line {n} é" for n in range(1, 2001)] + ["last line, no newline"]


@pytest.mark.parametrize(
    "compress",
    [
        bz2.compress,
        gzip.compress,
        lambda data: zstandard.ZstdCompressor().compress(data),
    ],
    ids=["bzip2", "gzip", "zstd"],
)
def test_compressed_file_reads_as_its_lines(tmp_path: Path, compress: object) -> None:
    path = tmp_path / "rotated.1"  # no telling suffix: the magic bytes decide
    path.write_bytes(compress(TEXT))  # type: ignore[operator]
    assert _lines(path) == EXPECTED


def test_zstd_of_several_frames_reads_all_of_them(tmp_path: Path) -> None:
    compressor = zstandard.ZstdCompressor()
    path = tmp_path / "cat.zst"
    path.write_bytes(compressor.compress(b"a\nb\n") + compressor.compress(b"c\nd\n"))
    assert _lines(path) == ["a", "b", "c", "d"]


def test_plain_text_starting_with_bzh_is_not_bzip2(tmp_path: Path) -> None:
    path = tmp_path / "plain.log"
    path.write_bytes(b"BZh is how bzip2 starts\nsecond\n")
    assert _lines(path) == ["BZh is how bzip2 starts", "second"]


@pytest.mark.parametrize("suffix", ["bz2", "zst"])
def test_corrupt_compressed_input_is_an_error_not_a_crash(tmp_path: Path, suffix: str) -> None:
    good = bz2.compress(TEXT) if suffix == "bz2" else zstandard.ZstdCompressor().compress(TEXT)
    path = tmp_path / f"broken.{suffix}"
    path.write_bytes(good[:40] + b"\x00" * 200 + good[240:])
    run = ingest([str(path)], Lake(tmp_path / "lake"), Config())
    stats = run.files[0]
    assert stats.error is not None
    assert str(path) in stats.error
    assert stats.lines == stats.parsed + stats.rejected + stats.skipped


def test_sources_expand_keeps_compressed_files(tmp_path: Path) -> None:
    (tmp_path / "a.log.bz2").write_bytes(bz2.compress(b"x\n"))
    (tmp_path / "b.log.zst").write_bytes(zstandard.ZstdCompressor().compress(b"y\n"))
    names = [Path(s.name).name for s in expand([str(tmp_path)])]
    assert names == ["a.log.bz2", "b.log.zst"]
