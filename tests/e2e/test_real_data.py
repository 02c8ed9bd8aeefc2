"""Real recorded tracker responses (../shared/corpus) through the connectors and the transforms,
served by the sandbox's replay: nothing the trackers said is lost on the way to core.*.
Skips when the shared corpus is not beside the repository."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import pytest

from connectors.github_source import GithubSite, GithubSource
from connectors.jira_source import JiraSite, JiraSource
from pipelines.ingest import SyncPolicy, sync_github_site, sync_jira_site
from sandbox.replay import build_from_corpus
from sandbox.server import SANDBOX_TOKEN, SANDBOX_USER, serve
from transforms.build import ProgramRow, ProjectRow, build_table, write_program_structure
from warehouse.store import connect, migrate

pytestmark = [pytest.mark.e2e]
CORPUS = Path(__file__).parents[2].parent / "shared" / "corpus"
AS_OF = datetime(2026, 11, 27, tzinfo=timezone.utc)
REPOS = ["betamaxpy/betamax", "sigmavirus24/github3.py"]


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory):
    if not CORPUS.is_dir():
        pytest.skip("the shared corpus is not present")
    root = tmp_path_factory.mktemp("real")
    data = build_from_corpus(CORPUS, root / "replay")
    with serve(data) as sandbox, connect(root / "work.duckdb") as con:
        migrate(con)
        full = SyncPolicy(full=True)
        cloud = JiraSource(JiraSite("jira-cloud", sandbox.site_url("jira-cloud"), SANDBOX_TOKEN, user=SANDBOX_USER))
        server = JiraSource(JiraSite("jira-dc", sandbox.site_url("jira-dc"), SANDBOX_TOKEN))
        github = GithubSource(GithubSite("github", sandbox.site_url("github"), SANDBOX_TOKEN, seconds_between_requests=0))
        results = [sync_jira_site(con, cloud, [("SP", None)], "real", full),
                   sync_jira_site(con, server, [("HELP", None)], "real", full),
                   sync_github_site(con, github, REPOS, "real", full)]
        assert [p.error for r in results for p in r.projects if p.error] == []
        write_program_structure(con, [ProgramRow("real", "Recorded trackers", None)], [
            ProjectRow("real", "jira-cloud", "jira", "SP", None), ProjectRow("real", "jira-dc", "jira", "HELP", None),
            *[ProjectRow("real", "github", "github", r, None) for r in REPOS]])
        for table in ("projects", "sprints", "work_item_sprints", "work_items", "milestones", "status_transitions",
                      "dependencies"):
            build_table(con, "core", table, AS_OF)
        yield con


def recorded_jira_issues() -> dict[str, dict]:
    """The jirametrics recordings by key; a key recorded twice keeps its later update, as replay does."""
    issues: dict[str, dict] = {}
    for path in sorted((CORPUS / "jirametrics").rglob("SP-*.json")):
        issue = json.loads(path.read_text())
        kept = issues.get(issue["key"])
        if kept is None or issue["fields"]["updated"] >= kept["fields"]["updated"]:
            issues[issue["key"]] = issue
    return issues


def test_every_recorded_jira_cloud_issue_arrives_with_its_fields(warehouse):
    recorded = recorded_jira_issues()
    rows = {r[0]: r[1:] for r in warehouse.execute("""
        SELECT key, title, status, status_category, item_type FROM core.work_items WHERE project_key = 'SP'""").fetchall()}
    assert set(rows) == set(recorded)
    for key, issue in recorded.items():
        f = issue["fields"]
        category = {"new": "todo", "indeterminate": "in_progress", "done": "done"}[f["status"]["statusCategory"]["key"]]
        assert rows[key] == (f["summary"], f["status"]["name"], category, f["issuetype"]["name"].lower()), key
    assert rows["SP-13"][:2] == ("Report of people checked in at an event", "Done")


def test_every_recorded_status_change_is_a_transition(warehouse):
    recorded = recorded_jira_issues()
    expected = {key: sum(1 for h in issue["changelog"]["histories"] for item in h["items"] if item["field"] == "status")
                for key, issue in recorded.items()}
    got = dict(warehouse.execute("""
        SELECT w.key, count(t.item_id) FROM core.work_items w
        LEFT JOIN core.status_transitions t ON t.item_id = w.item_id AND t.from_status IS NOT NULL
        WHERE w.project_key = 'SP' GROUP BY ALL""").fetchall())
    assert got == expected
    assert sum(expected.values()) > 10


def test_the_recorded_server_search_pages_arrive_whole(warehouse):
    pages = [json.loads(p.read_text()) for p in sorted((CORPUS / "perceval").rglob("jira_issues_page_*.json"))]
    keys = {i["key"] for page in pages for i in page.get("issues", [])}
    got = {r[0] for r in warehouse.execute("SELECT key FROM core.work_items WHERE project_key = 'HELP'").fetchall()}
    assert got == keys and "HELP-6043" in got


def test_recorded_github_issues_leave_pull_requests_out_and_keep_titles(warehouse):
    held = dict(warehouse.execute("""
        SELECT repo, count(*) FILTER (WHERE json_extract(payload, '$.pull_request') IS NULL) FROM raw.github_issues
        GROUP BY ALL""").fetchall())
    items = dict(warehouse.execute("SELECT project_key, count(*) FROM core.work_items WHERE source = 'github' GROUP BY ALL").fetchall())
    assert items == {repo: n for repo, n in held.items() if n}
    title = warehouse.execute("SELECT title FROM core.work_items WHERE key = 'betamaxpy/betamax#1'").fetchall()
    assert title == [("Track history as well?",)]


def test_recorded_cloud_sprints_reach_core_sprints(warehouse):
    # SP-13, SP-14 and SP-15 were recorded in Scrum Sprint 3 (customfield_10020, Cloud objects).
    recorded = {key: issue["fields"].get("customfield_10020") or [] for key, issue in recorded_jira_issues().items()}
    sprints = warehouse.execute("""
        SELECT sprint_id, jira_sprint_id, board_id, name, state, start_at = TIMESTAMPTZ '2022-04-15 00:55:17.688+00',
               end_at = TIMESTAMPTZ '2022-04-26 16:51:00+00', completed_at, goal, items
        FROM core.sprints WHERE site = 'jira-cloud'""").fetchall()
    assert sprints == [("jira:jira-cloud:sprint:3", 3, 2, "Scrum Sprint 3", "active", True, True, None, None, 3)]
    members = dict(warehouse.execute("""
        SELECT w.key, list(s.sprint_id ORDER BY s.sprint_id) FROM core.work_items w
        JOIN core.work_item_sprints s USING (item_id) GROUP BY ALL""").fetchall())
    assert members == {key: [f"jira:jira-cloud:sprint:{v['id']}" for v in values]
                       for key, values in recorded.items() if values}
    assert set(members) == {"SP-13", "SP-14", "SP-15"}
    current = dict(warehouse.execute("SELECT key, sprint_id FROM core.work_items WHERE project_key = 'SP'").fetchall())
    assert current["SP-13"] == "jira:jira-cloud:sprint:3" and current["SP-1"] is None


def test_recorded_reporters_and_components_arrive(warehouse):
    recorded = recorded_jira_issues()
    rows = {r[0]: r[1:] for r in warehouse.execute("""
        SELECT key, reporter, reporter_id, components, due_date FROM core.work_items WHERE project_key = 'SP'""").fetchall()}
    for key, issue in recorded.items():
        reporter = issue["fields"].get("reporter") or {}
        assert rows[key][:2] == (reporter.get("displayName"), reporter.get("accountId")), key
    server = warehouse.execute("""
        SELECT reporter, reporter_id, components, fix_versions FROM core.work_items WHERE key = 'HELP-6043'""").fetchall()
    assert server == [("User2", "user2", ["FIWARE-LAB-HELP"], [])]
    gh = warehouse.execute("SELECT reporter FROM core.work_items WHERE key = 'betamaxpy/betamax#1'").fetchall()
    assert gh == [("sigmavirus24",)]
