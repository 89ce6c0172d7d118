"""The same events logged in two inputs (kern.log and syslog) are counted once."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pyarrow.compute as pc

from reconwatch.config import Config
from reconwatch.copies import single_input
from reconwatch.engine import Engine
from reconwatch.hunt import hunt
from reconwatch.ingest.run import IngestOptions, ingest
from reconwatch.lake import Lake

OPTIONS = IngestOptions(now=dt.datetime(2026, 11, 28, tzinfo=dt.UTC))
PACKET = (
    "Sep 30 10:00:{second:02d} {host} kernel: [1.{second}] UFW BLOCK IN=eth0 OUT= MAC=00:00 "
    "SRC=198.51.100.7 DST=203.0.113.10 LEN=40 TOS=0x00 PREC=0x00 TTL=50 ID={ident} PROTO=TCP "
    "SPT=40000 DPT={port} WINDOW=1024 RES=0x00 {flags} URGP=0"
)
SSHD = (
    "Sep 30 10:00:{second:02d} fw sshd[7]: Failed password for root from 198.51.100.9 "
    "port 5000{second} ssh2"
)


def packet(second: int, port: int = 22, flags: str = "FIN", host: str = "fw") -> str:
    return PACKET.format(second=second, host=host, ident=second, port=port, flags=flags)


def network_rows(tmp_path: Path, *files: Path, config: Config | None = None) -> int:
    lake = Lake(tmp_path / "lake")
    ingest([str(f) for f in files], lake, config or Config(), OPTIONS)
    engine = Engine(lake)
    try:
        return int(engine.tables()["network"].count().to_pyarrow().as_py())
    finally:
        engine.close()


def test_kern_log_and_syslog_holding_the_same_packets_count_them_once(tmp_path: Path) -> None:
    """Debian's rsyslog writes kernel lines to both; two FIN probes are not four."""
    kern = tmp_path / "kern.log"
    kern.write_text("\n".join(packet(s) for s in (10, 11)) + "\n")
    syslog = tmp_path / "syslog"
    # syslog began earlier (one packet kern.log does not hold) and has sshd lines too.
    syslog.write_text(
        "\n".join([packet(1, 23, "SYN"), packet(10), SSHD.format(second=10), packet(11)]) + "\n"
    )
    found = hunt([str(kern), str(syslog)], Config(), options=OPTIONS)
    assert found.run is not None and found.run.totals.parsed == 6  # every line still parsed
    assert found.cases == []  # two FIN probes (flag_scan needs 3), not four
    # The larger file is kept (syslog here): either way each packet counts once.
    (note,) = [w for w in found.warnings if "copies" in w]
    assert note == (
        f"{kern}: 2 netfilter row(s) are copies of rows in {syslog} "
        "(the same time, host and event): counted once"
    )
    assert network_rows(tmp_path, kern, syslog) == 3  # kern.log's two and syslog's own one


def test_two_firewalls_logging_the_same_packet_are_not_copies(tmp_path: Path) -> None:
    """Another observer saw it too: two events, both kept."""
    edge = tmp_path / "edge.log"
    edge.write_text("\n".join(packet(s, host="edge") for s in (10, 11)) + "\n")
    core = tmp_path / "core.log"
    core.write_text("\n".join(packet(s, host="core") for s in (10, 11)) + "\n")
    assert network_rows(tmp_path, edge, core) == 4


def test_a_file_sharing_a_few_rows_with_another_is_not_a_copy(tmp_path: Path) -> None:
    """Overlapping times, one identical row in a hundred: under the sample's bar."""
    one = tmp_path / "one.log"
    one.write_text("\n".join(packet(s, port=1000 + s) for s in range(50)) + "\n")
    two = tmp_path / "two.log"
    two.write_text(
        "\n".join([packet(0, port=1000)] + [packet(s, port=2000 + s) for s in range(1, 50)]) + "\n"
    )
    assert network_rows(tmp_path, one, two) == 100


def test_a_whole_copy_beside_its_original_counts_once(tmp_path: Path) -> None:
    original = tmp_path / "kern.log"
    original.write_text("\n".join(packet(s, port=s + 1, flags="SYN") for s in range(40)) + "\n")
    backup = tmp_path / "kern.log.bak"
    backup.write_bytes(original.read_bytes())
    third = tmp_path / "ufw.log"
    third.write_bytes(original.read_bytes())
    lake = Lake(tmp_path / "lake")
    ingest([str(original), str(backup), str(third)], lake, Config(), OPTIONS)
    engine = Engine(lake)
    try:
        network = engine.tables()["network"]
        files = pc.unique(network.log_file.to_pyarrow()).to_pylist()
        assert network.count().to_pyarrow().as_py() == 40 and len(files) == 1
        notes = engine.copy_notes()
    finally:
        engine.close()
    assert len(notes) == 2 and all("40 netfilter row(s) are copies" in n for n in notes)


def test_one_input_costs_no_query() -> None:
    folder = "/l/network/event_date=2026-09-30"
    one = [f"{folder}/20261205T083637207551-54a286b3-00000-0000{n}-0.parquet" for n in range(3)]
    assert single_input(one)
    assert not single_input([*one, one[0].replace("-00000-00000-", "-00001-00000-")])
    assert not single_input([*one, f"{folder}/compacted-1.parquet"])


def test_a_copy_that_began_earlier_is_sampled_where_both_files_have_rows(
    tmp_path: Path, monkeypatch: Any
) -> None:
    """syslog kept lines from before kern.log began: its first rows have no twin."""
    import reconwatch.copies

    monkeypatch.setattr(reconwatch.copies, "SAMPLE_ROWS", 5)
    early = [packet(s, port=100 + s, flags="SYN") for s in range(10)]
    shared = [packet(s, port=200 + s, flags="SYN") for s in range(10, 30)]
    later = [packet(s, port=300 + s, flags="SYN") for s in range(30, 45)]
    kern = tmp_path / "kern.log"
    kern.write_text("\n".join(shared + later) + "\n")  # 35 rows, the larger
    syslog = tmp_path / "syslog"
    syslog.write_text("\n".join(early + shared) + "\n")  # 30 rows, the first 10 its own
    assert network_rows(tmp_path, kern, syslog) == 45


ACCESS = (
    '198.51.100.{client} - - [30/Sep/2026:10:00:{second:02d} +0000] "GET /{path} HTTP/1.1" '
    '404 153 "-" "curl/8.0"'
)


def access(second: int, path: str = "x", client: int = 7) -> str:
    return ACCESS.format(second=second, path=path, client=client)


def http_rows(tmp_path: Path, *files: Path) -> int:
    lake = Lake(tmp_path / "lake")
    ingest([str(f) for f in files], lake, Config(), OPTIONS)
    engine = Engine(lake)
    try:
        return int(engine.tables()["http"].count().to_pyarrow().as_py())
    finally:
        engine.close()


def test_an_access_log_and_its_copy_through_syslog_count_once(tmp_path: Path) -> None:
    """nginx's ``access_log`` to a file and to ``syslog:`` (or Apache's to a
    file and through ``logger``): two datasets, the file naming no host and
    the copy its relay, the same requests."""
    log = tmp_path / "access.log"
    log.write_text("\n".join(access(s, f"p{s}") for s in range(20)) + "\n")
    relayed = tmp_path / "messages"
    relayed.write_text(
        "\n".join(f"Sep 30 10:00:{s:02d} web1 nginx: {access(s, f'p{s}')}" for s in range(20))
        + "\n"
    )
    assert http_rows(tmp_path, log, relayed) == 20
    apache = tmp_path / "apache"
    apache.write_text(
        "\n".join(f"Sep 30 10:00:{s:02d} web1 apache2: {access(s, f'p{s}')}" for s in range(20))
        + "\n"
    )
    assert http_rows(tmp_path / "two", log, apache) == 20


def test_another_server_s_relayed_requests_are_not_copies(tmp_path: Path) -> None:
    log = tmp_path / "access.log"
    log.write_text("\n".join(access(s, f"p{s}") for s in range(20)) + "\n")
    other = tmp_path / "messages"
    other.write_text(
        "\n".join(
            f"Sep 30 10:00:{s:02d} web2 apache2: {access(s, f'p{s}', client=8)}" for s in range(20)
        )
        + "\n"
    )
    assert http_rows(tmp_path, log, other) == 40


def test_another_server_answering_the_same_scanner_alike_is_not_a_copy(tmp_path: Path) -> None:
    """The access file names no host, so a relayed copy from any host could
    match it: a scanner's identical requests to two servers, each with its
    own users' requests beside them, are two servers' rows (all kept)."""
    scan = [access(s, f"p{s}") for s in range(20)]
    log = tmp_path / "access.log"
    log.write_text("\n".join([*scan, *(access(s, "home", client=20 + s) for s in range(5))]) + "\n")
    other = tmp_path / "messages"
    other.write_text(
        "\n".join(
            f"Sep 30 10:00:{line[line.index(':10:00:') + 7 : line.index(':10:00:') + 9]} "
            f"web2 apache2: {line}"
            for line in [*scan, *(access(s, "shop", client=40 + s) for s in range(5))]
        )
        + "\n"
    )
    assert http_rows(tmp_path, log, other) == 50
