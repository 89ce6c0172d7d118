"""The console commands print tables on: 120 columns when piped, unless COLUMNS says."""

from __future__ import annotations

import pytest

from reconwatch.cli_console import PIPED_WIDTH, make_console


@pytest.fixture(autouse=True)
def _piped(monkeypatch: pytest.MonkeyPatch) -> None:
    """Output is captured (not a terminal) and nothing forces one."""
    for name in ("COLUMNS", "FORCE_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE"):
        monkeypatch.delenv(name, raising=False)


def test_piped_output_is_laid_out_at_120_columns() -> None:
    console = make_console()
    assert not console.is_terminal
    assert console.width == PIPED_WIDTH == 120
    assert make_console(stderr=True).width == PIPED_WIDTH


@pytest.mark.parametrize(("columns", "width"), [("200", 200), (" 150 ", 150), ("80", 120),
                                                ("abc", 120), ("0", 120), ("-5", 120),
                                                ("", 120)])  # fmt: skip
def test_columns_widens_piped_output_never_narrows_it(
    monkeypatch: pytest.MonkeyPatch, columns: str, width: int
) -> None:
    """``COLUMNS=200 reconwatch hunt ... | less -S``: the whole case table,
    wide. A ``COLUMNS=80`` that a CI runner or container exports says nothing
    about a log file, and would cut warnings and tables: 120 still."""
    monkeypatch.setenv("COLUMNS", columns)
    assert make_console().width == width


@pytest.mark.parametrize("value", ["²", "٣", "12²"])
def test_a_size_that_is_no_ascii_number_is_ignored_not_a_crash(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    """Rich reads COLUMNS and LINES with ``isdigit`` then ``int``; ``²``
    passes the first and fails the second: every command ended in a
    traceback. Only ASCII digits are a size (``int`` reads ``٣`` as 3, which
    no shell would export): the others are ignored, as any non-number."""
    from click.testing import CliRunner

    from reconwatch.cli import main

    monkeypatch.setenv("COLUMNS", value)
    monkeypatch.setenv("LINES", value)
    assert make_console().width == PIPED_WIDTH
    result = CliRunner().invoke(main, ["formats"], env={"COLUMNS": value, "LINES": value})
    assert result.exit_code == 0 and result.exception is None, result.output
    assert "netfilter" in result.output
