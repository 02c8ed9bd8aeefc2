"""program.yaml ``people:``: aliases and resource-conflict thresholds. A wrong entry stops
`pulse check-config` with exit code 2 and a line naming the field, what was found and the fix."""

from __future__ import annotations

from datetime import date

import pytest
import yaml

from pipelines.cli import demo_config, main
from pipelines.config import ConfigError, dump, parse


def demo_dict() -> dict:
    return yaml.safe_load(dump(demo_config(7, date(2026, 11, 27))))


def alias(key: str, *identities: tuple[str, str], name: str = "Alice Martin") -> dict:
    return {"key": key, "name": name, "identities": [{"site": s, "id": i} for s, i in identities]}


def test_the_demo_declares_the_people_whose_work_spans_trackers():
    people = demo_dict()["people"]
    assert people["resource_conflicts"] == {"min_projects": 3, "wip_limit": 5}
    assert {a["key"]: [(i["site"], i["id"]) for i in a["identities"]] for a in people["aliases"]} == {
        "ada": [("github", "ada-acme")],  # her Cloud account id nobody types; Cloud hides her e-mail
        "wei": [("jira-dc", "wei"), ("github", "wei-acme")],
        "zoe": [("jira-dc", "zoe"), ("github", "zoe-acme")],
    }


def test_people_defaults_when_the_section_is_left_out():
    data = demo_dict()
    del data["people"]
    people = parse(data).people
    assert people.aliases == () and (people.resource_conflicts.min_projects, people.resource_conflicts.wip_limit) == (3, 5)


@pytest.mark.parametrize("people, expected", [
    ({"aliases": [alias("alice", ("jira-dc", "alice")), alias("alice", ("github", "alice-gh"))]},
     "people.aliases[1].key: found 'alice' twice (also people.aliases[0]); expected one entry per person"),
    ({"aliases": [alias("alice", ("jira", "alice"))]},
     "people.aliases[0].identities[0].site: found 'jira'; expected one of the names under 'sites': "
     "github, jira-cloud, jira-dc"),
    ({"aliases": [alias("alice", ("github", "alice@acme.example"))]},
     "people.aliases[0].identities[0].id: found 'alice@acme.example'; site 'github' is GitHub: expected a login"),
    ({"aliases": [alias("alice", ("jira-dc", "alice")), alias("al", ("jira-dc", "ALICE"), name="Al")]},
     "people.aliases[1].identities[0]: ALICE on jira-dc is already an identity of person 'alice'; "
     "expected each identity under one person"),
    ({"aliases": [alias("alice")]},
     "people.aliases[0].identities: found []; expected at least one identity, e.g. identities: "
     "[{site: github, id: alice-gh}]"),
    ({"aliases": [alias("Alice Martin", ("jira-dc", "alice"))]},
     "people.aliases[0].key: found 'Alice Martin'; expected a short person key"),
    ({"aliases": [alias("alice", ("jira-dc", "alice"), name=" ")]},
     "people.aliases[0].name: found ' '; expected the person's name as it should be shown"),
    ({"aliases": [alias("alice", ("jira-dc", " "))]},
     "people.aliases[0].identities[0].id: found ' '; expected the person's id on the site"),
    ({"resource_conflicts": {"min_projects": 1}},
     "people.resource_conflicts.min_projects: found 1; expected: Input should be greater than or equal to 2"),
    ({"resource_conflicts": {"wip_limit": 0}},
     "people.resource_conflicts.wip_limit: found 0; expected: Input should be greater than or equal to 1"),
    ({"resource_conflict": {"wip_limit": 4}},
     "people.resource_conflict: found a mapping with keys wip_limit; expected no such field (check its spelling)"),
])
def test_wrong_people_entries_are_named_with_found_and_expected(tmp_path, capsys, people, expected):
    data = demo_dict()
    data["people"] = people
    with pytest.raises(ConfigError) as error:
        parse(data)
    assert expected in str(error.value)
    path = tmp_path / "program.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
    assert main(["check-config", str(path)]) == 2
    out, err = capsys.readouterr()
    assert expected in err and "Traceback" not in out + err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["program.yaml"]


def test_an_identity_repeated_under_one_person_and_case_apart_is_fine():
    data = demo_dict()
    data["people"] = {"aliases": [alias("alice", ("github", "Alice-GH"), ("github", "alice-gh"))],
                      "resource_conflicts": {"min_projects": 2, "wip_limit": 8}}
    config = parse(data)
    assert parse(yaml.safe_load(dump(config))) == config
    assert config.people.resource_conflicts.wip_limit == 8
