"""Jira remote links to GitHub issues (the GitHub for Jira app's way of tying them), on a site that
asks for them: read for every issue on a full sync and only for changed issues afterwards (Jira has
no bulk form), and turned into cross-tracker dependencies between synced work items."""

from __future__ import annotations

from datetime import date, datetime

import pytest
import requests

from connectors.github_source import GithubSite, GithubSource
from connectors.jira_source import JiraSite, JiraSource
from pipelines.ingest import sync_github_site, sync_jira_site
from sandbox.scenario import GITHUB, JIRA_CLOUD, JIRA_DC, build
from sandbox.credentials import SANDBOX_TOKEN, SANDBOX_USER
from sandbox.server import serve
from transforms.build import ProgramRow, ProjectRow, build_core, write_program_structure
from warehouse.store import connect, migrate

pytestmark = pytest.mark.e2e
REMOTE = "/issue/<key>/remotelink"


@pytest.fixture()
def world(tmp_path):
    scenario = build("portfolio", 7, date(2026, 11, 27), items=600)
    with serve(scenario) as sandbox, connect(tmp_path / "work.duckdb") as con:
        migrate(con)
        yield scenario, sandbox, con


def sync(scenario, sandbox, con, sync_id: str) -> None:
    for site in (JIRA_CLOUD, JIRA_DC):
        jira = JiraSource(JiraSite(site, sandbox.site_url(site), SANDBOX_TOKEN, remote_links=True,
                                   user=SANDBOX_USER if site == JIRA_CLOUD else None))
        result = sync_jira_site(con, jira, [(p.key, None) for p in scenario.projects_on(site)], sync_id)
        assert not [p.error for p in result.projects if p.error]
    github = GithubSource(GithubSite(GITHUB, sandbox.site_url(GITHUB), SANDBOX_TOKEN, seconds_between_requests=0))
    result = sync_github_site(con, github, [p.key for p in scenario.projects_on(GITHUB)], sync_id)
    assert not [p.error for p in result.projects if p.error]


def remote_link_requests(sandbox) -> int:
    return sum(r["count"] for r in sandbox.stats.as_json()["requests"] if r["endpoint"].endswith(REMOTE))


def model(scenario, con, as_of: datetime) -> None:
    write_program_structure(con, [ProgramRow("p", "Program", None)],
                            [ProjectRow("p", p.site, "github" if p.site == GITHUB else "jira", p.key, None)
                             for p in scenario.projects])
    build_core(con, as_of)


def test_remote_links_are_read_per_changed_issue_and_become_cross_tracker_dependencies(world):
    scenario, sandbox, con = world
    sync(scenario, sandbox, con, "full")
    jira_issues = con.execute("SELECT count(*) FROM raw.jira_issues").fetchall()[0][0]
    assert remote_link_requests(sandbox) == jira_issues  # a full sync asks every issue once
    held = {(r, u) for r, u in con.execute(
        "SELECT remote_id, payload->>'$.object.url' FROM raw.jira_remote_links").fetchall()}
    assert held == {(str(link.id), link.url) for link in scenario.remote_links}

    model(scenario, con, scenario.now)
    found = set(con.execute("""SELECT blocker_key, blocked_key FROM core.dependencies
                               WHERE source = 'remote_link' AND cross_tracker""").fetchall())
    expected = {(f"{link.target[0]}#{link.target[1]}", f"{link.item[0]}-{link.item[1]}")
                for link in scenario.remote_links}
    assert expected and found == expected

    # A night later only the issues whose `updated` moved are asked again.
    night = requests.post(f"{sandbox.url}/_sandbox/advance", json={"days": 1}, timeout=30).json()
    cursors = dict(con.execute("SELECT project_key, cursor_at FROM meta.sync_cursors").fetchall())
    sandbox.stats.reset()
    sync(sandbox.app.scenario, sandbox, con, "night")
    moved = con.execute("""SELECT count(*) FROM raw.jira_issues i, (SELECT unnest(?) AS k, unnest(?) AS c) cur
                           WHERE i.project_key = cur.k AND i.updated_at::TIMESTAMPTZ > cur.c""",
                        [list(cursors), list(cursors.values())]).fetchall()[0][0]
    assert 0 < remote_link_requests(sandbox) == moved < jira_issues
    assert night["now"]
