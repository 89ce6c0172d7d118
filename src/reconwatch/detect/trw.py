"""Threshold Random Walk: flag a scanner after a handful of failed first contacts.

Jung, Paxson, Berger and Balakrishnan, "Fast Portscan Detection Using
Sequential Hypothesis Testing" (IEEE S&P 2004). A benign source mostly
reaches the hosts it contacts (it learnt them from DNS, links, config); a
scanner guesses, so most of its first contacts fail. Each *first* contact of
a source with a destination host is one Bernoulli trial -- later connections
to the same host say nothing new about how the source picks targets. With
success probabilities theta0 (benign) and theta1 (scanner), the
log-likelihood ratio of "scanner" over "benign" moves by

* ``ln(theta1 / theta0)`` on a success (down: ln 0.25 = -1.386 by default),
* ``ln((1 - theta1) / (1 - theta0))`` on a failure (up: ln 4 = +1.386).

The walk starts at 0 and stops at the first boundary it crosses:
``ln(PD / PF)`` (= ln 99 = 4.595) means scanner, ``ln((1 - PD) / (1 - PF))``
(= -4.595) means benign. With the defaults, 4 failed first contacts in a row
flag a source (3 reach only 4.159), and a source whose first contacts mostly
succeed drifts down and is cleared. As in the paper, the decision is final:
a source cleared after four successes is not flagged by failures that come
later (that is what the windowed scan detections are for).

Portable formulation: the walk is not summed as floats along the rows (a
window SUM may associate differently on DuckDB and Spark); each first contact
gets its running counts of failures and successes from integer window sums,
and the LLR at that contact is ``failures * up + successes * down``, the same
on every engine.
"""

from __future__ import annotations

import math
from typing import Final

import ibis
import ibis.expr.types as ir

from reconwatch.config import TRWConfig
from reconwatch.detect.portscan import FINDING_TYPES, as_findings

TRW_SCAN: Final = "trw_scan"


def first_contacts(network: ir.Table) -> ir.Table:
    """The first event of each (source, destination host), with a known outcome.

    Ties on the timestamp are broken by file and line, the order the events
    were logged in. A pair whose first event has no outcome (or one outside
    failed/succeeded) is skipped: its trial result is unknown, and a later
    event is not a first contact. Events without a destination address are
    no contact with a host: left out, not one "host" of their own.
    """
    network = network.filter(network.destination_ip.notnull())
    pair = ibis.window(
        group_by=["source_ip", "destination_ip"],
        order_by=["timestamp", "log_file", "log_line"],
    )
    numbered = network.mutate(_pair_row=ibis.row_number().over(pair))
    first = numbered.filter(numbered._pair_row == 0)
    return first.filter(first.connection_outcome.isin(("failed", "succeeded"))).drop("_pair_row")


def walk(network: ir.Table, cfg: TRWConfig) -> ir.Table:
    """Every first contact with its place in its source's walk.

    Adds ``contact`` (1-based number of the first contact for the source,
    in the order the probes were logged: time, then file and line, so that a
    firewall's one-second stamps do not reorder a burst; then destination as
    a last tie-breaker) and ``llr`` (the walk's value after it).
    """
    up = math.log((1 - cfg.theta1) / (1 - cfg.theta0))
    down = math.log(cfg.theta1 / cfg.theta0)
    contacts = first_contacts(network)
    contacts = contacts.mutate(_failed=(contacts.connection_outcome == "failed").cast("int64"))
    order = ["timestamp", "log_file", "log_line", "destination_ip"]
    so_far = ibis.cumulative_window(group_by="source_ip", order_by=order)
    numbered = contacts.mutate(
        _row=ibis.row_number().over(ibis.window(group_by="source_ip", order_by=order)),
        _failures=contacts._failed.sum().over(so_far),
    )
    counted = numbered.mutate(contact=(numbered._row + 1).cast("int64"))
    failures = counted._failures
    successes = counted.contact - failures
    return counted.mutate(llr=failures * up + successes * down).drop("_failed", "_row", "_failures")


def trw_least_events(cfg: TRWConfig) -> int:
    """Failed events a source needs before its walk can reach the scanner boundary.

    A walk only climbs on failed first contacts, by ``up`` each, so reaching
    ``ln(PD/PF)`` takes at least ``ln(PD/PF) / up`` of them, hence as many
    failed events of the source (4 with the defaults). The slack in the bound
    lets float rounding keep a source, never drop one.
    """
    upper = math.log(cfg.detection_probability / cfg.false_positive_probability)
    up = math.log((1 - cfg.theta1) / (1 - cfg.theta0))
    return max(1, math.ceil(upper / up - 1e-6)) if up > 0 else 1


def _possible_scanners(network: ir.Table, cfg: TRWConfig) -> ir.Table:
    """``network`` without the sources whose walk cannot reach the scanner boundary.

    Never a result change (see ``trw_least_events``). One plain count of
    failed events per source drops the many sources that sent a handful of
    packets before the two window sorts of the walk (on 2M generated events:
    1.2M sources, 50 of them with four failed events or more).
    """
    least = trw_least_events(cfg)
    if least <= 1:
        return network
    failed = network.filter(network.connection_outcome == "failed")
    counts = failed.group_by("source_ip").aggregate(_failed=failed.count())
    busy = counts.filter(counts._failed >= least).select("source_ip")
    return network.semi_join(busy, "source_ip")


def trw_scan(network: ir.Table, cfg: TRWConfig) -> ir.Table:
    """Sources whose walk reaches the scanner boundary first: ``trw_scan`` findings.

    One finding per flagged source, not windowed (``window_start`` null): the
    test runs over the whole input. ``first_seen`` is the first first-contact,
    ``last_seen`` the contact at which the walk crossed ``ln(PD/PF)``;
    ``event_count``, ``targets`` and ``ports`` cover the first contacts up to
    that crossing. Score: the LLR at the crossing. Label: ``"after N first
    contacts"``. Defaults are the paper's (theta0 0.8, theta1 0.2, PD 0.99,
    PF 0.01), which flag a source after 4 failed first contacts in a row.
    """
    upper = math.log(cfg.detection_probability / cfg.false_positive_probability)
    lower = math.log((1 - cfg.detection_probability) / (1 - cfg.false_positive_probability))
    steps = walk(_possible_scanners(network, cfg), cfg)
    # Where each source's walk first crosses either boundary, as window
    # aggregates over the source: the walk is used once, where a group-by
    # joined back would have the engine compute it twice.
    whole = ibis.window(group_by="source_ip")
    null = ibis.null("int64")
    marked = steps.mutate(
        _flagged_at=ibis.ifelse(steps.llr >= upper, steps.contact, null).min().over(whole),
        _cleared_at=ibis.ifelse(steps.llr <= lower, steps.contact, null).min().over(whole),
    )
    until = marked.filter(
        marked._flagged_at.notnull()
        & (marked._cleared_at.isnull() | (marked._flagged_at < marked._cleared_at))
        & (marked.contact <= marked._flagged_at)
    )
    flagged = until.group_by(["source_ip", "_flagged_at"]).aggregate(
        first_seen=until.timestamp.min(),
        last_seen=until.timestamp.max(),
        event_count=until.count(),
        target_count=until.destination_ip.nunique(),
        port_count=until.destination_port.nunique(),
        targets=until.destination_ip.collect(distinct=True).sort(),
        ports=until.destination_port.collect(distinct=True).sort(),
        score=until.llr.max(where=until.contact == until._flagged_at),
    )
    label = "after " + flagged._flagged_at.cast("string") + " first contacts"
    return as_findings(
        flagged,
        TRW_SCAN,
        window_start=ibis.null().cast(FINDING_TYPES["window_start"]),
        label=label,
    )
