"""``reconwatch cases``: the case store from the terminal (list, show, decide)."""

from __future__ import annotations

import json
import os
from typing import Any

import click

from reconwatch.cli_console import make_console
from reconwatch.cli_errors import fail
from reconwatch.report.text import clean


@click.group()
def cases() -> None:
    """Work the case store: list, show, and record analyst decisions."""


_store_option = click.option(
    "--store",
    "store_url",
    required=True,
    help="Case store URL, e.g. sqlite:///out/today/reconwatch.db",
)


def _open_store(url: str) -> Any:
    """The existing store at ``url``: these commands never create one (a typo is an error)."""
    from reconwatch.store import CaseStore, StoreError

    try:
        return CaseStore(url, create=False)
    except StoreError as exc:  # a bad URL, a missing file or an unreachable server
        fail(str(exc))


@cases.command("list")
@_store_option
@click.option("--status", type=click.Choice(["open", "escalated", "closed"]))
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 10_000))
def cases_list(store_url: str, status: str | None, limit: int) -> None:
    """The case queue, newest activity first."""
    from rich.table import Table
    from rich.text import Text

    store = _open_store(store_url)
    try:
        rows = store.list(status=status, limit=limit)
    finally:
        store.close()
    table = Table(title=f"{len(rows)} case(s)")
    # The id is the handle for `show` and `decide`: never cut; the actor folds instead.
    table.add_column("case", no_wrap=True, min_width=max((len(r.id) for r in rows), default=4))
    table.add_column("actor", overflow="fold")
    for column in ("status", "severity", "score", "T2", "runs", "episodes", "last seen UTC"):
        table.add_column(column)
    for row in rows:
        table.add_row(
            row.id, Text(clean(row.actor, 60)), row.status, row.severity, f"{row.score:.0f}",
            "yes" if row.escalate else "no", str(row.runs), str(row.episodes),
            f"{row.last_seen:%Y-%m-%d %H:%M}",
        )  # fmt: skip
    make_console().print(table)


@cases.command("show")
@_store_option
@click.argument("case_id")
def cases_show(store_url: str, case_id: str) -> None:
    """One case as JSON: the latest hunt document, sightings and the audit trail."""
    store = _open_store(store_url)
    try:
        row = store.get(case_id)
    finally:
        store.close()
    if row is None:
        fail(f"no case {case_id!r} in {store_url}")
        return
    click.echo(
        json.dumps(
            {
                "case": row.document,
                "status": row.status,
                "analyst_disposition": row.analyst_disposition,
                "analyst_reason": row.analyst_reason,
                "assignee": row.assignee,
                "runs": row.runs,
                "episodes": row.episodes,
                "sightings": [
                    {
                        "run": s.run_id,
                        "first_seen": s.first_seen.isoformat(),
                        "last_seen": s.last_seen.isoformat(),
                        "detections": s.detections,
                    }
                    for s in row.sightings
                ],
                "actions": [
                    {"at": a.at.isoformat(), "who": a.who, "action": a.action, "detail": a.detail}
                    for a in row.actions
                ],
            },
            indent=2,
        )
    )


@cases.command("decide")
@_store_option
@click.argument("case_id")
@click.argument("action", type=click.Choice(["escalate", "close", "assign", "comment"]))
@click.option(
    "--disposition",
    type=click.Choice(
        ["benign", "false_positive", "benign_scanner", "approved_exercise", "malicious"]
    ),
)
@click.option(
    "--reason",
    default="",
    help="Why (required to escalate, close or comment); kept in the audit trail.",
)
@click.option("--assignee", help="Analyst to assign the case to (required to assign).")
@click.option("--who", default=lambda: os.environ.get("USER", "analyst"), show_default="$USER")
def cases_decide(
    store_url: str, case_id: str, action: str, disposition: str | None, reason: str,
    assignee: str | None, who: str,
) -> None:  # fmt: skip
    """Record an analyst decision on a case (hunts never overwrite it)."""
    # An option the action does not use would be dropped without a word.
    if disposition is not None and action != "close":
        fail(f"--disposition is for close, not {action}")
    if assignee is not None and action != "assign":
        fail(f"--assignee is for assign, not {action}")
    store = _open_store(store_url)
    try:
        store.decide(case_id, who, action, disposition=disposition, reason=reason,
                     assignee=assignee)  # fmt: skip
    except KeyError:
        fail(f"no case {case_id!r} in {store_url}")
    except ValueError as exc:
        fail(str(exc))
    finally:
        store.close()
    click.echo(f"{case_id}: {action} recorded")
