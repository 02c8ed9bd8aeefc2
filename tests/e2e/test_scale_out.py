"""Scale-out on Dagster's multiprocess executor: with sync.landing.processes: 2 the code location
loads the ingest as a graph (plan, a landing step per shard, one merge step); the shards run in
processes of their own at the same time, never opening the warehouse, and the merge leaves the
raw tables a one-process sync of the same sandbox leaves."""

from __future__ import annotations

import importlib
import os
from datetime import date
from pathlib import Path

import dagster as dg
import pytest

from demo_world import RAW_TABLES, snapshot
from pipelines.cli import demo_config
from pipelines.config import dump, load
from pipelines.defs.partitions import SOURCES, configured_keys, range_tags, register
from sandbox.scenario import build
from sandbox.faults import parse_spec
from sandbox.credentials import SANDBOX_TOKEN, SANDBOX_TOKEN_ENV, SANDBOX_USER, SANDBOX_USER_ENV
from sandbox.server import serve
from warehouse.store import WarehousePaths, connect

pytestmark = pytest.mark.e2e

SEED, AS_OF = 7, date(2026, 11, 27)


def program_yaml(folder: Path, url: str, processes: int) -> Path:
    """The demo program against a sandbox served at ``url`` (scale-out needs trackers every
    process reaches; the embedded sandbox lives in one)."""
    config = demo_config(SEED, AS_OF)
    sites = {name: site.model_copy(update={"url": f"{url}/{name}"}) for name, site in config.sites.items()}
    config = config.model_copy(update={
        "sites": sites, "sandbox": None,
        "warehouse": config.warehouse.model_copy(update={"path": str(folder / "pulse.duckdb")}),
        "sync": config.sync.model_copy(update={"landing": config.sync.landing.model_copy(
            update={"processes": processes})})})
    path = folder / "program.yaml"
    path.write_text(dump(config), encoding="utf-8")
    load(path)  # valid as written
    return path


def ingest_job() -> dg.JobDefinition:
    """The ingest assets alone, as the code location loads them: PULSE_CONFIG decides its shape
    when pipelines.defs.raw is imported, so it is imported again here. Module level, so that each
    step process can rebuild it."""
    import pipelines.defs.raw
    from pipelines.definitions import defs
    from pipelines.defs.schedules import SYNC_JOB

    importlib.reload(pipelines.defs.raw)
    return defs().resolve_job_def(SYNC_JOB).get_subset(asset_selection=set(
        dg.AssetKey(["raw", table.split(".")[1]]) for table in RAW_TABLES))


@pytest.fixture()
def configured(tmp_path):
    """PULSE_CONFIG for this test's processes (spawned steps inherit it), put back afterwards with
    the ingest module loaded as it was."""
    before = os.environ.get("PULSE_CONFIG")
    os.environ.update({SANDBOX_TOKEN_ENV: SANDBOX_TOKEN, SANDBOX_USER_ENV: SANDBOX_USER})
    yield lambda path: os.environ.__setitem__("PULSE_CONFIG", str(path))
    if before is None:
        os.environ.pop("PULSE_CONFIG", None)
    else:
        os.environ["PULSE_CONFIG"] = before
    import pipelines.defs.raw

    importlib.reload(pipelines.defs.raw)


def run_ingest(home: Path, program: Path) -> tuple[dg.ExecuteJobResult, dg.DagsterInstance]:
    home.mkdir(exist_ok=True)
    instance = dg.DagsterInstance.local_temp(str(home))
    register(instance, load(program).config)
    job = dg.build_reconstructable_job(__name__, ingest_job.__name__,
                                       reconstructor_working_directory=str(Path(__file__).parent))
    # spawn: each step process imports the project afresh, under this test's PULSE_CONFIG
    return dg.execute_job(job, instance=instance, raise_on_error=False,
                          tags=dict(range_tags(instance.get_dynamic_partitions(SOURCES.name))),
                          run_config={"execution": {"config": {"multiprocess": {
                              "max_concurrent": 4, "start_method": {"spawn": {}}}}},
                              "resources": {"pulse": {"config": {"config_path": str(program)}}}}), instance


def one_process(program: Path) -> dict:
    """The same projects synced by the one-process ingest (pipelines.ingest, one writer)."""
    from pipelines.defs.raw import _github_sites, _jira_sites
    from pipelines.defs.resources import PulseResource
    from pipelines.ingest import SyncPolicy, sync_sites

    pulse = PulseResource(config_path=str(program))
    config = pulse.load().config
    with pulse.trackers() as trackers, pulse.warehouse(ingest=True) as con:
        results = sync_sites(con, _jira_sites(con, trackers, config, "one", SyncPolicy())
                             + _github_sites(con, trackers, config, "one", SyncPolicy()))
        assert [p.error for r in results for p in r.projects if p.error] == []
        return snapshot(con, RAW_TABLES)


def test_shards_run_in_parallel_processes_and_land_what_one_process_lands(tmp_path, configured, request):
    with serve(build("demo", SEED, AS_OF)) as sandbox:
        baseline = tmp_path / "one"
        baseline.mkdir()
        held_by_one = one_process(program_yaml(baseline, sandbox.url, 1))

        folder = tmp_path / "shards"
        folder.mkdir()
        program = program_yaml(folder, sandbox.url, 2)
        configured(program)
        # each request slower, so each shard outlasts the other's start even on a loaded machine
        # (two spawned processes' start-up differs by up to a second there)
        sandbox.app.faults.set(parse_spec("latency:ms=200"))
        result, instance = run_ingest(folder / "dagster", program)
        request.addfinalizer(instance.dispose)  # its SQLite storage is closed here, not by a collection
        events = list(result.all_events)
        failures = [e.event_specific_data.error.to_string() for e in events if e.is_step_failure]
        assert result.success, failures
        steps = {e.step_key for e in events if e.is_step_success and e.step_key.startswith("trackers_raw")}
        assert steps == {"trackers_raw.plan_landing", "trackers_raw.land_shard[shard_0]",
                         "trackers_raw.land_shard[shard_1]", "trackers_raw.merge_landed"}, steps
        # the two shards were in flight at once, each in a process of its own
        spans = {}
        for entry in instance.all_logs(result.run_id):
            e = entry.dagster_event
            if e and e.step_key and "land_shard" in e.step_key and (e.is_step_start or e.is_step_success):
                spans.setdefault(e.step_key, []).append(entry.timestamp)
        (_, a_end), (b_start, _) = sorted(spans.values())
        assert b_start < a_end, spans
        pids = {e.pid for e in events if e.step_key and "land_shard" in e.step_key and e.is_step_start}
        assert len(pids) == 2, pids
        assert not list((folder / "landing").glob("*/*.journal"))  # cleared after the merge

        projects = len(configured_keys(load(program).config))
        with connect(WarehousePaths(folder / "pulse.duckdb").work) as con:
            assert snapshot(con, RAW_TABLES) == held_by_one
            assert con.execute("SELECT count(*), count(*) FILTER (WHERE status = 'succeeded') "
                               "FROM meta.source_syncs").fetchall()[0] == (projects, projects)
        assert sum(rows for rows, _ in held_by_one.values()) > 1000
