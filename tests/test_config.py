"""The config file: defaults, overrides, and one-line errors naming the file and key."""

from __future__ import annotations

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
