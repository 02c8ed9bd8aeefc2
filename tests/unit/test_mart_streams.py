"""transforms.build.build_in_streams: steps two at a time, each after the steps it reads."""

from __future__ import annotations

import threading
import time

import duckdb
import pytest

from transforms.build import MART_STREAM_STEPS, STEP, STEPS, build_in_streams, mart_streams, reads


def _marts() -> list:
    return [s for s in STEPS if s.name in MART_STREAM_STEPS]


def test_each_step_starts_after_what_it_reads_and_two_run_at_once():
    con = duckdb.connect()
    steps, lock, events, running, most = _marts(), threading.Lock(), [], [0], [0]

    def build(cur, step):
        assert cur is not con  # a connection of its own per stream
        with lock:
            events.append(("start", step.name))
            running[0] += 1
            most[0] = max(most[0], running[0])
        time.sleep(0.01)
        with lock:
            running[0] -= 1
            events.append(("end", step.name))

    build_in_streams(con, steps, 2, build)
    ended = [name for kind, name in events if kind == "end"]
    assert sorted(ended) == sorted(s.name for s in steps)  # each once
    for step in steps:
        started_at = events.index(("start", step.name))
        for needed in set(reads(step)[1]) & MART_STREAM_STEPS:
            assert events.index(("end", needed)) < started_at, (step.name, needed)
    assert most[0] == 2


def test_a_failure_stops_what_has_not_started_and_is_raised():
    steps, built = _marts(), []

    def build(cur, step):
        if step.name == "marts.progress":
            raise RuntimeError("progress failed")
        built.append(step.name)

    with pytest.raises(RuntimeError, match="progress failed"):
        build_in_streams(duckdb.connect(), steps, 2, build)
    # what reads marts.progress, directly or not, never started
    assert not any("marts.progress" in reads(STEP[name])[1] for name in built)
    assert len(built) < len(steps) - 1


def test_one_stream_builds_in_order_on_the_callers_connection():
    con, seen = duckdb.connect(), []
    build_in_streams(con, _marts(), 1, lambda cur, step: seen.append((cur is con, step.name)))
    assert seen == [(True, s.name) for s in _marts()]


def test_two_streams_only_where_the_memory_limit_covers_them():
    con = duckdb.connect(config={"threads": 2, "memory_limit": "2GB"})
    con.execute("CREATE SCHEMA core; CREATE TABLE core.work_items AS SELECT range AS item_id FROM range(100000)")
    assert mart_streams(con) == 2
    con.execute("INSERT INTO core.work_items SELECT range FROM range(100000, 400000)")
    assert mart_streams(con) == 1  # 400,000 items: one at a time
    con.execute("SET threads = 1")
    con.execute("DELETE FROM core.work_items WHERE item_id >= 1000")
    assert mart_streams(con) == 1  # one thread: nothing to share
