"""Inputs in watch mode: parsers that start mid-file, parser notes, state at a first start."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconwatch.config import Config
from reconwatch.ingest.fw_cisco import UNPAIRED_TEARDOWNS
from reconwatch.watch.runner import Watcher, WatchOptions
from test_watch_detect import Collect

FIXTURES = Path(__file__).parent / "fixtures"


def start(paths: list[Path], state: Path | None = None, from_start: bool = False) -> Watcher:
    w = Watcher(
        Config(),
        WatchOptions(
            paths=[str(p) for p in paths], detections=[], state_dir=state, from_start=from_start
        ),
        [Collect()],
    )
    w.start()
    return w


def zeek_dns() -> tuple[list[str], list[str]]:
    lines = (FIXTURES / "ids" / "zeek-dns.log").read_text().splitlines(keepends=True)
    return [x for x in lines if x.startswith("#")], [x for x in lines if not x.startswith("#")]


def test_a_zeek_log_joined_at_its_end_is_read_with_its_header(tmp_path: Path) -> None:
    # Its "#fields" line is at the top, before where the watch began reading:
    # every new line was rejected as "format not recognised".
    header, data = zeek_dns()
    log = tmp_path / "dns.log"
    log.write_text("".join(header) + data[0])
    w = start([log])
    w.cycle()
    with log.open("a") as fh:
        fh.writelines(data[1:])
    w.cycle()
    w.finish()
    # As the same lines read with the file from its start (one bad address).
    assert (w.counts.lines, w.counts.parsed, w.counts.skipped) == (3, 2, 0)
    assert w.counts.reject_reasons == {"invalid source address": 1}
    assert w.summary()["lines"] == 3


def test_a_zeek_log_resumed_after_a_restart_is_read_with_its_header(tmp_path: Path) -> None:
    header, data = zeek_dns()
    log, state = tmp_path / "dns.log", tmp_path / "state"
    log.write_text("".join(header) + data[0])
    first = start([log], state, from_start=True)
    first.cycle()
    first.finish()
    assert (first.counts.parsed, first.counts.rejected) == (1, 0)
    with log.open("a") as fh:
        fh.writelines(data[1:])
    second = start([log], state)
    second.cycle()
    second.finish()
    assert (second.counts.lines, second.counts.parsed, second.counts.rejected) == (3, 2, 1)
    assert "format not recognised" not in second.counts.reject_reasons


def test_a_first_start_with_state_begins_at_the_end(tmp_path: Path) -> None:
    # No state saved yet: a first start, which reads files from their end.
    log, state = tmp_path / "kern.log", tmp_path / "state"
    log.write_text("old line\n")
    w = start([log], state)
    w.cycle()
    w.finish()
    assert w.counts.lines == 0


def test_lines_written_while_down_are_read_after_a_run_that_had_no_file(tmp_path: Path) -> None:
    log, state = tmp_path / "kern.log", tmp_path / "state"
    first = start([log], state)  # not there yet
    first.cycle()
    first.finish()
    log.write_text("written while down\n")
    second = start([log], state)
    second.cycle()
    second.finish()
    assert second.counts.lines == 1


def test_a_parsers_note_on_an_input_is_warned_once_and_summed_up(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # An ASA logging only teardowns gives no allowed connection: its counts
    # (all skipped) do not say why, the note does, as hunt shows it.
    teardown = (
        "Oct 10 12:35:{:02} fw01 %ASA-6-302014: Teardown TCP connection {} for "
        "outside:192.0.2.80/80 to inside:10.0.0.6/51515 duration 0:00:03 bytes 5120 TCP FINs\n"
    )
    log = tmp_path / "asa.log"
    log.write_text("")
    w = start([log], from_start=True)
    for batch in range(3):
        with log.open("a") as fh:
            fh.writelines(teardown.format(i, i) for i in range(batch * 10, batch * 10 + 10))
        w.cycle()
    w.finish()
    warned = [r.getMessage() for r in caplog.records if UNPAIRED_TEARDOWNS in r.getMessage()]
    assert warned == [f"{log}: {UNPAIRED_TEARDOWNS}"]
    assert w.summary()["notes"] == {str(log): UNPAIRED_TEARDOWNS}


def test_a_followed_file_whose_name_is_not_utf8_is_read_and_named_readably(
    tmp_path: Path,
) -> None:
    """The OS hands such a name over with lone surrogates, which the window's
    ``log_file`` column cannot hold: the cycle failed on every batch."""
    import os

    header, data = zeek_dns()
    log = Path(os.fsdecode(bytes(tmp_path) + b"/dns\xff.log"))
    log.write_text("".join(header) + "".join(data))
    w = start([tmp_path], from_start=True)
    w.cycle()
    w.finish()
    assert (w.counts.lines, w.counts.errors) == (len(header) + len(data), 0)
    assert (w.counts.parsed, w.counts.rejected) == (len(data) - 1, 1)  # one bad address
    files = set(w.window.table("network").column("log_file").to_pylist())
    files |= set(w.window.table("dns").column("log_file").to_pylist())
    assert files == {str(tmp_path) + "/dns\\xff.log"}
