"""Monte Carlo completion forecasts over weekly throughput (METRICS.md, "Forecast").

Pure and in memory: SQL prepares the inputs (one ``Target`` per milestone, project and program),
``simulate`` returns one ``Forecast`` per target, and the caller writes them to DuckDB. Nothing
here reads files or touches the warehouse, so the numbers can be tested by hand.

How a trial runs. A target's trial draws weeks at random, with replacement, from its throughput
window until the drawn items cover ``remaining``; its own completion is that number of weeks. Then,
in topological order of ``blocked_by``, the trial's completion becomes the maximum of its own and
its blockers' completions in the *same* trial, so a late blocker moves what it blocks. Completion
date = ``as_of`` + weeks × 7 days.

Semantics chosen here (the caller shows them; they are not silent):

- Determinism: each target draws from its own generator, seeded from ``settings.seed`` and a
  BLAKE2b digest of ``target_id``; a rerun gives identical dates and adding or removing an
  unrelated target changes no other target's draws. Its draws depend only on its own inputs.
- Pools: targets with the same ``pool`` (one team's queue of milestones, each ``remaining``
  counting the milestones before it) read one sequence of weeks per trial, from a generator
  seeded by the pool. Each member's own distribution is unchanged (the same draws, read to its
  own total); what changes is the joint one: in every trial a member with more remaining finishes
  on or after one with less, as the team's queue does. The pool is drawn once, to its largest
  total, so a project's milestones cost about the draws of its last one.
- Horizon: a trial that has not covered ``remaining`` after ``horizon_weeks`` is *unfinished*. It
  sorts after every date: a percentile that lands on unfinished trials is ``None`` and the status
  is ``'beyond horizon'`` (the earlier percentiles keep their dates); ``unfinished`` gives the
  share. An unfinished trial is never on time, whatever the due date.
- Insufficient data: ``remaining > 0`` and no throughput in the window (no weeks, or all zero)
  gives status ``'insufficient data'``, no dates and no P(on time). It propagates: a target whose
  blocker (directly or through others) has insufficient data is itself ``'insufficient data'``,
  with ``blocked_by_insufficient`` naming the targets that lack throughput. A blocker is never
  dropped to make a date appear.
- Cycles: the members of a strongly connected component of ``blocked_by`` cannot finish before
  each other, so in each trial they all finish at the latest of them (and of their outside
  blockers). Each member reports the component in ``cycle``.
- Unknown ids in ``blocked_by`` are ignored and listed in ``unknown_blockers`` (with a note in
  ``reason``); a target naming itself is ignored silently, since items blocking items of the same
  milestone are already inside its throughput.
- ``'done'``: nothing remaining and every blocker done, so every trial completes at ``as_of``.

Percentiles are inverted-CDF: the smallest date by which at least p % of trials finished, so
P50 <= P70 <= P85 <= P95 always, and P(on time) counts the trials that finished on or before ``due``.

Vectorised: per target, one (weeks × trials) matrix of draws per chunk, accumulated row by row (each
row a vector over all trials: numpy's ``cumsum`` along an axis of a 2-D array is 5-10 times
slower), then the first week whose running total covers ``remaining``; only unfinished trials are
drawn again. Weeks no trial can finish in (fewer than ``remaining`` / best week) are only summed.
Chunks hold at most ``_CHUNK_CELLS`` draws, so memory stays bounded (peak ~85 MB at 10,000
trials), and a trial vector is released once everything it blocks has been computed. Python loops
run over targets, components, chunks and the weeks of a chunk, never over trials or items.

Measured at the bench's 100,000 items (1,560 targets, 1,000 of them milestones with items left in
500 project pools), warm in one process: 0.54-0.68 s, against 0.78 s when each milestone drew its
own weeks (a first call in a process costs about 0.3 s more: glibc growing its heap).
Measured on a shared 2-core box (numpy 2.4, Python 3.11), without pools: 2,000 targets × 10,000 trials in
2.4-3.0 s (5 runs; up to ~4.5 s while other jobs ran), with 1,600 milestones (0-120 items
left, 12-week Poisson throughput of mean 0.5-8, up to 2 blockers each), 350 projects (50-600
left, mean 5-30) and 50 program roll-ups; about 24 drawn weeks per trial on average, ~5 ns per
trial-week. It is one thread: a thread pool over targets was tried and gained nothing (the work
is memory-bound, two processes slowed each other as much). ``test_portfolio_scale`` runs it.
"""

from __future__ import annotations

import functools
import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np

PERCENTILES: tuple[int, ...] = (50, 70, 85, 95)

FORECAST = "forecast"
DONE = "done"
INSUFFICIENT = "insufficient data"
BEYOND_HORIZON = "beyond horizon"

# Draws per chunk: bounds the (weeks × trials) matrices to ~25 MB whatever the scope left.
_CHUNK_CELLS = 1 << 21
# Largest table of week codes (see _week_table): small enough to build per target and stay in cache.
_TABLE_CODES = 4096


@dataclass(frozen=True)
class Target:
    """One thing to forecast: a milestone, a project (``project:<site>:<key>``) or a program
    (``program:<id>``, usually ``remaining=0`` and blocked by its milestones and projects)."""

    target_id: str
    throughput: tuple[int, ...]  # weekly done counts of the window that drives it, zero weeks included
    remaining: int  # open items left (>= 0)
    due: date | None  # target date for P(on time); None -> p_on_time None
    blocked_by: tuple[str, ...] = ()  # target_ids it cannot finish before, in the same trial
    # Targets of one pool (one team's queue: a project's milestones, whose ``remaining`` count the
    # milestones due before them too) read the same drawn weeks in each trial, so they finish in
    # the order of their ``remaining`` in every trial. None: draws of its own.
    pool: str | None = None


@dataclass(frozen=True)
class Settings:
    trials: int = 10_000
    seed: int = 0
    horizon_weeks: int = 520  # trials not finished by then are unfinished: later than any date


@dataclass(frozen=True)
class Forecast:
    target_id: str
    status: str  # 'forecast' | 'done' | 'insufficient data' | 'beyond horizon'
    p50: date | None
    p70: date | None
    p85: date | None
    p95: date | None
    p_on_time: float | None  # None when there is no due date or no forecast
    trials: int  # trials the figures rest on: settings.trials, or 0 with insufficient data
    unfinished: float | None = None  # share of trials not finished within the horizon
    blocked_by_insufficient: tuple[str, ...] = ()  # blockers (direct or not) with no throughput
    cycle: tuple[str, ...] = ()  # members of its blocking cycle, itself included; () if none
    unknown_blockers: tuple[str, ...] = ()  # ids in blocked_by that are not targets (ignored)
    reason: str | None = None  # a sentence for a reader: why no date, why beyond horizon, cycles
    # What decides the finish: the blocker whose completion is the latest in most trials (its own
    # work on a tie), or None when its own work does; and the share of trials where that holds.
    decided_by: str | None = None
    decided_share: float | None = None


def simulate(targets: Sequence[Target], as_of: date, settings: Settings = Settings()) -> list[Forecast]:
    """Forecast every target, in input order. Raises ValueError on duplicate ids, negative counts
    or settings out of range; everything else (cycles, unknown blockers, no history) is reported."""
    _check(targets, settings)
    ids = [t.target_id for t in targets]
    position = {target_id: i for i, target_id in enumerate(ids)}
    edges = [sorted({position[b] for b in t.blocked_by if b in position and b != t.target_id})
             for t in targets]
    unknown = [tuple(sorted({b for b in t.blocked_by if b not in position})) for t in targets]

    components = _components(edges)  # blockers before what they block
    component_of = [0] * len(targets)
    for c, members in enumerate(components):
        for m in members:
            component_of[m] = c
    outside = [sorted({component_of[b] for m in members for b in edges[m]} - {c})
               for c, members in enumerate(components)]
    dependents = [0] * len(components)
    for blockers in outside:
        for b in blockers:
            dependents[b] += 1

    own = _OwnWeeks(targets, settings)
    weeks: dict[int, np.ndarray] = {}  # component -> completion weeks per trial, while still needed
    lacking: list[frozenset[int]] = []  # component -> targets with no throughput that it waits on
    results: list[Forecast | None] = [None] * len(targets)
    for c, members in enumerate(components):
        missing = {m for m in members if _lacks_throughput(targets[m])}
        for b in outside[c]:
            missing |= lacking[b]
        lacking.append(frozenset(missing))
        vector, decided_by, decided_share = None, None, None
        if not missing:
            vector = np.zeros(settings.trials, np.int32)
            for m in members:
                np.maximum(vector, own.take(m), out=vector)
            if outside[c]:  # each blocking component named by its first direct blocker's id
                named = sorted((min(ids[x] for m in members for x in edges[m] if component_of[x] == b), b)
                               for b in outside[c])
                decided, decided_share = _decider(vector, [weeks[b] for _, b in named])
                decided_by = named[decided][0] if decided is not None else None
            for b in outside[c]:
                np.maximum(vector, weeks[b], out=vector)
            if dependents[c]:
                weeks[c] = vector
        for b in outside[c]:
            dependents[b] -= 1
            if not dependents[b]:
                weeks.pop(b, None)
        cycle = tuple(sorted(ids[m] for m in members)) if len(members) > 1 else ()
        for m in members:
            others = tuple(sorted(ids[x] for x in missing if x != m))
            results[m] = _summarise(targets[m], vector, as_of, settings, others, cycle, unknown[m],
                                    decided_by, decided_share)
    return [r for r in results if r is not None]


class _OwnWeeks:
    """Each target's own completion weeks per trial, drawn a pool at a time when its first member
    asks, and held only until every member has taken its vector."""

    def __init__(self, targets: Sequence[Target], settings: Settings) -> None:
        self._targets, self._settings = targets, settings
        self._members: dict[tuple[str, str], list[int]] = {}
        for i, t in enumerate(targets):
            self._members.setdefault(_draws_of(t), []).append(i)
        self._held: dict[int, np.ndarray] = {}

    def take(self, i: int) -> np.ndarray:
        if i not in self._held:
            target = self._targets[i]
            members = self._members[_draws_of(target)]
            vectors = _weeks_to_cover([self._targets[m].remaining for m in members], target.throughput,
                                      _draws_of(target)[1], self._settings)
            self._held.update(zip(members, vectors))
        return self._held.pop(i)


def _draws_of(target: Target) -> tuple[str, str]:
    """Whose draws a target reads, its pool's or its own, and the key they are seeded by (the kind
    keeps a pool apart from a target whose id happens to read "pool:...")."""
    return ("pool", f"pool:{target.pool}") if target.pool is not None else ("target", target.target_id)


def _decider(own: np.ndarray, blockers: list[np.ndarray]) -> tuple[int | None, float]:
    """Which of the blockers finishes last in most trials, and in what share of them; None when
    the target's own work does (it wins ties: a blocker decides only when strictly later)."""
    latest, who = own.copy(), np.zeros(own.size, np.intp)
    for i, blocker in enumerate(blockers, 1):  # strictly later: the first maximum keeps a tie
        who[blocker > latest] = i
        np.maximum(latest, blocker, out=latest)
    counts = np.bincount(who, minlength=len(blockers) + 1)
    winner = int(np.argmax(counts))
    return (winner - 1 if winner else None), float(counts[winner]) / own.size


def _check(targets: Sequence[Target], settings: Settings) -> None:
    if settings.trials < 1 or settings.horizon_weeks < 1 or settings.seed < 0:
        raise ValueError(f"settings out of range: {settings} (trials >= 1, horizon_weeks >= 1, seed >= 0)")
    if settings.horizon_weeks >= np.iinfo(np.int32).max:
        raise ValueError(f"horizon_weeks {settings.horizon_weeks} is too large")
    seen: set[str] = set()
    pools: dict[str, tuple[int, ...]] = {}
    for t in targets:
        if t.target_id in seen:
            raise ValueError(f"target_id {t.target_id!r} appears twice")
        seen.add(t.target_id)
        if t.remaining < 0 or any(w < 0 for w in t.throughput):
            raise ValueError(f"{t.target_id}: remaining and throughput must be >= 0")
        if t.pool is not None and pools.setdefault(t.pool, t.throughput) != t.throughput:
            raise ValueError(f"{t.target_id}: pool {t.pool!r} draws from one throughput window; "
                             "its targets give different ones")


def _lacks_throughput(target: Target) -> bool:
    return target.remaining > 0 and sum(target.throughput) == 0


def _rng(seed: int, target_id: str) -> np.random.Generator:
    # A stable digest, not hash(): Python salts str hashes per process, and reruns must agree.
    # 128 bits rather than crc32's 32, so two targets of a large portfolio never share a stream.
    digest = hashlib.blake2b(target_id.encode("utf-8"), digest_size=16).digest()
    return np.random.default_rng([seed, int.from_bytes(digest, "little")])


def _weeks_to_cover(remainings: Sequence[int], weekly: tuple[int, ...], key: str,
                    settings: Settings) -> list[np.ndarray]:
    """Weeks each trial needs for its running total of drawn weeks to cover each of ``remainings``
    (one vector per entry; horizon + 1 = unfinished), all from the same draws, seeded by ``key``:
    the targets of one pool read one sequence of weeks per trial. Zeros where nothing remains;
    unfinished everywhere when there is no throughput."""
    n, horizon = settings.trials, settings.horizon_weeks
    goals = sorted({r for r in remainings if r > 0})
    by_goal = {r: np.full(n, horizon + 1, np.int32) for r in goals}
    out = [by_goal[r] if r > 0 else np.zeros(n, np.int32) for r in remainings]
    if not goals or sum(weekly) == 0:
        return out
    top = goals[-1]
    throughput = np.asarray(weekly, np.int64)
    # The narrowest running totals that cannot overflow (carry < top, chunks <= horizon weeks):
    # int16 halves the memory traffic, which is most of the cost.
    ceiling = top + int(throughput.max()) * horizon
    total = np.int16 if ceiling < 2**15 else np.int32 if ceiling < 2**31 else np.int64
    table = _week_table(weekly, np.dtype(total).str)
    per_draw, codes = table.shape
    rng = _rng(settings.seed, key)

    # No trial covers the smallest goal in fewer than ceil(goal / best week) weeks, so the whole
    # blocks of draws before that are only summed: one lookup per block, no running totals.
    sure = min(horizon, -(-goals[0] // int(throughput.max())) - 1) // per_draw
    block_sums = table.sum(axis=0, dtype=total)
    carry = np.zeros(n, total)
    step = max(1, _CHUNK_CELLS // n)
    for start in range(0, sure, step):
        picks = rng.integers(0, codes, size=(min(step, sure - start), n), dtype=np.uint16)
        carry += block_sums.take(picks.astype(np.intp)).sum(axis=0, dtype=total)
    drawn = sure * per_draw

    mean = float(throughput.mean())
    first = drawn  # weeks drawn before the first chunk: no trial has covered a goal yet
    active = np.arange(n)  # trials that have not covered the largest goal
    pending = goals  # goals some trial has not covered yet
    while active.size and drawn < horizon:
        gap = top - float(carry.mean())
        k = min(horizon - drawn, max(1, _CHUNK_CELLS // active.size), math.ceil(gap / mean * 1.25) + 2)
        blocks = -(-k // per_draw)
        picks = rng.integers(0, codes, size=(blocks, active.size), dtype=np.uint16).astype(np.intp)
        draws = np.empty((blocks, per_draw, active.size), total)
        for j in range(per_draw):
            np.take(table[j], picks, out=draws[:, j, :], mode="clip")
        draws = draws.reshape(blocks * per_draw, active.size)[:k]
        draws[0] += carry
        for week in range(1, k):  # running totals, a row (all trials) at a time
            np.add(draws[week], draws[week - 1], out=draws[week])
        for goal in pending:
            short = _weeks_below(draws, goal)  # weeks of the chunk still short
            covered = short < k
            where = active[covered]
            weeks = short[covered].astype(np.int32) + (drawn + 1)
            if drawn > first:  # a trial that covered the goal in an earlier chunk keeps that (smaller) week
                np.minimum(weeks, by_goal[goal][where], out=weeks)
            by_goal[goal][where] = weeks
        last = draws[-1]
        pending = [goal for goal in pending if goal > int(last.min())]
        unfinished = last < top
        carry = last[unfinished]
        active = active[unfinished]
        drawn += k
    return out


def _weeks_below(totals: np.ndarray, goal: int) -> np.ndarray:
    """Per column (trial), how many of its running totals are below ``goal``. Summed as bytes
    where a column is shorter than 256 weeks: 5 times faster than ``count_nonzero(axis=0)``."""
    below = totals < goal
    if below.shape[0] < 256:
        return below.view(np.uint8).sum(axis=0, dtype=np.uint8)
    return below.sum(axis=0, dtype=np.int32)


@functools.lru_cache(maxsize=256)
def _week_table(weekly: tuple[int, ...], dtype: str) -> np.ndarray:
    """Several weeks per random draw: code c in [0, w**p) stands for the p weeks whose window
    indices are the base-w digits of c, so ``table[j, c]`` is week j's throughput. Exactly uniform
    and independent, like p separate draws, at a third of the cost of bounded draws (for w = 12)."""
    throughput = np.asarray(weekly, dtype=dtype)
    w = throughput.size
    per_draw = 1
    while w > 1 and w ** (per_draw + 1) <= _TABLE_CODES:
        per_draw += 1
    codes = np.arange(w**per_draw)
    digits = codes[None, :] // (w ** np.arange(per_draw))[:, None] % w
    table = throughput[digits]
    table.flags.writeable = False  # cached: the milestones of one project and day share a window
    return table


def _summarise(target: Target, weeks: np.ndarray | None, as_of: date, settings: Settings,
               missing: tuple[str, ...], cycle: tuple[str, ...], unknown: tuple[str, ...],
               decided_by: str | None = None, decided_share: float | None = None) -> Forecast:
    notes = []
    if _lacks_throughput(target):
        notes.append("no weeks in its throughput window" if not target.throughput
                     else f"no items done in its {len(target.throughput)}-week throughput window")
    if missing:
        notes.append(f"blocked by {', '.join(missing)}, with no throughput to forecast")
    if cycle:
        notes.append(f"in a blocking cycle with {', '.join(c for c in cycle if c != target.target_id)}: "
                     "they finish together")
    if unknown:
        notes.append(f"ignored unknown blockers {', '.join(unknown)}")

    if weeks is None:
        return Forecast(target.target_id, INSUFFICIENT, None, None, None, None, None, 0,
                        blocked_by_insufficient=missing, cycle=cycle, unknown_blockers=unknown,
                        reason="; ".join(notes))

    n, horizon = settings.trials, settings.horizon_weeks
    finished_by = np.cumsum(np.bincount(weeks, minlength=horizon + 2))  # trials done by week w
    dates: list[date | None] = []
    for p in PERCENTILES:
        week = int(np.searchsorted(finished_by, -(-p * n // 100)))  # first week with >= p % done
        dates.append(as_of + timedelta(weeks=week) if week <= horizon else None)
    unfinished = float(n - finished_by[horizon]) / n
    p_on_time = None
    if target.due is not None:
        days = (target.due - as_of).days
        p_on_time = float(finished_by[min(days // 7, horizon)]) / n if days >= 0 else 0.0

    if int(finished_by[0]) == n:
        status = DONE
    elif dates[-1] is None:
        status = BEYOND_HORIZON
        notes.insert(0, f"{unfinished:.1%} of trials not finished within {horizon} weeks")
    else:
        status = FORECAST
    return Forecast(target.target_id, status, *dates, p_on_time=p_on_time, trials=n,
                    unfinished=unfinished, cycle=cycle, unknown_blockers=unknown,
                    reason="; ".join(notes) or None, decided_by=decided_by, decided_share=decided_share)


def _components(edges: list[list[int]]) -> list[list[int]]:
    """Strongly connected components (Tarjan, iterative), each after every component it reaches,
    i.e. blockers first. Members are sorted so the output does not depend on traversal order."""
    n = len(edges)
    index = [-1] * n
    low = [0] * n
    on_stack = [False] * n
    stack: list[int] = []
    out: list[list[int]] = []
    counter = 0
    for root in range(n):
        if index[root] != -1:
            continue
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack[root] = True
        work = [(root, 0)]
        while work:
            v, i = work[-1]
            if i < len(edges[v]):
                work[-1] = (v, i + 1)
                u = edges[v][i]
                if index[u] == -1:
                    index[u] = low[u] = counter
                    counter += 1
                    stack.append(u)
                    on_stack[u] = True
                    work.append((u, 0))
                elif on_stack[u]:
                    low[v] = min(low[v], index[u])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[v])
            if low[v] == index[v]:
                members = []
                while True:
                    u = stack.pop()
                    on_stack[u] = False
                    members.append(u)
                    if u == v:
                        break
                out.append(sorted(members))
    return out
