"""connectors.github_source.issue_events: a repository's issue events page, parsed for what is kept
(each event with its embedded issue cut to the issue's id and number), and the adapter's check
that uses it for those pages only."""

from __future__ import annotations

import json

import orjson
import pytest
from requests import PreparedRequest, Response

from connectors.github_source import IssueEvent, _decoder_for, issue_events
from connectors.http import NOT_JSON, corruption, loads


def _issue(number: int) -> dict:
    # GitHub's own order: nested objects with ids of their own come after the issue's id and number,
    # and one (the user) is put first here, so a reader that took the first "id" would be wrong
    return {"user": {"login": "ana", "id": 77}, "url": f"https://api.github.com/repos/o/r/issues/{number}",
            "id": 9000 + number, "node_id": "I_x", "number": number, "title": "Ünïcode \"quoted\" title",
            "labels": [{"id": 5, "name": "in progress"}], "body": "a long body " * 50,
            "milestone": {"id": 3, "number": 1, "due_on": None}}


EVENTS = [
    {"id": 101, "node_id": "LE_1", "actor": {"login": "ana", "id": 77}, "event": "labeled",
     "created_at": "2026-11-26T20:12:27Z", "label": {"name": "in progress", "color": "fbca04"},
     "issue": _issue(14), "performed_via_github_app": None},
    {"id": 102, "event": "closed", "created_at": "2026-11-25T08:00:00Z", "issue": None, "state_reason": "completed"},
    {"id": 103, "event": "renamed", "rename": {"from": "é", "to": "\u2603 snow"}, "created_at": None},
]


def test_each_event_keeps_every_field_and_its_issue_is_cut_to_id_and_number():
    events = issue_events(orjson.dumps(EVENTS))
    assert [e.id for e in events] == [101, 102, 103]
    assert [e.created_at for e in events] == ["2026-11-26T20:12:27Z", "2026-11-25T08:00:00Z", None]
    assert [e.issue_number for e in events] == [14, None, None]
    kept = [json.loads(e.payload) for e in events]
    assert kept[0] == {**EVENTS[0], "issue": {"id": 9014, "number": 14}}
    assert list(kept[0]) == list(EVENTS[0])  # the issue stays where it was among the fields
    assert kept[1:] == EVENTS[1:]


def test_the_payload_is_the_text_the_standard_parse_and_write_gave():
    """What the sync landed before events were parsed in part: the page parsed whole, the issue cut,
    the event written again compactly. Byte for byte where the answer is compact UTF-8, as
    GitHub's and the sandbox's are."""
    def cut(event: dict) -> dict:
        issue = event.get("issue")
        return {**event, "issue": {k: issue[k] for k in ("id", "number")}} if isinstance(issue, dict) else event

    events = issue_events(orjson.dumps(EVENTS))
    assert [e.payload for e in events] == [orjson.dumps(cut(e)).decode() for e in EVENTS]


def test_an_escaped_string_stays_as_the_tracker_wrote_it_and_means_the_same():
    body = b'[{"id": 1, "created_at": "2026-01-01T00:00:00Z", "rename": {"from": "caf\\u00e9", "to": "x"}}]'
    (event,) = issue_events(body)
    assert json.loads(event.payload)["rename"]["from"] == "café"
    assert event == IssueEvent(1, "2026-01-01T00:00:00Z", None, '{"id":1,"created_at":"2026-01-01T00:00:00Z",'
                                                            '"rename":{"from":"caf\\u00e9","to":"x"}}')


@pytest.mark.parametrize("body", [
    b'[{"id": 1, "issue": {"id": 2',           # cut short
    b'{"message": "Server Error"}',            # an object, not the list
    b'[1, 2]',                                 # a list of something else
    b'[{"id": 1, "issue": "not an issue"}]',   # an issue that is no object
    b'',
])
def test_a_body_that_is_not_a_list_of_events_is_not_json_to_the_adapter(body):
    with pytest.raises(ValueError):
        issue_events(body)
    request, response = _exchange("https://api.github.com/repos/o/r/issues/events?per_page=100&page=3", body)
    assert corruption(request, response, issue_events) == NOT_JSON


def test_the_adapter_hands_the_client_library_the_events():
    request, response = _exchange("https://api.github.com/repos/o/r/issues/events?per_page=100", orjson.dumps(EVENTS))
    assert corruption(request, response, _decoder_for(request)) is None
    assert [e.id for e in response.json()] == [101, 102, 103]


@pytest.mark.parametrize("url, parser", [
    ("https://api.github.com/repos/o/r/issues/events", issue_events),
    ("https://api.github.com/repos/o/r/issues/events?per_page=100&page=2", issue_events),
    ("https://ghe.example.com/api/v3/repos/o/r.js/issues/events?page=2", issue_events),
    ("https://api.github.com/repos/o/r/issues/events/123", None),  # one event: parsed whole
    ("https://api.github.com/repos/o/r/issues/5/events", None),   # one issue's events
    ("https://api.github.com/repos/o/r/issues?state=all", None),
])
def test_only_a_repositorys_issue_events_list_is_parsed_in_part(url, parser):
    request, _ = _exchange(url, b"[]")
    assert _decoder_for(request) is parser


def test_other_answers_are_parsed_whole_by_default():
    request, response = _exchange("https://api.github.com/repos/o/r/issues", b'[{"id": 1, "issue": {"id": 2}}]')
    assert corruption(request, response) is None
    assert response.json() == loads(b'[{"id": 1, "issue": {"id": 2}}]')


def _exchange(url: str, body: bytes) -> tuple[PreparedRequest, Response]:
    request = PreparedRequest()
    request.prepare(method="GET", url=url)
    response = Response()
    response.status_code = 200
    response.headers["Content-Type"] = "application/json; charset=utf-8"
    response._content = body
    return request, response


def test_a_pretty_printed_answer_lands_compact():
    body = b'[\n  {\n    "id" : 7,\n    "issue" : { "id" : 2, "number" : 3, "user" : { "id" : 9 } },\n    "label" : { "name" : "in progress" }\n  }\n]'
    (event,) = issue_events(body)
    assert event.payload == '{"id":7,"issue":{"id":2,"number":3},"label":{"name":"in progress"}}'


@pytest.mark.parametrize("body, compact", [
    (b'[{"id":1,"issue":{"id":2,"number":3}}]', True),
    (b'[]', True),
    (b'[{"id": 1, "issue": {"id": 2, "number": 3}}]', False),  # spaced on one line
    (b'[{"id":1,\n"x":2}]', False),                          # a line break between tokens
])
def test_a_page_is_compacted_only_where_its_server_laid_it_out(body, compact):
    from connectors.github_source import _compact

    assert _compact(body) is compact
    assert all(" " not in e.payload for e in issue_events(body))
