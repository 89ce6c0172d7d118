"""The vendor writers (pf, ASA, PAN-OS EDL, FortiGate, AWS NACL, CrowdSec) and IPv6 widening.

Exact renderings pin each format; hypothesis properties prove, for arbitrary
requests, that every writer's output names exactly the plan's networks, never
a protected one, and nothing but its fixed templates around them.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import re
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reconwatch.config import Config, SiteConfig
from reconwatch.netaddr import IPNetwork
from reconwatch.respond import (
    BlockEntry,
    BlockPlan,
    BlockRequest,
    ProtectedRanges,
    Refusal,
    render_ipset_script,
    render_nftables,
)
from reconwatch.respond.blocklist import MAX_TIMEOUT_SECONDS, build_blocklist, widen
from reconwatch.respond.writers_vendor import (
    crowdsec_duration,
    pf_table_names,
    render_asa,
    render_aws_nacl,
    render_crowdsec,
    render_fortigate,
    render_panos_edl,
    render_pf,
    write_vendor_files,
)

SITE = SiteConfig(
    home_networks=["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7"],
    protected=["192.0.2.53", "2001:db8:53::/64"],
)
EXTRA = ("45.33.32.200", "2001:db8:77::9")
PROTECTED = ProtectedRanges.from_site(SITE, extra=EXTRA)
WHEN = dt.datetime(2026, 9, 30, 10, 0, tzinfo=dt.UTC)
HOUR = 3600
DAY = 86400
ACL = "acl-0123456789abcdef0"


def req(
    address: str,
    case_id: str = "RW-1",
    *,
    reason: str = "scan",
    severity: str = "high",
    timeout: int = HOUR,
) -> BlockRequest:
    return BlockRequest(address, case_id, reason, severity, timeout)  # type: ignore[arg-type]


SMALL = build_blocklist(
    [
        *(req(f"198.51.100.{i}", "RW-0001", reason="vertical scan") for i in range(8)),
        req("45.33.32.156", "RW-0003", reason="sweep", severity="low", timeout=90),
        req(
            "2001:db8:4::1",
            "RW-0002",
            reason='horizontal "sweep"; drop',
            severity="critical",
            timeout=21 * DAY,
        ),
        req("10.1.1.1", "RW-0004"),
    ],
    PROTECTED,
    100,
    ipv6_prefix=64,
)


# --- IPv6 widening ---


def test_ipv6_is_widened_to_the_requested_prefix() -> None:
    plan = build_blocklist(
        [req("2a03:2880:1:2::1", "RW-1"), req("2a03:2880:1:2:ffff::7", "RW-2", timeout=DAY)],
        PROTECTED,
        10,
        ipv6_prefix=64,
    )
    assert plan.entries == (
        BlockEntry(
            network=ipaddress.ip_network("2a03:2880:1:2::/64"),
            case_ids=("RW-1", "RW-2"),
            reason="scan",
            severity="high",
            timeout_seconds=DAY,
        ),
    )
    assert plan.refused == ()


def test_default_keeps_single_ipv6_addresses_and_ipv4_is_never_widened() -> None:
    plan = build_blocklist([req("2a03:2880:1:2::1"), req("198.51.100.1")], PROTECTED, 10)
    assert [str(e.network) for e in plan.entries] == ["198.51.100.1/32", "2a03:2880:1:2::1/128"]
    wide = build_blocklist([req("198.51.100.1")], PROTECTED, 10, ipv6_prefix=48)
    assert [str(e.network) for e in wide.entries] == ["198.51.100.1/32"]


def test_widened_network_touching_a_protected_range_keeps_the_single_address() -> None:
    # 2001:db8:77::9 is allowlisted: its /64 neighbour 2001:db8:77::5 stays a /128.
    # ::5 is the IPv4-compatible form of 0.0.0.5 (this-network): never blocked,
    # and its /64 (::/64, which holds ::1 and the IPv4-mapped space) never either.
    plan = build_blocklist(
        [req("2001:db8:77::5"), req("2001:db8:78::5"), req("::5")],
        PROTECTED,
        10,
        ipv6_prefix=64,
    )
    assert [str(e.network) for e in plan.entries] == ["2001:db8:77::5/128", "2001:db8:78::/64"]
    (refused,) = plan.refused
    assert refused.address == "::5" and "IPv4-compatible 0.0.0.5/32" in refused.why
    assert str(widen(ipaddress.ip_address("::5"), 64, PROTECTED)) == "::5/128"
    assert str(widen(ipaddress.ip_address("2001:db8:77::5"), 64, PROTECTED)) == "2001:db8:77::5/128"


def test_adjacent_widened_networks_collapse() -> None:
    plan = build_blocklist(
        [req(f"2a03:2880:0:{i:x}::1") for i in range(4)], PROTECTED, 10, ipv6_prefix=64
    )
    assert [str(e.network) for e in plan.entries] == ["2a03:2880::/62"]


@pytest.mark.parametrize("prefix", [0, 32, 47, 129, True, 64.0])
def test_bad_ipv6_prefix_is_refused(prefix: object) -> None:
    with pytest.raises(ValueError, match=r"ipv6_prefix must be an int in 48\.\.128"):
        build_blocklist([], PROTECTED, 10, ipv6_prefix=prefix)  # type: ignore[arg-type]


def test_protected_ipv6_is_still_refused_when_widening() -> None:
    plan = build_blocklist([req("2001:db8:77::9", "RW-7")], PROTECTED, 10, ipv6_prefix=64)
    assert plan.entries == ()
    assert plan.refused == (
        Refusal("2001:db8:77::9", "RW-7", "protected: overlaps allowlisted 2001:db8:77::9/128"),
    )


# --- exact renderings ---


def test_pf_rendering() -> None:
    assert pf_table_names(SMALL, "reconwatch") == [
        "reconwatch_90",
        "reconwatch_3600",
        "reconwatch_1814400",
    ]
    assert render_pf(SMALL, "reconwatch", generated_at=WHEN) == (
        "#!/bin/sh\n"
        "# Reconnaissance containment generated by reconwatch for pf tables "
        "(dry run: review, then apply).\n"
        "# Generated at 2026-09-30T10:00:00Z: 2 IPv4 and 1 IPv6 entries, 1 requests refused.\n"
        "# pf.conf, once (then pfctl -f /etc/pf.conf):\n"
        "#   table <reconwatch_90> persist\n"
        "#   block drop in quick from <reconwatch_90> to any\n"
        "#   table <reconwatch_3600> persist\n"
        "#   block drop in quick from <reconwatch_3600> to any\n"
        "#   table <reconwatch_1814400> persist\n"
        "#   block drop in quick from <reconwatch_1814400> to any\n"
        "# Expiry, from cron every minute (pf tables have no per-entry timeout):\n"
        "#   pfctl -t reconwatch_90 -T expire 90\n"
        "#   pfctl -t reconwatch_3600 -T expire 3600\n"
        "#   pfctl -t reconwatch_1814400 -T expire 1814400\n"
        "# Remove: pfctl -t reconwatch_<seconds> -T flush   (each table above)\n"
        "\n"
        "set -eu\n"
        "\n"
        "# A table no loaded block rule uses blocks nothing: stop before adding to one\n"
        "# (the main ruleset's: the tables filled below are its own; pfctl's errors show).\n"
        "for t in reconwatch_90 reconwatch_3600 reconwatch_1814400; do\n"
        '  pfctl -s rules | grep -qE "^block[[:space:]].*from <$t>" || {\n'
        '    echo "no loaded pf block rule uses table <$t>: add its pf.conf lines above," \\\n'
        '      "then pfctl -f /etc/pf.conf" >&2\n'
        "    exit 1\n"
        "  }\n"
        "done\n"
        "\n"
        "# reconwatch_90: blocks of 90 s, until 2026-09-30T10:01:30Z\n"
        "pfctl -t reconwatch_90 -T add 45.33.32.156/32\n"
        "# reconwatch_3600: blocks of 3600 s, until 2026-09-30T11:00:00Z\n"
        "pfctl -t reconwatch_3600 -T add 198.51.100.0/29\n"
        "# reconwatch_1814400: blocks of 1814400 s, until 2026-10-21T10:00:00Z\n"
        "pfctl -t reconwatch_1814400 -T add 2001:db8:4::/64\n"
    )


#: A stand-in for pfctl (pf does not run on Linux): prints the loaded rules
#: from $RULES for ``-s rules`` and records every other call in $CALLS.
FAKE_PFCTL = """#!/bin/sh
if [ "$*" = "-s rules" ]; then cat "$RULES"; exit 0; fi
echo "$*" >> "$CALLS"
"""
BLOCK_RULE = "block drop in quick from <{}> to any"


@pytest.mark.parametrize(
    "rules",
    [
        [BLOCK_RULE.format(n) for n in ("reconwatch_90", "reconwatch_3600", "reconwatch_1814400")],
        # The last table's rule sits in an anchor (shown indented): with the
        # header's table line loaded there, it uses the anchor's own table.
        [
            *(BLOCK_RULE.format(n) for n in ("reconwatch_90", "reconwatch_3600")),
            'anchor "reconwatch" all {',
            "  " + BLOCK_RULE.format("reconwatch_1814400"),
            "}",
        ],
        # No rule for the last table (a timeout no earlier plan had).
        [BLOCK_RULE.format(n) for n in ("reconwatch_90", "reconwatch_3600")],
        # Rules that name it but do not block its sources.
        [
            *(BLOCK_RULE.format(n) for n in ("reconwatch_90", "reconwatch_3600")),
            "pass in quick from <reconwatch_1814400> to any",
            "block drop out quick from any to <reconwatch_1814400>",
            "block drop in quick from ! <reconwatch_1814400> to any",
            "block drop in quick from <reconwatch_18144000> to any",
        ],
    ],
    ids=["all", "in-anchor", "missing", "not-blocking"],
)
def test_pf_script_adds_nothing_unless_a_block_rule_uses_every_table(
    tmp_path: Path, rules: list[str]
) -> None:
    # A later hunt's first critical case makes a table (reconwatch_1814400) no
    # pf.conf rule uses yet: pfctl -T add would create it, and it would block
    # nothing. The script must stop before adding anything.
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "pfctl").write_text(FAKE_PFCTL)
    (bin_dir / "pfctl").chmod(0o755)
    loaded = tmp_path / "rules"
    loaded.write_text("\n".join(rules) + "\n")
    script = tmp_path / "block-pf.sh"
    script.write_text(render_pf(SMALL, "reconwatch", generated_at=WHEN))
    calls = tmp_path / "calls"
    env = {"PATH": f"{bin_dir}:/usr/bin:/bin", "RULES": str(loaded), "CALLS": str(calls)}
    done = subprocess.run(["sh", str(script)], env=env, capture_output=True, text=True)
    blocked = BLOCK_RULE.format("reconwatch_1814400") in rules
    if blocked:
        assert done.returncode == 0, done.stderr
        assert calls.read_text().splitlines() == [
            "-t reconwatch_90 -T add 45.33.32.156/32",
            "-t reconwatch_3600 -T add 198.51.100.0/29",
            "-t reconwatch_1814400 -T add 2001:db8:4::/64",
        ]
    else:
        assert done.returncode == 1
        assert "no loaded pf block rule uses table <reconwatch_1814400>" in done.stderr
        assert not calls.exists()  # nothing added to any table


def test_asa_rendering() -> None:
    text = render_asa(SMALL, generated_at=WHEN + dt.timedelta(seconds=1))
    lines = text.splitlines()
    body = lines[lines.index("") + 1 :]

    def block(seconds: int, objects: str, end: str, until: str) -> list[str]:
        group, time_range = (
            f"RECONWATCH-260930100001-{seconds}",
            f"RECONWATCH-E260930100001-{seconds}",
        )
        return [
            f"object-group network {group}",
            f" description reconwatch blocks of {seconds} s until {until}",
            objects,
            "exit",
            f"time-range {time_range}",
            f" absolute end {end}",
            "exit",
            f"access-list outside_access_in line 1 extended deny ip object-group {group} any "
            f"time-range {time_range}",
            "",
        ]

    def removal(seconds: int) -> list[str]:
        group, time_range = (
            f"RECONWATCH-260930100001-{seconds}",
            f"RECONWATCH-E260930100001-{seconds}",
        )
        return [
            f"! no access-list outside_access_in extended deny ip object-group {group} any "
            f"time-range {time_range}",
            f"! no object-group network {group}",
            f"! no time-range {time_range}",
        ]

    assert body == [
        # 10:01:31 rounds up: a block never ends before its timeout.
        *block(
            90,
            " network-object host 45.33.32.156",
            "10:02 30 September 2026",
            "2026-09-30T10:02:00Z",
        ),
        *block(
            3600,
            " network-object 198.51.100.0 255.255.255.248",
            "11:01 30 September 2026",
            "2026-09-30T11:01:00Z",
        ),
        *block(
            1814400,
            " network-object 2001:db8:4::/64",
            "10:01 21 October 2026",
            "2026-10-21T10:01:00Z",
        ),
        "! Remove (after the expiry, or to lift the blocks now), in this order:",
        *removal(90),
        *removal(3600),
        *removal(1814400),
    ]


def test_asa_never_binds_a_deny_only_acl() -> None:
    """Binding a deny-only ACL inbound replaces the interface's ACL: its implicit
    deny then drops every other inbound packet. The file only inserts ACEs at
    line 1 of the site's existing inbound ACL, whose name is configurable."""
    text = render_asa(SMALL, acl="OUTSIDE-IN", generated_at=WHEN)
    commands = [line for line in text.splitlines() if line and not line.startswith("!")]
    assert not any(line.startswith("access-group") for line in commands)
    aces = [line for line in commands if line.startswith("access-list")]
    assert len(aces) == 3
    assert all(line.startswith("access-list OUTSIDE-IN line 1 extended deny ip ") for line in aces)
    assert "existing inbound ACL OUTSIDE-IN" in text
    assert "Never bind" in text
    assert Config().respond.asa_access_list == "outside_access_in"


def test_asa_names_differ_between_runs() -> None:
    """A later run's file never adds members to, or moves the end of, an earlier run's group."""
    first = render_asa(SMALL, generated_at=WHEN)
    later = render_asa(SMALL, generated_at=WHEN + dt.timedelta(seconds=1))  # the same minute
    groups = {
        line for line in first.splitlines() if line.startswith(("object-group", "time-range"))
    }
    assert groups
    assert groups.isdisjoint(later.splitlines())
    longest = "x" * 41  # the longest name respond.asa_object_group allows
    for line in render_asa(SMALL, longest, generated_at=WHEN).splitlines():
        if line.startswith(("object-group network", "time-range")):
            assert len(line.split()[-1]) <= 64, line


def test_panos_edl_rendering() -> None:
    assert render_panos_edl(SMALL, generated_at=WHEN).splitlines() == [
        "# Reconnaissance containment generated by reconwatch for PAN-OS EDL "
        "(dry run: review, then apply).",
        "# Generated at 2026-09-30T10:00:00Z: 2 IPv4 and 1 IPv6 entries, 1 requests refused.",
        "# Entries have no expiry in PAN-OS: regenerate this file; each line gives its end.",
        "45.33.32.156/32 expires 2026-09-30T10:01:30Z case RW-0003 : sweep",
        "198.51.100.0/29 expires 2026-09-30T11:00:00Z case RW-0001 : vertical scan",
        "2001:db8:4::/64 expires 2026-10-21T10:00:00Z case RW-0002 : horizontal _sweep__ drop",
    ]


def test_fortigate_rendering() -> None:
    assert render_fortigate(SMALL, generated_at=WHEN).splitlines()[5:] == [
        "config firewall address",
        '    edit "reconwatch-45.33.32.156_32"',
        "        set subnet 45.33.32.156 255.255.255.255",
        '        set comment "until 2026-09-30T10:01:30Z case RW-0003 : sweep"',
        "    next",
        '    edit "reconwatch-198.51.100.0_29"',
        "        set subnet 198.51.100.0 255.255.255.248",
        '        set comment "until 2026-09-30T11:00:00Z case RW-0001 : vertical scan"',
        "    next",
        "end",
        "",
        "config firewall address6",
        '    edit "reconwatch-2001-db8-4--_64"',
        "        set ip6 2001:db8:4::/64",
        '        set comment "until 2026-10-21T10:00:00Z case RW-0002 : horizontal _sweep__ drop"',
        "    next",
        "end",
        "",
        "config firewall addrgrp",
        '    edit "reconwatch-v4"',
        '        set member "reconwatch-45.33.32.156_32" "reconwatch-198.51.100.0_29"',
        "    next",
        "end",
        "",
        "config firewall addrgrp6",
        '    edit "reconwatch-v6"',
        '        set member "reconwatch-2001-db8-4--_64"',
        "    next",
        "end",
    ]


def test_fortigate_empties_a_family_group_without_entries() -> None:
    # Re-run with IPv4 entries only: the IPv6 group must lose an earlier run's
    # members (FortiOS objects never expire), and a group needs one: "none".
    only_v4 = BlockPlan(tuple(e for e in SMALL.entries if e.network.version == 4), ())
    lines = render_fortigate(only_v4, generated_at=WHEN).splitlines()
    assert "config firewall address6" not in lines
    at = lines.index("config firewall addrgrp6")
    assert lines[at : at + 4] == [
        "config firewall addrgrp6",
        '    edit "reconwatch-v6"',
        '        set member "none"',
        "    next",
    ]


def test_aws_nacl_rendering_respects_the_rule_budget() -> None:
    document = json.loads(
        render_aws_nacl(SMALL, ACL, first_rule_number=10, max_rules=2, generated_at=WHEN)
    )
    assert document["entries"] == [
        {
            "NetworkAclId": ACL,
            "RuleNumber": 10,
            "Protocol": "-1",
            "RuleAction": "deny",
            "Egress": False,
            "CidrBlock": "198.51.100.0/29",
        },
        {
            "NetworkAclId": ACL,
            "RuleNumber": 11,
            "Protocol": "-1",
            "RuleAction": "deny",
            "Egress": False,
            "Ipv6CidrBlock": "2001:db8:4::/64",
        },
    ]
    assert document["omitted"] == ["45.33.32.156/32"]
    assert document["expires"][0] == {
        "RuleNumber": 10,
        "network": "198.51.100.0/29",
        "expires": "2026-09-30T11:00:00Z",
        "comment": "case RW-0001 : vertical scan",
    }
    assert document["refused"] == 1
    # The budget also stops at AWS's highest rule number.
    tail = json.loads(render_aws_nacl(SMALL, ACL, first_rule_number=32766, max_rules=18))
    assert [e["RuleNumber"] for e in tail["entries"]] == [32766]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"network_acl_id": "acl-1; rm"}, "network ACL id"),
        ({"network_acl_id": ACL, "max_rules": -1}, "max_rules"),
        ({"network_acl_id": ACL, "first_rule_number": 0}, "first_rule_number"),
        ({"network_acl_id": ACL, "first_rule_number": 32767}, "first_rule_number"),
    ],
)
def test_aws_nacl_refuses_bad_parameters(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        render_aws_nacl(SMALL, **kwargs)  # type: ignore[arg-type]


def test_crowdsec_rendering() -> None:
    assert json.loads(render_crowdsec(SMALL)) == [
        {
            "duration": "90s",
            "origin": "reconwatch",
            "reason": "case RW-0003 : sweep",
            "scope": "Ip",
            "type": "ban",
            "value": "45.33.32.156",
        },
        {
            "duration": "1h",
            "origin": "reconwatch",
            "reason": "case RW-0001 : vertical scan",
            "scope": "Range",
            "type": "ban",
            "value": "198.51.100.0/29",
        },
        {
            "duration": "504h",
            "origin": "reconwatch",
            "reason": "case RW-0002 : horizontal _sweep__ drop",
            "scope": "Range",
            "type": "ban",
            "value": "2001:db8:4::/64",
        },
    ]
    assert [crowdsec_duration(s) for s in (1, 60, 90, 3600, 5400, DAY)] == [
        "1s",
        "1m",
        "90s",
        "1h",
        "90m",
        "24h",
    ]


@pytest.mark.parametrize(
    ("render", "message"),
    [
        (lambda p: render_pf(p, "pf-table"), "pf table name"),
        (lambda p: render_pf(p, "a" * 23), "pf table name"),
        (lambda p: render_asa(p, group="G;x"), "ASA object-group name"),
        (lambda p: render_asa(p, acl="in\nterface"), "ASA access-list name"),
        (lambda p: render_fortigate(p, prefix='x"y'), "FortiGate name prefix"),
    ],
)
def test_writers_validate_names(render: Callable[[BlockPlan], str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        render(SMALL)


def entry(cidr: str, timeout: int = 60) -> BlockEntry:
    return BlockEntry(ipaddress.ip_network(cidr), ("RW-1",), "r", "low", timeout)


WRITERS: dict[str, Callable[[BlockPlan], str]] = {
    "pf": lambda p: render_pf(p, "reconwatch", generated_at=WHEN),
    "asa": lambda p: render_asa(p, generated_at=WHEN),
    "edl": lambda p: render_panos_edl(p, generated_at=WHEN),
    "fortigate": lambda p: render_fortigate(p, generated_at=WHEN),
    "aws": lambda p: render_aws_nacl(p, ACL, max_rules=1000, generated_at=WHEN),
    "crowdsec": render_crowdsec,
}
#: The property below also covers the nftables and ipset writers with widened IPv6.
ALL_WRITERS: dict[str, Callable[[BlockPlan], str]] = {
    **WRITERS,
    "nft": lambda p: render_nftables(p, "reconwatch", generated_at=WHEN),
    "ipset": lambda p: render_ipset_script(p, "reconwatch", generated_at=WHEN),
}


@pytest.mark.parametrize("name", sorted(WRITERS))
@pytest.mark.parametrize(
    ("entries", "message"),
    [
        ([entry("127.0.0.1/32")], "refusing to write 127.0.0.1/32"),
        ([entry("0.0.0.0/0")], "refusing to write 0.0.0.0/0"),
        ([entry("::/0")], "refusing to write ::/0"),
        ([entry("::ffff:127.0.0.1/128")], "IPv4-mapped 127.0.0.1/32"),
        ([entry("198.51.100.1/32", 0)], "timeout 0 is not in"),
        ([entry("198.51.100.1/32", MAX_TIMEOUT_SECONDS + 1)], "is not in"),
        ([entry("198.51.100.0/24"), entry("198.51.100.7/32")], "overlaps the entry before it"),
    ],
)
def test_every_writer_rechecks_hand_made_plans(
    name: str, entries: list[BlockEntry], message: str
) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        WRITERS[name](BlockPlan(entries=tuple(entries), refused=()))


# --- properties over arbitrary input ---

PUBLIC = ["198.51.100.0/24", "45.33.32.0/24", "2a03:2880::/56", "2001:db8:77::/120"]
PROTECTED_SAMPLES = [
    "127.0.0.0/8",
    "10.0.0.0/8",
    "169.254.0.0/16",
    "224.0.0.0/4",
    "0.0.0.0/8",
    "fe80::/10",
    "ff00::/8",
    "fc00::/7",
    "::/120",
    "2001:db8:53::/120",
]

address_texts = st.one_of(
    st.ip_addresses().map(str),
    st.sampled_from(PUBLIC).flatmap(lambda n: st.ip_addresses(network=n)).map(str),
    st.sampled_from(PROTECTED_SAMPLES).flatmap(lambda n: st.ip_addresses(network=n)).map(str),
    st.ip_addresses(v=4).map(lambda a: f"::ffff:{a}"),
    st.sampled_from(
        ["::", "::1", "255.255.255.255", "192.0.2.53", "45.33.32.200", "2001:db8:77::9"]
    ),
    st.text(alphabet="0123456789abcdef.:%/ \n;$()\"'", max_size=45),
)

requests_strategy = st.lists(
    st.builds(
        BlockRequest,
        address=address_texts,
        case_id=st.one_of(st.from_regex(r"RW-[0-9]{4}", fullmatch=True), st.text(max_size=20)),
        reason=st.text(max_size=200),
        severity=st.sampled_from(["low", "medium", "high", "critical"]),
        timeout_seconds=st.one_of(
            st.sampled_from([60, 90, HOUR, DAY, 21 * DAY]), st.integers(-5, MAX_TIMEOUT_SECONDS + 5)
        ),
    ),
    max_size=40,
)


def touches_protected(network: IPNetwork) -> bool:
    if any(network.version == p.version and network.overlaps(p) for p in PROTECTED.networks()):
        return True
    if network.prefixlen < (8 if network.version == 4 else 32):
        return True
    mapped = ipaddress.ip_network("::ffff:0:0/96")
    return isinstance(network, ipaddress.IPv6Network) and network.overlaps(mapped)


def net(text: str) -> IPNetwork:
    return ipaddress.ip_network(text, strict=True)


_STAMP = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ"
_SAFE = r"[A-Za-z0-9 ._:,/+=@()-]*"
_CIDR = r"[0-9a-f.:]+/\d+"


#: The pf script's fixed lines: the check that a loaded rule uses every table.
PF_GUARD = re.compile(
    r"for t in (?:reconwatch_\d+ ?)+; do"
    r"|  pfctl -s rules \| grep -qE "
    r'"\^block\[\[:space:\]\]\.\*from <\$t>" \|\| \{'
    r'|    echo "no loaded pf block rule uses table <\$t>: add its pf.conf lines above," \\'
    r'|      "then pfctl -f /etc/pf.conf" >&2'
    r"|    exit 1|  \}|done"
)


def pf_networks(text: str) -> list[IPNetwork]:
    found: list[IPNetwork] = []
    for line in text.splitlines():
        if line.startswith("pfctl -t "):
            match = re.fullmatch(r"pfctl -t reconwatch_\d+ -T add ((?:\S+ ?)+)", line)
            assert match, line
            found += [net(t) for t in match[1].split()]
        else:
            assert (
                line == "" or line == "set -eu" or line.startswith("#") or PF_GUARD.fullmatch(line)
            ), line
    return found


def asa_networks(text: str) -> list[IPNetwork]:
    found: list[IPNetwork] = []
    allowed = re.compile(
        r"(!.*|exit|object-group network RECONWATCH-\d{12}-\d+"
        rf"| description reconwatch blocks of \d+ s until {_STAMP}"
        r"|time-range RECONWATCH-E\d{12}-\d+| absolute end \d\d:\d\d \d+ [A-Z][a-z]+ \d{4}"
        r"|access-list outside_access_in line 1 extended deny ip object-group"
        r" RECONWATCH-\d{12}-\d+ any time-range RECONWATCH-E\d{12}-\d+|)"
    )
    for line in text.splitlines():
        if match := re.fullmatch(r" network-object host ([0-9a-f.:]+)", line):
            found.append(ipaddress.ip_network(match[1]))
        elif match := re.fullmatch(r" network-object ([0-9.]+) ([0-9.]+)", line):
            found.append(net(f"{match[1]}/{match[2]}"))
        elif match := re.fullmatch(r" network-object ([0-9a-f:]+/\d+)", line):
            found.append(net(match[1]))
        else:
            assert allowed.fullmatch(line), line
    return found


def edl_networks(text: str) -> list[IPNetwork]:
    found: list[IPNetwork] = []
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        match = re.fullmatch(rf"({_CIDR}) expires {_STAMP} ({_SAFE})", line)
        assert match, line
        found.append(net(match[1]))
    return found


def forti_networks(text: str) -> list[IPNetwork]:
    found: list[IPNetwork] = []
    allowed = re.compile(
        r"(#.*|config firewall (address|address6|addrgrp|addrgrp6)|end|    next|"
        rf'    edit "reconwatch-[0-9a-f.\-_]+"|        set comment "until {_STAMP} {_SAFE}"|'
        r'        set member( "reconwatch-[0-9a-f.\-_]+")+|        set member "none"|'
        r'    edit "reconwatch-v[46]"|)'
    )
    for line in text.splitlines():
        if match := re.fullmatch(r"        set subnet ([0-9.]+) ([0-9.]+)", line):
            found.append(net(f"{match[1]}/{match[2]}"))
        elif match := re.fullmatch(r"        set ip6 ([0-9a-f:]+/\d+)", line):
            found.append(net(match[1]))
        else:
            assert allowed.fullmatch(line), line
    return found


def aws_networks(text: str) -> list[IPNetwork]:
    document = json.loads(text)
    found = []
    for item in document["entries"]:
        assert set(item) in (
            {"NetworkAclId", "RuleNumber", "Protocol", "RuleAction", "Egress", "CidrBlock"},
            {"NetworkAclId", "RuleNumber", "Protocol", "RuleAction", "Egress", "Ipv6CidrBlock"},
        )
        assert item["RuleAction"] == "deny"
        assert item["Egress"] is False
        found.append(net(item.get("CidrBlock") or item["Ipv6CidrBlock"]))
    return found + [net(n) for n in document["omitted"]]


def crowdsec_networks(text: str) -> list[IPNetwork]:
    found = []
    for item in json.loads(text):
        assert set(item) == {"duration", "origin", "reason", "scope", "type", "value"}
        assert item["type"] == "ban"
        assert item["origin"] == "reconwatch"
        assert re.fullmatch(r"\d+[hms]", item["duration"])
        assert re.fullmatch(_SAFE, item["reason"])
        value = ipaddress.ip_network(item["value"])
        assert item["scope"] == ("Ip" if value.num_addresses == 1 else "Range")
        found.append(value)
    return found


def nft_networks(text: str) -> list[IPNetwork]:
    found = re.findall(r'^\t\t\t(\S+) timeout \d+[smhd] comment "[^"]*",$', text, re.M)
    return [net(n) for n in found]


def ipset_networks(text: str) -> list[IPNetwork]:
    found = re.findall(r'^add \S+ (\S+) timeout \d+ comment "[^"]*"$', text, re.M)
    return [net(n) for n in found]


EXTRACTORS: dict[str, Callable[[str], list[IPNetwork]]] = {
    "nft": nft_networks,
    "ipset": ipset_networks,
    "pf": pf_networks,
    "asa": asa_networks,
    "edl": edl_networks,
    "fortigate": forti_networks,
    "aws": aws_networks,
    "crowdsec": crowdsec_networks,
}


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(requests_strategy, st.integers(0, 30), st.sampled_from([64, 128, 56, 96]))
def test_no_writer_ever_outputs_a_protected_address(
    requests: list[BlockRequest], budget: int, prefix: int
) -> None:
    plan = build_blocklist(requests, PROTECTED, budget, ipv6_prefix=prefix)
    expected = sorted(str(e.network) for e in plan.entries)
    for entry_ in plan.entries:
        assert not touches_protected(entry_.network), entry_
    for name, render in ALL_WRITERS.items():
        text = render(plan)
        found = EXTRACTORS[name](text)
        assert sorted(str(n) for n in found) == expected, name
        for network in found:
            assert not touches_protected(network), (name, network)
        # Request text (addresses, case ids, reasons) never reaches a format
        # except through the sanitized comment charset.
        for request in requests:
            if isinstance(request.address, str) and len(request.address) > 4:
                bad = set(request.address) - set("0123456789abcdef.:")
                if bad:
                    assert request.address not in text, (name, request.address)


@settings(max_examples=100, deadline=None)
@given(requests_strategy)
def test_aws_budget_keeps_the_most_severe(requests: list[BlockRequest]) -> None:
    plan = build_blocklist(requests, PROTECTED, 50, ipv6_prefix=64)
    document = json.loads(render_aws_nacl(plan, ACL, max_rules=3))
    kept = [e.get("CidrBlock") or e["Ipv6CidrBlock"] for e in document["entries"]]
    assert len(kept) == min(3, len(plan.entries))
    assert [e["RuleNumber"] for e in document["entries"]] == list(range(1, len(kept) + 1))
    rank = {"low": 0, "medium": 1, "high": 2, "critical": 3}
    by_net = {str(e.network): e for e in plan.entries}
    if document["omitted"] and kept:
        worst_kept = min((rank[by_net[n].severity], by_net[n].timeout_seconds) for n in kept)
        best_omitted = max(
            (rank[by_net[n].severity], by_net[n].timeout_seconds) for n in document["omitted"]
        )
        assert worst_kept >= best_omitted


def test_write_vendor_files(tmp_path: Path) -> None:
    written = write_vendor_files(
        SMALL,
        tmp_path,
        ["crowdsec", "pf", "asa", "panos_edl", "fortigate", "aws_nacl", "pf"],
        aws_network_acl_id=ACL,
        generated_at=WHEN,
    )
    assert {k: p.name for k, p in written.items()} == {
        "crowdsec": "block-crowdsec.json",
        "pf": "block-pf.sh",
        "asa": "block-asa.txt",
        "panos_edl": "block-panos-edl.txt",
        "fortigate": "block-fortigate.txt",
        "aws_nacl": "block-aws-nacl.json",
    }
    assert written["pf"].read_text(encoding="utf-8") == render_pf(
        SMALL, "reconwatch", generated_at=WHEN
    )
    assert json.loads(written["crowdsec"].read_text(encoding="utf-8")) == json.loads(
        render_crowdsec(SMALL)
    )


@pytest.mark.parametrize(
    ("writers", "kwargs", "message"),
    [
        (["pf", "iptables"], {}, "unknown writers ['iptables']"),
        (["crowdsec", "aws_nacl"], {}, "needs respond.aws_network_acl_id"),
        (["crowdsec", "pf"], {"pf_table": "bad-name"}, "pf table name"),
    ],
)
def test_write_vendor_files_writes_nothing_on_error(
    tmp_path: Path, writers: list[str], kwargs: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        write_vendor_files(SMALL, tmp_path, writers, **kwargs)
    assert list(tmp_path.iterdir()) == []
