-- core.dependencies: "blocker blocks blocked" pairs from Jira issue links and GitHub "blocked by"
-- dependencies. A Jira link appears on both issues (outward on one, inward on the other): one row.
CREATE OR REPLACE TABLE core.dependencies AS
WITH jira_links AS (
    SELECT site, issue_id, issue_key, unnest(json_extract(payload, '$.fields.issuelinks[*]')) AS link
    FROM raw.jira_issues
),
jira_pairs AS (
    SELECT DISTINCT
        'jira:' || site || ':' || CASE WHEN json_extract(link, '$.outwardIssue') IS NOT NULL THEN issue_id ELSE link->>'$.inwardIssue.id' END AS blocker_item_id,
        'jira:' || site || ':' || CASE WHEN json_extract(link, '$.outwardIssue') IS NOT NULL THEN link->>'$.outwardIssue.id' ELSE issue_id END AS blocked_item_id,
        CASE WHEN json_extract(link, '$.outwardIssue') IS NOT NULL THEN issue_key ELSE link->>'$.inwardIssue.key' END AS blocker_key,
        CASE WHEN json_extract(link, '$.outwardIssue') IS NOT NULL THEN link->>'$.outwardIssue.key' ELSE issue_key END AS blocked_key,
        'jira' AS source,
        link->>'$.type.name' AS link_type
    FROM jira_links
    WHERE lower(link->>'$.type.outward') = 'blocks'
),
github_pairs AS (
    SELECT DISTINCT
        'github:' || r.other_id AS blocker_item_id,
        'github:' || g.issue_id AS blocked_item_id,
        regexp_extract(r.payload->>'$.repository_url', '/repos/(.+)$', 1) || '#' || (r.payload->>'$.number') AS blocker_key,
        r.repo || '#' || r.number AS blocked_key,
        'github' AS source,
        'blocked_by' AS link_type
    FROM raw.github_issue_relations r
    JOIN raw.github_issues g ON g.site = r.site AND g.repo = r.repo AND g.number = r.number
    WHERE r.relation = 'blocked_by'
),
pairs AS (SELECT * FROM jira_pairs UNION ALL SELECT * FROM github_pairs)
SELECT p.blocker_item_id, p.blocked_item_id, p.blocker_key, p.blocked_key, p.source, p.link_type,
       coalesce(a.project_key, split_part(p.blocker_key, '-', 1)) AS blocker_project_key,
       coalesce(b.project_key, split_part(p.blocked_key, '-', 1)) AS blocked_project_key,
       a.project_key IS DISTINCT FROM b.project_key AS cross_project,
       a.program_id IS DISTINCT FROM b.program_id AS cross_program,
       a.status_category AS blocker_status_category,
       b.status_category AS blocked_status_category,
       coalesce(a.status_category, '') <> 'done' AND coalesce(b.status_category, '') <> 'done' AS is_open,
       a.item_id IS NOT NULL AND b.item_id IS NOT NULL AS both_synced
FROM pairs p
LEFT JOIN core.work_items a ON a.item_id = p.blocker_item_id
LEFT JOIN core.work_items b ON b.item_id = p.blocked_item_id;

COMMENT ON TABLE core.dependencies IS 'One row per "blocks" dependency between two work items: Jira issue links whose outward name is "blocks", and GitHub "blocked by" dependencies.';
COMMENT ON COLUMN core.dependencies.blocker_item_id IS 'The item that blocks (core.work_items.item_id; may be outside the synced projects).';
COMMENT ON COLUMN core.dependencies.blocked_item_id IS 'The item that is blocked (core.work_items.item_id).';
COMMENT ON COLUMN core.dependencies.blocker_key IS 'Key of the blocker, e.g. ID-7.';
COMMENT ON COLUMN core.dependencies.blocked_key IS 'Key of the blocked item, e.g. CART-13.';
COMMENT ON COLUMN core.dependencies.source IS 'jira (issue link) or github (dependencies API).';
COMMENT ON COLUMN core.dependencies.link_type IS 'Jira link type name (e.g. Blocks) or blocked_by for GitHub.';
COMMENT ON COLUMN core.dependencies.blocker_project_key IS 'Project of the blocker.';
COMMENT ON COLUMN core.dependencies.blocked_project_key IS 'Project of the blocked item.';
COMMENT ON COLUMN core.dependencies.cross_project IS 'True when blocker and blocked item are in different projects (or the blocker is not synced).';
COMMENT ON COLUMN core.dependencies.cross_program IS 'True when blocker and blocked item belong to different programs (or the blocker is not synced).';
COMMENT ON COLUMN core.dependencies.blocker_status_category IS 'todo, in_progress or done of the blocker; null when it is not synced.';
COMMENT ON COLUMN core.dependencies.blocked_status_category IS 'todo, in_progress or done of the blocked item.';
COMMENT ON COLUMN core.dependencies.is_open IS 'True while neither end is done: the dependency still holds work back.';
COMMENT ON COLUMN core.dependencies.both_synced IS 'True when both ends are work items of the configured programs.';
