"""Field history, progress, burn-up, flow and forecasts on six Jira issues worked out by hand.

PAY 1.0 (version 100) starts 2026-11-02; as_of is 2026-11-14 00:00 UTC, so its burn-up runs to
2026-11-14. What each issue does (UTC):

PAY-1  created 11-01 10:00 in PAY 1.0, 3 points; In Progress 11-03 10:00; Done 11-05 10:00.
PAY-2  created 11-01 10:00, 5 points; moved into PAY 1.0 11-04 12:00; re-estimated to 8 11-06 08:00;
       In Progress 11-06 09:00; blocked by PAY-4 from 11-07 10:00 (a Link changelog item).
PAY-3  created 11-02 08:00 in PAY 1.0, unestimated; Done as Won't Do 11-07 10:00: discarded.
PAY-4  created 11-02 08:00 in PAY 1.0, 2 points, To Do; moved to PAY 2.0 11-08 10:00.
PAY-5  created 11-03 08:00 in PAY 1.0, 1 point; Done 11-04 08:00; reopened 11-09 08:00;
       flagged 11-10 00:00, unflagged 11-12 00:00.
PAY-6  created 11-01 09:00 in Triage, a status the site's list lacks; To Do 11-02; In Progress 11-03.
"""

from __future__ import annotations

from datetime import date, datetime, timezone

import pytest

from pipelines.defs.checks import UNBALANCED_BURNUP_EVENTS
from transforms.build import MetricSettings, ProgramRow, ProjectRow, build_all, write_program_structure
from warehouse.store import connect, migrate, upsert

AS_OF = datetime(2026, 11, 14, tzinfo=timezone.utc)
SYNCED = datetime(2026, 11, 14, tzinfo=timezone.utc)
STATUSES = {"Triage": "9", "To Do": "1", "In Progress": "3", "Done": "10001", "Closed": "6"}
SITE_STATUSES = [  # the site's status list: Triage is not on it
    {"id": "1", "name": "To Do", "statusCategory": {"key": "new"}},
    {"id": "3", "name": "In Progress", "statusCategory": {"key": "indeterminate"}},
    {"id": "10001", "name": "Done", "statusCategory": {"key": "done"}},
]
CATEGORY = {"To Do": "new", "In Progress": "indeterminate", "Done": "done", "Triage": "new", "Closed": "done"}
VERSIONS = {"100": "PAY 1.0", "101": "PAY 2.0"}


def status(old: str, new: str) -> dict:
    return {"field": "status", "fieldtype": "jira", "fieldId": "status", "from": STATUSES[old], "fromString": old,
            "to": STATUSES[new], "toString": new}


def resolution(name: str | None) -> dict:
    return {"field": "resolution", "fieldtype": "jira", "fieldId": "resolution", "from": None, "fromString": None,
            "to": "1" if name else None, "toString": name}


def version(added: str | None = None, removed: str | None = None) -> dict:
    return {"field": "Fix Version", "fieldtype": "jira", "fieldId": "fixVersions",
            "from": removed, "fromString": VERSIONS.get(removed or ""), "to": added, "toString": VERSIONS.get(added or "")}


def points(old: str | None, new: str | None) -> dict:
    return {"field": "Story point estimate", "fieldtype": "custom", "fieldId": "customfield_10016",
            "from": None, "fromString": old, "to": None, "toString": new}


def flag(on: bool) -> dict:
    return {"field": "Flagged", "fieldtype": "custom", "fieldId": "customfield_10021", "from": None if on else "[10019]",
            "fromString": None if on else "Impediment", "to": "[10019]" if on else None,
            "toString": "Impediment" if on else None}


def link(key: str) -> dict:
    return {"field": "Link", "fieldtype": "jira", "from": None, "fromString": None, "to": key,
            "toString": f"This issue is blocked by {key}"}


def issue(n: int, created: str, state: str, versions: list[str], sp: float | None, histories: list[tuple[str, list]],
          res: str | None = None, links: list | None = None, flagged: bool = False) -> dict:
    return {"id": str(n), "key": f"PAY-{n}", "fields": {
        "summary": f"Item {n}", "issuetype": {"name": "Story"}, "project": {"name": "Payments"},
        "status": {"name": state, "statusCategory": {"key": CATEGORY[state]}},
        "resolution": {"name": res} if res else None,
        "created": f"2026-{created}:00.000+0000", "updated": "2026-11-12T00:00:00.000+0000", "labels": [],
        "components": [], "fixVersions": [{"id": v, "name": VERSIONS[v]} for v in versions],
        "issuelinks": links or [], "customfield_10016": sp,
        "customfield_10021": [{"value": "Impediment", "id": "10019"}] if flagged else None},
        "changelog": {"histories": [
            {"id": str(n * 100 + i), "created": f"2026-{at}:00.000+0000", "author": {"displayName": "Ana"}, "items": items}
            for i, (at, items) in enumerate(histories)]}}


ISSUES = [
    issue(1, "11-01T10:00", "Done", ["100"], 3, [("11-03T10:00", [status("To Do", "In Progress")]),
                                                  ("11-05T10:00", [status("In Progress", "Done"), resolution("Done")])],
          res="Done"),
    issue(2, "11-01T10:00", "In Progress", ["100"], 8, [
        ("11-04T12:00", [version(added="100")]), ("11-06T08:00", [points("5", "8")]),
        ("11-06T09:00", [status("To Do", "In Progress")]), ("11-07T10:00", [link("PAY-4")])],
        links=[{"id": "1", "type": {"name": "Blocks", "inward": "is blocked by", "outward": "blocks"},
                "inwardIssue": {"id": "4", "key": "PAY-4"}}]),
    issue(3, "11-02T08:00", "Done", ["100"], None, [("11-07T10:00", [status("To Do", "Done"), resolution("Won't Do")])],
          res="Won't Do"),
    issue(4, "11-02T08:00", "To Do", ["101"], 2, [("11-08T10:00", [version(removed="100"), version(added="101")])]),
    issue(5, "11-03T08:00", "In Progress", ["100"], 1, [
        ("11-04T08:00", [status("To Do", "Done"), resolution("Done")]),
        ("11-09T08:00", [status("Done", "In Progress"), resolution(None)]),
        ("11-10T00:00", [flag(True)]), ("11-12T00:00", [flag(False)])]),
    issue(6, "11-01T09:00", "In Progress", [], None, [("11-02T09:00", [status("Triage", "To Do")]),
                                                        ("11-03T09:00", [status("To Do", "In Progress")])]),
]


@pytest.fixture(scope="module")
def con(tmp_path_factory):
    path = tmp_path_factory.mktemp("metrics") / "work.duckdb"
    with connect(path) as con:
        land_and_build(con, ISSUES, SITE_STATUSES, versions=[
            {"site": "cloud", "project_key": "PAY", "version_id": "100", "synced_at": SYNCED, "sync_id": "s1",
             "payload": {"id": "100", "name": "PAY 1.0", "startDate": "2026-11-02", "releaseDate": "2026-11-20",
                         "released": False, "archived": False}},
            {"site": "cloud", "project_key": "PAY", "version_id": "101", "synced_at": SYNCED, "sync_id": "s1",
             "payload": {"id": "101", "name": "PAY 2.0", "releaseDate": "2026-12-18", "released": False,
                         "archived": False}}])
        yield con


def land_and_build(con, issues: list[dict], statuses: list[dict], versions: list[dict] = ()) -> None:
    """Land one Jira Cloud site (its status list ``statuses``), ``versions`` and ``issues`` of project
    PAY in program p, and build every table as of AS_OF."""
    migrate(con)
    upsert(con, "raw.jira_sites", [{
        "site": "cloud", "base_url": "https://cloud.example", "myself": {}, "fields": [], "statuses": statuses,
        "server_info": {"deploymentType": "Cloud", "baseUrl": "https://cloud.example"}, "link_types": [],
        "field_roles": {"story_points": "customfield_10016", "flagged": "customfield_10021"},
        "synced_at": SYNCED, "sync_id": "s1"}],
        json_columns=("server_info", "myself", "fields", "statuses", "link_types", "field_roles"))
    upsert(con, "raw.jira_versions", list(versions), json_columns=("payload",))
    upsert(con, "raw.jira_issues", [
        {"site": "cloud", "project_key": "PAY", "issue_id": i["id"], "issue_key": i["key"],
         "updated_at": i["fields"]["updated"], "payload": i, "synced_at": SYNCED, "sync_id": "s1"}
        for i in issues])
    write_program_structure(con, [ProgramRow("p", "Program", None)],
                            [ProjectRow("p", "cloud", "jira", "PAY", None)],
                            metrics=MetricSettings(throughput_weeks=2, forecast_trials=2000, forecast_seed=3))
    build_all(con, AS_OF)


def at(con, table: str, where: str, columns: str):
    return con.execute(f"SELECT {columns} FROM {table} WHERE {where}").fetchall()


def test_the_creation_row_carries_its_own_status_and_category(con):
    rows = con.execute("""
        SELECT w.key, t.to_status, t.to_category FROM core.status_transitions t JOIN core.work_items w USING (item_id)
        WHERE t.transition_seq = 1 ORDER BY w.key""").fetchall()
    assert rows == [("PAY-1", "To Do", "todo"), ("PAY-2", "To Do", "todo"), ("PAY-3", "To Do", "todo"),
                    ("PAY-4", "To Do", "todo"),  # never changed status: its current one
                    ("PAY-5", "To Do", "todo"),
                    ("PAY-6", "Triage", None)]  # not on the site's list: unknown, never To Do's category


def test_history_intervals_answer_what_was_true_on_a_day(con):
    def on(day: str, field: str) -> list:
        return con.execute("""
            SELECT w.key, h.value FROM core.item_history h JOIN core.work_items w USING (item_id)
            WHERE h.field = ? AND h.valid_from <= ?::TIMESTAMPTZ AND (h.valid_to IS NULL OR h.valid_to > ?::TIMESTAMPTZ)
            ORDER BY w.key, h.value""", [field, day, day]).fetchall()

    assert on("2026-11-05 00:00+00", "milestone") == [
        ("PAY-1", "PAY 1.0"), ("PAY-2", "PAY 1.0"), ("PAY-3", "PAY 1.0"), ("PAY-4", "PAY 1.0"), ("PAY-5", "PAY 1.0")]
    assert on("2026-11-09 00:00+00", "milestone") == [
        ("PAY-1", "PAY 1.0"), ("PAY-2", "PAY 1.0"), ("PAY-3", "PAY 1.0"), ("PAY-4", "PAY 2.0"), ("PAY-5", "PAY 1.0")]
    assert on("2026-11-06 08:30+00", "story_points") == [("PAY-1", "3.0"), ("PAY-2", "8.0"), ("PAY-4", "2.0"), ("PAY-5", "1.0")]
    assert on("2026-11-06 07:30+00", "story_points")[1] == ("PAY-2", "5.0")
    assert on("2026-11-11 00:00+00", "flagged") == [("PAY-5", "Impediment")]
    assert on("2026-11-13 00:00+00", "flagged") == []
    assert on("2026-11-07 09:00+00", "blocked") == []
    assert on("2026-11-07 11:00+00", "blocked") == [("PAY-2", "PAY-4")]
    assert on("2026-11-08 00:00+00", "status_category") == [
        ("PAY-1", "done"), ("PAY-2", "in_progress"), ("PAY-3", "done"), ("PAY-4", "todo"), ("PAY-5", "done"),
        ("PAY-6", "in_progress")]
    # the open rows are core.work_items
    assert con.execute("""
        SELECT count(*) FROM core.work_items w
        LEFT JOIN core.item_history h ON h.item_id = w.item_id AND h.field = 'status' AND h.valid_to IS NULL
        WHERE h.value IS DISTINCT FROM w.status""").fetchone()[0] == 0


def test_progress_by_count_and_points_with_unestimated_apart(con):
    row = con.execute("""
        SELECT scope_items, done_items, open_items, in_progress_items, discarded_items, progress_by_count,
               estimated_items, unestimated_items, scope_points, done_points, progress_by_points
        FROM marts.progress WHERE level = 'milestone' AND name = 'PAY 1.0'""").fetchone()
    # PAY-1 (done, 3), PAY-2 (8), PAY-5 (reopened, 1); PAY-3 discarded; PAY-4 moved out
    assert row == (3, 1, 2, 2, 1, pytest.approx(1 / 3), 3, 0, 12.0, 3.0, 0.25)
    project = con.execute("""SELECT scope_items, unestimated_items, unestimated_share FROM marts.progress
                             WHERE level = 'project'""").fetchone()
    assert project == (5, 1, pytest.approx(0.2))  # PAY-1, 2, 4, 5, 6; PAY-6 unestimated


def test_burnup_of_a_milestone_day_by_day(con):
    rows = con.execute("""
        SELECT day, scope_items, done_items, scope_points, done_points, unestimated_items, wip_items,
               scope_added_items, scope_removed_items
        FROM marts.burnup WHERE level = 'milestone' AND milestone_id = 'jira:cloud:version:100' ORDER BY day""").fetchall()
    expected = {  # day: scope, done, scope points, done points, unestimated, wip, added, removed
        2: (3, 0, 5.0, 0.0, 1, 0, 2, 0),   # starts on its start date; PAY-1 was in it before: not added
        3: (4, 0, 6.0, 0.0, 1, 1, 1, 0),
        4: (5, 1, 11.0, 1.0, 1, 1, 1, 0),  # PAY-2 moved in; PAY-5 done
        5: (5, 2, 11.0, 4.0, 1, 0, 0, 0),
        6: (5, 2, 14.0, 4.0, 1, 1, 0, 0),  # PAY-2 re-estimated 5 -> 8: not scope added
        7: (4, 2, 14.0, 4.0, 0, 1, 0, 1),  # PAY-3 discarded
        8: (3, 2, 12.0, 4.0, 0, 1, 0, 1),  # PAY-4 moved out
        9: (3, 1, 12.0, 3.0, 0, 2, 0, 0),  # PAY-5 reopened
    }
    assert [r[0] for r in rows] == [date(2026, 11, d) for d in range(2, 15)]
    for day, scope, done, sp, dp, unest, wip, added, removed in rows:
        want = expected.get(day.day) or expected[max(d for d in expected if d < day.day)][:6] + (0, 0)
        assert (scope, done, sp, dp, unest, wip, added, removed) == want, day
    # the last day is marts.progress
    assert rows[-1][1:3] == (3, 1)


def test_flow_of_items(con):
    rows = {r[0]: r[1:] for r in con.execute("""
        SELECT key, round(lead_time_days, 4), round(cycle_time_days, 4), is_wip, round(blocked_days, 4), is_blocked,
               round(flagged_days, 4), is_flagged, discarded
        FROM marts.item_flow""").fetchall()}
    assert rows["PAY-1"] == (4.0, 2.0, False, 0.0, False, 0.0, False, False)
    # blocked from 11-07 10:00 to as_of 11-14 00:00
    assert rows["PAY-2"] == (None, None, True, round(6 + 14 / 24, 4), True, 0.0, False, False)
    assert rows["PAY-3"][-1] is True
    assert rows["PAY-5"][0] is None and rows["PAY-5"][5:7] == (2.0, False)  # reopened: not done; 2 flagged days
    # one cycle time in the window: PAY has no P85, so whether its 3 items in progress (PAY-2, PAY-5
    # reopened, PAY-6) are aging is unknown, not false, and so is the count of aging items; an item
    # not in progress is not aging
    aging = dict(con.execute("SELECT key, is_aging FROM marts.item_flow WHERE key IN ('PAY-1', 'PAY-2')").fetchall())
    assert aging == {"PAY-1": False, "PAY-2": None}
    assert con.execute("SELECT level, wip_items, aging_wip_items, cycle_time_p85_days FROM marts.flow "
                       "ORDER BY level").fetchall() == [("program", 3, None, None), ("project", 3, None, None)]


def test_throughput_counts_full_weeks_with_zeros(con):
    assert con.execute("""SELECT week_start, done_items FROM marts.throughput WHERE level = 'project'
                          ORDER BY week_start""").fetchall() == [
        (date(2026, 10, 26), 0), (date(2026, 11, 2), 1)]  # PAY-1; PAY-5 reopened, PAY-3 discarded


def test_a_milestone_waits_for_the_milestone_of_its_blocker(con):
    rows = {r[0]: r[1:] for r in con.execute("""
        SELECT coalesce(name, level), status, p50_date, p85_date, p95_date, waits_for, remaining_items
        FROM marts.forecasts""").fetchall()}
    one, two = rows["PAY 1.0"], rows["PAY 2.0"]
    # PAY 1.0 (due first) has 2 open items; PAY 2.0 its own 1 after those 2: worked in due-date order
    assert one[0] == two[0] == "forecast" and one[5] == 2 and two[5] == 3
    assert one[4] == "jira:cloud:version:101"  # PAY-2 in PAY 1.0 is blocked by PAY-4 in PAY 2.0
    assert one[1] >= two[1] and one[2] >= two[2] and one[3] >= two[3]
    assert one[1] <= one[2] <= one[3]


# -- invariants, on random histories (hypothesis) ------------------------------------------------
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

STATE_NAMES = ["To Do", "In Progress", "Done"]


@st.composite
def histories(draw):
    """A few issues, each with a random walk of statuses, versions and estimates over November."""
    issues = []
    for n in range(1, draw(st.integers(1, 6)) + 1):
        created = draw(st.integers(0, 5 * 24))  # hours after 11-01 00:00
        moments = sorted(draw(st.lists(st.integers(created + 1, 12 * 24), max_size=6, unique=True)))
        state, versions, sp = "To Do", draw(st.sampled_from([[], ["100"]])), draw(st.sampled_from([None, 1.0, 3.0]))
        first_versions, first_sp, changes = list(versions), sp, []
        for hour in moments:
            kind = draw(st.sampled_from(["status", "status", "version", "points"]))
            if kind == "status":
                new = draw(st.sampled_from([s for s in STATE_NAMES if s != state]))
                items = [status(state, new)]
                if new == "Done":
                    items.append(resolution(draw(st.sampled_from(["Done", "Won't Do"]))))
                elif state == "Done":
                    items.append(resolution(None))
                state = new
            elif kind == "version":
                if versions:
                    items, versions = [version(removed="100")], []
                else:
                    items, versions = [version(added="100")], ["100"]
            else:
                new_sp = draw(st.sampled_from([1.0, 2.0, 5.0]))
                items, sp = [points(None if sp is None else str(sp), str(new_sp))], new_sp
            changes.append((f"11-{1 + hour // 24:02d}T{hour % 24:02d}:00", items))
        res = None
        if state == "Done":
            res = next(i["toString"] for _, items in reversed(changes) for i in items if i["field"] == "resolution")
        issues.append((issue(n, f"11-{1 + created // 24:02d}T{created % 24:02d}:00", state, versions, sp, changes,
                             res=res), first_versions, first_sp))
    return [i for i, _, _ in issues]


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(issues=histories())
def test_burnup_and_progress_invariants(tmp_path_factory, issues):
    with connect(tmp_path_factory.mktemp("prop") / "work.duckdb") as con:
        migrate(con)
        upsert(con, "raw.jira_sites", [{
            "site": "cloud", "base_url": "https://cloud.example", "myself": {}, "fields": [], "statuses": SITE_STATUSES,
            "server_info": {"deploymentType": "Cloud", "baseUrl": "https://cloud.example"}, "link_types": [],
            "field_roles": {"story_points": "customfield_10016"}, "synced_at": SYNCED, "sync_id": "s1"}],
            json_columns=("server_info", "myself", "fields", "statuses", "link_types", "field_roles"))
        upsert(con, "raw.jira_versions", [
            {"site": "cloud", "project_key": "PAY", "version_id": "100", "synced_at": SYNCED, "sync_id": "s1",
             "payload": {"id": "100", "name": "PAY 1.0", "releaseDate": "2026-11-20", "released": False,
                         "archived": False}}], json_columns=("payload",))
        upsert(con, "raw.jira_issues", [
            {"site": "cloud", "project_key": "PAY", "issue_id": i["id"], "issue_key": i["key"],
             "updated_at": i["fields"]["updated"], "payload": i, "synced_at": SYNCED, "sync_id": "s1"} for i in issues])
        write_program_structure(con, [ProgramRow("p", "Program", None)], [ProjectRow("p", "cloud", "jira", "PAY", None)])
        build_all(con, AS_OF)
        # each item's burn-up events net to one state per entity (the Dagster check's question),
        # and an item merged twice would be found
        assert con.execute(UNBALANCED_BURNUP_EVENTS).fetchall() == []
        in_scope = con.execute("""SELECT item_id FROM core.burnup_events WHERE level = 'program'
                                  GROUP BY item_id HAVING sum(scope) = 1 LIMIT 1""").fetchall()
        if in_scope:
            con.execute("BEGIN")
            con.execute("INSERT INTO core.burnup_events SELECT * FROM core.burnup_events WHERE item_id = ?", in_scope[0])
            assert con.execute(UNBALANCED_BURNUP_EVENTS).fetchall() != []
            con.execute("ROLLBACK")
        # progress in [0, 1]
        assert con.execute("""SELECT count(*) FROM marts.progress WHERE progress_by_count NOT BETWEEN 0 AND 1
                              OR progress_by_points NOT BETWEEN 0 AND 1 OR done_items > scope_items""").fetchone()[0] == 0
        # the burn-up's last day is marts.progress
        assert con.execute("""
            SELECT count(*) FROM marts.progress p
            JOIN (SELECT * FROM marts.burnup QUALIFY day = max(day) OVER (PARTITION BY level, program_id, project_key, milestone_id)) b
              ON b.level = p.level AND b.program_id = p.program_id AND b.project_key IS NOT DISTINCT FROM p.project_key
             AND b.milestone_id IS NOT DISTINCT FROM p.milestone_id
            WHERE (b.scope_items, b.done_items, b.scope_points, b.done_points)
                  IS DISTINCT FROM (p.scope_items, p.done_items, p.scope_points, p.done_points)""").fetchone()[0] == 0
        days = con.execute("""
            SELECT level, milestone_id, day, scope_items, done_items, scope_added_items, scope_removed_items,
                   lag(scope_items) OVER w, lag(done_items) OVER w
            FROM marts.burnup WINDOW w AS (PARTITION BY level, program_id, project_key, milestone_id ORDER BY day)
            ORDER BY level, milestone_id, day""").fetchall()
        # a day an item left done (reopened) or left the scope
        left_done = {r[0] for r in con.execute("""
            SELECT CAST(timezone('UTC', valid_to) AS DATE) FROM core.item_history
            WHERE field = 'status_category' AND value = 'done' AND valid_to IS NOT NULL""").fetchall()}
        for level, milestone, day, scope, done, added, removed, scope_before, done_before in days:
            assert 0 <= done <= scope
            if scope_before is None:
                continue
            # scope moves only by what was added and removed that day
            assert scope - scope_before == added - removed, (level, milestone, day)
            # done never falls unless an item reopened or left the scope that day
            if done < done_before:
                assert day in left_done or removed > 0, (level, milestone, day)


def test_replaying_the_present_gives_the_present_and_replays_agree(con):
    """transforms.history rolls core back to an instant and reruns the marts: rolled back to as_of
    itself it must give marts.health exactly, and replaying a past day twice gives the same rows."""
    from transforms.history import DIMENSIONS, replay_health

    verdicts = ", ".join(["target_id", "health", "headline", *(f"{d}_health" for d in DIMENSIONS), "reasons"])
    con.execute("CREATE OR REPLACE TEMP TABLE replayed AS SELECT * FROM marts.health_history LIMIT 0")
    replay_health(con, [AS_OF], into="replayed")
    live = con.execute(f"SELECT {verdicts} FROM marts.health_history WHERE day = ? AND source = 'sync' ORDER BY 1",
                       [AS_OF.date()]).fetchall()
    assert live and con.execute(f"SELECT {verdicts} FROM replayed ORDER BY 1").fetchall() == live
    past = datetime(2026, 11, 8, 12, tzinfo=timezone.utc)
    replay_health(con, [past], into="replayed")
    first = con.execute(f"SELECT {verdicts} FROM replayed WHERE day = DATE '2026-11-08' ORDER BY 1").fetchall()
    replay_health(con, [past], into="replayed")
    assert first and con.execute(f"SELECT {verdicts} FROM replayed WHERE day = DATE '2026-11-08' ORDER BY 1").fetchall() == first


# Two more issues on a site of their own, each a case the six above do not have:
# PAY-7  created 11-01 10:00; In Progress 11-02 10:00; Done (resolution Done) 11-04 10:00; moved on
#        to Closed, also done, 11-10 10:00: still done at 11-04, its last entry into done.
# PAY-8  created 11-01 10:00; Done 11-05 10:00 with no resolution (a workflow without a resolution
#        screen): done, not discarded.
DONE_CASES = [
    issue(7, "11-01T10:00", "Closed", [], 2, [("11-02T10:00", [status("To Do", "In Progress")]),
                                               ("11-04T10:00", [status("In Progress", "Done"), resolution("Done")]),
                                               ("11-10T10:00", [status("Done", "Closed")])], res="Done"),
    issue(8, "11-01T10:00", "Done", [], 1, [("11-05T10:00", [status("To Do", "Done")])]),
]


@pytest.fixture(scope="module")
def done_cases(tmp_path_factory):
    with connect(tmp_path_factory.mktemp("done") / "work.duckdb") as con:
        land_and_build(con, DONE_CASES, SITE_STATUSES + [{"id": "6", "name": "Closed", "statusCategory": {"key": "done"}}])
        yield con


def test_done_is_the_last_entry_into_done_and_needs_no_resolution(done_cases):
    rows = {r[0]: r[1:] for r in done_cases.execute("""
        SELECT key, done_at, round(lead_time_days, 4), round(cycle_time_days, 4), discarded FROM marts.item_flow
        ORDER BY key""").fetchall()}
    assert rows == {
        "PAY-7": (datetime(2026, 11, 4, 10, tzinfo=timezone.utc), 3.0, 2.0, False),  # Done -> Closed is no new entry
        "PAY-8": (datetime(2026, 11, 5, 10, tzinfo=timezone.utc), 4.0, None, False)}  # no resolution: not discarded
    assert done_cases.execute("""SELECT week_start, done_items FROM marts.throughput WHERE level = 'project'
                                 ORDER BY week_start""").fetchall() == [(date(2026, 10, 26), 0), (date(2026, 11, 2), 2)]
    assert done_cases.execute("""SELECT scope_items, done_items, discarded_items, scope_points, done_points
                                 FROM marts.progress WHERE level = 'project'""").fetchall() == [(2, 2, 0, 3, 3)]


@pytest.mark.parametrize("estimate", [1e15, "NaN", "Infinity"])
def test_an_estimate_that_is_no_finite_number_below_1e9_is_no_estimate(tmp_path, estimate):
    """A story-points field holding 1e15, NaN or Infinity (tracker text is not to be trusted) is no
    estimate, in the present and in the history alike: the point sums are exact decimals, which
    such a value would overflow, failing every night's build until someone fixed the tracker."""
    absurd = [issue(7, "11-01T10:00", "To Do", ["100"], estimate, [("11-02T10:00", [points("3", str(estimate))])])]
    with connect(tmp_path / "work.duckdb") as con:
        land_and_build(con, ISSUES + absurd, SITE_STATUSES)
        assert con.execute("SELECT story_points FROM core.work_items WHERE key = 'PAY-7'").fetchone() == (None,)
        # the estimate of 3 ends when the field took the absurd value; no estimate follows it
        assert con.execute("SELECT list((value_number, valid_to) ORDER BY valid_from) FROM core.item_history h "
                           "JOIN core.work_items w USING (item_id) WHERE w.key = 'PAY-7' AND field = 'story_points'"
                           ).fetchone()[0] == [(3.0, datetime(2026, 11, 2, 10, tzinfo=timezone.utc))]
        assert con.execute("SELECT count(*) FROM marts.burnup").fetchone()[0] > 0
