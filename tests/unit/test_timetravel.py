"""Time travel is pure and only ever appends: the properties incremental sync and nightly history
tests rely on when they advance the sandbox."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import date, timedelta

import pytest

from dataclasses import replace

import requests

from sandbox.scenario import DONE, GITHUB, IMPEDIMENT, IN_PROGRESS, REVIEW, TODO, Item, Scenario, demo
from sandbox.credentials import SANDBOX_TOKEN
from sandbox.server import serve
from sandbox.timetravel import advance, difference

AS_OF = date(2026, 11, 27)


@pytest.fixture(scope="module")
def base() -> Scenario:
    return demo(7, AS_OF)


@pytest.fixture(scope="module")
def night(base) -> Scenario:
    return advance(base, 1)


@pytest.fixture(scope="module")
def week(base) -> Scenario:
    return advance(base, 7)


def ref(key: str) -> tuple[str, int]:
    """``ID-3`` or ``acme/web#3`` as (project, number)."""
    project, _, number = key.rpartition("#" if "#" in key else "-")
    return project, int(number)


def by_handle(scenario: Scenario) -> dict[tuple[str, int], Item]:
    """Items by (site, id): the identity that survives a move."""
    return {(scenario.project[i.project].site, i.uid): i for i in scenario.items}


def test_the_same_input_gives_the_same_world(base, night):
    assert advance(base, 1) == night
    assert advance(base, 2) == advance(night, 1)  # nights compose


DIGEST = """
import zlib
from datetime import date
from sandbox.scenario import demo
from sandbox.timetravel import advance
print(zlib.crc32(repr(advance(demo(7, date(2026, 11, 27)), 2)).encode()))
"""


def test_the_world_does_not_depend_on_string_hashing():
    """Set order follows PYTHONHASHSEED: a night that iterated a set of names would differ by process."""
    runs = {subprocess.run([sys.executable, "-c", DIGEST], env={**os.environ, "PYTHONHASHSEED": seed},
                           capture_output=True, text=True, check=True).stdout
            for seed in ("1", "2")}
    assert len(runs) == 1


def test_the_clock_moves_by_the_days_asked(base, night, week):
    assert night.as_of == AS_OF + timedelta(days=1) and week.as_of == AS_OF + timedelta(days=7)
    assert advance(base, 0) == base
    with pytest.raises(ValueError):
        advance(base, -1)


def test_the_past_is_unchanged(base, week):
    """Every old change keeps its id and moment; new changes have larger ids and fall inside the week."""
    old, new = by_handle(base), by_handle(week)
    gone = {(base.project[i.project].site, i.uid) for i in week.deleted}
    assert set(old) - set(new) == gone & set(old)  # a week may also delete an item it created
    first_new_id = max(c.id for i in base.items for c in i.changes) + 1
    for handle, item in new.items():
        before = old.get(handle)
        kept = before.changes if before else ()
        assert item.changes[:len(kept)] == kept
        assert before is None or (item.created_at, item.uid) == (before.created_at, before.uid)
        added = item.changes[len(kept):]
        assert all(c.id >= first_new_id and base.now <= c.at < week.now for c in added)
        assert [c.id for c in added] == sorted(c.id for c in added)
        assert [c.at for c in added] == sorted(c.at for c in added)
    ids = [c.id for i in (*week.items, *week.deleted) for c in i.changes]
    assert len(ids) == len(set(ids))


def test_updated_moves_forward_with_every_change_and_link(base, week):
    old = by_handle(base)
    for handle, item in by_handle(week).items():
        assert item.updated_at >= max([item.created_at, *(c.at for c in item.changes)])
        if handle in old:
            assert item.updated_at >= old[handle].updated_at
            if item.changes != old[handle].changes:
                assert item.updated_at > base.now
    for link in week.links:
        if link.created_at >= base.now:  # a new link touched both ends
            assert week.item[link.blocker].updated_at >= link.created_at
            assert week.item[link.blocked].updated_at >= link.created_at


def test_a_night_moves_a_jira_issue_to_another_project_on_its_site(base, night):
    moves = difference(base, night).moved
    assert moves
    old_key, new_key = moves[0]
    old_ref = ref(old_key)
    item = next(i for i in night.items if old_ref in i.moved_from)
    assert f"{item.project}-{item.number}" == new_key and item.moved_from[-1] == old_ref
    assert base.item[old_ref].uid == item.uid
    assert base.project[old_ref[0]].site == night.project[item.project].site != GITHUB
    # the target's next number at the move: after its items, and those the night created before the move
    moved_at = item.changes[-1].at
    before = [i.number for i in (*night.items, *night.deleted) if i.project == item.project and i.uid != item.uid
              and (i.ref in base.item or i.created_at < moved_at)]
    assert item.number == max(before) + 1
    assert (item.changes[-1].field, item.changes[-1].old, item.changes[-1].new) == ("key", old_key, new_key)
    assert old_ref not in night.item and all(old_ref not in (l.blocker, l.blocked) for l in night.links)


def test_a_night_deletes_an_issue_on_each_tracker_and_its_links(base, night):
    deleted = night.deleted
    assert {base.project[i.project].site == GITHUB for i in deleted} == {True, False}
    for item in deleted:
        assert item.ref not in night.item
        assert all(item.ref not in (l.blocker, l.blocked) for l in night.links)
    assert all(l.blocker in night.item and l.blocked in night.item for l in night.links)
    # The items at the other end of a dropped link changed when it went.
    refs = {i.ref for i in deleted}
    for link in base.links:
        if link.blocker in refs or link.blocked in refs:
            other = link.blocked if link.blocker in refs else link.blocker
            assert night.item[other].updated_at > base.now


def test_a_week_creates_updates_re_estimates_and_closes_work(base, week):
    diff = difference(base, week)
    created = [week.item[ref(key)] for key in diff.created]
    assert len({i.project for i in created}) == len(base.projects)
    assert any(i.release is not None for i in created) and any(i.release is None for i in created)
    assert any(l.blocked in {i.ref for i in created} for l in week.links)
    assert all(base.now <= i.created_at < week.now for i in created)
    new = [c for i in week.items for c in i.changes if c.at >= base.now]
    steps = {(c.old, c.new) for c in new if c.field == "status"}
    assert {(TODO, IN_PROGRESS), (IN_PROGRESS, "review"), ("review", DONE)} <= steps
    assert any(c.field == "points" and c.old is not None for c in new)
    # Numbers are never reused, not even a deleted or moved-away item's.
    for project in base.project:
        used = [i.number for i in (*week.items, *week.deleted) if i.project == project]
        used += [n for i in (*week.items, *week.deleted) for p, n in i.moved_from if p == project]
        assert len(used) == len(set(used))


def test_nights_flag_and_clear_jira_work_and_each_day_keeps_its_flags(base, night, week):
    at_dusk = by_handle(base)
    tonight = [h for h, i in by_handle(night).items() for c in i.changes if c.field == "flagged" and c.at >= base.now]
    assert tonight and all(at_dusk[h].state in (IN_PROGRESS, REVIEW) for h in tonight)  # work under way
    after = by_handle(week)
    new = [(h, c) for h, i in after.items() for c in i.changes if c.field == "flagged" and c.at >= base.now]
    assert {c.new for _, c in new} == {IMPEDIMENT, None}  # set on some work, cleared on other
    assert all(h[0] != GITHUB for h, _ in new)  # GitHub has no Flagged field
    for handle, item in after.items():
        flags = [c.new for c in item.changes if c.field == "flagged"]
        assert item.flagged == bool(flags and flags[-1])
        if handle in at_dusk:  # a past day's flag is what the history up to that day says
            past = replace(item, changes=tuple(c for c in item.changes if c.at < base.now))
            assert at_dusk[handle].flagged == past.flagged
    # and the tracker serves the flag of its own day
    item = next(after[h] for h, c in new if h[0] == "jira-cloud" and after[h].flagged)
    with serve(week) as sandbox:
        url = f"{sandbox.site_url('jira-cloud')}/rest/api/3/issue/{item.project}-{item.number}"
        fields = requests.get(url, params={"fields": "customfield_10021"}, timeout=10,
                              headers={"Authorization": f"Bearer {SANDBOX_TOKEN}"}).json()["fields"]
    assert [o["value"] for o in fields["customfield_10021"]] == [IMPEDIMENT]
