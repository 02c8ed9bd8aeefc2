-- marts.forecasts: when each open milestone, its project and its program will be done, by Monte
-- Carlo over weekly throughput (METRICS.md "Forecast"; transforms/forecast.py draws the trials).
-- This file gives the simulation its inputs and documents the table transforms/build.py writes.
-- [inputs]
CREATE OR REPLACE TEMP TABLE _forecast_targets AS
WITH open_milestones AS (
    SELECT p.program_id, p.project_key, p.milestone_id, p.name, p.due_date, p.open_items
    FROM marts.progress p
    WHERE p.level = 'milestone' AND p.state = 'open'
),
open_planned AS (  -- open items in an open milestone: a project's planned, unfinished scope
    SELECT DISTINCT m.program_id, m.project_key, h.item_id
    FROM open_milestones m
    JOIN core.item_history h ON h.field = 'milestone' AND h.valid_to IS NULL AND h.value_id = m.milestone_id
    JOIN marts.item_flow f ON f.item_id = h.item_id AND f.status_category <> 'done'
)
-- A team works its milestones in due-date order (undated ones last): a milestone is done when the
-- project has finished its open items and those of every open milestone due before it.
SELECT 'milestone' AS level, m.milestone_id AS target_id, m.program_id, m.project_key, m.milestone_id, m.name,
       CAST(sum(m.open_items) OVER (PARTITION BY m.program_id, m.project_key
                                    ORDER BY m.due_date NULLS LAST, m.milestone_id) AS INTEGER) AS remaining,
       m.due_date, 'project:' || m.program_id || '|' || m.project_key AS pool
FROM open_milestones m
UNION ALL
SELECT 'project', 'project:' || m.program_id || '|' || m.project_key, m.program_id, m.project_key, NULL,
       any_value(p.project_name),
       (SELECT count(*) FROM open_planned o WHERE o.program_id = m.program_id AND o.project_key = m.project_key),
       max(m.due_date), 'project:' || m.program_id || '|' || m.project_key
FROM open_milestones m JOIN core.projects p USING (program_id, project_key)
GROUP BY m.program_id, m.project_key
UNION ALL
SELECT 'program', 'program:' || m.program_id, m.program_id, NULL, NULL, any_value(g.name), 0, max(m.due_date), NULL
FROM open_milestones m JOIN core.programs g USING (program_id)
GROUP BY m.program_id
UNION ALL
-- a program milestone of program.yaml finishes with the open milestones its open items are in; its
-- open items in no open milestone have no throughput to draw from: no date ('insufficient data')
SELECT 'milestone', pm.milestone_id, pm.program_id, NULL, pm.milestone_id, pm.name,
       CAST((SELECT count(DISTINCT i.item_id) FROM core.program_milestone_items i
             JOIN marts.item_flow f ON f.item_id = i.item_id AND f.status_category <> 'done'
             WHERE i.milestone_id = pm.milestone_id AND NOT EXISTS (
                 SELECT 1 FROM core.item_history h JOIN open_milestones o ON o.milestone_id = h.value_id
                 WHERE h.item_id = i.item_id AND h.field = 'milestone' AND h.valid_to IS NULL)) AS INTEGER),
       pm.due_date, NULL
FROM meta.program_milestones pm;

CREATE OR REPLACE TEMP TABLE _forecast_throughput AS
SELECT 'project:' || program_id || '|' || project_key AS pool, week_start, done_items
FROM marts.throughput WHERE level = 'project';

-- what a target cannot finish before, in the same trial: a project its open milestones; a program
-- its projects; a milestone the open milestones of the open items that block its open items
CREATE OR REPLACE TEMP TABLE _forecast_edges AS
WITH open_membership AS (
    SELECT h.item_id, t.target_id
    FROM core.item_history h
    JOIN _forecast_targets t ON t.level = 'milestone' AND t.milestone_id = h.value_id
    JOIN marts.item_flow f ON f.item_id = h.item_id AND f.status_category <> 'done'
    WHERE h.field = 'milestone' AND h.valid_to IS NULL
)
SELECT DISTINCT blocked.target_id, blocker.target_id AS blocker_target_id
FROM core.dependencies d
JOIN open_membership blocked ON blocked.item_id = d.blocked_item_id
JOIN open_membership blocker ON blocker.item_id = d.blocker_item_id
WHERE d.is_open AND blocked.target_id <> blocker.target_id
UNION ALL
SELECT DISTINCT i.milestone_id, m.target_id  -- a program milestone waits for its open items' open milestones
FROM core.program_milestone_items i
JOIN open_membership m ON m.item_id = i.item_id
UNION ALL
SELECT 'project:' || program_id || '|' || project_key, target_id FROM _forecast_targets
WHERE level = 'milestone' AND project_key IS NOT NULL
UNION ALL
SELECT 'program:' || program_id, target_id FROM _forecast_targets WHERE level = 'project';

-- [comments]
COMMENT ON TABLE marts.forecasts IS 'Completion forecasts per open milestone, its project and its program (METRICS.md "Forecast"): completion = as_of + 7 days x the weeks, drawn with replacement from the project''s weekly throughput (marts.throughput), that it takes to cover the open items. That number of weeks has its distribution computed exactly, and each of meta.metric_settings.forecast_trials trials takes one quantile of it, one drawn in each of as many equal strata, dealt to the trials in a random order: a target''s own distribution is met to within one trial. Dependency-aware per trial: a milestone never finishes before the open milestones whose open items block its open items, a project before its open milestones, a program before its projects, in the same trial. Seeded (meta.metric_settings.forecast_seed): a rerun on the same data gives the same dates. A project''s team works its open milestones in due-date order (undated last): a milestone finishes when the project has done its open items and those of every open milestone due before it, at the project''s throughput; a project''s milestones read the same quantile in each trial (one team''s queue), so in every trial they finish in that order. A blocker with no open milestone does not enter the simulation (it is an unknown risk, not a date). Program milestones of program.yaml (meta.program_milestones) are forecast too, as level milestone with no project: each finishes, in each trial, with the open milestones its open items are in (core.program_milestone_items); its open items in no open milestone give it no date.';
COMMENT ON COLUMN marts.forecasts.level IS 'milestone, project or program.';
COMMENT ON COLUMN marts.forecasts.program_id IS 'core.programs.program_id.';
COMMENT ON COLUMN marts.forecasts.project_key IS 'Jira project key or GitHub owner/name; null on program rows.';
COMMENT ON COLUMN marts.forecasts.milestone_id IS 'core.milestones.milestone_id on milestone rows; null otherwise.';
COMMENT ON COLUMN marts.forecasts.name IS 'Milestone, project or program name (tracker text: escape before rendering).';
COMMENT ON COLUMN marts.forecasts.as_of IS 'The instant the forecast is made from.';
COMMENT ON COLUMN marts.forecasts.due_date IS 'The target: the milestone''s due date; for a project or program the latest due date of its open milestones. Null when none is set (no P(on time)).';
COMMENT ON COLUMN marts.forecasts.remaining_items IS 'Open items to finish first: for a milestone its open items (marts.progress.open_items) plus those of the project''s open milestones due before it; for a project the distinct open items of its open milestones (shown, not drawn: a project finishes with its last open milestone, in each trial); 0 for a program, which finishes with its projects.';
COMMENT ON COLUMN marts.forecasts.status IS 'forecast (dates below), done (nothing left and nothing blocking), insufficient data (no item done in the throughput weeks, here or in something it waits on: never a date), or beyond horizon (some trials had not finished within 10 years).';
COMMENT ON COLUMN marts.forecasts.p50_date IS 'The date by which 50% of trials finished (UTC date); null unless status is forecast.';
COMMENT ON COLUMN marts.forecasts.p70_date IS 'The date by which 70% of trials finished.';
COMMENT ON COLUMN marts.forecasts.p85_date IS 'The date by which 85% of trials finished.';
COMMENT ON COLUMN marts.forecasts.p95_date IS 'The date by which 95% of trials finished.';
COMMENT ON COLUMN marts.forecasts.p_on_time IS 'Share of trials finishing on or before due_date, in [0, 1]; null without a due date or a forecast.';
COMMENT ON COLUMN marts.forecasts.trials IS 'Trials simulated (meta.metric_settings.forecast_trials).';
COMMENT ON COLUMN marts.forecasts.throughput_weeks IS 'Weeks of throughput the draws come from (marts.throughput); null for a program.';
COMMENT ON COLUMN marts.forecasts.throughput_per_week IS 'Mean of those weeks: items done per week.';
COMMENT ON COLUMN marts.forecasts.waits_for IS 'Comma-separated target ids (milestone ids, project:<program>|<project>) this one cannot finish before; null when none.';
COMMENT ON COLUMN marts.forecasts.decided_by IS 'The target (a row of this table) that decides this one''s finish: of the targets it waits for, the one that finishes last in the most trials, strictly after this target''s own work; null when its own work decides (or there is no forecast). Following it from a program or milestone gives the critical path (marts.critical_path).';
COMMENT ON COLUMN marts.forecasts.decided_share IS 'Share of trials, 0 to 1, in which decided_by (or, when it is null, the target''s own work) finishes last.';
COMMENT ON COLUMN marts.forecasts.note IS 'Why there is no date, or the dependency cycle the target is in; null otherwise.';
