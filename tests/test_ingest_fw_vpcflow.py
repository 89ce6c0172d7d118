"""AWS VPC Flow Logs: default v2 and a custom v5 field list, header-driven."""

from __future__ import annotations

from ingest_helpers import make, parse, rejects, utc
from reconwatch.ingest.fw_vpcflow import VpcFlowParser
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
