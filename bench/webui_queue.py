"""Time the web UI's queue page over a big case store (ms per page).

Fills a fresh SQLite store with N cases (default 10,000) through
``CaseStore.record``, logs in through the real login form, then requests
queue pages (HTML and API) with different filters, sorts and offsets and
prints the median and worst time of ``--repeat`` requests each. The whole
request is timed: filtering, counting and paging in SQL, rendering, the
session check.

    .venv/bin/python bench/webui_queue.py
    .venv/bin/python bench/webui_queue.py --cases 50000 --repeat 20

Not a test: figures go to docs/webui.md with the command that produced them.
"""

from __future__ import annotations

import argparse
import datetime as dt
import re
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from argon2 import PasswordHasher
from fastapi.testclient import TestClient

from reconwatch.store import CaseStore
from reconwatch.web.app import create_app
from reconwatch.web.auth import hash_password

PASSWORD = "benchmark password"
VIEWS: list[tuple[str, str, dict[str, Any]]] = [
    ("default (last seen)", "/cases", {}),
    ("severity=high", "/cases", {"severity": "high"}),
    ("escalated, by score", "/cases", {"status": "escalated", "sort": "score"}),
    ("by severity, page 100", "/cases", {"sort": "severity", "page": 100}),
    ("source prefix", "/cases", {"source": "198.51.7."}),
    ("last seen window", "/cases", {"seen_after": "2026-09-03T00:00", "seen_before": "2026-09-04"}),
    ("API 200/page, malicious", "/api/v1/cases", {"disposition": "malicious", "per_page": 200}),
]


def doc(n: int) -> dict[str, Any]:
    last = dt.datetime(2026, 9, 1, tzinfo=dt.UTC) + dt.timedelta(minutes=n)
    source = f"198.51.{(n // 250) % 256}.{n % 250 + 1}"
    escalate = n % 3 == 0
    return {
        "id": f"RW-20260901-{n:08x}",
        "actor": source,
        "sources": [source],
        "first_seen": (last - dt.timedelta(minutes=5)).isoformat(),
        "last_seen": last.isoformat(),
        "severity": ("low", "medium", "high", "critical")[n % 4],
        "score": float(n % 100),
        "escalate": escalate,
        "reasons": ["Repeated scanning"] if escalate else [],
        "disposition": ("malicious", "suspicious", "benign_scanner")[n % 3],
        "detections": ["vertical_scan"],
        "activity": {"events": 20},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=10)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        store = CaseStore(url)
        started = time.perf_counter()
        store.record([doc(n) for n in range(args.cases)], "bench", 900)
        fill = time.perf_counter() - started
        fast = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1)
        store.add_user("bench", "l1", hash_password(PASSWORD, fast))
        store.close()
        app = create_app(url, secret_key="b" * 40)
        client = TestClient(app)
        token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text)
        assert token
        client.post(
            "/login", data={"username": "bench", "password": PASSWORD, "csrf_token": token.group(1)}
        )
        print(f"# {args.cases:,} cases stored in {fill:.1f} s; {args.repeat} requests per view")
        print(f"{'view':28} {'median ms':>10} {'max ms':>8} {'rows':>6}")
        for name, path, params in VIEWS:
            times = []
            for _ in range(args.repeat):
                t0 = time.perf_counter()
                response = client.get(path, params=params)
                times.append((time.perf_counter() - t0) * 1000)
                assert response.status_code == 200, (name, response.status_code)
            if path.startswith("/api"):
                rows = len(response.json()["cases"])
            else:
                rows = response.text.count('data-testid="case-link"')
            print(f"{name:28} {statistics.median(times):10.1f} {max(times):8.1f} {rows:6}")
        app.state.web.store.close()


if __name__ == "__main__":
    main()
