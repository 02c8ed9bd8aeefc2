"""connectors.pacing on a fake clock: the window budget, Retry-After and X-RateLimit-Reset."""

from __future__ import annotations

import threading
import time

import pytest

from connectors.pacing import LaneFreeSleep, Lanes, Limits, Pacer


class FakeTime:
    def __init__(self) -> None:
        self.now = 1000.0

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def pacer(limits: Limits) -> tuple[Pacer, FakeTime]:
    t = FakeTime()
    return Pacer("github", limits, clock=t.clock, sleep=t.sleep, wall=t.clock), t


def test_no_window_ever_holds_more_than_its_points():
    p, t = pacer(Limits(points=5, window_seconds=10.0))
    sent = []
    for _ in range(23):
        with p.request("GET"):
            sent.append(t.now)
            t.now += 0.1  # the answer takes 0.1 s
    for start in sent:
        assert sum(1 for s in sent if start <= s < start + 10.0) <= 5
    assert sent[-1] - sent[0] >= 40  # 23 requests at 5 per 10 s need four more windows


def test_a_write_costs_five_points():
    p, t = pacer(Limits(points=6, window_seconds=60.0))
    with p.request("POST"):
        pass
    with p.request("GET"):
        pass
    assert t.now == 1000.0
    with p.request("GET"):
        pass
    assert t.now >= 1060.0


def test_retry_after_holds_every_request_back():
    p, t = pacer(Limits())
    p.observe(429, {"Retry-After": "7"})
    with p.request("GET"):
        assert t.now >= 1007.0


def test_an_exhausted_budget_waits_for_its_reset():
    p, t = pacer(Limits())
    p.observe(200, {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(int(t.now) + 30)})
    with p.request("GET"):
        assert t.now >= 1030.0
    p.observe(200, {"X-RateLimit-Remaining": "12", "X-RateLimit-Reset": str(int(t.now) + 30)})
    before = t.now
    with p.request("GET"):
        assert t.now == before


def test_no_budget_means_no_waiting():
    p, t = pacer(Limits(points=None))
    for _ in range(1000):
        with p.request("GET"):
            pass
    assert t.now == 1000.0


def test_sites_share_the_syncs_lanes_and_a_thread_held_back_holds_none():
    """Two sites' threads within one Lanes(2): never more than two requests in flight in all; a
    thread that waits for its site's budget holds no lane, so the other site's requests go on."""
    lanes = Lanes(2)
    busy = Pacer("jira", Limits(), lanes=lanes)
    starved = Pacer("github", Limits(points=1, window_seconds=3600.0), lanes=lanes)
    with starved.request("GET"):
        pass  # its one point is spent: the next request waits for the hour to pass
    lock, in_flight, most, sent = threading.Lock(), [0], [0], []

    def send(pacer: Pacer) -> None:
        with pacer.request("GET"):
            with lock:
                in_flight[0] += 1
                most[0] = max(most[0], in_flight[0])
            time.sleep(0.01)
            with lock:
                in_flight[0] -= 1
                sent.append(pacer.site)

    waiting = threading.Thread(target=send, args=(starved,), daemon=True)  # stays held back
    waiting.start()
    threads = [threading.Thread(target=send, args=(busy,)) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=10)
    assert sent == ["jira"] * 8 and most[0] == 2 and waiting.is_alive()


def test_a_wait_inside_a_request_gives_the_lane_back():
    """The HTTP layer's retry waits (backoff, Retry-After) happen inside a request: the lane goes
    back for the wait, so another site's thread can send; and both retry policies do so."""
    from connectors.github_source import RateLimitRetry
    from connectors.jira_source import ServerErrorRetry

    lanes, free_while_waiting = Lanes(1), []

    class Waits:
        def sleep(self, response=None) -> None:
            got = lanes._free.acquire(blocking=False)  # another thread taking the one lane
            free_while_waiting.append(got)
            if got:
                lanes._free.release()

    class Retry(LaneFreeSleep, Waits):
        pass

    with lanes:
        Retry().sleep()
        assert not lanes._free.acquire(blocking=False)  # taken again after the wait
    Retry().sleep()  # a thread without a lane just waits
    assert free_while_waiting == [True, True]
    assert issubclass(RateLimitRetry, LaneFreeSleep) and issubclass(ServerErrorRetry, LaneFreeSleep)


def test_a_wait_told_while_queued_for_a_lane_is_kept():
    """Admitted by its site, then queued for a lane while an answer told the site to wait 30 s: the
    request goes out only after the wait, and holds no lane during it."""
    lanes = Lanes(1)
    p, t = pacer(Limits(points=None))
    p.lanes = lanes
    sent, lock = [], threading.Lock()

    def send() -> None:
        with p.request("GET"):
            with lock:
                sent.append(t.now)

    lanes.__enter__()  # another site's request holds the one lane
    queued = threading.Thread(target=send)
    queued.start()
    time.sleep(0.05)  # admitted (no budget), now waiting for the lane
    p.observe(429, {"Retry-After": "30"})
    told = t.now
    lanes.__exit__()
    queued.join(timeout=10)
    assert sent and sent[0] >= told + 30


def test_the_bench_knows_the_default_concurrency():
    """bench/run.py's latency floor divides by the requests in flight at the default settings."""
    from bench.run import REQUESTS_IN_FLIGHT, SITE_CONCURRENCY
    from connectors.github_source import GithubSite
    from connectors.jira_source import JiraSite
    from pipelines.config import SyncSettings
    from sandbox.scenario import GITHUB, JIRA_CLOUD, JIRA_DC

    assert SITE_CONCURRENCY == {JIRA_CLOUD: JiraSite("j", "u", "t").concurrency,
                                JIRA_DC: JiraSite("j", "u", "t").concurrency,
                                GITHUB: GithubSite("g", "u", "t").concurrency}
    assert REQUESTS_IN_FLIGHT == SyncSettings().requests_in_flight == Lanes().lanes


def test_the_bench_knows_githubs_points_budget():
    """bench/run.py's pace floor: the budget the connector paces by and the sandbox enforces, a
    budget's worth of GETs at once and each next budget a window later."""
    from bench.run import pace_floor
    from sandbox.limits import SecondaryLimits

    github, enforced = Limits.github(), SecondaryLimits()
    assert (github.points, github.window_seconds) == (enforced.points, enforced.window_seconds) == (900, 60.0)
    assert pace_floor(0, 0.05) == 0.0
    assert pace_floor(1, 0.05) == pace_floor(900, 0.05) == 0.05  # within one budget: only the latency
    assert pace_floor(901, 0.05) == 60.05 and pace_floor(1800, 0.05) == 60.05
    assert pace_floor(3709, 0.05) == 240.05  # the 100,000-item portfolio's repositories, full


def test_shards_split_a_sites_limits_so_that_together_they_keep_within_them():
    github = Limits.github()
    for n in (1, 2, 3, 4, 7):
        share = github.share(n)
        assert share.points * n <= github.points and share.max_in_flight * n <= github.max_in_flight
        assert share.window_seconds == github.window_seconds
    assert Limits.jira().share(4).points is None and Limits(max_in_flight=2, points=3).share(8) == Limits(1, 1, 60.0)


def test_a_lane_that_could_not_be_taken_again_is_not_given_back_twice():
    """The writer stopped while a request slept inside its lane: taking the lane again fails, and
    the request's end gives back nothing more (one lane stays one lane)."""
    lanes = Lanes(1)

    def stopped():
        raise RuntimeError("the warehouse writer stopped")

    with pytest.raises(RuntimeError, match="writer stopped"):
        with lanes, lanes.admitting(stopped, stopped), Lanes.set_aside():
            pass
    assert lanes._free.acquire(blocking=False) and not lanes._free.acquire(blocking=False)


def _queued(units, target) -> threading.Thread:
    """``target`` in a thread of its own, returned once it waits in ``units`` (a ``_LongestFirst``),
    so that the arrival order of the threads started one after another is known."""
    queued = units.waiting
    thread = threading.Thread(target=target)
    thread.start()
    deadline = time.monotonic() + 10
    while units.waiting == queued and time.monotonic() < deadline:
        time.sleep(0.001)
    return thread


def _queue_for_a_lane(lanes: Lanes, expected: int | None, order: list[str], name: str) -> threading.Thread:
    """A thread that says how long its chain is, waits for ``lanes`` and notes when it got one."""
    def send() -> None:
        Lanes.expect(expected)
        with lanes:
            order.append(name)

    return _queued(lanes._free, send)


def test_a_free_lane_goes_to_the_longest_chain_and_equals_go_in_arrival_order():
    """A thread whose chain is not known ranks as UNKNOWN_CHAIN requests: behind longer known
    chains, ahead of shorter ones."""
    from connectors.pacing import UNKNOWN_CHAIN

    lanes, order = Lanes(1), []
    with lanes:  # the one lane is taken: every thread below queues
        threads = [_queue_for_a_lane(lanes, expected, order, name) for expected, name in (
            (1, "one left"), (5, "five left, first"), (None, "not known"), (UNKNOWN_CHAIN + 1, "longer than not known"),
            (3, "three left"), (5, "five left, second"))]
        assert lanes._free.waiting == 6 and order == []
    for t in threads:
        t.join(timeout=10)
    assert order == ["longer than not known", "not known", "five left, first", "five left, second", "three left",
                     "one left"]
    assert lanes._free.acquire(blocking=False) and not lanes._free.acquire(blocking=False)  # Lanes(1): one back


def test_a_thread_passed_over_too_long_is_next_whatever_the_others_expect():
    """A chain's last requests rank lowest; after LONGEST_WAIT_SECONDS of others going first, the
    earliest waiter gets the next lane (on a fake clock)."""
    from connectors.pacing import _LongestFirst

    now = [0.0]
    units, order = _LongestFirst(1, longest_wait=2.0, clock=lambda: now[0]), []
    units.acquire()

    def wait_for_one(priority: int, name: str) -> threading.Thread:
        return _queued(units, lambda: (units.acquire(priority), order.append(name)))

    threads = [wait_for_one(1, "short, waiting since 0 s")]
    now[0] = 1.0
    threads += [wait_for_one(9, "long, since 1 s"), wait_for_one(9, "long, since 1 s, later")]
    units.release()  # 1 s waited: the longest chain first
    threads[1].join(timeout=10)
    now[0] = 2.5
    units.release()  # 2.5 s: the short one has waited long enough
    threads[0].join(timeout=10)
    units.release()
    threads[2].join(timeout=10)
    assert order == ["long, since 1 s", "short, waiting since 0 s", "long, since 1 s, later"]
    units.release()
    assert units.acquire(blocking=False) and not units.acquire(blocking=False)


def test_lanes_refuse_a_release_never_taken_and_a_size_below_one():
    from connectors.pacing import _LongestFirst

    lanes = Lanes(2)
    with pytest.raises(ValueError):
        lanes._free.release()
    with pytest.raises(ValueError):
        _LongestFirst(0)


def test_a_github_chain_knows_its_pages_left_from_its_links():
    from connectors.github_source import _pages_left

    link = ('<https://api.github.com/repositories/3710711/issues/events?per_page=50&page=2>; rel="next", '
            '<https://api.github.com/repositories/3710711/issues/events?per_page=50&page=78>; rel="last"')
    assert _pages_left("https://api.github.com/repositories/3710711/issues/events?per_page=50&page=2", link) == 77
    assert _pages_left("https://x/issues?page=5", '<https://x/issues?page=5>; rel="next"') == 1  # no last: one at least
    assert _pages_left(None, '<https://x/issues?page=1>; rel="first"') == 0  # the last page


def test_a_jira_offset_chain_expects_its_pages_left():
    """Data Center's search says ``total`` on its first page: the thread then expects the pages
    still to read, and nothing once the chain ends."""
    from connectors.jira_source import JiraSource

    seen = []

    class Client:
        def search_issues(self, query, startAt, maxResults, **kwargs):
            seen.append(getattr(Lanes._held, "expected", None))
            return {"total": 250, "issues": [{"id": str(i)} for i in range(startAt, min(startAt + 100, 250))]}

    source = JiraSource.__new__(JiraSource)
    source.client = Client()
    taken = []  # what the caller's own requests rank as while it takes each page
    for page in source._pages_by_offset("project = A", ["summary"], 100, None):
        taken.append((len(page), getattr(Lanes._held, "expected", None)))
        Lanes.expect(7)  # the caller's requests (remote links) say their own: the next page ignores it
    assert taken == [(100, 2), (100, 1), (50, None)]
    assert seen[1:] == [2, 1] and getattr(Lanes._held, "expected", None) is None


def test_a_project_starts_with_no_hint_left_by_the_last_one_and_relations_count_down():
    """``_in_parallel``'s threads are a pool's: each project starts unknown. A repository's
    relation lists rank by the lists still to read."""
    from pipelines import ingest

    hints = []

    class Reader:
        def worker(self):
            return self

        def sub_issues(self, repo, number):
            hints.append(("sub", number, getattr(Lanes._held, "expected", None)))
            return []

        def blocked_by(self, repo, number):
            hints.append(("blocked", number, getattr(Lanes._held, "expected", None)))
            return []

    class Writer:
        def land(self, *args, **kwargs):
            return 0

        def run(self, *args, **kwargs):
            return None

    class Con:
        def cursor(self):
            return self

        def close(self):
            pass

    def one(cur, reader, key):
        hints.append((key, getattr(Lanes._held, "expected", None)))
        Lanes.expect(40)  # left behind by this project's last chain
        if key == "acme/web":
            ingest._refresh_relations(Writer(), key, reader, "github", key, [(1, True, True), (2, False, False),
                                                                             (3, False, True)], "s1", True)
        return key

    ingest._in_parallel(Con(), Reader(), ["acme/api", "acme/web"], 1, one)
    assert hints == [("acme/api", None), ("acme/web", None), ("sub", 1, 3), ("blocked", 1, 2), ("blocked", 3, 1)]
    assert getattr(Lanes._held, "expected", None) is None  # done: the thread does not know what is next
