"""The SQL transforms on small raw inputs worked out by hand (no HTTP, no Dagster)."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest

from transforms.build import (MARTS_ORDER, STEPS, ProgramRow, ProjectRow, build_all, build_core, build_table,
                              write_program_structure)
from warehouse.store import connect, migrate, upsert

AS_OF = datetime(2026, 3, 1, tzinfo=timezone.utc)
STATUSES = [
    {"id": "1", "name": "To Do", "statusCategory": {"key": "new"}},
    {"id": "3", "name": "In Progress", "statusCategory": {"key": "indeterminate"}},
    {"id": "5", "name": "Done", "statusCategory": {"key": "done"}},
]


def jira_issue(issue_id: str, key: str, status: str, category: str, histories: list, links: list,
               points: float | None = None, fix_version: str | None = None) -> dict:
    return {
        "id": issue_id, "key": key,
        "fields": {
            "summary": f"Summary of {key}", "issuetype": {"name": "Story"},
            "status": {"name": status, "statusCategory": {"key": category}},
            "created": "2026-01-05T10:00:00.000+0100", "updated": "2026-02-01T09:00:00.000+0000",
            "resolutiondate": "2026-02-01T09:00:00.000+0000" if category == "done" else None,
            "resolution": {"name": "Done"} if category == "done" else None,
            "assignee": {"accountId": "acc-1", "displayName": "Ada O'Kafor"},
            "customfield_10016": points, "issuelinks": links,
            "fixVersions": [{"id": fix_version, "name": "v1"}] if fix_version else [],
            "project": {"key": key.split("-")[0], "name": "Payments" if key.startswith("PAY") else "Cart"},
        },
        "changelog": {"startAt": 0, "maxResults": len(histories), "total": len(histories), "histories": histories},
    }


def status_history(hid: str, at: str, frm: tuple[str, str], to: tuple[str, str]) -> dict:
    return {"id": hid, "created": at, "items": [
        {"field": "status", "fieldtype": "jira", "from": frm[0], "fromString": frm[1], "to": to[0], "toString": to[1]}]}


@pytest.fixture()
def con(tmp_path):
    with connect(tmp_path / "w.duckdb") as con:
        migrate(con)
        now = datetime(2026, 3, 1, tzinfo=timezone.utc)
        upsert(con, "raw.jira_sites", [{
            "site": "cloud", "base_url": "https://api.acme.example", "server_info": {"deploymentType": "Cloud", "baseUrl": "https://acme.example"},
            "myself": {}, "fields": [], "statuses": STATUSES, "link_types": [],
            "field_roles": {"story_points": "customfield_10016"}, "synced_at": now, "sync_id": "s1"}],
            json_columns=("server_info", "myself", "fields", "statuses", "link_types", "field_roles"))
        blocks = {"name": "Blocks", "inward": "is blocked by", "outward": "blocks"}
        pay = jira_issue("101", "PAY-1", "Done", "done", [
            # embedded histories come newest first
            status_history("9002", "2026-02-01T09:00:00.000+0000", ("3", "In Progress"), ("5", "Done")),
            status_history("9001", "2026-01-10T09:00:00.000+0000", ("1", "To Do"), ("3", "In Progress")),
        ], [{"id": "7", "type": blocks, "outwardIssue": {"id": "201", "key": "CART-1"}}], points=5, fix_version="11")
        cart = jira_issue("201", "CART-1", "To Do", "new", [],
                          [{"id": "7", "type": blocks, "inwardIssue": {"id": "101", "key": "PAY-1"}}])
        # PAY-2 is still open in v1, which was due two weeks before AS_OF, and it blocks CART-1.
        pay2 = jira_issue("102", "PAY-2", "In Progress", "indeterminate", [],
                          [{"id": "8", "type": blocks, "outwardIssue": {"id": "201", "key": "CART-1"}}],
                          fix_version="11")
        cart["fields"]["issuelinks"].append({"id": "8", "type": blocks, "inwardIssue": {"id": "102", "key": "PAY-2"}})
        upsert(con, "raw.jira_issues", [
            {"site": "cloud", "project_key": i["key"].split("-")[0], "issue_id": i["id"], "issue_key": i["key"],
             "updated_at": i["fields"]["updated"], "payload": i, "synced_at": now, "sync_id": "s1"}
            for i in (pay, pay2, cart)])
        upsert(con, "raw.jira_versions", [{"site": "cloud", "project_key": "PAY", "version_id": "11", "payload": {
            "id": "11", "name": "v1", "releaseDate": "2026-02-15", "released": False, "archived": False},
            "synced_at": now, "sync_id": "s1"}])
        issue = {"id": 555, "number": 3, "title": "<b>Web</b> task", "state": "closed", "state_reason": "completed",
                 "labels": [{"name": "task"}], "assignee": {"login": "olga"}, "html_url": "https://gh/acme/web/issues/3",
                 "created_at": "2026-01-02T00:00:00Z", "updated_at": "2026-01-20T00:00:00Z",
                 "closed_at": "2026-01-20T00:00:00Z", "milestone": None}
        pr = {**issue, "id": 556, "number": 4, "pull_request": {"url": "x"}}
        upsert(con, "raw.github_issues", [
            {"site": "gh", "repo": "acme/web", "number": i["number"], "issue_id": i["id"],
             "updated_at": i["updated_at"], "payload": i, "synced_at": now, "sync_id": "s1"} for i in (issue, pr)])
        events = [
            (1, "labeled", "2026-01-05T00:00:00Z", {"label": {"name": "in progress"}}),
            (2, "unlabeled", "2026-01-20T00:00:00Z", {"label": {"name": "in progress"}}),
            (3, "closed", "2026-01-20T00:00:00Z", {}),
        ]
        upsert(con, "raw.github_issue_events", [
            {"site": "gh", "repo": "acme/web", "event_id": eid, "issue_number": 3, "created_at": at,
             "payload": {"id": eid, "event": ev, "created_at": at, "issue": {"id": 555, "number": 3}, **extra},
             "synced_at": now, "sync_id": "s1"} for eid, ev, at, extra in events])
        write_program_structure(con, [ProgramRow("checkout", "Checkout", None)], [
            ProjectRow("checkout", "cloud", "jira", "PAY", None),
            ProjectRow("checkout", "cloud", "jira", "CART", None),
            ProjectRow("checkout", "gh", "github", "acme/web", None)])
        build_core(con, AS_OF)
        for table in MARTS_ORDER:
            build_table(con, "marts", table, AS_OF)
        yield con


def test_work_items_map_both_trackers_and_leave_out_pull_requests(con):
    rows = con.execute("""
        SELECT key, source, item_type, status, status_category, story_points, assignee, url,
               created_at = TIMESTAMPTZ '2026-01-05 09:00:00+00'
        FROM core.work_items ORDER BY key""").fetchall()
    assert rows == [
        ("CART-1", "jira", "story", "To Do", "todo", None, "Ada O'Kafor", "https://acme.example/browse/CART-1", True),
        ("PAY-1", "jira", "story", "Done", "done", 5.0, "Ada O'Kafor", "https://acme.example/browse/PAY-1", True),
        ("PAY-2", "jira", "story", "In Progress", "in_progress", None, "Ada O'Kafor",
         "https://acme.example/browse/PAY-2", True),
        ("acme/web#3", "github", "task", "closed", "done", None, "olga", "https://gh/acme/web/issues/3", False),
    ]


def test_status_transitions_start_at_creation_and_follow_history(con):
    pay = con.execute("""
        SELECT from_status, to_status, from_category, to_category, transition_seq FROM core.status_transitions
        WHERE item_id = 'jira:cloud:101' ORDER BY transition_seq""").fetchall()
    assert pay == [(None, "To Do", None, "todo", 1), ("To Do", "In Progress", "todo", "in_progress", 2),
                   ("In Progress", "Done", "in_progress", "done", 3)]
    gh = con.execute("""
        SELECT from_status, to_status, to_category FROM core.status_transitions
        WHERE item_id = 'github:555' ORDER BY transition_seq""").fetchall()
    # the unlabel and the close at one instant are one step: in progress -> closed
    assert gh == [(None, "open", "todo"), ("open", "in progress", "in_progress"), ("in progress", "closed", "done")]


def test_histories_cut_from_search_come_from_the_paged_changelog_once(con):
    # PAY-1's search result embeds two histories; the paged changelog has those two and an older one.
    older = status_history("9000", "2026-01-06T09:00:00.000+0000", ("3", "In Progress"), ("1", "To Do"))
    rows = [older, status_history("9001", "2026-01-10T09:00:00.000+0000", ("1", "To Do"), ("3", "In Progress"))]
    upsert(con, "raw.jira_changelogs", [{"site": "cloud", "issue_id": "101", "history_id": h["id"], "payload": h,
                                        "synced_at": AS_OF, "sync_id": "s1"} for h in rows])
    build_table(con, "core", "jira_changelog_items", AS_OF)
    build_table(con, "core", "status_transitions", AS_OF)
    pay = con.execute("""
        SELECT from_status, to_status FROM core.status_transitions
        WHERE item_id = 'jira:cloud:101' ORDER BY transition_seq""").fetchall()
    assert pay == [(None, "In Progress"), ("In Progress", "To Do"), ("To Do", "In Progress"), ("In Progress", "Done")]


def test_a_night_that_only_pages_an_older_history_merges_it(con):
    """An issue whose paged changelog grew while its own row was not landed again: only
    staging.jira_changelog_versions records the item. build_all builds staging and core two at a
    time (build_in_streams), and no item-scoped table starts before every staging step is done, so
    the history is merged (core.jira_changelog_items reads staging.jira_issues, not that step)."""
    older = status_history("9000", "2026-01-06T09:00:00.000+0000", ("3", "In Progress"), ("1", "To Do"))
    upsert(con, "raw.jira_changelogs", [{"site": "cloud", "issue_id": "101", "history_id": "9000", "payload": older,
                                        "synced_at": AS_OF, "sync_id": "s2"}])
    built = build_all(con, AS_OF, only={s.name for s in STEPS if s.schema != "marts"})
    assert built["core.jira_changelog_items"].how == "merged" and built["core.jira_changelog_items"].items == 1
    merged = con.execute("SELECT from_status, to_status FROM core.status_transitions "
                         "WHERE item_id = 'jira:cloud:101' ORDER BY transition_seq").fetchall()
    assert merged == [(None, "In Progress"), ("In Progress", "To Do"), ("To Do", "In Progress"), ("In Progress", "Done")]


def test_each_staging_step_records_what_it_found_under_a_batch_of_its_own(con):
    """Staging steps run two at a time, each recording the items it parsed again in
    meta.item_deltas under a batch number of its own, so each counts what it found and no other's:
    a night that landed a Jira issue and a GitHub issue again."""
    night = datetime(2026, 3, 2, tzinfo=timezone.utc)
    for table, columns, key, patch in (
            ("raw.jira_issues", "site, project_key, issue_id, issue_key", "issue_id = '101'",
             '{"fields": {"summary": "Renamed"}}'),
            ("raw.github_issues", "site, repo, number, issue_id", "number = 3", '{"title": "Renamed"}')):
        cur = con.execute(f"SELECT {columns}, updated_at, json_merge_patch(payload, ?) AS payload FROM {table} "
                          f"WHERE {key}", [patch])
        row = dict(zip([d[0] for d in cur.description], cur.fetchone()))
        upsert(con, table, [row | {"payload": json.loads(row["payload"]), "synced_at": night, "sync_id": "s2"}])
    built = build_all(con, AS_OF, only={s.name for s in STEPS if s.schema == "staging"})
    assert (built["staging.jira_issues"].how, built["staging.jira_issues"].items) == ("ran", 1)
    assert (built["staging.github_issues"].how, built["staging.github_issues"].items) == ("ran", 1)
    assert (built["staging.jira_changelog_versions"].how, built["staging.jira_changelog_versions"].items) == ("ran", 0)
    # the core tables have not merged them yet, so the night's deltas are still there
    batches = dict(con.execute("SELECT item_id, batch FROM meta.item_deltas WHERE item_id IN "
                               "('jira:cloud:101', 'github:555')").fetchall())
    assert len(batches) == 2 and batches["jira:cloud:101"] != batches["github:555"]


def test_a_link_seen_from_both_ends_is_one_dependency(con):
    rows = con.execute("""
        SELECT blocker_key, blocked_key, cross_project, is_open FROM core.dependencies ORDER BY ALL""").fetchall()
    assert rows == [("PAY-1", "CART-1", True, False), ("PAY-2", "CART-1", True, True)]


def test_overdue_milestone_with_open_work_is_red_with_its_numbers(con):
    health, reasons, schedule = con.execute(
        "SELECT health, reasons, schedule_health FROM marts.project_health WHERE project_key = 'PAY'").fetchone()
    assert (health, schedule) == ("red", "red")
    assert "Current milestone v1 was due 2026-02-15 (14 days ago) and still has 1 of 2 items open." in reasons


def test_a_late_blocker_in_another_project_makes_the_blocked_project_red(con):
    health, reasons, deps, schedule = con.execute("""
        SELECT health, reasons, dependency_health, schedule_health
        FROM marts.project_health WHERE project_key = 'CART'""").fetchone()
    assert (health, deps, schedule) == ("red", "red", "unknown")
    assert "PAY-2 (late: v1 was due 2026-02-15; no change for 28 days) blocks CART-1, which has no due date." in reasons


def test_unknown_is_never_green_and_a_program_is_never_greener_than_its_projects(con):
    web = con.execute("SELECT health, schedule_health FROM marts.project_health WHERE project_key = 'acme/web'").fetchone()
    assert web == ("unknown", "unknown")
    health, reasons = con.execute("SELECT health, reasons FROM marts.program_health").fetchone()
    assert health == "red"
    assert any(r.startswith("PAY-2 (late: v1 was due 2026-02-15") for r in reasons)


def test_github_labels_mean_what_the_site_rules_say(con):
    from transforms.build import LabelRuleRow

    issue = {"id": 777, "number": 9, "title": "Labelled", "state": "open", "state_reason": None, "assignee": None,
             "labels": [{"name": "Doing"}, {"name": "P1"}, {"name": "At Risk"}, {"name": "Defect"}],
             "html_url": "https://gh/acme/web/issues/9", "created_at": "2026-02-01T00:00:00Z",
             "updated_at": "2026-02-02T00:00:00Z", "closed_at": None, "milestone": None}
    upsert(con, "raw.github_issues", [{"site": "gh", "repo": "acme/web", "number": 9, "issue_id": 777,
                                       "updated_at": issue["updated_at"], "payload": issue, "synced_at": AS_OF,
                                       "sync_id": "s1"}])
    rules = [LabelRuleRow("gh", "status", "in progress", "doing", 1), LabelRuleRow("gh", "priority", "high", "p1", 1),
             LabelRuleRow("gh", "risk", "risk", "at risk", 0), LabelRuleRow("gh", "type", "bug", "defect", 1),
             LabelRuleRow("gh", "type", "task", "task", 3)]
    write_program_structure(con, [ProgramRow("checkout", "Checkout", None)], [
        ProjectRow("checkout", "cloud", "jira", "PAY", None), ProjectRow("checkout", "cloud", "jira", "CART", None),
        ProjectRow("checkout", "gh", "github", "acme/web", None)], rules)
    build_core(con, AS_OF)
    row = con.execute("""SELECT item_type, status, status_category, priority, at_risk, labels
                         FROM core.work_items WHERE key = 'acme/web#9'""").fetchall()
    assert row == [("bug", "in progress", "in_progress", "high", True, ["Doing", "P1", "At Risk", "Defect"])]
    # under these rules the old issue's "in progress" label means nothing: open, then closed
    gh = con.execute("""SELECT to_status FROM core.status_transitions WHERE item_id = 'github:555'
                        ORDER BY transition_seq""").fetchall()
    assert gh == [("open",), ("closed",)]


@pytest.mark.parametrize("body, closes", [
    ("Fixes #3", ["acme/web#3"]),
    ("This resolves acme/web#3.", ["acme/web#3"]),
    ("closes: https://github.com/acme/web/issues/3", ["acme/web#3"]),
    ("Refs #3, does not close it", []),
    ("Closes #99 (not synced)", []),
])
def test_pull_requests_close_issues_by_githubs_keywords(con, body, closes):
    pr = {"id": 900, "number": 50, "title": "A change", "body": body, "state": "closed",
          "pull_request": {"url": "https://api.github.com/repos/acme/web/pulls/50", "merged_at": "2026-01-21T00:00:00Z"},
          "user": {"login": "olga"},
          "created_at": "2026-01-19T00:00:00Z", "closed_at": "2026-01-21T00:00:00Z", "html_url": "https://gh/pr/50"}
    upsert(con, "raw.github_issues", [{"site": "gh", "repo": "acme/web", "number": 50, "issue_id": 900,
                                       "updated_at": pr["closed_at"], "payload": pr, "synced_at": AS_OF, "sync_id": "s1"}])
    build_table(con, "staging", "github_issues", AS_OF)  # the pull request parsed once, as a run does
    build_table(con, "core", "pull_requests", AS_OF)
    rows = con.execute("SELECT key, closes_keys, merged_at IS NOT NULL FROM core.pull_requests WHERE key = 'acme/web#50'").fetchall()
    assert rows == [("acme/web#50", closes, True)]


def test_the_changelog_completeness_check_names_issues_short_of_their_total(con):
    from pipelines.defs.checks import INCOMPLETE_CHANGELOGS

    assert con.execute(INCOMPLETE_CHANGELOGS).fetchall() == []  # every embedded changelog is whole
    # PAY-1 landed again with a cut changelog (its total above the 2 it embeds), then staged as a run does
    con.execute("""UPDATE raw.jira_issues SET payload = json_merge_patch(payload, '{"changelog": {"total": 5}}'),
                   synced_at = synced_at + INTERVAL 1 DAY WHERE issue_key = 'PAY-1'""")
    build_table(con, "staging", "jira_issues", AS_OF)
    assert con.execute(INCOMPLETE_CHANGELOGS).fetchall() == [("cloud", "PAY-1", 5, 2)]
    upsert(con, "raw.jira_changelogs", [{"site": "cloud", "issue_id": "101", "history_id": h, "payload": {"id": h},
                                        "synced_at": AS_OF, "sync_id": "s1"} for h in ("9001", "8001", "8002", "8003")])
    assert con.execute(INCOMPLETE_CHANGELOGS).fetchall() == []  # paged histories make up the rest, 9001 once


def test_a_renamed_jira_project_is_named_as_its_most_recently_updated_issue_shows_it(con):
    """Issues not edited since a rename still embed the old name: the newest one's name wins, in
    every build (any of them would do before)."""
    renamed = jira_issue("103", "PAY-3", "To Do", "new", [], [])
    renamed["fields"].update(updated="2026-02-20T09:00:00.000+0000", project={"key": "PAY", "name": "Payments & Billing"})
    upsert(con, "raw.jira_issues", [{"site": "cloud", "project_key": "PAY", "issue_id": "103", "issue_key": "PAY-3",
                                     "updated_at": renamed["fields"]["updated"], "payload": renamed,
                                     "synced_at": AS_OF, "sync_id": "s2"}])
    for _ in range(3):
        build_core(con, AS_OF)
        assert con.execute("SELECT project_name FROM core.projects WHERE project_key = 'PAY'").fetchall() == [
            ("Payments & Billing",)]
        con.execute("DROP TABLE core.projects")
