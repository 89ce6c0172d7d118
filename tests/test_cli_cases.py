"""``reconwatch cases`` and the hunt's ``--store``: real runs of the entry point on small stores."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from reconwatch.store import CaseStore

#: The id a store gives the actor's next case once the first was closed (27 characters).
REOPENED = "RW-20260930-d33ffe12-101010"


def reconwatch(*args: str) -> subprocess.CompletedProcess[str]:
    # COLUMNS as the reviewer had it: the id must not depend on the width anyway.
    env = {**os.environ, "COLUMNS": "250"}
    return subprocess.run(
        [sys.executable, "-m", "reconwatch.cli", *args],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )


def one_line_error(result: subprocess.CompletedProcess[str], message: str) -> None:
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stderr.startswith(f"reconwatch: error: {message}"), result.stderr
    assert result.stderr.strip().count("\n") == 0, result.stderr
    assert "Traceback" not in result.stderr


def doc(case_id: str, actor: str, **extra: Any) -> dict[str, Any]:
    return {
        "id": case_id,
        "actor": actor,
        "sources": ["198.51.100.7"],
        "first_seen": "2026-09-30T10:00:00+00:00",
        "last_seen": "2026-09-30T10:01:00+00:00",
        "severity": "low",
        "escalate": False,
        "reasons": [],
        "disposition": "suspicious",
        "detections": ["horizontal_scan"],
        "activity": {"events": 20},
        **extra,
    }


@pytest.fixture
def store(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'cases.db'}"
    opened = CaseStore(url)
    try:
        opened.record([doc("RW-20260930-aaaaaaaa", "198.51.100.7")], "r1", 900)
        opened.record(
            [doc(REOPENED, "campaign:tcp/8080@198.51.100.0/24+203.0.113.0/24")], "r1", 900
        )
    finally:
        opened.close()
    return url


def test_the_queue_never_cuts_a_case_id(store: str) -> None:
    listing = reconwatch("cases", "list", "--store", store)
    assert listing.returncode == 0, listing.stderr
    assert REOPENED in listing.stdout and "RW-20260930-aaaaaaaa" in listing.stdout
    assert "RW-20260930-d33ffe…" not in listing.stdout


def _queue(store: str, width: int) -> list[str]:
    from rich.console import Console

    from reconwatch.cli.cases import queue_table

    opened = CaseStore(store, create=False)
    try:
        rows = opened.list()
    finally:
        opened.close()
    console = Console(width=width, record=True)
    console.print(queue_table(rows, width))
    return console.export_text().splitlines()


@pytest.mark.parametrize("width", [66, 70, 80, 90, 100, 120, 160])
def test_the_queue_fits_the_terminal_and_keeps_who_which_and_when(store: str, width: int) -> None:
    """At 80 columns Rich squeezed every column of the queue to a few letters
    ("esc…", an address over three lines): the columns that do not fit are
    left out instead, the id, the actor, the status and the time never (below
    80 the actor folds shorter, down to 6 characters: 66 columns with the
    fixture's 27-character id, 59 with 20)."""
    lines = _queue(store, width)
    assert max(len(line) for line in lines) <= width
    text = "\n".join(lines)
    assert REOPENED in text and "RW-20260930-aaaaaaaa" in text
    if width >= 80:
        assert "198.51.100.7 " in text  # an IPv4 actor on one line
    actor = "".join(line.split("│")[2].strip() for line in lines if line.count("│") > 3)
    assert actor.startswith("198.51.100.7")
    assert "campaign:tcp/8080@198.51.100.0/24+203.0.113.0/24" in actor  # folded, whole
    assert text.count("open") == 2 and "09-30 10:01" in text
    assert "…" not in text


def test_the_queue_names_campaigns_by_their_sources(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cases.db'}"
    sweep = "campaign:tcp/8080@203.0.113.0/24@1790726400"
    members = ["198.51.100.131", "192.0.2.57", "192.0.2.31"]
    rotating = [f"2001:db8:ffff:9::{n:x}" for n in range(1, 41)]
    opened = CaseStore(url)
    try:
        opened.record(
            [
                doc("RW-20260930-ad5dae73", sweep, sources=members),
                doc("RW-20260930-92464578", "campaign:ipv6@2001:db8:ffff:9::/64",
                    sources=rotating),
                doc("RW-20260930-aaaaaaaa", "198.51.100.7"),
            ],
            "r1",
            900,
        )  # fmt: skip
    finally:
        opened.close()
    listing = reconwatch("cases", "list", "--store", url)
    assert listing.returncode == 0, listing.stderr
    assert "192.0.2.31 +2 more" in listing.stdout  # the first in text order
    assert "2001:db8:ffff:9::/64 (40 addresses)" in listing.stdout
    assert "1790726400" not in listing.stdout and "campaign:" not in listing.stdout
    assert "198.51.100.7" in listing.stdout


def test_actor_text_keeps_other_actors_as_they_are() -> None:
    from reconwatch.campaign_labels import actor_text

    assert actor_text("198.51.100.7", "198.51.100.7", 1) == "198.51.100.7"
    assert actor_text("campaign:tcp/22@192.0.2.0/24@0", "192.0.2.9", 1) == "192.0.2.9"
    assert actor_text("campaign:ipv6@2001:db8::/64", "2001:db8::1", 1) == (
        "2001:db8::/64 (1 address)"
    )
    # A store that lost the sources (none recorded) shows the key.
    assert actor_text("campaign:ipv6@2001:db8::/64", None, 0) == "campaign:ipv6@2001:db8::/64"
    assert actor_text("campaign:tcp/22@192.0.2.0/24@0", None, 0) == "campaign:tcp/22@192.0.2.0/24@0"


def test_the_queue_leaves_out_the_least_needed_columns_first(store: str) -> None:
    """The fixture's 27-character id and the three other columns that always
    show take 76 columns; then severity (11 more), T2 (6), score (8), the
    year (5), runs (7), episodes (11)."""
    widths = (80, 90, 105, 120, 130)
    text = {width: "\n".join(_queue(store, width)) for width in widths}
    header = {
        width: next(line for line in text[width].splitlines() if "┃ case" in line)
        for width in widths
    }
    shown = {
        width: [
            name
            for name in ("severity", "T2", "score", "runs", "episodes")
            if name in header[width]
        ]
        for width in widths
    }
    assert shown == {
        80: [],
        90: ["severity"],
        105: ["severity", "T2", "score"],
        120: ["severity", "T2", "score", "runs"],
        130: ["severity", "T2", "score", "runs", "episodes"],
    }
    assert [width for width in widths if "2026-09-30 10:01" in text[width]] == [120, 130]


@pytest.mark.parametrize(
    "command",
    [("list",), ("show", "RW-20260930-aaaaaaaa"), ("decide", "RW-20260930-aaaaaaaa", "comment")],
)
def test_case_commands_do_not_create_a_store_from_a_typo(
    tmp_path: Path, command: tuple[str, ...]
) -> None:
    typo = tmp_path / "typo.db"
    result = reconwatch("cases", command[0], "--store", f"sqlite:///{typo}", *command[1:])
    one_line_error(result, f"no case store at {typo}")
    assert not typo.exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("assign",), "assigning a case needs an assignee"),
        (("assign", "--assignee", " "), "assigning a case needs an assignee"),
        (("comment",), "a comment needs a reason"),
        (("escalate",), "escalating a case needs a reason"),
        (("close", "--reason", "ours"), "closing a case needs a disposition and a reason"),
        (
            ("escalate", "--reason", "r", "--disposition", "benign"),
            "--disposition is for close, not escalate",
        ),
        (
            ("comment", "--reason", "r", "--assignee", "bob"),
            "--assignee is for assign, not comment",
        ),
    ],
)
def test_decide_refuses_empty_decisions(store: str, args: tuple[str, ...], message: str) -> None:
    result = reconwatch("cases", "decide", "--store", store, "RW-20260930-aaaaaaaa", *args)
    one_line_error(result, message)
    shown = json.loads(reconwatch("cases", "show", "--store", store, "RW-20260930-aaaaaaaa").stdout)
    assert [a["action"] for a in shown["actions"]] == ["opened"]
    assert (shown["status"], shown["assignee"]) == ("open", None)


def test_decide_refuses_to_escalate_or_reclose_a_closed_case(store: str) -> None:
    case_id = "RW-20260930-aaaaaaaa"
    closed = reconwatch(
        "cases", "decide", "--store", store, case_id, "close",
        "--disposition", "false_positive", "--reason", "our scanner",
    )  # fmt: skip
    assert closed.returncode == 0, closed.stderr
    escalated = reconwatch(
        "cases", "decide", "--store", store, case_id, "escalate", "--reason", "looks bad"
    )
    one_line_error(
        escalated, f"case {case_id} is closed (as false_positive); it cannot be escalated"
    )
    again = reconwatch(
        "cases", "decide", "--store", store, case_id, "close",
        "--disposition", "malicious", "--reason", "second look",
    )  # fmt: skip
    one_line_error(
        again, f"case {case_id} is closed (as false_positive); it cannot be closed again"
    )
    shown = json.loads(reconwatch("cases", "show", "--store", store, case_id).stdout)
    assert (shown["status"], shown["analyst_disposition"]) == ("closed", "false_positive")
    assert [a["action"] for a in shown["actions"]] == ["opened", "close"]


def test_decide_records_a_real_assignment(store: str) -> None:
    case_id = "RW-20260930-aaaaaaaa"
    result = reconwatch("cases", "decide", "--store", store, case_id, "assign", "--assignee", "bob")
    assert result.returncode == 0, result.stderr
    shown = json.loads(reconwatch("cases", "show", "--store", store, case_id).stdout)
    assert shown["assignee"] == "bob" and shown["actions"][-1]["detail"] == "to bob"
    noted = reconwatch(
        "cases", "decide", "--store", store, case_id, "assign", "--assignee", "carol",
        "--reason", "yours",
    )  # fmt: skip
    assert noted.returncode == 0, noted.stderr
    shown = json.loads(reconwatch("cases", "show", "--store", store, case_id).stdout)
    assert shown["actions"][-1]["detail"] == "to carol: yours"  # as the web UI writes it


def test_with_web_users_a_case_goes_only_to_one_of_them(store: str) -> None:
    opened = CaseStore(store)
    try:
        opened.add_user("theo", "l1", "not-a-real-hash")
    finally:
        opened.close()
    case_id = "RW-20260930-aaaaaaaa"
    typo = reconwatch("cases", "decide", "--store", store, case_id, "assign", "--assignee", "teo")
    one_line_error(typo, "no user 'teo' to assign to")
    done = reconwatch("cases", "decide", "--store", store, case_id, "assign", "--assignee", "theo")
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("notaurl", "cannot open case store notaurl: ArgumentError: "),
        (
            "sqlite:////nonexistent/x.db",
            "cannot open case store sqlite:////nonexistent/x.db: OperationalError: ",
        ),
    ],
)
def test_hunt_with_a_bad_store_fails_before_any_work(
    tmp_path: Path, url: str, message: str
) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "kern.log").write_text("not a log line\n")
    out = tmp_path / "out"
    by_option = reconwatch("hunt", str(logs), "--out", str(out), "--store", url)
    one_line_error(by_option, message)
    config = tmp_path / "reconwatch.yaml"
    config.write_text(json.dumps({"store": {"url": url}}))
    by_config = reconwatch("hunt", str(logs), "--out", str(out), "--config", str(config))
    one_line_error(by_config, message)
    assert not out.exists()  # nothing was ingested, hunted or written


def test_hunt_creates_the_store_it_is_given(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "kern.log").write_text("not a log line\n")
    db = tmp_path / "new.db"
    result = reconwatch("hunt", str(logs), "--store", f"sqlite:///{db}")
    assert result.returncode == 0, result.stderr
    assert db.is_file()
    listing = reconwatch("cases", "list", "--store", f"sqlite:///{db}")
    assert listing.returncode == 0 and "0 case(s)" in listing.stdout
