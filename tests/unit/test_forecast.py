"""The Monte Carlo forecast: hand-worked cases, the exact distribution, and properties that hold
for any portfolio (percentile order, blockers, determinism, independence of unrelated targets)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import tracemalloc
from dataclasses import replace
from datetime import date, timedelta

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings as hypothesis_settings, strategies as st

from transforms.forecast import Forecast, Settings, Target, _covered_by_week, simulate

AS_OF = date(2026, 6, 1)


# One trial's share, with room for the rounding of a probability summed over weeks.
ONE_TRIAL = 1 / Settings().trials + 1e-9


def week(n: int) -> date:
    return AS_OF + timedelta(weeks=n)


def dates(f: Forecast) -> tuple[date | None, ...]:
    return (f.p50, f.p70, f.p85, f.p95)


def one(target: Target, settings: Settings = Settings()) -> Forecast:
    (result,) = simulate([target], AS_OF, settings)
    return result


def exact_cdf(throughput: tuple[int, ...], remaining: int, weeks: int) -> list[float]:
    """P(done within n weeks) for n = 0..weeks, by dynamic programming over the running total:
    the distribution the simulation samples, computed without sampling."""
    pending = np.zeros(remaining)
    pending[0] = 1.0
    cdf = [0.0]
    for _ in range(weeks):
        moved = np.zeros(remaining)
        for v in throughput:
            moved[v:] += pending[: remaining - v] / len(throughput) if v < remaining else 0
        pending = moved
        cdf.append(1.0 - float(pending.sum()))
    return cdf


# --- hand-worked cases ---------------------------------------------------------------------------

def test_constant_throughput_takes_a_fixed_number_of_weeks():
    # 2 a week, 5 left: 2, 4, 6 -> every trial needs 3 weeks.
    f = one(Target("m", (2, 2, 2), 5, week(3)))
    assert f.status == "forecast"
    assert dates(f) == (week(3),) * 4
    assert f.p_on_time == 1.0 and f.trials == 10_000 and f.unfinished == 0.0
    assert one(Target("m", (2, 2, 2), 5, week(3) - timedelta(days=1))).p_on_time == 0.0
    assert one(Target("m", (2, 2, 2), 5, None)).p_on_time is None


def test_nothing_remaining_is_done_today():
    f = one(Target("m", (1, 2), 0, AS_OF))
    assert (f.status, dates(f), f.p_on_time) == ("done", (AS_OF,) * 4, 1.0)
    assert one(Target("m", (), 0, AS_OF - timedelta(days=1))).p_on_time == 0.0  # already late


@pytest.mark.parametrize("throughput", [(0, 0, 0), ()])
def test_no_throughput_is_insufficient_data_never_a_date(throughput):
    f = one(Target("m", throughput, 4, week(10)))
    assert f.status == "insufficient data"
    assert dates(f) == (None,) * 4 and f.p_on_time is None and f.trials == 0
    assert "throughput window" in (f.reason or "")


def test_a_blocked_target_takes_its_slower_blockers_dates():
    fast = Target("fast", (5,), 5, week(1), blocked_by=("slow",))  # one week on its own
    slow = Target("slow", (2, 2, 2), 5, None)  # three weeks
    by_id = {f.target_id: f for f in simulate([fast, slow], AS_OF)}
    assert dates(one(replace(fast, blocked_by=()))) == (week(1),) * 4
    assert dates(by_id["fast"]) == dates(by_id["slow"]) == (week(3),) * 4
    assert by_id["fast"].p_on_time == 0.0


def test_geometric_weeks_against_the_hand_computed_distribution():
    # [0, 5] with 5 left: each week finishes with probability 1/2, so P(N <= n) = 1 - 2**-n:
    # 0.5, 0.75, 0.875, 0.9375, 0.96875. Inverted CDF: P70 = 2 weeks, P85 = 3, P95 = 5.
    f = one(Target("m", (0, 5), 5, week(1)))
    assert (f.p70, f.p85, f.p95) == (week(2), week(3), week(5))
    # P50 sits exactly on P(N = 1) = 1/2, so the sample decides between weeks 1 and 2: it is
    # week 1 exactly when at least half the trials finished in week 1 (P(on time) by week 1).
    assert abs(f.p_on_time - 0.5) < 0.02
    assert f.p50 == (week(1) if f.p_on_time >= 0.5 else week(2))
    # [0, 0, 5]: 1 - (2/3)**n = 0.333, 0.556, ... -> P50 is 2 weeks, well clear of the boundary.
    assert one(Target("m", (0, 0, 5), 5, None)).p50 == week(2)


@pytest.mark.parametrize("throughput, remaining", [
    ((0, 5), 5),
    ((1, 0), 3),                      # two weeks in the window: 12 weeks per random draw
    ((0, 1, 2, 3), 40),               # long enough that the first weeks are only summed
    ((0,) * 11 + (9,), 30),           # mostly empty weeks
    (tuple(range(70)), 500),          # a wide window: one week per draw
    ((0, 1000, 3000), 20_000),        # totals beyond int16
])
def test_sampled_distribution_matches_the_exact_one(throughput, remaining):
    """The trials take one quantile in each of as many equal strata: the share finished by any
    week is the exact one to within one trial (independent draws would miss by ~1/sqrt(trials))."""
    horizon = 80
    cdf = exact_cdf(throughput, remaining, horizon)
    for n in range(0, horizon + 1, 3):
        f = one(Target("m", throughput, remaining, week(n)), Settings(horizon_weeks=horizon))
        assert abs(f.p_on_time - cdf[n]) <= ONE_TRIAL, (n, f.p_on_time, cdf[n])


@pytest.mark.parametrize("throughput, goals", [
    ((0, 5), (5, 10, 15)),
    ((0, 1, 2, 3), (3, 40, 41)),     # the first weeks only summed for the smallest goal
    ((0,) * 11 + (9,), (9, 30)),
])
def test_a_pool_draws_once_and_each_member_keeps_its_exact_distribution(throughput, goals):
    """Members of a pool read the same weeks in each trial; each one's own distribution is still
    the exact one for its remaining items."""
    horizon = 80
    pool = [Target(f"m{g}", throughput, g, week(n), pool="team") for g in goals for n in (horizon // 4,)]
    for n in range(0, horizon + 1, 4):
        results = simulate([replace(t, due=week(n)) for t in pool], AS_OF, Settings(horizon_weeks=horizon))
        for target, f in zip(pool, results):
            cdf = exact_cdf(throughput, target.remaining, horizon)
            assert abs(f.p_on_time - cdf[n]) <= ONE_TRIAL, (target.remaining, n, f.p_on_time, cdf[n])


def test_a_pool_finishes_its_queue_in_order_in_every_trial():
    # A team's queue: "late" holds "early"'s items and more. On shared weeks "late" finishes on or
    # after "early" in every trial, so a roll-up of the two is decided by "late" in every trial
    # (ties go to the first named); drawn apart, "early" would be the later one in some trials.
    throughput = (0, 1, 2, 3, 4, 5)
    early, late = Target("early", throughput, 6, None), Target("late", throughput, 8, None)
    rollup = Target("rollup", (), 0, None, blocked_by=("early", "late"))

    def decided(pool):
        members = [replace(early, pool=pool), replace(late, pool=pool), rollup]
        return {f.target_id: f for f in simulate(members, AS_OF, SMALL)}["rollup"]

    apart = decided(None)
    assert apart.decided_by == "late" and apart.decided_share < 0.9
    shared = decided("team")
    ties = decided("team")  # reruns agree
    assert shared == ties
    # "late" decides unless it ties with "early" (the first named wins a tie): never the other way
    assert shared.decided_by == "late"
    with_ties = simulate([replace(early, pool="team"), replace(late, pool="team", target_id="aaa-late"),
                          Target("rollup", (), 0, None, blocked_by=("aaa-late", "early"))], AS_OF, SMALL)
    assert with_ties[2].decided_by == "aaa-late" and with_ties[2].decided_share == 1.0


def test_a_large_backlog_at_a_slow_pace_costs_little_memory():
    """The week-by-week distribution is held only as far as the weeks can reach, one week at a
    time: 100,000 items at 5 a week (beyond a 10-year horizon) is a few MB, not horizon × items."""
    tracemalloc.start()
    try:
        f = one(Target("m", (0, 3, 5, 8, 2, 6, 4, 5, 7, 3, 2, 9), 100_000, None))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert f.status == "beyond horizon" and f.unfinished == 1.0
    assert peak < 16 * 2**20, peak


def test_the_weeks_stop_where_the_last_quantile_is_covered_by_the_same_figure():
    """The loop stops on the very probability the strata are placed by (not a sum that may differ
    in the last bit), so no trial is left unfinished when the weeks stopped before the horizon."""
    window, last = (4, 4, 15, 1, 10, 7, 5, 14, 10, 14, 7, 8), 0.9990189849366976
    covered = _covered_by_week(window, [2965], 520, last)
    assert covered.shape[0] < 520 and covered[-1, -1] >= last


def test_a_pool_has_one_throughput_window():
    with pytest.raises(ValueError, match="pool 'team'"):
        simulate([Target("a", (1, 2), 3, None, pool="team"), Target("b", (2, 2), 3, None, pool="team")], AS_OF)


def test_trials_left_unfinished_by_the_horizon():
    # One item a fortnight on average, 100 left, a one-year horizon: no trial finishes.
    f = one(Target("m", (0, 0, 0, 1), 100, week(60)), Settings(horizon_weeks=52))
    assert (f.status, dates(f), f.unfinished, f.p_on_time) == ("beyond horizon", (None,) * 4, 1.0, 0.0)
    # [0, 1] with 3 left in 6 weeks: P(done) = P(Bin(6, 1/2) >= 3) = 42/64 = 0.66: P50 is a date,
    # the later percentiles are beyond the horizon.
    f = one(Target("m", (0, 1), 3, week(6)), Settings(horizon_weeks=6))
    assert f.status == "beyond horizon" and f.p50 is not None and (f.p70, f.p85, f.p95) == (None,) * 3
    assert abs(f.unfinished - 22 / 64) < 0.02 and abs(f.p_on_time - 42 / 64) < 0.02
    assert "not finished within 6 weeks" in (f.reason or "")


# --- dependencies --------------------------------------------------------------------------------

def test_a_program_rolls_up_the_latest_of_its_parts_in_each_trial():
    a = Target("a", (0, 3, 6), 12, week(4))
    b = Target("b", (1, 2, 4), 12, week(4))
    program = Target("program:p", (), 0, week(4), blocked_by=("a", "b"))
    by_id = {f.target_id: f for f in simulate([program, a, b], AS_OF)}
    for part in ("a", "b"):
        assert all(p >= q for p, q in zip(dates(by_id["program:p"]), dates(by_id[part])))
        # max(a, b) <= d needs both: strictly less likely than either, the trials being independent.
        assert by_id["program:p"].p_on_time <= by_id[part].p_on_time
    assert abs(by_id["program:p"].p_on_time - by_id["a"].p_on_time * by_id["b"].p_on_time) < 0.02


def test_a_late_blocker_moves_the_blocked_programs_forecast():
    milestone = Target("m1", (2, 3, 4), 10, week(8))
    program = Target("program:p", (), 0, week(8), blocked_by=("m1",))
    before = {f.target_id: f for f in simulate([milestone, program], AS_OF)}
    late = Target("other-team", (0, 1), 10, week(8))
    after = {f.target_id: f for f in simulate([replace(milestone, blocked_by=("other-team",)), program, late],
                                              AS_OF)}
    assert dates(before["program:p"]) == dates(before["m1"])
    assert after["program:p"].p50 > before["program:p"].p50
    assert after["program:p"].p_on_time < before["program:p"].p_on_time


def test_a_cycle_finishes_together_and_is_reported():
    a = Target("a", (2, 2, 2), 5, None, blocked_by=("b",))  # 3 weeks
    b = Target("b", (2, 2, 2), 1, None, blocked_by=("a",))  # 1 week
    c = Target("c", (9,), 1, None, blocked_by=("a",))
    by_id = {f.target_id: f for f in simulate([a, b, c], AS_OF)}
    for member in ("a", "b"):
        assert dates(by_id[member]) == (week(3),) * 4
        assert by_id[member].cycle == ("a", "b") and "cycle" in by_id[member].reason
    assert dates(by_id["c"]) == (week(3),) * 4 and by_id["c"].cycle == ()


def test_unknown_blockers_are_ignored_and_recorded_and_self_blocks_ignored():
    f = one(Target("m", (2, 2, 2), 5, None, blocked_by=("nowhere", "m")))
    assert dates(f) == (week(3),) * 4 and f.status == "forecast"
    assert f.unknown_blockers == ("nowhere",) and "nowhere" in f.reason


def test_a_blocker_without_throughput_makes_its_dependents_insufficient_and_is_named():
    parts = [Target("m1", (0, 0), 3, None),
             Target("m2", (1, 2), 3, week(4), blocked_by=("m1",)),
             Target("m3", (1, 2), 3, week(4)),
             Target("program:p", (), 0, week(9), blocked_by=("m2", "m3"))]
    by_id = {f.target_id: f for f in simulate(parts, AS_OF)}
    assert by_id["m3"].status == "forecast"
    for target_id in ("m2", "program:p"):
        f = by_id[target_id]
        assert (f.status, dates(f), f.p_on_time) == ("insufficient data", (None,) * 4, None)
        assert f.blocked_by_insufficient == ("m1",) and "m1" in f.reason
    assert by_id["m1"].blocked_by_insufficient == ()


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="twice"):
        simulate([Target("m", (1,), 1, None), Target("m", (1,), 1, None)], AS_OF)
    with pytest.raises(ValueError, match=">= 0"):
        simulate([Target("m", (1,), -1, None)], AS_OF)
    with pytest.raises(ValueError, match="trials"):
        simulate([], AS_OF, Settings(trials=0))


def test_reruns_agree_across_processes_whatever_the_hash_seed():
    script = ("from datetime import date; from transforms.forecast import Target, simulate; "
              "print(simulate([Target('PAY-1.4', (0, 1, 3, 4), 17, date(2026, 7, 1))], date(2026, 6, 1)))")
    outputs = {subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True,
                              env={**os.environ, "PYTHONHASHSEED": seed}).stdout for seed in ("1", "2")}
    assert len(outputs) == 1
    assert one(Target("PAY-1.4", (0, 1, 3, 4), 17, date(2026, 7, 1))).__repr__() in outputs.pop()


# --- properties ----------------------------------------------------------------------------------

SMALL = Settings(trials=300, seed=7, horizon_weeks=40)


@st.composite
def portfolios(draw) -> list[Target]:
    n = draw(st.integers(1, 6))
    ids = [f"t{i}" for i in range(n)]
    return [Target(target_id,
                   draw(st.lists(st.integers(0, 6), max_size=6).map(tuple)),
                   draw(st.integers(0, 40)),
                   draw(st.none() | st.integers(-3, 300).map(lambda d: AS_OF + timedelta(days=d))),
                   draw(st.lists(st.sampled_from(ids + ["ghost"]), max_size=3, unique=True).map(tuple)))
            for target_id in ids]


def later_or_equal(a: date | None, b: date | None) -> bool:
    """a >= b, with None (beyond the horizon) later than every date."""
    return a is None or (b is not None and a >= b)


PROPERTY = hypothesis_settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPERTY
@given(portfolios())
def test_percentiles_are_ordered_and_p_on_time_is_a_share(targets):
    for f in simulate(targets, AS_OF, SMALL):
        assert all(later_or_equal(later, earlier) for earlier, later in zip(dates(f), dates(f)[1:]))
        assert f.p_on_time is None or 0.0 <= f.p_on_time <= 1.0
        assert (f.status == "insufficient data") == (f.p50 is None and f.p95 is None and f.trials == 0)


@PROPERTY
@given(portfolios())
def test_dependents_never_finish_before_their_blockers(targets):
    by_id = {f.target_id: f for f in simulate(targets, AS_OF, SMALL)}
    lacking = {t.target_id for t in targets if t.remaining > 0 and sum(t.throughput) == 0}
    for t in targets:
        for blocker in set(t.blocked_by) & by_id.keys() - {t.target_id}:
            mine, theirs = by_id[t.target_id], by_id[blocker]
            if theirs.status == "insufficient data":
                # ... and names the targets without throughput behind it.
                assert mine.status == "insufficient data"
                behind = set(theirs.blocked_by_insufficient) | ({blocker} & lacking)
                assert behind - {t.target_id} <= set(mine.blocked_by_insufficient)
            elif mine.status != "insufficient data":
                assert all(later_or_equal(m, b) for m, b in zip(dates(mine), dates(theirs)))


@PROPERTY
@given(portfolios(), st.integers(0, 5), st.lists(st.integers(-10, 400), min_size=2, max_size=6))
def test_p_on_time_grows_with_the_due_date(targets, pick, offsets):
    target = targets[pick % len(targets)]
    shares = []
    for days in sorted(offsets):
        moved = [replace(t, due=AS_OF + timedelta(days=days)) if t is target else t for t in targets]
        shares.append({f.target_id: f for f in simulate(moved, AS_OF, SMALL)}[target.target_id].p_on_time)
    if shares[0] is not None:
        assert shares == sorted(shares)


@PROPERTY
@given(portfolios(), st.integers(0, 40), st.lists(st.integers(0, 6), max_size=6))
def test_reruns_agree_and_an_unrelated_target_changes_nothing(targets, remaining, throughput):
    first = simulate(targets, AS_OF, SMALL)
    assert simulate(targets, AS_OF, SMALL) == first
    # An extra target nobody depends on (it may depend on others) leaves every other forecast alone.
    extra = Target("extra", tuple(throughput), remaining, None, blocked_by=tuple(t.target_id for t in targets[:2]))
    with_extra = simulate([extra, *targets], AS_OF, SMALL)
    assert with_extra[1:] == first
    assert simulate(list(reversed(targets)), AS_OF, SMALL) == list(reversed(first))


# --- scale ---------------------------------------------------------------------------------------

def portfolio(seed: int = 1) -> list[Target]:
    """2,000 targets shaped like a large program: milestones, projects and program roll-ups."""
    rng = np.random.default_rng(seed)
    targets = []
    for i in range(1600):
        blockers = rng.choice(i, size=min(i, int(rng.integers(0, 3))), replace=False) if i else []
        targets.append(Target(f"m{i}", tuple(int(x) for x in rng.poisson(rng.uniform(0.5, 8), 12)),
                              int(rng.integers(0, 121)), date(2026, 9, 1), tuple(f"m{j}" for j in blockers)))
    for i in range(350):
        targets.append(Target(f"project:jira:P{i}", tuple(int(x) for x in rng.poisson(rng.uniform(5, 30), 12)),
                              int(rng.integers(50, 601)), date(2026, 12, 1)))
    for i in range(50):
        parts = [f"m{j}" for j in range(32 * i, 32 * i + 32)] + [f"project:jira:P{j}" for j in range(7 * i, 7 * i + 7)]
        targets.append(Target(f"program:{i}", (), 0, date(2027, 1, 1), tuple(parts)))
    return targets


def test_portfolio_scale():
    """2,000 targets × 10,000 trials in seconds; a loop per trial would take many minutes."""
    targets = portfolio()
    started = time.perf_counter()
    results = simulate(targets, AS_OF)
    elapsed = time.perf_counter() - started
    assert elapsed < 15, f"{elapsed:.1f} s"
    assert [f.target_id for f in results] == [t.target_id for t in targets]
    by_id = {f.target_id: f for f in results}
    for t in targets[-50:]:
        for part in t.blocked_by:
            assert all(later_or_equal(p, q) for p, q in zip(dates(by_id[t.target_id]), dates(by_id[part])))


def test_the_blocker_that_finishes_last_decides_the_finish():
    quick = Target("quick", (5,), 5, None)  # one week in every trial
    slow = Target("slow", (1,), 20, None)  # twenty weeks in every trial
    waits = Target("m", (5,), 5, None, blocked_by=("quick", "slow"))
    result = {f.target_id: f for f in simulate([quick, slow, waits], AS_OF, SMALL)}
    assert (result["m"].decided_by, result["m"].decided_share) == ("slow", 1.0)
    # its own work is later than its one blocker in every trial: nothing else decides
    alone = Target("m", (1,), 40, None, blocked_by=("quick",))
    result = {f.target_id: f for f in simulate([quick, alone], AS_OF, SMALL)}
    assert (result["m"].decided_by, result["m"].decided_share) == (None, 1.0)
    assert result["quick"].decided_by is None and result["quick"].decided_share is None
