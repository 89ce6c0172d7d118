"""The exposure audit over small lake tables (network, dns, http) in DuckDB via Ibis."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import ibis
import ibis.expr.types as ir
import pyarrow as pa
import pytest

from conftest import BASE_TIME, network_rows
from reconwatch import schema
from reconwatch.config import Config
from reconwatch.respond.exposure import (
    InventoryItem,
    exposure_audit,
    load_inventory,
    render_markdown,
    write_exposure_files,
)
from reconwatch.triage import exposes

ACTOR = "198.51.100.7"
OTHER = "45.33.32.156"
BYSTANDER = "203.0.113.99"


def table_of(arrow_schema: pa.Schema, rows: list[dict[str, Any]], **defaults: Any) -> ir.Table:
    full = []
    for number, row in enumerate(rows, start=1):
        item = {
            "timestamp": BASE_TIME + dt.timedelta(seconds=number),
            "event_dataset": "test",
            "log_file": "test.log",
            "log_line": number,
            **defaults,
            **row,
        }
        full.append(item)
    columns = {f.name: pa.array([r.get(f.name) for r in full], type=f.type) for f in arrow_schema}
    return ibis.memtable(pa.Table.from_pydict(columns, schema=arrow_schema))


def web(
    actor: str,
    path: str,
    status: int,
    *,
    ip: str = "192.0.2.11",
    port: int = 443,
    host: str | None = "www.example.org",
) -> dict[str, Any]:
    return {
        "source_ip": actor,
        "destination_ip": ip,
        "destination_port": port,
        "url_domain": host,
        "url_path": path,
        "http_response_status_code": status,
    }


def lake() -> dict[str, ir.Table]:
    network = ibis.memtable(
        network_rows(
            [
                # The actor's SYNs: 22 answered, 23 dropped, 443 allowed by the firewall.
                {"source_ip": ACTOR, "destination_ip": "192.0.2.10", "destination_port": 22,
                 "event_action": "allowed", "connection_outcome": "succeeded"},
                {"source_ip": ACTOR, "destination_ip": "192.0.2.10", "destination_port": 22,
                 "event_action": "allowed", "connection_outcome": "succeeded"},
                {"source_ip": ACTOR, "destination_ip": "192.0.2.10", "destination_port": 23},
                {"source_ip": ACTOR, "destination_ip": "192.0.2.11", "destination_port": 443,
                 "event_action": "allowed", "connection_outcome": None},
                {"source_ip": OTHER, "destination_ip": "192.0.2.10", "destination_port": 22,
                 "event_action": "allowed", "connection_outcome": "succeeded"},
                {"source_ip": OTHER, "destination_ip": "192.0.2.12", "destination_port": 161,
                 "network_transport": "udp", "event_action": "allowed",
                 "connection_outcome": "succeeded"},
                # Not an actor: never reported.
                {"source_ip": BYSTANDER, "destination_ip": "192.0.2.99", "destination_port": 8080,
                 "event_action": "allowed", "connection_outcome": "succeeded"},
            ]
        )
    )  # fmt: skip
    dns = table_of(
        schema.DNS,
        [
            {"source_ip": ACTOR, "dns_question_name": "vpn.example.org", "dns_question_type": "A",
             "dns_response_code": "NOERROR", "dns_answers": ["10.20.30.40"]},
            {"source_ip": ACTOR, "dns_question_name": "www.example.org", "dns_question_type": "A",
             "dns_response_code": "NOERROR", "dns_answers": ["192.0.2.11", "192.0.2.12"]},
            {"source_ip": ACTOR, "dns_question_name": "10.2.0.192.in-addr.arpa",
             "dns_question_type": "PTR", "dns_response_code": "NOERROR",
             "dns_answers": ["ssh-gw.example.org"]},
            {"source_ip": ACTOR, "dns_question_name": "db.example.org", "dns_question_type": "AAAA",
             "dns_response_code": "NOERROR", "dns_answers": ["fd00:1::5"]},
            {"source_ip": ACTOR, "dns_question_name": "nope.example.org", "dns_question_type": "A",
             "dns_response_code": "NXDOMAIN", "dns_answers": None},
            {"source_ip": BYSTANDER, "dns_question_name": "x.example.org", "dns_question_type": "A",
             "dns_response_code": "NOERROR", "dns_answers": ["10.9.9.9"]},
        ],
    )  # fmt: skip
    http = table_of(
        schema.HTTP,
        [
            web(ACTOR, "/admin", 200),
            web(ACTOR, "/admin", 200),
            web(ACTOR, "/login", 302),
            web(ACTOR, "/.git/config", 404),
            web(OTHER, "/<script>", 200, ip="192.0.2.13", port=8443, host=None),
        ],
    )
    return {"network": network, "dns": dns, "http": http}


INVENTORY = [
    InventoryItem("192.0.2.10", 22, "tcp", "bastion ssh", "netops"),
    InventoryItem("192.0.2.11", None, None, "web front", "webteam"),
]


def test_services_web_and_dns_per_actor() -> None:
    report = exposure_audit(lake(), [ACTOR, OTHER], INVENTORY, cases={"RW-1": [ACTOR]})
    doc = report.to_dict()
    assert [(s["service"], s["evidence"], s["events"], s["actors"], s["listed"]) for s in
            doc["services"]] == [
        ("192.0.2.10:22/tcp", "succeeded", 3, [ACTOR, OTHER], True),
        ("192.0.2.11:443/tcp", "succeeded", 4, [ACTOR], True),
        ("192.0.2.12:161/udp", "succeeded", 1, [OTHER], False),
        ("192.0.2.13:8443/tcp", "succeeded", 1, [OTHER], False),
    ]  # fmt: skip
    assert doc["unlisted"] == ["192.0.2.12:161/udp", "192.0.2.13:8443/tcp"]
    assert doc["services"][0]["inventory_service"] == "bastion ssh"
    assert doc["services"][1]["owner"] == "webteam"
    actor = doc["actors"][ACTOR]
    assert actor["services"] == ["192.0.2.10:22/tcp", "192.0.2.11:443/tcp"]
    assert actor["web"] == [
        {"host": "www.example.org", "path": "/admin", "status": 200, "count": 2},
        {"host": "www.example.org", "path": "/login", "status": 302, "count": 1},
    ]
    assert actor["dns"] == [
        {"name": "10.2.0.192.in-addr.arpa", "type": "PTR", "answer": "ssh-gw.example.org",
         "internal": False},
        {"name": "db.example.org", "type": "AAAA", "answer": "fd00:1::5", "internal": True},
        {"name": "vpn.example.org", "type": "A", "answer": "10.20.30.40", "internal": True},
        {"name": "www.example.org", "type": "A", "answer": "192.0.2.11", "internal": True},
        {"name": "www.example.org", "type": "A", "answer": "192.0.2.12", "internal": True},
    ]  # fmt: skip
    assert actor["internal_addresses"] == ["10.20.30.40", "192.0.2.11", "192.0.2.12", "fd00:1::5"]
    assert actor["ptr_names"] == ["ssh-gw.example.org"]
    assert doc["cases"] == {
        "RW-1": {"actors": [ACTOR], "services": ["192.0.2.10:22/tcp", "192.0.2.11:443/tcp"]}
    }
    assert doc["actors"][OTHER]["web"] == [
        {"host": "192.0.2.13", "path": "/<script>", "status": 200, "count": 1}
    ]
    # The bystander is nobody's actor: none of its traffic is reported.
    assert BYSTANDER not in str(doc)


def test_internal_means_not_globally_routable() -> None:
    # 192.0.2.0/24 (TEST-NET-1) is not global either: documentation ranges count
    # as internal answers, as RFC 1918, RFC 6598 and ULA do. A public answer does not.
    tables = {
        "dns": table_of(
            schema.DNS,
            [
                {"source_ip": ACTOR, "dns_question_name": "a.example", "dns_question_type": "A",
                 "dns_answers": ["100.64.1.1", "8.8.8.8", "172.16.0.1", "::ffff:192.168.1.1"]},
            ],
        )
    }  # fmt: skip
    doc = exposure_audit(tables, [ACTOR]).to_dict()
    assert [(d["answer"], d["internal"]) for d in doc["actors"][ACTOR]["dns"]] == [
        ("100.64.1.1", True),
        ("172.16.0.1", True),
        ("192.168.1.1", True),
        ("8.8.8.8", False),
    ]
    assert doc["inventory"] is False
    assert doc["unlisted"] == []


def test_inventory_csv(tmp_path: Path) -> None:
    path = tmp_path / "assets.csv"
    path.write_text(
        "ip,port,proto,service,owner\n192.0.2.10,22,TCP,ssh,netops\n192.0.2.11,,,web,webteam\n",
        encoding="utf-8",
    )
    assert load_inventory(path) == [
        InventoryItem("192.0.2.10", 22, "tcp", "ssh", "netops"),
        InventoryItem("192.0.2.11", None, None, "web", "webteam"),
    ]
    report = exposure_audit(lake(), [ACTOR], path)
    assert [s.label() for s in report.unlisted()] == []
    bad = tmp_path / "bad.csv"
    bad.write_text("ip,port\n192.0.2.1,http\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"bad.csv:2: invalid literal"):
        load_inventory(bad)
    bad.write_text("ip,port\n192.0.2.1;rm,22\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"bad.csv:2"):
        load_inventory(bad)
    bad.write_text("address,port\n192.0.2.1,22\n", encoding="utf-8")
    with pytest.raises(ValueError, match="needs an ip column"):
        load_inventory(bad)


def test_markdown_escapes_log_text_and_flags_unlisted() -> None:
    text = render_markdown(exposure_audit(lake(), [ACTOR, OTHER], INVENTORY))
    assert text.startswith("# Exposure audit\n\n- Services that answered the actors: 4\n")
    assert "- Not in the asset inventory: 2\n" in text
    assert "- Internal addresses revealed by DNS: 4\n" in text
    assert "## Exposed services nobody listed" in text
    assert "**192.0.2.12:161/udp**" in text
    assert "<script>" not in text
    assert "| 192.0.2.10:22/tcp | succeeded | 3 |" in text


def test_no_actors_or_tables_is_an_empty_report() -> None:
    empty = exposure_audit(lake(), [])
    assert empty.services == []
    assert empty.to_dict()["actors"] == {}
    assert exposure_audit({}, [ACTOR]).to_dict()["actors"] == {
        ACTOR: {
            "services": [],
            "web": [],
            "dns": [],
            "internal_addresses": [],
            "ptr_names": [],
            "zone_transfers": [],
        }
    }
    assert "none given" in render_markdown(empty)


def test_write_exposure_files(tmp_path: Path) -> None:
    report = exposure_audit(lake(), [ACTOR], INVENTORY)
    written = write_exposure_files(report, tmp_path)
    assert written["exposure"].read_text(encoding="utf-8") == render_markdown(report)
    assert json.loads(written["exposure_json"].read_text(encoding="utf-8")) == report.to_dict()


def transfer(actor: str, zone: str, code: str | None, **row: Any) -> dict[str, Any]:
    return {
        "source_ip": actor,
        "destination_ip": "192.0.2.53",
        "dns_question_name": zone,
        "dns_question_type": "AXFR",
        "dns_response_code": code,
        **row,
    }


def test_zones_handed_over_are_listed_escaped_and_secondaries_left_out() -> None:
    hostile = "corp<script>alert(1)</script>.example.org"
    dns = table_of(
        schema.DNS,
        [
            transfer(ACTOR, hostile, "NOERROR"),
            transfer(ACTOR, "example.org", "NOERROR"),
            transfer(ACTOR, "example.org", "NOERROR"),
            transfer(ACTOR, "example.net", "REFUSED", event_action="rejected"),
            transfer(ACTOR, "example.com", None),  # a request alone
            transfer(OTHER, "example.org", "NOERROR"),  # the secondary
            transfer(BYSTANDER, "example.org", "NOERROR"),  # no actor
        ],
    )
    secondary = Config.model_validate(
        {"detect": {"zone_transfer": {"authorised_secondaries": [OTHER]}}}
    )
    report = exposure_audit({"dns": dns}, [ACTOR, OTHER], exposes=exposes(secondary))
    given = [(t.source, t.zone, t.transfers) for t in report.zone_transfers()]
    assert given == [(ACTOR, hostile, 1), (ACTOR, "example.org", 2)]
    assert report.actors[OTHER].zone_transfers == []
    document = report.to_dict()
    assert [t["zone"] for t in document["zone_transfers"]] == [hostile, "example.org"]
    assert document["zone_transfers"][1]["server"] == "192.0.2.53"
    text = render_markdown(report)
    assert "- Zones handed over by zone transfer: 2\n" in text
    assert "<script>" not in text
    assert "AXFR of example.org from 192.0.2.53 to 198.51.100.7 (2 times, first" in text
    # Without the secondaries named, its transfer is an exposure like any other.
    unnamed = exposure_audit({"dns": dns}, [ACTOR, OTHER])
    assert [t.source for t in unnamed.zone_transfers()] == [ACTOR, ACTOR, OTHER]
