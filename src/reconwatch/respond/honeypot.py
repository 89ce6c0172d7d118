"""Honeypot placements from the probes themselves, and an OpenCanary config for them.

A scanner that maps our address space touches addresses where nothing runs.
Those *dark* addresses are the best honeypot sites: no legitimate client has
a reason to connect there, so any later touch is a high-confidence signal
(the playbook's "consider deploying honeypots"). And the ports scanners ask
for most are the services a honeypot there should pretend to run.

So, from the ``network`` table:

* **dark addresses**: destinations the scanners probed that never answered
  and were never allowed, for anybody (one allowed event anywhere means
  something lives there, and a honeypot would shadow it); ranked by how many
  distinct scanners probed them, then by probes;
* **ports**: ``(port, transport)`` ranked by distinct scanners, then probes;
* **placements**: the top dark addresses, each with the ports probed on it
  (falling back to the overall top ports when the address saw few), and
  the OpenCanary module for each port it has one for.

:func:`opencanary_config` writes an ``opencanary.conf`` (JSON) enabling
exactly those modules on those ports. The queries aggregate in the engine;
only ranked rows come back.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import ibis
import ibis.expr.types as ir

from reconwatch.engine import cached
from reconwatch.files import write_text_atomic
from reconwatch.netaddr import IPNetwork, parse_ip

#: OpenCanary modules by (port, transport): the module's config prefix.
#: Ports outside this table are reported but get no module.
MODULES: Final[dict[tuple[int, str], str]] = {
    (21, "tcp"): "ftp",
    (22, "tcp"): "ssh",
    (23, "tcp"): "telnet",
    (69, "udp"): "tftp",
    (80, "tcp"): "http",
    (123, "udp"): "ntp",
    (161, "udp"): "snmp",
    (443, "tcp"): "https",
    (445, "tcp"): "smb",
    (1433, "tcp"): "mssql",
    (3306, "tcp"): "mysql",
    (3389, "tcp"): "rdp",
    (5060, "udp"): "sip",
    (5900, "tcp"): "vnc",
    (6379, "tcp"): "redis",
    (8080, "tcp"): "httpproxy",
    (9418, "tcp"): "git",
    (2222, "tcp"): "ssh",
    (2323, "tcp"): "telnet",
    (8000, "tcp"): "http",
    (8443, "tcp"): "https",
}

#: Every module :func:`opencanary_config` writes, each with its settings
#: (OpenCanary's defaults); ``<module>.enabled`` is added per placement.
MODULE_SETTINGS: Final[dict[str, dict[str, Any]]] = {
    "ftp": {"ftp.port": 21, "ftp.banner": "FTP server ready"},
    "git": {"git.port": 9418},
    "http": {
        "http.port": 80,
        "http.banner": "Apache/2.2.22 (Ubuntu)",
        "http.skin": "nasLogin",
    },
    "https": {
        "https.port": 443,
        "https.banner": "Apache/2.2.22 (Ubuntu)",
        "https.skin": "nasLogin",
        "https.certificate": "/etc/ssl/opencanary/opencanary.pem",
        "https.key": "/etc/ssl/opencanary/opencanary.key",
    },
    "httpproxy": {"httpproxy.port": 8080, "httpproxy.skin": "squid"},
    "mssql": {"mssql.port": 1433, "mssql.version": "2012"},
    "mysql": {"mysql.port": 3306, "mysql.banner": "5.5.43-0ubuntu0.14.04.1"},
    "ntp": {"ntp.port": 123},
    "rdp": {"rdp.port": 3389},
    "redis": {"redis.port": 6379},
    "sip": {"sip.port": 5060},
    "smb": {"smb.auditfile": "/var/log/samba-audit.log"},
    "snmp": {"snmp.port": 161},
    "ssh": {"ssh.port": 22, "ssh.version": "SSH-2.0-OpenSSH_5.1p1 Debian-4"},
    "telnet": {"telnet.port": 23, "telnet.banner": "", "telnet.honeycreds": []},
    "tftp": {"tftp.port": 69},
    "vnc": {"vnc.port": 5900},
}

#: ``device.node_id`` appears in every OpenCanary alert: keep it plain.
NODE_ID: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,62}")


@dataclass(frozen=True)
class PortRank:
    """One probed port: how many scanners asked for it, how many probes."""

    port: int
    proto: str
    scanners: int
    probes: int

    @property
    def module(self) -> str | None:
        return MODULES.get((self.port, self.proto))


@dataclass
class Placement:
    """A suggested honeypot: a dark address and the services it should fake."""

    address: str
    scanners: int
    probes: int
    ports: list[PortRank] = field(default_factory=list)

    def modules(self) -> dict[str, int]:
        """OpenCanary module -> port, first (most probed) port per module."""
        chosen: dict[str, int] = {}
        for rank in self.ports:
            if rank.module is not None and rank.module not in chosen:
                chosen[rank.module] = rank.port
        return chosen


@dataclass
class HoneypotSuggestions:
    placements: list[Placement]
    ports: list[PortRank]

    def to_dict(self) -> dict[str, Any]:
        def port(p: PortRank) -> dict[str, Any]:
            return {
                "port": p.port,
                "proto": p.proto,
                "scanners": p.scanners,
                "probes": p.probes,
                "opencanary_module": p.module,
            }

        return {
            "placements": [
                {
                    "address": pl.address,
                    "scanners": pl.scanners,
                    "probes": pl.probes,
                    "ports": [port(p) for p in pl.ports],
                    "opencanary_modules": pl.modules(),
                }
                for pl in self.placements
            ],
            "ports": [port(p) for p in self.ports],
        }


def _answered(network: ir.Table) -> ir.Table:
    alive = network.filter(
        (network.connection_outcome == "succeeded") | (network.event_action == "allowed")
    )
    return alive.select(alive_ip=alive.destination_ip).distinct()


def _in_home(address: str, home: Sequence[IPNetwork] | None) -> bool:
    if home is None:
        return True
    try:
        parsed = parse_ip(address)
    except ValueError:
        return False
    return any(parsed.version == n.version and parsed in n for n in home)


def suggest_honeypots(
    network: ir.Table,
    scanners: Sequence[str] | None = None,
    *,
    home: Sequence[IPNetwork] | None = None,
    max_placements: int = 5,
    max_ports: int = 10,
    min_ports_per_placement: int = 3,
    scanner_events: ir.Table | None = None,
) -> HoneypotSuggestions:
    """Rank dark addresses and scanned ports (see the module docstring).

    ``scanners``: the sources whose probes count (the cases' actors); None
    means every source with a failed event. ``home``: only destinations inside
    these networks can be placements (a honeypot must be ours to deploy).
    ``scanner_events``: ``network`` rows holding every event of ``scanners``
    (or more), read for their probes instead of the whole table (which still
    tells which addresses answer).
    """
    with contextlib.ExitStack() as releases:
        return _suggest(
            network,
            scanners,
            home,
            max_placements,
            max_ports,
            min_ports_per_placement,
            releases,
            scanner_events,
        )


def _suggest(
    network: ir.Table,
    scanners: Sequence[str] | None,
    home: Sequence[IPNetwork] | None,
    max_placements: int,
    max_ports: int,
    min_ports_per_placement: int,
    releases: contextlib.ExitStack,
    scanner_events: ir.Table | None,
) -> HoneypotSuggestions:
    if scanners is not None:
        events = network if scanner_events is None else scanner_events
        probes = events.filter(events.source_ip.isin(list(scanners)))
    else:
        failing = (
            network.filter(network.connection_outcome == "failed")
            .select(scanner_ip=network.source_ip)
            .distinct()
        )
        probes = network.join(failing, network.source_ip == failing.scanner_ip).select(
            network.columns
        )
    probes = probes.filter(probes.destination_port.notnull())
    # The scanners' probes and the dark ones among them are read by two and
    # three queries: computed once each (a scan of the whole table apiece).
    probes = cached(
        probes.select("source_ip", "destination_ip", "destination_port", "network_transport"),
        releases,
    )

    port_rows = (
        probes.group_by(["destination_port", "network_transport"])
        .aggregate(scanners=probes.source_ip.nunique(), probes=probes.count())
        .order_by(
            [ibis.desc("scanners"), ibis.desc("probes"), "destination_port", "network_transport"]
        )
        .limit(max_ports)
        .to_pyarrow()
        .to_pylist()
    )
    ports = [
        PortRank(r["destination_port"], r["network_transport"] or "ip", r["scanners"], r["probes"])
        for r in port_rows
    ]

    alive = _answered(network)
    dark = cached(probes.anti_join(alive, probes.destination_ip == alive.alive_ip), releases)
    dest_rows = (
        dark.group_by("destination_ip")
        .aggregate(scanners=dark.source_ip.nunique(), probes=dark.count())
        .order_by([ibis.desc("scanners"), ibis.desc("probes"), "destination_ip"])
        .to_pyarrow()
        .to_pylist()
    )
    chosen = [r for r in dest_rows if _in_home(r["destination_ip"], home)][:max_placements]
    placements = [Placement(r["destination_ip"], r["scanners"], r["probes"]) for r in chosen]
    if placements:
        wanted = [p.address for p in placements]
        mine = dark.filter(dark.destination_ip.isin(wanted))
        per_port = (
            mine.group_by(["destination_ip", "destination_port", "network_transport"])
            .aggregate(scanners=mine.source_ip.nunique(), probes=mine.count())
            .order_by(
                [
                    "destination_ip",
                    ibis.desc("scanners"),
                    ibis.desc("probes"),
                    "destination_port",
                    "network_transport",
                ]
            )
            .to_pyarrow()
            .to_pylist()
        )
        by_address = {p.address: p for p in placements}
        for r in per_port:
            placement = by_address[r["destination_ip"]]
            if len(placement.ports) < max_ports:
                placement.ports.append(
                    PortRank(
                        r["destination_port"],
                        r["network_transport"] or "ip",
                        r["scanners"],
                        r["probes"],
                    )
                )
        for placement in placements:
            seen = {(p.port, p.proto) for p in placement.ports}
            for rank in ports:
                if len(placement.ports) >= max(min_ports_per_placement, 0):
                    break
                if (rank.port, rank.proto) not in seen:
                    placement.ports.append(rank)
    return HoneypotSuggestions(placements=placements, ports=ports)


def opencanary_config(placement: Placement, node_id: str = "reconwatch-1") -> dict[str, Any]:
    """An ``opencanary.conf`` (as a dict) for ``placement``.

    Every known module appears, disabled unless one of the placement's ports
    maps to it; an enabled module listens on the probed port. The device
    binds to the placement's address (``device.listen_addr``), so the config
    is for the host that will own that dark address. Logs go to
    ``/var/log/opencanary.log`` in OpenCanary's JSON, which reconwatch's
    ``opencanary`` parser reads back as high-confidence alerts.
    """
    if not isinstance(node_id, str) or NODE_ID.fullmatch(node_id) is None:
        raise ValueError(f"node id {node_id!r} must match {NODE_ID.pattern}")
    listen = str(ipaddress.ip_address(placement.address))
    enabled = placement.modules()
    config: dict[str, Any] = {
        "device.node_id": node_id,
        "device.listen_addr": listen,
        "ip.ignorelist": [],
        "logtype.ignorelist": [],
        "logger": {
            "class": "PyLogger",
            "kwargs": {
                "formatters": {"plain": {"format": "%(message)s"}},
                "handlers": {
                    "file": {
                        "class": "logging.FileHandler",
                        "filename": "/var/log/opencanary.log",
                    }
                },
            },
        },
        "portscan.enabled": False,
    }
    for module, settings in sorted(MODULE_SETTINGS.items()):
        config[f"{module}.enabled"] = module in enabled
        config.update(settings)
        if module in enabled and f"{module}.port" in settings:
            config[f"{module}.port"] = enabled[module]
    return config


def render_opencanary(placement: Placement, node_id: str = "reconwatch-1") -> str:
    """:func:`opencanary_config` as the JSON text of ``opencanary.conf``."""
    return json.dumps(opencanary_config(placement, node_id), indent=2, sort_keys=True) + "\n"


HONEYPOTS_FILE: Final = "honeypots.json"
OPENCANARY_FILE: Final = "opencanary.conf"


def write_honeypot_files(
    suggestions: HoneypotSuggestions, out_dir: Path, node_id: str = "reconwatch-1"
) -> dict[str, Path]:
    """``honeypots.json`` (every placement and port) and, when there is a
    placement, ``opencanary.conf`` for the best one."""
    written: dict[str, Path] = {}
    config = (
        render_opencanary(suggestions.placements[0], node_id) if suggestions.placements else None
    )
    path = out_dir / HONEYPOTS_FILE
    write_text_atomic(path, json.dumps(suggestions.to_dict(), indent=2) + "\n")
    written["honeypots"] = path
    if config is not None:
        canary = out_dir / OPENCANARY_FILE
        write_text_atomic(canary, config)
        written["opencanary"] = canary
    return written
