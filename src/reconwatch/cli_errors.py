"""How every command reports an error the user can fix: one cleaned line, exit 2.

Shared by the core commands (``reconwatch.cli``) and the fronts that live
beside their code (``lake_cli``, ``watch/cli``, ``web/cli``). A leaf module on
purpose: ``reconwatch.cli`` registers the fronts when it is imported, so a
front importing ``reconwatch.cli.common`` would import itself half-built.
Only click and the text cleaner are imported; the config lazily.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import click

from reconwatch.report.text import clean

if TYPE_CHECKING:
    from reconwatch.config import Config


def fail(message: str) -> NoReturn:
    """Print ``reconwatch: error: MESSAGE`` on stderr and exit 2.

    One line, cleaned: the message may quote a file name, a URL or text from
    a log, none of which may reach the terminal raw.
    """
    click.echo(f"reconwatch: error: {clean(message, 1000)}", err=True)
    sys.exit(2)


def config_from(path: Path | None) -> Config:
    """The configuration (defaults merged with ``path``), or a one-line error."""
    from reconwatch.config import ConfigError, load_config

    try:
        return load_config(path)
    except ConfigError as exc:
        fail(str(exc))
