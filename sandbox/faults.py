"""Faults the tracker sandbox can inject, so connectors meet what real trackers do on a bad day:
added latency, rate limits with ``Retry-After``, 5xx answers, dropped connections, truncated or
malformed JSON, and Jira Cloud search results that lag recent updates.

Rules come from a compact spec (``pulse sandbox --faults``, ``PUT /_sandbox/faults``; the grammar
is in docs/sandbox.md), e.g. ``429@jira-cloud:p=0.1,retry_after=2;503@github:every=7;drop:p=0.01``.
Every rule draws from its own ``random.Random`` seeded with the sandbox seed and its position, so
the same requests in the same order meet the same faults. Faults apply to tracker endpoints only:
never to ``/_sandbox/*``, unknown paths or requests without valid credentials.
"""

from __future__ import annotations

import fnmatch
import json
import random
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
ERRORS = ("500", "502", "503")
KINDS = (LATENCY, *RATE_LIMITS, *ERRORS, DROP, TRUNCATE, MALFORMED, LAG, UPDATE)
BODIES = (TRUNCATE, MALFORMED)  # spoil the tracker's answer; the others but latency and lag replace it
WHEN = ("p", "every", "times")
PARAMS = {LATENCY: ("ms", "jitter"), "429": ("retry_after",), "403": ("retry_after",), "503": ("retry_after",),
          LAG: ("seconds",)}
NUMBERS = (*WHEN, "ms", "jitter", "retry_after", "seconds")
REQUIRED = {LATENCY: "ms", LAG: "seconds"}
DEFAULT_RETRY_AFTER = 1

# Jira search reads this from the WSGI environ (see hide_unindexed); the hook writes back whether
# it hid anything, so that the lag is counted only where it showed.
SEARCH_LAG_ENV = "sandbox.search_lag_seconds"
SEARCH_LAG_HID_ENV = "sandbox.search_lag_hid"

GITHUB_DOCS = "https://docs.github.com/rest"
GITHUB_SECONDARY = "You have exceeded a secondary rate limit. Please wait a few minutes before you try again."
GITHUB_MESSAGES = {"500": "Server Error", "502": "Server Error", "503": "Service Unavailable"}
JIRA_MESSAGES = {"429": "Rate limit exceeded.", "500": "Internal server error", "502": "Bad Gateway",
                 "503": "Service Unavailable"}
JIRA_RATE_LIMIT = "100"  # X-RateLimit-Limit: illustrative; clients are meant to follow Retry-After


class FaultSpecError(ValueError):
    """A fault spec or rule that cannot be read; the message names the rule and what is wrong."""


@dataclass(frozen=True)
class FaultRule:
    """One kind of fault and the requests that get it: those of ``site`` (None: every site) whose
    endpoint pattern (as /_sandbox/stats names it, below the site prefix) matches the glob
    ``endpoint``; each with probability ``p``, or every ``every``-th one; at most ``times`` in all."""

    kind: str
    site: str | None = None
    endpoint: str | None = None
    p: float = 1.0
    every: int | None = None
    times: int | None = None
    ms: int = 0  # latency: added delay
    jitter: int = 0  # latency: ± this many ms, uniformly
    retry_after: int | None = None  # 429, 403 (default 1) and 503 (default none): Retry-After seconds
    seconds: int = 0  # lag: how far Jira Cloud's search index trails the scenario clock

    def __post_init__(self) -> None:
        _validate(self)

    @property
    def spec(self) -> str:
        """The rule in spec form; parse_spec(rule.spec) gives the rule back."""
        target = f"@{self.site or '*'}{self.endpoint or ''}" if self.site or self.endpoint else ""
        defaults = {f.name: f.default for f in fields(self)}
        params = [f"{name}={getattr(self, name)}" for name in (*WHEN, *PARAMS.get(self.kind, ()))
                  if getattr(self, name) != defaults[name]]
        return f"{self.kind}{target}" + (":" + ",".join(params) if params else "")

    def matches(self, site: str, endpoint: str) -> bool:
        return self.site in (None, site) and (self.endpoint is None or fnmatch.fnmatchcase(endpoint, self.endpoint))


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
    head, _, params = text.partition(":")
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
        if name not in NUMBERS:
            raise FaultSpecError(f"{where}: unknown parameter {name!r}")
        values[name] = _number(where, name, value)
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
    allowed = set(PARAMS.get(rule.kind, ())) | (set() if rule.kind == LAG else set(WHEN))
    for name in NUMBERS:
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
    for name in ("jitter", "retry_after"):
        if (getattr(rule, name) or 0) < 0:
            raise FaultSpecError(f"{name} must not be negative, found {getattr(rule, name)}")
    if rule.kind == "403" and rule.site != GITHUB:
        raise FaultSpecError("403 is GitHub's secondary rate limit: write 403@github")
    if rule.kind == LAG and (rule.site != JIRA_CLOUD or rule.endpoint is not None):
        raise FaultSpecError("lag models Jira Cloud's search index: write lag@jira-cloud:seconds=N")


class _Armed:
    """A rule in force: its random stream and how many requests it has seen and hit."""

    def __init__(self, rule: FaultRule, seed: int, index: int) -> None:
        self.rule = rule
        self.random = random.Random(f"{seed}:{index}")
        self.seen = 0
        self.hits = 0

    def fires(self) -> bool:
        rule = self.rule
        if rule.times is not None and self.hits >= rule.times:
            return False
        self.seen += 1
        hit = self.seen % rule.every == 0 if rule.every else rule.p >= 1 or self.random.random() < rule.p
        self.hits += hit
        return hit

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

    def reset_counts(self) -> None:
        with self._lock:
            self._injected.clear()

    def apply(self, request: Request, site: str, endpoint: str, answer: Callable[[], Response]) -> Response:
        """Serve one tracker request through the rules: ``answer`` computes the tracker's own."""
        plan = self._plan(site, endpoint)
        if plan.delay:
            time.sleep(plan.delay)
        if plan.answer is not None:
            self._count(plan.answer.kind)
            return _DroppedResponse() if plan.answer.kind == DROP else _error(site, plan.answer)
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

    def _plan(self, site: str, endpoint: str) -> _Plan:
        delay, replaced, spoiled, lag, update = 0.0, None, None, 0, False
        with self._lock:
            for armed in self._armed:
                rule = armed.rule
                if not rule.matches(site, endpoint):
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
                elif replaced is None and armed.fires():
                    replaced = rule
        return _Plan(delay, replaced, spoiled, lag, update)

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


def _error(site: str, rule: FaultRule) -> Response:
    """The tracker's own error answer for a rate limit or a server error."""
    headers: dict[str, str] = {}
    retry_after = rule.retry_after if rule.retry_after is not None or rule.kind == "503" else DEFAULT_RETRY_AFTER
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
    return _json({"errorMessages": [JIRA_MESSAGES[rule.kind]], "errors": {}}, int(rule.kind), headers)


def _json(body: object, status: int = 200, headers: dict[str, str] | None = None,
          content_type: str = "application/json;charset=UTF-8") -> Response:
    return Response(json.dumps(body, ensure_ascii=False, separators=(",", ":")), status=status,
                    headers=headers, content_type=content_type)
