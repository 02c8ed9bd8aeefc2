"""Replay data over HTTP through the unmodified jira and PyGithub clients: a tiny hand-written
directory, then (when the shared corpus is present) the real recordings converted into one."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import requests
from github import Auth, Github
from jira import JIRA

from sandbox.replay import build_from_corpus, load
from sandbox.scenario import GITHUB, JIRA_CLOUD, JIRA_DC
from sandbox.credentials import SANDBOX_TOKEN, SANDBOX_USER
from sandbox.server import RunningSandbox, serve

pytestmark = pytest.mark.e2e

CORPUS = Path(__file__).parents[2].parent / "shared" / "corpus"
T0 = datetime(2026, 1, 10, 8, 0, tzinfo=timezone.utc)


def _put(path: Path, body: object) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(body), encoding="utf-8")


def _issue(key: str, uid: int, at: datetime) -> dict:
    stamp = at.strftime("%Y-%m-%dT%H:%M:%S.000+0000")
    return {"id": str(uid), "self": f"https://jira.example/rest/api/2/issue/{uid}", "key": key,
            "fields": {"summary": f"summary of {key}", "project": {"key": key.split("-")[0]}, "updated": stamp,
                       "created": stamp},
            "changelog": {"startAt": 0, "maxResults": 1, "total": 1,
                          "histories": [{"id": str(uid), "created": stamp, "items": []}]}}


def _tiny(root: Path) -> Path:
    """Five issues on each Jira site, five GitHub issues (one a pull request), two milestones, three events."""
    for site, deployment in ((JIRA_CLOUD, "Cloud"), (JIRA_DC, "DataCenter")):
        _put(root / site / "serverInfo.json", {"deploymentType": deployment, "versionNumbers": [9, 12, 0],
                                               "baseUrl": "https://jira.example"})
        _put(root / site / "myself.json", {"name": "bot", "accountId": "bot", "timeZone": "UTC"})
        for n in range(1, 6):
            _put(root / site / f"projects/PAY/issues/PAY-{n}.json", _issue(f"PAY-{n}", 10 + n, T0 + timedelta(hours=n)))
    repo = root / "github/repos/acme/web"
    api = "https://api.github.com/repos/acme/web"
    _put(repo / "repo.json", {"id": 1, "name": "web", "full_name": "acme/web", "url": api,
                              "owner": {"login": "acme", "id": 7, "url": "https://api.github.com/users/acme"}})
    for n in range(1, 6):
        stamp = (T0 + timedelta(hours=n)).strftime("%Y-%m-%dT%H:%M:%SZ")
        _put(repo / f"issues/{n}.json", {
            "id": 100 + n, "number": n, "title": f"issue {n}", "state": "open" if n % 2 else "closed",
            "url": f"{api}/issues/{n}", "repository_url": api, "created_at": stamp, "updated_at": stamp,
            "comments": 0, **({"pull_request": {"url": f"{api}/pulls/{n}"}} if n == 5 else {})})
    _put(repo / "milestones.json", [{"id": 900 + n, "number": n, "title": f"v{n}", "state": "open",
                                     "url": f"{api}/milestones/{n}", "open_issues": 1, "closed_issues": 0,
                                     "due_on": f"2026-0{n}-01T08:00:00Z"} for n in (1, 2)])
    _put(repo / "events.json", [{"id": 500 + n, "event": "closed", "url": f"{api}/issues/events/{500 + n}",
                                 "created_at": (T0 + timedelta(hours=n)).strftime("%Y-%m-%dT%H:%M:%SZ")}
                                for n in (1, 2, 3)])
    return root


def jira(running: RunningSandbox, site: str) -> JIRA:
    if site == JIRA_CLOUD:
        return JIRA(server=running.site_url(site), basic_auth=(SANDBOX_USER, SANDBOX_TOKEN))
    return JIRA(server=running.site_url(site), token_auth=SANDBOX_TOKEN)


def github(running: RunningSandbox, per_page: int) -> Github:
    return Github(base_url=running.site_url(GITHUB), auth=Auth.Token(SANDBOX_TOKEN), per_page=per_page,
                  seconds_between_requests=None)


def requests_to(running: RunningSandbox, endpoint: str) -> int:
    rows = requests.get(running.url + "/_sandbox/stats", timeout=10).json()["requests"]
    return sum(r["count"] for r in rows if r["endpoint"] == endpoint)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningSandbox]:
    with serve(load(_tiny(tmp_path_factory.mktemp("replay")))) as running:
        yield running


def test_cloud_pages_by_next_page_token(tiny: RunningSandbox) -> None:
    client = jira(tiny, JIRA_CLOUD)
    keys, token = [], None
    while True:
        page = client.enhanced_search_issues("project = PAY ORDER BY key", nextPageToken=token, maxResults=2,
                                             fields="summary")
        keys += [(i.key, i.fields.summary) for i in page]
        token = page.nextPageToken
        if token is None:
            break
    assert keys == [(f"PAY-{n}", f"summary of PAY-{n}") for n in range(1, 6)]
    assert requests_to(tiny, "/jira-cloud/rest/api/2/search/jql") == 3  # the jira library reads v2


def test_data_center_pages_by_start_at(tiny: RunningSandbox) -> None:
    client = jira(tiny, JIRA_DC)
    first = client.search_issues("project = PAY AND updated >= '2026-01-10 11:00' ORDER BY updated DESC",
                                 startAt=0, maxResults=2)
    assert first.total == 3 and [i.key for i in first] == ["PAY-5", "PAY-4"]
    rest = client.search_issues("project = PAY AND updated >= '2026-01-10 11:00' ORDER BY updated DESC",
                                startAt=2, maxResults=2)
    assert [i.key for i in rest] == ["PAY-3"]
    assert len(client.issue("PAY-2", expand="changelog").changelog.histories) == 1


def test_github_issues_milestones_and_events(tiny: RunningSandbox) -> None:
    repo = github(tiny, 2).get_repo("acme/web")
    before = requests_to(tiny, "/github/repos/<owner>/<repo>/issues")
    issues = list(repo.get_issues(state="all", sort="created", direction="asc"))
    assert [i.number for i in issues] == [1, 2, 3, 4, 5] and issues[4].pull_request is not None
    assert requests_to(tiny, "/github/repos/<owner>/<repo>/issues") - before == 3  # Link paging, 2 a page
    assert [i.number for i in repo.get_issues(state="closed")] == [4, 2]
    assert [m.title for m in repo.get_milestones()] == ["v1", "v2"]
    assert [e.id for e in repo.get_issues_events()] == [503, 502, 501]


@pytest.mark.skipif(not CORPUS.is_dir(), reason="the shared corpus is not present")
def test_the_corpus_reads_back_through_the_clients(tmp_path: Path) -> None:
    data = build_from_corpus(CORPUS, tmp_path / "replay")
    assert "SYNTHESIZED" in (tmp_path / "replay" / "README.txt").read_text()
    recorded = json.loads((CORPUS / "jirametrics" / "testdata" / "SP-13.json").read_text())
    with serve(data) as running:
        cloud = jira(running, JIRA_CLOUD)
        sp13 = cloud.issue("SP-13", expand="changelog")
        assert (sp13.id, sp13.fields.summary, sp13.fields.status.name) == (
            "10020", "Report of people checked in at an event", "Done")
        assert len(sp13.changelog.histories) == sp13.changelog.total == len(recorded["changelog"]["histories"]) == 5
        found = cloud.enhanced_search_issues("project = SP AND key in (SP-13, SP-14) ORDER BY key", fields="summary")
        assert [i.key for i in found] == ["SP-13", "SP-14"]

        server = jira(running, JIRA_DC)
        assert server.server_info()["deploymentType"] == "Server"
        page = server.search_issues("project = HELP ORDER BY key", startAt=0, maxResults=2)
        assert page.total == 3 and page[0].key == "HELP-6041"
        assert server.issue("HELP-6043").fields.summary == "[Fiware-lab-help] FIWARE Lab Assistance"

        hub = github(running, 100)
        betamax = hub.get_repo("betamaxpy/betamax")
        assert betamax.get_issues(state="all").totalCount == 150
        assert betamax.get_issue(1).title == "Track history as well?"
        github3 = hub.get_repo("sigmavirus24/github3.py")
        assert github3.get_issue(525).title == "Update Doc link in Project Description"
        assert "foo" in [m.title for m in github3.get_milestones(state="all")]
        assert len(list(github3.get_issues_events())) == 50
