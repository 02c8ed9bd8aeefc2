"""The report's charts: declared with altair (Vega-Lite), rendered to SVG by vl-convert, which
carries its own Vega engine, so a chart needs no browser, no JavaScript and no network, and the
HTML stays one self-contained file. Text in an SVG is escaped by Vega's renderer.

Every chart has a title; an empty section draws no chart (the page says why instead)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import date
from typing import Any

import altair as alt
import pandas as pd
import vl_convert as vlc

VERDICT_COLORS = {"red": "#c62828", "amber": "#ef8f00", "green": "#2e7d32", "unknown": "#8a8a8a"}
_VERDICT_SCALE = alt.Scale(domain=list(VERDICT_COLORS), range=list(VERDICT_COLORS.values()))
FAN = (("p50_date", "P50", 0.9), ("p70_date", "P70", 0.7), ("p85_date", "P85", 0.5), ("p95_date", "P95", 0.3))
WIDTH = 560


def svg(chart: alt.TopLevelMixin) -> str:
    """The chart as an inline <svg> element."""
    return vlc.vegalite_to_svg(chart.to_dict())


def _title(text: str, subtitle: str | None = None) -> alt.TitleParams:
    return alt.TitleParams(text=text, subtitle=subtitle or alt.Undefined, anchor="start")


def burnup(points: Sequence[Mapping[str, Any]], forecast: Mapping[str, Any] | None, title: str,
           due: date | None = None) -> alt.TopLevelMixin | None:
    """Scope and done items per day, the due date, and the forecast fan: from today's done count
    to the whole scope at the P50, P70, P85 and P95 dates (METRICS.md "Burn-up", "Forecast")."""
    if not points:
        return None
    df = pd.DataFrame(points)
    df["day"] = pd.to_datetime(df["day"])
    long = df.melt(id_vars=["day"], value_vars=["scope_items", "done_items"], var_name="line", value_name="items")
    long["line"] = long["line"].map({"scope_items": "scope", "done_items": "done"})
    layers = [alt.Chart(long).mark_line(interpolate="step-after").encode(
        x=alt.X("day:T", title=None), y=alt.Y("items:Q", title="items"),
        color=alt.Color("line:N", scale=alt.Scale(domain=["scope", "done", "forecast"],
                                                   range=["#5c6bc0", "#2e7d32", "#6d4c41"]), title=None),
        strokeDash=alt.StrokeDash("line:N", scale=alt.Scale(domain=["scope", "done"], range=[[5, 3], [1, 0]]),
                                  legend=None))]
    subtitle = None
    last = df.iloc[-1]
    if forecast and forecast.get("status") == "forecast" and forecast.get("p50_date"):
        fan = []
        for column, label, opacity in FAN:
            if forecast.get(column):
                fan += [{"fan": label, "day": last["day"], "items": int(last["done_items"]), "opacity": opacity},
                        {"fan": label, "day": pd.Timestamp(forecast[column]), "items": int(last["scope_items"]),
                         "opacity": opacity}]
        fan_df = pd.DataFrame(fan)
        layers.append(alt.Chart(fan_df).mark_line(color="#6d4c41").encode(
            x="day:T", y="items:Q", detail="fan:N", opacity=alt.Opacity("opacity:Q", legend=None)))
        ends = fan_df.iloc[1::2]
        ends = ends[ends["fan"].isin(["P50", "P95"])]
        layers.append(alt.Chart(ends).mark_text(align="left", dx=3, fontSize=9, color="#6d4c41").encode(
            x="day:T", y="items:Q", text="fan:N"))
        subtitle = (f"Forecast P50 {forecast['p50_date']:%Y-%m-%d}, P85 {forecast['p85_date']:%Y-%m-%d}"
                    + (f", {forecast['p_on_time']:.0%} chance by the due date" if forecast.get("p_on_time") is not None else ""))
    elif forecast:
        subtitle = f"Forecast: {forecast.get('status') or 'none'}" + (f" ({forecast['note']})" if forecast.get("note") else "")
    if due:
        layers.append(alt.Chart(pd.DataFrame([{"day": pd.Timestamp(due), "label": f"due {due:%Y-%m-%d}"}]))
                      .mark_rule(color="#c62828", strokeDash=[2, 2]).encode(x="day:T"))
        layers.append(alt.Chart(pd.DataFrame([{"day": pd.Timestamp(due), "label": "due"}]))
                      .mark_text(align="left", dx=3, dy=-4, baseline="top", color="#c62828", fontSize=9)
                      .encode(x="day:T", y=alt.value(0), text="label:N"))
    return alt.layer(*layers).properties(width=WIDTH, height=220, title=_title(title, subtitle))


def timeline(slips: Sequence[Mapping[str, Any]], as_of: date, title: str) -> alt.TopLevelMixin | None:
    """Each open milestone's baseline due date (hollow) and current due date (filled), joined:
    a line to the right is a slip (METRICS.md "Milestone slip")."""
    rows = [s for s in slips if s.get("due_date")]
    if not rows:
        return None
    df = pd.DataFrame([{
        "milestone": (f"{s['project_key']}: " if s.get("project_key") else "") + str(s["name"]),
        "baseline": pd.Timestamp(s["baseline_due_date"] or s["due_date"]), "current": pd.Timestamp(s["due_date"]),
        "slip_days": int(s["slip_days"] or 0), "moves": int(s["due_date_moves"] or 0)} for s in rows])
    df["slipped"] = df["slip_days"].map(lambda d: "slipped" if d > 0 else "pulled in" if d < 0 else "on baseline")
    base = alt.Chart(df).encode(y=alt.Y("milestone:N", sort=None, title=None))
    rule = base.mark_rule(strokeWidth=2, color="#9e9e9e").encode(x=alt.X("baseline:T", title=None), x2="current:T")
    start = base.mark_point(filled=False, size=60, color="#424242").encode(x="baseline:T")
    end = base.mark_point(filled=True, size=70).encode(
        x="current:T", color=alt.Color("slipped:N", title=None, scale=alt.Scale(
            domain=["slipped", "on baseline", "pulled in"], range=["#c62828", "#2e7d32", "#1565c0"])),
        tooltip=["milestone", "slip_days", "moves"])
    today = alt.Chart(pd.DataFrame([{"day": pd.Timestamp(as_of)}])).mark_rule(color="#616161", strokeDash=[4, 2]).encode(x="day:T")
    return alt.layer(rule, start, end, today).properties(
        width=WIDTH, height=max(60, 22 * len(df)),
        title=_title(title, "hollow: baseline due date; filled: current; dashed line: today"))


def health_strip(history: Sequence[Mapping[str, Any]], title: str) -> alt.TopLevelMixin | None:
    """The program's and each project's verdict per day (marts.health_history)."""
    if not history:
        return None
    df = pd.DataFrame([{"day": pd.Timestamp(h["day"]), "target": h["name"] if h["level"] == "program" else f"  {h['name']}",
                        "health": h["health"] or "unknown"} for h in history])
    order = list(dict.fromkeys(df["target"]))
    return alt.Chart(df).mark_rect().encode(
        x=alt.X("day:T", title=None), y=alt.Y("target:N", sort=order, title=None),
        color=alt.Color("health:N", scale=_VERDICT_SCALE, title=None)).properties(
        width=WIDTH, height=max(40, 20 * len(order)), title=_title(title, "one cell per day"))


def dependency_graph(dependencies: Sequence[Mapping[str, Any]], projects: Iterable[str],
                     critical: Sequence[Mapping[str, Any]], title: str, program_id: str | None = None) -> alt.TopLevelMixin | None:
    """Projects as nodes in layers (a blocker left of what it blocks), one edge per pair of
    projects with open cross-project dependencies, coloured by its worst risk: late, wrong
    order, unscheduled, stale or in a cycle (red or amber), else green; the critical path's
    projects are ringed and its edges drawn thick."""
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
    node_df = pd.DataFrame([{"x": pos[n][0], "y": pos[n][1], "critical": n in on_path,
                             "project": f"{n} ({outside[n]})" if n in outside else n} for n in nodes])
    edge_rows = []
    for (a, b), e in edges.items():
        kinds = [f"{e[k]} {k.replace('_', ' ')}" for k in ("late", "wrong_order", "unscheduled") if e[k]]
        edge_rows.append({"x": pos[a][0], "y": pos[a][1], "x2": pos[b][0], "y2": pos[b][1],
                          "mx": (pos[a][0] + pos[b][0]) / 2, "my": (pos[a][1] + pos[b][1]) / 2,
                          "risk": e["risk"], "critical": (a, b) in path_edges,
                          "label": f"{e['links']} link{'s' if e['links'] != 1 else ''}" + (f": {', '.join(kinds)}" if kinds else ""),
                          "pair": f"{a} blocks {b}"})
    edge_df = pd.DataFrame(edge_rows)
    xs = alt.Scale(domain=[-0.5, max(layer.values()) + 0.7])
    ys = alt.Scale(domain=[max(p[1] for p in pos.values()) + 0.5, -0.5])
    lines = alt.Chart(edge_df).mark_rule().encode(
        x=alt.X("x:Q", scale=xs, axis=None), y=alt.Y("y:Q", scale=ys, axis=None), x2="x2:Q", y2="y2:Q",
        color=alt.Color("risk:N", scale=_VERDICT_SCALE, title="worst link"),
        strokeWidth=alt.condition("datum.critical", alt.value(5), alt.value(2)), tooltip=["pair", "label"])
    labels = alt.Chart(edge_df).mark_text(fontSize=9, dy=-7, color="#37474f").encode(
        x=alt.X("mx:Q", scale=xs), y=alt.Y("my:Q", scale=ys), text="label:N")
    circles = alt.Chart(node_df).mark_circle(size=500, opacity=1).encode(
        x=alt.X("x:Q", scale=xs), y=alt.Y("y:Q", scale=ys),
        color=alt.condition("datum.critical", alt.value("#263238"), alt.value("#90a4ae")))
    names = alt.Chart(node_df).mark_text(fontSize=11, dy=20, fontWeight="bold").encode(
        x=alt.X("x:Q", scale=xs), y=alt.Y("y:Q", scale=ys), text="project:N")
    return alt.layer(lines, labels, circles, names).properties(
        width=WIDTH, height=max(120, 90 * max(len(m) for m in per_layer.values())),
        title=_title(title, "a blocking project sits left of the projects it blocks; "
                            "dark nodes and thick links: the critical path"))


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
