"""What ``pulse`` shows on the terminal: progress while a sync runs, then a compact health summary
and one final line. Rendered with rich, which drops colour and animation when the output is not a
terminal (a pipe, a CI log): the bars are then printed once, as they ended.

The sync itself knows nothing of this module: the ingest code emits ``pipelines.progress`` events
and the Dagster run its own step events; ``SyncDisplay`` turns both into bars. Progress and
problems go to stderr, the summary and the final line to stdout.
"""

from __future__ import annotations

import logging
import threading
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, Progress, ProgressColumn, Task, TaskID, TextColumn
from rich.spinner import Spinner
from rich.table import Column
from rich.text import Text

from pipelines.progress import Event, ItemsLanded, ProjectStarted, ProjectSynced, TableBuilt

# marts.health_reasons.severity: worst first
SEVERITY = {"red": 4, "amber": 3, "unknown": 2, "green": 1}
HEALTH_STYLE = {"red": "bold red", "amber": "bold yellow", "unknown": "bold magenta", "green": "bold green"}


def consoles() -> tuple[Console, Console]:
    """(stdout, stderr) consoles; each writes to whatever sys.stdout / sys.stderr is when it prints."""
    return Console(highlight=False), Console(stderr=True, highlight=False)


def say(console: Console, text: str | Text, style: str | None = None) -> None:
    """One line as it is: no markup, no highlighting, no wrapping (a terminal wraps it if it must)."""
    line = text if isinstance(text, Text) else Text(text, style=style or "")
    console.print(line, soft_wrap=True, markup=False, highlight=False)


# -- The health summary ------------------------------------------------------------------------

@dataclass(frozen=True)
class Verdict:
    """A program's or project's health and its reasons, worst first (marts.*_health)."""

    program_id: str
    name: str
    health: str
    reasons: tuple[str, ...]
    project_key: str | None = None  # None: the program itself

    @property
    def label(self) -> str:
        if self.project_key is None:
            return f"{self.name} [{self.program_id}]"
        return self.project_key if self.name in (None, "", self.project_key) else f"{self.name} ({self.project_key})"

    @property
    def severity(self) -> int:
        return SEVERITY.get(self.health, 0)


HEALTH_WIDTH = 7  # "UNKNOWN"
LABEL_MAX = 34


def worst_first(programs: Sequence[Verdict], projects: Sequence[Verdict]) -> list[Verdict]:
    """Programs worst first, each followed by its projects worst first (ties by id and key)."""
    ordered: list[Verdict] = []
    for program in sorted(programs, key=lambda v: (-v.severity, v.program_id)):
        ordered.append(program)
        ordered += sorted((p for p in projects if p.program_id == program.program_id),
                          key=lambda v: (-v.severity, v.project_key or ""))
    return ordered


def health_lines(programs: Sequence[Verdict], projects: Sequence[Verdict], width: int) -> list[Text]:
    """One line per program and project, worst first: the verdict, the name, the first reason cut to
    fit ``width`` cells, and how many more reasons there are (+N)."""
    ordered = worst_first(programs, projects)
    label_width = min(max((len(v.label) + (2 if v.project_key else 0) for v in ordered), default=0), LABEL_MAX)
    lines = []
    for v in ordered:
        line = Text(f"{v.health.upper():<{HEALTH_WIDTH}}", style=HEALTH_STYLE.get(v.health, ""))
        label = Text(("  " if v.project_key else "") + v.label, style="" if v.project_key else "bold")
        label.truncate(label_width, overflow="ellipsis", pad=True)
        line.append(" ").append_text(label)
        more = f" +{len(v.reasons) - 1}" if len(v.reasons) > 1 else ""
        room = width - line.cell_len - 2 - len(more)
        if v.reasons and room >= 12:
            reason = Text(v.reasons[0])
            reason.truncate(room, overflow="ellipsis")
            line.append("  ").append_text(reason).append(more, style="dim")
        line.rstrip()
        lines.append(line)
    return lines


def print_summary(console: Console, as_of: Any, programs: Sequence[Verdict], projects: Sequence[Verdict],
                  config_path: Path) -> None:
    """The health of every program and project, one line each, worst first, and where the whole
    reasons are."""
    say(console, Text(f"\nHealth as of {as_of:%Y-%m-%d %H:%M} UTC, worst first; the first reason of each "
                      f"(+N more):", style="bold"))
    for line in health_lines(programs, projects, console.width):
        say(console, line)
    say(console, f"Every reason: pulse report --config {config_path} --out DIR, or marts.health_reasons "
                 f"in the warehouse.", style="dim")


# -- The end of a sync -------------------------------------------------------------------------

def final_line(published: bool, stale: int, items: int, requests: int, seconds: float, warehouse: Path) -> str:
    """The last line of a sync: what it fetched, what it cost, and where the warehouse is."""
    figures = f"{_count(items, 'item')}, {_count(requests, 'request')} in {seconds:.1f} s"
    if not published:
        return f"Nothing published: {figures}; the last snapshot stays at {warehouse}"
    if stale:
        return f"Synced with {stale} stale (above): {figures}; published {warehouse}"
    return f"Synced: {figures}; published {warehouse}"


def _count(n: int, noun: str) -> str:
    return f"{n:,} {noun}" + ("" if n == 1 else "s")


def shown_once(lines: Iterable[str], causes: Sequence[str]) -> list[str]:
    """The lines no cause repeats already (a run whose every project failed says so in its cause)."""
    return [line for line in lines if not any(line in cause for cause in causes)]


# -- Progress ----------------------------------------------------------------------------------

# Dagster steps shown by name; others by their step key. Ingest steps are the site bars.
STEP_LABELS = {"core__programs": ("programs", "from program.yaml"),
               "transforms": ("transform", "staging, core and marts tables"),
               "meta__notifications": ("escalations", "verdicts turned red, slipped milestones"),
               "meta__snapshots": ("publish", "the snapshot, atomically")}
INGEST_STEPS = frozenset({"trackers_raw"})  # and its plan, shard and merge steps when scaled out
TRANSFORM_STEP = "transforms"


class _Mark(ProgressColumn):
    """A spinner while running; ✓ done, ✗ failed, – skipped, · not started."""

    def __init__(self) -> None:
        super().__init__(table_column=Column(no_wrap=True, width=1))
        self.spinner = Spinner("dots", style="cyan")

    def render(self, task: Task) -> Text:
        state = task.fields.get("state")
        if state == "failed":
            return Text("✗", style="bold red")
        if state == "skipped":
            return Text("–", style="dim")
        if task.finished:
            return Text("✓", style="green")
        if not task.started:
            return Text("·", style="dim")
        return self.spinner.render(task.get_time())  # type: ignore[return-value]


class _Elapsed(ProgressColumn):
    def __init__(self) -> None:
        super().__init__(table_column=Column(no_wrap=True, justify="right", width=7))

    def render(self, task: Task) -> Text:
        elapsed = task.finished_time if task.finished else task.elapsed
        if elapsed is None or not task.fields.get("timed", True):
            return Text("")
        return Text(f"{elapsed:.1f} s", style="dim")


@dataclass
class _Site:
    task: TaskID
    total: int
    noun: str
    done: int = 0
    failed: int = 0
    items: int = 0
    requests: int = 0


class SyncDisplay:
    """Progress bars for one sync: per site, its projects done of total, the items landed and the
    requests made (a project's requests count when it ends); then a line per Dagster step after
    ingest (the asset checks on one line). Feed it ``pipelines.progress`` events (``on_progress``)
    and the run's Dagster events (``on_dagster``); both may come from any thread."""

    def __init__(self, console: Console, sites: dict[str, tuple[int, str]]) -> None:
        self.console = console
        width = max([len(s) for s in sites] + [len(label) for label, _ in STEP_LABELS.values()] + [6])
        self.progress = Progress(
            _Mark(), TextColumn("{task.description}", table_column=Column(width=width, no_wrap=True)),
            BarColumn(bar_width=24), TextColumn("{task.fields[detail]}", table_column=Column(no_wrap=True)),
            _Elapsed(), console=console, refresh_per_second=8)
        self._lock = threading.RLock()
        self._sites = {name: _Site(self.progress.add_task(name, total=total, start=False, detail=""), total, noun)
                       for name, (total, noun) in sites.items()}
        self._landed: dict[tuple[str, str], int] = defaultdict(int)
        self._running: dict[str, list[str]] = defaultdict(list)
        self._steps: dict[str, TaskID] = {}
        self._checks: dict[str, int] = {}
        self._check_task: TaskID | None = None
        self._checks_done = self._checks_failed = 0
        self._evaluated: dict[str, int] = defaultdict(int)
        for name in self._sites:
            self._show_site(name)

    def start(self, checks: Mapping[str, int] | None = None) -> None:
        """Show the bars; ``checks``: the step keys of the run's asset checks, each with how many
        checks it evaluates (``model_checks`` runs ten); they are counted on one line."""
        self._checks = dict(checks or {})
        self.progress.start()

    # -- ingest events (pipelines.progress) --
    def on_progress(self, event: Event) -> None:
        if isinstance(event, TableBuilt):
            self._on_table(event)
            return
        with self._lock:
            site = self._sites.get(event.site)
            if site is None:
                return
            if isinstance(event, ProjectStarted):
                self.progress.start_task(site.task)
                self._running[event.site].append(event.project)
            elif isinstance(event, ItemsLanded):
                self._landed[event.site, event.project] += event.items
                site.items += event.items
            elif isinstance(event, ProjectSynced):
                self.progress.start_task(site.task)
                # the project's own count is the truth (a reconciliation relisting lands pages it does not count)
                site.items += event.items - self._landed.pop((event.site, event.project), 0)
                site.requests += event.requests
                site.done += 1
                site.failed += event.error is not None
                if event.project in self._running[event.site]:
                    self._running[event.site].remove(event.project)
                self.progress.update(site.task, completed=site.done)
            self._show_site(event.site)

    def _on_table(self, event: TableBuilt) -> None:
        """The transform step's line counts its tables and names the one just done."""
        with self._lock:
            task = self._steps.get(TRANSFORM_STEP)
            if task is None:
                return
            self.progress.update(task, total=event.total, completed=event.done, detail=Text(
                f"{event.done}/{event.total} tables  {event.table} {event.how}", style="dim"))

    def _show_site(self, name: str) -> None:
        site = self._sites[name]
        detail = Text(f"{site.done:>2}/{site.total:<2} {site.noun:<8} {site.items:>7,} items "
                      f"{site.requests:>6,} requests")
        if site.failed:
            detail.append(f"  {site.failed} failed", style="bold red")
        running = self._running.get(name)
        if running and site.done < site.total:
            detail.append(f"  {', '.join(running)}", style="dim")
        self.progress.update(site.task, detail=detail, state="failed" if site.failed == site.total else None)

    # -- Dagster events of the in-process run --
    def on_dagster(self, entry: Any) -> None:
        import dagster as dg

        event = entry.dagster_event
        if event is None or event.step_key is None or event.step_key.split(".")[0] in INGEST_STEPS:
            return
        kind, key = event.event_type, event.step_key
        with self._lock:
            if key in self._checks:
                self._on_check(kind, event, key)
                return
            if kind == dg.DagsterEventType.STEP_START:
                label, detail = STEP_LABELS.get(key, (key, ""))
                self._steps[key] = self.progress.add_task(label, total=None, detail=Text(detail, style="dim"))
            elif key in self._steps and kind == dg.DagsterEventType.STEP_SUCCESS:
                done = next(t.total for t in self.progress.tasks if t.id == self._steps[key]) or 1  # tables, if counted
                self.progress.update(self._steps[key], total=done, completed=done)
                if key == TRANSFORM_STEP:
                    self.progress.update(self._steps[key], detail=Text(
                        f"{int(done)} staging, core and marts tables" if done > 1 else STEP_LABELS[key][1], style="dim"))
            elif key in self._steps and kind == dg.DagsterEventType.STEP_FAILURE:
                self.progress.update(self._steps[key], total=1, completed=0, state="failed")
                self.progress.stop_task(self._steps[key])

    def _on_check(self, kind: Any, event: Any, key: str) -> None:
        """A check is run when it is evaluated; a check step that fails fails the checks it had
        not evaluated yet."""
        import dagster as dg

        total = sum(self._checks.values())
        if self._check_task is None:
            if kind != dg.DagsterEventType.STEP_START:  # e.g. the evaluations planned at the run's start
                return
            self._check_task = self.progress.add_task("checks", total=total, detail="", timed=False)
        if kind == dg.DagsterEventType.ASSET_CHECK_EVALUATION:
            self._evaluated[key] += 1
            self._checks_done += 1
            self._checks_failed += not event.event_specific_data.passed
        elif kind == dg.DagsterEventType.STEP_FAILURE:
            left = max(self._checks[key] - self._evaluated[key], 0)
            self._checks_done += left
            self._checks_failed += left
        detail = Text(f"{self._checks_done}/{total} asset checks run")
        if self._checks_failed:
            detail.append(f"  {self._checks_failed} failed", style="bold red")
        self.progress.update(self._check_task, completed=self._checks_done, detail=detail)

    def close(self) -> None:
        """Stop the display: what never finished is marked skipped (or failed, for a site of which
        every project failed), and the bars are left as they ended."""
        with self._lock:
            for task in self.progress.tasks:
                if not task.finished and task.fields.get("state") is None:
                    self.progress.update(task.id, state="skipped")
                    self.progress.stop_task(task.id)
        self.progress.stop()


class ConsoleLogHandler(logging.Handler):
    """Library log lines (the trackers' retry and rate-limit waits) printed through the console, so
    that they scroll above the progress bars instead of breaking them. Tracebacks only with
    ``verbose``; the ingest's per-project errors only with ``verbose`` too, since the bars and the
    closing lines tell them already."""

    def __init__(self, console: Console, verbose: bool = False) -> None:
        super().__init__(level=logging.DEBUG)
        self.console, self.verbose = console, verbose
        self.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        if not self.verbose and record.name.startswith("pipelines.ingest"):
            return
        try:
            if self.verbose:
                text = self.format(record)
            else:  # the formatter without the traceback
                assert self.formatter is not None
                text = f"{self.formatter.formatTime(record)} {record.levelname} {record.name}: {record.getMessage()}"
            say(self.console, text, style="yellow" if record.levelno >= logging.WARNING else "dim")
        except Exception:  # noqa: BLE001 - logging must not raise
            self.handleError(record)
