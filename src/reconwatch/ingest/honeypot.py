"""Parsers of the honeypot family: every touch of a honeypot is an ``alert`` (severity 1).

Each honeypot lives in its own ``honeypot_<name>`` module; this module lists them.
"""

from __future__ import annotations

from reconwatch.ingest.base import Parser
from reconwatch.ingest.honeypot_cowrie import CowrieJsonParser, CowrieTextParser
from reconwatch.ingest.honeypot_opencanary import OpenCanaryParser

PARSERS: tuple[type[Parser], ...] = (CowrieJsonParser, OpenCanaryParser, CowrieTextParser)
