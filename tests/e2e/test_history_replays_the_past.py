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
from datetime import date, datetime, timedelta, timezone

import pytest

from demo_world import failures, record_run, sync, sync_nights, write_program
from sandbox.scenario import build
from sandbox.server import serve
from transforms.build import STEP, _sections, build_all, build_step, rebuild_scoped, render, sql_for
from transforms.history import replay_catalog
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


@pytest.fixture(scope="module")
def synced(tmp_path_factory):
    """The first sync as of 2026-11-27 and a copy synced 3 sandbox nights later, both built:
    (first, later, the later as_of, what the first served, its milestones' progress)."""
    tmp_path = tmp_path_factory.mktemp("history")
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
    return first, later, as_of, served, progress


def test_a_later_sync_reconstructs_what_the_sandbox_served_on_a_past_day(synced):
    first, later, as_of, served, progress = synced
    with connect(later) as con:
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


def test_a_replayed_days_burnup_events_are_todays_cut_at_the_instant(synced):
    """The replay takes core.burnup_events from today's table (transforms.history
    replay_burnup_events) instead of rebuilding it from the rolled-back history: the same rows,
    at midnight and within days on which items changed, were deleted or moved (the nights)."""
    _, later, as_of, _, _ = synced
    instants = [FIRST, FIRST + timedelta(hours=13, minutes=7), as_of - timedelta(days=1, hours=5),
                as_of - timedelta(hours=9), FIRST - timedelta(days=20, hours=2)]
    recomputed = [cut_against_whole(later, instant) for instant in instants]
    assert any(recomputed)  # some instant had items whose events were recomputed


def test_a_replayed_days_burnup_events_recompute_what_changed_later_that_day(synced, tmp_path):
    """The two changes the sandbox never makes alone (its deletions and moves fall at midnight, and
    a move ends its item's milestone at the same moment), made by hand on a copy whose
    core.burnup_events is then rebuilt from them: a milestone membership that ends at 15:00 with
    nothing else changing, and a move at 15:00 that changes nothing else. Replayed at noon that
    day, each item is recomputed, and the result is the whole rebuild's."""
    _, later, as_of, _, _ = synced
    copy = tmp_path / "edited.duckdb"
    shutil.copyfile(later, copy)
    day = (FIRST - timedelta(days=10)).date()
    noon, three = (datetime(day.year, day.month, day.day, hour, tzinfo=timezone.utc) for hour in (12, 15))
    quiet = """NOT EXISTS (SELECT 1 FROM core.item_history o WHERE o.item_id = {item}
                           AND ($day IN (CAST(timezone('UTC', o.valid_from) AS DATE), CAST(timezone('UTC', o.valid_to) AS DATE))))
               AND {item} IN (SELECT item_id FROM core.burnup_events WHERE day < $day)"""
    with connect(copy) as con:
        (member, milestone), = con.execute(f"""
            SELECT item_id, value_id FROM core.item_history h
            WHERE field = 'milestone' AND valid_to IS NULL AND valid_from < $day AND {quiet.format(item='h.item_id')}
            ORDER BY item_id LIMIT 1""", {"day": day}).fetchall()
        con.execute("UPDATE core.item_history SET valid_to = ? WHERE item_id = ? AND field = 'milestone' "
                    "AND value_id = ? AND valid_to IS NULL", [three, member, milestone])
        (mover,), = con.execute(f"""
            SELECT item_id FROM core.tombstones t
            WHERE still_synced AND {quiet.format(item='t.item_id')} AND item_id <> $member
              AND (SELECT count(*) FROM core.tombstones o WHERE o.item_id = t.item_id) = 1
            ORDER BY item_id LIMIT 1""", {"day": day, "member": member}).fetchall()
        con.execute("UPDATE core.tombstones SET vanished_at = ? WHERE item_id = ?", [three, mover])
        build_step(con, STEP["core.burnup_events"], as_of, force=True)  # today's table from the edits
    assert cut_against_whole(copy, noon) >= {member, mover}


def cut_against_whole(path, instant: datetime) -> set[str]:
    """Replay ``instant`` on the warehouse at ``path``, assert its core.burnup_events equal a
    whole rebuild from the rolled-back history, and return the items it recomputed."""
    step = STEP["core.burnup_events"]
    with connect(path) as con:
        parts = _sections(render(con, sql_for(step.schema, step.table)))
        catalog = con.execute("SELECT current_database()").fetchone()[0]
        with replay_catalog(con) as rebuild:
            rebuild(instant, steps=(STEP["core.program_milestone_items"], step))
            cut = con.execute("SELECT * FROM replay.core.burnup_events ORDER BY ALL").fetchall()
            recomputed = {item for (item,) in con.execute("SELECT item_id FROM _later_that_day").fetchall()}
            con.execute("USE replay")
            rebuild_scoped(con, step, parts)  # whole, from the rolled-back history
            con.execute(f'USE "{catalog}"')
            whole = con.execute("SELECT * FROM replay.core.burnup_events ORDER BY ALL").fetchall()
    assert cut == whole, instant
    return recomputed
