-- Incremental sync: one cursor per source and project, moved only after the data it covers is
-- committed; and the Jira histories that did not fit in a search result's embedded changelog.

CREATE TABLE meta.sync_cursors (
    site          VARCHAR NOT NULL,
    project_key   VARCHAR NOT NULL,
    source        VARCHAR NOT NULL,
    cursor_at     TIMESTAMPTZ,
    last_full_at  TIMESTAMPTZ,
    updated_at    TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (site, project_key)
);
COMMENT ON TABLE meta.sync_cursors IS 'Where the next incremental sync of each project starts. Written in the same transaction as the last page it covers.';
COMMENT ON COLUMN meta.sync_cursors.site IS 'Site name from program.yaml.';
COMMENT ON COLUMN meta.sync_cursors.project_key IS 'Jira project key or GitHub owner/name.';
COMMENT ON COLUMN meta.sync_cursors.source IS 'jira or github.';
COMMENT ON COLUMN meta.sync_cursors.cursor_at IS 'Greatest updated time seen and committed, capped at the sync start minus the search-index lag; the next sync asks for updated >= cursor_at minus the overlap window.';
COMMENT ON COLUMN meta.sync_cursors.last_full_at IS 'When the project last had a full sync (first sync, or pulse sync --full).';
COMMENT ON COLUMN meta.sync_cursors.updated_at IS 'When this row was written (UTC).';

CREATE TABLE meta.http_etags (
    site       VARCHAR NOT NULL,
    request    VARCHAR NOT NULL,
    etag       VARCHAR NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (site, request)
);
COMMENT ON TABLE meta.http_etags IS 'GitHub ETags of the last answer to each request the sync repeats (repository, first issues page, milestones): sent back as If-None-Match, a 304 means unchanged and costs no rate limit.';
COMMENT ON COLUMN meta.http_etags.site IS 'Site name from program.yaml.';
COMMENT ON COLUMN meta.http_etags.request IS 'Path and sorted query of the request, e.g. /repos/acme/web/milestones?per_page=100&state=all.';
COMMENT ON COLUMN meta.http_etags.etag IS 'The ETag header of the answer.';
COMMENT ON COLUMN meta.http_etags.updated_at IS 'When this row was written (UTC).';

CREATE TABLE raw.jira_changelogs (
    site       VARCHAR NOT NULL,
    issue_id   VARCHAR NOT NULL,
    history_id VARCHAR NOT NULL,
    payload    JSON NOT NULL,
    synced_at  TIMESTAMPTZ NOT NULL,
    sync_id    VARCHAR NOT NULL,
    PRIMARY KEY (site, issue_id, history_id)
);
COMMENT ON TABLE raw.jira_changelogs IS 'Complete changelogs of Jira issues whose search result embedded only part of theirs (changelog.total > histories): one row per history from GET /rest/api/3/issue/{key}/changelog.';
COMMENT ON COLUMN raw.jira_changelogs.site IS 'Site name from program.yaml.';
COMMENT ON COLUMN raw.jira_changelogs.issue_id IS 'Jira numeric issue id (raw.jira_issues.issue_id).';
COMMENT ON COLUMN raw.jira_changelogs.history_id IS 'Changelog history id.';
COMMENT ON COLUMN raw.jira_changelogs.payload IS 'The history object unaltered: id, author, created, items.';
COMMENT ON COLUMN raw.jira_changelogs.synced_at IS 'When this row was written (UTC).';
COMMENT ON COLUMN raw.jira_changelogs.sync_id IS 'The sync that last wrote this row.';

ALTER TABLE meta.source_syncs ADD COLUMN mode VARCHAR;
COMMENT ON COLUMN meta.source_syncs.mode IS 'full (first sync of the project, or pulse sync --full) or incremental (changes since the cursor).';
