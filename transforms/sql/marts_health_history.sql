-- marts.health_history: marts.health per day. transforms/history.py writes it (PYTHON_STEPS); the
-- table belongs to migration 016, since no rebuild may drop what past syncs recorded (build.KEPT).
-- [inputs]
SELECT count(*) FROM marts.health;
-- [comments]
COMMENT ON TABLE marts.health_history IS 'marts.health per day: one row per open milestone, project and program per day (transforms/history.py). A build records its as_of day (the last build of a day wins: idempotent within a day); days of the window (meta.health_thresholds.history_weeks, default 12 weeks) with no row, such as the weeks before the first sync or a missed night, are reconstructed by replaying the marts against the core tables rolled back to that instant from their history. Never dropped by a rebuild.';
COMMENT ON COLUMN marts.health_history.day IS 'The day (UTC date of as_of) the row describes.';
COMMENT ON COLUMN marts.health_history.as_of IS 'The instant the verdict was computed as of (a reconstructed day uses the current as_of''s time of day).';
COMMENT ON COLUMN marts.health_history.target_id IS 'What the row is about: a milestone id, project:<program>|<project> or program:<program> (the ids of marts.forecasts).';
COMMENT ON COLUMN marts.health_history.level IS 'milestone, project or program.';
COMMENT ON COLUMN marts.health_history.program_id IS 'Program id from program.yaml.';
COMMENT ON COLUMN marts.health_history.project_key IS 'Project; null for a program.';
COMMENT ON COLUMN marts.health_history.milestone_id IS 'Milestone; null for a project or program.';
COMMENT ON COLUMN marts.health_history.name IS 'Name of the milestone, project or program that day.';
COMMENT ON COLUMN marts.health_history.health IS 'marts.health.health that day.';
COMMENT ON COLUMN marts.health_history.headline IS 'marts.health.headline that day.';
COMMENT ON COLUMN marts.health_history.critical_path_health IS 'marts.health.critical_path_health that day.';
COMMENT ON COLUMN marts.health_history.forecast_health IS 'marts.health.forecast_health that day.';
COMMENT ON COLUMN marts.health_history.schedule_health IS 'marts.health.schedule_health that day.';
COMMENT ON COLUMN marts.health_history.slip_health IS 'marts.health.slip_health that day.';
COMMENT ON COLUMN marts.health_history.dependencies_health IS 'marts.health.dependencies_health that day.';
COMMENT ON COLUMN marts.health_history.blocked_stale_health IS 'marts.health.blocked_stale_health that day.';
COMMENT ON COLUMN marts.health_history.aging_wip_health IS 'marts.health.aging_wip_health that day.';
COMMENT ON COLUMN marts.health_history.scope_health IS 'marts.health.scope_health that day.';
COMMENT ON COLUMN marts.health_history.people_health IS 'marts.health.people_health that day.';
COMMENT ON COLUMN marts.health_history.signals_health IS 'marts.health.signals_health that day.';
COMMENT ON COLUMN marts.health_history.freshness_health IS 'marts.health.freshness_health that day (always green when reconstructed: the past is judged on its own data).';
COMMENT ON COLUMN marts.health_history.red_dimensions IS 'marts.health.red_dimensions that day.';
COMMENT ON COLUMN marts.health_history.amber_dimensions IS 'marts.health.amber_dimensions that day.';
COMMENT ON COLUMN marts.health_history.unknown_dimensions IS 'marts.health.unknown_dimensions that day.';
COMMENT ON COLUMN marts.health_history.reasons IS 'marts.health.reasons that day: how many red or amber reasons it had.';
COMMENT ON COLUMN marts.health_history.source IS 'sync (recorded by the build of that day) or reconstructed (replayed later from history).';
COMMENT ON COLUMN marts.health_history.recorded_at IS 'When the row was written (UTC wall clock).';
