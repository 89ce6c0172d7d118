"""Property tests on mutated real-format lines (issue #3).

Random text rarely gets past a parser's format checks, so these tests start from
real lines (the fixtures and the shared samples the format tests use) and break
them the way transport, truncation and hostile clients do: characters or byte
ranges deleted, inserted or replaced, fields swapped, lines cut, separators
doubled, quotes and control characters inserted, numbers out of range or form,
very long fields. Whatever comes in, a parser must not raise, must account for
every line (parsed, rejected with a reason, or skipped) and must only emit rows
of valid types.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ingest_helpers import make, parse, rows
from reconwatch.config import Config, IngestConfig
from reconwatch.ingest import mapping
from reconwatch.ingest.auth_openvpn import OpenVpnParser
from reconwatch.ingest.auth_sshd import SshdParser
from reconwatch.ingest.base import Parsed, Parser
from reconwatch.ingest.fw_vpcflow import VpcFlowParser
from reconwatch.ingest.honeypot_cowrie import CowrieJsonParser, CowrieTextParser
from reconwatch.ingest.honeypot_opencanary import OpenCanaryParser
from reconwatch.ingest.linesql import INVALID_TIMESTAMP
from reconwatch.ingest.mapping import MappingParser
from reconwatch.ingest.web_alb import AlbParser
from reconwatch.ingest.web_haproxy import HaproxyParser
from reconwatch.ingest.web_iis import IisParser
from reconwatch.ingest.web_json import NginxJsonParser

TESTS = Path(__file__).parent
FIXTURES = TESTS / "fixtures"
HUB = ("formats", "crowdsec-hub")

# Characters a mutation inserts: separators, quotes, brackets, escapes and
# control characters (never a line break: lines arrive already split).
HOSTILE_CHARS = (
    " \t,;:|\"'\\/[]{}()<>=-+.%#@*?&\x00\x01\x07\x08\x0b\x0c\x1b\x7f\x85\u2028\ufeff\ufffd"
)
FILLER = st.text(
    st.sampled_from(HOSTILE_CHARS) | st.characters(codec="utf-8", exclude_characters="\n\r"),
    min_size=1,
    max_size=12,
)
# Up to 60,000 characters a time: two long mutations in one CSV header field
# would pass Python's csv field limit (131,072), a known bug of the mapping
# parser tested on its own below (test_mapping_csv_header_past_csv_field_limit).
LONG_SIZES = st.sampled_from([256, 4_096, 60_000])
ODD_NUMBERS = st.sampled_from(
    ["0", "-1", "00", "255", "256", "65535", "65536", "99999", "2147483648", "9" * 25, "1e5",
     "0x1F", "1.5", "+1", "٣"]
) | st.integers(-(10**20), 10**20).map(str)  # fmt: skip


@dataclass(frozen=True)
class Case:
    """A parser, how to build it, where its real lines come from and their separators."""

    name: str
    parser: type[Parser]
    seeds: Callable[[Path], list[str]]
    separators: str = " "
    config: Callable[[], Config] = Config


def _fixture(*parts: str) -> Callable[[Path], list[str]]:
    return lambda _shared: (FIXTURES.joinpath(*parts)).read_text().splitlines()


def _shared(*parts: str) -> Callable[[Path], list[str]]:
    return lambda shared: shared.joinpath(*HUB, *parts).read_text().splitlines()


def _both(*sources: Callable[[Path], list[str]]) -> Callable[[Path], list[str]]:
    return lambda shared: [line for source in sources for line in source(shared)]


def _mapping_config(name: str) -> Callable[[], Config]:
    path = FIXTURES / "mapping" / name
    return lambda: Config(ingest=IngestConfig(mappings=[str(path)]))


CASES = [
    Case("nginx-json", NginxJsonParser, _fixture("web", "nginx.json"), ',:" '),
    Case("iis", IisParser, _fixture("web", "iis.log")),
    Case(
        "aws-alb",
        AlbParser,
        _shared("aws-alb-http-bad-user-agent", "aws-alb-http-bad-user-agent.log"),
        ' ":',
    ),
    Case("haproxy", HaproxyParser, _fixture("web", "haproxy.log"), " :/[]"),
    Case(
        "sshd",
        SshdParser,
        _both(
            _shared("sshd-success-logs", "sshd-success-logs.log"),
            _shared("sshd-invalid-bf", "sshd-invalid-bf.log"),
            _shared("opnsense-sshd", "opnsense-sshd.log"),
        ),
    ),
    Case("openvpn", OpenVpnParser, _fixture("auth", "openvpn.log"), " :/[]"),
    Case("cowrie-text", CowrieTextParser, _shared("cowrie-logs", "cowrie-logs.log"), " :()[]"),
    Case("opencanary", OpenCanaryParser, _fixture("honeypot", "opencanary.json"), ',:" '),
    Case(
        "mapping-csv",
        MappingParser,
        _fixture("mapping", "vpn.csv"),
        ',"',
        _mapping_config("vpn.yaml"),
    ),
    Case(
        "mapping-json",
        MappingParser,
        _fixture("mapping", "edr.jsonl"),
        ',:" ',
        _mapping_config("edr.yaml"),
    ),
]


@pytest.fixture(autouse=True)
def _no_active_mappings() -> Iterator[None]:
    """Mapping sniffing state is module-wide: leave it as found."""
    yield
    mapping.activate(Config())


# -- mutations -----------------------------------------------------------------------


@st.composite
def _mutate(draw: st.DrawFn, line: str, separators: str) -> str:
    """``line`` with one random mutation applied."""
    size = len(line)
    at = draw(st.integers(0, size))
    end = draw(st.integers(at, min(size, at + 40)))
    kind = draw(
        st.sampled_from(
            [
                "delete",
                "insert",
                "replace",
                "bytes",
                "swap",
                "truncate",
                "separator",
                "quote",
                "long",
                "number",
            ]
        )
    )
    if kind == "delete":
        return line[:at] + line[end:]
    if kind == "insert":
        return line[:at] + draw(FILLER) + line[at:]
    if kind == "replace":
        return line[:at] + draw(FILLER) + line[end:]
    if kind == "bytes":
        # Work on the UTF-8 bytes: a cut through a multi-byte character, or raw
        # bytes, decode to U+FFFD as the ingest decoder does.
        data = line.encode()
        start = draw(st.integers(0, len(data)))
        stop = draw(st.integers(start, min(len(data), start + 16)))
        junk = draw(st.binary(max_size=8))
        return (data[:start] + junk + data[stop:]).decode(errors="replace")
    if kind == "swap":
        sep = draw(st.sampled_from(separators))
        fields = line.split(sep)
        if len(fields) < 2:
            return line
        i = draw(st.integers(0, len(fields) - 1))
        j = draw(st.integers(0, len(fields) - 1))
        fields[i], fields[j] = fields[j], fields[i]
        return sep.join(fields)
    if kind == "truncate":
        return line[:at]
    if kind == "separator":
        sep = draw(st.sampled_from(separators))
        count = line.count(sep)
        if not count:
            return line + sep * 2
        which = draw(st.integers(0, count - 1))
        parts = line.split(sep)
        times = draw(st.integers(2, 5))
        return sep.join(parts[: which + 1]) + sep * times + sep.join(parts[which + 1 :])
    if kind == "quote":
        quote = draw(st.sampled_from(['"', "'", '\\"', "\\", '""', "\x00", "\x1b[31m"]))
        return line[:at] + quote + line[at:]
    if kind == "number":
        # A number (port, status, size, octet, stamp part) out of its range or form.
        runs = [m.span() for m in re.finditer(r"\d+", line)]
        if not runs:
            return line
        start, stop = draw(st.sampled_from(runs))
        return line[:start] + draw(ODD_NUMBERS) + line[stop:]
    # "long": a very long field in place of (or inside) an existing one.
    return line[:at] + draw(st.sampled_from('Aa9 .:%"')) * draw(LONG_SIZES) + line[end:]


@st.composite
def mutated(draw: st.DrawFn, seeds: list[str], separators: str) -> list[str]:
    """The seed lines in order, a few of them mutated (some several times), some
    duplicated or dropped."""
    lines = list(seeds)
    for _ in range(draw(st.integers(1, 6))):
        i = draw(st.integers(0, len(lines) - 1))
        lines[i] = draw(_mutate(lines[i], separators))
    if draw(st.booleans()):
        i = draw(st.integers(0, len(lines) - 1))
        lines.insert(i, lines[i])
    if len(lines) > 1 and draw(st.booleans()):
        del lines[draw(st.integers(0, len(lines) - 1))]
    return lines


# -- checks --------------------------------------------------------------------------

PORTS = ("source_port", "destination_port")
#: Python's datetime range in epoch microseconds (0001-01-01 to 9999-12-31).
MIN_US = -62_135_596_800_000_000
MAX_US = 253_402_300_799_999_999


def _in_python_range(stamps: pa.ChunkedArray) -> pa.ChunkedArray:
    micros = pc.cast(pc.cast(stamps, pa.timestamp("us", tz="UTC")), pa.int64())
    return pc.and_(pc.greater_equal(micros, MIN_US), pc.less_equal(micros, MAX_US))


def _valid_ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def check(parser: type[Parser], parsed: Parsed, lines: list[str]) -> None:
    """Every reject has a reason; every row has valid types; no line counted twice."""
    numbers = set(range(1, len(lines) + 1))
    reasons = parsed.rejects.column("reason").to_pylist()
    assert all(isinstance(r, str) and r.strip() for r in reasons), reasons
    seen = parsed.rejects.column("log_line").to_pylist()
    tables: dict[str, pa.Table] = {parser.table: parsed.rows, **parsed.other_tables}
    for name, data in tables.items():
        if not data.num_rows:
            continue
        assert data.column("timestamp").null_count == 0, name
        # Years 1-9999 only (ingest's reject_impossible_times; see the test below).
        assert pc.all(_in_python_range(data.column("timestamp"))).as_py(), name
        out = rows(data, name)  # conforming casts safely: a bad type raises here
        for row in out:
            seen.append(row["log_line"])
            assert row["timestamp"] is not None, row
            assert row["source_ip"] is not None and _valid_ip(row["source_ip"]), row
            if row.get("destination_ip") is not None:
                assert _valid_ip(row["destination_ip"]), row
            for port in PORTS:
                if row.get(port) is not None:
                    assert 0 <= row[port] <= 65535, row
            status = row.get("http_response_status_code")
            if status is not None:
                assert 0 <= status <= 999, row
            if row.get("http_response_bytes") is not None:
                assert row["http_response_bytes"] >= 0, row
    assert set(seen) <= numbers, seen
    assert len(seen) == len(set(seen)), f"a line landed twice: {sorted(seen)}"


# -- tests ---------------------------------------------------------------------------


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_seed_lines_parse(case: Case, shared_data: Path) -> None:
    """The unmutated seeds give rows: the mutations start from lines that get through."""
    seeds = case.seeds(shared_data)
    parsed = parse(make(case.parser, case.config()), seeds)
    assert parsed.row_count > 0
    check(case.parser, parsed, seeds)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(data=st.data())
def test_mutated_lines_are_accounted_and_typed(
    case: Case, shared_data: Path, data: st.DataObject
) -> None:
    lines = data.draw(mutated(case.seeds(shared_data), case.separators), label="lines")
    parsed = parse(make(case.parser, case.config()), lines)
    check(case.parser, parsed, lines)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
@settings(
    max_examples=10,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(data=st.data())
def test_mutated_lines_across_batches(case: Case, shared_data: Path, data: st.DataObject) -> None:
    """State carried between batches (IIS #Fields, CSV headers) survives mutated lines."""
    lines = data.draw(mutated(case.seeds(shared_data), case.separators), label="lines")
    cut = data.draw(st.integers(0, len(lines)), label="cut")
    parser = make(case.parser, case.config())
    for first, part in ((1, lines[:cut]), (cut + 1, lines[cut:])):
        if not part:
            continue
        parsed = parse(parser, part, first=first)
        numbers = list(range(first, first + len(part)))
        check(case.parser, parsed, [""] * (first - 1) + part)
        assert all(n in numbers for n in parsed.rejects.column("log_line").to_pylist())


# -- found by the mutations ------------------------------------------------------------

VPC_HEADER = (
    "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes "
    "start end action log-status"
)
IIS_HEADER = "#Fields: date time c-ip cs-method cs-uri-stem sc-status"


def _vpc(start: str) -> list[str]:
    return [VPC_HEADER, f"2 1 eni-1 192.0.2.1 192.0.2.2 1 2 6 1 1 {start} 1 ACCEPT OK"]


@pytest.mark.parametrize(
    ("parser", "lines", "config"),
    [
        pytest.param(VpcFlowParser, _vpc("99999999999999"), Config, id="vpcflow-epoch"),
        pytest.param(
            MappingParser,
            ['{"ts": 100000000000000000, "remote": {"ip": "192.0.2.1"}, "local_ip": "10.0.0.1"}'],
            _mapping_config("edr.yaml"),
            id="mapping-epoch-ms",
        ),
    ],
)
def test_epochs_past_duckdb_range_are_rejected_not_raised(
    parser: type[Parser], lines: list[str], config: Callable[[], Config]
) -> None:
    """``to_timestamp`` raises past DuckDB's range: one such line used to fail the
    whole batch (a ConversionException out of ``parse``)."""
    parsed = parse(make(parser, config()), lines)
    assert parsed.row_count == 0
    assert parsed.rejects.column("reason").to_pylist() == [INVALID_TIMESTAMP]


# Real lines with a year Python's datetime cannot hold (0 or 10000): DuckDB and
# Arrow store them, so they become rows (and lake partitions such as
# ``event_date=0000-09-30``) that break every Python reader (``to_pylist``
# raises OverflowError). Expected: rejected as ``invalid timestamp``.
OUT_OF_RANGE_YEARS = [
    ("nginx-json", NginxJsonParser,
     ['{"time_local":"30/Sep/0000:12:00:00 +0200","remote_addr":"198.51.100.7",'
      '"request":"GET / HTTP/1.1","status":"404"}'], Config),
    ("iis", IisParser,
     [IIS_HEADER, "10000-09-30 10:00:00 198.51.100.7 GET / 200"], Config),
    ("aws-alb", AlbParser,
     ['https 0000-04-26T12:23:00.186641Z app/x/1 192.168.1.100:44740 10.0.0.1:80 0.086 0.048 '
      '0.037 200 200 0 57 "GET https://www.example.com:443/ HTTP/1.1" "curl/7.46.0" - - '
      'arn:x "Root=1" "-" "-" 1 2018-07-02T22:22:48.364000Z "forward" "-" "-" "10.0.0.1:80" '
      '"200" "-" "-"'], Config),
    ("haproxy", HaproxyParser,
     ["Feb  6 12:14:14 lb1 haproxy[14389]: 10.0.1.2:33317 [06/Feb/0000:12:14:14.655] http-in "
      'static/srv1 10/0/30/69/109 200 2750 - - ---- 1/1/1/1/0 0/0 "GET / HTTP/1.1"'], Config),
    ("sshd-rfc5424", SshdParser,
     ['<38>1 0000-01-19T14:23:55+00:00 h sshd 44255 - [meta sequenceId="1"] Invalid user '
      "tutu from 1.2.3.4 port 33166"], Config),
    ("openvpn", OpenVpnParser,
     ["0000-09-30 12:00:00 192.0.2.1:51234 [alice] Peer Connection Initiated with "
      "[AF_INET]192.0.2.1:51234"], Config),
    ("cowrie-text", CowrieTextParser,
     ["0000-12-08T06:28:43+0000 [cowrie.ssh.factory.CowrieSSHFactory] New connection: "
      "4.2.3.1:47630 (1.2.3.4:2222) [session: 3e5a9212b91f]"], Config),
    ("cowrie", CowrieJsonParser,
     ['{"eventid": "cowrie.session.connect", "src_ip": "192.0.2.1", '
      '"timestamp": "0000-09-30T10:00:00Z"}'], Config),
    ("opencanary", OpenCanaryParser,
     ['{"dst_host": "10.0.0.5", "dst_port": 21, "logdata": {}, "logtype": 5001, '
      '"node_id": "c", "src_host": "192.0.2.7", "src_port": 1, '
      '"utc_time": "10000-09-30 10:00:02.000000"}'], Config),
    ("mapping-csv", MappingParser,
     ["Time,User,Client IP,Port,Result,Comment",
      "30/09/0000 12:00:00,alice,198.51.100.7,51000,success,"], _mapping_config("vpn.yaml")),
    ("aws-vpcflow", VpcFlowParser, _vpc("253402300800"), Config),
]  # fmt: skip


@pytest.mark.parametrize(
    ("parser", "lines", "config"),
    [pytest.param(p, lines, c, id=name) for name, p, lines, c in OUT_OF_RANGE_YEARS],
)
def test_years_python_cannot_hold_are_rejected(
    parser: type[Parser], lines: list[str], config: Callable[[], Config]
) -> None:
    parsed = parse(make(parser, config()), lines)
    for data in (parsed.rows, *parsed.other_tables.values()):
        if data.num_rows:
            assert pc.all(_in_python_range(data.column("timestamp"))).as_py()
    assert INVALID_TIMESTAMP in parsed.rejects.column("reason").to_pylist()


def test_mapping_csv_header_past_csv_field_limit() -> None:
    """A first line with one field past 131,072 characters (``--format mapping``
    forced: sniffing swallows the error and just declines the file)."""
    lines = [
        "A" * 140_000 + "Time,User,Client IP,Port,Result,Comment",
        "30/09/2026 12:00:00,alice,198.51.100.7,51000,success,",
    ]
    parsed = parse(make(MappingParser, _mapping_config("vpn.yaml")()), lines)
    assert parsed.row_count == 0
    assert parsed.rejects.num_rows == 2
