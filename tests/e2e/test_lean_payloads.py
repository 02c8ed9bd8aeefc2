"""Jira issues and GitHub users land without the API's decoration (links back into the API, image
URLs, Jira's unread `creator`), and nothing the transforms build changes for it: the demo's
projects synced through the real connectors as the API sends them and as they land, then every
core and marts table compared row for row, and staging's typed columns."""

from __future__ import annotations

from datetime import datetime, timezone

import orjson
import pytest

import connectors.github_source as github_source
import connectors.jira_source as jira_source
from demo_world import AS_OF, failures, sync, warehouse, write_program
from transforms.build import build_all

AS_OF_INSTANT = datetime.combine(AS_OF, datetime.min.time(), tzinfo=timezone.utc)
# When and by which sync a row was landed or seen, and when a build recorded it: the two
# warehouses differ there by construction.
LANDING = ("sync_id", "first_seen_at", "recorded_at")  # and every *synced_at


def decoration_in(value, path=()) -> list[tuple]:
    """Paths to every decoration key in ``value`` (an issue's description is tracker text)."""
    found = []
    if isinstance(value, dict):
        found += [path + (k,) for k in jira_source.DECORATION if k in value]
        for key, child in value.items():
            if path + (key,) != ("fields", "description"):
                found += decoration_in(child, path + (key,))
    elif isinstance(value, list):
        for i, child in enumerate(value):
            found += decoration_in(child, path + (i,))
    return found


def tables(con, schema: str) -> list[str]:
    return [f"{schema}.{t}" for (t,) in con.execute(
        "SELECT table_name FROM duckdb_tables() WHERE schema_name = ? ORDER BY 1", [schema]).fetchall()]


def rows(con, table: str) -> list[tuple]:
    """The table's rows, but for the landing columns and staging's JSON fragments of payloads
    (issue links, sprints: the parts the core tables read), which keep what landed."""
    columns = [c for c, kind in con.execute(
        "SELECT column_name, data_type FROM duckdb_columns() WHERE schema_name || '.' || table_name = ? "
        "ORDER BY column_index", [table]).fetchall()
        if c not in LANDING and not c.endswith("synced_at") and not (table.startswith("staging.") and kind.startswith("JSON"))]
    select = ", ".join(f"CAST({c} AS VARCHAR)" for c in columns)
    return sorted(con.execute(f"SELECT {select} FROM {table}").fetchall(), key=repr)


@pytest.fixture(scope="module")
def both(running, tmp_path_factory):
    """The demo's projects synced into two warehouses: as the API sends them, and as shipped."""
    sent, lean = tmp_path_factory.mktemp("as-sent"), tmp_path_factory.mktemp("lean")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(jira_source, "DECORATION", ())
        patch.setattr(jira_source, "BASE_FIELDS", (*jira_source.BASE_FIELDS, "creator"))
        patch.setattr(github_source, "USER_DECORATION", ())
        with warehouse(sent) as con:
            assert failures(sync(running, con, "as-sent")) == {}
    with warehouse(lean) as con:
        assert failures(sync(running, con, "lean")) == {}
    return sent, lean


def test_jira_issues_land_without_decoration_and_weigh_about_half(both):
    """(The paged and bulk-fetched histories of cut changelogs: test_bulk_changelog.py.)"""
    sent, lean = both
    with warehouse(sent) as a, warehouse(lean) as b:
        for con, decorated in ((a, True), (b, False)):
            issues = [orjson.loads(p) for (p,) in con.execute("SELECT payload FROM raw.jira_issues").fetchall()]
            found = [p for i in issues for p in decoration_in(i["fields"], ("fields",))
                     + decoration_in(i.get("changelog"), ("changelog",))]
            assert bool(found) == decorated, found[:5]
            assert any(p[:2] == ("changelog", "histories") for p in found) == decorated  # their authors
            assert all("self" in i for i in issues)  # the issue's own link stays
            assert any(("creator" in i["fields"]) == decorated for i in issues)
        weight = "SELECT sum(length(payload::VARCHAR)) FROM raw.jira_issues"
        assert b.execute(weight).fetchall()[0][0] < 0.6 * a.execute(weight).fetchall()[0][0]
        ids = "SELECT site, issue_id, issue_key, updated_at FROM raw.jira_issues ORDER BY ALL"
        assert b.execute(ids).fetchall() == a.execute(ids).fetchall()


def test_github_users_land_with_their_login_and_without_their_links(both):
    sent, lean = both
    users = """SELECT count(*), count(*) FILTER (WHERE json_keys(u) && ?), count(u->>'login'), count(u->>'id')
               FROM (SELECT unnest([payload->'$.user', payload->'$.assignee', payload->'$.closed_by',
                                    payload->'$.milestone.creator']) AS u FROM raw.github_issues
                     UNION ALL SELECT unnest(CAST(payload->'$.assignees' AS JSON[])) FROM raw.github_issues
                     UNION ALL SELECT unnest([payload->'$.actor', payload->'$.assignee', payload->'$.assigner'])
                               FROM raw.github_issue_events
                     UNION ALL SELECT payload->'$.user' FROM raw.github_issue_relations
                     UNION ALL SELECT payload->'$.creator' FROM raw.github_milestones)
               WHERE u IS NOT NULL AND json_type(u) = 'OBJECT'"""
    links = list(github_source.USER_DECORATION)
    with warehouse(sent) as a, warehouse(lean) as b:
        (n, decorated, logins, ids), = a.execute(users, [links]).fetchall()
        assert n > 1000 and decorated == logins == ids == n
        assert b.execute(users, [links]).fetchall() == [(n, 0, n, n)]
        weight = "SELECT sum(length(payload::VARCHAR)) FROM raw.github_issue_events"
        assert b.execute(weight).fetchall()[0][0] < 0.5 * a.execute(weight).fetchall()[0][0]
        events = "SELECT event_id, payload->>'$.event', payload->>'$.actor.login' FROM raw.github_issue_events ORDER BY 1"
        assert b.execute(events).fetchall() == a.execute(events).fetchall()


def test_every_table_built_from_lean_payloads_equals_the_one_built_from_what_the_api_sent(both):
    sent, lean = both
    built = []
    for folder in both:
        with warehouse(folder) as con:
            write_program(con)
            build_all(con, AS_OF_INSTANT)
    with warehouse(sent) as a, warehouse(lean) as b:
        for schema in ("staging", "core", "marts"):
            assert tables(a, schema) == tables(b, schema)
            for table in tables(a, schema):
                assert rows(b, table) == rows(a, table), table
                built.append(table)
    assert {"staging.jira_issues", "core.work_items", "core.item_history", "core.people",
            "marts.health_reasons"} <= set(built)
