"""Jira: issues with changelogs, versions and site metadata, through the ``jira`` library.

One code path for Jira Cloud and Jira Server/Data Center: the library picks its search endpoint
from ``serverInfo.deploymentType`` (Cloud: ``/rest/api/3/search/jql`` paged by ``nextPageToken``;
Server/DC: ``/rest/api/2/search`` paged by ``startAt``). Pages are yielded as they arrive so the
caller can commit them and memory stays bounded whatever the project's size.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from jira import JIRA, JIRAError
from urllib3.util.retry import Retry

from connectors.http import CheckedJsonAdapter
from connectors.pacing import PROJECTS_AT_ONCE, LaneFreeSleep, Lanes, Limits, Pacer

log = logging.getLogger(__name__)

# Fields a program view needs; custom ones (story points, sprint, epic link) are added per site
# after they are found by name through /field. Not `creator`: nothing reads it (the reporter is
# who filed the issue), and it was 5% of an issue's bytes.
BASE_FIELDS = (
    "summary", "issuetype", "status", "priority", "resolution", "resolutiondate", "created",
    "updated", "duedate", "assignee", "reporter", "labels", "components", "fixVersions",
    "issuelinks", "parent", "project", "description",
)
# What of the objects inside an issue's fields and histories is there for a reader of the API, not
# data: links back into the API and image URLs (every user, project, status, type and priority
# carries them). No transform reads them, and they were half of what an issue weighs as landed
# (12.5 KB at the bench's portfolio, 5.8 KB without them), which every sync writes and every
# rebuild parses. The issue keeps its own ``self``; a description is tracker text, kept as sent.
DECORATION = ("self", "avatarUrls", "iconUrl")
# Key-only listings may ask for far larger pages than full ones (Cloud: 5,000 for id/key alone).
ID_PAGE_SIZE = {"cloud": 5000, "server": 1000}
# Cloud's POST /changelog/bulkfetch: at most 1,000 issues per request; pages count histories
# across those issues (Jira's default 1,000, its maximum 10,000).
BULK_CHANGELOG_ISSUES = 1000
BULK_CHANGELOG_PAGE_SIZE = 1000
# Jira Software's agile API: boards and sprints come 50 a page at most (startAt/maxResults/isLast).
AGILE_PAGE_SIZE = 50
# Only these boards hold sprints; a kanban board answers 400 to board/{id}/sprint. A team-managed
# ("simple") board has them when its project turned sprints on, and answers 400 otherwise.
SPRINT_BOARD_TYPES = ("scrum", "simple")
# The sprints that may still be delivered: a closed sprint keeps its items, which name it.
OPEN_SPRINT_STATES = "active,future"
# Custom fields found through /field by their schema's custom type, else by their name (ids differ
# per site; a renamed field keeps its type, a field some app recreated keeps its name).
FIELD_ROLES = {
    "sprint": (("com.pyxis.greenhopper.jira:gh-sprint",), ("Sprint",)),
    "epic_link": (("com.pyxis.greenhopper.jira:gh-epic-link",), ("Epic Link",)),
    # Jira Software's impediment flag: a plain multi-checkbox field, so only its name tells it apart
    "flagged": ((), ("Flagged",)),
}


def lean_issue(issue: dict[str, Any]) -> dict[str, Any]:
    """``issue`` (a search result's, in place) without the ``DECORATION`` of its fields' objects
    and of its embedded histories."""
    fields = issue.get("fields")
    if isinstance(fields, dict):
        for name, value in fields.items():
            if name != "description" and isinstance(value, (dict, list)):
                _drop_decoration(value)
    changelog = issue.get("changelog")
    if isinstance(changelog, dict) and isinstance(changelog.get("histories"), list):
        _drop_decoration(changelog["histories"])
    return issue


def lean_histories(histories: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Changelog histories (paged or bulk-fetched, in place) without their authors' ``DECORATION``."""
    _drop_decoration(histories)
    return histories


def _drop_decoration(value: dict[str, Any] | list[Any]) -> None:
    if isinstance(value, dict):
        for key in DECORATION:
            value.pop(key, None)
        children = value.values()
    else:
        children = value
    for child in children:
        if isinstance(child, (dict, list)):
            _drop_decoration(child)


class ServerErrorRetry(LaneFreeSleep, Retry):
    """Retries the 5xx answers the ``jira`` library's own ``ResilientSession`` gives up on at once
    (it retries 429, a 503 with ``Retry-After`` and dropped connections: those stay its job), with
    exponential backoff, and logs each wait."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("total", 3)
        kwargs.setdefault("connect", 0)  # ResilientSession retries connection errors
        kwargs.setdefault("read", 0)
        kwargs.setdefault("status_forcelist", (500, 502, 503, 504))
        kwargs.setdefault("allowed_methods", None)  # search/jql and bulkfetch are POSTed reads
        kwargs.setdefault("backoff_factor", 0.5)
        kwargs.setdefault("respect_retry_after_header", False)
        kwargs.setdefault("raise_on_status", False)  # the last answer goes back to jira, which raises
        super().__init__(**kwargs)

    def is_retry(self, method: str, status_code: int, has_retry_after: bool = False) -> bool:
        if status_code == 503 and has_retry_after:
            return False
        return super().is_retry(method, status_code, has_retry_after)

    def sleep(self, response: Any = None) -> None:
        log.warning("Jira answered %s; retrying in %.1fs", getattr(response, "status", "?"), self.get_backoff_time())
        super().sleep(response)


@dataclass(frozen=True)
class JiraSite:
    """Where and how to reach one Jira site. ``token`` never appears in repr or logs."""

    name: str
    url: str
    token: str = field(repr=False)
    user: str | None = None  # basic auth (Cloud: e-mail); None means a bearer personal access token
    deployment: str = "auto"  # "auto" | "cloud" | "server"
    story_points_fields: tuple[str, ...] = ("Story point estimate", "Story Points")
    page_size: int = 100
    concurrency: int = PROJECTS_AT_ONCE  # projects read at once, each by its own thread
    # Jira publishes no numbers: Retry-After on a 429 holds every thread back (``limits`` caps the
    # requests in flight and, where an admin set one, a budget per window)
    limits: Limits = field(default_factory=Limits.jira)
    # seconds; 5xx the jira library leaves alone wait 0, 2x, 4x this; corrupt 200 bodies 1x, 2x, 4x
    retry_backoff: float = 0.5
    remote_links: bool = False  # per issue (no bulk API): only when the site's config asks


@dataclass(frozen=True)
class SiteMetadata:
    """What a site says about itself: needed to read its issues (field ids, status categories)."""

    server_info: dict[str, Any]
    myself: dict[str, Any]
    fields: list[dict[str, Any]]
    statuses: list[dict[str, Any]]
    link_types: list[dict[str, Any]]
    field_roles: dict[str, str]  # role ("story_points", "sprint", "epic_link", "flagged") -> field id

    @property
    def is_cloud(self) -> bool:
        return self.server_info.get("deploymentType") == "Cloud"


class JiraSource:
    """Reads one Jira site. Create it once per sync; it holds one HTTP session (``worker()`` gives
    another, for a second thread, without asking the site about itself again)."""

    def __init__(self, site: JiraSite, _known: tuple[dict[str, Any], SiteMetadata | None] | None = None,
                 pacer: Pacer | None = None, lanes: Lanes | None = None) -> None:
        self.site = site
        # one per site, shared by every thread that reads it (and the sync's lanes by every site)
        self.pacer = pacer or Pacer(site.name, site.limits, lanes=lanes)
        auth: dict[str, Any] = (
            {"basic_auth": (site.user, site.token)} if site.user else {"token_auth": site.token}
        )
        # max_retries covers 429/503 with Retry-After through the library's ResilientSession.
        # serverInfo is asked once, here, and kept: the library would otherwise ask it in its
        # constructor and again for the raw landing.
        self.client = JIRA(server=site.url, max_retries=3, timeout=60, get_server_info=False, **auth)
        # Requests sent, retries included (the library's, ServerErrorRetry's, corrupt bodies').
        self.requests = 0
        for scheme in ("http://", "https://"):
            # Below the library: ServerErrorRetry for the 5xx it gives up on, and a check that a
            # 200's JSON parses (a truncated or malformed body is asked again, then CorruptResponse).
            self.client._session.mount(scheme, CheckedJsonAdapter(
                site.name, logger=log, backoff=site.retry_backoff, on_sent=self._count, pacer=self.pacer,
                max_retries=ServerErrorRetry(backoff_factor=site.retry_backoff)))
        self.server_info = _known[0] if _known else self.client.server_info()
        self.client._version = tuple(self.server_info.get("versionNumbers", (0, 0, 0)))
        self.client.deploymentType = {"cloud": "Cloud", "server": "Server"}.get(
            site.deployment, self.server_info.get("deploymentType"))
        if self.client._is_cloud:
            # Cloud's v3 API: search/jql and rich-text (ADF) descriptions.
            self.client._options["rest_api_version"] = "3"
        self._metadata: SiteMetadata | None = _known[1] if _known else None
        if self._metadata is not None:
            self._share_field_cache(self._metadata.fields)

    def worker(self) -> JiraSource:
        """A reader of the same site for another thread: its own session, the site facts shared."""
        return JiraSource(self.site, (self.server_info, self.metadata()), self.pacer)

    def _count(self, sent: int) -> None:
        self.requests += sent

    def _share_field_cache(self, fields: list[dict[str, Any]]) -> None:
        """Fill the library's own /field cache (name -> id) from ours, so it does not ask again."""
        self.client._fields_cache_value = {name: f["id"] for f in fields for name in f.get("clauseNames", ())}

    # -- site metadata -------------------------------------------------------------------------
    def metadata(self) -> SiteMetadata:
        if self._metadata is None:
            fields = self.client.fields()
            self._share_field_cache(fields)
            self._metadata = SiteMetadata(
                server_info=self.server_info,
                myself=self.client.myself(),
                fields=fields,
                statuses=self.client._get_json("status"),
                link_types=self.client._get_json("issueLinkType").get("issueLinkTypes", []),
                field_roles=self._field_roles(fields),
            )
        return self._metadata

    def _field_roles(self, fields: list[dict[str, Any]]) -> dict[str, str]:
        roles: dict[str, str] = {}
        by_name = {f.get("name"): f["id"] for f in fields}
        for name in self.site.story_points_fields:
            if name in by_name:
                roles["story_points"] = by_name[name]
                break
        for role, (custom_types, names) in FIELD_ROLES.items():
            found = [f["id"] for f in fields if (f.get("schema") or {}).get("custom") in custom_types]
            found += [f["id"] for f in fields if f.get("custom", True) and f.get("name") in names]
            if found:
                roles[role] = found[0]
        return roles

    def versions(self, project_key: str) -> list[dict[str, Any]]:
        return [v.raw for v in self.client.project_versions(project_key)]

    # -- boards and sprints (Jira Software) ----------------------------------------------------
    def board_sprints(self, project_key: str) -> list[tuple[dict[str, Any], list[dict[str, Any]]]] | None:
        """The project's boards that hold sprints, each with its active and future sprints (also
        those no issue names yet), as (board, sprints); None when the site has no Jira Software
        (its agile API answers 404). One request per 50 boards, then one per 50 sprints a board:
        ``GET /rest/agile/1.0/board?projectKeyOrId=`` and ``board/{id}/sprint?state=active,future``
        through the library's own ``boards`` and ``sprints``, paged by startAt until ``isLast``."""
        try:
            boards = self._agile_pages(lambda start: self.client.boards(
                startAt=start, maxResults=AGILE_PAGE_SIZE, projectKeyOrID=project_key))
        except JIRAError as error:
            if error.status_code == 404:
                log.warning("%s: the agile API answered 404 (no Jira Software?): no board sprints for %s",
                            self.site.name, project_key)
                return None
            raise
        found = []
        for board in boards:
            if board.get("type") not in SPRINT_BOARD_TYPES:
                continue
            try:
                sprints = self._agile_pages(lambda start, board_id=board["id"]: self.client.sprints(
                    board_id, startAt=start, maxResults=AGILE_PAGE_SIZE, state=OPEN_SPRINT_STATES))
            except JIRAError as error:
                # "The board does not support sprints": a team-managed board with sprints off
                if error.status_code == 400 and board.get("type") != "scrum":
                    log.info("%s: board %s of %s has no sprints", self.site.name, board["id"], project_key)
                    continue
                raise
            found.append((board, sprints))
        return found

    @staticmethod
    def _agile_pages(fetch: Callable[[int], Any]) -> list[dict[str, Any]]:
        """Every value of an agile listing: ``fetch(startAt)`` returns one page (the library's
        ResultList); pages advance by what came back (a server may cap a page) until isLast."""
        values: list[dict[str, Any]] = []
        while True:
            page = fetch(len(values))
            values += [resource.raw for resource in page]
            if page.isLast or not len(page):
                return values

    # -- issues --------------------------------------------------------------------------------
    def jql_time(self, instant: datetime) -> str:
        """JQL reads ``updated >= "yyyy-MM-dd HH:mm"`` in the API user's time zone, to the minute."""
        zone = ZoneInfo(self.metadata().myself.get("timeZone") or "UTC")
        return instant.astimezone(zone).strftime("%Y-%m-%d %H:%M")

    def _query(self, project_key: str, jql: str | None, updated_since: datetime | None) -> str:
        # The key comes from a validated config ([A-Z][A-Z0-9_]*); quoting keeps JQL well-formed.
        # A project's own jql is the config owner's, not tracker text; it is parenthesised.
        clauses = [f'project = "{project_key}"']
        if jql:
            clauses.append(f"({jql})")
        if updated_since is not None:
            clauses.append(f'updated >= "{self.jql_time(updated_since)}"')
        # Ordered by what never changes: ordered by `updated`, an issue edited while we page jumps
        # to the end and the rest shift back, so offset (and token) paging would skip one.
        return " AND ".join(clauses) + " ORDER BY created ASC, key ASC"

    def issue_pages(self, project_key: str, jql: str | None = None,
                    updated_since: datetime | None = None) -> Iterator[list[dict[str, Any]]]:
        """Issues of a project with their changelogs, one page at a time, oldest first."""
        meta = self.metadata()
        fields = list(BASE_FIELDS) + sorted(set(meta.field_roles.values()))
        query = self._query(project_key, jql, updated_since)
        for page in self._search(query, fields, self.site.page_size, expand="changelog"):
            for issue in page:
                lean_issue(issue)
            yield page
            del page  # not held while the next page is read

    def issue_ids(self, project_key: str, jql: str | None = None) -> set[str]:
        """Ids of every issue the project has now: deleted and moved-away issues are the ones missing."""
        size = ID_PAGE_SIZE["cloud" if self.metadata().is_cloud else "server"]
        query = self._query(project_key, jql, None)
        return {str(i["id"]) for page in self._search(query, ["id"], size, expand=None) for i in page}

    def changelog(self, issue_key: str) -> Iterator[list[dict[str, Any]]]:
        """Every history of one issue, oldest first, for issues whose search result cut them."""
        start = 0
        while True:
            page = self.client._get_json(f"issue/{issue_key}/changelog",
                                         params={"startAt": start, "maxResults": 100})
            values = page.get("values", [])
            if values:
                yield lean_histories(values)
            start += len(values)
            if not values or page.get("isLast", start >= page.get("total", 0)):
                return

    def changelogs(self, issue_ids: Iterable[str],
                   page_size: int = BULK_CHANGELOG_PAGE_SIZE) -> Iterator[tuple[str, list[dict[str, Any]]]]:
        """Every history of many issues (those whose search result cut them), as (issue id,
        histories) in the order pages arrive. Cloud's ``changelog/bulkfetch`` takes 1,000 issues
        and returns ``page_size`` histories across them per request, so a sync costs about one
        request per ``page_size`` histories instead of one or more per issue. Pages run oldest first
        across issues, so one issue may come again, with later histories, on a later page:
        concatenated in order, an issue's chunks are its whole history, oldest first. Issues
        without histories (or unknown ids) are not yielded. Server/DC has no bulk (nor per-issue)
        changelog endpoint but embeds complete changelogs: one issue request each, one chunk each."""
        ids = list(dict.fromkeys(issue_ids))
        if not self.metadata().is_cloud:
            for issue_id in ids:
                issue = self.client._get_json(f"issue/{issue_id}", params={"fields": "id", "expand": "changelog"})
                if histories := (issue.get("changelog") or {}).get("histories", []):
                    yield str(issue["id"]), lean_histories(histories)
            return
        for start in range(0, len(ids), BULK_CHANGELOG_ISSUES):
            ask: dict[str, Any] = {"issueIdsOrKeys": ids[start:start + BULK_CHANGELOG_ISSUES], "maxResults": page_size}
            while True:
                # a POST, but a read: counted, and retried like a GET (429, 5xx, corrupt bodies)
                page = self.client._get_json("changelog/bulkfetch", params=ask, use_post=True)
                token = page.get("nextPageToken")
                entries = page.get("issueChangeLogs", [])
                del page  # not held while the next page is read (up to 1,000 issues' histories)
                for entry in entries:
                    if entry.get("changeHistories"):
                        yield str(entry["issueId"]), lean_histories(entry["changeHistories"])
                del entries
                if not token:
                    break
                ask["nextPageToken"] = token

    def remote_links(self, issue_id: str) -> list[dict[str, Any]]:
        """Remote links of one issue (GitHub issues linked by the GitHub for Jira app, web links).
        Jira has no bulk or search form for them: one request per issue."""
        return self.client._get_json(f"issue/{issue_id}/remotelink")

    def _search(self, query: str, fields: list[str], size: int,
                expand: str | None) -> Iterator[list[dict[str, Any]]]:
        if self.metadata().is_cloud:
            yield from self._pages_by_token(query, fields, size, expand)
        else:
            yield from self._pages_by_offset(query, fields, size, expand)

    def _pages_by_token(self, query: str, fields: list[str], size: int,
                        expand: str | None) -> Iterator[list[dict[str, Any]]]:
        token: str | None = None
        while True:
            page = self.client.enhanced_search_issues(
                query, nextPageToken=token, maxResults=size, fields=fields, expand=expand, json_result=True,
            )
            issues = page.get("issues", [])
            token = page.get("nextPageToken")
            last = page.get("isLast", token is None) or not token
            del page
            if issues:
                yield issues
            del issues
            if last:
                return

    def _pages_by_offset(self, query: str, fields: list[str], size: int,
                         expand: str | None) -> Iterator[list[dict[str, Any]]]:
        start = 0
        while True:
            page = self.client.search_issues(
                query, startAt=start, maxResults=size, fields=fields, expand=expand, json_result=True,
            )
            issues = page.get("issues", [])
            start += len(issues)  # a server may cap a page below maxResults
            done = not issues or start >= page.get("total", 0)
            left = None if done else -(-(page["total"] - start) // len(issues))  # pages still to read
            del page
            Lanes.expect(left)  # while the caller takes the page (its own requests rank so), and ...
            if issues:
                yield issues
            del issues
            Lanes.expect(left)  # ... for the next page, whatever the caller's requests said
            if done:
                return
