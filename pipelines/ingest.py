"""Land what the connectors fetch into ``raw.*``, one page at a time, project by project.

Incremental by default: each project has a cursor on ``updated`` (``meta.sync_cursors``). A sync
asks for what changed since the cursor minus an overlap window (Jira's JQL is minute-granular and
read in the user's time zone; its search index lags), merges pages by primary key (so the overlap
writes no duplicate), and moves the cursor only after every page it covers is committed.
Deletions and moves between projects show only in a complete listing of a project's members (Jira:
a key-only listing of ids; GitHub: the repository's open count, then a relisting): a sync
reconciles on every night that brought changes and, on quiet nights, once ``reconcile_every`` has
passed, so a night on which nothing changed costs two requests a project or repo. A Jira project's
boards and their active and future sprints (Jira Software; sprints no issue names yet are
milestones too) are listed on the same nights as that reconciliation, and on full syncs. A full sync
(first run, or ``pulse sync --full``) refetches everything and drops what it did not see.

Each page is committed as it arrives (bounded memory; a crash keeps what was committed). The
state that vouches for those pages (the cursor, the reconciliation mark, the ETags that let the
next run skip a request) is written last, in one transaction with the deletions it implies
(``_commit_state``): a run that fails anywhere before it leaves the previous state, so the rerun
asks again for everything the failed run saw and completes what it did not (events, relations,
changelogs, the deletion check). A project that fails is recorded in ``meta.source_syncs`` and the
others go on.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import nullcontext
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from functools import partial
from typing import Any

import duckdb
from github import GithubException
from jira import JIRAError

from connectors.github_source import GithubSource
from connectors.jira_source import BULK_CHANGELOG_ISSUES, JiraSource
from connectors.pacing import Lanes
from pipelines.config import SyncSettings
from pipelines.progress import ItemsLanded, ProjectStarted, ProjectSynced, emit
from warehouse.landing import Call, Journal, LandingStore
from warehouse.store import JsonText, upsert
from warehouse.writer import Land, Writer

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SyncPolicy:
    """How far back an incremental sync reaches beyond its cursor, and why."""

    full: bool = False
    # Covers minute-granular JQL, clock skew and same-minute updates; costs a few re-fetched items.
    overlap: timedelta = timedelta(minutes=10)
    # Jira Cloud's search is eventually consistent: never move a cursor past now minus this.
    index_lag: timedelta = timedelta(minutes=2)
    # Deletions change nothing a cheap query sees; a quiet night reconciles once this has passed.
    reconcile_every: timedelta = timedelta(days=7)
    reconcile: bool = False  # reconcile tonight whatever the cadence (pulse sync --reconcile)

    @classmethod
    def from_settings(cls, settings: SyncSettings, full: bool = False, reconcile: bool = False) -> SyncPolicy:
        return cls(full=full, overlap=timedelta(minutes=settings.overlap_minutes),
                   index_lag=timedelta(minutes=settings.index_lag_minutes),
                   reconcile_every=timedelta(days=settings.reconcile_every_days), reconcile=reconcile)

    def reconcile_due(self, cursor: Cursor | None, now: datetime) -> bool:
        return (self.reconcile or cursor is None or cursor.reconciled_at is None
                or now - cursor.reconciled_at >= self.reconcile_every)


@dataclass(frozen=True)
class ProjectResult:
    site: str
    project_key: str
    source: str
    items: int
    requests: int
    mode: str | None  # "full" | "incremental"; None when the site failed before the project began
    error: str | None = None


@dataclass(frozen=True)
class SiteResult:
    site: str
    projects: tuple[ProjectResult, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class Cursor:
    """Where a project's next incremental sync starts, and when its members were last all listed."""

    cursor_at: datetime | None
    reconciled_at: datetime | None = None


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _ts(value: str | None) -> datetime | None:
    """Tracker timestamps (Jira ``...+0000``, GitHub ``...Z``) as aware datetimes."""
    if not value:
        return None
    text = value.replace("Z", "+00:00")
    if len(text) > 5 and text[-5] in "+-" and text[-3] != ":":  # +0000 -> +00:00
        text = f"{text[:-2]}:{text[-2:]}"
    return datetime.fromisoformat(text)


def _github_time(instant: datetime) -> str:
    return instant.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def read_cursor(con: duckdb.DuckDBPyConnection, site: str, project_key: str) -> Cursor | None:
    # fetchall, not fetchone: DuckDB refuses register() on a connection with an unfinished result
    rows = con.execute("SELECT cursor_at, reconciled_at FROM meta.sync_cursors WHERE site = ? AND project_key = ?",
                       [site, project_key]).fetchall()
    return Cursor(*rows[0]) if rows else None


def _etag(con: duckdb.DuckDBPyConnection, site: str, request: str) -> str | None:
    rows = con.execute("SELECT etag FROM meta.http_etags WHERE site = ? AND request = ?", [site, request]).fetchall()
    return rows[0][0] if rows else None


def _commit_state(con: duckdb.DuckDBPyConnection, site: str, project_key: str, source: str, cursor: Cursor,
                  full: bool, etags: dict[str, str] | None = None,
                  forget: Callable[[duckdb.DuckDBPyConnection], None] | None = None) -> None:
    """The end of a project's sync, in one transaction: ``forget`` (the deletions a complete
    listing found), the ETags of the answers this run consumed and the cursor with its
    reconciliation mark. A failure before this commit leaves the previous state whole."""
    con.execute("BEGIN")
    try:
        if forget is not None:
            forget(con)
        if etags:  # one statement: each on the writer's thread waits for Python's lock
            con.execute("INSERT OR REPLACE INTO meta.http_etags "
                        "SELECT ?, unnest(?::VARCHAR[]), unnest(?::VARCHAR[]), ?",
                        [site, list(etags), list(etags.values()), _now()])
        _write_cursor(con, site, project_key, source, cursor, full)
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise


def _write_cursor(con: duckdb.DuckDBPyConnection, site: str, project_key: str, source: str,
                  cursor: Cursor, full: bool) -> None:
    con.execute("""
        INSERT INTO meta.sync_cursors BY NAME
            SELECT ? AS site, ? AS project_key, ? AS source, ? AS cursor_at, ? AS last_full_at,
                   ? AS updated_at, ? AS reconciled_at
        ON CONFLICT (site, project_key) DO UPDATE SET
            cursor_at = excluded.cursor_at,
            last_full_at = coalesce(excluded.last_full_at, meta.sync_cursors.last_full_at),
            reconciled_at = excluded.reconciled_at,
            updated_at = excluded.updated_at""",
        [site, project_key, source, cursor.cursor_at, _now() if full else None, _now(), cursor.reconciled_at])


def _next_cursor(previous: datetime | None, seen: datetime | None, started: datetime,
                 policy: SyncPolicy) -> datetime | None:
    """The greatest committed ``updated``, never past what the search index is sure to show."""
    candidates = [t for t in (previous, seen) if t is not None]
    if not candidates:
        return previous
    return min(max(candidates), started - policy.index_lag)


def _record(con: duckdb.DuckDBPyConnection, sync_id: str, result: ProjectResult, started: datetime) -> None:
    con.execute(
        "INSERT OR REPLACE INTO meta.source_syncs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [sync_id, result.site, result.project_key, result.source,
         "failed" if result.error else "succeeded", result.items, result.requests, result.error,
         started, _now(), result.mode],
    )


def _forget_unseen(con: duckdb.DuckDBPyConnection, table: str, key_column: str, site: str,
                   project_key: str, sync_id: str) -> None:
    """After a complete sync of a project, rows it did not return were deleted or moved away:
    issues leave a tombstone (raw.tombstones) first."""
    if table in _BURIED:
        _bury(con, table, f"r.site = ? AND r.{key_column} = ? AND r.sync_id <> ?", [site, project_key, sync_id],
              sync_id)
    con.execute(f"DELETE FROM {table} WHERE site = ? AND {key_column} = ? AND sync_id <> ?",
                [site, project_key, sync_id])


def _unseen(table: str, key_column: str, site: str, project_key: str,
            sync_id: str) -> Callable[[duckdb.DuckDBPyConnection], None]:
    """``_forget_unseen`` as a queued operation (data, not a closure: a landing journal keeps it)."""
    return partial(_forget_unseen, table=table, key_column=key_column, site=site, project_key=project_key,
                   sync_id=sync_id)


def _drop_relations(con: duckdb.DuckDBPyConnection, site: str, repo: str, numbers: list[int]) -> None:
    """The relations of issues whose summaries now say they have none."""
    con.execute("DELETE FROM raw.github_issue_relations WHERE site = ? AND repo = ? "
                "AND number IN (SELECT unnest(?::BIGINT[]))", [site, repo, numbers])


# -- Tombstones --------------------------------------------------------------------------------
# What an issue was when it vanished, read from its raw row (``r``) before the row is deleted:
# the columns of raw.tombstones after the key ones (see warehouse/sql/014_tombstones.sql).
_LAST_STATE = {
    "raw.jira_issues": """
        'jira' AS source, r.issue_id, 'jira:' || r.site || ':' || r.issue_id AS item_id,
        r.issue_key AS key_before, r.project_key AS project_before,
        r.sync_id AS last_sync_id, r.updated_at AS last_updated_at,
        r.payload->'fields'->>'summary' AS title, lower(r.payload->'fields'->'issuetype'->>'name') AS item_type,
        TRY_CAST(r.payload->'fields'->>'created' AS TIMESTAMPTZ) AS created_at,
        r.payload->'fields'->'status'->>'name' AS status,
        CASE r.payload->'fields'->'status'->'statusCategory'->>'key' WHEN 'new' THEN 'todo'
            WHEN 'indeterminate' THEN 'in_progress' WHEN 'done' THEN 'done' END AS status_category,
        r.payload->'fields'->'resolution'->>'name' AS resolution,
        coalesce(json_extract_string(r.payload, '$.fields.fixVersions[*].name'), []) AS milestones,
        list_transform(coalesce(json_extract_string(r.payload, '$.fields.fixVersions[*].id'), []),
                       lambda v: 'jira:' || r.site || ':version:' || v) AS milestone_ids,
        TRY_CAST(r.payload->'fields'->>(SELECT '$.' || (field_roles->>'story_points') FROM raw.jira_sites s
                                         WHERE s.site = r.site) AS DOUBLE) AS story_points,
        r.payload->'fields'->'assignee'->>'displayName' AS assignee,
        coalesce(r.payload->'fields'->'assignee'->>'accountId',
                 r.payload->'fields'->'assignee'->>'name') AS assignee_id,
        TRY_CAST(r.payload->'fields'->>'duedate' AS DATE) AS due_date, r.payload""",
    "raw.github_issues": """
        'github' AS source, CAST(r.issue_id AS VARCHAR) AS issue_id, 'github:' || r.issue_id AS item_id,
        r.repo || '#' || r.number AS key_before, r.repo AS project_before,
        r.sync_id AS last_sync_id, r.updated_at AS last_updated_at,
        r.payload->>'title' AS title, NULL AS item_type,
        TRY_CAST(r.payload->>'created_at' AS TIMESTAMPTZ) AS created_at, r.payload->>'state' AS status,
        CASE WHEN r.payload->>'state' = 'closed' THEN 'done' ELSE 'todo' END AS status_category,
        r.payload->>'state_reason' AS resolution,
        CASE WHEN r.payload->'milestone'->>'number' IS NOT NULL THEN [r.payload->'milestone'->>'title']
             ELSE [] END AS milestones,
        CASE WHEN r.payload->'milestone'->>'number' IS NOT NULL
             THEN ['github:' || r.site || ':' || r.repo || ':milestone:' || (r.payload->'milestone'->>'number')]
             ELSE [] END AS milestone_ids,
        NULL AS story_points, r.payload->'assignee'->>'login' AS assignee,
        r.payload->'assignee'->>'login' AS assignee_id,
        NULL AS due_date, r.payload""",
}
_BURIED = tuple(_LAST_STATE)
_SOURCE = {"raw.jira_issues": "jira", "raw.github_issues": "github"}
# Pull requests share raw.github_issues; they are no work items and leave no tombstone.
_NOT_A_PULL_REQUEST = {"raw.jira_issues": "true", "raw.github_issues": (
    "json_extract_string(r.payload, '$.pull_request.url') IS NULL "
    "AND json_extract_string(r.payload, '$.pull_request.html_url') IS NULL")}
# Where a vanishing raw row went, when the warehouse can tell: a GitHub issue whose global id is
# held in another repository of the site, or whose repository recorded a transferred event.
_WENT_TO = {
    "raw.jira_issues": "NULL::VARCHAR AS moved_to_project, NULL::VARCHAR AS moved_to_key, 'deleted' AS kind",
    "raw.github_issues": """
        o.repo AS moved_to_project, o.repo || '#' || o.number AS moved_to_key,
        CASE WHEN o.repo IS NOT NULL OR EXISTS (
                 SELECT 1 FROM raw.github_issue_events e WHERE e.site = r.site AND e.repo = r.repo
                 AND e.issue_number = r.number AND e.payload->>'event' = 'transferred')
             THEN 'moved' ELSE 'deleted' END AS kind""",
}
_OTHER_PLACE = {
    "raw.jira_issues": "",
    "raw.github_issues": ("LEFT JOIN raw.github_issues o "
                          "ON o.site = r.site AND o.issue_id = r.issue_id AND o.repo <> r.repo"),
}


def _sync_clock(con: duckdb.DuckDBPyConnection, sync_id: str) -> datetime:
    """The sync's clock: meta.sync_runs.as_of (the sandbox clock for sandbox runs), else now."""
    rows = con.execute("SELECT as_of FROM meta.sync_runs WHERE sync_id = ?", [sync_id]).fetchall()
    return rows[0][0] if rows and rows[0][0] is not None else _now()


def _history_of(con: duckdb.DuckDBPyConnection) -> str:
    """The SQL of an item's rows of core.item_history, when a build has made that table."""
    present = con.execute("SELECT count(*) FROM duckdb_tables() WHERE schema_name = 'core' "
                          "AND table_name = 'item_history'").fetchall()[0][0]
    if not present:
        return "NULL"
    return """(SELECT list(struct_pack(field := h.field, "value" := h.value, value_id := h.value_id,
                                       value_number := h.value_number, valid_from := h.valid_from,
                                       valid_to := h.valid_to)
                           ORDER BY h.field, h.valid_from, h.value_id, h.value)
               FROM core.item_history h WHERE h.item_id = t.item_id)"""


def _bury(con: duckdb.DuckDBPyConnection, table: str, where: str, params: list[Any], sync_id: str,
          arrivals: str | None = None) -> None:
    """Tombstone the issues of ``table`` (alias ``r``) that ``where`` selects, right before the
    caller deletes or replaces their rows, in the caller's transaction: their last known state and
    the history the last build held. ``arrivals`` names a relation (issue_id, project, key) of
    issues landing elsewhere: then they are moved there. A rerun writes nothing twice."""
    went = _WENT_TO[table]
    joins = _OTHER_PLACE[table]
    if arrivals is not None:
        went = "a.project AS moved_to_project, a.key AS moved_to_key, 'moved' AS kind"
        joins = f"JOIN {arrivals} a ON a.issue_id = CAST(r.issue_id AS VARCHAR)"
    # First the ids alone (the key columns, no payloads): most listings find nothing gone.
    ids = [i for (i,) in con.execute(
        f"SELECT DISTINCT CAST(r.issue_id AS VARCHAR) FROM {table} r {joins} WHERE {where}", params).fetchall()]
    if not ids:
        return
    con.execute(f"""
        INSERT INTO raw.tombstones BY NAME
        WITH t AS (
            SELECT r.site, {_LAST_STATE[table]}, {went}, ? AS observed_at, ? AS sync_id, ? AS synced_at
            FROM {table} r {joins}
            WHERE {where} AND CAST(r.issue_id AS VARCHAR) IN (SELECT unnest(?::VARCHAR[]))
              AND {_NOT_A_PULL_REQUEST[table]})
        SELECT t.*, {_history_of(con)} AS history FROM t
        ON CONFLICT DO NOTHING""", [_sync_clock(con, sync_id), sync_id, _now(), *params, ids])


def _note_arrivals(con: duckdb.DuckDBPyConnection, table: str, site: str, project: str,
                   landing: list[tuple[str, str]], sync_id: str) -> None:
    """Before ``landing`` (issue id, key) lands in ``project``: an id we hold in another project
    (a Jira issue keeps its id when moved; ``table``'s row is about to be replaced) or tombstoned
    there as deleted (its old project's listing missed it first) was moved here. Writes the
    tombstones that say so in a transaction of their own, just before the page's upsert (which
    opens its own): a failure between the two leaves the old row, and the rerun's tombstone is
    the one already written (a rerun writes nothing twice)."""
    if not landing:
        return
    column = "project_key" if table == "raw.jira_issues" else "repo"
    ids = [i for i, _ in landing]
    # One statement for both questions: it runs on the writer's thread before every page, and each
    # statement there waits for Python's lock behind the fetching threads' parsing.
    elsewhere, buried = con.execute(f"""
        WITH landing AS (SELECT unnest(?::VARCHAR[]) AS issue_id)
        SELECT (SELECT count(*) FROM {table} WHERE site = ? AND {column} <> ?
                AND CAST(issue_id AS VARCHAR) IN (SELECT issue_id FROM landing)),
               (SELECT count(*) FROM raw.tombstones WHERE site = ? AND source = ? AND kind = 'deleted'
                AND issue_id IN (SELECT issue_id FROM landing))""",
        [ids, site, project, site, _SOURCE[table]]).fetchone()
    if not elsewhere and not buried:
        return
    con.execute("BEGIN")
    try:
        con.execute("CREATE OR REPLACE TEMP TABLE _arrivals AS SELECT unnest(?::VARCHAR[]) AS issue_id, "
                    "? AS project, unnest(?::VARCHAR[]) AS key", [ids, project, [k for _, k in landing]])
        if elsewhere:
            _bury(con, table, f"r.site = ? AND r.{column} <> a.project", [site], sync_id, arrivals="_arrivals")
        if buried:
            con.execute("""
                INSERT INTO raw.tombstones BY NAME
                SELECT t.* REPLACE ('moved' AS kind, a.project AS moved_to_project, a.key AS moved_to_key,
                                    ? AS observed_at, ? AS sync_id, ? AS synced_at)
                FROM raw.tombstones t JOIN _arrivals a ON a.issue_id = t.issue_id
                WHERE t.site = ? AND t.source = ? AND t.kind = 'deleted' AND a.key <> t.key_before
                ON CONFLICT DO NOTHING""", [_sync_clock(con, sync_id), sync_id, _now(), site, _SOURCE[table]])
        con.execute("DROP TABLE _arrivals")
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise


def describe(exc: BaseException) -> str:
    """What failed, in words a user can act on: the tracker's status and own message, and the URL
    for Jira. Built from chosen attributes, never the library's full text, which can quote
    headers; one line, at most 500 characters."""
    if isinstance(exc, JIRAError):
        text = f"HTTP {exc.status_code} from {(exc.url or '').split('?')[0]}: {exc.text}"
    elif isinstance(exc, GithubException):
        data = exc.data if isinstance(exc.data, dict) else {}
        text = f"HTTP {exc.status}: {data.get('message') or exc.message or ''}"
    else:
        text = (str(exc).strip().splitlines() or [""])[0]
    return f"{type(exc).__name__}: {' '.join(text.split())}"[:500]


def _project(site: str, key: str) -> str:
    """A project (Jira project key or GitHub owner/repo) as the writer names it: its pages, calls
    and failures, and the order a call keeps with them, all go by this name."""
    return f"{site}/{key}"


def _guarded(writer: Writer, sync_id: str, site: str, project_key: str, source: str,
             mode: str, requests: Callable[[], int], work: Callable[[], int]) -> ProjectResult:
    started, before = _now(), requests()
    emit(ProjectStarted(site, project_key))
    try:
        items = work()
        result = ProjectResult(site, project_key, source, items, requests() - before, mode)
    except Exception as exc:  # one project's failure must not stop the others
        log.error("sync of %s on %s failed: %s", project_key, site, describe(exc))
        result = ProjectResult(site, project_key, source, 0, requests() - before, mode, describe(exc))
    # not skipped when the project failed (project=None), yet ordered with its pages only: a
    # call of no order would hold back every project's events in the writer's side lane
    writer.call(partial(_record, sync_id=sync_id, result=result, started=started), order=_project(site, project_key))
    emit(ProjectSynced(site, project_key, result.items, result.requests, result.error))
    return result


def site_failed(writer: Writer, sync_id: str, site: str, source: str, keys: list[str],
                exc: BaseException, requests: int, started: datetime) -> SiteResult:
    """A site that failed before any project began: each of its projects failed with the cause."""
    log.error("site %s failed: %s", site, describe(exc))
    results = tuple(ProjectResult(site, key, source, 0, requests if n == 0 else 0, None, describe(exc))
                    for n, key in enumerate(keys))
    for result in results:
        writer.call(partial(_record, sync_id=sync_id, result=result, started=started),
                    order=_project(site, result.project_key))
        emit(ProjectSynced(site, result.project_key, 0, result.requests, result.error))
    return SiteResult(site, results)


def _in_parallel(con: duckdb.DuckDBPyConnection, source: Any, keys: list[str], concurrency: int,
                 one: Callable[[duckdb.DuckDBPyConnection, Any, str], ProjectResult]) -> tuple[ProjectResult, ...]:
    """Sync a site's projects, at most ``concurrency`` at once: each thread reads the warehouse
    through its own DuckDB cursor (a connection of its own to the same database) and the site
    through its own reader; every write goes through the sync's one ``Writer``."""
    def task(key: str, reader: Any) -> ProjectResult:
        cur = con.cursor()
        Lanes.expect(None)  # a pool's thread: nothing the last project's chains said holds here
        try:
            return one(cur, reader, key)
        finally:
            cur.close()

    if concurrency <= 1 or len(keys) <= 1:
        return tuple(task(key, source) for key in keys)

    with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="sync") as pool:
        return tuple(pool.map(lambda key: task(key, source.worker()), keys))


def sync_sites(con: duckdb.DuckDBPyConnection, sites: list[Callable[[Writer], SiteResult]],
               writer: Writer | Journal | None = None, lanes: Lanes | None = None) -> list[SiteResult]:
    """Every site at once, each in a thread of its own (and its projects in a pool of their own),
    all writing through one ``Writer``: the sites' requests overlap, and no two of them ever
    contend for the warehouse. ``sites`` are ``sync_jira_site``/``sync_github_site`` calls
    waiting for the writer; the results come back in their order. With a landing ``Journal`` for
    ``writer`` (a shard of a scaled-out sync), ``con`` is the night's state copy and nothing is
    written until ``replay_landed``. With the sites' ``lanes``, a request waits for room in the
    writer's queue before it takes one (``Lanes.admitting``): the pages in hand stay bounded
    however many projects are read at once."""
    if not sites:
        return []
    if writer is None:
        with Writer(con) as own:
            return sync_sites(con, sites, own, lanes)
    admitting = lanes.admitting(writer.has_room, writer.wait_for_room) \
        if lanes is not None and isinstance(writer, Writer) else nullcontext()
    with admitting, ThreadPoolExecutor(max_workers=len(sites), thread_name_prefix="site") as pool:
        return list(pool.map(lambda site: site(writer), sites))


def replay_landed(con: duckdb.DuckDBPyConnection, store: LandingStore, run_id: str) -> list[SiteResult]:
    """Write a scaled-out sync's journals (``warehouse.landing``) through one ``Writer``, shard by
    shard, each in the order its threads recorded it; returns the shards' results, where a write
    that failed here marks its project failed (in ``meta.source_syncs`` too), as it would have
    in a sync of one process. Another project's writes go on."""
    results: list[SiteResult] = []
    with Writer(con) as writer:
        for path in store.journals(run_id):
            for record in store.records(path):
                if isinstance(record, Land):
                    writer.put(record)  # serialised when it was journalled
                elif isinstance(record, Call):
                    writer.run(record.fn, project=record.project, order=record.order)
                else:
                    results.extend(record.results)
    failed = writer.failures()

    def merged(p: ProjectResult) -> ProjectResult:
        exc = failed.get(_project(p.site, p.project_key))
        if exc is None or p.error is not None:
            return p
        p = replace(p, items=0, error=describe(exc))
        con.execute("UPDATE meta.source_syncs SET status = 'failed', items = 0, error = ? "
                    "WHERE sync_id = ? AND site = ? AND project_key = ?", [p.error, run_id, p.site, p.project_key])
        return p

    return [replace(site, projects=tuple(merged(p) for p in site.projects)) for site in results]


# -- Jira --------------------------------------------------------------------------------------

def sync_jira_site(con: duckdb.DuckDBPyConnection, source: JiraSource,
                   projects: list[tuple[str, str | None]], sync_id: str,
                   policy: SyncPolicy = SyncPolicy(), writer: Writer | None = None) -> SiteResult:
    """Sync the given ``(project_key, jql)`` pairs of one Jira site; its writes go through
    ``writer`` (one of its own when none is given: it is closed before this returns)."""
    if writer is None:
        with Writer(con) as own:
            return sync_jira_site(con, source, projects, sync_id, policy, own)
    site = source.site.name
    jqls = dict(projects)
    started, before = _now(), source.requests
    try:
        meta = source.metadata()
    except Exception as exc:  # the site is down or refuses us: every project is recorded as failed
        return site_failed(writer, sync_id, site, "jira", list(jqls), exc, source.requests - before, started)
    writer.land("raw.jira_sites", [{
        "site": site, "base_url": source.site.url, "server_info": meta.server_info,
        "myself": meta.myself, "fields": meta.fields, "statuses": meta.statuses,
        "link_types": meta.link_types, "field_roles": meta.field_roles, "synced_at": _now(),
        "sync_id": sync_id,
    }], project=None, json_columns=("server_info", "myself", "fields", "statuses", "link_types", "field_roles"))

    def one(cur: duckdb.DuckDBPyConnection, worker: JiraSource, key: str) -> ProjectResult:
        cursor = read_cursor(cur, site, key)
        full = policy.full or cursor is None or cursor.cursor_at is None
        return _guarded(writer, sync_id, site, key, "jira", "full" if full else "incremental",
                        lambda: worker.requests,
                        lambda: _sync_jira_project(cur, writer, worker, key, jqls[key], sync_id, cursor, full, policy))

    # An issue moved between two projects of the site is landed by one project's thread and
    # forgotten by the other's reconciliation: the one writer runs the two one after the other,
    # each against what the other committed.
    results = _in_parallel(con, source, list(jqls), source.site.concurrency, one)
    # Once per site, after its projects: histories and remote links of issues no longer held go too.
    # ordered with the site's own operations only (all on the main lane): no repository's events wait for it
    writer.call(partial(_forget_orphans, site=site), order=site)
    return SiteResult(site, results)


def _forget_orphans(con: duckdb.DuckDBPyConnection, site: str) -> None:
    for table in ("raw.jira_changelogs", "raw.jira_remote_links"):
        con.execute(f"""DELETE FROM {table} c WHERE site = ? AND NOT EXISTS (
                            SELECT 1 FROM raw.jira_issues i WHERE i.site = c.site AND i.issue_id = c.issue_id)""", [site])


def _sync_jira_project(con: duckdb.DuckDBPyConnection, writer: Writer, source: JiraSource, key: str,
                       jql: str | None, sync_id: str, cursor: Cursor | None, full: bool, policy: SyncPolicy) -> int:
    """One project: ``con`` reads the warehouse (this thread's cursor), ``writer`` writes it."""
    site, started = source.site.name, _now()
    project = _project(site, key)
    # Versions have no change history in the API: a snapshot each sync is how slips are seen.
    writer.land("raw.jira_versions", [{"site": site, "project_key": key, "version_id": str(v["id"]),
                                       "payload": v, "synced_at": _now(), "sync_id": sync_id}
                                      for v in source.versions(key)], project=project)
    writer.run(_unseen("raw.jira_versions", "project_key", site, key, sync_id), project=project)
    since = None if full else cursor.cursor_at - policy.overlap
    count, seen, fresh = 0, None, False
    cut: list[str] = []  # ids of issues whose search result cut their changelog, fetched in bulk
    for page in source.issue_pages(key, jql, since):
        # What is new or moved since we last held it; the overlap window re-reads the rest.
        changed = [str(i["id"]) for i in page] if full else _changed_issues(con, site, page)
        # A change counts until the cursor passes it: an issue landed by a run that failed before
        # its deletion check is held already, yet the rerun must still look for deletions.
        fresh = fresh or bool(changed) or (not full and _any_after(page, cursor.cursor_at))
        if source.site.remote_links:  # before the page lands: a crash between them loses no refresh
            _refresh_remote_links(writer, project, source, site, changed, sync_id)
        synced, changed_ids = _now(), set(changed)
        arrivals = [(str(i["id"]), i["key"]) for i in page if str(i["id"]) in changed_ids]
        count += writer.land("raw.jira_issues", [{
            "site": site, "project_key": key, "issue_id": str(i["id"]), "issue_key": i["key"],
            "updated_at": i["fields"].get("updated"), "payload": i, "synced_at": synced,
            "sync_id": sync_id} for i in page], project=project,
            # an issue held in another project, or tombstoned there, was moved here
            before=partial(_note_arrivals, table="raw.jira_issues", site=site, project=key, landing=arrivals,
                           sync_id=sync_id))
        emit(ItemsLanded(site, key, len(page)))
        cut.extend(_incomplete_changelogs(con, site, page))
        if len(cut) >= BULK_CHANGELOG_ISSUES:
            _complete_changelogs(writer, project, source, site, cut, sync_id)
            cut = []
        for issue in page:
            updated = _ts(issue["fields"].get("updated"))
            seen = updated if seen is None or (updated and updated > seen) else seen
        del page  # not held while the next page is read: a thread holds one parsed page at a time
    _complete_changelogs(writer, project, source, site, cut, sync_id)
    reconciled = cursor.reconciled_at if cursor else None
    forget: Callable[[duckdb.DuckDBPyConnection], None] | None = None
    if full:
        forget = _unseen("raw.jira_issues", "project_key", site, key, sync_id)
        reconciled = started
    elif fresh or policy.reconcile_due(cursor, started):
        ids = source.issue_ids(key, jql)
        forget = partial(_forget_missing, site=site, key=key, ids=ids, sync_id=sync_id)
        reconciled = started
    if forget is not None:  # the nights that list every issue list the boards' open sprints too
        _land_board_sprints(writer, project, source, key, sync_id)
    state = Cursor(_next_cursor(cursor.cursor_at if cursor else None, seen, started, policy), reconciled)
    writer.call(partial(_commit_state, site=site, project_key=key, source="jira", cursor=state, full=full,
                        forget=forget), project=project)
    return count


def _land_board_sprints(writer: Writer, project: str, source: JiraSource, key: str, sync_id: str) -> None:
    """The active and future sprints of the project's boards, those no issue names included: the
    project's rows replaced by what the listing shows (a sprint closed or deleted since leaves; a
    closed one lives on in its issues' Sprint fields). A site without Jira Software (the connector
    noted its 404) keeps what it held and the sync goes on."""
    boards = source.board_sprints(key)
    if boards is None:
        return
    site, synced = source.site.name, _now()
    writer.land("raw.jira_board_sprints", [{
        "site": site, "project_key": key, "board_id": int(board["id"]), "sprint_id": int(sprint["id"]),
        "board": board, "payload": sprint, "synced_at": synced, "sync_id": sync_id}
        for board, sprints in boards for sprint in sprints], project=project, json_columns=("board", "payload"))
    writer.run(_unseen("raw.jira_board_sprints", "project_key", site, key, sync_id), project=project)


def _any_after(page: list[dict[str, Any]], instant: datetime | None) -> bool:
    """Whether any issue of the page was updated after ``instant`` (the committed cursor)."""
    return instant is not None and any((t := _ts(i["fields"].get("updated"))) and t > instant for i in page)


def _changed_issues(con: duckdb.DuckDBPyConnection, site: str, page: list[dict[str, Any]]) -> list[str]:
    """Ids of the page's issues that are new here or whose ``updated`` differs from the held copy."""
    ids = [str(i["id"]) for i in page]
    held = dict(con.execute("SELECT issue_id, updated_at FROM raw.jira_issues WHERE site = ? AND issue_id IN "
                            "(SELECT unnest(?::VARCHAR[]))", [site, ids]).fetchall())
    return [str(i["id"]) for i in page
            if str(i["id"]) not in held or held[str(i["id"])] != _ts(i["fields"].get("updated"))]


def _incomplete_changelogs(con: duckdb.DuckDBPyConnection, site: str, page: list[dict[str, Any]]) -> list[str]:
    """Ids of issues whose search result cut their changelog (it embeds at most 100 histories,
    newest first) and whose paged histories we do not yet hold in full: a rerun after a crash
    fetches what is missing, and an unchanged issue re-read in the overlap window costs nothing."""
    totals = {str(i["id"]): (i.get("changelog") or {}).get("total", 0) for i in page
              if (i.get("changelog") or {}).get("total", 0) > len((i.get("changelog") or {}).get("histories", []))}
    if not totals:
        return []
    held = dict(con.execute("SELECT issue_id, count(*) FROM raw.jira_changelogs WHERE site = ? AND issue_id IN "
                            "(SELECT unnest(?::VARCHAR[])) GROUP BY issue_id", [site, list(totals)]).fetchall())
    return [issue_id for issue_id, total in totals.items() if held.get(issue_id, 0) < total]


def _complete_changelogs(writer: Writer, project: str, source: JiraSource, site: str,
                         issue_ids: list[str], sync_id: str) -> None:
    """Whole histories of the cut issues, up to 1,000 issues a bulk request (Cloud), landed as
    they arrive; their issues are committed first, and the cursor moves only after both."""
    for issue_id, histories in source.changelogs(issue_ids):
        writer.land("raw.jira_changelogs", [{
            "site": site, "issue_id": issue_id, "history_id": str(h["id"]), "payload": h,
            "synced_at": _now(), "sync_id": sync_id} for h in histories], project=project)


def _refresh_remote_links(writer: Writer, project: str, source: JiraSource, site: str,
                          issue_ids: list[str], sync_id: str) -> None:
    """Remote links of the issues that changed (Jira has no bulk form): each issue's set replaced."""
    for done, issue_id in enumerate(issue_ids):
        Lanes.expect(len(issue_ids) - done)
        rows = [{"site": site, "issue_id": issue_id, "remote_id": str(link["id"]), "payload": link,
                 "synced_at": _now(), "sync_id": sync_id} for link in source.remote_links(issue_id)]
        writer.run(partial(_replace_rows, table="raw.jira_remote_links", where="site = ? AND issue_id = ?",
                           params=[site, issue_id], rows=rows), project=project)


def _replace_rows(con: duckdb.DuckDBPyConnection, table: str, where: str, params: list[Any],
                  rows: list[dict[str, Any]]) -> None:
    """Replace the rows of ``table`` that ``where`` selects (one issue's set) with ``rows``, in
    one transaction."""
    con.execute("BEGIN")
    try:
        con.execute(f"DELETE FROM {table} WHERE {where}", params)
        # the issue's keys were deleted just above, so upsert's all-new INSERT meets none (KeysHeld)
        upsert(con, table, rows, transaction=False)
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise


def _forget_missing(con: duckdb.DuckDBPyConnection, site: str, key: str, ids: set[str], sync_id: str) -> None:
    """Issues of the project that its key-only listing no longer returns were deleted or moved:
    each leaves a tombstone (raw.tombstones) first."""
    # one list parameter, not a DataFrame: the sync then never imports pandas (about 30 MiB)
    con.execute("CREATE OR REPLACE TEMP TABLE _current_ids AS SELECT unnest(?::VARCHAR[]) AS issue_id", [sorted(ids)])
    try:
        _bury(con, "raw.jira_issues", """r.site = ? AND r.project_key = ?
              AND NOT EXISTS (SELECT 1 FROM _current_ids c WHERE c.issue_id = r.issue_id)""", [site, key], sync_id)
        con.execute("""DELETE FROM raw.jira_issues r WHERE site = ? AND project_key = ?
                       AND NOT EXISTS (SELECT 1 FROM _current_ids c WHERE c.issue_id = r.issue_id)""", [site, key])
    finally:
        con.execute("DROP TABLE IF EXISTS _current_ids")


# -- GitHub ------------------------------------------------------------------------------------

def sync_github_site(con: duckdb.DuckDBPyConnection, source: GithubSource, repos: list[str],
                     sync_id: str, policy: SyncPolicy = SyncPolicy(), writer: Writer | None = None) -> SiteResult:
    """Sync the given ``owner/name`` repositories of one GitHub site; its writes go through
    ``writer`` (one of its own when none is given: it is closed before this returns)."""
    if writer is None:
        with Writer(con) as own:
            return sync_github_site(con, source, repos, sync_id, policy, own)
    site = source.site.name

    def one(cur: duckdb.DuckDBPyConnection, worker: GithubSource, repo: str) -> ProjectResult:
        cursor = read_cursor(cur, site, repo)
        full = policy.full or cursor is None or cursor.cursor_at is None
        return _guarded(writer, sync_id, site, repo, "github", "full" if full else "incremental",
                        lambda: worker.requests,
                        lambda: _sync_github_repo(cur, writer, worker, repo, sync_id, cursor, full, policy))

    return SiteResult(site, _in_parallel(con, source, repos, source.site.concurrency, one))


def _sync_github_repo(con: duckdb.DuckDBPyConnection, writer: Writer, source: GithubSource, repo: str,
                      sync_id: str, cursor: Cursor | None, full: bool, policy: SyncPolicy) -> int:
    """One repository: ``con`` reads the warehouse (this thread's cursor), ``writer`` writes it."""
    site, started = source.site.name, _now()
    project = _project(site, repo)
    # ETags of the answers landed; kept only with the cursor, when everything they vouch for is in.
    etags: dict[str, str] = {}
    # Milestones have no change history or `since`: a conditional request makes asking them
    # every night free of rate limit when nothing changed.
    milestones = source.milestones(repo, etag=None if full else _etag(con, site, source.milestones_request(repo)))
    if milestones.items is not None:
        writer.land("raw.github_milestones", [{"site": site, "repo": repo, "number": m["number"], "payload": m,
                                               "synced_at": _now(), "sync_id": sync_id} for m in milestones.items],
                    project=project)
        writer.run(_unseen("raw.github_milestones", "repo", site, repo, sync_id), project=project)
        _keep(etags, milestones)

    since = None if full else _github_time(cursor.cursor_at - policy.overlap)
    count, seen, landed = _sync_github_issues(con, writer, project, source, repo, since, sync_id, full, etags)
    fresh = full or (seen is not None and seen > cursor.cursor_at)
    due = not full and policy.reconcile_due(cursor, started)
    reconciled = cursor.reconciled_at if cursor else None
    forget: Callable[[duckdb.DuckDBPyConnection], None] | None = None
    if fresh or due:
        # The repository (its open-issue count) is asked on nights that changed something.
        repository = source.repository(repo, etag=None if full else _etag(con, site, f"/repos/{repo}"))
        if repository.items is not None:
            writer.land("raw.github_repos", [{"site": site, "repo": repo, "payload": repository.items[0],
                                              "synced_at": _now(), "sync_id": sync_id}], project=project)
            _keep(etags, repository)
        if full:
            forget = _unseen("raw.github_issues", "repo", site, repo, sync_id)
            reconciled = started
        elif due or _open_count_disagrees(con, site, repo, repository, landed):
            # A full listing is the only way REST shows deletions (a deleted closed issue moves no
            # count): it runs when reconciliation is due or the repository's own open count says
            # we hold one too many or too few.
            for page in source.issue_pages(repo):
                _land_issues(writer, project, site, repo, page.items or [], sync_id)
                del page  # not held while the next page is read
            forget = _unseen("raw.github_issues", "repo", site, repo, sync_id)
            reconciled = started
    state = Cursor(_next_cursor(cursor.cursor_at if cursor else None, seen, started, policy), reconciled)
    writer.call(partial(_commit_state, site=site, project_key=repo, source="github", cursor=state, full=full,
                        etags=etags, forget=forget), project=project)
    return count


def _keep(etags: dict[str, str], page) -> None:
    """Note a consumed answer's ETag for ``_commit_state``."""
    if page.etag:
        etags[page.request] = page.etag


def _sync_github_issues(con: duckdb.DuckDBPyConnection, writer: Writer, project: str, source: GithubSource,
                        repo: str, since: str | None, sync_id: str, full: bool,
                        etags: dict[str, str]) -> tuple[int, datetime | None, dict[int, bool]]:
    """Issues updated since ``since`` with their events and relations; (items written, newest
    update, whether each issue landed is open, by number). The events are a page chain of their
    own, read by a second reader of the site beside the issues and relations once the first issues
    page says something changed: a repository's requests are then the longer of two chains, not
    their sum (the sync's lanes still bound what is in flight)."""
    site = source.site.name
    request = source.issues_request(repo, since)
    count, seen, landed = 0, None, {}
    changed: list[tuple[int, bool, bool]] = []  # (number, has sub-issues, is blocked): not whole payloads
    relations = 0  # the requests ``changed`` will take (``_refresh_relations``)
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="events") as beside:
        events = reader = None
        stop = threading.Event()  # the issues failed: the events stop at their next page
        try:
            for page in source.issue_pages(repo, since, etag=None if full else _etag(con, site, request)):
                if page.items is None:  # 304: nothing changed since the same request last time
                    return 0, None, {}
                if events is None:
                    reader = source.worker()  # its own connection and request count
                    events = beside.submit(_land_github_events, writer, project, reader, site, repo, since, sync_id,
                                           stop)
                _keep(etags, page)
                count += _land_issues(writer, project, site, repo, page.items, sync_id)
                emit(ItemsLanded(site, repo, len(page.items)))
                landed.update((i["number"], i.get("state") == "open") for i in page.items)
                named = [(i["number"], (i.get("sub_issues_summary") or {}).get("total", 0) > 0,
                          (i.get("issue_dependencies_summary") or {}).get("total_blocked_by", 0) > 0)
                         for i in page.items]
                changed.extend(named)
                relations += sum(subs + deps for _, subs, deps in named)
                for issue in page.items:
                    updated = _ts(issue.get("updated_at"))
                    seen = updated if seen is None or (updated and updated > seen) else seen
                # this reader's requests still to come: the list's pages and the relations it named
                Lanes.expect(page.left + relations or None)
                del page  # not held while the next page is read
            _refresh_relations(writer, project, source, site, repo, changed, sync_id, full)
        except BaseException:
            stop.set()
            raise
        finally:
            if events is not None:  # waited for either way: nothing lands for a repository after it ended
                _join_events(source, reader, events, failed=stop.is_set())
    return count, seen, landed


def _join_events(source: GithubSource, reader: GithubSource, events, failed: bool) -> None:
    """Wait for the events reader; its requests count with the repository's, whether it failed
    or not. Its error fails the repository; when the issues failed first, theirs is raised."""
    try:
        events.result()
    except Exception:
        if not failed:
            raise
    finally:
        source.requests += reader.requests


def _land_github_events(writer: Writer, project: str, source: GithubSource, site: str, repo: str,
                        since: str | None, sync_id: str, stop: threading.Event) -> None:
    """Repo-level issue events newest first down to ``since``, each page landed as it comes."""
    for events in source.event_pages(repo, since):
        if stop.is_set():
            break
        # the payload is the event without its embedded issue but for the issue's id and number
        # (raw.github_issues holds the rest), already JSON text (connectors.github_source.issue_events)
        synced = _now()
        writer.land("raw.github_issue_events", [{
            "site": site, "repo": repo, "event_id": e.id, "issue_number": e.issue_number,
            "created_at": e.created_at, "payload": JsonText(e.payload), "synced_at": synced,
            "sync_id": sync_id} for e in events], project=project)
        del events  # not held while the next page is read


def _land_issues(writer: Writer, project: str, site: str, repo: str, issues: list[dict[str, Any]],
                 sync_id: str) -> int:
    synced = _now()
    arrivals = [(str(i["id"]), f"{repo}#{i['number']}") for i in issues]
    return writer.land("raw.github_issues", [{
        "site": site, "repo": repo, "number": i["number"], "issue_id": i["id"], "updated_at": i.get("updated_at"),
        "state": i.get("state"), "payload": i, "synced_at": synced, "sync_id": sync_id} for i in issues], project=project,
        # an issue whose id we hold in another repository, or tombstoned there, was transferred here
        before=partial(_note_arrivals, table="raw.github_issues", site=site, project=repo, landing=arrivals,
                       sync_id=sync_id))


def _open_count_disagrees(con: duckdb.DuckDBPyConnection, site: str, repo: str, repository,
                          landed: dict[int, bool]) -> bool:
    """GitHub's open_issues_count (issues and pull requests) against the open ones we hold: those
    held from before this sync, except the ones it landed (``landed``: number -> open), whose
    state is this sync's. So the count is right whether or not the writer has committed tonight's
    pages yet, and a landing process (``warehouse.landing``) that reads only the state as the
    night began gets the same answer. It reads the typed ``state`` column (migration 020): no
    payload is parsed."""
    if repository.items is None:
        return False  # 304: the repository, its open count included, is as it was
    before = con.execute("""SELECT count(*) FROM raw.github_issues
                            WHERE site = ? AND repo = ? AND state = 'open'
                            AND number NOT IN (SELECT unnest(?::BIGINT[]))""",
                         [site, repo, list(landed)]).fetchall()[0][0]
    held = before + sum(landed.values())
    return held != repository.items[0].get("open_issues_count", held)


def _refresh_relations(writer: Writer, project: str, source: GithubSource, site: str, repo: str,
                       changed: list[tuple[int, bool, bool]], sync_id: str, full: bool) -> None:
    """Sub-issues and blocked-by lists of changed issues, fetched only where the issue's own
    summaries say there is something to read; what an issue no longer has is removed."""
    if not full and (quiet := [number for number, subs, deps in changed if not subs and not deps]):
        writer.run(partial(_drop_relations, site=site, repo=repo, numbers=quiet), project=project)
    left = sum(subs + deps for _, subs, deps in changed)  # requests still to send, one a list
    for number, subs, deps in changed:
        if not subs and not deps:
            continue
        related = []
        for relation, wanted, read in (("sub_issue", subs, source.sub_issues), ("blocked_by", deps, source.blocked_by)):
            if wanted:
                Lanes.expect(left)
                left -= 1
                related += [(relation, other) for other in read(repo, number)]
        rows = [{"site": site, "repo": repo, "number": number, "relation": rel, "other_id": other["id"],
                 "payload": other, "synced_at": _now(), "sync_id": sync_id} for rel, other in related]
        if full:
            writer.land("raw.github_issue_relations", rows, project=project)
        else:
            writer.run(partial(_replace_rows, table="raw.github_issue_relations",
                               where="site = ? AND repo = ? AND number = ?", params=[site, repo, number], rows=rows),
                       project=project)
    Lanes.expect(None)
    if full:  # only once every issue's relations are in: a failure part-way loses nothing held
        writer.run(_unseen("raw.github_issue_relations", "repo", site, repo, sync_id), project=project)

