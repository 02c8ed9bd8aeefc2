"""The generated portfolio: deterministic, exactly as big as asked, holding every feature it
promises, and readable through the real jira and PyGithub clients."""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from datetime import date, timedelta

import pytest
from github import Auth, Github
from jira import JIRA

from sandbox.portfolio import _HOSTILE_TITLES, LATE, SLIPPED, portfolio
from sandbox.scenario import (CREEP_WEEKS, DONE, GITHUB, IMPEDIMENT, IN_PROGRESS, JIRA_CLOUD, JIRA_DC, REVIEW,
                              TODO, Scenario, build)
from sandbox.credentials import SANDBOX_TOKEN
from sandbox.server import serve

AS_OF = date(2026, 11, 27)


@pytest.fixture(scope="module")
def scenario() -> Scenario:
    return portfolio(7, AS_OF, 2000)


def site_of(scenario: Scenario, key: str) -> str:
    return scenario.project[key].site


def test_same_arguments_same_portfolio_and_another_seed_another():
    assert portfolio(7, AS_OF, 300) == portfolio(7, AS_OF, 300)
    assert portfolio(8, AS_OF, 300) != portfolio(7, AS_OF, 300)
    assert build("portfolio", 7, AS_OF, items=300) == portfolio(7, AS_OF, 300)


@pytest.mark.parametrize("items", [100, 1234, 5000])
def test_exactly_the_items_asked_for_with_unique_keys_and_ids(items):
    s = portfolio(3, AS_OF, items)
    assert len(s.items) == items
    assert len({i.ref for i in s.items}) == items
    assert len({(site_of(s, i.project), i.uid) for i in s.items}) == items
    assert len({c.id for i in s.items for c in i.changes}) == sum(len(i.changes) for i in s.items)
    for item in s.items:
        assert all(a.at <= b.at for a, b in zip(item.changes, item.changes[1:])), item.ref
        assert item.created_at <= item.updated_at <= s.now


def test_sizes_outside_the_range_are_refused():
    with pytest.raises(ValueError, match="at least 100"):
        portfolio(7, AS_OF, 99)
    with pytest.raises(ValueError, match="fixed size"):
        build("demo", 7, AS_OF, items=500)


def test_every_program_spans_both_jira_sites_and_github(scenario):
    sites = defaultdict(set)
    for p in scenario.projects:
        sites[p.program].add(p.site)
    assert len(scenario.programs) >= 2
    assert all(found == {JIRA_CLOUD, JIRA_DC, GITHUB} for found in sites.values())
    stories = {p.story.split(":")[0] for p in scenario.projects}
    assert {"on track", "at risk", "late"} <= stories


def test_epics_have_children_on_jira_and_github(scenario):
    children = defaultdict(int)
    for item in scenario.items:
        if item.parent is not None:
            parent = scenario.item[(item.project, item.parent)]
            assert parent.kind == "epic" and parent.created_at < item.created_at
            children[site_of(scenario, item.project)] += 1
    assert set(children) == {JIRA_CLOUD, JIRA_DC, GITHUB}


def test_dependencies_hold_a_chain_a_cycle_and_closed_blockers(scenario):
    blocks = defaultdict(set)
    for link in scenario.links:
        blocks[link.blocker].add(link.blocked)
        assert site_of(scenario, link.blocker[0]) == site_of(scenario, link.blocked[0])  # trackers can hold it
    chains = [(a, b, c, d) for a in blocks for b in blocks[a] for c in blocks.get(b, ()) for d in blocks.get(c, ())
              if len({a, b, c, d}) == 4 and len({a[0], b[0], c[0], d[0]}) >= 2]
    cycles = [(a, b, c) for a in blocks for b in blocks[a] for c in blocks.get(b, ()) if a in blocks.get(c, ())]
    assert chains and cycles
    assert any(scenario.item[link.blocker].state == DONE and link.blocker[0] != link.blocked[0]
               for link in scenario.links)
    assert any(link.created_at < scenario.item[link.blocker].resolved_at
               for link in scenario.links if scenario.item[link.blocker].state == DONE)


def test_cross_tracker_references_name_real_items(scenario):
    bodies = " ".join(i.body for i in scenario.items if site_of(scenario, i.project) == GITHUB)
    jira_keys = re.findall(r"Blocked by ([A-Z][A-Z0-9]*)-(\d+)\.", bodies)
    repo_refs = re.findall(r"Depends on ([\w-]+/[\w-]+)#(\d+)\.", bodies)
    urls = re.findall(r"http://127\.0\.0\.1:8080/(jira-cloud|jira-dc)/browse/([A-Z][A-Z0-9]*)-(\d+)", bodies)
    assert jira_keys and repo_refs and urls
    for key, number in jira_keys:
        assert site_of(scenario, key) != GITHUB and (key, int(number)) in scenario.item
    for repo, number in repo_refs:
        assert site_of(scenario, repo) == GITHUB and (repo, int(number)) in scenario.item
    for site, key, number in urls:
        assert site_of(scenario, key) == site and (key, int(number)) in scenario.item
    assert scenario.remote_links
    for remote in scenario.remote_links:
        assert site_of(scenario, remote.item[0]) != GITHUB and site_of(scenario, remote.target[0]) == GITHUB
        assert remote.url.endswith(f"/{remote.target[0]}/issues/{remote.target[1]}")


def test_sprints_slips_points_and_long_changelogs(scenario):
    assert {s.state for s in scenario.sprints} == {"closed", "active", "future"}
    assert {site_of(scenario, s.project) for s in scenario.sprints} == {JIRA_CLOUD, JIRA_DC}
    jira = [i for i in scenario.items if site_of(scenario, i.project) != GITHUB]
    carried = [i for i in jira if len(i.sprints) >= 2]
    assert carried and all(sum(c.field == "sprint" for c in i.changes) == len(i.sprints) for i in carried)
    assert not any(i.sprints or i.points for i in scenario.items if site_of(scenario, i.project) == GITHUB)
    assert 0.3 < sum(i.points is not None for i in jira) / len(jira) < 0.9
    assert any(r.planned_due < r.due for r in scenario.releases if r.released_at is None)
    long = [i for i in jira if len(i.changes) > 100]
    assert {site_of(scenario, i.project) for i in long} == {JIRA_CLOUD, JIRA_DC}
    assert len(long) <= 0.03 * len(jira)


def test_people_are_shared_and_some_are_overloaded(scenario):
    projects, wip = defaultdict(set), defaultdict(set)
    for item in scenario.items:
        if item.assignee:
            projects[item.assignee].add(item.project)
            if item.state in (IN_PROGRESS, REVIEW):
                wip[item.assignee].add(item.project)
    assert any(len(p) >= 2 for p in projects.values())
    assert any(len(p) >= 3 for p in wip.values())


def test_scope_grows_where_the_story_says_so(scenario):
    def recent_share(key: str) -> float:
        current = scenario.releases_by_project[key][-2]
        items = [i for i in scenario.items_by_project[key] if i.release == current.id]
        return sum((scenario.now - i.created_at).days < 30 for i in items) / len(items)

    growing = [p.key for p in scenario.projects if p.story == "at risk: scope keeps growing"]
    steady = [p.key for p in scenario.projects if p.story == "on track"]
    assert max(map(recent_share, growing)) > 0.3 > min(map(recent_share, steady))


def test_reopened_abandoned_and_flagged_work_on_every_tracker(scenario):
    for site in (JIRA_CLOUD, JIRA_DC, GITHUB):
        items = [i for i in scenario.items if site_of(scenario, i.project) == site and i.kind != "epic"]
        assert any(any(c.field == "status" and c.old == DONE for c in i.changes) for i in items), site
        dropped = [i for i in items if i.resolution == "Won't Do"]
        started = [i for i in dropped if any(c.field == "status" and c.new == IN_PROGRESS for c in i.changes)]
        assert started and len(started) < len(dropped), site  # dropped part-way, and from the backlog
        spells = [[c.new for c in i.changes if c.field == "flagged"] for i in items]
        if site == GITHUB:
            assert not any(spells)  # GitHub has no Flagged field
        else:
            assert [IMPEDIMENT, None] in spells and [IMPEDIMENT] in spells, site  # cleared, and still flagged
    # a long tail of cycle times: the slowest twentieth take several times the median
    days = sorted((i.resolved_at - next(c.at for c in i.changes if c.new == IN_PROGRESS)).days
                  for i in scenario.items if i.resolution == "Done" and i.kind != "epic"
                  and any(c.field == "status" and c.new == IN_PROGRESS for c in i.changes))
    assert days[int(0.95 * len(days))] >= 2.5 * days[len(days) // 2]


def test_late_projects_throughput_halved_and_scope_crept_into_slipped_releases(scenario):
    monday = scenario.as_of - timedelta(days=scenario.as_of.weekday())
    weeks = [monday - timedelta(weeks=k) for k in range(12, 0, -1)]

    def throughput(story_text: str) -> list[int]:
        done = Counter(i.resolved_at.date() - timedelta(days=i.resolved_at.weekday()) for i in scenario.items
                       if scenario.project[i.project].story == story_text and i.resolution == "Done"
                       and i.kind != "epic" and i.state == DONE)
        return [done[w] for w in weeks]

    late = throughput(LATE.text)
    assert sum(late[:6]) >= 1.5 * sum(late[6:]) > 0, late
    slipped = [p.key for p in scenario.projects if p.story == SLIPPED.text]
    current = {key: scenario.releases_by_project[key][-2] for key in slipped}
    scope = [i for key in slipped for i in scenario.items_by_project[key]
             if i.release == current[key].id and i.kind != "epic"]
    crept = [i for i in scope if current[i.project].due - timedelta(weeks=CREEP_WEEKS) <= i.created_at.date()]
    assert len(crept) >= 0.2 * len(scope)
    assert any(i.state != DONE for i in crept)
    assert all(r.due <= scenario.as_of + timedelta(days=20) and r.released_at is None for r in current.values())


def test_hostile_and_empty_text_is_there(scenario):
    titles = {i.title for i in scenario.items}
    assert set(_HOSTILE_TITLES) <= titles
    assert any(i.body == "" for i in scenario.items) and any(i.assignee is None for i in scenario.items)
    assert any(not i.labels for i in scenario.items)


def test_the_real_clients_read_it_through_the_sandbox():
    s = portfolio(7, AS_OF, 500)
    cloud = next(p.key for p in s.projects if p.site == JIRA_CLOUD
                 and any(len(i.changes) > 100 for i in s.items_by_project[p.key]))
    dc = next(p.key for p in s.projects if p.site == JIRA_DC)
    repo = next(p.key for p in s.projects if p.site == GITHUB)
    with serve(s) as sandbox:
        jira = JIRA(server=sandbox.site_url(JIRA_CLOUD), basic_auth=("pulse-bot@acme.example", SANDBOX_TOKEN))
        jira._options["rest_api_version"] = "3"
        issues, token = [], None
        while True:  # search/jql pages by nextPageToken
            page = jira.enhanced_search_issues(f"project = {cloud} ORDER BY key", nextPageToken=token,
                                               maxResults=20, fields="summary,customfield_10020",
                                               expand="changelog", json_result=True)
            issues += page["issues"]
            token = page.get("nextPageToken")
            if page["isLast"]:
                break
        assert len(issues) == len(s.items_by_project[cloud])
        long = next(i for i in issues if i["changelog"]["total"] > 100)
        assert len(long["changelog"]["histories"]) == 100
        histories, start = [], 0
        while True:  # the full changelog, oldest first, 100 at a time
            page = jira._get_json(f"issue/{long['key']}/changelog", params={"startAt": start, "maxResults": 100})
            histories += page["values"]
            start += len(page["values"])
            if page["isLast"]:
                break
        assert len(histories) == long["changelog"]["total"]
        assert histories[-100:][::-1] == long["changelog"]["histories"]
        sprinted = next(i for i in issues if i["fields"]["customfield_10020"])
        assert {"id", "name", "state", "boardId"} <= set(sprinted["fields"]["customfield_10020"][0])
        board = jira.boards(projectKeyOrID=cloud)[0]
        sprints = jira.sprints(board.id, maxResults=False)
        assert len(sprints) == sum(sp.project == cloud for sp in s.sprints)
        assert [sp.name for sp in jira.sprints(board.id, state="active")] == [
            sp.name for sp in s.sprints if sp.project == cloud and sp.state == "active"]

        server = JIRA(server=sandbox.site_url(JIRA_DC), token_auth=SANDBOX_TOKEN)
        found = server.search_issues(f"project = {dc}", maxResults=False, fields="summary,customfield_10104",
                                     expand="changelog")
        assert len(found) == len(s.items_by_project[dc])
        values = [v for i in found for v in i.raw["fields"]["customfield_10104"] or []]
        assert values and all(re.fullmatch(r"com\.atlassian\.greenhopper\.service\.sprint\.Sprint@[0-9a-f]+\[id=\d+,"
                                           r"rapidViewId=\d+,state=(ACTIVE|CLOSED|FUTURE),name=.+,"
                                           r"activatedDate=[^,]+,sequence=\d+,goal=.*\]", v)
                              for v in values)
        assert any(entry.field == "Sprint" for i in found for h in i.changelog.histories for entry in h.items)
        remote = next(r for r in s.remote_links if site_of(s, r.item[0]) == JIRA_DC)
        links = server.remote_links(f"{remote.item[0]}-{remote.item[1]}")
        assert remote.url in [link.object.url for link in links]

        github = Github(auth=Auth.Token(SANDBOX_TOKEN), base_url=sandbox.site_url(GITHUB), per_page=100,
                        seconds_between_requests=None)  # no client-side throttle on loopback
        listed = [i for i in github.get_repo(repo).get_issues(state="all") if i.pull_request is None]
        assert len(listed) == len(s.items_by_project[repo])
        epic = next(i for i in listed if i.sub_issues_summary.total)
        assert {c.number for c in epic.get_sub_issues()} == {
            i.number for i in s.items_by_project[repo] if i.parent == epic.number}
        open_now = {i.number for i in listed if i.state == "open"}
        assert open_now == {i.number for i in s.items_by_project[repo] if i.state != DONE}
    assert TODO in {i.state for i in s.items}
