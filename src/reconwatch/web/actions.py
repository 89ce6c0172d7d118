"""What an analyst may do to a case, by role, and doing it (shared by the pages and the API).

Every action lands in the case's audit trail (the store's ``actions`` table)
with who, when and why. Approving a block writes rule files for the case's
sources through the same safe planner a hunt uses (protected ranges are
refused whatever the case says); loading them into a live firewall stays a
CLI action (``reconwatch block apply``), done by someone with root.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reconwatch.config import Config
from reconwatch.respond.apply import plan_from_cases_document
from reconwatch.respond.blocklist import BlockPlan
from reconwatch.respond.containment import write_rules
from reconwatch.respond.nftables import render_nftables
from reconwatch.store import CLOSED, CaseStore
from reconwatch.store.models import StoredCase

ACTIONS = ("escalate", "close", "assign", "comment", "approve_block")
#: What an L1 analyst may conclude alone; a malicious verdict is Tier 2's.
L1_DISPOSITIONS = ("benign", "false_positive", "approved_exercise")
ALL_DISPOSITIONS = (*L1_DISPOSITIONS, "benign_scanner", "malicious")
BLOCK_ROLES = ("t2", "admin")
MAX_REASON = 2000
#: Block entries named in the message an approval answers (the trail has them all).
ENTRIES_NAMED = 10
# Case ids become directory names for the approved rule files.
_SAFE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")


class ActionError(Exception):
    """An action refused; ``status`` is the HTTP status that says why."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class ActionRequest:
    action: str
    reason: str = ""
    disposition: str | None = None
    assignee: str | None = None


def _storable(value: str) -> bool:
    """Text the store can keep: PostgreSQL takes no NUL, and no database takes a
    lone surrogate (valid in a JSON string, not encodable as UTF-8); either
    would end in a server error at the query."""
    if "\x00" in value:
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def allowed_dispositions(role: str) -> tuple[str, ...]:
    return ALL_DISPOSITIONS if role in BLOCK_ROLES else L1_DISPOSITIONS


def can_approve_block(role: str) -> bool:
    return role in BLOCK_ROLES


def perform(
    store: CaseStore,
    config: Config,
    blocks_dir: Path,
    who: str,
    role: str,
    case_id: str,
    request: ActionRequest,
) -> str:
    """Check and record one action; return a short message for the analyst."""
    if not all(_storable(value or "") for value in (request.reason, request.assignee)):
        raise ActionError(
            400, "a reason or user name cannot hold a NUL character or a lone UTF-16 surrogate"
        )
    # A browser sends a textarea's line breaks as CRLF, two characters each,
    # where its maxlength counted one: the same text either way, kept with LF.
    reason = request.reason.replace("\r\n", "\n").strip()
    if len(reason) > MAX_REASON:
        raise ActionError(400, f"the reason is longer than {MAX_REASON} characters")
    if request.action not in ACTIONS:
        raise ActionError(400, f"unknown action {request.action!r}")
    # Role first: a forbidden action says so whatever else is wrong with it.
    if request.action == "approve_block" and not can_approve_block(role):
        raise ActionError(403, "approving a block needs the t2 or admin role")
    if request.action == "close" and request.disposition not in allowed_dispositions(role):
        if request.disposition in ALL_DISPOSITIONS:
            raise ActionError(403, f"closing as {request.disposition} needs the t2 or admin role")
        raise ActionError(400, "closing needs a disposition: " + ", ".join(ALL_DISPOSITIONS))
    case = store.get(case_id)
    if case is None:
        raise ActionError(404, f"no case {case_id!r}")
    if request.action in ("escalate", "close", "approve_block") and case.status == CLOSED:
        raise ActionError(409, f"case {case_id} is closed")
    if request.action in ("escalate", "close", "comment", "approve_block") and not reason:
        raise ActionError(400, f"{request.action.replace('_', ' ')} needs a reason")
    if request.action == "approve_block":
        return _approve_block(store, config, blocks_dir, who, case, reason)
    if request.action == "assign":
        assignee = (request.assignee or "").strip()
        if store.get_user(assignee) is None:
            raise ActionError(400, f"no user {assignee!r} to assign to")
        _decide(store, case.id, who, "assign", reason=reason, assignee=assignee)
        return f"assigned to {assignee}"
    _decide(store, case.id, who, request.action, disposition=request.disposition, reason=reason)
    return {"escalate": "escalated to Tier 2", "close": "closed", "comment": "comment added"}[
        request.action
    ]


def _decide(store: CaseStore, case_id: str, who: str, action: str, **details: Any) -> None:
    """``store.decide``; the store's own refusal (say, the case was closed meanwhile
    by someone else) is a conflict, not a server error."""
    try:
        store.decide(case_id, who, action, **details)
    except ValueError as exc:
        raise ActionError(409, str(exc)) from exc


def block_plan(case: StoredCase, config: Config) -> BlockPlan:
    """The block plan for one case's sources, as approving it would write it.

    Unlike a hunt, the analyst's approval stands for the disposition: the
    plan is built whatever the hunt's verdict was. Everything else holds
    (``plan_from_cases_document``): what the hunt refused stays refused and
    what it blocked is not widened, whatever this server's config says (it
    may run without the hunt's); an internal case is never blocked; the
    config's protected ranges, known benign scanners among the sources (the
    case's and the config's warninglists), approved-exercise sources and the
    rule budget apply. Raises ``ValueError`` when what is protected cannot be
    read (a broken exercises or warninglist file): nothing is blocked on a
    guess.
    """
    doc: dict[str, Any] = {
        **dict(case.document),
        "id": case.id,
        "severity": case.severity,
        "sources": [s.source_ip for s in case.sources],
    }
    return plan_from_cases_document(
        {"cases": [doc]}, config, case_ids=[case.id], approved=[case.id]
    )


def proposed_rules(case: StoredCase, config: Config) -> tuple[BlockPlan, str]:
    """The plan and its nftables text, for the case page (nothing is written)."""
    plan = block_plan(case, config)
    return plan, render_nftables(plan, config.respond.nft_table)


def _approve_block(
    store: CaseStore, config: Config, blocks_dir: Path, who: str, case: StoredCase, reason: str
) -> str:
    if not _SAFE_ID.match(case.id):
        raise ActionError(400, "this case id cannot name a directory of rule files")
    try:
        plan = block_plan(case, config)
    except ValueError as exc:
        raise ActionError(409, f"cannot plan blocks: {exc}") from exc
    refused = "; ".join(f"{r.address}: {r.why}" for r in plan.refused)
    if not plan.entries:
        store.add_action(
            case.id, who, "block_refused", f"{reason} | nothing to block: {refused or 'no sources'}"
        )
        raise ActionError(409, "nothing to block: " + (refused or "the case has no sources"))
    out = blocks_dir / case.id
    try:
        out.mkdir(parents=True, exist_ok=True)
        files = write_rules(plan, out, config)
    except OSError as exc:
        # A folder the server cannot write (permissions, a full disk): the
        # analyst's page says so, and no approval is recorded for rules that
        # do not exist.
        why = exc.strerror or type(exc).__name__
        raise ActionError(500, f"cannot write the rule files under {blocks_dir}: {why}") from exc
    entries = ", ".join(str(e.network) for e in plan.entries)
    detail = f"{reason} | blocks {entries} for {plan.entries[0].timeout_seconds}s"
    if refused:
        detail += f" | refused {refused}"
    detail += (
        f" | rules in {files.nftables.parent} (add to the live blocks with reconwatch block "
        f"apply --cases HUNT/cases.json --case {case.id}; nft -f block.nft replaces them all)"
    )
    store.add_action(case.id, who, "approve_block", detail)
    # The message is the next page's flash, kept in the session cookie: a
    # sweep of hundreds of sources would pass the browsers' 4 KB cookie limit
    # and the cookie (and the message) be dropped.
    named = ", ".join(str(e.network) for e in plan.entries[:ENTRIES_NAMED])
    more = len(plan.entries) - ENTRIES_NAMED
    if more > 0:
        named += f" and {more} more (all in the audit trail)"
    return f"block approved: {named}; rules written to {files.nftables}"
