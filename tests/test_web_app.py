"""The analyst web UI through its HTTP interface (FastAPI TestClient, real store, real argon2)."""

from __future__ import annotations

import datetime as dt
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from argon2 import PasswordHasher
from fastapi.testclient import TestClient

from reconwatch.cli import SAMPLE_DIRS
from reconwatch.config import Config, load_config
from reconwatch.generate import ALL_FAMILIES, generate_sample, min_sample_size
from reconwatch.hunt import HuntResult, hunt
from reconwatch.store import CaseStore
from reconwatch.web.app import CSP, SESSION_COOKIE, create_app
from reconwatch.web.auth import LoginThrottle, hash_password, new_api_token

# Real argon2id hashes with small parameters: the login path is the same, the tests are faster.
FAST = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1)
PASSWORD = "correct horse battery staple"
USERS = {"lena": "l1", "theo": "t2", "ada": "admin"}

XSS = "<script>alert(1)</script>"
IMG = '"><img src=x onerror=alert(1)>'
ANSI = "\x1b[31mRED\x1b[0m\x1b]0;title\x07"
BAD_UTF8 = b"caf\xe9-\xff\xfe.example".decode("utf-8", errors="replace")


def add_users(store: CaseStore) -> None:
    for name, role in USERS.items():
        store.add_user(name, role, hash_password(PASSWORD, FAST))


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "page has no CSRF field"
    return match.group(1)


def login(client: TestClient, name: str, password: str = PASSWORD) -> Any:
    page = client.get("/login")
    return client.post(
        "/login",
        data={"username": name, "password": password, "csrf_token": csrf_of(page.text)},
        follow_redirects=False,
    )


def logged_in(app: Any, name: str) -> TestClient:
    client = TestClient(app)
    response = login(client, name)
    assert response.status_code == 303, response.text
    return client


def page_csrf(client: TestClient, path: str = "/cases") -> str:
    return csrf_of(client.get(path).text)


def case_doc(n: int, **extra: Any) -> dict[str, Any]:
    """A case document as a hunt writes it (the fields the pages read)."""
    severity = ("low", "medium", "high", "critical")[n % 4]
    escalate = n % 3 == 0
    last = dt.datetime(2026, 9, 1, tzinfo=dt.UTC) + dt.timedelta(minutes=n)
    source = f"198.51.{(n // 250) % 256}.{n % 250 + 1}"
    return {
        "id": f"RW-20260901-{n:08x}",
        "actor": source,
        "sources": [source],
        "first_seen": (last - dt.timedelta(minutes=5)).isoformat(),
        "last_seen": last.isoformat(),
        "severity": severity,
        "score": float(n % 100),
        "escalate": escalate,
        "reasons": ["Repeated scanning"] if escalate else [],
        "disposition": ("malicious", "suspicious", "benign_scanner")[n % 3],
        "detections": ["vertical_scan"],
        "activity": {"events": 20},
        **extra,
    }


# -- a store filled by a real hunt over generated logs --------------------------------


@pytest.fixture(scope="module")
def hunted(tmp_path_factory: pytest.TempPathFactory) -> tuple[HuntResult, Config, Path]:
    root = tmp_path_factory.mktemp("webhunt")
    generate_sample(
        root / "sample", size=min_sample_size(ALL_FAMILIES) + 500, seed=11, families=ALL_FAMILIES
    )
    config = load_config(root / "sample" / "reconwatch.yaml")
    db = root / "hunt.db"
    result = hunt(
        [str(root / "sample" / d) for d in SAMPLE_DIRS],
        config,
        out_dir=root / "out",
        store_url=f"sqlite:///{db}",
    )
    return result, config, db


@pytest.fixture
def app(hunted: tuple[HuntResult, Config, Path], tmp_path: Path) -> Iterator[Any]:
    _, config, db = hunted
    copy = tmp_path / "cases.db"
    copy.write_bytes(db.read_bytes())  # each test acts on its own copy
    application = create_app(f"sqlite:///{copy}", config, blocks_dir=tmp_path / "blocks")
    add_users(application.state.web.store)
    yield application
    application.state.web.store.close()


def first_case(app: Any, **filters: Any) -> Any:
    rows = app.state.web.store.list(**filters, limit=1)
    assert rows, f"no case with {filters}"
    return rows[0]


def blockable_case(store: CaseStore) -> Any:
    """An escalated case of an outside source: one a Tier 2 approval may block."""
    return next(c for c in store.list(limit=100) if c.escalate and not c.document.get("internal"))


# -- login, logout, sessions --------------------------------------------------------------


def test_pages_need_a_login_and_the_api_a_credential(app: Any) -> None:
    client = TestClient(app)
    response = client.get("/cases?severity=high", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=%2Fcases%3Fseverity%3Dhigh"
    assert client.get("/api/v1/cases").status_code == 401
    assert (
        client.get("/api/v1/cases", headers={"Authorization": "Bearer rw_nope"}).status_code == 401
    )


def test_login_sets_a_strict_httponly_session_and_lands_on_next(app: Any) -> None:
    client = TestClient(app)
    page = client.get("/login?next=/cases%3Fstatus%3Descalated")
    response = client.post(
        "/login",
        data={
            "username": "lena",
            "password": PASSWORD,
            "csrf_token": csrf_of(page.text),
            "next": "/cases?status=escalated",
        },
        follow_redirects=False,
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/cases?status=escalated"
    cookie = response.headers["set-cookie"].lower()
    assert f"{SESSION_COOKIE}=" in cookie
    assert "httponly" in cookie and "samesite=strict" in cookie
    assert "secure" not in cookie  # plain http on loopback: a Secure cookie would never be sent
    assert 'data-testid="whoami">lena (l1)' in client.get("/cases").text


def test_next_cannot_redirect_off_site(app: Any) -> None:
    client = TestClient(app)
    page = client.get("/login")
    response = client.post(
        "/login",
        data={
            "username": "lena",
            "password": PASSWORD,
            "csrf_token": csrf_of(page.text),
            "next": "//evil.example/x",
        },
        follow_redirects=False,
    )
    assert response.headers["location"] == "/cases"


def test_secure_cookie_when_served_over_https(tmp_path: Path) -> None:
    application = create_app(
        f"sqlite:///{tmp_path / 's.db'}", secret_key="k" * 40, secure_cookies=True
    )
    add_users(application.state.web.store)
    response = login(TestClient(application), "lena")
    assert "; secure" in response.headers["set-cookie"].lower()


def test_wrong_password_and_unknown_user_fail_the_same_way(app: Any) -> None:
    client = TestClient(app)
    wrong = login(client, "lena", "not the password")
    unknown = login(client, "nobody", "not the password")
    assert wrong.status_code == unknown.status_code == 401
    assert "Wrong user name or password." in wrong.text
    assert "Wrong user name or password." in unknown.text
    assert client.get("/cases", follow_redirects=False).status_code == 303


def test_failed_logins_are_throttled(tmp_path: Path) -> None:
    application = create_app(
        f"sqlite:///{tmp_path / 't.db'}",
        secret_key="k" * 40,
        throttle=LoginThrottle(attempts=3, window=60),
    )
    add_users(application.state.web.store)
    client = TestClient(application)
    for _ in range(3):
        assert login(client, "theo", "guess").status_code == 401
    # Even the right password is refused while the name is throttled.
    assert login(client, "theo").status_code == 429
    assert client.get("/cases", follow_redirects=False).status_code == 303


def test_login_without_csrf_token_is_refused(app: Any) -> None:
    client = TestClient(app)
    client.get("/login")
    response = client.post("/login", data={"username": "lena", "password": PASSWORD})
    assert response.status_code == 403
    assert client.get("/cases", follow_redirects=False).status_code == 303


def test_logout_voids_the_session_even_for_a_copied_cookie(app: Any) -> None:
    client = logged_in(app, "theo")
    stolen = client.cookies.get(SESSION_COOKIE)
    assert stolen
    response = client.post(
        "/logout", data={"csrf_token": page_csrf(client)}, follow_redirects=False
    )
    assert response.status_code == 303 and response.headers["location"] == "/login"
    replay = TestClient(app)
    replay.cookies.set(SESSION_COOKIE, stolen)
    assert replay.get("/cases", follow_redirects=False).status_code == 303
    assert replay.get("/api/v1/cases").status_code == 401


def test_session_expires(tmp_path: Path) -> None:
    application = create_app(
        f"sqlite:///{tmp_path / 'e.db'}", secret_key="k" * 40, session_seconds=1
    )
    add_users(application.state.web.store)
    client = logged_in(application, "lena")
    assert client.get("/cases", follow_redirects=False).status_code == 200
    time.sleep(2.1)
    assert client.get("/cases", follow_redirects=False).status_code == 303


def test_removed_user_is_logged_out(app: Any) -> None:
    client = logged_in(app, "lena")
    app.state.web.store.remove_user("lena")
    assert client.get("/cases", follow_redirects=False).status_code == 303


def test_a_re_created_user_does_not_inherit_old_sessions(app: Any) -> None:
    client = logged_in(app, "lena")
    store = app.state.web.store
    store.remove_user("lena")
    store.add_user("lena", "admin", hash_password(PASSWORD, FAST))  # another person now
    assert client.get("/cases", follow_redirects=False).status_code == 303
    assert logged_in(app, "lena").get("/cases", follow_redirects=False).status_code == 200


def test_secret_key_is_kept_in_a_private_file_next_to_the_store(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'store' / 'cases.db'}"
    (tmp_path / "store").mkdir()
    first = create_app(url)
    add_users(first.state.web.store)
    secret = tmp_path / "store" / "reconwatch-web.secret"
    assert secret.stat().st_mode & 0o777 == 0o600
    assert len(secret.read_text().strip()) >= 32
    client = logged_in(first, "lena")
    # A restarted server reads the same key: the session stays valid.
    second = TestClient(create_app(url))
    second.cookies.set(SESSION_COOKIE, client.cookies[SESSION_COOKIE])
    assert second.get("/cases", follow_redirects=False).status_code == 200


def test_servers_starting_at_once_agree_on_one_secret(tmp_path: Path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from reconwatch.web.auth import load_or_create_secret

    path = tmp_path / "reconwatch-web.secret"
    for _ in range(20):
        path.unlink(missing_ok=True)
        with ThreadPoolExecutor(8) as pool:
            keys = set(pool.map(lambda _: load_or_create_secret(path), range(8)))
        assert keys == {path.read_text().strip()}  # one key, complete, for everyone
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no drafts left


def test_a_filesystem_without_hard_links_still_gets_a_secret(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import errno

    from reconwatch.web.auth import load_or_create_secret

    def refuse(self: Path, target: Path) -> None:
        raise OSError(errno.EPERM, "Operation not permitted")

    monkeypatch.setattr(Path, "hardlink_to", refuse)
    path = tmp_path / "reconwatch-web.secret"
    key = load_or_create_secret(path)
    assert path.read_text().strip() == key and path.stat().st_mode & 0o777 == 0o600
    assert load_or_create_secret(path) == key
    assert [p.name for p in tmp_path.iterdir()] == [path.name]


# -- headers ------------------------------------------------------------------------------


def test_security_headers_and_no_inline_script(app: Any) -> None:
    client = logged_in(app, "theo")
    case = first_case(app)
    for path in ("/login", "/cases", f"/cases/{case.id}", "/static/htmx.min.js", "/api/v1/me"):
        response = client.get(path)
        assert response.status_code == 200, path
        assert response.headers["content-security-policy"] == CSP
        assert response.headers["x-frame-options"] == "DENY"
        assert response.headers["x-content-type-options"] == "nosniff"
        if path.startswith("/static"):
            continue
        assert "unsafe-inline" not in response.headers["content-security-policy"]
        # Every <script> has a src on this server; no inline handlers.
        for tag in re.findall(r"<script[^>]*>", response.text):
            assert 'src="/static/' in tag
        assert not re.search(r"\son[a-z]+\s*=", response.text)


# -- roles and CSRF on actions --------------------------------------------------------------


def act(client: TestClient, case_id: str, csrf: str | None = None, **data: str) -> Any:
    if csrf is None:
        csrf = page_csrf(client, f"/cases/{case_id}")
    return client.post(
        f"/cases/{case_id}/actions", data={**data, "csrf_token": csrf}, follow_redirects=False
    )


def test_a_comment_at_the_textarea_limit_is_taken_whatever_its_line_breaks(app: Any) -> None:
    """The textarea's maxlength counts a line break once; the browser sends CRLF."""
    client = logged_in(app, "lena")
    case = first_case(app, status="open")
    comment = "\r\n".join(["line of the analyst's notes"] * 70)  # 1,959 as typed, 2,028 sent
    assert len(comment.replace("\r\n", "\n")) <= 2000 < len(comment)
    assert act(client, case.id, action="comment", reason=comment).status_code == 303
    stored = app.state.web.store.get(case.id).actions[-1]
    assert stored.detail == comment.replace("\r\n", "\n")
    # The API counts the same way, and still refuses what is too long as typed.
    token, digest = new_api_token()
    app.state.web.store.update_user("lena", api_token_hash=digest)
    bearer = TestClient(app, headers={"Authorization": f"Bearer {token}"})
    url = f"/api/v1/cases/{case.id}/actions"
    assert bearer.post(url, json={"action": "comment", "reason": comment}).status_code == 200
    too_long = bearer.post(url, json={"action": "comment", "reason": "x" * 2001})
    assert too_long.status_code == 400


def test_l1_cannot_approve_blocks_close_as_malicious_or_manage_users(app: Any) -> None:
    client = logged_in(app, "lena")
    case = first_case(app, status="escalated")
    assert act(client, case.id, action="approve_block", reason="x").status_code == 403
    assert (
        act(client, case.id, action="close", disposition="malicious", reason="x").status_code == 403
    )
    assert client.get("/users").status_code == 403
    denied = client.post(
        "/users",
        data={
            "name": "mallory",
            "role": "admin",
            "password": "x" * 20,
            "csrf_token": page_csrf(client),
        },
    )
    assert denied.status_code == 403
    assert app.state.web.store.get_user("mallory") is None
    stored = app.state.web.store.get(case.id)
    assert stored.status == "escalated"
    assert not [a for a in stored.actions if a.action == "approve_block"]
    # The block form is not even offered to an L1 analyst.
    assert 'data-testid="form-block"' not in client.get(f"/cases/{case.id}").text


def test_actions_without_or_with_a_wrong_csrf_token_are_refused(app: Any) -> None:
    client = logged_in(app, "theo")
    case = first_case(app)
    before = len(app.state.web.store.get(case.id).actions)
    no_token = client.post(f"/cases/{case.id}/actions", data={"action": "comment", "reason": "x"})
    assert no_token.status_code == 403
    assert act(client, case.id, csrf="forged", action="comment", reason="x").status_code == 403
    # Another session's token does not work either.
    other = logged_in(app, "ada")
    assert (
        act(client, case.id, csrf=page_csrf(other), action="comment", reason="x").status_code == 403
    )
    assert len(app.state.web.store.get(case.id).actions) == before


def test_l1_actions_are_recorded_in_the_audit_trail(app: Any) -> None:
    client = logged_in(app, "lena")
    case = first_case(app, status="open")
    assert (
        act(client, case.id, action="comment", reason="looked at the firewall").status_code == 303
    )
    assert act(client, case.id, action="assign", assignee="theo", reason="yours").status_code == 303
    assert (
        act(client, case.id, action="escalate", reason="same /24 as yesterday").status_code == 303
    )
    stored = app.state.web.store.get(case.id)
    assert stored.status == "escalated" and stored.assignee == "theo"
    trail = [(a.who, a.action, a.detail) for a in stored.actions if a.who == "lena"]
    assert trail == [
        ("lena", "comment", "looked at the firewall"),
        ("lena", "assign", "to theo: yours"),
        ("lena", "escalate", "same /24 as yesterday"),
    ]
    page = client.get(f"/cases/{case.id}").text
    assert "same /24 as yesterday" in page and "to theo: yours" in page
    assert (
        act(
            client, case.id, action="close", disposition="false_positive", reason="our scanner"
        ).status_code
        == 303
    )
    closed = app.state.web.store.get(case.id)
    assert (closed.status, closed.analyst_disposition, closed.analyst_reason) == (
        "closed",
        "false_positive",
        "our scanner",
    )


def test_actions_need_a_reason_and_an_existing_assignee(app: Any) -> None:
    client = logged_in(app, "lena")
    case = first_case(app, status="open")
    assert act(client, case.id, action="close", disposition="benign", reason="").status_code == 400
    assert act(client, case.id, action="assign", assignee="ghost").status_code == 400
    assert act(client, case.id, action="explode", reason="x").status_code == 400
    assert app.state.web.store.get(case.id).status == "open"


def test_t2_approves_a_block_and_rules_are_written(app: Any, tmp_path: Path) -> None:
    client = logged_in(app, "theo")
    case = blockable_case(app.state.web.store)
    response = act(client, case.id, action="approve_block", reason="confirmed scanner")
    assert response.status_code == 303
    nft = (tmp_path / "blocks" / case.id / "block.nft").read_text()
    source = case.document["sources"][0]
    assert source in nft
    assert (tmp_path / "blocks" / case.id / "block-ipset.sh").exists()
    (approval,) = [
        a for a in app.state.web.store.get(case.id).actions if a.action == "approve_block"
    ]
    assert approval.who == "theo" and approval.detail.startswith("confirmed scanner | blocks ")
    assert "block approved" in client.get(f"/cases/{case.id}").text


def test_an_unwritable_blocks_folder_is_a_clear_error_and_no_approval(
    app: Any, tmp_path: Path
) -> None:
    # A file where the blocks folder should be: mkdir fails even for root.
    (tmp_path / "blocks").write_text("not a folder")
    client = logged_in(app, "theo")
    case = blockable_case(app.state.web.store)
    response = act(client, case.id, action="approve_block", reason="confirmed scanner")
    assert response.status_code == 500
    assert "cannot write the rule files under" in response.text
    assert "Traceback" not in response.text
    actions = [a.action for a in app.state.web.store.get(case.id).actions]
    assert "approve_block" not in actions
    token = page_csrf(client)
    api = client.post(
        f"/api/v1/cases/{case.id}/actions",
        json={"action": "approve_block", "reason": "confirmed scanner"},
        headers={"X-CSRF-Token": token},
    )
    assert api.status_code == 500 and "cannot write the rule files" in api.json()["detail"]


def test_a_protected_source_is_never_blocked(app: Any, tmp_path: Path) -> None:
    client = logged_in(app, "ada")
    internal = next(c for c in app.state.web.store.list(limit=100) if c.document.get("internal"))
    response = act(client, internal.id, action="approve_block", reason="block it anyway")
    assert response.status_code == 409
    assert "nothing to block" in response.text
    assert not (tmp_path / "blocks" / internal.id).exists()
    actions = [a.action for a in app.state.web.store.get(internal.id).actions]
    assert "block_refused" in actions and "approve_block" not in actions


def test_an_exercise_source_is_never_blocked_by_an_approval(
    hunted: tuple[HuntResult, Config, Path], tmp_path: Path
) -> None:
    """The web approval protects what a hunt with the same config protects."""
    _, config, db = hunted
    copy = tmp_path / "cases.db"
    copy.write_bytes(db.read_bytes())
    store = CaseStore(f"sqlite:///{copy}")
    try:
        case = blockable_case(store)
    finally:
        store.close()
    source = case.document["sources"][0]
    calendar = tmp_path / "exercises.yaml"
    calendar.write_text(
        "exercises:\n  - name: red team\n"
        f"    sources: [{source}]\n"
        "    start: 2026-01-01T00:00:00Z\n    end: 2026-01-02T00:00:00Z\n"
        "    scope: [203.0.113.0/24]\n    contact: redteam@example.org\n",
        encoding="utf-8",
    )
    enrich = config.enrich.model_copy(update={"exercises": calendar})
    application = create_app(
        f"sqlite:///{copy}",
        config.model_copy(update={"enrich": enrich}),
        blocks_dir=tmp_path / "blocks",
    )
    add_users(application.state.web.store)
    try:
        client = logged_in(application, "theo")
        response = act(client, case.id, action="approve_block", reason="confirmed scanner")
        assert response.status_code == 409
        assert "nothing to block" in response.text and source in response.text
        assert not (tmp_path / "blocks" / case.id).exists()
    finally:
        application.state.web.store.close()


def test_an_approval_holds_to_the_hunts_refusals_whatever_the_servers_config(
    tmp_path: Path,
) -> None:
    """A server started without the hunt's config knows none of its home or
    protected ranges: what the hunt refused, widened or called internal is
    held to the hunt's record."""
    hunt_blocked = {"block": True, "timeout_seconds": 3600, "refused": {}}
    docs = [
        case_doc(3, id="RW-20260901-refused", actor="198.51.100.77", sources=["198.51.100.77"],
                 containment={**hunt_blocked, "entries": [],
                              "refused": {"198.51.100.77": "protected: partner resolver"}}),
        case_doc(6, id="RW-20260901-narrowed", actor="2001:db8:ffff:9::5",
                 sources=["2001:db8:ffff:9::5"],
                 containment={**hunt_blocked, "entries": ["2001:db8:ffff:9::5/128"]}),
        case_doc(9, id="RW-20260901-internal", actor="10.1.2.3", sources=["10.1.2.3"],
                 internal=True, containment={"block": False, "why": "disposition suspicious"}),
        case_doc(12, id="RW-20260901-unblocked", actor="198.51.100.90", sources=["198.51.100.90"],
                 disposition="suspicious",
                 containment={"block": False, "why": "disposition suspicious"}),
    ]  # fmt: skip
    application = create_app(f"sqlite:///{tmp_path / 's.db'}", blocks_dir=tmp_path / "blocks")
    store = application.state.web.store
    add_users(store)
    store.record(docs, "hunt", 900)
    try:
        client = logged_in(application, "theo")
        refused = act(client, "RW-20260901-refused", action="approve_block", reason="block it")
        assert refused.status_code == 409
        assert "refused by the hunt: protected: partner resolver" in refused.text
        internal = act(client, "RW-20260901-internal", action="approve_block", reason="block it")
        assert internal.status_code == 409 and "an internal source" in internal.text
        assert not (tmp_path / "blocks" / "RW-20260901-refused").exists()
        assert not (tmp_path / "blocks" / "RW-20260901-internal").exists()
        # The hunt kept this one at /128 (a protected neighbour in its /64):
        # respond.ipv6_prefix (64) of this server's config does not widen it.
        act(client, "RW-20260901-narrowed", action="approve_block", reason="block it")
        nft = (tmp_path / "blocks" / "RW-20260901-narrowed" / "block.nft").read_text()
        assert "2001:db8:ffff:9::5" in nft and "2001:db8:ffff:9::/64" not in nft
        # The analyst's approval stands for the hunt's disposition.
        act(client, "RW-20260901-unblocked", action="approve_block", reason="confirmed")
        nft = (tmp_path / "blocks" / "RW-20260901-unblocked" / "block.nft").read_text()
        assert "198.51.100.90" in nft and "approved: reconnaissance" in nft
    finally:
        store.close()


# -- queue ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def big_store(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, list[dict[str, Any]]]:
    path = tmp_path_factory.mktemp("big") / "big.db"
    url = f"sqlite:///{path}"
    store = CaseStore(url)
    docs = [case_doc(n) for n in range(10_000)]
    store.record(docs, "bulk", 900, now=dt.datetime(2026, 9, 30, tzinfo=dt.UTC))
    add_users(store)
    store.close()
    return url, docs


def test_queue_of_10000_cases_filters_sorts_and_pages_in_sql(
    big_store: tuple[str, list[dict[str, Any]]], tmp_path: Path
) -> None:
    url, docs = big_store
    application = create_app(url, secret_key="k" * 40, blocks_dir=tmp_path)
    client = logged_in(application, "lena")
    wanted = [d for d in docs if d["severity"] in ("high",) and d["disposition"] == "malicious"]
    # Severity-filtered, sorted by score ascending then id; page 3 of 25 per page.
    expected = sorted(wanted, key=lambda d: (d["score"], d["id"]))[50:75]
    api = client.get(
        "/api/v1/cases",
        params={
            "severity": "high",
            "disposition": "malicious",
            "sort": "score",
            "order": "asc",
            "page": 3,
            "per_page": 25,
        },
    )
    assert api.status_code == 200
    body = api.json()
    assert body["total"] == len(wanted)
    assert [c["id"] for c in body["cases"]] == [d["id"] for d in expected]
    page = client.get(
        "/cases",
        params={
            "severity": "high",
            "disposition": "malicious",
            "sort": "score",
            "order": "asc",
            "page": 3,
            "per_page": 25,
        },
    )
    assert page.status_code == 200
    ids = re.findall(r'href="/cases/([^"?]+)" data-testid="case-link"', page.text)
    assert ids == [d["id"] for d in expected]
    assert f"{len(wanted)} case(s) &middot; page 3 of {-(-len(wanted) // 25)}" in page.text
    # Severity sorts by rank, not alphabetically; the default order is newest first.
    top = client.get("/api/v1/cases", params={"sort": "severity", "per_page": 5}).json()
    assert [c["severity"] for c in top["cases"]] == ["critical"] * 5
    newest = client.get("/api/v1/cases", params={"per_page": 1}).json()["cases"][0]
    assert newest["id"] == max(docs, key=lambda d: d["last_seen"])["id"]
    # Source prefix, escalation and time window together.
    after = "2026-09-01T10:00"
    got = client.get(
        "/api/v1/cases",
        params={"source": "198.51.1.", "escalate": "yes", "seen_after": after, "per_page": 200},
    ).json()
    cut = dt.datetime(2026, 9, 1, 10, tzinfo=dt.UTC)
    expect = {
        d["id"]
        for d in docs
        if d["sources"][0].startswith("198.51.1.")
        and d["escalate"]
        and dt.datetime.fromisoformat(d["last_seen"]) >= cut
    }
    assert got["total"] == len(expect) and {c["id"] for c in got["cases"]} <= expect
    # An HTMX request gets the table only; a normal one the whole page.
    partial = client.get("/cases", params={"status": "escalated"}, headers={"HX-Request": "true"})
    assert "<html" not in partial.text and 'data-testid="total"' in partial.text
    application.state.web.store.close()


def test_the_queue_names_campaigns_by_their_sources_not_their_keys(app: Any) -> None:
    store = app.state.web.store
    campaigns = [c for c in store.list(limit=500) if c.actor.startswith("campaign:")]
    rotation = [c for c in campaigns if c.actor.startswith("campaign:ipv6@")]
    sweeps = [c for c in campaigns if c not in rotation]
    assert rotation and sweeps  # the generated sample plants both
    summary = store.source_summary([c.id for c in campaigns])
    page = logged_in(app, "lena").get("/cases?per_page=200").text
    for case in rotation:
        network = case.actor.removeprefix("campaign:ipv6@")
        count = summary[case.id][1]
        assert count >= 40
        assert f'title="{case.actor}">{network} ({count} addresses)</td>' in page
    for case in sweeps:
        first, count = summary[case.id]
        assert count > 1
        # The key ends in epoch seconds: it stays in the cell's title only.
        assert f'title="{case.actor}">{first} +{count - 1} more</td>' in page
        assert f">{case.actor}<" not in page


def test_queue_rejects_bad_filters_and_treats_sql_as_text(app: Any) -> None:
    client = logged_in(app, "lena")
    assert client.get("/cases", params={"severity": "urgent"}).status_code == 400
    assert client.get("/cases", params={"sort": "password_hash"}).status_code == 400
    assert client.get("/cases", params={"page": "-1"}).status_code == 400
    total = app.state.web.store.count()
    assert total > 0
    injected = client.get("/api/v1/cases", params={"source": "' OR 1=1 --"}).json()
    assert injected["total"] == 0
    wildcard = client.get("/api/v1/cases", params={"source": "%"}).json()
    assert wildcard["total"] == 0  # % is a character to match, not a LIKE wildcard


# -- the case page on real hunt output -----------------------------------------------------


def test_case_page_shows_the_playbook_evidence_and_charts(
    app: Any, hunted: tuple[HuntResult, Config, Path]
) -> None:
    result, _, _ = hunted
    client = logged_in(app, "lena")
    assert client.get("/api/v1/cases").json()["total"] == len(result.cases)
    case = max(result.cases, key=lambda c: len(c.findings))
    stored_id = next(r.id for r in app.state.web.store.list(limit=100) if r.actor == case.actor)
    page = client.get(f"/cases/{stored_id}").text
    for question in case.answers:
        assert question in page
    evidence = case.findings[0].evidence[0]
    assert f"{evidence.log_file}:{evidence.log_line}" in page
    assert "<svg" in page  # the actor's activity is drawn
    assert "table inet" in page  # proposed nftables rules
    dns_case = next(c for c in result.cases if "dns_bruteforce" in c.detections)
    dns_id = next(r.id for r in app.state.web.store.list(limit=100) if r.actor == dns_case.actor)
    dns_page = client.get(f"/cases/{dns_id}").text
    assert 'data-testid="dns-names"' in dns_page
    assert dns_case.findings[0].targets[0] in dns_page


# -- hostile log text ------------------------------------------------------------------------


def hostile_doc() -> dict[str, Any]:
    long = "A" * 50_000
    evil = f"{XSS}{IMG}{ANSI}{BAD_UTF8}"
    return case_doc(
        1,
        id="RW-20260901-evil0001",
        actor=f"203.0.113.9 {XSS}",
        sources=["203.0.113.9", XSS],
        escalate=True,
        reasons=[f"reason {evil}"],
        answers={"Are there unusual patterns of access to public-facing resources?": evil + long},
        criteria={"compromise": {"met": True, "evidence": [evil]}},
        findings=[
            {
                "detection": "dns_bruteforce",
                "description": evil,
                "targets": [f"{XSS}.example.com", f"{IMG}.example.com", BAD_UTF8],
                "evidence": [
                    {
                        "file": f"/var/log/{XSS}/{ANSI}.log",
                        "line": 7,
                        "timestamp": evil,
                        "destination_ip": IMG,
                        "destination_port": 53,
                        "table": "dns",
                        "detail": f"GET /{XSS} {IMG} UA {ANSI} {long}",
                    }
                ],
            }
        ],
        activity={
            "events": 3,
            "auth_users": [XSS],
            "exposed": [IMG],
            "exposed_count": 1,
            "alert_rules": [evil],
            "dns_names": 3,
        },
        enrichment={"203.0.113.9": {"intel": [{"feed": XSS, "note": IMG}], "benign_lists": []}},
        checklist=[{"step": XSS, "status": "done", "result": IMG}],
        tier2={
            "timeline": [{"time": XSS, "until": IMG, "event": evil}],
            "related_sources": [XSS],
            "recommended_actions": [IMG],
        },
        containment={"block": False, "why": evil},
        series={
            "bucket_seconds": 60,
            "timeline": [{"t": "2026-09-01T00:00:00Z", "dataset": XSS, "events": 3}],
            "heatmap": {"hosts": [IMG], "ports": [53], "counts": [[3]]},
            "dns": [{"client": XSS, "t": "2026-09-01T00:00:00Z", "queries": 3, "nxdomain": 1}],
        },
    )


def assert_inert(html: str) -> None:
    assert XSS not in html
    assert "<img" not in html
    assert "onerror=alert" not in html or "onerror=alert(1)&gt;" in html
    assert not re.search(r"<[^>]*\sonerror\s*=", html)
    assert "\x1b" not in html and "\x07" not in html


def test_hostile_case_text_is_escaped_everywhere(app: Any) -> None:
    store = app.state.web.store
    store.record([hostile_doc()], "evil", 900)
    store.decide("RW-20260901-evil0001", "lena", "comment", reason=f"note {XSS} {IMG}")
    client = logged_in(app, "theo")
    page = client.get("/cases/RW-20260901-evil0001")
    assert page.status_code == 200
    assert_inert(page.text)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text  # shown, as text
    assert "\\x1b[31mRED" in page.text  # ANSI escapes made visible, not interpreted
    assert "A" * 50_000 not in page.text  # very long lines are cut
    assert "\ufffd" in page.text  # replacement characters pass through as text
    queue = client.get("/cases", params={"source": "203.0.113.9"})
    assert queue.status_code == 200 and "RW-20260901-evil0001" in queue.text
    assert_inert(queue.text)
    # The API returns the data as JSON (application/json: a browser does not render it).
    api = client.get("/api/v1/cases/RW-20260901-evil0001")
    assert api.headers["content-type"].startswith("application/json")
    assert api.json()["actor"] == f"203.0.113.9 {XSS}"


def test_a_case_of_thousands_of_addresses_lists_the_first_ones(app: Any) -> None:
    # A rotating IPv6 scanner: one finding per address of its /64.
    sources = [f"2001:db8:ffff:9::{n:x}" for n in range(1, 451)]
    finding = {"detection": "ipv6_prefix_scan", "description": "part of a rotation", "evidence": []}
    doc = case_doc(7, id="RW-20260901-rotating", actor=sources[0], sources=sources,
                   findings=[{**finding, "source_ip": s} for s in sources])  # fmt: skip
    app.state.web.store.record([doc], "rotation", 900)
    client = logged_in(app, "theo")
    page = client.get("/cases/RW-20260901-rotating").text
    shown = re.search(r'data-testid="sources">(.*?)</dd>', page, re.S)
    assert shown is not None
    assert shown.group(1).count("2001:db8:ffff:9::") == 200
    assert "and 250 more" in shown.group(1)
    assert page.count("<summary><strong>ipv6_prefix_scan</strong>") == 50
    assert "50 of 450 findings shown" in page
    api = client.get("/api/v1/cases/RW-20260901-rotating").json()
    assert len(api["sources"]) == 450 and len(api["document"]["findings"]) == 450


# -- the REST API -------------------------------------------------------------------------------


def test_api_with_a_bearer_token(app: Any) -> None:
    store = app.state.web.store
    token, digest = new_api_token()
    store.update_user("theo", api_token_hash=digest)
    bearer = TestClient(app, headers={"Authorization": f"Bearer {token}"})
    assert bearer.get("/api/v1/me").json() == {"name": "theo", "role": "t2", "auth": "token"}
    case = first_case(app, status="open")
    detail = bearer.get(f"/api/v1/cases/{case.id}").json()
    assert detail["id"] == case.id and detail["document"]["id"] == case.id
    assert detail["actions"][0]["action"] == "opened"
    # No cookie, so no CSRF token needed.
    posted = bearer.post(
        f"/api/v1/cases/{case.id}/actions", json={"action": "escalate", "reason": "api says so"}
    )
    assert posted.status_code == 200, posted.text
    assert store.get(case.id).status == "escalated"
    assert bearer.get("/api/v1/cases/RW-none").status_code == 404
    assert (
        bearer.post(
            f"/api/v1/cases/{case.id}/actions", json={"action": "nuke", "reason": "x"}
        ).status_code
        == 422
    )
    store.update_user("theo", clear_token=True)
    assert bearer.get("/api/v1/me").status_code == 401


def test_api_with_the_session_cookie_needs_the_csrf_header(app: Any) -> None:
    client = logged_in(app, "lena")
    case = first_case(app, status="open")
    body = {"action": "comment", "reason": "from the api"}
    assert client.post(f"/api/v1/cases/{case.id}/actions", json=body).status_code == 403
    ok = client.post(
        f"/api/v1/cases/{case.id}/actions", json=body, headers={"X-CSRF-Token": page_csrf(client)}
    )
    assert ok.status_code == 200
    forbidden = client.post(
        f"/api/v1/cases/{case.id}/actions",
        json={"action": "approve_block", "reason": "x"},
        headers={"X-CSRF-Token": page_csrf(client)},
    )
    assert forbidden.status_code == 403
    assert [a.detail for a in app.state.web.store.get(case.id).actions][-1] == "from the api"


def test_openapi_document_lists_the_api(app: Any) -> None:
    spec = TestClient(app).get("/api/v1/openapi.json").json()
    assert {"/api/v1/cases", "/api/v1/cases/{case_id}", "/api/v1/cases/{case_id}/actions"} <= set(
        spec["paths"]
    )
    assert "/cases" not in spec["paths"]  # pages are not API


def test_admin_manages_users_on_the_users_page(app: Any) -> None:
    admin = logged_in(app, "ada")
    page = admin.get("/users")
    assert page.status_code == 200 and "lena" in page.text
    added = admin.post(
        "/users",
        data={
            "name": "nina",
            "role": "l1",
            "password": "a fresh long password",
            "csrf_token": csrf_of(page.text),
        },
        follow_redirects=False,
    )
    assert added.status_code == 303
    nina = TestClient(app)
    assert login(nina, "nina", "a fresh long password").status_code == 303
    assert "nina (l1)" in nina.get("/cases").text
    removed = admin.post(
        "/users/nina/remove",
        data={"csrf_token": page_csrf(admin, "/users")},
        follow_redirects=False,
    )
    assert removed.status_code == 303
    assert app.state.web.store.get_user("nina") is None
    assert nina.get("/cases", follow_redirects=False).status_code == 303
    # An admin cannot lock themselves out by removing their own account.
    assert (
        admin.post("/users/ada/remove", data={"csrf_token": page_csrf(admin, "/users")}).status_code
        == 400
    )


def test_throttle_counts_per_address_and_per_name_within_its_window() -> None:
    throttle = LoginThrottle(attempts=2, window=0.3)
    throttle.failed("10.0.0.1", "lena")
    assert not throttle.blocked("10.0.0.1", "lena")
    throttle.failed("10.0.0.1", "theo")
    assert throttle.blocked("10.0.0.1", "ada")  # this address failed twice
    assert not throttle.blocked("10.0.0.2", "ada")
    throttle.failed("10.0.0.3", "LENA")
    assert throttle.blocked("10.0.0.9", "lena")  # this name failed twice, any case
    time.sleep(0.35)
    assert not throttle.blocked("10.0.0.1", "lena")


# -- review fixes: throttle, bad input, sessions ending mid-form ---------------------------------


@pytest.fixture
def small_app(tmp_path: Path) -> Iterator[Any]:
    """An app over a store of 20 generated cases (no hunt: fast)."""
    application = create_app(
        f"sqlite:///{tmp_path / 'small.db'}", secret_key="k" * 40, blocks_dir=tmp_path / "blocks"
    )
    store = application.state.web.store
    add_users(store)
    store.record([case_doc(n) for n in range(20)], "hunt", 900)
    yield application
    store.close()


def test_logins_sent_at_once_cannot_outrun_the_throttle(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each login reserves its attempt before the slow password check: eight
    guesses sent together get three checks, not eight."""
    import threading

    import reconwatch.web.app as web_app

    def slow_check(*_: Any) -> bool:
        time.sleep(0.4)  # argon2 on a busy machine
        return False

    monkeypatch.setattr(web_app, "verify_password", slow_check)
    application = create_app(
        f"sqlite:///{tmp_path / 'c.db'}",
        secret_key="k" * 40,
        throttle=LoginThrottle(attempts=3, window=60),
    )
    add_users(application.state.web.store)
    clients = [TestClient(application) for _ in range(8)]
    tokens = [csrf_of(c.get("/login").text) for c in clients]
    start = threading.Barrier(len(clients))
    codes: list[int] = []

    def guess(client: TestClient, token: str) -> None:
        start.wait()
        data = {"username": "theo", "password": "guess", "csrf_token": token}
        codes.append(client.post("/login", data=data).status_code)

    threads = [
        threading.Thread(target=guess, args=pair) for pair in zip(clients, tokens, strict=True)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    application.state.web.store.close()
    assert sorted(codes) == [401] * 3 + [429] * 5


def test_the_throttle_keeps_nothing_for_what_it_only_looked_at() -> None:
    """Refused logins from ever new addresses (an IPv6 /64 has plenty) at a
    throttled name must not grow the throttle's table: nothing sweeps it
    while every attempt is refused."""
    throttle = LoginThrottle(attempts=1, window=60)
    throttle.failed("10.0.0.1", "lena")
    for n in range(1000):
        assert throttle.blocked(f"2001:db8::{n:x}", "lena")
        assert throttle.blocked("10.0.0.1", f"name{n}")
    assert len(throttle._failures) == 2  # ip:10.0.0.1 and user:lena
    for n in range(1000):
        assert not throttle.begin(f"2001:db8::{n:x}", "lena")
    assert len(throttle._failures) == 2
    assert not throttle._pending
    # A reserved attempt counts while it runs, and a success gives it back.
    fresh = LoginThrottle(attempts=2, window=60)
    assert fresh.begin("10.0.0.2", "theo") and fresh.begin("10.0.0.2", "theo")
    assert not fresh.begin("10.0.0.2", "theo")
    fresh.end("10.0.0.2", "theo", ok=True)
    fresh.end("10.0.0.2", "theo", ok=False)
    assert not fresh.blocked("10.0.0.2", "theo")  # one failure of two allowed
    assert not fresh._pending


def test_a_non_ascii_csrf_token_is_refused_not_a_server_error(small_app: Any) -> None:
    anonymous = TestClient(small_app)
    anonymous.get("/login")
    refused = anonymous.post(
        "/login", data={"username": "lena", "password": PASSWORD, "csrf_token": "é"}
    )
    assert refused.status_code == 403
    client = logged_in(small_app, "lena")
    api = client.post(
        "/api/v1/cases/RW-20260901-00000003/actions",
        json={"action": "comment", "reason": "x"},
        headers={"X-CSRF-Token": "é".encode("latin-1")},
    )
    assert api.status_code == 403
    assert (
        act(client, "RW-20260901-00000003", csrf="ü", action="comment", reason="x").status_code
        == 403
    )


def test_the_time_window_honours_a_utc_offset(small_app: Any) -> None:
    client = logged_in(small_app, "lena")
    # 02:10+02:00 is 00:10 UTC: cases 10..19 (one a minute from midnight UTC).
    utc = client.get("/api/v1/cases", params={"seen_after": "2026-09-01T00:10"}).json()
    offset = client.get("/api/v1/cases", params={"seen_after": "2026-09-01T02:10+02:00"}).json()
    assert utc["total"] == offset["total"] == 10
    before = client.get("/api/v1/cases", params={"seen_before": "2026-09-01T00:04-00:00"}).json()
    assert before["total"] == 5
    # An offset that takes the time out of range, a digit int() cannot read: 400, said plainly.
    far = client.get("/cases", params={"seen_after": "0001-01-01T00:00+01:00"})
    assert far.status_code == 400 and "seen_after must be an ISO date/time" in far.text
    odd = client.get("/cases", params={"page": "²"})
    assert odd.status_code == 400 and "page must be a number from 1 to" in odd.text


def test_bad_form_input_is_an_html_error_that_does_not_echo_it(small_app: Any) -> None:
    client = TestClient(small_app)
    secret = "my-real-password-" + "s" * 1100  # longer than the form takes
    long_login = client.post(
        "/login",
        data={
            "username": "lena",
            "password": secret,
            "csrf_token": csrf_of(client.get("/login").text),
        },
    )
    assert long_login.status_code == 422
    assert long_login.headers["content-type"].startswith("text/html")
    assert "password: String should have at most 1024 characters" in long_login.text
    assert "my-real-password" not in long_login.text
    admin = logged_in(small_app, "ada")
    short = admin.post(
        "/users",
        data={"name": "nina", "role": "l1", "password": "hunter2", "csrf_token": page_csrf(admin)},
    )
    assert short.status_code == 422 and "hunter2" not in short.text
    assert "at least 12 characters" in short.text
    # The API answers JSON, without the input: a lone surrogate in it was a server error.
    api = admin.post(
        "/api/v1/cases/RW-20260901-00000003/actions",
        content=b'{"action": "comment", "reason": "a\\ud800b"}',
        headers={"X-CSRF-Token": page_csrf(admin), "Content-Type": "application/json"},
    )
    assert api.status_code == 422
    assert api.json()["detail"][0]["loc"] == ["body", "reason"]
    assert "input" not in api.json()["detail"][0]


@pytest.fixture(params=["sqlite", "postgresql"])
def any_store_app(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'any.db'}"
    else:
        from pg import postgres_server

        server = postgres_server()
        url = server.__enter__()
        request.addfinalizer(lambda: server.__exit__(None, None, None))
    application = create_app(url, secret_key="k" * 40, blocks_dir=tmp_path / "blocks")
    store = application.state.web.store
    add_users(store)
    store.record([case_doc(n) for n in range(5)], "hunt", 900)
    yield application
    store.close()


def test_nul_and_lone_surrogates_are_refused_not_server_errors(any_store_app: Any) -> None:
    """PostgreSQL takes no NUL in text and no database a lone surrogate: both
    were 500s at the first query (a case id, a filter, a login name, a reason)."""
    app = any_store_app
    client = logged_in(app, "theo")
    client = TestClient(app, raise_server_exceptions=False, cookies=client.cookies)
    for path in ("/cases/RW%00x", "/api/v1/cases/RW%00x", "/cases?source=1%00",
                 "/api/v1/cases?assignee=a%00"):  # fmt: skip
        response = client.get(path)
        assert response.status_code == 400, path
        assert "NUL" in response.text
    case_id = "RW-20260901-00000003"
    token = page_csrf(client)
    nul = act(client, case_id, csrf=token, action="comment", reason="a\x00b")
    assert nul.status_code == 400 and "NUL character" in nul.text
    assign = act(client, case_id, csrf=token, action="assign", assignee="th\x00eo")
    assert assign.status_code == 400
    surrogate = client.post(
        f"/api/v1/cases/{case_id}/actions",
        content=b'{"action": "assign", "assignee": "\\ud800"}',
        headers={"X-CSRF-Token": token, "Content-Type": "application/json"},
    )
    assert surrogate.status_code == 400 and "surrogate" in surrogate.json()["detail"]
    anonymous = TestClient(app, raise_server_exceptions=False)
    page = anonymous.get("/login")
    nul_name = anonymous.post(
        "/login",
        data={"username": "th\x00eo", "password": PASSWORD, "csrf_token": csrf_of(page.text)},
    )
    assert nul_name.status_code == 401
    trail = [a.action for a in app.state.web.store.get(case_id).actions]
    assert "comment" not in trail and "assign" not in trail


def test_approving_a_block_of_hundreds_keeps_the_session_cookie_small(
    small_app: Any, tmp_path: Path
) -> None:
    """The approval's message is the next page's flash, in the session cookie:
    naming 300 entries passed the browsers' 4 KB cookie limit."""
    # Odd addresses only: no two of them merge into a wider entry.
    nets = ("198.51.100", "203.0.113", "192.0.2")
    sources = [f"{net}.{n}" for net in nets for n in range(1, 201, 2)]
    small_app.state.web.store.record(
        [case_doc(40, id="RW-20260901-sweep300", actor="campaign:sweep", sources=sources)],
        "sweep",
        900,
    )
    client = logged_in(small_app, "theo")
    response = act(client, "RW-20260901-sweep300", action="approve_block", reason="sweep")
    assert response.status_code == 303
    cookie = response.headers["set-cookie"].split(";")[0]
    assert len(cookie) < 4096
    page = client.get("/cases/RW-20260901-sweep300").text
    assert re.search(
        r'class="flash"[^>]*>block approved: 192\.0\.2\.1/32, [^<]* and 290 more', page
    )
    nft = (tmp_path / "blocks" / "RW-20260901-sweep300" / "block.nft").read_text()
    assert "203.0.113.199" in nft
    (approval,) = [
        a
        for a in small_app.state.web.store.get("RW-20260901-sweep300").actions
        if a.action == "approve_block"
    ]
    assert "203.0.113.199" in approval.detail  # the trail names every entry


def test_a_form_posted_after_the_session_ended_returns_to_its_page(small_app: Any) -> None:
    client = logged_in(small_app, "lena")
    case_id = "RW-20260901-00000003"
    token = page_csrf(client, f"/cases/{case_id}")
    small_app.state.web.store.end_sessions("lena")  # logged out elsewhere, or expired
    posted = act(client, case_id, csrf=token, action="comment", reason="typed for a while")
    assert posted.status_code == 303
    assert posted.headers["location"] == f"/login?next=%2Fcases%2F{case_id}"  # not .../actions
    # HTMX (boosted forms, the queue's filters): the whole window goes to the login page.
    hx = client.post(
        f"/cases/{case_id}/actions",
        data={"action": "comment", "reason": "x", "csrf_token": token},
        headers={"HX-Request": "true"},
        follow_redirects=False,
    )
    assert (
        hx.status_code == 200 and hx.headers["hx-redirect"] == f"/login?next=%2Fcases%2F{case_id}"
    )
    queue = client.get("/cases?status=open", headers={"HX-Request": "true"}, follow_redirects=False)
    assert queue.headers["hx-redirect"] == "/login?next=%2Fcases%3Fstatus%3Dopen"
    removal = client.post("/users/theo/remove", data={"csrf_token": token}, follow_redirects=False)
    assert removal.headers["location"] == "/login?next=%2Fusers"


def test_users_page_refuses_dot_names_and_unknown_removals(small_app: Any) -> None:
    admin = logged_in(small_app, "ada")
    dots = admin.post(
        "/users",
        data={"name": "..", "role": "l1", "password": "a long enough password",
              "csrf_token": page_csrf(admin)},
    )  # fmt: skip
    assert dots.status_code == 400 and "needs a letter or digit" in dots.text
    assert small_app.state.web.store.get_user("..") is None
    # The rule of ``users add`` (store.check_user_name), not one of the page's own.
    for name in ("\u0430da", "bob<script>", "ni\x00na"):
        refused = admin.post(
            "/users",
            data={"name": name, "role": "l1", "password": "a long enough password",
                  "csrf_token": page_csrf(admin)},
        )  # fmt: skip
        assert refused.status_code == 400 and "ASCII letters" in refused.text, name
        assert "<script>" not in refused.text
        assert small_app.state.web.store.get_user(name.replace("\x00", "")) is None
    ghost = admin.post("/users/ghost/remove", data={"csrf_token": page_csrf(admin, "/users")})
    assert ghost.status_code == 404 and "no user &#39;ghost&#39;" in ghost.text
    assert "user ghost removed" not in ghost.text


def test_the_api_documents_the_closing_dispositions(small_app: Any) -> None:
    spec = TestClient(small_app).get("/api/v1/openapi.json").json()
    described = spec["components"]["schemas"]["ActionBody"]["properties"]["disposition"]
    assert "false_positive" in described["description"]
    assert "suspicious" not in described["description"]  # a hunt's verdict, not the analyst's


def test_a_nul_refused_on_the_api_answers_the_apis_json(small_app: Any) -> None:
    """API clients read ``detail`` from every error's JSON: the NUL refusal,
    made before any route, must answer so on the API (a page a plain text)."""
    client = logged_in(small_app, "lena")
    for path in ("/api/v1/cases?assignee=a%00", "/api/v1/cases/RW%00x"):
        response = client.get(path)
        assert response.status_code == 400, path
        assert response.headers["content-type"].startswith("application/json")
        assert "NUL" in response.json()["detail"]
    page = client.get("/cases?source=1%00")
    assert page.status_code == 400 and "NUL" in page.text
