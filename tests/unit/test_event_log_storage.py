"""The project's SQLite event log (pipelines/event_log_storage.py) stores what Dagster's own does,
in the same files, and keeps only a bounded number of database engines open."""

import dagster as dg
from dagster._core.storage.event_log.sqlite.sqlite_event_log import SqliteEventLogStorage

from pipelines.event_log_storage import KEPT_ENGINES, PooledSqliteEventLogStorage

DAYS = dg.StaticPartitionsDefinition(["a", "b", "c"])


@dg.asset(partitions_def=DAYS)
def landed() -> dg.MaterializeResult:
    return dg.MaterializeResult(metadata={"rows": 1})


def test_partitioned_materializations_of_many_runs_read_back_through_dagsters_own_storage(tmp_path):
    base = tmp_path / "history" / "runs"
    settings = {"event_log_storage": {"module": "pipelines.event_log_storage", "class": "PooledSqliteEventLogStorage",
                                      "config": {"base_dir": str(base)}}}
    runs = KEPT_ENGINES + 4  # more run shards than engines kept: the oldest are closed and reopened
    with dg.DagsterInstance.local_temp(str(tmp_path), overrides=settings) as instance:
        assert isinstance(instance.event_log_storage, PooledSqliteEventLogStorage)
        for i in range(runs):
            assert dg.materialize([landed], instance=instance, partition_key="abc"[i % 3]).success
        storage = instance.event_log_storage
        assert len(storage._engines) <= KEPT_ENGINES
        assert instance.get_materialized_partitions(landed.key) == {"a", "b", "c"}
        first_run = instance.get_runs()[-1].run_id
        assert any(e.dagster_event_type == dg.DagsterEventType.RUN_SUCCESS
                   for e in instance.all_logs(first_run))  # an evicted run's shard reopens

    # The files are Dagster's: its own class reads every event, run by run and across runs.
    plain = SqliteEventLogStorage(str(base))
    records = plain.fetch_materializations(landed.key, limit=100).records
    assert len(records) == runs
    assert sorted({r.partition_key for r in records}) == ["a", "b", "c"]
    assert len(plain.get_all_run_ids()) == runs
    plain.dispose()


def test_without_base_dir_it_keeps_the_event_logs_where_dagsters_default_storage_does(tmp_path, monkeypatch):
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
    storage = PooledSqliteEventLogStorage()
    try:
        assert storage._base_dir == str(tmp_path / "history" / "runs")
        assert (tmp_path / "history" / "runs" / "index.db").exists()
    finally:
        storage.dispose()
