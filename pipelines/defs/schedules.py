"""The sync job (every asset from raw to publish, escalations included), its nightly schedule, and
how its steps and runs are retried."""

import os

import dagster as dg

from pipelines.config import ConfigError, load
from pipelines.defs.partitions import range_tags, register

SYNC_JOB = "pulse_sync"

# dagster.yaml's run queue admits one run with this tag at a time: a second sync queues until the
# first has finished instead of interleaving its steps with it on the one work file.
WAREHOUSE_TAG = "pulse/warehouse"

# Steps that reach outside the process (the trackers, the work file's lock, the published file's
# copy and rename) are tried again after about 20 s, 60 s and 140 s (Dagster's exponential
# backoff, (2^n - 1) x 20 s), each +/- up to 20 s so that steps failed by one outage do not return
# in step. A retry is the same step in the same run id: ingest finds its run already in
# meta.sync_runs and replaces its projects' rows of meta.source_syncs; pages already landed merge
# by primary key and cursors only move with committed pages.
TRANSIENT_RETRY = dg.RetryPolicy(max_retries=3, delay=20, backoff=dg.Backoff.EXPONENTIAL,
                                 jitter=dg.Jitter.PLUS_MINUS)

# Run retries (dagster.yaml run_retries): a run that failed outside its steps (its worker could not
# start, load the code location or reach the instance's storage) is launched again, twice at most,
# by the daemon. A step that failed after its own retries fails the run for good: running the
# night again at once would fail alike, and post another alert. ALL_STEPS, not FROM_FAILURE: the
# run id is the sync id (meta.sync_runs, meta.source_syncs, meta.snapshots), and the publish step
# judges the run by the projects its own ingest recorded, so a retry that skipped ingest would
# publish under a run id with no sync behind it. Ingest again is incremental and cheap (a quiet
# night is a few requests a project), and it marks an earlier attempt still running failed.
RUN_RETRY_TAGS = {
    "dagster/max_retries": "2",
    "dagster/retry_strategy": "ALL_STEPS",
    "dagster/retry_on_asset_or_op_failure": "false",
}

# Everything but the status report, which reads the published file on its own weekly schedule.
pulse_sync = dg.define_asset_job(
    SYNC_JOB, selection=dg.AssetSelection.all() - dg.AssetSelection.assets(["reports", "status"]),
    description="Sync every configured tracker, rebuild core and marts, publish the snapshot.",
    run_tags={WAREHOUSE_TAG: "work", **RUN_RETRY_TAGS},
)

@dg.schedule(
    name="nightly_sync", job=pulse_sync, cron_schedule="0 2 * * *", execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="02:00 UTC every night, running once deployed: one run over every configured project's "
                "partition. Stop it in the UI or with `dagster schedule stop nightly_sync -m "
                "pipelines.definitions` (docs/operations.md); it stays stopped.",
)
def nightly_sync(context: dg.ScheduleEvaluationContext):
    """One run over every configured project: the 'sources' partitions are made the projects
    program.yaml names tonight, then the run selects them all (a partition range)."""
    path = os.environ.get("PULSE_CONFIG")
    if not path:
        return dg.SkipReason("PULSE_CONFIG is not set: no program.yaml to sync")
    try:
        keys = register(context.instance, load(path).config)
    except ConfigError as exc:
        return dg.SkipReason(f"program.yaml is not valid, nothing synced tonight: {exc}")
    return dg.RunRequest(tags=dict(range_tags(keys)))
