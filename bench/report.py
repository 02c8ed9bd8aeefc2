"""The status report's wall time, as a person waits for it: `pulse report` as a process (Python
start-up and imports included), median of 3 runs, and its peak RSS. Issue #15 asks for < 3 s on
the demo and < 20 s at 100k items; bench.rebuild times the report of each warehouse it builds with
``--time``, and ``make bench-report`` times the demo's and writes bench-output/report.md.

    python -m bench.report                 # the demo (pulse demo into bench-output/work/report-demo)
    python -m bench.report --time DB OUT   # one report of the warehouse DB into OUT: a JSON line
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench-output"
PY = sys.executable
RUNS = 3


class ReportFailed(Exception):
    """A timed report exited non-zero: recorded by the bench, never a figure."""


def once(argv: list[str]) -> tuple[float, int]:
    """Wall seconds and peak RSS (KiB) of one process."""
    start = time.perf_counter()
    proc = subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status):
        raise ReportFailed(f"{' '.join(argv[:3])} ... failed: "
                           f"{(proc.stderr.read() if proc.stderr else '').strip().splitlines()[-1:]}")
    return wall, usage.ru_maxrss


def timed(argv: list[str]) -> dict:
    runs = [once(argv) for _ in range(RUNS)]
    return {"seconds": round(statistics.median(w for w, _ in runs), 2),
            "runs": [round(w, 2) for w, _ in runs], "maxrss_mib": round(max(r for _, r in runs) / 1024)}


def time_warehouse(db: Path, out: Path) -> dict:
    """The report of a warehouse file that has no program.yaml beside it (bench.rebuild's)."""
    code = ("import sys; from pathlib import Path; from pipelines.report import write_report; "
            "write_report(Path(sys.argv[1]), Path(sys.argv[2]))")
    try:
        result = timed([PY, "-c", code, str(db), str(out)])
    except ReportFailed as failed:
        return {"error": str(failed)}
    result["html_bytes"] = sum(p.stat().st_size for p in out.glob("*.html"))
    result["pages"] = len(list(out.glob("*.html"))) - 1
    return result


def main(argv: list[str]) -> int:
    if argv[:1] == ["--time"]:
        print(json.dumps(time_warehouse(Path(argv[1]), Path(argv[2]))), flush=True)
        return 0
    demo = OUT / "work" / "report-demo"
    subprocess.run([PY, "-m", "pipelines.cli", "demo", "--out", str(demo), "--as-of", "2026-11-27"],
                   cwd=ROOT, check=True, stdout=subprocess.DEVNULL)  # this code's demo, every time
    report = timed([str(Path(PY).with_name("pulse")), "report", "--config", str(demo / "program.yaml"),
                    "--out", str(demo / "report")])
    past = timed([str(Path(PY).with_name("pulse")), "report", "--config", str(demo / "program.yaml"),
                  "--out", str(demo / "report-past"), "--as-of", "2026-11-13"])
    html = sum(p.stat().st_size for p in (demo / "report").glob("*.html"))
    lines = ["# Status report: wall time", "",
             "`make bench-report` (the demo, seed 7, as of 2026-11-27; `pulse report` as a process, median of "
             f"{RUNS} runs; issue #15 asks for < 3 s). The 100k-item report is timed by `make bench-rebuild`.", "",
             "| report | wall (median) | runs | peak RSS | HTML |", "|---|---:|---|---:|---:|",
             f"| demo, today | {report['seconds']:.2f} s | {', '.join(map(str, report['runs']))} | "
             f"{report['maxrss_mib']} MiB | {html / 1e6:.2f} MB |",
             f"| demo, as of 2026-11-13 (replayed) | {past['seconds']:.2f} s | {', '.join(map(str, past['runs']))} | "
             f"{past['maxrss_mib']} MiB | |"]
    OUT.mkdir(exist_ok=True)
    (OUT / "report.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (OUT / "report.json").write_text(json.dumps({"today": report, "past": past, "html_bytes": html}, indent=1))
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
