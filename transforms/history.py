"""Health over time: marts.health_history, one row per milestone, project and program per day.

Each build records the day's marts.health rows (the last build of a day wins, so a rerun is
idempotent). The days of the ``history_weeks`` before the first sync are reconstructed, at most
``history_replays_per_build`` a build (12), weekly points first (``history_step_days``): one replay
costs a build of the marts (0.6 s on the demo, 2.5 s at 100k items), so the first sync gets a
trend at once and the next six nights complete every day of the 12 weeks. A replay: the core tables are rolled back to that instant from the
warehouse's own history (sql/replay_core_as_of.sql) in a scratch in-memory catalog, and the very
same marts SQL runs against them. So trends exist from the first sync, and a reconstructed day is
what a sync on that day would have computed, except where the trackers keep no history (see the
replay SQL's header).
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone

import duckdb

from transforms.build import (PYTHON_STEPS, STEP, STEPS, _sections, rebuild_incremental, rebuild_scoped, render,
                              set_as_of, sql_for, stream_cursors)

log = logging.getLogger(__name__)

# Marts built before marts.health that neither it nor a past day's report reads: a replay skips
# them (a replay's statements cost about 15 ms each even on the demo's thousand items).
NOT_REPLAYED = frozenset({"marts.person_match_suggestions"})
# What a replay builds from the rolled-back core, in build order: the item-scoped tables the marts
# read that replay_core_as_of.sql does not roll back (whole: every item's history is replayed),
# and the marts the health needs; health_history and what reads it are not replayed.
REPLAYED = (STEP["core.program_milestone_items"], STEP["core.burnup_events"], STEP["core.item_flow_facts"]) + tuple(
    s for s in STEPS[:[s.name for s in STEPS].index("marts.health") + 1]
    if s.schema == "marts" and s.name not in NOT_REPLAYED)
DIMENSIONS = ("critical_path", "forecast", "schedule", "slip", "dependencies", "blocked_stale", "aging_wip",
              "scope", "people", "signals", "freshness")
_COLUMNS = ("health", "headline", *(f"{d}_health" for d in DIMENSIONS), "red_dimensions", "amber_dimensions",
            "unknown_dimensions", "reasons")


def record_health_history(con: duckdb.DuckDBPyConnection, as_of: datetime) -> int:
    """Write as_of's day from marts.health (replacing that day's rows); returns the rows written.
    Runs inside the step's transaction (PYTHON_STEPS)."""
    day = as_of.astimezone(timezone.utc).date()
    con.execute("DELETE FROM marts.health_history WHERE day = ?", [day])
    con.execute(_insert("marts.health", "'sync'"), [day])
    return con.execute("SELECT count(*) FROM marts.health_history WHERE day = ?", [day]).fetchone()[0]


def missing_days(con: duckdb.DuckDBPyConnection, as_of: datetime) -> list[datetime]:
    """The instants to reconstruct this build: the days of the history_weeks before the first
    recorded sync day that have no row, one every history_step_days first (nearest first), then
    the days between, at most history_replays_per_build of them. So the first sync replays weekly
    points, and each later build fills more days until every day of the window is there; a failed
    replay is simply still missing next time."""
    first = con.execute("SELECT min(day) FROM marts.health_history WHERE source = 'sync'").fetchone()[0]
    if first is None:
        return []
    weeks, step, most = con.execute(
        "SELECT coalesce(max(history_weeks), 0), coalesce(min(history_step_days), 7), "
        "coalesce(max(history_replays_per_build), 12) FROM meta.health_thresholds").fetchone()
    have = {d for (d,) in con.execute("SELECT DISTINCT day FROM marts.health_history WHERE day < ?", [first]).fetchall()}
    clock = as_of - timedelta(days=(as_of.astimezone(timezone.utc).date() - first).days)  # the first day's as_of time
    days = sorted(range(1, 7 * weeks + 1), key=lambda n: (n % step != 0, n))
    return [clock - timedelta(days=n) for n in days if (first - timedelta(days=n)) not in have][:most]


# marts.health_history.target_id from a row with level, program_id, project_key and milestone_id:
# the ids of marts.forecasts, and the one join key of the bi views and the report.
TARGET_ID_SQL = ("CASE level WHEN 'milestone' THEN milestone_id "
                 "WHEN 'project' THEN 'project:' || program_id || '|' || project_key "
                 "ELSE 'program:' || program_id END")


def _insert(source: str, how: str, into: str = "marts.health_history") -> str:
    columns = ", ".join(_COLUMNS)
    return f"""
        INSERT INTO {into} (day, as_of, target_id, level, program_id, project_key, milestone_id, name,
                                          {columns}, source, recorded_at)
        SELECT ?, as_of, {TARGET_ID_SQL},
               level, program_id, project_key, milestone_id, name, {columns}, {how}, now()
        FROM {source}"""


def replay_health(con: duckdb.DuckDBPyConnection, instants: list[datetime],
                  into: str = "marts.health_history", streams: int = 1) -> list[float]:
    """Reconstruct marts.health at each instant into ``into`` (a table shaped like
    marts.health_history; source 'reconstructed'); returns the seconds each took. Runs in scratch
    catalogs: nothing of the warehouse changes but ``into``. With ``streams`` > 1 the instants are
    dealt to that many threads, each replaying its share through its own cursor and catalog: a
    replay is some forty statements, most of them too small to keep more than one core busy, so
    two streams use the two cores a single one leaves half idle (replay_streams)."""
    shares = [instants[i::streams] for i in range(max(1, min(streams, len(instants))))]
    seconds: dict[datetime, float] = {}
    written = threading.Lock()  # one writer of ``into`` at a time: each day's delete and insert together

    def replay(cur: duckdb.DuckDBPyConnection, share: list[datetime], catalog: str) -> None:
        with replay_catalog(cur, catalog) as rebuild:
            for instant in share:
                started = time.perf_counter()
                rebuild(instant, health_only=True)
                day = instant.astimezone(timezone.utc).date()
                with written:
                    cur.execute(f"DELETE FROM {into} WHERE day = ?", [day])
                    cur.execute(_insert(f"{catalog}.marts.health", "'reconstructed'", into), [day])
                seconds[instant] = time.perf_counter() - started

    def stream(share: list[datetime], catalog: str) -> None:
        cur = open_cursor()
        try:
            replay(cur, share, catalog)
        finally:
            cur.close()

    if len(shares) == 1:
        replay(con, shares[0], "replay")
    else:
        open_cursor = stream_cursors(con)
        # The streams share the cores rather than each statement spreading over all of them:
        # DuckDB's threads are one setting for the database, so it is divided while they run.
        # Twelve weekly replays at 10,000 items, two streams, runs alternating: 6.7-7.1 s with
        # one thread each against 7.3-7.9 s with two.
        threads = int(con.execute("SELECT current_setting('threads')").fetchone()[0])
        con.execute(f"SET threads = {max(1, threads // len(shares))}")
        try:
            with ThreadPoolExecutor(max_workers=len(shares), thread_name_prefix="replay") as pool:
                futures = [pool.submit(stream, share, f"replay_{n}") for n, share in enumerate(shares)]
        finally:
            con.execute(f"SET threads = {threads}")
        errors = [f.exception() for f in futures if f.exception() is not None]
        for other in errors[1:]:  # the first is raised; a second stream's own failure is told too
            log.warning("another replay stream failed too: %s", other)
        if errors:
            raise errors[0]
    return [seconds[i] for i in instants if i in seconds]


# What a replay stream holds per item of the warehouse: its rolled-back core in its in-memory
# catalog. Measured: the second stream raised a 100,000-item first sync's peak by 523 MiB.
REPLAY_BYTES_PER_ITEM = 5_500
_UNITS = {"bytes": 1, "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40, "pib": 2**50, "eib": 2**60,
          "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12}


def replay_streams(con: duckdb.DuckDBPyConnection) -> int:
    """How many replays run at once: two where DuckDB has two threads or more and two streams'
    rolled-back cores fit the memory_limit (REPLAY_BYTES_PER_ITEM each per item: up to about
    175,000 items at the default 2GB, 58,000 at 640MB), else one. Twelve weekly replays on 2
    cores: 10,000 items 7.5 -> 5.0 s (one stream kept 1.2 cores busy); 100,000 items 29.9 ->
    25.9 s, at +523 MiB peak. A stream that runs out of memory fails the night's reconstruction,
    which the next build retries: with one stream the history would fill, with two never."""
    return streams_that_fit(con, REPLAY_BYTES_PER_ITEM)


def streams_that_fit(con: duckdb.DuckDBPyConnection, bytes_per_item: int, items: int | None = None) -> int:
    """Two where DuckDB has two threads or more and the memory_limit covers two streams that each
    hold ``bytes_per_item`` per item (of core.work_items unless ``items`` says), else one."""
    threads = int(con.execute("SELECT current_setting('threads')").fetchone()[0])
    if items is None:
        items = con.execute("SELECT count(*) FROM core.work_items").fetchone()[0]
    limit = _bytes(con.execute("SELECT current_setting('memory_limit')").fetchone()[0])
    return 2 if threads >= 2 and limit is not None and 2 * items * bytes_per_item <= limit else 1


def _bytes(setting: str) -> int | None:
    """DuckDB's memory_limit as it shows it ('1.8 GiB', '610.3 MiB') in bytes; None if unreadable."""
    match = re.fullmatch(r"\s*([\d.]+)\s*([A-Za-z]+)\s*", setting or "")
    unit = _UNITS.get(match.group(2).lower()) if match else None
    return int(float(match.group(1)) * unit) if unit else None


def replay_burnup_events(con: duckdb.DuckDBPyConnection, src: str, parts: dict[str, str]) -> None:
    """core.burnup_events as of replay_at, in the replay catalog, from today's: an item's events
    depend on its own history only, and the replayed history is today's cut at the instant. So
    its events on the days before the instant's are today's; on the instant's own day, today's
    too, unless something of the item changed later that day (a history row starting or ending,
    a move or deletion), whose events are recomputed from the replayed core tables (its [rows]
    with only those items in scope). Equal to rebuilding it whole there
    (tests/e2e/test_history_replays_the_past.py), for the few items that changed that day. One
    exception, where this is the consistent answer: an item that left a project no longer in
    program.yaml (its tombstone has no program) after the instant. Today's table counts it nowhere
    before it left, as today's marts do; the rolled-back core.work_items would place it in its
    present program (replay_core_as_of.sql), or keep a deleted one's milestones."""
    later_that_day = """m > getvariable('replay_at')
        AND CAST(timezone('UTC', m) AS DATE) = CAST(timezone('UTC', getvariable('replay_at')) AS DATE)"""
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE _later_that_day AS
        SELECT item_id FROM {src}.core.item_history, LATERAL (VALUES (valid_from), (valid_to)) v(m)
        WHERE field IN ('status', 'status_category', 'resolution', 'story_points', 'milestone') AND {later_that_day}
        UNION
        SELECT item_id FROM {src}.core.tombstones, LATERAL (VALUES (vanished_at)) v(m) WHERE {later_that_day}""")
    con.execute("CREATE OR REPLACE TEMP MACRO in_scope(item) AS item IN (SELECT item_id FROM _later_that_day)")
    con.execute(parts["rows"])
    con.execute(f"""
        CREATE OR REPLACE TABLE core.burnup_events AS
        SELECT * FROM {src}.core.burnup_events
        WHERE day <= CAST(timezone('UTC', getvariable('replay_at')) AS DATE)
          AND item_id NOT IN (SELECT item_id FROM _later_that_day)
        UNION ALL
        SELECT * FROM _rows""")


# The days of marts.burnup the health reads (marts_health_reasons.sql, scope): additions over
# scope_window_days and the last 14 days, and each line's last day (what is open now). A replay
# that only reconstructs the health (replay_health) builds no earlier day: marts.burnup's rows of
# every day since each line began are most of its cost, and a past day's report, which draws the
# whole burn-up, replays without this. One day more than the window, for the day's boundary.
HEALTH_BURNUP_DAYS = """
    SET VARIABLE burnup_days_from = (
        SELECT CAST(timezone('UTC', getvariable('as_of')) AS DATE) - (greatest(max(scope_window_days), 14) + 1)
        FROM meta.health_thresholds)"""

# What a status report of a past day reads: the replayed marts and the week's changes.
REPORTED = REPLAYED + (STEP["marts.changes_since"],)

# A table's COMMENT ON statements: a scratch catalog needs no documentation, and a replay of the
# marts ran 274 of them, 0.11 of its 0.94 s at 10,000 items (each is a statement of its own).
_COMMENT_ON = re.compile(r"^\s*COMMENT ON (?:TABLE|COLUMN|VIEW) [\w.\"]+ IS '(?:[^']|'')*';[ \t]*$", re.MULTILINE)


def without_comments(sql: str) -> str:
    """A step's SQL without its COMMENT ON statements (what a replay runs)."""
    return _COMMENT_ON.sub("", sql)


@contextmanager
def replay_catalog(con: duckdb.DuckDBPyConnection, catalog: str = "replay") -> Iterator[Callable[..., None]]:
    """A scratch in-memory catalog ``catalog`` beside the connection's database; yields
    ``rebuild(instant, steps=REPLAYED)``, which rolls the core tables back to the instant and
    runs the steps' SQL there. The connection's database is only read, so this works on the
    published file opened read-only (the report of a past day). Detached on exit."""
    src = con.execute("SELECT current_database()").fetchone()[0]
    quoted = '"' + src.replace('"', '""') + '"'
    core_sql = re.sub(r"\breplay\.", f"{catalog}.", render(con, sql_for("replay", "core_as_of"))).replace("{src}", quoted)
    sql_of = {step.name: without_comments(render(con, sql_for(step.schema, step.table))) for step in REPORTED}
    previous = con.execute("SELECT getvariable('as_of')").fetchone()[0]
    con.execute(f"ATTACH ':memory:' AS {catalog}")
    try:
        for schema in ("raw", "staging", "core", "marts", "meta"):
            con.execute(f"CREATE SCHEMA {catalog}.{schema}")
        tables = con.execute("SELECT schema_name, table_name FROM duckdb_tables() WHERE database_name = ?",
                             [src]).fetchall()

        def mirror(schema: str, table: str) -> None:
            """The file's table as it is today, read through a view of the catalog."""
            con.execute(f"CREATE VIEW {catalog}.{schema}.{table} AS SELECT * FROM {quoted}.{schema}.{table}")

        # what replay_core_as_of.sql and REPLAYED do not rebuild is today's (people, sprints, ...)
        for schema, table in tables:
            if schema in ("raw", "staging"):
                mirror(schema, table)
        rebuilt = set(re.findall(rf"{catalog}\.core\.(\w+)", core_sql)) | {s.table for s in REPLAYED if s.schema == "core"}
        present = {table for schema, table in tables if schema == "core"}
        for table in sorted(present - rebuilt - {"tombstones"}):  # the rest is read as it is today
            mirror("core", table)
        for table in (table for schema, table in tables if schema == "meta"):
            if table == "source_syncs":  # the past is judged on its own data: nothing was stale then
                con.execute(f"CREATE TABLE {catalog}.meta.source_syncs AS SELECT * FROM {quoted}.meta.source_syncs LIMIT 0")
            elif table == "milestone_snapshots":
                # before its first snapshot a milestone is taken as first seen, as core.milestones
                # is: nothing then says its due date had moved (slip green, not unknown)
                con.execute(f"""
                    CREATE VIEW {catalog}.meta.milestone_snapshots AS
                    SELECT * FROM {quoted}.meta.milestone_snapshots WHERE observed_at <= getvariable('replay_at')
                    UNION ALL
                    SELECT * REPLACE (getvariable('replay_at') AS observed_at) FROM {quoted}.meta.milestone_snapshots s
                    WHERE NOT EXISTS (SELECT 1 FROM {quoted}.meta.milestone_snapshots e
                                      WHERE e.milestone_id = s.milestone_id AND e.observed_at <= getvariable('replay_at'))
                    QUALIFY row_number() OVER (PARTITION BY milestone_id ORDER BY observed_at, recorded_at) = 1""")
            else:
                mirror("meta", table)
        # A file published before an upgrade lacks the core tables the upgrade added, which the
        # replayed steps may read (core.program_milestone_sprints): built here once, before any
        # instant, from the file's own tables as they are today (the rolled-back ones are not made
        # yet: views of today's stand in for them meanwhile), as the file's next build will build
        # them; every instant then reads them as it reads the other tables kept as they are today.
        # No replayed instant is set yet, so meta.milestone_snapshots reads as of none and
        # meta.source_syncs is empty: a lacking step must not read them (none does). A missing
        # item-scoped table would need its history; none has been added since replays began.
        lacking = [s for s in STEPS if s.schema == "core" and not s.scoped and s.table not in present | rebuilt]
        if lacking:
            standing_in = sorted(present & (rebuilt | {"tombstones"}))
            for table in standing_in:
                mirror("core", table)
            con.execute(f"USE {catalog}")
            try:
                for step in lacking:
                    con.execute(without_comments(render(con, sql_for(step.schema, step.table))))
            finally:
                con.execute(f"USE {quoted}")
            for table in standing_in:
                con.execute(f"DROP VIEW {catalog}.core.{table}")
        con.execute(f"""CREATE VIEW {catalog}.core.tombstones AS SELECT * FROM {quoted}.core.tombstones
                        WHERE vanished_at <= getvariable('replay_at')""")
        # the verdicts recorded up to the replayed day (marts.changes_since compares two of them)
        con.execute(f"""CREATE VIEW {catalog}.marts.health_history AS SELECT * FROM {quoted}.marts.health_history
                        WHERE day <= getvariable('replay_at')::DATE""")

        def rebuild(instant: datetime, steps: tuple = REPLAYED, health_only: bool = False) -> None:
            stamp = instant.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f")
            con.execute(f"SET VARIABLE replay_at = TIMESTAMPTZ '{stamp}+00'")
            set_as_of(con, instant)
            con.execute(HEALTH_BURNUP_DAYS if health_only else "RESET VARIABLE burnup_days_from")
            con.execute(core_sql)
            con.execute(f"USE {catalog}")
            try:
                for step in steps:
                    sql = sql_of[step.name]
                    if step.name in PYTHON_STEPS:
                        con.execute(_sections(sql)["inputs"])
                        PYTHON_STEPS[step.name](con, instant)
                    elif step.name == "core.burnup_events":
                        replay_burnup_events(con, quoted, _sections(sql))
                    elif step.scoped:  # every item: the replayed history is all new
                        rebuild_scoped(con, step, _sections(sql))  # in memory: one pass
                    elif step.incremental:  # whole, from the rolled-back core
                        rebuild_incremental(con, step, _sections(sql))
                    else:
                        con.execute(sql)
            finally:
                con.execute(f"USE {quoted}")

        yield rebuild
    finally:
        con.execute(f"USE {quoted}")
        con.execute(f"DETACH {catalog}")
        con.execute("RESET VARIABLE replay_at")
        con.execute("RESET VARIABLE burnup_days_from")
        con.execute("SET VARIABLE as_of = ?" if previous is not None else "RESET VARIABLE as_of",
                    [previous] if previous is not None else [])
