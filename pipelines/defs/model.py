"""Transform assets: ``staging.*``, ``core.*`` (the program model) and ``marts.*`` (health), one
asset per table, each the SQL file of the same name in ``transforms/sql``, all built by one step."""


import dagster as dg

from pipelines.config import GithubSiteConfig, JiraSiteConfig
from pipelines.defs.raw import GITHUB_TABLES, JIRA_TABLES
from pipelines.defs.resources import PulseResource
from transforms.build import (STEPS, LabelRuleRow, LinkRuleRow, MetricSettings, ProgramRow, ProjectRow, Step, build_all,
                              reads, write_program_structure)

RAW = [dg.AssetKey(["raw", t]) for t in JIRA_TABLES + GITHUB_TABLES]


@dg.asset(key=["core", "programs"], group_name="core", kinds={"duckdb"}, pool="duckdb")
def core_programs(pulse: PulseResource) -> dg.MaterializeResult:
    """Programs and their projects as program.yaml declares them."""
    config = pulse.load().config
    programs = [ProgramRow(p.id, p.name, p.goal) for p in config.programs]
    projects = [
        ProjectRow(program.id, project.site,
                   "github" if isinstance(config.sites[project.site], GithubSiteConfig) else "jira",
                   project.project_key, project.name)
        for program, project in config.projects()
    ]
    label_rules = [LabelRuleRow(name, *rule) for name, site in config.sites.items()
                   if isinstance(site, GithubSiteConfig) for rule in site.labels.rows()]
    link_rules = [LinkRuleRow(name, outward, meaning) for name, site in config.sites.items()
                  if isinstance(site, JiraSiteConfig) for outward, meaning in site.blocking_links.items()]
    metrics = MetricSettings(**config.metrics.model_dump())
    with pulse.warehouse() as con:
        write_program_structure(con, programs, projects, label_rules, link_rules, metrics)
    return dg.MaterializeResult(metadata={"dagster/row_count": len(programs), "projects": len(projects)})


DESCRIPTIONS = {
    "staging.jira_issues": "Each Jira issue's JSON parsed once into typed columns and its histories, incrementally.",
    "staging.jira_changelog_versions": "The version of each Jira issue's paged changelog, to find the changed ones.",
    "staging.github_issues": "Each GitHub issue's and pull request's JSON parsed once, incrementally.",
    "staging.github_issue_events": "Each GitHub issue event's JSON parsed once, incrementally.",
    "staging.jira_issue_sprints": "Each Jira issue's Sprint field parsed once, one row per sprint listed.",
    "staging.text_references": "Dependency phrases in issue texts, parsed once per item.",
    "core.projects": "Configured projects with the names their trackers give them.",
    "core.sprints": "Jira sprints named in the Sprint field of synced issues, Cloud and Server forms.",
    "core.work_item_sprints": "Every sprint each Jira item has been in, and its current one.",
    "core.work_items": "One row per Jira or GitHub issue, across every program.",
    "core.milestones": "Jira versions and GitHub milestones with dates and work counts.",
    "core.jira_changelog_items": "Every item of every Jira changelog, for the history tables.",
    "core.status_transitions": "Every status change, from changelogs and issue events.",
    "core.item_changes": "Every change of status, assignee, milestone, sprint, points, due date, labels, title, "
                         "priority, resolution, parent or flag.",
    "core.item_history": "Each item's status, points, milestone, sprint, assignee, due date, flag and blocked "
                         "spells as intervals: what was true on any day is one join.",
    "core.dependencies": "Blocks dependencies, with cross-project and cross-program flags.",
    "core.pull_requests": "GitHub pull requests with the issues they close.",
    "marts.progress": "Progress by count and points per milestone, project and program, unestimated apart.",
    "marts.burnup": "Daily burn-up per milestone, project and program, reconstructed from history.",
    "marts.item_flow": "Per item: start, done, cycle and lead time, age against the P85, blocked and flagged days.",
    "marts.throughput": "Items done per ISO week per project and program, zero weeks included.",
    "marts.flow": "Cycle and lead time percentiles, throughput, WIP, aging, blocked and stale work.",
    "marts.forecasts": "Monte Carlo completion dates (P50-P95) and P(on time), dependency-aware per trial.",
    "marts.project_health": "Red/amber/green per project with reasons.",
    "marts.program_health": "Red/amber/green per program with reasons.",
}


def _spec(step: Step) -> dg.AssetSpec:
    """A table's asset, depending on what its SQL reads (raw tables, other derived tables)."""
    raw, derived = reads(step)
    deps = [dg.AssetKey(["raw", t]) for t in raw if dg.AssetKey(["raw", t]) in RAW]
    deps += [dg.AssetKey(name.split(".")) for name in derived]
    if step.schema != "staging":
        deps.append(core_programs.key)
    return dg.AssetSpec(key=[step.schema, step.table], deps=deps, group_name=step.schema, kinds={"duckdb"},
                        description=DESCRIPTIONS[step.name], skippable=True)


@dg.multi_asset(specs=[_spec(step) for step in STEPS], can_subset=True, pool="duckdb", name="transforms")
def transforms(context: dg.AssetExecutionContext, pulse: PulseResource):
    """Every staging, core and marts table the run selected, in order, on one connection: a night
    merges or rebuilds only what changed (transforms/build.py), and one connection means one
    checkpoint instead of one per table."""
    as_of = pulse.load().config.clock()
    selected = {".".join(key.path) for key in context.selected_asset_keys}
    with pulse.warehouse() as con:
        built = build_all(con, as_of, only=selected)
    for name, result in built.items():
        # skipped: nothing it reads changed since its last build (meta.transform_state), so it is current
        yield dg.MaterializeResult(asset_key=dg.AssetKey(name.split(".")), metadata={
            "dagster/row_count": result.rows, "as_of": as_of.isoformat(), "how": result.how,
            "items_merged": result.items, "seconds": round(result.seconds, 3),
            "skipped_unchanged_inputs": result.skipped})
