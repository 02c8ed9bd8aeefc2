"""Replay: the sandbox's Jira Cloud, Jira Data Center and GitHub endpoints over a directory of raw
API objects (recorded responses or hand-written ones) instead of a generated scenario, so clients
and connectors can be run against real trackers' data without the trackers.

The directory format is documented in docs/sandbox.md ("Replay"). Stored objects are served as they
are; only what the tracker computes per request is computed here: filtering, ordering, paging,
field selection, Cloud's cut of embedded changelogs, ETags and rate-limit headers.
``python -m sandbox.replay build-from-corpus CORPUS OUT [--part NAME]`` converts the recorded
responses of the shared corpus into that format, one part (a set of tracker installations that fit
one replay directory) at a time.
"""

from __future__ import annotations

import argparse
import ast
import base64
import csv
import gzip
import itertools
import json
import re
import shutil
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from werkzeug.wrappers import Request, Response

from sandbox.github_api import (DOCS, ENTERPRISE_PREFIX, RATE_LIMIT, RATE_WINDOW_SECONDS, GithubApi, _choice,
                                _Failure, _page, _RateLimiter, _Reply, _since)
from sandbox.jira_api import (_COMPARE, _JQL_DATE, CHANGELOG_PAGE_CAP, EMBEDDED_HISTORIES, ID_ONLY_PAGE_CAP,
                              PAGE_CAP, _dumps, _guarded, _int, _JiraError, _Jql, _jql_moment, _many, _one,
                              _page_offset, _page_token, _params, _Site, _SYSTEM_FIELDS, _Token, JiraApi)
from sandbox.jira_api import _page as _issue_page
from sandbox.scenario import GITHUB, JIRA_CLOUD, JIRA_DC, Item
from sandbox.server import SITE_PREFIX, Route, TrackerApi, json_response

JIRA_SITES = (JIRA_CLOUD, JIRA_DC)
GITHUB_API_ROOT = "https://api.github.com"
EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
EMPTY_CHANGELOG = {"startAt": 0, "maxResults": 0, "total": 0, "histories": []}


def _read(path: Path, default: Any) -> Any:
    """A file's JSON, or ``default`` when the data has no such file (the tracker's empty answer)."""
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else default


def _moment(text: str | None) -> datetime:
    """Jira's ``2021-08-29T18:04:39.097+0000`` or GitHub's ``2022-06-13T01:02:03Z``; missing sorts first."""
    return datetime.fromisoformat(text) if text else EPOCH


def _modified(obj: dict[str, Any]) -> datetime | None:
    """Last-Modified, only when the object says when it changed."""
    return _moment(obj["updated_at"]) if obj.get("updated_at") else None


# --------------------------------------------------------------------------------------------
# The directory, loaded
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class JiraIssue:
    """One stored issue, with what the JQL of ``sandbox.jira_api`` filters and sorts on."""

    raw: dict[str, Any]
    project: str
    ref: tuple[str, int]
    uid: int
    created_at: datetime
    updated_at: datetime
    histories: tuple[dict[str, Any], ...]  # oldest first, whatever order the file keeps them in

    @property
    def key(self) -> str:
        return self.raw["key"]


@dataclass(frozen=True)
class JiraProjectData:
    key: str
    project: dict[str, Any] | None
    versions: list[dict[str, Any]]


@dataclass(frozen=True)
class JiraData:
    """One Jira site's files; ``None`` where the file is missing."""

    site: str
    server_info: dict[str, Any] | None
    myself: dict[str, Any] | None
    fields: list[dict[str, Any]]
    statuses: list[dict[str, Any]]
    link_types: dict[str, Any]
    projects: dict[str, JiraProjectData]
    issues: tuple[JiraIssue, ...]

    @property
    def cloud(self) -> bool:
        """The data decides the deployment; the site's name only when serverInfo is missing."""
        if self.server_info is not None and "deploymentType" in self.server_info:
            return self.server_info["deploymentType"] == "Cloud"
        return self.site == JIRA_CLOUD


@dataclass(frozen=True)
class GithubRepoData:
    """One repository's files, keyed as GitHub numbers them."""

    full_name: str
    repo: dict[str, Any] | None
    milestones: tuple[dict[str, Any], ...]
    issues: dict[int, dict[str, Any]]
    events: tuple[dict[str, Any], ...]
    sub_issues: dict[int, list[dict[str, Any]]]
    blocked_by: dict[int, list[dict[str, Any]]]


@dataclass(frozen=True)
class ReplayData:
    """Everything a replay directory holds; what ``SandboxApp`` serves in place of a scenario."""

    root: Path
    jira: dict[str, JiraData]
    github: dict[str, GithubRepoData]

    def describe(self) -> dict[str, Any]:
        """What ``GET /_sandbox/scenario`` reports for a replay."""
        return {
            "replay": str(self.root),
            "jira": {site: {"deploymentType": (data.server_info or {}).get("deploymentType"),
                            "projects": {key: sum(i.project == key for i in data.issues) for key in data.projects}}
                     for site, data in self.jira.items()},
            "github": {name: len(repo.issues) for name, repo in self.github.items()},
        }


def load(root: Path) -> ReplayData:
    """Read a replay directory; any site, project, repository or file may be missing."""
    if not root.is_dir():
        raise ValueError(f"{root} is not a directory")
    return ReplayData(root, {site: _load_jira(root / site, site) for site in JIRA_SITES}, _load_github(root / GITHUB))


def _load_jira(folder: Path, site: str) -> JiraData:
    projects: dict[str, JiraProjectData] = {}
    issues: list[JiraIssue] = []
    for project_dir in sorted(p for p in (folder / "projects").glob("*") if p.is_dir()):
        key = project_dir.name
        projects[key] = JiraProjectData(key, _read(project_dir / "project.json", None),
                                        _read(project_dir / "versions.json", []))
        issues += (_jira_issue(_read(path, None), key) for path in sorted((project_dir / "issues").glob("*.json")))
    issues.sort(key=lambda i: i.ref)
    return JiraData(site, _read(folder / "serverInfo.json", None), _read(folder / "myself.json", None),
                    _read(folder / "field.json", []), _read(folder / "status.json", []),
                    _read(folder / "issueLinkType.json", {"issueLinkTypes": []}), projects, tuple(issues))


def _jira_issue(raw: dict[str, Any], project: str) -> JiraIssue:
    prefix, _, number = raw["key"].rpartition("-")
    fields = raw.get("fields", {})
    histories = (raw.get("changelog") or {}).get("histories", [])
    ordered = sorted(histories, key=lambda h: (_moment(h.get("created")), int(h.get("id") or 0)))
    return JiraIssue(raw, project, (prefix, int(number)), int(raw["id"]), _moment(fields.get("created")),
                     _moment(fields.get("updated")), tuple(ordered))


def _load_github(folder: Path) -> dict[str, GithubRepoData]:
    repos = {}
    for repo_dir in sorted(p for p in (folder / "repos").glob("*/*") if p.is_dir()):
        full_name = f"{repo_dir.parent.name}/{repo_dir.name}"
        issues = {raw["number"]: raw for raw in (_read(path, None) for path in (repo_dir / "issues").glob("*.json"))}
        repos[full_name] = GithubRepoData(
            full_name, _read(repo_dir / "repo.json", None), tuple(_read(repo_dir / "milestones.json", [])), issues,
            tuple(_read(repo_dir / "events.json", [])), _numbered(repo_dir / "sub_issues"),
            _numbered(repo_dir / "blocked_by"))
    return repos


def _numbered(folder: Path) -> dict[int, list[dict[str, Any]]]:
    return {int(path.stem): _read(path, []) for path in folder.glob("*.json") if path.stem.isdigit()}


def replay_apis(data: ReplayData, token: str) -> dict[str, TrackerApi]:
    """The three sites over the data, for ``SandboxApp``."""
    return {site: ReplayJiraApi(data.jira[site], token) for site in JIRA_SITES} | {
        GITHUB: ReplayGithubApi(data.github, token)}


# --------------------------------------------------------------------------------------------
# Jira
# --------------------------------------------------------------------------------------------

class _JiraIndex:
    """The lookups JiraApi's auth and JQL read from its site, built from stored issues."""

    selection = _Site.selection  # `fields` semantics (*all, *navigable, ids, -exclusions) as on a scenario

    def __init__(self, data: JiraData) -> None:
        self.data = data
        self.cloud = data.cloud
        self.items = data.issues
        self.zone = _zone((data.myself or {}).get("timeZone"))
        catalogue = {f["id"]: f for f in data.fields if f.get("id") != "issuekey"}
        self.all_fields = frozenset(catalogue) | {k for i in data.issues for k in i.raw.get("fields", {})}
        self.navigable = frozenset(f for f in self.all_fields if catalogue.get(f, {}).get("navigable", True))
        self.project_names = {key.upper(): key for key in data.projects}
        for key, project in data.projects.items():
            stored = project.project or {}
            for name in (stored.get("id"), stored.get("name")):
                if name:
                    self.project_names[str(name).upper()] = key
        self.issue_refs = {name.upper(): issue.ref for issue in data.issues for name in (issue.key, str(issue.uid))}
        self.issue = {issue.ref: issue for issue in data.issues}

    def find_issue(self, key_or_id: str) -> JiraIssue:
        ref = self.issue_refs.get(key_or_id.upper())
        if ref is None:
            raise _JiraError(404, "Issue does not exist or you do not have permission to see it.")
        return self.issue[ref]

    def find_project(self, key_or_id: str) -> JiraProjectData:
        """A project answers only when its project.json exists, as Jira has no project without one."""
        key = self.project_names.get(key_or_id.upper())
        if key is None or self.data.projects[key].project is None:
            raise _JiraError(404, f"No project could be found with key '{key_or_id}'.")
        return self.data.projects[key]


def _zone(name: str | None) -> ZoneInfo:
    """The API user's zone reads JQL dates, as on Jira; UTC when myself.json does not say."""
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


class _ReplayJql(_Jql):
    """The scenario sandbox's JQL subset, with dates read in the stored user's time zone."""

    _site: _JiraIndex

    def _date_comparison(self, field: _Token) -> Callable[[Item], bool]:
        op = self._operator(field, tuple(_COMPARE))
        moment = _jql_moment_in(self._take("a date").text, field.text, self._site.zone)
        compare = _COMPARE[op]
        if field.text.lower().startswith("updated"):
            return lambda item: compare(item.updated_at, moment)
        return lambda item: compare(item.created_at, moment)


def _jql_moment_in(value: str, field: str, zone: ZoneInfo) -> datetime:
    """Epoch milliseconds or a local date (and minute) in ``zone``; anything else is Jira's 400."""
    match = _JQL_DATE.fullmatch(value.strip())
    if value.isdigit() or match is None:
        return _jql_moment(value, field)
    year, month, day, hour, minute = (int(g) if g else 0 for g in match.groups())
    try:
        return datetime(year, month, day, hour, minute, tzinfo=zone).astimezone(timezone.utc)
    except ValueError:
        return _jql_moment(value, field)


class ReplayJiraApi(JiraApi):
    """A Jira site over stored issues: JiraApi's credentials, errors, 410 and JQL, with answers
    taken from the files. Both REST versions serve the same stored objects."""

    _jql_type = _ReplayJql

    _data: _JiraIndex

    def __init__(self, data: JiraData, token: str) -> None:
        self.site = data.site
        self._token = token
        self._data = _JiraIndex(data)
        self._found = {}

    def routes(self) -> list[Route]:
        reads: dict[str, Callable[..., Response]] = {
            "serverInfo": partial(self._stored, self._data.data.server_info),
            "myself": partial(self._stored, self._data.data.myself),
            "field": partial(self._stored, self._data.data.fields),
            "status": partial(self._stored, self._data.data.statuses),
            "issueLinkType": partial(self._stored, self._data.data.link_types),
            "project": self._projects, "project/<key>": self._project, "project/<key>/versions": self._versions,
            "issue/<key>": self._issue,
        }
        if self._data.cloud:
            reads["issue/<key>/changelog"] = self._changelog
            searches = {"search": self._search_removed, "search/jql": self._search_jql}
        else:
            searches = {"search": self._search_offset}
        routes = []
        for version in ("2", "3") if self._data.cloud else ("2",):
            routes += [Route(("GET",), f"/rest/api/{version}/{path}", _guarded(partial(handler, version=version)))
                       for path, handler in reads.items()]
            routes += [Route(("GET", "POST"), f"/rest/api/{version}/{path}",
                             _guarded(partial(handler, version=version))) for path, handler in searches.items()]
        return routes

    def _stored(self, body: Any, request: Request, version: str) -> Response:
        """A site-level file as it is; Jira's 404 when the data has none."""
        return self.not_found(request) if body is None else json_response(body)

    def _projects(self, request: Request, version: str) -> Response:
        return json_response([p.project for p in self._data.data.projects.values() if p.project is not None])

    def _project(self, request: Request, version: str, key: str) -> Response:
        return json_response(self._data.find_project(key).project)

    def _versions(self, request: Request, version: str, key: str) -> Response:
        return json_response(self._data.find_project(key).versions)

    def _issue(self, request: Request, version: str, key: str) -> Response:
        issue = self._data.find_issue(key)
        params = _params(request)
        selection = self._data.selection(_many(params, "fields"), "*all")
        return json_response(self._issue_body(issue, selection, "changelog" in _many(params, "expand")))

    def _issue_body(self, issue: JiraIssue, selection: frozenset[str], changelog: bool) -> dict[str, Any]:
        """The stored issue with the fields asked for, and its changelog only when expanded."""
        body = {name: value for name, value in issue.raw.items() if name not in ("fields", "changelog")}
        body["fields"] = {name: value for name, value in issue.raw.get("fields", {}).items() if name in selection}
        if changelog:
            body["changelog"] = self._embedded_changelog(issue)
        return body

    def _embedded_changelog(self, issue: JiraIssue) -> dict[str, Any]:
        """Cloud embeds at most the newest 100 histories, newest first, with the full total."""
        stored = issue.raw.get("changelog") or EMPTY_CHANGELOG
        if not self._data.cloud or len(issue.histories) <= EMBEDDED_HISTORIES:
            return stored
        newest = list(reversed(issue.histories[-EMBEDDED_HISTORIES:]))
        return {"startAt": 0, "maxResults": len(newest), "total": max(len(issue.histories), stored.get("total", 0)),
                "histories": newest}

    def _changelog(self, request: Request, version: str, key: str) -> Response:
        """Cloud's paged changelog: every stored history, oldest first."""
        issue = self._data.find_issue(key)
        params = _params(request)
        start = max(0, _int(params, "startAt", 0))
        size = min(max(1, _int(params, "maxResults", CHANGELOG_PAGE_CAP)), CHANGELOG_PAGE_CAP)
        values = list(issue.histories[start:start + size])
        is_last = start + len(values) >= len(issue.histories)
        body: dict[str, Any] = {"self": f"{request.base_url}?startAt={start}&maxResults={size}"}
        if not is_last:
            body["nextPage"] = f"{request.base_url}?startAt={start + size}&maxResults={size}"
        body.update(maxResults=size, startAt=start, total=len(issue.histories), isLast=is_last, values=values)
        return json_response(body)

    def _search_offset(self, request: Request, version: str) -> Response:
        """Server / Data Center search: startAt/maxResults/total, *navigable fields by default."""
        params = _params(request)
        issues = self._find(_one(params, "jql") or "", bounded=False)
        start = max(0, _int(params, "startAt", 0))
        size = min(max(0, _int(params, "maxResults", 50)), PAGE_CAP)
        selection = self._data.selection(_many(params, "fields"), "*navigable")
        changelog = "changelog" in _many(params, "expand")
        page = [_dumps(self._issue_body(i, selection, changelog)).encode() for i in issues[start:start + size]]
        return _issue_page({"expand": "schema,names", "startAt": start, "maxResults": size, "total": len(issues)},
                           "issues", page)

    def _search_jql(self, request: Request, version: str) -> Response:
        """Cloud search: bounded JQL, nextPageToken paging, only ids unless fields are asked for."""
        params = _params(request)
        jql = _one(params, "jql") or ""
        issues = self._find(jql, bounded=True)
        offset = _page_offset(_one(params, "nextPageToken"), jql)
        tokens = _many(params, "fields")
        selection = self._data.selection(tokens, "id")
        changelog = "changelog" in _many(params, "expand")
        ids_only = not selection and not changelog
        size = min(max(1, _int(params, "maxResults", 50)), ID_ONLY_PAGE_CAP if ids_only else PAGE_CAP)
        chosen = issues[offset:offset + size]
        if ids_only:
            page = [_dumps({"id": str(i.uid), **({"key": i.key} if "key" in tokens else {})}).encode() for i in chosen]
        else:
            page = [_dumps(self._issue_body(i, selection, changelog)).encode() for i in chosen]
        end = offset + len(chosen)
        tail: dict[str, Any] = {"nextPageToken": _page_token(end, jql)} if end < len(issues) else {}
        return _issue_page({}, "issues", page, {**tail, "isLast": end >= len(issues)})


# --------------------------------------------------------------------------------------------
# GitHub
# --------------------------------------------------------------------------------------------

def _rebase(value: Any, root: str) -> Any:
    """api.github.com URLs as the sandbox's own, as GitHub Enterprise names its host: clients that
    follow ``url`` fields (PyGithub refuses foreign hosts) stay in the sandbox."""
    if isinstance(value, str):
        return root + value[len(GITHUB_API_ROOT):] if value.startswith(GITHUB_API_ROOT) else value
    if isinstance(value, list):
        return [_rebase(v, root) for v in value]
    if isinstance(value, dict):
        return {k: _rebase(v, root) for k, v in value.items()}
    return value


class ReplayGithubApi(GithubApi):
    """GitHub over stored repositories: GithubApi's credentials, reply cache, ETag/304, rate limit
    and errors, with answers taken from the files."""

    def __init__(self, repos: dict[str, GithubRepoData], token: str) -> None:
        # the state GithubApi's serving machinery (_serve, _respond, _error, _rate_limit) keeps
        self._token = token
        self._limiter = _RateLimiter(RATE_LIMIT, RATE_WINDOW_SECONDS)
        self._replies: dict[str, _Reply] = {}
        self._reply_bytes = 0
        self._replies_lock = threading.Lock()
        self._request_ids = itertools.count(1)
        # no scenario repositories: recorded lists are linked by name, as stored, and no
        # /repositories/{id}/... path is served (canonical_path)
        self._repo_by_name: dict = {}
        self._repo_by_id: dict = {}
        self._stored_repos = {name.lower(): repo for name, repo in repos.items()}

    def routes(self) -> list[Route]:
        repo, issue = "/repos/<owner>/<repo>", "/repos/<owner>/<repo>/issues/<int:number>"
        table: list[tuple[str, Callable[..., _Reply], str]] = [
            (repo, self._repository, "repos/repos#get-a-repository"),
            (repo + "/issues", self._issues, "issues/issues#list-repository-issues"),
            (issue, self._issue, "issues/issues#get-an-issue"),
            (issue + "/sub_issues", self._sub_issues, "issues/sub-issues#list-sub-issues"),
            (issue + "/dependencies/blocked_by", self._blocked_by,
             "issues/issue-dependencies#list-dependencies-an-issue-is-blocked-by"),
            (repo + "/issues/events", self._repo_events, "issues/events#list-issue-events-for-a-repository"),
            (repo + "/milestones", self._milestones, "issues/milestones#list-milestones"),
        ]
        routes = [Route(("GET",), "/rate_limit", self._rate_limit)] + [
            Route(("GET",), path, self._serve(render, f"{DOCS}/{doc}")) for path, render, doc in table]
        return routes + [Route(r.methods, ENTERPRISE_PREFIX + r.path, r.handler) for r in routes]

    def _renderer(self, request: Request) -> str:
        """The root that stored api.github.com URLs are rebased onto."""
        return request.root_url.rstrip("/") + SITE_PREFIX[GITHUB]

    def _viewer_id(self) -> int:
        """The token's owner: the owner of the first stored repository."""
        owners = [r.repo["owner"]["id"] for r in self._stored_repos.values() if r.repo and r.repo.get("owner")]
        return owners[0] if owners else 0

    def _repo_data(self, owner: str, repo: str) -> GithubRepoData:
        """Owner and repository names are case-insensitive on GitHub."""
        found = self._stored_repos.get(f"{owner}/{repo}".lower())
        if found is None:
            raise _Failure(404, "Not Found")
        return found

    def _issue_data(self, owner: str, repo: str, number: int) -> dict[str, Any]:
        found = self._repo_data(owner, repo).issues.get(number)
        if found is None:
            raise _Failure(404, "Not Found")
        return found

    def _repository(self, request: Request, root: str, owner: str, repo: str) -> _Reply:
        stored = self._repo_data(owner, repo).repo
        if stored is None:
            raise _Failure(404, "Not Found")
        return _Reply.of(_rebase(stored, root), last_modified=_modified(stored))

    def _issues(self, request: Request, root: str, owner: str, repo: str) -> _Reply:
        """Issues and pull requests, filtered and sorted like ``GET /repos/{o}/{r}/issues``."""
        found = self._repo_data(owner, repo)
        args = request.args
        state = _choice(args, "state", ("open", "closed", "all"), "Issue")
        sort = _choice(args, "sort", ("created", "updated", "comments"), "Issue")
        direction = _choice(args, "direction", ("desc", "asc"), "Issue")
        since = _since(args)
        rows = [i for i in found.issues.values()
                if state in ("all", i.get("state")) and (since is None or _moment(i.get("updated_at")) >= since)]
        order: dict[str, Callable[[dict[str, Any]], Any]] = {
            "created": lambda i: (_moment(i.get("created_at")), i["number"]),
            "updated": lambda i: (_moment(i.get("updated_at")), i["number"]),
            "comments": lambda i: (i.get("comments", 0), i["number"]),
        }
        rows.sort(key=order[sort], reverse=direction == "desc")
        return _page(request, rows, lambda i: _rebase(i, root))

    def _issue(self, request: Request, root: str, owner: str, repo: str, number: int) -> _Reply:
        stored = self._issue_data(owner, repo, number)
        return _Reply.of(_rebase(stored, root), last_modified=_modified(stored))

    def _sub_issues(self, request: Request, root: str, owner: str, repo: str, number: int) -> _Reply:
        self._issue_data(owner, repo, number)
        return _page(request, self._repo_data(owner, repo).sub_issues.get(number, []), lambda i: _rebase(i, root))

    def _blocked_by(self, request: Request, root: str, owner: str, repo: str, number: int) -> _Reply:
        self._issue_data(owner, repo, number)
        return _page(request, self._repo_data(owner, repo).blocked_by.get(number, []), lambda i: _rebase(i, root))

    def _repo_events(self, request: Request, root: str, owner: str, repo: str) -> _Reply:
        """The repository's issue events, newest first."""
        rows = sorted(self._repo_data(owner, repo).events, key=lambda e: (_moment(e.get("created_at")), e["id"]),
                      reverse=True)
        return _page(request, rows, lambda e: _rebase(e, root))

    def _milestones(self, request: Request, root: str, owner: str, repo: str) -> _Reply:
        """Sorted by due date (undated last) or completeness, ascending unless asked otherwise."""
        found = self._repo_data(owner, repo)
        state = _choice(request.args, "state", ("open", "closed", "all"), "Milestone")
        sort = _choice(request.args, "sort", ("due_on", "completeness"), "Milestone")
        direction = _choice(request.args, "direction", ("asc", "desc"), "Milestone")
        rows = [m for m in found.milestones if state in ("all", m.get("state"))]
        if sort == "due_on":
            rows.sort(key=lambda m: (m.get("due_on") is None, _moment(m.get("due_on")), m["number"]))
        else:
            rows.sort(key=lambda m: (_completeness(m), m["number"]))
        if direction == "desc":
            rows.reverse()
        return _page(request, rows, lambda m: _rebase(m, root))


def _completeness(milestone: dict[str, Any]) -> float:
    closed, still_open = milestone.get("closed_issues", 0), milestone.get("open_issues", 0)
    return closed / (closed + still_open) if closed + still_open else 0.0


# --------------------------------------------------------------------------------------------
# build-from-corpus
# --------------------------------------------------------------------------------------------

# The corpus records six Jira installations and github.com. A replay directory has one Jira Cloud
# and one Jira Server/DC site, while ids, statuses, custom fields and base URLs mean something
# only within their installation: two installations merged into one site would mix meanings (the
# status id 10000 is "Backlog" on jirametrics' site and "To Do" on DevLake's). So the corpus is
# converted in parts, each its own replay directory; GitHub's ids are global, so all of it goes
# into one part.
CORPUS_PARTS = {
    "main": "jirametrics' Jira Cloud (SP), Perceval's Jira Server (HELP) and every GitHub recording",
    "devlake": "DevLake's Jira Cloud (merico.atlassian.net: EE, K5) and Jira Server (3.81.151.94: DZFNK0168)",
    "apache": "issues.apache.org as the Jira Server site: projects SLING and ABDERA with their versions, link types",
}

# A site-level file given to the writer: a corpus file copied byte for byte, or an object and the
# words that say where it came from.
Given = Path | tuple[Any, str]


class _Writer:
    """Writes the replay directory and remembers where its files came from, for README.txt."""

    def __init__(self, corpus: Path, out: Path) -> None:
        self.corpus, self.out = corpus, out
        self._origins: dict[str, set[str]] = {}

    def copy(self, source: Path, target: str) -> None:
        """A corpus file that already is one replay file: copied byte for byte."""
        path = self.out / target
        path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, path)
        self._note(target, f"copied from {source.relative_to(self.corpus)}")

    def write(self, target: str, body: object, origin: str) -> None:
        path = self.out / target
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(body, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
        self._note(target, origin)

    def put(self, target: str, given: Given) -> None:
        if isinstance(given, Path):
            self.copy(given, target)
        else:
            self.write(target, *given)

    def _note(self, target: str, origin: str) -> None:
        """One line per file, or per folder of issues."""
        folder, _, name = target.rpartition("/")
        line = f"{folder}/*.json" if folder.endswith("/issues") else target
        self._origins.setdefault(line, set()).add(origin)

    def notes(self) -> list[str]:
        return [f"{line}: {'; '.join(sorted(origins))}" for line, origins in sorted(self._origins.items())]


def build_from_corpus(corpus: Path, out: Path, part: str = "main") -> ReplayData:
    """Convert one part of the shared corpus's recordings (``CORPUS_PARTS``) into a replay directory.

    Recorded objects are kept whole and unaltered. Where one object was recorded more than once,
    the latest (by ``updated``) wins; on a tie, the first Jira file or the later GitHub recording.
    Files the corpus lacks but clients need (serverInfo, myself, projects, versions, link types,
    statuses, fields, GitHub repositories) are synthesized from what the recorded objects embed,
    GitHub sub-issue lists are derived from the ``parent_issue_url`` of recorded issues where no
    list was recorded, and README.txt says which.
    """
    if part not in CORPUS_PARTS:
        raise ValueError(f"unknown corpus part {part!r}: one of {', '.join(CORPUS_PARTS)}")
    out.mkdir(parents=True, exist_ok=True)
    writer = _Writer(corpus, out)
    {"main": _main_part, "devlake": _devlake_part, "apache": _apache_part}[part](writer)
    readme = [f"Replay data built by `python -m sandbox.replay build-from-corpus --part {part}` from the",
              f"shared corpus: {CORPUS_PARTS[part]}.",
              "Format: docs/sandbox.md, section Replay. Recorded objects are unaltered; SYNTHESIZED files are",
              "not recordings: they were derived from what the recorded objects embed, so clients can connect;",
              "DERIVED lists hold recorded objects, gathered by what they say of themselves.", ""]
    (out / "README.txt").write_text("\n".join(readme + writer.notes()) + "\n", encoding="utf-8")
    return load(out)


def _main_part(writer: _Writer) -> None:
    metrics = writer.corpus / "jirametrics"
    issues = sorted(metrics.glob("testdata/SP-*.json")) + sorted(metrics.glob("complete_sample/sample_issues/*.json"))
    _jira_site_from_files(writer, JIRA_CLOUD, "Cloud", issues, status=metrics / "testdata" / "sample_statuses.json")
    perceval = writer.corpus / "perceval" / "jira"
    _jira_site_from_pages(writer, JIRA_DC, "Server", sorted(perceval.glob("jira_issues_page_[0-9]*.json")),
                          fields=perceval / "jira_fields.json")
    _github_from_corpus(writer)


def _devlake_part(writer: _Writer) -> None:
    """DevLake's raw tables: agile board listings (with changelogs) of a Jira Cloud and a Jira Server,
    the Cloud's project and status lists. Their other tables are not served (see docs/sandbox.md)."""
    folder = writer.corpus / "devlake" / "jira"
    source = "devlake/jira/"

    def board_issues(*names: str) -> list[tuple[dict[str, Any], str]]:
        return [(issue, f"an issue of the board listing {urlsplit(url).path} recorded in {source}{name}")
                for name in names for url, issue, _ in _csv_records(folder / name)]

    statuses = [s for _, s, _ in _csv_records(folder / "_raw_jira_api_status.csv")]
    projects: dict[str, Given] = {
        p["key"]: (p, f"an element of the /rest/api/2/project list recorded in {source}_raw_jira_api_projects.csv")
        for _, p, _ in _csv_records(folder / "_raw_jira_api_projects.csv")}
    _jira_site_from_records(
        writer, JIRA_CLOUD, "Cloud", board_issues("_raw_jira_api_issues.csv", "_raw_jira_external_epics.csv"),
        status=(statuses, f"the /rest/api/2/status list recorded in {source}_raw_jira_api_status.csv, one element "
                          "a row, in row order") if statuses else None,
        projects=projects)
    _jira_site_from_records(writer, JIRA_DC, "Server", board_issues("_raw_jira_api_issue_relationships.csv"))


def _apache_part(writer: _Writer) -> None:
    """issues.apache.org: recorded projects, their versions and the link types, but no usable issue."""
    go, sling = writer.corpus / "go-jira-mockdata", writer.corpus / "sling-committer-cli" / "jira"
    if not (go / "project.json").is_file():
        return
    abdera = json.loads((go / "project.json").read_text(encoding="utf-8"))
    projects: dict[str, Given] = {abdera["key"]: go / "project.json"}
    versions: dict[str, Given] = {abdera["key"]: (
        abdera.get("versions", []), "the versions embedded in the project recorded in go-jira-mockdata/project.json")}
    listed = _read(go / "all_projects.json", [])
    sling_project = next((p for p in listed if p.get("key") == "SLING"), None)
    if sling_project is not None and (sling / "versions.json").is_file():
        projects["SLING"] = (sling_project, "the SLING element of the /rest/api/2/project list recorded in "
                                            "go-jira-mockdata/all_projects.json")
        # Sling's README: the answer cut by `jq '.[0:199]'`, "slightly tweaked": the two versions
        # after those 199 (ids 0 and 1) were written by hand, and are left out.
        recorded = _read(sling / "versions.json", [])[:199]
        versions["SLING"] = (recorded, "the 199 versions of /rest/api/2/project/SLING/versions recorded in "
                                       "sling-committer-cli/jira/versions.json (the two hand-made ones after them "
                                       "left out)")
    link_types: Given | None = None
    if (go / "all_issuelinktypes.json").is_file():
        link_types = ({"issueLinkTypes": _read(go / "all_issuelinktypes.json", [])},
                      "the list recorded in go-jira-mockdata/all_issuelinktypes.json, in the {\"issueLinkTypes\": …} "
                      "envelope Jira answers with (go-jira stored the list alone)")
    _jira_metadata(writer, JIRA_DC, "Server", [], base=_base_url(abdera["self"]), projects=projects,
                   versions=versions, link_types=link_types)


def _newest(candidates: list[tuple[dict[str, Any], str]], key: Callable[[dict[str, Any]], Any],
            updated: Callable[[dict[str, Any]], datetime]) -> dict[Any, tuple[dict[str, Any], str]]:
    """One object (with its source) per identity: the most recently updated; the first on a tie."""
    chosen: dict[Any, tuple[dict[str, Any], str]] = {}
    for obj, source in candidates:
        k = key(obj)
        if k not in chosen or updated(obj) > updated(chosen[k][0]):
            chosen[k] = (obj, source)
    return chosen


def _utc(text: str) -> datetime:
    """A recording time: ISO 8601, DevLake's ``2022-06-13 10:43:17.627`` (UTC) or an HTTP date."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        moment = parsedate_to_datetime(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def _csv_records(path: Path) -> Iterator[tuple[str, Any, datetime]]:
    """DevLake's raw tables: one API record a row (JSON in ``data``), its request in ``url``, when
    it was stored in ``created_at``; nothing when the corpus lacks the table."""
    if not path.is_file():
        return
    csv.field_size_limit(2**31 - 1)
    with path.open(newline="", encoding="utf-8") as rows:
        for row in csv.DictReader(rows):
            if row.get("data"):
                yield row["url"], json.loads(row["data"]), _utc(row["created_at"])


def _base_url(self_url: str) -> str:
    """A site's base URL from the ``self`` of one of its objects: what precedes ``/rest/``."""
    return self_url.split("/rest/", 1)[0]


def _jira_site_from_files(writer: _Writer, site: str, deployment: str, files: list[Path], *, status: Path) -> None:
    """A site from single-issue GET bodies, one file each (copied byte for byte)."""
    candidates = [(json.loads(p.read_text(encoding="utf-8")), str(p)) for p in files]
    chosen = _newest(candidates, lambda i: i["key"], lambda i: _moment(i["fields"].get("updated")))
    issues = []
    for key, (issue, source) in sorted(chosen.items()):
        writer.copy(Path(source), f"{site}/projects/{issue['fields']['project']['key']}/issues/{key}.json")
        issues.append(issue)
    _jira_metadata(writer, site, deployment, issues, status=status)


def _jira_site_from_pages(writer: _Writer, site: str, deployment: str, pages: list[Path], *, fields: Path) -> None:
    """A site from recorded search pages: each issue of a page becomes one file, unaltered."""
    candidates = [(issue, f"an issue of the search page {p.relative_to(writer.corpus)}") for p in pages
                  for issue in json.loads(p.read_text(encoding="utf-8")).get("issues", [])]
    _jira_site_from_records(writer, site, deployment, candidates, fields=fields)


def _jira_site_from_records(writer: _Writer, site: str, deployment: str,
                            candidates: list[tuple[dict[str, Any], str]], **metadata: Any) -> None:
    """A site from recorded issue objects (with where each was found): one file each, unaltered."""
    chosen = _newest(candidates, lambda i: i["key"], lambda i: _moment(i["fields"].get("updated")))
    for key, (issue, origin) in sorted(chosen.items()):
        writer.write(f"{site}/projects/{issue['fields']['project']['key']}/issues/{key}.json", issue, origin)
    _jira_metadata(writer, site, deployment, [issue for issue, _ in chosen.values()], **metadata)


def _jira_metadata(writer: _Writer, site: str, deployment: str, issues: list[dict[str, Any]], *,
                   base: str | None = None, status: Given | None = None, fields: Given | None = None,
                   link_types: Given | None = None, projects: dict[str, Given] | None = None,
                   versions: dict[str, Given] | None = None) -> None:
    """The site-level files: taken from the corpus where it recorded them, else synthesized from the
    issues; nothing for a site with neither issues nor a base URL."""
    if base is None:
        if not issues:
            return
        base = _base_url(issues[0]["self"])
    made = "SYNTHESIZED from the recorded issues"
    writer.write(f"{site}/serverInfo.json",
                 {"baseUrl": base, "deploymentType": deployment, "serverTitle": "Jira (replay)",
                  **({"version": "1001.0.0-SNAPSHOT", "versionNumbers": [1001, 0, 0]} if deployment == "Cloud"
                     else {"version": "7.0.0", "versionNumbers": [7, 0, 0]})},
                 f"SYNTHESIZED (deploymentType {deployment}, baseUrl of the recorded "
                 f"{'issues' if issues else 'projects'})")
    writer.write(f"{site}/myself.json",
                 {"self": f"{base}/rest/api/2/myself", "accountId" if deployment == "Cloud" else "name": "replay-bot",
                  "displayName": "Replay Bot", "active": True, "timeZone": "UTC"},
                 "SYNTHESIZED (the API user; JQL dates are read in its time zone, UTC)")
    if status is not None:
        writer.put(f"{site}/status.json", status)
    elif issues:
        statuses = {i["fields"]["status"]["id"]: i["fields"]["status"] for i in issues if i["fields"].get("status")}
        writer.write(f"{site}/status.json", [statuses[k] for k in sorted(statuses)], f"{made}' status")
    if fields is not None:
        writer.put(f"{site}/field.json", fields)
    elif issues:
        writer.write(f"{site}/field.json", _field_catalogue(issues),
                     f"{made}' field ids, changelog field names and Sprint values (its schema)")
    if link_types is not None:
        writer.put(f"{site}/issueLinkType.json", link_types)
    elif issues:
        found = {link["type"]["id"]: link["type"] for i in issues for link in i["fields"].get("issuelinks", [])}
        writer.write(f"{site}/issueLinkType.json", {"issueLinkTypes": [found[k] for k in sorted(found)]},
                     f"{made}' issuelinks")
    projects, versions = projects or {}, versions or {}
    for key in sorted({i["fields"]["project"]["key"] for i in issues} | set(projects)):
        mine = [i for i in issues if i["fields"]["project"]["key"] == key]
        if key in projects:
            writer.put(f"{site}/projects/{key}/project.json", projects[key])
        else:
            writer.write(f"{site}/projects/{key}/project.json", mine[0]["fields"]["project"],
                         f"{made} (the project object they embed)")
        if key in versions:
            writer.put(f"{site}/projects/{key}/versions.json", versions[key])
        elif mine:
            embedded = {v["id"]: v for i in mine for name in ("fixVersions", "versions")
                        for v in i["fields"].get(name) or []}
            writer.write(f"{site}/projects/{key}/versions.json", [embedded[k] for k in sorted(embedded)],
                         f"{made}' fixVersions and versions")


def _field_catalogue(issues: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """/field for the ids the issues carry, named after Jira's system fields or the changelog. A
    custom field whose recorded values are sprints gets the schema Jira gives the Sprint field
    (clients find it by that schema, as Jira's API description advises: names are mutable)."""
    names = {fid: name for fid, name, *_ in _SYSTEM_FIELDS}
    for issue in issues:
        for history in (issue.get("changelog") or {}).get("histories", []):
            for item in history.get("items", []):
                if item.get("fieldId", "").startswith("customfield_"):
                    names.setdefault(item["fieldId"], item["field"])
    ids = sorted({fid for i in issues for fid in i["fields"]})
    sprints = {fid for i in issues for fid, value in i["fields"].items()
               if fid.startswith("customfield_") and isinstance(value, list) and value and all(map(_is_sprint, value))}
    return [{"id": fid, "key": fid, "name": names.get(fid, fid), "custom": fid.startswith("customfield_"),
             "orderable": True, "navigable": True, "searchable": True, "clauseNames": [fid],
             **({"schema": {"type": "array", "items": "json", "custom": "com.pyxis.greenhopper.jira:gh-sprint",
                            "customId": int(fid.removeprefix("customfield_"))}} if fid in sprints else {})}
            for fid in ids]


def _is_sprint(value: Any) -> bool:
    """A Sprint field value: an object on Cloud, GreenHopper's toString() on Server/DC."""
    if isinstance(value, dict):
        return {"id", "name", "state", "boardId"} <= value.keys()
    return isinstance(value, str) and value.startswith("com.atlassian.greenhopper.service.sprint.Sprint@")


# GitHub ---------------------------------------------------------------------------------------

_REPO_URL = re.compile(r"/repos/([^/]+)/([^/]+)")
_ISSUE_URL = re.compile(r"/repos/([^/]+)/([^/]+)/issues/(\d+)$")


def _repo_of(url: str) -> str:
    match = _REPO_URL.search(urlsplit(url).path)
    if match is None:
        raise ValueError(f"no repository in {url}")
    return f"{match[1]}/{match[2]}"


def _issue_ref(url: str) -> tuple[str, int] | None:
    """(owner/name, number) of an issue's API URL; None for anything else."""
    match = _ISSUE_URL.search(urlsplit(url).path)
    return (f"{match[1]}/{match[2]}", int(match[3])) if match else None


def _is_issue(obj: Any) -> bool:
    """An issue (or pull request) object: numbered, with its own issue URL. 2012's objects have no
    ``repository_url``; their ``url`` names the repository all the same."""
    return isinstance(obj, dict) and "number" in obj and _issue_ref(str(obj.get("url", ""))) is not None


@dataclass(frozen=True)
class _Recorded:
    """One recorded 200 answer to a GET: the request URL, the body, the corpus file, when."""

    url: str
    body: Any
    source: str
    at: datetime


def _recorded_github(corpus: Path) -> list[_Recorded]:
    """Every 200 answer to a GET the GitHub recordings hold, oldest recording first (file order
    within one moment)."""
    found: list[_Recorded] = []
    for path in sorted((corpus / "devlake" / "github").glob("_raw_github_api_*.csv")):
        found += [_Recorded(url, body, str(path.relative_to(corpus)), at) for url, body, at in _csv_records(path)]
    for path in sorted((corpus / "github3py-cassettes").glob("*.json")):
        for interaction in json.loads(path.read_text(encoding="utf-8"))["http_interactions"]:
            response = interaction["response"]
            if (interaction["request"].get("method", "GET").upper() == "GET"
                    and (response.get("status") or {}).get("code") == 200
                    and (body := _cassette_body(response)) is not None):
                found.append(_Recorded(interaction["request"]["uri"], body, str(path.relative_to(corpus)),
                                       _utc(interaction["recorded_at"])))
    for path in sorted((corpus / "pygithub-replaydata").glob("*.txt")):
        for method, url, status, date, body in _replay_exchanges(path):
            if method == "GET" and status == 200 and body is not None and date is not None:
                found.append(_Recorded(url, body, str(path.relative_to(corpus)), date))
    return sorted(found, key=lambda r: r.at)


def _cassette_body(response: dict[str, Any]) -> Any:
    """A betamax body: base64 of (often gzipped) bytes, or a plain string."""
    body = response["body"]
    raw = base64.b64decode(body["base64_string"]) if body.get("base64_string") else body.get("string", "").encode()
    encoding = response["headers"].get("Content-Encoding", "")
    if "gzip" in (encoding if isinstance(encoding, str) else " ".join(encoding)):
        raw = gzip.decompress(raw)
    try:
        return json.loads(raw)
    except ValueError:
        return None


def _replay_exchanges(path: Path) -> Iterator[tuple[str, str, int, datetime | None, Any]]:
    """PyGithub's ReplayData: ten lines an exchange (scheme, method, host, port, path and query,
    request headers, request body, status, response headers as a Python list of pairs, body),
    blank lines between. Yields method, URL, status, the answer's Date and its JSON (None if not)."""
    lines = path.read_text(encoding="utf-8").split("\n")
    at = 0
    while at < len(lines):
        if not lines[at].strip():
            at += 1
            continue
        block, at = lines[at:at + 10], at + 10
        if len(block) < 10:
            return
        scheme, method, host, _port, target, _headers, _body, status, headers, body = block
        try:
            date = next((value for name, value in ast.literal_eval(headers) if name.lower() == "date"), None)
        except (ValueError, SyntaxError):
            date = None
        try:
            parsed = json.loads(body)
        except ValueError:
            parsed = None
        yield (method, f"{scheme}://{host}{target}", int(status) if status.isdigit() else 0,
               _utc(date) if date else None, parsed)


def _updated_at(obj: dict[str, Any]) -> datetime:
    return _moment(obj.get("updated_at"))


def _github_from_corpus(writer: _Writer) -> None:
    """Repositories, issues (pull requests included), repo-level issue events, milestones, and the
    sub-issue and blocked-by lists, each object filed under the repository its own URL names. An
    issue embedded in a recorded event counts as a recording of that issue; a sub-issue list no
    one recorded is derived from the ``parent_issue_url`` of the recorded issues."""
    repos, issues, milestones, events = [], [], [], []
    lists: dict[tuple[str, str, int], tuple[list[dict[str, Any]], str]] = {}  # (repo, kind, number)
    for recorded in reversed(_recorded_github(writer.corpus)):  # the newest recording first: it wins a tie
        path = urlsplit(recorded.url).path.rstrip("/")
        body = recorded.body
        rows = [r for r in (body if isinstance(body, list) else [body]) if isinstance(r, dict)]
        said = f"recorded in {recorded.source}"
        if re.fullmatch(r"/(repos/[^/]+/[^/]+|repositories/\d+)", path):
            repos += [(r, said) for r in rows if "full_name" in r]
        elif re.search(r"/issues(/\d+)?$", path):
            issues += [(i, said) for i in rows if _is_issue(i)]
        elif re.search(r"/issues/events(/\d+)?$", path):
            events += [(e, said) for e in rows if "issue" in e]
            issues += [(e["issue"], f"embedded in an event {said}") for e in rows if _is_issue(e.get("issue"))]
        elif re.search(r"/milestones(/\d+)?$", path):
            milestones += [(m, said) for m in rows if "number" in m]
        elif match := re.search(r"/issues/(\d+)/(sub_issues|dependencies/blocked_by)$", path):
            kind = "sub_issues" if match[2] == "sub_issues" else "blocked_by"
            if isinstance(body, list):
                lists.setdefault((_repo_of(recorded.url), kind, int(match[1])), (body, said))
    chosen_issues = _newest(issues, lambda i: _issue_ref(i["url"]), _updated_at)
    children: dict[tuple[str, int], list[dict[str, Any]]] = {}
    for _, (issue, _) in sorted(chosen_issues.items()):
        parent = _issue_ref(str(issue.get("parent_issue_url") or ""))
        if parent is not None:
            children.setdefault(parent, []).append(issue)
    for (repo, number), found in children.items():
        if (repo, "sub_issues", number) not in lists:
            named = ", ".join(f"#{i['number']}" for i in found)
            lists[(repo, "sub_issues", number)] = (found, f"DERIVED from the recorded issues whose parent_issue_url "
                                                          f"names #{number} ({named}), in number order")
    by_repo: dict[str, dict[str, list[Any]]] = {}
    for kind, chosen in (
            ("repo", _newest(repos, lambda r: r["full_name"], _updated_at)),
            ("issue", chosen_issues),
            ("milestone", _newest(milestones, lambda m: (_repo_of(m["url"]), m["number"]), _updated_at)),
            ("event", _newest(events, lambda e: (_repo_of(e["url"]), e["id"]), lambda e: EPOCH))):
        for identity, found in chosen.items():
            name = identity if kind == "repo" else identity[0]
            by_repo.setdefault(name, {}).setdefault(kind, []).append(found)
    for (name, kind, number), found in lists.items():
        by_repo.setdefault(name, {}).setdefault(kind, []).append((number, found))
    for name, kinds in sorted(by_repo.items()):
        folder = f"{GITHUB}/repos/{name}"
        for repo, source in kinds.get("repo", []):
            writer.write(f"{folder}/repo.json", repo, source)
        if "repo" not in kinds:
            writer.write(f"{folder}/repo.json", {"full_name": name, "name": name.partition("/")[2],
                                                 "url": f"{GITHUB_API_ROOT}/repos/{name}",
                                                 "html_url": f"https://github.com/{name}"},
                         "SYNTHESIZED (no recording of the repository itself: its name and URLs only)")
        for issue, source in kinds.get("issue", []):
            writer.write(f"{folder}/issues/{issue['number']}.json", issue, source)
        if "milestone" in kinds:
            ordered = sorted(kinds["milestone"], key=lambda m: m[0]["number"])
            writer.write(f"{folder}/milestones.json", [m for m, _ in ordered],
                         "; ".join(sorted({s for _, s in ordered})))
        if "event" in kinds:
            ordered = sorted(kinds["event"], key=lambda e: (_moment(e[0]["created_at"]), e[0]["id"]), reverse=True)
            writer.write(f"{folder}/events.json", [e for e, _ in ordered], "; ".join(sorted({s for _, s in ordered})))
        for kind in ("sub_issues", "blocked_by"):
            for number, (rows, source) in sorted(kinds.get(kind, [])):
                writer.write(f"{folder}/{kind}/{number}.json", rows, source)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sandbox.replay", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    build = sub.add_parser("build-from-corpus", help="convert the shared corpus's recordings into replay data")
    build.add_argument("corpus", type=Path)
    build.add_argument("out", type=Path)
    build.add_argument("--part", choices=tuple(CORPUS_PARTS), default="main",
                       help="which installations to convert: "
                            + "; ".join(f"{k}: {v}" for k, v in CORPUS_PARTS.items()))
    args = parser.parse_args(argv)
    data = build_from_corpus(args.corpus, args.out, args.part)
    print(json.dumps(data.describe(), indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
