"""A GitHub issue's state is a column of raw.github_issues, written with the row and filled by
migration 020 for rows landed before it; the night's open-count comparison reads that column."""

from __future__ import annotations

from datetime import datetime, timezone

from connectors.github_source import Page
from pipelines.ingest import _land_issues, _open_count_disagrees
from warehouse.store import connect, migrate
from warehouse.writer import Writer


def issue(number: int, state: str) -> dict:
    return {"id": 1000 + number, "number": number, "title": f"#{number}", "state": state,
            "updated_at": "2026-11-02T00:00:00Z"}


def repository(open_count: int) -> Page:
    return Page([{"full_name": "acme/web", "open_issues_count": open_count}], None, "/repos/acme/web")


def test_landed_issues_carry_their_state_and_the_open_count_reads_it(tmp_path):
    with connect(tmp_path / "w.duckdb") as con:
        migrate(con)
        with Writer(con) as writer:
            _land_issues(writer, "github/acme/web", "gh", "acme/web",
                         [issue(1, "open"), issue(2, "open"), issue(3, "closed")], "s1")
        assert con.execute("SELECT number, state FROM raw.github_issues ORDER BY number").fetchall() == [
            (1, "open"), (2, "open"), (3, "closed")]
        assert not _open_count_disagrees(con, "gh", "acme/web", repository(2), {})
        # #2 was deleted on GitHub: the repository counts one open issue, we hold two
        assert _open_count_disagrees(con, "gh", "acme/web", repository(1), {})
        # tonight's landing closed #2 (landed: number -> open): its state is tonight's, not the held one
        assert not _open_count_disagrees(con, "gh", "acme/web", repository(1), {2: False})
        # a 304 on the repository: its open count is as it was
        assert not _open_count_disagrees(con, "gh", "acme/web", Page(None, None, "/repos/acme/web"), {})


def test_migration_020_fills_the_state_of_rows_landed_before_it(tmp_path):
    with connect(tmp_path / "old.duckdb") as con:
        migrate(con)
        # as a warehouse from before 020 held them: the column absent, the state only in the payload
        con.execute("ALTER TABLE raw.github_issues DROP COLUMN state")
        con.execute("DELETE FROM meta.schema_migrations WHERE name = '020_github_issue_state.sql'")
        for number, state in ((1, "open"), (2, "closed")):
            con.execute("INSERT INTO raw.github_issues BY NAME SELECT 'gh' AS site, 'acme/web' AS repo, ? AS number, "
                        "? AS issue_id, ?::JSON AS payload, ? AS synced_at, 's0' AS sync_id",
                        [number, 1000 + number, f'{{"number": {number}, "state": "{state}"}}',
                         datetime(2026, 11, 1, tzinfo=timezone.utc)])
        assert migrate(con) == ["020_github_issue_state.sql"]
        assert con.execute("SELECT number, state FROM raw.github_issues ORDER BY number").fetchall() == [
            (1, "open"), (2, "closed")]
