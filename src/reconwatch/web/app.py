"""The analyst web UI: an app factory for ``reconwatch serve`` and the tests.

Server-rendered pages (Jinja2, autoescaped) made livelier with HTMX, and a
REST API under ``/api/v1`` on the same case store. The security model is in
docs/webui.md; in short:

* sessions are a signed cookie (HttpOnly, SameSite=Strict, Secure over
  https) that expires ``session_seconds`` after login, and logging out voids
  every session of the user server-side;
* every state-changing request made with the cookie carries the session's
  CSRF token (a form field, or the ``X-CSRF-Token`` header HTMX sends);
* API clients may use a per-user bearer token instead (no cookie, no CSRF);
* failed logins are throttled per client and per name, and an unknown name
  costs as much time as a wrong password;
* the Content-Security-Policy allows scripts from this server only (no
  inline script), and pages cannot be framed.
"""

from __future__ import annotations

import datetime as dt
import hmac
import json
import secrets
import time
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Depends, FastAPI, Form, HTTPException, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import (
    HTMLResponse,
    JSONResponse,
    PlainTextResponse,
    RedirectResponse,
    Response,
)
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.sessions import SessionMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from reconwatch import __version__
from reconwatch.campaign_labels import actor_text
from reconwatch.config import Config
from reconwatch.report.charts import dns_volume_svg, heatmap_svg, timeline_svg
from reconwatch.store import ROLES, SORT_KEYS, CaseStore, utc
from reconwatch.web import views
from reconwatch.web.actions import (
    ALL_DISPOSITIONS,
    ActionError,
    ActionRequest,
    allowed_dispositions,
    can_approve_block,
    perform,
    proposed_rules,
)
from reconwatch.web.auth import (
    LoginThrottle,
    burn_time,
    hash_password,
    load_or_create_secret,
    secret_path_for,
    token_hash,
    verify_password,
)

HERE = Path(__file__).parent
SESSION_COOKIE = "reconwatch_session"
CSRF_HEADER = "x-csrf-token"
SEVERITIES = ("low", "medium", "high", "critical")
DISPOSITIONS = ("malicious", "suspicious", "benign_scanner", "approved_exercise", "benign")
STATUSES = ("open", "escalated", "closed")
PER_PAGE = 50
MAX_PER_PAGE = 200
MAX_FIELD = 200  # longest filter value accepted; longer is an error, not a slow query
MAX_FLASH = 1000  # longest message kept for the next page (in the session cookie)

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
SECURITY_HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
]


class SecurityHeaders:
    """Adds the security headers to every response (pages, API, static files, errors)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers.extend(h for h in SECURITY_HEADERS if h[0] not in present)
                if scope["path"] != "/static" and not scope["path"].startswith("/static/"):
                    # Case data must not linger in shared caches or the back button.
                    headers.append((b"cache-control", b"no-store"))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


class RefuseNul:
    """400 for a request whose path or query string holds a NUL character.

    PostgreSQL cannot take NUL in a text value: a case id, a filter or a
    user name holding one would end in a server error at the first query.
    Form and JSON fields are checked where they are read (login, actions).
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            query = scope.get("query_string", b"").lower()
            if "\x00" in scope["path"] or b"%00" in query or b"\x00" in query:
                message = "bad request: a NUL character (%00) in the address"
                response: Response = (
                    # The API's errors are JSON with a "detail", as its clients read them.
                    JSONResponse({"detail": message}, status_code=400)
                    if scope["path"].startswith("/api/")
                    else PlainTextResponse(message, status_code=400)
                )
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


@dataclass(frozen=True)
class Principal:
    name: str
    role: str
    #: "session" (cookie: CSRF token required to change anything) or "token" (bearer)
    via: Literal["session", "token"]


class LoginRequired(Exception):
    """A page asked for without a valid session: redirect to the login form."""


@dataclass
class WebSettings:
    store: CaseStore
    config: Config
    blocks_dir: Path
    session_seconds: int
    throttle: LoginThrottle
    templates: Jinja2Templates


class ActionBody(BaseModel):
    """An analyst action on a case (``POST /api/v1/cases/{id}/actions``)."""

    action: Literal["escalate", "close", "assign", "comment", "approve_block"]
    # 2,000 characters once CRLF line breaks count one (``actions.perform``
    # checks); the field takes the CRLF form of that as the page's form does.
    reason: str = Field(
        "",
        max_length=4000,
        description="Why; required except for assign. At most 2,000 characters (CRLF counts one).",
    )
    # The analyst's closing verdicts, not the hunt's (DISPOSITIONS, the queue's filter).
    disposition: str | None = Field(
        None, description="For close: " + ", ".join(ALL_DISPOSITIONS) + " (as the role allows)."
    )
    assignee: str | None = Field(None, description="For assign: a user name.")


def create_app(
    store_url: str,
    config: Config | None = None,
    *,
    secret_key: str | None = None,
    secret_path: Path | None = None,
    secure_cookies: bool = False,
    session_seconds: int = 8 * 3600,
    blocks_dir: Path | None = None,
    throttle: LoginThrottle | None = None,
) -> FastAPI:
    """The web UI over the case store at ``store_url``.

    ``secret_key`` signs session cookies; by default it is read from (or
    created in) ``secret_path``, which defaults to a file next to a SQLite
    store. ``secure_cookies`` marks the cookie Secure: set it when the UI is
    served over https (directly or behind a TLS proxy). Approved block rules
    are written under ``blocks_dir`` (default: ``blocks/`` next to the secret).
    """
    config = config or Config()
    store = CaseStore(store_url)
    if secret_key is None:
        path = secret_path or secret_path_for(store_url)
        secret_key = load_or_create_secret(path)
        blocks_dir = blocks_dir or path.parent / "blocks"
    blocks_dir = blocks_dir or Path.cwd() / "blocks"
    templates = Jinja2Templates(directory=str(HERE / "templates"))
    templates.env.autoescape = True  # .html does this already; never let a rename turn it off
    templates.env.filters["t"] = views.text
    templates.env.filters["when"] = views.when
    templates.env.filters["lines"] = views.lines
    templates.env.globals["version"] = __version__
    settings = WebSettings(
        store=store,
        config=config,
        blocks_dir=blocks_dir,
        session_seconds=session_seconds,
        throttle=throttle or LoginThrottle(),
        templates=templates,
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        store.close()

    app = FastAPI(
        lifespan=lifespan,
        title="reconwatch",
        version=__version__,
        description="Analyst API over the reconwatch case store (see docs/webui.md).",
        # Swagger UI and ReDoc load scripts from a CDN and run inline script,
        # which the CSP forbids; the OpenAPI document itself is served.
        docs_url=None,
        redoc_url=None,
        openapi_url="/api/v1/openapi.json",
    )
    app.state.web = settings
    # Order: the last added runs first, so security headers wrap everything.
    app.add_middleware(
        SessionMiddleware,
        secret_key=secret_key,
        session_cookie=SESSION_COOKIE,
        max_age=session_seconds,
        same_site="strict",
        https_only=secure_cookies,
    )
    app.add_middleware(RefuseNul)
    app.add_middleware(SecurityHeaders)
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")

    @app.exception_handler(LoginRequired)
    async def to_login(request: Request, exc: LoginRequired) -> Response:
        location = "/login?" + urlencode({"next": _return_to(request)})
        if request.headers.get("hx-request") == "true":
            # HTMX would follow a redirect and swap the login form into the
            # table or the case page: the whole window goes to the login page.
            return Response(status_code=200, headers={"HX-Redirect": location})
        return RedirectResponse(location, status_code=303)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        # The API answers JSON; a page (a form post without its CSRF token, say) answers HTML.
        if request.url.path.startswith("/api/"):
            return await http_exception_handler(request, exc)
        message = exc.detail if isinstance(exc.detail, str) else "request refused"
        return _render(request, "error.html", {"message": message}, exc.status_code)

    @app.exception_handler(RequestValidationError)
    async def invalid_input(request: Request, exc: RequestValidationError) -> Response:
        # Neither echoes what was sent (a password, a long pasted text, a lone
        # surrogate that no UTF-8 response can carry: FastAPI's own answer ended
        # in a server error on it). The API answers FastAPI's JSON without the
        # input; a page says which field is wrong, as a page.
        if request.url.path.startswith("/api/"):
            detail = [
                {
                    "type": str(e.get("type", "")),
                    "loc": [p if isinstance(p, int) else str(p) for p in e.get("loc", ())],
                    "msg": str(e.get("msg", "")),
                }
                for e in exc.errors()
            ]
            # ensure_ascii: a surrogate in a message is written as \ud800, not a crash.
            return Response(
                json.dumps({"detail": detail}), status_code=422, media_type="application/json"
            )
        message = "; ".join(_field_error(error) for error in exc.errors()) or "bad input"
        return _render(request, "error.html", {"message": message}, 422)

    app.include_router(_pages())
    app.include_router(_api(), prefix="/api/v1")
    return app


def _return_to(request: Request) -> str:
    """Where to land after logging in: the page asked for, or the page a form was on.

    A form posted after the session ended (an action, a logout) must not send
    the analyst back to its POST-only address, which answers 405.
    """
    path = request.url.path
    if request.method in ("GET", "HEAD"):
        return path + (f"?{request.url.query}" if request.url.query else "")
    if path.startswith("/cases/") and path.endswith("/actions"):
        return path.removesuffix("/actions")
    if path == "/users" or path.startswith("/users/"):
        return "/users"
    return "/cases"


def _field_error(error: Mapping[str, Any]) -> str:
    """One validation error as "field: what is wrong" (never the value sent)."""
    loc = [str(part) for part in error.get("loc", ()) if part not in ("body", "query", "path")]
    field = ".".join(loc) or "input"
    text = f"{field}: {error.get('msg', 'invalid')}"
    return text.encode("utf-8", "replace").decode("utf-8")  # no lone surrogate in a page


# -- authentication ---------------------------------------------------------------


def _settings(request: Request) -> WebSettings:
    settings: WebSettings = request.app.state.web
    return settings


def _session_principal(request: Request) -> Principal | None:
    session = request.session
    name, login_at = session.get("user"), session.get("login_at")
    if not isinstance(name, str) or not isinstance(login_at, int | float):
        return None
    settings = _settings(request)
    if time.time() - login_at > settings.session_seconds:
        session.clear()
        return None
    # The user is read on every request: a removed user or a changed role takes effect now.
    user = settings.store.get_user(name)
    if user is None:
        session.clear()
        return None
    if user.sessions_after is not None and login_at <= utc(user.sessions_after).timestamp():
        session.clear()
        return None
    return Principal(user.name, user.role, "session")


def _token_principal(request: Request) -> Principal | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    user = _settings(request).store.user_by_token_hash(token_hash(token.strip()))
    if user is None:
        raise HTTPException(401, "invalid API token", headers={"WWW-Authenticate": "Bearer"})
    return Principal(user.name, user.role, "token")


def page_user(request: Request) -> Principal:
    principal = _session_principal(request)
    if principal is None:
        raise LoginRequired()
    return principal


def api_user(request: Request) -> Principal:
    principal = _token_principal(request) or _session_principal(request)
    if principal is None:
        raise HTTPException(401, "log in or send a bearer token", {"WWW-Authenticate": "Bearer"})
    return principal


def _csrf_token(request: Request) -> str:
    token = request.session.get("csrf")
    if not isinstance(token, str):
        token = secrets.token_urlsafe(32)
        request.session["csrf"] = token
    return token


def check_csrf(request: Request, principal: Principal | None, form_token: str = "") -> None:
    """403 unless a cookie-authenticated change carries the session's CSRF token.

    Bearer-token requests carry no ambient credential, so they need none.
    """
    if principal is not None and principal.via == "token":
        return
    expected = request.session.get("csrf")
    sent = request.headers.get(CSRF_HEADER) or form_token
    # Compared as bytes: compare_digest refuses str with non-ASCII characters (a 500).
    if (
        not isinstance(expected, str)
        or not sent
        or not hmac.compare_digest(expected.encode(), sent.encode("utf-8", "replace"))
    ):
        raise HTTPException(403, "missing or wrong CSRF token; reload the page")


PageUser = Annotated[Principal, Depends(page_user)]
ApiUser = Annotated[Principal, Depends(api_user)]


# -- the queue's filters -------------------------------------------------------------


@dataclass(frozen=True)
class Query:
    filters: dict[str, Any]
    sort: str
    descending: bool
    page: int
    per_page: int

    def params(self, **override: object) -> str:
        """The query string of this view with some values replaced (links, paging)."""
        values: dict[str, object] = {
            **{k: v for k, v in self.filters.items() if v is not None},
            "sort": self.sort,
            "order": "desc" if self.descending else "asc",
            "page": self.page,
            "per_page": self.per_page,
        }
        values.update(override)
        for key in ("seen_after", "seen_before"):
            value = values.get(key)
            if isinstance(value, dt.datetime):
                values[key] = value.strftime("%Y-%m-%dT%H:%M")
        if isinstance(values.get("escalate"), bool):
            values["escalate"] = "yes" if values["escalate"] else "no"
        return urlencode({k: v for k, v in values.items() if v not in (None, "")})


def _choice(params: Mapping[str, str], key: str, allowed: tuple[str, ...]) -> str | None:
    value = params.get(key) or None
    if value is not None and value not in allowed:
        raise ValueError(f"{key} must be one of {', '.join(allowed)}")
    return value


def _time(params: Mapping[str, str], key: str) -> dt.datetime | None:
    value = params.get(key) or None
    if value is None:
        return None
    try:
        # In UTC, as the store filters (and this view's links show) times.
        return utc(dt.datetime.fromisoformat(value[:MAX_FIELD]))
    except (ValueError, OverflowError) as exc:  # OverflowError: 0001-01-01T00:00+01:00
        raise ValueError(f"{key} must be an ISO date/time, e.g. 2026-09-30T10:00") from exc


def _int(params: Mapping[str, str], key: str, default: int, low: int, high: int) -> int:
    value = params.get(key) or ""
    if not value:
        return default
    # isascii: "²" is a digit to isdigit() but not to int().
    if not (value.isascii() and value.isdigit()) or not low <= int(value) <= high:
        raise ValueError(f"{key} must be a number from {low} to {high}")
    return int(value)


def parse_query(params: Mapping[str, str]) -> Query:
    """The queue's filters from query parameters; ``ValueError`` names a bad one."""
    for key, value in params.items():
        if len(value) > MAX_FIELD:
            raise ValueError(f"{key} is too long")
    escalate = _choice(params, "escalate", ("yes", "no"))
    source = (params.get("source") or "").strip() or None
    assignee = (params.get("assignee") or "").strip() or None
    filters: dict[str, Any] = {
        "status": _choice(params, "status", STATUSES),
        "severity": _choice(params, "severity", SEVERITIES),
        "disposition": _choice(params, "disposition", DISPOSITIONS),
        "escalate": None if escalate is None else escalate == "yes",
        "source": source,
        "assignee": assignee,
        "seen_after": _time(params, "seen_after"),
        "seen_before": _time(params, "seen_before"),
    }
    sort = _choice(params, "sort", tuple(SORT_KEYS)) or "last_seen"
    order = _choice(params, "order", ("asc", "desc")) or "desc"
    return Query(
        filters=filters,
        sort=sort,
        descending=order == "desc",
        page=_int(params, "page", 1, 1, 1_000_000),
        per_page=_int(params, "per_page", PER_PAGE, 1, MAX_PER_PAGE),
    )


def run_query(store: CaseStore, query: Query) -> tuple[list[Any], int]:
    total = store.count(**query.filters)
    rows = store.list(
        **query.filters,
        sort=query.sort,
        descending=query.descending,
        limit=query.per_page,
        offset=(query.page - 1) * query.per_page,
    )
    return rows, total


# -- pages ------------------------------------------------------------------------------


def _render(
    request: Request,
    name: str,
    context: dict[str, Any],
    status_code: int = 200,
    principal: Principal | None = None,
) -> HTMLResponse:
    token = _csrf_token(request)
    base = {
        "user": principal,
        "csrf": token,
        # HTMX sends this header with every request it makes (hx-headers on <body>).
        "csrf_headers": json.dumps({"X-CSRF-Token": token}),
        "flash": request.session.pop("flash", None),
    }
    return _settings(request).templates.TemplateResponse(
        request, name, {**base, **context}, status_code=status_code
    )


def _safe_next(target: str) -> str:
    # Only a path on this server: "//evil.example" or "https://..." would be an open redirect.
    if target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/cases"


def _client(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _pages() -> APIRouter:
    router = APIRouter(include_in_schema=False)

    @router.get("/")
    def index() -> RedirectResponse:
        return RedirectResponse("/cases", status_code=303)

    @router.get("/login")
    def login_form(request: Request, next: str = "/cases") -> HTMLResponse:
        return _render(request, "login.html", {"next": _safe_next(next), "error": None})

    @router.post("/login")
    def login(
        request: Request,
        username: Annotated[str, Form(max_length=64)],
        password: Annotated[str, Form(max_length=1024)],
        csrf_token: Annotated[str, Form()] = "",
        next: Annotated[str, Form()] = "/cases",
    ) -> Response:
        # Login CSRF: the form carries the anonymous session's token.
        check_csrf(request, None, csrf_token)
        settings = _settings(request)
        client = _client(request)
        # The attempt is reserved before the (slow) password check: logins sent
        # at once count against the limit while they are being checked.
        if not settings.throttle.begin(client, username):
            return _render(
                request,
                "login.html",
                {"next": _safe_next(next), "error": "Too many failed logins; try again later."},
                status_code=429,
            )
        ok = False
        try:
            # NUL: no such user (PostgreSQL cannot even look the name up).
            user = None if "\x00" in username else settings.store.get_user(username)
            if user is None:
                burn_time(password)
            else:
                ok = verify_password(user.password_hash, password)
        finally:
            settings.throttle.end(client, username, ok)
        if not ok or user is None:
            return _render(
                request,
                "login.html",
                {"next": _safe_next(next), "error": "Wrong user name or password."},
                status_code=401,
            )
        # A fresh session (and CSRF token) at login: nothing set before it survives.
        request.session.clear()
        request.session.update(
            {"user": user.name, "login_at": time.time(), "csrf": secrets.token_urlsafe(32)}
        )
        return RedirectResponse(_safe_next(next), status_code=303)

    @router.post("/logout")
    def logout(
        request: Request, user: PageUser, csrf_token: Annotated[str, Form()] = ""
    ) -> Response:
        check_csrf(request, user, csrf_token)
        # Server-side: the cookie, even if copied, is void from now on.
        _settings(request).store.end_sessions(user.name)
        request.session.clear()
        return RedirectResponse("/login", status_code=303)

    @router.get("/cases")
    def queue(request: Request, user: PageUser) -> HTMLResponse:
        settings = _settings(request)
        try:
            query = parse_query(request.query_params)
        except ValueError as exc:
            return _render(request, "error.html", {"message": str(exc)}, 400, user)
        rows, total = run_query(settings.store, query)
        pages = max(1, -(-total // query.per_page))
        summary = settings.store.source_summary([row.id for row in rows])
        context = {
            "rows": rows,
            # A campaign's actor as "192.0.2.31 +5 more", not its key (which ends in epoch seconds).
            "actors": {
                row.id: actor_text(row.actor, *summary.get(row.id, (None, 0))) for row in rows
            },
            "total": total,
            "query": query,
            "pages": pages,
            "severities": SEVERITIES,
            "dispositions": DISPOSITIONS,
            "statuses": STATUSES,
            "sort_keys": tuple(SORT_KEYS),
        }
        # HTMX filter/sort/page requests swap only the table.
        headers = request.headers
        partial = (
            headers.get("hx-request") == "true"
            and "hx-boosted" not in headers
            and "hx-history-restore-request" not in headers
        )
        return _render(request, "_queue.html" if partial else "queue.html", context, 200, user)

    @router.get("/cases/{case_id}")
    def case_page(request: Request, case_id: str, user: PageUser) -> HTMLResponse:
        return _case_page(request, case_id, user)

    @router.post("/cases/{case_id}/actions")
    def case_action(
        request: Request,
        case_id: str,
        user: PageUser,
        action: Annotated[str, Form(max_length=32)],
        reason: Annotated[str, Form(max_length=4000)] = "",
        disposition: Annotated[str, Form(max_length=32)] = "",
        assignee: Annotated[str, Form(max_length=64)] = "",
        csrf_token: Annotated[str, Form()] = "",
    ) -> Response:
        check_csrf(request, user, csrf_token)
        settings = _settings(request)
        try:
            message = perform(
                settings.store, settings.config, settings.blocks_dir, user.name, user.role,
                case_id,
                ActionRequest(action, reason, disposition or None, assignee or None),
            )  # fmt: skip
        except ActionError as exc:
            page = _case_page(request, case_id, user, error=exc.message, status_code=exc.status)
            # Shown in place by HTMX; the address bar keeps the case page, not this POST.
            page.headers["HX-Push-Url"] = "false"
            return page
        # Cut: the flash rides in the session cookie (4 KB at most in a browser).
        request.session["flash"] = views.text(message, MAX_FLASH)
        target = f"/cases/{quote(case_id, safe='')}"
        if request.headers.get("hx-request") == "true":
            # A boosted form: HTMX would follow a 303 silently and push the POST's URL.
            return Response(status_code=200, headers={"HX-Redirect": target})
        return RedirectResponse(target, status_code=303)

    @router.get("/users")
    def users_page(request: Request, user: PageUser) -> HTMLResponse:
        if user.role != "admin":
            return _render(request, "error.html", {"message": "admin only"}, 403, user)
        users = _settings(request).store.list_users()
        return _render(request, "users.html", {"users": users, "roles": ROLES}, 200, user)

    @router.post("/users")
    def users_add(
        request: Request,
        user: PageUser,
        name: Annotated[str, Form(max_length=64)],  # store.check_user_name has the rule
        role: Annotated[str, Form()],
        password: Annotated[str, Form(min_length=12, max_length=1024)],
        csrf_token: Annotated[str, Form()] = "",
    ) -> Response:
        check_csrf(request, user, csrf_token)
        if user.role != "admin":
            return _render(request, "error.html", {"message": "admin only"}, 403, user)
        try:
            _settings(request).store.add_user(name, role, hash_password(password))
        except ValueError as exc:
            return _render(request, "error.html", {"message": str(exc)}, 400, user)
        request.session["flash"] = f"user {name} added"
        return RedirectResponse("/users", status_code=303)

    @router.post("/users/{name}/remove")
    def users_remove(
        request: Request, name: str, user: PageUser, csrf_token: Annotated[str, Form()] = ""
    ) -> Response:
        check_csrf(request, user, csrf_token)
        if user.role != "admin":
            return _render(request, "error.html", {"message": "admin only"}, 403, user)
        if name == user.name:
            return _render(
                request, "error.html", {"message": "you cannot remove yourself"}, 400, user
            )
        if not _settings(request).store.remove_user(name):
            return _render(request, "error.html", {"message": f"no user {name!r}"}, 404, user)
        request.session["flash"] = f"user {name} removed"
        return RedirectResponse("/users", status_code=303)

    return router


def _case_page(
    request: Request,
    case_id: str,
    user: Principal,
    error: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    settings = _settings(request)
    case = settings.store.get(case_id)
    if case is None:
        return _render(request, "error.html", {"message": "no such case"}, 404, user)
    view = views.case_view(case)
    try:
        plan, rules = proposed_rules(case, settings.config)
    except ValueError as exc:  # a malformed allowlist entry in the config
        plan, rules = None, f"cannot plan blocks: {exc}"
    context = {
        **view,
        "plan": plan,
        "rules": rules,
        "charts": _charts(view["doc"]),
        "error": error,
        "dispositions": allowed_dispositions(user.role),
        "can_block": can_approve_block(user.role),
        "users": [u.name for u in settings.store.list_users()],
    }
    return _render(request, "case.html", context, status_code, user)


def _charts(doc: dict[str, Any]) -> dict[str, str] | None:
    """Inline SVG charts (report/charts.py escapes every value from a log); None: nothing to draw.

    SVG presentation attributes, no style attribute and no script: the CSP holds.
    """
    charts = {
        "timeline": timeline_svg(doc),
        "heatmap": heatmap_svg(doc),
        "dns": dns_volume_svg(doc),
    }
    return charts if any(charts.values()) else None


# -- the REST API -----------------------------------------------------------------------


def _api() -> APIRouter:
    router = APIRouter(tags=["cases"])

    @router.get("/me")
    def me(user: ApiUser) -> dict[str, str]:
        """Who the request is authenticated as."""
        return {"name": user.name, "role": user.role, "auth": user.via}

    @router.get("/cases")
    def list_cases(
        request: Request,
        user: ApiUser,
        status: Literal["open", "escalated", "closed"] | None = None,
        severity: Literal["low", "medium", "high", "critical"] | None = None,
        disposition: Literal[
            "malicious", "suspicious", "benign_scanner", "approved_exercise", "benign"
        ]
        | None = None,
        escalate: Literal["yes", "no"] | None = None,
        source: str | None = None,
        assignee: str | None = None,
        seen_after: str | None = None,
        seen_before: str | None = None,
        sort: str = "last_seen",
        order: Literal["asc", "desc"] = "desc",
        page: int = 1,
        per_page: int = PER_PAGE,
    ) -> dict[str, Any]:
        """The case queue: filtered, sorted and paginated like the queue page."""
        try:
            query = parse_query(request.query_params)
        except ValueError as exc:
            raise HTTPException(400, str(exc)) from exc
        rows, total = run_query(_settings(request).store, query)
        return {
            "total": total,
            "page": query.page,
            "per_page": query.per_page,
            "cases": [views.case_summary(r) for r in rows],
        }

    @router.get("/cases/{case_id}")
    def get_case(request: Request, case_id: str, user: ApiUser) -> dict[str, Any]:
        """One case: summary, latest hunt document, sightings and audit trail."""
        case = _settings(request).store.get(case_id)
        if case is None:
            raise HTTPException(404, "no such case")
        return views.case_detail(case)

    @router.post("/cases/{case_id}/actions")
    def post_action(
        request: Request, case_id: str, body: ActionBody, user: ApiUser
    ) -> JSONResponse:
        """Escalate, close, assign, comment or approve a block (same role rules as the pages).

        With cookie authentication the ``X-CSRF-Token`` header is required.
        """
        check_csrf(request, user)
        settings = _settings(request)
        try:
            message = perform(
                settings.store, settings.config, settings.blocks_dir, user.name, user.role,
                case_id,
                ActionRequest(body.action, body.reason, body.disposition, body.assignee),
            )  # fmt: skip
        except ActionError as exc:
            raise HTTPException(exc.status, exc.message) from exc
        return JSONResponse({"case": case_id, "action": body.action, "message": message})

    return router
