"""Zone transfers served versus refused: the case, triage and the exposure audit.

A zone transfer request is reconnaissance whether or not it works
(``zone_transfer``); one that a server *answered* handed the whole zone over.
Each test hunts real log lines end to end (BIND's own log, Zeek's dns.log,
the Windows DNS debug log), so the served/refused split is read from the rows
the parsers write, as in production.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

from reconwatch.cases import LIST_CAP, Activity, Case, ZoneTransfer, _merge
from reconwatch.config import Config
from reconwatch.generate.dns import zeek_header
from reconwatch.hunt import HuntResult, hunt
from reconwatch.ingest.run import IngestOptions
from reconwatch.triage import QUESTIONS, exposes

NOW = IngestOptions(now=dt.datetime(2026, 11, 28, tzinfo=dt.UTC))
REFUSED = "198.51.100.20"
SERVED = "198.51.100.21"
SECONDARY = "192.0.2.53"
SERVER = "203.0.113.53"


def bind(stamp: str, client: str, text: str, category: str = "security: error: ") -> str:
    return f"28-Nov-2026 {stamp} {category}client @0x7f3a {client}#40001 (example.com): {text}"


def query(stamp: str, client: str) -> str:
    return bind(stamp, client, f"query: example.com IN AXFR -T ({SERVER})", "queries: info: ")


def refused(client: str = REFUSED) -> list[str]:
    """BIND's two lines for a refused AXFR: the query, then the verdict."""
    return [
        query("04:00:00.000", client),
        bind("04:00:00.001", client, "zone transfer 'example.com/AXFR/IN' denied"),
    ]


def served(client: str = SERVED) -> list[str]:
    """BIND's lines for an AXFR it gave: the query, the transfer's start and end."""
    return [
        query("04:05:00.000", client),
        bind(
            "04:05:00.001",
            client,
            "transfer of 'example.com/IN': AXFR started (serial 2026112801)",
            "xfer-out: info: ",
        ),
        bind(
            "04:05:00.300",
            client,
            "transfer of 'example.com/IN': AXFR ended: 3 messages, 412 records",
            "xfer-out: info: ",
        ),
    ]


def run(
    tmp_path: Path, logs: dict[str, list[str]], detect: dict[str, Any] | None = None
) -> HuntResult:
    paths = []
    for name, lines in logs.items():
        path = tmp_path / name
        path.write_text("\n".join(lines) + "\n")
        paths.append(str(path))
    config = Config.model_validate({"detect": detect or {}})
    return hunt(paths, config, out_dir=tmp_path / "out", options=NOW)


def case_of(result: HuntResult, source: str) -> Case:
    (case,) = [c for c in result.cases if source in c.sources]
    return case


def test_a_zone_transfer_bind_gave_is_unauthorised_access_and_a_refused_one_is_not(
    tmp_path: Path,
) -> None:
    result = run(tmp_path, {"named.log": [*refused(), *served()]})

    asked = case_of(result, REFUSED)
    assert "zone_transfer" in asked.detections
    assert asked.activity.zone_transfers == []
    assert asked.criteria["compromise"]["met"] is False
    assert "zone transfer served" in asked.criteria["compromise"]["evidence"][0]
    assert not asked.escalate

    given = case_of(result, SERVED)
    assert "zone_transfer" in given.detections
    (transfer,) = given.activity.zone_transfers
    # BIND's transfer line names no server address, and its own file no host.
    assert (transfer.source, transfer.zone, transfer.type, transfer.transfers) == (
        SERVED,
        "example.com",
        "AXFR",
        1,
    )
    assert transfer.first_seen == dt.datetime(2026, 11, 28, 4, 5, 0, 1000, tzinfo=dt.UTC)
    compromise = given.criteria["compromise"]
    assert compromise["met"] is True
    (evidence,) = compromise["evidence"]
    assert evidence.startswith("Zone transfer served to the source")
    assert f"AXFR of example.com to {SERVED} (1 time, first 2026-11-28 04:05:00 UTC)" in evidence
    assert "unauthorised access" in evidence
    assert given.escalate and given.disposition == "malicious"
    assert "Zone transfer(s) served: AXFR of example.com" in given.answers[QUESTIONS[0]]
    assert "Zone data went to the source by zone transfer: AXFR" in given.answers[QUESTIONS[3]]
    assert "by zone transfer" not in asked.answers[QUESTIONS[3]]

    document = {c["id"]: c for c in result.document()["cases"]}[given.id]
    assert document["activity"]["zone_transfers"] == [
        {
            "source": SERVED,
            "zone": "example.com",
            "type": "AXFR",
            "server": None,
            "transfers": 1,
            "first_seen": "2026-11-28T04:05:00.001000Z",
            "last_seen": "2026-11-28T04:05:00.001000Z",
        }
    ]


def test_the_exposure_audit_names_the_zones_handed_over(tmp_path: Path) -> None:
    run(tmp_path, {"named.log": [*refused(), *served()]})
    audit = json.loads((tmp_path / "out" / "exposure.json").read_text())
    assert [(t["source"], t["zone"], t["type"]) for t in audit["zone_transfers"]] == [
        (SERVED, "example.com", "AXFR")
    ]
    assert audit["actors"][SERVED]["zone_transfers"][0]["zone"] == "example.com"
    assert audit["actors"][REFUSED]["zone_transfers"] == []
    report = (tmp_path / "out" / "exposure.md").read_text()
    assert "- Zones handed over by zone transfer: 1" in report
    assert "## Zones handed over by zone transfer" in report
    assert "allow-transfer" in report
    assert f"AXFR of example.com to {SERVED}" in report
    assert f"AXFR of example.com to {REFUSED}" not in report
    page = (tmp_path / "out" / "report.html").read_text()
    assert f'Zones handed over to <span class="mono">{SERVED}</span>' in page
    assert "AXFR example.com (1x, first 2026-11-28T04:05:00.001000Z)" in page
    assert f'Zones handed over to <span class="mono">{REFUSED}</span>' not in page


def test_an_authorised_secondary_transferring_is_neither_a_compromise_nor_an_exposure(
    tmp_path: Path,
) -> None:
    # The secondary also port-scans (a monitoring job): it has a case, but its
    # zone transfer is its job.
    scan = [
        f"2026-11-28T04:10:{p:02d}+00:00 fw1 kernel: [1.0] RW-DROP: IN=eth0 OUT= MAC=00 "
        f"SRC={SECONDARY} DST=203.0.113.10 LEN=44 TOS=0x00 PREC=0x00 TTL=43 ID=1 PROTO=TCP "
        f"SPT=40000 DPT={p + 1} WINDOW=1024 RES=0x00 SYN URGP=0"
        for p in range(30)
    ]
    result = run(
        tmp_path,
        {"named.log": served(SECONDARY), "kern.log": scan},
        {"zone_transfer": {"authorised_secondaries": [SECONDARY]}},
    )
    case = case_of(result, SECONDARY)
    assert "zone_transfer" not in case.detections
    assert [t.zone for t in case.activity.zone_transfers] == ["example.com"]  # the fact stays
    assert case.criteria["compromise"]["met"] is False
    assert case.criteria["compromise"]["evidence"][-1] == (
        "1 zone transfer served to an authorised secondary or pulled by one of our hosts from a "
        "server outside our networks (not counted)"
    )
    audit = json.loads((tmp_path / "out" / "exposure.json").read_text())
    assert audit["zone_transfers"] == []


#: dns.log's header block, as the sample generator writes it (``#open`` at the epoch).
ZEEK_HEADER = zeek_header(0).splitlines()


def zeek(
    ts: str, client: str, qtype: str, rcode: str, rejected: str, answers: str = "-",
    server: str = SERVER,
) -> str:  # fmt: skip
    code = {"NOERROR": "0", "REFUSED": "5", "NOTAUTH": "9"}[rcode]
    number = {"AXFR": "252", "IXFR": "251"}[qtype]
    return (
        f"{ts}\tC{client[-2:]}\t{client}\t40000\t{server}\t53\ttcp\t1\t0.01\texample.com\t1"
        f"\tC_INTERNET\t{number}\t{qtype}\t{code}\t{rcode}\tT\tF\tF\tF\t0\t{answers}\t-"
        f"\t{rejected}"
    )


SOA = "ns1.example.com hostmaster.example.com 2026112801 7200 3600 1209600 3600"
#: A whole zone's answer as Zeek logs it: the SOA, the name servers, the hosts, the SOA.
ZONE_RECORDS = f"{SOA},ns1.example.com,ns2.example.com,203.0.113.10,203.0.113.25,{SOA}"


def test_zeek_answers_tell_a_transfer_given_from_one_refused(tmp_path: Path) -> None:
    other, current, changed = "198.51.100.22", "198.51.100.23", "198.51.100.24"
    empty = "198.51.100.25"
    result = run(
        tmp_path,
        {
            "dns.log": [
                *ZEEK_HEADER,
                zeek("1795838400.000000", REFUSED, "AXFR", "REFUSED", "T"),
                zeek("1795838401.000000", other, "AXFR", "NOTAUTH", "F"),
                zeek("1795838402.000000", SERVED, "AXFR", "NOERROR", "F", ZONE_RECORDS),
                zeek("1795838403.000000", SERVED, "AXFR", "NOERROR", "F", ZONE_RECORDS),
                # A NOERROR answer without a record (a forwarder on the wire) gave nothing.
                zeek("1795838406.000000", empty, "AXFR", "NOERROR", "F"),
                # IXFR "up to date": the one SOA, nothing handed over.
                zeek("1795838404.000000", current, "IXFR", "NOERROR", "F", SOA),
                # An IXFR with its changes: SOA, deletions, additions, SOA.
                zeek("1795838405.000000", changed, "IXFR", "NOERROR", "F",
                     f"{SOA},{SOA},192.0.2.7,{SOA}"),
            ]
        },
    )  # fmt: skip
    for asked in (REFUSED, other, current, empty):
        assert case_of(result, asked).activity.zone_transfers == []
        assert case_of(result, asked).criteria["compromise"]["met"] is False
    (transfer,) = case_of(result, SERVED).activity.zone_transfers
    assert (transfer.type, transfer.server, transfer.transfers) == ("AXFR", SERVER, 2)
    assert transfer.last_seen - transfer.first_seen == dt.timedelta(seconds=1)
    assert case_of(result, SERVED).criteria["compromise"]["met"] is True
    (incremental,) = case_of(result, changed).activity.zone_transfers
    assert incremental.type == "IXFR"
    evidence = case_of(result, changed).criteria["compromise"]["evidence"][0]
    assert "an IXFR its changes" in evidence and "IXFR of example.com" in evidence


def test_one_of_our_hosts_pulling_a_zone_from_outside_is_no_exposure(tmp_path: Path) -> None:
    # `dig axfr zonetransfer.me @nsztm1.digi.ninja` from a workstation, seen by
    # the sensor; the same host also pulls one of our zones from our own server.
    inside, outside = "10.1.2.3", "198.51.100.53"
    result = run(
        tmp_path,
        {
            "dns.log": [
                *ZEEK_HEADER,
                zeek("1795838400.000000", inside, "AXFR", "NOERROR", "F", ZONE_RECORDS, outside),
                zeek(
                    "1795838401.000000", inside, "AXFR", "NOERROR", "F", ZONE_RECORDS, "10.0.0.53"
                ),
            ]
        },
    )
    case = case_of(result, inside)
    assert [t.server for t in case.activity.zone_transfers] == [outside, "10.0.0.53"]
    evidence, uncounted = case.criteria["compromise"]["evidence"]
    assert uncounted.startswith("1 zone transfer served to an authorised secondary or pulled")
    assert "from 10.0.0.53" in evidence and outside not in evidence
    audit = json.loads((tmp_path / "out" / "exposure.json").read_text())
    assert [t["server"] for t in audit["zone_transfers"]] == ["10.0.0.53"]


def test_suricata_requests_are_never_answers(tmp_path: Path) -> None:
    # Suricata 8 (eve v3) writes the header's rcode on requests too: NOERROR.
    def eve(ts: str, client: str, kind: str, rcode: str, answers: int = 0) -> str:
        dns: dict[str, Any] = {
            "version": 3, "type": kind, "id": 7, "flags": "0", "opcode": 0, "rcode": rcode,
            "queries": [{"rrname": "example.com", "rrtype": "AXFR", "rrclass": "IN"}],
        }  # fmt: skip
        if answers:
            dns["answers"] = [
                {"rrname": "example.com", "rrtype": "A", "rdata": f"192.0.2.{n}"}
                for n in range(answers)
            ]
        ends = (client, SERVER) if kind == "request" else (SERVER, client)
        ports = (40000, 53) if kind == "request" else (53, 40000)
        event = {
            "timestamp": f"2026-11-28T04:00:0{ts}.000000+0000", "event_type": "dns",
            "src_ip": ends[0], "src_port": ports[0], "dest_ip": ends[1], "dest_port": ports[1],
            "proto": "TCP", "dns": dns,
        }  # fmt: skip
        return json.dumps(event)

    result = run(
        tmp_path,
        {
            "eve.json": [
                eve("0", REFUSED, "request", "NOERROR"),
                eve("1", REFUSED, "response", "REFUSED"),
                eve("2", SERVED, "request", "NOERROR"),
                eve("3", SERVED, "response", "NOERROR", answers=3),
            ]
        },
    )
    assert case_of(result, REFUSED).activity.zone_transfers == []
    assert case_of(result, REFUSED).activity.dns_answered == 1
    (transfer,) = case_of(result, SERVED).activity.zone_transfers
    assert (transfer.server, transfer.transfers) == (SERVER, 1)  # the answer only


def test_a_forwarder_s_nodata_to_an_axfr_is_no_transfer(tmp_path: Path) -> None:
    result = run(
        tmp_path,
        {
            "syslog": [
                f"Nov 28 04:00:00 gw dnsmasq[2]: query[AXFR] example.com from {REFUSED}",
                "Nov 28 04:00:00 gw dnsmasq[2]: config example.com is NODATA",
            ]
        },
    )
    case = case_of(result, REFUSED)
    assert "zone_transfer" in case.detections
    assert case.activity.zone_transfers == []


def test_a_windows_dns_request_alone_is_no_transfer_but_its_noerror_answer_is(
    tmp_path: Path,
) -> None:
    def packet(time: str, way: str, client: str, flags: str) -> str:
        return (
            f"11/28/2026 {time} AM 0E4C PACKET  0000020D2A6F2150 TCP {way} {client:<15} "
            f"0001 {flags} AXFR   (7)example(3)com(0)"
        )

    result = run(
        tmp_path,
        {
            "dns.log": [
                packet("4:00:00", "Rcv", REFUSED, "  Q [0000       NOERROR]"),
                packet("4:00:00", "Snd", REFUSED, "R Q [8085 A   REFUSED]"),
                packet("4:00:01", "Rcv", SERVED, "  Q [0000       NOERROR]"),
                packet("4:00:01", "Snd", SERVED, "R Q [8480 A   NOERROR]"),
            ]
        },
    )
    assert case_of(result, REFUSED).activity.zone_transfers == []
    (transfer,) = case_of(result, SERVED).activity.zone_transfers
    assert (transfer.zone, transfer.type, transfer.transfers) == ("example.com", "AXFR", 1)


def test_report_md_keeps_every_zone_of_the_evidence(tmp_path: Path) -> None:
    lines = [
        bind(
            f"04:05:0{n}.000",
            SERVED,
            f"transfer of 'zone{n}.example.com/IN': AXFR started (serial 7)",
            "xfer-out: info: ",
        )
        for n in range(1, 6)
    ]
    result = run(tmp_path, {"named.log": lines})
    assert len(case_of(result, SERVED).activity.zone_transfers) == 5
    report = (tmp_path / "out" / "report.md").read_text()
    reason = next(line for line in report.splitlines() if "Zone transfer served" in line)
    assert "zone5.example.com" in reason and "…" not in reason


def test_bind_and_a_sensor_seeing_one_transfer_are_two_observations(tmp_path: Path) -> None:
    # An internal host takes our zone from our public BIND server (default
    # home_networks: private ranges only). BIND's line names no server and is
    # ours; Zeek's names the public address, which alone would read as the
    # host pulling a zone from outside. Together they must still escalate.
    inside = "10.1.2.3"
    stamp = dt.datetime(2026, 11, 28, 4, 5, tzinfo=dt.UTC).timestamp()
    result = run(
        tmp_path,
        {
            "named.log": served(inside),
            "dns.log": [*ZEEK_HEADER,
                        zeek(f"{stamp:.6f}", inside, "AXFR", "NOERROR", "F", ZONE_RECORDS)],
        },
    )  # fmt: skip
    case = case_of(result, inside)
    assert [(t.server, t.transfers) for t in case.activity.zone_transfers] == [
        (SERVER, 1),  # Zeek's, at 04:05:00.000
        (None, 1),  # BIND's, 1 ms later
    ]
    evidence, uncounted = case.criteria["compromise"]["evidence"]
    assert f"AXFR of example.com to {inside}" in evidence and f"from {SERVER}" not in evidence
    assert uncounted.startswith("1 zone transfer served")  # Zeek's, read as a pull from outside
    audit = json.loads((tmp_path / "out" / "exposure.json").read_text())
    assert [t["server"] for t in audit["zone_transfers"]] == [None]


def test_a_long_list_of_pulls_from_outside_does_not_hide_the_transfer_that_exposed(
    tmp_path: Path,
) -> None:
    # One of our hosts pulls 120 zones from a server outside first (no
    # exposure), then one of ours from our own server: the list a case keeps
    # is cut at LIST_CAP, and the one transfer that matters must stay in it.
    inside, outside, ours = "10.1.2.3", "198.51.100.53", "10.0.0.53"
    pulls = [
        zeek(
            f"{1795838400 + i}.000000", inside, "AXFR", "NOERROR", "F", ZONE_RECORDS, outside
        ).replace("\texample.com\t", f"\tz{i:03}.example.net\t")
        for i in range(LIST_CAP + 20)
    ]
    late = zeek("1795840000.000000", inside, "AXFR", "NOERROR", "F", ZONE_RECORDS, ours)
    result = run(tmp_path, {"dns.log": [*ZEEK_HEADER, *pulls, late]})
    case = case_of(result, inside)
    kept = case.activity.zone_transfers
    assert len(kept) == LIST_CAP
    assert kept == sorted(kept, key=lambda t: t.first_seen)  # still first first
    assert kept[-1].server == ours and kept[-1].zone == "example.com"
    compromise = case.criteria["compromise"]
    assert compromise["met"] is True
    assert f"from {ours}" in compromise["evidence"][0]


def transfer(source: str, server: str | None, minute: int) -> ZoneTransfer:
    seen = dt.datetime(2026, 11, 28, 4, tzinfo=dt.UTC) + dt.timedelta(minutes=minute)
    return ZoneTransfer(source, "example.com", "AXFR", server, 1, seen, seen)


def test_a_campaign_s_merged_transfers_keep_those_that_exposed() -> None:
    # A campaign whose first member is an authorised secondary with a hundred
    # transfers, the other an outsider given the zone later: the merged list
    # (cut at LIST_CAP) keeps the outsider's, which alone exposed the zone.
    secondary = Activity(zone_transfers=[transfer(SECONDARY, None, m) for m in range(LIST_CAP)])
    outsider = Activity(zone_transfers=[transfer(SERVED, None, LIST_CAP + 1)])
    config = Config.model_validate(
        {"detect": {"zone_transfer": {"authorised_secondaries": [SECONDARY]}}}
    )
    merged = _merge([secondary, outsider], exposes(config))
    assert len(merged.zone_transfers) == LIST_CAP
    assert merged.zone_transfers[-1].source == SERVED
    assert [t.source for t in filter(exposes(config), merged.zone_transfers)] == [SERVED]
    # Without the judgement the cut is by time alone (what watch-less callers get).
    assert SERVED not in {t.source for t in _merge([secondary, outsider]).zone_transfers}
