"""Sigma: the internal_name_probe rule sees PTR names of the private reverse zones."""

from __future__ import annotations

import ipaddress

from sigma.backends.test import TextQueryTestBackend
from sigma.collection import SigmaCollection

from reconwatch.export.sigma import export_sigma


def _endswith_values() -> list[str]:
    rules = SigmaCollection.from_yaml(export_sigma()["internal_name_probe"])
    rules.resolve_rule_references()
    base = rules.rules[0]
    (selection,) = [d for name, d in base.detection.detections.items() if name == "selection"]
    (item,) = selection.detection_items
    return [str(v).lstrip("*") for v in item.value]


def test_internal_name_probe_rule_covers_private_reverse_zones() -> None:
    # detect/internal.py counts PTR names under the reverse zones of private
    # ranges (10.in-addr.arpa, ..., c.f.ip6.arpa / d.f.ip6.arpa, nibble names).
    suffixes = _endswith_values()
    for address in ("10.1.2.3", "172.20.0.9", "192.168.7.1", "fd12:3456::1", "fc00::5"):
        name = ipaddress.ip_address(address).reverse_pointer
        assert any(name.endswith(s) for s in suffixes), (name, suffixes)
    for outside in ("8.8.8.8", "2001:db8::1", "172.32.0.1", "110.1.1.1"):
        name = ipaddress.ip_address(outside).reverse_pointer
        assert not any(name.endswith(s) for s in suffixes), name
    query = " ".join(
        TextQueryTestBackend().convert(
            SigmaCollection.from_yaml(export_sigma()["internal_name_probe"])
        )
    )
    assert "*.d.f.ip6.arpa" in query and "*.10.in-addr.arpa" in query
