"""Reading the cases document for export, and the facts every exporter shares.

The document is input like any other: it may come from another machine, an
older reconwatch or a hand edit, so it is checked before use and every value
taken from it is treated as untrusted text. Addresses are parsed with
:mod:`ipaddress` before they reach a STIX pattern or a query; anything else
that cannot be trusted is carried as data, never as syntax.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import math
import uuid
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, Final

from reconwatch.campaign_labels import ROTATING_PREFIX, by_signature, sweep_labels
from reconwatch.report import SCHEMA

#: Namespace of every id an exporter derives (uuid5), so re-exporting the same
#: case gives the same STIX ids, ECS ``_id``s and Sigma rule ids.
NAMESPACE: Final = uuid.UUID("5b0c7d1e-2f9a-5c43-9e61-3a7d8e4f0b21")

#: Dispositions whose sources are never exported as indicators to block:
#: containment refuses them too (respond/containment.py).
NOT_BLOCKED: Final = frozenset({"benign_scanner", "approved_exercise", "benign"})

ATTACK_URL: Final = "https://attack.mitre.org/techniques/{}/"
RECONNAISSANCE: Final = ("TA0043", "Reconnaissance", "reconnaissance")
DISCOVERY: Final = ("TA0007", "Discovery", "discovery")

#: ATT&CK names of the techniques reconwatch assigns (triage.py, detect/*).
TECHNIQUES: Final[dict[str, str]] = {
    "T1590": "Gather Victim Network Information",
    "T1590.001": "Domain Properties",
    "T1590.002": "DNS",
    "T1590.005": "IP Addresses",
    "T1595": "Active Scanning",
    "T1595.001": "Scanning IP Blocks",
    "T1595.002": "Vulnerability Scanning",
    "T1595.003": "Wordlist Scanning",
    "T1046": "Network Service Discovery",
}


#: Case severities, lowest first (triage.SEVERITIES; not imported: exporters stay light).
SEVERITIES: Final = ("low", "medium", "high", "critical")


class CasesDocumentError(ValueError):
    """The input is not a usable cases document; the message is one line."""


def stable_uuid(*parts: str) -> uuid.UUID:
    """A uuid5 of ``parts`` in reconwatch's namespace: the same input, the same id."""
    return uuid.uuid5(NAMESPACE, "\x1f".join(parts))


def load_document(path: Path | str) -> dict[str, Any]:
    """Read and check a cases document; :class:`CasesDocumentError` says why not."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise CasesDocumentError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise CasesDocumentError(f"{path}: cannot read: {exc}") from None
    return parse_document(text, str(path))


def parse_document(text: str, name: str = "document") -> dict[str, Any]:
    """Parse and check the JSON text of a cases document."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise CasesDocumentError(f"{name}: not JSON ({exc.msg} at line {exc.lineno})") from None
    except ValueError as exc:  # an integer of more than 4,300 digits
        raise CasesDocumentError(f"{name}: not a usable JSON document ({exc})") from None
    except RecursionError:
        raise CasesDocumentError(f"{name}: not a usable JSON document (nested too deep)") from None
    return check_document(data, name)


def check_document(data: object, name: str = "document") -> dict[str, Any]:
    """``data`` if it is a cases document of the schema this reconwatch reads."""
    if not isinstance(data, dict) or "cases" not in data or "schema" not in data:
        raise CasesDocumentError(f"{name}: not a reconwatch cases document (no schema/cases)")
    if data["schema"] != SCHEMA:
        raise CasesDocumentError(
            f"{name}: schema {str(data['schema'])[:60]!r} is not supported (expected {SCHEMA})"
        )
    if not isinstance(data["cases"], list):
        raise CasesDocumentError(f"{name}: 'cases' is not a list")
    if data.get("generated_at") is not None:
        parse_time(data["generated_at"], f"{name}: generated_at")
    for index, case in enumerate(data["cases"]):
        _check_case(case, f"{name}: case {index}")
    return data


def check_block_document(data: object, name: str = "document") -> dict[str, Any]:
    """``data`` if ``block apply --cases`` can plan from it.

    Lighter than :func:`check_document`: a hand-written list of cases (id,
    severity, sources) is enough, since planning re-checks every address
    against the protections anyway. What planning reads must have its type,
    so that a hand edit fails here in one line and not deep inside it; a
    ``schema``, when given, must be this reconwatch's.
    """
    if not isinstance(data, dict) or not isinstance(data.get("cases"), list):
        raise CasesDocumentError(f"{name}: not a cases document (a JSON object with a cases list)")
    if "schema" in data and data["schema"] != SCHEMA:
        raise CasesDocumentError(
            f"{name}: schema {str(data['schema'])[:60]!r} is not supported (expected {SCHEMA})"
        )
    for index, case in enumerate(data["cases"]):
        where = f"{name}: case {index}"
        if not isinstance(case, dict):
            raise CasesDocumentError(f"{where} is not an object")
        if not isinstance(case.get("id"), str):
            raise CasesDocumentError(f"{where}: missing or non-text 'id'")
        if not isinstance(case.get("sources"), list):
            raise CasesDocumentError(f"{where}: 'sources' must be a list")
        _check_typed_parts(case, where)
    return data


def _check_typed_parts(case: dict[str, Any], where: str) -> None:
    """The severity, and the optional parts whose type planning and exporting rely on."""
    if case.get("severity") not in SEVERITIES:
        raise CasesDocumentError(
            f"{where}: severity {str(case.get('severity'))[:30]!r} is not one of "
            f"{', '.join(SEVERITIES)}"
        )
    score = case.get("score")
    if score is not None and not _is_number(score):
        raise CasesDocumentError(f"{where}: 'score' must be a number")
    detections = case.get("detections", [])
    if not isinstance(detections, list) or not all(isinstance(d, str) for d in detections):
        raise CasesDocumentError(f"{where}: 'detections' must be a list of names")
    for key in ("containment", "enrichment"):
        if case.get(key) is not None and not isinstance(case[key], dict):
            raise CasesDocumentError(f"{where}: {key!r} must be an object")
    if case.get("disposition") is not None and not isinstance(case["disposition"], str):
        raise CasesDocumentError(f"{where}: 'disposition' must be text")


def _is_number(value: object) -> bool:
    """A finite JSON number (not a bool; ``json`` reads ``NaN`` and ``Infinity`` too)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:  # an integer too large for a float (10**400)
        return False


def _is_integer(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_text_list(value: object) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def _is_integer_list(value: object) -> bool:
    return isinstance(value, list) and all(_is_integer(v) for v in value)


def _is_text(value: object) -> bool:
    return isinstance(value, str)


def _is_bool(value: object) -> bool:
    return isinstance(value, bool)


def _is_object(value: object) -> bool:
    return isinstance(value, dict)


def _field(
    parent: Mapping[str, Any],
    key: str,
    ok: Callable[[object], bool],
    what: str,
    where: str,
    name: str = "",
) -> Any:
    """``parent[key]`` when absent, null or ``ok(value)``; else the one-line error
    naming ``name`` (the field's path in the case, ``key`` by default)."""
    value = parent.get(key)
    if value is not None and not ok(value):
        raise CasesDocumentError(f"{where}: {name or key!r} must be {what}")
    return value


def _check_exported_parts(case: dict[str, Any], where: str) -> None:
    """Every other field an exporter reads, with the type it reads it as.

    A hand-edited document with a number where a list belongs crashed every
    exporter with a traceback, and a text where a list belongs was worse: it
    was read letter by letter ("techniques": "T1595" exported attack patterns
    T, 1, 5, 9 and 5). Absent or null is fine: exporters read those as empty.
    """
    _field(case, "techniques", _is_text_list, "a list of ATT&CK ids (text)", where)
    _field(case, "reasons", _is_text_list, "a list of text", where)
    _field(case, "targets", _is_text_list, "a list of text", where)
    _field(case, "ports", _is_integer_list, "a list of integers", where)
    _field(case, "campaign", _is_text, "text", where)
    _field(case, "escalate", _is_bool, "true or false", where)
    tier2 = _field(case, "tier2", _is_object, "an object", where)
    if tier2:
        _field(tier2, "recommended_actions", _is_text_list, "a list of text", where,
               "tier2.recommended_actions")  # fmt: skip
    for name, value in (case.get("criteria") or {}).items():
        if value is not None and not isinstance(value, dict):
            raise CasesDocumentError(f"{where}: 'criteria.{str(name)[:40]}' must be an object")
    activity = case.get("activity") or {}
    _field(activity, "datasets", _is_text_list, "a list of text", where, "activity.datasets")
    for finding in case.get("findings") or []:
        _field(finding, "event_count", _is_number, "a number", where, "findings[].event_count")
    containment = case.get("containment") or {}
    _field(containment, "block", _is_bool, "true or false", where,
           "containment.block")  # fmt: skip
    _field(containment, "entries", _is_text_list, "a list of text", where, "containment.entries")
    _field(containment, "timeout_seconds", _is_integer, "an integer", where,
           "containment.timeout_seconds")  # fmt: skip
    _field(containment, "refused", _is_object, "an object", where, "containment.refused")
    for source, entry in (case.get("enrichment") or {}).items():
        if entry is not None and not isinstance(entry, dict):
            raise CasesDocumentError(f"{where}: 'enrichment.{str(source)[:60]}' must be an object")
        matches = (entry or {}).get("intel")
        for match in matches if isinstance(matches, list) else []:  # as intel_matches reads it
            if isinstance(match, dict):
                _field(match, "confidence", _is_number, "a number", where,
                       f"enrichment.{str(source)[:60]}.intel[].confidence")  # fmt: skip


def _check_case(case: object, where: str) -> None:
    if not isinstance(case, dict):
        raise CasesDocumentError(f"{where} is not an object")
    if not isinstance(case.get("id"), str):
        raise CasesDocumentError(f"{where}: missing or non-text 'id'")
    # From here on, errors name the case by its id too (what a person searches for).
    where = f"{where} ({case['id'][:60]})"
    for key in ("actor", "severity", "disposition", "first_seen", "last_seen"):
        if not isinstance(case.get(key), str):
            raise CasesDocumentError(f"{where}: missing or non-text {key!r}")
    sources = case.get("sources")
    if not isinstance(sources, list) or not sources:
        raise CasesDocumentError(f"{where}: 'sources' must be a non-empty list")
    for source in sources:
        # Addresses end up inside STIX patterns and queries: only real ones pass.
        if not isinstance(source, str) or not is_ip(source):
            raise CasesDocumentError(f"{where}: source {str(source)[:60]!r} is not an IP address")
    for key in ("first_seen", "last_seen"):
        parse_time(case[key], f"{where}: {key}")
    _check_typed_parts(case, where)
    # Nested parts the exporters read as objects: a hand-edited or foreign
    # document must fail here with a clean message, not deep inside one.
    findings = case.get("findings", [])
    if not isinstance(findings, list) or not all(isinstance(f, dict) for f in findings):
        raise CasesDocumentError(f"{where}: 'findings' must be a list of objects")
    for finding in findings:
        evidence = finding.get("evidence", [])
        if not isinstance(evidence, list) or not all(isinstance(e, dict) for e in evidence):
            raise CasesDocumentError(f"{where}: 'findings[].evidence' must be a list of objects")
    for key in ("activity", "enrichment", "criteria", "answers"):
        if case.get(key) is not None and not isinstance(case[key], dict):
            raise CasesDocumentError(f"{where}: {key!r} must be an object")
    _check_exported_parts(case, where)


def is_ip(value: str) -> bool:
    """An address in canonical form, and no IPv6 zone id: ``ipaddress`` accepts
    any text after ``%``, which would reach STIX patterns and rules verbatim."""
    if "%" in value:
        return False
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        return False
    # Canonical only, as hunts write them: an IPv4-mapped ::ffff:10.0.0.5 would
    # slip a home address past checks made on its IPv4 form.
    mapped = isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None
    return not mapped and str(address) == value


def is_port(value: object) -> bool:
    """A port number: an integer (not a bool) from 0 to 65535."""
    return _is_integer(value) and 0 <= value <= 65535  # type: ignore[operator]


def ip_version(value: str) -> int:
    return ipaddress.ip_address(value).version


def parse_time(value: object, where: str = "timestamp") -> dt.datetime:
    """An ISO 8601 time of the document as an aware UTC datetime."""
    if not isinstance(value, str):
        raise CasesDocumentError(f"{where}: not a timestamp")
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise CasesDocumentError(f"{where}: {value[:40]!r} is not an ISO 8601 time") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    try:
        return parsed.astimezone(dt.UTC)
    except OverflowError:  # 0001-01-01T00:00:00+01:00 is before year 1 in UTC
        raise CasesDocumentError(f"{where}: {value[:40]!r} is out of range") from None


def iso(value: dt.datetime) -> str:
    """ISO 8601 in UTC with a ``Z``, as the cases document writes times."""
    return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def epoch_ms(value: dt.datetime) -> int:
    return int(value.timestamp() * 1000)


def generated_at(document: Mapping[str, Any]) -> dt.datetime:
    """When the hunt wrote the document (now, if it does not say)."""
    value = document.get("generated_at")
    if isinstance(value, str):
        return parse_time(value, "generated_at")
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


def rotating_network(case: Mapping[str, Any]) -> str | None:
    """The /64 whose addresses took turns scanning (the case's campaign label
    names it), checked by ``ipaddress``; None for every other case, and for a
    label naming any other prefix length (``ipv6_prefix_scan`` writes /64s
    only: a hand-edited ``campaign:ipv6@::/0`` is no network to indicate)."""
    label = case.get("campaign")
    if not isinstance(label, str) or not label.startswith(ROTATING_PREFIX):
        return None
    try:
        network = ipaddress.ip_network(label[len(ROTATING_PREFIX) :], strict=True)
    except ValueError:
        return None
    return str(network) if network.version == 6 and network.prefixlen == 64 else None


def network_blocked(case: Mapping[str, Any], network: str) -> bool:
    """Whether the case's containment blocks all of the IPv6 ``network``: one of its
    ``containment.entries`` is that network or a wider one holding it. A
    rotating scanner's /64 is not always what containment blocked: a /64
    touching a protected range, or ``respond.ipv6_prefix: 128``, leaves the
    single addresses."""
    containment = case.get("containment") or {}
    if not isinstance(containment, dict) or containment.get("block") is not True:
        return False
    wanted = ipaddress.IPv6Network(network)
    for entry in containment.get("entries") or []:
        try:
            blocked = ipaddress.ip_network(str(entry), strict=False)
        except ValueError:
            continue
        if isinstance(blocked, ipaddress.IPv6Network) and blocked.supernet_of(wanted):
            return True
    return False


#: How many of a campaign's sweeps an exporter names (``sweeps``).
SWEEPS_SHOWN: Final = 20


def sweeps(case: Mapping[str, Any]) -> list[str]:
    """The ``distributed_scan`` labels of a coordinated campaign's findings:
    one per (transport, port, /24, hour) the sweep covered (the case is known
    by one of them, ``campaign``), in the order the case builder ranks them
    (earliest hour, then transport, port as a number, /24); empty for other
    cases."""
    return by_signature(sweep_labels(case.get("findings") or []))


def sweeps_named(case: Mapping[str, Any]) -> str | None:
    """A campaign of several sweeps in a line: how many, and the first
    ``SWEEPS_SHOWN`` of them (``sweeps``); None for one sweep or none (the
    campaign key says it all)."""
    swept = sweeps(case)
    if len(swept) < 2:
        return None
    more = len(swept) - SWEEPS_SHOWN
    return (
        f"{len(swept)} sweeps (transport/port@/24@hour start, epoch seconds): "
        + ", ".join(swept[:SWEEPS_SHOWN])
        + (f" and {more} more" if more > 0 else "")
    )


def blocked_sources(case: Mapping[str, Any]) -> list[str]:
    """The sources containment would block: the case's block is on, the source
    was not refused (protected, internal...) and the disposition is not benign."""
    containment = case.get("containment") or {}
    if not isinstance(containment, dict) or containment.get("block") is not True:
        return []
    if case.get("disposition") in NOT_BLOCKED:
        return []
    refused = containment.get("refused") or {}
    return [s for s in case["sources"] if s not in refused]


def intel_matches(case: Mapping[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(source, match) for every threat-intelligence hit of the case."""
    found: list[tuple[str, dict[str, Any]]] = []
    enrichment = case.get("enrichment") or {}
    if not isinstance(enrichment, dict):
        return found
    for source in case["sources"]:
        entry = enrichment.get(source)
        matches = entry.get("intel") if isinstance(entry, dict) else None
        for match in matches if isinstance(matches, list) else []:
            if isinstance(match, dict):
                found.append((source, match))
    return found


def actors(case: Mapping[str, Any]) -> list[str]:
    """Threat actors named by the intelligence that matched the case, sorted."""
    return sorted({str(m["actor"]) for _, m in intel_matches(case) if m.get("actor")})


def geo(case: Mapping[str, Any], source: str) -> dict[str, Any]:
    enrichment = case.get("enrichment") or {}
    entry = enrichment.get(source) if isinstance(enrichment, dict) else None
    value = entry.get("geo") if isinstance(entry, dict) else None
    return value if isinstance(value, dict) else {}


#: Activity counters of a case that are events from its sources, by table.
ACTIVITY_EVENTS: Final = (
    "events",
    "dns_queries",
    "http_requests",
    "auth_successes",
    "auth_failures",
    "alerts",
)


def event_count(case: Mapping[str, Any]) -> int:
    """Events logged from the case's sources: the activity counters (network,
    DNS, HTTP, auth, IDS), which count each line once; the findings' counts
    would count a packet twice when two detections use it. At least 1."""
    activity = case.get("activity")
    if isinstance(activity, dict):
        total = sum(
            int(activity.get(key) or 0)
            for key in ACTIVITY_EVENTS
            if isinstance(activity.get(key) or 0, int)
        )
        if total > 0:
            return total
    findings = case.get("findings") or []
    return max(sum(int(f.get("event_count") or 0) for f in findings), 1)


def target_ips(case: Mapping[str, Any]) -> list[str]:
    """The case's targets that are addresses (DNS names and URL paths are not)."""
    return [t for t in case.get("targets") or [] if isinstance(t, str) and is_ip(t)]


def tactic(technique: str) -> tuple[str, str, str]:
    """(id, name, short name) of the ATT&CK tactic a reconwatch technique belongs to."""
    return DISCOVERY if technique.startswith("T1046") else RECONNAISSANCE


def technique_name(technique: str) -> str:
    return TECHNIQUES.get(technique, technique)


def full_technique_name(technique: str) -> str:
    """ATT&CK's display name: "Gather Victim Network Information: IP Addresses"."""
    if "." not in technique:
        return technique_name(technique)
    return f"{technique_name(technique.split('.')[0])}: {technique_name(technique)}"


def technique_url(technique: str) -> str:
    return ATTACK_URL.format(technique.replace(".", "/"))


def parents(techniques: Iterable[str]) -> list[str]:
    """Techniques without sub-technique suffix, deduplicated, in order."""
    return list(dict.fromkeys(t.split(".")[0] for t in techniques))
