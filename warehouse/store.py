"""The DuckDB warehouse: connections, migrations, raw landing and the published snapshot.

DuckDB lets one process hold a file for writing and then refuses every other process, readers
included. So the pipeline never writes the file that analysts and BI tools read: it works in a
private *work* database (``.pulse/work.duckdb`` beside the published one) and, when a run has
built everything, publishes a copy with an atomic rename. Readers keep the snapshot they opened;
the next ``connect(read_only=True)`` sees the new one. A failed run publishes nothing, so the last
good snapshot stays in place.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from importlib import resources
from pathlib import Path
from typing import Any

import duckdb
import orjson


@dataclass(frozen=True)
class WarehousePaths:
    """The published file analysts read, and the work file the pipeline writes."""

    published: Path

    @property
    def work(self) -> Path:
        return self.published.parent / ".pulse" / "work.duckdb"

    @property
    def run_lock(self) -> Path:
        """Held for a whole sync (pipelines.cli): one sync at a time per warehouse."""
        return self.work.parent / "sync.lock"


def file_lock(database: Path) -> Path:
    """The lock file every connection to ``database`` holds (see warehouse/locks.py)."""
    return database.with_name(database.name + ".lock")


# The on-disk format a new warehouse file is written in. DuckDB 2.0's own format is unreadable by
# every DuckDB 1.x, and the BI tools embed one (Evidence and Metabase's driver: 1.5; Superset's
# duckdb-engine: whatever 1.x pip gives, 1.5 today): the 1.4 format opens in DuckDB 1.4 and later,
# and builds as fast as 2.0's (at 100k items a full build took 15.9 s in it, 16.3 s in 2.0's,
# 18.0 s in 1.2's; the 1.0 format makes the demo's file 39 MB instead of 25). A file keeps the
# format it was created in.
STORAGE_VERSION = "v1.4.0"


# What a WAL left by a killed writer is replayed with when the caller's limit cannot hold it:
# the Writer checkpoints at 64MB of WAL (at 256MB until 2026-12-05, whose replay was measured at up
# to 472 MB).
RECOVERY_MEMORY_LIMIT = "2GB"


@contextmanager
def connect(path: Path, *, memory_limit: str = "2GB", threads: int = 2, read_only: bool = False,
            storage_version: str = STORAGE_VERSION) -> Iterator[duckdb.DuckDBPyConnection]:
    """A connection with the settings every pipeline step needs (UTC, bounded memory)."""
    path.parent.mkdir(parents=True, exist_ok=True)

    def open_with(limit: str) -> duckdb.DuckDBPyConnection:
        return duckdb.connect(str(path), read_only=read_only, config={
            "memory_limit": limit,
            "threads": threads,
            # Row order is never relied on; without this DuckDB buffers far more memory on big inserts.
            "preserve_insertion_order": False,
            **({} if read_only else {"storage_compatibility_version": storage_version}),
        })

    try:
        con = open_with(memory_limit)
    except duckdb.Error as exc:
        if "replaying WAL" not in str(exc):
            raise
        # A killed writer left a WAL, which DuckDB replays on open with the indexes it grows held
        # in memory: a sync's small limit may not hold them (a 156 MiB WAL of 2M changelog rows
        # needs about 230 MB, more than 128MB). Replayed once at the recovery limit, the WAL is
        # checkpointed into the file, and the caller's limit opens it.
        open_with(RECOVERY_MEMORY_LIMIT).close()
        con = open_with(memory_limit)
    try:
        con.execute("SET TimeZone = 'UTC'")  # after connect: the setting needs the ICU extension loaded
        yield con
    finally:
        con.close()


def migrate(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Apply the numbered ``warehouse/sql/*.sql`` files not yet applied; returns what ran.

    A file that is already current is only read: every step of a run connects through here, and
    a connection that writes nothing leaves nothing to checkpoint when it closes."""
    files = sorted(p for p in resources.files("warehouse").joinpath("sql").iterdir() if p.name.endswith(".sql"))
    tracked = con.execute("""
        SELECT count(*) FROM duckdb_tables()
        WHERE database_name = current_database() AND schema_name = 'meta' AND table_name = 'schema_migrations'
        """).fetchone()[0]
    done = {r[0] for r in con.execute("SELECT name FROM meta.schema_migrations").fetchall()} if tracked else set()
    pending = [m for m in files if m.name not in done]
    if tracked and not pending:
        return []
    # Every pending file in one transaction: an upgrade lands whole or not at all, and a fresh
    # file commits once (0.15 s, against 0.4-0.6 s with a commit a file: a test suite makes
    # hundreds of warehouses).
    con.execute("BEGIN")
    try:
        con.execute("CREATE SCHEMA IF NOT EXISTS meta")
        con.execute("""
            CREATE TABLE IF NOT EXISTS meta.schema_migrations (
                name VARCHAR PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL)""")
        for target, text in (
            ("TABLE meta.schema_migrations", "Warehouse migrations applied to this file, by file name (warehouse/sql)."),
            ("COLUMN meta.schema_migrations.name", "Migration file name, e.g. 001_raw_and_meta.sql."),
            ("COLUMN meta.schema_migrations.applied_at", "When it was applied (UTC)."),
        ):
            con.execute(f"COMMENT ON {target} IS '{text}'")
        for migration in pending:
            con.execute(migration.read_text(encoding="utf-8"))
            con.execute("INSERT INTO meta.schema_migrations VALUES (?, ?)",
                        [migration.name, datetime.now(timezone.utc)])
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise
    return [migration.name for migration in pending]


class JsonText(str):
    """A value already serialised as JSON text (``json_text``): ``upsert`` writes it as it is."""

    __slots__ = ()


def json_text(value: Any) -> JsonText | None:
    """``value`` as the JSON text a raw table's JSON column holds (orjson: the text the standard
    library writes, compact and unescaped, ten times faster); None stays NULL."""
    if value is None or isinstance(value, JsonText):
        return value
    return JsonText(orjson.dumps(value).decode())


def upsert(con: duckdb.DuckDBPyConnection, table: str, rows: Sequence[dict[str, Any]],
           json_columns: Sequence[str] = ("payload",), *, transaction: bool = True, opens: bool = False,
           new_first: bool = True) -> int:
    """Merge rows into a raw table by its primary key (a rerun writes no duplicate).

    A row whose ``payload`` is what the table holds already (an overlap re-read, a version that did
    not change) is not written again: only its ``sync_id`` moves to this sync (a full sync forgets
    rows of older syncs). So ``synced_at`` says when a row's content last changed, and the
    transforms, which look for rows landed since they last ran, parse nothing that did not change.
    Rows of the same key in one call (a batch of pages: ``warehouse.writer``) keep the last.
    ``transaction=False``: the caller holds a transaction (DuckDB aborts one on a second BEGIN);
    with ``opens=True`` too, this call's first statement opens it, and the caller commits it. Such
    a caller handles ``KeysHeld`` by rolling back and running its transaction again, with
    ``new_first=False`` for that table (``KeysHeld.table``): then it merges whatever other
    callers' pages taught the table's flag meanwhile (the writer's two lanes share it).
    BEGIN travels with the first statement rather than alone: on the writer's thread every
    statement waits for Python's lock behind the fetching threads (2-3 ms a statement measured
    at 10k items, against 0.1 ms for BEGIN itself).

    Set-based: each column goes to DuckDB as one list parameter and is unnested there, so a page
    costs a handful of statements, not a DataFrame. ``table`` is one of our own ``raw.*`` names,
    never tracker text. JSON columns are serialised once (``json_text``, here or where the rows
    were queued); DuckDB parses them once on insert.
    """
    if not rows:
        return 0
    columns = list(rows[0])
    types = _column_types(con, table)
    lists = [[json_text(row.get(c)) for row in rows]
             if c in json_columns else [row.get(c) for row in rows] for c in columns]
    key = _primary_key(con, table)
    cast = ", ".join(f"CAST(unnest(?) AS {types[c]}) AS {c}" for c in columns)
    hashed = "payload_hash" in types and "payload" in columns

    def select(extra: str = "") -> str:
        """The rows as a SELECT, with their payload's hash where the table keeps one."""
        rows_sql = f"SELECT {cast}{extra}"
        return f"SELECT *, hash(payload) AS payload_hash FROM ({rows_sql})" if hashed else rows_sql

    unique = len(set(zip(*(lists[columns.index(c)] for c in key)))) == len(rows)
    merge = "payload" in columns and "sync_id" in columns
    begin = "BEGIN; " if transaction or opens else ""  # carried by this call's first statement
    try:
        added = 0
        if merge and unique and new_first and _NEW_LAST_TIME.get(table, True):
            # What is new goes straight in: most pages of a first sync, in one statement. Tried
            # while the table's last page was all new. A plain INSERT, which the primary key's
            # index refuses if it holds a key: ON CONFLICT DO NOTHING took 2.4 times as long
            # (9.7 against 4.0 ms for 250 events of 1.6 KB).
            try:
                con.execute(f"{begin}INSERT INTO {table} BY NAME {select()}", lists)
                added, begin = len(rows), ""
            except duckdb.ConstraintException as exc:
                if "duplicate key" not in str(exc).lower():  # "duplicate key" against this transaction's rows
                    raise
                _NEW_LAST_TIME[table] = False  # DuckDB aborted the transaction: merge, in a new one
                if not transaction:
                    raise KeysHeld(table) from exc
                rollback(con)
                return upsert(con, table, rows, json_columns)
        held = _merge_held(con, table, key, select, lists, unique, merge, hashed, begin) if added < len(rows) else 0
        if merge:
            _NEW_LAST_TIME[table] = held == 0
        if transaction:
            con.execute("COMMIT")
    except Exception:
        if transaction:
            rollback(con)
        raise
    return len(rows)


class KeysHeld(Exception):
    """``upsert``'s all-new way met a key the table holds, in the caller's transaction, which
    DuckDB has aborted: roll it back and run it again, ``table`` merging."""

    def __init__(self, table: str) -> None:
        super().__init__(table)
        self.table = table


def rollback(con: duckdb.DuckDBPyConnection) -> None:
    """ROLLBACK, where a transaction is open: a statement that carried BEGIN may have failed
    before it ran (a KeyError building the statement's rows, for one)."""
    try:
        con.execute("ROLLBACK")
    except duckdb.TransactionException as exc:
        if "no transaction is active" not in str(exc):
            raise


def _merge_held(con: duckdb.DuckDBPyConnection, table: str, key: tuple[str, ...], select: Callable[..., str],
                lists: list[list[Any]], unique: bool, merge: bool, hashed: bool, begin: str) -> int:
    """The part of ``upsert`` for rows whose key the table holds (or may hold); returns how many
    the table held (unchanged or changed). ``begin``: upsert's BEGIN, if it has not run yet."""
    if unique:
        con.execute(f"{begin}CREATE OR REPLACE TEMP TABLE _incoming AS {select()}", lists)
    else:  # the same key twice (a batch of pages): the last one stands
        con.execute(f"""{begin}CREATE OR REPLACE TEMP TABLE _incoming AS
                        SELECT * EXCLUDE (_seq) FROM ({select(", unnest(?) AS _seq")})
                        QUALIFY row_number() OVER (PARTITION BY {", ".join(key)} ORDER BY _seq DESC) = 1""",
                    [*lists, list(range(len(lists[0])))])
    match = " AND ".join(f"t.{c} = i.{c}" for c in key)
    if merge:
        # Unchanged: the same hash (8 bytes a row to read, where the payloads are megabytes).
        same = "t.payload_hash = i.payload_hash" if hashed else "t.payload = i.payload"
        # Held rows whose payload is unchanged (and any just added) only move to this sync.
        unchanged = con.execute(f"UPDATE {table} t SET sync_id = i.sync_id FROM _incoming i "
                                f"WHERE {match} AND {same}").fetchall()[0][0]
        # A changed row is deleted and appended, not updated in place: rows landed together then
        # sit together at the table's end, so a transform that reads the rows landed since it
        # last ran skips every older row group (DuckDB's zone maps on synced_at).
        con.execute(f"DELETE FROM _incoming i WHERE EXISTS (SELECT 1 FROM {table} t WHERE {match} AND {same})")
        changed = con.execute(f"DELETE FROM {table} t WHERE EXISTS (SELECT 1 FROM _incoming i "
                              f"WHERE {match})").fetchall()[0][0]
        con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM _incoming")
    else:
        unchanged, changed = 0, 0
        con.execute(f"INSERT OR REPLACE INTO {table} BY NAME SELECT * FROM _incoming")
    con.execute("DROP TABLE _incoming")
    return unchanged + changed


# Per raw table: whether its last page was all new (then the next one tries the one-statement way).
_NEW_LAST_TIME: dict[str, bool] = {}
_PRIMARY_KEYS: dict[str, tuple[str, ...]] = {}
_COLUMN_TYPES: dict[str, dict[str, str]] = {}


def _column_types(con: duckdb.DuckDBPyConnection, table: str) -> dict[str, str]:
    """A raw table's column types, from the catalog (migrations own them)."""
    if table not in _COLUMN_TYPES:
        schema, name = table.split(".")
        _COLUMN_TYPES[table] = dict(con.execute(
            "SELECT column_name, data_type FROM duckdb_columns() WHERE database_name = current_database() "
            "AND schema_name = ? AND table_name = ?", [schema, name]).fetchall())
        if not _COLUMN_TYPES[table]:
            raise ValueError(f"{table} is no table of this warehouse")
    return _COLUMN_TYPES[table]


def _primary_key(con: duckdb.DuckDBPyConnection, table: str) -> tuple[str, ...]:
    """A raw table's primary key columns, from the catalog (migrations own them)."""
    if table not in _PRIMARY_KEYS:
        schema, name = table.split(".")
        rows = con.execute("""SELECT constraint_column_names FROM duckdb_constraints()
                              WHERE schema_name = ? AND table_name = ? AND constraint_type = 'PRIMARY KEY'""",
                           [schema, name]).fetchall()
        if not rows:
            raise ValueError(f"{table} has no primary key to merge by")
        _PRIMARY_KEYS[table] = tuple(rows[0][0])
    return _PRIMARY_KEYS[table]


def publish(paths: WarehousePaths) -> Path:
    """Copy the closed work file to the published path atomically (rename in the same folder).

    The copy is named after this process (``.pulse.duckdb.<pid>.<uuid>.tmp``), so that a run
    killed while copying leaves a file the next run can tell is nobody's (``remove_stale_temp_files``)."""
    paths.published.parent.mkdir(parents=True, exist_ok=True)
    tmp = paths.published.with_name(f".{paths.published.name}.{os.getpid()}.{uuid.uuid4().hex}.tmp")
    try:
        shutil.copyfile(paths.work, tmp)
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, paths.published)
    finally:
        tmp.unlink(missing_ok=True)
    return paths.published


def remove_stale_temp_files(paths: WarehousePaths, older_than: timedelta = timedelta(hours=1)) -> list[Path]:
    """Remove copies that killed publishes left beside the published file: those whose process
    is gone, and unnamed ones (older releases') untouched for ``older_than``. Returns them."""
    removed = []
    for tmp in paths.published.parent.glob(f".{paths.published.name}.*.tmp"):
        middle = tmp.name[len(paths.published.name) + 2:-len(".tmp")].split(".")
        if len(middle) == 2 and middle[0].isdigit():
            stale = not _alive(int(middle[0]))
        else:
            try:
                stale = datetime.now(timezone.utc).timestamp() - tmp.stat().st_mtime > older_than.total_seconds()
            except FileNotFoundError:
                continue
        if stale:
            tmp.unlink(missing_ok=True)
            removed.append(tmp)
    return removed


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's live process
        return True
    return True
