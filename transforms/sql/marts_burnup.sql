-- marts.burnup: a daily burn-up per milestone, project and program, reconstructed from field
-- history, so it exists on the first sync (METRICS.md "Burn-up"). What each item adds and takes
-- away on each day is core.burnup_events (item-scoped: a night recomputes only the items it
-- changed); here a running sum over the days on which something changed gives what was true at
-- each day's end, and each changing day's row is spread over the days until the next one
-- (unnest of a range): set-based, no per-day join of items and no join of days to changes.
CREATE OR REPLACE TABLE marts.burnup AS
WITH as_of AS (
    SELECT CAST(timezone('UTC', getvariable('as_of')) AS DATE) AS as_of_day
),
entity_days AS (  -- every item's events (core.burnup_events) summed per entity and day; a
    -- milestone's program and project are core.milestones'
    SELECT concat_ws('|', level, program_id, project_key, milestone_id) AS entity, *  -- a key without nulls
    FROM (
        SELECT e.level, coalesce(m.program_id, e.program_id) AS program_id,
               coalesce(m.project_key, e.project_key) AS project_key, e.milestone_id, e.day,
               sum(e.scope) AS scope, sum(e.done) AS done, sum(e.unestimated) AS unestimated, sum(e.wip) AS wip,
               sum(e.scope_points) AS scope_points, sum(e.done_points) AS done_points,
               count(*) FILTER (WHERE e.scope > 0) AS added, count(*) FILTER (WHERE e.scope < 0) AS removed
        FROM core.burnup_events e
        LEFT JOIN core.milestones m ON e.level = 'milestone' AND m.milestone_id = e.milestone_id
        WHERE e.level <> 'milestone' OR m.milestone_id IS NOT NULL
        GROUP BY ALL)
),
spans AS (  -- eid: a dense integer key per entity, so the window below sorts integers
    SELECT *, row_number() OVER () AS eid FROM (
    -- a milestone's burn-up starts at its start date, else its first item's arrival, and runs to as_of,
    -- or for a released or closed one to its last change (or due date, or closing) when that is earlier;
    -- a project's and a program's from their first item's creation to as_of
    SELECT d.entity, any_value(d.level) AS level, any_value(d.program_id) AS program_id,
           any_value(d.project_key) AS project_key, any_value(d.milestone_id) AS milestone_id,
           coalesce(any_value(m.start_date), min(d.day)) AS first_day,
           CASE WHEN any_value(m.state) IN ('released', 'closed', 'archived')
                THEN least(any_value(a.as_of_day),
                           greatest(max(d.day), any_value(m.due_date), CAST(timezone('UTC', any_value(m.closed_at)) AS DATE)))
                ELSE any_value(a.as_of_day) END AS last_day
    FROM entity_days d CROSS JOIN as_of a LEFT JOIN core.milestones m ON m.milestone_id = d.milestone_id
    GROUP BY d.entity)
),
day_changes AS (  -- days before the first day fold into it (scope added and removed count only from
    -- it); every span has a row on its first day (before its first change, nothing). The days that
    -- fold, and the empty first day, come first on that day: the window below counts them into its
    -- running sums, and the day's own changes (last) carry its figures and what it added.
    SELECT s.eid, greatest(d.day, s.first_day) AS day, d.day >= s.first_day AS own,
           d.scope, d.done, d.unestimated, d.wip, d.scope_points, d.done_points,
           CASE WHEN d.day >= s.first_day THEN d.added ELSE 0 END AS added,
           CASE WHEN d.day >= s.first_day THEN d.removed ELSE 0 END AS removed
    FROM entity_days d JOIN spans s USING (entity)
    WHERE d.day <= s.last_day
    UNION ALL
    SELECT eid, first_day, false, 0, 0, 0, 0, 0, 0, 0, 0 FROM spans WHERE first_day <= last_day
),
running AS (  -- what is true at each changing day's end, until the next one (one window: one sort)
    SELECT eid, day, added, removed, lead(day) OVER w AS next_day,
           sum(scope) OVER w AS scope, sum(done) OVER w AS done, sum(unestimated) OVER w AS unestimated,
           sum(wip) OVER w AS wip, sum(scope_points) OVER w AS scope_points, sum(done_points) OVER w AS done_points
    FROM day_changes
    WINDOW w AS (PARTITION BY eid ORDER BY day, own ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
),
held AS (  -- each changing day's figures hold on every day until the next changing day, or the span's end
    SELECT s.level, s.program_id, s.project_key, s.milestone_id, r.*,
           unnest(range(0, least(coalesce(r.next_day, s.last_day + 1), s.last_day + 1) - r.day)) AS k
    FROM running r JOIN spans s USING (eid)
)
SELECT level, program_id, project_key, milestone_id, day + CAST(k AS INTEGER) AS day,
       CAST(scope AS INTEGER)                                  AS scope_items,
       CAST(done AS INTEGER)                                   AS done_items,
       round(scope_points, 6)                                  AS scope_points,
       round(done_points, 6)                                   AS done_points,
       CAST(unestimated AS INTEGER)                            AS unestimated_items,
       CAST(wip AS INTEGER)                                    AS wip_items,
       CAST(CASE WHEN k = 0 THEN added ELSE 0 END AS INTEGER)  AS scope_added_items,
       CAST(CASE WHEN k = 0 THEN removed ELSE 0 END AS INTEGER) AS scope_removed_items
FROM held;

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
