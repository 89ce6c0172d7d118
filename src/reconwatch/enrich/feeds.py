"""Feed downloads into a local cache (``feeds update``) and loading feeds for a hunt.

Only :func:`update_feeds` touches the network, and only when a person (or a
timer) runs ``reconwatch feeds update``. A hunt calls :func:`load_intel`,
which reads local feed files and the cache, never a URL.

Cache layout (``enrich.cache_dir``)::

    CACHE/<feed name>/feed.txt | feed.csv | bundle.json | manifest.json + <uuid>.json
    CACHE/<feed name>/_meta.json    ETag / Last-Modified / time of each cached file

Each download is conditional (``If-None-Match`` with the stored ETag,
``If-Modified-Since`` with the stored Last-Modified); a 304 keeps the cached
file. A new file is written to a temporary name and renamed over the old one,
so a hunt never reads half a feed. A feed that fails is reported with its
error and keeps its previous cache; the other feeds go on.
"""

from __future__ import annotations

import base64
import datetime as dt
import functools
import json
import os
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import pyarrow as pa

from reconwatch.config import EnrichConfig, FeedConfig
from reconwatch.enrich.intel import (
    MAX_FEED_BYTES,
    CsvColumns,
    FeedFormatError,
    IntelIndex,
    LoadReport,
    one_line,
    read_csv,
    read_misp,
    read_plain,
    read_stix_objects,
    to_indicators,
    untyped_import,
)
from reconwatch.files import write_atomic

META_FILE: Final = "_meta.json"
CACHE_FILES: Final = {
    "plain": "feed.txt",
    "csv": "feed.csv",
    "stix": "bundle.json",
    "taxii": "bundle.json",
    "misp": "manifest.json",
}
USER_AGENT: Final = "reconwatch-feeds/1"


@dataclass
class FeedUpdate:
    """What happened to one feed: ``updated``, ``not_modified``, ``local`` or ``error``."""

    feed: str
    status: str
    files: int = 0
    error: str | None = None


@dataclass
class UpdateReport:
    feeds: list[FeedUpdate] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(f.status != "error" for f in self.feeds)


def feed_dir(cache_dir: Path, feed: FeedConfig) -> Path:
    return cache_dir / feed.name


def update_feeds(config: EnrichConfig, cache_dir: Path | None = None) -> UpdateReport:
    """Download every feed that has a URL into the cache; errors reported per feed."""
    cache_dir = cache_dir or config.cache_dir
    report = UpdateReport()
    for feed in config.feeds:
        if feed.url is None:
            report.feeds.append(FeedUpdate(feed.name, "local"))
            continue
        target = feed_dir(cache_dir, feed)
        try:
            target.mkdir(parents=True, exist_ok=True)
            if feed.type == "taxii":
                report.feeds.append(_update_taxii(feed, target, config.timeout_seconds))
            elif feed.type == "misp":
                report.feeds.append(_update_misp(feed, target, config.timeout_seconds))
            else:
                changed = _fetch(
                    feed.url,
                    target,
                    CACHE_FILES[feed.type],
                    config.timeout_seconds,
                    _auth_header(feed),
                )
                status = "updated" if changed else "not_modified"
                report.feeds.append(FeedUpdate(feed.name, status, files=1))
        except (OSError, ValueError, FeedFormatError, urllib.error.URLError) as exc:
            report.feeds.append(FeedUpdate(feed.name, "error", error=_describe(exc)))
        except Exception as exc:  # a TAXII client error must not stop the other feeds
            report.feeds.append(FeedUpdate(feed.name, "error", error=_describe(exc)))
    return report


def _describe(exc: BaseException) -> str:
    if isinstance(exc, urllib.error.HTTPError):
        return f"HTTP {exc.code} {exc.reason}"
    if isinstance(exc, urllib.error.URLError):
        return f"cannot reach the server: {exc.reason}"
    return f"{type(exc).__name__}: {exc}"


def _fetch(
    url: str, directory: Path, name: str, timeout: float, headers: dict[str, str] | None = None
) -> bool:
    """Conditional GET of ``url`` into ``directory/name``; True when the file changed."""
    meta = _read_meta(directory)
    known = meta.get(name, {})
    request = urllib.request.Request(  # noqa: S310 (the scheme is checked by the config)
        url, headers={"User-Agent": USER_AGENT, **(headers or {})}
    )
    if (directory / name).exists():
        if known.get("etag"):
            request.add_header("If-None-Match", known["etag"])
        if known.get("last_modified"):
            request.add_header("If-Modified-Since", known["last_modified"])
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            # A download over MAX_FEED_BYTES (also the limit for reading a feed
            # file) is refused: no IP feed comes near it, and an unbounded read
            # would let a hostile server fill the disk.
            body = response.read(MAX_FEED_BYTES + 1)
            if len(body) > MAX_FEED_BYTES:
                raise ValueError(f"{url}: larger than {MAX_FEED_BYTES} bytes")
            etag = response.headers.get("ETag")
            modified = response.headers.get("Last-Modified")
    except urllib.error.HTTPError as exc:
        if exc.code == 304:
            return False
        raise
    write_atomic(directory / name, body, private=True)
    meta[name] = {
        "url": url,
        "etag": etag,
        "last_modified": modified,
        "fetched": dt.datetime.now(dt.UTC).isoformat(),
    }
    write_atomic(directory / META_FILE, json.dumps(meta, indent=2).encode(), private=True)
    return True


def _update_misp(feed: FeedConfig, target: Path, timeout: float) -> FeedUpdate:
    assert feed.url is not None
    base = feed.url.rstrip("/")
    if base.endswith("/manifest.json"):
        base = base[: -len("/manifest.json")]
    auth = _auth_header(feed)
    changed = _fetch(f"{base}/manifest.json", target, "manifest.json", timeout, auth)
    manifest = json.loads((target / "manifest.json").read_text(encoding="utf-8"))
    if not isinstance(manifest, dict):
        raise FeedFormatError("manifest.json is not an object of events")
    files = 1
    for event in sorted(manifest):
        name = "".join(c for c in event if c.isalnum() or c == "-")
        if not name or name != event:
            raise FeedFormatError(f"manifest names an unusable event id {event[:80]!r}")
        changed |= _fetch(f"{base}/{name}.json", target, f"{name}.json", timeout, auth)
        files += 1
    return FeedUpdate(feed.name, "updated" if changed else "not_modified", files=files)


#: A TAXII collection is read page by page until the server says it is done;
#: past these it is refused (two million indicators of a few hundred bytes
#: fill a bundle of ``MAX_FEED_BYTES``).
MAX_TAXII_PAGES: Final = 5_000
MAX_TAXII_OBJECTS: Final = 2_000_000


def _update_taxii(feed: FeedConfig, target: Path, timeout: float) -> FeedUpdate:
    """Every object of a TAXII 2.1 collection, page by page, into one STIX bundle."""
    taxii = untyped_import("taxii2client.v21")
    common = untyped_import("taxii2client.common")
    # taxii2-client has no timeout option; its connection wraps a requests
    # Session, whose request method takes one. Without it a stalled server
    # would hang `feeds update` forever.
    conn = common._HTTPConnection(feed.username, _password(feed), version="2.1")
    conn.session.request = functools.partial(conn.session.request, timeout=timeout)
    Collection, as_pages = taxii.Collection, taxii.as_pages
    assert feed.url is not None
    collection = Collection(feed.url, conn=conn)
    objects: list[dict[str, Any]] = []
    for page, envelope in enumerate(as_pages(collection.get_objects, per_request=1000), 1):
        batch = envelope.get("objects", []) if isinstance(envelope, dict) else None
        if not isinstance(batch, list):
            raise FeedFormatError(f"{feed.url}: page {page} is not a TAXII envelope of objects")
        objects.extend(batch)
        more = bool(envelope.get("more", False))
        # The server says when to stop: one that always has "more" (a fault or
        # a hostile server) would keep this loop and its memory growing for ever.
        if more and not batch:
            raise FeedFormatError(f"{feed.url}: page {page} says there is more but holds nothing")
        # Past the object bound on any page, the last too; at a bound with
        # more to come, past it on the next.
        if len(objects) > MAX_TAXII_OBJECTS or (
            more and (page >= MAX_TAXII_PAGES or len(objects) >= MAX_TAXII_OBJECTS)
        ):
            raise FeedFormatError(
                f"{feed.url}: more than {MAX_TAXII_PAGES:,} pages or "
                f"{MAX_TAXII_OBJECTS:,} objects; refused (no IP feed comes near it)"
            )
    bundle = {"type": "bundle", "id": f"bundle--{uuid.uuid4()}", "objects": objects}
    write_atomic(target / CACHE_FILES["taxii"], json.dumps(bundle).encode(), private=True)
    meta = _read_meta(target)
    meta[CACHE_FILES["taxii"]] = {
        "url": feed.url,
        "objects": len(objects),
        "fetched": dt.datetime.now(dt.UTC).isoformat(),
    }
    write_atomic(target / META_FILE, json.dumps(meta, indent=2).encode(), private=True)
    return FeedUpdate(feed.name, "updated", files=1)


def _password(feed: FeedConfig) -> str | None:
    if feed.password_env is None:
        return None
    value = os.environ.get(feed.password_env)
    if value is None:
        raise ValueError(f"environment variable {feed.password_env} (password_env) is not set")
    return value


def _auth_header(feed: FeedConfig) -> dict[str, str]:
    if feed.username is None:
        return {}
    token = base64.b64encode(f"{feed.username}:{_password(feed) or ''}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


def _read_meta(directory: Path) -> dict[str, dict[str, Any]]:
    try:
        data = json.loads((directory / META_FILE).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return {}
    return data if isinstance(data, dict) else {}


# --------------------------------------------------------------------------- loading


def feed_source(feed: FeedConfig, cache_dir: Path) -> Path:
    """The local file (or MISP folder) a hunt reads for ``feed``."""
    if feed.path is not None:
        return feed.path
    directory = feed_dir(cache_dir, feed)
    return directory if feed.type == "misp" else directory / CACHE_FILES[feed.type]


def read_feed(feed: FeedConfig, source: Path) -> tuple[pa.Table, list[str]]:
    """The raw table of one feed's local content, plus non-fatal errors."""
    if feed.type == "plain":
        raw = read_plain(source)
    elif feed.type == "csv":
        c = feed.csv
        raw = read_csv(
            source,
            CsvColumns(
                c.ip, c.actor, c.confidence, c.first_seen, c.last_seen, c.tags,
                c.delimiter, c.tags_separator,
            ),
        )  # fmt: skip
    elif feed.type in ("stix", "taxii"):
        raw, errors = read_stix_objects(source)
        return _with_actor(feed, raw), errors
    else:
        return read_misp(source)
    return _with_actor(feed, raw), []


def _with_actor(feed: FeedConfig, raw: pa.Table) -> pa.Table:
    """The feed's configured ``actor`` where an indicator names none."""
    if feed.actor is not None:
        actors = raw.column("actor").fill_null(feed.actor)
        raw = raw.set_column(raw.schema.get_field_index("actor"), "actor", actors)
    return raw


def load_intel(
    config: EnrichConfig, cache_dir: Path | None = None, now: dt.datetime | None = None
) -> IntelIndex:
    """Every configured feed from local files and the cache (no network).

    A feed that cannot be read (never downloaded, corrupt) is reported in its
    :class:`LoadReport` and contributes nothing; the hunt goes on. Indicators
    are judged valid or expired at ``now`` (default: the current time).
    """
    cache_dir = cache_dir or config.cache_dir
    tables, reports = [], []
    for feed in config.feeds:
        report = LoadReport(feed.name)
        reports.append(report)
        source = feed_source(feed, cache_dir)
        if not source.exists():
            report.errors.append(f"{source}: not found (run `reconwatch feeds update`?)")
            continue
        try:
            raw, errors = read_feed(feed, source)
        except FeedFormatError as exc:
            report.errors.append(str(exc))
            continue
        except (ValueError, TypeError, AttributeError, RecursionError) as exc:
            # Feed content is untrusted: a shape no reader foresaw is this
            # feed's problem, reported in one line, never the hunt's traceback.
            report.errors.append(
                f"{source}: cannot be read: {one_line(f'{type(exc).__name__}: {exc}')}"
            )
            continue
        report.errors.extend(errors)
        report.loaded = True
        tables.append(
            to_indicators(
                raw, feed.name, report, config.min_prefix_ipv4, config.min_prefix_ipv6, now
            )
        )
    return IntelIndex.from_tables(tables, reports)
