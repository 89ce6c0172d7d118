"""Parsers of the ids family: Suricata eve.json and Snort/Suricata fast.log.

Zeek's notice.log and weird.log, which also fill ``alert``, live with the
other Zeek logs in ``zeek``.
"""

from __future__ import annotations

from reconwatch.ingest.base import Parser
from reconwatch.ingest.ids_fastlog import FastLogParser
from reconwatch.ingest.ids_suricata import SuricataEveParser

PARSERS: tuple[type[Parser], ...] = (SuricataEveParser, FastLogParser)
