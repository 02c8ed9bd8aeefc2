"""What a third-party flow-metrics tool needs from the sandbox: the fields every Jira Software site
lists (a tool that looks up Flagged, Rank or Sprint at start-up stops without them), Flagged set and
cleared in changelogs exactly as Jira writes it, and demo data with the texture flow metrics exist to
find: a long tail of cycle times, reopened and abandoned work, blocked spells, a team whose
throughput fell and a release that scope crept into."""

from __future__ import annotations

import json
from collections import Counter
from datetime import datetime, time, timedelta, timezone
from pathlib import Path

import pytest

from sandbox.scenario import DONE, GITHUB, IMPEDIMENT, IN_PROGRESS, JIRA_CLOUD, JIRA_DC, Item, Scenario

CORPUS = Path(__file__).parents[2].parent / "shared" / "corpus"
SYSTEM, GREENHOPPER = "com.atlassian.jira.plugin.system.customfieldtypes:", "com.pyxis.greenhopper.jira:"
# (site, REST version): Cloud serves v2 and v3, Data Center v2 only
FLAVOURS = [(JIRA_CLOUD, "2"), (JIRA_CLOUD, "3"), (JIRA_DC, "2")]


def key(item: Item) -> str:
    return f"{item.project}-{item.number}"


def on_site(scenario: Scenario, site: str) -> list[Item]:
    return [i for i in scenario.items if scenario.project[i.project].site == site]


def fields_by_name(client, site: str, version: str = "2") -> dict[str, dict]:
    response = client.call("GET", f"/{site}/rest/api/{version}/field")
    assert response.status_code == 200
    return {f["name"]: f for f in response.json()}


def flag_changes(item: Item) -> list:
    return [c for c in item.changes if c.field == "flagged"]


def cycle_days(item: Item) -> float | None:
    """done_at - started_at (METRICS.md): last entry into done, first into in progress."""
    starts = [c.at for c in item.changes if c.field == "status" and c.new == IN_PROGRESS]
    if item.state != DONE or item.resolution != "Done" or not starts:
        return None
    return (item.resolved_at - starts[0]).total_seconds() / 86400


def weekly_done(scenario: Scenario, project: str) -> list[int]:
    """Items reaching done (not discarded) per ISO week, the last 12 full weeks, oldest first."""
    monday = scenario.as_of - timedelta(days=scenario.as_of.weekday())
    weeks = [monday - timedelta(weeks=k) for k in range(12, 0, -1)]
    done = Counter()
    for item in scenario.items_by_project[project]:
        if item.kind != "epic" and item.state == DONE and item.resolution == "Done":
            day = item.resolved_at.date()
            done[day - timedelta(days=day.weekday())] += 1
    return [done[w] for w in weeks]


# -- /field ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("site,version", FLAVOURS)
def test_field_lists_what_every_jira_software_site_has(site, version, client):
    fields = fields_by_name(client, site, version)
    cloud = site == JIRA_CLOUD
    points, epic = ("Story point estimate", "Parent") if cloud else ("Story Points", "Epic Link")
    assert {"Flagged", "Rank", "Sprint", points, epic, "Start date"} <= set(fields)
    flagged = fields["Flagged"]
    assert flagged["custom"] is True and flagged["id"] == ("customfield_10021" if cloud else "customfield_10200")
    assert flagged["schema"] == {"type": "array", "items": "option", "custom": SYSTEM + "multicheckboxes",
                                 "customId": int(flagged["id"].removeprefix("customfield_"))}
    assert flagged["clauseNames"] == [f"cf[{flagged['schema']['customId']}]", "Flagged"]
    assert fields["Rank"]["schema"]["custom"] == GREENHOPPER + "gh-lexo-rank"
    assert fields["Sprint"]["schema"]["custom"] == GREENHOPPER + "gh-sprint"
    assert fields["Start date"]["schema"]["type"] == "date"
    assert fields["Start date"]["schema"]["custom"] == SYSTEM + "datepicker"
    if cloud:
        assert fields["Start date"]["id"] == "customfield_10015"  # as on the recorded Cloud site (DevLake)
        assert "Epic Link" not in fields  # retired on Cloud: epics are `parent`
    else:
        assert fields["Epic Link"]["schema"]["custom"] == GREENHOPPER + "gh-epic-link"
    ids = [f["id"] for f in client.call("GET", f"/{site}/rest/api/{version}/field").json()]
    assert len(ids) == len(set(ids))


# -- Flagged in changelogs and in the issue ----------------------------------------------------------

def flag_items(history_items: list[dict]) -> list[dict]:
    return [i for i in history_items if i["field"] == "Flagged"]


@pytest.mark.parametrize("site", [JIRA_CLOUD, JIRA_DC])
def test_changelogs_set_and_clear_flagged_as_jira_writes_it(site, scenario, client):
    field = fields_by_name(client, site)["Flagged"]["id"]
    option = "[10019]" if site == JIRA_CLOUD else "[10300]"
    named = {"fieldId": field} if site == JIRA_CLOUD else {}  # Data Center's items name no field id
    set_item = {"field": "Flagged", "fieldtype": "custom", **named, "from": None, "fromString": None,
                "to": option, "toString": IMPEDIMENT}
    clear_item = {"field": "Flagged", "fieldtype": "custom", **named, "from": option, "fromString": IMPEDIMENT,
                  "to": "", "toString": ""}
    spells = [i for i in on_site(scenario, site) if [c.new for c in flag_changes(i)] == [IMPEDIMENT, None]]
    assert len(spells) >= 5
    for item in spells[:5]:
        path = f"/{site}/rest/api/2/issue/{key(item)}" + ("/changelog" if site == JIRA_CLOUD else "")
        body = client.call("GET", path, {"expand": "changelog", "maxResults": 100}).json()
        histories = body["values"] if site == JIRA_CLOUD else body["changelog"]["histories"]
        flagged = [(h["created"], flag_items(h["items"])) for h in histories if flag_items(h["items"])]
        assert [items for _, items in flagged] == [[set_item], [clear_item]], key(item)
        set_at, cleared_at = (c.at for c in flag_changes(item))
        assert [created for created, _ in flagged] == [
            f"{moment:%Y-%m-%dT%H:%M:%S}.{moment.microsecond // 1000:03d}+0000" for moment in (set_at, cleared_at)]


@pytest.mark.skipif(not CORPUS.is_dir(), reason="no API corpus: the recorded responses live there")
def test_cloud_flagged_items_are_the_recorded_ones(scenario, client):
    """Jira Cloud's recorded Flagged items (jirametrics: SP-15 sets the flag, SP-10 clears it) are
    byte for byte what the sandbox's Cloud site writes: same field id, option id and empty strings."""
    def recorded(name: str) -> list[dict]:
        issue = json.loads((CORPUS / "jirametrics" / "testdata" / name).read_text())
        return [i for h in issue["changelog"]["histories"] for i in flag_items(h["items"])]

    real = {json.dumps(i, sort_keys=True) for name in ("SP-15.json", "SP-10.json") for i in recorded(name)}
    item = next(i for i in on_site(scenario, JIRA_CLOUD) if [c.new for c in flag_changes(i)] == [IMPEDIMENT, None])
    values = client.call("GET", f"/{JIRA_CLOUD}/rest/api/3/issue/{key(item)}/changelog").json()["values"]
    ours = {json.dumps(i, sort_keys=True) for h in values for i in flag_items(h["items"])}
    assert ours == real


@pytest.mark.parametrize("site,version", FLAVOURS)
def test_the_issue_holds_its_flag_while_flagged(site, version, scenario, client):
    field = fields_by_name(client, site, version)["Flagged"]["id"]
    items = on_site(scenario, site)
    flagged = next(i for i in items if i.flagged)
    cleared = next(i for i in items if flag_changes(i) and not i.flagged)
    never = next(i for i in items if not flag_changes(i))
    base = f"/{site}/rest/api/{version}/issue"
    value = client.call("GET", f"{base}/{key(flagged)}", {"fields": field}).json()["fields"][field]
    option = "10019" if site == JIRA_CLOUD else "10300"
    assert value == [{"self": f"{client.url}/{site}/rest/api/{version}/customFieldOption/{option}",
                      "value": IMPEDIMENT, "id": option}]
    for item in (cleared, never):
        fields = client.call("GET", f"{base}/{key(item)}", {"fields": "*all"}).json()["fields"]
        assert field in fields and fields[field] is None
    # Jira Software's board read says the same in its own `flagged`
    board = {p.key: n for n, p in enumerate(scenario.projects_on(site), start=1)}[flagged.project]
    issues = client.call("GET", f"/{site}/rest/agile/1.0/board/{board}/issue",
                         {"jql": f"key = {key(flagged)}"}).json()["issues"]
    assert [i["fields"]["flagged"] for i in issues] == [True]


def test_github_has_no_flag(scenario):
    assert not any(flag_changes(i) for i in on_site(scenario, GITHUB))


# -- the demo's texture ---------------------------------------------------------------------------------

def test_flag_spells_fall_in_progress_and_some_are_open(scenario):
    jira = [i for i in scenario.items if scenario.project[i.project].site != GITHUB]
    spells = [i for i in jira if flag_changes(i)]
    assert len(spells) >= 0.05 * len(jira)
    assert {i.project for i in spells} == {"PAY", "CART", "ID"}
    assert any(i.flagged and i.state != DONE for i in jira)  # blocked right now
    for item in spells:
        changes = flag_changes(item)
        assert [c.new for c in changes] in ([IMPEDIMENT], [IMPEDIMENT, None]), key(item)
        started = next(c.at for c in item.changes if c.field == "status" and c.new == IN_PROGRESS)
        assert started < changes[0].at < scenario.now
        if len(changes) == 2:
            assert changes[0].at < changes[1].at < scenario.now


def test_cycle_times_have_a_long_tail(scenario):
    days = sorted(d for i in scenario.items if (d := cycle_days(i)) is not None)
    p50, p95 = days[len(days) // 2], days[int(0.95 * (len(days) - 1))]
    assert len(days) > 400
    assert p95 >= 2.5 * p50 and days[-1] >= 8 * p50, (p50, p95, days[-1])


def test_some_work_is_reopened_and_some_abandoned_on_both_trackers(scenario):
    for site in (JIRA_CLOUD, JIRA_DC, GITHUB):
        items = [i for i in on_site(scenario, site) if i.kind != "epic"]
        reopened = [i for i in items if any(c.field == "status" and c.old == DONE for c in i.changes)]
        assert any(i.state == DONE and i.resolution == "Done" for i in reopened), site
        dropped = [i for i in items if i.resolution == "Won't Do"]
        assert len(dropped) >= 3, site
        assert any(any(c.field == "status" and c.new == IN_PROGRESS for c in i.changes) for i in dropped), site


def test_abandoned_work_is_wont_do_on_jira_and_not_planned_on_github(scenario, client):
    started = [i for i in scenario.items if i.resolution == "Won't Do"
               and any(c.field == "status" and c.new == IN_PROGRESS for c in i.changes)]
    jira = next(i for i in started if scenario.project[i.project].site == JIRA_DC)
    issue = client.call("GET", f"/{JIRA_DC}/rest/api/2/issue/{key(jira)}", {"expand": "changelog"}).json()
    assert issue["fields"]["resolution"]["name"] == "Won't Do"
    resolutions = [i["toString"] for h in issue["changelog"]["histories"] for i in h["items"]
                   if i["field"] == "resolution"]
    assert resolutions[-1] == "Won't Do"
    github = next(i for i in started if scenario.project[i.project].site == GITHUB)
    issue = client.call("GET", f"/github/repos/{github.project}/issues/{github.number}").json()
    assert (issue["state"], issue["state_reason"]) == ("closed", "not_planned")


def test_carts_throughput_halved_over_the_last_six_weeks(scenario):
    weeks = weekly_done(scenario, "CART")
    before, after = sum(weeks[:6]), sum(weeks[6:])
    assert before >= 1.5 * after and after > 0, weeks
    # the finishes that slipped wait in review: the work piled up
    in_review = [i for i in scenario.items_by_project["CART"] if i.state == "review"]
    assert len(in_review) >= 10


def test_scope_crept_into_id_2_0_in_its_last_weeks_and_it_is_late(scenario):
    release = next(r for r in scenario.releases if r.name == "ID 2.0")
    due = datetime.combine(release.due, time(0), tzinfo=timezone.utc)
    start = datetime.combine(release.start, time(0), tzinfo=timezone.utc)
    members = [i for i in scenario.items_by_project["ID"] if i.release == release.id and i.kind != "epic"]
    joined = {i.ref: next(c.at for c in i.changes if c.field == "release" and c.new == str(release.id))
              for i in members}
    crept = [i for i in members if due - timedelta(weeks=5) <= joined[i.ref] < due]
    assert any(joined[i.ref] > start for i in members)
    assert len(crept) >= 0.2 * len(members)
    assert any(joined[i.ref] - i.created_at > timedelta(days=5) for i in crept)  # pulled from the backlog
    assert release.due < scenario.as_of and release.released_at is None  # still open past its due date
    assert any(i.state != DONE for i in crept)


def test_blocking_links_are_made_while_the_blocker_is_open(scenario):
    assert len(scenario.links) == 24
    for link in scenario.links:
        blocker, blocked = scenario.item[link.blocker], scenario.item[link.blocked]
        assert max(blocker.created_at, blocked.created_at) < link.created_at < scenario.now
        assert blocker.resolved_at is None or link.created_at < blocker.resolved_at, link
