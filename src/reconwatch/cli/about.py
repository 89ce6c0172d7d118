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

    for parser in PARSERS:
        doc = (parser.__doc__ or "").strip().splitlines()[0] if parser.__doc__ else ""
        click.echo(f"{parser.name:12} {parser.table:8} {doc}")
