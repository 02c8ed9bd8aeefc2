-- Jira remote links: how the GitHub for Jira app (and people) tie a Jira issue to a GitHub issue.
-- Jira has no bulk form for them, so they are read per issue, only on sites that ask for it.

CREATE TABLE raw.jira_remote_links (
    site      VARCHAR NOT NULL,
    issue_id  VARCHAR NOT NULL,
    remote_id VARCHAR NOT NULL,
    payload   JSON NOT NULL,
    synced_at TIMESTAMPTZ NOT NULL,
    sync_id   VARCHAR NOT NULL,
    PRIMARY KEY (site, issue_id, remote_id)
);
COMMENT ON TABLE raw.jira_remote_links IS 'Remote links of Jira issues (GET /rest/api/{2,3}/issue/{id}/remotelink), on sites whose program.yaml sets remote_links: true: read for every issue on a full sync, then for issues whose updated moved. An issue''s rows are replaced whole when it is read again.';
COMMENT ON COLUMN raw.jira_remote_links.site IS 'Site name from program.yaml.';
COMMENT ON COLUMN raw.jira_remote_links.issue_id IS 'Jira numeric issue id that holds the link (raw.jira_issues.issue_id).';
COMMENT ON COLUMN raw.jira_remote_links.remote_id IS 'The remote link''s id.';
COMMENT ON COLUMN raw.jira_remote_links.payload IS 'The remote link object unaltered: globalId, application, relationship (e.g. is blocked by), object.url, object.title, object.status.resolved.';
COMMENT ON COLUMN raw.jira_remote_links.synced_at IS 'When this row was written (UTC).';
COMMENT ON COLUMN raw.jira_remote_links.sync_id IS 'The sync that last wrote this row.';
