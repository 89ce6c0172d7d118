"""``reconwatch block``: applying, extending and removing block rules (nftables), audited."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from reconwatch.cli.common import config_option
from reconwatch.cli_errors import config_from, fail
from reconwatch.report.text import clean

if TYPE_CHECKING:
    from reconwatch.config import Config

F = TypeVar("F", bound=Callable[..., Any])

_netns_option = click.option(
    "--netns", help="Run nft inside this network namespace (ip netns exec NS)."
)
_table_option = click.option(
    "--table", help="nft table (default: respond.nft_table from the config)."
)
_audit_option = click.option(
    "--audit",
    "audit_path",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Audit log (JSON lines); default: respond.audit_log from the config.",
)
_why_option = click.option("--why", default="", help="Why; recorded in the audit log.")
_who_option = click.option("--who", help="Who; default: the OS user (the sudo invoker).")


def _changing_options(command: F) -> F:
    """The options of every command that changes live rules: config, nft table,
    namespace, and the audit trail (where, why, who)."""
    for option in reversed(
        (config_option, _table_option, _netns_option, _audit_option, _why_option, _who_option)
    ):
        command = option(command)
    return command


@click.group()
def block() -> None:
    """List, apply, extend and remove live nftables blocks (root).

    Every change is written to the audit log. ``apply`` changes the live
    ruleset only with --yes (or after a confirmation prompt).
    """


def _block_settings(
    config_path: Path | None, table: str | None, audit_path: Path | None
) -> tuple[Config, str, Path | None]:
    config = config_from(config_path)
    audit = audit_path or getattr(config.respond, "audit_log", None)
    return config, table or config.respond.nft_table, audit


def _respond_call(action: Callable[[], Any]) -> Any:
    from reconwatch.respond.apply import NftError

    try:
        return action()
    except (NftError, LookupError, ValueError, OSError) as exc:
        fail(str(exc))


@block.command("list")
@config_option
@_table_option
@_netns_option
@click.option("--json", "as_json", is_flag=True, help="JSON on stdout.")
def block_list(
    config_path: Path | None, table: str | None, netns: str | None, as_json: bool
) -> None:
    """The live blocks with their remaining time."""
    from reconwatch.respond.apply import list_blocks

    _, table_name, _ = _block_settings(config_path, table, None)
    blocks = _respond_call(lambda: list_blocks(table_name, netns))
    if as_json:
        rows = [
            {
                "network": str(b.network),
                "timeout_seconds": b.timeout_seconds,
                "expires_seconds": b.expires_seconds,
                "comment": b.comment,
            }
            for b in blocks
        ]
        click.echo(json.dumps(rows, indent=2))
        return
    for b in blocks:
        click.echo(f"{b.network!s:45} {b.expires_seconds:>9}s left  {clean(b.comment, 128)}")
    click.echo(f"{len(blocks)} blocks in table inet {table_name}")


@block.command("apply")
@click.option(
    "--cases",
    "cases_path",
    required=True,
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    help="cases.json written by a hunt.",
)
@click.option(
    "--case",
    "case_ids",
    multiple=True,
    help="Only these case ids (repeatable): their blocks are ADDED to the live ones, "
    "which stay as they are.",
)
@click.option(
    "--store",
    "store_url",
    help="Case store whose analyst decisions since the hunt count (default: store.url, "
    "else the hunt's reconwatch.db next to --cases when there is one).",
)
@_changing_options
@click.option("--yes", is_flag=True, help="Apply without asking (scripts).")
@click.option("--dry-run", is_flag=True, help="Print the ruleset; change nothing.")
def block_apply(
    cases_path: Path,
    case_ids: tuple[str, ...],
    store_url: str | None,
    config_path: Path | None,
    table: str | None,
    netns: str | None,
    audit_path: Path | None,
    why: str,
    who: str | None,
    yes: bool,
    dry_run: bool,
) -> None:
    """Load the blocks of a hunt's cases into the live nftables ruleset.

    Without --case the live table becomes the plan of every blockable case
    (blocks not in it are lifted). With --case the selected cases' blocks are
    added to the live table: every other live block keeps its expiry.

    Nothing the hunt refused is ever planned: each case's recorded
    containment is honoured (refusals, planned entries), and the sources are
    checked again against the protections of --config (site ranges, approved
    exercise sources, benign-scanner lists).
    """
    from reconwatch.export.document import CasesDocumentError, check_block_document
    from reconwatch.respond.apply import (
        add_nftables,
        apply_nftables,
        missing_case_ids,
        plan_from_cases_document,
    )

    config, table_name, audit = _block_settings(config_path, table, audit_path)
    try:
        document = json.loads(cases_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        fail(f"{cases_path}: {exc}")
    try:
        # Each part planning reads has its type: a hand edit fails here, in one line.
        document = check_block_document(document, str(cases_path))
    except CasesDocumentError as exc:
        fail(str(exc))
    missing = missing_case_ids(document, case_ids)
    if missing:
        fail(f"{cases_path} has no case {', '.join(missing)}; nothing applied")
    document, decisions, approved = _analyst_decisions(
        document, store_url or config.store.url, cases_path
    )
    plan = _respond_call(
        lambda: plan_from_cases_document(document, config, case_ids=case_ids, approved=approved)
    )
    adding = bool(case_ids)

    def run(dry: bool) -> Any:
        change = add_nftables if adding else apply_nftables
        return _respond_call(
            lambda: change(
                plan,
                table_name,
                netns=netns,
                dry_run=dry,
                audit=None if dry else audit,
                who=who,
                why=why or f"reconwatch block apply --cases {cases_path}",
            )
        )

    preview = run(True)
    where = f"table inet {table_name}" + (f" in netns {netns}" if netns else "")
    click.echo(
        f"{len(plan.entries)} entries for {len(preview.cases)} cases, "
        f"{len(plan.refused)} refused, "
        + (f"added to {where} (other live blocks kept)" if adding else f"into {where}")
    )
    for refusal in plan.refused:
        click.echo(
            f"refused {clean(refusal.address, 64)} (case {clean(refusal.case_id, 64)}): "
            f"{clean(refusal.why, 200)}"
        )
    for decision in decisions:
        click.echo(clean(decision, 300))
    for cid in case_ids:
        _explain_unblockable(document, cid, config, approved)
    for note in preview.notes:
        click.echo(clean(note, 300))
    if adding and not preview.ruleset:
        click.echo(f"nothing to add to {where}")
        return
    if dry_run:
        click.echo(preview.ruleset)
        return
    question = "Add these blocks to" if adding else "Apply these blocks to"
    if not yes and not click.confirm(f"{question} the live ruleset?", default=False):
        fail("not applied (answer yes, or pass --yes)")
    done = run(False)
    click.echo(f"added {len(done.entries)} entries" if adding else "applied")


def _analyst_decisions(
    document: dict[str, Any], store_url: str | None, cases_path: Path
) -> tuple[dict[str, Any], list[str], set[str]]:
    """``document`` with the dispositions of cases closed in the store since the
    hunt, lines saying so, and the open cases an analyst approved a block for
    (in the web UI: the approval stands for the disposition).

    The store is ``store_url``, else the hunt's default ``reconwatch.db`` next
    to the cases file when it exists; with neither, the document is used as
    it is, and a line says the decisions were not checked.
    """
    from reconwatch.respond.apply import with_analyst_decisions
    from reconwatch.store import CLOSED, CaseStore, StoreError

    if store_url is None:
        beside = cases_path.parent / "reconwatch.db"
        if not beside.is_file():
            unchecked = (
                "no case store given or beside the cases file: analysts' decisions since "
                "the hunt were not checked (--store URL)"
            )
            return document, [unchecked], set()
        store_url = f"sqlite:///{beside.resolve()}"
    try:
        store = CaseStore(store_url, create=False)
    except StoreError as exc:
        fail(str(exc))
    try:
        decided: dict[str, tuple[str, str | None]] = {}
        approved: dict[str, str] = {}
        cases = document.get("cases", [])
        known = store.get_many([case["id"] for case in cases])
        for case in cases:
            stored = known.get(case["id"])
            if stored is None:
                continue
            if stored.status == CLOSED:
                if stored.analyst_disposition:
                    decided[case["id"]] = (stored.analyst_disposition, stored.analyst_reason)
                continue
            approvals = [a.who for a in stored.actions if a.action == "approve_block"]
            if approvals:
                approved[case["id"]] = approvals[-1]
    finally:
        store.close()
    document, notes = with_analyst_decisions(document, decided)
    notes += [f"{cid}: block approved in the case store by {who}" for cid, who in approved.items()]
    return document, notes, set(approved)


def _explain_unblockable(
    document: dict[str, Any], case_id: str, config: Config, approved: set[str]
) -> None:
    """One line when a selected case gives no block requests at all, saying why."""
    from reconwatch.respond.apply import why_not_blocked

    for case in document.get("cases", []):
        if isinstance(case, dict) and case.get("id") == case_id:
            why = why_not_blocked(case, config, approved=case_id in approved)
            if why is not None:
                click.echo(f"case {clean(case_id, 64)} is not blocked: {clean(why, 200)}")
            return


@block.command("extend")
@click.argument("address")
@click.argument("seconds", type=click.IntRange(1, 365 * 86400))
@_changing_options
@click.option("--case", "case_ids", multiple=True, help="Case ids this is for (audit).")
def block_extend(
    address: str,
    seconds: int,
    config_path: Path | None,
    table: str | None,
    netns: str | None,
    audit_path: Path | None,
    why: str,
    who: str | None,
    case_ids: tuple[str, ...],
) -> None:
    """Add SECONDS to the live block holding ADDRESS."""
    from reconwatch.respond.apply import config_protected_sources, extend_block
    from reconwatch.respond.protect import ProtectedRanges

    config, table_name, audit = _block_settings(config_path, table, audit_path)
    # What a hunt with this config protects: the site, its proxies, exercise sources,
    # benign scanners.
    protected = _respond_call(
        lambda: ProtectedRanges.from_config(
            config, extra=config_protected_sources(config, [address])
        )
    )
    block_ = _respond_call(
        lambda: extend_block(
            address,
            seconds,
            table_name,
            netns=netns,
            protected=protected,
            audit=audit,
            who=who,
            why=why,
            cases=case_ids,
        )
    )
    click.echo(f"{block_.network} now ends in {block_.timeout_seconds}s")


@block.command("remove")
@click.argument("address")
@_changing_options
@click.option("--case", "case_ids", multiple=True, help="Case ids this is for (audit).")
def block_remove(
    address: str,
    config_path: Path | None,
    table: str | None,
    netns: str | None,
    audit_path: Path | None,
    why: str,
    who: str | None,
    case_ids: tuple[str, ...],
) -> None:
    """Remove the live block holding ADDRESS (the whole element)."""
    from reconwatch.respond.apply import remove_block

    _, table_name, audit = _block_settings(config_path, table, audit_path)
    removed = _respond_call(
        lambda: remove_block(
            address, table_name, netns=netns, audit=audit, who=who, why=why, cases=case_ids
        )
    )
    click.echo(f"removed {removed.network}")


@block.command("unblock")
@_changing_options
@click.option("--yes", is_flag=True, help="Unblock without asking.")
def block_unblock(
    config_path: Path | None,
    table: str | None,
    netns: str | None,
    audit_path: Path | None,
    why: str,
    who: str | None,
    yes: bool,
) -> None:
    """Delete the whole reconwatch table: every block ends now."""
    from reconwatch.respond.apply import unblock_all

    _, table_name, audit = _block_settings(config_path, table, audit_path)
    if not yes and not click.confirm(f"Delete table inet {table_name}?", default=False):
        fail("nothing changed (answer yes, or pass --yes)")
    held = _respond_call(
        lambda: unblock_all(table_name, netns=netns, audit=audit, who=who, why=why)
    )
    click.echo(f"unblocked {len(held)} entries")
