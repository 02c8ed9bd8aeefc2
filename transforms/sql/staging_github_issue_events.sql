-- staging.github_issue_events: each GitHub issue event's JSON parsed once, again only when its raw
-- row was landed changed; the issues of the events parsed again, added or gone are recorded in
-- meta.item_deltas.
CREATE OR REPLACE TEMP TABLE _staging_events_changed AS
SELECT coalesce(r.site, s.site) AS site, coalesce(r.repo, s.repo) AS repo, coalesce(r.event_id, s.event_id) AS event_id,
       r.synced_at
FROM raw.github_issue_events r
FULL JOIN staging.github_issue_events s ON s.site = r.site AND s.repo = r.repo AND s.event_id = r.event_id
WHERE r.site IS NULL OR s.site IS NULL OR r.synced_at <> s.event_synced_at;

INSERT INTO meta.item_deltas  -- the issues of events changed or gone, as last parsed
SELECT DISTINCT getvariable('batch'), 'github:' || s.issue_id
FROM staging.github_issue_events s
JOIN _staging_events_changed c ON c.site = s.site AND c.repo = s.repo AND c.event_id = s.event_id
WHERE s.issue_id IS NOT NULL;

DELETE FROM staging.github_issue_events s WHERE EXISTS (
    SELECT 1 FROM _staging_events_changed c WHERE c.site = s.site AND c.repo = s.repo AND c.event_id = s.event_id);

INSERT INTO staging.github_issue_events BY NAME
WITH parsed AS (
    SELECT e.site, e.repo, e.event_id, e.synced_at AS event_synced_at, e.created_at,
           json_extract_string(e.payload, ['$.issue.id', '$.event', '$.actor.login', '$.assignee.login',
                                           '$.milestone.title', '$.label.name', '$.rename.from', '$.rename.to']) AS v
    FROM raw.github_issue_events e
    JOIN _staging_events_changed c  -- on synced_at too: see staging_jira_issues.sql
      ON c.site = e.site AND c.repo = e.repo AND c.event_id = e.event_id AND c.synced_at = e.synced_at
)
SELECT site, repo, event_id, event_synced_at, created_at, TRY_CAST(v[1] AS BIGINT) AS issue_id, v[2] AS event,
       v[3] AS actor, v[4] AS assignee, v[5] AS milestone, v[6] AS label, v[7] AS rename_from, v[8] AS rename_to
FROM parsed;

INSERT INTO meta.item_deltas  -- the issues of events new or changed, as now parsed
SELECT DISTINCT getvariable('batch'), 'github:' || s.issue_id
FROM staging.github_issue_events s
JOIN _staging_events_changed c ON c.site = s.site AND c.repo = s.repo AND c.event_id = s.event_id
WHERE s.issue_id IS NOT NULL;
