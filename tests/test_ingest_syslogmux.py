"""Mixed syslog files: each line goes to the parser of its program, nothing is lost."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from reconwatch.config import Config
from reconwatch.ingest.run import ingest
from reconwatch.ingest.syslog import REPEAT_MARKER_REASON
from reconwatch.ingest.syslogmux import NO_PARSER, NOT_SYSLOG, SyslogMuxParser, program_of
from reconwatch.lake import Lake

DROP = (
    "Sep 30 10:09:23 fw kernel: [19955416.516358] RW-DROP: IN=eth0 OUT= MAC=00:00 "
    "SRC=198.51.100.7 DST=203.0.113.5 LEN=44 TOS=0x00 PREC=0x00 TTL=43 ID=1 PROTO=TCP "
    "SPT=40000 DPT={port} WINDOW=1024 RES=0x00 SYN URGP=0 "
)
CRON = "Sep 30 10:09:24 fw CRON[4242]: (root) CMD (run-parts /etc/cron.hourly)"
RFC5424_CRON = "<78>1 2026-09-30T10:09:25+00:00 fw cron 4242 - - job done"


def test_program_tags_are_read_from_both_envelopes() -> None:
    assert program_of(DROP.format(port=22)) == "kernel"
    assert program_of(CRON) == "CRON"
    assert program_of(RFC5424_CRON) == "cron"
    assert program_of("no envelope here") is None


def test_sniffs_only_files_mixing_programs() -> None:
    assert SyslogMuxParser.sniff([DROP.format(port=22), CRON])
    assert not SyslogMuxParser.sniff([DROP.format(port=p) for p in range(5)])
    assert not SyslogMuxParser.sniff([CRON, RFC5424_CRON])  # nobody claims cron


def test_mixed_file_routes_kernel_lines_and_accounts_for_the_rest(tmp_path: Path) -> None:
    log = tmp_path / "syslog"
    log.write_text(
        "\n".join([DROP.format(port=22), CRON, "", "garbage", DROP.format(port=23), RFC5424_CRON])
        + "\n"
    )
    lake = Lake(tmp_path / "lake")
    (stats,) = ingest([str(log)], lake, Config()).files
    assert (stats.format, stats.lines, stats.parsed, stats.rejected, stats.skipped) == (
        "syslog", 6, 2, 3, 1,
    )  # fmt: skip
    assert stats.reject_reasons == {NO_PARSER: 2, NOT_SYSLOG: 1}
    rows = lake.read("network").sort_by("log_line").to_pylist()
    assert [(r["log_line"], r["destination_port"], r["event_dataset"]) for r in rows] == [
        (1, 22, "netfilter"),
        (5, 23, "netfilter"),
    ]
    rejects = sorted((r["log_line"], r["reason"]) for r in lake.read("rejects").to_pylist())
    assert rejects == [(2, NO_PARSER), (4, NOT_SYSLOG), (6, NO_PARSER)]


def test_repeat_markers_are_named_whichever_parser_rejects_them(tmp_path: Path) -> None:
    """sysklogd's, the BSDs' and syslog-ng's "last message repeated" carry no
    message: one reason for them, in a netfilter-only file (the netfilter
    parser rejects them) as in a mixed one (the multiplexer does)."""
    markers = [
        "Sep 30 10:09:30 fw last message repeated 3 times",
        "Sep 30 10:09:31 fw --- last message repeated 1 time ---",
        "Sep 30 10:09:32 fw syslog-ng[99]: Last message 'kernel: [1.0] RW-DR' repeated 2 "
        "times, suppressed by syslog-ng on fw",
    ]
    # Not markers: messages that only mention one (at their end too, or a
    # syslog-ng one inside a program's own text), and a truncated one.
    others = [
        "Sep 30 10:09:33 fw CRON[1]: (root) CMD (echo last message repeated 3 times now)",
        "Sep 30 10:09:34 fw last message repeated",
        "Sep 30 10:09:35 fw kernel: [1.0] no packet here, last message repeated 3 times",
        "Sep 30 10:09:36 fw CRON[1]: x Last message 'a' repeated 2 times, suppressed by "
        "syslog-ng on fw",
    ]
    drops = [DROP.format(port=p) for p in (22, 23)]
    for name, lines in (("kern.log", [drops[0], *markers[:2], drops[1]]),
                        ("syslog", [drops[0], CRON, *markers, *others, drops[1]])):  # fmt: skip
        log = tmp_path / name
        log.write_text("\n".join(lines) + "\n")
        (stats,) = ingest([str(log)], Lake(tmp_path / f"lake-{name}"), Config()).files
        assert stats.parsed == 2 and stats.rejected == len(lines) - 2, name
        named = stats.reject_reasons.get(REPEAT_MARKER_REASON)
        assert named == (2 if name == "kern.log" else 3), stats.reject_reasons


def test_a_single_program_file_goes_to_its_own_parser(tmp_path: Path) -> None:
    log = tmp_path / "kern.log"
    log.write_text("\n".join(DROP.format(port=p) for p in range(1, 30)) + "\n")
    (stats,) = ingest([str(log)], Lake(tmp_path / "lake"), Config()).files
    assert (stats.format, stats.parsed) == ("netfilter", 29)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.sampled_from([DROP.format(port=80), CRON, RFC5424_CRON, "", "x"]) | st.text()))
def test_any_mix_is_fully_accounted(lines: list[str] | str) -> None:
    import datetime as dt

    import duckdb

    from reconwatch.ingest.base import ParseContext

    texts = [lines] if isinstance(lines, str) else lines
    texts = [t.replace("\n", " ").replace("\r", " ") for t in texts]
    batch = pa.table(
        {
            "log_line": pa.array(range(1, len(texts) + 1), pa.int64()),
            "line": pa.array(texts, pa.string()),
        }
    )
    con = duckdb.connect()
    parser = SyslogMuxParser(ParseContext(Config(), con, "t", dt.datetime.now(dt.UTC)))
    parsed = parser.parse(batch)
    assert parsed.row_count + parsed.rejects.num_rows + parsed.skipped == len(texts)


RELAY = [
    "Oct 10 12:34:56 fw01 %ASA-2-106001: Inbound TCP connection denied from 198.51.100.7/40123 "
    "to 203.0.113.10/22 flags SYN  on interface outside",
    "Oct 10 12:34:57 fw01 %FTD-2-106006: Deny inbound UDP from 198.51.100.7/40124 to "
    "203.0.113.10/161 on interface outside",
    "Oct 10 12:34:58 bastion sshd[812]: Failed password for invalid user admin from "
    "198.51.100.8 port 40022 ssh2",
    "Oct 10 12:00:00 fw02 CEF:0|Check Point|VPN-1 & FireWall-1|R81|drop|Drop|5|"
    "src=198.51.100.7 dst=203.0.113.10 spt=40000 dpt=23 proto=TCP",
    "Oct  5 10:00:00 gw firewall,info input: in:ether1 out:(unknown 0), proto ICMP "
    "(type 8, code 0), 198.51.100.9->203.0.113.1, len 84",
    "Nov 28 04:00:01 unbound[812:0] info: 192.0.2.3 version.bind. TXT CH",
]


def test_devices_without_a_program_tag_are_routed_too(tmp_path: Path) -> None:
    # A central relay's file: Cisco message ids as tags, CEF after the host,
    # RouterOS topics instead of a tag, next to sshd.
    assert program_of(RELAY[0]) == "%ASA-" and program_of(RELAY[1]) == "%FTD-"
    assert program_of(RELAY[3]) == "CEF" and program_of(RELAY[4]) == "mikrotik"
    unbound_ascii = "Nov 28 04:00:01 unbound[812:0] info: 192.0.2.3 version.bind. TXT CH"
    assert program_of(unbound_ascii) == "unbound"
    assert SyslogMuxParser.sniff(RELAY)
    log = tmp_path / "relay.log"
    log.write_text("\n".join(RELAY) + "\n")
    lake = Lake(tmp_path / "lake")
    (stats,) = ingest([str(log)], lake, Config()).files
    assert (stats.format, stats.parsed, stats.rejected) == ("syslog", 6, 0)
    datasets = {r["log_line"]: r["event_dataset"] for r in lake.read("network").to_pylist()}
    assert datasets == {1: "cisco.asa", 2: "cisco.asa", 4: "cef", 5: "mikrotik"}
    assert [r["event_dataset"] for r in lake.read("auth").to_pylist()] == ["sshd"]
    assert [r["dns_question_name"] for r in lake.read("dns").to_pylist()] == ["version.bind"]


BOOT = "Dec 31 23:59:{second:02d} fw kernel: [    0.{second:06d}] ACPI: PCI Interrupt Link enabled"
SSHD_FAIL = (
    "Jan  1 00:00:{second:02d} fw sshd[812]: Failed password for invalid user admin from "
    "198.51.100.8 port {port} ssh2"
)
NAMED = (
    "Jan  1 00:00:{second:02d} fw named[90]: client @0x7f 192.0.2.3#5353 (x.example.com): "
    "query: x.example.com IN A + (192.0.2.53)"
)
DROP_NEW_YEAR = (
    "Jan  1 00:00:{second:02d} fw kernel: RW-DROP: IN=eth0 OUT= MAC=00:00 SRC=198.51.100.7 "
    "DST=203.0.113.5 LEN=44 TOS=0x00 PREC=0x00 TTL=43 ID=1 PROTO=TCP SPT=40000 DPT={port} "
    "WINDOW=1024 RES=0x00 SYN URGP=0"
)


def _messages_after_boot(first_drop: bool) -> list[str]:
    """A /var/log/messages whose first lines (all that sniffing reads) are the kernel's:
    with ``first_drop``, one netfilter line among them."""
    lines = [BOOT.format(second=s) for s in range(30)]
    if first_drop:
        lines[5] = DROP_NEW_YEAR.format(second=5, port=19).replace("Jan  1 00:00", "Dec 31 23:59")
    for second in range(10):
        lines.append(DROP_NEW_YEAR.format(second=second, port=20 + second))
        lines.append(SSHD_FAIL.format(second=second, port=40000 + second))
        lines.append(NAMED.format(second=second))
        lines.append(CRON)
    return lines


def _ingest_messages(tmp_path: Path, first_drop: bool, **options: Any) -> tuple[Any, Lake]:
    """Ingest ``_messages_after_boot`` into a new lake: the file's stats and the lake."""
    from reconwatch.ingest.run import IngestOptions

    log = tmp_path / "messages"
    log.write_text("\n".join(_messages_after_boot(first_drop)) + "\n")
    lake = Lake(tmp_path / "lake")
    (stats,) = ingest([str(log)], lake, Config(), IngestOptions(**options)).files
    return stats, lake


def test_other_programs_in_a_file_sniffed_as_one_programs_are_parsed_by_theirs(
    tmp_path: Path,
) -> None:
    from reconwatch.ingest.netfilter import NOT_NETFILTER

    # Small batches: the sshd and named parsers keep their year across them.
    stats, lake = _ingest_messages(
        tmp_path, True, block_bytes=2048, now=dt.datetime(2027, 1, 2, tzinfo=dt.UTC)
    )
    assert stats.format == "netfilter"  # the sniffer saw kernel lines only
    assert (stats.lines, stats.parsed, stats.rejected) == (70, 31, 39)
    # Boot messages are the kernel's: not netfilter. CRON has no parser.
    assert stats.reject_reasons == {NOT_NETFILTER: 29, NO_PARSER: 10}
    network = lake.read("network").sort_by("log_line").to_pylist()
    assert [(r["destination_port"], r["event_dataset"]) for r in network] == [
        (19, "netfilter"),
        *((20 + s, "netfilter") for s in range(10)),
    ]
    auth = lake.read("auth").sort_by("log_line").to_pylist()
    assert [(r["source_port"], r["event_dataset"]) for r in auth] == [
        (40000 + s, "sshd") for s in range(10)
    ]
    dns = lake.read("dns").to_pylist()
    assert [r["dns_question_name"] for r in dns] == ["x.example.com"] * 10
    # Every program's parser dated its lines the same way, batch after batch.
    years = {r["timestamp"].year for table in (network, auth, dns) for r in table[-10:]}
    assert years == {2027}
    assert network[0]["timestamp"].year == 2026
    rejected = {r["log_line"] for r in lake.read("rejects").to_pylist()}
    assert rejected == set(range(1, 31)) - {6} | {31 + 4 * s + 3 for s in range(10)}


def test_a_syslog_file_whose_first_lines_no_parser_claims_goes_to_the_multiplexer(
    tmp_path: Path,
) -> None:
    from reconwatch.ingest.netfilter import NOT_NETFILTER

    stats, lake = _ingest_messages(tmp_path, False)
    assert (stats.format, stats.lines, stats.parsed, stats.rejected) == ("syslog", 70, 30, 40)
    assert stats.reject_reasons == {NOT_NETFILTER: 30, NO_PARSER: 10}
    assert lake.read("network").num_rows == lake.read("auth").num_rows == 10
    assert lake.read("dns").num_rows == 10


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.sampled_from(
            [
                DROP.format(port=80),
                SSHD_FAIL.format(second=1, port=1),
                NAMED.format(second=2),
                CRON,
                "",
                "x",
            ]
        )
        | st.text()
    )
)
def test_a_one_program_parser_handing_over_accounts_for_every_line(lines: list[str]) -> None:
    import datetime as dt

    import duckdb

    from reconwatch.ingest.base import ParseContext
    from reconwatch.ingest.netfilter import NetfilterParser
    from reconwatch.ingest.syslogmux import OtherPrograms

    texts = [t.replace("\n", " ").replace("\r", " ") for t in lines]
    batch = pa.table(
        {
            "log_line": pa.array(range(1, len(texts) + 1), pa.int64()),
            "line": pa.array(texts, pa.string()),
        }
    )
    parser = NetfilterParser(ParseContext(Config(), duckdb.connect(), "t", dt.datetime.now(dt.UTC)))
    others = OtherPrograms.of(parser)
    assert others is not None
    parsed = others(parser.parse(batch), batch)
    tables = [parsed.rows, *parsed.other_tables.values(), parsed.rejects]
    numbers = [n for table in tables for n in table.column("log_line").to_pylist()]
    # Each line lands once: in a table, in the rejects, or skipped (blank).
    assert len(numbers) == len(set(numbers))
    assert len(numbers) + parsed.skipped == len(texts)
    handed = {n for table in parsed.other_tables.values() for n in table["log_line"].to_pylist()}
    assert handed == {
        i for i, text in enumerate(texts, 1) if text in (SSHD_FAIL.format(second=1, port=1),
                                                         NAMED.format(second=2))
    }  # fmt: skip


def test_only_one_program_parsers_hand_over() -> None:
    import datetime as dt

    import duckdb

    from reconwatch.ingest.base import ParseContext
    from reconwatch.ingest.syslogmux import OtherPrograms
    from reconwatch.ingest.web_clf import ClfParser

    ctx = ParseContext(Config(), duckdb.connect(), "t", dt.datetime.now(dt.UTC))
    assert OtherPrograms.of(SyslogMuxParser(ctx)) is None
    assert OtherPrograms.of(ClfParser(ctx)) is None
    assert OtherPrograms.of(None) is None


def test_an_application_log_that_looks_like_syslog_stays_unrecognised() -> None:
    from reconwatch.ingest import registry

    app = [f"2024-05-01T10:00:0{n}Z INFO main: started worker {n}" for n in range(5)]
    assert registry.sniff(app) is None
    boot = [BOOT.format(second=s) for s in range(20)]
    assert registry.sniff(boot) is SyslogMuxParser
    # /var/log/syslog after rotation: systemd and cron first, the drops later.
    cron_first = [CRON] * 20
    assert registry.sniff(cron_first) is SyslogMuxParser
    iso_pid = [f"2026-09-30T10:00:0{n}+00:00 fw systemd[1]: Started job {n}" for n in range(5)]
    assert registry.sniff(iso_pid) is SyslogMuxParser


def test_a_syslog_whose_first_lines_are_systemd_and_cron_still_yields_its_drops(
    tmp_path: Path,
) -> None:
    log = tmp_path / "syslog"
    log.write_text("\n".join([CRON] * 25 + [DROP.format(port=p) for p in range(1, 21)]) + "\n")
    lake = Lake(tmp_path / "lake")
    (stats,) = ingest([str(log)], lake, Config()).files
    assert (stats.format, stats.parsed, stats.rejected) == ("syslog", 20, 25)
    assert stats.reject_reasons == {NO_PARSER: 25}
