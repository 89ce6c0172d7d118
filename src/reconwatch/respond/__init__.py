"""Containment: safe block plans, the firewall files that apply them, and live nftables.

``protect`` says what must never be blocked, ``blocklist`` turns block
requests from untrusted log addresses into a checked, collapsed, budgeted
plan, and ``nftables`` / ``ipset`` / ``writers_vendor`` (pf, Cisco ASA,
PAN-OS EDL, FortiGate, AWS network ACL, CrowdSec) write that plan as files an
operator reviews and applies. ``apply`` is the one module that changes a live
firewall (nftables, only when asked: its default is a dry run), and records
every action in the ``audit`` log. ``exposure`` audits what the actors
learnt; ``honeypot`` suggests where to put decoys.
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
from reconwatch.respond.writers_vendor import (
    render_asa,
    render_aws_nacl,
    render_crowdsec,
    render_fortigate,
    render_panos_edl,
    render_pf,
)

__all__ = [
    "BlockEntry",
    "BlockPlan",
    "BlockRequest",
    "ProtectedRanges",
    "Refusal",
    "build_blocklist",
    "render_asa",
    "render_aws_nacl",
    "render_crowdsec",
    "render_fortigate",
    "render_ipset_script",
    "render_nftables",
    "render_panos_edl",
    "render_pf",
]
