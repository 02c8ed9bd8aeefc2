"""``pulse``: the command line. Every command that syncs runs the Dagster job in-process, from the
same definitions ``dagster dev`` loads."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from pipelines.config import (
    SANDBOX_URL, ConfigError, GithubSiteConfig, JiraSiteConfig, ProgramConfig, ProjectConfig,
    LoadedConfig, PulseConfig, SandboxConfig, WarehouseConfig, dump, load, preflight,
)

if TYPE_CHECKING:
    from rich.console import Console

    from pipelines.progress import Event
    from sandbox.faults import FaultRule

CONFIG_ENV = "PULSE_CONFIG"


def demo_config(seed: int, as_of: date, scenario_name: str = "demo") -> PulseConfig:
    """The program config of a sandbox scenario (the demo, or the 10,000-item portfolio), served
    by the built-in sandbox."""
    from sandbox.scenario import build
    from sandbox.credentials import SANDBOX_TOKEN_ENV, SANDBOX_USER_ENV

    scenario = build(scenario_name, seed, as_of)
    sites = {
        "jira-cloud": JiraSiteConfig(kind="jira", url=SANDBOX_URL, user_env=SANDBOX_USER_ENV,
                                     token_env=SANDBOX_TOKEN_ENV),
        "jira-dc": JiraSiteConfig(kind="jira", url=SANDBOX_URL, token_env=SANDBOX_TOKEN_ENV),
        "github": GithubSiteConfig(kind="github", url=SANDBOX_URL, token_env=SANDBOX_TOKEN_ENV),
    }
    programs = []
    for program in scenario.programs:
        projects = []
        for p in scenario.projects:
            if p.program != program.id:
                continue
            if p.site == "github":
                projects.append(ProjectConfig(site=p.site, repo=p.key))
            else:
                projects.append(ProjectConfig(site=p.site, key=p.key))
        programs.append(ProgramConfig(id=program.id, name=program.name, goal=program.goal, projects=tuple(projects),
                                      milestones=_program_milestones(scenario, program.id)))
    # the aliases a program manager declares for the people whose work spans trackers
    from pipelines.config import PeopleSettings, PersonAlias, PersonIdentity
    from sandbox.scenario import declared_aliases

    people = PeopleSettings(aliases=tuple(
        PersonAlias(key=person.key.replace(".", "-"), name=person.name,
                    identities=tuple(PersonIdentity(site=site, id=ident) for site, ident in identities))
        for person, identities in declared_aliases(scenario)))
    return PulseConfig(sites=sites, programs=tuple(programs), warehouse=WarehouseConfig(path="pulse.duckdb"),
                       people=people,
                       sandbox=SandboxConfig(scenario=scenario_name, seed=seed, as_of=as_of))


def _program_milestones(scenario, program_id: str) -> tuple:
    """The program milestone a program manager declares over the demo's projects: general
    availability once every project's unreleased release is out, due a week after the last one was
    first planned (the scenario's planned dates, so a release that slips makes the program slip)."""
    from pipelines.config import MilestoneMemberConfig, ProgramMilestoneConfig

    keys = {p.key for p in scenario.projects if p.program == program_id}
    open_releases = [r for r in scenario.releases if r.project in keys and r.released_at is None and r.due]
    if scenario.name != "demo" or not open_releases:
        return ()
    name = next(p.name for p in scenario.programs if p.id == program_id)
    due = max(r.planned_due or r.due for r in open_releases) + timedelta(days=7)
    return (ProgramMilestoneConfig(name=f"{name} GA", due=due, members=tuple(
        MilestoneMemberConfig(project=r.project, milestone=r.name) for r in sorted(open_releases, key=lambda r: r.name))),)


# Exit codes: what a scheduler or a script can tell apart.
EXIT_OK = 0  # every project synced, snapshot published
EXIT_FAILED = 1  # nothing published: the last snapshot is unchanged
EXIT_USAGE = 2  # a config, usage or lock problem: nothing ran
EXIT_PARTIAL = 3  # published, but some projects failed: their last good data is kept, marked stale


@dataclass(frozen=True)
class SyncOutcome:
    """What a sync run did, in the lines a person reads: causes first, tracebacks in ``log``."""

    run_id: str
    published: bool
    stale: tuple[str, ...] = ()  # one line per failed site or project, when the rest was published
    cause: str | None = None  # why nothing was published
    log: Path | None = None  # the failures' tracebacks
    causes: tuple[str, ...] = ()  # the cause, one line per failed step
    items: int = 0  # items the ingest steps wrote
    requests: int = 0  # requests they made

    @property
    def exit_code(self) -> int:
        return EXIT_FAILED if not self.published else EXIT_PARTIAL if self.stale else EXIT_OK


class SyncBusy(Exception):
    """Another sync holds the warehouse's run lock."""


class SyncWatch(Protocol):
    """Whoever shows a sync's progress (pipelines.console.SyncDisplay): told the run's asset-check
    steps (and how many checks each runs) when it starts, then every ingest progress event and
    every Dagster event of the run."""

    def start(self, checks: Mapping[str, int]) -> None: ...

    def on_progress(self, event: Event) -> None: ...

    def on_dagster(self, entry: Any) -> None: ...

    def close(self) -> None: ...


def run_sync(loaded: LoadedConfig, full: bool = False, reconcile: bool = False, wait: float | None = None,
             verbose: bool = False, watch: SyncWatch | None = None, project: str | None = None) -> SyncOutcome:
    """Run the sync job in-process, one sync at a time per warehouse (the run lock; ``wait``
    seconds at most, else ``sync.lock_wait_seconds``). Raises SyncBusy when the lock stays held.
    ``watch`` sees the run's progress once the lock is held. Every configured project (one run over
    all the ``sources`` partitions), or only ``project``'s partition (``<site>/<key or repo>``)."""
    import uuid
    from contextlib import ExitStack

    import dagster as dg

    from pipelines import progress
    from pipelines.definitions import defs
    from pipelines.defs.partitions import configured_keys, range_tags, register
    from pipelines.defs.schedules import SYNC_JOB
    from warehouse.locks import LockTimeout, hold
    from warehouse.store import WarehousePaths, remove_stale_temp_files

    paths = WarehousePaths(loaded.warehouse_path)
    if project is not None and project not in configured_keys(loaded.config):
        raise ConfigError(f"--project {project!r} is not a configured project; choose one of: "
                          + ", ".join(configured_keys(loaded.config)))
    wait = loaded.config.sync.lock_wait_seconds if wait is None else wait
    what = f"pulse sync --config {loaded.path}"
    try:
        with hold(paths.run_lock, timeout=wait, what=what):
            remove_stale_temp_files(paths)  # a run killed while publishing left its copy behind
            os.environ[CONFIG_ENV] = str(loaded.path)
            # Disposed when the sync ends: a process that syncs again (the tests, a notebook) must
            # not leave SQLite storage for a garbage collection in some other thread to close.
            with dg.DagsterInstance.get() if os.environ.get("DAGSTER_HOME") else dg.DagsterInstance.ephemeral() \
                    as instance:
                definitions = defs()
                job = definitions.resolve_job_def(SYNC_JOB)
                keys = register(instance, loaded.config)  # the 'sources' partitions: the configured projects
                selected = {"partition_key": project} if project else {"tags": range_tags(keys)}
                ingest = {"config": {"full": full, "reconcile": reconcile}}
                # Dagster's own event log goes to the console only with --verbose; failures are told in
                # one line each below, their tracebacks in a log file.
                level = "DEBUG" if verbose else "CRITICAL"
                run_id = str(uuid.uuid4())
                with ExitStack() as watching:
                    if watch is not None:
                        watch.start({c.node_def.name: len(c.check_keys) for c in definitions.asset_checks or ()})
                        watching.callback(watch.close)
                        watching.enter_context(progress.listening(watch.on_progress))
                        # the run's events as they happen (steps started, finished, failed)
                        instance.add_event_listener(run_id, watch.on_dagster)
                    if not project and len(keys) > 1:
                        watching.enter_context(_planned_once_per_asset())
                    result = job.execute_in_process(instance=instance, raise_on_error=False, run_id=run_id, run_config={
                        "ops": _ingest_config(job, ingest),
                        "loggers": {"console": {"config": {"log_level": level}}}}, **selected)
                return _outcome(result, paths, loaded)
    except LockTimeout as busy:
        holder = busy.holder.describe() if busy.holder else "another process"
        raise SyncBusy(f"another sync is running on {paths.published}: {holder}; waited {busy.waited:.0f} s. "
                       f"Let it finish, or wait longer with --wait SECONDS (sync.lock_wait_seconds)") from None


# Dagster's switch for single-run backfills: one "materialization planned" event per asset with
# the run's partition range, instead of one per asset and partition.
PLANNED_SUBSET_ENV = "DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS"


def _planned_once_per_asset():
    """A night over every project plans each raw table once, not once per project. Dagster stores
    every event of a run in its event log one write at a time, about 10 ms each on SQLite: 11 raw
    tables x 32 projects were 352 planned events, 3-4 s of a night. What it gives up: a run whose
    ingest step fails as a whole does not mark every partition failed (the run is failed, and
    meta.sync_runs says why). A run of one project (``--project``, or a program of one project)
    keeps the per-partition event, so its failure still marks its partition failed. Set for this
    run only (restored on exit): the variable is read when the run is created."""
    from unittest import mock

    return mock.patch.dict(os.environ, {PLANNED_SUBSET_ENV: "true"})


def _ingest_config(job, config: dict) -> dict:
    """The ingest step's run config, in the shape the loaded ``trackers_raw`` takes: one step, or
    the scaled-out graph whose plan step reads it (sync.landing.processes > 1)."""
    import dagster as dg

    if isinstance(job.graph.node_named("trackers_raw").definition, dg.GraphDefinition):
        return {"trackers_raw": {"ops": {"plan_landing": config}}}
    return {"trackers_raw": config}


def _outcome(result, paths, loaded) -> SyncOutcome:
    """Read a finished run: stale projects from the ingest steps, the cause of a failure, and the
    tracebacks written to ``.pulse/logs/<run id>.log``."""
    stale: list[str] = []
    figures: dict[str, tuple[int, int]] = {}  # per ingest step: every table it lands carries the same figures
    for event in result.all_events:
        if event.is_step_materialization:
            metadata = event.step_materialization_data.materialization.metadata
            failures = metadata.get("failures")
            stale += [line for line in (failures.value if failures else []) if line not in stale]
            if "items_written" in metadata and "requests" in metadata:
                figures[event.step_key] = (metadata["items_written"].value, metadata["requests"].value)
    items, requests = sum(i for i, _ in figures.values()), sum(r for _, r in figures.values())
    if result.success:
        return SyncOutcome(result.run_id, True, tuple(stale), items=items, requests=requests)
    failed = [e for e in result.all_events if e.is_step_failure]
    causes = [f"step {e.step_key}: {_cause_of(e)}" for e in failed] or ["the run failed before any step"]
    log = paths.work.parent / "logs" / f"{result.run_id}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    log.write_text("\n\n".join(f"step {e.step_key} failed:\n{e.step_failure_data.error.to_string()}"
                               for e in failed if e.step_failure_data.error), encoding="utf-8")
    _mark_failed(loaded, result.run_id, "; ".join(causes))
    return SyncOutcome(result.run_id, False, tuple(stale), "; ".join(causes), log, tuple(causes), items, requests)


def _cause_of(event) -> str:
    """One line: a Failure's own description, else the innermost error's first line."""
    data = event.step_failure_data
    if data.user_failure_data is not None and data.user_failure_data.description:
        return data.user_failure_data.description
    error = data.error
    while error is not None and error.cause is not None:
        error = error.cause
    if error is None:
        return "failed"
    first = (error.message.strip().splitlines() or [""])[0]
    return first if first.startswith(error.cls_name or "") else f"{error.cls_name}: {first}"


def _mark_failed(loaded, run_id: str, cause: str) -> None:
    """A run that failed after it started says so in meta.sync_runs (best effort: the work file
    may be what failed)."""
    from pipelines.defs.resources import PulseResource

    try:
        with PulseResource(config_path=str(loaded.path)).warehouse() as con:
            con.execute("UPDATE meta.sync_runs SET status = 'failed', finished_at = now(), cause = ? "
                        "WHERE sync_id = ? AND status = 'running'", [cause, run_id])
    except Exception:  # noqa: BLE001 - the failure itself is already being reported
        pass


def report(outcome: SyncOutcome, published: Path, err: Console | None = None) -> None:
    """The lines that end a sync on stderr: what is stale, or why nothing was published (one line
    per failed step, and the failed projects no step's cause names already), and where the
    tracebacks are."""
    from pipelines.console import consoles, say, shown_once

    err = err or consoles()[1]
    if outcome.published:
        for line in outcome.stale:
            say(err, f"stale: {line}", style="yellow")
        if outcome.stale:
            say(err, f"Published {published} with {len(outcome.stale)} stale: their last good data is kept "
                     f"and their health is unknown.", style="yellow")
        return
    causes = outcome.causes or ((outcome.cause,) if outcome.cause else ())
    for line in shown_once(outcome.stale, causes):
        say(err, f"failed: {line}", style="red")
    first, *more = causes or ("the run failed",)
    say(err, f"Sync failed; the last published snapshot is unchanged: {first}", style="bold red")
    for cause in more:
        say(err, f"  and {cause}", style="red")
    if outcome.log:
        say(err, f"  tracebacks: {outcome.log} (or rerun with --verbose)")


def print_health(config_path: Path, out: Console | None = None) -> None:
    """Programs and projects with their health and first reason, one line each, worst first, read
    from the published snapshot; the reasons are cut to the terminal's width."""
    from pipelines.console import Verdict, consoles, print_summary
    from warehouse.store import WarehousePaths, connect

    published = WarehousePaths(load(config_path).warehouse_path).published
    with connect(published, read_only=True) as con:
        programs = [Verdict(program_id, name, health, tuple(reasons)) for program_id, name, health, reasons
                    in con.execute("SELECT program_id, program_name, health, reasons FROM marts.program_health").fetchall()]
        projects = [Verdict(program_id, name, health, tuple(reasons), key) for program_id, key, name, health, reasons
                    in con.execute("SELECT program_id, project_key, project_name, health, reasons "
                                   "FROM marts.project_health").fetchall()]
        as_of = con.execute("SELECT max(as_of) FROM marts.program_health").fetchone()[0]
    print_summary(out or consoles()[0], as_of, programs, projects, config_path)


def _synced(loaded: LoadedConfig, watch_with: Console, **options: Any) -> SyncOutcome:
    """run_sync with progress bars on ``watch_with`` (stderr)."""
    from pipelines.config import GithubSiteConfig
    from pipelines.console import SyncDisplay

    from pipelines.defs.partitions import source_key

    sites: dict[str, tuple[int, str]] = {}
    for _, project in loaded.config.projects():
        if options.get("project") not in (None, source_key(project.site, project.project_key)):
            continue
        count, _ = sites.get(project.site, (0, ""))
        noun = "repos" if isinstance(loaded.config.sites[project.site], GithubSiteConfig) else "projects"
        sites[project.site] = (count + 1, noun)
    return run_sync(loaded, watch=SyncDisplay(watch_with, dict(sorted(sites.items()))), **options)


def _finish(outcome: SyncOutcome, loaded: LoadedConfig, started: float, out: Console, err: Console,
            before_last: str | None = None) -> int:
    """What every sync ends with: the health summary when published, the stale or failed lines,
    then one line with the items, requests, wall time and the warehouse."""
    from pipelines.console import final_line, say

    if outcome.published:
        print_health(loaded.path, out)
    report(outcome, loaded.warehouse_path, err)
    if before_last:
        say(out, before_last)
    say(out, final_line(outcome.published, len(outcome.stale), outcome.items, outcome.requests,
                        time.monotonic() - started, loaded.warehouse_path), style="bold")
    return outcome.exit_code


def _cmd_demo(args: argparse.Namespace) -> int:
    from pipelines.console import consoles, say

    started = time.monotonic()
    out, err = consoles()
    folder = Path(args.out)
    folder.mkdir(parents=True, exist_ok=True)
    as_of = args.as_of or datetime.now(timezone.utc).date()
    config = demo_config(args.seed, as_of)
    config_path = folder / "program.yaml"
    config_path.write_text(
        "# Written by `pulse demo`. Re-fetch exactly this data with:\n"
        f"#   pulse sandbox --scenario demo --seed {args.seed} --as-of {as_of.isoformat()}\n"
        f"# and rerun the pipeline with: pulse sync --config {config_path}\n" + dump(config),
        encoding="utf-8")
    say(out, f"Demo: scenario 'demo', seed {args.seed}, as of {as_of.isoformat()}; "
             f"the tracker sandbox serves Jira Cloud, Jira Data Center and GitHub on 127.0.0.1.")
    loaded = load(config_path)
    try:
        outcome = _synced(loaded, err, verbose=args.verbose)
    except SyncBusy as busy:
        say(err, str(busy))
        return EXIT_USAGE
    return _finish(outcome, loaded, started, out, err,
                   before_last=f"Wrote {config_path}; sync again with: pulse sync --config {config_path}")


def _cmd_sync(args: argparse.Namespace) -> int:
    from pipelines.console import consoles, say

    started = time.monotonic()
    out, err = consoles()
    try:  # before anything is started or written
        loaded = load(args.config)
        preflight(loaded)
    except ConfigError as e:
        print(e, file=sys.stderr)
        return EXIT_USAGE
    try:
        outcome = _synced(loaded, err, full=args.full, reconcile=args.reconcile, wait=args.wait,
                          verbose=args.verbose, project=args.project)
    except ConfigError as e:
        print(e, file=sys.stderr)
        return EXIT_USAGE
    except SyncBusy as busy:
        say(err, str(busy))
        return EXIT_USAGE
    return _finish(outcome, loaded, started, out, err)


def _cmd_status(args: argparse.Namespace) -> int:
    """The last syncs and each project's freshness; exit 1 when the last sync failed or a project is
    stale."""
    from pipelines.console import consoles
    from pipelines.status import STALE_AFTER_HOURS, read_status, render
    from warehouse.store import WarehousePaths

    try:
        loaded = load(args.config)
    except ConfigError as e:
        print(e, file=sys.stderr)
        return EXIT_USAGE
    paths = WarehousePaths(loaded.warehouse_path)
    if not paths.published.exists():
        print(f"No published warehouse at {paths.published}: run pulse sync --config {args.config} first.",
              file=sys.stderr)
        return EXIT_USAGE
    configured = [(program.id, project.site, project.project_key) for program, project in loaded.config.projects()]
    status = read_status(paths.published, paths.work, paths.run_lock, configured, runs=args.runs)
    # the same threshold as the Dagster freshness check (sync.freshness_hours)
    hours = args.stale_after if args.stale_after is not None else getattr(
        loaded.config.sync, "freshness_hours", STALE_AFTER_HOURS)
    found = render(status, consoles()[0], datetime.now(timezone.utc), timedelta(hours=hours))
    return EXIT_FAILED if found else EXIT_OK


def _cmd_check_config(args: argparse.Namespace) -> int:
    try:
        loaded = load(args.file)
        preflight(loaded)
    except ConfigError as e:
        print(e, file=sys.stderr)
        return EXIT_USAGE
    c = loaded.config
    print(f"{args.file}: OK: {len(c.programs)} programs, {len(c.projects())} projects on "
          f"{len(c.sites)} sites; warehouse {loaded.warehouse_path}")
    return 0


def _published(config: str) -> Path | None:
    """The published warehouse a program config names; None, after saying why, when the config is
    wrong or nothing has been published yet (the commands that read it then exit 2)."""
    from warehouse.store import WarehousePaths

    try:
        loaded = load(config)
    except ConfigError as e:
        print(e, file=sys.stderr)
        return None
    published = WarehousePaths(loaded.warehouse_path).published
    if not published.exists():
        print(f"No published warehouse at {published}: run pulse sync --config {config} first.", file=sys.stderr)
        return None
    return published


def _cmd_backtest(args: argparse.Namespace) -> int:
    """Replay the milestone forecasts as of past days on the published snapshot and say how often
    milestones finished by their P50 and P85 dates."""
    from transforms.backtest import calibrate, replay
    from warehouse.store import connect

    published = _published(args.config)
    if published is None:
        return EXIT_USAGE
    with connect(published, read_only=True) as con:
        as_of = con.execute("SELECT max(as_of) FROM marts.progress").fetchone()[0]
        replays = replay(con, as_of, weeks_back=args.weeks, every_days=args.every)
    table = calibrate(replays, as_of)
    print(f"Forecast backtest as of {as_of:%Y-%m-%d}: milestone forecasts replayed every {args.every} days over "
          f"{args.weeks} weeks. Resolved: finished, or past the date with work open.")
    print(f"{'level':8} {'program':12} {'project':22} {'forecasts':>9} {'by P50':>14} {'by P85':>14}")
    for c in table:
        def share(hit: int, resolved: int) -> str:
            return f"{hit}/{resolved} {100 * hit / resolved:3.0f}%" if resolved else "-"
        print(f"{c.level:8} {c.program_id or '':12} {c.project_key or '':22} {c.forecasts:9d} "
              f"{share(c.hit_p50, c.resolved_p50):>14} {share(c.hit_p85, c.resolved_p85):>14}")
    return 0


def _cmd_export(args: argparse.Namespace) -> int:
    """Write the bi views of the published snapshot as files (Parquet, hive-partitioned by program)."""
    from pipelines.export import ExportError, export_parquet

    published = _published(args.config)
    if published is None:
        return EXIT_USAGE
    try:
        result = export_parquet(published, Path(args.dir))
    except ExportError as e:
        print(f"pulse export: {e}", file=sys.stderr)
        return EXIT_USAGE
    as_of = f" as of {result.as_of:%Y-%m-%d %H:%M} UTC" if result.as_of else ""
    print(f"Exported {len(result.views)} bi views ({result.rows} rows) of {published}{as_of} to {result.out}:")
    for view in result.views:
        by = f"  by {view.partition_column}: {len(view.partitions)} partitions" if view.partition_column else ""
        print(f"  {view.view:28} {view.rows:>7} rows  {view.path.relative_to(result.out)}{by}")
    return 0


def _cmd_report(args: argparse.Namespace) -> int:
    """Write the status report from the published warehouse (never the work file a sync writes)."""
    from pipelines.report import ReportError, write_report

    published = _published(args.config)
    if published is None:
        return EXIT_USAGE
    try:
        files = write_report(published, Path(args.out),
                             program=args.program, as_of=args.as_of, backtest=not args.no_backtest)
    except ReportError as e:
        print(f"pulse report: {e}", file=sys.stderr)
        return EXIT_USAGE
    verdicts = ", ".join(f"{program} {health.upper()}" for program, health in files.verdicts)
    print(f"Wrote the status report ({verdicts}) in {files.seconds:.1f} s:")
    for path in (files.index, *files.pages, files.markdown, files.json):
        if path is not None:
            print(f"  {path}")
    return 0


def _cmd_sandbox(args: argparse.Namespace) -> int:
    from sandbox.faults import LATENCY, FaultRule
    from sandbox.scenario import SITES, build
    from sandbox.credentials import SANDBOX_TOKEN
    from sandbox.server import serve

    try:
        if args.data:
            from sandbox.replay import load

            source = load(Path(args.data))
            title = f"replay of {args.data}"
        else:
            source = scenario = build(args.scenario, args.seed, args.as_of or datetime.now(timezone.utc).date(),
                                      items=args.items)
            title = f"scenario {scenario.name!r}, seed {scenario.seed}, as of {scenario.as_of}"
    except ValueError as e:  # an unknown scenario, a size the scenario does not take, no such directory
        print(e, file=sys.stderr)
        return EXIT_USAGE
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    latency = (FaultRule(LATENCY, ms=args.latency_ms),) if args.latency_ms else ()
    with serve(source, host=args.host, port=args.port) as running:
        running.app.faults.set((*args.faults, *latency))
        print(f"Tracker sandbox: {title}")
        for site in SITES:
            print(f"  {site:<11} {running.site_url(site)}")
        print(f"  token       {SANDBOX_TOKEN}  (Jira Cloud: basic auth, any e-mail; Server/DC and GitHub: bearer)")
        spec = ";".join(rule.spec for rule in running.app.faults.rules) or "none"
        print(f"  faults      {spec}  (change them at {running.url}/_sandbox/faults)")
        print(f"  stats       {running.url}/_sandbox/stats\nCtrl-C to stop.", flush=True)
        try:
            while not stop.wait(0.5):
                pass
        except KeyboardInterrupt:
            pass
        stats = running.stats.as_json()
        injected = running.app.faults.injected()
    print(f"\n{stats['total']} requests served:")
    for row in stats["requests"]:
        print(f"  {row['count']:>7}  {row['status']}  {row['method']:<5} {row['endpoint']}")
    if injected:
        print("Faults injected: " + ", ".join(f"{kind} × {count}" for kind, count in injected.items()))
    return 0


def _faults(spec: str) -> tuple[FaultRule, ...]:
    """Sandbox imports stay lazy: `pulse sync` need not load them."""
    from sandbox.faults import FaultSpecError, parse_spec

    try:
        return parse_spec(spec)
    except FaultSpecError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def _milliseconds(value: str) -> int:
    if not value.isdigit():
        raise argparse.ArgumentTypeError(f"expected a whole number of milliseconds, found {value!r}")
    return int(value)


def _date(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a date as YYYY-MM-DD, found {value!r}") from None


class HelpFormatter(argparse.HelpFormatter):
    """Every option's help ends with its default: ``(default: X)`` is added unless the help says
    it already; a flag is off unless given; a required option says so."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if not action.option_strings or action.default is argparse.SUPPRESS or "default" in text:
            return text
        if action.required:
            return f"{text} (required)"
        if isinstance(action.default, bool) or action.nargs == 0:
            return f"{text} (default: off)"
        return f"{text} (default: %(default)s)"


SCENARIOS = ("demo", "portfolio")  # sandbox.scenario.SCENARIOS, named here so that `pulse sync` need not import it


def parser() -> argparse.ArgumentParser:
    """The ``pulse`` command line: every option has help, its default and, where the values are a
    closed set, its choices (tests/unit/test_cli_parser.py walks it)."""
    top = argparse.ArgumentParser(
        prog="pulse", description="Program health across Jira and GitHub.", formatter_class=HelpFormatter,
        epilog="Exit codes of sync and demo: 0 published; 1 failed, nothing published (the last snapshot "
               "stays); 2 config, usage or another sync running; 3 published with stale projects. "
               "Of status: 0 fine; 1 the last sync failed or a project is stale; 2 config or no warehouse.")
    sub = top.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, help: str, **kwargs: Any) -> argparse.ArgumentParser:
        return sub.add_parser(name, help=help, description=kwargs.pop("description", help[0].upper() + help[1:] + "."),
                              formatter_class=HelpFormatter, **kwargs)

    verbose = "show Dagster's event log, the ingest's per-project errors and tracebacks as they happen"
    config_from_env = dict(default=os.environ.get(CONFIG_ENV), required=CONFIG_ENV not in os.environ,
                           metavar="FILE")

    p = command("demo", "run the whole pipeline on the built-in tracker sandbox")
    p.add_argument("--out", default="demo-output", metavar="DIR", help="folder for program.yaml and pulse.duckdb")
    p.add_argument("--seed", type=int, default=7, help="scenario seed")
    p.add_argument("--as-of", type=_date, default=None, metavar="YYYY-MM-DD",
                   help="scenario date (default: today, UTC)")
    p.add_argument("-v", "--verbose", action="store_true", help=verbose)
    p.set_defaults(func=_cmd_demo)

    p = command("sync", "sync the trackers a program config names and publish the warehouse")
    p.add_argument("--config", required=True, metavar="FILE", help="program.yaml")
    p.add_argument("--full", action="store_true", help="refetch everything instead of what changed since the last sync")
    p.add_argument("--reconcile", action="store_true",
                   help="look for deleted and moved issues tonight (a key-only listing), not only when "
                        "sync.reconcile_every_days is due")
    p.add_argument("--wait", type=float, default=None, metavar="SECONDS",
                   help="if another sync is running on the same warehouse, wait this long for it, then exit 2 "
                        "(default: sync.lock_wait_seconds, 300)")
    p.add_argument("--project", default=None, metavar="SITE/KEY",
                   help="sync this one project (its 'sources' partition: SITE/KEY for Jira, SITE/OWNER/REPO "
                        "for GitHub), rebuild and publish; default: every configured project")
    p.add_argument("-v", "--verbose", action="store_true", help=verbose)
    p.set_defaults(func=_cmd_sync)

    p = command("status", "show the last syncs, their outcome, and each project's freshness and last failure",
                description="Show the last syncs (started, how long, outcome, cause) and each configured project's "
                            "last successful sync and last failure, from the published warehouse (read-only: it "
                            "works while a sync runs). Exits 1 when the last finished sync failed or a project has "
                            "had no successful sync for longer than --stale-after, 2 when the config is wrong or "
                            "nothing is published yet, else 0.")
    p.add_argument("--config", **config_from_env, help=f"program.yaml of a synced warehouse (default: ${CONFIG_ENV})")
    p.add_argument("--runs", type=int, default=10, metavar="N", help="how many of the last syncs to list")
    p.add_argument("--stale-after", type=float, default=None, metavar="HOURS",
                   help="a project with no successful sync for longer is stale, and status exits 1 "
                        "(default: sync.freshness_hours, 26)")
    p.set_defaults(func=_cmd_status)

    p = command("check-config", "validate a program config; writes nothing")
    p.add_argument("file", metavar="FILE", help="program.yaml to validate")
    p.set_defaults(func=_cmd_check_config)

    p = command("backtest", "replay past milestone forecasts and report how often they came true")
    p.add_argument("--config", required=True, metavar="FILE", help="program.yaml of a synced warehouse")
    p.add_argument("--weeks", type=int, default=26, help="how far back to replay, in weeks")
    p.add_argument("--every", type=int, default=7, metavar="DAYS", help="replay a forecast every DAYS days")
    p.set_defaults(func=_cmd_backtest)

    p = command("export", "write the bi views of the published warehouse as files for BI tools and lakes")
    p.add_argument("--config", required=True, metavar="FILE", help="program.yaml of a synced warehouse")
    p.add_argument("--format", choices=("parquet",), default="parquet",
                   help="file format; parquet: one folder per view, hive-partitioned by program_id")
    p.add_argument("dir", metavar="DIR", help="folder to write into; each view's earlier export there is replaced")
    p.set_defaults(func=_cmd_export)

    p = command("report", "write the status report (HTML per program, Markdown, JSON) from the published warehouse")
    p.add_argument("--config", **config_from_env, help=f"program.yaml of a synced warehouse (default: ${CONFIG_ENV})")
    p.add_argument("--out", required=True, metavar="DIR", help="folder for index.html, <program>.html, summary.md, report.json")
    p.add_argument("--program", default=None, metavar="ID",
                   help="one program's report: ID.html, ID.md and ID.json, leaving the folder's index.html, "
                        "summary.md and report.json as they were (default: every program)")
    p.add_argument("--as-of", type=_date, default=None, metavar="YYYY-MM-DD",
                   help="report a past day, rebuilt from the warehouse's history (default: the snapshot's day)")
    p.add_argument("--no-backtest", action="store_true",
                   help="leave out the forecast calibration table (replaying 26 weeks of forecasts)")
    p.set_defaults(func=_cmd_report)

    p = command("sandbox", "serve a scenario as local Jira and GitHub APIs until interrupted")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on")
    p.add_argument("--port", type=int, default=8080, help="port to listen on; 0 picks a free one")
    p.add_argument("--scenario", choices=SCENARIOS, default="demo",
                   help="demo: 2 programs, 5 projects, 1,000 items; portfolio: --items items over many programs")
    p.add_argument("--seed", type=int, default=7, help="scenario seed")
    p.add_argument("--as-of", type=_date, default=None, metavar="YYYY-MM-DD",
                   help="the scenario's today (default: today, UTC)")
    p.add_argument("--data", default=None, metavar="DIR",
                   help="serve a directory of raw API objects instead of a scenario (format: docs/sandbox.md, "
                        "Replay; default: none, serve --scenario)")
    p.add_argument("--items", type=int, default=None, metavar="N",
                   help="how many items the portfolio scenario generates, 100 to 1,000,000 (default: 10,000)")
    p.add_argument("--latency-ms", type=_milliseconds, default=0, metavar="N",
                   help="delay every tracker request by N ms (a latency fault)")
    p.add_argument("--faults", type=_faults, default=(), metavar="SPEC",
                   help='faults to inject, e.g. "429@jira-cloud:p=0.1;drop:p=0.01" (grammar: docs/sandbox.md; '
                        'default: none)')
    p.set_defaults(func=_cmd_sandbox)
    return top


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    _log_waits(getattr(args, "verbose", False))
    return args.func(args)


def _log_waits(verbose: bool = False) -> None:
    """Show what the client libraries wait for: jira logs 429/503 retries as warnings, PyGithub's
    GithubRetry its rate-limit and backoff waits as info, our Jira 5xx retries as warnings. They
    are printed through the stderr console, above the progress bars (pipelines.console)."""
    import logging

    from pipelines.console import ConsoleLogHandler, consoles

    root = logging.getLogger()
    for handler in [h for h in root.handlers if isinstance(h, ConsoleLogHandler)]:
        root.removeHandler(handler)  # one per process, for the console of this command
    root.addHandler(ConsoleLogHandler(consoles()[1], verbose=verbose))
    if root.level == logging.NOTSET or root.level > logging.WARNING:
        root.setLevel(logging.WARNING)
    logging.getLogger("github.GithubRetry").setLevel(logging.INFO)


if __name__ == "__main__":
    sys.exit(main())
