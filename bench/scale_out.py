"""`make bench-scale-out` (and the last part of `make bench`): a full sync of the portfolio by N
landing processes (warehouse/landing.py: plan, N shards at once, one merge) against the
one-process ingest, on the same sandbox (in its own process, 50 ms a request), into fresh work
databases whose raw tables must come out the same (rows and a digest of every payload, by table).

BENCH_SCALE_OUT_ITEMS (default 100000) and BENCH_SCALE_OUT_PROCESSES (default 2,4) choose the runs.
Writes bench-output/scale_out.md and .json."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import duckdb

from bench.run import LATENCY, OUT, PY, ROOT, Sandbox, measure, requests_of, run_pulse, scenario_floors, wait
from warehouse.landing import deal

ITEMS = int(os.environ.get("BENCH_SCALE_OUT_ITEMS") or 100_000)
PROCESSES = [int(n) for n in (os.environ.get("BENCH_SCALE_OUT_PROCESSES") or "2,4").split(",") if n]
RAW = ("jira_sites", "jira_issues", "jira_versions", "jira_changelogs", "jira_remote_links", "jira_board_sprints",
       "github_repos", "github_issues", "github_issue_events", "github_milestones", "github_issue_relations")


def digest(db: Path) -> dict[str, str]:
    """Rows and a digest of the payloads of every raw table (when and by which sync left out), in
    a process of its own: a child's ru_maxrss starts at its parent's peak on Linux, so digesting
    gigabytes here would raise the peak every later run reports."""
    return json.loads(subprocess.run([PY, "-m", "bench.scale_out", "--digest", str(db)], cwd=ROOT, check=True,
                                     capture_output=True, text=True).stdout)


def _digest_here(db: Path) -> dict[str, str]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        out = {}
        for table in RAW:
            payload = ("concat_ws('|', server_info, myself, fields, statuses, link_types, field_roles)"
                       if table == "jira_sites" else "payload::VARCHAR")
            out[table] = con.execute(f"SELECT count(*) || ':' || coalesce(md5(string_agg({payload}, '|' "
                                     f"ORDER BY {payload})), '') FROM raw.{table}").fetchall()[0][0]
        return out
    finally:
        con.close()


def step(argv: list[str], log: Path) -> dict:
    m = wait(*measure(argv, log))
    lines = log.read_text(errors="replace").strip().splitlines()
    if m.rc != 0:
        raise SystemExit(f"{' '.join(argv[:4])} failed (exit {m.rc}): see {log}")
    return {"wall": m.wall, "maxrss_kib": m.maxrss_kib, **json.loads(lines[-1])}


def scaled(sandbox: Sandbox, keys: list[str], processes: int, work: Path, sync_id: str) -> dict:
    db, store = work / f"landed-{processes}.duckdb", work / f"landing-{processes}"
    base = [PY, "-m", "bench.landing_client"]
    sandbox.reset()
    started = time.perf_counter()
    plan = step([*base, "plan", "--store", str(store), "--sync-id", sync_id, "--db", str(db)],
                work / f"plan-{processes}.log")
    dealt = deal(keys, processes)
    shards = [measure([*base, "land", "--store", str(store), "--sync-id", sync_id, "--url", sandbox.url,
                       "--shard", str(i), "--of", str(len(dealt)), "--keys", ",".join(share), "--full"],
                      work / f"land-{processes}-{i}.log")
              for i, share in enumerate(dealt)]
    landed = [wait(*s) for s in shards]
    if any(m.rc for m in landed):
        raise SystemExit(f"a shard failed: see {work}/land-{processes}-*.log")
    land_wall = time.perf_counter() - started - plan["wall"]
    merge = step([*base, "merge", "--store", str(store), "--sync-id", sync_id, "--db", str(db)],
                 work / f"merge-{processes}.log")
    wall = time.perf_counter() - started
    total, by_status = requests_of(sandbox.stats())
    return {"processes": processes, "wall": wall, "plan_wall": plan["wall"], "land_wall": land_wall,
            "merge_wall": merge["wall"], "requests": total, "by_status": by_status, "landed": merge["items"],
            "errors": merge["errors"], "shard_maxrss_kib": [m.maxrss_kib for m in landed],
            "merge_maxrss_kib": merge["maxrss_kib"], "digest": digest(db)}


def main() -> int:
    print(f"== scale-out: portfolio, {ITEMS:,} items, {LATENCY} ms per request ==", flush=True)
    selection = sorted(scenario_floors(ITEMS))
    keys = [f"{site}/{key}" for site, key in selection]
    work = OUT / "work" / f"scale-out-{ITEMS}"
    subprocess.run(["rm", "-rf", str(work)], check=True)
    work.mkdir(parents=True)
    sandbox = Sandbox(ITEMS, work / "sandbox.log")
    runs = []
    try:
        one = run_pulse(sandbox, selection, work / "one.duckdb", "one", True, work / "one.log")
        if one["rc"] != 0:
            raise SystemExit(f"the one-process sync failed: see {work / 'one.log'}")
        one.update(processes=1, digest=digest(work / "one.duckdb"))
        runs.append(one)
        print(f"1 process: {one['wall']:.1f} s, {one['requests']} requests, {one['maxrss_kib'] / 1024:.0f} MiB", flush=True)
        for n in PROCESSES:
            r = scaled(sandbox, keys, n, work, f"scale-{n}")
            runs.append(r)
            print(f"{n} processes: {r['wall']:.1f} s (plan {r['plan_wall']:.1f}, land {r['land_wall']:.1f}, merge "
                  f"{r['merge_wall']:.1f}), {r['requests']} requests, same warehouse: {r['digest'] == one['digest']}",
                  flush=True)
    finally:
        sandbox.stop()
    rows = ["| processes | wall s | vs 1 process | plan s | land s | merge s | requests | 403/429 | "
            "peak RSS MiB (largest process) | same raw tables as 1 process |", "|---|---|---|---|---|---|---|---|---|---|"]
    for r in runs:
        peak = max([r["maxrss_kib"]] if r["processes"] == 1 else [*r["shard_maxrss_kib"], r["merge_maxrss_kib"]])
        refused = sum(v for k, v in r["by_status"].items() if k in ("403", "429"))
        rows.append(f"| {r['processes']} | {r['wall']:.1f} | {r['wall'] / one['wall']:.2f}× | "
                    f"{r.get('plan_wall', 0):.1f} | {r.get('land_wall', r['wall']):.1f} | {r.get('merge_wall', 0):.1f} | "
                    f"{r['requests']} | {refused} | {peak / 1024:.0f} | {'yes' if r['digest'] == one['digest'] else 'NO'} |")
    text = "\n".join([
        f"Scale-out, portfolio of {ITEMS:,} items ({len(keys)} projects), {LATENCY} ms per request, full sync, "
        f"on {os.cpu_count()} cores. Command: `make bench-scale-out BENCH_SCALE_OUT_ITEMS={ITEMS} "
        f"BENCH_SCALE_OUT_PROCESSES={','.join(map(str, PROCESSES))}`.",
        "1 process: the ingest as `trackers_raw` runs it (bench/pulse_client.py). N processes: "
        "bench/landing_client.py plan, N land processes at once, merge, as the scaled-out Dagster graph runs them.",
        "", *rows, ""])
    (OUT / "scale_out.md").write_text(text, encoding="utf-8")
    (OUT / "scale_out.json").write_text(json.dumps(runs, indent=1, default=str), encoding="utf-8")
    print(text)
    return 0 if all(r["digest"] == one["digest"] for r in runs) else 1


if __name__ == "__main__":
    if sys.argv[1:2] == ["--digest"]:
        print(json.dumps(_digest_here(Path(sys.argv[2]))))
        sys.exit(0)
    sys.exit(main())
