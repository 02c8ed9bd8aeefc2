"""A rerun after a failed sync is correct, wherever the failure struck.

After a sandbox night (new, edited, moved, deleted issues), an incremental sync of one project is
made to fail at its first, second, ... request, until it gets through; each time a clean rerun
follows, and every ``core.*`` table must then equal a full sync of the same world from scratch.
The state that lets a run skip work (cursors, ETags, reconciliation marks) must therefore never
outlive a failure: an ETag kept for an answer whose events, relations and deletion check never
landed made the rerun's conditional request answer 304 and skip them all.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path

import pytest
import requests

from demo_world import sync, write_program
from pipelines.ingest import ProjectResult
from sandbox.faults import parse_spec
from sandbox.scenario import build
from sandbox.server import RunningSandbox, serve
from transforms.build import CORE_ORDER, build_core
from warehouse.store import connect, migrate

pytestmark = pytest.mark.e2e

# Columns that say when or by which run a row was landed, not what the trackers hold.
LANDING = ("synced_at", "sync_id")
# What only a warehouse that saw the night can know, and a full sync from scratch cannot: the items
# it deleted or moved away (core.tombstones) and the history kept of those no project returns.
REMEMBERED = {"tombstones": "false", "item_history": "item_id IN (SELECT item_id FROM core.work_items)",
              # and the burn-up events, which count a moved item in the project it left until it left
              # (test_incremental_build compares them, and marts.burnup, after nights)
              "burnup_events": "false"}
# The tombstones a sync leaves, resolved as core.tombstones resolves them: a move's id may be
# tombstoned as deleted first or not, as the two projects' threads happen to meet.
VANISHED = """SELECT key_before, item_id, project_before, bool_or(kind = 'moved'), max(moved_to_key),
                     any_value(status_category), any_value(story_points), any_value(milestone_ids), count(*) <= 2
              FROM raw.tombstones GROUP BY ALL ORDER BY ALL"""


def _sync(sandbox: RunningSandbox, path: Path, sync_id: str, project: str | None = None) -> dict[str, ProjectResult]:
    """A run over every project, or over the trackers of ``project`` only (its repository's or its
    Jira's: what a failure of that project can touch; the rerun brings the rest)."""
    github = project is None or "/" in project
    with connect(path) as con:
        migrate(con)
        return sync(sandbox, con, sync_id, retry_backoff=0.01, jira=project is None or not github, github=github)


def core_model(path: Path, as_of: datetime) -> dict[str, str]:
    """Every core table built from the file's raw tables: a digest of its rows, by table."""
    with connect(path) as con:
        write_program(con)
        build_core(con, as_of)
        digests = {}
        for table in CORE_ORDER:
            columns = [c for (c,) in con.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_schema = 'core' AND table_name = ? "
                "ORDER BY ordinal_position", [table]).fetchall() if c not in LANDING]
            row = ", ".join(f'"{c}"' for c in columns)
            digests[table] = con.execute(
                f"SELECT count(*) || ':' || coalesce(md5(string_agg(r, '|' ORDER BY r)), '') "
                f"FROM (SELECT CAST(({row}) AS VARCHAR) AS r FROM core.{table} "
                f"WHERE {REMEMBERED.get(table, 'true')})").fetchall()[0][0]
        return digests


@pytest.fixture(scope="module")
def night(tmp_path_factory) -> Iterator[tuple[RunningSandbox, Path, datetime, dict[str, str]]]:
    """The warehouse as a full sync left it before a night; the sandbox after it; the truth."""
    folder = tmp_path_factory.mktemp("night")
    with serve(build("demo", 7, date(2026, 11, 27))) as sandbox:
        before = folder / "before.duckdb"
        assert not [r.error for r in _sync(sandbox, before, "before").values() if r.error]
        # And a first incremental, so that ETags are held as on any later night.
        assert not [r.error for r in _sync(sandbox, before, "settled").values() if r.error]
        changes = requests.post(f"{sandbox.url}/_sandbox/advance", json={"days": 1}, timeout=30).json()
        assert changes["deleted"] and changes["moved"]
        as_of = datetime.fromisoformat(changes["now"])
        scratch = folder / "scratch.duckdb"
        assert not [r.error for r in _sync(sandbox, scratch, "scratch").values() if r.error]
        yield sandbox, before, as_of, core_model(scratch, as_of)


def _requests_of(sandbox: RunningSandbox, before: Path, tmp_path: Path, project: str) -> int:
    """How many requests a clean incremental sync of the night makes for ``project``."""
    probe = tmp_path / "probe.duckdb"
    shutil.copyfile(before, probe)
    sandbox.app.faults.set(parse_spec(f"500:project={project},after=1000000"))  # counts, never fires
    assert not [r.error for r in _sync(sandbox, probe, "probe").values() if r.error]
    (seen,) = sandbox.app.faults.seen()
    sandbox.app.faults.set(())
    return seen


@pytest.mark.parametrize("project", ["acme/web", "PAY", "CART"])
def test_a_rerun_after_a_sync_that_failed_at_any_request_equals_a_full_sync(night, tmp_path, project):
    sandbox, before, as_of, truth = night
    steps = _requests_of(sandbox, before, tmp_path, project)
    assert steps >= 3  # milestones or versions, the changed issues, and what follows them
    for after in range(steps):
        work = tmp_path / f"after-{after}.duckdb"
        shutil.copyfile(before, work)
        # Every request of the project past the first `after` fails, retries included.
        sandbox.app.faults.set(parse_spec(f"500:project={project},after={after}"))
        sandbox.app.faults.reset_counts()
        failed = _sync(sandbox, work, f"failing-{after}", project)
        assert failed[project].error, f"the sync of {project} did not fail after {after} requests"
        assert not [r.error for key, r in failed.items() if key != project and r.error]
        sandbox.app.faults.set(())
        rerun = _sync(sandbox, work, f"rerun-{after}")
        assert not [r.error for r in rerun.values() if r.error]
        assert core_model(work, as_of) == truth, f"{project}: wrong after a failure at request {after + 1}"
        # and the tombstones a clean sync of the night leaves, none twice
        with connect(work) as con, connect(tmp_path / "probe.duckdb", read_only=True) as clean:
            assert con.execute(VANISHED).fetchall() == clean.execute(VANISHED).fetchall() != [], after
