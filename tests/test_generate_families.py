"""The sample's DNS, web, IDS and auth logs: exact formats, planted actors, determinism.

Every line of every new file must match its producer's layout strictly (BIND
9's query log, Zeek's dns.log, nginx's vhost_combined access log, Suricata's
eve.json, OpenSSH through rsyslog), and each actor must have the properties
its ground truth claims, since the parsers and detections are tested on
these files.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import re
import time
from collections import Counter, defaultdict
from pathlib import Path

import pytest

from reconwatch.config import load_config
from reconwatch.generate import (
    ACCESS_LOG,
    ALL_FAMILIES,
    AUTH_LOG,
    BIND_LOG,
    EVE_LOG,
    FIREWALL_LOG,
    MIN_SAMPLE_SIZE,
    ZEEK_CONN_LOG,
    ZEEK_DNS_LOG,
    GroundTruth,
    generate_sample,
    min_sample_size,
)
from reconwatch.generate.actors import rotating_scan
from reconwatch.generate.dns import ZONE_HOSTS, wordlist

Sample = tuple[Path, GroundTruth]

DATA_FILES = (FIREWALL_LOG, ZEEK_CONN_LOG, BIND_LOG, ZEEK_DNS_LOG, ACCESS_LOG, EVE_LOG, AUTH_LOG)


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Sample:
    out = tmp_path_factory.mktemp("families")
    return out, generate_sample(out, families=ALL_FAMILIES)


def data_lines(path: Path) -> list[str]:
    """The file's lines without Zeek's ``#`` header lines; every line must end in a newline."""
    raw = path.read_text(encoding="utf-8")
    assert raw.endswith("\n"), path
    return [x for x in raw[:-1].split("\n") if not x.startswith("#")]


# --- sizes, determinism, truth -------------------------------------------------


def test_size_counts_every_file_exactly(sample: Sample) -> None:
    out, truth = sample
    assert sorted(truth.files) == sorted(DATA_FILES)
    for name in DATA_FILES:
        assert truth.files[name] == len(data_lines(out / name)), name
    assert sum(truth.files.values()) == truth.size == 20000
    assert sorted(p.name for p in out.iterdir()) == [
        "auth",
        "dns",
        "firewall",
        "ids",
        "reconwatch.yaml",
        "truth.json",
        "web",
        "zeek",
    ]
    assert sorted(p.name for p in (out / "zeek").iterdir()) == ["conn.log", "dns.log"]


def test_same_seed_gives_byte_identical_files(sample: Sample, tmp_path: Path) -> None:
    generate_sample(tmp_path, families=ALL_FAMILIES)
    for name in (*DATA_FILES, "reconwatch.yaml", "truth.json"):
        assert (tmp_path / name).read_bytes() == (sample[0] / name).read_bytes(), name


def test_another_seed_changes_the_background_not_the_actors(sample: Sample, tmp_path: Path) -> None:
    truth = generate_sample(tmp_path, seed=8, families=ALL_FAMILIES)
    for name in (BIND_LOG, ZEEK_DNS_LOG, ACCESS_LOG, EVE_LOG, AUTH_LOG):
        assert (tmp_path / name).read_bytes() != (sample[0] / name).read_bytes(), name
    assert sum(truth.files.values()) == 20000
    assert [a.address for a in truth.actors] == [a.address for a in sample[1].actors]


def test_network_only_is_the_default_and_unchanged(sample: Sample, tmp_path: Path) -> None:
    """The default writes the firewall and conn.log alone (what the hunt tests and
    the demo read today); with every family, the network logs shrink to leave
    room, so their background differs but their actors do not."""
    truth = generate_sample(tmp_path)
    assert sorted(truth.files) == [FIREWALL_LOG, ZEEK_CONN_LOG]
    assert [a.kind for a in truth.actors][-1] == "benign_client"
    full = sample[1]
    network = {a.address: a.lines for a in truth.actors}
    for actor in full.actors:
        if actor.address in network:
            kept = {k: v for k, v in actor.lines.items() if k in (FIREWALL_LOG, ZEEK_CONN_LOG)}
            assert kept == network[actor.address], actor.address


def test_minimum_size_holds_every_actor(tmp_path: Path) -> None:
    minimum = min_sample_size(ALL_FAMILIES)
    assert min_sample_size() == MIN_SAMPLE_SIZE
    # The family actors' lines (2026 before the recon chain, SRV brute force,
    # vhost sweep, ANY flood and internal Host probe added 266, the WordPress
    # plugin prober 12, the zone transfer served 5), and the 463
    # network lines of the actors planted with the families only (recon chain
    # scan 53, campaign 6 x 14, traffic spike 160, zmap 126, the rotating IPv6
    # scan's 40 SYNs).
    assert minimum == MIN_SAMPLE_SIZE + 463 + 2309
    truth = generate_sample(tmp_path / "a", size=minimum, families=ALL_FAMILIES)
    assert sum(truth.files.values()) == minimum
    family_files = (BIND_LOG, ZEEK_DNS_LOG, ACCESS_LOG, EVE_LOG, AUTH_LOG)
    actor_lines = sum(a.lines.get(f, 0) for a in truth.actors for f in family_files)
    assert actor_lines == sum(truth.files[f] for f in family_files) == 2309
    added = {a.address for a in truth.actors[8:ADDED_END]}
    network = sum(a.lines.get(f, 0) for a in truth.actors for f in (FIREWALL_LOG, ZEEK_CONN_LOG)
                  if a.address in added)  # fmt: skip
    assert network == 463
    with pytest.raises(ValueError, match=f"at least {minimum}"):
        generate_sample(tmp_path / "b", size=minimum - 1, families=ALL_FAMILIES)


def test_unknown_or_partial_families(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown log families"):
        generate_sample(tmp_path, families=("network", "smtp"))
    with pytest.raises(ValueError, match="always written"):
        generate_sample(tmp_path, families=("dns",))
    truth = generate_sample(tmp_path / "web", size=5000, families=("network", "web"))
    assert sorted(truth.files) == [FIREWALL_LOG, ACCESS_LOG, ZEEK_CONN_LOG]
    assert sum(truth.files.values()) == 5000
    kinds = {a.kind for a in truth.actors}
    assert "dns_bruteforce" not in kinds and "nikto_scan" in kinds


def test_truth_round_trips_and_config_stays_valid(sample: Sample) -> None:
    out, truth = sample
    text = (out / "truth.json").read_text()
    assert text == truth.to_json()
    assert GroundTruth.from_json(text) == truth
    cfg = load_config(out / "reconwatch.yaml")
    assert cfg.syslog.year == 2026
    assert cfg.site.home_networks == ["203.0.113.0/24", "2001:db8:100::/48", "10.0.0.0/8"]


EXPECTED_FAMILY_ACTORS = [
    ("198.51.100.61", "web_wordlist_scanner", ("web_wordlist_scan",), True),
    ("198.51.100.33", "dns_bruteforce", ("dns_bruteforce",), False),
    ("192.0.2.210", "benign_admin", (), False),
    ("198.51.100.44", "ptr_sweep", ("ptr_sweep",), False),
    ("192.0.2.77", "nikto_scan", ("web_scanner_user_agent", "web_sensitive_path_probe"), False),
    ("198.51.100.9", "zone_transfer", ("zone_transfer",), False),
    ("198.51.100.11", "zone_transfer_served", ("zone_transfer",), True),
    ("192.0.2.66", "dns_chaos_probe", ("dns_chaos_probe",), False),
    ("192.0.2.171", "internal_probe", ("internal_name_probe", "private_answer_leak"), True),
    ("192.0.2.88", "sensitive_path_prober", ("web_sensitive_path_probe",), False),
    ("192.0.2.120", "bare_ip_client", ("web_host_bare_ip",), False),
    ("198.51.100.70", "srv_bruteforce", ("srv_bruteforce",), False),
    ("198.51.100.88", "vhost_sweep", ("web_vhost_sweep",), False),
    ("192.0.2.150", "dns_any_flood", ("dns_any_flood",), False),
    ("192.0.2.130", "internal_host_probe", ("web_internal_host",), True),
    ("192.0.2.96", "technology_prober", ("web_technology_probe",), False),
]
CAMPAIGN = ("192.0.2.31", "192.0.2.57", "192.0.2.93", "198.51.100.131", "198.51.100.164",
            "198.51.100.227")  # fmt: skip
#: The rotating IPv6 scan's members: 40 addresses of one /64, a port each.
ROTATION = tuple(a.address for a in rotating_scan("2001:db8:ffff:9::/64", "::1", range(40), 0))
#: Network actors planted only with the other families, after the demo's 8.
EXPECTED_ADDED_NETWORK_ACTORS = [
    ("198.51.100.120", "recon_chain",
     ("block_scan", "dns_bruteforce", "web_sensitive_path_probe"), False),
    *[(a, "scan_campaign", ("distributed_scan", "trw_scan"), False) for a in CAMPAIGN],
    ("198.51.100.140", "traffic_spike", ("traffic_spike",), False),
    ("198.51.100.190", "zmap_scanner", ("horizontal_scan", "trw_scan"), True),
    *[(a, "ipv6_rotation", ("ipv6_prefix_scan",), False) for a in ROTATION],
]  # fmt: skip
#: Where the actors of the other families start in the truth's list.
ADDED_END = 8 + len(EXPECTED_ADDED_NETWORK_ACTORS)


def test_truth_lists_the_family_actors_after_the_network_ones(sample: Sample) -> None:
    truth = sample[1]
    got = [(a.address, a.kind, a.expected_detections, a.escalate)
           for a in truth.actors[ADDED_END:]]  # fmt: skip
    assert got == EXPECTED_FAMILY_ACTORS
    added = [(a.address, a.kind, a.expected_detections, a.escalate)
             for a in truth.actors[8:ADDED_END]]  # fmt: skip
    assert added == EXPECTED_ADDED_NETWORK_ACTORS
    # What the truth asks beyond detections: one campaign, a tool hint, a chain.
    assert {a.campaign for a in truth.actors if a.campaign} == {
        "tcp/8080@203.0.113.0/24",
        "ipv6@2001:db8:ffff:9::/64",
    }
    assert truth.campaign_members("tcp/8080@203.0.113.0/24") == CAMPAIGN
    assert truth.campaign_members("ipv6@2001:db8:ffff:9::/64") == ROTATION
    assert len(set(ROTATION)) == 40
    assert {str(ipaddress.IPv6Network(f"{a}/64", strict=False)) for a in ROTATION} == {
        "2001:db8:ffff:9::/64"
    }
    assert [(a.address, a.tools) for a in truth.actors if a.tools] == [
        ("198.51.100.190", ("zmap",))
    ]
    assert [a.address for a in truth.actors if a.resolved_then_probed] == ["198.51.100.120"]
    chain = truth.actor("198.51.100.120")
    assert sorted(chain.lines) == sorted((FIREWALL_LOG, ZEEK_CONN_LOG, BIND_LOG, ZEEK_DNS_LOG,
                                          ACCESS_LOG))  # fmt: skip
    assert truth.actors[0].kind == "vertical_scanner"
    # IDS alerts are context merged into the scanners' entries.
    assert truth.actor("198.51.100.23").lines[EVE_LOG] == 2
    assert truth.actor("192.0.2.45").lines[EVE_LOG] == 4
    assert truth.actor("192.0.2.45").expected_detections == ("block_scan", "trw_scan")
    assert truth.expected("dns_bruteforce") == ("198.51.100.120", "198.51.100.33")
    assert truth.expected("web_sensitive_path_probe") == ("198.51.100.120", "192.0.2.77",
                                                          "192.0.2.88")  # fmt: skip
    assert "198.51.100.61" in truth.escalated and "198.51.100.11" in truth.escalated
    assert not any(a.internal for a in truth.actors[8:])
    # One entry per source: family behaviours of a known source merge into it.
    assert len({a.address for a in truth.actors}) == len(truth.actors) == 73


def test_actor_line_counts_match_every_file(sample: Sample) -> None:
    out, truth = sample
    sources = {
        BIND_LOG: [bind_client(x) for x in data_lines(out / BIND_LOG)],
        ZEEK_DNS_LOG: [x.split("\t")[2] for x in data_lines(out / ZEEK_DNS_LOG)],
        ACCESS_LOG: [x.split(" ")[1] for x in data_lines(out / ACCESS_LOG)],
        EVE_LOG: [json.loads(x)["src_ip"] for x in data_lines(out / EVE_LOG)],
        AUTH_LOG: [auth_client(x) for x in data_lines(out / AUTH_LOG)],
    }
    counts = {name: Counter(values) for name, values in sources.items()}
    for actor in truth.actors:
        for name, count in counts.items():
            assert actor.lines.get(name, 0) == count[actor.address], (actor.address, name)


# --- BIND query log --------------------------------------------------------------

_STAMP_BIND = (
    r"(?P<day>\d\d)-(?P<mon>[A-Z][a-z]{2})-(?P<year>\d{4}) (?P<time>\d\d:\d\d:\d\d\.\d{3})"
)
_CLIENT = r"client @0x[0-9a-f]{12} (?P<ip>[0-9.]+)#(?P<port>\d+)"
BIND_QUERY = re.compile(
    rf"^{_STAMP_BIND} queries: info: {_CLIENT} \((?P<name>[^ ()]+)\): "
    r"query: (?P<qname>[^ ]+) (?P<cls>IN|CH) (?P<type>[A-Z]+) (?P<flags>[+-]E\(0\)T?K?) "
    r"\((?P<server>[0-9.]+)\)$"
)
BIND_SECURITY = re.compile(
    rf"^{_STAMP_BIND} security: info: {_CLIENT} \((?P<zone>[^ ()]+)\): "
    r"zone transfer '(?P<xzone>[^/]+)/AXFR/IN' denied$"
)
BIND_XFER = re.compile(
    rf"^{_STAMP_BIND} xfer-out: info: {_CLIENT} \((?P<zone>[^ ()]+)\): "
    r"transfer of '(?P<xzone>[^/]+)/IN': AXFR started \(serial \d+\)$"
)


def bind_client(line: str) -> str:
    m = BIND_QUERY.match(line) or BIND_SECURITY.match(line) or BIND_XFER.match(line)
    assert m, line
    return m["ip"]


def test_every_bind_line_has_the_query_log_format(sample: Sample) -> None:
    lines = data_lines(sample[0] / BIND_LOG)
    last = dt.datetime.min
    security = transfers = 0
    for line in lines:
        m = BIND_QUERY.match(line)
        if m is None:
            m = BIND_SECURITY.match(line)
            transfers += m is None
            m = m or BIND_XFER.match(line)
            assert m, line
            assert m["zone"] == m["xzone"] == "example.com"
            security += 1
        else:
            assert m["name"] == m["qname"]
            assert m["server"] in ("203.0.113.53", "10.0.0.53")
            # Recursion is offered on the internal address only.
            assert m["server"] == ("10.0.0.53" if m["ip"].startswith("10.") else "203.0.113.53")
        when = dt.datetime.strptime(
            f"{m['day']}-{m['mon']}-{m['year']} {m['time']}", "%d-%b-%Y %H:%M:%S.%f"
        )
        assert when >= last
        last = when
        assert 0 < int(m["port"]) <= 65535
        ipaddress.IPv4Address(m["ip"])
    assert (security, transfers) == (2, 1)  # one AXFR denied, one served


# --- Zeek dns.log ------------------------------------------------------------------

ZEEK_DNS_HEADER = [
    "#separator \\x09",
    "#set_separator\t,",
    "#empty_field\t(empty)",
    "#unset_field\t-",
    "#path\tdns",
    "#open\t2026-09-30-00-00-00",
    "#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\ttrans_id\trtt\tquery"
    "\tqclass\tqclass_name\tqtype\tqtype_name\trcode\trcode_name\tAA\tTC\tRD\tRA\tZ\tanswers"
    "\tTTLs\trejected",
    "#types\ttime\tstring\taddr\tport\taddr\tport\tenum\tcount\tinterval\tstring\tcount\tstring"
    "\tcount\tstring\tcount\tstring\tbool\tbool\tbool\tbool\tcount\tvector[string]"
    "\tvector[interval]\tbool",
]
#: Zeek's qtype_name for type 255 (ANY) is "*".
QTYPE_NUMBERS = {"A": 1, "NS": 2, "PTR": 12, "MX": 15, "TXT": 16, "AAAA": 28, "SRV": 33,
                 "AXFR": 252, "*": 255}  # fmt: skip
RCODE_NUMBERS = {"NOERROR": 0, "NXDOMAIN": 3, "REFUSED": 5}


def zeek_dns(sample: Sample) -> list[list[str]]:
    return [x.split("\t") for x in data_lines(sample[0] / ZEEK_DNS_LOG)]


def test_zeek_dns_header_and_fields(sample: Sample) -> None:
    text = (sample[0] / ZEEK_DNS_LOG).read_text().splitlines()
    assert text[:8] == ZEEK_DNS_HEADER
    assert text[-1] == "#close\t2026-09-30-02-00-00"
    assert sum(1 for x in text if x.startswith("#")) == 9
    rows = zeek_dns(sample)
    uid = re.compile(r"^C[0-9A-Za-z]{17}$")
    stamp = re.compile(r"^\d{10}\.\d{6}$")
    last = 0.0
    for row in rows:
        assert len(row) == 24, row
        assert stamp.match(row[0]) and float(row[0]) >= last
        last = float(row[0])
        assert uid.match(row[1])
        assert row[5] == "53" and row[6] in ("udp", "tcp")
        assert 0 <= int(row[7]) <= 65535
        assert re.match(r"^0\.\d{6}$", row[8])
        assert (row[10], row[11]) in (("1", "C_INTERNET"), ("3", "C_CHAOS"))
        assert int(row[12]) == QTYPE_NUMBERS[row[13]]
        assert int(row[14]) == RCODE_NUMBERS[row[15]]
        assert all(x in ("T", "F") for x in row[16:20]) and row[17] == "F" and row[20] == "0"
        assert (row[21] == "-") == (row[22] == "-")
        if row[15] == "NXDOMAIN":
            assert row[21] == "-"
        assert row[22] == "-" or re.match(r"^\d+\.000000$", row[22])
        assert row[23] == ("T" if row[15] == "REFUSED" else "F")
    assert len({row[1] for row in rows}) == len(rows)


def test_bind_and_zeek_see_the_same_transactions(sample: Sample) -> None:
    bind = [BIND_QUERY.match(x) for x in data_lines(sample[0] / BIND_LOG)]
    queries = Counter((m["ip"], m["port"], m["qname"], m["type"]) for m in bind if m)
    zeek = Counter((r[2], r[3], r[9], "ANY" if r[13] == "*" else r[13]) for r in zeek_dns(sample))
    assert queries == zeek


# --- DNS actors ----------------------------------------------------------------------


def test_subdomain_brute_force(sample: Sample) -> None:
    rows = [r for r in zeek_dns(sample) if r[2] == "198.51.100.33"]
    names = [r[9] for r in rows]
    assert all(n.endswith(".example.com") for n in names)
    assert len(set(names)) == 301 >= 200
    assert float(rows[-1][0]) - float(rows[0][0]) < 600
    # First a random label (is there a wildcard?), then the wordlist in order.
    probe = names[0].removesuffix(".example.com")
    assert re.match(r"^[a-z0-9]{12}$", probe) and probe not in wordlist(300)
    assert rows[0][15] == "NXDOMAIN"
    assert [n.removesuffix(".example.com") for n in names[1:]] == wordlist(300)
    rcodes = Counter(r[15] for r in rows)
    assert rcodes == {"NXDOMAIN": 292, "NOERROR": 9}
    # Every published name but "bastion" (not in the wordlist) is found.
    found = {r[9] for r in rows if r[15] == "NOERROR"}
    assert found == {f"{h}.example.com" for h in ZONE_HOSTS if h != "bastion"}
    assert {r[4] for r in rows} == {"203.0.113.53"}


def test_ptr_sweep_covers_the_public_range(sample: Sample) -> None:
    rows = [r for r in zeek_dns(sample) if r[2] == "198.51.100.44"]
    assert {r[13] for r in rows} == {"PTR"}
    covered = set()
    for r in rows:
        octets = r[9].removesuffix(".in-addr.arpa").split(".")
        covered.add(ipaddress.IPv4Address(".".join(reversed(octets))))
    net = ipaddress.ip_network("203.0.113.0/24")
    assert all(a in net for a in covered) and len(covered) == 256 >= 200
    assert float(rows[-1][0]) - float(rows[0][0]) < 300
    answered = {r[9]: r[21] for r in rows if r[15] == "NOERROR"}
    assert answered["10.113.0.203.in-addr.arpa"] == "www.example.com"
    assert len(answered) == 9


def test_zone_transfer_is_denied_and_chaos_probe_is_logged(sample: Sample) -> None:
    bind = data_lines(sample[0] / BIND_LOG)
    axfr = [x for x in bind if "198.51.100.9#" in x]
    assert len(axfr) == 3
    assert " query: example.com IN AXFR -E(0)TK (203.0.113.53)" in axfr[1]
    assert axfr[2].endswith("zone transfer 'example.com/AXFR/IN' denied")
    zeek = [r for r in zeek_dns(sample) if r[2] == "198.51.100.9"]
    assert [(r[6], r[13], r[15], r[23]) for r in zeek] == [
        ("udp", "NS", "NOERROR", "F"),
        ("tcp", "AXFR", "REFUSED", "T"),
    ]
    chaos = [r for r in zeek_dns(sample) if r[2] == "192.0.2.66"]
    assert [(r[9], r[11], r[13], r[21]) for r in chaos] == [
        ("version.bind", "C_CHAOS", "TXT", "TXT 7 unknown")
    ]
    assert next(x for x in bind if "192.0.2.66#" in x).endswith(
        "query: version.bind CH TXT +E(0)K (203.0.113.53)"
    )


def test_dns_background_stays_under_the_anchors(sample: Sample) -> None:
    actors = {a.address for a in sample[1].actors}
    per_client: dict[str, set[str]] = defaultdict(set)
    ptr: Counter[str] = Counter()
    nx: Counter[str] = Counter()
    for r in zeek_dns(sample):
        if r[2] in actors:
            continue
        per_client[r[2]].add(r[9])
        ptr[r[2]] += r[13] == "PTR"
        nx[r[2]] += r[15] == "NXDOMAIN"
    assert max(len(v) for v in per_client.values()) < 30
    assert max(ptr.values()) == 0
    assert max(nx.values()) <= 5
    rcodes = Counter(r[15] for r in zeek_dns(sample) if r[2] not in actors)
    assert rcodes["NXDOMAIN"] / sum(rcodes.values()) < 0.05


# --- web access log ----------------------------------------------------------------

ACCESS = re.compile(
    r"^(?P<host>[a-z0-9.-]+):(?P<port>80|443) (?P<ip>\d{1,3}(?:\.\d{1,3}){3}) - - "
    r"\[(?P<time>\d\d/[A-Z][a-z]{2}/\d{4}:\d\d:\d\d:\d\d) \+0000\] "
    r'"(?P<method>GET|HEAD) (?P<target>/[^ "]*) HTTP/1\.1" (?P<status>\d{3}) (?P<bytes>\d+) '
    r'"(?P<referer>[^"]*)" "(?P<agent>[^"]+)"$'
)


def access(sample: Sample) -> list[re.Match[str]]:
    out = []
    for line in data_lines(sample[0] / ACCESS_LOG):
        m = ACCESS.match(line)
        assert m, line
        out.append(m)
    return out


def test_every_access_line_has_the_vhost_combined_format(sample: Sample) -> None:
    rows = access(sample)
    stamps = [dt.datetime.strptime(m["time"], "%d/%b/%Y:%H:%M:%S") for m in rows]
    assert stamps == sorted(stamps)
    assert {m["status"] for m in rows} == {"200", "301", "304", "401", "403", "404"}
    for m in rows:
        assert m["referer"] == "-" or m["referer"].startswith("https://")
        if m["status"] == "304" or m["method"] == "HEAD":
            assert m["bytes"] == "0"


def test_web_background_looks_like_visitors(sample: Sample) -> None:
    actors = {a.address for a in sample[1].actors}
    background = [m for m in access(sample) if m["ip"] not in actors]
    actor_lines = sum(a.lines.get(ACCESS_LOG, 0) for a in sample[1].actors)
    # int(0.12 x (20,000 - min_sample_size(ALL_FAMILIES) = 4,767)): the web share.
    assert len(background) == sample[1].files[ACCESS_LOG] - actor_lines == 1827
    statuses = Counter(m["status"] for m in background)
    assert statuses["200"] / len(background) > 0.7 and statuses["304"] > 0
    missing: dict[str, set[str]] = defaultdict(set)
    for m in background:
        assert m["host"] in ("www.example.com", "example.com")
        assert m["agent"].startswith("Mozilla/5.0 (") and "Nikto" not in m["agent"]
        if m["status"] == "404":
            missing[m["ip"]].add(m["target"])
    assert max(len(v) for v in missing.values()) <= 2


def test_wordlist_scanner(sample: Sample) -> None:
    rows = [m for m in access(sample) if m["ip"] == "198.51.100.61"]
    assert len({m["target"] for m in rows}) == len(rows) == 600
    assert sum(m["status"] == "404" for m in rows) == 589
    assert {m["agent"] for m in rows} == {
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/120.0.0.0 Safari/537.36"
    }
    first = dt.datetime.strptime(rows[0]["time"], "%d/%b/%Y:%H:%M:%S")
    last = dt.datetime.strptime(rows[-1]["time"], "%d/%b/%Y:%H:%M:%S")
    assert (last - first).total_seconds() < 600


def test_nikto_sensitive_prober_and_bare_ip(sample: Sample) -> None:
    rows = access(sample)
    nikto = [m for m in rows if m["ip"] == "192.0.2.77"]
    assert len(nikto) == 150
    assert all(re.match(r"^Mozilla/5\.00 \(Nikto/2\.5\.0\) \(Evasions:None\) \(Test:\d{6}\)$",
                        m["agent"]) for m in nikto)  # fmt: skip
    assert {"/.htpasswd", "/.git/HEAD", "/phpinfo.php", "/wp-config.php"} <= {
        m["target"] for m in nikto
    }
    prober = [m for m in rows if m["ip"] == "192.0.2.88"]
    targets = [m["target"] for m in prober]
    assert {"/.env", "/.git/config", "/wp-login.php"} <= set(targets)
    assert len(set(targets)) == len(targets) == 18
    assert {m["status"] for m in prober} == {"403", "404"}
    bare = [m for m in rows if re.match(r"^\d+\.\d+\.\d+\.\d+$", m["host"])]
    # Besides the bare-IP client, only the internal Host probe names addresses
    # (two private ones, under the bare-IP threshold of 3).
    assert {m["ip"] for m in bare} == {"192.0.2.120", "192.0.2.130"}
    assert sorted(m["host"] for m in bare if m["ip"] == "192.0.2.130") == [
        "10.0.5.20",
        "172.16.0.1",
    ]
    bare = [m for m in bare if m["ip"] == "192.0.2.120"]
    assert {(m["host"], m["port"]) for m in bare} == {
        ("203.0.113.10", "80"),
        ("203.0.113.10", "443"),
    }


# --- Suricata eve.json ---------------------------------------------------------------

EVE_KEYS = ["timestamp", "flow_id", "in_iface", "event_type", "src_ip", "src_port", "dest_ip",
            "dest_port", "proto"]  # fmt: skip
ALERT_KEYS = ["action", "gid", "signature_id", "rev", "signature", "category", "severity"]


def eve(sample: Sample) -> list[dict[str, object]]:
    return [json.loads(x) for x in data_lines(sample[0] / EVE_LOG)]


def test_every_eve_line_is_suricata_json(sample: Sample) -> None:
    events = eve(sample)
    stamp = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+0000$")
    last = ""
    for e in events:
        assert list(e)[:9] == EVE_KEYS
        assert isinstance(e["timestamp"], str) and stamp.match(e["timestamp"])
        assert e["timestamp"] >= last
        last = e["timestamp"]
        assert isinstance(e["flow_id"], int) and 0 < e["flow_id"] < 1 << 51
        assert e["in_iface"] == "eth1" and e["proto"] in ("TCP", "UDP")
        ipaddress.ip_address(e["src_ip"])  # type: ignore[arg-type]
        flow = e["flow"]
        assert isinstance(flow, dict) and isinstance(flow["start"], str)
        assert stamp.match(flow["start"])
        if e["event_type"] == "alert":
            alert = e["alert"]
            assert isinstance(alert, dict) and list(alert) == ALERT_KEYS
            assert alert["action"] == "allowed" and alert["gid"] == 1
            assert alert["severity"] in (1, 2, 3)
        else:
            assert e["event_type"] == "flow" and "alert" not in e
            assert flow["alerted"] is False and flow["end"] == e["timestamp"]
    assert Counter(e["event_type"] for e in events)["flow"] > 600


def test_ids_alerts_on_the_scanners(sample: Sample) -> None:
    alerts = [e for e in eve(sample) if e["event_type"] == "alert"]
    by_source: dict[object, set[tuple[object, object]]] = defaultdict(set)
    for e in alerts:
        alert = e["alert"]
        assert isinstance(alert, dict)
        by_source[e["src_ip"]].add((alert["signature_id"], alert["signature"]))
    assert by_source["198.51.100.23"] == {(2009582, "ET SCAN NMAP -sS window 1024")}
    assert {sid for sid, _ in by_source["192.0.2.45"]} == {2010937, 2010935, 2002911}
    assert by_source["192.0.2.77"] == {(2002677, "ET SCAN Nikto Web App Scan in Progress")}
    assert by_source["198.51.100.9"] == {(2100255, "GPL DNS zone transfer TCP")}
    assert by_source["198.51.100.61"] == {(2001219, "ET SCAN Potential SSH Scan")}
    # Background reputation alerts: one per stray source.
    stray = Counter(
        e["src_ip"] for e in alerts if e["src_ip"] not in {a.address for a in sample[1].actors}
    )
    assert stray and max(stray.values()) == 1


# --- auth.log --------------------------------------------------------------------------

_SYSLOG = r"^(?P<stamp>Sep 30 \d\d:\d\d:\d\d) bastion sshd\[(?P<pid>\d+)\]: "
_IP = r"(?P<ip>\d{1,3}(?:\.\d{1,3}){3})"
AUTH_MESSAGES = {
    "accepted_key": rf"Accepted publickey for (?P<user>\w+) from {_IP} port \d+ ssh2: "
    r"(?:ED25519|RSA|ECDSA) SHA256:[A-Za-z0-9+/]{43}$",
    "accepted_password": rf"Accepted password for (?P<user>\w+) from {_IP} port \d+ ssh2$",
    "failed": rf"Failed password for (?:invalid user )?(?P<user>\w+) from {_IP} port \d+ ssh2$",
    "invalid": rf"Invalid user (?P<user>\w+) from {_IP} port \d+$",
    "closed": rf"Connection closed by (?:invalid|authenticating) user (?P<user>\w+) {_IP} "
    r"port \d+ \[preauth\]$",
    "received": rf"Received disconnect from {_IP} port \d+:11: disconnected by user$",
    "disconnected": rf"Disconnected from user (?P<user>\w+) {_IP} port \d+$",
}
AUTH = {k: re.compile(_SYSLOG + v) for k, v in AUTH_MESSAGES.items()}


def auth_lines(sample: Sample) -> list[tuple[str, re.Match[str]]]:
    out = []
    for line in data_lines(sample[0] / AUTH_LOG):
        found = [(k, m) for k, rx in AUTH.items() if (m := rx.match(line))]
        assert len(found) == 1, line
        out.append(found[0])
    return out


def auth_client(line: str) -> str:
    for rx in AUTH.values():
        if m := rx.match(line):
            return m["ip"]
    raise AssertionError(line)


def test_every_auth_line_is_an_sshd_message(sample: Sample) -> None:
    rows = auth_lines(sample)
    stamps = [m["stamp"] for _, m in rows]
    assert stamps == sorted(stamps)
    kinds = Counter(k for k, _ in rows)
    assert set(kinds) == set(AUTH_MESSAGES)
    # Staff log in with keys from inside; nobody outside gets in except the two actors.
    for kind, m in rows:
        if kind.startswith("accepted"):
            inside = m["ip"].startswith("10.")
            assert inside or m["ip"] in ("198.51.100.61", "192.0.2.210"), m.string
    # Internet bots try once each.
    bots = Counter(m["ip"] for k, m in rows if k == "invalid" and m["ip"] != "198.51.100.61")
    assert max(bots.values()) == 1


def test_scanner_guesses_passwords_then_gets_in_once(sample: Sample) -> None:
    rows = [(k, m) for k, m in auth_lines(sample) if m["ip"] == "198.51.100.61"]
    kinds = [k for k, _ in rows]
    assert kinds.count("failed") == 24
    assert kinds.count("accepted_password") == 1 and "accepted_key" not in kinds
    accepted = kinds.index("accepted_password")
    assert "failed" not in kinds[accepted:]
    assert rows[accepted][1]["user"] == "deploy"
    # The SSH attempts come after the same address's web scan.
    truth = sample[1].actor("198.51.100.61")
    web_last = [m for m in access(sample) if m["ip"] == "198.51.100.61"][-1]
    assert rows[0][1]["stamp"] > "Sep 30 " + web_last["time"].split(":", 1)[1]
    assert truth.escalate and truth.expected_detections == ("web_wordlist_scan",)


def test_benign_admin_logs_in_then_checks_the_zone(sample: Sample) -> None:
    auth = [(k, m) for k, m in auth_lines(sample) if m["ip"] == "192.0.2.210"]
    assert [k for k, _ in auth] == ["accepted_key", "received", "disconnected"]
    assert auth[0][1]["user"] == "carol"
    dns = [r for r in zeek_dns(sample) if r[2] == "192.0.2.210"]
    assert len(dns) == 10 and {r[15] for r in dns} == {"NOERROR"}
    login = dt.datetime.strptime("2026 " + auth[0][1]["stamp"], "%Y %b %d %H:%M:%S")
    first_query = dt.datetime.fromtimestamp(float(dns[0][0]), dt.UTC).replace(tzinfo=None)
    assert login < first_query


# --- speed -------------------------------------------------------------------------------


def test_generation_is_fast(tmp_path: Path) -> None:
    """200,000 lines over all seven files; about 120,000 lines/s on the
    development machine (1.7 s), so 30 s only catches a per-line Python loop."""
    began = time.perf_counter()
    truth = generate_sample(tmp_path, size=200_000, families=ALL_FAMILIES)
    elapsed = time.perf_counter() - began
    assert sum(truth.files.values()) == 200_000
    assert elapsed < 30, f"{200_000 / elapsed:,.0f} lines/s"


def test_start_moves_every_family(tmp_path: Path) -> None:
    """A sample over New Year: RFC 3164 pads the day with a space, BIND and nginx
    print the year, Zeek and Suricata carry full dates."""
    start = dt.datetime(2025, 12, 31, 23, 1, 30, tzinfo=dt.UTC)
    size = min_sample_size(ALL_FAMILIES) + 2000
    generate_sample(tmp_path, size=size, start=start, families=ALL_FAMILIES)
    auth = data_lines(tmp_path / AUTH_LOG)
    assert auth[0].startswith("Dec 31 23:") and auth[-1].startswith("Jan  1 0")
    bind = data_lines(tmp_path / BIND_LOG)
    assert bind[0].startswith("31-Dec-2025 23:") and bind[-1].startswith("01-Jan-2026 0")
    web = data_lines(tmp_path / ACCESS_LOG)
    assert "[31/Dec/2025:23:" in web[0] and "[01/Jan/2026:0" in web[-1]
    eve_first = json.loads(data_lines(tmp_path / EVE_LOG)[0])["timestamp"]
    assert eve_first.startswith("2025-12-31T23:")
    zeek = (tmp_path / ZEEK_DNS_LOG).read_text().splitlines()
    assert zeek[5] == "#open\t2025-12-31-23-01-30" and zeek[-1] == "#close\t2026-01-01-01-01-30"
    assert float(zeek[8].split("\t")[0]) >= start.timestamp()
