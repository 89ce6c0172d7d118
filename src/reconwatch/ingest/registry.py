"""The known log formats, in sniffing order.

Each family module (``zeek``, ``ids``, ``netfilter``...) lists its parsers in
``PARSERS``. Order matters only where two formats could both claim a file: the
families with the most specific markers (Zeek headers, JSON keys) come first,
line formats with loose markers (syslog-borne firewall lines) last.
"""

from __future__ import annotations

from collections.abc import Sequence

from reconwatch.ingest import (
    auth,
    dns,
    firewalls,
    honeypot,
    ids,
    mapping,
    netfilter,
    syslogmux,
    web,
    zeek,
)
from reconwatch.ingest.base import Parser

# The syslog multiplexer goes first: it claims only files whose first lines come
# from programs of several parsers, and hands each line to its program's parser.
_FAMILIES = (syslogmux, zeek, ids, honeypot, dns, web, auth, firewalls, netfilter, mapping)

PARSERS: tuple[type[Parser], ...] = tuple(p for family in _FAMILIES for p in family.PARSERS)

FORMATS: dict[str, type[Parser]] = {parser.name: parser for parser in PARSERS}


def sniff(sample: Sequence[str]) -> type[Parser] | None:
    """The first parser that recognises ``sample`` (a file's first non-blank lines)."""
    for parser in PARSERS:
        if parser.sniff(sample):
            return parser
    # Syslog lines that no parser recognised (a kern.log or messages file that
    # starts with the kernel's boot messages, a relay file of cron jobs): the
    # lines further down may still be packets, logins or queries, which the
    # multiplexer hands to their programs' parsers. The rest it rejects with
    # the reason "syslog program without a parser", not "format not recognised".
    if any(syslogmux.program_of(line) is not None for line in sample):
        return syslogmux.SyslogMuxParser
    return None
