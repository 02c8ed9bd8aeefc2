-- marts.health: one row per open milestone, project and program with its verdict and one column per
-- dimension, pivoted from the summary rows of marts.health_reasons (where the rules and the roll-up
-- live), so a dashboard shows a RAG table without reading sentences.
CREATE OR REPLACE TABLE marts.health AS
SELECT r.as_of, r.level, r.program_id, r.project_key, r.milestone_id, any_value(r.target_name) AS name,
       any_value(r.verdict) FILTER (WHERE r.dimension = 'overall') AS health,
       any_value(r.sentence) FILTER (WHERE r.dimension = 'overall') AS headline,
       any_value(r.verdict) FILTER (WHERE r.dimension = 'critical_path') AS critical_path_health,
       any_value(r.verdict) FILTER (WHERE r.dimension = 'forecast') AS forecast_health,
       any_value(r.verdict) FILTER (WHERE r.dimension = 'schedule') AS schedule_health,
       any_value(r.verdict) FILTER (WHERE r.dimension = 'slip') AS slip_health,
       any_value(r.verdict) FILTER (WHERE r.dimension = 'dependencies') AS dependencies_health,
       any_value(r.verdict) FILTER (WHERE r.dimension = 'blocked_stale') AS blocked_stale_health,
       any_value(r.verdict) FILTER (WHERE r.dimension = 'aging_wip') AS aging_wip_health,
       any_value(r.verdict) FILTER (WHERE r.dimension = 'scope') AS scope_health,
       any_value(r.verdict) FILTER (WHERE r.dimension = 'people') AS people_health,
       any_value(r.verdict) FILTER (WHERE r.dimension = 'signals') AS signals_health,
       any_value(r.verdict) FILTER (WHERE r.dimension = 'freshness') AS freshness_health,
       count(*) FILTER (WHERE r.is_summary AND r.dimension NOT IN ('overall', 'critical_path') AND r.verdict = 'red')::INTEGER AS red_dimensions,
       count(*) FILTER (WHERE r.is_summary AND r.dimension NOT IN ('overall', 'critical_path') AND r.verdict = 'amber')::INTEGER AS amber_dimensions,
       count(*) FILTER (WHERE r.is_summary AND r.dimension NOT IN ('overall', 'critical_path') AND r.verdict = 'unknown')::INTEGER AS unknown_dimensions,
       count(*) FILTER (WHERE r.dimension <> 'overall' AND r.verdict IN ('red', 'amber'))::INTEGER AS reasons
FROM marts.health_reasons r
GROUP BY r.as_of, r.level, r.program_id, r.project_key, r.milestone_id;

COMMENT ON TABLE marts.health IS 'One row per open milestone, project and program: the rolled-up health (green, amber, red, unknown) and each dimension''s verdict, pivoted from marts.health_reasons (where the rules, thresholds and roll-up are documented). Dimensions and default thresholds: issue #14 and METRICS.md "Health"; per-program thresholds in meta.health_thresholds.';
COMMENT ON COLUMN marts.health.as_of IS 'The instant the verdict describes (UTC).';
COMMENT ON COLUMN marts.health.level IS 'milestone, project or program.';
COMMENT ON COLUMN marts.health.program_id IS 'Program id from program.yaml.';
COMMENT ON COLUMN marts.health.project_key IS 'Project (Jira key or GitHub owner/name); null for a program.';
COMMENT ON COLUMN marts.health.milestone_id IS 'Milestone (core.milestones.milestone_id); null for a project or program.';
COMMENT ON COLUMN marts.health.name IS 'Name of the milestone, project or program.';
COMMENT ON COLUMN marts.health.health IS 'Rolled-up verdict: red if a dimension on the critical path (forecast, schedule, dependencies, or a milestone its finish waits on) is red, or two dimensions are red; amber if one is red elsewhere, two are amber or a critical one is amber; unknown when nothing is red or amber and something is unknown, or when the data is stale; else green. Never greener than its critical path.';
COMMENT ON COLUMN marts.health.headline IS 'One sentence: the verdict and the dimensions that are red or amber.';
COMMENT ON COLUMN marts.health.critical_path_health IS 'Worst own verdict among the milestones on its critical path (marts.critical_path, steps after the first); null when its own work decides its finish.';
COMMENT ON COLUMN marts.health.forecast_health IS 'P(on time) of its forecast (marts.forecasts) above 90%: green, above 70%: amber, else red (meta.health_thresholds); unknown without a forecast or a due date (the schedule decides).';
COMMENT ON COLUMN marts.health.schedule_health IS 'Expected (share of time elapsed) minus actual (share of items done) percent complete: up to 10 points green, up to 20 amber, more red; past the due date with open work red. A project: its current milestone; a program: its worst project (defaults; meta.health_thresholds).';
COMMENT ON COLUMN marts.health.slip_health IS 'Due-date moves against the baseline (marts.milestone_slips): none green; slipped by up to slip_amber_share (10%) of the planned duration, or moved fewer than slip_red_moves (3) times, amber; more, red (meta.health_thresholds). A project or program: its worst open milestone.';
COMMENT ON COLUMN marts.health.dependencies_health IS 'A late, wrong-order or cyclic blocker (marts.dependency_risk) red; an unscheduled or stale one amber; else green.';
COMMENT ON COLUMN marts.health.blocked_stale_health IS 'An open item blocked now, or in progress and untouched, for 5 days amber, 14 days red (defaults; meta.health_thresholds).';
COMMENT ON COLUMN marts.health.aging_wip_health IS 'Any item in progress older than its project''s P95 cycle time amber; more than 25% of work in progress older than the P85 red (defaults; meta.health_thresholds); unknown with WIP but no cycle times.';
COMMENT ON COLUMN marts.health.scope_health IS 'More than 30% of open scope added in the last 30 days amber; scope still growing (net added in the last 14 days) within 30 days of the due date red (defaults; meta.health_thresholds; marts.burnup).';
COMMENT ON COLUMN marts.health.people_health IS 'Someone with work in progress here has work in progress in meta.people_settings.conflict_min_projects (3) or more projects (marts.resource_conflicts): amber.';
COMMENT ON COLUMN marts.health.signals_health IS 'An open item flagged, or labelled at risk by the label rules: amber.';
COMMENT ON COLUMN marts.health.freshness_health IS 'unknown when the latest sync of the project (any project of the program) failed: its figures are those of the last good sync.';
COMMENT ON COLUMN marts.health.red_dimensions IS 'Dimensions whose verdict is red (critical path and overall not counted).';
COMMENT ON COLUMN marts.health.amber_dimensions IS 'Dimensions whose verdict is amber.';
COMMENT ON COLUMN marts.health.unknown_dimensions IS 'Dimensions whose verdict is unknown.';
COMMENT ON COLUMN marts.health.reasons IS 'Rows of marts.health_reasons that are red or amber for it (its reasons to read).';
