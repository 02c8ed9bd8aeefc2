"""``pulse status``: the last syncs, their outcome and cause, and each project's freshness and last
failure, for a person at a terminal or a monitor that reads the exit code.

Read from the published warehouse through an in-memory DuckDB that attaches it read-only, so it
works while a sync runs and never holds up the next publish. A sync that failed published nothing,
so its record is in the work database only (``.pulse/work.duckdb``): that file is read too when
no sync holds it (its run lock and its file lock both free), never waited for. While a sync runs,
its holder is shown instead and its outcome is not known yet.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import duckdb
from rich.console import Console
from rich.text import Text

STALE_AFTER_HOURS = 26.0  # a nightly sync, and two hours' grace
OUTCOME_STYLE = {"succeeded": "green", "partial": "yellow", "failed": "bold red", "running": "cyan"}


@dataclass(frozen=True)
class Run:
    """One row of meta.sync_runs."""

    sync_id: str
    started_at: datetime
    finished_at: datetime | None
    status: str  # running, succeeded, partial, failed
    cause: str | None = None

    @property
    def seconds(self) -> float | None:
        return (self.finished_at - self.started_at).total_seconds() if self.finished_at else None


@dataclass(frozen=True)
class Freshness:
    """A configured project's sync record (meta.source_syncs)."""

    program_id: str
    site: str
    project_key: str
    last_success: datetime | None = None
    last_failure: datetime | None = None
    last_error: str | None = None

    @property
    def failing(self) -> bool:
        """Its latest sync failed."""
        return self.last_failure is not None and (self.last_success is None or self.last_failure > self.last_success)

    def stale(self, now: datetime, after: timedelta) -> bool:
        return self.last_success is None or now - self.last_success > after


@dataclass(frozen=True)
class Status:
    warehouse: Path
    published_at: datetime | None
    runs: tuple[Run, ...]  # newest first
    projects: tuple[Freshness, ...]  # in program.yaml's order
    running: str | None = None  # who holds the run lock: a sync is running now
    work_note: str | None = None  # why runs after the last publish could not be read

    def last_finished(self) -> Run | None:
        return next((r for r in self.runs if r.status != "running"), None)


def problems(status: Status, now: datetime, stale_after: timedelta) -> list[str]:
    """Why ``pulse status`` exits 1: the last finished sync failed, or projects are stale."""
    found = []
    last = status.last_finished()
    if last is None:
        found.append("no sync has finished yet")
    elif last.status == "failed":
        found.append(f"the last sync failed ({last.started_at:%Y-%m-%d %H:%M} UTC)")
    stale = [p.project_key for p in status.projects if p.stale(now, stale_after)]
    if stale:
        found.append(f"{len(stale)} {'project' if len(stale) == 1 else 'projects'} without a successful sync "
                     f"for over {_hours(stale_after)}: {', '.join(stale)}")
    return found


# -- Reading -----------------------------------------------------------------------------------

_RUNS = "SELECT sync_id, started_at, finished_at, status, cause FROM meta.sync_runs ORDER BY started_at DESC LIMIT ?"
_PROJECTS = """
    SELECT site, project_key,
           max(finished_at) FILTER (WHERE status = 'succeeded'),
           max(finished_at) FILTER (WHERE status = 'failed'),
           arg_max(error, finished_at) FILTER (WHERE status = 'failed')
    FROM meta.source_syncs GROUP BY ALL"""


def _read(con: duckdb.DuckDBPyConnection, runs: int) -> tuple[list[Run], dict[tuple[str, str], tuple]]:
    return ([Run(*row) for row in con.execute(_RUNS, [runs]).fetchall()],
            {(row[0], row[1]): row[2:] for row in con.execute(_PROJECTS).fetchall()})


def read_status(published: Path, work: Path, run_lock: Path, configured: Iterable[tuple[str, str, str]],
                runs: int = 10) -> Status:
    """The status of the warehouse at ``published``; ``configured``: (program id, site, project key)
    of every project program.yaml names."""
    from warehouse.locks import LockTimeout, hold, read_holder
    from warehouse.store import connect, file_lock

    con = duckdb.connect(config={"threads": 1})
    try:
        con.execute("SET TimeZone = 'UTC'")
        escaped = str(published).replace("'", "''")
        con.execute(f"ATTACH '{escaped}' AS pulse (READ_ONLY)")
        con.execute("USE pulse")
        found_runs, found_projects = _read(con, runs)
        has_snapshots = con.execute("SELECT count(*) FROM duckdb_tables() WHERE database_name = 'pulse' "
                                    "AND schema_name = 'meta' AND table_name = 'snapshots'").fetchone()[0]
        published_at = (con.execute("SELECT max(published_at) FROM meta.snapshots").fetchone()[0]
                        if has_snapshots else None)
    finally:
        con.close()

    running = note = None
    if work.exists():
        try:  # both locks free, or a sync is at work: then its record is not final anyway
            with hold(run_lock, shared=True), hold(file_lock(work), shared=True):
                with connect(work, read_only=True, threads=1, memory_limit="256MB") as wcon:
                    newer_runs, newer_projects = _read(wcon, runs)
            by_id = {r.sync_id: r for r in found_runs} | {r.sync_id: r for r in newer_runs}
            found_runs = sorted(by_id.values(), key=lambda r: r.started_at, reverse=True)[:runs]
            found_projects |= newer_projects
        except LockTimeout:
            holder = read_holder(run_lock)
            if holder is not None:
                running = holder.describe()
            else:
                note = "the work database is in use (a Dagster step?): runs after the last publish are not shown"
        except duckdb.Error as exc:
            note = (f"the work database could not be read ({' '.join(str(exc).split())[:120]}): "
                    "runs after the last publish are not shown")
    projects = tuple(Freshness(program, site, key, *found_projects.get((site, key), (None, None, None)))
                     for program, site, key in configured)
    return Status(published, published_at, tuple(found_runs), projects, running, note)


# -- Showing -----------------------------------------------------------------------------------

def _hours(delta: timedelta) -> str:
    hours = delta.total_seconds() / 3600
    return f"{hours:g} h"


def age(then: datetime | None, now: datetime) -> str:
    """How long ago, in the largest unit that says it: '12 s ago', '7 min ago', '5 h ago', '3 d ago'."""
    if then is None:
        return "never"
    seconds = (now - then).total_seconds()
    if seconds < 60:
        return f"{max(seconds, 0):.0f} s ago"
    if seconds < 3600:
        return f"{seconds // 60:.0f} min ago"
    if seconds < 2 * 86400:
        return f"{seconds / 3600:.0f} h ago"
    return f"{seconds / 86400:.0f} d ago"


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 90:
        return f"{seconds:.1f} s"
    return f"{seconds // 60:.0f} min {seconds % 60:02.0f} s"


def columns(header: Sequence[str], rows: Sequence[Sequence[Text]], width: int, right: frozenset[int] = frozenset()
            ) -> list[Text]:
    """Rows as aligned columns, the header underlined; the last column takes what is left of
    ``width`` and is cut to it (causes and errors are long; the tables they come from hold them whole)."""
    widths = [max([len(h)] + [r[i].cell_len for r in rows]) for i, h in enumerate(header[:-1])]
    lines = []
    for cells, style in [([Text(h) for h in header], "bold underline"), *[(r, "") for r in rows]]:
        line = Text(style=style)
        for i, (cell, w) in enumerate(zip(cells, widths)):
            cell = cell.copy()
            if i in right:
                cell.pad_left(w - cell.cell_len)
            cell.truncate(w, pad=True)
            line.append_text(cell).append("  ")
        last = cells[-1].copy()
        last.truncate(max(width - line.cell_len, 12), overflow="ellipsis")
        line.append_text(last)
        line.rstrip()
        lines.append(line)
    return lines


def runs_lines(runs: Sequence[Run], width: int) -> list[Text]:
    return columns(("started (UTC)", "took", "outcome", "cause"), [
        (Text(f"{run.started_at.astimezone(timezone.utc):%Y-%m-%d %H:%M}"), Text(duration(run.seconds)),
         Text(run.status, style=OUTCOME_STYLE.get(run.status, "")), Text(run.cause or ""))
        for run in runs], width, right=frozenset({1}))


def projects_lines(projects: Sequence[Freshness], now: datetime, stale_after: timedelta, width: int) -> list[Text]:
    rows = []
    for p in projects:
        stale = p.stale(now, stale_after)
        # STALE: too long without a success; FAILING: its latest sync failed (its last success is older)
        mark = " STALE" if stale else " FAILING" if p.failing else ""
        synced = Text(age(p.last_success, now) + mark, style="bold red" if stale else "yellow" if p.failing else "")
        failure = Text("")
        if p.last_failure is not None:
            failure = Text(f"{age(p.last_failure, now)}: {p.last_error or 'failed'}",
                           style="red" if p.failing else "dim")
        rows.append((Text(p.program_id), Text(p.site), Text(p.project_key), synced, failure))
    return columns(("program", "site", "project", "last synced", "last failure"), rows, width)


def render(status: Status, console: Console, now: datetime, stale_after: timedelta) -> list[str]:
    """Print the status; returns the problems that make ``pulse status`` exit 1."""
    published = f", published {age(status.published_at, now)}" if status.published_at else ""
    console.print(Text(f"Warehouse {status.warehouse}{published}", style="bold"), soft_wrap=True)
    if status.running:
        console.print(Text(f"A sync is running now: {status.running}", style="cyan"), soft_wrap=True)
    if status.work_note:
        console.print(Text(f"Note: {status.work_note}", style="dim"), soft_wrap=True)
    console.print(Text(f"\nLast {len(status.runs)} {'sync' if len(status.runs) == 1 else 'syncs'}, newest first "
                       "(meta.sync_runs)", style="bold"))
    for line in runs_lines(status.runs, console.width):
        console.print(line, soft_wrap=True)
    console.print(Text(f"\nProjects: last successful sync, stale after {_hours(stale_after)} "
                       "(meta.source_syncs)", style="bold"))
    for line in projects_lines(status.projects, now, stale_after, console.width):
        console.print(line, soft_wrap=True)
    found = problems(status, now, stale_after)
    if found:
        console.print(Text("Needs attention: " + "; ".join(found), style="bold red"), soft_wrap=True)
    else:
        last = status.last_finished()
        console.print(Text(f"OK: the last sync {last.status if last else 'finished'}; every project synced within "
                           f"{_hours(stale_after)}.", style="green"), soft_wrap=True)
    return found
