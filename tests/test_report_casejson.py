"""cases.json times: UTC with a Z, whatever the machine's time zone."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator

import pytest

from reconwatch.report.casejson import iso


@pytest.fixture
def tokyo(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("TZ", "Asia/Tokyo")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.mark.usefixtures("tokyo")
def test_a_naive_time_is_utc_not_local() -> None:
    assert iso(dt.datetime(2026, 9, 30, 10, 0, 1)) == "2026-09-30T10:00:01Z"
    # Go's zero time, naive: east of UTC, local time would put it in year 0 and raise.
    assert iso(dt.datetime(1, 1, 1)) == "0001-01-01T00:00:00Z"


@pytest.mark.usefixtures("tokyo")
def test_an_aware_time_is_shown_in_utc() -> None:
    cet = dt.timezone(dt.timedelta(hours=1))
    assert iso(dt.datetime(2026, 9, 30, 11, tzinfo=cet)) == "2026-09-30T10:00:00Z"
    assert iso(None) is None
