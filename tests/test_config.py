"""The config file: defaults, overrides, and one-line errors naming the file and key."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from reconwatch.config import Config, ConfigError, load_config


def test_defaults_match_the_documented_anchors() -> None:
    cfg = Config()
    assert cfg.detect.vertical_scan.min_ports == 16  # Zeek: more than 15
    assert cfg.detect.horizontal_scan.min_hosts == 26  # Zeek: more than 25
    assert cfg.detect.trw.theta0 == 0.8 and cfg.detect.trw.theta1 == 0.2
    assert cfg.syslog.timezone == "UTC"


def test_file_overrides_only_what_it_names(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(
        "detect:\n  vertical_scan:\n    min_ports: 20\nsite:\n  home_networks: [203.0.113.0/24]\n"
    )
    cfg = load_config(path)
    assert cfg.detect.vertical_scan.min_ports == 20
    assert cfg.detect.vertical_scan.window_seconds == 300
    assert cfg.site.home_networks == ["203.0.113.0/24"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("detect:\n  vertical_scan:\n    min_port: 3\n", r"detect\.vertical_scan\.min_port"),
        ("site:\n  home_networks: [10.0.0.1/8]\n", r"site\.home_networks"),
        ("syslog:\n  timezone: Mars/Olympus\n", r"syslog\.timezone"),
        ("detect: [1, 2\n", r"c\.yaml:\d+: not valid YAML"),
        ("- a\n- b\n", r"top level must be a mapping"),
        ("netfilter:\n  default_action: maybe\n", r"netfilter\.default_action"),
        # Ranges that are never blocked must not cover a whole address family.
        ("site:\n  protected: [0.0.0.0/0]\n", r"site\.protected: .*every address \(0\.0\.0\.0/0\)"),
        ("site:\n  protected: ['::/0']\n", r"site\.protected: .*every address \(::/0\)"),
        ("site:\n  protected: [0.0.0.0/1, 128.0.0.0/1]\n", r"site\.protected: .*0\.0\.0\.0/0"),
        ("site:\n  home_networks: ['::/0']\n", r"site\.home_networks: .*every address"),
        (
            "site:\n  home_networks: [0.0.0.0/1]\n  protected: [128.0.0.0/1]\n",
            r"site: .*home_networks and protected together cover every address",
        ),
        ("site:\n  internal_only: [0.0.0.0/0]\n", r"site\.internal_only: .*every address"),
        ("detect:\n  traffic_spike:\n    min_ratio: 0.5\n", r"detect\.traffic_spike\.min_ratio"),
        ("site:\n  internal_zones: ['.']\n", r"site\.internal_zones: .*empty"),
        ("site:\n  private_suffixes: [lan, '']\n", r"site\.private_suffixes: .*empty"),
        # Years a lake timestamp can hold.
        ("syslog:\n  year: 99999\n", r"syslog\.year: .*9999"),
        ("syslog:\n  year: 0\n", r"syslog\.year: .*greater than or equal to 1"),
        ("syslog:\n  year: -2024\n", r"syslog\.year"),
        # A partial table would fail the hunt on the first case of a missing severity.
        ("respond:\n  block_for_seconds: {low: 60}\n", r"respond\.block_for_seconds: .*medium"),
        # inf passed every gt=0 bound; nan is no threshold either.
        ("detect:\n  traffic_spike:\n    k: .inf\n", r"detect\.traffic_spike\.k: .*finite"),
        ("enrich:\n  timeout_seconds: .inf\n", r"enrich\.timeout_seconds"),
        ("watch:\n  update_growth: .nan\n", r"watch\.update_growth"),
        # DuckDB cannot run the detections in nothing; AWS rule numbers end at 32766.
        ("engine:\n  memory_limit: 0MB\n", r"engine\.memory_limit: .*at least 16MB"),
        ("engine:\n  memory_limit: 900KiB\n", r"engine\.memory_limit: .*too little"),
        (
            "respond:\n  aws_first_rule_number: 32760\n  aws_max_rules: 18\n",
            r"respond: .*rule numbers end at 32766",
        ),
        ("detect:\n  distributed_scan:\n    max_overlap: .inf\n", r"max_overlap"),
        # Hosts of one /24: more than 256 can never be reached.
        ("detect:\n  distributed_scan:\n    min_member_hosts: 300\n", r"min_member_hosts"),
        ("detect:\n  distributed_scan:\n    min_total_hosts: 257\n", r"min_total_hosts"),
        # A control character: the reader's error has no mark, only a position.
        ("syslog:\n  timezone: UTC\nx: \x01\n", r"c\.yaml:3: not valid YAML"),
    ],
)
def test_bad_config_is_one_clear_line(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message) as info:
        load_config(path)
    assert str(path) in str(info.value)
    assert "\n" not in str(info.value)


def test_missing_config_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read config"):
        load_config(tmp_path / "absent.yaml")


def test_config_that_is_not_utf8_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_bytes(b"site:\n  internal_zones: [caf\xe9]\n")  # Latin-1, not UTF-8
    with pytest.raises(
        ConfigError, match=r"c\.yaml:2: not valid YAML \(not UTF-8: byte 0xe9"
    ) as info:
        load_config(path)
    assert "\n" not in str(info.value)
    path.write_bytes(b"\xff\xfe\x00x: [\n")  # the reviewer's file
    with pytest.raises(ConfigError, match=r"c\.yaml:1: not valid YAML .*offset 0"):
        load_config(path)


def test_config_with_utf8_bom_is_read(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_bytes(b"\xef\xbb\xbfsyslog:\n  timezone: Europe/Paris\n")
    assert load_config(path).syslog.timezone == "Europe/Paris"


def test_unreadable_config_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigError, match=r"cannot read config: Is a directory") as info:
        load_config(tmp_path)
    assert "\n" not in str(info.value)
    path = tmp_path / "c.yaml"
    path.write_text("syslog:\n  year: 2024\n")

    def denied(self: Path) -> bytes:  # chmod does not stop root, who runs CI here
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(Path, "read_bytes", denied)
    with pytest.raises(ConfigError, match=r"c\.yaml: cannot read config: Permission denied"):
        load_config(path)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        # The second block silently replaced the first: min_ports fell back to 16.
        (
            "detect:\n  vertical_scan: {min_ports: 40}\n  vertical_scan: {window_seconds: 600}\n",
            "c.yaml:3: duplicate key 'vertical_scan' (first on line 2)",
        ),
        # Two site blocks: the home networks of the first were lost.
        (
            "site:\n  home_networks: [10.0.0.0/8]\ndetect: {}\nsite:\n  protected: []\n",
            "c.yaml:4: duplicate key 'site' (first on line 1)",
        ),
        (
            "detect:\n  vertical_scan:\n    min_ports: 40\n    min_ports: 4\n",
            "c.yaml:4: duplicate key 'min_ports' (first on line 3)",
        ),
    ],
)
def test_a_key_given_twice_is_refused_naming_file_line_and_key(
    tmp_path: Path, text: str, message: str
) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert str(caught.value) == f"{tmp_path / message}"


def test_merge_keys_may_still_be_overridden(tmp_path: Path) -> None:
    # YAML's own way to repeat a key on purpose: the mapping's own key wins.
    path = tmp_path / "c.yaml"
    path.write_text(
        "detect:\n"
        "  vertical_scan: &scan {window_seconds: 600, min_ports: 40}\n"
        "  block_scan:\n    <<: *scan\n    min_ports: 7\n"
    )
    detect = load_config(path).detect
    assert (detect.vertical_scan.window_seconds, detect.vertical_scan.min_ports) == (600, 40)
    assert (detect.block_scan.window_seconds, detect.block_scan.min_ports) == (600, 7)


def test_deeply_nested_config_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("detect: " + "[" * 5000 + "\n")
    with pytest.raises(ConfigError, match=r"c\.yaml: not valid YAML"):
        load_config(path)


@pytest.mark.parametrize(
    "text",
    [
        "syslog:\n  year: 1\n",
        "syslog:\n  year: 9999\n",
        "syslog:\n  year: null\n",
        "site:\n  protected: [0.0.0.0/1, '2000::/3']\n  home_networks: [10.0.0.0/8]\n",
        "respond:\n  block_for_seconds: {low: 60, medium: 60, high: 60, critical: 60}\n",
        "detect:\n  distributed_scan:\n    min_member_hosts: 256\n    min_total_hosts: 256\n",
        "engine:\n  memory_limit: 16MB\n",
        "engine:\n  memory_limit: 1.5 GiB\n",
        "respond:\n  aws_first_rule_number: 32749\n  aws_max_rules: 18\n",
    ],
)
def test_limits_themselves_are_accepted(tmp_path: Path, text: str) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(text)
    load_config(path)


def _number_fields() -> list[tuple[str, ...]]:
    """The path of every int or float setting of the config (optional ones too)."""
    from pydantic import BaseModel

    from reconwatch.config import _numeric

    found: list[tuple[str, ...]] = []

    def walk(model: type[BaseModel], path: tuple[str, ...]) -> None:
        for name, field in model.model_fields.items():
            kind = field.annotation
            if isinstance(kind, type) and issubclass(kind, BaseModel):
                walk(kind, (*path, name))
            elif _numeric(kind):
                found.append((*path, name))

    walk(Config, ())
    return found


def test_every_number_setting_refuses_a_boolean(tmp_path: Path) -> None:
    """``min_ports: true`` is a typo, not a threshold of 1 (bool is an int to pydantic)."""
    fields = _number_fields()
    assert ("detect", "vertical_scan", "min_ports") in fields
    assert ("detect", "traffic_spike", "min_ratio") in fields
    assert len(fields) > 40
    for path in fields:
        text = ""
        for depth, key in enumerate(path):
            text += "  " * depth + key + (": true\n" if depth == len(path) - 1 else ":\n")
        config = tmp_path / "c.yaml"
        config.write_text(text)
        key = re.escape(".".join(path))
        with pytest.raises(ConfigError, match=rf"{key}: .*a number, not true"):
            load_config(config)


def test_a_map_of_numbers_refuses_a_boolean_value(tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    config.write_text(
        "respond:\n  block_for_seconds: {low: true, medium: 60, high: 60, critical: 60}\n"
    )
    with pytest.raises(ConfigError, match=r"respond\.block_for_seconds: .*low: a number, not true"):
        load_config(config)


def test_a_yes_no_setting_still_takes_a_boolean(tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    config.write_text("detect:\n  dns_bruteforce:\n    require_response_code: true\n")
    assert load_config(config).detect.dns_bruteforce.require_response_code is True


def test_ipv4_mapped_ranges_protect_the_ipv4_addresses_they_hold(tmp_path: Path) -> None:
    """Log addresses are unwrapped (::ffff:a.b.c.d is a.b.c.d): config ranges must be too."""
    from reconwatch.respond.protect import ProtectedRanges

    config = tmp_path / "c.yaml"
    config.write_text(
        "site:\n"
        '  protected: ["::ffff:198.51.100.53/128", "::ffff:198.51.100.0/125", "2001:db8::/32"]\n'
        '  home_networks: ["::ffff:10.0.0.0/104"]\n'
    )
    site = load_config(config).site
    assert site.protected == ["198.51.100.53/32", "198.51.100.0/29", "2001:db8::/32"]
    assert site.home_networks == ["10.0.0.0/8"]
    ranges = ProtectedRanges.from_site(site)
    import ipaddress

    for address in ("198.51.100.53", "198.51.100.7", "10.1.2.3"):
        assert ranges.check(ipaddress.ip_network(address)) is not None, address
    assert ranges.check(ipaddress.ip_network("198.51.100.9")) is None


def test_a_zone_id_in_a_range_is_refused(tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    config.write_text('site:\n  protected: ["fe80::1%eth0/128"]\n')
    with pytest.raises(ConfigError, match=r"site\.protected: .*zone ids"):
        load_config(config)
