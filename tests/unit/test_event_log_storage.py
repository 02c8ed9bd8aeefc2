"""The project's SQLite event log (pipelines/event_log_storage.py) stores what Dagster's own does,
in the same files, and keeps only a bounded number of database engines open."""

import logging
import os
import sqlite3
import threading
import time

import dagster as dg
from dagster._core.event_api import EventLogRecord
from dagster._core.events.log import EventLogEntry
from dagster._core.storage.event_log.sqlite.sqlite_event_log import SqliteEventLogStorage

from pipelines.event_log_storage import EVENT_BATCH_SIZE_ENV, KEPT_ENGINES, PooledSqliteEventLogStorage

DAYS = dg.StaticPartitionsDefinition(["a", "b", "c"])


@dg.asset(partitions_def=DAYS)
def landed() -> dg.MaterializeResult:
    return dg.MaterializeResult(metadata={"rows": 1})


def _ours(base) -> dict:
    """An instance's settings that put its event log in PooledSqliteEventLogStorage under ``base``."""
    return {"event_log_storage": {"module": "pipelines.event_log_storage", "class": "PooledSqliteEventLogStorage",
                                  "config": {"base_dir": str(base)}}}


def test_partitioned_materializations_of_many_runs_read_back_through_dagsters_own_storage(tmp_path):
    base = tmp_path / "history" / "runs"
    settings = _ours(base)
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


PROJECTS = dg.StaticPartitionsDefinition([f"p{n}" for n in range(5)])


@dg.multi_asset(specs=[dg.AssetSpec(["raw", f"t{n}"]) for n in range(3)], partitions_def=PROJECTS,
                backfill_policy=dg.BackfillPolicy.single_run())
def raw_tables():
    """What trackers_raw reports: one result per table for every partition of the run."""
    for n in range(3):
        yield dg.MaterializeResult(asset_key=["raw", f"t{n}"], metadata={"rows": n})


def _stored(base) -> dict:
    """What a run left in the event log's files, without ids, timestamps and run ids."""
    index, values = sqlite3.connect(base / "index.db"), {}
    try:
        run_id, = index.execute("SELECT DISTINCT run_id FROM event_logs WHERE asset_key IS NOT NULL").fetchone()
        return {
            "index events": index.execute("SELECT dagster_event_type, asset_key, partition FROM event_logs "
                                          "ORDER BY id").fetchall(),
            # a data version is derived from the run's id: each distinct value by its first place
            "tags": [(key, partition, tag, values.setdefault(value, len(values))) for key, partition, tag, value
                     in index.execute("SELECT e.asset_key, e.partition, t.key, t.value FROM asset_event_tags t "
                                      "JOIN event_logs e ON e.id = t.event_id ORDER BY t.id")],
            # each table's row: its latest materialization (the last one stored, by id), the run, and
            # the time of its last event of any kind (a planned materialization counts too)
            "latest": {key: (last_run == run_id, record.event_log_entry.dagster_event.partition,
                             record.storage_id == last_materialization, at_last_event)
                       for key, last_run, latest, last_materialization, at_last_event in index.execute(
                           "SELECT k.asset_key, k.last_run_id, k.last_materialization, "
                           "       (SELECT max(id) FROM event_logs e WHERE e.asset_key = k.asset_key "
                           "        AND e.dagster_event_type = 'ASSET_MATERIALIZATION'), "
                           "       k.last_materialization_timestamp = (SELECT timestamp FROM event_logs e "
                           "        WHERE e.asset_key = k.asset_key ORDER BY id DESC LIMIT 1) "
                           "FROM asset_keys k")
                       for record in [dg.deserialize_value(latest, EventLogRecord)]},
            "run events": sqlite3.connect(base / f"{run_id}.db").execute(
                "SELECT dagster_event_type, asset_key, partition FROM event_logs ORDER BY id").fetchall(),
        }
    finally:
        index.close()


def test_a_partitioned_materialization_is_stored_in_one_batch_as_dagster_stores_it_event_by_event(
        tmp_path, monkeypatch):
    monkeypatch.setenv(EVENT_BATCH_SIZE_ENV, "")  # so that monkeypatch puts back what the session had
    monkeypatch.delenv(EVENT_BATCH_SIZE_ENV)
    batches = []
    store_batch = PooledSqliteEventLogStorage.store_event_batch
    monkeypatch.setattr(PooledSqliteEventLogStorage, "store_event_batch",
                        lambda self, events: (batches.append(len(events)), store_batch(self, events)))
    every_partition = {"dagster/asset_partition_range_start": "p0", "dagster/asset_partition_range_end": "p4"}
    stored = {}
    for name, settings in (("dagster's", {}), ("ours", _ours(tmp_path / "ours" / "history" / "runs"))):
        (tmp_path / name).mkdir()
        with dg.DagsterInstance.local_temp(str(tmp_path / name), overrides=settings) as instance:
            assert dg.materialize([raw_tables], instance=instance, tags=every_partition).success
            for n in range(3):
                assert instance.get_materialized_partitions(dg.AssetKey(["raw", f"t{n}"])) == set(PROJECTS.get_partition_keys())
        stored[name] = _stored(tmp_path / name / "history" / "runs")
        if name == "dagster's":
            assert os.environ.get(EVENT_BATCH_SIZE_ENV) is None and batches == []  # Dagster's: event by event
    assert os.environ[EVENT_BATCH_SIZE_ENV] == "1000"  # our storage turned batching on
    # the run's planned materializations (3 tables x 5 partitions), then each table's five
    assert batches == [15, 5, 5, 5]
    kinds = [kind for kind, _, _ in stored["ours"]["index events"]]
    assert kinds.count("ASSET_MATERIALIZATION") == kinds.count("ASSET_MATERIALIZATION_PLANNED") == 15
    assert len(stored["ours"]["tags"]) >= 15 and len(stored["ours"]["latest"]) == 3
    # each table's row names the materialization stored last (the partitions' order is Dagster's),
    # at its last event's time, as event by event, though the batch writes the row once
    # (_last_of_each_kind)
    assert {(run, last, at_last) for run, _, last, at_last in stored["ours"]["latest"].values()} == {(True, True, True)}
    assert stored["ours"] == stored["dagster's"]


def test_a_batch_whose_index_write_fails_leaves_no_event_twice(tmp_path, monkeypatch):
    """Dagster stores a failed batch again event by event: what the batch had written to the run's
    file must be gone by then, or the run's log shows each event twice."""
    monkeypatch.setenv(EVENT_BATCH_SIZE_ENV, "1000")
    tags = PooledSqliteEventLogStorage._store_asset_event_tags
    failed = []

    def locked_once(self, conn, events, ids):
        if len(events) > 1 and not failed and events[0].dagster_event_type == dg.DagsterEventType.ASSET_MATERIALIZATION:
            failed.append(len(events))
            raise RuntimeError("database is locked")
        return tags(self, conn, events, ids)

    monkeypatch.setattr(PooledSqliteEventLogStorage, "_store_asset_event_tags", locked_once)
    base = tmp_path / "history" / "runs"
    settings = _ours(base)
    with dg.DagsterInstance.local_temp(str(tmp_path), overrides=settings) as instance:
        result = dg.materialize([raw_tables], instance=instance, tags={
            "dagster/asset_partition_range_start": "p0", "dagster/asset_partition_range_end": "p4"})
        assert result.success and failed == [5]
        stored = [(e.dagster_event.asset_key.to_string(), e.dagster_event.partition)
                  for e in instance.all_logs(result.run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION)]
        assert len(stored) == 15 and len(set(stored)) == 15  # each table's five partitions, once
        assert [len(s.materialization_events) for s in instance.get_run_step_stats(result.run_id)] == [15]
    index = sqlite3.connect(base / "index.db")
    assert index.execute("SELECT count(*) FROM event_logs WHERE dagster_event_type = 'ASSET_MATERIALIZATION'"
                         ).fetchone() == (15,)
    index.close()


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
