"""Run the set-based SQL that turns ``raw.*`` into ``core.*`` and ``marts.*``.

Each table is one file in ``transforms/sql`` named ``<schema>_<table>.sql``: a ``CREATE OR REPLACE
TABLE`` and its ``COMMENT ON`` statements, so a table and its documentation cannot drift apart.
The only inputs besides ``raw`` are the program structure from ``program.yaml`` and ``as_of``.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from importlib import resources

import duckdb


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


def sql_for(schema: str, table: str) -> str:
    return resources.files("transforms").joinpath("sql", f"{schema}_{table}.sql").read_text(encoding="utf-8")


# A Jira custom field id as the site's /field lists it. Only ids of this shape are spliced into SQL:
# they come from the tracker, and tracker text is never SQL.
_CUSTOM_FIELD = re.compile(r"^customfield_[0-9]{1,12}$")


def render(con: duckdb.DuckDBPyConnection, sql: str) -> str:
    """Fill a SQL file's placeholders. JSON paths must be constants for DuckDB to parse a document
    once for a whole list of them, so the sites' custom field paths (story points, epic link,
    sprint) are written into the statement, each checked to be a plain custom field id."""
    if "{{JIRA_CUSTOM_FIELD_" not in sql:
        return sql
    ids = sorted({field for (field,) in con.execute(
        "SELECT DISTINCT unnest(json_extract_string(field_roles, '$.*')) FROM raw.jira_sites").fetchall()
        if field and _CUSTOM_FIELD.match(field)})
    return (sql.replace("{{JIRA_CUSTOM_FIELD_PATHS}}", "".join(f", '$.fields.{f}'" for f in ids))
               .replace("{{JIRA_CUSTOM_FIELD_IDS}}", ", ".join(f"'{f}'" for f in ids)))


def set_as_of(con: duckdb.DuckDBPyConnection, as_of: datetime) -> None:
    """Every figure is computed as of one instant; SQL reads it with getvariable('as_of')."""
    stamp = as_of.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f")
    con.execute(f"SET VARIABLE as_of = TIMESTAMPTZ '{stamp}+00'")


def build_table(con: duckdb.DuckDBPyConnection, schema: str, table: str, as_of: datetime) -> int:
    """(Re)build one table from its SQL file; returns its row count."""
    return build_if_changed(con, schema, table, as_of, force=True).rows


@dataclass(frozen=True)
class Built:
    rows: int
    skipped: bool  # its inputs were those of its last build: nothing was done


def build_if_changed(con: duckdb.DuckDBPyConnection, schema: str, table: str, as_of: datetime,
                     force: bool = False) -> Built:
    """Build one table unless its inputs are those it was last built from (meta.transform_state)."""
    inputs = inputs_digest(con, schema, as_of)
    held = con.execute("SELECT inputs, row_count FROM meta.transform_state WHERE schema_name = ? AND table_name = ?",
                       [schema, table]).fetchall()
    exists = con.execute("SELECT count(*) FROM duckdb_tables() WHERE schema_name = ? AND table_name = ?",
                         [schema, table]).fetchone()[0]
    if not force and exists and held and held[0][0] == inputs:
        return Built(held[0][1], skipped=True)
    set_as_of(con, as_of)
    con.execute("BEGIN")
    try:
        con.execute(render(con, sql_for(schema, table)))
        rows = con.execute(f'SELECT count(*) FROM "{schema}"."{table}"').fetchall()[0][0]
        con.execute("INSERT OR REPLACE INTO meta.transform_state VALUES (?, ?, ?, now(), ?)",
                    [schema, table, inputs, rows])
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise
    return Built(rows, skipped=False)


# The program structure from program.yaml, and the migrations (one that changes a derived table
# must make it rebuild).
CONFIG_TABLES = ("core.programs", "meta.configured_projects", "meta.label_rules", "meta.jira_link_rules",
                 "meta.schema_migrations")


def inputs_digest(con: duckdb.DuckDBPyConnection, schema: str, as_of: datetime) -> str:
    """A digest of everything a derived table of ``schema`` is built from. Core and staging read
    only raw and the program structure: any landing moves a raw table's latest ``synced_at``, any
    deletion its count. Marts also read the as-of instant and each project's last sync outcome."""
    parts = []
    for (table,) in con.execute("SELECT table_name FROM duckdb_tables() WHERE schema_name = 'raw' "
                                "AND table_name <> 'jira_sites' ORDER BY table_name").fetchall():
        parts.append(con.execute(f'SELECT ? || count(*) || \'@\' || coalesce(max(synced_at)::VARCHAR, \'\') '
                                 f'FROM raw."{table}"', [table]).fetchone()[0])
    # Site metadata is landed every sync and its serverInfo carries the server's clock: what the
    # transforms read of it is what counts.
    parts.append(con.execute("""
        SELECT coalesce(md5(string_agg(concat_ws('|', site, base_url, server_info->>'baseUrl',
                                                 server_info->>'deploymentType', fields, statuses, link_types,
                                                 field_roles), '/' ORDER BY site)), '')
        FROM raw.jira_sites""").fetchone()[0])
    present = {f"{s}.{t}" for s, t in con.execute("SELECT schema_name, table_name FROM duckdb_tables()").fetchall()}
    for name in CONFIG_TABLES:
        if name in present:
            parts.append(name + con.execute(
                f"SELECT coalesce(md5(string_agg(t::VARCHAR, '|' ORDER BY t::VARCHAR)), '') FROM {name} t").fetchone()[0])
    sql = resources.files("transforms").joinpath("sql")
    parts += [f.name + hashlib.md5(f.read_bytes()).hexdigest() for f in sorted(sql.iterdir(), key=lambda f: f.name)
              if f.name.endswith(".sql") and (schema == "marts" or not f.name.startswith("marts_"))]
    if schema == "marts":
        parts.append(as_of.astimezone(timezone.utc).isoformat())
        # Each project's latest outcome, and for a failed one what its stale reason says: a sync
        # that merely succeeded again changes nothing a mart shows.
        parts.append(con.execute("""
            SELECT coalesce(md5(string_agg(o, '|' ORDER BY o)), '') FROM (
                SELECT concat_ws('/', site, project_key, arg_max(status, finished_at),
                                 CASE WHEN arg_max(status, finished_at) = 'failed' THEN concat_ws('/',
                                     arg_max(error, finished_at), arg_max(started_at, finished_at)::VARCHAR,
                                     (max(finished_at) FILTER (WHERE status = 'succeeded'))::VARCHAR) END) AS o
                FROM meta.source_syncs GROUP BY site, project_key)""").fetchone()[0])
    return hashlib.md5("\n".join(parts).encode()).hexdigest()


# The core tables in an order that builds each after what it reads (core.programs is written from
# the config by write_program_structure). The Dagster assets declare the same edges as deps; a
# unit test holds the two together.
CORE_ORDER = ("projects", "sprints", "work_item_sprints", "work_items", "milestones", "jira_changelog_items",
              "status_transitions", "item_changes", "dependencies", "pull_requests")


# Raw JSON parsed once into typed columns, incrementally, before any core table reads it.
STAGING_ORDER = ("jira_issues", "github_issues", "github_issue_events")


def build_core(con: duckdb.DuckDBPyConnection, as_of: datetime, force: bool = True) -> list[Built]:
    """Build staging and every core table in dependency order, as a pipeline run does; with
    ``force=False`` a table whose inputs did not change is skipped, as in a pipeline run."""
    return ([build_if_changed(con, "staging", t, as_of, force) for t in STAGING_ORDER]
            + [build_if_changed(con, "core", t, as_of, force) for t in CORE_ORDER])


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


def write_program_structure(con: duckdb.DuckDBPyConnection, programs: list[ProgramRow],
                            projects: list[ProjectRow], label_rules: list[LabelRuleRow] | None = None,
                            link_rules: list[LinkRuleRow] | None = None) -> int:
    """``core.programs``, ``meta.configured_projects``, ``meta.label_rules`` and
    ``meta.jira_link_rules`` from the config, as bound parameters."""
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
