"""Dagster's SQLite event log, with its database engines kept between events.

Dagster's ``SqliteEventLogStorage`` builds a new SQLAlchemy engine for every event it stores, and
for the cross-run index again (a partitioned materialization is written to both). A nightly sync
materializes each raw table on each project's partition: 11 tables × 32 projects of the bench
portfolio make 352 such events, and building engines for them took 3-4 s of a 21 s sync (py-spy:
``create_engine``, the first connect of each engine and its ``dispose``). This storage keeps the
engines of the few databases in use (the index and the latest runs'), so each event costs only the
statements and the commit. The files, their schema and their migrations are Dagster's own:
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
from dagster._core.storage.event_log.sqlite.sqlite_event_log import (
    INDEX_SHARD_NAME, SQLITE_BUSY_TIMEOUT_SECONDS, SqliteEventLogStorage,
)
from dagster._serdes import ConfigurableClassData
from sqlalchemy import Engine, create_engine

# Engines kept open at once: the index and the runs being written or read; a process that reads
# more runs than that (the webserver paging through old ones) closes the least recently used.
KEPT_ENGINES = 8


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
