"""`pulse demo`, `pulse sync` and `pulse status` as a person runs them: processes, their output
read as a pipe (no terminal: no colour, the progress bars printed once as they ended). One demo,
then one sync that fails, on the same folder."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest

from demo_world import AS_OF
from sandbox.credentials import SANDBOX_TOKEN_ENV

pytestmark = pytest.mark.e2e

WIDTH = 120
FINAL = re.compile(r"^Synced: (?P<items>[\d,]+) items, (?P<requests>[\d,]+) requests in (?P<seconds>[\d.]+) s; "
                   r"published (?P<warehouse>\S+)$")
VERDICT = re.compile(r"^(RED|AMBER|GREEN|UNKNOWN) +(\S.*)$")
SEVERITY = {"RED": 4, "AMBER": 3, "UNKNOWN": 2, "GREEN": 1}


@dataclass(frozen=True)
class Ran:
    code: int
    out: str
    err: str

    @property
    def lines(self) -> list[str]:
        return (self.out + self.err).splitlines()


def pulse(*args: str, env: dict[str, str] | None = None) -> Ran:
    done = subprocess.run([sys.executable, "-m", "pipelines.cli", *args], capture_output=True, text=True,
                          timeout=600, env={**os.environ, "COLUMNS": str(WIDTH), **(env or {})})
    return Ran(done.returncode, done.stdout, done.stderr)


def query(path: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(path), read_only=True) as con:
        return con.execute(sql).fetchall()


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> tuple[Path, Ran]:
    out = tmp_path_factory.mktemp("cli-demo")
    return out, pulse("demo", "--out", str(out), "--seed", "7", "--as-of", AS_OF.isoformat())


@pytest.fixture(scope="module")
def failed(demo) -> Ran:
    """A sync of the demo's folder whose every tracker rejects the token: nothing is published."""
    folder, _ = demo
    return pulse("sync", "--config", str(folder / "program.yaml"), env={SANDBOX_TOKEN_ENV: "wrong-token"})


def test_the_demo_prints_no_dagster_log_and_no_traceback(demo):
    _, ran = demo
    assert ran.code == 0, ran.err
    assert not [line for line in ran.lines if " - dagster - " in line or re.search(r"\b(DEBUG|INFO)\b", line)]
    assert "Traceback" not in ran.out + ran.err
    assert "\x1b[" not in ran.out + ran.err  # not a terminal: no colour, no cursor moves
    assert len(ran.lines) < 30, "\n".join(ran.lines)


def test_the_progress_bars_end_with_each_sites_projects_items_and_requests(demo):
    folder, ran = demo
    published = folder / "pulse.duckdb"
    per_site = dict((site, (n, items, requests)) for site, n, items, requests in query(published, """
        SELECT site, count(*), sum(items), sum(requests) FROM meta.source_syncs GROUP BY site"""))
    bars = {line.split()[1]: line for line in ran.err.splitlines() if line.startswith("✓ ")}
    for site, (n, items, requests) in per_site.items():
        assert re.search(rf"{n}/{n}\s+(projects|repos)\s+{items:,} items\s+{requests:,} requests", bars[site]), bars
    assert {"programs", "transform", "checks", "publish"} <= set(bars)
    assert not [line for line in ran.err.splitlines() if line.startswith(("✗", "–"))]


def test_the_final_line_has_items_requests_time_and_the_published_warehouse(demo):
    folder, ran = demo
    match = FINAL.match(ran.out.splitlines()[-1])
    assert match, ran.out.splitlines()[-1]
    (items, requests), = query(folder / "pulse.duckdb", "SELECT sum(items), sum(requests) FROM meta.source_syncs")
    assert int(match["items"].replace(",", "")) == items > 1000
    assert int(match["requests"].replace(",", "")) == requests > 0
    assert 1 < float(match["seconds"]) < 600
    assert Path(match["warehouse"]) == folder / "pulse.duckdb"
    assert f"Wrote {folder / 'program.yaml'}; sync again with: pulse sync --config" in ran.out


def test_the_summary_is_one_line_per_program_and_project_worst_first(demo):
    folder, ran = demo
    lines = [line for line in ran.out.splitlines() if VERDICT.match(line)]
    published = folder / "pulse.duckdb"
    programs = dict(query(published, "SELECT program_name || ' [' || program_id || ']', upper(health) "
                                     "FROM marts.program_health"))
    projects = query(published, "SELECT project_key, upper(health), len(reasons) FROM marts.project_health")
    assert len(lines) == len(programs) + len(projects)
    assert all(len(line) <= WIDTH for line in lines)
    headed = [(line.split()[0], line) for line in lines if not line[8:].startswith("  ")]  # program lines
    assert [verdict for verdict, _ in headed] == sorted((v for v in programs.values()), key=lambda v: -SEVERITY[v])
    assert {name for name in programs} == {name for name in programs if any(name in line for _, line in headed)}
    for key, health, reasons in projects:
        (line,) = [line for line in lines if re.search(rf"\({re.escape(key)}\)|^\S+ +{re.escape(key)} ", line)]
        assert line.startswith(health) and (reasons < 2 or line.endswith(f" +{reasons - 1}")), line
    assert "Every reason: pulse report --config" in ran.out and "marts.health_reasons" in ran.out


def test_status_lists_the_run_and_every_projects_freshness(demo):
    folder, _ = demo
    ran = pulse("status", "--config", str(folder / "program.yaml"))
    assert ran.code == 0, ran.out + ran.err
    lines = ran.out.splitlines()
    assert lines[0].startswith(f"Warehouse {folder / 'pulse.duckdb'}, published ")
    runs = lines[lines.index("Last 1 sync, newest first (meta.sync_runs)") + 2:][:1]
    assert re.match(r"^\d{4}-\d\d-\d\d \d\d:\d\d +[\d.]+ s +succeeded$", runs[0]), runs
    for _, site, key in query(folder / "pulse.duckdb", "SELECT program_id, site, project_key FROM marts.project_health"):
        assert any(re.search(rf" {site} +{re.escape(key)} +\d+ (s|min) ago$", line) for line in lines), (key, lines)
    assert lines[-1] == "OK: the last sync succeeded; every project synced within 26 h."


def test_a_failed_sync_says_why_in_a_line_per_step_and_ends_with_its_figures(demo, failed):
    folder, _ = demo
    assert failed.code == 1
    assert "Traceback" not in failed.out + failed.err
    assert not [line for line in failed.lines if " - dagster - " in line or line.startswith("20")]  # no log lines
    (cause,) = [line for line in failed.err.splitlines() if line.startswith("Sync failed")]
    assert "step meta__snapshots: every project failed" in cause and f"${SANDBOX_TOKEN_ENV} (HTTP 401)" in cause
    assert "wrong-token" not in failed.out + failed.err
    assert re.search(r"tracebacks: \S+\.log \(or rerun with --verbose\)", failed.err)
    assert {line.split()[1] for line in failed.err.splitlines() if line.startswith("✗ ")} >= {
        "github", "jira-cloud", "jira-dc", "publish"}
    assert re.match(rf"^Nothing published: 0 items, \d+ requests in [\d.]+ s; the last snapshot stays at "
                    rf"{re.escape(str(folder / 'pulse.duckdb'))}$", failed.out.splitlines()[-1])


def test_status_after_a_failed_sync_shows_it_first_and_exits_1(demo, failed):
    folder, _ = demo
    ran = pulse("status", "--config", str(folder / "program.yaml"))
    assert ran.code == 1, ran.out + ran.err
    lines = ran.out.splitlines()
    runs = lines[lines.index("Last 2 syncs, newest first (meta.sync_runs)") + 2:][:2]
    assert re.search(r" failed +sites\.", runs[0]) and runs[1].endswith("succeeded"), runs
    failing = [line for line in lines if "ago: " in line]
    assert len(failing) == 5 and all(" FAILING " in line and "HTTP 401" in line for line in failing), lines
    assert lines[-1].startswith("Needs attention: the last sync failed")
