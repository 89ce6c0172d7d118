"""Honeypot placements (dark addresses, most-scanned ports) and the OpenCanary config."""

from __future__ import annotations

import ipaddress
import json
from pathlib import Path
from typing import Any

import ibis
import pytest

from conftest import network_rows
from reconwatch.respond.honeypot import (
    MODULE_SETTINGS,
    Placement,
    PortRank,
    opencanary_config,
    render_opencanary,
    suggest_honeypots,
    write_honeypot_files,
)

S1, S2, S3 = "198.51.100.1", "198.51.100.2", "45.33.32.9"
CLIENT = "203.0.113.50"


def probe(source: str, dest: str, port: int, proto: str = "tcp", **extra: Any) -> dict[str, Any]:
    return {
        "source_ip": source,
        "destination_ip": dest,
        "destination_port": port,
        "network_transport": proto,
        **extra,
    }


def rows() -> list[dict[str, Any]]:
    found = []
    # 192.0.2.20 is dark: three scanners, ports 22, 23, 3389.
    for s in (S1, S2, S3):
        found += [probe(s, "192.0.2.20", 22), probe(s, "192.0.2.20", 23)]
    found.append(probe(S1, "192.0.2.20", 3389))
    # 192.0.2.21 is dark: two scanners on 445 and 161/udp.
    found += [probe(S1, "192.0.2.21", 445), probe(S2, "192.0.2.21", 161, "udp")]
    # 192.0.2.10 answers ssh (a client connected): never a placement, though probed most.
    for s in (S1, S2, S3):
        found += [probe(s, "192.0.2.10", 22), probe(s, "192.0.2.10", 8081)]
    found.append(
        probe(CLIENT, "192.0.2.10", 22, event_action="allowed", connection_outcome="succeeded")
    )
    # Outside the home networks: not ours to place a honeypot on.
    for s in (S1, S2, S3):
        found += [probe(s, "198.18.0.5", 22), probe(s, "198.18.0.5", 80)]
    return found


HOME = [ipaddress.ip_network("192.0.2.0/24")]


def test_dark_addresses_and_ports_are_ranked() -> None:
    table = ibis.memtable(network_rows(rows()))
    found = suggest_honeypots(table, [S1, S2, S3], home=HOME, max_ports=4)
    assert found.ports == [
        PortRank(22, "tcp", 3, 9),
        PortRank(23, "tcp", 3, 3),
        PortRank(80, "tcp", 3, 3),
        PortRank(8081, "tcp", 3, 3),
    ]
    assert [(p.address, p.scanners, p.probes) for p in found.placements] == [
        ("192.0.2.20", 3, 7),
        ("192.0.2.21", 2, 2),
    ]
    assert found.placements[0].ports == [
        PortRank(22, "tcp", 3, 3),
        PortRank(23, "tcp", 3, 3),
        PortRank(3389, "tcp", 1, 1),
    ]
    # Only two ports seen on .21: topped up with the overall most-scanned port.
    assert found.placements[1].ports == [
        PortRank(161, "udp", 1, 1),
        PortRank(445, "tcp", 1, 1),
        PortRank(22, "tcp", 3, 9),
    ]
    assert found.placements[0].modules() == {"ssh": 22, "telnet": 23, "rdp": 3389}
    assert found.placements[1].modules() == {"snmp": 161, "smb": 445, "ssh": 22}
    doc = found.to_dict()
    assert doc["placements"][0]["opencanary_modules"] == {"ssh": 22, "telnet": 23, "rdp": 3389}
    assert doc["ports"][3] == {
        "port": 8081,
        "proto": "tcp",
        "scanners": 3,
        "probes": 3,
        "opencanary_module": None,
    }


def test_without_home_and_scanners_every_failing_source_counts() -> None:
    table = ibis.memtable(network_rows(rows()))
    found = suggest_honeypots(table, max_placements=3)
    assert [p.address for p in found.placements] == ["192.0.2.20", "198.18.0.5", "192.0.2.21"]
    # The client's one successful connection does not make it a scanner.
    assert found.ports[0] == PortRank(22, "tcp", 3, 9)


def test_no_probes_no_placements() -> None:
    found = suggest_honeypots(ibis.memtable(network_rows([])), [])
    assert found.placements == []
    assert found.ports == []


def test_opencanary_config_enables_exactly_the_modules() -> None:
    placement = Placement(
        "192.0.2.20",
        3,
        7,
        [PortRank(2222, "tcp", 3, 3), PortRank(22, "tcp", 1, 1), PortRank(6379, "tcp", 2, 2)],
    )
    text = render_opencanary(placement, "dmz-canary-1")
    config = json.loads(text)
    assert config["device.node_id"] == "dmz-canary-1"
    assert config["device.listen_addr"] == "192.0.2.20"
    enabled = sorted(
        k.removesuffix(".enabled") for k, v in config.items() if k.endswith(".enabled") and v
    )
    assert enabled == ["redis", "ssh"]
    assert config["ssh.port"] == 2222  # the most probed ssh port wins
    assert config["redis.port"] == 6379
    assert config["telnet.enabled"] is False
    assert config["portscan.enabled"] is False
    for module, settings in MODULE_SETTINGS.items():
        assert f"{module}.enabled" in config
        for key in settings:
            assert key in config
    assert config["logger"]["kwargs"]["handlers"]["file"]["filename"] == "/var/log/opencanary.log"
    assert set(config) == {
        "device.node_id",
        "device.listen_addr",
        "ip.ignorelist",
        "logtype.ignorelist",
        "logger",
        "portscan.enabled",
        *(f"{m}.enabled" for m in MODULE_SETTINGS),
        *(k for s in MODULE_SETTINGS.values() for k in s),
    }


@pytest.mark.parametrize("node_id", ["", "a b", 'x"y', "-lead", "a" * 80])
def test_node_id_is_validated(node_id: str) -> None:
    with pytest.raises(ValueError, match="node id"):
        opencanary_config(Placement("192.0.2.20", 1, 1), node_id)


def test_placement_address_must_be_an_address() -> None:
    with pytest.raises(ValueError, match="does not appear to be an IPv4 or IPv6 address"):
        opencanary_config(Placement("192.0.2.20; rm -rf /", 1, 1))
    assert opencanary_config(opencanary_placement_v6())["device.listen_addr"] == "2001:db8::20"


def opencanary_placement_v6() -> Placement:
    return Placement("2001:0db8::0020", 1, 1, [PortRank(80, "tcp", 1, 1)])


def test_write_honeypot_files(tmp_path: Path) -> None:
    found = suggest_honeypots(ibis.memtable(network_rows(rows())), [S1, S2, S3], home=HOME)
    written = write_honeypot_files(found, tmp_path, "canary-a")
    assert sorted(p.name for p in written.values()) == ["honeypots.json", "opencanary.conf"]
    assert json.loads(written["honeypots"].read_text(encoding="utf-8")) == found.to_dict()
    config = json.loads(written["opencanary"].read_text(encoding="utf-8"))
    assert config["device.listen_addr"] == "192.0.2.20"
    assert config["device.node_id"] == "canary-a"
    empty = tmp_path / "empty"
    empty.mkdir()
    nothing = suggest_honeypots(ibis.memtable(network_rows([])), [])
    assert [p.name for p in write_honeypot_files(nothing, empty).values()] == ["honeypots.json"]
