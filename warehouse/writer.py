"""The one thread that writes a sync's pages into the work database, fed through a bounded queue.

Fetching is waiting on the network; landing is DuckDB work. Done in the fetching thread, every
page's landing held the next request back (a sync spent a third of its time with no request in
flight). So the threads that fetch only read the warehouse (each through its own cursor) and hand
every write to a ``Writer``: pages are queued (``land``) and the fetching thread asks for its next
page at once; other writes (a cursor, a deletion check) are queued as calls (``run``, ``call``)
that keep their order behind the pages queued before them. One writer also means no two
transactions of a sync ever touch the same rows.

- **Bounded memory**: a page is queued as JSON text (``Land.of`` serialises it in the fetching
  thread, which then drops the parsed page), and the queue holds at most ``queue_bytes`` of that
  text and ``queue_pages`` operations; a fetching thread that finds it full waits
  (back-pressure), so the ingest's memory is the queue and the pages in flight, whatever the
  portfolio's size. Bounded in pages alone, a queue of large pages (100 Jira issues with their
  changelogs, parsed) held several hundred MB.
- **Batches**: the pages waiting when the writer comes round are merged per table, up to
  ``batch_rows`` rows and ``batch_bytes`` of JSON text, into one set-based ``upsert`` and one
  commit (a commit writes the WAL).
- **Order**: operations run in the order they were queued. A page's ``before`` step (the
  tombstones of moved issues) runs just before its rows are written. A project's cursor, queued
  after its pages, is written only once they are committed.
- **Failures are the project's**: an operation that fails marks its project failed; the
  project's later operations are skipped with the same error, which the project's next ``call``
  raises (a sync waits on its cursor write, so it learns of it and records the project failed).
  A page of one project never stops another project's.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, TypeVar

import duckdb

from warehouse.store import KeysHeld, json_text, rollback, upsert

log = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass(frozen=True)
class Land:
    """Rows for ``warehouse.store.upsert`` into ``table``, after ``before`` (both a project's);
    ``size`` is the bytes of JSON text they hold (what the writer's queue is bounded by)."""

    table: str
    rows: Sequence[dict[str, Any]]
    json_columns: tuple[str, ...]
    project: str | None
    before: Callable[[duckdb.DuckDBPyConnection], None] | None = None
    size: int = 0

    @classmethod
    def of(cls, table: str, rows: Sequence[dict[str, Any]], json_columns: Sequence[str], project: str | None,
           before: Callable[[duckdb.DuckDBPyConnection], None] | None = None) -> Land:
        """The rows with their JSON columns as text: serialised once, here, so what waits in a
        queue or a journal is compact text, not the parsed page."""
        columns = tuple(json_columns)
        texts = [{**row, **{c: json_text(row.get(c)) for c in columns if c in row}} for row in rows]
        size = sum(len(t) for row in texts for c in columns if (t := row.get(c)) is not None)
        return cls(table, texts, columns, project, before, size)


@dataclass(frozen=True)
class _Call:
    fn: Callable[[duckdb.DuckDBPyConnection], Any]
    project: str | None
    future: Future = field(default_factory=Future)


_STOP = object()


class Writer:
    """Writes a sync's pages and state through one cursor of ``con``, in one thread, in order."""

    def __init__(self, con: duckdb.DuckDBPyConnection, *, queue_pages: int = 32, queue_bytes: int = 32 << 20,
                 batch_rows: int = 5000, batch_bytes: int = 2 << 20) -> None:
        self._cur = con.cursor()
        # DuckDB checkpoints when the WAL passes 16 MB, inside whichever commit passes it: a sync
        # lands hundreds of MB, so that was a checkpoint every few pages. Fewer, larger ones.
        self._cur.execute("SET checkpoint_threshold = '256MB'")
        self._queued: deque[Any] = deque()  # operations not yet taken by the writer thread
        self._queue_pages = queue_pages
        self._queue_bytes = queue_bytes
        self._queued_bytes = 0  # JSON text queued or in the batch being written
        self._room = threading.Condition()  # guards both; notified when either changes
        self._batch_rows = batch_rows
        self._batch_bytes = batch_bytes
        self._failed: dict[str, BaseException] = {}
        self._broken: BaseException | None = None
        self._thread = threading.Thread(target=self._loop, name="pulse-writer", daemon=True)
        self._thread.start()

    # -- what fetching threads call ----------------------------------------------------------------
    def land(self, table: str, rows: Sequence[dict[str, Any]], *, project: str | None,
             json_columns: Sequence[str] = ("payload",),
             before: Callable[[duckdb.DuckDBPyConnection], None] | None = None) -> int:
        """Queue rows for ``warehouse.store.upsert`` into ``table``; returns how many."""
        if rows or before is not None:
            self.put(Land.of(table, rows, json_columns, project, before))
        return len(rows)

    def put(self, land: Land) -> None:
        """Queue rows already serialised (a scaled-out sync's journal holds them so)."""
        self._put(land)

    def run(self, fn: Callable[[duckdb.DuckDBPyConnection], T], *, project: str | None = None) -> Future:
        """Queue ``fn(cursor)`` behind what is queued; its future holds the result or the error."""
        op = _Call(fn, project)
        self._put(op)
        return op.future

    def call(self, fn: Callable[[duckdb.DuckDBPyConnection], T], *, project: str | None = None) -> T:
        """``run`` and wait: also how a project learns that one of its queued pages failed."""
        return self.run(fn, project=project).result()

    def has_room(self) -> bool:
        """Whether the queue's bytes are under their budget: a fetching thread asks for a page only
        then (``connectors.pacing.Lanes.admitting``), so that it seldom holds one the queue cannot
        take. Bytes, not operations: a queue full of small calls and pages holds little memory,
        and the operations' budget still holds each thread back as it queues."""
        self._check_alive()
        return self._queued_bytes < self._queue_bytes

    def wait_for_room(self) -> None:
        """Return once ``has_room`` (raises if the writer stopped)."""
        with self._room:
            while not self.has_room():
                self._room.wait(timeout=1)

    def failures(self) -> dict[str, BaseException]:
        """The projects whose writes failed, with the first error of each (complete once closed)."""
        return dict(self._failed)

    def close(self) -> None:
        """Write what is queued, then stop the thread."""
        if self._thread.is_alive():
            with self._room:  # never waits for room: the writer needs it to drain the queue
                self._queued.append(_STOP)
                self._room.notify_all()
            self._thread.join()
        self._cur.close()

    def __enter__(self) -> Writer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _put(self, op: Any) -> None:
        """Queue ``op`` once there is room: fewer than ``queue_pages`` operations queued and its JSON
        text within ``queue_bytes`` of what is queued or being written. A page larger than the
        whole budget still goes, alone."""
        size = op.size if isinstance(op, Land) else 0
        with self._room:
            while (len(self._queued) >= self._queue_pages
                   or (self._queued_bytes and self._queued_bytes + size > self._queue_bytes)):
                self._check_alive()
                self._room.wait(timeout=1)
            self._check_alive()
            self._queued.append(op)
            self._queued_bytes += size
            self._room.notify_all()

    def _check_alive(self) -> None:
        if self._broken is not None or not self._thread.is_alive():
            raise RuntimeError(f"the warehouse writer stopped: {self._broken!r}")

    def _written(self, batch: list[Land]) -> None:
        """Give the queue's budget back for a batch written (or skipped)."""
        with self._room:
            self._queued_bytes -= sum(op.size for op in batch)
            self._room.notify_all()

    # -- the writer thread ------------------------------------------------------------------------
    def _next(self) -> Any:
        with self._room:
            while not self._queued:
                self._room.wait()
            op = self._queued.popleft()
            self._room.notify_all()
            return op

    def _loop(self) -> None:
        try:
            while (op := self._next()) is not _STOP:
                if isinstance(op, _Call):
                    self._call(op)
                else:
                    batch = [op, *self._more_pages(len(op.rows), op.size)]
                    try:
                        self._land(batch)
                    finally:
                        self._written(batch)
        except BaseException as exc:  # never leave a fetching thread waiting on a dead writer
            self._broken = exc
            log.exception("the warehouse writer stopped")
            with self._room:
                for op in self._queued:
                    if isinstance(op, _Call):
                        op.future.set_exception(exc)
                self._queued.clear()
                self._room.notify_all()

    def _more_pages(self, rows: int, size: int) -> list[Land]:
        """The pages queued right behind the first, up to ``batch_rows`` rows and ``batch_bytes``
        of JSON text in all: DuckDB holds a batch several times over while it writes it (the
        list parameters, their unnested vectors, the parsed JSON), so its bytes bound the peak."""
        batch: list[Land] = []
        with self._room:  # a batch stops before the first operation that is not a page
            while rows < self._batch_rows and size < self._batch_bytes and self._queued \
                    and isinstance(self._queued[0], Land):
                op = self._queued.popleft()
                batch.append(op)
                rows += len(op.rows)
                size += op.size
            self._room.notify_all()
        return batch

    def _call(self, op: _Call) -> None:
        if op.project is not None and op.project in self._failed:
            op.future.set_exception(self._failed[op.project])
            return
        try:
            op.future.set_result(op.fn(self._cur))
        except Exception as exc:
            self._fail(op.project, exc)
            op.future.set_exception(exc)

    def _land(self, batch: list[Land], hooks: bool = True) -> None:
        """Write a batch in one transaction, after each page's ``before`` (``hooks=False``: a
        retry of pages whose hooks ran)."""
        batch = [op for op in batch if op.project is None or op.project not in self._failed]
        ready = []
        for op in batch:
            if op.before is not None and hooks:
                try:
                    op.before(self._cur)
                except Exception as exc:
                    self._fail(op.project, exc)
                    continue
            ready.append(op)
        tables: dict[tuple[str, tuple[str, ...]], list[Land]] = {}
        for op in ready:
            if op.rows:
                tables.setdefault((op.table, op.json_columns), []).append(op)
        if not tables:
            return
        failure: Exception = RuntimeError("the page kept meeting held keys")
        for _ in range(2):  # a KeysHeld turns its table to merging: the batch once more
            try:
                for n, ((table, json_columns), ops) in enumerate(tables.items()):
                    # the first upsert opens the batch's transaction with its first statement
                    upsert(self._cur, table, [row for op in ops for row in op.rows], json_columns,
                           transaction=False, opens=n == 0)
                self._cur.execute("COMMIT")
                return
            except KeysHeld:
                rollback(self._cur)
            except Exception as exc:
                rollback(self._cur)
                failure = exc
                break
        if len(ready) == 1:
            self._fail(ready[0].project, failure)
            return
        # One bad page must not fail the others merged with it, and a batch still meeting held keys
        # (one table in two groups, the first merging all-new rows and so turning the table back to
        # the INSERT for the second) is no failure: each page alone.
        for op in ready:
            self._land([op], hooks=False)

    def _fail(self, project: str | None, exc: BaseException) -> None:
        log.error("writing %s failed: %s", project or "a site's data", exc)
        if project is not None:
            self._failed.setdefault(project, exc)
