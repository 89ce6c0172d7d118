"""Probe types as psad names them, and the ``flag_scan`` detection built on them.

psad reads the TCP flags of each logged packet and names the nmap scan that
sends such packets: a lone SYN is nmap's default scan (-sS, or -sT when
unprivileged), a lone FIN is -sF, no flag at all is -sN, URG+PSH+FIN is the
"Christmas tree" -sX, a lone ACK is -sA (firewall-rule mapping). UDP probes
are -sU and any other IP protocol is -sO (protocol scan). The flags column is
normalised by ingest to psad's spelling (upper-case names in the fixed order
``CWR ECE URG ACK PSH RST SYN FIN`` joined by one space, ``""`` for no
flags), so classifying is plain equality: no regex, portable to Spark.

Exact matches are deliberate: "SYN" alone is a connection opener or a SYN
scan, but "CWR ECE SYN" (an ECN handshake) or "ACK FIN" (nmap -sM, or a
normal close) are left in ``TCP_OTHER`` rather than guessed at.
"""

from __future__ import annotations

from typing import Final

import ibis
import ibis.expr.types as ir

from reconwatch.config import FlagScanConfig
from reconwatch.detect.portscan import (
    SLOT,
    WINDOW_START,
    as_findings,
    best_windows,
    scan_metrics,
    window_slots,
)

FLAG_SCAN: Final = "flag_scan"

#: psad probe type -> the nmap option that sends such probes.
NMAP_OPTIONS: Final[dict[str, str]] = {
    "SYN": "-sS/-sT",
    "FIN": "-sF",
    "NULL": "-sN",
    "XMAS": "-sX",
    "ACK": "-sA",
    "TCP_OTHER": "--scanflags (or not a scan)",
    "TCP": "unknown (TCP flags not logged)",
    "UDP": "-sU",
    "IP_PROTO": "-sO",
    "ICMP": "-sn (ping)",
}

#: TCP flag strings (psad spelling) with a probe type of their own.
TCP_FLAG_TYPES: Final[dict[str, str]] = {
    "SYN": "SYN",
    "FIN": "FIN",
    "": "NULL",
    "URG PSH FIN": "XMAS",
    "ACK": "ACK",
}

#: Probe types no TCP stack sends as the first packet of a connection.
STEALTH_TYPES: Final = ("FIN", "NULL", "XMAS")
#: The TCP flag strings of those probe types.
STEALTH_FLAGS: Final = tuple(f for f, kind in TCP_FLAG_TYPES.items() if kind in STEALTH_TYPES)

ICMP_TRANSPORTS: Final = ("icmp", "ipv6-icmp")


def probe_type(network: ir.Table) -> ir.StringValue:
    """The psad probe type of each event (see ``NMAP_OPTIONS`` for the values).

    TCP with no flags recorded (flow logs, many firewalls) is ``TCP``: we know
    the protocol but not the scan. An event without a transport has no probe
    type (null) rather than a guessed one.
    """
    transport = network.network_transport
    flags = network.tcp_flags
    tcp = ibis.cases(
        (flags.isnull(), "TCP"),
        *((flags == text, kind) for text, kind in TCP_FLAG_TYPES.items()),
        else_="TCP_OTHER",
    )
    return ibis.cases(
        (transport.isnull(), ibis.null("string")),
        (transport == "tcp", tcp),
        (transport == "udp", "UDP"),
        (transport.isin(ICMP_TRANSPORTS), "ICMP"),
        else_="IP_PROTO",
    )


def scan_types(network: ir.Table) -> ir.Table:
    """Events per source and probe type: ``source_ip, probe_type, nmap_option, packets``.

    Every event counts whatever its outcome: the question is *how* the source
    probes, not whether it got through. Events count as packets because the
    sources that log flags (firewalls) log one line per packet. Rows come
    ordered by source and probe type, so that lists built from them (and the
    order of equal counts in a case's answers) are the same on every run.
    """
    typed = network.mutate(probe_type=probe_type(network)).filter(lambda t: t.probe_type.notnull())
    counts = typed.group_by(["source_ip", "probe_type"]).aggregate(packets=typed.count())
    return (
        counts.mutate(
            nmap_option=counts.probe_type.substitute(NMAP_OPTIONS, else_=ibis.null("string"))
        )
        .select("source_ip", "probe_type", "nmap_option", "packets")
        .order_by(["source_ip", "probe_type"])
    )


def flag_least_events(cfg: FlagScanConfig) -> int:
    """A flag scan is ``min_packets`` probe packets of one source at least."""
    return cfg.min_packets


def flag_scan(network: ir.Table, cfg: FlagScanConfig) -> ir.Table:
    """FIN, NULL and XMAS probes from one source: ``flag_scan`` findings.

    Per source and window of ``cfg.window_seconds`` (3600 s), count packets of
    probe type FIN, NULL or XMAS whatever their outcome -- no stack opens a
    connection with these, so even an allowed one is a probe; a finding when
    at least ``cfg.min_packets`` (3). psad alerts on one such packet; three
    in an hour keeps a lone late FIN (sent after the firewall forgot the
    connection) from raising a case, while nmap -sF sends one per port.
    psad keeps scan state for an hour, hence the window. Windows use the same
    two-grid, non-overlapping selection as the port scans, per source.
    Score: packets. Label: the probe types seen, sorted and comma-joined
    (``"FIN,NULL"``).
    """
    # The stealth types picked by their raw columns first: a plain comparison
    # DuckDB pushes into the Parquet scan, which then decodes the other columns
    # of the few matching rows only (20M generated lines: 0.7 to 0.16 s).
    stealth = network.filter(
        (network.network_transport == "tcp") & network.tcp_flags.isin(STEALTH_FLAGS)
    )
    stealth = stealth.mutate(probe_type=probe_type(stealth))
    slotted = window_slots(stealth, cfg.window_seconds)
    candidates = slotted.group_by(["source_ip", SLOT, WINDOW_START]).aggregate(
        **scan_metrics(slotted),
        # Array join of a sorted distinct array is portable (DuckDB
        # array_to_string, Spark concat_ws) and fixes the label's order.
        label=slotted.probe_type.collect(distinct=True).sort().join(","),
    )
    candidates = candidates.filter(candidates.event_count >= cfg.min_packets)
    candidates = candidates.mutate(score=candidates.event_count)
    return as_findings(best_windows(candidates, ["source_ip"]), FLAG_SCAN)
