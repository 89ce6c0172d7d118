"""The compiled netfilter field scanner against its specification, the query's SQL.

``_nffields.c`` must capture exactly what DuckDB's RE2 captures with
``ADDRESSES``, ``TTL_ID``, ``PROTO_PORTS``, ``WINDOW_FLAGS`` and the envelope,
and compute from those texts exactly what ``TYPED_FIELDS`` and
``syslog.PRECUT_TYPED`` compute (numbers, flags, the log prefix, a BSD stamp's
parts, canonical addresses, blank lines) and what ``_compress_ipv6`` makes of
eight-group IPv6; and the parser must give the same rows and rejects whichever
of the two cuts the fields.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import re
import types
from pathlib import Path
from typing import Any
from unittest import mock

import duckdb
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reconwatch.config import Config
from reconwatch.generate import write_netfilter_lines
from reconwatch.ingest import netfilter as nf
from reconwatch.ingest.base import ParseContext, Parsed
from reconwatch.ingest.slices import MIN_SLICE_ROWS
from reconwatch.ingest.sources import read_batches

NOW = dt.datetime(2026, 10, 5, 12, 0, tzinfo=dt.UTC)


def test_the_compiled_scanner_is_built() -> None:
    # setup.py builds it wherever a C compiler is (CI installs gcc): without it
    # every other test here would compare the regexes with themselves.
    assert nf.compiled is not None
    assert nf.NetfilterParser(ParseContext(Config(), duckdb.connect(), "x", NOW)).compiled


Fields = dict[str, list[str | int | bool | None]]


def regex_fields(lines: list[str]) -> Fields:
    """The texts as DuckDB's regexes capture them and the values TYPED_FIELDS
    computes from them (the specification, and what the parser runs when the
    scanner is not built)."""
    con = duckdb.connect()
    con.register("batch_lines", pa.table({"line": pa.array(lines, pa.string())}))
    # The parser cuts WINDOW..flags of TCP lines only; the scanner, of every line.
    columns = nf.FIELD_COLUMNS.replace("f_window", "regexp_extract(line, $window) AS f_window")
    query = f"""SELECT {nf.FIELD_COLUMNS}, {nf.typed_fields_sql()}
                FROM (SELECT line, {columns} FROM {nf._regex_fields_sql("batch_lines")})"""
    table = con.sql(query, params={"window": nf.WINDOW_FLAGS}).to_arrow_table()
    # The scanner's RFC 5952 texts: what FULL_IPV6 and _compress_ipv6 give.
    for name, address in zip(nf.FAST_IPV6, ("f_src", "f_dst"), strict=True):
        table = table.append_column(
            name, pa.array(map(compressed_ipv6, table[address].to_pylist()))
        )
    return {name: table.column(name).to_pylist() for name in nf.COMPILED_COLUMNS}


def compressed_ipv6(text: str) -> str:
    """``_compress_ipv6``'s text of a full eight-group address, '' for any other
    text and for an IPv4-mapped one (left to ipaddress)."""
    if not re.fullmatch(nf.FULL_IPV6, text):
        return ""
    compressed = nf._compress_ipv6(pa.array([text])).to_pylist()[0]
    assert compressed == str(ipaddress.IPv6Address(text)) or compressed.startswith("::ffff:")
    return "" if compressed.startswith("::ffff:") else compressed


def compiled_fields(lines: list[str]) -> Fields:
    table = nf.with_compiled_fields(pa.table({"line": pa.array(lines, pa.string())}))
    return {name: table.column(name).to_pylist() for name in nf.COMPILED_COLUMNS}


def test_the_scanner_returns_the_columns_the_parser_names() -> None:
    assert nf.compiled is not None
    assert [name for name, _ in nf.compiled.FIELDS] == [
        name.split("_", 1)[1] for name in nf.COMPILED_COLUMNS
    ]
    assert nf.scanner_matches(nf.compiled)
    # A stale build (older sources, fewer or other columns) is not used.
    stale = types.SimpleNamespace(FIELDS=nf.compiled.FIELDS[:15])
    assert not nf.scanner_matches(stale)
    assert not nf.scanner_matches(types.SimpleNamespace())
    assert nf.compiled.TCP_FLAGS == nf.TCP_FLAGS
    table = nf.with_compiled_fields(pa.table({"line": pa.array([KERNEL], pa.string())}))
    assert table.select(nf.TYPED_NAMES).to_pylist() == [
        {
            "f_flags": "SYN",
            "h_prefix": "[UFW BLOCK]",
            "n_ttl": 43,
            "n_id": 25313,
            "n_spt": 52220,
            "n_dpt": 80,
            "n_window": 1024,
            "e_month": 9,
            "e_day": 30,
            "e_tod": dt.time(10, 9, 23),
            "f_blank": False,
            "f_src_v4": True,
            "f_dst_v4": True,
            "e_5424": False,
        }
    ]


KERNEL = (
    "Sep 30 10:09:23 fw1 kernel: [19955416.516358] [UFW BLOCK] IN=eth0 OUT= "
    "MAC=de:1c:88:64:10:19:5e:e1:a4:3b:cf:f0:08:00 SRC=198.51.100.7 DST=203.0.113.10 "
    "LEN=44 TOS=0x00 PREC=0x00 TTL=43 ID=25313 PROTO=TCP SPT=52220 DPT=80 WINDOW=1024 "
    "RES=0x00 SYN URGP=0"
)

EDGE_CASES = [
    "",
    " ",
    KERNEL,
    # IPv6: HOPLIMIT and no ID; an ICMP error quoting the inner packet after the outer one.
    "h kernel: IN=eth0 OUT= SRC=2001:0db8:0000:0000:0000:0000:0000:0001 DST=2001:db8::2 "
    "LEN=80 TC=0 HOPLIMIT=64 FLOWLBL=0 PROTO=ICMPv6 TYPE=1 CODE=4 [SRC=2001:db8::2 "
    "DST=2001:db8::9 LEN=52 PROTO=UDP SPT=53 DPT=33434 ]",
    # The first SRC= is not followed by DST=: the later pair is the match.
    "x SRC=a LEN=1 SRC=b DST=c",
    # Empty values, a value at the very end, values cut by the end of the line.
    " SRC= DST=",
    " SRC=1.2.3.4 DST=",
    " SRC=1.2.3.4 DST",
    " TTL=",
    " TTL=x ID=5 TTL=7",
    " TTL=12x ID=3",
    " TTL=12 ID=",
    " TTL=12 ID=x",
    " TTL=12 ID=34",
    " HOPLIMIT=255",
    " HOPLIMIT=",
    " PROTO=",
    " PROTO=TCP SPT=1",
    " PROTO=TCP SPT=1 DPT=",
    " PROTO=TCP SPT= DPT=2",
    " PROTO=TCP  SPT=1 DPT=2",
    " PROTO=UDP SPT=1 DPT=2 PROTO=TCP SPT=3 DPT=4",
    " WINDOW=",
    " WINDOW=x WINDOW=5 SYN",
    " WINDOW=1024 RES=0x00 SYN URGP=0",
    " WINDOW=1024 RES=0xZZ SYN URGP=0",
    " WINDOW=1024 RES=0x0",
    " WINDOW=64240 SYN ACK=123",
    " WINDOW=1 RES=0x0a",
    # Numbers as TRY_CAST reads them: leading zeros, the type's limit, ports of 1-5 digits.
    " TTL=255 ID=65535 PROTO=TCP SPT=65535 DPT=0 WINDOW=65535 SYN",
    " TTL=256 ID=65536 PROTO=TCP SPT=65536 DPT=99999 WINDOW=65536 SYN",
    " TTL=0000000000000000000255 ID=00000000000001 PROTO=TCP SPT=00080 DPT=000080",
    " TTL=99999999999999999999999 ID=4294967296 PROTO=UDP SPT=+1 DPT=1e3 WINDOW=1.5",
    " PROTO=TCP SPT=\u0661 DPT=\uff11 WINDOW=\u0661 SYN",
    # Flags: every one, in any order, repeated, glued, tab-separated, cut off by '='.
    " WINDOW=000001024 RES=0x00 FIN SYN RST PSH ACK URG ECE CWR URGP=0",
    " WINDOW=1 SYNACK SYN\tACK  FIN FIN syn",
    " WINDOW=1 RES=0x00 URGP=0 SYN",
    " WINDOW=1 SYN",
    " WINDOW=1SYN ACK",
    # Canonical dotted quads, and near misses.
    " SRC=0.0.0.0 DST=255.255.255.255",
    " SRC=01.2.3.4 DST=1.2.3.04",
    " SRC=256.1.1.1 DST=1.2.3.4.5",
    " SRC=1.2.3 DST=1.2.3.4.",
    " SRC=1234.1.1.1 DST=.1.2.3.4",
    " SRC=1..2.3 DST=\u0661.2.3.4",
    # BSD stamps: every month, a name that is none, days with one digit, the
    # time of day as TRY_CAST(... AS TIME) reads it (24:00:00 is one).
    *(
        f"{m} {d} 10:09:23 fw1 kernel: IN=eth0 OUT="
        for m, d in zip(
            ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"],
            ["1", " 2", "03", "10", "29", "30", "31", "00", "99", "9", " 9", "19"],
            strict=True,
        )
    ),
    "Foo 30 10:09:23 fw1 kernel: IN=eth0",
    "Jal 30 10:09:23 fw1 kernel: IN=eth0",
    "Sep 30 24:00:00 fw1 kernel: IN=eth0",
    "Sep 30 24:00:01 fw1 kernel: IN=eth0",
    "Sep 30 23:60:00 fw1 kernel: IN=eth0",
    "Sep 30 23:59:60 fw1 kernel: IN=eth0",
    "Sep 30 99:99:99 fw1 kernel: IN=eth0",
    "Sep 30 00:00:00 fw1 kernel: IN=eth0",
    # RFC 5424's start, and near misses.
    "<1>1 x",
    "<123>1 2026-09-30T10:09:23Z h k - - - IN=a",
    "<1234>1 x",
    "<>1 x",
    "<12>2 x",
    "<12>1",
    "<12>1\tx",
    "x<12>1 x",
    # Log prefixes: the key part without its key, uptime and spaces.
    "Sep 30 10:09:23 fw1 kernel: [  123.456] RW-DROP: IN=eth0 OUT=",
    "Sep 30 10:09:23 fw1 kernel: [\t1.2]  IN=eth0",
    "Sep 30 10:09:23 fw1 kernel: [1.2]x IN=eth0",
    "Sep 30 10:09:23 fw1 kernel: [1.] IN=eth0",
    "Sep 30 10:09:23 fw1 kernel: [.2] IN=eth0",
    "Sep 30 10:09:23 fw1 kernel: [1.2 IN=eth0",
    "Sep 30 10:09:23 fw1 kernel: [1.2][3.4] IN=eth0",
    "Sep 30 10:09:23 fw1 kernel: [UFW BLOCK] OUT=eth0",
    "Sep 30 10:09:23 fw1 kernel: \tpre\t IN=eth0",
    "Sep 30 10:09:23 fw1 kernel: IN=eth0",
    "Sep 30 10:09:23 fw1 kernel: OUT=eth0",
    "Sep 30 10:09:23 fw1 kernel: xIN=eth0",
    "Sep 30 10:09:23 fw1 kernel: N=eth0",
    "Sep 30 10:09:23 fw1 kernel: UT=eth0",
    "Sep 30 10:09:23 fw1 kernel: \u00e9 [1.2] IN=x",
    "2026-09-30T10:09:23Z fw1 kernel: [9.9] DROP IN=eth0",
    # trim() removes Unicode space separators too (not tabs, U+0085 or U+2028).
    "Sep 30 10:09:23 fw1 kernel: [UFW BLOCK]\u00a0IN=eth0",
    "Sep 30 10:09:23 fw1 kernel: \u3000DROP\u1680\u2000\u200a\u202f\u205f IN=eth0",
    "Sep 30 10:09:23 fw1 kernel: [1.2]\u2009x\u200b OUT=eth0",
    "Sep 30 10:09:23 fw1 kernel: \u0085x\u2028 IN=eth0",
    "Sep 30 10:09:23 fw1 kernel: \u00a0\u00a0IN=eth0",
    # IPv6 as the kernel writes it (eight full groups), and near misses.
    " SRC=0000:0000:0000:0000:0000:0000:0000:0000 DST=0000:0000:0000:0000:0000:0000:0000:0001",
    " SRC=2001:0DB8:0000:0000:0001:0000:0000:0001 DST=1:0:0:2:0:0:0:3",
    " SRC=fe80:0000:0000:0000:0000:0000:0000:0000 DST=0:1:0:1:0:1:0:1",
    " SRC=0000:0000:0000:0000:0000:ffff:c000:0201 DST=0:0:0:0:0:0:ffff:1",
    " SRC=0000:0000:0000:0000:0000:0000:c000:0201 DST=1:2:3:4:5:6:7:8",
    " SRC=1:2:3:4:5:6:7:8:9 DST=1:2:3:4:5:6:7 SRC=x",
    " SRC=10000:0:0:0:0:0:0:0 DST=1:2:3:4:5:6:7:8:",
    " SRC=2001:db8::1 DST=::ffff:1.2.3.4",
    " SRC=g:0:0:0:0:0:0:0 DST=1:2:3:4:5:6:7:\u0661",
    # Blank lines: RE2's spaces only (not the vertical tab or other Unicode spaces).
    "\t\r\f \n",
    "\x0b",
    " \u00a0 ",
    # Tabs and other RE2 spaces end a value; other Unicode spaces do not.
    " SRC=1.2.3.4\tDST=5.6.7.8 DST=9.9.9.9",
    " SRC=1.2.3.4 DST=5.6.7.8\r",
    " SRC=a\u00a0b DST=c\u2003d e",
    " SRC=\u00e9\u00e9 DST=\U0001f600 PROTO=\u0661 TTL=\u0661",
    "SRC=1.2.3.4 DST=5.6.7.8 PROTO=TCP",  # no space before: no match
    "\x00 SRC=\x00 DST=\x00",
    # The envelope and the head: PRI, both stamp kinds, tags with and without pid.
    "<13>Sep 30 10:09:23 fw1 kernel: [1.2] IN=eth0 OUT=eth1 SRC=1",
    "<1234>Sep 30 10:09:23 fw1 kernel: IN=eth0",
    "<>Sep 30 10:09:23 fw1 kernel: IN=eth0",
    "Sep  8 10:09:23 fw1 kernel: IN=eth0 OUT= SRC=1",
    "Sep 8 10:09:23 fw1 kernel: IN=eth0 OUT= SRC=1",
    "Sep   8 10:09:23 fw1 kernel: IN=eth0",
    "Sep 308 10:09:23 fw1 kernel: IN=eth0",
    "SEP 30 10:09:23 fw1 kernel: IN=eth0",
    "Sep 30 10:9:23 fw1 kernel: IN=eth0",
    "2026-09-30T10:09:23+0200 host kernel: IN= OUT=eth0",
    "2023-03-18T20:36:59.594792+01:00 host kernel: x IN=a OUT=b",
    "2023-03-18T20:36:59.123456789-01:00 host kernel: x IN=a",
    "2023-03-18T20:36:59.1234567890+01:00 host kernel: IN=",
    "2023-03-18T20:36:59Z host sshd[12]: Failed",
    "2023-03-18T20:36:59Z host sshd[x]: Failed",
    "2023-03-18T20:36:59Z host sshd[12]x: Failed",
    "2023-03-18T20:36:59Z host sshd[]: a=b",
    "2023-03-18T20:36:59+02:0x host k: a=b",
    "2023-03-18T20:36:59+02 host k: a=b",
    "2023-03-18T20:36:59. host k: a=b",
    "2023-03-18 20:36:59Z host k: a=b",
    "Sep 30 10:09:23 host\tkernel: a=b",
    "Sep 30 10:09:23  host kernel: a=b",
    "Sep 30 10:09:23 fw1 kernel:IN=eth0",
    "Sep 30 10:09:23 fw1 kernel: no equals here",
    "Sep 30 10:09:23 fw1 kernel: ",
    "Sep 30 10:09:23 fw1 kernel:",
    "Sep 30 10:09:23 fw1 kernel",
    "Sep 30 10:09:23 fw1 ker:nel: IN=x",
    "Sep 30 10:09:23 fw1 [kernel]: IN=x",
    "<4>1 2026-09-30T10:09:23.123+02:00 host app procid msgid - IN=a",
    "Sep 30 10:09:23 fw1 kernel: IN=eth0  OUT=x",
    "Sep 30 10:09:23 fw1 kernel: IN=eth0 OUT=x OUT=y",
    "Sep 30 10:09:23 fw1 kernel: IN=eth0\tOUT=x",
    "Sep 30 10:09:23 fw1 kernel: =",
    "Sep 30 10:09:23 fw1 kernel: \u00e9 IN=\u00e9 OUT=\U0001f600",
    # rsyslog's repeat wrapper (the query unwraps it; the scanner cuts as ever).
    "Sep 30 10:09:23 fw1 kernel: message repeated 2 times: [ [1.2] X: IN=a OUT=b SRC=1.2.3.4"
    " DST=5.6.7.8 PROTO=TCP SPT=1 DPT=2 WINDOW=3 SYN URGP=0 ]",
    "Sep 30 10:09:23 fw1 kernel: message repeated 2 times: [IN=a SRC=1.2.3.4 DST=5.6.7.8 PROTO=1]",
    "Sep 30 10:09:23 fw1 kernel: message repeated 2 times: [ IN=a SRC=1.2.3.4 DST=5.6.7.8 PROTO=x",
    "Sep 30 10:09:23 fw1 kernel: message repeated 1234567890 times: [ IN=a SRC=1 DST=2 PROTO=U]",
    "Sep 30 10:09:23 fw1 kernel: message repeated x times: [ IN=a SRC=1.2.3.4 DST=5.6.7.8 PROTO=U]",
    "Sep 30 10:09:23 fw1 kernel: message repeated 3 times: [ no key here]",
    "<13>1 2026-09-30T10:09:26Z fw1 kernel - - - message repeated 4 times: [ IN=a SRC=1.2.3.4"
    " DST=5.6.7.8 PROTO=UDP SPT=1 DPT=2 ]",
]


def test_edge_cases_capture_what_the_regexes_capture() -> None:
    assert compiled_fields(EDGE_CASES) == regex_fields(EDGE_CASES)


KEYS = [" SRC=", " DST=", " TTL=", " HOPLIMIT=", " ID=", " PROTO=", " SPT=", " DPT=", " WINDOW="]
PIECES = st.one_of(
    st.sampled_from(
        [*KEYS, " RES=0x", "0a", "ZZ", " ", "\t", "\r", "\f", "\x0b", "=", "TCP", "12", "0"]
    ),
    st.sampled_from(
        ["SYN", "ACK", "FIN", "CWR", " URGP=0", "255", "256", "65535", "65536", "]", " ]"]
    ),
    st.sampled_from(["00080", "1.2.3.4", "01.2.3.4", "10.0.0.255", "1.2.3.", "."]),
    st.text(alphabet="0123456789abcdefABCDEF:. x", max_size=6),
    st.text(max_size=4),
)


#: Syslog envelopes built part by part, each part mostly valid and sometimes
#: not, so that every branch of the envelope is reached (random text rarely
#: makes a valid stamp).
def _part(valid: list[str], invalid: list[str]) -> st.SearchStrategy[str]:
    """A valid piece 17 times in 20, else an invalid one or any short text."""
    return st.tuples(
        st.integers(0, 19), st.sampled_from(valid), st.sampled_from(invalid), st.text(max_size=3)
    ).map(lambda c: c[1] if c[0] < 17 else c[2] if c[0] < 19 else c[3])


ENVELOPE = st.tuples(
    _part(["", "<13>", "<4>", "<191>"], ["<1234>", "<>", "<1", "<x>"]),
    _part(
        [
            "Sep 30 10:09:23",
            "Dec 31 24:00:00",
            "Foo 30 10:09:23",
            "Jan 1 23:60:00",
            "Oct  8 00:00:00",
            "Oct 8 23:59:59",
            "2026-09-30T10:09:23Z",
            "2026-09-30T10:09:23+0200",
            "2023-03-18T20:36:59.594792+01:00",
            "2023-03-18T20:36:59.123456789-01:00",
        ],
        [
            "Sep   8 10:09:23",
            "SEP 30 10:09:23",
            "Sep 308 10:09:23",
            "Sep 30 10:9:23",
            "2026-09-30T10:09:23",
            "2026-09-30T10:09:23.+02:00",
            "2026-09-30T10:09:23.1234567890Z",
            "2026-09-30T10:09:23+02:0",
            "2026-09-30 10:09:23Z",
        ],
    ),
    _part([" "], ["  ", "\t", ""]),
    _part(["fw1", "host.example", "\u00e9"], ["", "-"]),
    _part([" "], ["  ", "\t", ""]),
    _part(["kernel", "sshd", "named"], ["", "ker:nel", "[k]", "k]"]),
    _part(["", "[12]"], ["[]", "[x]", "[12", "[12]x"]),
    _part([":", ": "], ["", ";"]),
    _part(
        [
            "",
            " [1.2] IN=eth0 OUT=",
            " [UFW BLOCK] IN=eth0 OUT=eth1 ",
            " OUT=eth0 ",
            " IN=",
            " [  12.5] RW-DROP: IN=eth0 OUT=",
            " [1.2]x  OUT=",
            " [UFW\u00a0BLOCK]\u00a0IN=eth0 ",
            " \u3000\u2003DROP\u205f OUT=",
            # rsyslog's repeat wrapper (its closing ']' is a piece of the rest).
            " message repeated 2 times: [ [UFW BLOCK] IN=eth0 OUT=eth1 ",
            " message repeated 123456789 times: [IN=eth0 OUT=",
        ],
        [
            " no equals",
            " =",
            " IN=a  OUT=b",
            " IN=a\tOUT=b",
            " IN=a OUT=b OUT=c",
            "IN=a",
            " message repeated x times: [ IN=a",
            " message repeated 2 times: IN=a",
        ],
    ),
).map("".join)
LINES = st.lists(
    st.one_of(
        st.lists(PIECES, max_size=24).map("".join),
        st.tuples(ENVELOPE, st.lists(PIECES, max_size=12).map("".join)).map("".join),
        # Closed as rsyslog closes a repeat's wrapper.
        st.tuples(ENVELOPE, st.lists(PIECES, max_size=12).map("".join), st.just("]")).map("".join),
    ),
    min_size=1,
    max_size=40,
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(LINES)
def test_any_text_captures_what_the_regexes_capture(lines: list[str]) -> None:
    assert compiled_fields(lines) == regex_fields(lines)


GROUPS = st.one_of(
    st.sampled_from(["0", "00", "0000", "1", "ffff", "FFFF", "0a0B", "abcd", "", "12345", "g"]),
    st.text(alphabet="0123456789abcdefABCDEF", min_size=1, max_size=4),
)
IPV6 = st.one_of(
    st.lists(st.sampled_from(["0", "0000", "0", "1"]), min_size=8, max_size=8).map(":".join),
    st.lists(GROUPS, min_size=7, max_size=9).map(":".join),
)


@settings(max_examples=500, deadline=None)
@given(IPV6, IPV6)
def test_full_ipv6_is_compressed_as_arrow_and_ipaddress_do(source: str, target: str) -> None:
    lines = [f"x SRC={source} DST={target} LEN=1"]
    got = compiled_fields(lines)
    assert got["f_src6"] == [compressed_ipv6(source)]
    assert got["f_dst6"] == [compressed_ipv6(target)]


def test_a_slice_of_an_array_is_scanned_from_its_own_offset() -> None:
    table = pa.table({"line": pa.array(EDGE_CASES, pa.string())})
    part = table.slice(3, 9)
    assert part.column("line").chunk(0).offset == 3
    got = nf.with_compiled_fields(part)
    want = regex_fields(EDGE_CASES[3:12])
    assert {name: got.column(name).to_pylist() for name in nf.COMPILED_COLUMNS} == want
    # Several chunks, and large_string lines, are read the same way.
    chunked = pa.table(
        {"line": pa.chunked_array([EDGE_CASES[:5], EDGE_CASES[5:]], pa.large_string())}
    )
    got = nf.with_compiled_fields(chunked)
    assert {name: got.column(name).to_pylist() for name in nf.COMPILED_COLUMNS} == regex_fields(
        EDGE_CASES
    )


#: A line with every field the scanner looks for after the envelope.
FIELDS_LINE = (
    "SRC=10.0.0.1 DST=10.0.0.2 LEN=40 TTL=64 ID=7 PROTO=TCP SPT=1 DPT=22 WINDOW=9 SYN URGP=0"
)


def aligned_lines() -> list[str]:
    """``FIELDS_LINE`` after 0 to 40 bytes, so that each key starts at every
    place in a 16-byte block (the SSE2 search reads 16 at a time); lines that
    end in a space or a key's first letters, before a line that starts with a
    key (the search reads past a line's end into the next line, which must not
    count); and a last line that ends where the data ends."""
    lines = []
    for pad in range(41):
        lines += [f"{'x' * pad} {FIELDS_LINE}", "x " * pad, "SRC=1.2.3.4 DST=5.6.7.8 TTL=1"]
        lines += [f"{'y' * pad} S", "PROTO=UDP SPT=1 DPT=2", f"{'z' * pad} SRC=1.1.1.1 DST="]
    return [*lines, f"x {FIELDS_LINE} W"]


def test_fields_are_found_at_every_place_in_a_block() -> None:
    lines = aligned_lines()
    assert compiled_fields(lines) == regex_fields(lines)


def scan_both_ways(lines: list[str]) -> None:
    """The portable search (machines without SSE2) finds what SSE2 finds."""
    assert nf.compiled is not None
    _, offsets, data = pa.array(lines, pa.string()).buffers()
    data = data if data is not None else b""
    fast = nf.compiled.scan(offsets, data, 0, len(lines))
    assert nf.compiled.scan(offsets, data, 0, len(lines), True) == fast


def test_the_portable_search_finds_what_sse2_finds() -> None:
    scan_both_ways(aligned_lines())
    scan_both_ways(EDGE_CASES)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(LINES)
def test_the_portable_search_finds_what_sse2_finds_in_any_text(lines: list[str]) -> None:
    scan_both_ways(lines)


def test_offsets_outside_the_data_are_refused_not_read() -> None:
    assert nf.compiled is not None
    offsets = pa.array([0, 4, 400], pa.int32()).buffers()[1]
    with pytest.raises(ValueError, match="outside the data buffer"):
        nf.compiled.scan(offsets, b"abcd", 0, 2)
    with pytest.raises(ValueError, match="do not cover"):
        nf.compiled.scan(offsets, b"abcd", 1, 5)
    with pytest.raises(ValueError, match="do not cover"):
        nf.compiled.scan(offsets, b"abcd", -1, 1)


def parse_both(
    lines: pa.Table, threads: int = 2, config: Config | None = None
) -> tuple[Parsed, Parsed]:
    results = []
    for compiled in (True, False):
        con = duckdb.connect()
        con.execute(f"SET threads = {threads}")
        parser = nf.NetfilterParser(ParseContext(config or Config(), con, "test.log", NOW))
        parser.compiled = compiled
        results.append(parser.parse(lines))
    return results[0], results[1]


def test_the_parser_gives_the_same_rows_and_rejects_either_way(
    tmp_path: Path, crowdsec_hub: Path
) -> None:
    log = tmp_path / "kern.log"
    write_netfilter_lines(log, 60_000, seed=3, scanners=5)
    texts = [
        log,
        crowdsec_hub / "iptables-logs" / "iptables-logs.log",
        crowdsec_hub / "iptables-scan-multi-port" / "iptables-scan-multi-port.log",
        crowdsec_hub / "proxmox-iptables-logs" / "proxmox-iptables.log",
    ]
    for path in texts:
        with path.open("rb") as stream:
            for lines in read_batches(stream):
                fast, reference = parse_both(lines)
                assert fast.rows.num_rows > 0, path
                assert fast.rows.equals(reference.rows), path
                assert fast.rejects.equals(reference.rejects), path
                assert fast.skipped == reference.skipped


def test_the_parser_agrees_on_the_edge_cases() -> None:
    table = pa.table(
        {
            "log_line": pa.array(range(1, len(EDGE_CASES) + 1), pa.int64()),
            "line": pa.array(EDGE_CASES, pa.string()),
        }
    )
    fast, reference = parse_both(table, threads=1)
    assert fast.rows.num_rows > 0
    assert fast.rows.equals(reference.rows)
    assert fast.rejects.equals(reference.rejects)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(LINES)
def test_the_parser_agrees_on_any_text(lines: list[str]) -> None:
    envelope = "Sep 30 10:09:23 fw1 kernel: IN=eth0 OUT= "
    table = pa.table(
        {
            "log_line": pa.array(range(1, 2 * len(lines) + 1), pa.int64()),
            "line": pa.array(lines + [envelope + line for line in lines], pa.string()),
        }
    )
    fast, reference = parse_both(table, threads=1)
    assert fast.rows.equals(reference.rows)
    assert fast.rejects.equals(reference.rejects)


# -- plain lines: assembled in Arrow, the rest through the query ---------------------

PLAIN = (
    "Sep 30 10:09:23 fw1 kernel: [1.2] RW-DROP: IN=eth0 OUT= SRC=198.51.100.7 "
    "DST=203.0.113.10 LEN=44 TTL=43 ID=1 PROTO=TCP SPT=52220 DPT=80 WINDOW=1024 RES=0x00 SYN URGP=0"
)
#: Lines on either side of each condition of plain lines, and what a plain
#: line's columns are assembled from (prefix keywords, interfaces, host, stamp).
PLAIN_EDGE_CASES = [
    PLAIN,
    PLAIN.replace("PROTO=TCP", "PROTO=UDP").replace(" WINDOW=1024 RES=0x00 SYN URGP=0", ""),
    PLAIN.replace("PROTO=TCP SPT=52220 DPT=80", "PROTO=ICMP TYPE=8 CODE=0"),
    PLAIN.replace("PROTO=TCP SPT=52220 DPT=80", "PROTO=ICMP SPT=1 DPT=2"),
    # Transports: the kernel's names, other spellings, numbers, names the query
    # lowers, what it rejects; ports where a transport needs them.
    PLAIN.replace("PROTO=TCP", "PROTO=ICMPv6"),
    PLAIN.replace("PROTO=TCP", "PROTO=icmpv6"),
    PLAIN.replace("PROTO=TCP", "PROTO=tcp"),
    PLAIN.replace("PROTO=TCP", "PROTO=Tcp"),
    PLAIN.replace("PROTO=TCP", "PROTO=SCTP"),
    PLAIN.replace("PROTO=TCP", "PROTO=UDPLITE"),
    PLAIN.replace("PROTO=TCP SPT=52220 DPT=80", "PROTO=SCTP"),
    PLAIN.replace("PROTO=TCP", "PROTO=6"),
    PLAIN.replace("PROTO=TCP SPT=52220 DPT=80", "PROTO=2"),
    PLAIN.replace("PROTO=TCP SPT=52220 DPT=80", "PROTO=007"),
    PLAIN.replace("PROTO=TCP SPT=52220 DPT=80", "PROTO=255"),
    PLAIN.replace("PROTO=TCP SPT=52220 DPT=80", "PROTO=256"),
    PLAIN.replace("PROTO=TCP SPT=52220 DPT=80", "PROTO=1234"),
    PLAIN.replace("PROTO=TCP SPT=52220 DPT=80", "PROTO=GRE"),
    PLAIN.replace("PROTO=TCP SPT=52220 DPT=80", "PROTO=ESP_x-1"),
    PLAIN.replace("PROTO=TCP SPT=52220 DPT=80", "PROTO=A2345678901234567"),
    PLAIN.replace("PROTO=TCP SPT=52220 DPT=80", "PROTO=1x"),
    PLAIN.replace("PROTO=TCP SPT=52220 DPT=80", "PROTO=\u0130CMPV6"),
    PLAIN.replace("PROTO=TCP", "PROTO=47"),
    PLAIN.replace("PROTO=TCP SPT=52220", "PROTO=47 SPT="),
    PLAIN.replace("PROTO=TCP SPT=52220", "PROTO=TCP SPT="),
    PLAIN.replace("PROTO=TCP", "PROTO="),
    PLAIN.replace(" SPT=52220 DPT=80", ""),
    PLAIN.replace(" SPT=52220 DPT=80", "") + " FRAG:1480",
    PLAIN.replace("DPT=80", "DPT=65536"),
    PLAIN.replace("DPT=80", "DPT="),
    PLAIN.replace("SPT=52220", "SPT=x"),
    PLAIN.replace("SPT=52220", "SPT=000080"),
    PLAIN.replace(" WINDOW=1024 RES=0x00 SYN URGP=0", ""),
    PLAIN.replace(" RES=0x00 SYN URGP=0", ""),
    PLAIN.replace("TTL=43 ID=1", "TTL=300 ID=70000"),
    PLAIN.replace("TTL=43 ID=1 ", ""),
    PLAIN.replace("SRC=198.51.100.7", "SRC="),
    PLAIN.replace("DST=203.0.113.10", "DST="),
    PLAIN.replace("SRC=198.51.100.7", "SRC=2001:0db8:0000:0000:0000:0000:0000:0001"),
    PLAIN.replace("SRC=198.51.100.7", "SRC=198.51.100.007"),
    PLAIN.replace("SRC=198.51.100.7", "SRC=not-an-address"),
    # Keys and prefixes: OUT first, no prefix, a key glued to text, prefix lengths.
    PLAIN.replace("IN=eth0 OUT= ", "OUT=eth1 "),
    PLAIN.replace("IN=eth0 OUT= ", "IN=eth0 OUT=eth1 "),
    PLAIN.replace("IN=eth0 OUT= ", "IN= OUT= "),
    PLAIN.replace("[1.2] RW-DROP: ", ""),
    PLAIN.replace("[1.2] RW-DROP: ", "[1.2] "),
    PLAIN.replace("RW-DROP: IN=", "xIN="),
    PLAIN.replace("RW-DROP: IN=", "XX="),
    PLAIN.replace("RW-DROP:", "x" * 256),
    PLAIN.replace("[1.2] RW-DROP: ", "x" * 256),
    PLAIN.replace("[1.2] RW-DROP: ", "x" * 257),
    PLAIN.replace("[1.2] RW-DROP: IN=eth0 OUT= ", "y" * 256 + "OUT=eth1 "),
    PLAIN.replace("[1.2] RW-DROP: IN=eth0 OUT= ", "y" * 257 + "OUT=eth1 "),
    PLAIN.replace("RW-DROP:", "\u00e9" * 200),
    # Action keywords: case, order, inside words, none, not ASCII.
    PLAIN.replace("RW-DROP:", "[UFW ALLOW]"),
    PLAIN.replace("RW-DROP:", "[ufw block]"),
    PLAIN.replace("RW-DROP:", "policy ACCEPT then DROP"),
    PLAIN.replace("RW-DROP:", "DROPPED-ACCEPTED"),
    PLAIN.replace("RW-DROP:", "nothing-known"),
    PLAIN.replace("RW-DROP:", "\u00c9DROP"),
    PLAIN.replace("RW-DROP:", "DR\u00d3P"),
    PLAIN.replace("RW-DROP:", "DROP\u00a0"),
    # Envelopes: hosts that are none, PRI, ISO stamps (possible or not), RFC 5424,
    # Proxmox, none at all, and blank lines among plain ones.
    PLAIN.replace(" fw1 ", " - "),
    "<4>" + PLAIN,
    PLAIN.replace("Sep 30 10:09:23", "Sep  3 10:09:23"),
    PLAIN.replace("Sep 30 10:09:23", "Feb 30 24:00:00"),
    PLAIN.replace("Sep 30 10:09:23", "2026-09-30T10:09:23+02:00"),
    PLAIN.replace("Sep 30 10:09:23", "2026-09-30T10:09:23.123456Z"),
    PLAIN.replace("Sep 30 10:09:23", "2026-09-30T10:09:23.123456789-0130"),
    PLAIN.replace("Sep 30 10:09:23", "2026-02-30T10:09:23Z"),
    PLAIN.replace("Sep 30 10:09:23", "2026-09-30T24:00:00Z"),
    PLAIN.replace("Sep 30 10:09:23", "2026-09-30T23:59:60+00:00"),
    PLAIN.replace("Sep 30 10:09:23", "0000-01-01T00:00:00Z"),
    PLAIN.replace("Sep 30 10:09:23 fw1 kernel:", "<4>1 2026-09-30T10:09:23Z fw1 kernel - - -"),
    PLAIN.replace(
        "Sep 30 10:09:23 fw1 kernel: [1.2] RW-DROP:",
        "100 4 PVEFW-HOST-IN 30/Sep/2026:10:09:23 +0200 policy DROP:",
    ),
    PLAIN.replace("Sep 30 10:09:23 fw1 kernel: ", ""),
    "",
    "   ",
    PLAIN.replace("SPT=52220", "SPT=1"),
]


def plain_of(lines: pa.Table) -> list[bool]:
    """Which of ``lines`` the parser assembles without its query."""
    scanned = nf.with_compiled_fields(lines.append_column("_row", pa.array(range(len(lines)))))
    _, plain = nf.assemble_plain(scanned, Config().netfilter, duckdb.connect())
    return [bool(value) for value in plain.to_pylist()]


@pytest.mark.parametrize(
    ("threads", "share"), [(1, 0.0), (2, 0.0), (1, nf.PLAIN_SHARE), (2, nf.PLAIN_SHARE)]
)
def test_plain_lines_are_assembled_as_the_query_reads_them(
    threads: int, share: float, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Share 0: every slice is assembled, however few of its lines are plain;
    # the default: a slice of these goes through the query whole.
    monkeypatch.setattr(nf, "PLAIN_SHARE", share)
    # Several times over, so that with two threads both slices hold both kinds.
    texts = PLAIN_EDGE_CASES * (2 * MIN_SLICE_ROWS // len(PLAIN_EDGE_CASES) + 1)
    table = pa.table(
        {
            "log_line": pa.array(range(1, len(texts) + 1), pa.int64()),
            "line": pa.array(texts, pa.string()),
        }
    )
    plain = dict(zip(PLAIN_EDGE_CASES, plain_of(table)[: len(PLAIN_EDGE_CASES)], strict=True))
    # Both kinds are there: the Arrow assembly and the query each have their lines.
    assert plain[PLAIN] and plain[PLAIN.replace("PROTO=TCP", "PROTO=ICMPv6")]
    assert plain[PLAIN.replace("PROTO=TCP SPT=52220 DPT=80", "PROTO=007")]
    assert not plain[PLAIN.replace("PROTO=TCP SPT=52220 DPT=80", "PROTO=256")]
    assert not plain[PLAIN.replace("PROTO=TCP SPT=52220 DPT=80", "PROTO=SCTP")]
    assert not plain[PLAIN.replace("Sep 30 10:09:23 fw1 kernel: ", "")]
    assert 30 < sum(plain.values()) < len(PLAIN_EDGE_CASES) - 20
    fast, reference = parse_both(table, threads=threads)
    assert fast.rows.num_rows > len(texts) // 2
    assert fast.rows.equals(reference.rows)
    assert fast.rejects.equals(reference.rejects)
    assert fast.skipped == reference.skipped


def test_plain_lines_take_the_configured_action_keywords(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(nf, "PLAIN_SHARE", 0.0)  # assembled, not queried whole
    table = pa.table(
        {
            "log_line": pa.array(range(1, len(PLAIN_EDGE_CASES) + 1), pa.int64()),
            "line": pa.array(PLAIN_EDGE_CASES, pa.string()),
        }
    )
    configs = [
        {"prefix_actions": {"Ufw": "allowed", "\u00e9": "rejected", "drop": "denied"}},
        {"prefix_actions": {}, "default_action": "allowed"},
        {"prefix_actions": {"RW-": "rejected", "ACCEPT": "allowed"}, "default_action": "denied"},
    ]
    seen = set()
    for netfilter in configs:
        config = Config.model_validate({"netfilter": netfilter})
        fast, reference = parse_both(table, threads=1, config=config)
        assert fast.rows.equals(reference.rows)
        assert fast.rejects.equals(reference.rejects)
        seen.update(fast.rows.column("event_action").to_pylist())
    assert {"allowed", "rejected", "denied", "dropped"} <= seen


def test_every_generated_line_is_plain(tmp_path: Path) -> None:
    log = tmp_path / "kern.log"
    write_netfilter_lines(log, 5_000, seed=5, scanners=3)
    with log.open("rb") as stream:
        lines = next(read_batches(stream))
    plain = plain_of(lines)
    assert sum(plain) == len(plain)


PLAIN_PIECES = st.tuples(
    st.sampled_from(
        [
            "Sep 30 10:09:23 fw1 kernel: ",
            "2026-09-30T10:09:23.5+02:00 h kernel: ",
            "<6>Oct  1 00:00:00 - kernel: ",
            "Dec 31 23:59:59 fw kernel: ",
            "",
        ]
    ),
    st.sampled_from(["", "[1.2] ", "[UFW BLOCK] ", "DROP: ", "ufw allow ", "\u00e9 ", "x"]),
    st.sampled_from(["IN=eth0 OUT= ", "IN= OUT=eth1 ", "OUT=eth1 ", "IN=eth0 OUT=eth1 ", "IN="]),
    st.sampled_from(
        ["SRC=10.0.0.1 DST=10.0.0.2 ", "SRC=1.2.3.4 DST= ", "SRC=::1 DST=1.1.1.1 ", ""]
    ),
    st.sampled_from(["LEN=40 TTL=64 ID=1 ", "TTL=999 ", "HOPLIMIT=3 ", ""]),
    st.sampled_from(
        [
            "PROTO=TCP ",
            "PROTO=UDP ",
            "PROTO=ICMP ",
            "PROTO=ICMPv6 ",
            "PROTO=2 ",
            "PROTO=Tcp ",
            "PROTO=IGMP ",
            "PROTO=SCTP ",
            "PROTO=999 ",
            "PROTO=",
            "",
        ]
    ),
    st.sampled_from(["SPT=1 DPT=2 ", "SPT=0 DPT=65535 ", "SPT=1 DPT=x ", "SPT= DPT=3 ", ""]),
    st.sampled_from(["WINDOW=1024 RES=0x00 SYN URGP=0", "WINDOW=5 ACK FIN", "WINDOW=", ""]),
).map("".join)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.one_of(PLAIN_PIECES, st.sampled_from(["", " \t"])), min_size=1, max_size=60))
def test_the_parser_agrees_on_near_plain_lines(lines: list[str]) -> None:
    table = pa.table(
        {
            "log_line": pa.array(range(1, len(lines) + 1), pa.int64()),
            "line": pa.array(lines, pa.string()),
        }
    )
    for share in (0.0, nf.PLAIN_SHARE):  # assembled, and as a slice's share decides
        with mock.patch.object(nf, "PLAIN_SHARE", share):
            fast, reference = parse_both(table, threads=1)
        assert fast.rows.equals(reference.rows)
        assert fast.rejects.equals(reference.rejects)
        assert fast.skipped == reference.skipped


def test_a_slice_of_few_plain_lines_goes_through_the_query_whole(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Assembling a slice and then replacing most of it costs more than the query."""
    proxmox = PLAIN.replace(
        "Sep 30 10:09:23 fw1 kernel: [1.2] RW-DROP:",
        "100 4 PVEFW-HOST-IN 30/Sep/2026:10:09:23 +0200 policy DROP:",
    )
    lines = [proxmox] * 9 + [PLAIN]
    table = pa.table({"log_line": pa.array(range(1, 11), pa.int64()), "line": lines})
    assembled: list[int] = []
    real = nf._assemble

    def counting(scanned: pa.Table, *args: Any) -> pa.Table:
        assembled.append(scanned.num_rows)
        return real(scanned, *args)

    monkeypatch.setattr(nf, "_assemble", counting)
    fast, reference = parse_both(table, threads=1)
    assert assembled == []  # one plain line in ten: the query read the slice
    assert fast.rows.equals(reference.rows) and fast.rows.num_rows == 10
    monkeypatch.setattr(nf, "PLAIN_SHARE", 0.05)
    fast, reference = parse_both(table, threads=1)
    assert assembled == [10]
    assert fast.rows.equals(reference.rows)
