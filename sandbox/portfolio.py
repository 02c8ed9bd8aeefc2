"""The generated portfolio: programs of Jira projects and GitHub repositories, 100 to 1,000,000 items.

The hand-tuned ``demo`` tells one story with 1,000 items; ``portfolio(seed, as_of, items)`` is for
load and fidelity tests. It holds what a connector and the health model meet in a large
organisation, scaled with ``items``: every program has Jira projects on Jira Cloud and Jira Data
Center and GitHub repositories; epics with children (sub-issues on GitHub); two-week sprints with
carried-over work; releases that slipped; story points on some items only; blocking links within
and across projects, with a chain, a cycle and closed blockers; cross-tracker references (GitHub
bodies naming Jira keys, other repositories' issues and Jira URLs, and Jira remote links to GitHub
issues); people shared across projects, some with work in progress in three or more; growing scope;
projects on track, at risk and late; changelogs longer than the 100 histories Jira Cloud embeds;
hostile text; and the texture flow metrics exist to find: cycle times with a long tail, work reopened
and work abandoned (Won't Do / not_planned), impediments flagged and cleared on Jira, a late project
whose throughput halved over the last six weeks and a slipped release that scope crept into.

Each project draws from its own ``random.Random``, seeded with an integer derived from the portfolio
seed, so one project's draws never shift another's. Sizes are exact: ``len(items) == items``.
"""

from __future__ import annotations

import bisect
import gc
import itertools
import math
import random
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta, timezone

from sandbox.scenario import (ABANDON_SHARE, CREEP_WEEKS, DONE, FLAG_DAYS, FLAG_SHARE, GITHUB, IMPEDIMENT,
                              IN_PROGRESS, JIRA_CLOUD, JIRA_DC, REVIEW, SITES, STUCK_SHARE, TODO, Change, Item, Link,
                              Person, Program, Project, Release, RemoteLink, Scenario, Sprint, drop_start,
                              tail_factor)
from sandbox.server import PUBLIC_ROOT, SITE_PREFIX

MIN_ITEMS = 100
DEFAULT_ITEMS = 10_000
MIN_PROJECT_ITEMS = 8
HISTORY_DAYS = 360  # how far back the oldest release starts
SPRINT = timedelta(days=14)
FUTURE_SPRINTS = 2
ITEMS_PER_EPIC = 25
LONG_CHANGELOG_SHARE = 0.01  # of Jira items; at least one per Jira project
LONG_CHANGELOG_EDITS = (101, 160)
LINK_SHARE = 0.015  # ordinary blocking links per item, on top of the chain, cycle and stories
CROSS_TRACKER_SHARE = 0.005  # of items, per side: GitHub bodies naming others, Jira remote links
GITHUB_HTML = "https://github.com"
DAY = 86_400.0

# Sites in the order a program's projects take them, so every program with three has all three.
_SITE_CYCLE = (JIRA_CLOUD, JIRA_DC, GITHUB)
_ORGS = ("acme", "acme-labs")


@dataclass(frozen=True)
class _Story:
    """What a project is meant to show, and the knobs that make its data show it."""

    text: str
    pace: float  # >1: work takes longer than the release window allows
    growth: float  # share of the current release's items created in the last 30 days
    due_days: tuple[int, int]  # the current release's due date, in days from now
    slip_days: tuple[int, int]  # how far that due date moved from the plan; (0, 0): never moved
    # share of the current release's items added in its last CREEP_WEEKS before its due date
    creep: float = 0.0
    # share of the finishes due in the last DROP_WEEKS full weeks that slip past now: throughput drops
    drop: float = 0.0


ON_TRACK = _Story("on track", 0.9, 0.0, (25, 60), (0, 0))
GROWING = _Story("at risk: scope keeps growing", 1.0, 0.45, (25, 50), (0, 0))
SLIPPED = _Story("at risk: its release slipped and is due soon", 1.15, 0.1, (5, 20), (14, 35), creep=0.3)
LATE = _Story("late: its release is past due with work open", 1.6, 0.0, (-30, -7), (10, 30), drop=0.5)
BLOCKED = _Story("late: its release waits for open work in other projects", 1.25, 0.0, (5, 25), (0, 0))
# The first six projects show every story; later ones are drawn by weight.
_FIRST_STORIES = (ON_TRACK, LATE, GROWING, BLOCKED, SLIPPED, ON_TRACK)
_STORIES, _STORY_WEIGHTS = (ON_TRACK, GROWING, SLIPPED, LATE, BLOCKED), (4, 2, 2, 1, 1)

_PROGRAMS = (
    ("checkout", "Checkout 2.0", "Ship the new checkout on web, mobile and payments."),
    ("identity", "Identity Platform", "One login and one account for every Acme product."),
    ("fulfilment", "Fulfilment", "Same-day delivery in every metro we sell in."),
    ("data", "Data Platform", "One governed warehouse instead of twelve."),
    ("mobile", "Mobile Relaunch", "Native apps at parity with the web."),
    ("eu", "EU Expansion", "Launch in five new EU markets."),
    ("growth", "Growth", "Double repeat purchases."),
    ("reliability", "Reliability", "99.95% availability for every customer-facing service."),
    ("assistant", "Assistants 🤖", "A shopping assistant in every channel."),
    ("compliance", "Compliance & Audit", "Pass the audit with no major findings."),
)
_JIRA_PROJECTS = (
    ("PAY", "Payments"), ("CART", "Cart"), ("ID", "Identity"), ("SHIP", "Shipping"), ("SRCH", "Search"),
    ("INV", "Inventory"), ("ORD", "Orders"), ("NOTIF", "Notifications"), ("BILL", "Billing"),
    ("LOY", "Loyalty"), ("PRICE", "Pricing"), ("TAX", "Tax"), ("FRAUD", "Fraud"), ("REC", "Recommendations"),
    ("DATA", "Data platform"), ("OPS", "Operations"), ("FX", "Währungen & Zahlungen"),
    ("I18N", "Localisation 🌍"), ("CRM", "Customer care"), ("SEC", "Security"), ("MOB", "Mobile backend"),
    ("WMS", "Warehouse systems"), ("RET", "Returns"), ("CAT", "Catalogue"), ("PROMO", "Promotions"),
)
_REPOS = ("web", "platform-api", "mobile-app", "design-system", "infra", "docs", "sdk-js", "search-ui",
          "checkout-web", "edge-proxy", "data-pipelines", "admin-console", "android", "ios", "terraform")
_NOUNS = (
    "card tokenisation", "3-D Secure flow", "refund API", "payout ledger", "fraud score", "currency rounding",
    "PSP webhook", "invoice PDF", "basket merge", "promo engine", "tax calculation", "shipping quote",
    "guest checkout", "saved carts", "price lock", "order summary", "stock reservation", "SSO login",
    "OIDC discovery", "session store", "MFA enrolment", "password reset", "token refresh", "SCIM sync",
    "consent screen", "audit trail", "design tokens", "product grid", "a11y audit", "cookie banner",
    "web vitals", "search box", "order history", "dark mode", "error pages", "rate limiter",
    "GraphQL gateway", "API keys", "pagination", "OpenAPI docs", "request tracing", "idempotency keys",
    "webhook signing", "quota API", "health checks", "CSV export", "push notifications", "deep links",
    "feature flags", "CDN config", "backfill job", "schema migration", "on-call runbook", "SLO alerts",
)
_VERBS = ("Add", "Fix", "Refactor", "Migrate", "Harden", "Document", "Instrument", "Remove", "Speed up",
          "Validate", "Cache", "Retry", "Localise", "Test")
_SUFFIXES = ("edge case", "follow-up", "v2", "mobile", "EU", "Ünïcode", "part 2")
_BENEFITS = ("checkout is faster", "support gets fewer tickets", "we pass the audit", "the on-call sleeps",
             "customers trust us")
# Tracker text is hostile: these titles exercise escaping all the way to the report.
_HOSTILE_TITLES = (
    "<script>alert('pulse')</script> in the checkout banner",
    "Robert'); DROP TABLE core.work_items;-- breaks the import",
    'Quote "smart" and \'single\' quotes in coupon codes',
    "Ünïcödé everywhere: 支付 → 결제 → الدفع 🚀",
    "   ",
    "Back\\slash C:\\temp\\%s {0} ${jndi:ldap://x} in log lines",
    ("Very long title " * 16)[:255],
)
_JIRA_LABELS = ("customer", "tech-debt", "security", "ux", "ünïcode")
_SPRINT_GOALS = ("", "", "Ship the release candidate", "Burn down the bug backlog", "Zero P1s 🔥",
                 "Härden the <API> & docs")
_FIRST_NAMES = (
    ("Ada", "ada"), ("Ben", "ben"), ("Chloé", "chloe"), ("Dmitri", "dmitri"), ("Emeka", "emeka"),
    ("Fatima", "fatima"), ("Grace", "grace"), ("Hiro", "hiro"), ("Inès", "ines"), ("Jonas", "jonas"),
    ("Kavya", "kavya"), ("Liam", "liam"), ("María José", "mariajose"), ("Noah", "noah"), ("Olga", "olga"),
    ("Priya", "priya"), ("Quentin", "quentin"), ("Rosa", "rosa"), ("Samir", "samir"), ("Tomás", "tomas"),
    ("Uma", "uma"), ("Viktor", "viktor"), ("Wei", "wei"), ("Zoë", "zoe"), ("Søren", "soren"), ("Aylin", "aylin"),
)
_LAST_NAMES = (
    ("Okafor", "okafor"), ("Carter", "carter"), ("Martin", "martin"), ("Volkov", "volkov"),
    ("O'Brien", "obrien"), ("Núñez", "nunez"), ("Tanaka", "tanaka"), ("Zhang 张", "zhang"),
    ("Ångström", "angstrom"), ("Haddad", "haddad"), ("Lindqvist", "lindqvist"), ("Horváth", "horvath"),
    ("Singh", "singh"), ("Petrova", "petrova"), ("Dubois", "dubois"), ("Nair", "nair"),
    ("Schwartz", "schwartz"), ("Obi", "obi"), ("Rao", "rao"), ("Kowalski", "kowalski"), ("Yılmaz", "yilmaz"),
    ("Nguyễn", "nguyen"),
)
_ZONES = ("Europe/Berlin", "America/New_York", "Asia/Kolkata", "UTC", "America/Los_Angeles", "Asia/Tokyo")


class _Ids:
    """The scenario's id sources: monotonic per space, so ids look like a tracker's and never collide."""

    def __init__(self) -> None:
        self.project = {site: itertools.count(10_000) for site in SITES}
        self.issue = {JIRA_CLOUD: itertools.count(20_000), JIRA_DC: itertools.count(20_000),
                      GITHUB: itertools.count(3_000_000_000)}
        self.version = {JIRA_CLOUD: itertools.count(10_100), JIRA_DC: itertools.count(10_100)}
        self.release_uid = itertools.count(5_000_001)
        self.change = itertools.count(40_000)
        self.sprint = itertools.count(1)
        self.link = itertools.count(30_000)
        self.remote_link = itertools.count(10_000)


@dataclass(frozen=True)
class _Plan:
    """One project before its items exist: who works on it, how big it is, what it should show."""

    project: Project
    story: _Story
    size: int
    team: tuple[str, ...]
    overloaded: tuple[str, ...]  # team members who must have work in progress here
    seed: int


@contextmanager
def _no_cyclic_gc() -> Iterator[None]:
    """Millions of new acyclic objects make the cyclic collector rescan the growing heap over and
    over (a third of the run time at 100,000 items); nothing built here forms a cycle."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def portfolio(seed: int, as_of: date, items: int) -> Scenario:
    """A portfolio of exactly ``items`` items, a pure function of its three arguments."""
    if items < MIN_ITEMS:
        raise ValueError(f"the portfolio needs at least {MIN_ITEMS} items, got {items}")
    with _no_cyclic_gc():
        return _portfolio(seed, as_of, items)


def _portfolio(seed: int, as_of: date, items: int) -> Scenario:
    rng = random.Random(seed)
    now = datetime.combine(as_of, time(0), tzinfo=timezone.utc)
    ids = _Ids()
    n_projects = max(6, round(math.sqrt(items) / 2), math.ceil(items / 2500))
    n_programs = max(2, n_projects // 8)
    programs = tuple(_program(g) for g in range(n_programs))
    people = _people(max(16, round(n_projects * 4.5)), rng)
    plans = _plans(programs, people, _sizes(items, n_projects, rng), rng, ids)

    texts: dict[str, str] = {}
    releases: list[Release] = []
    sprints: list[Sprint] = []
    by_project: dict[str, list[Item]] = {}
    for plan in plans:
        builder = _ProjectBuilder(plan, now, ids, texts, position=len(by_project))
        by_project[plan.project.key] = builder.build()
        releases.extend(builder.releases)
        sprints.extend(builder.sprints)

    links, remote_links = _Dependencies(plans, by_project, now, random.Random(rng.getrandbits(64)), ids).build()
    all_items = tuple(item for plan in plans for item in by_project[plan.project.key])
    return Scenario("portfolio", seed, as_of, people, programs, tuple(p.project for p in plans),
                    tuple(releases), all_items, tuple(links), sprints=tuple(sprints),
                    remote_links=tuple(remote_links))


# --------------------------------------------------------------------------------------------
# Shape: programs, people, projects, teams
# --------------------------------------------------------------------------------------------

def _program(g: int) -> Program:
    slug, name, goal = _PROGRAMS[g % len(_PROGRAMS)]
    again = g // len(_PROGRAMS)
    return Program(f"{slug}-{again + 1}" if again else slug, f"{name} ({again + 1})" if again else name, goal)


def _people(count: int, rng: random.Random) -> tuple[Person, ...]:
    """Unicode names; after every first/last pair is used, display names repeat as they do at scale."""
    people = []
    for i in range(count):
        first, first_handle = _FIRST_NAMES[i % len(_FIRST_NAMES)]
        # (i + i // F) mod L walks every (first, last) pair once, since F + 1 and L are coprime.
        last, last_handle = _LAST_NAMES[(i + i // len(_FIRST_NAMES)) % len(_LAST_NAMES)]
        again = i // (len(_FIRST_NAMES) * len(_LAST_NAMES))
        suffix = str(again + 1) if again else ""
        key = f"{first_handle}.{last_handle}{suffix}"
        people.append(Person(key=key, name=f"{first} {last}", email=f"{key}@acme.example",
                             account_id=f"{rng.getrandbits(96):024x}",
                             login=f"{first_handle}-{last_handle}{suffix}", time_zone=rng.choice(_ZONES),
                             uid=1000 + i))
    return tuple(people)


def _sizes(total: int, count: int, rng: random.Random) -> list[int]:
    """Project sizes summing to exactly ``total``: skewed as real projects are, none tiny."""
    floor = min(MIN_PROJECT_ITEMS, total // count)
    weights = [min(3.0, max(0.3, rng.lognormvariate(0, 0.6))) for _ in range(count)]
    shares = [w * (total - floor * count) / sum(weights) for w in weights]
    sizes = [floor + int(s) for s in shares]
    by_remainder = sorted(range(count), key=lambda k: shares[k] - int(shares[k]), reverse=True)
    for k in by_remainder[:total - sum(sizes)]:
        sizes[k] += 1
    return sizes


def _plans(programs: tuple[Program, ...], people: tuple[Person, ...], sizes: list[int],
           rng: random.Random, ids: _Ids) -> list[_Plan]:
    """Projects dealt round-robin to programs; teams drawn from the program's people, plus guests
    from other programs and a few overloaded people who work in three or four projects at once."""
    n_programs, n_projects = len(programs), len(sizes)
    home: dict[int, list[str]] = defaultdict(list)
    for i, person in enumerate(people):
        home[i % n_programs].append(person.key)
    used: dict[str, int] = defaultdict(int)
    projects, stories, teams = [], [], []
    for j, size in enumerate(sizes):
        g, m = j % n_programs, j // n_programs
        site = _SITE_CYCLE[m % 3]
        if site == GITHUB:
            base = _REPOS[used[GITHUB] % len(_REPOS)]
            again = used[GITHUB] // len(_REPOS)
            key = f"{_ORGS[g % 5 == 4]}/{base}" + (f"-{again + 1}" if again else "")
            name = base.replace("-", " ").capitalize() + (f" {again + 1}" if again else "")
        else:
            base, name = _JIRA_PROJECTS[used["jira"] % len(_JIRA_PROJECTS)]
            again = used["jira"] // len(_JIRA_PROJECTS)
            key, name = (f"{base}{again + 1}", f"{name} {again + 1}") if again else (base, name)
        used[GITHUB if site == GITHUB else "jira"] += 1
        story = _FIRST_STORIES[j] if j < len(_FIRST_STORIES) else rng.choices(_STORIES, _STORY_WEIGHTS)[0]
        pool = home[g]
        team = rng.sample(pool, min(len(pool), max(4, min(10, 3 + size // 80))))
        if rng.random() < 0.25:
            guest = rng.choice(home[(g + 1 + rng.randrange(n_programs - 1)) % n_programs])
            team += [guest] if guest not in team else []
        projects.append((key, name, site, programs[g].id))
        stories.append(story)
        teams.append(team)

    overloaded: dict[int, list[str]] = defaultdict(list)
    for i in rng.sample(range(len(people)), max(3, len(people) // 30)):
        for j in rng.sample(range(n_projects), min(n_projects, rng.choice((3, 4)))):
            key = people[i].key
            if key not in teams[j]:
                teams[j].append(key)
            overloaded[j].append(key)

    plans = []
    for j, ((key, name, site, program), story, team) in enumerate(zip(projects, stories, teams)):
        project = Project(key, name, site, program, next(ids.project[site]), team[0], story.text)
        plans.append(_Plan(project, story, sizes[j], tuple(team), tuple(overloaded[j]), rng.getrandbits(64)))
    return plans


# --------------------------------------------------------------------------------------------
# One project: releases, sprints, items
# --------------------------------------------------------------------------------------------

def _day(d: date) -> datetime:
    return datetime.combine(d, time(0), tzinfo=timezone.utc)


# change(at, field, old, new, author=None): records one change of the item being generated.
_Recorder = Callable[..., None]


@dataclass(frozen=True)
class _Work:
    """When an item's work happens; None where it has not happened by now."""

    started: datetime | None
    done: datetime | None  # last entry into done


class _ProjectBuilder:
    """Generates one project's releases, sprints and items from the project's own random stream."""

    def __init__(self, plan: _Plan, now: datetime, ids: _Ids, texts: dict[str, str], position: int) -> None:
        self.plan = plan
        self.project = plan.project
        self.jira = plan.project.site != GITHUB
        self.rng = random.Random(plan.seed)
        # Texture (tails, flags, abandoned work, drops, creep) draws from a stream of its own.
        self.texture = random.Random(f"portfolio-texture:{plan.seed}")
        self._drop_start = drop_start(now)
        self._crept: set[int] = set()  # draft indices of the current release's late scope
        self.now = now
        self.ids = ids
        self.texts = texts  # shared strings: equal titles and bodies are stored once
        self.position = position  # the project's place in the portfolio: picks its hostile title
        self.nouns = tuple(self.rng.sample(_NOUNS, 10))
        self.releases = self._releases()
        self.sprints = self._sprints() if self.jira else []
        self._sprint_ends = [s.completed_at for s in self.sprints]
        self._anchor = self.sprints[0].start if self.sprints else now
        self._open_sprint = next((k for k, s in enumerate(self.sprints) if s.state != "closed"), None)
        self._pending = list(plan.overloaded)

    # -- time helpers ----------------------------------------------------------------------------
    def _at(self, days: float) -> datetime:
        """An instant ``days`` from now, nudged into working hours so histories look human."""
        base = self.now + timedelta(days=days)
        seconds = 25_200 + int(self.rng.random() * 39_600)
        return base.replace(hour=seconds // 3600, minute=seconds // 60 % 60, second=seconds % 60,
                            microsecond=int(self.rng.random() * 1000) * 1000)

    def _days(self, moment: datetime) -> float:
        return (moment - self.now).total_seconds() / DAY

    # -- releases and sprints --------------------------------------------------------------------
    def _releases(self) -> list[Release]:
        """Past releases back to HISTORY_DAYS, the current one (due per the story) and the next.
        Some past releases and, per story, the current one slipped: ``planned_due`` keeps the plan."""
        rng, story, today = self.rng, self.plan.story, self.now.date()
        cadence = rng.choice((60, 90, 120))
        due = today + timedelta(days=rng.randint(*story.due_days))
        start = min(due - timedelta(days=cadence), today - timedelta(days=30))
        slip = rng.randint(*story.slip_days)
        windows = [(start, due, due - timedelta(days=slip), False)]
        while windows[0][0] > today - timedelta(days=HISTORY_DAYS):
            end = windows[0][0]
            begin = end - timedelta(days=cadence + rng.randint(-10, 10))
            moved = rng.randint(5, 20) if rng.random() < 0.35 else 0
            windows.insert(0, (begin, end, end - timedelta(days=moved), True))
        next_start = due - timedelta(days=14)
        windows.append((next_start, next_start + timedelta(days=cadence), next_start + timedelta(days=cadence),
                        False))
        label = self.project.key.split("/")[-1] if not self.jira else self.project.key
        releases = []
        for k, (begin, end, planned, released) in enumerate(windows):
            name = f"{label} {1 + k // 3}.{k % 3}"
            description = "" if rng.random() < 0.1 else f"{name}: {self.project.name} deliverables"
            if planned != end and description:
                description += f"; first planned for {planned.isoformat()}"
            number = next(self.ids.version[self.project.site]) if self.jira else k + 1
            created = self._at(min(-1.0, (begin - today).days - 7))
            released_at = self._at((end - today).days - rng.randint(0, 3)) if released else None
            releases.append(Release(number, next(self.ids.release_uid), self.project.key, name, description,
                                     created, begin, end, released_at, planned_due=planned))
        return releases

    def _sprints(self) -> list[Sprint]:
        """Two-week sprints from HISTORY_DAYS ago: closed ones, the active one, two undated future ones."""
        rng = self.rng
        anchor = _day(self.now.date() - timedelta(days=HISTORY_DAYS - rng.randint(0, 13))) + timedelta(hours=9)
        sprints = []
        k = 0
        while len(sprints) < FUTURE_SPRINTS or sprints[-FUTURE_SPRINTS].state != "future":
            start = anchor + k * SPRINT
            end = start + SPRINT
            complete = end - timedelta(hours=rng.uniform(1, 8))
            name = f"{self.project.key} Sprint {k + 1}"
            goal = rng.choice(_SPRINT_GOALS)
            sprint_id = next(self.ids.sprint)
            if complete <= self.now:
                sprints.append(Sprint(sprint_id, self.project.key, name, "closed", start, end, complete, goal))
            elif start <= self.now:
                sprints.append(Sprint(sprint_id, self.project.key, name, "active", start, end, None, goal))
            else:
                sprints.append(Sprint(sprint_id, self.project.key, name, "future", None, None, None, goal))
            k += 1
        return sprints

    def _sprint_at(self, moment: datetime) -> int | None:
        """The index of the sprint running at ``moment`` (the next one between sprints)."""
        k = int((moment - self._anchor) / SPRINT)
        if moment < self._anchor or k >= len(self.sprints):
            return None
        end = self._sprint_ends[k]
        return k + 1 if end is not None and moment >= end and k + 1 < len(self.sprints) else k

    # -- items -----------------------------------------------------------------------------------
    def build(self) -> list[Item]:
        """Draft every item, number them in creation order, play each one's history, roll up epics."""
        rng, size = self.rng, self.plan.size
        n_epics = max(1, round(size / ITEMS_PER_EPIC))
        weights = [1.0] * (len(self.releases) - 2) + [1.5, 0.4]  # past ones, the current one, the next
        drafts: list[tuple[datetime, int, Release | None]] = []  # (created, draft index, release)
        for e in range(n_epics):
            rel = self.releases[e * (len(self.releases) - 1) // n_epics]
            drafts.append((self._at(max(-HISTORY_DAYS - 40.0, (rel.start - self.now.date()).days
                                         - rng.uniform(12, 20))), -1 - e, rel))
        for k in range(size - n_epics):
            rel = None if rng.random() < 0.12 else rng.choices(self.releases, weights)[0]
            drafts.append((self._at(self._created_days(rel, k)), k, rel))
        drafts.sort(key=lambda d: (d[0], d[1]))

        long_pool = [n for n, (created, k, _) in enumerate(drafts, 1)
                     if k >= 0 and self._days(created) < -30]
        n_long = max(1, round(size * LONG_CHANGELOG_SHARE)) if self.jira else 0
        long_numbers = set(rng.sample(long_pool, min(n_long, len(long_pool))))
        hostile = next((n for n, d in enumerate(drafts, 1) if d[1] == 2), None)

        epics_by_release: dict[int, list[tuple[datetime, int]]] = defaultdict(list)
        all_epics: list[tuple[datetime, int]] = []
        items: list[Item | None] = [None] * size
        work: dict[int, list[_Work]] = defaultdict(list)
        for number, (created, k, rel) in enumerate(drafts, 1):
            if k < 0:
                epics_by_release[rel.id].append((created, number))
                all_epics.append((created, number))
                continue
            parent = self._parent(created, rel, epics_by_release, all_epics)
            title = self._title(_HOSTILE_TITLES[self.position % len(_HOSTILE_TITLES)] if number == hostile else None)
            item, item_work = self._item(number, created, rel, parent, title, number in long_numbers,
                                         k in self._crept)
            items[number - 1] = item
            if parent is not None:
                work[parent].append(item_work)
        for number, (created, k, rel) in enumerate(drafts, 1):
            if k < 0:
                items[number - 1] = self._epic(number, created, rel, work.get(number, []))
        return items  # type: ignore[return-value]  # every slot is filled above

    def _created_days(self, rel: Release | None, k: int) -> float:
        """When an item is created, in days from now: early in its release, late where scope grows,
        and in its last weeks where scope creeps in (draft ``k`` is then noted in ``_crept``)."""
        rng = self.rng
        if rel is None:
            return -rng.uniform(1, HISTORY_DAYS)
        today = self.now.date()
        lo = (rel.start - today).days - 10
        hi = min(-1, (rel.due - today).days - 5)
        current = rel is self.releases[-2]
        if current and self.plan.story.creep and self.texture.random() < self.plan.story.creep:
            first, last = (rel.due - today).days - 7 * CREEP_WEEKS, min((rel.due - today).days, 0) - 2
            if first < last:
                self._crept.add(k)
                return self.texture.uniform(first, last)
        if current and rng.random() < self.plan.story.growth:
            lo = -30  # scope creep: work keeps arriving late in the release
        elif current:
            hi = lo + 0.55 * (hi - lo)  # a planned release: its scope is known early on
        lo = max(lo, -HISTORY_DAYS - 20)
        return rng.uniform(lo, hi) if hi > lo else rng.uniform(-30, -1)

    def _parent(self, created: datetime, rel: Release | None, by_release: dict[int, list[tuple[datetime, int]]],
                all_epics: list[tuple[datetime, int]]) -> int | None:
        """Most release work belongs to an epic of its release; some backlog work to any older epic."""
        rng = self.rng
        epics, share = (by_release.get(rel.id, []), 0.75) if rel is not None else (all_epics, 0.3)
        older = bisect.bisect_left(epics, (created, 0))
        if older == 0 or rng.random() >= share:
            return None
        return epics[int(rng.random() * older)][1]

    def _title(self, hostile: str | None) -> str:
        rng = self.rng
        if hostile is None and rng.random() < 0.001:
            hostile = rng.choice(_HOSTILE_TITLES)
        title = hostile or f"{_VERBS[int(rng.random() * len(_VERBS))]} {self.nouns[int(rng.random() * 10)]}" + (
            f" ({_SUFFIXES[int(rng.random() * len(_SUFFIXES))]})" if rng.random() < 0.3 else "")
        return self.texts.setdefault(title, title)

    def _body(self, title: str) -> str:
        if self.rng.random() < 0.1:
            return ""
        body = f"As a customer I want {title.strip().lower()} so that {_BENEFITS[len(title) % len(_BENEFITS)]}."
        return self.texts.setdefault(body, body)

    def _schedule(self, created: datetime, rel: Release | None, crept: bool) -> tuple[float, float | None]:
        """(days from creation to start, days of work); no work means it stays in the backlog. Work
        has a long tail (it starts earlier to meet its date, if it can); late scope is planned from
        the day it came in."""
        rng, texture = self.rng, self.texture
        if rel is None:
            start_after, work = rng.uniform(3, 40), (rng.uniform(2, 12) if rng.random() < 0.5 else None)
            return start_after, None if work is None else work * tail_factor(texture)
        # Each item of a release is done at its share of the release window, slowed by the pace.
        window = max((rel.due - rel.start).days, 7)
        target = _day(rel.start) + timedelta(days=rng.random() * window * self.plan.story.pace)
        work = rng.uniform(2, 9) * self.plan.story.pace * tail_factor(texture)
        if crept:
            target = created + timedelta(days=texture.uniform(4, 40) * self.plan.story.pace)
        return max(0.5, (target - created).total_seconds() / DAY - work), work

    def _item(self, number: int, created: datetime, rel: Release | None, parent: int | None, title: str,
              long: bool, crept: bool) -> tuple[Item, _Work]:
        """Play one item's history forward from creation to now."""
        rng, texture, now, team = self.rng, self.texture, self.now, self.plan.team
        kind = ("story", "story", "story", "task", "task", "bug")[int(rng.random() * 6)]
        reporter = team[int(rng.random() * len(team))]
        assignee = team[int(rng.random() * len(team))] if rng.random() < 0.5 else None
        changes: list[Change] = []

        def change(at: datetime, fld: str, old: str | None, new: str | None, author: str | None = None) -> None:
            changes.append(Change(next(self.ids.change), at, author or assignee or reporter, fld, old, new))

        if rel is not None:
            change(created + timedelta(minutes=3), "release", None, str(rel.id))
        state, resolution, started, resolved = TODO, None, None, None
        start_after, work = self._schedule(created, rel, crept)
        # Texture: dropped (Won't Do) before it starts or part-way through, or flagged for a spell.
        roll = texture.random() if work is not None else 1.0
        early = roll < ABANDON_SHARE and texture.random() < 0.5
        quit_at = texture.uniform(0.2, 0.9) if roll < ABANDON_SHARE and not early else None
        flag_at = (texture.uniform(0.1, 0.8) if self.jira and ABANDON_SHARE <= roll < ABANDON_SHARE + FLAG_SHARE
                   else None)
        stuck = self.jira and ABANDON_SHARE + FLAG_SHARE <= roll < ABANDON_SHARE + FLAG_SHARE + STUCK_SHARE
        dropped = created + timedelta(days=start_after * texture.uniform(0.2, 0.9)) if early else None
        if dropped is not None and dropped < now:
            change(dropped, "status", TODO, DONE)
            state, resolution, resolved = DONE, "Won't Do", dropped
        elif work is not None and created + timedelta(days=start_after) < now:
            started = created + timedelta(days=start_after)
            review = started + timedelta(days=work * rng.uniform(0.5, 0.8))
            done = started + timedelta(days=work)
            quit_ = started + (review - started) * quit_at if quit_at is not None else None
            spell = None
            if flag_at is not None:  # the spell delays the rest of the work
                flagged = started + (review - started) * flag_at
                length = timedelta(days=texture.lognormvariate(math.log(FLAG_DAYS[0]), FLAG_DAYS[1]))
                spell, review, done = (flagged, flagged + length), review + length, done + length
            elif stuck and done >= now:  # started, not done by now: flagged, and not cleared yet
                spell = (started + (now - started) * texture.uniform(0.2, 0.95), now + timedelta(days=1))
            if (self.plan.story.drop and self._drop_start <= done < now
                    and texture.random() < self.plan.story.drop):  # the finish slips: work piles up in review
                done = now + timedelta(days=texture.uniform(1, 21))
            state = REVIEW if review < now else IN_PROGRESS
            if quit_ is not None and quit_ < now:
                state, resolution, resolved = DONE, "Won't Do", quit_
            elif state == REVIEW and done < now:
                state, resolution, resolved = DONE, "Done", done
            if state != DONE and self._pending:
                assignee = self._pending.pop()
            if assignee is None:
                assignee = team[int(rng.random() * len(team))]
                change(started - timedelta(minutes=5), "assignee", None, assignee)
            change(started, "status", TODO, IN_PROGRESS)
            if resolution == "Won't Do":
                change(resolved, "status", IN_PROGRESS, DONE)
            for at, old, new in ((spell[0], None, IMPEDIMENT), (spell[1], IMPEDIMENT, None)) if spell else ():
                if at < now:
                    change(at, "flagged", old, new)
            if state == REVIEW or resolution == "Done":
                change(review, "status", IN_PROGRESS, REVIEW)
            if resolution == "Done":
                change(done, "status", REVIEW, DONE)
                if rng.random() < 0.04 and done + timedelta(days=3) < now:  # reopened, then closed again
                    reopened = done + timedelta(days=rng.uniform(0.5, 2))
                    redone = reopened + timedelta(days=rng.uniform(0.5, 3))
                    change(reopened, "status", DONE, IN_PROGRESS)
                    if redone < now:
                        change(redone, "status", IN_PROGRESS, DONE)
                        resolved = redone
                    else:
                        state, resolution, resolved = IN_PROGRESS, None, None
        elif rng.random() < 0.05:
            dropped = created + timedelta(days=rng.uniform(1, 20))
            if dropped < now:
                change(dropped, "status", TODO, DONE)
                state, resolution, resolved = DONE, "Won't Do", dropped

        points = None
        labels: tuple[str, ...] = ("customer", kind) if rng.random() < 0.1 else (kind,)
        sprints: tuple[int, ...] = ()
        if self.jira:
            labels = () if rng.random() < 0.55 else tuple(sorted(rng.sample(_JIRA_LABELS, 1 + (rng.random() < 0.3))))
            sprints = self._sprint_history(created, started, resolved, state, resolution, change)
            if long:
                points, labels = self._long_changelog(created, labels, change)
            elif rng.random() < 0.65:
                points = rng.choice((1, 2, 3, 5, 8, 13))
                estimated = created + timedelta(hours=rng.uniform(1, 48))
                if rng.random() < 0.15 and estimated < now:  # estimated after creation, maybe re-estimated
                    change(estimated, "points", None, str(points))
                    reestimated = created + timedelta(days=rng.uniform(2, 10))
                    if rng.random() < 0.5 and reestimated < now:
                        old, points = points, rng.choice([p for p in (2, 3, 5, 8, 13) if p != points])
                        change(reestimated, "points", str(old), str(points))
        changes.sort(key=lambda c: (c.at, c.id))
        item = Item(
            project=self.project.key, number=number, uid=next(self.ids.issue[self.project.site]), kind=kind,
            title=title, body=self._body(title), created_at=created,
            updated_at=max(created, changes[-1].at) if changes else created, reporter=reporter,
            assignee=assignee, state=state, resolution=resolution, resolved_at=resolved, points=points,
            parent=parent, release=rel.id if rel else None, labels=labels,
            priority=("Highest", "High", "High", "Medium", "Medium", "Medium", "Medium", "Low")[int(rng.random() * 8)],
            due=rel.due if rel is not None and rng.random() < 0.05 else None, changes=tuple(changes),
            sprints=sprints,
        )
        return item, _Work(started, resolved if state == DONE else None)

    def _sprint_history(self, created: datetime, started: datetime | None, resolved: datetime | None,
                        state: str, resolution: str | None, change: _Recorder) -> tuple[int, ...]:
        """Started work joins the sprint it started in and is carried over until done; some backlog
        items are planned into the running or next sprint. Jira keeps closed sprints on the item."""
        rng, sprints, lead = self.rng, self.sprints, self.project.lead
        if resolution == "Won't Do" and started is None:  # dropped from the backlog: never planned
            return ()
        if started is not None:
            k = self._sprint_at(started)
            if k is None:
                return ()
            added = max(created + timedelta(minutes=10),
                        (sprints[k].start or started) - timedelta(days=rng.uniform(0, 2)))
            added = min(added, started - timedelta(minutes=1))
        elif state == TODO and self._open_sprint is not None and rng.random() < 0.35:
            k = self._open_sprint
            added = min(self.now - timedelta(minutes=1),
                        max(created + timedelta(minutes=10),
                            sprints[k].start - timedelta(days=1) if sprints[k].start
                            else self.now - timedelta(days=rng.uniform(0.2, 6))))
            if added <= created:
                return ()
        else:
            return ()
        ids = [sprints[k].id]
        change(added, "sprint", None, str(ids[0]), lead)
        while (sprints[k].state == "closed" and k + 1 < len(sprints)
               and (resolved is None or resolved > sprints[k].completed_at)):
            old = ", ".join(map(str, ids))
            k += 1
            ids.append(sprints[k].id)
            change(sprints[k - 1].completed_at, "sprint", old, ", ".join(map(str, ids)), lead)
        return tuple(ids)

    def _long_changelog(self, created: datetime, labels: tuple[str, ...],
                        change: _Recorder) -> tuple[int, tuple[str, ...]]:
        """Over 100 small edits (re-ranks, re-estimates, a label toggled): more histories than Jira
        Cloud embeds in a search result. Returns the final points and labels."""
        rng = self.rng
        span = (self.now - timedelta(hours=1) - created).total_seconds()
        moments = sorted(created + timedelta(seconds=3600 + rng.random() * (span - 3600))
                         for _ in range(rng.randint(*LONG_CHANGELOG_EDITS)))
        points = rng.choice((1, 2, 3, 5, 8, 13))
        change(moments[0], "points", None, str(points))
        current = set(labels)
        for at in moments[1:]:
            roll = rng.random()
            if roll < 0.7:
                change(at, "rank", None, "higher" if rng.random() < 0.5 else "lower")
            elif roll < 0.85:
                old, points = points, rng.choice([p for p in (1, 2, 3, 5, 8, 13) if p != points])
                change(at, "points", str(old), str(points))
            else:
                old_labels = " ".join(sorted(current)) or None
                current ^= {"needs-refinement"}
                change(at, "labels", old_labels, " ".join(sorted(current)) or None)
        return points, tuple(sorted(current))

    def _epic(self, number: int, created: datetime, rel: Release, children: list[_Work]) -> Item:
        """An epic is in progress once a child starts and done once every child is done."""
        lead = self.project.lead
        changes = [Change(next(self.ids.change), created + timedelta(minutes=3), lead, "release", None, str(rel.id))]
        state, resolution, resolved = TODO, None, None
        starts = [w.started for w in children if w.started is not None]
        if starts:
            changes.append(Change(next(self.ids.change), min(starts), lead, "status", TODO, IN_PROGRESS))
            state = IN_PROGRESS
            if all(w.done is not None for w in children):
                finished = max(w.done for w in children) + timedelta(hours=2)  # type: ignore[type-var]
                if finished < self.now:
                    changes.append(Change(next(self.ids.change), finished, lead, "status", IN_PROGRESS, DONE))
                    state, resolution, resolved = DONE, "Done", finished
        title = self._title(None)
        return Item(
            project=self.project.key, number=number, uid=next(self.ids.issue[self.project.site]), kind="epic",
            title=self.texts.setdefault(f"Epic: {title}", f"Epic: {title}"), body=self._body(title),
            created_at=created, updated_at=changes[-1].at, reporter=lead, assignee=lead if starts else None,
            state=state, resolution=resolution, resolved_at=resolved, points=None, parent=None, release=rel.id,
            labels=() if self.jira else ("epic",), priority="High", due=None, changes=tuple(changes),
        )


# --------------------------------------------------------------------------------------------
# Dependencies: blocking links, cross-tracker references, remote links
# --------------------------------------------------------------------------------------------

class _Dependencies:
    """Blocking links where trackers can hold them (within one Jira site, between GitHub repos) and
    cross-tracker references where they cannot (GitHub body text, Jira remote links)."""

    def __init__(self, plans: list[_Plan], by_project: dict[str, list[Item]], now: datetime,
                 rng: random.Random, ids: _Ids) -> None:
        self.plans = plans
        self.by_project = by_project
        self.now = now
        self.rng = rng
        self.ids = ids
        self.links: list[Link] = []
        self.pairs: set[tuple[tuple[str, int], tuple[str, int]]] = set()
        self.touched: dict[tuple[str, int], datetime] = {}
        # Non-epic item numbers by project and state group, for cheap random picks.
        self.pool: dict[tuple[str, str], list[int]] = defaultdict(list)
        for key, items in by_project.items():
            for item in items:
                if item.kind != "epic":
                    group = "open" if item.state != DONE else "done" if item.resolution == "Done" else "dropped"
                    self.pool[(key, group)].append(item.number)
                    if item.state == TODO:
                        self.pool[(key, TODO)].append(item.number)

    def build(self) -> tuple[list[Link], list[RemoteLink]]:
        rng = self.rng
        for site in SITES:
            keys = [p.project.key for p in self.plans if p.project.site == site]
            if len(keys) < 2:
                continue
            self._chain(keys)
            self._cycle(keys)
            for _ in range(2):  # work that once blocked another project and is finished
                blocker, blocked = rng.sample(keys, 2)
                self._link(blocker, "done", blocked, "done")
            size = sum(len(self.by_project[k]) for k in keys)
            for _ in range(round(size * LINK_SHARE)):
                blocker = rng.choice(keys)
                blocked = blocker if rng.random() < 0.4 else rng.choice(keys)
                self._link(blocker, "open" if rng.random() < 0.7 else "done", blocked, "open")
        for plan in self.plans:
            if plan.story is BLOCKED:
                others = [p.project.key for p in self.plans
                          if p.project.site == plan.project.site and p is not plan]
                late = [k for k in others if self._story(k) in (LATE, SLIPPED)] or others
                for _ in range(min(8, 3 + plan.size // 200)):
                    if late:
                        self._link(rng.choice(late), "open", plan.project.key, TODO)
        remote_links = self._cross_tracker()
        self._touch()
        return self.links, remote_links

    def _story(self, key: str) -> _Story:
        return next(p.story for p in self.plans if p.project.key == key)

    def _pick(self, key: str, group: str) -> Item | None:
        numbers = self.pool.get((key, group))
        return self.by_project[key][self.rng.choice(numbers) - 1] if numbers else None

    def _distinct(self, wanted: list[tuple[str, str]]) -> list[Item] | None:
        """One item per (project, group), all different; None when the pools are too small."""
        for _ in range(10):
            picked = [self._pick(key, group) for key, group in wanted]
            if all(picked) and len({i.ref for i in picked}) == len(picked):  # type: ignore[union-attr]
                return picked  # type: ignore[return-value]
        return None

    def _moment(self, items: tuple[Item, ...], before: datetime | None = None) -> datetime | None:
        """A working moment after every item was created, before ``before`` (and now)."""
        earliest = max(i.created_at for i in items) + timedelta(hours=1)
        latest = min(before or self.now, self.now) - timedelta(hours=1)
        return earliest + (latest - earliest) * self.rng.random() if latest > earliest else None

    def _add(self, blocker: Item, blocked: Item, before: datetime | None = None) -> bool:
        """Link the two unless they are one item, already linked, or never existed at the same time."""
        pair = (blocker.ref, blocked.ref)
        at = self._moment((blocker, blocked), before)
        if blocker.ref == blocked.ref or pair in self.pairs or at is None:
            return False
        self.pairs.add(pair)
        self.links.append(Link(next(self.ids.link), blocker.ref, blocked.ref, at, blocked.reporter))
        for ref in pair:
            self.touched[ref] = max(self.touched.get(ref, at), at)
        return True

    def _link(self, blocker_key: str, blocker_group: str, blocked_key: str, blocked_group: str) -> None:
        """A few tries: a finished blocker must have been linked before it was done."""
        for _ in range(5):
            blocker, blocked = self._pick(blocker_key, blocker_group), self._pick(blocked_key, blocked_group)
            if blocker is None or blocked is None:
                return
            if self._add(blocker, blocked, blocker.resolved_at if blocker_group == "done" else None):
                return

    def _chain(self, keys: list[str]) -> None:
        """Four open items in turn across projects: each blocks the next."""
        order = self.rng.sample(keys, min(3, len(keys)))
        chain = self._distinct([(order[k % len(order)], "open") for k in range(4)])
        for blocker, blocked in zip(chain or [], (chain or [])[1:]):
            self._add(blocker, blocked)

    def _cycle(self, keys: list[str]) -> None:
        """Three waiting items across projects, each blocked by the one before: nobody can start."""
        order = self.rng.sample(keys, 2)
        cycle = self._distinct([(order[k % 2], TODO) for k in range(3)])
        for k, blocker in enumerate(cycle or []):
            self._add(blocker, cycle[(k + 1) % 3])  # type: ignore[index]

    def _cross_tracker(self) -> list[RemoteLink]:
        """Per program: GitHub bodies that name a Jira key, another repository's issue or a Jira URL,
        and Jira remote links to GitHub issues. Their only record is the text or the remote link."""
        rng = self.rng
        remote_links = []
        all_jira = [p.project.key for p in self.plans if p.project.site != GITHUB]
        all_repos = [p.project.key for p in self.plans if p.project.site == GITHUB]
        for program in dict.fromkeys(p.project.program for p in self.plans):
            mine = [p for p in self.plans if p.project.program == program]
            jira = [p.project.key for p in mine if p.project.site != GITHUB] or all_jira
            repos = [p.project.key for p in mine if p.project.site == GITHUB] or all_repos
            for plan in mine:
                key = plan.project.key
                if plan.project.site == GITHUB:
                    others = [r for r in repos if r != key] or [r for r in all_repos if r != key]
                    for n in range(max(3, round(plan.size * CROSS_TRACKER_SHARE))):  # each kind at least once
                        item = self._pick(key, "open")
                        if item is not None:
                            self._reference(item, n % 3, jira, others)
                    continue
                for _ in range(max(1, round(plan.size * CROSS_TRACKER_SHARE))):
                    item = self._pick(key, "open")
                    target = self._pick(rng.choice(repos), "open" if rng.random() < 0.7 else "done")
                    at = self._moment((item, target)) if item and target else None
                    if item is not None and target is not None and at is not None:
                        self.touched[item.ref] = max(self.touched.get(item.ref, at), at)
                        remote_links.append(RemoteLink(
                            next(self.ids.remote_link), item.ref, target.ref,
                            f"{GITHUB_HTML}/{target.project}/issues/{target.number}",
                            f"{target.project}#{target.number}", target.title, "is blocked by",
                            target.state == DONE, at))
        return remote_links

    def _reference(self, item: Item, kind: int, jira: list[str], repos: list[str]) -> None:
        """Append a dependency only prose carries: a Jira key, another repository's issue, a Jira URL."""
        if kind == 1 and repos:
            target = self._pick(self.rng.choice(repos), "open")
            text = f"Depends on {target.project}#{target.number}." if target else None
        else:
            target = self._pick(self.rng.choice(jira), "open")
            if target is None:
                text = None
            elif kind == 0:
                text = f"Blocked by {target.project}-{target.number}."
            else:
                site = next(p.project.site for p in self.plans if p.project.key == target.project)
                url = f"{PUBLIC_ROOT}{SITE_PREFIX[site]}/browse/{target.project}-{target.number}"
                text = f"Waiting for the contract in {url}"
        if text is not None:
            items = self.by_project[item.project]
            items[item.number - 1] = replace(item, body=f"{item.body}\n\n{text}" if item.body else text)

    def _touch(self) -> None:
        """A link is a change to the items it joins: it moves their `updated` forward."""
        for (key, number), at in self.touched.items():
            items = self.by_project[key]
            if at > items[number - 1].updated_at:
                items[number - 1] = replace(items[number - 1], updated_at=at)
