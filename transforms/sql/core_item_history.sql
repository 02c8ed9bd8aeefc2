-- core.item_history: each work item's planning fields as intervals [valid_from, valid_to), so what
-- was true at the end of any day D is one join:
--   valid_from <= D_end AND (valid_to IS NULL OR valid_to > D_end)
-- A row exists only while the field holds a value: an unassigned, unestimated or unflagged spell
-- has no row. Multi-valued fields (milestone, sprint) have one row per member, blocked one row per
-- blocker. Built from core.status_transitions and core.item_changes: before an item's first change
-- of a field the field held that change's from-value (since creation); after its last change it
-- holds the item's current value (core.work_items), so the open rows always agree with core.
-- Item-scoped: a night merges the items of meta.item_deltas and those [stale] finds: items whose
-- dependencies changed or whose blocker changed, items whose milestone or sprint was renamed, and
-- items that vanished before a build saw them. An item that vanished (deleted, or moved out of
-- the synced projects) keeps the rows it had, closed when it vanished (core.tombstones.history),
-- so past days still count it.
-- [stale]
CREATE OR REPLACE TEMP VIEW _stale AS
WITH held AS (SELECT DISTINCT item_id, value_id FROM core.item_history WHERE field = 'blocked'),
now AS (SELECT DISTINCT d.blocked_item_id AS item_id, d.blocker_item_id AS value_id
        FROM core.dependencies d JOIN core.work_items w ON w.item_id = d.blocked_item_id)
SELECT item_id FROM (SELECT * FROM held EXCEPT SELECT * FROM now)
UNION SELECT item_id FROM (SELECT * FROM now EXCEPT SELECT * FROM held)
UNION SELECT blocked_item_id FROM core.dependencies WHERE blocker_item_id IN (SELECT item_id FROM _scope)
UNION SELECT h.item_id FROM core.item_history h
      LEFT JOIN core.milestones m ON m.milestone_id = h.value_id
      WHERE h.field = 'milestone' AND h.value IS DISTINCT FROM m.name
UNION SELECT h.item_id FROM core.item_history h
      LEFT JOIN core.sprints s ON s.sprint_id = h.value_id
      WHERE h.field = 'sprint' AND h.value IS DISTINCT FROM s.name
-- an item that vanished before any build saw it: no staging row ever changed for it
UNION SELECT t.item_id FROM core.tombstones t
      WHERE t.is_last AND NOT t.still_synced AND len(t.history) > 0
        AND NOT EXISTS (SELECT 1 FROM core.item_history h WHERE h.item_id = t.item_id);

-- [rows]
CREATE OR REPLACE TEMP VIEW _rows AS
WITH items AS (
    SELECT item_id, site, source, project_key, created_at, status, status_category, resolution,
           assignee, assignee_id, story_points, due_date, flagged, milestone_id, sprint_id
    FROM core.work_items WHERE in_scope(item_id)
),
changes AS (  -- ordered by (changed_at, hid, event_id) wherever order matters
    SELECT c.*, TRY_CAST(c.history_id AS BIGINT) AS hid
    FROM core.item_changes c
    WHERE in_scope(c.item_id)
      AND c.field IN ('assignee', 'story_points', 'due_date', 'resolution', 'flagged', 'milestone', 'sprint')
),
-- single-valued fields: [created, 1st change) holds the 1st change's from-value, [change k, change k+1)
-- its to-value, and the last interval the current value
single_changes AS (
    SELECT item_id, field, changed_at, row_number() OVER w AS n, from_value, from_id, to_value, to_id,
           lead(changed_at) OVER w AS next_at  -- one window: one sort
    FROM changes WHERE field IN ('assignee', 'story_points', 'due_date', 'resolution', 'flagged')
    WINDOW w AS (PARTITION BY item_id, field ORDER BY changed_at, hid, event_id)
),
current_single AS (
    SELECT item_id, created_at, field, value, value_id
    FROM items,
    LATERAL (VALUES ('assignee', assignee, assignee_id),
                    ('story_points', CAST(story_points AS VARCHAR), NULL),
                    ('due_date', CAST(due_date AS VARCHAR), NULL),
                    ('resolution', CASE WHEN source = 'jira' THEN resolution END, NULL),
                    ('flagged', CASE WHEN flagged THEN 'Impediment' END, NULL)) AS v(field, value, value_id)
),
single AS (
    SELECT item_id, field, from_value AS value, from_id AS value_id, i.created_at AS valid_from, changed_at AS valid_to
    FROM single_changes JOIN items i USING (item_id) WHERE n = 1
    UNION ALL
    SELECT item_id, field, to_value, to_id, changed_at, next_at FROM single_changes WHERE next_at IS NOT NULL
    UNION ALL  -- since the last change (or creation): the current value
    SELECT cur.item_id, cur.field, cur.value, cur.value_id,
           coalesce(last.changed_at, cur.created_at), NULL
    FROM current_single cur
    LEFT JOIN (SELECT item_id, field, max(changed_at) AS changed_at FROM single_changes GROUP BY ALL) last
      USING (item_id, field)
),
-- status and its category, from core.status_transitions (whose first row is the creation)
statuses AS (
    SELECT t.item_id, t.to_status, t.to_category, t.changed_at AS valid_from,
           lead(t.changed_at) OVER w AS valid_to,
           lead(t.transition_seq) OVER w IS NULL AS is_last  -- the same window: one sort
    FROM core.status_transitions t WHERE in_scope(t.item_id)
    WINDOW w AS (PARTITION BY t.item_id ORDER BY t.transition_seq)
),
status_rows AS (
    SELECT s.item_id, 'status' AS field, CASE WHEN is_last THEN i.status ELSE s.to_status END AS value,
           NULL::VARCHAR AS value_id, s.valid_from, s.valid_to
    FROM statuses s JOIN items i USING (item_id)
    UNION ALL
    SELECT s.item_id, 'status_category', CASE WHEN is_last THEN i.status_category ELSE s.to_category END,
           NULL, s.valid_from, s.valid_to
    FROM statuses s JOIN items i USING (item_id)
    UNION ALL  -- GitHub keeps the state_reason of the current closing only: from that closing on
    SELECT s.item_id, 'resolution', i.resolution, NULL, s.valid_from, NULL
    FROM statuses s JOIN items i USING (item_id)
    WHERE i.source = 'github' AND s.is_last AND i.status_category = 'done'
),
-- members of a multi-valued field: each change adds or removes members; before the first change a
-- member was there if that change removed it; after the last change, the current members are
member_changes AS (
    SELECT c.item_id, 'milestone' AS field, c.changed_at, c.hid, c.event_id,
           CASE WHEN c.to_id IS NOT NULL THEN 1 ELSE -1 END AS op,
           CASE WHEN i.source = 'jira' THEN 'jira:' || i.site || ':version:' || coalesce(c.to_id, c.from_id)
                ELSE 'github:' || i.site || ':' || i.project_key || ':milestone:' || coalesce(c.to_id, c.from_id) END AS member
    FROM changes c JOIN items i USING (item_id)
    WHERE c.field = 'milestone' AND coalesce(c.to_id, c.from_id) IS NOT NULL
    UNION ALL
    SELECT item_id, 'sprint', changed_at, hid, event_id, op, 'jira:' || site || ':sprint:' || sprint FROM (
        SELECT c.item_id, i.site, c.changed_at, c.hid, c.event_id,
               list_filter(list_transform(string_split(coalesce(c.from_id, ''), ','), lambda s: trim(s)), lambda s: s <> '') AS before,
               list_filter(list_transform(string_split(coalesce(c.to_id, ''), ','), lambda s: trim(s)), lambda s: s <> '') AS after
        FROM changes c JOIN items i USING (item_id) WHERE c.field = 'sprint'
    ), LATERAL (SELECT unnest(list_filter(after, lambda s: NOT list_contains(before, s))) AS sprint, 1 AS op
                UNION ALL
                SELECT unnest(list_filter(before, lambda s: NOT list_contains(after, s))), -1)
),
current_members AS (
    SELECT 'jira:' || site || ':' || issue_id AS item_id, 'milestone' AS field,
           'jira:' || site || ':version:' || unnest(fix_version_ids) AS member
    FROM staging.jira_issues WHERE in_scope('jira:' || site || ':' || issue_id)
    UNION ALL
    SELECT item_id, 'milestone', milestone_id FROM items WHERE source = 'github' AND milestone_id IS NOT NULL
    UNION ALL
    SELECT item_id, 'sprint', sprint_id FROM core.work_item_sprints WHERE in_scope(item_id) AND is_current
),
member_points AS (  -- moments at which membership is known: before the first change, after each, now
    SELECT item_id, field, member, changed_at AS moment, row_number() OVER w AS k,
           op > 0 AS member_after, (row_number() OVER w = 1 AND op < 0) AS member_before_first
    FROM member_changes
    WINDOW w AS (PARTITION BY item_id, field, member ORDER BY changed_at, hid, event_id)
),
member_states AS (
    SELECT p.item_id, p.field, p.member, i.created_at AS moment, 0 AS k, p.member_before_first AS is_member
    FROM member_points p JOIN items i USING (item_id) WHERE p.k = 1
    UNION ALL
    SELECT item_id, field, member, moment, k, member_after FROM member_points
    UNION ALL  -- the current state wins over the last change (a changelog cut short, a rename)
    SELECT coalesce(c.item_id, l.item_id), coalesce(c.field, l.field), coalesce(c.member, l.member),
           coalesce(l.moment, i.created_at), 1000000000, c.member IS NOT NULL
    FROM (SELECT item_id, field, member, max(moment) AS moment FROM member_points GROUP BY ALL) l
    FULL JOIN current_members c USING (item_id, field, member)
    JOIN items i ON i.item_id = coalesce(c.item_id, l.item_id)
),
member_runs AS (  -- a spell of membership starts where it turns true and lasts until the next state
    -- that is not a membership (one window, one sort)
    SELECT item_id, field, member, moment, is_member, lag(is_member) OVER w AS was,
           min(moment) FILTER (WHERE NOT is_member) OVER (w ROWS BETWEEN 1 FOLLOWING AND UNBOUNDED FOLLOWING) AS ended
    FROM member_states
    WINDOW w AS (PARTITION BY item_id, field, member ORDER BY moment, k)
),
members AS (
    SELECT f.item_id, f.field, coalesce(m.name, s.name) AS value, f.member AS value_id,
           f.moment AS valid_from, f.ended AS valid_to
    FROM member_runs f
    LEFT JOIN core.milestones m ON f.field = 'milestone' AND m.milestone_id = f.member
    LEFT JOIN core.sprints s ON f.field = 'sprint' AND s.sprint_id = f.member
    WHERE f.is_member AND f.was IS DISTINCT FROM true
),
-- blocked: per blocker, from when the dependency appeared (a Jira Link changelog item on either end
-- naming the other; else the later creation of the two) while the blocker is not done, until the
-- blocked item itself is done. A dependency whose blocker was already done when it appeared keeps
-- one empty row (valid_from = valid_to), so every dependency is represented.
deps AS (
    SELECT DISTINCT d.blocked_item_id AS item_id, d.blocker_item_id, d.blocker_key, d.blocked_key,
           greatest(i.created_at, b.created_at) AS created_both, b.item_id IS NOT NULL AS blocker_synced
    FROM core.dependencies d JOIN items i ON i.item_id = d.blocked_item_id
    LEFT JOIN core.work_items b ON b.item_id = d.blocker_item_id
),
links AS (SELECT item_id, to_id, changed_at FROM core.jira_changelog_items WHERE field = 'Link' AND to_id IS NOT NULL),
link_seen AS (  -- the Link item on either end naming the other: two equi-joins (an OR would be a nested loop)
    SELECT item_id, blocker_item_id, max(seen_at) AS seen_at FROM (
        SELECT d.item_id, d.blocker_item_id, l.changed_at AS seen_at
        FROM deps d JOIN links l ON l.item_id = d.item_id AND l.to_id = d.blocker_key
        UNION ALL
        SELECT d.item_id, d.blocker_item_id, l.changed_at
        FROM deps d JOIN links l ON l.item_id = d.blocker_item_id AND l.to_id = d.blocked_key)
    GROUP BY ALL
),
appeared AS (
    SELECT d.*, coalesce(s.seen_at, d.created_both) AS appeared_at, bd.done_at
    FROM deps d
    LEFT JOIN link_seen s USING (item_id, blocker_item_id)
    LEFT JOIN (SELECT item_id, valid_from AS done_at FROM status_rows
               WHERE field = 'status_category' AND value = 'done' AND valid_to IS NULL) bd USING (item_id)
),
blocker_open AS (  -- the blockers' spells outside done, as their status_category rows would say
    SELECT item_id AS blocker_item_id, valid_from, valid_to FROM (
        SELECT t.item_id, t.changed_at AS valid_from,
               lead(t.changed_at) OVER (PARTITION BY t.item_id ORDER BY t.transition_seq) AS valid_to,
               CASE WHEN lead(t.changed_at) OVER (PARTITION BY t.item_id ORDER BY t.transition_seq) IS NULL
                    THEN w.status_category ELSE t.to_category END AS category
        FROM core.status_transitions t JOIN core.work_items w USING (item_id)
        WHERE t.item_id IN (SELECT blocker_item_id FROM deps))
    WHERE category IS DISTINCT FROM 'done'
),
spells AS (  -- least() and greatest() skip nulls: an open end is no bound
    SELECT a.item_id, a.blocker_key, a.blocker_item_id,
           greatest(a.appeared_at, o.valid_from) AS valid_from, least(o.valid_to, a.done_at) AS valid_to
    FROM appeared a JOIN blocker_open o USING (blocker_item_id)
    WHERE a.blocker_synced
    UNION ALL  -- a blocker outside the synced projects: its status is unknown, so it holds until the item is done
    SELECT item_id, blocker_key, blocker_item_id, appeared_at, done_at FROM appeared WHERE NOT blocker_synced
),
kept_spells AS (
    SELECT * FROM spells WHERE valid_to IS NULL OR valid_to > valid_from
),
blocked AS (
    SELECT item_id, 'blocked' AS field, blocker_key AS value, blocker_item_id AS value_id, valid_from, valid_to
    FROM kept_spells
    UNION ALL
    SELECT a.item_id, 'blocked', a.blocker_key, a.blocker_item_id, a.appeared_at, a.appeared_at
    FROM appeared a ANTI JOIN kept_spells k ON k.item_id = a.item_id AND k.blocker_item_id = a.blocker_item_id
),
all_rows AS (
    SELECT * FROM single WHERE value IS NOT NULL
    UNION ALL SELECT * FROM status_rows WHERE value IS NOT NULL
    UNION ALL SELECT * FROM members
    UNION ALL SELECT * FROM blocked
),
normalised AS (  -- one spelling per value: points as numbers, due dates as ISO dates
    SELECT item_id, field,
           CASE field WHEN 'story_points' THEN CAST(points AS VARCHAR)
                      WHEN 'due_date' THEN coalesce(CAST(TRY_CAST(left(value, 10) AS DATE) AS VARCHAR), value)
                      ELSE value END AS value,
           value_id, points AS value_number, valid_from, valid_to
    FROM (SELECT *, CASE WHEN field = 'story_points' AND abs(TRY_CAST(value AS DOUBLE)) < 1e9  -- as staging reads
                         THEN TRY_CAST(value AS DOUBLE) END AS points  -- an estimate: else none
          FROM all_rows)
)
SELECT item_id, field, value, value_id, value_number, valid_from, valid_to
FROM normalised
WHERE value IS NOT NULL AND (valid_to IS NULL OR valid_to > valid_from OR field = 'blocked')
UNION ALL  -- items no synced project returns any more (core.tombstones): the history they had, closed when they vanished
SELECT v.item_id, v.h.field, CASE v.h.field WHEN 'milestone' THEN m.name WHEN 'sprint' THEN s.name ELSE v.h.value END,
       v.h.value_id, v.h.value_number, v.h.valid_from, v.h.valid_to
FROM (SELECT item_id, unnest(history) AS h FROM core.tombstones
      WHERE is_last AND NOT still_synced AND in_scope(item_id)) v
LEFT JOIN core.milestones m ON v.h.field = 'milestone' AND m.milestone_id = v.h.value_id
LEFT JOIN core.sprints s ON v.h.field = 'sprint' AND s.sprint_id = v.h.value_id
WHERE CASE v.h.field WHEN 'milestone' THEN m.name WHEN 'sprint' THEN s.name ELSE v.h.value END IS NOT NULL;

-- [comments]
COMMENT ON TABLE core.item_history IS 'Field history as intervals: one row per work item, field and value for the span [valid_from, valid_to) in which the field held that value; valid_to null while it still does. What was true at the end of day D: valid_from <= D_end AND (valid_to IS NULL OR valid_to > D_end), one join (METRICS.md "Scope and progress"). A field without a value (unassigned, unestimated, in no milestone, not flagged, not blocked) has no row for that span; milestone and sprint have one row per member, blocked one per blocker. Built from core.status_transitions and core.item_changes: before an item''s first change of a field, the field held that change''s from-value since creation; after its last change, the current value (core.work_items), so the open rows agree with core.work_items. An item that vanished (core.tombstones: deleted, or moved out of the synced projects) keeps the rows it had, every one closed by the time it vanished.';
COMMENT ON COLUMN core.item_history.item_id IS 'core.work_items.item_id, or for an item that vanished core.tombstones.item_id.';
COMMENT ON COLUMN core.item_history.field IS 'status, status_category (todo, in_progress, done: METRICS.md "Time and status"), resolution (Jira resolution, GitHub state_reason of the current closing), story_points, assignee, due_date (Jira issue due date), milestone (Jira fix version, GitHub milestone), sprint (Jira), flagged (Jira Software Flagged) or blocked (a blocker not done: METRICS.md "Blocked").';
COMMENT ON COLUMN core.item_history.value IS 'The value as the tracker shows it: status name, category, resolution name, points as text, assignee display name or login, ISO due date, milestone or sprint name (its current name), Impediment for flagged, the blocker''s key for blocked. Tracker text: escape before rendering.';
COMMENT ON COLUMN core.item_history.value_id IS 'Stable id of the value where there is one: assignee account id (Jira Cloud), user key (Server/DC) or login (GitHub); core.milestones.milestone_id; core.sprints.sprint_id; the blocker''s core.work_items.item_id (which may be outside the synced projects). Null otherwise.';
COMMENT ON COLUMN core.item_history.value_number IS 'story_points as a number (a value that is not a finite number below 1e9 in magnitude is no estimate: null, as in core.work_items.story_points); null for other fields. Never read a missing row as zero points.';
COMMENT ON COLUMN core.item_history.valid_from IS 'When the field took this value (UTC): the change''s instant, or the item''s creation for the value it was created with. For blocked: when the dependency appeared (the Jira Link changelog item on either end; else the later creation of the two items: the APIs keep no date for GitHub dependencies or text references) or when the blocker left done.';
COMMENT ON COLUMN core.item_history.valid_to IS 'When the field stopped holding this value (UTC), exclusive; null while it still does. For blocked: when the blocker reached done or the blocked item was done. A dependency whose blocker was done before it appeared has one empty row (valid_to = valid_from).';
