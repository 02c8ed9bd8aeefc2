"""The sync job (every asset from raw to publish, escalations included) and its nightly schedule."""

from __future__ import annotations

import dagster as dg

SYNC_JOB = "pulse_sync"

# dagster.yaml's run queue admits one run with this tag at a time: a second sync queues until the
# first has finished instead of interleaving its steps with it on the one work file.
WAREHOUSE_TAG = "pulse/warehouse"

# Everything but the status report, which reads the published file on its own weekly schedule.
pulse_sync = dg.define_asset_job(
    SYNC_JOB, selection=dg.AssetSelection.all() - dg.AssetSelection.assets(["reports", "status"]),
    description="Sync every configured tracker, rebuild core and marts, publish the snapshot.",
    run_tags={WAREHOUSE_TAG: "work"},
)

nightly_sync = dg.ScheduleDefinition(
    name="nightly_sync", job=pulse_sync, cron_schedule="0 2 * * *", execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.STOPPED,
    description="02:00 UTC every night; turn it on in the Dagster UI or with `dagster schedule start`.",
)
