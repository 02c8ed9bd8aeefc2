"""marts.burnup kept current from what changed equals it rebuilt whole.

A night merges the changed items into core.burnup_events, whose [changes] section records how
their events changed (meta.burnup_changes); marts.burnup's [merge] section then rebuilds the lines
that are new or whose first day moved, drops those gone and the days past a line's new end, appends
the days as_of moved on by, and adds the changes to the days from theirs on (transforms/build.py,
Step.incremental). Here events, milestones and as_of change at random, and after each night the
merged table must be the whole build's, row for row.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from importlib import resources

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from transforms.build import STEP, _sections, merge_incremental, rebuild_incremental, render, set_as_of, sql_for

START = date(2026, 1, 1)
BURNUP = STEP["marts.burnup"]
PROJECT_LINES = [("p", "A"), ("p", "B"), ("q", "C")]  # (program, project)
MILESTONES = ["M1", "M2", "M3"]
ITEMS = [f"i{n}" for n in range(6)]
POINTS = [None, 0.5, 1.0, 1.3, 2.0, 3.25]


@pytest.fixture(scope="module")
def sections() -> tuple[dict[str, str], dict[str, str]]:
    con = duckdb.connect()  # render() reads no site here: neither file has custom-field placeholders
    return (_sections(sql_for("core", "burnup_events")), _sections(render(con, sql_for(BURNUP.schema, BURNUP.table))))


def world() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    for schema in ("core", "meta", "marts"):
        con.execute(f"CREATE SCHEMA {schema}")
    con.execute("""CREATE TABLE core.burnup_events (item_id VARCHAR, level VARCHAR, program_id VARCHAR,
                   project_key VARCHAR, milestone_id VARCHAR, day DATE, scope INTEGER, done INTEGER,
                   unestimated INTEGER, wip INTEGER, scope_points DOUBLE, done_points DOUBLE)""")
    con.execute("""CREATE TABLE core.milestones (milestone_id VARCHAR, program_id VARCHAR, project_key VARCHAR,
                   start_date DATE, due_date DATE, state VARCHAR, closed_at TIMESTAMPTZ)""")
    con.execute(resources.files("warehouse").joinpath("sql", "021_burnup_changes.sql").read_text(encoding="utf-8"))
    return con


event = st.tuples(
    st.sampled_from([("milestone", m) for m in MILESTONES] + [("project", p) for p in PROJECT_LINES]
                    + [("program", p) for p in ("p", "q")]),
    st.integers(0, 40),  # day
    st.integers(-1, 1), st.integers(-1, 1), st.integers(-1, 1), st.integers(-1, 1),
    st.sampled_from(POINTS), st.sampled_from(POINTS))
existing = st.tuples(  # (program, project), start, due, state, closed: days, or none
    st.sampled_from(PROJECT_LINES), st.one_of(st.none(), st.integers(0, 40)), st.one_of(st.none(), st.integers(0, 50)),
    st.sampled_from(["open", "released", "closed"]), st.one_of(st.none(), st.integers(0, 50)))
milestone = st.none() | existing  # none: not (or no longer) a milestone
state = st.fixed_dictionaries({
    "events": st.dictionaries(st.sampled_from(ITEMS), st.lists(event, max_size=5), max_size=len(ITEMS)),
    "milestones": st.fixed_dictionaries({m: existing for m in MILESTONES}),
    "as_of": st.integers(5, 45),
})
KEEP = "keep"  # a night leaves most milestones as they were: their lines are merged, not rebuilt
night = st.fixed_dictionaries({
    "events": st.dictionaries(st.sampled_from(ITEMS), st.lists(event, max_size=5), max_size=3),
    "milestones": st.fixed_dictionaries({m: st.sampled_from([KEEP, KEEP, KEEP]) | milestone for m in MILESTONES}),
    "as_of": st.integers(5, 45),
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
    for item, item_events in events.items():
        for row in event_rows(item, item_events):
            con.execute("INSERT INTO _merged VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", list(row))
    con.execute(changes["changes"])
    con.execute("DELETE FROM core.burnup_events WHERE item_id IN (SELECT item_id FROM _scope)")
    con.execute("INSERT INTO core.burnup_events SELECT * FROM _merged")


def burnup(con: duckdb.DuckDBPyConnection) -> list[tuple]:
    return con.execute("SELECT * FROM marts.burnup ORDER BY ALL").fetchall()


def whole(con: duckdb.DuckDBPyConnection, parts: dict[str, str]) -> list[tuple]:
    rebuild_incremental(con, BURNUP, parts)
    con.execute("DELETE FROM meta.burnup_changes")
    return burnup(con)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(first=state, nights=st.lists(st.tuples(night, st.booleans()), min_size=1, max_size=3))
def test_a_merged_burnup_equals_it_rebuilt_whole(sections, first, nights):
    changes, parts = sections
    con = world()
    merge_items(con, changes, first["events"])
    con.execute("DELETE FROM meta.burnup_changes")  # the first build is whole
    set_milestones(con, first["milestones"])
    set_as_of(con, as_of(first["as_of"]))
    whole(con, parts)
    for night, mart_built in nights:
        merge_items(con, changes, night["events"])  # the night's items: their new events, or none
        set_milestones(con, night["milestones"])
        set_as_of(con, as_of(night["as_of"]))
        if not mart_built:  # a build that stopped before the marts: the changes wait for the next
            continue
        merge_incremental(con, BURNUP, parts)
        con.execute("DELETE FROM meta.burnup_changes")
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

    merge_items(con, changes, {"i0": item(3)})
    con.execute("DELETE FROM meta.burnup_changes")
    set_as_of(con, as_of(5))
    whole(con, parts)
    merge_items(con, changes, {"i0": item(1)})
    assert con.execute("SELECT day, done, done_points FROM meta.burnup_changes ORDER BY day").fetchall() == [
        (START + timedelta(days=1), 1, 2), (START + timedelta(days=3), -1, -2)]
    set_as_of(con, as_of(7))
    assert merge_incremental(con, BURNUP, parts) == 1  # one line changed, none rebuilt whole
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
    merge_items(con, changes, {"i0": [(("milestone", "M1"), 12, 1, 0, 0, 0, None, None)]})
    con.execute("DELETE FROM meta.burnup_changes")
    set_as_of(con, as_of(20))
    whole(con, parts)
    merge_items(con, changes, {"i1": [(("milestone", "M1"), 2, 1, 0, 0, 0, None, None)]})
    merge_incremental(con, BURNUP, parts)
    rows = con.execute("SELECT day - DATE '2026-01-01', scope_items, scope_added_items FROM marts.burnup "
                       "WHERE day <= DATE '2026-01-13' ORDER BY day").fetchall()
    assert rows == [(10, 1, 0), (11, 1, 0), (12, 2, 1)]
    con.execute("DELETE FROM meta.burnup_changes")
    assert burnup(con) == whole(con, parts)
