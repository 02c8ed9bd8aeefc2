"""Sprints and the Jira fields a program view needs, from raw rows worked out by hand: the Sprint
field as Jira Cloud writes it (objects) and as Jira Server/DC does (GreenHopper's toString())."""

from __future__ import annotations

from datetime import date, datetime, timezone

import pytest

from transforms.build import ProgramRow, ProjectRow, build_core, write_program_structure
from warehouse.store import connect, migrate, upsert

AS_OF = datetime(2026, 11, 27, tzinfo=timezone.utc)
EARLIER, LATER = datetime(2026, 11, 20, tzinfo=timezone.utc), datetime(2026, 11, 26, tzinfo=timezone.utc)
GH = "com.atlassian.greenhopper.service.sprint.Sprint@"

# Jira Cloud: objects; a future sprint has no dates, only a closed one a completeDate.
CLOUD_CLOSED = {"id": 1, "name": "PAY Sprint 1", "state": "closed", "boardId": 7, "goal": "",
                "startDate": "2026-10-01T09:00:00.000Z", "endDate": "2026-10-15T09:00:00.000Z",
                "completeDate": "2026-10-15T08:12:00.000Z"}
CLOUD_ACTIVE = {"id": 2, "name": "PAY Sprint 2", "state": "active", "boardId": 7, "goal": "Ship 2.0",
                "startDate": "2026-10-15T09:00:00.000Z", "endDate": "2026-10-29T09:00:00.000Z"}
CLOUD_FUTURE = {"id": 3, "name": "PAY Sprint 3", "state": "future", "boardId": 7, "goal": ""}
# Jira Server/DC 8 and 9: goal last, a name and a goal with commas and brackets, <null> dates.
SERVER_ACTIVE = (f"{GH}1a2b3c[id=12,rapidViewId=3,state=ACTIVE,name=Sprint 4, part [2],"
                 "startDate=2026-11-20T09:00:00.000Z,endDate=2026-12-04T09:00:00.000Z,completeDate=<null>,"
                 "activatedDate=2026-11-20T09:05:00.000Z,sequence=12,goal=Fix it, then [ship]]")
# ...as an older fetch of another issue saw it, before it started.
SERVER_ACTIVE_BEFORE = (f"{GH}1a2b3c[id=12,rapidViewId=3,state=FUTURE,name=Sprint 4, part [2],"
                        "startDate=<null>,endDate=<null>,completeDate=<null>,activatedDate=<null>,sequence=12,goal=]")
# Jira 7 (the Jira Software API description's example): goal right after the name, local offsets.
SERVER_CLOSED = (f"{GH}1bf75fd[id=11,rapidViewId=3,state=CLOSED,name=Sprint 3,goal=Sprint 3 goal,"
                 "startDate=2026-11-06T21:30:53.537+10:00,endDate=2026-11-20T21:30:00.000+10:00,"
                 "completeDate=2026-11-20T21:30:57.523+10:00,sequence=11]")


def jira_issue(issue_id: str, key: str, sprint_field: str, sprints: list | None, **fields) -> dict:
    return {"id": issue_id, "key": key, "fields": {
        "summary": f"Summary of {key}", "issuetype": {"name": "Story"},
        "status": {"name": "To Do", "statusCategory": {"key": "new"}},
        "created": "2026-09-01T10:00:00.000+0000", "updated": "2026-11-01T10:00:00.000+0000",
        "labels": [], "components": [], "fixVersions": [], "duedate": None, "reporter": None,
        sprint_field: sprints, **fields}, "changelog": {"histories": []}}


def site_row(site: str, deployment: str, sprint_field: str) -> dict:
    return {"site": site, "base_url": f"https://{site}.example", "server_info": {"deploymentType": deployment,
            "baseUrl": f"https://{site}.example"}, "myself": {}, "fields": [], "statuses": [], "link_types": [],
            "field_roles": {"sprint": sprint_field}, "synced_at": EARLIER, "sync_id": "s1"}


def put_issues(con, site: str, issues: list[dict], synced_at: datetime = LATER) -> None:
    upsert(con, "raw.jira_issues", [
        {"site": site, "project_key": i["key"].split("-")[0], "issue_id": i["id"], "issue_key": i["key"],
         "updated_at": i["fields"]["updated"], "payload": i, "synced_at": synced_at, "sync_id": "s1"}
        for i in issues])


def build(con) -> None:
    build_core(con, AS_OF)


@pytest.fixture()
def con(tmp_path):
    with connect(tmp_path / "w.duckdb") as con:
        migrate(con)
        json_columns = ("server_info", "myself", "fields", "statuses", "link_types", "field_roles")
        upsert(con, "raw.jira_sites", [site_row("cloud", "Cloud", "customfield_10020"),
                                       site_row("dc", "DataCenter", "customfield_10101")], json_columns=json_columns)
        put_issues(con, "cloud", [
            # carried over from sprint 1 into sprint 2; the field lists both, oldest first
            jira_issue("101", "PAY-1", "customfield_10020", [CLOUD_CLOSED, CLOUD_ACTIVE],
                       reporter={"accountId": "acc-9", "displayName": "Zoë Ångström"},
                       components=[{"id": "1", "name": "API"}, {"id": "2", "name": "Checkout, web"}],
                       fixVersions=[{"id": "11", "name": "2.0"}, {"id": "12", "name": "2.0.1"}],
                       duedate="2026-12-24"),
            jira_issue("102", "PAY-2", "customfield_10020", [CLOUD_FUTURE]),
            jira_issue("103", "PAY-3", "customfield_10020", None),  # backlog
            jira_issue("104", "PAY-4", "customfield_10020", [CLOUD_CLOSED]),  # done in sprint 1
        ])
        put_issues(con, "dc", [
            jira_issue("201", "CART-1", "customfield_10101", [SERVER_CLOSED, SERVER_ACTIVE],
                       reporter={"name": "hiro", "key": "hiro", "displayName": "Hiro Tanaka"}),
        ])
        put_issues(con, "dc", [jira_issue("202", "CART-2", "customfield_10101", [SERVER_ACTIVE_BEFORE])],
                   synced_at=EARLIER)
        gh = {"id": 555, "number": 3, "title": "Web task", "state": "open", "labels": [], "user": {"login": "olga"},
              "assignee": None, "milestone": None, "html_url": "https://gh/acme/web/issues/3",
              "created_at": "2026-10-02T00:00:00Z", "updated_at": "2026-10-20T00:00:00Z", "closed_at": None}
        upsert(con, "raw.github_issues", [{"site": "gh", "repo": "acme/web", "number": 3, "issue_id": 555,
                                           "updated_at": gh["updated_at"], "payload": gh, "synced_at": LATER,
                                           "sync_id": "s1"}])
        write_program_structure(con, [ProgramRow("checkout", "Checkout", None)], [
            ProjectRow("checkout", "cloud", "jira", "PAY", None), ProjectRow("checkout", "dc", "jira", "CART", None),
            ProjectRow("checkout", "gh", "github", "acme/web", None)])
        build(con)
        yield con


def ts(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(timezone.utc)


def test_sprints_read_from_cloud_objects_and_server_strings(con):
    rows = con.execute("""
        SELECT sprint_id, site, jira_sprint_id, board_id, name, state, start_at, end_at, completed_at, goal, items
        FROM core.sprints ORDER BY sprint_id""").fetchall()
    assert [r[:6] + tuple(v and v.astimezone(timezone.utc) for v in r[6:9]) + r[9:] for r in rows] == [
        ("jira:cloud:sprint:1", "cloud", 1, 7, "PAY Sprint 1", "closed", ts("2026-10-01T09:00:00+00:00"),
         ts("2026-10-15T09:00:00+00:00"), ts("2026-10-15T08:12:00+00:00"), None, 2),
        ("jira:cloud:sprint:2", "cloud", 2, 7, "PAY Sprint 2", "active", ts("2026-10-15T09:00:00+00:00"),
         ts("2026-10-29T09:00:00+00:00"), None, "Ship 2.0", 1),
        ("jira:cloud:sprint:3", "cloud", 3, 7, "PAY Sprint 3", "future", None, None, None, None, 1),
        ("jira:dc:sprint:11", "dc", 11, 3, "Sprint 3", "closed", ts("2026-11-06T21:30:53.537+10:00"),
         ts("2026-11-20T21:30:00+10:00"), ts("2026-11-20T21:30:57.523+10:00"), "Sprint 3 goal", 1),
        # seen on two issues: the one fetched last says how it is now
        ("jira:dc:sprint:12", "dc", 12, 3, "Sprint 4, part [2]", "active", ts("2026-11-20T09:00:00+00:00"),
         ts("2026-12-04T09:00:00+00:00"), None, "Fix it, then [ship]", 2),
    ]


def test_each_item_lists_every_sprint_it_has_been_in_and_one_current(con):
    rows = con.execute("""
        SELECT w.key, s.sprint_id, s.is_current FROM core.work_item_sprints s JOIN core.work_items w USING (item_id)
        ORDER BY ALL""").fetchall()
    assert rows == [
        ("CART-1", "jira:dc:sprint:11", False), ("CART-1", "jira:dc:sprint:12", True),
        ("CART-2", "jira:dc:sprint:12", True),  # its own payload still says future: the sprint is open either way
        ("PAY-1", "jira:cloud:sprint:1", False), ("PAY-1", "jira:cloud:sprint:2", True),
        ("PAY-2", "jira:cloud:sprint:3", True),
        ("PAY-4", "jira:cloud:sprint:1", False),
    ]
    current = dict(con.execute("SELECT key, sprint_id FROM core.work_items").fetchall())
    assert current == {"PAY-1": "jira:cloud:sprint:2", "PAY-2": "jira:cloud:sprint:3", "PAY-3": None,
                       "PAY-4": None, "CART-1": "jira:dc:sprint:12", "CART-2": "jira:dc:sprint:12",
                       "acme/web#3": None}


def test_work_items_carry_reporter_components_due_date_and_every_fix_version(con):
    rows = con.execute("""
        SELECT key, reporter, reporter_id, components, due_date, fix_versions, milestone_id
        FROM core.work_items WHERE key IN ('PAY-1', 'PAY-3', 'CART-1', 'acme/web#3') ORDER BY key""").fetchall()
    assert rows == [
        ("CART-1", "Hiro Tanaka", "hiro", [], None, [], None),
        ("PAY-1", "Zoë Ångström", "acc-9", ["API", "Checkout, web"], date(2026, 12, 24), ["2.0", "2.0.1"],
         "jira:cloud:version:11"),
        ("PAY-3", None, None, [], None, [], None),
        ("acme/web#3", "olga", "olga", None, None, None, None),
    ]


def test_new_columns_sit_beside_their_kin(con):
    columns = [r[0] for r in con.execute("""
        SELECT column_name FROM duckdb_columns() WHERE schema_name = 'core' AND table_name = 'work_items'
        ORDER BY column_index""").fetchall()]
    assert columns == [
        "item_id", "program_id", "project_key", "site", "source", "key", "title", "item_type", "status",
        "status_category", "resolution", "priority", "labels", "components", "at_risk", "assignee", "assignee_id",
        "reporter", "reporter_id", "created_at", "updated_at", "resolved_at", "due_date", "story_points",
        "flagged", "parent_key", "milestone_id", "fix_versions", "sprint_id", "url"]


@pytest.mark.parametrize("value, expected", [
    # Jira 9: activatedDate, goal last; an empty goal
    (f"{GH}5[id=40,rapidViewId=2,state=CLOSED,name=S, 1,startDate=2026-01-01T00:00:00.000Z,"
     "endDate=2026-01-15T00:00:00.000Z,completeDate=2026-01-14T00:00:00.000Z,"
     "activatedDate=2026-01-01T00:00:00.000Z,sequence=40,goal=,autoStartStop=false,synced=false,"
     "incompleteIssuesDestinationId=<null>]",
     (40, 2, "S, 1", "closed", True, None)),
    # Jira 7: goal after the name; brackets at the end of the name and of the goal
    (f"{GH}6[id=41,rapidViewId=<null>,state=FUTURE,name=Q3 [a],goal=Do [x]],startDate=<null>,endDate=<null>,"
     "completeDate=<null>,sequence=41]",
     (41, None, "Q3 [a]", "future", False, "Do [x]]")),
    # a goal over several lines, last
    (f"{GH}7[id=42,rapidViewId=9,state=ACTIVE,name=N,startDate=2026-01-01T00:00:00.000Z,"
     "endDate=2026-01-15T00:00:00.000Z,completeDate=<null>,sequence=42,goal=one,\ntwo]",
     (42, 9, "N", "active", False, "one,\ntwo")),
])
def test_server_sprint_strings_parse_whatever_the_version(con, value, expected):
    put_issues(con, "dc", [jira_issue("299", "CART-9", "customfield_10101", [value])])
    build(con)
    sprint_id = f"jira:dc:sprint:{expected[0]}"
    row = con.execute("""SELECT jira_sprint_id, board_id, name, state, completed_at IS NOT NULL, goal
                         FROM core.sprints WHERE sprint_id = ?""", [sprint_id]).fetchall()
    assert row == [expected]
    member = con.execute("SELECT is_current FROM core.work_item_sprints WHERE item_id = 'jira:dc:299'").fetchall()
    assert member == [(expected[3] != "closed",)]


def test_a_site_whose_sprint_field_was_not_found_has_no_sprints(con):
    con.execute("UPDATE raw.jira_sites SET field_roles = '{}' WHERE site = 'dc'")
    build(con)
    assert con.execute("SELECT DISTINCT site FROM core.sprints").fetchall() == [("cloud",)]
    assert con.execute("SELECT sprint_id FROM core.work_items WHERE key = 'CART-1'").fetchall() == [(None,)]


def board_row(site: str, project: str, board: dict, sprint: dict) -> dict:
    return {"site": site, "project_key": project, "board_id": board["id"], "sprint_id": sprint["id"], "board": board,
            "payload": sprint, "synced_at": EARLIER, "sync_id": "s1"}


def test_board_sprints_join_the_sprint_fields_and_the_board_says_how_a_sprint_is(con):
    pay = {"id": 7, "name": "PAY board", "type": "scrum", "location": {"projectKey": "PAY"}}
    shared = {"id": 8, "name": "Everything", "type": "scrum", "location": {"projectKey": "OPS"}}
    # sprint 2 as the board lists it now, past what its issue (fetched before the change) shows;
    # sprint 3 planned; sprint 9 on no issue yet, on the project's board and on a board PAY shares;
    # sprint 70 only on a board of a project not configured
    started = {"id": 3, "self": "https://cloud.example/rest/agile/1.0/sprint/3", "state": "active",
               "name": "PAY Sprint 3", "startDate": "2026-10-29T09:00:00.000Z", "endDate": "2026-11-12T09:00:00.000Z",
               "originBoardId": 7, "goal": ""}
    nobody = {"id": 9, "self": "https://cloud.example/rest/agile/1.0/sprint/9", "state": "future",
              "name": "PAY Sprint 9", "originBoardId": 7, "goal": "Later"}
    upsert(con, "raw.jira_board_sprints", [
        board_row("cloud", "PAY", pay, {**CLOUD_ACTIVE, "name": "PAY Sprint 2 (renamed)", "originBoardId": 7}),
        board_row("cloud", "PAY", pay, started), board_row("cloud", "PAY", pay, nobody),
        board_row("cloud", "PAY", shared, nobody),
        board_row("cloud", "OPS", shared, {**nobody, "id": 70, "name": "OPS Sprint 1"}),
    ], json_columns=("board", "payload"))
    build(con)
    rows = con.execute("""
        SELECT jira_sprint_id, board_id, name, state, start_at IS NOT NULL, goal, items, seen_in, board_project_key
        FROM core.sprints WHERE site = 'cloud' ORDER BY jira_sprint_id""").fetchall()
    assert rows == [
        (1, 7, "PAY Sprint 1", "closed", True, None, 2, "sprint_field", None),  # closed: the board lists it no more
        (2, 7, "PAY Sprint 2 (renamed)", "active", True, "Ship 2.0", 1, "board_and_sprint_field", "PAY"),
        (3, 7, "PAY Sprint 3", "active", True, None, 1, "board_and_sprint_field", "PAY"),
        (9, 7, "PAY Sprint 9", "future", False, "Later", 0, "board", "PAY"),
    ]
    # an item's current sprint follows the sprint's state as the board shows it
    assert con.execute("SELECT sprint_id FROM core.work_items WHERE key = 'PAY-2'").fetchall() == [
        ("jira:cloud:sprint:3",)]
