"""Known benign research scanners (Shodan, Censys, Shadowserver...): who is on which list.

The lists are MISP warninglists (JSON with ``name``, ``type``, ``list``: the
format of github.com/MISP/misp-warninglists) or plain files of addresses and
CIDRs, one a line, named after the file. A scanner on such a list is still
scanning us: triage can lower its priority, but the evidence stays.

Entries that are not addresses or CIDRs (a warninglist of type ``string``
or ``hostname`` mixed in) are counted, not guessed at. An entry wider than
``min_prefix_ipv4`` (default /8) or ``min_prefix_ipv6`` (default /16) is
refused and counted as ``too_wide``: a ``0.0.0.0/1`` in a list would call
half the internet benign and keep its scans from being escalated. The hunt
loads the lists with these defaults, not the ``enrich`` limits for
threat-intelligence indicators (see :class:`~reconwatch.enrich.context.Enrichment`).
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import ibis.expr.types as ir
import pyarrow as pa

from reconwatch.enrich.intel import MIN_PREFIX, too_wide
from reconwatch.enrich.ranges import RangeTable, build_ranges, match, ranges_from_bounds
from reconwatch.netaddr import unmapped

#: Warninglist types whose entries may be addresses or CIDRs.
ADDRESS_TYPES = frozenset({"cidr", "string"})


class WarninglistError(Exception):
    """A list file that cannot be read at all; the message names the file."""


@dataclass
class BenignList:
    """One list as loaded: its name, file, and how many entries were kept or skipped."""

    name: str
    path: Path
    entries: int = 0
    skipped: int = 0
    #: Entries refused as wider than the configured limits (not in ``skipped``).
    too_wide: int = 0


@dataclass
class BenignScanners:
    """Every configured list, ready for the range join."""

    lists: list[BenignList] = field(default_factory=list)
    ranges: RangeTable | None = None

    @classmethod
    def load(
        cls,
        paths: Iterable[Path],
        min_prefix_ipv4: int = MIN_PREFIX[4],
        min_prefix_ipv6: int = MIN_PREFIX[6],
    ) -> BenignScanners:
        """Read warninglist JSON (``*.json``) and plain lists (anything else)."""
        families: list[int] = []
        firsts: list[int] = []
        lasts: list[int] = []
        names: list[str] = []
        lists = []
        for path in paths:
            name, entries = _read_list(path)
            loaded = BenignList(name=name, path=path)
            lists.append(loaded)
            for entry in entries:
                net = _network(entry)
                if net is None:
                    loaded.skipped += 1
                    continue
                if too_wide(net, min_prefix_ipv4, min_prefix_ipv6):
                    loaded.too_wide += 1
                    continue
                loaded.entries += 1
                families.append(net.version)
                firsts.append(int(net.network_address))
                lasts.append(int(net.broadcast_address))
                names.append(name)
        table = ranges_from_bounds(
            families, firsts, lasts, pa.table({"list_name": pa.array(names, pa.string())})
        )
        return cls(lists=lists, ranges=build_ranges(table))

    def match(self, addresses: ir.Table | pa.Table, ip_column: str = "ip") -> ir.Table:
        """``(ip, list_name)`` for every address on a list, computed in the engine."""
        if self.ranges is None:
            raise ValueError("no lists loaded")
        return match(addresses, self.ranges, ip_column).distinct()

    def lookup(self, ips: Iterable[str]) -> dict[str, list[str]]:
        """For each address given, the names of the lists it is on (sorted; [] if none)."""
        wanted = sorted(set(ips))
        result: dict[str, list[str]] = {ip: [] for ip in wanted}
        if not wanted or self.ranges is None or len(self.ranges) == 0:
            return result
        hits = self.match(pa.table({"ip": pa.array(wanted, pa.string())})).to_pyarrow()
        for row in hits.sort_by([("ip", "ascending"), ("list_name", "ascending")]).to_pylist():
            result[row["ip"]].append(row["list_name"])
        return result


def _read_list(path: Path) -> tuple[str, list[str]]:
    try:
        text = path.read_text(encoding="utf-8-sig", errors="replace")
    except OSError as exc:
        raise WarninglistError(f"{path}: cannot read: {exc.strerror}") from exc
    if path.suffix.lower() != ".json":
        lines = (line.split("#", 1)[0].strip() for line in text.splitlines())
        return path.stem, [line for line in lines if line]
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise WarninglistError(f"{path}: not JSON: {exc}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("list"), list):
        raise WarninglistError(f"{path}: not a MISP warninglist (no 'list' array)")
    kind = str(data.get("type", "cidr"))
    name = str(data.get("name") or path.stem)
    if kind not in ADDRESS_TYPES:
        raise WarninglistError(f"{path}: warninglist type {kind!r} holds no addresses")
    return name, [str(item) for item in data["list"]]


def _network(entry: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
    try:
        net = ipaddress.ip_network(entry.strip(), strict=False)
    except ValueError:
        return None
    return unmapped(net)
