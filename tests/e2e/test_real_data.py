"""Real recorded tracker responses (../shared/corpus) through the connectors and the transforms,
served by the sandbox's replay: nothing the trackers said is lost on the way to core.*.
Skips when the shared corpus is not beside the repository.

The corpus is replayed in its three parts (sandbox.replay.CORPUS_PARTS), each a sandbox of its own,
because each Jira installation must stay one site: main (jirametrics' Cloud SP, Perceval's Server
HELP, every GitHub recording), devlake (merico.atlassian.net, and a Jira Server with issue links)
and apache (issues.apache.org's SLING and ABDERA versions)."""

from __future__ import annotations

import csv
import json
from collections import Counter
from contextlib import ExitStack
from datetime import datetime, timezone
from pathlib import Path

import pytest

from connectors.github_source import GithubSite, GithubSource
from connectors.jira_source import JiraSite, JiraSource
from pipelines.ingest import SyncPolicy, sync_github_site, sync_jira_site
from sandbox.replay import build_from_corpus, load
from sandbox.scenario import GITHUB, JIRA_CLOUD, JIRA_DC
from sandbox.credentials import SANDBOX_TOKEN, SANDBOX_USER
from sandbox.server import serve
from transforms.build import ProgramRow, ProjectRow, build_core, write_program_structure
from warehouse.store import connect, migrate

pytestmark = [pytest.mark.e2e]
CORPUS = Path(__file__).parents[2].parent / "shared" / "corpus"
AS_OF = datetime(2026, 11, 27, tzinfo=timezone.utc)
# Every repository of the main part with issues, events or milestones (not the two recorded only
# as repository objects, padima2/protoncoin and test-org/test-repo).
REPOS = ["betamaxpy/betamax", "sigmavirus24/github3.py", "panjf2000/ants", "PyGithub/PyGithub", "EnricoMi/PyGithub",
         "apache/incubator-devlake", "openframeworks/openFrameworks"]
# (warehouse site name, part, replay site, deployment, projects)
JIRA = [("jira-cloud", "main", JIRA_CLOUD, "cloud", ["SP"]), ("jira-dc", "main", JIRA_DC, "server", ["HELP"]),
        ("merico", "devlake", JIRA_CLOUD, "cloud", ["EE", "K5"]),
        ("devlake-server", "devlake", JIRA_DC, "server", ["DZFNK0168"]),
        ("apache", "apache", JIRA_DC, "server", ["SLING", "ABDERA"])]


@pytest.fixture(scope="module")
def replay(tmp_path_factory) -> Path:
    if not CORPUS.is_dir():
        pytest.skip("the shared corpus is not present")
    root = tmp_path_factory.mktemp("real")
    for part in ("main", "devlake", "apache"):
        build_from_corpus(CORPUS, root / part, part)
    return root


@pytest.fixture(scope="module")
def warehouse(replay, tmp_path_factory):
    with ExitStack() as stack:
        sandboxes = {part: stack.enter_context(serve(load(replay / part))) for part in ("main", "devlake", "apache")}
        con = stack.enter_context(connect(tmp_path_factory.mktemp("warehouse") / "work.duckdb"))
        migrate(con)
        full = SyncPolicy(full=True)
        results = []
        for name, part, site, deployment, keys in JIRA:
            user = SANDBOX_USER if deployment == "cloud" else None
            source = JiraSource(JiraSite(name, sandboxes[part].site_url(site), SANDBOX_TOKEN, user=user))
            results.append(sync_jira_site(con, source, [(k, None) for k in keys], "real", full))
        github = GithubSource(GithubSite("github", sandboxes["main"].site_url(GITHUB), SANDBOX_TOKEN,
                                         seconds_between_requests=0))
        results.append(sync_github_site(con, github, REPOS, "real", full))
        assert [p.error for r in results for p in r.projects if p.error] == []
        write_program_structure(con, [ProgramRow("real", "Recorded trackers", None)], [
            *[ProjectRow("real", name, "jira", k, None) for name, _, _, _, keys in JIRA for k in keys],
            *[ProjectRow("real", "github", "github", r, None) for r in REPOS]])
        build_core(con, AS_OF)
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
        SELECT repo, count(*) FILTER (WHERE coalesce(payload->>'$.pull_request.url', payload->>'$.pull_request.html_url') IS NULL)
        FROM raw.github_issues GROUP BY ALL""").fetchall())
    items = dict(warehouse.execute("SELECT project_key, count(*) FROM core.work_items WHERE source = 'github' GROUP BY ALL").fetchall())
    assert items == {repo: n for repo, n in held.items() if n}
    title = warehouse.execute("SELECT title FROM core.work_items WHERE key = 'betamaxpy/betamax#1'").fetchall()
    assert title == [("Track history as well?",)]
    # In 2012 GitHub put an empty pull_request object (null URLs) on every plain issue
    # (pygithub-replaydata, PyGithub/PyGithub#5 "Implement full API"): an issue, not a pull request.
    assert warehouse.execute("SELECT title FROM core.work_items WHERE key = 'PyGithub/PyGithub#5'").fetchall() == [
        ("Implement full API",)]
    assert warehouse.execute("SELECT count(*) FROM core.pull_requests WHERE key = 'PyGithub/PyGithub#5'").fetchall() == [(0,)]


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
        JOIN core.work_item_sprints s USING (item_id) WHERE w.site = 'jira-cloud' GROUP BY ALL""").fetchall())
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


# -- GitHub: everything replay holds arrives; events, milestones, sub-issues, dependencies ------------

def _listed(path: Path) -> list[dict]:
    return json.loads(path.read_text()) if path.is_file() else []


def test_every_replayed_github_object_reaches_raw(replay, warehouse):
    for repo in REPOS:
        folder = replay / "main" / "github" / "repos" / repo
        issues = {int(p.stem) for p in (folder / "issues").glob("*.json")}
        events = {e["id"] for e in _listed(folder / "events.json")}
        milestones = {m["number"] for m in _listed(folder / "milestones.json")}
        got = [{r[0] for r in warehouse.execute(f"SELECT {column} FROM raw.{table} WHERE repo = ?", [repo]).fetchall()}
               for table, column in (("github_issues", "number"), ("github_issue_events", "event_id"),
                                     ("github_milestones", "number"))]
        assert got == [issues, events, milestones], repo
    counts = dict(warehouse.execute("SELECT repo, count(*) FROM raw.github_issues GROUP BY ALL").fetchall())
    # devlake/github/_raw_github_api_issues.csv (41) and the 18 issues its events embed
    assert counts["panjf2000/ants"] == 59


def test_a_recorded_close_event_is_a_status_transition_with_its_time_and_actor(warehouse):
    def close_of(repo: str, number: int) -> list[tuple]:
        return warehouse.execute("""
            SELECT e.event_id, e.payload->>'$.actor.login', e.created_at, t.from_status, t.to_status, t.to_category
            FROM raw.github_issue_events e
            JOIN core.work_items w ON w.item_id = 'github:' || (e.payload->>'$.issue.id')
            JOIN core.status_transitions t ON t.item_id = w.item_id AND t.changed_at = e.created_at
            WHERE e.repo = ? AND w.key = ? AND e.payload->>'event' = 'closed'""", [repo, f"{repo}#{number}"]).fetchall()

    # github3py-cassettes/Repository_issue_events.json: event 1409816667, sigmavirus24 closed #762
    assert close_of("sigmavirus24/github3.py", 762) == [
        (1409816667, "sigmavirus24", datetime(2018, 1, 4, 16, 7, 42, tzinfo=timezone.utc), "open", "closed", "done")]
    # devlake/github/_raw_github_api_events.csv (the same event stored twice): ZhMaio closed ants#228
    assert close_of("panjf2000/ants", 228) == [
        (6774117135, "ZhMaio", datetime(2022, 6, 9, 1, 42, 11, tzinfo=timezone.utc), "open", "closed", "done")]
    # pygithub-replaydata/IssueEvent.setUp.txt: event 16351220, jacquev6 closed PyGithub#30 in 2012
    assert close_of("PyGithub/PyGithub", 30) == [
        (16351220, "jacquev6", datetime(2012, 5, 27, 11, 4, 25, tzinfo=timezone.utc), "open", "closed", "done")]
    # the 2014 "labeled v1" event of #30 (98136337, same file) is no status label: no transition
    labels = warehouse.execute("""
        SELECT count(*) FROM core.status_transitions t JOIN core.work_items w USING (item_id)
        WHERE w.key = 'PyGithub/PyGithub#30'""").fetchall()
    assert labels == [(2,)]  # created open, closed


def test_recorded_milestones_keep_due_date_state_and_closing(warehouse):
    rows = {r[0]: r[1:] for r in warehouse.execute("""
        SELECT milestone_id, name, due_date, state, closed_at FROM core.milestones
        WHERE source = 'github'""").fetchall()}
    # pygithub-replaydata/Milestone.setUp.txt (2025 recording of milestone 1)
    assert rows["github:github:PyGithub/PyGithub:milestone:1"] == (
        "Version 0.4", datetime(2012, 3, 13).date(), "closed", datetime(2012, 3, 12, 22, 18, 49, tzinfo=timezone.utc))
    # github3py-cassettes/Repository_milestones.json
    assert rows["github:github:sigmavirus24/github3.py:milestone:11"] == (
        "1.0.0b1", datetime(2015, 1, 6).date(), "open", None)
    assert rows["github:github:sigmavirus24/github3.py:milestone:7"][2:] == (
        "closed", datetime(2014, 10, 26, 22, 59, tzinfo=timezone.utc))
    # devlake/github/_raw_github_api_milestones.csv: no due date
    assert rows["github:github:apache/incubator-devlake:milestone:7"] == ("v0.11.0", None, "open", None)
    assert sum(r[0].startswith("github:github:PyGithub/PyGithub:") for r in rows.items()) == 5


def test_recorded_sub_issue_parents_reach_work_items(warehouse):
    # pygithub-replaydata/Repository.testGetIssuesWithTypeWildcard.txt: #3335 names #28 its parent
    # (parent_issue_url), #3336 and #3337 name #3335; #28 and #3335 say so in sub_issues_summary.
    parents = dict(warehouse.execute("""
        SELECT key, parent_key FROM core.work_items WHERE key IN
            ('PyGithub/PyGithub#28', 'PyGithub/PyGithub#3335', 'PyGithub/PyGithub#3336', 'PyGithub/PyGithub#3337')
        """).fetchall())
    assert parents == {"PyGithub/PyGithub#28": None, "PyGithub/PyGithub#3335": "PyGithub/PyGithub#28",
                       "PyGithub/PyGithub#3336": "PyGithub/PyGithub#3335",
                       "PyGithub/PyGithub#3337": "PyGithub/PyGithub#3335"}
    asked = warehouse.execute("""
        SELECT number, list(other_id ORDER BY other_id) FROM raw.github_issue_relations
        WHERE repo = 'PyGithub/PyGithub' AND relation = 'sub_issue' GROUP BY ALL ORDER BY number""").fetchall()
    assert asked == [(28, [3326107606]), (3335, [3326109065, 3326109475])]


def test_a_recorded_blocked_by_pair_is_a_dependency(warehouse):
    # pygithub-replaydata/IssueDependencies.setUp.txt: #24 says total_blocked_by 1; the last GET of
    # .../issues/24/dependencies/blocked_by in IssueDependencies.testAddBlockedBy.txt lists #13 (closed)
    rows = warehouse.execute("""
        SELECT blocker_key, blocked_key, source, link_type, blocker_status_category, is_open, both_synced
        FROM core.dependencies WHERE source = 'github'""").fetchall()
    assert rows == [("EnricoMi/PyGithub#13", "EnricoMi/PyGithub#24", "github", "blocked_by", "done", False, True)]


# -- Jira: versions, links, another Cloud and Server ------------------------------------------------

def test_recorded_jira_versions_reach_core_milestones(warehouse):
    rows = {r[0]: r[1:] for r in warehouse.execute("""
        SELECT milestone_id, project_key, name, due_date, state, items FROM core.milestones WHERE source = 'jira'
        """).fetchall()}
    # sling-committer-cli/jira/versions.json: the 199 recorded versions of SLING (its README: `jq '.[0:199]'`;
    # the two after them, ids 0 and 1, were made by hand and are not replayed)
    held = warehouse.execute("SELECT count(*), count(*) FILTER (WHERE version_id IN ('0', '1')) FROM raw.jira_versions "
                             "WHERE site = 'apache' AND project_key = 'SLING'")
    assert held.fetchall() == [(199, 0)]
    assert rows["jira:apache:version:12329024"] == (
        "SLING", "XSS Protection API 1.0.0", datetime(2015, 3, 20).date(), "released", 0)
    # go-jira-mockdata/project.json: ABDERA embeds 9 versions; 1.1.3 has no release date and is not released
    assert rows["jira:apache:version:12312506"][1:4] == ("0.2.2", datetime(2007, 2, 19).date(), "released")
    abdera = {r[1]: r[2:4] for r in rows.values() if r[0] == "ABDERA"}
    assert len(abdera) == 9 and abdera["1.1.3"] == (None, "open")
    # devlake/jira/_raw_jira_api_issues.csv: v2.7.0 (id 10026) released 2020-07-10, first fixVersion of 17 issues
    assert rows["jira:merico:version:10026"] == ("EE", "v2.7.0", datetime(2020, 7, 10).date(), "released", 17)


def test_recorded_jira_links_keep_their_direction(warehouse):
    rows = set(warehouse.execute("""
        SELECT blocker_key, blocked_key, link_type, both_synced FROM core.dependencies
        WHERE source = 'jira'""").fetchall())
    assert rows == {
        # jirametrics/testdata/SP-14.json: outward "blocks" SP-15 (SP-15.json holds its inward end)
        ("SP-14", "SP-15", "Blocks", True),
        # devlake/jira/_raw_jira_api_issue_relationships.csv: DZFNK0168-5 outward "blocks" DZFNK0168-1
        # (link 10111, recorded on both issues: one row), -2 blocks -22, and -20 between issues of
        # projects that were not recorded. Cloners, Duplicate and Relates links are no dependencies.
        ("DZFNK0168-5", "DZFNK0168-1", "Blocks", True),
        ("DZFNK0168-2", "DZFNK0168-22", "Blocks", True),
        ("DZFNK0168-20", "IP8CUD168-35304", "Blocks", False),
        ("IP8CUD168-35406", "DZFNK0168-20", "Blocks", False),
    }


# Changelog field names in the recordings, as core.item_changes names them (Rank, Flagged, Link,
# RemoteIssueLink, Workflow, description and the time estimates are left out).
RECORDED_FIELDS = {"status": "status", "resolution": "resolution", "priority": "priority", "assignee": "assignee",
                   "Fix Version": "milestone", "labels": "labels", "summary": "title", "duedate": "due_date",
                   "Sprint": "sprint", "Story Points": "story_points", "Story point estimate": "story_points",
                   "IssueParentAssociation": "parent", "Parent": "parent", "Epic Link": "parent", "Flagged": "flagged"}


def test_recorded_changelog_items_are_item_changes(warehouse):
    csv.field_size_limit(2**31 - 1)
    devlake = CORPUS / "devlake" / "jira"
    with (devlake / "_raw_jira_api_issues.csv").open(newline="", encoding="utf-8") as f:
        merico = [json.loads(r["data"]) for r in csv.DictReader(f)]
    with (devlake / "_raw_jira_api_issue_changelogs.csv").open(newline="", encoding="utf-8") as f:
        paged = [(str(json.loads(r["input"])["issue_id"]), json.loads(r["data"])) for r in csv.DictReader(f)]
    for site, issues, more in (("jira-cloud", recorded_jira_issues().values(), []), ("merico", merico, paged)):
        key = {i["id"]: i["key"] for i in issues}
        # embedded and paged histories, once per history id
        histories = {(i["id"], h["id"]): h for i in issues for h in i["changelog"]["histories"]}
        histories.update({(issue_id, h["id"]): h for issue_id, h in more if issue_id in key})
        expected = Counter((key[issue_id], RECORDED_FIELDS[item["field"]], item["toString"] or None)
                           for (issue_id, _), h in histories.items() for item in h["items"]
                           if item["field"] in RECORDED_FIELDS)
        got = Counter(warehouse.execute("""
            SELECT c.key, c.field, c.to_value FROM core.item_changes c JOIN core.work_items w USING (item_id)
            WHERE w.site = ?""", [site]).fetchall())
        assert got == expected, site
        assert {f for _, f, _ in got} >= {"status", "sprint", "story_points" if site == "jira-cloud" else "parent"}


def test_the_devlake_cloud_arrives_with_changelogs_and_sprints(warehouse):
    csv.field_size_limit(2**31 - 1)
    with (CORPUS / "devlake" / "jira" / "_raw_jira_api_issues.csv").open(newline="", encoding="utf-8") as f:
        recorded = {i["key"]: i for i in (json.loads(r["data"]) for r in csv.DictReader(f))}
    got = dict(warehouse.execute("""
        SELECT w.key, count(t.item_id) FILTER (WHERE t.from_status IS NOT NULL) FROM core.work_items w
        LEFT JOIN core.status_transitions t USING (item_id) WHERE w.site = 'merico' GROUP BY ALL""").fetchall())
    # devlake/jira/_raw_jira_api_issues.csv: every status item of every embedded changelog
    assert got == {key: sum(item["field"] == "status" for h in issue["changelog"]["histories"] for item in h["items"])
                   for key, issue in recorded.items()}
    assert len(got) == 33
    # devlake/jira/_raw_jira_api_issues.csv, customfield_10020 of EE issues (Cloud sprint objects)
    sprints = warehouse.execute("""
        SELECT jira_sprint_id, board_id, name, state, completed_at FROM core.sprints WHERE site = 'merico'
        ORDER BY jira_sprint_id""").fetchall()
    assert sprints[0] == (7, 8, "EE Sprint 7", "closed", datetime(2020, 6, 22, 5, 59, 58, 980000, tzinfo=timezone.utc))
    assert [s[2] for s in sprints] == ["EE Sprint 7", "EE Sprint 9", "K5 Sprint 1"]
    # devlake/jira/_raw_jira_api_projects.csv names EE "Enterprise Edition"
    names = dict(warehouse.execute(
        "SELECT project_key, project_name FROM core.projects WHERE site = 'merico'").fetchall())
    assert names["EE"] == "Enterprise Edition"
