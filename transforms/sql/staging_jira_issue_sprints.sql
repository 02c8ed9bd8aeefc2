-- staging.jira_issue_sprints: the Sprint field of every Jira issue, one row per sprint it lists (every
-- sprint the issue has been in: closed ones stay when it is carried over), each parsed once when
-- the issue is. Jira Cloud writes a sprint there as an object; Jira Server and Data Center as
-- GreenHopper's toString(), e.g.
--   com.atlassian.greenhopper.service.sprint.Sprint@1a2b3c[id=12,rapidViewId=3,state=CLOSED,
--     name=Sprint 4,startDate=2026-10-01T09:00:00.000Z,endDate=...,completeDate=<null>,...,goal=...]
-- whose keys come in an order that varies by version and whose values are not escaped: a value
-- runs to the next known key (",goal=", ",startDate=", ...) or to the closing bracket, so names and
-- goals may hold commas and brackets. <null> is null. Item-scoped: a night parses the sprint
-- fields of the issues parsed again (meta.item_deltas) and no other.
-- [rows]
CREATE OR REPLACE TEMP MACRO greenhopper(s, k) AS nullif(regexp_extract(s,
    '(?s)[\[,]' || k || '=(.*?)(?:,(?:id|rapidViewId|state|name|goal|startDate|endDate|completeDate|activatedDate'
    || '|sequence|autoStartStop|synced|incompleteIssuesDestinationId)=|\]$)', 1), '<null>');

CREATE OR REPLACE TEMP VIEW _rows AS
WITH listed AS (
    SELECT 'jira:' || i.site || ':' || i.issue_id AS item_id, i.site, i.issue_id, i.project_key,
           i.issue_synced_at AS synced_at, i.updated_at,
           unnest(i.sprints)::VARCHAR AS v, generate_subscripts(i.sprints, 1) AS position
    FROM staging.jira_issues i
    WHERE in_scope('jira:' || i.site || ':' || i.issue_id)
),
texts AS (  -- a sprint is written alike in every issue that lists it: each distinct text is parsed once
    SELECT DISTINCT site, v FROM listed
),
parsed AS (
    SELECT site, v,
           CASE WHEN json_type(v) = 'OBJECT' THEN v->>'id'           ELSE greenhopper(v->>'$', 'id') END           AS id,
           CASE WHEN json_type(v) = 'OBJECT' THEN v->>'boardId'      ELSE greenhopper(v->>'$', 'rapidViewId') END  AS board_id,
           CASE WHEN json_type(v) = 'OBJECT' THEN v->>'name'         ELSE greenhopper(v->>'$', 'name') END         AS name,
           CASE WHEN json_type(v) = 'OBJECT' THEN v->>'state'        ELSE greenhopper(v->>'$', 'state') END        AS state,
           CASE WHEN json_type(v) = 'OBJECT' THEN v->>'startDate'    ELSE greenhopper(v->>'$', 'startDate') END    AS start_at,
           CASE WHEN json_type(v) = 'OBJECT' THEN v->>'endDate'      ELSE greenhopper(v->>'$', 'endDate') END      AS end_at,
           CASE WHEN json_type(v) = 'OBJECT' THEN v->>'completeDate' ELSE greenhopper(v->>'$', 'completeDate') END AS completed_at,
           CASE WHEN json_type(v) = 'OBJECT' THEN v->>'goal'         ELSE greenhopper(v->>'$', 'goal') END         AS goal
    FROM texts
)
SELECT l.item_id, l.site, l.issue_id, l.project_key, l.synced_at, l.updated_at, l.position,
       TRY_CAST(p.id AS BIGINT) AS jira_sprint_id, p.board_id, p.name, p.state, p.start_at, p.end_at,
       p.completed_at, p.goal
FROM listed l JOIN parsed p ON p.site = l.site AND p.v = l.v;

-- [comments]
COMMENT ON TABLE staging.jira_issue_sprints IS 'One row per Jira issue and entry of its Sprint field, the sprint text parsed once (Cloud objects and Server/DC GreenHopper strings alike) when the issue is: input to core.sprints and core.work_item_sprints.';
COMMENT ON COLUMN staging.jira_issue_sprints.item_id IS 'core.work_items.item_id of the issue.';
COMMENT ON COLUMN staging.jira_issue_sprints.site IS 'Jira site name from program.yaml.';
COMMENT ON COLUMN staging.jira_issue_sprints.issue_id IS 'Jira numeric issue id.';
COMMENT ON COLUMN staging.jira_issue_sprints.project_key IS 'Project the issue is in.';
COMMENT ON COLUMN staging.jira_issue_sprints.synced_at IS 'When the issue was landed (raw.jira_issues.synced_at): the most recently fetched issue has the freshest view of a sprint.';
COMMENT ON COLUMN staging.jira_issue_sprints.updated_at IS 'The issue''s updated time, to break ties between issues landed together.';
COMMENT ON COLUMN staging.jira_issue_sprints.position IS 'Place of the sprint in the field (1 first); the last open one is the current sprint.';
COMMENT ON COLUMN staging.jira_issue_sprints.jira_sprint_id IS 'Jira''s numeric sprint id; null when the text carries none.';
COMMENT ON COLUMN staging.jira_issue_sprints.board_id IS 'boardId (Cloud) or rapidViewId (Server/DC), as text.';
COMMENT ON COLUMN staging.jira_issue_sprints.name IS 'Sprint name (tracker text).';
COMMENT ON COLUMN staging.jira_issue_sprints.state IS 'Sprint state as written (ACTIVE, active, CLOSED, ...).';
COMMENT ON COLUMN staging.jira_issue_sprints.start_at IS 'startDate as written.';
COMMENT ON COLUMN staging.jira_issue_sprints.end_at IS 'endDate as written.';
COMMENT ON COLUMN staging.jira_issue_sprints.completed_at IS 'completeDate as written.';
COMMENT ON COLUMN staging.jira_issue_sprints.goal IS 'Sprint goal (tracker text).';
