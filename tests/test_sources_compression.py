"""Compressed inputs are recognised by their magic bytes, whatever the file is called."""

from __future__ import annotations

import bz2
import gzip
import zlib
from pathlib import Path

import pytest

from reconwatch.config import Config
from reconwatch.ingest.run import ingest
from reconwatch.ingest.sources import Source, expand, read_batches, zstd_module
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
        lambda data: zstd_module().compress(data),
    ],
    ids=["bzip2", "gzip", "zstd"],
)
def test_compressed_file_reads_as_its_lines(tmp_path: Path, compress: object) -> None:
    path = tmp_path / "rotated.1"  # no telling suffix: the magic bytes decide
    path.write_bytes(compress(TEXT))  # type: ignore[operator]
    assert _lines(path) == EXPECTED


def test_zstd_of_several_frames_reads_all_of_them(tmp_path: Path) -> None:
    path = tmp_path / "cat.zst"
    path.write_bytes(zstd_module().compress(b"a\nb\n") + zstd_module().compress(b"c\nd\n"))
    assert _lines(path) == ["a", "b", "c", "d"]


def test_plain_text_starting_with_bzh_is_not_bzip2(tmp_path: Path) -> None:
    path = tmp_path / "plain.log"
    path.write_bytes(b"BZh is how bzip2 starts\nsecond\n")
    assert _lines(path) == ["BZh is how bzip2 starts", "second"]


@pytest.mark.parametrize("suffix", ["bz2", "zst"])
def test_corrupt_compressed_input_is_an_error_not_a_crash(tmp_path: Path, suffix: str) -> None:
    good = bz2.compress(TEXT) if suffix == "bz2" else zstd_module().compress(TEXT)
    path = tmp_path / f"broken.{suffix}"
    path.write_bytes(good[:40] + b"\x00" * 200 + good[240:])
    run = ingest([str(path)], Lake(tmp_path / "lake"), Config())
    stats = run.files[0]
    assert stats.error is not None
    assert str(path) in stats.error
    assert stats.lines == stats.parsed + stats.rejected + stats.skipped


def test_sources_expand_keeps_compressed_files(tmp_path: Path) -> None:
    (tmp_path / "a.log.bz2").write_bytes(bz2.compress(b"x\n"))
    (tmp_path / "b.log.zst").write_bytes(zstd_module().compress(b"y\n"))
    names = [Path(s.name).name for s in expand([str(tmp_path)])]
    assert names == ["a.log.bz2", "b.log.zst"]


BIG = b"".join(f"Nov 28 04:00:00 gw line {n} of a rotated log\n".encode() for n in range(200_000))


def _readable_prefix(compressed: bytes, suffix: str) -> bytes:
    """What a streaming decompressor gets out of ``compressed`` before it ends."""
    if suffix == "gz":
        return zlib.decompressobj(wbits=31).decompress(compressed)
    return zstd_module().ZstdDecompressor().decompress(compressed)  # type: ignore[no-any-return]


@pytest.mark.parametrize("suffix", ["gz", "zst"])
@pytest.mark.parametrize("lines", [200_000, 2_000])  # many blocks; less than the sniffed head
def test_truncated_compressed_file_keeps_every_readable_line(
    tmp_path: Path, suffix: str, lines: int
) -> None:
    """A file cut short (a copy interrupted, a disk full) keeps all it can give.

    Every whole line a streaming decompressor can still read is counted, and
    the error says where reading stopped and that the line it cut short was
    not read (a cut line can read as another event: an address missing its
    last digit). Reading a whole block at once used to lose the block the
    fault fell in (all of a small file), and zstd's cut went unreported.
    """
    text = BIG[: BIG.index(b"\n", len(BIG) * lines // 200_000 - 1) + 1]
    whole = gzip.compress(text) if suffix == "gz" else zstd_module().compress(text)
    cut = whole[: len(whole) * 3 // 5]
    readable = _readable_prefix(cut, suffix)
    assert len(readable) < len(text) and not readable.endswith(b"\n")
    # gzip gives all but the last few KiB; zstd only whole blocks (128 KiB of
    # text), none of the small file: then there is no line to keep, nor a cut one.
    assert readable if suffix == "gz" or lines > 2_000 else not readable
    expected = readable.count(b"\n")
    path = tmp_path / f"cut.log.{suffix}"
    path.write_bytes(cut)
    (stats,) = ingest([str(path)], Lake(tmp_path / "lake"), Config()).files
    assert stats.lines == expected
    assert stats.error is not None and str(path) in stats.error
    if readable:
        assert f"read failed after line {expected}:" in stats.error
        assert stats.error.endswith("(the line it cut short was not read)")
    else:  # the fault met while the file was opened (its first bytes peeked)
        assert "ended before the end-of-stream marker" in stats.error
    assert stats.lines == stats.parsed + stats.rejected + stats.skipped


def test_a_hunt_over_a_cut_file_warns_in_its_cases_document(tmp_path: Path) -> None:
    from reconwatch.hunt import hunt

    whole = gzip.compress(BIG)
    path = tmp_path / "cut.log.gz"
    path.write_bytes(whole[: len(whole) // 2])
    result = hunt([str(path)], Config(), out_dir=tmp_path / "out")
    (warning,) = result.document()["warnings"]
    assert str(path) in warning and "read failed after line" in warning
