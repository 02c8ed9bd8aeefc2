"""Turn ProgramReports into the files a stakeholder opens: one self-contained HTML page per
program and an index (inline CSS and SVG, no script, no external request), a Markdown summary
for Slack, Confluence or e-mail, and JSON for whoever wants the figures.

Jinja2 autoescapes every value in HTML: tracker text (names, summaries, reasons) is data, never
markup. In Markdown the characters that Slack and CommonMark read as markup are escaped."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import jinja2
import orjson
from markupsafe import Markup

from pipelines.report import charts
from pipelines.report.data import ProgramReport
from transforms.backtest import Calibration

TEMPLATES = Path(__file__).parent / "templates"
LINE = 160  # longest Markdown line a chat client shows without wrapping into a wall

_env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=jinja2.select_autoescape(enabled_extensions=("html", "html.j2"), default_for_string=True),
                          trim_blocks=True, lstrip_blocks=True, undefined=jinja2.StrictUndefined)

DEFINITIONS = (
    ("Verdict", "Each target (milestone, project, program) gets green, amber, red or unknown per dimension; its "
                "verdict is its worst dimension, and never greener than the worst step on its critical path. "
                "Unknown is never shown as green."),
    ("Progress", "Done items / items in scope, and done points / estimated points; unestimated items are counted "
                 "apart, never as zero points. Discarded items (Won't Do, Duplicate, not planned) leave scope."),
    ("Burn-up", "Scope and done per day, rebuilt from each item's field history, so it exists from the first sync. "
                "An item moved into a milestone is scope added; moved out, discarded or deleted is scope removed."),
    ("Forecast", "Monte Carlo over the last 12 full weeks' throughput (10,000 trials, seeded: a rerun gives the same "
                 "dates). P50/P70/P85/P95: the date by which that share of trials finished; P(on time): the share "
                 "finishing by the due date. In each trial a milestone never finishes before the milestones whose "
                 "items block it. Too little history gives 'insufficient data', never a date."),
    ("Critical path", "From a target, the blocker that finishes last in most trials, followed until nothing waits."),
    ("Dependency risk", "An open blocker is late (past its due date or its milestone's), in the wrong order (due or "
                        "forecast after the work it blocks is due), unscheduled (no date anywhere), stale (no change "
                        "for 14 days) or in a cycle."),
    ("Cycle and lead time", "Cycle: first start to last done; lead: created to last done; in days, P50/P85/P95 over "
                            "the last 90 days (null under 5 items)."),
    ("Milestone slip", "Current due date against the baseline (configured, else the first sync that saw it); "
                       "the trackers keep no history of due dates, so moves are counted between syncs."),
    ("Resource conflict", "A person with work in progress in 3 or more projects, or more than 5 items in progress."),
)


def _date(value: Any, fmt: str = "%Y-%m-%d") -> str:
    return "" if value is None else value.strftime(fmt)


def _pct(value: float | None) -> str:
    return "" if value is None else f"{value:.0%}"


def _md(text: Any) -> str:
    """Markdown- and Slack-safe text: markup characters escaped, & < > as entities (Slack's rule)."""
    s = "" if text is None else re.sub(r"[\r\n]+", " ", str(text))  # a newline would end a table row
    s = s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return re.sub(r"([\\`*_\[\]|~])", r"\\\1", s)


def _cut(text: str, width: int = LINE) -> str:
    return text if len(text) <= width else text[: width - 1].rstrip() + "…"


_env.filters.update(date=_date, pct=_pct, md=_md, cut=_cut)


def _svg(chart) -> Markup | None:
    """Inline SVG from vl-convert (trusted: Vega escapes the text it draws), and its caption
    (escaped here)."""
    if chart is None:
        return None
    drawn = Markup(charts.svg(chart))
    if text := charts.caption(chart):
        drawn += Markup('<figcaption class="note">%s</figcaption>') % text
    return drawn


def program_charts(report: ProgramReport) -> dict[str, Any]:
    """The charts of one program page, keyed by section, as inline SVG: the program's burn-up and
    each program milestone's, the projects' as small multiples, the milestone timeline, the
    dependency graph and the health strip. Runs in a worker process for big reports."""
    forecasts = {(f["level"], f["project_key"], f["milestone_id"]): f for f in report.forecasts}
    groups: dict[tuple, list] = {}
    for point in report.burnup:
        groups.setdefault((point["level"], point["project_key"], point["milestone_id"]), []).append(point)
    names = {t.milestone_id: t.name for t in report.milestones}
    key = ("program", None, None)
    forecast = forecasts.get(key)
    burnups = [_svg(charts.burnup(groups.get(key, ()), forecast, f"{report.name}: burn-up",
                                  forecast["due_date"] if forecast else None))]
    panels = []  # program milestones first, then projects: one faceted chart
    for key in sorted(k for k in groups if k[0] == "milestone"):
        forecast = forecasts.get(key)
        panels.append((names.get(key[2], key[2]), groups[key], forecast, forecast["due_date"] if forecast else None))
    for project in report.projects:
        key = ("project", project.project_key, None)
        forecast = forecasts.get(key)
        panels.append((project.project_key,  # short: every character a panel header shows is measured
                       groups.get(key, ()), forecast, forecast["due_date"] if forecast else None))
    burnups.append(_svg(charts.small_burnups(panels, "Program milestones and projects: burn-up")))
    return {
        "burnups": [b for b in burnups if b is not None],
        "timeline": _svg(charts.timeline(report.slips, report.snapshot.as_of.date(), "Milestones: baseline against current due date")),
        "graph": _svg(charts.dependency_graph(report.dependencies, [t.project_key for t in report.projects],
                                              report.critical_path, "Cross-project dependencies", report.program_id)),
    }


def health_rows(report: ProgramReport) -> list[tuple[str, list[tuple[str, str]]]]:
    """The program's and each project's verdict per recorded day, for the page's health strip:
    HTML cells, not a chart (one chart fewer per program: 60 fewer Vega renders at 100k items)."""
    rows: dict[str, list[tuple[str, str]]] = {}
    for h in report.history:
        name = h["name"] if h["level"] == "program" else f"{h['name']} ({h['project_key']})"
        rows.setdefault(name, []).append((h["day"].isoformat(), h["health"] or "unknown"))
    return list(rows.items())


def html_page(report: ProgramReport, calibration: list[Calibration], drawn: dict[str, Any] | None = None,
              backtest: bool = True) -> str:
    """One program's page; ``drawn``: its program_charts, when drawn elsewhere."""
    return _env.get_template("program.html.j2").render(
        r=report, c=drawn if drawn is not None else program_charts(report), definitions=DEFINITIONS,
        health=health_rows(report), backtest=backtest,
        calibration=[c for c in calibration if c.program_id in (None, report.program_id)],
        colors=charts.VERDICT_COLORS)


def html_index(reports: list[ProgramReport], files: dict[str, str]) -> str:
    return _env.get_template("index.html.j2").render(reports=reports, files=files, colors=charts.VERDICT_COLORS)


def markdown(reports: list[ProgramReport], files: dict[str, str]) -> str:
    return _env.get_template("summary.md.j2").render(reports=reports, files=files)


def as_json(reports: list[ProgramReport], calibration: list[Calibration]) -> bytes:
    """Every section's rows as UTF-8 JSON. orjson writes dataclasses, dates and numpy scalars
    itself: at 100k items (75 MB, mostly the daily burn-ups) it takes 0.3 s where ``json.dumps``
    over ``asdict`` took 10 s."""
    def default(value: Any) -> Any:
        if hasattr(value, "item"):  # numpy scalars orjson does not know, from pandas-backed reads
            return value.item()
        return str(value)  # Decimal and anything else: as text, never an error

    return orjson.dumps({"programs": reports, "calibration": calibration}, default=default,
                        option=orjson.OPT_SERIALIZE_NUMPY)
