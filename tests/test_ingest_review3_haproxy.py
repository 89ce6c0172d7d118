"""Review 3: HAProxy's request line has no backslash escapes (it writes ``"``
as ``#22`` and non-printables as ``#XX``); a backslash is a byte of the request."""

from __future__ import annotations

from ingest_helpers import make, parse, rejects, rows
from reconwatch.ingest.web_haproxy import HaproxyParser

HEAD = (
    "Feb  6 12:14:14 lb1 haproxy[14389]: 10.0.1.2:33317 [06/Feb/2009:12:14:14.655] "
    "http-in static/srv1 10/0/30/69/109 404 2750 - - ---- 1/1/1/1/0 0/0 "
)


def _read(request_field: str) -> tuple[list[dict[str, object]], list[tuple[int, str]]]:
    parsed = parse(make(HaproxyParser), [HEAD + request_field])
    return rows(parsed.rows, "http"), rejects(parsed)


def test_haproxy_request_ending_in_backslash_is_read() -> None:
    # HAProxy writes the byte as is: the old Apache-style pattern took \" for an
    # escaped quote, found no closing one, and rejected the line.
    out, bad = _read('"GET /cgi-bin/a\\"')
    assert bad == []
    assert [(r["http_request_method"], r["url_path"]) for r in out] == [("GET", "/cgi-bin/a\\")]


def test_haproxy_backslashes_kept_as_logged() -> None:
    out, _ = _read('"GET /a\\\\b\\c?x=\\\\ HTTP/1.1"')
    assert [(r["url_path"], r["url_query"], r["http_version"]) for r in out] == [
        ("/a\\\\b\\c", "x=\\\\", "HTTP/1.1")
    ]


def test_haproxy_hash_codes_kept_as_logged() -> None:
    out, _ = _read('"GET /a#22b#23c HTTP/1.1"')
    assert [r["url_path"] for r in out] == ["/a#22b#23c"]


def test_haproxy_quotes_escaped_by_a_relay() -> None:
    # HAProxy's doc (8.6): some syslog daemons write its quotes as \".
    out, bad = _read('{1wt.eu} \\"GET /index.html HTTP/1.1\\"')
    assert bad == []
    assert [(r["http_request_method"], r["url_path"], r["http_version"]) for r in out] == [
        ("GET", "/index.html", "HTTP/1.1")
    ]
