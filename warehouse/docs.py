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
    "marts": "Rollups for people: health with reasons. Start here.",
    "core": "The program model: one row per thing, both trackers in one shape.",
    "staging": "Raw JSON parsed once into typed columns, kept up to date incrementally; what core reads.",
    "raw": "API objects exactly as the trackers returned them (JSON), merged by primary key.",
    "meta": "Syncs, snapshots, migrations and the configured program structure.",
}
EXAMPLES = {
    "marts.program_health": "SELECT program_name, health, reasons FROM marts.program_health ORDER BY program_id;",
    "marts.project_health": ("SELECT project_key, health, schedule_health, dependency_health, scope_health, reasons\n"
                             "FROM marts.project_health WHERE health <> 'green' ORDER BY program_id, project_key;"),
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
