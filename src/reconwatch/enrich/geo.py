"""Offline geolocation and ASN: MaxMind DB files and iptoasn TSV files.

Nothing here touches the network: the files are downloaded by the operator
(MaxMind's GeoLite2 needs a licence key; iptoasn.com publishes its TSVs
freely) and named in ``enrich.geo``.

* MaxMind DB (GeoLite2-City, -Country, -ASN, or compatible) is read with
  ``maxminddb``, once per distinct address asked about (per-case work).
* iptoasn TSV (``range_start range_end AS_number country_code AS_description``,
  tab-separated, IPv4 and IPv6 files or the combined one, plain or .gz) is
  loaded into a range table and matched with the engine join of
  :mod:`reconwatch.enrich.ranges`, so it can annotate a whole table of
  sources. Rows with AS number 0 ("Not routed") are dropped: they say nothing
  about an owner.

When both give an ASN, MaxMind's wins (it is usually the fresher file); the
``asn_source`` field says which one answered.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ibis.expr.types as ir
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from reconwatch.config import GeoConfig
from reconwatch.enrich.ranges import RangeTable, addresses_to_ints, build_ranges, match
from reconwatch.netaddr import parse_ip

IPTOASN_COLUMNS = ("range_start", "range_end", "as_number", "country_code", "as_description")


class GeoError(Exception):
    """A geo database that cannot be read; the message names the file."""


@dataclass
class GeoInfo:
    """What the offline databases say about one address (None where they are silent)."""

    country_code: str | None = None
    country: str | None = None
    city: str | None = None
    asn: int | None = None
    as_organization: str | None = None
    asn_source: str | None = None


def read_iptoasn(paths: Iterable[Path]) -> pa.Table:
    """iptoasn TSV files as a range table with ``asn, country_code, as_organization``.

    The bounds are converted with the vectorised address conversion, so a
    500,000-row file loads without a Python loop per row.
    """
    return read_iptoasn_counted(paths)[0]


def read_iptoasn_counted(paths: Iterable[Path]) -> tuple[pa.Table, int]:
    """:func:`read_iptoasn`, plus how many rows were skipped as unreadable.

    Those are rows that are no address range or carry no AS number; "Not
    routed" rows (AS number 0) are dropped on purpose and not counted.
    """
    parts = []
    for path in paths:
        try:
            table = pacsv.read_csv(
                path,
                read_options=pacsv.ReadOptions(column_names=list(IPTOASN_COLUMNS)),
                parse_options=pacsv.ParseOptions(delimiter="\t", quote_char=False),
                convert_options=pacsv.ConvertOptions(
                    column_types={c: pa.string() for c in IPTOASN_COLUMNS}
                ),
            )
        except (OSError, pa.ArrowInvalid) as exc:
            raise GeoError(f"{path}: not an iptoasn TSV file: {exc}") from exc
        parts.append(table)
    if not parts:
        return _iptoasn_ranges(pa.table({c: pa.array([], pa.string()) for c in IPTOASN_COLUMNS}))
    return _iptoasn_ranges(pa.concat_tables(parts))


def _iptoasn_ranges(table: pa.Table) -> tuple[pa.Table, int]:
    # An AS number that is not one (empty, "AS64500", 20 digits) is null, and
    # its row dropped like a "Not routed" one: a bad row is no reason to lose the file.
    text = pc.utf8_trim_whitespace(table.column("as_number"))
    number = pc.and_(pc.utf8_is_digit(text), pc.less_equal(pc.utf8_length(text), 10))
    asn = pc.cast(
        pc.if_else(pc.fill_null(number, False), text, pa.scalar(None, pa.string())), pa.int64()
    )
    start = addresses_to_ints(table.column("range_start"))
    end = addresses_to_ints(table.column("range_end"))
    keep = pc.and_(
        pc.and_(pc.is_valid(start.column("family")), pc.is_valid(end.column("family"))),
        pc.and_(
            pc.equal(start.column("family"), end.column("family")),
            pc.not_equal(pc.fill_null(asn, 0), 0),
        ),
    )
    keep = pc.fill_null(keep, False)
    not_routed = pc.fill_null(pc.equal(asn, 0), False)
    unreadable = pc.sum(pc.and_(pc.invert(keep), pc.invert(not_routed))).as_py() or 0
    country = pc.utf8_upper(table.column("country_code"))
    return pa.table(
        {
            "family": start.column("family"),
            "start_hi": start.column("hi"),
            "start_lo": start.column("lo"),
            "end_hi": end.column("hi"),
            "end_lo": end.column("lo"),
            "asn": asn,
            "country_code": pc.if_else(
                pc.is_in(country, pa.array(["", "NONE", "ZZ"])),
                pa.scalar(None, pa.string()),
                country,
            ),
            "as_organization": table.column("as_description"),
        }
    ).filter(keep), int(unreadable)


@dataclass
class Geo:
    """The configured databases, opened once per hunt."""

    city: Any = None
    country: Any = None
    asn: Any = None
    iptoasn: RangeTable | None = None
    errors: list[str] = field(default_factory=list)
    #: iptoasn rows skipped as no address range or no AS number (not "Not routed" ones).
    iptoasn_skipped: int = 0
    #: Readers whose lookup failed (corrupt data): listed in ``errors`` once each.
    _failed: set[int] = field(default_factory=set, repr=False)

    @classmethod
    def open(cls, config: GeoConfig) -> Geo:
        """Open what is configured; a missing or corrupt file is listed in ``errors``."""
        geo = cls()
        for attr in ("city", "country", "asn"):
            path: Path | None = getattr(config, f"{attr}_mmdb")
            if path is None:
                continue
            try:
                reader = importlib.import_module("maxminddb").open_database(str(path))
            except (OSError, ValueError, RuntimeError) as exc:  # RuntimeError: not a MaxMind DB
                geo.errors.append(f"{path}: cannot open MaxMind DB: {exc}")
                continue
            setattr(geo, attr, reader)
        if config.iptoasn:
            try:
                table, geo.iptoasn_skipped = read_iptoasn_counted(config.iptoasn)
                geo.iptoasn = build_ranges(table)
            except GeoError as exc:
                geo.errors.append(str(exc))
        return geo

    def close(self) -> None:
        for reader in (self.city, self.country, self.asn):
            if reader is not None:
                reader.close()

    def match_asn(self, addresses: ir.Table | pa.Table, ip_column: str = "ip") -> ir.Table:
        """``(ip, asn, country_code, as_organization)`` from iptoasn, joined in the engine."""
        if self.iptoasn is None:
            raise ValueError("no iptoasn file configured")
        return match(addresses, self.iptoasn, ip_column)

    def lookup(self, ips: Iterable[str]) -> dict[str, GeoInfo]:
        """Everything known about each address (invalid addresses get an empty GeoInfo)."""
        wanted = sorted(set(ips))
        result = {ip: GeoInfo() for ip in wanted}
        if self.iptoasn is not None and wanted:
            hits = self.match_asn(pa.table({"ip": pa.array(wanted, pa.string())})).to_pyarrow()
            # Overlapping rows would be a broken file; the narrowest is not knowable
            # cheaply, so the lowest AS number wins, deterministically.
            for row in hits.sort_by([("ip", "ascending"), ("asn", "descending")]).to_pylist():
                info = result[row["ip"]]
                info.asn = row["asn"]
                info.as_organization = row["as_organization"]
                info.country_code = row["country_code"]
                info.asn_source = "iptoasn"
        for ip in wanted:
            try:
                addr = str(parse_ip(ip))
            except ValueError:
                continue
            self._from_mmdb(addr, result[ip])
        return result

    def _from_mmdb(self, addr: str, info: GeoInfo) -> None:
        for reader in (self.country, self.city):
            record = self._get(reader, addr)
            if isinstance(record, dict):
                country = _mapping(record.get("country"))
                info.country_code = _text(country.get("iso_code")) or info.country_code
                info.country = _text(_mapping(country.get("names")).get("en")) or info.country
                city = _mapping(_mapping(record.get("city")).get("names"))
                info.city = _text(city.get("en")) or info.city
        record = self._get(self.asn, addr)
        if isinstance(record, dict) and isinstance(record.get("autonomous_system_number"), int):
            info.asn = int(record["autonomous_system_number"])
            info.as_organization = _text(record.get("autonomous_system_organization"))
            info.asn_source = "maxmind"

    def _get(self, reader: Any, addr: str) -> Any:
        """The record for ``addr``, or None when the database cannot answer.

        An IPv4-only database asked about an IPv6 address raises ValueError (it
        simply knows nothing of it); corrupt data raises InvalidDatabaseError
        (a RuntimeError), which is listed in ``errors`` once per database.
        """
        if reader is None:
            return None
        try:
            return reader.get(addr)
        except ValueError:
            return None
        except RuntimeError as exc:
            if id(reader) not in self._failed:
                self._failed.add(id(reader))
                self.errors.append(f"MaxMind DB lookup failed: {exc}")
            return None


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None
