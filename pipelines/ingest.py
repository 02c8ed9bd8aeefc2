"""Land what the connectors fetch into ``raw.*``, one page at a time, project by project.

Each page is committed as it arrives (bounded memory; a crash keeps what was committed). A project
that fails is recorded in ``meta.source_syncs`` and the others go on; the caller then fails the run
so nothing half-synced is published.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone

import duckdb

from connectors.github_source import GithubSource
from connectors.jira_source import JiraSource
from warehouse.store import upsert

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ProjectResult:
    site: str
    project_key: str
    source: str
    items: int
    requests: int
    error: str | None = None


@dataclass(frozen=True)
class SiteResult:
    site: str
    projects: tuple[ProjectResult, ...] = field(default_factory=tuple)

    @property
    def failed(self) -> tuple[ProjectResult, ...]:
        return tuple(p for p in self.projects if p.error)


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _record(con: duckdb.DuckDBPyConnection, sync_id: str, result: ProjectResult, started: datetime) -> None:
    con.execute(
        "INSERT OR REPLACE INTO meta.source_syncs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [sync_id, result.site, result.project_key, result.source,
         "failed" if result.error else "succeeded", result.items, result.requests, result.error,
         started, _now()],
    )


def _forget_unseen(con: duckdb.DuckDBPyConnection, table: str, key_column: str, site: str,
                   project_key: str, sync_id: str) -> None:
    """After a complete sync of a project, rows it did not return were deleted or moved away."""
    con.execute(f"DELETE FROM {table} WHERE site = ? AND {key_column} = ? AND sync_id <> ?",
                [site, project_key, sync_id])


def _guarded(con: duckdb.DuckDBPyConnection, sync_id: str, site: str, project_key: str, source: str,
             requests: Callable[[], int], work: Callable[[], int]) -> ProjectResult:
    started, before = _now(), requests()
    try:
        items = work()
        result = ProjectResult(site, project_key, source, items, requests() - before)
    except Exception as exc:  # one project's failure must not stop the others
        log.error("sync of %s on %s failed: %s", project_key, site, exc)
        result = ProjectResult(site, project_key, source, 0, requests() - before,
                               f"{type(exc).__name__}: {_redact(str(exc))}")
    _record(con, sync_id, result, started)
    return result


def _redact(message: str) -> str:
    """Error texts from HTTP libraries can quote headers; keep only the first line, trimmed."""
    first = message.strip().splitlines()[0] if message.strip() else ""
    return first[:500]


def sync_jira_site(con: duckdb.DuckDBPyConnection, source: JiraSource,
                   projects: list[tuple[str, str | None]], sync_id: str) -> SiteResult:
    """Full sync of the given ``(project_key, jql)`` pairs of one Jira site."""
    site = source.site.name
    meta = source.metadata()
    now = _now()
    upsert(con, "raw.jira_sites", [{
        "site": site, "base_url": source.site.url, "server_info": meta.server_info,
        "myself": meta.myself, "fields": meta.fields, "statuses": meta.statuses,
        "link_types": meta.link_types, "field_roles": meta.field_roles, "synced_at": now,
        "sync_id": sync_id,
    }], json_columns=("server_info", "myself", "fields", "statuses", "link_types", "field_roles"))

    def project_work(key: str, jql: str | None) -> Callable[[], int]:
        def run() -> int:
            versions = [{"site": site, "project_key": key, "version_id": str(v["id"]), "payload": v,
                         "synced_at": _now(), "sync_id": sync_id} for v in source.versions(key)]
            upsert(con, "raw.jira_versions", versions)
            _forget_unseen(con, "raw.jira_versions", "project_key", site, key, sync_id)
            count = 0
            for page in source.issue_pages(key, jql):
                synced = _now()
                count += upsert(con, "raw.jira_issues", [{
                    "site": site, "project_key": key, "issue_id": str(i["id"]), "issue_key": i["key"],
                    "updated_at": i["fields"].get("updated"), "payload": i, "synced_at": synced,
                    "sync_id": sync_id} for i in page])
            _forget_unseen(con, "raw.jira_issues", "project_key", site, key, sync_id)
            return count
        return run

    results = tuple(_guarded(con, sync_id, site, key, "jira", lambda: source.requests, project_work(key, jql))
                    for key, jql in projects)
    return SiteResult(site, results)


def sync_github_site(con: duckdb.DuckDBPyConnection, source: GithubSource, repos: list[str],
                     sync_id: str) -> SiteResult:
    """Full sync of the given ``owner/name`` repositories of one GitHub site."""
    site = source.site.name

    def repo_work(repo: str) -> Callable[[], int]:
        def run() -> int:
            upsert(con, "raw.github_repos", [{"site": site, "repo": repo, "payload": source.repository(repo),
                                              "synced_at": _now(), "sync_id": sync_id}])
            upsert(con, "raw.github_milestones", [{
                "site": site, "repo": repo, "number": m["number"], "payload": m, "synced_at": _now(),
                "sync_id": sync_id} for m in source.milestones(repo)])
            _forget_unseen(con, "raw.github_milestones", "repo", site, repo, sync_id)
            count = 0
            with_relations: list[tuple[int, bool, bool]] = []
            for page in source.issue_pages(repo):
                synced = _now()
                count += upsert(con, "raw.github_issues", [{
                    "site": site, "repo": repo, "number": i["number"], "issue_id": i["id"],
                    "updated_at": i.get("updated_at"), "payload": i, "synced_at": synced,
                    "sync_id": sync_id} for i in page])
                for i in page:
                    subs = (i.get("sub_issues_summary") or {}).get("total", 0) > 0
                    deps = (i.get("issue_dependencies_summary") or {}).get("total_blocked_by", 0) > 0
                    if subs or deps:
                        with_relations.append((i["number"], subs, deps))
            _forget_unseen(con, "raw.github_issues", "repo", site, repo, sync_id)
            for page in source.event_pages(repo):
                upsert(con, "raw.github_issue_events", [{
                    "site": site, "repo": repo, "event_id": e["id"],
                    "issue_number": (e.get("issue") or {}).get("number"), "created_at": e.get("created_at"),
                    "payload": e, "synced_at": _now(), "sync_id": sync_id} for e in page])
            # Per-issue calls only where the issue's own summary says there is something to read.
            for number, subs, deps in with_relations:
                related = ([("sub_issue", s) for s in source.sub_issues(repo, number)] if subs else []) + (
                    [("blocked_by", b) for b in source.blocked_by(repo, number)] if deps else [])
                upsert(con, "raw.github_issue_relations", [{
                    "site": site, "repo": repo, "number": number, "relation": rel, "other_id": other["id"],
                    "payload": other, "synced_at": _now(), "sync_id": sync_id} for rel, other in related])
            _forget_unseen(con, "raw.github_issue_relations", "repo", site, repo, sync_id)
            return count
        return run

    results = tuple(_guarded(con, sync_id, site, repo, "github", lambda: source.requests, repo_work(repo))
                    for repo in repos)
    return SiteResult(site, results)
