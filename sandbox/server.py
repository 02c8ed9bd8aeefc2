"""The tracker sandbox: one local HTTP server that is a Jira Cloud site, a Jira Data Center site
and a GitHub API, all serving one seeded scenario.

Each tracker lives under its own path prefix, so the real clients see three independent base URLs:

    http://127.0.0.1:PORT/jira-cloud   Jira Cloud (REST v3 search/jql, deploymentType Cloud)
    http://127.0.0.1:PORT/jira-dc      Jira Data Center (REST v2 search, deploymentType DataCenter)
    http://127.0.0.1:PORT/github       GitHub REST (what api.github.com serves)

Control endpoints live under ``/_sandbox/`` (see docs/sandbox.md). Every request is counted by
method, endpoint pattern (the URL rule, e.g. ``/github/repos/<owner>/<repo>/issues``) and status.
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from werkzeug.exceptions import MethodNotAllowed, NotFound
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

# The one credential the sandbox accepts (sandbox/credentials.py).
from sandbox.credentials import SANDBOX_TOKEN
from sandbox.faults import GITHUB_DOCS, GITHUB_SECONDARY, Faults
from sandbox.limits import SecondaryLimiter, SecondaryLimits
from sandbox.httpd import WsgiServer
from sandbox.scenario import GITHUB, JIRA_CLOUD, JIRA_DC, Scenario
from sandbox.timetravel import advance, difference, touch

if TYPE_CHECKING:
    from sandbox.replay import ReplayData


SITE_PREFIX = {JIRA_CLOUD: "/jira-cloud", JIRA_DC: "/jira-dc", GITHUB: "/github"}
CONTROL_PREFIX = "/_sandbox/"  # control endpoints: not tracker requests, never counted
# The public URL a site reports as its own (Jira serverInfo.baseUrl): where `pulse sandbox` serves
# by default, so browse links in the warehouse are stable across runs on random ports.
PUBLIC_ROOT = "http://127.0.0.1:8080"
MAX_ADVANCE_DAYS = 365


@dataclass(frozen=True)
class Route:
    """One endpoint of a tracker API, relative to the site root."""

    methods: tuple[str, ...]
    path: str  # a werkzeug rule, e.g. "/rest/api/2/project/<key>/versions"
    handler: Callable[..., Response]  # handler(request, **url_values) -> Response


class TrackerApi(Protocol):
    """What the server needs from a tracker's implementation."""

    site: str

    def routes(self) -> list[Route]: ...

    def authenticate(self, request: Request) -> Response | None:
        """None when the request carries valid credentials, else the tracker's own 401."""

    def not_found(self, request: Request) -> Response:
        """The tracker's own 404 for a path it does not serve."""


def json_response(body: object, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(json.dumps(body, ensure_ascii=False, separators=(",", ":")), status=status,
                    headers=headers, content_type="application/json;charset=UTF-8")


class RequestStats:
    """Thread-safe request counts by (method, endpoint pattern, status)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: Counter[tuple[str, str, int]] = Counter()

    def add(self, method: str, pattern: str, status: int) -> None:
        with self._lock:
            self._counts[(method, pattern, status)] += 1

    def reset(self) -> None:
        with self._lock:
            self._counts.clear()

    def as_json(self) -> dict:
        with self._lock:
            rows = sorted(self._counts.items())
        return {
            "total": sum(n for _, n in rows),
            "requests": [
                {"method": m, "endpoint": p, "status": s, "count": n} for (m, p, s), n in rows
            ],
        }


# A tracker route's endpoint in the URL map: (site, rule, methods). It names the route, not the
# handler, so one compiled map serves every world and the world supplies the handler.
RouteKey = tuple[str, str, tuple[str, ...]]


@dataclass(frozen=True)
class World:
    """One scenario (or replay data) with the tracker APIs and their handlers: a request is served by
    one world from start to end, and time travel replaces the world whole."""

    scenario: Scenario | ReplayData
    apis: dict[str, TrackerApi]
    handlers: dict[RouteKey, Callable[..., Response]]
    url_map: Map


class SandboxApp:
    """The WSGI application: routes each request to its tracker, checks auth, counts it."""

    def __init__(self, scenario: Scenario | ReplayData, token: str = SANDBOX_TOKEN,
                 github_limits: SecondaryLimits = SecondaryLimits()) -> None:
        self.stats = RequestStats()
        # GitHub's secondary limits (survive time travel, as the faults do)
        self.github_limits = SecondaryLimiter(github_limits)
        seed = scenario.seed if isinstance(scenario, Scenario) else 0
        self.faults = Faults(seed)  # survives time travel: rules, random streams and counts
        self._token = token
        self._advance_lock = threading.Lock()  # one advance at a time, each from the latest world
        self.world = self._build(scenario)
        self.faults.on_update = self._edit_first_item

    def _build(self, scenario: Scenario | ReplayData) -> World:
        from sandbox.github_api import GithubApi
        from sandbox.jira_api import JiraApi
        from sandbox.replay import replay_apis

        apis: dict[str, TrackerApi] = {
            JIRA_CLOUD: JiraApi(scenario, JIRA_CLOUD, self._token),
            JIRA_DC: JiraApi(scenario, JIRA_DC, self._token),
            GITHUB: GithubApi(scenario, self._token),
        } if isinstance(scenario, Scenario) else replay_apis(scenario, self._token)
        handlers = {(site, SITE_PREFIX[site] + route.path, tuple(route.methods)): route.handler
                    for site, api in apis.items() for route in api.routes()}
        previous: World | None = getattr(self, "world", None)
        if previous is not None and previous.handlers.keys() == handlers.keys():
            url_map = previous.url_map  # same routes: keep the compiled map (see _url_map)
        else:
            url_map = self._url_map(handlers)
        return World(scenario, apis, handlers, url_map)

    def _url_map(self, handlers: dict[RouteKey, Callable[..., Response]]) -> Map:
        """Compile the routes, once per set of routes rather than once per world. Werkzeug compiles
        each rule with ``ast.parse``. On CPython 3.11 before 3.11.8, ``ast.parse`` is not re-entrant
        (gh-106905): a garbage collection inside it that runs a finalizer which formats a traceback
        (traceback formatting parses too) fails the outer parse with "AST constructor recursion depth
        mismatch". So time travel and the update fault, which build worlds in request threads, must
        not compile anything. A CI run lost an advance to it."""
        rules = [
            Rule("/_sandbox/stats", methods=["GET"], endpoint=("control", self._stats)),
            Rule("/_sandbox/stats/reset", methods=["POST"], endpoint=("control", self._reset_stats)),
            Rule("/_sandbox/scenario", methods=["GET"], endpoint=("control", self._scenario)),
            Rule("/_sandbox/faults", methods=["GET", "PUT", "DELETE"], endpoint=("control", self.faults.control)),
            Rule("/_sandbox/advance", methods=["POST"], endpoint=("control", self._advance)),
        ]
        rules += [Rule(rule, methods=list(methods), endpoint=(site, rule, methods), strict_slashes=False)
                  for site, rule, methods in handlers]
        return Map(rules)

    @property
    def scenario(self) -> Scenario | ReplayData:
        return self.world.scenario

    @property
    def apis(self) -> dict[str, TrackerApi]:
        return self.world.apis

    @property
    def url_map(self) -> Map:
        return self.world.url_map

    def __call__(self, environ, start_response):
        self._canonical(environ)
        request = Request(environ)
        response, pattern = self._dispatch(request)
        if not pattern.startswith(CONTROL_PREFIX):  # the stats count what clients ask the trackers
            self.stats.add(request.method, pattern, response.status_code)
        return response(environ, start_response)

    def _canonical(self, environ) -> None:
        """A site's other name for an endpoint as the endpoint itself (GitHub's
        /repositories/{id}/... for /repos/{owner}/{repo}/...: ``canonical_path``), rewritten
        before routing, so one route serves, counts and faults both."""
        path = environ.get("PATH_INFO", "")
        for site, prefix in SITE_PREFIX.items():
            if path.startswith(prefix + "/") and (canonical := getattr(self.world.apis.get(site), "canonical_path", None)):
                if (rewritten := canonical(path[len(prefix):])) is not None:
                    environ["PATH_INFO"] = prefix + rewritten
                return

    def _dispatch(self, request: Request) -> tuple[Response, str]:
        world = self.world  # read once: an advance mid-request does not mix two worlds
        adapter = world.url_map.bind_to_environ(request.environ)
        site = next((s for s, prefix in SITE_PREFIX.items()
                     if request.path == prefix or request.path.startswith(prefix + "/")), None)
        try:
            rule, values = adapter.match(return_rule=True)
        except (NotFound, MethodNotAllowed):
            if site is None:
                return json_response({"message": "Not Found"}, 404), "(unmatched)"
            return world.apis[site].not_found(request), SITE_PREFIX[site] + "/(unmatched)"
        owner = rule.endpoint[0]
        if owner == "control":
            return rule.endpoint[1](request, **values), rule.rule
        handler = world.handlers[rule.endpoint]
        denied = world.apis[owner].authenticate(request)
        if denied is not None:
            return denied, rule.rule
        if owner == GITHUB:
            if (broken := self.github_limits.enter(request.method)) is not None:
                return secondary_limit_response(broken, self.github_limits.limits.window_seconds), rule.rule
            try:
                return self.faults.apply(request, owner, rule.rule.removeprefix(SITE_PREFIX[owner]),
                                         lambda: handler(request, **values)), rule.rule
            finally:
                self.github_limits.leave()
        return self.faults.apply(request, owner, rule.rule.removeprefix(SITE_PREFIX[owner]),
                                 lambda: handler(request, **values)), rule.rule

    # -- control endpoints ---------------------------------------------------------------------
    def _stats(self, request: Request) -> Response:
        limiter = self.github_limits
        return json_response({**self.stats.as_json(), "faults": self.faults.injected(),
                              "github_secondary_limits": {
                                  "max_in_flight": limiter.limits.max_in_flight, "points": limiter.limits.points,
                                  "window_seconds": limiter.limits.window_seconds,
                                  "refused": limiter.refused, "peak_in_flight": limiter.peak_in_flight}})

    def _reset_stats(self, request: Request) -> Response:
        self.stats.reset()
        self.github_limits.reset_counts()
        for api in self.world.apis.values():
            if (reset_budget := getattr(api, "reset_budget", None)) is not None:
                reset_budget()
        self.faults.reset_counts()
        return json_response({"ok": True})

    def _scenario(self, request: Request) -> Response:
        s = self.scenario
        if not isinstance(s, Scenario):
            return json_response(s.describe())
        return json_response({
            "name": s.name, "seed": s.seed, "as_of": s.as_of.isoformat(), "now": s.now.isoformat(),
            "items": len(s.items), "links": len(s.links), "deleted": len(s.deleted),
            "projects": [{"key": p.key, "site": p.site, "program": p.program, "story": p.story,
                          "items": len(s.items_by_project.get(p.key, ()))} for p in s.projects],
        })

    def _edit_first_item(self, site: str, response: Response) -> bool:
        """The update fault: edit the first item of a page just served (a Jira search page or a
        GitHub issue list), as a person working during the sync would. False when there is none."""
        if not isinstance(self.world.scenario, Scenario):
            return False
        body = json.loads(response.get_data() or b"null")
        first = (body.get("issues") or [None])[0] if isinstance(body, dict) else (body or [None])[0]
        if not isinstance(first, dict):
            return False
        if site == GITHUB:
            ref = (first.get("repository_url", "").partition("/repos/")[2], first.get("number"))
        else:
            project, _, number = str(first.get("key", "")).rpartition("-")
            ref = (project, int(number)) if number.isdigit() else ("", 0)
        with self._advance_lock:
            if ref not in self.world.scenario.item:
                return False
            self.world = self._build(touch(self.world.scenario, ref))
        return True

    def _advance(self, request: Request) -> Response:
        """Time travel: build the world ``days`` nights later, then swap it in whole. Request stats
        carry over; the GitHub rate limit starts afresh with the new GithubApi. Replay data is a
        recording: it has no later nights."""
        if not isinstance(self.world.scenario, Scenario):
            return json_response({"error": "replay data does not travel in time"}, 409)
        body = request.get_json(force=True, silent=True) if request.get_data() else {}
        days = body.get("days", 1) if isinstance(body, dict) else None
        if type(days) is not int or not 1 <= days <= MAX_ADVANCE_DAYS:
            return json_response({"error": f"the body must be a JSON object whose optional 'days' is an "
                                           f"integer from 1 to {MAX_ADVANCE_DAYS}"}, 400)
        with self._advance_lock:
            before = self.world.scenario
            after = advance(before, days)
            self.world = self._build(after)
        changes = difference(before, after)
        return json_response({
            "as_of": after.as_of.isoformat(), "now": after.now.isoformat(), "items": len(after.items),
            "changed": len(changes.changed), "created": len(changes.created), "deleted": list(changes.deleted),
            "moved": [{"from": old, "to": new} for old, new in changes.moved],
        })


@dataclass(frozen=True)
class RunningSandbox:
    """A sandbox serving on loopback; its base URLs are what a program config points at."""

    url: str
    app: SandboxApp

    def site_url(self, site: str) -> str:
        return self.url + SITE_PREFIX[site]

    @property
    def stats(self) -> RequestStats:
        return self.app.stats


def secondary_limit_response(broken: str, window_seconds: float) -> Response:
    """GitHub's answer to a request beyond a secondary limit: 403, its message, Retry-After."""
    return json_response({"message": GITHUB_SECONDARY,
                          "documentation_url": f"{GITHUB_DOCS}/using-the-rest-api/rate-limits-for-the-rest-api"
                                               "#about-secondary-rate-limits"},
                         403, {"Retry-After": str(max(1, round(window_seconds))), "X-Sandbox-Limit": broken})


@contextmanager
def serve(scenario: Scenario | ReplayData, host: str = "127.0.0.1", port: int = 0,
          token: str = SANDBOX_TOKEN, github_limits: SecondaryLimits = SecondaryLimits()) -> Iterator[RunningSandbox]:
    """Serve ``scenario`` (or replay data) in a background thread for the duration of the ``with`` block.

    ``port=0`` takes a free port. Threaded, with HTTP/1.1 keep-alive, so clients reuse connections.
    """
    app = SandboxApp(scenario, token, github_limits)
    server = WsgiServer(host, port, app)
    thread = threading.Thread(target=server.serve_forever, name="tracker-sandbox", daemon=True)
    thread.start()
    try:
        yield RunningSandbox(url=f"http://{host}:{server.port}", app=app)
    finally:
        server.close()
        thread.join(timeout=5)
