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
    # GitHub's Link headers name the next pages by the repository's id
    ("https://api.github.com/repositories/3710711/issues/events?per_page=100&page=2", issue_events),
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


@pytest.mark.parametrize("event", [
    {"id": 1, "created_at": "2026-01-01T00:00:00Z", "issue": "not an issue"},
    {"id": "12", "created_at": "2026-01-01T00:00:00Z", "issue": {"id": 2, "number": 3}},   # an id that is a string
    {"id": 1, "created_at": 20260101, "issue": {"id": 2.0, "number": "3"}},
    {"id": 1, "issue": {"id": None, "number": 3, "title": "t"}},                           # a null kept as null
])
def test_valid_json_of_another_shape_lands_as_the_whole_parse_landed_it(event):
    (parsed,) = issue_events(orjson.dumps([event]))
    assert parsed == IssueEvent.of(event)
    issue = event["issue"]
    assert json.loads(parsed.payload) == (
        {**event, "issue": {k: issue[k] for k in ("id", "number")}} if isinstance(issue, dict) else event)


def test_an_issue_without_a_number_keeps_what_it_has():
    (event,) = issue_events(b'[{"id":1,"issue":{"id":null,"title":"t"}}]')
    assert (event.issue_number, event.payload) == (None, '{"id":1,"issue":{"id":null}}')


def test_event_pages_follow_githubs_next_links_by_repository_id_and_stop_at_since():
    """Through GithubSource and its transport against a local server that answers as GitHub does:
    the first page asked by owner/name, the next ones named by the repository's id in Link, and
    laid out JSON (the standard library's spacing)."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from connectors.github_source import GithubSite, GithubSource

    pages = {"/repos/o/r/issues/events": [_event(3, "2026-03-01T00:00:00Z"), _event(2, "2026-02-01T00:00:00Z")],
             "/repositories/42/issues/events": [_event(1, "2026-01-01T00:00:00Z")]}
    asked: list[str] = []

    class Github(BaseHTTPRequestHandler):
        def log_message(self, *args):  # quiet
            pass

        def do_GET(self):
            path = self.path.split("?")[0]
            asked.append(path)
            body = json.dumps(pages[path]).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            if path.startswith("/repos/"):
                port = self.server.server_address[1]
                self.send_header("Link", f'<http://127.0.0.1:{port}/repositories/42/issues/events?per_page=100&page=2>; '
                                         f'rel="next", <http://127.0.0.1:{port}/repositories/42/issues/events?'
                                         f'per_page=100&page=2>; rel="last"')
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Github)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        source = GithubSource(GithubSite("github", f"http://127.0.0.1:{server.server_address[1]}", "token"))
        every = [e for page in source.event_pages("o/r") for e in page]
        assert [(e.id, e.issue_number) for e in every] == [(3, 3), (2, 2), (1, 1)]
        assert all(isinstance(e, IssueEvent) and " " not in e.payload for e in every)
        assert json.loads(every[2].payload) == {**_event(1, "2026-01-01T00:00:00Z"), "issue": {"id": 9001, "number": 1}}
        # every page went through issue_events (not parsed whole and written again): the server's
        # escape of "é" is kept as it wrote it
        assert all('"caf\\u00e9"' in e.payload for e in every)
        asked.clear()
        recent = [e.id for page in source.event_pages("o/r", since="2026-02-01T00:00:00Z") for e in page]
        assert recent == [3, 2] and asked == ["/repos/o/r/issues/events", "/repositories/42/issues/events"]
    finally:
        server.shutdown()


def _event(number: int, at: str) -> dict:
    return {"id": number, "event": "renamed", "created_at": at, "rename": {"from": "café", "to": "tea"},
            "issue": {"id": 9000 + number, "number": number, "title": "x", "user": {"id": 5}}}


def test_the_users_an_event_names_keep_their_login_and_lose_their_links_whichever_way_it_is_parsed():
    user = {"login": "ana", "id": 77, "node_id": "U_1", "avatar_url": "https://avatars/u/77", "gravatar_id": "",
            "url": "https://api.github.com/users/ana", "html_url": "https://github.com/ana",
            "followers_url": "https://api.github.com/users/ana/followers",
            "gists_url": "https://api.github.com/users/ana/gists{/gist_id}", "type": "User", "site_admin": False}
    kept = {"login": "ana", "id": 77, "node_id": "U_1", "html_url": "https://github.com/ana", "type": "User",
            "site_admin": False}
    event = {"id": 7, "actor": user, "event": "assigned", "assignee": {**user, "login": "bo\u00e9"},
             "assigner": user, "created_at": "2026-01-01T00:00:00Z", "issue": {"id": 1, "number": 2},
             "label": {"name": "has a url", "url": "https://api.github.com/labels/x"}}
    # the decoder that reads values as text, then the whole parse a page of another shape gets
    for landed in (issue_events(orjson.dumps([event]))[0], IssueEvent.of(json.loads(json.dumps(event)))):
        payload = json.loads(landed.payload)
        assert payload["actor"] == payload["assigner"] == kept
        assert payload["assignee"] == {**kept, "login": "bo\u00e9"}
        assert payload["label"] == event["label"]  # only users lose their links
        assert list(payload) == list(event)
    # a user's kept values keep the tracker's text, escapes included, as every other value does
    (escaped,) = issue_events(b'[{"id": 8, "actor": {"login": "bo\\u00e9", "url": "u", "id": 1}, "created_at": null}]')
    assert escaped.payload == '{"id":8,"actor":{"login":"bo\\u00e9","id":1},"created_at":null}'
