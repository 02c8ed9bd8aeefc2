-- staging.github_issues: each GitHub issue's and pull request's JSON parsed once (one
-- json_extract_string over a list of paths), again only when its raw row was landed changed; the
-- issues parsed again, added or gone are recorded in meta.item_deltas.
CREATE OR REPLACE TEMP TABLE _staging_github_changed AS
SELECT coalesce(r.site, s.site) AS site, coalesce(r.repo, s.repo) AS repo, coalesce(r.number, s.number) AS number,
       r.issue_id AS new_issue_id, s.issue_id AS old_issue_id, r.synced_at
FROM raw.github_issues r
FULL JOIN staging.github_issues s ON s.site = r.site AND s.repo = r.repo AND s.number = r.number
WHERE r.site IS NULL OR s.site IS NULL OR r.synced_at <> s.issue_synced_at;

INSERT INTO meta.item_deltas
SELECT DISTINCT getvariable('batch'), 'github:' || issue_id
FROM (SELECT new_issue_id AS issue_id FROM _staging_github_changed UNION ALL SELECT old_issue_id FROM _staging_github_changed)
WHERE issue_id IS NOT NULL;

DELETE FROM staging.github_issues s WHERE EXISTS (
    SELECT 1 FROM _staging_github_changed c WHERE c.site = s.site AND c.repo = s.repo AND c.number = s.number);

INSERT INTO staging.github_issues BY NAME
WITH parsed AS (
    SELECT g.site, g.repo, g.number, g.issue_id, g.synced_at AS issue_synced_at,
           json_extract_string(g.payload, [
               '$.title', '$.body', '$.state', '$.state_reason', '$.labels', '$.assignee.login', '$.user.login',
               '$.created_at', '$.updated_at', '$.closed_at', '$.pull_request.merged_at', '$.milestone.number',
               '$.html_url', '$.pull_request.url', '$.pull_request.html_url']) AS v
    FROM raw.github_issues g
    JOIN _staging_github_changed c  -- on synced_at too: see staging_jira_issues.sql
      ON c.site = g.site AND c.repo = g.repo AND c.number = g.number AND c.synced_at = g.synced_at
)
SELECT site, repo, number, issue_id, issue_synced_at,
       coalesce(v[14], v[15]) IS NOT NULL AS is_pull_request,
       v[1] AS title, v[2] AS body, v[3] AS state, v[4] AS state_reason,
       coalesce(json_extract_string(v[5], '$[*].name'), []) AS labels,
       v[6] AS assignee, v[7] AS author,
       v[8]::TIMESTAMPTZ AS created_at, v[9]::TIMESTAMPTZ AS updated_at, v[10]::TIMESTAMPTZ AS closed_at,
       v[11]::TIMESTAMPTZ AS merged_at, TRY_CAST(v[12] AS INTEGER) AS milestone_number, v[13] AS url
FROM parsed;
