-- core.pull_requests: GitHub pull requests, kept apart from work items, each with the issues it
-- closes by GitHub's closing keywords ("closes #12", "fixes owner/repo#3", "resolves <issue URL>").
CREATE OR REPLACE TABLE core.pull_requests AS
WITH prs AS (
    SELECT g.*, p.program_id
    FROM staging.github_issues g
    JOIN core.projects p ON p.site = g.site AND p.project_key = g.repo
    WHERE g.is_pull_request
),
mentions AS (  -- GitHub's closing keywords, then one reference: #n, owner/repo#n or an issue URL
    SELECT site, repo, number, unnest(regexp_extract_all(
        coalesce(title, '') || chr(10) || coalesce(body, ''),
        '(?i)\b(?:close[sd]?|fix(?:e[sd])?|resolve[sd]?)\s*:?\s+((?:https://github\.com/[\w.-]+/[\w.-]+/issues/\d+)|(?:[\w.-]+/[\w.-]+)?#\d+)',
        1)) AS ref
    FROM prs
),
closes AS (
    SELECT m.site, m.repo, m.number,
           CASE WHEN m.ref LIKE 'https://%'
                THEN regexp_extract(m.ref, 'github\.com/([\w.-]+/[\w.-]+)/issues/(\d+)', 1) || '#'
                     || regexp_extract(m.ref, '/issues/(\d+)$', 1)
                WHEN m.ref LIKE '#%' THEN m.repo || m.ref
                ELSE m.ref END AS closes_key
    FROM mentions m
),
resolved AS (
    SELECT c.site, c.repo, c.number,
           list(DISTINCT w.key ORDER BY w.key) AS closes_keys,
           list(DISTINCT w.item_id ORDER BY w.item_id) AS closes_item_ids
    FROM closes c JOIN core.work_items w ON w.source = 'github' AND w.key = c.closes_key
    GROUP BY ALL
)
SELECT 'github:' || p.issue_id AS pull_request_id, p.program_id, p.repo AS project_key, p.site,
       p.repo || '#' || p.number AS key,
       p.title,
       p.state,
       p.created_at,
       p.closed_at,
       p.merged_at,
       p.author,
       coalesce(r.closes_keys, []) AS closes_keys,
       coalesce(r.closes_item_ids, []) AS closes_item_ids,
       p.url
FROM prs p
LEFT JOIN resolved r ON r.site = p.site AND r.repo = p.repo AND r.number = p.number;

COMMENT ON TABLE core.pull_requests IS 'One row per GitHub pull request of a configured repo (the issues API lists them with issues; core.work_items leaves them out), with the issues it closes.';
COMMENT ON COLUMN core.pull_requests.pull_request_id IS 'github:<issue id> of the pull request.';
COMMENT ON COLUMN core.pull_requests.program_id IS 'Program of the repository.';
COMMENT ON COLUMN core.pull_requests.project_key IS 'owner/name of the repository.';
COMMENT ON COLUMN core.pull_requests.site IS 'GitHub site name from program.yaml.';
COMMENT ON COLUMN core.pull_requests.key IS 'owner/name#number.';
COMMENT ON COLUMN core.pull_requests.title IS 'Title as written (tracker text).';
COMMENT ON COLUMN core.pull_requests.state IS 'open or closed.';
COMMENT ON COLUMN core.pull_requests.created_at IS 'When it was opened (UTC).';
COMMENT ON COLUMN core.pull_requests.closed_at IS 'When it was closed or merged (UTC); null while open.';
COMMENT ON COLUMN core.pull_requests.merged_at IS 'When it was merged (UTC); null when not merged.';
COMMENT ON COLUMN core.pull_requests.author IS 'Login of its author.';
COMMENT ON COLUMN core.pull_requests.closes_keys IS 'Keys of synced issues its title or body closes with a GitHub closing keyword (close, fix, resolve and their forms) followed by #n, owner/repo#n or an issue URL.';
COMMENT ON COLUMN core.pull_requests.closes_item_ids IS 'core.work_items.item_id of those issues.';
COMMENT ON COLUMN core.pull_requests.url IS 'Link to the pull request.';
