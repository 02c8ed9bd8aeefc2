"""Faults the tracker sandbox can inject, so connectors meet what real trackers do on a bad day:
added latency, rate limits with ``Retry-After``, GitHub's exhausted primary rate limit, 5xx
answers, a project or repository that answers 404, dropped connections, truncated or malformed
JSON, and Jira Cloud search results that lag recent updates.

Rules come from a compact spec (``pulse sandbox --faults``, ``PUT /_sandbox/faults``; the grammar
is in docs/sandbox.md), e.g. ``429@jira-cloud:p=0.1,retry_after=2;503@github:every=7;drop:p=0.01``
or ``ratelimit@github:after=20,times=1,reset=2;404@jira-dc:project=CART``.
Every rule draws from its own ``random.Random`` seeded with the sandbox seed and its position, so
the same requests in the same order meet the same faults. Faults apply to tracker endpoints only:
never to ``/_sandbox/*``, unknown paths or requests without valid credentials.
"""

from __future__ import annotations

import fnmatch
import json
import random
import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, fields
from datetime import datetime, timedelta, timezone
from typing import Any

from werkzeug.wrappers import Request, Response

from sandbox.httpd import DropConnection
from sandbox.scenario import GITHUB, JIRA_CLOUD, SITES, Item

LATENCY, LAG, DROP, TRUNCATE, MALFORMED = "latency", "lag", "drop", "truncate", "malformed"
# An item edited while a sync pages through its project: the first item of the answered page is
# updated just after the page is served, so it jumps to the end of any `updated`-ordered listing
# and everything behind it shifts by one: offset paging then skips an item.
UPDATE = "update"
RATE_LIMITS = ("429", "403")  # 403: GitHub's other way of saying "secondary rate limit"
# GitHub's primary rate limit used up: every request it matches answers 403 (or 429) with
# X-RateLimit-Remaining: 0 until X-RateLimit-Reset, and no Retry-After.
RATELIMIT = "ratelimit"
NOT_FOUND = "404"  # a project or repository gone, or out of the token's sight
ERRORS = ("500", "502", "503")
KINDS = (LATENCY, *RATE_LIMITS, RATELIMIT, NOT_FOUND, *ERRORS, DROP, TRUNCATE, MALFORMED, LAG, UPDATE)
BODIES = (TRUNCATE, MALFORMED)  # spoil the tracker's answer; the others but latency and lag replace it
WHEN = ("p", "every", "times", "after")
PARAMS = {LATENCY: ("ms", "jitter"), "429": ("retry_after",), "403": ("retry_after",), "503": ("retry_after",),
          RATELIMIT: ("reset", "status"), LAG: ("seconds",)}
NUMBERS = (*WHEN, "ms", "jitter", "retry_after", "seconds", "reset", "status")
TEXTS = ("project",)  # every kind but lag takes it
REQUIRED = {LATENCY: "ms", LAG: "seconds"}
DEFAULT_RETRY_AFTER = 1
DEFAULT_RESET = 1  # ratelimit: X-RateLimit-Reset this many seconds ahead
PROJECT = re.compile(r"[^\s,;:=@]+")  # a Jira project key or a GitHub owner/name
RULE_HEAD = re.compile(r"((?:<[^>]*>|[^:])*)(?::(.*))?", re.DOTALL)  # KIND@SITE/ENDPOINT, then the params

# Jira search reads this from the WSGI environ (see hide_unindexed); the hook writes back whether
# it hid anything, so that the lag is counted only where it showed.
SEARCH_LAG_ENV = "sandbox.search_lag_seconds"
SEARCH_LAG_HID_ENV = "sandbox.search_lag_hid"

GITHUB_DOCS = "https://docs.github.com/rest"
GITHUB_SECONDARY = "You have exceeded a secondary rate limit. Please wait a few minutes before you try again."
GITHUB_PRIMARY = "API rate limit exceeded for user ID 1."
GITHUB_RATE_LIMIT = 5000  # requests an hour per token, as github_api's budget
GITHUB_MESSAGES = {"404": "Not Found", "500": "Server Error", "502": "Server Error", "503": "Service Unavailable"}
JIRA_MESSAGES = {"404": "Not Found", "429": "Rate limit exceeded.", "500": "Internal server error",
                 "502": "Bad Gateway", "503": "Service Unavailable"}
JIRA_RATE_LIMIT = "100"  # X-RateLimit-Limit: illustrative; clients are meant to follow Retry-After
# The projects a Jira search names: `project = KEY`, `project in (A, "B")`.
JQL_PROJECTS = re.compile(r"\bproject\s*(?:=|\bin\b)\s*(\([^)]*\)|\"[^\"]*\"|'[^']*'|[\w-]+)", re.IGNORECASE)


class FaultSpecError(ValueError):
    """A fault spec or rule that cannot be read; the message names the rule and what is wrong."""


@dataclass(frozen=True)
class FaultRule:
    """One kind of fault and the requests that get it: those of ``site`` (None: every site) whose
    endpoint pattern (as /_sandbox/stats names it, below the site prefix) matches the glob
    ``endpoint`` and that concern ``project`` (None: any); past the first ``after`` of them, each
    with probability ``p``, or every ``every``-th one; at most ``times`` in all."""

    kind: str
    site: str | None = None
    endpoint: str | None = None
    p: float = 1.0
    every: int | None = None
    times: int | None = None
    after: int = 0  # let this many matching requests through before the rule starts
    project: str | None = None  # a Jira project key or a GitHub owner/name (see _projects_of)
    ms: int = 0  # latency: added delay
    jitter: int = 0  # latency: ± this many ms, uniformly
    retry_after: int | None = None  # 429, 403 (default 1) and 503 (default none): Retry-After seconds
    seconds: int = 0  # lag: how far Jira Cloud's search index trails the scenario clock
    reset: int | None = None  # ratelimit: X-RateLimit-Reset this many seconds ahead (default 1)
    status: int | None = None  # ratelimit: 403 (default) or 429, GitHub sends both

    def __post_init__(self) -> None:
        _validate(self)

    @property
    def spec(self) -> str:
        """The rule in spec form; parse_spec(rule.spec) gives the rule back."""
        target = f"@{self.site or '*'}{self.endpoint or ''}" if self.site or self.endpoint else ""
        defaults = {f.name: f.default for f in fields(self)}
        params = [f"{name}={getattr(self, name)}" for name in (*WHEN, *TEXTS, *PARAMS.get(self.kind, ()))
                  if getattr(self, name) != defaults[name]]
        return f"{self.kind}{target}" + (":" + ",".join(params) if params else "")

    def matches(self, site: str, endpoint: str, projects: frozenset[str] = frozenset()) -> bool:
        """Whether a request is this rule's: ``projects`` are those it concerns (_projects_of),
        needed only when the rule names one."""
        return (self.site in (None, site) and (self.endpoint is None or fnmatch.fnmatchcase(endpoint, self.endpoint))
                and (self.project is None or self.project.casefold() in projects))


def parse_spec(spec: str) -> tuple[FaultRule, ...]:
    """``RULE;RULE;…`` with ``RULE = KIND[@SITE[ENDPOINT]][:NAME=VALUE,…]``."""
    return tuple(_parse_rule(text.strip()) for text in spec.split(";") if text.strip())


def rule_from_json(body: object) -> FaultRule:
    """A rule as a JSON object, with FaultRule's field names."""
    if not isinstance(body, dict) or not isinstance(body.get("kind"), str):
        raise FaultSpecError(f"fault rule {json.dumps(body)}: expected an object with a 'kind'")
    where = f"fault rule {json.dumps(body)}"
    values = {name: _number(where, name, value) if name in NUMBERS and value is not None else value
              for name, value in body.items()}
    return _built(where, values)


def _parse_rule(text: str) -> FaultRule:
    where = f"fault rule {text!r}"
    # The first ':' outside <…>: an endpoint pattern may hold a converter, as in <int:number>.
    head, params = RULE_HEAD.fullmatch(text).group(1, 2)
    params = params or ""
    kind, at, target = head.strip().partition("@")
    values: dict[str, Any] = {"kind": kind.strip()}
    if at:
        site, slash, endpoint = target.strip().partition("/")
        if site != "*":
            values["site"] = site
        if slash:
            values["endpoint"] = "/" + endpoint
    for param in filter(None, (p.strip() for p in params.split(","))):
        name, eq, value = (part.strip() for part in param.partition("="))
        if not eq or not value:
            raise FaultSpecError(f"{where}: expected NAME=VALUE, found {param!r}")
        if name in values:
            raise FaultSpecError(f"{where}: {name!r} is given twice")
        if name not in NUMBERS and name not in TEXTS:
            raise FaultSpecError(f"{where}: unknown parameter {name!r}")
        values[name] = _number(where, name, value) if name in NUMBERS else value
    return _built(where, values)


def _built(where: str, values: dict[str, Any]) -> FaultRule:
    """Construct a rule, naming the rule's own text in any error."""
    if unknown := sorted(set(values) - {f.name for f in fields(FaultRule)}):
        raise FaultSpecError(f"{where}: unknown parameter {unknown[0]!r}")
    if values.get("kind") == LAG and "site" not in values:
        values["site"] = JIRA_CLOUD  # the only site whose search lags
    try:
        return FaultRule(**values)
    except FaultSpecError as error:
        raise FaultSpecError(f"{where}: {error}") from None


def _number(where: str, name: str, value: object) -> int | float:
    """A parameter's value: p is a fraction, everything else a whole number."""
    if isinstance(value, bool):
        raise FaultSpecError(f"{where}: {name} must be a number, found {value!r}")
    try:
        return float(value) if name == "p" else int(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        kind = "a number from 0 to 1" if name == "p" else "a whole number"
        raise FaultSpecError(f"{where}: {name} must be {kind}, found {value!r}") from None


def _validate(rule: FaultRule) -> None:
    if rule.kind not in KINDS:
        raise FaultSpecError(f"unknown fault kind {rule.kind!r} (expected one of {', '.join(KINDS)})")
    if rule.site is not None and rule.site not in SITES:
        raise FaultSpecError(f"unknown site {rule.site!r} (expected {', '.join(SITES)} or *)")
    if rule.endpoint is not None and not (isinstance(rule.endpoint, str) and rule.endpoint.startswith("/")):
        raise FaultSpecError(f"an endpoint starts with '/', found {rule.endpoint!r}")
    defaults = {f.name: f.default for f in fields(FaultRule)}
    allowed = set(PARAMS.get(rule.kind, ())) | (set() if rule.kind == LAG else {*WHEN, *TEXTS})
    for name in (*NUMBERS, *TEXTS):
        if getattr(rule, name) != defaults[name] and name not in allowed:
            raise FaultSpecError(f"{rule.kind} takes no {name!r} (it takes {', '.join(sorted(allowed)) or 'nothing'})")
    if (required := REQUIRED.get(rule.kind)) and getattr(rule, required) <= 0:
        raise FaultSpecError(f"{rule.kind} needs {required}=N with N > 0")
    if not 0 < rule.p <= 1:
        raise FaultSpecError(f"p must be above 0 and at most 1, found {rule.p}")
    if rule.every is not None and rule.p != 1:
        raise FaultSpecError("give p or every, not both")
    for name in ("every", "times"):
        if getattr(rule, name) is not None and getattr(rule, name) < 1:
            raise FaultSpecError(f"{name} must be at least 1, found {getattr(rule, name)}")
    for name in ("jitter", "retry_after", "after"):
        if (getattr(rule, name) or 0) < 0:
            raise FaultSpecError(f"{name} must not be negative, found {getattr(rule, name)}")
    if rule.project is not None and not (isinstance(rule.project, str) and PROJECT.fullmatch(rule.project)):
        raise FaultSpecError(f"project is a Jira project key or a GitHub owner/name, found {rule.project!r}")
    if rule.kind == "403" and rule.site != GITHUB:
        raise FaultSpecError("403 is GitHub's secondary rate limit: write 403@github")
    if rule.kind == RATELIMIT and rule.site != GITHUB:
        raise FaultSpecError("ratelimit is GitHub's primary rate limit: write ratelimit@github")
    if rule.reset is not None and rule.reset < 1:
        raise FaultSpecError(f"reset must be at least 1, found {rule.reset}")
    if rule.status not in (None, 403, 429):
        raise FaultSpecError(f"status must be 403 or 429, found {rule.status}")
    if rule.kind == LAG and (rule.site != JIRA_CLOUD or rule.endpoint is not None):
        raise FaultSpecError("lag models Jira Cloud's search index: write lag@jira-cloud:seconds=N")


class _Armed:
    """A rule in force: its random stream, how many requests it has seen and hit, and (ratelimit)
    until when the budget it used up stays used up."""

    def __init__(self, rule: FaultRule, seed: int, index: int) -> None:
        self.rule = rule
        self.random = random.Random(f"{seed}:{index}")
        self.seen = 0
        self.hits = 0
        self.reset_at = 0  # ratelimit: epoch second of X-RateLimit-Reset

    def fires(self) -> bool:
        rule = self.rule
        if rule.times is not None and self.hits >= rule.times:
            return False
        self.seen += 1
        if self.seen <= rule.after:
            return False
        counted = self.seen - rule.after
        hit = counted % rule.every == 0 if rule.every else rule.p >= 1 or self.random.random() < rule.p
        self.hits += hit
        return hit

    def exhausted(self) -> bool:
        """ratelimit: the budget is used up (again, when the rule fires), until its reset."""
        now = time.time()
        if now < self.reset_at:
            return True
        if self.fires():
            self.reset_at = int(now) + (self.rule.reset or DEFAULT_RESET)  # GitHub's is a whole second
            return True
        return False

    def delay(self) -> float:
        """Seconds of latency, jitter included."""
        rule = self.rule
        jitter = self.random.uniform(-rule.jitter, rule.jitter) if rule.jitter else 0.0
        return max(0.0, rule.ms + jitter) / 1000


@dataclass(frozen=True)
class _Plan:
    """What one request meets: a delay, then at most one replaced answer or one spoiled body."""

    delay: float = 0.0
    answer: FaultRule | None = None
    body: FaultRule | None = None
    lag: int = 0
    update: bool = False
    reset_at: int = 0  # ratelimit: X-RateLimit-Reset


class Faults:
    """The rules in force and the faults they injected, shared by every request thread."""

    def __init__(self, seed: int) -> None:
        self._lock = threading.Lock()
        self._seed = seed
        self._armed: tuple[_Armed, ...] = ()
        self._injected: Counter[str] = Counter()
        # Set by the app: edits the first item of an answered page (the update fault).
        self.on_update: Callable[[str, Response], bool] = lambda site, response: False

    @property
    def rules(self) -> tuple[FaultRule, ...]:
        return tuple(a.rule for a in self._armed)

    def set(self, rules: Iterable[FaultRule], seed: int | None = None) -> None:
        """Replace the rules; their random streams start afresh from the seed."""
        with self._lock:
            self._seed = self._seed if seed is None else seed
            self._armed = tuple(_Armed(rule, self._seed, n) for n, rule in enumerate(rules))

    def injected(self) -> dict[str, int]:
        """Faults injected so far, by kind."""
        with self._lock:
            return dict(sorted(self._injected.items()))

    def seen(self) -> tuple[int, ...]:
        """Requests each rule has matched so far (a rule that never fires counts a project's)."""
        with self._lock:
            return tuple(a.seen for a in self._armed)

    def reset_counts(self) -> None:
        with self._lock:
            self._injected.clear()

    def apply(self, request: Request, site: str, endpoint: str, answer: Callable[[], Response]) -> Response:
        """Serve one tracker request through the rules: ``answer`` computes the tracker's own."""
        plan = self._plan(request, site, endpoint)
        if plan.delay:
            time.sleep(plan.delay)
        if plan.answer is not None:
            self._count(plan.answer.kind)
            return _DroppedResponse() if plan.answer.kind == DROP else _error(site, plan.answer, plan.reset_at)
        if plan.lag:
            request.environ[SEARCH_LAG_ENV] = plan.lag
        response = answer()
        if request.environ.get(SEARCH_LAG_HID_ENV):
            self._count(LAG)
        if plan.update and response.status_code == 200 and self.on_update(site, response):
            self._count(UPDATE)
        if plan.body is not None and response.status_code == 200 and (data := response.get_data()):
            self._count(plan.body.kind)
            response.set_data(data[:len(data) // 2] if plan.body.kind == TRUNCATE else data[:-1] + b",}")
        return response

    def _plan(self, request: Request, site: str, endpoint: str) -> _Plan:
        delay, replaced, spoiled, lag, update, reset_at = 0.0, None, None, 0, False, 0
        projects = _projects_of(request, site, endpoint) if any(a.rule.project for a in self._armed) else frozenset()
        with self._lock:
            for armed in self._armed:
                rule = armed.rule
                if not rule.matches(site, endpoint, projects):
                    continue
                if rule.kind == LAG:
                    lag = rule.seconds
                elif rule.kind == UPDATE:
                    update = update or armed.fires()
                elif rule.kind == LATENCY:
                    if armed.fires():
                        delay += armed.delay()
                        self._injected[LATENCY] += 1
                elif rule.kind in BODIES:
                    if spoiled is None and armed.fires():
                        spoiled = rule
                elif rule.kind == RATELIMIT:
                    if replaced is None and armed.exhausted():
                        replaced, reset_at = rule, armed.reset_at
                elif replaced is None and armed.fires():
                    replaced = rule
        return _Plan(delay, replaced, spoiled, lag, update, reset_at)

    def _count(self, kind: str) -> None:
        with self._lock:
            self._injected[kind] += 1

    # -- the control endpoint --------------------------------------------------------------------
    def control(self, request: Request) -> Response:
        """GET: the rules and counts; PUT: replace the rules ({"spec": …} or {"rules": [...]},
        optional "seed"); DELETE: no faults."""
        if request.method == "PUT":
            try:
                self._put(request.get_json(force=True, silent=True))
            except FaultSpecError as error:
                return _json({"error": str(error)}, 400)
        elif request.method == "DELETE":
            self.set(())
        return _json({"seed": self._seed, "spec": ";".join(r.spec for r in self.rules),
                      "rules": [{**asdict(r), "spec": r.spec} for r in self.rules], "injected": self.injected()})

    def _put(self, body: object) -> None:
        if isinstance(body, list):
            body = {"rules": body}
        if not isinstance(body, dict) or ("spec" in body) == ("rules" in body):
            raise FaultSpecError('the body must be {"spec": "..."} or {"rules": [...]}, with an optional "seed"')
        seed = body.get("seed")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            raise FaultSpecError(f"seed must be a whole number, found {seed!r}")
        if "spec" in body:
            if not isinstance(body["spec"], str):
                raise FaultSpecError("spec must be a string")
            rules = parse_spec(body["spec"])
        elif isinstance(body["rules"], list):
            rules = tuple(rule_from_json(rule) for rule in body["rules"])
        else:
            raise FaultSpecError("rules must be a list")
        self.set(rules, seed)


def _projects_of(request: Request, site: str, endpoint: str) -> frozenset[str]:
    """The projects a tracker request concerns, case-folded: a GitHub repository's ``owner/name``
    from its path; a Jira project's key from ``project/<key>`` or ``issue/<KEY-n>`` in the path, or
    from a search's JQL (``project = KEY``, ``project in (…)``, in the query or a POSTed body). An
    issue named by its numeric id, or a search whose JQL names no project, concerns none."""
    names = endpoint.strip("/").split("/")
    parts = request.path.strip("/").split("/")[-len(names):]
    values = {name[1:-1].rpartition(":")[2]: part for name, part in zip(names, parts) if name.startswith("<")}
    if site == GITHUB:
        return frozenset({f"{values['owner']}/{values['repo']}".casefold()} if "repo" in values else ())
    found = {values["key"].rpartition("-")[0] or values["key"]} if "key" in values else set()
    body = request.get_json(force=True, silent=True) if request.method == "POST" else None
    jql = request.args.get("jql") or (body.get("jql") if isinstance(body, dict) else None) or ""
    for match in JQL_PROJECTS.finditer(jql if isinstance(jql, str) else ""):
        found.update(key.strip(" \"'") for key in match.group(1).strip("()").split(","))
    return frozenset(key.casefold() for key in found if key)


def hide_unindexed(request: Request, items: tuple[Item, ...], now: datetime,
                   reconcile: list[str]) -> tuple[Item, ...]:
    """Jira Cloud's search is eventually consistent: under a lag fault, issues updated within the
    lag before ``now`` are not found yet, unless ``reconcileIssues`` names their ids."""
    lag = request.environ.get(SEARCH_LAG_ENV)
    if not lag:
        return items
    horizon = now - timedelta(seconds=lag)
    wanted = set(reconcile)
    found = tuple(i for i in items if i.updated_at <= horizon or str(i.uid) in wanted)
    request.environ[SEARCH_LAG_HID_ENV] = len(found) < len(items)
    return found


class _DroppedResponse(Response):
    """Counted with status 0; serving it closes the connection without an answer."""

    def __init__(self) -> None:
        super().__init__(status=0)

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        raise DropConnection


def _error(site: str, rule: FaultRule, reset_at: int = 0) -> Response:
    """The tracker's own error answer for a rate limit, a missing project or a server error."""
    headers: dict[str, str] = {}
    if rule.kind == RATELIMIT:  # no Retry-After: the client is to wait until X-RateLimit-Reset
        status = str(rule.status or 403)
        headers = {"X-RateLimit-Limit": str(GITHUB_RATE_LIMIT), "X-RateLimit-Remaining": "0",
                   "X-RateLimit-Used": str(GITHUB_RATE_LIMIT), "X-RateLimit-Reset": str(reset_at),
                   "X-RateLimit-Resource": "core"}
        body = {"message": GITHUB_PRIMARY, "documentation_url": f"{GITHUB_DOCS}/overview/rate-limits-for-the-rest-api"}
        return _json({**body, "status": status}, int(status), headers, "application/json; charset=utf-8")
    # Rate limits say when to come back (default 1 s); a 503 only when told to, other errors never.
    retry_after = DEFAULT_RETRY_AFTER if rule.retry_after is None and rule.kind in RATE_LIMITS else rule.retry_after
    if retry_after is not None:
        headers["Retry-After"] = str(retry_after)
    if site == GITHUB:
        if rule.kind in RATE_LIMITS:
            body = {"message": GITHUB_SECONDARY,
                    "documentation_url": f"{GITHUB_DOCS}/using-the-rest-api/rate-limits-for-the-rest-api"
                                         "#about-secondary-rate-limits"}
        else:
            body = {"message": GITHUB_MESSAGES[rule.kind], "documentation_url": GITHUB_DOCS}
        return _json({**body, "status": rule.kind}, int(rule.kind), headers, "application/json; charset=utf-8")
    if rule.kind == "429":
        reset = datetime.now(timezone.utc) + timedelta(seconds=retry_after or 0)
        headers.update({"X-RateLimit-Limit": JIRA_RATE_LIMIT, "X-RateLimit-Remaining": "0",
                        "X-RateLimit-Reset": reset.strftime("%Y-%m-%dT%H:%M:%SZ"),
                        "RateLimit-Reason": "jira-burst-based"})
    message = JIRA_MESSAGES[rule.kind]
    if rule.kind == NOT_FOUND and rule.project is not None:
        message = f"No project could be found with key '{rule.project}'."
    return _json({"errorMessages": [message], "errors": {}}, int(rule.kind), headers)


def _json(body: object, status: int = 200, headers: dict[str, str] | None = None,
          content_type: str = "application/json;charset=UTF-8") -> Response:
    return Response(json.dumps(body, ensure_ascii=False, separators=(",", ":")), status=status,
                    headers=headers, content_type=content_type)
