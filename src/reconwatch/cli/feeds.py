"""``reconwatch feeds``: download the configured threat-intelligence feeds."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from reconwatch.cli.common import config_option
from reconwatch.cli_errors import config_from, fail
from reconwatch.report.text import clean


@click.group()
def feeds() -> None:
    """Threat-intelligence feeds: download the configured ones into the local cache."""


@feeds.command("update")
@config_option
def feeds_update(config_path: Path | None) -> None:
    """Download every configured feed (ETag / If-Modified-Since); hunts read only the cache."""
    from reconwatch.enrich import update_feeds

    config = config_from(config_path)
    if not config.enrich.feeds:
        fail("no feed is configured (enrich.feeds in the config file)")
    report = update_feeds(config.enrich)
    for feed in report.feeds:
        note = f": {clean(str(feed.error), 300)}" if feed.error else ""
        click.echo(f"{feed.feed}: {feed.status}{note}")
    if not report.ok:
        sys.exit(1)
