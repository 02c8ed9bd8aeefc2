"""connectors.jira_source.lean_issue and lean_histories: an issue's objects and its histories'
authors land without their API links and images; everything else, the description's contents and
the issue's own link stay as sent."""

from __future__ import annotations

import copy

from connectors.jira_source import DECORATION, lean_histories, lean_issue

LINKS = {"self": "https://acme.atlassian.net/rest/api/3/user?accountId=a1",
         "avatarUrls": {"48x48": "https://avatar/48", "16x16": "https://avatar/16"}}
ADA = {**LINKS, "accountId": "a1", "displayName": "Ada", "emailAddress": "ada@acme.example", "active": True}
DONE = {"self": "https://x/status/5", "iconUrl": "https://x/done.png", "name": "Done", "id": "5",
        "statusCategory": {"self": "https://x/statuscategory/3", "id": 3, "key": "done", "name": "Done"}}
ISSUE = {
    "expand": "changelog", "id": "101", "self": "https://acme.atlassian.net/rest/api/3/issue/101", "key": "PAY-1",
    "fields": {
        "summary": "Pay out", "status": DONE, "assignee": ADA, "reporter": None, "labels": ["a", "b"],
        "project": {"self": "https://x/project/10", "id": "10", "key": "PAY", "name": "Payments",
                    "avatarUrls": {"48x48": "https://p/48"}, "projectTypeKey": "software"},
        "fixVersions": [{"self": "https://x/version/11", "id": "11", "name": "v1", "released": False}],
        "issuelinks": [{"id": "7", "self": "https://x/issueLink/7",
                        "type": {"id": "1", "name": "Blocks", "inward": "is blocked by", "outward": "blocks",
                                 "self": "https://x/issueLinkType/1"},
                        "outwardIssue": {"id": "201", "key": "CART-1", "self": "https://x/issue/201",
                                         "fields": {"summary": "Cart", "status": DONE}}}],
        "customfield_10021": [{"self": "https://x/customFieldOption/1", "value": "Impediment", "id": "1"}],
        "customfield_10016": 5.0,
        # tracker text: an Atlassian document is kept as sent, whatever keys its nodes have
        "description": {"type": "doc", "version": 1, "content": [
            {"type": "paragraph", "content": [{"type": "text", "text": "see", "self": "kept", "iconUrl": "kept"}]}]},
    },
    "changelog": {"startAt": 0, "maxResults": 1, "total": 1, "histories": [
        {"id": "9", "author": ADA, "created": "2026-01-10T09:00:00.000+0000",
         "items": [{"field": "status", "fieldtype": "jira", "from": "3", "fromString": "In Progress",
                    "to": "5", "toString": "Done"}]}]},
}


def without_decoration(value):
    """The reference: ``value`` with every DECORATION key gone, at any depth."""
    if isinstance(value, dict):
        return {k: without_decoration(v) for k, v in value.items() if k not in DECORATION}
    if isinstance(value, list):
        return [without_decoration(v) for v in value]
    return value


def test_an_issue_loses_its_objects_links_and_images_and_keeps_the_rest():
    issue = copy.deepcopy(ISSUE)
    assert lean_issue(issue) is issue
    fields = {k: without_decoration(v) if k != "description" else v for k, v in ISSUE["fields"].items()}
    assert issue == {**ISSUE, "fields": fields, "changelog": without_decoration(ISSUE["changelog"])}
    assert issue["self"] == ISSUE["self"]  # the issue's own link stays
    assert issue["fields"]["description"] == ISSUE["fields"]["description"]
    assert issue["fields"]["assignee"] == {"accountId": "a1", "displayName": "Ada", "emailAddress": "ada@acme.example",
                                           "active": True}
    assert issue["fields"]["issuelinks"][0]["outwardIssue"] == {"id": "201", "key": "CART-1", "fields": {
        "summary": "Cart", "status": {"name": "Done", "id": "5", "statusCategory": {"id": 3, "key": "done", "name": "Done"}}}}
    assert issue["fields"]["customfield_10021"] == [{"value": "Impediment", "id": "1"}]  # still flagged


def test_paged_histories_lose_their_authors_links_and_an_odd_shape_is_left_alone():
    histories = copy.deepcopy(ISSUE["changelog"]["histories"])
    assert lean_histories(histories) == without_decoration(ISSUE["changelog"]["histories"])
    odd = {"id": "1", "fields": "not an object", "changelog": {"histories": "nor a list"}}
    assert lean_issue(copy.deepcopy(odd)) == odd
