"""Publish: copy the finished work database to the file analysts and BI tools read.

Runs last, only when everything upstream succeeded, so a failed sync leaves the previous
snapshot in place (see warehouse/store.py for why readers never see the work file)."""


import json
from datetime import datetime, timedelta, timezone

import dagster as dg

from pipelines.config import SyncSettings
from pipelines.failures import explain
from pipelines.ingest import ProjectResult
from pipelines.defs.resources import FILE_LOCK_TIMEOUT_SECONDS, PulseResource, config_at_load
from pipelines.defs.schedules import TRANSIENT_RETRY
from transforms.build import STEPS
from warehouse.bi import ensure_bi_views
from warehouse.locks import hold
from warehouse.store import file_lock, publish

# Every core and marts table waits for its build before a snapshot is published (staging is internal).
PUBLISHED_TABLES = ("core.programs",) + tuple(s.name for s in STEPS if s.schema in ("core", "marts"))


def _freshness_hours() -> int:
    """sync.freshness_hours of the program.yaml PULSE_CONFIG names at load, else the default."""
    return (config.sync if (config := config_at_load()) else SyncSettings()).freshness_hours


# ... and the escalations' ledger, so that what was posted is published with the verdicts it posted.
@dg.asset(key=["meta", "snapshots"], deps=[*(dg.AssetKey(t.split(".")) for t in PUBLISHED_TABLES),
                                           dg.AssetKey(["meta", "notifications"])],
          group_name="publish", kinds={"duckdb"}, pool="duckdb", retry_policy=TRANSIENT_RETRY,
          # Dagster's own freshness (the daemon evaluates it, the UI shows it): no snapshot published
          # for sync.freshness_hours is a failure even when no run is there to fail. The per-project
          # view is the every_project_synced_recently check (checks.py).
          freshness_policy=dg.FreshnessPolicy.time_window(fail_window=timedelta(hours=_freshness_hours())))
def meta_snapshots(context: dg.AssetExecutionContext, pulse: PulseResource) -> dg.MaterializeResult:
    """Record this snapshot in meta.snapshots, then atomically replace the published file."""
    paths = pulse.paths()
    now = datetime.now(timezone.utc)
    # The copy reads the work file once the connection has closed: the file lock is held from the
    # connection through the copy, so no step of another run writes the file in between.
    with hold(file_lock(paths.work), timeout=FILE_LOCK_TIMEOUT_SECONDS):
        with pulse.warehouse() as con:
            counts = {t: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in PUBLISHED_TABLES}
            as_of = con.execute("SELECT max(as_of) FROM marts.project_health").fetchone()[0]
            con.execute("""
                CREATE TABLE IF NOT EXISTS meta.snapshots (
                    sync_id VARCHAR PRIMARY KEY, published_at TIMESTAMPTZ NOT NULL,
                    as_of TIMESTAMPTZ, row_counts JSON NOT NULL)""")
            con.execute("COMMENT ON TABLE meta.snapshots IS 'One row per published snapshot; the newest row describes the file you are reading.'")
            con.execute("COMMENT ON COLUMN meta.snapshots.sync_id IS 'The sync (meta.sync_runs.sync_id) that built the snapshot.'")
            con.execute("COMMENT ON COLUMN meta.snapshots.published_at IS 'When the snapshot was published (UTC).'")
            con.execute("COMMENT ON COLUMN meta.snapshots.as_of IS 'The instant its figures describe.'")
            con.execute("COMMENT ON COLUMN meta.snapshots.row_counts IS 'Rows per core and marts table at publication.'")
            con.execute("INSERT OR REPLACE INTO meta.snapshots VALUES (?, ?, ?, ?)",
                        [context.run.run_id, now, as_of, json.dumps(counts)])
            # a run that read no tracker (the UI's rebuild of what earlier runs landed) is recorded too
            con.execute("INSERT OR IGNORE INTO meta.sync_runs (sync_id, started_at, finished_at, as_of, status, cause) "
                        "VALUES (?, ?, NULL, ?, 'running', ?)", [context.run.run_id, now, as_of or now,
                        "rebuilt and published what earlier runs landed: no tracker was read in this run"])
            status = _run_status(con, pulse, context.run.run_id, now)
            con.execute("UPDATE meta.sync_runs SET finished_at = ?, status = ? WHERE sync_id = ?",
                        [now, status, context.run.run_id])
            ensure_bi_views(con)  # the BI feed's views over the marts just built (warehouse/bi.py)
            con.execute("CHECKPOINT")
        path = publish(paths)
    return dg.MaterializeResult(metadata={"path": str(path), "as_of": str(as_of),
                                          **{f"rows/{t}": n for t, n in counts.items()}})


def _run_status(con, pulse: PulseResource, run_id: str, now: datetime) -> str:
    """succeeded, or partial when some projects failed (published, their data marked stale).
    When every project failed there is nothing new to publish: the run fails with the causes and
    the last snapshot stays."""
    rows = con.execute("""SELECT site, project_key, source, items, requests, mode, error FROM meta.source_syncs
                          WHERE sync_id = ?""", [run_id]).fetchall()
    failed = [ProjectResult(*row) for row in rows if row[6]]
    if rows and len(failed) == len(rows):
        cause = "; ".join(explain(pulse.load().config, failed))
        con.execute("UPDATE meta.sync_runs SET status = 'failed', finished_at = ?, cause = ? WHERE sync_id = ?",
                    [now, cause, run_id])
        # publishing again would read the same failed projects: no step retry (the next sync tries them)
        raise dg.Failure(description=f"every project failed to sync, nothing new to publish: {cause}",
                         allow_retries=False)
    return "partial" if failed else "succeeded"
