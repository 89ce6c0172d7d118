"""Binary Windows event logs (.evtx), plain and compressed, decoded record by record."""

from __future__ import annotations

import datetime as dt
import gzip
from pathlib import Path

import pytest

from reconwatch.config import Config
from reconwatch.ingest.auth_windows import NO_ADDRESS
from reconwatch.ingest.run import ingest
from reconwatch.ingest.sources import Source
from reconwatch.lake import Lake

FIXTURE = Path(__file__).parent / "fixtures" / "auth" / "security-4776.evtx.gz"


@pytest.fixture
def plain(tmp_path: Path) -> Path:
    target = tmp_path / "Security.evtx"
    target.write_bytes(gzip.decompress(FIXTURE.read_bytes()))
    return target


def test_an_evtx_file_reads_as_one_json_line_per_record(plain: Path) -> None:
    lines = Source(str(plain), plain).open().read().decode().splitlines()
    assert len(lines) == 1
    assert '"EventID":4776' in lines[0] and '"Workstation":"EQP01777"' in lines[0]


@pytest.mark.parametrize("compressed", [False, True])
def test_real_security_log_is_parsed_by_the_windows_parser(
    plain: Path, tmp_path: Path, compressed: bool
) -> None:
    path = FIXTURE if compressed else plain
    lake = Lake(tmp_path / "lake")
    (stats,) = ingest([str(path)], lake, Config()).files
    # 4776 names a workstation, not an address: stored with a null source_ip,
    # its user, outcome (Status 0x0) and the domain controller that logged it.
    assert (stats.format, stats.lines, stats.parsed, stats.rejected) == ("windows-json", 1, 1, 0)
    assert NO_ADDRESS not in stats.reject_reasons
    assert lake.read("rejects").num_rows == 0
    (row,) = lake.read("auth").to_pylist()
    assert row == {
        "timestamp": dt.datetime(2020, 4, 1, 8, 45, 42, 187315, tzinfo=dt.UTC),
        "source_ip": None,
        "source_port": None,
        "destination_ip": None,
        "destination_port": None,
        "user_name": "at_adm",
        "event_outcome": "success",
        "event_action": "credential_validation",
        "auth_method": "ntlm",
        "service_name": "windows",
        "event_code": "4776",
        "observer_name": "DC_TEST2k12.TEST.SAAS",
        "event_dataset": "windows.security",
        "log_file": str(path),
        "log_line": 1,
    }


def test_a_corrupt_evtx_is_reported_not_raised(tmp_path: Path) -> None:
    bad = tmp_path / "broken.evtx"
    bad.write_bytes(b"ElfFile\x00" + b"\x00" * 100)
    (stats,) = ingest([str(bad)], Lake(tmp_path / "lake"), Config()).files
    assert stats.error is not None and "broken.evtx" in stats.error
    assert stats.lines == 0


def test_a_corrupt_record_is_skipped_and_reading_goes_on(plain: Path, tmp_path: Path) -> None:
    data = bytearray(plain.read_bytes())
    data[4616:4632] = b"\xff" * 16  # inside the record: its timestamp becomes impossible
    damaged = tmp_path / "damaged.evtx"
    damaged.write_bytes(bytes(data))
    (stats,) = ingest([str(damaged)], Lake(tmp_path / "lake"), Config()).files
    # The record's line stays (empty, so line N is still record N) and is
    # accounted for; the file is not declared unreadable. (Alone in its file,
    # the empty line leaves nothing to recognise the format by.)
    assert stats.error is None
    assert (stats.lines, stats.parsed, stats.rejected + stats.skipped) == (1, 0, 1)
