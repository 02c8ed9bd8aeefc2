"""The whole pipeline, end to end: `pulse demo` against the tracker sandbox over loopback HTTP,
through the unmodified jira and PyGithub clients, a real DuckDB file and a real Dagster run."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from collections import Counter
import sys
from datetime import date
from pathlib import Path

import duckdb
import pytest

from pipelines.cli import main
from sandbox.scenario import DONE, build

pytestmark = pytest.mark.e2e

SEED, AS_OF = 7, date(2026, 11, 27)
TABLES = ("core.programs", "core.projects", "core.work_items", "core.pull_requests", "core.milestones",
          "core.sprints", "core.work_item_sprints", "core.status_transitions", "core.item_changes",
          "core.dependencies", "marts.project_health", "marts.program_health")


@pytest.fixture(scope="module")
def scenario():
    return build("demo", SEED, AS_OF)


@pytest.fixture(scope="module")
def demo(published_demo) -> Path:
    """The session's one `pulse demo` run (conftest.published_demo: seed 7, as of 2026-11-27), read only."""
    return published_demo


@pytest.fixture
def demo_copy(published_demo, tmp_path) -> Path:
    """A copy of the demo folder (program.yaml, the published file and .pulse/ with the work file)
    for the tests that sync again."""
    shutil.copytree(published_demo, tmp_path / "demo")
    return tmp_path / "demo"


def read(demo: Path, sql: str, params: list | None = None) -> list[tuple]:
    with duckdb.connect(str(demo / "pulse.duckdb"), read_only=True) as con:
        return con.execute(sql, params or []).fetchall()


# When each project last synced is news of the run, not of the data: a rerun moves it.
WALL_CLOCK = {"marts.project_health": "last_synced_at"}


def fingerprint(path: Path) -> dict[str, str]:
    """A content hash of every published table, independent of row order."""
    with duckdb.connect(str(path), read_only=True) as con:
        return {t: con.execute(f"""SELECT md5(string_agg(r, '|' ORDER BY r)) FROM (
                                       SELECT CAST(x AS VARCHAR) AS r FROM (SELECT * {f"EXCLUDE ({WALL_CLOCK[t]})" if t in WALL_CLOCK else ""}
                                       FROM {t}) x)""").fetchone()[0]
                for t in TABLES}


def test_demo_writes_its_config_and_a_published_warehouse(demo):
    text = (demo / "program.yaml").read_text()
    assert f"seed: {SEED}" in text and f"as_of: '{AS_OF.isoformat()}'" in text
    assert f"pulse sandbox --scenario demo --seed {SEED} --as-of {AS_OF.isoformat()}" in text
    assert (demo / "pulse.duckdb").exists()
    assert "pulse-sandbox-token" not in text  # the config names variables, never secrets


def test_every_seeded_item_arrives_once_in_its_program(demo, scenario):
    counts = dict(read(demo, "SELECT project_key, count(*) FROM core.work_items GROUP BY ALL"))
    assert counts == {p.key: len(scenario.items_by_project[p.key]) for p in scenario.projects}
    programs = dict(read(demo, "SELECT DISTINCT project_key, program_id FROM core.work_items"))
    assert programs == {p.key: p.program for p in scenario.projects}
    assert read(demo, "SELECT count(DISTINCT item_id) = count(*) FROM core.work_items") == [(True,)]


def test_status_categories_and_history_match_the_scenario(demo, scenario):
    done = {k: v for k, v in read(demo, """
        SELECT key, status_category = 'done' FROM core.work_items""")}
    for item in scenario.items:
        key = f"{item.project}#{item.number}" if "/" in item.project else f"{item.project}-{item.number}"
        assert done[key] == (item.state == DONE), key
    seeded = sum(1 for i in scenario.items for c in i.changes if c.field == "status")
    synced = read(demo, "SELECT count(*) FROM core.status_transitions WHERE from_status IS NOT NULL")[0][0]
    # GitHub renders review as a second label: every seeded status change is one transition
    assert synced == seeded
    span = read(demo, "SELECT date_diff('day', min(changed_at), max(changed_at)) FROM core.status_transitions")[0][0]
    assert span >= 180


def ms(moment):
    """A scenario instant as Jira Software writes it: to the millisecond."""
    return moment and moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def test_sprints_match_the_scenario_on_cloud_and_server(demo, scenario):
    # PAY is on jira-cloud (Sprint objects), CART and ID on jira-dc (GreenHopper strings, one
    # sprint named with a comma and brackets). A sprint no item was ever in is on no issue: it comes
    # from its board's listing while it is active or future, and is gone once closed.
    site = {p.key: p.site for p in scenario.projects}
    board = {p.key: n for s in ("jira-cloud", "jira-dc") for n, p in enumerate(scenario.projects_on(s), start=1)}
    members = Counter(s for i in scenario.items for s in i.sprints)
    expected = {(f"jira:{site[s.project]}:sprint:{s.id}", site[s.project], s.id, board[s.project], s.name, s.state,
                 ms(s.start), ms(s.end), ms(s.completed_at), s.goal or None, members[s.id])
                for s in scenario.sprints if members[s.id] or s.state in ("active", "future")}
    got = read(demo, """SELECT sprint_id, site, jira_sprint_id, board_id, name, state, start_at, end_at, completed_at,
                               goal, items FROM core.sprints""")
    assert set(got) == expected
    assert {r[1] for r in got} == {"jira-cloud", "jira-dc"} and {r[5] for r in got} == {"closed", "active", "future"}
    assert ("CART Sprint 4 [hardening], part 2",) in read(demo, "SELECT name FROM core.sprints WHERE site = 'jira-dc'")


def test_every_item_is_in_the_sprints_the_scenario_put_it_in(demo, scenario):
    site = {p.key: p.site for p in scenario.projects}
    state = {s.id: s.state for s in scenario.sprints}
    expected = {(f"{i.project}-{i.number}", f"jira:{site[i.project]}:sprint:{s}",
                 s == i.sprints[-1] and state[s] != "closed") for i in scenario.items for s in i.sprints}
    got = set(read(demo, """SELECT w.key, s.sprint_id, s.is_current FROM core.work_item_sprints s
                            JOIN core.work_items w USING (item_id)"""))
    assert got == expected
    per_project = dict(read(demo, """SELECT project_key, count(DISTINCT item_id) FROM core.work_item_sprints
                                     JOIN core.work_items USING (item_id) GROUP BY ALL"""))
    assert per_project == {p: sum(1 for i in scenario.items_by_project[p] if i.sprints) for p in ("PAY", "CART", "ID")}
    current = {k: v for k, v in read(demo, "SELECT key, sprint_id FROM core.work_items WHERE sprint_id IS NOT NULL")}
    assert current == {key: sprint for key, sprint, is_current in expected if is_current}
    assert read(demo, "SELECT count(*) FROM core.work_items WHERE source = 'github' AND sprint_id IS NOT NULL") == [(0,)]


# Scenario change fields as core.item_changes names them.
ITEM_FIELDS = {"assignee": "assignee", "release": "milestone", "points": "story_points", "sprint": "sprint",
               "flagged": "flagged"}


def test_every_seeded_field_change_is_one_item_change_at_its_time(demo, scenario):
    # PAY is on Jira Cloud (items name their fieldId), CART and ID on Data Center (names only).
    release = {(r.project, r.id): r.name for r in scenario.releases}  # release ids are per project
    sprint = {s.id: s.name for s in scenario.sprints}

    def shown(i, c):  # what Jira shows as the new value (toString)
        if c.field == "assignee":
            return scenario.person[c.new].name
        if c.field == "release":
            return release[i.project, int(c.new)]
        if c.field == "sprint":
            return ", ".join(sprint[int(s)] for s in c.new.split(", "))
        return c.new

    jira = [i for i in scenario.items if "/" not in i.project]
    expected = Counter((f"{i.project}-{i.number}", ITEM_FIELDS[c.field], ms(c.at), shown(i, c))
                       for i in jira for c in i.changes if c.field in ITEM_FIELDS)
    got = Counter(read(demo, """SELECT key, field, changed_at, to_value FROM core.item_changes
                                WHERE source = 'jira' AND field <> 'status' AND field <> 'resolution'"""))
    assert got == expected
    assert {k[1] for k in got} == set(ITEM_FIELDS.values())
    statuses = sum(1 for i in jira for c in i.changes if c.field == "status")
    assert read(demo, "SELECT count(*) FROM core.item_changes WHERE source = 'jira' AND field = 'status'") == [
        (statuses,)]
    # GitHub: a release change is a milestoned event, its number found by the milestone's title
    github = Counter((f"{i.project}#{i.number}", c.at.replace(microsecond=0), release[i.project, int(c.new)], c.new)
                     for i in scenario.items if "/" in i.project for c in i.changes if c.field == "release")
    assert github and Counter(read(demo, """SELECT key, changed_at, to_value, to_id FROM core.item_changes
                                           WHERE source = 'github' AND field = 'milestone'""")) == github


def test_a_seeded_cross_project_block_is_a_dependency(demo, scenario):
    link = next(l for l in scenario.links if l.blocker[0] == "ID" and l.blocked[0] == "CART")
    blocker, blocked = f"ID-{link.blocker[1]}", f"CART-{link.blocked[1]}"
    rows = read(demo, """SELECT cross_project, cross_program, is_open FROM core.dependencies
                         WHERE blocker_key = ? AND blocked_key = ?""", [blocker, blocked])
    assert rows == [(True, True, True)]
    gh = next(l for l in scenario.links if l.blocker[0] == "acme/platform-api")
    rows = read(demo, "SELECT source FROM core.dependencies WHERE blocker_key = ? AND blocked_key = ?",
                [f"acme/platform-api#{gh.blocker[1]}", f"acme/web#{gh.blocked[1]}"])
    assert rows == [("github",)]
    expected = len({(l.blocker, l.blocked) for l in scenario.links
                    if scenario.project[l.blocker[0]].site == scenario.project[l.blocked[0]].site})
    assert read(demo, "SELECT count(*) FROM core.dependencies WHERE source <> 'text'")[0][0] == expected
    # the demo's texts name no other item: every cross-reference read from text is a portfolio feature
    assert read(demo, "SELECT count(*) FROM core.dependencies WHERE source = 'text'")[0][0] == 0


def test_the_late_project_is_not_green_and_names_its_late_dependency(demo, scenario):
    health, reasons = read(demo, "SELECT health, reasons FROM marts.project_health WHERE project_key = 'CART'")[0]
    assert health == "red"
    late_blockers = {f"ID-{l.blocker[1]}" for l in scenario.links if l.blocker[0] == "ID" and l.blocked[0] == "CART"
                     and scenario.item[l.blocker].state != DONE}
    text = " ".join(reasons)
    assert "(late: ID 2.0 was due" in text
    assert any(f"{key} (late: ID 2.0" in text for key in late_blockers)


def test_the_story_reads_as_seeded(demo):
    # the dates tell the seeded story: PAY and the platform API on track, CART and ID late, the web
    # launch made late by scope; the flow dimensions (aging, untouched work) add their own verdicts
    dims = {r[0]: r[1:] for r in read(demo, """
        SELECT project_key, health, forecast_health, schedule_health, dependency_health, scope_health
        FROM marts.project_health""")}
    assert dims["PAY"][1:4] == ("green", "green", "green") and dims["PAY"][0] != "red"
    assert dims["acme/platform-api"][1:4] == ("green", "green", "green")
    assert dims["acme/web"][1] == "red" and dims["acme/web"][4] == "amber"
    assert dims["ID"][:4] == ("red", "red", "red", "red")
    assert dims["CART"][:4] == ("red", "red", "red", "red")
    reasons = read(demo, "SELECT reasons FROM marts.project_health WHERE project_key = 'acme/web'")[0][0]
    assert any("added in the last 30 days" in r for r in reasons)
    programs = dict(read(demo, "SELECT program_id, health FROM marts.program_health"))
    assert programs == {"checkout": "red", "identity": "red"}


def test_every_published_table_and_column_is_documented(demo):
    undocumented = read(demo, """
        SELECT schema_name || '.' || table_name FROM duckdb_tables()
        WHERE schema_name IN ('raw', 'core', 'marts', 'meta') AND (comment IS NULL OR comment = '')
        UNION ALL
        SELECT schema_name || '.' || table_name || '.' || column_name FROM duckdb_columns()
        WHERE schema_name IN ('raw', 'core', 'marts', 'meta') AND (comment IS NULL OR comment = '')""")
    assert undocumented == []


READER = """
import sys, duckdb
con = duckdb.connect(sys.argv[1], read_only=True)
print(con.execute("SELECT count(*) FROM core.work_items").fetchone()[0], flush=True)
sys.stdin.readline()  # hold the file open while the sync publishes
print(con.execute("SELECT count(*) FROM core.work_items").fetchone()[0], flush=True)
"""


def test_rerun_is_idempotent_and_readers_keep_their_snapshot(demo_copy):
    demo = demo_copy
    before = fingerprint(demo / "pulse.duckdb")
    # A BI tool in another process holds the published file open for the whole sync.
    reader = subprocess.Popen([sys.executable, "-c", READER, str(demo / "pulse.duckdb")],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        first = reader.stdout.readline().strip()
        assert main(["sync", "--config", str(demo / "program.yaml")]) == 0
        out, _ = reader.communicate("go\n", timeout=60)
    finally:
        reader.kill()
    assert first == out.strip() and int(first) > 0
    assert fingerprint(demo / "pulse.duckdb") == before
    assert read(demo, "SELECT count(*) FROM meta.snapshots")[0][0] == 2


def test_a_failing_tracker_leaves_the_published_snapshot_intact(demo_copy, monkeypatch):
    demo = demo_copy
    published = demo / "pulse.duckdb"
    digest = hashlib.sha256(published.read_bytes()).hexdigest()
    monkeypatch.setenv("PULSE_SANDBOX_TOKEN", "wrong-token")  # every tracker answers 401
    assert main(["sync", "--config", str(demo / "program.yaml")]) == 1
    assert hashlib.sha256(published.read_bytes()).hexdigest() == digest


def test_docs_warehouse_md_is_generated_from_the_current_comments(demo):
    from warehouse.docs import render

    committed = (Path(__file__).parents[2] / "docs" / "warehouse.md").read_text(encoding="utf-8")
    assert committed == render(demo / "pulse.duckdb"), (
        "docs/warehouse.md is stale: make demo && .venv/bin/python -m warehouse.docs demo-output/pulse.duckdb > docs/warehouse.md")


def test_marts_hold_scalar_columns_only_so_bi_tools_map_every_one(demo):
    odd = read(demo, """
        SELECT table_name || '.' || column_name || ' ' || data_type FROM duckdb_columns()
        WHERE schema_name = 'marts' AND (data_type LIKE '%[]' OR data_type LIKE 'STRUCT%' OR data_type LIKE 'MAP%'
                                         OR data_type IN ('HUGEINT', 'UHUGEINT'))
        ORDER BY 1""")
    # the health marts' reason lists are the one exception left: marts.health_reasons will replace them
    assert [r[0] for r in odd] == ["program_health.reasons VARCHAR[]", "project_health.reasons VARCHAR[]"]


def test_pull_requests_are_kept_apart_and_linked_to_the_issues_they_close(demo):
    prs = read(demo, "SELECT count(*), count(*) FILTER (WHERE len(closes_keys) = 1) FROM core.pull_requests")[0]
    assert prs[0] > 0 and prs[0] == prs[1]  # every sandbox pull request says "Closes #n"
    overlap = read(demo, """SELECT count(*) FROM core.pull_requests p JOIN core.work_items w
                            ON w.item_id = p.pull_request_id""")[0][0]
    assert overlap == 0
    closed = read(demo, """SELECT count(*) FROM core.pull_requests p, unnest(p.closes_item_ids) AS c(item_id)
                           JOIN core.work_items w USING (item_id) WHERE w.status_category = 'done'""")[0][0]
    assert closed == prs[0]


def test_one_person_across_trackers_and_who_is_split_too_thin(demo, scenario):
    from sandbox.scenario import IN_PROGRESS, REVIEW

    person = scenario.person
    # Wei: declared by Data Center user name and GitHub login; his Cloud account shows his e-mail
    assert set(read(demo, "SELECT site, identity_id, matched_by FROM core.person_identities WHERE person_id = 'wei'")) == {
        ("jira-cloud", person["wei"].account_id, "email"), ("jira-dc", "wei", "alias"), ("github", "wei-acme", "alias")}
    # Ada's Cloud profile hides her e-mail: her Cloud account only matches her declared name
    ada_cloud = f"jira-cloud:{person['ada'].account_id}"
    assert read(demo, "SELECT person_id, other_person_id FROM marts.person_match_suggestions") == [("ada", ada_cloud)]
    assert read(demo, "SELECT identified_by, email FROM core.people WHERE person_id = ?", [ada_cloud]) == [("self", None)]
    wip = Counter(i.assignee for i in scenario.items if i.kind != "epic" and i.state in (IN_PROGRESS, REVIEW))
    conflicts = {r[0]: r[1:] for r in read(demo, """
        SELECT person_id, wip_items, wip_projects, in_too_many_projects, over_wip_limit FROM marts.resource_conflicts""")}
    assert conflicts["wei"] == (wip["wei"], 3, True, True) and conflicts["zoe"] == (wip["zoe"], 3, True, True)
    assert {p for p, r in conflicts.items() if r[2]} == {"wei", "zoe"}  # only an alias shows them in 3 projects
    assert all(r[0] > 5 for r in conflicts.values())
    items = dict(read(demo, "SELECT person_id, count(*) FROM marts.resource_conflict_items GROUP BY ALL"))
    assert items == {p: r[0] for p, r in conflicts.items()}
