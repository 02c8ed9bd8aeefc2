"""Run the set-based SQL that turns ``raw.*`` into ``core.*`` and ``marts.*``.

Each table is one file in ``transforms/sql`` named ``<schema>_<table>.sql``: a ``CREATE OR REPLACE
TABLE`` and its ``COMMENT ON`` statements, so a table and its documentation cannot drift apart.
The only inputs besides ``raw`` are the program structure from ``program.yaml`` and ``as_of``.
"""

from __future__ import annotations

from collections.abc import Callable
import functools
import hashlib
import logging
import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import NamedTuple
from datetime import date, datetime, timezone
from importlib import resources

import duckdb

from transforms.health import ensure_health_thresholds


@dataclass(frozen=True)
class ProgramRow:
    program_id: str
    name: str
    goal: str | None


@dataclass(frozen=True)
class ProjectRow:
    program_id: str
    site: str
    source: str  # "jira" | "github"
    project_key: str
    configured_name: str | None


log = logging.getLogger(__name__)


def sql_for(schema: str, table: str) -> str:
    return resources.files("transforms").joinpath("sql", f"{schema}_{table}.sql").read_text(encoding="utf-8")


# A Jira custom field id as the site's /field lists it. Only ids of this shape are spliced into SQL:
# they come from the tracker, and tracker text is never SQL.
_CUSTOM_FIELD = re.compile(r"^customfield_[0-9]{1,12}$")


def render(con: duckdb.DuckDBPyConnection, sql: str) -> str:
    """Fill a SQL file's placeholders. A from_json schema must be a constant, so the sites' custom
    fields (story points, epic link, sprint) are written into the statement, each id checked to be
    a plain custom field id: {{JIRA_CUSTOM_FIELDS_SCHEMA}} adds them to the schema of ``fields``,
    {{JIRA_CUSTOM_FIELD_CASES}} picks one by id for jira_custom_field(fields, id)."""
    if "{{JIRA_CUSTOM_FIELD" not in sql:
        return sql
    ids = sorted({field for (field,) in con.execute(
        "SELECT DISTINCT unnest(json_extract_string(field_roles, '$.*')) FROM raw.jira_sites").fetchall()
        if field and _CUSTOM_FIELD.match(field)})
    cases = " ".join(f"WHEN '{f}' THEN f.\"{f}\"" for f in ids) or "WHEN NULL THEN NULL"
    return (sql.replace("{{JIRA_CUSTOM_FIELDS_SCHEMA}}", "".join(f', "{f}": "JSON"' for f in ids))
               .replace("{{JIRA_CUSTOM_FIELD_CASES}}", cases + " ELSE NULL::JSON"))


def set_as_of(con: duckdb.DuckDBPyConnection, as_of: datetime) -> None:
    """Every figure is computed as of one instant; SQL reads it with getvariable('as_of')."""
    stamp = as_of.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f")
    con.execute(f"SET VARIABLE as_of = TIMESTAMPTZ '{stamp}+00'")


@dataclass(frozen=True)
class Step:
    """One derived table and how a build keeps it current.

    ``scoped`` tables are keyed by work item and merged: a night deletes and rebuilds the rows of
    the items the staging steps recorded in ``meta.item_deltas`` (and those the file's ``[stale]``
    section names), nothing else. Staging tables find their own changes (raw rows landed again);
    an ``incremental`` mart applies the changes its inputs' merges recorded; every other table is
    rebuilt whole when something it reads changed."""

    schema: str
    table: str
    scoped: bool = False
    # A scoped table whose whole build outgrows the memory limit at scale (windows and aggregates
    # over every item's history spill to disk) is built whole in passes of about this many items,
    # split by a hash of the item id; 0: one pass. See rebuild_scoped.
    pass_items: int = 0
    # An item-scoped step whose merges record what they changed, for an incremental mart: the table
    # its [changes] section writes, before the held rows are replaced (from _merged, the new rows,
    # against the held ones; or the items merged, _scope). Emptied when the step is rebuilt whole,
    # which rebuilds the mart whole; nothing is recorded until the mart has been built once.
    changes: str = ""
    # A mart kept current from what changed instead of rebuilt whole: the ``changes`` table of the
    # step it reads, which its [merge] section applies, with the move of as_of, and then empties.
    # Rebuilt whole (and the table emptied) only when its structure changed or a table it reads was
    # rebuilt whole.
    incremental: str = ""

    @property
    def name(self) -> str:
        return f"{self.schema}.{self.table}"


# Items per pass of the scoped tables built in passes. At 1,000,000 items and the default 2GB
# limit, core.item_history took 19.7 s in one pass, 17.1 s in 2, 15.0 s in 4, 16.6 s in 8 (13.7 s
# in one pass with 8GB: the difference is spilling); core.burnup_events 15.4 s in one, 10.9 s in 4.
# The tables that only parse or reshape rows (core.jira_changelog_items, core.item_changes,
# core.status_transitions) got slower in passes, each of which scans all their input.
PASS_ITEMS = 250_000

# Every derived table in an order that builds each after what it reads (core.programs is written
# from the config by write_program_structure). The Dagster assets declare the same edges as deps;
# a unit test holds the two together.
STEPS = (
    Step("staging", "jira_issues"), Step("staging", "jira_changelog_versions"),
    Step("staging", "github_issues"), Step("staging", "github_issue_events"),
    Step("staging", "jira_issue_sprints", scoped=True), Step("staging", "text_references", scoped=True),
    Step("core", "projects"), Step("core", "sprints"), Step("core", "work_item_sprints"),
    Step("core", "work_items", scoped=True), Step("core", "milestones"),
    Step("core", "jira_changelog_items", scoped=True), Step("core", "status_transitions", scoped=True),
    Step("core", "item_changes", scoped=True), Step("core", "dependencies"), Step("core", "tombstones"),
    Step("core", "item_history", scoped=True, pass_items=PASS_ITEMS),
    Step("core", "burnup_events", scoped=True, pass_items=PASS_ITEMS, changes="meta.burnup_changes"),
    Step("core", "item_flow_facts", scoped=True, changes="meta.item_flow_changes"),
    Step("core", "pull_requests"), Step("core", "person_identities"), Step("core", "people"),
    Step("core", "program_milestone_sprints"), Step("core", "program_milestone_items"),
    Step("marts", "progress"), Step("marts", "burnup", incremental="meta.burnup_changes"), Step("marts", "item_flow", incremental="meta.item_flow_changes"), Step("marts", "throughput"),
    Step("marts", "flow"), Step("marts", "forecasts"), Step("marts", "milestone_slips"),
    Step("marts", "dependency_risk"), Step("marts", "critical_path"),
    Step("marts", "person_match_suggestions"), Step("marts", "resource_conflicts"),
    Step("marts", "resource_conflict_items"), Step("marts", "health_reasons"), Step("marts", "health"),
    Step("marts", "health_history"), Step("marts", "changes_since"),
    Step("marts", "project_health"), Step("marts", "program_health"),
)
STEP = {step.name: step for step in STEPS}
# Each table of recorded changes (Step.changes) and the incremental marts that apply it.
CHANGES_READERS = {step.changes: [s.name for s in STEPS if s.incremental == step.changes]
                   for step in STEPS if step.changes}
STAGING_ORDER = tuple(s.table for s in STEPS if s.schema == "staging")
CORE_ORDER = tuple(s.table for s in STEPS if s.schema == "core")
MARTS_ORDER = tuple(s.table for s in STEPS if s.schema == "marts")


@dataclass(frozen=True)
class Built:
    rows: int
    how: str  # "rebuilt" whole, "merged" (scoped: ``items`` items), "ran" (staging), "skipped"
    # items merged (scoped), parsed again (staging), lines rebuilt or changed (incremental, beyond
    # the days appended as as_of moves) or days replayed (marts.health_history)
    items: int = 0
    seconds: float = 0.0

    @property
    def skipped(self) -> bool:
        """Nothing it reads changed since its last build: nothing was done."""
        return self.how == "skipped"


class _Held(NamedTuple):
    """A table's row of meta.transform_state: what it was last built from."""

    inputs: str
    row_count: int
    built_at: datetime
    consumed_batch: int | None
    structure: str | None
    restructured_at: datetime | None


_READS = re.compile(r"\b(raw|staging|core|marts)\.([a-z_]+)\b")
_SECTION = re.compile(r"^-- \[(stale|rows|changes|merge|inputs|comments)\]\s*$", re.MULTILINE)


def _code(sql: str) -> str:
    """A SQL file without its comments and string literals: what they mention is not read."""
    return re.sub(r"'(?:[^']|'')*'", "''", re.sub(r"--[^\n]*", "", sql))


def reads(step: Step, sql: str | None = None) -> tuple[list[str], list[str]]:
    """The raw tables and the other derived tables a step's SQL reads."""
    code = _code(sql if sql is not None else sql_for(step.schema, step.table))
    names = {f"{s}.{t}" for s, t in _READS.findall(code)} - {step.name}
    return (sorted(n.split(".")[1] for n in names if n.startswith("raw.")),
            sorted(n for n in names if n in STEP))


def _sections(sql: str) -> dict[str, str]:
    """A scoped step's file in sections: [stale] (optional), [rows], [changes] (optional: what a
    merge changed, for an incremental mart), [comments]; an incremental step's: [rows], [merge],
    [comments]; a step computed in Python (PYTHON_STEPS): [inputs], [comments]."""
    parts = _SECTION.split(sql)
    return {parts[i]: parts[i + 1] for i in range(1, len(parts) - 1, 2)}


def rebuild_scoped(con: duckdb.DuckDBPyConnection, step: Step, parts: dict[str, str]) -> None:
    """An item-scoped table whole: its [rows] view with every item in scope, then the table from
    it; or, for a step with ``pass_items`` in a database on disk, in passes of about that many
    items (core.work_items counted), each a hash share of the item ids: a night's merge already
    relies on [rows] giving exactly the rows of the items in scope, so the passes together give
    the whole table. An in-memory catalog (the health-history replay's) is built in one pass:
    there a table grown by INSERTs stays resident (at 1M items core.burnup_events held 1.1 GiB in
    passes, 0.3 GiB in one, and the third replayed day ran out of the 2GB limit)."""
    passes = 1
    if step.pass_items and con.execute("SELECT path IS NOT NULL FROM duckdb_databases() "
                                       "WHERE database_name = current_database()").fetchone()[0]:
        items = con.execute("SELECT count(*) FROM core.work_items").fetchone()[0]
        passes = max(1, round(items / step.pass_items))
    for share in range(passes):
        con.execute("CREATE OR REPLACE TEMP MACRO in_scope(item) AS "
                    + ("true" if passes == 1 else f"hash(item) % {passes} = {share}"))
        con.execute(parts["rows"])
        con.execute(f"CREATE OR REPLACE TABLE {step.name} AS SELECT * FROM _rows" if share == 0
                    else f"INSERT INTO {step.name} SELECT * FROM _rows")


def rebuild_incremental(con: duckdb.DuckDBPyConnection, step: Step, parts: dict[str, str]) -> None:
    """An incremental mart whole: its [rows] view with every line rebuilt, then the table from it.
    (Its pending changes are then moot: build_step empties them; a replay leaves them alone.)"""
    con.execute("CREATE OR REPLACE TEMP MACRO rebuilt(entity) AS true")
    con.execute(parts["rows"])
    con.execute(f"CREATE OR REPLACE TABLE {step.name} AS SELECT * FROM _rows")


def merge_incremental(con: duckdb.DuckDBPyConnection, step: Step, parts: dict[str, str]) -> int:
    """An incremental mart brought up to date by its [merge] section, which rebuilds whole (from
    [rows]) the lines (burn-up lines, items) it puts in _rebuilt and applies the recorded changes
    and the move of as_of to the rest; returns what its last statement counts: the lines it
    rebuilt or changed."""
    con.execute("CREATE OR REPLACE TEMP TABLE _rebuilt (line VARCHAR)")
    con.execute("CREATE OR REPLACE TEMP MACRO rebuilt(entity) AS entity IN (SELECT line FROM _rebuilt)")
    con.execute(parts["rows"])
    changed = con.execute(parts["merge"]).fetchone()[0]
    con.execute("DROP TABLE _rebuilt")
    return changed


def build_table(con: duckdb.DuckDBPyConnection, schema: str, table: str, as_of: datetime) -> int:
    """(Re)build one table from its SQL file, whole; returns its row count."""
    return build_step(con, STEP[f"{schema}.{table}"], as_of, force=True).rows


def build_if_changed(con: duckdb.DuckDBPyConnection, schema: str, table: str, as_of: datetime,
                     force: bool = False) -> Built:
    """Bring one table up to date: rebuilt, merged or skipped as its inputs require."""
    return build_step(con, STEP[f"{schema}.{table}"], as_of, force=force)


# The newest batch of meta.item_deltas any table has seen: what a scoped table merges up to.
_LATEST_BATCH = """
    SELECT greatest((SELECT max(batch) FROM meta.item_deltas),
                    (SELECT max(consumed_batch) FROM meta.transform_state), 0)"""


def build_step(con: duckdb.DuckDBPyConnection, step: Step, as_of: datetime, force: bool = False,
               cache: dict | None = None) -> Built:
    """Bring ``step``'s table up to date in one transaction (meta.transform_state says from what).
    ``cache`` holds what one build reads once for all its tables (build_all passes one)."""
    started = time.perf_counter()
    cache = {} if cache is None else cache
    sql = render(con, sql_for(step.schema, step.table))
    raw_reads, derived_reads = reads(step, sql)
    structure = _structure_digest(con, sql, cache)
    inputs = _inputs_digest(con, step, structure, raw_reads, as_of, cache)
    exists = con.execute("SELECT count(*) FROM duckdb_tables() WHERE schema_name = ? AND table_name = ?",
                         [step.schema, step.table]).fetchone()[0] > 0
    row = con.execute("""
        SELECT inputs, row_count, built_at, consumed_batch, structure, restructured_at FROM meta.transform_state
        WHERE schema_name = ? AND table_name = ?""", [step.schema, step.table]).fetchone()
    held = _Held(*row) if row and exists else None
    upstream_built, upstream_restructured = con.execute(f"""
        SELECT max(built_at), max(restructured_at) FROM meta.transform_state
        WHERE schema_name || '.' || table_name IN ({', '.join('?' for _ in derived_reads) or 'NULL'})""",
        derived_reads).fetchone()
    latest_batch = con.execute(_LATEST_BATCH).fetchone()[0]

    def newer(moment, than) -> bool:
        return moment is not None and than is not None and moment > than

    def skipped() -> Built:
        return Built(held.row_count, "skipped", seconds=time.perf_counter() - started)

    if step.scoped:
        whole = (force or held is None or held.structure != structure or held.inputs != inputs
                 or newer(upstream_restructured, held.built_at) or held.consumed_batch is None)
    elif step.incremental:
        if not (force or held is None or held.inputs != inputs or newer(upstream_built, held.built_at)
                or con.execute(f"SELECT EXISTS (FROM {step.incremental})").fetchone()[0]):
            return skipped()
        whole = (force or held is None or held.structure != structure
                 or newer(upstream_restructured, held.built_at))
    else:
        whole = force or held is None or held.inputs != inputs or newer(upstream_built, held.built_at)
        if not whole:
            return skipped()
    set_as_of(con, as_of)
    con.execute("BEGIN")
    try:
        how, items = "rebuilt", 0
        if step.scoped:
            parts = _sections(sql)
            if whole:
                rebuild_scoped(con, step, parts)
                con.execute(parts["comments"])
                if step.changes:  # what reads them is rebuilt whole after this
                    con.execute(f"DELETE FROM {step.changes}")
            else:
                con.execute("CREATE OR REPLACE TEMP TABLE _scope AS SELECT DISTINCT item_id FROM meta.item_deltas "
                            "WHERE batch > ?", [held.consumed_batch])
                if "stale" in parts:
                    con.execute(parts["stale"])
                    # Items stale here are changed for the scoped tables that read this one too: they
                    # become a batch of their own, which this table consumes and later steps merge.
                    stale_batch = int(latest_batch) + 1
                    con.execute("INSERT INTO meta.item_deltas SELECT ?, item_id FROM "
                                "(SELECT item_id FROM _stale EXCEPT SELECT item_id FROM _scope)", [stale_batch])
                    if con.execute("INSERT INTO _scope SELECT item_id FROM meta.item_deltas WHERE batch = ?",
                                   [stale_batch]).fetchone()[0]:
                        latest_batch = stale_batch
                        cache["stale_batch"] = stale_batch
                items = con.execute("SELECT count(*) FROM _scope").fetchone()[0]
                if not items:
                    con.execute("UPDATE meta.transform_state SET consumed_batch = ? WHERE schema_name = ? "
                                "AND table_name = ?", [latest_batch, step.schema, step.table])
                    con.execute("COMMIT")
                    return skipped()
                con.execute("CREATE OR REPLACE TEMP MACRO in_scope(item) AS item IN (SELECT item_id FROM _scope)")
                con.execute(parts["rows"])
                new_rows = "_rows"
                # the changes are recorded once a mart applies them (until its first build it is built whole)
                if step.changes and con.execute(
                        "SELECT EXISTS (FROM meta.transform_state WHERE list_contains(?, schema_name || '.' || table_name))",
                        [CHANGES_READERS[step.changes]]).fetchone()[0]:
                    # the new rows, once: [changes] may compare them with the held ones
                    new_rows = "_merged"
                    con.execute("CREATE OR REPLACE TEMP TABLE _merged AS SELECT * FROM _rows")
                    con.execute(parts["changes"])
                con.execute(f"DELETE FROM {step.name} WHERE item_id IN (SELECT item_id FROM _scope)")
                con.execute(f"INSERT INTO {step.name} SELECT * FROM {new_rows}")
                con.execute("DROP TABLE IF EXISTS _merged")
                how = "merged"
        elif step.incremental:
            parts = _sections(sql)
            if whole:
                rebuild_incremental(con, step, parts)
                con.execute(parts["comments"])
            else:
                items = merge_incremental(con, step, parts)
                how = "merged"
            con.execute(f"DELETE FROM {step.incremental}")  # applied, or moot after a whole build
        elif step.schema == "staging":
            # new: no delta holds it yet (build_all numbers its staging steps' batches up front)
            batch = cache.get("staging_batches", {}).get(step.name) or int(latest_batch) + 1
            con.execute(f"SET VARIABLE batch = {batch}")
            if held is None or held.structure != structure:
                # new parsing rules, or no record of what the rows were parsed by: parse every row again
                con.execute(f"DELETE FROM {step.name}")
            con.execute(sql)
            items = con.execute("SELECT count(*) FROM meta.item_deltas WHERE batch = ?", [batch]).fetchone()[0]
            how = "ran"
        elif step.name in PYTHON_STEPS:
            parts = _sections(sql)
            con.execute(parts["inputs"])
            PYTHON_STEPS[step.name](con, as_of)
            con.execute(parts["comments"])
        else:
            con.execute(sql)
        rows = con.execute(f"SELECT count(*) FROM {step.name}").fetchall()[0][0]
        # a staging run that found nothing to parse leaves built_at, so nothing downstream rebuilds
        changed = how != "ran" or items > 0 or held is None or rows != held.row_count
        restructured = whole if step.scoped else (held is None or held.structure != structure)
        values = [inputs, *([] if changed else [held.built_at]), rows, latest_batch if step.scoped else None,
                  structure, *([] if restructured else [held.restructured_at])]
        built_at, restructured_at = ("now()" if changed else "?"), ("now()" if restructured else "?")
        if row is not None:  # an UPDATE, not INSERT OR REPLACE: 2 ms a step against 5 (a delete and an insert)
            con.execute(f"""
                UPDATE meta.transform_state SET inputs = ?, built_at = {built_at}, row_count = ?, consumed_batch = ?,
                       structure = ?, restructured_at = {restructured_at}
                WHERE schema_name = ? AND table_name = ?""", [*values, step.schema, step.table])
        else:
            con.execute(f"""
                INSERT INTO meta.transform_state
                    (inputs, built_at, row_count, consumed_batch, structure, restructured_at, schema_name, table_name)
                VALUES (?, {built_at}, ?, ?, ?, {restructured_at}, ?, ?)""", [*values, step.schema, step.table])
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise
    return Built(rows, how, items=items, seconds=time.perf_counter() - started)


def write_forecasts(con: duckdb.DuckDBPyConnection, as_of: datetime) -> None:
    """marts.forecasts from the inputs marts_forecasts.sql prepared: the trials are drawn in numpy
    (transforms.forecast), one vector of trials per target, never a loop per trial or item."""
    from transforms.forecast import Settings, Target, simulate

    trials, seed = con.execute("SELECT forecast_trials, forecast_seed FROM meta.metric_settings").fetchone()
    weeks = dict(con.execute("SELECT pool, list(done_items ORDER BY week_start) FROM _forecast_throughput "
                             "GROUP BY pool").fetchall())
    waits = dict(con.execute("SELECT target_id, list(blocker_target_id ORDER BY blocker_target_id) "
                             "FROM _forecast_edges GROUP BY target_id").fetchall())
    rows = con.execute("SELECT level, target_id, program_id, project_key, milestone_id, name, remaining, due_date, "
                       "pool FROM _forecast_targets ORDER BY target_id").fetchall()
    # A project is done when its last open milestone is (their queue already holds all its open
    # items), so it draws nothing of its own and its critical path runs into that milestone. Its
    # milestones share its pool: one team's queue, so in every trial they finish in due-date order.
    targets = [Target(r[1], tuple(weeks.get(r[8]) or ()), 0 if r[0] == "project" else int(r[6]), r[7],
                      tuple(waits.get(r[1]) or ()), pool=r[8]) for r in rows]
    day = as_of.astimezone(timezone.utc).date()
    results = simulate(targets, day, Settings(trials=int(trials), seed=int(seed)))
    con.execute("""
        CREATE OR REPLACE TABLE marts.forecasts (
            level VARCHAR, program_id VARCHAR, project_key VARCHAR, milestone_id VARCHAR, name VARCHAR,
            as_of TIMESTAMPTZ, due_date DATE, remaining_items INTEGER, status VARCHAR,
            p50_date DATE, p70_date DATE, p85_date DATE, p95_date DATE, p_on_time DOUBLE, trials INTEGER,
            throughput_weeks INTEGER, throughput_per_week DOUBLE, waits_for VARCHAR, note VARCHAR,
            decided_by VARCHAR, decided_share DOUBLE)""")
    out = []
    for r, target, f in zip(rows, targets, results):
        pool = weeks.get(r[8])
        out.append([r[0], r[2], r[3], r[4], r[5], as_of, r[7], r[6], f.status, f.p50, f.p70, f.p85, f.p95,
                    f.p_on_time, f.trials, len(pool) if pool is not None else None,
                    sum(pool) / len(pool) if pool else None,
                    ", ".join(target.blocked_by) or None, f.reason, f.decided_by, f.decided_share])
    if out:  # one set-based insert: a list per column, unnested side by side (executemany inserts
        # row by row: 3 s for 1,500 rows; a pandas frame costs its import, 0.25 s, in a fresh process)
        columns = list(zip(*out))
        con.execute(f"INSERT INTO marts.forecasts SELECT {', '.join(f'unnest(${i + 1})' for i in range(len(columns)))}",
                    [list(c) for c in columns])


def write_health_history(con: duckdb.DuckDBPyConnection, as_of: datetime) -> None:
    """marts.health_history: record as_of's day (transforms.history, which replays the marts steps,
    hence the late import). build_all reconstructs the window's missing days right after."""
    from transforms.history import record_health_history

    record_health_history(con, as_of)


def reconstruct_health_history(con: duckdb.DuckDBPyConnection, as_of: datetime) -> tuple[int, float]:
    """Replay the window's missing days into marts.health_history; (days, seconds). Outside any
    transaction: a DuckDB transaction writes to one attached database, and a replay writes two."""
    from transforms.history import missing_days, replay_health, replay_streams

    started = time.perf_counter()
    days = missing_days(con, as_of)
    if days:
        try:
            replay_health(con, days, streams=replay_streams(con))
        except duckdb.Error as exc:  # the night's own health is recorded: the past waits for the next night
            log.warning("reconstructing marts.health_history failed, retried next build: %s", exc)
            return 0, time.perf_counter() - started
    return len(days), time.perf_counter() - started


# Steps whose table is computed in Python from what their SQL file's [inputs] section prepares.
PYTHON_STEPS = {"marts.forecasts": write_forecasts, "marts.health_history": write_health_history}
# Steps whose table is history no rebuild can recreate: created by a migration, never dropped.
KEPT = ("marts.health_history",)


# The program structure from program.yaml, and the migrations (one that changes a derived table
# must make it rebuild).
CONFIG_TABLES = ("core.programs", "meta.configured_projects", "meta.label_rules", "meta.jira_link_rules",
                 "meta.metric_settings", "meta.discarded_resolutions", "meta.schema_migrations",
                 "meta.program_milestones", "meta.program_milestone_members")

# who is one person and when their work in progress is a conflict (program.yaml people:)
CONFIG_TABLES += ("meta.person_aliases", "meta.people_settings")
CONFIG_TABLES += ("meta.health_thresholds",)


def _structure_digest(con: duckdb.DuckDBPyConnection, sql: str, cache: dict) -> str:
    """What a table's shape and meaning come from: its SQL, the program structure, the sites'
    field and status lists, the migrations. Shared parts are read once per build (``cache``)."""
    if "shared" not in cache:
        parts = [con.execute("""
            SELECT coalesce(md5(string_agg(concat_ws('|', site, base_url, server_info->>'baseUrl',
                                                     server_info->>'deploymentType', fields, statuses, link_types,
                                                     field_roles), '/' ORDER BY site)), '')
            FROM raw.jira_sites""").fetchone()[0]]
        present = {f"{s}.{t}" for s, t in con.execute("SELECT schema_name, table_name FROM duckdb_tables()").fetchall()}
        for name in CONFIG_TABLES:
            if name in present:
                parts.append(name + con.execute(
                    f"SELECT coalesce(md5(string_agg(t::VARCHAR, '|' ORDER BY t::VARCHAR)), '') FROM {name} t").fetchone()[0])
        cache["shared"] = "\n".join(parts)
    return hashlib.md5((cache["shared"] + "\n" + sql).encode()).hexdigest()


def _inputs_digest(con: duckdb.DuckDBPyConnection, step: Step, structure: str, raw_reads: list[str],
                   as_of: datetime, cache: dict) -> str:
    """The structure, plus what a whole-rebuilt table reads from raw (each raw table's row count
    and latest synced_at: any landing moves the one, any deletion the other), plus for a mart the
    as-of instant and each project's last sync outcome. Scoped tables learn of raw changes from
    meta.item_deltas and their [stale] section instead."""
    parts = [structure]
    if not step.scoped:
        for table in raw_reads:
            if table == "jira_sites":
                continue  # its content is part of the structure
            if ("raw", table) not in cache:  # raw does not change during a build: read once per table
                cache[("raw", table)] = con.execute(
                    f'SELECT ? || count(*) || \'@\' || coalesce(max(synced_at)::VARCHAR, \'\') FROM raw."{table}"',
                    [table]).fetchone()[0]
            parts.append(cache[("raw", table)])
    if step.schema == "marts":
        parts.append(as_of.astimezone(timezone.utc).isoformat())
        # Each project's latest outcome, and for a failed one what its stale reason says: a sync
        # that merely succeeded again changes nothing a mart shows. Read once per build, as one
        # state of the syncs for every mart of it.
        if "outcomes" not in cache:
            cache["outcomes"] = con.execute("""
                SELECT coalesce(md5(string_agg(o, '|' ORDER BY o)), '') FROM (
                    SELECT concat_ws('/', site, project_key, arg_max(status, finished_at),
                                     CASE WHEN arg_max(status, finished_at) = 'failed' THEN concat_ws('/',
                                         arg_max(error, finished_at), arg_max(started_at, finished_at)::VARCHAR,
                                         (max(finished_at) FILTER (WHERE status = 'succeeded'))::VARCHAR) END) AS o
                    FROM meta.source_syncs GROUP BY site, project_key)""").fetchone()[0]
        parts.append(cache["outcomes"])
    return hashlib.md5("\n".join(parts).encode()).hexdigest()


def build_all(con: duckdb.DuckDBPyConnection, as_of: datetime, only: set[str] | None = None,
              force: bool = False, reconstruct: bool = False,
              on_built: Callable[[str, Built, int, int], None] | None = None) -> dict[str, Built]:
    """Bring every derived table (or those named in ``only``, "schema.table") up to date in
    order, on one connection (and its cursors, where steps are built two at a time:
    ``build_in_streams``), as the Dagster transform step does, appending what changed about
    the milestones to meta.milestone_snapshots once the core tables it reads are built and
    before the marts that read it (snapshot_milestones; SNAPSHOT in the streams); then
    forget the item deltas every scoped table has merged. ``reconstruct``: right after
    marts.health_history, replay the weeks before the first sync that it lacks (the pipeline's
    transforms step does; a replay costs a marts build, so other callers opt in). ``on_built``
    hears of each table as it is done: (name, what was done, tables done, tables in all)."""
    cache: dict = {}
    ensure_metric_settings(con)
    ensure_health_thresholds(con)
    ensure_people_settings(con)
    selected = [step for step in STEPS if only is None or step.name in only]
    # The milestone snapshot is taken once the core tables are current and before any mart that
    # reads it: when this build brings core.milestones or marts.milestone_slips up to date.
    snapshot = any(s.name in ("core.milestones", "marts.milestone_slips") for s in selected)
    built: dict[str, Built] = {}
    done = threading.Lock()  # ``built`` and ``on_built``'s count, where marts are built in streams

    def one(cur: duckdb.DuckDBPyConnection, step: Step) -> None:
        result = build_step(cur, step, as_of, force, cache)
        if reconstruct and step.name == "marts.health_history" and not result.skipped:
            days, seconds = reconstruct_health_history(cur, as_of)
            result = replace(result, items=days, seconds=result.seconds + seconds)
        with done:
            built[step.name] = result
            if on_built is not None:
                on_built(step.name, result, len(built), len(selected))

    def run(cur: duckdb.DuckDBPyConnection, step: Step) -> None:
        if step is SNAPSHOT:
            snapshot_milestones(cur, as_of)
        else:
            one(cur, step)

    # Each staging step records what it parsed again as a batch of its own (build_step), so that two
    # at once can tell what each found.
    first_batch = int(con.execute(_LATEST_BATCH).fetchone()[0]) + 1
    cache["staging_batches"] = {s.name: first_batch + i for i, s in enumerate(s for s in selected if s.schema == "staging")}
    streamed = [s for s in selected if s.name in STREAM_STEPS]
    if snapshot:  # among them, after the core tables it reads and before the marts that read it
        at = next((i for i, s in enumerate(streamed) if s.schema == "marts"), len(streamed))
        streamed.insert(at, SNAPSHOT)  # where they run one at a time, in this order
    if streamed:
        build_in_streams(con, streamed, build_streams(con), run)
    for step in selected:
        if step.name not in STREAM_STEPS:
            one(con, step)
    if "stale_batch" in cache:
        # a batch of stale items concerns only the tables after the one that found them: those
        # before it in this build have nothing to merge from it
        con.execute(f"""
            UPDATE meta.transform_state SET consumed_batch = ?
            WHERE consumed_batch < ? AND schema_name || '.' || table_name IN ({', '.join('?' for _ in built)})""",
            [cache["stale_batch"], cache["stale_batch"], *built])
    con.execute("""
        DELETE FROM meta.item_deltas WHERE batch <= (
            SELECT min(consumed_batch) FROM meta.transform_state WHERE consumed_batch IS NOT NULL)""")
    return {step.name: built[step.name] for step in selected if step.name in built}  # in STEPS order


# The steps built two at a time where they fit: every staging and core table and every mart the
# health reads, directly or not (all those before marts.health_history in STEPS), each after the
# steps it needs (stream_needs). After them, one at a time, marts.health_history (whose first build
# replays past weeks in streams of its own) and what reads it. Measured on built files, the marts
# before marts.health_history rebuilt whole (three runs in turn): at 100,000 items 5.2-5.7 s one at
# a time against 3.7-3.8 s two at a time, at 10,000 items 1.39-1.57 s against 1.02-1.04 s. A
# statement keeps both cores busy only part of the time (a commit writes alone, a sort merges
# alone): with the staging and core tables in the streams too, a full build at 100,000 items took
# 14.0-16.2 s against 17.0-21.1 s (three runs), a 1% night 4.3-5.4 s against 4.6-6.6 s (four runs,
# alternating; docs/architecture.md).
STREAM_STEPS = frozenset(s.name for s in STEPS[:[s.name for s in STEPS].index("marts.health_history")])
# What two steps built at once hold beyond one, per item: where the memory_limit does not cover it
# for both, they go one at a time (as the history replays do).
STREAM_BYTES_PER_ITEM = 5_500
# The staging steps that record the items they parsed again in meta.item_deltas, from which the
# item-scoped steps learn what to merge: no scoped step starts before all of them are done.
DELTA_SOURCES = tuple(s.name for s in STEPS if s.schema == "staging" and not s.scoped)


def stream_needs(steps: list[Step]) -> dict[str, set[str]]:
    """Per step, the steps of ``steps`` that must be done before it starts: those it reads; for an
    item-scoped step every staging step that records item deltas (what it merges is theirs, which
    its SQL does not name); SNAPSHOT for the steps that read meta.milestone_snapshots."""
    names = {s.name for s in steps}
    return {s.name: (set(reads(s)[1]) | (set(DELTA_SOURCES) if s.scoped else set())
                     | ({SNAPSHOT.name} if s.name in snapshot_readers() else set())) & names - {s.name}
            for s in steps}


def build_streams(con: duckdb.DuckDBPyConnection) -> int:
    """Two where DuckDB has two threads or more and the memory_limit covers two steps at a time
    (STREAM_BYTES_PER_ITEM: up to about 175,000 items at the default 2GB), else one. Items: the
    more of core.work_items (the last build's) and the raw issues (what this build may hold)."""
    from transforms.history import streams_that_fit

    tables = set(con.execute("SELECT schema_name, table_name FROM duckdb_tables()").fetchall())

    def count(schema: str, table: str) -> int:
        return con.execute(f"SELECT count(*) FROM {schema}.{table}").fetchone()[0] if (schema, table) in tables else 0

    # the raw issues too, not only the last build's items: a night may land a new project's thousands
    # (pull requests count among GitHub's raw issues: an overestimate, on the safe side)
    items = max(count("core", "work_items"), count("raw", "jira_issues") + count("raw", "github_issues"))
    return streams_that_fit(con, STREAM_BYTES_PER_ITEM, items=items)


def stream_cursors(con: duckdb.DuckDBPyConnection) -> Callable[[], duckdb.DuckDBPyConnection]:
    """Call in ``con``'s thread: what opens a cursor of ``con`` for another thread (a connection of
    its own: variables, USE and temp tables are per connection) in ``con``'s time zone, a session
    setting a cursor does not inherit."""
    zone = con.execute("SELECT current_setting('TimeZone')").fetchone()[0].replace("'", "''")

    def open_cursor() -> duckdb.DuckDBPyConnection:
        cur = con.cursor()
        try:
            cur.execute(f"SET TimeZone = '{zone}'")
        except BaseException:
            cur.close()
            raise
        return cur

    return open_cursor


def build_in_streams(con: duckdb.DuckDBPyConnection, steps: list[Step], streams: int,
                     build: Callable[[duckdb.DuckDBPyConnection, Step], None]) -> None:
    """``build`` each of ``steps`` once every step of ``steps`` it needs is built (stream_needs:
    what it reads, the delta sources, SNAPSHOT), ``streams`` at a time, the ready step
    with the longest chain of steps waiting on it first; each stream on a connection of its own
    (a cursor: variables, temp tables and the time zone are per connection; each step commits its
    own transaction). A failure stops what has not started; what runs is waited for, then the
    first error is raised (a second is logged). An interrupt of the caller (Ctrl-C, a run
    terminated) interrupts the running steps too.

    Why the longest chain first: marts.forecasts, on which the health and everything after it
    wait, started last of the first marts, after the snapshot, and the other stream then stood
    idle. At 100,000 items a 1% night took 5.50-5.79 s against 6.04-6.47 s (four runs each,
    alternating)."""
    if streams <= 1 or len(steps) <= 1:
        for step in steps:
            build(con, step)
        return
    needs = stream_needs(steps)
    chain = _chains(needs)
    place = {s.name: i for i, s in enumerate(steps)}
    waiting, finished, failures, cursors = list(steps), set(), [], []
    ready = threading.Condition()
    open_cursor = stream_cursors(con)

    def failed(exc: BaseException) -> None:
        with ready:
            failures.append(exc)
            ready.notify_all()

    def startable() -> Step | None:
        # the longest chain of steps still to follow first: the marts that wait on one step
        # (marts.forecasts, then the health) do not wait for steps nothing waits on
        return max((s for s in waiting if needs[s.name] <= finished),
                   key=lambda s: (chain[s.name], -place[s.name]), default=None)

    def stream() -> None:
        try:
            cur = open_cursor()
        except BaseException as exc:  # noqa: BLE001 - raised below, in the caller's thread
            failed(exc)
            return
        with ready:
            cursors.append(cur)
        try:
            while True:
                with ready:
                    while not failures and waiting and (step := startable()) is None:
                        ready.wait()
                    if failures or not waiting:
                        return
                    waiting.remove(step)
                build(cur, step)
                with ready:
                    finished.add(step.name)
                    ready.notify_all()
        except BaseException as exc:  # noqa: BLE001 - raised below, in the caller's thread
            failed(exc)
        finally:
            cur.close()

    with ThreadPoolExecutor(max_workers=streams, thread_name_prefix="stream") as pool:
        futures = [pool.submit(stream) for _ in range(streams)]
        try:
            for future in futures:
                future.result()
        except BaseException as exc:  # the caller interrupted: no step starts, the running ones stop
            failed(exc)
            with ready:
                for cur in cursors:
                    try:
                        cur.interrupt()
                    except duckdb.Error:  # closed already: its stream is done
                        pass
            raise
    for other in failures[1:]:
        log.warning("another step failed too: %s", other)
    if failures:
        raise failures[0]


def _chains(needs: dict[str, set[str]]) -> dict[str, int]:
    """Per step, the most steps on a path from it through what waits on it (itself included).
    ``needs`` lists the steps in the order build_in_streams is given them, each after what it
    needs (the order one stream builds them in), so what waits on a step comes after it."""
    chain: dict[str, int] = {}
    for name in reversed(needs):
        chain[name] = 1 + max((chain[other] for other, its in needs.items() if name in its), default=0)
    return chain


# meta.milestone_snapshots, taken once per build (snapshot_milestones): in build_in_streams a step
# of its own, after the core tables it reads, before the marts that read it, beside the others.
SNAPSHOT = Step("meta", "milestone_snapshots")


@functools.cache
def snapshot_readers() -> frozenset[str]:
    """The steps whose SQL reads meta.milestone_snapshots (outside comments and strings)."""
    return frozenset(step.name for step in STEPS
                     if "meta.milestone_snapshots" in _code(sql_for(step.schema, step.table)))


def snapshot_milestones(con: duckdb.DuckDBPyConnection, as_of: datetime) -> int:
    """Append to meta.milestone_snapshots each milestone (version, GitHub milestone, sprint,
    program milestone) that differs from its latest snapshot or has none, observed at ``as_of``;
    returns the rows appended. The table belongs to the migrations, not to STEPS: no rebuild
    replaces it, and a build that sees nothing new appends nothing. Skipped while the core tables
    it reads are not built yet. The program milestones' sprints are brought up to date first,
    whatever the build selected: a snapshot is never taken again, so it must not read yesterday's
    members."""
    needed = {"milestones", "sprints", "work_item_sprints", "work_items", "item_history"}
    present = {t for (t,) in con.execute(
        "SELECT table_name FROM duckdb_tables() WHERE schema_name = 'core'").fetchall()}
    if not needed <= present:
        return 0
    build_step(con, STEP["core.program_milestone_sprints"], as_of)
    set_as_of(con, as_of)
    con.execute("BEGIN")
    try:
        appended = con.execute(sql_for("meta", "milestone_snapshots")).fetchall()[0][0]
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise
    return int(appended)


def forget_derived(con: duckdb.DuckDBPyConnection) -> None:
    """Drop every derived table and what was built from what, so the next build starts from raw
    alone (the tests' and benchmarks' "from scratch"). meta.milestone_snapshots is history no
    rebuild can recreate: it is kept, and so is marts.health_history (KEPT)."""
    for step in STEPS:
        if step.name in KEPT:  # history: what past syncs recorded is not in raw
            continue
        # the staging tables the file-level steps maintain belong to the migrations: emptied, kept
        con.execute(f"DELETE FROM {step.name}" if step.schema == "staging" and not step.scoped
                    else f"DROP TABLE IF EXISTS {step.name}")
    con.execute("DELETE FROM meta.transform_state")
    con.execute("DELETE FROM meta.item_deltas")
    for changes in CHANGES_READERS:
        con.execute(f"DELETE FROM {changes}")


def build_core(con: duckdb.DuckDBPyConnection, as_of: datetime, force: bool = True) -> list[Built]:
    """Build staging and every core table in dependency order; with ``force=False`` only what
    changed, as a pipeline run does."""
    built = build_all(con, as_of, only={s.name for s in STEPS if s.schema != "marts"}, force=force)
    return list(built.values())


@dataclass(frozen=True)
class LabelRuleRow:
    site: str
    rule: str  # "type" | "priority" | "risk" | "status"
    value: str  # what the label means: "bug", "high", "risk", "in progress", ...
    label: str  # lower-case label name
    precedence: int  # lower wins when several labels of one item match one rule


DEFAULT_LABEL_RULES = (  # program.yaml's defaults, for GitHub sites written without the config
    ("type", "epic", "epic", 0), ("type", "bug", "bug", 1), ("type", "story", "story", 2),
    ("type", "task", "task", 3), ("status", "in review", "in review", 0), ("status", "in progress", "in progress", 1),
)


@dataclass(frozen=True)
class LinkRuleRow:
    site: str
    outward: str  # a Jira link type's outward description, lower case: "blocks", "depends on"
    meaning: str  # "blocks": the issue holding the outward link blocks the other; "blocked_by": it waits


DEFAULT_LINK_RULES = (("blocks", "blocks"), ("is blocked by", "blocked_by"), ("depends on", "blocked_by"))


@dataclass(frozen=True)
class ProgramMilestoneRow:
    """A program milestone from program.yaml (programs[].milestones)."""

    program_id: str
    name: str
    due_date: date
    baseline_due: date | None = None  # the committed date; None: the due date first seen
    committed_on: date | None = None  # the scope baseline is taken at this day's end; None: first seen
    # (kind, site, project_key, name): kind "milestone" (version or GitHub milestone by name),
    # "epic" (by key) or "sprint" (by name)
    members: tuple[tuple[str, str, str, str], ...] = ()

    @property
    def milestone_id(self) -> str:
        return f"program:{self.program_id}:{self.name}"


@dataclass(frozen=True)
class MetricSettings:
    """How the marts compute flow figures and forecasts (program.yaml ``metrics:``), with the
    defaults ../shared/METRICS.md names."""

    flow_window_days: int = 90  # cycle and lead time percentiles: items done in this many days
    throughput_weeks: int = 12  # weekly throughput: this many full ISO weeks before as_of
    stale_days: int = 14  # in progress and not updated for this many days: stale
    forecast_trials: int = 10_000
    forecast_seed: int = 0
    # done with one of these resolutions (any case) leaves scope; GitHub's not_planned and duplicate too
    discarded_resolutions: tuple[str, ...] = ("Won't Do", "Won't Fix", "Duplicate", "Cannot Reproduce",
                                              "Declined", "not_planned")


@dataclass(frozen=True)
class PersonAliasRow:
    """One identity program.yaml declares for a person (``people.aliases``)."""

    person_id: str  # the alias key
    name: str  # how the person is shown
    site: str
    identity_id: str  # Jira Cloud account id, Jira Server/DC user name or GitHub login


@dataclass(frozen=True)
class PeopleSettings:
    """Who is one person across trackers and when their work in progress is a resource conflict
    (program.yaml ``people:``): written to ``meta.person_aliases`` and ``meta.people_settings``."""

    aliases: tuple[PersonAliasRow, ...] = ()
    conflict_min_projects: int = 3  # work in progress in this many projects or more
    conflict_wip_limit: int = 5  # more items in progress than this


def write_program_structure(con: duckdb.DuckDBPyConnection, programs: list[ProgramRow],
                            projects: list[ProjectRow], label_rules: list[LabelRuleRow] | None = None,
                            link_rules: list[LinkRuleRow] | None = None,
                            metrics: MetricSettings | None = None, people: PeopleSettings | None = None,
                            milestones: list[ProgramMilestoneRow] | None = None) -> int:
    """``core.programs``, ``meta.configured_projects``, ``meta.label_rules``,
    ``meta.jira_link_rules``, ``meta.metric_settings``, ``meta.discarded_resolutions`` and the
    program milestones (``meta.program_milestones``, ``meta.program_milestone_members``) from the
    config, as bound parameters; ``people`` gives ``meta.person_aliases`` and ``meta.people_settings``."""
    metrics = metrics or MetricSettings()
    if label_rules is None:
        label_rules = [LabelRuleRow(site, *rule) for site in sorted({p.site for p in projects if p.source == "github"})
                       for rule in DEFAULT_LABEL_RULES]
    if link_rules is None:
        link_rules = [LinkRuleRow(site, *rule) for site in sorted({p.site for p in projects if p.source == "jira"})
                      for rule in DEFAULT_LINK_RULES]
    con.execute("BEGIN")
    try:
        con.execute("""
            CREATE OR REPLACE TABLE core.programs (
                program_id VARCHAR PRIMARY KEY, name VARCHAR NOT NULL, goal VARCHAR)""")
        con.execute("""
            CREATE OR REPLACE TABLE meta.configured_projects (
                program_id VARCHAR NOT NULL, site VARCHAR NOT NULL, source VARCHAR NOT NULL,
                project_key VARCHAR NOT NULL, configured_name VARCHAR, PRIMARY KEY (site, project_key))""")
        con.execute("""
            CREATE OR REPLACE TABLE meta.label_rules (
                site VARCHAR NOT NULL, rule VARCHAR NOT NULL, value VARCHAR NOT NULL, label VARCHAR NOT NULL,
                precedence INTEGER NOT NULL)""")
        if label_rules:
            con.executemany("INSERT INTO meta.label_rules VALUES (?, ?, ?, ?, ?)",
                            [[r.site, r.rule, r.value, r.label, r.precedence] for r in label_rules])
        con.execute("""
            CREATE OR REPLACE TABLE meta.jira_link_rules (
                site VARCHAR NOT NULL, outward VARCHAR NOT NULL, meaning VARCHAR NOT NULL, PRIMARY KEY (site, outward))""")
        if link_rules:
            con.executemany("INSERT INTO meta.jira_link_rules VALUES (?, ?, ?)",
                            [[r.site, r.outward, r.meaning] for r in link_rules])
        _write_metric_settings(con, metrics)
        _write_people_settings(con, people or PeopleSettings())
        _write_program_milestones(con, milestones or [])
        if programs:
            con.executemany("INSERT INTO core.programs VALUES (?, ?, ?)",
                            [[p.program_id, p.name, p.goal] for p in programs])
        if projects:
            con.executemany("INSERT INTO meta.configured_projects VALUES (?, ?, ?, ?, ?)",
                            [[p.program_id, p.site, p.source, p.project_key, p.configured_name] for p in projects])
        for statement in (
            "COMMENT ON TABLE core.programs IS 'One row per program from program.yaml: several projects that share one goal.'",
            "COMMENT ON COLUMN core.programs.program_id IS 'Short id from program.yaml (programs[].id).'",
            "COMMENT ON COLUMN core.programs.name IS 'Program name.'",
            "COMMENT ON COLUMN core.programs.goal IS 'The strategic goal the program serves, as configured; null when not given.'",
            "COMMENT ON TABLE meta.configured_projects IS 'The projects program.yaml names, per program: input to core.projects.'",
            "COMMENT ON COLUMN meta.configured_projects.program_id IS 'Program the project belongs to.'",
            "COMMENT ON COLUMN meta.configured_projects.site IS 'Tracker site name from program.yaml.'",
            "COMMENT ON COLUMN meta.configured_projects.source IS 'jira or github.'",
            "COMMENT ON COLUMN meta.configured_projects.project_key IS 'Jira project key or GitHub owner/name.'",
            "COMMENT ON COLUMN meta.configured_projects.configured_name IS 'Display name from program.yaml; null to use the tracker''s.'",
            "COMMENT ON TABLE meta.label_rules IS 'How GitHub labels map to item type, priority, risk and status, per site (program.yaml sites.<name>.labels).'",
            "COMMENT ON COLUMN meta.label_rules.site IS 'GitHub site name from program.yaml.'",
            "COMMENT ON COLUMN meta.label_rules.rule IS 'type, priority, risk or status.'",
            "COMMENT ON COLUMN meta.label_rules.value IS 'What a matching label means: an item type, a priority, risk, or the status in progress / in review.'",
            "COMMENT ON COLUMN meta.label_rules.label IS 'Label name, lower case; labels match case-insensitively.'",
            "COMMENT ON COLUMN meta.label_rules.precedence IS 'When several labels of one item match one rule, the lowest precedence wins.'",
            "COMMENT ON TABLE meta.jira_link_rules IS 'Which Jira issue link types are dependencies, per site (program.yaml sites.<name>.blocking_links): input to core.dependencies.'",
            "COMMENT ON COLUMN meta.jira_link_rules.site IS 'Jira site name from program.yaml.'",
            "COMMENT ON COLUMN meta.jira_link_rules.outward IS 'The link type''s outward description, lower case (e.g. blocks, depends on); links match it case-insensitively.'",
            "COMMENT ON COLUMN meta.jira_link_rules.meaning IS 'blocks: the issue holding the outward link blocks the other; blocked_by: it waits on the other.'",
        ):
            con.execute(statement)
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise
    return len(programs)


def _write_program_milestones(con: duckdb.DuckDBPyConnection, milestones: list[ProgramMilestoneRow]) -> None:
    """meta.program_milestones and their members (tables of migration 013): replaced, not recreated."""
    con.execute("DELETE FROM meta.program_milestones")
    con.execute("DELETE FROM meta.program_milestone_members")
    if milestones:
        con.executemany("INSERT INTO meta.program_milestones VALUES (?, ?, ?, ?, ?, ?)",
                        [[m.program_id, m.milestone_id, m.name, m.due_date, m.baseline_due, m.committed_on]
                         for m in milestones])
    members = [[m.program_id, m.milestone_id, *member] for m in milestones for member in m.members]
    if members:
        con.executemany("INSERT INTO meta.program_milestone_members VALUES (?, ?, ?, ?, ?, ?)", members)


def _write_metric_settings(con: duckdb.DuckDBPyConnection, metrics: MetricSettings) -> None:
    """meta.metric_settings and meta.discarded_resolutions: what the flow marts and forecasts read."""
    con.execute("""
        CREATE OR REPLACE TABLE meta.metric_settings (
            flow_window_days INTEGER NOT NULL, throughput_weeks INTEGER NOT NULL, stale_days INTEGER NOT NULL,
            forecast_trials INTEGER NOT NULL, forecast_seed BIGINT NOT NULL)""")
    con.execute("INSERT INTO meta.metric_settings VALUES (?, ?, ?, ?, ?)",
                [metrics.flow_window_days, metrics.throughput_weeks, metrics.stale_days,
                 metrics.forecast_trials, metrics.forecast_seed])
    con.execute("CREATE OR REPLACE TABLE meta.discarded_resolutions (resolution VARCHAR PRIMARY KEY)")
    con.executemany("INSERT INTO meta.discarded_resolutions VALUES (?)",
                    [[r] for r in sorted({r.strip().lower() for r in metrics.discarded_resolutions})])
    for statement in (
        "COMMENT ON TABLE meta.metric_settings IS 'How the marts compute flow figures and forecasts (program.yaml metrics:, defaults from METRICS.md): one row.'",
        "COMMENT ON COLUMN meta.metric_settings.flow_window_days IS 'Cycle and lead time percentiles are over items done in this many days before as_of (default 90).'",
        "COMMENT ON COLUMN meta.metric_settings.throughput_weeks IS 'Weekly throughput and forecasts use this many full ISO weeks before as_of''s week, zero weeks included (default 12).'",
        "COMMENT ON COLUMN meta.metric_settings.stale_days IS 'An item in progress and not updated for this many days is stale (default 14).'",
        "COMMENT ON COLUMN meta.metric_settings.forecast_trials IS 'Monte Carlo trials per forecast (default 10,000).'",
        "COMMENT ON COLUMN meta.metric_settings.forecast_seed IS 'Seed of the forecasts'' random draws: the same seed and data give the same dates.'",
        "COMMENT ON TABLE meta.discarded_resolutions IS 'Resolutions (lower case) that make a done item discarded: out of scope, throughput and cycle times (METRICS.md \"Discarded\").'",
        "COMMENT ON COLUMN meta.discarded_resolutions.resolution IS 'Jira resolution name or GitHub state_reason, lower case; matched case-insensitively.'",
    ):
        con.execute(statement)


def ensure_metric_settings(con: duckdb.DuckDBPyConnection) -> None:
    """A warehouse whose program structure was written before metrics settings existed gets the
    defaults, so the marts can be built before the next run writes the config's."""
    present = con.execute("SELECT count(*) FROM duckdb_tables() WHERE schema_name = 'meta' "
                          "AND table_name IN ('metric_settings', 'discarded_resolutions')").fetchone()[0]
    if present < 2:
        _write_metric_settings(con, MetricSettings())


def _write_people_settings(con: duckdb.DuckDBPyConnection, people: PeopleSettings) -> None:
    """meta.person_aliases and meta.people_settings: what core.person_identities and the resource
    conflict marts read."""
    con.execute("""
        CREATE OR REPLACE TABLE meta.person_aliases (
            person_id VARCHAR NOT NULL, name VARCHAR NOT NULL, site VARCHAR NOT NULL, identity_id VARCHAR NOT NULL,
            PRIMARY KEY (site, identity_id))""")
    rows = {(a.site, a.identity_id.lower()): [a.person_id, a.name, a.site, a.identity_id.lower()]
            for a in people.aliases}  # an identity listed twice under one person is one row
    if rows:
        con.executemany("INSERT INTO meta.person_aliases VALUES (?, ?, ?, ?)", list(rows.values()))
    con.execute("""
        CREATE OR REPLACE TABLE meta.people_settings (
            conflict_min_projects INTEGER NOT NULL, conflict_wip_limit INTEGER NOT NULL)""")
    con.execute("INSERT INTO meta.people_settings VALUES (?, ?)",
                [people.conflict_min_projects, people.conflict_wip_limit])
    for statement in (
        "COMMENT ON TABLE meta.person_aliases IS 'Identities program.yaml declares as one person (people.aliases): one row per identity. Input to core.person_identities; identities no alias names are joined by e-mail only.'",
        "COMMENT ON COLUMN meta.person_aliases.person_id IS 'The alias key (people.aliases[].key): core.people.person_id of the person.'",
        "COMMENT ON COLUMN meta.person_aliases.name IS 'The person''s name as program.yaml gives it: core.people.display_name.'",
        "COMMENT ON COLUMN meta.person_aliases.site IS 'Tracker site name from program.yaml.'",
        "COMMENT ON COLUMN meta.person_aliases.identity_id IS 'Jira Cloud account id, Jira Server/Data Center user name or GitHub login, lower case: identities match case-insensitively.'",
        "COMMENT ON TABLE meta.people_settings IS 'When a person''s work in progress is a resource conflict (program.yaml people.resource_conflicts): one row. Read by marts.resource_conflicts.'",
        "COMMENT ON COLUMN meta.people_settings.conflict_min_projects IS 'Work in progress in this many projects or more is a conflict (people.resource_conflicts.min_projects, default 3).'",
        "COMMENT ON COLUMN meta.people_settings.conflict_wip_limit IS 'More items in progress than this is a conflict (people.resource_conflicts.wip_limit, default 5).'",
    ):
        con.execute(statement)


def ensure_people_settings(con: duckdb.DuckDBPyConnection) -> None:
    """A warehouse whose program structure was written before people settings existed gets no
    aliases and the default thresholds, until the next run writes the config's."""
    present = con.execute("SELECT count(*) FROM duckdb_tables() WHERE schema_name = 'meta' "
                          "AND table_name IN ('person_aliases', 'people_settings')").fetchone()[0]
    if present < 2:
        _write_people_settings(con, PeopleSettings())
