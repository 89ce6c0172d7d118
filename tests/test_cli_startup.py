"""The command line starts without loading the engine: names are looked up when used.

``reconwatch --help``, ``cases list`` and ``block plan`` should answer at once;
DuckDB, Arrow, Ibis and the exporters are imported by the commands that need
them. The option types that read their names late (``--format``,
``--dataset``, ``demo --size``) still check and show the same values.
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from reconwatch.cli import main
from reconwatch.generate import ALL_FAMILIES, min_sample_size
from reconwatch.ingest.registry import FORMATS
from reconwatch.lake import PARTITION
from reconwatch.store import HEAD_REVISION, CaseStore, StoreError

#: Libraries no command needs before it runs.
HEAVY = ("duckdb", "pyarrow", "ibis", "pandas", "numpy", "alembic", "sqlalchemy", "stix2")


def _loaded_after(code: str) -> list[str]:
    """Which of HEAVY a fresh interpreter has loaded after running ``code``."""
    probe = f"{code}\nimport sys\nprint(' '.join(m for m in {HEAVY!r} if m in sys.modules))"
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    return out.stdout.split()


def test_importing_the_command_line_loads_no_engine() -> None:
    assert _loaded_after("import reconwatch.cli") == []


def test_help_of_every_command_group_loads_no_engine() -> None:
    code = (
        "from click.testing import CliRunner\n"
        "from reconwatch.cli import main\n"
        "for args in (['--help'], ['cases', '--help'], ['block', '--help'],"
        " ['export', '--help'], ['lake', '--help']):\n"
        "    assert CliRunner().invoke(main, args).exit_code == 0, args"
    )
    assert _loaded_after(code) == []


def test_format_option_checks_and_lists_every_parser() -> None:
    runner = CliRunner()
    bad = runner.invoke(main, ["hunt", "--format", "no-such-format", "x.log"])
    assert bad.exit_code == 2
    assert "no-such-format" in bad.output and "netfilter" in bad.output and "auto" in bad.output
    shown = runner.invoke(main, ["hunt", "--help"])
    assert shown.exit_code == 0
    for name in ("auto", *FORMATS):
        assert name in shown.output, name


def test_watch_format_option_is_the_same_choice() -> None:
    bad = CliRunner().invoke(main, ["watch", "--format", "no-such-format", "x.log"])
    assert bad.exit_code == 2 and "zeek-conn" in bad.output


def test_format_option_passes_a_known_name_through(tmp_path: Path) -> None:
    log = tmp_path / "kern.log"
    log.write_text(
        "Sep 30 10:09:23 fw kernel: [UFW BLOCK] IN=eth0 OUT= SRC=203.0.113.9 DST=10.0.0.5 "
        "LEN=44 TTL=43 ID=1 PROTO=TCP SPT=5000 DPT=22 WINDOW=1024 RES=0x00 SYN URGP=0\n"
    )
    result = CliRunner().invoke(
        main, ["ingest", "--format", "netfilter", "--lake", str(tmp_path / "lake"), str(log)]
    )
    assert result.exit_code == 0, result.output
    assert "netfilter" in result.output


def test_demo_size_minimum_is_the_generators() -> None:
    minimum = min_sample_size(ALL_FAMILIES)
    runner = CliRunner()
    too_small = runner.invoke(main, ["demo", "--size", str(minimum - 1)])
    assert too_small.exit_code == 2
    assert f"x>={minimum}" in too_small.output
    assert f"x>={minimum}" in runner.invoke(main, ["demo", "--help"]).output


def test_lake_dataset_option_lists_the_lake_tables(tmp_path: Path) -> None:
    bad = CliRunner().invoke(main, ["lake", "info", str(tmp_path), "--dataset", "nope"])
    assert bad.exit_code == 2
    for table in PARTITION:
        assert table in bad.output, table


def test_head_revision_is_the_migrations_head() -> None:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    from reconwatch.store import MIGRATIONS

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    assert ScriptDirectory.from_config(config).get_current_head() == HEAD_REVISION


def test_an_up_to_date_store_opens_without_alembic(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cases.db'}"
    code = f"from reconwatch.store import CaseStore\nCaseStore({url!r}).close()"
    assert "alembic" not in _loaded_after(code)  # a new store: made from the models
    code = f"from reconwatch.store import CaseStore\nCaseStore({url!r}, create=False).close()"
    assert "alembic" not in _loaded_after(code)


def test_a_store_from_a_newer_version_is_a_one_line_error(tmp_path: Path) -> None:
    path = tmp_path / "cases.db"
    CaseStore(f"sqlite:///{path}").close()
    with sqlite3.connect(path) as db:
        db.execute("UPDATE alembic_version SET version_num = '9999'")
    with pytest.raises(StoreError, match=r"cannot open case store .*9999"):
        CaseStore(f"sqlite:///{path}")
