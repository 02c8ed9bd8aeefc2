-- marts.burnup is kept current from what changed instead of rebuilt whole each night
-- (transforms/build.py, Step.incremental): a merge of core.burnup_events records here how the
-- merged items' events changed (new minus old, summed per burn-up line and day), and the next build
-- of marts.burnup adds them to the days from theirs on, appends the days as_of moved on by, and
-- rebuilds whole only the lines that are new or whose first day moved. Applied changes are deleted.
-- Points are summed exactly as DECIMAL: an estimate that is not a finite number below 1e9 in
-- magnitude is read as none (022_story_points_bound.sql), so no sum can overflow.
CREATE TABLE meta.burnup_changes (
    level        VARCHAR NOT NULL,
    program_id   VARCHAR,
    project_key  VARCHAR,
    milestone_id VARCHAR,
    day          DATE NOT NULL,
    scope        BIGINT NOT NULL,
    done         BIGINT NOT NULL,
    unestimated  BIGINT NOT NULL,
    wip          BIGINT NOT NULL,
    scope_points DECIMAL(38, 6) NOT NULL,
    done_points  DECIMAL(38, 6) NOT NULL,
    added        BIGINT NOT NULL,
    removed      BIGINT NOT NULL
);
COMMENT ON TABLE meta.burnup_changes IS 'Changes to core.burnup_events that marts.burnup has not applied yet: written when a night merges items into core.burnup_events (their new events minus their old ones, summed per burn-up line and UTC day; lines and days whose figures did not change have no row), read and deleted by the next build of marts.burnup, which adds each day''s change to that day and every later one instead of rebuilding the table. Empty after every complete build.';
COMMENT ON COLUMN meta.burnup_changes.level IS 'milestone, project or program, as core.burnup_events.level.';
COMMENT ON COLUMN meta.burnup_changes.program_id IS 'As core.burnup_events.program_id (null on milestone rows: marts.burnup takes a milestone''s program from core.milestones when it applies the change).';
COMMENT ON COLUMN meta.burnup_changes.project_key IS 'As core.burnup_events.project_key.';
COMMENT ON COLUMN meta.burnup_changes.milestone_id IS 'As core.burnup_events.milestone_id.';
COMMENT ON COLUMN meta.burnup_changes.day IS 'UTC day of the events that changed.';
COMMENT ON COLUMN meta.burnup_changes.scope IS 'Change in the sum of core.burnup_events.scope for the line and day.';
COMMENT ON COLUMN meta.burnup_changes.done IS 'Change in the sum of core.burnup_events.done.';
COMMENT ON COLUMN meta.burnup_changes.unestimated IS 'Change in the sum of core.burnup_events.unestimated.';
COMMENT ON COLUMN meta.burnup_changes.wip IS 'Change in the sum of core.burnup_events.wip.';
COMMENT ON COLUMN meta.burnup_changes.scope_points IS 'Change in the sum of core.burnup_events.scope_points, each event''s points to 6 decimals (marts.burnup sums them so, exactly).';
COMMENT ON COLUMN meta.burnup_changes.done_points IS 'Change in the sum of core.burnup_events.done_points, as scope_points.';
COMMENT ON COLUMN meta.burnup_changes.added IS 'Change in the count of the line''s events that day with scope > 0 (marts.burnup.scope_added_items).';
COMMENT ON COLUMN meta.burnup_changes.removed IS 'Change in the count of the line''s events that day with scope < 0 (marts.burnup.scope_removed_items).';
