"""Hostile log text is made inert before it reaches a terminal or a report."""

from __future__ import annotations

import html
import re
import unicodedata

from hypothesis import given
from hypothesis import strategies as st
from markdown_it import MarkdownIt

from reconwatch.report.text import clean, code_span, markdown


def test_ansi_escape_sequences_are_shown_not_executed() -> None:
    assert clean("evil\x1b[2J\x1b]0;title\x07") == "evil\\x1b[2J\\x1b]0;title\\x07"


def test_newlines_cannot_forge_extra_lines() -> None:
    assert clean("a\nb\rc") == "a\\nb\\x0dc"


def test_long_text_is_cut() -> None:
    assert len(clean("x" * 10_000, limit=50)) == 50


def test_a_cut_never_splits_an_escape() -> None:
    """``\\u20…`` or ``\\x1…`` would read as another character or none: the
    cut goes before the escape."""
    assert clean("aaaaa\u200b" + "b" * 300, limit=8) == "aaaaa…"
    assert clean("aaaaa\x1b" + "b" * 300, limit=8) == "aaaaa…"
    assert clean("aa\n" + "b" * 300, limit=5) == "aa\\n…"
    assert clean("a\U000e0041" + "b" * 300, limit=12) == "a\\U000e0041…"


@given(
    st.text(alphabet=st.sampled_from("ab\n\x1b\x7f\u200b\u202e\U000e0041\u65e5")),
    st.integers(1, 40),
)
def test_a_cut_text_is_the_shown_start_of_its_text(text: str, limit: int) -> None:
    out = clean(text, limit)
    assert len(out) <= limit
    if out.endswith("…") and len(clean(text, 10_000)) > limit:
        starts = {clean(text[:k], 10_000) for k in range(len(text) + 1)}
        assert out[:-1] in starts  # whole escapes only


def test_markdown_and_html_are_escaped() -> None:
    out = markdown('"><img src=x onerror=alert(1)> | `code` [link](http://x)')
    assert "<img" not in out and "&lt;img" in out
    assert "\\|" in out and "\\`" in out and "\\[" in out


def rendered(source: str) -> str:
    """What a CommonMark renderer (markdown-it, Rich's own) makes of ``source``."""
    return MarkdownIt("commonmark").render(source)


def test_a_code_span_shows_a_path_as_it_is() -> None:
    # markdown() inside backticks rendered "demo\\_s5": a code span takes no escapes.
    assert code_span("/tmp/demo_s5/web/access.log:253") == "`/tmp/demo_s5/web/access.log:253`"
    assert rendered(code_span("demo_s5/a*b*.log:3")) == "<p><code>demo_s5/a*b*.log:3</code></p>\n"
    assert code_span("a`b") == "``a`b``"
    assert code_span("`x") == "`` `x ``"
    assert rendered(code_span("") + " `x`") == "<p><code> </code> <code>x</code></p>\n"


@given(st.text(st.characters(codec="utf-8"), min_size=1))
def test_a_code_span_renders_as_exactly_its_text_and_nothing_else(text: str) -> None:
    shown = clean(text, limit=10_000)
    out = rendered("- " + code_span(text, limit=10_000))
    match = re.fullmatch(r"<ul>\n<li><code>(.*)</code></li>\n</ul>\n", out, re.DOTALL)
    assert match is not None, out
    assert "<" not in match.group(1)  # no tag from the text, ever
    # CommonMark turns a code span's line ends into spaces; clean() leaves none.
    assert html.unescape(match.group(1)) == shown


@given(st.text())
def test_clean_never_leaves_control_characters(text: str) -> None:
    out = clean(text, limit=10_000)
    assert not any(unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") for ch in out)


def test_every_format_character_is_shown_not_left_to_hide_text() -> None:
    """Bidi marks, zero-width characters, the BOM, tag characters: each is
    invisible or reorders text ("ad\u200bmin" reads as "admin")."""
    hidden = [chr(c) for c in range(0x110000) if unicodedata.category(chr(c)) in ("Cf", "Cc")]
    out = clean("".join(hidden), limit=10**7)
    assert out.isascii() and out.isprintable()
    assert clean("ad\u200bmin \u202egnp.exe \ufeffx \U000e0041") == (
        "ad\\u200bmin \\u202egnp.exe \\ufeffx \\U000e0041"
    )
    assert clean("caf\u00e9 \u65e5\u672c \U0001f600") == "caf\u00e9 \u65e5\u672c \U0001f600"


def test_durations_read_in_the_largest_whole_unit() -> None:
    from reconwatch.report.text import duration, expiry

    assert [duration(s) for s in (0, 1, 59, 60, 90, 3600, 7200, 86400, 21 * 86400)] == [
        "0 seconds", "1 second", "59 seconds", "1 minute", "90 seconds", "1 hour", "2 hours",
        "1 day", "21 days",
    ]  # fmt: skip
    assert expiry(21 * 86400) == "21 days (1,814,400 s)"
    from reconwatch.report.text import plural

    queries = [plural(n, "DNS query", "DNS queries") for n in (1, 2)]
    assert queries == ["1 DNS query", "2 DNS queries"]
    assert expiry(86400.0) == "1 day (86,400 s)"
    # A hand-edited cases document: no crash of the HTML report.
    assert [expiry(v) for v in (None, "1814400", True, -5, 1.5)] == ["not given"] * 5


def test_the_markdown_report_states_a_block_s_lifetime_in_days() -> None:
    import datetime as dt

    from reconwatch.cases import Activity, Case, Finding
    from reconwatch.report.markdown import render_report

    at = dt.datetime(2026, 9, 30, 10, tzinfo=dt.UTC)
    found = Finding(
        detection="vertical_scan", source_ip="198.51.100.7", window_start=at, first_seen=at,
        last_seen=at, event_count=20, target_count=1, port_count=20, targets=[], ports=[],
        score=1.0, label=None, source_table="network",
    )  # fmt: skip
    case = Case(id="RW-1", sources=["198.51.100.7"], findings=[found], activity=Activity())
    case.containment = {"block": True, "entries": ["198.51.100.7/32"], "timeout_seconds": 1814400}
    report = render_report([case], None, 1, 0)
    assert "block 198.51.100.7/32 for 21 days (1,814,400 s)" in report


def test_urls_and_addresses_from_logs_are_no_autolinks_and_read_the_same() -> None:
    """GFM links http://, www. and e-mail shapes with no Markdown syntax: every
    Markdown output (report.md, exposure.md, TheHive) escapes them."""
    text = (
        "GET http://evil.example/x Host: WWW.evil.example from a@b.example key tcp/22@192.0.2.0/24"
    )
    out = markdown(text, limit=500)
    assert "http://" not in out and "WWW." not in out and "@" not in out.replace("\\@", "")
    shown = html.unescape(re.sub(r"</?p>\n?", "", rendered(out)))
    assert shown == text
