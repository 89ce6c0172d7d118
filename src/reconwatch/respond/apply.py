"""Live nftables containment: apply a plan, list, extend and remove blocks.

This is the only module of reconwatch that changes a live firewall, so:

* nothing happens unless the caller says so: :func:`apply_nftables` is a dry
  run by default (it returns the ruleset and the command it *would* run);
* the ruleset is the one :func:`reconwatch.respond.nftables.render_nftables`
  writes (it replaces ``table inet NAME`` and nothing else, atomically, and
  every element has a timeout), passed to ``nft -f -`` on stdin;
* every command is an argv list (never a shell); addresses given to
  :func:`extend_block` / :func:`remove_block` are parsed by ``ipaddress`` and
  printed back from the parsed object; table and namespace names must match
  strict patterns;
* an address is never *added* by extend/remove, and extend re-checks the
  element against the protected ranges it is given (always at least the
  special ranges) before re-adding it;
* :func:`add_nftables` adds a plan to the live table without replacing it:
  every other live element keeps its expiry, a live block is never shortened,
  and a missing table is created with ``create table`` (which fails, changing
  nothing, if the table appeared in the meantime);
* with ``audit`` set, every action appends one record to the audit log
  (:mod:`reconwatch.respond.audit`), after it succeeded.

``netns`` runs the same commands inside a network namespace (``ip netns exec
NS nft ...``): the tests use it, and so can an operator who contains traffic
of a namespace (a container host) without touching the host's ruleset.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import ipaddress
import json
import re
import shutil
import subprocess
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Final

from reconwatch.config import Config
from reconwatch.netaddr import IPNetwork, parse_networks
from reconwatch.respond.audit import Action, append_audit, audit_record, audit_writable
from reconwatch.respond.blocklist import (
    DEFAULT_IPV6_PREFIX,
    MAX_TIMEOUT_SECONDS,
    SEVERITY_RANK,
    BlockEntry,
    BlockPlan,
    BlockRequest,
    Refusal,
    build_blocklist,
    entry_comment,
    host_network,
    sanitize_comment,
    validate_address,
    verified_entries,
)
from reconwatch.respond.nftables import (
    COMMENT_LIMIT,
    SET_V4,
    SET_V6,
    check_table_name,
    nft_duration,
    render_nftables,
)
from reconwatch.respond.protect import ProtectedRanges

#: ``ip netns`` names: a file name under /run/netns, so no ``/`` and no dots first.
NETNS_NAME: Final = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,62}")

#: Seconds one nft command may take before it is reported as failed.
COMMAND_TIMEOUT: Final = 60


class NftError(RuntimeError):
    """An nft command failed; the message has the command and nft's stderr."""


class NoTableError(NftError):
    """The table (or its set) is not in the ruleset: nothing was applied there."""


@dataclass(frozen=True)
class ApplyResult:
    """What :func:`apply_nftables` / :func:`add_nftables` did (or, in a dry run, would do).

    ``notes`` (add only) says which planned entries were not added, or only
    in part, because a live block already holds them for at least as long.
    """

    argv: tuple[str, ...]
    ruleset: str
    applied: bool
    entries: tuple[str, ...]
    cases: tuple[str, ...]
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class ActiveBlock:
    """One element of a live reconwatch set, as nft reports it.

    ``timeout_seconds`` is the element's full timeout, ``expires_seconds``
    what remains of it (nft counts down in milliseconds and prints seconds).
    """

    network: IPNetwork
    set_name: str
    timeout_seconds: int
    expires_seconds: int
    comment: str


def check_netns(netns: str | None) -> str | None:
    """``netns`` if it is a safe ``ip netns`` name (or None); else ``ValueError``."""
    if netns is not None and (not isinstance(netns, str) or NETNS_NAME.fullmatch(netns) is None):
        raise ValueError(f"network namespace name {netns!r} must match {NETNS_NAME.pattern}")
    return netns


def _binary(name: str) -> str:
    found = shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin:/usr/bin:/bin")
    if found is None:
        raise NftError(f"`{name}` is not installed (Debian: apt-get install nftables iproute2)")
    return found


def nft_argv(args: Sequence[str], netns: str | None = None) -> list[str]:
    """``nft ARGS``, prefixed by ``ip netns exec NS`` when ``netns`` is given."""
    name = check_netns(netns)
    prefix = [_binary("ip"), "netns", "exec", name] if name else []
    return [*prefix, _binary("nft"), *args]


def _run(args: Sequence[str], netns: str | None, stdin: str | None = None) -> str:
    argv = nft_argv(args, netns)
    done = subprocess.run(
        argv, input=stdin, capture_output=True, text=True, timeout=COMMAND_TIMEOUT, check=False
    )
    if done.returncode != 0:
        # nft's first line says what; the rest points at the offending token.
        said = (done.stderr.strip().splitlines() or ["no message"])[0]
        raise NftError(f"{' '.join(argv)} failed ({done.returncode}): {said}")
    return done.stdout


def _audit_ready(audit: Path | None) -> None:
    """Fail before a change, not after it, when its audit record could not be
    written (a folder without rights, a read-only disk): a change made but not
    recorded is what the audit log exists to rule out."""
    if audit is None:
        return
    try:
        audit_writable(audit)
    except OSError as exc:
        raise NftError(f"audit log {audit} cannot be written ({exc}): nothing was changed") from exc


def _audit(
    audit: Path | None,
    what: Action,
    *,
    why: str,
    who: str | None,
    cases: Sequence[str],
    entries: Sequence[str],
    table: str,
    netns: str | None,
    extra: Mapping[str, Any] | None = None,
) -> None:
    if audit is None:
        return
    details = {"table": table, "netns": netns, **(extra or {})}
    append_audit(
        audit,
        audit_record(what, why=why, who=who, cases=cases, entries=entries, details=details),
    )


def apply_nftables(
    plan: BlockPlan,
    table: str,
    *,
    netns: str | None = None,
    dry_run: bool = True,
    audit: Path | None = None,
    who: str | None = None,
    why: str = "",
) -> ApplyResult:
    """Load ``plan`` as ``table inet <table>`` with ``nft -f -`` (unless ``dry_run``).

    The ruleset replaces the table atomically, so applying again refreshes
    every timeout and drops entries no longer in the plan. A dry run runs
    nothing and writes no audit record. Raises :class:`NftError` when nft
    refuses the ruleset (nothing is changed then: the transaction is atomic).
    """
    table = check_table_name(table)
    check_netns(netns)
    ruleset = render_nftables(plan, table)
    entries = tuple(str(e.network) for e in plan.entries)
    cases = tuple(sorted({c for e in plan.entries for c in e.case_ids}))
    args = ["-f", "-"]
    if dry_run:
        argv = tuple(["ip", "netns", "exec", netns, "nft", *args] if netns else ["nft", *args])
        return ApplyResult(argv, ruleset, applied=False, entries=entries, cases=cases)
    argv = tuple(nft_argv(args, netns))
    _audit_ready(audit)
    _run(args, netns, stdin=ruleset)
    _audit(audit, "apply", why=why, who=who, cases=cases, entries=entries, table=table, netns=netns)
    return ApplyResult(argv, ruleset, applied=True, entries=entries, cases=cases)


def _element_network(value: Any) -> IPNetwork:
    if isinstance(value, str):
        return ipaddress.ip_network(value)
    if isinstance(value, dict) and "prefix" in value:
        prefix = value["prefix"]
        return ipaddress.ip_network(f"{prefix['addr']}/{prefix['len']}")
    if isinstance(value, dict) and isinstance(value.get("range"), list):
        # reconwatch writes prefixes only: an operator added this by hand.
        low, high = (str(end)[:64] for end in value["range"][:2])
        raise ValueError(
            f"the set holds a range reconwatch did not write ({low}-{high}): delete it "
            "with nft (nft delete element ...), or unblock the whole table"
        )
    raise ValueError(f"unexpected nft element value {value!r}")


def list_blocks(table: str, netns: str | None = None) -> list[ActiveBlock]:
    """The live elements of both reconwatch sets of ``table``, by address.

    Reads ``nft -j list set inet TABLE SET``. A missing table gives
    :class:`NftError` (so "nothing blocked" and "not applied" stay distinct).
    """
    table = check_table_name(table)
    found: list[ActiveBlock] = []
    for set_name in (SET_V4, SET_V6):
        try:
            listed = _run(["-j", "list", "set", "inet", table, set_name], netns)
        except NftError as exc:
            if _MISSING not in str(exc):
                raise
            where = f" in network namespace {netns}" if netns else ""
            raise NoTableError(
                f"no table inet {table}{where} (or no set {set_name} in it): "
                "nothing was applied there (reconwatch block apply)"
            ) from None
        document = json.loads(listed)
        for item in document.get("nftables", []):
            for elem in item.get("set", {}).get("elem", []):
                inner = elem.get("elem", elem) if isinstance(elem, dict) else elem
                if isinstance(inner, dict) and "val" in inner:
                    found.append(
                        ActiveBlock(
                            network=_element_network(inner["val"]),
                            set_name=set_name,
                            timeout_seconds=int(inner.get("timeout", 0)),
                            expires_seconds=int(inner.get("expires", 0)),
                            comment=str(inner.get("comment", "")),
                        )
                    )
                else:  # an element without timeout or comment: value only
                    found.append(ActiveBlock(_element_network(inner), set_name, 0, 0, ""))
    return sorted(found, key=lambda b: (b.network.version, int(b.network.network_address)))


def _find(table: str, address: str, netns: str | None) -> ActiveBlock:
    """The live element equal to, or holding, ``address`` (an address or CIDR).

    IPv4-mapped forms (``::ffff:198.51.100.23``) are the IPv4 addresses they
    hold, as in the logs and the plans: that is what a block holds.
    """
    try:
        (wanted,) = parse_networks([address])
    except (TypeError, ValueError):
        raise ValueError(f"{address!r} is not an IP address or CIDR") from None
    for block in list_blocks(table, netns):
        if block.network.version == wanted.version and wanted.subnet_of(block.network):  # type: ignore[arg-type]
            return block
    raise LookupError(f"{wanted} is not blocked in table inet {table}")


def _element_text(block: ActiveBlock) -> str:
    return str(block.network)


def extend_block(
    address: str,
    seconds: int,
    table: str,
    *,
    netns: str | None = None,
    protected: ProtectedRanges | None = None,
    audit: Path | None = None,
    who: str | None = None,
    why: str = "",
    cases: Sequence[str] = (),
) -> ActiveBlock:
    """Give the live block holding ``address`` ``seconds`` more than it has left.

    The element is deleted and re-added with the new timeout (and its
    comment) in one ``nft -f -`` transaction, so it is never unblocked in
    between. The new timeout is capped at one year. ``protected`` (default:
    the always-protected ranges) is checked first: a block that should never
    have existed is not prolonged, nor one without a timeout (it never ends).
    Raises ``LookupError`` when nothing holds ``address``.
    """
    table = check_table_name(table)
    if isinstance(seconds, bool) or not isinstance(seconds, int) or seconds < 1:
        raise ValueError("seconds must be a positive int")
    block = _find(table, address, netns)
    why_not = (protected or ProtectedRanges.always()).check(block.network)
    if why_not is not None:
        raise ValueError(f"refusing to extend {block.network}: {why_not}")
    if block.timeout_seconds == 0:
        # An element without a timeout (added by hand) never ends: "remaining +
        # seconds" would read its 0 s as nothing left and make it end soon.
        raise ValueError(f"{block.network} has no timeout: it never ends, nothing to extend")
    new_timeout = min(block.expires_seconds + seconds, MAX_TIMEOUT_SECONDS)
    comment = sanitize_comment(block.comment, COMMENT_LIMIT)
    element = _element_text(block)
    script = (
        f"delete element inet {table} {block.set_name} {{ {element} }}\n"
        f"add element inet {table} {block.set_name} "
        f'{{ {element} timeout {new_timeout}s comment "{comment}" }}\n'
    )
    _audit_ready(audit)
    _run(["-f", "-"], netns, stdin=script)
    _audit(
        audit,
        "extend",
        why=why,
        who=who,
        cases=cases,
        entries=[f"{element} timeout {new_timeout}s"],
        table=table,
        netns=netns,
    )
    return ActiveBlock(block.network, block.set_name, new_timeout, new_timeout, comment)


def remove_block(
    address: str,
    table: str,
    *,
    netns: str | None = None,
    audit: Path | None = None,
    who: str | None = None,
    why: str = "",
    cases: Sequence[str] = (),
) -> ActiveBlock:
    """Delete the live element holding ``address`` (the whole element: a /24
    holding it goes as a whole, and the record says which). ``LookupError``
    when nothing holds it."""
    table = check_table_name(table)
    block = _find(table, address, netns)
    element = _element_text(block)
    _audit_ready(audit)
    _run(["delete", "element", "inet", table, block.set_name, "{", element, "}"], netns)
    _audit(
        audit, "remove", why=why, who=who, cases=cases, entries=[element], table=table, netns=netns
    )
    return block


def unblock_all(
    table: str,
    *,
    netns: str | None = None,
    audit: Path | None = None,
    who: str | None = None,
    why: str = "",
) -> list[ActiveBlock]:
    """Delete ``table inet <table>`` (every block and its chains); the blocks it held.

    A missing table is not an error: unblocking twice is the same as once
    (the returned list is then empty, and the audit record says so). The
    table is deleted whatever its sets held: one of ours missing, or sets
    that could not be read (the audit record then says ``entries_unknown``).
    """
    table = check_table_name(table)
    held: list[ActiveBlock] | None
    missing = False  # the listing found no table, or no set of ours in it
    try:
        held = list_blocks(table, netns)
    except NoTableError:
        held, missing = None, True
    except (NftError, ValueError):
        # The sets could not be read (no rights, a missing namespace, an element
        # nft lists as a range): the table must still go, or the delete must
        # fail loudly. Reporting "unblocked" while the blocks stay is the one
        # outcome an unblock may never have.
        held = None
    _audit_ready(audit)
    try:
        _run(["delete", "table", "inet", table], netns)
    except NftError as exc:
        # No such table (nft may add "did you mean table ... in family ip?"):
        # unblocking twice is the same as once. Anything else is an error.
        if not (missing and _NO_SUCH.search(str(exc))):
            raise
        held = []
    # Deleted, but its entries unread (a set missing or unreadable): say so.
    extra = {"entries_unknown": True} if held is None else None
    held = held or []
    _audit(
        audit,
        "unblock",
        why=why,
        who=who,
        cases=[],
        entries=[str(b.network) for b in held],
        table=table,
        netns=netns,
        extra=extra,
    )
    return held


#: nft's message when a table or set does not exist (``list set`` of a missing
#: table); ``ip netns exec`` of a missing namespace says it without ``Error:``.
_MISSING: Final = "Error: No such file or directory"
#: nft's message when ``delete table`` names a table that does not exist
#: (``Could not process rule: `` before it, or a "did you mean" after it).
_NO_SUCH: Final = re.compile(r"Error: (?:Could not process rule: )?No such file or directory")


def _live_remaining(block: ActiveBlock) -> float:
    """Seconds ``block`` still has; an element without timeout never ends."""
    return float("inf") if block.timeout_seconds == 0 else block.expires_seconds


def _add_element(table: str, entry: BlockEntry) -> str:
    set_name = SET_V4 if entry.network.version == 4 else SET_V6
    comment = entry_comment(entry, COMMENT_LIMIT)
    timeout = nft_duration(entry.timeout_seconds)
    return (
        f"add element inet {table} {set_name} "
        f'{{ {entry.network} timeout {timeout} comment "{comment}" }}'
    )


def _create_ruleset(plan: BlockPlan, table: str) -> str:
    """``render_nftables`` with ``create table`` instead of its replace prologue.

    ``create`` fails when the table exists, so the transaction can only ever
    create a missing table, never replace a live one.
    """
    rendered = render_nftables(plan, table)
    start = rendered.find(f"\ntable inet {table} {{\n")
    if start < 0:  # pragma: no cover - render_nftables always writes the table
        raise RuntimeError("render_nftables wrote no table")
    return (
        "#!/usr/sbin/nft -f\n"
        f"# Add {len(plan.entries)} entries: table inet {table} does not exist yet, so it is\n"
        "# created (create fails, changing nothing, if the table exists by then).\n"
        f"create table inet {table}\n" + rendered[start + 1 :]
    )


@dataclass
class _Additions:
    """The element changes that make a live set also hold some planned entries."""

    deletes: list[ActiveBlock]
    adds: list[BlockEntry]
    #: Parts of a live element split around a planned entry, re-added with the
    #: time the element had left and its comment.
    keeps: list[ActiveBlock]
    notes: list[str]


def _split_around(block: ActiveBlock, network: IPNetwork) -> list[ActiveBlock]:
    """``block`` minus ``network`` (inside it), each part keeping its remaining time.

    None when less than a second is left (nft prints whole seconds, so 0): a
    part re-added with ``timeout 0s`` would never expire, and the element
    ends now anyway.
    """
    if block.expires_seconds < 1:
        return []
    return [
        ActiveBlock(
            part, block.set_name, block.expires_seconds, block.expires_seconds, block.comment
        )
        for part in block.network.address_exclude(network)  # type: ignore[arg-type]
    ]


def _additions(entries: Sequence[BlockEntry], live: Sequence[ActiveBlock]) -> _Additions:
    """What to delete and add so the live set also holds ``entries``.

    A live block is never shortened and nft's interval sets never get
    overlapping elements. For each entry: a live element wider than it with at
    least the entry's timeout left already blocks it (noted, unchanged); one
    with less is split around it (its other parts re-added with the time it
    had left) so the entry gets its full timeout. Live elements inside the
    entry (or equal) with at least its timeout left are kept and cut out of
    it; those with less are replaced by it.
    """
    changes = _Additions([], [], [], [])
    current = list(live)

    def drop(block: ActiveBlock) -> None:
        current.remove(block)
        if block in changes.keeps:  # a part this run re-adds: just do not re-add it
            changes.keeps.remove(block)
        else:
            changes.deletes.append(block)

    for entry in entries:
        network = entry.network
        near = [
            b
            for b in current
            if b.network.version == network.version and b.network.overlaps(network)
        ]
        wider = [b for b in near if b.network != network and network.subnet_of(b.network)]  # type: ignore[arg-type]
        if wider:
            outer = wider[0]  # set elements never overlap: at most one holds the entry
            if _live_remaining(outer) >= entry.timeout_seconds:
                left = f"{outer.expires_seconds}s left" if outer.timeout_seconds else "no timeout"
                changes.notes.append(
                    f"{network}: not added, live block {outer.network} holds it ({left})"
                )
                continue
            drop(outer)
            parts = _split_around(outer, network)
            changes.keeps.extend(parts)
            current.extend(parts)
            changes.notes.append(
                f"{network}: live block {outer.network} ({outer.expires_seconds}s left) split "
                f"around it, its other parts kept with their time"
                if parts
                else f"{network}: live block {outer.network} (ending now) replaced by it"
            )
            near = []
        pieces: list[IPNetwork] = [network]
        for b in near:  # all inside ``network`` (CIDRs nest or are disjoint)
            if _live_remaining(b) < entry.timeout_seconds:
                drop(b)
                continue
            changes.notes.append(
                f"{network}: live block {b.network} kept ({b.expires_seconds}s left)"
                if b.timeout_seconds
                else f"{network}: live block {b.network} kept (no timeout)"
            )
            pieces = [
                piece
                for p in pieces
                for piece in (
                    p.address_exclude(b.network) if b.network.subnet_of(p) else [p]  # type: ignore[arg-type]
                )
            ]
        changes.adds.extend(dataclasses.replace(entry, network=p) for p in pieces)
    changes.adds.sort(key=lambda e: (e.network.version, int(e.network.network_address)))
    return changes


def add_nftables(
    plan: BlockPlan,
    table: str,
    *,
    netns: str | None = None,
    dry_run: bool = True,
    audit: Path | None = None,
    who: str | None = None,
    why: str = "",
) -> ApplyResult:
    """Add ``plan``'s entries to the live ``table inet <table>``; replace nothing else.

    Unlike :func:`apply_nftables` (the live set *becomes* the plan), every
    live element outside the plan stays with its own expiry. A planned entry
    equal to, or holding, live elements with less time left replaces them
    (``delete element`` + ``add element``, one transaction); live elements
    with at least as much time left are kept and left out of the entry; an
    entry inside a wider live element is not added (``notes`` says so). When
    the table does not exist it is created with the plan's entries (``create
    table``: nft refuses, changing nothing, if it exists by then).

    Reads the live sets even in a dry run (``nft -j list``, read-only; when
    they cannot be read, a dry run shows the planned elements with a note); a
    dry run changes nothing and writes no audit record. The audit record of
    a real run is an ``apply`` with ``details.mode`` ``add`` and the live
    elements it ``replaced``.
    """
    table = check_table_name(table)
    check_netns(netns)
    planned = verified_entries(plan)
    cases = tuple(sorted({c for e in planned for c in e.case_ids}))
    args = ["-f", "-"]
    argv = tuple(["ip", "netns", "exec", netns, "nft", *args] if netns else ["nft", *args])
    if not planned:
        return ApplyResult(argv, "", False, (), cases)
    try:
        live: list[ActiveBlock] | None = list_blocks(table, netns)
    except NftError as exc:
        if not isinstance(exc, NoTableError):
            if not dry_run:
                raise
            # A preview without the rights to read the ruleset (not root): show
            # the plan's elements; the real run reads the live set and merges.
            first = (str(exc).splitlines() or [type(exc).__name__])[0]
            note = f"live table not read ({first}); shown: the planned elements"
            script = "".join(f"{_add_element(table, e)}\n" for e in planned)
            entries = tuple(str(e.network) for e in planned)
            return ApplyResult(argv, script, False, entries, cases, (note,))
        live = None
    if live is None:
        deletes: list[ActiveBlock] = []
        adds = list(planned)
        notes: list[str] = []
        script = _create_ruleset(BlockPlan(tuple(adds), plan.refused), table) if adds else ""
    else:
        changes = _additions(planned, live)
        deletes, adds, notes = changes.deletes, changes.adds, changes.notes
        verified_entries(BlockPlan(tuple(adds), ()))
        lines = [
            f"delete element inet {table} {b.set_name} {{ {_element_text(b)} }}" for b in deletes
        ]
        lines += [
            f"add element inet {table} {b.set_name} {{ {b.network} timeout "
            f'{b.expires_seconds}s comment "{sanitize_comment(b.comment, COMMENT_LIMIT)}" }}'
            for b in changes.keeps
        ]
        lines += [_add_element(table, e) for e in adds]
        script = "".join(f"{line}\n" for line in lines)
    entries = tuple(str(e.network) for e in adds)
    if dry_run or not script:
        return ApplyResult(argv, script, False, entries, cases, tuple(notes))
    argv = tuple(nft_argv(args, netns))
    _audit_ready(audit)
    _run(args, netns, stdin=script)
    _audit(
        audit,
        "apply",
        why=why,
        who=who,
        cases=cases,
        entries=entries,
        table=table,
        netns=netns,
        extra={"mode": "add", "replaced": [_element_text(b) for b in deletes]},
    )
    return ApplyResult(argv, script, True, entries, cases, tuple(notes))


def remaining(block: ActiveBlock, now: dt.datetime | None = None) -> dt.datetime:
    """When ``block`` ends, as a UTC time (for ``block list``)."""
    moment = (now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC)
    return moment + dt.timedelta(seconds=block.expires_seconds)


def missing_case_ids(document: Mapping[str, Any], case_ids: Iterable[str]) -> list[str]:
    """The ids of ``case_ids`` that no case of a ``cases.json`` document has, in order."""
    known = {case.get("id") for case in document.get("cases", []) if isinstance(case, Mapping)}
    return [cid for cid in dict.fromkeys(case_ids) if cid not in known]


def _recorded(case: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The ``containment`` the hunt recorded on a ``cases.json`` case (None: none)."""
    recorded = case.get("containment")
    return recorded if isinstance(recorded, Mapping) and recorded else None


def with_analyst_decisions(
    document: Mapping[str, Any], decided: Mapping[str, tuple[str, str | None]]
) -> tuple[dict[str, Any], list[str]]:
    """``document`` with the dispositions analysts gave its cases since the hunt.

    ``decided`` maps a case id to the disposition (and reason) of its closed
    case in the store. A ``cases.json`` is a snapshot: applying yesterday's
    file must not re-block a source an analyst has since closed as a false
    positive. Each changed case is said in one line; planning then treats it
    by its new disposition (``respond.block_dispositions``).
    """
    changed = dict(document)
    cases: list[Any] = []
    notes: list[str] = []
    for case in document.get("cases", []):
        cid = case.get("id") if isinstance(case, Mapping) else None
        if isinstance(cid, str) and cid in decided and isinstance(case, Mapping):
            disposition, reason = decided[cid]
            if disposition != case.get("disposition"):
                case = {**case, "disposition": disposition}
                why = f" ({_text(reason, 120)})" if reason else ""
                notes.append(f"{cid}: closed in the case store as {disposition}{why}")
        cases.append(case)
    changed["cases"] = cases
    return changed, notes


def why_not_blocked(
    case: Mapping[str, Any], config: Config, *, approved: bool = False
) -> str | None:
    """Why a ``cases.json`` case gives no block request; None when it gives some.

    The config decides first (disposition, severity, sources); then the hunt's
    own record: a case the hunt did not block (``containment.block`` false
    with a ``why``, e.g. its disposition then) is not blocked now either.
    An analyst's approval (``approved``) stands for both dispositions.
    """
    disposition, severity = case.get("disposition"), case.get("severity")
    if not approved and disposition not in config.respond.block_dispositions:
        return f"disposition {disposition!r} is not in respond.block_dispositions"
    if severity not in SEVERITY_RANK or severity not in config.respond.block_for_seconds:
        return f"severity {severity!r} has no respond.block_for_seconds"
    if not case.get("sources"):
        return "it has no sources"
    recorded = _recorded(case)
    if not approved and recorded is not None and not recorded.get("block") and "why" in recorded:
        return f"the hunt did not block it: {_text(recorded['why'])}"
    return None


def _text(value: object, limit: int = 200) -> str:
    """Document text for a refusal reason (shown escaped by the CLI), bounded."""
    return (value if isinstance(value, str) else repr(value))[:limit]


def _intervals(networks: Iterable[IPNetwork]) -> dict[int, list[tuple[int, int]]]:
    """``networks`` merged into sorted disjoint ``(first, last)`` intervals per family."""
    merged: dict[int, list[tuple[int, int]]] = {4: [], 6: []}
    for version in (4, 6):
        bounds = sorted(
            (int(n.network_address), int(n.broadcast_address))
            for n in networks
            if n.version == version
        )
        for first, last in bounds:
            spans = merged[version]
            if spans and first <= spans[-1][1] + 1:
                spans[-1] = (spans[-1][0], max(spans[-1][1], last))
            else:
                spans.append((first, last))
    return merged


def _covered(network: IPNetwork, intervals: Mapping[int, list[tuple[int, int]]]) -> bool:
    """Whether every address of ``network`` lies inside the merged ``intervals``."""
    first, last = int(network.network_address), int(network.broadcast_address)
    return any(a <= first and last <= b for a, b in intervals[network.version])


def _recorded_entries(recorded: Mapping[str, Any]) -> list[IPNetwork]:
    """The networks the hunt planned for a case (malformed items are ignored)."""
    found: list[IPNetwork] = []
    entries = recorded.get("entries")
    for item in entries if isinstance(entries, list) else []:
        try:
            found.append(ipaddress.ip_network(item, strict=True))
        except (TypeError, ValueError):
            continue
    return found


def config_protected_sources(config: Config, addresses: Iterable[str] = ()) -> list[str]:
    """What a hunt with ``config`` protects besides its site's ranges.

    The sources of approved exercises (``enrich.exercises``, read with the
    hunt's own loader) and every address of ``addresses`` on a benign-scanner
    list (``enrich.warninglists``). Unlike a hunt, which notes an unreadable
    file as a warning and goes on, a file that cannot be read raises
    ``ValueError``: nothing is blocked on a guess about what is protected.
    """
    from reconwatch.enrich.benign import WarninglistError
    from reconwatch.enrich.exercises import ExerciseError

    protected: list[str] = []
    enrich = config.enrich
    if enrich.exercises is not None:
        try:
            protected += list(_exercise_sources(*_versioned([enrich.exercises])))
        except (ExerciseError, OSError) as exc:
            raise ValueError(f"enrich.exercises: {exc}; nothing planned") from exc
    wanted: list[str] = []
    for text in addresses:
        try:
            wanted.append(str(validate_address(text)))
        except ValueError:
            continue
    if enrich.warninglists and wanted:
        try:
            benign = _benign_scanners(_versioned(enrich.warninglists))
        except (WarninglistError, OSError) as exc:
            raise ValueError(f"enrich.warninglists: {exc}; nothing planned") from exc
        protected += [ip for ip, names in benign.lookup(wanted).items() if names]
    return protected


def _versioned(paths: Iterable[Path]) -> tuple[tuple[str, int], ...]:
    """``paths`` with their modification times: a cache key that an edit changes."""
    return tuple((str(path), path.stat().st_mtime_ns) for path in paths)


# The web UI plans a case's blocks on every view of its page: the lists are
# read once per version of their files, not per request.
@lru_cache(maxsize=4)
def _exercise_sources(versioned: tuple[str, int]) -> tuple[str, ...]:
    from reconwatch.enrich.exercises import load_exercises

    return tuple(str(n) for e in load_exercises(Path(versioned[0])) for n in e.sources)


@lru_cache(maxsize=4)
def _benign_scanners(versioned: tuple[tuple[str, int], ...]) -> Any:
    from reconwatch.enrich.benign import BenignScanners

    return BenignScanners.load([Path(path) for path, _ in versioned])


def plan_from_cases_document(
    document: Mapping[str, Any],
    config: Config,
    *,
    case_ids: Sequence[str] = (),
    extra_protected: Iterable[str] = (),
    approved: Collection[str] = (),
) -> BlockPlan:
    """The block plan for a ``cases.json`` document: never more than the hunt planned.

    For ``reconwatch block apply --cases OUT/cases.json``: the operator applies
    what the hunt wrote and reviewed, not a new analysis. Two checks, and the
    stricter wins:

    * the hunt's record on each case (``containment``): a source the hunt
      refused is refused again with the hunt's reason (``refused by the hunt:
      protected: ...``), a source no recorded entry covers is refused, a case
      the hunt did not block is not blocked, and no entry ends up wider than
      the hunt's (IPv6 falls back to /128 when ``respond.ipv6_prefix`` would
      widen past it). This holds even when ``config`` is not the hunt's: its
      ``site.protected`` and home networks are in the record. In a document
      where some case has a record, a case without one is refused;
    * the current ``config``: disposition (``respond.block_dispositions``),
      ``respond.block_for_seconds`` by severity, and the ranges a hunt with
      it protects: the site's, approved exercise sources and benign-scanner
      addresses (:func:`config_protected_sources`), sources the document's
      enrichment puts on a benign list, and ``extra_protected``. Every source
      goes through :func:`build_blocklist` again, so a hand-edited document
      cannot smuggle a protected address in.

    Only ``case_ids`` are planned when given; an id that no case of the
    document has raises ``LookupError`` (a typo must not silently give an
    empty plan). A document without any record (hand-written) is checked
    against the config alone.

    ``approved`` names the cases an analyst approved a block for (the web
    UI; the rules' reason says "approved"): the approval stands for the
    disposition, the config's and the hunt's, so a case the hunt did not
    block for its disposition then is planned against the config alone,
    unless it is internal. What the
    hunt refused stays refused and what it blocked is not widened, whatever
    the config of the server approving it says.
    """
    missing = missing_case_ids(document, case_ids)
    if missing:
        raise LookupError(f"no case {', '.join(missing)} in the cases document")
    only = set(case_ids)
    cases = [c for c in document.get("cases", []) if isinstance(c, Mapping)]
    any_recorded = any(_recorded(c) is not None for c in cases)
    requests: list[BlockRequest] = []
    refusals: list[Refusal] = []
    recorded_networks: list[IPNetwork] = []
    recorded_cases: set[str] = set()
    benign: list[str] = []
    for case in cases:
        enrichment = case.get("enrichment")
        if isinstance(enrichment, Mapping):
            benign += [
                str(source)
                for source, context in enrichment.items()
                if isinstance(context, Mapping) and context.get("benign_lists")
            ]
        cid = case.get("id")
        if not isinstance(cid, str) or (only and cid not in only):
            continue
        is_approved = cid in approved
        if why_not_blocked(case, config, approved=is_approved) is not None:
            continue
        severity = case["severity"]
        sources = case.get("sources")
        sources = sources if isinstance(sources, list) else []
        recorded = _recorded(case)
        hunt_refused: Mapping[Any, Any] = {}
        if recorded is not None:
            refused_field = recorded.get("refused")
            hunt_refused = refused_field if isinstance(refused_field, Mapping) else {}
        if case.get("internal") is True:
            # Inside the hunt's home networks, whatever this config's are.
            why = "an internal source (in the hunt's home networks)"
            refusals += [Refusal(_text(s, 64), cid, why) for s in sources]
            continue
        allowed: dict[int, list[tuple[int, int]]] | None = None
        if is_approved and recorded is not None and recorded.get("block") is not True:
            # Approved, but the hunt planned no block to hold it to, nor any
            # width: its sources as they are. Widened by this config's
            # ``ipv6_prefix``, a /64 could cover an address the hunt's config
            # protected and this one does not know.
            recorded_cases.add(cid)
            recorded_networks += [n for s in sources if (n := host_network(s)) is not None]
        elif recorded is not None:
            recorded_cases.add(cid)
            networks = _recorded_entries(recorded)
            recorded_networks += networks
            allowed = _intervals(networks)
        elif any_recorded and not is_approved:
            refusals += [
                Refusal(_text(s, 64), cid, "the hunt recorded no containment for this case")
                for s in sources
            ]
            continue
        seconds = config.respond.block_for_seconds[severity]
        detections = [d for d in case.get("detections", []) if isinstance(d, str)]
        reason = ("approved: " if is_approved else "") + "reconnaissance: " + ", ".join(detections)
        for source in sources:
            text = _text(source, 64)
            if isinstance(source, str) and source in hunt_refused:
                why = f"refused by the hunt: {_text(hunt_refused[source])}"
                refusals.append(Refusal(text, cid, why))
                continue
            single = host_network(source)  # None: build_blocklist refuses it and says why
            if allowed is not None and single is not None and not _covered(single, allowed):
                why = "not planned by the hunt (no recorded entry of the case covers it)"
                refusals.append(Refusal(text, cid, why))
                continue
            requests.append(
                BlockRequest(
                    address=source,
                    case_id=cid,
                    reason=reason,
                    severity=severity,
                    timeout_seconds=seconds,
                )
            )
    addresses = [r.address for r in requests if isinstance(r.address, str)]
    protected = ProtectedRanges.from_config(
        config,
        extra=[
            *extra_protected,
            *config_protected_sources(config, addresses),
            *(b for b in benign if host_network(b) is not None),
        ],
    )
    prefix: int = getattr(config.respond, "ipv6_prefix", DEFAULT_IPV6_PREFIX)
    plan = build_blocklist(requests, protected, config.respond.max_entries, ipv6_prefix=prefix)
    if recorded_cases:
        allowed_all = _intervals(recorded_networks)
        wider = [
            e
            for e in plan.entries
            if set(e.case_ids) & recorded_cases and not _covered(e.network, allowed_all)
        ]
        if wider:  # respond.ipv6_prefix widens past what the hunt planned
            plan = build_blocklist(requests, protected, config.respond.max_entries)
    return BlockPlan(plan.entries, (*refusals, *plan.refused))
