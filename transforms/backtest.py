"""Forecasts that prove themselves: replay the milestone forecast as of past days and count how
often milestones really finished by their P50 and P85 dates.

Everything a past forecast needs is reconstructed from history, as the burn-up is: the open items
of each milestone at the start of a past day D come from ``marts.burnup`` (its row for D - 1 is the
state at D 00:00), the throughput a forecaster saw then from the done spells of
``core.item_history`` in the full weeks before D's week; as in ``marts.forecasts``, a project
works its open milestones in due-date order. The actual finish is the first day from D on when the
burn-up shows nothing open, or the milestone's release (Jira: its release date) or closing
(GitHub), whichever came first: a version released with items left open was still delivered. The simulation is the marts' own (transforms.forecast),
with the same settings; replayed forecasts ignore dependencies (the blockers' past state is not
replayed), so they are the optimistic case.

A forecast is *resolved* at a percentile when the milestone finished (hit if on or before the
date) or when as_of is past that date with work still open (a miss); otherwise it is pending and
not counted.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone

import duckdb

from transforms.forecast import FORECAST, Settings, Target, simulate


@dataclass(frozen=True)
class Calibration:
    """How a level's replayed forecasts fared."""

    level: str  # "project" | "program" | "all"
    program_id: str | None
    project_key: str | None
    forecasts: int  # replayed milestone forecasts with a date
    resolved_p50: int
    hit_p50: int
    resolved_p85: int
    hit_p85: int

    @property
    def share_p50(self) -> float | None:
        return self.hit_p50 / self.resolved_p50 if self.resolved_p50 else None

    @property
    def share_p85(self) -> float | None:
        return self.hit_p85 / self.resolved_p85 if self.resolved_p85 else None


@dataclass(frozen=True)
class Replay:
    """One milestone forecast as of a past day, and what happened."""

    milestone_id: str
    program_id: str
    project_key: str
    day: date  # the forecast is made at this day's start
    remaining: int
    p50: date | None
    p85: date | None
    finished: date | None  # the first day from ``day`` on with nothing open; None if not by as_of


def replay(con: duckdb.DuckDBPyConnection, as_of: datetime, weeks_back: int = 26, every_days: int = 7,
           trials: int | None = None) -> list[Replay]:
    """Milestone forecasts as of each ``every_days``-th day over the last ``weeks_back`` weeks, with
    ``trials`` Monte Carlo trials each (default: the marts' forecast_trials)."""
    configured, seed, window = con.execute(
        "SELECT forecast_trials, forecast_seed, throughput_weeks FROM meta.metric_settings").fetchone()
    trials = trials or configured
    today = as_of.astimezone(timezone.utc).date()
    days = [today - timedelta(days=every_days * k) for k in range(1, weeks_back * 7 // every_days + 1)]
    con.execute("CREATE OR REPLACE TEMP TABLE _replay_days AS SELECT unnest(?::DATE[]) AS day", [days])
    rows = con.execute("""
        WITH open_then AS (  -- each milestone's open work at the start of a past day
            SELECT d.day, b.program_id, b.project_key, b.milestone_id, b.scope_items - b.done_items AS open_items
            FROM _replay_days d JOIN marts.burnup b ON b.level = 'milestone' AND b.day = d.day - 1
            JOIN core.milestones m USING (milestone_id)
            WHERE b.scope_items > b.done_items  -- and not released or closed before it
              AND NOT (m.state = 'released' AND m.due_date < d.day)
              AND NOT (m.state = 'closed' AND m.closed_at < d.day)
        ),
        queued AS (  -- as marts.forecasts: milestones are worked in due-date order, undated last
            SELECT o.*, CAST(sum(o.open_items) OVER (PARTITION BY o.day, o.program_id, o.project_key
                                                     ORDER BY m.due_date NULLS LAST, o.milestone_id) AS INTEGER) AS remaining
            FROM open_then o JOIN core.milestones m USING (milestone_id)
        ),
        finished AS (  -- the first day with nothing open, or the release (closing) if that came first
            SELECT o.milestone_id, o.day,
                   least(min(b.day) FILTER (WHERE b.scope_items > 0 AND b.done_items = b.scope_items),
                         any_value(CASE WHEN m.state = 'released' THEN m.due_date
                                        WHEN m.state = 'closed' THEN CAST(timezone('UTC', m.closed_at) AS DATE) END)) AS finished
            FROM open_then o
            JOIN core.milestones m USING (milestone_id)
            LEFT JOIN marts.burnup b ON b.level = 'milestone' AND b.milestone_id = o.milestone_id AND b.day >= o.day
            GROUP BY ALL
        ),
        done_spells AS (  -- entries into done, of items in scope now (not epics, not discarded)
            SELECT f.program_id, f.project_key, CAST(date_trunc('week', timezone('UTC', h.valid_from)) AS DATE) AS week
            FROM core.item_history h JOIN marts.item_flow f USING (item_id)
            WHERE h.field = 'status_category' AND h.value = 'done' AND NOT f.discarded
        ),
        weeks AS (  -- the full weeks before each replayed day's week
            SELECT d.day, CAST(date_trunc('week', d.day) AS DATE) - CAST(7 * g.k AS INTEGER) AS week
            FROM _replay_days d, range(1, ? + 1) AS g(k)
        ),
        spell_weeks AS (SELECT program_id, project_key, week, count(*) AS n FROM done_spells GROUP BY ALL),
        throughput AS (
            SELECT w.day, p.program_id, p.project_key, list(coalesce(s.n, 0) ORDER BY w.week) AS weekly
            FROM weeks w CROSS JOIN core.projects p
            LEFT JOIN spell_weeks s ON s.program_id = p.program_id AND s.project_key = p.project_key AND s.week = w.week
            GROUP BY ALL
        )
        SELECT o.milestone_id, o.program_id, o.project_key, o.day, o.remaining, t.weekly, f.finished
        FROM queued o
        JOIN throughput t USING (day, program_id, project_key)
        LEFT JOIN finished f USING (milestone_id, day)
        ORDER BY o.day, o.milestone_id""", [int(window)]).fetchall()
    # as marts.forecasts does: the milestones a project queued on a day read one quantile per trial
    targets = [Target(f"{m}@{d.isoformat()}", tuple(weekly), int(remaining), None,
                      pool=f"project:{program}|{project}@{d.isoformat()}")
               for m, program, project, d, remaining, weekly, _ in rows]
    results = {f.target_id: f for f in simulate(targets, today, Settings(trials=int(trials), seed=int(seed)))}
    replays = []
    for (m, program, project, d, remaining, _, finished), target in zip(rows, targets):
        # a forecast made at day d: its dates are offsets from d, not from today
        f = results[target.target_id]
        if f.status != FORECAST:
            continue
        shift = d - today
        replays.append(Replay(m, program, project, d, int(remaining), f.p50 + shift, f.p85 + shift, finished))
    return replays


def calibrate(replays: list[Replay], as_of: datetime) -> list[Calibration]:
    """Per project, per program and overall: how many resolved forecasts finished by P50 and P85."""
    today = as_of.astimezone(timezone.utc).date()

    def outcome(r: Replay, by: date) -> bool | None:
        if r.finished is not None:
            return r.finished <= by
        return False if today > by else None

    groups: dict[tuple[str, str | None, str | None], list[Replay]] = {}
    for r in replays:
        for key in (("project", r.program_id, r.project_key), ("program", r.program_id, None), ("all", None, None)):
            groups.setdefault(key, []).append(r)
    out = []
    for (level, program, project), rs in sorted(groups.items(), key=lambda kv: (["all", "program", "project"].index(kv[0][0]),
                                                                               kv[0][1] or "", kv[0][2] or "")):
        p50 = [o for o in (outcome(r, r.p50) for r in rs) if o is not None]
        p85 = [o for o in (outcome(r, r.p85) for r in rs) if o is not None]
        out.append(Calibration(level, program, project, len(rs), len(p50), sum(p50), len(p85), sum(p85)))
    return out
