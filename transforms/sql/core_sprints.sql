-- core.sprints: every Jira sprint named in the Sprint field of a synced issue, one row per sprint
-- and site, as last seen. Jira Cloud writes each sprint in that field as an object; Jira Server and
-- Data Center as GreenHopper's toString(), e.g.
--   com.atlassian.greenhopper.service.sprint.Sprint@1a2b3c[id=12,rapidViewId=3,state=CLOSED,
--     name=Sprint 4,startDate=2026-10-01T09:00:00.000Z,endDate=...,completeDate=<null>,...,goal=...]
-- whose keys come in an order that varies by version and whose values are not escaped: a value
-- runs to the next known key (",goal=", ",startDate=", ...) or to the closing bracket, so names and
-- goals may hold commas and brackets. <null> is null.
CREATE OR REPLACE TEMP MACRO greenhopper(s, k) AS nullif(regexp_extract(s,
    '(?s)[\[,]' || k || '=(.*?)(?:,(?:id|rapidViewId|state|name|goal|startDate|endDate|completeDate|activatedDate'
    || '|sequence|autoStartStop|synced|incompleteIssuesDestinationId)=|\]$)', 1), '<null>');

CREATE OR REPLACE TABLE core.sprints AS
WITH listed AS (  -- the Sprint field of every issue of a configured project: every sprint it has been in
    SELECT i.site, i.issue_id, i.issue_synced_at AS synced_at, i.updated_at, unnest(i.sprints)::VARCHAR AS v
    FROM staging.jira_issues i
    JOIN core.projects p ON p.site = i.site AND p.project_key = i.project_key
),
texts AS (  -- a sprint is written alike in every issue that lists it: each distinct text is parsed once
    SELECT DISTINCT site, v FROM listed
),
read AS (
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
),
parsed AS (
    SELECT l.site, l.issue_id, l.synced_at, l.updated_at, r.* EXCLUDE (site, v)
    FROM listed l JOIN read r ON r.site = l.site AND r.v = l.v
),
latest AS (  -- a sprint as the most recently fetched issue shows it
    SELECT * FROM parsed WHERE TRY_CAST(id AS BIGINT) IS NOT NULL
    QUALIFY row_number() OVER (PARTITION BY site, id::BIGINT
                               ORDER BY synced_at DESC, updated_at DESC NULLS LAST, issue_id) = 1
),
counts AS (
    SELECT site, id::BIGINT AS jira_sprint_id, count(DISTINCT issue_id) AS items
    FROM parsed WHERE TRY_CAST(id AS BIGINT) IS NOT NULL GROUP BY ALL
)
SELECT 'jira:' || l.site || ':sprint:' || l.id::BIGINT          AS sprint_id,
       l.site,
       l.id::BIGINT                                             AS jira_sprint_id,
       TRY_CAST(l.board_id AS BIGINT)                           AS board_id,
       l.name,
       lower(l.state)                                           AS state,
       TRY_CAST(l.start_at AS TIMESTAMPTZ)                      AS start_at,
       TRY_CAST(l.end_at AS TIMESTAMPTZ)                        AS end_at,
       TRY_CAST(l.completed_at AS TIMESTAMPTZ)                  AS completed_at,
       nullif(l.goal, '')                                       AS goal,
       c.items
FROM latest l
JOIN counts c ON c.site = l.site AND c.jira_sprint_id = l.id::BIGINT;

COMMENT ON TABLE core.sprints IS 'One row per Jira sprint that the Sprint field of a synced issue names (now or in the past), per site, as the most recently fetched such issue shows it. A sprint belongs to a board, not a project: its items may come from several projects (core.work_item_sprints). Sprints with no synced issue do not appear.';
COMMENT ON COLUMN core.sprints.sprint_id IS 'Stable id: jira:<site>:sprint:<Jira sprint id>.';
COMMENT ON COLUMN core.sprints.site IS 'Tracker site name from program.yaml.';
COMMENT ON COLUMN core.sprints.jira_sprint_id IS 'Jira''s numeric sprint id, unique within the site (the id in /rest/agile/1.0/sprint/{id}).';
COMMENT ON COLUMN core.sprints.board_id IS 'Id of the board the sprint was created on: Cloud boardId, Server/DC rapidViewId; null when the tracker gives none.';
COMMENT ON COLUMN core.sprints.name IS 'Sprint name (tracker text, as written).';
COMMENT ON COLUMN core.sprints.state IS 'future, active or closed. Read from issues: Jira rewrites an issue''s Sprint field only when the issue changes, so a sprint closed with every item already done can show active until one of its issues changes.';
COMMENT ON COLUMN core.sprints.start_at IS 'Planned or actual start (UTC); null for a future sprint not yet scheduled.';
COMMENT ON COLUMN core.sprints.end_at IS 'Planned end (UTC); null when not scheduled. Compare with completed_at for a sprint that ran long or closed early.';
COMMENT ON COLUMN core.sprints.completed_at IS 'When the sprint was closed (UTC); null unless state is closed.';
COMMENT ON COLUMN core.sprints.goal IS 'Sprint goal (tracker text); null when none was set.';
COMMENT ON COLUMN core.sprints.items IS 'Work items whose Sprint field names this sprint: items done in it, items carried over to a later sprint, and items still in it.';
