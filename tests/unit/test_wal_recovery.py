"""warehouse.store.connect opens a file whose killed writer left a WAL larger than the caller's
memory limit can replay (DuckDB rebuilds the WAL's index entries in memory on open)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import duckdb
import pytest

from warehouse.store import connect

KILLED_WRITER = textwrap.dedent("""
    import os, sys
    import duckdb
    from pathlib import Path
    from warehouse.store import connect, migrate
    path = Path(sys.argv[1])
    with connect(path) as con:
        migrate(con)
    con = duckdb.connect(str(path), config={"memory_limit": "1GB"})
    con.execute("SET checkpoint_threshold = '1GB'")
    for batch in range(6):  # commits as the writer makes them; none reaches a checkpoint
        con.execute(f'''INSERT INTO raw.jira_changelogs BY NAME
            SELECT 'jira-cloud' AS site, CAST(i // 10 AS VARCHAR) AS issue_id, CAST(i AS VARCHAR) AS history_id,
                   '{{"id": 1}}'::JSON AS payload, 0::UBIGINT AS payload_hash,
                   TIMESTAMPTZ '2026-11-01' AS synced_at, 's1' AS sync_id
            FROM range({batch} * 50000, {batch + 1} * 50000) r(i)''')
    os._exit(0)  # killed: the WAL is never checkpointed
""")


def test_a_wal_too_large_for_the_limit_is_replayed_at_the_recovery_limit(tmp_path):
    path = tmp_path / "work.duckdb"
    subprocess.run([sys.executable, "-c", KILLED_WRITER, str(path)], check=True)
    assert path.with_name("work.duckdb.wal").stat().st_size > 10 << 20
    with pytest.raises(duckdb.Error, match="replaying WAL"):  # what a sync's small limit met
        duckdb.connect(str(path), config={"memory_limit": "16MB"}).close()
    with connect(path, memory_limit="16MB") as con:
        held = con.execute("SELECT count(*), count(DISTINCT history_id) FROM raw.jira_changelogs").fetchone()
        assert held == (300_000, 300_000)
        assert con.execute("SELECT current_setting('memory_limit')").fetchone()[0].startswith("15")
