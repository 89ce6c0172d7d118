"""Making untrusted text safe to show in a terminal or a Markdown file.

Log content is hostile: an ANSI escape sequence in a file name or a rejected
line could rewrite the analyst's terminal, and Markdown/HTML in it could
inject content into a report. Everything from a log passes through here.
"""

from __future__ import annotations

import re
from typing import Final

#: Timeline entries, findings and addresses a report lists per case at most (a
#: rotating IPv6 scanner's case has one of each per address; cases.json has them all).
LISTED: Final = 50

#: Control characters, line and paragraph separators, and every Unicode
#: format character (category Cf, Unicode 14): bidirectional marks and
#: overrides, zero-width spaces and joiners, the byte order mark, soft hyphens,
#: tag characters. Each can hide or reorder what an analyst reads ("ad\u200bmin"
#: looks like "admin"; U+202E turns the text after it around).
_CONTROL = re.compile(
    "[\x00-\x1f\x7f-\x9f\u2028\u2029\xad\u0600-\u0605\u061c\u06dd\u070f\u0890\u0891"
    "\u08e2\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u206f\ufeff\ufff9-\ufffb"
    "\U000110bd\U000110cd\U00013430-\U0001343f\U0001bca0-\U0001bca3\U0001d173-\U0001d17a"
    "\U000e0001\U000e0020-\U000e007f]"
)
_MARKDOWN = re.compile(r"([\\`*_{}\[\]#|~])")


def clean(text: str, limit: int = 200) -> str:
    """Control and format characters shown as Python writes them (``\\x1b``,
    ``\\u202e``, ``\\U000e0041``), newlines as ``\\n``, cut to ``limit`` characters.

    The cut never falls inside such an escape (``\\u20…`` would read as
    something else): it goes before the escape.
    """
    shown = _CONTROL.sub(_escaped, text)
    if len(shown) <= limit:
        return shown
    cut, at, read = limit - 1, 0, 0
    for match in _CONTROL.finditer(text):
        at += match.start() - read  # the text shown as it is before this one
        if at >= cut:
            break
        width = len(_escaped(match))
        if at + width > cut:
            cut = at
            break
        at, read = at + width, match.end()
    return shown[:cut] + "…"


def _escaped(match: re.Match[str]) -> str:
    code = ord(match.group())
    if code == 0x0A:
        return "\\n"
    if code <= 0xFF:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


#: What a GFM renderer turns into a link with no Markdown syntax at all (its
#: autolink extension; marked.js finds them inside words too): ``http://``,
#: ``https://``, ``ftp://`` and ``www.``; and anything shaped like an e-mail
#: address (``mailto:``, ``xmpp:`` too), which needs an ``@``.
_AUTOLINK = re.compile(r"(?i)(https?|ftp)(:)(?=//)|(www)(\.)")


def markdown(text: str, limit: int = 200) -> str:
    r"""``clean`` plus escaping of every Markdown/HTML metacharacter, and no
    autolink: a URL, ``www.`` name or e-mail address from a log (a Host
    header, a feed's actor name; a sweep's key ``tcp/22@198.51.100.0/24``
    reads as the address ``22@198.51.100.0``) is shown as text, not as a link
    for the analyst to click in report.md, exposure.md or TheHive. ``\:``,
    ``\.`` and ``\@`` are Markdown escapes: the text reads the same."""
    text = clean(text, limit).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    text = _MARKDOWN.sub(r"\\\1", text)
    text = _AUTOLINK.sub(lambda m: f"{m[1] or m[3]}\\{m[2] or m[4]}", text)
    return text.replace("@", "\\@")


def code_span(text: str, limit: int = 200) -> str:
    """``clean`` text as a Markdown code span, shown as it is.

    A code span takes no backslash escapes (``markdown()`` inside one showed
    ``demo\\_s5`` for ``demo_s5``): it is fenced by one backtick more than the
    longest run inside, padded with a space where the text starts or ends
    with a backtick or with spaces at both ends (CommonMark strips one of
    each). Its ``<``, ``>`` and ``&`` are text: a code span opened first
    takes precedence over any tag inside it.
    """
    text = clean(text, limit) or " "  # two bare backticks are no code span
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    padded = (
        text.startswith("`")
        or text.endswith("`")
        or (text.startswith(" ") and text.endswith(" ") and text.strip() != "")
    )
    pad = " " if padded else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def repeat_note(repeated: int, cut: int) -> str:
    """What repeated-message lines added to an input's events (and what their caps cut)."""
    note = f"{repeated:,} more events in repeated-message lines"
    return note + (f" ({cut:,} beyond the repeat caps not written)" if cut else "")


def forwarded_note(forwarded: int) -> str:
    """How many rows (requests, not distinct clients) of an input took their
    client from X-Forwarded-For (``ingest.forwarded``)."""
    return f"clients of {forwarded:,} requests read from X-Forwarded-For behind trusted proxies"


def unread_note(unread: int) -> str:
    """How many rows from a trusted proxy had an X-Forwarded-For that named no
    client: a log format that puts something else there shows so."""
    return f"{unread:,} requests from trusted proxies with no client in X-Forwarded-For"


def accounting_notes(
    repeated: int, repeats_cut: int, forwarded: int, forwarded_unread: int = 0
) -> list[str]:
    """What an input's accounting row says beyond its counts, in every report
    alike: the events repeated-message lines added, the clients read from
    X-Forwarded-For and the headers from trusted proxies that named none."""
    notes = [repeat_note(repeated, repeats_cut)] if repeated or repeats_cut else []
    notes += [forwarded_note(forwarded)] if forwarded else []
    return notes + ([unread_note(forwarded_unread)] if forwarded_unread else [])


def input_notes(
    *,
    first_line: int,
    lines: int,
    note: str | None,
    repeated: int,
    repeats_cut: int,
    forwarded: int,
    forwarded_unread: int,
) -> list[str]:
    """What an input's accounting row says beyond its counts, in every report
    alike: where reading began (a later run reads a grown file on), the
    input's note (why it was not read, "already in the lake"; what its
    parsers noted on it), then ``accounting_notes``. The note is log-derived:
    clean it for the medium."""
    said = [f"read on from line {first_line:,}"] if first_line > 1 and lines else []
    said += [note] if note else []
    return said + accounting_notes(repeated, repeats_cut, forwarded, forwarded_unread)


def input_format(name: str | None, note: str | None, rejected: int) -> str:
    """An input's format column: "unrecognised" only where lines were turned
    away for want of one; "-" where there was nothing to recognise (an input
    not read, with its note saying why, or one with no line to reject)."""
    if name:
        return name
    return "-" if note or rejected == 0 else "unrecognised"


#: Related sources (same /24 or /64, ASN or campaign) a report names of a Tier 2 package.
RELATED_SHOWN: Final = 20


def related_more(named: int, total: object) -> str:
    """What follows the first ``RELATED_SHOWN`` related sources of ``named``
    in cases.json: how many more there are of ``total`` (its ``related_total``:
    cases.json names at most 100), or "" when the report named them all."""
    if not isinstance(total, int) or isinstance(total, bool) or total < named:
        total = named
    shown = min(named, RELATED_SHOWN)
    if total <= shown:
        return ""
    where = "cases.json names them" if total == named else f"cases.json names the first {named:,}"
    return f" and {total - shown:,} more ({total:,} in all; {where})"


def plural(count: int, word: str, many: str | None = None) -> str:
    """``1 day``, ``2 days``, ``1,000 clients``; ``many`` where ``s`` does not
    make the plural (``plural(2, "DNS query", "DNS queries")``)."""
    if count == 1:
        return f"{count:,} {word}"
    return f"{count:,} {many or word + 's'}"


def duration(seconds: int) -> str:
    """A whole number of days, hours, minutes or else seconds: ``21 days``, ``90 seconds``."""
    if seconds and seconds % 86400 == 0:
        return plural(seconds // 86400, "day")
    if seconds and seconds % 3600 == 0:
        return plural(seconds // 3600, "hour")
    if seconds and seconds % 60 == 0:
        return plural(seconds // 60, "minute")
    return plural(seconds, "second")


def expiry(seconds: object) -> str:
    """A block's lifetime for a report: ``21 days (1,814,400 s)``; "not given"
    where a (hand-edited) cases document holds no whole number of seconds."""
    if isinstance(seconds, float) and seconds.is_integer():
        seconds = int(seconds)
    if not isinstance(seconds, int) or isinstance(seconds, bool) or seconds < 0:
        return "not given"
    return f"{duration(seconds)} ({seconds:,} s)"
