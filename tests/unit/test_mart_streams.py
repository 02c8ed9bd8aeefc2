"""transforms.build.build_in_streams: steps two at a time, each after the steps it needs."""

from __future__ import annotations

import threading
import time

import duckdb
import pytest

from transforms.build import (DELTA_SOURCES, SNAPSHOT, STEP, STEPS, STREAM_STEPS, build_in_streams,
                              build_streams, reads, stream_needs)


def _marts() -> list:
    return [s for s in STEPS if s.name in STREAM_STEPS and s.schema == "marts"]


def _streamed() -> list:
    """What build_all hands the streams on a whole build: every step before marts.health_history,
    with the milestone snapshot before the first mart."""
    steps = [s for s in STEPS if s.name in STREAM_STEPS]
    first_mart = next(i for i, s in enumerate(steps) if s.schema == "marts")
    return steps[:first_mart] + [SNAPSHOT] + steps[first_mart:]


def test_what_a_step_needs_first():
    """What it reads; for an item-scoped step, every staging step that records item deltas too
    (core.jira_changelog_items reads staging.jira_issues, but merges the items whose paged
    changelogs staging.jira_changelog_versions found); the snapshot for what reads it."""
    needs = stream_needs(_streamed())
    assert needs["core.jira_changelog_items"] == {"staging.jira_issues", *DELTA_SOURCES}
    assert "staging.jira_changelog_versions" in DELTA_SOURCES
    assert needs["core.projects"] == {"staging.jira_issues"}  # rebuilt whole: what it reads
    assert needs["meta.milestone_snapshots"] == set(reads(SNAPSHOT)[1])
    assert "meta.milestone_snapshots" in needs["marts.milestone_slips"]
    assert all(not needs[name] for name in DELTA_SOURCES)
    for step in _streamed():
        assert set(reads(step)[1]) & STREAM_STEPS <= needs[step.name]


def test_each_step_starts_after_what_it_needs_and_two_run_at_once():
    con = duckdb.connect()
    steps, lock, events, running, most = _streamed(), threading.Lock(), [], [0], [0]

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
    needs = stream_needs(steps)
    for step in steps:
        started_at = events.index(("start", step.name))
        for needed in needs[step.name]:
            assert events.index(("end", needed)) < started_at, (step.name, needed)
    assert most[0] == 2


def test_the_longest_chain_starts_first_and_the_snapshot_before_what_reads_it():
    """build_all hands the milestone snapshot to the streams with the marts: it runs beside them,
    and ends before marts.milestone_slips, which reads it, starts. Of the steps ready, the one with
    the most steps waiting on it (through others) starts first, so marts.forecasts, on which the
    health waits, starts once its inputs are built and not after marts that nothing waits on."""
    lock, events = threading.Lock(), []

    def build(cur, step):
        with lock:
            events.append(("start", step.name))
        time.sleep(0.01)
        with lock:
            events.append(("end", step.name))

    build_in_streams(duckdb.connect(), [SNAPSHOT, *_marts()], 2, build)
    started = [name for kind, name in events if kind == "start"]
    assert sorted(started) == sorted(["meta.milestone_snapshots", *(s.name for s in _marts())])
    assert events.index(("end", "meta.milestone_snapshots")) < events.index(("start", "marts.milestone_slips"))
    # item_flow -> throughput -> forecasts -> critical_path -> health_reasons -> health: six steps
    assert set(started[:2]) == {"marts.item_flow", "marts.progress"}
    assert started.index("marts.forecasts") < started.index("marts.burnup")


def test_a_failure_stops_what_has_not_started_and_is_raised():
    """The first step fails at once; the other stream ends the step it is on (it takes 50 ms) and
    starts no other."""
    steps, built = _marts(), []

    def build(cur, step):
        if step.name == "marts.progress":
            raise RuntimeError("progress failed")
        time.sleep(0.05)
        built.append(step.name)

    with pytest.raises(RuntimeError, match="progress failed"):
        build_in_streams(duckdb.connect(), steps, 2, build)
    assert len(built) <= 1
    assert not any("marts.progress" in reads(STEP[name])[1] for name in built)


def test_the_streams_keep_the_connections_time_zone():
    con, zones = duckdb.connect(), set()
    con.execute("SET TimeZone = 'Pacific/Kiritimati'")
    build_in_streams(con, _marts(), 2, lambda cur, step: zones.add(
        cur.execute("SELECT current_setting('TimeZone')").fetchone()[0]))
    assert zones == {"Pacific/Kiritimati"}


def test_an_interrupt_of_the_caller_stops_the_running_steps():
    """Ctrl-C (or a terminated run) in the caller's thread interrupts the steps the streams run,
    instead of waiting for every mart to be built."""
    import signal

    started = threading.Event()

    def build(cur, step):
        started.set()
        cur.execute("SELECT count(*) FROM range(100000000000) a WHERE a.range % 7 = 3").fetchall()  # minutes

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGALRM, interrupt)
    began = time.monotonic()
    try:
        signal.setitimer(signal.ITIMER_REAL, 0.5)
        with pytest.raises(KeyboardInterrupt):
            build_in_streams(duckdb.connect(), _marts(), 2, build)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    assert started.is_set() and time.monotonic() - began < 10


def test_one_stream_builds_in_order_on_the_callers_connection():
    con, seen = duckdb.connect(), []
    build_in_streams(con, _streamed(), 1, lambda cur, step: seen.append((cur is con, step.name)))
    assert seen == [(True, s.name) for s in _streamed()]


def test_two_streams_only_where_the_memory_limit_covers_them():
    con = duckdb.connect(config={"threads": 2, "memory_limit": "2GB"})
    con.execute("CREATE SCHEMA core; CREATE TABLE core.work_items AS SELECT range AS item_id FROM range(100000)")
    assert build_streams(con) == 2
    con.execute("INSERT INTO core.work_items SELECT range FROM range(100000, 400000)")
    assert build_streams(con) == 1  # 400,000 items: one at a time
    con.execute("SET threads = 1")
    con.execute("DELETE FROM core.work_items WHERE item_id >= 1000")
    assert build_streams(con) == 1  # one thread: nothing to share


def test_the_raw_issues_count_too():
    """Before core.work_items exists (a first build from raw), and on a night that landed a new
    project's thousands of issues, the raw Jira and GitHub issues size the streams when they are
    more than the last build's items."""
    con = duckdb.connect(config={"threads": 2, "memory_limit": "2GB"})
    con.execute("CREATE SCHEMA raw; CREATE TABLE raw.jira_issues AS SELECT range AS id FROM range(100000)")
    assert build_streams(con) == 2
    con.execute("CREATE TABLE raw.github_issues AS SELECT range AS id FROM range(300000)")
    assert build_streams(con) == 1  # a first build of 400,000 issues
    con.execute("CREATE SCHEMA core; CREATE TABLE core.work_items AS SELECT range AS item_id FROM range(100000)")
    assert build_streams(con) == 1  # the last build held 100,000; this one may hold 400,000
    con.execute("DELETE FROM raw.github_issues")
    assert build_streams(con) == 2
