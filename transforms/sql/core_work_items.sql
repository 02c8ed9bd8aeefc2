-- core.work_items: one row per issue from either tracker (pull requests excluded).
CREATE OR REPLACE TABLE core.work_items AS
WITH jira_roles AS (
    SELECT site, server_info->>'baseUrl' AS base_url,
           field_roles->>'story_points' AS points_field,
           field_roles->>'epic_link'    AS epic_link_field
    FROM raw.jira_sites
),
jira AS (
    SELECT
        'jira:' || i.site || ':' || i.issue_id                        AS item_id,
        p.program_id,
        i.project_key,
        i.site,
        'jira'                                                         AS source,
        i.issue_key                                                    AS key,
        i.payload->>'$.fields.summary'                                 AS title,
        lower(i.payload->>'$.fields.issuetype.name')                   AS item_type,
        i.payload->>'$.fields.status.name'                             AS status,
        CASE i.payload->>'$.fields.status.statusCategory.key'
            WHEN 'new' THEN 'todo' WHEN 'indeterminate' THEN 'in_progress' WHEN 'done' THEN 'done'
        END                                                            AS status_category,
        i.payload->>'$.fields.resolution.name'                         AS resolution,
        i.payload->>'$.fields.assignee.displayName'                    AS assignee,
        coalesce(i.payload->>'$.fields.assignee.accountId',
                 i.payload->>'$.fields.assignee.name')                 AS assignee_id,
        (i.payload->>'$.fields.created')::TIMESTAMPTZ                  AS created_at,
        (i.payload->>'$.fields.updated')::TIMESTAMPTZ                  AS updated_at,
        (i.payload->>'$.fields.resolutiondate')::TIMESTAMPTZ           AS resolved_at,
        TRY_CAST(json_extract_string(i.payload, '$.fields.' || r.points_field) AS DOUBLE)       AS story_points,
        coalesce(i.payload->>'$.fields.parent.key',
                 json_extract_string(i.payload, '$.fields.' || r.epic_link_field))              AS parent_key,
        'jira:' || i.site || ':version:' || (i.payload->>'$.fields.fixVersions[0].id') AS milestone_id,
        r.base_url || '/browse/' || i.issue_key                        AS url
    FROM raw.jira_issues i
    JOIN core.projects p ON p.site = i.site AND p.project_key = i.project_key
    LEFT JOIN jira_roles r ON r.site = i.site
),
gh_parents AS (
    SELECT other_id AS child_id, any_value(repo || '#' || number) AS parent_key
    FROM raw.github_issue_relations WHERE relation = 'sub_issue' GROUP BY other_id
),
github AS (
    SELECT
        'github:' || g.issue_id                                        AS item_id,
        p.program_id,
        g.repo                                                         AS project_key,
        g.site,
        'github'                                                       AS source,
        g.repo || '#' || g.number                                      AS key,
        g.payload->>'$.title'                                          AS title,
        labels,
        g.payload->>'$.state'                                          AS state,
        g.payload->>'$.state_reason'                                   AS resolution,
        g.payload->>'$.assignee.login'                                 AS assignee,
        g.payload->>'$.assignee.login'                                 AS assignee_id,
        (g.payload->>'$.created_at')::TIMESTAMPTZ                      AS created_at,
        (g.payload->>'$.updated_at')::TIMESTAMPTZ                      AS updated_at,
        (g.payload->>'$.closed_at')::TIMESTAMPTZ                       AS resolved_at,
        gp.parent_key,
        CASE WHEN g.payload->>'$.milestone.number' IS NOT NULL
             THEN 'github:' || g.site || ':' || g.repo || ':milestone:' || (g.payload->>'$.milestone.number')
        END                                                            AS milestone_id,
        g.payload->>'$.html_url'                                       AS url
    FROM (SELECT *, json_extract_string(payload, '$.labels[*].name') AS labels FROM raw.github_issues) g
    JOIN core.projects p ON p.site = g.site AND p.project_key = g.repo
    LEFT JOIN gh_parents gp ON gp.child_id = g.issue_id
    WHERE json_extract(g.payload, '$.pull_request') IS NULL
)
SELECT item_id, program_id, project_key, site, source, key, title, item_type, status, status_category,
       resolution, assignee, assignee_id, created_at, updated_at, resolved_at, story_points, parent_key,
       milestone_id, url
FROM jira
UNION ALL BY NAME
SELECT item_id, program_id, project_key, site, source, key, title,
       CASE WHEN list_contains(labels, 'epic') THEN 'epic' WHEN list_contains(labels, 'bug') THEN 'bug'
            WHEN list_contains(labels, 'story') THEN 'story' WHEN list_contains(labels, 'task') THEN 'task'
            ELSE 'issue' END                                           AS item_type,
       CASE WHEN state = 'closed' THEN 'closed'
            WHEN list_contains(labels, 'in review') THEN 'in review'
            WHEN list_contains(labels, 'in progress') THEN 'in progress'
            ELSE 'open' END                                            AS status,
       CASE WHEN state = 'closed' THEN 'done'
            WHEN list_contains(labels, 'in review') OR list_contains(labels, 'in progress') THEN 'in_progress'
            ELSE 'todo' END                                            AS status_category,
       resolution, assignee, assignee_id, created_at, updated_at, resolved_at,
       NULL::DOUBLE AS story_points, parent_key, milestone_id, url
FROM github;

COMMENT ON TABLE core.work_items IS 'One row per work item (Jira issue or GitHub issue; pull requests excluded), across every program.';
COMMENT ON COLUMN core.work_items.item_id IS 'Stable id: jira:<site>:<issue id> (survives moves between projects) or github:<issue id>.';
COMMENT ON COLUMN core.work_items.program_id IS 'Program the item''s project belongs to (program.yaml programs[].id).';
COMMENT ON COLUMN core.work_items.project_key IS 'Jira project key or GitHub owner/name.';
COMMENT ON COLUMN core.work_items.site IS 'Tracker site name from program.yaml.';
COMMENT ON COLUMN core.work_items.source IS 'jira or github.';
COMMENT ON COLUMN core.work_items.key IS 'Human key: PAY-12 or acme/web#34.';
COMMENT ON COLUMN core.work_items.title IS 'Summary (Jira) or title (GitHub), as written: tracker text, escape before rendering.';
COMMENT ON COLUMN core.work_items.item_type IS 'Lower-case issue type (epic, story, task, bug, ...); GitHub: from labels epic/bug/story/task, else issue.';
COMMENT ON COLUMN core.work_items.status IS 'Status name as the tracker shows it (Jira status; GitHub open, in progress, in review or closed, from state and labels).';
COMMENT ON COLUMN core.work_items.status_category IS 'todo, in_progress or done: Jira statusCategory new/indeterminate/done; GitHub closed = done, label "in progress"/"in review" = in_progress, else todo.';
COMMENT ON COLUMN core.work_items.resolution IS 'Jira resolution name, or GitHub state_reason (completed, not_planned, duplicate); null while open.';
COMMENT ON COLUMN core.work_items.assignee IS 'Assignee display name (Jira) or login (GitHub); null when unassigned.';
COMMENT ON COLUMN core.work_items.assignee_id IS 'Assignee account id (Jira Cloud), user name (Jira Server/DC) or login (GitHub).';
COMMENT ON COLUMN core.work_items.created_at IS 'When the item was created (UTC).';
COMMENT ON COLUMN core.work_items.updated_at IS 'When the item last changed (UTC).';
COMMENT ON COLUMN core.work_items.resolved_at IS 'Jira resolutiondate or GitHub closed_at (UTC); null while open.';
COMMENT ON COLUMN core.work_items.story_points IS 'Story points from the site''s story-points field (found by name, program.yaml story_points_fields); null when unestimated or on GitHub. Never read null as zero.';
COMMENT ON COLUMN core.work_items.parent_key IS 'Key of the parent: Jira parent or Epic Link; GitHub parent issue of a sub-issue.';
COMMENT ON COLUMN core.work_items.milestone_id IS 'core.milestones.milestone_id of the first Jira fixVersion or the GitHub milestone; null when none.';
COMMENT ON COLUMN core.work_items.url IS 'Link to the item in its tracker.';
