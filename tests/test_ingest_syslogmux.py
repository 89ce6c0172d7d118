"""Mixed syslog files: each line goes to the parser of its program, nothing is lost."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from reconwatch.config import Config
from reconwatch.ingest.run import ingest
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
