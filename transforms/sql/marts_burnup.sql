-- marts.burnup: a daily burn-up per milestone, project and program, reconstructed from field
-- history (core.item_history), so it exists on the first sync (METRICS.md "Burn-up").
-- Each item's life is cut into segments where its status category, resolution or points stay the
-- same; a segment (or, for a milestone, the part of it inside the item's membership) adds to the
-- day it starts and takes away from the day it ends. A running sum over the days on which
-- something changed gives what was true at each day's end, and every other day takes the figures
-- of the latest changing day before it (ASOF join): set-based, no per-day join of items.
-- the spine's size is unknown to the planner (generate_series per entity): without this it may
-- take the ASOF join below for a small one and run it as a nested loop
SET asof_loop_join_threshold = 0;
CREATE OR REPLACE TABLE marts.burnup AS
WITH as_of AS (
    SELECT CAST(timezone('UTC', getvariable('as_of')) AS DATE) AS as_of_day
),
items AS (  -- ik: a dense integer key, so the aggregates and windows below hash and sort integers
    SELECT item_id, row_number() OVER () AS ik, program_id, project_key FROM (
        SELECT item_id, program_id, project_key FROM core.work_items WHERE item_type IS DISTINCT FROM 'epic'
        UNION ALL  -- vanished items count until they vanished, in the project they left (core.tombstones)
        SELECT item_id, program_id, project_before FROM core.tombstones
        WHERE is_last AND NOT still_synced AND program_id IS NOT NULL AND item_type IS DISTINCT FROM 'epic')
),
states AS (  -- from here on item_id is the integer key
    SELECT i.ik AS item_id, h.field, h.value, h.value_number, h.valid_from, h.valid_to
    FROM core.item_history h JOIN items i ON i.item_id = h.item_id
    WHERE h.field IN ('status', 'status_category', 'resolution', 'story_points')  -- status covers the whole life
),
memberships AS (
    SELECT i.ik AS item_id, h.value_id, h.valid_from, h.valid_to
    FROM core.item_history h JOIN items i ON i.item_id = h.item_id
    WHERE h.field = 'milestone'
),
moves AS (  -- an item that left a project for a synced one (core.tombstones) counted there until it left
    SELECT i.ik AS item_id, t.program_id, t.project_before AS project_key, t.vanished_at,
           lag(t.vanished_at) OVER (PARTITION BY t.item_id ORDER BY t.vanished_at) AS since
    FROM core.tombstones t JOIN items i ON i.item_id = t.item_id
    WHERE t.still_synced OR NOT t.is_last
),
placements AS (  -- the project and program an item counts in, from when (null: creation) until when
    SELECT item_id, program_id, project_key, since AS placed_from, vanished_at AS placed_to FROM moves
    UNION ALL
    SELECT i.ik, i.program_id, i.project_key, m.placed_from, NULL
    FROM items i LEFT JOIN (SELECT item_id, max(vanished_at) AS placed_from FROM moves GROUP BY item_id) m
      ON m.item_id = i.ik
),
bounds AS (
    SELECT item_id, valid_from AS moment FROM states
    UNION
    SELECT item_id, valid_to FROM states WHERE valid_to IS NOT NULL
    UNION  -- a move cuts a segment: its project changes there
    SELECT item_id, vanished_at FROM moves
),
segments AS (
    SELECT item_id, moment AS seg_from, lead(moment) OVER (PARTITION BY item_id ORDER BY moment) AS seg_to
    FROM bounds
),
segment_states AS (
    SELECT s.item_id, s.seg_from, s.seg_to,
           any_value(r.value) FILTER (WHERE r.field = 'status_category') AS category,
           any_value(r.value) FILTER (WHERE r.field = 'resolution') AS resolution,
           any_value(r.value_number) FILTER (WHERE r.field = 'story_points') AS points
    FROM segments s
    JOIN states r ON r.item_id = s.item_id AND r.valid_from <= s.seg_from
                 AND (r.valid_to IS NULL OR r.valid_to > s.seg_from)
    GROUP BY s.item_id, s.seg_from, s.seg_to
),
flags AS (
    SELECT item_id, seg_from, seg_to, points,
           NOT coalesce(category = 'done' AND lower(resolution) IN (SELECT resolution FROM meta.discarded_resolutions), false) AS counted,
           coalesce(category = 'done', false) AS done,
           coalesce(category = 'in_progress', false) AS wip
    FROM segment_states
),
item_events AS (  -- per item, project and UTC day, the net change of each figure (a re-estimate is -1 and +1 the same day)
    SELECT item_id, program_id, project_key, day,
           sum(sign * CAST(counted AS INTEGER))                                AS scope,
           sum(sign * CAST(counted AND done AS INTEGER))                       AS done,
           sum(sign * CAST(counted AND points IS NULL AS INTEGER))             AS unestimated,
           sum(sign * CAST(wip AS INTEGER))                                    AS wip,
           sum(sign * CASE WHEN counted THEN points ELSE 0 END)                AS scope_points,
           sum(sign * CASE WHEN counted AND done THEN points ELSE 0 END)       AS done_points
    FROM (SELECT f.*, p.program_id, p.project_key, e.day, e.sign FROM flags f
          JOIN placements p ON p.item_id = f.item_id AND (p.placed_from IS NULL OR f.seg_from >= p.placed_from)
                           AND (p.placed_to IS NULL OR f.seg_from < p.placed_to),
          LATERAL (VALUES (CAST(timezone('UTC', seg_from) AS DATE), 1), (CAST(timezone('UTC', seg_to) AS DATE), -1)) AS e(day, sign)
          WHERE e.day IS NOT NULL AND p.program_id IS NOT NULL)
    GROUP BY item_id, program_id, project_key, day
),
milestone_events AS (  -- the same for the pieces of a segment inside the item's membership of a milestone
    SELECT h.value_id AS milestone_id, f.item_id, e.day,
           sum(e.sign * CAST(f.counted AS INTEGER))                            AS scope,
           sum(e.sign * CAST(f.counted AND f.done AS INTEGER))                 AS done,
           sum(e.sign * CAST(f.counted AND f.points IS NULL AS INTEGER))       AS unestimated,
           sum(e.sign * CAST(f.wip AS INTEGER))                                AS wip,
           sum(e.sign * CASE WHEN f.counted THEN f.points ELSE 0 END)          AS scope_points,
           sum(e.sign * CASE WHEN f.counted AND f.done THEN f.points ELSE 0 END) AS done_points
    FROM memberships h
    JOIN flags f ON f.item_id = h.item_id AND (f.seg_to IS NULL OR f.seg_to > h.valid_from)
                AND (h.valid_to IS NULL OR h.valid_to > f.seg_from),
    -- least() and greatest() skip nulls: an open end is no bound
    LATERAL (VALUES (CAST(timezone('UTC', greatest(h.valid_from, f.seg_from)) AS DATE), 1),
                    (CAST(timezone('UTC', least(h.valid_to, f.seg_to)) AS DATE), -1)) AS e(day, sign)
    WHERE e.day IS NOT NULL
    GROUP BY h.value_id, f.item_id, e.day
),
entity_events AS (  -- by level: an entity is one milestone, project or program
    SELECT 'milestone' AS level, m.program_id, m.project_key, e.milestone_id, e.*  EXCLUDE (milestone_id)
    FROM milestone_events e JOIN core.milestones m USING (milestone_id)
    UNION ALL
    SELECT 'project', e.program_id, e.project_key, NULL, e.* EXCLUDE (program_id, project_key) FROM item_events e
    UNION ALL  -- a move between two projects of one program nets out in it
    SELECT 'program', program_id, NULL, NULL, item_id, day, sum(scope), sum(done), sum(unestimated), sum(wip),
           sum(scope_points), sum(done_points)
    FROM item_events GROUP BY program_id, item_id, day
),
keyed AS (
    SELECT concat_ws('|', level, program_id, project_key, milestone_id) AS entity, *  -- a key without nulls
    FROM entity_events
    WHERE scope <> 0 OR done <> 0 OR unestimated <> 0 OR wip <> 0 OR scope_points <> 0 OR done_points <> 0
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

COMMENT ON TABLE marts.burnup IS 'Daily burn-up per milestone, project and program (METRICS.md "Burn-up"): for each UTC day from the start to as_of''s day, scope and done by count and by points at that day''s end, reconstructed from field history (core.item_history), so it exists on the first sync and a past day shows what the trackers showed then. Scope: items other than epics, not discarded; a milestone''s scope is the items that held it that day (an item moved in is scope added, moved out or discarded is scope removed). An item deleted or moved out of the synced projects (core.tombstones) counts on the days it existed and is scope removed on the day a sync found it gone (vanished_at); one moved to another synced project leaves its old milestone as its history says, and its old project on the day it moved (scope removed there, added in the new one). The last day (as_of''s) agrees with marts.progress.';
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
