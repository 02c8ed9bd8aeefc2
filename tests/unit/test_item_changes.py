"""core.item_changes from raw rows worked out by hand: every Jira field the program view reads, on
Cloud (items name their fieldId) and Server/DC (only the field's name), and every GitHub event type."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from transforms.build import ProgramRow, ProjectRow, build_core, build_table, write_program_structure
from warehouse.store import connect, migrate, upsert

AS_OF = datetime(2026, 3, 1, tzinfo=timezone.utc)
SITE_JSON = ("server_info", "myself", "fields", "statuses", "link_types", "field_roles")
COLUMNS = "field, from_value, to_value, from_id, to_id, author, tracker_field"
HOSTILE = "Robert'); DROP TABLE core.work_items; --"


def item(field: str, fieldtype: str, field_id: str | None, frm, frm_s, to, to_s) -> dict:
    change = {"field": field, "fieldtype": fieldtype}
    if field_id:
        change["fieldId"] = field_id
    return {**change, "from": frm, "fromString": frm_s, "to": to, "toString": to_s}


def history(hid: str, at: str, author: str | None, *items: dict) -> dict:
    return {"id": hid, "created": at, "author": {"displayName": author} if author else None, "items": list(items)}


def site(name: str, deployment: str, fields: list[dict], roles: dict) -> dict:
    return {"site": name, "base_url": f"https://{name}.example", "myself": {}, "statuses": [], "link_types": [],
            "server_info": {"deploymentType": deployment, "baseUrl": f"https://{name}.example"},
            "fields": fields, "field_roles": roles, "synced_at": AS_OF, "sync_id": "s1"}


def custom(field_id: str, name: str) -> dict:
    return {"id": field_id, "name": name, "custom": True}


# PAY-1 on Jira Cloud: embedded histories, newest first.
CLOUD_HISTORIES = [
    history("9005", "2026-01-20T10:00:00.000+0100", HOSTILE,
            item("duedate", "jira", "duedate", "2026-02-01", "2026-02-01 00:00:00.0", "2026-02-15",
                 "2026-02-15 00:00:00.0"),
            item("labels", "jira", "labels", None, "", None, "backend"),
            item("summary", "jira", "summary", None, "Old summary", None, HOSTILE),
            item("priority", "jira", "priority", "3", "Medium", "1", "Highest"),
            item("resolution", "jira", "resolution", None, None, "10000", "Done"),
            item("IssueParentAssociation", "jira", None, None, None, "100", "PAY-0"),
            item("description", "jira", "description", None, "a", None, "b")),  # left out
    history("9004", "2026-01-18T09:00:00.000+0000", "Ada O'Kafor",
            item("Story point estimate", "custom", "customfield_10016", None, None, None, "5"),
            item("Story Points", "custom", "customfield_10036", None, None, None, "8")),  # not the site's role
    history("9003", "2026-01-15T09:00:00.000+0000", None,
            item("Sprint", "custom", "customfield_10020", "", "", "3", "PAY Sprint 3"),
            item("Rank", "custom", "customfield_10019", "", "", "", "Ranked higher")),  # left out
    history("9002", "2026-01-12T09:00:00.000+0000", "Ada O'Kafor",
            item("Fix Version", "jira", "fixVersions", None, None, "11", "v1"),
            item("Fix Version", "jira", "fixVersions", "10", "v0", None, None)),
    history("9001", "2026-01-10T09:00:00.000+0000", "Ada O'Kafor",
            item("status", "jira", "status", "1", "To Do", "3", "In Progress"),
            item("assignee", "jira", "assignee", None, None, "acc-1", "Ada O'Kafor")),
]
# CART-1 on Jira Data Center: no fieldId; the sprint field is called Iteration on this site.
DC_HISTORIES = [
    history("7001", "2026-01-11T08:00:00.000+0000", "Bo Lind",
            item("Iteration", "custom", None, "11", "Sprint 3", "11, 12", "Sprint 3, Sprint 4"),
            item("Story Points", "custom", None, None, "3", None, "5"),
            item("Epic Link", "custom", None, None, None, "300", "CART-9"),
            item("Fix Version", "jira", None, None, None, "21", "2.0"),
            item("assignee", "jira", None, "bo", "Bo Lind", None, None)),
]


def jira_issue(issue_id: str, key: str, histories: list) -> dict:
    return {"id": issue_id, "key": key, "fields": {
        "summary": f"Summary of {key}", "issuetype": {"name": "Story"},
        "status": {"name": "To Do", "statusCategory": {"key": "new"}},
        "created": "2026-01-05T10:00:00.000+0000", "updated": "2026-02-01T09:00:00.000+0000",
        "labels": [], "fixVersions": [], "project": {"key": key.split("-")[0]}},
        "changelog": {"startAt": 0, "maxResults": len(histories), "total": len(histories), "histories": histories}}


def gh_issue(issue_id: int, number: int, **extra) -> dict:
    return {"id": issue_id, "number": number, "title": f"Issue {number}", "state": "open", "labels": [],
            "assignee": None, "milestone": None, "html_url": f"https://gh/acme/web/issues/{number}",
            "created_at": "2026-01-02T00:00:00Z", "updated_at": "2026-01-20T00:00:00Z", **extra}


GH_EVENTS = [  # (event id, issue id, event, at, extra)
    (1, 555, "assigned", "2026-01-03T00:00:00Z", {"assignee": {"login": "olga"}}),
    (2, 555, "unassigned", "2026-01-04T00:00:00Z", {"assignee": {"login": "olga"}}),
    (3, 555, "milestoned", "2026-01-05T00:00:00Z", {"milestone": {"title": "v1.0"}}),
    (4, 555, "demilestoned", "2026-01-06T00:00:00Z", {"milestone": {"title": "Gone"}}),
    (5, 555, "labeled", "2026-01-07T00:00:00Z", {"label": {"name": "bug"}}),
    (6, 555, "unlabeled", "2026-01-08T00:00:00Z", {"label": {"name": "bug"}}),
    (7, 555, "renamed", "2026-01-09T00:00:00Z", {"rename": {"from": "Issue 3", "to": HOSTILE}}),
    (8, 555, "closed", "2026-01-10T00:00:00Z", {"state_reason": "completed"}),
    (9, 555, "reopened", "2026-01-11T00:00:00Z", {"state_reason": "reopened"}),
    (10, 555, "referenced", "2026-01-12T00:00:00Z", {"commit_id": "abc"}),  # not a field change
    (11, 556, "labeled", "2026-01-12T00:00:00Z", {"label": {"name": "bug"}}),  # a pull request
    (12, 557, "closed", "2026-01-13T00:00:00Z", {}),  # a 2012 issue with an empty pull_request
]


def build(con) -> None:
    build_core(con, AS_OF)


@pytest.fixture()
def con(tmp_path):
    with connect(tmp_path / "w.duckdb") as con:
        migrate(con)
        upsert(con, "raw.jira_sites", [
            site("cloud", "Cloud", [custom("customfield_10016", "Story point estimate"),
                                    custom("customfield_10036", "Story Points"), custom("customfield_10020", "Sprint")],
                 {"story_points": "customfield_10016", "sprint": "customfield_10020"}),
            site("dc", "DataCenter", [custom("customfield_10104", "Iteration"), custom("customfield_10106", "Story Points"),
                                      custom("customfield_10100", "Epic Link")],
                 {"sprint": "customfield_10104", "story_points": "customfield_10106", "epic_link": "customfield_10100"}),
        ], json_columns=SITE_JSON)
        upsert(con, "raw.jira_issues", [
            {"site": s, "project_key": i["key"].split("-")[0], "issue_id": i["id"], "issue_key": i["key"],
             "updated_at": i["fields"]["updated"], "payload": i, "synced_at": AS_OF, "sync_id": "s1"}
            for s, i in (("cloud", jira_issue("101", "PAY-1", CLOUD_HISTORIES)),
                         ("dc", jira_issue("201", "CART-1", DC_HISTORIES)))])
        issues = [gh_issue(555, 3), gh_issue(556, 4, pull_request={"url": "https://api/pulls/4"}),
                  gh_issue(557, 5, pull_request={"html_url": None, "diff_url": None, "patch_url": None})]
        upsert(con, "raw.github_issues", [
            {"site": "gh", "repo": "acme/web", "number": i["number"], "issue_id": i["id"],
             "updated_at": i["updated_at"], "payload": i, "synced_at": AS_OF, "sync_id": "s1"} for i in issues])
        upsert(con, "raw.github_milestones", [{"site": "gh", "repo": "acme/web", "number": 2, "payload": {
            "number": 2, "title": "v1.0", "state": "open"}, "synced_at": AS_OF, "sync_id": "s1"}])
        number = {i["id"]: i["number"] for i in issues}
        upsert(con, "raw.github_issue_events", [
            {"site": "gh", "repo": "acme/web", "event_id": eid, "issue_number": number[iid], "created_at": at,
             "payload": {"id": eid, "event": ev, "created_at": at, "actor": {"login": "bob"},
                         "issue": {"id": iid, "number": number[iid]}, **extra},
             "synced_at": AS_OF, "sync_id": "s1"} for eid, iid, ev, at, extra in GH_EVENTS])
        write_program_structure(con, [ProgramRow("checkout", "Checkout", None)], [
            ProjectRow("checkout", "cloud", "jira", "PAY", None), ProjectRow("checkout", "dc", "jira", "CART", None),
            ProjectRow("checkout", "gh", "github", "acme/web", None)])
        build(con)
        yield con


def changes(con, key: str) -> list[tuple]:
    return con.execute(f"""
        SELECT strftime(changed_at, '%Y-%m-%d %H:%M'), coalesce(history_id, event_id::VARCHAR), {COLUMNS}
        FROM core.item_changes WHERE key = ? ORDER BY changed_at, field, from_id NULLS FIRST""", [key]).fetchall()


def test_jira_cloud_fields_by_field_id_and_the_sites_roles(con):
    assert changes(con, "PAY-1") == [
        ("2026-01-10 09:00", "9001", "assignee", None, "Ada O'Kafor", None, "acc-1", "Ada O'Kafor", "assignee"),
        ("2026-01-10 09:00", "9001", "status", "To Do", "In Progress", "1", "3", "Ada O'Kafor", "status"),
        # one row per version added or removed, as Jira writes them
        ("2026-01-12 09:00", "9002", "milestone", None, "v1", None, "11", "Ada O'Kafor", "Fix Version"),
        ("2026-01-12 09:00", "9002", "milestone", "v0", None, "10", None, "Ada O'Kafor", "Fix Version"),
        ("2026-01-15 09:00", "9003", "sprint", None, "PAY Sprint 3", None, "3", None, "Sprint"),
        # only the site's story-points field: the other "Story Points" field is not the role
        ("2026-01-18 09:00", "9004", "story_points", None, "5", None, None, "Ada O'Kafor", "Story point estimate"),
        # +0100 in the history: 09:00 UTC
        ("2026-01-20 09:00", "9005", "due_date", "2026-02-01 00:00:00.0", "2026-02-15 00:00:00.0", "2026-02-01",
         "2026-02-15", HOSTILE, "duedate"),
        ("2026-01-20 09:00", "9005", "labels", None, "backend", None, None, HOSTILE, "labels"),
        ("2026-01-20 09:00", "9005", "parent", None, "PAY-0", None, "100", HOSTILE, "IssueParentAssociation"),
        ("2026-01-20 09:00", "9005", "priority", "Medium", "Highest", "3", "1", HOSTILE, "priority"),
        ("2026-01-20 09:00", "9005", "resolution", None, "Done", None, "10000", HOSTILE, "resolution"),
        ("2026-01-20 09:00", "9005", "title", "Old summary", HOSTILE, None, None, HOSTILE, "summary"),
    ]
    assert con.execute("SELECT DISTINCT item_id, source FROM core.item_changes WHERE key = 'PAY-1'").fetchall() == [
        ("jira:cloud:101", "jira")]


def test_jira_server_fields_by_name_and_the_roles_field_names(con):
    assert changes(con, "CART-1") == [
        ("2026-01-11 08:00", "7001", "assignee", "Bo Lind", None, "bo", None, "Bo Lind", "assignee"),
        ("2026-01-11 08:00", "7001", "milestone", None, "2.0", None, "21", "Bo Lind", "Fix Version"),
        ("2026-01-11 08:00", "7001", "parent", None, "CART-9", None, "300", "Bo Lind", "Epic Link"),
        ("2026-01-11 08:00", "7001", "sprint", "Sprint 3", "Sprint 3, Sprint 4", "11", "11, 12", "Bo Lind",
         "Iteration"),
        ("2026-01-11 08:00", "7001", "story_points", "3", "5", None, None, "Bo Lind", "Story Points"),
    ]


def test_without_field_roles_custom_fields_are_found_by_their_usual_names(con):
    con.execute("UPDATE raw.jira_sites SET field_roles = '{}'")
    build_table(con, "core", "jira_changelog_items", AS_OF)
    build_table(con, "core", "item_changes", AS_OF)
    got = con.execute("""SELECT key, tracker_field, field FROM core.item_changes
                         WHERE field IN ('sprint', 'story_points', 'parent') ORDER BY ALL""").fetchall()
    assert got == [("CART-1", "Epic Link", "parent"), ("CART-1", "Story Points", "story_points"),
                   ("PAY-1", "IssueParentAssociation", "parent"), ("PAY-1", "Sprint", "sprint"),
                   ("PAY-1", "Story Points", "story_points"), ("PAY-1", "Story point estimate", "story_points")]


def test_a_paged_history_that_repeats_an_embedded_one_is_one_change(con):
    older = history("9000", "2026-01-06T09:00:00.000+0000", "Ada O'Kafor",
                    item("priority", "jira", "priority", "4", "Low", "3", "Medium"))
    upsert(con, "raw.jira_changelogs", [{"site": "cloud", "issue_id": "101", "history_id": h["id"], "payload": h,
                                        "synced_at": AS_OF, "sync_id": "s1"} for h in (older, CLOUD_HISTORIES[-1])])
    build_table(con, "core", "jira_changelog_items", AS_OF)
    build_table(con, "core", "item_changes", AS_OF)
    got = con.execute("""SELECT history_id, field, from_value, to_value FROM core.item_changes
                         WHERE key = 'PAY-1' AND history_id IN ('9000', '9001') ORDER BY ALL""").fetchall()
    assert got == [("9000", "priority", "Low", "Medium"), ("9001", "assignee", None, "Ada O'Kafor"),
                   ("9001", "status", "To Do", "In Progress")]


def test_github_events_become_field_changes(con):
    assert changes(con, "acme/web#3") == [
        ("2026-01-03 00:00", "1", "assignee", None, "olga", None, "olga", "bob", "assigned"),
        ("2026-01-04 00:00", "2", "assignee", "olga", None, "olga", None, "bob", "unassigned"),
        ("2026-01-05 00:00", "3", "milestone", None, "v1.0", None, "2", "bob", "milestoned"),
        # no milestone is called Gone (any more): no number
        ("2026-01-06 00:00", "4", "milestone", "Gone", None, None, None, "bob", "demilestoned"),
        ("2026-01-07 00:00", "5", "labels", None, "bug", None, None, "bob", "labeled"),
        ("2026-01-08 00:00", "6", "labels", "bug", None, None, None, "bob", "unlabeled"),
        ("2026-01-09 00:00", "7", "title", "Issue 3", HOSTILE, None, None, "bob", "renamed"),
        ("2026-01-10 00:00", "8", "status", "open", "closed", None, None, "bob", "closed"),
        ("2026-01-11 00:00", "9", "status", "closed", "open", None, None, "bob", "reopened"),
    ]
    assert con.execute("SELECT DISTINCT item_id, source FROM core.item_changes WHERE key = 'acme/web#3'").fetchall() == [
        ("github:555", "github")]


def test_pull_requests_are_left_out_but_2012_issues_with_an_empty_pull_request_are_not(con):
    assert changes(con, "acme/web#4") == []
    assert changes(con, "acme/web#5") == [
        ("2026-01-13 00:00", "12", "status", "open", "closed", None, None, "bob", "closed")]
    assert con.execute("SELECT count(*) FROM core.work_items").fetchone()[0] == 4  # tracker text was never SQL
