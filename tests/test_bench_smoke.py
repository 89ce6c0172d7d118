"""The benchmark scripts still run (a tiny size; the figures themselves are not tested)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from conftest import ROOT
from reconwatch.generate.lookalikes import LOOKALIKE_KINDS


def test_netfilter_bench_prints_its_figures() -> None:
    out = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "netfilter_throughput.py"), "--lines", "20000",
         "--scanners", "4"],
        capture_output=True, text=True, timeout=300, check=True,
    )  # fmt: skip
    header, row = [line for line in out.stdout.splitlines() if not line.startswith("#")]
    assert header.split()[:2] == ["lines", "MB"]
    fields = row.split()
    assert fields[0] == "20,000"
    assert int(fields[-1]) == 4  # cases: the four hidden scanners, nothing else


def test_quality_bench_scores_the_labelled_corpus() -> None:
    """bench/quality.py at a small size: its tables, and what they measured.

    Recall is 1.0 for every actor type (a coordinated scan's members in one
    campaign case, a rotating IPv6 scan's in one too, zmap's tool hint, the
    recon chain's cross-log case too),
    no background source gets a case,
    no benign look-alike does (the internal vulnerability scanner gets its
    internal case), and TRW flags every scanner within 5 failed first
    contacts in log order: every target is met, so ``--strict`` exits 0.
    """
    out = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "quality.py"), "--size", "20000", "--markdown",
         "--strict"],
        capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert out.returncode == 0, out.stdout + out.stderr  # --strict: every target met
    text = out.stdout
    kinds = _section(text, "Recall per actor type")
    assert len(kinds) == 28 and {r[3] for r in kinds} == {"1.00"}, kinds
    # Escalated exactly as truth.json says: one actor per type, six campaign
    # members, the rotating IPv6 scan's 40 addresses.
    assert {(r[0], r[1]) for r in kinds if r[1] != "1"} == {
        ("scan_campaign", "6"),
        ("ipv6_rotation", "40"),
    }, kinds
    assert all(r[4] == f"{r[1]}/{r[1]}" for r in kinds), kinds
    links = {r[0]: r[2:] for r in _section(text, "Campaigns, tool hints and cross-log links")}
    assert set(links) == {"recon_chain", "scan_campaign", "zmap_scanner", "ipv6_rotation"}, links
    assert {ok for *_, ok in links.values()} == {"yes"}, links
    lookalikes = {(r[0], r[1]): r[3:] for r in _section(text, "Benign look-alikes")}
    assert {kind for kind, _ in lookalikes} == LOOKALIKE_KINDS and len(lookalikes) == 10
    flagged = {key: got for key, (got, ok) in lookalikes.items() if ok != "yes"}
    assert flagged == {}
    vuln = lookalikes[("internal_vuln_scanner", "10.0.0.30")]
    assert vuln[0].startswith("internal case:") and "trw_scan" in vuln[0]
    assert "cases on background sources or benign controls: 0" in text
    targets = text.split("### Targets", 1)[1]
    assert "all met" in targets and "MISSED" not in targets


def _section(text: str, title: str) -> list[list[str]]:
    """The body rows of the markdown table under ``### title``, as cells."""
    body = text.split(f"### {title}\n", 1)[1].split("\n\n", 1)[0]
    return [[c.strip() for c in line.strip("|").split("|")] for line in body.splitlines()[2:]]


def test_compare_bench_runs_side_by_side() -> None:
    """bench/compare.py at a small size; psad and fail2ban may be absent (CI): "not installed"."""
    out = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "compare.py"), "--lines", "20000", "--scanners", "4",
         "--slow-lines", "2000", "--slow-timeout", "120", "--truth-lines", "20000",
         "--truth-scanners", "4", "--truth-timeout", "120"],
        capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr[-3000:]
    names = ("grep -c", "reconwatch hunt", "psad -A", "fail2ban-regex")
    rows = [line for line in out.stdout.splitlines() if line.startswith("      20,000")]
    tools = {n: line.split(n, 1)[1].split() for line in rows for n in names if f" {n} " in line}
    assert set(tools) == set(names), rows
    hunt = tools["reconwatch hunt"]  # seconds, lines/s, peak MiB, x grep, rw/psad, note
    assert int(hunt[1].replace(",", "")) > 0 and "4 cases" in " ".join(hunt)
    for name in ("psad -A", "fail2ban-regex"):
        fields = tools[name]
        assert fields[:2] == ["not", "installed"] or int(fields[1].replace(",", "")) > 0, fields
    summary = out.stdout.split("sources flagged", 1)[1].splitlines()
    reconwatch = next(line.split() for line in summary if line.startswith("reconwatch"))
    assert reconwatch[1:3] == ["4/4", "0"]  # every scanner, no false alarm
    stages = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "hunt_stages.py"), "--lines", "20000",
         "--scanners", "4"],
        capture_output=True, text=True, timeout=600, check=True,
    )  # fmt: skip
    assert "detect trw_scan" in stages.stdout and "4 cases" in stages.stdout, stages.stdout


def test_scale_bench_prints_its_figures() -> None:
    out = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "scale.py"), "--sizes", "20k", "--engines", "duckdb",
         "--scanners", "4", "--memory-limit", "256MB"],
        capture_output=True, text=True, timeout=300, check=True,
    )  # fmt: skip
    rows = [line.split() for line in out.stdout.splitlines() if not line.startswith("#")]
    assert rows[0][:3] == ["events", "MB", "phase"]
    ingest, hunt = rows[1:]
    assert (ingest[0], ingest[2], hunt[2:4]) == ("20,000", "ingest", ["hunt", "duckdb"])
    assert float(hunt[-2]) > 0  # the tree's peak memory was sampled
    assert int(hunt[-1]) >= 4  # cases: at least the four hidden scanners


def test_scale_curve_is_drawn_from_the_scale_table(tmp_path: Path) -> None:
    """docs/scale-curve.svg is what docs/benchmarks.md's Scale table gives (``--check``),
    and the exponents printed for a table are the slopes of its rows."""
    script = str(ROOT / "bench" / "scale_curve.py")
    check = subprocess.run(
        [sys.executable, script, "--check"], capture_output=True, text=True, timeout=60
    )
    assert check.returncode == 0, check.stdout + check.stderr
    doc = tmp_path / "benchmarks.md"
    doc.write_text(
        "# x\n\n## Scale\n\n"
        "| events | MB of log | phase | seconds | events/s | peak MiB | tree MiB | cases |\n"
        "|---|---|---|---|---|---|---|---|\n"
        "| 1,000,000 | 1 | hunt, A | 10.0 | | 1 | 100 | |\n"
        "| 10,000,000 | 1 | hunt, A | 100.0 | | 1 | 200 | |\n"
        "| 1,000,000 | 1 | hunt, B | 10.0 | | 1 | 100 | |\n"
        "| 10,000,000 | 1 | hunt, B | 1000.0 | | 1 | 300 | |\n"
        "| 50,000,000 | 1 | hunt, B | not yet run | | | | |\n\n## Next\n"
    )
    svg = tmp_path / "curve.svg"
    out = subprocess.run(
        [sys.executable, script, "--doc", str(doc), "--out", str(svg)],
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    rows = {line.split()[1]: line.split() for line in out.stdout.splitlines()[1:-1]}
    assert (rows["A"][2:4], rows["B"][2:4]) == (["2", "1.00"], ["2", "2.00"])
    assert svg.read_text().count("<polyline") == 4  # two phases in two panels


def test_families_bench_hunts_every_file_alone(tmp_path: Path) -> None:
    """bench/families.py on the smallest sample with every family: one row per file,
    its lines are the file's data lines (counted here, not taken from the script), grep's
    floor counted the same lines (no note says otherwise), and every file that holds a
    planted actor's detectable lines gets a case from its hunt alone. auth.log is left
    out of that: its planted actor (the SSH password guesser) is context with no
    detection of its own (truth.json lists the web scan for that address)."""
    from reconwatch.generate import ALL_FAMILIES, generate_sample
    from reconwatch.generate.scenario import min_sample_size

    sample = tmp_path / "sample"
    truth = generate_sample(
        sample, size=min_sample_size(ALL_FAMILIES), seed=3, families=ALL_FAMILIES
    )
    out = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "families.py"), "--sample", str(sample),
         "--work", str(tmp_path), "--markdown"],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert out.returncode == 0, out.stdout + out.stderr[-3000:]
    table = [line for line in out.stdout.splitlines() if line.startswith("|")]
    head, rows = table[0], [[c.strip() for c in r.strip("|").split("|")] for r in table[2:]]
    assert [c.strip() for c in head.strip("|").split("|")][:4] == [
        "family", "file", "format", "lines"
    ]  # fmt: skip
    by_file = {r[1]: r for r in rows}
    files = ["firewall/kern.log", "zeek/conn.log", "dns/query.log", "zeek/dns.log",
             "web/access.log", "ids/eve.json", "auth/auth.log"]  # fmt: skip
    assert sorted(by_file) == sorted(files) and len(rows) == len(files), rows
    detectable = {
        file
        for actor in truth.actors
        if actor.expected_detections
        for file, n in actor.lines.items()
        if n
    } - {"auth/auth.log"}
    assert {"web/access.log", "dns/query.log", "zeek/dns.log", "ids/eve.json"} <= detectable
    for file, row in by_file.items():
        with (sample / file).open() as f:
            data = sum(1 for line in f if not (file.startswith("zeek/") and line.startswith("#")))
        lines, cases, note = int(row[3].replace(",", "")), int(row[10]), row[11]
        assert lines == data > 0, (file, row)
        assert "grep counted" not in note and "rejected" not in note, (file, row)
        assert float(row[6]) > 0 and int(row[7].replace(",", "")) > 0, row  # hunt s, lines/s
        if file in detectable:
            assert cases >= 1, (file, row)


def test_intel_match_bench_matches_the_listed_sources() -> None:
    out = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "intel_match.py"), "--indicators", "2000",
         "--events", "20000", "--sources", "2000"],
        capture_output=True, text=True, timeout=300, check=True,
    )  # fmt: skip
    cells = [re.split(r"\s{2,}", line.strip(), maxsplit=1) for line in out.stdout.splitlines()]
    figures = {cell[0]: cell[1].split() for cell in cells if len(cell) == 2}
    assert figures["indicators"][:3] == ["2,000", "kept", "2,000,"]
    assert figures["events"][0] == "20,000"
    pairs = int(figures["match (distinct)"][1].replace(",", ""))
    hits = int(figures["hits -> events"][1].replace(",", ""))
    assert 0 < pairs <= 2000 and pairs <= hits < 20000  # some sources listed, not all


def test_webui_queue_bench_times_every_view() -> None:
    out = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "webui_queue.py"), "--cases", "50", "--repeat", "2"],
        capture_output=True, text=True, timeout=300, check=True,
    )  # fmt: skip
    lines = out.stdout.splitlines()
    start = next(n for n, line in enumerate(lines) if line.startswith("view"))
    rows = [line.rsplit(None, 3) for line in lines[start + 1 :] if line.strip()]
    assert len(rows) >= 5
    assert rows[0][0].startswith("default") and int(rows[0][3]) == 50  # the first page: every case
    for view, median, worst, _ in rows:
        assert 0 < float(median) <= float(worst), view
