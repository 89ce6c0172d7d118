"""Offline geo/ASN: MaxMind DB files built here with mmdb-writer, and iptoasn TSV files."""

from __future__ import annotations

import gzip
from pathlib import Path

import maxminddb
import pytest
from mmdb_writer import MmdbU32, MMDBWriter
from netaddr import IPSet

from reconwatch.config import GeoConfig
from reconwatch.enrich.geo import Geo, GeoInfo, read_iptoasn, read_iptoasn_counted

FIXTURES = Path(__file__).parent / "fixtures" / "enrich"
IPTOASN = [FIXTURES / "ip2asn-v4.tsv", FIXTURES / "ip2asn-v6.tsv"]


@pytest.fixture(scope="module")
def mmdb(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A tiny GeoLite2-City-like and GeoLite2-ASN-like database."""
    folder = tmp_path_factory.mktemp("mmdb")
    city = MMDBWriter(ip_version=6, ipv4_compatible=True, database_type="GeoLite2-City")
    city.insert_network(
        IPSet(["203.0.113.0/24"]),
        {
            "country": {"iso_code": "FR", "names": {"en": "France"}},
            "city": {"names": {"en": "Lyon"}},
        },
    )
    city.insert_network(
        IPSet(["2001:db8:1::/48"]), {"country": {"iso_code": "NL", "names": {"en": "Netherlands"}}}
    )
    city.to_db_file(str(folder / "city.mmdb"))
    asn = MMDBWriter(ip_version=6, ipv4_compatible=True, database_type="GeoLite2-ASN")
    asn.insert_network(
        IPSet(["203.0.113.0/25"]),
        {
            "autonomous_system_number": MmdbU32(64999),
            "autonomous_system_organization": "MaxMind Org",
        },
    )
    asn.to_db_file(str(folder / "asn.mmdb"))
    return folder / "city.mmdb", folder / "asn.mmdb"


def test_iptoasn_table_drops_not_routed_rows() -> None:
    table = read_iptoasn(IPTOASN)
    assert table.column("asn").to_pylist() == [13335, 64501, 64500, 64502]
    # "Not routed" rows are dropped on purpose, not counted as unreadable.
    assert read_iptoasn_counted(IPTOASN)[1] == 0
    assert table.column("country_code").to_pylist() == ["US", "DE", "FR", "NL"]
    assert (
        table.column("as_organization").to_pylist()[1] == 'EXAMPLE-HOSTING Example "Hosting" GmbH'
    )


def test_iptoasn_lookup_through_the_range_join(tmp_path: Path) -> None:
    gz = tmp_path / "ip2asn-v4.tsv.gz"
    gz.write_bytes(gzip.compress(IPTOASN[0].read_bytes()))
    geo = Geo.open(GeoConfig(iptoasn=[gz, IPTOASN[1]]))
    assert geo.errors == []
    found = geo.lookup(["1.0.0.0", "1.0.0.255", "1.0.1.5", "198.51.100.128", "::ffff:203.0.113.9",
                        "2001:db8:42::1", "bogus"])  # fmt: skip
    assert found == {
        "1.0.0.0": GeoInfo(country_code="US", asn=13335, as_organization="CLOUDFLARENET",
                           asn_source="iptoasn"),
        "1.0.0.255": GeoInfo(country_code="US", asn=13335, as_organization="CLOUDFLARENET",
                             asn_source="iptoasn"),
        "1.0.1.5": GeoInfo(),
        "198.51.100.128": GeoInfo(),
        "::ffff:203.0.113.9": GeoInfo(country_code="FR", asn=64500,
                                      as_organization="EXAMPLE-TRANSIT", asn_source="iptoasn"),
        "2001:db8:42::1": GeoInfo(country_code="NL", asn=64502, as_organization="EXAMPLE-V6",
                                  asn_source="iptoasn"),
        "bogus": GeoInfo(),
    }  # fmt: skip


def test_maxmind_databases_and_precedence(mmdb: tuple[Path, Path]) -> None:
    city, asn = mmdb
    geo = Geo.open(GeoConfig(city_mmdb=city, asn_mmdb=asn, iptoasn=IPTOASN))
    try:
        found = geo.lookup(["203.0.113.9", "203.0.113.200", "2001:db8:1::5", "192.0.2.1"])
    finally:
        geo.close()
    assert found["203.0.113.9"] == GeoInfo(
        country_code="FR", country="France", city="Lyon", asn=64999,
        as_organization="MaxMind Org", asn_source="maxmind",
    )  # fmt: skip
    # Outside the ASN database's /25: iptoasn answers the ASN, MaxMind the city.
    assert found["203.0.113.200"] == GeoInfo(
        country_code="FR", country="France", city="Lyon", asn=64500,
        as_organization="EXAMPLE-TRANSIT", asn_source="iptoasn",
    )  # fmt: skip
    assert found["2001:db8:1::5"] == GeoInfo(
        country_code="NL", country="Netherlands", asn=64502, as_organization="EXAMPLE-V6",
        asn_source="iptoasn",
    )  # fmt: skip
    assert found["192.0.2.1"] == GeoInfo()


def test_missing_files_are_reported(tmp_path: Path) -> None:
    geo = Geo.open(GeoConfig(city_mmdb=tmp_path / "nope.mmdb", iptoasn=[tmp_path / "nope.tsv"]))
    assert len(geo.errors) == 2
    assert geo.errors[0].startswith(f"{tmp_path / 'nope.mmdb'}: cannot open MaxMind DB")
    assert geo.errors[1].startswith(f"{tmp_path / 'nope.tsv'}: not an iptoasn TSV file")
    assert geo.lookup(["203.0.113.9"]) == {"203.0.113.9": GeoInfo()}


def test_an_ipv4_only_database_asked_about_ipv6_knows_nothing(tmp_path: Path) -> None:
    writer = MMDBWriter(ip_version=4, database_type="GeoLite2-Country")
    writer.insert_network(IPSet(["203.0.113.0/24"]), {"country": {"iso_code": "FR"}})
    writer.to_db_file(str(tmp_path / "v4.mmdb"))
    geo = Geo.open(GeoConfig(country_mmdb=tmp_path / "v4.mmdb"))
    try:
        found = geo.lookup(["2001:db8::1", "203.0.113.9"])
    finally:
        geo.close()
    assert found == {"2001:db8::1": GeoInfo(), "203.0.113.9": GeoInfo(country_code="FR")}
    assert geo.errors == []


def test_a_corrupt_database_is_an_error_not_a_crash(
    tmp_path: Path, mmdb: tuple[Path, Path]
) -> None:
    garbage = tmp_path / "garbage.mmdb"
    garbage.write_bytes(b"not a maxmind database" * 50)
    geo = Geo.open(GeoConfig(city_mmdb=garbage))
    assert len(geo.errors) == 1
    assert geo.errors[0].startswith(f"{garbage}: cannot open MaxMind DB")
    assert geo.lookup(["203.0.113.9"]) == {"203.0.113.9": GeoInfo()}
    # Opens (tree and metadata intact) but the data section is garbage: lookups fail.
    data = bytearray(mmdb[0].read_bytes())
    with maxminddb.open_database(str(mmdb[0])) as reader:
        meta = reader.metadata()
    start = meta.node_count * meta.record_size // 4 + 16
    end = data.rindex(b"\xab\xcd\xefMaxMind.com")
    data[start:end] = b"\xff" * (end - start)
    cut = tmp_path / "cut.mmdb"
    cut.write_bytes(bytes(data))
    geo = Geo.open(GeoConfig(city_mmdb=cut))
    try:
        assert geo.errors == []
        assert geo.lookup(["203.0.113.9", "2001:db8:1::5"]) == {
            "203.0.113.9": GeoInfo(), "2001:db8:1::5": GeoInfo(),
        }  # fmt: skip
    finally:
        geo.close()
    assert len(geo.errors) == 1 and geo.errors[0].startswith("MaxMind DB lookup failed")


def test_iptoasn_row_with_a_bad_as_number_is_dropped(tmp_path: Path) -> None:
    tsv = tmp_path / "ip2asn.tsv"
    tsv.write_text(
        "1.0.0.0\t1.0.0.255\t13335\tUS\tCLOUDFLARENET\n"
        "1.0.1.0\t1.0.1.255\t\tUS\tEMPTY\n"
        "1.0.2.0\t1.0.2.255\tAS64500\tUS\tPREFIXED\n"
        "1.0.3.0\t1.0.3.255\t99999999999999999999999\tUS\tHUGE\n"
    )
    geo = Geo.open(GeoConfig(iptoasn=[tsv]))
    assert geo.errors == []
    found = geo.lookup(["1.0.0.1", "1.0.1.1", "1.0.2.1", "1.0.3.1"])
    assert [found[ip].asn for ip in ("1.0.0.1", "1.0.1.1", "1.0.2.1", "1.0.3.1")] == [
        13335, None, None, None,
    ]  # fmt: skip
    # Dropped, but counted: a bad row is not lost silently.
    assert geo.iptoasn_skipped == 3
