"""Parsers of the firewalls family (being written)."""

from __future__ import annotations

from reconwatch.ingest.base import Parser

PARSERS: tuple[type[Parser], ...] = ()
