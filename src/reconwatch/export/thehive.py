"""Cases as TheHive 5 alerts, and an optional push to TheHive's API.

One alert per case: ``type``/``source`` name reconwatch, ``sourceRef`` is the
case id (TheHive refuses a second alert with the same type, source and
sourceRef, which is how a re-push is recognised as already sent). The
description is Markdown built from untrusted log text, so every value in it is
escaped (``report.text.markdown``). The alert shape follows thehive4py 2.x's
``InputAlert`` (the tests validate against it); the push uses only the
standard library.
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
import ssl
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from reconwatch.export import document as doc
from reconwatch.report.text import clean, markdown

SEVERITY: Final[dict[str, int]] = {"low": 1, "medium": 2, "high": 3, "critical": 4}
#: TLP/PAP numbers of TheHive: 0 white/clear, 1 green, 2 amber, 3 red (4 amber+strict for TLP).
LEVELS: Final[dict[str, int]] = {"clear": 0, "white": 0, "green": 1, "amber": 2, "red": 3}
DEFAULT_TYPE: Final = "reconwatch"
DEFAULT_SOURCE: Final = "reconwatch"
TIMEOUT_SECONDS: Final = 30.0
#: At most this many evidence lines in the description.
MAX_EVIDENCE: Final = 10
#: At most this many sources named in the description (a rotating IPv6
#: scanner's case may have thousands); the rest are counted.
MAX_SOURCES: Final = 50

_DOMAIN = re.compile(r"^(?=.{1,253}$)([a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")


class TheHiveError(RuntimeError):
    """A push that failed; the message is one line fit for the terminal."""


@dataclass(frozen=True)
class AlertOptions:
    type: str = DEFAULT_TYPE
    source: str = DEFAULT_SOURCE
    tlp: int = LEVELS["amber"]
    pap: int = LEVELS["amber"]


def _ms(value: str) -> int:
    return doc.epoch_ms(doc.parse_time(value))


def _tag(text: str) -> str:
    # Tags are plain labels in TheHive's UI: one line, no control characters.
    return clean(text, 200)


def description(case: Mapping[str, Any]) -> str:
    """The alert's Markdown: facts, reasons, answers and evidence, all escaped."""
    lines = [
        f"**Case** {markdown(str(case['id']))} - severity {markdown(str(case['severity']))}, "
        f"score {markdown(str(case.get('score')))}, disposition "
        f"{markdown(str(case['disposition']))}",
        "",
        f"**Sources:** {', '.join(markdown(s) for s in case['sources'][:MAX_SOURCES])}"
        + (
            f" and {len(case['sources']) - MAX_SOURCES:,} more"
            if len(case["sources"]) > MAX_SOURCES
            else ""
        ),
        f"**Seen:** {markdown(case['first_seen'])} to {markdown(case['last_seen'])}",
        f"**Detections:** {', '.join(markdown(str(d)) for d in case.get('detections') or [])}",
    ]
    if case.get("campaign"):
        swept = doc.sweeps_named(case)
        campaign = markdown(str(case["campaign"]), 200)
        lines.append(f"**Campaign:** {campaign}" + (f" ({markdown(swept, 2000)})" if swept else ""))
    actors = doc.actors(case)
    if actors:
        lines.append(f"**Threat intelligence names:** {', '.join(markdown(a) for a in actors)}")
    reasons = case.get("reasons") or []
    if reasons:
        lines += ["", "### Why escalate", *[f"- {markdown(str(r), 500)}" for r in reasons]]
    answers = case.get("answers") or {}
    if answers:
        lines += ["", "### Playbook questions"]
        for question, answer in answers.items():
            lines.append(f"- **{markdown(str(question))}** {markdown(str(answer), 800)}")
    evidence = [
        (str(f.get("detection")), e)
        for f in case.get("findings") or []
        for e in f.get("evidence") or []
    ][:MAX_EVIDENCE]
    if evidence:
        lines += ["", "### Evidence (file:line)"]
        for detection, item in evidence:
            lines.append(
                f"- {markdown(detection)} {markdown(str(item.get('file')))}:"
                f"{markdown(str(item.get('line')))} {markdown(str(item.get('detail') or ''))}"
            )
    containment = case.get("containment") or {}
    if isinstance(containment, dict):
        if containment.get("block"):
            entries = ", ".join(markdown(str(e)) for e in containment.get("entries") or [])
            lines += ["", f"**Containment:** block {entries}"]
        elif containment.get("why"):
            lines += ["", f"**Containment:** none ({markdown(str(containment['why']))})"]
    return "\n".join(lines) + "\n"


def _observables(case: Mapping[str, Any], options: AlertOptions) -> list[dict[str, Any]]:
    blocked = set(doc.blocked_sources(case))
    seen = _ms(case["first_seen"])
    # Once per case: a rotating IPv6 scanner's case has thousands of sources.
    actors: dict[str, list[str]] = {}
    for source, match in doc.intel_matches(case):
        if match.get("actor"):
            actors.setdefault(source, []).append(str(match["actor"]))
    observables: list[dict[str, Any]] = []
    for source in case["sources"]:
        tags = ["reconwatch:source"]
        tags += [_tag(f"threat-actor:{a}") for a in actors.get(source, ())]
        observables.append(
            {
                "dataType": "ip",
                "data": source,
                "message": "scanning source",
                "tlp": options.tlp,
                "pap": options.pap,
                "ioc": source in blocked,
                "sighted": True,
                "sightedAt": seen,
                "tags": tags,
            }
        )
    for target in doc.target_ips(case)[:100]:
        observables.append(
            {
                "dataType": "ip",
                "data": target,
                "message": "scanned address (ours)",
                "tlp": options.tlp,
                "pap": options.pap,
                "ioc": False,
                "tags": ["reconwatch:target"],
            }
        )
    zones = sorted(
        {
            str(f.get("label")).lower()
            for f in case.get("findings") or []
            if str(f.get("detection", "")).startswith(("dns_", "srv_"))
            and _DOMAIN.match(str(f.get("label") or "").lower())
        }
    )
    observables.extend(
        {
            "dataType": "domain",
            "data": zone,
            "message": "zone enumerated",
            "tlp": options.tlp,
            "pap": options.pap,
            "ioc": False,
            "tags": ["reconwatch:zone"],
        }
        for zone in zones
    )
    if case.get("campaign"):
        observables.append(
            {
                "dataType": "other",
                "data": clean(str(case["campaign"]), 200),
                "message": "campaign key",
                "tlp": options.tlp,
                "pap": options.pap,
                "ioc": False,
                "tags": ["reconwatch:campaign"],
            }
        )
    return observables


def alert(case: Mapping[str, Any], options: AlertOptions | None = None) -> dict[str, Any]:
    """TheHive 5 ``InputAlert`` of one case."""
    opts = options or AlertOptions()
    techniques = [str(t) for t in case.get("techniques") or []]
    occurred = _ms(case["first_seen"])
    tags = [
        "reconwatch",
        f"severity:{case['severity']}",
        f"disposition:{case['disposition']}",
        *[f"attack:{t}" for t in techniques],
        *[f"detection:{d}" for d in case.get("detections") or []],
    ]
    if case.get("escalate"):
        tags.append("escalate:tier2")
    return {
        "type": opts.type,
        "source": opts.source,
        "sourceRef": str(case["id"]),
        "title": clean(f"IP address reconnaissance from {case['actor']}", 250),
        "description": description(case),
        "severity": SEVERITY.get(str(case["severity"]), 2),
        "date": occurred,
        "tags": [_tag(t) for t in dict.fromkeys(tags)],
        "tlp": opts.tlp,
        "pap": opts.pap,
        "observables": _observables(case, opts),
        "procedures": [
            {
                "patternId": technique,
                "occurDate": occurred,
                "tactic": doc.tactic(technique)[2],
                "description": f"{doc.technique_name(technique)} (reconwatch)",
            }
            for technique in techniques
        ],
    }


def alerts(
    document: Mapping[str, Any], options: AlertOptions | None = None
) -> list[dict[str, Any]]:
    return [alert(case, options) for case in document["cases"]]


def export_thehive(document: Mapping[str, Any], options: AlertOptions | None = None) -> str:
    return json.dumps(alerts(document, options), indent=2, ensure_ascii=False) + "\n"


# --------------------------------------------------------------------------- push


@dataclass(frozen=True)
class PushResult:
    source_ref: str
    status: str  # "created" or "already sent"


def api_key_from_env(variable: str) -> str:
    """The API key held in ``variable`` (never taken from the command line)."""
    value = os.environ.get(variable, "").strip()
    if not value:
        raise TheHiveError(f"environment variable {variable} is not set or empty")
    return value


def _endpoint(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    # Only http(s): urllib would also open file:// and ftp:// URLs.
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise TheHiveError(f"TheHive URL must be http(s)://host[:port], not {clean(url, 80)!r}")
    if parts.query or parts.fragment or parts.username or parts.password:
        raise TheHiveError(f"TheHive URL must have no query, fragment or user: {clean(url, 80)!r}")
    if parts.scheme == "http" and not _loopback(parts.hostname):
        # The API key travels in a header: never in clear across a network.
        raise TheHiveError(f"refusing to send the API key over plain http to {clean(url, 80)!r}")
    path = parts.path.rstrip("/") + "/api/v1/alert"
    return urllib.parse.urlunsplit((parts.scheme, parts.netloc, path, "", ""))


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """Refuse redirects: urllib would forward the Authorization header to any
    host (https -> http too) and turn the POST into a bodiless GET whose 200
    would read as "created"."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def _already_exists(status: int, body: str) -> bool:
    return status == 409 or (status == 400 and "already exist" in body.lower())


def push_alerts(
    alerts_: list[dict[str, Any]],
    url: str,
    api_key: str,
    *,
    verify: bool = True,
    ca_file: str | None = None,
    timeout: float = TIMEOUT_SECONDS,
) -> list[PushResult]:
    """POST each alert to ``{url}/api/v1/alert``; an alert TheHive already has
    (same type/source/sourceRef: HTTP 409, or 400 "already exists") counts as
    sent. Any other failure raises :class:`TheHiveError` naming the alert."""
    endpoint = _endpoint(url)
    context = ssl.create_default_context(cafile=ca_file)
    if not verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    opener = urllib.request.build_opener(
        _NoRedirects(), urllib.request.HTTPSHandler(context=context)
    )
    results = []
    for item in alerts_:
        ref = str(item.get("sourceRef"))
        request = urllib.request.Request(  # noqa: S310 - scheme checked in _endpoint
            endpoint,
            data=json.dumps(item).encode("utf-8"),
            method="POST",
            headers={
                "Authorization": f"Bearer {api_key}",
                "Content-Type": "application/json",
                "Accept": "application/json",
            },
        )
        try:
            with opener.open(request, timeout=timeout) as response:
                response.read()
                status = response.status
            if status not in (200, 201):
                raise TheHiveError(f"TheHive answered HTTP {status} for alert {clean(ref, 60)}")
            results.append(PushResult(ref, "created"))
        except urllib.error.HTTPError as exc:
            body = exc.read(4096).decode("utf-8", "replace")
            if _already_exists(exc.code, body):
                results.append(PushResult(ref, "already sent"))
                continue
            raise TheHiveError(
                f"TheHive refused alert {clean(ref, 60)}: HTTP {exc.code} {clean(body, 160)}"
            ) from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise TheHiveError(
                f"cannot reach TheHive at {clean(url, 80)}: {clean(str(reason), 160)}"
            ) from None
    return results
