"""Ingest: sniff each input's format, parse it into the normalised tables, count every line."""

from typing import Final

#: The format name that means "sniff each input" (``--format``'s default).
AUTO: Final = "auto"
