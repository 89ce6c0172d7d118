"""Case building on traffic where one source does several things at once."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import ibis
import pyarrow as pa

from conftest import network_rows, table_rows
from reconwatch import schema
from reconwatch.cases import LIST_CAP, Case, build_cases
from reconwatch.config import Config
from reconwatch.detect import run_detections
from reconwatch.netaddr import parse_networks

SOURCE = "198.51.100.7"
HOST = "203.0.113.200"
#: Global addresses (the identity tests' scanners).
SCANNER = "45.33.32.156"
OTHER = "45.33.32.157"


def mixed() -> list[dict[str, Any]]:
    """A sweep of 30 hosts on tcp/22 and, interleaved with it, a vertical scan
    of 30 ports of ``HOST``: the same source, the same minute."""
    rows: list[dict[str, Any]] = []
    for n in range(30):
        rows.append(
            {
                "source_ip": SOURCE,
                "destination_ip": f"203.0.113.{n + 1}",
                "destination_port": 22,
                "seconds": 2 * n,
            }
        )
        rows.append(
            {
                "source_ip": SOURCE,
                "destination_ip": HOST,
                "destination_port": 1000 + n,
                "seconds": 2 * n + 1,
            }
        )
    return rows


def cases_of(rows: list[dict[str, Any]], findings: pa.Table | None = None) -> list[Case]:
    network = ibis.memtable(network_rows(rows))
    if findings is None:
        findings = run_detections(network, Config().detect)
    return build_cases(network, findings, 5)


def test_evidence_lines_are_the_findings_own_events() -> None:
    (case,) = cases_of(mixed())
    by_detection = {f.detection: f for f in case.findings}
    vertical, horizontal = by_detection["vertical_scan"], by_detection["horizontal_scan"]
    # The vertical scan's sample lines are probes of HOST, not the sweep's
    # port 22 probes that happened between them.
    assert [(e.destination_ip, e.destination_port) for e in vertical.evidence] == [
        (HOST, 1000 + n) for n in range(5)
    ]
    assert [e.location() for e in vertical.evidence] == [f"test.log:{2 * n + 2}" for n in range(5)]
    # And the sweep's are its port 22 probes, not the vertical scan's.
    assert [(e.destination_ip, e.destination_port) for e in horizontal.evidence] == [
        (f"203.0.113.{n + 1}", 22) for n in range(5)
    ]


def test_evidence_falls_back_to_other_events_of_the_span() -> None:
    # A finding whose lists name none of the span's events still gets its
    # span's lines (never no evidence at all).
    rows = mixed()
    network = ibis.memtable(network_rows(rows))
    findings = run_detections(network, Config().detect, ["vertical_scan"])
    odd = findings.set_column(
        findings.schema.get_field_index("ports"),
        "ports",
        pa.array([[9]] * findings.num_rows, pa.list_(pa.int32())),
    )
    (case,) = build_cases(network, odd, 5)
    (finding,) = case.findings
    assert len(finding.evidence) == 5
    assert finding.evidence[0].location() == "test.log:2"


def test_the_order_of_a_cases_findings_does_not_depend_on_the_input_order() -> None:
    # Two sweeps starting the same second: same detection, source and start.
    rows = [
        {
            "source_ip": SOURCE,
            "destination_ip": f"203.0.113.{n + 1}",
            "destination_port": port,
            "seconds": n,
        }
        for n in range(30)
        for port in (80, 22)
    ]
    network = ibis.memtable(network_rows(rows))
    findings = run_detections(network, Config().detect, ["horizontal_scan"])
    assert findings.num_rows == 2
    orders = []
    for table in (findings, findings.take([1, 0])):
        (case,) = build_cases(network, table, 1)
        orders.append([(f.detection, f.label) for f in case.findings])
    assert orders[0] == orders[1]


def _identity_tables(dns: list[dict[str, Any]], auth: list[dict[str, Any]]) -> dict[str, Any]:
    rows = [
        {"source_ip": src, "destination_ip": f"203.0.113.{n + 1}", "destination_port": 22}
        for src in (SCANNER, OTHER)
        for n in range(30)
    ]
    return {
        "network": ibis.memtable(network_rows(rows)),
        "dns": ibis.memtable(
            table_rows(
                schema.DNS,
                {"source_ip": "10.0.0.25", "destination_ip": "10.0.0.53", "log_file": "q.log"},
                dns,
            )
        ),
        "auth": ibis.memtable(
            table_rows(
                schema.AUTH,
                {"source_ip": "10.0.0.8", "log_file": "auth.log", "event_outcome": "success"},
                auth,
            )
        ),
    }


#: The site's own public range, holding the identity tests' scanners when
#: they stand for machines of ours.
OURS = parse_networks(["45.33.32.0/24"])


def _ptr_of_scanner(answer: str) -> dict[str, Any]:
    """Our resolver's PTR answer for SCANNER's address."""
    return {
        "dns_question_name": "156.32.33.45.in-addr.arpa",
        "dns_question_type": "PTR",
        "dns_answers": [answer],
    }


def _identity_cases(tables: dict[str, Any], home: list[Any]) -> dict[str, Case]:
    """The identity tables' cases by source, ``home`` as ``site.home_networks``."""
    findings = run_detections(tables["network"], Config().detect)
    return {c.sources[0]: c for c in build_cases(tables, findings, 1, home=home)}


def test_a_scanner_whose_ptr_says_localhost_gets_no_users_of_our_hosts() -> None:
    # Our mail server looked the scanner up: its PTR is "localhost." (a
    # common misconfiguration). Our own hosts that syslog as "localhost"
    # are not the scanner, nor are their users its users, even for a source
    # in our own networks (whose names do lend it our hosts' users).
    tables = _identity_tables(
        dns=[_ptr_of_scanner("localhost.")],
        auth=[{"observer_name": "localhost", "user_name": "root"}],
    )
    case = _identity_cases(tables, OURS)[SCANNER]
    assert case.activity.host_users == []
    assert case.activity.host_names == []


def test_a_name_two_sources_share_gives_both_their_users() -> None:
    # One name answered with both addresses (round robin): its host's users
    # belong to both, not to whichever the dict met last.
    tables = _identity_tables(
        dns=[
            {
                "dns_question_name": "edge.corp.example.com",
                "dns_question_type": "A",
                "dns_answers": [SCANNER, OTHER],
            }
        ],
        auth=[{"observer_name": "edge", "user_name": "alice"}],
    )
    users = {s: c.activity.host_users for s, c in _identity_cases(tables, OURS).items()}
    assert users == {SCANNER: ["alice"], OTHER: ["alice"]}


def test_an_outside_scanner_whose_ptr_names_our_host_gets_none_of_its_users() -> None:
    # Whoever owns an outside address's reverse zone chooses its PTR: a
    # scanner answering "dc01.evil.example" is not our dc01, nor are dc01's
    # users its users. Its names are still shown (what DNS said).
    tables = _identity_tables(
        dns=[_ptr_of_scanner("dc01.evil.example.")],
        auth=[
            {"observer_name": "dc01", "user_name": "administrator"},
            # A login aimed at the scanner's address is its, outside or not.
            {"destination_ip": SCANNER, "user_name": "bob"},
        ],
    )
    case = _identity_cases(tables, Config().site.home())[SCANNER]
    assert case.activity.host_names == ["dc01.evil.example"]
    assert case.activity.host_users == ["bob"]
    # The same address inside our networks is one of our machines: its name is ours.
    case = _identity_cases(tables, OURS)[SCANNER]
    assert case.activity.host_users == ["administrator", "bob"]


def test_back_connection_samples_of_ipv6_hosts_and_portless_events_read_right() -> None:
    scanner, web, mail = "2001:db8:77::9", "2001:db8:100::80", "2001:db8:100::25"
    rows = [
        {"source_ip": scanner, "destination_ip": web, "destination_port": p, "seconds": p}
        for p in range(1, 31)
    ]
    back = {"connection_outcome": "succeeded", "event_action": "accepted", "seconds": 100}
    rows += [
        {"source_ip": web, "destination_ip": scanner, "destination_port": 4444, **back},
        # ICMP: no port; still a connection back, and one sample.
        {
            "source_ip": mail,
            "destination_ip": scanner,
            "destination_port": None,
            "network_transport": "icmp",
            **back,
        },
    ]
    network = ibis.memtable(network_rows(rows))
    cases = build_cases(network, run_detections(network, Config().detect), 1)
    (case,) = [c for c in cases if c.sources == [scanner]]
    assert case.activity.back_connections == 2
    assert case.activity.back_connection_samples == [f"[{mail}]", f"[{web}]:4444"]


def test_a_campaigns_resolved_then_probed_counts_addresses_not_members() -> None:
    members = [f"198.51.100.{s + 1}" for s in range(4)]
    rows: list[dict[str, Any]] = []
    for s, member in enumerate(members):
        # One quarter of the /24 each on tcp/22: one coordinated sweep.
        rows += [
            {
                "source_ip": member,
                "destination_ip": f"203.0.113.{h}",
                "destination_port": 22,
                "seconds": 100 + s + n * 50,
            }
            for n, h in enumerate(range(64 * s, 64 * s + 64))
        ]
        # Every member then probes www, which each was given by our DNS first.
        rows.append(
            {
                "source_ip": member,
                "destination_ip": "203.0.113.250",
                "destination_port": 443,
                "seconds": 4000,
            }
        )
    dns = table_rows(
        schema.DNS,
        {"destination_ip": "203.0.113.53", "log_file": "query.log", "dns_question_type": "A"},
        [
            {
                "source_ip": member,
                "dns_question_name": "www.example.com",
                "dns_response_code": "NOERROR",
                "dns_answers": ["203.0.113.250"],
                "seconds": 0,
            }
            for member in members
        ],
    )
    tables = {"network": ibis.memtable(network_rows(rows)), "dns": ibis.memtable(dns)}
    cases = build_cases(tables, run_detections(tables, Config().detect), 1)
    (campaign,) = [c for c in cases if c.campaign]
    assert campaign.sources == members
    assert campaign.activity.resolved_then_probed == 1
    assert campaign.activity.resolved_then_probed_samples == ["203.0.113.250"]
    # Each member's own count is its own.
    for member in members:
        own = [c for c in cases if c.sources == [member]]
        assert all(c.activity.resolved_then_probed == 1 for c in own)


def _brute_force_beside_ptr_sweep(ptr_name: Callable[[int], str]) -> Case:
    """The case of a source brute-forcing names and sweeping reverse names
    (``ptr_name(i)``), query by query in turn, 4 evidence lines per finding."""
    rows: list[dict[str, Any]] = []
    for i in range(60):
        rows.append({"dns_question_name": f"h{i}.example.com", "dns_question_type": "A"})
        rows.append({"dns_question_name": ptr_name(i), "dns_question_type": "PTR"})
    dns = table_rows(
        schema.DNS,
        {
            "source_ip": SOURCE,
            "destination_ip": "203.0.113.53",
            "log_file": "query.log",
            "dns_response_code": "NXDOMAIN",
        },
        [{**row, "seconds": n} for n, row in enumerate(rows)],
    )
    tables = {"dns": ibis.memtable(dns)}
    (case,) = build_cases(tables, run_detections(tables, Config().detect), 4)
    return case


def test_dns_evidence_lines_are_the_findings_own_queries() -> None:
    case = _brute_force_beside_ptr_sweep(lambda i: f"{i}.113.0.203.in-addr.arpa")
    details = {f.detection: [e.detail for e in f.evidence] for f in case.findings}
    assert details["dns_bruteforce"] == [f"A h{i}.example.com NXDOMAIN" for i in range(4)]
    assert details["ptr_sweep"] == [f"PTR {i}.113.0.203.in-addr.arpa NXDOMAIN" for i in range(4)]


def test_web_evidence_lines_are_the_findings_own_paths() -> None:
    # Secret paths probed between the lines of a wordlist scan.
    secrets = ["/.env", "/.git/config", "/backup.sql", "/wp-config.php.bak", "/.aws/credentials"]
    secrets += ["/id_rsa", "/.htpasswd", "/db.sql", "/config.php.bak", "/.svn/entries"]
    rows: list[dict[str, Any]] = []
    for i in range(40):
        rows.append({"url_path": f"/page{i}", "seconds": 2 * i})
        if i < len(secrets):
            rows.append({"url_path": secrets[i], "seconds": 2 * i + 1})
    http = table_rows(
        schema.HTTP,
        {
            "source_ip": SOURCE,
            "destination_ip": "203.0.113.1",
            "log_file": "access.log",
            "http_request_method": "GET",
            "http_response_status_code": 404,
        },
        rows,
    )
    tables = {"http": ibis.memtable(http)}
    (case,) = build_cases(tables, run_detections(tables, Config().detect), 4)
    (probe,) = [f for f in case.findings if f.detection == "web_sensitive_path_probe"]
    assert [e.detail for e in probe.evidence] == [f"GET {p} 404" for p in secrets[:4]]


def test_ptr_evidence_of_zero_padded_reverse_names_is_the_sweeps_own() -> None:
    # Octets written with leading zeros ("007.113.000.203.in-addr.arpa"): the
    # sweep's addresses ("203.000.113.007") are no address ``ip_address``
    # reads, yet the questions are the sweep's own, not the brute force's.
    case = _brute_force_beside_ptr_sweep(lambda i: f"{i:03d}.113.000.203.in-addr.arpa")
    (sweep,) = [f for f in case.findings if f.detection == "ptr_sweep"]
    assert [e.detail for e in sweep.evidence] == [
        f"PTR {i:03d}.113.000.203.in-addr.arpa NXDOMAIN" for i in range(4)
    ]


def test_findings_alike_but_for_their_lists_keep_one_order() -> None:
    # Two findings with the same detection, source, label and times that
    # differ only in the ports they list: the order is still not the rows'.
    network = ibis.memtable(network_rows(mixed()))
    (row,) = run_detections(network, Config().detect, ["vertical_scan"]).to_batches()
    two = pa.Table.from_batches([row, row])
    ports = pa.array([[1000, 1001], [1002, 1003]], two.schema.field("ports").type)
    two = two.set_column(two.schema.get_field_index("ports"), "ports", ports)
    orders = []
    for table in (two, two.take([1, 0])):
        (case,) = build_cases(network, table, 1)
        orders.append([f.ports for f in case.findings])
    assert orders[0] == orders[1] == [[1000, 1001], [1002, 1003]]


def test_web_evidence_of_paths_ending_in_a_dot_is_the_findings_own() -> None:
    # A wordlist scan of names with a trailing dot ("/w0.", a trick that
    # slips past suffix filters), between pages that answered: the scan's
    # lines are its 404s, not the pages ("/w0." is no "/w0").
    rows: list[dict[str, Any]] = []
    for i in range(60):
        rows.append({"url_path": f"/w{i}.", "http_response_status_code": 404, "seconds": 2 * i})
        rows.append({"url_path": f"/w{i}", "http_response_status_code": 200, "seconds": 2 * i + 1})
    http = table_rows(
        schema.HTTP,
        {
            "source_ip": SOURCE,
            "destination_ip": "203.0.113.1",
            "log_file": "access.log",
            "http_request_method": "GET",
        },
        rows,
    )
    tables = {"http": ibis.memtable(http)}
    (case,) = build_cases(tables, run_detections(tables, Config().detect), 4)
    (scan,) = [f for f in case.findings if f.detection == "web_wordlist_scan"]
    assert [e.detail for e in scan.evidence] == [f"GET /w{i}. 404" for i in range(4)]


def test_a_leaks_evidence_is_not_outranked_by_reverse_lookups_of_its_answers() -> None:
    # A client given internal addresses, each reverse-resolved right after
    # (dnsrecon does): the leak's targets are the answers, and the PTR
    # questions of those addresses are not its events (a PTR sweep's would be).
    rows: list[dict[str, Any]] = []
    for n, (name, address) in enumerate(
        [("intranet.example.com", "10.1.2.3"), ("db.example.com", "10.1.2.4")]
    ):
        reverse = ".".join(reversed(address.split("."))) + ".in-addr.arpa"
        rows.append(
            {
                "dns_question_name": name,
                "dns_question_type": "A",
                "dns_answers": [address],
                "seconds": 2 * n,
            }
        )
        rows.append(
            {
                "dns_question_name": reverse,
                "dns_question_type": "PTR",
                "dns_answers": [name],
                "seconds": 2 * n + 1,
            }
        )
    dns = table_rows(
        schema.DNS,
        {
            "source_ip": SCANNER,
            "destination_ip": "203.0.113.53",
            "log_file": "query.log",
            "dns_response_code": "NOERROR",
        },
        rows,
    )
    tables = {"dns": ibis.memtable(dns)}
    cases = build_cases(tables, run_detections(tables, Config().detect), 3)
    (leak,) = [f for c in cases for f in c.findings if f.detection == "private_answer_leak"]
    assert leak.targets == ["10.1.2.3", "10.1.2.4"]
    # The span's lines in their order: the first leaking answer first.
    assert [e.location() for e in leak.evidence] == [f"query.log:{n}" for n in (1, 2, 3)]


def test_exposed_services_are_the_first_hundred_and_counted_in_full() -> None:
    # A sweep that found 150 hosts answering on port 80, and a second source
    # that found 3: each case lists the first LIST_CAP services (address text
    # order, as before) and counts them all.
    rows: list[dict[str, Any]] = []
    for n in range(1, 251):
        answered = n <= 150
        rows.append(
            {
                "source_ip": SOURCE,
                "destination_ip": f"10.0.{n // 200}.{n % 200}",
                "destination_port": 80,
                "event_action": "accepted" if answered else "dropped",
                "connection_outcome": "succeeded" if answered else "failed",
                "seconds": n,
            }
        )
    for n in range(1, 41):
        rows.append(
            {
                "source_ip": OTHER,
                "destination_ip": HOST,
                "destination_port": n,
                "event_action": "accepted" if n <= 3 else "dropped",
                "connection_outcome": "succeeded" if n <= 3 else "failed",
                "seconds": n,
            }
        )
    network = ibis.memtable(network_rows(rows))
    findings = run_detections(network, Config().detect)
    cases = {c.sources[0]: c for c in build_cases(network, findings, 1)}
    sweep = cases[SOURCE].activity
    answered = sorted(f"10.0.{n // 200}.{n % 200}" for n in range(1, 151))
    assert sweep.exposed_count == 150
    assert sweep.exposed == [f"{host}:80/tcp" for host in answered[:LIST_CAP]]
    other = cases[OTHER].activity
    assert other.exposed_count == 3
    assert other.exposed == [f"{HOST}:{port}/tcp" for port in (1, 2, 3)]
