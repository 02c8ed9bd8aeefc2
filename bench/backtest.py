"""`make bench-backtest` (and a step of `make bench`): how often the forecasts came true.

For the demo scenario (1,000 items) and the portfolio scenario (10,000 items), both seed 7 as of
2026-11-27 and served by the embedded sandbox: `pulse sync` with the program.yaml `pulse demo`
would write, then `pulse backtest` on the published warehouse (milestone forecasts replayed every
7 days over 26 weeks, from history; transforms/backtest.py). Each in its own subprocess. Writes
bench-output/backtest.md with the calibration tables as `pulse backtest` prints them.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from bench.rebuild import run  # imports neither DuckDB nor pandas

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench-output"
WORK = OUT / "work" / "backtest"
BIN = Path(sys.executable).parent
SEED, AS_OF = 7, "2026-11-27"
SCENARIOS = ("demo", "portfolio")


def write_config(folder: Path, scenario: str) -> None:
    from datetime import date

    from pipelines.cli import demo_config
    from pipelines.config import dump

    folder.mkdir(parents=True, exist_ok=True)
    (folder / "program.yaml").write_text(dump(demo_config(SEED, date.fromisoformat(AS_OF), scenario)))


def main() -> int:
    if sys.argv[1:2] == ["--write-config"]:
        write_config(Path(sys.argv[2]), sys.argv[3])
        return 0
    shutil.rmtree(WORK, ignore_errors=True)
    sections, ok = [], True
    for scenario in SCENARIOS:
        folder = WORK / scenario
        subprocess.run([sys.executable, "-m", "bench.backtest", "--write-config", str(folder), scenario],
                       check=True, cwd=ROOT)
        print(f"pulse sync: {scenario}", flush=True)
        _, _, rc, _ = run([str(BIN / "pulse"), "sync", "--config", str(folder / "program.yaml")], folder / "sync.log")
        if rc != 0:
            sections.append(f"### {scenario}\n\nsync failed (exit {rc}): see {folder / 'sync.log'}\n")
            ok = False
            continue
        wall, _, rc, lines = run([str(BIN / "pulse"), "backtest", "--config", str(folder / "program.yaml")],
                                 folder / "backtest.log")
        ok = ok and rc == 0
        sections.append(f"### {scenario} (seed {SEED}, as of {AS_OF}; backtest {wall:.1f} s)\n\n```\n"
                        + "\n".join(lines) + "\n```\n")
    text = ("## Forecast backtest\n\n" + "\n".join(sections)
            + "\n- Reproduce: `make bench-backtest` (bench/backtest.py): each scenario served by the embedded "
              "sandbox, `pulse sync` with the program.yaml `pulse demo` would write, then `pulse backtest`.\n"
              "- by P50 / by P85: of the replayed forecasts that are resolved (the milestone finished, or the "
              "date passed with work open), the share that finished on or before that date. Calibrated "
              "forecasts finish by their P85 date 85% of the time.\n")
    OUT.mkdir(exist_ok=True)
    (OUT / "backtest.md").write_text(text)
    print("\n" + text)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
