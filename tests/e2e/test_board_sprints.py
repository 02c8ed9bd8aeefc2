"""Sprints as the boards list them, through the sandbox over loopback: a future sprint no issue
names yet reaches core.sprints and marts.milestone_slips as a sprint milestone of its board's
project, and a site without Jira Software (its agile API answers 404) syncs as before."""

from __future__ import annotations

import logging
from datetime import datetime, time, timezone

import pytest

from demo_world import AS_OF, JIRA, failures, sync, write_program
from sandbox.faults import parse_spec
from sandbox.scenario import JIRA_CLOUD, JIRA_DC
from transforms.build import build_all
from warehouse.store import connect, migrate

pytestmark = pytest.mark.e2e

FIRST = datetime.combine(AS_OF, time(0), tzinfo=timezone.utc)
BOARDS = "/rest/agile/1.0/board"
SPRINTS = "/rest/agile/1.0/board/<int:board_id>/sprint"


def unnamed_future_sprints(scenario) -> dict[str, list]:
    """Per Jira project of the demo: its future sprints that no item's Sprint field names."""
    named = {s for item in scenario.items for s in item.sprints}
    return {key: [s for s in scenario.sprints if s.project == key and s.state == "future" and s.id not in named]
            for keys in JIRA.values() for key in keys}


def agile_requests(sandbox) -> dict[tuple[str, int], int]:
    """(endpoint below the site, status) -> count, over every site."""
    counts: dict[tuple[str, int], int] = {}
    for row in sandbox.stats.as_json()["requests"]:
        endpoint = "/" + row["endpoint"].split("/", 2)[2]
        if endpoint.startswith("/rest/agile/"):
            counts[(endpoint, row["status"])] = counts.get((endpoint, row["status"]), 0) + row["count"]
    return counts


def test_a_future_sprint_no_issue_names_is_a_sprint_milestone(sandbox, tmp_path):
    scenario = sandbox.app.world.scenario
    unnamed = unnamed_future_sprints(scenario)
    assert all(unnamed.values())  # the sandbox has one on every scrum board
    with connect(tmp_path / "work.duckdb") as con:
        migrate(con)
        assert failures(sync(sandbox, con, "first", github=False)) == {}
        # a full sync lists each project's boards once, and each (scrum) board's open sprints once
        projects = sum(map(len, JIRA.values()))
        assert agile_requests(sandbox) == {(BOARDS, 200): projects, (SPRINTS, 200): projects}
        write_program(con)
        build_all(con, FIRST)
        for key, sprints in unnamed.items():
            site = scenario.project[key].site
            for sprint in sprints:
                sprint_id = f"jira:{site}:sprint:{sprint.id}"
                assert con.execute("""
                    SELECT name, state, start_at, end_at, items, seen_in, board_project_key FROM core.sprints
                    WHERE sprint_id = ?""", [sprint_id]).fetchall() == [
                    (sprint.name, "future", None, None, 0, "board", key)]
                assert con.execute("""
                    SELECT kind, program_id, project_key, name, state, due_date, scope_items FROM marts.milestone_slips
                    WHERE milestone_id = ?""", [sprint_id]).fetchall() == [
                    ("sprint", "p", key, sprint.name, "future", None, 0)]
        # the sprints issues name and the boards list are one row each, the board's view kept
        seen = dict(con.execute("SELECT seen_in, count(*) FROM core.sprints GROUP BY ALL").fetchall())
        listed = sum(1 for s in scenario.sprints if s.state != "closed" and scenario.project[s.project].site
                     in JIRA)
        assert seen["board"] + seen["board_and_sprint_field"] == listed
        assert seen["sprint_field"] > 0  # closed sprints: only their issues name them now
        assert con.execute("SELECT count(*), count(DISTINCT sprint_id) FROM core.sprints").fetchone() == (
            sum(seen.values()),) * 2
        active = con.execute("SELECT count(*) FROM core.sprints WHERE state = 'active'").fetchone()[0]
        assert active == len(unnamed)


def test_a_site_without_jira_software_syncs_from_the_sprint_fields(sandbox, tmp_path, caplog):
    sandbox.app.faults.set(parse_spec(f"404@{JIRA_DC}/rest/agile/*"))
    with connect(tmp_path / "work.duckdb") as con, caplog.at_level(logging.WARNING, "connectors.jira_source"):
        migrate(con)
        assert failures(sync(sandbox, con, "first", github=False)) == {}
        # one 404 a project on the Data Center site, where no board is asked for its sprints
        assert agile_requests(sandbox) == {(BOARDS, 404): len(JIRA[JIRA_DC]), (BOARDS, 200): len(JIRA[JIRA_CLOUD]),
                                           (SPRINTS, 200): len(JIRA[JIRA_CLOUD])}
        assert sum("agile API answered 404" in r.getMessage() for r in caplog.records) == len(JIRA[JIRA_DC])
        held = dict(con.execute("SELECT site, count(*) FROM raw.jira_board_sprints GROUP BY ALL").fetchall())
        assert set(held) == {JIRA_CLOUD}
        issues = dict(con.execute("SELECT project_key, count(*) FROM raw.jira_issues GROUP BY ALL").fetchall())
        scenario = sandbox.app.world.scenario
        assert issues == {k: len(scenario.items_by_project[k]) for keys in JIRA.values() for k in keys}
        write_program(con)
        build_all(con, FIRST)
        by_site = dict(con.execute("""SELECT site, list(DISTINCT seen_in ORDER BY seen_in) FROM core.sprints
                                      GROUP BY ALL""").fetchall())
        assert by_site[JIRA_DC] == ["sprint_field"]  # sprints still come from the issues
        assert "board" in by_site[JIRA_CLOUD]
