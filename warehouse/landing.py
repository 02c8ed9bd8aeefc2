"""Landing: a sync's writes as files on a shared store, so that many processes can fetch at once
while one writes the warehouse.

DuckDB admits one writing process per file, and no reader at all while it is written. A sync
fetched by several processes (Dagster's multiprocess executor, or docker, k8s and celery, whose
steps share no disk) therefore cannot let each one write. Instead:

1. ``export_state`` copies what the fetching code reads (cursors, ETags, the ids and update times
   of held issues, held changelog rows, held GitHub issues' states) into a small DuckDB file on the
   store, once, before the shards start: the warehouse's state as the night began.
2. Each shard (a share of the night's projects) reads that copy, read-only, and records every
   write it would have made, in order, in a ``Journal`` on the store. A ``Journal`` has the
   ``Writer``'s interface, so the ingest code is the same code either way.
3. One step then replays the journals through the one ``warehouse.writer.Writer``: the same
   writes in the same order per project, so the warehouse ends as a single-process sync leaves it.

The store is a folder (the default, beside the warehouse) or any fsspec URL: ``s3://bucket/prefix``
for S3 or an S3-compatible server, whose endpoint and keys come from the environment
(``AWS_ENDPOINT_URL``, ``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``), never from program.yaml.

A journal is a stream of pickles: rows as the connectors parsed them and the queued operations as
module functions with their arguments (``functools.partial``), which JSON cannot carry. Like
Dagster's own pickling IO managers, it trusts its store: a store others can write is a store that
can run code in the merge step.
"""

from __future__ import annotations

import pickle
import tempfile
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, TypeVar

import duckdb
import fsspec

from warehouse.store import connect
from warehouse.writer import Land

T = TypeVar("T")

FORMAT = 1
STATE = "state.duckdb"

# What the fetching code reads from the warehouse (pipelines.ingest: read_cursor, _etag,
# _changed_issues, _incomplete_changelogs, _open_count_disagrees), with the columns it reads. The
# issues' payloads stay behind: a GitHub issue's state is a column of its own.
_STATE_TABLES = {
    "meta.sync_cursors": "SELECT * FROM meta.sync_cursors",
    "meta.http_etags": "SELECT * FROM meta.http_etags",
    "raw.jira_issues": "SELECT site, project_key, issue_id, updated_at FROM raw.jira_issues",
    "raw.jira_changelogs": "SELECT site, issue_id FROM raw.jira_changelogs",
    "raw.github_issues": "SELECT site, repo, number, issue_id, state FROM raw.github_issues",
}


@dataclass(frozen=True)
class Call:
    """An operation on the warehouse (``Writer.run``/``Writer.call``)."""

    fn: Callable[[duckdb.DuckDBPyConnection], Any]
    project: str | None
    order: str | None = None  # Writer.run's order


@dataclass(frozen=True)
class End:
    """A journal's last record: the shard finished, with what its fetching code returned."""

    results: Any


@dataclass(frozen=True)
class LandingStore:
    """Where a run's state copy and journals live: ``<url>/<run id>/``."""

    url: str

    def _fs(self) -> tuple[fsspec.AbstractFileSystem, str]:
        return fsspec.core.url_to_fs(self.url)

    def _path(self, run_id: str, name: str = "") -> str:
        fs, root = self._fs()
        return f"{root.rstrip('/')}/{run_id}" + (f"/{name}" if name else "")

    @property
    def is_local(self) -> bool:
        return "file" in _protocols(self._fs()[0])

    def export_state(self, con: duckdb.DuckDBPyConnection, run_id: str) -> int:
        """Copy what the shards read into ``<run>/state.duckdb``; returns the rows copied."""
        fs, _ = self._fs()
        with tempfile.TemporaryDirectory(prefix="pulse-state-") as tmp:
            local = Path(tmp) / STATE
            con.execute("ATTACH ? AS landing_state", [str(local)])
            try:
                rows = 0
                for schema in ("meta", "raw"):
                    con.execute(f"CREATE SCHEMA landing_state.{schema}")
                for table, select in _STATE_TABLES.items():
                    con.execute(f"CREATE TABLE landing_state.{table} AS {select}")
                    rows += con.execute(f"SELECT count(*) FROM landing_state.{table}").fetchall()[0][0]
            finally:
                con.execute("DETACH landing_state")
            fs.makedirs(self._path(run_id), exist_ok=True)
            fs.put_file(str(local), self._path(run_id, STATE))
        return rows

    @contextmanager
    def state(self, run_id: str) -> Iterator[duckdb.DuckDBPyConnection]:
        """The run's state copy, read-only (fetched to a temporary file from a remote store)."""
        fs, _ = self._fs()
        remote = self._path(run_id, STATE)
        if not fs.exists(remote):
            raise FileNotFoundError(f"{self.url}: no state copy for run {run_id}; the plan step writes it first")
        if self.is_local:
            with connect(Path(remote), read_only=True, threads=1, memory_limit="256MB") as con:
                yield con
            return
        with tempfile.TemporaryDirectory(prefix="pulse-state-") as tmp:
            local = Path(tmp) / STATE
            fs.get_file(remote, str(local))
            with connect(local, read_only=True, threads=1, memory_limit="256MB") as con:
                yield con

    def journal(self, run_id: str, shard: int) -> Journal:
        fs, _ = self._fs()
        fs.makedirs(self._path(run_id), exist_ok=True)
        return Journal(fs.open(self._path(run_id, f"shard-{shard:04d}.journal"), "wb"))

    def journals(self, run_id: str) -> list[str]:
        """The run's journal paths, in shard order."""
        fs, _ = self._fs()
        return sorted(p for p in fs.glob(self._path(run_id, "shard-*.journal")))

    def records(self, path: str) -> Iterator[Land | Call | End]:
        """A journal's records in the order they were written, one at a time (bounded memory).
        A journal without its ``End`` (the shard's process died) is refused at its end."""
        fs, _ = self._fs()
        with fs.open(path, "rb") as f:
            header = pickle.load(f)
            if header != ("pulse-journal", FORMAT):
                raise ValueError(f"{path}: not a Program Pulse landing journal of format {FORMAT}")
            while True:
                try:
                    record = pickle.load(f)
                except EOFError:
                    raise ValueError(f"{path}: the journal ends before its shard finished (its process "
                                     "stopped); run the shard again") from None
                yield record
                if isinstance(record, End):
                    return

    def clear(self, run_id: str) -> None:
        """Remove the run's files (after a merge has committed them)."""
        fs, _ = self._fs()
        if fs.exists(self._path(run_id)):
            fs.rm(self._path(run_id), recursive=True)


class Journal:
    """A ``Writer`` that records instead of writing: each ``land``/``run``/``call`` is appended to
    the journal, in the order the fetching threads made them. ``call`` returns None: nothing is
    written until the merge, so the fetching code asks nothing of the writer that it must answer."""

    def __init__(self, file: BinaryIO) -> None:
        self._file = file
        self._lock = threading.Lock()
        self._closed = False
        self._dump(("pulse-journal", FORMAT))

    def _dump(self, record: Any) -> None:
        data = pickle.dumps(record, protocol=pickle.HIGHEST_PROTOCOL)  # outside the lock: threads pickle at once
        with self._lock:
            if self._closed:
                raise RuntimeError("the landing journal is closed")
            self._file.write(data)

    def land(self, table: str, rows: Sequence[dict[str, Any]], *, project: str | None,
             json_columns: Sequence[str] = ("payload",),
             before: Callable[[duckdb.DuckDBPyConnection], None] | None = None) -> int:
        if rows or before is not None:
            self._dump(Land.of(table, rows, json_columns, project, before))
        return len(rows)

    def run(self, fn: Callable[[duckdb.DuckDBPyConnection], T], *, project: str | None = None,
            order: str | None = None) -> Future:
        self._dump(Call(fn, project, order))
        done: Future = Future()
        done.set_result(None)
        return done

    def call(self, fn: Callable[[duckdb.DuckDBPyConnection], T], *, project: str | None = None,
             order: str | None = None) -> None:
        self.run(fn, project=project, order=order)

    def finish(self, results: Any) -> None:
        """The shard's last record, then the file is closed (uploaded, on an object store)."""
        self._dump(End(results))
        self.close()

    def close(self) -> None:
        with self._lock:
            if not self._closed:
                self._closed = True
                self._file.close()

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def deal(keys: Sequence[str], shards: int) -> list[tuple[str, ...]]:
    """The keys dealt round-robin into at most ``shards`` shares, none empty: neighbours in
    program.yaml (often one site's projects, one team's repos) go to different shards, so each
    shard's requests spread over the sites and no site's limits are spent by one shard alone."""
    count = max(1, min(shards, len(keys)))
    return [tuple(keys[i::count]) for i in range(count)]


def _protocols(fs: fsspec.AbstractFileSystem) -> tuple[str, ...]:
    protocol = fs.protocol
    return (protocol,) if isinstance(protocol, str) else tuple(protocol)
