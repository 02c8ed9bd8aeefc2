-- core.sprints: every Jira sprint that the Sprint field of a synced issue names (each issue's sprint
-- texts parsed once into staging.jira_issue_sprints) or that a configured project's board lists as
-- active or future (raw.jira_board_sprints: a future sprint nobody has planned into yet is a
-- milestone too), one row per sprint and site. A sprint the board lists is as the board shows it
-- (Jira rewrites an issue's Sprint field only when the issue changes); any other as the most
-- recently fetched issue that names it shows it.
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
),
listed AS (  -- sprints the boards of configured projects list; a board several projects share, once:
             -- under the project whose own board it is, else the first by key
    SELECT b.site, b.sprint_id AS jira_sprint_id,
           coalesce(TRY_CAST(b.payload->>'originBoardId' AS BIGINT), b.board_id) AS board_id,
           b.payload->>'name' AS name, b.payload->>'state' AS state, b.payload->>'startDate' AS start_at,
           b.payload->>'endDate' AS end_at, b.payload->>'completeDate' AS completed_at, b.payload->>'goal' AS goal,
           b.project_key AS board_project_key
    FROM raw.jira_board_sprints b
    JOIN core.projects p ON p.site = b.site AND p.project_key = b.project_key
    QUALIFY row_number() OVER (PARTITION BY b.site, b.sprint_id
                               ORDER BY (b.board->'location'->>'projectKey') IS NOT DISTINCT FROM b.project_key DESC,
                                        b.project_key, b.board_id) = 1
),
views AS (  -- the board's view first, then the issues'
    SELECT site, jira_sprint_id, board_id, name, state, start_at, end_at, completed_at, goal, board_project_key,
           1 AS preference
    FROM listed
    UNION ALL
    SELECT site, jira_sprint_id, TRY_CAST(board_id AS BIGINT), name, state, start_at, end_at, completed_at, goal,
           NULL, 2
    FROM latest
),
seen AS (
    SELECT site, jira_sprint_id, bool_or(preference = 1) AS on_board, bool_or(preference = 2) AS in_field
    FROM views GROUP BY ALL
),
chosen AS (
    SELECT * FROM views
    QUALIFY row_number() OVER (PARTITION BY site, jira_sprint_id ORDER BY preference) = 1
)
SELECT 'jira:' || v.site || ':sprint:' || v.jira_sprint_id      AS sprint_id,
       v.site,
       v.jira_sprint_id,
       v.board_id,
       v.name,
       lower(v.state)                                           AS state,
       TRY_CAST(v.start_at AS TIMESTAMPTZ)                      AS start_at,
       TRY_CAST(v.end_at AS TIMESTAMPTZ)                        AS end_at,
       TRY_CAST(v.completed_at AS TIMESTAMPTZ)                  AS completed_at,
       nullif(v.goal, '')                                       AS goal,
       coalesce(c.items, 0)                                     AS items,
       CASE WHEN s.on_board AND s.in_field THEN 'board_and_sprint_field'
            WHEN s.on_board THEN 'board' ELSE 'sprint_field' END AS seen_in,
       v.board_project_key
FROM chosen v
JOIN seen s ON s.site = v.site AND s.jira_sprint_id = v.jira_sprint_id
LEFT JOIN counts c ON c.site = v.site AND c.jira_sprint_id = v.jira_sprint_id;

COMMENT ON TABLE core.sprints IS 'One row per Jira sprint, per site: every sprint that the Sprint field of a synced issue names (now or in the past), and every active or future sprint the boards of the configured projects list (raw.jira_board_sprints), those no issue names yet included, so a sprint is a milestone before anyone plans into it. A sprint belongs to a board, not a project: its items may come from several projects (core.work_item_sprints). A closed sprint that no synced issue names does not appear (boards are asked for active and future sprints only).';
COMMENT ON COLUMN core.sprints.sprint_id IS 'Stable id: jira:<site>:sprint:<Jira sprint id>.';
COMMENT ON COLUMN core.sprints.site IS 'Tracker site name from program.yaml.';
COMMENT ON COLUMN core.sprints.jira_sprint_id IS 'Jira''s numeric sprint id, unique within the site (the id in /rest/agile/1.0/sprint/{id}).';
COMMENT ON COLUMN core.sprints.board_id IS 'Id of the board the sprint was created on: the board listing''s originBoardId, else Cloud boardId or Server/DC rapidViewId from the Sprint field; null when the tracker gives none.';
COMMENT ON COLUMN core.sprints.name IS 'Sprint name (tracker text, as written).';
COMMENT ON COLUMN core.sprints.state IS 'future, active or closed: as the board lists it when it does (read on full and reconciling syncs), else as the most recently fetched issue that names it shows it. Jira rewrites an issue''s Sprint field only when the issue changes, so a sprint closed with every item already done can show active until one of its issues changes.';
COMMENT ON COLUMN core.sprints.start_at IS 'Planned or actual start (UTC); null for a future sprint not yet scheduled.';
COMMENT ON COLUMN core.sprints.end_at IS 'Planned end (UTC); null when not scheduled. Compare with completed_at for a sprint that ran long or closed early.';
COMMENT ON COLUMN core.sprints.completed_at IS 'When the sprint was closed (UTC); null unless state is closed.';
COMMENT ON COLUMN core.sprints.goal IS 'Sprint goal (tracker text); null when none was set.';
COMMENT ON COLUMN core.sprints.items IS 'Work items whose Sprint field names this sprint: items done in it, items carried over to a later sprint, and items still in it. 0 for a sprint only a board lists.';
COMMENT ON COLUMN core.sprints.seen_in IS 'Where the sprint was seen: board (only a board listing: no synced issue names it yet), sprint_field (only issues'' Sprint fields: a closed sprint, a sprint of another project''s board, a site whose agile API answered 404) or board_and_sprint_field.';
COMMENT ON COLUMN core.sprints.board_project_key IS 'The configured project whose board listing shows the sprint (the board''s own project when several list it); null when no board lists it. A sprint no item is in belongs to this project and its program.';
