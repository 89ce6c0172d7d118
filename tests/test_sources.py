"""Reading inputs: line splitting, numbering, compression, directories, stdin."""

from __future__ import annotations

import gzip
import io
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reconwatch.ingest.sources import (
    InputError,
    ReadAhead,
    expand,
    head_lines,
    read_batches,
    read_head,
    utf16_without_bom,
)


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


def test_batches_kept_by_the_caller_stay_intact_while_later_blocks_are_read() -> None:
    # read_batches reads every block into one reused buffer: a batch that still
    # pointed into it would change as later blocks are read.
    lines = [f"line {i} " + "y" * (i * 7 % 90) for i in range(300)]
    lines[40] = "z" * 5000  # longer than a block: the buffer grows
    lines[41] = "crlf only in this block\r"
    lines[200] = "bad \udcff utf-8"
    data = "\n".join(lines).encode("utf-8", "surrogateescape") + b"\n"
    stream = io.BufferedReader(io.BytesIO(data))  # type: ignore[arg-type]
    head = read_head(stream, 300)
    batches = list(read_batches(stream, head, block_bytes=700))
    assert len(batches) > 20
    got = [line for batch in batches for line in batch.column("line").to_pylist()]
    numbers = [n for batch in batches for n in batch.column("log_line").to_pylist()]
    expected = [line.rstrip("\r").replace("\udcff", "\ufffd") for line in lines]
    assert got == expected
    assert numbers == list(range(1, 301))


def test_read_ahead_gives_every_batch_in_order_and_one_read_ahead_at_most() -> None:
    lines = [f"line {i} " + "y" * (i * 7 % 90) for i in range(300)]
    data = "\n".join(lines).encode() + b"\n"
    read: list[int] = []

    def counted() -> Iterator[pa.Table]:
        stream = io.BufferedReader(io.BytesIO(data))  # type: ignore[arg-type]
        for batch in read_batches(stream, block_bytes=700):
            read.append(batch.num_rows)
            yield batch

    with ReadAhead(counted()) as batches:
        got: list[str] = []
        for number, batch in enumerate(batches, start=1):
            # The batch handed over, and the next one at most, have been read.
            assert number <= len(read) <= number + 1
            got += batch.column("line").to_pylist()
    assert got == lines
    assert len(read) > 20


def test_read_ahead_raises_a_read_error_after_the_batches_before_it() -> None:
    def failing() -> Iterator[pa.Table]:
        yield pa.table({"line": ["a"]})
        yield pa.table({"line": ["b"]})
        raise OSError("disk gone")

    batches = ReadAhead(failing())
    got = [next(batches).column("line")[0].as_py(), next(batches).column("line")[0].as_py()]
    assert got == ["a", "b"]
    with pytest.raises(OSError, match="disk gone"):
        next(batches)
    with pytest.raises(StopIteration):  # the error ended the batches
        next(batches)
    batches.close()


def test_closing_read_ahead_waits_for_the_read_in_flight() -> None:
    started, release = threading.Event(), threading.Event()
    finished: list[bool] = []

    def slow() -> Iterator[pa.Table]:
        yield pa.table({"line": ["a"]})
        started.set()
        release.wait(10)
        finished.append(True)
        yield pa.table({"line": ["b"]})

    batches = ReadAhead(slow())
    assert next(batches).num_rows == 1
    assert started.wait(10)  # the second batch is being read
    threading.Timer(0.2, release.set).start()
    batches.close()
    assert finished == [True]  # close() returned only after the read ended
    with pytest.raises(StopIteration):
        next(batches)


def test_closing_read_ahead_closes_the_reader_left_part_way() -> None:
    closed: list[bool] = []

    def reader() -> Iterator[pa.Table]:
        try:
            for line in "abc":
                yield pa.table({"line": [line]})
        finally:
            closed.append(True)

    batches = ReadAhead(reader())
    assert next(batches).num_rows == 1
    batches.close()
    assert closed == [True]  # while ``batches`` is still referenced


def test_a_raw_stream_with_only_read_is_read_whole() -> None:
    class OnlyRead(io.RawIOBase):
        """readinto() is RawIOBase's own: it raises NotImplementedError."""

        def __init__(self) -> None:
            self.pieces = [b"a\nb", b"\nc"]

        def readable(self) -> bool:
            return True

        def read(self, size: int = -1) -> bytes:
            return self.pieces.pop(0) if self.pieces else b""

    batches = list(read_batches(OnlyRead()))  # type: ignore[arg-type]
    assert [line for b in batches for line in b.column("line").to_pylist()] == ["a", "b", "c"]


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


def _read(path: Path) -> list[tuple[int, str]]:
    (source,) = expand([str(path)])
    stream = source.open()
    try:
        out: list[tuple[int, str]] = []
        for batch in read_batches(stream, read_head(stream)):
            numbers, lines = batch.column("log_line"), batch.column("line")
            out += list(zip(numbers.to_pylist(), lines.to_pylist(), strict=True))
        return out
    finally:
        stream.close()


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be"])
def test_utf16_with_a_bom_reads_as_utf8_lines(tmp_path: Path, encoding: str) -> None:
    bom = b"\xff\xfe" if encoding == "utf-16-le" else b"\xfe\xff"
    path = tmp_path / "ps.log"
    path.write_bytes(bom + "café\r\n\r\nzürich 𝄞\r\nlast".encode(encoding))
    assert _read(path) == [(1, "café"), (2, ""), (3, "zürich 𝄞"), (4, "last")]


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be"])
def test_utf16_without_a_bom_reads_as_utf8_lines(tmp_path: Path, encoding: str) -> None:
    # .NET's UnicodeEncoding(false, false) and cmd /u write no byte order mark.
    path = tmp_path / "dns.log"
    path.write_bytes("12/7/2026 4:00:00 PM 0A1C PACKET\r\ncafé 𝄞\r\n\r\nlast".encode(encoding))
    assert _read(path) == [
        (1, "12/7/2026 4:00:00 PM 0A1C PACKET"),
        (2, "café 𝄞"),
        (3, ""),
        (4, "last"),
    ]


def test_text_with_zero_bytes_is_not_taken_for_utf16(tmp_path: Path) -> None:
    # A log whose writer crashed leaves a run of zero bytes (pre-allocated
    # space); UTF-8 text never holds them otherwise. Neither is UTF-16.
    path = tmp_path / "kern.log"
    path.write_bytes(b"\0" * 300 + b"after the hole\nnext\n")
    assert _read(path) == [(1, "\0" * 300 + "after the hole"), (2, "next")]
    assert utf16_without_bom(b"\0" * 512) is None
    assert utf16_without_bom(b"plain ASCII log text, no zero") is None
    assert utf16_without_bom("a é".encode("utf-16-le")) is None  # too short to tell
    assert utf16_without_bom("mostly ASCII, with ü".encode("utf-16-be")) == "utf-16-be"
    assert utf16_without_bom("Журнал событий: порт 22".encode("utf-16-le")) is None


def test_utf16_input_is_parsed_like_its_utf8_twin(tmp_path: Path) -> None:
    # Any format: Windows PowerShell 5.1's ``>`` writes UTF-16 LE with a BOM.
    from reconwatch.config import Config
    from reconwatch.ingest.run import ingest
    from reconwatch.lake import Lake

    text = (Path(__file__).parent / "fixtures" / "auth" / "windows.jsonl").read_text()
    (tmp_path / "utf8.jsonl").write_text(text)
    (tmp_path / "utf16.jsonl").write_bytes(
        b"\xff\xfe" + text.replace("\n", "\r\n").encode("utf-16-le")
    )
    (tmp_path / "no-bom.jsonl").write_bytes(text.replace("\n", "\r\n").encode("utf-16-be"))
    run = ingest(
        [str(tmp_path / name) for name in ("utf8.jsonl", "utf16.jsonl", "no-bom.jsonl")],
        Lake(tmp_path / "l"),
        Config(),
    )
    utf8, utf16, no_bom = ((f.format, f.lines, f.parsed, f.rejected, f.error) for f in run.files)
    assert utf8 == utf16 == no_bom == ("windows-json", 8, 5, 3, None)


def test_json_array_reads_as_one_compact_value_per_line(tmp_path: Path) -> None:
    text = (
        '[\n    {\n        "a":  "x\\r\\ny",\n        "b":  [\n 1, 2 ]\n    },\n'
        '    {"c": null},\n 7\n]\n'
    )
    plain = tmp_path / "array.json"
    plain.write_text(text)
    expected = [(1, '{"a":"x\\r\\ny","b":[1,2]}'), (2, '{"c":null}'), (3, "7")]
    assert _read(plain) == expected
    # Compressed, UTF-16 and UTF-8 with a BOM: copied to a temporary file for DuckDB.
    packed = tmp_path / "array.json.gz"
    packed.write_bytes(gzip.compress(b"\xff\xfe" + text.encode("utf-16-le")))
    assert _read(packed) == expected
    bom = tmp_path / "bom.json"
    bom.write_bytes(b"\xef\xbb\xbf" + text.encode())
    assert _read(bom) == expected


def test_pretty_printed_objects_read_one_per_line(tmp_path: Path) -> None:
    path = tmp_path / "jq.json"
    path.write_text('{\n  "a": 1\n}\n{\n  "b": {\n    "c": 2\n  }\n}\n')
    assert _read(path) == [(1, '{"a":1}'), (2, '{"b":{"c":2}}')]


@pytest.mark.parametrize(
    "text",
    [
        '{"a": 1}\n{"b": 2}\n',  # JSON lines stay lines
        "[Thu Oct 13 10:00:00 2026] [error] [client 192.0.2.1] x\n",  # a bracket is not JSON
        "[]\n",
        "{ not json\n",
        '{\n{"a": 1}\n{"b": 2}\n',  # JSON lines after a stray "{" line: still lines
        '[\n{"a": 1}\n{"b": 2}\n',  # ... and after a stray "[" line (not one array)
        '[{"a": 1}]\n[{"b": 2}, {"c": 3}]\n',  # one array per line: lines
        '\ufeff[\r\n\r\n{"a": 1}\r\n{"b": 2}',  # the same with a BOM, CRLF, blanks
    ],
)
def test_other_text_is_left_as_it_is(tmp_path: Path, text: str) -> None:
    path = tmp_path / "x.log"
    path.write_text(text)
    # Only a leading UTF-8 byte order mark goes (for every input).
    assert [line for _, line in _read(path)] == text.removeprefix("\ufeff").splitlines()


def test_broken_json_array_is_an_input_error_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "broken.json"
    path.write_text('[\n  {"a": 1},\n  {"b": \n')
    with pytest.raises(InputError, match="not valid JSON: unexpected end of data") as caught:
        _read(path)
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize("packed", [False, True])
def test_json_lines_under_a_stray_bracket_are_ingested_line_by_line(
    tmp_path: Path, packed: bool
) -> None:
    """A hand-edited export: "[" then Suricata eve.json lines (no commas, no "]").

    Not one JSON document, so not a whole-file error either: line 1 is
    rejected, every event below it is read as in the plain file (the
    compressed copy goes through DuckDB's temporary spool first).
    """
    from reconwatch.config import Config
    from reconwatch.ingest.run import ingest
    from reconwatch.lake import Lake

    eve = (Path(__file__).parent / "fixtures" / "ids" / "eve.json").read_bytes()
    stray = b"[\n" + eve
    path = tmp_path / ("stray.json.gz" if packed else "stray.json")
    path.write_bytes(gzip.compress(stray) if packed else stray)
    plain_path = tmp_path / "eve.json"
    plain_path.write_bytes(eve)
    (plain,) = ingest([str(plain_path)], Lake(tmp_path / "plain"), Config()).files
    lake = Lake(tmp_path / "lake")
    (stats,) = ingest([str(path)], lake, Config()).files
    assert stats.error is None and stats.format == plain.format
    assert (stats.lines, stats.parsed) == (plain.lines + 1, plain.parsed)
    assert stats.rejected == plain.rejected + 1
    first = [r for r in lake.read("rejects").to_pylist() if r["log_line"] == 1]
    assert [r["raw"] for r in first] == ["["]


def test_an_empty_directory_is_reported_not_silently_empty(tmp_path: Path) -> None:
    """A hunt of an empty folder says so (a warning in cases.json), never "nothing found"."""
    from reconwatch.config import Config
    from reconwatch.hunt import hunt

    empty = tmp_path / "logs"
    empty.mkdir()
    (empty / ".hidden").write_text("x\n")  # hidden files are skipped: still empty
    (source,) = expand([str(empty)])
    with pytest.raises(InputError, match=r"logs: no input files in this directory"):
        source.open()
    result = hunt([str(empty)], Config(), out_dir=tmp_path / "out")
    assert result.cases == []
    assert result.document()["warnings"] == [f"{empty}: no input files in this directory"]


def test_an_ingest_of_a_live_pipe_stops_at_once_on_ctrl_c(tmp_path: Path) -> None:
    """No read-ahead from a pipe: its read waits for the writer, and stopping
    would wait for that read (it hung until the writer closed the pipe)."""
    fifo = tmp_path / "kern.fifo"
    os.mkfifo(fifo)
    lake = tmp_path / "lake"
    line = (
        "Sep 30 10:09:23 fw1 kernel: [1.2] RW-DROP: IN=eth0 OUT= SRC=198.51.100.7 "
        "DST=203.0.113.10 LEN=44 TTL=43 ID=1 PROTO=TCP SPT=52220 DPT=80 WINDOW=1024 SYN URGP=0\n"
    )
    code = (
        "from reconwatch.config import Config\n"
        "from reconwatch.ingest.run import IngestOptions, ingest\n"
        "from reconwatch.lake import Lake\n"
        f"ingest([{str(fifo)!r}], Lake({str(lake)!r}), Config(),\n"
        "       IngestOptions(block_bytes=1 << 16, sniff_bytes=4096))\n"
    )
    child = subprocess.Popen([sys.executable, "-c", code], stderr=subprocess.DEVNULL)
    with fifo.open("wb", buffering=0) as writer:
        writer.write(line.encode() * 3000)  # a few batches; the pipe then stays open
        deadline = time.monotonic() + 60
        while not list(lake.glob("network/*/*.parquet")) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert list(lake.glob("network/*/*.parquet")), "the child wrote no batch"
        time.sleep(0.5)  # it now waits for more lines
        child.send_signal(signal.SIGINT)
        try:
            child.wait(timeout=15)
        finally:
            if child.poll() is None:
                child.kill()
    assert child.returncode != 0  # stopped by the interrupt, not by the end of input


@settings(max_examples=80, deadline=None)
@given(st.lists(st.text(alphabet="ab\r é", max_size=6), min_size=1, max_size=30))
def test_a_carriage_return_is_cut_from_line_ends_only(lines: list[str]) -> None:
    """Lines ending in carriage returns lose them (CRLF files); one inside a
    line stays, with or without a line ending in one next to it."""
    data = ("\n".join(lines) + "\n").encode()
    for block in (3, 64):
        assert lines_of(data, block) == [
            (number, line.rstrip("\r")) for number, line in enumerate(lines, 1)
        ]
