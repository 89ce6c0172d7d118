"""Inputs: FIFOs in a directory walk, a UTF-8 BOM, the same file named twice."""

from __future__ import annotations

import datetime as dt
import gzip
import json
import os
import threading
from pathlib import Path

import pytest

from reconwatch.config import Config
from reconwatch.ingest.run import IngestOptions, ingest
from reconwatch.ingest.sources import expand
from reconwatch.lake import Lake, RunStats

BOM = b"\xef\xbb\xbf"
NETFILTER = (
    "Sep 30 10:09:{sec:02d} fw kernel: [19955416.516358] RW-DROP: IN=eth0 OUT= MAC=00:00 "
    "SRC=198.51.100.7 DST=203.0.113.5 LEN=44 TOS=0x00 PREC=0x00 TTL=43 ID=1 PROTO=TCP "
    "SPT=40000 DPT={port} WINDOW=1024 RES=0x00 SYN URGP=0 "
)
EVE = json.dumps({
    "timestamp": "2026-09-30T10:00:00.000000+0000", "flow_id": 1, "event_type": "flow",
    "src_ip": "198.51.100.7", "src_port": 40000, "dest_ip": "203.0.113.10", "dest_port": 22,
    "proto": "TCP", "flow": {"pkts_toserver": 1, "pkts_toclient": 0, "state": "new"},
})  # fmt: skip
OPTIONS = IngestOptions(now=dt.datetime(2026, 10, 1, tzinfo=dt.UTC))


def netfilter_lines(count: int) -> bytes:
    return "".join(NETFILTER.format(sec=n, port=n + 1) + "\n" for n in range(count)).encode()


def run(tmp_path: Path, paths: list[str]) -> RunStats:
    return ingest(paths, Lake(tmp_path / "lake"), Config(), OPTIONS)


def _unblock_later(fifo: Path, after: float) -> threading.Timer:
    """Open ``fifo`` for writing after ``after`` s, so a reader stuck on it comes free."""

    def release() -> None:
        fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK) if _has_reader(fifo) else None
        if fd is not None:
            os.close(fd)

    timer = threading.Timer(after, release)
    timer.start()
    return timer


def _has_reader(fifo: Path) -> bool:
    try:
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
    except OSError:
        return False
    return True


def test_a_fifo_in_a_directory_is_skipped_with_a_warning(tmp_path: Path) -> None:
    folder = tmp_path / "d"
    folder.mkdir()
    (folder / "fw.log").write_bytes(netfilter_lines(3))
    os.mkfifo(folder / "pipe")
    timer = _unblock_later(folder / "pipe", 20)  # the old walk blocked here forever
    try:
        stats = run(tmp_path, [str(folder)])
    finally:
        timer.cancel()
    by_name = {f.name: f for f in stats.files}
    assert by_name[str(folder / "fw.log")].parsed == 3
    skipped = by_name[str(folder / "pipe")]
    assert skipped.lines == 0 and skipped.error is not None
    assert "FIFO" in skipped.error and "\n" not in skipped.error
    assert stats.totals.lines == 3


def test_a_fifo_named_explicitly_is_read(tmp_path: Path) -> None:
    pipe = tmp_path / "pipe"
    os.mkfifo(pipe)

    def write() -> None:
        with pipe.open("wb") as out:
            out.write(netfilter_lines(4))

    writer = threading.Thread(target=write, daemon=True)
    writer.start()
    stats = run(tmp_path, [str(pipe)])
    writer.join(10)
    assert stats.files[0].parsed == 4 and stats.files[0].error is None


def test_a_fifo_met_in_a_walk_and_named_too_is_read_once_without_a_warning(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "d"
    folder.mkdir()
    (folder / "fw.log").write_bytes(netfilter_lines(3))
    os.mkfifo(folder / "pipe")
    sources = expand([str(folder), str(folder / "pipe"), str(folder / "fw.log")])
    assert [(s.name, s.skipped) for s in sources] == [
        (str(folder / "fw.log"), None),
        (str(folder / "pipe"), None),  # named on purpose: read, where the walk met it
        (str(folder / "fw.log"), f"{folder / 'fw.log'}: the same file named 2 times: read once"),
    ]


@pytest.mark.parametrize("compress", [False, True])
def test_a_utf8_bom_is_removed_before_sniffing_and_parsing(tmp_path: Path, compress: bool) -> None:
    def put(name: str, data: bytes) -> str:
        path = tmp_path / (name + (".gz" if compress else ""))
        path.write_bytes(gzip.compress(data) if compress else data)
        return str(path)

    fw = put("fw.log", BOM + netfilter_lines(3))
    eve = put("eve.json", BOM + EVE.encode() + b"\n")
    array = put("array.json", BOM + json.dumps([json.loads(EVE)] * 2, indent=2).encode())
    stats = run(tmp_path, [fw, eve, array])
    by_name = {Path(f.name).name.removesuffix(".gz"): f for f in stats.files}
    assert by_name["fw.log"].parsed == 3 and by_name["fw.log"].rejected == 0
    assert by_name["eve.json"].format == "suricata-eve" and by_name["eve.json"].parsed == 1
    assert by_name["array.json"].parsed == 2 and by_name["array.json"].rejected == 0


def test_the_same_file_named_three_times_is_read_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("a.log").write_bytes(netfilter_lines(5))
    stats = run(tmp_path, ["a.log", "a.log", "./a.log"])
    assert stats.totals.parsed == 5
    warnings = [f.error for f in stats.files if f.error]
    assert len(warnings) == 1
    assert "a.log" in warnings[0] and "./a.log" in warnings[0] and "3 times" in warnings[0]


def test_a_directory_and_a_file_in_it_and_hard_links(tmp_path: Path) -> None:
    folder = tmp_path / "d"
    folder.mkdir()
    (folder / "a.log").write_bytes(netfilter_lines(2))
    os.link(folder / "a.log", tmp_path / "b.log")
    sources = expand([str(folder), str(folder / "a.log"), str(tmp_path / "b.log"), str(folder)])
    assert [s.skipped is None for s in sources] == [True, False]
    stats = run(tmp_path, [str(folder), str(folder / "a.log"), str(tmp_path / "b.log")])
    assert stats.totals.parsed == 2


def test_the_accounting_table_says_a_repeated_path_was_not_read(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from reconwatch.cli import main

    # A path longer than the piped console's 120 columns: each note stays one line.
    deep = tmp_path / ("a-long-folder-name-" * 7)
    deep.mkdir()
    log = deep / "a.log"
    log.write_text("".join(NETFILTER.format(sec=n, port=n + 1) + "\n" for n in range(3)))
    result = CliRunner().invoke(
        main, ["ingest", "--lake", str(tmp_path / "lake"), str(log), str(log)]
    )
    assert result.exit_code == 0, result.output
    assert "not read (see the warning)" in result.output
    assert "not read to the end" not in result.output
    (note,) = [ln for ln in result.output.splitlines() if "the same file named 2 times" in ln]
    assert note.startswith("reconwatch: warning: " + str(log)), note
