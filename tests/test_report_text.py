"""Hostile log text is made inert before it reaches a terminal or a report."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from reconwatch.report.text import clean, markdown


def test_ansi_escape_sequences_are_shown_not_executed() -> None:
    assert clean("evil\x1b[2J\x1b]0;title\x07") == "evil\\x1b[2J\\x1b]0;title\\x07"


def test_newlines_cannot_forge_extra_lines() -> None:
    assert clean("a\nb\rc") == "a\\nb\\x0dc"


def test_long_text_is_cut() -> None:
    assert len(clean("x" * 10_000, limit=50)) == 50


def test_markdown_and_html_are_escaped() -> None:
    out = markdown('"><img src=x onerror=alert(1)> | `code` [link](http://x)')
    assert "<img" not in out and "&lt;img" in out
    assert "\\|" in out and "\\`" in out and "\\[" in out


@given(st.text())
def test_clean_never_leaves_control_characters(text: str) -> None:
    out = clean(text, limit=10_000)
    assert not any(ord(ch) < 0x20 or 0x7F <= ord(ch) <= 0x9F for ch in out)
