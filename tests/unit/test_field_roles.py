"""Custom fields are found per site through /field: Sprint and Epic Link by schema type, else by
name; story points by the configured names, in order."""

from __future__ import annotations

from types import SimpleNamespace

from connectors.jira_source import JiraSite, JiraSource


def roles(fields: list[dict], points: tuple[str, ...] = ("Story point estimate", "Story Points")) -> dict[str, str]:
    reader = SimpleNamespace(site=JiraSite("s", "https://jira.example", "token", story_points_fields=points))
    return JiraSource._field_roles(reader, fields)


def test_schema_types_find_renamed_fields_and_names_find_the_rest():
    fields = [
        {"id": "customfield_10020", "name": "Iteration", "custom": True,
         "schema": {"type": "array", "custom": "com.pyxis.greenhopper.jira:gh-sprint"}},
        {"id": "customfield_10014", "name": "Epic Link", "custom": True, "schema": {"type": "any"}},
        {"id": "customfield_10016", "name": "Story Points", "custom": True, "schema": {"type": "number"}},
        {"id": "customfield_10026", "name": "Story point estimate", "custom": True, "schema": {"type": "number"}},
    ]
    assert roles(fields) == {"sprint": "customfield_10020", "epic_link": "customfield_10014",
                             "story_points": "customfield_10026"}
    assert roles(fields, ("Story Points",))["story_points"] == "customfield_10016"


def test_a_system_field_with_the_name_is_not_taken_and_missing_roles_stay_missing():
    assert roles([{"id": "sprint", "name": "Sprint", "custom": False}]) == {}
