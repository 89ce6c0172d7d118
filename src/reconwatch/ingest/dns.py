"""Parsers of the dns family: DNS servers' and resolvers' query logs -> ``dns``.

Vendors live in ``dns_<name>.py``; ``dns_lines`` holds the machinery they share
with the ids family. Order: the JSON and the most specific line formats first.
"""

from __future__ import annotations

from reconwatch.ingest.base import Parser
from reconwatch.ingest.dns_bind import BindParser
from reconwatch.ingest.dns_resolvers import CoreDnsParser, DnsmasqParser, UnboundParser
from reconwatch.ingest.dns_route53 import Route53ResolverParser
from reconwatch.ingest.dns_windows import WindowsDnsParser

PARSERS: tuple[type[Parser], ...] = (
    Route53ResolverParser,
    WindowsDnsParser,
    BindParser,
    DnsmasqParser,
    UnboundParser,
    CoreDnsParser,
)
