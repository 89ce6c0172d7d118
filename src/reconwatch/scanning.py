"""Which detections are the source scanning: the episodes "repeated scanning" counts.

A module of its own, free of the engine, so the case store (which counts the
episodes it keeps) and triage read the same list.
"""

from __future__ import annotations

from collections.abc import Iterable

#: Detections that are scanning evidence for the "repeated scanning" criterion:
#: every detection whose finding says the source itself went looking. Port
#: and packet scans (vertical, horizontal, block, flag, TRW, distributed,
#: IPv6 /64 rotation, slow, dark space), IDS scan signatures and honeypot touches; DNS
#: enumeration (subdomain and SRV brute force, PTR sweeps, zone transfers,
#: CHAOS fingerprinting, ANY floods, internal names asked from outside); web
#: reconnaissance (wordlist scans, scanner user agents, secret/admin path
#: probes, technology probes, vhost sweeps, internal Host headers). The
#: playbook names DNS enumeration and web reconnaissance as reconnaissance
#: too, so a source that walks the zone on four days repeats as surely as one
#: that port-scans on four days. Left out, because they are not the source
#: scanning: ``traffic_spike`` (volume above the source's own baseline: a
#: backup or a flash crowd does it), ``private_answer_leak`` (what our DNS
#: answered, a misconfiguration; a client resolving a name it was given
#: triggers it) and ``web_host_bare_ip`` (requests addressed by IP: load
#: balancer health checks and uptime monitors do it every few minutes).
SCAN_DETECTIONS = frozenset(
    {
        # packets
        "vertical_scan", "horizontal_scan", "block_scan", "flag_scan", "trw_scan",
        "distributed_scan", "ipv6_prefix_scan", "slow_scan", "dark_space_probe",
        "ids_scan_alert",
        "honeypot_touch",
        # DNS enumeration
        "dns_bruteforce", "ptr_sweep", "zone_transfer", "dns_chaos_probe", "dns_any_flood",
        "srv_bruteforce", "internal_name_probe",
        # web reconnaissance
        "web_wordlist_scan", "web_scanner_user_agent", "web_sensitive_path_probe",
        "web_technology_probe", "web_vhost_sweep", "web_internal_host",
    }
)  # fmt: skip


def is_scan(detections: Iterable[str]) -> bool:
    """Whether a sighting with these detections was a scan episode.

    A sighting recorded without detections (none is, today) counts, as every
    sighting did before non-scan sightings were told apart.
    """
    names = list(detections)
    return not names or any(name in SCAN_DETECTIONS for name in names)
