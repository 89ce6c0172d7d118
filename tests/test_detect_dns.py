"""DNS enumeration detections: each case builds its queries inline and asserts exact findings.

The resolver log is from the resolver's point of view: ``source_ip`` is the
client asking. Attacker 198.51.100.7, benign client 192.0.2.20.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from pathlib import Path
from typing import Any

import ibis
import pyarrow as pa
import pytest

from conftest import BASE_TIME, spark_sql_options, table_rows
from ingest_helpers import make, parse
from reconwatch import schema
from reconwatch.config import (
    DetectConfig,
    DnsAnyFloodConfig,
    DnsBruteforceConfig,
    DnsChaosProbeConfig,
    EngineConfig,
    PtrSweepConfig,
    SrvBruteforceConfig,
    ZoneTransferConfig,
)
from reconwatch.detect import DETECTIONS, dns, run_detections
from reconwatch.engine import Engine
from reconwatch.ingest.dns_bind import BindParser
from reconwatch.ingest.dns_windows import WindowsDnsParser
from reconwatch.lake import Lake

ATTACKER = "198.51.100.7"
BENIGN = "192.0.2.20"
RESOLVER = "203.0.113.53"


def at(seconds: float) -> dt.datetime:
    return BASE_TIME + dt.timedelta(seconds=seconds)


def dns_rows(rows: list[dict[str, Any]]) -> pa.Table:
    """A ``dns`` table from partial rows (proposed for conftest beside network_rows).

    Defaults: an A query over UDP to RESOLVER at BASE_TIME, answered NOERROR
    and allowed, line numbers 1..n; ``seconds`` may stand in for ``timestamp``.
    """
    defaults: dict[str, Any] = {
        "destination_ip": RESOLVER,
        "destination_port": 53,
        "network_transport": "udp",
        "dns_question_type": "A",
        "dns_question_class": "IN",
        "dns_response_code": "NOERROR",
        "event_action": "allowed",
        "event_dataset": "bind",
        "log_file": "query.log",
    }
    return table_rows(schema.DNS, defaults, rows)


def table(rows: list[dict[str, Any]]) -> ibis.Table:
    return ibis.memtable(dns_rows(rows))


def findings(expr: ibis.Table) -> list[dict[str, Any]]:
    return sorted(
        expr.to_pyarrow().to_pylist(),
        key=lambda f: (f["source_ip"], f["label"] or "", f["window_start"]),
    )


#: Start of the UTC day of BASE_TIME: the grid-A window of the 24-hour detections.
DAY = BASE_TIME.replace(hour=0)


def finding(**values: Any) -> dict[str, Any]:
    """A full findings row: the columns DNS detections leave null filled in."""
    return {"port_count": None, "ports": None, **values}


# --- zones ---------------------------------------------------------------------------------


def test_zone_is_last_two_labels_or_three_under_a_listed_suffix() -> None:
    names = ["www.example.com", "a.b.example.co.uk", "example.com", "com", "x.github.io"]
    t = ibis.memtable({"name": names})
    got = t.select(zone=dns.zone_of(t.name)).to_pyarrow().column("zone").to_pylist()
    assert got == ["example.com", "example.co.uk", "example.com", "com", "x.github.io"]
    assert "co.uk" in dns.public_suffixes()
    assert "example.com" not in dns.public_suffixes()


# --- dns_bruteforce ---------------------------------------------------------------------------


def dnsrecon_burst(names: int = 200) -> list[dict[str, Any]]:
    """dnsrecon -t brt: a random-label wildcard probe, then a wordlist, most NXDOMAIN."""
    base = {"source_ip": ATTACKER}
    rows = [
        {
            **base,
            "dns_question_name": "qzkxwvbtrplmhgfd.example.org",
            "dns_response_code": "NXDOMAIN",
            "seconds": 0,
        }
    ]
    for n in range(names):
        code = "NOERROR" if n % 20 == 0 else "NXDOMAIN"  # 10 of 200 exist
        rows.append(
            {
                **base,
                "dns_question_name": f"w{n:03d}.example.org",
                "dns_response_code": code,
                "seconds": 1 + n,
            }
        )
    return rows


def popular_client() -> list[dict[str, Any]]:
    """A busy benign client: 40 popular sites, two names each, all answered."""
    rows = []
    for n in range(40):
        for host in ("www", "static"):
            rows.append(
                {"source_ip": BENIGN, "dns_question_name": f"{host}.site{n}.com", "seconds": n * 5}
            )
    return rows


def test_dnsrecon_burst_is_one_finding_with_the_wildcard_probe() -> None:
    result = findings(
        dns.dns_bruteforce(table(dnsrecon_burst() + popular_client()), DnsBruteforceConfig())
    )
    names = sorted(["qzkxwvbtrplmhgfd.example.org"] + [f"w{n:03d}.example.org" for n in range(200)])
    assert result == [
        finding(
            detection="dns_bruteforce",
            source_ip=ATTACKER,
            window_start=at(0),
            first_seen=at(0),
            last_seen=at(200),
            event_count=201,
            target_count=201,
            targets=names,
            score=201.0,
            label="example.org (wildcard probe)",
        )
    ]


@pytest.mark.parametrize(
    ("probe", "marked"),
    [
        ("abcdefghijkl.example.org", True),  # a first label of 12 characters
        ("abcdefghijk.example.org", False),  # 11
        ("abcdefghijkl.x.example.org", True),  # the first label, not the name
        ("abc.defghijklmnop.example.org", False),
    ],
)
def test_the_wildcard_probe_is_read_on_the_first_label(probe: str, marked: bool) -> None:
    rows = dnsrecon_burst(60)
    rows[0]["dns_question_name"] = probe
    (result,) = findings(dns.dns_bruteforce(table(rows), DnsBruteforceConfig()))
    assert result["label"] == ("example.org (wildcard probe)" if marked else "example.org")


def test_bruteforce_without_nxdomain_majority_or_names_is_not_found() -> None:
    # 60 names that all exist (an internal host browsing its own zone).
    answered = [
        {"source_ip": BENIGN, "dns_question_name": f"h{n}.corp.example", "seconds": n}
        for n in range(60)
    ]
    # 49 NXDOMAIN names: one under the threshold.
    few = [
        {
            "source_ip": ATTACKER,
            "dns_question_name": f"w{n}.example.org",
            "dns_response_code": "NXDOMAIN",
            "seconds": n,
        }
        for n in range(49)
    ]
    assert findings(dns.dns_bruteforce(table(answered + few), DnsBruteforceConfig())) == []


def test_bruteforce_on_query_only_logs_follows_require_response_code() -> None:
    rows = [
        {
            "source_ip": ATTACKER,
            "dns_question_name": f"w{n}.example.org",
            "dns_response_code": None,
            "seconds": n,
        }
        for n in range(50)
    ]
    found = findings(dns.dns_bruteforce(table(rows), DnsBruteforceConfig()))
    assert [(f["label"], f["score"]) for f in found] == [("example.org", 50.0)]
    strict = DnsBruteforceConfig(require_response_code=True)
    assert findings(dns.dns_bruteforce(table(rows), strict)) == []


#: A mail server: it looks each connecting client up in DNS blocklists.
MAIL_SERVER = "192.0.2.25"


def dnsbl_lookups(count: int = 60, source: str = MAIL_SERVER) -> list[dict[str, Any]]:
    """``count`` clients' addresses, reversed, under zen.spamhaus.org (IPv4) and
    under an IPv6 list (32 nibbles), in 15 minutes, 9 in 10 not listed."""
    rows = []
    for n in range(count):
        v4 = ipaddress.ip_address(f"198.51.{n % 7}.{n + 1}")
        v6 = ipaddress.ip_address(f"2001:db8:{n:x}::{n + 7:x}")
        for address, zone in ((v4, "zen.spamhaus.org"), (v6, "v6.bl.example.net")):
            reversed_name = address.reverse_pointer.rsplit(".", 2)[0]  # without .in-addr.arpa
            rows.append(
                {
                    "source_ip": source,
                    "dns_question_name": f"{reversed_name}.{zone}",
                    "dns_response_code": "NOERROR" if n % 10 == 0 else "NXDOMAIN",
                    "seconds": n * 10,
                }
            )
    return rows


def test_dnsbl_lookups_of_reversed_addresses_are_not_a_bruteforce() -> None:
    """4.3.2.1.zen.spamhaus.org is a blocklist asked about 1.2.3.4, not a guess:
    a mail server's 60 lookups (90% NXDOMAIN) under one list are not found, and
    a wordlist under the same zone with numbers in it still is."""
    rows = dnsbl_lookups()
    assert len({r["dns_question_name"] for r in rows}) == 120
    assert findings(dns.dns_bruteforce(table(rows), DnsBruteforceConfig())) == []
    # Numbers as labels are not an address: one or three labels, 256, text among them.
    guesses = [f"{n}.mail.example.org" for n in range(20)]
    guesses += [f"{n}.{n}.{n}.example.org" for n in range(20)]
    guesses += [f"{n}.256.1.1.example.org" for n in range(5)]
    guesses += [f"{n}.1.1.web.example.org" for n in range(5)]
    wordlist = [
        {
            "source_ip": ATTACKER,
            "dns_question_name": name,
            "dns_response_code": "NXDOMAIN",
            "seconds": i,
        }
        for i, name in enumerate(guesses)
    ]
    found = findings(dns.dns_bruteforce(table(rows + wordlist), DnsBruteforceConfig()))
    assert [(f["source_ip"], f["label"], f["target_count"]) for f in found] == [
        (ATTACKER, "example.org", 50)
    ]


def test_reversed_address_reads_ipv4_octets_and_ipv6_nibbles() -> None:
    v6 = ipaddress.ip_address("2001:db8::1").reverse_pointer.rsplit(".", 2)[0]
    cases = {
        "4.3.2.1.zen.spamhaus.org": True,
        "255.255.255.255.bl.example": True,
        f"{v6}.bl.example": True,
        "256.3.2.1.bl.example": False,
        "4.3.2.1": False,  # an address written as a name, no list under it
        "a.3.2.1.bl.example": False,
        "1234.3.2.1.bl.example": False,
        "3.2.1.bl.example": False,
        f"g{v6[1:]}.bl.example": False,
        f"ab.{v6[4:]}.bl.example": False,
        "www.example.com": False,
    }
    t = ibis.memtable({"name": list(cases)})
    got = t.select(r=dns.reversed_address(t.name)).to_pyarrow().column("r").to_pylist()
    assert dict(zip(cases, got, strict=True)) == cases


# --- ptr_sweep --------------------------------------------------------------------------------


def ptr(address: str, seconds: float, source: str = ATTACKER) -> dict[str, Any]:
    name = ".".join(reversed(address.split("."))) + ".in-addr.arpa"
    return {
        "source_ip": source,
        "dns_question_name": name,
        "dns_question_type": "PTR",
        "dns_response_code": "NXDOMAIN",
        "seconds": seconds,
    }


def test_fierce_like_walk_covers_a_24_and_is_found() -> None:
    # fierce walks +-5 neighbours around each hit: hits .10, .30, .50 -> 33 addresses.
    addresses = sorted({f"203.0.113.{h + d}" for h in (10, 30, 50) for d in range(-5, 6)})
    assert len(addresses) == 33
    rows = [ptr(a, n) for n, a in enumerate(addresses)]
    # A benign mail server reverse-resolving 20 scattered clients.
    rows += [ptr(f"192.0.{n}.1", n, source=BENIGN) for n in range(20)]
    result = findings(dns.ptr_sweep(table(rows), PtrSweepConfig()))
    assert result == [
        finding(
            detection="ptr_sweep",
            source_ip=ATTACKER,
            window_start=at(0),
            first_seen=at(0),
            last_seen=at(32),
            event_count=33,
            target_count=33,
            targets=addresses,
            score=33.0,
            label="203.0.113.0/24",
        )
    ]


def test_ptr_total_over_many_blocks_is_found_and_31_addresses_are_not() -> None:
    sparse = [ptr(f"10.{n // 2}.{n % 2}.1", n) for n in range(80)]
    found = findings(dns.ptr_sweep(table(sparse), PtrSweepConfig()))
    assert [(f["label"], f["score"], f["target_count"]) for f in found] == [
        ("in-addr.arpa", 80.0, 80)
    ]
    under = [ptr(f"203.0.113.{n}", n) for n in range(31)]
    assert findings(dns.ptr_sweep(table(under), PtrSweepConfig())) == []


# --- zone_transfer ----------------------------------------------------------------------------


def test_refused_axfr_is_found_and_an_authorised_secondary_is_not() -> None:
    rows = [
        {
            "source_ip": ATTACKER,
            "dns_question_name": "example.org",
            "dns_question_type": "AXFR",
            "dns_response_code": "REFUSED",
            "event_action": "denied",
            "seconds": 5,
        },
        {
            "source_ip": "192.0.2.2",
            "dns_question_name": "example.org",
            "dns_question_type": "AXFR",
            "seconds": 6,
        },
        {"source_ip": BENIGN, "dns_question_name": "example.org", "seconds": 7},
    ]
    cfg = ZoneTransferConfig(authorised_secondaries=["192.0.2.0/30"])
    assert findings(dns.zone_transfer(table(rows), cfg)) == [
        finding(
            detection="zone_transfer",
            source_ip=ATTACKER,
            window_start=DAY,
            first_seen=at(5),
            last_seen=at(5),
            event_count=1,
            target_count=1,
            targets=["example.org"],
            score=1.0,
            label="AXFR",
        )
    ]
    # Without an allowlist the secondary is reported too.
    sources = [
        f["source_ip"] for f in findings(dns.zone_transfer(table(rows), ZoneTransferConfig()))
    ]
    assert sources == ["192.0.2.2", ATTACKER]
    assert dns.authorised_addresses(cfg) == ["192.0.2.0", "192.0.2.1", "192.0.2.2", "192.0.2.3"]


# --- dns_chaos_probe --------------------------------------------------------------------------


def test_version_bind_chaos_probe_is_found_but_a_txt_of_a_real_name_is_not() -> None:
    rows = [
        {
            "source_ip": ATTACKER,
            "dns_question_name": "version.bind",
            "dns_question_type": "TXT",
            "dns_question_class": "CH",
            "seconds": 1,
        },
        {
            "source_ip": ATTACKER,
            "dns_question_name": "hostname.bind",
            "dns_question_type": "TXT",
            "dns_question_class": "CH",
            "seconds": 2,
        },
        {
            "source_ip": BENIGN,
            "dns_question_name": "example.org",
            "dns_question_type": "TXT",
            "seconds": 3,
        },
        # An A query of version.bind in class IN is a typo, not a probe.
        {"source_ip": BENIGN, "dns_question_name": "version.bind", "seconds": 4},
    ]
    assert findings(dns.dns_chaos_probe(table(rows), DnsChaosProbeConfig())) == [
        finding(
            detection="dns_chaos_probe",
            source_ip=ATTACKER,
            window_start=DAY,
            first_seen=at(1),
            last_seen=at(2),
            event_count=2,
            target_count=2,
            targets=["hostname.bind", "version.bind"],
            score=2.0,
            label="CH",
        )
    ]


# --- dns_any_flood ----------------------------------------------------------------------------


def test_any_flood_at_threshold_is_found_and_below_is_not() -> None:
    rows = [
        {
            "source_ip": ATTACKER,
            "dns_question_name": f"d{n % 4}.example.org",
            "dns_question_type": "ANY",
            "seconds": n,
        }
        for n in range(20)
    ] + [
        {
            "source_ip": BENIGN,
            "dns_question_name": "example.org",
            "dns_question_type": "ANY",
            "seconds": n,
        }
        for n in range(19)
    ]
    result = findings(dns.dns_any_flood(table(rows), DnsAnyFloodConfig()))
    assert [(f["source_ip"], f["score"], f["targets"], f["label"]) for f in result] == [
        (ATTACKER, 20.0, [f"d{n}.example.org" for n in range(4)], "ANY")
    ]


# --- srv_bruteforce ---------------------------------------------------------------------------

SERVICES = [
    "ldap",
    "kerberos",
    "gc",
    "kpasswd",
    "sip",
    "xmpp-server",
    "xmpp-client",
    "autodiscover",
    "imaps",
    "submission",
]


def test_srv_enumeration_is_found_and_a_domain_join_is_not() -> None:
    rows = [
        {
            "source_ip": ATTACKER,
            "dns_question_name": f"_{s}._tcp.example.org",
            "dns_question_type": "SRV",
            "dns_response_code": "NXDOMAIN",
            "seconds": n,
        }
        for n, s in enumerate(SERVICES)
    ]
    joined = [
        "_ldap._tcp.dc._msdcs.corp.example",
        "_kerberos._tcp.corp.example",
        "_ldap._tcp.corp.example",
        "_gc._tcp.corp.example",
    ]
    rows += [
        {"source_ip": BENIGN, "dns_question_name": name, "dns_question_type": "SRV", "seconds": n}
        for n, name in enumerate(joined)
    ]
    result = findings(dns.srv_bruteforce(table(rows), SrvBruteforceConfig()))
    assert [(f["source_ip"], f["label"], f["score"], f["targets"]) for f in result] == [
        (ATTACKER, "example.org", 10.0, sorted(f"_{s}._tcp.example.org" for s in SERVICES))
    ]


# --- registry and portability -----------------------------------------------------------------


def test_dns_detections_are_registered_on_the_dns_table() -> None:
    names = [
        "dns_bruteforce",
        "ptr_sweep",
        "zone_transfer",
        "dns_chaos_probe",
        "dns_any_flood",
        "srv_bruteforce",
    ]
    for name in names:
        assert DETECTIONS[name].inputs == ("dns",)
        assert hasattr(DetectConfig(), DETECTIONS[name].config)


@pytest.mark.parametrize("name", list(dns.DETECTIONS))
def test_dns_detection_compiles_for_spark(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    spark_sql_options(monkeypatch)
    detection = dns.DETECTIONS[name]
    expr = detection.function(table(dnsrecon_burst(5)), getattr(DetectConfig(), detection.config))
    sql = ibis.to_sql(expr, dialect="pyspark")
    assert "SELECT" in sql
    assert "REGEXP" not in sql.upper()


# --- real samples (CrowdSec hub), parsed by the bind parser ----------------------------------


def hub_dns(hub: Path, name: str) -> ibis.Table:
    """One CrowdSec hub sample parsed by the BIND parser, as the ``dns`` table."""
    lines = next((hub / name).glob("*.log")).read_text().splitlines()
    parsed = parse(make(BindParser), lines).rows
    parsed = parsed.append_column("log_file", pa.repeat(pa.scalar(name), parsed.num_rows))
    if "event_dataset" not in parsed.column_names:
        parsed = parsed.append_column(
            "event_dataset", pa.repeat(pa.scalar("bind"), parsed.num_rows)
        )
    return ibis.memtable(schema.conform(parsed, schema.DNS))


def run_all(t: ibis.Table) -> list[tuple[str, str, str, int, float, str]]:
    cfg = DetectConfig()
    out = []
    for name, detection in dns.DETECTIONS.items():
        for f in detection.function(t, getattr(cfg, detection.config)).to_pyarrow().to_pylist():
            day = f["window_start"].date().isoformat()
            out.append((name, f["source_ip"], day, f["event_count"], f["score"], f["label"]))
    return sorted(out)


def test_crowdsec_hub_bind_samples(crowdsec_hub: Path) -> None:
    # Denied zone transfers are found per client and day; the denied ANY queries
    # are spread over days, far from 20 in 5 minutes.
    assert run_all(hub_dns(crowdsec_hub, "bind9-refused")) == [
        ("zone_transfer", "104.219.136.31", f"2022-10-{d}", 1, 1.0, "AXFR")
        for d in (19, 20, 21, 22)
    ]
    assert run_all(hub_dns(crowdsec_hub, "bind9-logs")) == [
        ("zone_transfer", "192.168.1.2", "2022-10-20", 1, 1.0, "AXFR"),
        # Three denied AXFRs and a NOTAUTH "bad zone transfer request" (XFR).
        ("zone_transfer", "::1", "2022-11-03", 4, 4.0, "AXFR,XFR"),
    ]
    allow = ZoneTransferConfig(authorised_secondaries=["::1/128"])
    kept = dns.zone_transfer(hub_dns(crowdsec_hub, "bind9-logs"), allow).to_pyarrow()
    assert kept.column("source_ip").to_pylist() == ["192.168.1.2"]


def test_targets_are_capped_but_target_count_is_not() -> None:
    rows = [
        {
            "source_ip": ATTACKER,
            "dns_question_name": f"w{n:04d}.example.org",
            "dns_response_code": "NXDOMAIN",
            "seconds": n * 0.5,
        }
        for n in range(dns.MAX_TARGETS + 1)
    ]
    (found,) = findings(dns.dns_bruteforce(table(rows), DnsBruteforceConfig()))
    assert found["target_count"] == dns.MAX_TARGETS + 1
    assert found["targets"] == [f"w{n:04d}.example.org" for n in range(dns.MAX_TARGETS)]
    assert found["label"] == "example.org"  # no long random label: no wildcard probe


def test_bad_zone_transfer_requests_are_zone_transfers() -> None:
    """BIND's "bad zone transfer request" names the zone, not AXFR or IXFR: the
    row's type is XFR, and the refused request is a transfer attempt all the same."""
    lines = [
        "28-Nov-2026 04:00:00.123 client @0x7fa0 203.0.113.66#61738 (example.com): bad zone "
        "transfer request: 'example.com/IN': non-authoritative zone (NOTAUTH)",
        "28-Nov-2026 04:00:01.123 client @0x7fa0 203.0.113.66#61739 (example.org): bad zone "
        "transfer request: 'example.org/IN': non-authoritative zone (NOTAUTH)",
    ]
    parsed = parse(make(BindParser), lines).rows
    parsed = parsed.append_column("log_file", pa.repeat(pa.scalar("named.log"), 2))
    t = ibis.memtable(schema.conform(parsed, schema.DNS))
    result = findings(dns.zone_transfer(t, ZoneTransferConfig()))
    assert [(f["source_ip"], f["label"], f["event_count"], f["targets"]) for f in result] == [
        ("203.0.113.66", "XFR", 2, ["example.com", "example.org"])
    ]


def test_axfr_and_ixfr_from_one_client_are_one_finding() -> None:
    rows = [
        {
            "source_ip": ATTACKER,
            "dns_question_name": "example.org",
            "dns_question_type": t,
            "seconds": n,
        }
        for n, t in enumerate(["IXFR", "AXFR", "axfr"])
    ]
    result = findings(dns.zone_transfer(table(rows), ZoneTransferConfig()))
    assert [(f["label"], f["event_count"], f["targets"]) for f in result] == [
        ("AXFR,IXFR", 3, ["example.org"])
    ]


# --- requests, not rows: a query and its answer logged as two rows --------------------------


def exchange(n: int, dataset: str, *, answered: bool = True, **row: Any) -> list[dict[str, Any]]:
    """Query ``n`` as a source that logs both halves writes it: the query row (no
    response code) and, when ``answered``, the answer row a moment later."""
    base = {"source_ip": ATTACKER, "event_dataset": dataset, "seconds": n, **row}
    rows = [{**base, "dns_response_code": None}]
    if answered:
        rows.append({**base, "seconds": n + 0.01, "dns_response_code": "NOERROR", **row})
    return rows


def any_queries(count: int, dataset: str, **kw: Any) -> list[dict[str, Any]]:
    return [
        r
        for n in range(count)
        for r in exchange(
            n, dataset, dns_question_name="example.com", dns_question_type="ANY", **kw
        )
    ]


def flood_counts(rows: list[dict[str, Any]]) -> list[int]:
    return [f["event_count"] for f in findings(dns.dns_any_flood(table(rows), DnsAnyFloodConfig()))]


@pytest.mark.parametrize("dataset", ["windns", "suricata.dns", "unbound"])
def test_a_query_and_its_answer_are_one_request(dataset: str) -> None:
    # Ten ANY queries answered: twenty rows, ten requests, under the 20 of the rule.
    assert flood_counts(any_queries(10, dataset)) == []
    assert flood_counts(any_queries(20, dataset)) == [20]
    # A log of answers only counts its answers; unanswered queries count too.
    answers = [r for r in any_queries(20, dataset) if r["dns_response_code"]]
    assert flood_counts(answers) == [20]
    assert flood_counts(any_queries(20, dataset, answered=False)) == [20]
    # Zeek (one row per transaction) is not such a source: twenty rows there,
    # half unanswered (no rcode), are twenty requests, not ten pairs.
    zeek = [
        {**r, "event_dataset": "zeek.dns", "seconds": n}
        for n, r in enumerate(any_queries(10, dataset))
    ]
    assert flood_counts(zeek) == [20]


def test_windows_dns_debug_log_queries_and_responses() -> None:
    """The Windows DNS debug log writes ``Rcv`` (the query) and ``Snd R`` (the
    response) for each query: ten ANY queries are ten, not a flood of twenty."""

    def lines(count: int) -> list[str]:
        out = []
        for i in range(count):
            stamp = f"11/28/2026 4:00:{i:02d} AM 0E4C PACKET  0000020D2A6F2150 UDP"
            xid = f"{i + 1:04x}"
            out += [
                f"{stamp} Rcv 203.0.113.20    {xid}   Q [0001   D   NOERROR] ANY    "
                "(7)example(3)com(0)",
                f"{stamp} Snd 203.0.113.20    {xid} R Q [8081   DR  NOERROR] ANY    "
                "(7)example(3)com(0)",
            ]
        return out

    def flood(count: int) -> list[int]:
        parsed = parse(make(WindowsDnsParser), lines(count)).rows
        parsed = parsed.append_column("log_file", pa.repeat(pa.scalar("dns.log"), 2 * count))
        if "event_dataset" not in parsed.column_names:
            parsed = parsed.append_column(
                "event_dataset", pa.repeat(pa.scalar("windns"), 2 * count)
            )
        t = ibis.memtable(schema.conform(parsed, schema.DNS))
        return [f["event_count"] for f in findings(dns.dns_any_flood(t, DnsAnyFloodConfig()))]

    assert flood(10) == []
    assert flood(20) == [20]


def test_bind_query_line_and_its_denial_are_one_transfer_request() -> None:
    # With query logging on, BIND writes "query: example.org IN AXFR" and then
    # "zone transfer 'example.org/AXFR/IN' denied" for one request.
    rows = [
        {
            "source_ip": ATTACKER,
            "event_dataset": dataset,
            "dns_question_name": "example.org",
            "dns_question_type": "AXFR",
            "dns_response_code": None,
            "event_action": action,
            "seconds": 5,
        }
        for dataset, action in (("bind.query", "allowed"), ("bind.security", "denied"))
    ]
    result = findings(dns.zone_transfer(table(rows), ZoneTransferConfig()))
    assert [(f["event_count"], f["score"]) for f in result] == [(1, 1.0)]
    # And its denied ANY queries (query (cache) '...' denied) beside their query lines.
    anys = [{**row, "dns_question_type": "ANY", "seconds": n} for n in range(15) for row in rows]
    assert flood_counts(anys) == []


def test_every_dns_detection_counts_requests() -> None:
    """Chaos probes, brute force, PTR and SRV walks: event_count is requests too
    (names and addresses were distinct counts already)."""
    chaos = [
        r
        for n in range(2)
        for r in exchange(n, "suricata.dns", dns_question_name="version.bind",
                          dns_question_type="TXT", dns_question_class="CH")
    ]  # fmt: skip
    (probe,) = findings(dns.dns_chaos_probe(table(chaos), DnsChaosProbeConfig()))
    assert (probe["event_count"], probe["score"]) == (2, 2.0)
    brute = [
        r for n in range(60) for r in exchange(n, "windns", dns_question_name=f"w{n}.example.org")
    ]
    for r in brute:
        r["dns_response_code"] = r["dns_response_code"] and "NXDOMAIN"
    (found,) = findings(dns.dns_bruteforce(table(brute), DnsBruteforceConfig()))
    assert (found["event_count"], found["target_count"]) == (60, 60)
    sweep = [
        r
        for n in range(40)
        for r in exchange(n, "unbound", dns_question_name=f"{n}.113.0.203.in-addr.arpa",
                          dns_question_type="PTR")
    ]  # fmt: skip
    (walk,) = findings(dns.ptr_sweep(table(sweep), PtrSweepConfig()))
    assert (walk["event_count"], walk["target_count"]) == (40, 40)
    srv = [
        r
        for n, s in enumerate(SERVICES)
        for r in exchange(n, "windns", dns_question_name=f"_{s}._tcp.example.org",
                          dns_question_type="SRV")
    ]  # fmt: skip
    (enum,) = findings(dns.srv_bruteforce(table(srv), SrvBruteforceConfig()))
    assert (enum["event_count"], enum["target_count"]) == (10, 10)


def spark_rows() -> list[dict[str, Any]]:
    """Pairs of every kind, for the Spark comparison: an ANY flood of 20 answered
    queries from the attacker (a finding of 20), 10 from the benign client (none),
    a BIND transfer request (query line and denial), a chaos probe, a brute force,
    and a mail server's DNSBL lookups (none)."""
    rows = any_queries(20, "windns")
    rows += [{**r, "source_ip": BENIGN} for r in any_queries(10, "suricata.dns")]
    rows += [
        {
            "source_ip": ATTACKER,
            "event_dataset": dataset,
            "dns_question_name": "example.org",
            "dns_question_type": "AXFR",
            "dns_response_code": None,
            "seconds": 30,
        }
        for dataset in ("bind.query", "bind.security")
    ]
    rows += exchange(31, "unbound", dns_question_name="version.bind", dns_question_type="TXT")
    brute = [
        r
        for n in range(60)
        for r in exchange(40 + n, "windns", dns_question_name=f"w{n}.example.net")
    ]
    brute = [{**r, "dns_response_code": r["dns_response_code"] and "NXDOMAIN"} for r in brute]
    return rows + brute + dnsbl_lookups()


def test_requests_are_counted_the_same_on_spark(tmp_path: Path) -> None:
    lake = Lake(tmp_path / "lake")
    lake.write("dns", dns_rows(spark_rows()), "pairs")
    names = list(dns.DETECTIONS)
    duck, spark = Engine(lake), Engine(lake, EngineConfig(kind="spark", spark_master="local[2]"))
    try:
        expected = run_detections(duck.tables(), DetectConfig(), names)
        assert sorted(
            (r["detection"], r["source_ip"], r["event_count"]) for r in expected.to_pylist()
        ) == [
            ("dns_any_flood", ATTACKER, 20),
            ("dns_bruteforce", ATTACKER, 60),
            ("dns_chaos_probe", ATTACKER, 1),
            ("zone_transfer", ATTACKER, 1),
        ]
        assert run_detections(spark.tables(), DetectConfig(), names).equals(expected)
    finally:
        duck.close()
        spark.close()
