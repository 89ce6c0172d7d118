"""Internal scanners mapped to their host names and users; related sources for Tier 2."""

from __future__ import annotations

import ipaddress
from typing import Any

import ibis
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import network_rows, table_rows
from reconwatch import schema
from reconwatch import triage as triage_module
from reconwatch.cases import Activity, Case, build_cases
from reconwatch.config import Config
from reconwatch.detect import run_detections
from reconwatch.enrich.context import SourceContext
from reconwatch.enrich.geo import GeoInfo
from reconwatch.triage import RELATED_MAX, _Neighbours, _related, _tier2_package, triage

SCANNER = "10.20.30.40"


def sweep(source: str, hosts: int = 30, start: int = 0) -> list[dict[str, Any]]:
    return [
        {
            "source_ip": source,
            "destination_ip": f"10.1.2.{i + 1}",
            "destination_port": 445,
            "seconds": start + i,
        }
        for i in range(hosts)
    ]


def _tables(dns: list[dict[str, Any]], auth: list[dict[str, Any]]) -> dict[str, ibis.Table]:
    dns_table = table_rows(
        schema.DNS,
        {
            "source_ip": "10.0.0.9",
            "destination_ip": "10.0.0.53",
            "event_dataset": "bind",
            "log_file": "query.log",
        },
        dns,
    )
    auth_table = table_rows(
        schema.AUTH,
        {
            "source_ip": "10.0.0.8",
            "event_dataset": "sshd",
            "log_file": "auth.log",
            "event_outcome": "success",
            "event_action": "login",
        },
        auth,
    )
    return {
        "network": ibis.memtable(network_rows(sweep(SCANNER))),
        "dns": ibis.memtable(dns_table),
        "auth": ibis.memtable(auth_table),
    }


def _case(tables: dict[str, ibis.Table]) -> Case:
    config = Config()
    findings = run_detections(tables, config.detect)
    built = build_cases(tables, findings, 3, home=config.site.home())
    cases = triage(built, config, tables=list(tables))
    (case,) = [c for c in cases if c.sources == [SCANNER]]
    return case


def test_an_internal_scanner_is_named_with_its_host_and_users() -> None:
    tables = _tables(
        dns=[
            {
                "dns_question_name": "ws-17.corp.example.com",
                "dns_question_type": "A",
                "dns_answers": [SCANNER],
            },
            {
                "dns_question_name": "40.30.20.10.in-addr.arpa",
                "dns_question_type": "PTR",
                "dns_answers": ["ws-17.corp.example.com"],
            },
            # Another machine's name is not this one's.
            {
                "dns_question_name": "db1.corp.example.com",
                "dns_question_type": "A",
                "dns_answers": ["10.0.0.5"],
            },
        ],
        auth=[
            # Logged by the workstation itself (syslog short host name).
            {"observer_name": "ws-17", "user_name": "alice"},
            # A login to it by address.
            {"destination_ip": SCANNER, "user_name": "bob"},
            # From it to a server: a user seen on it too.
            {"source_ip": SCANNER, "observer_name": "db1", "user_name": "carol"},
            # A failure and another host's user are not evidence.
            {"observer_name": "ws-17", "user_name": "mallory", "event_outcome": "failure"},
            {"observer_name": "db1", "user_name": "dave"},
        ],
    )
    case = _case(tables)
    assert case.internal
    assert case.activity.host_names == ["ws-17.corp.example.com"]
    assert case.activity.host_users == ["alice", "bob"]
    assert case.activity.auth_users == ["carol"]
    (users,) = [c for c in case.checklist if c["step"].startswith("Correlate with user")]
    assert "ws-17.corp.example.com" in users["result"] and "alice, bob" in users["result"]
    assert "carol" in users["result"]
    assert "ws-17" in next(iter(case.answers.values()))


def test_related_sources_by_neighbourhood_asn_and_campaign() -> None:
    rows = sweep("198.51.100.7") + sweep("198.51.100.99", start=1000)
    rows += sweep("192.0.2.5", start=2000) + sweep("203.0.113.200", start=3000)
    network = ibis.memtable(network_rows(rows))
    config = Config()
    cases = build_cases(network, run_detections(network, config.detect), 3)
    contexts = {
        "198.51.100.7": SourceContext(geo=GeoInfo(asn=64500, as_organization="Example Hosting")),
        "192.0.2.5": SourceContext(geo=GeoInfo(asn=64500, as_organization="Example Hosting")),
        "203.0.113.200": SourceContext(geo=GeoInfo(asn=64511)),
    }
    (mine,) = [c for c in cases if c.sources == ["198.51.100.7"]]
    related = _related(cases.index(mine), cases, _Neighbours(cases, contexts))
    assert {s: sorted(why) for s, (_, why) in related.items()} == {
        "198.51.100.99": ["same 198.51.100.0/24"],
        "192.0.2.5": ["same ASN AS64500 (Example Hosting)"],
    }


def _brute_related(
    at: int, cases: list[Case], contexts: dict[str, SourceContext]
) -> dict[str, Any]:
    """The definition, case by case and source by source (as before the index)."""
    case = cases[at]

    def block(source: str) -> str:
        prefix = 24 if ipaddress.ip_address(source).version == 4 else 64
        return str(ipaddress.ip_network(f"{source}/{prefix}", strict=False))

    def asn(source: str) -> int | None:
        return contexts[source].geo.asn if source in contexts else None

    blocks = {block(s) for s in case.sources}
    asns = {a for s in case.sources if (a := asn(s)) is not None}
    out: dict[str, Any] = {}
    for other in cases:
        if other is case:
            continue
        for source in other.sources:
            if source in case.sources:
                why = f"same campaign ({other.campaign or case.campaign or other.id})"
            elif block(source) in blocks:
                why = f"same {block(source)}"
            elif (number := asn(source)) is not None and number in asns:
                org = contexts[source].geo.as_organization
                why = f"same ASN AS{number}" + (f" ({org})" if org else "")
            else:
                continue
            out.setdefault(source, (other.id, set()))[1].add(why)
    return out


def _bare_case(case_id: str, sources: list[str], campaign: str | None = None) -> Case:
    return Case(id=case_id, sources=sources, findings=[], activity=Activity(), campaign=campaign)


@settings(max_examples=40, deadline=None)
@given(st.data())
def test_related_from_the_index_is_the_definition(data: st.DataObject) -> None:
    pool = [f"198.51.100.{i}" for i in (1, 2, 77)] + ["192.0.2.5", "203.0.113.9"]
    pool += ["2001:db8:77:1::1", "2001:db8:77:1::2", "2001:db8:77:2::1"]
    groups = data.draw(
        st.lists(
            st.lists(st.sampled_from(pool), min_size=1, max_size=4, unique=True),
            min_size=1,
            max_size=6,
        )
    )
    cases = [
        _bare_case(f"RW-{n}", sources, "campaign:x" if len(sources) > 1 else None)
        for n, sources in enumerate(groups)
    ]
    asns = data.draw(st.dictionaries(st.sampled_from(pool), st.sampled_from([64500, 64501])))
    contexts = {
        s: SourceContext(geo=GeoInfo(asn=a, as_organization="Org")) for s, a in asns.items()
    }
    near = _Neighbours(cases, contexts)
    for at in range(len(cases)):
        assert _related(at, cases, near) == _brute_related(at, cases, contexts)


def test_related_sources_are_looked_up_once_and_capped(monkeypatch: pytest.MonkeyPatch) -> None:
    """A rotating IPv6 scanner's 3,000 addresses and a neighbour of the same /64:
    each source's /64 is worked out once, and the neighbour's package lists
    the first RELATED_MAX of them with their total."""
    rotation = [f"2001:db8:77:1::{i + 1:x}" for i in range(3000)]
    cases = [_bare_case("RW-rot", rotation, "campaign:ipv6@2001:db8:77:1::/64")]
    cases += [_bare_case(f"RW-{i}", [f"198.51.100.{i}"]) for i in range(50)]
    cases += [_bare_case("RW-lone", ["2001:db8:77:1:ffff::1"])]
    calls = []
    real = triage_module._neighbourhood
    monkeypatch.setattr(triage_module, "_neighbourhood", lambda s: calls.append(s) or real(s))
    near = _Neighbours(cases, {})
    packages = [_tier2_package(at, cases, None, near) for at in range(len(cases))]
    assert len(calls) == len(set(calls)) == 3000 + 50 + 1
    lone = packages[-1]
    assert lone["related_total"] == 3000
    assert lone["related_sources"] == rotation[:RELATED_MAX]  # by address, not as text
    assert lone["related"][0]["reasons"] == ["same 2001:db8:77:1::/64"]
    assert packages[0]["related_sources"] == ["2001:db8:77:1:ffff::1"]
