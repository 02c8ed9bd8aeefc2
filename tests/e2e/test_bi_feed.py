"""The BI feed (issue #15): the ``bi`` views a freshly published demo carries, as a BI tool sees them
through SQLAlchemy; the Parquet export; what a pooled connection sees after a publish; and the
Evidence example's queries against the demo warehouse.

Reads the session's ``published_demo`` (one ``pulse demo``) and never changes it: every test that
changes a warehouse works on a copy in ``tmp_path``.
"""

from __future__ import annotations

import os
import re
import shutil
import time
from pathlib import Path

import duckdb
import pytest
import sqlalchemy as sa
from sqlalchemy.pool import NullPool

from pipelines.cli import EXIT_USAGE, main
from pipelines.export import export_parquet
from warehouse.bi import (BI_VIEWS, SCALAR_TYPES, BiContractError, ensure_bi_views, published_views,
                          render_reference)
from warehouse.store import WarehousePaths, publish

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).parents[2]
EVIDENCE = ROOT / "examples" / "evidence"
DECLARED = {v.name: tuple(c.name for c in v.columns) for v in BI_VIEWS}


@pytest.fixture(scope="module")
def warehouse(published_demo) -> Path:
    return published_demo / "pulse.duckdb"


def read(path: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(path), read_only=True) as con:
        return con.execute(sql).fetchall()


# --- the views --------------------------------------------------------------------------------


def test_the_published_bi_schema_is_exactly_the_declared_views(warehouse):
    with duckdb.connect(str(warehouse), read_only=True) as con:
        views = published_views(con)
    assert {v.name: tuple(c for c, _, _ in v.columns) for v in views} == DECLARED
    odd = [(v.name, c, t) for v in views for c, t, _ in v.columns if t not in SCALAR_TYPES]
    assert odd == []
    # export partitions by program_id: every view has it but those about people and snapshots
    assert sorted(v.name for v in views if v.partition_column is None) == ["resource_conflicts", "snapshots"]


def test_every_bi_view_reflects_through_sqlalchemy_with_scalar_types_and_comments(warehouse):
    engine = sa.create_engine(f"duckdb:///{warehouse}", connect_args={"read_only": True})
    try:
        inspector = sa.inspect(engine)
        assert sorted(inspector.get_view_names(schema="bi")) == sorted(DECLARED)
        scalar = (sa.Integer, sa.Float, sa.Boolean, sa.Date, sa.DateTime, sa.String)
        for name, declared in DECLARED.items():
            assert (inspector.get_table_comment(name, schema="bi")["text"] or "").strip(), name
            columns = inspector.get_columns(name, schema="bi")
            assert tuple(c["name"] for c in columns) == declared
            for c in columns:
                assert isinstance(c["type"], scalar), (name, c["name"], c["type"])
                assert (c["comment"] or "").strip(), (name, c["name"])
    finally:
        engine.dispose()


def test_no_bi_view_is_empty_on_the_demo(warehouse):
    counts = {name: read(warehouse, f"SELECT count(*) FROM bi.{name}")[0][0] for name in DECLARED}
    assert [name for name, n in counts.items() if n == 0] == []


def test_the_reasons_are_rows_one_per_health_reason(warehouse):
    same = """SELECT as_of, level, program_id, project_key, milestone_id, target_name, dimension, verdict,
                     severity, is_summary, reason_rank, sentence, keys, figure, figure_name FROM {}"""
    count = "SELECT count(*) FROM {}"
    assert read(warehouse, count.format("bi.health_reasons")) == read(warehouse, count.format("marts.health_reasons"))
    assert read(warehouse, f"{same.format('bi.health_reasons')} EXCEPT ALL {same.format('marts.health_reasons')}") == []
    # every sentence of the marts' reason lists is a row for the same target
    missing = read(warehouse, """
        SELECT p.program_id, u.sentence FROM marts.program_health p, unnest(p.reasons) AS u(sentence)
        WHERE NOT EXISTS (SELECT 1 FROM bi.health_reasons r WHERE r.target_id = 'program:' || p.program_id
                                                            AND r.sentence = u.sentence)
        UNION ALL
        SELECT p.project_key, u.sentence FROM marts.project_health p, unnest(p.reasons) AS u(sentence)
        WHERE NOT EXISTS (SELECT 1 FROM bi.health_reasons r
                          WHERE r.target_id = 'project:' || p.program_id || '|' || p.project_key
                            AND r.sentence = u.sentence)""")
    assert missing == []
    # target_id is one key: every reason, forecast and history row has its target in bi.health
    orphans = read(warehouse, """
        (SELECT 'reasons', target_id FROM bi.health_reasons EXCEPT SELECT 'reasons', target_id FROM bi.health)
        UNION ALL
        (SELECT 'forecasts', target_id FROM bi.forecasts EXCEPT SELECT 'forecasts', target_id FROM bi.health)
        UNION ALL
        (SELECT 'history', target_id FROM bi.health_history WHERE day = (SELECT max(day) FROM bi.health_history)
         EXCEPT SELECT 'history', target_id FROM bi.health)""")
    assert orphans == []


def test_a_mart_column_added_changes_no_view_and_one_removed_fails_loudly(warehouse, tmp_path):
    copy = tmp_path / "pulse.duckdb"
    shutil.copyfile(warehouse, copy)
    with duckdb.connect(str(copy)) as con:
        con.execute("ALTER TABLE marts.health ADD COLUMN added_later INTEGER")
        ensure_bi_views(con)
        assert tuple(r[0] for r in con.execute("DESCRIBE bi.health").fetchall()) == DECLARED["health"]
        con.execute("ALTER TABLE marts.health DROP COLUMN headline")
        with pytest.raises(BiContractError, match="marts.health has no column headline"):
            ensure_bi_views(con)
        # the failed publish step changed nothing: the views and their comments are as before
        assert con.execute("SELECT count(*) FROM duckdb_columns() WHERE schema_name = 'bi' AND comment IS NULL"
                           ).fetchone() == (0,)
        assert {v.name for v in published_views(con)} == set(DECLARED)


def test_docs_bi_md_reference_is_the_published_contract(warehouse):
    committed = (ROOT / "docs" / "bi.md").read_text(encoding="utf-8")
    reference = committed[committed.index("## Reference\n"):]
    assert reference == render_reference(warehouse), (
        "docs/bi.md's reference is stale: make demo, then replace everything from '## Reference' with "
        ".venv/bin/python -m warehouse.bi demo-output/pulse.duckdb")


# --- the export -------------------------------------------------------------------------------


def _parquet_rows(path: Path) -> int:
    source = f"'{path}/**/*.parquet', hive_partitioning = true" if path.is_dir() else f"'{path}'"
    with duckdb.connect() as con:
        return con.execute(f"SELECT count(*) FROM read_parquet({source})").fetchone()[0]


def test_export_writes_a_folder_per_program_and_the_views_rows(warehouse, tmp_path):
    out = tmp_path / "bi"
    result = export_parquet(warehouse, out)
    assert {v.view for v in result.views} == {f"bi.{name}" for name in DECLARED}
    assert result.as_of is not None and result.sync_id
    programs = {r[0] for r in read(warehouse, "SELECT program_id FROM bi.program_health")}
    for view in result.views:
        rows = read(warehouse, f"SELECT count(*) FROM {view.view}")[0][0]
        assert view.rows == rows == _parquet_rows(view.path), view.view
        if view.partition_column:
            ids = {r[0] for r in read(warehouse, f"SELECT DISTINCT program_id FROM {view.view}")}
            assert ids <= programs and view.partitions == tuple(sorted(f"program_id={p}" for p in ids))
            assert sorted(p.name for p in view.path.iterdir()) == list(view.partitions)
        else:
            assert view.path.name.endswith(".parquet") and view.path.is_file()
    # a program's folder holds only its rows, and the hive column reads back
    with duckdb.connect() as con:
        per_program = con.execute(f"""SELECT program_id, count(*) FROM read_parquet('{out}/health/**/*.parquet',
                                      hive_partitioning = true) GROUP BY ALL ORDER BY 1""").fetchall()
    assert per_program == read(warehouse, "SELECT program_id, count(*) FROM bi.health GROUP BY ALL ORDER BY 1")

    # a rerun replaces each view whole: same files, same rows, nothing left from before (a program
    # gone since), and what is not ours untouched
    before = sorted(p.relative_to(out) for p in out.rglob("*"))
    stale = out / "health" / "program_id=gone"
    stale.mkdir()
    shutil.copy(next((out / "health" / "program_id=checkout").iterdir()), stale / "data_0.parquet")
    (out / "notes.txt").write_text("not ours", encoding="utf-8")
    again = export_parquet(warehouse, out)
    shape = [(v.view, v.rows, v.partitions) for v in result.views]
    assert [(v.view, v.rows, v.partitions) for v in again.views] == shape
    assert not stale.exists() and (out / "notes.txt").read_text(encoding="utf-8") == "not ours"
    assert sorted(p.relative_to(out) for p in out.rglob("*") if p.name != "notes.txt") == before
    assert not list(out.glob(".export-*"))


def test_pulse_export_command(published_demo, tmp_path, capsys):
    out = tmp_path / "bi"
    assert main(["export", "--config", str(published_demo / "program.yaml"), "--format", "parquet", str(out)]) == 0
    printed = capsys.readouterr().out
    assert f"Exported {len(DECLARED)} bi views" in printed and "by program_id: 2 partitions" in printed
    assert (out / "forecasts" / "program_id=checkout").is_dir() and (out / "resource_conflicts.parquet").is_file()

    # no published file yet: say which command publishes one
    elsewhere = tmp_path / "not-synced"
    elsewhere.mkdir()
    shutil.copy(published_demo / "program.yaml", elsewhere / "program.yaml")
    assert main(["export", "--config", str(elsewhere / "program.yaml"), str(out)]) == EXIT_USAGE
    assert f"run pulse sync --config {elsewhere / 'program.yaml'} first" in capsys.readouterr().err
    assert main(["export", "--config", str(tmp_path / "missing.yaml"), str(out)]) == EXIT_USAGE


# --- pooled connections after a publish --------------------------------------------------------


def _published_copy(warehouse: Path, tmp_path: Path) -> WarehousePaths:
    paths = WarehousePaths(tmp_path / "pulse.duckdb")
    shutil.copyfile(warehouse, paths.published)
    return paths


def _publish_next_snapshot(paths: WarehousePaths) -> None:
    """What a sync does: a changed work file (one more meta.snapshots row), published by rename."""
    paths.work.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(paths.published, paths.work)
    with duckdb.connect(str(paths.work)) as con:
        con.execute("INSERT INTO meta.snapshots "
                    "SELECT 'next-sync', now(), as_of, row_counts FROM meta.snapshots LIMIT 1")
    publish(paths)


SNAPSHOTS = sa.text("SELECT count(*) FROM bi.snapshots")


def _count(engine: sa.Engine) -> int:
    with engine.connect() as con:
        return con.execute(SNAPSHOTS).scalar_one()


@pytest.mark.parametrize("pooling", [{"poolclass": NullPool},
                                     {"pool_recycle": 0.3, "pool_size": 1, "max_overflow": 0}],
                         ids=["NullPool", "pool_recycle-with-one-connection"])
def test_a_pooled_engine_with_the_documented_setting_sees_the_next_snapshot(warehouse, tmp_path, pooling):
    paths = _published_copy(warehouse, tmp_path)
    engine = sa.create_engine(f"duckdb:///{paths.published}", connect_args={"read_only": True}, **pooling)
    try:
        first = _count(engine)
        _publish_next_snapshot(paths)
        if "pool_recycle" in pooling:
            time.sleep(0.4)
        assert _count(engine) == first + 1
    finally:
        engine.dispose()


def test_the_default_pool_keeps_the_old_snapshot_until_disposed(warehouse, tmp_path):
    """The problem the setting solves: QueuePool keeps its DuckDB connection, and the connection
    keeps the file it opened (the renamed-over inode) for as long as it lives."""
    paths = _published_copy(warehouse, tmp_path)
    engine = sa.create_engine(f"duckdb:///{paths.published}", connect_args={"read_only": True})
    try:
        assert isinstance(engine.pool, sa.pool.QueuePool)
        first = _count(engine)
        _publish_next_snapshot(paths)
        assert _count(engine) == first
        engine.dispose()
        assert _count(engine) == first + 1
    finally:
        engine.dispose()


def test_pool_recycle_alone_is_not_enough_with_several_pooled_connections(warehouse, tmp_path):
    """DuckDB shares one database instance per file per process: a recycled connection reopens the
    file while another pooled connection still holds the old one, and gets the old snapshot again."""
    paths = _published_copy(warehouse, tmp_path)
    engine = sa.create_engine(f"duckdb:///{paths.published}", connect_args={"read_only": True}, pool_recycle=0.3)
    try:
        with engine.connect() as a, engine.connect() as b:
            first = a.execute(SNAPSHOTS).scalar_one()
            assert b.execute(SNAPSHOTS).scalar_one() == first
        _publish_next_snapshot(paths)
        time.sleep(0.4)
        assert [_count(engine) for _ in range(3)] == [first] * 3
    finally:
        engine.dispose()


# --- the Evidence example ----------------------------------------------------------------------


def _source_queries() -> dict[str, str]:
    return {p.stem: p.read_text(encoding="utf-8") for p in sorted((EVIDENCE / "sources" / "pulse").glob("*.sql"))}


def _page_queries() -> dict[str, str]:
    queries = {}
    for page in sorted((EVIDENCE / "pages").rglob("*.md")):
        for name, sql in re.findall(r"```sql (\w+)\n(.*?)```", page.read_text(encoding="utf-8"), re.S):
            assert name not in queries, f"{page.name}: query {name} defined twice"
            queries[name] = sql
    return queries


def test_the_evidence_source_points_at_the_demo_warehouse():
    import yaml

    connection = yaml.safe_load((EVIDENCE / "sources" / "pulse" / "connection.yaml").read_text(encoding="utf-8"))
    assert connection["type"] == "duckdb" and connection["name"] == "pulse"
    # Evidence joins filename to the source's folder
    resolved = os.path.normpath(EVIDENCE / "sources" / "pulse" / connection["options"]["filename"])
    assert Path(resolved) == ROOT / "demo-output" / "pulse.duckdb"


def test_every_evidence_query_runs_on_the_demo_warehouse_and_returns_rows(warehouse):
    """The source queries run against the warehouse as Evidence's DuckDB connector runs them; the
    page's queries then run against their results, which Evidence names pulse.<source file>."""
    sources, pages = _source_queries(), _page_queries()
    assert sources and pages
    with duckdb.connect() as con:
        con.execute(f"ATTACH '{str(warehouse).replace(chr(39), chr(39) * 2)}' AS warehouse (READ_ONLY)")
        con.execute("CREATE SCHEMA memory.pulse")
        for name, sql in sources.items():
            con.execute("USE warehouse")
            assert con.execute(f"SELECT count(*) FROM ({sql})").fetchone()[0] > 0, f"sources/pulse/{name}.sql"
            con.execute(f"CREATE TABLE memory.pulse.{name} AS {sql}")
        con.execute("USE memory")
        for name, sql in pages.items():
            assert con.execute(f"SELECT count(*) FROM ({sql})").fetchone()[0] > 0, f"pages: {name}"
    # every component reads a query the page defines
    text = "\n".join(p.read_text(encoding="utf-8") for p in (EVIDENCE / "pages").rglob("*.md"))
    assert set(re.findall(r"data=\{(\w+)\}", text)) <= set(pages)


def test_the_published_file_opens_in_the_duckdb_1x_that_bi_tools_embed(warehouse):
    """DuckDB 2.0's own format (header version 999) is refused by every DuckDB 1.x; Evidence,
    Metabase's driver and Superset's duckdb-engine embed one. The 1.4 format (67) opens in 1.4+
    (checked by hand with duckdb 1.4.5 reading bi.health from the demo)."""
    import struct

    header = warehouse.read_bytes()[:20]
    assert header[8:12] == b"DUCK" and struct.unpack_from("<Q", header, 12)[0] == 67
