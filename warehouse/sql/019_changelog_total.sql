-- The changelog completeness check (pipelines/defs/checks.py) compared every issue's history ids
-- with its changelog.total by parsing every raw Jira payload again, each night: at 10,000 items
-- 2 s and 800 MiB, the peak of a whole `pulse sync`. The total is now parsed once with the rest
-- of the issue, and the check reads typed columns.
ALTER TABLE staging.jira_issues ADD COLUMN changelog_total INTEGER;
-- parsed again with the new column (the staging step also sees its SQL changed)
DELETE FROM staging.jira_issues;
DELETE FROM meta.transform_state;
COMMENT ON COLUMN staging.jira_issues.changelog_total IS 'changelog.total: how many histories the issue has on the site; more than len(histories) when the search result cut the changelog and the rest were paged into raw.jira_changelogs; null when the payload has no changelog.';
