"""Review 3: resolver query lines the parsers lost or misread (dnsmasq names
with spaces, Unbound's root, CoreDNS's escaped names)."""

from __future__ import annotations

from typing import Any

from ingest_helpers import make, parse, rejects, rows
from reconwatch.ingest.base import Parser
from reconwatch.ingest.dns_resolvers import CoreDnsParser, DnsmasqParser, UnboundParser


def _read(parser: type[Parser], lines: list[str]) -> tuple[list[dict[str, Any]], list[Any]]:
    parsed = parse(make(parser), lines)
    return rows(parsed.rows, "dns"), rejects(parsed)


def test_dnsmasq_query_names_with_spaces_are_rows() -> None:
    # dnsmasq keeps a label's printable bytes, spaces included, and writes
    # "<name unprintable>" for a name with control bytes: the client is last.
    out, bad = _read(
        DnsmasqParser,
        [
            "Nov 28 04:00:00 gw dnsmasq[812]: query[A] a b.example.com from 192.0.2.1",
            "Nov 28 04:00:01 gw dnsmasq[812]: query[TXT] <name unprintable> from 192.0.2.2",
            "Nov 28 04:00:02 gw dnsmasq[812]: query[A] x from 198.51.100.6 from 192.0.2.3",
            "Nov 28 04:00:03 gw dnsmasq[812]: 7 192.0.2.4/5353 query[A] c d.example from 192.0.2.4",
        ],
    )
    assert bad == []
    assert [(r["source_ip"], r["dns_question_name"], r["dns_question_type"]) for r in out] == [
        ("192.0.2.1", "a b.example.com", "A"),
        ("192.0.2.2", "<name unprintable>", "TXT"),
        # A name quoting " from ADDR" cannot stand in for the client.
        ("192.0.2.3", "x from 198.51.100.6", "A"),
        ("192.0.2.4", "c d.example", "A"),
    ]


def test_unbound_root_query_is_a_row() -> None:
    # Unbound writes the root name as "." (priming and ". ANY" probes).
    out, bad = _read(
        UnboundParser,
        [
            "Nov 28 04:00:00 ns unbound: [812:0] info: 192.0.2.1 . NS IN",
            "[1796097600] unbound[812:0] info: 192.0.2.2 . ANY IN NOERROR 0.000000 0 45",
        ],
    )
    assert bad == []
    assert [
        (r["source_ip"], r["dns_question_name"], r["dns_question_type"], r["dns_response_code"])
        for r in out
    ] == [("192.0.2.1", ".", "NS", None), ("192.0.2.2", ".", "ANY", "NOERROR")]


def test_coredns_escaped_names_are_read_whole() -> None:
    # CoreDNS writes names escaped (miekg/dns): a quote or a space in a label
    # is \" or \ , which must not end the question or the name.
    head = '2026-11-28T04:00:00.123Z [INFO] 192.0.2.1:53211 - 4711 "A IN '
    out, bad = _read(
        CoreDnsParser,
        [
            head + 'a\\"b.example.com. udp 44 false 512" NXDOMAIN qr,rd,ra 60 0.000123s',
            head + 'a\\ b.example.com. tcp 44 false 512" NOERROR qr,rd,ra 60 0.000123s',
            head + 'plain.example.com. udp 44 false 512" NOERROR qr,rd,ra 60 0.000123s',
        ],
    )
    assert bad == []
    assert [
        (r["dns_question_name"], r["network_transport"], r["dns_response_code"]) for r in out
    ] == [
        ('a\\"b.example.com', "udp", "NXDOMAIN"),
        ("a\\ b.example.com", "tcp", "NOERROR"),
        ("plain.example.com", "udp", "NOERROR"),
    ]


def test_dnsmasq_answer_line_with_a_spaced_name_answers_no_other_query() -> None:
    # A client's query name "www.bank.example is NXDOMAIN" gets the reply line
    # "reply www.bank.example is NXDOMAIN is NXDOMAIN": read at its first word,
    # it answered the latest query of www.bank.example, another client's.
    out, bad = _read(
        DnsmasqParser,
        [
            "Nov 28 04:00:00 gw dnsmasq[812]: query[A] www.bank.example from 192.0.2.10",
            "Nov 28 04:00:00 gw dnsmasq[812]: forwarded www.bank.example to 192.0.2.53",
            "Nov 28 04:00:01 gw dnsmasq[812]: forwarded www.bank.example is NXDOMAIN to 192.0.2.53",
            "Nov 28 04:00:01 gw dnsmasq[812]: reply www.bank.example is NXDOMAIN is NXDOMAIN",
            "Nov 28 04:00:02 gw dnsmasq[812]: reply www.bank.example is 192.0.2.80",
            "Nov 28 04:00:03 gw dnsmasq[812]: query[A] s.example from 192.0.2.10",
            "Nov 28 04:00:03 gw dnsmasq[812]: reply s.example is 192.0.2.81 (DNSSEC signed)",
        ],
    )
    assert bad == []
    assert [(r["dns_question_name"], r["dns_response_code"], r["dns_answers"]) for r in out] == [
        ("www.bank.example", "NOERROR", ["192.0.2.80"]),
        ("s.example", "NOERROR", ["192.0.2.81"]),
    ]
