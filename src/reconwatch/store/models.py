"""The case store's tables (SQLAlchemy 2 declarative models).

Migrations in ``migrations/versions`` create exactly these; a change here
needs a new migration there.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, Boolean, DateTime, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


class Base(DeclarativeBase):
    pass


class StoredCase(Base):
    """One actor's case, kept across hunts.

    ``actor`` (a source IP or a campaign key) identifies the case while it is
    open: a later hunt that sees the same actor updates this row instead of
    opening another. The hunt's own verdict (``severity``, ``escalate``,
    ``disposition``) is refreshed on each run; the analyst's decision
    (``analyst_disposition``, ``status``, ``assignee``) is never overwritten.
    """

    __tablename__ = "cases"
    # The web queue filters by status and sorts by last activity (migration 0002).
    __table_args__ = (Index("ix_cases_status_last_seen", "status", "last_seen"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    actor: Mapped[str] = mapped_column(String(128), index=True)
    first_seen: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    last_seen: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), index=True)
    severity: Mapped[str] = mapped_column(String(16), index=True)
    score: Mapped[float] = mapped_column(Float, default=0.0)
    escalate: Mapped[bool] = mapped_column(Boolean, index=True)
    disposition: Mapped[str] = mapped_column(String(32), index=True)
    #: open | escalated | closed
    status: Mapped[str] = mapped_column(String(16), default="open", index=True)
    analyst_disposition: Mapped[str | None] = mapped_column(String(32), nullable=True)
    analyst_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    assignee: Mapped[str | None] = mapped_column(String(64), nullable=True)
    #: Hunts that saw the actor, and separate scan episodes over all of them.
    runs: Mapped[int] = mapped_column(Integer, default=1)
    episodes: Mapped[int] = mapped_column(Integer, default=1)
    #: The latest case document (the cases.json entry) as the hunt produced it.
    document: Mapped[dict[str, object]] = mapped_column(JSON)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))

    sources: Mapped[list[CaseSource]] = relationship(
        back_populates="case", cascade="all, delete-orphan"
    )
    sightings: Mapped[list[Sighting]] = relationship(
        back_populates="case", cascade="all, delete-orphan", order_by="Sighting.first_seen"
    )
    actions: Mapped[list[Action]] = relationship(
        back_populates="case", cascade="all, delete-orphan", order_by="Action.id"
    )


class CaseSource(Base):
    __tablename__ = "case_sources"

    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id"), primary_key=True)
    source_ip: Mapped[str] = mapped_column(String(64), primary_key=True, index=True)
    case: Mapped[StoredCase] = relationship(back_populates="sources")


class Sighting(Base):
    """What one hunt saw of the actor: the history behind "repeated across runs"."""

    __tablename__ = "sightings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id"), index=True)
    run_id: Mapped[str] = mapped_column(String(64))
    first_seen: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    last_seen: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    detections: Mapped[list[str]] = mapped_column(JSON)
    events: Mapped[int] = mapped_column(Integer, default=0)
    case: Mapped[StoredCase] = relationship(back_populates="sightings")


class Action(Base):
    """The case's audit trail: who did what, when, and why."""

    __tablename__ = "actions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id"), index=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    who: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(32))
    detail: Mapped[str] = mapped_column(Text, default="")
    case: Mapped[StoredCase] = relationship(back_populates="actions")


class User(Base):
    """An analyst of the web UI (``reconwatch serve``).

    Only an argon2 hash of the password is kept, and only a SHA-256 of the
    API token: the token is 32 random bytes, so a fast hash is enough to make
    a stolen database useless for calling the API, and it can be looked up.
    """

    __tablename__ = "users"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    #: l1 | t2 | admin
    role: Mapped[str] = mapped_column(String(16))
    password_hash: Mapped[str] = mapped_column(String(256))
    api_token_hash: Mapped[str | None] = mapped_column(
        String(64), nullable=True, unique=True, index=True
    )
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    #: Sessions that started before this are void: logging out ends every session of the user.
    sessions_after: Mapped[dt.datetime | None] = mapped_column(
        DateTime(timezone=True), nullable=True
    )
