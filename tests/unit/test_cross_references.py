"""Cross-references written in text become rows of core.dependencies (source 'text').

Hand-made raw rows on two Jira sites (Cloud with ADF descriptions, Data Center with wiki text, both
with a project PAY) and two GitHub repositories; each text names its targets in one of the forms the
SQL recognises, or in a form it must ignore."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from transforms.build import ProgramRow, ProjectRow, build_core, write_program_structure
from warehouse.store import connect, migrate, upsert

AS_OF = datetime(2026, 3, 1, tzinfo=timezone.utc)
BLOCKS = {"name": "Blocks", "inward": "is blocked by", "outward": "blocks"}
BASE = {"cloud": "https://acme.example", "dc": "https://jira.acme.com"}


def adf(*nodes: dict) -> dict:
    return {"type": "doc", "version": 1, "content": [{"type": "paragraph", "content": list(nodes)}]}


def text(value: str, bold: bool = False) -> dict:
    return {"type": "text", "text": value, **({"marks": [{"type": "strong"}]} if bold else {})}


def jira(site: str, issue_id: str, key: str, summary: str, description=None, links=(), category="new") -> dict:
    return {"site": site, "project_key": key.split("-")[0], "issue_id": issue_id, "issue_key": key,
            "updated_at": "2026-02-01T09:00:00Z", "synced_at": AS_OF, "sync_id": "s1", "payload": {
                "id": issue_id, "key": key, "fields": {
                    "summary": summary, "description": description, "issuetype": {"name": "Story"},
                    "status": {"name": "To Do", "statusCategory": {"key": category}},
                    "created": "2026-01-05T10:00:00.000+0000", "updated": "2026-02-01T09:00:00.000+0000",
                    "issuelinks": list(links), "fixVersions": []}}}


def github(repo: str, number: int, issue_id: int, title: str, body: str | None = None, pr: bool = False) -> dict:
    payload = {"id": issue_id, "number": number, "title": title, "body": body, "state": "open", "labels": [],
               "html_url": f"https://github.com/{repo}/issues/{number}", "created_at": "2026-01-02T00:00:00Z",
               "updated_at": "2026-01-20T00:00:00Z", "closed_at": None, "milestone": None}
    if pr:
        payload["pull_request"] = {"url": "x"}
    return {"site": "gh", "repo": repo, "number": number, "issue_id": issue_id, "updated_at": payload["updated_at"],
            "payload": payload, "synced_at": AS_OF, "sync_id": "s1"}


HOSTILE = ("O'Brien said \"it's fine\"; DROP TABLE core.work_items; -- <script>alert('x')</script>\n"
           "Blocked by <script>#1</script>. Blocked by acme/web#3'; DROP TABLE core.dependencies; --")


@pytest.fixture()
def con(tmp_path):
    with connect(tmp_path / "w.duckdb") as con:
        migrate(con)
        upsert(con, "raw.jira_sites", [{
            "site": site, "base_url": base, "server_info": {"baseUrl": base}, "myself": {}, "fields": [],
            "statuses": [], "link_types": [], "field_roles": {}, "synced_at": AS_OF, "sync_id": "s1"}
            for site, base in BASE.items()],
            json_columns=("server_info", "myself", "fields", "statuses", "link_types", "field_roles"))
        upsert(con, "raw.jira_issues", [
            # a key on its own site names itself: no row
            jira("cloud", "101", "PAY-1", "Blocked by PAY-1",
                 adf(text("Blocks "), {"type": "inlineCard", "attrs": {"url": "https://acme.example/browse/CART-1"}})),
            jira("cloud", "102", "PAY-2", "Payments API", adf(text("Depends on "), text("acme/api#2", bold=True)),
                 links=[{"id": "7", "type": BLOCKS, "outwardIssue": {"id": "201", "key": "CART-1"}}]),
            # repeats the Jira link PAY-2 blocks CART-1: no second row
            jira("cloud", "201", "CART-1", "Blocked by PAY-2", None,
                 links=[{"id": "7", "type": BLOCKS, "inwardIssue": {"id": "102", "key": "PAY-2"}}]),
            # wiki text; the second reference is inside {code}; the first repeats acme/web#1's "Blocks OPS-1"
            jira("dc", "301", "OPS-1", "Ops runbook", "Blocked by acme/web#1\n{code}blocks PAY-2{code}"),
            jira("dc", "302", "PAY-1", "DC payments", "h1. Notes"),
        ])
        upsert(con, "raw.github_issues", [
            github("acme/web", 1, 1001, "Checkout page",
                   "Blocked by #2 and acme/api#1.\n\nDepends on https://acme.example/browse/PAY-2 "
                   "(also `blocked by #3` in code).\n```\nblocked by acme/api#2\n```\nBlocks OPS-1."),
            github("acme/web", 2, 1002, "Depends on https://github.com/acme/api/issues/2", "DEPENDS ON ops-1"),
            github("acme/web", 3, 1003, "Cart",
                   "blocked by PAY-1 (on two sites: ambiguous), blocked by ZZZ-9, depends on UTF-8, blocked by #4, "
                   "blocked by https://jira.acme.com/browse/PAY-1"),
            github("acme/web", 4, 1004, "Fix cart, blocked by #1", "closes #3", pr=True),
            # repeats the GitHub dependency acme/api#1 blocked by acme/web#3: no second row
            github("acme/api", 1, 2001, "API", "Depends on acme/web#3"),
            github("acme/api", 2, 2002, "depends on pay-2", HOSTILE),
        ])
        upsert(con, "raw.github_issue_relations", [{
            "site": "gh", "repo": "acme/api", "number": 1, "relation": "blocked_by", "other_id": 1003,
            "payload": {"id": 1003, "number": 3, "repository_url": "https://api.github.com/repos/acme/web"},
            "synced_at": AS_OF, "sync_id": "s1"}])
        write_program_structure(con, [ProgramRow("checkout", "Checkout", None), ProgramRow("platform", "Platform", None)], [
            ProjectRow("checkout", "cloud", "jira", "PAY", None), ProjectRow("checkout", "cloud", "jira", "CART", None),
            ProjectRow("checkout", "gh", "github", "acme/web", None),
            ProjectRow("platform", "dc", "jira", "OPS", None), ProjectRow("platform", "dc", "jira", "PAY", None),
            ProjectRow("platform", "gh", "github", "acme/api", None)])
        build_core(con, AS_OF)
        yield con


def text_rows(con) -> set[tuple]:
    return set(con.execute("""
        SELECT blocker_key, blocked_key, link_type, cross_tracker FROM core.dependencies
        WHERE source = 'text'""").fetchall())


def test_each_reference_form_becomes_one_dependency(con):
    assert text_rows(con) == {
        ("acme/web#2", "acme/web#1", "blocked_by (text)", False),   # #2, same repository
        ("acme/api#1", "acme/web#1", "blocked_by (text)", False),   # owner/repo#n in a list
        ("PAY-2", "acme/web#1", "depends_on (text)", True),         # Jira browse URL
        ("acme/api#2", "acme/web#2", "depends_on (text)", False),   # GitHub issue URL in a title
        ("OPS-1", "acme/web#2", "depends_on (text)", True),         # upper-case phrase, lower-case key
        ("PAY-1", "acme/web#3", "blocked_by (text)", True),         # browse URL picks the DC site's PAY-1
        ("acme/api#2", "PAY-2", "depends_on (text)", True),         # ADF text split by a mark
        ("PAY-2", "acme/api#2", "depends_on (text)", True),         # a lower-case key in a title
        ("PAY-1", "CART-1", "blocks (text)", False),                # ADF smart link, "blocks" reversed
        ("acme/web#1", "OPS-1", "blocked_by (text)", True),         # said on both ends: one row
        ("acme/web#3", "acme/api#2", "blocked_by (text)", False),   # next to hostile text
    }


def test_ends_are_mapped_to_synced_items(con):
    rows = dict(con.execute("""
        SELECT blocked_key, blocker_item_id FROM core.dependencies
        WHERE source = 'text' AND blocker_key = 'PAY-1'""").fetchall())
    assert rows == {"acme/web#3": "jira:dc:302", "CART-1": "jira:cloud:101"}
    assert con.execute("""
        SELECT bool_and(both_synced), bool_and(is_open), count(*) FILTER (WHERE evidence IS NULL)
        FROM core.dependencies WHERE source = 'text'""").fetchone() == (True, True, 0)


def test_blocks_reverses_the_direction(con):
    row = con.execute("""
        SELECT blocker_item_id, blocked_item_id, evidence, cross_project, cross_program FROM core.dependencies
        WHERE source = 'text' AND blocked_key = 'CART-1'""").fetchone()
    assert row == ("jira:cloud:101", "jira:cloud:201", "PAY-1 description: Blocks https://acme.example/browse/CART-1",
                   True, False)


def test_unsynced_ambiguous_code_and_pull_request_references_add_nothing(con):
    keys = {k for pair in text_rows(con) for k in pair[:2]}
    assert not keys & {"ZZZ-9", "UTF-8", "acme/web#4"}
    # web#3's bare PAY-1 is on two sites: only its URL reference (the DC one) counts
    assert con.execute("""SELECT count(*) FROM core.dependencies
                          WHERE blocked_key = 'acme/web#3'""").fetchone() == (1,)
    # `blocked by #3` and the fenced acme/api#2 in web#1, {code}blocks PAY-2{code} in OPS-1
    assert ("acme/web#3", "acme/web#1") not in {r[:2] for r in text_rows(con)}
    assert ("acme/api#2", "acme/web#1") not in {r[:2] for r in text_rows(con)}
    assert ("OPS-1", "PAY-2") not in {r[:2] for r in text_rows(con)}
    # a pull request's text is not read, and PAY-1's "Blocked by PAY-1" names itself
    assert con.execute("""SELECT count(*) FROM core.dependencies
                          WHERE blocker_item_id = blocked_item_id OR evidence LIKE '%#4%'""").fetchone() == (0,)


def test_text_that_repeats_a_structured_link_adds_no_row(con):
    rows = con.execute("""
        SELECT blocker_key, blocked_key, source, cross_tracker FROM core.dependencies
        WHERE source <> 'text' ORDER BY ALL""").fetchall()
    assert rows == [("PAY-2", "CART-1", "jira", False), ("acme/web#3", "acme/api#1", "github", False)]
    assert con.execute("""SELECT count(*) FROM core.dependencies
                          WHERE (blocker_key, blocked_key) IN (('PAY-2', 'CART-1'), ('acme/web#3', 'acme/api#1'))
                          """).fetchone() == (2,)


def test_hostile_text_is_only_data(con):
    assert con.execute("SELECT count(*) FROM core.work_items").fetchone() == (10,)
    evidence = con.execute("""SELECT evidence FROM core.dependencies
                              WHERE source = 'text' AND blocked_key = 'acme/api#2' AND blocker_key LIKE 'acme/%'""").fetchall()
    assert evidence == [("acme/api#2 body: Blocked by acme/web#3",)]


def test_every_column_is_documented(con):
    assert con.execute("""
        SELECT column_name FROM duckdb_columns()
        WHERE schema_name = 'core' AND table_name = 'dependencies' AND (comment IS NULL OR comment = '')
        """).fetchall() == []
