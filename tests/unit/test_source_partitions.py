"""The ``sources`` partitions: one per configured Jira project and GitHub repo, kept equal to
program.yaml by the sensor, the nightly schedule and ``pulse sync``."""

from __future__ import annotations

from datetime import date

import dagster as dg
import pytest

from pipelines.cli import demo_config
from pipelines.config import ProgramConfig, ProjectConfig, dump, load
from pipelines.defs.partitions import (
    SOURCES, configured_keys, partition_changes, range_tags, register, source_partitions,
)

DEMO_KEYS = ["jira-cloud/PAY", "jira-dc/CART", "github/acme/web", "jira-dc/ID", "github/acme/platform-api"]


@pytest.fixture
def config():
    return demo_config(7, date(2026, 11, 27))


@pytest.fixture
def program_yaml(config, tmp_path, monkeypatch):
    path = tmp_path / "program.yaml"
    path.write_text(dump(config), encoding="utf-8")
    monkeypatch.setenv("PULSE_CONFIG", str(path))
    return path


def test_one_key_per_project_in_program_order_each_once(config):
    assert configured_keys(config) == DEMO_KEYS
    shared = config.programs[0].projects[0]  # a project two programs share is one partition
    twice = config.model_copy(update={"programs": (*config.programs, ProgramConfig(
        id="again", name="Again", projects=(shared, ProjectConfig(site="jira-dc", key="NEW"))))})
    assert configured_keys(twice) == [*DEMO_KEYS, "jira-dc/NEW"]


def test_changes_add_the_new_and_drop_the_unconfigured(config):
    assert partition_changes(config, []) == (DEMO_KEYS, [])
    assert partition_changes(config, ["jira-dc/GONE", *DEMO_KEYS[:2]]) == (DEMO_KEYS[2:], ["jira-dc/GONE"])
    assert partition_changes(config, DEMO_KEYS) == ([], [])


def test_range_tags_span_first_to_last_and_refuse_nothing():
    assert range_tags(["a/1", "b/2", "c/3"]) == {"dagster/asset_partition_range_start": "a/1",
                                                 "dagster/asset_partition_range_end": "c/3"}
    with pytest.raises(ValueError, match="no project"):
        range_tags([])


def test_register_makes_the_instance_list_exactly_the_configured(config):
    with dg.DagsterInstance.ephemeral() as instance:
        instance.add_dynamic_partitions(SOURCES.name, ["jira-dc/GONE", "jira-dc/CART"])
        assert register(instance, config) == ["jira-dc/CART", *[k for k in DEMO_KEYS if k != "jira-dc/CART"]]
        assert "jira-dc/GONE" not in instance.get_dynamic_partitions(SOURCES.name)


def test_the_sensor_adds_and_drops_then_skips(program_yaml):
    with dg.DagsterInstance.ephemeral() as instance:
        instance.add_dynamic_partitions(SOURCES.name, ["jira-dc/GONE"])
        result = source_partitions(dg.build_sensor_context(instance=instance))
        assert isinstance(result, dg.SensorResult)
        added, dropped = result.dynamic_partitions_requests
        assert isinstance(added, dg.AddDynamicPartitionsRequest) and list(added.partition_keys) == DEMO_KEYS
        assert isinstance(dropped, dg.DeleteDynamicPartitionsRequest) and list(dropped.partition_keys) == ["jira-dc/GONE"]
        register(instance, load(program_yaml).config)
        assert isinstance(source_partitions(dg.build_sensor_context(instance=instance)), dg.SkipReason)


def test_the_sensor_skips_without_a_valid_config(tmp_path, monkeypatch):
    with dg.DagsterInstance.ephemeral() as instance:
        monkeypatch.delenv("PULSE_CONFIG", raising=False)
        assert "PULSE_CONFIG" in source_partitions(dg.build_sensor_context(instance=instance)).skip_message
        bad = tmp_path / "bad.yaml"
        bad.write_text("sites: {}\nprograms: []\n", encoding="utf-8")
        monkeypatch.setenv("PULSE_CONFIG", str(bad))
        assert "not valid" in source_partitions(dg.build_sensor_context(instance=instance)).skip_message


def test_the_nightly_schedule_asks_for_one_run_over_every_project(program_yaml, tmp_path):
    from pipelines.definitions import defs

    schedule = defs().resolve_schedule_def("nightly_sync")
    with dg.DagsterInstance.local_temp(str(tmp_path)) as instance, \
            dg.build_schedule_context(instance=instance) as context:
        (request,) = schedule.evaluate_tick(context).run_requests
        assert instance.get_dynamic_partitions(SOURCES.name) == DEMO_KEYS
    assert request.tags["dagster/asset_partition_range_start"] == DEMO_KEYS[0]
    assert request.tags["dagster/asset_partition_range_end"] == DEMO_KEYS[-1]


def test_the_ingest_assets_are_partitioned_by_source_and_backfill_in_one_run():
    from pipelines.defs.raw import _only, trackers_raw

    assert trackers_raw.partitions_def == SOURCES
    assert trackers_raw.backfill_policy == dg.BackfillPolicy.single_run()
    config = demo_config(7, date(2026, 11, 27))
    only = _only(config, {"jira-dc/CART", "github/acme/web"})
    assert [(p.id, [q.key or q.repo for q in p.projects]) for p in only.programs] == \
        [(config.programs[0].id, ["CART", "acme/web"]), (config.programs[1].id, [])]


def test_the_sensor_defers_deletions_while_a_night_runs(program_yaml):
    with dg.DagsterInstance.ephemeral() as instance:
        register(instance, load(program_yaml).config)
        instance.add_dynamic_partitions(SOURCES.name, ["jira-dc/GONE"])
        instance.add_run(dg.DagsterRun(job_name="pulse_sync", run_id="running-night", status=dg.DagsterRunStatus.STARTED))
        assert isinstance(source_partitions(dg.build_sensor_context(instance=instance)), dg.SkipReason)
        instance.delete_run("running-night")  # the run is over
        result = source_partitions(dg.build_sensor_context(instance=instance))
        (dropped,) = result.dynamic_partitions_requests
        assert list(dropped.partition_keys) == ["jira-dc/GONE"]
