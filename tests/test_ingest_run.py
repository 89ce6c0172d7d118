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
    assert (stats.format, stats.lines, stats.parsed, stats.rejected, stats.skipped) == (
        None, 4, 0, 3, 1,
    )  # fmt: skip
    assert stats.reject_reasons == {"format not recognised": 3}
    rejects = lake.read("rejects").sort_by("log_line").to_pylist()
    assert [(r["log_line"], r["raw"], r["log_file"]) for r in rejects] == [
        (1, "hello", str(path)),
        (2, "world", str(path)),
        (4, "bye", str(path)),
    ]
    assert lake.runs()[0]["totals"]["rejected"] == 3


def test_a_file_of_blank_lines_is_skipped_not_unrecognised(tmp_path: Path) -> None:
    path = tmp_path / "blank.log"
    path.write_text("\n\n   \n\t\r\n")
    (stats,) = ingest([str(path)], Lake(tmp_path / "lake"), Config()).files
    assert (stats.lines, stats.parsed, stats.rejected, stats.skipped) == (4, 0, 0, 4)


EVE = (
    '{{"timestamp": "2026-03-10T10:00:0{n}.000000+0000", "event_type": "alert", '
    '"src_ip": "89.248.165.9", "src_port": 5060, "dest_ip": "203.0.113.40", "dest_port": 80, '
    '"proto": "TCP", "payload_printable": "{payload}", "alert": {{"action": "allowed", "gid": 1, '
    '"signature_id": 2008578, "rev": 4, "signature": "ET SCAN Nmap Scripting Engine", '
    '"category": "Attempted Information Leak", "severity": 2}}}}'
)
CLF = (
    '159.89.9.9 - - [10/Mar/2026:10:01:0{n} +0000] "GET /{path} HTTP/1.1" 404 162 "-" "Mozilla/5.0"'
)


@pytest.mark.parametrize("first_line_bytes", [70_000, 300_000])
def test_a_long_first_line_does_not_hide_the_file_from_sniffing(
    tmp_path: Path, first_line_bytes: int
) -> None:
    """eve.json with payloads, or a huge URL put first: the head is read on to whole lines."""
    eve = tmp_path / "eve.json"
    eve.write_text(
        "\n".join(
            [EVE.format(n=0, payload="A" * first_line_bytes)]
            + [EVE.format(n=n, payload="x") for n in range(1, 4)]
        )
        + "\n"
    )
    access = tmp_path / "access.log"
    access.write_text(
        "\n".join(
            [CLF.format(n=0, path="a" * first_line_bytes)]
            + [CLF.format(n=n, path=f"p{n}") for n in range(1, 4)]
        )
        + "\n"
    )
    lake = Lake(tmp_path / "lake")
    files = {Path(f.name).name: f for f in ingest([str(eve), str(access)], lake, Config()).files}
    assert (files["eve.json"].format, files["eve.json"].parsed) == ("suricata-eve", 4)
    assert (files["access.log"].format, files["access.log"].parsed) == ("clf", 4)


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
