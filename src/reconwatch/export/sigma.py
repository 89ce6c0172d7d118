"""The detections as Sigma rules, with the thresholds of the running config.

Count-based detections become a base rule (the events counted, on a generic
Sigma log source: ``firewall``, ``dns`` or ``webserver``, with the field names
of the Sigma taxonomy) plus a Sigma *correlation* rule (``event_count`` or
``value_count`` with ``group-by`` and ``timespan``) that references it by
name. Single-event detections (scanner User-Agent, AXFR, CHAOS version.bind)
are plain rules. Detections that cannot be said in Sigma without changing
their meaning (TRW's likelihood ratio, per-source baselines, the campaign
split, state kept across hunts) are listed in :func:`unsupported` with why.

Where Sigma can only approximate the detection (a block scan's distinct
host:port pairs, a DNS brute force's NXDOMAIN share and zone grouping), the
rule's description says what is left out. Rule ids are uuid5 of the detection
name: a re-export updates the same rules in a SIEM.

Output is plain YAML (PyYAML); the tests parse every rule with pySigma and run
its validators.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

import yaml

from reconwatch.config import DetectConfig, SiteConfig
from reconwatch.detect import DETECTIONS
from reconwatch.detect.dns import CHAOS_NAMES
from reconwatch.detect.web import scanner_user_agents, sensitive_families, sensitive_paths
from reconwatch.export import document as doc
from reconwatch.netaddr import PRIVATE_NETWORKS, parse_networks, reverse_zones

#: The date the rules were last changed (Sigma ``date``); fixed so an export
#: is byte-for-byte stable.
RULES_DATE: Final = "2026-12-04"
AUTHOR: Final = "reconwatch"
REFERENCE: Final = "https://attack.mitre.org/techniques/T1590/005/"

#: What a scanning source's failed attempt looks like in firewall logs.
FAILED_ACTIONS: Final = ["blocked", "denied", "dropped", "rejected"]


def rule_id(detection: str) -> str:
    """The Sigma id of a detection's rule (the correlation rule when it has one)."""
    return str(doc.stable_uuid("sigma", detection))


def base_rule_id(detection: str) -> str:
    return str(doc.stable_uuid("sigma-base", detection))


def _timespan(seconds: int) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


@dataclass(frozen=True)
class Correlation:
    kind: str  # event_count / value_count
    group_by: tuple[str, ...]
    threshold: int
    field: str | None = None  # the counted field of value_count


@dataclass(frozen=True)
class RuleSpec:
    logsource: dict[str, str]
    detection: dict[str, Any]
    level: str
    correlation: Correlation | None = None
    seconds: int | None = None
    note: str = ""
    falsepositives: tuple[str, ...] = field(default=("Authorised vulnerability scanners",))


#: Internal-only name suffixes and private ranges of the default site; the rules
#: say to add the site's own (``site.internal_zones``, ``site.internal_only``).
_INTERNAL_SUFFIXES: Final = tuple(SiteConfig().internal_names())
_HOME: Final = list(SiteConfig().home_networks)
#: The reverse-DNS zones of the private ranges (``10.in-addr.arpa``,
#: ``16.172.in-addr.arpa``.., ``c.f.ip6.arpa``, ``d.f.ip6.arpa``): PTR names
#: under them are internal names too (detect/internal.py).
_PRIVATE_REVERSE: Final = tuple(reverse_zones(parse_networks(PRIVATE_NETWORKS)))
#: Hex digits either case: a Host header is case-insensitive (``[FD00::1]``).
_PRIVATE_HOST_RE: Final = (
    r"^(10\.|192\.168\.|172\.(1[6-9]|2[0-9]|3[01])\.)[0-9.]+(:\d+)?$"
    r"|^\[[fF][cCdD][0-9a-fA-F]{2}:"
)
_SITE_NOTE: Final = (
    "Uses the default private ranges and internal suffixes; add your site.internal_zones, "
    "site.internal_only ranges and public home networks."
)


def _firewall_failed() -> dict[str, Any]:
    return {"selection": {"action": FAILED_ACTIONS}, "condition": "selection"}


def _ceil(value: float) -> int:
    return int(-(-value // 1))


def specs(cfg: DetectConfig) -> dict[str, RuleSpec]:
    """The Sigma form of every detection that has one, with ``cfg``'s thresholds."""
    firewall = {"category": "firewall"}
    dns = {"category": "dns"}
    web = {"category": "webserver"}
    bare_ip = r"^(\d{1,3}\.){3}\d{1,3}(:\d+)?$|^\[[0-9A-Fa-f:.]+\](:\d+)?$"
    out: dict[str, RuleSpec] = {
        "vertical_scan": RuleSpec(
            firewall,
            _firewall_failed(),
            "medium",
            Correlation(
                "value_count", ("src_ip", "dst_ip"), cfg.vertical_scan.min_ports, "dst_port"
            ),
            cfg.vertical_scan.window_seconds,
        ),
        "horizontal_scan": RuleSpec(
            firewall,
            _firewall_failed(),
            "medium",
            Correlation(
                "value_count", ("src_ip", "dst_port"), cfg.horizontal_scan.min_hosts, "dst_ip"
            ),
            cfg.horizontal_scan.window_seconds,
        ),
        "block_scan": RuleSpec(
            firewall,
            _firewall_failed(),
            "medium",
            Correlation("value_count", ("src_ip",), cfg.block_scan.min_hosts, "dst_ip"),
            cfg.block_scan.window_seconds,
            note=(
                f"Approximation: reconwatch also requires {cfg.block_scan.min_ports} distinct "
                f"ports and {cfg.block_scan.min_pairs} distinct host:port pairs, which one "
                "Sigma correlation cannot count."
            ),
        ),
        "dns_bruteforce": RuleSpec(
            dns,
            {"selection": {"response_code": "NXDOMAIN"}, "condition": "selection"},
            "medium",
            Correlation(
                "value_count",
                ("src_ip",),
                _ceil(cfg.dns_bruteforce.min_names * cfg.dns_bruteforce.min_nxdomain_share),
                "query",
            ),
            cfg.dns_bruteforce.window_seconds,
            note=(
                "Approximation: counts distinct NXDOMAIN names per client; reconwatch counts "
                f"{cfg.dns_bruteforce.min_names} names under one zone with an NXDOMAIN share "
                f"of at least {cfg.dns_bruteforce.min_nxdomain_share}."
            ),
        ),
        "ptr_sweep": RuleSpec(
            dns,
            {
                "selection": {"record_type": "PTR", "query|endswith": ".in-addr.arpa"},
                "condition": "selection",
            },
            "medium",
            Correlation("value_count", ("src_ip",), cfg.ptr_sweep.min_queries, "query"),
            cfg.ptr_sweep.window_seconds,
            note=(
                "Approximation: counts every in-addr.arpa name a client asks; reconwatch "
                "counts only names of the site's home networks toward this total, fires "
                f"sooner on {cfg.ptr_sweep.min_coverage} addresses of one /24, and also "
                f"on {cfg.ptr_sweep.min_ip6_names} ip6.arpa names under one /32 reverse "
                "zone (IPv6 walks), which this rule does not see."
            ),
        ),
        "zone_transfer": RuleSpec(
            dns,
            _zone_transfer(cfg),
            "high",
        ),
        "dns_chaos_probe": RuleSpec(
            dns,
            {"selection": {"query": list(CHAOS_NAMES)}, "condition": "selection"},
            "low",
        ),
        "dns_any_flood": RuleSpec(
            dns,
            {"selection": {"record_type": "ANY"}, "condition": "selection"},
            "low",
            Correlation("event_count", ("src_ip",), cfg.dns_any_flood.min_queries),
            cfg.dns_any_flood.window_seconds,
        ),
        "srv_bruteforce": RuleSpec(
            dns,
            {
                "selection": {"record_type": "SRV", "query|startswith": "_"},
                "condition": "selection",
            },
            "low",
            Correlation("value_count", ("src_ip",), cfg.srv_bruteforce.min_names, "query"),
            cfg.srv_bruteforce.window_seconds,
        ),
        "web_wordlist_scan": RuleSpec(
            web,
            {
                "selection": {"sc-status|gte": 400, "sc-status|lt": 500},
                "condition": "selection",
            },
            "medium",
            Correlation(
                "value_count", ("c-ip",), cfg.web_wordlist_scan.min_error_paths, "cs-uri-stem"
            ),
            cfg.web_wordlist_scan.window_seconds,
        ),
        "web_scanner_user_agent": RuleSpec(
            web,
            {
                "selection": {
                    "cs-user-agent|contains": sorted(
                        {s for _, subs in scanner_user_agents() for s in subs}
                    )
                },
                "condition": "selection",
            },
            "medium",
        ),
        "web_sensitive_path_probe": RuleSpec(
            web,
            {
                "selection": {"cs-uri-stem|endswith": list(sensitive_paths())},
                "families": {"cs-uri-stem|startswith": list(sensitive_families())},
                "condition": "selection or families",
            },
            "medium",
            Correlation(
                "value_count",
                ("c-ip",),
                cfg.web_sensitive_path_probe.min_paths,
                "cs-uri-stem",
            ),
            cfg.web_sensitive_path_probe.window_seconds,
            note=(
                "Approximation: reconwatch also counts paths under these "
                "(/phpmyadmin/index.php), which endswith cannot express."
            ),
        ),
        "web_host_bare_ip": RuleSpec(
            web,
            {"selection": {"cs-host|re": bare_ip}, "condition": "selection"},
            "low",
            Correlation("event_count", ("c-ip",), cfg.web_host_bare_ip.min_requests),
            cfg.web_host_bare_ip.window_seconds,
        ),
        "web_vhost_sweep": RuleSpec(
            web,
            {"selection": {"cs-host|exists": True}, "condition": "selection"},
            "low",
            Correlation("value_count", ("c-ip",), cfg.web_vhost_sweep.min_hosts, "cs-host"),
            cfg.web_vhost_sweep.window_seconds,
        ),
        "internal_name_probe": RuleSpec(
            dns,
            {
                "selection": {
                    "query|endswith": [f".{z}" for z in (*_INTERNAL_SUFFIXES, *_PRIVATE_REVERSE)]
                },
                "filter_home": {"src_ip|cidr": _HOME},
                "condition": "selection and not filter_home",
            },
            "high",
            Correlation("value_count", ("src_ip",), cfg.internal_name_probe.min_names, "query"),
            cfg.internal_name_probe.window_seconds,
            note=_SITE_NOTE,
            falsepositives=("Misconfigured remote clients using an internal search domain",),
        ),
        "private_answer_leak": RuleSpec(
            dns,
            {
                "selection": {"answer|cidr": list(PRIVATE_NETWORKS)},
                "filter_home": {"src_ip|cidr": _HOME},
                "condition": "selection and not filter_home",
            },
            "high",
            note=_SITE_NOTE,
            falsepositives=("Split-horizon DNS that deliberately publishes private addresses",),
        ),
        "web_internal_host": RuleSpec(
            web,
            {
                "selection_address": {"cs-host|re": _PRIVATE_HOST_RE},
                "selection_name": {"cs-host|endswith": [f".{z}" for z in _INTERNAL_SUFFIXES]},
                "filter_home": {"c-ip|cidr": _HOME},
                "condition": "1 of selection_* and not filter_home",
            },
            "high",
            note=_SITE_NOTE,
            falsepositives=("Reverse proxies that forward internal Host headers",),
        ),
    }
    # Registered detections only (a renamed one must not leave a stale rule).
    return {name: spec for name, spec in out.items() if name in DETECTIONS}


def _zone_transfer(cfg: DetectConfig) -> dict[str, Any]:
    detection: dict[str, Any] = {"selection": {"record_type": ["AXFR", "IXFR"]}}
    secondaries = [str(n) for n in cfg.zone_transfer.authorised_secondaries]
    if secondaries:
        detection["filter_secondaries"] = {"src_ip|cidr": secondaries}
        detection["condition"] = "selection and not filter_secondaries"
    else:
        detection["condition"] = "selection"
    return detection


UNSUPPORTED: Final[dict[str, str]] = {
    "ids_scan_alert": "it reads alerts the IDS already raised: forward those as they are",
    "honeypot_touch": "it reads honeypot events, already alerts in their own right",
    "trw_scan": "a sequential likelihood-ratio test over first contacts, not a count",
    "flag_scan": "needs the TCP flags of each packet, which the Sigma taxonomy has no field for",
    "distributed_scan": "splits one sweep between several sources (set logic across groups)",
    "ipv6_prefix_scan": "groups sources by their IPv6 /64, which no Sigma field or modifier gives",
    "slow_scan": "a day-long pair count kept under every fast threshold, with state across hunts",
    "dark_space_probe": "depends on the site's dark-space map learned from traffic",
    "traffic_spike": "compares each source with its own median baseline",
    "web_technology_probe": (
        "one threshold per product (one fingerprint path, three plugin files), "
        "which a single value_count correlation cannot hold"
    ),
}


def unsupported(cfg: DetectConfig | None = None) -> dict[str, str]:
    """Registered detections that have no Sigma form, with why."""
    mapped = specs(cfg if cfg is not None else DetectConfig())
    return {
        name: UNSUPPORTED.get(name, "no Sigma mapping written for it yet")
        for name in DETECTIONS
        if name not in mapped
    }


def _tags(detection: str) -> list[str]:
    technique = DETECTIONS[detection].technique
    tactic = doc.tactic(technique)[2]
    return [f"attack.{tactic}", f"attack.{technique.lower()}"]


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9_]", "_", name.lower())


def rules(detection: str, spec: RuleSpec) -> list[dict[str, Any]]:
    """The Sigma rule documents of one detection (base, then correlation)."""
    registered = DETECTIONS[detection]
    description = f"reconwatch {detection}: {registered.description}."
    if spec.note:
        description += f" {spec.note}"
    common: dict[str, Any] = {
        "status": "experimental",
        "references": list(dict.fromkeys([REFERENCE, doc.technique_url(registered.technique)])),
        "author": AUTHOR,
        "date": RULES_DATE,
        "tags": _tags(detection),
    }
    if spec.correlation is None:
        return [
            {
                "title": f"reconwatch {detection.replace('_', ' ')}",
                "id": rule_id(detection),
                "name": f"reconwatch_{_slug(detection)}",
                **common,
                "description": description,
                "logsource": spec.logsource,
                "detection": spec.detection,
                "falsepositives": list(spec.falsepositives),
                "level": spec.level,
            }
        ]
    base_name = f"reconwatch_{_slug(detection)}_events"
    base = {
        "title": f"reconwatch {detection.replace('_', ' ')} (events counted)",
        "id": base_rule_id(detection),
        "name": base_name,
        **common,
        "description": f"Events counted by the reconwatch {detection} correlation rule.",
        "logsource": spec.logsource,
        "detection": spec.detection,
        "falsepositives": list(spec.falsepositives),
        "level": "informational",
    }
    corr = spec.correlation
    condition: dict[str, Any] = {"gte": corr.threshold}
    if corr.field:
        condition["field"] = corr.field
    correlation = {
        "title": f"reconwatch {detection.replace('_', ' ')}",
        "id": rule_id(detection),
        "name": f"reconwatch_{_slug(detection)}",
        **common,
        "description": description,
        "correlation": {
            "type": corr.kind,
            "rules": [base_name],
            "group-by": list(corr.group_by),
            "timespan": _timespan(spec.seconds or 300),
            "condition": condition,
        },
        "falsepositives": list(spec.falsepositives),
        "level": spec.level,
    }
    return [base, correlation]


def render(documents: list[dict[str, Any]]) -> str:
    """YAML documents separated by ``---``, keys in rule order."""
    return "---\n".join(
        yaml.safe_dump(d, sort_keys=False, allow_unicode=True, width=100) for d in documents
    )


def export_sigma(cfg: DetectConfig | None = None) -> dict[str, str]:
    """Detection name -> its rule file's YAML text."""
    config = cfg if cfg is not None else DetectConfig()
    return {name: render(rules(name, spec)) for name, spec in specs(config).items()}


def all_rules(files: Mapping[str, str]) -> str:
    """Every rule file of :func:`export_sigma` as one YAML stream."""
    return "---\n".join(files[name] for name in sorted(files))
