"""Health thresholds: the figures at which a dimension of marts.health turns amber or red.

The defaults are issue #14's (and ../shared/METRICS.md "Health"); program.yaml's ``health:`` sets
them for every program and ``programs[].health`` for one. They reach SQL as ``meta.health_thresholds``,
one row per program, so a file like marts_health.sql joins them by program_id.
"""

from __future__ import annotations

from dataclasses import astuple, dataclass, fields

import duckdb


@dataclass(frozen=True)
class HealthThresholds:
    """Where each dimension turns amber and red (the issue's defaults)."""

    forecast_green_above: float = 0.90  # P(on time) above this: green
    forecast_red_at_or_below: float = 0.70  # at or below this: red; between: amber
    schedule_amber_points: float = 10.0  # expected minus actual % complete from this: amber
    schedule_red_points: float = 20.0  # above this: red
    slip_amber_share: float = 0.10  # slipped by up to this share of the planned duration: amber
    slip_red_moves: int = 3  # this many moves or more: red (fewer: amber)
    blocked_amber_days: int = 5  # an open item blocked, or in progress untouched, this long: amber
    blocked_red_days: int = 14  # this long: red
    aging_red_share: float = 0.25  # more than this share of WIP older than the P85 cycle time: red
    scope_amber_share: float = 0.30  # more than this share of open scope added in the window: amber
    scope_window_days: int = 30  # the window scope additions are counted over
    scope_red_days_to_due: int = 30  # scope still growing (last 14 days) this close to the due date: red
    history_weeks: int = 12  # marts.health_history reconstructs this many weeks before the first sync
    history_step_days: int = 7  # ... one day in this many first (weekly points on the first sync)
    history_replays_per_build: int = 12  # then this many more days a build, until every day is there


_DOCS = {
    "forecast_green_above": "Forecast dimension: P(on time) above this is green (default 0.90).",
    "forecast_red_at_or_below": "Forecast dimension: P(on time) at or below this is red, between the two amber (default 0.70).",
    "schedule_amber_points": "Schedule dimension: expected minus actual percent complete of this many points or more is amber (default 10; below: green).",
    "schedule_red_points": "Schedule dimension: above this many points red (default 20); past the due date with open work is always red.",
    "slip_amber_share": "Slip dimension: a due date moved later by up to this share of the planned duration is amber, more is red (default 0.10).",
    "slip_red_moves": "Slip dimension: this many due-date moves or more is red (default 3).",
    "blocked_amber_days": "Blocked and stale dimension: an open item blocked, or in progress and untouched, for this many days is amber (default 5).",
    "blocked_red_days": "Blocked and stale dimension: for this many days red (default 14).",
    "aging_red_share": "Aging WIP dimension: more than this share of work in progress older than the project''s P85 cycle time is red; any item older than the P95 is amber (default 0.25).",
    "scope_amber_share": "Scope dimension: more than this share of open scope added within scope_window_days is amber (default 0.30).",
    "scope_window_days": "Scope dimension: the window, in days, that additions are counted over (default 30).",
    "scope_red_days_to_due": "Scope dimension: scope still growing (net added in the last 14 days) with the due date this many days away or fewer is red (default 30).",
    "history_weeks": "marts.health_history reconstructs this many weeks before the first sync (default 12; the largest of the programs'' values applies). Rows are never deleted.",
    "history_step_days": "marts.health_history reconstructs one day in this many first, counted back from the first sync''s day (default 7: weekly points on the first sync), then the days between. Days since the first sync are recorded by their own builds.",
    "history_replays_per_build": "Days of marts.health_history a build reconstructs at most (default 12: the weekly points on the first sync, every day of 12 weeks within 7 nights); one replay costs about a marts build.",
}


def _sql_type(value: object) -> str:
    return "DOUBLE" if isinstance(value, float) else "INTEGER"


def write_health_thresholds(con: duckdb.DuckDBPyConnection, default: HealthThresholds,
                            per_program: dict[str, HealthThresholds] | None = None) -> None:
    """meta.health_thresholds: one row per program of core.programs, its own thresholds or the
    default ones."""
    names = [f.name for f in fields(HealthThresholds)]
    columns = ", ".join(f"{n} {_sql_type(getattr(default, n))} NOT NULL" for n in names)
    con.execute(f"CREATE OR REPLACE TABLE meta.health_thresholds (program_id VARCHAR PRIMARY KEY, {columns})")
    programs = [p for (p,) in con.execute("SELECT program_id FROM core.programs ORDER BY program_id").fetchall()]
    placeholders = ", ".join("?" for _ in range(len(names) + 1))
    for program_id in programs:  # one row per program: a handful, never per item
        row = (per_program or {}).get(program_id, default)
        con.execute(f"INSERT INTO meta.health_thresholds VALUES ({placeholders})", [program_id, *astuple(row)])
    con.execute("COMMENT ON TABLE meta.health_thresholds IS 'Where each health dimension turns amber and red "
                "(program.yaml health:, per program programs[].health:; defaults from issue #14): one row per "
                "program. Read by marts.health.'")
    con.execute("COMMENT ON COLUMN meta.health_thresholds.program_id IS 'Program id from program.yaml.'")
    for name in names:
        con.execute(f"COMMENT ON COLUMN meta.health_thresholds.{name} IS '{_DOCS[name]}'")


def ensure_health_thresholds(con: duckdb.DuckDBPyConnection) -> None:
    """A warehouse whose config was written before health thresholds existed, or a program that has
    none yet, gets the defaults, so marts.health can always be built."""
    exists = con.execute("SELECT count(*) FROM duckdb_tables() WHERE schema_name = 'meta' "
                         "AND table_name = 'health_thresholds'").fetchone()[0]
    if not exists:
        write_health_thresholds(con, HealthThresholds())
        return
    names = [f.name for f in fields(HealthThresholds)]
    columns = [c for (c,) in con.execute("SELECT column_name FROM duckdb_columns() WHERE schema_name = 'meta' "
                                         "AND table_name = 'health_thresholds' AND column_name <> 'program_id'").fetchall()]
    missing = con.execute("SELECT count(*) FROM core.programs g ANTI JOIN meta.health_thresholds h "
                          "USING (program_id)").fetchone()[0]
    if missing or sorted(columns) != sorted(names):  # a program without a row, or thresholds added since
        known = [c for c in columns if c in names]
        kept = {r[0]: HealthThresholds(**dict(zip(known, r[1:]))) for r in con.execute(
            f"SELECT program_id, {', '.join(known)} FROM meta.health_thresholds").fetchall()}
        write_health_thresholds(con, HealthThresholds(), kept)
