"""The Dagster code location loads with no config and no credentials, and its shape does not drift
by accident (a renamed asset key is a renamed warehouse table)."""

from __future__ import annotations

import dagster as dg
import pytest

from pipelines.definitions import defs


@pytest.fixture(scope="module")
def definitions(tmp_path_factory) -> dg.Definitions:
    return defs()


def test_loads_without_config_or_secrets(monkeypatch):
    for name in ("PULSE_CONFIG", "PULSE_SANDBOX_TOKEN", "JIRA_TOKEN", "GITHUB_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    assert defs().resolve_job_def("pulse_sync") is not None


def test_asset_keys_are_the_warehouse_tables(definitions):
    keys = sorted(k.to_user_string() for k in definitions.resolve_all_asset_keys())
    assert keys == [
        "core/burnup_events", "core/dependencies", "core/item_changes", "core/item_flow_facts", "core/item_history", "core/jira_changelog_items", "core/milestones",
        "core/people", "core/person_identities",
        "core/program_milestone_items", "core/program_milestone_sprints", "core/programs", "core/projects", "core/pull_requests", "core/sprints", "core/status_transitions",
        "core/tombstones", "core/work_item_sprints", "core/work_items", "marts/burnup", "marts/changes_since", "marts/critical_path",
        "marts/dependency_risk", "marts/flow", "marts/forecasts", "marts/health", "marts/health_history", "marts/health_reasons",
        "marts/item_flow", "marts/milestone_slips", "marts/person_match_suggestions", "marts/program_health", "marts/progress", "marts/project_health",
        "marts/resource_conflict_items", "marts/resource_conflicts", "marts/throughput",
        "meta/notifications", "meta/snapshots",
        "raw/github_issue_events", "raw/github_issue_relations", "raw/github_issues", "raw/github_milestones",
        "raw/github_repos", "raw/jira_board_sprints", "raw/jira_changelogs", "raw/jira_issues", "raw/jira_remote_links", "raw/jira_sites",
        "raw/jira_versions", "reports/status", "staging/github_issue_events", "staging/github_issues", "staging/jira_changelog_versions",
        "staging/jira_issue_sprints", "staging/jira_issues", "staging/text_references",
    ]


def test_every_table_asset_has_its_sql_file(definitions):
    from transforms.build import sql_for

    for key in definitions.resolve_all_asset_keys():
        schema, table = key.path
        if schema in ("core", "marts", "staging") and table != "programs":
            sql = sql_for(schema, table)
            # rebuilt whole, maintained incrementally (a table of the migrations), or item-scoped
            # (its rows as the view _rows, which transforms/build.py creates or merges the table from),
            # or computed in Python from its [inputs] (transforms.build.PYTHON_STEPS), documented here
            assert (f"CREATE OR REPLACE TABLE {schema}.{table}" in sql or f"INSERT INTO {schema}.{table}" in sql
                    or "CREATE OR REPLACE TEMP VIEW _rows AS" in sql
                    or ("-- [inputs]" in sql and f"COMMENT ON TABLE {schema}.{table}" in sql)), key


def test_nightly_schedule_runs_the_sync_job(definitions):
    schedule = definitions.resolve_schedule_def("nightly_sync")
    assert schedule.cron_schedule == "0 2 * * *"
    assert schedule.job_name == "pulse_sync"
    assert schedule.execution_timezone == "UTC"


# The status report reads only the published file, which a publish replaces atomically: it needs
# no turn on the work file and may run beside a sync.
READS_PUBLISHED_ONLY = {"reports/status"}


def test_writing_assets_share_the_duckdb_pool(definitions):
    graph = definitions.resolve_asset_graph()
    for key in graph.get_all_asset_keys():
        if key.to_user_string() not in READS_PUBLISHED_ONLY:
            assert graph.get(key).pools == {"duckdb"}, key


def test_every_asset_and_check_runs_in_the_duckdb_pool(definitions):
    # Every asset writes the work file and every check reads it; DuckDB refuses a reader while
    # another process writes, so a step outside the pool fails with "Could not set lock on file".
    graph = definitions.resolve_asset_graph()
    pools = {}
    for assets_def in graph.assets_defs:
        for key in [*assets_def.keys, *assets_def.check_keys]:
            pools[key.to_user_string()] = assets_def.node_def.pool
    assert len(graph.asset_check_keys) >= 5 and all(c.to_user_string() in pools for c in graph.asset_check_keys)
    assert {k: p for k, p in pools.items() if p != "duckdb"} == {k: None for k in READS_PUBLISHED_ONLY}
    job = definitions.resolve_job_def("pulse_sync")
    assert {n.name: n.pool for n in job.graph.node_defs if n.pool != "duckdb"} == {}


def test_the_report_has_its_own_weekly_job_and_the_sync_escalates(definitions):
    sync = {k.to_user_string() for k in definitions.resolve_job_def("pulse_sync").asset_layer.selected_asset_keys}
    report = {k.to_user_string() for k in definitions.resolve_job_def("pulse_report").asset_layer.selected_asset_keys}
    assert report == {"reports/status"} and "reports/status" not in sync and "meta/notifications" in sync
    schedule = definitions.resolve_schedule_def("weekly_report")
    assert schedule.job_name == "pulse_report" and schedule.cron_schedule == "0 6 * * 1"
    assert schedule.default_status == dg.DefaultScheduleStatus.RUNNING


def test_the_weekly_report_follows_program_yaml(monkeypatch, tmp_path):
    from pipelines.cli import demo_config
    from pipelines.config import ReportSettings, dump
    from datetime import date

    config = demo_config(7, date(2026, 11, 27)).model_copy(update={"report": ReportSettings(schedule="30 7 * * 5")})
    (tmp_path / "program.yaml").write_text(dump(config), encoding="utf-8")
    monkeypatch.setenv("PULSE_CONFIG", str(tmp_path / "program.yaml"))
    import importlib

    import pipelines.defs.report as report

    assert importlib.reload(report).weekly_report.cron_schedule == "30 7 * * 5"
    monkeypatch.delenv("PULSE_CONFIG")
    importlib.reload(report)


def test_sync_runs_queue_on_the_warehouse_tag(definitions):
    from pathlib import Path

    import yaml

    from pipelines.defs.schedules import WAREHOUSE_TAG

    settings = yaml.safe_load((Path(__file__).parents[2] / "dagster.yaml").read_text(encoding="utf-8"))
    assert settings["concurrency"]["pools"] == {"default_limit": 1}
    assert {"key": WAREHOUSE_TAG, "limit": 1} in settings["concurrency"]["runs"]["tag_concurrency_limits"]
    assert WAREHOUSE_TAG in definitions.resolve_job_def("pulse_sync").run_tags


def test_the_build_order_follows_the_asset_graph(definitions):
    from transforms.build import STEPS

    graph = definitions.resolve_asset_graph()
    derived = {".".join(k.path) for k in graph.get_all_asset_keys() if k.path[0] in ("staging", "core", "marts")}
    order = [step.name for step in STEPS]
    assert set(order) == derived - {"core.programs"}
    for name in order:
        for parent in graph.get(dg.AssetKey(name.split("."))).parent_keys:
            parent_name = ".".join(parent.path)
            if parent_name in order:
                assert order.index(parent_name) < order.index(name), (parent_name, name)


def test_every_mart_has_an_example_query_in_the_docs():
    from transforms.build import STEPS
    from warehouse.docs import EXAMPLES

    assert [s.name for s in STEPS if s.schema == "marts" and s.name not in EXAMPLES] == []


# Loads the definitions in a fresh interpreter (import-time warnings included), the way a code
# server does, and reports every Python warning and every log record at WARNING or above.
LOAD_AND_REPORT = """
import json, logging, warnings
records = []
class Keep(logging.Handler):
    def emit(self, record):
        records.append(f"{record.name}: {record.getMessage()}")
logging.getLogger().addHandler(Keep(logging.WARNING))
for name in ("dagster", "dagster.components", "dagster_dg_core"):
    logging.getLogger(name).addHandler(Keep(logging.WARNING))
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    from pipelines.definitions import defs
    d = defs()
    d.resolve_asset_graph(); d.resolve_all_job_defs(); d.resolve_all_asset_specs()
    [d.resolve_schedule_def(n) for n in ("nightly_sync", "weekly_report")]
    d.resolve_sensor_def("pulse_run_failure")
print(json.dumps({"warnings": [f"{w.category.__name__}: {w.message}" for w in caught], "logged": records}))
"""


def test_definitions_load_without_warnings(monkeypatch):
    import json
    import subprocess
    import sys
    import tomllib
    from pathlib import Path

    for name in ("PULSE_CONFIG", "PULSE_WEBHOOK_URL"):
        monkeypatch.delenv(name, raising=False)
    out = subprocess.run([sys.executable, "-c", LOAD_AND_REPORT], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).parents[2], timeout=300)
    assert json.loads(out.stdout.splitlines()[-1]) == {"warnings": [], "logged": []}, out.stderr[-2000:]
    # Dagster warns on every load when the name dg's project settings give differs from the name the
    # location is loaded under: `dagster dev`, `make dev` (dg dev -m) and deploy/workspace.yaml name
    # it after its module.
    project = tomllib.loads((Path(__file__).parents[2] / "pyproject.toml").read_text(encoding="utf-8"))
    assert project["tool"]["dg"]["project"]["code_location_name"] == "pipelines.definitions"


def test_the_nightly_sync_runs_once_deployed(definitions):
    assert definitions.resolve_schedule_def("nightly_sync").default_status == dg.DefaultScheduleStatus.RUNNING


def test_a_failed_sync_or_report_run_is_told(definitions):
    # (what it posts: tests/e2e/test_run_failure_sensor.py)
    sensor = definitions.resolve_sensor_def("pulse_run_failure")
    assert isinstance(sensor, dg.RunStatusSensorDefinition)
    assert sensor.default_status == dg.DefaultSensorStatus.RUNNING


def test_steps_that_meet_the_outside_world_retry_with_backoff(definitions):
    graph = definitions.resolve_asset_graph()
    policies = {}
    for assets_def in graph.assets_defs:
        if assets_def.is_executable:
            policies[assets_def.node_def.name] = assets_def.node_def.retry_policy
    retried = {name for name, policy in policies.items() if policy is not None}
    assert retried == {"trackers_raw", "meta__snapshots", "reports__status"}
    for name in retried:
        policy = policies[name]
        assert policy.max_retries >= 2 and policy.delay and policy.backoff == dg.Backoff.EXPONENTIAL, name
        assert policy.jitter is not None, name


def test_the_sync_job_is_retried_when_its_run_dies(definitions):
    from pathlib import Path

    import yaml

    tags = definitions.resolve_job_def("pulse_sync").run_tags
    assert int(tags["dagster/max_retries"]) >= 1
    # every step again: the run id is the sync id that ingest records and publish judges the run by
    assert tags["dagster/retry_strategy"] == "ALL_STEPS"
    assert tags["dagster/retry_on_asset_or_op_failure"] == "false"
    settings = yaml.safe_load((Path(__file__).parents[2] / "dagster.yaml").read_text(encoding="utf-8"))
    assert settings["run_retries"]["enabled"] is True


def test_freshness_is_checked_per_project_and_on_the_published_snapshot(definitions):
    from datetime import timedelta

    graph = definitions.resolve_asset_graph()
    snapshots = dg.AssetKey(["meta", "snapshots"])
    assert dg.AssetCheckKey(snapshots, "every_project_synced_recently") in graph.asset_check_keys
    assert graph.get(snapshots).freshness_policy.fail_window.to_timedelta() == timedelta(hours=26)
    # ... and the check runs in the sync job, after the publish it describes
    job = definitions.resolve_job_def("pulse_sync")
    assert "meta__snapshots_every_project_synced_recently" in {n.name for n in job.graph.node_defs}


def test_the_models_checks_run_as_one_step_and_the_blocking_ones_still_block(definitions):
    job = definitions.resolve_job_def("pulse_sync")
    checks = {c.node_def.name: c for c in definitions.asset_checks}
    model = checks["model_checks"]
    assert len(model.check_keys) == 10 and set(checks) == {"model_checks", "meta__snapshots_every_project_synced_recently"}
    assert "model_checks" in {n.name for n in job.graph.node_defs}
    blocking = {(tuple(s.asset_key.path), s.name) for s in model.check_specs if s.blocking}
    assert blocking == {(("core", "work_items"), "work_items_have_unique_ids"),
                        (("marts", "project_health"), "every_verdict_has_reasons"),
                        (("marts", "health"), "health_is_explained_and_never_greener_than_its_critical_path")}


def test_a_failed_blocking_check_of_a_multi_asset_check_stops_what_is_downstream():
    """What model_checks relies on from Dagster: a blocking spec of a multi-asset check that fails
    keeps the assets downstream of its asset from running, as a blocking check step of its own does."""
    @dg.asset
    def built() -> None: ...

    @dg.asset(deps=[built])
    def published() -> None: ...

    @dg.multi_asset_check(specs=[dg.AssetCheckSpec("fine", asset=built), dg.AssetCheckSpec("broken", asset=built, blocking=True)])
    def both():
        yield dg.AssetCheckResult(asset_key=built.key, check_name="fine", passed=True)
        yield dg.AssetCheckResult(asset_key=built.key, check_name="broken", passed=False)

    result = dg.materialize([built, published, both], raise_on_error=False)
    ran = {e.step_key for e in result.all_events if e.event_type_value == "STEP_SUCCESS"}
    assert not result.success and "built" in ran and "published" not in ran


def test_a_model_check_whose_query_fails_has_failed_and_the_others_still_run():
    import duckdb

    from pipelines.defs.checks import ModelCheck, evaluate

    def check(name: str, decide) -> ModelCheck:
        return ModelCheck(dg.AssetCheckSpec(name, asset=dg.AssetKey(["core", "work_items"])), decide)

    results = list(evaluate(duckdb.connect(), [
        check("broken", lambda con: {"passed": not con.execute("SELECT * FROM no_such_table").fetchall()}),
        check("fine", lambda con: {"passed": con.execute("SELECT 1").fetchall() == [(1,)]})]))
    assert [(r.check_name, r.passed) for r in results] == [("broken", False), ("fine", True)]
    assert "no_such_table" in results[0].description


def test_a_run_of_some_model_tables_selects_only_their_checks(definitions):
    """Materializing one table or a group from the UI, or one check from its page, plans a run of
    a subset: the one step of the model's checks must be subsettable, to the selected ones."""
    job = definitions.resolve_implicit_global_asset_job_def()
    health = dg.AssetKey(["marts", "health"])
    subset = job.get_subset(asset_selection={health},
                            asset_check_selection={dg.AssetCheckKey(health, "health_is_explained_and_never_greener_than_its_critical_path")})
    assert subset.asset_layer.asset_graph.asset_check_keys >= {
        dg.AssetCheckKey(health, "health_is_explained_and_never_greener_than_its_critical_path")}
    only_check = job.get_subset(asset_check_selection={dg.AssetCheckKey(dg.AssetKey(["core", "work_items"]), "statuses_are_mapped")})
    assert only_check is not None
