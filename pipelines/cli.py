"""``pulse``: the command line. Every command that syncs runs the Dagster job in-process, from the
same definitions ``dagster dev`` loads."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
import time
from datetime import date, datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

from pipelines.config import (
    SANDBOX_URL, ConfigError, GithubSiteConfig, JiraSiteConfig, ProgramConfig, ProjectConfig,
    PulseConfig, SandboxConfig, WarehouseConfig, dump, load,
)

if TYPE_CHECKING:
    from sandbox.faults import FaultRule

CONFIG_ENV = "PULSE_CONFIG"


def demo_config(seed: int, as_of: date) -> PulseConfig:
    """The program config of the demo portfolio, served by the built-in sandbox."""
    from sandbox.scenario import build
    from sandbox.server import SANDBOX_TOKEN_ENV, SANDBOX_USER_ENV

    scenario = build("demo", seed, as_of)
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
        programs.append(ProgramConfig(id=program.id, name=program.name, goal=program.goal, projects=tuple(projects)))
    return PulseConfig(sites=sites, programs=tuple(programs), warehouse=WarehouseConfig(path="pulse.duckdb"),
                       sandbox=SandboxConfig(scenario="demo", seed=seed, as_of=as_of))


def run_sync(config_path: Path, full: bool = False, reconcile: bool = False) -> bool:
    """Run the sync job in-process; True when every step succeeded."""
    import dagster as dg

    from pipelines.definitions import defs
    from pipelines.defs.schedules import SYNC_JOB

    os.environ[CONFIG_ENV] = str(config_path.resolve())
    instance = dg.DagsterInstance.get() if os.environ.get("DAGSTER_HOME") else dg.DagsterInstance.ephemeral()
    job = defs().resolve_job_def(SYNC_JOB)
    ingest = {"config": {"full": full, "reconcile": reconcile}}
    result = job.execute_in_process(instance=instance, raise_on_error=False,
                                    run_config={"ops": {"jira_raw": ingest, "github_raw": ingest}})
    if not result.success:
        for event in result.all_events:
            if event.is_failure and event.step_key:
                print(f"step {event.step_key} failed: {event.message}", file=sys.stderr)
    return result.success


def print_health(config_path: Path) -> None:
    """Programs and projects with their health and reasons, read from the published snapshot."""
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
        for reason in reasons:
            print(f"    - {reason}")
        for p_program, key, p_name, p_health, p_reasons in projects:
            if p_program != program_id:
                continue
            print(f"  {p_name} ({key}): {p_health.upper()}")
            for reason in p_reasons:
                print(f"      - {reason}")


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
    if not run_sync(config_path):
        print("The demo sync failed; see the errors above.", file=sys.stderr)
        return 1
    print_health(config_path)
    print(f"\nWrote {config_path}\n      {load(config_path).warehouse_path}")
    return 0


def _cmd_sync(args: argparse.Namespace) -> int:
    from pipelines.config import preflight

    try:  # before anything is started or written
        loaded = load(args.config)
        preflight(loaded)
    except ConfigError as e:
        print(e, file=sys.stderr)
        return 2
    if not run_sync(loaded.path, full=args.full, reconcile=args.reconcile):
        print("Sync failed; the last published snapshot is unchanged.", file=sys.stderr)
        return 1
    print_health(loaded.path)
    print(f"\nPublished {loaded.warehouse_path}")
    return 0


def _cmd_check_config(args: argparse.Namespace) -> int:
    from pipelines.config import preflight

    try:
        loaded = load(args.file)
        preflight(loaded)
    except ConfigError as e:
        print(e, file=sys.stderr)
        return 2
    c = loaded.config
    print(f"{args.file}: OK: {len(c.programs)} programs, {len(c.projects())} projects on "
          f"{len(c.sites)} sites; warehouse {loaded.warehouse_path}")
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
        return 2
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
    parser = argparse.ArgumentParser(prog="pulse", description="Program health across Jira and GitHub.")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("demo", help="run the whole pipeline on the built-in tracker sandbox")
    p.add_argument("--out", default="demo-output", help="folder for program.yaml and pulse.duckdb")
    p.add_argument("--seed", type=int, default=7, help="scenario seed (default 7)")
    p.add_argument("--as-of", type=_date, default=None, help="scenario date YYYY-MM-DD (default today, UTC)")
    p.set_defaults(func=_cmd_demo)

    p = sub.add_parser("sync", help="sync the trackers a program config names and publish the warehouse")
    p.add_argument("--config", required=True, help="program.yaml")
    p.add_argument("--full", action="store_true", help="refetch everything instead of what changed since the last sync")
    p.add_argument("--reconcile", action="store_true",
                   help="look for deleted and moved issues tonight (a key-only listing), not only when sync.reconcile_every_days is due")
    p.set_defaults(func=_cmd_sync)

    p = sub.add_parser("check-config", help="validate a program config; writes nothing")
    p.add_argument("file")
    p.set_defaults(func=_cmd_check_config)

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
