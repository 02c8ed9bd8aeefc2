"""The project's SQLite event log (pipelines/event_log_storage.py) stores what Dagster's own does,
in the same files, and keeps only a bounded number of database engines open."""

import logging
import os
import threading
import time

import dagster as dg
from dagster._core.events.log import EventLogEntry
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


def _entry(run_id: str, n: int) -> EventLogEntry:
    return EventLogEntry(error_info=None, level=logging.INFO, user_message=f"event {n}", run_id=run_id,
                         timestamp=time.time(), step_key=None, job_name=None, dagster_event=None)


def test_a_watcher_of_the_runs_file_sees_each_event_as_it_is_stored(tmp_path):
    """The webserver shows a running run's events by watching its .db file (Dagster's watchdog
    watcher): with the connection kept open, each write must still reach that file."""
    writer = PooledSqliteEventLogStorage(str(tmp_path))
    reader = PooledSqliteEventLogStorage(str(tmp_path))
    seen, arrived = [], threading.Event()
    try:
        writer.store_event(_entry("run-1", 0))  # the run's file exists before it is watched
        reader.watch("run-1", None, lambda entry, cursor: (seen.append(entry.user_message),
                                                           len(seen) == 5 and arrived.set()))
        time.sleep(0.5)  # the watchdog observer starts
        for n in range(1, 6):
            writer.store_event(_entry("run-1", n))
            time.sleep(0.05)
        assert arrived.wait(10), f"the watcher saw {seen}"
        assert seen[-1] == "event 5"
    finally:
        reader.dispose()
        writer.dispose()


def test_wipe_leaves_no_connection_on_the_files_it_deletes(tmp_path):
    storage = PooledSqliteEventLogStorage(str(tmp_path))
    try:
        storage.store_event(_entry("run-1", 0))
        assert len(storage.get_logs_for_run("run-1")) == 1
        storage.wipe()
        assert storage.get_logs_for_run("run-1") == []
        storage.store_event(_entry("run-1", 1))  # a new file, not the deleted one
        assert [e.user_message for e in SqliteEventLogStorage(str(tmp_path)).get_logs_for_run("run-1")] == ["event 1"]
    finally:
        storage.dispose()


def test_an_instance_without_a_home_keeps_its_event_log_in_a_folder_removed_with_it(monkeypatch):
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    storage = PooledSqliteEventLogStorage()
    folder = storage._base_dir
    storage.store_event(_entry("run-1", 0))
    storage.dispose()
    assert not os.path.exists(folder)
