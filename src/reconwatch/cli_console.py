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


def make_console(stderr: bool = False) -> Console:
    """A terminal's width on a terminal; elsewhere ``PIPED_WIDTH``, or
    ``COLUMNS`` when it asks for more (``COLUMNS=200 reconwatch hunt ... |
    less -S``). Never fewer: many environments export a ``COLUMNS`` of 80
    that says nothing about where the output goes (CI runners, containers)."""
    console = Console(stderr=stderr, highlight=False)
    if console.is_terminal:
        return console
    return Console(stderr=stderr, highlight=False, width=max(PIPED_WIDTH, _columns() or 0))


def _columns() -> int | None:
    value = os.environ.get("COLUMNS", "").strip()
    return int(value) if value.isdigit() and int(value) > 0 else None
