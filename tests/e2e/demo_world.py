"""The world the e2e sync tests share: the sandbox's demo scenario, the projects they sync, and a
sync of them through the real connectors as the ingest assets make it, with what to compare after.
(Fixtures serving it are in conftest.py.)"""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path

import duckdb

from connectors.github_source import GithubSite, GithubSource
from connectors.jira_source import JiraSite, JiraSource
from pipelines.ingest import ProjectResult, SyncPolicy, sync_github_site, sync_jira_site
from sandbox.scenario import GITHUB, JIRA_CLOUD, JIRA_DC
from sandbox.credentials import SANDBOX_TOKEN, SANDBOX_USER
from sandbox.server import RunningSandbox
from transforms.build import ProgramRow, ProjectRow, write_program_structure
from warehouse.store import connect, migrate

AS_OF = date(2026, 11, 27)
JIRA = {JIRA_CLOUD: ["PAY"], JIRA_DC: ["CART", "ID"]}
REPOS = ["acme/web", "acme/platform-api"]
EVERY_PROJECT = [key for keys in JIRA.values() for key in keys] + REPOS
# Every raw table a sync lands, with the column that names its project (None: site-wide or by
# issue id), as ``snapshot`` takes them.
RAW_TABLES = {"raw.jira_sites": None, "raw.jira_issues": "project_key", "raw.jira_versions": "project_key",
              "raw.jira_changelogs": None, "raw.jira_remote_links": None, "raw.jira_board_sprints": "project_key",
              "raw.github_repos": "repo", "raw.github_issues": "repo", "raw.github_issue_events": "repo",
              "raw.github_milestones": "repo", "raw.github_issue_relations": "repo"}
# The token as it travels: GitHub and Jira DC send it as it is, Jira Cloud inside basic auth.
SECRETS = (SANDBOX_TOKEN, base64.b64encode(f"{SANDBOX_USER}:{SANDBOX_TOKEN}".encode()).decode())


def fresh(sandbox: RunningSandbox) -> None:
    """No faults, and every count zeroed."""
    sandbox.app.faults.set(())
    sandbox.stats.reset()
    sandbox.app.faults.reset_counts()


@contextmanager
def warehouse(folder: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    with connect(folder / "work.duckdb") as con:
        migrate(con)
        yield con


def jira_source(sandbox: RunningSandbox, site: str, retry_backoff: float = 0.05) -> JiraSource:
    user = SANDBOX_USER if site == JIRA_CLOUD else None
    return JiraSource(JiraSite(site, sandbox.site_url(site), SANDBOX_TOKEN, user=user, retry_backoff=retry_backoff))


def github_source(sandbox: RunningSandbox, retry_backoff: float = 0.05) -> GithubSource:
    """Backoff shortened so that the tests that exhaust retries stay quick."""
    return GithubSource(GithubSite(GITHUB, sandbox.site_url(GITHUB), SANDBOX_TOKEN, seconds_between_requests=0,
                                   retry_backoff=retry_backoff))


def sync(sandbox: RunningSandbox, con: duckdb.DuckDBPyConnection, sync_id: str, *, jira: bool = True,
         github: bool = True, policy: SyncPolicy = SyncPolicy(), retry_backoff: float = 0.05,
         source: Callable[[RunningSandbox, str], JiraSource] | None = None) -> dict[str, ProjectResult]:
    """One run over every project, as the ingest assets make it: results by project."""
    results: list[ProjectResult] = []
    if jira:
        for site, keys in JIRA.items():
            worker = source(sandbox, site) if source else jira_source(sandbox, site, retry_backoff)
            results += sync_jira_site(con, worker, [(k, None) for k in keys], sync_id, policy).projects
    if github:
        results += sync_github_site(con, github_source(sandbox, retry_backoff), REPOS, sync_id, policy).projects
    return {r.project_key: r for r in results}


def failures(results: dict[str, ProjectResult]) -> dict[str, str]:
    return {key: r.error for key, r in results.items() if r.error}


def requests_by_site(sandbox: RunningSandbox) -> dict[str, int]:
    counts: dict[str, int] = {}
    for row in sandbox.stats.as_json()["requests"]:
        site = row["endpoint"].split("/")[1]
        if site != "_sandbox":
            counts[site] = counts.get(site, 0) + row["count"]
    return counts


def snapshot(con: duckdb.DuckDBPyConnection, tables: dict[str, str | None],
             projects: list[str] | None = None) -> dict[tuple, tuple[int, str]]:
    """What the warehouse holds of ``tables`` (each with the column that names the project, or
    None), by table, site and project: rows and a digest of their payloads (when and by which
    sync they were landed left out)."""
    held = {}
    for table, column in tables.items():
        payload = ("concat_ws('|', server_info, myself, fields, statuses, link_types, field_roles)"
                   if table == "raw.jira_sites" else "payload::VARCHAR")
        for site, project, rows, digest in con.execute(f"""
                SELECT site, {column or 'NULL'}, count(*), md5(string_agg({payload}, '|' ORDER BY {payload}))
                FROM {table} GROUP BY ALL""").fetchall():
            if projects is None or project in projects:
                held[(table, site, project)] = (rows, digest)
    return held


def part(held: dict[tuple, tuple[int, str]], projects: list[str]) -> dict[tuple, tuple[int, str]]:
    """The part of a snapshot that is about ``projects``."""
    return {key: value for key, value in held.items() if key[2] in projects}


def write_program(con: duckdb.DuckDBPyConnection) -> None:
    """One program holding every project of the world."""
    projects = [ProjectRow("p", site, "jira", k, None) for site, keys in JIRA.items() for k in keys] + [
        ProjectRow("p", GITHUB, "github", r, None) for r in REPOS]
    write_program_structure(con, [ProgramRow("p", "Program", None)], projects)


def record_run(con: duckdb.DuckDBPyConnection, sync_id: str, clock: datetime) -> None:
    """Record a sync as the ingest assets do: its clock is the sandbox's, so a tombstone is dated by
    the night that found the item gone, and history by the sandbox's day."""
    con.execute("INSERT OR IGNORE INTO meta.sync_runs (sync_id, started_at, as_of, status) "
                "VALUES (?, now(), ?, 'running')", [sync_id, clock])


def sync_nights(sandbox: RunningSandbox, path: Path, nights: int) -> datetime:
    """Advance the sandbox a day at a time and sync each night into ``path``, recorded on the
    sandbox's clock; returns the last night's instant."""
    import requests

    for _ in range(nights):
        night = requests.post(f"{sandbox.url}/_sandbox/advance", json={"days": 1}, timeout=30).json()
        with connect(path) as con:
            record_run(con, night["now"], datetime.fromisoformat(night["now"]))
            assert failures(sync(sandbox, con, night["now"])) == {}
    return datetime.fromisoformat(night["now"])
