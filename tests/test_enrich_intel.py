"""Threat-intel readers (plain, CSV, STIX 2.1, MISP) and matching sources to indicators."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pyarrow as pa
import pytest
import stix2

from reconwatch.enrich import intel
from reconwatch.enrich.intel import (
    CsvColumns,
    FeedFormatError,
    IntelIndex,
    LoadReport,
    read_csv,
    read_misp,
    read_plain,
    read_stix,
    read_stix_objects,
    stix_pattern_addresses,
    to_indicators,
)

FIXTURES = Path(__file__).parent / "fixtures" / "enrich"
UTC = dt.UTC


def test_plain_list_reads_values_and_refuses_bad_ones() -> None:
    raw = read_plain(FIXTURES / "blocklist.txt")
    assert raw.column("value").to_pylist() == [
        "198.51.100.23",
        "203.0.113.0/24",
        "2001:db8:bad::/48",
        "::ffff:192.0.2.77",
        "0.0.0.0/0",
        "10.1.2.3/8",
        "not-an-address",
        "192.0.2.200",
    ]
    assert raw.column("reference").to_pylist()[0] == "blocklist.txt:2"
    report = LoadReport("plain")
    table = to_indicators(raw, "plain", report)
    assert table.column("indicator").to_pylist() == [
        "198.51.100.23",
        "203.0.113.0/24",
        "2001:db8:bad::/48",
        "192.0.2.77",  # the mapped address is stored as IPv4
        "192.0.2.200",
    ]
    assert report.indicators == 5
    assert report.refused == {"too_wide": 1, "host_bits_set": 1, "invalid": 1}


def test_width_limits_are_configurable() -> None:
    raw = read_plain(FIXTURES / "blocklist.txt")
    report = LoadReport("plain")
    table = to_indicators(raw, "plain", report, min_prefix_ipv4=25, min_prefix_ipv6=64)
    assert table.column("indicator").to_pylist() == ["198.51.100.23", "192.0.2.77", "192.0.2.200"]
    assert report.refused["too_wide"] == 3


def test_csv_with_configured_column_names() -> None:
    columns = CsvColumns(
        ip="address", actor="group", confidence="score", first_seen="seen_first",
        last_seen="seen_last", tags="labels",
    )  # fmt: skip
    raw = read_csv(FIXTURES / "intel.csv", columns)
    rows = raw.to_pylist()
    assert rows[0] == {
        "value": "198.51.100.23",
        "actor": "ShadowSurveyor",
        "confidence": 85,
        "tags": ["scanner", "recon"],
        "first_seen": dt.datetime(2026, 9, 1, tzinfo=UTC),
        "last_seen": dt.datetime(2026, 9, 29, 12, tzinfo=UTC),
        "reference": "intel.csv:2",
        # CSV has no validity window: first/last seen are sightings, not expiry.
        "valid_from": None,
        "valid_until": None,
    }
    assert rows[1]["first_seen"] == dt.datetime(2026, 9, 10, tzinfo=UTC)
    assert rows[1]["last_seen"] is None
    # A confidence outside 0..100 is not trusted; an empty actor is unknown.
    assert (rows[2]["confidence"], rows[2]["actor"], rows[2]["tags"]) == (None, None, None)


def test_csv_without_the_ip_column_names_file_and_column() -> None:
    with pytest.raises(FeedFormatError, match=r"intel\.csv: no 'ip' column"):
        read_csv(FIXTURES / "intel.csv")


def _stix_bundle() -> stix2.Bundle:
    actor = stix2.ThreatActor(name="ShadowSurveyor", threat_actor_types=["crime-syndicate"])
    intrusion = stix2.IntrusionSet(name="Quiet Cartographers")
    campaign = stix2.Campaign(name="Operation Atlas")
    one = stix2.Indicator(
        pattern="[ipv4-addr:value = '198.51.100.23']",
        pattern_type="stix",
        valid_from="2026-09-01T00:00:00Z",
        confidence=80,
        indicator_types=["malicious-activity"],
    )
    many = stix2.Indicator(
        pattern=(
            "[ipv4-addr:value = '203.0.113.0/28' OR ipv6-addr:value = '2001:db8:bad::1'] "
            "OR [ipv4-addr:value = '192.0.2.9']"
        ),
        pattern_type="stix",
        valid_from="2026-09-02T00:00:00Z",
    )
    anded = stix2.Indicator(
        pattern="[ipv4-addr:value = '192.0.2.50' AND network-traffic:dst_port = 22]",
        pattern_type="stix",
        valid_from="2026-09-02T00:00:00Z",
    )
    orphan = stix2.Indicator(
        pattern="[ipv4-addr:value = '192.0.2.60']",
        pattern_type="stix",
        valid_from="2026-09-02T00:00:00Z",
    )
    rels = [
        stix2.Relationship(one, "indicates", actor),
        stix2.Relationship(many, "indicates", campaign),
        stix2.Relationship(campaign, "attributed-to", intrusion),
    ]
    return stix2.Bundle(actor, intrusion, campaign, one, many, anded, orphan, *rels)


def test_stix_bundle_indicators_name_their_actor(tmp_path: Path) -> None:
    path = tmp_path / "bundle.json"
    path.write_text(_stix_bundle().serialize(pretty=True), encoding="utf-8")
    raw = read_stix(path)
    by_value = {r["value"]: r for r in raw.to_pylist()}
    assert set(by_value) == {
        "198.51.100.23", "203.0.113.0/28", "2001:db8:bad::1", "192.0.2.9", "192.0.2.60", None,
    }  # fmt: skip
    assert by_value["198.51.100.23"]["actor"] == "ShadowSurveyor"
    assert by_value["198.51.100.23"]["confidence"] == 80
    assert by_value["198.51.100.23"]["tags"] == ["malicious-activity"]
    assert by_value["198.51.100.23"]["first_seen"] == dt.datetime(2026, 9, 1, tzinfo=UTC)
    assert by_value["203.0.113.0/28"]["actor"] == "Operation Atlas; Quiet Cartographers"
    assert by_value["192.0.2.60"]["actor"] is None
    assert by_value[None]["reference"].startswith("indicator--")
    report = LoadReport("stix")
    table = to_indicators(raw, "stix", report)
    assert report.indicators == 5
    assert report.refused == {"not_an_address_pattern": 1}
    assert table.num_rows == 5


def test_stix_pattern_subset() -> None:
    assert stix_pattern_addresses("[ipv6-addr:value = '2001:db8::/32']") == ["2001:db8::/32"]
    assert stix_pattern_addresses("[ipv4-addr:value != '1.2.3.4']") is None
    assert stix_pattern_addresses("[domain-name:value = 'example.com']") is None
    assert stix_pattern_addresses("not a pattern") is None


def write_misp_feed(directory: Path) -> None:
    """A MISP feed as MISP's feed generator writes it: a manifest and one file per event."""
    directory.mkdir(parents=True, exist_ok=True)
    events = {
        "5f1c2a3b-0000-4000-8000-000000000001": {
            "info": "Scanning campaign against energy sector",
            "date": "2026-09-15",
            "timestamp": "1789000000",
            "Tag": [{"name": "tlp:green"}],
            "Galaxy": [{"type": "threat-actor", "GalaxyCluster": [{"value": "ShadowSurveyor"}]}],
            "Attribute": [
                {"type": "ip-src", "value": "198.51.100.23", "timestamp": "1789100000"},
                {"type": "ip-dst|port", "value": "203.0.113.9|8443", "timestamp": "1789100000"},
                {"type": "domain", "value": "evil.example", "timestamp": "1789100000"},
            ],
            "Object": [
                {
                    "Attribute": [
                        {
                            "type": "ip-src|port",
                            "value": "2001:db8:bad::2|22",
                            "first_seen": "2026-09-14T10:00:00+00:00",
                            "Tag": [{"name": "scanner"}],
                        }
                    ]
                }
            ],
        },
        "5f1c2a3b-0000-4000-8000-000000000002": {
            "info": "Brute force sources",
            "date": "2026-09-20",
            "Tag": [{"name": 'misp-galaxy:threat-actor="Night Owl"'}],
            "Attribute": [{"type": "ip-src", "value": "192.0.2.10"}],
        },
        "5f1c2a3b-0000-4000-8000-000000000003": {
            "info": "No actor named",
            "date": "2026-09-21",
            "Attribute": [{"type": "ip-dst", "value": "192.0.2.11"}],
        },
    }
    manifest = {}
    for uuid, event in events.items():
        event = {**event, "uuid": uuid}
        (directory / f"{uuid}.json").write_text(json.dumps({"Event": event}), encoding="utf-8")
        manifest[uuid] = {"info": event["info"], "timestamp": event.get("timestamp", "0")}
    (directory / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")


def test_misp_feed_attributes_and_actors(tmp_path: Path) -> None:
    write_misp_feed(tmp_path / "misp")
    raw, errors = read_misp(tmp_path / "misp")
    assert errors == []
    rows = {r["value"]: r for r in raw.to_pylist()}
    assert set(rows) == {"198.51.100.23", "203.0.113.9", "2001:db8:bad::2", "192.0.2.10",
                         "192.0.2.11"}  # fmt: skip
    first = rows["198.51.100.23"]
    assert first["actor"] == "ShadowSurveyor"
    assert first["tags"] == ["tlp:green"]
    assert first["first_seen"] == dt.datetime(2026, 9, 15, tzinfo=UTC)
    assert first["last_seen"] == dt.datetime.fromtimestamp(1789100000, UTC)
    assert first["reference"] == "misp-event:5f1c2a3b-0000-4000-8000-000000000001"
    assert rows["2001:db8:bad::2"]["tags"] == ["scanner", "tlp:green"]
    assert rows["2001:db8:bad::2"]["first_seen"] == dt.datetime(2026, 9, 14, 10, tzinfo=UTC)
    assert rows["192.0.2.10"]["actor"] == "Night Owl"
    assert rows["192.0.2.11"]["actor"] == "No actor named"


def test_misp_missing_event_is_reported_not_fatal(tmp_path: Path) -> None:
    write_misp_feed(tmp_path / "misp")
    (tmp_path / "misp" / "5f1c2a3b-0000-4000-8000-000000000002.json").unlink()
    raw, errors = read_misp(tmp_path / "misp")
    assert len(errors) == 1
    assert errors[0].startswith("5f1c2a3b-0000-4000-8000-000000000002.json: ")
    assert "192.0.2.10" not in raw.column("value").to_pylist()
    assert raw.num_rows == 4


def test_index_match_names_actor_and_feed(tmp_path: Path) -> None:
    write_misp_feed(tmp_path / "misp")
    raw, _ = read_misp(tmp_path / "misp")
    plain = read_plain(FIXTURES / "blocklist.txt")
    reports = [LoadReport("misp"), LoadReport("plain")]
    index = IntelIndex.from_tables(
        [to_indicators(raw, "misp", reports[0]), to_indicators(plain, "plain", reports[1])],
        reports,
    )
    hits = index.match_ips(["198.51.100.23", "::ffff:203.0.113.9", "2001:db8:bad::2", "8.8.8.8"])
    got = [(r["ip"], r["feed"], r["indicator"], r["actor"]) for r in hits.to_pylist()]
    assert got == [
        ("198.51.100.23", "misp", "198.51.100.23", "ShadowSurveyor"),
        ("198.51.100.23", "plain", "198.51.100.23", None),
        ("2001:db8:bad::2", "misp", "2001:db8:bad::2", "ShadowSurveyor"),
        ("2001:db8:bad::2", "plain", "2001:db8:bad::/48", None),
        ("::ffff:203.0.113.9", "misp", "203.0.113.9", "ShadowSurveyor"),
        ("::ffff:203.0.113.9", "plain", "203.0.113.0/24", None),
    ]


def test_empty_index_matches_nothing() -> None:
    index = IntelIndex.from_tables([], [])
    assert index.match_ips(["198.51.100.23"]).num_rows == 0


def test_feed_of_comments_only_gives_an_empty_index(tmp_path: Path) -> None:
    path = tmp_path / "empty.txt"
    path.write_text("# nothing listed today\n\n; still nothing\n")
    report = LoadReport("empty")
    table = to_indicators(read_plain(path), "empty", report)
    assert (table.num_rows, report.indicators, report.refused) == (0, 0, {})
    assert IntelIndex.from_tables([table], [report]).match_ips(["1.2.3.4"]).num_rows == 0


# --------------------------------------------------------------------------- review fixes

NOW = dt.datetime(2026, 10, 15, tzinfo=UTC)


def _bundle_file(tmp_path: Path, *objects: object) -> Path:
    path = tmp_path / "bundle.json"
    path.write_text(stix2.Bundle(*objects, allow_custom=True).serialize(), encoding="utf-8")
    return path


def _index(raw: object, report: LoadReport, now: dt.datetime = NOW) -> IntelIndex:
    assert isinstance(raw, pa.Table)
    return IntelIndex.from_tables([to_indicators(raw, "f", report, now=now)], [report])


def test_a_revoked_new_version_withdraws_the_indicator(tmp_path: Path) -> None:
    actor = stix2.ThreatActor(name="ShadowSurveyor", threat_actor_types=["crime-syndicate"])
    old = stix2.Indicator(
        pattern="[ipv4-addr:value = '198.51.100.7']", pattern_type="stix",
        valid_from="2026-09-01T00:00:00Z", modified="2026-09-01T00:00:00Z",
        created="2026-09-01T00:00:00Z",
    )  # fmt: skip
    revoked = old.new_version(revoked=True, modified="2026-09-20T00:00:00Z")
    # Whatever the order in the bundle, the latest version is the indicator.
    for objects in ((old, revoked), (revoked, old)):
        raw = read_stix(_bundle_file(tmp_path, actor, *objects))
        assert raw.num_rows == 0
    # A newer version that changes the address replaces the old address.
    moved = old.new_version(
        pattern="[ipv4-addr:value = '198.51.100.8']", modified="2026-09-20T00:00:00Z"
    )
    raw = read_stix(_bundle_file(tmp_path, moved, old))
    assert raw.column("value").to_pylist() == ["198.51.100.8"]
    # A revoked relationship no longer names the actor.
    rel = stix2.Relationship(old, "indicates", actor, modified="2026-09-01T00:00:00Z")
    raw = read_stix(_bundle_file(tmp_path, actor, old, rel.new_version(revoked=True)))
    assert raw.column("actor").to_pylist() == [None]


def test_a_revocation_wins_a_tie_and_a_foreign_object_shadows_nothing(tmp_path: Path) -> None:
    stamp = "2026-09-01T00:00:00Z"
    old = stix2.Indicator(
        pattern="[ipv4-addr:value = '198.51.100.7']", pattern_type="stix",
        valid_from=stamp, modified=stamp, created=stamp,
    )  # fmt: skip
    # The same ``modified`` (a producer's clock, a merged bundle): a revocation
    # is final, whatever the order; so is one older than a live version.
    same = stix2.Indicator(
        id=old.id, pattern=old.pattern, pattern_type="stix", valid_from=stamp,
        created=stamp, modified=stamp, revoked=True,
    )  # fmt: skip
    later = old.new_version(modified="2026-09-20T00:00:00Z")
    for objects in ((old, same), (same, old), (same, later), (later, same)):
        assert read_stix(_bundle_file(tmp_path, *objects)).num_rows == 0
    # A custom object under the indicator's id is no version of it.
    custom = {
        "type": "x-shadow", "id": old.id, "spec_version": "2.1",
        "created": stamp, "modified": "2027-01-01T00:00:00Z",
    }  # fmt: skip
    raw = read_stix(_bundle_file(tmp_path, old, custom))
    assert raw.column("value").to_pylist() == ["198.51.100.7"]


def stix_indicator(
    address: str, valid_from: str = "2026-09-01T00:00:00Z", valid_until: str | None = None
) -> stix2.Indicator:
    """A STIX indicator of one IPv4 address (shared with test_enrich_feeds)."""
    return stix2.Indicator(
        pattern=f"[ipv4-addr:value = '{address}']", pattern_type="stix",
        valid_from=valid_from, valid_until=valid_until,
    )  # fmt: skip


def test_expired_and_not_yet_valid_indicators_do_not_match(tmp_path: Path) -> None:
    path = _bundle_file(
        tmp_path,
        stix_indicator("192.0.2.1", "2026-01-01T00:00:00Z", "2026-02-01T00:00:00Z"),  # expired
        stix_indicator("192.0.2.2", "2026-11-01T00:00:00Z", None),  # not yet valid
        stix_indicator("192.0.2.3", "2026-10-01T00:00:00Z", "2026-10-15T00:00:01Z"),  # valid
        stix_indicator("192.0.2.4", "2026-10-01T00:00:00Z", "2026-10-15T00:00:00Z"),  # ends at now
    )
    report = LoadReport("f")
    hits = _index(read_stix(path), report).match_ips([f"192.0.2.{i}" for i in range(1, 5)])
    assert hits.column("ip").to_pylist() == ["192.0.2.3"]
    assert report.refused == {"expired": 2, "not_yet_valid": 1}
    assert report.indicators == 1
    # A CSV's last_seen is a sighting, not an expiry: old sightings still count.
    csv_path = tmp_path / "intel.csv"
    csv_path.write_text("ip,first_seen,last_seen\n192.0.2.9,2020-01-01,2020-02-01\n")
    report = LoadReport("f")
    assert _index(read_csv(csv_path), report).match_ips(["192.0.2.9"]).num_rows == 1


def test_grouped_set_and_subset_patterns_are_address_lists() -> None:
    assert stix_pattern_addresses(
        "([ipv4-addr:value = '192.0.2.1'] OR [ipv6-addr:value = '2001:db8::1'])"
    ) == ["192.0.2.1", "2001:db8::1"]
    assert stix_pattern_addresses(
        "[(ipv4-addr:value = '192.0.2.1' OR ipv4-addr:value = '192.0.2.2')]"
    ) == ["192.0.2.1", "192.0.2.2"]
    assert stix_pattern_addresses("[ipv4-addr:value IN ('192.0.2.1', '192.0.2.2')]") == [
        "192.0.2.1",
        "192.0.2.2",
    ]
    assert stix_pattern_addresses("[ipv4-addr:value ISSUBSET '198.51.100.0/24']") == [
        "198.51.100.0/24"
    ]
    # stix2's parser drops these NOTs: read as written they would mean the opposite.
    assert stix_pattern_addresses("[ipv4-addr:value NOT ISSUBSET '198.51.100.0/24']") is None
    assert stix_pattern_addresses("[ipv4-addr:value NOT IN ('192.0.2.1')]") is None
    assert stix_pattern_addresses("[ipv4-addr:value ISSUPERSET '192.0.2.1']") is None
    assert stix_pattern_addresses("[ipv4-addr:value IN ('192.0.2.1', 5)]") is None
    # NOT inside a quoted value is not the keyword.
    assert stix_pattern_addresses("[ipv4-addr:value = '192.0.2.1'] OR [ipv4-addr:value = 'NOT']")


def test_one_invalid_stix_object_is_skipped_not_the_feed(tmp_path: Path) -> None:
    good = json.loads(stix_indicator("192.0.2.1").serialize())
    bad = {**good, "id": "indicator--0b7c3cc1-61cf-4d5b-8b3c-6e3e1a3f5b01"}
    bad["pattern"] = "[ipv4-addr:value = '192.0.2.2'"
    wrong = {**good, "id": "indicator--0b7c3cc1-61cf-4d5b-8b3c-6e3e1a3f5b02", "confidence": "x"}
    path = tmp_path / "bundle.json"
    path.write_text(json.dumps({"type": "bundle", "id": f"bundle--{good['id'][11:]}",
                                "objects": [bad, good, wrong, 7]}))  # fmt: skip
    raw, errors = read_stix_objects(path)
    assert raw.column("value").to_pylist() == ["192.0.2.1"]
    assert len(errors) == 1 and errors[0].startswith(
        "bundle.json: 3 invalid STIX object(s) skipped"
    )
    assert "\n" not in errors[0] and len(errors[0]) < 300
    path.write_text(json.dumps([{"type": "x"}]))
    with pytest.raises(FeedFormatError, match=r"bundle\.json: not a STIX 2\.1 bundle"):
        read_stix_objects(path)


def test_hostile_csv_values_are_dropped_not_raised(tmp_path: Path) -> None:
    path = tmp_path / "intel.csv"
    path.write_text(
        "ip,confidence,first_seen,last_seen\n"
        "192.0.2.1,inf,99999999999999999999,0001-01-01T00:00:00+05:00\n"
        "192.0.2.2,1e999,9999-12-31T23:00:00-05:00,nan\n"
        "192.0.2.3,nan," + "9" * 5000 + ",2026-09-01\n"
    )
    rows = read_csv(path).to_pylist()
    assert [r["value"] for r in rows] == ["192.0.2.1", "192.0.2.2", "192.0.2.3"]
    assert {(r["confidence"], r["first_seen"]) for r in rows} == {(None, None)}
    assert rows[2]["last_seen"] == dt.datetime(2026, 9, 1, tzinfo=UTC)
    path.write_text("ip,actor\n192.0.2.1," + "x" * 200_000 + "\n")
    with pytest.raises(FeedFormatError, match=r"intel\.csv:\d+: not a CSV feed: field larger"):
        read_csv(path)


def test_a_byte_order_mark_is_not_part_of_the_first_value(tmp_path: Path) -> None:
    plain = tmp_path / "list.txt"
    plain.write_bytes("\ufeff192.0.2.1\n192.0.2.2\n".encode())
    report = LoadReport("p")
    assert to_indicators(read_plain(plain), "p", report).num_rows == 2
    assert report.refused == {}
    table = tmp_path / "intel.csv"
    table.write_bytes("\ufeffip,actor\n192.0.2.1,Night Owl\n".encode())
    assert read_csv(table).column("actor").to_pylist() == ["Night Owl"]


def test_misp_event_of_the_wrong_shape_is_skipped_and_named(tmp_path: Path) -> None:
    write_misp_feed(tmp_path / "misp")
    uuid = "5f1c2a3b-0000-4000-8000-000000000002"
    (tmp_path / "misp" / f"{uuid}.json").write_text(json.dumps({"Event": {"Tag": "x"}}))
    raw, errors = read_misp(tmp_path / "misp")
    assert errors == [f"{uuid}.json: not a MISP event (unexpected JSON structure)"]
    assert raw.num_rows == 4
    (tmp_path / "misp" / f"{uuid}.json").write_text(json.dumps({"Event": [1]}))
    assert read_misp(tmp_path / "misp")[1] == errors


def test_a_feed_file_over_the_size_limit_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(intel, "MAX_FEED_BYTES", 64)
    path = tmp_path / "big.txt"
    path.write_text("192.0.2.1\n" * 10)
    with pytest.raises(FeedFormatError, match=r"big\.txt: larger than 64 bytes \(100\)"):
        read_plain(path)
