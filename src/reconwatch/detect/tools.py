"""Which tool an actor used, as hints with a confidence, never as verdicts.

Packet fields that firewall logs carry (netfilter ``ID=``, ``WINDOW=``,
``TTL=``, ``SPT=``) betray the stateless scanners, which craft their own
packets instead of asking the kernel for connections:

* **zmap** writes IP ID 54321 in every probe (zmap's ``probe_modules``
  default, widely used as its signature).
* **nmap** SYN scans (-sS) send TCP window 1024 in most probes, 2048, 3072 or
  4096 in the rest (Emerging Threats rule 2009582 "ET SCAN NMAP -sS window
  1024" keys on it), and pick a random TTL per probe, so one source shows
  many TTLs where a host's stack would show one.
* **masscan** sends window 1024 too, but in every probe, from a packet
  template with TTL 255: one source's probes arrive with window 1024 and a
  TTL of 255 less the hops (at least ``MASSCAN_MIN_TTL``), where nmap's
  random TTLs (below 64 initially) arrive far lower.
* A **fixed source port** across many destinations is a stateless scanner's
  habit (masscan, zmap, nmap's raw scans keep one port per run); a kernel
  picks a new ephemeral port per connection.

Web and DNS behaviour name tools too, through detections already run: a
scanner User-Agent (``web_scanner_user_agent``'s label names it), Host
sweeps, wordlists. Each hint says what it rests on and how sure it is; the
shares below are of the source's TCP SYN probes that failed, and at least
``MIN_PROBES`` are needed before packet fields say anything.
"""

from __future__ import annotations

from typing import Any, Final

import ibis.expr.types as ir

#: Fewer failed SYN probes than this say nothing about a tool.
MIN_PROBES: Final = 10
ZMAP_IP_ID: Final = 54321
NMAP_WINDOWS: Final = (1024, 2048, 3072, 4096)
#: Distinct TTLs that show nmap's per-probe random TTL (a host's stack sends one).
NMAP_MIN_TTLS: Final = 5
#: An initial TTL of 255 seen after at most 63 hops.
MASSCAN_MIN_TTL: Final = 192


def packet_stats(network: ir.Table) -> ir.Table:
    """Per source: failed SYN probes and the packet-field facts the hints read."""
    syn = network.filter(
        (network.connection_outcome == "failed")
        & (network.network_transport == "tcp")
        & (network.tcp_flags == "SYN")
    )
    return syn.group_by("source_ip").aggregate(
        probes=syn.count(),
        with_ip_id=syn.ip_id.count(),
        zmap_ids=(syn.ip_id == ZMAP_IP_ID).ifelse(1, 0).sum(),
        with_window=syn.tcp_window.count(),
        nmap_windows=syn.tcp_window.isin(NMAP_WINDOWS).ifelse(1, 0).sum(),
        window_1024=(syn.tcp_window == 1024).ifelse(1, 0).sum(),
        ttls=syn.ip_ttl.nunique(),
        ttl_min=syn.ip_ttl.min(),
        with_ttl=syn.ip_ttl.count(),
        source_ports=syn.source_port.nunique(),
        with_port=syn.source_port.count(),
        targets=syn.destination_ip.nunique(),
    )


def _share(part: int | None, whole: int | None) -> float:
    return (part or 0) / whole if whole else 0.0


def hints_from_packets(row: dict[str, Any]) -> list[dict[str, Any]]:
    """The tool hints one source's ``packet_stats`` row supports (most certain first)."""
    probes = row.get("probes") or 0
    if probes < MIN_PROBES:
        return []
    hints = []
    # Each share is over the probes that logged the field, and says nothing
    # unless MIN_PROBES of them did: a source seen by two firewalls, one
    # logging IP IDs and windows and one not, may have a single such probe.
    with_ip_id = row["with_ip_id"] or 0
    zmap = _share(row["zmap_ids"], with_ip_id)
    if with_ip_id >= MIN_PROBES and zmap >= 0.9:
        hints.append(
            {
                "tool": "zmap",
                "confidence": "high",
                "evidence": f"IP ID 54321 in {zmap:.0%} of {with_ip_id} SYN probes",
            }
        )
    with_window = row["with_window"] or 0
    nmap = _share(row["nmap_windows"], with_window)
    first = _share(row["window_1024"], with_window)
    template_ttl = (row.get("ttl_min") or 0) >= MASSCAN_MIN_TTL
    windows_known = with_window >= MIN_PROBES
    if windows_known and first >= 0.99 and template_ttl and (row["with_ttl"] or 0) >= MIN_PROBES:
        hints.append(
            {
                "tool": "masscan",
                "confidence": "medium",
                "evidence": (
                    f"TCP window 1024 in {first:.0%} of {with_window} SYN probes, all with TTL >= "
                    f"{MASSCAN_MIN_TTL} (a TTL 255 packet template; nmap randomises lower TTLs)"
                ),
            }
        )
    elif windows_known and nmap >= 0.9 and first >= 0.5:
        # nmap draws each probe's TTL from 37..59 (23 values): any scan of ten
        # probes or more shows five of them, however large it grows (a share of
        # the probes would wrongly demote a scan of nmap's default 1000 ports).
        many_ttls = (row["ttls"] or 0) >= NMAP_MIN_TTLS
        hints.append(
            {
                "tool": "nmap -sS",
                "confidence": "high" if many_ttls else "medium",
                "evidence": (
                    f"TCP window 1024 in {first:.0%} and 1024-4096 in {nmap:.0%} of {with_window} "
                    "SYN probes"
                    + (f"; {row['ttls']} distinct TTLs (randomised per probe)" if many_ttls else "")
                ),
            }
        )
    with_port = row["with_port"] or 0
    if with_port >= MIN_PROBES and row["source_ports"] == 1 and (row["targets"] or 0) >= 5:
        hints.append(
            {
                "tool": "stateless scanner (masscan, zmap or nmap raw scan)",
                "confidence": "medium",
                "evidence": (
                    f"one source port for {with_port} SYN probes to {row['targets']} hosts"
                ),
            }
        )
    return hints


def hints_from_findings(detections: dict[str, list[str | None]]) -> list[dict[str, Any]]:
    """Hints from detections that name or imply a tool (detection -> labels)."""
    hints = []
    for name in sorted({n for n in detections.get("web_scanner_user_agent", []) if n}):
        hints.append({"tool": name, "confidence": "high", "evidence": f"User-Agent names {name}"})
    if "web_wordlist_scan" in detections or "web_vhost_sweep" in detections:
        hints.append(
            {
                "tool": "content/vhost brute forcer (gobuster, ffuf, dirb, feroxbuster)",
                "confidence": "low",
                "evidence": "many distinct 4xx paths or Host values from one client",
            }
        )
    if "dns_bruteforce" in detections:
        hints.append(
            {
                "tool": "subdomain brute forcer (dnsrecon, dnsenum, fierce, dnsmap)",
                "confidence": "low",
                "evidence": "many names under one zone, mostly NXDOMAIN",
            }
        )
    if "ptr_sweep" in detections:
        hints.append(
            {
                "tool": "reverse-DNS sweeper (fierce, dnsrecon -r, nmap -sL)",
                "confidence": "low",
                "evidence": "PTR queries covering an address block",
            }
        )
    return hints
