"""The Rich console every command prints its tables on.

A leaf module, as ``cli_errors``: the fronts that live beside their code
(``lake_cli``) use it without importing ``reconwatch.cli``.
"""

from __future__ import annotations

import os
from typing import Final

from rich.console import Console

#: The fewest columns a table printed anywhere but a terminal (files, CI
#: logs, pipes) is laid out at: Rich's own 80 cut the case ids and times.
PIPED_WIDTH: Final = 120
#: What each column adds to a Rich table's width: its border and two spaces
#: of padding (the table has one border more): for the tables that decide
#: which columns fit.
COLUMN_FRAME: Final = 3


def make_console(stderr: bool = False) -> Console:
    """A terminal's width on a terminal; elsewhere ``PIPED_WIDTH``, or
    ``COLUMNS`` when it asks for more (``COLUMNS=200 reconwatch hunt ... |
    less -S``). Never fewer: many environments export a ``COLUMNS`` of 80
    that says nothing about where the output goes (CI runners, containers)."""
    _drop_unreadable_sizes()
    console = Console(stderr=stderr, highlight=False)
    if console.is_terminal:
        return console
    return Console(stderr=stderr, highlight=False, width=max(PIPED_WIDTH, _columns() or 0))


def _columns() -> int | None:
    value = os.environ.get("COLUMNS", "").strip()
    return int(value) if _number(value) and int(value) > 0 else None


def _number(value: str) -> bool:
    """ASCII digits only: ``str.isdigit`` also holds for ``²``, which ``int`` refuses."""
    return value.isascii() and value.isdigit()


def _drop_unreadable_sizes() -> None:
    """Forget a ``COLUMNS`` or ``LINES`` that is no number, as a shell would.

    Rich reads both with ``isdigit`` then ``int``: ``COLUMNS=²`` made every
    command end in a ValueError traceback before printing anything.
    """
    for name in ("COLUMNS", "LINES"):
        value = os.environ.get(name)
        if value is not None and not _number(value.strip()):
            del os.environ[name]
