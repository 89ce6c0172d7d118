"""Block requests (one address each, from cases) -> a safe, small block plan.

The addresses come from untrusted log lines, so this is where they are
proved to be addresses before anything is written into a firewall rule:

* an address must be a ``str`` made only of hex digits, ``.`` and ``:``, at
  most 45 characters, that ``reconwatch.netaddr.parse_ip`` accepts. That
  rejects whitespace and newlines (``"1.2.3.4\\n"``), shell and nft
  metacharacters, and IPv6 zone ids (``"fe80::1%eth0"``: ``ipaddress`` keeps
  any text after ``%`` and would print it back into rule text);
* IPv4-mapped IPv6 is unwrapped first, so ``::ffff:127.0.0.1`` is judged (and
  refused) as ``127.0.0.1``;
* anything protected (:mod:`reconwatch.respond.protect`) is refused;
* a block must expire: ``timeout_seconds`` must be an int in
  ``1..MAX_TIMEOUT_SECONDS`` (a block that outlives its reason becomes an
  outage nobody remembers);
* rule text is only ever produced later from the ``ipaddress`` objects of the
  plan, never from the request strings.

Addresses with the same timeout are collapsed into the fewest CIDRs that cover
exactly those addresses (never more), and every collapsed CIDR is checked
again (if it would be refused, e.g. for being wider than /8, it is split back
into smaller pieces). Then the rule budget keeps the most severe, longest
blocks. Every refusal is returned with its reason: a protected address named
by a case is reported, never silently dropped.

IPv6 sources may be widened (``ipv6_prefix``, e.g. 64): one host on an IPv6
LAN owns a whole /64 and can hop addresses inside it at will, so blocking the
/128 alone is easily dodged. The widened network is checked like any other,
and when it would touch a protected range the request keeps its /128.

The plan is deterministic: it does not depend on the order of the requests.
"""

from __future__ import annotations

import bisect
import ipaddress
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Final, Literal

from reconwatch.netaddr import TRANSLATED_IPV6, IPAddress, IPNetwork, parse_ip
from reconwatch.respond.protect import ProtectedRanges

Severity = Literal["low", "medium", "high", "critical"]

SEVERITY_RANK: Final[dict[str, int]] = {"low": 0, "medium": 1, "high": 2, "critical": 3}

#: One year. Longer blocks are refused rather than silently shortened: the
#: caller's configuration is wrong and should say so.
MAX_TIMEOUT_SECONDS: Final = 365 * 86400

#: The longest textual IP address (IPv6 with an embedded IPv4 tail) is 45 characters.
MAX_ADDRESS_CHARS: Final = 45

_ADDRESS_CHARS = re.compile(r"[0-9A-Fa-f.:]+")

OVER_BUDGET: Final = "over the rule budget"

#: ``build_blocklist`` keeps IPv6 sources as /128 unless asked (existing
#: callers and plans stay as they were); containment passes the configured
#: ``respond.ipv6_prefix`` (64 by default there).
DEFAULT_IPV6_PREFIX: Final = 128

#: Widening to less than /48 would take whole sites, not one attacker's host.
MIN_IPV6_PREFIX: Final = 48


@dataclass(frozen=True)
class BlockRequest:
    """Block one source address for one case (``address`` is untrusted text)."""

    address: str
    case_id: str
    reason: str
    severity: Severity
    timeout_seconds: int


@dataclass(frozen=True)
class BlockEntry:
    """One rule-set element: a network blocked for ``timeout_seconds``.

    ``case_ids`` are sorted and unique; ``severity`` is the highest among the
    addresses the entry covers; ``reason`` is the reason of the most severe
    request, with ``(+N more)`` when the covered requests gave several.
    """

    network: IPNetwork
    case_ids: tuple[str, ...]
    reason: str
    severity: Severity
    timeout_seconds: int


@dataclass(frozen=True)
class Refusal:
    """A request that was not turned into a block, and why.

    ``address`` is the request's text as given (untrusted: escape it when you
    display it); ``why`` is our own text only.
    """

    address: str
    case_id: str
    why: str


@dataclass(frozen=True)
class BlockPlan:
    """Entries (IPv4 first, then by address) and refusals (in request order)."""

    entries: tuple[BlockEntry, ...]
    refused: tuple[Refusal, ...]

    def family(self, version: Literal[4, 6]) -> tuple[BlockEntry, ...]:
        """The entries of one address family, in plan order."""
        return tuple(e for e in self.entries if e.network.version == version)


def validate_address(text: object) -> IPAddress:
    """The address ``text`` denotes, or ``ValueError`` saying why it is not one.

    Stricter than :func:`reconwatch.netaddr.parse_ip`: the whole string must be
    the address (no surrounding whitespace, no zone id, ASCII only).
    """
    if not isinstance(text, str):
        raise ValueError("not a string")
    if len(text) > MAX_ADDRESS_CHARS:
        raise ValueError("too long to be an IP address")
    if _ADDRESS_CHARS.fullmatch(text) is None:
        raise ValueError("not exactly one IP address")
    try:
        return parse_ip(text)
    except ValueError:
        raise ValueError("not exactly one IP address") from None


def host_network(text: object) -> IPNetwork | None:
    """The /32 or /128 of the address ``text`` (``validate_address``), None
    when it is none (``build_blocklist`` refuses such a request and says why)."""
    try:
        return ipaddress.ip_network(validate_address(text))
    except ValueError:
        return None


def protected_refusal(network: IPNetwork, protected: ProtectedRanges) -> str | None:
    """``build_blocklist``'s refusal of ``network`` as protected (``protected:
    ...``), or None: the one wording a case's ``containment.refused`` records."""
    why = protected.check(network)
    return None if why is None else f"protected: {why}"


def _request_problem(request: BlockRequest) -> str | None:
    severity: object = request.severity
    if severity not in SEVERITY_RANK:
        return "unknown severity"
    seconds: object = request.timeout_seconds
    if (
        not isinstance(seconds, int)
        or isinstance(seconds, bool)
        or not 1 <= seconds <= MAX_TIMEOUT_SECONDS
    ):
        return f"timeout must be a whole number of seconds in 1..{MAX_TIMEOUT_SECONDS}"
    if not isinstance(request.case_id, str) or not isinstance(request.reason, str):
        return "case id and reason must be text"
    return None


@dataclass(frozen=True)
class _Accepted:
    index: int
    request: BlockRequest
    address: IPAddress
    #: What is blocked for this request: the /32 or /128, or the widened IPv6 network.
    unit: IPNetwork


#: IPv6 prefixes whose addresses stand for many hosts each, never widened
#: (``netaddr.TRANSLATED_IPV6``: NAT64 and Teredo).
NOT_WIDENED: Final = tuple(ipaddress.IPv6Network(n) for n in TRANSLATED_IPV6)


def widen(address: IPAddress, ipv6_prefix: int, protected: ProtectedRanges) -> IPNetwork:
    """The network blocked for ``address``: its ``/ipv6_prefix`` when IPv6 and allowed.

    IPv4 stays a /32. An IPv6 network that ``protected`` refuses (it would
    touch a home network, an allowlisted /128, the IPv4-mapped space...) is
    not widened: the single address is kept, as for translation and tunnel
    prefixes (``NOT_WIDENED``), where a /64 holds other people's traffic.
    """
    single = ipaddress.ip_network(address)
    if not isinstance(address, ipaddress.IPv6Address) or ipv6_prefix >= 128:
        return single
    wide = ipaddress.IPv6Network((int(address), ipv6_prefix), strict=False)
    # Overlap, not membership: 64:ff9b::1:0:1 lies outside 64:ff9b::/96, but
    # its /64 holds the whole prefix. Decided by the wide network alone, like
    # the protected check, so every address of a /64 gets the same unit
    # (build_blocklist relies on units never nesting).
    if any(wide.overlaps(network) for network in NOT_WIDENED):
        return single
    return wide if protected.check(wide) is None else single


def _rank(item: _Accepted) -> tuple[int, int, str, str, int]:
    """Sort key: most severe, then longest, then stable by case/reason/input order."""
    r = item.request
    return (-SEVERITY_RANK[r.severity], -r.timeout_seconds, r.case_id, r.reason, item.index)


def _split_until_allowed(network: IPNetwork, protected: ProtectedRanges) -> Iterator[IPNetwork]:
    """``network`` itself if allowed, else its allowed halves, recursively.

    Only called on CIDRs that ``collapse_addresses`` built from accepted
    addresses, so every address inside is wanted; splitting just keeps a
    refused *aggregate* (e.g. a prefix wider than /8) from becoming one rule.
    """
    if protected.check(network) is None:
        yield network
        return
    if network.num_addresses == 1:
        return  # a refused single address: impossible for accepted addresses
    for half in network.subnets(prefixlen_diff=1):
        yield from _split_until_allowed(half, protected)


def _collapse(networks: list[IPNetwork]) -> list[IPNetwork]:
    v4 = [n for n in networks if isinstance(n, ipaddress.IPv4Network)]
    v6 = [n for n in networks if isinstance(n, ipaddress.IPv6Network)]
    return [*ipaddress.collapse_addresses(v4), *ipaddress.collapse_addresses(v6)]


def _entry(network: IPNetwork, timeout: int, members: list[_Accepted]) -> BlockEntry:
    members = sorted(members, key=_rank)
    top = members[0].request
    reasons = {m.request.reason for m in members}
    reason = top.reason if len(reasons) == 1 else f"{top.reason} (+{len(reasons) - 1} more)"
    return BlockEntry(
        network=network,
        case_ids=tuple(sorted({m.request.case_id for m in members})),
        reason=reason,
        severity=top.severity,
        timeout_seconds=timeout,
    )


def _network_key(network: IPNetwork) -> tuple[int, int, int]:
    return (network.version, int(network.network_address), network.prefixlen)


def build_blocklist(
    requests: Iterable[BlockRequest],
    protected: ProtectedRanges,
    max_entries: int,
    *,
    ipv6_prefix: int = DEFAULT_IPV6_PREFIX,
) -> BlockPlan:
    """Validate, filter, collapse and budget ``requests`` into a :class:`BlockPlan`.

    Several requests for one address (or, widened, one IPv6 network) become
    one block lasting the longest requested timeout. IPv6 sources are widened
    to ``/ipv6_prefix`` (48..128) where that is allowed (:func:`widen`). At
    most ``max_entries`` entries are kept, most severe and then longest first;
    requests behind the others are refused with ``"over the rule budget"``.
    """
    if max_entries < 0:
        raise ValueError("max_entries must not be negative")
    if (
        isinstance(ipv6_prefix, bool)
        or not isinstance(ipv6_prefix, int)
        or not MIN_IPV6_PREFIX <= ipv6_prefix <= 128
    ):
        raise ValueError(f"ipv6_prefix must be an int in {MIN_IPV6_PREFIX}..128")
    refused: list[tuple[int, Refusal]] = []
    accepted: list[_Accepted] = []
    for index, request in enumerate(requests):
        try:
            address = validate_address(request.address)
        except ValueError as exc:
            text = request.address if isinstance(request.address, str) else repr(request.address)
            refused.append((index, Refusal(text, request.case_id, str(exc))))
            continue
        problem = _request_problem(request)
        if problem is None:
            problem = protected_refusal(ipaddress.ip_network(address), protected)
        if problem is not None:
            refused.append((index, Refusal(request.address, request.case_id, problem)))
            continue
        accepted.append(_Accepted(index, request, address, widen(address, ipv6_prefix, protected)))

    # One timeout per blocked unit (address, or widened IPv6 network): the
    # longest any request asked for. Units never partly overlap: a /64 is
    # either allowed for every address in it or for none, so no /128 unit
    # lies inside a /64 unit.
    timeout_of: dict[IPNetwork, int] = {}
    for item in accepted:
        seconds = item.request.timeout_seconds
        timeout_of[item.unit] = max(timeout_of.get(item.unit, 0), seconds)

    by_timeout: dict[int, list[IPNetwork]] = {}
    for unit, seconds in timeout_of.items():
        by_timeout.setdefault(seconds, []).append(unit)

    members_of: dict[IPNetwork, list[_Accepted]] = {}
    for item in accepted:
        members_of.setdefault(item.unit, []).append(item)

    # Address sets of different timeouts are disjoint, so are their collapsed
    # CIDRs: the nft interval sets never see overlapping elements.
    candidates: list[tuple[BlockEntry, list[_Accepted]]] = []
    for seconds, units in by_timeout.items():
        networks = [
            network
            for aggregate in _collapse(units)
            for network in _split_until_allowed(aggregate, protected)
        ]
        networks.sort(key=_network_key)
        starts = [(n.version, int(n.network_address)) for n in networks]
        grouped: list[list[_Accepted]] = [[] for _ in networks]
        for unit in units:
            # Disjoint sorted networks: the last one starting at or before the
            # unit is the only one that can hold it (split pieces are never
            # smaller than an allowed unit, so a unit is never cut in two).
            key = (unit.version, int(unit.network_address))
            index = bisect.bisect_right(starts, key) - 1
            if index >= 0 and unit.subnet_of(networks[index]):  # type: ignore[arg-type]
                grouped[index].extend(members_of[unit])
        candidates.extend(
            (_entry(network, seconds, members), members)
            for network, members in zip(networks, grouped, strict=True)
            if members
        )

    candidates.sort(
        key=lambda c: (
            -SEVERITY_RANK[c[0].severity],
            -c[0].timeout_seconds,
            _network_key(c[0].network),
        )
    )
    kept = candidates[:max_entries]
    for _entry_dropped, members in candidates[max_entries:]:
        refused.extend(
            (m.index, Refusal(m.request.address, m.request.case_id, OVER_BUDGET)) for m in members
        )

    entries = sorted((entry for entry, _ in kept), key=lambda e: _network_key(e.network))
    refused.sort(key=lambda item: item[0])
    return BlockPlan(entries=tuple(entries), refused=tuple(r for _, r in refused))


#: Characters allowed in rule comments. No quotes, backslashes, ``$``, ``;``,
#: ``#``, braces or control characters, so a comment can never end its string
#: or start a new statement in nft, ipset-restore or sh syntax.
_UNSAFE_COMMENT_CHARS = re.compile(r"[^A-Za-z0-9 ._:,/+=@()-]")


def sanitize_comment(text: str, limit: int) -> str:
    """``text`` reduced to the safe comment charset, one line, at most ``limit`` chars.

    Only our own case ids and reasons reach comments, but they carry detection
    labels that may echo log content, so they are treated as untrusted.
    """
    clean = _UNSAFE_COMMENT_CHARS.sub("_", " ".join(text.split()))
    if len(clean) > limit:
        clean = clean[: max(limit - 3, 0)].rstrip() + "..."
    return clean[:limit]


def entry_comment(entry: BlockEntry, limit: int) -> str:
    """``case RW-1 RW-2 : reason``, sanitized and cut to ``limit`` characters."""
    ids = " ".join(entry.case_ids[:3])
    if len(entry.case_ids) > 3:
        ids += f" (+{len(entry.case_ids) - 3})"
    return sanitize_comment(f"case {ids} : {entry.reason}", limit)


def verified_entries(plan: BlockPlan) -> tuple[BlockEntry, ...]:
    """The plan's entries after re-checking what a firewall writer relies on.

    Writers call this so a plan built by hand (or by a future bug) cannot put a
    special range, an everlasting block or overlapping interval elements (which
    ``nft`` rejects) into rule text. Raises ``ValueError``.
    """
    always = ProtectedRanges.always()
    last_end: dict[int, int] = {}
    for entry in sorted(plan.entries, key=lambda e: _network_key(e.network)):
        network: object = entry.network
        if not isinstance(network, ipaddress.IPv4Network | ipaddress.IPv6Network):
            raise ValueError(f"entry network {network!r} is not an ipaddress network")
        why = always.check(network)
        if why is not None:
            raise ValueError(f"refusing to write {network}: {why}")
        seconds: object = entry.timeout_seconds
        if (
            not isinstance(seconds, int)
            or isinstance(seconds, bool)
            or not 1 <= seconds <= MAX_TIMEOUT_SECONDS
        ):
            raise ValueError(
                f"entry {network}: timeout {seconds!r} is not in 1..{MAX_TIMEOUT_SECONDS}"
            )
        start = int(network.network_address)
        if start <= last_end.get(network.version, -1):
            raise ValueError(f"entry {network} overlaps the entry before it")
        last_end[network.version] = int(network.broadcast_address)
    return tuple(sorted(plan.entries, key=lambda e: _network_key(e.network)))
