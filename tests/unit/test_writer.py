"""warehouse.writer and upsert: order, batches, the last row of a key, failures kept to their project."""

from __future__ import annotations

import threading
from datetime import datetime, timezone

import pytest

from warehouse.store import connect, migrate, upsert
from warehouse.writer import Land, Writer

T0 = datetime(2026, 11, 1, tzinfo=timezone.utc)
T1 = datetime(2026, 11, 2, tzinfo=timezone.utc)


def version(n: int, name: str, sync: str = "s1", at: datetime = T0) -> dict:
    return {"site": "j", "project_key": "P", "version_id": str(n), "payload": {"id": n, "name": name},
            "synced_at": at, "sync_id": sync}


@pytest.fixture()
def con(tmp_path):
    with connect(tmp_path / "w.duckdb") as con:
        migrate(con)
        yield con


def held(con) -> list[tuple]:
    return con.execute("SELECT version_id, payload->>'name', sync_id, synced_at FROM raw.jira_versions "
                       "ORDER BY version_id").fetchall()


def test_a_call_runs_after_the_pages_queued_before_it(con):
    with Writer(con, queue_pages=2) as writer:  # a small queue: the pages wait their turn
        for n in range(20):
            writer.land("raw.jira_versions", [version(n, f"v{n}")], project="j/P")
        assert writer.call(lambda w: w.execute("SELECT count(*) FROM raw.jira_versions").fetchone()[0]) == 20


def test_the_last_row_of_a_key_stands_within_a_batch(con):
    rows = [version(1, "first"), version(2, "other"), version(1, "last")]
    upsert(con, "raw.jira_versions", rows)
    assert [(v, name) for v, name, *_ in held(con)] == [("1", "last"), ("2", "other")]


def test_unchanged_rows_only_move_sync_and_changed_ones_are_replaced(con):
    upsert(con, "raw.jira_versions", [version(1, "a"), version(2, "b")])
    upsert(con, "raw.jira_versions", [version(1, "a", "s2", T1), version(2, "B", "s2", T1), version(3, "c", "s2", T1)])
    assert held(con) == [("1", "a", "s2", T0), ("2", "B", "s2", T1), ("3", "c", "s2", T1)]


def test_a_batch_meeting_held_keys_is_written_again_merging(con):
    """The all-new way is a plain INSERT, which the primary key refuses when a key is held; DuckDB
    then aborts the batch's transaction, and the batch is written again, merging: nothing is lost
    and no project fails."""
    upsert(con, "raw.jira_versions", [version(1, "a")])  # all new: the next page tries the INSERT
    hooks, go = [], threading.Event()
    with Writer(con) as writer:
        writer.run(lambda w: go.wait(5))  # hold the writer, so both pages wait in one batch
        writer.land("raw.jira_versions", [version(2, "b", "s2", T1)], project="j/P",
                    before=lambda w: hooks.append("P"))
        writer.land("raw.jira_versions", [version(1, "A", "s2", T1), version(3, "c", "s2", T1)], project="j/Q",
                    before=lambda w: hooks.append("Q"))
        go.set()
        assert writer.call(lambda w: "ran", project="j/P") == "ran"
        assert writer.call(lambda w: "ran", project="j/Q") == "ran"
    assert held(con) == [("1", "A", "s2", T1), ("2", "b", "s2", T1), ("3", "c", "s2", T1)]
    assert hooks == ["P", "Q"]  # each page's before ran once


def test_one_table_in_two_groups_meeting_held_keys_is_written(con):
    """Pages of one table with two sets of JSON columns are two upserts in the batch: the first,
    all new, would turn the table back to the INSERT, which the second's held key refuses. The
    retry merges the table in both: none is lost, no project fails."""
    upsert(con, "raw.jira_versions", [version(1, "a")])
    go = threading.Event()
    with Writer(con) as writer:
        writer.run(lambda w: go.wait(5))
        writer.land("raw.jira_versions", [version(5, "e", "s2", T1)], project="j/P")
        writer.land("raw.jira_versions", [version(1, "A", "s2", T1)], project="j/Q",
                    json_columns=("payload", "no_such_json_column"))
        go.set()
        assert writer.call(lambda w: "ran", project="j/P") == "ran"
        assert writer.call(lambda w: "ran", project="j/Q") == "ran"
    assert held(con) == [("1", "A", "s2", T1), ("5", "e", "s2", T1)]


def test_a_failed_page_fails_its_project_only(con):
    with Writer(con) as writer:
        writer.land("raw.jira_versions", [{**version(1, "x"), "no_such_column": 1}], project="j/BAD")
        writer.land("raw.jira_versions", [version(2, "fine")], project="j/GOOD")
        with pytest.raises(Exception, match="no_such_column"):
            writer.call(lambda w: None, project="j/BAD")
        assert writer.call(lambda w: "ran", project="j/GOOD") == "ran"
    assert [v for v, *_ in held(con)] == ["2"]


def test_the_queue_is_bounded_by_the_bytes_of_its_pages(con):
    """Pages wait as JSON text, at most ``queue_bytes`` of it; a fetching thread that finds no room
    waits until the writer has written what is ahead; a page larger than the budget goes alone."""
    page = [version(n, "x" * 1000) for n in range(10)]  # about 10 KB of payload text
    size = Land.of("raw.jira_versions", page, ("payload",), "j/P").size
    assert 10_000 < size < 11_000
    assert all(isinstance(row["payload"], str) for row in Land.of("raw.jira_versions", page, ("payload",), None).rows)
    gate = threading.Event()
    with Writer(con, queue_bytes=int(size * 2.5)) as writer:
        writer.run(lambda w: gate.wait(10))  # the writer is busy: nothing queued is written
        landed = []
        fetching = threading.Thread(target=lambda: [landed.append(writer.land(
            "raw.jira_versions", [{**r, "version_id": f"{i}-{r['version_id']}"} for r in page], project="j/P"))
            for i in range(4)])
        fetching.start()
        fetching.join(timeout=1)
        assert fetching.is_alive() and len(landed) == 2  # two pages fit, the third waits for room
        gate.set()
        fetching.join(timeout=10)
        assert len(landed) == 4
        with Writer(con, queue_bytes=100) as small:  # larger than the whole budget: queued alone
            small.land("raw.jira_versions", [version(99, "y" * 1000)], project="j/P")
    assert con.execute("SELECT count(*) FROM raw.jira_versions").fetchone()[0] == 41


def test_the_queue_is_bounded_by_its_operations_too(con):
    """However small the pages, at most ``queue_pages`` operations wait; then a fetching thread does."""
    busy, gate = threading.Event(), threading.Event()
    with Writer(con, queue_pages=2) as writer:
        writer.run(lambda w: (busy.set(), gate.wait(10)))
        assert busy.wait(10)  # the writer took the call off the queue and is held in it
        landed = []
        fetching = threading.Thread(target=lambda: [landed.append(writer.land(
            "raw.jira_versions", [version(n, "tiny")], project="j/P")) for n in range(5)])
        fetching.start()
        fetching.join(timeout=1)
        assert fetching.is_alive() and len(landed) == 2
        gate.set()
        fetching.join(timeout=10)
        assert len(landed) == 5
    assert con.execute("SELECT count(*) FROM raw.jira_versions").fetchone()[0] == 5


def test_a_request_waits_for_room_in_the_queue_before_it_takes_a_lane(con):
    """With the sync's lanes admitting through the writer, a thread asks for no page while the
    queue is full (so it holds no page the queue cannot take), and holds no lane meanwhile."""
    from connectors.pacing import Lanes

    lanes, busy, gate = Lanes(2), threading.Event(), threading.Event()
    with Writer(con, queue_bytes=100) as writer, lanes.admitting(writer.has_room, writer.wait_for_room):
        writer.run(lambda w: (busy.set(), gate.wait(10)))
        assert busy.wait(10)
        writer.land("raw.jira_versions", [version(1, "x" * 200)], project="j/P")  # its bytes fill the queue
        sent = []

        def request() -> None:
            with lanes:
                sent.append(True)

        asking = threading.Thread(target=request)
        asking.start()
        asking.join(timeout=1)
        assert asking.is_alive() and not sent  # waiting for room ...
        assert lanes._free.acquire(blocking=False) and lanes._free.acquire(blocking=False)  # ... on no lane
        lanes._free.release(), lanes._free.release()
        gate.set()
        asking.join(timeout=10)
        assert sent == [True]
    with lanes:  # no longer admitting through the closed writer
        pass


def event(n: int, sync: str = "s1") -> dict:
    return {"site": "gh", "repo": "o/r", "event_id": n, "issue_number": 1, "created_at": T0,
            "payload": {"id": n, "event": "labeled"}, "synced_at": T0, "sync_id": sync}


def events_held(con) -> int:
    return con.cursor().execute("SELECT count(*) FROM raw.github_issue_events").fetchone()[0]


def test_events_land_beside_the_main_lane(con):
    """A repository's events go to the side lane: they are written while the main lane is held
    (here by a page's ``before``), so issues and events land at once."""
    gate = threading.Event()
    with Writer(con) as writer:
        writer.land("raw.jira_versions", [version(1, "v1")], project="j/P", before=lambda w: gate.wait(10))
        writer.land("raw.github_issue_events", [event(n) for n in range(3)], project="gh/o/r")
        deadline = datetime.now(timezone.utc).timestamp() + 10
        while events_held(con) < 3 and datetime.now(timezone.utc).timestamp() < deadline:
            threading.Event().wait(0.01)
        assert events_held(con) == 3 and not held(con)  # the events are in, the held page is not
        gate.set()
    assert [v for v, *_ in held(con)] == ["1"]


def test_a_call_waits_for_the_side_lanes_pages_queued_before_it(con):
    """A project's cursor is written after all its pages, in both lanes; a call of no project
    after everything's."""
    count = "SELECT count(*) FROM raw.github_issue_events WHERE repo = 'o/r'"
    with Writer(con, queue_pages=4) as writer:
        for page in range(40):
            writer.land("raw.github_issue_events", [event(page * 25 + n) for n in range(25)], project="gh/o/r")
        assert writer.call(lambda w: w.execute(count).fetchone()[0], project="gh/o/r") == 1000
        for page in range(40):
            writer.land("raw.github_issue_events", [{**event(page * 25 + n), "repo": "o/s"} for n in range(25)],
                        project="gh/o/s")
        assert writer.call(lambda w: w.execute("SELECT count(*) FROM raw.github_issue_events").fetchone()[0]) == 2000


def holding_pages_of(monkeypatch, project: str) -> tuple[threading.Event, threading.Event]:
    """Make the writer hold any batch with a page of ``project`` until ``gate`` is set; ``busy``
    is set once it holds one."""
    import warehouse.writer as module

    land, gate, busy = module.Writer._land, threading.Event(), threading.Event()

    def slow(self, cur, batch, hooks=True):
        if any(op.project == project for op in batch):
            busy.set()
            gate.wait(10)
        return land(self, cur, batch, hooks)

    monkeypatch.setattr(module.Writer, "_land", slow)
    return gate, busy


def test_a_projects_call_does_not_wait_for_another_projects_side_pages(con, monkeypatch):
    """Order across lanes is per project: a call of one project runs while the side lane is
    still writing another project's pages; a call of that project waits for them."""
    gate, busy = holding_pages_of(monkeypatch, "gh/o/b")
    with Writer(con) as writer:
        writer.land("raw.github_issue_events", [{**event(1), "repo": "o/b"}], project="gh/o/b")
        assert busy.wait(10)  # the side lane is writing o/b's page
        assert writer.run(lambda w: "ran", project="gh/o/a").result(5) == "ran"  # not held back by it
        b = writer.run(lambda w: w.execute("SELECT count(*) FROM raw.github_issue_events").fetchone()[0],
                       project="gh/o/b")
        threading.Event().wait(0.2)
        assert not b.done()  # o/b's call waits for o/b's page
        gate.set()
        assert b.result(10) == 1


def test_a_recorded_outcome_keeps_order_with_its_project_only_and_runs_when_it_failed(con, monkeypatch):
    """``order`` without ``project``: the call is not skipped for the project's failure, and it
    waits only for that project's pages, not for another project's still being written."""
    gate, busy = holding_pages_of(monkeypatch, "gh/o/other")
    with Writer(con) as writer:
        writer.land("raw.github_issue_events", [{**event(1), "no_such_column": 1}], project="gh/o/bad")
        with pytest.raises(Exception, match="no_such_column"):
            writer.call(lambda w: None, project="gh/o/bad")
        writer.land("raw.github_issue_events", [{**event(2), "repo": "o/other"}], project="gh/o/other")
        assert busy.wait(10)  # the side lane is writing the other project's page
        assert writer.run(lambda w: "recorded", order="gh/o/bad").result(5) == "recorded"
        gate.set()


def test_a_call_that_stops_its_lane_tells_its_caller(con):
    """A call raising what is not an Exception stops the lane; its caller gets it, not a wait."""
    with Writer(con) as writer:
        with pytest.raises(SystemExit):
            writer.run(lambda w: (_ for _ in ()).throw(SystemExit("stop")), project="j/P").result(10)


def test_a_dying_lane_stops_the_writer_with_its_own_error(con, monkeypatch):
    """A lane that dies (anything but an Exception, which fails a project) stops the other lane
    too, and the writer reports the first cause, not the other lane's stopping after it."""
    import warehouse.writer as module

    land = module.Writer._land

    def dying(self, cur, batch, hooks=True):
        if any(op.table in module.SIDE_TABLES for op in batch):
            raise SystemExit("the side lane died")
        return land(self, cur, batch, hooks)

    monkeypatch.setattr(module.Writer, "_land", dying)
    gate, busy = threading.Event(), threading.Event()
    writer = Writer(con)
    running = writer.run(lambda w: (busy.set(), gate.wait(10), "ran")[2], project="gh/o/a")
    assert busy.wait(10)
    writer.land("raw.github_issue_events", [{**event(1), "repo": "o/b"}], project="gh/o/b")
    for _ in range(500):  # until the side lane has died
        if writer._broken is not None:
            break
        threading.Event().wait(0.01)
    gate.set()
    assert running.result(10) == "ran"  # the call that was running finishes
    for lane in writer._lanes:
        lane.thread.join(10)  # and then the main lane stops too
    assert not any(lane.thread.is_alive() for lane in writer._lanes)
    with pytest.raises(RuntimeError, match="the side lane died"):
        writer.land("raw.jira_versions", [version(1, "v1")], project="j/P")
    writer.close()


def test_a_side_table_page_with_a_before_step_is_refused(con):
    with Writer(con) as writer, pytest.raises(ValueError, match="side-lane table"):
        writer.land("raw.github_issue_events", [event(1)], project="gh/o/r", before=lambda w: None)


def test_a_side_lane_page_queued_after_a_call_waits_for_it(con):
    """A call (a deletion, a replaced set of rows) never runs beside a side-lane write queued after it."""
    gate, busy = threading.Event(), threading.Event()
    with Writer(con) as writer:
        done = writer.run(lambda w: (busy.set(), gate.wait(10), w.execute(
            "SELECT count(*) FROM raw.github_issue_events").fetchone()[0])[2])
        assert busy.wait(10)
        writer.land("raw.github_issue_events", [event(1)], project="gh/o/r")
        threading.Event().wait(0.3)
        assert events_held(con) == 0  # waiting for the call
        gate.set()
        assert done.result(10) == 0  # the call saw nothing of the page queued after it
    assert events_held(con) == 1


def test_another_projects_side_lane_page_does_not_wait_for_a_call(con):
    """Order across lanes is kept per project: while a call of one project holds its pages back,
    another project's pages are written."""
    gate, busy = threading.Event(), threading.Event()
    with Writer(con) as writer:
        writer.run(lambda w: (busy.set(), gate.wait(10)), project="gh/o/a")
        assert busy.wait(10)
        writer.land("raw.github_issue_events", [event(1)], project="gh/o/a")
        writer.land("raw.github_issue_events", [{**event(2), "repo": "o/b"}], project="gh/o/b")
        deadline = datetime.now(timezone.utc).timestamp() + 10
        while events_held(con) < 1 and datetime.now(timezone.utc).timestamp() < deadline:
            threading.Event().wait(0.01)
        threading.Event().wait(0.2)
        assert con.cursor().execute("SELECT repo FROM raw.github_issue_events").fetchall() == [("o/b",)]
        gate.set()
    assert events_held(con) == 2


def test_a_failed_side_lane_page_fails_its_projects_next_call(con):
    with Writer(con) as writer:
        writer.land("raw.github_issue_events", [{**event(1), "no_such_column": 1}], project="gh/o/bad")
        writer.land("raw.github_issue_events", [event(2)], project="gh/o/good")
        with pytest.raises(Exception, match="no_such_column"):
            writer.call(lambda w: None, project="gh/o/bad")
        assert writer.call(lambda w: "ran", project="gh/o/good") == "ran"
    assert events_held(con) == 1


def test_one_lane_keeps_every_write_on_one_thread(con):
    gate = threading.Event()
    with Writer(con, lanes=1) as writer:
        writer.land("raw.jira_versions", [version(1, "v1")], project="j/P", before=lambda w: gate.wait(10))
        writer.land("raw.github_issue_events", [event(1)], project="gh/o/r")
        threading.Event().wait(0.3)
        assert events_held(con) == 0  # behind the held page
        gate.set()
    assert events_held(con) == 1


def test_the_retry_merges_whatever_the_tables_flag_says_meanwhile(con, monkeypatch):
    """A batch that met held keys is written again with its table merging, even if another lane's
    all-new page set the table's shared flag back to "new" in between (here: always)."""
    import warehouse.store as store

    class AlwaysNew(dict):
        def get(self, key, default=None):
            return True

    upsert(con, "raw.jira_versions", [version(1, "a")])
    monkeypatch.setattr(store, "_NEW_LAST_TIME", AlwaysNew())
    with Writer(con) as writer:
        writer.land("raw.jira_versions", [version(1, "A", "s2", T1)], project="j/P")
        assert writer.call(lambda w: "ran", project="j/P") == "ran"
    assert held(con) == [("1", "A", "s2", T1)]


def test_nothing_is_queued_behind_the_stops_close_has_queued(con):
    """An operation queued while ``close`` waits for the lanes to drain would sit behind their
    stops, never written, its caller waiting forever: it is refused instead."""
    writer = Writer(con)
    gate, busy = threading.Event(), threading.Event()
    blocked = writer.run(lambda cur: (busy.set(), gate.wait(10)))  # the main lane is busy ...
    assert busy.wait(10)
    closing = threading.Thread(target=writer.close)
    closing.start()  # ... so close queues the stops and waits for the lanes
    closing.join(0.3)  # it queues them at once, under the queue's lock, then joins the lanes
    assert closing.is_alive()
    with pytest.raises(RuntimeError, match="closing"):
        writer.run(lambda cur: None)
    with pytest.raises(RuntimeError, match="closing"):
        writer.land("raw.jira_versions", [version(1, "v1")], project="j/P")
    gate.set()
    closing.join(10)
    assert not closing.is_alive() and blocked.result(timeout=1) is not None


def test_what_the_writer_lands_is_checkpointed_as_zstd(tmp_path):
    """The writer's database compresses strings with zstd at its checkpoints (DuckDB's own pick for
    JSON, dictionary+FSST, cost four times the CPU); what it lands reads back the same."""
    path = tmp_path / "w.duckdb"
    rows = [version(n, f"version {n} " + "of a long, repetitive JSON payload " * 20) for n in range(3000)]
    with connect(path) as con:
        migrate(con)
        with Writer(con) as writer:
            for start in range(0, len(rows), 100):
                writer.land("raw.jira_versions", rows[start:start + 100], project="j/P")
    with connect(path, read_only=True) as con:
        compressions = {c for (c,) in con.execute(
            "SELECT DISTINCT compression FROM pragma_storage_info('raw.jira_versions') "
            "WHERE column_name = 'payload' AND compression <> 'Constant'").fetchall()}
        assert compressions == {"ZSTD"}
        assert con.execute("SELECT count(*), max(payload->>'name') FROM raw.jira_versions").fetchone() == (
            3000, max(r["payload"]["name"] for r in rows))


def test_the_writer_checkpoints_before_its_wal_holds_more_than_the_threshold(tmp_path):
    """Until a checkpoint DuckDB holds what was written since the last one in memory, so the WAL's
    size is what a sync holds: with the writer's threshold it stays near 64MB however much lands
    (at DuckDB's 16MB it checkpointed every few pages; at 256MB a large sync held 240 MiB more)."""
    path = tmp_path / "w.duckdb"
    text = "x" * 8_000  # the WAL holds strings uncompressed, so its size follows the JSON landed
    largest = 0
    with connect(path, memory_limit="512MB") as con:
        migrate(con)
        with Writer(con) as writer:
            for page in range(120):  # about 100 MB of JSON, 2 MB batches
                writer.land("raw.jira_changelogs", [
                    {"site": "j", "issue_id": str(page), "history_id": f"{page}-{n}", "payload": {"id": n, "text": text},
                     "synced_at": T0, "sync_id": "s1"} for n in range(100)], project="j/P")
                if page % 10 == 9:
                    writer.call(lambda w: None)  # what was queued is written
                    wal = path.with_name(path.name + ".wal")
                    largest = max(largest, wal.stat().st_size if wal.exists() else 0)
        assert con.execute("SELECT count(*) FROM raw.jira_changelogs").fetchone()[0] == 12_000
    assert 32 << 20 < largest < 80 << 20  # 92 MiB at 256MB; 7 MiB at DuckDB's 16MB


def test_the_side_lane_starts_what_a_page_by_page_check_would_start():
    """``_startable`` answers for the side lane from the other lane's first call of each order, in
    one pass: on random queues (pages and calls of three projects and of none, some being
    written) it picks exactly what checking every page against every queued operation picks."""
    import random

    from warehouse.writer import _STOP, _Call, _Lane, _side_lane_ready

    def reference(writer: Writer, lane: _Lane) -> list[int]:  # the side lane's rule, page by page
        return _side_lane_ready(lane.queued, lambda number, op: writer._may_start(lane, number, op))

    rng = random.Random(7)
    projects = ["a", "b", "c", None]
    for _ in range(500):
        writer = Writer.__new__(Writer)  # no threads: only the queues are looked at
        main, side = _Lane("main", None), _Lane("side", None)
        writer._lanes = [main, side]
        numbers = iter(range(1, 10_000))
        for _ in range(rng.randrange(0, 40)):
            number, project = next(numbers), rng.choice(projects)
            if rng.random() < 0.5:
                op = _Call(lambda cur: None, project, rng.choice(projects))
                (main.writing if not main.writing and rng.random() < 0.2 else main.queued).append((number, op))
            elif rng.random() < 0.5:
                main.queued.append((number, Land("raw.jira_issues", [{}], ("payload",), project)))
            else:
                side.queued.append((number, Land("raw.github_issue_events", [{}], ("payload",), project)))
        if rng.random() < 0.2:
            side.queued.append((next(numbers), _STOP))
        assert writer._startable(side) == reference(writer, side)
