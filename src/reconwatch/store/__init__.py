"""The case store: cases kept across hunts, with history and the analysts' decisions.

SQLite file by default (``sqlite:///reconwatch.db``), PostgreSQL by URL
(``postgresql+psycopg://user@host/db``). The schema is created and upgraded by
Alembic migrations shipped in the package, so an existing store follows the
code forward.

What a hunt does with it (``CaseStore.record``):

* a case is identified by its *actor* (source IP or campaign key) while it is
  not closed: a later hunt that sees the actor again updates the stored case
  (same id) instead of opening another;
* each hunt adds a *sighting* (its span and detections) unless the same span
  was already recorded, so re-running a hunt on the same data changes nothing;
* separate sightings more than ``gap`` apart count as separate *episodes*:
  "repeated scanning" across runs and days;
* the analyst's decision (status, analyst disposition, assignee) is never
  overwritten by a hunt; the hunt's own verdict is refreshed.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy import create_engine, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, selectinload

from reconwatch.store.models import Action, CaseSource, Sighting, StoredCase

MIGRATIONS = Path(__file__).parent / "migrations"
DEFAULT_URL = "sqlite:///reconwatch.db"
CLOSED = "closed"


@dataclass(frozen=True)
class History:
    """What the store knew of an actor before this hunt."""

    case_id: str
    sightings: list[tuple[dt.datetime, dt.datetime]]
    runs: int
    status: str
    analyst_disposition: str | None


def _utc(value: dt.datetime) -> dt.datetime:
    # SQLite hands back naive datetimes; everything stored is UTC.
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def count_episodes(spans: Iterable[tuple[dt.datetime, dt.datetime]], gap_seconds: int) -> int:
    """Spans more than ``gap_seconds`` apart (after merging overlaps) are separate episodes."""
    episodes = 0
    end: dt.datetime | None = None
    for first, last in sorted((_utc(a), _utc(b)) for a, b in spans):
        if end is None or (first - end).total_seconds() > gap_seconds:
            episodes += 1
            end = last
        end = max(end, last)
    return episodes


class CaseStore:
    """A case store at ``url``; the schema is migrated to the latest on open."""

    def __init__(self, url: str = DEFAULT_URL) -> None:
        self.url = url
        self.engine: Engine = create_engine(url, future=True)
        self._migrate()

    def _migrate(self) -> None:
        cfg = AlembicConfig()
        cfg.set_main_option("script_location", str(MIGRATIONS))
        with self.engine.begin() as connection:
            cfg.attributes["connection"] = connection
            command.upgrade(cfg, "head")

    def close(self) -> None:
        self.engine.dispose()

    def session(self) -> Session:
        return Session(self.engine, expire_on_commit=False)

    # -- what hunts use -------------------------------------------------------------

    def history(self, actors: Sequence[str]) -> dict[str, History]:
        """Open (not closed) cases of these actors, with their sightings."""
        if not actors:
            return {}
        with self.session() as session:
            rows = session.scalars(
                select(StoredCase)
                .where(StoredCase.actor.in_(list(actors)), StoredCase.status != CLOSED)
                .options(selectinload(StoredCase.sightings))
            ).all()
            return {
                row.actor: History(
                    case_id=row.id,
                    sightings=[(_utc(s.first_seen), _utc(s.last_seen)) for s in row.sightings],
                    runs=row.runs,
                    status=row.status,
                    analyst_disposition=row.analyst_disposition,
                )
                for row in rows
            }

    def record(
        self,
        documents: Sequence[dict[str, Any]],
        run_id: str,
        gap_seconds: int,
        now: dt.datetime | None = None,
    ) -> dict[str, str]:
        """Store a hunt's case documents; return case id in the hunt -> id in the store.

        A document is a cases.json entry with an ``actor`` key added (source
        IP or campaign key).
        """
        now = now or dt.datetime.now(dt.UTC)
        ids: dict[str, str] = {}
        with self.session() as session, session.begin():
            for doc in documents:
                ids[doc["id"]] = self._record_one(session, doc, run_id, gap_seconds, now)
        return ids

    def _record_one(
        self, session: Session, doc: dict[str, Any], run_id: str, gap: int, now: dt.datetime
    ) -> str:
        first = dt.datetime.fromisoformat(doc["first_seen"])
        last = dt.datetime.fromisoformat(doc["last_seen"])
        case = session.scalars(
            select(StoredCase)
            .where(StoredCase.actor == doc["actor"], StoredCase.status != CLOSED)
            .options(selectinload(StoredCase.sightings), selectinload(StoredCase.sources))
        ).first()
        if case is None:
            case = StoredCase(
                id=doc["id"], actor=doc["actor"], first_seen=first, last_seen=last,
                status="open", runs=0, episodes=0, created_at=now,
            )  # fmt: skip
            if session.get(StoredCase, doc["id"]) is not None:
                # The actor's earlier case with this id was closed; a new one is needed.
                case.id = f"{doc['id']}-{now:%H%M%S}"
            session.add(case)
            case.actions.append(
                Action(at=now, who="reconwatch", action="opened", detail=f"run {run_id}")
            )
        known = {(_utc(s.first_seen), _utc(s.last_seen)) for s in case.sightings}
        if (first, last) not in known:
            case.sightings.append(
                Sighting(
                    run_id=run_id, first_seen=first, last_seen=last,
                    detections=list(doc.get("detections", [])),
                    events=int(doc.get("activity", {}).get("events", 0)),
                )
            )  # fmt: skip
            case.runs += 1
            known.add((first, last))
        case.first_seen = min(_utc(case.first_seen), first)
        case.last_seen = max(_utc(case.last_seen), last)
        case.episodes = count_episodes(known, gap)
        case.severity = doc["severity"]
        case.score = float(doc.get("score", 0.0))
        case.escalate = bool(doc["escalate"])
        case.disposition = doc["disposition"]
        case.document = {**doc, "id": case.id}
        case.updated_at = now
        if doc["escalate"] and case.status == "open":
            case.status = "escalated"
            case.actions.append(
                Action(
                    at=now, who="reconwatch", action="escalated", detail="; ".join(doc["reasons"])
                )
            )
        present = {s.source_ip for s in case.sources}
        for source in doc["sources"]:
            if source not in present:
                case.sources.append(CaseSource(source_ip=source))
        return case.id

    # -- what analysts use ----------------------------------------------------------

    def get(self, case_id: str) -> StoredCase | None:
        with self.session() as session:
            return session.scalars(
                select(StoredCase)
                .where(StoredCase.id == case_id)
                .options(
                    selectinload(StoredCase.sightings),
                    selectinload(StoredCase.actions),
                    selectinload(StoredCase.sources),
                )
            ).first()

    def list(
        self, *, status: str | None = None, escalate: bool | None = None, limit: int = 100,
        offset: int = 0,
    ) -> list[StoredCase]:  # fmt: skip
        query = select(StoredCase).order_by(StoredCase.last_seen.desc(), StoredCase.id)
        if status is not None:
            query = query.where(StoredCase.status == status)
        if escalate is not None:
            query = query.where(StoredCase.escalate == escalate)
        with self.session() as session:
            return list(session.scalars(query.limit(limit).offset(offset)).all())

    def decide(
        self, case_id: str, who: str, action: str, *, disposition: str | None = None,
        reason: str = "", assignee: str | None = None,
    ) -> None:  # fmt: skip
        """Record an analyst's action; closing needs a disposition and a reason."""
        with self.session() as session, session.begin():
            case = session.get(StoredCase, case_id)
            if case is None:
                raise KeyError(case_id)
            if action == "close":
                if not disposition or not reason:
                    raise ValueError("closing a case needs a disposition and a reason")
                case.status = CLOSED
                case.analyst_disposition = disposition
                case.analyst_reason = reason
            elif action == "escalate":
                case.status = "escalated"
            elif action == "assign":
                case.assignee = assignee
            elif action != "comment":
                raise ValueError(f"unknown action {action!r}")
            case.actions.append(
                Action(
                    at=dt.datetime.now(dt.UTC), who=who, action=action,
                    detail=reason or (assignee or ""),
                )
            )  # fmt: skip
