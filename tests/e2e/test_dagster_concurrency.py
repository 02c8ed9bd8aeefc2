"""Concurrent Dagster runs of ``pulse_sync`` share the work file without failing on it.

DuckDB refuses every other process, readers included, while one holds a file for writing
("Could not set lock on file"). Under ``dagster dev`` several runs of the sync job can be in
flight, and Dagster's default multiprocess executor runs every step (asset or asset check) in a
process of its own, so steps of different runs meet on ``.pulse/work.duckdb``. This test launches
the job many times, a few runs at a time, through that executor on a persistent instance with
this project's dagster.yaml (the ``duckdb`` pool), and asks that every run and every step succeed.
"""

from __future__ import annotations

import multiprocessing
import time
from datetime import date
from pathlib import Path

import dagster as dg
import duckdb
import pytest
import yaml

from pipelines.cli import demo_config
from pipelines.config import dump, load
from pipelines.defs.partitions import SOURCES, range_tags, register
from pipelines.defs.publish import PUBLISHED_TABLES
from pipelines.defs.schedules import SYNC_JOB

# About 9 minutes on 2 cores (240 step processes, one at a time through the pool): make test-slow.
pytestmark = [pytest.mark.e2e, pytest.mark.slow]

SEED, AS_OF = 7, date(2026, 11, 27)
RUNS, AT_ONCE = 10, 2
ROOT = Path(__file__).parents[2]
LOCK_ERROR = "Could not set lock"
DEADLINE_SECONDS = 1800  # all runs: far above what they take; only so that a hang fails instead of stalling

# Every step is a process of its own: fork it from a server that has already imported what a step
# needs (the project, Dagster's sqlite instance storage and definitions loader, this module), or
# each of the job's steps in every run spends seconds importing them again.
PRELOAD = ["pytest", "dagster", "dagster._core.instance.factory", "dagster._core.storage.sqlite_storage",
           "dagster._core.storage.root", "dagster._core.storage.migration.utils", "dagster._core.secrets.loader",
           "dagster.components.core.snapshot", "pipelines.definitions", "pipelines.defs.resources",
           "pipelines.defs.raw", "pipelines.defs.model", "pipelines.defs.checks", "pipelines.defs.publish",
           "pipelines.defs.schedules", "sandbox.scenario", "sandbox.server", __name__]
EXECUTION = {"multiprocess": {"max_concurrent": 2, "start_method": {"forkserver": {"preload_modules": PRELOAD}}}}


def pulse_sync_job() -> dg.JobDefinition:
    """The job as ``dagster dev`` loads it; module level, so each step process can rebuild it."""
    from pipelines.definitions import defs

    return defs().resolve_job_def(SYNC_JOB)


@pytest.fixture(scope="module")
def program(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("concurrent")
    path = out / "program.yaml"
    path.write_text(dump(demo_config(SEED, AS_OF)), encoding="utf-8")
    return path


def launch(home: str, settings: dict, program: str) -> str:
    """One run of the job, orchestrated in this process like a run ``dagster dev`` launches; its
    run id. The config path is run config: forkserver children inherit the server's environment,
    not the caller's, so PULSE_CONFIG is not something to rely on here."""
    with dg.DagsterInstance.local_temp(home, overrides=settings) as instance:
        # dg.reconstructable(pulse_sync_job) with this folder as the working directory: Dagster drops
        # sys.path[0] (where pytest put this folder) when a step process imports the job's module.
        job = dg.build_reconstructable_job(__name__, pulse_sync_job.__name__,
                                           reconstructor_working_directory=str(Path(__file__).parent))
        result = dg.execute_job(job, instance=instance, raise_on_error=False,
                                tags=dict(range_tags(instance.get_dynamic_partitions(SOURCES.name))),
                                run_config={"execution": {"config": EXECUTION},
                                            "resources": {"pulse": {"config": {"config_path": program}}}})
        return result.run_id


def run_worker(home: str, settings: dict, program: str, todo, done) -> None:
    """Launch runs until told to stop, one at a time, reporting each run's id (or why none ran)."""
    while todo.get() is not None:
        try:
            done.put(launch(home, settings, program))
        except Exception as e:  # noqa: BLE001 - reported to the test, which fails on it
            done.put(f"no run: {e!r}")


def test_concurrent_runs_all_succeed_and_publish(program, tmp_path, request):
    settings = yaml.safe_load((ROOT / "dagster.yaml").read_text(encoding="utf-8"))
    assert settings["concurrency"]["pools"]["default_limit"] == 1
    # The project's event log class, where DagsterInstance.local_temp has no DAGSTER_HOME to find it.
    settings["event_log_storage"]["config"] = {"base_dir": str(tmp_path / "history" / "runs")}
    started = time.monotonic()
    instance = dg.DagsterInstance.local_temp(str(tmp_path), overrides=settings)
    request.addfinalizer(instance.dispose)  # its SQLite storage is closed here, not by a collection
    register(instance, load(program).config)  # every run is a night's: all the projects' partitions
    # A process per run in flight, as Dagster's run launcher has it: runs orchestrated from
    # threads of one process deadlock in Dagster itself (every run start calls
    # logging.config.dictConfig, which takes each live handler's lock while other runs log).
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(PRELOAD)
    todo, done = context.Queue(), context.Queue()
    for item in [*range(RUNS), *[None] * AT_ONCE]:
        todo.put(item)
    workers = [context.Process(target=run_worker, args=(str(tmp_path), settings, str(program), todo, done))
               for _ in range(AT_ONCE)]
    for worker in workers:
        worker.start()
    try:
        run_ids = [done.get(timeout=max(DEADLINE_SECONDS - (time.monotonic() - started), 1)) for _ in range(RUNS)]
    finally:  # a run that hangs (or a worker that died) fails the test instead of stalling it
        for worker in workers:
            worker.join(timeout=max(DEADLINE_SECONDS - (time.monotonic() - started), 1))
            if worker.is_alive():
                worker.kill()
    wall = time.monotonic() - started

    assert not [r for r in run_ids if r.startswith("no run")], run_ids
    logs = {run_id: [e.dagster_event for e in instance.all_logs(run_id) if e.dagster_event] for run_id in run_ids}
    errors = {f"run {run_id[:8]} step {e.step_key}": e.step_failure_data.error.to_string()
              for run_id, events in logs.items() for e in events
              if e.is_step_failure and e.step_failure_data and e.step_failure_data.error}
    locked = [f"{step}: {next(line for line in error.splitlines() if LOCK_ERROR in line).strip()}"
              for step, error in errors.items() if LOCK_ERROR in error]
    assert locked == [], f"{len(locked)} steps failed on DuckDB's lock:\n" + "\n".join(locked)
    assert errors == {}
    records = [instance.get_run_record_by_id(run_id) for run_id in run_ids]
    assert len(set(run_ids)) == RUNS
    assert [r.dagster_run.status for r in records] == [dg.DagsterRunStatus.SUCCESS] * RUNS

    # Every step of every run succeeded and every check passed: nothing skipped, nothing failing.
    job = pulse_sync_job()
    steps = {n.name for n in job.graph.node_defs}
    checks = len(job.asset_layer.asset_graph.asset_check_keys)
    for run_id, events in logs.items():
        assert {e.step_key for e in events if e.is_step_success} == steps, run_id
        evaluations = [e.event_specific_data for e in events
                       if e.event_type == dg.DagsterEventType.ASSET_CHECK_EVALUATION]
        assert len(evaluations) == checks and all(c.passed for c in evaluations), run_id
    # The runs were in flight together: one started before the one started before it had ended.
    spans = sorted((r.start_time, r.end_time) for r in records)
    assert any(later[0] < earlier[1] for earlier, later in zip(spans, spans[1:])), spans

    with duckdb.connect(str(program.parent / "pulse.duckdb"), read_only=True) as con:
        tables = {f"{s}.{t}" for s, t in con.execute("SELECT schema_name, table_name FROM duckdb_tables()").fetchall()}
        assert set(PUBLISHED_TABLES) | {"meta.snapshots"} <= tables
        assert con.execute("SELECT count(*) FROM core.work_items").fetchone()[0] > 0
        # Publishing is serialised, so the snapshot published last records every run's.
        assert con.execute("SELECT count(*) FROM meta.snapshots").fetchone()[0] == RUNS
        assert con.execute("SELECT count(*) FROM meta.sync_runs WHERE status = 'succeeded'").fetchone()[0] == RUNS
    print(f"{RUNS} runs of {len(steps)} steps, {AT_ONCE} at a time: {wall:.0f} s")
