"""The client behind trusted proxies, read from X-Forwarded-For (``ingest.forwarded``).

The proxy is 10.0.0.10 (in ``trusted_proxies`` 10.0.0.0/28, with a second tier
10.0.0.2); the real clients are documentation addresses.
"""

from __future__ import annotations

import ipaddress
import json
import re
from pathlib import Path

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ingest_helpers import NOW, make, parse, rows
from reconwatch.config import Config, ConfigError, IngestConfig, load_config
from reconwatch.ingest.addresses import in_networks, ipv4_numbers
from reconwatch.ingest.base import FORWARDED, Parser
from reconwatch.ingest.forwarded import MAX_HOPS, forwarded_rows
from reconwatch.ingest.run import IngestOptions, ingest
from reconwatch.ingest.web_clf import ClfParser
from reconwatch.ingest.web_iis import IisParser
from reconwatch.ingest.web_json import NginxJsonParser
from reconwatch.lake import Lake
from reconwatch.netaddr import IPAddress, IPNetwork, in_any, parse_ip, parse_networks

PROXY = "10.0.0.10"
TRUSTED = ["10.0.0.0/28", "2001:db8:ffff::/48"]
TRUSTING = Config(ingest=IngestConfig(trusted_proxies=TRUSTED))


def main_line(peer: str, xff: str, path: str = "/", agent: str = "curl/8.0") -> str:
    """A line of nginx's stock ``main`` log_format."""
    return (
        f'{peer} - - [30/Sep/2026:10:00:00 +0000] "GET {path} HTTP/1.1" 404 153 "-" '
        f'"{agent}" "{xff}"'
    )


def clients(parser: type[Parser], lines: list[str], config: Config = TRUSTING) -> list[object]:
    """Source addresses as the framework writes them (the parser, then ``forwarded_rows``)."""
    parsed = parse(make(parser, config), lines)
    out = forwarded_rows(parsed.rows, config.ingest.trusted_proxies).rows
    assert FORWARDED not in out.column_names
    return [r["source_ip"] for r in rows(out, "http")]


# -- clf: nginx ``main`` -------------------------------------------------------------


@pytest.mark.parametrize(
    ("xff", "client"),
    [
        ("203.0.113.9", "203.0.113.9"),
        # Chained: the second tier of our proxies appended its peer.
        ("203.0.113.9, 10.0.0.2", "203.0.113.9"),
        ("203.0.113.9,10.0.0.2 ,  10.0.0.3", "203.0.113.9"),
        # The middle hop is not ours: it is the client we can vouch for, and
        # what it says it received from (192.0.2.1) is its own claim.
        ("192.0.2.1, 198.51.100.7, 10.0.0.2", "198.51.100.7"),
        # A scanner prepending a victim's address to its own request.
        ("192.0.2.200, 198.51.100.7", "198.51.100.7"),
        # IPv6, bracketed, with ports, mapped, upper-case.
        ("2001:DB8::7", "2001:db8::7"),
        ("[2001:db8::7]:51234", "2001:db8::7"),
        ("[2001:db8::7]", "2001:db8::7"),
        ("203.0.113.9:5678", "203.0.113.9"),
        ("::ffff:203.0.113.9", "203.0.113.9"),
        ("2001:db8::7, 2001:db8:ffff::1", "2001:db8::7"),
        # Not an address where the walk stops: the proxy stays the source.
        ("-", PROXY),
        ("", PROXY),
        ("unknown", PROXY),
        ("203.0.113.9, unknown", PROXY),
        ("<script>", PROXY),
        ("203.0.113.9:99999", PROXY),
        ("fe80::1%eth0", PROXY),
        ("_hidden, 10.0.0.2", PROXY),
        (", ,", PROXY),
        # Every entry is one of our proxies.
        ("10.0.0.2, 10.0.0.3", PROXY),
    ],
)
def test_clf_main_behind_a_trusted_proxy(xff: str, client: str) -> None:
    assert clients(ClfParser, [main_line(PROXY, xff)]) == [client]


def test_the_port_of_an_entry_is_the_source_port_else_none() -> None:
    parsed = parse(
        make(ClfParser, TRUSTING),
        [
            main_line(PROXY, "[2001:db8::7]:51234"),
            main_line(PROXY, "203.0.113.9"),
            main_line(PROXY, "unknown"),
        ],
    )
    out = rows(forwarded_rows(parsed.rows, TRUSTED).rows, "http")
    assert [(r["source_ip"], r["source_port"]) for r in out] == [
        ("2001:db8::7", 51234),
        ("203.0.113.9", None),
        (PROXY, None),
    ]


def test_an_untrusted_peer_keeps_its_address_whatever_it_forwards() -> None:
    lines = [
        main_line("198.51.100.7", "192.0.2.200"),
        main_line("198.51.100.7", "192.0.2.200, 10.0.0.2"),
        main_line("10.0.0.16", "192.0.2.200"),  # just outside 10.0.0.0/28
        main_line("2001:db8::5", "192.0.2.200"),
    ]
    assert clients(ClfParser, lines) == ["198.51.100.7", "198.51.100.7", "10.0.0.16", "2001:db8::5"]


def test_a_trusted_ipv6_peer() -> None:
    assert clients(ClfParser, [main_line("2001:db8:ffff::2", "203.0.113.9")]) == ["203.0.113.9"]


def test_by_default_the_header_is_never_read() -> None:
    lines = [main_line(PROXY, "203.0.113.9"), main_line("198.51.100.7", "192.0.2.1")]
    assert Config().ingest.trusted_proxies == []
    assert clients(ClfParser, lines, Config()) == [PROXY, "198.51.100.7"]


def test_clf_reads_the_first_quoted_field_after_the_agent_only() -> None:
    lines = [
        # combined: no header.
        main_line(PROXY, "x").rsplit(' "x"', 1)[0],
        # a recipe with more fields after it.
        main_line(PROXY, "203.0.113.9") + ' "www.example.org" 0.003',
        # an unquoted field after the agent is not read.
        main_line(PROXY, "x").rsplit(' "x"', 1)[0] + " 203.0.113.9",
        # Apache's escapes inside the field.
        main_line(PROXY, '203.0.113.9, \\"10.0.0.2'),
    ]
    assert clients(ClfParser, lines) == [PROXY, "203.0.113.9", PROXY, PROXY]
    # The other columns are read as before (the agent is not swallowed).
    parsed = parse(make(ClfParser, TRUSTING), lines[1:2])
    assert rows(parsed.rows, "http")[0]["user_agent_original"] == "curl/8.0"


def test_more_than_max_hops_of_trusted_entries_keep_the_proxy() -> None:
    chain = ", ".join(["203.0.113.9", *["10.0.0.2"] * MAX_HOPS])
    shorter = ", ".join(["203.0.113.9", *["10.0.0.2"] * (MAX_HOPS - 1)])
    assert clients(ClfParser, [main_line(PROXY, chain), main_line(PROXY, shorter)]) == [
        PROXY,
        "203.0.113.9",
    ]


# -- nginx JSON and IIS --------------------------------------------------------------


def json_line(peer: str, **more: str) -> str:
    return json.dumps(
        {
            "time_iso8601": "2026-09-30T10:00:00+00:00",
            "remote_addr": peer,
            "remote_port": "40000",
            "request": "GET /.env HTTP/1.1",
            "status": "404",
            **more,
        }
    )


def test_nginx_json_reads_http_x_forwarded_for() -> None:
    lines = [
        json_line(PROXY, http_x_forwarded_for="203.0.113.9, 10.0.0.2"),
        json_line(PROXY, http_x_forwarded_for=""),
        json_line(PROXY),
        json_line("198.51.100.7", http_x_forwarded_for="192.0.2.200"),
        json_line(PROXY, x_forwarded_for="2001:db8::7"),
    ]
    assert clients(NginxJsonParser, lines) == [
        "203.0.113.9",
        PROXY,
        PROXY,
        "198.51.100.7",
        "2001:db8::7",
    ]
    parsed = parse(make(NginxJsonParser, TRUSTING), lines[:2])
    out = rows(forwarded_rows(parsed.rows, TRUSTED).rows, "http")
    # The logged port was the proxy's connection: gone with its address.
    assert [r["source_port"] for r in out] == [None, 40000]
    assert clients(NginxJsonParser, lines, Config()) == [PROXY, PROXY, PROXY, "198.51.100.7", PROXY]


def test_nginx_json_forwarded_keys_come_from_config() -> None:
    config = Config(
        ingest=IngestConfig(trusted_proxies=TRUSTED, nginx_json_fields={"forwarded_for": ["xff"]})
    )
    lines = [
        json_line(PROXY, xff="203.0.113.9"),
        json_line(PROXY, http_x_forwarded_for="203.0.113.9"),
    ]
    assert clients(NginxJsonParser, lines, config) == ["203.0.113.9", PROXY]


IIS_HEAD = [
    "#Software: Microsoft Internet Information Services 10.0",
    "#Version: 1.0",
    "#Fields: date time s-ip cs-method cs-uri-stem c-ip sc-status X-Forwarded-For",
]


def test_iis_custom_field_x_forwarded_for() -> None:
    lines = [
        *IIS_HEAD,
        f"2026-09-30 10:00:00 10.0.0.5 GET /a {PROXY} 404 203.0.113.9,+10.0.0.2",
        f"2026-09-30 10:00:01 10.0.0.5 GET /b {PROXY} 404 -",
        "2026-09-30 10:00:02 10.0.0.5 GET /c 198.51.100.7 404 192.0.2.200",
        # The header changes: W3C's request-header syntax, another case, another place.
        "#Fields: date time cs(x-forwarded-for) s-ip cs-method cs-uri-stem c-ip sc-status",
        f"2026-09-30 10:00:03 [2001:db8::7]:443 10.0.0.5 GET /d {PROXY} 404",
        # And without it.
        "#Fields: date time s-ip cs-method cs-uri-stem c-ip sc-status",
        f"2026-09-30 10:00:04 10.0.0.5 GET /e {PROXY} 404",
    ]
    assert clients(IisParser, lines) == ["203.0.113.9", PROXY, "198.51.100.7", "2001:db8::7", PROXY]


# -- the framework: accounting, lake, hunt --------------------------------------------


def test_ingest_counts_the_clients_read_from_the_header(tmp_path: Path) -> None:
    log = tmp_path / "access.log"
    log.write_text(
        "\n".join(
            [
                main_line(PROXY, "203.0.113.9"),
                main_line(PROXY, "203.0.113.9, 10.0.0.2"),
                main_line(PROXY, "-"),
                main_line("198.51.100.7", "192.0.2.200"),
            ]
        )
        + "\n"
    )
    run = ingest([str(log)], Lake(tmp_path / "lake"), TRUSTING, IngestOptions(now=NOW))
    (stats,) = run.files
    assert (stats.format, stats.lines, stats.parsed, stats.forwarded) == ("clf", 4, 4, 2)
    assert run.totals.forwarded == 2
    assert run.to_json()["files"][0]["forwarded"] == 2
    table = Lake(tmp_path / "lake").read("http").sort_by("log_line")
    assert table.column("source_ip").to_pylist() == [
        "203.0.113.9",
        "203.0.113.9",
        PROXY,
        "198.51.100.7",
    ]
    assert FORWARDED not in table.column_names

    default = ingest([str(log)], Lake(tmp_path / "lake2"), Config(), IngestOptions(now=NOW))
    assert default.files[0].forwarded == 0
    plain = Lake(tmp_path / "lake2").read("http").sort_by("log_line")
    assert plain.column("source_ip").to_pylist() == [PROXY, PROXY, PROXY, "198.51.100.7"]


SCANNERS = ["198.51.100.7", "203.0.113.66", "2001:db8:5::9"]
BROWSERS = ["192.0.2.20", "192.0.2.21"]
CDN = "192.0.2.250"  # the site's CDN edge: a public address, as CloudFront's are


def proxied_site_log() -> str:
    """Scanners (wordlists, a scanner user agent) and browsers, all reaching
    the server through one CDN edge; and a direct client forging its header."""
    lines = []
    second = 0
    for n, scanner in enumerate(SCANNERS):
        for i in range(40):
            stamp = f"30/Sep/2026:10:{n * 5 + i // 60:02d}:{i % 60:02d} +0000"
            lines.append(
                f'{CDN} - - [{stamp}] "GET /probe{i}/admin.php HTTP/1.1" 404 153 "-" '
                f'"Mozilla/5.0 (compatible; Nmap Scripting Engine)" "{scanner}, 10.0.0.2"'
            )
    for browser in BROWSERS:
        for page in ("/", "/about", "/contact"):
            second += 1
            lines.append(
                f'{CDN} - - [30/Sep/2026:11:00:{second:02d} +0000] "GET {page} HTTP/1.1" 200 '
                f'512 "-" "Mozilla/5.0 (X11; Linux x86_64) Firefox/120.0" "{browser}"'
            )
    return "\n".join(lines) + "\n"


def test_hunt_names_the_scanners_behind_a_cdn_never_the_cdn(tmp_path: Path) -> None:
    from reconwatch.hunt import hunt

    log = tmp_path / "access.log"
    log.write_text(proxied_site_log())
    config = Config(ingest=IngestConfig(trusted_proxies=[CDN, "10.0.0.0/28"]))
    out = tmp_path / "out"
    result = hunt([str(log)], config, out_dir=out, options=IngestOptions(now=NOW))
    assert result.run is not None and result.run.totals.forwarded == 40 * 3 + 6
    flagged = {source for case in result.cases for source in case.sources}
    assert flagged == set(SCANNERS)
    said = "clients of 126 requests read from X-Forwarded-For behind trusted proxies"
    assert said in (out / "report.md").read_text()
    assert said in (out / "report.html").read_text()

    # Without the list: one source, the CDN, blamed for everyone.
    blind = hunt([str(log)], Config(), options=IngestOptions(now=NOW))
    assert {source for case in blind.cases for source in case.sources} == {CDN}


def test_the_sites_proxies_are_never_blocked(tmp_path: Path) -> None:
    """A scan through the CDN without a header to read keeps the CDN's address
    (public, not a home network): its case must not block the site's own edge."""
    from reconwatch.hunt import hunt

    log = tmp_path / "access.log"
    log.write_text(proxied_site_log().replace(", 10.0.0.2", "").replace('"198.51.100.7"', '"-"'))
    config = Config.model_validate(
        {
            "ingest": {"trusted_proxies": [CDN, "10.0.0.0/28"]},
            "respond": {"block_dispositions": ["malicious", "suspicious"]},
        }
    )
    result = hunt([str(log)], config, options=IngestOptions(now=NOW))
    flagged = {source for case in result.cases for source in case.sources}
    assert CDN in flagged  # the scanner whose header said nothing
    assert CDN not in {str(entry.network.network_address) for entry in result.plan.entries}
    refused = {r.address: r.why for r in result.plan.refused}
    assert refused[CDN] == f"protected: overlaps trusted proxy {CDN}/32"


# -- config -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "ranges",
    [
        ["0.0.0.0/0"],
        ["::/0"],
        ["10.0.0.0/28", "0.0.0.0/0"],
        ["0.0.0.0/7"],
        ["2000::/15"],
        ["::ffff:0.0.0.0/96"],  # every IPv4 address, mapped
        [f"{i}.0.0.0/8" for i in range(256)],
    ],
)
def test_config_refuses_trusting_everyone(ranges: list[str]) -> None:
    with pytest.raises(ValueError, match="X-Forwarded-For"):
        IngestConfig(trusted_proxies=ranges)


def test_config_load_names_the_key_on_one_line(tmp_path: Path) -> None:
    path = tmp_path / "reconwatch.yaml"
    path.write_text("ingest:\n  trusted_proxies: [10.0.0.0/8, 0.0.0.0/0]\n")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    message = str(caught.value)
    assert "ingest.trusted_proxies" in message and "0.0.0.0/0" in message
    assert "\n" not in message


def test_config_takes_proxies_and_cdn_ranges(tmp_path: Path) -> None:
    path = tmp_path / "reconwatch.yaml"
    path.write_text(
        "ingest:\n  trusted_proxies: [10.0.0.0/8, 173.245.48.0/20, 2400:cb00::/32, 192.0.2.7]\n"
    )
    assert load_config(path).ingest.trusted_proxies[-1] == "192.0.2.7"
    with pytest.raises(ValueError, match="host bits"):
        IngestConfig(trusted_proxies=["10.0.0.1/24"])


def test_entries_a_client_forged_left_of_itself_are_never_read(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Each of them cost ``ipaddress`` in Python (36 s per 100,000 requests with
    31 random IPv6 entries): the walk reads an entry only while the row is
    still walking, and stops at the first that is no trusted proxy."""
    import reconwatch.ingest.forwarded as fwd

    normalised: list[int] = []
    real = fwd.normalise_ips

    def counted(values: pa.Array) -> pa.Array:
        normalised.append(len(values))
        return real(values)

    monkeypatch.setattr(fwd, "normalise_ips", counted)
    forged = ", ".join(f"2001:db8:{n:x}::1" for n in range(MAX_HOPS - 1))
    headers = [f"{forged}, 203.0.113.{n}, {PROXY}" for n in range(50)]
    table = pa.table({"source_ip": [PROXY] * 50, FORWARDED: headers})
    result = forwarded_rows(table, TRUSTED)
    assert result.rows.column("source_ip").to_pylist() == [f"203.0.113.{n}" for n in range(50)]
    assert sum(normalised) == 2 * 50  # the proxy's entry, then the client's


def test_headers_from_trusted_proxies_that_name_no_client_are_counted_and_noted(
    tmp_path: Path,
) -> None:
    """A recipe that logs something else where the header should be would
    leave every scanner behind the proxy's address, which containment never
    blocks: the count says so in the accounting."""
    from reconwatch.report.markdown import render_report

    log = tmp_path / "access.log"
    lines = [main_line(PROXY, "unknown"), main_line(PROXY, "www.example.com"),
             main_line(PROXY, "203.0.113.9"), main_line("198.51.100.7", "unknown")]  # fmt: skip
    log.write_text("\n".join(lines) + "\n")
    run = ingest([str(log)], Lake(tmp_path / "lake"), TRUSTING, IngestOptions(now=NOW))
    (stats,) = run.files
    assert (stats.parsed, stats.forwarded, stats.forwarded_unread) == (4, 1, 2)
    assert run.totals.forwarded_unread == 2
    assert run.to_json()["files"][0]["forwarded_unread"] == 2
    said = (
        "clients of 1 requests read from X-Forwarded-For behind trusted proxies; "
        "2 requests from trusted proxies with no client in X-Forwarded-For"
    )
    assert said in render_report([], run, 0, 0)


# -- range membership and properties ----------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(st.lists(st.ip_addresses(), min_size=1, max_size=20))
def test_address_numbers_are_the_addresses_numbers(addresses: list[IPAddress]) -> None:
    canonical = [parse_ip(str(a)) for a in addresses]  # mapped IPv4 unwrapped, as at ingest
    v4 = [a for a in canonical if isinstance(a, ipaddress.IPv4Address)]
    if v4:
        assert ipv4_numbers(pa.array([str(a) for a in v4])).tolist() == [int(a) for a in v4]


def test_text_that_is_no_address_is_in_no_range() -> None:
    texts = ["1::2::3", "12345::", "1:2:3:4:5:6:7", "x", "", "fe80::1%eth0", None]
    networks = parse_networks(["::/1", "8000::/1", "0.0.0.0/1"])
    assert in_networks(pa.array(texts, pa.string()), networks).to_pylist() == [False] * len(texts)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.ip_addresses(), min_size=1, max_size=10),
    st.lists(
        st.tuples(st.ip_addresses(), st.integers(0, 128)).map(
            lambda t: ipaddress.ip_network((t[0], min(t[1], t[0].max_prefixlen)), strict=False)
        ),
        min_size=1,
        max_size=4,
    ),
)
def test_in_networks_agrees_with_ipaddress(
    addresses: list[IPAddress], networks: list[IPNetwork]
) -> None:
    canonical = [parse_ip(str(a)) for a in addresses]
    parsed = parse_networks([str(n) for n in networks])
    got = in_networks(pa.array([str(a) for a in canonical]), parsed).to_pylist()
    assert got == [in_any(a, parsed) for a in canonical]


def _host_and_port(text: str) -> tuple[str, int | None]:
    """An entry's host and port as the module doc says them, written apart
    from its pattern: ``[v6]``, ``[v6]:port``, ``a.b.c.d:port``, else whole."""
    if text.startswith("[") and "]" in text:
        inner, rest = text[1:].split("]", 1)
        if rest == "":
            return inner, None
        if rest.startswith(":") and re.fullmatch("[0-9]{1,5}", rest[1:]):
            return inner, int(rest[1:])
        return text, None
    head, colon, tail = text.rpartition(":")
    quad = re.fullmatch(r"[0-9]{1,3}(?:\.[0-9]{1,3}){3}", head)
    if colon and quad and re.fullmatch("[0-9]{1,5}", tail):
        return head, int(tail)
    return text, None


def _reference_walk(header: str) -> tuple[str | None, int | None]:
    """The client and port a header names behind ``TRUSTED``, one entry at a
    time from the right (``MAX_HOPS`` at most); (None, None): none."""
    networks = parse_networks(TRUSTED)
    for entry in reversed(header.split(",")[-MAX_HOPS:]):
        host, port = _host_and_port(entry.strip())
        try:
            address = parse_ip(host) if host and (port is None or port <= 65535) else None
        except ValueError:
            address = None
        if address is None:
            return None, None  # no address: the walk stops, the client is not known
        if not in_any(address, networks):
            return str(address), port
    return None, None


ENTRY = st.one_of(
    st.sampled_from(
        [
            "203.0.113.9", "10.0.0.2", "10.0.0.10", "198.51.100.7:443", "[2001:db8::7]:80",
            "[2001:db8:ffff::1]", "2001:db8:ffff::9", "::ffff:192.0.2.1", "unknown", "-", "",
            " ", "[", "]:", "1.2.3.4:", "999.1.1.1", "fe80::1%eth0", "_hidden",
        ]
    ),
    st.ip_addresses().map(str),
    st.text(max_size=12),
)  # fmt: skip


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    peers=st.lists(
        st.sampled_from([PROXY, "10.0.0.2", "198.51.100.7", "2001:db8:ffff::2"]),
        min_size=1,
        max_size=6,
    ),
    headers=st.lists(
        st.none() | st.lists(ENTRY, max_size=6).map(", ".join) | st.text(max_size=40),
        min_size=6,
        max_size=6,
    ),
)
def test_random_headers_give_the_rightmost_untrusted_entry_and_its_port(
    peers: list[str], headers: list[str | None]
) -> None:
    """Against a walk written apart: the client is the rightmost entry that is
    not a trusted proxy (never one forged further left), with its own port;
    a peer that is not a trusted proxy, and a header naming no client, keep
    the row as it was."""
    headers = headers[: len(peers)]
    table = pa.table(
        {"source_ip": pa.array(peers, pa.string()), FORWARDED: pa.array(headers, pa.string())}
    )
    result = forwarded_rows(table, TRUSTED)
    got = list(
        zip(
            result.rows.column("source_ip").to_pylist(),
            result.rows.column("source_port").to_pylist()
            if "source_port" in result.rows.column_names
            else [None] * len(peers),
            strict=True,
        )
    )
    expected, read = [], 0
    for peer, header in zip(peers, headers, strict=True):
        behind = in_any(parse_ip(peer), parse_networks(TRUSTED)) and header not in (None, "", "-")
        client, port = _reference_walk(header or "") if behind else (None, None)
        expected.append((client, port) if client is not None else (peer, None))
        read += client is not None
    assert got == expected
    assert result.read == read
    assert (
        result.unread
        == sum(
            in_any(parse_ip(peer), parse_networks(TRUSTED)) and header not in (None, "", "-")
            for peer, header in zip(peers, headers, strict=True)
        )
        - read
    )
    assert FORWARDED not in result.rows.column_names


def test_a_failure_reading_the_header_keeps_the_rows_and_says_so_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A bug in the header's reading (its text is the client's) must neither
    stop the run nor lose a request: each row keeps its peer's address, as
    when the header names no client, and the input's note says so once."""
    import reconwatch.ingest.run as run_module

    def failing(rows: pa.Table, trusted: object) -> object:
        raise RuntimeError(f"cannot read {rows.column(FORWARDED)[0]}")

    monkeypatch.setattr(run_module, "forwarded_rows", failing)
    log = tmp_path / "access.log"
    lines = [main_line(PROXY, f"203.0.113.{n % 250 + 1}") for n in range(2000)]
    log.write_text("\n".join(lines) + "\n")
    # Small batches: the failure repeats in each, the note does not.
    options = IngestOptions(now=NOW, block_bytes=16 << 10)
    run = ingest([str(log)], Lake(tmp_path / "lake"), TRUSTING, options)
    (stats,) = run.files
    assert (stats.lines, stats.parsed, stats.rejected, stats.forwarded) == (2000, 2000, 0, 0)
    assert stats.error is None
    assert stats.note == (
        "X-Forwarded-For not read (a reconwatch error, see the log) from line 1 on: "
        "those rows keep the proxy's address"
    )
    table = Lake(tmp_path / "lake").read("http")
    assert table.column("source_ip").to_pylist() == [PROXY] * 2000
    assert FORWARDED not in table.column_names
    warnings = [
        r.getMessage() for r in caplog.records if "X-Forwarded-For not read" in r.getMessage()
    ]
    assert len(warnings) > 1 and "RuntimeError" in warnings[0]
    # The exception quoted the header (the client's text): never shown.
    assert not any("203.0.113" in w for w in warnings)
