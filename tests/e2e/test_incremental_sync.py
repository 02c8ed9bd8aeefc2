"""Ingest against the sandbox over loopback: a full sync's request count against the floor, and a
night on which nothing changed costing a handful of requests, writing nothing new."""

from __future__ import annotations

import dataclasses
import math
from datetime import date, datetime, timedelta

import pytest

from connectors.github_source import GithubSite, GithubSource
from connectors.jira_source import JiraSite, JiraSource
from pipelines.ingest import SyncPolicy, sync_github_site, sync_jira_site
from sandbox.scenario import build
from sandbox.credentials import SANDBOX_TOKEN, SANDBOX_USER
from sandbox.server import serve
from transforms.build import ProgramRow, ProjectRow, build_core, write_program_structure
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


def sync_all(sandbox, con, sync_id: str, policy: SyncPolicy = SyncPolicy()) -> None:
    for site, keys in JIRA.items():
        user = SANDBOX_USER if site == "jira-cloud" else None
        source = JiraSource(JiraSite(site, sandbox.site_url(site), SANDBOX_TOKEN, user=user))
        result = sync_jira_site(con, source, [(k, None) for k in keys], sync_id, policy)
        assert not [p.error for p in result.projects if p.error]
    source = GithubSource(GithubSite("github", sandbox.site_url("github"), SANDBOX_TOKEN, seconds_between_requests=0))
    result = sync_github_site(con, source, REPOS, sync_id, policy)
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
    # serverInfo, myself, field, status, issueLinkType, versions per project: a small constant;
    # and per project its boards (Jira Software) and its one scrum board's open sprints, which a
    # full sync reads (as does a reconciling night; a quiet night does not).
    for site, keys in JIRA.items():
        pages = sum(math.ceil(len(scenario.items_by_project[k]) / 100) for k in keys)
        assert pages <= counts[site] <= pages + 5 + 3 * len(keys), site
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
    # Jira: two per project, one search (the overlap window only, nothing newer than the cursor)
    # and versions (they have no change history); per site its metadata (serverInfo, myself,
    # field, status, issueLinkType). The key-only listing that finds deletions, and the boards'
    # sprint listing, wait for a night with changes or for reconciliation to be due.
    assert counts["jira-cloud"] == 2 * 1 + 5
    assert counts["jira-dc"] == 2 * len(JIRA["jira-dc"]) + 5
    # GitHub: two per repo, milestones and the issues list, each a conditional request answered
    # 304, which costs no rate limit. No events (an event bumps its issue's updated_at) and no
    # repository (its open count is asked on nights with changes).
    github = [r for r in sandbox.stats.as_json()["requests"] if r["endpoint"].startswith("/github/")]
    assert {(r["endpoint"], r["status"], r["count"]) for r in github} == {
        ("/github/repos/<owner>/<repo>/milestones", 304, len(REPOS)),
        ("/github/repos/<owner>/<repo>/issues", 304, len(REPOS)),
    }
    assert con.execute("SELECT count(*), max(synced_at) FROM raw.github_issues").fetchall() == before
    modes = set(con.execute("SELECT DISTINCT mode FROM meta.source_syncs WHERE sync_id = 'third'").fetchall())
    assert modes == {("incremental",)}
    total = con.execute("SELECT count(*) FROM raw.jira_issues").fetchall()[0][0]
    assert total == sum(len(scenario.items_by_project[k]) for keys in JIRA.values() for k in keys)


@pytest.mark.parametrize("policy", [SyncPolicy(reconcile=True), SyncPolicy(reconcile_every=timedelta(0))],
                         ids=["asked", "due"])
def test_a_quiet_night_finds_deletions_once_reconciliation_is_due_or_asked(world, policy):
    scenario, sandbox, con = world
    sync_all(sandbox, con, "first")
    sync_all(sandbox, con, "second")
    # A night that only deletes: a PAY issue and a closed GitHub issue (no open count moves; in no
    # milestone either, whose closed count every listed issue of it embeds).
    linked = {ref for link in scenario.links for ref in (link.blocker, link.blocked)}
    pay, web = (next(i for i in scenario.items_by_project[project]
                     if i.resolved_at and i.kind != "epic" and i.ref not in linked and i.release is None)
                for project in ("PAY", "acme/web"))
    gone = (pay, web)
    sandbox.app.world = sandbox.app._build(dataclasses.replace(
        scenario, items=tuple(i for i in scenario.items if i not in gone), deleted=scenario.deleted + gone))
    held = """SELECT (SELECT count(*) FROM raw.jira_issues WHERE site = 'jira-cloud' AND issue_id = ?),
                     (SELECT count(*) FROM raw.github_issues WHERE issue_id = ?)"""
    ids = [str(pay.uid), web.uid]
    sandbox.stats.reset()
    sync_all(sandbox, con, "quiet")  # reconciliation is due weekly: the deletions wait
    assert sandbox.stats.as_json()["total"] == 2 * (len(REPOS) + sum(map(len, JIRA.values()))) + 5 * len(JIRA)
    assert con.execute(held, ids).fetchall() == [(1, 1)]
    sync_all(sandbox, con, "still quiet")
    assert con.execute(held, ids).fetchall() == [(1, 1)]
    sync_all(sandbox, con, "reconciling", policy)  # pulse sync --reconcile, or reconcile_every_days: 0
    assert con.execute(held, ids).fetchall() == [(0, 0)]
    assert con.execute("SELECT count(*) FROM meta.sync_cursors WHERE reconciled_at IS NULL").fetchall() == [(0,)]


# What an incremental sync must reproduce: the program model. Raw payloads may differ where the
# trackers denormalise without bumping `updated` (a GitHub issue's embedded milestone counts, the
# key of a linked Jira issue that moved), exactly as they do on the real services.
CORE_KEYS = {
    "core.work_items": "x",
    "core.status_transitions": "x",
    "core.milestones": "x",
    "core.sprints": "x",
    "core.work_item_sprints": "x",
    "core.dependencies": "x.blocker_item_id, x.blocked_item_id, x.cross_project, x.is_open",
}


def model(con, as_of) -> dict[str, str]:
    programs = [ProgramRow("p", "Program", None)]
    projects = [ProjectRow("p", site, "jira", k, None) for site, keys in JIRA.items() for k in keys] + [
        ProjectRow("p", "github", "github", r, None) for r in REPOS]
    write_program_structure(con, programs, projects)
    build_core(con, as_of)
    return {t: con.execute(f"SELECT md5(string_agg(r, '|' ORDER BY r)) FROM (SELECT CAST(({cols}) AS VARCHAR) AS r FROM {t} x)")
            .fetchall()[0][0] for t, cols in CORE_KEYS.items()}


def test_after_a_night_incremental_equals_a_full_sync_from_scratch(world, tmp_path):
    import requests

    scenario, sandbox, con = world
    sync_all(sandbox, con, "before")
    night = requests.post(f"{sandbox.url}/_sandbox/advance", json={"days": 1}, timeout=30).json()
    assert night["deleted"] and night["moved"]  # the night deletes and moves issues
    sandbox.stats.reset()
    sync_all(sandbox, con, "incremental")
    incremental_requests = sandbox.stats.as_json()["total"]
    as_of = datetime.fromisoformat(night["now"])
    with connect(tmp_path / "scratch.duckdb") as scratch:
        migrate(scratch)
        sandbox.stats.reset()
        sync_all(sandbox, scratch, "full")
        full_requests = sandbox.stats.as_json()["total"]
        assert model(con, as_of) == model(scratch, as_of)
    moved = night["moved"][0]
    assert con.execute("SELECT count(*) FROM core.work_items WHERE key = ?", [moved["to"]]).fetchall() == [(1,)]
    assert con.execute("SELECT count(*) FROM core.work_items WHERE key = ?", [moved["from"]]).fetchall() == [(0,)]
    for key in night["deleted"]:
        assert con.execute("SELECT count(*) FROM core.work_items WHERE key = ?", [key]).fetchall() == [(0,)]
    # On the 1,000-item demo the per-site metadata weighs most; the saving grows with size.
    assert incremental_requests < full_requests


def test_an_item_edited_while_a_sync_pages_through_its_project_is_not_lost(world):
    from sandbox.faults import parse_spec

    scenario, sandbox, con = world
    # After the first page of each listing, its first item is edited: in an `updated`-ordered
    # listing it jumps to the end and the rest shift back by one, so offset paging skips one.
    sandbox.app.faults.set(parse_spec(
        "update@jira-dc/rest/api/2/search:times=1;update@jira-cloud/rest/api/3/search/jql:times=1;"
        "update@github/repos/<owner>/<repo>/issues:times=1"))
    sync_all(sandbox, con, "full")
    assert sandbox.app.faults.injected().get("update") == 3
    held = dict(con.execute("SELECT project_key, count(*) FROM raw.jira_issues GROUP BY ALL").fetchall())
    assert held == {k: len(scenario.items_by_project[k]) for keys in JIRA.values() for k in keys}
    github = dict(con.execute("""SELECT repo, count(*) FROM raw.github_issues
                                 WHERE json_extract(payload, '$.pull_request') IS NULL GROUP BY ALL""").fetchall())
    assert github == {r: len(scenario.items_by_project[r]) for r in REPOS}
