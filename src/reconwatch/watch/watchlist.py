"""The watchlist: actors of earlier cases, watched for their next move.

The playbook ends with "continue to monitor network traffic closely for any
signs of escalated activities after initial attempts". Every source of a
case in the case store is watched, widened to its /24 (IPv4) or /64 (IPv6),
since a scanner that comes back usually does so from a neighbouring address
of the same host or allocation; and, when geo enrichment gives one, its AS
number. Cases an analyst closed as benign (false positive, benign scanner,
approved exercise) are not watched.

Matching runs per *distinct* source address of a batch (a handful of Python
operations each, as IP normalisation does in ingest), never per line.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

from sqlalchemy import select

from reconwatch.enrich.geo import Geo
from reconwatch.store import CLOSED, CaseStore
from reconwatch.store.models import CaseSource, StoredCase

log = logging.getLogger(__name__)

#: Analyst dispositions that take a closed case's actor off the watchlist.
BENIGN_DISPOSITIONS: Final = frozenset(
    {"benign", "false_positive", "benign_scanner", "approved_exercise"}
)
#: Cases read from the store, newest first (the watchlist stays small).
MAX_CASES: Final = 50_000


@dataclass(frozen=True)
class Entry:
    """One earlier case behind a watchlist key."""

    case_id: str
    actor: str
    source_ip: str
    severity: str


@dataclass(frozen=True)
class Hit:
    entry: Entry
    #: ``prefix 198.51.100.0/24`` or ``asn 64500``.
    matched: str


def prefix_of(address: str) -> str | None:
    """The /24 (IPv4) or /64 (IPv6) holding ``address``; None if it is not an address."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    width = 24 if ip.version == 4 else 64
    return str(ipaddress.ip_network(f"{ip}/{width}", strict=False))


class Watchlist:
    def __init__(self, entries: Iterable[Entry] = (), asns: dict[int, Entry] | None = None) -> None:
        self.prefixes: dict[str, Entry] = {}
        for entry in entries:
            prefix = prefix_of(entry.source_ip)
            if prefix is not None:
                # Entries come newest case first: the newest case names the prefix.
                self.prefixes.setdefault(prefix, entry)
        self.asns: dict[int, Entry] = dict(asns or {})

    def __len__(self) -> int:
        return len(self.prefixes) + len(self.asns)

    @classmethod
    def load(cls, store: CaseStore, geo: Geo | None = None) -> Watchlist:
        """Every watched case source in ``store``, plus their AS numbers if ``geo`` knows them.

        The newest ``MAX_CASES`` cases, with all their sources: a limit on
        the rows of cases x sources let one rotating IPv6 scanner's case of
        50,000 addresses push every other case out.
        """
        newest = (
            select(StoredCase.id)
            .order_by(StoredCase.last_seen.desc(), StoredCase.id)
            .limit(MAX_CASES)
            .subquery()
        )
        query = (
            select(
                StoredCase.id,
                StoredCase.actor,
                StoredCase.severity,
                StoredCase.status,
                StoredCase.analyst_disposition,
                CaseSource.source_ip,
            )
            .join(newest, newest.c.id == StoredCase.id)
            .join(CaseSource, CaseSource.case_id == StoredCase.id)
            .order_by(StoredCase.last_seen.desc(), StoredCase.id)
        )
        entries = []
        with store.session() as session:
            for case_id, actor, severity, status, disposition, source in session.execute(query):
                if status == CLOSED and disposition in BENIGN_DISPOSITIONS:
                    continue
                entries.append(Entry(case_id, actor, source, severity))
        asns: dict[int, Entry] = {}
        if geo is not None and entries:
            info = geo.lookup(e.source_ip for e in entries)
            for entry in entries:
                asn = info[entry.source_ip].asn if entry.source_ip in info else None
                if asn is not None:
                    asns.setdefault(asn, entry)
        return cls(entries, asns)

    def match(self, addresses: Iterable[str], geo: Geo | None = None) -> dict[str, Hit]:
        """Watched addresses among ``addresses`` (distinct values), by prefix then ASN."""
        hits: dict[str, Hit] = {}
        rest = []
        for address in addresses:
            prefix = prefix_of(address)
            entry = self.prefixes.get(prefix) if prefix is not None else None
            if entry is not None:
                hits[address] = Hit(entry, f"prefix {prefix}")
            else:
                rest.append(address)
        if self.asns and geo is not None and rest:
            for address, info in geo.lookup(rest).items():
                if info.asn is not None and info.asn in self.asns:
                    hits[address] = Hit(self.asns[info.asn], f"asn {info.asn}")
        return hits
