"""Milestones with memory: snapshots of due dates and scope, baselines, slips and moves, worked out by hand.

One Jira project PAY with two versions and a program milestone over it. What the issues are (UTC):

PAY-1   in PAY 1.0, Done.                          PAY-2  in PAY 1.0, In Progress.
PAY-3   in PAY 2.0 since its creation 11-02.       PAY-4  in PAY 1.0, Done as Won't Do: discarded.
PAY-6   created 11-02 in PAY 1.0, moved to PAY 2.0 on 11-08.
PAY-10  an epic (not scope); PAY-5 its child, To Do, in no version.

PAY 1.0 is due 11-20 when first seen (as of 11-14), moved to 11-27 (as of 11-15), then to 12-04
(as of 11-16): 2 moves, 14 days of slip. PAY 2.0 never moves.
Program milestone "GA" (due 12-31, configured baseline 12-15) = PAY 1.0 + epic PAY-10: scope
PAY-1, PAY-2, PAY-5 = 3, done 1. Program milestone "Beta" (due 12-20, committed 11-05) = PAY 2.0:
scope now PAY-3 and PAY-6 = 2; at the end of 11-05 only PAY-3 was in PAY 2.0 = 1.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest

from transforms.build import (STEPS, ProgramMilestoneRow, ProgramRow, ProjectRow, build_all, forget_derived,
                              write_program_structure)
from transforms.history import REPORTED, replay_catalog
from warehouse.store import connect, migrate, upsert

DAY1, DAY2, DAY3 = (datetime(2026, 11, d, tzinfo=timezone.utc) for d in (14, 15, 16))
STATUSES = [{"id": "1", "name": "To Do", "statusCategory": {"key": "new"}},
            {"id": "3", "name": "In Progress", "statusCategory": {"key": "indeterminate"}},
            {"id": "10001", "name": "Done", "statusCategory": {"key": "done"}}]
CATEGORY = {"To Do": "new", "In Progress": "indeterminate", "Done": "done"}
VERSIONS = {"100": "PAY 1.0", "101": "PAY 2.0"}
V1, V2 = "jira:cloud:version:100", "jira:cloud:version:101"
GA, BETA = "program:p:GA", "program:p:Beta"


def issue(n: int, state: str, versions: list[str], kind: str = "Story", res: str | None = None,
          parent: str | None = None, histories: list | None = None) -> dict:
    return {"id": str(n), "key": f"PAY-{n}", "fields": {
        "summary": f"Item {n}", "issuetype": {"name": kind}, "project": {"name": "Payments"},
        "status": {"name": state, "statusCategory": {"key": CATEGORY[state]}},
        "resolution": {"name": res} if res else None, "parent": {"key": parent} if parent else None,
        "created": "2026-11-02T08:00:00.000+0000", "updated": "2026-11-12T00:00:00.000+0000", "labels": [],
        "components": [], "fixVersions": [{"id": v, "name": VERSIONS[v]} for v in versions], "issuelinks": []},
        "changelog": {"histories": [
            {"id": str(n * 100 + i), "created": f"2026-{at}:00.000+0000", "author": {"displayName": "Ana"}, "items": items}
            for i, (at, items) in enumerate(histories or [])]}}


MOVED = {"field": "Fix Version", "fieldtype": "jira", "fieldId": "fixVersions", "from": "100",
         "fromString": "PAY 1.0", "to": "101", "toString": "PAY 2.0"}
ISSUES = [issue(1, "Done", ["100"], res="Done"), issue(2, "In Progress", ["100"]), issue(3, "To Do", ["101"]),
          issue(4, "Done", ["100"], res="Won't Do"), issue(6, "To Do", ["101"], histories=[("11-08T10:00", [MOVED])]),
          issue(10, "In Progress", [], kind="Epic"), issue(5, "To Do", [], parent="PAY-10")]
MILESTONES = [
    ProgramMilestoneRow("p", "GA", date(2026, 12, 31), baseline_due=date(2026, 12, 15),
                        members=(("milestone", "cloud", "PAY", "PAY 1.0"), ("epic", "cloud", "PAY", "PAY-10"))),
    ProgramMilestoneRow("p", "Beta", date(2026, 12, 20), committed_on=date(2026, 11, 5),
                        members=(("milestone", "cloud", "PAY", "PAY 2.0"),)),
]


def land_site(con, field_roles: dict | None = None) -> None:
    """The Jira Cloud site every test here syncs, with the custom fields it has found roles for."""
    upsert(con, "raw.jira_sites", [{
        "site": "cloud", "base_url": "https://cloud.example", "myself": {}, "fields": [], "statuses": STATUSES,
        "server_info": {"deploymentType": "Cloud", "baseUrl": "https://cloud.example"}, "link_types": [],
        "field_roles": field_roles or {}, "synced_at": DAY1, "sync_id": "s1"}],
        json_columns=("server_info", "myself", "fields", "statuses", "link_types", "field_roles"))


def land_versions(con, due_v1: str, sync_id: str, synced_at: datetime) -> None:
    upsert(con, "raw.jira_versions", [
        {"site": "cloud", "project_key": "PAY", "version_id": "100", "synced_at": synced_at, "sync_id": sync_id,
         "payload": {"id": "100", "name": "PAY 1.0", "startDate": "2026-11-02", "releaseDate": due_v1,
                     "released": False, "archived": False}},
        {"site": "cloud", "project_key": "PAY", "version_id": "101", "synced_at": synced_at, "sync_id": sync_id,
         "payload": {"id": "101", "name": "PAY 2.0", "releaseDate": "2026-12-18", "released": False,
                     "archived": False}}])


def configure(con, milestones=MILESTONES) -> None:
    write_program_structure(con, [ProgramRow("p", "Program", None)], [ProjectRow("p", "cloud", "jira", "PAY", None)],
                            milestones=list(milestones))


def snapshots(con, milestone_id: str) -> list[tuple]:
    return con.execute("SELECT observed_at, due_date, scope_items FROM meta.milestone_snapshots "
                       "WHERE milestone_id = ? ORDER BY observed_at, recorded_at", [milestone_id]).fetchall()


def slips(con) -> dict[str, tuple]:
    return {r[0]: r[1:] for r in con.execute("""
        SELECT milestone_id, kind, baseline_due_date, due_date, slip_days, due_date_moves, baseline_source,
               baseline_scope_items, scope_items, done_items, first_seen_at
        FROM marts.milestone_slips""").fetchall()}


@pytest.fixture(scope="module")
def con(tmp_path_factory):
    path = tmp_path_factory.mktemp("milestones") / "work.duckdb"
    with connect(path) as con:
        migrate(con)
        land_site(con)
        upsert(con, "raw.jira_issues", [
            {"site": "cloud", "project_key": "PAY", "issue_id": i["id"], "issue_key": i["key"],
             "updated_at": i["fields"]["updated"], "payload": i, "synced_at": DAY1, "sync_id": "s1"} for i in ISSUES])
        configure(con)
        land_versions(con, "2026-11-20", "s1", DAY1)
        build_all(con, DAY1)
        yield con


def test_the_first_snapshot_is_the_baseline(con):
    assert snapshots(con, V1) == [(DAY1, date(2026, 11, 20), 2)]  # PAY-1, PAY-2; PAY-4 discarded
    row = slips(con)[V1]
    assert row == ("version", date(2026, 11, 20), date(2026, 11, 20), 0, 0, "first_seen", 2, 2, 1, DAY1)
    assert slips(con)[V2][:5] == ("version", date(2026, 12, 18), date(2026, 12, 18), 0, 0)


def test_program_milestones_roll_up_their_members_and_a_configured_baseline_wins(con):
    ga, beta = slips(con)[GA], slips(con)[BETA]
    # GA: PAY 1.0's PAY-1 and PAY-2, and the epic's child PAY-5 (the epic itself is no scope)
    assert ga == ("program", date(2026, 12, 15), date(2026, 12, 31), 16, 0, "config", 3, 3, 1, DAY1)
    # Beta: first seen due is its baseline; its scope baseline is PAY 2.0 at the end of 11-05 (PAY-6 came 11-08)
    assert beta == ("program", date(2026, 12, 20), date(2026, 12, 20), 0, 0, "first_seen", 1, 2, 0, DAY1)
    members = con.execute("SELECT members, unresolved_members FROM marts.milestone_slips WHERE milestone_id = ?",
                          [GA]).fetchall()[0]
    assert members == (2, 0)


def test_program_milestones_have_their_progress(con):
    """GA spans PAY-1 (done), PAY-2, PAY-5 and the discarded PAY-4; Beta PAY-3 and PAY-6: rows of
    their own in marts.progress, with no project and no tracker state."""
    rows = con.execute("""SELECT milestone_id, project_key, name, due_date, state, scope_items, done_items,
                                 discarded_items, open_items FROM marts.progress
                          WHERE milestone_id LIKE 'program:%' ORDER BY milestone_id""").fetchall()
    assert rows == [(BETA, None, "Beta", date(2026, 12, 20), None, 2, 0, 0, 2),
                    (GA, None, "GA", date(2026, 12, 31), None, 3, 1, 1, 2)]
    # the forecasts and the health still read each program milestone once, as before
    assert con.execute("SELECT count(*) FROM marts.forecasts WHERE milestone_id = ?", [GA]).fetchone()[0] == 1
    assert con.execute("SELECT count(*) FROM marts.health_reasons WHERE milestone_id = ? AND dimension = 'overall'",
                       [GA]).fetchone()[0] == 1


def test_a_due_date_moved_twice_is_two_moves_and_its_slip(con):
    land_versions(con, "2026-11-27", "s2", DAY2)
    build_all(con, DAY2)
    land_versions(con, "2026-12-04", "s3", DAY3)
    build_all(con, DAY3)
    assert [s[1] for s in snapshots(con, V1)] == [date(2026, 11, 20), date(2026, 11, 27), date(2026, 12, 4)]
    assert slips(con)[V1][:6] == ("version", date(2026, 11, 20), date(2026, 12, 4), 14, 2, "first_seen")
    assert len(snapshots(con, V2)) == 1  # nothing about PAY 2.0 changed: no snapshot
    last = con.execute("SELECT last_moved_at FROM marts.milestone_slips WHERE milestone_id = ?", [V1]).fetchall()[0][0]
    assert last == DAY3


def test_a_rerun_with_nothing_changed_adds_no_snapshot(con):
    before = con.execute("SELECT count(*) FROM meta.milestone_snapshots").fetchall()[0][0]
    land_versions(con, "2026-12-04", "s3", DAY3)  # the same sync again
    build_all(con, DAY3)
    build_all(con, DAY3, force=True)
    assert con.execute("SELECT count(*) FROM meta.milestone_snapshots").fetchall()[0][0] == before


def test_a_full_rebuild_keeps_the_snapshots(con):
    held = con.execute("SELECT * FROM meta.milestone_snapshots ORDER BY ALL").fetchall()
    before = slips(con)
    forget_derived(con)
    assert con.execute("SELECT * FROM meta.milestone_snapshots ORDER BY ALL").fetchall() == held
    build_all(con, DAY3)
    assert con.execute("SELECT * FROM meta.milestone_snapshots ORDER BY ALL").fetchall() == held
    assert slips(con) == before


def test_a_program_milestone_moved_in_the_config_is_a_move(con):
    moved = [ProgramMilestoneRow("p", "Beta", date(2027, 1, 10), committed_on=date(2026, 11, 5),
                                 members=(("milestone", "cloud", "PAY", "PAY 2.0"),)), MILESTONES[0]]
    configure(con, moved)
    build_all(con, DAY3)
    assert slips(con)[BETA][:6] == ("program", date(2026, 12, 20), date(2027, 1, 10), 21, 1, "first_seen")
    configure(con)  # and back: a second move, no slip
    build_all(con, DAY3)
    assert slips(con)[BETA][:6] == ("program", date(2026, 12, 20), date(2026, 12, 20), 0, 2, "first_seen")


def test_a_past_as_of_sees_only_what_was_known_then(con):
    build_all(con, DAY1, only={"marts.milestone_slips"})
    assert slips(con)[V1][:5] == ("version", date(2026, 11, 20), date(2026, 11, 20), 0, 0)
    build_all(con, DAY3, only={"marts.milestone_slips"})


def test_slips_are_scalar_and_built_after_the_forecasts(con):
    types = {t for (t,) in con.execute("SELECT data_type FROM duckdb_columns() WHERE schema_name = 'marts' "
                                       "AND table_name = 'milestone_slips'").fetchall()}
    assert not any(t.endswith("[]") or t.startswith(("STRUCT", "MAP")) or t == "HUGEINT" for t in types), types
    order = [s.name for s in STEPS]
    assert order.index("marts.forecasts") < order.index("marts.milestone_slips") < order.index("marts.project_health")
    assert con.execute("""SELECT count(*) FROM duckdb_columns() WHERE schema_name = 'meta'
                          AND table_name IN ('milestone_snapshots', 'program_milestones', 'program_milestone_members')
                          AND (comment IS NULL OR comment = '')""").fetchall()[0][0] == 0


# -- program.yaml ``milestones:`` ------------------------------------------------------------------

def _config(milestones: list) -> dict:
    import yaml

    from pipelines.cli import demo_config
    from pipelines.config import dump

    data = yaml.safe_load(dump(demo_config(7, date(2026, 11, 27))))
    for program in data["programs"]:  # the demo declares its own program milestones: only these here
        program.pop("milestones", None)
    data["programs"][0]["milestones"] = milestones
    return data


def test_the_configuration_example_parses_and_resolves_its_members():
    import re
    from pathlib import Path

    import yaml

    from pipelines.config import parse

    text = (Path(__file__).parents[2] / "docs" / "configuration.md").read_text(encoding="utf-8")
    example = yaml.safe_load(re.search(r"```yaml\n(.*?)```", text, re.S).group(1))
    config = parse(example)
    (milestone,) = config.programs[0].milestones
    assert (milestone.due, milestone.baseline, milestone.committed_on) == (
        date(2027, 3, 31), date(2027, 2, 28), date(2026, 11, 2))
    assert [m.member() for m in milestone.members] == [
        ("milestone", "PAY", "PAY 2.0"), ("milestone", "acme/web", "Web launch"), ("epic", "CART", "CART-12"),
        ("sprint", "CART", "CART Sprint 14")]


@pytest.mark.parametrize("members, expected", [
    ([{"project": "PAY"}], "programs[0].milestones[0].members[0]: found none of milestone, epic, sprint; expected exactly one"),
    ([{"project": "PAY", "milestone": "PAY 2.0", "epic": "PAY-1"}], "found milestone, epic of milestone, epic, sprint"),
    ([{"milestone": "PAY 2.0"}], "programs[0].milestones[0].members[0].project: missing; expected the Jira key"),
    ([{"project": "ID", "milestone": "ID 2.0"}], "project 'ID' is not in program 'checkout'"),
    ([{"epic": "ID-3"}], "project 'ID' is not in program 'checkout'"),
    ([{"project": "acme/web", "sprint": "S1"}], "'acme/web' is on GitHub, which has no sprints"),
])
def test_a_wrong_member_names_the_field_and_the_fix(members, expected):
    from pipelines.config import ConfigError, parse

    with pytest.raises(ConfigError) as error:
        parse(_config([{"name": "GA", "due": "2027-03-31", "members": members}]))
    assert expected in str(error.value)


def test_a_program_milestone_named_twice_and_a_bad_date_are_refused():
    from pipelines.config import ConfigError, parse

    member = [{"project": "PAY", "milestone": "PAY 2.0"}]
    with pytest.raises(ConfigError, match=r"programs\[0\].milestones\[1\].name: found 'GA' twice"):
        parse(_config([{"name": "GA", "due": "2027-03-31", "members": member}] * 2))
    with pytest.raises(ConfigError, match=r"programs\[0\].milestones\[0\].due"):
        parse(_config([{"name": "GA", "due": "next spring", "members": member}]))


def test_the_config_reaches_the_warehouse_through_the_dagster_asset(tmp_path):
    """core.programs (the asset) writes meta.program_milestones and their members from program.yaml."""
    import dagster as dg

    from pipelines.config import dump, parse
    from pipelines.defs.model import core_programs
    from pipelines.defs.resources import PulseResource

    data = _config([{"name": "GA", "due": "2027-03-31", "baseline": "2027-02-28",
                     "members": [{"project": "PAY", "milestone": "PAY 2.0"}, {"epic": "acme/web#3"}]}])
    data["warehouse"] = {"path": str(tmp_path / "pulse.duckdb")}
    path = tmp_path / "program.yaml"
    path.write_text(dump(parse(data)))
    assert dg.materialize([core_programs], resources={"pulse": PulseResource(config_path=str(path))}).success
    with connect(tmp_path / ".pulse" / "work.duckdb") as con:
        assert con.execute("SELECT program_id, milestone_id, due_date, baseline_due FROM meta.program_milestones"
                           ).fetchall() == [("checkout", "program:checkout:GA", date(2027, 3, 31), date(2027, 2, 28))]
        assert sorted(con.execute("SELECT member_kind, site, project_key, member_name "
                                  "FROM meta.program_milestone_members").fetchall()) == [
            ("epic", "github", "acme/web", "acme/web#3"), ("milestone", "jira-cloud", "PAY", "PAY 2.0")]


# -- sprints as milestones -------------------------------------------------------------------------

def sprint_issue(n: int, state: str, sprints: list[dict], updated: str) -> dict:
    payload = issue(n, state, [])
    payload["fields"].update(customfield_10020=sprints, updated=updated)
    return payload


def test_sprints_are_milestones_and_a_sprint_extended_between_syncs_slips(tmp_path):
    """PAY-1 is in the active PAY Sprint 2 (due 10-29), PAY-2 in the future PAY Sprint 3 (not
    scheduled). A later sync sees Sprint 2 extended to 11-05: 7 days of slip, one move. A program
    milestone made of Sprint 2 has its scope."""
    active = {"id": 2, "name": "PAY Sprint 2", "state": "active", "boardId": 7, "goal": "",
              "startDate": "2026-10-15T09:00:00.000Z", "endDate": "2026-10-29T09:00:00.000Z"}
    future = {"id": 3, "name": "PAY Sprint 3", "state": "future", "boardId": 7, "goal": ""}
    with connect(tmp_path / "work.duckdb") as con:
        migrate(con)
        land_site(con, {"sprint": "customfield_10020"})

        def land(issues: list[dict], synced_at: datetime) -> None:
            upsert(con, "raw.jira_issues", [
                {"site": "cloud", "project_key": "PAY", "issue_id": i["id"], "issue_key": i["key"],
                 "updated_at": i["fields"]["updated"], "payload": i, "synced_at": synced_at, "sync_id": "s1"}
                for i in issues])

        land([sprint_issue(1, "In Progress", [active], "2026-11-12T00:00:00.000+0000"),
              sprint_issue(2, "To Do", [future], "2026-11-12T00:00:00.000+0000")], DAY1)
        configure(con, [ProgramMilestoneRow("p", "Sprint goal", date(2026, 11, 1),
                                            members=(("sprint", "cloud", "PAY", "PAY Sprint 2"),))])
        build_all(con, DAY1)
        land([sprint_issue(1, "In Progress", [{**active, "endDate": "2026-11-05T09:00:00.000Z"}],
                           "2026-11-14T10:00:00.000+0000")], DAY2)
        build_all(con, DAY2)
        rows = {r[0]: r[1:] for r in con.execute("""
            SELECT name, kind, state, baseline_due_date, due_date, slip_days, due_date_moves, scope_items
            FROM marts.milestone_slips""").fetchall()}
    assert rows["PAY Sprint 2"] == ("sprint", "active", date(2026, 10, 29), date(2026, 11, 5), 7, 1, 1)
    assert rows["PAY Sprint 3"] == ("sprint", "future", None, None, None, 0, 1)
    assert rows["Sprint goal"] == ("program", "open", date(2026, 11, 1), date(2026, 11, 1), 0, 0, 1)


def test_a_sprint_member_is_the_sprint_of_that_name_in_its_own_project(tmp_path):
    """Boards number their sprints alike. CART's and PAY's boards each have a "Sprint 1" that no
    board listing holds (as a closed sprint: its items say whose it is); PAY-7 came from CART and
    still names CART's, whose items are mostly CART's. CART's board is shared with PAY and lists the open
    "Sprint 2" under both. A program milestone's members: {PAY, Sprint 1} is PAY's sprint alone, in
    every build; {PAY, Sprint 2} is the shared board's, with no item yet; {PAY, Joint 3} names a
    sprint only CART has, so it is unresolved rather than CART's."""
    cart_sprint = {"id": 21, "name": "Sprint 1", "state": "active", "boardId": 8, "goal": "",
                   "startDate": "2026-11-02T09:00:00.000Z", "endDate": "2026-11-16T09:00:00.000Z"}
    pay_sprint = {**cart_sprint, "id": 11, "boardId": 7}
    joint = {**cart_sprint, "id": 23, "name": "Joint 3"}

    def item(key: str, n: int, state: str, sprints: list[dict]) -> dict:
        payload = sprint_issue(n, state, sprints, "2026-11-12T00:00:00.000+0000")
        payload.update(id=str(n), key=key)
        return payload

    issues = [item("CART-1", 901, "To Do", [cart_sprint, joint]), item("CART-2", 902, "To Do", [cart_sprint]),
              item("PAY-1", 1, "In Progress", [pay_sprint]), item("PAY-7", 7, "To Do", [cart_sprint])]
    open_sprint = {"id": 31, "self": "https://cloud.example/rest/agile/1.0/sprint/31", "state": "future",
                   "name": "Sprint 2", "originBoardId": 8}
    with connect(tmp_path / "work.duckdb") as con:
        migrate(con)
        land_site(con, {"sprint": "customfield_10020"})
        upsert(con, "raw.jira_issues", [  # CART's first: a pick of either "Sprint 1" would tend to be CART's
            {"site": "cloud", "project_key": i["key"].split("-")[0], "issue_id": i["id"], "issue_key": i["key"],
             "updated_at": i["fields"]["updated"], "payload": i, "synced_at": DAY1, "sync_id": "s1"} for i in issues])
        upsert(con, "raw.jira_board_sprints", [
            {"site": "cloud", "project_key": project, "board_id": 8, "sprint_id": 31, "payload": open_sprint,
             "board": {"id": 8, "type": "scrum", "location": {"projectKey": "CART"}}, "synced_at": DAY1,
             "sync_id": "s1"} for project in ("CART", "PAY")], json_columns=("board", "payload"))
        write_program_structure(
            con, [ProgramRow("p", "Program", None)],
            [ProjectRow("p", "cloud", "jira", "CART", None), ProjectRow("p", "cloud", "jira", "PAY", None)],
            milestones=[ProgramMilestoneRow("p", "Payments sprint", date(2026, 11, 16),
                                            members=(("sprint", "cloud", "PAY", "Sprint 1"),
                                                     ("sprint", "cloud", "PAY", "Sprint 2"))),
                        ProgramMilestoneRow("p", "Joint", date(2026, 11, 30),
                                            members=(("sprint", "cloud", "PAY", "Joint 3"),))])
        for _ in range(3):
            build_all(con, DAY1)
            assert con.execute("SELECT member_name, sprint_id FROM core.program_milestone_sprints "
                               "ORDER BY 1").fetchall() == [("Sprint 1", "jira:cloud:sprint:11"),
                                                           ("Sprint 2", "jira:cloud:sprint:31")]
            assert con.execute("SELECT milestone_id, key, via FROM core.program_milestone_items").fetchall() == [
                ("program:p:Payments sprint", "PAY-1", "sprint Sprint 1")]
            assert con.execute("SELECT name, scope_items, members, unresolved_members FROM marts.milestone_slips "
                               "WHERE kind = 'program' ORDER BY 1").fetchall() == [("Joint", 0, 1, 1),
                                                                                  ("Payments sprint", 1, 2, 0)]
            forget_derived(con)
        # a warehouse from before the table (an upgrade), building only what a snapshot follows: the
        # snapshot resolves the members itself rather than fail or read nothing
        build_all(con, DAY1)
        con.execute("DROP TABLE core.program_milestone_sprints")
        con.execute("DELETE FROM meta.milestone_snapshots")
        build_all(con, DAY2, only={"core.milestones", "marts.milestone_slips"})
        assert con.execute("SELECT count(*) FROM core.program_milestone_sprints").fetchall() == [(2,)]
        assert con.execute("SELECT milestone_id, scope_items FROM meta.milestone_snapshots "
                           "WHERE milestone_id LIKE 'program:%' ORDER BY 1").fetchall() == [
            ("program:p:Joint", 0), ("program:p:Payments sprint", 1)]
        # a past day's report of a file published before the table: the replay builds it once, from
        # the file's tables as they are today (as the next sync would), rather than fail until the
        # next sync publishes a file with it; every instant then replays as with the table, the
        # first before any item existed (the rolled-back items must not decide whose sprint it is)
        def replayed(instants: list[datetime]) -> list[tuple]:
            with replay_catalog(con) as rebuild:
                seen = []
                for instant in instants:
                    rebuild(instant, REPORTED)
                    seen.append((con.execute("SELECT milestone_id, key, via FROM replay.core.program_milestone_items "
                                             "ORDER BY ALL").fetchall(),
                                 con.execute("SELECT name, scope_items, members, unresolved_members FROM "
                                             "replay.marts.milestone_slips WHERE kind = 'program' ORDER BY ALL"
                                             ).fetchall()))
                return seen
        instants = [datetime(2026, 11, 1, 12, tzinfo=timezone.utc), DAY1 + timedelta(hours=12)]
        with_table = replayed(instants)
        assert with_table[1] == ([("program:p:Payments sprint", "PAY-1", "sprint Sprint 1")],
                                 [("Joint", 0, 1, 1), ("Payments sprint", 1, 2, 0)])
        con.execute("DROP TABLE core.program_milestone_sprints")
        assert replayed(instants) == with_table
