-- The core tables as they stood at an instant in the past (getvariable('replay_at')), rebuilt from
-- the present warehouse's history into the scratch catalog "replay", so that the unchanged marts SQL
-- can run against them as of that instant (transforms/history.py). {src} is the warehouse's catalog.
-- What cannot be replayed exactly is said where it happens: text fields (titles, labels) are today's;
-- a due date moved before the first snapshot is today's; a GitHub dependency without a date counts
-- from the later creation of its two items (as core.item_history says). The other core tables
-- (people, identities, sprints, ...) are today's, seen through views (transforms/history.py).
CREATE OR REPLACE TABLE replay.core.item_history AS
SELECT item_id, field, value, value_id, value_number, valid_from,
       CASE WHEN valid_to > getvariable('replay_at') THEN NULL ELSE valid_to END AS valid_to
FROM {src}.core.item_history
WHERE valid_from <= getvariable('replay_at');

CREATE OR REPLACE TABLE replay.core.work_items AS
WITH base AS (  -- today's items, and those deleted or moved out of the synced projects since (core.tombstones)
    SELECT * FROM {src}.core.work_items
    UNION ALL BY NAME
    SELECT item_id, program_id, project_before AS project_key, site, source, key_before AS key, title, item_type,
           created_at, last_updated_at AS updated_at
    FROM {src}.core.tombstones WHERE is_last AND NOT still_synced
),
placed AS (  -- where an item was at the instant: before the first move or deletion after it
    SELECT item_id, arg_min(key_before, vanished_at) AS key, arg_min(project_before, vanished_at) AS project_key,
           arg_min(program_id, vanished_at) AS program_id
    FROM {src}.core.tombstones WHERE vanished_at > getvariable('replay_at')
    GROUP BY item_id
),
fields AS (
    SELECT item_id,
           any_value(value) FILTER (WHERE field = 'status') AS status,
           any_value(value) FILTER (WHERE field = 'status_category') AS status_category,
           any_value(value) FILTER (WHERE field = 'resolution') AS resolution,
           any_value(value_number) FILTER (WHERE field = 'story_points') AS story_points,
           any_value(value) FILTER (WHERE field = 'assignee') AS assignee,
           any_value(value_id) FILTER (WHERE field = 'assignee') AS assignee_id,
           TRY_CAST(any_value(value) FILTER (WHERE field = 'due_date') AS DATE) AS due_date,
           bool_or(field = 'flagged') AS flagged,
           list(value_id ORDER BY value_id) FILTER (WHERE field = 'milestone') AS milestone_ids,
           list(value ORDER BY value_id) FILTER (WHERE field = 'milestone') AS milestone_names,
           any_value(value_id) FILTER (WHERE field = 'sprint') AS sprint_id
    FROM replay.core.item_history WHERE valid_to IS NULL
    GROUP BY item_id
),
changed AS (
    SELECT item_id, max(changed_at) AS changed_at FROM {src}.core.item_changes
    WHERE changed_at <= getvariable('replay_at') GROUP BY item_id
),
finished AS (
    SELECT item_id, max(changed_at) AS done_at FROM {src}.core.status_transitions
    WHERE changed_at <= getvariable('replay_at') AND to_category = 'done' AND from_category IS DISTINCT FROM 'done'
    GROUP BY item_id
)
SELECT w.* REPLACE (
           coalesce(pl.key, w.key) AS key, coalesce(pl.project_key, w.project_key) AS project_key,
           coalesce(pl.program_id, w.program_id) AS program_id,
           f.status AS status, f.status_category AS status_category, f.resolution AS resolution,
           f.story_points AS story_points, f.assignee AS assignee,
           CASE WHEN f.assignee IS NULL THEN NULL WHEN f.assignee = w.assignee THEN w.assignee_id
                ELSE coalesce(f.assignee_id, f.assignee) END AS assignee_id,
           greatest(w.created_at, c.changed_at) AS updated_at,
           CASE WHEN f.status_category = 'done' THEN d.done_at END AS resolved_at,
           CASE WHEN w.source = 'jira' THEN f.due_date ELSE w.due_date END AS due_date,
           CASE WHEN w.source = 'jira' THEN coalesce(f.flagged, false) ELSE w.flagged END AS flagged,
           CASE WHEN list_contains(f.milestone_ids, w.milestone_id) THEN w.milestone_id
                ELSE f.milestone_ids[1] END AS milestone_id,
           CASE WHEN w.fix_versions IS NULL THEN NULL ELSE coalesce(f.milestone_names, []) END AS fix_versions,
           f.sprint_id AS sprint_id)
FROM base w
JOIN fields f USING (item_id)
LEFT JOIN placed pl USING (item_id)
LEFT JOIN changed c USING (item_id)
LEFT JOIN finished d USING (item_id)
WHERE w.created_at <= getvariable('replay_at') AND f.status IS NOT NULL;

CREATE OR REPLACE TABLE replay.core.status_transitions AS
SELECT * FROM {src}.core.status_transitions WHERE changed_at <= getvariable('replay_at');

CREATE OR REPLACE TABLE replay.core.dependencies AS  -- the links whose blocked spell had begun, with their ends' states then
SELECT d.* REPLACE (a.status_category AS blocker_status_category, b.status_category AS blocked_status_category,
                    coalesce(a.status_category, '') <> 'done' AND b.status_category <> 'done' AS is_open)
FROM {src}.core.dependencies d
JOIN replay.core.work_items b ON b.item_id = d.blocked_item_id
LEFT JOIN replay.core.work_items a ON a.item_id = d.blocker_item_id
WHERE (a.item_id IS NOT NULL OR NOT d.both_synced)
  AND EXISTS (SELECT 1 FROM replay.core.item_history h  -- every dependency has a blocked row (core.item_history)
              WHERE h.item_id = d.blocked_item_id AND h.field = 'blocked' AND h.value_id = d.blocker_item_id);

CREATE OR REPLACE TABLE replay.core.milestones AS
WITH seen AS (  -- the last snapshot at or before the instant (meta.milestone_snapshots), where there is one
    SELECT milestone_id, arg_max(due_date, observed_at) AS due_date, arg_max(start_date, observed_at) AS start_date,
           arg_max(state, observed_at) AS state, arg_max(name, observed_at) AS name
    FROM {src}.meta.milestone_snapshots WHERE observed_at <= getvariable('replay_at')
    GROUP BY milestone_id
),
counts AS (
    SELECT milestone_id, count(*) AS items, count(*) FILTER (WHERE status_category = 'done') AS done_items,
           count(*) FILTER (WHERE status_category <> 'done') AS open_items, min(created_at) AS first_item_created_at
    FROM replay.core.work_items WHERE milestone_id IS NOT NULL AND item_type <> 'epic'
    GROUP BY milestone_id
)
SELECT m.* REPLACE (
           coalesce(s.name, m.name) AS name, coalesce(s.start_date, m.start_date) AS start_date,
           coalesce(s.due_date, m.due_date) AS due_date,
           coalesce(s.state, CASE WHEN m.state = 'open' THEN 'open'
                                  WHEN coalesce(m.closed_at, m.due_date::TIMESTAMPTZ) <= getvariable('replay_at') THEN m.state
                                  ELSE 'open' END) AS state,
           CASE WHEN m.closed_at <= getvariable('replay_at') THEN m.closed_at END AS closed_at,
           coalesce(c.items, 0) AS items, coalesce(c.done_items, 0) AS done_items,
           coalesce(c.open_items, 0) AS open_items, c.first_item_created_at AS first_item_created_at)
FROM {src}.core.milestones m
LEFT JOIN seen s USING (milestone_id)
LEFT JOIN counts c USING (milestone_id);
