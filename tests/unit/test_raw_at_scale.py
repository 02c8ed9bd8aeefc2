"""bench/raw_at_scale.py: a seed of the portfolio synced through the connectors, copied three times
with every key unique per copy, builds every core and marts table, each exactly three times the
seed's."""

from __future__ import annotations

import re
import shutil
from datetime import datetime, timezone

import duckdb
import pytest

from bench.raw_at_scale import ID, KEY, REPO, generate
from transforms.build import MARTS_ORDER, build_core, build_table
from warehouse.store import connect

AS_OF = datetime(2026, 11, 27, tzinfo=timezone.utc)  # the seed's scenario date
SEED_ITEMS, COPIES = 300, 3


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("raw_at_scale")
    generated = generate(SEED_ITEMS * COPIES, tmp / "copies.duckdb", max_seed_items=SEED_ITEMS, seed_dir=tmp,
                         log=lambda _: None)
    (seed,) = tmp.glob("seed-*.duckdb")
    return generated, seed, tmp / "copies.duckdb"


def built(path) -> dict[str, int]:
    """Build staging, core and marts on ``path``; rows per table."""
    with connect(path) as con:
        build_core(con, AS_OF)
        for table in MARTS_ORDER:
            build_table(con, "marts", table, AS_OF)
        tables = con.execute("""SELECT schema_name || '.' || table_name FROM duckdb_tables()
                                WHERE schema_name IN ('staging', 'core', 'marts')""").fetchall()
        return {t: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for (t,) in tables}


def test_primary_keys_are_unique_and_keys_rewritten_per_copy(files):
    generated, seed, raw = files
    assert (generated.copies, generated.seed_items, generated.items) == (COPIES, SEED_ITEMS, SEED_ITEMS * COPIES)
    with duckdb.connect(str(seed), read_only=True) as s, duckdb.connect(str(raw), read_only=True) as con:
        keys = con.execute("""SELECT table_name, constraint_column_names FROM duckdb_constraints()
                              WHERE schema_name = 'raw' AND constraint_type = 'PRIMARY KEY'""").fetchall()
        assert len(keys) >= 10
        for table, columns in keys:
            cols = ", ".join(columns)
            total, distinct = con.execute(
                f"SELECT count(*), count(DISTINCT ({cols})) FROM raw.{table}").fetchone()
            seed_total = s.execute(f"SELECT count(*) FROM raw.{table}").fetchone()[0]
            assert total == distinct, table
            assert total == (seed_total if table == "jira_sites" else COPIES * seed_total), table
        # a copy's keys: PAY -> PAYC1, acme/web -> acme/web-c1, in the columns and in the JSON
        rows = con.execute("SELECT project_key, issue_key, payload->>'$.key', payload->>'$.fields.project.key' "
                           "FROM raw.jira_issues").fetchall()
        assert all(re.fullmatch(r"[A-Z][A-Z0-9]*C[0-2]", p) and k.startswith(p + "-") and j == k and q == p
                   for p, k, j, q in rows)
        repos = con.execute("SELECT repo, payload->>'$.repository_url' FROM raw.github_issues").fetchall()
        assert all(re.fullmatch(r"[\w.-]+/[\w.-]+-c[0-2]", r) and u.endswith("/repos/" + r) for r, u in repos)
        for table in ("jira_issues", "github_issues", "github_issue_events", "jira_changelogs"):
            leftover = con.execute(f"SELECT count(*) FROM raw.{table} WHERE regexp_matches(payload::VARCHAR, ?)",
                                   [f"[{ID}{KEY}{REPO}]"]).fetchone()[0]
            assert leftover == 0, table


def test_core_and_marts_build_with_every_table_three_times_the_seed(files, tmp_path):
    generated, seed, raw = files
    seed_copy = tmp_path / "seed.duckdb"
    shutil.copy(seed, seed_copy)
    one, many = built(seed_copy), built(raw)
    assert many["core.work_items"] == COPIES * SEED_ITEMS == generated.work_items
    assert set(many) == set(one)
    # the copies share their people (users are not rewritten), so the people tables do not triple
    shared = {"core.people", "core.person_identities", "marts.person_match_suggestions", "marts.resource_conflicts",
              "marts.resource_conflict_items"}
    assert {t: n for t, n in many.items() if t not in shared} == {t: COPIES * n for t, n in one.items() if t not in shared}
    with duckdb.connect(str(raw), read_only=True) as con:
        # every reference stays inside its copy: links, remote links and keys written in text
        crossing = con.execute("""
            SELECT count(*) FROM core.dependencies
            WHERE regexp_extract(blocker_project_key, '[Cc]([0-9]+)$', 1)
               <> regexp_extract(blocked_project_key, '[Cc]([0-9]+)$', 1)""").fetchone()[0]
        assert crossing == 0
        assert con.execute("SELECT count(*) FROM core.dependencies WHERE NOT both_synced").fetchone()[0] == 0
