"""IDS/IPS logs: Suricata eve.json (flow, alert, anomaly, dns, http -> four tables) and
Snort/Suricata fast.log -> ``alert``. Exact values, rejects, sniffing, properties, framework."""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ingest_helpers import check_two_batches, make
from ingest_helpers import parse as parse_with
from reconwatch import schema
from reconwatch.config import Config
from reconwatch.ingest import ids, registry, run
from reconwatch.ingest.base import ParseContext, Parsed, Parser
from reconwatch.ingest.ids_fastlog import FastLogParser
from reconwatch.ingest.ids_suricata import SuricataEveParser
from reconwatch.lake import Lake
from reconwatch.netaddr import normalise_ip

FIXTURES = Path(__file__).parent / "fixtures" / "ids"
NOW = dt.datetime(2026, 11, 28, 5, 0, tzinfo=dt.UTC)


def at(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=dt.UTC)


def parse(parser_cls: type[Parser], lines: list[str], config: Config | None = None) -> Parsed:
    con = duckdb.connect()
    try:
        return parse_with(parser_cls(ParseContext(config or Config(), con, "t.log", NOW)), lines)
    finally:
        con.close()


def conformed(table: pa.Table, name: str) -> list[dict[str, Any]]:
    """``table`` as the framework stores it in table ``name``."""
    if "event_dataset" not in table.column_names:
        table = table.append_column("event_dataset", pa.repeat("x", table.num_rows))
    table = table.append_column("log_file", pa.repeat("t.log", table.num_rows))
    return schema.conform(table, schema.TABLES[name]).to_pylist()  # type: ignore[no-any-return]


def pick(rows: list[dict[str, Any]], *keys: str) -> list[tuple[Any, ...]]:
    return [tuple(r[k] for k in keys) for r in rows]


def rejects(parsed: Parsed) -> list[tuple[int, str]]:
    return [(r["log_line"], r["reason"]) for r in parsed.rejects.to_pylist()]


def fixture(name: str) -> list[str]:
    return (FIXTURES / name).read_text().splitlines()


# -- Suricata eve.json ------------------------------------------------------------------------


def test_eve_fills_four_tables_and_accounts_for_every_line() -> None:
    parsed = parse(SuricataEveParser, fixture("eve.json"))
    assert sorted(parsed.other_tables) == ["dns", "http", "network"]
    # stats, tls and the trailing blank line.
    assert parsed.skipped == 3
    assert rejects(parsed) == [
        (15, "invalid JSON"),
        (16, "missing timestamp"),
        (17, "missing event_type"),
        (18, "missing destination address"),
        (19, "invalid timestamp"),
        (20, "invalid source address"),
    ]


def test_eve_flows_become_network_rows_with_outcomes() -> None:
    network = conformed(parse(SuricataEveParser, fixture("eve.json")).other_tables["network"],
                        "network")  # fmt: skip
    assert pick(network, "log_line", "timestamp", "source_ip", "source_port", "destination_ip",
                "destination_port", "network_transport", "tcp_flags", "connection_state",
                "connection_outcome", "network_bytes", "network_packets", "event_action",
                "event_dataset") == [
        # A SYN the responder never answered.
        (1, at(2026, 11, 28, 3, 59, 58, 1), "192.0.2.66", 40000, "203.0.113.10", 22, "tcp",
         "SYN", "new", "failed", 60, 1, None, "suricata.flow"),
        # A handshake (SYN+ACK from the responder); the flow start's +0100 offset honoured.
        (2, at(2026, 11, 28, 2, 59, 59, 500000), "192.0.2.66", 40001, "203.0.113.10", 443,
         "tcp", "ACK PSH SYN FIN", "closed", "succeeded", 4700, 11, None, "suricata.flow"),
        # Refused: the responder sent RST+ACK, never SYN+ACK.
        (3, at(2026, 11, 28, 4, 0, 0, 300000), "2001:db8::66", 40002, "2001:db8::10", 23, "tcp",
         "ACK RST SYN", "closed", "failed", 134, 2, None, "suricata.flow"),
        (4, at(2026, 11, 28, 4, 0, 0, 400000), "192.0.2.66", 40003, "203.0.113.10", 161, "udp",
         None, "new", "failed", 80, 1, None, "suricata.flow"),
    ]  # fmt: skip


def test_eve_alerts_and_anomalies() -> None:
    alerts = conformed(parse(SuricataEveParser, fixture("eve.json")).rows, "alert")
    assert pick(alerts, "log_line", "timestamp", "source_ip", "source_port", "destination_ip",
                "destination_port", "network_transport", "rule_id", "rule_name", "rule_category",
                "event_severity", "event_action", "event_dataset") == [
        (5, at(2026, 11, 28, 4, 0, 1), "192.0.2.66", 40004, "203.0.113.10", 3389, "tcp",
         "2001219", "ET SCAN Potential SSH Scan", "Attempted Information Leak", 2, "denied",
         "suricata.alert"),
        (6, at(2026, 11, 28, 4, 0, 2), "192.0.2.66", 40005, "203.0.113.10", 80, "tcp", None,
         "stream.pkt_invalid_ack", "stream", None, None, "suricata.anomaly"),
    ]  # fmt: skip


def test_eve_dns_queries_and_answers_in_every_version() -> None:
    dns_rows = conformed(parse(SuricataEveParser, fixture("eve.json")).other_tables["dns"], "dns")
    assert pick(dns_rows, "log_line", "source_ip", "source_port", "destination_ip",
                "destination_port", "dns_question_name", "dns_question_type",
                "dns_response_code", "dns_answers", "dns_id") == [
        (7, "192.0.2.1", 53211, "198.51.100.53", 53, "www.example.com", "A", None, None, 4711),
        # Answers travel server -> client: swapped so that the client is the source.
        (8, "192.0.2.1", 53211, "198.51.100.53", 53, "www.example.com", "A", "NOERROR",
         ["93.184.216.34"], 4711),
        (9, "192.0.2.1", 53212, "198.51.100.53", 53, "v2.example.com", "A", "NOERROR",
         ["192.0.2.80", "192.0.2.81"], 4712),
        (10, "2001:db8::7", 53213, "2001:db8::53", 53, "grouped.example.com", "AAAA",
         "NXDOMAIN", ["2001:db8::80"], 4713),
        # A v3 request with the header's code (always NOERROR): no response code.
        (11, "192.0.2.1", 53214, "198.51.100.53", 53, "example.com", "AXFR", None, None, 4714),
    ]  # fmt: skip
    assert {r["event_dataset"] for r in dns_rows} == {"suricata.dns"}
    assert dns_rows[0]["timestamp"] == at(2026, 11, 28, 4, 0, 3)


def test_eve_dns_numeric_rrtypes_become_mnemonics() -> None:
    """Suricata writes the number of a type it has no name for ("252" for AXFR):
    the row gets the mnemonic, or TYPE<n> for a number without one."""

    def event(n: int, rrtype: str, v3: bool = False) -> str:
        dns: dict[str, Any] = {"type": "query", "id": 4700 + n, "tx_id": 0}
        if v3:
            dns["queries"] = [{"rrname": "example.com", "rrtype": rrtype}]
        else:
            dns |= {"rrname": "example.com", "rrtype": rrtype}
        return json.dumps({
            "timestamp": f"2026-11-28T04:00:0{n}.400000+0000", "flow_id": n,
            "event_type": "dns", "src_ip": "203.0.113.66", "src_port": 53214,
            "dest_ip": "198.51.100.53", "dest_port": 53, "proto": "TCP", "dns": dns,
        })  # fmt: skip

    lines = [event(0, "252"), event(1, "251"), event(2, "255"), event(3, "65", v3=True),
             event(4, "65280"), event(5, "TYPE252"), event(6, "txt")]  # fmt: skip
    dns_rows = conformed(parse(SuricataEveParser, lines).other_tables["dns"], "dns")
    assert [r["dns_question_type"] for r in dns_rows] == [
        "AXFR", "IXFR", "ANY", "HTTPS", "TYPE65280", "AXFR", "TXT"
    ]  # fmt: skip


def test_eve_http() -> None:
    http = conformed(parse(SuricataEveParser, fixture("eve.json")).other_tables["http"], "http")
    assert pick(http, "log_line", "timestamp", "source_ip", "destination_ip", "destination_port",
                "url_domain", "http_request_method", "url_path", "url_query", "http_version",
                "http_response_status_code", "http_response_bytes", "http_request_referrer",
                "user_agent_original") == [
        (12, at(2026, 11, 28, 4, 0, 4), "192.0.2.66", "203.0.113.10", 80, "www.example.com",
         "GET", "/wp-login.php", "redirect_to=%2F&x=1", "HTTP/1.1", 404, 162,
         "http://evil.example/", "WPScan v3.8"),
    ]  # fmt: skip


def test_eve_real_samples(crowdsec_hub: Path) -> None:
    lines = (crowdsec_hub / "suricata-logs-evelog" / "suricata-logs-evelog.log").read_text()
    parsed = parse(SuricataEveParser, lines.splitlines())
    alerts = conformed(parsed.rows, "alert")
    assert pick(alerts, "log_line", "source_ip", "destination_ip", "destination_port", "rule_id",
                "event_severity", "event_action") == [
        (1, "1.2.3.4", "127.0.0.1", 80, "2024468", 1, "allowed"),
        (2, "1.2.3.5", "127.0.0.1", 80, "2843816", 2, "allowed"),
        (5, "1.2.3.7", "127.0.0.1", 80, "2034125", 1, "allowed"),
        (8, "1.2.3.7", "127.0.0.1", 80, "2034125", 1, "allowed"),
    ]  # fmt: skip
    assert alerts[0]["timestamp"] == at(2022, 7, 10, 23, 50, 5, 533101)
    assert (
        alerts[0]["rule_name"] == "ET WEB_SPECIFIC_APPS OGNL Expression Injection (CVE-2017-9791)"
    )
    network = conformed(parsed.other_tables["network"], "network")
    assert pick(network, "log_line", "source_ip", "destination_port", "connection_outcome") == [
        (3, "1.2.3.6", 2352, "failed"),
        (6, "1.2.3.6", 2352, "failed"),
    ]
    kinds = [json.loads(line).get("event_type") for line in lines.splitlines() if line.strip()]
    assert parsed.skipped == sum(k not in ("alert", "flow") for k in kinds) + (
        len(lines.splitlines()) - len(kinds)
    )


def test_eve_real_detect_sample(crowdsec_hub: Path) -> None:
    lines = (crowdsec_hub / "suricata-eve-detect" / "suricata-eve-detect.log").read_text()
    alerts = conformed(parse(SuricataEveParser, lines.splitlines()).rows, "alert")
    assert pick(alerts, "source_ip", "source_port", "destination_ip", "destination_port",
                "rule_id", "rule_category") == [
        ("1.2.3.4", 33270, "1.2.3.5", 80, "2034125", "Attempted Administrator Privilege Gain"),
        ("2.2.3.4", 5164, "2.2.3.5", 5060, "2011716", "Attempted Information Leak"),
        ("2.2.3.4", 5164, "2.2.3.5", 5060, "2011717", "Attempted Information Leak"),
        ("2.2.3.4", 5164, "2.2.3.5", 5060, "2011718", "Attempted Information Leak"),
    ]  # fmt: skip


# -- fast.log --------------------------------------------------------------------------------


def test_fastlog_fixture_lines() -> None:
    parsed = parse(FastLogParser, fixture("fast.log"))
    alerts = conformed(parsed.rows, "alert")
    assert pick(alerts, "log_line", "timestamp", "source_ip", "source_port", "destination_ip",
                "destination_port", "network_transport", "rule_id", "rule_name", "rule_category",
                "event_severity") == [
        (1, at(2026, 11, 28, 4, 0, 0, 123456), "192.0.2.66", 40000, "203.0.113.10", 22, "tcp",
         "2001219", "ET SCAN Potential SSH Scan", "Attempted Information Leak", 2),
        (2, at(2026, 11, 28, 4, 0, 1), "192.0.2.66", None, "203.0.113.10", None, "icmp",
         "2100366", "GPL ICMP_INFO PING *NIX", "Misc activity", 3),
        (3, at(2026, 11, 28, 4, 0, 2), "2001:db8::66", 40001, "2001:db8::10", 443, "tcp",
         "2009582", "ET SCAN NMAP -sS window 1024", None, 2),
        (4, at(2026, 11, 28, 4, 0, 3), "2001:db8::66", 40002, "2001:db8::10", 161, "udp",
         "2009583", "ET SCAN bracketed", "Attempted Information Leak", 1),
    ]  # fmt: skip
    assert rejects(parsed) == [
        (5, "invalid timestamp"),
        (6, "invalid source address"),
        (7, "not a fast.log alert"),
    ]
    assert parsed.skipped == 1


def test_fastlog_real_sample_in_the_configured_zone(crowdsec_hub: Path) -> None:
    lines = (crowdsec_hub / "suricata-logs-fastlog" / "suricata-logs-fastlog.log").read_text()
    config = Config.model_validate({"syslog": {"timezone": "Europe/Paris"}})
    alerts = conformed(parse(FastLogParser, lines.splitlines(), config).rows, "alert")
    assert pick(alerts, "timestamp", "source_ip", "source_port", "destination_ip",
                "destination_port", "network_transport", "rule_id", "event_severity") == [
        (at(2022, 7, 11, 8, 29, 1, 860293), "2.57.122.209", 28487, "172.31.18.55", 80, "tcp",
         "2200074", 3),
        (at(2022, 7, 11, 8, 29, 32, 251216), "89.248.163.216", 5116, "172.31.18.55", 5060,
         "udp", "2008578", 2),
        (at(2022, 7, 11, 6, 36, 12, 345430), "172.31.18.55", 57194, "169.254.169.254", 80,
         "tcp", "2034567", 2),
        (at(2022, 7, 11, 4, 9, 52, 602489), "185.7.214.104", 36288, "172.31.18.55", 80, "tcp",
         "2034125", 1),
    ]  # fmt: skip


def test_fastlog_snort_yearless_stamps_take_the_syslog_year_and_roll_over() -> None:
    # Read on 2026-11-28: the first stamp (December) is last year's, January turns it.
    parsed = parse(FastLogParser, fixture("fast-snort.log"))
    alerts = conformed(parsed.rows, "alert")
    assert pick(alerts, "log_line", "timestamp", "source_ip", "source_port", "destination_ip",
                "destination_port", "network_transport", "rule_id", "rule_name", "rule_category",
                "event_severity") == [
        (1, at(2025, 12, 31, 23, 59, 58, 123456), "198.51.100.7", 53222, "203.0.113.10", 22,
         "tcp", "2009582", "ET SCAN NMAP -sS window 1024", "Attempted Information Leak", 2),
        (2, at(2025, 12, 31, 23, 59, 59, 500000), "198.51.100.7", None, "203.0.113.10", None,
         "icmp", "2100366", "GPL ICMP_INFO PING *NIX", "Misc activity", 3),
        (3, at(2026, 1, 1, 0, 0, 1, 1), "198.51.100.8", 40000, "203.0.113.10", 22, "tcp",
         "2001219", "ET SCAN Potential SSH Scan", "Attempted Information Leak", 2),
        (4, at(2026, 1, 1, 0, 0, 2), "2001:db8::66", 40002, "2001:db8::10", 161, "udp",
         "2009583", "ET SCAN v6", None, 1),
    ]  # fmt: skip
    assert rejects(parsed) == [
        (6, "invalid timestamp"),
        (7, "invalid timestamp"),
        (8, "invalid timestamp"),
    ]
    assert parsed.skipped == 1


def test_fastlog_snort_year_from_config_zone_and_across_batches() -> None:
    config = Config.model_validate({"syslog": {"year": 2019, "timezone": "Europe/Paris"}})
    con = duckdb.connect()
    try:
        parser = FastLogParser(ParseContext(config, con, "t.log", NOW))
        lines = fixture("fast-snort.log")[:4]
        # December in one batch, January in the next: the year carries over and turns.
        first = conformed(parse_with(parser, lines[:2]).rows, "alert")
        second = conformed(parse_with(parser, lines[2:], first=3).rows, "alert")
    finally:
        con.close()
    assert [r["timestamp"] for r in first + second] == [
        at(2019, 12, 31, 22, 59, 58, 123456),
        at(2019, 12, 31, 22, 59, 59, 500000),
        at(2019, 12, 31, 23, 0, 1, 1),
        at(2019, 12, 31, 23, 0, 2),
    ]


def test_fastlog_suricata_and_snort_stamps_in_one_file() -> None:
    lines = [fixture("fast.log")[0], fixture("fast-snort.log")[2]]
    alerts = conformed(parse(FastLogParser, lines).rows, "alert")
    assert [r["timestamp"] for r in alerts] == [
        at(2026, 11, 28, 4, 0, 0, 123456),
        at(2026, 1, 1, 0, 0, 1, 1),
    ]


def test_fastlog_snort_two_digit_year_is_this_century_and_a_snort_stamp() -> None:
    """Snort's ``-y`` writes the year modulo 100 (``%02d``): 22 is 2022, never
    the year 22; and the stamp is Snort's, so an ICMP end's last group stays
    the address's own (Snort writes no ports for it)."""
    short = "08/04/22-13:32:11.123456"
    lines = [
        _alert(short, "TCP", "198.51.100.7:53222 -> 203.0.113.10:22"),
        _alert(short, "IPV6-ICMP", "2001:db8::1:128 -> 2001:db8::2:0"),
        _alert("08/04/99-13:32:11", "TCP", "198.51.100.7:53222 -> 203.0.113.10:22"),
        _alert("08/04/2-13:32:11", "TCP", "198.51.100.7:53222 -> 203.0.113.10:22"),
    ]
    assert FastLogParser.sniff(lines[:1])
    parsed = parse(FastLogParser, lines)
    assert pick(conformed(parsed.rows, "alert"), "log_line", "timestamp", *ENDS) == [
        (1, at(2022, 8, 4, 13, 32, 11, 123456), "198.51.100.7", 53222, "203.0.113.10", 22, "tcp"),
        (2, at(2022, 8, 4, 13, 32, 11, 123456), "2001:db8::1:128", None, "2001:db8::2:0", None,
         "ipv6-icmp"),
        (3, at(1999, 8, 4, 13, 32, 11), "198.51.100.7", 53222, "203.0.113.10", 22, "tcp"),
    ]  # fmt: skip
    assert rejects(parsed) == [(4, "invalid timestamp")]


def _alert(stamp: str, proto: str, ends: str, marker: str = "") -> str:
    """A fast.log line as Suricata (``MM/DD/YYYY`` stamp) or Snort (yearless) writes it."""
    return (f"{stamp}  {marker}[**] [1:2200080:2] probe [**] [Classification: Misc activity] "
            f"[Priority: 3] {{{proto}}} {ends}")  # fmt: skip


SURICATA = "11/28/2026-04:00:00.000000"
SNORT = "11/28-04:00:00.000000"
ENDS = ("source_ip", "source_port", "destination_ip", "destination_port", "network_transport")


def test_fastlog_suricata_writes_a_number_after_every_address() -> None:
    # alert-fastlog.c writes ``addr:N`` whatever the protocol: ICMP's type and
    # code, 0 for protocols without ports. Neither is a port.
    lines = [
        "07/11/2022-10:29:02.860293  [**] [1:2100366:8] GPL ICMP_INFO PING *NIX [**] "
        "[Classification: Misc activity] [Priority: 3] {ICMP} 2.57.122.209:8 -> 172.31.18.55:0",
        "07/11/2022-10:29:03.860293  [**] [1:2200080:2] v6 ping [**] "
        "[Classification: Misc activity] [Priority: 3] {IPv6-ICMP} 2001:db8::1:128 -> "
        "2001:db8::2:0",
        "07/11/2022-10:29:06.860293  [**] [1:2200081:2] gre [**] "
        "[Classification: Misc activity] [Priority: 3] {GRE} 2.57.122.209:0 -> 172.31.18.55:0",
        _alert(SURICATA, "SCTP", "2001:db8::1:2905 -> 2001:db8::2:2905"),
        # The address ``::`` and one ending in ``::``, each followed by its number.
        _alert(SURICATA, "IPv6-ICMP", ":::128 -> 2001:db8:::0"),
        _alert(SURICATA, "TCP", ":::40000 -> [2001:db8::10]:22"),
    ]
    parsed = parse(FastLogParser, lines)
    assert rejects(parsed) == []
    assert pick(conformed(parsed.rows, "alert"), *ENDS) == [
        ("2.57.122.209", None, "172.31.18.55", None, "icmp"),
        ("2001:db8::1", None, "2001:db8::2", None, "ipv6-icmp"),
        ("2.57.122.209", None, "172.31.18.55", None, "gre"),
        ("2001:db8::1", 2905, "2001:db8::2", 2905, "sctp"),
        ("::", None, "2001:db8::", None, "ipv6-icmp"),
        ("::", 40000, "2001:db8::10", 22, "tcp"),
    ]


def test_fastlog_bare_addresses_and_which_ipv6_suffix_is_a_port() -> None:
    lines = [
        # Snort writes no ports for ICMP: with its yearless stamp, a last group
        # that reads both ways belongs to the address.
        _alert(SNORT, "IPV6-ICMP", "2001:db8::1:128 -> 2001:db8::2:0"),
        # A Suricata stamp, but one end has no number: neither has.
        _alert(SURICATA, "ICMP", "192.0.2.66 -> 2001:db8::2:0"),
        _alert(SURICATA, "IPv6-ICMP", "2001:db8::80 -> 2001:db8::2:0"),
        # One end is only an address with its number cut off: both have one.
        _alert(SNORT, "IPV6-ICMP", "2001:db8:0:0:1:2:3:4:128 -> 2001:db8::2:0"),
        _alert(SNORT, "IPV6-ICMP", "2001:db8:::128 -> 2001:db8::2:0"),
        # Full eight groups: the last is the address's own.
        _alert(SNORT, "ICMP", "2001:db8:0:0:1:2:3:4 -> ::ffff:192.0.2.1"),
        # TCP and UDP always carry ports, whatever the stamp.
        _alert(SNORT, "TCP", "2001:db8::1:40000 -> 2001:db8::2:22"),
        # Snort writes TCP fragments without ports.
        _alert(SNORT, "TCP", "192.0.2.66 -> 203.0.113.10"),
        _alert(SNORT, "SCTP", "2001:db8::1:2 -> 2001:db8::3:4"),
        # A port on one end only, and a port that is not one.
        _alert(SURICATA, "TCP", "192.0.2.66:40000 -> 203.0.113.10"),
        _alert(SURICATA, "ICMP", "[2001:db8::1]:8 -> [2001:db8::2]"),
        _alert(SURICATA, "TCP", "192.0.2.66:70000 -> 203.0.113.10:22"),
        _alert(SURICATA, "TCP", "192.0.2.66:x -> 203.0.113.10:22"),
        _alert(SURICATA, "TCP", "[2001:db8::1]: -> 203.0.113.10:22"),
        # Cut or not, nothing here is an address.
        _alert(SURICATA, "IPv6-ICMP", "2001:db8::zz:128 -> 2001:db8::2:0"),
    ]
    parsed = parse(FastLogParser, lines)
    assert pick(conformed(parsed.rows, "alert"), "log_line", *ENDS) == [
        (1, "2001:db8::1:128", None, "2001:db8::2:0", None, "ipv6-icmp"),
        (2, "192.0.2.66", None, "2001:db8::2:0", None, "icmp"),
        (3, "2001:db8::80", None, "2001:db8::2:0", None, "ipv6-icmp"),
        (4, "2001:db8::1:2:3:4", None, "2001:db8::2", None, "ipv6-icmp"),
        (5, "2001:db8::", None, "2001:db8::2", None, "ipv6-icmp"),
        (6, "2001:db8::1:2:3:4", None, "192.0.2.1", None, "icmp"),
        (7, "2001:db8::1", 40000, "2001:db8::2", 22, "tcp"),
        (8, "192.0.2.66", None, "203.0.113.10", None, "tcp"),
        (9, "2001:db8::1:2", None, "2001:db8::3:4", None, "sctp"),
    ]  # fmt: skip
    assert rejects(parsed) == [
        (10, "invalid port"),
        (11, "invalid port"),
        (12, "invalid port"),
        (13, "invalid port"),
        (14, "invalid port"),
        (15, "invalid source address"),
    ]


def test_fastlog_inline_action_markers() -> None:
    ends = "2.57.122.209:28487 -> 172.31.18.55:80"
    lines = [
        "07/11/2022-10:29:04.860293  [Drop] [**] [1:2400000:1] ET DROP Spamhaus DROP Listed "
        "Traffic Inbound [**] [Classification: Misc Attack] [Priority: 2] {TCP} "
        "2.57.122.209:28487 -> 172.31.18.55:80",
        "07/11/2022-10:29:05.860293  [wDrop] [**] [1:2400000:1] ET DROP Spamhaus DROP Listed "
        "Traffic Inbound [**] [Classification: Misc Attack] [Priority: 2] {TCP} "
        "2.57.122.209:28488 -> 172.31.18.55:80",
        _alert(SURICATA, "TCP", ends),
        # Snort 2 and Snort 3.
        _alert(SNORT, "TCP", ends, "[WDrop] "),
        _alert(SNORT, "TCP", ends, "[block] "),
        _alert(SNORT, "TCP", ends, "[reset] "),
        _alert(SNORT, "TCP", ends, "[would_drop] "),
        _alert(SNORT, "TCP", ends, "[cant_block] "),
        # An action of neither kind: the row, without one.
        _alert(SNORT, "TCP", ends, "[hold] "),
        _alert(SURICATA, "TCP", ends, "[Drop it] "),
        _alert(SURICATA, "TCP", ends, "Drop "),
    ]
    parsed = parse(FastLogParser, lines)
    alerts = conformed(parsed.rows, "alert")
    assert pick(alerts, "log_line", "event_action") == [
        (1, "denied"), (2, "allowed"), (3, "allowed"), (4, "allowed"), (5, "denied"),
        (6, "denied"), (7, "allowed"), (8, "allowed"), (9, None),
    ]  # fmt: skip
    assert pick(alerts[:2], "timestamp", "source_port", "rule_id", "rule_name") == [
        (at(2022, 7, 11, 10, 29, 4, 860293), 28487, "2400000",
         "ET DROP Spamhaus DROP Listed Traffic Inbound"),
        (at(2022, 7, 11, 10, 29, 5, 860293), 28488, "2400000",
         "ET DROP Spamhaus DROP Listed Traffic Inbound"),
    ]  # fmt: skip
    assert rejects(parsed) == [(10, "not a fast.log alert"), (11, "invalid timestamp")]
    # A file of an IPS's drops alone is still fast.log.
    chosen = registry.sniff(lines[:2])
    assert chosen is not None and chosen.name == "fastlog"


def test_fastlog_unnamed_protocol_is_its_number() -> None:
    lines = [
        _alert(SURICATA, "PROTO:047", "2.57.122.209 -> 172.31.18.55"),
        _alert(SURICATA, "PROTO:253", "2.57.122.209:0 -> 172.31.18.55:0"),
        _alert(SNORT, "PROTO:006", "2.57.122.209 -> 172.31.18.55"),
    ]
    alerts = conformed(parse(FastLogParser, lines).rows, "alert")
    assert pick(alerts, "network_transport", "source_port") == [
        ("47", None), ("253", None), ("tcp", None),
    ]  # fmt: skip


_GROUPS = st.one_of(
    st.sampled_from([0, 0, 0, 1, 0x8, 0x80, 0x128, 0xDB8, 0x2001, 0xFFFF]),
    st.integers(0, 0xFFFF),
)
_V6 = st.lists(_GROUPS, min_size=8, max_size=8).map(
    lambda g: ipaddress.IPv6Address(b"".join(x.to_bytes(2, "big") for x in g))
)
_V4 = st.integers(0, 2**32 - 1).map(ipaddress.IPv4Address)
#: (what the sensor writes in braces, the transport read, whether Snort writes ports).
_PROTOS = [("TCP", "tcp", True), ("UDP", "udp", True), ("SCTP", "sctp", False),
           ("ICMP", "icmp", False), ("IPv6-ICMP", "ipv6-icmp", False), ("GRE", "gre", False),
           ("PROTO:047", "47", False)]  # fmt: skip


_END = st.tuples(st.one_of(_V6, _V4), st.integers(0, 65535))
_WRITTEN = st.tuples(
    st.sampled_from(["suricata", "snort"]),
    st.sampled_from(_PROTOS),
    st.tuples(_END, _END),
    st.sampled_from(["compressed", "exploded", "bracketed"]),
)
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def _written(
    writer: str,
    proto: tuple[str, str, bool],
    ends: tuple[tuple[Address, int], tuple[Address, int]],
    spelling: str,
) -> tuple[str, tuple[Any, ...]]:
    """A line as ``writer`` writes it, and the endpoints it stands for."""
    name, transport, snort_ports = proto
    with_ports = writer == "suricata" or snort_ports

    def end(address: Address, port: int) -> str:
        text = address.exploded if spelling == "exploded" else address.compressed
        if address.version == 6 and spelling == "bracketed":
            text = f"[{text}]"
        return f"{text}:{port}" if with_ports else text

    stamp = SURICATA if writer == "suricata" else SNORT
    line = _alert(stamp, name, f"{end(*ends[0])} -> {end(*ends[1])}")
    kept = with_ports and transport in ("tcp", "udp", "sctp")
    (src, sport), (dst, dport) = ends
    return line, (normalise_ip(str(src)), sport if kept else None,
                  normalise_ip(str(dst)), dport if kept else None, transport)  # fmt: skip


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_WRITTEN, min_size=1, max_size=40))
def test_fastlog_endpoints_as_suricata_and_snort_write_them(
    written: list[tuple[str, tuple[str, str, bool], Any, str]],
) -> None:
    lines, expected = zip(*(_written(*w) for w in written), strict=True)
    parsed = parse(FastLogParser, list(lines))
    assert rejects(parsed) == []
    assert pick(conformed(parsed.rows, "alert"), *ENDS) == list(expected)


# -- sniffing --------------------------------------------------------------------------------


def _sample(path: Path) -> list[str]:
    return [line for line in path.read_text(errors="replace").splitlines() if line.strip()][:50]


def test_each_sniffer_claims_only_its_own_samples(shared_data: Path) -> None:
    hub = shared_data / "formats" / "crowdsec-hub"
    owned = {
        hub / "suricata-eve-detect" / "suricata-eve-detect.log": "suricata-eve",
        hub / "suricata-logs-evelog" / "suricata-logs-evelog.log": "suricata-eve",
        hub / "suricata-logs-fastlog" / "suricata-logs-fastlog.log": "fastlog",
        FIXTURES / "eve.json": "suricata-eve",
        FIXTURES / "fast.log": "fastlog",
        FIXTURES / "fast-snort.log": "fastlog",
    }
    paths = [p for p in sorted(shared_data.rglob("*")) if p.suffix in (".log", ".json")]
    paths += sorted((Path(__file__).parent / "fixtures").rglob("*.*"))
    claims = {p: [c.name for c in ids.PARSERS if c.sniff(_sample(p))] for p in paths}
    assert {p: names for p, names in claims.items() if names} == {
        p: [fmt] for p, fmt in owned.items()
    }
    for path, fmt in owned.items():
        chosen = registry.sniff(_sample(path))
        assert chosen is not None and chosen.name == fmt, path


@given(st.lists(st.text(max_size=200), max_size=20))
def test_sniffers_never_raise(sample: list[str]) -> None:
    for parser in ids.PARSERS:
        assert parser.sniff(sample) in (True, False)


# -- properties ------------------------------------------------------------------------------

_REAL = (
    fixture("eve.json")
    + fixture("fast.log")
    + fixture("fast-snort.log")
    + [
        _alert(SURICATA, "IPv6-ICMP", "2001:db8::1:128 -> 2001:db8:::0", "[Drop] "),
        _alert(SNORT, "IPV6-ICMP", "2001:db8::1:128 -> [2001:db8::2]", "[would_drop] "),
        _alert(SURICATA, "PROTO:047", "2.57.122.209:0 -> 172.31.18.55:0"),
    ]
)


def _mutate(line: str, cut: int, insert: str) -> str:
    cut = min(cut, len(line))
    return line[:cut] + insert + line[cut:]


_LINES = st.lists(
    st.one_of(
        st.sampled_from(_REAL),
        st.text(max_size=120),
        st.builds(_mutate, st.sampled_from(_REAL), st.integers(0, 400),
                  st.sampled_from(["", " ", '"', "{", "}", "[", "]", ",", ":", "\\", "\x00", "é",
                                   "999", '"x"', "null", "-", "::", "\t"])),
    ),
    max_size=30,
)  # fmt: skip


@pytest.mark.parametrize("parser_cls", ids.PARSERS, ids=lambda p: p.name)
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(lines=_LINES, cut=st.integers(0, 30))
def test_random_and_mutated_lines_never_raise_and_are_accounted(
    parser_cls: type[Parser], lines: list[str], cut: int
) -> None:
    check_two_batches(make(parser_cls), lines, cut)


# -- through the framework -------------------------------------------------------------------


def test_ingest_eve_and_fastlog_into_the_lake(tmp_path: Path) -> None:
    lake = Lake(tmp_path / "lake")
    paths = [str(FIXTURES / "eve.json"), str(FIXTURES / "fast.log")]
    small = run.IngestOptions(now=NOW, block_bytes=1500, sniff_bytes=4096)
    stats = run.ingest(paths, lake, Config(), small)
    assert [(f.format, f.lines, f.parsed, f.rejected, f.skipped, f.error) for f in stats.files] == [
        ("suricata-eve", 21, 12, 6, 3, None),
        ("fastlog", 8, 4, 3, 1, None),
    ]  # fmt: skip
    assert stats.files[0].reject_reasons == {
        "invalid JSON": 1, "missing timestamp": 1, "missing event_type": 1,
        "missing destination address": 1, "invalid timestamp": 1, "invalid source address": 1,
    }  # fmt: skip
    alert = lake.read("alert").sort_by([("log_file", "ascending"), ("log_line", "ascending")])
    assert pick(alert.to_pylist(), "log_line", "event_dataset", "rule_id") == [
        (5, "suricata.alert", "2001219"),
        (6, "suricata.anomaly", None),
        (1, "snort.fast", "2001219"),
        (2, "snort.fast", "2100366"),
        (3, "snort.fast", "2009582"),
        (4, "snort.fast", "2009583"),
    ]
    assert sorted(lake.read("network").column("log_line").to_pylist()) == [1, 2, 3, 4]
    assert sorted(lake.read("dns").column("log_line").to_pylist()) == [7, 8, 9, 10, 11]
    assert lake.read("http").column("url_path").to_pylist() == ["/wp-login.php"]
    assert sorted(lake.read("rejects").column("log_line").to_pylist()) == [
        5, 6, 7, 15, 16, 17, 18, 19, 20,
    ]  # fmt: skip
