-- staging: raw JSON parsed once into typed columns, maintained incrementally by transforms/sql/
-- staging_*.sql (only rows whose raw version changed are parsed again).
CREATE SCHEMA IF NOT EXISTS staging;
DROP TABLE IF EXISTS core.jira_changelog_items;  -- rebuilt incrementally from here on (transforms/sql/core_jira_changelog_items.sql)

CREATE TABLE staging.jira_issues (
    site                VARCHAR NOT NULL,
    issue_id            VARCHAR NOT NULL,
    project_key         VARCHAR NOT NULL,
    issue_key           VARCHAR NOT NULL,
    issue_synced_at     TIMESTAMPTZ NOT NULL,
    roles_hash          VARCHAR,
    project_name        VARCHAR,
    summary             VARCHAR,
    issue_type          VARCHAR,
    status              VARCHAR,
    status_category_key VARCHAR,
    resolution          VARCHAR,
    priority            VARCHAR,
    labels              VARCHAR[],
    components          VARCHAR[],
    assignee            VARCHAR,
    assignee_id         VARCHAR,
    reporter            VARCHAR,
    reporter_id         VARCHAR,
    created_at          TIMESTAMPTZ,
    updated_at          TIMESTAMPTZ,
    resolved_at         TIMESTAMPTZ,
    due_date            DATE,
    story_points        DOUBLE,
    parent_key          VARCHAR,
    epic_link           VARCHAR,
    first_fix_version_id VARCHAR,
    fix_versions        VARCHAR[],
    sprints             JSON[],
    issuelinks          JSON[],
    description_text    VARCHAR
);
COMMENT ON TABLE staging.jira_issues IS 'One row per raw.jira_issues row, its JSON parsed once into typed columns (transforms/sql/staging_jira_issues.sql). Rebuilt incrementally: a row is parsed again only when its raw row was landed again (issue_synced_at) or its site''s custom field roles changed. Read by the core tables instead of the raw JSON.';
COMMENT ON COLUMN staging.jira_issues.site IS 'Jira site name from program.yaml.';
COMMENT ON COLUMN staging.jira_issues.issue_id IS 'Jira numeric issue id.';
COMMENT ON COLUMN staging.jira_issues.project_key IS 'Project the issue is in (raw.jira_issues.project_key).';
COMMENT ON COLUMN staging.jira_issues.issue_key IS 'Issue key, e.g. PAY-12.';
COMMENT ON COLUMN staging.jira_issues.issue_synced_at IS 'raw.jira_issues.synced_at of the row parsed: the version this row reflects.';
COMMENT ON COLUMN staging.jira_issues.roles_hash IS 'md5 of the site''s raw.jira_sites.field_roles when parsed: story points, epic link and sprint are read from the fields these name.';
COMMENT ON COLUMN staging.jira_issues.project_name IS 'fields.project.name.';
COMMENT ON COLUMN staging.jira_issues.summary IS 'fields.summary (tracker text).';
COMMENT ON COLUMN staging.jira_issues.issue_type IS 'fields.issuetype.name.';
COMMENT ON COLUMN staging.jira_issues.status IS 'fields.status.name.';
COMMENT ON COLUMN staging.jira_issues.status_category_key IS 'fields.status.statusCategory.key: new, indeterminate or done.';
COMMENT ON COLUMN staging.jira_issues.resolution IS 'fields.resolution.name.';
COMMENT ON COLUMN staging.jira_issues.priority IS 'fields.priority.name.';
COMMENT ON COLUMN staging.jira_issues.labels IS 'fields.labels.';
COMMENT ON COLUMN staging.jira_issues.components IS 'fields.components[*].name.';
COMMENT ON COLUMN staging.jira_issues.assignee IS 'fields.assignee.displayName.';
COMMENT ON COLUMN staging.jira_issues.assignee_id IS 'fields.assignee.accountId (Cloud) or .name (Server/DC).';
COMMENT ON COLUMN staging.jira_issues.reporter IS 'fields.reporter.displayName.';
COMMENT ON COLUMN staging.jira_issues.reporter_id IS 'fields.reporter.accountId (Cloud) or .name (Server/DC).';
COMMENT ON COLUMN staging.jira_issues.created_at IS 'fields.created (UTC).';
COMMENT ON COLUMN staging.jira_issues.updated_at IS 'fields.updated (UTC).';
COMMENT ON COLUMN staging.jira_issues.resolved_at IS 'fields.resolutiondate (UTC).';
COMMENT ON COLUMN staging.jira_issues.due_date IS 'fields.duedate.';
COMMENT ON COLUMN staging.jira_issues.story_points IS 'The value of the site''s story-points field (raw.jira_sites.field_roles story_points).';
COMMENT ON COLUMN staging.jira_issues.parent_key IS 'fields.parent.key.';
COMMENT ON COLUMN staging.jira_issues.epic_link IS 'The value of the site''s Epic Link field (field_roles epic_link): an epic key.';
COMMENT ON COLUMN staging.jira_issues.first_fix_version_id IS 'fields.fixVersions[0].id.';
COMMENT ON COLUMN staging.jira_issues.fix_versions IS 'fields.fixVersions[*].name, in the tracker''s order.';
COMMENT ON COLUMN staging.jira_issues.sprints IS 'The site''s Sprint field (field_roles sprint): one JSON value per sprint, an object (Cloud) or a GreenHopper string (Server/DC).';
COMMENT ON COLUMN staging.jira_issues.issuelinks IS 'fields.issuelinks: one JSON object per link.';
COMMENT ON COLUMN staging.jira_issues.description_text IS 'fields.description as text: wiki text (Server/DC), or the text and smart-link urls of Atlassian Document Format in order (Cloud).';

CREATE TABLE staging.jira_changelog_versions (
    site                VARCHAR NOT NULL,
    issue_id            VARCHAR NOT NULL,
    issue_synced_at     TIMESTAMPTZ NOT NULL,
    changelog_synced_at TIMESTAMPTZ,
    changelog_rows      BIGINT NOT NULL
);
COMMENT ON TABLE staging.jira_changelog_versions IS 'Which version of each issue''s histories core.jira_changelog_items holds: the issue row''s synced_at and its paged histories'' latest synced_at and count. An issue whose raw version differs is parsed again; the rest never are.';
COMMENT ON COLUMN staging.jira_changelog_versions.site IS 'Jira site name from program.yaml.';
COMMENT ON COLUMN staging.jira_changelog_versions.issue_id IS 'Jira numeric issue id.';
COMMENT ON COLUMN staging.jira_changelog_versions.issue_synced_at IS 'raw.jira_issues.synced_at of the issue whose embedded histories were parsed.';
COMMENT ON COLUMN staging.jira_changelog_versions.changelog_synced_at IS 'Latest raw.jira_changelogs.synced_at among its paged histories; null when none.';
COMMENT ON COLUMN staging.jira_changelog_versions.changelog_rows IS 'Paged histories (raw.jira_changelogs rows) it had.';
