"""The hunt report as one self-contained HTML file (``report.html``).

Self-contained means an analyst can open it from a ticket attachment on an
air-gapped workstation: CSS is inline, charts are inline SVG drawn here (see
charts.py), and there is no JavaScript, web font or remote resource at all.
A Content-Security-Policy ``<meta>`` forbids loading anything, so even a
mistake in escaping could neither run a script nor call out.

Log content is hostile. Jinja2 autoescaping is on for every value, and every
string that came from a log also goes through :func:`reconwatch.report.text.clean`
(the ``clean`` filter) so control characters (ANSI escapes, bidi overrides)
show as ``\\xNN`` and monstrous lines are cut. The charts are the only markup
inserted unescaped (``Markup``), and they escape their own text.

The renderer reads the cases document (``cases.json``), not Case objects, so
the web UI can render the same page from a stored document.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from typing import Any, Final

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

from reconwatch.report.charts import dns_volume_svg, heatmap_svg, safe_text, timeline_svg
from reconwatch.report.series import TOP_HOSTS, TOP_PORTS
from reconwatch.report.text import (
    LISTED,
    RELATED_SHOWN,
    expiry,
    input_format,
    input_notes,
    related_more,
)
from reconwatch.respond.blocklist import BlockPlan

TEMPLATE: Final = "report.html.j2"
SEVERITIES: Final = ("critical", "high", "medium", "low")


def _clean(value: Any, limit: int = 200) -> str:
    """Template filter: log text with control characters shown and length capped.

    ``safe_text`` also replaces lone surrogates, which a stored JSON document can
    hold and which would make writing the page as UTF-8 fail.
    """
    return "" if value is None else safe_text(value, limit)


def _count(stats: Mapping[str, Any], key: str) -> int:
    value = stats.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _input_notes(stats: Mapping[str, Any]) -> list[str]:
    """An input's notes (``ingest.files`` of cases.json), as the console and report.md say them."""
    note = stats.get("note")
    return input_notes(
        first_line=_count(stats, "first_line"),
        lines=_count(stats, "lines"),
        note=str(note) if note else None,
        repeated=_count(stats, "repeated"),
        repeats_cut=_count(stats, "repeats_cut"),
        forwarded=_count(stats, "forwarded"),
        forwarded_unread=_count(stats, "forwarded_unread"),
    )


def _input_format(stats: Mapping[str, Any]) -> str:
    name, note = stats.get("format"), stats.get("note")
    return input_format(str(name) if name else None, str(note) if note else None,
                        _count(stats, "rejected"))  # fmt: skip


def _score(value: Any) -> str:
    """A case's score, whole; "n/a" where a stored or hand-edited document
    holds no finite number (``'%.0f'`` raised on a string, showed "nan"; an
    integer of 400 digits, which JSON allows, is no float: OverflowError)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return "n/a"
    try:
        number = float(value)
    except OverflowError:
        return "n/a"
    return f"{number:.0f}" if math.isfinite(number) else "n/a"


def _environment() -> Environment:
    env = Environment(
        loader=PackageLoader("reconwatch.report", "templates"),
        # Always on, whatever the file name says: the report is HTML and its input hostile.
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["clean"] = _clean
    # The same words as the console and report.md (numbers with thousands separators).
    env.globals["input_notes"] = _input_notes
    env.globals["input_format"] = _input_format
    env.globals["related_more"] = related_more
    env.globals["related_shown"] = RELATED_SHOWN
    env.filters["expiry"] = expiry
    env.filters["score"] = _score
    return env


_ENV: Final = _environment()


def _charts(case_doc: Mapping[str, Any]) -> dict[str, Markup]:
    # The chart functions escape every text they draw; Markup keeps Jinja from
    # escaping the SVG elements themselves.
    return {
        "timeline": Markup(timeline_svg(case_doc)),  # noqa: S704
        "heatmap": Markup(heatmap_svg(case_doc)),  # noqa: S704
        "dns": Markup(dns_volume_svg(case_doc)),  # noqa: S704
    }


def _internal_first(seen: Any) -> Any:
    """An actor's exposure with the DNS answers that gave away an internal
    address first: the page lists the first ``LISTED`` of up to 200 (sorted
    by name in exposure.json), and those are the answers that matter."""
    if not isinstance(seen, Mapping) or not isinstance(seen.get("dns"), list):
        return seen
    leaked = sorted(seen["dns"], key=lambda d: not (isinstance(d, Mapping) and d.get("internal")))
    return {**seen, "dns": leaked}


def _plan_summary(plan: BlockPlan | None) -> dict[str, Any] | None:
    if plan is None:
        return None
    return {
        "entries": [
            {
                "network": str(e.network),
                "cases": list(e.case_ids),
                "severity": e.severity,
                "timeout_seconds": e.timeout_seconds,
                "reason": e.reason,
            }
            for e in plan.entries
        ],
        "refused": [{"address": r.address, "case": r.case_id, "why": r.why} for r in plan.refused],
    }


def render_html(
    document: Mapping[str, Any],
    exposure: Mapping[str, Any] | None = None,
    plan: BlockPlan | None = None,
) -> str:
    """The report page for a cases ``document`` (as in cases.json).

    ``exposure`` is the exposure audit as in exposure.json (per-case services,
    web paths and DNS answers the actors got); ``plan`` the block plan, for the
    summary of proposed and refused entries. Both are optional: the web UI
    renders a stored case document without them.
    """
    cases = [c for c in document.get("cases") or [] if isinstance(c, Mapping)]
    exposure = exposure or {}
    exposure_cases = exposure.get("cases") or {}
    exposure_actors = exposure.get("actors") or {}
    views = []
    for number, case in enumerate(cases, start=1):
        audit = exposure_cases.get(case.get("id")) or {}
        actors = audit.get("actors") or case.get("sources") or []
        views.append(
            {
                "doc": case,
                "anchor": f"case-{number}",
                "charts": _charts(case),
                "exposure": {
                    "services": audit.get("services") or [],
                    "actors": {
                        a: _internal_first(exposure_actors[a])
                        for a in actors
                        if a in exposure_actors
                    },
                },
            }
        )
    summary = document.get("summary") or {}
    return _ENV.get_template(TEMPLATE).render(
        document=document,
        summary=summary,
        severities=SEVERITIES,
        ingest=document.get("ingest"),
        warnings=document.get("warnings") or [],
        cases=views,
        plan=_plan_summary(plan),
        exposure_known=bool(exposure),
        top_hosts=TOP_HOSTS,
        top_ports=TOP_PORTS,
        listed=LISTED,
        rendered_at=dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    )
