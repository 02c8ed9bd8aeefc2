"""`make bench-rebuild` (and the last step of `make bench`): our rebuild of the transforms from raw
at N items, beside the DuckDB floor at the same N, in one run on one machine; reported as ratios.

Per size N:

1. Raw at N items is generated once (`bench/raw_at_scale.py`, in a subprocess: the portfolio
   scenario synced through the real connectors as a seed, copied in SQL with every key made unique
   per copy). Not counted.
2. Our full build, in a subprocess: every staging, core and marts table (`transforms.build.STEPS`)
   as the Dagster transform step builds them: one connection through `warehouse.store.connect`
   with the project's default warehouse settings (`pipelines.config.WarehouseConfig`:
   memory_limit, threads), `migrate`, `build_all`, close. Each table is timed (perf_counter); a
   failure (e.g. Out of Memory) is recorded with its error line. The raw file is fresh, so this is
   the full (cold) build.
2b. Two nights on the file it left, each in its own subprocess and built the same way: one on
   which nothing changed, then one with BENCH_NIGHT_PERCENT (default 1) % of items changed,
   landed first, not counted (`land_night`).
2c. Before 2, core and the marts the floor also computes (FLOOR_MARTS), built alone from a copy
   of the raw file (removed right after), in its own subprocess and the same way: the figure
   issue #12 holds to 1.25× the floor.
3. The floor, in another subprocess: `../shared/bench/duckdb_floor.py N DIR` (the project's
   sibling folder; skipped, with the reason printed, where it is absent). Its printed total seconds
   and peak RSS are parsed.

Wall time: ours is the whole transform step (connect to close), the floor's its printed total (both exclude
generating the data). Peak RSS: `os.wait4`'s ru_maxrss of each subprocess (the floor's includes
generating its data in-process; it prints the same figure). This process stays small (it imports
neither DuckDB nor pandas), since on Linux a child's ru_maxrss starts at its parent's peak.
Writes bench-output/rebuild.md and bench-output/rebuild.json.

    BENCH_REBUILD_SIZES=100000       item counts, comma-separated (1000000 works)
    BENCH_REBUILD_SEED_ITEMS=10000   largest seed bench/raw_at_scale.py syncs
    BENCH_REBUILD_KEEP=1             keep the generated raw files (bench-output/work/rebuild)
    BENCH_NIGHT_PERCENT=1            the share of items the measured night changes
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import re
import resource
import shutil
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench-output"
WORK = OUT / "work" / "rebuild"
FLOOR = ROOT.parent / "shared" / "bench" / "duckdb_floor.py"
PY = sys.executable

SIZES = [int(s) for s in (os.environ.get("BENCH_REBUILD_SIZES") or "100000").replace(" ", "").split(",") if s]
SEED_ITEMS = int(os.environ.get("BENCH_REBUILD_SEED_ITEMS") or 10_000)
NIGHT_PERCENT = float(os.environ.get("BENCH_NIGHT_PERCENT") or 1)
KEEP = bool(os.environ.get("BENCH_REBUILD_KEEP"))
AS_OF = "2026-11-27"  # bench/raw_at_scale.py's scenario date: every figure is computed as of it


# -- the rebuild, in its own process -------------------------------------------------------------

def code_digest() -> str:
    """Of the transforms' and warehouse's code and SQL: build_table reads a table's SQL when it
    builds it, so a tree edited during a run would be measured half old, half new."""
    digest = hashlib.md5()
    for folder in ("transforms", "warehouse"):
        for path in sorted((ROOT / folder).rglob("*")):
            if path.suffix in (".py", ".sql") and path.is_file():
                digest.update(str(path.relative_to(ROOT)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


# What duckdb_floor.py also computes: every staging and core table (the floor's work items,
# transitions and intervals are a subset of them) and the marts of the floor's flow, percentiles,
# throughput and burn-up. Issue #12 holds a full rebuild of these to 1.25× the floor.
FLOOR_MARTS = ("marts.item_flow", "marts.flow", "marts.throughput", "marts.burnup")


def floor_scope() -> set[str]:
    import transforms.build as build

    return {s.name for s in build.STEPS if s.schema in ("staging", "core")} | set(FLOOR_MARTS)


def rebuild(db: Path, night: float | None = None, scope: set[str] | None = None) -> int:
    """Bring every staging, core and marts table of ``db`` up to date as the Dagster transform step
    does (one connection, ``build_all``); prints a line per table, then one JSON line. With
    ``night`` (percent of items), first lands such a night (not counted): 0 is a night on which
    nothing changed. With ``scope``, only those tables (and no replay of past health). Exit 1 when
    a table failed."""
    import transforms.build as build
    from pipelines.config import WarehouseConfig
    from warehouse.store import connect, migrate

    settings = WarehouseConfig()
    as_of = datetime.fromisoformat(AS_OF).replace(tzinfo=timezone.utc)
    report: dict = {"memory_limit": settings.memory_limit, "threads": settings.threads, "tables": [], "error": None}
    if night:
        with connect(db, memory_limit=settings.memory_limit, threads=settings.threads) as con:
            report["landed"] = land_night(con, night)
    before = code_digest()
    started = time.perf_counter()
    try:
        with connect(db, memory_limit=settings.memory_limit, threads=settings.threads) as con:
            migrate(con)
            built = build.build_all(con, as_of, only=scope)
            if night is None and scope is None:  # a first sync also replays the weeks before it: timed apart from the build
                days, seconds = build.reconstruct_health_history(con, as_of)
                report["history_replay"] = {"days": days, "seconds": round(seconds, 2)}
                print(f"{'marts.health_history (replays)':36s} {seconds:8.2f} s {days:>12,} days reconstructed",
                      flush=True)
        for name, result in built.items():
            report["tables"].append({"table": name, "rows": result.rows, "seconds": round(result.seconds, 3),
                                     "how": result.how, "items": result.items})
            print(f"{name:36s} {result.seconds:8.2f} s {result.rows:>12,} rows  {result.how}"
                  + (f" {result.items:,} items" if result.how == "merged" else ""), flush=True)
    except Exception as exc:  # recorded, not raised: the bench reports it
        line = next((ln for ln in str(exc).splitlines() if ln.strip()), type(exc).__name__)
        report["error"] = {"table": "?", "seconds": round(time.perf_counter() - started, 2),
                           "line": f"{type(exc).__name__}: {line}"}
        print(f"FAILED after {report['error']['seconds']:.1f} s: {line}", flush=True)
    # wall time of the whole step: connect, migrate check, every table, close (its checkpoint)
    report["seconds"] = round(time.perf_counter() - started - report.get("history_replay", {}).get("seconds", 0), 2)
    report["code_changed"] = code_digest() != before
    if report["code_changed"]:
        print("transforms/ or warehouse/ changed during the rebuild: these figures mix two versions", flush=True)
    print(json.dumps(report), flush=True)
    return 1 if report["error"] else 0


def land_night(con, percent: float) -> dict:
    """A night on which ``percent`` of the items changed, landed the way warehouse.store.upsert lands
    a changed row (deleted and appended, with a new synced_at): that share of Jira issues and of
    GitHub issues edited (summary, title), and one new event for each edited GitHub issue. The
    edited GitHub issues that were open are closed an hour before as_of (the issue's state and a
    closed event): a night's work finishes, so its flow, burn-up and forecasts change."""
    share = int(round(percent * 100))  # per 10,000
    closed_at = (datetime.fromisoformat(AS_OF).replace(tzinfo=timezone.utc) - timedelta(hours=1))
    stamp = closed_at.strftime("%Y-%m-%dT%H:%M:%SZ")
    con.execute("BEGIN")
    con.execute(f"""CREATE TEMP TABLE _j AS SELECT i.* REPLACE (
                        json_merge_patch(payload, '{{"fields": {{"summary": "edited overnight"}}}}') AS payload,
                        now() AS synced_at, 'night' AS sync_id)
                    FROM raw.jira_issues i WHERE hash(site, issue_id) % 10000 < {share}""")
    con.execute("DELETE FROM raw.jira_issues t WHERE EXISTS (SELECT 1 FROM _j WHERE _j.site = t.site AND _j.issue_id = t.issue_id)")
    con.execute("INSERT INTO raw.jira_issues BY NAME SELECT * FROM _j")
    closing = json.dumps({"title": "edited overnight", "state": "closed", "state_reason": "completed",
                          "closed_at": stamp, "updated_at": stamp})
    con.execute(f"""CREATE TEMP TABLE _g AS SELECT i.* REPLACE (
                        json_merge_patch(payload, CASE WHEN state = 'open' THEN ? ELSE '{{"title": "edited overnight"}}' END)
                            AS payload,
                        CASE WHEN state = 'open' THEN 'closed' ELSE state END AS state,
                        now() AS synced_at, 'night' AS sync_id), state = 'open' AS closing
                    FROM raw.github_issues i WHERE hash(site, repo, number) % 10000 < {share}""", [closing])
    con.execute("DELETE FROM raw.github_issues t WHERE EXISTS (SELECT 1 FROM _g WHERE _g.site = t.site AND _g.repo = t.repo "
                "AND _g.number = t.number)")
    con.execute("INSERT INTO raw.github_issues BY NAME SELECT * EXCLUDE (closing) FROM _g")
    con.execute("""INSERT INTO raw.github_issue_events BY NAME
                   SELECT e.* REPLACE (e.event_id + 1000000000000 AS event_id, now() AS synced_at, 'night' AS sync_id,
                                       CASE WHEN _g.closing THEN json_merge_patch(e.payload, json_object(
                                           'id', e.event_id + 1000000000000, 'event', 'closed', 'created_at', ?))
                                            ELSE e.payload END AS payload,
                                       CASE WHEN _g.closing THEN ?::TIMESTAMPTZ ELSE e.created_at END AS created_at)
                   FROM raw.github_issue_events e JOIN _g ON _g.site = e.site AND _g.repo = e.repo AND _g.number = e.issue_number
                   QUALIFY row_number() OVER (PARTITION BY e.site, e.repo, e.issue_number ORDER BY e.event_id DESC) = 1""",
                [stamp, closed_at])
    landed = {"jira_issues": con.execute("SELECT count(*) FROM _j").fetchone()[0],
              "github_issues": con.execute("SELECT count(*) FROM _g").fetchone()[0],
              "github_issues_closed": con.execute("SELECT count(*) FROM _g WHERE closing").fetchone()[0]}
    con.execute("COMMIT")
    return landed


# -- measuring -------------------------------------------------------------------------------------

def run(argv: list[str], log: Path) -> tuple[float, int, int, list[str]]:
    """Run ``argv`` with its output shown and logged: (wall seconds, peak RSS KiB, exit code, lines)."""
    lines: list[str] = []
    with open(log, "w") as handle:
        start = time.perf_counter()
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=ROOT)
        for line in proc.stdout:  # type: ignore[union-attr]
            handle.write(line)
            lines.append(line.rstrip("\n"))
            if not line.startswith("{"):
                print("    " + line.rstrip("\n"), flush=True)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    return wall, usage.ru_maxrss, proc.returncode, lines


def reported(lines: list[str], wall: float, rc: int) -> dict:
    """What a build subprocess reported (its last JSON line), failed where it exited non-zero."""
    report = last_json(lines) or {"tables": [], "error": {"table": "?", "seconds": wall,
                                                           "line": f"exit {rc} with no report: see the log"}}
    if rc and not report.get("error"):
        report["error"] = {"table": "?", "seconds": wall, "line": f"exit {rc}"}
    return report


def last_json(lines: list[str]) -> dict | None:
    for line in reversed(lines):
        if line.startswith("{"):
            try:
                return json.loads(line)
            except json.JSONDecodeError:
                return None
    return None


def code_version() -> str:
    """The commit measured, and whether transforms/ or warehouse/ differ from it (read-only git)."""
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                              check=True).stdout.strip()
        dirty = subprocess.run(["git", "--no-optional-locks", "status", "--porcelain", "--", "transforms", "warehouse"],
                               cwd=ROOT, capture_output=True, text=True, check=True).stdout.split("\n")
    except (OSError, subprocess.CalledProcessError):
        return "unknown (not a git checkout)"
    changed = [line[3:] for line in dirty if line.strip()]
    return head + (f" with uncommitted changes to {', '.join(changed)}" if changed else "")


def load() -> str:
    return "{:.2f} {:.2f} {:.2f}".format(*os.getloadavg())


def bench_size(items: int) -> dict:
    print(f"\n== rebuild at {items:,} items ==", flush=True)
    raw = WORK / f"raw-{items}.duckdb"
    result: dict = {"items": items, "load_before": load()}

    print(f"generating raw ({PY} -m bench.raw_at_scale {items} {raw})", flush=True)
    wall, _, rc, lines = run([PY, "-m", "bench.raw_at_scale", str(items), str(raw), "--seed-items", str(SEED_ITEMS),
                              "--seed-dir", str(WORK)],
                             WORK / f"generate-{items}.log")
    generated = last_json(lines)
    if rc or generated is None:
        raise SystemExit(f"generating raw at {items} items failed (exit {rc}): see {WORK / f'generate-{items}.log'}")
    result["generated"] = generated

    # issue #12: core and the marts the floor also computes, built alone, from a copy of raw (the
    # full build writes into raw), removed before the full build
    scoped = WORK / f"scope-{items}.duckdb"
    print(f"our rebuild of core and the floor's marts (load {load()})", flush=True)
    try:
        shutil.copyfile(raw, scoped)
        wall, maxrss, rc, lines = run([PY, "-m", "bench.rebuild", "--rebuild-floor-scope", str(scoped)],
                                      WORK / f"scope-{items}.log")
    finally:
        for path in (scoped, scoped.with_name(scoped.name + ".wal")):
            path.unlink(missing_ok=True)
        shutil.rmtree(scoped.with_name(scoped.name + ".tmp"), ignore_errors=True)
    result["floor_scope"] = {**reported(lines, wall, rc), "wall": wall, "maxrss_kib": maxrss, "rc": rc}

    print(f"our rebuild (load {load()})", flush=True)
    result["load_ours"] = load()
    wall, maxrss, rc, lines = run([PY, "-m", "bench.rebuild", "--rebuild", str(raw)], WORK / f"ours-{items}.log")
    report = reported(lines, wall, rc)
    result["ours"] = {**report, "wall": wall, "maxrss_kib": maxrss, "rc": rc}
    for label, percent in (("quiet", 0), ("night", NIGHT_PERCENT)):
        if report.get("error"):
            break
        print(f"a night with {percent}% of items changed, built incrementally (load {load()})", flush=True)
        wall, maxrss, rc, lines = run([PY, "-m", "bench.rebuild", "--rebuild", str(raw), str(percent)],
                                      WORK / f"{label}-{items}.log")
        result[label] = {**reported(lines, wall, rc), "percent": percent, "wall": wall, "maxrss_kib": maxrss, "rc": rc}
    if not report.get("error"):  # issue #15: the status report of this warehouse, < 20 s at 100k items
        from bench.report import time_warehouse

        print(f"the status report of this warehouse (load {load()})", flush=True)
        result["report"] = time_warehouse(raw, WORK / f"report-{items}")
        print(f"    {result['report']}", flush=True)
    if not KEEP:
        for path in (raw, raw.with_name(raw.name + ".wal")):
            path.unlink(missing_ok=True)
        shutil.rmtree(raw.with_name(raw.name + ".tmp"), ignore_errors=True)

    if FLOOR.exists():
        print(f"the floor: {FLOOR} {items} {WORK} (load {load()})", flush=True)
        result["load_floor"] = load()
        wall, maxrss, rc, lines = run([PY, str(FLOOR), str(items), str(WORK)], WORK / f"floor-{items}.log")
        text = "\n".join(lines)
        total = re.search(r"total ([\d.]+)s; peak RSS (\d+) MiB", text)
        steps = dict((m[1], float(m[2])) for m in re.finditer(r"^(\S+)\s+([\d.]+)s$", text, re.M))
        made = re.search(r"generated \d+ issues, ([\d.]+) GB of JSON in ([\d.]+)s", text)
        result["floor"] = {"seconds": float(total[1]) if total else None,
                           "printed_peak_rss_mib": int(total[2]) if total else None,
                           "maxrss_kib": maxrss, "wall": wall, "rc": rc, "steps": steps,
                           "json_gb": float(made[1]) if made else None,
                           "error": None if total and not rc else f"exit {rc}: see {WORK / f'floor-{items}.log'}"}
    else:
        reason = f"{FLOOR} is absent (the project's ../shared sibling folder): the floor is skipped"
        print(reason, flush=True)
        result["floor"] = {"skipped": reason}
    result["load_after"] = load()
    return result


# -- the report ------------------------------------------------------------------------------------

def _ratio(ours: float | None, floor: float | None) -> str:
    return f"{ours / floor:.1f}×" if ours and floor else "–"


def _night(res: dict, label: str) -> str:
    night, ours = res.get(label), res["ours"]
    if not night:
        return "–"
    if night.get("error"):
        return f"failed: {night['error']['line']}"
    built = sum(1 for t in night["tables"] if t["how"] != "skipped")
    share = f" ({100 * night['seconds'] / ours['seconds']:.1f}% of full)" if ours.get("seconds") else ""
    return f"{night['seconds']:.2f}{share}, {built} of {len(night['tables'])} tables built"


def _scope(res: dict, floor_s: float | None) -> str:
    """The core-and-floor's-marts build: its seconds, and its ratio to the floor to two decimals
    (the issue's bound is 1.25×)."""
    scope = res.get("floor_scope")
    if not scope:
        return "– | –"
    if scope.get("error"):
        return f"failed: {scope['error']['line']} | –"
    ratio = f"{scope['seconds'] / floor_s:.2f}×" if floor_s else "–"
    return f"{scope['seconds']:.1f} | {ratio}"


def table(results: list[dict]) -> str:
    rows = ["| items | Jira issues | Jira histories | raw JSON GB | our full build s | our peak RSS MiB | "
            "floor: Jira-shaped issues, 10 histories each | floor raw JSON GB | floor s | floor peak RSS MiB | "
            "wall vs floor | core and the floor's marts: s | vs floor | RSS vs floor | night without changes: s | night with "
            f"{results[0].get('night', {}).get('percent', NIGHT_PERCENT) if results else NIGHT_PERCENT}% "
            "of items changed: s | night peak RSS MiB | our result |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for res in results:
        g, ours, floor = res["generated"], res["ours"], res["floor"]
        failed = ours.get("error")
        floor_s = floor.get("seconds") if not floor.get("error") else None
        floor_rss = floor.get("maxrss_kib") if not floor.get("error") else None
        result = (f"failed in {failed['table']} after {failed['seconds']:.1f} s: {failed['line']}" if failed
                  else "built every table") + (
            "; NOT COMPARABLE: transforms/ or warehouse/ changed during the rebuild" if ours.get("code_changed") else "")
        floor_cells = (f"{res['items']:,} | {floor['json_gb'] if floor.get('json_gb') is not None else '?'} | "
                       f"{floor_s:.1f} | {floor_rss / 1024:,.0f}" if floor_s else
                       f"{'skipped' if floor.get('skipped') else 'failed'} | – | – | –")
        night_rss = max((res[k]["maxrss_kib"] for k in ("quiet", "night") if res.get(k)), default=None)
        rows.append(
            f"| {g['items']:,} | {g['jira_issues']:,} | {g['histories']:,} ({g['histories_per_jira_issue']} per issue) | "
            f"{g['json_gb']:.2f} | {ours['seconds']:.1f}{' (failed)' if failed else ''} | "
            f"{ours['maxrss_kib'] / 1024:,.0f} | {floor_cells} | "
            f"{'–' if failed else _ratio(ours['seconds'], floor_s)} | {_scope(res, floor_s)} | "
            f"{_ratio(ours['maxrss_kib'], floor_rss)} | {_night(res, 'quiet')} | {_night(res, 'night')} | "
            f"{night_rss / 1024 if night_rss else 0:,.0f} | {result} |")
    return "\n".join(rows)


# The program metrics (issue "Program metrics from history"): their share of a build is held to 10%.
METRICS_TABLES = ("core.item_history", "core.burnup_events", "core.item_flow_facts", "marts.progress", "marts.burnup", "marts.item_flow",
                  "marts.throughput", "marts.flow", "marts.forecasts")


# Risk and health (issue "Program risk and explainable health"): people, tombstones, slips,
# dependency risk, critical path, health and its history (the first sync's replays are timed apart).
RISK_TABLES = ("core.tombstones", "core.person_identities", "core.people", "marts.milestone_slips",
               "marts.dependency_risk", "marts.critical_path", "marts.person_match_suggestions",
               "marts.resource_conflicts", "marts.resource_conflict_items", "marts.health_reasons", "marts.health",
               "marts.health_history", "marts.changes_since", "marts.project_health", "marts.program_health")


def metrics_share(results: list[dict]) -> list[str]:
    """Per size: what the metrics tables, and the risk and health tables, took of the full build
    and of the night."""
    lines = []
    for title, tables in (("Program metrics", METRICS_TABLES), ("Risk and health", RISK_TABLES)):
        for res in results:
            parts = []
            for label, run in (("full build", res["ours"]), ("night", res.get("night"))):
                if not run or run.get("error") or not run.get("seconds"):
                    continue
                spent = sum(t["seconds"] for t in run["tables"] if t["table"] in tables)
                parts.append(f"{spent:.2f} s of the {label}'s {run['seconds']:.2f} s "
                             f"({100 * spent / run['seconds']:.1f}%)")
            if parts:
                lines.append(f"{title} ({', '.join(tables)}) at {res['items']:,} items: " + "; ".join(parts)
                             + ". Each table's own seconds: where steps are built two at a time "
                             "(transforms.build.build_streams), theirs overlap, so what they add to the wall "
                             "is at most this sum.")
    for res in results:
        rep = res.get("report")
        if rep and rep.get("error"):
            lines.append(f"The status report at {res['items']:,} items failed: {rep['error']}")
        elif rep:
            lines.append(f"The status report (`pulse report`'s write_report as a process, median of 3) at "
                         f"{res['items']:,} items: {rep['seconds']:.1f} s (runs {', '.join(map(str, rep['runs']))}), "
                         f"peak RSS {rep['maxrss_mib']:,} MiB, {rep['pages']} program pages, "
                         f"{rep['html_bytes'] / 1e6:.1f} MB of HTML.")
    for res in results:
        replay = (res.get("ours") or {}).get("history_replay")
        if replay and replay["days"]:
            lines.append(f"A first sync's reconstruction of marts.health_history at {res['items']:,} items: "
                         f"{replay['days']} days replayed in {replay['seconds']:.1f} s "
                         f"({replay['seconds'] / replay['days']:.1f} s a day), after the full build.")
    return lines


def per_table(results: list[dict]) -> str:
    names: list[str] = []
    for res in results:
        names += [t["table"] for t in res["ours"]["tables"] if t["table"] not in names]
    head = "| table | " + " | ".join(f"{r['generated']['items']:,} items: full build s (rows) | night s (how)"
                                     for r in results) + " |"
    rows = [head, "|---|" + "---|---|" * len(results)]
    for name in names:
        cells = []
        for res in results:
            done = {t["table"]: t for t in res["ours"]["tables"]}
            night = {t["table"]: t for t in (res.get("night") or {}).get("tables", [])}
            cells.append(f"{done[name]['seconds']:.2f} ({done[name]['rows']:,})" if name in done else "–")
            n = night.get(name)
            cells.append("–" if not n else f"{n['seconds']:.2f} ({n['how']}"
                         + (f" {n['items']:,} {'lines' if name == 'marts.burnup' else 'items'}"
                            if n["how"] == "merged" else "") + ")")
        rows.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(rows)


def render(data: dict) -> str:
    """bench-output/rebuild.md from what rebuild.json holds."""
    results = data["results"]
    first = results[0]["ours"] if results else {}
    whole = f"; whole run {data['seconds']:.0f} s" if data.get("seconds") is not None else ""
    skipped = [r["floor"]["skipped"] for r in results if r["floor"].get("skipped")]
    notes = [
        f"Reproduce: `{data['command']}` ({data.get('date', '?')}, {data.get('machine', '?')}{whole}; "
        f"code: {data.get('code', '?')}; "
        "load average (1, 5, 15 min) per size: "
        + "; ".join(f"{r['items']:,}: before {r['load_before']}, our rebuild {r['load_ours']}, "
                    f"floor {r.get('load_floor', '–')}, after {r['load_after']}" for r in results) + ").",
        "Raw: `python -m bench.raw_at_scale N FILE` (bench/raw_at_scale.py): the portfolio scenario (seed 7, as of "
        f"{AS_OF}) synced through the real connectors as a seed of "
        + ", ".join(sorted({f"{r['generated']['seed_items']:,} items" for r in results}))
        + ", copied in SQL with every key unique per copy ("
        + ", ".join(f"{r['generated']['copies']} copies at {r['items']:,}" for r in results)
        + "); items: Jira issues and GitHub issues (pull requests come on top); Jira histories: "
        "changelog.total summed over issues; raw JSON GB: every raw payload's text. Generating is not counted.",
        f"Our full build: every staging, core and marts table from raw, as the Dagster transform step builds them "
        f"(one connection through warehouse.store.connect with the WarehouseConfig defaults: memory_limit "
        f"{first.get('memory_limit', '?')}, threads {first.get('threads', '?')}; migrate; transforms.build.build_all); "
        "seconds: the whole step, connect to close. A failure is shown with its error line; its wall ratio is not given.",
        "Nights, on the file the full build left, each in its own process and built the same way: one on which "
        "nothing changed, then one on which the given share of items changed, landed first (not counted) the way "
        "warehouse.store.upsert lands a changed row: that share of Jira and of GitHub issues edited (summary, "
        "title; deleted and appended with a new synced_at) and one new event per edited GitHub issue; the edited "
        "GitHub issues that were open closed an hour before as_of (their state, and a closed event) "
        "(bench/rebuild.py land_night). Per table: rebuilt whole, merged (item-scoped: the items merged; "
        "marts.burnup: the lines rebuilt or changed; marts.item_flow: the items whose rows it replaced), ran (staging: found its own changes) or skipped.",
        "Floor: `python ../shared/bench/duckdb_floor.py N DIR` (N Jira-shaped issues of lean JSON with 10 status "
        "histories each; 2 threads, memory_limit 3 GB), its printed total"
        + (f"; skipped here: {skipped[0]}" if skipped else "; it is skipped, saying why, where ../shared is absent")
        + ".",
        "Peak RSS: os.wait4 ru_maxrss of each subprocess (the floor's includes generating its data, as it prints)."
        + (f" The measuring process's own peak RSS, the least any child can report: {data['parent_maxrss_kib'] / 1024:.0f} MiB."
           if data.get("parent_maxrss_kib") else ""),
        "Ratios: ours / the floor's at the same N (the floor = 1×).",
        "Core and the floor's marts: what issue #12 holds to 1.25× the floor, built alone before our full build "
        "from a copy of the same raw file, in its own process and the same way (`python -m bench.rebuild "
        "--rebuild-floor-scope FILE`): every staging and core table (and the milestone snapshot, which core "
        "takes), then " + ", ".join(FLOOR_MARTS) + " (the floor's flow, percentiles, throughput and burn-up); "
        "none of the risk, health or forecast marts.",
    ]
    notes += metrics_share(results)
    return (table(results) + "\n\nPer table, our rebuild:\n\n" + per_table(results) + "\n\n"
            + "\n".join(f"- {n}" for n in notes) + "\n")


def main() -> int:
    if sys.argv[1:2] == ["--rebuild"]:
        return rebuild(Path(sys.argv[2]), float(sys.argv[3]) if len(sys.argv) > 3 else None)
    if sys.argv[1:2] == ["--rebuild-floor-scope"]:
        return rebuild(Path(sys.argv[2]), scope=floor_scope())
    if sys.argv[1:2] == ["--report"]:  # render rebuild.md again from rebuild.json
        text = render(json.loads((OUT / "rebuild.json").read_text()))
        (OUT / "rebuild.md").write_text(text)
        print(text)
        return 0
    OUT.mkdir(exist_ok=True)
    shutil.rmtree(WORK, ignore_errors=True)  # seeds are synced afresh: they are what today's connectors land
    WORK.mkdir(parents=True)
    command = f"make bench-rebuild BENCH_REBUILD_SIZES={','.join(map(str, SIZES))}" + (
        f" BENCH_REBUILD_SEED_ITEMS={SEED_ITEMS}" if SEED_ITEMS != 10_000 else "")
    data: dict = {"command": command, "date": f"{datetime.now(timezone.utc):%Y-%m-%d}",
                  "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
                  "code": code_version(), "results": []}
    started = time.perf_counter()
    for items in SIZES:
        data["results"].append(bench_size(items))
        (OUT / "rebuild.json").write_text(json.dumps(data, indent=1))
    if not KEEP:
        for seed in WORK.glob("seed-*.duckdb*"):
            seed.unlink()
    data["seconds"] = round(time.perf_counter() - started)
    data["parent_maxrss_kib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    text = render(data)
    (OUT / "rebuild.md").write_text(text)
    (OUT / "rebuild.json").write_text(json.dumps(data, indent=1))
    print("\n" + text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
