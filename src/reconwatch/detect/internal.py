"""Internal address enumeration from outside: the playbook's second escalation criterion.

"Attempts to enumerate internal IP addresses not typically visible
externally" leave three traces beyond packets aimed at internal-only ranges
(which criterion 2 reads from every finding's targets):

* ``internal_name_probe`` — an outside client asks our DNS for names under
  internal-only zones (``site.internal_zones``, ``site.private_suffixes``) or
  for PTR names in the reverse zones of private and internal-only ranges;
* ``private_answer_leak`` — our DNS hands an outside client answers that are
  private (RFC 1918, ULA) or internal-only addresses;
* ``web_internal_host`` — an outside client sends a Host header naming an
  internal address or an internal-only name.

"Outside" means a source not in ``site.home_networks``. Address ranges are
matched as text prefixes of the canonical address (see
``netaddr.text_prefixes``), which every engine evaluates without integer
conversion, like the rest of the detections' portable Ibis subset. Only
address literals are tested against them (``ranges.is_address``): a DNS
answer or a Host may be a name, and ``10.mirror.example.org`` or the PTR name
``10.59.117.34.bc.googleusercontent.com`` start like 10.0.0.0/8 without being
in it.
"""

from __future__ import annotations

from typing import Final

import ibis
import ibis.expr.types as ir

from reconwatch.config import (
    InternalNameProbeConfig,
    PrivateAnswerLeakConfig,
    SiteConfig,
    WebInternalHostConfig,
)
from reconwatch.detect.base import Detection
from reconwatch.detect.dns import IP_ADDRESSES, windowed_findings
from reconwatch.detect.portscan import as_findings
from reconwatch.detect.ranges import gated, in_ranges, is_address, under_zones
from reconwatch.netaddr import (
    IPNetwork,
    TextPrefix,
    mapped_text_prefixes,
    reverse_zones,
    text_prefixes,
)

INTERNAL_NAME_PROBE: Final = "internal_name_probe"
PRIVATE_ANSWER_LEAK: Final = "private_answer_leak"
WEB_INTERNAL_HOST: Final = "web_internal_host"

#: Detections whose findings are, by themselves, criterion 2 of the playbook.
INTERNAL_ENUMERATION: Final = frozenset(
    {INTERNAL_NAME_PROBE, PRIVATE_ANSWER_LEAK, WEB_INTERNAL_HOST}
)


def from_outside(table: ir.Table, site: SiteConfig) -> ir.Table:
    """Rows whose ``source_ip`` is outside ``site.home_networks``."""
    home = text_prefixes(site.home())
    return table.filter(~in_ranges(table.source_ip, home)) if home else table


def _without_final_dot(name: ir.StringValue) -> ir.StringValue:
    """``name`` without a trailing root dot (``dc01.corp.`` -> ``dc01.corp``)."""
    return ibis.cases((name.endswith("."), name.substr(0, name.length() - 1)), else_=name)


def _internal(site: SiteConfig) -> list[IPNetwork]:
    return site.internal_address_networks()


def _internal_address(text: ir.StringValue, site: SiteConfig) -> ir.BooleanValue:
    """True when the lower-cased ``text`` is an address literal in an internal range.

    Names are not addresses, whatever their first labels look like (see
    ``ranges.is_address``); IPv4 addresses also match in their IPv4-mapped
    form (``::ffff:10.0.0.5``).
    """
    networks = _internal(site)
    prefixes: list[TextPrefix] = [*text_prefixes(networks), *mapped_text_prefixes(networks)]
    # The address test (a score of character tests) only where the cheap
    # prefix test passed.
    return gated(in_ranges(text, prefixes), is_address(text))


def internal_name_probe(
    dns: ir.Table, cfg: InternalNameProbeConfig, *, site: SiteConfig
) -> ir.Table:
    """Outside clients asking for internal-only names: ``internal_name_probe`` findings.

    Per client and window of ``cfg.window_seconds`` (3600 s), distinct names
    (lower-cased) under ``site.internal_names()`` or, for PTR questions, under
    the reverse zones of private and ``site.internal_only`` ranges, >=
    ``cfg.min_names`` (3). Score: distinct names. Label: ``internal names``.
    Targets: the names.
    """
    outside = from_outside(dns, site)
    named = outside.filter(outside.dns_question_name.notnull())
    named = named.mutate(_name=_without_final_dot(named.dns_question_name.lower()))
    reverse = under_zones(named._name, reverse_zones(_internal(site)))
    asked = under_zones(named._name, site.internal_names()) | reverse
    events = named.filter(asked)
    best = windowed_findings(
        events,
        window_seconds=cfg.window_seconds,
        keys=["source_ip"],
        target="_name",
        having=lambda t: t.target_count >= cfg.min_names,
        score=lambda t: t.target_count,
    )
    return as_findings(best, INTERNAL_NAME_PROBE, label="internal names")


def private_answer_leak(
    dns: ir.Table, cfg: PrivateAnswerLeakConfig, *, site: SiteConfig
) -> ir.Table:
    """DNS answers with internal addresses to outside clients: ``private_answer_leak``.

    Per client and window of ``cfg.window_seconds`` (3600 s), distinct
    question names whose answers hold an address in private or
    ``site.internal_only`` ranges >= ``cfg.min_names`` (1). Score: distinct
    names. Label: ``private answers``. Targets: the leaked addresses. Answers
    that are names (CNAME, PTR targets) are not addresses, whatever their
    first labels look like.
    """
    outside = from_outside(dns, site)
    answered = outside.filter(outside.dns_answers.notnull() & (outside.dns_answers.length() > 0))
    one = answered.mutate(_answer=answered.dns_answers.unnest())
    # Lower-cased after the unnest: Spark takes no generator nested in an expression.
    one = one.mutate(_answer=one._answer.lower())
    leaks = one.filter(_internal_address(one._answer, site))
    leaks = leaks.mutate(_name=leaks.dns_question_name.lower().coalesce(""))
    best = windowed_findings(
        leaks,
        window_seconds=cfg.window_seconds,
        keys=["source_ip"],
        target="_answer",
        having=lambda t: t._names >= cfg.min_names,
        score=lambda t: t._names,
        extra=lambda t: {"_names": t._name.nunique()},
    )
    return as_findings(best, PRIVATE_ANSWER_LEAK, label="private answers")


def _host_part(host: ir.StringValue) -> ir.StringValue:
    """A Host header without its port and IPv6 brackets, lower-cased.

    ``[fd00::1]:8080`` -> ``fd00::1``; ``10.0.0.5:80`` -> ``10.0.0.5``;
    ``intranet.corp`` -> ``intranet.corp``. An unbracketed IPv6 literal (two
    or more colons) is kept whole.
    """
    lowered = host.lower()
    colons = lowered.length() - lowered.replace(":", "").length()
    bracketed = lowered.startswith("[")
    inner = lowered.substr(1, lowered.find("]") - 1)
    before_colon = lowered.substr(0, lowered.find(":"))
    return _without_final_dot(
        ibis.cases((bracketed, inner), (colons == 1, before_colon), else_=lowered)
    )


def web_internal_host(http: ir.Table, cfg: WebInternalHostConfig, *, site: SiteConfig) -> ir.Table:
    """Outside clients naming internal hosts in Host: ``web_internal_host`` findings.

    Per client and window of ``cfg.window_seconds`` (3600 s), requests whose
    Host (port and brackets removed) is a private or ``site.internal_only``
    address literal, or a name under ``site.internal_names()``, >=
    ``cfg.min_requests`` (1). A name is judged by the name rules only
    (``10.mirror.example.org`` is no address). Score: requests. Label:
    ``internal Host``. Targets: the Host values.
    """
    outside = from_outside(http, site)
    hosts = outside.filter(outside.url_domain.notnull() & (outside.url_domain != ""))
    hosts = hosts.mutate(_host=_host_part(hosts.url_domain))
    internal = _internal_address(hosts._host, site) | under_zones(
        hosts._host, site.internal_names()
    )
    events = hosts.filter(internal)
    best = windowed_findings(
        events,
        window_seconds=cfg.window_seconds,
        keys=["source_ip"],
        target="_host",
        having=lambda t: t.event_count >= cfg.min_requests,
        score=lambda t: t.event_count,
    )
    return as_findings(best, WEB_INTERNAL_HOST, label="internal Host")


DETECTIONS: Final[dict[str, Detection]] = {
    INTERNAL_NAME_PROBE: Detection(
        internal_name_probe,
        "internal_name_probe",
        "an outside client asking our DNS for internal-only names or private reverse zones",
        IP_ADDRESSES,
        ("dns",),
        site=True,
    ),
    PRIVATE_ANSWER_LEAK: Detection(
        private_answer_leak,
        "private_answer_leak",
        "our DNS answering an outside client with private or internal-only addresses",
        IP_ADDRESSES,
        ("dns",),
        site=True,
    ),
    WEB_INTERNAL_HOST: Detection(
        web_internal_host,
        "web_internal_host",
        "an outside client naming an internal address or internal-only name in Host",
        IP_ADDRESSES,
        ("http",),
        site=True,
    ),
}
