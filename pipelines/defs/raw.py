"""Ingest assets: each tracker's raw API objects, landed in ``raw.*`` of the work database."""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone

import dagster as dg

from connectors.github_source import GithubSource
from connectors.jira_source import JiraSource
from pipelines.config import PulseConfig
from pipelines.defs.partitions import SOURCES, source_key
from pipelines.defs.resources import PulseResource, Trackers, config_at_load
from pipelines.defs.schedules import TRANSIENT_RETRY
from pipelines.failures import explain
from pipelines.ingest import (
    SiteResult, SyncPolicy, replay_landed, site_failed, sync_github_site, sync_jira_site, sync_sites,
)
from warehouse.landing import LandingStore, deal
from warehouse.writer import Writer

JIRA_TABLES = ("jira_sites", "jira_issues", "jira_versions", "jira_changelogs", "jira_remote_links",
               "jira_board_sprints")
GITHUB_TABLES = ("github_repos", "github_issues", "github_issue_events", "github_milestones",
                 "github_issue_relations")


# A backfill of many projects is one run (one pass over each site, one rebuild), as a night is.
ONE_RUN = dg.BackfillPolicy.single_run()

ABANDONED = "did not finish: its process ended before publishing (killed, or stopped by a failed step)"


def _start_sync(con, run_id: str, as_of: datetime, instance: dg.DagsterInstance) -> None:
    """Record the run. A run of another id still marked running is marked failed, unless this
    Dagster instance launched it and knows it as in progress: pulse_sync runs queue one at a
    time, but a run launched from an asset's page carries no queue tag and may start while a
    night's run is between its steps. A run of the command line (in-process: no launch origin) is
    over once another starts, since the command line holds the run lock for the whole sync; if it
    was killed, Dagster never hears of its end."""
    others = [r for (r,) in con.execute(
        "SELECT sync_id FROM meta.sync_runs WHERE status = 'running' AND sync_id <> ?", [run_id]).fetchall()]
    abandoned = [r for r in others if (run := instance.get_run_by_id(r)) is None or run.is_finished
                 or run.remote_job_origin is None]
    if abandoned:
        con.execute("UPDATE meta.sync_runs SET status = 'failed', cause = coalesce(cause, ?) "
                    "WHERE list_contains(?, sync_id)", [ABANDONED, abandoned])
    con.execute("INSERT OR IGNORE INTO meta.sync_runs (sync_id, started_at, finished_at, as_of, status) "
                "VALUES (?, ?, NULL, ?, 'running')", [run_id, datetime.now(timezone.utc), as_of])


def _finish_unpublished(con, run_id: str, projects: list, why: str) -> None:
    """End the run's record where no publish step will: its only project failed alone, or its
    selection stops at raw (an asset's page in the UI)."""
    failed = sum(1 for p in projects if p.error)
    status = "failed" if projects and failed == len(projects) else "partial" if failed else "succeeded"
    con.execute("UPDATE meta.sync_runs SET status = ?, finished_at = ?, cause = concat_ws('; ', cause, ?) "
                "WHERE sync_id = ?", [status, datetime.now(timezone.utc), why, run_id])


def _result(con, run_id: str, program: PulseConfig, results: list[SiteResult]) -> dg.MaterializeResult:
    """One bad project, or a whole site, does not cost the night: the failures are recorded
    (``meta.source_syncs``, and their causes in ``meta.sync_runs.cause``) and the run goes on, so
    that the others publish with the failed ones' last good data marked stale. Whether anything
    is worth publishing is decided once every tracker has been read (``meta/snapshots``)."""
    projects = [p for r in results for p in r.projects]
    failed = [p for p in projects if p.error]
    causes = explain(program, failed)
    if causes:
        con.execute("UPDATE meta.sync_runs SET cause = concat_ws('; ', cause, ?) WHERE sync_id = ?",
                    ["; ".join(causes), run_id])
    return dg.MaterializeResult(metadata={
        "projects": len(projects),
        "projects_failed": len(failed),
        "failures": dg.MetadataValue.json(causes),
        "items_written": sum(p.items for p in projects),
        "requests": sum(p.requests for p in projects),
    })


class SyncConfig(dg.Config):
    """Run config of the ingest assets."""

    full: bool = False  # refetch everything and drop what the trackers no longer return
    reconcile: bool = False  # list every project's members tonight, finding deletions and moves


def _specs(tables: tuple[str, ...], kind: str) -> list[dg.AssetSpec]:
    return [dg.AssetSpec(["raw", t], group_name="raw", kinds={kind, "duckdb"}) for t in tables]


def _ingest(context: dg.AssetExecutionContext, config: SyncConfig, pulse: PulseResource):
    """Sync the run's partitions, every site at once through one writer, into the work database
    and report one result per raw table (for every partition of the run)."""
    program = _only(pulse.load().config, set(context.partition_keys))
    policy = SyncPolicy.from_settings(program.sync, full=config.full, reconcile=config.reconcile)
    with pulse.trackers() as trackers, pulse.warehouse(ingest=True) as con:
        _start_sync(con, context.run.run_id, program.clock(), context.instance)
        results = sync_sites(con, _jira_sites(con, trackers, program, context.run.run_id, policy)
                             + _github_sites(con, trackers, program, context.run.run_id, policy),
                             lanes=trackers.lanes)
        concluded = _conclude(context, con, program, results)
    for table, metadata in _report(context, *concluded):
        yield dg.MaterializeResult(asset_key=["raw", table], metadata=metadata)


def _conclude(context, con, program: PulseConfig, results: list[SiteResult]):
    """Record the sync's outcome in the work database: (the tables' metadata, every project's
    result, whether the run's one project failed alone)."""
    outcome = _result(con, context.run.run_id, program, results)
    projects = [p for r in results for p in r.projects]
    publishes = dg.AssetKey(["meta", "snapshots"]) in context.job_def.asset_layer.selected_asset_keys
    alone_failed = len(context.partition_keys) == 1 and bool(projects) and all(p.error for p in projects)
    if alone_failed:
        _finish_unpublished(con, context.run.run_id, projects, "its one project failed: nothing published")
    elif not publishes:
        _finish_unpublished(con, context.run.run_id, projects,
                            "landed only: this run stops at raw; the next pulse_sync run builds and publishes it")
    return outcome, projects, alone_failed


def _report(context, outcome: dg.MaterializeResult, projects: list, alone_failed: bool):
    """Tell the run what the sync did: a warning per stale project, each project's figures on its
    own partition, and (table, metadata) for every raw table; or the run's failure."""
    failures = outcome.metadata["failures"].value if outcome.metadata else []
    for line in failures:
        context.log.warning(f"kept stale: {line}")
    # Each project's own figures on its own partition, once: a materialization's metadata is
    # repeated on every partition of the run's range, so per-project detail there would grow with
    # the square of the projects.
    for p in projects:
        context.log_event(dg.AssetObservation(
            asset_key=["raw", f"{p.source}_issues"], partition=source_key(p.site, p.project_key),
            metadata={"items": p.items, "requests": p.requests, "mode": p.mode, "error": p.error or ""}))
    if alone_failed:
        # One project asked for alone (a retry, a backfill): its failure is the run's, so the UI
        # marks its partition failed. A night's run goes on with the others (kept stale).
        # Not retried: the connectors already retried what waiting cures (429, 5xx, resets).
        raise dg.Failure(description="; ".join(failures) or "the project's sync failed",
                         metadata=outcome.metadata, allow_retries=False)
    return [(table, outcome.metadata) for table in JIRA_TABLES + GITHUB_TABLES]


def _only(program: PulseConfig, keys: set[str]) -> PulseConfig:
    """The config with only the projects whose partitions the run selected (every program kept,
    so the projects keep their programs)."""
    programs = tuple(p.model_copy(update={"projects": tuple(
        project for project in p.projects if source_key(project.site, project.project_key) in keys)})
        for p in program.programs)
    return program.model_copy(update={"programs": programs})


def _jira_sites(con, trackers: Trackers, program: PulseConfig, sync_id: str,
                policy: SyncPolicy) -> list[Callable[[Writer], SiteResult]]:
    """The run's Jira sites, each a sync waiting for the writer (``sync_sites`` runs them)."""
    def site_sync(name: str, site, projects: list[tuple[str, str | None]]) -> Callable[[Writer], SiteResult]:
        def run(writer: Writer) -> SiteResult:
            started = datetime.now(timezone.utc)
            try:
                source = JiraSource(site, lanes=trackers.lanes)  # asks the site for serverInfo
            except Exception as exc:  # a site that is down stops none of the others
                return site_failed(writer, sync_id, name, "jira", [k for k, _ in projects], exc, 1, started)
            return sync_jira_site(con, source, projects, sync_id, policy, writer)
        return run

    return [site_sync(name, site, projects) for name, site in trackers.jira.items()
            if (projects := [(p.key, p.jql) for _, p in program.projects() if p.site == name])]


def _github_sites(con, trackers: Trackers, program: PulseConfig, sync_id: str,
                  policy: SyncPolicy) -> list[Callable[[Writer], SiteResult]]:
    """The run's GitHub sites, each a sync waiting for the writer."""
    return [lambda writer, site=site, repos=repos: sync_github_site(con, GithubSource(site, lanes=trackers.lanes), repos,
                                                                    sync_id, policy, writer)
            for name, site in trackers.github.items()
            if (repos := [p.repo for _, p in program.projects() if p.site == name and p.repo])]


def _one_process() -> dg.AssetsDefinition:
    @dg.multi_asset(specs=_specs(JIRA_TABLES, "jira") + _specs(GITHUB_TABLES, "github"), pool="duckdb",
                    name="trackers_raw", retry_policy=TRANSIENT_RETRY, partitions_def=SOURCES,
                    backfill_policy=ONE_RUN)
    def trackers_raw(context: dg.AssetExecutionContext, config: SyncConfig, pulse: PulseResource):
        """Every configured Jira project and GitHub repo, every site at once (a thread each, one
        writer): Jira's site metadata, versions, issues with complete changelogs and the active and
        future sprints of its boards; GitHub's issues, events, milestones, sub-issues, dependencies."""
        yield from _ingest(context, config, pulse)

    return trackers_raw


# -- Scale-out (sync.landing.processes > 1) ------------------------------------------------------

@dataclass(frozen=True)
class Shard:
    """A share of the run's projects (partition keys), fetched by one step into its journal."""

    index: int
    of: int  # how many shards the run has (each paces its requests to this share of a site's limits)
    keys: tuple[str, ...]
    full: bool
    reconcile: bool


@dg.op(out=dg.DynamicOut(Shard), pool="duckdb", retry_policy=TRANSIENT_RETRY)
def plan_landing(context: dg.OpExecutionContext, config: SyncConfig, pulse: PulseResource):
    """Record the run, copy the state the shards read to the landing store (the warehouse's as the
    night began), and deal the run's projects into shards."""
    loaded = pulse.load()
    program = _only(loaded.config, set(context.partition_keys))
    store = LandingStore(loaded.landing_url)
    store.clear(context.run.run_id)  # a retried run starts from a clean folder
    with pulse.warehouse(ingest=True) as con:
        _start_sync(con, context.run.run_id, program.clock(), context.instance)
        copied = store.export_state(con, context.run.run_id)
    keys = [source_key(p.site, p.project_key) for _, p in program.projects()]
    dealt = deal(keys, loaded.config.sync.landing.processes)
    context.log.info(f"{len(keys)} projects in {len(dealt)} shards; state copied to {loaded.landing_url}: "
                     f"{copied} rows")
    for index, keys_of_shard in enumerate(dealt):
        yield dg.DynamicOutput(Shard(index, len(dealt), keys_of_shard, config.full, config.reconcile),
                               mapping_key=f"shard_{index}")


@dg.op(retry_policy=TRANSIENT_RETRY)
def land_shard(context: dg.OpExecutionContext, shard: Shard, pulse: PulseResource) -> Shard:
    """Fetch the shard's projects, every site at once, reading the state copy and recording every
    write in the shard's journal; the warehouse is not opened (another step may be writing it)."""
    loaded = pulse.load()
    program = _only(loaded.config, set(shard.keys))
    policy = SyncPolicy.from_settings(program.sync, full=shard.full, reconcile=shard.reconcile)
    store, run_id = LandingStore(loaded.landing_url), context.run.run_id
    with pulse.trackers() as every, store.state(run_id) as reader, store.journal(run_id, shard.index) as journal:
        trackers = every.shared(shard.of)  # the shards run at once on the same tokens: each paces to its share
        results = sync_sites(reader, _jira_sites(reader, trackers, program, run_id, policy)
                             + _github_sites(reader, trackers, program, run_id, policy), writer=journal)
        journal.finish(results)
    projects = [p for r in results for p in r.projects]
    context.add_output_metadata({"projects": len(projects), "items": sum(p.items for p in projects),
                                 "requests": sum(p.requests for p in projects),
                                 "failed": sum(1 for p in projects if p.error)})
    return shard


@dg.op(out={table: dg.Out(dg.Nothing) for table in JIRA_TABLES + GITHUB_TABLES}, pool="duckdb",
       retry_policy=TRANSIENT_RETRY)
def merge_landed(context: dg.OpExecutionContext, shards: list[Shard], pulse: PulseResource):
    """Write every shard's journal into the work database through the one writer, then record the
    sync's outcome as a sync of one process does."""
    loaded = pulse.load()
    program = _only(loaded.config, set(context.partition_keys))
    store = LandingStore(loaded.landing_url)
    with pulse.warehouse(ingest=True) as con:
        results = replay_landed(con, store, context.run.run_id)
        concluded = _conclude(context, con, program, results)
    store.clear(context.run.run_id)  # committed: a retry of this step would find nothing to write
    for table, metadata in _report(context, *concluded):
        yield dg.Output(None, output_name=table, metadata=metadata)


def _scaled_out() -> dg.AssetsDefinition:
    outs = {table: dg.AssetOut(key=["raw", table], group_name="raw", kinds={kind, "duckdb"})
            for tables, kind in ((JIRA_TABLES, "jira"), (GITHUB_TABLES, "github")) for table in tables}

    @dg.graph_multi_asset(outs=outs, name="trackers_raw", partitions_def=SOURCES, backfill_policy=ONE_RUN)
    def trackers_raw():
        """Every configured project, fetched by sync.landing.processes shards at once (a step each:
        a process each on the multiprocess executor, a container on docker or k8s) into the landing
        store, then written into the work database by one step."""
        landed = plan_landing().map(land_shard).collect()
        return dict(zip(JIRA_TABLES + GITHUB_TABLES, merge_landed(landed)))

    return trackers_raw


def scaled_out(config: PulseConfig | None) -> bool:
    """Whether the code location loads the scaled-out ingest: program.yaml (PULSE_CONFIG, read when
    the code location loads) asks for more than one landing process."""
    return config is not None and config.sync.landing.processes > 1


trackers_raw = _scaled_out() if scaled_out(config_at_load()) else _one_process()
