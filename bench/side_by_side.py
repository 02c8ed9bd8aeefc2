"""`make bench-side-by-side`: the peer ingest of `make bench` (the 10,000-item portfolio's Jira Data
Center projects and repositories, full, 50 ms a request), or the whole first `pulse sync` of the
same projects, by a base revision and by the working tree, run after run, alternating, against one
sandbox.

On a shared 2-core machine the same run varies by up to 30% within the hour, so two figures
taken an hour apart say little about a change. Alternating runs share the hour's load, and each
pair says which side was faster. Each run is `python -m bench.pulse_client` in a subprocess of
its own, its tree first on `PYTHONPATH` (the editable install would import the working tree);
the base is checked out into a temporary git worktree, removed afterwards. The sandbox is the
working tree's. Figures: wall (perf_counter around the process), the client's CPU and peak RSS
(os.wait4), the sandbox's CPU during the run (/proc), requests (the sandbox's stats).

The sandbox's first answers cost it more than later ones (its first run took 2.5-2.7 s of its
CPU against about 1.4 s for every later one), so one run that is not counted goes first, and the
pairs take turns at going first: neither side always runs just after the other.

    BENCH_BASE=HEAD~1   the revision to compare against (any git revision)
    BENCH_RUNS=4        runs of each side
    BENCH_WHAT=ingest   or sync: the whole `pulse sync` (bench.run.run_pulse_sync), each run on a
                        fresh warehouse and Dagster home
    BENCH_LATENCY_MS=50

Writes bench-output/side_by_side.md and .json.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

from bench.floor import GITHUB, JIRA_DC
from bench.run import AS_OF, LATENCY, OUT, ROOT, SEED, Sandbox, env_int, run_pulse, run_pulse_sync, scenario_floors

ITEMS = 10_000


@dataclass(frozen=True)
class Run:
    side: str  # "base" or "change"
    wall: float
    cpu: float  # the client's user + system seconds
    sandbox_cpu: float
    maxrss_mib: float
    requests: int
    rc: int


def summary(runs: list[Run]) -> dict[str, dict[str, float]]:
    """Per side: the median of each figure, and in how many alternating pairs the change's wall
    was lower (pairs are the i-th run of each side)."""
    base, change = ([r for r in runs if r.side == s] for s in ("base", "change"))
    out: dict[str, dict[str, float]] = {
        side: {k: statistics.median(getattr(r, k) for r in mine)
               for k in ("wall", "cpu", "sandbox_cpu", "maxrss_mib", "requests")}
        for side, mine in (("base", base), ("change", change)) if mine}
    out["pairs"] = {"change faster": sum(c.wall < b.wall for b, c in zip(base, change)),
                    "pairs": min(len(base), len(change))}
    return out


def table(runs: list[Run], base_rev: str, change_rev: str) -> str:
    s = summary(runs)
    rows = ["| side | revision | runs | wall s (median) | client CPU s | sandbox CPU s | peak RSS MiB | requests |",
            "|---|---|---|---|---|---|---|---|"]
    for side, rev in (("base", base_rev), ("change", change_rev)):
        if side in s:
            m = s[side]
            rows.append(f"| {side} | {rev} | {sum(r.side == side for r in runs)} | {m['wall']:.2f} | {m['cpu']:.2f} | "
                        f"{m['sandbox_cpu']:.2f} | {m['maxrss_mib']:.0f} | {m['requests']:.0f} |")
    each = "; ".join(f"{r.side} {r.wall:.2f}" for r in runs)
    ratio = s["change"]["wall"] / s["base"]["wall"] if "base" in s and "change" in s else float("nan")
    return "\n".join(rows) + (f"\n\n- The change's median wall is {ratio:.2f}× the base's; it was faster in "
                              f"{s['pairs']['change faster']} of {s['pairs']['pairs']} alternating pairs.\n"
                              f"- Every run, in order: {each}.\n")


def _sandbox_cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


WHAT = {"ingest": "peer ingest", "sync": "whole first `pulse sync`"}


def run_side(side: str, tree: Path, sandbox: Sandbox, peer: list[tuple[str, str]], work: Path, what: str) -> Run:
    """``make bench``'s peer ingest (``bench.run.run_pulse``) or its whole first ``pulse sync``
    (``run_pulse_sync``) by the checkout at ``tree``, in ``work`` (fresh), with the sandbox's CPU
    while it ran."""
    work.mkdir(parents=True)
    before = _sandbox_cpu(sandbox.proc.pid)
    if what == "sync":
        r = run_pulse_sync(sandbox, peer, work, "full", tree=tree)
    else:
        r = run_pulse(sandbox, peer, work / "pulse.duckdb", f"{side}-{work.name}", True, work / "run.log", tree=tree)
    return Run(side, round(r["wall"], 3), round(r["cpu"], 3), round(_sandbox_cpu(sandbox.proc.pid) - before, 3),
               round(r["maxrss_kib"] / 1024, 1), r["requests"], r["rc"])


def order(n: int, base: Path, change: Path) -> list[tuple[str, Path]]:
    """Pair ``n``'s two runs: the base first in even pairs, the change first in odd ones."""
    sides = [("base", base), ("change", change)]
    return sides if n % 2 == 0 else sides[::-1]


def rev(ref: str) -> str:
    return subprocess.run(["git", "rev-parse", "--short", ref], cwd=ROOT, check=True, capture_output=True,
                          text=True).stdout.strip()


def main() -> int:
    base_ref, runs_each = os.environ.get("BENCH_BASE") or "HEAD~1", env_int("BENCH_RUNS", 4)
    what = os.environ.get("BENCH_WHAT") or "ingest"
    if what not in WHAT:
        print(f"BENCH_WHAT={what!r}: expected one of {', '.join(WHAT)}", file=sys.stderr)
        return 2
    base_rev = rev(base_ref)
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT, check=True,
                           capture_output=True, text=True).stdout.strip()
    change_rev = rev("HEAD") + (" with uncommitted changes" if dirty else "")
    floors = scenario_floors(ITEMS)
    peer = sorted(k for k in floors if k[0] in (JIRA_DC, GITHUB))  # bench_size's peer at 10,000 items
    OUT.mkdir(exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="pulse-side-by-side-"))
    base_tree = work / "base"
    subprocess.run(["git", "worktree", "add", "--detach", "--quiet", str(base_tree), base_rev], cwd=ROOT, check=True)
    runs: list[Run] = []
    sandbox = Sandbox(ITEMS, work / "sandbox.log")
    try:
        warm = run_side("change", ROOT, sandbox, peer, work / "warm-up", what)
        print(f"warm-up (not counted): {warm.wall:.2f} s, sandbox CPU {warm.sandbox_cpu:.2f} s", flush=True)
        for n in range(runs_each):
            for side, tree in order(n, base_tree, ROOT):
                run_work = work / f"{side}-{n}"
                r = run_side(side, tree, sandbox, peer, run_work, what)
                for db in run_work.rglob("*.duckdb"):  # the largest files; the logs stay
                    db.unlink()
                runs.append(r)
                print(f"{side:6s} run {n + 1}: {r.wall:.2f} s, client CPU {r.cpu:.2f} s, sandbox CPU "
                      f"{r.sandbox_cpu:.2f} s, {r.maxrss_mib:.0f} MiB, {r.requests} requests, exit {r.rc}", flush=True)
                if r.rc:
                    print(f"    see the logs in {run_work}", flush=True)
    finally:
        sandbox.stop()
        subprocess.run(["git", "worktree", "remove", "--force", str(base_tree)], cwd=ROOT, check=False)
    command = (f"make bench-side-by-side BENCH_BASE={base_ref} BENCH_RUNS={runs_each} BENCH_WHAT={what} "
               f"BENCH_LATENCY_MS={LATENCY}")
    text = (f"The {WHAT[what]} of the {ITEMS:,}-item portfolio's Jira Data Center projects and repositories "
            f"(seed {SEED}, as of {AS_OF}), full, {LATENCY} ms a request, base and change alternating against "
            f"one sandbox, after a run not counted.\n\n" + table(runs, base_rev, change_rev)
            + f"- Reproduce: `{command}`.\n")
    (OUT / "side_by_side.md").write_text(text)
    (OUT / "side_by_side.json").write_text(json.dumps({"command": command, "what": what, "base": base_rev,
                                                       "change": change_rev,
                                                       "runs": [asdict(r) for r in runs],
                                                       "summary": summary(runs)}, indent=1))
    print("\n" + text)
    return 1 if any(r.rc for r in runs) else 0


if __name__ == "__main__":
    sys.exit(main())
