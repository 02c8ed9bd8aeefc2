"""`make bench-sync-memory` (and a step of `make bench`): peak RSS of a whole `pulse sync` run
(ingest, every transform, publish: one process) on the sandbox's portfolio scenario (10,000 items,
seed 7, as of 2026-11-27): the first sync (full, every table built from nothing), then a night
without changes. Measured twice:

- **sandbox apart**, as against real trackers: `pulse sandbox` in its own process, every project
  of the scenario in a program.yaml at its URL (bench/run.py's ``run_pulse_sync``);
- **sandbox embedded**, as `pulse demo` runs it: the whole scenario in memory in the sync's own
  process, which therefore also holds it (an upper bound).

Each run in its own subprocess; peak RSS from `os.wait4` (ru_maxrss). This process only writes the
config (in a subprocess too: on Linux a child's ru_maxrss starts at its parent's peak). Writes
bench-output/sync_memory.md and .json.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

from bench.rebuild import run  # imports neither DuckDB nor pandas: this process stays small

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench-output"
WORK = OUT / "work" / "sync-memory"
BIN = Path(sys.executable).parent
SEED, AS_OF, ITEMS = 7, "2026-11-27", 10_000


def write_config(folder: Path) -> None:
    from datetime import date

    from pipelines.cli import demo_config
    from pipelines.config import dump

    folder.mkdir(parents=True, exist_ok=True)
    (folder / "program.yaml").write_text(dump(demo_config(SEED, date.fromisoformat(AS_OF), "portfolio")))


def apart(runs: dict) -> None:
    """pulse sync against `pulse sandbox` in its own process, every project of the scenario."""
    from bench.run import Sandbox, run_pulse_sync, scenario_floors

    floors = scenario_floors(ITEMS)
    work = WORK / "apart"
    work.mkdir(parents=True)
    sandbox = Sandbox(ITEMS, work / "sandbox.log", latency_ms=0)
    try:
        for label, mode in (("first sync (full)", "full"), ("night without changes", "nochange")):
            print(f"pulse sync, sandbox apart: {label}", flush=True)
            r = run_pulse_sync(sandbox, sorted(floors), work, mode)
            runs[f"apart: {label}"] = {"wall": round(r["wall"], 1), "maxrss_mib": round(r["maxrss_kib"] / 1024),
                                       "rc": r["rc"], "requests": r["requests"]}
            print(f"    {runs[f'apart: {label}']}", flush=True)
    finally:
        sandbox.stop()


def embedded(runs: dict) -> None:
    """pulse sync with the sandbox embedded in its process, on the program.yaml `pulse demo` writes."""
    subprocess.run([sys.executable, "-m", "bench.sync_memory", "--write-config", str(WORK / "embedded")],
                   check=True, cwd=ROOT)
    for label in ("first sync (full)", "night without changes"):
        print(f"pulse sync, sandbox embedded: {label}", flush=True)
        wall, maxrss, rc, _ = run([str(BIN / "pulse"), "sync", "--config", str(WORK / "embedded" / "program.yaml")],
                                  WORK / "embedded" / f"{label.split()[0]}.log")
        runs[f"embedded: {label}"] = {"wall": round(wall, 1), "maxrss_mib": round(maxrss / 1024), "rc": rc}
        print(f"    {runs[f'embedded: {label}']}", flush=True)


def main() -> int:
    if sys.argv[1:2] == ["--write-config"]:
        write_config(Path(sys.argv[2]))
        return 0
    shutil.rmtree(WORK, ignore_errors=True)
    runs: dict[str, dict] = {}
    apart(runs)
    embedded(runs)
    rows = [f"| pulse sync, portfolio {ITEMS:,} items | wall s | peak RSS MiB | exit |", "|---|---|---|---|"]
    rows += [f"| {label} | {r['wall']} | {r['maxrss_mib']:,} | {r['rc']} |" for label, r in runs.items()]
    text = "\n".join(rows) + (f"\n\n- Reproduce: `make bench-sync-memory` (bench/sync_memory.py): the portfolio "
                              f"scenario (seed {SEED}, as of {AS_OF}, no added latency), `pulse sync` twice with "
                              "the sandbox in its own process (every project), then twice on the program.yaml "
                              "`pulse demo` would write, the sandbox embedded in the sync's process.\n")
    OUT.mkdir(exist_ok=True)
    (OUT / "sync_memory.md").write_text(text)
    (OUT / "sync_memory.json").write_text(json.dumps(runs, indent=1))
    print("\n" + text)
    return 0 if all(r["rc"] == 0 for r in runs.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
