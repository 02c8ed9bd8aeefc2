"""The writer: two threads that write a sync's pages into the work database, fed through one
bounded queue.

Fetching is waiting on the network; landing is DuckDB work. Done in the fetching thread, every
page's landing held the next request back (a sync spent a third of its time with no request in
flight). So the threads that fetch only read the warehouse (each through its own cursor) and hand
every write to a ``Writer``: pages are queued (``land``) and the fetching thread asks for its next
page at once; other writes (a cursor, a deletion check) are queued as calls (``run``, ``call``)
that keep their order behind the pages queued before them.

- **Two lanes**: the main lane (one thread, one cursor) writes every call and most pages; the side
  lane writes the pages of ``SIDE_TABLES`` (a repository's events and relations, about half of a
  sync's JSON) beside it, through a cursor of its own: DuckDB appends to two tables from two
  transactions at once. No table is written by both lanes' pages, so two transactions of a sync
  never touch the same rows.
- **Bounded memory**: a page is queued as JSON text (``Land.of`` serialises it in the fetching
  thread, which then drops the parsed page), and the queue holds at most ``queue_bytes`` of that
  text and ``queue_pages`` operations (both lanes together); a fetching thread that finds it full
  waits (back-pressure), so the ingest's memory is the queue and the pages in flight, whatever the
  portfolio's size. Bounded in pages alone, a queue of large pages (100 Jira issues with their
  changelogs, parsed) held several hundred MB. The bytes are the memory bound; the operations'
  bound only keeps a flood of small calls in check, so it is loose (256): at 32, a queue of small
  pages and calls filled it while a lane wrote one slow batch, and every fetching thread then
  stood with a fetched page in hand (up to 116 s of thread time in one 10k peer ingest, the
  requests in flight down from 7.3 to 5.3 of 8 lanes) although the bytes were far under theirs.
- **Batches**: the pages waiting in a lane when its thread comes round are merged per table, up
  to ``batch_rows`` rows and ``batch_bytes`` of JSON text, into one set-based ``upsert`` and one
  commit (a commit writes the WAL).
- **Order**: within a lane, a project's operations run in the order they were queued (the main
  lane runs everything in order). Across lanes, order is kept per project: a call runs once the
  side lane has written the pages of its project (``order``) queued before it, and the side lane
  starts no page of a project while a call of that project queued before it is pending; a call of
  no project waits for everything before it, and holds back everything after it. A page's
  ``before`` step (the tombstones of moved issues) runs just before its rows are written. A
  project's cursor, queued after its pages, is written only once they are committed.
- **Failures are the project's**: an operation that fails marks its project failed; the
  project's operations that come to be written after that, in either lane, are skipped with the
  same error, which the project's next ``call`` raises (a sync waits on its cursor write, so it
  learns of it and records the project failed). A side-lane page queued after a failed main-lane
  page may already be written: harmless, as the project's cursor stays and a rerun writes the
  same rows. A page of one project never stops another project's.
"""

from __future__ import annotations

import logging
import math
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
    project: str | None  # whose failure skips it
    order: str | None  # whose pages it keeps its order with (None: everything's)
    future: Future = field(default_factory=Future)


_STOP = object()

# How the raw tables' strings are compressed when the writer's database checkpoints (Writer.__init__
# says why); bench/raw_at_scale.py stores its generated raw the same way.
RAW_STRING_COMPRESSION = "zstd"

# The WAL size at which the writer's database checkpoints (``Writer``). Until a checkpoint DuckDB
# holds the rows written since the last in memory (their strings: a page of Jira issues is 1 MB),
# so at 256MB a 100k sync held up to 240 MiB more than a 10k sync, which never wrote that much.
# Each checkpoint also rewrites the row group a table is still filling (up to 122,880 rows), so
# a smaller threshold costs CPU where a sync is large: every Jira project of the 100k portfolio
# at 0 ms latency, two alternating runs each, 613-614 MiB on 48.5-49.9 s of CPU at 64MB against
# 747-770 MiB on 42.2-45.6 s at 256MB. A large sync waits on GitHub's pace, not on this CPU.
# (Row groups of 16,384 rows, an option of DuckDB's ATTACH, made 64MB cost nothing in the sync,
# but the transforms' first checkpoint merged them again: 4-7 s and 500 MiB more at 100k.)
CHECKPOINT_THRESHOLD = "64MB"

# What the side lane lands: a repository's events and relations, about half of a sync's JSON
# (10,000-item peer sync: issues 53 MB, events 34 MB, relations 13 MB). DuckDB appends to two
# tables from two transactions at once, so a second thread writes them beside the issues.
SIDE_TABLES = frozenset({"raw.github_issue_events", "raw.github_issue_relations"})


@dataclass
class _Lane:
    """One writing thread: its cursor, its operations queued and those it is writing, each as
    (sequence number, operation)."""

    name: str
    cursor: duckdb.DuckDBPyConnection
    queued: deque[tuple[int, Any]] = field(default_factory=deque)
    writing: list[tuple[int, Any]] = field(default_factory=list)
    thread: threading.Thread | None = None


def _ordered(a: str | None, b: str | None) -> bool:
    """Whether two operations in different lanes keep the order they were queued in: those of one
    project, and any of the site's own (no project) with anything."""
    return a is None or b is None or a == b


def _side_lane_ready(queued: Sequence[tuple[int, Any]], may_start: Callable[[int, Any], bool]) -> list[int]:
    """The positions in the side lane's ``queued`` that may be written now, given which of its
    operations ``may_start`` (Writer._startable): each that may start and follows no waiting
    operation of its project, up to the first waiting one of no project; the stop only first."""
    ready: list[int] = []
    waiting: set[str] = set()
    for i, (number, op) in enumerate(queued):
        project = _order_of(op)
        if op is _STOP:
            return ready or ([0] if i == 0 and may_start(number, op) else [])
        if project in waiting:
            continue
        if may_start(number, op):
            ready.append(i)
        elif project is None:
            break
        else:
            waiting.add(project)
    return ready


def _order_of(op: Any) -> str | None:
    """Whose operations ``op`` keeps its order with across lanes (None: everything's)."""
    if isinstance(op, _Call):
        return op.order
    return op.project if isinstance(op, Land) else None


class Writer:
    """Writes a sync's pages and state in order: every call and most pages through one cursor of
    ``con`` in one thread (the main lane), the pages of ``SIDE_TABLES`` through a second (the side
    lane, ``lanes=2``). Order across the two is kept per project (``_ordered``): a call runs once
    the side lane has written every page of its project queued before it, and the side lane
    starts no page of a project while a call of that project queued before it is not done. So a
    project's cursor is still written after all its pages, and a call (a deletion, a replaced set
    of rows) never runs beside a write of its project. Within a lane a project's operations keep
    their order; the side lane may write one project's page while another's waits for a call."""

    def __init__(self, con: duckdb.DuckDBPyConnection, *, queue_pages: int = 256, queue_bytes: int = 32 << 20,
                 batch_rows: int = 5000, batch_bytes: int = 2 << 20, lanes: int = 2) -> None:
        self._lanes = [_Lane(name, con.cursor()) for name in ("main", "side")[:max(1, min(2, lanes))]]
        # DuckDB checkpoints when the WAL passes 16 MB, inside whichever commit passes it: a sync
        # lands hundreds of MB, so that was a checkpoint every few pages. Fewer, larger ones; but
        # not so few that the rows written since the last, which DuckDB holds in memory until it,
        # make a sync's memory grow with the portfolio (``CHECKPOINT_THRESHOLD``).
        self._lanes[0].cursor.execute(f"SET checkpoint_threshold = '{CHECKPOINT_THRESHOLD}'")
        # Strings to zstd at this database's checkpoints (the ingest's own connection: a setting of
        # the database, not of a cursor). DuckDB's own pick for the events' JSON, dictionary+FSST,
        # costs four times the CPU: the 10,000-item peer sync's raw tables (99 MB of WAL) checkpoint
        # in 0.14 s against 0.58 s, into 5 MB against 28; scans read them as fast. The peer ingest,
        # side by side: 6.46 s against 7.15 s (client CPU 6.28 against 7.18 s), faster in 4 of 4.
        self._lanes[0].cursor.execute(f"SET force_compression = '{RAW_STRING_COMPRESSION}'")
        self._sequence = 0  # numbers the operations in the order they were queued
        self._queue_pages = queue_pages
        self._queue_bytes = queue_bytes
        self._queued_bytes = 0  # JSON text queued or in the batch being written
        self._room = threading.Condition()  # guards all the above; notified when any of it changes
        self._batch_rows = batch_rows
        self._batch_bytes = batch_bytes
        self._failed: dict[str, BaseException] = {}
        self._broken: BaseException | None = None
        self._closing = False  # close() has queued the lanes' stops: nothing queued after them would run
        for lane in self._lanes:
            lane.thread = threading.Thread(target=self._loop, args=(lane,), name=f"pulse-writer-{lane.name}",
                                           daemon=True)
            lane.thread.start()

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

    def run(self, fn: Callable[[duckdb.DuckDBPyConnection], T], *, project: str | None = None,
            order: str | None = None) -> Future:
        """Queue ``fn(cursor)`` behind what is queued; its future holds the result or the error.
        It is skipped (its future holds the error) if ``project`` failed; it keeps its order with
        the operations of ``order`` (default ``project``; None: with every operation)."""
        op = _Call(fn, project, order if order is not None else project)
        self._put(op)
        return op.future

    def call(self, fn: Callable[[duckdb.DuckDBPyConnection], T], *, project: str | None = None,
             order: str | None = None) -> T:
        """``run`` and wait: also how a project learns that one of its queued pages failed."""
        return self.run(fn, project=project, order=order).result()

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
        """Write what is queued, then stop the threads."""
        with self._room:  # never waits for room: the writer needs it to drain the queue
            self._closing = True
            for lane in self._lanes:
                if lane.thread is not None and lane.thread.is_alive():
                    self._sequence += 1
                    lane.queued.append((self._sequence, _STOP))
            self._room.notify_all()
        for lane in self._lanes:
            if lane.thread is not None:
                lane.thread.join()
            lane.cursor.close()

    def __enter__(self) -> Writer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _lane_of(self, op: Any) -> _Lane:
        if isinstance(op, Land) and op.table in SIDE_TABLES:
            if op.before is not None:  # it would run on the main lane, out of order with the side's pages
                raise ValueError(f"a page of {op.table} (a side-lane table) cannot have a before step")
            return self._lanes[-1]
        return self._lanes[0]

    def _put(self, op: Any) -> None:
        """Queue ``op`` once there is room: fewer than ``queue_pages`` operations queued and its JSON
        text within ``queue_bytes`` of what is queued or being written. A page larger than the
        whole budget still goes, alone."""
        size = op.size if isinstance(op, Land) else 0
        lane = self._lane_of(op)
        with self._room:
            while (sum(len(other.queued) for other in self._lanes) >= self._queue_pages
                   or (self._queued_bytes and self._queued_bytes + size > self._queue_bytes)):
                self._check_alive()
                self._room.wait(timeout=1)
            self._check_alive()
            self._sequence += 1
            lane.queued.append((self._sequence, op))
            self._queued_bytes += size
            self._room.notify_all()

    def _check_alive(self) -> None:
        """Raise if nothing queued now would be written: a lane stopped, or ``close`` has queued
        the stops (an operation behind them would wait forever, and its caller with it)."""
        if self._broken is not None:
            raise RuntimeError(f"the warehouse writer stopped: {self._broken!r}")
        if self._closing:
            raise RuntimeError("the warehouse writer is closing or closed: nothing more can be queued")
        if not all(lane.thread.is_alive() for lane in self._lanes if lane.thread):
            raise RuntimeError("the warehouse writer stopped")

    def _written(self, lane: _Lane, batch: list[Land]) -> None:
        """The lane is done with what it was writing (a call, or a batch: its bytes go back to the
        queue's budget)."""
        with self._room:
            self._queued_bytes -= sum(op.size for op in batch)
            lane.writing = []
            self._room.notify_all()

    # -- the writer threads -----------------------------------------------------------------------
    def _may_start(self, lane: _Lane, number: int, op: Any) -> bool:
        """Whether no other lane holds (queued or being written) an operation queued before ``op``
        that ``op`` is ``_ordered`` with and must wait for: a call waits for any such operation; a
        side-lane page for such calls (all on the main lane); a main-lane page for nothing (the
        main lane keeps its own order)."""
        if lane is self._lanes[0] and not isinstance(op, _Call):
            return True
        call = isinstance(op, _Call)
        return not any(n < number and (call or isinstance(o, _Call)) and _ordered(_order_of(o), _order_of(op))
                       for other in self._lanes if other is not lane for n, o in (*other.writing, *other.queued))

    def _startable(self, lane: _Lane) -> list[int]:
        """The positions in ``lane.queued`` of what may be written now, in order: the main lane's
        operations from its first up to one that must wait; the side lane's operations that may
        start and follow no waiting operation of their project, up to the first waiting one of no
        project (and the stop, only first)."""
        if lane is self._lanes[0]:
            ready = []
            for i, (number, op) in enumerate(lane.queued):
                if (i and not isinstance(op, Land)) or not self._may_start(lane, number, op):
                    break  # what follows the first operation is for its batch: pages only
                ready.append(i)
            return ready
        # The side lane's operations are pages (and its stop), which wait only for the calls of the
        # other lanes queued before them (``_may_start``): the first call of each order, found in one
        # pass, answers for every page; not a pass over the other lanes per page, which with a queue
        # of hundreds of operations cost milliseconds under the lock.
        first_call: dict[str | None, int] = {}
        for other in self._lanes:
            if other is not lane:
                for n, o in (*other.writing, *other.queued):
                    if isinstance(o, _Call) and n < first_call.get(o.order, n + 1):
                        first_call[o.order] = n
        any_call = min(first_call.values(), default=math.inf)

        def may_start(number: int, op: Any) -> bool:
            if isinstance(op, _Call):  # calls are the main lane's; kept general all the same
                return self._may_start(lane, number, op)
            project = _order_of(op)
            # a call of no project orders with everything; a page of no project with every call
            first = (any_call if project is None
                     else min(first_call.get(None, math.inf), first_call.get(project, math.inf)))
            return first >= number

        return _side_lane_ready(lane.queued, may_start)

    def _next(self, lane: _Lane) -> Any:
        with self._room:
            while not (ready := self._startable(lane)):
                self._room.wait()
            number, op = lane.queued[ready[0]]
            del lane.queued[ready[0]]
            lane.writing = [(number, op)]
            self._room.notify_all()
            return op

    def _loop(self, lane: _Lane) -> None:
        try:
            while (op := self._next(lane)) is not _STOP:
                if isinstance(op, _Call):
                    try:
                        self._call(lane.cursor, op)
                    finally:
                        self._written(lane, [])
                else:
                    batch = [op, *self._more_pages(lane, len(op.rows), op.size)]
                    try:
                        self._land(lane.cursor, batch)
                    finally:
                        self._written(lane, batch)
        except BaseException as exc:  # never leave a fetching thread waiting on a dead writer
            log.exception("the warehouse writer stopped")
            with self._room:
                if self._broken is None:  # the first cause, not the other lane's stopping after it
                    self._broken = exc
                for other in self._lanes:
                    for _, queued in other.queued:
                        if isinstance(queued, _Call):
                            queued.future.set_exception(exc)
                    # the other lane stops too (nothing else would wake it)
                    other.queued.clear()
                    if other is not lane:
                        self._sequence += 1
                        other.queued.append((self._sequence, _STOP))
                self._room.notify_all()

    def _more_pages(self, lane: _Lane, rows: int, size: int) -> list[Land]:
        """More pages for the batch of the one ``_next`` gave, from what may start now in its
        lane, up to ``batch_rows`` rows and ``batch_bytes`` of JSON text in all: DuckDB holds a
        batch several times over while it writes it (the list parameters, their unnested vectors,
        the parsed JSON), so its bytes bound the peak. A batch stops before the first operation
        that is not a page."""
        batch: list[Land] = []
        with self._room:
            taken = []
            for i in self._startable(lane):
                op = lane.queued[i][1]
                if not isinstance(op, Land) or rows >= self._batch_rows or size >= self._batch_bytes:
                    break
                taken.append(i)
                batch.append(op)
                rows += len(op.rows)
                size += op.size
            for i in reversed(taken):
                lane.writing.append(lane.queued[i])
                del lane.queued[i]
            self._room.notify_all()
        return batch

    def _call(self, cur: duckdb.DuckDBPyConnection, op: _Call) -> None:
        if op.project is not None and op.project in self._failed:
            op.future.set_exception(self._failed[op.project])
            return
        try:
            op.future.set_result(op.fn(cur))
        except Exception as exc:
            self._fail(op.project, exc)
            op.future.set_exception(exc)
        except BaseException as exc:  # the lane stops; whoever waits on this call is told, not left waiting
            op.future.set_exception(exc)
            raise

    def _land(self, cur: duckdb.DuckDBPyConnection, batch: list[Land], hooks: bool = True) -> None:
        """Write a batch in one transaction, after each page's ``before`` (``hooks=False``: a
        retry of pages whose hooks ran)."""
        batch = [op for op in batch if op.project is None or op.project not in self._failed]
        ready = []
        for op in batch:
            if op.before is not None and hooks:
                try:
                    op.before(cur)
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
        merging: set[str] = set()
        for _ in range(2):  # a KeysHeld: the batch once more, its table merging
            try:
                for n, ((table, json_columns), ops) in enumerate(tables.items()):
                    # the first upsert opens the batch's transaction with its first statement
                    upsert(cur, table, [row for op in ops for row in op.rows], json_columns,
                           transaction=False, opens=n == 0, new_first=table not in merging)
                cur.execute("COMMIT")
                return
            except KeysHeld as held:
                rollback(cur)
                merging.add(held.table)
            except Exception as exc:
                rollback(cur)
                failure = exc
                break
        if len(ready) == 1:
            self._fail(ready[0].project, failure)
            return
        # One bad page must not fail the others merged with it, and a batch meeting held keys in a
        # second table on its retry is no failure: each page alone.
        for op in ready:
            self._land(cur, [op], hooks=False)

    def _fail(self, project: str | None, exc: BaseException) -> None:
        log.error("writing %s failed: %s", project or "a site's data", exc)
        if project is not None:
            self._failed.setdefault(project, exc)
