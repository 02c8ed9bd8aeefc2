"""Migrations: every pending file applies in one transaction, so an upgrade lands whole or not at
all (warehouse.store.migrate)."""

from __future__ import annotations

import shutil
from importlib import resources
from pathlib import Path

import duckdb
import pytest

from warehouse import store
from warehouse.store import connect, migrate

SHIPPED = sorted(p.name for p in resources.files("warehouse").joinpath("sql").iterdir() if p.name.endswith(".sql"))


def migrations_with(tmp_path: Path, extra: dict[str, str]) -> Path:
    """A package folder holding the shipped migrations and ``extra`` files after them."""
    folder = tmp_path / "package" / "sql"
    folder.mkdir(parents=True)
    for name in SHIPPED:
        shutil.copyfile(Path(str(resources.files("warehouse").joinpath("sql", name))), folder / name)
    for name, text in extra.items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder.parent


def applied(con: duckdb.DuckDBPyConnection) -> list[str]:
    return [name for (name,) in con.execute("SELECT name FROM meta.schema_migrations ORDER BY name").fetchall()]


def tables(con: duckdb.DuckDBPyConnection) -> set[str]:
    return {f"{s}.{t}" for s, t in con.execute("SELECT schema_name, table_name FROM duckdb_tables()").fetchall()}


def test_a_fresh_warehouse_gets_every_migration_once(tmp_path):
    with connect(tmp_path / "w.duckdb") as con:
        assert migrate(con) == SHIPPED
        assert applied(con) == SHIPPED
        assert migrate(con) == []  # current: nothing runs, nothing is written


def test_an_upgrade_whose_last_file_fails_applies_none_of_its_files(tmp_path, monkeypatch):
    with connect(tmp_path / "w.duckdb") as con:
        migrate(con)
        before = tables(con)
        package = migrations_with(tmp_path, {
            "900_fine.sql": "CREATE TABLE meta.fine (x INTEGER);",
            "901_broken.sql": "CREATE TABLE meta.broken (x INTEGER); SELECT * FROM meta.no_such_table;",
        })
        monkeypatch.setattr(store.resources, "files", lambda _package: package)
        with pytest.raises(duckdb.CatalogException, match="no_such_table"):
            migrate(con)
        assert applied(con) == SHIPPED and tables(con) == before  # 900 did not land without 901
        (package / "sql" / "901_broken.sql").write_text("CREATE TABLE meta.broken (x INTEGER);", encoding="utf-8")
        assert migrate(con) == ["900_fine.sql", "901_broken.sql"]
        assert tables(con) == before | {"meta.fine", "meta.broken"}


def test_a_fresh_warehouse_whose_migration_fails_is_left_empty(tmp_path, monkeypatch):
    package = migrations_with(tmp_path, {"901_broken.sql": "SELECT * FROM meta.no_such_table;"})
    monkeypatch.setattr(store.resources, "files", lambda _package: package)
    with connect(tmp_path / "w.duckdb") as con:
        with pytest.raises(duckdb.CatalogException):
            migrate(con)
        assert tables(con) == set()
