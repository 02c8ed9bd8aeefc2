"""The BI feed: schema ``bi``, stable documented views over the marts for BI tools (issue #15).

Why views of their own, not the marts: a mart gains, renames or retypes a column whenever a metric
changes, and a dashboard built on it then breaks or changes without anyone noticing. Each ``bi``
view names its columns explicitly (never ``SELECT *``), so a column added to a mart changes no
view, and one removed or renamed makes ``ensure_bi_views`` fail at publish, loudly, rather than a
chart going blank. Every column is a scalar a BI tool maps (the marts' reason lists are rows here,
``bi.health_reasons``), every view and column carries a comment, and every view with programs in
it has ``program_id``, by which ``pipelines.export`` partitions.

Column comments are the mart's own unless a column here says otherwise, so the two never drift;
``python -m warehouse.bi PATH`` renders the reference at the end of docs/bi.md (a test holds it to
the demo warehouse, so a change to the contract shows as a diff of that file).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import duckdb

from transforms.history import TARGET_ID_SQL

SCHEMA = "bi"

# One id per target (the ids of marts.forecasts and marts.health_history): a BI tool joins health,
# reasons, history, forecasts, progress, burn-up and flow on it without a five-column key.
TARGET_ID_COMMENT = ("The target's id, one join key across the bi views: the milestone id for a milestone, "
                     "project:<program>|<project> for a project, program:<program> for a program "
                     "(marts.health_history.target_id).")


@dataclass(frozen=True)
class BiColumn:
    """One column of a bi view: a source column of the same name, or an expression over the source
    row (``expression``); its comment is the source column's unless ``comment`` is given."""

    name: str
    expression: str | None = None
    comment: str | None = None


@dataclass(frozen=True)
class BiView:
    """A view ``bi.<name>`` over ``source`` with exactly ``columns``, in this order."""

    name: str
    source: str
    comment: str
    columns: tuple[BiColumn, ...]

    @property
    def qualified(self) -> str:
        return f"{SCHEMA}.{self.name}"


def _view(name: str, source: str, comment: str, columns: str, **derived: BiColumn) -> BiView:
    """``columns``: the view's column names in order; those in ``derived`` are computed, the rest
    are the source's columns of the same name."""
    names = columns.split()
    unknown = set(derived) - set(names)
    if unknown:
        raise ValueError(f"bi.{name}: derived columns not in the column list: {sorted(unknown)}")
    return BiView(name, source, comment, tuple(derived.get(n, BiColumn(n)) for n in names))


TARGET_ID = BiColumn("target_id", TARGET_ID_SQL, TARGET_ID_COMMENT)
# flow and throughput have project and program rows only, and no milestone_id column
FLOW_TARGET_ID = BiColumn("target_id", "CASE level WHEN 'project' THEN 'project:' || program_id || '|' || project_key "
                                       "ELSE 'program:' || program_id END", TARGET_ID_COMMENT)
REASON_COUNT = BiColumn("reason_count", "reasons",
                        "Red or amber reasons this target has (rows of bi.health_reasons with verdict red or amber, "
                        "the overall row not counted): marts.health.reasons.")
HEALTH_DIMENSIONS = ("critical_path_health forecast_health schedule_health slip_health dependencies_health "
                     "blocked_stale_health aging_wip_health scope_health people_health signals_health freshness_health")

BI_VIEWS: tuple[BiView, ...] = (
    _view("snapshots", "meta.snapshots",
          "The published snapshots, one row each (meta.snapshots): the row with the latest published_at describes "
          "the data you are reading. Show it on a dashboard as 'data as of'.",
          "sync_id published_at as_of"),
    _view("program_health", "marts.program_health",
          "One row per program: its health and its projects' verdicts counted (marts.program_health without the "
          "reason list: the reasons are rows of bi.health_reasons, level program).",
          "target_id program_id program_name as_of health projects projects_red projects_amber projects_green "
          "projects_unknown open_blockers_from_other_programs items items_done",
          target_id=BiColumn("target_id", "'program:' || program_id", TARGET_ID_COMMENT)),
    _view("project_health", "marts.project_health",
          "One row per project: its health, each dimension's verdict, staleness and the figures of its current "
          "milestone (marts.project_health without the reason list: the reasons are rows of bi.health_reasons, "
          "level project).",
          "target_id program_id site project_key project_name source as_of health stale last_synced_at sync_error "
          "schedule_health dependency_health scope_health forecast_health slip_health blocked_stale_health "
          "aging_wip_health people_health signals_health critical_path_health milestone_name milestone_due pct_done "
          "pct_time_elapsed open_cross_project_blockers late_cross_project_blockers milestone_open_added_30d items "
          "items_done items_in_progress items_todo",
          target_id=BiColumn("target_id", "'project:' || program_id || '|' || project_key", TARGET_ID_COMMENT)),
    _view("health", "marts.health",
          "Health per target: one row per open milestone (program milestones included), project and program, with "
          "the rolled-up verdict (green, amber, red, unknown) and one column per dimension (marts.health). Why: "
          "bi.health_reasons on target_id.",
          f"target_id as_of level program_id project_key milestone_id name health headline {HEALTH_DIMENSIONS} "
          "red_dimensions amber_dimensions unknown_dimensions reason_count",
          target_id=TARGET_ID, reason_count=REASON_COUNT),
    _view("health_reasons", "marts.health_reasons",
          "Why each target has its health, one row per reason (marts.health_reasons): a summary row per dimension, "
          "a row per red or amber dependency, the critical path and the overall verdict, each with a sentence, the "
          "keys it names and the figure it rests on. Order by reason_rank within a target; join bi.health on "
          "target_id.",
          "target_id as_of level program_id project_key milestone_id target_name dimension verdict severity "
          "is_summary reason_rank sentence keys figure figure_name",
          target_id=TARGET_ID),
    _view("health_history", "marts.health_history",
          "bi.health per day (marts.health_history): one row per target and day over the last 12 weeks, recorded "
          "by each sync or reconstructed from history (source), for trend charts.",
          f"day as_of target_id level program_id project_key milestone_id name health headline {HEALTH_DIMENSIONS} "
          "red_dimensions amber_dimensions unknown_dimensions reason_count source recorded_at",
          reason_count=BiColumn("reason_count", "reasons", "marts.health.reasons that day: how many red or amber "
                                                           "reasons the target had.")),
    _view("progress", "marts.progress",
          "Progress per milestone, project and program now, by count and by points, unestimated items apart "
          "(marts.progress).",
          "target_id level program_id project_key milestone_id name due_date state as_of scope_items done_items "
          "open_items in_progress_items discarded_items progress_by_count estimated_items unestimated_items "
          "unestimated_share scope_points done_points progress_by_points",
          target_id=TARGET_ID),
    _view("burnup", "marts.burnup",
          "Daily burn-up per milestone, project and program (marts.burnup): scope and done by count and points "
          "at each day's end, WIP, scope added and removed, from the first day to as_of.",
          "target_id level program_id project_key milestone_id day scope_items done_items scope_points done_points "
          "unestimated_items wip_items scope_added_items scope_removed_items",
          target_id=TARGET_ID),
    _view("flow", "marts.flow",
          "Flow per project and program now (marts.flow): cycle and lead time P50/P85/P95, weekly throughput, WIP, "
          "aging, blocked, flagged and stale items.",
          "target_id level program_id project_key as_of window_days done_in_window cycle_time_p50_days "
          "cycle_time_p85_days cycle_time_p95_days lead_time_p50_days lead_time_p85_days lead_time_p95_days "
          "throughput_per_week throughput_weeks throughput_weeks_with_done wip_items aging_wip_items oldest_wip_days "
          "blocked_items flagged_items stale_items blocked_days_of_done",
          target_id=FLOW_TARGET_ID),
    _view("item_flow", "marts.item_flow",
          "Flow per work item now, epics left out (marts.item_flow): start, done, cycle and lead time, age against "
          "its project's P85, blocked, flagged and stale; the detail behind bi.flow.",
          "item_id key program_id project_key milestone_id source item_type status status_category discarded "
          "assignee created_at started_at done_at lead_time_days cycle_time_days done_in_window is_wip age_days "
          "project_p85_cycle_days is_aging blocked_days is_blocked flagged_days is_flagged updated_at is_stale as_of"),
    _view("throughput", "marts.throughput",
          "Items done per ISO week per project and program over the throughput window, zero weeks included "
          "(marts.throughput): what the forecasts draw from.",
          "target_id level program_id project_key week_start done_items",
          target_id=FLOW_TARGET_ID),
    _view("forecasts", "marts.forecasts",
          "Monte Carlo completion forecasts per open milestone, project and program (marts.forecasts): P50 to P95 "
          "dates and P(on time); no date but a status and a note when the data cannot give one.",
          "target_id level program_id project_key milestone_id name as_of due_date remaining_items status p50_date "
          "p70_date p85_date p95_date p_on_time trials throughput_weeks throughput_per_week waits_for note "
          "decided_by decided_share",
          target_id=TARGET_ID),
    _view("milestone_slips", "marts.milestone_slips",
          "One row per milestone (Jira version, GitHub milestone, sprint, program milestone): baseline against "
          "current due date, slip in days, due-date moves and scope change (marts.milestone_slips).",
          "milestone_id kind program_id site project_key name state start_date due_date baseline_due_date "
          "baseline_source slip_days due_date_moves last_moved_at first_seen_at tracker_created_at snapshots "
          "committed_on baseline_scope_items scope_items done_items scope_change_items scope_change_ratio members "
          "unresolved_members as_of"),
    _view("dependency_risk", "marts.dependency_risk",
          "One row per open dependency (marts.dependency_risk): the blocker's dates and forecast against the "
          "blocked work's due date, the risk (red, amber, green) and a sentence; program_id is the blocked item's "
          "program.",
          "program_id as_of blocked_project_key blocked_key blocked_item_id blocked_status blocked_milestone_id "
          "blocked_milestone blocked_due_date days_to_blocked_due blocker_program_id blocker_project_key blocker_key "
          "blocker_item_id blocker_synced blocker_status blocker_status_category blocker_milestone_id "
          "blocker_milestone blocker_due_date blocker_p85_date blocker_forecast_status reach cross_tracker source "
          "link_type blocked_since blocked_age_days blocker_updated_at blocker_idle_days is_late is_wrong_order "
          "is_unscheduled is_stale in_cycle cycle_id cycle_size cycle_member_keys risk reason"),
    _view("critical_path", "marts.critical_path",
          "The critical path of every forecast target, one row per step (marts.critical_path): step 0 is the "
          "target, each next step what it waits for that finishes last in most trials.",
          "target_id level program_id project_key milestone_id name as_of due_date p85_date path_days steps step "
          "step_level step_program_id step_project_key step_milestone_id step_name step_due_date "
          "step_remaining_items step_status step_p85_date step_decided_share blocking_links blocking_pairs",
          target_id=TARGET_ID),
    _view("resource_conflicts", "marts.resource_conflicts",
          "People split too thin now, one row each (marts.resource_conflicts): work in progress in too many "
          "projects or over the WIP limit, across trackers. A person can span programs, so there is no program_id "
          "(programs lists them); their items, by program: bi.resource_conflict_items.",
          "person_id person_name as_of wip_items wip_projects projects wip_programs programs in_too_many_projects "
          "over_wip_limit min_projects wip_limit oldest_wip_days reason"),
    _view("resource_conflict_items", "marts.resource_conflict_items",
          "The work in progress of each person in bi.resource_conflicts, one row per person and item "
          "(marts.resource_conflict_items).",
          "person_id person_name item_id key title program_id site project_key status started_at days_in_progress "
          "is_blocked is_stale url as_of"),
    _view("changes_since", "marts.changes_since",
          "What changed in the 7 days before as_of, one row per change (marts.changes_since): verdicts that moved, "
          "blockers new and resolved, due-date moves, items joining or leaving milestones, items done.",
          "as_of since level program_id project_key milestone_id name change dimension key before after figure "
          "sentence"),
)

# Types a BI tool maps without a plugin; anything else (LIST, STRUCT, MAP, JSON, HUGEINT, UNION, ...)
# has no place in a bi view.
SCALAR_TYPES = frozenset({"BOOLEAN", "INTEGER", "BIGINT", "DOUBLE", "DATE", "VARCHAR", "TIMESTAMP WITH TIME ZONE"})


def _literal(text: str) -> str:
    """A SQL string literal (COMMENT ON takes no parameters)."""
    return "'" + text.replace("'", "''") + "'"


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


class BiContractError(ValueError):
    """A bi view names a source column that is gone, or a column nobody documents."""


def _source_columns(con: duckdb.DuckDBPyConnection) -> dict[tuple[str, str], str]:
    """Every column of the database, (schema.table, column) -> its comment ('' when none)."""
    rows = con.execute("""
        SELECT schema_name || '.' || table_name, column_name, coalesce(comment, '') FROM duckdb_columns()
        WHERE database_name = current_database()""").fetchall()
    return {(table, column): comment for table, column, comment in rows}


def view_sql(view: BiView, source_columns: dict[tuple[str, str], str]) -> list[str]:
    """The statements that (re)create one view with its comments. CREATE OR REPLACE drops a view's
    comments, so they are written again every time."""
    for c in view.columns:
        if c.expression is None and (view.source, c.name) not in source_columns:
            raise BiContractError(f"{view.qualified}.{c.name}: {view.source} has no column {c.name}. The bi "
                                  f"views are a contract (docs/bi.md): give it an expression in warehouse/bi.py "
                                  f"that keeps its meaning, rather than dropping it")
    select = ",\n       ".join(
        f"{c.expression} AS {_ident(c.name)}" if c.expression else _ident(c.name) for c in view.columns)
    statements = [f"CREATE OR REPLACE VIEW {view.qualified} AS\nSELECT {select}\nFROM {view.source}",
                  f"COMMENT ON VIEW {view.qualified} IS {_literal(view.comment)}"]
    for c in view.columns:
        text = c.comment or source_columns.get((view.source, c.name))
        if not text:
            raise BiContractError(f"{view.qualified}.{c.name}: no comment here and none on {view.source}.{c.name}")
        statements.append(f"COMMENT ON COLUMN {view.qualified}.{_ident(c.name)} IS {_literal(text)}")
    return statements


def ensure_bi_views(con: duckdb.DuckDBPyConnection) -> tuple[str, ...]:
    """Create or replace every bi view, with its comments, in one transaction; drop bi views no
    longer declared, so the schema is exactly the contract. Run after the marts exist (the publish
    step). Returns the views' qualified names."""
    source_columns = _source_columns(con)
    statements = [f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}"]
    declared = {v.name for v in BI_VIEWS}
    existing = [r[0] for r in con.execute(
        "SELECT view_name FROM duckdb_views() WHERE database_name = current_database() AND schema_name = ?",
        [SCHEMA]).fetchall()]
    statements += [f"DROP VIEW {SCHEMA}.{_ident(name)}" for name in existing if name not in declared]
    for view in BI_VIEWS:
        statements += view_sql(view, source_columns)
    con.execute("BEGIN")
    try:
        con.execute(";\n".join(statements))
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise
    return tuple(v.qualified for v in BI_VIEWS)


@dataclass(frozen=True)
class PublishedView:
    """A bi view as a published file holds it: what the export and the docs read."""

    name: str
    comment: str
    columns: tuple[tuple[str, str, str], ...]  # (name, DuckDB type, comment)

    @property
    def qualified(self) -> str:
        return f"{SCHEMA}.{self.name}"

    @property
    def partition_column(self) -> str | None:
        """program_id where the view has it: the export writes one folder per program."""
        return "program_id" if any(name == "program_id" for name, _, _ in self.columns) else None


def published_views(con: duckdb.DuckDBPyConnection) -> tuple[PublishedView, ...]:
    """The bi views of the database ``con`` is on, in name order, with their columns and comments."""
    views = con.execute("""
        SELECT view_name, coalesce(comment, '') FROM duckdb_views()
        WHERE database_name = current_database() AND schema_name = ? ORDER BY view_name""", [SCHEMA]).fetchall()
    columns = con.execute("""
        SELECT table_name, column_name, data_type, coalesce(comment, '') FROM duckdb_columns()
        WHERE database_name = current_database() AND schema_name = ? ORDER BY table_name, column_index""",
        [SCHEMA]).fetchall()
    return tuple(PublishedView(name, comment, tuple((c, t, text) for v, c, t, text in columns if v == name))
                 for name, comment in views)


def render_reference(path: Path) -> str:
    """The reference part of docs/bi.md: every bi view with its columns, types and comments."""
    with duckdb.connect(str(path), read_only=True) as con:
        views = published_views(con)
    lines = ["## Reference", "",
             "Generated from the bi views' `COMMENT ON`s by `python -m warehouse.bi PATH` "
             "(a test fails when it differs from the demo warehouse). Times are UTC `TIMESTAMPTZ`.", ""]
    for view in views:
        partition = f" Exported partitioned by `{view.partition_column}`." if view.partition_column else \
            " Exported as one file."
        lines += [f"### {view.qualified}", "", view.comment + partition, "",
                  "| column | type | meaning |", "|---|---|---|"]
        lines += [f"| `{name}` | {dtype} | {text.replace('|', '/')} |" for name, dtype, text in view.columns]
        lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.stdout.write(render_reference(Path(sys.argv[1])))
