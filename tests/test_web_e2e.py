"""The web UI in a real browser (Debian's chromium via Playwright) against a real server.

The server is uvicorn in a thread on a free loopback port, over a case store
filled by a real hunt of generated logs plus one case whose text is hostile.
Screenshots go to test-artifacts/ at the repository root (gitignored).
"""

from __future__ import annotations

import re
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from argon2 import PasswordHasher
from playwright.sync_api import Browser, Page, expect, sync_playwright

from reconwatch.cli import SAMPLE_DIRS
from reconwatch.config import load_config
from reconwatch.generate import ALL_FAMILIES, generate_sample, min_sample_size
from reconwatch.hunt import hunt
from reconwatch.store import CaseStore
from reconwatch.web.app import create_app
from reconwatch.web.auth import hash_password

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = "/usr/bin/chromium"
FAST = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1)
PASSWORD = "correct horse battery staple"
EVIL_ID = "RW-20260901-evil0002"
XSS = "<script>alert(1)</script>"
IMG = '"><img src=x onerror=alert(1)>'
ANSI = "\x1b[31mRED\x1b[0m"
BAD = b"\xff\xfe-bad".decode("utf-8", errors="replace")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def hostile_case() -> dict[str, Any]:
    evil = f"{XSS} {IMG} {ANSI} {BAD} " + "L" * 20_000
    return {
        "id": EVIL_ID,
        "actor": f"203.0.113.66 {IMG}",
        "sources": ["203.0.113.66"],
        "first_seen": "2026-09-01T00:00:00+00:00",
        "last_seen": "2026-09-01T00:05:00+00:00",
        "severity": "high",
        "score": 70.0,
        "escalate": True,
        "reasons": [evil],
        "disposition": "malicious",
        "detections": ["dns_bruteforce"],
        "answers": {"Are there unusual patterns of access to public-facing resources?": evil},
        "criteria": {"compromise": {"met": True, "evidence": [evil]}},
        "findings": [
            {
                "detection": "dns_bruteforce",
                "description": evil,
                "targets": [f"{XSS}.example.com", f"{IMG}.example.org", f"{BAD}.example.net"],
                "evidence": [
                    {
                        "file": f"/var/log/{XSS}.log",
                        "line": 3,
                        "timestamp": "2026-09-01T00:00:00Z",
                        "destination_ip": IMG,
                        "destination_port": 53,
                        "table": "dns",
                        "detail": f"GET /{XSS} UA {IMG} {ANSI}",
                    }
                ],
            }
        ],
        "activity": {"events": 1, "auth_users": [XSS], "exposed": [IMG], "exposed_count": 1},
        "enrichment": {"203.0.113.66": {"intel": [{"feed": XSS, "note": IMG}]}},
        "series": {
            "bucket_seconds": 60,
            "timeline": [{"t": "2026-09-01T00:00:00Z", "dataset": XSS, "events": 2}],
            "heatmap": {"hosts": [IMG], "ports": [53], "counts": [[2]]},
            "dns": [{"client": XSS, "t": "2026-09-01T00:00:00Z", "queries": 2, "nxdomain": 1}],
        },
    }


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, CaseStore, Path]]:
    root = tmp_path_factory.mktemp("e2e")
    generate_sample(
        root / "sample", size=min_sample_size(ALL_FAMILIES) + 500, seed=5, families=ALL_FAMILIES
    )
    config = load_config(root / "sample" / "reconwatch.yaml")
    url = f"sqlite:///{root / 'cases.db'}"
    hunt(
        [str(root / "sample" / d) for d in SAMPLE_DIRS], config, out_dir=root / "out", store_url=url
    )
    app = create_app(url, config, blocks_dir=root / "blocks")
    store: CaseStore = app.state.web.store
    store.record([hostile_case()], "evil", 900)
    store.add_user("theo", "t2", hash_password(PASSWORD, FAST))
    port = free_port()
    uv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=uv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not uv.started:
        assert time.monotonic() < deadline, "server did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}", store, root / "blocks"
    finally:
        uv.should_exit = True
        thread.join(timeout=10)


@pytest.fixture(scope="module")
def debian_chromium() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM)
        try:
            yield launched
        finally:
            launched.close()


class Watch:
    """What the page did that it must not: dialogs (alert), CSP violations, page errors."""

    def __init__(self, page: Page) -> None:
        self.dialogs: list[str] = []
        self.csp: list[str] = []
        self.errors: list[str] = []
        page.on("dialog", self._dialog)
        page.on("console", self._console)
        page.on("pageerror", lambda exc: self.errors.append(str(exc)))

    def _dialog(self, dialog: Any) -> None:
        self.dialogs.append(dialog.message)
        dialog.dismiss()

    def _console(self, message: Any) -> None:
        if "Content Security Policy" in message.text:
            self.csp.append(message.text)


def shot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"webui-{name}.png"), full_page=True)


def test_analyst_works_a_case_in_the_browser(
    server: tuple[str, CaseStore, Path], debian_chromium: Browser
) -> None:
    base, store, blocks = server
    context = debian_chromium.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    watch = Watch(page)
    posts: list[dict[str, str]] = []
    page.on("request", lambda r: posts.append(r.headers) if r.method == "POST" else None)

    # Log in (the queue asks for it first).
    page.goto(f"{base}/cases")
    expect(page).to_have_url(f"{base}/login?next=%2Fcases")
    page.fill("input[name=username]", "theo")
    page.fill("input[name=password]", PASSWORD)
    page.click("button:has-text('Log in')")
    expect(page.get_by_test_id("whoami")).to_have_text("theo (t2)")
    total = store.count()
    expect(page.get_by_test_id("total")).to_contain_text(f"{total} case(s)")
    shot(page, "1-queue")

    # Filter the queue (HTMX swaps the table and pushes the URL).
    page.select_option("select[name=status]", "open")
    expect(page).to_have_url(re.compile(r"/cases\?status=open&"))
    open_cases = store.count(status="open")
    expect(page.get_by_test_id("total")).to_contain_text(f"{open_cases} case(s)")

    # Open an external IPv4 actor's case, not yet escalated, from the queue.
    case = next(
        c
        for c in store.list(status="open", limit=200)
        if not c.document.get("internal") and ":" not in c.actor
    )
    page.click(f"a[href='/cases/{case.id}']")
    expect(page.get_by_test_id("case-id")).to_have_text(case.id)
    expect(page.get_by_test_id("status")).to_have_text("open")
    expect(page.locator("svg.rw-chart").first).to_be_visible()
    shot(page, "2-case")

    # Escalate it to Tier 2.
    page.fill("[data-testid=form-escalate] input[name=reason]", "same actor as last week")
    page.click("[data-testid=form-escalate] button")
    expect(page.get_by_test_id("status")).to_have_text("escalated")
    expect(page.get_by_test_id("trail")).to_contain_text("same actor as last week")

    # Approve a block: rule files are written for review.
    page.fill("[data-testid=form-block] input[name=reason]", "confirmed hostile")
    page.click("[data-testid=form-block] button")
    expect(page.locator(".flash")).to_contain_text("block approved")
    expect(page.get_by_test_id("trail")).to_contain_text("confirmed hostile | blocks")
    shot(page, "3-approved")
    nft = (blocks / case.id / "block.nft").read_text()
    assert case.document["sources"][0] in nft
    stored = store.get(case.id)
    assert stored is not None
    assert [a.action for a in stored.actions][-2:] == ["escalate", "approve_block"]
    assert {a.who for a in stored.actions[-2:]} == {"theo"}
    # The actions went through HTMX, which sent the CSRF header from hx-headers.
    assert any("x-csrf-token" in h for h in posts)

    # The hostile case renders inert: no dialog, no injected element, text shown as text.
    page.goto(f"{base}/cases/{EVIL_ID}")
    expect(page.get_by_test_id("case-id")).to_have_text(EVIL_ID)
    expect(page.get_by_test_id("dns-names")).to_contain_text(f"{XSS}.example.com")
    assert page.locator("main img").count() == 0
    assert page.locator("main script").count() == 0
    assert page.evaluate("() => window.__xss === undefined")
    expect(page.get_by_test_id("answers")).to_contain_text(XSS)
    shot(page, "4-hostile")
    page.goto(f"{base}/cases?source=203.0.113.66")
    expect(page.locator("[data-testid=case-link]")).to_have_text([EVIL_ID])

    # Log out: the queue asks for a login again.
    page.click("[data-testid=logout]")
    expect(page).to_have_url(f"{base}/login")
    page.goto(f"{base}/cases")
    expect(page).to_have_url(f"{base}/login?next=%2Fcases")
    shot(page, "5-logged-out")

    assert watch.dialogs == []
    assert watch.errors == []
    assert watch.csp == []
    context.close()
