"""Following files: growth, partial lines, rotation, truncation, new files, bounds."""

from __future__ import annotations

import gzip
import os
from pathlib import Path

from reconwatch.watch.tail import Chunk, FileTailer, lines_from_bytes


def texts(chunks: list[Chunk]) -> list[str]:
    return [str(line) for chunk in chunks for line in chunk.lines.column("line").to_pylist()]


def append(path: Path, text: str) -> None:
    with path.open("a", encoding="utf-8") as fh:
        fh.write(text)


def test_starts_at_the_end_and_reads_what_is_appended(tmp_path: Path) -> None:
    log = tmp_path / "kern.log"
    log.write_text("old 1\nold 2\n")
    tailer = FileTailer([str(log)])
    assert texts(tailer.poll()) == []
    append(log, "new 1\nnew 2\n")
    chunks = tailer.poll()
    assert texts(chunks) == ["new 1", "new 2"]
    assert chunks[0].name == str(log)
    assert tailer.poll() == []


def test_from_start_reads_existing_content(tmp_path: Path) -> None:
    log = tmp_path / "kern.log"
    log.write_text("old 1\nold 2\n")
    tailer = FileTailer([str(log)], from_start=True)
    chunks = tailer.poll()
    assert texts(chunks) == ["old 1", "old 2"]
    assert chunks[0].lines.column("log_line").to_pylist() == [1, 2]


def test_partial_last_line_waits_for_its_newline(tmp_path: Path) -> None:
    log = tmp_path / "a.log"
    log.write_text("")
    tailer = FileTailer([str(log)])
    append(log, "first\nsec")
    assert texts(tailer.poll()) == ["first"]
    assert texts(tailer.poll()) == []
    append(log, "ond\r\nthird\n")
    chunks = tailer.poll()
    assert texts(chunks) == ["second", "third"]
    # Numbering carries on across polls.
    assert chunks[0].lines.column("log_line").to_pylist() == [2, 3]


def test_flush_hands_on_the_partial_line(tmp_path: Path) -> None:
    log = tmp_path / "a.log"
    log.write_text("")
    tailer = FileTailer([str(log)])
    append(log, "done\nhalf")
    assert texts(tailer.poll()) == ["done"]
    assert texts(tailer.flush()) == ["half"]


def test_a_partial_line_kept_for_a_restart_is_read_whole_after_it(tmp_path: Path) -> None:
    # With --state the stop keeps the half-written line unread and saves the
    # offset of its start: handed on, "DPT=2" of "DPT=22" was parsed as port 2
    # and the rest ("2 WINDOW=...") rejected after the restart.
    log = tmp_path / "a.log"
    log.write_text("")
    tailer = FileTailer([str(log)])
    append(log, "done\nSRC=198.51.100.7 DPT=2")
    assert texts(tailer.poll()) == ["done"]
    assert texts(tailer.flush(keep_partial=True)) == []
    (position,) = tailer.positions()
    tailer.close()
    assert (position["offset"], position["next_line"]) == (len("done\n"), 2)
    append(log, "2 SYN\n")
    again = FileTailer([str(log)], positions=[position])
    chunks = again.poll()
    again.close()
    assert [c.lines.to_pylist() for c in chunks] == [
        [{"log_line": 2, "line": "SRC=198.51.100.7 DPT=22 SYN"}]
    ]


def test_the_rest_of_a_cut_line_is_still_dropped_after_a_restart(tmp_path: Path) -> None:
    log = tmp_path / "a.log"
    log.write_text("")
    tailer = FileTailer([str(log)], max_line_bytes=10)
    append(log, "x" * 25)
    assert texts(tailer.poll()) == ["x" * 10]
    positions = tailer.positions()
    tailer.close()
    append(log, "yyy\nnext\n")
    again = FileTailer([str(log)], positions=positions, max_line_bytes=10)
    assert texts(again.poll()) == ["next"]
    again.close()


def test_rotation_finishes_the_old_file_then_reads_the_new_one(tmp_path: Path) -> None:
    log = tmp_path / "syslog"
    log.write_text("")
    tailer = FileTailer([str(tmp_path)])
    append(log, "a1\n")
    assert texts(tailer.poll()) == ["a1"]
    # Written after the last poll, then rotated (logrotate create): not lost.
    append(log, "a2\na3-partial")
    log.rename(tmp_path / "syslog.1")
    log.write_text("b1\nb2\n")
    chunks = tailer.poll()
    assert texts(chunks) == ["a2", "a3-partial", "b1", "b2"]
    fresh = [c for c in chunks if c.fresh]
    assert [c.name for c in fresh] == [str(log)]
    # The rotated file under its new name is recognised, not read again.
    append(tmp_path / "syslog.1", "late\n")
    assert texts(tailer.poll()) == ["late"]
    append(log, "b3\n")
    assert texts(tailer.poll()) == ["b3"]


def test_a_rotated_backlog_is_read_in_bounded_polls(tmp_path: Path) -> None:
    log = tmp_path / "syslog"
    log.write_text("")
    tailer = FileTailer([str(log)], read_bytes=4096)
    lines = [f"old {n:05d} " + "x" * 90 for n in range(400)]  # 40 KB: ten polls' worth
    append(log, "\n".join(lines) + "\n")
    log.rename(tmp_path / "syslog.1")
    log.write_text("new 1\n")
    got: list[str] = []
    for _ in range(20):
        chunks = tailer.poll()
        # No poll reads more than read_bytes of the old file (plus a carried line).
        assert sum(len(t) + 1 for t in texts(chunks) if t.startswith("old")) <= 4096 + 100
        got += texts(chunks)
        if got and got[-1] == "new 1":
            break
    assert got == [*lines, "new 1"]  # every old line, in order, then the new file


def test_truncation_restarts_at_zero(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    log.write_text("")
    tailer = FileTailer([str(log)])
    append(log, "one\ntwo\nthree\n")
    assert texts(tailer.poll()) == ["one", "two", "three"]
    # copytruncate: same inode, shorter file.
    with log.open("r+") as fh:
        fh.truncate(0)
    append(log, "after\n")
    chunks = tailer.poll()
    assert texts(chunks) == ["after"]
    assert chunks[0].fresh
    assert chunks[0].lines.column("log_line").to_pylist() == [1]


def test_truncation_and_regrowth_between_two_polls_is_read_whole(tmp_path: Path) -> None:
    """copytruncate, then more written than before the next poll: nothing is lost."""
    log = tmp_path / "app.log"
    log.write_text("")
    tailer = FileTailer([str(log)])
    append(log, "".join(f"10:00:0{n} old {n}\n" for n in range(3)))
    assert len(texts(tailer.poll())) == 3
    with log.open("r+") as fh:
        fh.truncate(0)
    new = [f"10:05:{n:02d} new {n}" for n in range(12)]
    append(log, "".join(f"{line}\n" for line in new))  # longer than the old content
    chunks = tailer.poll()
    assert texts(chunks) == new
    assert chunks[0].fresh
    assert chunks[0].lines.column("log_line").to_pylist() == list(range(1, 13))
    append(log, "10:06:00 later\n")
    assert texts(tailer.poll()) == ["10:06:00 later"]  # growth as usual afterwards


def test_new_files_in_a_directory_are_read_from_their_start(tmp_path: Path) -> None:
    (tmp_path / "present.log").write_text("before start\n")
    tailer = FileTailer([str(tmp_path)])
    assert texts(tailer.poll()) == []
    sub = tmp_path / "host2"
    sub.mkdir()
    (sub / "new.log").write_text("n1\nn2\n")
    (tmp_path / ".hidden").write_text("state file\n")
    chunks = tailer.poll()
    assert texts(chunks) == ["n1", "n2"]
    assert chunks[0].name == str(sub / "new.log")


def test_named_file_created_later_is_followed(tmp_path: Path) -> None:
    log = tmp_path / "later.log"
    tailer = FileTailer([str(log)])
    assert tailer.poll() == []
    log.write_text("hello\n")
    assert texts(tailer.poll()) == ["hello"]


def test_compressed_rotated_files_are_skipped(tmp_path: Path) -> None:
    with gzip.open(tmp_path / "syslog.2.gz", "wt") as fh:
        fh.write("compressed line\n")
    tailer = FileTailer([str(tmp_path)], from_start=True)
    assert texts(tailer.poll()) == []
    assert str(tmp_path / "syslog.2.gz") in tailer.skipped


def test_reads_are_bounded_per_poll(tmp_path: Path) -> None:
    log = tmp_path / "big.log"
    log.write_text("")
    tailer = FileTailer([str(log)], read_bytes=4096)
    append(log, "".join(f"line {i:05d}\n" for i in range(2000)))  # 22,000 bytes
    first = texts(tailer.poll())
    assert 0 < len(first) < 2000
    assert len(first) * 11 <= 4096
    rest: list[str] = []
    for _ in range(10):
        rest += texts(tailer.poll())
    assert first + rest == [f"line {i:05d}" for i in range(2000)]


def test_a_line_without_end_is_cut_at_the_bound(tmp_path: Path) -> None:
    log = tmp_path / "junk.log"
    log.write_text("")
    tailer = FileTailer([str(log)], read_bytes=4096, max_line_bytes=2048)
    append(log, "x" * 10_000)
    lines: list[str] = []
    for _ in range(5):
        lines += texts(tailer.poll())
    assert lines and all(len(line) <= 2048 for line in lines)
    assert tailer.cut_lines == len(lines)


def test_invalid_utf8_is_kept_as_replacement_characters(tmp_path: Path) -> None:
    log = tmp_path / "bin.log"
    log.write_bytes(b"")
    tailer = FileTailer([str(log)])
    with log.open("ab") as fh:
        fh.write(b"ok\n\xff\xfe bad\n\n")
    assert texts(tailer.poll()) == ["ok", "\ufffd\ufffd bad", ""]


def test_lines_from_bytes_numbers_lines() -> None:
    table = lines_from_bytes(b"a\n\nb", 10)
    assert table.column("log_line").to_pylist() == [10, 11, 12]
    assert table.column("line").to_pylist() == ["a", "", "b"]


def test_removed_file_is_finished_and_recreated_one_read_whole(tmp_path: Path) -> None:
    log = tmp_path / "x.log"
    log.write_text("")
    tailer = FileTailer([str(log)])
    append(log, "before\n")
    os.remove(log)
    assert texts(tailer.poll()) == ["before"]
    log.write_text("again\n")
    assert texts(tailer.poll()) == ["again"]


def test_idle_files_are_closed_and_reopened_where_they_were_left(tmp_path: Path) -> None:
    log = tmp_path / "quiet.log"
    log.write_text("")
    tailer = FileTailer([str(tmp_path)], idle_close_seconds=0)
    append(log, "one\ntw")
    assert texts(tailer.poll()) == ["one"]
    tailer.poll()  # nothing new: the descriptor is released
    assert tailer.followed[log].fh is None
    append(log, "o\nthree\n")
    chunks = tailer.poll()
    # Same file, same partial line, numbering carried on, no re-sniffing.
    assert texts(chunks) == ["two", "three"]
    assert chunks[0].lines.column("log_line").to_pylist() == [2, 3]
    assert not chunks[0].fresh


def test_a_file_replaced_while_closed_is_read_whole(tmp_path: Path) -> None:
    log = tmp_path / "quiet.log"
    log.write_text("")
    tailer = FileTailer([str(tmp_path)], idle_close_seconds=0)
    append(log, "old\n")
    assert texts(tailer.poll()) == ["old"]
    tailer.poll()
    assert tailer.followed[log].fh is None
    log.rename(tmp_path / "quiet.log.1")
    log.write_text("new\n")
    assert texts(tailer.poll()) == ["new"]
    # The renamed file is known by its inode: nothing of it is read twice.
    assert texts(tailer.poll()) == []


def test_files_that_vanish_from_a_directory_are_forgotten(tmp_path: Path) -> None:
    log = tmp_path / "gone.log"
    log.write_text("")
    tailer = FileTailer([str(tmp_path)])
    append(log, "last words\n")
    log.unlink()
    assert texts(tailer.poll()) == ["last words"]
    assert log not in tailer.followed


def test_the_rest_of_a_cut_line_is_dropped_not_read_as_a_new_line(tmp_path: Path) -> None:
    log = tmp_path / "junk.log"
    log.write_text("")
    tailer = FileTailer([str(log)], read_bytes=4096, max_line_bytes=2048)
    # The tail of an overlong line could otherwise start a "line" of the
    # writer's choosing (a forged syslog line).
    append(log, "x" * 10_000 + "Oct 10 12:00:00 forged sshd[1]: Accepted password for root\n")
    append(log, "next line\n")
    chunks = []
    for _ in range(10):
        chunks += tailer.poll()
    rows = [row for c in chunks for row in c.lines.to_pylist()]
    assert [(r["log_line"], r["line"][:5]) for r in rows] == [(1, "xxxxx"), (2, "next ")]
    assert tailer.cut_lines == 1


def test_a_file_joined_midway_hands_its_head_to_the_new_parser(tmp_path: Path) -> None:
    # A Zeek TSV log joined at its end (or resumed, or carried on after a
    # rotation): its "#fields" header is at the top, before the offset. The
    # first chunk carries the file's first lines, numbered just before it,
    # for the parser to read its header from; later chunks carry none.
    log = tmp_path / "conn.log"
    log.write_text("#separator \\x09\n#fields\tts\tid.orig_h\n1.0\t192.0.2.1\n")
    tailer = FileTailer([str(log)])
    append(log, "2.0\t192.0.2.2\n")
    (chunk,) = tailer.poll()
    assert chunk.fresh and chunk.lines.to_pylist() == [{"log_line": 1, "line": "2.0\t192.0.2.2"}]
    assert chunk.head is not None
    assert chunk.head.to_pylist() == [
        {"log_line": -2, "line": "#separator \\x09"},
        {"log_line": -1, "line": "#fields\tts\tid.orig_h"},
        {"log_line": 0, "line": "1.0\t192.0.2.1"},
    ]
    append(log, "3.0\t192.0.2.3\n")
    (later,) = tailer.poll()
    assert later.head is None
    tailer.close()
    # Read from the start: nothing to hand on.
    whole = FileTailer([str(log)], from_start=True)
    assert all(c.head is None for c in whole.poll())
    whole.close()


def test_joining_a_line_half_written_does_not_read_its_rest_as_a_line(tmp_path: Path) -> None:
    log = tmp_path / "kern.log"
    log.write_text("done\nSRC=198.51.100.7 DPT=2")
    tailer = FileTailer([str(log)])
    append(log, "2 SYN\nnext\n")
    assert texts(tailer.poll()) == ["next"]
    tailer.close()


def test_a_file_truncated_and_written_again_while_down_is_read_whole(tmp_path: Path) -> None:
    # copytruncate while the watch was down, then more lines than were read
    # before: same inode, no shorter than the saved offset, other content.
    log = tmp_path / "app.log"
    log.write_text("")
    tailer = FileTailer([str(log)])
    append(log, "old 1\nold 2\n")
    assert texts(tailer.poll()) == ["old 1", "old 2"]
    positions = tailer.positions()
    tailer.close()
    with log.open("r+") as fh:
        fh.truncate(0)
    append(log, "new line 1\nnew line 2\nnew line 3\n")
    again = FileTailer([str(log)], positions=positions)
    chunks = again.poll()
    again.close()
    assert texts(chunks) == ["new line 1", "new line 2", "new line 3"]
    assert chunks[0].lines.column("log_line").to_pylist() == [1, 2, 3]


def test_files_created_while_down_after_a_run_that_followed_none_are_read_whole(
    tmp_path: Path,
) -> None:
    # The first run saved a state with no file (the log was not there yet):
    # a restart still, so the lines written while down are new, not old.
    log = tmp_path / "app.log"
    tailer = FileTailer([str(log)])
    assert tailer.poll() == []
    positions = tailer.positions()
    tailer.close()
    assert positions == []
    log.write_text("written while down\n")
    again = FileTailer([str(log)], positions=positions)
    assert texts(again.poll()) == ["written while down"]
    again.close()
