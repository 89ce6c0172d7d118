"""Findings -> cases: one case per actor, with the facts triage needs.

An actor is one source IP for now (later: a /24, a /64, or a campaign of many
sources). The facts are gathered from the lake in a handful of set-based
queries for all actors at once (never one query per case): activity totals,
what answered the actor, probe types, and sample events with file:line for
every finding.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import ibis
import ibis.expr.types as ir
import pyarrow as pa

from reconwatch.detect.scantype import scan_types

#: Cap on list-valued facts kept per case (targets, ports, exposed services):
#: a /16 sweep has 65,536 targets; counts stay exact, lists are samples.
LIST_CAP = 100


@dataclass
class Evidence:
    """One sample event behind a finding, pointing back to its line."""

    log_file: str
    log_line: int
    timestamp: dt.datetime
    destination_ip: str
    destination_port: int | None
    network_transport: str | None
    tcp_flags: str | None
    event_action: str | None
    connection_state: str | None

    def location(self) -> str:
        return f"{self.log_file}:{self.log_line}"


@dataclass
class Finding:
    """A detection result for one actor, as cases and reports use it."""

    detection: str
    source_ip: str
    window_start: dt.datetime | None
    first_seen: dt.datetime
    last_seen: dt.datetime
    event_count: int
    target_count: int
    port_count: int
    targets: list[str]
    ports: list[int]
    score: float
    label: str | None
    evidence: list[Evidence] = field(default_factory=list)

    def describe(self) -> str:
        """One sentence an analyst reads in a summary."""
        span = _duration(self.last_seen - self.first_seen)
        if self.detection == "vertical_scan":
            return f"{self.port_count} ports of {self.label} probed within {span}"
        if self.detection == "horizontal_scan":
            return f"{self.target_count} hosts probed on {self.label} within {span}"
        if self.detection == "block_scan":
            return (
                f"{self.target_count} hosts x {self.port_count} ports probed "
                f"({int(self.score)} host:port pairs) within {span}"
            )
        if self.detection == "flag_scan":
            return f"{self.event_count} stealth-scan packets ({self.label}) within {span}"
        if self.detection == "trw_scan":
            return (
                f"sequential test (TRW) flagged it {self.label} "
                f"({self.target_count} hosts, log-likelihood {self.score:.1f})"
            )
        return f"{self.event_count} events within {span}"


@dataclass
class Activity:
    """Everything the lake says about one source, not only what a detection flagged."""

    events: int = 0
    failed: int = 0
    succeeded: int = 0
    first_seen: dt.datetime | None = None
    last_seen: dt.datetime | None = None
    target_count: int = 0
    port_count: int = 0
    #: Distinct host:port pairs among failed attempts: the breadth of probing.
    probed_pairs: int = 0
    #: "ip:port/proto" services that answered or were let through (exposure).
    exposed: list[str] = field(default_factory=list)
    exposed_count: int = 0
    #: psad-style probe type -> packets.
    probe_types: dict[str, int] = field(default_factory=dict)
    datasets: list[str] = field(default_factory=list)


@dataclass
class Case:
    """One actor's case; triage fills the decision fields."""

    id: str
    sources: list[str]
    findings: list[Finding]
    activity: Activity
    internal: bool = False
    techniques: list[str] = field(default_factory=list)
    severity: str = "low"
    escalate: bool = False
    reasons: list[str] = field(default_factory=list)
    disposition: str = "suspicious"
    answers: dict[str, str] = field(default_factory=dict)
    containment: dict[str, Any] = field(default_factory=dict)

    @property
    def detections(self) -> list[str]:
        return sorted({f.detection for f in self.findings})

    @property
    def first_seen(self) -> dt.datetime:
        return min(f.first_seen for f in self.findings)

    @property
    def last_seen(self) -> dt.datetime:
        return max(f.last_seen for f in self.findings)

    @property
    def targets(self) -> list[str]:
        return sorted({t for f in self.findings for t in f.targets})

    @property
    def ports(self) -> list[int]:
        return sorted({p for f in self.findings for p in f.ports})


def _duration(delta: dt.timedelta) -> str:
    seconds = int(delta.total_seconds())
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    return f"{seconds // 3600} h {seconds % 3600 // 60} min"


def case_id(source: str, first_seen: dt.datetime) -> str:
    """Stable id: the same actor starting at the same moment gets the same id on a rerun."""
    digest = hashlib.sha256(f"{source}|{first_seen.isoformat()}".encode()).hexdigest()
    return f"RW-{first_seen:%Y%m%d}-{digest[:8]}"


def build_cases(network: ir.Table, findings: pa.Table, evidence_samples: int) -> list[Case]:
    """Group findings by source and attach activity facts and evidence from ``network``."""
    if findings.num_rows == 0:
        return []
    rows = findings.to_pylist()
    found = [_finding(row) for row in rows]
    sources = sorted({f.source_ip for f in found})
    actors = ibis.memtable(pa.table({"actor": pa.array(sources, pa.string())}))
    events = network.join(actors, network.source_ip == actors.actor).select(network)
    activity = _activity(events)
    _attach_evidence(events, found, evidence_samples)
    by_source: dict[str, list[Finding]] = defaultdict(list)
    for finding in found:
        by_source[finding.source_ip].append(finding)
    cases = []
    for source in sources:
        items = sorted(by_source[source], key=lambda f: (f.first_seen, f.detection))
        first = min(f.first_seen for f in items)
        cases.append(
            Case(
                id=case_id(source, first),
                sources=[source],
                findings=items,
                activity=activity.get(source, Activity()),
            )
        )
    return cases


def _finding(row: dict[str, Any]) -> Finding:
    return Finding(
        detection=row["detection"],
        source_ip=row["source_ip"],
        window_start=row["window_start"],
        first_seen=row["first_seen"],
        last_seen=row["last_seen"],
        event_count=row["event_count"],
        target_count=row["target_count"],
        port_count=row["port_count"],
        targets=list(row["targets"] or []),
        ports=list(row["ports"] or []),
        score=row["score"],
        label=row["label"],
    )


def _activity(events: ir.Table) -> dict[str, Activity]:
    failed = events.connection_outcome == "failed"
    succeeded = events.connection_outcome == "succeeded"
    totals = events.group_by("source_ip").aggregate(
        events=events.count(),
        failed=failed.ifelse(1, 0).sum(),
        succeeded=succeeded.ifelse(1, 0).sum(),
        first_seen=events.timestamp.min(),
        last_seen=events.timestamp.max(),
        target_count=events.destination_ip.nunique(),
        port_count=events.destination_port.nunique(),
        datasets=events.event_dataset.collect(distinct=True),
    )
    result: dict[str, Activity] = {}
    for row in totals.to_pyarrow().to_pylist():
        result[row["source_ip"]] = Activity(
            events=row["events"],
            failed=row["failed"] or 0,
            succeeded=row["succeeded"] or 0,
            first_seen=row["first_seen"],
            last_seen=row["last_seen"],
            target_count=row["target_count"],
            port_count=row["port_count"],
            datasets=sorted(row["datasets"] or []),
        )

    pairs = (
        events.filter(failed)
        .select("source_ip", "destination_ip", "destination_port")
        .distinct()
        .group_by("source_ip")
        .aggregate(pairs=ibis._.count())
    )
    for row in pairs.to_pyarrow().to_pylist():
        result[row["source_ip"]].probed_pairs = row["pairs"]

    services = (
        events.filter(succeeded)
        .select("source_ip", "destination_ip", "destination_port", "network_transport")
        .distinct()
        .order_by(["source_ip", "destination_ip", "destination_port", "network_transport"])
    )
    for row in services.to_pyarrow().to_pylist():
        activity = result[row["source_ip"]]
        activity.exposed_count += 1
        if len(activity.exposed) < LIST_CAP:
            activity.exposed.append(_service(row))

    for row in scan_types(events).to_pyarrow().to_pylist():
        result[row["source_ip"]].probe_types[row["probe_type"]] = row["packets"]
    return result


def _service(row: dict[str, Any]) -> str:
    host = row["destination_ip"]
    host = f"[{host}]" if ":" in host else host
    port = row["destination_port"]
    proto = row["network_transport"] or "ip"
    return f"{host}:{port}/{proto}" if port is not None else f"{host}/{proto}"


def _attach_evidence(events: ir.Table, found: list[Finding], samples: int) -> None:
    """Give each finding its first ``samples`` supporting events, in one query."""
    spans = ibis.memtable(
        pa.table(
            {
                "finding": pa.array(range(len(found)), pa.int64()),
                "actor": pa.array([f.source_ip for f in found], pa.string()),
                "span_start": pa.array([f.first_seen for f in found], pa.timestamp("us", "UTC")),
                "span_end": pa.array([f.last_seen for f in found], pa.timestamp("us", "UTC")),
            }
        )
    )
    joined = events.join(
        spans,
        [
            events.source_ip == spans.actor,
            events.timestamp >= spans.span_start,
            events.timestamp <= spans.span_end,
        ],
    )
    # Failed attempts first: they are what the scan detections counted.
    not_failed = (joined.connection_outcome == "failed").ifelse(0, 1)
    ranked = joined.mutate(
        rank=ibis.row_number().over(
            group_by=joined.finding,
            order_by=[not_failed, joined.timestamp, joined.log_file, joined.log_line],
        )
    )
    picked = ranked.filter(ranked["rank"] < samples).order_by(["finding", "rank"])
    columns = [
        "finding",
        "log_file",
        "log_line",
        "timestamp",
        "destination_ip",
        "destination_port",
        "network_transport",
        "tcp_flags",
        "event_action",
        "connection_state",
    ]
    for row in picked.select(*columns).to_pyarrow().to_pylist():
        index = row.pop("finding")
        found[index].evidence.append(Evidence(**row))
