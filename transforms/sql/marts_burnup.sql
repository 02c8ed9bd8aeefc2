-- marts.burnup: a daily burn-up per milestone, project and program, reconstructed from field
-- history, so it exists on the first sync (METRICS.md "Burn-up"). What each item adds and takes
-- away on each day is core.burnup_events (item-scoped: a night recomputes only the items it
-- changed); here a running sum over the days on which something changed gives what was true at
-- each day's end, and every other day takes the figures of the latest changing day before it
-- (ASOF join): set-based, no per-day join of items.
-- the spine's size is unknown to the planner (generate_series per entity): without this it may
-- take the ASOF join below for a small one and run it as a nested loop
SET asof_loop_join_threshold = 0;
CREATE OR REPLACE TABLE marts.burnup AS
WITH as_of AS (
    SELECT CAST(timezone('UTC', getvariable('as_of')) AS DATE) AS as_of_day
),
keyed AS (  -- every item's events (core.burnup_events); a milestone's program and project are core.milestones'
    SELECT concat_ws('|', e.level, coalesce(m.program_id, e.program_id), coalesce(m.project_key, e.project_key),
                     e.milestone_id) AS entity,  -- a key without nulls
           e.level, coalesce(m.program_id, e.program_id) AS program_id,
           coalesce(m.project_key, e.project_key) AS project_key, e.milestone_id, e.item_id, e.day,
           e.scope, e.done, e.unestimated, e.wip, e.scope_points, e.done_points
    FROM core.burnup_events e
    LEFT JOIN core.milestones m ON e.level = 'milestone' AND m.milestone_id = e.milestone_id
    WHERE e.level <> 'milestone' OR m.milestone_id IS NOT NULL
),
spans AS (  -- eid: a dense integer key per entity, so the window and ASOF join below sort integers
    SELECT *, row_number() OVER () AS eid FROM (
    -- a milestone's burn-up starts at its start date, else its first item's arrival, and runs to as_of,
    -- or for a released or closed one to its last change (or due date, or closing) when that is earlier;
    -- a project's and a program's from their first item's creation to as_of
    SELECT k.entity, any_value(k.level) AS level, any_value(k.program_id) AS program_id,
           any_value(k.project_key) AS project_key, any_value(k.milestone_id) AS milestone_id,
           coalesce(any_value(m.start_date), min(k.day)) AS first_day,
           CASE WHEN any_value(m.state) IN ('released', 'closed', 'archived')
                THEN least(any_value(a.as_of_day),
                           greatest(max(k.day), any_value(m.due_date), CAST(timezone('UTC', any_value(m.closed_at)) AS DATE)))
                ELSE any_value(a.as_of_day) END AS last_day
    FROM keyed k CROSS JOIN as_of a LEFT JOIN core.milestones m ON m.milestone_id = k.milestone_id
    GROUP BY k.entity)
),
day_changes AS (  -- changes before the first day fold into it; scope added and removed count only from it
    SELECT s.eid, greatest(k.day, s.first_day) AS day,
           sum(k.scope) AS scope, sum(k.done) AS done, sum(k.unestimated) AS unestimated, sum(k.wip) AS wip,
           sum(k.scope_points) AS scope_points, sum(k.done_points) AS done_points,
           count(*) FILTER (WHERE k.scope > 0 AND k.day >= s.first_day) AS added,
           count(*) FILTER (WHERE k.scope < 0 AND k.day >= s.first_day) AS removed
    FROM keyed k JOIN spans s USING (entity)
    WHERE k.day <= s.last_day
    GROUP BY ALL
),
running AS (  -- what is true at each changing day's end
    SELECT eid, day, added, removed,
           sum(scope) OVER w AS scope, sum(done) OVER w AS done, sum(unestimated) OVER w AS unestimated,
           sum(wip) OVER w AS wip, sum(scope_points) OVER w AS scope_points, sum(done_points) OVER w AS done_points
    FROM day_changes
    WINDOW w AS (PARTITION BY eid ORDER BY day ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
),
spine AS (
    SELECT s.eid, s.level, s.program_id, s.project_key, s.milestone_id, CAST(g.day AS DATE) AS day
    FROM spans s,
    LATERAL generate_series(CAST(s.first_day AS TIMESTAMP), CAST(s.last_day AS TIMESTAMP), INTERVAL 1 DAY) AS g(day)
)
-- every day carries the figures of its latest changing day on or before it
SELECT s.level, s.program_id, s.project_key, s.milestone_id, s.day,
       CAST(coalesce(r.scope, 0) AS INTEGER)                                        AS scope_items,
       CAST(coalesce(r.done, 0) AS INTEGER)                                         AS done_items,
       round(coalesce(r.scope_points, 0), 6)                                        AS scope_points,
       round(coalesce(r.done_points, 0), 6)                                         AS done_points,
       CAST(coalesce(r.unestimated, 0) AS INTEGER)                                  AS unestimated_items,
       CAST(coalesce(r.wip, 0) AS INTEGER)                                          AS wip_items,
       CAST(CASE WHEN r.day = s.day THEN r.added ELSE 0 END AS INTEGER)             AS scope_added_items,
       CAST(CASE WHEN r.day = s.day THEN r.removed ELSE 0 END AS INTEGER)           AS scope_removed_items
FROM spine s
ASOF LEFT JOIN running r ON r.eid = s.eid AND s.day >= r.day;

COMMENT ON TABLE marts.burnup IS 'Daily burn-up per milestone, project and program (METRICS.md "Burn-up"): for each UTC day from the start to as_of''s day, scope and done by count and by points at that day''s end, reconstructed from field history (core.item_history: what each item added and took away each day is core.burnup_events), so it exists on the first sync and a past day shows what the trackers showed then. Scope: items other than epics, not discarded; a milestone''s scope is the items that held it that day (an item moved in is scope added, moved out or discarded is scope removed). An item deleted or moved out of the synced projects (core.tombstones) counts on the days it existed and is scope removed on the day a sync found it gone (vanished_at); one moved to another synced project leaves its old milestone as its history says, and its old project on the day it moved (scope removed there, added in the new one). The last day (as_of''s) agrees with marts.progress.';
COMMENT ON COLUMN marts.burnup.level IS 'milestone, project or program.';
COMMENT ON COLUMN marts.burnup.program_id IS 'core.programs.program_id.';
COMMENT ON COLUMN marts.burnup.project_key IS 'Jira project key or GitHub owner/name; null on program rows.';
COMMENT ON COLUMN marts.burnup.milestone_id IS 'core.milestones.milestone_id on milestone rows; null otherwise.';
COMMENT ON COLUMN marts.burnup.day IS 'UTC day. The first is the milestone''s start date, else the day its first item arrived (the project''s or program''s first item''s creation). The last is as_of''s day (as of as_of), or for a released, archived or closed milestone its last change, due date or closing, whichever is latest (not after as_of): after that its line is flat.';
COMMENT ON COLUMN marts.burnup.scope_items IS 'Items in scope at the day''s end: not epics, not discarded (METRICS.md "Scope and progress").';
COMMENT ON COLUMN marts.burnup.done_items IS 'Of scope_items, those done at the day''s end. Falls only when an item reopens or leaves the scope.';
COMMENT ON COLUMN marts.burnup.scope_points IS 'Story points of the estimated items in scope at the day''s end (the estimate they had that day).';
COMMENT ON COLUMN marts.burnup.done_points IS 'Story points of the estimated items done at the day''s end.';
COMMENT ON COLUMN marts.burnup.unestimated_items IS 'Of scope_items, those without story points that day: never counted as zero points.';
COMMENT ON COLUMN marts.burnup.wip_items IS 'Items in the in_progress category at the day''s end (WIP per day, METRICS.md "Flow").';
COMMENT ON COLUMN marts.burnup.scope_added_items IS 'Items that entered the scope that day: created, moved into the milestone (or into the project from another, core.tombstones), or back from discarded. Items already in scope before the first day are not counted as added.';
COMMENT ON COLUMN marts.burnup.scope_removed_items IS 'Items that left the scope that day: moved out of the milestone, discarded, or deleted, or moved out of the project or the synced projects (core.tombstones.vanished_at).';
