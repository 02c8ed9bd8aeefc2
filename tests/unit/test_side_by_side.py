"""bench/side_by_side.py's summary of alternating runs: medians per side and the pairs won."""

from __future__ import annotations

from pathlib import Path

from bench.side_by_side import Run, order, summary, table


def run(side: str, wall: float, cpu: float = 1.0) -> Run:
    return Run(side, wall, cpu, 0.5, 400.0, 544, 0)


def test_medians_per_side_and_pairs_in_order():
    runs = [run("base", 10.0, 9.0), run("change", 9.0, 8.0), run("base", 9.5, 9.5), run("change", 9.8, 8.5),
            run("base", 11.0, 10.0), run("change", 9.2, 8.2)]
    s = summary(runs)
    assert s["base"]["wall"] == 10.0 and s["change"]["wall"] == 9.2
    assert s["base"]["cpu"] == 9.5 and s["change"]["cpu"] == 8.2
    # pairs: (10.0, 9.0) change faster, (9.5, 9.8) base faster, (11.0, 9.2) change faster
    assert s["pairs"] == {"change faster": 2, "pairs": 3}
    text = table(runs, "abc1234", "def5678")
    assert "| base | abc1234 | 3 | 10.00 |" in text and "| change | def5678 | 3 | 9.20 |" in text
    assert "0.92× the base's" in text and "faster in 2 of 3 alternating pairs" in text


def test_an_unfinished_pair_is_not_counted():
    s = summary([run("base", 10.0), run("change", 9.0), run("base", 8.0)])
    assert s["pairs"] == {"change faster": 1, "pairs": 1} and s["base"]["wall"] == 9.0


def test_pairs_take_turns_at_going_first():
    base, change = Path("/base"), Path("/change")
    assert [side for n in range(4) for side, _ in order(n, base, change)] == [
        "base", "change", "change", "base", "base", "change", "change", "base"]
    assert dict(order(1, base, change)) == {"base": base, "change": change}
    # pairs are still the i-th run of each side, whichever went first
    runs = [run("base", 10.0), run("change", 9.0), run("change", 9.9), run("base", 9.5)]
    assert summary(runs)["pairs"] == {"change faster": 1, "pairs": 2}
