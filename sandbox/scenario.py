"""Seeded tracker portfolios: the data the sandbox serves, as plain frozen dataclasses.

A scenario is a pure function of ``(name, seed, as_of)``: the same three always give the same
people, projects, items, histories and links, so a demo can be re-fetched and checked by anyone.
Nothing here knows about HTTP or JSON; ``sandbox.jira_api`` and ``sandbox.github_api`` render
these objects the way Jira and GitHub do.

Times are UTC. ``Scenario.now`` (the tracker's clock) is midnight UTC at the start of ``as_of``.
"""

from __future__ import annotations

import math
import random
from collections import defaultdict
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta, timezone
from functools import cached_property

# Workflow states every item moves through; each tracker renders them its own way.
TODO, IN_PROGRESS, REVIEW, DONE = "todo", "in_progress", "review", "done"
WORKFLOW = (TODO, IN_PROGRESS, REVIEW, DONE)

JIRA_CLOUD, JIRA_DC, GITHUB = "jira-cloud", "jira-dc", "github"
SITES = (JIRA_CLOUD, JIRA_DC, GITHUB)

# The one option of Jira Software's Flagged field: a "flagged" change sets it (new) or clears it (old).
IMPEDIMENT = "Impediment"


@dataclass(frozen=True)
class Person:
    """One human, known to Jira by account id (Cloud) or user name (Server) and to GitHub by login."""

    key: str
    name: str
    email: str
    account_id: str
    login: str
    time_zone: str
    uid: int
    # Jira Cloud shows a user's emailAddress only where their profile allows it (Data Center always
    # does; GitHub issues never carry one): False hides it on Cloud.
    cloud_email_visible: bool = True


@dataclass(frozen=True)
class Change:
    """One field change in an item's history (Jira changelog item, GitHub issue event)."""

    id: int
    at: datetime
    author: str  # Person.key
    field: str  # "status" | "assignee" | "release" | "points" | "key" (a move: old and new issue keys)
    # ... | "sprint" (comma-separated sprint ids) | "rank" (no values) | "labels" (space-separated)
    # ... | "flagged" (Jira only: None -> IMPEDIMENT sets the flag, IMPEDIMENT -> None clears it)
    old: str | None
    new: str | None


@dataclass(frozen=True)
class Release:
    """A Jira version or a GitHub milestone."""

    id: int  # Jira version id; GitHub milestone number within its repo
    uid: int  # globally unique numeric id (GitHub milestone id)
    project: str
    name: str
    description: str
    created_at: datetime
    start: date | None
    due: date | None
    released_at: datetime | None  # set when released (Jira) or closed (GitHub)
    # The due date first planned: earlier than `due` when the release slipped. Trackers keep no
    # history of due dates, so only the scenario knows it.
    planned_due: date | None = None
    due_moved_at: datetime | None = None  # when `due` last moved (time travel slips releases)


@dataclass(frozen=True)
class Item:
    """A Jira issue or a GitHub issue, with its whole history."""

    project: str  # Jira project key, or GitHub "owner/repo"
    number: int
    uid: int  # Jira issue id / GitHub issue id, unique within the site
    kind: str  # "epic" | "story" | "task" | "bug"
    title: str
    body: str
    created_at: datetime
    updated_at: datetime
    reporter: str
    assignee: str | None
    state: str  # one of WORKFLOW, at Scenario.now
    resolution: str | None  # "Done", "Won't Do" for done items
    resolved_at: datetime | None
    points: float | None
    parent: int | None  # number of the parent item (epic) in the same project
    release: int | None  # Release.id in the same project
    labels: tuple[str, ...]
    priority: str
    due: date | None
    changes: tuple[Change, ...]  # oldest first
    sprints: tuple[int, ...] = ()  # Sprint.id of every sprint the item has been in, oldest first
    # Where the item lived before it was moved to another project (oldest first): its old keys
    # still resolve, and their numbers are never given to another item.
    moved_from: tuple[tuple[str, int], ...] = ()

    @property
    def ref(self) -> tuple[str, int]:
        return (self.project, self.number)

    @property
    def flagged(self) -> bool:
        """Flagged (an impediment) now: the history is the only record, so a past day's world,
        which holds only the changes made by then, answers for that day."""
        return next((c.new is not None for c in reversed(self.changes) if c.field == "flagged"), False)


@dataclass(frozen=True)
class Link:
    """``blocker`` blocks ``blocked`` (Jira "Blocks" link, GitHub "blocked by" dependency)."""

    id: int
    blocker: tuple[str, int]
    blocked: tuple[str, int]
    created_at: datetime
    author: str


@dataclass(frozen=True)
class RemoteLink:
    """A Jira remote issue link to a GitHub issue: a snapshot Jira stores, not a Jira issue link."""

    id: int
    item: tuple[str, int]  # the Jira issue that holds the link
    target: tuple[str, int]  # the GitHub issue it points at
    url: str
    title: str
    summary: str
    relationship: str  # e.g. "is blocked by"
    resolved: bool
    created_at: datetime


@dataclass(frozen=True)
class Sprint:
    """A sprint on a Jira project's scrum board; future sprints have no dates yet."""

    id: int  # unique within the scenario, as sprint ids are within a site
    project: str  # Jira project key: the sprint lives on that project's board
    name: str
    state: str  # "future" | "active" | "closed"
    start: datetime | None
    end: datetime | None
    completed_at: datetime | None
    goal: str = ""


@dataclass(frozen=True)
class Project:
    key: str  # "PAY" or "acme/web"
    name: str
    site: str  # one of SITES
    program: str
    uid: int
    lead: str  # Person.key
    story: str  # what the scenario means this project to show


@dataclass(frozen=True)
class Program:
    id: str
    name: str
    goal: str


@dataclass(frozen=True)
class Scenario:
    name: str
    seed: int
    as_of: date
    people: tuple[Person, ...]
    programs: tuple[Program, ...]
    projects: tuple[Project, ...]
    releases: tuple[Release, ...]
    items: tuple[Item, ...]
    links: tuple[Link, ...]
    # Items deleted since the scenario was built, as they were when deleted: their ids and numbers
    # are never reused, and GitHub answers 410 Gone for them.
    deleted: tuple[Item, ...] = ()
    sprints: tuple[Sprint, ...] = ()
    remote_links: tuple[RemoteLink, ...] = ()

    @property
    def now(self) -> datetime:
        return datetime.combine(self.as_of, time(0, 0), tzinfo=timezone.utc)

    @cached_property
    def person(self) -> dict[str, Person]:
        return {p.key: p for p in self.people}

    @cached_property
    def project(self) -> dict[str, Project]:
        return {p.key: p for p in self.projects}

    @cached_property
    def items_by_project(self) -> dict[str, tuple[Item, ...]]:
        grouped: dict[str, list[Item]] = defaultdict(list)
        for item in self.items:
            grouped[item.project].append(item)
        return {k: tuple(v) for k, v in grouped.items()}

    @cached_property
    def item(self) -> dict[tuple[str, int], Item]:
        return {i.ref: i for i in self.items}

    @cached_property
    def releases_by_project(self) -> dict[str, tuple[Release, ...]]:
        grouped: dict[str, list[Release]] = defaultdict(list)
        for r in self.releases:
            grouped[r.project].append(r)
        return {k: tuple(v) for k, v in grouped.items()}

    @cached_property
    def links_by_item(self) -> dict[tuple[str, int], tuple[Link, ...]]:
        grouped: dict[tuple[str, int], list[Link]] = defaultdict(list)
        for link in self.links:
            grouped[link.blocker].append(link)
            grouped[link.blocked].append(link)
        return {k: tuple(v) for k, v in grouped.items()}

    def projects_on(self, site: str) -> tuple[Project, ...]:
        return tuple(p for p in self.projects if p.site == site)


# --------------------------------------------------------------------------------------------
# The demo portfolio
# --------------------------------------------------------------------------------------------

_PEOPLE = [
    ("Ada Okafor", "ada"), ("Ben Carter", "ben"), ("Chloé Martin", "chloe"),
    ("Dmitri Volkov", "dmitri"), ("Emeka Obi", "emeka"), ("Fatima Zahra", "fatima"),
    ("Grace Lee", "grace"), ("Hiro Tanaka", "hiro"), ("Inès Duarte", "ines"),
    ("Jonas Berg", "jonas"), ("Kavya Rao", "kavya"), ("Liam O'Brien", "liam"),
    ("María José Núñez", "mariajose"), ("Noah Schwartz", "noah"), ("Olga Petrova", "olga"),
    ("Priya Nair", "priya"), ("Quentin Dubois", "quentin"), ("Rosa Lindqvist", "rosa"),
    ("Samir Haddad", "samir"), ("Tomás Ruiz", "tomas"), ("Uma Singh", "uma"),
    ("Viktor Horváth", "viktor"), ("Wei Zhang 张伟", "wei"), ("Zoë Ångström", "zoe"),
]
_ZONES = ["Europe/Berlin", "America/New_York", "Asia/Kolkata", "UTC", "America/Los_Angeles"]
# Whose Jira Cloud profile hides their e-mail address. Ada also works on GitHub: her Cloud account
# is joined to her only by an alias, and without one her matching name is merely a suggestion.
_CLOUD_EMAIL_HIDDEN = frozenset({"ada", "emeka"})

# Tracker text is hostile: these titles exercise escaping all the way to the report.
_HOSTILE_TITLES = [
    "<script>alert('pulse')</script> in the checkout banner",
    "Robert'); DROP TABLE core.work_items;-- breaks the import",
    'Quote "smart" and \'single\' quotes in coupon codes',
    "Ünïcödé everywhere: 支付 → 결제 → الدفع 🚀",
    "   ",
]

_VERBS = ["Add", "Fix", "Refactor", "Migrate", "Harden", "Document", "Instrument", "Remove",
          "Speed up", "Validate", "Cache", "Retry", "Localise", "Test"]
_NOUNS = {
    "PAY": ["card tokenisation", "3-D Secure flow", "refund API", "payout ledger", "fraud score",
            "currency rounding", "PSP webhook", "invoice PDF", "Apple Pay button", "SEPA mandate"],
    "CART": ["basket merge", "promo engine", "tax calculation", "shipping quote", "guest checkout",
             "saved carts", "price lock", "order summary", "stock reservation", "cart API"],
    "ID": ["SSO login", "OIDC discovery", "session store", "MFA enrolment", "password reset",
           "token refresh", "SCIM sync", "consent screen", "account linking", "audit trail"],
    "acme/web": ["checkout page", "design tokens", "product grid", "a11y audit", "cookie banner",
                 "web vitals", "search box", "order history", "dark mode", "error pages"],
    "acme/platform-api": ["rate limiter", "GraphQL gateway", "API keys", "pagination", "OpenAPI docs",
                          "request tracing", "idempotency keys", "webhook signing", "quota API",
                          "health checks"],
}

_SPRINT_GOALS = ("", "", "Ship the release candidate", "Burn down the bug backlog, then harden",
                 "Close every P1 [for real]", "Zero P1s 🔥")
# Sprint names are tracker text too. Jira Server writes a sprint into the Sprint field as
# GreenHopper's toString(), which does not escape commas or brackets in names.
_SPRINT_NAMES = {("CART", 4): "CART Sprint 4 [hardening], part 2"}


@dataclass(frozen=True)
class _ReleasePlan:
    name: str
    start_days: int  # relative to now (negative = past)
    due_days: int
    released: bool


@dataclass(frozen=True)
class _ProjectPlan:
    key: str
    name: str
    site: str
    program: str
    story: str
    size: int
    team: tuple[str, ...]
    releases: tuple[_ReleasePlan, ...]
    pace: float  # >1: work takes longer than planned (late); 1.0: on plan
    recent_growth: float = 0.0  # share of the current release's items created in the last 30 days
    # Share of the finishes due in the last DROP_WEEKS full weeks that slip past now: the team's
    # throughput drops by that share, and its work piles up in review.
    throughput_drop: float = 0.0
    scope_creep: str | None = None  # a release whose scope keeps growing in its last CREEP_WEEKS


_PROGRAMS = (
    Program("checkout", "Checkout 2.0", "Ship the new checkout across web and payments by Q1."),
    Program("identity", "Identity Platform", "One login and one account for every Acme product."),
)

_PLANS = (
    _ProjectPlan(
        "PAY", "Payments", JIRA_CLOUD, "checkout", "on track", 260,
        ("ada", "ben", "chloe", "dmitri", "emeka", "wei"),
        (_ReleasePlan("PAY 1.0", -180, -120, True), _ReleasePlan("PAY 1.1", -120, -50, True),
         _ReleasePlan("PAY 2.0", -50, 40, False)),
        pace=0.95,
    ),
    _ProjectPlan(
        "CART", "Cart", JIRA_DC, "checkout",
        "late: its release waits for Identity work that is itself late", 220,
        ("fatima", "grace", "hiro", "ines", "wei", "zoe"),
        (_ReleasePlan("CART 2.0", -180, -90, True), _ReleasePlan("CART 3.0", -90, 12, False)),
        pace=1.15, throughput_drop=0.55,
    ),
    _ProjectPlan(
        "ID", "Identity", JIRA_DC, "identity", "late: its release is past due with work open", 200,
        ("jonas", "kavya", "liam", "mariajose", "noah", "zoe"),
        (_ReleasePlan("ID 1.0", -180, -100, True), _ReleasePlan("ID 2.0", -100, -21, False),
         _ReleasePlan("ID 2.1", -21, 60, False)),
        pace=1.6, scope_creep="ID 2.0",
    ),
    _ProjectPlan(
        "acme/web", "Web storefront", GITHUB, "checkout", "at risk: scope keeps growing", 190,
        ("olga", "priya", "quentin", "rosa", "wei", "ada"),
        (_ReleasePlan("Web beta", -180, -70, True), _ReleasePlan("Web launch", -70, 35, False)),
        pace=1.0, recent_growth=0.45,
    ),
    _ProjectPlan(
        "acme/platform-api", "Platform API", GITHUB, "identity", "on track", 130,
        ("samir", "tomas", "uma", "viktor", "zoe"),
        (_ReleasePlan("API v1", -180, -80, True), _ReleasePlan("API v2", -80, 45, False)),
        pace=0.9,
    ),
)


# Texture: what flow metrics exist to find. Drawn from a random stream of its own, apart from the
# story's, and never past the clock.
TAIL_SHARE, TAIL_ALPHA, TAIL_CAP = 0.3, 1.2, 10.0  # work that takes a multiple of its plan: a long tail
FLAG_SHARE = 0.12  # of Jira work: flagged as an impediment for a spell, which adds to its cycle time
FLAG_DAYS = (3.0, 0.8)  # a spell's length: median days, spread (lognormal)
STUCK_SHARE = 0.15  # of Jira work started and not done by now: flagged, and not cleared yet
ABANDON_SHARE = 0.03  # of planned work: closed as Won't Do, half before it starts, half after
DROP_WEEKS = 6  # a throughput drop covers the last this many full ISO weeks
CREEP_SHARE, CREEP_WEEKS = 0.3, 5  # of a scope-creep release's items: added in its last weeks
CREEP_PULLED = 0.4  # of those, backlog items pulled into the release (a Fix Version change) rather than new


def tail_factor(texture: random.Random) -> float:
    """How many times its plan a piece of work takes: mostly once, now and then far more."""
    return min(TAIL_CAP, texture.paretovariate(TAIL_ALPHA)) if texture.random() < TAIL_SHARE else 1.0


def drop_start(now: datetime) -> datetime:
    """The Monday that opens the last DROP_WEEKS full ISO weeks before ``now``."""
    return now - timedelta(days=now.weekday(), weeks=DROP_WEEKS)


class _Ids:
    """Monotonic id sources, so ids look like a tracker's and never collide within a site."""

    def __init__(self) -> None:
        self._next: dict[str, int] = defaultdict(int)

    def __call__(self, space: str, start: int) -> int:
        value = self._next[space] or start
        self._next[space] = value + 1
        return value


def _at(now: datetime, days: float, rng: random.Random) -> datetime:
    """An instant ``days`` from now, nudged into working hours so histories look human."""
    base = now + timedelta(days=days)
    hour = rng.randint(7, 18)
    return base.replace(hour=hour, minute=rng.randint(0, 59), second=rng.randint(0, 59),
                        microsecond=rng.randint(0, 999) * 1000)


def demo(seed: int = 7, as_of: date | None = None) -> Scenario:
    """The demo portfolio: 2 programs, 3 Jira projects on 2 sites, 2 GitHub repos, ~1,000 items.

    The story: Payments (PAY) is on track; the web storefront is at risk because its scope keeps
    growing; Cart (CART) is late because the Identity work (ID) that blocks its release is late.
    ID 2.0 is late after scope crept into its last five weeks, and Cart's throughput halved over the
    last six weeks. Throughout, the texture flow tools look for: cycle times with a long tail, work
    reopened and work abandoned (Won't Do), impediments flagged and cleared on Jira.
    """
    as_of = as_of or datetime.now(timezone.utc).date()
    rng = random.Random(seed)
    texture = random.Random(f"demo-texture:{seed}")
    now = datetime.combine(as_of, time(0, 0), tzinfo=timezone.utc)
    ids = _Ids()

    people = tuple(
        Person(
            key=handle,
            name=name,
            email=f"{handle}@acme.example",
            account_id=f"{rng.getrandbits(96):024x}",
            login=f"{handle}-acme",
            time_zone=_ZONES[i % len(_ZONES)],
            uid=1000 + i,
            cloud_email_visible=handle not in _CLOUD_EMAIL_HIDDEN,
        )
        for i, (name, handle) in enumerate(_PEOPLE)
    )

    projects: list[Project] = []
    releases: list[Release] = []
    items: list[Item] = []
    for plan in _PLANS:
        project = Project(plan.key, plan.name, plan.site, plan.program,
                          ids(f"project:{plan.site}", 10000), plan.team[0], plan.story)
        projects.append(project)
        project_releases = []
        for rplan in plan.releases:
            rid = ids(f"release:{plan.site}", 10100) if plan.site != GITHUB else ids(
                f"milestone:{plan.key}", 1)
            start = (now + timedelta(days=rplan.start_days)).date()
            due = (now + timedelta(days=rplan.due_days)).date()
            released_at = _at(now, rplan.due_days - rng.randint(0, 3), rng) if rplan.released else None
            project_releases.append(Release(
                id=rid, uid=ids("milestone-uid", 5_000_001), project=plan.key, name=rplan.name,
                description=f"{rplan.name}: {plan.name} deliverables",
                created_at=_at(now, rplan.start_days - 7, rng), start=start, due=due,
                released_at=released_at,
            ))
        releases.extend(project_releases)
        items.extend(_project_items(plan, project_releases, now, rng, ids, texture))

    items, links = _link(items, releases, now, rng, ids)
    sprints, items = _sprint(items, now, seed, ids)
    return Scenario("demo", seed, as_of, people, _PROGRAMS, tuple(projects), tuple(releases),
                    tuple(items), tuple(links), sprints=sprints)


def _project_items(plan: _ProjectPlan, releases: list[Release], now: datetime,
                   rng: random.Random, ids: _Ids, texture: random.Random) -> list[Item]:
    site_space = f"issue:{plan.site}"
    start_uid = 20000 if plan.site != GITHUB else 3_000_000_000
    nouns = _NOUNS[plan.key]
    items: list[Item] = []
    number = 0
    n_epics = 5 if plan.site != GITHUB else 4
    epics: list[int] = []

    def next_number() -> int:
        nonlocal number
        number += 1
        return number

    # Epics first, as teams create them at the start of the work they group.
    for e in range(n_epics):
        rel = releases[min(e * len(releases) // n_epics, len(releases) - 1)]
        n = next_number()
        epics.append(n)
        created = _at(now, (rel.created_at - now).days, rng)
        items.append(_lifecycle(
            plan, n, ids(site_space, start_uid), "epic",
            f"Epic: {rng.choice(_VERBS)} {nouns[e % len(nouns)]}", created, rel, None,
            start_after=5.0, work_days=None, now=now, rng=rng, ids=ids, texture=texture))

    for k in range(plan.size - n_epics):
        roll = rng.random()
        rel = None if roll < 0.12 else releases[min(int(rng.random() ** 0.8 * len(releases)), len(releases) - 1)]
        current = rel is not None and rel.released_at is None
        kind = rng.choices(["story", "task", "bug"], weights=[6, 3, 2])[0]
        if k < len(_HOSTILE_TITLES) and plan.key in ("PAY", "acme/web"):
            title = _HOSTILE_TITLES[k]
        else:
            title = f"{rng.choice(_VERBS)} {rng.choice(nouns)}" + (
                f" ({rng.choice(['edge case', 'follow-up', 'v2', 'mobile', 'EU'])})" if rng.random() < 0.3 else "")
        if rel is None:
            created_days = -rng.uniform(1, 180)
        else:
            lo = (datetime.combine(rel.start, time(0), tzinfo=timezone.utc) - now).days - 10
            hi = min(-1, (datetime.combine(rel.due, time(0), tzinfo=timezone.utc) - now).days - 5)
            if current and plan.recent_growth and rng.random() < plan.recent_growth:
                lo = -30  # scope creep: work keeps arriving late in the release
            elif current:
                hi = lo + 0.55 * (hi - lo)  # a planned release: its scope is known early on
            created_days = rng.uniform(max(lo, -182), max(hi, lo + 1))
        created = _at(now, created_days, rng)
        crept, added = _crept_in(plan, rel, now, texture), None
        if crept is not None and texture.random() < CREEP_PULLED:  # from the backlog into the release
            created, added = _at(now, texture.uniform(-175, (crept - now).days - 5), texture), crept
        elif crept is not None:  # created in the release
            created = crept
        if rel is None:
            work_days, start_after = (rng.uniform(2, 12) if rng.random() < 0.5 else None), rng.uniform(3, 40)
            if work_days is not None:
                work_days *= tail_factor(texture)
        else:
            # Plan: each item of the release is done at its share of the release window, slowed by pace.
            window = max((rel.due - rel.start).days, 7)
            target = datetime.combine(rel.start, time(0), tzinfo=timezone.utc) + timedelta(
                days=rng.random() * window * plan.pace)
            work_days = rng.uniform(2, 9) * plan.pace * tail_factor(texture)
            if crept is not None:  # late scope is planned from the day it came in
                target = crept + timedelta(days=texture.uniform(4, 40) * plan.pace)
            start_after = max(0.5, (target - created).total_seconds() / 86400 - work_days)
            if added is not None:  # pulled in: the work starts once it is in the release
                start_after = max(start_after, (added - created).total_seconds() / 86400 + 0.5)
        parent = rng.choice(epics) if rng.random() < 0.8 else None
        items.append(_lifecycle(plan, next_number(), ids(site_space, start_uid), kind, title,
                                created, rel, parent, start_after=start_after, work_days=work_days,
                                now=now, rng=rng, ids=ids, texture=texture, added=added))
    return _roll_up_epics(items, now)


def _crept_in(plan: _ProjectPlan, rel: Release | None, now: datetime, texture: random.Random) -> datetime | None:
    """When an item of the plan's scope-creep release joined it: in that release's last
    CREEP_WEEKS before its due date (and before now); None for the planned scope."""
    if rel is None or rel.due is None or rel.name != plan.scope_creep or texture.random() >= CREEP_SHARE:
        return None
    due = (datetime.combine(rel.due, time(0), tzinfo=timezone.utc) - now).days
    first, last = due - 7 * CREEP_WEEKS, min(due, 0) - 2
    return _at(now, texture.uniform(first, last), texture) if first < last else None


def _lifecycle(plan: _ProjectPlan, number: int, uid: int, kind: str, title: str,
               created: datetime, rel: Release | None, parent: int | None, *, start_after: float,
               work_days: float | None, now: datetime, rng: random.Random, ids: _Ids,
               texture: random.Random, added: datetime | None = None) -> Item:
    """Play one item's history forward from creation to ``now``. ``added``: when the item joined
    ``rel``, if later than its creation (pulled in from the backlog)."""
    reporter = rng.choice(plan.team)
    assignee = rng.choice(plan.team) if rng.random() < 0.92 else None
    changes: list[Change] = []
    state = TODO

    def change(at: datetime, fld: str, old: str | None, new: str | None) -> None:
        changes.append(Change(ids("change", 40000), at, assignee or reporter, fld, old, new))

    if rel is not None:
        change(added or created + timedelta(minutes=3), "release", None, str(rel.id))
    points = rng.choice([1, 2, 3, 5, 8, 13]) if kind != "epic" and rng.random() < 0.7 else None
    if points is not None and rng.random() < 0.15:
        t_estimate, t_reestimate = (created + timedelta(hours=rng.uniform(1, 48)),
                                    created + timedelta(days=rng.uniform(2, 10)))
        if t_estimate < now:  # nothing in a scenario happens after its clock
            change(t_estimate, "points", None, str(points))
        if rng.random() < 0.5 and t_reestimate < now:  # re-estimated later
            old = points
            points = rng.choice([p for p in (2, 3, 5, 8, 13) if p != old])
            change(t_reestimate, "points", str(old), str(points))
    resolution = resolved_at = None
    if work_days is not None:
        t_start = created + timedelta(days=start_after)
        t_review = t_start + timedelta(days=work_days * rng.uniform(0.5, 0.8))
        t_done = t_start + timedelta(days=work_days)
        t_drop, spell = None, None
        roll = texture.random()
        if roll < ABANDON_SHARE:  # abandoned (Won't Do): before it starts, or part-way through
            t_drop = (created + (t_start - created) * texture.uniform(0.2, 0.9) if texture.random() < 0.5
                      else t_start + (t_review - t_start) * texture.uniform(0.2, 0.9))
        elif plan.site != GITHUB and roll < ABANDON_SHARE + FLAG_SHARE:  # an impediment delays the rest
            flagged = t_start + (t_review - t_start) * texture.uniform(0.1, 0.8)
            length = timedelta(days=texture.lognormvariate(math.log(FLAG_DAYS[0]), FLAG_DAYS[1]))
            spell, t_review, t_done = (flagged, flagged + length), t_review + length, t_done + length
        elif plan.site != GITHUB and roll < ABANDON_SHARE + FLAG_SHARE + STUCK_SHARE and t_start < now <= t_done:
            spell = (t_start + (now - t_start) * texture.uniform(0.2, 0.95), now + timedelta(days=1))  # not cleared
        if (plan.throughput_drop and drop_start(now) <= t_done < now
                and texture.random() < plan.throughput_drop):  # the finish slips: work piles up in review
            t_done = now + timedelta(days=texture.uniform(1, 21))
        if t_drop is not None and t_drop < min(t_start, now):  # dropped from the backlog
            change(t_drop, "status", TODO, DONE)
            state, resolution, resolved_at = DONE, "Won't Do", t_drop
        elif t_start < now:
            if assignee is None:
                assignee = rng.choice(plan.team)
            change(t_start - timedelta(minutes=5), "assignee", None, assignee)
            change(t_start, "status", TODO, IN_PROGRESS)
            state = IN_PROGRESS
            if t_drop is not None and t_drop < now:  # dropped part-way through
                change(t_drop, "status", IN_PROGRESS, DONE)
                state, resolution, resolved_at = DONE, "Won't Do", t_drop
            for at, old, new in ((spell[0], None, IMPEDIMENT), (spell[1], IMPEDIMENT, None)) if spell else ():
                if at < now:
                    change(at, "flagged", old, new)
        if t_review < now and state == IN_PROGRESS:
            change(t_review, "status", IN_PROGRESS, REVIEW)
            state = REVIEW
        if t_done < now and state == REVIEW:
            change(t_done, "status", REVIEW, DONE)
            state, resolution, resolved_at = DONE, "Done", t_done
            if rng.random() < 0.04 and t_done + timedelta(days=3) < now:  # reopened, then closed again
                t_reopen = t_done + timedelta(days=rng.uniform(0.5, 2))
                change(t_reopen, "status", DONE, IN_PROGRESS)
                t_redone = t_reopen + timedelta(days=rng.uniform(0.5, 3))
                if t_redone < now:
                    change(t_redone, "status", IN_PROGRESS, DONE)
                    resolved_at = t_redone
                else:
                    state, resolution, resolved_at = IN_PROGRESS, None, None
    elif rng.random() < 0.05 and kind != "epic":
        t = created + timedelta(days=rng.uniform(1, 20))
        if t < now:
            change(t, "status", TODO, DONE)
            state, resolution, resolved_at = DONE, "Won't Do", t
    changes.sort(key=lambda c: (c.at, c.id))
    updated = max([created] + [c.at for c in changes])
    labels = tuple(sorted({kind} | ({"customer"} if rng.random() < 0.1 else set())))
    return Item(
        project=plan.key, number=number, uid=uid, kind=kind, title=title,
        body="" if rng.random() < 0.1 else f"As a customer I want {title.lower()} so that checkout is faster.",
        created_at=created, updated_at=updated, reporter=reporter, assignee=assignee, state=state,
        resolution=resolution, resolved_at=resolved_at, points=points, parent=parent,
        release=rel.id if rel else None, labels=labels,
        priority=rng.choices(["Highest", "High", "Medium", "Low"], weights=[1, 3, 6, 2])[0],
        due=None, changes=tuple(changes),
    )


def _roll_up_epics(items: list[Item], now: datetime) -> list[Item]:
    """An epic is in progress once a child starts and done once every child is done."""
    children: dict[int, list[Item]] = defaultdict(list)
    for item in items:
        if item.parent is not None:
            children[item.parent].append(item)
    out = []
    for item in items:
        kids = children.get(item.number)
        if item.kind != "epic" or not kids:
            out.append(item)
            continue
        starts = [c.at for k in kids for c in k.changes if c.field == "status" and c.new == IN_PROGRESS]
        all_done = all(k.state == DONE for k in kids)
        # An epic exists before the work it groups.
        created = min(item.created_at, min(k.created_at for k in kids) - timedelta(days=1))
        changes = [Change(c.id, created + (c.at - item.created_at), c.author, c.field, c.old, c.new)
                   for c in item.changes]
        state, resolved_at, resolution = TODO, None, None
        if starts:
            t0 = min(starts)
            changes.append(Change(item.changes[0].id + 10_000_000 if item.changes else item.uid,
                                  t0, item.reporter, "status", TODO, IN_PROGRESS))
            state = IN_PROGRESS
            if all_done:
                t1 = max(k.resolved_at for k in kids if k.resolved_at) + timedelta(hours=2)
                if t1 < now:
                    changes.append(Change(item.uid + 20_000_000, t1, item.reporter, "status",
                                          IN_PROGRESS, DONE))
                    state, resolved_at, resolution = DONE, t1, "Done"
        changes.sort(key=lambda c: (c.at, c.id))
        updated = max([created] + [c.at for c in changes])
        out.append(Item(**{**item.__dict__, "created_at": created, "state": state, "resolved_at": resolved_at,
                           "resolution": resolution, "changes": tuple(changes), "updated_at": updated}))
    return out


def _link(items: list[Item], releases: list[Release], now: datetime,
          rng: random.Random, ids: _Ids) -> tuple[tuple[Item, ...], list[Link]]:
    """Blocks links: the cross-project ones carry the scenario's story."""
    links: list[Link] = []
    release_ids = {(r.project, r.name): r.id for r in releases}

    def pick(project: str, *, states: tuple[str, ...], count: int, release: str | None = None,
             exclude: set | None = None) -> list[Item]:
        pool = [i for i in items if i.project == project and i.kind != "epic" and i.state in states
                and i.resolution != "Won't Do" and (exclude is None or i.ref not in exclude)
                and (release is None or i.release == release_ids.get((project, release)))]
        rng.shuffle(pool)
        return sorted(pool[:count], key=lambda i: i.number)

    def add(blocker: Item, blocked: Item, days_ago: float) -> bool:
        """Link them about ``days_ago``, moved into the time both existed and the blocker was open:
        a blocked spell starts with its link. False when there was no such time."""
        at = _at(now, -days_ago, rng)
        earliest = max(blocker.created_at, blocked.created_at) + timedelta(hours=1)
        latest = min(now, blocker.resolved_at or now) - timedelta(hours=1)
        if latest <= earliest:
            return False
        links.append(Link(ids("link", 30000), blocker.ref, blocked.ref, min(max(at, earliest), latest),
                          blocked.reporter))
        return True

    def link_up(blockers: list[Item], waiting: list[Item], count: int, days: tuple[float, float]) -> None:
        """Up to ``count`` links, each blocker to the first waiting item it can have blocked."""
        free = list(waiting)
        for blocker in blockers:
            if len(waiting) - len(free) == count:
                return
            for k, blocked in enumerate(free):
                if blocked.ref != blocker.ref and add(blocker, blocked, rng.uniform(*days)):
                    del free[k]
                    break

    # The story: open Identity work in the late release blocks Cart's release.
    id_open = pick("ID", states=(TODO, IN_PROGRESS, REVIEW), count=6, release="ID 2.0")
    cart_waiting = pick("CART", states=(TODO,), count=6, release="CART 3.0")
    for blocker, blocked in zip(id_open, cart_waiting):
        add(blocker, blocked, rng.uniform(25, 60))
    # A chain inside Identity that ends in Cart: ID-a blocks ID-b, which blocks CART-c.
    chain_head = pick("ID", states=(TODO, IN_PROGRESS), count=1, exclude={i.ref for i in id_open})
    if chain_head and id_open:
        add(chain_head[0], id_open[0], 40)
    # Payments work that once blocked Cart and is done: a closed blocker, linked while it was open.
    link_up(pick("PAY", states=(DONE,), count=8), pick("CART", states=(DONE,), count=8), 2, (60, 120))
    # A cycle inside Cart: two items waiting on each other.
    pair = pick("CART", states=(TODO,), count=2, exclude={i.ref for i in cart_waiting})
    if len(pair) == 2:
        add(pair[0], pair[1], 20)
        add(pair[1], pair[0], 19)
    # Platform API work blocks the web storefront (GitHub "blocked by"), on schedule.
    link_up(pick("acme/platform-api", states=(IN_PROGRESS, REVIEW, DONE), count=12),
            pick("acme/web", states=(TODO, IN_PROGRESS), count=12), 4, (10, 40))
    # Ordinary same-project links.
    for project in ("PAY", "ID", "acme/web"):
        a = pick(project, states=WORKFLOW, count=12)
        link_up(a[::2], a[1::2], 3, (5, 90))

    # A link is a change to both items: it moves their `updated` forward.
    touched: dict[tuple[str, int], datetime] = {}
    for link in links:
        for ref in (link.blocker, link.blocked):
            touched[ref] = max(touched.get(ref, link.created_at), link.created_at)
    out = []
    for item in items:
        t = touched.get(item.ref)
        if t is not None and t > item.updated_at:
            item = Item(**{**item.__dict__, "updated_at": t})
        out.append(item)
    return tuple(out), links


def _sprint(items: tuple[Item, ...], now: datetime, seed: int,
            ids: _Ids) -> tuple[tuple[Sprint, ...], tuple[Item, ...]]:
    """Two-week sprints on each Jira project's board: closed ones since about 180 days ago, the
    active one and two undated future ones. Work joins the sprint in which it started and is carried
    over at each close until done; some backlog is planned into the active or the next sprint. Jira
    keeps closed sprints on the item, and every addition is a "Sprint" change by the project lead.

    Drawn from a random stream of its own, so the rest of the demo is what it was without sprints."""
    rng = random.Random(f"demo-sprints:{seed}")
    by_ref = {i.ref: i for i in items}
    sprints: list[Sprint] = []
    for plan in _PLANS:
        if plan.site == GITHUB:
            continue
        anchor = datetime.combine(now.date() - timedelta(days=182 - rng.randint(0, 13)), time(9),
                                  tzinfo=timezone.utc)
        board: list[Sprint] = []
        k = 0
        while len(board) < 2 or board[-2].state != "future":
            start, end = anchor + timedelta(days=14 * k), anchor + timedelta(days=14 * (k + 1))
            complete = end - timedelta(hours=rng.uniform(1, 8))
            name = _SPRINT_NAMES.get((plan.key, k + 1), f"{plan.key} Sprint {k + 1}")
            goal, sprint_id = rng.choice(_SPRINT_GOALS), ids("sprint", 1)
            if complete <= now:
                board.append(Sprint(sprint_id, plan.key, name, "closed", start, end, complete, goal))
            elif start <= now:
                board.append(Sprint(sprint_id, plan.key, name, "active", start, end, None, goal))
            else:
                board.append(Sprint(sprint_id, plan.key, name, "future", None, None, None, goal))
            k += 1
        sprints.extend(board)
        open_sprint = next(n for n, sp in enumerate(board) if sp.state != "closed")
        for item in [i for i in items if i.project == plan.key and i.kind != "epic"]:
            started = next((c.at for c in item.changes if c.field == "status" and c.new == IN_PROGRESS), None)
            if item.resolution == "Won't Do" and started is None:  # dropped from the backlog: never planned
                continue
            if started is not None:
                n = _running(board, anchor, started)
                if n is None:
                    continue
                added = max(item.created_at + timedelta(minutes=10),
                            (board[n].start or started) - timedelta(days=rng.uniform(0, 2)))
                added = min(added, started - timedelta(minutes=1))
            elif item.state == TODO and rng.random() < 0.35:  # planned: mostly now, some for the next sprint
                n = open_sprint + 1 if rng.random() < 0.25 and open_sprint + 1 < len(board) else open_sprint
                added = min(now - timedelta(minutes=1), max(item.created_at + timedelta(minutes=10),
                                                            (board[n].start or now) - timedelta(days=1)))
            else:
                continue
            if added <= item.created_at:
                continue
            member = [board[n].id]
            changes = [Change(ids("change", 40000), added, plan.team[0], "sprint", None, str(member[0]))]
            while (board[n].state == "closed" and n + 1 < len(board)
                   and (item.resolved_at is None or item.resolved_at > board[n].completed_at)):
                old = ", ".join(map(str, member))
                n += 1
                member.append(board[n].id)
                changes.append(Change(ids("change", 40000), board[n - 1].completed_at, plan.team[0], "sprint",
                                      old, ", ".join(map(str, member))))
            history = tuple(sorted(item.changes + tuple(changes), key=lambda c: (c.at, c.id)))
            by_ref[item.ref] = replace(item, changes=history, sprints=tuple(member),
                                       updated_at=max(item.updated_at, history[-1].at))
    return tuple(sprints), tuple(by_ref[i.ref] for i in items)


def _running(board: list[Sprint], anchor: datetime, moment: datetime) -> int | None:
    """The index of the sprint running at ``moment`` (the next one between a close and a start)."""
    n = int((moment - anchor) / timedelta(days=14))
    if moment < anchor or n >= len(board):
        return None
    done = board[n].completed_at
    return n + 1 if done is not None and moment >= done and n + 1 < len(board) else n


def _portfolio(seed: int = 7, as_of: date | None = None, items: int | None = None) -> Scenario:
    """The generated portfolio (``sandbox.portfolio``), imported on use: it builds on this module."""
    from sandbox.portfolio import DEFAULT_ITEMS, portfolio

    return portfolio(seed, as_of or datetime.now(timezone.utc).date(), DEFAULT_ITEMS if items is None else items)


SCENARIOS = {"demo": demo, "portfolio": _portfolio}


def build(name: str, seed: int, as_of: date | None, items: int | None = None) -> Scenario:
    """Build a named scenario; the CLI and tests come in here. Only the portfolio takes ``items``."""
    try:
        factory = SCENARIOS[name]
    except KeyError:
        raise ValueError(f"unknown scenario {name!r}; expected one of: {', '.join(sorted(SCENARIOS))}") from None
    if items is None:
        return factory(seed=seed, as_of=as_of)
    if name != "portfolio":
        raise ValueError(f"the {name!r} scenario has a fixed size; only 'portfolio' takes a number of items")
    return factory(seed=seed, as_of=as_of, items=items)


def declared_aliases(scenario: Scenario) -> tuple[tuple[Person, tuple[tuple[str, str], ...]], ...]:
    """The aliases a program manager would write in program.yaml for a scenario's people: everyone
    whose work spans sites, with the identities people know by heart, a Jira Data Center user name
    and a GitHub login (a Jira Cloud account id is an opaque number nobody types: Cloud accounts
    join by e-mail where the profile shows one, and are suggested by name where it does not).

    Each identity a site knows a person by differs: Cloud an account id, Data Center the user
    name (the person's key), GitHub a login of its own (``handle-acme``)."""
    site = {p.key: p.site for p in scenario.projects}
    sites: dict[str, set[str]] = defaultdict(set)
    for item in scenario.items:
        for who in (item.assignee, item.reporter):
            if who is not None:
                sites[who].add(site[item.project])
    out = []
    for person in scenario.people:
        on = sites.get(person.key, set())
        if len(on) < 2:
            continue
        ids = tuple((s, person.key if s == JIRA_DC else person.login) for s in (JIRA_DC, GITHUB) if s in on)
        out.append((person, ids))
    return tuple(out)
