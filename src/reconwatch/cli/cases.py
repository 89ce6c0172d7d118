"""``reconwatch cases``: the case store from the terminal (list, show, decide)."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from typing import Any, Final

import click

from reconwatch.campaign_labels import actor_text
from reconwatch.cli_console import COLUMN_FRAME, make_console
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
    store = _open_store(store_url)
    try:
        rows = store.list(status=status, limit=limit)
        summary = store.source_summary([row.id for row in rows])
    finally:
        store.close()
    console = make_console()
    console.print(queue_table(rows, console.width, summary))


#: The narrowest an actor gets (an IPv4 address whole; a campaign or IPv6
#: label folds below it); ``COLUMN_FRAME``: what each column adds.
ACTOR_WIDTH: Final = 16
NARROWEST_ACTOR: Final = 6
FULL_TIME: Final = "%Y-%m-%d %H:%M"
SHORT_TIME: Final = "%m-%d %H:%M"
#: The queue's columns in their order; the id (whole: the handle of ``show``
#: and ``decide``), the actor, the status and the time always show.
_QUEUE: Final = (
    "case", "actor", "status", "severity", "score", "T2", "runs", "episodes", "last seen",
)  # fmt: skip
#: The others, with their widths, in the order they come while they fit (at
#: 80 columns the severity; the rest from about 100); None: the time's year.
_BY_NEED: Final = (
    ("severity", 8), ("T2", 3), ("score", 5), ("year", None), ("runs", 4), ("episodes", 8),
)  # fmt: skip


def queue_table(
    rows: Sequence[Any], width: int, sources: Mapping[str, tuple[str, int]] | None = None
) -> Any:
    """The queue as a Rich table no wider than ``width``: the columns that do
    not fit beside the id, the actor, the status and the time are left out,
    the least needed first (at 80 columns a Rich table squeezed every column
    to a few letters: "esc…", an address over three lines). ``sources``:
    ``CaseStore.source_summary`` of the rows, for campaigns' actors
    (``actor_text``: "192.0.2.31 +5 more" rather than the key)."""
    from rich.table import Table
    from rich.text import Text

    from reconwatch.store import utc

    widths = {
        "case": max((len(r.id) for r in rows), default=len("case")),
        "actor": ACTOR_WIDTH,
        "status": len("escalated"),
        "last seen": len("09-30 10:12"),
    }
    used = 1 + sum(COLUMN_FRAME + w for w in widths.values())
    # Narrower still (below 69 columns for 20-character ids): the actor folds
    # shorter, down to NARROWEST_ACTOR; below that Rich squeezes the table.
    widths["actor"] = max(NARROWEST_ACTOR, ACTOR_WIDTH - max(used - width, 0))
    used -= ACTOR_WIDTH - widths["actor"]
    stamp = SHORT_TIME
    for name, least in _BY_NEED:
        cost = len("2026-") if least is None else COLUMN_FRAME + least
        if used + cost > width:
            break
        used += cost
        if least is None:
            stamp = FULL_TIME
            widths["last seen"] += cost
        else:
            widths[name] = least
    table = Table(title=f"{len(rows)} case(s) (times in UTC)")
    for name in _QUEUE:
        if name == "actor":
            table.add_column(name, overflow="fold", min_width=widths[name])
        elif name in widths:
            table.add_column(name, no_wrap=True, min_width=widths[name])
    for row in rows:
        cells = {
            "case": row.id, "actor": Text(clean(_actor(row, sources or {}), 60)),
            "status": row.status,
            "severity": row.severity, "score": f"{row.score:.0f}",
            "T2": "yes" if row.escalate else "no", "runs": str(row.runs),
            "episodes": str(row.episodes), "last seen": f"{utc(row.last_seen):{stamp}}",
        }  # fmt: skip
        table.add_row(*(cells[name] for name in _QUEUE if name in widths))
    return table


def _actor(row: Any, sources: Mapping[str, tuple[str, int]]) -> str:
    first, count = sources.get(row.id, (None, 0))
    return actor_text(row.actor, first, count)


@cases.command("show")
@_store_option
@click.argument("case_id")
def cases_show(store_url: str, case_id: str) -> None:
    """One case as JSON: the latest hunt document, sightings and the audit trail."""
    from reconwatch.store import utc

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
                        "first_seen": utc(s.first_seen).isoformat(),
                        "last_seen": utc(s.last_seen).isoformat(),
                        "detections": s.detections,
                    }
                    for s in row.sightings
                ],
                "actions": [
                    {
                        "at": utc(a.at).isoformat(),
                        "who": a.who,
                        "action": a.action,
                        "detail": a.detail,
                    }
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
