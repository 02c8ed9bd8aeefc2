"""Time travel over HTTP, through the unmodified jira and PyGithub clients: after a night the
sandbox serves moved issues under their new keys, forgets deleted ones and lists what changed."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import pytest
import requests
from github import Auth, Github, GithubException
from jira import JIRA, JIRAError
from werkzeug.routing import Rule

from sandbox.scenario import GITHUB, JIRA_CLOUD, Scenario, demo
from sandbox.credentials import SANDBOX_TOKEN, SANDBOX_USER
from sandbox.server import RunningSandbox, serve
from sandbox.timetravel import advance

pytestmark = pytest.mark.e2e

AS_OF = date(2026, 11, 27)


@pytest.fixture(scope="module")
def before() -> Scenario:
    return demo(7, AS_OF)


@pytest.fixture(scope="module")
def running(before) -> Iterator[RunningSandbox]:
    with serve(before) as sandbox:
        yield sandbox


@pytest.fixture(scope="module")
def night(running) -> dict:
    """One night later, as the control endpoint reports it; a request beforehand shows stats survive."""
    assert requests.get(running.url + "/_sandbox/scenario", timeout=10).json()["as_of"] == AS_OF.isoformat()
    response = requests.post(running.url + "/_sandbox/advance", json={"days": 1}, timeout=30)
    assert response.status_code == 200, response.text
    return response.json()


@pytest.fixture(scope="module")
def after(before) -> Scenario:
    return advance(before, 1)


def jira(running: RunningSandbox, site: str) -> JIRA:
    url = running.site_url(site)
    if site == JIRA_CLOUD:
        return JIRA(server=url, basic_auth=(SANDBOX_USER, SANDBOX_TOKEN))
    return JIRA(server=url, token_auth=SANDBOX_TOKEN)


def github(running: RunningSandbox) -> Github:
    """No pause between requests: PyGithub spaces them out by default, the sandbox needs no care."""
    return Github(base_url=running.site_url(GITHUB), auth=Auth.Token(SANDBOX_TOKEN), per_page=100,
                  seconds_between_requests=None)


def split(key: str) -> tuple[str, int]:
    project, _, number = key.rpartition("#" if "#" in key else "-")
    return project, int(number)


def test_the_control_endpoint_reports_the_night(running, night, after):
    assert night["as_of"] == after.as_of.isoformat() and night["now"] == after.now.isoformat()
    assert night["items"] == len(after.items) and night["created"] > 0 and night["changed"] > 0
    assert night["moved"] and night["deleted"]
    scenario = requests.get(running.url + "/_sandbox/scenario", timeout=10).json()
    assert scenario["as_of"] == after.as_of.isoformat() and scenario["items"] == len(after.items)
    stats = requests.get(running.url + "/_sandbox/stats", timeout=10).json()["requests"]
    assert not [r for r in stats if r["endpoint"].startswith("/_sandbox/")]  # control is not tracker traffic


@pytest.mark.parametrize("body", [{"days": 0}, {"days": 366}, {"days": "1"}, [1]])
def test_a_bad_advance_is_refused_and_changes_nothing(running, night, body):
    response = requests.post(running.url + "/_sandbox/advance", json=body, timeout=10)
    assert response.status_code == 400 and "error" in response.json()
    assert requests.get(running.url + "/_sandbox/scenario", timeout=10).json()["as_of"] == night["as_of"]


def test_jira_search_finds_a_moved_issue_under_its_new_key_only(running, night, before):
    move = night["moved"][0]
    old_project, new_project = split(move["from"])[0], split(move["to"])[0]
    client = jira(running, before.project[old_project].site)
    assert move["to"] in {i.key for i in client.search_issues(f"project = {new_project}", maxResults=False)}
    assert move["from"] not in {i.key for i in client.search_issues(f"project = {old_project}", maxResults=False)}
    issue = client.issue(move["from"], expand="changelog")  # the old key still leads to the issue
    assert issue.key == move["to"]
    last = issue.changelog.histories[-1]
    assert [(i.field, i.fromString, i.toString) for i in last.items][-1] == ("Key", move["from"], move["to"])


def test_a_deleted_jira_issue_is_gone(running, night, before):
    key = next(k for k in night["deleted"] if "#" not in k)
    project = split(key)[0]
    client = jira(running, before.project[project].site)
    assert key not in {i.key for i in client.search_issues(f"project = {project}", maxResults=False)}
    with pytest.raises(JIRAError) as error:
        client.issue(key)
    assert error.value.status_code == 404


def test_github_lists_what_changed_since_the_old_clock(running, night, before, after):
    gh = github(running)
    for project in after.projects_on(GITHUB):
        repo = gh.get_repo(project.key)
        since = list(repo.get_issues(state="all", since=before.now))
        assert since and all(i.updated_at >= before.now for i in since)
        old = {i.number: i.updated_at for i in before.items_by_project[project.key]}
        new = {i.number: i.updated_at for i in after.items_by_project[project.key]}
        changed = {n for n, at in new.items() if old.get(n) != at}
        issues = {i.number for i in since if i.pull_request is None}
        assert issues == changed
        assert any(n not in old for n in issues)  # the night created issues here


def test_a_deleted_github_issue_answers_gone(running, night):
    repo, number = split(next(k for k in night["deleted"] if "#" in k))
    gh = github(running)
    with pytest.raises(GithubException) as error:
        gh.get_repo(repo).get_issue(number)
    assert error.value.status == 410
    assert number not in {i.number for i in gh.get_repo(repo).get_issues(state="all")}


def test_a_night_compiles_no_routes(before, monkeypatch):
    """Time travel keeps the route map compiled at start. Werkzeug compiles a rule with
    ``ast.parse``, which CPython 3.11.7 cannot re-enter from a garbage collection (gh-106905). A
    CI run's advance failed with a 500 that way. With rule compiling broken, a night still works."""
    with serve(before) as sandbox:
        compiled = sandbox.app.url_map

        def no_compile(rule):
            raise RuntimeError(f"an advance compiled the route {rule.rule}")

        monkeypatch.setattr(Rule, "compile", no_compile)
        response = requests.post(sandbox.url + "/_sandbox/advance", json={"days": 1}, timeout=30)
        assert response.status_code == 200, response.text
        assert sandbox.app.url_map is compiled and sandbox.app.world.scenario.as_of > before.as_of
        project = before.projects_on(GITHUB)[0].key
        assert github(sandbox).get_repo(project).get_issues(state="all").totalCount > 0
