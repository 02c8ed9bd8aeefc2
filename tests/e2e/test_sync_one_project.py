"""One project synced, retried or backfilled alone: the ``sources`` partitions (one per Jira
project and GitHub repo) through the real ``pulse sync --project`` and a persistent Dagster
instance, on a copy of the published demo."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from pipelines.cli import main
from pipelines.defs.partitions import SOURCES
from sandbox.credentials import SANDBOX_TOKEN_ENV

pytestmark = pytest.mark.e2e

KEYS = ["jira-cloud/PAY", "jira-dc/CART", "github/acme/web", "jira-dc/ID", "github/acme/platform-api"]


@pytest.fixture
def demo(published_demo, tmp_path, monkeypatch) -> Path:
    """A copy of the demo, synced through a Dagster instance kept under tmp (DAGSTER_HOME)."""
    shutil.copytree(published_demo, tmp_path / "demo")
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n", encoding="utf-8")
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    return tmp_path / "demo"


def last_sync(demo: Path) -> list[tuple]:
    with duckdb.connect(str(demo / ".pulse" / "work.duckdb"), read_only=True) as con:
        return con.execute("""SELECT site, project_key, error IS NULL FROM meta.source_syncs
                              WHERE sync_id = (SELECT sync_id FROM meta.sync_runs ORDER BY started_at DESC LIMIT 1)
                              ORDER BY ALL""").fetchall()


def test_one_project_syncs_alone_and_its_partition_shows_it(demo):
    assert main(["sync", "--config", str(demo / "program.yaml"), "--project", "jira-dc/CART"]) == 0
    assert last_sync(demo) == [("jira-dc", "CART", True)]  # the others were not asked
    with dg.DagsterInstance.get() as instance:
        assert instance.get_dynamic_partitions(SOURCES.name) == KEYS  # program.yaml's projects
        issues = dg.AssetKey(["raw", "jira_issues"])
        assert instance.get_materialized_partitions(issues) == {"jira-dc/CART"}
        # the project's own figures, on its partition
        (seen,) = instance.fetch_observations(
            dg.AssetRecordsFilter(asset_key=issues, asset_partitions=["jira-dc/CART"]), limit=5).records
        observed = seen.event_log_entry.asset_observation.metadata
        assert observed["requests"].value == 2 and observed["error"].value == ""
        assert instance.get_latest_materialization_event(dg.AssetKey(["meta", "snapshots"])) is not None
    # a night's run over every partition: tests/e2e/test_postgres_storage.py (the schedule's run)


def planned(instance: dg.DagsterInstance, run_id: str, table: str) -> list:
    """The run's "materialization planned" events of raw/<table>."""
    return [r.event_log_entry.dagster_event.event_specific_data for r in instance.get_records_for_run(
        run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION_PLANNED).records
        if r.event_log_entry.dagster_event.asset_key == dg.AssetKey(["raw", table])]


def test_a_night_plans_each_raw_table_once_and_a_project_run_its_partition(demo):
    """Each event is a write to Dagster's event log: a night over every project plans each raw
    table once with the run's partitions, not once per partition; one project's run plans its
    partition, which is what marks it failed when it fails."""
    assert main(["sync", "--config", str(demo / "program.yaml")]) == 0
    with dg.DagsterInstance.get() as instance:
        night = instance.get_runs(limit=1)[0].run_id
        (plan,) = planned(instance, night, "jira_issues")
        assert plan.partition is None and sorted(plan.partitions_subset.get_partition_keys()) == sorted(KEYS)
        # every partition of every raw table is still materialized, each its own event
        assert instance.get_materialized_partitions(dg.AssetKey(["raw", "github_issues"])) == set(KEYS)
    assert main(["sync", "--config", str(demo / "program.yaml"), "--project", "jira-dc/CART"]) == 0
    with dg.DagsterInstance.get() as instance:
        (plan,) = planned(instance, instance.get_runs(limit=1)[0].run_id, "jira_issues")
        assert plan.partition == "jira-dc/CART" and plan.partitions_subset is None
    assert "DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS" not in os.environ  # set for the night's run only


def test_a_project_that_fails_alone_fails_its_run_and_publishes_nothing(demo, monkeypatch):
    before = (demo / "pulse.duckdb").stat().st_mtime_ns
    monkeypatch.setenv(SANDBOX_TOKEN_ENV, "wrong-token")
    assert main(["sync", "--config", str(demo / "program.yaml"), "--project", "github/acme/web"]) != 0
    assert last_sync(demo) == [("github", "acme/web", False)]
    assert (demo / "pulse.duckdb").stat().st_mtime_ns == before  # the last snapshot stays
    with dg.DagsterInstance.get() as instance:
        run = instance.get_runs(limit=1)[0]
        assert run.status == dg.DagsterRunStatus.FAILURE and run.tags["dagster/partition"] == "github/acme/web"
        failed = instance.get_records_for_run(run.run_id, of_type=dg.DagsterEventType.STEP_FAILURE).records
        assert [r.event_log_entry.step_key for r in failed] == ["trackers_raw"]


def test_an_unknown_project_is_refused_before_anything_runs(demo, capsys):
    assert main(["sync", "--config", str(demo / "program.yaml"), "--project", "jira-dc/NOPE"]) == 2
    err = capsys.readouterr().err
    assert "jira-dc/NOPE" in err and "choose one of: jira-cloud/PAY, jira-dc/CART" in err


def run_record(demo: Path, run_id: str) -> tuple:
    with duckdb.connect(str(demo / ".pulse" / "work.duckdb"), read_only=True) as con:
        return con.execute("SELECT status, finished_at IS NOT NULL, cause FROM meta.sync_runs WHERE sync_id = ?",
                           [run_id]).fetchone()


def test_runs_launched_in_dagster_record_how_they_ended(demo, monkeypatch):
    """Not through the command line (which marks a failed run itself): the steps record it."""
    from pipelines.definitions import defs
    from pipelines.defs.partitions import register
    from pipelines.config import load

    monkeypatch.setenv("PULSE_CONFIG", str(demo / "program.yaml"))
    definitions = defs()
    with dg.DagsterInstance.get() as instance:
        register(instance, load(demo / "program.yaml").config)
        # an asset's page: materialize the raw tables (one step) for one partition; nothing downstream runs
        from pipelines.defs.raw import trackers_raw

        raw_only = definitions.resolve_implicit_global_asset_job_def().get_subset(
            asset_selection=set(trackers_raw.keys))
        landed = raw_only.execute_in_process(instance=instance, partition_key="jira-dc/CART", raise_on_error=False)
        assert landed.success
        status, finished, cause = run_record(demo, landed.run_id)
        assert (status, finished) == ("succeeded", True) and "landed only" in cause

        # pulse_sync with one partition whose project fails: the run fails, and says so in the warehouse
        monkeypatch.setenv(SANDBOX_TOKEN_ENV, "wrong-token")
        failed = definitions.resolve_job_def("pulse_sync").execute_in_process(
            instance=instance, partition_key="jira-dc/CART", raise_on_error=False)
        assert not failed.success
        status, finished, cause = run_record(demo, failed.run_id)
        assert (status, finished) == ("failed", True) and "HTTP 401" in cause and "nothing published" in cause
