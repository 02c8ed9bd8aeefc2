"""Tombstones worked out by hand: issues that vanish are remembered, and the burn-up counts them
on the days they existed and as scope removed on the day they vanished (from their milestone and
project; a move takes an item from one project to the other that day).

One Jira site with projects PAY (version 100 "PAY 1.0", starting 11-02) and CART (version 200
"CART 1.0", no start date); one GitHub repository. Three syncs, on the sync clock (UTC):

s1 (11-06 00:00), then a build:
  PAY-1  created 11-01 10:00 in PAY 1.0, 3 points; Done 11-05 10:00.        Stays.
  PAY-2  created 11-02 08:00 in PAY 1.0, 5 points; In Progress 11-03 10:00. Deleted before s2.
  PAY-3  created 11-02 08:00 in PAY 1.0, 2 points.  Moved 11-08 10:00 to CART as CART-7 (out of
         PAY 1.0 first, as Jira records it); put in CART 1.0 11-09 12:00. CART lands it first in s2.
  PAY-5  created 11-03 08:00, 1 point, no version. Moved 11-09 09:00 to CART as CART-8; PAY's
         listing misses it before CART lands it (a tombstone "deleted", then one "moved").
s2 (11-10 00:00), no build: PAY-6 created 11-09 08:00 in PAY 1.0, 1 point, lands.
s3 (11-12 00:00): PAY-6 deleted (no build ever saw it: its last known state stands for its history).
The last build is as of 11-14 00:00.
"""

from __future__ import annotations

import shutil
from datetime import date, datetime, timezone

import pytest

from pipelines.ingest import _forget_missing, _forget_unseen, _note_arrivals
from transforms.build import ProgramRow, ProjectRow, build_all, forget_derived, write_program_structure
from warehouse.store import connect, migrate, upsert

S1, S2, S3 = (datetime(2026, 11, d, tzinfo=timezone.utc) for d in (6, 10, 12))
AS_OF = datetime(2026, 11, 14, tzinfo=timezone.utc)
STATUSES = {"To Do": ("1", "new"), "In Progress": ("3", "indeterminate"), "Done": ("10001", "done")}
VERSIONS = {"100": "PAY 1.0", "200": "CART 1.0"}


def at(text: str) -> str:
    return f"2026-{text}:00.000+0000"


def status(old: str, new: str) -> dict:
    return {"field": "status", "fieldtype": "jira", "fieldId": "status", "from": STATUSES[old][0], "fromString": old,
            "to": STATUSES[new][0], "toString": new}


def version(added: str | None = None, removed: str | None = None) -> dict:
    return {"field": "Fix Version", "fieldtype": "jira", "fieldId": "fixVersions", "from": removed,
            "fromString": VERSIONS.get(removed or ""), "to": added, "toString": VERSIONS.get(added or "")}


def move(old: str, new: str) -> list[dict]:
    return [{"field": "project", "fieldtype": "jira", "fieldId": "project", "from": "1", "fromString": "Payments",
             "to": "2", "toString": "Cart"},
            {"field": "Key", "fieldtype": "jira", "fieldId": "issuekey", "from": None, "fromString": old,
             "to": None, "toString": new}]


def issue(n: int, key: str, created: str, state: str, versions: list[str], sp: float | None,
          histories: list[tuple[str, list]], res: str | None = None) -> dict:
    return {"id": str(n), "key": key, "fields": {
        "summary": f"Item {n}", "issuetype": {"name": "Story"}, "project": {"name": key.split("-")[0]},
        "status": {"name": state, "statusCategory": {"key": STATUSES[state][1]}},
        "resolution": {"name": res} if res else None, "assignee": {"displayName": "Ana", "accountId": "a-1"},
        "created": at(created), "updated": at(histories[-1][0] if histories else created), "labels": [],
        "components": [], "fixVersions": [{"id": v, "name": VERSIONS[v]} for v in versions],
        "issuelinks": [], "customfield_10016": sp},
        "changelog": {"histories": [
            {"id": str(n * 100 + i), "created": at(when), "author": {"displayName": "Ana"}, "items": items}
            for i, (when, items) in enumerate(histories)]}}


PAY1 = issue(1, "PAY-1", "11-01T10:00", "Done", ["100"], 3, [("11-05T10:00", [status("To Do", "Done")])], res="Done")
PAY2 = issue(2, "PAY-2", "11-02T08:00", "In Progress", ["100"], 5, [("11-03T10:00", [status("To Do", "In Progress")])])
PAY3 = issue(3, "PAY-3", "11-02T08:00", "To Do", ["100"], 2, [])
CART7 = issue(3, "CART-7", "11-02T08:00", "To Do", ["200"], 2, [
    ("11-08T10:00", [version(removed="100")]), ("11-08T10:01", move("PAY-3", "CART-7")),
    ("11-09T12:00", [version(added="200")])])
PAY5 = issue(5, "PAY-5", "11-03T08:00", "To Do", [], 1, [])
CART8 = issue(5, "CART-8", "11-03T08:00", "To Do", [], 1, [("11-09T09:00", move("PAY-5", "CART-8"))])
PAY6 = issue(6, "PAY-6", "11-09T08:00", "To Do", ["100"], 1, [])


def land(con, project: str, issues: list[dict], sync_id: str) -> None:
    """As ingest lands a page: moves noted first, then the upsert."""
    _note_arrivals(con, "raw.jira_issues", "cloud", project, [(i["id"], i["key"]) for i in issues], sync_id)
    upsert(con, "raw.jira_issues", [
        {"site": "cloud", "project_key": project, "issue_id": i["id"], "issue_key": i["key"],
         "updated_at": i["fields"]["updated"], "payload": i, "synced_at": datetime.now(timezone.utc),
         "sync_id": sync_id} for i in issues])


def listing(con, project: str, ids: set[str], sync_id: str) -> None:
    """As a reconciliation ends: the project's missing ids forgotten, in one transaction."""
    con.execute("BEGIN")
    _forget_missing(con, "cloud", project, ids, sync_id)
    con.execute("COMMIT")


def start(con, sync_id: str, clock: datetime) -> None:
    con.execute("INSERT INTO meta.sync_runs (sync_id, started_at, as_of, status) VALUES (?, now(), ?, 'running')",
                [sync_id, clock])


def tombstones(con) -> list[tuple]:
    return con.execute("""SELECT key_before, kind, moved_to_project, moved_to_key, observed_at, sync_id
                          FROM raw.tombstones ORDER BY key_before, kind""").fetchall()


@pytest.fixture(scope="module")
def path(tmp_path_factory):
    path = tmp_path_factory.mktemp("tombstones") / "work.duckdb"
    with connect(path) as con:
        migrate(con)
        upsert(con, "raw.jira_sites", [{
            "site": "cloud", "base_url": "https://cloud.example", "myself": {}, "fields": [],
            "statuses": [{"id": i, "name": n, "statusCategory": {"key": c}} for n, (i, c) in STATUSES.items()],
            "server_info": {"deploymentType": "Cloud", "baseUrl": "https://cloud.example"}, "link_types": [],
            "field_roles": {"story_points": "customfield_10016"}, "synced_at": S1, "sync_id": "s1"}],
            json_columns=("server_info", "myself", "fields", "statuses", "link_types", "field_roles"))
        upsert(con, "raw.jira_versions", [
            {"site": "cloud", "project_key": "PAY", "version_id": "100", "synced_at": S1, "sync_id": "s1",
             "payload": {"id": "100", "name": "PAY 1.0", "startDate": "2026-11-02", "releaseDate": "2026-11-30",
                         "released": False, "archived": False}},
            {"site": "cloud", "project_key": "CART", "version_id": "200", "synced_at": S1, "sync_id": "s1",
             "payload": {"id": "200", "name": "CART 1.0", "releaseDate": "2026-12-18", "released": False,
                         "archived": False}}])
        write_program_structure(con, [ProgramRow("p", "Program", None)], [
            ProjectRow("p", "cloud", "jira", "PAY", None), ProjectRow("p", "cloud", "jira", "CART", None)])
        start(con, "s1", S1)
        land(con, "PAY", [PAY1, PAY2, PAY3, PAY5], "s1")
        build_all(con, S1)
        start(con, "s2", S2)
        land(con, "CART", [CART7], "s2")  # CART lands CART-7 while PAY still holds it as PAY-3
        listing(con, "PAY", {"1"}, "s2")  # PAY's listing: PAY-2 and PAY-5 are gone from it
        land(con, "CART", [CART8], "s2")  # PAY-5, tombstoned as deleted, lands as CART-8
        land(con, "PAY", [PAY6], "s2")
        start(con, "s3", S3)
        listing(con, "PAY", {"1"}, "s3")
        build_all(con, AS_OF)
    return path


@pytest.fixture
def con(path):
    with connect(path) as con:
        yield con


def test_vanished_issues_leave_tombstones_with_where_they_went(con):
    assert tombstones(con) == [
        ("PAY-2", "deleted", None, None, S2, "s2"),
        ("PAY-3", "moved", "CART", "CART-7", S2, "s2"),  # its row was still in PAY when CART landed it
        ("PAY-5", "deleted", None, None, S2, "s2"),      # PAY's listing missed it first ...
        ("PAY-5", "moved", "CART", "CART-8", S2, "s2"),  # ... and CART landed it: moved, kept apart
        ("PAY-6", "deleted", None, None, S3, "s3"),
    ]


def test_the_last_known_state_is_kept(con):
    row = con.execute("""SELECT item_id, project_before, title, item_type, status, status_category, milestones,
                                milestone_ids, story_points, assignee, assignee_id, last_sync_id, payload->>'key'
                         FROM raw.tombstones WHERE key_before = 'PAY-2'""").fetchone()
    assert row == ("jira:cloud:2", "PAY", "Item 2", "story", "In Progress", "in_progress", ["PAY 1.0"],
                   ["jira:cloud:version:100"], 5.0, "Ana", "a-1", "s1", "PAY-2")
    # the history the build after s1 held, as core.item_history had it
    history = {(h["field"], h["value"]): (h["valid_from"], h["valid_to"]) for (h,) in con.execute(
        "SELECT unnest(history) FROM raw.tombstones WHERE key_before = 'PAY-2'").fetchall()}
    assert history[("status", "In Progress")] == (datetime(2026, 11, 3, 10, tzinfo=timezone.utc), None)
    assert history[("milestone", "PAY 1.0")] == (datetime(2026, 11, 2, 8, tzinfo=timezone.utc), None)
    # PAY-6 vanished before any build saw it
    assert con.execute("SELECT history FROM raw.tombstones WHERE key_before = 'PAY-6'").fetchone()[0] is None


def test_core_tombstones_resolves_moves(con):
    rows = {r[0]: r[1:] for r in con.execute("""
        SELECT key_before, kind, moved_to_project, moved_to_key, vanished_at, observed_at, still_synced, is_last,
               history_held
        FROM core.tombstones""").fetchall()}
    utc = timezone.utc
    assert rows == {
        "PAY-2": ("deleted", None, None, S2, S2, False, True, True),
        # a Jira move is dated by its changelog's Key item, not by the sync that saw it
        "PAY-3": ("moved", "CART", "CART-7", datetime(2026, 11, 8, 10, 1, tzinfo=utc), S2, True, True, True),
        "PAY-5": ("moved", "CART", "CART-8", datetime(2026, 11, 9, 9, tzinfo=utc), S2, True, True, True),
        "PAY-6": ("deleted", None, None, S3, S3, False, True, False),
    }


def test_history_of_a_deleted_item_is_closed_when_it_vanished(con):
    rows = con.execute("""SELECT field, value, valid_from, valid_to FROM core.item_history
                          WHERE item_id = 'jira:cloud:2' AND field IN ('status', 'milestone', 'story_points')
                          ORDER BY field, valid_from""").fetchall()
    utc = timezone.utc
    assert rows == [
        ("milestone", "PAY 1.0", datetime(2026, 11, 2, 8, tzinfo=utc), S2),
        ("status", "To Do", datetime(2026, 11, 2, 8, tzinfo=utc), datetime(2026, 11, 3, 10, tzinfo=utc)),
        ("status", "In Progress", datetime(2026, 11, 3, 10, tzinfo=utc), S2),
        ("story_points", "5.0", datetime(2026, 11, 2, 8, tzinfo=utc), S2),
    ]
    # no build saw PAY-6: its last known state, from its creation until it vanished
    assert con.execute("""SELECT field, value, valid_from, valid_to FROM core.item_history
                          WHERE item_id = 'jira:cloud:6' ORDER BY field""").fetchall() == [
        ("assignee", "Ana", datetime(2026, 11, 9, 8, tzinfo=utc), S3),
        ("milestone", "PAY 1.0", datetime(2026, 11, 9, 8, tzinfo=utc), S3),
        ("status", "To Do", datetime(2026, 11, 9, 8, tzinfo=utc), S3),
        ("status_category", "todo", datetime(2026, 11, 9, 8, tzinfo=utc), S3),
        ("story_points", "1.0", datetime(2026, 11, 9, 8, tzinfo=utc), S3),
    ]
    assert con.execute("SELECT count(*) FROM core.work_items WHERE item_id IN ('jira:cloud:2', 'jira:cloud:6')"
                       ).fetchone()[0] == 0


def test_burnup_counts_vanished_items_until_they_vanish(con):
    rows = con.execute("""
        SELECT day, scope_items, done_items, scope_points, done_points, unestimated_items, wip_items,
               scope_added_items, scope_removed_items
        FROM marts.burnup WHERE level = 'milestone' AND milestone_id = 'jira:cloud:version:100' ORDER BY day""").fetchall()
    expected = {  # day: scope, done, scope points, done points, unestimated, wip, added, removed
        2: (3, 0, 10.0, 0.0, 0, 0, 2, 0),   # PAY-1 was in it before its start: not added
        3: (3, 0, 10.0, 0.0, 0, 1, 0, 0),   # PAY-2 in progress
        5: (3, 1, 10.0, 3.0, 0, 1, 0, 0),   # PAY-1 done
        8: (2, 1, 8.0, 3.0, 0, 1, 0, 1),    # PAY-3 out of PAY 1.0, then moved to CART
        9: (3, 1, 9.0, 3.0, 0, 1, 1, 0),    # PAY-6 created in it
        10: (2, 1, 4.0, 3.0, 0, 0, 0, 1),   # PAY-2 deleted: found gone by s2 (11-10 00:00)
        12: (1, 1, 3.0, 3.0, 0, 0, 0, 1),   # PAY-6 deleted: found gone by s3
    }
    assert [r[0] for r in rows] == [date(2026, 11, d) for d in range(2, 15)]
    for day, *figures in rows:
        want = expected.get(day.day) or expected[max(d for d in expected if d < day.day)][:6] + (0, 0)
        assert tuple(figures) == want, day
    # the last day is marts.progress
    assert con.execute("""SELECT scope_items, done_items FROM marts.progress
                          WHERE milestone_id = 'jira:cloud:version:100'""").fetchone() == (1, 1)
    # moved into CART 1.0: scope added on its first day
    assert con.execute("""SELECT day, scope_items, scope_added_items FROM marts.burnup
                          WHERE milestone_id = 'jira:cloud:version:200' ORDER BY day LIMIT 1""").fetchone() == (
        date(2026, 11, 9), 1, 1)
    # the project: PAY-3 and PAY-5 moved out to CART, PAY-2 and PAY-6 deleted, each on its day
    def changes(level: str, project: str | None) -> dict:
        return {r[0]: r[1:] for r in con.execute("""
            SELECT day, scope_added_items, scope_removed_items, scope_items FROM marts.burnup
            WHERE level = ? AND project_key IS NOT DISTINCT FROM ?
              AND (scope_added_items > 0 OR scope_removed_items > 0)""", [level, project]).fetchall()}
    nov = {d: date(2026, 11, d) for d in range(1, 15)}
    assert changes("project", "PAY") == {
        nov[1]: (1, 0, 1), nov[2]: (2, 0, 3), nov[3]: (1, 0, 4),  # PAY-1; PAY-2 and PAY-3; PAY-5
        nov[8]: (0, 1, 3), nov[9]: (1, 1, 3), nov[10]: (0, 1, 2), nov[12]: (0, 1, 1)}  # PAY-6 created 11-09
    assert changes("project", "CART") == {nov[8]: (1, 0, 1), nov[9]: (1, 0, 2)}
    # the program: a move between two of its projects is neither added nor removed
    assert changes("program", None) == {
        nov[1]: (1, 0, 1), nov[2]: (2, 0, 3), nov[3]: (1, 0, 4), nov[9]: (1, 0, 5), nov[10]: (0, 1, 4),
        nov[12]: (0, 1, 3)}


def test_a_rerun_and_a_full_resync_write_no_tombstone_twice(con):
    before = tombstones(con)
    start(con, "s3-rerun", S3)
    listing(con, "PAY", {"1"}, "s3-rerun")
    land(con, "CART", [CART7, CART8], "s3-rerun")
    # a full resync: every held row landed again, the unseen forgotten
    start(con, "full", AS_OF)
    land(con, "PAY", [PAY1], "full")
    land(con, "CART", [CART7, CART8], "full")
    con.execute("BEGIN")
    for project in ("PAY", "CART"):
        _forget_unseen(con, "raw.jira_issues", "project_key", "cloud", project, "full")
    con.execute("COMMIT")
    assert tombstones(con) == before


def test_a_rebuild_from_nothing_keeps_them(path, tmp_path):
    copy = tmp_path / "scratch.duckdb"
    shutil.copyfile(path, copy)

    def digest(p) -> dict[str, str]:
        with connect(p) as con:
            return {t: con.execute(f"SELECT count(*) || md5(string_agg(CAST(x AS VARCHAR), '|' ORDER BY CAST(x AS VARCHAR))) "
                                   f"FROM {t} x").fetchone()[0]
                    for t in ("core.tombstones", "core.item_history", "marts.burnup")}
    with connect(copy) as con:
        forget_derived(con)
        assert all(b.how in ("rebuilt", "ran") for b in build_all(con, AS_OF).values())
    assert digest(copy) == digest(path)


def test_github_issues_deleted_or_transferred_and_pull_requests(tmp_path):
    def gh(repo: str, number: int, issue_id: int, pr: bool = False, milestone: int | None = None) -> dict:
        payload = {"id": issue_id, "number": number, "title": f"#{number}", "state": "open", "labels": [{"name": "Bug"}],
                   "created_at": "2026-11-01T00:00:00Z", "updated_at": "2026-11-02T00:00:00Z",
                   "assignee": {"login": "rosa"}, "milestone": {"number": milestone, "title": "Launch"} if milestone else None}
        if pr:
            payload["pull_request"] = {"url": f"https://api.example/{repo}/pulls/{number}"}
        return {"site": "gh", "repo": repo, "number": number, "issue_id": issue_id, "updated_at": payload["updated_at"],
                "payload": payload, "synced_at": S1, "sync_id": "s1"}

    with connect(tmp_path / "gh.duckdb") as con:
        migrate(con)
        upsert(con, "raw.github_issues", [gh("acme/web", 1, 11, milestone=3), gh("acme/web", 2, 12, pr=True),
                                          gh("acme/web", 3, 13), gh("acme/api", 7, 13)])
        con.execute("UPDATE raw.github_issues SET sync_id = 's2' WHERE repo = 'acme/api'")
        start(con, "s2", S2)
        con.execute("BEGIN")
        _forget_unseen(con, "raw.github_issues", "repo", "gh", "acme/web", "s2")  # the listing of acme/web found none
        con.execute("COMMIT")
        rows = con.execute("""SELECT key_before, kind, moved_to_project, moved_to_key, status_category, milestones,
                                     milestone_ids, assignee FROM raw.tombstones ORDER BY key_before""").fetchall()
        assert rows == [
            ("acme/web#1", "deleted", None, None, "todo", ["Launch"], ["github:gh:acme/web:milestone:3"], "rosa"),
            ("acme/web#3", "moved", "acme/api", "acme/api#7", "todo", [], [], "rosa"),  # same id, held in acme/api
        ]  # the pull request left none
        write_program_structure(con, [ProgramRow("p", "Program", None)], [ProjectRow("p", "gh", "github", "acme/web", None)])
        build_all(con, S2)
        # the type from the last labels by the site's rules (the defaults: a Bug label is a bug)
        assert con.execute("SELECT key_before, kind, item_type, still_synced FROM core.tombstones ORDER BY 1").fetchall() == [
            ("acme/web#1", "deleted", "bug", False), ("acme/web#3", "moved", "bug", False)]
