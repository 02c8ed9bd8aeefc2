"""Incremental transforms equal a rebuild from scratch, table by table, and parse only what changed.

A night's build parses again only the issues whose raw rows were landed again (or are new, moved
or gone), and merges exactly those items into the item-scoped tables (transforms/build.py). After
sandbox nights with new, edited, moved, re-estimated and deleted items, and after a full resync,
every staging, core and marts table built that way must equal the same tables built from nothing.
"""

from __future__ import annotations

import shutil
from dataclasses import replace
from datetime import date, datetime, timezone
from pathlib import Path

import pytest
import requests

from demo_world import failures, sync, write_program
from pipelines.ingest import SyncPolicy
from sandbox.scenario import build
from sandbox.server import serve
from transforms.build import (CORE_ORDER, MARTS_ORDER, STAGING_ORDER, STEPS, Built, build_all, build_core,
                              build_if_changed, build_step, forget_derived)
from warehouse.store import connect, migrate

pytestmark = pytest.mark.e2e

MARTS = MARTS_ORDER
SCOPED = {step.name for step in STEPS if step.scoped}


def sync_into(sandbox, path: Path, sync_id: str, policy: SyncPolicy = SyncPolicy()) -> None:
    with connect(path) as con:
        migrate(con)
        assert failures(sync(sandbox, con, sync_id, policy=policy)) == {}


def transform(path: Path, as_of: datetime) -> dict[str, Built]:
    """As a pipeline run builds: only what changed, merged where a table is item-scoped."""
    with connect(path) as con:
        write_program(con)
        return build_all(con, as_of)


def tables(path: Path) -> dict[str, str]:
    """Every staging, core and marts table: its rows as one digest, columns in name order."""
    with connect(path) as con:
        digests = {}
        for schema, table in [*[("staging", t) for t in STAGING_ORDER], *[("core", t) for t in CORE_ORDER],
                              *[("marts", t) for t in MARTS]]:
            columns = sorted(c for (c,) in con.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_schema = ? AND table_name = ?",
                [schema, table]).fetchall() if c != "recorded_at")  # health_history's wall clock
            digests[f"{schema}.{table}"] = digest(con, f"{schema}.{table}", columns)
        return digests


def digest(con, name: str, columns: list[str] | None = None) -> str:
    """A table's rows (those columns, or all) as one digest: its row count and an md5 of the rows."""
    row = ", ".join(f'"{c}"' for c in columns) if columns is not None else "t"
    return con.execute(f"SELECT count(*) || ':' || coalesce(md5(string_agg(r, '|' ORDER BY r)), '') "
                       f"FROM (SELECT CAST(({row}) AS VARCHAR) AS r FROM {name} t)").fetchall()[0][0]


def from_scratch(path: Path, copy: Path, as_of: datetime) -> dict[str, str]:
    """The same raw tables with every derived table emptied, built once."""
    shutil.copyfile(path, copy)
    with connect(copy) as con:
        forget_derived(con)
    assert all(b.how in ("rebuilt", "ran") for b in transform(copy, as_of).values())
    return tables(copy)


def parsed_again(path: Path, since: datetime) -> tuple[int, int]:
    """(issues parsed by the last build, issues landed since ``since``)."""
    with connect(path) as con:
        return con.execute("""
            SELECT (SELECT count(*) FROM staging.jira_issues s
                    JOIN raw.jira_issues r ON r.site = s.site AND r.issue_id = s.issue_id AND r.synced_at > ?),
                   (SELECT count(*) FROM raw.jira_issues WHERE synced_at > ?)""", [since, since]).fetchone()


def test_incremental_transforms_equal_a_rebuild_after_nights_and_a_full_resync(tmp_path):
    work = tmp_path / "work.duckdb"
    with serve(build("demo", 7, date(2026, 11, 27))) as sandbox:
        sync_into(sandbox, work, "first")
        as_of = datetime(2026, 11, 27, tzinfo=timezone.utc)
        transform(work, as_of)
        assert tables(work) == from_scratch(work, tmp_path / "scratch0.duckdb", as_of)
        for night in range(2):
            changes = requests.post(f"{sandbox.url}/_sandbox/advance", json={"days": 1}, timeout=30).json()
            assert changes["deleted"] and changes["moved"]
            as_of = datetime.fromisoformat(changes["now"])
            with connect(work) as con:
                before = con.execute("SELECT max(synced_at) FROM raw.jira_issues").fetchone()[0]
            sync_into(sandbox, work, f"night-{night}")
            built = transform(work, as_of)
            # the item-scoped tables merged the night's items; none was rebuilt whole
            assert {b.how for name, b in built.items() if name in SCOPED} == {"merged"}, built
            assert all(0 < built[name].items < 200 for name in SCOPED)
            # the burn-up applied the night's changes to the lines they touched, rebuilding none whole
            with connect(work) as con:
                lines = con.execute("SELECT count(DISTINCT (level, program_id, project_key, milestone_id)) "
                                    "FROM marts.burnup").fetchone()[0]
            assert built["marts.burnup"].how == "merged" and 0 < built["marts.burnup"].items < lines
            # the item flow replaced the merged items' rows and moved the rest to the new as_of in place
            with connect(work) as con:
                flow_rows = con.execute("SELECT count(*) FROM marts.item_flow").fetchone()[0]
                assert con.execute("SELECT count(DISTINCT as_of) FROM marts.item_flow").fetchone()[0] == 1
            assert built["marts.item_flow"].how == "merged" and 0 < built["marts.item_flow"].items < flow_rows
            with connect(work) as con:  # applied, none left pending
                assert con.execute("SELECT count(*) FROM meta.burnup_changes").fetchone()[0] == 0
                assert con.execute("SELECT count(*) FROM meta.item_flow_changes").fetchone()[0] == 0
            again, landed = parsed_again(work, before)
            with connect(work) as con:
                held = con.execute("SELECT count(*) FROM staging.jira_issues").fetchone()[0]
            assert 0 < again == landed < held / 4  # what the night landed, and nothing else, was parsed
            assert tables(work) == from_scratch(work, tmp_path / f"scratch{night + 1}.duckdb", as_of)
        sync_into(sandbox, work, "resync", SyncPolicy(full=True))
        transform(work, as_of)
        assert tables(work) == from_scratch(work, tmp_path / "scratch-full.duckdb", as_of)
        # A build over unchanged raw parses nothing and changes nothing.
        with connect(work) as con:
            stamp = con.execute("SELECT max(issue_synced_at), count(*) FROM staging.jira_issues").fetchone()
        before_tables = tables(work)
        transform(work, as_of)
        assert tables(work) == before_tables
        with connect(work) as con:
            assert con.execute("SELECT max(issue_synced_at), count(*) FROM staging.jira_issues").fetchone() == stamp
            # As a pipeline run builds: every table's inputs are those of its last build, so none is built.
            assert all(b.skipped for b in build_core(con, as_of, force=False))
            assert all(build_if_changed(con, "marts", t, as_of).skipped for t in MARTS)
            # A new as-of instant is new input for the marts only.
            later = datetime(2026, 12, 1, tzinfo=timezone.utc)
            assert all(b.skipped for b in build_core(con, later, force=False))
            assert not any(build_if_changed(con, "marts", t, later).skipped for t in MARTS)


def test_a_table_built_in_passes_equals_it_built_in_one(published_demo, tmp_path):
    """At scale core.item_history and core.burnup_events are built whole in passes, each a hash
    share of the items (Step.pass_items); the passes together are the one-pass table, row for row."""
    work = tmp_path / "passes.duckdb"
    shutil.copyfile(published_demo / "pulse.duckdb", work)
    as_of = datetime(2026, 11, 27, tzinfo=timezone.utc)
    passed = [step for step in STEPS if step.pass_items]
    assert {step.name for step in passed} == {"core.item_history", "core.burnup_events"}
    with connect(work) as con:
        items = con.execute("SELECT count(*) FROM core.work_items").fetchone()[0]
        for step in passed:
            assert build_step(con, step, as_of, force=True).how == "rebuilt"  # one pass: 1,000 items
            assert round(items / step.pass_items) <= 1
            one = digest(con, step.name)
            assert build_step(con, replace(step, pass_items=150), as_of, force=True).how == "rebuilt"
            assert round(items / 150) >= 6  # passes
            assert digest(con, step.name) == one


def test_a_night_without_changes_transforms_nothing(tmp_path, capsys):
    """Through ``pulse``: after the demo, a sync of the unchanged sandbox (its embedded server on
    the same port, so its objects are byte for byte the same) lands nothing new and builds no
    staging, core or marts table."""
    from pipelines import cli

    out = tmp_path / "demo"
    assert cli.main(["demo", "--out", str(out), "--as-of", "2026-11-27"]) == 0

    def state() -> dict[tuple[str, str], datetime]:
        with connect(out / ".pulse" / "work.duckdb") as con:
            return {(s, t): at for s, t, at in con.execute(
                "SELECT schema_name, table_name, built_at FROM meta.transform_state").fetchall()}

    built = state()
    assert len(built) == len(STAGING_ORDER) + len(CORE_ORDER) + len(MARTS)
    for _ in range(2):  # the first incremental re-reads its overlap window; the second is a quiet night
        assert cli.main(["sync", "--config", str(out / "program.yaml")]) == 0
        assert state() == built
    capsys.readouterr()


def test_a_subset_without_the_program_milestones_sprints_still_snapshots_them_current(published_demo, tmp_path):
    """A run that selects staging and core but not core.program_milestone_sprints (a Dagster
    subset), from raw, two at a time: the milestone snapshot builds that table itself, once the
    core tables it reads are built, before it snapshots (a snapshot is never taken again)."""
    work = tmp_path / "subset.duckdb"
    shutil.copyfile(published_demo / "pulse.duckdb", work)
    as_of = datetime(2026, 11, 27, tzinfo=timezone.utc)
    with connect(work) as con:
        forget_derived(con)
        only = {s.name for s in STEPS if s.schema != "marts"} - {"core.program_milestone_sprints",
                                                                  "core.program_milestone_items"}
        assert "core.program_milestone_sprints" not in build_all(con, as_of, only=only)
        assert con.execute("SELECT count(*) FROM meta.transform_state WHERE schema_name = 'core' "
                           "AND table_name = 'program_milestone_sprints'").fetchone()[0] == 1


def test_every_table_built_two_at_a_time_equals_it_built_one_at_a_time(published_demo, tmp_path, monkeypatch):
    """build_all builds staging, core and the marts the health reads in two streams
    (transforms.build.build_streams); built from raw (every derived table dropped first), every
    table is the same, row for row, as one at a time builds it, and it was two at a time."""
    import threading

    import transforms.build as build

    as_of = datetime(2026, 11, 27, tzinfo=timezone.utc)
    digests, threads = {}, {}
    for streams in (2, 1):
        work = tmp_path / f"streams{streams}.duckdb"
        shutil.copyfile(published_demo / "pulse.duckdb", work)
        monkeypatch.setattr(build, "build_streams", lambda con, n=streams: n)
        with connect(work) as con:
            con.execute("SET TimeZone = 'Pacific/Kiritimati'")  # the streams' cursors must not fall back to UTC
            forget_derived(con)
            seen = set()
            built = build_all(con, as_of, on_built=lambda name, *_: seen.add(threading.current_thread().name))
            assert list(built) == [s.name for s in STEPS] and not any(b.skipped for b in built.values())
            digests[streams] = {s.name: digest(con, s.name) for s in STEPS if s.name != "marts.health_history"}
        threads[streams] = seen
    assert digests[2] == digests[1]
    assert any(name.startswith("stream") for name in threads[2]) and not any(n.startswith("stream") for n in threads[1])
