-- marts.critical_path: for every forecast target (milestone, project, program), the chain of targets
-- whose forecasts decide when it finishes. Step 0 is the target; each next step is the target it
-- waits for that finishes last in most trials (marts.forecasts.decided_by), until a step's own open
-- work decides. Between two milestones the chain names the open items that link them.
CREATE OR REPLACE TABLE marts.critical_path AS
WITH targets AS (
    SELECT f.*,
           CASE f.level WHEN 'milestone' THEN f.milestone_id
                        WHEN 'project' THEN 'project:' || f.program_id || '|' || f.project_key
                        ELSE 'program:' || f.program_id END AS target_id
    FROM marts.forecasts f
),
chain AS (
    WITH RECURSIVE walk(start_id, step, target_id) AS (
        SELECT target_id, 0, target_id FROM targets
        UNION ALL
        SELECT w.start_id, w.step + 1, t.decided_by
        FROM walk w JOIN targets t ON t.target_id = w.target_id
        WHERE t.decided_by IS NOT NULL AND w.step < 64
    ) SELECT * FROM walk
),
open_membership AS (  -- open items in their open milestones (every fix version counts)
    SELECT h.item_id, h.value_id AS milestone_id
    FROM core.item_history h JOIN core.work_items w USING (item_id)
    WHERE h.field = 'milestone' AND h.valid_to IS NULL AND w.status_category <> 'done'
),
links AS (  -- which open items of a blocking milestone hold up which open items of the milestone it blocks
    SELECT blocked.milestone_id AS blocked_milestone_id, blocker.milestone_id AS blocker_milestone_id,
           count(*) AS links,
           string_agg(d.blocker_key || ' blocks ' || d.blocked_key, ', ' ORDER BY d.blocker_key, d.blocked_key) AS pairs
    FROM core.dependencies d
    JOIN open_membership blocked ON blocked.item_id = d.blocked_item_id
    JOIN open_membership blocker ON blocker.item_id = d.blocker_item_id
    WHERE d.is_open AND blocked.milestone_id <> blocker.milestone_id
    GROUP BY ALL
),
steps AS (
    SELECT c.start_id, c.step, c.target_id, lag(c.target_id) OVER (PARTITION BY c.start_id ORDER BY c.step) AS after_id,
           count(*) OVER (PARTITION BY c.start_id) AS steps
    FROM chain c
)
SELECT s0.level, s0.program_id, s0.project_key, s0.milestone_id, s0.name, s0.as_of, s0.due_date, s0.p85_date,
       date_diff('day', s0.as_of::DATE, s0.p85_date) AS path_days, s.steps::INTEGER AS steps,
       s.step, t.level AS step_level, t.program_id AS step_program_id, t.project_key AS step_project_key,
       t.milestone_id AS step_milestone_id, t.name AS step_name, t.due_date AS step_due_date,
       t.remaining_items AS step_remaining_items, t.status AS step_status, t.p85_date AS step_p85_date,
       t.decided_share AS step_decided_share, l.links::INTEGER AS blocking_links, l.pairs AS blocking_pairs
FROM steps s
JOIN targets s0 ON s0.target_id = s.start_id
JOIN targets t ON t.target_id = s.target_id
LEFT JOIN targets a ON a.target_id = s.after_id
LEFT JOIN links l ON l.blocker_milestone_id = t.milestone_id AND l.blocked_milestone_id = a.milestone_id;

COMMENT ON TABLE marts.critical_path IS 'The critical path of every forecast target (marts.forecasts: open milestones, their projects and programs): one row per step of the chain of targets whose forecasts decide its finish. Step 0 is the target itself; step n+1 is what step n waits for that finishes last in the most Monte Carlo trials (marts.forecasts.decided_by); the chain ends where a step''s own open work decides. A program''s chain runs through its latest project and milestone into the cross-project blockers that hold them up.';
COMMENT ON COLUMN marts.critical_path.level IS 'Level of the target whose path this is: milestone, project or program.';
COMMENT ON COLUMN marts.critical_path.program_id IS 'Program of the target.';
COMMENT ON COLUMN marts.critical_path.project_key IS 'Project of the target; null for a program.';
COMMENT ON COLUMN marts.critical_path.milestone_id IS 'Milestone of the target; null for a project or program.';
COMMENT ON COLUMN marts.critical_path.name IS 'Name of the target.';
COMMENT ON COLUMN marts.critical_path.as_of IS 'The instant the forecast describes (UTC).';
COMMENT ON COLUMN marts.critical_path.due_date IS 'The target''s due date.';
COMMENT ON COLUMN marts.critical_path.p85_date IS 'The target''s P85 completion forecast (marts.forecasts).';
COMMENT ON COLUMN marts.critical_path.path_days IS 'Length of the critical path in days: from the as_of date to the target''s P85 completion; null without a forecast.';
COMMENT ON COLUMN marts.critical_path.steps IS 'Number of steps on the path, the target included.';
COMMENT ON COLUMN marts.critical_path.step IS '0 for the target itself, then 1, 2, ... along what decides its finish.';
COMMENT ON COLUMN marts.critical_path.step_level IS 'milestone, project or program: what this step is.';
COMMENT ON COLUMN marts.critical_path.step_program_id IS 'Program of the step.';
COMMENT ON COLUMN marts.critical_path.step_project_key IS 'Project of the step.';
COMMENT ON COLUMN marts.critical_path.step_milestone_id IS 'Milestone of the step; null for a project or program step.';
COMMENT ON COLUMN marts.critical_path.step_name IS 'Name of the step.';
COMMENT ON COLUMN marts.critical_path.step_due_date IS 'Due date of the step.';
COMMENT ON COLUMN marts.critical_path.step_remaining_items IS 'Open items the step''s forecast covers (for a milestone: its own and those of the project''s earlier-due milestones).';
COMMENT ON COLUMN marts.critical_path.step_status IS 'marts.forecasts.status of the step.';
COMMENT ON COLUMN marts.critical_path.step_p85_date IS 'P85 completion forecast of the step.';
COMMENT ON COLUMN marts.critical_path.step_decided_share IS 'Share of trials in which the next step (or, on the last step, the step''s own work) finishes last (marts.forecasts.decided_share).';
COMMENT ON COLUMN marts.critical_path.blocking_links IS 'For a milestone step after a milestone: how many open dependencies run from this milestone''s open items to the previous step''s open items; null otherwise.';
COMMENT ON COLUMN marts.critical_path.blocking_pairs IS 'Those dependencies, e.g. ID-133 blocks CART-90, in key order.';
