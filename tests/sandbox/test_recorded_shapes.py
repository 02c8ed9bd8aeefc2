"""The sandbox's objects against real recorded Jira and GitHub responses (../shared/corpus): for each
kind of object, every key the real tracker sends is there, values have the real JSON types, and
timestamps have the real format. A spec says what may be sent; a recording says what clients
actually get, so this is where a sandbox that is valid but unlike the real thing gets caught."""

from __future__ import annotations

import ast
import csv
import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date
from fnmatch import fnmatchcase
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from sandbox.scenario import GITHUB, JIRA_CLOUD, JIRA_DC, Scenario

CORPUS = Path(__file__).parents[2].parent / "shared" / "corpus"
if not CORPUS.is_dir():
    pytest.skip(f"no API corpus at {CORPUS}: the recorded responses live there", allow_module_level=True)

csv.field_size_limit(1 << 26)

FORMATS = {  # the timestamp forms each tracker writes; anything else is "text"
    "jira-datetime": re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d{4}\Z"),
    "github-datetime": re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\Z"),
    "jira-agile-datetime": re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z\Z"),  # sprints
    "date": re.compile(r"\d{4}-\d\d-\d\d\Z"),
}


# --------------------------------------------------------------------------------------------
# Shapes: many JSON instances merged into one tree of keys, JSON types and string formats
# --------------------------------------------------------------------------------------------

def json_type(value: Any) -> str:
    if value is None:
        return "null"
    for kind, name in ((bool, "bool"), (int, "int"), (float, "float"), (str, "str"), (list, "list"), (dict, "dict")):
        if isinstance(value, kind):
            return name
    raise TypeError(value)


def string_format(value: str) -> str:
    return next((name for name, pattern in FORMATS.items() if pattern.match(value)), "text")


@dataclass
class Shape:
    types: set[str] = field(default_factory=set)
    formats: set[str] = field(default_factory=set)
    keys: dict[str, Shape] = field(default_factory=dict)
    items: Shape | None = None

    @classmethod
    def of(cls, values: Iterable[Any]) -> Shape:
        shape = cls()
        for value in values:
            shape.add(value)
        return shape

    def add(self, value: Any) -> None:
        self.types.add(json_type(value))
        if isinstance(value, str):
            self.formats.add(string_format(value))
        elif isinstance(value, dict):
            for key, child in value.items():
                self.keys.setdefault(key, Shape()).add(child)
        elif isinstance(value, list):
            self.items = self.items or Shape()
            for child in value:
                self.items.add(child)


def differences(real: Shape, ours: Shape, path: str, skip: dict[str, str]) -> list[str]:
    """How ``ours`` falls short of ``real``. Null is compatible with every type (a nullable
    field is null or not depending on the data); other types, and timestamp formats, must agree."""
    problems = []
    real_types, our_types = real.types - {"null"}, ours.types - {"null"}
    if real_types and our_types - real_types:
        problems.append(f"{path or '(root)'}: sandbox sends {sorted(our_types)}, real sends {sorted(real_types)}")
    real_times = real.formats - {"text"}
    if real_times and ours.formats and not ours.formats <= real.formats:
        problems.append(f"{path}: sandbox strings are {sorted(ours.formats)}, real ones {sorted(real.formats)}")
    if "dict" in real.types and "dict" in ours.types:
        for key, child in real.keys.items():
            where = f"{path}.{key}" if path else key
            if any(fnmatchcase(where, pattern) for pattern in skip):
                continue
            if key not in ours.keys:
                problems.append(f"{where}: missing (real sends {sorted(child.types)})")
            else:
                problems += differences(child, ours.keys[key], where, skip)
    if real.items is not None and ours.items is not None and real.items.types and ours.items.types:
        problems += differences(real.items, ours.items, f"{path}[]", skip)
    return problems


# --------------------------------------------------------------------------------------------
# Reading the recordings
# --------------------------------------------------------------------------------------------

@cache
def recorded_json(relative: str) -> Any:
    return json.loads((CORPUS / relative).read_text())


@cache
def devlake_rows(relative: str) -> tuple[dict, ...]:
    """DevLake raw tables: one API record per CSV row, its JSON in `data`."""
    with (CORPUS / relative).open(newline="", encoding="utf-8") as handle:
        return tuple(json.loads(row["data"]) for row in csv.DictReader(line for line in handle if line.strip()))


@cache
def pygithub_exchanges(name: str) -> tuple[tuple[str, str, int, dict, Any], ...]:
    """PyGithub ReplayData: per exchange 10 lines (scheme, method, host, port, path, request
    headers, request body, status, response headers, response body), a blank line between."""
    lines = [line for line in (CORPUS / "pygithub-replaydata" / name).read_text().split("\n")]
    exchanges, i = [], 0
    while i + 10 <= len(lines):
        if not lines[i].strip():
            i += 1
            continue
        method, path, status = lines[i + 1], lines[i + 4], int(lines[i + 7])
        headers = dict(ast.literal_eval(lines[i + 8]))
        body = json.loads(lines[i + 9]) if lines[i + 9].strip().startswith(("{", "[")) else None
        exchanges.append((method, path, status, headers, body))
        i += 10
    return tuple(exchanges)


def pygithub(name: str, path: str) -> list[Any]:
    """The bodies of a ReplayData file's 200 answers whose request path matches ``path`` (a regex)."""
    return [body for method, p, status, _, body in pygithub_exchanges(name)
            if status == 200 and re.fullmatch(path, p.split("?")[0])]


@cache
def spec_example(path: str) -> str:
    document = json.loads((CORPUS / "specs" / "jira-platform" / "swagger-v3.v3.json").read_text())
    return document["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]["example"]


def flat(values: Iterable[Any]) -> list[Any]:
    return [v for value in values for v in (value if isinstance(value, list) else [value])]


# --------------------------------------------------------------------------------------------
# The comparisons
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Kind:
    """One kind of object: where the real ones are recorded, how to get the sandbox's, and the
    keys not compared here (with the reason)."""

    real: Callable[[], list[Any]]
    ours: Callable[[Scenario, Any], list[Any]]
    skip: dict[str, str] = field(default_factory=dict)
    # for objects a scenario may not have (sprints, remote links): whether this one has them
    present: Callable[[Scenario], bool] = lambda scenario: True


def jira_items(scenario: Scenario, site: str) -> list:
    """The longest histories, some children and both ends of some links within the site."""
    items = [i for i in scenario.items if scenario.project[i.project].site == site]
    on_site = {i.ref for i in items}
    links = [link for link in scenario.links if link.blocker in on_site and link.blocked in on_site][:3]
    linked = [scenario.item[ref] for link in links for ref in (link.blocker, link.blocked)]
    return sorted(items, key=lambda i: -len(i.changes))[:15] + [i for i in items if i.parent][:5] + linked


def jira_issues(site: str, version: str = "2") -> Callable[[Scenario, Any], list[Any]]:
    def fetch(scenario: Scenario, client: Any) -> list[Any]:
        return [client.call("GET", f"/{site}/rest/api/{version}/issue/{i.project}-{i.number}",
                            {"expand": "changelog"}).json() for i in jira_items(scenario, site)]
    return fetch


def dc_search(scenario: Scenario, client: Any) -> list[Any]:
    """A page per project, and one of some links' both ends (the first pages need not hold any)."""
    on_site = {i.ref for i in scenario.items if scenario.project[i.project].site == JIRA_DC}
    links = [link for link in scenario.links if link.blocker in on_site and link.blocked in on_site][:3]
    linked = {f"{key}-{number}" for link in links for key, number in (link.blocker, link.blocked)}
    return [client.call("GET", f"/{JIRA_DC}/rest/api/2/search",
                        {"jql": jql, "maxResults": 50, "fields": "*all", "expand": "changelog"}).json()
            for jql in [f"project = {p.key}" for p in scenario.projects_on(JIRA_DC)]
            + [f"key in ({', '.join(sorted(linked))})"]]


def sprint_field(client: Any, site: str) -> str:
    """The Sprint field's id on the site, found by name as connectors must."""
    fields = client.call("GET", f"/{site}/rest/api/2/field").json()
    return next(f["id"] for f in fields if f["name"] == "Sprint")


def cloud_search(scenario: Scenario, client: Any) -> list[Any]:
    return flat(client.call("GET", f"/{JIRA_CLOUD}/rest/api/2/search/jql",
                            {"jql": f"project = {p.key}", "maxResults": 100, "fields": "*all"}).json()["issues"]
                for p in scenario.projects_on(JIRA_CLOUD))


def get(path: str, params: dict | None = None) -> Callable[[Scenario, Any], list[Any]]:
    return lambda scenario, client: flat([client.call("GET", path, params).json()])


def github_list(suffix: str, params: dict | None = None) -> Callable[[Scenario, Any], list[Any]]:
    def fetch(scenario: Scenario, client: Any) -> list[Any]:
        return flat(client.call("GET", f"/github/repos/{p.key}{suffix}", {"per_page": 100, **(params or {})}).json()
                    for p in scenario.projects_on(GITHUB))
    return fetch


def github_all(suffix: str) -> Callable[[Scenario, Any], list[Any]]:
    """Every row of a list, page by page."""
    def fetch(scenario: Scenario, client: Any) -> list[Any]:
        rows = []
        for p in scenario.projects_on(GITHUB):
            page = 1
            while chunk := client.call("GET", f"/github/repos/{p.key}{suffix}", {"per_page": 100, "page": page}).json():
                rows += chunk
                page += 1
        return rows
    return fetch


def github_issues(scenario: Scenario, client: Any) -> list[Any]:
    return github_list("/issues", {"state": "all"})(scenario, client)


def github_users(scenario: Scenario, client: Any) -> list[Any]:
    issues = github_issues(scenario, client)
    return [u for i in issues for u in (i["user"], i["assignee"], *i["assignees"], i["closed_by"]) if u]


CUSTOM = "custom field ids differ per site; the field list comparison covers their schema"
JIRA_CLOUD_ISSUES = [f"jirametrics/{d}" for d in ("testdata", "complete_sample/sample_issues")]


def jirametrics_issues() -> list[Any]:
    return [recorded_json(str(p.relative_to(CORPUS))) for d in JIRA_CLOUD_ISSUES
            for p in sorted((CORPUS / d).glob("SP-*.json"))]


def server_issues() -> list[Any]:
    """Jira Server issues: DevLake's agile board pages (with changelog) and Perceval's search pages."""
    perceval = flat(recorded_json(f"perceval/jira/jira_issues_page_{n}.json")["issues"] for n in (1, 2))
    return list(devlake_rows("devlake/jira/_raw_jira_api_issue_relationships.csv")) + perceval


KINDS: dict[str, Kind] = {
    # -- Jira Cloud (the recordings are REST v2 issue reads with expand=changelog) ----------------
    "jira-cloud issue": Kind(
        jirametrics_issues, jira_issues(JIRA_CLOUD),
        {"fields": "its own kind below", "changelog.histories": "its own kind below"}),
    "jira-cloud fields": Kind(
        lambda: [i["fields"] for i in jirametrics_issues()],
        lambda s, c: [i["fields"] for i in jira_issues(JIRA_CLOUD)(s, c)],
        {"customfield_*": CUSTOM}),
    "jira-cloud changelog history": Kind(
        lambda: flat(i["changelog"]["histories"] for i in jirametrics_issues())
        + list(devlake_rows("devlake/jira/_raw_jira_api_issue_changelogs.csv")),
        lambda s, c: flat(i["changelog"]["histories"] for i in jira_issues(JIRA_CLOUD)(s, c))
        + flat(c.call("GET", f"/{JIRA_CLOUD}/rest/api/3/issue/{i.project}-{i.number}/changelog").json()["values"]
               for i in jira_items(s, JIRA_CLOUD)[:5]),
        {"items[].tmpFromAccountId": "an assignee change's extra account-id copies: no connector reads them",
         "items[].tmpToAccountId": "an assignee change's extra account-id copies: no connector reads them"}),
    "jira-cloud status": Kind(
        lambda: list(devlake_rows("devlake/jira/_raw_jira_api_status.csv")),
        get(f"/{JIRA_CLOUD}/rest/api/2/status"),
        {"scope": "only team-managed projects' statuses have a scope; the scenario's are company-managed"}),
    "jira-cloud version": Kind(
        lambda: [v for i in jirametrics_issues() + list(devlake_rows("devlake/jira/_raw_jira_api_issues.csv"))
                 for v in i["fields"].get("fixVersions", [])],
        lambda s, c: [v for i in jira_issues(JIRA_CLOUD)(s, c) for v in i["fields"]["fixVersions"]]),
    "jira-cloud field list": Kind(
        lambda: recorded_json("go-jira-mockdata/all_fields.json"), get(f"/{JIRA_CLOUD}/rest/api/2/field")),
    "jira-cloud sprint": Kind(
        lambda: list(devlake_rows("devlake/jira/_raw_jira_api_sprints.csv")),
        lambda s, c: flat(c.call("GET", f"/{JIRA_CLOUD}/rest/agile/1.0/board/{n}/sprint").json()["values"]
                          for n in range(1, len(s.projects_on(JIRA_CLOUD)) + 1)),
        present=lambda s: any(s.project[x.project].site == JIRA_CLOUD for x in getattr(s, "sprints", ()))),
    "jira-cloud sprint field": Kind(
        lambda: flat(i["fields"].get("customfield_10020") or [] for i in jirametrics_issues()),
        lambda s, c: flat(i["fields"][sprint_field(c, JIRA_CLOUD)] or [] for i in cloud_search(s, c)),
        present=lambda s: any(s.project[x.project].site == JIRA_CLOUD for x in getattr(s, "sprints", ()))),
    "jira-cloud remote link": Kind(
        lambda: list(devlake_rows("devlake/jira/_raw_jira_api_remotelinks.csv")),
        lambda s, c: flat(c.call("GET", f"/{JIRA_CLOUD}/rest/api/2/issue/{key}-{n}/remotelink").json()
                          for key, n in dict.fromkeys(r.item for r in getattr(s, "remote_links", ())
                                                      if s.project[r.item[0]].site == JIRA_CLOUD)),
        present=lambda s: any(s.project[r.item[0]].site == JIRA_CLOUD for r in getattr(s, "remote_links", ()))),
    # No recording of serverInfo exists in the corpus: Atlassian's documented example stands in.
    "jira-cloud serverInfo (documented example)": Kind(
        lambda: [json.loads(spec_example("/rest/api/3/serverInfo"))], get(f"/{JIRA_CLOUD}/rest/api/3/serverInfo"),
        {name: "only in Atlassian's example, which no recording confirms; no client here reads it"
         for name in ("displayUrl*", "defaultLocale", "serverTimeZone")}),
    # -- Jira Server / Data Center ---------------------------------------------------------------
    "jira-dc search page": Kind(
        lambda: [recorded_json(f"perceval/jira/jira_issues_page_{n}.json") for n in (1, 2)], dc_search,
        {"issues": "its own kind below"}),
    "jira-dc issue": Kind(
        server_issues, lambda s, c: flat(page["issues"] for page in dc_search(s, c)),
        {"fields": "its own kind below", "changelog.histories": "its own kind below"}),
    "jira-dc fields": Kind(
        lambda: [i["fields"] for i in server_issues()],
        lambda s, c: [i["fields"] for page in dc_search(s, c) for i in page["issues"]],
        {"customfield_*": CUSTOM,
         "flagged": "added by the agile board/{id}/issue read DevLake recorded, not by /search",
         "project.projectCategory": "sent only for a project filed in a category; the scenario files none"}),
    "jira-dc changelog history": Kind(
        lambda: flat(i["changelog"]["histories"] for i in server_issues() if "changelog" in i),
        lambda s, c: flat(i["changelog"]["histories"] for page in dc_search(s, c) for i in page["issues"])),
    "jira-dc status": Kind(
        lambda: recorded_json("jira-ruby-mock-responses/status.json"), get(f"/{JIRA_DC}/rest/api/2/status")),
    "jira-dc version": Kind(
        lambda: recorded_json("sling-committer-cli/jira/versions.json"),
        lambda s, c: flat(c.call("GET", f"/{JIRA_DC}/rest/api/2/project/{p.key}/versions").json()
                          for p in s.projects_on(JIRA_DC))),
    "jira-dc field list": Kind(
        lambda: recorded_json("perceval/jira/jira_fields.json")
        + list(devlake_rows("devlake/jira/_raw_jira_api_issue_fields.csv")),
        get(f"/{JIRA_DC}/rest/api/2/field")),
    # -- GitHub (the newest recordings: PyGithub 2025-2026, octokit 2022, DevLake 2022) ------------
    "github issue": Kind(
        lambda: pygithub("Issue.setUp.txt", r"/repos/[^/]+/[^/]+/issues/\d+")
        + pygithub("IssueDependencies.setUp.txt", r"/repos/[^/]+/[^/]+/issues/\d+")
        + list(devlake_rows("devlake/github/_raw_github_api_issues.csv")),
        github_issues),
    "github milestone": Kind(
        lambda: pygithub("Milestone.setUp.txt", r"/repos/[^/]+/[^/]+/milestones/\d+")
        + list(devlake_rows("devlake/github/_raw_github_api_milestones.csv")),
        github_list("/milestones", {"state": "all"})),
    "github label": Kind(
        lambda: pygithub("Label.setUp.txt", r"/repos/[^/]+/[^/]+/labels/[^/]+")
        + flat(x["response"] for x in recorded_json("octokit-fixtures/labels/raw-fixture.json")
               if x["method"] == "get" and x["status"] == 200),
        lambda s, c: [label for i in github_issues(s, c) for label in i["labels"]]),
    "github user": Kind(
        lambda: [i["user"] for i in pygithub("Issue.setUp.txt", r"/repos/[^/]+/[^/]+/issues/\d+")
                 + pygithub("IssueDependencies.setUp.txt", r"/repos/[^/]+/[^/]+/issues/\d+")],
        github_users),
    "github public user": Kind(
        lambda: pygithub("RateLimiting.testRateLimiting.txt", r"/users/[^/]+"),
        lambda s, c: [c.call("GET", f"/github/users/{p.login}").json() for p in s.people[:5]]),
    "github repository": Kind(
        lambda: pygithub("Issue.setUp.txt", r"/repos/[^/]+/[^/]+"),
        lambda s, c: [c.call("GET", f"/github/repos/{p.key}").json() for p in s.projects_on(GITHUB)]),
}

@pytest.fixture(scope="module", params=["demo", "portfolio"])
def scenario(request) -> Scenario:
    """The demo, and a generated portfolio, which has the remote links the demo lacks (and more sprints)."""
    from sandbox.portfolio import portfolio
    from sandbox.scenario import demo

    return demo(7, date(2026, 11, 27)) if request.param == "demo" else portfolio(7, date(2026, 11, 27), 600)


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_sandbox_objects_have_the_recorded_keys_types_and_formats(kind, scenario, client):
    """Every key of the real objects, with a real JSON type and timestamp form, or a stated reason."""
    spec = KINDS[kind]
    if scenario.name == "portfolio" and not any(word in kind for word in ("sprint", "remote")):
        pytest.skip("the demo covers this kind; the portfolio is here for sprints and remote links")
    if not spec.present(scenario):
        pytest.skip(f"the {scenario.name} scenario has no {kind.split(' ', 1)[1]}s to compare")
    real, ours = spec.real(), spec.ours(scenario, client)
    assert real and ours, f"{kind}: nothing to compare"
    assert all(reason for reason in spec.skip.values())
    problems = differences(Shape.of(real), Shape.of(ours), "", spec.skip)
    assert problems == [], f"{kind}:\n" + "\n".join(problems)


def recorded_events() -> list[Any]:
    return (pygithub("IssueEvent.setUp.txt", r"/repos/[^/]+/[^/]+/issues/events/\d+")
            + list(devlake_rows("devlake/github/_raw_github_api_events.csv")))


def test_github_issue_events_have_the_recorded_shape_of_their_type(scenario, client):
    """Each event type carries its own keys (label, milestone, assignee, state_reason...): every
    type the sandbox writes is compared with real events of that type."""
    ours: dict[str, list] = {}
    for event in github_all("/issues/events")(scenario, client):  # the embedded issue: see below
        ours.setdefault(event["event"], []).append({k: v for k, v in event.items() if k != "issue"})
    real: dict[str, list] = {}
    for event in recorded_events():
        real.setdefault(event["event"], []).append({k: v for k, v in event.items() if k != "issue"})
    assert {"labeled", "closed", "assigned", "milestoned", "merged"} <= set(ours)
    assert set(ours) <= set(real), "event types with no real recording to compare with"
    # the embedded issue is compared as the github issue kind, which has pull requests too
    problems = [f"{kind}: {problem}" for kind in sorted(ours)
                for problem in differences(Shape.of(real[kind]), Shape.of(ours[kind]), "", {})]
    assert problems == [], "\n".join(problems)


def test_the_comparison_catches_a_missing_key_a_wrong_type_and_a_wrong_timestamp():
    """The checks above pass only because the sandbox matches, not because the comparison is blind."""
    real = Shape.of([{"id": 1, "created": "2022-04-19T01:53:42.180+0000", "user": {"login": "a"}, "body": None}])
    ours = Shape.of([{"id": "1", "created": "2022-04-19T01:53:42Z", "user": {}, "body": "text"}])
    assert differences(real, ours, "", {}) == [
        "id: sandbox sends ['str'], real sends ['int']",
        "created: sandbox strings are ['github-datetime'], real ones ['jira-datetime']",
        "user.login: missing (real sends ['str'])",
    ]
    assert differences(real, ours, "", {"user.*": "reason", "id": "reason", "created": "reason"}) == []
