"""GitHub: issues (pull requests included, as the API lists them), repo-level issue events,
milestones, sub-issues and "blocked by" dependencies, through PyGithub.

Raw JSON pages come from PyGithub's own ``Requester`` (auth, base URL, ``GithubRetry`` for
secondary limits and 5xx) rather than its typed objects: a typed list item reads ``raw_data``
only after one more request per item, which would turn N issues into N requests.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from github import Auth, Github, GithubRetry

_NEXT = re.compile(r'<([^>]+)>;\s*rel="next"')


@dataclass(frozen=True)
class GithubSite:
    """Where and how to reach GitHub. ``token`` never appears in repr or logs."""

    name: str
    url: str
    token: str = field(repr=False)
    page_size: int = 100


class GithubSource:
    """Reads repositories of one GitHub site. Create it once per sync."""

    def __init__(self, site: GithubSite) -> None:
        self.site = site
        self.client = Github(
            base_url=site.url, auth=Auth.Token(site.token), per_page=site.page_size, timeout=60,
            retry=GithubRetry(total=5),
        )
        self.requests = 0

    def _get(self, url: str, params: dict[str, Any] | None = None) -> tuple[dict[str, Any], Any]:
        self.requests += 1
        return self.client.requester.requestJsonAndCheck("GET", url, parameters=params)

    def _pages(self, path: str, params: dict[str, Any]) -> Iterator[list[dict[str, Any]]]:
        """Follow the ``Link: rel="next"`` chain; the server's URLs carry every parameter."""
        url: str | None = path
        query: dict[str, Any] | None = {**params, "per_page": self.site.page_size}
        while url:
            headers, data = self._get(url, query)
            if data:
                yield data
            match = _NEXT.search(headers.get("link", ""))
            url, query = (match.group(1), None) if match else (None, None)

    def repository(self, repo: str) -> dict[str, Any]:
        return self._get(f"/repos/{repo}")[1]

    def issue_pages(self, repo: str, since: str | None = None) -> Iterator[list[dict[str, Any]]]:
        """Issues and pull requests, oldest update first, so a cursor can follow them."""
        params = {"state": "all", "sort": "updated", "direction": "asc"}
        if since:
            params["since"] = since
        yield from self._pages(f"/repos/{repo}/issues", params)

    def event_pages(self, repo: str) -> Iterator[list[dict[str, Any]]]:
        """Repo-level issue events (closed, reopened, labeled, milestoned, assigned, ...)."""
        yield from self._pages(f"/repos/{repo}/issues/events", {})

    def milestones(self, repo: str) -> list[dict[str, Any]]:
        return [m for page in self._pages(f"/repos/{repo}/milestones", {"state": "all"}) for m in page]

    def sub_issues(self, repo: str, number: int) -> list[dict[str, Any]]:
        return [i for page in self._pages(f"/repos/{repo}/issues/{number}/sub_issues", {}) for i in page]

    def blocked_by(self, repo: str, number: int) -> list[dict[str, Any]]:
        path = f"/repos/{repo}/issues/{number}/dependencies/blocked_by"
        return [i for page in self._pages(path, {}) for i in page]
