"""``reconwatch serve`` and ``reconwatch users``: the web UI and its analysts.

Only click and the standard library are imported here: ``reconwatch.cli``
registers these commands, and the web extra (FastAPI, uvicorn, argon2) is
optional. Each command imports what it needs when it runs and says how to
install it when it is missing.
"""

from __future__ import annotations

import importlib
import ipaddress
import sys
from pathlib import Path
from typing import Any

import click

from reconwatch.cli_errors import config_from, fail
from reconwatch.report.text import clean

WEB_MODULES = ("fastapi", "uvicorn", "argon2", "itsdangerous", "python_multipart", "jinja2")
INSTALL_HINT = "pip install 'reconwatch[web]'"
MIN_PASSWORD = 12


def require_web_extra() -> None:
    """Exit with a one-line hint when a package of the ``web`` extra is missing."""
    for name in WEB_MODULES:
        try:
            importlib.import_module(name)
        except ImportError:
            fail(f"the web UI needs the {name} package: {INSTALL_HINT}")


def _store_url(store_url: str | None, config: Any) -> str:
    from reconwatch.store import DEFAULT_URL

    return store_url or config.store.url or DEFAULT_URL


def _open_store(url: str) -> Any:
    from reconwatch.store import CaseStore

    try:
        return CaseStore(url)
    except Exception as exc:  # a bad URL or an unreachable server is a user error
        fail(f"cannot open case store {url}: {type(exc).__name__}: {str(exc).splitlines()[0]}")


_store_option = click.option(
    "--store",
    "store_url",
    help="Case store URL (default: store.url from the config, else sqlite:///reconwatch.db).",
)
_config_option = click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    help="reconwatch YAML config (site, respond settings for approved blocks).",
)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@_store_option
@_config_option
@click.option(
    "--secure-cookies/--no-secure-cookies",
    default=None,
    help="Mark the session cookie Secure (on by default with --ssl-certfile). "
    "Turn it on when a TLS proxy serves the UI over https.",
)
@click.option("--ssl-certfile", type=click.Path(path_type=Path, dir_okay=False, exists=True))
@click.option("--ssl-keyfile", type=click.Path(path_type=Path, dir_okay=False, exists=True))
@click.option(
    "--session-hours",
    default=8.0,
    show_default=True,
    type=click.FloatRange(0.05, 168),
    help="A session ends this long after login.",
)
@click.option(
    "--secret-file",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Session signing key (created 0600 if missing); default: next to a SQLite store, "
    "else next to the config.",
)
@click.option(
    "--blocks-dir",
    type=click.Path(path_type=Path, file_okay=False),
    help="Where approved block rules are written (default: blocks/ next to the secret file).",
)
def serve(
    host: str,
    port: int,
    store_url: str | None,
    config_path: Path | None,
    secure_cookies: bool | None,
    ssl_certfile: Path | None,
    ssl_keyfile: Path | None,
    session_hours: float,
    secret_file: Path | None,
    blocks_dir: Path | None,
) -> None:
    """The analyst web UI and REST API over the case store (loopback only by default)."""
    require_web_extra()
    import uvicorn

    from reconwatch.web.app import create_app
    from reconwatch.web.auth import secret_path_for

    config = config_from(config_path)
    url = _store_url(store_url, config)
    if not is_loopback(host):
        click.echo(
            f"reconwatch: warning: listening on {clean(host, 100)}, not loopback: anyone who "
            "can reach this port can try to log in; put TLS in front (--ssl-certfile or a proxy)",
            err=True,
        )
    if (ssl_certfile is None) != (ssl_keyfile is None):
        fail("--ssl-certfile and --ssl-keyfile go together")
    secure = secure_cookies if secure_cookies is not None else ssl_certfile is not None
    secret_path = secret_file or secret_path_for(url, config_path)
    try:
        app = create_app(
            url,
            config,
            secret_path=secret_path,
            secure_cookies=secure,
            session_seconds=int(session_hours * 3600),
            blocks_dir=blocks_dir,
        )
    except (OSError, ValueError) as exc:
        fail(str(exc))
    except Exception as exc:  # an unreachable store server is a user error
        fail(f"cannot open case store {url}: {type(exc).__name__}: {str(exc).splitlines()[0]}")
    scheme = "https" if ssl_certfile else "http"
    click.echo(f"reconwatch web UI on {scheme}://{clean(host, 100)}:{port}/ (store {url})")
    uvicorn.run(
        app,
        host=host,
        port=port,
        ssl_certfile=str(ssl_certfile) if ssl_certfile else None,
        ssl_keyfile=str(ssl_keyfile) if ssl_keyfile else None,
        proxy_headers=False,  # the client address feeds the login throttle: never trust headers
        server_header=False,
        log_level="info",
    )


@click.group()
def users() -> None:
    """Analysts of the web UI: add, list, remove, issue API tokens (roles l1, t2, admin)."""


@users.command("add")
@click.argument("name")
@click.option("--role", required=True, type=click.Choice(["l1", "t2", "admin"]))
@click.option(
    "--password-stdin", is_flag=True, help="Read the password from the first line of stdin."
)
@_store_option
@_config_option
def users_add(
    name: str, role: str, password_stdin: bool, store_url: str | None, config_path: Path | None
) -> None:
    """Add an analyst; the password is asked twice (or read from stdin)."""
    require_web_extra()
    from reconwatch.store import check_user_name
    from reconwatch.web.auth import hash_password

    try:  # before the password is asked (the store checks it again)
        check_user_name(name)
    except ValueError as exc:
        fail(str(exc))
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    if len(password) < MIN_PASSWORD:
        fail(f"the password must have at least {MIN_PASSWORD} characters")
    store = _open_store(_store_url(store_url, config_from(config_path)))
    try:
        store.add_user(name, role, hash_password(password))
    except ValueError as exc:
        fail(str(exc))
    finally:
        store.close()
    click.echo(f"user {name} added ({role})")


@users.command("list")
@_store_option
@_config_option
def users_list(store_url: str | None, config_path: Path | None) -> None:
    """The analysts, their roles and whether they hold an API token."""
    store = _open_store(_store_url(store_url, config_from(config_path)))
    try:
        rows = store.list_users()
    finally:
        store.close()
    for user in rows:
        token = "api-token" if user.api_token_hash else "-"
        click.echo(f"{clean(user.name, 64):24} {user.role:6} {token:9} {user.created_at:%Y-%m-%d}")
    click.echo(f"{len(rows)} user(s)")


@users.command("remove")
@click.argument("name")
@_store_option
@_config_option
def users_remove(name: str, store_url: str | None, config_path: Path | None) -> None:
    """Remove an analyst (their entries in audit trails stay)."""
    store = _open_store(_store_url(store_url, config_from(config_path)))
    try:
        removed = store.remove_user(name)
    finally:
        store.close()
    if not removed:
        fail(f"no user {name!r}")
    click.echo(f"user {name} removed")


@users.command("token")
@click.argument("name")
@click.option("--revoke", is_flag=True, help="Remove the user's token instead.")
@_store_option
@_config_option
def users_token(name: str, revoke: bool, store_url: str | None, config_path: Path | None) -> None:
    """Issue a new API token for NAME (printed once; replaces the old one)."""
    require_web_extra()
    from reconwatch.web.auth import new_api_token

    store = _open_store(_store_url(store_url, config_from(config_path)))
    try:
        if revoke:
            store.update_user(name, clear_token=True)
            click.echo(f"API token of {name} revoked")
            return
        token, digest = new_api_token()
        store.update_user(name, api_token_hash=digest)
    except KeyError:
        fail(f"no user {name!r}")
    finally:
        store.close()
    click.echo(token)
