"""Threat intelligence: feed readers, one indicator table, and matching sources to it.

Every reader turns its format into the same *raw* table (:data:`RAW`: the
value text and what the feed says about it); :func:`to_indicators` parses the
values (once per distinct value) into integer ranges and refuses what must not
be an indicator; :class:`IntelIndex` holds the indicators of every feed ready
for the range join of :mod:`reconwatch.enrich.ranges`.

Formats
-------
* plain: one address or CIDR per line; ``#`` and ``;`` start comments (whole
  line or after the value), blank lines are skipped. Spamhaus DROP style
  ``1.2.3.0/24 ; SBL123`` reads.
* csv: a header row with named columns (names configurable); only the ip
  column is required; tags are split on a separator.
* stix: a STIX 2.1 bundle read with ``stix2``, each object validated on its
  own (an invalid one is skipped and counted); only the latest version of
  an object counts and revoked objects say nothing. Indicators whose pattern
  is one or more ``ipv4-addr:value`` / ``ipv6-addr:value`` comparisons
  (``= '...'``, ``ISSUBSET '...'``, ``IN (...)``; values may be CIDRs) joined
  by OR are read. A pattern with AND, NOT, another object type or another
  operator is not an address list and is skipped (counted). An indicator
  outside its ``valid_from`` .. ``valid_until`` window is refused as
  ``expired`` / ``not_yet_valid``. The actor is the threat-actor /
  intrusion-set / campaign the indicator ``indicates`` (relationship
  objects), and for a campaign also what it is ``attributed-to``.
* misp: a MISP feed folder (``manifest.json`` + one ``<uuid>.json`` per
  event); attributes of type ip-src, ip-dst, ip-src|port, ip-dst|port, in the
  event and in its objects. The actor is the event's threat-actor galaxy
  cluster (or ``misp-galaxy:threat-actor="..."`` tag), else the event info.

Absurdly wide indicators
------------------------
An indicator wider than ``min_prefix_ipv4`` (default /8) or
``min_prefix_ipv6`` (default /16) is refused and counted as ``too_wide``:
a /0 or a /4 in a feed is a mistake (or a poisoned feed) and would flag every
source as a known threat actor. Private, loopback and other reserved
addresses are kept (internal intel is legitimate).
"""

from __future__ import annotations

import csv
import datetime as dt
import importlib
import io
import ipaddress
import json
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import ibis.expr.types as ir
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from reconwatch.enrich.ranges import (
    RangeTable,
    build_ranges,
    match,
    split128,
)
from reconwatch.netaddr import IPNetwork, unmapped

TIMESTAMP: Final = pa.timestamp("us", tz="UTC")
#: A feed file larger than this is refused (see feeds.MAX_FEED_BYTES for downloads).
MAX_FEED_BYTES: Final = 512 * 1024 * 1024
#: The widest prefix allowed by default, per IP version: for indicators (the
#: ``enrich.min_prefix_ipv4`` / ``_ipv6`` defaults), and always for warninglist
#: entries and an exercise's testers (see :func:`too_wide`).
MIN_PREFIX: Final = {4: 8, 6: 16}

#: What a reader produces: one row per indicator value as the feed wrote it.
RAW: Final = pa.schema(
    [
        pa.field("value", pa.string()),
        pa.field("actor", pa.string()),
        pa.field("confidence", pa.int16()),
        pa.field("tags", pa.list_(pa.string())),
        pa.field("first_seen", TIMESTAMP),
        pa.field("last_seen", TIMESTAMP),
        # Where the indicator comes from inside the feed: file:line, a STIX
        # indicator id, a MISP event uuid: the evidence an analyst can open.
        pa.field("reference", pa.string()),
        # The window in which the feed says the indicator holds (STIX
        # valid_from / valid_until); null when the format has none. Outside
        # it the indicator is refused (expired / not_yet_valid).
        pa.field("valid_from", TIMESTAMP),
        pa.field("valid_until", TIMESTAMP),
    ]
)

#: The indicator table: range bounds (see ranges.RANGE_COLUMNS) then attributes.
INDICATORS: Final = pa.schema(
    [
        pa.field("family", pa.int8()),
        pa.field("start_hi", pa.int64()),
        pa.field("start_lo", pa.int64()),
        pa.field("end_hi", pa.int64()),
        pa.field("end_lo", pa.int64()),
        # The value in canonical CIDR (or address) form.
        pa.field("indicator", pa.string()),
        pa.field("feed", pa.string()),
        pa.field("actor", pa.string()),
        pa.field("confidence", pa.int16()),
        pa.field("tags", pa.list_(pa.string())),
        pa.field("first_seen", TIMESTAMP),
        pa.field("last_seen", TIMESTAMP),
        pa.field("reference", pa.string()),
    ]
)

#: Columns of a match: the source address then everything known about the indicator.
MATCH_COLUMNS: Final = (
    "ip",
    "indicator",
    "feed",
    "actor",
    "confidence",
    "tags",
    "first_seen",
    "last_seen",
    "reference",
)

#: A quoted constant of a STIX pattern (quotes inside are escaped with a backslash).
_STRING_CONSTANT: Final = re.compile(r"'(?:[^'\\]|\\.)*'")
_NOT_KEYWORD: Final = re.compile(r"\bNOT\b")

MISP_IP_TYPES: Final = frozenset({"ip-src", "ip-dst", "ip-src|port", "ip-dst|port"})
STIX_ACTOR_TYPES: Final = frozenset({"threat-actor", "intrusion-set", "campaign"})


class FeedFormatError(Exception):
    """A feed file that cannot be read at all; the message names the file."""


@dataclass
class LoadReport:
    """How one feed's content was accounted for: indicators kept, values refused by reason."""

    feed: str
    indicators: int = 0
    refused: dict[str, int] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    #: Whether the feed's content was read at all: a feed never downloaded or
    #: unreadable contributes nothing, and triage must say it was not checked.
    loaded: bool = False

    def refuse(self, reason: str, count: int = 1) -> None:
        self.refused[reason] = self.refused.get(reason, 0) + count


def raw_table(rows: Iterable[Mapping[str, Any]]) -> pa.Table:
    """A :data:`RAW` table from dict rows (missing keys are null)."""
    rows = list(rows)
    return pa.Table.from_pylist([{k: r.get(k) for k in RAW.names} for r in rows], schema=RAW)


# --------------------------------------------------------------------------- readers


def _strip_comment(line: str) -> str:
    for mark in ("#", ";"):
        cut = line.find(mark)
        if cut >= 0:
            line = line[:cut]
    return line.strip()


def read_plain(path: Path) -> pa.Table:
    """One address or CIDR per line, comments after ``#`` or ``;``."""
    text = _read_text(path)
    values, refs = [], []
    for number, line in enumerate(text.splitlines(), start=1):
        value = _strip_comment(line)
        if value:
            # A value is one token; "1.2.3.4 extra" keeps the first token.
            values.append(value.split()[0])
            refs.append(f"{path.name}:{number}")
    n = len(values)
    return pa.table(
        {
            "value": pa.array(values, pa.string()),
            "actor": pa.nulls(n, pa.string()),
            "confidence": pa.nulls(n, pa.int16()),
            "tags": pa.nulls(n, pa.list_(pa.string())),
            "first_seen": pa.nulls(n, TIMESTAMP),
            "last_seen": pa.nulls(n, TIMESTAMP),
            "reference": pa.array(refs, pa.string()),
            "valid_from": pa.nulls(n, TIMESTAMP),
            "valid_until": pa.nulls(n, TIMESTAMP),
        },
        schema=RAW,
    )


@dataclass(frozen=True)
class CsvColumns:
    """Column names of a CSV feed (the defaults are the documented header)."""

    ip: str = "ip"
    actor: str = "actor"
    confidence: str = "confidence"
    first_seen: str = "first_seen"
    last_seen: str = "last_seen"
    tags: str = "tags"
    delimiter: str = ","
    tags_separator: str = ";"


def read_csv(path: Path, columns: CsvColumns | None = None) -> pa.Table:
    """A CSV feed with a header row; only the ip column is required."""
    columns = columns or CsvColumns()
    text = _read_text(path)
    reader = csv.DictReader(io.StringIO(text), delimiter=columns.delimiter)
    try:
        header = reader.fieldnames or []
        if columns.ip not in header:
            raise FeedFormatError(
                f"{path}: no {columns.ip!r} column in the header {one_line(repr(header))}"
            )
        return raw_table(_csv_rows(path, reader, columns))
    except csv.Error as exc:  # a field over the csv module's limit (128 KiB)...
        raise FeedFormatError(f"{path}:{reader.line_num}: not a CSV feed: {exc}") from exc


def _csv_rows(path: Path, reader: csv.DictReader[str], columns: CsvColumns) -> list[dict[str, Any]]:
    rows = []
    for number, row in enumerate(reader, start=2):
        tags_text = (row.get(columns.tags) or "").strip()
        rows.append(
            {
                "value": (row.get(columns.ip) or "").strip(),
                "actor": (row.get(columns.actor) or "").strip() or None,
                "confidence": _confidence(row.get(columns.confidence)),
                "tags": [t.strip() for t in tags_text.split(columns.tags_separator) if t.strip()]
                or None,
                "first_seen": _timestamp(row.get(columns.first_seen)),
                "last_seen": _timestamp(row.get(columns.last_seen)),
                "reference": f"{path.name}:{number}",
            }
        )
    return rows


def read_stix(path: Path) -> pa.Table:
    """IP indicators of a STIX 2.1 bundle, each with the actor it indicates."""
    return read_stix_objects(path)[0]


def read_stix_objects(path: Path) -> tuple[pa.Table, list[str]]:
    """:func:`read_stix`, plus a note on the objects that were not valid STIX.

    Each object is validated on its own: one malformed object (a bad
    pattern, a wrong type) in a shared collection is skipped and counted,
    not a reason to ignore every other indicator of the feed.
    """
    stix2 = untyped_import("stix2")
    try:
        data = json.loads(_read_text(path))
    except (json.JSONDecodeError, RecursionError) as exc:
        raise FeedFormatError(f"{path}: not a STIX 2.1 bundle: {one_line(str(exc))}") from exc
    if isinstance(data, dict) and data.get("type") == "bundle":
        items = data.get("objects") or []
    elif isinstance(data, dict) and "type" in data:
        items = [data]
    else:
        raise FeedFormatError(f"{path}: not a STIX 2.1 bundle: no bundle object at the top")
    if not isinstance(items, list):
        raise FeedFormatError(f"{path}: not a STIX 2.1 bundle: 'objects' is not a list")
    objects, bad, first = [], 0, ""
    for item in items:
        try:
            objects.append(stix2.parse(item, allow_custom=True))
        except Exception as exc:  # stix2 raises many types for bad input
            bad += 1
            first = first or one_line(f"{type(exc).__name__}: {exc}")
    errors = [f"{path.name}: {bad} invalid STIX object(s) skipped (first: {first})"] if bad else []
    return stix_objects_to_raw(objects), errors


def _latest_versions(objects: list[Any]) -> list[Any]:
    """One object per id: its latest version (highest ``modified``), as STIX versioning says.

    A bundle may hold several versions of an indicator; an older one must not
    keep matching once a newer one revokes it or changes its pattern. A
    revocation is final (STIX 2.1: a revoked object is never un-revoked), so
    an id revoked in any version is withdrawn, whatever its ``modified`` and
    wherever it stands in the bundle; versions that tie on ``modified`` are
    settled by their content, not by their order. An object whose id does not
    name its type (a custom object given an indicator's id) is no version of
    anything and is left out.
    """
    latest: dict[str, Any] = {}
    revoked: set[str] = set()
    unversioned = []
    for obj in objects:
        ident = obj.get("id")
        if not isinstance(ident, str):
            unversioned.append(obj)
            continue
        if not ident.startswith(f"{obj.get('type')}--"):
            continue
        if obj.get("revoked"):
            revoked.add(ident)
        known = latest.get(ident)
        if known is None or _version_key(obj) > _version_key(known):
            latest[ident] = obj
    return [*(o for i, o in latest.items() if i not in revoked), *unversioned]


def _version_key(obj: Any) -> tuple[dt.datetime, str]:
    return _modified(obj), str(obj)


def _modified(obj: Any) -> dt.datetime:
    return _timestamp(obj.get("modified")) or dt.datetime.min.replace(tzinfo=dt.UTC)


def stix_objects_to_raw(objects: list[Any]) -> pa.Table:
    """The raw table of STIX objects (a bundle's or a TAXII collection's).

    Only the latest version of each object counts, and revoked objects (an
    indicator, a relationship, an actor) say nothing.
    """
    objects = [o for o in _latest_versions(objects) if not o.get("revoked")]
    by_id = {o["id"]: o for o in objects if "id" in o}
    targets: dict[str, set[str]] = {}
    for rel in (o for o in objects if o.get("type") == "relationship"):
        targets.setdefault(rel["source_ref"], set()).add(
            f"{rel['relationship_type']}|{rel['target_ref']}"
        )

    def names(ref: str, kinds: frozenset[str], hops: int) -> set[str]:
        found: set[str] = set()
        for link in targets.get(ref, ()):
            kind, target = link.split("|", 1)
            obj = by_id.get(target)
            if obj is None or obj.get("type") not in STIX_ACTOR_TYPES:
                continue
            if kind in kinds:
                found.add(str(obj.get("name", target)))
                if obj.get("type") == "campaign" and hops:
                    found |= names(target, frozenset({"attributed-to"}), hops - 1)
        return found

    rows = []
    for ind in (o for o in objects if o.get("type") == "indicator"):
        if ind.get("pattern_type", "stix") != "stix":
            continue
        values = stix_pattern_addresses(str(ind["pattern"]))
        actor = "; ".join(sorted(names(ind["id"], frozenset({"indicates"}), 1))) or None
        tags = sorted({*ind.get("labels", []), *ind.get("indicator_types", [])}) or None
        listed: list[str | None] = list(values) if values else [None]
        for value in listed:
            rows.append(
                {
                    # None marks an indicator whose pattern is not an address list.
                    "value": value,
                    "actor": actor,
                    "confidence": ind.get("confidence"),
                    "tags": tags,
                    "first_seen": _timestamp(ind.get("valid_from")),
                    "last_seen": _timestamp(ind.get("valid_until")),
                    "reference": str(ind["id"]),
                    "valid_from": _timestamp(ind.get("valid_from")),
                    "valid_until": _timestamp(ind.get("valid_until")),
                }
            )
    return raw_table(rows)


def stix_pattern_addresses(pattern: str) -> list[str] | None:
    """The address values of a pattern made only of OR'ed ip ``value`` comparisons.

    A comparison is ``= 'addr'``, ``ISSUBSET 'cidr'`` or ``IN ('a', 'b')``;
    parentheses only group. ``None`` when the pattern says anything else
    (AND, FOLLOWEDBY, qualifiers, other objects, ``!=``, ``NOT``,
    ``ISSUPERSET``...): such an indicator is not a list of addresses, and
    reading half of it would invent matches.
    """
    sp = untyped_import("stix2.patterns")
    if _NOT_KEYWORD.search(_STRING_CONSTANT.sub("''", pattern)):
        # stix2's parser drops NOT before ISSUBSET and IN (it keeps it only
        # for = and !=): "NOT ISSUBSET '10.0.0.0/8'" would read as its opposite.
        return None
    try:
        tree = untyped_import("stix2.pattern_visitor").create_pattern_object(pattern)
    except Exception:  # the pattern grammar raises several types
        return None
    found: list[str] = []

    def address_path(path: Any) -> bool:
        return getattr(path, "object_type_name", None) in ("ipv4-addr", "ipv6-addr") and [
            getattr(p, "property_name", None) for p in getattr(path, "property_path", ())
        ] == ["value"]

    def walk(node: Any) -> bool:
        if isinstance(node, sp.OrObservationExpression | sp.OrBooleanExpression):
            return all(walk(o) for o in node.operands)
        if isinstance(node, sp.ObservationExpression):
            return walk(node.operand)
        if isinstance(node, sp.ParentheticalExpression):
            return walk(node.expression)
        comparison = (sp.EqualityComparisonExpression, sp.IsSubsetComparisonExpression)
        if (
            isinstance(node, comparison)
            and not node.negated
            and address_path(node.lhs)
            and isinstance(node.rhs, sp.StringConstant)
        ):
            found.append(str(node.rhs.value))
            return True
        if isinstance(node, sp.InComparisonExpression) and not node.negated:
            values = getattr(node.rhs, "value", None)
            if (
                address_path(node.lhs)
                and isinstance(values, list)
                and values
                and all(isinstance(v, sp.StringConstant) for v in values)
            ):
                found.extend(str(v.value) for v in values)
                return True
        return False

    return found if walk(tree) and found else None


def read_misp(directory: Path) -> tuple[pa.Table, list[str]]:
    """A MISP feed folder: the manifest's events, their IP attributes; errors listed."""
    manifest_path = directory / "manifest.json"
    try:
        manifest = json.loads(_read_text(manifest_path))
    except json.JSONDecodeError as exc:
        raise FeedFormatError(f"{manifest_path}: not JSON: {exc}") from exc
    if not isinstance(manifest, dict):
        raise FeedFormatError(f"{manifest_path}: not a MISP manifest (an object of events)")
    rows: list[dict[str, Any]] = []
    errors: list[str] = []
    for uuid in sorted(manifest):
        event_path = directory / f"{_safe_name(uuid)}.json"
        try:
            event = json.loads(_read_text(event_path)).get("Event", {})
            rows.extend(misp_event_rows(event, uuid))
        except (FeedFormatError, json.JSONDecodeError, RecursionError) as exc:
            errors.append(f"{event_path.name}: {one_line(str(exc))}")
        except (AttributeError, TypeError, ValueError):
            # Content of the wrong shape (a list where an object belongs...):
            # this event is skipped, the feed's other events still count.
            errors.append(f"{event_path.name}: not a MISP event (unexpected JSON structure)")
    return raw_table(rows), errors


def misp_event_rows(event: Mapping[str, Any], uuid: str) -> list[dict[str, Any]]:
    """Raw rows of one MISP event's IP attributes (in the event and its objects)."""
    actor = _misp_actor(event)
    event_tags = [str(t.get("name")) for t in event.get("Tag", []) if t.get("name")]
    attributes = list(event.get("Attribute", []))
    for obj in event.get("Object", []):
        attributes.extend(obj.get("Attribute", []))
    rows = []
    for attr in attributes:
        kind = attr.get("type")
        if kind not in MISP_IP_TYPES:
            continue
        value = str(attr.get("value", ""))
        if "|" in kind:
            value = value.split("|", 1)[0]
        attr_tags = (str(t.get("name")) for t in attr.get("Tag", []) if t.get("name"))
        tags = sorted({*event_tags, *attr_tags})
        rows.append(
            {
                "value": value,
                "actor": actor,
                "confidence": None,
                "tags": tags or None,
                "first_seen": _timestamp(attr.get("first_seen")) or _timestamp(event.get("date")),
                "last_seen": _timestamp(attr.get("last_seen")) or _timestamp(attr.get("timestamp")),
                "reference": f"misp-event:{event.get('uuid', uuid)}",
            }
        )
    return rows


def _misp_actor(event: Mapping[str, Any]) -> str | None:
    names = [
        str(cluster.get("value"))
        for galaxy in event.get("Galaxy", [])
        if galaxy.get("type") == "threat-actor"
        for cluster in galaxy.get("GalaxyCluster", [])
        if cluster.get("value")
    ]
    prefix = 'misp-galaxy:threat-actor="'
    names += [
        t["name"][len(prefix) : -1]
        for t in event.get("Tag", [])
        if str(t.get("name", "")).startswith(prefix) and str(t["name"]).endswith('"')
    ]
    if names:
        return "; ".join(sorted(set(names)))
    info = event.get("info")
    return str(info) if info else None


# --------------------------------------------------------------------------- parsing values


def to_indicators(
    raw: pa.Table,
    feed: str,
    report: LoadReport,
    min_prefix_ipv4: int = 8,
    min_prefix_ipv6: int = 16,
    now: dt.datetime | None = None,
) -> pa.Table:
    """Parse raw values into :data:`INDICATORS`, refusing (and counting) bad ones.

    Values are parsed once per distinct text. Host bits set in a CIDR
    (``10.1.2.3/8``) are refused as ``host_bits_set``: the feed's author meant
    either the address or the network, and guessing widens or narrows it.
    An indicator whose validity window (``valid_from`` / ``valid_until``)
    does not hold ``now`` (default: the current time) is refused as
    ``expired`` or ``not_yet_valid``.
    """
    values = raw.column("value")
    missing = pc.is_null(values)
    if pc.any(missing).as_py():
        report.refuse("not_an_address_pattern", int(pc.sum(missing).as_py() or 0))
        raw = raw.filter(pc.invert(missing))
    when = pa.scalar(now or dt.datetime.now(dt.UTC), TIMESTAMP)
    for why, column, test in (
        ("expired", "valid_until", pc.less_equal),
        ("not_yet_valid", "valid_from", pc.greater),
    ):
        outside = pc.fill_null(test(raw.column(column), when), False)
        if pc.any(outside).as_py():
            report.refuse(why, int(pc.sum(outside).as_py() or 0))
            raw = raw.filter(pc.invert(outside))
    values = raw.column("value")
    distinct = pc.unique(values).to_pylist()
    parsed: list[tuple[int, int, int, str] | None] = []
    reasons: list[str | None] = []
    for text in distinct:
        result, reason = _parse_value(str(text), min_prefix_ipv4, min_prefix_ipv6)
        parsed.append(result)
        reasons.append(reason)
    index = np.asarray(pc.index_in(values, pa.array(distinct, pa.string())).to_numpy())
    ok_distinct = np.array([p is not None for p in parsed], dtype=bool)
    ok = ok_distinct[index] if len(index) else np.zeros(0, dtype=bool)
    counts = Counter(np.asarray(index[~ok]).tolist())
    for i, count in counts.items():
        report.refuse(reasons[i] or "invalid", count)
    kept = raw.filter(pa.array(ok))
    kept_index = index[ok]
    fam = np.array([p[0] if p else 0 for p in parsed], dtype=np.int8)
    bounds = [(*split128(p[1]), *split128(p[2])) if p else (0, 0, 0, 0) for p in parsed]
    b = np.array(bounds, dtype=np.int64).reshape(-1, 4)[kept_index]
    texts = pa.array([p[3] if p else None for p in parsed], pa.string())
    n = kept.num_rows
    report.indicators += n
    return pa.table(
        {
            "family": pa.array(fam[kept_index], pa.int8()),
            "start_hi": pa.array(b[:, 0], pa.int64()),
            "start_lo": pa.array(b[:, 1], pa.int64()),
            "end_hi": pa.array(b[:, 2], pa.int64()),
            "end_lo": pa.array(b[:, 3], pa.int64()),
            "indicator": pc.take(texts, pa.array(kept_index, pa.int64())),
            "feed": pa.array([feed] * n, pa.string()),
            "actor": kept.column("actor"),
            "confidence": kept.column("confidence"),
            "tags": kept.column("tags"),
            "first_seen": kept.column("first_seen"),
            "last_seen": kept.column("last_seen"),
            "reference": kept.column("reference"),
        },
        schema=INDICATORS,
    )


def _parse_value(
    text: str, min_prefix_ipv4: int, min_prefix_ipv6: int
) -> tuple[tuple[int, int, int, str] | None, str | None]:
    text = text.strip()
    if not text or len(text) > 100:
        return None, "invalid"
    try:
        net = ipaddress.ip_network(text, strict=True)
    except ValueError:
        try:
            ipaddress.ip_network(text, strict=False)
        except ValueError:
            return None, "invalid"
        return None, "host_bits_set"
    if isinstance(net, ipaddress.IPv6Network):
        if "%" in text:
            return None, "invalid"
        # ::ffff:a.b.c.d/120 is the IPv4 /24 in disguise: store it as IPv4.
        net = unmapped(net)
    if too_wide(net, min_prefix_ipv4, min_prefix_ipv6):
        return None, "too_wide"
    text_form = str(net.network_address) if net.num_addresses == 1 else str(net)
    return (net.version, int(net.network_address), int(net.broadcast_address), text_form), None


def too_wide(
    net: IPNetwork, min_prefix_ipv4: int = MIN_PREFIX[4], min_prefix_ipv6: int = MIN_PREFIX[6]
) -> bool:
    """True when ``net`` is wider than the limit of its IP version (a /0 always is)."""
    limit = min_prefix_ipv4 if net.version == 4 else min_prefix_ipv6
    return net.prefixlen < limit or net.prefixlen == 0


# --------------------------------------------------------------------------- index and match


@dataclass
class IntelIndex:
    """The indicators of every loaded feed, prepared for the range join."""

    indicators: pa.Table
    reports: list[LoadReport] = field(default_factory=list)
    _ranges: RangeTable | None = None

    @classmethod
    def from_tables(cls, tables: list[pa.Table], reports: list[LoadReport]) -> IntelIndex:
        table = pa.concat_tables(tables) if tables else INDICATORS.empty_table()
        return cls(indicators=table, reports=reports)

    @property
    def ranges(self) -> RangeTable:
        if self._ranges is None:
            self._ranges = build_ranges(self.indicators)
        return self._ranges

    def match(self, addresses: ir.Table | pa.Table, ip_column: str = "ip") -> ir.Table:
        """(ip, indicator, feed, actor, confidence, tags, first/last seen, reference) per hit."""
        return match(addresses, self.ranges, ip_column).select(*MATCH_COLUMNS)

    def match_ips(self, ips: Iterable[str]) -> pa.Table:
        """:meth:`match` for a set of source addresses (a case's), sorted, as Arrow."""
        table = pa.table({"ip": pa.array(sorted(set(ips)), pa.string())})
        if table.num_rows == 0 or self.indicators.num_rows == 0:
            return _empty_match()
        hits = self.match(table).to_pyarrow()
        return hits.sort_by(
            [("ip", "ascending"), ("feed", "ascending"), ("indicator", "ascending")]
        )


def _empty_match() -> pa.Table:
    fields = [pa.field("ip", pa.string()), *(INDICATORS.field(c) for c in MATCH_COLUMNS[1:])]
    return pa.schema(fields).empty_table()


# --------------------------------------------------------------------------- helpers


def untyped_import(module: str) -> Any:
    """Import a library that ships no type hints (stix2, taxii2-client) as ``Any``.

    An explicit import would fail ``mypy --strict`` without stubs; this keeps
    the untyped surface to the few calls made through it.
    """
    return importlib.import_module(module)


def _read_text(path: Path) -> str:
    """A feed file's text: UTF-8 (a leading byte-order mark dropped), bad bytes replaced.

    A file over :data:`MAX_FEED_BYTES` is refused before it is read: no IP
    feed comes near it, and reading it whole could exhaust memory.
    """
    try:
        size = path.stat().st_size
        if size > MAX_FEED_BYTES:
            raise FeedFormatError(f"{path}: larger than {MAX_FEED_BYTES} bytes ({size}): refused")
        return path.read_text(encoding="utf-8-sig", errors="replace")
    except OSError as exc:
        raise FeedFormatError(f"{path}: cannot read: {exc.strerror}") from exc


def one_line(text: str, limit: int = 200) -> str:
    """One line of at most ``limit`` characters (error text can quote a whole feed)."""
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 3] + "..."


def _safe_name(name: str) -> str:
    """A file name from feed content (a MISP uuid): no path separators, no dot-dot."""
    cleaned = "".join(c for c in name if c.isalnum() or c in "-_")
    if not cleaned:
        raise FeedFormatError(f"unusable name in feed: {name[:80]!r}")
    return cleaned


def _confidence(value: Any) -> int | None:
    if value is None or str(value).strip() == "":
        return None
    try:
        number = int(float(str(value).strip()))
    except (ValueError, OverflowError):  # "high", "nan", "inf", "1e999"
        return None
    return number if 0 <= number <= 100 else None


def _timestamp(value: Any) -> dt.datetime | None:
    """ISO 8601 text, a date, epoch seconds (MISP), or a datetime, as UTC; else None."""
    if value is None or value == "":
        return None
    try:
        if isinstance(value, dt.datetime):
            parsed = value
        else:
            text = str(value).strip()
            if text.isdigit():
                return dt.datetime.fromtimestamp(int(text), dt.UTC)
            parsed = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
        # In UTC, so a time near year 1 or 9999 that cannot be one fails here,
        # not later in Arrow.
        return (parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)).astimezone(dt.UTC)
    except (ValueError, OverflowError, OSError):  # not a time, or out of range
        return None
