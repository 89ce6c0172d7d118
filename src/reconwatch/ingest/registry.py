"""The known log formats, in sniffing order.

Each family module (``zeek``, ``ids``, ``netfilter``...) lists its parsers in
``PARSERS``. Order matters only where two formats could both claim a file: the
families with the most specific markers (Zeek headers, JSON keys) come first,
line formats with loose markers (syslog-borne firewall lines) last.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Final

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
from reconwatch.ingest.syslog import BSD_STAMP, PRI

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
    # starts with the kernel's boot messages, a /var/log/syslog that starts
    # with systemd and cron after rotation): the lines further down may still
    # be packets, logins or queries, which the multiplexer hands to their
    # programs' parsers. When most sampled lines are syslog and either one of
    # their programs has a parser, or they are unmistakably syslog (a classic
    # or RFC 5424 stamp, or a ``prog[pid]:`` tag): an application log whose
    # lines merely look like syslog (``2024-05-01T10:00:01Z INFO main: started``)
    # stays "not recognised".
    programs = [syslogmux.program_of(line) for line in sample]
    tagged = [p for p in programs if p is not None]
    if 2 * len(tagged) <= len(sample):
        return None
    if any(p in syslogmux.claimants() for p in tagged):
        return syslogmux.SyslogMuxParser
    if 2 * sum(1 for line in sample if _UNMISTAKABLE.match(line)) > len(sample):
        return syslogmux.SyslogMuxParser
    return None


#: A syslog line no other log looks like: a classic (RFC 3164) stamp, an RFC
#: 5424 header, or any stamp followed by a host and a ``program[pid]:`` tag.
_UNMISTAKABLE: Final = re.compile(
    rf"^(?:<\d{{1,3}}>\d+ |{PRI}(?:{BSD_STAMP} |\S+ \S+ [\w./@-]+\[\d+\]: ))"
)
