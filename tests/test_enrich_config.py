"""The ``enrich`` config section: defaults, a full example, and errors naming the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconwatch.config import Config, ConfigError, load_config


def test_defaults_configure_nothing() -> None:
    enrich = Config().enrich
    assert enrich.feeds == []
    assert enrich.warninglists == []
    assert enrich.exercises is None
    assert (enrich.geo.city_mmdb, enrich.geo.asn_mmdb, enrich.geo.iptoasn) == (None, None, [])
    assert (enrich.min_prefix_ipv4, enrich.min_prefix_ipv6) == (8, 16)
    assert enrich.cache_dir == Path(".reconwatch/feeds")


def test_full_section_reads(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(
        """
enrich:
  cache_dir: /var/lib/rw
  feeds:
    - {name: drop, type: plain, url: "https://example.org/drop.txt", actor: Spamhaus}
    - {name: partner, type: csv, path: /srv/p.csv, csv: {ip: address, delimiter: ";"}}
    - {name: tx, type: taxii, url: "http://127.0.0.1:9000/api1/collections/x/",
       username: reader, password_env: RW_TAXII}
  warninglists: [/srv/w.json]
  exercises: /etc/ex.yaml
  geo: {asn_mmdb: /srv/asn.mmdb, iptoasn: [/srv/v4.tsv]}
"""
    )
    enrich = load_config(path).enrich
    assert [(f.name, f.type) for f in enrich.feeds] == [
        ("drop", "plain"),
        ("partner", "csv"),
        ("tx", "taxii"),
    ]
    assert enrich.feeds[1].csv.ip == "address"
    assert enrich.feeds[1].csv.delimiter == ";"
    assert enrich.feeds[2].password_env == "RW_TAXII"
    assert enrich.geo.iptoasn == [Path("/srv/v4.tsv")]


@pytest.mark.parametrize(
    ("feed", "message"),
    [
        ("{name: a, type: plain}", r"enrich\.feeds\.0: Value error, a feed needs exactly one"),
        (
            "{name: a, type: plain, path: /x, url: 'https://x/'}",
            r"enrich\.feeds\.0: Value error, a feed needs exactly one",
        ),
        ("{name: a, type: taxii, path: /x}", r"enrich\.feeds\.0: Value error, a taxii feed"),
        ("{name: ../a, type: plain, path: /x}", r"enrich\.feeds\.0\.name: String should match"),
        ("{name: a, type: rss, path: /x}", r"enrich\.feeds\.0\.type: Input should be"),
        ("{name: a, type: plain, url: 'file:///etc/passwd'}", r"enrich\.feeds\.0\.url: String"),
    ],
)
def test_bad_feed_names_the_key(tmp_path: Path, feed: str, message: str) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(f"enrich:\n  feeds:\n    - {feed}\n")
    with pytest.raises(ConfigError, match=message):
        load_config(path)
