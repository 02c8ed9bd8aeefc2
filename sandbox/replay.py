"""Replay: the sandbox's Jira Cloud, Jira Data Center and GitHub endpoints over a directory of raw
API objects (recorded responses or hand-written ones) instead of a generated scenario, so clients
and connectors can be run against real trackers' data without the trackers.

The directory format is documented in docs/sandbox.md ("Replay"). Stored objects are served as they
are; only what the tracker computes per request is computed here: filtering, ordering, paging,
field selection, Cloud's cut of embedded changelogs, ETags and rate-limit headers.
``python -m sandbox.replay build-from-corpus CORPUS OUT`` converts the recorded responses of the
shared corpus into that format.
"""

from __future__ import annotations

import argparse
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

    def _note(self, target: str, origin: str) -> None:
        """One line per file, or per folder of issues."""
        folder, _, name = target.rpartition("/")
        line = f"{folder}/*.json" if folder.endswith("/issues") else target
        self._origins.setdefault(line, set()).add(origin)

    def notes(self) -> list[str]:
        return [f"{line}: {'; '.join(sorted(origins))}" for line, origins in sorted(self._origins.items())]


def build_from_corpus(corpus: Path, out: Path) -> ReplayData:
    """Convert the recorded responses of the shared corpus into a replay directory.

    Recorded objects are kept whole and unaltered; where one object was recorded more than once,
    the latest (by ``updated``) wins. Files the corpus lacks but clients need (serverInfo, myself,
    projects, versions, link types, statuses or fields) are synthesized from what the recorded
    issues embed, and README.txt says which.
    """
    out.mkdir(parents=True, exist_ok=True)
    writer = _Writer(corpus, out)
    metrics = corpus / "jirametrics"
    issues = sorted(metrics.glob("testdata/SP-*.json")) + sorted(metrics.glob("complete_sample/sample_issues/*.json"))
    _jira_site_from_files(writer, JIRA_CLOUD, "Cloud", issues, status=metrics / "testdata" / "sample_statuses.json")
    perceval = corpus / "perceval" / "jira"
    _jira_site_from_pages(writer, JIRA_DC, "Server", sorted(perceval.glob("jira_issues_page_[0-9]*.json")),
                          fields=perceval / "jira_fields.json")
    _github_from_corpus(writer)
    readme = ["Replay data built by `python -m sandbox.replay build-from-corpus` from the shared corpus.",
              "Format: docs/sandbox.md, section Replay. Recorded objects are unaltered; SYNTHESIZED files are",
              "not recordings: they were derived from what the recorded issues embed, so clients can connect.", ""]
    (out / "README.txt").write_text("\n".join(readme + writer.notes()) + "\n", encoding="utf-8")
    return load(out)


def _newest(candidates: list[tuple[dict[str, Any], str]], key: Callable[[dict[str, Any]], Any],
            updated: Callable[[dict[str, Any]], datetime]) -> dict[Any, tuple[dict[str, Any], str]]:
    """One object (with its source) per identity: the most recently updated; the first on a tie."""
    chosen: dict[Any, tuple[dict[str, Any], str]] = {}
    for obj, source in candidates:
        k = key(obj)
        if k not in chosen or updated(obj) > updated(chosen[k][0]):
            chosen[k] = (obj, source)
    return chosen


def _jira_site_from_files(writer: _Writer, site: str, deployment: str, files: list[Path], *, status: Path) -> None:
    """A site from single-issue GET bodies, one file each (copied byte for byte)."""
    candidates = [(json.loads(p.read_text(encoding="utf-8")), str(p)) for p in files]
    chosen = _newest(candidates, lambda i: i["key"], lambda i: _moment(i["fields"].get("updated")))
    issues = []
    for key, (issue, source) in sorted(chosen.items()):
        writer.copy(Path(source), f"{site}/projects/{issue['fields']['project']['key']}/issues/{key}.json")
        issues.append(issue)
    _jira_metadata(writer, site, deployment, issues, status=status, fields=None)


def _jira_site_from_pages(writer: _Writer, site: str, deployment: str, pages: list[Path], *, fields: Path) -> None:
    """A site from recorded search pages: each issue of a page becomes one file, unaltered."""
    candidates = [(issue, str(p.relative_to(writer.corpus))) for p in pages
                  for issue in json.loads(p.read_text(encoding="utf-8")).get("issues", [])]
    chosen = _newest(candidates, lambda i: i["key"], lambda i: _moment(i["fields"].get("updated")))
    for key, (issue, source) in sorted(chosen.items()):
        writer.write(f"{site}/projects/{issue['fields']['project']['key']}/issues/{key}.json", issue,
                     f"an issue of the search page {source}")
    _jira_metadata(writer, site, deployment, [issue for issue, _ in chosen.values()], status=None, fields=fields)


def _jira_metadata(writer: _Writer, site: str, deployment: str, issues: list[dict[str, Any]], *,
                   status: Path | None, fields: Path | None) -> None:
    """The site-level files: copied where the corpus recorded them, else synthesized from the issues."""
    if not issues:
        return
    made = "SYNTHESIZED from the recorded issues"
    base = "{0.scheme}://{0.netloc}".format(urlsplit(issues[0]["self"]))
    writer.write(f"{site}/serverInfo.json",
                 {"baseUrl": base, "deploymentType": deployment, "serverTitle": "Jira (replay)",
                  **({"version": "1001.0.0-SNAPSHOT", "versionNumbers": [1001, 0, 0]} if deployment == "Cloud"
                     else {"version": "7.0.0", "versionNumbers": [7, 0, 0]})},
                 f"SYNTHESIZED (deploymentType {deployment}, baseUrl of the recorded issues)")
    writer.write(f"{site}/myself.json",
                 {"self": f"{base}/rest/api/2/myself", "accountId" if deployment == "Cloud" else "name": "replay-bot",
                  "displayName": "Replay Bot", "active": True, "timeZone": "UTC"},
                 "SYNTHESIZED (the API user; JQL dates are read in its time zone, UTC)")
    if status is not None:
        writer.copy(status, f"{site}/status.json")
    else:
        statuses = {i["fields"]["status"]["id"]: i["fields"]["status"] for i in issues if i["fields"].get("status")}
        writer.write(f"{site}/status.json", [statuses[k] for k in sorted(statuses)], f"{made}' status")
    if fields is not None:
        writer.copy(fields, f"{site}/field.json")
    else:
        writer.write(f"{site}/field.json", _field_catalogue(issues),
                     f"{made}' field ids, changelog field names and Sprint values (its schema)")
    link_types = {link["type"]["id"]: link["type"] for i in issues for link in i["fields"].get("issuelinks", [])}
    writer.write(f"{site}/issueLinkType.json", {"issueLinkTypes": [link_types[k] for k in sorted(link_types)]},
                 f"{made}' issuelinks")
    for key in sorted({i["fields"]["project"]["key"] for i in issues}):
        mine = [i for i in issues if i["fields"]["project"]["key"] == key]
        writer.write(f"{site}/projects/{key}/project.json", mine[0]["fields"]["project"],
                     f"{made} (the project object they embed)")
        versions = {v["id"]: v for i in mine for name in ("fixVersions", "versions")
                    for v in i["fields"].get(name) or []}
        writer.write(f"{site}/projects/{key}/versions.json", [versions[k] for k in sorted(versions)],
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


_REPO_URL = re.compile(r"/repos/([^/]+)/([^/]+)")


def _repo_of(url: str) -> str:
    match = _REPO_URL.search(urlsplit(url).path)
    if match is None:
        raise ValueError(f"no repository in {url}")
    return f"{match[1]}/{match[2]}"


def _recorded_github(corpus: Path) -> Iterator[tuple[str, Any, str]]:
    """(request URL, body, source) for every 200 answer the GitHub recordings hold."""
    csv.field_size_limit(2**31 - 1)
    for path in sorted((corpus / "devlake" / "github").glob("_raw_github_api_*.csv")):
        with path.open(newline="", encoding="utf-8") as rows:
            for row in csv.DictReader(rows):
                yield row["url"], json.loads(row["data"]), str(path.relative_to(corpus))
    for path in sorted((corpus / "github3py-cassettes").glob("*.json")):
        for interaction in json.loads(path.read_text(encoding="utf-8"))["http_interactions"]:
            response = interaction["response"]
            if (response.get("status") or {}).get("code") == 200 and (body := _cassette_body(response)) is not None:
                yield interaction["request"]["uri"], body, str(path.relative_to(corpus))


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


def _updated_at(obj: dict[str, Any]) -> datetime:
    return _moment(obj.get("updated_at"))


def _github_from_corpus(writer: _Writer) -> None:
    """Repositories, issues (pull requests included), repo-level issue events and milestones, each
    object filed under the repository its own URL names."""
    repos, issues, milestones, events = [], [], [], []
    for url, body, source in _recorded_github(writer.corpus):
        path = urlsplit(url).path.rstrip("/")
        rows = body if isinstance(body, list) else [body]
        if re.fullmatch(r"/(repos/[^/]+/[^/]+|repositories/\d+)", path):
            repos += [(r, source) for r in rows if "full_name" in r]
        elif re.search(r"/issues(/\d+)?$", path):
            issues += [(i, source) for i in rows if "number" in i and "repository_url" in i]
        elif path.endswith("/issues/events"):
            events += [(e, source) for e in rows if "issue" in e]
        elif re.search(r"/milestones(/\d+)?$", path):
            milestones += [(m, source) for m in rows if "number" in m]
    by_repo: dict[str, dict[str, list[tuple[dict[str, Any], str]]]] = {}
    for kind, chosen in (
            ("repo", _newest(repos, lambda r: r["full_name"], _updated_at)),
            ("issue", _newest(issues, lambda i: (_repo_of(i["repository_url"]), i["number"]), _updated_at)),
            ("milestone", _newest(milestones, lambda m: (_repo_of(m["url"]), m["number"]), _updated_at)),
            ("event", _newest(events, lambda e: (_repo_of(e["url"]), e["id"]), lambda e: EPOCH))):
        for identity, found in chosen.items():
            name = identity if kind == "repo" else identity[0]
            by_repo.setdefault(name, {}).setdefault(kind, []).append(found)
    for name, kinds in sorted(by_repo.items()):
        folder = f"{GITHUB}/repos/{name}"
        for repo, source in kinds.get("repo", []):
            writer.write(f"{folder}/repo.json", repo, f"recorded in {source}")
        for issue, source in kinds.get("issue", []):
            writer.write(f"{folder}/issues/{issue['number']}.json", issue, f"recorded in {source}")
        if "milestone" in kinds:
            ordered = sorted(kinds["milestone"], key=lambda m: m[0]["number"])
            writer.write(f"{folder}/milestones.json", [m for m, _ in ordered],
                         "recorded in " + ", ".join(sorted({s for _, s in ordered})))
        if "event" in kinds:
            ordered = sorted(kinds["event"], key=lambda e: (_moment(e[0]["created_at"]), e[0]["id"]), reverse=True)
            writer.write(f"{folder}/events.json", [e for e, _ in ordered],
                         "recorded in " + ", ".join(sorted({s for _, s in ordered})))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sandbox.replay", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    build = sub.add_parser("build-from-corpus", help="convert the shared corpus's recordings into replay data")
    build.add_argument("corpus", type=Path)
    build.add_argument("out", type=Path)
    args = parser.parse_args(argv)
    data = build_from_corpus(args.corpus, args.out)
    print(json.dumps(data.describe(), indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
