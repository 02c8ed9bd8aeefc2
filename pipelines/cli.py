"""``pulse``: the command line. Every command that syncs runs the Dagster job in-process, from the
same definitions ``dagster dev`` loads."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
import time
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING

from pipelines.config import (
    SANDBOX_URL, ConfigError, GithubSiteConfig, JiraSiteConfig, ProgramConfig, ProjectConfig,
    LoadedConfig, PulseConfig, SandboxConfig, WarehouseConfig, dump, load, preflight,
)

if TYPE_CHECKING:
    from sandbox.faults import FaultRule

CONFIG_ENV = "PULSE_CONFIG"


def demo_config(seed: int, as_of: date, scenario_name: str = "demo") -> PulseConfig:
    """The program config of a sandbox scenario (the demo, or the 10,000-item portfolio), served
    by the built-in sandbox."""
    from sandbox.scenario import build
    from sandbox.server import SANDBOX_TOKEN_ENV, SANDBOX_USER_ENV

    scenario = build(scenario_name, seed, as_of)
    sites = {
        "jira-cloud": JiraSiteConfig(kind="jira", url=SANDBOX_URL, user_env=SANDBOX_USER_ENV,
                                     token_env=SANDBOX_TOKEN_ENV),
        "jira-dc": JiraSiteConfig(kind="jira", url=SANDBOX_URL, token_env=SANDBOX_TOKEN_ENV),
        # The sandbox has no secondary rate limits to keep clear of.
        "github": GithubSiteConfig(kind="github", url=SANDBOX_URL, token_env=SANDBOX_TOKEN_ENV,
                                   seconds_between_requests=0),
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

    @property
    def exit_code(self) -> int:
        return EXIT_FAILED if not self.published else EXIT_PARTIAL if self.stale else EXIT_OK


class SyncBusy(Exception):
    """Another sync holds the warehouse's run lock."""


def run_sync(loaded: LoadedConfig, full: bool = False, reconcile: bool = False, wait: float | None = None,
             verbose: bool = False) -> SyncOutcome:
    """Run the sync job in-process, one sync at a time per warehouse (the run lock; ``wait``
    seconds at most, else ``sync.lock_wait_seconds``). Raises SyncBusy when the lock stays held."""
    import dagster as dg

    from pipelines.definitions import defs
    from pipelines.defs.schedules import SYNC_JOB
    from warehouse.locks import LockTimeout, hold
    from warehouse.store import WarehousePaths, remove_stale_temp_files

    paths = WarehousePaths(loaded.warehouse_path)
    wait = loaded.config.sync.lock_wait_seconds if wait is None else wait
    what = f"pulse sync --config {loaded.path}"
    try:
        with hold(paths.run_lock, timeout=wait, what=what):
            remove_stale_temp_files(paths)  # a run killed while publishing left its copy behind
            os.environ[CONFIG_ENV] = str(loaded.path)
            instance = dg.DagsterInstance.get() if os.environ.get("DAGSTER_HOME") else dg.DagsterInstance.ephemeral()
            job = defs().resolve_job_def(SYNC_JOB)
            ingest = {"config": {"full": full, "reconcile": reconcile}}
            # Dagster's own event log goes to the console only with --verbose; failures are told in
            # one line each below, their tracebacks in a log file.
            level = "DEBUG" if verbose else "CRITICAL"
            result = job.execute_in_process(instance=instance, raise_on_error=False, run_config={
                "ops": {"jira_raw": ingest, "github_raw": ingest},
                "loggers": {"console": {"config": {"log_level": level}}}})
            return _outcome(result, paths, loaded)
    except LockTimeout as busy:
        holder = busy.holder.describe() if busy.holder else "another process"
        raise SyncBusy(f"another sync is running on {paths.published}: {holder}; waited {busy.waited:.0f} s. "
                       f"Let it finish, or wait longer with --wait SECONDS (sync.lock_wait_seconds)") from None


def _outcome(result, paths, loaded) -> SyncOutcome:
    """Read a finished run: stale projects from the ingest steps, the cause of a failure, and the
    tracebacks written to ``.pulse/logs/<run id>.log``."""
    stale: list[str] = []
    for event in result.all_events:
        if event.is_step_materialization:
            failures = event.step_materialization_data.materialization.metadata.get("failures")
            stale += [line for line in (failures.value if failures else []) if line not in stale]
    if result.success:
        return SyncOutcome(result.run_id, True, tuple(stale))
    failed = [e for e in result.all_events if e.is_step_failure]
    causes = [f"step {e.step_key}: {_cause_of(e)}" for e in failed] or ["the run failed before any step"]
    log = paths.work.parent / "logs" / f"{result.run_id}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    log.write_text("\n\n".join(f"step {e.step_key} failed:\n{e.step_failure_data.error.to_string()}"
                               for e in failed if e.step_failure_data.error), encoding="utf-8")
    _mark_failed(loaded, result.run_id, "; ".join(causes))
    return SyncOutcome(result.run_id, False, tuple(stale), "; ".join(causes), log)


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


def report(outcome: SyncOutcome, published: Path) -> None:
    """The lines that end a sync: what is stale, or why nothing was published, and where to look."""
    for line in outcome.stale:
        print(f"stale: {line}", file=sys.stderr)
    if not outcome.published:
        print(f"Sync failed; the last published snapshot is unchanged: {outcome.cause}", file=sys.stderr)
        if outcome.log:
            print(f"  details: {outcome.log} (or rerun with --verbose)", file=sys.stderr)
    elif outcome.stale:
        print(f"Published {published} with {len(outcome.stale)} stale: their last good data is kept "
              f"and their health is unknown.", file=sys.stderr)


SHOWN_REASONS = 3  # per program and project; the rest are in marts.health_reasons


def _reasons(reasons: list[str], indent: str) -> None:
    for reason in reasons[:SHOWN_REASONS]:
        print(f"{indent}- {reason}")
    if len(reasons) > SHOWN_REASONS:
        print(f"{indent}  ... {len(reasons) - SHOWN_REASONS} more in marts.health_reasons")


def print_health(config_path: Path) -> None:
    """Programs and projects with their health and their first reasons (worst first), read from the
    published snapshot."""
    from warehouse.store import WarehousePaths, connect

    published = WarehousePaths(load(config_path).warehouse_path).published
    with connect(published, read_only=True) as con:
        programs = con.execute("SELECT program_id, program_name, health, reasons FROM marts.program_health ORDER BY program_id").fetchall()
        projects = con.execute("""
            SELECT program_id, project_key, project_name, health, reasons FROM marts.project_health
            ORDER BY program_id, project_key""").fetchall()
        as_of = con.execute("SELECT max(as_of) FROM marts.program_health").fetchone()[0]
    print(f"\nProgram health as of {as_of:%Y-%m-%d %H:%M} UTC")
    for program_id, name, health, reasons in programs:
        print(f"\n{name} [{program_id}]: {health.upper()}")
        _reasons(reasons, "    ")
        for p_program, key, p_name, p_health, p_reasons in projects:
            if p_program != program_id:
                continue
            print(f"  {p_name} ({key}): {p_health.upper()}")
            _reasons(p_reasons, "      ")


def _cmd_demo(args: argparse.Namespace) -> int:
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    as_of = args.as_of or datetime.now(timezone.utc).date()
    config = demo_config(args.seed, as_of)
    config_path = out / "program.yaml"
    config_path.write_text(
        "# Written by `pulse demo`. Re-fetch exactly this data with:\n"
        f"#   pulse sandbox --scenario demo --seed {args.seed} --as-of {as_of.isoformat()}\n"
        f"# and rerun the pipeline with: pulse sync --config {config_path}\n" + dump(config),
        encoding="utf-8")
    print(f"Demo: scenario 'demo', seed {args.seed}, as of {as_of.isoformat()}; "
          f"the tracker sandbox serves Jira Cloud, Jira Data Center and GitHub on 127.0.0.1.")
    loaded = load(config_path)
    try:
        outcome = run_sync(loaded, verbose=args.verbose)
    except SyncBusy as busy:
        print(busy, file=sys.stderr)
        return EXIT_USAGE
    report(outcome, loaded.warehouse_path)
    if not outcome.published:
        return outcome.exit_code
    print_health(config_path)
    print(f"\nWrote {config_path}\n      {loaded.warehouse_path}")
    return outcome.exit_code


def _cmd_sync(args: argparse.Namespace) -> int:
    try:  # before anything is started or written
        loaded = load(args.config)
        preflight(loaded)
    except ConfigError as e:
        print(e, file=sys.stderr)
        return EXIT_USAGE
    try:
        outcome = run_sync(loaded, full=args.full, reconcile=args.reconcile, wait=args.wait,
                           verbose=args.verbose)
    except SyncBusy as busy:
        print(busy, file=sys.stderr)
        return EXIT_USAGE
    if outcome.published:
        print_health(loaded.path)
        print(f"\nPublished {loaded.warehouse_path}")
    report(outcome, loaded.warehouse_path)
    return outcome.exit_code


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
        print(f"  {path}")
    return 0


def _cmd_sandbox(args: argparse.Namespace) -> int:
    from sandbox.faults import LATENCY, FaultRule
    from sandbox.scenario import SITES, build
    from sandbox.server import SANDBOX_TOKEN, serve

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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="pulse", description="Program health across Jira and GitHub.",
        epilog="Exit codes of sync and demo: 0 published; 1 failed, nothing published (the last snapshot "
               "stays); 2 config, usage or another sync running; 3 published with stale projects.")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("demo", help="run the whole pipeline on the built-in tracker sandbox")
    p.add_argument("--out", default="demo-output", help="folder for program.yaml and pulse.duckdb")
    p.add_argument("--seed", type=int, default=7, help="scenario seed (default 7)")
    p.add_argument("--as-of", type=_date, default=None, help="scenario date YYYY-MM-DD (default today, UTC)")
    p.add_argument("-v", "--verbose", action="store_true", help="show Dagster's event log and tracebacks")
    p.set_defaults(func=_cmd_demo)

    p = sub.add_parser("sync", help="sync the trackers a program config names and publish the warehouse")
    p.add_argument("--config", required=True, help="program.yaml")
    p.add_argument("--full", action="store_true", help="refetch everything instead of what changed since the last sync")
    p.add_argument("--reconcile", action="store_true",
                   help="look for deleted and moved issues tonight (a key-only listing), not only when sync.reconcile_every_days is due")
    p.add_argument("--wait", type=float, default=None, metavar="SECONDS",
                   help="if another sync is running on the same warehouse, wait this long for it, then exit 2 "
                        "(default: sync.lock_wait_seconds, 300)")
    p.add_argument("-v", "--verbose", action="store_true", help="show Dagster's event log and tracebacks")
    p.set_defaults(func=_cmd_sync)

    p = sub.add_parser("check-config", help="validate a program config; writes nothing")
    p.add_argument("file")
    p.set_defaults(func=_cmd_check_config)

    p = sub.add_parser("backtest", help="replay past milestone forecasts and report how often they came true")
    p.add_argument("--config", required=True, help="program.yaml of a synced warehouse")
    p.add_argument("--weeks", type=int, default=26, help="how far back to replay, in weeks (default 26)")
    p.add_argument("--every", type=int, default=7, metavar="DAYS", help="replay a forecast every DAYS days (default 7)")
    p.set_defaults(func=_cmd_backtest)

    p = sub.add_parser("export", help="write the bi views of the published warehouse as files for BI tools and lakes")
    p.add_argument("--config", required=True, help="program.yaml of a synced warehouse")
    p.add_argument("--format", choices=("parquet",), default="parquet",
                   help="file format (default parquet: one folder per view, hive-partitioned by program_id)")
    p.add_argument("dir", metavar="DIR", help="folder to write into; each view's earlier export there is replaced")
    p.set_defaults(func=_cmd_export)

    p = sub.add_parser("report", help="write the status report (HTML per program, Markdown, JSON) from the published warehouse")
    p.add_argument("--config", default=os.environ.get(CONFIG_ENV), required=CONFIG_ENV not in os.environ,
                   help=f"program.yaml of a synced warehouse (default: ${CONFIG_ENV})")
    p.add_argument("--out", required=True, metavar="DIR", help="folder for index.html, <program>.html, summary.md, report.json")
    p.add_argument("--program", default=None, metavar="ID", help="one program's report (default: every program)")
    p.add_argument("--as-of", type=_date, default=None, metavar="YYYY-MM-DD",
                   help="report a past day, rebuilt from the warehouse's history (default: the snapshot's day)")
    p.add_argument("--no-backtest", action="store_true",
                   help="leave out the forecast calibration table (replaying 26 weeks of forecasts)")
    p.set_defaults(func=_cmd_report)

    p = sub.add_parser("sandbox", help="serve a scenario as local Jira and GitHub APIs until interrupted")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8080)
    p.add_argument("--scenario", default="demo")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--as-of", type=_date, default=None)
    p.add_argument("--data", default=None, metavar="DIR",
                   help="serve a directory of raw API objects instead of a scenario (format: docs/sandbox.md, Replay)")
    p.add_argument("--items", type=int, default=None,
                   help="how many items the portfolio scenario generates (100 to 1,000,000; default 10,000)")
    p.add_argument("--latency-ms", type=_milliseconds, default=0, metavar="N",
                   help="delay every tracker request by N ms (a latency fault)")
    p.add_argument("--faults", type=_faults, default=(), metavar="SPEC",
                   help='faults to inject, e.g. "429@jira-cloud:p=0.1;drop:p=0.01" (grammar: docs/sandbox.md)')
    p.set_defaults(func=_cmd_sandbox)

    args = parser.parse_args(argv)
    _log_waits()
    return args.func(args)


def _log_waits() -> None:
    """Show what the client libraries wait for: jira logs 429/503 retries as warnings, PyGithub's
    GithubRetry its rate-limit and backoff waits as info, our Jira 5xx retries as warnings."""
    import logging

    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("github.GithubRetry").setLevel(logging.INFO)


if __name__ == "__main__":
    sys.exit(main())
