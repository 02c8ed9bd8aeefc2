"""Asset checks: facts about the model that must hold after every build, each able to fail.

Checks only read, so they open the work file read-only (no write lock, no migration), and they
run in the ``duckdb`` pool like the assets: DuckDB refuses even a reader while another process
writes the file, so a check must never run beside a writing step.

The checks of the model (staging, core, marts) are one step, ``model_checks``, on one connection:
each is a query of milliseconds, and a step apiece cost about 45 ms of Dagster's own events and a
connection each (10 steps, about 0.5 s of a 10k sync). Each is still its own check in Dagster,
with its own result, history and blocking flag."""

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timezone

import dagster as dg
import duckdb

from pipelines.config import PulseConfig
from pipelines.defs.resources import PulseResource


def _all(con: duckdb.DuckDBPyConnection, sql: str) -> list[tuple]:
    return con.execute(sql).fetchall()


def _rows(pulse: PulseResource, sql: str) -> list[tuple]:
    """``_all`` on a read-only connection of its own (a check of its own step)."""
    with pulse.warehouse(read_only=True) as con:
        return _all(con, sql)


@dataclass(frozen=True)
class ModelCheck:
    """One check of the model: its spec, and the query that decides it (passed, and what the
    result carries: metadata, severity, description)."""

    spec: dg.AssetCheckSpec
    decide: Callable[[duckdb.DuckDBPyConnection], dict]


MODEL_CHECKS: list[ModelCheck] = []


def model_check(table: str, *, blocking: bool = False):
    """Register a check of ``schema.table`` for ``model_checks``; its docstring describes it."""
    def register(decide: Callable[[duckdb.DuckDBPyConnection], dict]) -> Callable[[duckdb.DuckDBPyConnection], dict]:
        MODEL_CHECKS.append(ModelCheck(dg.AssetCheckSpec(
            decide.__name__, asset=dg.AssetKey(table.split(".")), blocking=blocking,
            description=" ".join((decide.__doc__ or "").split())), decide))
        return decide
    return register


# Only issues whose search result cut the changelog (its total above the histories it embeds) can
# be short, so only their paged histories are read; every column is typed (parsed once in staging).
INCOMPLETE_CHANGELOGS = """
    WITH cut AS (
        SELECT site, issue_id, issue_key, changelog_total, histories FROM staging.jira_issues
        WHERE changelog_total > coalesce(len(list_distinct(list_transform(histories, lambda h: h.id))), 0))
    SELECT c.site, c.issue_key, c.changelog_total AS total, count(DISTINCT h.history_id) AS held
    FROM cut c
    LEFT JOIN (SELECT site, issue_id, unnest(histories).id AS history_id FROM cut
               UNION ALL
               SELECT r.site, r.issue_id, r.history_id FROM raw.jira_changelogs r
               WHERE EXISTS (SELECT 1 FROM cut WHERE cut.site = r.site AND cut.issue_id = r.issue_id)) h
      ON h.site = c.site AND h.issue_id = c.issue_id
    GROUP BY c.site, c.issue_key, total
    HAVING held < total
    ORDER BY c.site, c.issue_key"""


@model_check("staging.jira_issues")
def jira_changelogs_are_complete(con: duckdb.DuckDBPyConnection) -> dict:
    """Every Jira issue holds as many distinct histories (embedded or paged into raw.jira_changelogs)
    as its changelog's total: a missing one is status time and re-estimates silently lost. Read from
    staging, where each payload was parsed once, not by parsing every raw payload again."""
    short = _all(con, INCOMPLETE_CHANGELOGS)
    return dict(passed=not short, metadata={
        "issues_short": len(short), "first": [f"{site} {key}: {held} of {total}" for site, key, total, held in short[:20]]})


@model_check("core.work_items", blocking=True)
def work_items_have_unique_ids(con: duckdb.DuckDBPyConnection) -> dict:
    """Two rows with one item_id would double-count progress everywhere downstream."""
    dupes = _all(con, "SELECT item_id, count(*) FROM core.work_items GROUP BY item_id HAVING count(*) > 1 LIMIT 20")
    return dict(passed=not dupes, metadata={"duplicates": [d[0] for d in dupes]})


@model_check("core.work_items")
def statuses_are_mapped(con: duckdb.DuckDBPyConnection) -> dict:
    """Statuses without a category are listed here instead of silently falling out of every figure."""
    unmapped = _all(con, """
        SELECT project_key, status, count(*) FROM core.work_items
        WHERE status_category IS NULL GROUP BY ALL ORDER BY ALL""")
    return dict(
        passed=not unmapped, severity=dg.AssetCheckSeverity.WARN,
        metadata={"unmapped": dg.MetadataValue.json([{"project": p, "status": s, "items": n} for p, s, n in unmapped])})


@model_check("core.status_transitions")
def every_item_has_a_creation_row(con: duckdb.DuckDBPyConnection) -> dict:
    """Status history starts at creation for every item, or durations computed from it are wrong."""
    missing = _all(con, """
        SELECT w.key FROM core.work_items w
        LEFT JOIN core.status_transitions t ON t.item_id = w.item_id AND t.transition_seq = 1 AND t.from_status IS NULL
        WHERE t.item_id IS NULL LIMIT 20""")
    return dict(passed=not missing, metadata={"missing": [m[0] for m in missing]})


@model_check("marts.project_health", blocking=True)
def every_verdict_has_reasons(con: duckdb.DuckDBPyConnection) -> dict:
    """A verdict nobody can explain is worse than none."""
    bad = _all(con, """
        SELECT project_key, health FROM marts.project_health
        WHERE health NOT IN ('green', 'amber', 'red', 'unknown') OR reasons IS NULL OR len(reasons) = 0""")
    return dict(passed=not bad, metadata={"projects": [f"{p}: {h}" for p, h in bad]})


# Verdicts that are not green with no reason at least as bad (the property test asks the same).
UNEXPLAINED_HEALTH = """
    SELECT h.level || ' ' || h.name || ': ' || h.health FROM marts.health h
    WHERE h.health <> 'green' AND NOT EXISTS (
        SELECT 1 FROM marts.health_reasons r
        WHERE r.level = h.level AND r.program_id = h.program_id AND r.dimension <> 'overall'
          AND r.project_key IS NOT DISTINCT FROM h.project_key AND r.milestone_id IS NOT DISTINCT FROM h.milestone_id
          AND (r.verdict = h.health OR (h.health = 'amber' AND r.verdict = 'red')))"""


@model_check("marts.health", blocking=True)
def health_is_explained_and_never_greener_than_its_critical_path(con: duckdb.DuckDBPyConnection) -> dict:
    """Every verdict that is not green has a reason at least as bad (marts.health_reasons), and no
    milestone, project or program is greener than a milestone its finish waits on."""
    unexplained = _all(con, UNEXPLAINED_HEALTH + " LIMIT 20")
    greener = _all(con, """
        WITH rank AS (SELECT * FROM (VALUES ('red', 4), ('amber', 3), ('unknown', 2), ('green', 1)) AS r(health, severity))
        SELECT DISTINCT h.level || ' ' || h.name || ' is ' || h.health || ' but waits on ' || s.name || ', ' || s.health
        FROM marts.critical_path c
        JOIN marts.health h ON h.level = c.level AND h.program_id = c.program_id
             AND h.project_key IS NOT DISTINCT FROM c.project_key AND h.milestone_id IS NOT DISTINCT FROM c.milestone_id
        JOIN marts.health s ON s.level = 'milestone' AND s.milestone_id = c.step_milestone_id
        JOIN rank hr ON hr.health = h.health JOIN rank sr ON sr.health = s.health
        WHERE c.step >= 1 AND sr.severity >= 3 AND hr.severity < sr.severity AND h.health <> 'unknown' LIMIT 20""")
    return dict(passed=not unexplained and not greener,
                               metadata={"unexplained": [u[0] for u in unexplained], "greener": [g[0] for g in greener]})


@model_check("core.item_history")
def history_ends_where_core_is(con: duckdb.DuckDBPyConnection) -> dict:
    """The open intervals are the present: an item whose open status row is not its status in
    core.work_items would make every reconstructed day wrong."""
    off = _all(con, """
        SELECT w.key FROM core.work_items w
        LEFT JOIN core.item_history h ON h.item_id = w.item_id AND h.field = 'status' AND h.valid_to IS NULL
        WHERE h.value IS DISTINCT FROM w.status LIMIT 20""")
    return dict(passed=not off, metadata={"items": [o[0] for o in off]})


# An item is in an entity's scope or not, done or not, in progress or not: its events there net to
# 0 or 1. An item merged twice by a night, or a segment counted twice, nets to 2 (or -1).
UNBALANCED_BURNUP_EVENTS = """
    SELECT item_id || ' in ' || level || ' ' || coalesce(milestone_id, project_key, program_id)
    FROM core.burnup_events GROUP BY item_id, level, program_id, project_key, milestone_id
    HAVING sum(scope) NOT IN (0, 1) OR sum(done) NOT IN (0, 1) OR sum(unestimated) NOT IN (0, 1)
        OR sum(wip) NOT IN (0, 1) OR sum(done) > sum(scope)
    LIMIT 20"""


@model_check("core.burnup_events")
def burnup_events_net_to_one_state(con: duckdb.DuckDBPyConnection) -> dict:
    """Each item's events in each burn-up sum to where it is now (in scope or not, done or not):
    what an item-scoped merge that doubled or lost half an item would break."""
    off = _all(con, UNBALANCED_BURNUP_EVENTS)
    return dict(passed=not off, metadata={"items": [o[0] for o in off]})


@model_check("marts.burnup")
def burnup_ends_at_progress(con: duckdb.DuckDBPyConnection) -> dict:
    """The burn-up is rebuilt from history and the progress from the present: on as_of's day they
    must agree, or one of them is wrong."""
    off = _all(con, """
        SELECT p.level || ' ' || coalesce(p.milestone_id, p.project_key, p.program_id)
        FROM marts.progress p
        JOIN (SELECT * FROM marts.burnup
              QUALIFY day = max(day) OVER (PARTITION BY level, program_id, project_key, milestone_id)) b
          ON b.level = p.level AND b.program_id = p.program_id AND b.project_key IS NOT DISTINCT FROM p.project_key
         AND b.milestone_id IS NOT DISTINCT FROM p.milestone_id
        WHERE (b.scope_items, b.done_items, b.scope_points, b.done_points)
              IS DISTINCT FROM (p.scope_items, p.done_items, p.scope_points, p.done_points)
        LIMIT 20""")
    return dict(passed=not off, metadata={"disagreeing": [o[0] for o in off]})


@model_check("marts.forecasts")
def forecast_percentiles_are_ordered(con: duckdb.DuckDBPyConnection) -> dict:
    """P50 <= P70 <= P85 <= P95, and a target never finishes before what it waits for."""
    bad = _all(con, """
        SELECT f.level || ' ' || coalesce(f.milestone_id, f.project_key, f.program_id) FROM marts.forecasts f
        WHERE NOT (p50_date <= p70_date AND p70_date <= p85_date AND p85_date <= p95_date)
        UNION ALL
        SELECT f.name || ' before ' || b.name
        FROM marts.forecasts f
        JOIN marts.forecasts b ON list_contains(string_split(f.waits_for, ', '),
                                               coalesce(b.milestone_id, 'project:' || b.program_id || '|' || b.project_key))
        WHERE f.p85_date < b.p85_date
        LIMIT 20""")
    return dict(passed=not bad, metadata={"violations": [b[0] for b in bad]})


def evaluate(con: duckdb.DuckDBPyConnection, checks: list[ModelCheck]) -> Iterator[dg.AssetCheckResult]:
    """Each check's result. A check whose query fails has failed (its error in the result), and
    the others still run: as steps of their own, one check's error stopped no other, and a
    check that does not block could not keep the night from publishing."""
    for check in checks:
        try:
            outcome = check.decide(con)
        except duckdb.Error as exc:
            outcome = {"passed": False, "description": f"its query failed: {exc}",
                       "metadata": {"error": f"{type(exc).__name__}: {exc}"}}
        yield dg.AssetCheckResult(asset_key=check.spec.asset_key, check_name=check.spec.name, **outcome)


@dg.multi_asset_check(specs=[c.spec for c in MODEL_CHECKS], name="model_checks", pool="duckdb", can_subset=True)
def model_checks(context: dg.AssetCheckExecutionContext, pulse: PulseResource) -> Iterator[dg.AssetCheckResult]:
    """The run's checks of the model, in one step on one read-only connection. A run that builds
    some of the tables (a table or the marts group materialized from the UI, one check run from
    its page) selects only their checks."""
    selected = context.selected_asset_check_keys
    with pulse.warehouse(read_only=True) as con:
        yield from evaluate(con, [c for c in MODEL_CHECKS if c.spec.key in selected])


# Each project's last successful sync, as marts.project_health.last_synced_at reads it.
LAST_GOOD_SYNCS = """
    SELECT site, project_key, max(finished_at) FILTER (WHERE status = 'succeeded')
    FROM meta.source_syncs GROUP BY site, project_key"""


def project_ages(config: PulseConfig, last_good: dict[tuple[str, str], datetime | None],
                 now: datetime) -> dict[str, float | None]:
    """Hours since each configured project's last successful sync ("site/key"), None if never."""
    return {f"{project.site}/{project.project_key}":
            None if (last := last_good.get((project.site, project.project_key))) is None
            else round((now - last).total_seconds() / 3600, 1)
            for _, project in config.projects()}


def stale_projects(ages: dict[str, float | None], hours: int) -> list[str]:
    """One line per project whose last successful sync is older than ``hours`` (or never was)."""
    return [f"{name}: never synced successfully" if age is None
            else f"{name}: last synced successfully {age:g} h ago" for name, age in ages.items()
            if age is None or age > hours]


@dg.asset_check(asset=dg.AssetKey(["meta", "snapshots"]), pool="duckdb")
def every_project_synced_recently(pulse: PulseResource) -> dg.AssetCheckResult:
    """Every configured project's last successful sync is at most ``sync.freshness_hours`` old
    (26 by default: a nightly sync and two hours' grace). A project that keeps failing still
    publishes its last good data, marked stale, every night: this says so where a run does not."""
    config = pulse.load().config
    hours = config.sync.freshness_hours
    last_good = {(site, key): at for site, key, at in _rows(pulse, LAST_GOOD_SYNCS)}
    ages = project_ages(config, last_good, datetime.now(timezone.utc))
    stale = stale_projects(ages, hours)
    return dg.AssetCheckResult(
        passed=not stale, severity=dg.AssetCheckSeverity.ERROR,
        description=(f"{len(stale)} of {len(ages)} projects not synced in {hours} h: " + "; ".join(stale))
        if stale else f"every project synced in the last {hours} h",
        # one entry a project, so the UI plots each project's age across runs
        metadata={"freshness_hours": hours, "stale": stale,
                  **{f"age_hours/{name}": dg.MetadataValue.text("never") if age is None else dg.MetadataValue.float(age)
                     for name, age in ages.items()}})
