"""The stakeholder status report: ``pulse report`` and the weekly ``reports/status`` asset.

Reads the published warehouse only (never the work file a sync is writing), so it runs beside a
sync and describes exactly one snapshot. data.py reads, charts.py draws, render.py writes."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from pipelines.report.data import ProgramReport, ReportError, load_programs, open_snapshot, programs
from pipelines.report.render import as_json, html_index, html_page, markdown, program_charts

# From this many programs on, charts are drawn in worker processes (one per core, at most 2) while
# this one replays the forecasts for the calibration table: vl-convert holds the GIL, so threads
# would draw one chart at a time, and a worker costs a second of imports and start-up.
PARALLEL_FROM = 4
# The calibration table's Monte Carlo trials per replayed forecast: it only reads P50 and P85,
# which 2,000 trials place as 10,000 do (at 100k items: 3,696 against 3,698 of 9,591 resolved by
# P50), in 6.1 s instead of 10.2 s. `pulse backtest` uses the marts' forecast_trials.
CALIBRATION_TRIALS = 2_000

__all__ = ["ReportError", "ReportFiles", "write_report"]


@dataclass(frozen=True)
class ReportFiles:
    """What a report run wrote, and the verdicts it reported (for notifications and metadata)."""

    folder: Path
    index: Path | None  # None for one program's report (--program): the folder's index is left as it was
    pages: tuple[Path, ...]
    markdown: Path
    json: Path
    verdicts: tuple[tuple[str, str], ...]  # (program id, health)
    seconds: float


def write_report(published: Path, out: Path, program: str | None = None, as_of: date | None = None,
                 backtest: bool = True) -> ReportFiles:
    """Write index.html, one <program>.html per program, summary.md and report.json into ``out``
    from the published warehouse; ``as_of`` a past day reports what the warehouse says of it.
    With ``program``, only that program's <program>.html, .md and .json: a one-program report run
    into the weekly report's folder leaves the other programs' index, summary and JSON alone."""
    import multiprocessing
    import os
    from concurrent.futures import ProcessPoolExecutor

    from transforms.backtest import calibrate, replay

    started = time.perf_counter()
    with open_snapshot(published, as_of) as (con, snapshot):
        ids = [program] if program else [p["program_id"] for p in programs(con)]
        reports: list[ProgramReport] = load_programs(con, snapshot, ids)
        workers = min(2, os.cpu_count() or 1) if len(reports) >= PARALLEL_FROM else 1
        if workers > 1:  # spawned, not forked: this process holds DuckDB's threads
            pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"))
            drawing = pool.map(program_charts, reports, chunksize=max(1, len(reports) // (4 * workers)))
        # the report's programs only: the "all" row is then theirs, not the portfolio's
        calibration = calibrate([r for r in replay(con, snapshot.as_of, trials=CALIBRATION_TRIALS)
                                 if r.program_id in ids], snapshot.as_of) if backtest else []
    if workers > 1:
        with pool:
            drawn = list(drawing)
    else:
        drawn = [program_charts(r) for r in reports]
    out.mkdir(parents=True, exist_ok=True)
    files = {r.program_id: f"{_slug(r.program_id)}.html" for r in reports}
    pages = []
    for r, charts in zip(reports, drawn):
        page = out / files[r.program_id]
        _write(page, html_page(r, calibration, charts, backtest))
        pages.append(page)
    if program is None:
        index, summary, data = out / "index.html", out / "summary.md", out / "report.json"
        _write(index, html_index(reports, files))
    else:  # one program: its own Markdown and JSON beside its page, never over the whole report's
        index, summary, data = None, out / f"{_slug(program)}.md", out / f"{_slug(program)}.json"
    _write(summary, markdown(reports, files))
    _write(data, as_json(reports, calibration))
    return ReportFiles(out, index, tuple(pages), summary, data,
                       tuple((r.program_id, r.program.health) for r in reports), time.perf_counter() - started)


def _slug(program_id: str) -> str:
    """A file name from a program id (ids come from program.yaml, but a path must stay a name)."""
    return "".join(ch if ch.isalnum() or ch in "-_" else "-" for ch in program_id) or "program"


def _write(path: Path, content: str | bytes) -> None:
    """Write beside and rename, so a reader (or a web server) never sees half a page."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    tmp.replace(path)
