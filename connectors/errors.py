"""Errors the connectors raise themselves; a tracker's own error answers stay the libraries'
(``JIRAError``, ``GithubException``)."""

from __future__ import annotations

# The URL in a one-line message: Jira's search URLs carry the JQL and every field asked for, and a
# failure report keeps 500 characters (pipelines.ingest.describe): the reason must fit after it.
SHOWN_URL = 200


class CorruptResponse(RuntimeError):
    """A tracker kept answering a read with a body that is not valid JSON, or that could not be
    read whole, however often it was asked. ``url`` has no credentials (see
    ``connectors.http.redact_url``); the message names the site, the request and how often."""

    def __init__(self, site: str, method: str, url: str, status: int, attempts: int, reason: str) -> None:
        self.site = site
        self.method = method
        self.url = url
        self.status = status
        self.attempts = attempts
        self.reason = reason
        super().__init__(f"{site}: {method} {shown(url)} answered {status} with {reason} {attempts} times")

    def __reduce__(self):  # the constructor takes the parts, not the message
        return type(self), (self.site, self.method, self.url, self.status, self.attempts, self.reason)


def shown(url: str) -> str:
    """A URL short enough for one line: a long query is cut, the path is kept whole."""
    path, _, query = url.partition("?")
    if len(url) <= SHOWN_URL or not query:
        return url
    return f"{path}?{query[:max(SHOWN_URL - len(path) - 2, 0)]}…"
