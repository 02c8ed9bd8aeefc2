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


def test_one_table_in_two_groups_meeting_held_keys_is_written_page_by_page(con):
    """Pages of one table with two sets of JSON columns are two upserts in the batch: the first,
    all new, merges and turns the table back to the INSERT, which the second's held key refuses,
    on every try. The pages are then written one by one: none is lost, no project fails."""
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
