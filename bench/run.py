"""`make bench`: Program Pulse and Perceval 1.6.1 (the third-party peer) syncing the sandbox's
`portfolio` scenario with 50 ms added to every request, full sync and a no-change re-run.

The sandbox runs in its own process (`pulse sandbox --port 0`); each client runs in a subprocess,
timed with perf_counter around it and its peak RSS read from `os.wait4` (ru_maxrss, KiB on Linux).
Requests come from the sandbox's `/_sandbox/stats`, reset before each run. The floor is computed
from the scenario (bench/floor.py). Perceval reads Jira Data Center only (Cloud answers it 410) and
GitHub through --enterprise-url, one process per project or repository, PARALLEL at a time; its log
is searched for `Error!` (it exits 0 on failures). Program Pulse is measured twice: over every
project of the scenario, and over exactly the projects Perceval reads.

    BENCH_SIZES=10000,100000  item counts (default both)
    BENCH_PEER_LIMIT=6        above 10,000 items Perceval reads only the first N Data Center projects
                              and the first N repositories (sorted by key), labelled so; 0: all
    BENCH_PARALLEL=1          Perceval processes at a time (1: as it runs, one after another)
    BENCH_LATENCY_MS=50
"""

from __future__ import annotations

import json
import os
import platform
import re
import shlex
import shutil
import subprocess
import sys
import threading
import time
import urllib.request
from dataclasses import dataclass
from datetime import date, datetime, timezone
from pathlib import Path

import resource

# Kept small on purpose: on Linux a child's ru_maxrss starts at this process's peak RSS (exec keeps
# the high-water mark of the image it replaces), so the scenario is built in a subprocess.
from bench.floor import GITHUB, JIRA_CLOUD, JIRA_DC, ProjectFloor, as_json, floor, from_json
from sandbox.credentials import SANDBOX_TOKEN, SANDBOX_TOKEN_ENV, SANDBOX_USER_ENV  # constants only: no server
from sandbox.limits import SecondaryLimits  # GitHub's documented numbers, which the sandbox enforces

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench-output"
PY = sys.executable
BIN = Path(PY).parent
SEED, AS_OF = 7, date(2026, 11, 27)


def env_int(name: str, default: int) -> int:
    return int(os.environ.get(name) or default)


SIZES = [int(s) for s in (os.environ.get("BENCH_SIZES") or "10000,100000").replace(" ", "").split(",") if s]
PEER_LIMIT = env_int("BENCH_PEER_LIMIT", 6)
PARALLEL = env_int("BENCH_PARALLEL", 1)
# Program Pulse's defaults (JiraSite.concurrency, GithubSite.concurrency: projects a site reads at
# once; sync.requests_in_flight: the lanes every site shares; a unit test checks they agree): the
# latency floor of a run is its requests x the latency / the requests it can have in flight, the
# lanes or, with fewer projects, the sum over the sites of min(concurrency, the site's projects),
# twice that for GitHub (a repository's events are read beside its issues).
SITE_CONCURRENCY = {JIRA_CLOUD: 16, JIRA_DC: 16, GITHUB: 16}
READERS_PER_PROJECT = {JIRA_CLOUD: 1, JIRA_DC: 1, GITHUB: 2}
REQUESTS_IN_FLIGHT = 8


def in_flight(selection: list[tuple[str, str]]) -> int:
    return min(REQUESTS_IN_FLIGHT, sum(READERS_PER_PROJECT[site] * min(SITE_CONCURRENCY[site],
                                                                       sum(1 for s, _ in selection if s == site))
                                       for site in {s for s, _ in selection}))
LATENCY = env_int("BENCH_LATENCY_MS", 50)


def pace_floor(github_gets: int, latency_s: float, limits: SecondaryLimits = SecondaryLimits()) -> float:
    """The least time GitHub's points budget (900 a minute, a GET 1 point: documented, enforced by
    the sandbox, paced by the connector) allows for that many GETs, whatever the concurrency: a
    budget's worth at once, then each next budget a window later, and the last answer's latency.
    At 100,000 items the full sync's 3,709 GitHub requests take at least 4 minutes this way, far
    above their latency floor; at 10,000 items (430) the budget never binds."""
    if github_gets <= 0:
        return 0.0
    return (github_gets - 1) // limits.points * limits.window_seconds + latency_s


@dataclass
class Measure:
    wall: float
    maxrss_kib: int
    rc: int
    cpu: float = 0.0  # the process's user + system seconds


def measure(argv: list[str], log: Path, *, tree: Path = ROOT,
            env: dict[str, str] | None = None) -> tuple[subprocess.Popen, float]:
    """Start ``argv`` in ``tree`` (another checkout of the project: first on PYTHONPATH, since the
    editable install would import this one), with ``env`` added to this process's environment."""
    log.parent.mkdir(parents=True, exist_ok=True)
    handle = open(log, "wb")
    extra = {**(env or {}), **({} if tree == ROOT else {"PYTHONPATH": str(tree)})}
    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=handle, stderr=subprocess.STDOUT, cwd=tree,
                            env={**os.environ, **extra} if extra else None)
    handle.close()
    return proc, start


def wait(proc: subprocess.Popen, start: float) -> Measure:
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    return Measure(wall, usage.ru_maxrss, proc.returncode, usage.ru_utime + usage.ru_stime)


class Sandbox:
    """`pulse sandbox` in its own process on a free port (--port 0), read from its banner."""

    def __init__(self, items: int, log: Path, *, scenario: str = "portfolio", latency_ms: int = LATENCY,
                 prefix: tuple[str, ...] = ()) -> None:
        self.argv = [*prefix, str(BIN / "pulse"), "sandbox", "--port", "0", "--scenario", scenario,
                     *(["--items", str(items)] if scenario == "portfolio" else []),
                     "--seed", str(SEED), "--as-of", AS_OF.isoformat(),
                     *(["--latency-ms", str(latency_ms)] if latency_ms else [])]
        self.log = open(log, "w")
        self.proc = subprocess.Popen(self.argv, stdout=subprocess.PIPE, stderr=self.log, text=True, cwd=ROOT)
        self.url = None
        for line in self.proc.stdout:
            self.log.write(line)
            if m := re.search(r"stats\s+(http://[\d.]+:\d+)/_sandbox/stats", line):
                self.url = m.group(1)
                break
        if not self.url:
            raise SystemExit(f"the sandbox did not start: see {log}")
        threading.Thread(target=lambda: [self.log.write(l) for l in self.proc.stdout], daemon=True).start()

    def _call(self, method: str, path: str) -> dict:
        req = urllib.request.Request(self.url + path, method=method, data=b"" if method == "POST" else None)
        with urllib.request.urlopen(req, timeout=60) as r:
            return json.loads(r.read() or b"{}")

    def reset(self) -> None:
        self._call("POST", "/_sandbox/stats/reset")

    def stats(self) -> dict:
        return self._call("GET", "/_sandbox/stats")

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=60)


def requests_of(stats: dict) -> tuple[int, dict[str, int]]:
    by_status: dict[str, int] = {}
    for row in stats["requests"]:
        by_status[str(row["status"])] = by_status.get(str(row["status"]), 0) + row["count"]
    return stats["total"], by_status


# -- Program Pulse ------------------------------------------------------------------------------

def run_pulse(sandbox: Sandbox, selection: list[tuple[str, str]], db: Path, sync_id: str, full: bool,
              log: Path, tree: Path = ROOT) -> dict:
    keys = {site: ",".join(k for s, k in selection if s == site) for site in (JIRA_CLOUD, JIRA_DC, GITHUB)}
    argv = [PY, "-m", "bench.pulse_client", "--url", sandbox.url, "--db", str(db), "--sync-id", sync_id,
            "--jira-cloud", keys[JIRA_CLOUD], "--jira-dc", keys[JIRA_DC], "--repos", keys[GITHUB]]
    if full:
        argv.append("--full")
    sandbox.reset()
    m = wait(*measure(argv, log, tree=tree))
    total, by_status = requests_of(sandbox.stats())
    lines = log.read_text(errors="replace").strip().splitlines()
    try:
        report = json.loads(lines[-1])
    except (IndexError, json.JSONDecodeError):
        report = {"items": None, "errors": [f"exit {m.rc}: see {log}"]}
    return {"wall": m.wall, "maxrss_kib": m.maxrss_kib, "rc": m.rc, "cpu": m.cpu, "requests": total,
            "by_status": by_status, "landed": report.get("items"), "errors": report.get("errors", [])}


def run_pulse_sync(sandbox: Sandbox, selection: list[tuple[str, str]], work: Path, mode: str,
                   tree: Path = ROOT) -> dict:
    """`pulse sync`, the whole night as a user runs it (Dagster, ingest, transforms, escalations,
    report, publish), on a program.yaml naming exactly ``selection`` at the sandbox's URL, by the
    checkout at ``tree`` (its own dagster.yaml; first on PYTHONPATH, as ``measure`` runs it)."""
    config = work / "pulse-sync" / "program.yaml"
    if not config.exists():
        config.parent.mkdir(parents=True)
        sites = {site: f"  {site}: {{kind: {'github' if site == GITHUB else 'jira'}, url: '{sandbox.url}/{site}', "
                       f"token_env: {SANDBOX_TOKEN_ENV}"
                       + (f", user_env: {SANDBOX_USER_ENV}" if site == JIRA_CLOUD else "") + "}"
                 for site in sorted({s for s, _ in selection})}
        projects = "\n".join(f"      - {{site: {site}, {'repo' if site == GITHUB else 'key'}: '{key}'}}"
                             for site, key in selection)
        config.write_text("version: 1\nwarehouse: {path: pulse.duckdb}\nsites:\n" + "\n".join(sites.values())
                          + f"\nprograms:\n  - id: bench\n    name: Perceval's projects\n    projects:\n{projects}\n")
    env = {SANDBOX_TOKEN_ENV: SANDBOX_TOKEN, SANDBOX_USER_ENV: "pulse@example.com",
           "DAGSTER_HOME": str(config.parent / ".dagster")}
    Path(env["DAGSTER_HOME"]).mkdir(exist_ok=True)
    # The instance as `make dev` and the Docker image set it up: the project's dagster.yaml.
    shutil.copy(tree / "dagster.yaml", Path(env["DAGSTER_HOME"]) / "dagster.yaml")
    sandbox.reset()
    log = work / f"pulse_sync_{mode}.log"
    m = wait(*measure([str(BIN / "pulse"), "sync", "--config", str(config)], log, tree=tree, env=env))
    total, by_status = requests_of(sandbox.stats())
    return {"wall": m.wall, "maxrss_kib": m.maxrss_kib, "rc": m.rc, "cpu": m.cpu, "requests": total,
            "by_status": by_status, "errors": [] if m.rc == 0 else [f"exit {m.rc}: see {log}"]}


# -- Perceval -----------------------------------------------------------------------------------

def perceval_argv(sandbox: Sandbox, site: str, key: str, out: Path, since: str | None) -> list[str]:
    common = ["--no-archive", "--json-line", "-o", str(out)] + (["--from-date", since] if since else [])
    if site == JIRA_DC:
        return [str(BIN / "perceval"), "jira", f"{sandbox.url}/jira-dc", "--project", key,
                "-t", SANDBOX_TOKEN, *common]
    owner, name = key.split("/")
    return [str(BIN / "perceval"), "github", owner, name, "--enterprise-url", f"{sandbox.url}/github",
            "--category", "issue", *common, "-t", SANDBOX_TOKEN]


def run_perceval(sandbox: Sandbox, selection: list[tuple[str, str]], work: Path, label: str,
                 since: dict[tuple[str, str], str] | None) -> dict:
    """One Perceval process per project, PARALLEL at a time; wall time of the whole set."""
    sandbox.reset()
    pending = list(selection)
    running: dict[int, tuple[subprocess.Popen, float, tuple[str, str], Path, Path]] = {}
    done: dict[tuple[str, str], tuple[Measure, Path, Path]] = {}
    start = time.perf_counter()
    while pending or running:
        while pending and len(running) < PARALLEL:
            sel = pending.pop(0)
            slug = f"{label}-{sel[0]}-{sel[1].replace('/', '_')}"
            out, log = work / f"{slug}.jsonl", work / f"{slug}.log"
            proc, t0 = measure(perceval_argv(sandbox, *sel, out, (since or {}).get(sel)), log)
            running[proc.pid] = (proc, t0, sel, out, log)
        pid, status, usage = os.wait4(-1, 0)
        if pid not in running:
            continue
        proc, t0, sel, out, log = running.pop(pid)
        proc.returncode = os.waitstatus_to_exitcode(status)
        done[sel] = (Measure(time.perf_counter() - t0, usage.ru_maxrss, proc.returncode), out, log)
    wall = time.perf_counter() - start
    total, by_status = requests_of(sandbox.stats())
    items, newest, errors = 0, {}, []
    for sel, (m, out, log) in done.items():
        updated = []
        if out.exists():
            for line in out.read_text().splitlines():
                updated.append(json.loads(line)["updated_on"])
        items += len(updated)
        if updated:
            newest[sel] = datetime.fromtimestamp(max(updated), timezone.utc).isoformat()
        elif since and sel in since:
            newest[sel] = since[sel]
        errors += [f"{sel[1]}: {line.strip()}" for line in log.read_text(errors="replace").splitlines()
                   if "Error!" in line]
        if m.rc:
            errors.append(f"{sel[1]}: exit {m.rc}")
    return {"wall": wall, "maxrss_kib": max(m.maxrss_kib for m, _, _ in done.values()),
            "requests": total, "by_status": by_status, "landed": items, "errors": errors,
            "newest": {f"{s}|{k}": v for (s, k), v in newest.items()}, "_newest": newest,
            "processes": len(done)}


# -- one size -----------------------------------------------------------------------------------

def scenario_floors(items: int) -> dict[tuple[str, str], ProjectFloor]:
    """Every project of the portfolio at ``items`` (the sandbox's seed and as-of) with its request
    floor, computed in a subprocess: building the scenario would make this process large, and a
    child's ru_maxrss starts at its parent's peak."""
    return from_json(json.loads(subprocess.run([PY, "-m", "bench.floor", str(items), str(SEED), AS_OF.isoformat()],
                                               cwd=ROOT, check=True, capture_output=True).stdout))


def bench_size(items: int) -> dict:
    print(f"\n== portfolio, {items:,} items, {LATENCY} ms per request ==", flush=True)
    t = time.perf_counter()
    floors = scenario_floors(items)
    print(f"floor computed in {time.perf_counter() - t:.1f} s", flush=True)
    everything = sorted(floors)
    dc = sorted(k for k in floors if k[0] == JIRA_DC)
    repos = sorted(k for k in floors if k[0] == GITHUB)
    limited = bool(PEER_LIMIT) and items > 10_000 and (len(dc) > PEER_LIMIT or len(repos) > PEER_LIMIT)
    peer = (dc[:PEER_LIMIT] + repos[:PEER_LIMIT]) if limited else dc + repos
    work = OUT / "work" / str(items)
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    sandbox = Sandbox(items, work / "sandbox.log")
    runs: dict[str, dict] = {}
    try:
        for name, sel in (("pulse_all", everything), ("pulse_peer", peer)):
            db = work / f"{name}.duckdb"
            # full, then the first incremental (it re-reads its overlap window, and GitHub has no
            # ETags yet), then the steady state of a night on which nothing changed
            for mode, full in (("full", True), ("first", False), ("nochange", False)):
                runs[f"{name}_{mode}"] = r = run_pulse(sandbox, sel, db, f"{name}-{mode}", full,
                                                       work / f"{name}_{mode}.log")
                print(f"{name} {mode}: {r['wall']:.1f} s, {r['requests']} requests, "
                      f"{r['maxrss_kib'] / 1024:.0f} MiB, errors {len(r['errors'])}", flush=True)
        for mode in ("full", "nochange"):
            runs[f"pulsesync_{mode}"] = r = run_pulse_sync(sandbox, peer, work, mode)
            print(f"pulse sync {mode}: {r['wall']:.1f} s, {r['requests']} requests, "
                  f"{r['maxrss_kib'] / 1024:.0f} MiB, errors {len(r['errors'])}", flush=True)
        full = runs["perceval_full"] = run_perceval(sandbox, peer, work, "full", None)
        print(f"perceval full: {full['wall']:.1f} s, {full['requests']} requests, {full['landed']} items, "
              f"errors {len(full['errors'])}", flush=True)
        runs["perceval_nochange"] = r = run_perceval(sandbox, peer, work, "nochange", full.pop("_newest"))
        r.pop("_newest")
        print(f"perceval nochange: {r['wall']:.1f} s, {r['requests']} requests, {r['landed']} items, "
              f"errors {len(r['errors'])}", flush=True)
    finally:
        sandbox.stop()
    return {"items": items, "latency_ms": LATENCY, "seed": SEED, "as_of": AS_OF.isoformat(),
            "sandbox": shlex.join(sandbox.argv), "projects": len(everything),
            "peer_projects": [k for _, k in peer], "peer_limited": limited, "parallel": PARALLEL,
            "in_flight_all": in_flight(everything), "in_flight_peer": in_flight(peer),
            "floor_all": floor(floors, everything), "floor_peer": floor(floors, peer), "runs": runs,
            "github_floor_all": sum(floors[k].requests for k in everything if k[0] == GITHUB),
            "github_floor_peer": sum(floors[k].requests for k in peer if k[0] == GITHUB),
            "project_floors": as_json(floors)}


# -- the table ----------------------------------------------------------------------------------

def _ratio(value: float, base: float) -> str:
    return f"{value / base:.2f}×" if base else "–"


def table(results: list[dict]) -> str:
    rows = ["| items | scope | sync | client | requests | floor | wall s | latency floor s | wall vs latency floor | "
            "GitHub's pace floor s | wall vs the higher floor | "
            "items/s | peak RSS MiB | requests vs Perceval | wall vs Perceval | RSS vs Perceval | errors |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for res in results:
        peer_scope = (f"Perceval's subset: {len(res['peer_projects'])} projects "
                      f"({'first ' + str(PEER_LIMIT) + ' DC + first ' + str(PEER_LIMIT) + ' repos, a fixed subset' if res['peer_limited'] else 'every Jira DC project and repo'}), "
                      f"{res['floor_peer']['items']:,} items")
        all_scope = f"all {res['projects']} projects, {res['floor_all']['items']:,} items"
        for mode, label in (("full", "full"), ("first", "first incremental"), ("nochange", "no change")):
            base = res["runs"].get(f"perceval_{mode}")
            for key, client, scope, fl in (
                    ("pulse_all", "Program Pulse", all_scope, res["floor_all"]),
                    ("pulse_peer", "Program Pulse", peer_scope, res["floor_peer"]),
                    ("pulsesync", "Program Pulse: `pulse sync`, the whole night", peer_scope, res["floor_peer"]),
                    ("perceval", f"Perceval 1.6.1 ({res['parallel']} processes at a time)", peer_scope,
                     res["floor_peer"])):
                r = res["runs"].get(f"{key}_{mode}")
                if r is None:  # Perceval has no first-incremental run: its re-run is its no-change run
                    continue
                same = key != "pulse_all" and base is not None
                floor_n = fl["full"] if mode == "full" else fl["nochange"]
                # requests x latency / requests in flight: Program Pulse's own concurrency, Perceval's processes
                lanes = res["parallel"] if key == "perceval" else res.get(
                    "in_flight_all" if key == "pulse_all" else "in_flight_peer", 1)
                latency_floor = r["requests"] * res["latency_ms"] / 1000 / max(1, lanes)
                # a full sync's GitHub floor requests under its points budget (Program Pulse's; a
                # no-change night asks 2 a repository, never near it; Perceval asks its own way)
                gets = res.get("github_floor_all" if key == "pulse_all" else "github_floor_peer")
                pace = pace_floor(gets, res["latency_ms"] / 1000) if mode == "full" and key != "perceval" and gets else None
                rows.append(
                    f"| {res['items']:,} | {scope} | {label} | {client} | {r['requests']:,} | {floor_n:,} | "
                    f"{r['wall']:.1f} | {latency_floor:.1f} | {r['wall'] / latency_floor:.2f}× | "
                    + (f"{pace:.1f} | {r['wall'] / max(pace, latency_floor):.2f}× | " if pace is not None else "– | – | ")
                    + f"{fl['items'] / r['wall']:,.0f} | {r['maxrss_kib'] / 1024:.0f} | "
                    + (" | ".join([_ratio(r['requests'], base['requests']), _ratio(r['wall'], base['wall']),
                                   _ratio(r['maxrss_kib'], base['maxrss_kib'])]) if same else "– | – | –")
                    + f" | {len(r['errors'])} |")
    return "\n".join(rows)


def main() -> int:
    OUT.mkdir(exist_ok=True)
    command = f"make bench BENCH_SIZES={','.join(map(str, SIZES))} BENCH_PEER_LIMIT={PEER_LIMIT} " \
              f"BENCH_PARALLEL={PARALLEL} BENCH_LATENCY_MS={LATENCY}"
    started = time.perf_counter()
    results = []
    for items in SIZES:
        results.append(bench_size(items))
        (OUT / "bench.json").write_text(json.dumps({"command": command, "results": results}, indent=1))
    machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    notes = [
        f"Reproduce: `{command}` ({datetime.now(timezone.utc):%Y-%m-%d}, {machine}; "
        f"whole run {time.perf_counter() - started:.0f} s).",
        f"The measuring process's own peak RSS, the least any child can report: "
        f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB.",
        f"Sandbox: `pulse sandbox --port 0 --scenario portfolio --items N --seed {SEED} --as-of {AS_OF} "
        f"--latency-ms {LATENCY}` in its own process; each client in a subprocess (wall: perf_counter; "
        "peak RSS: os.wait4 ru_maxrss; Perceval: the largest of its processes).",
        "Requests: the sandbox's /_sandbox/stats, reset before each run. Floor: TRACKER_APIS.md's request "
        "floor computed from the scenario (bench/floor.py); no change: one request per project or repo.",
        "items/s: the scope's items (Jira issues, GitHub issues and pull requests) over wall time. "
        "First incremental = Program Pulse's run right after its full sync (it re-reads its overlap window "
        "and has no ETags yet). No change = a night on which nothing changed: Program Pulse's next "
        "incremental run (steady state); Perceval's re-run with --from-date = the newest `updated` it saw "
        "per project. Both are measured on unchanged sandbox data.",
        "Ratios: against Perceval on the same projects (Perceval = 1.00×). Errors: Program Pulse's failed "
        "projects; Perceval's `Error!` log lines (it exits 0).",
        "Latency floor: the run's requests × the latency ÷ the requests it can have in flight (Program Pulse: "
        "its sync's lanes, 8 by default, or with fewer projects the sum over its sites of min(the site's "
        "concurrency, 16 by default, and its projects), twice that for GitHub, whose repositories' events are "
        "read beside their issues; Perceval: its processes at a time). Program Pulse "
        "runs with its default settings: every site at once, GitHub paced "
        "by its documented limits (which the sandbox enforces), no fixed spacing.",
        "Program Pulse rows: its ingest alone (bench/pulse_client.py: the connectors and the writer into a DuckDB "
        "file); `pulse sync` rows: the whole night as a user runs it on a program.yaml naming Perceval's projects "
        "(Dagster start-up, ingest, transforms, escalations, report, publish).",
    ]
    text = table(results) + "\n\n" + "\n".join(f"- {n}" for n in notes) + "\n"
    errors = [f"{res['items']} {name}: {e}" for res in results for name, r in res["runs"].items()
              for e in r["errors"]]
    if errors:
        text += "\nErrors:\n" + "\n".join(f"- {e}" for e in errors[:40]) + "\n"
    (OUT / "bench.md").write_text(text)
    (OUT / "bench.json").write_text(json.dumps({"command": command, "machine": machine, "results": results},
                                               indent=1))
    print("\n" + text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
