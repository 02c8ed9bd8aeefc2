"""GitHub: issues (pull requests included, as the API lists them), repo-level issue events,
milestones, sub-issues and "blocked by" dependencies, through PyGithub.

Raw JSON pages come from PyGithub's own ``Requester`` (auth, base URL, ``GithubRetry`` for
rate limits and 5xx) rather than its typed objects: a typed list item reads ``raw_data`` only
after one more request per item, which would turn N issues into N requests. Its connection sends
through ``connectors.http.CheckedJsonAdapter``: a 200 whose JSON body is truncated or malformed is
asked again, then fails with ``CorruptResponse``.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from urllib.parse import urlencode
from dataclasses import dataclass, field
from typing import Any

import msgspec
import orjson
from github import Auth, Github, GithubRetry
from github.Requester import RequestsResponse
from requests import PreparedRequest
from urllib3.response import BaseHTTPResponse

from connectors.http import CheckedJsonAdapter, Decode, loads
from connectors.pacing import PROJECTS_AT_ONCE, LaneFreeSleep, Lanes, Limits, Pacer

log = logging.getLogger(__name__)

_NEXT = re.compile(r'<([^>]+)>;\s*rel="next"')
_LAST = re.compile(r'<([^>]+)>;\s*rel="last"')
_PAGE = re.compile(r'[?&]page=(\d+)')
# A repository's issue events list, any query: asked as /repos/{owner}/{repo}/issues/events,
# and GitHub's Link headers name its next pages /repositories/{id}/issues/events?page=N.
_EVENTS_PATH = re.compile(r"/(?:repos/[^/?#]+/[^/?#]+|repositories/\d+)/issues/events(?:\?|$)")


# What of a GitHub user object is there for a reader of the API, not data: its links into the API
# and its avatar. Every issue names who opened it, its assignee (twice: `assignees`) and who closed
# it, every event its actor: about 1 KB of links each, two thirds of an event and about half of an
# issue as landed (40% of recorded real ones), which every sync writes and every rebuild parses.
# The transforms read the login; the id, type and profile link stay.
USER_DECORATION = ("url", "avatar_url", "gravatar_id", "followers_url", "following_url", "gists_url",
                   "starred_url", "subscriptions_url", "organizations_url", "repos_url", "events_url",
                   "received_events_url")
# Where issues, events and milestones name a user at their top level.
_USER_KEYS = ("user", "assignee", "closed_by", "actor", "assigner", "creator", "requested_reviewer",
              "review_requester")


def lean_users(item: dict[str, Any]) -> dict[str, Any]:
    """``item`` (an issue, event or milestone, in place) without its users' ``USER_DECORATION``:
    the users it names at its top level, its ``assignees`` and its milestone's creator."""
    for key in _USER_KEYS:
        _lean_user(item.get(key))
    assignees = item.get("assignees")
    if isinstance(assignees, list):
        for user in assignees:
            _lean_user(user)
    milestone = item.get("milestone")
    if isinstance(milestone, dict):
        _lean_user(milestone.get("creator"))
    return item


def _lean_user(user: Any) -> None:
    if isinstance(user, dict) and "login" in user:
        for key in USER_DECORATION:
            user.pop(key, None)


@dataclass(frozen=True)
class GithubSite:
    """Where and how to reach GitHub. ``token`` never appears in repr or logs."""

    name: str
    url: str
    token: str = field(repr=False)
    page_size: int = 100
    # PyGithub's fixed spacing of a client's requests (it offers 0.25 s). Off: the site's Pacer
    # keeps within GitHub's documented secondary limits instead (``limits``).
    seconds_between_requests: float = 0.0
    # Repositories read at once, each by its own thread (and a second for its events); the sync's
    # ``Lanes`` bound the requests in flight over every site.
    concurrency: int = PROJECTS_AT_ONCE
    # GitHub's documented secondary limits: 100 requests in flight, 900 points a minute
    limits: Limits = field(default_factory=Limits.github)
    # seconds; 5xx and dropped connections wait 0, 2x, 4x, 8x ... this; corrupt 200 bodies 1x, 2x, 4x
    retry_backoff: float = 0.5


class RateLimitRetry(LaneFreeSleep, GithubRetry):
    """``GithubRetry`` waits out GitHub's rate limits (primary: until ``X-RateLimit-Reset``, plus a
    second; secondary: ``Retry-After``, else ``secondary_rate_wait``) and logs the wait ("Setting
    next backoff to 1.4s", logger ``github.GithubRetry``), but reads them only from a 403. GitHub
    answers the same limits with 429 too, which it would pass up at once as an error: such a 429
    is read as the 403 it stands for (GithubRetry's log then says "failed with 403: TOO MANY
    REQUESTS"). A 429 with ``Retry-After`` needs nothing: urllib3 waits as told."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("status_forcelist", [*range(500, 600), 429])  # GithubRetry adds 403
        super().__init__(**kwargs)

    def increment(self, method: str | None = None, url: str | None = None,  # type: ignore[override]
                  response: BaseHTTPResponse | None = None, *args: Any, **kwargs: Any) -> GithubRetry:
        if response is None or response.status != 429 or "Retry-After" in response.headers:
            return super().increment(method, url, response, *args, **kwargs)
        response.status = 403
        try:
            return super().increment(method, url, response, *args, **kwargs)
        finally:
            response.status = 429


@dataclass(frozen=True)
class Page:
    """One page of a list. ``items`` is None when a conditional request answered 304."""

    items: list[dict[str, Any]] | None
    etag: str | None
    request: str  # path and query of the request, the key an ETag belongs to
    left: int = 0  # pages of the list after this one (its ``next`` through ``last`` links)


@dataclass(frozen=True, slots=True)
class IssueEvent:
    """One event of a repository's issue events list, as landed: what the sync reads of it, and
    ``payload``, the event's JSON with its embedded issue cut to that issue's id and number."""

    id: int | None  # None only where GitHub sent none: the row is refused (raw.github_issue_events' key)
    created_at: str | None
    issue_number: int | None
    payload: str

    @classmethod
    def of(cls, event: dict[str, Any]) -> IssueEvent:
        """From an event parsed whole (a page ``issue_events`` could not read in part)."""
        issue = event.get("issue")
        if isinstance(issue, dict):
            event = {**event, "issue": {k: issue[k] for k in _IssueRef.__struct_fields__ if k in issue}}
        lean_users(event)
        return cls(event.get("id"), event.get("created_at"), issue.get("number") if isinstance(issue, dict) else None,
                   orjson.dumps(event).decode())


class _IssueRef(msgspec.Struct):
    """What an event's embedded issue is kept as: the rest of it is raw.github_issues' already.
    UNSET: the issue has no such key (null is kept as null); msgspec writes no UNSET field."""

    id: int | None | msgspec.UnsetType = msgspec.UNSET
    number: int | None | msgspec.UnsetType = msgspec.UNSET


_EVENT_FIELDS = msgspec.json.Decoder(list[dict[str, msgspec.Raw]])
_ISSUE_REF = msgspec.json.Decoder(_IssueRef | None)
_OBJECT = msgspec.json.Decoder(dict[str, msgspec.Raw] | None)
_ID = msgspec.json.Decoder(int)
_TIME = msgspec.json.Decoder(str | None)
_ENCODE = msgspec.json.Encoder()


def issue_events(body: bytes) -> list[IssueEvent]:
    """A page of issue events as ``IssueEvent``s, parsed for what is kept. GitHub embeds the whole
    issue in every event (most of a page's bytes: 0.8 MB for 100 events of the 10k portfolio):
    each event's top-level values are kept as their JSON text (msgspec.Raw, not parsed into
    objects) and written back around the cut issue (compacted where the server laid its JSON
    out), so no issue becomes Python objects: 2.4 ms for that page against 3.55 ms to parse it
    whole and write each event again (medians, alternating in one process), and a page in flight
    holds its bytes, not 1.8 MB of objects. A value keeps the tracker's text (an escaped
    character stays escaped, a number keeps its spelling: the same JSON). Valid JSON of another
    shape than GitHub's (an id that is a string, an issue that is no object) is parsed whole and
    landed as before; a body that is not a JSON list raises ValueError: the adapter's corrupt
    answer, asked again."""
    try:
        return _issue_events(body)
    except msgspec.ValidationError:  # JSON, but not shaped as GitHub's events are
        events = loads(body)
        if not isinstance(events, list) or not all(isinstance(e, dict) for e in events):
            raise ValueError("an issue events page that is not a list of events") from None
        return [IssueEvent.of(e) for e in events]


def _issue_events(body: bytes) -> list[IssueEvent]:
    events = []
    spaced = not _compact(body)
    for fields in _EVENT_FIELDS.decode(body):
        issue = fields.get("issue")
        ref = _ISSUE_REF.decode(issue) if issue is not None else None
        if ref is not None:
            fields["issue"] = msgspec.Raw(_ENCODE.encode(ref))
        for key in _USER_KEYS:  # a user's other values keep their text, as the event's do
            if (raw := fields.get(key)) is not None and (user := _OBJECT.decode(raw)) and "login" in user:
                _lean_user(user)
                fields[key] = msgspec.Raw(_ENCODE.encode(user))
        created = fields.get("created_at")
        text = _ENCODE.encode(fields)
        events.append(IssueEvent(_ID.decode(fields["id"]) if "id" in fields else None,
                                 _TIME.decode(created) if created is not None else None,
                                 ref.number if ref is not None and ref.number is not msgspec.UNSET else None,
                                 # the values are the server's text: compact them if it laid them out
                                 (msgspec.json.format(text, indent=-1) if spaced else text).decode()))
    return events


def _compact(body: bytes) -> bool:
    """Whether a JSON answer is written without layout, as GitHub's are: no line breaks (JSON
    text can only have them between tokens) and nothing after its first key's colon. A serializer
    lays out all of a document or none of it; a misjudged one only stores some spaces."""
    colon = body.find(b'":')
    return b"\n" not in body and (colon < 0 or body[colon + 2:colon + 3] not in (b" ", b"\t", b"\r"))


def _decoder_for(request: PreparedRequest) -> Decode | None:
    """``issue_events`` for an issue events page; the adapter's default parse for anything else."""
    return issue_events if _EVENTS_PATH.search(request.path_url or "") else None


class GithubSource:
    """Reads repositories of one GitHub site. Create it once per sync."""

    def __init__(self, site: GithubSite, pacer: Pacer | None = None, lanes: Lanes | None = None) -> None:
        self.site = site
        # one per site, shared by every thread that reads it (and the sync's lanes by every site)
        self.pacer = pacer or Pacer(site.name, site.limits, lanes=lanes)
        self.client = Github(
            base_url=site.url, auth=Auth.Token(site.token), per_page=site.page_size, timeout=60,
            retry=RateLimitRetry(total=5, backoff_factor=site.retry_backoff), seconds_between_requests=site.seconds_between_requests or None,
        )
        # Requests sent, retries included (GithubRetry's and corrupt bodies'): counted by the adapter.
        self.requests = 0
        self._check_bodies()

    def worker(self) -> GithubSource:
        """A reader of the same site for another thread, with its own connection and counter."""
        return GithubSource(self.site, self.pacer)

    def _check_bodies(self) -> None:
        """Send through ``CheckedJsonAdapter``, with the retry and pool PyGithub would give its own.

        PyGithub builds a requests session per connection, and its only hook for that,
        ``Requester.injectConnectionClasses``, is process-wide (and turns off connection reuse).
        So this client's ``Requester`` gets a connection factory that makes PyGithub's connection
        as usual and mounts the adapter on it. The attribute is private: if PyGithub renames it,
        this fails here, at once, rather than leaving bodies unchecked."""
        requester = self.client.requester
        make = getattr(requester, "_Requester__connectionClass", None)
        if make is None:
            raise RuntimeError("PyGithub's Requester has no _Requester__connectionClass: "
                               "see GithubSource._check_bodies")

        def connection(*args: Any, **kwargs: Any) -> Any:
            cnx = make(*args, **kwargs)
            cnx.adapter.close()
            cnx.adapter = CheckedJsonAdapter(
                self.site.name, logger=log, backoff=self.site.retry_backoff, on_sent=self._count,
                pacer=self.pacer, decoder=_decoder_for, max_retries=cnx.retry, pool_connections=cnx.pool_size,
                pool_maxsize=cnx.pool_size)
            cnx.session.mount(f"{cnx.protocol}://", cnx.adapter)
            fetch = cnx.getresponse
            cnx.getresponse = lambda: _ParsedResponse(fetch().response)
            return cnx

        requester._Requester__connectionClass = connection
        requester._Requester__structuredFromJson = _from_json

    def _count(self, sent: int) -> None:
        self.requests += sent

    def _get(self, url: str, params: dict[str, Any] | None = None,
             etag: str | None = None) -> tuple[dict[str, Any], Any]:
        headers = {"If-None-Match": etag} if etag else None
        return self.client.requester.requestJsonAndCheck("GET", url, parameters=params, headers=headers)

    def _pages(self, path: str, params: dict[str, Any], etag: str | None = None) -> Iterator[Page]:
        """Follow the ``Link: rel="next"`` chain; the server's URLs carry every parameter.

        With ``etag``, the first request is conditional: a 304 yields one ``Page`` without items
        and stops. The first page carries the answer's ETag for next time.
        """
        query = {**params, "per_page": self.site.page_size}
        url: str | None = path
        request = request_key(path, query)
        first = True
        while url:
            headers, data = self._get(url, query, etag if first else None)
            if first and data is None:  # 304 Not Modified
                yield Page(None, etag, request)
                return
            link = headers.get("link", "")
            match = _NEXT.search(link)
            url, query = (match.group(1), None) if match else (None, None)
            left = _pages_left(url, link)
            Lanes.expect(left or None)  # done: what the thread does next is not known
            yield Page(data or [], headers.get("etag") if first else None, request, left)
            del headers, data  # not held while the next page is read: the caller has it
            first = False

    def repository(self, repo: str, etag: str | None = None) -> Page:
        """The repository object (as the page's single item), or no items on a 304."""
        path = f"/repos/{repo}"
        headers, data = self._get(path, None, etag)
        return Page(None if data is None else [data], etag if data is None else headers.get("etag"),
                    request_key(path, {}))

    @staticmethod
    def _issue_params(since: str | None) -> dict[str, Any]:
        # Sorted by creation, which never changes: sorted by update, an issue edited while we page
        # jumps to the end and the rest shift back a place, so page-number paging would skip one.
        return {"state": "all", "sort": "created", "direction": "asc", **({"since": since} if since else {})}

    def issue_pages(self, repo: str, since: str | None = None, etag: str | None = None) -> Iterator[Page]:
        """Issues and pull requests updated at or after ``since``, oldest first, their users lean."""
        for page in self._pages(f"/repos/{repo}/issues", self._issue_params(since), etag):
            for issue in page.items or ():
                lean_users(issue)
            yield page
            del page  # not held while the next page is read

    def issues_request(self, repo: str, since: str | None) -> str:
        """The request key ``issue_pages`` will use, to look its ETag up before asking."""
        return request_key(f"/repos/{repo}/issues", {**self._issue_params(since), "per_page": self.site.page_size})

    def event_pages(self, repo: str, since: str | None = None) -> Iterator[list[IssueEvent]]:
        """Repo-level issue events, newest first, down to ``since`` (ISO 8601) when given; each
        parsed by ``issue_events`` (the adapter's decoder for these pages)."""
        for page in self._pages(f"/repos/{repo}/issues/events", {}):
            # parsed by issue_events as the adapter read them; an answer it did not decode (one
            # whose Content-Type says no JSON, left to PyGithub's parse) is taken as parsed whole
            events = [e if isinstance(e, IssueEvent) else IssueEvent.of(e) for e in page.items or []]
            del page  # nor a page while the next is read
            if since is not None:  # the read stops at ``since``, long before the list's last page
                Lanes.expect(None)
            passed = since is not None and events and (events[-1].created_at or "") < since
            yield [e for e in events if since is None or (e.created_at or "") >= since]
            del events
            if passed:
                return

    def milestones(self, repo: str, etag: str | None = None) -> Page:
        """Every milestone as one page (they are few), or no items on a 304."""
        pages = list(self._pages(f"/repos/{repo}/milestones", {"state": "all"}, etag))
        if pages[0].items is None:
            return pages[0]
        return Page([lean_users(m) for page in pages for m in page.items or []], pages[0].etag, pages[0].request)

    def milestones_request(self, repo: str) -> str:
        return request_key(f"/repos/{repo}/milestones", {"state": "all", "per_page": self.site.page_size})

    def sub_issues(self, repo: str, number: int) -> list[dict[str, Any]]:
        path = f"/repos/{repo}/issues/{number}/sub_issues"
        return [lean_users(i) for page in self._pages(path, {}) for i in page.items or []]

    def blocked_by(self, repo: str, number: int) -> list[dict[str, Any]]:
        path = f"/repos/{repo}/issues/{number}/dependencies/blocked_by"
        return [lean_users(i) for page in self._pages(path, {}) for i in page.items or []]


class _Parsed(str):
    """An answer's text that carries what ``CheckedJsonAdapter`` parsed it into."""

    parsed: Any


class _ParsedResponse(RequestsResponse):
    """PyGithub's view of an answer, whose text carries the adapter's parse along to ``_from_json``."""

    def read(self) -> str:
        text = super().read()
        if not hasattr(self.response, "parsed_json"):
            return text
        carried = _Parsed(text)
        carried.parsed = self.response.parsed_json
        return carried


def _from_json(data: str | bytes) -> Any:
    """PyGithub's ``Requester.__structuredFromJson``: the parse the adapter made, else orjson's
    (``connectors.http.loads``), so that no answer is parsed twice."""
    if isinstance(data, _Parsed):
        return data.parsed
    if len(data) == 0:
        return None
    try:
        return loads(data)
    except ValueError:
        text = data.decode("utf-8") if isinstance(data, bytes) else data
        if text.startswith(("{", "[")):
            raise
        return {"data": text}


def _pages_left(next_url: str | None, link: str) -> int:
    """The requests a page-number chain still needs: from its ``next`` page through its ``last``
    (GitHub gives both on every page but the last), at least one while there is a ``next``."""
    if next_url is None:
        return 0
    last = _LAST.search(link)
    at, end = _PAGE.search(next_url), last and _PAGE.search(last.group(1))
    return max(1, int(end.group(1)) - int(at.group(1)) + 1) if at and end else 1


def request_key(path: str, query: dict[str, Any]) -> str:
    """Path and sorted query: the identity of a repeatable request, which an ETag belongs to."""
    return f"{path}?{urlencode(sorted(query.items()))}" if query else path
