"""The case store: cases kept across hunts, with history and the analysts' decisions.

SQLite file by default (``sqlite:///reconwatch.db``), PostgreSQL by URL
(``postgresql+psycopg://user@host/db``). The schema is upgraded by Alembic
migrations shipped in the package, so an existing store follows the code
forward; an empty database gets the newest schema at once.

What a hunt does with it (``CaseStore.record``):

* a case is identified by its *actor* (source IP or campaign key) while it is
  not closed: a later hunt that sees the actor again updates the stored case
  (same id) instead of opening another;
* each hunt adds a *sighting* (its span and detections) unless the same span
  was already recorded, so re-running a hunt on the same data changes nothing;
* separate sightings more than ``gap`` apart count as separate *episodes*:
  "repeated scanning" across runs and days; a sighting of no scanning (a case
  of bare-IP web requests or a traffic spike only) is kept but is no episode;
* the analyst's decision (status, analyst disposition, assignee) is never
  overwritten by a hunt; the hunt's own verdict is refreshed;
* a campaign case whose sweep took in another open case's (a source joined
  them) and that case name each other in a ``linked`` action, once.

Opening a store that cannot be opened (a malformed URL, a missing driver, a
SQLite file in a folder that does not exist, an unreachable server) raises
:class:`StoreError` with a one-line message; with ``create=False`` a SQLite
file that does not exist is refused instead of created (commands that only
read or decide on cases must not make an empty store from a typo).
"""

from __future__ import annotations

import builtins
import datetime as dt
import string
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from sqlalchemy import (
    Column,
    ColumnElement,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    case,
    create_engine,
    event,
    func,
    inspect,
    select,
    text,
)
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, selectinload

from reconwatch.campaign_labels import sweep_labels
from reconwatch.scanning import is_scan
from reconwatch.store.models import Action, Base, CaseSource, Sighting, StoredCase, User

MIGRATIONS = Path(__file__).parent / "migrations"
#: The newest migration's revision (the suite checks it is Alembic's head). A
#: store already there, or a new one, is opened without Alembic, which takes
#: a tenth to a third of a second to import and load its scripts: ``cases
#: list`` should answer at once.
HEAD_REVISION: Final = "0002"
#: PostgreSQL advisory lock taken while a new store is created (any constant).
STORE_LOCK: Final = 0x7265636F6E  # "recon"
#: How long a SQLite writer waits for another's transaction before giving up.
SQLITE_BUSY_SECONDS: Final = 60.0
#: PostgreSQL advisory lock taken while a hunt records its cases (any other constant).
RECORD_LOCK: Final = 0x7265636F72  # "recor"
#: Alembic's version table as Alembic creates it (its name for the key too).
ALEMBIC_VERSION: Final = Table(
    "alembic_version",
    MetaData(),
    Column("version_num", String(32), nullable=False),
    PrimaryKeyConstraint("version_num", name="alembic_version_pkc"),
)
DEFAULT_URL = "sqlite:///reconwatch.db"
CLOSED = "closed"
#: The trail's action when a hunt joined two open cases' sweeps (``_link_joined_sweeps``).
LINKED = "linked"
#: Roles of the web UI's analysts, least to most privileged.
ROLES = ("l1", "t2", "admin")
SEVERITY_RANK = {"low": 0, "medium": 1, "high": 2, "critical": 3}
#: Queue orderings by name; severity orders by rank (critical above high), not alphabetically.
SORT_KEYS: dict[str, Any] = {
    "last_seen": StoredCase.last_seen,
    "first_seen": StoredCase.first_seen,
    "severity": case(SEVERITY_RANK, value=StoredCase.severity, else_=-1),
    "score": StoredCase.score,
    "status": StoredCase.status,
    "disposition": StoredCase.disposition,
    "escalate": StoredCase.escalate,
    "actor": StoredCase.actor,
    "id": StoredCase.id,
}


class StoreError(Exception):
    """The case store cannot be opened; the message is one line, fit for the user."""


#: What opening a store can raise for a bad URL, a missing driver module, an
#: unreachable server, a file that is not a database, or a store newer than the
#: code (Alembic cannot find its revision: ``_migrate`` raises it as a ValueError).
_OPEN_ERRORS = (SQLAlchemyError, ImportError, OSError, ValueError)


def _display_url(url: str) -> str:
    """``url`` for messages, with a password replaced by ``***``."""
    try:
        parsed = make_url(url)
    except SQLAlchemyError:
        return url
    return parsed.render_as_string(hide_password=True) if parsed.password else url


def sqlite_file(url: str) -> Path | None:
    """The database file of a SQLite URL; None for other URLs and in-memory databases.

    Raises :class:`StoreError` when ``url`` is not a URL at all.
    """
    try:
        parsed = make_url(url)
    except SQLAlchemyError as exc:
        raise _open_error(url, exc) from exc
    database = parsed.database
    if parsed.get_backend_name() != "sqlite" or not database or database == ":memory:":
        return None
    if database.startswith("file:"):  # a SQLite URI filename (?uri=true): left to SQLite
        return None
    return Path(database)


def _open_error(url: str, exc: BaseException) -> StoreError:
    lines = str(exc).strip().splitlines()
    detail = f"{type(exc).__name__}: {lines[0]}" if lines else type(exc).__name__
    return StoreError(f"cannot open case store {_display_url(url)}: {detail}")


@dataclass(frozen=True)
class History:
    """What the store knew of an actor before this hunt."""

    case_id: str
    sightings: list[tuple[dt.datetime, dt.datetime]]
    runs: int
    status: str
    analyst_disposition: str | None
    #: The severity the last hunt gave the case (an escalated case keeps at least it).
    severity: str = "low"
    #: The sightings that were scan episodes (``scanning.is_scan``): only they
    #: count towards "repeated scanning". A hunt that saw the actor do no
    #: scanning (bare-IP web requests, a traffic spike) records a sighting too.
    episodes: list[tuple[dt.datetime, dt.datetime]] = field(default_factory=list)


def reopened_id(session: Session, case_id: str, now: dt.datetime) -> str:
    """A free id for an actor's new case when ``case_id`` is taken (its closed case).

    ``ID-HHMMSS``; a daily hunt at a fixed time (or over a lake whose first
    event never moves) can meet its own earlier one: then ``-2``, ``-3``...
    """
    base = f"{case_id}-{now:%H%M%S}"
    taken = set(
        session.scalars(
            select(StoredCase.id).where(StoredCase.id.startswith(base, autoescape=True))
        )
    )
    candidate, n = base, 1
    while candidate in taken:
        n += 1
        candidate = f"{base}-{n}"
    return candidate


@dataclass(frozen=True)
class Decision:
    """An actor's latest closed case: the analyst's verdict on the span it covers."""

    case_id: str
    disposition: str | None
    reason: str | None
    first_seen: dt.datetime
    last_seen: dt.datetime

    def covers(self, first: dt.datetime, last: dt.datetime) -> bool:
        """Whether activity from ``first`` to ``last`` lies within the closed case's span."""
        return utc(self.first_seen) <= utc(first) and utc(last) <= utc(self.last_seen)


def utc(value: dt.datetime) -> dt.datetime:
    """``value`` as an aware time in UTC: naive means UTC (SQLite hands stored
    times back naive), an offset is converted (SQLite stores a time's digits
    and drops its offset: 10:00+02:00 would be kept, and compared, as 10:00 UTC)."""
    return value.astimezone(dt.UTC) if value.tzinfo else value.replace(tzinfo=dt.UTC)


USER_NAME_CHARS: Final = frozenset(string.ascii_letters + string.digits + "_.@-")


def check_user_name(name: str) -> None:
    """``ValueError`` unless ``name`` is 1-64 ASCII letters, digits and ``_ . @ -``,
    not dots only: the one rule of the Users page and ``users add``.

    ASCII only: a Cyrillic "а" would make "аda" look like "ada" in every audit
    trail. Not dots only: a browser resolves ``/users/../remove`` to ``/remove``,
    so the Users page could never remove such a user.
    """
    if not name.strip(".") or len(name) > 64 or not USER_NAME_CHARS.issuperset(name):
        raise ValueError(
            "a user name is 1-64 ASCII letters, digits and _ . @ -, "
            "and needs a letter or digit (not dots only)"
        )


def _filters(
    *, status: str | None, escalate: bool | None, severity: str | None, disposition: str | None,
    source: str | None, assignee: str | None, seen_after: dt.datetime | None,
    seen_before: dt.datetime | None,
) -> list[ColumnElement[bool]]:  # fmt: skip
    # Bound parameters only: the values come from a web form.
    where: list[ColumnElement[bool]] = []
    if status is not None:
        where.append(StoredCase.status == status)
    if escalate is not None:
        where.append(StoredCase.escalate == escalate)
    if severity is not None:
        where.append(StoredCase.severity == severity)
    if disposition is not None:
        where.append(StoredCase.disposition == disposition)
    if assignee is not None:
        where.append(StoredCase.assignee == assignee)
    if seen_after is not None:
        where.append(StoredCase.last_seen >= utc(seen_after))
    if seen_before is not None:
        where.append(StoredCase.last_seen <= utc(seen_before))
    if source:
        # autoescape: a % or _ typed in the filter matches itself, not any text.
        where.append(
            select(CaseSource.case_id)
            .where(
                CaseSource.case_id == StoredCase.id,
                CaseSource.source_ip.startswith(source, autoescape=True),
            )
            .exists()
        )
    return where


def count_episodes(spans: Iterable[tuple[dt.datetime, dt.datetime]], gap_seconds: int) -> int:
    """Spans more than ``gap_seconds`` apart (after merging overlaps) are separate episodes."""
    episodes = 0
    end: dt.datetime | None = None
    for first, last in sorted((utc(a), utc(b)) for a, b in spans):
        if end is None or (first - end).total_seconds() > gap_seconds:
            episodes += 1
            end = last
        end = max(end, last)
    return episodes


#: Ids per query of ``CaseStore.get_many`` (bound parameters: SQLite allows
#: 32,766 per statement, PostgreSQL 65,535).
GET_MANY_CHUNK: Final = 500


def _chunks(values: Sequence[str]) -> Iterator[Sequence[str]]:
    """``values`` in slices of ``GET_MANY_CHUNK`` (read at each call: tests lower it)."""
    for start in range(0, len(values), GET_MANY_CHUNK):
        yield values[start : start + GET_MANY_CHUNK]


class CaseStore:
    """A case store at ``url``; the schema is migrated to the latest on open.

    ``create=False`` refuses a SQLite file that does not exist yet (for
    commands that work on existing cases); other URLs are opened either way.
    Any failure to open is a :class:`StoreError`.
    """

    def __init__(self, url: str = DEFAULT_URL, *, create: bool = True) -> None:
        self.url = url
        if not create:
            path = sqlite_file(url)
            if path is not None and not path.exists():
                raise StoreError(f"no case store at {path}")
        try:
            # pre_ping: a hunt holds the store open for its whole run; a pooled
            # connection a server or proxy dropped meanwhile is replaced, not used.
            # SQLite: a writer waits up to SQLITE_BUSY_SECONDS for another's
            # transaction (a concurrent hunt recording thousands of cases takes
            # seconds; the driver's 5 s ended in "database is locked").
            backend = make_url(url).get_backend_name()
            self.engine: Engine = create_engine(
                url,
                future=True,
                pool_pre_ping=True,
                connect_args={"timeout": SQLITE_BUSY_SECONDS} if backend == "sqlite" else {},
            )
        except _OPEN_ERRORS as exc:
            raise _open_error(url, exc) from exc
        if backend == "postgresql":
            # Times come back in the session's zone: a server in Asia/Kolkata
            # handed 10:01 UTC back as 15:31+05:30, which ``cases list`` (and
            # anything formatting the wall time) showed as UTC.
            event.listen(self.engine, "connect", _utc_session)
        try:
            self._migrate()
        except _OPEN_ERRORS as exc:
            self.engine.dispose()
            raise _open_error(url, exc) from exc

    def _migrate(self) -> None:
        if self._revision() == HEAD_REVISION:
            return
        if self._create_if_empty():
            return
        from alembic import command
        from alembic.config import Config as AlembicConfig
        from alembic.util.exc import CommandError

        cfg = AlembicConfig()
        cfg.set_main_option("script_location", str(MIGRATIONS))
        try:
            with self.engine.begin() as connection:
                # Holding the store's lock, in one transaction: two processes
                # opening an older store at once (a hunt and the web UI) do not
                # both migrate it (the second failed on "table users already
                # exists"; Alembic reads the version again once it has the
                # lock), and on SQLite an interrupted migration no longer
                # leaves its first tables behind a version row that still
                # names the older revision (every later open failed on them).
                _write_lock(connection, STORE_LOCK)
                cfg.attributes["connection"] = connection
                command.upgrade(cfg, "head")
        except CommandError as exc:  # e.g. a store newer than this code
            raise ValueError(str(exc)) from exc

    def _create_if_empty(self) -> bool:
        """A database without any table gets the models' tables and Alembic's
        version row of the newest migration at once: what the migrations would
        make (the suite compares the two), without importing Alembic, which
        costs a tenth of a second (mako, pygments) on every new store -- every
        hunt into a new OUT folder. False (nothing done) for any other database.

        One transaction, holding the database's write lock from the start: two
        processes opening one new store (a hunt and the web UI) do not both
        create it, and an interrupted creation leaves an empty database, not
        tables without a version. A migration that inserts rows must insert
        them here too (none does yet).
        """
        with self.engine.begin() as connection:
            # SQLite: the driver sends no BEGIN before DDL; without the lock's
            # BEGIN IMMEDIATE each statement below would be committed on its own.
            _write_lock(connection, STORE_LOCK)
            if inspect(connection).get_table_names():
                return False
            Base.metadata.create_all(connection)
            ALEMBIC_VERSION.create(connection)
            connection.execute(ALEMBIC_VERSION.insert().values(version_num=HEAD_REVISION))
        return True

    def _revision(self) -> str | None:
        """The store's Alembic revision; None for a new (or not yet versioned) database."""
        try:
            # A connection of its own: on PostgreSQL a failed query spoils its transaction.
            with self.engine.connect() as connection:
                rows = connection.execute(text("SELECT version_num FROM alembic_version"))
                versions = [row[0] for row in rows]
        except SQLAlchemyError:
            return None  # no alembic_version table yet
        return versions[0] if len(versions) == 1 else None

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
                    sightings=[(utc(s.first_seen), utc(s.last_seen)) for s in row.sightings],
                    runs=row.runs,
                    status=row.status,
                    analyst_disposition=row.analyst_disposition,
                    severity=row.severity,
                    episodes=_episodes(row.sightings),
                )
                for row in rows
            }

    def source_summary(self, ids: Sequence[str]) -> dict[str, tuple[str, int]]:
        """Per case id: its first source (text order, as the hunt sorts them)
        and how many it has, in one grouped query per ``GET_MANY_CHUNK`` ids
        (a rotating IPv6 scanner's case may hold thousands of sources)."""
        source = CaseSource.source_ip
        if self.engine.dialect.name == "postgresql":
            # Byte order: a database collation such as en_US ignores the dots
            # ("100.0.0.1" before "10.0.0.1"); SQLite compares bytes already.
            source = source.collate("C")  # type: ignore[assignment]
        wanted = sorted(set(ids))
        found: dict[str, tuple[str, int]] = {}
        with self.session() as session:
            for chunk in _chunks(wanted):
                query = (
                    select(CaseSource.case_id, func.min(source), func.count())
                    .where(CaseSource.case_id.in_(chunk))
                    .group_by(CaseSource.case_id)
                )
                found.update((case_id, (first, n)) for case_id, first, n in session.execute(query))
        return found

    def new_ids(self, ids: Sequence[str], now: dt.datetime | None = None) -> dict[str, str]:
        """For case ids already in the store (closed cases), the id a new case gets."""
        if not ids:
            return {}
        now = now or dt.datetime.now(dt.UTC)
        with self.session() as session:
            taken = session.scalars(select(StoredCase.id).where(StoredCase.id.in_(list(ids))))
            return {case_id: reopened_id(session, case_id, now) for case_id in taken.all()}

    def decided(self, actors: Sequence[str]) -> dict[str, list[Decision]]:
        """Each actor's closed cases (oldest activity first), for actors that have any.

        A hunt over activity one of them already covers (the same logs hunted
        again) keeps that case's verdict instead of opening a new case.
        """
        if not actors:
            return {}
        found: dict[str, list[Decision]] = {}
        with self.session() as session:
            rows = session.scalars(
                select(StoredCase)
                .where(StoredCase.actor.in_(list(actors)), StoredCase.status == CLOSED)
                .order_by(StoredCase.first_seen, StoredCase.id)
            ).all()
            for row in rows:
                found.setdefault(row.actor, []).append(
                    Decision(
                        case_id=row.id,
                        disposition=row.analyst_disposition,
                        reason=row.analyst_reason,
                        first_seen=utc(row.first_seen),
                        last_seen=utc(row.last_seen),
                    )
                )
        return found

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
            _write_lock(session.connection(), RECORD_LOCK)
            lookup = _RecordLookup.load(session, documents)
            for doc in documents:
                ids[doc["id"]] = self._record_one(session, doc, run_id, gap_seconds, now, lookup)
        return ids

    def _record_one(
        self,
        session: Session,
        doc: dict[str, Any],
        run_id: str,
        gap: int,
        now: dt.datetime,
        lookup: _RecordLookup,
    ) -> str:
        first = utc(dt.datetime.fromisoformat(doc["first_seen"]))
        last = utc(dt.datetime.fromisoformat(doc["last_seen"]))
        # Activity an analyst already closed a case on (the hunt matched it
        # with ``decided``): nothing new to record, the verdict stands, and
        # an open case of the actor (later activity) is not touched either.
        analyst = doc.get("analyst")
        if analyst and lookup.statuses.get(analyst["case_id"]) == CLOSED:
            return str(analyst["case_id"])
        case = lookup.open_by_actor.get(doc["actor"])
        if case is None:
            case = StoredCase(
                id=doc["id"], actor=doc["actor"], first_seen=first, last_seen=last,
                status="open", runs=0, episodes=0, created_at=now,
            )  # fmt: skip
            if doc["id"] in lookup.statuses:
                # The actor's earlier case with this id was closed; a new one is needed
                # (the hunt gives it one up front with ``new_ids``: this is a backstop).
                case.id = reopened_id(session, doc["id"], now)
            session.add(case)
            lookup.open_by_actor[case.actor] = case
            lookup.statuses[case.id] = case.status
            case.actions.append(
                Action(at=now, who="reconwatch", action="opened", detail=f"run {run_id}")
            )
        known = {(utc(s.first_seen), utc(s.last_seen)) for s in case.sightings}
        added = False
        for span_first, span_last, detections, events in _sightings(doc, first, last):
            if (span_first, span_last) not in known:
                case.sightings.append(
                    Sighting(
                        run_id=run_id, first_seen=span_first, last_seen=span_last,
                        detections=detections, events=events,
                    )
                )  # fmt: skip
                known.add((span_first, span_last))
                added = True
        case.runs += int(added)
        case.first_seen = min(utc(case.first_seen), first)
        case.last_seen = max(utc(case.last_seen), last)
        case.episodes = count_episodes(_episodes(case.sightings), gap)
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
        _link_joined_sweeps(session, case, doc, run_id, now)
        return case.id

    # -- what analysts use ----------------------------------------------------------

    def get(self, case_id: str) -> StoredCase | None:
        return self.get_many([case_id]).get(case_id)

    def get_many(self, case_ids: Sequence[str]) -> dict[str, StoredCase]:
        """The stored cases of ``case_ids`` that exist, by id, with their
        sightings, actions and sources: a few queries per ``GET_MANY_CHUNK``
        ids, not a few per case (a hunt's hundreds of cases took seconds of
        round trips to a PostgreSQL store)."""
        wanted = sorted(set(case_ids))
        found: dict[str, StoredCase] = {}
        with self.session() as session:
            for chunk in _chunks(wanted):
                for case in session.scalars(
                    select(StoredCase)
                    .where(StoredCase.id.in_(chunk))
                    .options(
                        selectinload(StoredCase.sightings),
                        selectinload(StoredCase.actions),
                        selectinload(StoredCase.sources),
                    )
                ):
                    found[case.id] = case
        return found

    def list(
        self, *, status: str | None = None, escalate: bool | None = None, limit: int = 100,
        offset: int = 0, severity: str | None = None, disposition: str | None = None,
        source: str | None = None, assignee: str | None = None,
        seen_after: dt.datetime | None = None, seen_before: dt.datetime | None = None,
        sort: str = "last_seen", descending: bool = True,
    ) -> list[StoredCase]:  # fmt: skip
        """One page of the queue: filters, order and paging all run in SQL.

        ``source`` matches a source address by prefix (``198.51.100.`` finds
        the /24); ``seen_after``/``seen_before`` bound ``last_seen``; ``sort``
        is one of :data:`SORT_KEYS` (severity sorts by rank, not by name).
        Ties are broken by id so pages never overlap.
        """
        filters = _filters(
            status=status, escalate=escalate, severity=severity, disposition=disposition,
            source=source, assignee=assignee, seen_after=seen_after, seen_before=seen_before,
        )  # fmt: skip
        if sort not in SORT_KEYS:
            raise ValueError(f"unknown sort key {sort!r}; one of {', '.join(SORT_KEYS)}")
        key = SORT_KEYS[sort]
        query = (
            select(StoredCase)
            .where(*filters)
            .order_by(key.desc() if descending else key.asc(), StoredCase.id)
        )
        with self.session() as session:
            return list(session.scalars(query.limit(limit).offset(offset)).all())

    def count(
        self, *, status: str | None = None, escalate: bool | None = None,
        severity: str | None = None, disposition: str | None = None, source: str | None = None,
        assignee: str | None = None, seen_after: dt.datetime | None = None,
        seen_before: dt.datetime | None = None,
    ) -> int:  # fmt: skip
        """How many cases match the same filters as :meth:`list` (for paging)."""
        filters = _filters(
            status=status, escalate=escalate, severity=severity, disposition=disposition,
            source=source, assignee=assignee, seen_after=seen_after, seen_before=seen_before,
        )  # fmt: skip
        with self.session() as session:
            return int(
                session.scalar(select(func.count()).select_from(StoredCase).where(*filters)) or 0
            )

    def add_action(self, case_id: str, who: str, action: str, detail: str = "") -> None:
        """Append to a case's audit trail without changing the case (e.g. a block approval)."""
        with self.session() as session, session.begin():
            _write_lock(session.connection(), RECORD_LOCK)  # see ``decide``
            case = session.get(StoredCase, case_id)
            if case is None:
                raise KeyError(case_id)
            case.actions.append(
                Action(at=dt.datetime.now(dt.UTC), who=who, action=action, detail=detail)
            )

    # -- web UI users -----------------------------------------------------------------

    def add_user(self, name: str, role: str, password_hash: str) -> None:
        """Add an analyst; ``ValueError`` when the name is not one :func:`check_user_name`
        allows, is taken, or the role unknown."""
        check_user_name(name)
        if role not in ROLES:
            raise ValueError(f"unknown role {role!r}; one of {', '.join(ROLES)}")
        with self.session() as session, session.begin():
            if session.get(User, name) is not None:
                raise ValueError(f"user {name!r} already exists")
            now = dt.datetime.now(dt.UTC)
            # sessions_after: cookies of an earlier user of the same name
            # (removed, then re-created) must not open the new account.
            session.add(
                User(
                    name=name, role=role, password_hash=password_hash,
                    created_at=now, sessions_after=now,
                )
            )  # fmt: skip

    def get_user(self, name: str) -> User | None:
        with self.session() as session:
            return session.get(User, name)

    def list_users(self) -> builtins.list[User]:
        with self.session() as session:
            return list(session.scalars(select(User).order_by(User.name)).all())

    def remove_user(self, name: str) -> bool:
        """Remove an analyst; False when there was none. Their audit trail entries stay."""
        with self.session() as session, session.begin():
            user = session.get(User, name)
            if user is None:
                return False
            session.delete(user)
            return True

    def update_user(
        self, name: str, *, password_hash: str | None = None, api_token_hash: str | None = None,
        clear_token: bool = False,
    ) -> None:  # fmt: skip
        with self.session() as session, session.begin():
            user = session.get(User, name)
            if user is None:
                raise KeyError(name)
            if password_hash is not None:
                user.password_hash = password_hash
            if api_token_hash is not None or clear_token:
                user.api_token_hash = api_token_hash

    def end_sessions(self, name: str, now: dt.datetime | None = None) -> None:
        """Void every session of ``name`` started before ``now`` (logout)."""
        with self.session() as session, session.begin():
            user = session.get(User, name)
            if user is not None:
                user.sessions_after = now or dt.datetime.now(dt.UTC)

    def user_by_token_hash(self, token_hash: str) -> User | None:
        with self.session() as session:
            return session.scalars(select(User).where(User.api_token_hash == token_hash)).first()

    def decide(
        self, case_id: str, who: str, action: str, *, disposition: str | None = None,
        reason: str = "", assignee: str | None = None,
    ) -> None:  # fmt: skip
        """Record an analyst's action on a case; ``ValueError`` when it makes no sense.

        The rules about the case itself, shared by the CLI and the web UI:
        escalating, closing and commenting need a reason; closing also needs a
        disposition; assigning needs an assignee; a closed case cannot be
        escalated or closed again (a hunt that sees the actor again opens a new
        case). ``KeyError`` when there is no such case.
        """
        reason = reason.strip()
        assignee = (assignee or "").strip() or None
        if action not in DECISIONS:
            raise ValueError(f"unknown action {action!r}; one of {', '.join(DECISIONS)}")
        # A store with web UI users: a case goes to one of them (a typo would
        # hand it to nobody), from the CLI as from the web UI.
        users = action == "assign" and assignee is not None and self.list_users()
        if users and assignee is not None and self.get_user(assignee) is None:
            raise ValueError(f"no user {assignee!r} to assign to")
        detail = reason
        if action == "assign":
            # The trail says who it went to, then the note (as the web UI writes it).
            detail = f"to {assignee}" + (f": {reason}" if reason else "")
        with self.session() as session, session.begin():
            # Taking turns with hunts' recordings and other decisions: a
            # recording that read the case as open before the analyst closed
            # it wrote it back as escalated (PostgreSQL), and two analysts
            # closing one case at once both passed the closed-case rule.
            _write_lock(session.connection(), RECORD_LOCK)
            case = session.get(StoredCase, case_id)
            if case is None:
                raise KeyError(case_id)
            _check_decision(case, action, disposition=disposition, reason=reason, assignee=assignee)
            if action == "close":
                case.status = CLOSED
                case.analyst_disposition = disposition
                case.analyst_reason = reason
            elif action == "escalate":
                case.status = "escalated"
            elif action == "assign":
                case.assignee = assignee
            case.actions.append(
                Action(at=dt.datetime.now(dt.UTC), who=who, action=action, detail=detail)
            )  # fmt: skip


@dataclass
class _RecordLookup:
    """What recording a hunt's documents needs from the store, read up front in
    a few queries per ``GET_MANY_CHUNK`` documents rather than two per document
    (each of which also flushed the cases recorded before it: 10,000 cases
    took minutes on SQLite, and a round trip each to a PostgreSQL server).
    Cases recorded meanwhile are added, so a later document finds them too."""

    #: Each actor's open (not closed) case, with its sightings and sources.
    open_by_actor: dict[str, StoredCase]
    #: The status of every stored case a document names: its own id, or the
    #: case an analyst closed on its activity (``analyst.case_id``).
    statuses: dict[str, str]

    @classmethod
    def load(cls, session: Session, documents: Sequence[dict[str, Any]]) -> _RecordLookup:
        actors = sorted({doc["actor"] for doc in documents})
        named = sorted(
            {doc["id"] for doc in documents}
            | {doc["analyst"]["case_id"] for doc in documents if doc.get("analyst")}
        )
        open_by_actor: dict[str, StoredCase] = {}
        statuses: dict[str, str] = {}
        for chunk in _chunks(actors):
            for stored in session.scalars(
                select(StoredCase)
                .where(StoredCase.actor.in_(chunk), StoredCase.status != CLOSED)
                .options(selectinload(StoredCase.sightings), selectinload(StoredCase.sources))
                .order_by(StoredCase.created_at, StoredCase.id)
            ):
                open_by_actor.setdefault(stored.actor, stored)  # the oldest, were there two
        for chunk in _chunks(named):
            rows = session.execute(
                select(StoredCase.id, StoredCase.status).where(StoredCase.id.in_(chunk))
            )
            statuses.update((case_id, status) for case_id, status in rows)
        return cls(open_by_actor, statuses)


def _link_joined_sweeps(
    session: Session, case: StoredCase, doc: dict[str, Any], run_id: str, now: dt.datetime
) -> None:
    """Note on both trails when ``case``'s sweep took in another open case's.

    A source that is a member of two sweeps joins them into one campaign
    (``cases.joined_actors``), recorded under one key; a sweep that had its
    own open case (known by another of the joined labels) gets no activity
    from then on. Neither case is closed or merged here (that is the
    analyst's call, with its disposition): each names the other once, so
    the stale one is not worked as if it were still alive.
    """
    labels = sweep_labels(doc.get("findings") or []) - {case.actor}
    if not labels:
        return
    others = session.scalars(
        select(StoredCase)
        .where(StoredCase.actor.in_(sorted(labels)), StoredCase.status != CLOSED)
        .where(StoredCase.id != case.id)
        .options(selectinload(StoredCase.actions))
        .order_by(StoredCase.id)
    ).all()
    joined = f"its sweep joined case {case.id}'s"  # once per pair: the run differs
    for other in others:
        if any(a.action == LINKED and a.detail.startswith(joined) for a in other.actions):
            continue
        note = f"{joined} (run {run_id}): later activity goes there"
        other.actions.append(Action(at=now, who="reconwatch", action=LINKED, detail=note))
        case.actions.append(
            Action(
                at=now, who="reconwatch", action=LINKED,
                detail=f"took in the sweep of open case {other.id} ({other.actor}, run {run_id})",
            )
        )  # fmt: skip


def _write_lock(connection: Connection, key: int) -> None:
    """Hold the store's write lock ``key`` for the rest of ``connection``'s transaction.

    Recording looks each actor's open case up, then inserts one when there is
    none: two hunts recording at once would both find none and both insert
    it, and all but one would fail on the case's key. An analyst's decision
    reads the case, checks it, then writes it. Taken before the first
    look-up, the lock makes such writers run one after the other, each
    seeing what the one before it committed. PostgreSQL: an advisory lock
    (``RECORD_LOCK``, or ``STORE_LOCK`` while the schema is created or
    migrated) held until the transaction ends; SQLite: ``BEGIN IMMEDIATE``
    (the driver would begin only at the first write, after the look-ups),
    one lock for the whole file whatever the key.
    """
    dialect = connection.dialect.name
    if dialect == "sqlite":
        connection.exec_driver_sql("BEGIN IMMEDIATE")
    elif dialect == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})


def _utc_session(dbapi_connection: Any, _record: Any) -> None:
    """A new PostgreSQL connection's session reads and writes times in UTC."""
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("SET TIME ZONE 'UTC'")
    finally:
        cursor.close()
    dbapi_connection.commit()


def _sightings(
    doc: dict[str, Any], first: dt.datetime, last: dt.datetime
) -> list[tuple[dt.datetime, dt.datetime, list[str], int]]:
    """What one hunt saw of a case: its scan episodes (``episodes``, as triage
    counted them for "repeated scanning"), else the case's whole span (with
    the case's detections, none of them scanning: no episode, see ``_episodes``).

    One sighting per episode: a hunt that saw two bursts three hours apart
    records two, so the stored episode count agrees with the escalation reason.
    """
    episodes = doc.get("episodes")
    if isinstance(episodes, list) and episodes:
        return [
            (
                utc(dt.datetime.fromisoformat(e["first_seen"])),
                utc(dt.datetime.fromisoformat(e["last_seen"])),
                list(e.get("detections", [])),
                int(e.get("events", 0)),
            )
            for e in episodes
        ]
    events = int(doc.get("activity", {}).get("events", 0))
    return [(first, last, list(doc.get("detections", [])), events)]


def _episodes(sightings: Iterable[Sighting]) -> list[tuple[dt.datetime, dt.datetime]]:
    """The spans of the sightings that were scan episodes (not a non-scan case's span)."""
    return [(utc(s.first_seen), utc(s.last_seen)) for s in sightings if is_scan(s.detections or [])]


#: The analyst decisions :meth:`CaseStore.decide` records.
DECISIONS = ("escalate", "close", "assign", "comment")


def _check_decision(
    case: StoredCase, action: str, *, disposition: str | None, reason: str, assignee: str | None
) -> None:
    """Refuse an empty or contradictory decision (closed-case rules first, as the web UI)."""
    if case.status == CLOSED and action in ("escalate", "close"):
        verb = "escalated" if action == "escalate" else "closed again"
        raise ValueError(
            f"case {case.id} is closed (as {case.analyst_disposition or 'unknown'}); "
            f"it cannot be {verb}"
        )
    if action == "close" and (not disposition or not reason):
        raise ValueError("closing a case needs a disposition and a reason")
    if action in ("escalate", "comment") and not reason:
        verb = "escalating a case" if action == "escalate" else "a comment"
        raise ValueError(f"{verb} needs a reason")
    if action == "assign" and not assignee:
        raise ValueError("assigning a case needs an assignee")
