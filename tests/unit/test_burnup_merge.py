"""marts.burnup kept current from what changed equals it rebuilt whole.

A night merges the changed items into core.burnup_events, whose [changes] section records how
their events changed (meta.burnup_changes); marts.burnup's [merge] section then rebuilds the lines
that are new or whose first day moved, drops those gone and the days past a line's new end, appends
the days as_of moved on by, and adds the changes to the days from theirs on (transforms/build.py,
Step.incremental). Here events, milestones and as_of change at random, and after each night the
merged table must be the whole build's, row for row.
"""

from __future__ import annotations

import math
from datetime import date, datetime, time, timedelta, timezone
from importlib import resources

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from transforms.build import (STEP, _sections, build_step, merge_incremental, rebuild_incremental, render, set_as_of,
                              sql_for)
from warehouse.store import migrate

START = date(2026, 1, 1)
BURNUP = STEP["marts.burnup"]
PROJECT_LINES = [("p", "A"), ("p", "B"), ("q", "C")]  # (program, project)
MILESTONES = ["M1", "M2", "M3"]
ITEMS = [f"i{n}" for n in range(6)]
POINTS = [None, 0.5, 1.0, 1.3, 2.0, 3.25]
LINES = [("milestone", m) for m in MILESTONES] + [("project", p) for p in PROJECT_LINES] + [("program", p) for p in ("p", "q")]


@pytest.fixture(scope="module")
def sections() -> tuple[dict[str, str], dict[str, str]]:
    con = duckdb.connect()  # render() reads no site here: neither file has custom-field placeholders
    return (_sections(sql_for("core", "burnup_events")), _sections(render(con, sql_for(BURNUP.schema, BURNUP.table))))


@pytest.fixture(scope="module")
def reused() -> duckdb.DuckDBPyConnection:
    return world()


def world() -> duckdb.DuckDBPyConnection:
    """The two tables marts.burnup reads, and the one its merge applies (migration 021)."""
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    for schema in ("core", "meta", "marts"):
        con.execute(f"CREATE SCHEMA {schema}")
    con.execute(resources.files("warehouse").joinpath("sql", "021_burnup_changes.sql").read_text(encoding="utf-8"))
    core_tables(con)
    return con


def emptied(con: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyConnection:
    """``world()`` as it was made, again: a fresh catalog per example cost a tenth of the test."""
    for table in ("core.burnup_events", "core.milestones", "meta.burnup_changes"):
        con.execute(f"DELETE FROM {table}")
    con.execute("DROP TABLE IF EXISTS marts.burnup")
    return con


def core_tables(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("""CREATE TABLE core.burnup_events (item_id VARCHAR, level VARCHAR, program_id VARCHAR,
                   project_key VARCHAR, milestone_id VARCHAR, day DATE, scope INTEGER, done INTEGER,
                   unestimated INTEGER, wip INTEGER, scope_points DOUBLE, done_points DOUBLE)""")
    con.execute("""CREATE TABLE core.milestones (milestone_id VARCHAR, program_id VARCHAR, project_key VARCHAR,
                   start_date DATE, due_date DATE, state VARCHAR, closed_at TIMESTAMPTZ)""")


event = st.tuples(  # any change at all, on any line and day
    st.sampled_from(LINES),
    st.integers(0, 20),  # day
    st.integers(-1, 1), st.integers(-1, 1), st.integers(-1, 1), st.integers(-1, 1),
    st.sampled_from(POINTS), st.sampled_from(POINTS))
@st.composite
def lifecycle(draw) -> list[tuple]:
    """An item's events on one line as trackers make them: it enters the scope, may be done, may
    leave (moved out, discarded): what nets to nothing from its exit on, yet adds and removes."""
    line = draw(st.sampled_from(LINES))
    enter = draw(st.integers(0, 17))
    done = draw(st.one_of(st.none(), st.integers(enter, 20)))
    leave = draw(st.one_of(st.none(), st.integers(enter + 1, 21)))
    points = draw(st.sampled_from(POINTS))
    events = [(line, enter, 1, 0, int(points is None), 0, points, None)]
    done_before_leaving = done is not None and (leave is None or done < leave)
    if done_before_leaving:
        events.append((line, done, 0, 1, 0, 0, None, points))
    if leave is not None:
        events.append((line, leave, -1, -int(done_before_leaving), -int(points is None), 0,
                       None if points is None else -points,
                       None if points is None or not done_before_leaving else -points))
    return events


existing = st.tuples(  # (program, project), start, due, state, closed: days, or none
    st.sampled_from(PROJECT_LINES), st.one_of(st.none(), st.integers(0, 20)), st.one_of(st.none(), st.integers(0, 25)),
    st.sampled_from(["open", "released", "closed"]), st.one_of(st.none(), st.integers(0, 25)))
milestone = st.none() | existing  # none: not (or no longer) a milestone
item_events = lifecycle() | lifecycle() | st.lists(event, max_size=4)
state = st.fixed_dictionaries({
    "events": st.dictionaries(st.sampled_from(ITEMS), item_events, max_size=len(ITEMS)),
    "milestones": st.fixed_dictionaries({m: existing for m in MILESTONES}),
    "as_of": st.integers(3, 23),
})
KEEP = "keep"  # a night leaves most milestones as they were: their lines are merged, not rebuilt
night = st.fixed_dictionaries({
    "events": st.dictionaries(st.sampled_from(ITEMS), item_events, max_size=3),
    "milestones": st.fixed_dictionaries({m: st.sampled_from([KEEP, KEEP, KEEP]) | milestone for m in MILESTONES}),
    "as_of": st.integers(3, 23),
})


def event_rows(item: str, events) -> list[tuple]:
    rows = []
    for (level, key), day, scope, done, unestimated, wip, scope_points, done_points in events:
        program, project, milestone_id = ((None, None, key) if level == "milestone"
                                          else (key[0], key[1], None) if level == "project" else (key, None, None))
        rows.append((item, level, program, project, milestone_id, START + timedelta(days=day), scope, done,
                     unestimated, wip, scope_points, done_points))
    return rows


def set_milestones(con: duckdb.DuckDBPyConnection, milestones: dict) -> None:
    for name, spec in milestones.items():
        if spec == KEEP:
            continue
        con.execute("DELETE FROM core.milestones WHERE milestone_id = ?", [name])
        if spec is None:
            continue
        (program, project), start, due, status, closed = spec
        day = lambda n: None if n is None else START + timedelta(days=n)  # noqa: E731
        con.execute("INSERT INTO core.milestones VALUES (?, ?, ?, ?, ?, ?, ?)",
                    [name, program, project, day(start), day(due), status,
                     None if closed is None else datetime.combine(day(closed), time(12), timezone.utc)])


def as_of(n: int) -> datetime:
    return datetime.combine(START + timedelta(days=n), time(18), timezone.utc)


def merge_items(con: duckdb.DuckDBPyConnection, changes: dict[str, str], events: dict) -> None:
    """What build_step does for a night's merge of core.burnup_events, with hand-made new rows."""
    con.execute("CREATE OR REPLACE TEMP TABLE _scope AS SELECT unnest(?::VARCHAR[]) AS item_id", [list(events)])
    con.execute("CREATE OR REPLACE TEMP TABLE _merged AS SELECT * FROM core.burnup_events LIMIT 0")
    rows = [row for item, item_events in events.items() for row in event_rows(item, item_events)]
    if rows:  # one statement: a row at a time was a sixth of this test's time
        placeholders = ", ".join(["(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"] * len(rows))
        con.execute(f"INSERT INTO _merged VALUES {placeholders}", [value for row in rows for value in row])
    con.execute(changes["changes"])
    con.execute("DELETE FROM core.burnup_events WHERE item_id IN (SELECT item_id FROM _scope)")
    con.execute("INSERT INTO core.burnup_events SELECT * FROM _merged")


def burnup(con: duckdb.DuckDBPyConnection) -> list[tuple]:
    return con.execute("SELECT * FROM marts.burnup ORDER BY ALL").fetchall()


def whole(con: duckdb.DuckDBPyConnection, parts: dict[str, str]) -> list[tuple]:
    """The mart rebuilt whole, its pending changes then moot (as build_step does); its rows."""
    rebuild_incremental(con, BURNUP, parts)
    con.execute("DELETE FROM meta.burnup_changes")
    return burnup(con)


def merge(con: duckdb.DuckDBPyConnection, parts: dict[str, str]) -> int:
    """The mart merged, its pending changes then applied (as build_step does); the lines changed."""
    lines = merge_incremental(con, BURNUP, parts)
    con.execute("DELETE FROM meta.burnup_changes")
    return lines


def first_build(con: duckdb.DuckDBPyConnection, sections, events: dict, day: int) -> None:
    """core.burnup_events holding ``events`` and the mart built whole from them as of ``day``."""
    changes, parts = sections
    merge_items(con, changes, events)
    con.execute("DELETE FROM meta.burnup_changes")  # a first build records nothing
    set_as_of(con, as_of(day))
    whole(con, parts)


@settings(max_examples=100, deadline=None, derandomize=True,  # the same examples on every run
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(first=state, nights=st.lists(st.tuples(night, st.booleans()), min_size=1, max_size=3))
def test_a_merged_burnup_equals_it_rebuilt_whole(sections, reused, first, nights):
    changes, parts = sections
    con = emptied(reused)
    set_milestones(con, first["milestones"])
    first_build(con, sections, first["events"], first["as_of"])
    for night, mart_built in nights:
        merge_items(con, changes, night["events"])  # the night's items: their new events, or none
        set_milestones(con, night["milestones"])
        set_as_of(con, as_of(night["as_of"]))
        if not mart_built:  # a build that stopped before the marts: the changes wait for the next
            continue
        merge(con, parts)
        merged = burnup(con)
        assert merged == whole(con, parts)


def test_a_change_in_the_past_moves_every_later_day(sections):
    """Worked by hand: a milestone line of one item done on day 3; a night finds it was done on
    day 1 instead (a history rewritten by a resync), and as_of moved from day 5 to day 7."""
    changes, parts = sections
    con = world()
    set_milestones(con, {"M1": (("p", "A"), 0, None, "open", None)})
    line = [("milestone", "M1")]

    def item(done_on: int) -> list:
        return [(line[0], 0, 1, 0, 0, 0, 2.0, None), (line[0], done_on, 0, 1, 0, 0, 0.0, 2.0)]

    first_build(con, sections, {"i0": item(3)}, 5)
    merge_items(con, changes, {"i0": item(1)})
    assert con.execute("SELECT day, done, done_points FROM meta.burnup_changes ORDER BY day").fetchall() == [
        (START + timedelta(days=1), 1, 2), (START + timedelta(days=3), -1, -2)]
    set_as_of(con, as_of(7))
    assert merge(con, parts) == 1  # one line changed, none rebuilt whole
    done = con.execute("SELECT day - DATE '2026-01-01', scope_items, done_items, done_points FROM marts.burnup "
                       "ORDER BY day").fetchall()
    assert done == [(0, 1, 0, 0.0), (1, 1, 1, 2.0), (2, 1, 1, 2.0), (3, 1, 1, 2.0), (4, 1, 1, 2.0), (5, 1, 1, 2.0),
                    (6, 1, 1, 2.0), (7, 1, 1, 2.0)]


def test_scope_from_before_a_milestone_starts_is_in_its_first_day_but_not_added_then(sections):
    """Worked by hand: M1 starts on day 10 and holds one item from day 12; a night adds an item
    that joined it on day 2. Day 10's row then holds both items' scope (days before the first fold
    into it) but adds neither: scope added counts only from the first day, as a whole build does."""
    changes, parts = sections
    con = world()
    set_milestones(con, {"M1": (("p", "A"), 10, None, "open", None)})
    first_build(con, sections, {"i0": [(("milestone", "M1"), 12, 1, 0, 0, 0, None, None)]}, 20)
    merge_items(con, changes, {"i1": [(("milestone", "M1"), 2, 1, 0, 0, 0, None, None)]})
    merge(con, parts)
    rows = con.execute("SELECT day - DATE '2026-01-01', scope_items, scope_added_items FROM marts.burnup "
                       "WHERE day <= DATE '2026-01-13' ORDER BY day").fetchall()
    assert rows == [(10, 1, 0), (11, 1, 0), (12, 2, 1)]
    assert burnup(con) == whole(con, parts)


def test_a_days_points_past_decimal_18_6_build_whole_and_merge(sections):
    """Each estimate is below 1e9 (staging's bound), but 1,001 of them on one line and day sum past
    DECIMAL(18, 6): the whole build keeps the sum exact rather than fail, and so does a merge, to
    the last bit a DOUBLE holds at that size (the merge reads the DOUBLE column back as a decimal:
    one unit in the last place, 1.2e-4, apart)."""
    changes, parts = sections
    con = world()
    set_milestones(con, {"M1": (("p", "A"), 0, None, "open", None)})
    big = {f"i{n}": [(("milestone", "M1"), 1, 1, 0, 0, 0, 999_999_999.0, None)] for n in range(1001)}
    first_build(con, sections, big, 3)
    assert con.execute("SELECT scope_points FROM marts.burnup WHERE day = DATE '2026-01-02'").fetchone()[0] == 1001 * 999_999_999
    merge_items(con, changes, {"i0": [(("milestone", "M1"), 2, 1, 0, 0, 0, 999_999_999.0, None)]})
    set_as_of(con, as_of(4))
    merge(con, parts)
    merged, rebuilt = burnup(con), whole(con, parts)
    assert [r[:7] + r[8:] for r in merged] == [r[:7] + r[8:] for r in rebuilt]
    assert all(abs(m[7] - r[7]) <= math.ulp(r[7]) for m, r in zip(merged, rebuilt))


def test_an_item_leaving_a_day_earlier_moves_its_scope_removed_to_that_day(sections):
    """Worked by hand: an item in M1 from day 3 to day 5; a night finds it left on day 4. Day 4
    loses it and counts it removed; day 5's change nets to nothing from then on, yet day 5 no
    longer counts it removed."""
    changes, parts = sections
    con = world()
    set_milestones(con, {"M1": (("p", "A"), 0, None, "open", None)})
    stay = lambda leave: [(("milestone", "M1"), 3, 1, 0, 1, 0, None, None),  # noqa: E731
                          (("milestone", "M1"), leave, -1, 0, -1, 0, None, None)]
    first_build(con, sections, {"i0": stay(5)}, 10)
    merge_items(con, changes, {"i0": stay(4)})
    merge(con, parts)
    rows = con.execute("SELECT day - DATE '2026-01-01', scope_items, scope_added_items, scope_removed_items "
                       "FROM marts.burnup WHERE day BETWEEN DATE '2026-01-04' AND DATE '2026-01-07' ORDER BY day").fetchall()
    assert rows == [(3, 1, 1, 0), (4, 0, 0, 1), (5, 0, 0, 0), (6, 0, 0, 0)]
    assert burnup(con) == whole(con, parts)


def test_lines_that_grow_from_different_days_read_only_their_own_new_days(sections):
    """Worked by hand: as_of moves from day 10 to day 12, so the open M1 grows from day 10 on; the
    released M2 ends on its closing, which moved from day 8 to day 9, so it grows from day 8 on.
    M1's event on day 10 is in the table already and must not count again."""
    changes, parts = sections
    con = world()
    released = lambda closed: (("p", "B"), 0, None, "released", closed)  # noqa: E731
    set_milestones(con, {"M1": (("p", "A"), 0, None, "open", None), "M2": released(8)})
    first_build(con, sections, {"i0": [(("milestone", "M1"), 10, 1, 0, 1, 0, None, None)],
                                "i1": [(("milestone", "M2"), 2, 1, 0, 1, 0, None, None)]}, 10)
    set_milestones(con, {"M2": released(9)})
    set_as_of(con, as_of(12))
    merge(con, parts)
    assert con.execute("SELECT day - DATE '2026-01-01', scope_items FROM marts.burnup WHERE milestone_id = 'M1' "
                       "AND day >= DATE '2026-01-10' ORDER BY day").fetchall() == [(9, 0), (10, 1), (11, 1), (12, 1)]
    assert burnup(con) == whole(con, parts)


def test_build_step_rebuilds_merges_and_skips_as_the_recorded_state_says(sections):
    """Through build_step on a migrated warehouse: the first build is whole; nothing new skips; a
    change recorded by core.burnup_events' merge is applied even if its built_at did not move (a
    clock stepped back); core.burnup_events rebuilt whole rebuilds the mart whole and drops what
    was pending."""
    changes, parts = sections
    con = duckdb.connect()
    migrate(con)
    con.execute("SET TimeZone = 'UTC'")
    core_tables(con)
    set_milestones(con, {"M1": (("p", "A"), 0, None, "open", None)})
    merge_items(con, changes, {"i0": [(("milestone", "M1"), 2, 1, 0, 1, 0, None, None)]})
    for table in ("burnup_events", "milestones"):
        con.execute("INSERT INTO meta.transform_state (schema_name, table_name, inputs, built_at, row_count, "
                    "structure, restructured_at) VALUES ('core', ?, '', TIMESTAMPTZ '2026-01-01 00:00:00+00', 0, '', "
                    "TIMESTAMPTZ '2026-01-01 00:00:00+00')", [table])

    def build(at: int = 10) -> str:
        return build_step(con, BURNUP, as_of(at)).how

    def pending() -> int:
        return con.execute("SELECT count(*) FROM meta.burnup_changes").fetchone()[0]

    assert build() == "rebuilt" and pending() == 0
    assert build() == "skipped"
    merge_items(con, changes, {"i1": [(("milestone", "M1"), 4, 1, 0, 1, 0, None, None)]})
    assert pending() == 1 and build() == "merged" and pending() == 0
    assert build(12) == "merged"  # as_of moved on: two days appended
    assert con.execute("SELECT max(day), arg_max(scope_items, day) FROM marts.burnup").fetchone() == (
        START + timedelta(days=12), 2)
    merge_items(con, changes, {"i1": []})
    con.execute("UPDATE meta.transform_state SET built_at = now(), restructured_at = now() "
                "WHERE table_name = 'burnup_events'")
    assert pending() == 1 and build(12) == "rebuilt" and pending() == 0
    assert burnup(con) == whole(con, parts)
