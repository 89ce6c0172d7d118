"""Web reconnaissance: wordlist scans, scanner user agents, sensitive paths,
technology probes, bare-IP Host headers and virtual-host sweeps.

Every detection reads the ``http`` table, in the same portable Ibis subset as
the port scans (no regex: ``lower``, ``contains``, ``startswith``,
``endswith``, ``replace``, ``length``), with their two-grid windows and
non-overlapping best-window selection. The matching lists are maintained data
files with their sources: ``reconwatch/data/scanner_user_agents.yaml``,
``reconwatch/data/sensitive_paths.yaml`` and
``reconwatch/data/technology_paths.yaml``. They are small, so each becomes an
OR of ``contains``/``startswith``/``endswith`` expressions evaluated by the
engine.

``targets`` holds the requested paths (or Host values for ``web_vhost_sweep``
and ``web_host_bare_ip``), sorted and capped at ``MAX_TARGETS``;
``target_count`` is the full distinct count.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from importlib import resources
from typing import Final

import ibis
import ibis.expr.types as ir
import yaml

from reconwatch.config import (
    ScannerUserAgentConfig,
    SensitivePathProbeConfig,
    WebHostBareIpConfig,
    WebTechnologyProbeConfig,
    WebVhostSweepConfig,
    WebWordlistScanConfig,
)
from reconwatch.detect.base import Detection
from reconwatch.detect.dns import IP_ADDRESSES, windowed_findings
from reconwatch.detect.portscan import as_findings
from reconwatch.detect.ranges import DIGITS, HEX_LETTERS, gated, without

WEB_WORDLIST_SCAN: Final = "web_wordlist_scan"
WEB_SCANNER_USER_AGENT: Final = "web_scanner_user_agent"
WEB_SENSITIVE_PATH_PROBE: Final = "web_sensitive_path_probe"
WEB_TECHNOLOGY_PROBE: Final = "web_technology_probe"
WEB_HOST_BARE_IP: Final = "web_host_bare_ip"
WEB_VHOST_SWEEP: Final = "web_vhost_sweep"

#: ATT&CK Active Scanning: Wordlist Scanning.
WORDLIST_SCANNING: Final = "T1595.003"
#: ATT&CK Active Scanning: Vulnerability Scanning.
VULNERABILITY_SCANNING: Final = "T1595.002"

SENSITIVE_LABEL: Final = "sensitive paths"
WORDLIST_LABEL: Final = "4xx"
VHOST_LABEL: Final = "Host"
BARE_IP_LABEL: Final = "IP literal Host"


def _data(name: str) -> object:
    text = resources.files("reconwatch").joinpath(f"data/{name}").read_text("utf-8")
    return yaml.safe_load(text)


@functools.cache
def scanner_user_agents() -> tuple[tuple[str, tuple[str, ...]], ...]:
    """(scanner name, lower-case substrings) from ``data/scanner_user_agents.yaml``,
    in file order (the first scanner whose substring matches names the request)."""
    data = _data("scanner_user_agents.yaml")
    assert isinstance(data, dict)
    return tuple(
        (str(item["name"]), tuple(str(s).lower() for s in item["substrings"]))
        for item in data["scanners"]
    )


#: The suffix that makes a sensitive-path entry a family (``/phpmyadmin*``).
FAMILY_MARK: Final = "*"

#: The two lists of ``data/sensitive_paths.yaml``: secrets, source and backups
#: (one served is data exposure), and admin interfaces (one served is an
#: exposed login or console, not a compromise by itself).
SECRETS: Final = "secrets"
ADMIN_INTERFACES: Final = "admin_interfaces"
SENSITIVE_KINDS: Final = (SECRETS, ADMIN_INTERFACES)


@functools.cache
def _sensitive_entries(kinds: tuple[str, ...] = SENSITIVE_KINDS) -> tuple[str, ...]:
    data = _data("sensitive_paths.yaml")
    assert isinstance(data, dict)
    return tuple(str(p).lower() for kind in kinds for p in data[kind])


def _plain(entries: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(sorted({p.rstrip(FAMILY_MARK).rstrip("/") for p in entries}))


def _stems(entries: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(sorted({p.rstrip(FAMILY_MARK) for p in entries if p.endswith(FAMILY_MARK)}))


@functools.cache
def sensitive_paths(kinds: tuple[str, ...] = SENSITIVE_KINDS) -> tuple[str, ...]:
    """Lower-case sensitive paths from ``data/sensitive_paths.yaml`` (both lists,
    or those in ``kinds``), sorted; a family (``/phpmyadmin*``) is here as its
    plain path (``/phpmyadmin``)."""
    return _plain(_sensitive_entries(kinds))


@functools.cache
def sensitive_families(kinds: tuple[str, ...] = SENSITIVE_KINDS) -> tuple[str, ...]:
    """The stems of the family entries (``/phpmyadmin*`` gives ``/phpmyadmin``), sorted."""
    return _stems(_sensitive_entries(kinds))


@dataclass(frozen=True)
class TechnologyFamily:
    """A CMS's extension trees: paths containing one of ``under`` and ending with
    one of ``endings`` (files a browser never fetches)."""

    product: str
    under: tuple[str, ...]
    endings: tuple[str, ...]


@functools.cache
def technology_fingerprints() -> tuple[tuple[str, tuple[str, ...]], ...]:
    """(product, lower-case paths) from ``data/technology_paths.yaml``, in file order."""
    data = _data("technology_paths.yaml")
    assert isinstance(data, dict)
    return tuple(
        (str(item["product"]), tuple(str(p).lower().rstrip("/") for p in item["paths"]))
        for item in data["fingerprints"]
    )


@functools.cache
def technology_families() -> tuple[TechnologyFamily, ...]:
    """The extension-tree families from ``data/technology_paths.yaml``, in file order."""
    data = _data("technology_paths.yaml")
    assert isinstance(data, dict)
    return tuple(
        TechnologyFamily(
            str(item["product"]),
            tuple(str(u).lower() for u in item["under"]),
            tuple(str(e).lower() for e in item["endings"]),
        )
        for item in data["families"]
    )


def _any(tests: list[ir.BooleanValue]) -> ir.BooleanValue:
    return functools.reduce(lambda a, b: a | b, tests)


def _is_entry(lowered: ir.StringValue, entry: str) -> ir.BooleanValue:
    """The listed-path test: equal to ``entry``, ending with it or under it."""
    return (lowered == entry) | lowered.endswith(entry) | lowered.startswith(entry + "/")


def scanner_name(user_agent: ir.StringValue) -> ir.StringValue:
    """The scanner a User-Agent names (case-insensitive substring), or null."""
    lowered = user_agent.lower()
    branches = []
    for name, substrings in scanner_user_agents():
        matched = functools.reduce(
            lambda acc, s: acc | lowered.contains(s),
            substrings[1:],
            lowered.contains(substrings[0]),
        )
        branches.append((matched, name))
    return ibis.cases(*branches, else_=ibis.null("string"))


def is_sensitive(path: ir.StringValue, kinds: tuple[str, ...] = SENSITIVE_KINDS) -> ir.BooleanValue:
    """True when the lower-cased ``path`` equals a listed path, ends with it, or
    lies under it (``/phpmyadmin/index.php``), or starts with a family's stem
    (``/phpmyadmin2017/index.php``). Both lists by default; ``kinds`` narrows
    to ``(SECRETS,)`` or ``(ADMIN_INTERFACES,)``."""
    lowered = path.lower()
    tests = [_is_entry(lowered, entry) for entry in sensitive_paths(kinds)]
    tests += [lowered.startswith(stem) for stem in sensitive_families(kinds)]
    return _any(tests)


def sensitive_family(path: ir.StringValue) -> ir.StringValue:
    """What a sensitive ``path`` counts as: one admin interface, or one secret path.

    The pages under an admin interface are one interface, whoever browses
    them: a WordPress editor's ``/wp-admin/edit.php``, ``/wp-admin/post.php``
    and ``/wp-admin/load-styles.php`` are ``/wp-admin``, Spring Boot
    monitoring's ``/actuator/health`` and ``/actuator/prometheus`` are
    ``/actuator``. A family's renamed install is its own interface, named by
    its first segment (``/phpmyadmin2017/index.php`` is ``/phpmyadmin2017``:
    a prober guessing variants guesses distinct installs). Any other admin
    path is itself without a final ``/``; a secret path is always itself
    (``/.env``, ``/api/.env`` and ``/.git/config`` are three guesses).
    Lower-cased.
    """
    lowered = path.lower()
    admin = (ADMIN_INTERFACES,)
    branches: list[tuple[ir.BooleanValue, ir.StringValue | str]] = [(is_secret(path), lowered)]
    # Longest entries first: ``/adminer.php/x`` is under ``/adminer.php``, not ``/adminer``.
    for entry in sorted(sensitive_paths(admin), key=len, reverse=True):
        branches.append((lowered.startswith(entry + "/"), entry))
    for stem in sensitive_families(admin):
        rest = lowered.substr(len(stem))
        cut = rest.find("/")
        segment = ibis.cases((cut < 0, rest), else_=rest.substr(0, cut))
        branches.append((lowered.startswith(stem), stem + segment))
    trimmed = ibis.cases(
        (lowered.endswith("/") & (lowered.length() > 1), lowered.substr(0, lowered.length() - 1)),
        else_=lowered,
    )
    return ibis.cases(*branches, else_=trimmed)


def is_secret(path: ir.StringValue) -> ir.BooleanValue:
    """A secret, source or backup path (``/.env``, ``/.git/config``, ``/backup.sql``):
    served, it is data exposure."""
    return is_sensitive(path, (SECRETS,))


def is_admin_interface(path: ir.StringValue) -> ir.BooleanValue:
    """An admin interface that is not also a secret path (``/wp-login.php``,
    ``/phpmyadmin/``, ``/manager/html``): served, it is an exposed interface."""
    return is_sensitive(path, (ADMIN_INTERFACES,)) & ~is_secret(path)


def technology_product(path: ir.StringValue) -> ir.StringValue:
    """The product whose path the lower-cased ``path`` is (fingerprints first,
    then families, in file order), or null."""
    lowered = path.lower()
    branches = [
        (_any([_is_entry(lowered, p) for p in paths]), product)
        for product, paths in technology_fingerprints()
    ]
    branches += [
        (
            _any([lowered.contains(u) for u in family.under])
            & _any([lowered.endswith(e) for e in family.endings]),
            family.product,
        )
        for family in technology_families()
    ]
    return ibis.cases(*branches, else_=ibis.null("string"))


def _count_of(text: ir.StringValue, char: str) -> ir.IntegerValue:
    return text.length() - text.replace(char, "").length()


#: First characters of a Host that may be an IP literal (``is_ip_literal``).
LITERAL_STARTS: Final = (*DIGITS, "[", ":")


def is_ip_literal(host: ir.StringValue) -> ir.BooleanValue:
    """True when a Host value is an IP address literal, with or without a port.

    Without regex: IPv4 is only digits, dots and a port colon, with exactly
    three dots (``192.0.2.7``, ``192.0.2.7:8080``); IPv6 is bracketed
    (``[2001:db8::1]:443``, as RFC 7230 requires in Host) or, as some logs
    write it unbracketed, only hex digits, dots and at least two colons.
    """
    lowered = host.lower()
    ipv4 = (without(lowered, "0123456789.:") == "") & (_count_of(lowered, ".") == 3)
    ipv6 = lowered.startswith("[") | (
        (without(lowered, "0123456789abcdef.:") == "") & (_count_of(lowered, ":") >= 2)
    )
    # Character tests only where a literal can start: a digit, "[" or ":", or
    # a hex letter with a colon somewhere (fe80::1). Host names mostly start
    # otherwise; testing every value cost 1.7 s per reading of 1.7M requests.
    first = lowered.substr(0, 1)
    maybe = first.isin(LITERAL_STARTS) | (first.isin(HEX_LETTERS) & lowered.contains(":"))
    return gated(maybe, ipv4 | ipv6)


def web_wordlist_scan(http: ir.Table, cfg: WebWordlistScanConfig) -> ir.Table:
    """Content discovery by wordlist: ``web_wordlist_scan`` findings.

    Per client and window of ``cfg.window_seconds`` (300 s), among responses
    400-499: distinct paths >= ``cfg.min_error_paths`` (25) and responses >=
    ``cfg.min_errors`` (25). The user agent is ignored, so Acunetix or
    Netsparker posing as Chrome are caught by behaviour. Score: distinct 4xx
    paths. Label: ``4xx``. Targets: the paths. ``event_count``: 4xx responses.
    """
    status = http.http_response_status_code
    errors = http.filter((status >= 400) & (status <= 499) & http.url_path.notnull())
    best = windowed_findings(
        errors,
        window_seconds=cfg.window_seconds,
        keys=["source_ip"],
        target="url_path",
        having=lambda t: (
            (t.target_count >= cfg.min_error_paths) & (t.event_count >= cfg.min_errors)
        ),
        score=lambda t: t.target_count,
    )
    return as_findings(best, WEB_WORDLIST_SCAN, label=WORDLIST_LABEL)


def wordlist_least_events(cfg: WebWordlistScanConfig) -> int:
    """A wordlist scan is ``min_errors`` 4xx responses on ``min_error_paths``
    paths at least (see ``Detection.least_events``)."""
    return max(cfg.min_errors, cfg.min_error_paths)


def web_scanner_user_agent(http: ir.Table, cfg: ScannerUserAgentConfig) -> ir.Table:
    """Requests whose User-Agent names a scanner: ``web_scanner_user_agent`` findings.

    Per client, scanner and window of ``cfg.window_seconds`` (3600 s),
    requests >= ``cfg.min_requests`` (1). Score: requests. Label: the
    scanner's name from the data file. Targets: the paths requested.
    """
    named = http.mutate(_scanner=scanner_name(http.user_agent_original))
    events = named.filter(named._scanner.notnull())
    events = events.mutate(_path=events.url_path.coalesce(""))
    best = windowed_findings(
        events,
        window_seconds=cfg.window_seconds,
        keys=["source_ip", "_scanner"],
        target="_path",
        having=lambda t: t.event_count >= cfg.min_requests,
        score=lambda t: t.event_count,
    )
    return as_findings(best, WEB_SCANNER_USER_AGENT, label=best._scanner)


def web_sensitive_path_probe(http: ir.Table, cfg: SensitivePathProbeConfig) -> ir.Table:
    """Requests for secrets and admin paths: ``web_sensitive_path_probe`` findings.

    Per client and window of ``cfg.window_seconds`` (3600 s), distinct
    sensitive paths (lower-cased) >= ``cfg.min_paths`` (3), whatever the
    status, the pages under one admin interface counting once
    (``sensitive_family``): a WordPress editor browsing ``/wp-admin`` after
    ``/wp-login.php`` is two, a prober's ``/wp-admin/``, ``/.env``,
    ``/.git/head`` and ``/phpmyadmin/`` are four. Score: those distinct
    paths and interfaces. Label: ``sensitive paths``. Targets: the paths
    requested (``target_count``: how many).
    """
    events = http.filter(http.url_path.notnull())
    events = events.filter(is_sensitive(events.url_path))
    events = events.mutate(_path=events.url_path.lower(), _family=sensitive_family(events.url_path))
    best = windowed_findings(
        events,
        window_seconds=cfg.window_seconds,
        keys=["source_ip"],
        target="_path",
        having=lambda t: t._families >= cfg.min_paths,
        score=lambda t: t._families,
        extra=lambda t: {"_families": t._family.nunique()},
    )
    return as_findings(best, WEB_SENSITIVE_PATH_PROBE, label=SENSITIVE_LABEL)


def web_technology_probe(http: ir.Table, cfg: WebTechnologyProbeConfig) -> ir.Table:
    """Requests for one product's paths that the site does not serve:
    ``web_technology_probe`` findings.

    A path of ``data/technology_paths.yaml`` answered with one of
    ``cfg.statuses`` (403, 404): a site running the product answers it, so the
    client guessed, hunting for that product and its known vulnerabilities.
    Per client, product and window of ``cfg.window_seconds`` (3600 s),
    distinct paths (lower-cased) >= ``cfg.min_fingerprint_paths`` (1) for a
    product fingerprint (AEM's ``/crx/packmgr``, a camera's CGI: nobody else
    asks for them) and >= ``cfg.min_family_paths`` (3) for a CMS's extension
    tree (WordPress plugins: stale links to a removed plugin give one or two).
    Score: distinct paths. Label: the product. Targets: those paths.
    """
    fingerprints = {product for product, _ in technology_fingerprints()}
    status = http.http_response_status_code
    events = http.filter(http.url_path.notnull() & status.isin(list(cfg.statuses)))
    events = events.mutate(_product=technology_product(events.url_path))
    events = events.filter(events._product.notnull())
    events = events.mutate(
        _path=events.url_path.lower(),
        _min_paths=ibis.ifelse(
            events._product.isin(sorted(fingerprints)),
            cfg.min_fingerprint_paths,
            cfg.min_family_paths,
        ),
    )
    best = windowed_findings(
        events,
        window_seconds=cfg.window_seconds,
        keys=["source_ip", "_product"],
        target="_path",
        having=lambda t: t.target_count >= t._min_paths,
        score=lambda t: t.target_count,
        extra=lambda t: {"_min_paths": t._min_paths.max()},
    )
    return as_findings(best, WEB_TECHNOLOGY_PROBE, label=best._product)


def web_host_bare_ip(http: ir.Table, cfg: WebHostBareIpConfig) -> ir.Table:
    """Requests with an IP literal as Host: ``web_host_bare_ip`` findings.

    Per client and window of ``cfg.window_seconds`` (3600 s), such requests
    >= ``cfg.min_requests`` (3). Score: requests. Label: ``IP literal Host``.
    Targets: the Host values.
    """
    events = http.filter(is_ip_literal(http.url_domain))
    best = windowed_findings(
        events,
        window_seconds=cfg.window_seconds,
        keys=["source_ip"],
        target="url_domain",
        having=lambda t: t.event_count >= cfg.min_requests,
        score=lambda t: t.event_count,
    )
    return as_findings(best, WEB_HOST_BARE_IP, label=BARE_IP_LABEL)


def vhost_least_events(cfg: WebVhostSweepConfig) -> int:
    """A vhost sweep is ``min_hosts`` requests at least (one per Host)."""
    return cfg.min_hosts


def web_vhost_sweep(http: ir.Table, cfg: WebVhostSweepConfig) -> ir.Table:
    """One client asking for many Host values: ``web_vhost_sweep`` findings.

    Per client and window of ``cfg.window_seconds`` (900 s), distinct Host
    values (lower-cased) >= ``cfg.min_hosts`` (10). Score: distinct hosts.
    Label: ``Host``. Targets: the Host values.
    """
    events = http.filter(http.url_domain.notnull() & (http.url_domain != ""))
    events = events.mutate(_host=events.url_domain.lower())
    best = windowed_findings(
        events,
        window_seconds=cfg.window_seconds,
        keys=["source_ip"],
        target="_host",
        having=lambda t: t.target_count >= cfg.min_hosts,
        score=lambda t: t.target_count,
    )
    return as_findings(best, WEB_VHOST_SWEEP, label=VHOST_LABEL)


DETECTIONS: Final[dict[str, Detection]] = {
    WEB_WORDLIST_SCAN: Detection(
        web_wordlist_scan,
        "web_wordlist_scan",
        "one client getting 4xx on many distinct paths (wordlist content discovery)",
        WORDLIST_SCANNING,
        ("http",),
        least_events=wordlist_least_events,
    ),
    WEB_SCANNER_USER_AGENT: Detection(
        web_scanner_user_agent,
        "web_scanner_user_agent",
        "requests whose User-Agent names a web scanner (nikto, sqlmap, nuclei...)",
        VULNERABILITY_SCANNING,
        ("http",),
    ),
    WEB_SENSITIVE_PATH_PROBE: Detection(
        web_sensitive_path_probe,
        "web_sensitive_path_probe",
        "one client requesting several secret or admin paths (/.env, /.git/config...)",
        WORDLIST_SCANNING,
        ("http",),
    ),
    WEB_TECHNOLOGY_PROBE: Detection(
        web_technology_probe,
        "web_technology_probe",
        "one client asking for a product's paths the site does not serve "
        "(AEM package manager, WordPress plugins...)",
        VULNERABILITY_SCANNING,
        ("http",),
    ),
    WEB_HOST_BARE_IP: Detection(
        web_host_bare_ip,
        "web_host_bare_ip",
        "requests addressed to an IP literal Host (the server found by address sweep)",
        IP_ADDRESSES,
        ("http",),
    ),
    WEB_VHOST_SWEEP: Detection(
        web_vhost_sweep,
        "web_vhost_sweep",
        "one client asking for many distinct Host values (virtual-host brute force)",
        WORDLIST_SCANNING,
        ("http",),
        least_events=vhost_least_events,
    ),
}
