"""``feeds update`` against real local servers: an http.server with ETag/Last-Modified
handling written here, and a real TAXII 2.1 server (medallion, memory backend)."""

from __future__ import annotations

import json
import socket
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import stix2

from reconwatch.config import EnrichConfig, FeedConfig
from reconwatch.enrich.feeds import load_intel, update_feeds
from test_enrich_intel import stix_indicator, write_misp_feed


@dataclass
class Resource:
    body: bytes
    etag: str | None = None
    last_modified: str | None = None
    status: int = 200


@dataclass
class FeedServer:
    """What the test server serves, and every conditional header it was sent."""

    resources: dict[str, Resource] = field(default_factory=dict)
    requests: list[tuple[str, str | None, str | None]] = field(default_factory=list)
    port: int = 0

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"


@pytest.fixture
def feed_server() -> Iterator[FeedServer]:
    state = FeedServer()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            inm = self.headers.get("If-None-Match")
            ims = self.headers.get("If-Modified-Since")
            state.requests.append((self.path, inm, ims))
            res = state.resources.get(self.path)
            if res is None:
                self.send_error(404)
                return
            if res.status != 200:
                self.send_error(res.status)
                return
            fresh = (res.etag is not None and inm == res.etag) or (
                res.etag is None and res.last_modified is not None and ims == res.last_modified
            )
            if fresh:
                self.send_response(304)
                self.end_headers()
                return
            self.send_response(200)
            if res.etag:
                self.send_header("ETag", res.etag)
            if res.last_modified:
                self.send_header("Last-Modified", res.last_modified)
            self.send_header("Content-Length", str(len(res.body)))
            self.end_headers()
            self.wfile.write(res.body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()
    thread.join(5)


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_etag_and_last_modified_revalidation(feed_server: FeedServer, tmp_path: Path) -> None:
    feed_server.resources["/list.txt"] = Resource(b"198.51.100.23\n", etag='"v1"')
    feed_server.resources["/intel.csv"] = Resource(
        b"ip,actor\n203.0.113.5,Night Owl\n", last_modified="Mon, 28 Sep 2026 10:00:00 GMT"
    )
    config = EnrichConfig(
        cache_dir=tmp_path / "cache",
        feeds=[
            FeedConfig(name="list", type="plain", url=feed_server.url("/list.txt")),
            FeedConfig(name="csvfeed", type="csv", url=feed_server.url("/intel.csv")),
        ],
    )
    first = update_feeds(config)
    assert [(f.feed, f.status) for f in first.feeds] == [
        ("list", "updated"),
        ("csvfeed", "updated"),
    ]
    assert (tmp_path / "cache" / "list" / "feed.txt").read_bytes() == b"198.51.100.23\n"
    assert feed_server.requests == [("/list.txt", None, None), ("/intel.csv", None, None)]

    feed_server.requests.clear()
    second = update_feeds(config)
    assert [f.status for f in second.feeds] == ["not_modified", "not_modified"]
    assert feed_server.requests == [
        ("/list.txt", '"v1"', None),
        ("/intel.csv", None, "Mon, 28 Sep 2026 10:00:00 GMT"),
    ]
    assert (tmp_path / "cache" / "list" / "feed.txt").read_bytes() == b"198.51.100.23\n"

    feed_server.resources["/list.txt"] = Resource(b"198.51.100.99\n", etag='"v2"')
    third = update_feeds(config)
    assert [f.status for f in third.feeds] == ["updated", "not_modified"]
    assert (tmp_path / "cache" / "list" / "feed.txt").read_bytes() == b"198.51.100.99\n"
    meta = json.loads((tmp_path / "cache" / "list" / "_meta.json").read_text())
    assert meta["feed.txt"]["etag"] == '"v2"'
    # No temporary files are left behind by the atomic writes.
    assert sorted(p.name for p in (tmp_path / "cache" / "list").iterdir()) == [
        "_meta.json", "feed.txt",
    ]  # fmt: skip

    index = load_intel(config)
    hits = index.match_ips(["198.51.100.99", "203.0.113.5", "198.51.100.23"])
    assert [(r["ip"], r["feed"], r["actor"]) for r in hits.to_pylist()] == [
        ("198.51.100.99", "list", None),
        ("203.0.113.5", "csvfeed", "Night Owl"),
    ]


def test_errors_are_reported_per_feed_and_keep_the_cache(
    feed_server: FeedServer, tmp_path: Path
) -> None:
    feed_server.resources["/good.txt"] = Resource(b"192.0.2.1\n", etag='"g"')
    feed_server.resources["/flaky.txt"] = Resource(b"192.0.2.2\n", etag='"f"')
    config = EnrichConfig(
        cache_dir=tmp_path / "cache",
        feeds=[
            FeedConfig(name="flaky", type="plain", url=feed_server.url("/flaky.txt")),
            FeedConfig(name="gone", type="plain", url=feed_server.url("/missing.txt")),
            FeedConfig(name="down", type="plain", url=f"http://127.0.0.1:{_closed_port()}/x"),
            FeedConfig(name="good", type="plain", url=feed_server.url("/good.txt")),
        ],
    )
    assert [f.status for f in update_feeds(config).feeds] == [
        "updated", "error", "error", "updated",
    ]  # fmt: skip
    feed_server.resources["/flaky.txt"].status = 500
    report = update_feeds(config)
    assert not report.ok
    assert [(f.feed, f.status, f.error) for f in report.feeds[:2]] == [
        ("flaky", "error", "HTTP 500 Internal Server Error"),
        ("gone", "error", "HTTP 404 Not Found"),
    ]
    assert report.feeds[2].error is not None
    assert report.feeds[2].error.startswith("cannot reach the server")
    assert (report.feeds[3].feed, report.feeds[3].status) == ("good", "not_modified")
    # The failed refresh kept the earlier download.
    assert (tmp_path / "cache" / "flaky" / "feed.txt").read_bytes() == b"192.0.2.2\n"
    index = load_intel(config)
    assert index.indicators.column("indicator").to_pylist() == ["192.0.2.2", "192.0.2.1"]
    assert [r.errors for r in index.reports][1][0].endswith(
        "not found (run `reconwatch feeds update`?)"
    )


def test_misp_feed_over_http(feed_server: FeedServer, tmp_path: Path) -> None:
    source = tmp_path / "published"
    write_misp_feed(source)
    for path in source.iterdir():
        feed_server.resources[f"/misp/{path.name}"] = Resource(
            path.read_bytes(), etag=f'"{path.stem}"'
        )
    config = EnrichConfig(
        cache_dir=tmp_path / "cache",
        feeds=[FeedConfig(name="misp", type="misp", url=feed_server.url("/misp/"))],
    )
    first = update_feeds(config).feeds[0]
    assert (first.status, first.files) == ("updated", 4)
    assert update_feeds(config).feeds[0].status == "not_modified"
    hits = load_intel(config).match_ips(["192.0.2.10"])
    assert [(r["feed"], r["actor"]) for r in hits.to_pylist()] == [("misp", "Night Owl")]


def test_misp_manifest_with_a_path_in_an_event_id_is_refused(
    feed_server: FeedServer, tmp_path: Path
) -> None:
    feed_server.resources["/m/manifest.json"] = Resource(json.dumps({"../../etc": {}}).encode())
    config = EnrichConfig(
        cache_dir=tmp_path / "cache",
        feeds=[FeedConfig(name="m", type="misp", url=feed_server.url("/m"))],
    )
    result = update_feeds(config).feeds[0]
    assert result.status == "error"
    assert result.error == "FeedFormatError: manifest names an unusable event id '../../etc'"


# --------------------------------------------------------------------------- TAXII 2.1

COLLECTION_ID = "365fed99-08fa-fdcd-a1b3-fb247eb41d01"


@pytest.fixture(scope="module")
def taxii_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real medallion TAXII 2.1 server (memory backend) on a free local port."""
    from medallion import application_instance, register_blueprints, set_config
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, application_instance, threaded=True)
    port = server.server_port
    root = f"http://127.0.0.1:{port}"
    data = {
        "/discovery": {"title": "test", "api_roots": [f"{root}/api1/"]},
        "api1": {
            "information": {
                "title": "api1",
                "versions": ["application/taxii+json;version=2.1"],
                "max_content_length": 9765625,
            },
            "status": [],
            "collections": [
                {
                    "id": COLLECTION_ID,
                    "title": "intel",
                    "can_read": True,
                    "can_write": True,
                    "media_types": ["application/stix+json;version=2.1"],
                    "objects": [],
                    "manifest": [],
                }
            ],
        },
    }
    data_file = tmp_path_factory.mktemp("taxii") / "data.json"
    data_file.write_text(json.dumps(data), encoding="utf-8")
    config = {
        "users": {"reader": "s3cret"},
        # A small page forces the client through several pages.
        "taxii": {"max_page_size": 2},
        "backend": {
            "module": "medallion.backends.memory_backend",
            "module_class": "MemoryBackend",
            "filename": str(data_file),
        },
    }
    for section in ("users", "taxii", "backend"):
        set_config(application_instance, section, config)
    register_blueprints(application_instance)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"{root}/api1/collections/{COLLECTION_ID}/"
    server.shutdown()
    thread.join(5)


def test_taxii_collection_into_cache(
    taxii_server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from taxii2client.v21 import Collection

    actor = stix2.IntrusionSet(name="Quiet Cartographers")
    indicators = [stix_indicator(f"198.51.100.{i}") for i in (1, 2, 3)]
    rels = [stix2.Relationship(ind, "indicates", actor) for ind in indicators[:2]]
    bundle = stix2.Bundle(actor, *indicators, *rels, id=f"bundle--{uuid.uuid4()}")
    status = Collection(taxii_server, user="reader", password="s3cret").add_objects(
        bundle.serialize()
    )
    assert status.status == "complete"
    assert status.success_count == 6

    monkeypatch.setenv("RW_TEST_TAXII_PASSWORD", "s3cret")
    config = EnrichConfig(
        cache_dir=tmp_path / "cache",
        feeds=[
            FeedConfig(
                name="taxii", type="taxii", url=taxii_server,
                username="reader", password_env="RW_TEST_TAXII_PASSWORD",
            )
        ],
    )  # fmt: skip
    result = update_feeds(config).feeds[0]
    assert (result.status, result.error) == ("updated", None)
    cached = json.loads((tmp_path / "cache" / "taxii" / "bundle.json").read_text())
    assert len(cached["objects"]) == 6
    hits = load_intel(config).match_ips(["198.51.100.1", "198.51.100.3", "198.51.100.4"])
    assert [(r["ip"], r["actor"]) for r in hits.to_pylist()] == [
        ("198.51.100.1", "Quiet Cartographers"),
        ("198.51.100.3", None),
    ]

    monkeypatch.setenv("RW_TEST_TAXII_PASSWORD", "wrong")
    failed = update_feeds(config).feeds[0]
    assert failed.status == "error"
    assert failed.error is not None and "401" in failed.error
    # The earlier collection stays in the cache.
    assert (
        len(json.loads((tmp_path / "cache" / "taxii" / "bundle.json").read_text())["objects"]) == 6
    )


@pytest.fixture
def endless_taxii() -> Iterator[tuple[str, dict[str, bool]]]:
    """A TAXII 2.1 collection whose every page says there is more: a faulty or
    hostile server (medallion ends its pages, so it cannot play this part)."""
    behaviour = {"empty": False, "last": False}  # last: one page of three, the end
    indicator = json.loads(stix_indicator("198.51.100.7").serialize())
    media = "application/taxii+json;version=2.1"

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if "/objects/" in self.path and behaviour["last"]:
                body: dict[str, Any] = {"more": False, "objects": [indicator] * 3}
            elif "/objects/" in self.path:
                body = {
                    "more": True,
                    "next": str(uuid.uuid4()),
                    "objects": [] if behaviour["empty"] else [indicator],
                }
            else:
                body = {
                    "id": "c1", "title": "endless", "can_read": True, "can_write": False,
                    "media_types": ["application/stix+json;version=2.1"],
                }  # fmt: skip
            data = json.dumps(body).encode()
            self.send_response(200)
            self.send_header("Content-Type", media)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/api1/collections/c1/", behaviour
    server.shutdown()
    server.server_close()
    thread.join(5)


def test_a_taxii_server_that_never_ends_its_pages_is_refused(
    endless_taxii: tuple[str, dict[str, bool]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from reconwatch.enrich import feeds

    url, behaviour = endless_taxii
    monkeypatch.setattr(feeds, "MAX_TAXII_PAGES", 25)  # the real bound, reached sooner
    config = EnrichConfig(
        cache_dir=tmp_path / "cache", feeds=[FeedConfig(name="endless", type="taxii", url=url)]
    )
    result = update_feeds(config).feeds[0]
    assert result.status == "error"
    assert result.error is not None and "more than 25 pages" in result.error
    assert not (tmp_path / "cache" / "endless" / "bundle.json").exists()
    behaviour["empty"] = True
    empty = update_feeds(config).feeds[0]
    assert empty.status == "error"
    assert empty.error is not None and "page 1 says there is more but holds nothing" in empty.error


def test_a_taxii_last_page_past_the_object_bound_is_refused(
    endless_taxii: tuple[str, dict[str, bool]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The bound holds whatever page crosses it: the last one (no "more") too."""
    from reconwatch.enrich import feeds

    url, behaviour = endless_taxii
    behaviour["last"] = True
    config = EnrichConfig(
        cache_dir=tmp_path / "cache", feeds=[FeedConfig(name="big", type="taxii", url=url)]
    )
    monkeypatch.setattr(feeds, "MAX_TAXII_OBJECTS", 3)  # three: at the bound, taken
    assert update_feeds(config).feeds[0].status == "updated"
    monkeypatch.setattr(feeds, "MAX_TAXII_OBJECTS", 2)
    result = update_feeds(config).feeds[0]
    assert result.status == "error"
    assert result.error is not None and "2 objects" in result.error
