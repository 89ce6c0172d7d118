"""The case store on SQLite and on a real PostgreSQL server."""

from __future__ import annotations

import copy
import datetime as dt
import json
import re
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config as AlembicConfig
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect, make_url, text
from sqlalchemy.exc import OperationalError

import reconwatch.store as store_module
from pg import postgres_server
from reconwatch.store import HEAD_REVISION, MIGRATIONS, CaseStore, StoreError, count_episodes
from reconwatch.store.models import Base


@pytest.fixture(scope="module")
def pg_url() -> Iterator[str]:
    with postgres_server() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[CaseStore]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'cases.db'}"
    else:
        url = request.getfixturevalue("pg_url")
    opened = CaseStore(url)
    try:
        yield opened
    finally:
        with opened.engine.begin() as con:
            for table in reversed(Base.metadata.sorted_tables):
                con.execute(table.delete())
        opened.close()


def doc(first: str, last: str, *, escalate: bool = False, **extra: Any) -> dict[str, Any]:
    return {
        "id": "RW-20260930-aaaaaaaa",
        "actor": "198.51.100.7",
        "sources": ["198.51.100.7"],
        "first_seen": first,
        "last_seen": last,
        "severity": "medium" if escalate else "low",
        "escalate": escalate,
        "reasons": ["Repeated scanning"] if escalate else [],
        "disposition": "malicious" if escalate else "suspicious",
        "detections": ["vertical_scan"],
        "activity": {"events": 20},
        **extra,
    }


def alembic(url: str, step: Callable[[AlembicConfig, str], None], revision: str) -> None:
    """Alembic's ``step`` (``command.upgrade``, ``command.downgrade``) to ``revision``."""
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    engine = create_engine(url)
    try:
        with engine.begin() as connection:
            cfg.attributes["connection"] = connection
            step(cfg, revision)
    finally:
        engine.dispose()


def migrate(url: str) -> None:
    """Alembic's migrations run on an empty database (a new store skips them)."""
    alembic(url, command.upgrade, "head")


def schema_of(url: str) -> dict[str, Any]:
    """Every table's columns, keys and indexes, and Alembic's version rows."""
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            found = inspect(connection)
            tables = {
                name: {
                    "columns": [
                        (c["name"], str(c["type"]), c["nullable"], c.get("default"))
                        for c in found.get_columns(name)
                    ],
                    "primary_key": found.get_pk_constraint(name),
                    "foreign_keys": sorted(
                        (tuple(k["constrained_columns"]), k["referred_table"])
                        for k in found.get_foreign_keys(name)
                    ),
                    "indexes": sorted(
                        (i["name"] or "", tuple(i["column_names"]), bool(i["unique"]))
                        for i in found.get_indexes(name)
                    ),
                    "unique": sorted(
                        tuple(u["column_names"]) for u in found.get_unique_constraints(name)
                    ),
                }
                for name in found.get_table_names()
            }
            versions = connection.execute(text("SELECT version_num FROM alembic_version")).all()
    finally:
        engine.dispose()
    return {"tables": tables, "versions": [tuple(row) for row in versions]}


def empty_databases(request: pytest.FixtureRequest, tmp_path: Path, count: int) -> list[str]:
    """URLs of ``count`` empty databases of the kind ``request.param`` names."""
    if request.param == "sqlite":
        return [f"sqlite:///{tmp_path / f'{n}.db'}" for n in range(count)]
    url = make_url(request.getfixturevalue("pg_url"))
    names = [f"rw_{uuid.uuid4().hex[:12]}" for _ in range(count)]
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        for name in names:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return [url.set(database=name).render_as_string(False) for name in names]


@pytest.fixture(params=["sqlite", "postgresql"])
def two_empty(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[str, str]:
    """URLs of two empty databases on one server kind."""
    first, second = empty_databases(request, tmp_path, 2)
    return first, second


@pytest.fixture(params=["sqlite", "postgresql"])
def five_empty(request: pytest.FixtureRequest, tmp_path: Path) -> list[str]:
    return empty_databases(request, tmp_path, 5)


def test_migrations_create_exactly_the_models(two_empty: tuple[str, str]) -> None:
    migrated, _ = two_empty
    migrate(migrated)
    engine = create_engine(migrated)
    with engine.connect() as con:
        diff = compare_metadata(MigrationContext.configure(con), Base.metadata)
    engine.dispose()
    assert diff == []


def test_a_new_store_is_what_the_migrations_make(two_empty: tuple[str, str]) -> None:
    # A store opened on an empty database is made from the models at once,
    # without Alembic: the same tables, keys, indexes and version row.
    migrated, created = two_empty
    migrate(migrated)
    CaseStore(created).close()
    made = schema_of(created)
    assert made == schema_of(migrated)
    assert made["versions"] == [(HEAD_REVISION,)]
    assert set(made["tables"]) == {*Base.metadata.tables, "alembic_version"}
    # Both open as up-to-date stores, and work.
    for url in (migrated, created):
        store = CaseStore(url)
        first = doc("2026-09-30T10:00:00+00:00", "2026-09-30T10:01:00+00:00")
        assert store.record([first], "run-1", 900) == {first["id"]: first["id"]}
        store.close()


def test_an_interrupted_creation_leaves_an_empty_database(
    two_empty: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Killed, or the disk full, after the tables and before the version row:
    # nothing is left, and the next open creates the store.
    url, _ = two_empty

    def interrupted(*args: object, **kwargs: object) -> None:
        raise OperationalError("CREATE TABLE alembic_version", {}, Exception("disk full"))

    monkeypatch.setattr(store_module.ALEMBIC_VERSION, "create", interrupted)
    with pytest.raises(StoreError, match="disk full"):
        CaseStore(url)
    monkeypatch.undo()
    engine = create_engine(url)
    with engine.connect() as connection:
        assert inspect(connection).get_table_names() == []
    engine.dispose()
    CaseStore(url).close()
    assert schema_of(url)["versions"] == [(HEAD_REVISION,)]


OPEN_AT = """
import sys, time
from reconwatch.store import CaseStore
url, start = sys.argv[1], float(sys.argv[2])
time.sleep(max(0.0, start - time.time()))
CaseStore(url).close()
"""


def test_processes_opening_one_new_store_at_once_all_succeed(five_empty: list[str]) -> None:
    # A hunt and the web UI started together on a new store: one creates it,
    # the others wait for its lock and find it made (both used to try).
    for url in five_empty:
        start = time.time() + 1.5
        children = [
            subprocess.Popen(
                [sys.executable, "-c", OPEN_AT, url, str(start)],
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
            for _ in range(3)
        ]
        outputs = [child.communicate(timeout=120)[0] for child in children]
        assert [child.returncode for child in children] == [0, 0, 0], outputs
        assert schema_of(url)["versions"] == [(HEAD_REVISION,)]


RECORD_AT = """
import json, sys, time
from reconwatch.store import CaseStore
url, start, run, documents = sys.argv[1], float(sys.argv[2]), sys.argv[3], json.loads(sys.argv[4])
store = CaseStore(url)
time.sleep(max(0.0, start - time.time()))
store.record(documents, run, 900)
store.close()
"""


@pytest.fixture(params=["sqlite", "postgresql"])
def one_empty(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    (url,) = empty_databases(request, tmp_path, 1)
    return url


def test_hunts_recording_the_same_actors_at_once_all_succeed(one_empty: str) -> None:
    # Three hunts into one store at once, each seeing the same actors: each
    # actor gets one case (with every hunt's sighting) and no hunt fails on
    # the case it did not see when it looked (PostgreSQL used to raise a
    # UniqueViolation on cases_pkey in all but one of them).
    CaseStore(one_empty).close()  # made beforehand: only the recording races
    actors = [f"198.51.100.{n}" for n in range(1, 41)]
    start = time.time() + 2.0
    children = []
    for run in range(3):
        documents = [
            doc(f"2026-09-30T1{run}:00:00+00:00", f"2026-09-30T1{run}:01:00+00:00",
                id=f"RW-20260930-{n:08x}", actor=actor, sources=[actor])
            for n, actor in enumerate(actors)
        ]  # fmt: skip
        command = [sys.executable, "-c", RECORD_AT, one_empty, str(start), f"run-{run}"]
        children.append(
            subprocess.Popen(
                [*command, json.dumps(documents)],
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
        )
    outputs = [child.communicate(timeout=120)[0] for child in children]
    assert [child.returncode for child in children] == [0, 0, 0], outputs
    store = CaseStore(one_empty)
    try:
        cases = store.list(limit=1000)
        assert sorted(c.actor for c in cases) == sorted(actors)
        for case in cases:
            stored = store.get(case.id)
            assert stored is not None
            assert (stored.runs, len(stored.sightings)) == (3, 3)
    finally:
        store.close()


def test_a_database_with_other_tables_keeps_them(tmp_path: Path) -> None:
    # Only an empty database takes the shortcut; one holding anything else
    # goes through the migrations, which add the store's tables beside it.
    path = tmp_path / "cases.db"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE unrelated (x INTEGER)")
        db.execute("INSERT INTO unrelated VALUES (7)")
    CaseStore(f"sqlite:///{path}").close()
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT x FROM unrelated").fetchall() == [(7,)]
        assert db.execute("SELECT version_num FROM alembic_version").fetchall() == [
            (HEAD_REVISION,)
        ]


def test_rerunning_the_same_hunt_creates_no_duplicates(store: CaseStore) -> None:
    first = doc("2026-09-30T10:00:00+00:00", "2026-09-30T10:01:00+00:00")
    assert store.record([first], "run-1", 900) == {first["id"]: first["id"]}
    store.record([copy.deepcopy(first)], "run-2", 900)
    (case,) = store.list()
    stored = store.get(case.id)
    assert stored is not None
    assert (stored.runs, stored.episodes, len(stored.sightings)) == (1, 1, 1)


def test_times_with_an_offset_are_kept_and_filtered_in_utc(tmp_path: Path) -> None:
    """SQLite stores a time's digits and drops its offset: a document's
    12:01+02:00 was kept as 12:01 UTC, and a filter's 12:00+02:00 compared as
    12:00 UTC (the web UI converted its own filters, ``cases`` callers not)."""
    store = CaseStore(f"sqlite:///{tmp_path / 'cases.db'}")
    try:
        store.record([doc("2026-09-30T12:00:00+02:00", "2026-09-30T12:01:00+02:00")], "r1", 900)
        (case,) = store.list()
        assert store_module.utc(case.last_seen) == dt.datetime(2026, 9, 30, 10, 1, tzinfo=dt.UTC)
        plus2 = dt.timezone(dt.timedelta(hours=2))
        before = dt.datetime(2026, 9, 30, 12, 0, tzinfo=plus2)  # 10:00 UTC
        after = dt.datetime(2026, 9, 30, 12, 2, tzinfo=plus2)  # 10:02 UTC
        assert [c.id for c in store.list(seen_after=before)] == [case.id]
        assert store.list(seen_after=after) == []
        assert store.list(seen_before=before) == []
        assert store.count(seen_before=after) == 1
    finally:
        store.close()


def test_a_later_run_updates_the_case_and_counts_episodes(store: CaseStore) -> None:
    store.record([doc("2026-09-30T10:00:00+00:00", "2026-09-30T10:01:00+00:00")], "r1", 900)
    later = doc("2026-10-01T09:00:00+00:00", "2026-10-01T09:02:00+00:00", id="RW-20261001-bbbb")
    ids = store.record([later], "r2", 900)
    assert ids == {"RW-20261001-bbbb": "RW-20260930-aaaaaaaa"}
    stored = store.get("RW-20260930-aaaaaaaa")
    assert stored is not None
    assert (stored.runs, stored.episodes) == (2, 2)
    assert stored.last_seen.replace(tzinfo=dt.UTC) == dt.datetime(2026, 10, 1, 9, 2, tzinfo=dt.UTC)
    history = store.history(["198.51.100.7"])["198.51.100.7"]
    assert len(history.sightings) == 2


def test_one_hunt_with_two_scan_episodes_records_two_sightings(store: CaseStore) -> None:
    """The stored episode count agrees with the escalation reason ("2 separate episodes")."""
    episodes = [
        {"first_seen": "2026-09-30T10:05:00Z", "last_seen": "2026-09-30T10:09:00Z",
         "detections": ["vertical_scan"], "events": 30},
        {"first_seen": "2026-09-30T13:05:00Z", "last_seen": "2026-09-30T13:08:00Z",
         "detections": ["horizontal_scan", "trw_scan"], "events": 12},
    ]  # fmt: skip
    hunt = doc("2026-09-30T10:05:00Z", "2026-09-30T13:08:00Z", escalate=True, episodes=episodes)
    store.record([hunt], "run-1", 900)
    stored = store.get(hunt["id"])
    assert stored is not None
    assert (stored.runs, stored.episodes, len(stored.sightings)) == (1, 2, 2)
    spans = sorted((s.detections, s.events) for s in stored.sightings)
    assert spans == [(["horizontal_scan", "trw_scan"], 12), (["vertical_scan"], 30)]
    store.record([copy.deepcopy(hunt)], "run-2", 900)  # the same hunt again: nothing new
    again = store.get(hunt["id"])
    assert again is not None and (again.runs, again.episodes, len(again.sightings)) == (1, 2, 2)


def test_get_many_loads_what_get_loads_in_a_few_queries(
    store: CaseStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``block apply`` reads every case of a hunt: one query per case (and three
    more for its sightings, actions and sources) was seconds of round trips to
    a PostgreSQL store for a hunt's hundreds of cases."""
    from sqlalchemy import event

    cases = [
        doc("2026-09-30T10:00:00+00:00", "2026-09-30T10:01:00+00:00",
            id=f"RW-20260930-{i:08x}", actor=f"198.51.100.{i}", sources=[f"198.51.100.{i}"])
        for i in range(7)
    ]  # fmt: skip
    store.record(cases, "run-1", 900)
    store.add_action(cases[3]["id"], "alice", "approve_block", "ok")
    ids = [c["id"] for c in cases]
    monkeypatch.setattr(store_module, "GET_MANY_CHUNK", 3)  # three chunks
    statements: list[str] = []

    def seen(*args: Any) -> None:
        statements.append(args[2])

    event.listen(store.engine, "before_cursor_execute", seen)
    try:
        many = store.get_many([*ids, "RW-20260930-ffffffff", ids[0]])
    finally:
        event.remove(store.engine, "before_cursor_execute", seen)
    assert sorted(many) == sorted(ids)  # a missing id is left out, a repeated one read once
    assert len([s for s in statements if s.lstrip().upper().startswith("SELECT")]) <= 3 * 4
    for case_id in ids:
        one = store.get(case_id)
        assert one is not None
        got = many[case_id]
        assert (got.actor, got.status, got.runs) == (one.actor, one.status, one.runs)
        assert [s.run_id for s in got.sightings] == [s.run_id for s in one.sightings]
        assert [(a.who, a.action) for a in got.actions] == [(a.who, a.action) for a in one.actions]
        assert sorted(s.source_ip for s in got.sources) == sorted(s.source_ip for s in one.sources)
    assert [a.action for a in many[ids[3]].actions][-1] == "approve_block"
    assert store.get_many([]) == {}


def test_recording_reads_the_store_in_a_few_queries_not_per_case(
    store: CaseStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Recording looked each document's actor up (and flushed every case before
    it) one by one: 10,000 cases took minutes on SQLite, a round trip each on
    PostgreSQL. Now a few queries per ``GET_MANY_CHUNK`` documents, with what
    each lookup decided unchanged: an open case updated, a closed one's id
    taken by a new case, activity an analyst closed a case on left there."""
    from sqlalchemy import event

    def day(i: int, hour: int, **extra: Any) -> dict[str, Any]:
        return doc(f"2026-09-30T{hour}:00:00+00:00", f"2026-09-30T{hour}:01:00+00:00",
                   id=f"RW-20260930-{i:08x}", actor=f"198.51.100.{i}",
                   sources=[f"198.51.100.{i}"], **extra)  # fmt: skip

    store.record([day(i, 10) for i in range(7)], "run-1", 900)
    store.decide(day(5, 10)["id"], "alice", "close", disposition="benign", reason="ours")
    monkeypatch.setattr(store_module, "GET_MANY_CHUNK", 3)  # three chunks of seven
    statements: list[str] = []

    def seen(*args: Any) -> None:
        statements.append(args[2])

    later = [day(i, 12) for i in range(5)]  # the open cases, seen again
    later.append(day(5, 12))  # the closed case's actor again: a new case
    analyst = {"case_id": day(5, 10)["id"], "disposition": "benign"}
    later.append(day(9, 10, analyst=analyst))  # activity the closed case covers
    later.append(day(8, 12))  # a new actor
    event.listen(store.engine, "before_cursor_execute", seen)
    try:
        ids = store.record(later, "run-2", 900)
    finally:
        event.remove(store.engine, "before_cursor_execute", seen)
    selects = [s for s in statements if s.lstrip().upper().startswith("SELECT")]
    # Open cases by actor (and their sightings and sources), statuses by id:
    # 3 chunks x 3 + 3 chunks, and the new id for the closed case's actor.
    assert len(selects) <= 13, selects
    assert ids[day(0, 12)["id"]] == day(0, 12)["id"]
    assert ids[day(9, 10)["id"]] == day(5, 10)["id"]
    renewed = ids[day(5, 12)["id"]]
    assert renewed.startswith(day(5, 12)["id"] + "-")
    seen_again = store.get(day(0, 12)["id"])
    assert seen_again is not None and (seen_again.runs, seen_again.episodes) == (2, 2)
    closed, reopened, new = (store.get(i) for i in (day(5, 10)["id"], renewed, day(8, 12)["id"]))
    assert closed is not None and closed.status == "closed" and closed.runs == 1
    assert reopened is not None and (reopened.actor, reopened.status) == ("198.51.100.5", "open")
    assert new is not None and new.actor == "198.51.100.8"
    assert store.get(day(9, 10)["id"]) is None  # nothing recorded for the covered activity


def test_source_summary_counts_and_names_the_first_source_in_text_order(
    store: CaseStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The queue names a campaign by its first source, as the hunt sorts them
    (Python's text order). A PostgreSQL collation such as ICU's en-US sorts
    "2001:db8::1" before "2001:db80::1"; the column gets one here, as a
    database created in such a locale has."""
    from sqlalchemy import text

    members = ["2001:db8::1", "2001:db80::1", "2001:db8:1::"]
    cases = [
        doc("2026-09-30T10:00:00+00:00", "2026-09-30T10:01:00+00:00",
            id=f"RW-20260930-{i:08x}", actor=f"campaign:ipv6@2001:db8:{i}::/64",
            sources=members if i == 0 else [f"198.51.100.{i}"])
        for i in range(5)
    ]  # fmt: skip
    store.record(cases, "run-1", 900)
    icu = store.engine.dialect.name == "postgresql"
    if icu:
        with store.engine.begin() as con:
            con.execute(text('ALTER TABLE case_sources ALTER COLUMN source_ip '
                             'TYPE varchar(64) COLLATE "en-US-x-icu"'))  # fmt: skip
    monkeypatch.setattr(store_module, "GET_MANY_CHUNK", 2)  # three chunks
    try:
        summary = store.source_summary([c["id"] for c in cases] + ["RW-20260930-ffffffff"])
    finally:
        if icu:
            with store.engine.begin() as con:
                con.execute(text('ALTER TABLE case_sources ALTER COLUMN source_ip '
                                 'TYPE varchar(64) COLLATE "default"'))  # fmt: skip
    assert (
        summary
        == {
            cases[0]["id"]: (min(members), 3),  # "2001:db80::1"
            **{c["id"]: (c["sources"][0], 1) for c in cases[1:]},
        }
    )
    assert store.source_summary([]) == {}


def test_analyst_decisions_survive_reruns(store: CaseStore) -> None:
    first = doc("2026-09-30T10:00:00+00:00", "2026-09-30T10:01:00+00:00")
    store.record([first], "r1", 900)
    store.decide(first["id"], "alice", "assign", assignee="bob")
    store.record([doc("2026-09-30T10:00:00+00:00", "2026-09-30T10:05:00+00:00",
                      escalate=True)], "r2", 900)  # fmt: skip
    stored = store.get(first["id"])
    assert stored is not None
    assert stored.assignee == "bob" and stored.status == "escalated"
    assert [a.action for a in stored.actions] == ["opened", "assign", "escalated"]
    store.decide(first["id"], "alice", "close", disposition="benign", reason="our scanner")
    # A closed case stays closed: the actor seen again opens a new case.
    ids = store.record([first], "r3", 900)
    assert ids[first["id"]] != first["id"]
    closed = store.get(first["id"])
    assert closed is not None
    assert (closed.status, closed.analyst_disposition) == ("closed", "benign")


def test_closing_needs_a_reason(store: CaseStore) -> None:
    first = doc("2026-09-30T10:00:00+00:00", "2026-09-30T10:01:00+00:00")
    store.record([first], "r1", 900)
    with pytest.raises(ValueError, match="disposition and a reason"):
        store.decide(first["id"], "alice", "close", disposition="benign")


def test_empty_or_contradictory_decisions_are_refused(store: CaseStore) -> None:
    first = doc("2026-09-30T10:00:00+00:00", "2026-09-30T10:01:00+00:00")
    store.record([first], "r1", 900)
    case_id = first["id"]
    with pytest.raises(ValueError, match="needs an assignee"):
        store.decide(case_id, "alice", "assign")
    with pytest.raises(ValueError, match="needs an assignee"):
        store.decide(case_id, "alice", "assign", assignee="  ")
    with pytest.raises(ValueError, match="comment needs a reason"):
        store.decide(case_id, "alice", "comment", reason=" ")
    with pytest.raises(ValueError, match="escalating a case needs a reason"):
        store.decide(case_id, "alice", "escalate")
    with pytest.raises(ValueError, match="unknown action"):
        store.decide(case_id, "alice", "reopen", reason="x")
    store.decide(case_id, "alice", "close", disposition="false_positive", reason="our scanner")
    with pytest.raises(ValueError, match=r"is closed .*cannot be escalated"):
        store.decide(case_id, "bob", "escalate", reason="looks bad")
    with pytest.raises(ValueError, match=r"is closed .*cannot be closed again"):
        store.decide(case_id, "bob", "close", disposition="malicious", reason="second look")
    # Notes and hand-overs on a closed case are still fine.
    store.decide(case_id, "bob", "comment", reason="checked with the network team")
    store.decide(case_id, "bob", "assign", assignee="carol")
    stored = store.get(case_id)
    assert stored is not None
    assert (stored.status, stored.analyst_disposition, stored.assignee) == (
        "closed",
        "false_positive",
        "carol",
    )
    assert [(a.action, a.detail) for a in stored.actions] == [
        ("opened", "run r1"),
        ("close", "our scanner"),
        ("comment", "checked with the network team"),
        ("assign", "to carol"),
    ]


@pytest.mark.parametrize(
    ("url", "error"),
    [
        ("notaurl", "ArgumentError"),
        ("nosuchdialect://host/db", "NoSuchModuleError"),
        ("sqlite:////nonexistent/dir/cases.db", "unable to open database file"),
    ],
)
def test_a_store_that_cannot_be_opened_is_one_store_error(url: str, error: str) -> None:
    with pytest.raises(StoreError) as caught:
        CaseStore(url)
    message = str(caught.value)
    assert message.startswith(f"cannot open case store {url}: ") and error in message
    assert "\n" not in message


def test_a_password_in_the_url_is_not_repeated_in_the_error() -> None:
    # Port 1 on loopback: nothing listens, the connection is refused at once.
    with pytest.raises(StoreError) as caught:
        CaseStore("postgresql+psycopg://analyst:s3cret@127.0.0.1:1/cases")
    assert "s3cret" not in str(caught.value) and "analyst:***@127.0.0.1" in str(caught.value)


def test_without_create_a_missing_sqlite_file_is_refused_not_made(tmp_path: Path) -> None:
    missing = tmp_path / "typo.db"
    with pytest.raises(StoreError, match=f"^no case store at {re.escape(str(missing))}$"):
        CaseStore(f"sqlite:///{missing}", create=False)
    assert not missing.exists()
    CaseStore(f"sqlite:///{missing}").close()  # a hunt creates it
    CaseStore(f"sqlite:///{missing}", create=False).close()  # now it is there
    CaseStore("sqlite://", create=False).close()  # in memory: nothing to look for
    with pytest.raises(StoreError, match="cannot open case store notaurl"):
        CaseStore("notaurl", create=False)


def test_episode_counting() -> None:
    t = dt.datetime(2026, 9, 30, tzinfo=dt.UTC)
    minute = dt.timedelta(minutes=1)
    spans = [(t, t + minute), (t + 5 * minute, t + 6 * minute), (t + 60 * minute, t + 61 * minute)]
    assert count_episodes(spans, 900) == 2
    assert count_episodes(spans, 0) == 3
    assert count_episodes([], 900) == 0


def test_a_sqlite_recording_waits_for_a_long_one_before_it(tmp_path: Path) -> None:
    """Another hunt's recording may hold the file for longer than the driver's
    5 s default: the next one waits for it instead of failing as locked."""
    import threading

    url = f"sqlite:///{tmp_path / 'cases.db'}"
    store = CaseStore(url)
    holder = sqlite3.connect(tmp_path / "cases.db", isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN IMMEDIATE")  # as a recording in another process does
    release = threading.Timer(6.0, lambda: holder.execute("COMMIT"))
    release.start()
    try:
        began = time.monotonic()
        store.record([doc("2026-09-30T10:00:00Z", "2026-09-30T10:05:00Z")], "later", 900)
        assert time.monotonic() - began >= 5.5
        assert [c.id for c in store.list()] == ["RW-20260930-aaaaaaaa"]
    finally:
        release.join()
        holder.close()
        store.close()


def test_a_joined_sweep_links_its_labels_open_cases_once_and_never_a_closed_one(
    store: CaseStore,
) -> None:
    """A campaign case recorded under one label whose findings hold two more
    (a source joined the sweeps): the open case of one is linked both ways,
    once however often it is recorded; the closed one's trail (the analyst's
    record) gets nothing. On SQLite and PostgreSQL."""
    hour = "203.0.113.0/24@1790762400"
    ssh, web, tls = (f"campaign:tcp/{port}@{hour}" for port in (22, 80, 443))

    def sweep(case_id: str, actor: str, labels: list[str]) -> dict[str, Any]:
        findings = [{"detection": "distributed_scan", "label": label} for label in labels]
        found = doc("2026-09-30T10:00:00+00:00", "2026-09-30T10:50:00+00:00", findings=findings)
        return {**found, "id": case_id, "actor": actor}

    store.record([sweep("RW-web", web, [web]), sweep("RW-tls", tls, [tls])], "run-1", 900)
    store.decide("RW-tls", "alice", "close", disposition="benign", reason="our scan")
    for run in ("run-2", "run-3"):
        store.record([sweep("RW-ssh", ssh, [ssh, web, tls])], run, 900)
    linked = {
        case_id: [a.detail for a in store.get(case_id).actions if a.action == "linked"]
        for case_id in ("RW-ssh", "RW-web", "RW-tls")
    }
    assert linked == {
        "RW-ssh": [f"took in the sweep of open case RW-web ({web}, run run-2)"],
        "RW-web": ["its sweep joined case RW-ssh's (run run-2): later activity goes there"],
        "RW-tls": [],
    }


def older_store(url: str) -> None:
    """A store at revision 0001 (before the web UI's users) holding a case and a decision."""
    store = CaseStore(url)
    try:
        store.record([doc("2026-09-30T10:00:00Z", "2026-09-30T10:01:00Z")], "r1", 900)
        store.decide("RW-20260930-aaaaaaaa", "alice", "close", disposition="benign", reason="ours")
    finally:
        store.close()
    alembic(url, command.downgrade, "0001")
    assert schema_of(url)["versions"] == [("0001",)]


def assert_migrated_with_its_case(url: str) -> None:
    store = CaseStore(url)
    assert schema_of(url)["versions"] == [(HEAD_REVISION,)]
    try:
        case = store.get("RW-20260930-aaaaaaaa")
        assert case is not None
        assert (case.status, case.analyst_disposition) == ("closed", "benign")
        assert [a.action for a in case.actions] == ["opened", "close"]
        store.add_user("alice", "admin", "x")  # the table 0002 adds
    finally:
        store.close()


MIGRATE_AT = """
import pathlib, sys, time
from alembic import op
url, flags, me = sys.argv[1], pathlib.Path(sys.argv[2]), sys.argv[3]
create_table = op.create_table

def meeting(*args, **kwargs):
    # Both processes reach the migration's first table before either creates
    # it (when nothing makes one wait for the other: 3 s at most).
    (flags / me).touch()
    end = time.time() + 3
    while len(list(flags.iterdir())) < 2 and time.time() < end:
        time.sleep(0.02)
    return create_table(*args, **kwargs)

op.create_table = meeting
from reconwatch.store import CaseStore
CaseStore(url).close()
"""


def test_processes_opening_an_older_store_at_once_all_succeed(
    one_empty: str, tmp_path: Path
) -> None:
    # A hunt and the web UI started together on a store of an older version:
    # one migrates it, the other waits for its lock and finds it migrated
    # (both used to migrate: "table users already exists").
    older_store(one_empty)
    flags = tmp_path / "flags"
    flags.mkdir()
    children = [
        subprocess.Popen(
            [sys.executable, "-c", MIGRATE_AT, one_empty, str(flags), str(n)],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for n in range(2)
    ]
    outputs = [child.communicate(timeout=120)[0] for child in children]
    assert [child.returncode for child in children] == [0, 0], outputs
    assert_migrated_with_its_case(one_empty)


def test_an_interrupted_migration_leaves_the_older_store_as_it_was(
    one_empty: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Killed, or the disk full, between the migration's first table and its
    # version row: on SQLite the table stayed (each DDL statement committed on
    # its own) and every later open failed on "table users already exists".
    from alembic import op

    older_store(one_empty)

    def interrupted(*args: object, **kwargs: object) -> None:
        raise OperationalError("CREATE INDEX", {}, Exception("disk full"))

    monkeypatch.setattr(op, "create_index", interrupted)
    with pytest.raises(StoreError, match="disk full"):
        CaseStore(one_empty)
    monkeypatch.undo()
    assert schema_of(one_empty)["versions"] == [("0001",)]
    assert "users" not in schema_of(one_empty)["tables"]
    assert_migrated_with_its_case(one_empty)


def test_a_decision_made_while_a_hunt_records_the_case_is_kept(
    store: CaseStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An analyst closes the case while a hunt is recording it (the web UI and
    a hunt at once): the hunt read the case as open before the close, and on
    PostgreSQL wrote it back as escalated; the decision now waits for the
    recording, or the recording for it."""
    import threading

    first = doc("2026-09-30T10:00:00Z", "2026-09-30T10:01:00Z")
    store.record([first], "r1", 900)
    analyst = CaseStore(store.url)
    errors: list[BaseException] = []

    def close() -> None:
        try:
            analyst.decide(first["id"], "alice", "close", disposition="benign", reason="ours")
        except BaseException as exc:
            errors.append(exc)

    deciding = threading.Thread(target=close)
    sightings = store_module._sightings

    def meanwhile(*args: Any) -> Any:
        # The hunt has read the actor's open case: the analyst closes it now.
        if deciding.ident is None:
            deciding.start()
            deciding.join(1.5)
        return sightings(*args)

    monkeypatch.setattr(store_module, "_sightings", meanwhile)
    try:
        later = doc("2026-09-30T10:00:00Z", "2026-09-30T10:20:00Z", escalate=True)
        store.record([later], "r2", 900)
        deciding.join(60)
    finally:
        analyst.close()
    assert errors == []
    stored = store.get(first["id"])
    assert stored is not None
    assert (stored.status, stored.analyst_disposition) == ("closed", "benign")
    assert [a.action for a in stored.actions] == ["opened", "escalated", "close"]


def test_times_come_back_in_utc_whatever_the_servers_zone(pg_url: str) -> None:
    """A PostgreSQL server (or database) in another zone handed stored times
    back in it: 10:01 UTC as 15:31+05:30, and ``cases list`` showed 15:31
    under "times in UTC"."""
    from rich.console import Console

    from reconwatch.cli.cases import queue_table

    url = make_url(pg_url)
    name = f"rw_{uuid.uuid4().hex[:12]}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
        connection.execute(text(f"ALTER DATABASE \"{name}\" SET timezone TO 'Asia/Kolkata'"))
    admin.dispose()
    store = CaseStore(url.set(database=name).render_as_string(False))
    try:
        store.record([doc("2026-09-30T10:00:00Z", "2026-09-30T10:01:00Z")], "r1", 900)
        stored = store.get("RW-20260930-aaaaaaaa")
        assert stored is not None
        utc = dt.timedelta(0)
        assert (stored.last_seen.utcoffset(), stored.last_seen.hour) == (utc, 10)
        assert stored.sightings[0].first_seen.utcoffset() == utc
        rows = store.list()
    finally:
        store.close()
    # The queue says UTC whatever the store hands it.
    rows[0].last_seen = rows[0].last_seen.astimezone(dt.timezone(dt.timedelta(hours=5.5)))
    console = Console(width=120, record=True)
    console.print(queue_table(rows, 120))
    assert "2026-09-30 10:01" in console.export_text()
