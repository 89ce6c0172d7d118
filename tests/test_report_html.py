"""The self-contained HTML report: complete, loads nothing, and hostile log text stays inert."""

from __future__ import annotations

import copy
import ipaddress
import json
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from reconwatch.config import Config
from reconwatch.hunt import HTML_FILE, hunt
from reconwatch.ingest.run import IngestOptions
from reconwatch.report.html import render_html
from reconwatch.respond.blocklist import BlockEntry, BlockPlan, Refusal
from reconwatch.triage import QUESTIONS

SCRIPT = "<script>alert(1)</script>"
BREAKOUT = '"><img src=x onerror=alert(1)>'
ANSI = "\x1b[31m"
#: Markup, an attribute breakout, an ANSI escape and replacement characters (what
#: invalid UTF-8 in a log becomes), in one string.
HOSTILE = f"{SCRIPT}{BREAKOUT}{ANSI}bad\ufffd\ufffd"
LONG = "A" * 100_000

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source",
        "track", "wbr"}  # fmt: skip
#: Elements that would load or run something.
ACTIVE = {"script", "link", "iframe", "object", "embed", "img", "image", "use", "base", "form",
          "audio", "video", "source", "foreignobject"}  # fmt: skip


class Checker(HTMLParser):
    """Well-formedness (every element closed, in order) and the inert-page rules."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.problems: list[str] = []
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.style = ""
        self.text: list[str] = []

    def _attrs(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        if tag in ACTIVE:
            self.problems.append(f"active element <{tag}>")
        for name, value in attrs:
            if name.startswith("on"):
                self.problems.append(f"event handler {name}= on <{tag}>")
            if name in {"src", "srcset", "data", "action", "xlink:href", "poster"}:
                self.problems.append(f"{name}= on <{tag}>")
            if name == "href" and not (value or "").startswith("#"):
                self.problems.append(f"href={value!r} leaves the page")
            if name == "style" and value and "url(" in value:
                self.problems.append("url( in a style attribute")

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._attrs(tag, attrs)
        if tag not in VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._attrs(tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1] != tag:
            self.problems.append(f"</{tag}> closes <{self.stack[-1] if self.stack else None}>")
            return
        self.stack.pop()

    def handle_data(self, data: str) -> None:
        if self.stack and self.stack[-1] == "style":
            self.style += data
        self.text.append(data)


def check(page: str) -> Checker:
    checker = Checker()
    checker.feed(page)
    checker.close()
    assert checker.problems == []
    assert checker.stack == [], "unclosed elements"
    assert "url(" not in checker.style and "@import" not in checker.style
    assert "@font-face" not in checker.style
    return checker


def hostile_document() -> dict[str, Any]:
    """A cases document whose every log-derived string is hostile."""
    evidence = {
        "file": f"/var/log/{HOSTILE}.log",
        "line": 7,
        "timestamp": "2026-09-30T10:00:01Z",
        "destination_ip": "10.0.0.2",
        "destination_port": 443,
        "table": "http",
        "detail": f"GET www.example.com /{SCRIPT} 404 {BREAKOUT}{ANSI} {LONG}",
    }
    case = {
        "id": "RW-20260930-0badf00d",
        "actor": "198.51.100.7",
        "sources": ["198.51.100.7"],
        "campaign": None,
        "internal": False,
        "techniques": ["T1590.005", "T1595.003"],
        "detections": ["web_wordlist_scan"],
        "first_seen": "2026-09-30T10:00:00Z",
        "last_seen": "2026-09-30T10:05:00Z",
        "severity": "high",
        "score": 60.0,
        "escalate": True,
        "disposition": "malicious",
        "reasons": [f"198.51.100.7 matches indicator 198.51.100.0/24 from feed {HOSTILE}"],
        "criteria": {
            "repeated_scanning": {"met": False, "evidence": ["not met: 1 scan episode(s)"]},
            "internal_enumeration": {"met": None, "evidence": ["not evaluated: no ranges"]},
            "known_threat_actor": {"met": True, "evidence": [f"feed {HOSTILE}"]},
            "compromise": {"met": False, "evidence": ["no successful login"]},
        },
        "answers": dict(
            zip(
                QUESTIONS,
                [
                    f"Yes. It asked for /{SCRIPT} and 300 other paths.",
                    "Yes: feed match.",
                    "Yes. web_wordlist_scan.",
                    f"12 queries for {HOSTILE}.example.com",
                ],
                strict=True,
            )
        ),
        "activity": {
            "events": 15,
            "failed": 15,
            "succeeded": 0,
            "dns_queries": 12,
            "dns_nxdomain": 8,
            "http_requests": 300,
        },
        "findings": [
            {
                "detection": "web_wordlist_scan",
                "description": f"300 paths like /{SCRIPT}",
                "evidence": [evidence],
            },
        ],
        "checklist": [
            {
                "step": "Cross-reference the sources with threat intelligence",
                "status": "done",
                "result": f"1 match ({HOSTILE})",
            },
        ],
        "enrichment": {
            "198.51.100.7": {
                "intel": [
                    {
                        "indicator": "198.51.100.0/24",
                        "feed": f"feed-{HOSTILE}",
                        "actor": f"APT {BREAKOUT}",
                        "confidence": 80,
                    }
                ],
                "benign_lists": [],
                "geo": {
                    "country": f"Nowhere{SCRIPT}",
                    "city": None,
                    "asn": 64500,
                    "as_organization": f"ACME {BREAKOUT}",
                },
            }
        },
        "tier2": {
            "timeline": [{"time": "2026-09-30T10:00:00+00:00", "event": f"scan of /{SCRIPT}"}],
            "related_sources": [],
            "earlier_sightings": [],
            "recommended_actions": ["Correlate with SIEM"],
        },
        "containment": {
            "block": True,
            "entries": ["198.51.100.7/32"],
            "timeout_seconds": 86400,
            "refused": {},
        },
        "series": {
            "bucket_seconds": 60,
            "timeline": [{"t": "2026-09-30T10:00:00Z", "dataset": "http", "events": 300}],
            "heatmap": {"hosts": [f"10.0.0.2{BREAKOUT}"], "ports": [443], "counts": [[15]]},
            "dns": [
                {
                    "client": f"198.51.100.7{SCRIPT}",
                    "t": "2026-09-30T10:00:00Z",
                    "queries": 12,
                    "nxdomain": 8,
                }
            ],
        },
    }
    return {
        "schema": "reconwatch.cases/1",
        "generated_at": "2026-09-30T11:00:00Z",
        "reconwatch_version": "0.1.0",
        "ingest": {
            "run_id": "r1",
            "files": [
                {
                    "name": f"/logs/{HOSTILE}{LONG}",
                    "format": "clf",
                    "lines": 302,
                    "parsed": 300,
                    "rejected": 2,
                    "skipped": 0,
                    "error": None,
                    "reject_reasons": {f"invalid status {SCRIPT}": 2},
                },
            ],
            "totals": {"lines": 302, "parsed": 300, "rejected": 2, "skipped": 0},
        },
        "warnings": [f"enrichment: feed {HOSTILE} could not be read"],
        "summary": {
            "cases": 1,
            "escalated": 1,
            "by_severity": {"critical": 0, "high": 1, "medium": 0, "low": 0},
        },
        "cases": [case],
    }


EXPOSURE = {
    "cases": {
        "RW-20260930-0badf00d": {"actors": ["198.51.100.7"], "services": ["10.0.0.2:443/tcp"]}
    },
    "actors": {
        "198.51.100.7": {
            "services": ["10.0.0.2:443/tcp"],
            "web": [{"host": "www.example.com", "path": f"/{SCRIPT}", "status": 200, "count": 3}],
            "dns": [
                {
                    "name": f"{BREAKOUT}.example.com",
                    "type": "PTR",
                    "answer": "10.1.2.3",
                    "internal": True,
                }
            ],
            "internal_addresses": ["10.1.2.3"],
            "ptr_names": [],
        }
    },
}

PLAN = BlockPlan(
    entries=(
        BlockEntry(
            network=ipaddress.ip_network("198.51.100.7/32"),
            case_ids=("RW-20260930-0badf00d",),
            reason="reconnaissance: web_wordlist_scan",
            severity="high",
            timeout_seconds=86400,
        ),
    ),
    refused=(Refusal(address=HOSTILE, case_id="RW-20260930-0badf00d", why="not an IP address"),),
)


@pytest.fixture(scope="module")
def report_page() -> str:
    return render_html(hostile_document(), EXPOSURE, PLAN)


def test_page_is_well_formed_and_loads_nothing(report_page: str) -> None:
    page = report_page
    checker = check(page)
    tags = [t for t, _ in checker.tags]
    assert tags.count("svg") == 3  # timeline, heat map, DNS volume
    assert "style" in tags and "script" not in tags
    # Defence in depth: the page forbids itself any load, whatever slipped through.
    csp = [a for t, a in checker.tags if t == "meta" and a.get("http-equiv")]
    assert csp and "default-src 'none'" in (csp[0].get("content") or "")


def test_hostile_log_text_is_escaped_and_inert(report_page: str) -> None:
    page = report_page
    assert SCRIPT not in page
    assert "<img" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page  # shown, as text
    assert "\x1b" not in page
    assert "\\x1b[31m" in page  # the escape is visible to the analyst
    assert "\ufffd" in page
    assert "A" * 1000 not in page  # monstrous lines are cut
    assert len(page) < 200_000


def test_summary_has_ingest_accounting_warnings_and_severities(report_page: str) -> None:
    page = report_page
    text = " ".join(check(page).text)
    assert "Input accounting" in text
    assert "invalid status <script>alert(1)</script>: 2" in text  # escaped, read back as text
    assert "feed <script>alert(1)</script>" in text  # the warning
    assert "escalated to Tier 2" in text and "block entries proposed" in text
    assert "not an IP address" in text  # the refused request


def test_case_sections_answer_the_playbook(report_page: str) -> None:
    page = report_page
    text = " ".join(check(page).text)
    document = hostile_document()
    for question in document["cases"][0]["answers"]:
        assert question in text
    assert "known threat actor" in text and "met" in text
    assert ":7" in text and "/var/log/<script>" in text  # evidence file:line
    assert "198.51.100.0/24 (feed feed-<script>alert(1)</script>" in text  # TI match
    assert "10.0.0.2:443/tcp" in text  # exposure
    assert "internal address(es) revealed" in text
    assert "198.51.100.7/32" in text and "1 day (86,400 s)" in text  # proposed block
    assert "Correlate with SIEM" in text  # Tier 2 package
    hrefs = [a["href"] for t, a in check(page).tags if t == "a"]
    sections = {a.get("id") for t, a in check(page).tags if t == "section"}
    assert all(h is not None and h[1:] in sections for h in hrefs)


def test_a_case_without_series_says_so() -> None:
    document = hostile_document()
    del document["cases"][0]["series"]
    page = render_html(document)
    checker = check(page)
    assert [t for t, _ in checker.tags].count("svg") == 0
    assert "No chart data for this case." in " ".join(checker.text)
    assert "No exposure audit given with this report." in " ".join(checker.text)


def test_an_empty_hunt_renders() -> None:
    document = copy.deepcopy(hostile_document())
    document["cases"] = []
    document["ingest"] = None
    text = " ".join(check(render_html(document)).text)
    assert "No reconnaissance found" in text and "existing lake" in text


# -- a real hunt over a hostile log in a hostile file name --------------------------------


def hostile_access_log(folder: Path) -> Path:
    """A web wordlist scan with markup, ANSI escapes and invalid UTF-8 in paths and agents."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"access {BREAKOUT} {ANSI}.log"
    lines = []
    for i in range(40):
        agent = f"{ANSI}{BREAKOUT.replace(chr(34), chr(92) + chr(34))}" + "B" * (i * 100)
        lines.append(
            f"198.51.100.66 - - [30/Sep/2026:10:00:{i:02d} +0000] "
            f'"GET /{SCRIPT}/{i}/\udcff HTTP/1.1" 404 12 "-" "{agent}"'
        )
    data = "\n".join(lines).encode("utf-8", "surrogateescape") + b"\n"
    path.write_bytes(data)
    return path


def test_hunt_writes_report_html(tmp_path: Path) -> None:
    log = hostile_access_log(tmp_path / "logs")
    out = tmp_path / "out"
    result = hunt([str(log)], Config(), out_dir=out, options=IngestOptions())
    assert result.outputs["html"] == out / HTML_FILE
    page = (out / HTML_FILE).read_text(encoding="utf-8")
    assert result.run is not None and result.run.totals.parsed == 40
    (case,) = result.cases
    assert "web_wordlist_scan" in case.detections
    checker = check(page)
    assert case.id in page
    assert SCRIPT not in page and "<img" not in page and "\x1b" not in page
    text = " ".join(checker.text)
    assert 'access "><img src=x onerror=alert(1)> \\x1b[31m.log' in text  # the file name
    assert "/<script>alert(1)</script>/0/\ufffd" in text  # the path, invalid byte replaced
    assert [t for t, _ in checker.tags].count("svg") >= 1  # at least the timeline
    document = json.loads((out / "cases.json").read_text())
    series = document["cases"][0]["series"]
    assert sum(p["events"] for p in series["timeline"]) == 40


@pytest.mark.parametrize(
    "score",
    [
        float("nan"),
        float("inf"),
        "60",
        None,
        # A JSON integer no float holds (OverflowError).
        pytest.param(10**400, id="huge"),
        pytest.param(-(10**400), id="-huge"),
    ],
)
def test_a_score_that_is_no_number_reads_n_a(score: Any) -> None:
    """A stored or hand-edited document: '%.0f' raised on a string and showed "nan"."""
    document = hostile_document()
    document["cases"][0]["score"] = score
    text = " ".join(check(render_html(document)).text)
    assert "(score n/a/100)" in text
    assert "nan" not in text.lower().split() and "inf" not in text.lower().split()
