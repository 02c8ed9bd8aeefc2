"""The reporting cadence: escalations every sync, the status report every week.

``meta/notifications`` runs in the sync job, after the health history is recorded and before the
snapshot is published (its ledger is published with it). ``reports/status`` reads only the
published file, so it runs in its own job on its own schedule, beside a sync if need be."""


import os

import dagster as dg

from pipelines.config import ConfigError, ReportSettings, load
from pipelines.defs.resources import PulseResource
from pipelines.report.escalate import escalate

REPORT_JOB = "pulse_report"


@dg.asset(key=["meta", "notifications"], deps=[dg.AssetKey(["marts", "health_history"]),
                                                dg.AssetKey(["marts", "milestone_slips"])],
          group_name="report", kinds={"duckdb"}, pool="duckdb")
def meta_notifications(context: dg.AssetExecutionContext, pulse: PulseResource) -> dg.MaterializeResult:
    """Post each verdict that turned red and each milestone that slipped to the webhook, once."""
    loaded = pulse.load()
    config = loaded.config
    owners = {p.id: p.owners for p in config.programs}
    names = {p.id: p.name for p in config.programs}
    with pulse.warehouse() as con:
        run = escalate(con, config.clock(), owners, names, config.report.webhook_url_env,
                       config.report.webhook_timeout_seconds)
        rows = con.execute("SELECT count(*) FROM meta.notifications").fetchone()[0]
    if run.not_configured:
        context.log.warning(f"{run.not_configured} escalations recorded but not posted: "
                            f"${config.report.webhook_url_env} is not set")
    if run.failed:
        context.log.warning(f"{run.failed} escalations failed to post; the next syncs retry them")
    return dg.MaterializeResult(metadata={
        "dagster/row_count": rows, "found": run.found, "sent": run.sent, "failed": run.failed,
        "not_configured": run.not_configured, "retried": run.retried})


@dg.asset(key=["reports", "status"], deps=[dg.AssetKey(["meta", "snapshots"])], group_name="report",
          kinds={"html"})
def reports_status(context: dg.AssetExecutionContext, pulse: PulseResource) -> dg.MaterializeResult:
    """The stakeholder status report (HTML per program, index, Markdown, JSON) from the published
    warehouse, into report.out."""
    from pipelines.report import write_report

    loaded = pulse.load()
    files = write_report(pulse.paths().published, loaded.report_path, backtest=loaded.config.report.backtest)
    return dg.MaterializeResult(metadata={
        "index": dg.MetadataValue.path(str(files.index)), "markdown": dg.MetadataValue.path(str(files.markdown)),
        "seconds": round(files.seconds, 2), **{f"health/{program}": health for program, health in files.verdicts}})


pulse_report = dg.define_asset_job(REPORT_JOB, selection=dg.AssetSelection.assets(reports_status),
                                   description="Write the status report from the published warehouse.")


def _report_cron() -> str:
    """report.schedule from the program.yaml that PULSE_CONFIG names when the code location loads;
    the default when it names none (definitions load with no config)."""
    path = os.environ.get("PULSE_CONFIG")
    if path:
        try:
            return load(path).config.report.schedule
        except ConfigError:
            pass  # the run itself reports the config's problems
    return ReportSettings().schedule


weekly_report = dg.ScheduleDefinition(
    name="weekly_report", job=pulse_report, cron_schedule=_report_cron(), execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="The status report every week (report.schedule, default Mondays 06:00 UTC); it reads the "
                "published snapshot only. Stop it in the UI or with `dagster schedule stop weekly_report`.",
)
