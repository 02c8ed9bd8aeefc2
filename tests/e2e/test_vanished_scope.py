"""Scope that vanishes is seen, through the sandbox over loopback: a night deletes a Jira and a
GitHub issue and moves a Jira issue to another project. The next sync leaves a tombstone for
each, with the state the first sync saw; the burn-up counts the deleted ones until that night and
as scope removed on its day, and the moved one as removed from its old milestone when it moved.
A rerun of the night writes no tombstone twice, and a full resync keeps them.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta, timezone

import pytest
import requests

from demo_world import AS_OF, failures, record_run, sync, write_program
from pipelines.ingest import SyncPolicy
from transforms.build import build_all
from warehouse.store import connect, migrate

pytestmark = pytest.mark.e2e

FIRST = datetime.combine(AS_OF, time(0), tzinfo=timezone.utc)
STATE = """
    SELECT w.key, w.item_id, w.project_key, w.item_type, w.status_category, w.story_points, w.assignee_id,
           coalesce((SELECT list(h.value_id ORDER BY h.value_id) FROM core.item_history h
                     WHERE h.item_id = w.item_id AND h.field = 'milestone' AND h.valid_to IS NULL), []) AS milestones
    FROM core.work_items w"""
TOMBSTONES = "SELECT * EXCLUDE (synced_at) FROM raw.tombstones ORDER BY ALL"



def test_deleted_and_moved_issues_leave_tombstones_and_the_burnup(sandbox, tmp_path):
    path = tmp_path / "work.duckdb"
    with connect(path) as con:
        migrate(con)
        record_run(con, "first", FIRST)
        assert failures(sync(sandbox, con, "first")) == {}
        write_program(con)
        build_all(con, FIRST)
        before = {r[0]: r[1:] for r in con.execute(STATE).fetchall()}
        assert con.execute("SELECT count(*) FROM raw.tombstones").fetchone()[0] == 0

    night = requests.post(f"{sandbox.url}/_sandbox/advance", json={"days": 1}, timeout=30).json()
    now = datetime.fromisoformat(night["now"])
    deleted, moved = night["deleted"], {m["from"]: m["to"] for m in night["moved"]}
    assert deleted and moved and any("#" in k for k in deleted) and any("#" not in k for k in deleted)
    with connect(path) as con:
        record_run(con, "night", now)
        assert failures(sync(sandbox, con, "night")) == {}
        build_all(con, now)
        raw = {r[0]: r[1:] for r in con.execute("""
            SELECT key_before, kind, moved_to_key, observed_at, sync_id, item_id, project_before, status_category,
                   story_points, assignee_id, milestone_ids
            FROM raw.tombstones""").fetchall()}
        core = {r[0]: r[1:] for r in con.execute("""
            SELECT key_before, kind, moved_to_key, vanished_at, still_synced, item_type, program_id, history_held
            FROM core.tombstones""").fetchall()}
        present = {r[0] for r in con.execute("SELECT item_id FROM core.work_items").fetchall()}
        assert set(raw) == set(core) == set(deleted) | set(moved)

        for key in deleted:  # the last known state is what the first sync's warehouse said
            item_id, project, _, category, points, assignee, milestones = before[key]
            assert raw[key] == ("deleted", None, now, "night", item_id, project, category, points, assignee,
                                milestones), key
            assert core[key] == ("deleted", None, now, False, before[key][2], "p", True), key
            assert item_id not in present
            # its history survives, closed when the night's sync found it gone
            open_rows = con.execute("""SELECT count(*) FILTER (WHERE valid_to IS NULL OR valid_to > ?), count(*)
                                       FROM core.item_history WHERE item_id = ?""", [now, item_id]).fetchone()
            assert open_rows[0] == 0 and open_rows[1] > 0, key
            # scope removed that day, in its milestones and its project; counted the day before
            for milestone in milestones:
                assert _removed(con, "milestone", milestone, now) >= 1, (key, milestone)
            assert _removed(con, "project", project, now) >= 1, key

        for old, new in moved.items():  # Jira keeps the id: the item goes on in its new project
            item_id, project, _, _, _, _, milestones = before[old]
            assert raw[old][:2] == ("moved", new)
            kind, moved_to, moved_at, still_synced, _, _, _ = core[old]
            assert (kind, moved_to, still_synced) == ("moved", new, True)
            assert FIRST <= moved_at <= now  # dated by the changelog, not by the sync
            assert item_id in present
            for milestone in milestones:  # Jira takes the fix version away as it moves the issue
                assert _removed(con, "milestone", milestone, moved_at) >= 1, (old, milestone)
            # out of its old project that day, into its new one
            assert _removed(con, "project", project, moved_at) >= 1, old
            assert con.execute("""SELECT scope_added_items FROM marts.burnup WHERE level = 'project'
                                  AND project_key = ? AND day = ?""", [new.split("-")[0], moved_at.date()]
                               ).fetchone()[0] >= 1, new

        held = con.execute(TOMBSTONES).fetchall()
        derived = con.execute("SELECT * FROM core.tombstones ORDER BY ALL").fetchall()

        # a rerun of the night, and another night with nothing new, write nothing twice
        assert failures(sync(sandbox, con, "night")) == {}
        record_run(con, "again", now)
        assert failures(sync(sandbox, con, "again", policy=SyncPolicy(reconcile=True))) == {}
        assert con.execute(TOMBSTONES).fetchall() == held
        # a full resync refetches everything and drops what it did not see: the tombstones stay
        record_run(con, "full", now)
        assert failures(sync(sandbox, con, "full", policy=SyncPolicy(full=True))) == {}
        assert con.execute(TOMBSTONES).fetchall() == held
        build_all(con, now)
        assert con.execute("SELECT * FROM core.tombstones ORDER BY ALL").fetchall() == derived


def _removed(con, level: str, entity: str, instant: datetime) -> int:
    """Items the burn-up counts as scope removed on ``instant``'s UTC day, after checking that the
    day's scope is the day before's plus added minus removed."""
    column = "milestone_id" if level == "milestone" else "project_key"
    rows = con.execute(f"""
        SELECT day, scope_items, scope_added_items, scope_removed_items FROM marts.burnup
        WHERE level = ? AND {column} = ? AND day IN (?, ?) ORDER BY day""",
        [level, entity, instant.date() - timedelta(days=1), instant.date()]).fetchall()
    assert len(rows) == 2, (level, entity, rows)
    (_, scope_before, _, _), (_, scope, added, removed) = rows
    assert scope == scope_before + added - removed
    return removed
