"""The known log formats, in sniffing order.

Order matters only where two formats could both claim a file: the more
specific format comes first.
"""

from __future__ import annotations

from collections.abc import Sequence

from reconwatch.ingest.base import Parser
from reconwatch.ingest.netfilter import NetfilterParser
from reconwatch.ingest.zeek import ZeekConnParser

PARSERS: tuple[type[Parser], ...] = (ZeekConnParser, NetfilterParser)

FORMATS: dict[str, type[Parser]] = {parser.name: parser for parser in PARSERS}


def sniff(sample: Sequence[str]) -> type[Parser] | None:
    """The first parser that recognises ``sample`` (a file's first non-blank lines)."""
    for parser in PARSERS:
        if parser.sniff(sample):
            return parser
    return None
