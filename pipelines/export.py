"""``pulse export``: the bi views of a published snapshot as files a BI tool or a lake reads.

Parquet, one folder per view, hive-partitioned by ``program_id`` where the view has it
(``health/program_id=checkout/data_0.parquet``), so a tool reads one program without scanning the
others; a view without programs (``resource_conflicts``, ``snapshots``) is one file. Parquet also
reads the same in every DuckDB version, Spark, pandas and the BI tools, whatever storage version
the published ``.duckdb`` file has.

The published file is opened read-only: an export never blocks a sync and never changes the
snapshot. A rerun replaces each view's files as a whole (written beside them first, then swapped
in), so it never leaves a duplicate or a stale partition behind.
"""

from __future__ import annotations

import os
import shutil
import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from warehouse.bi import published_views
from warehouse.store import connect

class ExportError(Exception):
    """The published file cannot be exported (no bi views: published before the BI feed existed)."""


@dataclass(frozen=True)
class ExportedView:
    """One view as written: where, how many rows, and its partitions (program ids) if any."""

    view: str  # bi.<name>
    path: Path  # a folder of partitions, or one .parquet file
    rows: int
    partition_column: str | None
    partitions: tuple[str, ...]  # the folder names under path, e.g. program_id=checkout


@dataclass(frozen=True)
class ExportResult:
    """What ``export_parquet`` wrote, and which snapshot it came from."""

    out: Path
    sync_id: str | None
    as_of: datetime | None
    views: tuple[ExportedView, ...]

    @property
    def rows(self) -> int:
        return sum(v.rows for v in self.views)


def _literal(text: str) -> str:
    """A SQL string literal: COPY TO takes its path as a literal, not a parameter."""
    return "'" + text.replace("'", "''") + "'"


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()


def export_parquet(published: Path, out: Path) -> ExportResult:
    """Write every bi view of ``published`` under ``out``: ``out/<view>/program_id=<id>/*.parquet``
    for views with a program_id (NULL ids in ``program_id=__HIVE_DEFAULT_PARTITION__``), else
    ``out/<view>.parquet``. Other files in ``out`` are left alone; each view's previous export is
    replaced whole once every view has been written."""
    if out.exists() and not out.is_dir():
        raise ExportError(f"{out} is a file; expected a folder to export into")
    out.mkdir(parents=True, exist_ok=True)
    staging = out / f".export-{os.getpid()}-{uuid.uuid4().hex}"
    staging.mkdir()
    written: list[tuple[ExportedView, Path]] = []
    try:
        with connect(published, read_only=True) as con:
            views = published_views(con)
            if not views:
                raise ExportError(f"{published} has no bi views (published before the BI feed existed): "
                                  f"run pulse sync once to publish them")
            snapshot = con.execute(
                "SELECT sync_id, as_of FROM bi.snapshots ORDER BY published_at DESC LIMIT 1").fetchone()
            for view in views:
                columns = ", ".join('"' + name.replace('"', '""') + '"' for name, _, _ in view.columns)
                query = f"SELECT {columns} FROM {view.qualified}"
                if view.partition_column:
                    target, final = staging / view.name, out / view.name
                    options = f"FORMAT parquet, PARTITION_BY ({view.partition_column}), OVERWRITE_OR_IGNORE"
                else:
                    target, final = staging / f"{view.name}.parquet", out / f"{view.name}.parquet"
                    options = "FORMAT parquet"
                rows = con.execute(f"COPY ({query}) TO {_literal(str(target))} ({options})").fetchone()[0]
                partitions = ()
                if view.partition_column:
                    target.mkdir(exist_ok=True)  # an empty view writes no partition: an empty folder then
                    partitions = tuple(sorted(p.name for p in target.iterdir() if p.is_dir()))
                written.append((ExportedView(view.qualified, final, int(rows), view.partition_column, partitions),
                                target))
        for exported, target in written:  # every view is written: swap each in whole
            name = exported.view.removeprefix("bi.")
            _remove(out / name)  # whichever layout the previous export had
            _remove(out / f"{name}.parquet")
            os.replace(target, exported.path)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return ExportResult(out, snapshot[0] if snapshot else None, snapshot[1] if snapshot else None,
                        tuple(e for e, _ in written))
