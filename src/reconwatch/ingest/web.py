"""Parsers of the web family (being written)."""

from __future__ import annotations

from reconwatch.ingest.base import Parser

PARSERS: tuple[type[Parser], ...] = ()
