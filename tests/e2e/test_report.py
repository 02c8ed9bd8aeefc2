"""The status report from a published demo warehouse: files, content in reading order, the same
verdicts as the marts, a past day as the history recorded it, hostile tracker text inert, and
every page opened in a real headless Chromium (no console error, no request, every chart drawn
with a title), a screenshot of each kept in test-artifacts/report/."""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import duckdb
import pytest

from pipelines.cli import main

pytestmark = pytest.mark.e2e

ARTIFACTS = Path(os.environ.get("PULSE_TEST_ARTIFACTS", Path(__file__).parents[2] / "test-artifacts")) / "report"
HOSTILE = ("<script>alert('pulse')</script><img src=\"http://198.51.100.7/x.png\" onerror=\"alert(1)\">"
           " Robert'); DROP TABLE marts.health;-- \"quoted\" \u202eRTL override\u202c الدفع")
CHROMIUM = next((p for p in (shutil.which("chromium"), shutil.which("chromium-browser"), "/usr/bin/chromium")
                 if p and Path(p).exists()), None)


@pytest.fixture(scope="module")
def report(published_demo, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("report")
    assert main(["report", "--config", str(published_demo / "program.yaml"), "--out", str(out)]) == 0
    return out


@pytest.fixture(scope="module")
def hostile_report(published_demo, tmp_path_factory) -> Path:
    """The demo's report after tracker text in every place the report shows it turned hostile."""
    folder = tmp_path_factory.mktemp("hostile")
    shutil.copy(published_demo / "pulse.duckdb", folder / "pulse.duckdb")
    shutil.copy(published_demo / "program.yaml", folder / "program.yaml")
    with duckdb.connect(str(folder / "pulse.duckdb")) as con:
        for table, column in (("marts.health", "name"), ("marts.health", "headline"),
                              ("marts.health_reasons", "sentence"), ("marts.milestone_slips", "name"),
                              ("marts.progress", "name"), ("marts.dependency_risk", "reason"),
                              ("marts.resource_conflicts", "person_name"), ("marts.changes_since", "sentence"),
                              ("marts.critical_path", "step_name")):
            con.execute(f"UPDATE {table} SET {column} = ? || {column}", [HOSTILE + " "])
        con.execute("UPDATE core.programs SET goal = ?", [HOSTILE])
    out = folder / "report"
    assert main(["report", "--config", str(folder / "program.yaml"), "--out", str(out), "--no-backtest"]) == 0
    return out


def marts(demo: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(demo / "pulse.duckdb"), read_only=True) as con:
        return con.execute(sql).fetchall()


def test_writes_an_index_a_page_per_program_markdown_and_json(report, published_demo):
    programs = [p for (p,) in marts(published_demo, "SELECT program_id FROM core.programs ORDER BY 1")]
    assert sorted(p.name for p in report.iterdir()) == sorted(
        ["index.html", "summary.md", "report.json", *(f"{p}.html" for p in programs)])
    for page in report.glob("*.html"):
        html = page.read_text(encoding="utf-8")
        assert page.stat().st_size < 2_000_000
        assert "<script" not in html.lower() and not re.search(r"""(src|href)=["']?(https?:)?//""", html)
        assert "default-src 'none'" in html  # and a browser would refuse anything external anyway
    assert sum(p.stat().st_size for p in report.iterdir()) < 2_000_000


def test_the_verdicts_are_the_marts_and_the_reasons_come_first(report, published_demo):
    data = json.loads((report / "report.json").read_text(encoding="utf-8"))
    health = {row[:4]: row[4] for row in marts(
        published_demo, "SELECT level, program_id, project_key, milestone_id, health FROM marts.health")}
    reported = {(t["level"], t["program_id"], t["project_key"], t["milestone_id"]): t["health"]
                for program in data["programs"] for t in [program["program"], *program["projects"], *program["milestones"]]}
    assert reported == health
    page = (report / "checkout.html").read_text(encoding="utf-8")
    headline = next(h for (h,) in marts(published_demo, "SELECT headline FROM marts.health WHERE level = 'program' "
                                                         "AND program_id = 'checkout'"))
    order = [page.index(marker) for marker in (headline, 'id="verdicts"', 'id="burnup"', 'id="milestones"',
                                              'id="dependencies"', 'id="people"', 'id="changes"', 'id="definitions"')]
    assert order == sorted(order)
    # the worst non-green dimension's sentence is on the page, before the table of verdicts
    first = marts(published_demo, """SELECT sentence FROM marts.health_reasons WHERE level = 'program'
        AND program_id = 'checkout' AND is_summary AND dimension <> 'overall' ORDER BY reason_rank LIMIT 1""")[0][0]
    assert page.index(first.replace("'", "&#39;").replace('"', "&#34;")) < page.index('id="verdicts"')
    assert "How often past forecasts came true" in page and "Finished by P85" in page


def test_markdown_fits_a_chat_window(report, published_demo):
    text = (report / "summary.md").read_text(encoding="utf-8")
    lines = text.splitlines()
    assert max(len(line) for line in lines) <= 200
    for name, health in marts(published_demo, "SELECT program_name, health FROM marts.program_health"):
        assert f"## {name}: {health.upper()}" in text


def test_a_past_day_reports_what_the_history_recorded(published_demo, tmp_path):
    day, = marts(published_demo, "SELECT max(day) FROM marts.health_history WHERE source = 'reconstructed'")[0]
    assert main(["report", "--config", str(published_demo / "program.yaml"), "--out", str(tmp_path),
                 "--as-of", day.isoformat(), "--no-backtest"]) == 0
    data = json.loads((tmp_path / "report.json").read_text(encoding="utf-8"))
    recorded = dict(marts(published_demo, f"""SELECT target_id, health FROM marts.health_history
                                              WHERE day = '{day}' AND level IN ('program', 'project')"""))
    reported = {t["target_id"]: t["health"] for p in data["programs"] for t in [p["program"], *p["projects"]]}
    assert reported == recorded
    assert all(p["snapshot"]["replayed"] and p["snapshot"]["as_of"].startswith(day.isoformat()) for p in data["programs"])


def test_one_program_into_the_weekly_folder_leaves_the_others_alone(report, published_demo, tmp_path):
    weekly = tmp_path / "weekly"
    shutil.copytree(report, weekly)
    before = {name: (weekly / name).read_bytes() for name in ("index.html", "summary.md", "report.json", "identity.html")}
    assert main(["report", "--config", str(published_demo / "program.yaml"), "--out", str(weekly),
                 "--program", "checkout", "--no-backtest"]) == 0
    assert {name: (weekly / name).read_bytes() for name in before} == before
    assert [p["program_id"] for p in json.loads((weekly / "checkout.json").read_text(encoding="utf-8"))["programs"]] \
        == ["checkout"]
    assert "Checkout" in (weekly / "checkout.md").read_text(encoding="utf-8")


def test_bad_requests_get_a_clear_error(published_demo, tmp_path, capsys):
    config = str(published_demo / "program.yaml")
    assert main(["report", "--config", config, "--out", str(tmp_path), "--program", "nope"]) == 2
    assert "no program 'nope' in the warehouse; it holds: checkout, identity" in capsys.readouterr().err
    assert main(["report", "--config", config, "--out", str(tmp_path), "--as-of", "2001-01-01"]) == 2
    assert "history starts on" in capsys.readouterr().err


def test_hostile_tracker_text_is_text(hostile_report):
    for page in hostile_report.glob("*.html"):
        html = page.read_text(encoding="utf-8")
        assert "<script" not in html and "<img" not in html and "&lt;script&gt;" in html
    text = (hostile_report / "summary.md").read_text(encoding="utf-8")
    assert "<script>" not in text and "&lt;script&gt;" in text


@pytest.mark.skipif(CHROMIUM is None, reason="no Chromium installed (Debian: apt-get install chromium)")
@pytest.mark.parametrize("which", ["report", "hostile_report"])
def test_every_page_renders_in_a_real_browser(which, request):
    from playwright.sync_api import sync_playwright

    folder = request.getfixturevalue(which)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--no-first-run"])
        try:
            for javascript in (True, False):  # readable without JavaScript: nothing changes without it
                context = browser.new_context(java_script_enabled=javascript, viewport={"width": 1200, "height": 900})
                page = context.new_page()
                problems, requests, dialogs = [], [], []
                page.on("console", lambda m: problems.append(m.text) if m.type in ("error", "warning") else None)
                page.on("pageerror", lambda e: problems.append(str(e)))
                page.on("request", lambda r: requests.append(r.url) if not r.url.startswith("file://") else None)
                page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
                for html in sorted(folder.glob("*.html")):
                    page.goto(html.as_uri(), wait_until="load")
                    assert page.locator("h1").first.inner_text().strip()
                    if html.name != "index.html":
                        charts = page.locator("figure.chart svg")
                        assert charts.count() >= 3, html.name
                        for i in range(charts.count()):
                            svg = charts.nth(i)
                            assert svg.locator(".role-title-text").first.text_content().strip(), (html.name, i)
                            assert svg.locator(".role-mark path, .role-mark rect, .role-mark line, .role-mark text").count() > 0
                            assert svg.bounding_box()["width"] > 100
                        verdict = page.locator("h1 .badge").inner_text().lower()
                        assert verdict in ("red", "amber", "green", "unknown")
                    if javascript:
                        page.screenshot(path=ARTIFACTS / f"{which}-{html.stem}.png", full_page=True)
                assert (problems, requests, dialogs) == ([], [], [])
                context.close()
            if which == "hostile_report":
                page = browser.new_page()
                page.goto((folder / "checkout.html").as_uri())
                assert page.locator("script, img").count() == 0
                assert "<script>alert('pulse')</script>" in page.locator("body").inner_text()
                page.close()
        finally:
            browser.close()


def test_charts_drawn_in_worker_processes_are_the_same_pages(published_demo, report, tmp_path, monkeypatch):
    """Big reports draw their charts in spawned workers (from PARALLEL_FROM programs on); the
    pages are byte for byte those drawn in one process."""
    import pipelines.report as reporting

    monkeypatch.setattr(reporting, "PARALLEL_FROM", 1)
    reporting.write_report(published_demo / "pulse.duckdb", tmp_path)
    for page in report.glob("*.html"):
        assert (tmp_path / page.name).read_bytes() == page.read_bytes(), page.name
