"""Ingest against the sandbox over loopback: a full sync's request count against the floor, and a
night on which nothing changed costing a handful of requests, writing nothing new."""

from __future__ import annotations

import math
from datetime import date

import pytest

from connectors.github_source import GithubSite, GithubSource
from connectors.jira_source import JiraSite, JiraSource
from pipelines.ingest import sync_github_site, sync_jira_site
from sandbox.scenario import build
from sandbox.server import SANDBOX_TOKEN, SANDBOX_USER, serve
from warehouse.store import connect, migrate

pytestmark = pytest.mark.e2e
JIRA = {"jira-cloud": ["PAY"], "jira-dc": ["CART", "ID"]}
REPOS = ["acme/web", "acme/platform-api"]


@pytest.fixture()
def world(tmp_path):
    scenario = build("demo", 7, date(2026, 11, 27))
    with serve(scenario) as sandbox, connect(tmp_path / "work.duckdb") as con:
        migrate(con)
        yield scenario, sandbox, con


def sync_all(sandbox, con, sync_id: str) -> None:
    for site, keys in JIRA.items():
        user = SANDBOX_USER if site == "jira-cloud" else None
        source = JiraSource(JiraSite(site, sandbox.site_url(site), SANDBOX_TOKEN, user=user))
        result = sync_jira_site(con, source, [(k, None) for k in keys], sync_id)
        assert not [p.error for p in result.projects if p.error]
    source = GithubSource(GithubSite("github", sandbox.site_url("github"), SANDBOX_TOKEN))
    result = sync_github_site(con, source, REPOS, sync_id)
    assert not [p.error for p in result.projects if p.error]


def requests_by_site(sandbox) -> dict[str, int]:
    counts: dict[str, int] = {}
    for row in sandbox.stats.as_json()["requests"]:
        site = row["endpoint"].split("/")[1]
        counts[site] = counts.get(site, 0) + row["count"]
    return counts


def test_full_sync_costs_the_request_floor(world):
    scenario, sandbox, con = world
    sync_all(sandbox, con, "full")
    counts = requests_by_site(sandbox)
    # Jira: search pages of 100 (every demo changelog fits in the embedded 100) per project, plus
    # serverInfo, myself, field, status, issueLinkType, versions per project: a small constant.
    for site, keys in JIRA.items():
        pages = sum(math.ceil(len(scenario.items_by_project[k]) / 100) for k in keys)
        assert pages <= counts[f"jira-{site.split('-')[1]}"] <= pages + 8 + len(keys), site
    # GitHub: issue pages (pull requests included) + event pages + repo + milestones + per-issue
    # calls only for issues whose summaries say they have sub-issues or blockers.
    issues = con.execute("SELECT repo, count(*) FROM raw.github_issues GROUP BY ALL").fetchall()
    events = dict(con.execute("SELECT repo, count(*) FROM raw.github_issue_events GROUP BY ALL").fetchall())
    relations = con.execute("""
        SELECT count(*) FROM raw.github_issues
        WHERE (payload->>'$.sub_issues_summary.total')::INT > 0
           OR (payload->>'$.issue_dependencies_summary.total_blocked_by')::INT > 0""").fetchall()[0][0]
    floor = sum(math.ceil(n / 100) + math.ceil(events[repo] / 100) + 2 for repo, n in issues)
    assert floor <= counts["github"] <= floor + relations + len(REPOS)


def test_a_night_without_changes_is_cheap_and_writes_nothing(world):
    scenario, sandbox, con = world
    sync_all(sandbox, con, "first")
    sync_all(sandbox, con, "second")  # the first incremental run still reads its overlap window
    before = con.execute("SELECT count(*), max(synced_at) FROM raw.github_issues").fetchall()
    sandbox.stats.reset()
    sync_all(sandbox, con, "third")
    counts = requests_by_site(sandbox)
    # Jira: per project one search (the overlap window only), versions, and the key-only listing
    # that finds deletions (Cloud: 5,000 ids a page; this Data Center caps pages at 100); per site
    # its metadata (serverInfo, myself, status, issueLinkType, /field for us and for the library).
    assert counts["jira-cloud"] == 3 * 1 + 6
    dc = sum(2 + math.ceil(len(scenario.items_by_project[k]) / 100) for k in JIRA["jira-dc"])
    assert counts["jira-dc"] == dc + 6
    # GitHub: the issues list answers 304 (free against the rate limit), then milestones.
    assert counts["github"] == 2 * len(REPOS)
    statuses = {(r["endpoint"], r["status"]) for r in sandbox.stats.as_json()["requests"]}
    assert ("/github/repos/<owner>/<repo>/issues", 304) in statuses
    assert con.execute("SELECT count(*), max(synced_at) FROM raw.github_issues").fetchall() == before
    modes = set(con.execute("SELECT DISTINCT mode FROM meta.source_syncs WHERE sync_id = 'third'").fetchall())
    assert modes == {("incremental",)}
    total = con.execute("SELECT count(*) FROM raw.jira_issues").fetchall()[0][0]
    assert total == sum(len(scenario.items_by_project[k]) for keys in JIRA.values() for k in keys)
