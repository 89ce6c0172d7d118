"""Reading inputs: line splitting, numbering, compression, directories, stdin."""

from __future__ import annotations

import gzip
import io
import subprocess
import sys
from pathlib import Path

import pytest

from reconwatch.ingest.sources import InputError, expand, head_lines, read_batches, read_head


def lines_of(data: bytes, block: int = 1 << 20) -> list[tuple[int, str]]:
    stream = io.BufferedReader(io.BytesIO(data))  # type: ignore[arg-type]
    out: list[tuple[int, str]] = []
    for batch in read_batches(stream, block_bytes=block):
        out += list(
            zip(batch.column("log_line").to_pylist(), batch.column("line").to_pylist(), strict=True)
        )
    return out


def test_lines_are_numbered_from_one_and_keep_blank_lines() -> None:
    assert lines_of(b"a\n\nc\n") == [(1, "a"), (2, ""), (3, "c")]


def test_last_line_without_newline_is_kept() -> None:
    assert lines_of(b"a\nb") == [(1, "a"), (2, "b")]


def test_crlf_is_stripped() -> None:
    assert lines_of(b"a\r\nb\r\n") == [(1, "a"), (2, "b")]


def test_empty_input_yields_no_lines() -> None:
    assert lines_of(b"") == []


def test_invalid_utf8_is_replaced_not_lost() -> None:
    assert lines_of(b"ok\n\xff\xfebad\n") == [(1, "ok"), (2, "\ufffd\ufffdbad")]


@pytest.mark.parametrize("block", [1, 2, 3, 7, 64])
def test_block_boundaries_never_split_or_renumber_lines(block: int) -> None:
    data = b"".join(f"line {i} {'x' * (i % 5)}\n".encode() for i in range(1, 40))
    expected = [(i, f"line {i} {'x' * (i % 5)}") for i in range(1, 40)]
    assert lines_of(data, block) == expected


def test_head_is_passed_back_without_loss() -> None:
    stream = io.BufferedReader(io.BytesIO(b"one\ntwo\nthree"))  # type: ignore[arg-type]
    head = read_head(stream)
    assert head_lines(head) == ["one", "two", "three"]
    got = [line for b in read_batches(stream, head) for line in b.column("line").to_pylist()]
    assert got == ["one", "two", "three"]


def test_directories_are_read_recursively_in_name_order_without_hidden_files(
    tmp_path: Path,
) -> None:
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "2.log").write_text("x\n")
    (tmp_path / "a.log").write_text("x\n")
    (tmp_path / ".state").write_text("x\n")
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "c.log").write_text("x\n")
    names = [Path(s.name).relative_to(tmp_path).as_posix() for s in expand([str(tmp_path)])]
    assert names == ["a.log", "b/2.log"]


def test_missing_path_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"nope\.log: no such file"):
        expand([str(tmp_path / "nope.log")])


def test_gzip_is_detected_by_content_not_name(tmp_path: Path) -> None:
    path = tmp_path / "rotated.1"
    path.write_bytes(gzip.compress(b"first\nsecond\n"))
    (source,) = expand([str(path)])
    stream = source.open()
    got = [x for b in read_batches(stream, read_head(stream)) for x in b.column("line").to_pylist()]
    assert got == ["first", "second"]


def test_stdin_is_a_source() -> None:
    code = (
        "from reconwatch.ingest.sources import expand, read_batches, read_head\n"
        "(s,) = expand(['-']); st = s.open(); h = read_head(st)\n"
        "print(sum(b.num_rows for b in read_batches(st, h)))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], input=b"a\nb\nc\n", capture_output=True, check=True
    )
    assert out.stdout.strip() == b"3"
