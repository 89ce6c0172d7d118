"""Click parameter types shared by the core commands and the fronts (``watch``, ``lake``).

A leaf module for the same reason as ``cli_errors``: ``reconwatch.cli``
registers the fronts when it is imported. It also keeps the command line
quick to start: the names behind ``--format`` (the parsers) and ``--dataset``
(the lake's tables) live in modules that import DuckDB and Arrow, about half
a second, so they are read only when an option is used or its help is shown,
not whenever any command runs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import click

from reconwatch.ingest import AUTO

__all__ = ["AUTO", "LazyChoice", "format_choice"]


class LazyChoice(click.Choice[str]):
    """``click.Choice`` over the names ``load`` returns, called each time they are needed."""

    def __init__(self, load: Callable[[], Iterable[str]]) -> None:
        self._load = load
        super().__init__((), case_sensitive=True)

    @property  # click sets it in __init__; here it is computed
    def choices(self) -> tuple[str, ...]:
        return tuple(self._load())

    @choices.setter
    def choices(self, _value: object) -> None:
        """Ignored: ``click.Choice.__init__`` assigns the (empty) tuple it was given."""


def _format_names() -> list[str]:
    from reconwatch.ingest.run import format_names

    return format_names()


def format_choice() -> LazyChoice:
    """``--format``: ``auto`` and every registered parser's name."""
    return LazyChoice(_format_names)
