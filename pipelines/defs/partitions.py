"""One partition per tracker project: ``<site>/<Jira key>`` or ``<site>/<owner>/<repo>``.

The ingest assets are partitioned by source, so one project can be synced, retried or backfilled
alone (materialize its partition) and the UI shows each project's last sync. A night syncs every
configured project in one run (a partition range over all of them, ``BackfillPolicy.single_run``):
one run, one pass over each site, one rebuild and one publish. The keys follow program.yaml: the
``source_partitions`` sensor, the nightly schedule and ``pulse sync`` add the projects it names and
drop the ones it no longer names, so the UI never lists a project nobody syncs."""

import os
from collections.abc import Iterable, Mapping

import dagster as dg
from dagster._core.storage.tags import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG

from pipelines.config import ConfigError, PulseConfig, load

SOURCES = dg.DynamicPartitionsDefinition(name="sources")


def source_key(site: str, project: str) -> str:
    """The partition key of a Jira project (``project`` = its key) or a GitHub repo (owner/repo)."""
    return f"{site}/{project}"


def configured_keys(config: PulseConfig) -> list[str]:
    """Every configured project's key, in program.yaml's order, each once."""
    keys = (source_key(p.site, p.project_key) for _, p in config.projects())
    return list(dict.fromkeys(keys))


def partition_changes(config: PulseConfig, known: Iterable[str]) -> tuple[list[str], list[str]]:
    """The keys to add and the keys to delete so that the instance lists exactly the configured
    projects."""
    wanted, have = configured_keys(config), list(known)
    return [k for k in wanted if k not in set(have)], [k for k in have if k not in set(wanted)]


def register(instance: dg.DagsterInstance, config: PulseConfig) -> list[str]:
    """Make the instance's partitions the configured projects; returns the keys in its order."""
    add, drop = partition_changes(config, instance.get_dynamic_partitions(SOURCES.name))
    if add:
        instance.add_dynamic_partitions(SOURCES.name, add)
    for key in drop:
        instance.delete_dynamic_partition(SOURCES.name, key)
    return instance.get_dynamic_partitions(SOURCES.name)


def range_tags(keys: list[str]) -> Mapping[str, str]:
    """Run tags selecting every key from the first to the last (the instance's order): one run
    over all of them."""
    if not keys:
        raise ValueError("no partitions to sync: program.yaml names no project")
    return {ASSET_PARTITION_RANGE_START_TAG: keys[0], ASSET_PARTITION_RANGE_END_TAG: keys[-1]}


@dg.sensor(name="source_partitions", minimum_interval_seconds=300,
           default_status=dg.DefaultSensorStatus.RUNNING,
           description="Keeps the 'sources' partitions equal to the projects program.yaml (PULSE_CONFIG) names.")
def source_partitions(context: dg.SensorEvaluationContext):
    path = os.environ.get("PULSE_CONFIG")
    if not path:
        return dg.SkipReason("PULSE_CONFIG is not set: no program.yaml to read the projects from")
    try:
        config = load(path).config
    except ConfigError as exc:
        return dg.SkipReason(f"program.yaml is not valid: {exc}")
    add, drop = partition_changes(config, context.instance.get_dynamic_partitions(SOURCES.name))
    if drop and _sync_in_flight(context.instance):
        # a queued or running night selects a range of keys it resolves when it starts: deleting
        # its last key would fail it; the next tick deletes them
        drop = []
    if not add and not drop:
        return dg.SkipReason("the partitions are the configured projects (deletions wait for the running sync)")
    return dg.SensorResult(dynamic_partitions_requests=[
        *([SOURCES.build_add_request(add)] if add else []),
        *([SOURCES.build_delete_request(drop)] if drop else []),
    ])


def _sync_in_flight(instance: dg.DagsterInstance) -> bool:
    return bool(instance.get_run_ids(dg.RunsFilter(job_name="pulse_sync", statuses=[
        dg.DagsterRunStatus.QUEUED, dg.DagsterRunStatus.NOT_STARTED, dg.DagsterRunStatus.STARTING,
        dg.DagsterRunStatus.STARTED]), limit=1))
