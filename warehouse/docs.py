"""Render ``docs/warehouse.md`` from the ``COMMENT ON``s of a built warehouse, so the document
analysts read and the comments their SQL client shows are one text.

    python -m warehouse.docs demo-output/pulse.duckdb > docs/warehouse.md
"""

from __future__ import annotations

import sys
from pathlib import Path

import duckdb

SCHEMAS = ("marts", "core", "staging", "raw", "meta")
SCHEMA_NOTES = {
    "marts": "Rollups for people: progress, burn-up, flow, forecasts, health with reasons. Start here. Scalar "
             "columns only, so every BI tool maps every column.",
    "core": "The program model: one row per thing, both trackers in one shape.",
    "staging": "Raw JSON parsed once into typed columns, kept up to date incrementally; what core reads.",
    "raw": "API objects as the trackers returned them (JSON), less what only a reader of the API needs "
           "(links into the API, avatars; events without their embedded issue), merged by primary key.",
    "meta": "Syncs, snapshots, migrations and the configured program structure.",
}
EXAMPLES = {
    "marts.program_health": "SELECT program_name, health, reasons FROM marts.program_health ORDER BY program_id;",
    "marts.project_health": ("SELECT project_key, health, schedule_health, dependency_health, scope_health, reasons\n"
                             "FROM marts.project_health WHERE health <> 'green' ORDER BY program_id, project_key;"),
    "marts.health": ("-- the RAG table: every open milestone, project and program, worst first\n"
                     "SELECT level, name, health, forecast_health, schedule_health, dependencies_health, slip_health,\n"
                     "       scope_health, people_health, headline\n"
                     "FROM marts.health ORDER BY program_id, level, health = 'green', name;"),
    "marts.health_reasons": ("-- why a program is what it is, in reading order (no unnest needed)\n"
                             "SELECT target_name, dimension, verdict, sentence, keys FROM marts.health_reasons\n"
                             "WHERE level = 'program' AND verdict <> 'green' ORDER BY program_id, reason_rank;"),
    "marts.changes_since": ("-- since last week: verdicts that moved, new and resolved blockers, slips\n"
                            "SELECT change, dimension, sentence FROM marts.changes_since\n"
                            "WHERE change IN ('verdict', 'blocker_new', 'blocker_resolved', 'slip') ORDER BY change, sentence;"),
    "marts.health_history": ("-- a program's health per day: the trend since 12 weeks before the first sync\n"
                             "SELECT day, health, forecast_health, schedule_health, dependencies_health, source\n"
                             "FROM marts.health_history WHERE level = 'program' ORDER BY program_id, day;"),
    "marts.dependency_risk": ("-- cross-project blockers that put the blocked work at risk, worst first\n"
                              "SELECT risk, reach, reason, blocked_age_days FROM marts.dependency_risk\n"
                              "WHERE risk <> 'green' AND reach <> 'in_project'\n"
                              "ORDER BY risk = 'amber', days_to_blocked_due;"),
    "marts.critical_path": ("-- what decides when each program finishes, step by step\n"
                            "SELECT name, path_days, step, step_level, step_name, step_p85_date, blocking_pairs\n"
                            "FROM marts.critical_path WHERE level = 'program' ORDER BY program_id, step;"),
    "marts.progress": ("-- how far each open milestone is, by count and by points, with what is not estimated\n"
                       "SELECT name, due_date, done_items, scope_items, round(100 * progress_by_count) AS pct_items,\n"
                       "       round(100 * progress_by_points) AS pct_points, unestimated_items\n"
                       "FROM marts.progress WHERE level = 'milestone' AND state = 'open' ORDER BY due_date;"),
    "marts.burnup": ("-- a program's weekly burn-up (Mondays), scope line and done line\n"
                     "SELECT day, scope_items, done_items, scope_points, done_points FROM marts.burnup\n"
                     "WHERE level = 'program' AND program_id = 'checkout' AND dayofweek(day) = 1 ORDER BY day;"),
    "marts.item_flow": ("-- aging work: in progress longer than 85% of its project's items took\n"
                        "SELECT key, project_key, round(age_days, 1) AS age, round(project_p85_cycle_days, 1) AS p85,\n"
                        "       is_blocked, is_flagged\n"
                        "FROM marts.item_flow WHERE is_aging ORDER BY age_days DESC;"),
    "marts.throughput": ("SELECT project_key, week_start, done_items FROM marts.throughput\n"
                         "WHERE level = 'project' ORDER BY project_key, week_start;"),
    "marts.flow": ("SELECT project_key, round(cycle_time_p50_days, 1) AS p50, round(cycle_time_p85_days, 1) AS p85,\n"
                   "       round(throughput_per_week, 1) AS per_week, wip_items, aging_wip_items, blocked_items\n"
                   "FROM marts.flow WHERE level = 'project' ORDER BY program_id, project_key;"),
    "marts.forecasts": ("-- will the open milestones make it? dates by which 50% and 85% of trials finished\n"
                        "SELECT name, due_date, remaining_items, status, p50_date, p85_date,\n"
                        "       round(100 * p_on_time) AS pct_on_time, waits_for\n"
                        "FROM marts.forecasts WHERE level = 'milestone' ORDER BY p_on_time;"),
    "marts.milestone_slips": ("-- which milestones slipped, how often their due date moved, and how their scope grew\n"
                              "SELECT kind, name, baseline_due_date, due_date, slip_days, due_date_moves,\n"
                              "       baseline_scope_items, scope_items, first_seen_at\n"
                              "FROM marts.milestone_slips WHERE slip_days > 0 OR due_date_moves > 0\n"
                              "ORDER BY slip_days DESC NULLS LAST;"),
    "marts.resource_conflicts": ("-- who is split across too many projects, or has too much in progress, and why\n"
                                 "SELECT person_name, wip_items, wip_projects, projects, programs, reason\n"
                                 "FROM marts.resource_conflicts ORDER BY wip_projects DESC, wip_items DESC;"),
    "marts.resource_conflict_items": ("-- what each overloaded person has in progress, oldest first\n"
                                      "SELECT person_name, key, project_key, status, round(days_in_progress, 1) AS days\n"
                                      "FROM marts.resource_conflict_items ORDER BY person_name, days_in_progress DESC;"),
    "marts.person_match_suggestions": ("-- same name, not joined: one person or two? how_to_merge says what to declare\n"
                                       "SELECT person_name, person_identities, other_person_identities, emails_differ,\n"
                                       "       how_to_merge\n"
                                       "FROM marts.person_match_suggestions ORDER BY person_name;"),
    "core.people": ("-- everyone, with the identities each tracker knows them by\n"
                    "SELECT person_id, display_name, identified_by, identity_ids, assigned_items\n"
                    "FROM core.people ORDER BY assigned_items DESC;"),
    "core.item_history": ("-- what each item's milestone and status were at the end of 2026-11-01 (any day: one join)\n"
                          "SELECT w.key, h.field, h.value FROM core.item_history h JOIN core.work_items w USING (item_id)\n"
                          "WHERE h.field IN ('milestone', 'status') AND h.valid_from <= TIMESTAMPTZ '2026-11-02 00:00+00'\n"
                          "  AND (h.valid_to IS NULL OR h.valid_to > TIMESTAMPTZ '2026-11-02 00:00+00')\n"
                          "ORDER BY w.key, h.field;"),
    "core.dependencies": ("SELECT blocker_key, blocked_key, blocker_status_category\n"
                          "FROM core.dependencies WHERE cross_project AND is_open ORDER BY blocker_key;"),
    "core.sprints": ("-- what is still open in the running sprints\n"
                     "SELECT s.name, s.end_at, w.key, w.status FROM core.sprints s\n"
                     "JOIN core.work_items w USING (sprint_id)\n"
                     "WHERE s.state = 'active' AND w.status_category <> 'done' ORDER BY s.end_at, w.key;"),
}


def render(path: Path) -> str:
    with duckdb.connect(str(path), read_only=True) as con:
        tables = con.execute("""
            SELECT schema_name, table_name, comment FROM duckdb_tables()
            WHERE schema_name IN (SELECT unnest(?::VARCHAR[]))""", [list(SCHEMAS)]).fetchall()
        columns = con.execute("""
            SELECT schema_name, table_name, column_name, data_type, comment FROM duckdb_columns()
            WHERE schema_name IN (SELECT unnest(?::VARCHAR[])) ORDER BY schema_name, table_name, column_index""",
            [list(SCHEMAS)]).fetchall()
    order = {s: i for i, s in enumerate(SCHEMAS)}
    lines = ["# Warehouse tables", "",
             "Generated from the warehouse's `COMMENT ON`s by `python -m warehouse.docs PATH` "
             "(a test fails when it is out of date). Times are UTC `TIMESTAMPTZ`.", ""]
    current = None
    for schema, table, comment in sorted(tables, key=lambda t: (order[t[0]], t[1])):
        if schema != current:
            lines += [f"## {schema}", "", SCHEMA_NOTES[schema], ""]
            current = schema
        name = f"{schema}.{table}"
        lines += [f"### {name}", "", comment or "", "", "| column | type | meaning |", "|---|---|---|"]
        for c_schema, c_table, column, dtype, c_comment in columns:
            if (c_schema, c_table) == (schema, table):
                lines.append(f"| `{column}` | {dtype} | {(c_comment or '').replace('|', '/')} |")
        if name in EXAMPLES:
            lines += ["", "```sql", EXAMPLES[name], "```"]
        lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.stdout.write(render(Path(sys.argv[1])))
