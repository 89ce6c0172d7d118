"""Ground truth of a generated sample: who did what, and what must be concluded.

Written next to the logs as ``truth.json`` so tests, benchmarks and the demo
can score the pipeline (detections found, cases escalated, no alert on the
benign control or the background) without re-deriving anything from the
generator's code.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class ActorTruth:
    """One named actor: its source address and the expected outcome."""

    #: Canonical text of the source (compressed IPv6, as ``netaddr.normalise_ip``).
    address: str
    kind: str
    description: str
    #: Detections that must fire for this source (sorted); empty for benign actors.
    expected_detections: tuple[str, ...]
    #: Escalated by triage with default settings (repeated scanning).
    escalate: bool
    #: Source inside the site's home networks.
    internal: bool
    #: First and last event of the actor, ISO 8601 UTC with microseconds.
    first_seen: str
    last_seen: str
    #: Lines the actor contributed, by output file (relative path).
    lines: dict[str, int] = field(default_factory=dict)
    #: Distinct destination addresses, and distinct TCP/UDP destination ports.
    targets: int = 0
    ports: int = 0
    #: Coordinated scan: every member of one campaign carries the same key, and
    #: one campaign case must list exactly those members ("" for a lone actor).
    campaign: str = ""
    #: Tool hints (``detect/tools.py``) the source's case must carry, e.g. "zmap".
    tools: tuple[str, ...] = ()
    #: The case must link the source's DNS answers to the addresses it then
    #: probed (``Activity.resolved_then_probed`` > 0): enumeration feeding a scan.
    resolved_then_probed: bool = False


#: Fields of :class:`ActorTruth` left out of ``truth.json`` when they hold their
#: default, so samples without such actors keep their pinned ``truth.json``.
OPTIONAL_FIELDS: dict[str, Any] = {"campaign": "", "tools": (), "resolved_then_probed": False}


@dataclass(frozen=True)
class GroundTruth:
    """Everything a scorer needs to know about one generated sample."""

    seed: int
    #: Data lines requested (and written) over all log files.
    size: int
    #: The sample's time span, ISO 8601 UTC.
    start: str
    end: str
    home_networks: tuple[str, ...]
    #: Data lines per output file (relative path; Zeek header lines not counted).
    files: dict[str, int]
    #: Counts of the background populations (sources, packets, connections)
    #: and the per-source caps internet noise respects.
    background: dict[str, int]
    actors: tuple[ActorTruth, ...]

    def to_json(self) -> str:
        """Stable, indented JSON (the content of ``truth.json``)."""
        data = asdict(self)
        for actor in data["actors"]:
            for name, default in OPTIONAL_FIELDS.items():
                if actor[name] == default:
                    del actor[name]
        return json.dumps(data, indent=2) + "\n"

    @classmethod
    def from_json(cls, text: str) -> GroundTruth:
        data: dict[str, Any] = json.loads(text)
        actors = tuple(
            ActorTruth(
                **{
                    **a,
                    "expected_detections": tuple(a["expected_detections"]),
                    "tools": tuple(a.get("tools", ())),
                }
            )
            for a in data["actors"]
        )
        return cls(
            **{
                **data,
                "home_networks": tuple(data["home_networks"]),
                "actors": actors,
            }
        )

    def actor(self, address: str) -> ActorTruth:
        """The actor with source ``address`` (KeyError when none)."""
        for a in self.actors:
            if a.address == address:
                return a
        raise KeyError(address)

    def expected(self, detection: str) -> tuple[str, ...]:
        """Addresses for which ``detection`` must fire."""
        return tuple(a.address for a in self.actors if detection in a.expected_detections)

    def campaign_members(self, campaign: str) -> tuple[str, ...]:
        """Addresses of the members of ``campaign``."""
        return tuple(a.address for a in self.actors if campaign and a.campaign == campaign)

    @property
    def escalated(self) -> tuple[str, ...]:
        """Addresses whose cases must be escalated."""
        return tuple(a.address for a in self.actors if a.escalate)
