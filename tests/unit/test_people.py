"""One person across Jira and GitHub, and who is split too thin, on hand-made items.

Sites: cloud (Jira Cloud: account ids, e-mail shown only where a profile allows), dc (Jira Data
Center: user names, e-mail always) and gh (GitHub: logins, never an e-mail). Programs: checkout
(PAY on cloud, CART on dc, acme/web on gh) and platform (OPS on dc, acme/api on gh).

Who is who, and what each has in progress (as_of 2026-11-14):

alice  declared in program.yaml: dc alice, gh Alice-GH (case differs from the login alice-gh) and
       gh alice-old (never seen). Her cloud account shows Alice@Acme.example, the address her dc
       user shows: joined by e-mail. In progress: PAY-1, OPS-1, acme/web#1: 3 projects, 2
       programs, 3 items -> the projects rule fires, not the WIP limit. PAY-9 is done: not WIP.
bob    not declared; cloud acc-bob and dc bob both show bob@acme.example: one person by e-mail,
       keyed cloud:acc-bob. In progress: CART-2..CART-6 and PAY-2: 6 items in 2 projects ->
       over the WIP limit of 5 only. His epic CART-8 in progress is not work: left out.
carol  cloud acc-carol "Carol Diaz" (e-mail hidden) and dc carol "Carol Díaz": the same name
       without accents, but nothing joins them: two people, one suggestion.
dave   gh dave: acme/web#2 and acme/api#1 in progress: 2 projects, 2 items: no conflict.
erin   cloud acc-erin "Erin Lee" <erin.lee@acme.example> and dc elee "Erin  Lee"
       <erin.lee2@acme.example>: a suggestion whose e-mails differ (likely two people).
"""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from transforms.build import (PeopleSettings, PersonAliasRow, ProgramRow, ProjectRow, build_all,
                              write_program_structure)
from warehouse.store import connect, migrate, upsert

AS_OF = datetime(2026, 11, 14, tzinfo=timezone.utc)
CATEGORY = {"To Do": "new", "In Progress": "indeterminate", "Done": "done"}


def cloud_user(account: str, name: str, email: str | None = None) -> dict:
    return {"accountId": account, "displayName": name, **({"emailAddress": email} if email else {})}


def dc_user(user: str, name: str, email: str) -> dict:
    return {"name": user, "key": f"JIRAUSER{abs(hash(user)) % 1000}", "displayName": name, "emailAddress": email}


def jira(site: str, issue_id: int, key: str, assignee: dict | None, state: str = "In Progress",
         kind: str = "Story", reporter: dict | None = None) -> dict:
    return {"site": site, "project_key": key.split("-")[0], "issue_id": str(issue_id), "issue_key": key,
            "updated_at": "2026-11-10T09:00:00Z", "synced_at": AS_OF, "sync_id": "s1", "payload": {
                "id": str(issue_id), "key": key, "fields": {
                    "summary": f"Work {key}", "issuetype": {"name": kind},
                    "status": {"name": state, "statusCategory": {"key": CATEGORY[state]}},
                    "created": "2026-11-01T10:00:00.000+0000", "updated": "2026-11-10T09:00:00.000+0000",
                    "assignee": assignee, "reporter": reporter, "issuelinks": [], "fixVersions": [], "labels": []}}}


def github(repo: str, number: int, issue_id: int, login: str, labels: tuple[str, ...] = ("in progress",)) -> dict:
    payload = {"id": issue_id, "number": number, "title": f"Work {repo}#{number}", "body": None, "state": "open",
               "labels": [{"name": label} for label in labels], "assignee": {"login": login},
               "user": {"login": login}, "html_url": f"https://github.com/{repo}/issues/{number}",
               "created_at": "2026-11-01T10:00:00Z", "updated_at": "2026-11-10T09:00:00Z", "closed_at": None,
               "milestone": None}
    return {"site": "gh", "repo": repo, "number": number, "issue_id": issue_id, "updated_at": payload["updated_at"],
            "payload": payload, "synced_at": AS_OF, "sync_id": "s1"}


ALICE_CLOUD = cloud_user("acc-alice", "Alice Martin", "Alice@Acme.example")
ALICE_DC = dc_user("alice", "Alice Martin", "alice@acme.example")
BOB_CLOUD = cloud_user("acc-bob", "Bob Stone", "bob@acme.example")
BOB_DC = dc_user("bob", "Bob Stone", "bob@acme.example")
CAROL_CLOUD = cloud_user("acc-carol", "Carol Diaz")
CAROL_DC = dc_user("carol", "Carol Díaz", "carol@acme.example")
ERIN_CLOUD = cloud_user("acc-erin", "Erin Lee", "erin.lee@acme.example")
ERIN_DC = dc_user("elee", "Erin  Lee", "erin.lee2@acme.example")

ALIASES = (PersonAliasRow("alice", "Alice Martin", "dc", "alice"), PersonAliasRow("alice", "Alice Martin", "gh", "Alice-GH"),
           PersonAliasRow("alice", "Alice Martin", "gh", "alice-old"))


def load(con, people: PeopleSettings) -> None:
    write_program_structure(
        con, [ProgramRow("checkout", "Checkout", None), ProgramRow("platform", "Platform", None)],
        [ProjectRow("checkout", "cloud", "jira", "PAY", None), ProjectRow("checkout", "dc", "jira", "CART", None),
         ProjectRow("checkout", "gh", "github", "acme/web", None), ProjectRow("platform", "dc", "jira", "OPS", None),
         ProjectRow("platform", "gh", "github", "acme/api", None)], people=people)
    build_all(con, AS_OF)


@pytest.fixture(scope="module")
def con(tmp_path_factory):
    with connect(tmp_path_factory.mktemp("people") / "w.duckdb") as con:
        migrate(con)
        upsert(con, "raw.jira_sites", [{
            "site": site, "base_url": f"https://{site}.example", "server_info": {"baseUrl": f"https://{site}.example"},
            "myself": {}, "fields": [], "statuses": [], "link_types": [], "field_roles": {}, "synced_at": AS_OF,
            "sync_id": "s1"} for site in ("cloud", "dc")],
            json_columns=("server_info", "myself", "fields", "statuses", "link_types", "field_roles"))
        upsert(con, "raw.jira_issues", [
            jira("cloud", 101, "PAY-1", ALICE_CLOUD, reporter=BOB_CLOUD),
            jira("cloud", 102, "PAY-2", BOB_CLOUD),
            jira("cloud", 103, "PAY-3", CAROL_CLOUD),
            jira("cloud", 104, "PAY-4", ERIN_CLOUD, state="To Do"),
            jira("cloud", 109, "PAY-9", ALICE_CLOUD, state="Done"),
            jira("dc", 201, "OPS-1", ALICE_DC),
            *[jira("dc", 200 + n * 10, f"CART-{n}", BOB_DC) for n in range(2, 7)],
            jira("dc", 270, "CART-7", CAROL_DC),
            jira("dc", 280, "CART-8", BOB_DC, kind="Epic"),
            jira("dc", 290, "CART-9", ERIN_DC, state="To Do"),
        ])
        upsert(con, "raw.github_issues", [
            github("acme/web", 1, 1001, "alice-gh"), github("acme/web", 2, 1002, "dave"),
            github("acme/api", 1, 2001, "dave")])
        load(con, PeopleSettings(ALIASES))
        yield con


def rows(con, sql: str) -> list[tuple]:
    return con.execute(sql).fetchall()


def test_identities_are_joined_by_alias_then_email_never_by_name(con):
    assert rows(con, """SELECT site, identity_id, display_name, email, person_id, matched_by, assigned_items, seen
                        FROM core.person_identities ORDER BY person_id, site, identity_id""") == [
        ("cloud", "acc-alice", "Alice Martin", "alice@acme.example", "alice", "email", 2, True),
        ("dc", "alice", "Alice Martin", "alice@acme.example", "alice", "alias", 1, True),
        ("gh", "alice-gh", "alice-gh", None, "alice", "alias", 1, True),
        ("gh", "alice-old", None, None, "alice", "alias", 0, False),  # declared, never seen
        ("cloud", "acc-bob", "Bob Stone", "bob@acme.example", "cloud:acc-bob", "email", 1, True),
        ("dc", "bob", "Bob Stone", "bob@acme.example", "cloud:acc-bob", "email", 6, True),
        ("cloud", "acc-carol", "Carol Diaz", None, "cloud:acc-carol", "self", 1, True),
        ("cloud", "acc-erin", "Erin Lee", "erin.lee@acme.example", "cloud:acc-erin", "self", 1, True),
        ("dc", "carol", "Carol Díaz", "carol@acme.example", "dc:carol", "self", 1, True),
        ("dc", "elee", "Erin  Lee", "erin.lee2@acme.example", "dc:elee", "self", 1, True),
        ("gh", "dave", "dave", None, "gh:dave", "self", 2, True),
    ]


def test_one_row_per_person(con):
    assert rows(con, """SELECT person_id, display_name, email, identified_by, identities, sites, identity_ids,
                               assigned_items, reported_items FROM core.people ORDER BY person_id""") == [
        ("alice", "Alice Martin", "alice@acme.example", "alias", 3, "cloud, dc, gh",
         "cloud:acc-alice, dc:alice, gh:alice-gh, gh:alice-old", 4, 1),
        ("cloud:acc-bob", "Bob Stone", "bob@acme.example", "email", 2, "cloud, dc", "cloud:acc-bob, dc:bob", 7, 1),
        ("cloud:acc-carol", "Carol Diaz", None, "self", 1, "cloud", "cloud:acc-carol", 1, 0),
        ("cloud:acc-erin", "Erin Lee", "erin.lee@acme.example", "self", 1, "cloud", "cloud:acc-erin", 1, 0),
        ("dc:carol", "Carol Díaz", "carol@acme.example", "self", 1, "dc", "dc:carol", 1, 0),
        ("dc:elee", "Erin  Lee", "erin.lee2@acme.example", "self", 1, "dc", "dc:elee", 1, 0),
        ("gh:dave", "dave", None, "self", 1, "gh", "gh:dave", 2, 2),
    ]


def test_a_matching_display_name_is_only_suggested(con):
    assert rows(con, """SELECT person_id, other_person_id, matched_name, emails_differ, how_to_merge
                        FROM marts.person_match_suggestions ORDER BY person_id""") == [
        ("cloud:acc-carol", "dc:carol", "Carol Diaz", False,
         "If they are one person, declare them in program.yaml people.aliases with identities: "
         "{site: cloud, id: acc-carol}, {site: dc, id: carol}."),
        ("cloud:acc-erin", "dc:elee", "Erin Lee", True,
         "If they are one person, declare them in program.yaml people.aliases with identities: "
         "{site: cloud, id: acc-erin}, {site: dc, id: elee}."),
    ]


def test_work_in_three_projects_and_above_the_wip_limit_are_conflicts(con):
    assert rows(con, """SELECT person_id, person_name, wip_items, wip_projects, projects, wip_programs, programs,
                               in_too_many_projects, over_wip_limit, min_projects, wip_limit, reason
                        FROM marts.resource_conflicts ORDER BY person_id""") == [
        ("alice", "Alice Martin", 3, 3, "OPS (1), PAY (1), acme/web (1)", 2, "checkout, platform", True, False, 3, 5,
         "Alice Martin has 3 items in progress in 3 projects (3 or more is a conflict): OPS (1), PAY (1), "
         "acme/web (1); programs checkout, platform."),
        ("cloud:acc-bob", "Bob Stone", 6, 2, "CART (5), PAY (1)", 1, "checkout", False, True, 3, 5,
         "Bob Stone has 6 items in progress (limit 5) in 2 projects: CART (5), PAY (1); program checkout."),
    ]  # dave: 2 projects, 2 items: under both; carol's two halves: 1 item each


def test_conflict_items_one_row_per_person_and_item(con):
    assert rows(con, """SELECT person_id, key, program_id, site, project_key, status, round(days_in_progress, 3)
                        FROM marts.resource_conflict_items ORDER BY person_id, key""") == [
        ("alice", "OPS-1", "platform", "dc", "OPS", "In Progress", 12.583),
        ("alice", "PAY-1", "checkout", "cloud", "PAY", "In Progress", 12.583),
        ("alice", "acme/web#1", "checkout", "gh", "acme/web", "in progress", 12.583),
        *[("cloud:acc-bob", f"CART-{n}", "checkout", "dc", "CART", "In Progress", 12.583) for n in range(2, 7)],
        ("cloud:acc-bob", "PAY-2", "checkout", "cloud", "PAY", "In Progress", 12.583),
    ]  # CART-8 is an epic: not work in progress


def test_thresholds_come_from_the_config(tmp_path):
    with connect(tmp_path / "w.duckdb") as con:
        migrate(con)
        upsert(con, "raw.github_issues", [
            github("acme/web", 2, 1002, "dave"), github("acme/api", 1, 2001, "dave")])
        load(con, PeopleSettings((), conflict_min_projects=2, conflict_wip_limit=1))
        assert rows(con, "SELECT person_id, wip_items, in_too_many_projects, over_wip_limit FROM marts.resource_conflicts") \
            == [("gh:dave", 2, True, True)]
        # an alias joins logins GitHub sites know apart; the thresholds back at their defaults: no conflict
        load(con, PeopleSettings((PersonAliasRow("dave", "Dave Hill", "gh", "DAVE"),)))
        assert rows(con, "SELECT person_id, display_name, identified_by FROM core.people") == [("dave", "Dave Hill", "alias")]
        assert rows(con, "SELECT count(*) FROM marts.resource_conflicts") == [(0,)]
