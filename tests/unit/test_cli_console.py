"""What `pulse sync` and `pulse demo` print: the compact health summary (worst first, one line
each, cut to the width), the final line, the failure lines, and the progress bars fed by the
ingest's progress events and the Dagster run's step events. No Dagster run, no warehouse."""

from __future__ import annotations

import io
import logging
from pathlib import Path
from types import SimpleNamespace

import dagster as dg
import pytest
from rich.console import Console

from pipelines import progress
from pipelines.console import (ConsoleLogHandler, SyncDisplay, Verdict, final_line, health_lines, print_summary,
                               shown_once, worst_first)
from pipelines.progress import ItemsLanded, ProjectStarted, ProjectSynced, TableBuilt

LONG = "Current milestone CART 3.0 is 45% done at 88% of its time to 2026-12-09 (49 of 108 items done) " * 3

PROGRAMS = [
    Verdict("alpha", "Alpha", "green", ("All green.",)),
    Verdict("beta", "Beta launch", "red", ("Its finish waits on B 2.0.", "second", "third")),
    Verdict("gamma", "Gamma", "amber", ("Scope grows.",)),
]
PROJECTS = [
    Verdict("beta", "Payments", "amber", ("3 items blocked.", "x"), "PAY"),
    Verdict("beta", "Cart", "red", (LONG, "x", "y"), "CART"),
    Verdict("beta", "acme/web", "unknown", ("Stale: last synced 2 days ago.",), "acme/web"),
    Verdict("beta", "Zed", "red", (), "ZED"),
    Verdict("alpha", "Identity", "green", ("All green.",), "ID"),
    Verdict("gamma", "Search", "green", ("Fine.",), "SRCH"),
]


def plain(width: int = 100) -> list[str]:
    return [line.plain for line in health_lines(PROGRAMS, PROJECTS, width)]


def test_programs_and_their_projects_come_worst_first():
    order = [(v.program_id, v.project_key) for v in worst_first(PROGRAMS, PROJECTS)]
    assert order == [("beta", None), ("beta", "CART"), ("beta", "ZED"), ("beta", "PAY"), ("beta", "acme/web"),
                     ("gamma", None), ("gamma", "SRCH"), ("alpha", None), ("alpha", "ID")]


def test_one_line_per_program_and_project_with_its_verdict_name_and_first_reason():
    lines = plain()
    assert len(lines) == len(PROGRAMS) + len(PROJECTS)
    assert lines[0].startswith("RED     Beta launch [beta]") and lines[0].endswith("Its finish waits on B 2.0. +2")
    assert lines[1].startswith("RED       Cart (CART)")
    assert lines[3].startswith("AMBER     Payments (PAY)") and lines[3].endswith("3 items blocked. +1")
    # a project named like its key is shown once; an unknown (stale) verdict ranks below amber
    assert lines[4].startswith("UNKNOWN   acme/web ") and "(acme/web)" not in lines[4]
    assert lines[2].rstrip() == "RED       Zed (ZED)"  # no reason, no "+N"


@pytest.mark.parametrize("width", [60, 80, 100, 160])
def test_reasons_are_cut_to_the_width_with_the_count_of_the_rest(width):
    lines = health_lines(PROGRAMS, PROJECTS, width)
    assert all(line.cell_len <= width for line in lines)
    cart = lines[1].plain
    assert cart.endswith("… +2") and "Current milestone CART 3.0" in cart
    # the reasons all start in one column
    starts = {line.plain.index(reason) for line, reason in zip(lines, ("Its finish", "Current milestone"))}
    assert len(starts) == 1


def test_wide_characters_are_cut_by_their_cells():
    wide = [Verdict("p", "People", "amber", ("1 person split too thin: Wei Zhang 张伟张伟张伟张伟张伟张伟张伟张伟张伟 " * 3,))]
    (line,) = health_lines(wide, [], 70)
    assert line.cell_len <= 70 and line.plain.endswith("…")


def test_the_summary_points_to_every_reason(tmp_path):
    console = Console(file=io.StringIO(), width=90, color_system=None)
    from datetime import datetime, timezone

    print_summary(console, datetime(2026, 11, 27, tzinfo=timezone.utc), PROGRAMS, PROJECTS, tmp_path / "program.yaml")
    text = console.file.getvalue()
    assert "Health as of 2026-11-27 00:00 UTC, worst first" in text
    assert f"pulse report --config {tmp_path / 'program.yaml'} --out DIR, or marts.health_reasons" in text
    assert "\x1b[" not in text  # no colour when it is not a terminal


def test_the_final_line_has_items_requests_time_and_the_warehouse():
    where = Path("/data/pulse.duckdb")
    assert final_line(True, 0, 1031, 65, 19.27, where) == \
        "Synced: 1,031 items, 65 requests in 19.3 s; published /data/pulse.duckdb"
    assert final_line(True, 2, 5, 12, 8.0, where) == \
        "Synced with 2 stale (above): 5 items, 12 requests in 8.0 s; published /data/pulse.duckdb"
    assert final_line(False, 3, 0, 4, 14.9, where) == \
        "Nothing published: 0 items, 4 requests in 14.9 s; the last snapshot stays at /data/pulse.duckdb"


def test_failed_projects_a_step_cause_already_names_are_not_repeated():
    stale = ["sites.github.url: answered 404", "sites.jira-dc project CART: HTTP 500"]
    causes = ["step meta__snapshots: every project failed: sites.github.url: answered 404"]
    assert shown_once(stale, causes) == ["sites.jira-dc project CART: HTTP 500"]


def dagster(kind: dg.DagsterEventType, step: str, passed: bool = True) -> SimpleNamespace:
    return SimpleNamespace(dagster_event=SimpleNamespace(event_type=kind, step_key=step,
                                                         event_specific_data=SimpleNamespace(passed=passed)))


def test_the_bars_count_projects_items_requests_and_failures_per_site():
    console = Console(file=io.StringIO(), width=120, color_system=None)
    display = SyncDisplay(console, {"github": (2, "repos"), "jira-dc": (2, "projects"), "idle": (1, "projects")})
    display.start({"check_a": 1, "model_checks": 3})
    with progress.listening(display.on_progress):  # as run_sync registers it
        progress.emit(ProjectStarted("github", "acme/web"))
        progress.emit(ItemsLanded("github", "acme/web", 100))
        progress.emit(ItemsLanded("github", "acme/web", 100))
        progress.emit(ItemsLanded("github", "acme/web", 100))  # a relisting page the project does not count
        progress.emit(ProjectSynced("github", "acme/web", 200, 7))
        progress.emit(ProjectStarted("github", "acme/api"))
        progress.emit(ProjectSynced("github", "acme/api", 0, 1, "BadCredentialsException: HTTP 401"))
        progress.emit(ProjectSynced("jira-dc", "CART", 0, 1, "JIRAError: HTTP 401"))
        progress.emit(ProjectSynced("jira-dc", "ID", 0, 0, "JIRAError: HTTP 401"))
        progress.emit(ProjectSynced("elsewhere", "X", 5, 5))  # a site it was not told of: ignored
    for event in (dagster(dg.DagsterEventType.ASSET_CHECK_EVALUATION_PLANNED, "check_a"),
                  dagster(dg.DagsterEventType.STEP_START, "trackers_raw"),
                  dagster(dg.DagsterEventType.STEP_START, "transforms"),
                  dagster(dg.DagsterEventType.STEP_SUCCESS, "transforms"),
                  dagster(dg.DagsterEventType.STEP_START, "check_a"),
                  dagster(dg.DagsterEventType.ASSET_CHECK_EVALUATION, "check_a", passed=False),
                  dagster(dg.DagsterEventType.STEP_SUCCESS, "check_a"),
                  dagster(dg.DagsterEventType.STEP_START, "model_checks"),
                  dagster(dg.DagsterEventType.ASSET_CHECK_EVALUATION, "model_checks"),
                  dagster(dg.DagsterEventType.STEP_FAILURE, "model_checks"),  # two left: failed
                  dagster(dg.DagsterEventType.STEP_START, "meta__snapshots"),
                  dagster(dg.DagsterEventType.STEP_FAILURE, "meta__snapshots")):
        display.on_dagster(event)
    display.close()
    lines = console.file.getvalue().splitlines()
    github, jira, idle, transform, checks, publish = lines
    assert github.startswith("✓ github") and "2/2  repos" in github and "200 items" in github
    assert "8 requests" in github and "1 failed" in github
    assert jira.startswith("✗ jira-dc") and "2 failed" in jira  # every project failed
    assert idle.startswith("– idle") and "0/1" in idle  # never started: skipped
    assert transform.startswith("✓ transform") and "staging, core and marts" in transform
    assert checks.startswith("✓ checks") and "4/4 asset checks run  3 failed" in checks
    assert publish.startswith("✗ publish")
    assert not any("trackers_raw" in line for line in lines)  # ingest is the site bars


def test_a_listener_that_fails_never_reaches_the_sync():
    def broken(event):
        raise RuntimeError("display broke")

    with progress.listening(broken):
        progress.emit(ProjectStarted("s", "p"))  # does not raise
    assert progress._listeners == []


def test_library_waits_are_shown_without_tracebacks_and_ingest_errors_only_verbose():
    console = Console(file=io.StringIO(), width=200, color_system=None)
    handler = ConsoleLogHandler(console)
    try:
        raise ValueError("boom")
    except ValueError:
        import sys

        exc_info = sys.exc_info()
    handler.handle(logging.LogRecord("jira", logging.WARNING, __file__, 1, "Got recoverable error %s", ("429",),
                                     exc_info))
    handler.handle(logging.LogRecord("pipelines.ingest", logging.ERROR, __file__, 1, "sync of X failed", (), None))
    text = console.file.getvalue()
    assert "WARNING jira: Got recoverable error 429" in text and "Traceback" not in text
    assert "sync of X failed" not in text
    ConsoleLogHandler(console, verbose=True).handle(
        logging.LogRecord("pipelines.ingest", logging.ERROR, __file__, 1, "sync of X failed", (), exc_info))
    assert "sync of X failed" in console.file.getvalue() and "Traceback" in console.file.getvalue()


def test_the_transform_line_counts_its_tables_as_they_are_built():
    console = Console(file=io.StringIO(), width=120, color_system=None)
    display = SyncDisplay(console, {})
    display.start()
    display.on_dagster(dagster(dg.DagsterEventType.STEP_START, "transforms"))
    with progress.listening(display.on_progress):
        progress.emit(TableBuilt("staging.jira_issues", "ran", 1, 3))
        progress.emit(TableBuilt("core.work_items", "merged", 2, 3))
        middle = [t for t in display.progress.tasks if t.description == "transform"][0]
        assert (middle.completed, middle.total) == (2, 3) and "core.work_items merged" in str(middle.fields["detail"])
        progress.emit(TableBuilt("marts.health", "rebuilt", 3, 3))
    display.on_dagster(dagster(dg.DagsterEventType.STEP_SUCCESS, "transforms"))
    display.close()
    (line,) = console.file.getvalue().splitlines()
    assert line.startswith("✓ transform") and "3 staging, core and marts tables" in line
