"""BIND 9 query and security lines carrying a ``view NAME:`` part (issue #3).

With views configured (``view "internal" { ... };`` in named.conf) BIND writes
the view between the client and the message: ``client @0x.. ADDR#PORT (NAME):
view VIEW: query: ...``. The parser reads the address, name and type around it
and keeps nothing of the view itself (the dns table has no column for it).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from ingest_helpers import make, parse, rejects, rows
from reconwatch.ingest.dns_bind import NOT_BIND, BindParser

UTC = dt.UTC
KEYS = (
    "log_line", "timestamp", "source_ip", "source_port", "destination_ip", "destination_port",
    "dns_question_name", "dns_question_type", "dns_question_class", "dns_response_code",
    "event_action", "observer_name",
)  # fmt: skip
STAMP = "28-Nov-2026 04:00:00.250"
T = dt.datetime(2026, 11, 28, 4, 0, 0, 250000, tzinfo=UTC)


def brief(lines: list[str]) -> list[tuple[Any, ...]]:
    parsed = parse(make(BindParser), lines)
    assert rejects(parsed) == []
    return [tuple(r[k] for k in KEYS) for r in rows(parsed.rows, "dns")]


def test_query_lines_with_views() -> None:
    lines = [
        f"{STAMP} queries: info: client @0x7f3a2c0 192.0.2.1#53211 (www.example.com): "
        "view internal: query: www.example.com IN A +E(0)K (198.51.100.53)",
        f"{STAMP} client @0x7f3a2c0 2001:db8::7#40000 (Mail.Example.org): view external-v6: "
        "query: Mail.Example.org IN AAAA -EDC (2001:db8::53)",
        # The view BIND makes when none is configured, and a dotted view name.
        f"{STAMP} client 192.0.2.2#1053 (version.bind): view _bind: query: version.bind CH TXT "
        "+ (198.51.100.53)",
        f"{STAMP} client 192.0.2.3#1054 (a.example.net): view corp.lan: query: a.example.net "
        "IN MX + (198.51.100.53)",
        # BIND before 9.11: no object address and no (name) part.
        f"{STAMP} client 192.0.2.4#1055: view internal: query: b.example.net IN NS + "
        "(198.51.100.53)",
        # Inside a syslog envelope (its year: the latest not after NOW, 2026-10-05).
        "Sep 30 04:00:00 ns1 named[812]: client @0x7f 192.0.2.5#1056 (c.example.net): "
        "view internal: query: c.example.net IN SRV + (198.51.100.53)",
    ]
    assert brief(lines) == [
        (1, T, "192.0.2.1", 53211, "198.51.100.53", 53, "www.example.com", "A", "IN", None,
         "allowed", None),
        (2, T, "2001:db8::7", 40000, "2001:db8::53", 53, "mail.example.org", "AAAA", "IN", None,
         "allowed", None),
        (3, T, "192.0.2.2", 1053, "198.51.100.53", 53, "version.bind", "TXT", "CH", None,
         "allowed", None),
        (4, T, "192.0.2.3", 1054, "198.51.100.53", 53, "a.example.net", "MX", "IN", None,
         "allowed", None),
        (5, T, "192.0.2.4", 1055, "198.51.100.53", 53, "b.example.net", "NS", "IN", None,
         "allowed", None),
        (6, dt.datetime(2026, 9, 30, 4, 0, tzinfo=UTC), "192.0.2.5", 1056, "198.51.100.53", 53,
         "c.example.net", "SRV", "IN", None, "allowed", "ns1"),
    ]  # fmt: skip


def test_security_and_transfer_lines_with_views() -> None:
    lines = [
        f"{STAMP} security: info: client @0x7f65 192.0.2.6#3076 (example.com): view external: "
        "query (cache) 'example.com/ANY/IN' denied",
        f"{STAMP} security: error: client @0x7fb0 2001:db8::9#62449 (example.com): "
        "view external: zone transfer 'example.com/AXFR/IN' denied",
        f"{STAMP} xfer-out: info: client @0x7fa0 192.0.2.7#40001 (example.com): view internal: "
        "bad zone transfer request: 'example.com/IN': non-authoritative zone (NOTAUTH)",
        f"{STAMP} xfer-out: info: client @0x7fa0 192.0.2.8#40002 (example.com): view internal: "
        "transfer of 'example.com/IN': AXFR started (serial 2026112801)",
    ]
    assert brief(lines) == [
        (1, T, "192.0.2.6", 3076, None, None, "example.com", "ANY", "IN", None, "denied", None),
        (2, T, "2001:db8::9", 62449, None, None, "example.com", "AXFR", "IN", None, "denied",
         None),
        # BIND does not say AXFR or IXFR here: XFR, a transfer of either kind.
        (3, T, "192.0.2.7", 40001, None, None, "example.com", "XFR", "IN", "NOTAUTH", "rejected",
         None),
        (4, T, "192.0.2.8", 40002, None, None, "example.com", "AXFR", "IN", None, "allowed",
         None),
    ]  # fmt: skip


def test_the_view_name_is_not_kept() -> None:
    """Nothing of the view lands in a row: no column holds its name."""
    line = (
        f"{STAMP} client @0x1 192.0.2.1#53211 (www.example.com): view zz-secret-view: "
        "query: www.example.com IN A + (198.51.100.53)"
    )
    parsed = parse(make(BindParser), [line])
    (row,) = rows(parsed.rows, "dns")
    assert "zz-secret-view" not in repr(row)
    # The same query without a view gives the same row.
    plain = line.replace("view zz-secret-view: ", "")
    assert rows(parse(make(BindParser), [plain]).rows, "dns") == [row]


def test_a_view_that_names_no_query_is_rejected() -> None:
    lines = [
        f"{STAMP} client @0x1 192.0.2.1#53211 (www.example.com): view internal: "
        "something else entirely",
        f"{STAMP} client @0x1 192.0.2.1#53211 (www.example.com): view internal:",
    ]
    parsed = parse(make(BindParser), lines)
    assert parsed.rows.num_rows == 0
    assert rejects(parsed) == [(1, NOT_BIND), (2, NOT_BIND)]
