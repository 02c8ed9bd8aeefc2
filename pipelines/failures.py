"""Failures in words a person can act on: one line each, naming the config field to check.

A sync's failures arrive per project (``ProjectResult.error``: the exception's class and the
tracker's own status and message, never a header or token). When every project of a site failed
the same way, the site is the problem, not the projects: one line names the site's field (its
URL or its token variable) instead of one line per project.
"""

from __future__ import annotations

import re
from collections import defaultdict

from pipelines.config import PulseConfig, SANDBOX_URL
from pipelines.ingest import ProjectResult

_STATUS = re.compile(r"\bHTTP (\d{3})\b")


def status_of(error: str) -> int | None:
    """The HTTP status a failure reports, if any."""
    match = _STATUS.search(error)
    return int(match.group(1)) if match else None


def explain(program: PulseConfig, failed: list[ProjectResult]) -> list[str]:
    """One line per site whose projects all failed alike, else one per failed project."""
    by_site: dict[str, list[ProjectResult]] = defaultdict(list)
    for result in failed:
        by_site[result.site].append(result)
    lines = []
    for site, results in by_site.items():
        config = program.sites.get(site)
        where = "the sandbox" if config is None or config.url == SANDBOX_URL else config.url
        noun = "repository" if getattr(config, "kind", "") == "github" else "project"
        configured = sum(1 for _, p in program.projects() if p.site == site)
        statuses = {status_of(r.error or "") for r in results}
        every = len(results) == configured
        token_env = getattr(config, "token_env", "the token variable")
        if every and statuses <= {401}:
            lines.append(f"sites.{site}.token_env: {where} rejected the credential in ${token_env} (HTTP 401) "
                         f"for every {noun}; check that the variable holds a valid, unexpired token")
        elif every and statuses <= {403} and all("rate limit" not in (r.error or "").lower() for r in results):
            lines.append(f"sites.{site}.token_env: {where} refused the credential in ${token_env} (HTTP 403) "
                         f"for every {noun}; check the token's scopes and access")
        elif every and statuses <= {404} and len(results) > 1:
            lines.append(f"sites.{site}.url: {where} answered 404 for every {noun}; check the URL "
                         f"(and that the token can see the {noun}s)")
        elif every and any(r.mode is None for r in results):  # the site failed before any project began
            lines.append(f"sites.{site}.url: {where} failed before any {noun} was read: {results[0].error}; "
                         f"check the URL and that the site is up")
        else:
            for r in results:
                hint = (f"check the {noun} key in programs[].projects (and that the token can see it)"
                        if status_of(r.error or "") == 404 else "a rerun resumes where it stopped")
                lines.append(f"sites.{site} {noun} {r.project_key}: {r.error}; {hint}")
    return lines
