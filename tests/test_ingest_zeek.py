"""Zeek conn.log, TSV and JSON: header state, mapping to ``network``, rejects, accounting."""

from __future__ import annotations

import datetime as dt
import gzip
import itertools
import json
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reconwatch import schema
from reconwatch.config import Config
from reconwatch.ingest import registry, run
from reconwatch.ingest.base import ParseContext, Parsed, kept_rows
from reconwatch.ingest.zeek import ZeekConnParser, ZeekHeader, unescape
from reconwatch.lake import Lake

UTC = dt.UTC

FIELDS = [
    "ts", "uid", "id.orig_h", "id.orig_p", "id.resp_h", "id.resp_p", "proto", "service",
    "duration", "orig_bytes", "resp_bytes", "conn_state", "local_orig", "local_resp",
    "missed_bytes", "history", "orig_pkts", "orig_ip_bytes", "resp_pkts", "resp_ip_bytes",
    "tunnel_parents",
]  # fmt: skip
TYPES = [
    "time", "string", "addr", "port", "addr", "port", "enum", "string", "interval", "count",
    "count", "string", "bool", "bool", "count", "string", "count", "count", "count", "count",
    "set[string]",
]  # fmt: skip


def tsv(*values: object) -> str:
    return "\t".join(str(v) for v in values)


#: The header block Zeek's ASCII writer puts at the top of conn.log.
HEADER = [
    r"#separator \x09",
    tsv("#set_separator", ","),
    tsv("#empty_field", "(empty)"),
    tsv("#unset_field", "-"),
    tsv("#path", "conn"),
    tsv("#open", "2026-09-30-10-00-00"),
    tsv("#fields", *FIELDS),
    tsv("#types", *TYPES),
]
CLOSE = tsv("#close", "2026-09-30-11-00-00")


def conn(
    ts: str,
    orig: str,
    orig_p: object,
    resp: str,
    resp_p: object,
    proto: str = "tcp",
    state: str = "S0",
    orig_bytes: object = "-",
    resp_bytes: object = "-",
    orig_pkts: object = 1,
    resp_pkts: object = 0,
    service: str = "-",
    history: str = "S",
) -> str:
    """One conn.log data line in the column order of HEADER."""
    return tsv(
        ts, "CHhAvVGS1DHFjwGM9", orig, orig_p, resp, resp_p, proto, service, "-",
        orig_bytes, resp_bytes, state, "F", "T", 0, history, orig_pkts, 44, resp_pkts, 0,
        "(empty)",
    )  # fmt: skip


#: A realistic conn.log: a scanner's SYNs (no answer, refused), a real HTTPS
#: session, mDNS over IPv6, an ICMP echo, an IPv4-mapped source, a midstream flow.
CONN_LOG = [
    *HEADER,
    tsv(
        "1790762400.096535", "CHhAvVGS1DHFjwGM9", "198.51.100.7", 51234, "203.0.113.10", 22,
        "tcp", "-", "-", "-", "-", "S0", "F", "T", 0, "S", 1, 44, 0, 0, "(empty)",
    ),
    tsv(
        "1790762401.000001", "C4J4Th3PJpwUYZZ6gc", "198.51.100.7", 51235, "203.0.113.10", 23,
        "tcp", "-", "0.000113", 0, 0, "REJ", "F", "T", 0, "Sr", 1, 44, 1, 40, "(empty)",
    ),
    tsv(
        "1790762402.500000", "CtPZjS20MLrsMUOJi2", "10.0.0.5", 49152, "203.0.113.20", 443,
        "tcp", "ssl", "1.234567", 517, 4312, "SF", "T", "F", 0, "ShADadFf", 8, 941, 7, 4684,
        "(empty)",
    ),
    tsv(
        "1790762403.250000", "CdfHBz1Ah5uFSXpr1c", "fe80::1c:5aff:fe01:2", 5353, "ff02::fb",
        5353, "udp", "dns", "-", "-", "-", "S0", "F", "F", 0, "D", 1, 73, 0, 0, "(empty)",
    ),
    tsv(
        "1790762404.000000", "CUM0KZ3MLUfNB0cl11", "198.51.100.9", 8, "203.0.113.10", 0,
        "icmp", "-", "0.001", 56, 56, "OTH", "F", "T", 0, "-", 1, 84, 1, 84, "(empty)",
    ),
    tsv(
        "1790762405.123456", "CmES5u32sYpV7JYN", "::ffff:198.51.100.8", 40000,
        "2001:DB8:0:0::10", 80, "tcp", "http", "-", "-", 12, "RSTR", "F", "T", 0, "Sr", "-",
        "-", 1, 40, "(empty)",
    ),
    CLOSE,
]  # fmt: skip

COLUMNS = [
    "log_line", "timestamp", "source_ip", "source_port", "destination_ip", "destination_port",
    "network_transport", "connection_state", "connection_outcome", "network_bytes",
    "network_packets",
]  # fmt: skip


def at(seconds: int, micros: int = 0) -> dt.datetime:
    return dt.datetime.fromtimestamp(seconds, UTC).replace(microsecond=micros)


@pytest.fixture
def con() -> Iterator[duckdb.DuckDBPyConnection]:
    connection = duckdb.connect()
    yield connection
    connection.close()


def new_parser(con: duckdb.DuckDBPyConnection) -> ZeekConnParser:
    now = dt.datetime(2026, 10, 1, tzinfo=UTC)
    return ZeekConnParser(ParseContext(Config(), con, "conn.log", now))


def batch(lines: list[str], first: int = 1) -> pa.Table:
    return pa.table(
        {
            "log_line": pa.array(range(first, first + len(lines)), pa.int64()),
            "line": pa.array(lines, pa.string()),
        }
    )


def parse(parser: ZeekConnParser, lines: list[str], first: int = 1) -> Parsed:
    """Parse one batch and check the framework's accounting promise on it."""
    parsed = parser.parse(batch(lines, first))
    assert parsed.rows.num_rows + parsed.rejects.num_rows + parsed.skipped == len(lines)
    return parsed


def rows(parsed: Parsed, columns: list[str] = COLUMNS) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = parsed.rows.select(columns).to_pylist()
    return result


def rejects(parsed: Parsed) -> list[tuple[int, str]]:
    return [(r["log_line"], r["reason"]) for r in parsed.rejects.to_pylist()]


# -- TSV ---------------------------------------------------------------------------------


def test_realistic_tsv_conn_log(con: duckdb.DuckDBPyConnection) -> None:
    parsed = parse(new_parser(con), CONN_LOG)
    assert parsed.skipped == 9  # 8 header lines and #close
    assert rejects(parsed) == []
    assert rows(parsed) == [
        {
            "log_line": 9, "timestamp": at(1790762400, 96535),
            "source_ip": "198.51.100.7", "source_port": 51234,
            "destination_ip": "203.0.113.10", "destination_port": 22,
            "network_transport": "tcp", "connection_state": "S0",
            "connection_outcome": "failed", "network_bytes": None, "network_packets": 1,
        },
        {
            "log_line": 10, "timestamp": at(1790762401, 1),
            "source_ip": "198.51.100.7", "source_port": 51235,
            "destination_ip": "203.0.113.10", "destination_port": 23,
            "network_transport": "tcp", "connection_state": "REJ",
            "connection_outcome": "failed", "network_bytes": 0, "network_packets": 2,
        },
        {
            "log_line": 11, "timestamp": at(1790762402, 500000),
            "source_ip": "10.0.0.5", "source_port": 49152,
            "destination_ip": "203.0.113.20", "destination_port": 443,
            "network_transport": "tcp", "connection_state": "SF",
            "connection_outcome": "succeeded", "network_bytes": 4829, "network_packets": 15,
        },
        {
            "log_line": 12, "timestamp": at(1790762403, 250000),
            "source_ip": "fe80::1c:5aff:fe01:2", "source_port": 5353,
            "destination_ip": "ff02::fb", "destination_port": 5353,
            "network_transport": "udp", "connection_state": "S0",
            "connection_outcome": "failed", "network_bytes": None, "network_packets": 1,
        },
        {
            "log_line": 13, "timestamp": at(1790762404),
            "source_ip": "198.51.100.9", "source_port": 8,
            "destination_ip": "203.0.113.10", "destination_port": 0,
            "network_transport": "icmp", "connection_state": "OTH",
            "connection_outcome": None, "network_bytes": 112, "network_packets": 2,
        },
        {
            # Mapped IPv4 unwrapped, IPv6 compressed; unset orig_bytes/orig_pkts count as 0.
            "log_line": 14, "timestamp": at(1790762405, 123456),
            "source_ip": "198.51.100.8", "source_port": 40000,
            "destination_ip": "2001:db8::10", "destination_port": 80,
            "network_transport": "tcp", "connection_state": "RSTR",
            "connection_outcome": "failed", "network_bytes": 12, "network_packets": 1,
        },
    ]  # fmt: skip


def test_rows_conform_to_the_network_schema_with_zeek_nulls(
    con: duckdb.DuckDBPyConnection,
) -> None:
    parsed = parse(new_parser(con), CONN_LOG)
    table = schema.conform(parsed.rows, schema.NETWORK)
    assert table.schema == schema.NETWORK
    # Zeek observes: no action, no per-packet flags, no observer name in the log.
    for column in ("event_action", "tcp_flags", "observer_name", "ip_ttl", "log_prefix"):
        assert table.column(column).null_count == table.num_rows


@pytest.mark.parametrize(
    ("state", "outcome"),
    [
        ("S0", "failed"),
        ("REJ", "failed"),
        ("RSTOS0", "failed"),
        ("RSTR", "failed"),
        ("RSTRH", "failed"),
        ("SH", "failed"),
        ("SHR", "failed"),
        ("SF", "succeeded"),
        ("S1", "succeeded"),
        ("S2", "succeeded"),
        ("S3", "succeeded"),
        ("RSTO", "succeeded"),
        ("OTH", None),
        ("XYZ", None),
    ],
)
def test_each_conn_state_maps_to_its_outcome(
    con: duckdb.DuckDBPyConnection, state: str, outcome: str | None
) -> None:
    parsed = parse(
        new_parser(con), [*HEADER, conn("1790762400", "192.0.2.1", 1, "192.0.2.2", 2, state=state)]
    )
    assert rows(parsed, ["connection_state", "connection_outcome"]) == [
        {"connection_state": state, "connection_outcome": outcome}
    ]


def test_unset_and_empty_fields(con: duckdb.DuckDBPyConnection) -> None:
    lines = [
        *HEADER,
        conn("1790762400", "192.0.2.1", "-", "192.0.2.2", "-", proto="-", state="-",
             orig_pkts="-", resp_pkts="-"),
        conn("1790762400", "192.0.2.1", 1, "192.0.2.2", 2, state="(empty)"),
        conn("1790762400", "192.0.2.1", 1, "192.0.2.2", 2, proto="unknown_transport"),
    ]  # fmt: skip
    assert rows(
        parse(new_parser(con), lines),
        ["source_port", "destination_port", "network_transport", "connection_state",
         "connection_outcome", "network_packets"],
    ) == [
        {"source_port": None, "destination_port": None, "network_transport": None,
         "connection_state": None, "connection_outcome": None, "network_packets": None},
        {"source_port": 1, "destination_port": 2, "network_transport": "tcp",
         "connection_state": "", "connection_outcome": None, "network_packets": 1},
        {"source_port": 1, "destination_port": 2, "network_transport": None,
         "connection_state": "S0", "connection_outcome": "failed", "network_packets": 1},
    ]  # fmt: skip


def test_two_header_blocks_in_one_batch(con: duckdb.DuckDBPyConnection) -> None:
    # A later Zeek adds ip_proto after proto and community_id at the end, and this
    # site writes "NULL" for unset: every position after proto moves.
    fields2 = [*FIELDS[:7], "ip_proto", *FIELDS[7:], "community_id"]
    second = [
        r"#separator \x09",
        tsv("#set_separator", ","),
        tsv("#empty_field", "(empty)"),
        tsv("#unset_field", "NULL"),
        tsv("#path", "conn"),
        tsv("#open", "2026-09-30-11-00-00"),
        tsv("#fields", *fields2),
        tsv("#types", *TYPES[:7], "count", *TYPES[7:], "string"),
    ]
    line2 = tsv(
        "1790766000.5", "CxT2Vk1x", "198.51.100.7", 50000, "203.0.113.11", 3389, "tcp", 6,
        "NULL", "NULL", "NULL", 7, "REJ", "F", "T", 0, "Sr", 1, 44, 1, 40, "(empty)",
        "1:abc=",
    )  # fmt: skip
    lines = [
        *HEADER,
        conn("1790762400", "198.51.100.7", 50000, "203.0.113.10", 3389),
        CLOSE,
        *second,
        line2,
        tsv("#close", "2026-09-30-12-00-00"),
    ]
    parsed = parse(new_parser(con), lines)
    assert parsed.skipped == 18
    assert rejects(parsed) == []
    assert rows(
        parsed, ["log_line", "timestamp", "destination_ip", "connection_state", "network_bytes"]
    ) == [
        {"log_line": 9, "timestamp": at(1790762400), "destination_ip": "203.0.113.10",
         "connection_state": "S0", "network_bytes": None},
        {"log_line": 19, "timestamp": at(1790766000, 500000), "destination_ip": "203.0.113.11",
         "connection_state": "REJ", "network_bytes": 7},
    ]  # fmt: skip


def test_header_in_one_batch_and_data_in_the_next(con: duckdb.DuckDBPyConnection) -> None:
    parser = new_parser(con)
    first = parse(parser, HEADER[:5])
    assert (first.rows.num_rows, first.rejects.num_rows, first.skipped) == (0, 0, 5)
    second = parse(parser, HEADER[5:], first=6)
    assert second.skipped == 3
    third = parse(parser, [conn("1790762400", "192.0.2.1", 1, "192.0.2.2", 2), ""], first=9)
    assert third.skipped == 1
    assert rows(third, ["log_line", "source_ip", "destination_port"]) == [
        {"log_line": 9, "source_ip": "192.0.2.1", "destination_port": 2}
    ]


def test_a_header_change_carries_over_to_later_batches(con: duckdb.DuckDBPyConnection) -> None:
    parser = new_parser(con)
    swapped = tsv("#fields", "ts", "id.resp_h", "id.orig_h", "conn_state")
    parse(parser, [*HEADER, conn("1790762400", "192.0.2.1", 1, "192.0.2.2", 2), swapped])
    later = parse(parser, [tsv("1790762401", "192.0.2.9", "192.0.2.8", "SF")], first=11)
    assert rows(later, ["log_line", "source_ip", "destination_ip", "source_port"]) == [
        {"log_line": 11, "source_ip": "192.0.2.8", "destination_ip": "192.0.2.9",
         "source_port": None}
    ]  # fmt: skip


def test_other_separators_are_honoured(con: duckdb.DuckDBPyConnection) -> None:
    lines = [
        r"#separator \x7c",
        "#unset_field|?",
        "#fields|ts|id.orig_h|id.orig_p|id.resp_h|id.resp_p|conn_state",
        "1790762400.25|192.0.2.1|?|192.0.2.2|443|SH",
    ]
    assert rows(
        parse(new_parser(con), lines),
        ["timestamp", "source_ip", "source_port", "destination_port", "connection_outcome"],
    ) == [
        {"timestamp": at(1790762400, 250000), "source_ip": "192.0.2.1", "source_port": None,
         "destination_port": 443, "connection_outcome": "failed"}
    ]  # fmt: skip


def test_headers_are_read_in_order_whatever_follows(con: duckdb.DuckDBPyConnection) -> None:
    # #fields is split with the separator in force on its own line, even when the
    # separator changes again before any data; repeated headers collapse.
    lines = [
        r"#separator \x2c",
        "#fields,ts,id.orig_h,id.resp_h",
        r"#separator \x09",
        tsv("#unset_field", "?"),
        tsv("#unset_field", "-"),
        tsv("1790762400", "192.0.2.1", "192.0.2.2"),
        *([tsv("#fields", "ts", "id.resp_h", "id.orig_h")] * 1000),
        tsv("1790762401", "192.0.2.1", "192.0.2.2"),
    ]
    assert rows(parse(new_parser(con), lines), ["log_line", "source_ip", "destination_ip"]) == [
        {"log_line": 6, "source_ip": "192.0.2.1", "destination_ip": "192.0.2.2"},
        {"log_line": 1007, "source_ip": "192.0.2.2", "destination_ip": "192.0.2.1"},
    ]


def test_data_before_any_fields_header_is_rejected(con: duckdb.DuckDBPyConnection) -> None:
    line = conn("1790762400", "192.0.2.1", 1, "192.0.2.2", 2)
    parsed = parse(new_parser(con), [line, *HEADER, line])
    assert rejects(parsed) == [(1, "data before #fields header")]
    assert parsed.rejects.column("raw").to_pylist() == [line]
    assert [r["log_line"] for r in rows(parsed)] == [10]


def test_wrong_field_count_is_rejected(con: duckdb.DuckDBPyConnection) -> None:
    good = conn("1790762400", "192.0.2.1", 1, "192.0.2.2", 2)
    lines = [*HEADER, good + "\textra", good.rsplit("\t", 1)[0], "just some text", good]
    parsed = parse(new_parser(con), lines)
    assert rejects(parsed) == [
        (9, "wrong number of fields"),
        (10, "wrong number of fields"),
        (11, "wrong number of fields"),
    ]
    assert [r["log_line"] for r in rows(parsed)] == [12]


def test_another_zeek_log_is_not_read_as_conn(con: duckdb.DuckDBPyConnection) -> None:
    dns_header = [r"#separator \x09", tsv("#path", "dns"), tsv("#fields", "ts", "uid",
                  "id.orig_h", "id.orig_p", "id.resp_h", "id.resp_p", "query")]  # fmt: skip
    dns = tsv("1790762400", "Cx", "192.0.2.1", 5353, "192.0.2.53", 53, "example.com")
    json_dns = '{"_path":"dns","ts":1790762400,"id.orig_h":"192.0.2.1","id.resp_h":"192.0.2.53"}'
    json_conn = '{"_path":"conn","ts":1790762400,"id.orig_h":"192.0.2.1","id.resp_h":"192.0.2.2"}'
    parsed = parse(new_parser(con), [*dns_header, dns, json_dns, json_conn])
    assert rejects(parsed) == [(4, "not a conn log"), (5, "not a conn log")]
    assert [r["log_line"] for r in rows(parsed)] == [6]


def test_invalid_addresses_ports_and_timestamps_are_rejected(
    con: duckdb.DuckDBPyConnection,
) -> None:
    lines = [
        *HEADER,
        conn("1790762400", "192.0.2.300", 1, "192.0.2.2", 2),
        conn("1790762400", "192.0.2.1", 1, "not-an-ip", 2),
        conn("1790762400", "-", 1, "192.0.2.2", 2),
        conn("1790762400", "192.0.2.1", 1, "-", 2),
        conn("1790762400", "192.0.2.1", 70000, "192.0.2.2", 2),
        conn("1790762400", "192.0.2.1", 1, "192.0.2.2", "http"),
        conn("yesterday", "192.0.2.1", 1, "192.0.2.2", 2),
        conn("-", "192.0.2.1", 1, "192.0.2.2", 2),
        conn("-1.5", "192.0.2.1", 1, "192.0.2.2", 2),
        conn("1790762400", "(empty)", 1, "192.0.2.2", 2),
        conn("1790762400", "10.0.0.1/8", 1, "192.0.2.2", 2),
    ]
    parsed = parse(new_parser(con), lines)
    assert parsed.rows.num_rows == 0
    assert rejects(parsed) == [
        (9, "invalid source address"),
        (10, "invalid destination address"),
        (11, "missing source address"),
        (12, "missing destination address"),
        (13, "invalid port"),
        (14, "invalid port"),
        (15, "invalid timestamp"),
        (16, "missing timestamp"),
        (17, "invalid timestamp"),
        (18, "invalid source address"),
        (19, "invalid source address"),
    ]


# -- JSON --------------------------------------------------------------------------------


def js(**fields: object) -> str:
    """A Zeek JSON line; ``id_orig_h`` spells the dotted key ``id.orig_h``."""
    return json.dumps({k.replace("id_", "id."): v for k, v in fields.items()})


def test_json_lines(con: duckdb.DuckDBPyConnection) -> None:
    lines = [
        js(ts=1790762400.096535, uid="C1", id_orig_h="198.51.100.7", id_orig_p=51234,
           id_resp_h="203.0.113.10", id_resp_p=22, proto="tcp", conn_state="S0",
           missed_bytes=0, history="S", orig_pkts=1, orig_ip_bytes=44, resp_pkts=0,
           resp_ip_bytes=0),
        js(ts="2026-09-30T10:00:01.000001Z", id_orig_h="::ffff:198.51.100.8", id_orig_p=1,
           id_resp_h="2001:db8::0:10", id_resp_p=443, proto="tcp", conn_state="SF",
           orig_bytes=100, resp_bytes=2000, orig_pkts=5, resp_pkts=4),
        js(ts="2026-09-30T12:00:02+02:00", id_orig_h="192.0.2.1", id_resp_h="192.0.2.2",
           proto="udp"),
        js(ts="2026-09-30T10:00:03.5", id_orig_h="192.0.2.1", id_resp_h="192.0.2.2"),
        js(ts=1790762404250, id_orig_h="192.0.2.1", id_resp_h="192.0.2.2"),  # TS_MILLIS
        js(ts=1790762405, id_orig_h="192.0.2.1", id_resp_h="192.0.2.2", conn_state="REJ"),
    ]  # fmt: skip
    parsed = parse(new_parser(con), lines)
    assert rejects(parsed) == []
    assert rows(parsed) == [
        {"log_line": 1, "timestamp": at(1790762400, 96535), "source_ip": "198.51.100.7",
         "source_port": 51234, "destination_ip": "203.0.113.10", "destination_port": 22,
         "network_transport": "tcp", "connection_state": "S0", "connection_outcome": "failed",
         "network_bytes": None, "network_packets": 1},
        {"log_line": 2, "timestamp": at(1790762401, 1), "source_ip": "198.51.100.8",
         "source_port": 1, "destination_ip": "2001:db8::10", "destination_port": 443,
         "network_transport": "tcp", "connection_state": "SF",
         "connection_outcome": "succeeded", "network_bytes": 2100, "network_packets": 9},
        {"log_line": 3, "timestamp": at(1790762402), "source_ip": "192.0.2.1",
         "source_port": None, "destination_ip": "192.0.2.2", "destination_port": None,
         "network_transport": "udp", "connection_state": None, "connection_outcome": None,
         "network_bytes": None, "network_packets": None},
        {"log_line": 4, "timestamp": at(1790762403, 500000), "source_ip": "192.0.2.1",
         "source_port": None, "destination_ip": "192.0.2.2", "destination_port": None,
         "network_transport": None, "connection_state": None, "connection_outcome": None,
         "network_bytes": None, "network_packets": None},
        {"log_line": 5, "timestamp": at(1790762404, 250000), "source_ip": "192.0.2.1",
         "source_port": None, "destination_ip": "192.0.2.2", "destination_port": None,
         "network_transport": None, "connection_state": None, "connection_outcome": None,
         "network_bytes": None, "network_packets": None},
        {"log_line": 6, "timestamp": at(1790762405), "source_ip": "192.0.2.1",
         "source_port": None, "destination_ip": "192.0.2.2", "destination_port": None,
         "network_transport": None, "connection_state": "REJ", "connection_outcome": "failed",
         "network_bytes": None, "network_packets": None},
    ]  # fmt: skip


def test_bad_json_is_rejected(con: duckdb.DuckDBPyConnection) -> None:
    lines = [
        '{"ts":1790762400,"id.orig_h":"192.0.2.1","id.resp_h":"192.0.2.2"',
        '{"ts":1790762400,"id.orig_h":"192.0.2.1","id.resp_h":"192.0.2.2"} trailing',
        "{not json at all}",
        js(id_orig_h="192.0.2.1", id_resp_h="192.0.2.2"),
        js(ts=1790762400, id_resp_h="192.0.2.2"),
        js(ts=1790762400, id_orig_h="192.0.2.1"),
        js(ts=None, id_orig_h="192.0.2.1", id_resp_h="192.0.2.2"),
        js(ts="soon", id_orig_h="192.0.2.1", id_resp_h="192.0.2.2"),
        js(ts=1790762400, id_orig_h=["192.0.2.1"], id_resp_h="192.0.2.2"),
        js(ts=1790762400, id_orig_h="192.0.2.1", id_resp_h={"ip": "192.0.2.2"}),
        js(ts=1790762400, id={"orig_h": "192.0.2.1", "resp_h": "192.0.2.2"}),
        js(ts=1790762400, id_orig_h="192.0.2.1", id_resp_h="192.0.2.2", id_resp_p=-1),
    ]
    parsed = parse(new_parser(con), lines)
    assert parsed.rows.num_rows == 0
    assert rejects(parsed) == [
        (1, "invalid JSON"),
        (2, "invalid JSON"),
        (3, "invalid JSON"),
        (4, "missing timestamp"),
        (5, "missing source address"),
        (6, "missing destination address"),
        (7, "missing timestamp"),
        (8, "invalid timestamp"),
        (9, "invalid source address"),
        (10, "invalid destination address"),
        (11, "missing source address"),
        (12, "invalid port"),
    ]


def test_tsv_and_json_lines_mix_in_one_batch(con: duckdb.DuckDBPyConnection) -> None:
    lines = [
        js(ts=1790762400, id_orig_h="192.0.2.1", id_resp_h="192.0.2.2"),
        *HEADER,
        conn("1790762401", "192.0.2.3", 1, "192.0.2.4", 2),
        js(ts=1790762402, id_orig_h="192.0.2.5", id_resp_h="192.0.2.6"),
    ]
    parsed = parse(new_parser(con), lines)
    assert rows(parsed, ["log_line", "source_ip"]) == [
        {"log_line": 1, "source_ip": "192.0.2.1"},
        {"log_line": 10, "source_ip": "192.0.2.3"},
        {"log_line": 11, "source_ip": "192.0.2.5"},
    ]


# -- hostile input -------------------------------------------------------------------------


def test_hostile_content_never_raises(con: duckdb.DuckDBPyConnection) -> None:
    huge = "A" * 100_000
    lines = [
        *HEADER,
        "<script>alert(1)</script>",
        conn("1790762400", "<script>alert(1)</script>", 1, "192.0.2.2", 2),
        conn("1790762400", "192.0.2.1", 1, "192.0.2.2", 2, state="<script>x</script>"),
        huge,
        "\t".join([huge] * 21),
        "{" + huge,
        '{"a":' + "[" * 10_000 + "]" * 10_000 + "}",
        conn("1790762400", "192.0.2.\ufffd", 1, "192.0.2.2", 2),
        conn("\ufffd\ufffd", "192.0.2.1", 1, "192.0.2.2", 2),
        "\x00\x01\x02\x1b[31m",
        conn("1790762400", "192.0.2.1", 1, "192.0.2.2", 2, orig_bytes="9" * 19,
             resp_bytes="9" * 19, orig_pkts="9" * 40),
        "#fields\t" + "\t".join(["x"] * 5000),
        "\t".join(["1"] * 5000),
        r"#separator \xZZ",
        "\t \t",
    ]  # fmt: skip
    parsed = parse(new_parser(con), lines)
    assert rejects(parsed) == [
        (9, "wrong number of fields"),
        (10, "invalid source address"),
        (12, "wrong number of fields"),
        (13, "invalid timestamp"),
        (14, "invalid JSON"),
        (15, "missing timestamp"),
        (16, "invalid source address"),
        (17, "invalid timestamp"),
        (18, "wrong number of fields"),
        (21, "missing timestamp"),
    ]
    # The script tag stays verbatim data (escaping is the report's job); the
    # overflowing byte count is dropped, not the connection.
    assert rows(parsed, ["log_line", "connection_state", "network_bytes", "network_packets"]) == [
        {"log_line": 11, "connection_state": "<script>x</script>", "network_bytes": None,
         "network_packets": 1},
        {"log_line": 19, "connection_state": "S0", "network_bytes": None,
         "network_packets": 0},
    ]  # fmt: skip
    assert parsed.skipped == 8 + 3
    assert parsed.rejects.column("raw")[2].as_py() == huge


def test_registered_views_are_removed(con: duckdb.DuckDBPyConnection) -> None:
    parse(new_parser(con), CONN_LOG)
    assert con.sql("SHOW TABLES").fetchall() == []


def test_an_empty_batch(con: duckdb.DuckDBPyConnection) -> None:
    parsed = parse(new_parser(con), [])
    assert (parsed.rows.num_rows, parsed.rejects.num_rows, parsed.skipped) == (0, 0, 0)


# -- properties ------------------------------------------------------------------------------

_FRAGMENTS = [
    *HEADER,
    CLOSE,
    "",
    tsv("#fields", "ts", "id.orig_h", "id.resp_h"),
    tsv("#unset_field", "1"),
    r"#separator \x2c",
    "#fields,ts,id.orig_h,id.resp_h",
    "1790762400,192.0.2.1,192.0.2.2",
    tsv("1790762400", "192.0.2.1", "192.0.2.2"),
    conn("1790762400", "192.0.2.1", 1, "192.0.2.2", 2),
    js(ts=1790762400, id_orig_h="192.0.2.1", id_resp_h="2001:db8::1"),
    '{"ts":',
]
_LINES = st.lists(
    st.one_of(
        st.sampled_from(_FRAGMENTS),
        st.text(st.characters(codec="utf-8"), max_size=80),
        st.lists(st.sampled_from(["1790762400", "192.0.2.1", "-", "(empty)", "x", "{", "#"]),
                 max_size=6).map("\t".join),
    ),
    max_size=40,
)  # fmt: skip


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(lines=_LINES, cuts=st.lists(st.integers(0, 40), max_size=3))
def test_arbitrary_text_never_raises_and_every_line_is_accounted(
    lines: list[str], cuts: list[int]
) -> None:
    connection = duckdb.connect()
    try:
        parser = new_parser(connection)
        bounds = sorted({0, len(lines), *(c for c in cuts if c <= len(lines))})
        for start, end in itertools.pairwise(bounds):
            parsed = parse(parser, lines[start:end], first=start + 1)
            seen = parsed.rows.column("log_line").to_pylist()
            seen += parsed.rejects.column("log_line").to_pylist()
            assert len(seen) == len(set(seen))
            assert set(seen) <= set(range(start + 1, end + 1))
            for column in ("timestamp", "source_ip", "destination_ip"):
                assert parsed.rows.column(column).null_count == 0
    finally:
        connection.close()


def test_epoch_seconds_keep_every_microsecond(con: duckdb.DuckDBPyConnection) -> None:
    # ts is parsed through DOUBLE for speed; this pins the claim that 6-decimal
    # stamps before 2106 still come out exact, on 50,000 random ones and the edges.
    generator = random.Random(20260930)
    micros = [0, 1, 999_999, 1790762400_096535, 2**32 * 10**6 - 1]
    micros += [generator.randrange(2**32 * 10**6) for _ in range(50_000)]
    lines = [conn(f"{m // 10**6}.{m % 10**6:06d}", "192.0.2.1", 1, "192.0.2.2", 2) for m in micros]
    parsed = parse(new_parser(con), [*HEADER, *lines])
    epoch = dt.datetime(1970, 1, 1, tzinfo=UTC)
    got = parsed.rows.column("timestamp").cast(pa.int64()).to_pylist()
    assert got == micros
    assert parsed.rows.column("timestamp")[3].as_py() == epoch + dt.timedelta(
        seconds=1790762400, microseconds=96535
    )


# -- headers and sniffing --------------------------------------------------------------------


def test_header_state() -> None:
    assert unescape(r"\x09") == "\t"
    state = ZeekHeader()
    for line in HEADER:
        state = state.apply(line)
    assert state == ZeekHeader(path="conn", fields=tuple(FIELDS))
    assert state.apply(r"#separator \x2c").separator == ","
    assert state.apply("#separator ").separator == "\t"  # no value: kept
    assert state.apply("#fields ts id.orig_h  id.resp_h").fields == ("ts", "id.orig_h", "id.resp_h")
    assert state.apply("#types\ttime") is state


def test_sniff_recognises_zeek_conn() -> None:
    assert ZeekConnParser.sniff(HEADER)
    assert ZeekConnParser.sniff([r"#separator \x09", "#path conn"])
    assert ZeekConnParser.sniff([tsv("#fields", "ts", "id.orig_h", "id.resp_h", "conn_state")])
    assert ZeekConnParser.sniff(
        [js(ts=1790762400, id_orig_h="192.0.2.1", id_resp_h="192.0.2.2", conn_state="S0")]
    )
    assert registry.sniff(CONN_LOG[:20]) is ZeekConnParser


@pytest.mark.parametrize(
    "sample",
    [
        [],
        [r"#separator \x09", tsv("#path", "dns"), tsv("#fields", "ts", "uid", "query")],
        [r"#separator \x09", tsv("#path", "connx")],
        ["Sep 30 10:00:00 fw kernel: [UFW BLOCK] IN=eth0 SRC=192.0.2.1 DST=192.0.2.2"],
        ['{"id.orig_h": "192.0.2.1", "note": "conn_state"}'],
        ['{"id.orig_h": "192.0.2.1", "conn_state": "S0"'],
        ["[" * 100_000 + '"id.orig_h" "conn_state"'],
        ["{" + '"id.orig_h":"conn_state",' + "[" * 100_000],
        ["<script>", "\ufffd\x00"],
    ],
)
def test_sniff_rejects_other_text(sample: list[str]) -> None:
    assert ZeekConnParser.sniff(sample) is False


@given(st.lists(st.text(st.characters(codec="utf-8"), max_size=200), max_size=20))
def test_sniff_never_raises(sample: list[str]) -> None:
    assert isinstance(ZeekConnParser.sniff(sample), bool)


# -- through the framework -----------------------------------------------------------------


def test_ingest_gzip_conn_log_with_auto_sniffing(tmp_path: Path) -> None:
    # Tiny reads: the header block ends up in earlier batches than its data.
    bad_ip = conn("1790762406", "999.1.1.1", 1, "192.0.2.2", 2)
    content = "\n".join([*CONN_LOG[:-1], bad_ip, "", "x\ty", CLOSE]) + "\n"
    path = tmp_path / "conn.log.gz"
    path.write_bytes(gzip.compress(content.encode()))
    json_path = tmp_path / "conn.json"
    first = js(ts=1790762500.5, id_orig_h="198.51.100.7", id_resp_h="203.0.113.12",
               id_resp_p=445, conn_state="S0")  # fmt: skip
    json_path.write_bytes(first.encode() + b"\n{broken\n\xff\xfe-not-utf8\n\xff\xfe\n")
    lake = Lake(tmp_path / "lake")
    small = run.IngestOptions(block_bytes=300, sniff_bytes=300)
    stats = run.ingest([str(path), str(json_path)], lake, Config(), small)
    tsv_stats, json_stats = stats.files
    assert (tsv_stats.format, tsv_stats.lines, tsv_stats.parsed, tsv_stats.rejected,
            tsv_stats.skipped, tsv_stats.error) == ("zeek-conn", 18, 6, 2, 10, None)  # fmt: skip
    assert tsv_stats.reject_reasons == {"invalid source address": 1, "wrong number of fields": 1}
    assert (json_stats.format, json_stats.lines, json_stats.parsed, json_stats.rejected) == (
        "zeek-conn", 4, 1, 3,
    )  # fmt: skip
    assert json_stats.reject_reasons == {"invalid JSON": 1, "data before #fields header": 2}

    network = lake.read("network").sort_by("log_line").to_pylist()
    assert [(r["log_file"], r["log_line"], r["source_ip"], r["destination_ip"],
             r["connection_outcome"]) for r in network] == [
        (str(json_path), 1, "198.51.100.7", "203.0.113.12", "failed"),
        (str(path), 9, "198.51.100.7", "203.0.113.10", "failed"),
        (str(path), 10, "198.51.100.7", "203.0.113.10", "failed"),
        (str(path), 11, "10.0.0.5", "203.0.113.20", "succeeded"),
        (str(path), 12, "fe80::1c:5aff:fe01:2", "ff02::fb", "failed"),
        (str(path), 13, "198.51.100.9", "203.0.113.10", None),
        (str(path), 14, "198.51.100.8", "2001:db8::10", "failed"),
    ]  # fmt: skip
    assert {r["event_dataset"] for r in network} == {"zeek.conn"}
    assert network[0]["timestamp"] == at(1790762500, 500000)
    assert network[1]["timestamp"] == at(1790762400, 96535)

    stored = lake.read("rejects").sort_by([("log_file", "ascending"), ("log_line", "ascending")])
    assert [(r["log_file"], r["log_line"], r["reason"], r["raw"]) for r in stored.to_pylist()] == [
        (str(json_path), 2, "invalid JSON", "{broken"),
        (str(json_path), 3, "data before #fields header", "\ufffd\ufffd-not-utf8"),
        (str(json_path), 4, "data before #fields header", "\ufffd\ufffd"),
        (str(path), 15, "invalid source address", bad_ip),
        (str(path), 17, "wrong number of fields", "x\ty"),
    ]  # fmt: skip


def test_ingest_cuts_a_100kb_reject_to_the_raw_limit(tmp_path: Path) -> None:
    path = tmp_path / "conn.log"
    path.write_text("\n".join([*HEADER, "B" * 100_000, CLOSE]) + "\n")
    lake = Lake(tmp_path / "lake")
    (stats,) = run.ingest([str(path)], lake, Config()).files
    assert (stats.format, stats.lines, stats.rejected, stats.skipped) == ("zeek-conn", 10, 1, 9)
    (reject,) = lake.read("rejects").to_pylist()
    assert reject["reason"] == "wrong number of fields"
    assert reject["raw"] == "B" * schema.MAX_RAW_CHARS


def test_kept_rows_copies_nothing_for_a_clean_batch_and_filters_otherwise() -> None:
    table = pa.table({"n": [1, 2, 3]})
    assert kept_rows(table, pa.array([True, True, True])) is table
    assert kept_rows(table, pa.array([True, False, True])).column("n").to_pylist() == [1, 3]
    # A null is not a yes (as Arrow's filter drops it).
    assert kept_rows(table, pa.array([True, None, True])).column("n").to_pylist() == [1, 3]
