"""Dependency risk, critical path and health rules on worlds small enough to work out by hand.

Each test starts from an empty warehouse whose derived tables exist but hold nothing, writes the few
rows of core and marts that the rule reads (one program ``p``, project ``P``, milestone ``M`` due in
30 days, and whatever the case needs), builds the risk and health tables with the real SQL, and
reads one verdict. as_of is 2026-11-20 00:00 UTC.

A healthy milestone M by default: 70% done at 70% of its time (started 70 days ago, due in 30),
P(on time) 95%, nothing blocked, nothing in progress, no scope added, no slip.
"""

from __future__ import annotations

import shutil
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipelines.defs.checks import UNEXPLAINED_HEALTH
from transforms.build import STEP, ProgramRow, ProjectRow, build_all, build_step, set_as_of, write_program_structure
from transforms.health import HealthThresholds, write_health_thresholds
from warehouse.store import connect, migrate

AS_OF = datetime(2026, 11, 20, tzinfo=timezone.utc)
TODAY = AS_OF.date()
RISK_STEPS = ("marts.dependency_risk", "marts.critical_path", "marts.health_reasons", "marts.health",
              "marts.project_health", "marts.program_health")


@pytest.fixture(scope="module")
def empty(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("health") / "empty.duckdb"
    with connect(path) as con:
        migrate(con)
        write_program_structure(con, [ProgramRow("p", "Program", None)],
                                [ProjectRow("p", "s", "jira", "P", None), ProjectRow("p", "s", "jira", "Q", None),
                                 ProjectRow("p", "s", "jira", "R", None)])
        build_all(con, AS_OF)
        for table in ("marts.progress", "marts.flow", "marts.throughput", "marts.health_reasons", "marts.health"):
            con.execute(f"DELETE FROM {table}")
        con.execute("CHECKPOINT")
    return path


class World:
    """Rows written straight into the tables the risk and health SQL reads."""

    def __init__(self, con):
        self.con = con
        self.flow("P")

    def insert(self, table: str, **values) -> None:
        names = ", ".join(values)
        marks = ", ".join("?" for _ in values)
        self.con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM (VALUES ({marks})) AS v({names})",
                         list(values.values()))

    def milestone(self, mid: str = "M", *, project: str = "P", due: date | None = TODAY + timedelta(days=30),
                  start: date = TODAY - timedelta(days=70), scope: int = 10, done: int = 7, p_on_time: float = 0.95,
                  status: str = "forecast", p85: date | None = None, decided_by: str | None = None) -> None:
        self.insert("core.milestones", milestone_id=mid, program_id="p", project_key=project, site="s", source="jira",
                    milestone_type="version", name=f"{mid} 1.0", start_date=start, due_date=due, state="open",
                    items=scope, done_items=done, open_items=scope - done)
        self.insert("marts.progress", level="milestone", program_id="p", project_key=project, milestone_id=mid,
                    name=f"{mid} 1.0", due_date=due, state="open", as_of=AS_OF, scope_items=scope, done_items=done,
                    open_items=scope - done, progress_by_count=done / scope if scope else None)
        self.insert("marts.forecasts", level="milestone", program_id="p", project_key=project, milestone_id=mid,
                    name=f"{mid} 1.0", as_of=AS_OF, due_date=due, remaining_items=scope - done, status=status,
                    p50_date=p85, p70_date=p85, p85_date=p85 or due, p95_date=p85 or due,
                    p_on_time=p_on_time if status == "forecast" else None, decided_by=decided_by,
                    decided_share=0.9)
        self.slip(mid, moves=0, slip_days=0, baseline=due, start=start, project=project)
        self.burnup(mid, [(0, scope, 0, 0)], project=project)

    def item(self, key: str, *, milestone: str | None = "M", project: str = "P", category: str = "todo",
             due: date | None = None, updated_days_ago: int = 1, age_days: float | None = None,
             flagged: bool = False, at_risk: bool = False) -> str:
        item_id = f"s:{key}"
        updated = AS_OF - timedelta(days=updated_days_ago)
        self.insert("core.work_items", item_id=item_id, program_id="p", project_key=project, site="s", source="jira",
                    key=key, title=key, item_type="story", status=category, status_category=category,
                    created_at=AS_OF - timedelta(days=80), updated_at=updated, due_date=due, milestone_id=milestone,
                    at_risk=at_risk, flagged=flagged)
        if milestone:
            self.insert("core.item_history", item_id=item_id, field="milestone", value=milestone, value_id=milestone,
                        valid_from=AS_OF - timedelta(days=80))
        self.insert("marts.item_flow", item_id=item_id, key=key, program_id="p", project_key=project,
                    milestone_id=milestone, item_type="story", status=category, status_category=category,
                    is_wip=category == "in_progress", age_days=age_days if category == "in_progress" else None,
                    project_p85_cycle_days=10.0, is_flagged=flagged, updated_at=updated, as_of=AS_OF)
        return item_id

    def flow(self, project: str, p85: float = 10.0, p95: float = 20.0) -> None:
        self.insert("marts.flow", level="project", program_id="p", project_key=project, as_of=AS_OF,
                    cycle_time_p85_days=p85, cycle_time_p95_days=p95)

    def depends(self, blocker: str, blocked: str, *, blocked_days: int = 1) -> None:
        rows = dict(self.con.execute("SELECT key, project_key FROM core.work_items").fetchall())
        self.insert("core.dependencies", blocker_item_id=f"s:{blocker}", blocked_item_id=f"s:{blocked}",
                    blocker_key=blocker, blocked_key=blocked, source="jira", link_type="Blocks",
                    blocker_project_key=rows.get(blocker, "X"), blocked_project_key=rows[blocked],
                    cross_project=rows.get(blocker) != rows[blocked], cross_program=blocker not in rows,
                    cross_tracker=False, is_open=True, both_synced=blocker in rows)
        self.insert("core.item_history", item_id=f"s:{blocked}", field="blocked", value=blocker,
                    value_id=f"s:{blocker}", valid_from=AS_OF - timedelta(days=blocked_days))

    def burnup(self, mid: str, days: list[tuple[int, int, int, int]], project: str = "P") -> None:
        """(days before as_of, scope, added, removed) per day; done stays 0."""
        self.con.execute("DELETE FROM marts.burnup WHERE milestone_id = ?", [mid])
        for ago, scope, added, removed in days:
            self.insert("marts.burnup", level="milestone", program_id="p", project_key=project, milestone_id=mid,
                        day=TODAY - timedelta(days=ago), scope_items=scope, done_items=0, scope_added_items=added,
                        scope_removed_items=removed)

    def slip(self, mid: str, *, moves: int, slip_days: int, baseline: date | None, start: date,
             project: str = "P") -> None:
        self.con.execute("DELETE FROM marts.milestone_slips WHERE milestone_id = ?", [mid])
        self.insert("marts.milestone_slips", milestone_id=mid, kind="version", program_id="p", site="s",
                    project_key=project, name=f"{mid} 1.0", state="open", start_date=start,
                    due_date=baseline and baseline + timedelta(days=slip_days), baseline_due_date=baseline,
                    slip_days=slip_days, due_date_moves=moves)

    def busy_person(self, person: str, items: list[str], projects: int) -> None:
        self.insert("marts.resource_conflicts", person_id=person, person_name=person.title(), as_of=AS_OF,
                    wip_items=len(items), wip_projects=projects, projects="P (1), Q (1), R (1)",
                    in_too_many_projects=projects >= 3, over_wip_limit=False)
        for key in items:
            self.insert("marts.resource_conflict_items", person_id=person, person_name=person.title(),
                        item_id=f"s:{key}", key=key, program_id="p", project_key="P")

    def build(self, thresholds: HealthThresholds | None = None) -> None:
        if thresholds:
            write_health_thresholds(self.con, thresholds)
        set_as_of(self.con, AS_OF)
        for name in RISK_STEPS:
            build_step(self.con, STEP[name], AS_OF, force=True, cache={})

    def verdict(self, dimension: str, milestone: str = "M") -> str:
        return self.reason(dimension, milestone)[0]

    def reason(self, dimension: str, milestone: str = "M") -> tuple[str, str]:
        return self.con.execute("""SELECT verdict, sentence FROM marts.health_reasons
                                   WHERE milestone_id = ? AND dimension = ? AND is_summary""",
                                [milestone, dimension]).fetchone()

    def health(self, level: str = "milestone", milestone: str | None = "M") -> str:
        return self.con.execute("SELECT health FROM marts.health WHERE level = ? AND milestone_id IS NOT DISTINCT FROM ?",
                                [level, milestone if level == "milestone" else None]).fetchone()[0]


@pytest.fixture
def world(empty, tmp_path):
    path = tmp_path / "world.duckdb"
    shutil.copy(empty, path)
    with connect(path) as con:
        yield World(con)


# --- dependency risk ------------------------------------------------------------------------------

def risk(world: World, blocker: str) -> tuple:
    return world.con.execute("""SELECT risk, is_late, is_wrong_order, is_unscheduled, is_stale, in_cycle, reason
                                FROM marts.dependency_risk WHERE blocker_key = ?""", [blocker]).fetchone()


def test_a_blocker_whose_milestone_is_past_due_is_late(world):
    world.milestone("M")
    world.milestone("B", due=TODAY - timedelta(days=10), project="Q")
    world.item("B-1", milestone="B", project="Q", category="in_progress")
    world.item("X-1", category="todo")
    world.depends("B-1", "X-1", blocked_days=12)
    world.build()
    assert risk(world, "B-1") == ("red", True, False, False, False, False,
                                  "B-1 (late: B 1.0 was due 2026-11-10) blocks X-1 in M 1.0, due 2026-12-20, 30 days away.")
    age, reach = world.con.execute("SELECT blocked_age_days, reach FROM marts.dependency_risk").fetchone()
    assert (age, reach) == (12, "cross_project")


def test_a_blocker_due_or_forecast_after_the_blocked_work_is_in_the_wrong_order(world):
    world.milestone("M")
    world.milestone("B", due=TODAY + timedelta(days=20), project="Q", p85=TODAY + timedelta(days=41))
    world.item("B-1", milestone="B", project="Q")  # its milestone is forecast 11 days after M is due
    world.item("B-2", milestone=None, project="Q", due=TODAY + timedelta(days=35))  # due 5 days after M
    world.item("X-1")
    world.item("X-2")
    world.depends("B-1", "X-1")
    world.depends("B-2", "X-2")
    world.build()
    assert risk(world, "B-1")[:3] == ("red", False, True)
    assert risk(world, "B-1")[6] == ("B-1 (wrong order: B 1.0 forecast 2026-12-31 at P85) blocks X-1 in M 1.0, "
                                     "due 2026-12-20, 30 days away.")
    assert risk(world, "B-2")[:3] == ("red", False, True)
    assert risk(world, "B-2")[6] == "B-2 (wrong order: due 2026-12-25) blocks X-2 in M 1.0, due 2026-12-20, 30 days away."


def test_a_blocker_in_the_same_milestone_is_not_in_the_wrong_order_by_that_milestones_forecast(world):
    world.milestone("M", p85=TODAY + timedelta(days=60), p_on_time=0.1)
    world.item("X-1")
    world.item("X-2")
    world.depends("X-1", "X-2")
    world.build()
    assert risk(world, "X-1")[:3] == ("green", False, False)
    assert world.verdict("forecast") == "red"  # the late milestone is the forecast's business


def test_a_blocker_without_a_date_is_unscheduled_and_never_fine(world):
    world.milestone("M")
    world.item("B-1", milestone=None, project="Q")
    world.item("X-1")
    world.depends("B-1", "X-1")
    world.depends("OUT-9", "X-1")  # not synced at all
    world.build()
    assert risk(world, "B-1")[:4] == ("amber", False, False, True)
    assert risk(world, "OUT-9")[0] == "amber"
    assert "not in a synced project" in risk(world, "OUT-9")[6]
    assert world.verdict("dependencies") == "amber"


def test_a_blocker_untouched_for_the_stale_days_is_stale(world):
    world.milestone("M")
    world.milestone("B", project="Q", due=TODAY + timedelta(days=10))
    world.item("B-1", milestone="B", project="Q", updated_days_ago=15)
    world.item("B-2", milestone="B", project="Q", updated_days_ago=14)  # stale means more than 14 days
    world.item("X-1")
    world.depends("B-1", "X-1")
    world.depends("B-2", "X-1")
    world.build()
    assert risk(world, "B-1")[0:5:4] == ("amber", True)
    assert risk(world, "B-2")[0:5:4] == ("green", False)
    assert "no change for 15 days" in risk(world, "B-1")[6]


def test_a_cycle_is_listed_with_its_members(world):
    world.milestone("M")
    for key in ("C-1", "C-2", "C-3", "D-1"):
        world.item(key)
    world.depends("C-1", "C-2")
    world.depends("C-2", "C-3")
    world.depends("C-3", "C-1")
    world.depends("C-3", "D-1")  # leaves the cycle: not in it
    world.build()
    rows = world.con.execute("""SELECT blocker_key, blocked_key, in_cycle, cycle_size, cycle_member_keys, risk
                                FROM marts.dependency_risk ORDER BY ALL""").fetchall()
    assert rows == [("C-1", "C-2", True, 3, "C-1, C-2, C-3", "red"), ("C-2", "C-3", True, 3, "C-1, C-2, C-3", "red"),
                    ("C-3", "C-1", True, 3, "C-1, C-2, C-3", "red"), ("C-3", "D-1", False, None, None, "green")]


# --- critical path --------------------------------------------------------------------------------

def test_the_critical_path_follows_what_decides_the_finish(world):
    world.milestone("M", p85=TODAY + timedelta(days=50), decided_by="B")
    world.milestone("B", project="Q", p85=TODAY + timedelta(days=50), decided_by="C")
    world.milestone("C", project="R", p85=TODAY + timedelta(days=50))
    world.item("B-1", milestone="B", project="Q", category="in_progress")
    world.item("C-1", milestone="C", project="R")
    world.item("X-1")
    world.depends("B-1", "X-1")
    world.depends("C-1", "B-1")
    world.build()
    path = world.con.execute("""SELECT step, step_name, blocking_pairs, path_days FROM marts.critical_path
                                WHERE level = 'milestone' AND milestone_id = 'M' ORDER BY step""").fetchall()
    assert path == [(0, "M 1.0", None, 50), (1, "B 1.0", "B-1 blocks X-1", 50), (2, "C 1.0", "C-1 blocks B-1", 50)]


def test_a_milestone_is_never_greener_than_the_milestones_that_decide_its_finish(world):
    world.milestone("M", decided_by="B")
    world.milestone("B", project="Q", p_on_time=0.2)  # red on its own
    world.build()
    assert world.verdict("forecast") == "green"
    assert world.verdict("critical_path") == "red"
    assert world.health() == "red"


# --- one rule each --------------------------------------------------------------------------------

@pytest.mark.parametrize("p_on_time, verdict", [(0.95, "green"), (0.90, "amber"), (0.71, "amber"), (0.70, "red")])
def test_forecast_thresholds(world, p_on_time, verdict):
    world.milestone("M", p_on_time=p_on_time)
    world.build()
    assert world.verdict("forecast") == verdict


def test_no_forecast_is_unknown_and_the_schedule_decides(world):
    world.milestone("M", status="insufficient data")
    world.build()
    assert world.reason("forecast") == ("unknown", "M 1.0: no forecast (insufficient data); the schedule decides.")
    assert world.health() == "green"


@pytest.mark.parametrize("done, verdict", [(7, "green"), (6, "amber"), (5, "amber"), (4, "red")])
def test_schedule_thresholds(world, done, verdict):
    # 70% of the time has passed: 7 of 10 done is on plan (green); 6 is 10 points behind and 5 is 20
    # (amber: 10 to 20 points); 4 is 30 (red: over 20)
    world.milestone("M", done=done)
    world.build()
    assert world.verdict("schedule") == verdict


def test_past_the_due_date_with_open_work_is_red(world):
    world.milestone("M", due=TODAY - timedelta(days=3), done=9)
    world.build()
    assert world.reason("schedule") == ("red", "M 1.0 was due 2026-11-17 (3 days ago) and still has 1 of 10 items open.")


@pytest.mark.parametrize("moves, slip_days, verdict", [(0, 0, "green"), (1, 10, "amber"), (2, 5, "amber"),
                                                       (1, 11, "red"), (3, 0, "red")])
def test_slip_thresholds(world, moves, slip_days, verdict):
    # planned: 100 days from start to the baseline due date; 10% of it is 10 days
    world.milestone("M")
    world.slip("M", moves=moves, slip_days=slip_days, baseline=TODAY + timedelta(days=30),
               start=TODAY - timedelta(days=70))
    world.build()
    assert world.verdict("slip") == verdict


@pytest.mark.parametrize("blocked_days, untouched_days, verdict", [(4, 4, "green"), (5, 1, "amber"), (1, 5, "amber"),
                                                                   (14, 1, "red"), (1, 14, "red")])
def test_blocked_and_stale_thresholds(world, blocked_days, untouched_days, verdict):
    world.milestone("M")
    world.milestone("B", project="Q")
    world.item("B-1", milestone="B", project="Q")
    world.item("X-1")
    world.item("X-2", category="in_progress", updated_days_ago=untouched_days, age_days=3)
    world.depends("B-1", "X-1", blocked_days=blocked_days)
    world.build()
    assert world.verdict("blocked_stale") == verdict


@pytest.mark.parametrize("ages, verdict", [
    ([5, 5, 5, 5], "green"),  # nothing older than the P85 (10 days)
    ([11, 5, 5, 5], "green"),  # 25% over the P85 is not more than 25%
    ([21, 5, 5, 5, 5], "amber"),  # one over the P95 (20 days)
    ([11, 11, 5, 5], "red"),  # 50% over the P85
])
def test_aging_wip_thresholds(world, ages, verdict):
    world.milestone("M")
    for n, age in enumerate(ages):
        world.item(f"W-{n}", category="in_progress", age_days=age)
    world.build()
    assert world.verdict("aging_wip") == verdict


@pytest.mark.parametrize("due_in, added, removed_recently, verdict", [
    (60, 3, 0, "green"),  # 3 added over 10 open: 30% is not more than 30%
    (60, 4, 0, "amber"),  # 40%
    (25, 1, 0, "red"),  # still growing within 30 days of the due date
    (25, 1, 1, "green"),  # ... unless as much left as came in the last 14 days
])
def test_scope_thresholds(world, due_in, added, removed_recently, verdict):
    world.milestone("M", due=TODAY + timedelta(days=due_in))
    world.burnup("M", [(20, 10 - added, 0, 0), (3, 10 + removed_recently, added, 0), (0, 10, 0, removed_recently)])
    world.build()
    assert world.verdict("scope") == verdict


def test_someone_split_across_three_projects_is_amber(world):
    world.milestone("M")
    world.item("X-1", category="in_progress", age_days=1)
    world.item("X-2", category="in_progress", age_days=1)
    world.busy_person("ana", ["X-1"], projects=3)
    world.busy_person("bo", ["X-2"], projects=2)
    world.build()
    assert world.reason("people") == ("amber", "1 person has work in progress here and in 3 or more projects: "
                                               "Ana (P (1), Q (1), R (1)).")


def test_flagged_or_at_risk_items_are_a_signal(world):
    world.milestone("M")
    world.item("X-1", at_risk=True)
    world.build()
    assert world.reason("signals") == ("amber", "1 open item flagged or labelled at risk: X-1.")


def test_thresholds_are_per_program(world):
    world.milestone("M", p_on_time=0.8)
    world.build(HealthThresholds(forecast_green_above=0.75, forecast_red_at_or_below=0.5))
    assert world.verdict("forecast") == "green"


# --- roll-up --------------------------------------------------------------------------------------

def test_one_red_outside_the_critical_path_is_amber_and_two_are_red(world):
    world.milestone("M")
    world.item("X-1", category="in_progress", updated_days_ago=20, age_days=3)  # blocked/stale red
    world.build()
    assert world.health() == "amber"
    world.item("X-2", category="in_progress", age_days=30)  # and aging WIP red (1 of 2 over the P85)
    world.build()
    assert world.health() == "red"


def test_one_amber_alone_is_green_and_two_are_amber(world):
    world.milestone("M")
    world.item("X-1", at_risk=True)  # signals amber
    world.build()
    assert world.health() == "green"
    world.item("X-2", category="in_progress", updated_days_ago=6, age_days=3)  # blocked/stale amber
    world.build()
    assert world.health() == "amber"


def test_a_red_forecast_alone_is_red(world):
    world.milestone("M", p_on_time=0.5)
    world.build()
    assert world.health() == "red"
    headline = world.con.execute("SELECT headline FROM marts.health WHERE milestone_id = 'M'").fetchone()[0]
    assert headline == "M 1.0 is red: forecast red."


def test_unknown_is_never_shown_as_green(world):
    world.milestone("M")
    world.item("X-1", category="in_progress", age_days=3)
    world.con.execute("UPDATE marts.item_flow SET project_p85_cycle_days = NULL")  # no cycle times to age WIP against
    world.build()
    assert world.verdict("aging_wip") == "unknown"
    assert world.health() == "unknown"


def test_a_stale_project_is_unknown_with_its_age_and_cause(world):
    world.milestone("M")
    world.insert("meta.source_syncs", sync_id="a", site="s", project_key="P", source="jira", status="succeeded",
                 items=1, requests=1, started_at=AS_OF - timedelta(days=3), finished_at=AS_OF - timedelta(days=3))
    world.insert("meta.source_syncs", sync_id="b", site="s", project_key="P", source="jira", status="failed",
                 items=0, requests=1, error="HTTPError: 503", started_at=AS_OF - timedelta(hours=1), finished_at=AS_OF)
    world.build()
    assert world.health("project", None) == "unknown"
    reasons = world.con.execute("SELECT reasons FROM marts.project_health WHERE project_key = 'P'").fetchone()[0]
    assert reasons[0].startswith("Stale: last synced 2 days before the latest sync of P, which failed (HTTPError: 503)")


# --- properties -----------------------------------------------------------------------------------

VERDICTS = st.sampled_from(["green", "amber", "red"])
SEVERITY = {"green": 1, "unknown": 2, "amber": 3, "red": 4}


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(p_on_time=st.floats(0, 1), done=st.integers(0, 10), blocker_late=st.booleans(), blocker_p_on_time=st.floats(0, 1),
       untouched=st.integers(0, 30), aging=st.lists(st.integers(1, 40), max_size=4))
def test_properties_of_the_roll_up(empty, tmp_path_factory, p_on_time, done, blocker_late, blocker_p_on_time,
                                   untouched, aging):
    path = tmp_path_factory.mktemp("prop") / "w.duckdb"
    shutil.copy(empty, path)
    with connect(path) as con:
        world = World(con)
        world.milestone("M", p_on_time=p_on_time, done=done, decided_by="B")
        world.milestone("B", project="Q", p_on_time=blocker_p_on_time,
                        due=TODAY + timedelta(days=-5 if blocker_late else 20))
        world.item("B-1", milestone="B", project="Q")
        world.item("X-1", category="in_progress", updated_days_ago=untouched, age_days=2)
        for n, age in enumerate(aging):
            world.item(f"W-{n}", category="in_progress", age_days=age)
        world.depends("B-1", "X-1")
        world.build()
        world.build()  # a rebuild gives the same rows
        health = dict(con.execute("SELECT coalesce(milestone_id, level), health FROM marts.health").fetchall())
        # never greener than what its finish waits on; a program never greener than its critical path
        assert SEVERITY[health["M"]] >= SEVERITY[health["B"]]
        path = con.execute("""SELECT max(h.health = 'red')::INT * 4 FROM marts.critical_path c
                              JOIN marts.health h ON h.milestone_id = c.step_milestone_id
                              WHERE c.level = 'program' AND c.step >= 1""").fetchone()[0]
        assert path is None or SEVERITY[health["program"]] >= path
        # every verdict that is not green has a reason as bad: red or amber for amber, unknown for unknown
        assert con.execute(UNEXPLAINED_HEALTH).fetchall() == []  # the Dagster check's question
