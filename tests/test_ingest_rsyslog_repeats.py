"""rsyslog's ``message repeated N times: [ msg]``: firewall, BIND, OpenVPN, HAProxy parsers.

rsyslog folds identical messages so (``$RepeatedMsgReduction``, on in Debian's
and Ubuntu's rsyslog.conf). A pf or ASA denial of a retransmitted packet (IPv6
has no IP ID), a RouterOS log line (no sequence number), a resolver's repeated
query and an OpenVPN server's error for a scanner's retried packet are
identical lines: the record inside is read, and
written N times. (netfilter, sshd, dnsmasq and Unbound have their own tests
beside their parsers.)
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from ingest_helpers import NOW
from reconwatch.config import Config
from reconwatch.ingest.run import IngestOptions, ingest
from reconwatch.lake import Lake

CASES = [
    (
        "pf",
        "network",
        "Sep 28 10:38:24 pfSense filterlog: ",
        "53,,,1000102631,em0,match,block,in,6,0x00,0x00000,64,tcp,6,40,2001:db8::7,2001:db8::1,"
        "53792,22,0,S,31552001,,65535,,mss",
    ),
    (
        "cisco-asa",
        "network",
        "Sep 30 10:00:00 asa1 %ASA-4-106023: ",
        "Deny tcp src outside:198.51.100.7/4444 dst inside:203.0.113.10/22 by access-group "
        '"outside_in" [0x0, 0x0]',
    ),
    (
        "juniper-srx",
        "network",
        "Sep 30 10:00:00 srx1 RT_FLOW: ",
        "RT_FLOW_SESSION_DENY: session denied 198.51.100.7/40000->203.0.113.10/22 0x0 junos-ssh "
        "6(0) deny-all untrust trust UNKNOWN UNKNOWN N/A(N/A) ge-0/0/0.0 UNKNOWN policy deny",
    ),
    (
        "bind",
        "dns",
        "Nov 13 10:59:46 keira named[2075772]: ",
        "19-Oct-2022 05:34:03.425 client @0x7f65100ee4d8 104.219.136.31#3076 (example.com): "
        "query 'example.com/ANY/IN' denied",
    ),
    (
        "openvpn",
        "auth",
        "Sep 30 12:00:00 vpn1 openvpn[812]: ",
        "198.51.100.9:1194 TLS Error: TLS key negotiation failed to occur within 60 seconds",
    ),
    (
        # The topics stand where a tag does, with no colon: rsyslog takes them for it.
        "mikrotik",
        "network",
        "Sep 30 10:00:00 192.168.88.1 firewall,info ",
        "drop-tcp input: in:ether1-WAN out:(unknown 0), connection-state:new src-mac "
        "00:17:10:88:bc:02, proto TCP (SYN), 36.97.161.219:59388->80.82.202.145:23, len 40",
    ),
    (
        "haproxy",
        "http",
        "Feb  6 12:14:14 localhost haproxy[14389]: ",
        "10.0.1.2:33317 [06/Feb/2009:12:14:14.655] http-in static/srv1 10/0/30/69/109 404 2750 "
        '- - ---- 1/1/1/1/0 0/0 {1wt.eu} {} "GET /wp-login.php HTTP/1.1"',
    ),
]

#: Each case's client, read from the record.
SOURCES = {
    "pf": "2001:db8::7",
    "cisco-asa": "198.51.100.7",
    "juniper-srx": "198.51.100.7",
    "bind": "104.219.136.31",
    "openvpn": "198.51.100.9",
    "mikrotik": "36.97.161.219",
    "haproxy": "10.0.1.2",
}


@pytest.mark.parametrize("sniffed", [False, True], ids=["format", "sniffed"])
@pytest.mark.parametrize(("format_name", "table", "envelope", "message"), CASES)
def test_a_folded_line_is_its_record_written_n_times(
    tmp_path: Path, format_name: str, table: str, envelope: str, message: str, sniffed: bool
) -> None:
    """Given the format, or sniffed (a file of few pf lines goes to the syslog
    multiplexer, which hands them to the pf parser: the same rows)."""
    log = tmp_path / "input.log"
    log.write_text(
        f"{envelope}{message}\n"
        f"{envelope}message repeated 3 times: [ {message}]\n"
        f"{envelope}message repeated 2 times: [ not a record at all]\n"
    )
    lake = Lake(tmp_path / "lake")
    options = IngestOptions(now=NOW, format="auto" if sniffed else format_name)
    (stats,) = ingest([str(log)], lake, Config(), options).files
    assert stats.format in ((format_name, "syslog") if sniffed else (format_name,))
    assert (stats.lines, stats.parsed, stats.rejected) == (3, 2, 1)
    assert stats.repeated == 2  # the folded line's row, and two more
    stored = lake.read(table).to_pylist()
    assert Counter(r["log_line"] for r in stored) == {1: 1, 2: 3}
    # The record inside the wrapper reads exactly as the line it repeats.
    first, *copies = (
        {k: v for k, v in r.items() if k != "log_line"}
        for r in sorted(stored, key=lambda r: r["log_line"])
    )
    assert copies == [first] * 3
    assert first["source_ip"] == SOURCES[format_name]
