"""AWS VPC Flow Logs: default v2 and a custom v5 field list, header-driven."""

from __future__ import annotations

import pyarrow.compute as pc

from ingest_helpers import batch, make, parse, rejects, utc
from reconwatch.ingest import registry
from reconwatch.ingest.base import MAX_LAYOUTS, TOO_MANY_LAYOUTS, layouts
from reconwatch.ingest.fw_vpcflow import DEFAULT_FIELDS, VpcFlowParser
from test_ingest_fw_helpers import fixture_lines, network, parse_fixture

ENI = "eni-1235b8ca123456789"


def test_default_format() -> None:
    parsed = parse_fixture(VpcFlowParser, "vpcflow-v2.log")
    accept = {"event_action": "allowed", "connection_outcome": "succeeded", "observer_name": ENI}
    assert network(parsed) == [
        {**accept, "log_line": 2, "timestamp": utc(2014, 12, 14, 4, 6, 50),
         "source_ip": "172.31.16.139", "source_port": 20641, "destination_ip": "172.31.16.21",
         "destination_port": 22, "network_transport": "tcp", "network_bytes": 4249,
         "network_packets": 20},
        {"log_line": 3, "timestamp": utc(2014, 12, 14, 4, 6, 50), "source_ip": "172.31.9.69",
         "source_port": 49761, "destination_ip": "172.31.9.12", "destination_port": 3389,
         "network_transport": "tcp", "network_bytes": 4249, "network_packets": 20,
         "event_action": "rejected", "connection_outcome": "failed", "observer_name": ENI},
        {**accept, "log_line": 6, "timestamp": utc(2015, 5, 29, 16, 30, 27),
         "source_ip": "203.0.113.12", "destination_ip": "172.31.16.139",
         "network_transport": "icmp", "network_bytes": 336, "network_packets": 4},
        {**accept, "log_line": 7, "timestamp": utc(2016, 10, 31, 11, 35, 8),
         "source_ip": "2001:db8:1234:a100:8d6e:3477:df66:f105", "source_port": 34892,
         "destination_ip": "2001:db8:1234:a102:3304:8879:34cf:4071", "destination_port": 22,
         "network_transport": "tcp", "network_bytes": 8855, "network_packets": 54},
    ]  # fmt: skip
    # The header and the NODATA / SKIPDATA records carry no flow.
    assert parsed.skipped == 3
    assert rejects(parsed) == [(8, "wrong number of fields"), (9, "unknown action")]


def test_custom_v5_fields_with_tcp_flags() -> None:
    parsed = parse_fixture(VpcFlowParser, "vpcflow-v5.log")
    eni = "eni-0a1b2c3d4e5f60718"
    assert network(parsed) == [
        {"log_line": 2, "timestamp": utc(2023, 11, 14, 22, 13, 20), "source_ip": "198.51.100.7",
         "source_port": 40123, "destination_ip": "10.0.1.5", "destination_port": 22,
         "network_transport": "tcp", "tcp_flags": "SYN", "network_bytes": 44,
         "network_packets": 1, "event_action": "rejected", "connection_outcome": "failed",
         "observer_name": eni},
        {"log_line": 3, "timestamp": utc(2023, 11, 14, 22, 13, 25), "source_ip": "10.0.1.5",
         "source_port": 51000, "destination_ip": "52.94.0.10", "destination_port": 443,
         "network_transport": "tcp", "tcp_flags": "ACK SYN FIN", "network_bytes": 5230,
         "network_packets": 12, "event_action": "allowed", "connection_outcome": "succeeded",
         "observer_name": eni},
    ]  # fmt: skip
    assert (parsed.skipped, rejects(parsed)) == (1, [])


def test_header_kept_across_batches_and_replaced_by_a_later_one() -> None:
    v5 = fixture_lines("vpcflow-v5.log")
    v2 = fixture_lines("vpcflow-v2.log")
    parser = make(VpcFlowParser)
    first = parse(parser, v5[:1])
    assert (first.skipped, first.rows.num_rows) == (1, 0)
    second = parse(parser, [v5[1], v2[0], v2[1]], first=2)
    out = network(second)
    assert [(r["log_line"], r["source_ip"], r.get("tcp_flags")) for r in out] == [
        (2, "198.51.100.7", "SYN"),
        (4, "172.31.16.139", None),
    ]


def test_headerless_default_lines_and_junk() -> None:
    lines = [*fixture_lines("vpcflow-v2.log")[1:2], "a b", "2 x"]
    parsed = parse(make(VpcFlowParser), lines)
    assert parsed.rows.num_rows == 1
    assert rejects(parsed) == [(2, "wrong number of fields"), (3, "wrong number of fields")]


# -- custom format with version 3 to 5 fields ------------------------------------------------

CUSTOM = "vpcflow-v5-custom.log"
ENI_APP = "eni-0a1b2c3d4e5f60718"
ENI_NAT = "eni-0fedcba9876543210"


def test_custom_format_with_v4_and_v5_fields() -> None:
    """A custom field list naming every version 3 to 5 field the parser does not
    map (region, az-id, sublocation-type/-id, pkt-src/dst-aws-service,
    flow-direction, traffic-path...): the header places each field, so the
    extra columns shift nothing and the known ones are read where they sit."""
    header = fixture_lines(CUSTOM)[0].split()
    assert {"region", "az-id", "sublocation-type", "sublocation-id"} <= set(header)  # v4
    assert {"flow-direction", "traffic-path", "pkt-src-aws-service",
            "pkt-dst-aws-service"} <= set(header)  # v5  # fmt: skip
    parsed = parse_fixture(VpcFlowParser, CUSTOM)
    out = network(parsed)
    assert [(r["log_line"], r["source_ip"], r.get("source_port"), r["destination_ip"],
             r.get("destination_port"), r.get("tcp_flags"), r["event_action"],
             r["observer_name"]) for r in out] == [
        # ingress SSH probe, refused
        (2, "198.51.100.7", 40123, "10.0.1.5", 22, "SYN", "rejected", ENI_APP),
        # egress to S3 from an Outpost subnet through a gateway endpoint (traffic-path 7)
        (3, "10.0.1.5", 51000, "52.216.0.10", 443, "ACK SYN FIN", "allowed", ENI_APP),
        # the NAT gateway's interface: see the next test
        (4, "10.0.0.220", 49152, "10.0.1.9", 443, "SYN FIN", "allowed", ENI_NAT),
        (5, "10.0.1.9", 443, "10.0.0.220", 49152, "ACK SYN", "allowed", ENI_NAT),
        # IPv6 in a Wavelength Zone, pkt-*-aws-service set
        (6, "2600:1f16:abc::10", 443, "2600:1f18:def::20", 40000, "ACK SYN", "allowed",
         ENI_APP),
    ]  # fmt: skip
    assert out[0]["timestamp"] == utc(2023, 11, 14, 22, 13, 20)
    assert [(r["network_bytes"], r["network_packets"]) for r in out] == [
        (44, 1), (5230, 12), (1200, 10), (9800, 12), (700, 5),
    ]  # fmt: skip
    # The header and the NODATA record (all its flow fields '-').
    assert (parsed.skipped, rejects(parsed)) == (2, [])


def test_custom_format_nat_gateway_source_is_srcaddr_not_pkt_srcaddr() -> None:
    """On a NAT gateway's interface srcaddr and pkt-srcaddr differ.

    AWS documents ``srcaddr`` as "the source address for incoming traffic, or the
    IPv4 or IPv6 address of the network interface for outgoing traffic on the
    network interface", and ``pkt-srcaddr`` as "the packet-level (original) source
    IP address of the traffic", to tell an intermediate layer (a NAT gateway, an
    EKS node's interface) from the original source. The parser reads ``srcaddr``
    and ``dstaddr`` only: ``source_ip`` is what crossed this interface, so on the
    NAT gateway's egress record (line 5, the reply relayed from 203.0.113.5 to
    the private instance) the source is the gateway itself (10.0.1.9), and the
    internet host appears in no row's source. Likewise on the ingress record
    (line 4) ``destination_ip`` is the gateway, not the internet host the
    instance meant to reach (pkt-dstaddr 203.0.113.5).
    """
    lines = fixture_lines(CUSTOM)
    header = lines[0].split()
    record = dict(zip(header, lines[4].split(), strict=True))
    assert (record["srcaddr"], record["pkt-srcaddr"]) == ("10.0.1.9", "203.0.113.5")
    assert record["flow-direction"] == "egress"
    out = {r["log_line"]: r for r in network(parse_fixture(VpcFlowParser, CUSTOM))}
    assert (out[5]["source_ip"], out[5]["destination_ip"]) == ("10.0.1.9", "10.0.0.220")
    assert (out[4]["source_ip"], out[4]["destination_ip"]) == ("10.0.0.220", "10.0.1.9")
    assert "203.0.113.5" not in {r["source_ip"] for r in out.values()}
    # Where nothing is in between, the two agree and so does the row.
    first = dict(zip(header, lines[1].split(), strict=True))
    assert first["srcaddr"] == first["pkt-srcaddr"] == out[2]["source_ip"]


def test_custom_v5_header_is_sniffed() -> None:
    sample = fixture_lines(CUSTOM)
    assert [p.name for p in registry.PARSERS if p.sniff(sample)] == ["aws-vpcflow"]


def test_start_is_utc_whatever_the_hosts_zone() -> None:
    # DuckDB's session zone is the host's (TZ): a non-UTC server must store the same UTC.
    parser = make(VpcFlowParser)
    parser.ctx.con.execute("SET GLOBAL TimeZone = 'America/New_York'")
    parsed = parse(parser, fixture_lines("vpcflow-v5.log"))
    assert [r["timestamp"] for r in network(parsed)] == [
        utc(2023, 11, 14, 22, 13, 20),
        utc(2023, 11, 14, 22, 13, 25),
    ]


# -- many headers in one batch ------------------------------------------------------------

V2_RECORD = (
    "2 123456789010 eni-1 198.51.100.7 10.0.1.5 40123 22 6 1 44 1418530010 1418530070 REJECT OK"
)


def test_concatenated_files_repeating_one_header_are_one_layout() -> None:
    """``cat`` of a day's delivered files repeats the header once per file:
    one layout (one query), every record read, every header skipped."""
    header = " ".join(DEFAULT_FIELDS)
    lines = [line for _ in range(200) for line in (header, V2_RECORD, V2_RECORD)]
    text = batch(lines).column("line")
    is_header = pc.equal(text, header)
    found = layouts(text, is_header, lambda h: tuple(h.split()), DEFAULT_FIELDS)
    assert list(found.numbers) == [DEFAULT_FIELDS]
    parsed = parse(make(VpcFlowParser), lines)
    assert (parsed.rows.num_rows, parsed.skipped, rejects(parsed)) == (400, 200, [])


def test_lines_under_too_many_different_headers_are_rejected_not_queried() -> None:
    """A new header before every record (each with one more field) would be a
    query per record: past MAX_LAYOUTS, the records are rejected."""
    header = " ".join(DEFAULT_FIELDS)
    lines = []
    for n in range(MAX_LAYOUTS + 6):
        lines += [f"{header} extra{n}", V2_RECORD + " -"]
    parser = make(VpcFlowParser)
    parsed = parse(parser, lines)
    assert parsed.rows.num_rows == MAX_LAYOUTS - 1  # layout 0: the default, before any header
    assert {reason for _, reason in rejects(parsed)} == {TOO_MANY_LAYOUTS}
    assert parsed.skipped == MAX_LAYOUTS + 6
    # The last header stays in force for the next batch, too many or not.
    assert parser.fields == (*DEFAULT_FIELDS, f"extra{MAX_LAYOUTS + 5}")


def test_a_header_without_a_needed_field_leaves_the_one_before_in_force() -> None:
    no_start = " ".join(name for name in DEFAULT_FIELDS if name != "start")
    v5 = fixture_lines("vpcflow-v5.log")
    parsed = parse(make(VpcFlowParser), [v5[0], no_start, v5[1]])
    assert [(r["log_line"], r.get("tcp_flags")) for r in network(parsed)] == [(3, "SYN")]
    assert parsed.skipped == 2


def test_a_custom_header_may_start_with_srcaddr_and_end_with_dstaddr() -> None:
    """The sniffer took such a header; the parser did not read it (it looked
    for " srcaddr " between spaces) and rejected every record."""
    header = "srcaddr srcport dstport protocol start action dstaddr"
    record = "198.51.100.7 40123 22 6 1418530010 REJECT 10.0.1.5"
    parsed = parse(make(VpcFlowParser), [header, record, record])
    out = network(parsed)
    assert [(r["source_ip"], r["destination_ip"], r["destination_port"]) for r in out] == [
        ("198.51.100.7", "10.0.1.5", 22)
    ] * 2
    assert (parsed.skipped, rejects(parsed)) == (1, [])


def test_a_byte_order_mark_before_a_later_header() -> None:
    """``cat`` of delivered files can leave a file's byte order mark mid-batch:
    the header after it is still a header (read as a record, its swapped
    addresses would have been read in the default order)."""
    swapped = "version account-id interface-id dstaddr srcaddr srcport dstport protocol " \
        "packets bytes start end action log-status"  # fmt: skip
    record = "2 1 eni-1 10.0.1.5 198.51.100.7 40123 22 6 1 44 1418530010 1418530070 REJECT OK"
    parsed = parse(make(VpcFlowParser), [V2_RECORD, "\ufeff" + swapped, "\ufeff" + record])
    out = network(parsed)
    assert [(r["source_ip"], r["destination_ip"]) for r in out] == [
        ("198.51.100.7", "10.0.1.5"),
        ("198.51.100.7", "10.0.1.5"),
    ]
    assert (parsed.skipped, rejects(parsed)) == (1, [])
