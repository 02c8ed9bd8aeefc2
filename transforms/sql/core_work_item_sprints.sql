-- core.work_item_sprints: which sprints each Jira work item has been in, from its Sprint field as
-- parsed into staging.jira_issue_sprints; everything else about a sprint is in core.sprints, whose
-- state (as the most recently fetched issue shows it) decides which sprint is current.
CREATE OR REPLACE TABLE core.work_item_sprints AS
WITH members AS (
    SELECT l.item_id, s.sprint_id, s.state, l.position
    FROM staging.jira_issue_sprints l
    JOIN core.projects p ON p.site = l.site AND p.project_key = l.project_key
    JOIN core.sprints s ON s.site = l.site AND s.jira_sprint_id = l.jira_sprint_id
    QUALIFY row_number() OVER (PARTITION BY l.item_id, s.sprint_id ORDER BY l.position DESC) = 1
)
SELECT item_id, sprint_id,
       -- Jira keeps an issue in at most one open (active or future) sprint; the last listed if ever more
       coalesce(state <> 'closed' AND position = max(position) FILTER (WHERE state <> 'closed')
                                                  OVER (PARTITION BY item_id), false) AS is_current
FROM members;

COMMENT ON TABLE core.work_item_sprints IS 'One row per Jira work item and sprint it is or has been in, from the issue''s Sprint field (Jira keeps closed sprints there, so an item carried over lists each sprint it passed through). GitHub items have no sprints.';
COMMENT ON COLUMN core.work_item_sprints.item_id IS 'core.work_items.item_id.';
COMMENT ON COLUMN core.work_item_sprints.sprint_id IS 'core.sprints.sprint_id.';
COMMENT ON COLUMN core.work_item_sprints.is_current IS 'True for the item''s current sprint: the open (active or future) sprint it is in, at most one per item (core.work_items.sprint_id). False for the closed sprints it has passed through.';
