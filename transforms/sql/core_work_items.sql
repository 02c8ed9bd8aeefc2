-- core.work_items: one row per issue from either tracker (pull requests excluded). Item-scoped: a
-- night merges the items whose staging rows changed (meta.item_deltas) and those [stale] finds: a
-- GitHub sub-issue whose parent changed, a Jira issue whose current sprint changed (both are
-- facts of other rows: the parent's relations, the sprint's state as another issue shows it).
-- [stale]
CREATE OR REPLACE TEMP VIEW _stale AS
SELECT w.item_id
FROM core.work_items w
LEFT JOIN (SELECT other_id AS child_id, any_value(repo || '#' || number) AS parent_key
           FROM raw.github_issue_relations WHERE relation = 'sub_issue' GROUP BY other_id) gp
  ON w.item_id = 'github:' || gp.child_id
WHERE w.source = 'github' AND w.parent_key IS DISTINCT FROM gp.parent_key
UNION ALL
SELECT w.item_id
FROM core.work_items w
LEFT JOIN core.work_item_sprints s ON s.item_id = w.item_id AND s.is_current
WHERE w.source = 'jira' AND w.sprint_id IS DISTINCT FROM s.sprint_id;

-- [rows]
CREATE OR REPLACE TEMP VIEW _rows AS
WITH jira_sites AS (
    SELECT site, server_info->>'baseUrl' AS base_url FROM raw.jira_sites
),
jira AS (  -- typed columns parsed once per landed version (staging.jira_issues)
    SELECT
        'jira:' || i.site || ':' || i.issue_id                        AS item_id,
        p.program_id,
        i.project_key,
        i.site,
        'jira'                                                         AS source,
        i.issue_key                                                    AS key,
        i.summary                                                      AS title,
        lower(i.issue_type)                                            AS item_type,
        i.status,
        CASE i.status_category_key
            WHEN 'new' THEN 'todo' WHEN 'indeterminate' THEN 'in_progress' WHEN 'done' THEN 'done'
        END                                                            AS status_category,
        i.resolution,
        lower(i.priority)                                              AS priority,
        i.labels,
        i.components,
        i.assignee,
        i.assignee_id,
        i.reporter,
        i.reporter_id,
        i.created_at,
        i.updated_at,
        i.resolved_at,
        i.due_date,
        i.story_points,
        i.flagged,
        coalesce(i.parent_key, i.epic_link)                            AS parent_key,
        'jira:' || i.site || ':version:' || i.first_fix_version_id    AS milestone_id,
        i.fix_versions,
        s.sprint_id,
        r.base_url || '/browse/' || i.issue_key                        AS url
    FROM staging.jira_issues i
    JOIN core.projects p ON p.site = i.site AND p.project_key = i.project_key
    LEFT JOIN jira_sites r ON r.site = i.site
    LEFT JOIN core.work_item_sprints s ON s.item_id = 'jira:' || i.site || ':' || i.issue_id AND s.is_current
    WHERE in_scope('jira:' || i.site || ':' || i.issue_id)
),
gh_parents AS (
    SELECT other_id AS child_id, any_value(repo || '#' || number) AS parent_key
    FROM raw.github_issue_relations WHERE relation = 'sub_issue' GROUP BY other_id
),
gh_labels AS (  -- what each GitHub label means under its site's rules (meta.label_rules)
    SELECT g.site, g.issue_id, r.rule, r.value, r.precedence
    FROM (SELECT site, issue_id, unnest(labels) AS label FROM staging.github_issues
          WHERE in_scope('github:' || issue_id)) g
    JOIN meta.label_rules r ON r.site = g.site AND r.label = lower(g.label)
),
gh_meaning AS (
    SELECT site, issue_id,
           arg_min(value, precedence) FILTER (WHERE rule = 'type')     AS item_type,
           arg_min(value, precedence) FILTER (WHERE rule = 'priority') AS priority,
           bool_or(rule = 'risk')                                      AS at_risk,
           arg_min(value, precedence) FILTER (WHERE rule = 'status')   AS label_status
    FROM gh_labels GROUP BY site, issue_id
),
github AS (  -- typed columns parsed once per landed version (staging.github_issues)
    SELECT
        'github:' || g.issue_id                                        AS item_id,
        p.program_id,
        g.repo                                                         AS project_key,
        g.site,
        'github'                                                       AS source,
        g.repo || '#' || g.number                                      AS key,
        g.title,
        g.labels,
        coalesce(m.item_type, 'issue')                                 AS item_type,
        CASE WHEN g.state = 'closed' THEN 'closed'
             ELSE coalesce(m.label_status, 'open') END                 AS status,
        CASE WHEN g.state = 'closed' THEN 'done'
             WHEN m.label_status IS NOT NULL THEN 'in_progress' ELSE 'todo' END AS status_category,
        m.priority,
        coalesce(m.at_risk, false)                                     AS at_risk,
        g.state_reason                                                 AS resolution,
        g.assignee,
        g.assignee                                                     AS assignee_id,
        g.author                                                       AS reporter,
        g.author                                                       AS reporter_id,
        g.created_at,
        g.updated_at,
        g.closed_at                                                    AS resolved_at,
        gp.parent_key,
        CASE WHEN g.milestone_number IS NOT NULL
             THEN 'github:' || g.site || ':' || g.repo || ':milestone:' || g.milestone_number
        END                                                            AS milestone_id,
        g.url
    FROM staging.github_issues g
    JOIN core.projects p ON p.site = g.site AND p.project_key = g.repo
    LEFT JOIN gh_parents gp ON gp.child_id = g.issue_id
    LEFT JOIN gh_meaning m ON m.site = g.site AND m.issue_id = g.issue_id
    WHERE NOT g.is_pull_request AND in_scope('github:' || g.issue_id)
)
SELECT item_id, program_id, project_key, site, source, key, title, item_type, status, status_category,
       resolution, priority, labels, components, NULL::BOOLEAN AS at_risk, assignee, assignee_id, reporter,
       reporter_id, created_at, updated_at, resolved_at, due_date, story_points, flagged, parent_key, milestone_id,
       fix_versions, sprint_id, url
FROM jira
UNION ALL BY NAME
SELECT item_id, program_id, project_key, site, source, key, title, item_type, status, status_category,
       resolution, priority, labels, NULL::VARCHAR[] AS components, at_risk, assignee, assignee_id, reporter,
       reporter_id, created_at, updated_at, resolved_at, NULL::DATE AS due_date, NULL::DOUBLE AS story_points,
       NULL::BOOLEAN AS flagged, parent_key, milestone_id, NULL::VARCHAR[] AS fix_versions, NULL::VARCHAR AS sprint_id, url
FROM github;

-- [comments]
COMMENT ON TABLE core.work_items IS 'One row per work item (Jira issue or GitHub issue; pull requests excluded), across every program.';
COMMENT ON COLUMN core.work_items.item_id IS 'Stable id: jira:<site>:<issue id> (survives moves between projects) or github:<issue id>.';
COMMENT ON COLUMN core.work_items.program_id IS 'Program the item''s project belongs to (program.yaml programs[].id).';
COMMENT ON COLUMN core.work_items.project_key IS 'Jira project key or GitHub owner/name.';
COMMENT ON COLUMN core.work_items.site IS 'Tracker site name from program.yaml.';
COMMENT ON COLUMN core.work_items.source IS 'jira or github.';
COMMENT ON COLUMN core.work_items.key IS 'Human key: PAY-12 or acme/web#34.';
COMMENT ON COLUMN core.work_items.title IS 'Summary (Jira) or title (GitHub), as written: tracker text, escape before rendering.';
COMMENT ON COLUMN core.work_items.item_type IS 'Lower-case issue type (epic, story, task, bug, ...); GitHub: from labels by the site''s type rules (meta.label_rules), else issue.';
COMMENT ON COLUMN core.work_items.status IS 'Status name as the tracker shows it (Jira status; GitHub open, in progress, in review or closed, from state and the site''s status label rules).';
COMMENT ON COLUMN core.work_items.status_category IS 'todo, in_progress or done: Jira statusCategory new/indeterminate/done; GitHub closed = done, a label the rules read as in progress or in review = in_progress, else todo.';
COMMENT ON COLUMN core.work_items.priority IS 'Lower-case priority: the Jira priority name, or on GitHub the priority a label maps to (meta.label_rules); null when none.';
COMMENT ON COLUMN core.work_items.labels IS 'Label names as the tracker writes them (tracker text).';
COMMENT ON COLUMN core.work_items.components IS 'Jira component names (tracker text); empty when the issue has none. Null for GitHub, which has no components.';
COMMENT ON COLUMN core.work_items.at_risk IS 'GitHub: a label the site''s risk rule names (e.g. risk, at risk). Null for Jira, which has no such convention.';
COMMENT ON COLUMN core.work_items.resolution IS 'Jira resolution name, or GitHub state_reason (completed, not_planned, duplicate); null while open.';
COMMENT ON COLUMN core.work_items.assignee IS 'Assignee display name (Jira) or login (GitHub); null when unassigned.';
COMMENT ON COLUMN core.work_items.assignee_id IS 'Assignee account id (Jira Cloud), user name (Jira Server/DC) or login (GitHub).';
COMMENT ON COLUMN core.work_items.reporter IS 'Who reported the item: Jira reporter display name, or the login of the GitHub user who opened the issue; null when Jira has no reporter.';
COMMENT ON COLUMN core.work_items.reporter_id IS 'Reporter account id (Jira Cloud), user name (Jira Server/DC) or login (GitHub): display names are not unique.';
COMMENT ON COLUMN core.work_items.created_at IS 'When the item was created (UTC).';
COMMENT ON COLUMN core.work_items.updated_at IS 'When the item last changed (UTC).';
COMMENT ON COLUMN core.work_items.resolved_at IS 'Jira resolutiondate or GitHub closed_at (UTC); null while open.';
COMMENT ON COLUMN core.work_items.due_date IS 'Jira due date of the issue itself (a calendar date, no time zone); null when not set and on GitHub, where only milestones have due dates (core.milestones.due_date).';
COMMENT ON COLUMN core.work_items.story_points IS 'Story points from the site''s story-points field (found by name, program.yaml story_points_fields); null when unestimated, when the value is not a finite number below 1e9 in magnitude (no estimate: the point sums are exact to 6 decimals below that), or on GitHub. Never read null as zero.';
COMMENT ON COLUMN core.work_items.flagged IS 'Jira Software''s Flagged field holds a value (Impediment): the team marked the item as impeded. False when not; null on GitHub and on Jira sites without a Flagged field. Its history: core.item_history field flagged.';
COMMENT ON COLUMN core.work_items.parent_key IS 'Key of the parent: Jira parent or Epic Link; GitHub parent issue of a sub-issue.';
COMMENT ON COLUMN core.work_items.milestone_id IS 'core.milestones.milestone_id of the first Jira fixVersion or the GitHub milestone; null when none.';
COMMENT ON COLUMN core.work_items.fix_versions IS 'Names of every Jira fixVersion of the issue, in the tracker''s order (milestone_id is the first); empty when none. Null for GitHub: an issue has one milestone (milestone_id).';
COMMENT ON COLUMN core.work_items.sprint_id IS 'core.sprints.sprint_id of the item''s current sprint: the open (active or future) sprint it is in. Null when it is in none (backlog, or only closed sprints) and on GitHub. Every sprint it has been in: core.work_item_sprints.';
COMMENT ON COLUMN core.work_items.url IS 'Link to the item in its tracker.';
