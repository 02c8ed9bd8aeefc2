"""History reconstructs the past: what the sandbox served as of a day equals what a later sync's
field history (core.item_history) and burn-up (marts.burnup) say of that day.

The sandbox time-travels: a sync as of 2026-11-27, then nights later another. The later
warehouse's history as of 2026-11-27 00:00 (the burn-up row of 11-26, at that day's end) must
give, item by item, the status category, milestones, points and assignee the first sync saw, and
each milestone's scope and done counts must be the first sync's marts.progress. Items the nights
deleted or moved to another project are gone from the later trackers: a moved one goes on under
its new key, a deleted one is remembered by its tombstone (core.tombstones), whose history the
later warehouse keeps, so they and their milestones are compared too.
"""

from __future__ import annotations

import shutil
from datetime import date, datetime, timezone

import pytest

from demo_world import failures, record_run, sync, sync_nights, write_program
from sandbox.scenario import build
from sandbox.server import serve
from transforms.build import build_all
from warehouse.store import connect, migrate

pytestmark = pytest.mark.e2e

FIRST = datetime(2026, 11, 27, tzinfo=timezone.utc)
STATE = """
    SELECT w.item_id, w.status_category, w.story_points, w.assignee_id,
           (SELECT list(h.value_id ORDER BY h.value_id) FROM core.item_history h
            WHERE h.item_id = w.item_id AND h.field = 'milestone' AND h.valid_to IS NULL) AS milestones
    FROM core.work_items w"""
AS_OF_FIRST = """
    SELECT w.item_id,
           max(h.value) FILTER (WHERE h.field = 'status_category'),
           max(h.value_number) FILTER (WHERE h.field = 'story_points'),
           max(h.value_id) FILTER (WHERE h.field = 'assignee'),
           list(h.value_id ORDER BY h.value_id) FILTER (WHERE h.field = 'milestone')
    FROM (SELECT item_id, created_at FROM core.work_items
          UNION ALL  -- items no synced project returns any more: their kept history
          SELECT item_id, created_at FROM core.tombstones WHERE is_last AND NOT still_synced) w
    LEFT JOIN core.item_history h ON h.item_id = w.item_id AND h.valid_from <= $t
         AND (h.valid_to IS NULL OR h.valid_to > $t)
    WHERE w.created_at <= $t
    GROUP BY w.item_id"""


def test_a_later_sync_reconstructs_what_the_sandbox_served_on_a_past_day(tmp_path):
    with serve(build("demo", 7, date(2026, 11, 27))) as sandbox:
        first = tmp_path / "first.duckdb"
        with connect(first) as con:
            migrate(con)
            record_run(con, "first", FIRST)
            assert failures(sync(sandbox, con, "first")) == {}
            write_program(con)
            build_all(con, FIRST)
            served = {r[0]: (r[1], r[2], r[3], r[4] or []) for r in con.execute(STATE).fetchall()}
            progress = {r[0]: r[1:] for r in con.execute("""
                SELECT milestone_id, scope_items, done_items, scope_points, done_points FROM marts.progress
                WHERE level = 'milestone'""").fetchall()}
        later = tmp_path / "later.duckdb"
        shutil.copyfile(first, later)
        as_of = sync_nights(sandbox, later, 3)
        with connect(later) as con:
            build_all(con, as_of)
            remembered = {r[0]: (r[1], r[2], r[3], r[4] or []) for r in con.execute(AS_OF_FIRST, {"t": FIRST}).fetchall()}
            present = {r[0]: r[1] for r in con.execute("SELECT item_id, project_key FROM core.work_items").fetchall()}
            # a closed milestone's line stops at its last change: its latest day on or before 11-26
            burnup = {r[0]: r[1:] for r in con.execute("""
                SELECT milestone_id, scope_items, done_items, scope_points, done_points FROM marts.burnup
                WHERE level = 'milestone' AND day <= DATE '2026-11-26'
                QUALIFY day = max(day) OVER (PARTITION BY milestone_id)""").fetchall()}
    with connect(first) as con:
        before = {r[0]: r[1] for r in con.execute("SELECT item_id, project_key FROM core.work_items").fetchall()}
    gone = {i for i, project in before.items() if present.get(i) != project}  # deleted, or moved away
    assert 0 < len(gone) < len(before) / 10 and gone - set(present) and gone & set(present)
    assert len(before) > 500
    # every item the first sync saw, the deleted and the moved ones too
    mismatched = [(i, served[i], remembered.get(i)) for i in sorted(before) if served[i] != remembered.get(i)]
    assert mismatched == []
    # every milestone, those that lost items to deletions and moves too: the burn-up's day is the progress served
    touched = {m for i in gone for m in served[i][3]}
    compared = 0
    for milestone, figures in progress.items():
        if figures[0] == 0:
            continue
        assert burnup.get(milestone) == figures, milestone
        compared += 1
    assert compared >= 5 and touched & set(progress)

