"""``reconwatch users`` / ``serve`` commands, and the store's migration 0001 -> 0002."""

from __future__ import annotations

import datetime as dt
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import click
import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config as AlembicConfig
from alembic.migration import MigrationContext
from click.testing import CliRunner

from reconwatch.store import MIGRATIONS, CaseStore
from reconwatch.store.models import Base
from reconwatch.web.auth import token_hash, verify_password
from reconwatch.web.cli import is_loopback, serve, users


@click.group()
def cli() -> None:
    """The commands as the lead registers them under ``reconwatch``."""


cli.add_command(users)
cli.add_command(serve)


def run(command: str, input: str | None = None) -> Any:
    return CliRunner().invoke(cli, shlex.split(command), input=input, catch_exceptions=False)


PW = "a long enough password\n"


@pytest.fixture
def url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'cases.db'}"


def test_users_add_list_remove(url: str) -> None:
    added = run(f"users add lena --role l1 --store {url} --password-stdin", input=PW)
    assert added.exit_code == 0, added.output
    assert "user lena added (l1)" in added.output
    # Prompted twice (confirmation) when not read from stdin.
    prompted = run(f"users add ada --role admin --store {url}", input=2 * "another long password\n")
    assert prompted.exit_code == 0, prompted.output
    assert "Password:" in prompted.output and "Repeat for confirmation" in prompted.output
    store = CaseStore(url)
    try:
        lena = store.get_user("lena")
        assert lena is not None and lena.role == "l1"
        assert lena.password_hash.startswith("$argon2id$")
        assert "a long enough password" not in lena.password_hash
        assert verify_password(lena.password_hash, "a long enough password")
        assert not verify_password(lena.password_hash, "a long enough passworD")
    finally:
        store.close()
    listed = run(f"users list --store {url}")
    assert listed.exit_code == 0
    lines = listed.output.splitlines()
    assert lines[0].split()[:2] == ["ada", "admin"] and lines[1].split()[:2] == ["lena", "l1"]
    assert "2 user(s)" in listed.output
    removed = run(f"users remove lena --store {url}")
    assert removed.exit_code == 0
    assert "lena" not in run(f"users list --store {url}").output


def test_users_add_refuses_bad_input(url: str) -> None:
    short = run(f"users add bob --role t2 --store {url} --password-stdin", input="short\n")
    assert short.exit_code == 2 and "at least 12 characters" in short.output
    bad_name = run(f"users add bob<script> --role t2 --store {url} --password-stdin", input=PW)
    assert bad_name.exit_code == 2
    bad_role = run(f"users add bob --role root --store {url} --password-stdin", input=PW)
    assert bad_role.exit_code == 2
    ok = run(f"users add bob --role t2 --store {url} --password-stdin", input=PW)
    assert ok.exit_code == 0
    again = run(f"users add bob --role l1 --store {url} --password-stdin", input=PW)
    assert again.exit_code == 2 and "already exists" in again.output
    assert run(f"users remove nobody --store {url}").exit_code == 2


def test_users_add_refuses_names_the_users_page_cannot_handle(url: str) -> None:
    """As the Users page: ASCII names only (a Cyrillic "а" makes "аda" look like
    "ada" in the audit trail), and not dots only (no path /users/NAME/remove)."""
    for name in ("..", ".", "\u0430da", "l\u00e9na"):
        refused = run(f"users add {name} --role l1 --store {url} --password-stdin", input=PW)
        assert refused.exit_code == 2, name
        assert "ASCII letters" in refused.output
    assert (
        run(f"users add .lena. --role l1 --store {url} --password-stdin", input=PW).exit_code == 0
    )


def test_users_token_issues_and_revokes(url: str) -> None:
    run(f"users add theo --role t2 --store {url} --password-stdin", input=PW)
    issued = run(f"users token theo --store {url}")
    assert issued.exit_code == 0
    token = issued.output.strip()
    assert token.startswith("rw_") and len(token) > 40
    store = CaseStore(url)
    try:
        user = store.user_by_token_hash(token_hash(token))
        assert user is not None and user.name == "theo"
        assert user.api_token_hash != token  # only the hash is kept
    finally:
        store.close()
    assert run(f"users token theo --revoke --store {url}").exit_code == 0
    store = CaseStore(url)
    try:
        assert store.user_by_token_hash(token_hash(token)) is None
    finally:
        store.close()


def test_importing_the_cli_does_not_import_fastapi() -> None:
    code = (
        "import sys, reconwatch.cli, reconwatch.web.cli\n"
        "heavy = {'fastapi', 'uvicorn', 'argon2', 'starlette'} & set(sys.modules)\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_serve_without_the_web_extra_says_how_to_install_it(
    monkeypatch: pytest.MonkeyPatch, url: str
) -> None:
    # A None entry in sys.modules makes the import fail as if the package were absent.
    monkeypatch.setitem(sys.modules, "fastapi", None)
    result = CliRunner().invoke(cli, ["serve", "--store", url])
    assert result.exit_code == 2
    (line,) = result.output.strip().splitlines()
    assert line.startswith("reconwatch: error:") and "pip install 'reconwatch[web]'" in line


def test_serve_warns_when_not_on_loopback(monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    import uvicorn

    started: dict[str, Any] = {}
    # Only the blocking server loop is replaced; the app is built for real.
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: started.update(app=app, **kw))
    local = CliRunner().invoke(cli, ["serve", "--store", url, "--port", "8123"])
    assert local.exit_code == 0, local.output
    assert started["host"] == "127.0.0.1" and started["port"] == 8123
    assert "warning" not in local.output
    wide = CliRunner().invoke(cli, ["serve", "--store", url, "--host", "0.0.0.0"])
    assert wide.exit_code == 0
    assert "warning: listening on 0.0.0.0, not loopback" in wide.output
    assert is_loopback("::1") and is_loopback("localhost") and not is_loopback("192.0.2.1")


def test_migration_0001_store_moves_forward_to_0002(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    engine = sa.create_engine(url)
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as connection:
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, "0001")
    now = dt.datetime(2026, 9, 30, tzinfo=dt.UTC)
    with engine.begin() as connection:
        assert "users" not in sa.inspect(connection).get_table_names()
        connection.execute(
            sa.text(
                "INSERT INTO cases (id, actor, first_seen, last_seen, severity, score, escalate,"
                " disposition, status, runs, episodes, document, created_at, updated_at) VALUES"
                " (:id, :actor, :t, :t, 'high', 60, 1, 'malicious', 'escalated', 1, 1, :doc,"
                " :t, :t)"
            ),
            {
                "id": "RW-20260930-old00001",
                "actor": "198.51.100.7",
                "t": now,
                "doc": '{"id": "RW-20260930-old00001"}',
            },
        )
        connection.execute(
            sa.text("INSERT INTO case_sources (case_id, source_ip) VALUES (:id, :ip)"),
            {"id": "RW-20260930-old00001", "ip": "198.51.100.7"},
        )
    engine.dispose()

    store = CaseStore(url)  # migrates on open
    try:
        with store.engine.connect() as connection:
            assert MigrationContext.configure(connection).get_current_revision() == "0002"
            assert compare_metadata(MigrationContext.configure(connection), Base.metadata) == []
            indexes = {i["name"] for i in sa.inspect(connection).get_indexes("cases")}
            assert "ix_cases_status_last_seen" in indexes
        (old,) = store.list(status="escalated")
        assert old.id == "RW-20260930-old00001"
        assert store.count(source="198.51.100.") == 1
        store.add_user("ada", "admin", "$argon2id$placeholder")
        assert [u.name for u in store.list_users()] == ["ada"]
    finally:
        store.close()
