"""The terminal's case table: the scope column speaks the terms of the detections' logs."""

from __future__ import annotations

import datetime as dt

import pytest

from reconwatch.cases import Activity, Case, Finding
from reconwatch.report.console import _scope

AT = dt.datetime(2026, 9, 30, 10, tzinfo=dt.UTC)


def finding(detection: str, table: str, events: int = 10) -> Finding:
    return Finding(
        detection=detection, source_ip="198.51.100.7", window_start=AT, first_seen=AT,
        last_seen=AT, event_count=events, target_count=1, port_count=1, targets=[], ports=[],
        score=1.0, label=None, source_table=table,
    )  # fmt: skip


def case(*findings: Finding, **activity: int) -> Case:
    return Case(id="RW-1", sources=["198.51.100.7"], findings=list(findings),
                activity=Activity(**activity))  # type: ignore[arg-type]  # fmt: skip


def test_a_web_scanner_seen_by_the_firewall_too_is_measured_in_paths() -> None:
    scanner = case(
        finding("web_recon", "http"),
        events=40, target_count=1, port_count=2, http_requests=300, http_paths=250,
    )  # fmt: skip
    assert _scope(scanner) == "250 web paths"


def test_findings_in_several_logs_name_each_measure() -> None:
    both = case(
        finding("vertical_scan", "network"), finding("dns_bruteforce", "dns"),
        events=20, target_count=1, port_count=16, dns_queries=90, dns_names=80,
    )  # fmt: skip
    assert _scope(both) == "1 host x 16 ports; 80 DNS names"


def test_other_logs_fall_back_to_what_was_logged() -> None:
    assert _scope(case(finding("ids_scan", "alert"), dns_queries=5, dns_names=4)) == "4 DNS names"
    assert _scope(case(finding("ids_scan", "alert", events=7))) == "7 events"
    assert _scope(case(finding("ids_scan", "alert"), dns_queries=1, dns_names=1)) == "1 DNS name"
    assert _scope(case(finding("ids_scan", "alert", events=1))) == "1 event"


def _campaign_and_web_scanner() -> list[Case]:
    at = dt.datetime(2026, 9, 30, 10, 12, tzinfo=dt.UTC)

    def found(name: str, source: str, table: str = "network") -> Finding:
        return Finding(name, source, None, at, at, 1, 1, 1, [], [], 1.0, None, source_table=table)

    busy = Activity(events=5, target_count=5, port_count=10, dns_queries=60, dns_names=52,
                    http_requests=9, http_paths=8)  # fmt: skip
    return [
        Case("RW-20260930-336be1234", ["2001:db8:ffff:9::/64"],
             [found("vertical_scan", "198.51.100.7"),
              found("web_sensitive_path_probe", "198.51.100.7", "http"),
              found("dns_bruteforce", "198.51.100.7", "dns")],
             busy, severity="critical", escalate=True),
        Case("RW-20260930-ad5da1234", [f"203.0.113.{i}" for i in range(6)],
             [found("distributed_scan", "203.0.113.1")],
             Activity(events=3, target_count=84, port_count=1), severity="low"),
    ]  # fmt: skip


def _table(width: int) -> list[str]:
    from rich.console import Console

    from reconwatch.report.console import print_cases

    console = Console(width=width, record=True)
    print_cases(console, _campaign_and_web_scanner())
    return console.export_text().splitlines()


@pytest.mark.parametrize("width", [80, 90, 100, 119, 120, 160, 240])
def test_the_case_table_always_shows_which_who_tier_2_and_when(width: int) -> None:
    """The case id (the handle of every later command), the source, T2 and the
    time stay whole at any width from 80 columns (a 6-source campaign and
    several logs' scope once squeezed the source to nothing, then the id and
    the time to "…")."""
    lines = _table(width)
    text = "\n".join(lines)
    assert max(len(line) for line in lines) <= width
    for case_id in ("RW-20260930-336be1234", "RW-20260930-ad5da1234"):
        assert case_id in text
    assert "2001:db8:ffff:9::/64" in text and "203.0.113.0 +5 more" in text
    assert "T2 critical" in text and text.count("09-30 10:12") == 2
    assert "(times in UTC)" in lines[0]


def test_the_detections_and_the_scope_come_while_they_fit() -> None:
    header = {
        width: next(line for line in _table(width) if "┃ case" in line) for width in (80, 95, 140)
    }
    assert "detections" not in header[80] and "scope" not in header[80]
    assert "detections" in header[95] and "scope" not in header[95]
    assert "detections" in header[140] and "scope" in header[140]
    cut = "\n".join(_table(95))
    assert "web_sensitive_p…" in cut  # a name cut where the width runs out
    wide = _table(140)
    # One line per log in the scope, beside the detections it came from.
    row = next(i for i, line in enumerate(wide) if "RW-20260930-336be1234" in line)
    scope = [line.split("│")[5].strip() for line in wide[row : row + 3]]
    assert scope == ["5 hosts x 10 ports", "52 DNS names", "8 web paths"]
    names = [line.split("│")[4].strip() for line in wide[row : row + 3]]
    assert names == ["dns_bruteforce", "vertical_scan", "web_sensitive_path_probe"]


# -- the input accounting ---------------------------------------------------------------------


def _accounting(width: int) -> list[str]:
    from rich.console import Console

    from reconwatch.lake import FileStats, RunStats
    from reconwatch.report.console import print_ingest

    base = "/var/log/remote-collectors/site-a/2026/09/30"
    run = RunStats("r1", "2026-09-30T10:00:00Z", [
        FileStats(f"{base}/firewall/kern.log", "netfilter", 1_234_567, 1_234_567),
        FileStats(f"{base}/edge/access.log", "clf", 20, 17, 3,
                  reject_reasons={"not a common log format line": 3}),
        FileStats(f"{base}/bastion/auth.log", "sshd", 5, 5),
    ])  # fmt: skip
    console = Console(width=width, record=True)
    print_ingest(console, run)
    return console.export_text().splitlines()


@pytest.mark.parametrize("width", [76, 80, 90, 100, 120, 160, 240])
def test_the_accounting_keeps_each_path_s_end_its_counts_and_notes(width: int) -> None:
    """At 80 columns Rich cut every path to the same "/var/lo…": the paths
    keep their end (what tells files apart), the counts stay whole, and the
    notes go under the table when they do not fit beside it."""
    lines = _accounting(width)
    text = "\n".join(lines)
    assert max(len(line) for line in lines) <= width
    for end in ("firewall/kern.log", "edge/access.log", "bastion/auth.log"):
        assert end in text
    assert "1234567" in text and "1234592" in text  # the total
    header = "\n".join(lines[: next(i for i, line in enumerate(lines) if "┡" in line)])
    row = next(line for line in lines if "edge/access.log" in line)
    # 57 columns of counts and frame; the notes come beside them with 16
    # columns for themselves and 16 for the path (at 92 columns and more).
    if width >= 92:
        assert "notes" in header and "not a common" in row
    else:
        assert "notes" not in header
        assert row.split("│")[1].strip() + ": not a common log format line (3)" in lines


def test_the_accounting_fits_a_narrow_terminal() -> None:
    """At 66 columns the counts (7 digits here) leave a path 9 cells: its end."""
    lines = _accounting(66)
    assert max(len(line) for line in lines) <= 66
    assert "…kern.log" in "\n".join(lines)


def test_a_path_is_cut_by_terminal_cells_from_the_left() -> None:
    """A CJK character takes two cells: cut by characters, the path was still
    too wide, and Rich cut its end (the file name) instead."""
    from rich.cells import cell_len

    from reconwatch.report.console import _tail

    path = "/srv/ログ/ウェブサーバー/アクセスログ/本番環境/アクセス.log"
    for width in (10, 20, 30):
        cut = _tail(path, width)
        assert cell_len(cut) <= width and cut.startswith("…")
        assert cut.endswith("アクセス.log"[-(width // 3) :])
    assert _tail(path, 200) == path


def test_a_read_error_is_printed_as_it_is() -> None:
    """A remote host names its log file (``/var/log/remote/<host>.log``): an
    emoji code or Rich markup in it must print as written, so the analyst can
    find the file."""
    from rich.console import Console

    from reconwatch.lake import FileStats, RunStats
    from reconwatch.report.console import print_ingest

    name = "/var/log/remote/:pile_of_poo:[bold red]gw[/bold red].log"
    run = RunStats("r1", "2026-09-30T10:00:00Z", [
        FileStats(name, error=f"{name}: read failed after line 3: \x1b[2Jbad gzip"),
    ])  # fmt: skip
    console = Console(width=200, record=True, force_terminal=True)
    print_ingest(console, run)
    text = console.export_text()
    assert f"reconwatch: warning: {name}: read failed after line 3: \\x1b[2Jbad gzip" in text
    assert "\U0001f4a9" not in text
