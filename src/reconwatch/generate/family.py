"""What the DNS, web, IDS and auth families share: the context and the actor record.

A family actor is one source doing one thing in one family's logs (a
subdomain brute force, a Nikto scan, an SSH password guesser). It states its
expected detections like the network actors of :mod:`.actors`; the scenario
merges actors that share an address with a network actor into one ground
truth entry (one source, one case).
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np

from reconwatch.generate.site import Site

US = 1_000_000


@dataclass(frozen=True)
class Context:
    """Where and when a family writes: the site, the seed and the time span.

    ``actors_us`` is the first 5-minute window boundary of the sample, the
    origin the network actors are placed from; family actors use it too so
    that a scanner's web, SSH and IDS traces line up with its packets.
    """

    site: Site
    seed: int
    start_us: int
    end_us: int
    actors_us: int

    def rng(self, name: str) -> np.random.Generator:
        """A generator for ``name`` alone (adding actors never moves another's events)."""
        return np.random.default_rng([self.seed, zlib.crc32(name.encode())])


@dataclass(frozen=True)
class FamilyActor:
    """One source's behaviour in one family, with what a correct pipeline concludes."""

    address: str
    kind: str
    description: str
    #: Detections that must fire for this source (sorted); others may fire too.
    expected_detections: tuple[str, ...]
    #: Escalated by triage (e.g. a successful login after scanning).
    escalate: bool = False
    internal: bool = False
    #: Distinct servers contacted and distinct destination ports.
    targets: int = 1
    ports: int = 1
    #: Tool hints the source's case must carry (``detect/tools.py`` names).
    tools: tuple[str, ...] = ()
    #: The case must link DNS answers to the addresses then probed.
    resolved_then_probed: bool = False
