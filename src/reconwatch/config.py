"""One typed configuration: YAML file over documented defaults, validated.

Every threshold lives here with the reason for its default. A config file
only needs the keys it changes, e.g.::

    site:
      home_networks: [203.0.113.0/24, 10.0.0.0/8]
    detect:
      vertical_scan:
        min_ports: 20

Unknown keys are errors (a misspelt threshold must not be silently ignored).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import UnionType
from typing import Annotated, Any, Final, Literal, Union, get_args, get_origin

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from reconwatch import strict_yaml
from reconwatch.netaddr import (
    PRIVATE_NETWORKS,
    TRANSLATED_IPV6,
    IPNetwork,
    collapse,
    parse_networks,
    text_prefixes,
)


class ConfigError(Exception):
    """A configuration file that cannot be used; the message names the file and key."""


def _valid_cidrs(items: list[str]) -> list[str]:
    """``items`` checked, IPv4-mapped ranges written as the IPv4 ranges they are."""
    networks = parse_networks(items)
    return [
        str(network) if network.version == 4 and ":" in item else item
        for item, network in zip(items, networks, strict=True)
    ]


def _valid_timezone(name: str) -> str:
    from zoneinfo import ZoneInfo

    try:
        ZoneInfo(name)
    except (KeyError, ValueError) as exc:  # ZoneInfoNotFoundError is a KeyError
        raise ValueError(f"unknown time zone {name!r}") from exc
    return name


def _whole_families(items: list[str]) -> str:
    """The address families ``items`` cover entirely, merged (``0.0.0.0/0``), or ``""``."""
    return ", ".join(str(net) for net in collapse(parse_networks(items)) if net.prefixlen == 0)


def _not_every_address(advice: str) -> Callable[[list[str]], list[str]]:
    """A validator refusing a list of ranges that covers a whole address family
    (alone, or merged with neighbours: 0.0.0.0/1 and 128.0.0.0/1)."""

    def check(items: list[str]) -> list[str]:
        whole = _whole_families(items)
        if whole:
            raise ValueError(f"these ranges cover every address ({whole}): {advice}")
        return items

    return check


# A range in these lists is never blocked (and, in home_networks, makes its
# sources internal): one that covers a whole family turns containment off for it.
_not_everything = _not_every_address(
    "a range listed here is never blocked, so nothing could be; list only your own ranges"
)
# Every address "never reachable from outside" would make every probe from
# outside an enumeration of internal addresses (an escalation criterion).
_not_all_internal = _not_every_address(
    "list only the ranges never reachable or announced from outside"
)


def _valid_zones(items: list[str]) -> list[str]:
    if any(not zone.strip().strip(".") for zone in items):
        raise ValueError("a DNS zone cannot be empty (or only dots)")
    return items


CidrList = Annotated[list[str], AfterValidator(_valid_cidrs)]
#: Ranges that are never blocked: valid CIDRs that do not cover a whole family.
NeverBlockedCidrList = Annotated[CidrList, AfterValidator(_not_everything)]
ZoneList = Annotated[list[str], AfterValidator(_valid_zones)]
Action = Literal["allowed", "denied", "dropped", "rejected"]
Severity = Literal["low", "medium", "high", "critical"]
Disposition = Literal["malicious", "suspicious"]
VendorWriter = Literal["pf", "asa", "panos_edl", "fortigate", "aws_nacl", "crowdsec"]


def _default_block_dispositions() -> list[Disposition]:
    return ["malicious"]


def _default_prefix_actions() -> dict[str, Action]:
    return {
        "REJECT": "rejected",
        "DROP": "dropped",
        "DENY": "denied",
        "BLOCK": "denied",
        "INVALID": "dropped",
        "ACCEPT": "allowed",
        "ALLOW": "allowed",
        "PASS": "allowed",
        "AUDIT": "allowed",
    }


def _default_block_for() -> dict[Severity, int]:
    return {
        "low": 3600,
        "medium": 86400,
        "high": 7 * 86400,
        "critical": 21 * 86400,
    }


def _every_severity(values: dict[Severity, int]) -> dict[Severity, int]:
    missing = [severity for severity in _default_block_for() if severity not in values]
    if missing:
        raise ValueError(f"no value for {', '.join(missing)} (all of low, medium, high, critical)")
    return values


class Section(BaseModel):
    # inf and nan are never a threshold: .inf passed every gt=0 bound unseen.
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    @field_validator("*", mode="before")
    @classmethod
    def _no_boolean_numbers(cls, value: Any, info: ValidationInfo) -> Any:
        """``min_ports: true`` is a slip, not 1: a number field refuses YAML booleans.

        Pydantic's lax mode reads a boolean as 0 or 1 (bool is an int in
        Python), which would turn a typo into a silent threshold of 1.
        """
        field = cls.model_fields.get(info.field_name or "")
        if field is None:
            return value
        if isinstance(value, bool) and _numeric(field.annotation):
            raise ValueError(f"a number, not {str(value).lower()}")
        # Maps of numbers too: block_for_seconds: {low: true} is not 1 second.
        if isinstance(value, dict) and get_origin(field.annotation) is dict:
            numbers = _numeric(get_args(field.annotation)[1])
            flags = [key for key, item in value.items() if isinstance(item, bool)]
            if numbers and flags:
                raise ValueError(f"{flags[0]}: a number, not {str(value[flags[0]]).lower()}")
        return value


def _numeric(annotation: Any) -> bool:
    """True for int and float fields (optional ones too), not for bool or unions with it."""
    if get_origin(annotation) is Annotated:
        annotation = get_args(annotation)[0]
    options = (
        get_args(annotation) if get_origin(annotation) in (Union, UnionType) else (annotation,)
    )
    return (
        bool is not annotation
        and bool not in options
        and any(option in (int, float) for option in options)
    )


class SiteConfig(Section):
    #: Our own address space. Sources inside it are internal (ATT&CK T1046 rather
    #: than external reconnaissance) and are never blocked. Default: the private
    #: ranges (RFC 1918, RFC 6598 shared space, IPv6 ULA), which nearly every site
    #: uses internally; add your public ranges. Ranges covering a whole address
    #: family (0.0.0.0/0, ::/0) are refused: nothing could ever be blocked.
    home_networks: NeverBlockedCidrList = Field(
        default_factory=lambda: [
            "10.0.0.0/8",
            "172.16.0.0/12",
            "192.168.0.0/16",
            "100.64.0.0/10",
            "fc00::/7",
        ]
    )
    #: Other ranges that containment must never touch: resolvers, upstream
    #: routers, partners, monitoring. Loopback, link-local, multicast and the
    #: unspecified/default routes are always protected in addition to these.
    #: Ranges covering a whole address family (0.0.0.0/0, ::/0) are refused.
    protected: NeverBlockedCidrList = Field(default_factory=list)
    #: Ranges that are never reachable or announced from outside (management
    #: LANs, internal server subnets). An external source probing them is
    #: "enumerating internal IP addresses not typically visible externally",
    #: a playbook escalation criterion. Not derived from home_networks: behind
    #: DNAT a public service is often logged at a private address.
    internal_only: Annotated[CidrList, AfterValidator(_not_all_internal)] = Field(
        default_factory=list
    )
    #: DNS zones that exist only inside (``corp.example.com``, ``ad.example.net``):
    #: an outside client asking for names in them already knows, or is guessing,
    #: internal naming.
    internal_zones: ZoneList = Field(default_factory=list)
    #: Suffixes reserved or widely used for private names, internal wherever
    #: they appear: ``internal`` (ICANN, 2024), ``home.arpa`` (RFC 8375),
    #: ``local`` (mDNS, RFC 6762), and the customary ``lan``, ``intranet``,
    #: ``corp``, ``private``, ``localdomain``.
    private_suffixes: ZoneList = Field(
        default_factory=lambda: [
            *("internal", "home.arpa", "local", "lan"),
            *("intranet", "corp", "private", "localdomain"),
        ]
    )

    @model_validator(mode="after")
    def _something_blockable(self) -> SiteConfig:
        # Each list may be fine alone (0.0.0.0/1 and 128.0.0.0/1) and still,
        # together, leave no address that could be blocked.
        whole = _whole_families([*self.home_networks, *self.protected])
        if whole:
            raise ValueError(
                f"home_networks and protected together cover every address ({whole}): "
                "nothing could ever be blocked"
            )
        # The detections test these ranges as text prefixes; one too wide to
        # widen (``netaddr.MAX_TEXT_PREFIXES``) is refused now, not mid-hunt.
        text_prefixes(self.home())
        text_prefixes(self.internal_address_networks())
        return self

    def internal_names(self) -> list[str]:
        """Lower-case zones whose names are internal (``internal_zones``, ``private_suffixes``)."""
        zones = [*self.internal_zones, *self.private_suffixes]
        return sorted({zone.strip(".").lower() for zone in zones})

    def home(self) -> list[IPNetwork]:
        return parse_networks(self.home_networks)

    def internal_only_networks(self) -> list[IPNetwork]:
        return parse_networks(self.internal_only)

    def internal_address_networks(self) -> list[IPNetwork]:
        """Addresses an outsider should never learn: private ranges and ``internal_only``."""
        return collapse([*parse_networks(PRIVATE_NETWORKS), *self.internal_only_networks()])

    def protected_networks(self) -> list[IPNetwork]:
        return parse_networks(self.protected)


class SyslogConfig(Section):
    #: Classic syslog (RFC 3164) stamps carry neither year nor zone. ``year: null``
    #: means the reference year (``--now``, default the clock), one less when the
    #: file's first month lies after the reference month; a step back of six
    #: months or more inside a file (Dec -> Jan) moves later lines to the next year.
    #: 1..9999: the years a timestamp of the lake can hold (outside them every
    #: line would be rejected as "invalid timestamp").
    year: int | None = Field(None, ge=1, le=9999)
    #: Zone of the syslog stamps that carry none (RFC 3164, journal short-iso
    #: always has one). UTC is the safe default for servers.
    timezone: Annotated[str, AfterValidator(_valid_timezone)] = "UTC"
    #: Zones of particular inputs, by shell pattern on the input's path as given
    #: or absolute (``"/var/log/remote/paris-fw/*": Europe/Paris``; ``*`` also
    #: matches ``/``): a central log server keeps the files of hosts whose
    #: clocks are set to different zones. The first pattern that matches wins;
    #: other inputs use ``timezone``.
    timezones: dict[str, Annotated[str, AfterValidator(_valid_timezone)]] = Field(
        default_factory=dict
    )

    def zone_for(self, name: str) -> str:
        """The zone of the stamps without one in the input called ``name``."""
        import fnmatch

        if not self.timezones or name == "-":
            return self.timezone
        absolute = str(Path(name).absolute())
        for pattern, zone in self.timezones.items():
            if fnmatch.fnmatchcase(name, pattern) or fnmatch.fnmatchcase(absolute, pattern):
                return zone
        return self.timezone


class NetfilterConfig(Section):
    #: Words looked for (case-insensitive) in the LOG prefix, in this order; the
    #: first one found sets ``event_action``. Deny-type words come first so that
    #: "LIMIT BLOCK" or "policy DROP" read as drops.
    prefix_actions: dict[str, Action] = Field(default_factory=_default_prefix_actions)
    #: Action for a line whose prefix names none of the words above (or has no
    #: prefix). LOG rules are nearly always put just before a DROP, which is also
    #: how CrowdSec reads such lines.
    default_action: Action = "dropped"


class VerticalScanConfig(Section):
    """One source probing many ports of one host.

    Zeek's scan policy flags more than 15 distinct ports on one host within
    5 minutes (failed attempts only); CrowdSec's iptables-scan-multi-port uses 15.
    """

    window_seconds: int = Field(300, gt=0)
    min_ports: int = Field(16, ge=2)


class HorizontalScanConfig(Section):
    """One source probing one port on many hosts (a sweep of the address space).

    Zeek's scan policy flags more than 25 distinct hosts on one port within
    5 minutes; Elastic's rule uses 100 over a longer span.
    """

    window_seconds: int = Field(300, gt=0)
    min_hosts: int = Field(26, ge=2)


class BlockScanConfig(Section):
    """One source probing several ports on several hosts, under both thresholds above.

    A 10 ports x 10 hosts scan stays under Zeek's vertical (15) and horizontal
    (25) limits; requiring >= 5 hosts, >= 5 ports and >= 40 distinct host:port
    pairs failing in 5 minutes catches it while one client retrying a few
    closed services does not.
    """

    window_seconds: int = Field(300, gt=0)
    min_hosts: int = Field(5, ge=2)
    min_ports: int = Field(5, ge=2)
    min_pairs: int = Field(40, ge=2)


def _ipv6_only(items: list[str]) -> list[str]:
    """A list of IPv6 ranges: an IPv4 range there would be ignored without a word."""
    ipv4 = [str(net) for net in parse_networks(items) if net.version == 4]
    if ipv4:
        raise ValueError(f"IPv6 ranges only; not {', '.join(ipv4)}")
    return items


class Ipv6PrefixScanConfig(Section):
    """Addresses of one IPv6 /64 splitting a port scan between them.

    A host is usually given a whole /64 (SLAAC, privacy addresses) and may
    send every probe from a new address of it, so no address ever reaches a
    per-source threshold. The /64 is taken as one actor and held, per
    ``window_seconds`` (300 s) of failed attempts, to the limits of
    ``vertical_scan``, ``horizontal_scan`` and ``block_scan`` (read from those
    sections: one setting each, for an address and for a /64), from at least
    ``min_sources`` (2) of its addresses that never meet one alone (those are
    the per-source detections' scanners). Sources in ``home_networks`` (our
    own LANs share a /64 between hosts) and in ``shared_ranges`` (IPv6 only)
    are left out: NAT64 and Teredo prefixes (a /64 there is many hosts),
    link-local ``fe80::/10`` (every link's hosts) and ``::/64``
    (IPv4-compatible and SIIT-translated addresses). Add a site's own NAT64
    prefix there; a range narrower than a /64 stands for its /64.
    """

    window_seconds: int = Field(300, gt=0)
    min_sources: int = Field(2, ge=2)
    shared_ranges: Annotated[CidrList, AfterValidator(_ipv6_only)] = Field(
        default_factory=lambda: [*TRANSLATED_IPV6, "fe80::/10", "::/64"]
    )


@dataclass(frozen=True)
class PrefixScanSettings:
    """What ``ipv6_prefix_scan`` reads (``DetectConfig.ipv6_prefix_settings``):
    its own section and the port-scan limits it holds a /64, and an address
    alone, to."""

    scan: Ipv6PrefixScanConfig
    vertical: VerticalScanConfig
    horizontal: HorizontalScanConfig
    block: BlockScanConfig

    @property
    def window_seconds(self) -> int:
        return self.scan.window_seconds


class FlagScanConfig(Section):
    """Packets whose TCP flags no normal stack sends first (FIN, NULL, XMAS).

    psad flags these scan types on sight. Three such packets within an hour
    from one source keeps single stray packets (late FINs after a state
    timeout) from raising a case.
    """

    window_seconds: int = Field(3600, gt=0)
    min_packets: int = Field(3, ge=1)


class TRWConfig(Section):
    """Threshold Random Walk (Jung, Paxson, Berger, Balakrishnan 2004).

    Each first contact of a source with a new destination host is a Bernoulli
    trial: success with probability theta0 for a benign host, theta1 for a
    scanner. The log-likelihood ratio walks up on failures, down on successes;
    crossing ln(PD/PF) flags a scanner (about 4-5 failed first contacts with
    these defaults, the paper's values), crossing ln((1-PD)/(1-PF)) clears it.
    """

    theta0: float = Field(0.8, gt=0, lt=1)
    theta1: float = Field(0.2, gt=0, lt=1)
    detection_probability: float = Field(0.99, gt=0, lt=1)
    false_positive_probability: float = Field(0.01, gt=0, lt=1)

    @model_validator(mode="after")
    def _ordered(self) -> TRWConfig:
        # Swapped values would silently turn the walk upside down.
        if self.theta1 >= self.theta0:
            raise ValueError("theta1 (scanner success rate) must be below theta0 (benign)")
        if self.false_positive_probability >= self.detection_probability:
            raise ValueError("false_positive_probability must be below detection_probability")
        return self


class DistributedScanConfig(Section):
    """Several sources splitting one sweep between them (a coordinated scan).

    Gates, "Coordinated scan detection" (NDSS 2009; CMU thesis 2006): the
    members of a coordinated scan each cover a slice of the target space, with
    little overlap, so that none of them trips a per-source threshold. Zeek's
    scan.zeek notes the same blind spot of per-source counting. Per window of
    ``window_seconds`` (1 h: a slice of a /24 spread thin), sources that probed
    (failed) one port on at least ``min_member_hosts`` (8) hosts of one /24,
    while never reaching ``max_member_hosts_per_fast_window`` (25, Zeek's
    horizontal limit) in any ``fast_window_seconds`` (300 s), are grouped by
    (port, /24); a group of at least ``min_sources`` (3) that together covers
    ``min_total_hosts`` (64, a quarter of the /24) with an overlap ratio
    (sum of members' hosts / union) of at most ``1 + max_overlap`` (0.25) is
    a campaign. Independent scanners of one port each sweep the same hosts
    (ratio close to the number of sources) and are not a campaign.
    """

    window_seconds: int = Field(3600, gt=0)
    fast_window_seconds: int = Field(300, gt=0)
    #: Hosts of one /24: at most 256.
    min_member_hosts: int = Field(8, ge=2, le=256)
    max_member_hosts_per_fast_window: int = Field(25, ge=1)
    min_sources: int = Field(3, ge=2)
    min_total_hosts: int = Field(64, ge=2, le=256)
    max_overlap: float = Field(0.25, ge=0)

    @model_validator(mode="after")
    def _nested(self) -> DistributedScanConfig:
        # The fast windows must tile the campaign window, or a fast window
        # would straddle two campaign windows and be counted in neither.
        if self.window_seconds % self.fast_window_seconds:
            raise ValueError("window_seconds must be a multiple of fast_window_seconds")
        return self


class SlowScanConfig(Section):
    """One source probing slowly, hours to days, under every fast threshold.

    psad keeps scan state for 3600 s (or forever); Zeek's simple-scan forgets
    a source after 15 idle minutes, so a probe every 10 minutes is never seen
    by the 5-minute detections. Per source and tumbling window of
    ``window_seconds`` (24 h), at least ``min_pairs`` (100) distinct failed
    host:port pairs -- the number triage already treats as "no single
    mistaken client does this" -- while no ``fast_window_seconds`` (300 s)
    window holds more than ``max_pairs_per_fast_window`` (15) pairs, which
    keeps every 5 minutes under the vertical (16) and horizontal (26)
    thresholds: a fast scan is the other detections' finding, not this one's.
    """

    window_seconds: int = Field(86400, gt=0)
    fast_window_seconds: int = Field(300, gt=0)
    min_pairs: int = Field(100, ge=2)
    max_pairs_per_fast_window: int = Field(15, ge=1)
    #: Across runs (``slow_scan_with_state``): long windows kept in the state
    #: table, counting back from the newest one. 2 keeps the current day and the
    #: previous one, so a batch arriving a little late still merges.
    state_windows: int = Field(2, ge=1)

    @model_validator(mode="after")
    def _nested(self) -> SlowScanConfig:
        if self.window_seconds % self.fast_window_seconds:
            raise ValueError("window_seconds must be a multiple of fast_window_seconds")
        return self


#: At most this many addresses across a list of CIDRs that is expanded into
#: exact addresses (a /16): the list becomes a small in-engine table to join.
MAX_EXPANDED_ADDRESSES = 65536


def _expandable_cidrs(items: list[str]) -> list[str]:
    total = sum(network.num_addresses for network in parse_networks(items))
    if total > MAX_EXPANDED_ADDRESSES:
        raise ValueError(
            f"these ranges hold {total} addresses; at most {MAX_EXPANDED_ADDRESSES} can be listed"
        )
    return _valid_cidrs(items)


ExpandableCidrList = Annotated[list[str], AfterValidator(_expandable_cidrs)]


class DarkSpaceConfig(Section):
    """Probes of addresses nothing legitimate talks to (dark, unused space).

    A destination is dark when, in the data, nobody ever reached it
    (no succeeded connection, no allowed event), it never sent anything
    itself, and it was seen by a log source that does record successes (a
    drop-only firewall log would make every address look dark). Network
    telescopes count a single packet to dark space as a scan; inference from
    logs is noisier, so ``min_dark_hosts`` (5) distinct dark addresses from
    one source make a finding (one more than TRW's 4 failed first contacts).
    """

    min_dark_hosts: int = Field(5, ge=1)
    #: Ranges known to be unused (a darknet, unassigned subnets): dark whatever
    #: the data says. At most 65,536 addresses in all.
    known_dark: ExpandableCidrList = Field(default_factory=list)
    #: If set, only inferred-dark destinations inside these ranges count (your
    #: own address space: a dead address on the internet is not "our dark
    #: space"). Empty: every inferred-dark destination counts. At most 65,536
    #: addresses in all.
    monitored: ExpandableCidrList = Field(default_factory=list)


class TrafficSpikeConfig(Section):
    """A source's events per window far above its own baseline.

    Per source, events per ``window_seconds`` (300 s) window; the baseline is
    the exact median and the median absolute deviation (MAD) of the source's
    non-empty windows, which one spike cannot drag (unlike a mean and standard
    deviation). A window is a spike when its count exceeds median + ``k`` (6)
    x max(MAD, 1), and reaches ``min_events`` (100). For a normal
    distribution one standard deviation is 1.48 MAD, so 6 MAD is about 4
    sigma; the floor of 1 keeps a perfectly steady source (MAD 0) from
    alarming on one extra event. A source needs ``min_baseline_windows`` (6,
    half an hour of activity) before it has a baseline at all.

    The count must also be at least ``min_ratio`` (2) times the median. A busy
    source's counts vary like a Poisson count (spread about the square root
    of the mean), so the MAD test alone flags ordinary fluctuation: among
    thousands of internal clients at 80 connections per 5 minutes, dozens
    reach 120 somewhere in a day (+4 sigma), none doubles by chance. A real
    spike (a mirror job, a sweep through a client's address) multiplies the
    volume.
    """

    window_seconds: int = Field(300, gt=0)
    k: float = Field(6.0, gt=0)
    min_events: int = Field(100, ge=1)
    min_baseline_windows: int = Field(6, ge=3)
    min_ratio: float = Field(2.0, ge=1.0, allow_inf_nan=False)


class DnsBruteforceConfig(Section):
    """One client resolving many distinct names under one zone (subdomain brute force).

    dnsrecon, dnsenum, fierce and dnsmap resolve a wordlist under the target
    zone; most guesses do not exist. Anchor (DESIGN.md): more than 30-200
    distinct names under one zone per client per 15-60 minutes with a high
    NXDOMAIN share. Defaults: ``min_names`` (50) distinct names under one zone
    within ``window_seconds`` (900 s), of which at least
    ``min_nxdomain_share`` (0.5) of the answered queries were NXDOMAIN. A busy
    client resolving many popular sites spreads its names over many zones and
    its names exist; an internal host resolving 50 names of its own zone gets
    answers. Logs without response codes (query-only) cannot show the share:
    with ``require_response_code`` false (default) the share test is then
    skipped and the name count alone decides.
    """

    window_seconds: int = Field(900, gt=0)
    min_names: int = Field(50, ge=2)
    min_nxdomain_share: float = Field(0.5, ge=0, le=1)
    require_response_code: bool = False


class PtrSweepConfig(Section):
    """Reverse-DNS sweeps of an address block (PTR queries of in-addr.arpa names).

    Splunk's rule flags a source with >= 80 PTR queries; counting the
    addresses covered per /24 is sharper: dnsrecon/dnsenum walk whole /24s
    and fierce walks +-5 neighbours of each hit. Per client and
    ``window_seconds`` (3600 s): a finding per /24 with at least
    ``min_coverage`` (32, an eighth of the block) distinct addresses queried,
    and a finding ``in-addr.arpa`` when the client made at least
    ``min_queries`` (80, Splunk) distinct PTR queries in all. IPv6 is walked
    nibble by nibble (nmap's dns-ip6-arpa-scan): ``min_ip6_names`` (64, four
    levels of 16 nibbles) distinct ``ip6.arpa`` names under one /32 reverse
    zone; a resolver client reverse-resolves a few single addresses.
    """

    window_seconds: int = Field(3600, gt=0)
    min_coverage: int = Field(32, ge=2, le=256)
    min_queries: int = Field(80, ge=2)
    min_ip6_names: int = Field(64, ge=2)


class ZoneTransferConfig(Section):
    """AXFR/IXFR requests from clients that are not authorised secondaries.

    A zone transfer hands the whole zone to the asker; only the secondaries
    need it, so any other client asking (even refused) is reconnaissance.
    ``authorised_secondaries`` lists them (addresses or small CIDRs, at most
    65,536 addresses in all; expanded to exact addresses). ``min_requests``
    (1): one request is enough. Windows of ``window_seconds`` (86400 s).
    """

    window_seconds: int = Field(86400, gt=0)
    min_requests: int = Field(1, ge=1)
    authorised_secondaries: ExpandableCidrList = Field(default_factory=list)


class DnsChaosProbeConfig(Section):
    """Server fingerprinting: version.bind, authors.bind, hostname.bind, id.server,
    version.server (class CH, or type TXT). No resolver client sends these; nmap's
    dns-nsid and fpdns do. ``min_queries`` (1) per ``window_seconds`` (86400 s)."""

    window_seconds: int = Field(86400, gt=0)
    min_queries: int = Field(1, ge=1)


class DnsAnyFloodConfig(Section):
    """Many ANY queries from one client (enumeration, or amplification tests).

    RFC 8482 lets servers answer ANY minimally and modern stub resolvers do
    not send it; ``min_queries`` (20) ANY queries within ``window_seconds``
    (300 s) is far beyond a stray ``dig ANY``. Queries are requests: a query and
    its answer logged as two rows count once (``detect.dns.request_count``).
    """

    window_seconds: int = Field(300, gt=0)
    min_queries: int = Field(20, ge=1)


class SrvBruteforceConfig(Section):
    """Many distinct ``_service._proto`` SRV names from one client under one zone.

    A domain-joined host asks for a few SRV names (``_ldap._tcp.dc._msdcs``,
    ``_kerberos._tcp``); dnsrecon's srv enumeration and nmap's
    dns-srv-enum ask for dozens. ``min_names`` (10) distinct SRV names under
    one zone within ``window_seconds`` (900 s).
    """

    window_seconds: int = Field(900, gt=0)
    min_names: int = Field(10, ge=2)


class WebWordlistScanConfig(Section):
    """Content discovery: many distinct paths answered 4xx for one client.

    Elastic's rule wants > 500 4xx and > 250 distinct URLs (over a long
    span); CrowdSec's http-probing fires on 10 distinct 404 paths in a short
    bucket (leak 1 per 10 s). Defaults between the two: within
    ``window_seconds`` (300 s), at least ``min_error_paths`` (25) distinct
    paths answered 400-499 and ``min_errors`` (25) such responses. A browser
    with broken links gets a handful of 404s; a wordlist gets hundreds. The
    user agent plays no part, so scanners spoofing a browser are caught too.
    """

    window_seconds: int = Field(300, gt=0)
    min_error_paths: int = Field(25, ge=2)
    min_errors: int = Field(25, ge=1)


class ScannerUserAgentConfig(Section):
    """Requests whose User-Agent names a scanner (data/scanner_user_agents.yaml).

    The tools announce themselves by default (Nikto, sqlmap, Nmap Scripting
    Engine...); one request is evidence. ``min_requests`` (1) per
    ``window_seconds`` (3600 s) per scanner name.
    """

    window_seconds: int = Field(3600, gt=0)
    min_requests: int = Field(1, ge=1)


class SensitivePathProbeConfig(Section):
    """Requests for secrets and admin paths (data/sensitive_paths.yaml).

    A visitor may land on ``/wp-login.php`` once; asking for ``/.env``,
    ``/.git/config`` and ``/phpmyadmin`` is a probe. ``min_paths`` (3)
    distinct sensitive paths within ``window_seconds`` (3600 s), whatever the
    status (a 200 on ``/.env`` is worse, not better). The pages under one
    admin interface count once (a WordPress editor's ``/wp-admin/...``,
    Spring Boot monitoring's ``/actuator/...``). Renamed installs count
    (``/phpmyadmin2017/``: the data file's ``/phpmyadmin*`` families), so a
    prober cannot stay under 3 by guessing variants. CrowdSec's
    http-admin-interface-probing wants 4 distinct 403/404 paths, leak 1 per
    10 s; 3 in an hour is as strict as our other path lists.
    """

    window_seconds: int = Field(3600, gt=0)
    min_paths: int = Field(3, ge=1)


class WebTechnologyProbeConfig(Section):
    """Requests for one product's paths answered 403/404 (data/technology_paths.yaml).

    A site running the product answers its paths; a 404 (or a 403 from a
    front end that blocks them) means the client guessed, hunting for the
    product and its known vulnerabilities. ``statuses`` (403, 404): 401 is a
    login the product itself asks for, 429 is rate limiting. Per client and
    product within ``window_seconds`` (3600 s, as the sensitive paths: the
    bots spread their guesses over minutes):

    - a fingerprint (AEM's ``/crx/packmgr``, a camera's CGI, a VPN portal's
      internals): ``min_fingerprint_paths`` (1). Nothing but recon and
      exploit tooling asks a site for them, which is why CrowdSec's
      http-technology-probing is a trigger on one 403/404 (it alerts without
      remediation; here too web findings alone never escalate).
    - a CMS extension tree (WordPress plugins and themes...):
      ``min_family_paths`` (3) distinct scripts, readmes or directories. A
      site that dropped the CMS still gets one or two stale links; a plugin
      hunt asks for dozens (CrowdSec's http-wordpress-scan: 4 distinct
      403/404 ``/wp-*.php`` paths, leak 1 per 10 s).
    """

    window_seconds: int = Field(3600, gt=0)
    statuses: list[Annotated[int, Field(ge=400, le=499)]] = Field(
        default_factory=lambda: [403, 404], min_length=1
    )
    min_fingerprint_paths: int = Field(1, ge=1)
    min_family_paths: int = Field(3, ge=1)


class WebHostBareIpConfig(Section):
    """Requests whose Host header is a bare IP literal: the client found the
    server by address (a sweep), not by name. Monitoring and some crawlers do
    it too, hence ``min_requests`` (3) within ``window_seconds`` (3600 s)."""

    window_seconds: int = Field(3600, gt=0)
    min_requests: int = Field(3, ge=1)


class WebVhostSweepConfig(Section):
    """One client asking for many distinct Host values (virtual-host brute force,
    gobuster vhost / ffuf -H "Host: FUZZ"). ``min_hosts`` (10) distinct Host
    values within ``window_seconds`` (900 s); a browser touches a few per site."""

    window_seconds: int = Field(900, gt=0)
    min_hosts: int = Field(10, ge=2)


class InternalNameProbeConfig(Section):
    """Outside clients asking our DNS for internal-only names or private reverse zones.

    A client outside ``site.home_networks`` that asks for names under
    ``site.internal_zones`` or ``site.private_suffixes``, or for PTR names in
    the reverse zones of private (RFC 1918, ULA) and ``site.internal_only``
    ranges, is mapping addresses it should not see (the playbook's "enumerate
    internal IP addresses not typically visible externally"). A stray
    misconfigured client asks for one or two such names; ``min_names`` (3)
    distinct names within ``window_seconds`` (3600 s) make a finding.
    """

    window_seconds: int = Field(3600, gt=0)
    min_names: int = Field(3, ge=1)


class PrivateAnswerLeakConfig(Section):
    """DNS answers that hand private (RFC 1918, ULA) or ``site.internal_only``
    addresses to a client outside ``site.home_networks``.

    Each such answer tells an outsider an internal address (split-horizon DNS
    misconfigured, or an internal name published). One name is a leak worth a
    finding: ``min_names`` (1) within ``window_seconds`` (3600 s).
    """

    window_seconds: int = Field(3600, gt=0)
    min_names: int = Field(1, ge=1)


class WebInternalHostConfig(Section):
    """Web requests from outside ``site.home_networks`` whose Host header is a
    private or ``site.internal_only`` address, or a name under
    ``site.internal_zones`` or ``site.private_suffixes``: the client is trying
    internal virtual hosts or addresses it learnt elsewhere. Browsers never send
    such a Host to a public server; ``min_requests`` (1) within
    ``window_seconds`` (3600 s)."""

    window_seconds: int = Field(3600, gt=0)
    min_requests: int = Field(1, ge=1)


class IdsScanAlertConfig(Section):
    """IDS scan signatures (data/ids_signatures.yaml) as findings. The sensor has
    already applied its own threshold (ET SCAN rules count packets, Zeek's
    scan policy counts hosts), so ``min_alerts`` (1) per ``window_seconds``
    (3600 s) is enough."""

    window_seconds: int = Field(3600, gt=0)
    min_alerts: int = Field(1, ge=1)


class HoneypotTouchConfig(Section):
    """Honeypot touches (OpenCanary, Cowrie) as findings. Nothing legitimate
    talks to a honeypot: ``min_events`` (1) per ``window_seconds`` (86400 s)."""

    window_seconds: int = Field(86400, gt=0)
    min_events: int = Field(1, ge=1)


class DetectConfig(Section):
    vertical_scan: VerticalScanConfig = VerticalScanConfig()
    horizontal_scan: HorizontalScanConfig = HorizontalScanConfig()
    block_scan: BlockScanConfig = BlockScanConfig()
    flag_scan: FlagScanConfig = FlagScanConfig()
    trw: TRWConfig = TRWConfig()
    distributed_scan: DistributedScanConfig = DistributedScanConfig()
    ipv6_prefix_scan: Ipv6PrefixScanConfig = Ipv6PrefixScanConfig()
    slow_scan: SlowScanConfig = SlowScanConfig()
    dark_space_probe: DarkSpaceConfig = DarkSpaceConfig()
    traffic_spike: TrafficSpikeConfig = TrafficSpikeConfig()
    dns_bruteforce: DnsBruteforceConfig = DnsBruteforceConfig()
    ptr_sweep: PtrSweepConfig = PtrSweepConfig()
    zone_transfer: ZoneTransferConfig = ZoneTransferConfig()
    dns_chaos_probe: DnsChaosProbeConfig = DnsChaosProbeConfig()
    dns_any_flood: DnsAnyFloodConfig = DnsAnyFloodConfig()
    srv_bruteforce: SrvBruteforceConfig = SrvBruteforceConfig()
    web_wordlist_scan: WebWordlistScanConfig = WebWordlistScanConfig()
    web_scanner_user_agent: ScannerUserAgentConfig = ScannerUserAgentConfig()
    web_sensitive_path_probe: SensitivePathProbeConfig = SensitivePathProbeConfig()
    web_technology_probe: WebTechnologyProbeConfig = WebTechnologyProbeConfig()
    web_host_bare_ip: WebHostBareIpConfig = WebHostBareIpConfig()
    web_vhost_sweep: WebVhostSweepConfig = WebVhostSweepConfig()
    internal_name_probe: InternalNameProbeConfig = InternalNameProbeConfig()
    private_answer_leak: PrivateAnswerLeakConfig = PrivateAnswerLeakConfig()
    web_internal_host: WebInternalHostConfig = WebInternalHostConfig()
    ids_scan_alert: IdsScanAlertConfig = IdsScanAlertConfig()
    honeypot_touch: HoneypotTouchConfig = HoneypotTouchConfig()

    @property
    def ipv6_prefix_settings(self) -> PrefixScanSettings:
        """``ipv6_prefix_scan``'s section with the port scans' limits (its
        ``Detection.config``): a /64 is held to the limits one address is."""
        return PrefixScanSettings(
            self.ipv6_prefix_scan, self.vertical_scan, self.horizontal_scan, self.block_scan
        )


class TriageConfig(Section):
    #: The playbook escalates "repeated scanning activity from the same source
    #: IP". A source counts as repeating when its scan findings fall into at
    #: least this many separate episodes ...
    repeat_min_episodes: int = Field(2, ge=2)
    #: ... where findings less than this far apart belong to one episode. 15
    #: minutes is where Zeek's simple-scan forgets an idle scanner; two findings
    #: of one burst (say vertical_scan and trw_scan) are thus one episode.
    repeat_gap_seconds: int = Field(900, ge=0)
    #: ... or when it probed at least this many distinct host:port pairs, which
    #: no single mistaken client does.
    repeat_min_probes: int = Field(100, ge=1)
    #: How many sample events (with file:line) each finding keeps as evidence.
    evidence_samples: int = Field(5, ge=1, le=100)


#: Words nft 1.0.6 refuses as a table name (each was tried with ``nft -c``); one
#: such name makes the whole file fail to load. Not exhaustive: ``nft -c -f``
#: remains the final check before applying.
NFT_TABLE_KEYWORDS: Final = frozenset(
    """
    accept add ah arp bridge chain comment comp constant continue counter create ct dccp
    define delete describe dnat drop dst dup dynamic element elements esp ether export
    exthdr fib flags flowtable flush frag fwd goto handle hbh hook icmp icmpv6 iif
    iifname include index inet insert interval ip ip6 jhash jump limit list log map mark
    masquerade meta meter mh monitor netdev notrack numgen oif oifname osf policy
    position priority queue quota redirect reject rename replace reset return rt rule
    ruleset sctp set size snat socket symhash synproxy table tcp th timeout tproxy type
    udp update vlan vmap
    """.split()  # noqa: SIM905 (a word list reads better as text)
)


class RespondConfig(Section):
    #: Block only escalated (malicious) cases by default; "suspicious" adds the rest.
    block_dispositions: list[Disposition] = Field(default_factory=_default_block_dispositions)
    #: How long a block lasts, by case severity (nftables/ipset timeouts). A
    #: block that outlives its reason turns into an outage nobody remembers.
    #: At most 24 days: ipset's largest timeout is 2,147,483 s.
    #: Every severity needs a value (a missing one would fail the hunt later).
    block_for_seconds: Annotated[
        dict[Severity, Annotated[int, Field(gt=0, le=2_147_483)]],
        AfterValidator(_every_severity),
    ] = Field(default_factory=_default_block_for)
    #: Rule budget: firewalls slow down and operators lose track beyond this.
    #: At most 65536: an ipset (block-ipset.sh) holds no more elements.
    max_entries: int = Field(10000, ge=1, le=65536)
    nft_table: str = Field("reconwatch", pattern=r"^[A-Za-z][A-Za-z0-9_]{0,30}$")
    ipset_name: str = Field("reconwatch", pattern=r"^[A-Za-z][A-Za-z0-9_-]{0,20}$")
    #: IPv6 sources are blocked as their /64 (one host owns a whole /64, and
    #: rotating within it is free); /128 when the /64 would touch a protected range.
    ipv6_prefix: int = Field(64, ge=48, le=128)
    #: Extra rule files to write for other firewalls (nftables and ipset always are).
    writers: list[VendorWriter] = Field(default_factory=list)
    #: Names used in those files (validated: they end up in rule text).
    pf_table: str = Field("reconwatch", pattern=r"^[A-Za-z][A-Za-z0-9_]{0,21}$")
    asa_object_group: str = Field("RECONWATCH", pattern=r"^[A-Za-z][A-Za-z0-9_-]{0,40}$")
    #: The site's existing inbound ACL on the ASA (``show running-config
    #: access-group``): the ASA file inserts its denies at its line 1 and never
    #: binds an ACL of its own (a deny-only ACL bound inbound drops everything else).
    asa_access_list: str = Field("outside_access_in", pattern=r"^[A-Za-z][A-Za-z0-9_-]{0,40}$")
    fortigate_prefix: str = Field("reconwatch", pattern=r"^[A-Za-z][A-Za-z0-9_-]{0,20}$")
    aws_network_acl_id: str | None = Field(None, pattern=r"^acl-(?:[0-9a-f]{8}|[0-9a-f]{17})$")
    #: AWS network ACLs hold 20 rules by default: keep room for the site's own.
    aws_first_rule_number: int = Field(1, ge=1, le=32766)
    aws_max_rules: int = Field(18, ge=0, le=32766)

    @model_validator(mode="after")
    def _writers_have_their_settings(self) -> RespondConfig:
        # Checked here, not when the hunt writes the files at its very end.
        if "aws_nacl" in self.writers and self.aws_network_acl_id is None:
            raise ValueError(
                "the aws_nacl writer needs respond.aws_network_acl_id "
                "(the network ACL's id, acl-...)"
            )
        if self.nft_table.lower() in NFT_TABLE_KEYWORDS:
            raise ValueError(f"respond.nft_table {self.nft_table!r} is an nft keyword")
        return self

    @model_validator(mode="after")
    def _aws_rules_fit(self) -> RespondConfig:
        # AWS rule numbers end at 32766: past it, rules would silently be dropped.
        last = self.aws_first_rule_number + self.aws_max_rules - 1
        if last > 32766:
            raise ValueError(
                f"aws_first_rule_number + aws_max_rules - 1 = {last}: AWS network ACL "
                "rule numbers end at 32766"
            )
        return self

    #: Where `reconwatch block` appends one JSON line per action (who, what, why).
    audit_log: Path | None = None
    #: Asset inventory CSV (ip, port, proto, service, owner) for the exposure audit.
    inventory: Path | None = None
    #: node_id of the generated OpenCanary configuration.
    honeypot_node_id: str = Field("reconwatch-1", pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")


#: Bytes per unit of ``engine.memory_limit`` (DuckDB's units: KB = 1000, KiB = 1024).
_MEMORY_UNITS: Final = {
    "KB": 10**3, "MB": 10**6, "GB": 10**9, "TB": 10**12,
    "KiB": 2**10, "MiB": 2**20, "GiB": 2**30, "TiB": 2**40,
}  # fmt: skip
#: Below this DuckDB cannot run the detections even spilling (64 MB already fails
#: on dark_space_probe's hash tables over 500,000 events; 80 MB is the test's floor).
MIN_MEMORY_BYTES: Final = 16 * 10**6


def _workable_memory(text: str) -> str:
    number, unit = re.fullmatch(r"(\d+(?:\.\d+)?)\s*([A-Za-z]+)", text.strip()).groups()  # type: ignore[union-attr]
    if float(number) * _MEMORY_UNITS.get(unit, 0) < MIN_MEMORY_BYTES:
        raise ValueError(f"{text} is too little for DuckDB to run the detections (at least 16MB)")
    return text


class EngineConfig(Section):
    """The query engine behind the detections."""

    #: duckdb (embedded, default) or spark (PySpark; ``pip install reconwatch[spark]``).
    kind: Literal["duckdb", "spark"] = "duckdb"
    #: Spark master URL: local[N], spark://host:7077, yarn, k8s://...
    spark_master: str = "local[2]"

    #: DuckDB's memory budget. Beyond it DuckDB spills to ``LAKE/_tmp`` instead
    #: of growing with the input (its own default is 80% of RAM, which a big
    #: hunt would take). 512 MB keeps a hunt's whole process under about 1 GB
    #: at any size (measured: 0.66 GB at 2M netfilter lines, 0.90 GB at 20M),
    #: at about 20% more time at 20M lines than 768 MB; raise it on a big box.
    memory_limit: Annotated[str, AfterValidator(_workable_memory)] = Field(
        "512MB", pattern=r"^\d+(\.\d+)?\s*(KB|MB|GB|TB|KiB|MiB|GiB|TiB)$"
    )
    #: Worker threads; null = one per core.
    threads: int | None = Field(None, ge=1)


class StoreConfig(Section):
    """Where cases are kept across hunts (history, analysts' decisions)."""

    #: SQLAlchemy URL: ``sqlite:///path/reconwatch.db`` or
    #: ``postgresql+psycopg://user@host/db``. Null: ``OUT/reconwatch.db`` when a
    #: hunt has ``--out``, else no store (a one-off hunt keeps no history).
    url: str | None = None


FeedType = Literal["plain", "csv", "stix", "misp", "taxii"]


class CsvColumnsConfig(Section):
    """Column names of a CSV threat feed; only ``ip`` must exist in the header."""

    ip: str = "ip"
    actor: str = "actor"
    confidence: str = "confidence"
    first_seen: str = "first_seen"
    last_seen: str = "last_seen"
    tags: str = "tags"
    delimiter: str = Field(",", min_length=1, max_length=1)
    tags_separator: str = Field(";", min_length=1)


class FeedConfig(Section):
    """One threat-intelligence feed: a local ``path``, or a ``url`` that
    ``reconwatch feeds update`` downloads into the cache (hunts read only the
    cache, never the network). For ``taxii`` the url is the collection's URL
    (``.../api-root/collections/<id>/``)."""

    #: Names the cache folder and every match's evidence: letters, digits, - and _.
    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
    type: FeedType
    path: Path | None = None
    url: str | None = Field(None, pattern=r"^https?://")
    #: For plain lists, which name no actor themselves.
    actor: str | None = None
    csv: CsvColumnsConfig = CsvColumnsConfig()
    #: HTTP basic auth for a url (TAXII servers mostly want it). The password is
    #: never in the file: ``password_env`` names the environment variable holding it.
    username: str | None = None
    password_env: str | None = Field(None, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")

    @model_validator(mode="after")
    def _one_source(self) -> FeedConfig:
        if (self.path is None) == (self.url is None):
            raise ValueError("a feed needs exactly one of path or url")
        if self.type == "taxii" and self.url is None:
            raise ValueError("a taxii feed needs the collection url")
        return self


class GeoConfig(Section):
    """Offline geolocation and ASN: MaxMind DB files and/or iptoasn TSV files.
    None is configured by default (the files are licensed and downloaded by you)."""

    city_mmdb: Path | None = None
    country_mmdb: Path | None = None
    asn_mmdb: Path | None = None
    #: iptoasn.com ip2asn-v4.tsv / ip2asn-v6.tsv (or the combined file), plain or .gz.
    iptoasn: list[Path] = Field(default_factory=list)


class EnrichConfig(Section):
    """Enrichment for triage: threat intel, benign scanners, exercises, geo/ASN."""

    feeds: list[FeedConfig] = Field(default_factory=list)
    #: Where ``feeds update`` keeps downloads (one folder per feed, with ETags).
    cache_dir: Path = Path(".reconwatch/feeds")
    #: Seconds one feed download may take before it is reported as failed.
    timeout_seconds: float = Field(30.0, gt=0)
    #: Indicators wider than these prefixes are refused: a /0 or /4 in a feed is
    #: a mistake (or poisoning) that would make every source a "known threat".
    min_prefix_ipv4: int = Field(8, ge=1, le=32)
    min_prefix_ipv6: int = Field(16, ge=1, le=128)
    #: MISP warninglist JSON files (or plain lists) of known benign scanners.
    warninglists: list[Path] = Field(default_factory=list)
    #: YAML file of approved exercises / red teams; none by default.
    exercises: Path | None = None
    geo: GeoConfig = GeoConfig()


#: Columns of the ``http`` table an nginx JSON access log can fill, with the JSON
#: keys tried for each (the first key present in a line wins). The defaults cover
#: the common ``log_format ... escape=json`` recipes: nginx's own variable names
#: (``$remote_addr`` as "remote_addr"), and the short names of popular blog recipes.
#: "request" is the whole request line (``$request``), split like a combined log's.
def _default_nginx_json_fields() -> dict[str, list[str]]:
    return {
        "timestamp": ["time_iso8601", "time_local", "@timestamp", "timestamp", "time", "msec"],
        "source_ip": ["remote_addr", "client_ip", "clientip", "client", "ip"],
        "source_port": ["remote_port"],
        "destination_ip": ["server_addr"],
        "destination_port": ["server_port"],
        "url_domain": ["host", "http_host", "server_name", "vhost"],
        "request": ["request"],
        "http_request_method": ["request_method", "method"],
        "url_path": ["request_uri", "uri", "path"],
        "url_query": ["args", "query_string"],
        "http_version": ["server_protocol", "protocol"],
        "http_response_status_code": ["status"],
        "http_response_bytes": ["body_bytes_sent", "bytes_sent"],
        "http_request_referrer": ["http_referer", "http_referrer", "referer", "referrer"],
        "user_agent_original": ["http_user_agent", "user_agent", "agent"],
        "user_name": ["remote_user"],
        # Read only behind ``ingest.trusted_proxies`` (see there).
        "forwarded_for": ["http_x_forwarded_for", "x_forwarded_for"],
    }


#: The widest range ``ingest.trusted_proxies`` takes, per address family.
MIN_PROXY_PREFIX: Final = {4: 8, 6: 16}


def _valid_trusted_proxies(items: list[str]) -> list[str]:
    """Valid CIDRs, none wider than ``MIN_PROXY_PREFIX`` nor all together every address.

    A row whose peer is in the list takes its client from X-Forwarded-For,
    which the client writes itself; trusting everyone would let any scanner
    name an innocent third party as the source (to be reported and blocked).
    """
    items = _valid_cidrs(items)
    for network in parse_networks(items):
        if network.prefixlen < MIN_PROXY_PREFIX[network.version]:
            raise ValueError(
                f"{network} is wider than /{MIN_PROXY_PREFIX[network.version]}: any client in "
                "it could name any address in X-Forwarded-For and have it blamed; "
                "list only your own proxies and load balancers"
            )
    return _not_every_proxy(items)


_not_every_proxy = _not_every_address(
    "any client could name any address in X-Forwarded-For; "
    "list only your own proxies and load balancers"
)


def _valid_nginx_json_fields(fields: dict[str, list[str]]) -> dict[str, list[str]]:
    unknown = set(fields) - set(_default_nginx_json_fields())
    if unknown:
        raise ValueError(f"unknown nginx JSON column(s): {', '.join(sorted(unknown))}")
    if any(not keys for keys in fields.values()):
        raise ValueError("each nginx JSON column needs at least one key")
    return fields


class IngestConfig(Section):
    """Options of individual input formats."""

    #: Mapping files (YAML, see docs/mapping.md) that turn CSV or JSON-lines
    #: exports of other tools into one of the tables, without code. Files whose
    #: header (CSV) or keys (JSON) match a mapping are sniffed as ``mapping``.
    mappings: list[Path] = Field(default_factory=list)
    #: nginx JSON access logs: table column -> JSON keys tried in order. Give only
    #: the columns to change; the others keep their defaults (merged, not replaced).
    nginx_json_fields: Annotated[dict[str, list[str]], AfterValidator(_valid_nginx_json_fields)] = (
        Field(default_factory=_default_nginx_json_fields)
    )
    #: Windows DNS debug log: the order of the stamp's date, which follows the
    #: server's short-date locale (US ``11/28/2026``, en-GB, de-DE, fr-FR...
    #: ``28/11/2026``). ``auto`` settles it per file from the first 5,000 lines
    #: of a batch: a first number above 12 means day first, a second one month
    #: first; while none is above 12 the file is read month first (Windows' US
    #: default) with a warning naming it, until a batch settles it; when both
    #: are, each date in the one order it allows (one that reads both ways is
    #: rejected). A run reading a grown file on keeps the order the last run
    #: settled. ``mdy``/``dmy`` read every file in that order only.
    windows_dns_date_order: Literal["auto", "mdy", "dmy"] = "auto"
    #: Worker processes that read input files side by side (one file per worker;
    #: a single big file is still read by one). 1 keeps ingest in the hunt's
    #: process; ``--jobs`` overrides it.
    jobs: int = Field(1, ge=1, le=256)
    #: Days of partitions ``reconwatch lake retain`` keeps when ``--days`` is
    #: not given; null = no default, the command then needs ``--days``.
    retention_days: int | None = Field(None, ge=1)
    #: The site's own reverse proxies, load balancers and CDN ranges (CIDRs or
    #: addresses). A web log row whose client is one of them takes its client
    #: from the X-Forwarded-For the log carries (clf's first quoted field after
    #: the user agent, nginx JSON's ``forwarded_for`` keys, IIS's
    #: ``X-Forwarded-For`` field): the rightmost entry that is not a trusted
    #: proxy, as nginx's realip module with ``real_ip_recursive on`` reads it
    #: (``ingest.forwarded``). Empty (the default): the header is never read.
    #: The header is the client's own text up to where our proxies appended to
    #: it, so a range wider than /8 (IPv4) or /16 (IPv6), or a list covering
    #: every address, is refused: any client inside could name any address as
    #: itself and have an innocent third party reported and blocked.
    trusted_proxies: Annotated[list[str], AfterValidator(_valid_trusted_proxies)] = Field(
        default_factory=list
    )

    def nginx_json_keys(self) -> dict[str, list[str]]:
        """The effective nginx JSON keys: defaults overridden by the configured columns."""
        return {**_default_nginx_json_fields(), **self.nginx_json_fields}


class WatchConfig(Section):
    """``reconwatch watch``: continued monitoring of files and syslog streams."""

    #: Lines are parsed and detections run at most this often. Alerts must
    #: follow the line that crosses a threshold within 2 s; a 0.5 s cycle leaves
    #: the rest for parsing and the detections on a loaded 2-core box.
    batch_seconds: float = Field(0.5, gt=0, le=10)
    #: ... or as soon as this many lines wait, whichever comes first.
    batch_lines: int = Field(50_000, ge=1)
    #: Rolling window of events kept for the detections. Null: the longest
    #: window among the detection settings (slow_scan's day by default).
    window_seconds: int | None = Field(None, gt=0)
    #: Memory bound of the window whatever the event rate: past this many
    #: rows (all tables together) the oldest are evicted first.
    max_window_rows: int = Field(1_000_000, ge=1000)
    #: At most one update of an actor's alert per this many seconds; a rise
    #: of severity is sent at once (it can happen at most three times).
    alert_interval_seconds: float = Field(60.0, ge=0)
    #: An update needs the actor's event count to have grown by this share
    #: (0.5 = 50 %) since its last alert, or a new detection or severity.
    update_growth: float = Field(0.5, ge=0)
    #: Bytes read per file per cycle (a burst is read over several cycles).
    read_bytes: int = Field(8 * 1024 * 1024, ge=4096)
    #: A line longer than this without a newline is cut (bounded memory).
    max_line_bytes: int = Field(1024 * 1024, ge=1024)
    #: Syslog messages waiting to be parsed: beyond it TCP peers are paused
    #: (nothing lost) and UDP datagrams are dropped and counted.
    max_pending_messages: int = Field(500_000, ge=1000)
    #: A TCP connection that sends nothing for this long is closed. Connections
    #: are capped (512), so idle ones -- a crashed sender's, or an attacker's
    #: held open on purpose -- would otherwise keep real senders out; rsyslog
    #: and syslog-ng reconnect by themselves. Long, because a sender that is
    #: quiet at night is not a fault. A connection paused by us (queue full)
    #: is never idle.
    tcp_idle_seconds: float = Field(3600.0, gt=0)
    #: Webhook: seconds per attempt and attempts per alert (bounded retries).
    webhook_timeout_seconds: float = Field(5.0, gt=0)
    webhook_attempts: int = Field(3, ge=1, le=10)
    #: How often the watchlist (actors of earlier cases) is re-read from the store.
    watchlist_refresh_seconds: float = Field(60.0, gt=0)


class Config(Section):
    store: StoreConfig = StoreConfig()
    engine: EngineConfig = EngineConfig()
    site: SiteConfig = SiteConfig()
    syslog: SyslogConfig = SyslogConfig()
    netfilter: NetfilterConfig = NetfilterConfig()
    detect: DetectConfig = DetectConfig()
    triage: TriageConfig = TriageConfig()
    respond: RespondConfig = RespondConfig()
    ingest: IngestConfig = IngestConfig()
    enrich: EnrichConfig = EnrichConfig()
    watch: WatchConfig = WatchConfig()

    def for_input(self, name: str) -> Config:
        """This config as one input's parsers read it (its ``syslog.timezones`` zone)."""
        zone = self.syslog.zone_for(name)
        if zone == self.syslog.timezone:
            return self
        return self.model_copy(update={"syslog": self.syslog.model_copy(update={"timezone": zone})})


def load_config(path: Path | None) -> Config:
    """Read a YAML config file over the defaults; ``None`` gives the defaults."""
    if path is None:
        return Config()
    try:
        raw = path.read_bytes()
    except OSError as exc:  # missing, a directory, permission denied...
        raise ConfigError(f"{path}: cannot read config: {exc.strerror or exc}") from exc
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise ConfigError(
            f"{path}:{line}: not valid YAML (not UTF-8: byte 0x{raw[exc.start]:02x}"
            f" at offset {exc.start})"
        ) from exc
    try:
        data = strict_yaml.load(text) or {}
    except strict_yaml.DuplicateKeyError as exc:
        # PyYAML would keep the second and drop the first in silence.
        raise ConfigError(f"{path}:{strict_yaml.error_line(exc)}: {exc}") from exc
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        position = getattr(exc, "position", None)  # ReaderError: a forbidden character
        if mark is not None:
            where = f":{mark.line + 1}"
        elif isinstance(position, int):
            where = f":{text.count(chr(10), 0, position) + 1}"
        else:
            where = ""
        raise ConfigError(f"{path}{where}: not valid YAML") from exc
    except RecursionError as exc:  # PyYAML composes nested collections recursively
        raise ConfigError(f"{path}: not valid YAML (nested too deeply)") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the top level must be a mapping of sections")
    try:
        return Config.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        key = ".".join(str(p) for p in first["loc"])
        raise ConfigError(f"{path}: {key}: {first['msg']} ({exc.error_count()} error(s))") from exc


def is_network(text: str) -> bool:
    """True when ``text`` parses as a CIDR or address (used by CLI options)."""
    try:
        ipaddress.ip_network(text, strict=False)
    except ValueError:
        return False
    return True
