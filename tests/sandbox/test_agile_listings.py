"""Jira Software's board and sprint listings as the sandbox serves them (Cloud and Data Center):
paged by startAt until isLast, the sprint fields of the agile API, and on every scrum board a
future sprint that no issue names yet, as real boards have before anyone plans into them."""

from __future__ import annotations

import pytest

from sandbox.scenario import JIRA_CLOUD, JIRA_DC

AGILE = "/rest/agile/1.0"
SPRINT_FIELDS = {"id", "self", "state", "name", "startDate", "endDate", "completeDate", "originBoardId", "goal"}


def paged(client, path: str, params: dict, size: int) -> tuple[list[dict], int]:
    """Every value of an agile listing read ``size`` at a time, and the pages it took."""
    values, pages = [], 0
    while True:
        page = client.call("GET", path, {**params, "startAt": len(values), "maxResults": size}).json()
        pages += 1
        assert page["startAt"] == len(values) and page["maxResults"] == size
        values += page["values"]
        if page["isLast"]:
            return values, pages
        assert len(page["values"]) == size


@pytest.mark.parametrize("site", [JIRA_CLOUD, JIRA_DC])
def test_every_scrum_board_lists_a_future_sprint_no_issue_names(client, scenario, site):
    named = {s for item in scenario.items for s in item.sprints}
    for project in scenario.projects_on(site):
        boards, _ = paged(client, f"/{site}{AGILE}/board", {"projectKeyOrId": project.key}, 1)
        assert [(b["type"], b["location"]["projectKey"]) for b in boards] == [("scrum", project.key)]
        board = boards[0]["id"]
        listed, pages = paged(client, f"/{site}{AGILE}/board/{board}/sprint", {"state": "active,future"}, 1)
        assert pages == len(listed) >= 2
        expected = [s for s in scenario.sprints if s.project == project.key and s.state != "closed"]
        assert [s["id"] for s in listed] == [s.id for s in expected]  # closed first, then by position
        for sprint in listed:
            assert set(sprint) <= SPRINT_FIELDS and {"id", "self", "state", "name", "originBoardId"} <= set(sprint)
            assert sprint["originBoardId"] == board and sprint["self"].endswith(f"{AGILE}/sprint/{sprint['id']}")
            assert "completeDate" not in sprint
        future = [s for s in listed if s["state"] == "future" and s["id"] not in named]
        assert future and all("startDate" not in s and "endDate" not in s for s in future), project.key
        # every sprint, closed ones included, when no state is asked for
        everything, _ = paged(client, f"/{site}{AGILE}/board/{board}/sprint", {}, 50)
        assert {s["state"] for s in everything} == {"closed", "active", "future"}


def test_an_unknown_board_and_a_bad_state_are_refused_as_jira_does(client):
    assert client.call("GET", f"/{JIRA_CLOUD}{AGILE}/board/999/sprint").status_code == 404
    bad = client.call("GET", f"/{JIRA_DC}{AGILE}/board/1/sprint", {"state": "open"})
    assert bad.status_code == 400 and bad.json()["errorMessages"]
