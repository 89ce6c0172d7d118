"""The compiled netfilter field scanner against its specification, the query's regexes.

``_nffields.c`` must capture exactly what DuckDB's RE2 captures with
``ADDRESSES``, ``TTL_ID``, ``PROTO_PORTS`` and ``WINDOW_FLAGS``; and the parser
must give the same rows and rejects whichever of the two cuts the fields.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reconwatch.config import Config
from reconwatch.generate import write_netfilter_lines
from reconwatch.ingest import netfilter as nf
from reconwatch.ingest.base import ParseContext, Parsed
from reconwatch.ingest.sources import read_batches

NOW = dt.datetime(2026, 10, 5, 12, 0, tzinfo=dt.UTC)


def test_the_compiled_scanner_is_built() -> None:
    # setup.py builds it wherever a C compiler is (CI installs gcc): without it
    # every other test here would compare the regexes with themselves.
    assert nf.compiled is not None
    assert nf.NetfilterParser(ParseContext(Config(), duckdb.connect(), "x", NOW)).compiled


def regex_fields(lines: list[str]) -> dict[str, list[str]]:
    """The eight texts as DuckDB's regexes capture them (the specification)."""
    con = duckdb.connect()
    con.register("batch_lines", pa.table({"line": pa.array(lines, pa.string())}))
    rows = con.execute(
        """
        SELECT addr.src, addr.dst, ttl_id.ttl, ttl_id.id, pp.proto, pp.spt, pp.dpt,
               regexp_extract(line, $window)
        FROM (
            SELECT line,
                   regexp_extract(line, $addresses, ['src', 'dst']) AS addr,
                   regexp_extract(line, $ttl_id, ['ttl', 'id']) AS ttl_id,
                   regexp_extract(line, $proto_ports, ['proto', 'spt', 'dpt']) AS pp
            FROM batch_lines
        )
        """,
        {
            "addresses": nf.ADDRESSES,
            "ttl_id": nf.TTL_ID,
            "proto_ports": nf.PROTO_PORTS,
            "window": nf.WINDOW_FLAGS,
        },
    ).fetchall()
    columns = list(zip(*rows, strict=True)) if rows else [()] * len(nf.FIELD_NAMES)
    return {name: list(values) for name, values in zip(nf.FIELD_NAMES, columns, strict=True)}


def compiled_fields(lines: list[str]) -> dict[str, list[str]]:
    table = nf.with_compiled_fields(pa.table({"line": pa.array(lines, pa.string())}))
    return {name: table.column(name).to_pylist() for name in nf.FIELD_NAMES}


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
    # Tabs and other RE2 spaces end a value; other Unicode spaces do not.
    " SRC=1.2.3.4\tDST=5.6.7.8 DST=9.9.9.9",
    " SRC=1.2.3.4 DST=5.6.7.8\r",
    " SRC=a\u00a0b DST=c\u2003d e",
    " SRC=\u00e9\u00e9 DST=\U0001f600 PROTO=\u0661 TTL=\u0661",
    "SRC=1.2.3.4 DST=5.6.7.8 PROTO=TCP",  # no space before: no match
    "\x00 SRC=\x00 DST=\x00",
]


def test_edge_cases_capture_what_the_regexes_capture() -> None:
    assert compiled_fields(EDGE_CASES) == regex_fields(EDGE_CASES)


KEYS = [" SRC=", " DST=", " TTL=", " HOPLIMIT=", " ID=", " PROTO=", " SPT=", " DPT=", " WINDOW="]
PIECES = st.one_of(
    st.sampled_from([*KEYS, " RES=0x", "0a", "ZZ", " ", "\t", "\r", "=", "TCP", "SYN", "12", "0"]),
    st.text(alphabet="0123456789abcdefABCDEF:. x", max_size=6),
    st.text(max_size=4),
)
LINES = st.lists(st.lists(PIECES, max_size=24).map("".join), min_size=1, max_size=40)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(LINES)
def test_any_text_captures_what_the_regexes_capture(lines: list[str]) -> None:
    assert compiled_fields(lines) == regex_fields(lines)


def test_a_slice_of_an_array_is_scanned_from_its_own_offset() -> None:
    table = pa.table({"line": pa.array(EDGE_CASES, pa.string())})
    part = table.slice(3, 9)
    assert part.column("line").chunk(0).offset == 3
    got = nf.with_compiled_fields(part)
    want = regex_fields(EDGE_CASES[3:12])
    assert {name: got.column(name).to_pylist() for name in nf.FIELD_NAMES} == want
    # Several chunks, and large_string lines, are read the same way.
    chunked = pa.table(
        {"line": pa.chunked_array([EDGE_CASES[:5], EDGE_CASES[5:]], pa.large_string())}
    )
    got = nf.with_compiled_fields(chunked)
    assert {name: got.column(name).to_pylist() for name in nf.FIELD_NAMES} == regex_fields(
        EDGE_CASES
    )


def test_offsets_outside_the_data_are_refused_not_read() -> None:
    assert nf.compiled is not None
    offsets = pa.array([0, 4, 400], pa.int32()).buffers()[1]
    with pytest.raises(ValueError, match="outside the data buffer"):
        nf.compiled.scan(offsets, b"abcd", 0, 2)
    with pytest.raises(ValueError, match="do not cover"):
        nf.compiled.scan(offsets, b"abcd", 1, 5)
    with pytest.raises(ValueError, match="do not cover"):
        nf.compiled.scan(offsets, b"abcd", -1, 1)


def parse_both(lines: pa.Table, threads: int = 2) -> tuple[Parsed, Parsed]:
    results = []
    for compiled in (True, False):
        con = duckdb.connect()
        con.execute(f"SET threads = {threads}")
        parser = nf.NetfilterParser(ParseContext(Config(), con, "test.log", NOW))
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
