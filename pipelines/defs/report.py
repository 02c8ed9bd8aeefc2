"""The reporting cadence: escalations every sync, the status report every week.

``meta/notifications`` runs in the sync job, after the health history is recorded and before the
snapshot is published (its ledger is published with it). ``reports/status`` reads only the
published file, so it runs in its own job on its own schedule, beside a sync if need be."""


import dagster as dg

from pipelines.config import ReportSettings
from pipelines.defs.resources import PulseResource, config_at_load
from pipelines.defs.schedules import TRANSIENT_RETRY
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
        # the instant the transforms built for (what health_history and the snapshots are dated by),
        # not the clock now: a real run's clock has moved on since the transforms step read it
        as_of = con.execute("SELECT max(as_of) FROM marts.health").fetchone()[0]
        try:
            run = escalate(con, as_of, owners, names, config.report.webhook_url_env,
                           config.report.webhook_timeout_seconds)
        except Exception as exc:  # noqa: BLE001 - telling owners must never keep the night from publishing
            context.log.error(f"escalations failed, the snapshot is published without them: "
                              f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}")
            return dg.MaterializeResult(metadata={"error": type(exc).__name__})
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
          kinds={"html"}, retry_policy=TRANSIENT_RETRY)
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
    """report.schedule of the program.yaml PULSE_CONFIG names at load, else the default."""
    return (config.report if (config := config_at_load()) else ReportSettings()).schedule


def _weekly_report(cron: str) -> dg.ScheduleDefinition:
    return dg.ScheduleDefinition(
        name="weekly_report", job=pulse_report, cron_schedule=cron, execution_timezone="UTC",
        default_status=dg.DefaultScheduleStatus.RUNNING,
        description="The status report every week (report.schedule, default Mondays 06:00 UTC); it reads the "
                    "published snapshot only. Stop it in the UI or with `dagster schedule stop weekly_report`.",
    )


try:
    weekly_report = _weekly_report(_report_cron())
except dg.DagsterInvalidDefinitionError:  # a cron config validation let through: never lose the code location
    weekly_report = _weekly_report(ReportSettings().schedule)
