"""Containment, dry run: safe block plans and the firewall files that apply them.

``protect`` says what must never be blocked, ``blocklist`` turns block
requests from untrusted log addresses into a checked, collapsed, budgeted
plan, and ``nftables`` / ``ipset`` write that plan as files an operator
reviews and applies. Nothing in this package changes a live firewall.
"""

from reconwatch.respond.blocklist import (
    BlockEntry,
    BlockPlan,
    BlockRequest,
    Refusal,
    build_blocklist,
)
from reconwatch.respond.ipset import render_ipset_script
from reconwatch.respond.nftables import render_nftables
from reconwatch.respond.protect import ProtectedRanges

__all__ = [
    "BlockEntry",
    "BlockPlan",
    "BlockRequest",
    "ProtectedRanges",
    "Refusal",
    "build_blocklist",
    "render_ipset_script",
    "render_nftables",
]
