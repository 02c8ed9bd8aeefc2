"""Time travel: the same portfolio a night (or several) later, so that incremental sync and
nightly history can be tested against trackers that move on.

A night is the working day that starts at ``Scenario.now``. In it people create issues in every
project (some in a release, some under an epic, some blocked by existing work), move open work one
step along the workflow, close a few items, re-estimate a few, move one Jira issue to another
project on the same site (same id, new key), delete one Jira issue and one GitHub issue, and on
each Jira site flag one piece of work in progress as an impediment or clear one that was flagged.

The past is never rewritten: histories only grow, every new change id is larger than any before
it, and every new timestamp falls inside the night, before the new ``now``. ``advance`` is pure:
each night draws from a generator seeded with the scenario's seed and the night's date (never the
wall clock or ``hash()``), so nights compose: ``advance(s, 2) == advance(advance(s, 1), 1)``.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from functools import partial

from sandbox.scenario import (DONE, GITHUB, IMPEDIMENT, IN_PROGRESS, REVIEW, TODO, Change, Item, Link, Release,
                              Scenario)

FIRST_HOUR, LAST_HOUR = 7, 19  # UTC hours in which a night's events happen
NEXT_STATE = {TODO: IN_PROGRESS, IN_PROGRESS: REVIEW, REVIEW: DONE}
POINTS = (1, 2, 3, 5, 8, 13)

Ref = tuple[str, int]  # (project, number)
Handle = tuple[str, int]  # (site, uid): names an item across moves


def advance(scenario: Scenario, days: int = 1) -> Scenario:
    """The scenario ``days`` nights later (``as_of`` moves by ``days``), night by night."""
    if days < 0:
        raise ValueError(f"time travels forward only: days must be >= 0, got {days}")
    for _ in range(days):
        scenario = _Night(scenario).run()
    return scenario


@dataclass(frozen=True)
class Difference:
    """What changed between two scenarios, one advanced from the other, by tracker key."""

    created: tuple[str, ...]
    changed: tuple[str, ...]  # items that existed before and were touched (moved ones included)
    deleted: tuple[str, ...]
    moved: tuple[tuple[str, str], ...]  # (old key, new key)


def difference(before: Scenario, after: Scenario) -> Difference:
    """Compare by (site, id), which survives moves; what the control endpoint reports."""
    old = {_handle(before, i): i for i in before.items}
    new = {_handle(after, i): i for i in after.items}
    both = [h for h in new if h in old]
    return Difference(
        created=tuple(item_key(after, new[h]) for h in new if h not in old),
        changed=tuple(item_key(after, new[h]) for h in both if new[h].updated_at != old[h].updated_at),
        deleted=tuple(item_key(after, i) for i in after.deleted[len(before.deleted):]),
        moved=tuple((item_key(before, old[h]), item_key(after, new[h])) for h in both
                    if new[h].ref != old[h].ref),
    )


def item_key(scenario: Scenario, item: Item) -> str:
    """``PAY-12`` on Jira, ``acme/web#12`` on GitHub, as the warehouse writes them."""
    separator = "#" if scenario.project[item.project].site == GITHUB else "-"
    return f"{item.project}{separator}{item.number}"


def _handle(scenario: Scenario, item: Item) -> Handle:
    return (scenario.project[item.project].site, item.uid)


class _Night:
    """One night's edits on a working copy of the scenario, planned first, then applied in time
    order so that numbers and change ids are handed out in the order things happen."""

    def __init__(self, scenario: Scenario) -> None:
        self.before = scenario
        self.rng = random.Random(f"pulse-night:{scenario.seed}:{scenario.as_of.isoformat()}")
        self.start = scenario.now
        self.site = {p.key: p.site for p in scenario.projects}
        self.items: dict[Handle, Item] = {_handle(scenario, i): i for i in scenario.items}
        self.at_dusk = dict(self.items)  # as the night began
        self.handle = {i.ref: h for h, i in self.items.items()}
        self.children: dict[Ref, list[Handle]] = defaultdict(list)
        for handle, item in self.items.items():
            if item.parent is not None:
                self.children[(item.project, item.parent)].append(handle)
        self.links = list(scenario.links)
        self.remote_links = list(scenario.remote_links)
        self.deleted = list(scenario.deleted)
        everything = (*scenario.items, *scenario.deleted)
        # Links take their ids from the same counter: a deleted item's links are gone, their ids are not.
        self.next_id = max([c.id for i in everything for c in i.changes] + [link.id for link in self.links],
                           default=0) + 1
        self.next_uid: dict[str, int] = defaultdict(lambda: 1)
        self.last_number: dict[str, int] = defaultdict(int)
        for item in everything:
            site = self.site[item.project]
            if item.uid >= self.next_uid[site]:
                self.next_uid[site] = item.uid + 1
            if item.number > self.last_number[item.project]:
                self.last_number[item.project] = item.number
            for project, number in item.moved_from:
                self.last_number[project] = max(self.last_number[project], number)
        self.team = {p.key: sorted({i.reporter for i in scenario.items_by_project.get(p.key, ())} | {p.lead})
                     for p in scenario.projects}
        # Open work and epics as the night starts, by project: what the night's edits pick from.
        self.open_work: dict[str, list[Handle]] = defaultdict(list)
        self.epics: dict[str, list[Handle]] = defaultdict(list)
        for handle, item in self.items.items():
            if item.kind == "epic":
                self.epics[item.project].append(handle)
            elif item.state != DONE:
                self.open_work[item.project].append(handle)
        self.open_on_site = {site: [h for p in sorted(self.site) if self.site[p] == site for h in self.open_work[p]]
                             for site in sorted(set(self.site.values()))}

    def run(self) -> Scenario:
        """Pick the night's edits from the work open at dusk, then play them in time order."""
        plan: list[tuple[datetime, int, partial]] = []
        taken: set[Handle] = set()

        def schedule(action: Callable[..., None], pool: list[Handle] | None = None, *args: object) -> None:
            """Plan an edit at a random moment of the night, on an item no other edit has taken."""
            if pool is not None:
                free = [h for h in pool if h not in taken]
                if not free:
                    return
                args = (self.rng.choice(free), *args)
                taken.add(args[0])
            plan.append((self._instant(), len(plan), partial(action, *args)))

        projects = sorted(self.site)
        todo = [h for p in projects for h in self.open_work[p] if self.items[h].state == TODO]
        for on_github in (False, True):  # one deletion on each tracker
            schedule(self._delete, [h for h in todo if (h[0] == GITHUB) == on_github])
        schedule(self._move, [h for p in projects if self._neighbours(p) for h in self.open_work[p]
                              if self.items[h].parent is None])
        for project in projects:
            for _ in range(self.rng.randint(2, 4)):
                schedule(self._step, self.open_work[project])
            estimated = [h for h in self.open_work[project] if self.items[h].points is not None]
            for _ in range(self.rng.randint(0, 2)):
                schedule(self._re_estimate, estimated)
            for _ in range(self.rng.randint(1, 3)):
                schedule(self._create, None, project)
        if self.rng.random() < 0.5:
            schedule(self._wont_do, todo)
        # Flags draw from a stream of their own, so the night's other edits are what they were without.
        flags = random.Random(f"pulse-night-flags:{self.before.seed}:{self.before.as_of.isoformat()}")
        for site in sorted(self.open_on_site):
            if site == GITHUB:  # GitHub has no Flagged field
                continue
            started = [h for h in self.open_on_site[site]
                       if h not in taken and self.items[h].state in (IN_PROGRESS, REVIEW)]
            flagged = [h for h in started if self.items[h].flagged]
            pool = flagged if flagged and flags.random() < 0.5 else started
            if pool:
                handle = flags.choice(pool)
                taken.add(handle)
                plan.append((self._instant(flags), len(plan), partial(self._flag, handle)))

        for at, _, action in sorted(plan, key=lambda entry: entry[:2]):
            action(at)
        return replace(self.before, as_of=self.before.as_of + timedelta(days=1), items=tuple(self.items.values()),
                       links=tuple(self.links), remote_links=tuple(self.remote_links), deleted=tuple(self.deleted),
                       releases=self._slip())

    def _slip(self) -> tuple[Release, ...]:
        """One open release with a due date slips each night: its due date moves 1 to 14 days later
        (``planned_due`` keeps the first plan). Neither tracker keeps a history of due dates: only a
        sync before and one after can tell. Drawn from a stream of its own, so the night's other
        edits are what they were without."""
        slips = random.Random(f"pulse-night-slips:{self.before.seed}:{self.before.as_of.isoformat()}")
        releases = list(self.before.releases)
        open_ = [n for n, r in enumerate(releases) if r.released_at is None and r.due is not None]
        if not open_:
            return self.before.releases
        n = slips.choice(open_)
        release = releases[n]
        releases[n] = replace(release, due=release.due + timedelta(days=slips.randint(1, 14)),
                              planned_due=release.planned_due or release.due, due_moved_at=self._instant(slips))
        return tuple(releases)

    def _instant(self, rng: random.Random | None = None) -> datetime:
        rng = rng or self.rng
        seconds = rng.randint(FIRST_HOUR * 3600, LAST_HOUR * 3600 - 1)
        return self.start + timedelta(seconds=seconds, milliseconds=rng.randint(0, 999))

    def _neighbours(self, project: str) -> list[str]:
        """The other Jira projects on the same site: where an issue can be moved to."""
        site = self.site[project]
        return [] if site == GITHUB else [p for p in sorted(self.site) if p != project and self.site[p] == site]

    # -- edits -------------------------------------------------------------------------------------
    def _change(self, handle: Handle, at: datetime, field: str, old: str | None, new: str | None,
                **fields: object) -> Item:
        item = self.items[handle]
        change = Change(self._id(), at, item.assignee or item.reporter, field, old, new)
        item = self.items[handle] = replace(item, changes=(*item.changes, change),
                                            updated_at=max(item.updated_at, at), **fields)
        return item

    def _id(self) -> int:
        self.next_id += 1
        return self.next_id - 1

    def _next_number(self, project: str) -> int:
        """Trackers never reuse a number, not even a deleted or moved-away item's."""
        self.last_number[project] += 1
        return self.last_number[project]

    def _touch(self, ref: Ref, at: datetime) -> None:
        handle = self.handle[ref]
        item = self.items[handle]
        self.items[handle] = replace(item, updated_at=max(item.updated_at, at))

    def _step(self, handle: Handle, at: datetime) -> None:
        """One step along the workflow; work that starts gets an assignee first."""
        item = self.items[handle]
        if item.state == TODO and item.assignee is None:
            assignee = self.rng.choice(self.team[item.project])
            item = self._change(handle, at, "assignee", None, assignee, assignee=assignee)
        new = NEXT_STATE[item.state]
        done = {"resolution": "Done", "resolved_at": at} if new == DONE else {}
        item = self._change(handle, at, "status", item.state, new, state=new, **done)
        self._roll_up(item.project, item.parent, at)

    def _flag(self, handle: Handle, at: datetime) -> None:
        """Flag the work as an impediment, or clear the flag it has: a Flagged changelog item."""
        flagged = self.items[handle].flagged
        self._change(handle, at, "flagged", IMPEDIMENT if flagged else None, None if flagged else IMPEDIMENT)

    def _wont_do(self, handle: Handle, at: datetime) -> None:
        item = self._change(handle, at, "status", TODO, DONE, state=DONE, resolution="Won't Do", resolved_at=at)
        self._roll_up(item.project, item.parent, at)

    def _roll_up(self, project: str, parent: int | None, at: datetime) -> None:
        """An epic starts with its first child and is done with its last, as the generator has it."""
        if parent is None:
            return
        handle = self.handle[(project, parent)]
        epic = self.items[handle]
        kids = [self.items[h] for h in self.children[(project, parent)]]
        if epic.state == TODO and any(k.state != TODO for k in kids):
            epic = self._change(handle, at, "status", TODO, IN_PROGRESS, state=IN_PROGRESS)
        if epic.state == IN_PROGRESS and kids and all(k.state == DONE for k in kids):
            self._change(handle, at, "status", IN_PROGRESS, DONE, state=DONE, resolution="Done", resolved_at=at)

    def _re_estimate(self, handle: Handle, at: datetime) -> None:
        old = self.items[handle].points
        new = self.rng.choice([p for p in POINTS if p != old])
        self._change(handle, at, "points", _points(old), _points(new), points=new)

    def _create(self, project: str, at: datetime) -> None:
        """A new issue: sometimes in an open release, under an open epic, blocked by open work."""
        rng, site = self.rng, self.site[project]
        kind = rng.choices(["story", "task", "bug"], weights=[6, 3, 2])[0]
        # Titled after open work of the project as the night began (the two need not still exist).
        basis = self.at_dusk[rng.choice(self.open_work[project])] if self.open_work[project] else None
        releases = [r.id for r in self.before.releases_by_project.get(project, ())
                    if r.released_at is None or r.released_at > at]
        release = rng.choice(releases) if releases and rng.random() < 0.6 else None
        epics = [self.items[h].number for h in self.epics[project] if self.items[h].state != DONE]
        reporter = rng.choice(self.team[project])
        number = self._next_number(project)
        uid = self.next_uid[site]
        self.next_uid[site] = uid + 1
        handle = (site, uid)
        self.items[handle] = Item(
            project=project, number=number, uid=uid, kind=kind,
            title=f"Follow-up: {basis.title.strip()}" if basis else f"New {kind}",
            body=f"Found while working on {item_key(self.before, basis)}." if basis else "",
            created_at=at, updated_at=at, reporter=reporter,
            assignee=rng.choice([None, reporter, *self.team[project]]), state=TODO, resolution=None,
            resolved_at=None, points=rng.choice([None, *POINTS]),
            parent=rng.choice(epics) if epics and rng.random() < 0.5 else None, release=release,
            labels=(kind,), priority=rng.choice(["High", "Medium", "Medium", "Low"]), due=None, changes=())
        self.handle[(project, number)] = handle
        if self.items[handle].parent is not None:
            self.children[(project, self.items[handle].parent)].append(handle)
            if site == GITHUB:  # GitHub records sub_issue_added on the parent, which updates it
                self._touch((project, self.items[handle].parent), at)
        if release is not None:
            self._change(handle, at + timedelta(minutes=3), "release", None, str(release))
        pool = self.open_on_site[site]
        blocker = self.items.get(rng.choice(pool)) if pool and rng.random() < 0.4 else None
        if blocker is not None and blocker.state != DONE:  # still open work by the time of creation
            self.links.append(Link(self._id(), blocker.ref, (project, number), at, reporter))
            self._touch(blocker.ref, at)

    def _move(self, handle: Handle, at: datetime) -> None:
        """To another project on the same site: same id, the target's next number, no fix version
        (versions belong to projects), and a history that records the new key."""
        item = self.items[handle]
        old_ref = item.ref
        target = self.rng.choice(self._neighbours(item.project))
        if item.release is not None:
            item = self._change(handle, at, "release", str(item.release), None, release=None)
        new_ref = (target, self._next_number(target))
        self._change(handle, at, "key", _jira_key(old_ref), _jira_key(new_ref), project=target, number=new_ref[1],
                     moved_from=(*item.moved_from, old_ref))
        del self.handle[old_ref]
        self.handle[new_ref] = handle
        self.links = [replace(link, blocker=new_ref if link.blocker == old_ref else link.blocker,
                              blocked=new_ref if link.blocked == old_ref else link.blocked)
                      if old_ref in (link.blocker, link.blocked) else link for link in self.links]
        self.remote_links = [replace(link, item=new_ref) if link.item == old_ref else link
                             for link in self.remote_links]

    def _delete(self, handle: Handle, at: datetime) -> None:
        """Gone with its links; the items at the other end of those links change."""
        item = self.items.pop(handle)
        del self.handle[item.ref]
        self.deleted.append(item)
        if item.parent is not None:
            self.children[(item.project, item.parent)].remove(handle)
            if self.site[item.project] == GITHUB:  # sub_issue_removed updates the parent
                self._touch((item.project, item.parent), at)
        kept = []
        for link in self.links:
            if item.ref in (link.blocker, link.blocked):
                self._touch(link.blocked if link.blocker == item.ref else link.blocker, at)
            else:
                kept.append(link)
        self.links = kept
        # Its remote links go with it; a remote link to a deleted GitHub issue stays, as in Jira.
        self.remote_links = [link for link in self.remote_links if link.item != item.ref]
        self._roll_up(item.project, item.parent, at)


def _points(points: float | None) -> str | None:
    return None if points is None else str(points)


def _jira_key(ref: Ref) -> str:
    return f"{ref[0]}-{ref[1]}"


def touch(scenario: Scenario, ref: tuple[str, int]) -> Scenario:
    """The world a second before its clock, in which one item has just been edited (a comment:
    no field changes, only ``updated``): what a sync sees when someone works while it pages."""
    at = scenario.now - timedelta(seconds=1)
    return replace(scenario, items=tuple(replace(i, updated_at=max(i.updated_at, at)) if i.ref == ref else i
                                         for i in scenario.items))
