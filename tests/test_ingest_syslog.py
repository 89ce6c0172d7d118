"""Syslog envelopes: what each stamp format reads as, in UTC, and the year of RFC 3164 stamps."""

from __future__ import annotations

import datetime as dt
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from reconwatch.config import SyslogConfig
from reconwatch.ingest.syslog import SyslogEnvelope, wall_clock

UTC = dt.UTC
NOW = dt.datetime(2026, 10, 5, 12, 0, tzinfo=UTC)


class Reader:
    """One file's envelope reader over a private DuckDB connection, batch by batch."""

    def __init__(self, config: SyslogConfig | None = None, now: dt.datetime = NOW) -> None:
        self.con = duckdb.connect()
        self.envelope = SyslogEnvelope(config or SyslogConfig(), now)
        self.next_line = 1

    def parse(
        self, lines: list[str], numbers: list[int] | None = None
    ) -> tuple[pa.Table, pa.Array]:
        """The envelope query's result for one batch, and its resolved UTC times."""
        if numbers is None:
            numbers = list(range(self.next_line, self.next_line + len(lines)))
            self.next_line += len(lines)
        table = pa.table(
            {"log_line": pa.array(numbers, pa.int64()), "line": pa.array(lines, pa.string())}
        )
        self.con.register("batch", table)
        sql = self.envelope.select_sql("batch")
        result = self.con.sql(sql, params=self.envelope.params()).to_arrow_table()
        self.con.unregister("batch")
        return result, self.envelope.resolve(self.con, result)

    def read(self, lines: list[str], numbers: list[int] | None = None) -> list[dict[str, Any]]:
        result, times = self.parse(lines, numbers)
        rows = result.select(["log_line", "sl_kind", "sl_host", "sl_program", "sl_message"])
        out = []
        for row, time in zip(rows.to_pylist(), times.to_pylist(), strict=True):
            row["utc"] = None if time is None else time.replace(tzinfo=UTC)
            out.append(row)
        return out


def read_one(line: str, **kwargs: Any) -> dict[str, Any]:
    (row,) = Reader(**kwargs).read([line])
    return row


def utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0, us: int = 0
) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, second, us, tzinfo=UTC)


# -- the envelope formats -----------------------------------------------------------


def test_rfc3164_line_is_cut_into_stamp_host_program_and_message() -> None:
    row = read_one("Sep 30 10:09:23 fw1 kernel: [19955416.516358] IN=eth0 OUT=")
    assert row == {
        "log_line": 1,
        "sl_kind": "bsd",
        "sl_host": "fw1",
        "sl_program": "kernel",
        "sl_message": "[19955416.516358] IN=eth0 OUT=",
        "utc": utc(2026, 9, 30, 10, 9, 23),
    }


def test_rfc3164_with_pri_pid_and_space_padded_day() -> None:
    row = read_one("<38>Jun  8 14:34:33 sd-126005 sshd[4242]: Accepted publickey for root")
    assert (row["sl_kind"], row["sl_host"], row["sl_program"]) == ("bsd", "sd-126005", "sshd")
    assert row["sl_message"] == "Accepted publickey for root"
    assert row["utc"] == utc(2026, 6, 8, 14, 34, 33)


def test_rfc3164_without_message_keeps_its_envelope() -> None:
    row = read_one("Sep 30 10:09:23 fw1 kernel:")
    assert (row["sl_kind"], row["sl_message"], row["utc"]) == (
        "bsd",
        "",
        utc(2026, 9, 30, 10, 9, 23),
    )


def test_journal_short_iso_offset_without_colon() -> None:
    row = read_one("2026-09-30T10:09:23+0200 fw1 kernel: IN=eth0 OUT=")
    assert (row["sl_kind"], row["sl_host"], row["sl_program"]) == ("iso", "fw1", "kernel")
    assert row["utc"] == utc(2026, 9, 30, 8, 9, 23)


def test_rsyslog_high_precision_stamp() -> None:
    row = read_one("2023-03-18T20:36:59.594792+01:00 host kernel: IN=eth0 OUT=")
    assert row["utc"] == utc(2023, 3, 18, 19, 36, 59, 594792)


def test_iso_stamp_in_utc_and_negative_offset() -> None:
    assert read_one("2026-09-30T10:09:23Z h k: m")["utc"] == utc(2026, 9, 30, 10, 9, 23)
    assert read_one("2026-09-30T22:09:23-05:30 h k: m")["utc"] == utc(2026, 10, 1, 3, 39, 23)


def test_rfc5424_with_nilvalues() -> None:
    row = read_one("<4>1 2026-09-30T10:09:23.123+02:00 fw1 kernel - - - IN=eth0 OUT=")
    assert row == {
        "log_line": 1,
        "sl_kind": "rfc5424",
        "sl_host": "fw1",
        "sl_program": "kernel",
        "sl_message": "IN=eth0 OUT=",
        "utc": utc(2026, 9, 30, 8, 9, 23, 123000),
    }


def test_rfc5424_structured_data_bom_and_nil_host() -> None:
    line = (
        '<134>1 2026-09-30T10:09:23Z - kernel 77 ID47 [exampleSDID@32473 iut="3" '
        'note="a \\] b"][meta sequenceId="1"] \ufeffIN=eth0 OUT='
    )
    row = read_one(line)
    assert (row["sl_kind"], row["sl_host"], row["sl_program"]) == ("rfc5424", None, "kernel")
    assert row["sl_message"] == "IN=eth0 OUT="
    assert row["utc"] == utc(2026, 9, 30, 10, 9, 23)


def test_rfc5424_nil_app_name() -> None:
    row = read_one("<13>1 2026-09-30T10:09:23Z fw1 - - - - hello")
    assert (row["sl_host"], row["sl_program"], row["sl_message"]) == ("fw1", None, "hello")


def test_rfc5424_nil_timestamp_has_no_time() -> None:
    row = read_one("<4>1 - fw1 kernel - - - IN=eth0 OUT=")
    assert (row["sl_kind"], row["utc"]) == ("rfc5424", None)


def test_rfc5424_stamp_without_zone_is_local_time() -> None:
    line = "<4>1 2026-01-15T10:00:00 fw1 kernel - - - hello"
    assert read_one(line)["utc"] == utc(2026, 1, 15, 10, 0)
    paris = read_one(line, config=SyslogConfig(timezone="Europe/Paris"))
    assert paris["utc"] == utc(2026, 1, 15, 9, 0)


@pytest.mark.parametrize(
    "line",
    [
        "hello world",
        "",
        "[12345.678901] IN=eth0 OUT= SRC=1.2.3.4",
        "Sep 30 2026 10:09:23 fw1 kernel: IN=eth0",
        "Sep 30 10:09:23 kernel: [1.0] IN=eth0",
        "0 3 PVEFW-HOST-IN 20/Jun/2022:13:09:14 +0200 policy DROP: IN=vmbr0",
    ],
)
def test_unknown_envelopes(line: str) -> None:
    row = read_one(line)
    assert (row["sl_kind"], row["sl_host"], row["utc"]) == (None, None, None)


@pytest.mark.parametrize(
    "line",
    [
        "Feb 30 10:09:23 fw1 kernel: m",
        "Sep 31 10:09:23 fw1 kernel: m",
        "Sep 30 24:09:23 fw1 kernel: m",
        "Sep 30 10:60:23 fw1 kernel: m",
        "Foo 30 10:09:23 fw1 kernel: m",
        "2026-13-01T10:09:23Z fw1 kernel: m",
        "<4>1 yesterday fw1 kernel - - - m",
    ],
)
def test_impossible_stamps_have_no_time(line: str) -> None:
    row = read_one(line)
    assert row["sl_kind"] is not None
    assert row["utc"] is None


def test_february_29_exists_in_leap_years_only() -> None:
    leap = read_one("Feb 29 10:00:00 h k: m", config=SyslogConfig(year=2024))
    assert leap["utc"] == utc(2024, 2, 29, 10, 0)
    plain = read_one("Feb 29 10:00:00 h k: m", config=SyslogConfig(year=2025))
    assert plain["utc"] is None


# -- years and zones of RFC 3164 stamps ---------------------------------------------


def test_year_is_that_of_now_when_the_month_is_not_after_now() -> None:
    assert read_one("Oct  5 11:00:00 h k: m")["utc"] == utc(2026, 10, 5, 11, 0)


def test_year_is_last_year_when_the_first_month_is_after_now() -> None:
    assert read_one("Nov  1 00:00:00 h k: m")["utc"] == utc(2025, 11, 1, 0, 0)


def test_configured_year_wins_over_now() -> None:
    row = read_one("Nov  1 00:00:00 h k: m", config=SyslogConfig(year=2020))
    assert row["utc"] == utc(2020, 11, 1, 0, 0)


def test_configured_zone_applies_to_rfc3164_only() -> None:
    reader = Reader(config=SyslogConfig(timezone="Europe/Paris"))
    summer, winter, zoned = reader.read(
        [
            "Sep 30 10:09:23 h k: m",
            "Jan 15 10:00:00 h k: m",
            "2026-09-30T10:09:23+0000 h k: m",
        ]
    )
    assert summer["utc"] == utc(2026, 9, 30, 8, 9, 23)
    # Sep -> Jan steps back more than half a year: the next January.
    assert winter["utc"] == utc(2027, 1, 15, 9, 0)
    assert zoned["utc"] == utc(2026, 9, 30, 10, 9, 23)


def test_dec_to_jan_rolls_over_within_one_batch() -> None:
    reader = Reader(now=dt.datetime(2026, 1, 10, tzinfo=UTC))
    rows = reader.read(
        [
            "Dec 31 23:59:58 h k: a",
            "Dec 31 23:59:59 h k: b",
            "Jan  1 00:00:01 h k: c",
            "Jan  2 08:00:00 h k: d",
        ]
    )
    assert [r["utc"] for r in rows] == [
        utc(2025, 12, 31, 23, 59, 58),
        utc(2025, 12, 31, 23, 59, 59),
        utc(2026, 1, 1, 0, 0, 1),
        utc(2026, 1, 2, 8, 0),
    ]


def test_rollover_state_carries_across_batches() -> None:
    reader = Reader(now=dt.datetime(2026, 1, 10, tzinfo=UTC))
    (first,) = reader.read(["Dec 31 23:59:59 h k: a"])
    (second,) = reader.read(["Jan  1 00:00:01 h k: b"])
    (third,) = reader.read(["Jan  3 00:00:00 h k: c"])
    assert first["utc"] == utc(2025, 12, 31, 23, 59, 59)
    assert second["utc"] == utc(2026, 1, 1, 0, 0, 1)
    assert third["utc"] == utc(2026, 1, 3, 0, 0)
    assert (reader.envelope.year, reader.envelope.month) == (2026, 1)


def test_a_batch_without_rfc3164_stamps_keeps_the_year_state() -> None:
    reader = Reader(now=dt.datetime(2026, 1, 10, tzinfo=UTC))
    reader.read(["Dec 31 23:59:59 h k: a"])
    reader.read(["2026-01-01T00:00:00Z h k: iso", "garbage"])
    (row,) = reader.read(["Jan  1 00:00:05 h k: b"])
    assert row["utc"] == utc(2026, 1, 1, 0, 0, 5)


def test_late_lines_around_new_year_do_not_move_the_rest_of_the_file() -> None:
    reader = Reader(now=dt.datetime(2026, 1, 10, tzinfo=UTC))
    rows = reader.read(
        [
            "Dec 31 23:59:59 h k: a",
            "Jan  1 00:00:01 h k: b",
            "Dec 31 23:59:58 h k: relayed late",
            "Jan  1 00:00:02 h k: c",
        ]
    )
    assert [r["utc"].year for r in rows] == [2025, 2026, 2025, 2026]


def test_a_late_line_at_a_months_end_stays_in_its_year() -> None:
    rows = Reader().read(
        ["Aug 31 23:59:59 h k: a", "Sep  1 00:00:01 h k: b", "Aug 31 23:59:58 h k: late"]
    )
    assert [r["utc"].year for r in rows] == [2026, 2026, 2026]


def test_several_years_in_one_file() -> None:
    reader = Reader(config=SyslogConfig(year=2020))
    months = ["Nov", "Feb", "Jun", "Dec", "Jan"]
    rows = reader.read([f"{m}  1 00:00:00 h k: x" for m in months])
    assert [r["utc"].year for r in rows] == [2020, 2021, 2021, 2021, 2022]


@pytest.mark.parametrize(
    ("months", "years"),
    [
        (["Jul", "Jan"], [2021, 2022]),  # six months back: the next year
        (["Jun", "Jan"], [2021, 2021]),  # five back: a late line of the same year
        (["Jan", "Aug"], [2021, 2020]),  # seven forward: a late line of the year before
        (["Jan", "Jul"], [2021, 2021]),  # six forward: the same year
    ],
)
def test_a_year_turns_at_six_months_back_exactly(months: list[str], years: list[int]) -> None:
    rows = Reader(config=SyslogConfig(year=2021)).read([f"{m}  1 00:00:00 h k: x" for m in months])
    assert [r["utc"].year for r in rows] == years


def test_years_past_9999_are_resolved_in_a_zone_with_clock_changes() -> None:
    """A configured year of 9999 rolls over into 10000, which Python's datetime
    cannot hold (the zone's clock changes are looked up to 9998 only)."""
    reader = Reader(config=SyslogConfig(year=9999, timezone="Europe/Paris"))
    _, times = reader.parse(["Dec 31 23:00:00 h k: a", "Jan  1 01:00:00 h k: b"])
    hour = 3_600_000_000
    local_new_year = (np.datetime64("10000-01-01T00:00", "us").astype(np.int64)).item()
    assert times.cast(pa.int64()).to_pylist() == [local_new_year - 2 * hour, local_new_year]
    assert reader.envelope.year == 10000


def test_a_date_past_what_a_timestamp_holds_has_no_time() -> None:
    """A year carried past about 290,000 (as many rollovers) would wrap around."""
    parts = [pa.array([value], pa.int32()) for value in (300_000, 1, 1)]
    tod = pa.array([0], pa.int64()).cast(pa.time64("us"))
    assert wall_clock(*parts, tod).to_pylist() == [None]
    near = [pa.array([value], pa.int32()) for value in (290_000, 1, 1)]
    assert wall_clock(*near, tod).null_count == 0


def test_a_jump_forward_of_more_than_half_a_year_reads_as_the_year_before() -> None:
    # The price of tolerating late lines: Feb then Dec is taken as a December
    # line relayed late, not as ten silent months.
    rows = Reader(config=SyslogConfig(year=2021)).read(
        ["Feb  1 00:00:00 h k: a", "Dec  1 00:00:00 h k: b"]
    )
    assert [r["utc"].year for r in rows] == [2021, 2020]


def test_years_follow_line_numbers_not_row_order() -> None:
    reader = Reader(now=dt.datetime(2026, 1, 10, tzinfo=UTC))
    rows = reader.read(["Jan  1 00:00:01 h k: b", "Dec 31 23:59:59 h k: a"], numbers=[2, 1])
    assert [(r["log_line"], r["utc"]) for r in rows] == [
        (2, utc(2026, 1, 1, 0, 0, 1)),
        (1, utc(2025, 12, 31, 23, 59, 59)),
    ]


def test_inputs_matching_a_timezones_pattern_are_read_in_that_zone(tmp_path: Any) -> None:
    """A central log server: the Paris firewall's clock is local time, the rest UTC."""
    from pathlib import Path

    from reconwatch.config import Config, ConfigError, load_config
    from reconwatch.ingest.run import IngestOptions, ingest
    from reconwatch.lake import Lake

    line = (
        "Jul 14 12:00:00 {host} kernel: RW-DROP: IN=eth0 OUT= SRC=198.51.100.7 "
        "DST=203.0.113.5 LEN=44 TTL=43 ID=1 PROTO=TCP SPT=40000 DPT=22 WINDOW=1024 SYN URGP=0\n"
    )
    root = Path(tmp_path)
    (root / "remote" / "paris-fw").mkdir(parents=True)
    (root / "remote" / "nyc-fw").mkdir(parents=True)
    paris = root / "remote" / "paris-fw" / "kern.log"
    paris.write_text(line.format(host="paris-fw"))
    nyc = root / "remote" / "nyc-fw" / "kern.log"
    nyc.write_text(line.format(host="nyc-fw"))
    config_file = root / "rw.yaml"
    config_file.write_text(
        "syslog:\n  timezone: UTC\n  timezones:\n    '*/paris-fw/*': Europe/Paris\n"
    )
    config = load_config(config_file)
    assert config.syslog.zone_for(str(paris)) == "Europe/Paris"
    assert config.syslog.zone_for("remote/nyc-fw/kern.log") == "UTC"
    lake = Lake(root / "lake")
    ingest([str(paris), str(nyc)], lake, config, IngestOptions(now=NOW))
    stamps = {r["observer_name"]: r["timestamp"] for r in lake.read("network").to_pylist()}
    assert stamps["nyc-fw"] == dt.datetime(2026, 7, 14, 12, 0, tzinfo=UTC)
    assert stamps["paris-fw"] == dt.datetime(2026, 7, 14, 10, 0, tzinfo=UTC)  # CEST = UTC+2
    bad = root / "bad.yaml"
    bad.write_text("syslog:\n  timezones:\n    '*': Mars/Olympus\n")
    with pytest.raises(ConfigError, match="unknown time zone"):
        load_config(bad)
    assert Config().for_input("x.log") == Config()


_STAMP_PARTS = st.tuples(
    st.one_of(st.none(), st.integers(-3000, 12000), st.sampled_from([1900, 2000, 2024, 2100])),
    st.one_of(st.none(), st.integers(-1, 14), st.just(2)),
    st.one_of(st.none(), st.integers(-1, 32), st.sampled_from([28, 29, 30])),
    st.one_of(st.none(), st.integers(0, 86_400_000_000 - 1)),
)
#: Runs of one year and month (as in a log), the days changing within them.
_IN_LINE_ORDER = st.lists(_STAMP_PARTS, max_size=40).map(
    lambda rows: sorted(rows, key=lambda row: tuple(-1 if v is None else v for v in row))
)
_LEAP_DAYS = [(year, 2, 29, 0) for year in (1900, 2000, 2023, 2024)]
_ONE_MONTH = [(2024, 3, day, 3_600_000_000) for day in (1, 1, 2, 31, 32, 31)]


@settings(max_examples=80, deadline=None)
@given(st.one_of(st.lists(_STAMP_PARTS, max_size=40), _IN_LINE_ORDER))
@example(_LEAP_DAYS)
@example(_ONE_MONTH)
def test_wall_clock_is_duckdbs_make_date_plus_time_of_day(
    parts: list[tuple[int | None, int | None, int | None, int | None]],
) -> None:
    """Leap years, impossible dates (February 30, month 13), missing parts and
    years far from now: the same TIMESTAMPs (or nulls) as the SQL it replaced."""

    def column(n: int) -> list[int | None]:
        return [row[n] for row in parts]

    table = pa.table(
        {
            "i": pa.array(range(len(parts)), pa.int64()),
            "year": pa.array(column(0), pa.int32()),
            "month": pa.array(column(1), pa.int32()),
            "day": pa.array(column(2), pa.int32()),
            "tod": pa.array(column(3), pa.int64()).cast(pa.time64("us")),
        }
    )
    mine = wall_clock(table["year"], table["month"], table["day"], table["tod"])
    con = duckdb.connect()
    con.register("stamps", table)
    sql = "SELECT try(make_date(year, month, day)) + tod AS t FROM stamps ORDER BY i"
    theirs = con.sql(sql).to_arrow_table().column("t").cast(pa.timestamp("us"))
    # As integers: Python's datetime cannot hold year 0 or 10000.
    assert mine.cast(pa.int64()).to_pylist() == theirs.cast(pa.int64()).to_pylist()
