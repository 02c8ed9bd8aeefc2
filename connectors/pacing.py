"""Pacing requests by a tracker's documented limits instead of fixed sleeps.

PyGithub spaces a client's requests by a fixed 0.25 s, which keeps one thread clear of GitHub's
secondary limits and doubles a sync's wall time; two threads already ignore it. What GitHub
documents instead (TRACKER_APIS.md): at most 100 requests in flight, at most 900 points a minute
for REST (a GET is 1 point, a write 5), ``Retry-After`` on a secondary limit, and
``X-RateLimit-Remaining``/``-Reset`` for the hourly budget. Jira Cloud answers its burst limits
with 429 and ``Retry-After`` (and ``X-RateLimit-Remaining``/``-Reset``); Data Center's admin-set
limits say the same. So one ``Pacer`` per site, shared by every thread that reads the site:

- at most ``max_in_flight`` requests at once;
- at most ``points`` in any ``window_seconds`` (a sliding window: then no fixed minute holds more
  either), where the site has such a budget;
- after an answer that says wait (``Retry-After``; a budget at 0 until its reset), every thread
  waits, not just the one that was told;
- within the sync's own ``Lanes``, shared by every site: the requests the client keeps in flight
  at once. A sync reads more projects at once than it has lanes, so a project busy landing a
  page, or at the serial end of its pagination, never leaves a lane idle; a free lane goes to the
  thread whose page chain has the most requests left (``Lanes.expect``), so that no long chain is
  left to finish alone.

Only the waiting is here; sending again is the HTTP layer's retry (urllib3's ``Retry`` reads the
same ``Retry-After``)."""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from datetime import datetime
from typing import Any

log = logging.getLogger(__name__)

# GitHub's points: reads 1, writes 5 (the connectors' only POSTs are Jira's, which has no points).
WRITE_METHODS = frozenset({"POST", "PATCH", "PUT", "DELETE"})
# The longest wait an answer can impose; a Retry-After beyond it is a misconfigured proxy.
MAX_WAIT_SECONDS = 15 * 60
# Requests a sync keeps in flight at once over all its sites (program.yaml sync.requests_in_flight).
# The client and a sandbox sharing 2 cores: a full sync of the 10k portfolio's 32 peer projects
# took 11.6 s with 4 threads a site and no shared budget (up to 8 in flight), 8.5 s with 16
# threads a site and 8 lanes, 8.0-8.8 s with 10, 9.2-9.7 s with 6 (bench/run.py's scenario).
REQUESTS_IN_FLIGHT = 8
# Projects a site reads at once, a thread each (JiraSite/GithubSite.concurrency): more than the
# lanes, since a thread spends part of its time landing what it read; it holds no lane meanwhile.
PROJECTS_AT_ONCE = 16


# Where a thread whose chain's length is not known yet (its first page, a single call) ranks for a
# lane: behind chains known to be longer, ahead of shorter ones. Measured on the 10k portfolio's
# 32 peer projects (five rounds, in turn): 6.99 s median with lanes in arrival order, 6.33 s
# ranking it at 4, 6.03 s at 8, 5.88 s at 16 and 5.89 s ahead of every known chain, whose long
# ones then waited up to 0.9 s a page behind first pages at the start.
UNKNOWN_CHAIN = 16


# The longest a thread waits for a lane while chains expecting more requests go first: then it is
# next, whatever they expect. A chain's last requests rank lowest and would otherwise wait for
# every longer chain to end (a chain sends a request every 60-80 ms on the bench's 50 ms sandbox,
# so this seldom reorders anything there; on a slow tracker it bounds the wait).
LONGEST_WAIT_SECONDS = 2.0


class _Waiter:
    __slots__ = ("since", "gate", "done")

    def __init__(self, since: float) -> None:
        self.since, self.gate, self.done = since, threading.Lock(), False
        self.gate.acquire()


class _LongestFirst:
    """A semaphore that hands a released unit to the waiter with the highest priority (the
    earliest among equals), or to the earliest waiter once it has waited ``longest_wait``
    seconds; directly: no herd of threads wakes to race for it."""

    def __init__(self, units: int, longest_wait: float = LONGEST_WAIT_SECONDS,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if units < 1:
            raise ValueError(f"a semaphore of {units} units would never block")
        self.units, self._free = units, units
        self.longest_wait, self._clock = longest_wait, clock
        self._lock = threading.Lock()
        self._by_priority: list[tuple[int, int, _Waiter]] = []  # (-priority, arrival, waiter)
        self._by_arrival: deque[_Waiter] = deque()
        self._arrivals = itertools.count()
        self.waiting = 0

    def acquire(self, priority: int = 0, *, blocking: bool = True) -> bool:
        with self._lock:
            if self._free and not self.waiting:
                self._free -= 1
                return True
            if not blocking:
                return False
            waiter = _Waiter(self._clock())
            heapq.heappush(self._by_priority, (-priority, next(self._arrivals), waiter))
            self._by_arrival.append(waiter)
            self.waiting += 1
        try:
            waiter.gate.acquire()  # released by ``release``, which hands this thread the unit
        except BaseException:
            with self._lock:
                if not waiter.done:  # never handed one: out of the queue (both lists skip it)
                    waiter.done = True
                    self.waiting -= 1
                    raise
            self.release()  # handed one as it was interrupted: pass it on
            raise
        return True

    def release(self) -> None:
        with self._lock:
            if self.waiting:
                waiter = self._next()
                waiter.done = True
                self.waiting -= 1
                waiter.gate.release()
            elif self._free < self.units:
                self._free += 1
            else:
                raise ValueError("released more often than acquired")

    def _next(self) -> _Waiter:
        """The earliest waiter if it has waited too long, else the highest priority's (entries
        already served or given up are dropped from either list as they come up)."""
        while self._by_arrival[0].done:
            self._by_arrival.popleft()
        if self._clock() - self._by_arrival[0].since >= self.longest_wait:
            return self._by_arrival.popleft()
        while (waiter := heapq.heappop(self._by_priority)[2]).done:
            pass
        return waiter


class Lanes:
    """A sync's budget of requests in flight, shared by every site's ``Pacer``: a site whose
    projects are done leaves its lanes to the sites still reading, so the sync's requests keep
    the client busy until the last one. A thread that waits inside a request (the HTTP layer's
    retry backoff, a ``Retry-After``: ``set_aside``) gives its lane back meanwhile, so a site told
    to wait, even for an hour, holds none of the lanes the other sites read with."""

    _held = threading.local()  # the Lanes whose lane the current thread holds, if any

    def __init__(self, lanes: int = REQUESTS_IN_FLIGHT) -> None:
        self.lanes = lanes
        self._free = _LongestFirst(lanes)
        self._room: tuple[Callable[[], bool], Callable[[], None]] | None = None

    @staticmethod
    def expect(requests: int | None) -> None:
        """How many requests the calling thread's chain still has to send, as a first page's total
        or ``rel="last"`` says (None: not known, the default, which ranks as ``UNKNOWN_CHAIN``).
        A free lane goes to the waiting thread that expects the most: the longest chains go on
        while the short ones fill the gaps, instead of the longest finishing alone at the end,
        one request at a time. Each chain has one request in flight at most, so the long ones
        never hold more lanes than there are of them."""
        Lanes._held.expected = requests

    def __enter__(self) -> None:
        while True:
            expected = getattr(Lanes._held, "expected", None)
            self._free.acquire(UNKNOWN_CHAIN if expected is None else expected)
            try:
                ready = (room := self._room) is None or room[0]()
            except BaseException:  # the writer stopped: no lane taken
                self._free.release()
                raise
            if ready:
                break
            self._free.release()  # the writer's queue is full: wait for room on no lane, then again
            room[1]()
        Lanes._held.lanes = self

    @contextmanager
    def admitting(self, has_room: Callable[[], bool], wait_for_room: Callable[[], None]) -> Iterator[None]:
        """A lane is taken only while ``has_room()`` (the writer's queue can take a page); else it
        is given back until ``wait_for_room`` returns. A fetched page waits in its thread until the
        writer's queue takes it: with 16 projects a site read at once, a writer behind held a page
        in each of those threads, and the more projects a portfolio has, the more of them were
        busy. Now a page is asked for only when there was room as its lane was taken, so the
        pages held beside the queue are about the lanes', whatever the portfolio."""
        self._room = (has_room, wait_for_room)
        try:
            yield
        finally:
            self._room = None

    def __exit__(self, *exc: object) -> None:
        if getattr(Lanes._held, "lanes", None) is not self:
            return  # never taken: set_aside's retaking failed (the writer stopped), nothing to give
        Lanes._held.lanes = None
        self._free.release()

    @staticmethod
    @contextmanager
    def set_aside() -> Iterator[None]:
        """The calling thread's lane given back for the ``with`` block (a wait), and one taken again
        after it; nothing when the thread holds none."""
        lanes = getattr(Lanes._held, "lanes", None)
        if lanes is None:
            yield
            return
        lanes.__exit__()
        try:
            yield
        finally:
            lanes.__enter__()


class LaneFreeSleep:
    """A urllib3 ``Retry`` mixin: its waits (backoff, ``Retry-After``) happen inside a request,
    and so inside the lane the request took; they give the lane back while they last."""

    def sleep(self, response: Any = None) -> None:
        with Lanes.set_aside():
            super().sleep(response)  # type: ignore[misc]


@dataclass(frozen=True)
class Limits:
    """A site's request limits (program.yaml ``limits:`` on a site changes them)."""

    max_in_flight: int = 100
    points: int | None = None  # at most this many points in any window (None: no such budget)
    window_seconds: float = 60.0

    @classmethod
    def github(cls) -> Limits:
        """GitHub's documented secondary limits for REST: 100 concurrent, 900 points a minute."""
        return cls(max_in_flight=100, points=900, window_seconds=60.0)

    @classmethod
    def jira(cls) -> Limits:
        """Jira publishes no numbers (Cloud's burst limits answer 429 with Retry-After)."""
        return cls(max_in_flight=100)

    def share(self, processes: int) -> Limits:
        """One of ``processes`` equal shares: a site's limits are its token's, whichever process
        spends them, so N processes that each kept the whole budget would spend N times it
        (a scaled-out sync's shards: warehouse/landing.py)."""
        n = max(1, processes)
        return Limits(max_in_flight=max(1, self.max_in_flight // n),
                      points=None if self.points is None else max(1, self.points // n),
                      window_seconds=self.window_seconds)


class Pacer:
    """Admits a site's requests within its ``Limits`` and holds every thread back when told to."""

    def __init__(self, site: str, limits: Limits, *, lanes: Lanes | None = None,
                 clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep, wall: Callable[[], float] = time.time) -> None:
        self.site, self.limits, self.lanes = site, limits, lanes
        self._clock, self._sleep, self._wall = clock, sleep, wall
        self._slots = threading.BoundedSemaphore(limits.max_in_flight)
        self._lock = threading.Lock()
        self._spent: deque[list] = deque()  # [when, points] within the window
        self._in_window = 0
        self._resume_at = 0.0
        self.waited = 0.0  # seconds threads spent held back, in all (for tests and logs)

    @contextmanager
    def request(self, method: str = "GET") -> Iterator[None]:
        """Hold a slot while one request is on the wire, once the budget allows it, and a lane of
        the sync's (taken last: a thread held back by the site's budget holds no lane)."""
        self._slots.acquire()
        spent = None
        try:
            spent = self._admit(5 if method.upper() in WRITE_METHODS else 1)
            with self.lanes or nullcontext():
                self._hold_if_told()
                yield
        finally:
            if spent is not None:
                # Counted from when the answer came, not from when it was asked: the tracker counted
                # it on arrival, in between, so the window here never ends before the tracker's does.
                with self._lock:
                    spent[0] = self._clock()
            self._slots.release()

    def _hold_if_told(self) -> None:
        """A wait the site asked for while this thread queued for a lane: kept, without the lane
        (admitted before the answer that said wait, the request would otherwise go out inside it)."""
        while (wait := self._resume_at - self._clock()) > 0:
            self.waited += min(wait, 1.0)
            with Lanes.set_aside():
                self._sleep(min(wait, 1.0))

    def spend(self, points: int) -> None:
        """Count requests the HTTP layer sent by itself (its retries) against the budget."""
        if points > 0 and self.limits.points is not None:
            with self._lock:
                self._spent.append([self._clock(), points])
                self._in_window += points

    def _admit(self, points: int) -> list | None:
        """Wait until the request may go; its entry in the window (None: the site has no budget)."""
        while True:
            with self._lock:
                now = self._clock()
                wait = self._resume_at - now
                if wait <= 0 and self.limits.points is not None:
                    # entries are in the order asked; one answered late keeps those behind it (a wait
                    # a little longer than needed, never shorter)
                    while self._spent and self._spent[0][0] <= now - self.limits.window_seconds:
                        self._in_window -= self._spent.popleft()[1]
                    if self._in_window + points > self.limits.points and self._spent:
                        wait = max(self._spent[0][0] + self.limits.window_seconds - now, 0.01)
                if wait <= 0:
                    if self.limits.points is None:
                        return None
                    entry = [now, points]
                    self._spent.append(entry)
                    self._in_window += points
                    return entry
            self.waited += wait
            self._sleep(min(wait, 1.0))

    def observe(self, status: int, headers: Mapping[str, str]) -> None:
        """Read an answer's limit headers: ``Retry-After`` on a 403, 429 or 503 holds every thread
        back that long; a budget at ``X-RateLimit-Remaining: 0`` holds them until its reset."""
        wait = 0.0
        retry_after = headers.get("Retry-After")
        if status in (403, 429, 503) and retry_after:
            wait = _seconds(retry_after, self._wall())
        elif headers.get("X-RateLimit-Remaining") == "0" and (reset := headers.get("X-RateLimit-Reset")):
            wait = _until(reset, self._wall())
        if wait > 0:
            wait = min(wait, MAX_WAIT_SECONDS)
            with self._lock:
                self._resume_at = max(self._resume_at, self._clock() + wait)
            log.warning("%s: the tracker asks to wait %.1fs (HTTP %s); every request to it waits",
                        self.site, wait, status)


def _seconds(retry_after: str, now: float) -> float:
    """``Retry-After``: seconds, or an HTTP date."""
    try:
        return max(0.0, float(retry_after))
    except ValueError:
        pass
    try:
        from email.utils import parsedate_to_datetime
        return max(0.0, parsedate_to_datetime(retry_after).timestamp() - now)
    except (TypeError, ValueError):
        return 0.0


def _until(reset: str, now: float) -> float:
    """``X-RateLimit-Reset``: epoch seconds (GitHub) or an ISO 8601 instant (Jira Cloud)."""
    try:
        return max(0.0, float(reset) - now + 1)  # GitHub: plus a second, as its docs advise
    except ValueError:
        pass
    try:
        return max(0.0, datetime.fromisoformat(reset.replace("Z", "+00:00")).timestamp() - now)
    except ValueError:
        return 0.0
