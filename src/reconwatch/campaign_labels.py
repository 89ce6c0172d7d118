"""The label contract of campaigns, free of the engine.

``reconwatch.detect.campaign`` (coordinated sweeps) and
``reconwatch.detect.prefix`` (rotating IPv6 scanners) write the labels; the
case builder, the case store and the exporters read them (the exporters
without importing Ibis). See those modules for what a campaign is.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any, Final, NamedTuple

#: Every campaign label starts so (a coordinated sweep's, a rotating IPv6
#: scanner's): such a finding's actor is its label, not its source.
CAMPAIGN_PREFIX: Final = "campaign:"
#: ``ipv6_prefix_scan``'s labels: ``campaign:ipv6@<the /64>``.
ROTATING_PREFIX: Final = "campaign:ipv6@"


#: ``campaign:<transport>/<port>@<a.b.c>.0/24@<epoch>``; the transport is
#: the lake's text (``unknown`` when the log named none).
_LABEL: Final = re.compile(r"campaign:([^/@]+)/(\d+)@(\d+)\.(\d+)\.(\d+)\.0/24@(-?\d+)")


class Signature(NamedTuple):
    """What a ``distributed_scan`` label names, in the order campaigns sort by."""

    window: int
    transport: str
    port: int
    net: tuple[int, int, int]


def label_signature(label: str) -> Signature | None:
    """The window, transport, port and /24 of a ``distributed_scan`` label;
    None for any other text (an ``ipv6_prefix_scan`` label, a source)."""
    match = _LABEL.fullmatch(label)
    if match is None:
        return None
    transport, port, a, b, c, window = match.groups()
    return Signature(int(window), transport, int(port), (int(a), int(b), int(c)))


def sweep_labels(findings: Iterable[Mapping[str, Any]]) -> set[str]:
    """The coordinated-sweep labels among ``findings`` (case documents'
    ``findings``: one per transport, port, /24 and hour a campaign covered)."""
    return {
        label
        for finding in findings
        if isinstance(label := finding.get("label"), str) and label_signature(label) is not None
    }


def by_signature(labels: set[str] | list[str]) -> list[str]:
    """``labels`` in ``label_signature`` order (earliest hour, then transport,
    port, /24: port 9 before port 10), any other text after them as text."""
    return sorted(labels, key=lambda label: _order(label_signature(label), label))


def _order(signature: Signature | None, label: str) -> tuple[bool, Signature | tuple[()], str]:
    return (signature is None, signature or (), label)


def actor_text(actor: str, first: str | None, sources: int) -> str:
    """A case's actor as a queue shows it: a rotating IPv6 scanner as its /64
    and how many addresses, a coordinated sweep as its first source and how
    many more (its key, ``campaign:tcp/8080@203.0.113.0/24@1790726400``,
    ends in epoch seconds), any other actor as it is. ``first``: the case's
    first source (text order), ``sources``: how many it has, as the store
    keeps them (``CaseStore.source_summary``); the hunt's table says the same
    (``Case.named``)."""
    if actor.startswith(ROTATING_PREFIX) and sources:
        count = f"{sources:,} address" + ("" if sources == 1 else "es")
        return f"{actor.removeprefix(ROTATING_PREFIX)} ({count})"
    if actor.startswith(CAMPAIGN_PREFIX) and first is not None:
        return first if sources <= 1 else f"{first} +{sources - 1} more"
    return actor
