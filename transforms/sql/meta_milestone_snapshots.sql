-- meta.milestone_snapshots: append what each milestone looks like now, when it differs from its
-- latest snapshot (or it has none). Not a derived table: the migrations own it and no rebuild
-- replaces it (transforms.build.snapshot_milestones runs this once per build, after the core
-- tables). A build that sees nothing new appends nothing, so reruns are idempotent.
INSERT INTO meta.milestone_snapshots
WITH items AS (  -- scope as marts.progress counts it: not epics, not discarded
    SELECT w.item_id, w.program_id, w.project_key, w.key, w.site, w.parent_key, w.status_category = 'done' AS done
    FROM core.work_items w
    WHERE w.item_type IS DISTINCT FROM 'epic'
      AND NOT coalesce(w.status_category = 'done'
                       AND lower(w.resolution) IN (SELECT resolution FROM meta.discarded_resolutions), false)
),
memberships AS (  -- every milestone each counted item is in now, and every sprint its Sprint field names:
                  -- each item once per milestone (UNION; an item's other columns are its own), so the
                  -- counts below are plain counts (three count(DISTINCT) over 1.7M rows took most of
                  -- this statement's time at 1M items)
    SELECT h.value_id AS milestone_id, i.item_id, i.done, i.program_id, i.project_key
    FROM core.item_history h JOIN items i USING (item_id)
    WHERE h.field = 'milestone' AND h.valid_to IS NULL AND h.value_id IS NOT NULL
    UNION  -- a closed sprint keeps the items done in it and those carried over from it (as core.sprints.items)
    SELECT ws.sprint_id, i.item_id, i.done, i.program_id, i.project_key
    FROM core.work_item_sprints ws JOIN items i USING (item_id)
),
counts AS (
    SELECT milestone_id, count(*) AS scope_items, count(*) FILTER (WHERE done) AS done_items
    FROM memberships GROUP BY milestone_id
),
homes AS (  -- a sprint's project and program (a board may hold several): those of most of its items, ties by key
    SELECT milestone_id, program_id, project_key
    FROM (SELECT milestone_id, program_id, project_key, count(*) AS n FROM memberships GROUP BY ALL)
    QUALIFY row_number() OVER (PARTITION BY milestone_id ORDER BY n DESC, project_key, program_id) = 1
),
program_items AS (  -- a program milestone's items: its members' (project milestones, epics' children, sprints)
    SELECT pm.milestone_id, m.item_id, m.done
    FROM meta.program_milestone_members pm
    JOIN core.milestones cm ON pm.member_kind = 'milestone' AND cm.site = pm.site
                           AND cm.project_key = pm.project_key AND cm.name = pm.member_name
    JOIN memberships m ON m.milestone_id = cm.milestone_id
    UNION
    SELECT pm.milestone_id, m.item_id, m.done
    FROM meta.program_milestone_members pm
    JOIN core.program_milestone_sprints s ON pm.member_kind = 'sprint' AND s.milestone_id = pm.milestone_id
     AND s.site = pm.site AND s.project_key = pm.project_key AND s.member_name = pm.member_name
    JOIN memberships m ON m.milestone_id = s.sprint_id
    UNION
    SELECT pm.milestone_id, i.item_id, i.done
    FROM meta.program_milestone_members pm
    JOIN items i ON pm.member_kind = 'epic' AND i.site = pm.site AND i.parent_key = pm.member_name
),
now AS (
    SELECT m.milestone_id, m.milestone_type AS kind, m.program_id, m.site, m.project_key, m.name,
           m.start_date, m.due_date, m.state, m.state IN ('released', 'closed') AS released, m.closed_at,
           coalesce(c.scope_items, 0) AS scope_items, coalesce(c.done_items, 0) AS done_items
    FROM core.milestones m LEFT JOIN counts c USING (milestone_id)
    UNION ALL
    -- a sprint no counted item is in (a future one only its board lists): its board's project and program
    SELECT s.sprint_id, 'sprint', coalesce(o.program_id, b.program_id), s.site,
           coalesce(o.project_key, s.board_project_key), s.name,
           CAST(timezone('UTC', s.start_at) AS DATE), CAST(timezone('UTC', s.end_at) AS DATE),
           s.state, s.state = 'closed', s.completed_at,
           coalesce(c.scope_items, 0), coalesce(c.done_items, 0)
    FROM core.sprints s LEFT JOIN counts c ON c.milestone_id = s.sprint_id LEFT JOIN homes o ON o.milestone_id = s.sprint_id
    LEFT JOIN (SELECT site, project_key, min(program_id) AS program_id FROM core.projects GROUP BY ALL) b
           ON b.site = s.site AND b.project_key = s.board_project_key
    UNION ALL
    SELECT p.milestone_id, 'program', p.program_id, NULL, NULL, p.name, NULL, p.due_date, 'open', false, NULL,
           (SELECT count(DISTINCT item_id) FROM program_items x WHERE x.milestone_id = p.milestone_id),
           (SELECT count(DISTINCT item_id) FILTER (WHERE done) FROM program_items x WHERE x.milestone_id = p.milestone_id)
    FROM meta.program_milestones p
),
latest AS (  -- each milestone's latest snapshot: an aggregate, not a sort of the whole history
    SELECT unnest(arg_max(s, (s.observed_at, s.recorded_at)))
    FROM meta.milestone_snapshots s GROUP BY s.milestone_id
)
SELECT n.milestone_id, n.kind, n.program_id, n.site, n.project_key, n.name, n.start_date, n.due_date, n.state,
       n.released, n.closed_at, n.scope_items, n.done_items,
       coalesce(l.first_seen_at, getvariable('as_of')) AS first_seen_at,
       getvariable('as_of') AS observed_at,
       now() AS recorded_at,
       (SELECT sync_id FROM meta.source_syncs ORDER BY finished_at DESC, sync_id DESC LIMIT 1) AS sync_id
FROM now n
LEFT JOIN latest l USING (milestone_id)
WHERE l.milestone_id IS NULL
   OR (n.kind, n.program_id, n.site, n.project_key, n.name, n.start_date, n.due_date, n.state, n.released,
       n.closed_at, n.scope_items, n.done_items)
      IS DISTINCT FROM
      (l.kind, l.program_id, l.site, l.project_key, l.name, l.start_date, l.due_date, l.state, l.released,
       l.closed_at, l.scope_items, l.done_items);
