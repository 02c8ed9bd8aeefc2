"""Milestones with memory over real HTTP: a due date the sandbox moves between two time-travelled
syncs is a slip and a move in marts.milestone_slips, though neither tracker API keeps its history.

The demo world as of 2026-11-27 is synced and built; a night later (the sandbox slips one open
release each night, deterministically from the seed) it is synced and built again. The moved
release's baseline is the due date the first sync saw; a program milestone from the config over
it and another release rolls their scope up and moves with neither.
"""

from __future__ import annotations

import shutil
from datetime import date, datetime, timezone

import pytest
import requests

from demo_world import AS_OF, GITHUB, JIRA, REPOS, failures, sync
from sandbox.scenario import build
from sandbox.server import serve
from sandbox.timetravel import advance
from transforms.build import (ProgramMilestoneRow, ProgramRow, ProjectRow, build_all, forget_derived,
                              write_program_structure)
from warehouse.store import connect, migrate

pytestmark = pytest.mark.e2e

FIRST = datetime(2026, 11, 27, tzinfo=timezone.utc)


def milestone_id(scenario, release) -> str:
    site = scenario.project[release.project].site
    if site == GITHUB:
        return f"github:{site}:{release.project}:milestone:{release.id}"
    return f"jira:{site}:version:{release.id}"


def write_program(con, members: tuple) -> None:
    projects = [ProjectRow("p", site, "jira", k, None) for site, keys in JIRA.items() for k in keys] + [
        ProjectRow("p", GITHUB, "github", r, None) for r in REPOS]
    write_program_structure(con, [ProgramRow("p", "Program", None)], projects, milestones=[
        ProgramMilestoneRow("p", "Launch", date(2027, 2, 1), members=members)])


def test_a_due_date_moved_between_two_syncs_is_a_slip(tmp_path):
    before = build("demo", 7, AS_OF)
    after = advance(before, 1)
    slipped = [(old, new) for old, new in zip(before.releases, after.releases) if old.due != new.due]
    assert len(slipped) == 1  # the night slips one open release
    old, new = slipped[0]
    slipped_id = milestone_id(before, old)
    other = next(r for r in before.releases if r.released_at is None and r.project != old.project
                 and r.due is not None)
    members = tuple(("milestone", before.project[r.project].site, r.project, r.name) for r in (old, other))
    work = tmp_path / "work.duckdb"
    with serve(before) as sandbox:
        with connect(work) as con:
            migrate(con)
            assert failures(sync(sandbox, con, "first")) == {}
            write_program(con, members)
            build_all(con, FIRST)
            first = {r[0]: r[1:] for r in con.execute(
                "SELECT milestone_id, due_date, slip_days, due_date_moves, baseline_source FROM marts.milestone_slips"
            ).fetchall()}
        assert first[slipped_id] == (old.due, 0, 0, "first_seen")
        night = requests.post(f"{sandbox.url}/_sandbox/advance", json={"days": 1}, timeout=30).json()
        as_of = datetime.fromisoformat(night["now"])
        with connect(work) as con:
            assert failures(sync(sandbox, con, "night")) == {}
            write_program(con, members)
            build_all(con, as_of)
            rows = {r[0]: r[1:] for r in con.execute("""
                SELECT milestone_id, kind, baseline_due_date, due_date, slip_days, due_date_moves, first_seen_at,
                       baseline_scope_items, scope_items
                FROM marts.milestone_slips""").fetchall()}
            snapshots = dict(con.execute("SELECT milestone_id, count(*) FROM meta.milestone_snapshots "
                                         "GROUP BY ALL").fetchall())
            sprints = con.execute("SELECT count(*) FROM marts.milestone_slips WHERE kind = 'sprint'").fetchall()[0][0]
            assert sprints == con.execute("SELECT count(*) FROM core.sprints").fetchall()[0][0] > 0
        slip = (new.due - old.due).days
        assert 1 <= slip <= 14
        kind = "milestone" if before.project[old.project].site == GITHUB else "version"
        assert rows[slipped_id][:6] == (kind, old.due, new.due, slip, 1, FIRST)
        assert snapshots[slipped_id] >= 2
        # every other release kept its due date: no slip, no move
        for release in before.releases:
            mid = milestone_id(before, release)
            if mid != slipped_id and mid in rows:
                assert rows[mid][3:5] == (0, 0) or rows[mid][2] is None, (release.name, rows[mid])
        # the program milestone rolls up its two members and moved with neither (its date is the config's)
        launch = rows["program:p:Launch"]
        assert launch[:5] == ("program", date(2027, 2, 1), date(2027, 2, 1), 0, 0)
        assert launch[7] == rows[slipped_id][7] + rows[milestone_id(before, other)][7] > 0

    # a full rebuild keeps the history: the same slips from scratch
    copy = tmp_path / "scratch.duckdb"
    shutil.copyfile(work, copy)
    with connect(copy) as con:
        forget_derived(con)
        build_all(con, as_of)
        again = {r[0]: r[1:] for r in con.execute("""
            SELECT milestone_id, kind, baseline_due_date, due_date, slip_days, due_date_moves, first_seen_at,
                   baseline_scope_items, scope_items
            FROM marts.milestone_slips""").fetchall()}
        assert dict(con.execute("SELECT milestone_id, count(*) FROM meta.milestone_snapshots "
                                "GROUP BY ALL").fetchall()) == snapshots
    assert again == rows
