"""Item-scoped tables merge the night's items, and also the items whose rows depend on another
item's landing (a table's [stale] section): worked out by hand on a sprint that one issue shows
closed while another, not landed again, still lists it."""

from __future__ import annotations

import shutil
from datetime import datetime, timezone

from transforms.build import STEPS, ProgramRow, ProjectRow, build_all, forget_derived, write_program_structure
from warehouse.store import connect, migrate, upsert

AS_OF = datetime(2026, 11, 27, tzinfo=timezone.utc)
FIRST, NIGHT = datetime(2026, 11, 20, tzinfo=timezone.utc), datetime(2026, 11, 26, tzinfo=timezone.utc)
ACTIVE = {"id": 2, "name": "PAY Sprint 2", "state": "active", "boardId": 7,
          "startDate": "2026-10-15T09:00:00.000Z", "endDate": "2026-10-29T09:00:00.000Z"}
CLOSED = {**ACTIVE, "state": "closed", "completeDate": "2026-10-29T08:00:00.000Z"}
NEXT = {"id": 3, "name": "PAY Sprint 3", "state": "active", "boardId": 7}


def issue(issue_id: str, key: str, sprints: list, updated: str) -> dict:
    return {"id": issue_id, "key": key, "fields": {
        "summary": f"Summary of {key}", "issuetype": {"name": "Story"}, "project": {"name": "Payments"},
        "status": {"name": "In Progress", "statusCategory": {"key": "indeterminate"}},
        "created": "2026-09-01T10:00:00.000+0000", "updated": updated, "labels": [], "components": [],
        "fixVersions": [], "customfield_10020": sprints}, "changelog": {"histories": []}}


def land(con, issues: list[dict], synced_at: datetime) -> None:
    upsert(con, "raw.jira_issues", [
        {"site": "cloud", "project_key": "PAY", "issue_id": i["id"], "issue_key": i["key"],
         "updated_at": i["fields"]["updated"], "payload": i, "synced_at": synced_at, "sync_id": str(synced_at)}
        for i in issues])


def tables(con) -> dict[str, list]:
    return {step.name: sorted(map(str, con.execute(f"SELECT * FROM {step.name}").fetchall()))
            for step in STEPS if step.schema != "marts"}


def test_a_sprint_closed_by_another_issue_moves_the_current_sprint_of_an_issue_not_landed(tmp_path):
    work = tmp_path / "work.duckdb"
    with connect(work) as con:
        migrate(con)
        upsert(con, "raw.jira_sites", [{
            "site": "cloud", "base_url": "https://cloud.example", "myself": {}, "fields": [], "statuses": [],
            "server_info": {"deploymentType": "Cloud", "baseUrl": "https://cloud.example"}, "link_types": [],
            "field_roles": {"sprint": "customfield_10020"}, "synced_at": FIRST, "sync_id": "s1"}],
            json_columns=("server_info", "myself", "fields", "statuses", "link_types", "field_roles"))
        write_program_structure(con, [ProgramRow("p", "Program", None)], [ProjectRow("p", "cloud", "jira", "PAY", None)])
        land(con, [issue("1", "PAY-1", [ACTIVE], "2026-10-20T10:00:00.000+0000"),
                   issue("2", "PAY-2", [ACTIVE], "2026-10-20T10:00:00.000+0000")], FIRST)
        build_all(con, AS_OF)
        assert con.execute("SELECT key, sprint_id FROM core.work_items ORDER BY key").fetchall() == [
            ("PAY-1", "jira:cloud:sprint:2"), ("PAY-2", "jira:cloud:sprint:2")]
        # The night: sprint 2 is completed; PAY-2 is carried over into sprint 3 (so it changed and is
        # landed again); PAY-1, done before, did not change and is not landed again.
        land(con, [issue("2", "PAY-2", [CLOSED, NEXT], "2026-10-29T08:00:00.000+0000")], NIGHT)
        built = build_all(con, AS_OF)
        assert built["core.work_items"].how == "merged" and built["core.work_items"].items == 2  # PAY-2, and PAY-1 by [stale]
        assert con.execute("SELECT key, sprint_id FROM core.work_items ORDER BY key").fetchall() == [
            ("PAY-1", None), ("PAY-2", "jira:cloud:sprint:3")]
        incremental = tables(con)
    scratch = tmp_path / "scratch.duckdb"
    shutil.copyfile(work, scratch)
    with connect(scratch) as con:
        forget_derived(con)
        build_all(con, AS_OF)
        assert tables(con) == incremental


def test_a_night_that_landed_nothing_builds_nothing(tmp_path):
    with connect(tmp_path / "work.duckdb") as con:
        migrate(con)
        write_program_structure(con, [ProgramRow("p", "Program", None)], [ProjectRow("p", "cloud", "jira", "PAY", None)])
        land(con, [issue("1", "PAY-1", [ACTIVE], "2026-10-20T10:00:00.000+0000")], FIRST)
        assert not any(b.skipped for b in build_all(con, AS_OF).values())
        assert all(b.skipped for b in build_all(con, AS_OF).values())
        # the item deltas every scoped table merged are forgotten
        assert con.execute("SELECT count(*) FROM meta.item_deltas").fetchone()[0] == 0
