"""The ``reconwatch`` command. Subcommands stay thin: each calls one pipeline function.

The commands live by theme: ``hunting`` (hunt, ingest, demo), ``cases``,
``block``, ``feeds``, ``about`` (config, formats); what they share (one-line
errors, the console, config loading, common options) is in ``common``. The
fronts with heavy dependencies (export, lake, watch, serve, users) live beside
their code and import those dependencies only when run.
"""

from __future__ import annotations

import click

from reconwatch import __version__
from reconwatch.cli.about import formats, show_config
from reconwatch.cli.block import block
from reconwatch.cli.cases import cases
from reconwatch.cli.feeds import feeds
from reconwatch.cli.hunting import SAMPLE_DIRS, demo, hunt, ingest

__all__ = ["SAMPLE_DIRS", "main"]


#: The exit status after Ctrl-C: 128 + SIGINT, as shells report an interrupted command.
INTERRUPTED_EXIT = 130


class _Main(click.Group):
    """The root group: Ctrl-C in a command ends it with one line and status 130
    (click's own handling says "Aborted!" with status 1, as for any abort)."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt:
            click.echo("\nreconwatch: interrupted", err=True)
            ctx.exit(INTERRUPTED_EXIT)


@click.group(cls=_Main, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="reconwatch")
def main() -> None:
    """Hunt IP-address reconnaissance (ATT&CK T1590.005, T1595) in firewall and sensor logs."""


def _register() -> None:
    from reconwatch.export.cli import export
    from reconwatch.lake_cli import lake
    from reconwatch.watch.cli import watch as watch_command
    from reconwatch.web.cli import serve, users

    for command in (hunt, ingest, demo, cases, block, feeds, show_config, formats):
        main.add_command(command)
    for command in (export, lake, watch_command, serve, users):
        main.add_command(command)


_register()
