"""``reconwatch config`` and ``reconwatch formats``: what reconwatch would use."""

from __future__ import annotations

from pathlib import Path

import click

from reconwatch.cli.common import config_option
from reconwatch.cli_errors import config_from


@click.command("config")
@config_option
def show_config(config_path: Path | None) -> None:
    """Print the effective configuration (defaults merged with --config) as YAML."""
    import yaml

    click.echo(yaml.safe_dump(config_from(config_path).model_dump(mode="json"), sort_keys=False))


@click.command()
def formats() -> None:
    """List the input formats and what each one reads."""
    from reconwatch.ingest.registry import PARSERS

    width = max(len(p.name) for p in PARSERS)
    click.echo(f"{'format':{width}} {'table':8} reads (--format NAME; auto sniffs them all)")
    for parser in PARSERS:
        doc = (parser.__doc__ or "").strip().splitlines()[0] if parser.__doc__ else ""
        # Docstrings are reStructuredText: ``name`` reads as `name` on a terminal.
        click.echo(f"{parser.name:{width}} {parser.table:8} {doc.replace('``', '`')}")
