-- core.program_milestone_items: the work items a program milestone of program.yaml spans now: the
-- items of its member Jira versions and GitHub milestones (every fix version counts), of its member
-- sprints (core.program_milestone_sprints), and the children of its member epics. Forecasts, critical paths and health treat a
-- program milestone through these items.
CREATE OR REPLACE TABLE core.program_milestone_items AS
WITH resolved AS (
    SELECT DISTINCT pm.program_id, pm.milestone_id, pm.member_kind, pm.member_name, pm.site,
           coalesce(cm.milestone_id, s.sprint_id, e.key) AS member_id
    FROM meta.program_milestone_members pm
    LEFT JOIN core.milestones cm ON pm.member_kind = 'milestone' AND cm.site = pm.site
                                AND cm.project_key = pm.project_key AND cm.name = pm.member_name
    LEFT JOIN core.program_milestone_sprints s  -- boards name their sprints alike: the member's own
           ON pm.member_kind = 'sprint' AND s.milestone_id = pm.milestone_id AND s.site = pm.site
          AND s.project_key = pm.project_key AND s.member_name = pm.member_name
    LEFT JOIN core.work_items e ON pm.member_kind = 'epic' AND e.site = pm.site AND e.key = pm.member_name
),
items AS (
    SELECT r.program_id, r.milestone_id, h.item_id, r.member_kind, r.member_name
    FROM resolved r
    JOIN core.item_history h ON h.field = CASE r.member_kind WHEN 'sprint' THEN 'sprint' ELSE 'milestone' END
                            AND h.value_id = r.member_id AND h.valid_to IS NULL
    WHERE r.member_kind IN ('milestone', 'sprint')
    UNION ALL
    SELECT r.program_id, r.milestone_id, w.item_id, r.member_kind, r.member_name
    FROM resolved r JOIN core.work_items w ON w.parent_key = r.member_id AND w.site = r.site
    WHERE r.member_kind = 'epic'
)
SELECT i.program_id, i.milestone_id, i.item_id, w.key,
       string_agg(DISTINCT i.member_kind || ' ' || i.member_name, ', ' ORDER BY i.member_kind || ' ' || i.member_name) AS via
FROM items i JOIN core.work_items w USING (item_id)
WHERE w.item_type IS DISTINCT FROM 'epic'
GROUP BY i.program_id, i.milestone_id, i.item_id, w.key;

COMMENT ON TABLE core.program_milestone_items IS 'One row per program milestone of program.yaml (meta.program_milestones) and work item it spans now: the items of its member versions and milestones (any fix version), of its member sprints, and the children of its member epics; epics themselves left out. Read by the forecasts, critical paths and health of program milestones.';
COMMENT ON COLUMN core.program_milestone_items.program_id IS 'Program of the program milestone.';
COMMENT ON COLUMN core.program_milestone_items.milestone_id IS 'program:<program id>:<name> (meta.program_milestones.milestone_id).';
COMMENT ON COLUMN core.program_milestone_items.item_id IS 'core.work_items.item_id of an item it spans.';
COMMENT ON COLUMN core.program_milestone_items.key IS 'The item''s key.';
COMMENT ON COLUMN core.program_milestone_items.via IS 'Which members bring the item in, e.g. milestone PAY 2.0, epic CART-12.';
