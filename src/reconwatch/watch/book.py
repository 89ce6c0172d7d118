"""The alert book: per actor, what was seen and last sent, so alerts repeat only on real change."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Final

from reconwatch.watch.alerts import Alert, severity_rank
from reconwatch.watch.watchlist import Hit

#: Actors remembered by the alert book; the least recently active go first.
MAX_ACTORS = 100_000


@dataclass
class ActorState:
    """What the alert book knows of one actor."""

    actor: str
    sources: set[str] = field(default_factory=set)
    detections: set[str] = field(default_factory=set)
    evidence_events: int = 0
    counts: dict[str, int] = field(default_factory=dict)
    first_seen: dt.datetime | None = None
    last_seen: dt.datetime | None = None
    severity: str = "low"
    case_id: str | None = None
    watch: Hit | None = None
    beyond: set[str] = field(default_factory=set)
    honeypot_touches: int = 0
    reasons: list[str] = field(default_factory=list)
    #: What was last sent, and when (monotonic seconds); None before the first alert.
    sent_at: float | None = None
    sent_events: int = 0
    sent_detections: frozenset[str] = frozenset()
    sent_severity: str = "low"
    sent_beyond: frozenset[str] = frozenset()
    sequence: int = 0
    #: Evidence events when the case was last built (cases cost queries).
    cased_events: int = -1
    cased_detections: frozenset[str] = frozenset()
    touched: float = 0.0

    @property
    def volume(self) -> int:
        """What "grew materially" is measured on: findings' events, plus watched
        activity and honeypot touches (which no finding may cover)."""
        watched = sum(v for k, v in self.counts.items() if k.startswith("watchlist_"))
        return self.evidence_events + watched + self.honeypot_touches

    @property
    def raised(self) -> bool:
        """The severity went up since the last alert (or above "low", before the first)."""
        return severity_rank(self.severity) > severity_rank(self.sent_severity)

    def seen(self, first: dt.datetime | None, last: dt.datetime | None) -> None:
        if first is not None:
            self.first_seen = first if self.first_seen is None else min(self.first_seen, first)
        if last is not None:
            self.last_seen = last if self.last_seen is None else max(self.last_seen, last)

    def raise_to(self, severity: str) -> None:
        if severity_rank(severity) > severity_rank(self.severity):
            self.severity = severity

    def add_reason(self, text: str) -> None:
        """Note why this actor is alerted (once each; at most 20 reasons)."""
        if text not in self.reasons and len(self.reasons) < 20:
            self.reasons.append(text)

    def changed(self, update_growth: float) -> bool:
        """Whether the actor changed materially since its last alert: its volume grew
        by the fraction ``update_growth`` or more, a new kind of detection or of going
        beyond reconnaissance appeared, or its severity went up."""
        volume = self.volume
        grew = volume > self.sent_events and volume >= self.sent_events * (1.0 + update_growth)
        new_kind = not (self.detections <= self.sent_detections and self.beyond <= self.sent_beyond)
        return grew or new_kind or self.raised

    def due(self, tick: float, interval: float, final: bool) -> bool:
        """Whether an update may go now: ``interval`` seconds passed since the last
        alert, or this is the last cycle. Never before a first alert."""
        return self.sent_at is not None and (final or tick - self.sent_at >= interval)

    def next_alert(self, update: bool) -> Alert:
        """The alert to send on this actor now; takes the next sequence number."""
        self.sequence += 1
        counts = dict(self.counts)
        counts["evidence_events"] = self.evidence_events
        if self.honeypot_touches:
            counts["honeypot_touches"] = self.honeypot_touches
        watch = None
        if self.watch is not None:
            watch = {
                "case_id": self.watch.entry.case_id,
                "actor": self.watch.entry.actor,
                "matched": self.watch.matched,
            }
        return Alert(
            actor=self.actor,
            detections=sorted(self.detections),
            severity=self.severity,
            counts=counts,
            first_seen=iso(self.first_seen),
            last_seen=iso(self.last_seen),
            case_id=self.case_id,
            update=update,
            sequence=self.sequence,
            sources=sorted(self.sources)[:50],
            watchlist=watch,
            beyond_recon=sorted(self.beyond),
            honeypot=self.honeypot_touches > 0,
            reasons=list(self.reasons),
            emitted_at=dt.datetime.now(dt.UTC).isoformat(),
        )

    def record_sent(self, tick: float) -> None:
        """Remember what was just sent, the baseline of the next "changed" test."""
        self.sent_at = tick
        self.sent_events = self.volume
        self.sent_detections = frozenset(self.detections)
        self.sent_severity = self.severity
        self.sent_beyond = frozenset(self.beyond)


_BOOK_SETS: Final = ("sources", "detections", "beyond")
_BOOK_SENT_SETS: Final = ("sent_detections", "sent_beyond")
_BOOK_PLAIN: Final = (
    "actor", "evidence_events", "counts", "severity", "case_id", "honeypot_touches",
    "reasons", "sent_events", "sent_severity", "sequence",
)  # fmt: skip


def book_entry(actor: ActorState) -> dict[str, Any]:
    """An alerted actor as JSON, for the next run's alert book."""
    entry: dict[str, Any] = {name: getattr(actor, name) for name in _BOOK_PLAIN}
    entry.update({name: sorted(getattr(actor, name)) for name in (*_BOOK_SETS, *_BOOK_SENT_SETS)})
    entry["first_seen"] = iso(actor.first_seen)
    entry["last_seen"] = iso(actor.last_seen)
    return entry


def from_book(entry: dict[str, Any], now: float) -> ActorState:
    """An actor of the saved book; counted as alerted just now, so the rate limit
    holds across the restart and its next alert is an update."""
    actor = ActorState(**{name: entry[name] for name in _BOOK_PLAIN})
    for name in _BOOK_SETS:
        setattr(actor, name, set(entry[name]))
    for name in _BOOK_SENT_SETS:
        setattr(actor, name, frozenset(entry[name]))
    actor.first_seen = parse_iso(entry.get("first_seen"))
    actor.last_seen = parse_iso(entry.get("last_seen"))
    actor.sent_at = now
    actor.touched = now
    return actor


def parse_iso(value: str | None) -> dt.datetime | None:
    return dt.datetime.fromisoformat(value) if value else None


def iso(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value is not None else None
