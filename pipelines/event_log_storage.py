"""Dagster's SQLite event log, with its database engines kept between events.

Dagster's ``SqliteEventLogStorage`` builds a new SQLAlchemy engine for every event it stores, and
for the cross-run index again (a partitioned materialization is written to both). A nightly sync
materializes each raw table on each project's partition: 11 tables × 32 projects of the bench
portfolio make 352 such events, and building engines for them took 3-4 s of a 21 s sync (py-spy:
``create_engine``, the first connect of each engine and its ``dispose``). This storage keeps the
engines of the few databases in use (the index and the latest runs'), so each event costs only the
statements and the commit; and the 32 events of one table's materialization go in one commit per
file (``store_event_batch``), not two each, with the table's row of the asset index written once
for them, not once each (``_last_of_each_kind``). The files, their schema and their migrations are Dagster's own:
an instance can switch to or from this class, and the webserver and daemon read the same history.

Two things Dagster's class got from closing its connection after every block are kept: a run's
events reach its ``.db`` file at once (a passive WAL checkpoint after each write: the webserver
watches that file, not its ``-wal``, to show a running run's events), and ``wipe`` finds no
connection open on the files it deletes.

dagster.yaml names it (``event_log_storage``), so every process of the instance uses it; without
``base_dir`` it keeps the event logs where Dagster's default SQLite storage does,
``$DAGSTER_HOME/history/runs``, or, for an instance without a home (``dagster dev`` run without
DAGSTER_HOME makes a temporary one), in a temporary folder removed with the instance.
"""

import os
import shutil
import tempfile
import threading
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager

import dagster as dg
import dagster._check as check
from dagster._core.events import ASSET_EVENTS
from dagster._core.events.log import EventLogEntry
from dagster._core.storage.event_log.sqlite.sqlite_event_log import (
    INDEX_SHARD_NAME, SQLITE_BUSY_TIMEOUT_SECONDS, SqliteEventLogStorage,
)
from dagster._core.storage.event_log.schema import SqlEventLogStorageTable as SqlEventLogsTable
from dagster._core.storage.sqlalchemy_compat import db_result
from dagster._serdes import ConfigurableClassData
from sqlalchemy import Engine, create_engine

# Engines kept open at once: the index and the runs being written or read; a process that reads
# more runs than that (the webserver paging through old ones) closes the least recently used.
KEPT_ENGINES = 8

# Dagster hands a storage the events of one partitioned materialization (one per partition of the
# run) together, through ``store_event_batch``, only where this variable is a positive number: the
# most it holds back before writing. Dagster's own SQLite storage writes a batch event by event, so
# it is off by default; this storage writes a batch in one transaction per file, and turns it on
# for the processes of its instance (``__init__``) unless the environment already sets it.
EVENT_BATCH_SIZE_ENV = "DAGSTER_EVENT_BATCH_SIZE"
EVENT_BATCH_SIZE = 1000


class PooledSqliteEventLogStorage(SqliteEventLogStorage):
    """``SqliteEventLogStorage`` that reuses one engine (and its pooled connections) per database
    file for the few files in use, instead of building and disposing of an engine per statement
    block."""

    def __init__(self, base_dir: str | None = None, inst_data: ConfigurableClassData | None = None):
        self._engines: OrderedDict[str, Engine] = OrderedDict()
        self._engines_lock = threading.Lock()
        home = os.environ.get("DAGSTER_HOME")
        self._temporary = None if base_dir or home else tempfile.mkdtemp(prefix="pulse-dagster-events-")
        base = base_dir or self._temporary or os.path.join(os.path.abspath(os.path.expanduser(home)), "history", "runs")
        super().__init__(base, inst_data=inst_data)
        os.environ.setdefault(EVENT_BATCH_SIZE_ENV, str(EVENT_BATCH_SIZE))

    @classmethod
    def config_type(cls):
        return {"base_dir": dg.Field(dg.StringSource, is_required=False)}

    @classmethod
    def from_config_value(cls, inst_data: ConfigurableClassData | None, config_value) -> "PooledSqliteEventLogStorage":
        return cls(base_dir=config_value.get("base_dir"), inst_data=inst_data)

    def _engine(self, shard: str) -> Engine:
        """The shard's engine, built on first use; the least recently used is closed beyond
        KEPT_ENGINES. Its pool keeps the file's connection open between events."""
        with self._engines_lock:
            engine = self._engines.get(shard)
            if engine is None:
                engine = self._engines[shard] = create_engine(
                    self.conn_string_for_shard(shard),
                    connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS, "check_same_thread": False})
            self._engines.move_to_end(shard)
            while len(self._engines) > KEPT_ENGINES:
                _, evicted = self._engines.popitem(last=False)
                evicted.dispose()
            return engine

    @contextmanager
    def _connect(self, shard: str) -> Iterator:
        with self._db_lock:
            check.str_param(shard, "shard")
            engine = self._engine(shard)
            if shard not in self._initialized_dbs:
                self._initdb(engine)
                self._initialized_dbs.add(shard)
            with engine.connect() as conn:
                with conn.begin():
                    yield conn
                if shard != INDEX_SHARD_NAME:
                    # into the run's .db file now, as Dagster's last close did: its watchers see it
                    conn.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)")

    def store_event_batch(self, events: list[EventLogEntry]) -> None:
        """A partitioned materialization's events (one per partition; also a run's planned
        materializations, which Dagster batches when the run is created), as ``store_event``
        writes each, in one transaction in the run's file and one in the index: a night's raw
        tables on every project's partition are 352 events at 32 projects, which event by event
        were two commits each. Anything else (other events, several runs) goes event by event. The
        run's file and the index are two files, committed apart: if the index fails, the rows just
        written to the run's file are deleted before the error goes on, because Dagster then stores
        the batch again event by event (a run's log would otherwise show each event twice)."""
        runs = {event.run_id for event in events}
        if len(runs) != 1 or not all(e.is_dagster_event and e.dagster_event_type in ASSET_EVENTS for e in events):
            super().store_event_batch(events)  # event by event
            return
        run_id = runs.pop()
        statements = [self.prepare_insert_event(event) for event in events]
        with self.run_connection(run_id) as conn:
            written = _inserted(conn, statements)
        try:
            with self.index_transaction() as conn:
                ids = _inserted(conn, statements)
                if any(i is None for i in ids):
                    raise dg.DagsterInvariantViolationError("Cannot store asset event tags for null event id.")
                self._store_asset_event_tags(conn, events, ids)
                for event, event_id in _last_of_each_kind(events, ids):
                    self._store_asset_event(conn, event, event_id)
        except BaseException:
            with self.run_connection(run_id) as conn:
                conn.execute(SqlEventLogsTable.delete().where(SqlEventLogsTable.c.id.in_(written)))
            raise

    def has_table(self, table_name: str) -> bool:
        # Not under _db_lock: Dagster asks while it holds it, inside an index transaction. The
        # pool hands this a second connection.
        engine = self._engine(INDEX_SHARD_NAME)
        with engine.connect() as conn:
            return bool(engine.dialect.has_table(conn, table_name))

    def _close_engines(self) -> None:
        with self._engines_lock:
            for engine in self._engines.values():
                engine.dispose()
            self._engines.clear()

    def wipe(self) -> None:
        """Dagster's wipe deletes the run files: no connection of ours may stay open on them."""
        with self._db_lock:
            self._close_engines()
        super().wipe()

    def dispose(self) -> None:
        super().dispose()
        self._close_engines()
        if self._temporary:
            shutil.rmtree(self._temporary, ignore_errors=True)


def _last_of_each_kind(events: list[EventLogEntry], ids: list) -> list[tuple[EventLogEntry, int]]:
    """The events whose asset key row (``asset_keys``: the last materialization, run and event
    time) ``_store_asset_event`` must write for the batch to leave it as event by event would: the
    last of each asset key and event type, in batch order. An event of one type sets the same
    columns as every other of that type, so the last of a type leaves what all of them would, and
    the order keeps which type's values come last. A night's 32 partitions of a raw table made 32
    serialized records and 32 insert-or-update statements on one row; now one."""
    last: dict[tuple, int] = {}
    for position, event in enumerate(events):
        last[(event.dagster_event.asset_key, event.dagster_event_type)] = position
    return [(events[i], ids[i]) for i in sorted(last.values())]


def _inserted(conn, statements: list) -> list:
    """Run each INSERT on ``conn``; the ids of the rows they wrote, in order."""
    ids = []
    for statement in statements:
        with db_result(conn, statement) as result:
            ids.append(result.inserted_primary_key[0])
    return ids
