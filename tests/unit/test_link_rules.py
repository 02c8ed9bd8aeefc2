"""Jira issue links become dependencies by the site's link rules (program.yaml blocking_links):
each type's outward description says which end blocks, read the same from either issue."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from transforms.build import LinkRuleRow, ProgramRow, ProjectRow, build_core, write_program_structure
from warehouse.store import connect, migrate, upsert

AS_OF = datetime(2026, 3, 1, tzinfo=timezone.utc)
BLOCKS = {"name": "Blocks", "inward": "is blocked by", "outward": "blocks"}
DEPENDENCY = {"name": "Dependency", "inward": "is depended on by", "outward": "Depends  on"}
RELATES = {"name": "Relates", "inward": "relates to", "outward": "relates to"}
PREREQUISITE = {"name": "Prerequisite", "inward": "has prerequisite", "outward": "is prerequisite of"}


def link(kind: dict, outward: bool, other: tuple[str, str]) -> dict:
    return {"id": "1", "type": kind, ("outwardIssue" if outward else "inwardIssue"): {"id": other[0], "key": other[1]}}


def issue(issue_id: str, key: str, *links: dict) -> dict:
    return {"site": "dc", "project_key": key.split("-")[0], "issue_id": issue_id, "issue_key": key,
            "updated_at": "2026-02-01T09:00:00Z", "synced_at": AS_OF, "sync_id": "s1", "payload": {
                "id": issue_id, "key": key, "fields": {
                    "summary": key, "issuetype": {"name": "Story"}, "status": {"name": "To Do", "statusCategory": {"key": "new"}},
                    "created": "2026-01-05T10:00:00.000+0000", "updated": "2026-02-01T09:00:00.000+0000",
                    "issuelinks": list(links), "fixVersions": []}}}


def dependencies(tmp_path, rules: list[LinkRuleRow] | None) -> set[tuple[str, str, str]]:
    with connect(tmp_path / "w.duckdb") as con:
        migrate(con)
        upsert(con, "raw.jira_sites", [{"site": "dc", "base_url": "https://jira.acme.com", "server_info": {},
                                        "myself": {}, "fields": [], "statuses": [], "link_types": [],
                                        "field_roles": {}, "synced_at": AS_OF, "sync_id": "s1"}],
               json_columns=("server_info", "myself", "fields", "statuses", "link_types", "field_roles"))
        upsert(con, "raw.jira_issues", [
            issue("1", "PAY-1", link(BLOCKS, True, ("2", "PAY-2")), link(DEPENDENCY, True, ("3", "PAY-3"))),
            issue("2", "PAY-2", link(BLOCKS, False, ("1", "PAY-1")), link(RELATES, True, ("3", "PAY-3"))),
            issue("3", "PAY-3", link(DEPENDENCY, False, ("1", "PAY-1")), link(PREREQUISITE, False, ("4", "PAY-4"))),
            issue("4", "PAY-4", link(PREREQUISITE, True, ("3", "PAY-3"))),
        ])
        write_program_structure(con, [ProgramRow("p", "P", None)], [ProjectRow("p", "dc", "jira", "PAY", None)],
                                link_rules=rules)
        build_core(con, AS_OF)
        return set(con.execute("SELECT blocker_key, blocked_key, link_type FROM core.dependencies").fetchall())


def test_default_rules_read_blocks_and_depends_on_from_either_end(tmp_path):
    # PAY-1 blocks PAY-2 (said on both issues: one row); PAY-1 depends on PAY-3, so PAY-3 blocks PAY-1;
    # "relates to" and the site's own "is prerequisite of" are not dependencies by default.
    assert dependencies(tmp_path, None) == {("PAY-1", "PAY-2", "Blocks"), ("PAY-3", "PAY-1", "Dependency")}


def test_a_site_names_its_own_blocking_link_types(tmp_path):
    rules = [LinkRuleRow("dc", "blocks", "blocks"), LinkRuleRow("dc", "is prerequisite of", "blocks")]
    assert dependencies(tmp_path, rules) == {("PAY-1", "PAY-2", "Blocks"), ("PAY-4", "PAY-3", "Prerequisite")}
