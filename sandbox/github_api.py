"""GitHub's REST API, as api.github.com serves it, over the scenario's GitHub repositories.

Shapes, headers and paging follow GitHub's OpenAPI description and recorded responses: compact
UTF-8 JSON, ``2026-05-12T09:31:02Z`` timestamps, weak ETags, ``Link`` paging, the primary rate
limit. How the scenario maps onto GitHub:

* workflow states: todo is an open issue; in progress / in review are open issues labelled
  "in progress" / "in review"; done is closed ("completed", or "not_planned" for Won't Do);
* releases are milestones, epics' children are sub-issues, Blocks links between GitHub items are
  "blocked by" dependencies (a Jira blocker is not a GitHub issue, so it is left out);
* item changes become issue events (story points have no GitHub counterpart);
* the issues list carries pull requests, as GitHub's does: a merged pull request closed one in
  ``DONE_ITEMS_PER_PULL`` finished items (chosen by id), numbered ``PULL_NUMBER_BASE`` + the
  issue's number, so time travel (``sandbox.timetravel``) neither renumbers nor replaces them;
* deleted issues answer 410 Gone.

API URLs in bodies point back at the sandbox (the request's host plus the site prefix, like
GitHub Enterprise's ``/api/v3``), so clients that follow ``url`` fields stay in the sandbox;
``html_url`` and avatars point at github.com. Every response is a pure function of its URL, so
rendered replies are cached by URL; only the rate limit changes between calls.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import re
import threading
import time
import zlib
from base64 import b64encode
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from datetime import time as clock
from typing import Any, NamedTuple
from urllib.parse import quote, urlencode
from zoneinfo import ZoneInfo

from werkzeug.datastructures import MultiDict
from werkzeug.http import http_date
from werkzeug.wrappers import Request, Response

from sandbox.httpd import json_bytes
from sandbox.scenario import DONE, GITHUB, IN_PROGRESS, REVIEW, Change, Item, Project, Release, Scenario
from sandbox.server import SITE_PREFIX, Route

HTML_ROOT = "https://github.com"
DOCS = "https://docs.github.com/rest"
ENTERPRISE_PREFIX = "/api/v3"  # where GitHub Enterprise Server serves REST, under its host
# A repository's endpoints by id, which GitHub's Link headers use for the next pages of its lists
# (/repositories/{id}/issues?page=2), and by name; where the handler notes the id for those links.
_BY_ID = re.compile(r"(?P<enterprise>/api/v3)?/repositories/(?P<id>\d+)(?P<rest>/.*)?")
_BY_NAME = re.compile(r"/repos/[^/?#]+/[^/?#]+(?=/|$)")
REPOSITORY_ID = "sandbox.github.repository_id"
JSON_TYPE = "application/json; charset=utf-8"
BASE_HEADERS = {
    "X-GitHub-Media-Type": "github.v3; format=json",
    "x-github-api-version-selected": "2022-11-28",
}
CACHE_HEADERS = {
    "Cache-Control": "private, max-age=60, s-maxage=60",
    "Vary": "Accept, Authorization, Cookie, X-GitHub-OTP, Accept-Encoding",
}

RATE_LIMIT = 5000  # primary limit: requests per token per window
RATE_WINDOW_SECONDS = 3600
PER_PAGE, MAX_PER_PAGE = 30, 100
REPLY_CACHE_BYTES = 64 * 2**20

DONE_ITEMS_PER_PULL = 8
PULL_ID_BASE = 3_500_000_000  # pull requests share the issue id space; scenario issues start at 3e9
PULL_NUMBER_BASE = 5000  # above any issue number a scenario reaches; below 10,000, so pull ids stay apart
# Event ids are EVENT_ID_BASE + 16 × source + slot. The source is a Change.id (slots 0-3: the
# change's own events; 4-5: the merged pull request that closed the item) or an Item.uid (slots
# 8-15: what the issue was created with), so ids are unique and stable across runs.
EVENT_ID_BASE = 10_000_000_000
PULL_SLOTS, CREATION_SLOT = (4, 5), 8

# GitHub stores a milestone's due date as midnight Pacific time: 07:00Z or 08:00Z.
DUE_ZONE = ZoneInfo("America/Los_Angeles")
STATUS_LABEL = {IN_PROGRESS: "in progress", REVIEW: "in review"}
# name: (color, default, description); "bug" is one of GitHub's default labels.
LABEL_STYLE: dict[str, tuple[str, bool, str | None]] = {
    "bug": ("d73a4a", True, "Something isn't working"),
    "epic": ("3e4b9e", False, "A body of work split into sub-issues"),
    "story": ("0e8a16", False, "User-facing change"),
    "task": ("c5def5", False, None),
    "customer": ("fbca04", False, "Reported by a customer"),
    "in progress": ("1d76db", False, "Someone is working on it"),
    "in review": ("5319e7", False, "Waiting for review"),
}
OTHER_LABEL_STYLE = ("ededed", False, None)

# GitHub's other /rate_limit resources: (limit, window in seconds). Nothing here spends them.
OTHER_RESOURCES = {
    "search": (30, 60), "graphql": (5000, 3600), "integration_manifest": (5000, 3600),
    "source_import": (100, 60), "code_scanning_upload": (1000, 3600),
    "code_scanning_autofix": (10, 60), "actions_runner_registration": (10000, 3600),
    "scim": (15000, 3600), "dependency_snapshots": (100, 60), "dependency_sbom": (100, 3600),
    "audit_log": (1750, 3600), "audit_log_streaming": (15, 3600), "code_search": (10, 60),
}

REPO_LINKS = (
    ("forks_url", "/forks"), ("keys_url", "/keys{/key_id}"),
    ("collaborators_url", "/collaborators{/collaborator}"), ("teams_url", "/teams"),
    ("hooks_url", "/hooks"), ("issue_events_url", "/issues/events{/number}"),
    ("events_url", "/events"), ("assignees_url", "/assignees{/user}"),
    ("branches_url", "/branches{/branch}"), ("tags_url", "/tags"),
    ("blobs_url", "/git/blobs{/sha}"), ("git_tags_url", "/git/tags{/sha}"),
    ("git_refs_url", "/git/refs{/sha}"), ("trees_url", "/git/trees{/sha}"),
    ("statuses_url", "/statuses/{sha}"), ("languages_url", "/languages"),
    ("stargazers_url", "/stargazers"), ("contributors_url", "/contributors"),
    ("subscribers_url", "/subscribers"), ("subscription_url", "/subscription"),
    ("commits_url", "/commits{/sha}"), ("git_commits_url", "/git/commits{/sha}"),
    ("comments_url", "/comments{/number}"), ("issue_comment_url", "/issues/comments{/number}"),
    ("contents_url", "/contents/{+path}"), ("compare_url", "/compare/{base}...{head}"),
    ("merges_url", "/merges"), ("archive_url", "/{archive_format}{/ref}"),
    ("downloads_url", "/downloads"), ("issues_url", "/issues{/number}"),
    ("pulls_url", "/pulls{/number}"), ("milestones_url", "/milestones{/number}"),
    ("notifications_url", "/notifications{?since,all,participating}"),
    ("labels_url", "/labels{/name}"), ("releases_url", "/releases{/id}"),
    ("deployments_url", "/deployments"),
)

Ref = tuple[str, int]  # (repository "owner/name", issue number)
Step = tuple[str, str | None, str | None]  # (event, subject, state_reason)
Dependencies = dict[Ref, tuple[Ref, ...]]


# -- small helpers ------------------------------------------------------------------------------
def _second(at: datetime) -> datetime:
    """GitHub keeps whole seconds; filtering and rendering must agree on that."""
    return at.replace(microsecond=0)


def _ts(at: datetime | None) -> str | None:
    return None if at is None else at.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _node_id(kind: str, uid: int) -> str:
    """GitHub's legacy global node id, e.g. MDU6SXNzdWUx = base64("05:Issue1")."""
    return b64encode(f"0{len(kind)}:{kind}{uid}".encode()).decode()


def _due_on(due: date | None) -> datetime | None:
    return None if due is None else datetime.combine(due, clock(0), DUE_ZONE).astimezone(timezone.utc)


def _event_id(source: int, slot: int) -> int:
    return EVENT_ID_BASE + 16 * source + slot


def _stable_id(base: int, text: str) -> int:
    """A deterministic id for things the scenario does not number (labels, organisations)."""
    return base + zlib.crc32(text.encode())


# -- the scenario as GitHub stores it ---------------------------------------------------------------
@dataclass(frozen=True)
class _Issue:
    """One issue or pull request as GitHub holds it at the scenario clock."""

    repo: str
    number: int
    uid: int
    title: str
    body: str | None
    author: str  # Person.key
    assignee: str | None
    labels: tuple[str, ...]
    open: bool
    state_reason: str | None
    milestone: int | None
    created_at: datetime
    updated_at: datetime
    closed_at: datetime | None
    closed_by: str | None
    parent: int | None
    merged_at: datetime | None = None
    is_pull: bool = False

    @property
    def ref(self) -> Ref:
        return (self.repo, self.number)


@dataclass(frozen=True)
class _Event:
    """One issue event; ``subject`` is the label name, milestone title or assignee it is about."""

    id: int
    number: int
    at: datetime
    actor: str  # Person.key
    event: str
    subject: str | None = None
    state_reason: str | None = None
    commit_id: str | None = None


@dataclass(frozen=True)
class _Milestone:
    """A release as a GitHub milestone at the scenario clock, with its issue counts."""

    release: Release
    open_issues: int
    closed_issues: int
    closed_at: datetime | None
    updated_at: datetime

    @property
    def state(self) -> str:
        return "open" if self.closed_at is None else "closed"

    @property
    def completeness(self) -> float:
        total = self.open_issues + self.closed_issues
        return self.closed_issues / total if total else 0.0


def _close_reason(item: Item) -> str:
    return "not_planned" if item.resolution == "Won't Do" else "completed"


def _issue_of(item: Item) -> _Issue:
    closed = item.state == DONE
    status = STATUS_LABEL.get(item.state)
    closes = [c for c in item.changes if c.field == "status" and c.new == DONE]
    reopened = any(c.field == "status" and c.old == DONE for c in item.changes)
    return _Issue(
        repo=item.project, number=item.number, uid=item.uid, title=item.title,
        body=item.body or None, author=item.reporter, assignee=item.assignee,
        labels=tuple(sorted({*item.labels, *([status] if status else [])})), open=not closed,
        state_reason=_close_reason(item) if closed else ("reopened" if reopened else None),
        milestone=item.release, created_at=_second(item.created_at),
        updated_at=_second(item.updated_at),
        closed_at=_second(item.resolved_at) if closed and item.resolved_at else None,
        closed_by=closes[-1].author if closed and closes else None, parent=item.parent,
    )


def _change_steps(change: Change, item: Item, titles: dict[int, str]) -> list[Step]:
    """The events GitHub records for one scenario change."""
    old, new = change.old, change.new
    steps: list[Step] = []
    if change.field == "status":
        if old == DONE:
            steps.append(("reopened", None, "reopened"))
        if old in STATUS_LABEL:
            steps.append(("unlabeled", STATUS_LABEL[old], None))
        if new in STATUS_LABEL:
            steps.append(("labeled", STATUS_LABEL[new], None))
        if new == DONE:
            steps.append(("closed", None, _close_reason(item)))
    elif change.field == "assignee":
        if old is not None:
            steps.append(("unassigned", old, None))
        if new is not None:
            steps.append(("assigned", new, None))
    elif change.field == "release":
        if old is not None:
            steps.append(("demilestoned", titles[int(old)], None))
        if new is not None:
            steps.append(("milestoned", titles[int(new)], None))
    return steps


def _item_events(item: Item, titles: dict[int, str]) -> list[_Event]:
    """An issue's history: what it was created with, then one or more events per change."""
    created = _second(item.created_at)
    events = [_Event(_event_id(item.uid, CREATION_SLOT + 1 + k), item.number, created, item.reporter,
                     "labeled", label) for k, label in enumerate(item.labels)]
    if item.assignee and not any(c.field == "assignee" for c in item.changes):
        events.append(_Event(_event_id(item.uid, CREATION_SLOT), item.number, created, item.reporter,
                             "assigned", item.assignee))
    for change in item.changes:
        for slot, (kind, subject, reason) in enumerate(_change_steps(change, item, titles)):
            events.append(_Event(_event_id(change.id, slot), item.number, _second(change.at),
                                 change.author, kind, subject, reason))
    return events


def _pull_request(project: Project, item: Item, number: int) -> tuple[_Issue, list[_Event]]:
    """A merged pull request that closed ``item`` ("Closes #n"), opened halfway through its work."""
    close = [c for c in item.changes if c.field == "status" and c.new == DONE][-1]
    started = next((c.at for c in item.changes if c.field == "status" and c.new == IN_PROGRESS),
                   item.created_at)
    merged = _second(close.at)
    opened = _second(started + (close.at - started) / 2)
    author = item.assignee or item.reporter
    sha = hashlib.sha1(f"{project.key}#{number}".encode()).hexdigest()
    pull = _Issue(
        repo=project.key, number=number, uid=PULL_ID_BASE + project.uid * 10_000 + number,
        title=f"Resolve #{item.number}: {item.title}", body=f"Closes #{item.number}", author=author,
        assignee=None, labels=(), open=False, state_reason=None, milestone=None, created_at=opened,
        updated_at=merged, closed_at=merged, closed_by=author, parent=None, merged_at=merged,
        is_pull=True,
    )
    events = [_Event(_event_id(close.id, PULL_SLOTS[0]), number, merged, author, "merged", commit_id=sha),
              _Event(_event_id(close.id, PULL_SLOTS[1]), number, merged, author, "closed")]
    return pull, events


class _Repo:
    """One repository's issues, pull requests, milestones and events, derived once."""

    def __init__(self, scenario: Scenario, project: Project) -> None:
        self.project = project
        self.key = project.key
        self.owner = project.key.split("/", 1)[0]
        items = scenario.items_by_project.get(project.key, ())
        releases = scenario.releases_by_project.get(project.key, ())
        titles = {r.id: r.name for r in releases}

        self.issues: dict[int, _Issue] = {i.number: _issue_of(i) for i in items}
        events = [e for i in items for e in _item_events(i, titles)]
        finished = [i for i in items if i.state == DONE and i.resolution == "Done" and i.kind != "epic"
                    and i.uid % DONE_ITEMS_PER_PULL == 0]
        for item in finished:
            pull, pull_events = _pull_request(project, item, PULL_NUMBER_BASE + item.number)
            self.issues[pull.number] = pull
            events.extend(pull_events)

        self.events = tuple(sorted(events, key=lambda e: (e.at, e.id), reverse=True))  # newest first
        self.event_by_id = {e.id: e for e in events}
        by_issue: dict[int, list[_Event]] = defaultdict(list)
        for event in reversed(self.events):
            by_issue[event.number].append(event)
        self.events_by_issue = {n: tuple(v) for n, v in by_issue.items()}
        children: dict[int, list[int]] = defaultdict(list)
        for issue in sorted(self.issues.values(), key=lambda i: i.number):
            if issue.parent is not None:
                children[issue.parent].append(issue.number)
        self.children = {n: tuple(v) for n, v in children.items()}

        # Ascending orders; "comments" sorts like "created" since no issue has comments.
        created = tuple(sorted(self.issues.values(), key=lambda i: (i.created_at, i.number)))
        self.orders = {"created": created, "comments": created,
                       "updated": tuple(sorted(self.issues.values(), key=lambda i: (i.updated_at, i.number)))}
        self.milestones = {r.id: self._milestone(r, items, scenario.now) for r in releases}
        self.created_at = _second(min([i.created_at for i in items] + [r.created_at for r in releases],
                                      default=scenario.now) - timedelta(days=30))
        self.updated_at = max((i.updated_at for i in self.issues.values()), default=self.created_at)
        self.pushed_at = max((i.merged_at for i in self.issues.values() if i.merged_at),
                             default=self.created_at)

    @staticmethod
    def _milestone(release: Release, items: Sequence[Item], now: datetime) -> _Milestone:
        """Counts from the items; updated whenever one of its issues moved or changed state."""
        members = [i for i in items if i.release == release.id]
        closed_at = (_second(release.released_at)
                     if release.released_at is not None and release.released_at <= now else None)
        touched = [c.at for i in members for c in i.changes if c.field in ("release", "status")]
        moved = [release.due_moved_at] if release.due_moved_at is not None else []  # editing due_on updates it
        updated = max([release.created_at, *touched, *moved, *([closed_at] if closed_at else [])])
        closed = sum(i.state == DONE for i in members)
        return _Milestone(release, len(members) - closed, closed, closed_at, _second(updated))

    def ordered(self, sort: str, direction: str) -> Sequence[_Issue]:
        rows = self.orders[sort]
        return rows if direction == "asc" else rows[::-1]


def _dependencies(scenario: Scenario, repos: dict[str, _Repo]) -> tuple[Dependencies, Dependencies]:
    """Blocked-by and blocking refs between GitHub issues, in the order the links were made."""
    blocked_by: dict[Ref, list[Ref]] = defaultdict(list)
    blocking: dict[Ref, list[Ref]] = defaultdict(list)
    for link in sorted(scenario.links, key=lambda l: (l.created_at, l.id)):
        if link.blocker[0] in repos and link.blocked[0] in repos:
            blocked_by[link.blocked].append(link.blocker)
            blocking[link.blocker].append(link.blocked)
    return ({k: tuple(v) for k, v in blocked_by.items()}, {k: tuple(v) for k, v in blocking.items()})


# -- rendering ----------------------------------------------------------------------------------
class _Renderer:
    """GitHub's JSON objects for one API root (the request's host); caches what it renders."""

    def __init__(self, api: GithubApi, root: str) -> None:
        self.api = api
        self.root = root
        self._users: dict[str, dict] = {}
        self._milestones: dict[tuple[str, int], dict] = {}
        self._issues: dict[Ref, dict] = {}

    def account(self, login: str, uid: int, kind: str) -> dict:
        url = f"{self.root}/users/{login}"
        return {
            "login": login, "id": uid, "node_id": _node_id(kind, uid),
            "avatar_url": f"https://avatars.githubusercontent.com/u/{uid}?v=4", "gravatar_id": "",
            "url": url, "html_url": f"{HTML_ROOT}/{login}", "followers_url": f"{url}/followers",
            "following_url": f"{url}/following{{/other_user}}", "gists_url": f"{url}/gists{{/gist_id}}",
            "starred_url": f"{url}/starred{{/owner}}{{/repo}}",
            "subscriptions_url": f"{url}/subscriptions", "organizations_url": f"{url}/orgs",
            "repos_url": f"{url}/repos", "events_url": f"{url}/events{{/privacy}}",
            "received_events_url": f"{url}/received_events", "type": kind,
            "user_view_type": "public", "site_admin": False,
        }

    def user(self, key: str | None) -> dict | None:
        if key is None:
            return None
        if key not in self._users:
            person = self.api.scenario.person[key]
            self._users[key] = self.account(person.login, person.uid, "User")
        return self._users[key]

    def organization(self, login: str) -> dict:
        return self.account(login, self.api.org_id(login), "Organization")

    def public_user(self, key: str) -> dict:
        person = self.api.scenario.person[key]
        joined = _ts(_second(self.api.scenario.now - timedelta(days=1500 + person.uid % 400)))
        return {**self.user(key), "name": person.name, "company": "@" + self.api.owners[0],
                "blog": "", "location": None, "email": person.email, "hireable": None, "bio": None,
                "twitter_username": None, "public_repos": 0, "public_gists": 0, "followers": 0,
                "following": 0, "created_at": joined, "updated_at": joined}

    def organization_summary(self, login: str) -> dict:
        url = f"{self.root}/orgs/{login}"
        uid = self.api.org_id(login)
        return {"login": login, "id": uid, "node_id": _node_id("Organization", uid), "url": url,
                "repos_url": f"{url}/repos", "events_url": f"{url}/events", "hooks_url": f"{url}/hooks",
                "issues_url": f"{url}/issues", "members_url": f"{url}/members{{/member}}",
                "public_members_url": f"{url}/public_members{{/member}}",
                "avatar_url": f"https://avatars.githubusercontent.com/u/{uid}?v=4", "description": None}

    def label(self, repo: _Repo, name: str) -> dict:
        color, default, description = LABEL_STYLE.get(name, OTHER_LABEL_STYLE)
        uid = _stable_id(1_000_000_000, f"{repo.key}:{name}")
        return {"id": uid, "node_id": _node_id("Label", uid),
                "url": f"{self.root}/repos/{repo.key}/labels/{quote(name)}",
                "name": name, "color": color, "default": default, "description": description}

    def milestone(self, repo: _Repo, number: int) -> dict:
        if (repo.key, number) not in self._milestones:
            self._milestones[(repo.key, number)] = self._render_milestone(repo, repo.milestones[number])
        return self._milestones[(repo.key, number)]

    def _render_milestone(self, repo: _Repo, m: _Milestone) -> dict:
        r = m.release
        url = f"{self.root}/repos/{repo.key}/milestones/{r.id}"
        return {
            "url": url, "html_url": f"{HTML_ROOT}/{repo.key}/milestone/{r.id}",
            "labels_url": f"{url}/labels", "id": r.uid, "node_id": _node_id("Milestone", r.uid),
            "number": r.id, "title": r.name, "description": r.description or None,
            "creator": self.user(repo.project.lead), "open_issues": m.open_issues,
            "closed_issues": m.closed_issues, "state": m.state, "created_at": _ts(_second(r.created_at)),
            "updated_at": _ts(m.updated_at), "due_on": _ts(_due_on(r.due)), "closed_at": _ts(m.closed_at),
        }

    def issue(self, ref: Ref) -> dict:
        if ref not in self._issues:
            self._issues[ref] = self._render_issue(self.api.repos[ref[0]], ref[1])
        return self._issues[ref]

    def _render_issue(self, repo: _Repo, number: int) -> dict:
        i = repo.issues[number]
        url = f"{self.root}/repos/{repo.key}/issues/{number}"
        assignee = self.user(i.assignee)
        data: dict[str, Any] = {
            "url": url, "repository_url": f"{self.root}/repos/{repo.key}",
            "labels_url": f"{url}/labels{{/name}}", "comments_url": f"{url}/comments",
            "events_url": f"{url}/events",
            "html_url": f"{HTML_ROOT}/{repo.key}/{'pull' if i.is_pull else 'issues'}/{number}",
            "id": i.uid, "node_id": _node_id("PullRequest" if i.is_pull else "Issue", i.uid),
            "number": number, "title": i.title, "user": self.user(i.author),
            "labels": [self.label(repo, name) for name in i.labels],
            "state": "open" if i.open else "closed", "locked": False, "assignee": assignee,
            "assignees": [assignee] if assignee else [],
            "milestone": self.milestone(repo, i.milestone) if i.milestone is not None else None,
            "comments": 0, "created_at": _ts(i.created_at), "updated_at": _ts(i.updated_at),
            "closed_at": _ts(i.closed_at), "author_association": "MEMBER", "type": None,
            "active_lock_reason": None,
        }
        if i.is_pull:
            pull = f"{HTML_ROOT}/{repo.key}/pull/{number}"
            data["draft"] = False
            data["pull_request"] = {"url": f"{self.root}/repos/{repo.key}/pulls/{number}",
                                    "html_url": pull, "diff_url": f"{pull}.diff",
                                    "patch_url": f"{pull}.patch", "merged_at": _ts(i.merged_at)}
        data["sub_issues_summary"] = self._sub_issues_summary(repo, number)
        if i.parent is not None:
            data["parent_issue_url"] = f"{self.root}/repos/{repo.key}/issues/{i.parent}"
        data["issue_dependencies_summary"] = self._dependencies_summary(i.ref)
        data.update({
            "body": i.body, "closed_by": self.user(i.closed_by),
            "reactions": {"url": f"{url}/reactions", "total_count": 0, "+1": 0, "-1": 0, "laugh": 0,
                          "hooray": 0, "confused": 0, "heart": 0, "rocket": 0, "eyes": 0},
            "timeline_url": f"{url}/timeline", "performed_via_github_app": None,
            "state_reason": i.state_reason, "pinned_comment": None,
        })
        return data

    def _sub_issues_summary(self, repo: _Repo, number: int) -> dict:
        children = repo.children.get(number, ())
        completed = sum(not repo.issues[n].open for n in children)
        return {"total": len(children), "completed": completed,
                "percent_completed": completed * 100 // len(children) if children else 0}

    def _dependencies_summary(self, ref: Ref) -> dict:
        """``blocked_by``/``blocking`` count open issues only; the ``total_`` counts all."""
        blockers = self.api.blocked_by.get(ref, ())
        blocked = self.api.blocking.get(ref, ())
        return {"blocked_by": sum(self.api.issue(r).open for r in blockers),
                "total_blocked_by": len(blockers),
                "blocking": sum(self.api.issue(r).open for r in blocked),
                "total_blocking": len(blocked)}

    def event(self, repo: _Repo, e: _Event, *, embed_issue: bool = False, timeline: bool = False) -> dict:
        """An issue event; the timeline's assigned/unassigned items carry no ``assigner``."""
        data: dict[str, Any] = {
            "id": e.id, "node_id": _node_id(e.event.capitalize() + "Event", e.id),
            "url": f"{self.root}/repos/{repo.key}/issues/events/{e.id}", "actor": self.user(e.actor),
            "event": e.event, "commit_id": e.commit_id,
            "commit_url": f"{self.root}/repos/{repo.key}/commits/{e.commit_id}" if e.commit_id else None,
            "created_at": _ts(e.at),
        }
        if e.event in ("labeled", "unlabeled"):
            data["label"] = {"name": e.subject, "color": LABEL_STYLE.get(e.subject, OTHER_LABEL_STYLE)[0]}
        elif e.event in ("milestoned", "demilestoned"):
            data["milestone"] = {"title": e.subject}
        elif e.event in ("assigned", "unassigned"):
            data["assignee"] = self.user(e.subject)
            if not timeline:
                data["assigner"] = self.user(e.actor)
        elif e.event in ("closed", "reopened"):
            data["state_reason"] = e.state_reason
        if embed_issue:
            data["issue"] = self.issue((repo.key, e.number))
        data["performed_via_github_app"] = None
        return data

    def repository(self, repo: _Repo) -> dict:
        p = repo.project
        name = p.key.split("/", 1)[1]
        url = f"{self.root}/repos/{p.key}"
        owner = self.organization(repo.owner)
        open_count = sum(i.open for i in repo.issues.values())
        return {
            "id": p.uid, "node_id": _node_id("Repository", p.uid), "name": name, "full_name": p.key,
            "private": True, "owner": owner, "html_url": f"{HTML_ROOT}/{p.key}", "description": p.name,
            "fork": False, "url": url, **{field: url + suffix for field, suffix in REPO_LINKS},
            "created_at": _ts(repo.created_at), "updated_at": _ts(repo.updated_at),
            "pushed_at": _ts(repo.pushed_at), "git_url": f"git://github.com/{p.key}.git",
            "ssh_url": f"git@github.com:{p.key}.git", "clone_url": f"{HTML_ROOT}/{p.key}.git",
            "svn_url": f"{HTML_ROOT}/{p.key}", "homepage": None, "size": 0, "stargazers_count": 0,
            "watchers_count": 0, "language": None, "has_issues": True, "has_projects": True,
            "has_downloads": True, "has_wiki": False, "has_pages": False, "has_discussions": False,
            "forks_count": 0, "mirror_url": None, "archived": False, "disabled": False,
            "open_issues_count": open_count, "license": None, "allow_forking": False,
            "is_template": False, "web_commit_signoff_required": False, "topics": [],
            "visibility": "private", "forks": 0, "open_issues": open_count, "watchers": 0,
            "default_branch": "main",
            "permissions": {"admin": False, "maintain": False, "push": True, "triage": True, "pull": True},
            "custom_properties": {}, "organization": owner, "network_count": 0, "subscribers_count": 0,
        }


# -- replies, paging, rate limit ----------------------------------------------------------------
@dataclass(frozen=True)
class _Reply:
    """A rendered body with its validators and the headers that go with them: a pure function of
    the request URL, so it is cached whole."""

    status: int
    body: bytes
    etag: str
    last_modified: datetime | None
    headers: tuple[tuple[str, str], ...]

    @classmethod
    def of(cls, data: object, status: int = 200, *, last_modified: datetime | None = None,
           link: str | None = None) -> _Reply:
        body = json_bytes(data)
        etag = hashlib.sha256(body).hexdigest()
        headers: list[tuple[str, str]] = []
        if status == 200:
            headers += [*CACHE_HEADERS.items(), ("ETag", f'W/"{etag}"')]
            if last_modified is not None:
                headers.append(("Last-Modified", http_date(last_modified)))
            if link:
                headers.append(("Link", link))
        return cls(status, body, etag, last_modified, tuple(headers))

    def unchanged_for(self, request: Request) -> bool:
        """The client's validators still hold: GitHub answers 304, which costs no rate limit."""
        if request.if_none_match:
            return request.if_none_match.contains_weak(self.etag)
        since = request.if_modified_since
        return self.last_modified is not None and since is not None and self.last_modified <= since


class _Failure(Exception):
    """A GitHub error answer, raised from inside a renderer."""

    def __init__(self, status: int, message: str, errors: list[dict] | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.errors = status, message, errors

    def reply(self, documentation_url: str) -> _Reply:
        body: dict[str, Any] = {"message": self.message}
        if self.errors:
            body["errors"] = self.errors
        body.update({"documentation_url": documentation_url, "status": str(self.status)})
        return _Reply.of(body, self.status)


def _invalid(resource: str, field: str, value: str) -> _Failure:
    return _Failure(422, "Validation Failed",
                    [{"value": value, "resource": resource, "field": field, "code": "invalid"}])


def _choice(args: MultiDict, name: str, allowed: tuple[str, ...], resource: str) -> str:
    """An enum parameter; the first allowed value is GitHub's default."""
    value = args.get(name, allowed[0])
    if value not in allowed:
        raise _invalid(resource, name, value)
    return value


def _positive(text: str | None, default: int) -> int:
    try:
        value = int(text) if text is not None else default
    except ValueError:
        return default
    return value if value > 0 else default


def _page_url(request: Request, page: int) -> str:
    """Another page of the list asked for: a repository's by its id, as GitHub's Link headers name
    it (/repositories/3710711/issues/events?page=2 for /repos/{owner}/{repo}/issues/events)."""
    params = [(k, v) for k, v in request.args.items(multi=True) if k != "page"]
    base = request.base_url
    if (uid := request.environ.get(REPOSITORY_ID)) is not None:
        base = _BY_NAME.sub(f"/repositories/{uid}", base, count=1)
    return f"{base}?{urlencode(params + [('page', str(page))])}"


def _link_header(request: Request, page: int, pages: int) -> str | None:
    """RFC 5988 links in GitHub's order: prev, next, last, first; none for a single page."""
    rels = []
    if page > 1:
        rels.append(("prev", page - 1))
    if page < pages:
        rels += [("next", page + 1), ("last", pages)]
    if page > 1:
        rels.append(("first", 1))
    return ", ".join(f'<{_page_url(request, n)}>; rel="{rel}"' for rel, n in rels) or None


def _page(request: Request, rows: Sequence[Any], render: Callable[[Any], object]) -> _Reply:
    """One page of a list: ``per_page`` defaults to 30 and is clamped to 100, as on GitHub."""
    per_page = min(_positive(request.args.get("per_page"), PER_PAGE), MAX_PER_PAGE)
    page = _positive(request.args.get("page"), 1)
    chunk = rows[(page - 1) * per_page: page * per_page]
    return _Reply.of([render(row) for row in chunk],
                     link=_link_header(request, page, math.ceil(len(rows) / per_page)))


def _since(args: MultiDict) -> datetime | None:
    text = args.get("since")
    if text is None:
        return None
    try:
        at = datetime.fromisoformat(text)
    except ValueError:
        raise _invalid("Issue", "since", text) from None
    return at if at.tzinfo else at.replace(tzinfo=timezone.utc)


def _matches_milestone(wanted: str | None, number: int | None) -> bool:
    """``*`` any, ``none`` without, else a milestone number (a title matches nothing, as on GitHub)."""
    if wanted is None:
        return True
    if wanted == "*":
        return number is not None
    if wanted == "none":
        return number is None
    return wanted.isdigit() and number == int(wanted)


class _Quota(NamedTuple):
    limit: int
    used: int
    reset: int  # epoch seconds

    @property
    def remaining(self) -> int:
        return self.limit - self.used

    def headers(self) -> dict[str, str]:
        return {"X-RateLimit-Limit": str(self.limit), "X-RateLimit-Remaining": str(self.remaining),
                "X-RateLimit-Reset": str(self.reset), "X-RateLimit-Used": str(self.used),
                "X-RateLimit-Resource": "core"}


class _RateLimiter:
    """The primary rate limit: a budget per token that refills an hour after the window's first
    request. Wall-clock time, because clients sleep until ``X-RateLimit-Reset``."""

    def __init__(self, limit: int, window_seconds: int) -> None:
        self._limit, self._window = limit, window_seconds
        self._lock = threading.Lock()
        self._windows: dict[str, tuple[int, int]] = {}  # token -> (reset, used)

    def peek(self, token: str) -> _Quota:
        with self._lock:
            return self._current(token)

    def charge(self, token: str) -> tuple[_Quota, bool]:
        """Spend one request; False (and nothing spent) when the budget is exhausted."""
        with self._lock:
            quota = self._current(token)
            if quota.remaining <= 0:
                return quota, False
            quota = quota._replace(used=quota.used + 1)
            self._windows[token] = (quota.reset, quota.used)
            return quota, True

    def reset(self) -> None:
        """Every token's budget whole again (``/_sandbox/stats/reset``)."""
        with self._lock:
            self._windows.clear()

    def _current(self, token: str) -> _Quota:
        now = time.time()
        reset, used = self._windows.get(token, (0, 0))
        if now >= reset:
            reset, used = int(now) + self._window, 0
        return _Quota(self._limit, used, reset)


def _url_key(request: Request) -> str:
    """The request URL from the raw WSGI environ: cheaper than ``request.url`` on the hot path."""
    env = request.environ
    return (f"{env['wsgi.url_scheme']}://{env.get('HTTP_HOST', '')}{env.get('SCRIPT_NAME', '')}"
            f"{env.get('PATH_INFO', '')}?{env.get('QUERY_STRING', '')}")


def _credential(request: Request) -> str | None:
    """The token of ``Authorization: token X`` or ``Authorization: Bearer X``."""
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    return value.strip() if scheme.lower() in ("token", "bearer") else None


# -- the API ------------------------------------------------------------------------------------
class GithubApi:
    """GitHub REST for the scenario's GitHub repositories (a ``sandbox.server.TrackerApi``)."""

    site = GITHUB

    def __init__(self, scenario: Scenario, token: str) -> None:
        self.scenario = scenario
        self._token = token
        self.repos = {p.key: _Repo(scenario, p) for p in scenario.projects_on(GITHUB)}
        self.owners = sorted({r.owner for r in self.repos.values()})
        self.blocked_by, self.blocking = _dependencies(scenario, self.repos)
        self._repo_by_name = {key.lower(): repo for key, repo in self.repos.items()}
        self._repo_by_id = {repo.project.uid: repo for repo in self.repos.values()}
        self._people = {p.login.lower(): p for p in scenario.people}
        self._deleted = frozenset(i.ref for i in scenario.deleted)
        self._limiter = _RateLimiter(RATE_LIMIT, RATE_WINDOW_SECONDS)
        self._renderers: dict[str, _Renderer] = {}
        self._replies: dict[str, _Reply] = {}
        self._reply_bytes = 0
        self._replies_lock = threading.Lock()
        self._request_ids = itertools.count(1)

    # -- TrackerApi -------------------------------------------------------------------------------
    def reset_budget(self) -> None:
        """Every token's primary budget whole again: runs a benchmark measures one after another
        are nights apart in life (two full syncs of 100,000 items spend more than an hour's 5,000)."""
        self._limiter.reset()

    def canonical_path(self, path: str) -> str | None:
        """``/repositories/{id}/...`` (optionally under /api/v3) as the ``/repos/{owner}/{repo}/...``
        it stands for, so it is served, counted and faulted as that endpoint; None for any other
        path. GitHub names a repository by its id in the ``Link`` headers of its lists' pages."""
        match = _BY_ID.fullmatch(path)
        if match is None:
            return None
        repo = self._repo_by_id.get(int(match.group("id")))
        return None if repo is None else f"{match.group('enterprise') or ''}/repos/{repo.key}{match.group('rest')}"

    def routes(self) -> list[Route]:
        repo, issue = "/repos/<owner>/<repo>", "/repos/<owner>/<repo>/issues/<int:number>"
        table: list[tuple[str, Callable[..., _Reply], str]] = [
            (repo, self._repository, "repos/repos#get-a-repository"),
            (repo + "/issues", self._issues, "issues/issues#list-repository-issues"),
            (issue, self._issue, "issues/issues#get-an-issue"),
            (issue + "/events", self._issue_events, "issues/events#list-issue-events"),
            (issue + "/timeline", self._timeline, "issues/timeline#list-timeline-events-for-an-issue"),
            (issue + "/sub_issues", self._sub_issues, "issues/sub-issues#list-sub-issues"),
            (issue + "/dependencies/blocked_by", self._blocked_by,
             "issues/issue-dependencies#list-dependencies-an-issue-is-blocked-by"),
            (issue + "/dependencies/blocking", self._blocking,
             "issues/issue-dependencies#list-dependencies-an-issue-is-blocking"),
            (repo + "/issues/events", self._repo_events, "issues/events#list-issue-events-for-a-repository"),
            (repo + "/issues/events/<int:event_id>", self._event, "issues/events#get-an-issue-event"),
            (repo + "/milestones", self._milestones, "issues/milestones#list-milestones"),
            (repo + "/milestones/<int:number>", self._milestone, "issues/milestones#get-a-milestone"),
            ("/users/<login>", self._user, "users/users#get-a-user"),
            ("/users/<login>/orgs", self._user_orgs, "orgs/orgs#list-organizations-for-a-user"),
        ]
        routes = [Route(("GET",), "/rate_limit", self._rate_limit)] + [
            Route(("GET",), path, self._serve(render, f"{DOCS}/{doc}")) for path, render, doc in table]
        # GitHub Enterprise Server answers the same API under /api/v3: clients with no base-URL
        # setting but an enterprise one (Perceval's --enterprise-url) reach the sandbox that way.
        return routes + [Route(r.methods, ENTERPRISE_PREFIX + r.path, r.handler) for r in routes]

    def authenticate(self, request: Request) -> Response | None:
        if _credential(request) == self._token:
            return None
        return self._error(request, 401, "Bad credentials")

    def not_found(self, request: Request) -> Response:
        return self._error(request, 404, "Not Found")

    # -- shared by the renderers ------------------------------------------------------------------
    def issue(self, ref: Ref) -> _Issue:
        return self.repos[ref[0]].issues[ref[1]]

    def org_id(self, login: str) -> int:
        return _stable_id(10_000_000, login.lower())

    # -- serving ----------------------------------------------------------------------------------
    def _serve(self, render: Callable[..., _Reply], documentation_url: str) -> Callable[..., Response]:
        """Wrap a pure renderer with what every GitHub answer shares: the reply cache,
        conditional requests, the rate limit and GitHub's headers."""

        def handler(request: Request, **values: Any) -> Response:
            if (repo := self._repo_by_name.get(f"{values.get('owner')}/{values.get('repo')}".lower())) is not None:
                request.environ[REPOSITORY_ID] = repo.project.uid  # its pages' Link names it by id
            key = _url_key(request)
            reply = self._replies.get(key)
            if reply is None:
                try:
                    reply = render(request, self._renderer(request), **values)
                except _Failure as failure:
                    reply = failure.reply(documentation_url)
                self._remember(key, reply)
            token = _credential(request) or ""
            if reply.status == 200 and reply.unchanged_for(request):
                return self._respond(reply, self._limiter.peek(token), not_modified=True)
            quota, allowed = self._limiter.charge(token)
            if not allowed:
                reply = _Failure(403, f"API rate limit exceeded for user ID {self._viewer_id()}.").reply(
                    f"{DOCS}/overview/rate-limits-for-the-rest-api")
            return self._respond(reply, quota)

        return handler

    def _renderer(self, request: Request) -> _Renderer:
        root = request.root_url.rstrip("/") + SITE_PREFIX[GITHUB]
        if root not in self._renderers:
            self._renderers[root] = _Renderer(self, root)
        return self._renderers[root]

    def _remember(self, url: str, reply: _Reply) -> None:
        """Bounded: the cache starts over when full, which only URL fuzzing reaches."""
        with self._replies_lock:
            if self._reply_bytes + len(reply.body) > REPLY_CACHE_BYTES:
                self._replies.clear()
                self._reply_bytes = 0
            self._replies[url] = reply
            self._reply_bytes += len(reply.body)

    def _base_headers(self) -> dict[str, str]:
        return {**BASE_HEADERS, "X-GitHub-Request-Id": f"5A4D:{next(self._request_ids):08X}"}

    def _respond(self, reply: _Reply, quota: _Quota, *, not_modified: bool = False) -> Response:
        headers = [*self._base_headers().items(), *quota.headers().items(), *reply.headers]
        if not_modified:
            return Response(status=304, headers=headers)
        return Response(reply.body, status=reply.status, headers=headers, content_type=JSON_TYPE)

    def _error(self, request: Request, status: int, message: str) -> Response:
        """401s cost nothing; other errors outside a route still spend a valid token's budget."""
        reply = _Failure(status, message).reply(DOCS)
        token = _credential(request)
        if status == 401 or token != self._token:
            return Response(reply.body, status=status, headers=self._base_headers(), content_type=JSON_TYPE)
        return self._respond(reply, self._limiter.charge(token)[0])

    def _viewer_id(self) -> int:
        """The token's owner: the lead of the first GitHub repository."""
        repos = list(self.repos.values())
        return self.scenario.person[repos[0].project.lead].uid if repos else 0

    # -- lookups ----------------------------------------------------------------------------------
    def _find_repo(self, owner: str, repo: str) -> _Repo:
        """Owner and repository names are case-insensitive on GitHub."""
        found = self._repo_by_name.get(f"{owner}/{repo}".lower())
        if found is None:
            raise _Failure(404, "Not Found")
        return found

    def _find_issue(self, owner: str, repo: str, number: int) -> tuple[_Repo, _Issue]:
        found = self._find_repo(owner, repo)
        if (found.key, number) in self._deleted:
            raise _Failure(410, "This issue was deleted")
        if number not in found.issues:
            raise _Failure(404, "Not Found")
        return found, found.issues[number]

    def _person_key(self, login: str) -> str:
        person = self._people.get(login.lower())
        if person is None:
            raise _Failure(404, "Not Found")
        return person.key

    def _matches_person(self, wanted: str | None, key: str | None) -> bool:
        """``none`` unassigned, ``*`` anyone, else a login (an unknown login matches nothing)."""
        if wanted is None:
            return True
        if wanted == "none":
            return key is None
        if wanted == "*":
            return key is not None
        person = self._people.get(wanted.lower())
        return person is not None and key == person.key

    # -- endpoints: each renders a _Reply from the request alone ----------------------------------
    def _rate_limit(self, request: Request) -> Response:
        """Reports the budget without spending it, and is never cached, as on GitHub."""
        quota = self._limiter.peek(_credential(request) or "")
        now = int(time.time())
        core = {"limit": quota.limit, "used": quota.used, "remaining": quota.remaining, "reset": quota.reset}
        resources = {"core": core} | {
            name: {"limit": limit, "used": 0, "remaining": limit, "reset": now + window}
            for name, (limit, window) in OTHER_RESOURCES.items()}
        body = json.dumps({"resources": resources, "rate": core}, separators=(",", ":"))
        headers = {**self._base_headers(), **quota.headers(), "Cache-Control": "no-cache"}
        return Response(body, headers=headers, content_type=JSON_TYPE)

    def _repository(self, request: Request, view: _Renderer, owner: str, repo: str) -> _Reply:
        found = self._find_repo(owner, repo)
        return _Reply.of(view.repository(found), last_modified=found.updated_at)

    def _issues(self, request: Request, view: _Renderer, owner: str, repo: str) -> _Reply:
        """Issues and pull requests, filtered and sorted like ``GET /repos/{o}/{r}/issues``."""
        found = self._find_repo(owner, repo)
        args = request.args
        state = _choice(args, "state", ("open", "closed", "all"), "Issue")
        sort = _choice(args, "sort", ("created", "updated", "comments"), "Issue")
        direction = _choice(args, "direction", ("desc", "asc"), "Issue")
        since = _since(args)
        labels = {name.strip() for name in args.get("labels", "").split(",") if name.strip()}

        def wanted(i: _Issue) -> bool:
            return ((state == "all" or (state == "open") == i.open)
                    and (since is None or i.updated_at >= since)
                    and labels.issubset(i.labels)
                    and _matches_milestone(args.get("milestone"), i.milestone)
                    and self._matches_person(args.get("assignee"), i.assignee)
                    and self._matches_person(args.get("creator"), i.author))

        rows = [i for i in found.ordered(sort, direction) if wanted(i)]
        return _page(request, rows, lambda i: view.issue(i.ref))

    def _issue(self, request: Request, view: _Renderer, owner: str, repo: str, number: int) -> _Reply:
        _, issue = self._find_issue(owner, repo, number)
        return _Reply.of(view.issue(issue.ref), last_modified=issue.updated_at)

    def _issue_events(self, request: Request, view: _Renderer, owner: str, repo: str, number: int) -> _Reply:
        """One issue's events, oldest first, without the embedded issue."""
        found, _ = self._find_issue(owner, repo, number)
        return _page(request, found.events_by_issue.get(number, ()), lambda e: view.event(found, e))

    def _timeline(self, request: Request, view: _Renderer, owner: str, repo: str, number: int) -> _Reply:
        found, _ = self._find_issue(owner, repo, number)
        return _page(request, found.events_by_issue.get(number, ()),
                     lambda e: view.event(found, e, timeline=True))

    def _sub_issues(self, request: Request, view: _Renderer, owner: str, repo: str, number: int) -> _Reply:
        found, _ = self._find_issue(owner, repo, number)
        return _page(request, found.children.get(number, ()), lambda n: view.issue((found.key, n)))

    def _blocked_by(self, request: Request, view: _Renderer, owner: str, repo: str, number: int) -> _Reply:
        """Blockers may live in another repository of the scenario."""
        _, issue = self._find_issue(owner, repo, number)
        return _page(request, self.blocked_by.get(issue.ref, ()), view.issue)

    def _blocking(self, request: Request, view: _Renderer, owner: str, repo: str, number: int) -> _Reply:
        _, issue = self._find_issue(owner, repo, number)
        return _page(request, self.blocking.get(issue.ref, ()), view.issue)

    def _repo_events(self, request: Request, view: _Renderer, owner: str, repo: str) -> _Reply:
        """Every issue event of the repository, newest first, each with its issue embedded."""
        found = self._find_repo(owner, repo)
        return _page(request, found.events, lambda e: view.event(found, e, embed_issue=True))

    def _event(self, request: Request, view: _Renderer, owner: str, repo: str, event_id: int) -> _Reply:
        found = self._find_repo(owner, repo)
        event = found.event_by_id.get(event_id)
        if event is None:
            raise _Failure(404, "Not Found")
        return _Reply.of(view.event(found, event, embed_issue=True), last_modified=event.at)

    def _milestones(self, request: Request, view: _Renderer, owner: str, repo: str) -> _Reply:
        """Sorted by due date (undated last) or completeness, ascending unless asked otherwise."""
        found = self._find_repo(owner, repo)
        state = _choice(request.args, "state", ("open", "closed", "all"), "Milestone")
        sort = _choice(request.args, "sort", ("due_on", "completeness"), "Milestone")
        direction = _choice(request.args, "direction", ("asc", "desc"), "Milestone")
        rows = [m for m in found.milestones.values() if state in ("all", m.state)]
        if sort == "due_on":
            rows.sort(key=lambda m: (m.release.due is None, m.release.due or date.min, m.release.id))
        else:
            rows.sort(key=lambda m: (m.completeness, m.release.id))
        if direction == "desc":
            rows.reverse()
        return _page(request, rows, lambda m: view.milestone(found, m.release.id))

    def _milestone(self, request: Request, view: _Renderer, owner: str, repo: str, number: int) -> _Reply:
        found = self._find_repo(owner, repo)
        if number not in found.milestones:
            raise _Failure(404, "Not Found")
        return _Reply.of(view.milestone(found, number), last_modified=found.milestones[number].updated_at)

    def _user(self, request: Request, view: _Renderer, login: str) -> _Reply:
        """Perceval fetches every author it meets."""
        owner = next((o for o in self.owners if o.lower() == login.lower()), None)
        if owner is not None:
            # GitHub answers an organisation here in the public-user shape, type "Organization"
            owned = [r for r in self.repos.values() if r.owner == owner]
            return _Reply.of({**view.organization(owner), "name": owner, "company": None, "blog": "",
                              "location": None, "email": None, "hireable": None, "bio": None,
                              "twitter_username": None, "public_repos": 0, "public_gists": 0,
                              "followers": 0, "following": 0,
                              "created_at": _ts(min(r.created_at for r in owned)),
                              "updated_at": _ts(max(r.updated_at for r in owned))})
        return _Reply.of(view.public_user(self._person_key(login)))

    def _user_orgs(self, request: Request, view: _Renderer, login: str) -> _Reply:
        """Everyone in the scenario is a public member of every repository owner."""
        self._person_key(login)
        return _page(request, self.owners, view.organization_summary)
