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
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, model_validator

from reconwatch.netaddr import IPNetwork, parse_networks


class ConfigError(Exception):
    """A configuration file that cannot be used; the message names the file and key."""


def _valid_cidrs(items: list[str]) -> list[str]:
    parse_networks(items)
    return items


def _valid_timezone(name: str) -> str:
    from zoneinfo import ZoneInfo

    try:
        ZoneInfo(name)
    except (KeyError, ValueError) as exc:  # ZoneInfoNotFoundError is a KeyError
        raise ValueError(f"unknown time zone {name!r}") from exc
    return name


CidrList = Annotated[list[str], AfterValidator(_valid_cidrs)]
Action = Literal["allowed", "denied", "dropped", "rejected"]
Severity = Literal["low", "medium", "high", "critical"]
Disposition = Literal["malicious", "suspicious"]


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


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SiteConfig(Section):
    #: Our own address space. Sources inside it are internal (ATT&CK T1046 rather
    #: than external reconnaissance) and are never blocked. Default: the private
    #: ranges (RFC 1918, RFC 6598 shared space, IPv6 ULA), which nearly every site
    #: uses internally; add your public ranges.
    home_networks: CidrList = Field(
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
    protected: CidrList = Field(default_factory=list)
    #: Ranges that are never reachable or announced from outside (management
    #: LANs, internal server subnets). An external source probing them is
    #: "enumerating internal IP addresses not typically visible externally",
    #: a playbook escalation criterion. Not derived from home_networks: behind
    #: DNAT a public service is often logged at a private address.
    internal_only: CidrList = Field(default_factory=list)

    def home(self) -> list[IPNetwork]:
        return parse_networks(self.home_networks)

    def internal_only_networks(self) -> list[IPNetwork]:
        return parse_networks(self.internal_only)

    def protected_networks(self) -> list[IPNetwork]:
        return parse_networks(self.protected)


class SyslogConfig(Section):
    #: Classic syslog (RFC 3164) stamps carry neither year nor zone. ``year: null``
    #: means the reference year (``--now``, default the clock), one less when the
    #: file's first month lies after the reference month; a step back of six
    #: months or more inside a file (Dec -> Jan) moves later lines to the next year.
    year: int | None = None
    #: Zone of the syslog stamps that carry none (RFC 3164, journal short-iso
    #: always has one). UTC is the safe default for servers.
    timezone: Annotated[str, AfterValidator(_valid_timezone)] = "UTC"


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


class DetectConfig(Section):
    vertical_scan: VerticalScanConfig = VerticalScanConfig()
    horizontal_scan: HorizontalScanConfig = HorizontalScanConfig()
    block_scan: BlockScanConfig = BlockScanConfig()
    flag_scan: FlagScanConfig = FlagScanConfig()
    trw: TRWConfig = TRWConfig()


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


class RespondConfig(Section):
    #: Block only escalated (malicious) cases by default; "suspicious" adds the rest.
    block_dispositions: list[Disposition] = Field(default_factory=_default_block_dispositions)
    #: How long a block lasts, by case severity (nftables/ipset timeouts). A
    #: block that outlives its reason turns into an outage nobody remembers.
    #: At most 24 days: ipset's largest timeout is 2,147,483 s.
    block_for_seconds: dict[Severity, Annotated[int, Field(gt=0, le=2_147_483)]] = Field(
        default_factory=_default_block_for
    )
    #: Rule budget: firewalls slow down and operators lose track beyond this.
    max_entries: int = Field(10000, ge=1)
    nft_table: str = Field("reconwatch", pattern=r"^[A-Za-z][A-Za-z0-9_]{0,30}$")
    ipset_name: str = Field("reconwatch", pattern=r"^[A-Za-z][A-Za-z0-9_-]{0,20}$")


class EngineConfig(Section):
    """The query engine behind the detections."""

    #: DuckDB's memory budget. Beyond it DuckDB spills to ``LAKE/_tmp`` instead
    #: of growing with the input (its own default is 80% of RAM, which a big
    #: hunt would take). 2 GB keeps a 2-core SOC box responsive.
    memory_limit: str = Field("2GB", pattern=r"^\d+(\.\d+)?\s*(KB|MB|GB|TB|KiB|MiB|GiB|TiB)$")
    #: Worker threads; null = one per core.
    threads: int | None = Field(None, ge=1)


class StoreConfig(Section):
    """Where cases are kept across hunts (history, analysts' decisions)."""

    #: SQLAlchemy URL: ``sqlite:///path/reconwatch.db`` or
    #: ``postgresql+psycopg://user@host/db``. Null: ``OUT/reconwatch.db`` when a
    #: hunt has ``--out``, else no store (a one-off hunt keeps no history).
    url: str | None = None


class Config(Section):
    store: StoreConfig = StoreConfig()
    engine: EngineConfig = EngineConfig()
    site: SiteConfig = SiteConfig()
    syslog: SyslogConfig = SyslogConfig()
    netfilter: NetfilterConfig = NetfilterConfig()
    detect: DetectConfig = DetectConfig()
    triage: TriageConfig = TriageConfig()
    respond: RespondConfig = RespondConfig()


def load_config(path: Path | None) -> Config:
    """Read a YAML config file over the defaults; ``None`` gives the defaults."""
    if path is None:
        return Config()
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read config: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"{path}{where}: not valid YAML") from exc
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
