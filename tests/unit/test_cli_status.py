"""`pulse status`: the last syncs and each project's freshness, read from the published warehouse
without locking it, with the failed runs only the work database holds, and its exit code. On small
DuckDB files with the warehouse's own migrations; no sync."""

from __future__ import annotations

import fcntl
import io
import json
import os
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest
from rich.console import Console

from pipelines.cli import EXIT_FAILED, EXIT_OK, EXIT_USAGE, demo_config, main
from pipelines.config import dump
from pipelines.status import Freshness, Run, Status, age, problems, read_status, render
from warehouse.store import WarehousePaths, connect, file_lock, migrate

NOW = datetime(2026, 12, 3, 12, 0, tzinfo=timezone.utc)
PROJECTS = [("checkout", "jira-cloud", "PAY"), ("checkout", "jira-dc", "CART"), ("checkout", "github", "acme/web"),
            ("identity", "jira-dc", "ID"), ("identity", "github", "acme/platform-api")]


def warehouse(path: Path, runs: list[tuple], syncs: list[tuple]) -> None:
    """A warehouse file holding these meta.sync_runs (id, started, seconds, status, cause) and
    meta.source_syncs (id, site, project, status, error, finished) rows."""
    with connect(path) as con:
        migrate(con)
        for sync_id, started, seconds, status, cause in runs:
            con.execute("INSERT INTO meta.sync_runs (sync_id, started_at, finished_at, as_of, status, cause) "
                        "VALUES (?, ?, ?, ?, ?, ?)",
                        [sync_id, started, started + timedelta(seconds=seconds) if seconds is not None else None,
                         started, status, cause])
        for sync_id, site, key, status, error, finished in syncs:
            con.execute("INSERT INTO meta.source_syncs VALUES (?, ?, ?, 'jira', ?, 10, 3, ?, ?, ?, 'incremental')",
                        [sync_id, site, key, status, error, finished - timedelta(seconds=5), finished])


def good_night(sync_id: str, at: datetime) -> tuple[list[tuple], list[tuple]]:
    return ([(sync_id, at, 21.4, "succeeded", None)],
            [(sync_id, site, key, "succeeded", None, at + timedelta(seconds=10)) for _, site, key in PROJECTS])


def synced_twice(folder: Path, now: datetime) -> WarehousePaths:
    """A program.yaml (the demo's projects) whose published warehouse had two good nights before ``now``."""
    (folder / "program.yaml").write_text(dump(demo_config(7, date(2026, 11, 27))), encoding="utf-8")
    paths = WarehousePaths(folder / "pulse.duckdb")
    first, second = good_night("run-1", now - timedelta(days=2)), good_night("run-2", now - timedelta(hours=3))
    warehouse(paths.published, first[0] + second[0], first[1] + second[1])
    return paths


@pytest.fixture
def paths(tmp_path) -> WarehousePaths:
    return synced_twice(tmp_path, NOW)


def test_runs_newest_first_and_each_projects_last_success(paths):
    status = read_status(paths.published, paths.work, paths.run_lock, PROJECTS)
    assert [(r.sync_id, r.status) for r in status.runs] == [("run-2", "succeeded"), ("run-1", "succeeded")]
    assert status.runs[0].seconds == pytest.approx(21.4)
    assert [p.project_key for p in status.projects] == [k for _, _, k in PROJECTS]
    assert all(p.last_success == NOW - timedelta(hours=3) + timedelta(seconds=10) for p in status.projects)
    assert problems(status, NOW, timedelta(hours=26)) == []
    assert status.running is None and status.work_note is None


def test_a_failed_run_only_the_work_database_holds_is_the_last_run(paths):
    # the work file is the published one plus a night that failed and published nothing
    import shutil

    paths.work.parent.mkdir(parents=True)
    shutil.copyfile(paths.published, paths.work)
    with connect(paths.work) as con:
        con.execute("INSERT INTO meta.sync_runs (sync_id, started_at, finished_at, as_of, status, cause) "
                    "VALUES ('run-3', ?, ?, ?, 'failed', 'step transforms: Out of Memory')",
                    [NOW - timedelta(hours=1), NOW - timedelta(minutes=59), NOW])
        con.execute("INSERT INTO meta.source_syncs VALUES ('run-3', 'jira-dc', 'CART', 'jira', 'failed', 0, 1, "
                    "'JIRAError: HTTP 404 from https://jira/rest/api/2/search', ?, ?, 'incremental')",
                    [NOW - timedelta(hours=1), NOW - timedelta(minutes=59)])
    status = read_status(paths.published, paths.work, paths.run_lock, PROJECTS, runs=2)
    assert [(r.sync_id, r.status) for r in status.runs] == [("run-3", "failed"), ("run-2", "succeeded")]
    cart = next(p for p in status.projects if p.project_key == "CART")
    assert cart.failing and "HTTP 404" in cart.last_error
    assert problems(status, NOW, timedelta(hours=26)) == ["the last sync failed (2026-12-03 11:00 UTC)"]


def test_while_a_sync_holds_the_run_lock_its_holder_is_shown_and_the_work_file_left_alone(paths):
    paths.work.parent.mkdir(parents=True)
    paths.work.write_bytes(b"not a database: never opened while a sync runs")
    fd = os.open(paths.run_lock, os.O_RDWR | os.O_CREAT)  # as another process's warehouse.locks.hold
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        os.write(fd, json.dumps({"pid": 4242, "what": "pulse sync --config program.yaml",
                                 "started_at": "2026-12-03T11:58:00+00:00"}).encode())
        status = read_status(paths.published, paths.work, paths.run_lock, PROJECTS)
    finally:
        os.close(fd)
    assert status.running == "pulse sync --config program.yaml (pid 4242, started 2026-12-03T11:58:00+00:00)"
    assert [r.sync_id for r in status.runs] == ["run-2", "run-1"]


def test_a_work_file_that_cannot_be_read_is_noted_not_fatal(paths):
    paths.work.parent.mkdir(parents=True)
    paths.work.write_bytes(b"garbage")
    status = read_status(paths.published, paths.work, paths.run_lock, PROJECTS)
    assert status.work_note and "could not be read" in status.work_note
    assert [r.sync_id for r in status.runs] == ["run-2", "run-1"]


def test_stale_and_never_synced_projects_are_problems():
    status = Status(Path("w"), None, (Run("r", NOW - timedelta(hours=2), NOW, "partial", "CART failed"),), (
        Freshness("p", "s", "OLD", last_success=NOW - timedelta(hours=27)),
        Freshness("p", "s", "NEW", last_success=NOW - timedelta(hours=25)),
        Freshness("p", "s", "NEVER")))
    assert problems(status, NOW, timedelta(hours=26)) == [
        "2 projects without a successful sync for over 26 h: OLD, NEVER"]
    assert problems(status, NOW, timedelta(hours=28)) == ["1 project without a successful sync for over 28 h: NEVER"]
    running_only = Status(Path("w"), None, (Run("r", NOW, None, "running"),), ())
    assert problems(running_only, NOW, timedelta(hours=26)) == ["no sync has finished yet"]


@pytest.mark.parametrize("seconds, shown", [(5, "5 s ago"), (61, "1 min ago"), (3 * 3600, "3 h ago"),
                                            (47 * 3600, "47 h ago"), (3 * 86400, "3 d ago")])
def test_ages(seconds, shown):
    assert age(NOW - timedelta(seconds=seconds), NOW) == shown
    assert age(None, NOW) == "never"


def test_the_status_as_printed_without_a_terminal():
    status = Status(Path("/data/pulse.duckdb"), NOW - timedelta(hours=3), (
        Run("r2", NOW - timedelta(hours=1), NOW - timedelta(hours=1) + timedelta(seconds=95), "failed",
            "step transforms: " + "Out of Memory Error: could not allocate block of size 256KiB " * 4),
        Run("r1", NOW - timedelta(hours=3), NOW - timedelta(hours=3) + timedelta(seconds=21.4), "succeeded")), (
        Freshness("checkout", "jira-dc", "CART", NOW - timedelta(hours=3), NOW - timedelta(hours=1),
                  "JIRAError: HTTP 404 from https://jira.acme.com/rest/api/2/search: " + "x" * 200),
        Freshness("identity", "github", "acme/platform-api", NOW - timedelta(hours=30))), running="pulse sync (pid 1)")
    console = Console(file=io.StringIO(), width=100, color_system=None)
    found = render(status, console, NOW, timedelta(hours=26))
    text = console.file.getvalue()
    lines = text.splitlines()
    assert "\x1b[" not in text
    assert all(len(line) <= 100 for line in lines if not line.startswith("Needs attention"))  # the tables fit
    assert lines[0] == "Warehouse /data/pulse.duckdb, published 3 h ago"
    assert "A sync is running now: pulse sync (pid 1)" in text
    runs = lines[lines.index("Last 2 syncs, newest first (meta.sync_runs)") + 1:][:3]
    assert runs[0].split() == ["started", "(UTC)", "took", "outcome", "cause"]
    assert runs[1].startswith("2026-12-03 11:00  1 min 35 s  failed     step transforms: Out of Memory")
    assert runs[2].startswith("2026-12-03 09:00      21.4 s  succeeded")
    assert runs[1].endswith("…") and runs[2].split() == ["2026-12-03", "09:00", "21.4", "s", "succeeded"]
    projects = [line for line in lines if line.startswith(("checkout", "identity"))]
    assert projects[0].split()[:7] == ["checkout", "jira-dc", "CART", "3", "h", "ago", "FAILING"]
    assert "1 h ago: JIRAError: HTTP 404" in projects[0] and projects[0].endswith("…")
    assert "30 h ago STALE" in projects[1]
    assert found == ["the last sync failed (2026-12-03 11:00 UTC)",
                     "1 project without a successful sync for over 26 h: acme/platform-api"]
    assert lines[-1] == "Needs attention: " + "; ".join(found)


def test_pulse_status_exits_0_when_fresh_1_when_stale_2_without_a_warehouse(tmp_path, capsys):
    paths = synced_twice(tmp_path, datetime.now(timezone.utc))  # the command reads the wall clock
    config = str(paths.published.parent / "program.yaml")
    assert main(["status", "--config", config]) == EXIT_OK
    out = capsys.readouterr().out
    assert "OK: the last sync succeeded; every project synced within 26 h." in out
    assert "run-2" not in out and "PAY" in out and "acme/platform-api" in out
    assert main(["status", "--config", config, "--stale-after", "1"]) == EXIT_FAILED
    assert "Needs attention: 5 projects without a successful sync for over 1 h" in capsys.readouterr().out
    paths.published.unlink()
    assert main(["status", "--config", config]) == EXIT_USAGE
    assert "No published warehouse at" in capsys.readouterr().err


def test_the_published_file_is_only_read(paths):
    before = paths.published.stat().st_mtime_ns
    with connect(paths.published, read_only=True):  # another reader holds it: status still reads
        read_status(paths.published, paths.work, paths.run_lock, PROJECTS)
    assert paths.published.stat().st_mtime_ns == before
    assert not paths.work.exists() and not file_lock(paths.work).exists()
