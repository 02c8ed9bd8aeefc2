"""marts.item_flow kept current from what changed equals it rebuilt whole, and both say what
METRICS.md "Flow" says.

What does not move with as_of is core.item_flow_facts, merged per changed item; a night's merge
records the items in meta.item_flow_changes, and the mart's [merge] section replaces their rows and
moves every other row's as_of figures forward in place (transforms/build.py, Step.incremental).
Here items, their status changes and their blocked and flagged spells change at random while as_of
moves on; after each night the merged tables must be the whole builds, row for row, and the
blocked and flagged days those of a reference written from the definitions.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from importlib import resources

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from transforms.build import STEP, _sections, merge_incremental, rebuild_incremental, set_as_of, sql_for

START = datetime(2026, 1, 1, tzinfo=timezone.utc)
FLOW = STEP["marts.item_flow"]
ITEMS = [f"i{n}" for n in range(10)]
PROJECTS = ["A", "A", "A", "B"]  # mostly one: five cycle times in its window give it a P85


def hours(n: int) -> datetime:
    return START + timedelta(hours=n)


@pytest.fixture(scope="module")
def sections() -> tuple[dict[str, str], dict[str, str]]:
    return _sections(sql_for("core", "item_flow_facts")), _sections(sql_for(FLOW.schema, FLOW.table))


@pytest.fixture(scope="module")
def reused() -> duckdb.DuckDBPyConnection:
    return world()


def emptied(con: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyConnection:
    """``world()`` as it was made, again: a fresh catalog per example cost a tenth of the test."""
    for table in ("core.work_items", "core.status_transitions", "core.item_history", "meta.item_flow_changes"):
        con.execute(f"DELETE FROM {table}")
    con.execute("DROP TABLE IF EXISTS core.item_flow_facts")
    con.execute("DROP TABLE IF EXISTS marts.item_flow")
    return con


def world() -> duckdb.DuckDBPyConnection:
    """The tables the two steps read, and the one the merge records into (migration 023)."""
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    for schema in ("core", "meta", "marts"):
        con.execute(f"CREATE SCHEMA {schema}")
    con.execute(resources.files("warehouse").joinpath("sql", "023_item_flow_changes.sql").read_text(encoding="utf-8"))
    con.execute("""CREATE TABLE core.work_items (item_id VARCHAR, key VARCHAR, program_id VARCHAR, project_key VARCHAR,
                   milestone_id VARCHAR, source VARCHAR, item_type VARCHAR, status VARCHAR, status_category VARCHAR,
                   resolution VARCHAR, assignee VARCHAR, created_at TIMESTAMPTZ, updated_at TIMESTAMPTZ)""")
    con.execute("""CREATE TABLE core.status_transitions (item_id VARCHAR, changed_at TIMESTAMPTZ, from_category VARCHAR,
                   to_category VARCHAR)""")
    con.execute("""CREATE TABLE core.item_history (item_id VARCHAR, field VARCHAR, value VARCHAR,
                   valid_from TIMESTAMPTZ, valid_to TIMESTAMPTZ)""")
    con.execute("CREATE TABLE meta.metric_settings (flow_window_days INTEGER, stale_days INTEGER)")
    con.execute("INSERT INTO meta.metric_settings VALUES (5, 3)")  # short: items leave the window as nights pass
    con.execute("CREATE TABLE meta.discarded_resolutions (resolution VARCHAR)")
    con.execute("INSERT INTO meta.discarded_resolutions VALUES ('won''t do')")
    return con


# An item: where it is, its walk through the categories and its spells, in hours from START; its
# history runs up to hour ``until`` (the as_of of the night that last saw it).
spell = st.tuples(st.integers(-10, 60), st.one_of(st.none(), st.integers(1, 40)))  # start, length (none: open)
item = st.fixed_dictionaries({
    "project": st.sampled_from(PROJECTS),
    "type": st.sampled_from(["story", "story", "bug", "epic"]),
    "created": st.integers(0, 20),
    "walk": st.lists(st.tuples(st.integers(1, 30), st.sampled_from(["todo", "in_progress", "done", "done"])), max_size=4),
    "resolution": st.sampled_from([None, "Done", "Won't Do"]),
    "blocked": st.lists(spell, max_size=3),
    "flagged": st.lists(spell, max_size=2),
    "updated": st.integers(0, 60),
})
night = st.fixed_dictionaries({
    "items": st.dictionaries(st.sampled_from(ITEMS), st.none() | item, max_size=3),  # none: deleted
    "hours": st.integers(0, 48),  # how far as_of moves on
})


def write_item(con: duckdb.DuckDBPyConnection, item_id: str, spec: dict | None, until: int) -> None:
    """Replace the item's rows in the three core tables (none: it is gone); nothing after ``until``."""
    for table in ("core.work_items", "core.status_transitions", "core.item_history"):
        con.execute(f"DELETE FROM {table} WHERE item_id = ?", [item_id])
    if spec is None:
        return
    created = min(spec["created"], until)
    category, moment, transitions = "todo", created, []
    for step, to in spec["walk"]:
        if moment + step > until or to == category:
            continue
        moment += step
        transitions.append((item_id, hours(moment), category, to))
        category = to
    con.execute("INSERT INTO core.work_items VALUES (?, ?, 'p', ?, NULL, 'jira', ?, ?, ?, ?, NULL, ?, ?)",
                [item_id, item_id.upper(), spec["project"], spec["type"], category.title(), category,
                 spec["resolution"] if category == "done" else None, hours(created),
                 hours(min(max(spec["updated"], created), until))])
    con.execute("INSERT INTO core.status_transitions VALUES (?, ?, NULL, 'todo')", [item_id, hours(created)])
    for row in transitions:
        con.execute("INSERT INTO core.status_transitions VALUES (?, ?, ?, ?)", list(row))
    for field in ("blocked", "flagged"):
        for start, length in spec[field]:
            begin = min(created + start, until)  # a blocker may predate the item; nothing is in the future
            end = None if length is None or begin + length > until else begin + length
            con.execute("INSERT INTO core.item_history VALUES (?, ?, 'x', ?, ?)",
                        [item_id, field, hours(begin), None if end is None else hours(end)])


def build_whole(con: duckdb.DuckDBPyConnection, sections) -> list[tuple]:
    facts, mart = sections
    con.execute("CREATE OR REPLACE TEMP MACRO in_scope(item) AS true")
    con.execute(facts["rows"])
    con.execute("CREATE OR REPLACE TABLE core.item_flow_facts AS SELECT * FROM _rows")
    rebuild_incremental(con, FLOW, mart)
    con.execute("DELETE FROM meta.item_flow_changes")  # moot after a whole build (build_step empties it)
    return rows(con)


def merge_items(con: duckdb.DuckDBPyConnection, sections, items: list[str]) -> None:
    """What build_step does for a night's merge of core.item_flow_facts."""
    facts, _ = sections
    con.execute("CREATE OR REPLACE TEMP TABLE _scope AS SELECT unnest(?::VARCHAR[]) AS item_id", [items])
    con.execute("CREATE OR REPLACE TEMP MACRO in_scope(item) AS item IN (SELECT item_id FROM _scope)")
    con.execute(facts["rows"])
    con.execute(facts["changes"])
    con.execute("DELETE FROM core.item_flow_facts WHERE item_id IN (SELECT item_id FROM _scope)")
    con.execute("INSERT INTO core.item_flow_facts SELECT * FROM _rows")


def rows(con: duckdb.DuckDBPyConnection, table: str = "marts.item_flow") -> list[tuple]:
    return con.execute(f"SELECT * FROM {table} ORDER BY item_id").fetchall()


def reference_days(con: duckdb.DuckDBPyConnection, as_of: datetime) -> dict[str, tuple[float, float]]:
    """Blocked and flagged days as METRICS.md defines them: the union of the blocked spells, each
    cut to creation..done (or as_of); the flagged spells summed, each cut the same way (a flag
    set after done adds nothing)."""
    done_at = dict(con.execute("SELECT item_id, done_at FROM core.item_flow_facts").fetchall())
    created = dict(con.execute("SELECT item_id, created_at FROM core.work_items").fetchall())
    out = {}
    for item_id in done_at:
        end = done_at[item_id] or as_of
        spells = con.execute("SELECT field, valid_from, valid_to FROM core.item_history WHERE item_id = ?",
                             [item_id]).fetchall()
        cut = sorted((max(f, created[item_id]), min(t or as_of, end)) for field, f, t in spells if field == "blocked")
        blocked, reach = 0.0, None
        for f, t in cut:
            f = f if reach is None else max(f, reach)
            if t > f:
                blocked += (t - f).total_seconds()
            reach = t if reach is None else max(reach, t)
        flagged = sum(max((min(t or as_of, end) - max(f, created[item_id])).total_seconds(), 0)
                      for field, f, t in spells if field == "flagged")
        out[item_id] = (blocked / 86400, flagged / 86400)
    return out


def test_the_whole_build_counts_blocked_and_flagged_days_as_the_definitions_say(sections):
    """Worked by hand: created at hour 0; blocked 2-10 and 6-14 (overlapping: 12 hours), and from
    20 on (open); flagged 4-8 and from 30 on; as_of hour 48: blocked 12 + 28 hours, flagged 4 + 18."""
    con = world()
    con.execute("INSERT INTO core.work_items VALUES ('i0', 'I0', 'p', 'A', NULL, 'jira', 'story', 'In Progress', "
                "'in_progress', NULL, NULL, ?, ?)", [hours(0), hours(40)])
    con.execute("INSERT INTO core.status_transitions VALUES ('i0', ?, NULL, 'todo'), ('i0', ?, 'todo', 'in_progress')",
                [hours(0), hours(1)])
    for field, f, t in (("blocked", 2, 10), ("blocked", 6, 14), ("blocked", 20, None), ("flagged", 4, 8),
                        ("flagged", 30, None)):
        con.execute("INSERT INTO core.item_history VALUES ('i0', ?, 'x', ?, ?)", [field, hours(f), t and hours(t)])
    set_as_of(con, hours(48))
    build_whole(con, sections)
    blocked, flagged, is_blocked, is_flagged, age = con.execute(
        "SELECT blocked_days, flagged_days, is_blocked, is_flagged, age_days FROM marts.item_flow").fetchone()
    assert (is_blocked, is_flagged) == (True, True)
    assert (blocked * 24, flagged * 24, age * 24) == pytest.approx((40, 22, 47))
    set_as_of(con, hours(72))  # a day on, nothing changed: only the open spells and the age grow
    merge_incremental(con, FLOW, sections[1])
    assert con.execute("SELECT blocked_days * 24, flagged_days * 24, age_days * 24 FROM marts.item_flow").fetchone() == (
        pytest.approx(64), pytest.approx(46), pytest.approx(71))


@settings(max_examples=60, deadline=None, derandomize=True,  # the same examples on every run
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(first=st.dictionaries(st.sampled_from(ITEMS), item, min_size=5), nights=st.lists(night, min_size=1, max_size=3))
def test_a_merged_item_flow_equals_it_rebuilt_whole(sections, reused, first, nights):
    con = emptied(reused)
    until = 60
    for item_id, spec in first.items():
        write_item(con, item_id, spec, until)
    set_as_of(con, hours(until))
    build_whole(con, sections)
    for n in nights:
        until += n["hours"]
        for item_id, spec in n["items"].items():
            write_item(con, item_id, spec, until)
        set_as_of(con, hours(until))
        merge_items(con, sections, list(n["items"]))
        merge_incremental(con, FLOW, sections[1])
        con.execute("DELETE FROM meta.item_flow_changes")  # applied (build_step empties it)
        merged, facts = rows(con), rows(con, "core.item_flow_facts")
        assert merged == build_whole(con, sections)
        assert facts == rows(con, "core.item_flow_facts")
        expected = reference_days(con, hours(until))
        for item_id, _, blocked, flagged in con.execute(
                "SELECT item_id, NULL, blocked_days, flagged_days FROM marts.item_flow").fetchall():
            assert (blocked, flagged) == pytest.approx(expected[item_id], abs=1e-9), item_id


def test_a_night_that_changes_one_cycle_time_moves_the_p85_of_every_item_of_its_project(sections):
    """Worked by hand: six items of A done with cycle times of 1 to 6 hours, and one in progress for
    6 hours, above the project's P85 of 5.25 (aging). A night re-reads one done item, now done after
    30 hours: the P85 moves to 6 + 0.25 x 24 = 12 hours, and the untouched item in progress, 7 hours
    in, is no longer aging."""
    con = world()

    def done_item(n: int, cycle: int) -> dict:
        return {"project": "A", "type": "story", "created": 0, "walk": [(1, "in_progress"), (cycle, "done")],
                "resolution": "Done", "blocked": [], "flagged": [], "updated": 0}

    for n in range(6):
        write_item(con, f"i{n}", done_item(n, n + 1), 60)
    write_item(con, "i6", {"project": "A", "type": "story", "created": 49, "walk": [(5, "in_progress")],
                           "resolution": None, "blocked": [], "flagged": [], "updated": 54}, 60)
    set_as_of(con, hours(60))
    build_whole(con, sections)
    p85, aging = con.execute("SELECT project_p85_cycle_days * 24, is_aging FROM marts.item_flow WHERE item_id = 'i6'").fetchone()
    assert (p85, aging) == (pytest.approx(5.25), True)
    write_item(con, "i0", done_item(0, 30), 61)
    set_as_of(con, hours(61))
    merge_items(con, sections, ["i0"])
    merge_incremental(con, FLOW, sections[1])
    p85, aging = con.execute("SELECT project_p85_cycle_days * 24, is_aging FROM marts.item_flow WHERE item_id = 'i6'").fetchone()
    assert (p85, aging) == (pytest.approx(6 + 0.25 * 24), False)
    con.execute("DELETE FROM meta.item_flow_changes")
    assert rows(con) == build_whole(con, sections)
