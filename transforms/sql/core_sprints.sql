-- core.sprints: every Jira sprint named in the Sprint field of a synced issue, one row per sprint
-- and site, as last seen: each issue's sprint texts are parsed once into staging.jira_issue_sprints.
CREATE OR REPLACE TABLE core.sprints AS
WITH parsed AS (  -- sprints of the issues of configured projects
    SELECT s.* FROM staging.jira_issue_sprints s
    JOIN core.projects p ON p.site = s.site AND p.project_key = s.project_key
    WHERE s.jira_sprint_id IS NOT NULL
),
latest AS (  -- a sprint as the most recently fetched issue shows it
    SELECT * FROM parsed
    QUALIFY row_number() OVER (PARTITION BY site, jira_sprint_id
                               ORDER BY synced_at DESC, updated_at DESC NULLS LAST, issue_id) = 1
),
counts AS (
    SELECT site, jira_sprint_id, count(DISTINCT issue_id) AS items FROM parsed GROUP BY ALL
)
SELECT 'jira:' || l.site || ':sprint:' || l.jira_sprint_id      AS sprint_id,
       l.site,
       l.jira_sprint_id,
       TRY_CAST(l.board_id AS BIGINT)                           AS board_id,
       l.name,
       lower(l.state)                                           AS state,
       TRY_CAST(l.start_at AS TIMESTAMPTZ)                      AS start_at,
       TRY_CAST(l.end_at AS TIMESTAMPTZ)                        AS end_at,
       TRY_CAST(l.completed_at AS TIMESTAMPTZ)                  AS completed_at,
       nullif(l.goal, '')                                       AS goal,
       c.items
FROM latest l
JOIN counts c ON c.site = l.site AND c.jira_sprint_id = l.jira_sprint_id;

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
