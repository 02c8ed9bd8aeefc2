"""Jira: issues with changelogs, versions and site metadata, through the ``jira`` library.

One code path for Jira Cloud and Jira Server/Data Center: the library picks its search endpoint
from ``serverInfo.deploymentType`` (Cloud: ``/rest/api/3/search/jql`` paged by ``nextPageToken``;
Server/DC: ``/rest/api/2/search`` paged by ``startAt``). Pages are yielded as they arrive so the
caller can commit them and memory stays bounded whatever the project's size.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from jira import JIRA

# Fields a program view needs; custom ones (story points, sprint, epic link) are added per site
# after they are found by name through /field.
BASE_FIELDS = (
    "summary", "issuetype", "status", "priority", "resolution", "resolutiondate", "created",
    "updated", "duedate", "assignee", "reporter", "creator", "labels", "components", "fixVersions",
    "issuelinks", "parent", "project", "description",
)
# Custom fields found by their name (or, for well-known ones, their schema's custom type).
FIELD_ROLES = {
    "sprint": ("com.pyxis.greenhopper.jira:gh-sprint",),
    "epic_link": ("com.pyxis.greenhopper.jira:gh-epic-link",),
}


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


@dataclass(frozen=True)
class SiteMetadata:
    """What a site says about itself: needed to read its issues (field ids, status categories)."""

    server_info: dict[str, Any]
    myself: dict[str, Any]
    fields: list[dict[str, Any]]
    statuses: list[dict[str, Any]]
    link_types: list[dict[str, Any]]
    field_roles: dict[str, str]  # role ("story_points", "sprint", "epic_link") -> field id

    @property
    def is_cloud(self) -> bool:
        return self.server_info.get("deploymentType") == "Cloud"


class JiraSource:
    """Reads one Jira site. Create it once per sync; it holds one HTTP session."""

    def __init__(self, site: JiraSite) -> None:
        self.site = site
        auth: dict[str, Any] = (
            {"basic_auth": (site.user, site.token)} if site.user else {"token_auth": site.token}
        )
        # The library asks serverInfo once here and keeps deploymentType; max_retries covers 429/503
        # with Retry-After through its ResilientSession.
        self.client = JIRA(server=site.url, max_retries=3, timeout=60, **auth)
        if site.deployment != "auto":
            self.client.deploymentType = "Cloud" if site.deployment == "cloud" else "Server"
        if self.client._is_cloud:
            # Cloud's v3 API: search/jql and rich-text (ADF) descriptions.
            self.client._options["rest_api_version"] = "3"
        self._metadata: SiteMetadata | None = None
        self.requests = 1  # the constructor's serverInfo
        self.client._session.hooks["response"].append(self._count)

    def _count(self, response, *args, **kwargs):
        self.requests += 1
        return response

    # -- site metadata -------------------------------------------------------------------------
    def metadata(self) -> SiteMetadata:
        if self._metadata is None:
            fields = self.client.fields()
            self._metadata = SiteMetadata(
                server_info=self.client.server_info(),
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
        for role, custom_types in FIELD_ROLES.items():
            for f in fields:
                if (f.get("schema") or {}).get("custom") in custom_types:
                    roles[role] = f["id"]
                    break
        return roles

    def versions(self, project_key: str) -> list[dict[str, Any]]:
        return [v.raw for v in self.client.project_versions(project_key)]

    # -- issues --------------------------------------------------------------------------------
    def issue_pages(self, project_key: str, jql: str | None = None) -> Iterator[list[dict[str, Any]]]:
        """Every issue of a project with its changelog, one page at a time, oldest update first."""
        meta = self.metadata()
        fields = list(BASE_FIELDS) + sorted(set(meta.field_roles.values()))
        # The key comes from a validated config ([A-Z][A-Z0-9_]*); quoting keeps JQL well-formed.
        scope = f'project = "{project_key}"' + (f" AND ({jql})" if jql else "")
        query = f"{scope} ORDER BY updated ASC, key ASC"
        if meta.is_cloud:
            yield from self._pages_by_token(query, fields)
        else:
            yield from self._pages_by_offset(query, fields)

    def _pages_by_token(self, query: str, fields: list[str]) -> Iterator[list[dict[str, Any]]]:
        token: str | None = None
        while True:
            page = self.client.enhanced_search_issues(
                query, nextPageToken=token, maxResults=self.site.page_size, fields=fields,
                expand="changelog", json_result=True,
            )
            issues = page.get("issues", [])
            if issues:
                yield issues
            token = page.get("nextPageToken")
            if page.get("isLast", token is None) or not token:
                return

    def _pages_by_offset(self, query: str, fields: list[str]) -> Iterator[list[dict[str, Any]]]:
        start = 0
        while True:
            page = self.client.search_issues(
                query, startAt=start, maxResults=self.site.page_size, fields=fields,
                expand="changelog", json_result=True, validate_query=True,
            )
            issues = page.get("issues", [])
            if issues:
                yield issues
            start += len(issues)  # a server may cap a page below maxResults
            if not issues or start >= page.get("total", 0):
                return
