-- core.burnup_events: what each item adds to or takes from the burn-ups (marts.burnup) on each UTC
-- day, per milestone, project and program it counts in (METRICS.md "Burn-up"). Each item's life is
-- cut into segments where its status category, resolution or points stay the same; a segment (or,
-- for a milestone, the part of it inside the item's membership) adds to the day it starts and takes
-- away from the day it ends. An item's events depend on its own history only (core.item_history,
-- core.tombstones), so the table is item-scoped: a night merges the items that changed, and
-- marts.burnup sums the events of every item without recomputing them.
-- [rows]
CREATE OR REPLACE TEMP VIEW _rows AS
WITH items AS (  -- ik: a dense integer key, so the aggregates and windows below hash and sort integers
    SELECT item_id, row_number() OVER (ORDER BY item_id) AS ik, program_id, project_key FROM (
        SELECT item_id, program_id, project_key FROM core.work_items
        WHERE item_type IS DISTINCT FROM 'epic' AND in_scope(item_id)
        UNION ALL  -- vanished items count until they vanished, in the project they left (core.tombstones)
        SELECT item_id, program_id, project_before FROM core.tombstones
        WHERE is_last AND NOT still_synced AND program_id IS NOT NULL AND item_type IS DISTINCT FROM 'epic'
          AND in_scope(item_id))
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
entity_events AS (  -- by level: an entity is one milestone, project or program; a milestone's program
    -- and project are core.milestones', joined by marts.burnup, so renaming or moving one stales no item
    SELECT 'milestone' AS level, CAST(NULL AS VARCHAR) AS program_id, CAST(NULL AS VARCHAR) AS project_key, e.milestone_id, e.*  EXCLUDE (milestone_id)
    FROM milestone_events e
    UNION ALL
    SELECT 'project', e.program_id, e.project_key, NULL, e.* EXCLUDE (program_id, project_key) FROM item_events e
    UNION ALL  -- a move between two projects of one program nets out in it
    SELECT 'program', program_id, NULL, NULL, item_id, day, sum(scope), sum(done), sum(unestimated), sum(wip),
           sum(scope_points), sum(done_points)
    FROM item_events GROUP BY program_id, item_id, day
)
SELECT i.item_id, e.level, e.program_id, e.project_key, e.milestone_id, e.day,
       CAST(e.scope AS INTEGER) AS scope, CAST(e.done AS INTEGER) AS done,
       CAST(e.unestimated AS INTEGER) AS unestimated, CAST(e.wip AS INTEGER) AS wip,
       e.scope_points, e.done_points
FROM entity_events e JOIN items i ON i.ik = e.item_id
WHERE e.scope <> 0 OR e.done <> 0 OR e.unestimated <> 0 OR e.wip <> 0 OR e.scope_points <> 0 OR e.done_points <> 0;

-- [changes]
-- A night's merge: how the merged items' events change (_merged, their new rows, against their rows
-- in the table now), per burn-up line and day, for marts.burnup to apply (meta.burnup_changes).
-- Points as marts.burnup sums them (6 decimals, exact; an unestimated item's are null: none), so an
-- unchanged item nets to nothing.
INSERT INTO meta.burnup_changes
SELECT level, program_id, project_key, milestone_id, day, sum(scope), sum(done), sum(unestimated), sum(wip),
       coalesce(sum(scope_points), 0), coalesce(sum(done_points), 0), sum(added), sum(removed)
FROM (
    SELECT level, program_id, project_key, milestone_id, day, -scope AS scope, -done AS done,
           -unestimated AS unestimated, -wip AS wip, -CAST(scope_points AS DECIMAL(18, 6)) AS scope_points,
           -CAST(done_points AS DECIMAL(18, 6)) AS done_points,
           -CAST(scope > 0 AS INTEGER) AS added, -CAST(scope < 0 AS INTEGER) AS removed
    FROM core.burnup_events WHERE item_id IN (SELECT item_id FROM _scope)
    UNION ALL
    SELECT level, program_id, project_key, milestone_id, day, scope, done, unestimated, wip,
           CAST(scope_points AS DECIMAL(18, 6)), CAST(done_points AS DECIMAL(18, 6)),
           CAST(scope > 0 AS INTEGER), CAST(scope < 0 AS INTEGER)
    FROM _merged)
GROUP BY level, program_id, project_key, milestone_id, day
HAVING sum(scope) <> 0 OR sum(done) <> 0 OR sum(unestimated) <> 0 OR sum(wip) <> 0 OR sum(scope_points) <> 0
    OR sum(done_points) <> 0 OR sum(added) <> 0 OR sum(removed) <> 0;

-- [comments]
COMMENT ON TABLE core.burnup_events IS 'Per work item, UTC day and burn-up entity (milestone, project, program), the net change the item made that day to the figures of marts.burnup (METRICS.md "Burn-up"), from its field history (core.item_history) and moves (core.tombstones). Days with no net change have no row. Summed over items and run over days, these are the burn-ups; scope added or removed on a day counts the rows with scope > 0 or < 0. Item-scoped: a night recomputes the items it changed. Epics are not work and have no rows.';
COMMENT ON COLUMN core.burnup_events.item_id IS 'core.work_items.item_id, or for an item that vanished core.tombstones.item_id.';
COMMENT ON COLUMN core.burnup_events.level IS 'milestone, project or program: the entity whose burn-up this row changes.';
COMMENT ON COLUMN core.burnup_events.program_id IS 'core.programs.program_id on project and program rows; null on milestone rows (the milestone''s program is core.milestones.program_id).';
COMMENT ON COLUMN core.burnup_events.project_key IS 'The project the item counted in on project rows (the one it left, for a move: core.tombstones.project_before); null otherwise.';
COMMENT ON COLUMN core.burnup_events.milestone_id IS 'core.milestones.milestone_id on milestone rows; null otherwise.';
COMMENT ON COLUMN core.burnup_events.day IS 'UTC day of the change: when a segment of the item''s life (or of its membership of the milestone) began or ended.';
COMMENT ON COLUMN core.burnup_events.scope IS 'Change in items in scope (not discarded): +1 entering, -1 leaving, 0 when it left and came back the same day.';
COMMENT ON COLUMN core.burnup_events.done IS 'Change in scope items done.';
COMMENT ON COLUMN core.burnup_events.unestimated IS 'Change in scope items without story points.';
COMMENT ON COLUMN core.burnup_events.wip IS 'Change in items in the in_progress category.';
COMMENT ON COLUMN core.burnup_events.scope_points IS 'Change in story points of the estimated items in scope (a re-estimate from 3 to 5 is +2).';
COMMENT ON COLUMN core.burnup_events.done_points IS 'Change in story points of the estimated items done.';
