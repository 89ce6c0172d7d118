"""DNS server and resolver logs -> ``dns``: BIND, Windows DNS, dnsmasq, Unbound, CoreDNS,
Route 53 Resolver. Exact values for real and fixture lines, rejects, sniffing, properties,
and the way through the framework."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ingest_helpers import check_two_batches, make
from ingest_helpers import parse as parse_with
from reconwatch import schema
from reconwatch.config import Config
from reconwatch.ingest import dns, dns_windows, registry, run
from reconwatch.ingest.base import ParseContext, Parsed, Parser
from reconwatch.ingest.dns_bind import BindParser
from reconwatch.ingest.dns_lines import qtype_sql
from reconwatch.ingest.dns_resolvers import CoreDnsParser, DnsmasqParser, UnboundParser
from reconwatch.ingest.dns_route53 import Route53ResolverParser
from reconwatch.ingest.dns_windows import WindowsDnsParser
from reconwatch.lake import Lake

FIXTURES = Path(__file__).parent / "fixtures" / "dns"
NOW = dt.datetime(2026, 11, 28, 5, 0, tzinfo=dt.UTC)
KEYS = (
    "log_line",
    "timestamp",
    "source_ip",
    "source_port",
    "destination_ip",
    "dns_question_name",
    "dns_question_type",
    "dns_question_class",
    "dns_response_code",
    "dns_answers",
    "event_action",
)


def at(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=dt.UTC)


def parse(
    parser_cls: type[Parser], lines: list[str], config: Config | None = None, first: int = 1
) -> Parsed:
    con = duckdb.connect()
    try:
        parser = parser_cls(ParseContext(config or Config(), con, "test.log", NOW))
        return parse_with(parser, lines, first)
    finally:
        con.close()


def rows(parsed: Parsed, keys: tuple[str, ...] = KEYS) -> list[dict[str, Any]]:
    """Rows conformed to the dns schema (as the framework stores them), chosen keys only."""
    table = parsed.rows
    if "event_dataset" not in table.column_names:
        table = table.append_column("event_dataset", pa.repeat("x", table.num_rows))
    table = table.append_column("log_file", pa.repeat("test.log", table.num_rows))
    conformed = schema.conform(table, schema.DNS)
    return [{k: r[k] for k in keys} for r in conformed.to_pylist()]


def rejects(parsed: Parsed) -> list[tuple[int, str]]:
    return [(r["log_line"], r["reason"]) for r in parsed.rejects.to_pylist()]


def fixture(name: str) -> list[str]:
    return (FIXTURES / name).read_text().splitlines()


def row(
    log_line: int,
    timestamp: dt.datetime,
    source_ip: str,
    name: str,
    qtype: str | None,
    *,
    port: int | None = None,
    destination: str | None = None,
    qclass: str | None = "IN",
    rcode: str | None = None,
    answers: list[str] | None = None,
    action: str | None = "allowed",
) -> dict[str, Any]:
    return {
        "log_line": log_line,
        "timestamp": timestamp,
        "source_ip": source_ip,
        "source_port": port,
        "destination_ip": destination,
        "dns_question_name": name,
        "dns_question_type": qtype,
        "dns_question_class": qclass,
        "dns_response_code": rcode,
        "dns_answers": answers,
        "event_action": action,
    }


# -- BIND ------------------------------------------------------------------------------------


def test_bind_query_log_lines_every_variant() -> None:
    lines = [
        "28-Nov-2026 04:00:00.123 queries: info: client @0x7f3a2c0 192.0.2.1#53211 "
        "(www.example.com): view internal: query: WWW.Example.com IN A +E(0)K (198.51.100.53)",
        "28-Nov-2026 04:00:01.000 client 2001:db8::7#40000 (example.com): query: example.com "
        "IN AXFR -T (2001:db8::53)",
        "28-Nov-2026 04:00:02 client @0x1 192.0.2.2#1053 (version.bind): query: version.bind "
        "CH TXT + (198.51.100.53)",
        "Nov 28 04:00:03 ns1 named[812]: client @0x7f 192.0.2.3#5353 (x.example.com): "
        "query: x.example.com. IN PTR +ED (198.51.100.53)",
        "Nov 28 04:00:04 ns1 named[812]: 28-Nov-2026 03:59:59.500 queries: info: client "
        "192.0.2.4#5354 (y.example.com): query: y.example.com IN A + (198.51.100.53)",
    ]
    parsed = parse(BindParser, lines)
    assert rejects(parsed) == []
    assert rows(parsed) == [
        row(1, at(2026, 11, 28, 4, 0, 0, 123000), "192.0.2.1", "www.example.com", "A",
            port=53211, destination="198.51.100.53"),
        row(2, at(2026, 11, 28, 4, 0, 1), "2001:db8::7", "example.com", "AXFR", port=40000,
            destination="2001:db8::53"),
        row(3, at(2026, 11, 28, 4, 0, 2), "192.0.2.2", "version.bind", "TXT", port=1053,
            destination="198.51.100.53", qclass="CH"),
        row(4, at(2026, 11, 28, 4, 0, 3), "192.0.2.3", "x.example.com", "PTR", port=5353,
            destination="198.51.100.53"),
        # BIND's own stamp wins over the syslog envelope's.
        row(5, at(2026, 11, 28, 3, 59, 59, 500000), "192.0.2.4", "y.example.com", "A",
            port=5354, destination="198.51.100.53"),
    ]  # fmt: skip
    assert parsed.rows.column("event_dataset").to_pylist() == ["bind.query"] * 5
    assert parsed.rows.column("observer_name").to_pylist() == [None, None, None, "ns1", "ns1"]


def test_bind_real_security_lines(crowdsec_hub: Path) -> None:
    lines = (crowdsec_hub / "bind9-logs" / "bind9-logs.log").read_text().splitlines()
    parsed = parse(BindParser, lines)
    got = rows(parsed)
    assert [(r["log_line"], r["source_ip"], r["source_port"], r["dns_question_name"],
             r["dns_question_type"], r["dns_response_code"], r["event_action"]) for r in got] == [
        (1, "192.168.1.1", 3076, "example.com", "ANY", None, "denied"),
        (2, "192.168.1.1", 3076, "example.com", "ANY", None, "denied"),
        (3, "192.168.1.2", 55590, "example.com", "AXFR", None, "denied"),
        (4, "::1", 62449, "example.com", "AXFR", None, "denied"),
        (5, "::1", 62465, "example.com", "AXFR", None, "denied"),
        (6, "::1", 62466, "example.com", "AXFR", None, "denied"),
        (7, "::1", 61738, "example.com", "XFR", "NOTAUTH", "rejected"),
        (10, "192.168.1.1", 44717, "wr_test", "A", None, "denied"),
        (11, "192.168.1.1", 3076, "example.com", "ANY", None, "denied"),
        (12, "192.168.1.1", 3076, "example.com", "ANY", None, "denied"),
        (13, "192.168.1.1", 44717, "wr_test", "A", None, "denied"),
    ]  # fmt: skip
    assert got[0]["timestamp"] == at(2022, 10, 19, 5, 34, 2, 425000)
    assert got[6]["timestamp"] == at(2022, 11, 3, 13, 38, 37, 525000)
    # Lines 8 and 9 carry no time at all (print-time off, no syslog).
    assert rejects(parsed) == [(8, "missing timestamp"), (9, "missing timestamp")]
    assert set(parsed.rows.column("event_dataset").to_pylist()) == {"bind.security"}


def test_bind_real_syslog_lines_take_the_envelope_time_without_their_own(
    crowdsec_hub: Path,
) -> None:
    lines = (crowdsec_hub / "bind9-syslog" / "bind9-syslog.log").read_text().splitlines()
    parsed = parse(BindParser, lines)
    assert rejects(parsed) == []
    got = rows(parsed)
    assert len(got) == 12
    assert got[3]["source_ip"] == "2003:f8:733:b600:6018:bbe4:d0ed:22"
    assert got[3]["timestamp"] == at(2022, 11, 3, 13, 34, 52, 235000)
    # "security: client ..." without BIND's stamp: the syslog stamp (Nov 13, year of NOW).
    assert got[7]["timestamp"] == at(2026, 11, 13, 10, 59, 46)
    assert got[11]["dns_question_name"] == "sl"


def test_bind_zone_transfers_and_other_lines() -> None:
    lines = [
        "28-Nov-2026 04:00:00.000 xfer-out: info: client @0x7f 192.0.2.9#40001 (example.com): "
        "transfer of 'example.com/IN': AXFR started (serial 2026112801)",
        "28-Nov-2026 04:00:00.500 xfer-out: info: client @0x7f 192.0.2.9#40001 (example.com): "
        "transfer of 'example.com/IN': AXFR ended: 1 messages, 12 records",
        "28-Nov-2026 04:00:01.000 client @0x7f 192.0.2.9#40002 (example.com): "
        "transfer of 'example.com/IN': AXFR-style IXFR started (serial 7)",
        "28-Nov-2026 04:00:02.000 general: info: zone example.com/IN: loaded serial 7",
        "",
        "Nov 28 04:00:03 ns1 sshd[1]: Accepted publickey for root from 192.0.2.1 port 22 ssh2",
        "28-Nov-2026 04:00:04.000 client @0x7f 192.0.2.300#1 (a): query: a IN A + (192.0.2.53)",
    ]
    parsed = parse(BindParser, lines)
    assert [(r["log_line"], r["dns_question_type"], r["event_action"])
            for r in rows(parsed)] == [(1, "AXFR", "allowed"), (3, "IXFR", "allowed")]  # fmt: skip
    assert rejects(parsed) == [
        (4, "not a BIND query or security line"),
        (6, "line of another syslog program"),
        (7, "invalid source address"),
    ]
    assert parsed.skipped == 2  # the transfer's end and the blank line


def test_bind_file_stamps_read_in_the_configured_zone() -> None:
    config = Config.model_validate({"syslog": {"timezone": "Europe/Paris"}})
    line = "28-Nov-2026 05:00:00.000 client 192.0.2.1#1 (a): query: a IN A + (192.0.2.53)"
    assert rows(parse(BindParser, [line], config))[0]["timestamp"] == at(2026, 11, 28, 4, 0)


# -- Windows DNS -----------------------------------------------------------------------------


def test_windows_dns_debug_log() -> None:
    parsed = parse(WindowsDnsParser, fixture("windns.log"))
    assert rows(parsed) == [
        row(7, at(2026, 11, 28, 4, 0), "192.0.2.1", "www.example.com", "A", qclass=None),
        row(10, at(2026, 11, 28, 16, 0, 1), "192.0.2.1", "nx.example.com", "AAAA", qclass=None,
            rcode="NXDOMAIN"),
        row(11, at(2026, 11, 28, 16, 0, 2), "2001:db8::7", "example.com", "AXFR", qclass=None),
    ]  # fmt: skip
    assert parsed.rows.column("dns_id").to_pylist() == [0xD2F0, 0xD2F0, 1]
    assert parsed.rows.column("network_transport").to_pylist() == ["udp", "udp", "tcp"]
    # Six header lines, and the server's own recursion (Snd query, Rcv response).
    assert parsed.skipped == 8
    assert rejects(parsed) == [(12, "not a Windows DNS packet line")]


def test_windows_dns_two_digit_years_are_this_century() -> None:
    """A server whose short date shows two digits of the year: 11/28/26 is
    2026, not the year 26; other year lengths are no stamp."""
    entry = (
        "{date} 4:00:00 AM 0E4C PACKET  0000020D2A6F2150 UDP Rcv 192.0.2.1       d2f0   Q "
        "[0001   D   NOERROR] A      (3)www(7)example(3)com(0)"
    )
    lines = [entry.format(date=d) for d in ("11/28/26", "1/2/99", "11/28/026")]
    assert WindowsDnsParser.sniff(lines[:1])
    parsed = parse(WindowsDnsParser, lines)
    assert [(r["log_line"], r["timestamp"]) for r in rows(parsed)] == [
        (1, at(2026, 11, 28, 4, 0)),
        (2, at(1999, 1, 2, 4, 0)),
    ]
    assert rejects(parsed) == [(3, "invalid timestamp")]


#: A query entry of the debug log, its stamp left to fill in.
WINDNS_ENTRY = (
    "{stamp} 0E4C PACKET  0000020D2A6F2150 UDP Rcv 192.0.2.1       d2f0   Q "
    "[0001   D   NOERROR] A      (3)www(7)example(3)com(0)"
)
WINDNS_AMBIGUOUS = (
    "test.log: Windows DNS dates are ambiguous (no day above 12 in the first {n} entries); "
    "read as month/day; set ingest.windows_dns_date_order to dmy if the server writes day first"
)


def windns(*stamps: str) -> list[str]:
    return [WINDNS_ENTRY.format(stamp=s) for s in stamps]


def date_order(order: str) -> Config:
    return Config.model_validate({"ingest": {"windows_dns_date_order": order}})


def times(parsed: Parsed) -> list[tuple[int, dt.datetime]]:
    return [(r["log_line"], r["timestamp"]) for r in rows(parsed)]


def windns_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "reconwatch.ingest.dns_windows"]


def test_windows_dns_day_first_dates_are_read_day_first_when_a_day_is_above_12(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """An en-GB / fr-FR server (``dd/MM/yyyy``, 24-hour): one day above 12 in
    the sample settles the file, its days up to 12 included."""
    lines = windns("28/11/2026 16:00:00", "1/12/2026 04:00:00", "12/1/2026 4:00:00 PM")
    assert WindowsDnsParser.sniff(lines[:1])
    parsed = parse(WindowsDnsParser, lines)
    assert times(parsed) == [
        (1, at(2026, 11, 28, 16, 0)),
        (2, at(2026, 12, 1, 4, 0)),
        (3, at(2026, 1, 12, 16, 0)),
    ]
    assert rejects(parsed) == []
    assert windns_warnings(caplog) == []


def test_windows_dns_dotted_and_dashed_dates(caplog: pytest.LogCaptureFixture) -> None:
    """de-DE writes ``28.11.2026``, nl-NL ``28-11-2026``: one separator, twice."""
    lines = windns("28.11.2026 16:00:00", "2.12.26 16:00:01", "28-11-2026 16:00:02")
    mixed = windns("28.11/2026 16:00:03")
    assert all(WindowsDnsParser.sniff([line]) for line in lines)
    assert not WindowsDnsParser.sniff(mixed)
    parsed = parse(WindowsDnsParser, lines + mixed)
    assert times(parsed) == [
        (1, at(2026, 11, 28, 16, 0)),
        (2, at(2026, 12, 2, 16, 0, 1)),
        (3, at(2026, 11, 28, 16, 0, 2)),
    ]
    assert rejects(parsed) == [(4, "invalid timestamp")]
    assert windns_warnings(caplog) == []


def test_windows_dns_dotted_times(caplog: pytest.LogCaptureFixture) -> None:
    """fi-FI writes its long time ``H.mm.ss``: ``28.11.2026 16.00.00``. A time
    that mixes ``:`` and ``.`` reads in no way."""
    lines = windns("28.11.2026 16.00.00", "1.12.2026 4.05.09", "28/11/2026 4.00.01 PM")
    mixed = windns("28.11.2026 16:00.02", "28.11.2026 16.00:03")
    assert all(WindowsDnsParser.sniff([line]) for line in lines)
    assert not any(WindowsDnsParser.sniff([line]) for line in mixed)
    parsed = parse(WindowsDnsParser, lines + mixed)
    assert times(parsed) == [
        (1, at(2026, 11, 28, 16, 0)),
        (2, at(2026, 12, 1, 4, 5, 9)),
        (3, at(2026, 11, 28, 16, 0, 1)),
    ]
    assert rejects(parsed) == [(4, "invalid timestamp"), (5, "invalid timestamp")]
    assert windns_warnings(caplog) == []


def test_windows_dns_days_up_to_12_read_day_first_only_when_set(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """No day above 12: ``dmy`` reads the file right; ``auto`` cannot tell and
    reads month first (Windows' US default), saying so once, with the file."""
    lines = windns("5/11/2026 16:00:00", "12/11/2026 16:00:01", "3/4/26 16:00:02")
    assert times(parse(WindowsDnsParser, lines, date_order("dmy"))) == [
        (1, at(2026, 11, 5, 16, 0)),
        (2, at(2026, 11, 12, 16, 0, 1)),
        (3, at(2026, 4, 3, 16, 0, 2)),
    ]
    assert windns_warnings(caplog) == []
    parsed = parse(WindowsDnsParser, lines)
    assert times(parsed) == [
        (1, at(2026, 5, 11, 16, 0)),
        (2, at(2026, 12, 11, 16, 0, 1)),
        (3, at(2026, 3, 4, 16, 0, 2)),
    ]
    assert rejects(parsed) == []
    assert windns_warnings(caplog) == [WINDNS_AMBIGUOUS.format(n=3)]
    assert [r.levelname for r in caplog.records] == ["WARNING"]


def test_windows_dns_month_first_set_rejects_day_first_dates(
    caplog: pytest.LogCaptureFixture,
) -> None:
    lines = windns("28/11/2026 16:00:00", "11/28/2026 4:00:00 PM", "5/11/2026 16:00:00")
    parsed = parse(WindowsDnsParser, lines, date_order("mdy"))
    assert times(parsed) == [(2, at(2026, 11, 28, 16, 0)), (3, at(2026, 5, 11, 16, 0))]
    assert rejects(parsed) == [(1, "invalid timestamp")]
    # And the other way round: ``dmy`` reads no date as month first.
    parsed = parse(WindowsDnsParser, lines, date_order("dmy"))
    assert times(parsed) == [(1, at(2026, 11, 28, 16, 0)), (3, at(2026, 11, 5, 16, 0))]
    assert rejects(parsed) == [(2, "invalid timestamp")]
    assert windns_warnings(caplog) == []


def test_windows_dns_two_digit_years_in_either_order() -> None:
    mdy = windns("11/28/26 4:00:00 AM", "1/2/99 16:00:00", "2/29/27 16:00:00")
    for config in (date_order("mdy"), None):  # ``auto``: no day above 12 first, so mdy
        parsed = parse(WindowsDnsParser, mdy, config)
        assert times(parsed) == [(1, at(2026, 11, 28, 4, 0)), (2, at(1999, 1, 2, 16, 0))]
        assert rejects(parsed) == [(3, "invalid timestamp")]
    dmy = windns("28/11/26 04:00:00", "2/1/99 16:00:00", "29/2/27 16:00:00")
    for config in (date_order("dmy"), None):  # ``auto`` decides dmy from the 28
        parsed = parse(WindowsDnsParser, dmy, config)
        assert times(parsed) == [(1, at(2026, 11, 28, 4, 0)), (2, at(1999, 1, 2, 16, 0))]
        # 2027 is not a leap year, whatever the order.
        assert rejects(parsed) == [(3, "invalid timestamp")]


def test_windows_dns_contradictory_dates_are_never_guessed(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A sample with a day above 12 in both places (two locales in one file):
    each date is read in the one order it allows, one that reads both ways
    differently is rejected, and the file is named in a warning."""
    lines = windns(
        "28/11/2026 16:00:00", "11/28/2026 4:00:01 PM", "5/6/2026 16:00:02", "6/6/2026 16:00:03"
    )
    parsed = parse(WindowsDnsParser, lines)
    assert times(parsed) == [
        (1, at(2026, 11, 28, 16, 0)),
        (2, at(2026, 11, 28, 16, 0, 1)),
        (4, at(2026, 6, 6, 16, 0, 3)),
    ]
    assert rejects(parsed) == [(3, "invalid timestamp")]
    assert windns_warnings(caplog) == [
        "test.log: Windows DNS dates disagree (day first on line 1, month first on line 2): "
        "each date is read in the one order it allows and dates that read both ways are "
        "rejected; set ingest.windows_dns_date_order to mdy or dmy to read them all one way"
    ]
    # A setting reads them all one way, without a warning.
    caplog.clear()
    parsed = parse(WindowsDnsParser, lines, date_order("dmy"))
    assert times(parsed) == [
        (1, at(2026, 11, 28, 16, 0)),
        (3, at(2026, 6, 5, 16, 0, 2)),
        (4, at(2026, 6, 6, 16, 0, 3)),
    ]
    assert rejects(parsed) == [(2, "invalid timestamp")]
    assert windns_warnings(caplog) == []


def test_windows_dns_order_is_settled_by_the_first_batch_that_says_it(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The header block holds no date; a batch whose dates all read both ways
    is read month first (noted once), and the first batch with a day above 12
    settles the order for the rest of the file (noted, with where it changed)."""
    parser = make(WindowsDnsParser)
    header = fixture("windns.log")[:6]
    assert parse_with(parser, header).skipped == 6
    first = parse_with(parser, windns("5/11/2026 16:00:00"), first=7)
    later = parse_with(parser, windns("28/11/2026 16:00:00", "6/11/2026 16:00:01"), first=8)
    last = parse_with(parser, windns("5/12/2026 16:00:00", "7/12/2026 16:00:00"), first=10)
    assert times(first) == [(7, at(2026, 5, 11, 16, 0))]
    assert times(later) == [(8, at(2026, 11, 28, 16, 0)), (9, at(2026, 11, 6, 16, 0, 1))]
    assert times(last) == [(10, at(2026, 12, 5, 16, 0)), (11, at(2026, 12, 7, 16, 0))]
    switched = (
        "test.log: Windows DNS dates: a day above 12 came in the batch from line 8: read "
        "day first from there; the dates from line 7 up to it were read month first"
    )
    assert windns_warnings(caplog) == [WINDNS_AMBIGUOUS.format(n=1), switched]
    assert parser.learnt == {"windns_date_order": "dmy"}


def test_windows_dns_order_carries_over_to_a_run_reading_the_file_on(tmp_path: Path) -> None:
    """A day-first file that grew is read on from where the last run stopped,
    in the order that run settled, though its new lines have no day above 12."""
    header = fixture("windns.log")[:6]
    log = tmp_path / "dns.log"
    log.write_text("\n".join([*header, *windns("28/11/2026 16:00:00")]) + "\n")
    lake = Lake(tmp_path / "lake")
    first = run.ingest([str(log)], lake, Config(), run.IngestOptions(now=NOW)).files[0]
    assert first.fingerprint is not None
    assert first.fingerprint["learnt"] == {"windns_date_order": "dmy"}
    with log.open("a") as grown:
        grown.write("\n".join(windns("5/12/2026 16:00:00")) + "\n")
    second = run.ingest([str(log)], lake, Config(), run.IngestOptions(now=NOW)).files[0]
    assert (second.first_line, second.parsed, second.note) == (8, 1, None)
    stamps = sorted(r["timestamp"] for r in lake.read("dns").to_pylist())
    assert stamps == [at(2026, 11, 28, 16, 0), at(2026, 12, 5, 16, 0)]


def test_windows_dns_a_day_above_12_at_a_batch_end_settles_the_order() -> None:
    """A batch is about 200,000 lines: its first entries may be hours of days
    up to 12; dates only move on, so its last lines are looked at too."""
    n = 2 * dns_windows.SAMPLE_LINES + 10
    parsed = parse(WindowsDnsParser, windns(*["5/11/2026 16:00:00"] * n, "13/11/2026 16:00:00"))
    got = times(parsed)
    assert got[0] == (1, at(2026, 11, 5, 16, 0)) and got[-1] == (n + 1, at(2026, 11, 13, 16, 0))


def _windns_runs(tmp_path: Path, *appended: list[str]) -> list[Any]:
    """The header and the first stamps, ingested; then each later list of
    lines appended and the grown file ingested on: each run's FileStats."""
    log = tmp_path / "dns.log"
    lake = Lake(tmp_path / "lake")
    stats = []
    for number, lines in enumerate(appended):
        with log.open("a") as out:
            out.write("\n".join([*fixture("windns.log")[:6], *lines] if number == 0 else lines))
            out.write("\n")
        stats.append(run.ingest([str(log)], lake, Config(), run.IngestOptions(now=NOW)).files[0])
    return stats


def test_windows_dns_a_carried_order_the_new_dates_contradict_is_dropped(
    tmp_path: Path,
) -> None:
    """The order an earlier run settled is checked on this run's first dates (a
    server's locale changed, a run file was edited): read in either order then."""
    first, second = _windns_runs(
        tmp_path, windns("28/11/2026 16:00:00"), windns("11/29/2026 4:00:00 PM")
    )
    assert first.fingerprint["learnt"] == {"windns_date_order": "dmy"}
    assert second.note == (
        "Windows DNS dates from line 8 do not fit the dmy order an earlier run of this file "
        "settled on: read in either order from there"
    )
    assert second.fingerprint["learnt"] == {"windns_date_order": "either"}
    assert (second.parsed, second.rejected) == (1, 0)


def test_windows_dns_an_earlier_runs_guess_is_named_when_a_later_run_settles(
    tmp_path: Path,
) -> None:
    """A run that saw only days up to 12 read them month first (noted); the run
    that meets a day above 12 says from which line the file was read so."""
    first, second = _windns_runs(
        tmp_path, windns("5/11/2026 16:00:00"), windns("13/11/2026 16:00:00")
    )
    assert first.fingerprint["learnt"] == {"windns_guessed_from": "7"}
    assert second.note == (
        "Windows DNS dates: a day above 12 came in the batch from line 8: read day first "
        "from there; the dates from line 7 up to it were read month first"
    )
    assert second.fingerprint["learnt"] == {"windns_date_order": "dmy"}


@pytest.mark.parametrize("order", ["auto", "mdy", "dmy"])
def test_windows_dns_year_first_dates_are_read_whatever_the_order(
    order: str, caplog: pytest.LogCaptureFixture
) -> None:
    """sv-SE (``2026-11-05``) and ja-JP / zh-CN (``2026/11/05``) servers write
    the year first: such a date says its order, so no setting or warning matters."""
    parser = make(WindowsDnsParser, date_order(order))
    lines = windns("2026-11-05 16:00:00", "2026/11/28 04:00:01", "2026-11-31 16:00:00")
    assert WindowsDnsParser.sniff(lines[:1]) and WindowsDnsParser.sniff(lines[1:2])
    parsed = parse_with(parser, lines)
    assert times(parsed) == [(1, at(2026, 11, 5, 16, 0)), (2, at(2026, 11, 28, 4, 0, 1))]
    assert rejects(parsed) == [(3, "invalid timestamp")]  # no 31 November
    assert windns_warnings(caplog) == []


def test_windows_dns_date_order_setting_is_checked() -> None:
    assert Config().ingest.windows_dns_date_order == "auto"
    with pytest.raises(ValueError, match="windows_dns_date_order"):
        date_order("ymd")


def test_windows_dns_date_order_through_ingest(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The setting reaches each file's parser; ``auto`` decides file by file."""
    header = fixture("windns.log")[:6]
    uk, us = tmp_path / "uk.log", tmp_path / "us.log"
    uk.write_text("\n".join([*header, *windns("5/11/2026 16:00:00")]) + "\n")
    us.write_text("\n".join([*header, *windns("11/13/2026 4:00:00 PM")]) + "\n")

    notes: list[str | None] = []

    def ingest(config: Config, lake: str) -> tuple[list[tuple[int, int]], list[Any]]:
        stats = run.ingest([str(uk), str(us)], Lake(tmp_path / lake), config,
                           run.IngestOptions(now=NOW))  # fmt: skip
        notes[:] = [f.note for f in stats.files]
        stored = Lake(tmp_path / lake).read("dns").to_pylist()
        return [(f.parsed, f.rejected) for f in stats.files], sorted(
            (Path(r["log_file"]).name, r["timestamp"]) for r in stored
        )

    assert ingest(date_order("dmy"), "dmy") == (
        [(1, 0), (0, 1)],
        [("uk.log", at(2026, 11, 5, 16, 0))],
    )
    assert windns_warnings(caplog) == [] and notes == [None, None]
    assert ingest(Config(), "auto") == (
        [(1, 0), (1, 0)],
        [("uk.log", at(2026, 5, 11, 16, 0)), ("us.log", at(2026, 11, 13, 16, 0))],
    )
    assert windns_warnings(caplog) == [WINDNS_AMBIGUOUS.format(n=1).replace("test.log", str(uk))]
    # Stored with the run as the input's accounting note (shown in the reports), not only logged.
    assert notes == [WINDNS_AMBIGUOUS.format(n=1).removeprefix("test.log: "), None]


# -- dnsmasq, Unbound, CoreDNS ---------------------------------------------------------------


def test_dnsmasq_queries_become_rows_and_their_follow_ups_are_skipped() -> None:
    parsed = parse(DnsmasqParser, fixture("dnsmasq.log"))
    assert rows(parsed) == [
        row(1, at(2026, 11, 28, 4, 0), "192.0.2.1", "www.example.com", "A",
            rcode="NOERROR", answers=["93.184.216.34"]),
        row(4, at(2026, 11, 28, 4, 0, 1), "2001:db8::7", "v6.example.com", "AAAA",
            rcode="NXDOMAIN"),
        # ``config ... is <PTR>``: answered locally, the record's data is not logged.
        row(6, at(2026, 11, 28, 4, 0, 2), "192.0.2.9", "1.2.0.192.in-addr.arpa", "PTR",
            port=53211, rcode="NOERROR"),
    ]  # fmt: skip
    assert parsed.rows.column("observer_name").to_pylist() == ["gw", "gw", None]
    assert parsed.skipped == 4
    assert rejects(parsed) == [(8, "not a dnsmasq query line"), (9, "invalid source address")]


def test_dnsmasq_extra_replies_join_their_query_by_serial() -> None:
    parsed = parse(DnsmasqParser, fixture("dnsmasq-extra.log"))
    t = at(2026, 11, 28, 4, 10)
    c = "198.51.100.7"
    assert rows(parsed, (*KEYS, "network_transport")) == [
        # Interleaved with serial 43's query; the CNAME's target is an answer too.
        {**row(1, t, c, "www.example.com", "A", port=53211, rcode="NOERROR",
               answers=["edge.example.net", "203.0.113.80", "203.0.113.81"]),
         "network_transport": None},
        {**row(3, t, "198.51.100.8", "nx.example.com", "A", port=40000, rcode="NXDOMAIN"),
         "network_transport": None},
        {**row(9, t + dt.timedelta(seconds=1), c, "www.example.com", "AAAA", port=53212,
               rcode="NOERROR", answers=["edge.example.net", "2001:db8::80"]),
         "network_transport": None},
        # dnsmasq writes a reverse answer under the address, not the in-addr.arpa name.
        {**row(12, t + dt.timedelta(seconds=1), "198.51.100.9", "10.113.0.203.in-addr.arpa",
               "PTR", port=5353, rcode="NOERROR", answers=["host10.example.com"]),
         "network_transport": None},
        # ``reply error is SERVFAIL`` names no query: only the serial ties it.
        {**row(15, t + dt.timedelta(seconds=2), c, "broken.example.com", "TXT", port=53213,
               rcode="SERVFAIL"),
         "network_transport": None},
        {**row(18, t + dt.timedelta(seconds=3), c, "example.com", "MX", port=53214,
               rcode="NOERROR"),
         "network_transport": None},
        {**row(21, t + dt.timedelta(seconds=3), c, "router.lan", "A", port=53215,
               rcode="NOERROR", answers=["192.0.2.254"]),
         "network_transport": None},
        {**row(23, t + dt.timedelta(seconds=4), c, "big.example.com", "A", port=53216,
               rcode="NOERROR", answers=["203.0.113.99"]),
         "network_transport": "tcp"},
        {**row(25, t + dt.timedelta(seconds=5), c, "nodata.example.com", "AAAA", port=53217,
               rcode="NOERROR"),
         "network_transport": "udp"},
    ]  # fmt: skip
    assert rejects(parsed) == []
    assert parsed.skipped == 17


def test_dnsmasq_replies_without_serials_join_by_name_in_line_order() -> None:
    parsed = parse(DnsmasqParser, fixture("dnsmasq-replies.log"))
    t = at(2026, 11, 28, 4, 20)
    s = dt.timedelta(seconds=1)
    assert rows(parsed) == [
        row(1, t, "192.0.2.1", "a.example.com", "A", rcode="NOERROR", answers=["203.0.113.1"]),
        # A CNAME run keeps going through the chain's names.
        row(3, t, "192.0.2.2", "b.example.com", "A", rcode="NOERROR",
            answers=["cdn.example.net", "203.0.113.7"]),
        row(8, t + s, "192.0.2.1", "nx.example.com", "A", rcode="NXDOMAIN"),
        row(10, t + s, "192.0.2.1", "router.lan", "A", rcode="NOERROR",
            answers=["192.0.2.254"]),
        row(12, t + 2 * s, "192.0.2.1", "7.113.0.203.in-addr.arpa", "PTR", rcode="NOERROR",
            answers=["cdn.example.net"]),
        # The latest earlier query of the name gets the reply, not the first one.
        row(15, t + 3 * s, "192.0.2.1", "a.example.com", "AAAA", rcode="NOERROR"),
        # ``reply error is SERVFAIL`` names no query: without serials it stays unpaired.
        row(18, t + 4 * s, "192.0.2.3", "down.example.com", "A"),
        row(22, t + 5 * s, "192.0.2.4", "late.example.com", "A", rcode="NOERROR",
            answers=["203.0.113.5"]),
    ]  # fmt: skip
    # Line 21 (another dnsmasq process) answers nothing of process 812's; still skipped.
    assert rejects(parsed) == []
    assert parsed.skipped == 16


def test_pihole_blocking_lines_answer_their_query() -> None:
    """Pi-hole FTL's own answers (``gravity blocked NAME is 0.0.0.0``...) are answer lines.

    Written from FTL's ``blockingreason`` strings (v5 "blacklisted", v6
    "denied") and its test suite's ``gravity blocked ... is 0.0.0.0``. They
    were once rejected as "not a dnsmasq query line".
    """
    parsed = parse(DnsmasqParser, fixture("pihole.log"))
    t = at(2026, 11, 28, 4, 30)
    s = dt.timedelta(seconds=1)
    assert rows(parsed) == [
        row(1, t, "192.168.1.5", "ads.example.com", "A", rcode="NOERROR", answers=["0.0.0.0"]),
        row(3, t + s, "192.168.1.5", "ads.example.com", "AAAA", rcode="NOERROR",
            answers=["::"]),
        row(5, t + 2 * s, "192.168.1.6", "tracker.example.net", "A", rcode="NOERROR",
            answers=["0.0.0.0"]),
        row(7, t + 3 * s, "192.168.1.6", "telemetry.example.org", "A", rcode="NOERROR",
            answers=["0.0.0.0"]),
        row(9, t + 4 * s, "192.168.1.7", "mask.icloud.com", "A", rcode="NXDOMAIN"),
        row(11, t + 5 * s, "192.168.1.5", "www.example.com", "A", rcode="NOERROR",
            answers=["93.184.215.14"]),
    ]  # fmt: skip
    assert (rejects(parsed), parsed.skipped) == ([], 7)


def test_dnsmasq_types_without_a_name_are_type_numbers() -> None:
    """dnsmasq (and Pi-hole) write a type they cannot name as ``type=N``; the row's
    type is the number's mnemonic (an older dnsmasq has no name for HTTPS), else
    ``TYPE<n>``, as every DNS parser names a number (``dns_lines.qtype_sql``)."""
    lines = [
        "Nov 28 04:00:04 gw dnsmasq[812]: query[type=65] www.example.com from 192.0.2.1",
        "Nov 28 04:00:04 gw dnsmasq[812]: reply www.example.com is <HTTPS>",
        "Nov 28 04:00:05 gw dnsmasq[812]: 17 192.0.2.1/53211 query[type=64] _dns.resolver.arpa "
        "from 192.0.2.1",
        "Nov 28 04:00:06 gw dnsmasq[812]: query[type=] www.example.com from 192.0.2.1",
        "Nov 28 04:00:06 gw dnsmasq[812]: query[type=x] www.example.com from 192.0.2.1",
        "Nov 28 04:00:07 gw dnsmasq[812]: query[type=65280] www.example.com from 192.0.2.1",
    ]
    parsed = parse(DnsmasqParser, lines)
    assert rows(parsed) == [
        row(1, at(2026, 11, 28, 4, 0, 4), "192.0.2.1", "www.example.com", "HTTPS",
            rcode="NOERROR"),
        row(3, at(2026, 11, 28, 4, 0, 5), "192.0.2.1", "_dns.resolver.arpa", "SVCB",
            port=53211),
        row(6, at(2026, 11, 28, 4, 0, 7), "192.0.2.1", "www.example.com", "TYPE65280"),
    ]  # fmt: skip
    assert rejects(parsed) == [(4, "not a dnsmasq query line"), (5, "not a dnsmasq query line")]
    assert DnsmasqParser.sniff(lines[:1])


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        ("252", "AXFR"), ("251", "IXFR"), ("255", "ANY"), ("1", "A"), ("12", "PTR"),
        ("33", "SRV"), ("16", "TXT"), ("28", "AAAA"), ("65", "HTTPS"), ("0252", "AXFR"),
        ("TYPE252", "AXFR"), ("type255", "ANY"), ("TYPE65280", "TYPE65280"),
        ("65280", "TYPE65280"), ("00065280", "00065280"), ("70000", "70000"),
        ("1.5", "1.5"), ("1e2", "1E2"), ("+7", "+7"), ("TYPE", "TYPE"), ("axfr", "AXFR"),
        ("A", "A"), ("", ""), (None, None),
    ],
)  # fmt: skip
def test_query_types_written_as_numbers_become_mnemonics(
    written: str | None, expected: str | None
) -> None:
    """One spelling per type whatever the source wrote: a number or ``TYPE<n>`` with
    a name in ``QTYPES`` becomes it, another number ``TYPE<n>``; text that is not
    a type number (more than five digits, past 65535, signs, decimals) is kept."""
    con = duckdb.connect()
    try:
        sql = f"SELECT {qtype_sql('t')} FROM (SELECT CAST(? AS VARCHAR) AS t)"
        assert con.execute(sql, [written]).fetchone() == (expected,)
    finally:
        con.close()


def test_dnsmasq_reply_in_the_next_batch_is_skipped_unjoined() -> None:
    lines = fixture("dnsmasq-replies.log")
    con = duckdb.connect()
    try:
        parser = DnsmasqParser(ParseContext(Config(), con, "test.log", NOW))
        first = parse_with(parser, lines[:23])
        second = parse_with(parser, lines[23:], first=24)
    finally:
        con.close()
    late = rows(first)[-1]
    assert (late["log_line"], late["dns_answers"], late["dns_response_code"]) == (22, None, None)
    assert second.row_count == 0 and second.skipped == 1 and second.rejects.num_rows == 0


OTHER_PROGRAMS = [
    "Nov 28 04:00:04 gw sshd[99]: Accepted publickey for root from 192.0.2.1 port 22 ssh2",
    "Nov 28 04:00:03 ns named[1]: client @0x1 192.0.2.1#1 (a): query: a IN A + (192.0.2.53)",
    "Nov 28 04:00:03 ns dnsmasq[1]: query[A] www.example.com from 192.0.2.1",
    "Nov 28 04:00:00 ns unbound: [812:0] info: 192.0.2.1 www.example.com. A IN",
    'Nov 28 04:00:02 node1 coredns[55]: [INFO] 192.0.2.2:1053 - 1 "A IN a. udp 30 false 512" '
    "NOERROR qr 30 0.0001s",
]


@pytest.mark.parametrize(
    ("parser_cls", "own"),
    [(BindParser, 1), (DnsmasqParser, 2), (UnboundParser, 3), (CoreDnsParser, 4)],
)
def test_syslog_parsers_reject_other_programs_lines(parser_cls: type[Parser], own: int) -> None:
    assert parser_cls.programs == (("named",), ("dnsmasq",), ("unbound",), ("coredns",))[own - 1]
    parsed = parse(parser_cls, OTHER_PROGRAMS)
    assert [r["log_line"] for r in rows(parsed)] == [own + 1]
    assert rejects(parsed) == [
        (n, "line of another syslog program") for n in range(1, 6) if n != own + 1
    ]


def test_unbound_queries_and_replies() -> None:
    parsed = parse(UnboundParser, fixture("unbound.log"))
    assert rows(parsed) == [
        row(1, at(2026, 11, 28, 4, 0), "192.0.2.1", "www.example.com", "A"),
        row(2, at(2026, 11, 28, 4, 0), "192.0.2.1", "www.example.com", "A", rcode="NOERROR"),
    ]  # fmt: skip
    assert rejects(parsed) == [(3, "not an unbound query line")]


@pytest.mark.parametrize(
    ("parser", "line"),
    [
        ("dnsmasq", "query[A] www.example.com from 192.0.2.1"),
        ("unbound", "[812:0] info: 192.0.2.1 www.example.com. A IN"),
    ],
)
def test_resolver_lines_rsyslog_folded_count_as_many_queries(
    tmp_path: Path, parser: str, line: str
) -> None:
    """rsyslog's ``message repeated N times: [ msg]`` (on by default in Debian
    and Ubuntu) after a query line: N more identical queries, not a reject."""
    log = tmp_path / f"{parser}.log"
    log.write_text(
        f"Nov 28 04:00:00 ns {parser}[812]: {line}\n"
        f"Nov 28 04:00:30 ns {parser}[812]: message repeated 4 times: [ {line}]\n"
        f"Nov 28 04:00:31 ns {parser}[812]: message repeated 2 times: [ not a query at all]\n"
    )
    lake = Lake(tmp_path / "lake")
    (stats,) = run.ingest([str(log)], lake, Config(), run.IngestOptions(now=NOW)).files
    assert (stats.format, stats.lines, stats.parsed, stats.rejected) == (parser, 3, 2, 1)
    assert stats.repeated == 3  # one row per line, and three more for the folded line
    stored = sorted((r["log_line"], r["timestamp"]) for r in lake.read("dns").to_pylist())
    assert stored == [(1, at(2026, 11, 28, 4, 0))] + [(2, at(2026, 11, 28, 4, 0, 30))] * 4
    assert {r["dns_question_name"] for r in lake.read("dns").to_pylist()} == {"www.example.com"}


def test_unbound_own_log_file_epoch_and_ascii_stamps() -> None:
    parsed = parse(UnboundParser, fixture("unbound-file.log"))
    assert rows(parsed) == [
        row(1, at(2026, 11, 28, 4, 0), "2001:db8::7", "nx.example.com", "AAAA",
            rcode="NXDOMAIN"),
        row(2, at(2026, 11, 28, 4, 0, 1), "192.0.2.3", "version.bind", "TXT", qclass="CH"),
    ]  # fmt: skip
    assert parsed.rows.column("observer_name").to_pylist() == [None, None]
    assert rejects(parsed) == [(3, "not an unbound query line")]


def test_coredns_log_plugin_lines() -> None:
    syslog_line = (
        'Nov 28 04:00:02 node1 coredns[55]: [INFO] 192.0.2.2:1053 - 1 "AXFR IN example.org. '
        'tcp 30 false 65535" REFUSED qr,aa 30 0.0001s'
    )
    parsed = parse(CoreDnsParser, [*fixture("coredns.log"), syslog_line])
    assert rows(parsed) == [
        row(1, at(2026, 11, 28, 4, 0, 0, 123456), "192.0.2.1", "www.example.com", "A",
            port=53211, rcode="NOERROR"),
        row(2, at(2026, 11, 28, 4, 0, 1), "2001:db8::7", "nx.example.org", "AAAA", port=50759,
            rcode="NXDOMAIN"),
        row(5, at(2026, 11, 28, 4, 0, 2), "192.0.2.2", "example.org", "AXFR", port=1053,
            rcode="REFUSED"),
    ]  # fmt: skip
    assert parsed.rows.column("dns_id").to_pylist() == [4711, 29008, 1]
    assert parsed.rows.column("network_transport").to_pylist() == ["udp", "tcp", "tcp"]
    assert parsed.rows.column("observer_name").to_pylist() == [None, None, "node1"]
    assert rejects(parsed) == [(3, "missing timestamp"), (4, "not a CoreDNS query line")]


def test_route53_resolver_query_logs() -> None:
    parsed = parse(Route53ResolverParser, fixture("route53.log"))
    assert rows(parsed) == [
        row(1, at(2026, 11, 28, 4, 0), "10.0.0.5", "www.example.com", "A", port=53211,
            rcode="NOERROR", answers=["93.184.216.34", "93.184.216.35"]),
        row(2, at(2026, 11, 28, 4, 0, 1), "2001:db8::5", "nx.example.com", "AAAA", port=40000,
            rcode="NXDOMAIN", answers=[], action="denied"),
    ]  # fmt: skip
    assert parsed.rows.column("observer_name").to_pylist() == ["vpc-0a1b2c3d"] * 2
    assert rejects(parsed) == [(3, "invalid JSON"), (4, "missing timestamp")]


# -- sniffing --------------------------------------------------------------------------------

OWN_SAMPLES = {
    "bind": ["bind9-logs/bind9-logs.log", "bind9-refused/bind9-refused.log",
             "bind9-syslog/bind9-syslog.log"],
    "windns": ["windns.log"],
    "dnsmasq": ["dnsmasq.log", "dnsmasq-extra.log", "dnsmasq-replies.log", "pihole.log"],
    "unbound": ["unbound.log", "unbound-file.log"],
    "coredns": ["coredns.log"],
    "route53resolver": ["route53.log"],
}  # fmt: skip


def _sample(path: Path) -> list[str]:
    return [line for line in path.read_text(errors="replace").splitlines() if line.strip()][:50]


def test_each_sniffer_claims_only_its_own_samples(shared_data: Path) -> None:
    hub = shared_data / "formats" / "crowdsec-hub"
    samples = {
        p: _sample(p) for p in sorted(shared_data.rglob("*")) if p.suffix in (".log", ".json")
    }
    samples.update({p: _sample(p) for p in sorted(FIXTURES.iterdir())})
    owned = {
        (hub / name if "/" in name else FIXTURES / name): fmt
        for fmt, names in OWN_SAMPLES.items()
        for name in names
    }
    claims = {
        path: [p.name for p in dns.PARSERS if p.sniff(lines)] for path, lines in samples.items()
    }
    mixed = FIXTURES / "mixed-syslog.log"
    assert {path: names for path, names in claims.items() if names} == {
        **{path: [fmt] for path, fmt in owned.items()},
        # Lines of three DNS programs (and the kernel): each claims it, the mux wins.
        mixed: ["bind", "dnsmasq", "unbound"],
    }
    chosen_for_mixed = registry.sniff(samples[mixed])
    assert chosen_for_mixed is not None and chosen_for_mixed.name == "syslog"
    # And the registry as a whole picks the same parser for each.
    for path, fmt in owned.items():
        chosen = registry.sniff(samples[path])
        assert chosen is not None and chosen.name == fmt, path


@given(st.lists(st.text(max_size=200), max_size=20))
def test_sniffers_never_raise(sample: list[str]) -> None:
    for parser in dns.PARSERS:
        assert parser.sniff(sample) in (True, False)


# -- properties ------------------------------------------------------------------------------

_REAL = [line for name in OWN_SAMPLES if name != "bind" for line in fixture(OWN_SAMPLES[name][0])]
_REAL += fixture("dnsmasq-extra.log")[:12] + fixture("dnsmasq-replies.log")[:14]
_REAL += [
    "28-Nov-2026 04:00:00.123 queries: info: client @0x7f 192.0.2.1#53211 (a): view v: "
    "query: a IN A +E(0)K (198.51.100.53)",
    "client @0x7f 192.0.2.1#1 (a): zone transfer 'a/AXFR/IN' denied",
]


def _mutate(line: str, cut: int, insert: str) -> str:
    cut = min(cut, len(line))
    return line[:cut] + insert + line[cut:]


_LINES = st.lists(
    st.one_of(
        st.sampled_from(_REAL),
        st.text(max_size=120),
        st.builds(_mutate, st.sampled_from(_REAL), st.integers(0, 200),
                  st.sampled_from(["", " ", "'", '"', "#", "[", "]", "(", "{", "\\", "\x00", "é",
                                   ":", "/", "999.1.1.1", "::ffff:1.2.3.4", "\t"])),
    ),
    max_size=30,
)  # fmt: skip


@pytest.mark.parametrize("parser_cls", dns.PARSERS, ids=lambda p: p.name)
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(lines=_LINES, cut=st.integers(0, 30))
def test_random_and_mutated_lines_never_raise_and_are_accounted(
    parser_cls: type[Parser], lines: list[str], cut: int
) -> None:
    check_two_batches(make(parser_cls), lines, cut)


# -- through the framework -------------------------------------------------------------------


def test_ingest_sniffs_each_dns_format_and_stores_rows(tmp_path: Path, crowdsec_hub: Path) -> None:
    paths = [
        FIXTURES / name
        for name in (
            "windns.log",
            "dnsmasq.log",
            "unbound.log",
            "unbound-file.log",
            "coredns.log",
            "route53.log",
        )
    ]
    paths.append(crowdsec_hub / "bind9-refused" / "bind9-refused.log")
    lake = Lake(tmp_path / "lake")
    stats = run.ingest([str(p) for p in paths], lake, Config(), run.IngestOptions(now=NOW))
    assert [(f.format, f.lines, f.parsed, f.rejected, f.skipped) for f in stats.files] == [
        ("windns", 12, 3, 1, 8),
        ("dnsmasq", 9, 3, 2, 4),
        ("unbound", 3, 2, 1, 0),
        ("unbound", 3, 2, 1, 0),
        ("coredns", 4, 2, 2, 0),
        ("route53resolver", 4, 2, 2, 0),
        ("bind", 26, 23, 0, 3),
    ]  # fmt: skip
    stored = lake.read("dns").to_pylist()
    by_dataset: dict[str, int] = {}
    for r in stored:
        by_dataset[r["event_dataset"]] = by_dataset.get(r["event_dataset"], 0) + 1
    assert by_dataset == {
        "windns": 3, "dnsmasq": 3, "unbound": 4, "coredns": 2, "route53resolver": 2,
        "bind.security": 23,
    }  # fmt: skip
    axfr = sorted(
        (r["log_file"].rsplit("/", 1)[-1], r["log_line"], r["source_ip"])
        for r in stored
        if r["dns_question_type"] == "AXFR"
    )
    assert axfr == [
        ("bind9-refused.log", 2, "104.219.136.31"),
        ("bind9-refused.log", 8, "104.219.136.31"),
        ("bind9-refused.log", 15, "104.219.136.31"),
        ("bind9-refused.log", 22, "104.219.136.31"),
        ("windns.log", 11, "2001:db8::7"),
    ]


def test_a_mixed_syslog_file_reaches_each_program_parser(tmp_path: Path) -> None:
    # The lead's syslog multiplexer routes lines by the programs each parser claims.
    lake = Lake(tmp_path / "lake")
    path = FIXTURES / "mixed-syslog.log"
    stats = run.ingest([str(path)], lake, Config(), run.IngestOptions(now=NOW))
    (file_stats,) = stats.files
    assert (file_stats.format, file_stats.lines, file_stats.parsed, file_stats.rejected,
            file_stats.skipped) == ("syslog", 5, 4, 0, 1)  # fmt: skip
    stored = lake.read("dns").sort_by("log_line").to_pylist()
    assert [(r["log_line"], r["event_dataset"], r["dns_question_type"], r["source_ip"],
             r["event_action"]) for r in stored] == [
        (2, "bind.security", "AXFR", "192.0.2.1", "denied"),
        (3, "dnsmasq", "PTR", "192.0.2.66", "allowed"),
        (5, "unbound", "A", "192.0.2.7", "allowed"),
    ]  # fmt: skip
    assert lake.read("network").column("log_line").to_pylist() == [1]


def test_unbound_epoch_stamps_are_utc_whatever_the_hosts_zone() -> None:
    # DuckDB's session zone is the host's (TZ): a non-UTC server must store the same UTC.
    con = duckdb.connect()
    try:
        con.execute("SET GLOBAL TimeZone = 'America/New_York'")
        parser = UnboundParser(ParseContext(Config(), con, "test.log", NOW))
        parsed = parse_with(parser, fixture("unbound-file.log")[:1])
    finally:
        con.close()
    assert [r["timestamp"] for r in rows(parsed)] == [at(2026, 11, 28, 4, 0)]


def test_windows_dns_lower_case_am_pm() -> None:
    """A locale that writes its 12-hour times with ``am``/``pm``."""
    lines = windns("28/11/2026 4:00:00 pm", "1/12/2026 11:59:59 am")
    assert WindowsDnsParser.sniff(lines[:1])
    parsed = parse(WindowsDnsParser, lines)
    assert times(parsed) == [(1, at(2026, 11, 28, 16, 0)), (2, at(2026, 12, 1, 11, 59, 59))]
    assert rejects(parsed) == []
