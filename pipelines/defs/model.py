"""Transform assets: ``staging.*``, ``core.*`` (the program model) and ``marts.*`` (health), one
asset per table, each the SQL file of the same name in ``transforms/sql``, all built by one step."""


import dagster as dg

from pipelines.config import GithubSiteConfig, JiraSiteConfig
from pipelines.defs.raw import GITHUB_TABLES, JIRA_TABLES
from pipelines.defs.resources import PulseResource
from pipelines.progress import TableBuilt, emit
from transforms.build import (STEPS, LabelRuleRow, LinkRuleRow, MetricSettings, ProgramMilestoneRow, ProgramRow,
                              ProjectRow, Step, build_all, reads, write_program_structure)
from transforms.build import PeopleSettings, PersonAliasRow
from transforms.health import write_health_thresholds
from pipelines.config import health_thresholds

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
    people = PeopleSettings(
        tuple(PersonAliasRow(a.key, a.name, i.site, i.id) for a in config.people.aliases for i in a.identities),
        config.people.resource_conflicts.min_projects, config.people.resource_conflicts.wip_limit)
    site_of = {project.project_key: project.site for _, project in config.projects()}
    milestones = [ProgramMilestoneRow(program.id, m.name, m.due, m.baseline, m.committed_on, tuple(
                      (kind, site_of[key], key, name) for kind, key, name in (member.member() for member in m.members)))
                  for program in config.programs for m in program.milestones]
    with pulse.warehouse() as con:
        write_program_structure(con, programs, projects, label_rules, link_rules, metrics, people=people,
                                milestones=milestones)
        write_health_thresholds(con, *health_thresholds(config))
    return dg.MaterializeResult(metadata={"dagster/row_count": len(programs), "projects": len(projects)})


DESCRIPTIONS = {
    "staging.jira_issues": "Each Jira issue's JSON parsed once into typed columns and its histories, incrementally.",
    "staging.jira_changelog_versions": "The version of each Jira issue's paged changelog, to find the changed ones.",
    "staging.github_issues": "Each GitHub issue's and pull request's JSON parsed once, incrementally.",
    "staging.github_issue_events": "Each GitHub issue event's JSON parsed once, incrementally.",
    "staging.jira_issue_sprints": "Each Jira issue's Sprint field parsed once, one row per sprint listed.",
    "staging.text_references": "Dependency phrases in issue texts, parsed once per item.",
    "core.projects": "Configured projects with the names their trackers give them.",
    "core.sprints": "Jira sprints named in the Sprint field of synced issues (Cloud and Server forms) or listed "
                    "as active or future on the projects' boards.",
    "core.work_item_sprints": "Every sprint each Jira item has been in, and its current one.",
    "core.work_items": "One row per Jira or GitHub issue, across every program.",
    "core.milestones": "Jira versions and GitHub milestones with dates and work counts.",
    "core.tombstones": "Items deleted or moved away: when, from where to where, last known state and history.",
    "core.jira_changelog_items": "Every item of every Jira changelog, for the history tables.",
    "core.status_transitions": "Every status change, from changelogs and issue events.",
    "core.item_changes": "Every change of status, assignee, milestone, sprint, points, due date, labels, title, "
                         "priority, resolution, parent or flag.",
    "core.item_history": "Each item's status, points, milestone, sprint, assignee, due date, flag and blocked "
                         "spells as intervals: what was true on any day is one join.",
    "core.burnup_events": "What each item adds to or takes from each burn-up, per day: marts.burnup sums them.",
    "core.item_flow_facts": "Per item, what its flow figures are computed from that does not move with as_of: "
                             "start, done, cycle and lead time, blocked and flagged spells.",
    "core.dependencies": "Blocks dependencies, with cross-project and cross-program flags.",
    "core.pull_requests": "GitHub pull requests with the issues they close.",
    "core.person_identities": "Every identity a tracker knows a person by, and the person it is: by alias in "
                              "program.yaml, else by e-mail, else itself.",
    "core.people": "One row per person across Jira and GitHub.",
    "marts.progress": "Progress by count and points per milestone, project and program, unestimated apart.",
    "marts.burnup": "Daily burn-up per milestone, project and program, reconstructed from history.",
    "marts.item_flow": "Per item: start, done, cycle and lead time, age against the P85, blocked and flagged days.",
    "marts.throughput": "Items done per ISO week per project and program, zero weeks included.",
    "marts.flow": "Cycle and lead time percentiles, throughput, WIP, aging, blocked and stale work.",
    "marts.forecasts": "Monte Carlo completion dates (P50-P95) and P(on time), dependency-aware per trial.",
    "marts.milestone_slips": "Per milestone, sprint and program milestone: baseline vs current due date, slip "
                             "days, moves and scope change, from the snapshots every sync appends.",
    "marts.person_match_suggestions": "People with matching display names that nothing joined: suggested, "
                                      "never merged.",
    "marts.resource_conflicts": "People with work in progress in too many projects or above the WIP limit.",
    "marts.resource_conflict_items": "The items in progress of each person in a resource conflict.",
    "core.program_milestone_items": "The work items each program milestone of program.yaml spans now.",
    "core.program_milestone_sprints": "The sprints each sprint member of a program milestone names: those of "
                                      "that name in its project, else every one of that name on the site.",
    "marts.dependency_risk": "Every open dependency: late, wrong order, unscheduled, stale or in a cycle, "
                             "with the blocker's dates and forecast against the blocked work's due date.",
    "marts.critical_path": "Per milestone, project and program: the chain of forecasts that decides its finish.",
    "marts.health_reasons": "Why each milestone, project and program has its health: one sentence per row, "
                            "per dimension, with the roll-up.",
    "marts.health": "Red/amber/green per milestone, project and program, one column per dimension.",
    "marts.health_history": "marts.health per day: recorded each night, the 12 weeks before the first sync "
                            "reconstructed from history.",
    "marts.changes_since": "What changed in the last 7 days: verdicts, blockers, slips, scope and items done.",
    "marts.project_health": "The project rows of marts.health with reasons as a list and current-milestone figures.",
    "marts.program_health": "The program rows of marts.health with reasons as a list and project counts.",
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
    """Every staging, core and marts table the run selected, in order, on one connection (two at
    a time up to the health, on its cursors: transforms/build.py): a night
    merges or rebuilds only what changed (transforms/build.py), and one connection means one
    checkpoint instead of one per table."""
    as_of = pulse.load().config.clock()
    selected = {".".join(key.path) for key in context.selected_asset_keys}
    with pulse.warehouse() as con:
        built = build_all(con, as_of, only=selected, reconstruct=True,
                          on_built=lambda name, result, done, total: emit(TableBuilt(name, result.how, done, total)))
    for name, result in built.items():
        # skipped: nothing it reads changed since its last build (meta.transform_state), so it is current
        yield dg.MaterializeResult(asset_key=dg.AssetKey(name.split(".")), metadata={
            "dagster/row_count": result.rows, "as_of": as_of.isoformat(), "how": result.how,
            "items_merged": result.items, "seconds": round(result.seconds, 3),
            "skipped_unchanged_inputs": result.skipped})
