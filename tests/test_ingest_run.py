"""The ingest loop's promise: every line of every input is accounted for, and stored."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pyarrow as pa
import pytest

from reconwatch.config import Config
from reconwatch.ingest import registry
from reconwatch.ingest.base import Parsed, Parser
from reconwatch.ingest.run import IngestOptions, UnknownFormatError, ingest
from reconwatch.lake import Lake


class ExplodingParser(Parser):
    """A parser with a bug: the loop must contain it, not lose the batch."""

    name = "exploding"
    dataset = "test"

    @classmethod
    def sniff(cls, sample: Sequence[str]) -> bool:
        return False

    def parse(self, lines: pa.Table) -> Parsed:
        raise RuntimeError("boom")


def test_unrecognised_file_is_counted_and_stored_as_rejects(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("hello\nworld\n\nbye\n")
    lake = Lake(tmp_path / "lake")
    run = ingest([str(path)], lake, Config())
    (stats,) = run.files
    assert (stats.format, stats.lines, stats.parsed, stats.rejected) == (None, 4, 0, 4)
    assert stats.reject_reasons == {"format not recognised": 4}
    rejects = lake.read("rejects").sort_by("log_line").to_pylist()
    assert [(r["log_line"], r["raw"], r["log_file"]) for r in rejects] == [
        (1, "hello", str(path)),
        (2, "world", str(path)),
        (3, "", str(path)),
        (4, "bye", str(path)),
    ]
    assert lake.runs()[0]["totals"]["rejected"] == 4


def test_unknown_format_name_is_refused(tmp_path: Path) -> None:
    with pytest.raises(UnknownFormatError, match="unknown format 'cisco'"):
        ingest([str(tmp_path)], Lake(tmp_path / "lake"), Config(), IngestOptions(format="cisco"))


def test_a_parser_bug_rejects_its_batch_and_the_run_goes_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(registry.FORMATS, "exploding", ExplodingParser)
    first = tmp_path / "a.log"
    first.write_text("x\ny\n")
    second = tmp_path / "b.log"
    second.write_text("z\n")
    run = ingest(
        [str(first), str(second)],
        Lake(tmp_path / "lake"),
        Config(),
        IngestOptions(format="exploding"),
    )
    assert [(f.lines, f.rejected) for f in run.files] == [(2, 2), (1, 1)]
    assert run.files[0].reject_reasons == {"parser exploding failed": 2}
    assert run.files[0].error == f"{first}: parser exploding failed on lines 1-2: boom"


def test_truncated_gzip_keeps_what_was_read_and_says_where_it_stopped(tmp_path: Path) -> None:
    import gzip

    data = gzip.compress(b"".join(b"line %d\n" % i for i in range(50_000)))
    path = tmp_path / "cut.gz"
    path.write_bytes(data[: len(data) // 2])
    run = ingest([str(path)], Lake(tmp_path / "lake"), Config())
    (stats,) = run.files
    assert stats.error is not None and "cut.gz" in stats.error
    assert stats.lines == stats.parsed + stats.rejected + stats.skipped


def test_huge_raw_lines_are_cut_in_the_rejects_table(tmp_path: Path) -> None:
    path = tmp_path / "big.txt"
    path.write_text("y" * 100_000 + "\n")
    lake = Lake(tmp_path / "lake")
    ingest([str(path)], lake, Config())
    (row,) = lake.read("rejects").to_pylist()
    assert len(row["raw"]) == 4096


def test_a_year_no_reader_can_hold_is_a_rejected_line(tmp_path: Path) -> None:
    """A parser may read "30/Sep/0000" or a huge epoch; ingest rejects the row
    rather than store a time Python (and every reader of the lake) cannot hold."""
    log = tmp_path / "access.json"
    good = (
        '{"time_local":"30/Sep/2026:12:00:00 +0200","remote_addr":"198.51.100.7",'
        '"request":"GET / HTTP/1.1","status":"200","body_bytes_sent":"5"}'
    )
    log.write_text(good + "\n" + good.replace("2026", "0000") + "\n")
    lake = Lake(tmp_path / "lake")
    run = ingest([str(log)], lake, Config(), IngestOptions(format="nginx-json"))
    assert (run.totals.parsed, run.totals.rejected) == (1, 1)
    assert run.files[0].reject_reasons == {"invalid timestamp": 1}
    assert lake.read("rejects").column("log_line").to_pylist() == [2]
    assert [d.name for d in (tmp_path / "lake" / "http").iterdir()] == ["event_date=2026-09-30"]
