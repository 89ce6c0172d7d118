"""The respond section is validated when the config is read, never at the end of a hunt.

Every setting a rule writer needs is checked by ``reconwatch config`` (and
before a hunt starts): a config that passes must not make ``write_rules``
raise after the whole hunt ran.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from reconwatch.cli import main
from reconwatch.config import ConfigError, load_config
from reconwatch.respond import build_blocklist
from reconwatch.respond.blocklist import BlockRequest
from reconwatch.respond.containment import write_rules
from reconwatch.respond.protect import ProtectedRanges
from reconwatch.respond.writers_vendor import VENDOR_FILES


def config_file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "reconwatch.yaml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("respond", "message"),
    [
        (
            "writers: [aws_nacl]",
            "respond: Value error, the aws_nacl writer needs respond.aws_network_acl_id",
        ),
        ("writers: [pf, aws_nacl, crowdsec]", "needs respond.aws_network_acl_id"),
        ("nft_table: table", "respond.nft_table 'table' is an nft keyword"),
        ("nft_table: Set", "respond.nft_table 'Set' is an nft keyword"),
        ("max_entries: 70000", "respond.max_entries: Input should be less than or equal to 65536"),
        ("asa_access_list: outside access in", "respond.asa_access_list: String should match"),
    ],
)
def test_settings_a_writer_needs_are_checked_up_front(
    tmp_path: Path, respond: str, message: str
) -> None:
    path = config_file(tmp_path, f"respond:\n  {respond}\n")
    with pytest.raises(ConfigError) as raised:
        load_config(path)
    text = str(raised.value)
    assert message in text
    assert "\n" not in text
    shown = CliRunner().invoke(main, ["config", "--config", str(path)])
    assert shown.exit_code == 2
    assert shown.output.count("\n") == 1
    assert message in shown.output
    assert "Traceback" not in shown.output


def test_a_config_that_passes_writes_every_file(tmp_path: Path) -> None:
    writers = ", ".join(VENDOR_FILES)
    path = config_file(
        tmp_path,
        "respond:\n"
        f"  writers: [{writers}]\n"
        "  aws_network_acl_id: acl-0123456789abcdef0\n"
        "  asa_access_list: OUTSIDE-IN\n",
    )
    config = load_config(path)
    plan = build_blocklist(
        [BlockRequest("198.51.100.7", "RW-1", "reconnaissance: vertical_scan", "high", 3600)],
        ProtectedRanges.from_site(config.site),
        config.respond.max_entries,
    )
    out = tmp_path / "out"
    out.mkdir()
    files = write_rules(plan, out, config)
    assert sorted(files.vendors) == sorted(VENDOR_FILES)
    assert "access-list OUTSIDE-IN line 1 extended deny" in files.vendors["asa"].read_text()
