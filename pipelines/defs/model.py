"""Transform assets: ``core.*`` (the program model) and ``marts.*`` (health), one asset per table,
each the SQL file of the same name in ``transforms/sql``."""


import dagster as dg

from pipelines.config import GithubSiteConfig, JiraSiteConfig
from pipelines.defs.raw import GITHUB_TABLES, JIRA_TABLES
from pipelines.defs.resources import PulseResource
from transforms.build import LabelRuleRow, LinkRuleRow, ProgramRow, ProjectRow, build_if_changed, write_program_structure

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
    with pulse.warehouse() as con:
        write_program_structure(con, programs, projects, label_rules, link_rules)
    return dg.MaterializeResult(metadata={"dagster/row_count": len(programs), "projects": len(projects)})


def _table_asset(schema: str, table: str, deps: list, description: str) -> dg.AssetsDefinition:
    @dg.asset(key=[schema, table], deps=deps, group_name=schema, kinds={"duckdb"}, pool="duckdb",
              description=description)
    def _build(pulse: PulseResource) -> dg.MaterializeResult:
        as_of = pulse.load().config.clock()
        with pulse.warehouse() as con:
            built = build_if_changed(con, schema, table, as_of)
        # Skipped: the raw tables, the program structure and the SQL (marts: and the as-of instant and
        # sync outcomes) are those of its last build (meta.transform_state), so the table is current.
        return dg.MaterializeResult(metadata={"dagster/row_count": built.rows, "as_of": as_of.isoformat(),
                                              "skipped_unchanged_inputs": built.skipped})

    return _build


staging_jira_issues = _table_asset("staging", "jira_issues", [*RAW],
                                   "Each Jira issue's JSON parsed once into typed columns, incrementally.")
staging_github_issues = _table_asset("staging", "github_issues", [*RAW],
                                     "Each GitHub issue's and pull request's JSON parsed once, incrementally.")
staging_github_issue_events = _table_asset("staging", "github_issue_events", [*RAW],
                                           "Each GitHub issue event's JSON parsed once, incrementally.")
core_projects = _table_asset("core", "projects", [*RAW, core_programs, staging_jira_issues],
                             "Configured projects with the names their trackers give them.")
core_sprints = _table_asset("core", "sprints", [*RAW, core_projects, staging_jira_issues],
                            "Jira sprints named in the Sprint field of synced issues, Cloud and Server forms.")
core_work_item_sprints = _table_asset("core", "work_item_sprints", [*RAW, core_sprints, staging_jira_issues],
                                      "Every sprint each Jira item has been in, and its current one.")
core_work_items = _table_asset("core", "work_items", [*RAW, core_projects, core_work_item_sprints, staging_jira_issues,
                                                    staging_github_issues],
                               "One row per Jira or GitHub issue, across every program.")
core_milestones = _table_asset("core", "milestones", [*RAW, core_work_items],
                               "Jira versions and GitHub milestones with dates and work counts.")
core_jira_changelog_items = _table_asset("core", "jira_changelog_items", [*RAW],
                                         "Every item of every Jira changelog, parsed once for the history tables.")
core_status_transitions = _table_asset("core", "status_transitions", [*RAW, core_work_items, core_jira_changelog_items,
                                                                    staging_github_issue_events],
                                       "Every status change, from changelogs and issue events.")
core_item_changes = _table_asset("core", "item_changes", [*RAW, core_work_items, core_jira_changelog_items,
                                                        staging_github_issue_events],
                                 "Every change of status, assignee, milestone, sprint, points, due date, "
                                 "labels, title, priority, resolution or parent.")
core_dependencies = _table_asset("core", "dependencies", [*RAW, core_work_items, staging_jira_issues,
                                                        staging_github_issues],
                                 "Blocks dependencies, with cross-project and cross-program flags.")
core_pull_requests = _table_asset("core", "pull_requests", [*RAW, core_work_items, staging_github_issues],
                                  "GitHub pull requests with the issues they close.")
marts_project_health = _table_asset("marts", "project_health",
                                    [core_milestones, core_dependencies, core_status_transitions],
                                    "Red/amber/green per project with reasons.")
marts_program_health = _table_asset("marts", "program_health", [marts_project_health],
                                    "Red/amber/green per program with reasons.")
