"""Jira Cloud and Jira Data Center, as their REST APIs render a seeded scenario.

One class serves either site; the differences that trip real connectors are kept on purpose:

* Cloud (``deploymentType: Cloud``) answers REST v2 and v3. Its legacy ``/search`` is gone (410);
  issues come from ``/search/jql``, paged by ``nextPageToken``, ``id`` only unless fields are asked
  for. Users are account ids; v3 descriptions are Atlassian Document Format; epics are ``parent``;
  embedded changelogs are newest first and cut at 100, the full history is
  ``/issue/{key}/changelog`` (oldest first), or ``/changelog/bulkfetch`` for up to 1,000 issues.
* Data Center (``deploymentType: DataCenter``) answers REST v2 only: ``/search`` paged by
  ``startAt``/``total``. Users have ``name`` and ``key``; descriptions are wiki text; epics are the
  "Epic Link" custom field; embedded changelogs are complete and oldest first, and their items carry
  no ``fieldId``.

Shapes follow the recorded responses in ``/work/shared/corpus`` and the Jira Cloud OpenAPI spec.
Issue JSON is deterministic, so each issue is serialized once per (base URL, API version, field
selection, changelog) and a search page is a join of cached bytes.
"""

from __future__ import annotations

import base64
import hashlib
import json
import operator
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timezone
from functools import partial
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

from werkzeug.wrappers import Request, Response

from sandbox.faults import hide_unindexed
from sandbox.httpd import json_bytes
from sandbox.scenario import (DONE, IMPEDIMENT, IN_PROGRESS, JIRA_CLOUD, REVIEW, TODO, Change, Item, Person,
                              Project, Release, RemoteLink, Scenario, Sprint)
from sandbox.server import PUBLIC_ROOT, SITE_PREFIX, Route, json_response

PAGE_CAP = 100  # issues per search page, whatever maxResults asks for (Cloud)
# Server/DC: the jira.search.views.default.max property, 1,000 unless an admin changed it.
SERVER_PAGE_CAP = 1000
ID_ONLY_PAGE_CAP = 5000  # Cloud search/jql when no issue field is asked for
EMBEDDED_HISTORIES = 100  # Cloud embeds at most this many histories in an issue
CHANGELOG_PAGE_CAP = 100
BULK_CHANGELOG_ISSUES = 1000  # issueIdsOrKeys per /changelog/bulkfetch request (Cloud)
BULK_CHANGELOG_FIELDS = 10  # fieldIds per request
BULK_CHANGELOG_PAGE, BULK_CHANGELOG_PAGE_CAP = 1000, 10000  # maxResults default and maximum, in histories
BULK_CHANGELOG_PROPERTIES = frozenset({"issueIdsOrKeys", "fieldIds", "maxResults", "nextPageToken"})
RECONCILE_CAP = 50
BOARD_PAGE_CAP = 50
LINK_HISTORY_IDS = 900_000_000  # link histories get ids far from the scenario's change ids

# The API user: JQL dates are read in its time zone, as Jira does.
API_USER = Person(key="pulse-bot", name="Pulse Bot", email="pulse-bot@acme.example",
                  account_id="712020:0e6c5d3a-41f2-4b8e-9d0a-5c7b2f1e8a64", login="pulse-bot",
                  time_zone="Europe/Berlin", uid=100)
API_USER_ZONE = ZoneInfo(API_USER.time_zone)

# state -> (status id, status name, status category id)
STATUSES = {TODO: ("10000", "To Do", 2), IN_PROGRESS: ("3", "In Progress", 4),
            REVIEW: ("10001", "In Review", 4), DONE: ("10002", "Done", 3)}
# status category id -> (key, name, colour)
CATEGORIES = {2: ("new", "To Do", "blue-gray"), 4: ("indeterminate", "In Progress", "yellow"),
              3: ("done", "Done", "green")}
PRIORITIES = {"Highest": "1", "High": "2", "Medium": "3", "Low": "4", "Lowest": "5"}
RESOLUTIONS = {"Done": ("10000", "Work has been completed on this issue."),
               "Won't Do": ("10001", "This issue won't be actioned.")}
# (id, name, inward, outward)
LINK_TYPES = (("10000", "Blocks", "is blocked by", "blocks"), ("10001", "Cloners", "is cloned by", "clones"),
              ("10002", "Duplicate", "is duplicated by", "duplicates"),
              ("10003", "Relates", "relates to", "relates to"))
BLOCKS = LINK_TYPES[0]
# kind -> (name, description, avatar id); the ids differ per deployment (see _Site.issue_type_ids)
ISSUE_TYPES = {
    "epic": ("Epic", "A big user story that needs to be broken down.", 10307),
    "story": ("Story", "Functionality or a feature expressed as a user goal.", 10315),
    "task": ("Task", "A small, distinct piece of work.", 10318),
    "bug": ("Bug", "A problem or error.", 10303),
}
ISSUE_EXPAND = "operations,versionedRepresentations,editmeta,changelog,renderedFields"

SERVER_INFO = {
    True: {"version": "1001.0.0-SNAPSHOT", "versionNumbers": [1001, 0, 0], "deploymentType": "Cloud",
           "buildNumber": 100299, "buildDate": datetime(2025, 11, 20, 4, 12, 53, tzinfo=timezone.utc),
           "scmInfo": "9b2c7e0d4f1a6b3c8e5d2f7a0c9b4e1d6f3a8c5b", "serverTitle": "Jira"},
    False: {"version": "9.12.15", "versionNumbers": [9, 12, 15], "deploymentType": "DataCenter",
            "buildNumber": 9120015, "buildDate": datetime(2024, 10, 16, tzinfo=timezone.utc),
            "scmInfo": "5e1f8a3c0b7d2e9f4a6c1b8d3e0f7a2c5b9d4e6f", "serverTitle": "Acme Jira"},
}

UNAUTHENTICATED = {
    True: "Client must be authenticated to access this resource.",
    False: "You are not authenticated. Authentication required to perform this operation.",
}


@dataclass(frozen=True)
class _CustomFields:
    """The custom field ids of one deployment; connectors must find them through /field. Every Jira
    Software site has these: flow tools (jirametrics and the like) look them up at start-up."""

    points: str
    points_name: str
    points_type: str
    sprint: str
    rank: str
    epic_link: str | None  # Data Center only: Cloud uses `parent`
    epic_name: str | None
    flagged: str  # a multi-checkbox field whose one option is "Impediment"
    flagged_option: str  # that option's id: a changelog item writes it as "[id]"
    start_date: str


# Cloud's ids are those of the recorded Cloud sites in the corpus (jirametrics, DevLake); Data
# Center's Flagged id is the recorded Server's (Perceval), its others the usual Jira Software ones.
CLOUD_FIELDS = _CustomFields("customfield_10016", "Story point estimate",
                             "com.pyxis.greenhopper.jira:jsw-story-points", "customfield_10020",
                             "customfield_10019", None, None, "customfield_10021", "10019", "customfield_10015")
DC_FIELDS = _CustomFields("customfield_10106", "Story Points",
                          "com.atlassian.jira.plugin.system.customfieldtypes:float", "customfield_10104",
                          "customfield_10105", "customfield_10100", "customfield_10102", "customfield_10200",
                          "10300", "customfield_10201")

# System fields: id, name, clause names, schema type, schema items, navigable, orderable, searchable.
_SYSTEM_FIELDS: tuple[tuple[str, str, tuple[str, ...], str, str | None, bool, bool, bool], ...] = (
    ("summary", "Summary", ("summary",), "string", None, True, True, True),
    ("issuetype", "Issue Type", ("issuetype", "type"), "issuetype", None, True, True, True),
    ("project", "Project", ("project",), "project", None, True, False, True),
    ("status", "Status", ("status",), "status", None, True, False, True),
    ("priority", "Priority", ("priority",), "priority", None, True, True, True),
    ("resolution", "Resolution", ("resolution",), "resolution", None, True, True, True),
    ("resolutiondate", "Resolved", ("resolutiondate", "resolved"), "datetime", None, True, False, True),
    ("created", "Created", ("created", "createdDate"), "datetime", None, True, False, True),
    ("updated", "Updated", ("updated", "updatedDate"), "datetime", None, True, False, True),
    ("duedate", "Due date", ("due", "duedate"), "date", None, True, True, True),
    ("assignee", "Assignee", ("assignee",), "user", None, True, True, True),
    ("reporter", "Reporter", ("reporter",), "user", None, True, True, True),
    ("creator", "Creator", ("creator",), "user", None, True, False, True),
    ("labels", "Labels", ("labels",), "array", "string", True, True, True),
    ("components", "Components", ("component",), "array", "component", True, True, True),
    ("fixVersions", "Fix versions", ("fixVersion",), "array", "version", True, True, True),
    ("versions", "Affects versions", ("affectedVersion",), "array", "version", True, True, True),
    ("issuelinks", "Linked Issues", ("issueLink",), "array", "issuelinks", True, True, True),
    ("subtasks", "Sub-tasks", ("subtasks",), "array", "issuelinks", True, False, True),
    ("description", "Description", ("description",), "string", None, True, True, True),
    ("environment", "Environment", ("environment",), "string", None, True, True, True),
    ("security", "Security Level", ("level",), "securitylevel", None, True, True, True),
    ("timeoriginalestimate", "Original estimate", ("originalEstimate",), "number", None, True, False, True),
    ("timeestimate", "Remaining Estimate", ("remainingEstimate",), "number", None, True, False, True),
    ("timespent", "Time Spent", ("timespent",), "number", None, True, False, True),
    ("workratio", "Work Ratio", ("workratio",), "number", None, True, False, True),
    # Σ fields: the issue's own plus its sub-tasks' time tracking, sent with every issue
    ("aggregatetimespent", "Σ Time Spent", (), "number", None, True, False, False),
    ("aggregatetimeoriginalestimate", "Σ Original Estimate", (), "number", None, True, False, False),
    ("aggregatetimeestimate", "Σ Remaining Estimate", (), "number", None, True, False, False),
    ("aggregateprogress", "Σ Progress", (), "progress", None, True, False, False),
    ("progress", "Progress", ("progress",), "progress", None, True, False, False),
    ("watches", "Watchers", ("watchers",), "watches", None, True, False, True),
    ("votes", "Votes", ("votes",), "votes", None, True, False, True),
    ("lastViewed", "Last Viewed", ("lastViewed",), "datetime", None, True, False, False),
    ("timetracking", "Time tracking", (), "timetracking", None, False, True, False),
    ("comment", "Comment", ("comment",), "comments-page", None, False, True, True),
    ("attachment", "Attachment", ("attachments",), "array", "attachment", False, True, True),
    ("worklog", "Log Work", ("worklogAuthor", "worklogComment", "worklogDate"), "array", "worklog",
     False, True, True),
)


class _JiraError(Exception):
    """A request Jira refuses: the status and the `errorMessages` it answers with."""

    def __init__(self, status: int, *messages: str) -> None:
        super().__init__(*messages)
        self.status = status
        self.messages = list(messages)

    def response(self, headers: dict[str, str] | None = None) -> Response:
        return json_response({"errorMessages": self.messages, "errors": {}}, self.status, headers)


# --------------------------------------------------------------------------------------------
# The site's data, indexed once
# --------------------------------------------------------------------------------------------

class _Site:
    """One Jira site's share of the scenario: its projects, issues, versions, links and fields."""

    def __init__(self, scenario: Scenario, site: str) -> None:
        self.cloud = site == JIRA_CLOUD
        self.now = scenario.now
        self.people = scenario.person
        self.custom = CLOUD_FIELDS if self.cloud else DC_FIELDS
        self.issue_type_ids = ({"epic": "10000", "story": "10001", "task": "10002", "bug": "10004"}
                               if self.cloud else {"epic": "10000", "story": "10001", "task": "3", "bug": "1"})
        self.projects = scenario.projects_on(site)
        self.project = {p.key: p for p in self.projects}
        self.items = tuple(i for p in self.projects for i in sorted(
            scenario.items_by_project.get(p.key, ()), key=lambda i: i.number))
        self.item = {i.ref: i for i in self.items}
        self.releases = {p.key: scenario.releases_by_project.get(p.key, ()) for p in self.projects}
        self.release = {r.id: r for rs in self.releases.values() for r in rs}
        # Jira cannot link issues on two different sites: such links do not exist here.
        self.links = {ref: tuple(link for link in scenario.links_by_item.get(ref, ())
                                 if link.blocker in self.item and link.blocked in self.item)
                      for ref in self.item}
        self.boards = dict(enumerate(self.projects, start=1))
        self.board_of = {p.key: n for n, p in self.boards.items()}
        self.sprint = {s.id: s for s in scenario.sprints if s.project in self.project}
        sprints_of: dict[str, list[Sprint]] = {p.key: [] for p in self.projects}
        for sprint in self.sprint.values():
            sprints_of[sprint.project].append(sprint)
        self.board_sprints = {n: tuple(sprints_of[p.key]) for n, p in self.boards.items()}
        self.remote_links: dict[tuple[str, int], list[RemoteLink]] = {}
        for remote in scenario.remote_links:
            if remote.item in self.item:
                self.remote_links.setdefault(remote.item, []).append(remote)
        self.fields = _field_catalogue(self.cloud, self.custom)
        payload = [f for f in self.fields if f["id"] != "issuekey"]
        self.all_fields = frozenset(f["id"] for f in payload)
        self.navigable = frozenset(f["id"] for f in payload if f["navigable"])
        # JQL names: project key, id or name; issue key or id (case-insensitive, as JQL is).
        self.project_names = {n.upper(): p.key for p in self.projects for n in (p.key, str(p.uid), p.name)}
        # A moved issue answers to its old keys too, as Jira redirects them.
        self.issue_names = {n.upper(): i for i in self.items
                            for n in (_key(i.ref), str(i.uid), *map(_key, i.moved_from))}
        self.issue_refs = {name: item.ref for name, item in self.issue_names.items()}

    def selection(self, tokens: list[str], default: str) -> frozenset[str]:
        """The issue fields a `fields` parameter asks for: *all, *navigable, field ids, -exclusions."""
        include = [t for t in tokens if not t.startswith("-")] or [default]
        chosen: set[str] = set()
        for token in include:
            if token == "*all":
                chosen |= self.all_fields
            elif token == "*navigable":
                chosen |= self.navigable
            elif token in self.all_fields:
                chosen.add(token)
        return frozenset(chosen - {t[1:] for t in tokens if t.startswith("-")})

    def find_item(self, key_or_id: str) -> Item:
        item = self.issue_names.get(key_or_id.upper())
        if item is None:
            raise _JiraError(404, "Issue does not exist or you do not have permission to see it.")
        return item

    def find_project(self, key_or_id: str) -> Project:
        for project in self.projects:
            if key_or_id in (project.key, str(project.uid)):
                return project
        raise _JiraError(404, f"No project could be found with key '{key_or_id}'.")


def _field_catalogue(cloud: bool, custom: _CustomFields) -> list[dict[str, Any]]:
    """GET /field: the system fields, then the custom fields with their real schema types."""
    fields = [{"id": "issuekey", "key": "issuekey", "name": "Key", "custom": False, "orderable": False,
               "navigable": True, "searchable": False, "clauseNames": ["id", "issue", "issuekey", "key"]}]
    for fid, name, clauses, kind, items, navigable, orderable, searchable in _SYSTEM_FIELDS:
        schema = {"type": kind, **({"items": items} if items else {}), "system": fid}
        fields.append({"id": fid, "key": fid, "name": name, "custom": False, "orderable": orderable,
                       "navigable": navigable, "searchable": searchable, "clauseNames": list(clauses),
                       "schema": schema})
    if cloud:
        fields.append({"id": "parent", "key": "parent", "name": "Parent", "custom": False, "orderable": True,
                       "navigable": True, "searchable": True, "clauseNames": ["parent"]})
        fields.append({"id": "statuscategorychangedate", "key": "statuscategorychangedate",
                       "name": "Status Category Changed", "custom": False, "orderable": False,
                       "navigable": True, "searchable": True, "clauseNames": ["statusCategoryChangedDate"],
                       "schema": {"type": "datetime", "system": "statuscategorychangedate"}})
        fields.append({"id": "issuerestriction", "key": "issuerestriction", "name": "Restrict to", "custom": False,
                       "orderable": True, "navigable": True, "searchable": True, "clauseNames": [],
                       "schema": {"type": "issuerestriction", "system": "issuerestriction"}})
    greenhopper, system = "com.pyxis.greenhopper.jira:", "com.atlassian.jira.plugin.system.customfieldtypes:"
    customs = [(custom.points, custom.points_name, custom.points_type, "number", None),
               (custom.sprint, "Sprint", greenhopper + "gh-sprint", "array", "json"),
               (custom.rank, "Rank", greenhopper + "gh-lexo-rank", "any", None),
               (custom.flagged, "Flagged", system + "multicheckboxes", "array", "option"),
               (custom.start_date, "Start date", system + "datepicker", "date", None)]
    if custom.epic_link and custom.epic_name:
        customs += [(custom.epic_link, "Epic Link", greenhopper + "gh-epic-link", "any", None),
                    (custom.epic_name, "Epic Name", greenhopper + "gh-epic-label", "string", None)]
    for fid, name, custom_type, kind, items in customs:
        number = int(fid.rsplit("_", 1)[1])
        schema = {"type": kind, **({"items": items} if items else {}), "custom": custom_type, "customId": number}
        fields.append({"id": fid, "key": fid, "name": name, "custom": True, "orderable": True,
                       "navigable": True, "searchable": True, "clauseNames": [f"cf[{number}]", name],
                       "schema": schema})
    return fields


# --------------------------------------------------------------------------------------------
# Rendering: the site as seen at one base URL and REST version
# --------------------------------------------------------------------------------------------

class _View:
    """Renders the site's objects for one base URL and API version, caching what it renders."""

    def __init__(self, site: _Site, base: str, version: str) -> None:
        self.site = site
        self.base = base
        self.rest = f"{base}/rest/api/{version}"
        self.adf = site.cloud and version == "3"
        self._users: dict[str, dict[str, Any]] = {}
        self._fields: dict[tuple[str, int], dict[str, Any]] = {}
        self._histories: dict[tuple[str, int], list[dict[str, Any]]] = {}
        self._json: dict[tuple[tuple[str, int], frozenset[str], bool], bytes] = {}

    # -- issues ----------------------------------------------------------------------------------
    def issue_json(self, item: Item, selection: frozenset[str], changelog: bool) -> bytes:
        """The issue as UTF-8 JSON, serialized once per selection: a page is then a join of bytes."""
        cache_key = (item.ref, selection, changelog)
        text = self._json.get(cache_key)
        if text is None:
            fields = {k: v for k, v in self.fields(item).items() if k in selection}
            body = {"expand": ISSUE_EXPAND, "id": str(item.uid), "self": f"{self.rest}/issue/{item.uid}",
                    "key": _key(item.ref), "fields": fields}
            if changelog:
                body["changelog"] = self.embedded_changelog(item)
            text = self._json[cache_key] = json_bytes(body)
        return text

    def fields(self, item: Item) -> dict[str, Any]:
        fields = self._fields.get(item.ref)
        if fields is None:
            fields = self._fields[item.ref] = self._render_fields(item)
        return fields

    def _render_fields(self, item: Item) -> dict[str, Any]:
        site, custom, key = self.site, self.site.custom, _key(item.ref)
        fields: dict[str, Any] = {
            "issuetype": self.issue_type(item.kind),
            "project": self.project_ref(site.project[item.project]),
            "fixVersions": [self.version(site.release[item.release])] if item.release is not None else [],
            "resolution": self.resolution(item.resolution),
            "resolutiondate": _ts(item.resolved_at) if item.resolved_at else None,
            "workratio": -1,
            "aggregatetimespent": None, "aggregatetimeoriginalestimate": None, "aggregatetimeestimate": None,
            "aggregateprogress": {"progress": 0, "total": 0},
            "lastViewed": None,
            "watches": {"self": f"{self.rest}/issue/{key}/watchers", "watchCount": 1, "isWatching": False},
            "created": _ts(item.created_at),
            "priority": self.priority(item.priority),
            "labels": list(item.labels),
            "versions": [],
            "issuelinks": self._issue_links(item),
            "assignee": self.user(item.assignee),
            "updated": _ts(item.updated_at),
            "status": self.status(item.state),
            "components": [],
            "description": self._description(item.body),
            "security": None,
            "summary": item.title,
            "creator": self.user(item.reporter),
            "subtasks": [],
            "reporter": self.user(item.reporter),
            "environment": None,
            "duedate": item.due.isoformat() if item.due else None,
            "timeoriginalestimate": None,
            "timeestimate": None,
            "timespent": None,
            "progress": {"progress": 0, "total": 0},
            "votes": {"self": f"{self.rest}/issue/{key}/votes", "votes": 0, "hasVoted": False},
            "timetracking": {},
            "comment": {"comments": [], "self": f"{self.rest}/issue/{item.uid}/comment", "maxResults": 0,
                        "total": 0, "startAt": 0},
            "attachment": [],
            "worklog": {"startAt": 0, "maxResults": 20, "total": 0, "worklogs": []},
            custom.points: float(item.points) if item.points is not None else None,
            custom.sprint: [self.sprint_value(self.site.sprint[s]) for s in item.sprints] or None,
            custom.rank: f"0|i{item.number:05x}:",
            custom.flagged: [self.flag_option()] if item.flagged else None,
            custom.start_date: None,
        }
        if site.cloud:
            fields["statuscategorychangedate"] = _ts(_category_changed_at(item))
            fields["issuerestriction"] = {"issuerestrictions": {}, "shouldDisplay": False}
            if item.parent is not None:
                fields["parent"] = self.issue_ref(site.item[(item.project, item.parent)])
        else:
            fields[custom.epic_link] = _key((item.project, item.parent)) if item.parent is not None else None
            fields[custom.epic_name] = item.title if item.kind == "epic" else None
        return fields

    def _description(self, body: str) -> str | dict[str, Any] | None:
        """Cloud v3 speaks Atlassian Document Format; v2 and Data Center speak wiki text."""
        if not body:
            return None
        if not self.adf:
            return body
        return {"type": "doc", "version": 1,
                "content": [{"type": "paragraph", "content": [{"type": "text", "text": body}]}]}

    def _issue_links(self, item: Item) -> list[dict[str, Any]]:
        links = []
        for link in self.site.links[item.ref]:
            outward = link.blocker == item.ref
            other = self.site.item[link.blocked if outward else link.blocker]
            links.append({"id": str(link.id), "self": f"{self.rest}/issueLink/{link.id}",
                          "type": self.link_type(BLOCKS),
                          ("outwardIssue" if outward else "inwardIssue"): self.issue_ref(other)})
        return links

    def issue_ref(self, item: Item) -> dict[str, Any]:
        """An issue as other issues embed it (links, parent)."""
        return {"id": str(item.uid), "key": _key(item.ref), "self": f"{self.rest}/issue/{item.uid}",
                "fields": {"summary": item.title, "status": self.status(item.state),
                           "priority": self.priority(item.priority), "issuetype": self.issue_type(item.kind)}}

    # -- changelogs ------------------------------------------------------------------------------
    def embedded_changelog(self, item: Item) -> dict[str, Any]:
        """expand=changelog: Cloud embeds the newest 100, newest first; Data Center all, oldest first."""
        everything = self.histories(item)
        histories = everything[::-1][:EMBEDDED_HISTORIES] if self.site.cloud else everything
        return {"startAt": 0, "maxResults": len(histories), "total": len(everything), "histories": histories}

    def histories(self, item: Item) -> list[dict[str, Any]]:
        """Every history of the issue, oldest first: its field changes and its links' creation."""
        histories = self._histories.get(item.ref)
        if histories is None:
            histories = self._histories[item.ref] = self._render_histories(item)
        return histories

    def _render_histories(self, item: Item) -> list[dict[str, Any]]:
        entries = [(c.at, c.id, c.author, self._change_items(item, c)) for c in item.changes]
        for link in self.site.links[item.ref]:
            outward = link.blocker == item.ref
            other = _key(link.blocked if outward else link.blocker)
            verb = "blocks" if outward else "is blocked by"
            history_id = LINK_HISTORY_IDS + 2 * link.id + (0 if outward else 1)
            change = self._change("Link", "jira", None, None, None, other, f"This issue {verb} {other}")
            entries.append((link.created_at, history_id, link.author, [change]))
        entries.sort(key=lambda e: (e[0], e[1]))
        return [{"id": str(history_id), "author": self.user(author), "created": _ts(at), "items": items}
                for at, history_id, author, items in entries]

    def _change_items(self, item: Item, change: Change) -> list[dict[str, Any]]:
        if change.field == "status":
            return self._status_change(item, change)
        if change.field == "assignee":
            return [self._change("assignee", "jira", "assignee", self._user_id(change.old),
                                 self._display_name(change.old), self._user_id(change.new),
                                 self._display_name(change.new))]
        if change.field == "release":
            return [self._change("Fix Version", "jira", "fixVersions", *self._version_value(change.old),
                                 *self._version_value(change.new))]
        if change.field == "points":
            custom = self.site.custom
            return [self._change(custom.points_name, "custom", custom.points, None, change.old, None, change.new)]
        if change.field == "sprint":  # ids and names of every sprint the issue is in, comma-separated
            return [self._change("Sprint", "custom", self.site.custom.sprint, change.old or "",
                                 self._sprint_names(change.old), change.new or "", self._sprint_names(change.new))]
        if change.field == "rank":
            return [self._change("Rank", "custom", self.site.custom.rank, "", "", "", f"Ranked {change.new}")]
        if change.field == "flagged":  # as recorded on Jira Cloud: set from nulls, cleared to empty strings
            option = f"[{self.site.custom.flagged_option}]"
            if change.new is not None:
                return [self._change("Flagged", "custom", self.site.custom.flagged, None, None, option, change.new)]
            return [self._change("Flagged", "custom", self.site.custom.flagged, option, change.old, "", "")]
        if change.field == "labels":
            return [self._change("labels", "jira", "labels", None, change.old or "", None, change.new or "")]
        if change.field == "key":
            return self._move(change)
        raise ValueError(f"no Jira rendering for a change of {change.field!r}")

    def _move(self, change: Change) -> list[dict[str, Any]]:
        """A move to another project: Jira records the project (by id) and the key (as text)."""
        old, new = (self.site.project[key.rpartition("-")[0]] for key in (change.old, change.new))
        return [self._change("project", "jira", "project", str(old.uid), old.name, str(new.uid), new.name),
                self._change("Key", "jira", "issuekey", None, change.old, None, change.new)]

    def _status_change(self, item: Item, change: Change) -> list[dict[str, Any]]:
        """A transition; into or out of Done it also sets or clears the resolution, as Jira does."""
        old_id, old_name, _ = STATUSES[change.old]
        new_id, new_name, _ = STATUSES[change.new]
        items = [self._change("status", "jira", "status", old_id, old_name, new_id, new_name)]
        if change.new == DONE:
            closes = [c for c in item.changes if c.field == "status" and c.new == DONE]
            last = max(closes, key=lambda c: (c.at, c.id))  # the closing that set today's resolution
            name = "Won't Do" if change == last and item.resolution == "Won't Do" else "Done"
            resolution_id = RESOLUTIONS[name][0]
            items.insert(0, self._change("resolution", "jira", "resolution", None, None, resolution_id, name))
        elif change.old == DONE:
            items.insert(0, self._change("resolution", "jira", "resolution", RESOLUTIONS["Done"][0], "Done",
                                         None, None))
        return items

    def _change(self, field: str, fieldtype: str, field_id: str | None, old: str | None,
                old_string: str | None, new: str | None, new_string: str | None) -> dict[str, Any]:
        """One changelog item. Only Cloud names the field id, and never for links."""
        item: dict[str, Any] = {"field": field, "fieldtype": fieldtype}
        if self.site.cloud and field_id:
            item["fieldId"] = field_id
        item.update({"from": old, "fromString": old_string, "to": new, "toString": new_string})
        return item

    def _user_id(self, person_key: str | None) -> str | None:
        """How a changelog names a user: account id on Cloud, user key on Data Center."""
        if person_key is None:
            return None
        person = self.site.people[person_key]
        return person.account_id if self.site.cloud else _dc_user_key(person)

    def _display_name(self, person_key: str | None) -> str | None:
        return self.site.people[person_key].name if person_key else None

    def _version_value(self, release_id: str | None) -> tuple[str | None, str | None]:
        if release_id is None:
            return None, None
        return release_id, self.site.release[int(release_id)].name

    def _sprint_names(self, sprint_ids: str | None) -> str:
        return ", ".join(self.site.sprint[int(s)].name for s in sprint_ids.split(", ")) if sprint_ids else ""

    # -- small objects ---------------------------------------------------------------------------
    def flag_option(self) -> dict[str, Any]:
        """The Flagged field's one option, as an issue's value lists it."""
        option = self.site.custom.flagged_option
        return {"self": f"{self.rest}/customFieldOption/{option}", "value": IMPEDIMENT, "id": option}

    def user(self, person_key: str | None) -> dict[str, Any] | None:
        if person_key is None:
            return None
        user = self._users.get(person_key)
        if user is None:
            person = API_USER if person_key == API_USER.key else self.site.people[person_key]
            user = self._users[person_key] = self._render_user(person)
        return user

    def _render_user(self, person: Person) -> dict[str, Any]:
        avatars = _gravatar(person.email)
        if self.site.cloud:
            user = {"self": f"{self.rest}/user?accountId={quote(person.account_id, safe='')}",
                    "accountId": person.account_id, "emailAddress": person.email, "avatarUrls": avatars,
                    "displayName": person.name, "active": True, "timeZone": person.time_zone,
                    "accountType": "atlassian"}
            if not person.cloud_email_visible:  # the profile hides it: Cloud leaves the field out
                del user["emailAddress"]
            return user
        return {"self": f"{self.rest}/user?username={quote(person.key, safe='')}", "name": person.key,
                "key": _dc_user_key(person), "emailAddress": person.email, "avatarUrls": avatars,
                "displayName": person.name, "active": True, "timeZone": person.time_zone}

    def status(self, state: str) -> dict[str, Any]:
        status_id, name, category = STATUSES[state]
        category_key, category_name, colour = CATEGORIES[category]
        return {"self": f"{self.rest}/status/{status_id}", "description": "", "iconUrl": f"{self.base}/",
                "name": name, "id": status_id,
                "statusCategory": {"self": f"{self.rest}/statuscategory/{category}", "id": category,
                                   "key": category_key, "colorName": colour, "name": category_name}}

    def issue_type(self, kind: str) -> dict[str, Any]:
        name, description, avatar = ISSUE_TYPES[kind]
        type_id = self.site.issue_type_ids[kind]
        issue_type = {"self": f"{self.rest}/issuetype/{type_id}", "id": type_id, "description": description,
                      "iconUrl": f"{self.base}/secure/viewavatar?avatarId={avatar}&avatarType=issuetype",
                      "name": name, "subtask": False, "avatarId": avatar}
        if self.site.cloud:  # the issue hierarchy is a Cloud notion
            issue_type["hierarchyLevel"] = 1 if kind == "epic" else 0
        return issue_type

    def priority(self, name: str) -> dict[str, Any]:
        priority_id = PRIORITIES[name]
        return {"self": f"{self.rest}/priority/{priority_id}",
                "iconUrl": f"{self.base}/images/icons/priorities/{name.lower()}.svg", "name": name,
                "id": priority_id}

    def resolution(self, name: str | None) -> dict[str, Any] | None:
        if name is None:
            return None
        resolution_id, description = RESOLUTIONS[name]
        return {"self": f"{self.rest}/resolution/{resolution_id}", "id": resolution_id,
                "description": description, "name": name}

    def link_type(self, link_type: tuple[str, str, str, str]) -> dict[str, Any]:
        type_id, name, inward, outward = link_type
        return {"id": type_id, "name": name, "inward": inward, "outward": outward,
                "self": f"{self.rest}/issueLinkType/{type_id}"}

    def project_ref(self, project: Project) -> dict[str, Any]:
        ref = {"self": f"{self.rest}/project/{project.uid}", "id": str(project.uid), "key": project.key,
               "name": project.name, "projectTypeKey": "software",
               "avatarUrls": _avatar_sizes(f"{self.base}/secure/projectavatar?pid={project.uid}&avatarId=10324")}
        if self.site.cloud:
            ref["simplified"] = False
        return ref

    def project(self, project: Project) -> dict[str, Any]:
        """GET /project/{key}: the summary plus lead, issue types and versions."""
        details = {"expand": "description,lead,issueTypes,url,projectKeys,permissions,insight",
                   **self.project_ref(project), "description": project.story,
                   "lead": self.user(project.lead), "components": [],
                   "issueTypes": [self.issue_type(kind) for kind in ISSUE_TYPES],
                   "assigneeType": "UNASSIGNED",
                   "versions": [self.version(r, full=True) for r in self.site.releases[project.key]],
                   "roles": {}, "archived": False}
        if self.site.cloud:
            details.update(style="classic", isPrivate=False, properties={})
        return details

    def version(self, release: Release, full: bool = False) -> dict[str, Any]:
        """A version as an issue embeds it, or in full as /project/{key}/versions lists it."""
        released = release.released_at is not None and release.released_at <= self.site.now
        version: dict[str, Any] = {"self": f"{self.rest}/version/{release.id}", "id": str(release.id),
                                   "description": release.description, "name": release.name,
                                   "archived": False, "released": released}
        if full and release.start:
            version["startDate"] = release.start.isoformat()
        if release.due:
            version["releaseDate"] = release.due.isoformat()
        if not full:
            return version
        if release.due and not released:
            version["overdue"] = release.due < self.site.now.date()
        if release.start:
            version["userStartDate"] = _user_date(release.start)
        if release.due:
            version["userReleaseDate"] = _user_date(release.due)
        version["projectId"] = self.site.project[release.project].uid
        return version

    def sprint_value(self, sprint: Sprint) -> dict[str, Any] | str:
        """The Sprint field's value: an object on Cloud, GreenHopper's toString() on Server/DC (as
        Jira 8 and 9 write it: nothing escaped, so names and goals may hold commas and brackets;
        null as ``<null>``)."""
        board = self.site.board_of[sprint.project]
        if self.site.cloud:
            return {"id": sprint.id, "name": sprint.name, "state": sprint.state, "boardId": board,
                    "goal": sprint.goal, **_sprint_dates(sprint)}
        identity = int(_digest(f"sprint:{sprint.id}")[:7], 16) | 0x10000000  # Java's identity hash

        def when(moment: datetime | None) -> str:
            return _agile_ts(moment) if moment else "<null>"

        return (f"com.atlassian.greenhopper.service.sprint.Sprint@{identity:x}[id={sprint.id},"
                f"rapidViewId={board},state={sprint.state.upper()},name={sprint.name},"
                f"startDate={when(sprint.start)},endDate={when(sprint.end)},"
                f"completeDate={when(sprint.completed_at)},activatedDate={when(sprint.start)},"
                f"sequence={sprint.id},goal={sprint.goal or '<null>'}]")

    def agile_sprint(self, sprint: Sprint) -> dict[str, Any]:
        """A sprint as the agile API lists it."""
        return {"id": sprint.id, "self": f"{self.base}/rest/agile/1.0/sprint/{sprint.id}", "state": sprint.state,
                "name": sprint.name, **_sprint_dates(sprint), "originBoardId": self.site.board_of[sprint.project],
                "goal": sprint.goal}

    def remote_link(self, link: RemoteLink) -> dict[str, Any]:
        """A remote issue link to a GitHub issue, as the GitHub for Jira app stores it."""
        return {"id": link.id, "self": f"{self.rest}/issue/{_key(link.item)}/remotelink/{link.id}",
                "globalId": f"system=https://github.com&id={link.title}",
                "application": {"type": "com.github.integration.production", "name": "GitHub"},
                "relationship": link.relationship,
                "object": {"url": link.url, "title": link.title, "summary": link.summary,
                           "icon": {"url16x16": "https://github.com/favicon.ico", "title": "GitHub"},
                           "status": {"resolved": link.resolved, "icon": {}}}}


# --------------------------------------------------------------------------------------------
# JQL
# --------------------------------------------------------------------------------------------

# A double-quoted string, a single-quoted string, an operator or punctuation, or a bare word.
_JQL_TOKEN = re.compile(r"""\s*(?:"((?:[^"\\]|\\.)*)"|'((?:[^'\\]|\\.)*)'
                        |(>=|<=|!=|=|>|<|\(|\)|,)|([^\s"'=!<>(),]+))""", re.VERBOSE)
_JQL_DATE = re.compile(r"(\d{4})[-/](\d{1,2})[-/](\d{1,2})(?:\s+(\d{1,2}):(\d{2}))?")
_COMPARE = {">": operator.gt, ">=": operator.ge, "<": operator.lt, "<=": operator.le}
_SORT_KEYS: dict[str, Callable[[Item], Any]] = {
    "updated": lambda i: i.updated_at, "updateddate": lambda i: i.updated_at,
    "created": lambda i: i.created_at, "createddate": lambda i: i.created_at,
    "key": lambda i: i.ref, "issuekey": lambda i: i.ref, "id": lambda i: i.uid,
}
_DEFAULT_ORDER = (("updated", False), ("key", False))


@dataclass(frozen=True)
class _Token:
    text: str
    quoted: bool
    at: int  # 1-based character position, as Jira reports it

    def is_word(self, *words: str) -> bool:
        return not self.quoted and self.text.lower() in words


@dataclass(frozen=True)
class _Query:
    where: tuple[Callable[[Item], bool], ...]
    order: tuple[tuple[str, bool], ...]  # (sort key, descending)

    def select(self, items: tuple[Item, ...]) -> tuple[Item, ...]:
        chosen = [i for i in items if all(clause(i) for clause in self.where)]
        for name, descending in reversed(self.order):  # stable sorts, last key first
            chosen.sort(key=_SORT_KEYS[name], reverse=descending)
        return tuple(chosen)


class _Jql:
    """Reads the JQL the connectors and Perceval send: AND-ed clauses (in parentheses or not) on
    project, key/id and updated/created, then ORDER BY. Anything else is Jira's 400, never a silent guess."""

    def __init__(self, text: str, site: _Site) -> None:
        self._site = site
        self._tokens = _tokenize(text)
        self._next_index = 0

    def parse(self) -> _Query:
        where = []
        if self._peek() is not None and not self._at_order_by():
            where.append(self._clause())
            while (token := self._peek()) is not None and token.is_word("and"):
                self._take("a clause")
                where.append(self._clause())
        order = self._order_by() if self._at_order_by() else _DEFAULT_ORDER
        if (token := self._peek()) is not None:
            raise _jql_error(f"Expecting either 'AND' or 'ORDER BY' but got '{token.text}'", token)
        return _Query(tuple(where), order)

    def _clause(self) -> Callable[[Item], bool]:
        if (token := self._peek()) is not None and token.text == "(" and not token.quoted:
            self._take("'('")  # a parenthesised AND, as Jira Software wraps a board read's `jql`
            clauses = [self._clause()]
            while (token := self._peek()) is not None and token.is_word("and"):
                self._take("a clause")
                clauses.append(self._clause())
            self._expect(")")
            return lambda item: all(clause(item) for clause in clauses)
        field = self._take("a field name")
        name = field.text.lower()
        if name == "project":
            return self._membership(field, self._site.project_names, lambda i: i.project, "project",
                                    "The value '{}' does not exist for the field 'project'.")
        if name in ("key", "issuekey", "id"):
            return self._membership(field, self._site.issue_refs, lambda i: i.ref, name,
                                    "An issue with key '{}' does not exist for field '" + name + "'.")
        if name in ("updated", "updateddate", "created", "createddate"):
            return self._date_comparison(field)
        raise _JiraError(400, f"Field '{field.text}' does not exist or you do not have permission to view it.")

    def _membership(self, field: _Token, names: dict[str, Any], value_of: Callable[[Item], Any],
                    label: str, unknown: str) -> Callable[[Item], bool]:
        """`=`, `!=`, `in` and `not in` against named things (projects, issues)."""
        op = self._operator(field, ("=", "!=", "in", "not in"))
        wanted = set()
        for token in self._values(op):
            if token.text.upper() not in names:
                raise _JiraError(400, unknown.format(token.text))
            wanted.add(names[token.text.upper()])
        negate = op in ("!=", "not in")
        return lambda item: (value_of(item) in wanted) != negate

    def _date_comparison(self, field: _Token) -> Callable[[Item], bool]:
        op = self._operator(field, tuple(_COMPARE))
        moment = _jql_moment(self._take("a date").text, field.text)
        compare = _COMPARE[op]
        if field.text.lower().startswith("updated"):
            return lambda item: compare(item.updated_at, moment)
        return lambda item: compare(item.created_at, moment)

    def _operator(self, field: _Token, allowed: tuple[str, ...]) -> str:
        token = self._take("an operator")
        op = token.text.lower()
        if op == "not" and not token.quoted and (after := self._peek()) is not None and after.is_word("in"):
            self._take("'in'")
            op = "not in"
        elif token.quoted or op not in ("=", "!=", ">", ">=", "<", "<=", "in"):
            raise _jql_error(f"Expecting operator but got '{token.text}'. Valid operators are: "
                             "'=', '!=', '>', '>=', '<', '<=', 'in', 'not in'", token)
        if op not in allowed:
            raise _JiraError(400, f"The operator '{op}' is not supported by the '{field.text}' field.")
        return op

    def _values(self, op: str) -> list[_Token]:
        if op not in ("in", "not in"):
            return [self._value()]
        self._expect("(")
        values = [self._value()]
        while (token := self._peek()) is not None and token.text == "," and not token.quoted:
            self._take("','")
            values.append(self._value())
        self._expect(")")
        return values

    def _value(self) -> _Token:
        token = self._take("a value")
        if not token.quoted and token.text in ("(", ")", ","):
            raise _jql_error(f"Expecting a value but got '{token.text}'", token)
        return token

    def _at_order_by(self) -> bool:
        ahead = self._tokens[self._next_index:self._next_index + 2]
        return len(ahead) == 2 and ahead[0].is_word("order") and ahead[1].is_word("by")

    def _order_by(self) -> tuple[tuple[str, bool], ...]:
        self._next_index += 2
        keys = [self._sort_key()]
        while (token := self._peek()) is not None and token.text == "," and not token.quoted:
            self._take("','")
            keys.append(self._sort_key())
        return tuple(keys)

    def _sort_key(self) -> tuple[str, bool]:
        field = self._take("a field to order by")
        if field.text.lower() not in _SORT_KEYS:
            raise _JiraError(400, f"Not able to sort using field '{field.text}'.")
        descending = False
        if (token := self._peek()) is not None and token.is_word("asc", "desc"):
            descending = self._take("a direction").text.lower() == "desc"
        return field.text.lower(), descending

    def _expect(self, text: str) -> None:
        token = self._take(f"'{text}'")
        if token.quoted or token.text != text:
            raise _jql_error(f"Expecting '{text}' but got '{token.text}'", token)

    def _peek(self) -> _Token | None:
        return self._tokens[self._next_index] if self._next_index < len(self._tokens) else None

    def _take(self, what: str) -> _Token:
        token = self._peek()
        if token is None:
            raise _JiraError(400, f"Error in the JQL Query: Expecting {what} before the end of the query.")
        self._next_index += 1
        return token


def _tokenize(text: str) -> list[_Token]:
    tokens, position = [], 0
    while text[position:].strip():
        match = _JQL_TOKEN.match(text, position)
        if match is None:
            at = len(text) - len(text[position:].lstrip()) + 1
            raise _JiraError(400, f"Error in the JQL Query: The character '{text[at - 1]}' is a reserved "
                                  f"JQL character. (line 1, character {at})")
        double, single, symbol, word = match.groups()
        quoted = double if double is not None else single
        start = position + len(match.group(0)) - len(match.group(0).lstrip()) + 1
        if quoted is not None:
            tokens.append(_Token(re.sub(r"\\(.)", r"\1", quoted), True, start))
        else:
            tokens.append(_Token(symbol or word, False, start))
        position = match.end()
    return tokens


def _jql_error(message: str, token: _Token) -> _JiraError:
    return _JiraError(400, f"Error in the JQL Query: {message}. (line 1, character {token.at})")


def _jql_moment(value: str, field: str) -> datetime:
    """A JQL date: epoch milliseconds, or a date (and minute) in the API user's time zone."""
    if value.isdigit():
        return datetime.fromtimestamp(int(value) / 1000, tz=timezone.utc)
    match = _JQL_DATE.fullmatch(value.strip())
    try:
        if match is None:
            raise ValueError(value)
        year, month, day, hour, minute = (int(g) if g else 0 for g in match.groups())
        local = datetime(year, month, day, hour, minute, tzinfo=API_USER_ZONE)
    except ValueError:
        raise _JiraError(400, f"Date value '{value}' for field '{field}' is invalid. Valid formats include: "
                              "'yyyy/MM/dd HH:mm', 'yyyy-MM-dd HH:mm', 'yyyy/MM/dd', 'yyyy-MM-dd', or a period "
                              "format e.g. '-5d', '4w 2d'.") from None
    return local.astimezone(timezone.utc)


# --------------------------------------------------------------------------------------------
# The API
# --------------------------------------------------------------------------------------------

class JiraApi:
    """One Jira site (Cloud or Data Center) of the sandbox: its routes, its auth and its errors."""

    _jql_type: type[_Jql] = _Jql  # the JQL reader over this site's items (replay reads stored JSON)

    def __init__(self, scenario: Scenario, site: str, token: str) -> None:
        self.site = site
        self._token = token
        self._data = _Site(scenario, site)
        self._views: dict[tuple[str, str], _View] = {}
        self._found: dict[str, tuple[tuple[Item, ...], bool]] = {}

    def routes(self) -> list[Route]:
        reads: dict[str, Callable[..., Response]] = {
            "serverInfo": self._server_info, "myself": self._myself, "field": self._fields,
            "status": self._statuses, "issueLinkType": self._link_types, "project": self._projects,
            "project/<key>": self._project, "project/<key>/versions": self._versions,
            "issue/<key>": self._issue, "issue/<key>/comment": self._comments,
            "issue/<key>/remotelink": self._remote_links,
        }
        posts: dict[str, Callable[..., Response]] = {}
        if self._data.cloud:
            reads["issue/<key>/changelog"] = self._changelog
            searches = {"search": self._search_removed, "search/jql": self._search_jql}
            posts["changelog/bulkfetch"] = self._bulk_changelogs
        else:
            searches = {"search": self._search_offset}
        routes = []
        for version in ("2", "3") if self._data.cloud else ("2",):
            for methods, handlers in ((("GET",), reads), (("GET", "POST"), searches), (("POST",), posts)):
                routes += [Route(methods, f"/rest/api/{version}/{path}", _guarded(partial(handler, version=version)))
                           for path, handler in handlers.items()]
        routes += [Route(("GET",), "/rest/agile/1.0/board", _guarded(self._boards)),
                   Route(("GET",), "/rest/agile/1.0/board/<int:board_id>/sprint", _guarded(self._sprints)),
                   Route(("GET",), "/rest/agile/1.0/board/<int:board_id>/issue", _guarded(self._board_issues))]
        return routes

    def authenticate(self, request: Request) -> Response | None:
        """Basic (any user, the token as password) or Bearer (a personal access token)."""
        scheme, _, credentials = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() == "bearer" and credentials.strip() == self._token:
            return None
        if scheme.lower() == "basic":
            try:
                _, colon, secret = base64.b64decode(credentials.strip(), validate=True).decode().partition(":")
            except ValueError:
                colon = secret = ""
            if colon and secret == self._token:
                return None
        headers = {} if self._data.cloud else {"X-Seraph-LoginReason": "AUTHENTICATED_FAILED",
                                               "X-AUSERNAME": "anonymous"}
        return _JiraError(401, UNAUTHENTICATED[self._data.cloud]).response(headers)

    def not_found(self, request: Request) -> Response:
        return _JiraError(404, f"No resource is served at {request.path}.").response()

    def _view(self, request: Request, version: str) -> _View:
        base = request.root_url.rstrip("/") + SITE_PREFIX[self.site]
        view = self._views.get((base, version))
        if view is None:
            view = self._views[(base, version)] = _View(self._data, base, version)
        return view

    # -- metadata --------------------------------------------------------------------------------
    def _server_info(self, request: Request, version: str) -> Response:
        info = SERVER_INFO[self._data.cloud]
        # Like a real site's configured public URL, baseUrl does not follow the request's host:
        # links built from it stay the same whichever port this run's sandbox took.
        return json_response({"baseUrl": PUBLIC_ROOT + SITE_PREFIX[self.site], **info,
                              "buildDate": _ts(min(info["buildDate"], self._data.now)),
                              "serverTime": _ts(self._data.now)})

    def _myself(self, request: Request, version: str) -> Response:
        user = self._view(request, version).user(API_USER.key)
        return json_response({**user, "locale": "en_US", "groups": {"size": 1, "items": []},
                              "applicationRoles": {"size": 1, "items": []}, "expand": "groups,applicationRoles"})

    def _fields(self, request: Request, version: str) -> Response:
        return json_response(self._data.fields)

    def _statuses(self, request: Request, version: str) -> Response:
        view = self._view(request, version)
        statuses = [view.status(state) for state in STATUSES]
        if self._data.cloud:  # Cloud's list (not the status an issue embeds) adds the untranslated name
            statuses = [{**status, "untranslatedName": status["name"]} for status in statuses]
        return json_response(statuses)

    def _link_types(self, request: Request, version: str) -> Response:
        view = self._view(request, version)
        return json_response({"issueLinkTypes": [view.link_type(t) for t in LINK_TYPES]})

    def _projects(self, request: Request, version: str) -> Response:
        view = self._view(request, version)
        return json_response([{"expand": "description,lead,issueTypes,url,projectKeys,permissions,insight",
                               **view.project_ref(p)} for p in self._data.projects])

    def _project(self, request: Request, version: str, key: str) -> Response:
        return json_response(self._view(request, version).project(self._data.find_project(key)))

    def _versions(self, request: Request, version: str, key: str) -> Response:
        project = self._data.find_project(key)
        view = self._view(request, version)
        return json_response([view.version(r, full=True) for r in self._data.releases[project.key]])

    # -- issues ----------------------------------------------------------------------------------
    def _issue(self, request: Request, version: str, key: str) -> Response:
        item = self._data.find_item(key)
        params = _params(request)
        selection = self._data.selection(_many(params, "fields"), "*all")
        changelog = "changelog" in _many(params, "expand")
        return _json_bytes(self._view(request, version).issue_json(item, selection, changelog))

    def _comments(self, request: Request, version: str, key: str) -> Response:
        self._data.find_item(key)
        return json_response({"comments": [], "maxResults": 0, "total": 0, "startAt": 0})

    def _changelog(self, request: Request, version: str, key: str) -> Response:
        """Cloud's paged changelog: complete, oldest first."""
        item = self._data.find_item(key)
        view = self._view(request, version)
        params = _params(request)
        start = max(0, _int(params, "startAt", 0))
        size = min(max(1, _int(params, "maxResults", CHANGELOG_PAGE_CAP)), CHANGELOG_PAGE_CAP)
        histories = view.histories(item)
        values = histories[start:start + size]
        is_last = start + len(values) >= len(histories)
        url = f"{view.rest}/issue/{_key(item.ref)}/changelog"
        body: dict[str, Any] = {"self": f"{url}?startAt={start}&maxResults={size}"}
        if not is_last:
            body["nextPage"] = f"{url}?startAt={start + size}&maxResults={size}"
        body.update(maxResults=size, startAt=start, total=len(histories), isLast=is_last, values=values)
        return json_response(body)

    def _bulk_changelogs(self, request: Request, version: str) -> Response:
        """Cloud's bulk changelog: the histories of up to 1,000 issues (ids or keys; unknown ones are
        left out, as issues the user cannot see are) ordered by date, then issue id, each issue's
        oldest first. ``maxResults`` counts histories across issues; a page groups its histories by
        issue, so an issue may come again on a later page. ``fieldIds`` keeps only those items."""
        params = _params(request)
        if unknown := sorted(set(request.get_json()) - BULK_CHANGELOG_PROPERTIES):
            raise _JiraError(400, f'Unrecognized field "{unknown[0]}".')
        names, field_ids = params.get("issueIdsOrKeys", []), frozenset(params.get("fieldIds", []))
        if not 1 <= len(names) <= BULK_CHANGELOG_ISSUES:
            raise _JiraError(400, f"issueIdsOrKeys must hold between 1 and {BULK_CHANGELOG_ISSUES} issue ids or keys.")
        if len(field_ids) > BULK_CHANGELOG_FIELDS:
            raise _JiraError(400, f"fieldIds accepts at most {BULK_CHANGELOG_FIELDS} field ids.")
        size = _int(params, "maxResults", BULK_CHANGELOG_PAGE)
        if not 1 <= size <= BULK_CHANGELOG_PAGE_CAP:
            raise _JiraError(400, f"maxResults must be between 1 and {BULK_CHANGELOG_PAGE_CAP}.")
        found = {i.uid: i for i in map(self._data.issue_names.get, (n.upper() for n in names)) if i is not None}
        view = self._view(request, version)
        entries = [(h["created"], uid, h) for uid in sorted(found)
                   for h in _only_fields(view.histories(found[uid]), field_ids)]
        entries.sort(key=lambda entry: entry[:2])  # stable: each issue keeps its own order
        query = _dumps([sorted(found), sorted(field_ids)])  # a token belongs to its issues and fields
        start = _page_offset(_one(params, "nextPageToken"), query)
        pages: dict[int, list[dict[str, Any]]] = {}
        for _, uid, history in entries[start:start + size]:
            pages.setdefault(uid, []).append(history)
        body: dict[str, Any] = {"issueChangeLogs": [{"issueId": str(uid), "changeHistories": histories}
                                                    for uid, histories in pages.items()]}
        if start + size < len(entries):
            body["nextPageToken"] = _page_token(start + size, query)
        return json_response(body)

    # -- search ----------------------------------------------------------------------------------
    def _search_removed(self, request: Request, version: str) -> Response:
        raise _JiraError(410, "The requested API has been removed. Please migrate to the /rest/api/3/search/jql "
                              "API. A full migration guideline is available at "
                              "https://developer.atlassian.com/changelog/#CHANGE-2046")

    def _search_offset(self, request: Request, version: str) -> Response:
        """Data Center's /search: startAt/maxResults/total, *navigable fields by default."""
        params = _params(request)
        items = self._find(_one(params, "jql") or "", bounded=False)
        start = max(0, _int(params, "startAt", 0))
        size = min(max(0, _int(params, "maxResults", 50)), SERVER_PAGE_CAP)
        selection = self._data.selection(_many(params, "fields"), "*navigable")
        changelog = "changelog" in _many(params, "expand")
        view = self._view(request, version)
        issues = [view.issue_json(i, selection, changelog) for i in items[start:start + size]]
        return _page({"expand": "schema,names", "startAt": start, "maxResults": size, "total": len(items)},
                     "issues", issues)

    def _search_jql(self, request: Request, version: str) -> Response:
        """Cloud's /search/jql: bounded JQL, nextPageToken paging, only ids unless fields are asked for."""
        params = _params(request)
        jql = _one(params, "jql") or ""
        reconcile = _many(params, "reconcileIssues")
        if len(reconcile) > RECONCILE_CAP or not all(r.isdigit() for r in reconcile):
            raise _JiraError(400, f"reconcileIssues accepts at most {RECONCILE_CAP} issue ids.")
        items = hide_unindexed(request, self._find(jql, bounded=True), self._data.now, reconcile)
        offset = _page_offset(_one(params, "nextPageToken"), jql)
        tokens = _many(params, "fields")
        selection = self._data.selection(tokens, "id")
        changelog = "changelog" in _many(params, "expand")
        ids_only = not selection and not changelog
        size = min(max(1, _int(params, "maxResults", 50)), ID_ONLY_PAGE_CAP if ids_only else PAGE_CAP)
        page = items[offset:offset + size]
        view = self._view(request, version)
        if ids_only:
            issues = [_dumps({"id": str(i.uid), **({"key": _key(i.ref)} if "key" in tokens else {})}).encode()
                      for i in page]
        else:
            issues = [view.issue_json(i, selection, changelog) for i in page]
        end = offset + len(page)
        tail: dict[str, Any] = {"nextPageToken": _page_token(end, jql)} if end < len(items) else {}
        return _page({}, "issues", issues, {**tail, "isLast": end >= len(items)})

    def _find(self, jql: str, *, bounded: bool) -> tuple[Item, ...]:
        """The issues a JQL query selects, in its order; each distinct query is evaluated once."""
        found = self._found.get(jql)
        if found is None:
            query = self._jql_type(jql, self._data).parse()
            found = self._found[jql] = (query.select(self._data.items), bool(query.where))
        items, restricted = found
        if bounded and not restricted:
            raise _JiraError(400, "Unbounded JQL queries are not allowed here. "
                                  "Please add a search restriction to your query.")
        return items

    # -- agile -----------------------------------------------------------------------------------
    def _boards(self, request: Request) -> Response:
        """One scrum board per project; `projectKeyOrId` filters, as in Jira Software."""
        params = _params(request)
        wanted = _one(params, "projectKeyOrId")
        boards = [(n, p) for n, p in self._data.boards.items() if wanted in (None, p.key, str(p.uid))]
        start = max(0, _int(params, "startAt", 0))
        size = min(max(1, _int(params, "maxResults", BOARD_PAGE_CAP)), BOARD_PAGE_CAP)
        page = boards[start:start + size]
        base = self._view(request, "2").base
        return json_response({"maxResults": size, "startAt": start, "total": len(boards),
                              "isLast": start + len(page) >= len(boards),
                              "values": [_board(base, n, p) for n, p in page]})

    def _sprints(self, request: Request, board_id: int) -> Response:
        """A board's sprints, oldest first, paged by startAt; `state` filters (future,active,closed)."""
        if board_id not in self._data.boards:
            raise _JiraError(404, "The requested board cannot be viewed because it either does not exist "
                                  "or you do not have permission to view it.")
        params = _params(request)
        states = _many(params, "state")
        if unknown := [s for s in states if s not in ("future", "active", "closed")]:
            raise _JiraError(400, f"The sprint state '{unknown[0]}' is not valid. Valid states are: "
                                  "future, active, closed.")
        sprints = [s for s in self._data.board_sprints[board_id] if not states or s.state in states]
        start = max(0, _int(params, "startAt", 0))
        size = min(max(1, _int(params, "maxResults", BOARD_PAGE_CAP)), BOARD_PAGE_CAP)
        page = sprints[start:start + size]
        view = self._view(request, "2")
        return json_response({"maxResults": size, "startAt": start, "isLast": start + len(page) >= len(sprints),
                              "values": [view.agile_sprint(s) for s in page]})

    def _board_issues(self, request: Request, board_id: int) -> Response:
        """A board's issues, paged by startAt, with Jira Software's agile fields (sprint,
        closedSprints, flagged) added to the platform ones; `jql` narrows the board's filter."""
        if board_id not in self._data.boards:
            raise _JiraError(404, "The requested board cannot be viewed because it either does not exist "
                                  "or you do not have permission to view it.")
        params = _params(request)
        board_filter = f'project = "{self._data.boards[board_id].key}"'
        extra = _one(params, "jql")
        items = self._find(f"{board_filter} AND ({extra})" if extra else board_filter, bounded=False)
        start = max(0, _int(params, "startAt", 0))
        size = min(max(0, _int(params, "maxResults", 50)), PAGE_CAP)
        selection = self._data.selection(_many(params, "fields"), "*navigable")
        changelog = "changelog" in _many(params, "expand")
        view = self._view(request, "2")
        issues = []
        for item in items[start:start + size]:
            issue = json.loads(view.issue_json(item, selection, changelog))
            sprints = [self._data.sprint[i] for i in item.sprints if i in self._data.sprint]
            active = [sp for sp in sprints if sp.state != "closed"]
            issue["fields"].update({
                "sprint": view.agile_sprint(active[-1]) if active else None,
                "closedSprints": [view.agile_sprint(sp) for sp in sprints if sp.state == "closed"],
                "flagged": item.flagged,
            })
            issues.append(issue)
        return json_response({"expand": "schema,names", "startAt": start, "maxResults": size,
                              "total": len(items), "issues": issues})

    def _remote_links(self, request: Request, version: str, key: str) -> Response:
        item = self._data.find_item(key)
        view = self._view(request, version)
        return json_response([view.remote_link(link) for link in self._data.remote_links.get(item.ref, ())])


# --------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------

def _guarded(handler: Callable[..., Response]) -> Callable[..., Response]:
    """Answer a _JiraError raised anywhere in a handler with Jira's error body."""
    def run(request: Request, **values: Any) -> Response:
        try:
            return handler(request, **values)
        except _JiraError as error:
            return error.response()
    return run


def _params(request: Request) -> dict[str, list[str]]:
    """Parameters from the query string, or from the JSON body of a POST search, as string lists."""
    if request.method != "POST":
        return {name: request.args.getlist(name) for name in request.args}
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise _JiraError(400, "The request body must be a JSON object.")
    return {name: _strings(value) for name, value in body.items()}


def _strings(value: Any) -> list[str]:
    values = value if isinstance(value, list) else [value]
    return [("true" if v else "false") if isinstance(v, bool) else str(v) for v in values if v is not None]


def _one(params: dict[str, list[str]], name: str) -> str | None:
    values = params.get(name)
    return values[0] if values else None


def _many(params: dict[str, list[str]], name: str) -> list[str]:
    """A list parameter: repeated, comma-separated, or both."""
    return [part.strip() for value in params.get(name, []) for part in value.split(",") if part.strip()]


def _int(params: dict[str, list[str]], name: str, default: int) -> int:
    raw = _one(params, name)
    if raw in (None, ""):
        return default
    try:
        return int(raw)
    except ValueError:
        raise _JiraError(400, f"The value '{raw}' of the '{name}' parameter is not a number.") from None


def _only_fields(histories: list[dict[str, Any]], field_ids: frozenset[str]) -> list[dict[str, Any]]:
    """Each history with only the items of ``field_ids`` (all when empty), dropping those left
    empty. Link items name no fieldId: ``issuelinks`` selects them."""
    if not field_ids:
        return histories
    kept = []
    for history in histories:
        items = [i for i in history["items"]
                 if i.get("fieldId", "issuelinks" if i["field"] == "Link" else None) in field_ids]
        if items:
            kept.append({**history, "items": items})
    return kept


def _page_token(offset: int, jql: str) -> str:
    """An opaque cursor, bound to its query as Jira's are."""
    return base64.urlsafe_b64encode(f"{offset}:{_digest(jql)}".encode()).decode().rstrip("=")


def _page_offset(token: str | None, jql: str) -> int:
    if not token:
        return 0
    try:
        offset, digest = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode().split(":")
        if digest == _digest(jql):
            return int(offset)
    except ValueError:
        pass
    raise _JiraError(400, "The nextPageToken is invalid or does not belong to this query.")


def _digest(text: str) -> str:
    return hashlib.sha1(text.encode()).hexdigest()[:12]


def _dumps(body: object) -> str:
    return json_bytes(body).decode()


def _json_bytes(data: bytes) -> Response:
    return Response(data, content_type="application/json;charset=UTF-8")


def _page(head: dict[str, Any], name: str, issues: list[bytes], tail: dict[str, Any] | None = None) -> Response:
    """A page envelope around issues that are already serialized, assembled with a single copy."""
    before = "".join(f"{_dumps(k)}:{_dumps(v)}," for k, v in head.items())
    after = "".join(f",{_dumps(k)}:{_dumps(v)}" for k, v in (tail or {}).items())
    pieces = [f"{{{before}{_dumps(name)}:[".encode()]
    for n, issue in enumerate(issues):
        pieces += (b",", issue) if n else (issue,)
    pieces.append(f"]{after}}}".encode())
    return _json_bytes(b"".join(pieces))


def _board(base: str, number: int, project: Project) -> dict[str, Any]:
    return {"id": number, "self": f"{base}/rest/agile/1.0/board/{number}", "name": f"{project.key} board",
            "type": "scrum",
            "location": {"projectId": project.uid, "displayName": f"{project.name} ({project.key})",
                         "projectName": project.name, "projectKey": project.key, "projectTypeKey": "software",
                         "avatarURI": f"{base}/secure/projectavatar?size=small&pid={project.uid}&avatarId=10324",
                         "name": f"{project.name} ({project.key})"}}


def _key(ref: tuple[str, int]) -> str:
    return f"{ref[0]}-{ref[1]}"


def _dc_user_key(person: Person) -> str:
    """Data Center user keys are opaque since Jira 8: JIRAUSER plus a number."""
    return f"JIRAUSER{10000 + person.uid}"


def _ts(moment: datetime) -> str:
    """Jira's timestamp: millisecond precision, numeric offset without a colon."""
    utc = moment.astimezone(timezone.utc)
    return f"{utc:%Y-%m-%dT%H:%M:%S}.{utc.microsecond // 1000:03d}+0000"


def _agile_ts(moment: datetime) -> str:
    """Jira Software's timestamp: milliseconds, UTC as Z."""
    return _ts(moment)[:-5] + "Z"


def _sprint_dates(sprint: Sprint) -> dict[str, str]:
    """Future sprints have no dates; only closed ones a complete date."""
    dates = {"startDate": sprint.start, "endDate": sprint.end, "completeDate": sprint.completed_at}
    return {name: _agile_ts(moment) for name, moment in dates.items() if moment is not None}


def _user_date(day: date) -> str:
    """The user-formatted version date, e.g. 12/Jan/26."""
    return f"{day.day}/{day:%b}/{day:%y}"


def _category_changed_at(item: Item) -> datetime:
    moments = [c.at for c in item.changes
               if c.field == "status" and STATUSES[c.old][2] != STATUSES[c.new][2]]
    return max(moments, default=item.created_at)


def _gravatar(email: str) -> dict[str, str]:
    digest = hashlib.md5(email.encode()).hexdigest()
    return _avatar_sizes(f"https://secure.gravatar.com/avatar/{digest}?d=mm")


def _avatar_sizes(url: str) -> dict[str, str]:
    return {f"{n}x{n}": f"{url}&s={n}" for n in (48, 24, 16, 32)}
