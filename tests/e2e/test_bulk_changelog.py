"""JiraSource.changelogs against the sandbox over loopback: the cut changelogs of a full sync in
one bulk request per 1,000 histories (Cloud), not one or more paged requests per issue, and the
same histories the per-issue endpoint gives. The demo has no issue over 100 histories: the
portfolio has some on every site."""

from __future__ import annotations

import math
from datetime import date

import pytest

import connectors.jira_source as jira_source
from connectors.jira_source import JiraSite, JiraSource
from sandbox.scenario import JIRA_CLOUD, JIRA_DC, build
from sandbox.credentials import SANDBOX_TOKEN, SANDBOX_USER
from sandbox.server import serve

pytestmark = pytest.mark.e2e
BULK = f"/{JIRA_CLOUD}/rest/api/3/changelog/bulkfetch"


@pytest.fixture(scope="module")
def world():
    scenario = build("portfolio", 7, date(2026, 11, 27), items=2000)
    with serve(scenario) as sandbox:
        yield scenario, sandbox


def source(sandbox, site: str) -> JiraSource:
    user = SANDBOX_USER if site == JIRA_CLOUD else None
    return JiraSource(JiraSite(site, sandbox.site_url(site), SANDBOX_TOKEN, user=user))


def searched(jira: JiraSource, scenario, site: str) -> list[dict]:
    """Every issue of the site as a sync's search returns it, embedded changelog included."""
    return [i for p in scenario.projects_on(site) for page in jira.issue_pages(p.key) for i in page]


def gathered(chunks) -> dict[str, list[dict]]:
    histories: dict[str, list[dict]] = {}
    for issue_id, chunk in chunks:
        histories.setdefault(issue_id, []).extend(chunk)
    return histories


def bulk_requests(sandbox) -> int:
    return sum(r["count"] for r in sandbox.stats.as_json()["requests"] if r["endpoint"] == BULK)


@pytest.mark.parametrize("page_size,chunk", [(1000, 1000), (100, 1000), (250, 4)])
def test_cloud_cut_changelogs_come_whole_in_a_request_per_page_of_histories(world, page_size, chunk, monkeypatch):
    scenario, sandbox = world
    jira = source(sandbox, JIRA_CLOUD)
    cut = [i for i in searched(jira, scenario, JIRA_CLOUD)
           if i["changelog"]["total"] > len(i["changelog"]["histories"])]
    assert len(cut) >= 5
    monkeypatch.setattr(jira_source, "BULK_CHANGELOG_ISSUES", chunk)
    sandbox.stats.reset()
    before = jira.requests
    histories = gathered(jira.changelogs([i["id"] for i in cut], page_size=page_size))
    made = jira.requests - before
    assert made == bulk_requests(sandbox) == sandbox.stats.as_json()["total"]
    for issue in cut:
        expected = [h for page in jira.changelog(issue["key"]) for h in page]
        assert histories[issue["id"]] == expected, issue["key"]
        assert len(expected) == issue["changelog"]["total"]
    totals = [i["changelog"]["total"] for i in cut]
    groups = [totals[n:n + chunk] for n in range(0, len(totals), chunk)]
    assert made == sum(math.ceil(sum(g) / page_size) for g in groups)
    per_issue = sum(math.ceil(t / 100) for t in totals)  # /issue/{key}/changelog, 100 a page
    assert made < per_issue
    print(f"{len(cut)} cut issues, {sum(totals)} histories: {made} bulk requests "
          f"(maxResults {page_size}, {chunk} issues a request) instead of {per_issue} per-issue ones")


def test_data_center_falls_back_to_its_complete_embedded_changelogs(world):
    """Data Center has neither endpoint; its embedded changelogs are complete: one issue request each."""
    scenario, sandbox = world
    jira = source(sandbox, JIRA_DC)
    issues = searched(jira, scenario, JIRA_DC)
    longest = sorted(issues, key=lambda i: i["changelog"]["total"])[-4:]
    assert longest[-1]["changelog"]["total"] > 100
    before = jira.requests
    histories = gathered(jira.changelogs([i["id"] for i in longest]))
    assert jira.requests - before == len(longest)
    assert histories == {i["id"]: i["changelog"]["histories"] for i in longest}


def test_a_full_sync_lands_every_cut_history_at_the_request_floor(world, tmp_path):
    from pipelines.ingest import sync_jira_site
    from warehouse.store import connect, migrate

    scenario, sandbox = world
    keys = [p.key for p in scenario.projects_on(JIRA_CLOUD)]
    sandbox.stats.reset()
    with connect(tmp_path / "work.duckdb") as con:
        migrate(con)
        result = sync_jira_site(con, source(sandbox, JIRA_CLOUD), [(k, None) for k in keys], "full")
        assert not [p.error for p in result.projects if p.error]
        # Every history of every issue, embedded or bulk-fetched, once per history id.
        held = con.execute("""
            SELECT count(*) FROM (
                SELECT i.issue_id, h.value->>'id' FROM raw.jira_issues i, json_each(i.payload->'$.changelog.histories') h
                UNION SELECT issue_id, history_id FROM raw.jira_changelogs)""").fetchall()[0][0]
        totals = con.execute("SELECT sum((payload->>'$.changelog.total')::INT) FROM raw.jira_issues").fetchall()[0][0]
        assert held == totals and con.execute("SELECT count(*) FROM raw.jira_changelogs").fetchall()[0][0] > 0
        # landed without their authors' links and avatars (jira_source.DECORATION), the rest kept
        authors = con.execute("""SELECT count(*), count(*) FILTER (WHERE json_keys(payload->'$.author')
                                     && ['self', 'avatarUrls']), count(payload->>'$.author.displayName')
                                 FROM raw.jira_changelogs""").fetchall()[0]
        assert authors[0] == authors[2] and authors[1] == 0
        # The floor: per project its search pages, versions and bulk pages of its cut histories,
        # and its boards and its one scrum board's open sprints (a full sync lists them).
        floor = con.execute("""
            SELECT sum(ceil(n / 100) + 1 + 2 + ceil(coalesce(cut, 0) / 1000)) FROM (
                SELECT project_key, count(*) AS n, sum((payload->>'$.changelog.total')::INT)
                           FILTER (WHERE (payload->>'$.changelog.total')::INT > 100) AS cut
                FROM raw.jira_issues GROUP BY ALL)""").fetchall()[0][0]
    assert sandbox.stats.as_json()["total"] == floor + 5  # + serverInfo, myself, field, status, issueLinkType


def test_cut_changelogs_are_fetched_once_and_again_only_while_incomplete(world, tmp_path):
    from pipelines.ingest import sync_jira_site
    from warehouse.store import connect, migrate

    scenario, sandbox = world
    keys = [(p.key, None) for p in scenario.projects_on(JIRA_CLOUD)]
    with connect(tmp_path / "work.duckdb") as con:
        migrate(con)
        for sync_id in ("full", "first incremental"):
            sync_jira_site(con, source(sandbox, JIRA_CLOUD), keys, sync_id)
        # A quiet night: versions and one search a project; the overlap window re-reads issues whose
        # changelogs were cut, but their histories are held in full, so none is fetched again.
        sandbox.stats.reset()
        sync_jira_site(con, source(sandbox, JIRA_CLOUD), keys, "quiet")
        assert bulk_requests(sandbox) == 0 and sandbox.stats.as_json()["total"] == 2 * len(keys) + 5
        # As after a crash between an issue's page and its histories: part of them missing, and the
        # cursor back where the issue is re-read. The next sync completes them.
        issue_id, project, updated = con.execute("""
            SELECT issue_id, project_key, updated_at FROM raw.jira_issues
            WHERE (payload->>'$.changelog.total')::INT > 100 ORDER BY updated_at LIMIT 1""").fetchall()[0]
        total = con.execute("SELECT count(*) FROM raw.jira_changelogs WHERE issue_id = ?", [issue_id]).fetchall()[0][0]
        con.execute("DELETE FROM raw.jira_changelogs WHERE issue_id = ? AND history_id IN (SELECT history_id FROM "
                    "raw.jira_changelogs WHERE issue_id = ? ORDER BY history_id LIMIT 50)", [issue_id, issue_id])
        con.execute("UPDATE meta.sync_cursors SET cursor_at = ? WHERE project_key = ?", [updated, project])
        sandbox.stats.reset()
        sync_jira_site(con, source(sandbox, JIRA_CLOUD), keys, "resumed")
        assert bulk_requests(sandbox) == 1
        assert con.execute("SELECT count(*) FROM raw.jira_changelogs WHERE issue_id = ?",
                           [issue_id]).fetchall()[0][0] == total
