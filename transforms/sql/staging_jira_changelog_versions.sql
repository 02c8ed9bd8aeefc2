-- staging.jira_changelog_versions: the version of each Jira issue's paged changelog (the histories
-- beyond those embedded in the issue, raw.jira_changelogs) as last merged into
-- core.jira_changelog_items. Issues whose paged histories were landed again, added or dropped are
-- recorded in meta.item_deltas; an issue landed again is recorded by staging.jira_issues already.
CREATE OR REPLACE TEMP TABLE _changelog_versions AS
SELECT i.site, i.issue_id, i.synced_at AS issue_synced_at, c.changelog_synced_at, coalesce(c.changelog_rows, 0) AS changelog_rows
FROM raw.jira_issues i
LEFT JOIN (SELECT site, issue_id, max(synced_at) AS changelog_synced_at, count(*) AS changelog_rows
           FROM raw.jira_changelogs GROUP BY site, issue_id) c ON c.site = i.site AND c.issue_id = i.issue_id;

CREATE OR REPLACE TEMP TABLE _changelog_changed AS
SELECT coalesce(n.site, o.site) AS site, coalesce(n.issue_id, o.issue_id) AS issue_id,
       n.changelog_synced_at IS DISTINCT FROM o.changelog_synced_at OR n.changelog_rows IS DISTINCT FROM o.changelog_rows
           AS paged_changed
FROM _changelog_versions n
FULL JOIN staging.jira_changelog_versions o ON o.site = n.site AND o.issue_id = n.issue_id
WHERE n.site IS NULL OR o.site IS NULL OR n.issue_synced_at <> o.issue_synced_at
   OR n.changelog_synced_at IS DISTINCT FROM o.changelog_synced_at OR n.changelog_rows <> o.changelog_rows;

INSERT INTO meta.item_deltas
SELECT getvariable('batch'), 'jira:' || site || ':' || issue_id FROM _changelog_changed WHERE paged_changed;

DELETE FROM staging.jira_changelog_versions o
WHERE EXISTS (SELECT 1 FROM _changelog_changed c WHERE c.site = o.site AND c.issue_id = o.issue_id);
INSERT INTO staging.jira_changelog_versions BY NAME
SELECT n.* FROM _changelog_versions n JOIN _changelog_changed c ON c.site = n.site AND c.issue_id = n.issue_id;
