"""Distributed (coordinated) scans: members of one sweep share one campaign label."""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

import ibis
import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import BASE_TIME, network_rows
from reconwatch.campaign_labels import Signature, by_signature, label_signature
from reconwatch.cases import Finding, actor_of, joined_actors
from reconwatch.config import DistributedScanConfig, HorizontalScanConfig
from reconwatch.detect.campaign import distributed_scan, ipv4_net24
from reconwatch.detect.portscan import horizontal_scan

#: 2026-09-30 10:00:00 UTC in epoch seconds: the campaign window of BASE_TIME.
WINDOW_EPOCH = 1790762400
LABEL = f"campaign:tcp/22@203.0.113.0/24@{WINDOW_EPOCH}"


def at(seconds: float) -> dt.datetime:
    return BASE_TIME + dt.timedelta(seconds=seconds)


def table(rows: list[dict[str, Any]]) -> ibis.Table:
    return ibis.memtable(network_rows(rows))


def slice_sweep(
    source: str, hosts: range, *, port: int = 22, offset: float = 0, step: float = 50
) -> list[dict[str, Any]]:
    """One failed probe of ``port`` per host 203.0.113.h for h in ``hosts``, ``step`` s apart."""
    return [
        {
            "source_ip": source,
            "destination_ip": f"203.0.113.{h}",
            "destination_port": port,
            "seconds": offset + n * step,
        }
        for n, h in enumerate(hosts)
    ]


def coordinated() -> list[dict[str, Any]]:
    """Four sources, 64 hosts each: the four quarters of one /24 on tcp/22 within an hour."""
    rows: list[dict[str, Any]] = []
    for s in range(4):
        rows += slice_sweep(f"198.51.100.{s + 1}", range(64 * s, 64 * s + 64), offset=s)
    return rows


def findings(expr: ibis.Table) -> list[dict[str, Any]]:
    return sorted(expr.to_pyarrow().to_pylist(), key=lambda f: (f["label"], f["source_ip"]))


def test_coordinated_sweep_is_one_campaign_of_four_exact_findings() -> None:
    result = findings(distributed_scan(table(coordinated()), DistributedScanConfig()))
    assert result == [
        {
            "detection": "distributed_scan",
            "source_ip": f"198.51.100.{s + 1}",
            "window_start": at(0),
            "first_seen": at(s),
            "last_seen": at(s + 63 * 50),
            "event_count": 64,
            "target_count": 64,
            "port_count": 1,
            "targets": sorted(f"203.0.113.{h}" for h in range(64 * s, 64 * s + 64)),
            "ports": [22],
            "score": 256.0,
            "label": LABEL,
        }
        for s in range(4)
    ]


def test_each_member_stays_under_the_horizontal_threshold() -> None:
    # The reason the detection exists: no single member is a horizontal scan.
    assert horizontal_scan(table(coordinated()), HorizontalScanConfig()).to_pyarrow().num_rows == 0


def test_unrelated_sources_on_different_ports_are_no_campaign() -> None:
    rows: list[dict[str, Any]] = []
    for s, port in enumerate((22, 23, 80, 443)):
        rows += slice_sweep(f"192.0.2.{s + 1}", range(64 * s, 64 * s + 64), port=port)
    assert findings(distributed_scan(table(rows), DistributedScanConfig())) == []


def test_independent_scanners_of_the_same_hosts_are_no_campaign() -> None:
    # Four sources each sweeping the same 64 hosts on tcp/22: overlap ratio 4,
    # what worms and research scanners look like, not a split sweep.
    rows: list[dict[str, Any]] = []
    for s in range(4):
        rows += slice_sweep(f"192.0.2.{s + 1}", range(64), offset=s)
    assert findings(distributed_scan(table(rows), DistributedScanConfig())) == []


def test_two_sources_are_too_few_and_small_slices_do_not_join() -> None:
    # Two sources covering half the /24 each: under min_sources (3).
    rows = slice_sweep("198.51.100.1", range(128), step=25) + slice_sweep(
        "198.51.100.2", range(128, 256), step=25
    )
    assert findings(distributed_scan(table(rows), DistributedScanConfig())) == []
    # A third source with 7 hosts (under min_member_hosts 8) does not make it a campaign.
    rows += slice_sweep("198.51.100.3", range(7))
    assert findings(distributed_scan(table(rows), DistributedScanConfig())) == []
    # With 8 hosts it does; the covered hosts are 256 (its slice overlaps).
    rows += slice_sweep("198.51.100.3", range(7, 8), offset=1000)
    result = findings(distributed_scan(table(rows), DistributedScanConfig()))
    assert [(f["source_ip"], f["target_count"], f["score"]) for f in result] == [
        ("198.51.100.1", 128, 256.0),
        ("198.51.100.2", 128, 256.0),
        ("198.51.100.3", 8, 256.0),
    ]


def test_a_fast_member_is_left_out_but_the_others_still_form_a_campaign() -> None:
    rows = coordinated()
    # Source 5 sweeps 30 hosts in 30 s: a horizontal scan, found by that detection.
    rows += slice_sweep("198.51.100.5", range(30), step=1)
    result = findings(distributed_scan(table(rows), DistributedScanConfig()))
    assert [f["source_ip"] for f in result] == [f"198.51.100.{s}" for s in range(1, 5)]


def test_successful_connections_do_not_count() -> None:
    rows = [
        {**row, "connection_outcome": "succeeded", "event_action": "allowed"}
        if row["source_ip"] == "198.51.100.4"
        else row
        for row in coordinated()
    ]
    # Three members left covering 192 hosts: still a campaign, of three.
    result = findings(distributed_scan(table(rows), DistributedScanConfig()))
    assert [(f["source_ip"], f["score"]) for f in result] == [
        (f"198.51.100.{s}", 192.0) for s in range(1, 4)
    ]
    cfg = DistributedScanConfig(min_total_hosts=193)
    assert findings(distributed_scan(table(rows), cfg)) == []


def test_campaigns_in_two_hours_have_two_labels() -> None:
    rows = coordinated() + [{**row, "seconds": row["seconds"] + 3600} for row in coordinated()]
    labels = sorted(
        {f["label"] for f in findings(distributed_scan(table(rows), DistributedScanConfig()))}
    )
    assert labels == [LABEL, f"campaign:tcp/22@203.0.113.0/24@{WINDOW_EPOCH + 3600}"]


def test_ipv4_net24_is_the_first_three_octets_and_null_for_ipv6() -> None:
    ips = ibis.memtable(pa.table({"ip": ["203.0.113.5", "10.1.2.3", "2001:db8::1"]}))
    result = ips.select(net=ipv4_net24(ips.ip)).to_pyarrow().column("net").to_pylist()
    assert result == ["203.0.113", "10.1.2", None]


def test_a_campaign_case_counts_distinct_ports_hosts_and_pairs_over_its_members() -> None:
    """Four members on tcp/22: one port, not four; hosts and pairs of the union."""
    from reconwatch.cases import build_cases

    rows = coordinated()
    # Two members also probe one same extra host and port: counted once in the union.
    rows += [
        {"source_ip": s, "destination_ip": "203.0.113.255", "destination_port": 23, "seconds": 9}
        for s in ("198.51.100.1", "198.51.100.2")
    ]
    network = table(rows)
    found = distributed_scan(network, DistributedScanConfig()).to_pyarrow()
    (case,) = build_cases(network, found, 3)
    assert case.campaign == LABEL and len(case.sources) == 4
    activity = case.activity
    assert (activity.port_count, activity.target_count) == (2, 256)  # .255 is in the sweep
    assert activity.probed_pairs == 257  # 256 hosts on 22 and one on 23
    assert activity.events == 258  # event counts stay sums


def test_one_sweep_over_two_ports_and_two_hours_is_one_campaign_case() -> None:
    """The same four sources on tcp/22 and tcp/80, this hour and the next:
    four labels, one case, known by the first hour's tcp/22 label."""
    from reconwatch.cases import build_cases

    hour = coordinated()
    rows = [*hour, *({**row, "destination_port": 80} for row in hour)]
    rows += [{**row, "seconds": row["seconds"] + 3600} for row in rows]
    network = table(rows)
    found = distributed_scan(network, DistributedScanConfig()).to_pyarrow()
    assert len(set(found.column("label").to_pylist())) == 4
    (case,) = build_cases(network, found, 3)
    assert case.campaign == case.actor == LABEL
    assert case.sources == [f"198.51.100.{s}" for s in range(1, 5)]
    assert len(case.findings) == 16 and case.ports == [22, 80]
    assert (case.activity.port_count, case.activity.target_count) == (2, 256)


def test_campaigns_without_a_shared_member_stay_apart() -> None:
    from reconwatch.cases import build_cases

    rows = coordinated()
    # Four other sources split the same /24 on tcp/80 in the same hour.
    for s in range(4):
        rows += slice_sweep(f"192.0.2.{s + 1}", range(64 * s, 64 * s + 64), port=80, offset=s)
    network = table(rows)
    found = distributed_scan(network, DistributedScanConfig()).to_pyarrow()
    cases = build_cases(network, found, 3)
    assert sorted((c.campaign, len(c.sources)) for c in cases) == [
        (f"campaign:tcp/22@203.0.113.0/24@{WINDOW_EPOCH}", 4),
        (f"campaign:tcp/80@203.0.113.0/24@{WINDOW_EPOCH}", 4),
    ]


def test_label_signature_reads_the_label_contract_and_nothing_else() -> None:
    assert label_signature(LABEL) == Signature(WINDOW_EPOCH, "tcp", 22, (203, 0, 113))
    assert label_signature("campaign:unknown/0@10.0.0.0/24@0") == Signature(
        0, "unknown", 0, (10, 0, 0)
    )
    for other in (
        "campaign:ipv6@2001:db8::/64",
        "198.51.100.1",
        LABEL + "x",
        "campaign:tcp/22@1.2.3.0/24",
    ):
        assert label_signature(other) is None


def test_sweeps_rank_by_hour_then_port_as_a_number() -> None:
    hour = WINDOW_EPOCH
    labels = [
        f"campaign:tcp/10@203.0.113.0/24@{hour}",
        f"campaign:tcp/9@203.0.113.0/24@{hour + 3600}",
        f"campaign:tcp/9@203.0.113.0/24@{hour}",
        f"campaign:tcp/9@203.0.2.0/24@{hour}",
        "campaign:other",
        f"campaign:udp/9@203.0.113.0/24@{hour}",
    ]
    # Text order would put port 10 before 9 and 203.0.113 before 203.0.2.
    assert by_signature(set(labels)) == [
        f"campaign:tcp/9@203.0.2.0/24@{hour}",
        f"campaign:tcp/9@203.0.113.0/24@{hour}",
        f"campaign:tcp/10@203.0.113.0/24@{hour}",
        f"campaign:udp/9@203.0.113.0/24@{hour}",
        f"campaign:tcp/9@203.0.113.0/24@{hour + 3600}",
        "campaign:other",
    ]


def _member_finding(source: str, label: str) -> Finding:
    return Finding(
        detection="distributed_scan",
        source_ip=source,
        window_start=None,
        first_seen=at(0),
        last_seen=at(1),
        event_count=8,
        target_count=8,
        port_count=1,
        targets=[],
        ports=[],
        score=64.0,
        label=label,
    )


def _components(memberships: dict[str, set[str]]) -> list[set[str]]:
    """Labels linked by shared members, by a walk over the graph (the reference)."""
    left, groups = set(memberships), []
    while left:
        todo, group = [left.pop()], set()
        while todo:
            label = todo.pop()
            group.add(label)
            near = {o for o in left if memberships[o] & memberships[label]}
            left -= near
            todo += near
        groups.append(group)
    return groups


@settings(max_examples=300, deadline=None)
@given(
    st.dictionaries(
        # Ports and /24s whose text order is not their order (9 < 10, 22 < 100).
        st.tuples(
            st.integers(0, 3),
            st.sampled_from(["tcp", "udp"]),
            st.sampled_from([9, 10, 22, 100]),
            st.sampled_from(["203.0.113", "198.51.100", "10.9.0", "10.10.0"]),
        ),
        st.sets(st.integers(0, 9), min_size=1, max_size=4),
        max_size=8,
    ),
    st.sets(st.integers(0, 9), max_size=3),
    st.randoms(use_true_random=False),
)
def test_joined_actors_are_the_connected_labels_known_by_the_first_key_or_label(
    campaigns: dict[tuple[int, str, int, str], set[int]], loners: set[int], order: random.Random
) -> None:
    def label(window: int, transport: str, port: int, net: str) -> str:
        return f"campaign:{transport}/{port}@{net}.0/24@{3600 * window}"

    by_actor: dict[str, list[Finding]] = {
        label(*key): [_member_finding(f"192.0.2.{m}", label(*key)) for m in sorted(members)]
        for key, members in campaigns.items()
    }
    # Sources on their own (and a rotating IPv6 campaign) are never joined.
    for m in loners:
        by_actor[f"192.0.2.{m}"] = [_member_finding(f"192.0.2.{m}", "SYN")]
    by_actor["campaign:ipv6@2001:db8::/64"] = [
        _member_finding("2001:db8::1", "campaign:ipv6@2001:db8::/64")
    ]
    memberships = {label(*k): {f"192.0.2.{m}" for m in ms} for k, ms in campaigns.items()}

    found = [f for items in by_actor.values() for f in items]
    order.shuffle(found)  # the findings' order must not matter
    # Keys an earlier hunt knew a sweep by (some labels, a source, a label not here).
    keys = {a for a in by_actor if order.random() < 0.3} | {label(9, "tcp", 1, "10.0.0")}
    joined = joined_actors(found, keys)

    def first(group: set[str]) -> str:
        """The earliest hour, then transport, port and /24 as numbers (the reference order)."""

        def order(label: str) -> tuple[int, str, int, tuple[int, ...]]:
            transport, rest = label.removeprefix("campaign:").split("/", 1)
            port, net, window = rest.split("@")
            octets = tuple(int(o) for o in net.removesuffix(".0/24").split("."))
            return (int(window), transport, int(port), octets)

        return min(group, key=order)

    # A group holding known keys is known by the first of them, else by its first label.
    expected = {first(group & keys or group): group for group in _components(memberships)}
    expected.update({actor: {actor} for actor in by_actor if actor not in memberships})
    # Which of by_actor's actors each joined actor's findings came from.
    came_from: dict[str, set[str]] = {}
    for f in found:
        came_from.setdefault(joined[actor_of(f)], set()).add(actor_of(f))
    assert came_from == expected
    assert set(joined) == set(by_actor)
