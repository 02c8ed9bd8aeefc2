"""Replay data: a directory of raw API objects read back through the sandbox's endpoints, in
process (werkzeug's test client), so the paging, JQL, changelog and GitHub rules are checked fast."""

from __future__ import annotations

import base64
import csv
import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from werkzeug.test import Client

from sandbox.replay import build_from_corpus, load
from sandbox.credentials import SANDBOX_TOKEN, SANDBOX_USER
from sandbox.server import SandboxApp

BASIC = {"Authorization": "Basic " + base64.b64encode(f"{SANDBOX_USER}:{SANDBOX_TOKEN}".encode()).decode()}
BEARER = {"Authorization": f"Bearer {SANDBOX_TOKEN}"}
TOKEN = {"Authorization": f"token {SANDBOX_TOKEN}"}
T0 = datetime(2026, 1, 10, 8, 0, tzinfo=timezone.utc)


def _put(path: Path, body: object) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(body), encoding="utf-8")


def _jira_ts(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%S.000+0000")


def _gh_ts(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%SZ")


def jira_issue(key: str, uid: int, updated: datetime, histories: int = 1, newest_first: bool = True) -> dict:
    stored = [{"id": str(uid * 1000 + n), "created": _jira_ts(T0 - timedelta(days=300) + timedelta(hours=n)),
               "items": [{"field": "status", "fieldtype": "jira", "fieldId": "status"}]} for n in range(histories)]
    return {"expand": "changelog", "id": str(uid), "self": f"https://acme.atlassian.net/rest/api/2/issue/{uid}",
            "key": key, "fields": {"summary": f"summary of {key}", "status": {"name": "Done"},
                                   "project": {"key": key.split("-")[0]}, "created": _jira_ts(T0 - timedelta(days=300)),
                                   "updated": _jira_ts(updated)},
            "changelog": {"startAt": 0, "maxResults": histories, "total": histories,
                          "histories": stored[::-1] if newest_first else stored}}


def gh_issue(number: int, state: str, updated: datetime, comments: int = 0) -> dict:
    return {"url": f"https://api.github.com/repos/acme/web/issues/{number}", "number": number,
            "title": f"issue {number}", "state": state, "comments": comments,
            "created_at": _gh_ts(T0 - timedelta(days=30 - number)), "updated_at": _gh_ts(updated)}


@pytest.fixture
def tiny(tmp_path: Path) -> Path:
    """Cloud project PAY (three issues, one with 150 histories), a Server site whose data says so,
    and one GitHub repository; no statuses, link types or versions anywhere."""
    cloud = tmp_path / "jira-cloud"
    _put(cloud / "serverInfo.json", {"deploymentType": "Cloud", "versionNumbers": [1001, 0, 0]})
    _put(cloud / "myself.json", {"accountId": "me", "timeZone": "Europe/Berlin"})
    _put(cloud / "field.json", [{"id": "summary", "name": "Summary", "navigable": True},
                                {"id": "status", "name": "Status", "navigable": True}])
    _put(cloud / "projects/PAY/project.json", {"id": "10000", "key": "PAY", "name": "Payments"})
    _put(cloud / "projects/PAY/issues/PAY-1.json", jira_issue("PAY-1", 101, T0 + timedelta(minutes=30)))
    _put(cloud / "projects/PAY/issues/PAY-2.json", jira_issue("PAY-2", 102, T0 + timedelta(minutes=90), 150,
                                                               newest_first=False))
    _put(cloud / "projects/PAY/issues/PAY-3.json", jira_issue("PAY-3", 103, T0 + timedelta(hours=5)))
    dc = tmp_path / "jira-dc"
    _put(dc / "serverInfo.json", {"deploymentType": "Server", "versionNumbers": [9, 12, 0]})
    for n in range(1, 6):
        _put(dc / f"projects/OPS/issues/OPS-{n}.json", jira_issue(f"OPS-{n}", 200 + n, T0 + timedelta(hours=n)))
    repo = tmp_path / "github/repos/acme/web"
    _put(repo / "repo.json", {"url": "https://api.github.com/repos/acme/web", "full_name": "acme/web"})
    for number, state, hours, comments in ((1, "closed", 1, 3), (2, "open", 2, 0), (3, "open", 3, 7),
                                           (4, "closed", 4, 1), (5, "open", 5, 2)):
        _put(repo / f"issues/{number}.json", gh_issue(number, state, T0 + timedelta(hours=hours), comments))
    _put(repo / "milestones.json", [
        {"number": 1, "title": "v1", "state": "closed", "due_on": "2026-01-01T08:00:00Z"},
        {"number": 2, "title": "v2", "state": "open", "due_on": "2026-03-01T08:00:00Z"}])
    _put(repo / "events.json", [{"id": 11, "event": "closed", "created_at": _gh_ts(T0)},
                                {"id": 12, "event": "reopened", "created_at": _gh_ts(T0 + timedelta(hours=1))}])
    _put(repo / "sub_issues/5.json", [gh_issue(2, "open", T0)])
    return tmp_path


@pytest.fixture
def client(tiny: Path) -> Client:
    return Client(SandboxApp(load(tiny)))


def test_load_reads_what_exists_and_a_missing_directory_is_an_error(tiny: Path, tmp_path: Path) -> None:
    data = load(tiny)
    assert [i.key for i in data.jira["jira-cloud"].issues] == ["PAY-1", "PAY-2", "PAY-3"]
    pay2 = data.jira["jira-cloud"].issues[1]
    assert [h["id"] for h in pay2.histories][:2] == ["102000", "102001"]  # oldest first whatever the file's order
    assert data.jira["jira-dc"].cloud is False and data.jira["jira-dc"].projects["OPS"].project is None
    assert set(data.github) == {"acme/web"} and sorted(data.github["acme/web"].issues) == [1, 2, 3, 4, 5]
    with pytest.raises(ValueError):
        load(tmp_path / "nowhere")


def test_missing_files_answer_as_the_tracker_would(tmp_path: Path) -> None:
    empty = Client(SandboxApp(load(tmp_path)))
    assert empty.get("/jira-dc/rest/api/2/serverInfo", headers=BEARER).status_code == 404
    assert empty.get("/jira-dc/rest/api/2/field", headers=BEARER).json == []
    assert empty.get("/jira-dc/rest/api/2/status", headers=BEARER).json == []
    assert empty.get("/jira-dc/rest/api/2/issueLinkType", headers=BEARER).json == {"issueLinkTypes": []}
    assert empty.get("/jira-dc/rest/api/2/issue/X-1", headers=BEARER).status_code == 404
    assert empty.get("/github/repos/acme/web", headers=TOKEN).status_code == 404


def test_missing_project_files(client: Client) -> None:
    assert client.get("/jira-cloud/rest/api/3/project/PAY/versions", headers=BASIC).json == []
    assert client.get("/jira-cloud/rest/api/3/project/10000", headers=BASIC).json["key"] == "PAY"
    missing = client.get("/jira-dc/rest/api/2/project/OPS", headers=BEARER)  # issues, but no project.json
    assert missing.status_code == 404 and missing.json["errorMessages"]


def test_cloud_search_pages_by_token_and_reads_dates_in_the_users_zone(client: Client) -> None:
    # 09:30 Berlin is 08:30 UTC: PAY-1 (08:30 UTC) is in, with minute precision
    jql = 'project = PAY AND updated >= "2026-01-10 09:30" ORDER BY key'
    first = client.get("/jira-cloud/rest/api/3/search/jql", query_string={"jql": jql, "maxResults": 2,
                                                                         "fields": "summary"}, headers=BASIC).json
    assert [i["key"] for i in first["issues"]] == ["PAY-1", "PAY-2"] and first["isLast"] is False
    assert first["issues"][0]["fields"] == {"summary": "summary of PAY-1"}
    second = client.get("/jira-cloud/rest/api/3/search/jql", headers=BASIC, query_string={
        "jql": jql, "maxResults": 2, "nextPageToken": first["nextPageToken"]}).json
    assert second == {"issues": [{"id": "103"}], "isLast": True}  # ids only unless fields are asked for
    later = client.get("/jira-cloud/rest/api/3/search/jql", headers=BASIC, query_string={
        "jql": 'project = PAY AND updated > "2026-01-10 09:30" ORDER BY updated DESC', "fields": "key"}).json
    assert [i["key"] for i in later["issues"]] == ["PAY-3", "PAY-2"]


def test_cloud_refuses_legacy_search_unbounded_and_unknown_jql(client: Client) -> None:
    assert client.get("/jira-cloud/rest/api/2/search", query_string={"jql": "project = PAY"},
                      headers=BASIC).status_code == 410
    assert client.get("/jira-cloud/rest/api/3/search/jql", query_string={"jql": "ORDER BY key"},
                      headers=BASIC).status_code == 400
    assert client.get("/jira-cloud/rest/api/3/search/jql", query_string={"jql": "project = NOPE"},
                      headers=BASIC).status_code == 400
    assert client.get("/jira-cloud/rest/api/3/search/jql", query_string={"jql": "project = PAY"}).status_code == 401


def test_server_search_pages_by_start_at(client: Client) -> None:
    jql = "project in (OPS) AND key in (OPS-1, OPS-2, OPS-4, OPS-5) ORDER BY key DESC"
    page = client.get("/jira-dc/rest/api/2/search", query_string={"jql": jql, "startAt": 1, "maxResults": 2},
                      headers=BEARER).json
    assert (page["startAt"], page["maxResults"], page["total"]) == (1, 2, 4)
    assert [i["key"] for i in page["issues"]] == ["OPS-4", "OPS-2"]
    assert "changelog" not in page["issues"][0] and "summary" in page["issues"][0]["fields"]
    assert client.get("/jira-dc/rest/api/2/search/jql", headers=BEARER).status_code == 404


def test_cloud_changelog_embedded_cut_and_paged_complete(client: Client) -> None:
    issue = client.get("/jira-cloud/rest/api/2/issue/PAY-2", query_string={"expand": "changelog"},
                       headers=BASIC).json
    embedded = issue["changelog"]
    assert embedded["total"] == 150 and len(embedded["histories"]) == 100
    assert embedded["histories"][0]["id"] == "102149" and embedded["histories"][-1]["id"] == "102050"
    page = client.get("/jira-cloud/rest/api/3/issue/102/changelog", query_string={"startAt": 100},
                      headers=BASIC).json
    assert (page["total"], page["isLast"], len(page["values"])) == (150, True, 50)
    assert page["values"][0]["id"] == "102100"
    small = client.get("/jira-cloud/rest/api/2/issue/PAY-1", query_string={"expand": "changelog"}, headers=BASIC).json
    assert small["changelog"]["total"] == 1 and "changelog" not in client.get(
        "/jira-cloud/rest/api/2/issue/PAY-1", headers=BASIC).json


def test_github_issue_filters_order_and_link_paging(client: Client) -> None:
    reply = client.get("/github/repos/acme/web/issues", query_string={
        "state": "open", "sort": "updated", "direction": "asc", "per_page": 2}, headers=TOKEN)
    assert [i["number"] for i in reply.json] == [2, 3]
    assert 'rel="next"' in reply.headers["Link"] and "page=2" in reply.headers["Link"]
    assert reply.json[0]["url"].startswith("http://localhost/github/repos/acme/web/")  # served as the sandbox's
    since = client.get("/github/repos/acme/web/issues", query_string={
        "state": "all", "since": _gh_ts(T0 + timedelta(hours=4))}, headers=TOKEN).json
    assert [i["number"] for i in since] == [5, 4]  # created, newest first by default
    by_comments = client.get("/github/repos/acme/web/issues", query_string={"state": "all", "sort": "comments"},
                             headers=TOKEN).json
    assert [i["number"] for i in by_comments] == [3, 1, 5, 4, 2]
    assert client.get("/github/repos/acme/web/issues", query_string={"state": "any"},
                      headers=TOKEN).status_code == 422


def test_github_lists_etag_and_errors(client: Client) -> None:
    assert [m["title"] for m in client.get("/github/repos/acme/web/milestones", headers=TOKEN).json] == ["v2"]
    assert [m["title"] for m in client.get("/github/repos/acme/web/milestones", query_string={"state": "all"},
                                           headers=TOKEN).json] == ["v1", "v2"]
    assert [e["id"] for e in client.get("/github/repos/acme/web/issues/events", headers=TOKEN).json] == [12, 11]
    assert [i["number"] for i in client.get("/github/repos/acme/web/issues/5/sub_issues", headers=TOKEN).json] == [2]
    assert client.get("/github/repos/acme/web/issues/4/dependencies/blocked_by", headers=TOKEN).json == []
    assert client.get("/github/repos/acme/web/issues/9/sub_issues", headers=TOKEN).status_code == 404
    first = client.get("/github/repos/acme/web/issues/1", headers=TOKEN)
    assert first.json["title"] == "issue 1" and first.headers["X-RateLimit-Limit"] == "5000"
    again = client.get("/github/repos/acme/web/issues/1", headers={**TOKEN, "If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304
    assert client.get("/github/repos/acme/web/issues/1").status_code == 401


def test_control_endpoints_describe_the_replay_and_count_requests(client: Client) -> None:
    client.get("/github/repos/acme/web/issues/1", headers=TOKEN)
    described = client.get("/_sandbox/scenario").json
    assert described["jira"]["jira-cloud"] == {"deploymentType": "Cloud", "projects": {"PAY": 3}}
    assert described["github"] == {"acme/web": 5}
    assert client.post("/_sandbox/advance", json={"days": 1}).status_code == 409
    stats = client.get("/_sandbox/stats").json
    assert {"method": "GET", "endpoint": "/github/repos/<owner>/<repo>/issues/<int:number>", "status": 200,
            "count": 1} in stats["requests"]


# -- build-from-corpus, over a corpus written here in the recordings' own formats ---------------------

API = "https://api.github.com/repos"


def _exchange(path: str, body: object, date: str, method: str = "GET", status: int = 200) -> str:
    """One exchange of PyGithub's ReplayData (ten lines)."""
    headers = [("Date", date), ("Content-Type", "application/json; charset=utf-8")]
    return "\n".join(["https", method, "api.github.com", "None", path, "{'Authorization': 'token x'}", "None",
                      str(status), repr(headers), json.dumps(body)]) + "\n\n"


def _gh(repo: str, number: int, updated: str, **extra: object) -> dict:
    return {"url": f"{API}/{repo}/issues/{number}", "repository_url": f"{API}/{repo}", "id": number * 1000,
            "number": number, "title": f"#{number}", "state": "open", "updated_at": updated, **extra}


def _raw_table(path: Path, records: list[tuple[str, object]]) -> None:
    """A DevLake raw table: one API record a row."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as f:
        out = csv.writer(f)
        out.writerow(["id", "params", "data", "url", "input", "created_at"])
        for n, (url, data) in enumerate(records, 1):
            out.writerow([n, "{}", json.dumps(data), url, "null", "2022-06-13 10:43:17.627"])


def test_build_from_corpus_gathers_github_lists_and_derives_only_what_no_one_recorded(tmp_path: Path) -> None:
    corpus, replay = tmp_path / "corpus", tmp_path / "replay"
    recordings = corpus / "pygithub-replaydata"
    recordings.mkdir(parents=True)
    early, late = "Tue, 02 Jun 2026 10:03:06 GMT", "Tue, 02 Jun 2026 10:03:08 GMT"
    (recordings / "A.setUp.txt").write_text(
        _exchange("/repos/acme/web/issues?type=%2A", [
            _gh("acme/web", 1, "2025-01-01T00:00:00Z", sub_issues_summary={"total": 2}),
            _gh("acme/web", 2, "2025-01-01T00:00:00Z", parent_issue_url=f"{API}/acme/web/issues/1"),
            _gh("acme/web", 3, "2025-01-01T00:00:00Z", parent_issue_url=f"{API}/acme/web/issues/1")], early)
        # a 2012-shaped issue: no repository_url, its url names the repository
        + _exchange("/repos/acme/web/issues/4", {"url": f"{API}/acme/web/issues/4", "id": 4000, "number": 4,
                                                 "updated_at": "2012-05-01T00:00:00Z"}, early), encoding="utf-8")
    (recordings / "B.testBlockedBy.txt").write_text(
        _exchange("/repos/acme/web/issues/1/dependencies/blocked_by", [], early)
        + _exchange("/repos/acme/web/issues/1/dependencies/blocked_by", {"issue_id": 3000}, early, "POST", 201)
        + _exchange("/repos/acme/web/issues/1/dependencies/blocked_by", [_gh("acme/web", 3, "2025-01-01T00:00:00Z")],
                    late)
        # recorded again later with the same updated_at: the later recording wins
        + _exchange("/repos/acme/web/issues/2", _gh("acme/web", 2, "2025-01-01T00:00:00Z", title="later",
                                                    parent_issue_url=f"{API}/acme/web/issues/1"), late)
        + _exchange("/repos/acme/web/issues/events", [
            {"id": 77, "url": f"{API}/acme/web/issues/events/77", "event": "closed",
             "created_at": "2025-02-01T00:00:00Z", "issue": _gh("acme/web", 9, "2025-02-01T00:00:00Z")}], late),
        encoding="utf-8")
    data = build_from_corpus(corpus, replay)
    web = data.github["acme/web"]
    assert sorted(web.issues) == [1, 2, 3, 4, 9] and web.issues[2]["title"] == "later"  # 9: embedded in its event
    assert [e["id"] for e in web.events] == [77]
    assert [i["number"] for i in web.sub_issues[1]] == [2, 3]  # from parent_issue_url, in number order
    assert [i["number"] for i in web.blocked_by[1]] == [3]  # the last GET; the POST is no answer to keep
    assert web.repo == {"full_name": "acme/web", "name": "web", "url": f"{API}/acme/web",
                        "html_url": "https://github.com/acme/web"}
    readme = (replay / "README.txt").read_text()
    assert "github/repos/acme/web/sub_issues/1.json: DERIVED from the recorded issues whose parent_issue_url" in readme
    assert "github/repos/acme/web/repo.json: SYNTHESIZED" in readme
    assert "--part main" in readme


def test_build_from_corpus_keeps_a_recorded_sub_issue_list_over_a_derived_one(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    (corpus / "pygithub-replaydata").mkdir(parents=True)
    date = "Wed, 16 Jul 2025 13:20:41 GMT"
    (corpus / "pygithub-replaydata" / "SubIssue.txt").write_text(
        _exchange("/repos/acme/web/issues/1", _gh("acme/web", 1, "2025-01-01T00:00:00Z"), date)
        + _exchange("/repos/acme/web/issues/2", _gh("acme/web", 2, "2025-01-01T00:00:00Z",
                                                    parent_issue_url=f"{API}/acme/web/issues/1"), date)
        + _exchange("/repos/acme/web/issues/1/sub_issues", [_gh("acme/web", 5, "2025-01-01T00:00:00Z")], date),
        encoding="utf-8")
    data = build_from_corpus(corpus, tmp_path / "replay")
    assert [i["number"] for i in data.github["acme/web"].sub_issues[1]] == [5]


def test_build_from_corpus_devlake_part_keeps_each_installation_its_own_site(tmp_path: Path) -> None:
    corpus, replay = tmp_path / "corpus", tmp_path / "replay"
    board = "https://acme.atlassian.net/rest/agile/1.0/board/8/issue?expand=changelog"
    version = {"id": "10026", "name": "v2.7.0", "released": True, "releaseDate": "2020-07-10"}
    issue = {"id": "10063", "key": "EE-1", "self": "https://acme.atlassian.net/rest/agile/1.0/issue/10063",
             "fields": {"project": {"id": "10003", "key": "EE", "name": "embedded name"}, "summary": "s",
                        "updated": "2021-03-28T16:06:08.713+0800", "fixVersions": [version],
                        "status": {"id": "1", "name": "Open"}, "issuelinks": []}}
    tables = corpus / "devlake" / "jira"
    _raw_table(tables / "_raw_jira_api_issues.csv", [(board, issue)])
    _raw_table(tables / "_raw_jira_api_status.csv", [("https://acme.atlassian.net/rest/api/2/status", {"id": "1"}),
                                                     ("https://acme.atlassian.net/rest/api/2/status", {"id": "3"})])
    _raw_table(tables / "_raw_jira_api_projects.csv", [("https://acme.atlassian.net/rest/api/2/project",
                                                        {"id": "10003", "key": "EE", "name": "Enterprise Edition"})])
    data = build_from_corpus(corpus, replay, "devlake")
    cloud = data.jira["jira-cloud"]
    assert [i.key for i in cloud.issues] == ["EE-1"] and cloud.server_info["baseUrl"] == "https://acme.atlassian.net"
    assert cloud.projects["EE"].project["name"] == "Enterprise Edition"  # recorded, not the embedded copy
    assert cloud.projects["EE"].versions == [version] and [s["id"] for s in cloud.statuses] == ["1", "3"]
    assert data.github == {} and data.jira["jira-dc"].issues == ()
    with pytest.raises(ValueError):
        build_from_corpus(corpus, tmp_path / "other", "nope")


def test_build_from_corpus_apache_part_serves_projects_and_versions_without_issues(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    go = corpus / "go-jira-mockdata"
    go.mkdir(parents=True)
    versions = [{"id": "12312506", "name": "0.2.2", "released": True, "releaseDate": "2007-02-19"}]
    (go / "project.json").write_text(json.dumps({
        "self": "https://issues.apache.org/jira/rest/api/2/project/12310505", "id": "12310505", "key": "ABDERA",
        "versions": versions}), encoding="utf-8")
    (go / "all_issuelinktypes.json").write_text(json.dumps([{"id": "1", "name": "Blocker"}]), encoding="utf-8")
    client = Client(SandboxApp(build_from_corpus(corpus, tmp_path / "replay", "apache")))
    info = client.get("/jira-dc/rest/api/2/serverInfo", headers=BEARER).json
    assert (info["baseUrl"], info["deploymentType"]) == ("https://issues.apache.org/jira", "Server")
    assert client.get("/jira-dc/rest/api/2/project/ABDERA/versions", headers=BEARER).json == versions
    assert client.get("/jira-dc/rest/api/2/issueLinkType", headers=BEARER).json == {
        "issueLinkTypes": [{"id": "1", "name": "Blocker"}]}
    assert client.get("/jira-dc/rest/api/2/search", query_string={"jql": "project = ABDERA"},
                      headers=BEARER).json["total"] == 0
