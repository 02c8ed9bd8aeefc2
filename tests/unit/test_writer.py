"""warehouse.writer and upsert: order, batches, the last row of a key, failures kept to their project."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from warehouse.store import connect, migrate, upsert
from warehouse.writer import Writer

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


def test_a_failed_page_fails_its_project_only(con):
    with Writer(con) as writer:
        writer.land("raw.jira_versions", [{**version(1, "x"), "no_such_column": 1}], project="j/BAD")
        writer.land("raw.jira_versions", [version(2, "fine")], project="j/GOOD")
        with pytest.raises(Exception, match="no_such_column"):
            writer.call(lambda w: None, project="j/BAD")
        assert writer.call(lambda w: "ran", project="j/GOOD") == "ran"
    assert [v for v, *_ in held(con)] == ["2"]
