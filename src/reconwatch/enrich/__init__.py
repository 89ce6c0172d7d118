"""Enrichment for triage: threat intel, benign scanners, approved exercises, geo/ASN.

Every matcher works on addresses as integer ranges joined in the engine
(:mod:`reconwatch.enrich.ranges`); only ``update_feeds`` touches the network.
"""

from reconwatch.enrich.benign import BenignScanners, WarninglistError
from reconwatch.enrich.context import Enrichment, SourceContext
from reconwatch.enrich.exercises import Exercise, ExerciseError, Verdict, check, load_exercises
from reconwatch.enrich.feeds import UpdateReport, load_intel, update_feeds
from reconwatch.enrich.geo import Geo, GeoError, GeoInfo
from reconwatch.enrich.intel import FeedFormatError, IntelIndex, LoadReport
from reconwatch.enrich.ranges import RangeTable, addresses_to_ints, build_ranges, match

__all__ = [
    "BenignScanners",
    "Enrichment",
    "Exercise",
    "ExerciseError",
    "FeedFormatError",
    "Geo",
    "GeoError",
    "GeoInfo",
    "IntelIndex",
    "LoadReport",
    "RangeTable",
    "SourceContext",
    "UpdateReport",
    "Verdict",
    "WarninglistError",
    "addresses_to_ints",
    "build_ranges",
    "check",
    "load_exercises",
    "load_intel",
    "match",
    "update_feeds",
]
