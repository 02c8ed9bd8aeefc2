"""The report's charts: Vega-Lite specifications rendered to SVG by vl-convert, which carries its
own Vega engine, so a chart needs no browser, no JavaScript and no network, and the HTML stays one
self-contained file. Text in an SVG is escaped by Vega's renderer.

The specs are plain Vega-Lite (https://vega.github.io/vega-lite/docs/), written as dicts: altair
would build the same JSON, but its objects cost 0.9 s of the demo's 3.7 s report (import, schema
wrappers, DataFrame handling), and the demo's report must take under 3 s.

Every chart has a title; an empty section draws no chart (the page says why instead)."""

from __future__ import annotations

import functools
import os
import tempfile
import threading
from collections.abc import Iterable, Mapping, Sequence
from datetime import date
from pathlib import Path
from typing import Any

import vl_convert as vlc

Spec = dict[str, Any]

VERDICT_COLORS = {"red": "#c62828", "amber": "#ef8f00", "green": "#2e7d32", "unknown": "#8a8a8a"}
_VERDICT_SCALE = {"domain": list(VERDICT_COLORS), "range": list(VERDICT_COLORS.values())}
FAN = (("p50_date", "P50", 0.9), ("p70_date", "P70", 0.7), ("p85_date", "P85", 0.5), ("p95_date", "P95", 0.3))
WIDTH = 560
SCHEMA = "https://vega.github.io/schema/vega-lite/v5.json"  # an identifier: vl-convert fetches nothing


def svg(spec: Spec) -> str:
    """The chart as an inline <svg> element."""
    _fonts_in_memory()
    return vlc.vegalite_to_svg(spec)


_FONTS = threading.Lock()


@functools.cache
def _fonts_in_memory() -> None:
    """Start vl-convert's font database with its own embedded Liberation Sans only.

    Vega measures every character of every label, and vl-convert resolves Liberation Sans to the
    system's copy when there is one (Debian's fonts-liberation, which Chromium pulls in): a file it
    opens, maps and parses again for each measurement, some 4,000 times per faceted chart. Its
    embedded copy of the same font is held in memory. The font database is built once per process,
    from the fontconfig file that ``FONTCONFIG_FILE`` names, so it is built here from a fontconfig
    listing one empty folder; the variable is put back at once, for any process started later.
    Measured at 100k items: a third less chart time, the SVG byte for byte the same. Text in
    scripts Liberation Sans lacks is still written into the SVG (the browser draws it), only
    measured with a fallback width."""
    with _FONTS, tempfile.TemporaryDirectory() as empty:  # one first call at a time
        conf = Path(empty) / "fonts.conf"
        conf.write_text(f'<?xml version="1.0"?><fontconfig><dir>{empty}</dir></fontconfig>', encoding="utf-8")
        before = os.environ.get("FONTCONFIG_FILE")
        os.environ["FONTCONFIG_FILE"] = str(conf)
        try:
            vlc.vegalite_to_svg({"$schema": SCHEMA, "data": {"values": [{"t": "Aa"}]}, "mark": "text",
                                 "encoding": {"text": {"field": "t"}}})
        finally:
            if before is None:
                os.environ.pop("FONTCONFIG_FILE", None)
            else:
                os.environ["FONTCONFIG_FILE"] = before


def _chart(title: str, subtitle: str | None, height: int, layers: list[Spec]) -> Spec:
    spec = {"$schema": SCHEMA, "width": WIDTH, "height": height, "title": {"text": title, "anchor": "start"},
            "layer": layers}
    return _captioned(spec, subtitle)


def _captioned(spec: Spec, caption: str | None) -> Spec:
    """The chart's explanation goes under it as HTML (``usermeta.caption``, which Vega ignores), not
    into the SVG as a subtitle: vl-convert reloads the font file for every character it measures,
    and a sentence of subtitle cost a fifth of a chart's time."""
    if caption:
        spec["usermeta"] = {"caption": caption}
    return spec


def caption(spec: Spec) -> str | None:
    return spec.get("usermeta", {}).get("caption")


def _values(rows: list[dict]) -> Spec:
    return {"values": rows}


def _iso(day: Any) -> str:
    return day.isoformat()[:10]


# Vega measures every label it draws (vl-convert: about 1-3 ms each, most of a chart's time), so
# axes carry a few well-spaced dates rather than one per week or month.
_FEW_DATES = {"tickCount": 6}

DAILY_DAYS = 120  # a longer burn-up is drawn weekly, but for its last 4 weeks
# A small multiple is 170 px wide over the program's whole calendar: under 2 px a week, so it is
# drawn weekly from 5 weeks of history on (Vega's time follows the points it draws).
SMALL_DAILY_DAYS = 35


def thin(points: Sequence[Mapping[str, Any]], daily_days: int = DAILY_DAYS,
         recent_days: int = 28) -> Sequence[Mapping[str, Any]]:
    """A burn-up's points for drawing. One longer than ``daily_days`` keeps every 7th day counted
    back from the last, and every day of the last ``recent_days`` (the step lines keep their shape;
    a year of days costs Vega twice the time for nothing the eye sees). Then a day whose scope and
    done equal the day before's is dropped, the last day kept: a step line through the rest is the
    same line. The daily figures are in marts.burnup and report.json."""
    n = len(points)
    if n > daily_days:
        points = [p for i, p in enumerate(points) if i >= n - recent_days or (n - 1 - i) % 7 == 0]
    kept = [p for i, p in enumerate(points)
            if i == 0 or i == len(points) - 1
            or (p["scope_items"], p["done_items"]) != (points[i - 1]["scope_items"], points[i - 1]["done_items"])]
    return kept


def burnup(points: Sequence[Mapping[str, Any]], forecast: Mapping[str, Any] | None, title: str,
           due: date | None = None) -> Spec | None:
    """Scope and done items per day, the due date, and the forecast fan: from today's done count
    to the whole scope at the P50, P70, P85 and P95 dates (METRICS.md "Burn-up", "Forecast")."""
    if not points:
        return None
    thinned = len(points) > DAILY_DAYS
    points = thin(points)
    lines = [{"day": _iso(p["day"]), "line": line, "items": int(p[column])}
             for p in points for line, column in (("scope", "scope_items"), ("done", "done_items"))]
    layers: list[Spec] = [{
        "data": _values(lines), "mark": {"type": "line", "interpolate": "step-after"},
        "encoding": {
            "x": {"field": "day", "type": "temporal", "title": None, "axis": _FEW_DATES},
            "y": {"field": "items", "type": "quantitative", "title": "items", "axis": {"tickCount": 5}},
            "color": {"field": "line", "type": "nominal", "title": None,
                      "scale": {"domain": ["scope", "done", "forecast"], "range": ["#5c6bc0", "#2e7d32", "#6d4c41"]}},
            "strokeDash": {"field": "line", "type": "nominal", "legend": None,
                           "scale": {"domain": ["scope", "done"], "range": [[5, 3], [1, 0]]}}}}]
    subtitle = None
    last = points[-1]
    if forecast and forecast.get("status") == "forecast" and forecast.get("p50_date"):
        fan = []
        for column, label, opacity in FAN:
            if forecast.get(column):
                fan += [{"fan": label, "day": _iso(last["day"]), "items": int(last["done_items"]), "opacity": opacity},
                        {"fan": label, "day": _iso(forecast[column]), "items": int(last["scope_items"]),
                         "opacity": opacity, "end": label in ("P50", "P95")}]
        layers.append({"data": _values(fan), "mark": {"type": "line", "color": "#6d4c41"}, "encoding": {
            "x": {"field": "day", "type": "temporal"}, "y": {"field": "items", "type": "quantitative"},
            "detail": {"field": "fan", "type": "nominal"},
            "opacity": {"field": "opacity", "type": "quantitative", "legend": None, "scale": None}}})
        layers.append({"data": _values([f for f in fan if f.get("end")]),
                       "mark": {"type": "text", "align": "left", "dx": 3, "fontSize": 9, "color": "#6d4c41"},
                       "encoding": {"x": {"field": "day", "type": "temporal"},
                                    "y": {"field": "items", "type": "quantitative"},
                                    "text": {"field": "fan", "type": "nominal"}}})
        subtitle = (f"Forecast P50 {forecast['p50_date']:%Y-%m-%d}, P85 {forecast['p85_date']:%Y-%m-%d}"
                    + (f", {forecast['p_on_time']:.0%} chance by the due date" if forecast.get("p_on_time") is not None else ""))
    elif forecast:
        subtitle = f"Forecast: {forecast.get('status') or 'none'}" + (f" ({forecast['note']})" if forecast.get("note") else "")
    if thinned:
        subtitle = (subtitle + "; " if subtitle else "") + "weekly points before the last 4 weeks"
    if due:
        mark = _values([{"day": _iso(due), "label": "due"}])
        layers.append({"data": mark, "mark": {"type": "rule", "color": "#c62828", "strokeDash": [2, 2]},
                       "encoding": {"x": {"field": "day", "type": "temporal"}}})
        layers.append({"data": mark, "mark": {"type": "text", "align": "left", "dx": 3, "dy": -4, "baseline": "top",
                                              "color": "#c62828", "fontSize": 9},
                       "encoding": {"x": {"field": "day", "type": "temporal"}, "y": {"value": 0},
                                    "text": {"field": "label", "type": "nominal"}}})
    return _chart(title, subtitle, 220, layers)


def small_burnups(panels: Sequence[tuple[str, Sequence[Mapping[str, Any]], Mapping[str, Any] | None, date | None]],
                  title: str) -> Spec | None:
    """Many burn-ups as small multiples in one faceted chart (a program's projects): scope, done,
    the forecast fan and the due date per panel, each panel on its own scales. One chart, not one
    per project: vl-convert draws a facet of 9 in a quarter of the time of 9 charts."""
    data: list[dict] = []
    for name, points, forecast, due in panels:
        if not points:
            continue
        points = thin(points, daily_days=SMALL_DAILY_DAYS, recent_days=0)
        data += [{"panel": name, "kind": "line", "day": _iso(p["day"]), "line": line, "items": int(p[column])}
                 for p in points for line, column in (("scope", "scope_items"), ("done", "done_items"))]
        last = points[-1]
        if forecast and forecast.get("status") == "forecast":
            for column, label, opacity in FAN:
                if forecast.get(column):
                    data += [{"panel": name, "kind": "fan", "fan": label, "day": _iso(last["day"]),
                              "items": int(last["done_items"]), "opacity": opacity},
                             {"panel": name, "kind": "fan", "fan": label, "day": _iso(forecast[column]),
                              "items": int(last["scope_items"]), "opacity": opacity}]
        if due:
            data.append({"panel": name, "kind": "due", "day": _iso(due)})
    if not data:
        return None
    x = {"field": "day", "type": "temporal", "title": None, "axis": {"labelFontSize": 8, "tickCount": 3}}
    y = {"field": "items", "type": "quantitative", "title": None, "axis": {"tickCount": 3}}

    def only(kind: str) -> list[Spec]:
        return [{"filter": f"datum.kind === '{kind}'"}]

    return _captioned({"$schema": SCHEMA, "title": {"text": title, "anchor": "start"},
            "data": _values(data), "columns": 3,
            "facet": {"field": "panel", "type": "nominal", "title": None, "sort": None,
                      "header": {"labelFontWeight": "bold", "labelAnchor": "start", "labelFontSize": 11}},
            "spec": {"width": 170, "height": 110, "layer": [
                {"transform": only("line"), "mark": {"type": "line", "interpolate": "step-after"},
                 "encoding": {"x": x, "y": y,
                              "color": {"field": "line", "type": "nominal", "title": None,
                                        "scale": {"domain": ["scope", "done"], "range": ["#5c6bc0", "#2e7d32"]}},
                              "strokeDash": {"field": "line", "type": "nominal", "legend": None,
                                             "scale": {"domain": ["scope", "done"], "range": [[5, 3], [1, 0]]}}}},
                {"transform": only("fan"), "mark": {"type": "line", "color": "#6d4c41"},
                 "encoding": {"x": x, "y": y, "detail": {"field": "fan", "type": "nominal"},
                              "opacity": {"field": "opacity", "type": "quantitative", "legend": None, "scale": None}}},
                {"transform": only("due"), "mark": {"type": "rule", "color": "#c62828", "strokeDash": [2, 2]},
                 "encoding": {"x": x}}]},
            "resolve": {"scale": {"x": "shared", "y": "independent"}}},
        "Scope (dashed), done, forecast fan P50-P95 and due date (red) per program milestone and project, "
        "on one calendar; weekly points from 5 weeks of history on.")


def timeline(slips: Sequence[Mapping[str, Any]], as_of: date, title: str) -> Spec | None:
    """Each open milestone's baseline due date (hollow) and current due date (filled), joined:
    a line to the right is a slip (METRICS.md "Milestone slip")."""
    rows = [{
        "milestone": (f"{s['project_key']}: " if s.get("project_key") else "") + str(s["name"]),
        "baseline": _iso(s["baseline_due_date"] or s["due_date"]), "current": _iso(s["due_date"]),
        "slip_days": int(s["slip_days"] or 0), "moves": int(s["due_date_moves"] or 0),
        "slipped": "slipped" if (s["slip_days"] or 0) > 0 else "pulled in" if (s["slip_days"] or 0) < 0 else "on baseline",
    } for s in slips if s.get("due_date")]
    if not rows:
        return None
    y = {"field": "milestone", "type": "nominal", "sort": None, "title": None}
    data = _values(rows)
    return _chart(title, "hollow: baseline due date; filled: current; dashed line: today", max(60, 22 * len(rows)), [
        {"data": data, "mark": {"type": "rule", "strokeWidth": 2, "color": "#9e9e9e"},
         "encoding": {"y": y, "x": {"field": "baseline", "type": "temporal", "title": None, "axis": _FEW_DATES},
                      "x2": {"field": "current"}}},
        {"data": data, "mark": {"type": "point", "filled": False, "size": 60, "color": "#424242"},
         "encoding": {"y": y, "x": {"field": "baseline", "type": "temporal"}}},
        {"data": data, "mark": {"type": "point", "filled": True, "size": 70},
         "encoding": {"y": y, "x": {"field": "current", "type": "temporal"},
                      "color": {"field": "slipped", "type": "nominal", "title": None,
                                "scale": {"domain": ["slipped", "on baseline", "pulled in"],
                                          "range": ["#c62828", "#2e7d32", "#1565c0"]}},
                      "tooltip": [{"field": "milestone"}, {"field": "slip_days"}, {"field": "moves"}]}},
        {"data": _values([{"day": _iso(as_of)}]), "mark": {"type": "rule", "color": "#616161", "strokeDash": [4, 2]},
         "encoding": {"x": {"field": "day", "type": "temporal"}}},
    ])


def dependency_graph(dependencies: Sequence[Mapping[str, Any]], projects: Iterable[str],
                     critical: Sequence[Mapping[str, Any]], title: str, program_id: str | None = None) -> Spec | None:
    """Projects as nodes in layers (a blocker left of what it blocks), one edge per pair of
    projects with open cross-project dependencies, coloured by its worst risk: late, wrong
    order, unscheduled, stale or in a cycle (red or amber), else green; the critical path's
    projects are dark and its edges drawn thick."""
    edges: dict[tuple[str, str], dict[str, Any]] = {}
    for d in dependencies:
        if d["reach"] == "in_project":
            continue
        key = (d["blocker_project_key"] or "(not synced)", d["blocked_project_key"])
        e = edges.setdefault(key, {"links": 0, "late": 0, "wrong_order": 0, "unscheduled": 0, "risk": "green"})
        e["links"] += 1
        e["late"] += bool(d["is_late"])
        e["wrong_order"] += bool(d["is_wrong_order"])
        e["unscheduled"] += bool(d["is_unscheduled"])
        if _worse(d["risk"], e["risk"]):
            e["risk"] = d["risk"]
    if not edges:
        return None
    nodes = list(dict.fromkeys([*projects, *(k for pair in edges for k in pair)]))
    layer = _layers(nodes, list(edges))
    on_path = [s["step_project_key"] for s in critical if s.get("step_project_key")]
    path_edges = set(zip(on_path, on_path[1:])) | set(zip(on_path[1:], on_path))
    per_layer: dict[int, list[str]] = {}
    for n in nodes:
        per_layer.setdefault(layer[n], []).append(n)
    pos = {n: (layer[n], i) for members in per_layer.values() for i, n in enumerate(members)}
    outside = {d["blocker_project_key"]: d["blocker_program_id"] for d in dependencies
               if d.get("blocker_program_id") and d["blocker_program_id"] != program_id}
    nodes_data = _values([{"x": pos[n][0], "y": pos[n][1], "critical": n in on_path,
                           "project": f"{n} ({outside[n]})" if n in outside else n} for n in nodes])
    edge_rows = []
    for (a, b), e in edges.items():
        kinds = [f"{e[k]} {k.replace('_', ' ')}" for k in ("late", "wrong_order", "unscheduled") if e[k]]
        edge_rows.append({"x": pos[a][0], "y": pos[a][1], "x2": pos[b][0], "y2": pos[b][1],
                          "mx": (pos[a][0] + pos[b][0]) / 2, "my": (pos[a][1] + pos[b][1]) / 2,
                          "risk": e["risk"], "critical": (a, b) in path_edges,
                          "links": str(e["links"]),
                          "label": f"{e['links']} link{'s' if e['links'] != 1 else ''}" + (f": {', '.join(kinds)}" if kinds else ""),
                          "pair": f"{a} blocks {b}"})
    edges_data = _values(edge_rows)
    x = {"type": "quantitative", "axis": None, "scale": {"domain": [-0.5, max(layer.values()) + 0.7]}}
    y = {"type": "quantitative", "axis": None, "scale": {"domain": [max(p[1] for p in pos.values()) + 0.5, -0.5]}}
    return _chart(title, "A blocking project sits left of the projects it blocks; the number on a link counts its "
                         "open dependencies, its colour is the worst of them; dark nodes and thick links: the critical "
                         "path. Every late, wrong-order and unscheduled dependency is listed below.", max(120, 90 * max(len(m) for m in per_layer.values())), [
        {"data": edges_data, "mark": "rule", "encoding": {
            "x": {**x, "field": "x"}, "y": {**y, "field": "y"}, "x2": {"field": "x2"}, "y2": {"field": "y2"},
            "color": {"field": "risk", "type": "nominal", "scale": _VERDICT_SCALE, "title": "worst link"},
            "strokeWidth": {"condition": {"test": "datum.critical", "value": 5}, "value": 2},
            "tooltip": [{"field": "pair"}, {"field": "label"}]}},
        {"data": edges_data, "mark": {"type": "text", "fontSize": 9, "dy": -7, "color": "#37474f"},
         "encoding": {"x": {**x, "field": "mx"}, "y": {**y, "field": "my"}, "text": {"field": "links"}}},
        {"data": nodes_data, "mark": {"type": "circle", "size": 500, "opacity": 1},
         "encoding": {"x": {**x, "field": "x"}, "y": {**y, "field": "y"},
                      "color": {"condition": {"test": "datum.critical", "value": "#263238"}, "value": "#90a4ae"}}},
        {"data": nodes_data, "mark": {"type": "text", "fontSize": 11, "dy": 20, "fontWeight": "bold"},
         "encoding": {"x": {**x, "field": "x"}, "y": {**y, "field": "y"}, "text": {"field": "project"}}},
    ])


_RANK = {"red": 3, "amber": 2, "unknown": 1, "green": 0}


def _worse(a: str | None, b: str | None) -> bool:
    return _RANK.get(a or "unknown", 1) > _RANK.get(b or "unknown", 1)


def _layers(nodes: list[str], edges: list[tuple[str, str]]) -> dict[str, int]:
    """Longest-path layering: a node sits one layer right of its furthest blocker. Edges that
    close a cycle are ignored (at most len(nodes) relaxations)."""
    layer = {n: 0 for n in nodes}
    for _ in range(len(nodes)):
        changed = False
        for a, b in edges:
            if a != b and layer[b] < layer[a] + 1 <= len(nodes) - 1:
                layer[b] = layer[a] + 1
                changed = True
        if not changed:
            break
    return layer
