-- core.milestones: Jira versions and GitHub milestones, with their dates and work counts.
CREATE OR REPLACE TABLE core.milestones AS
WITH jira AS (
    SELECT 'jira:' || v.site || ':version:' || v.version_id AS milestone_id,
           p.program_id, v.project_key, v.site, 'jira' AS source,
           'version' AS milestone_type,
           v.payload->>'name' AS name,
           TRY_CAST(v.payload->>'startDate' AS DATE) AS start_date,
           TRY_CAST(v.payload->>'releaseDate' AS DATE) AS due_date,
           CASE WHEN (v.payload->>'released')::BOOLEAN THEN 'released'
                WHEN (v.payload->>'archived')::BOOLEAN THEN 'archived' ELSE 'open' END AS state,
           NULL::TIMESTAMPTZ AS closed_at
    FROM raw.jira_versions v
    JOIN core.projects p ON p.site = v.site AND p.project_key = v.project_key
),
github AS (
    SELECT 'github:' || m.site || ':' || m.repo || ':milestone:' || m.number AS milestone_id,
           p.program_id, m.repo AS project_key, m.site, 'github' AS source,
           'milestone' AS milestone_type,
           m.payload->>'title' AS name,
           NULL::DATE AS start_date,
           ((m.payload->>'due_on')::TIMESTAMPTZ)::DATE AS due_date,
           m.payload->>'state' AS state,
           (m.payload->>'closed_at')::TIMESTAMPTZ AS closed_at
    FROM raw.github_milestones m
    JOIN core.projects p ON p.site = m.site AND p.project_key = m.repo
),
counts AS (
    SELECT milestone_id,
           count(*) AS items,
           count(*) FILTER (WHERE status_category = 'done') AS done_items,
           count(*) FILTER (WHERE status_category <> 'done') AS open_items,
           min(created_at) AS first_item_created_at
    FROM core.work_items WHERE milestone_id IS NOT NULL AND item_type <> 'epic'
    GROUP BY milestone_id
)
SELECT m.*, coalesce(c.items, 0) AS items, coalesce(c.done_items, 0) AS done_items,
       coalesce(c.open_items, 0) AS open_items, c.first_item_created_at
FROM (SELECT * FROM jira UNION ALL SELECT * FROM github) m
LEFT JOIN counts c USING (milestone_id);

COMMENT ON TABLE core.milestones IS 'One row per Jira version or GitHub milestone of a configured project. Neither API keeps a history of due dates.';
COMMENT ON COLUMN core.milestones.milestone_id IS 'jira:<site>:version:<id> or github:<site>:<owner/name>:milestone:<number>.';
COMMENT ON COLUMN core.milestones.program_id IS 'Program of the milestone''s project.';
COMMENT ON COLUMN core.milestones.project_key IS 'Jira project key or GitHub owner/name.';
COMMENT ON COLUMN core.milestones.site IS 'Tracker site name from program.yaml.';
COMMENT ON COLUMN core.milestones.source IS 'jira or github.';
COMMENT ON COLUMN core.milestones.milestone_type IS 'version (Jira fixVersion) or milestone (GitHub).';
COMMENT ON COLUMN core.milestones.name IS 'Version name or milestone title (tracker text).';
COMMENT ON COLUMN core.milestones.start_date IS 'Jira version startDate; null for GitHub milestones, which have none.';
COMMENT ON COLUMN core.milestones.due_date IS 'Jira releaseDate or GitHub due_on (as a UTC date); null when not set.';
COMMENT ON COLUMN core.milestones.state IS 'Jira: open, released or archived. GitHub: open or closed.';
COMMENT ON COLUMN core.milestones.closed_at IS 'GitHub closed_at; null for Jira versions (the API gives only releaseDate).';
COMMENT ON COLUMN core.milestones.items IS 'Work items (epics excluded) whose milestone this is.';
COMMENT ON COLUMN core.milestones.done_items IS 'Of items, those whose status category is done.';
COMMENT ON COLUMN core.milestones.open_items IS 'Of items, those not done.';
COMMENT ON COLUMN core.milestones.first_item_created_at IS 'Creation of the earliest item in the milestone: its start when the tracker gives none.';
