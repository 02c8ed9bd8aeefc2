"""transforms.history.replay_streams: two replays at once only where two rolled-back cores fit."""

from __future__ import annotations

import duckdb
import pytest

from transforms.history import replay_streams


@pytest.mark.parametrize("items, threads, memory_limit, streams", [
    (10_000, 2, "2GB", 2),
    (100_000, 2, "2GB", 2),
    (200_000, 2, "2GB", 1),      # 2 x 200,000 x 5.5 kB is more than 2GB
    (100_000, 2, "640MB", 1),
    (10_000, 1, "2GB", 1),       # one thread: nothing to run the second stream on
])
def test_two_streams_where_they_fit(items, threads, memory_limit, streams):
    con = duckdb.connect()
    con.execute("CREATE SCHEMA core")
    con.execute(f"CREATE TABLE core.work_items AS SELECT range AS item_id FROM range({items})")
    con.execute(f"SET threads = {threads}")
    con.execute(f"SET memory_limit = '{memory_limit}'")
    assert replay_streams(con) == streams


def test_two_streams_share_the_threads_and_give_them_back(monkeypatch):
    """While two streams replay, each statement gets half the threads (DuckDB's setting is the
    database's); afterwards, failed or not, the setting is as it was."""
    from contextlib import contextmanager
    from datetime import datetime, timedelta, timezone

    import transforms.history as history

    seen = []

    @contextmanager
    def catalog(cur, name):
        seen.append(int(cur.execute("SELECT current_setting('threads')").fetchone()[0]))

        def rebuild(instant, health_only=False):
            raise duckdb.Error("a replay failed")

        yield rebuild

    monkeypatch.setattr(history, "replay_catalog", catalog)
    con = duckdb.connect()
    con.execute("SET threads = 2")
    day = datetime(2026, 11, 27, tzinfo=timezone.utc)
    with pytest.raises(duckdb.Error, match="a replay failed"):
        history.replay_health(con, [day, day - timedelta(days=7)], streams=2)
    assert seen == [1, 1]
    assert con.execute("SELECT current_setting('threads')").fetchone()[0] == 2
