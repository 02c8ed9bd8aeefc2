-- Raw API objects exactly as the trackers returned them, one row per object, merged by primary key.
-- `sync_id` is the sync that last wrote the row; a full sync deletes the rows it did not see
-- (deleted or moved issues).

CREATE SCHEMA IF NOT EXISTS raw;
CREATE SCHEMA IF NOT EXISTS meta;
CREATE SCHEMA IF NOT EXISTS core;
CREATE SCHEMA IF NOT EXISTS marts;

CREATE TABLE raw.jira_sites (
    site        VARCHAR PRIMARY KEY,
    base_url    VARCHAR NOT NULL,
    server_info JSON NOT NULL,
    myself      JSON NOT NULL,
    fields      JSON NOT NULL,
    statuses    JSON NOT NULL,
    link_types  JSON NOT NULL,
    field_roles JSON NOT NULL,
    synced_at   TIMESTAMPTZ NOT NULL,
    sync_id     VARCHAR NOT NULL
);
COMMENT ON TABLE raw.jira_sites IS 'One row per Jira site: what the site says about itself (serverInfo, myself, /field, /status, /issueLinkType), as returned.';
COMMENT ON COLUMN raw.jira_sites.site IS 'Site name from program.yaml (sites: key).';
COMMENT ON COLUMN raw.jira_sites.base_url IS 'Base URL the site was read from (no credentials).';
COMMENT ON COLUMN raw.jira_sites.server_info IS 'GET /rest/api/N/serverInfo: deploymentType (Cloud, Server, DataCenter) and version.';
COMMENT ON COLUMN raw.jira_sites.myself IS 'GET /rest/api/N/myself: the API user; timeZone is the zone JQL dates are read in.';
COMMENT ON COLUMN raw.jira_sites.fields IS 'GET /rest/api/N/field: every system and custom field with its id and schema.';
COMMENT ON COLUMN raw.jira_sites.statuses IS 'GET /rest/api/N/status: statuses with their statusCategory (new, indeterminate, done).';
COMMENT ON COLUMN raw.jira_sites.link_types IS 'GET /rest/api/N/issueLinkType: link types with their inward and outward names.';
COMMENT ON COLUMN raw.jira_sites.field_roles IS 'Custom field ids found by name or schema: {"story_points": ..., "sprint": ..., "epic_link": ...}.';
COMMENT ON COLUMN raw.jira_sites.synced_at IS 'When this row was written (UTC).';
COMMENT ON COLUMN raw.jira_sites.sync_id IS 'The sync (meta.sync_runs.sync_id) that wrote this row.';

CREATE TABLE raw.jira_issues (
    site        VARCHAR NOT NULL,
    project_key VARCHAR NOT NULL,
    issue_id    VARCHAR NOT NULL,
    issue_key   VARCHAR NOT NULL,
    updated_at  TIMESTAMPTZ,
    payload     JSON NOT NULL,
    synced_at   TIMESTAMPTZ NOT NULL,
    sync_id     VARCHAR NOT NULL,
    PRIMARY KEY (site, issue_id)
);
COMMENT ON TABLE raw.jira_issues IS 'One row per Jira issue as search returned it (expand=changelog), merged by (site, issue_id).';
COMMENT ON COLUMN raw.jira_issues.site IS 'Site name from program.yaml.';
COMMENT ON COLUMN raw.jira_issues.project_key IS 'Project key the issue was synced under (program.yaml).';
COMMENT ON COLUMN raw.jira_issues.issue_id IS 'Jira numeric issue id: stable when an issue moves to another project and gets a new key.';
COMMENT ON COLUMN raw.jira_issues.issue_key IS 'Issue key at sync time, e.g. PAY-12.';
COMMENT ON COLUMN raw.jira_issues.updated_at IS 'fields.updated, the incremental cursor field.';
COMMENT ON COLUMN raw.jira_issues.payload IS 'The issue object unaltered: id, key, fields, changelog (histories newest first, at most 100 on Cloud).';
COMMENT ON COLUMN raw.jira_issues.synced_at IS 'When this row was written (UTC).';
COMMENT ON COLUMN raw.jira_issues.sync_id IS 'The sync that last wrote this row.';

CREATE TABLE raw.jira_versions (
    site        VARCHAR NOT NULL,
    project_key VARCHAR NOT NULL,
    version_id  VARCHAR NOT NULL,
    payload     JSON NOT NULL,
    synced_at   TIMESTAMPTZ NOT NULL,
    sync_id     VARCHAR NOT NULL,
    PRIMARY KEY (site, version_id)
);
COMMENT ON TABLE raw.jira_versions IS 'One row per Jira version (GET /rest/api/N/project/{key}/versions), as returned.';
COMMENT ON COLUMN raw.jira_versions.site IS 'Site name from program.yaml.';
COMMENT ON COLUMN raw.jira_versions.project_key IS 'Project the version belongs to.';
COMMENT ON COLUMN raw.jira_versions.version_id IS 'Jira version id.';
COMMENT ON COLUMN raw.jira_versions.payload IS 'The version object unaltered: name, startDate, releaseDate, released, archived.';
COMMENT ON COLUMN raw.jira_versions.synced_at IS 'When this row was written (UTC).';
COMMENT ON COLUMN raw.jira_versions.sync_id IS 'The sync that last wrote this row.';

CREATE TABLE raw.github_repos (
    site      VARCHAR NOT NULL,
    repo      VARCHAR NOT NULL,
    payload   JSON NOT NULL,
    synced_at TIMESTAMPTZ NOT NULL,
    sync_id   VARCHAR NOT NULL,
    PRIMARY KEY (site, repo)
);
COMMENT ON TABLE raw.github_repos IS 'One row per GitHub repository (GET /repos/{owner}/{repo}), as returned.';
COMMENT ON COLUMN raw.github_repos.site IS 'Site name from program.yaml.';
COMMENT ON COLUMN raw.github_repos.repo IS 'owner/name as configured.';
COMMENT ON COLUMN raw.github_repos.payload IS 'The repository object unaltered.';
COMMENT ON COLUMN raw.github_repos.synced_at IS 'When this row was written (UTC).';
COMMENT ON COLUMN raw.github_repos.sync_id IS 'The sync that last wrote this row.';

CREATE TABLE raw.github_issues (
    site       VARCHAR NOT NULL,
    repo       VARCHAR NOT NULL,
    number     INTEGER NOT NULL,
    issue_id   BIGINT NOT NULL,
    updated_at TIMESTAMPTZ,
    payload    JSON NOT NULL,
    synced_at  TIMESTAMPTZ NOT NULL,
    sync_id    VARCHAR NOT NULL,
    PRIMARY KEY (site, repo, number)
);
COMMENT ON TABLE raw.github_issues IS 'One row per GitHub issue or pull request (GET /repos/{o}/{r}/issues?state=all), as returned; pull requests carry a pull_request key.';
COMMENT ON COLUMN raw.github_issues.site IS 'Site name from program.yaml.';
COMMENT ON COLUMN raw.github_issues.repo IS 'owner/name as configured.';
COMMENT ON COLUMN raw.github_issues.number IS 'Issue or pull request number within the repo.';
COMMENT ON COLUMN raw.github_issues.issue_id IS 'GitHub global issue id.';
COMMENT ON COLUMN raw.github_issues.updated_at IS 'updated_at, the incremental cursor field.';
COMMENT ON COLUMN raw.github_issues.payload IS 'The issue object unaltered.';
COMMENT ON COLUMN raw.github_issues.synced_at IS 'When this row was written (UTC).';
COMMENT ON COLUMN raw.github_issues.sync_id IS 'The sync that last wrote this row.';

CREATE TABLE raw.github_issue_events (
    site         VARCHAR NOT NULL,
    repo         VARCHAR NOT NULL,
    event_id     BIGINT NOT NULL,
    issue_number INTEGER,
    created_at   TIMESTAMPTZ,
    payload      JSON NOT NULL,
    synced_at    TIMESTAMPTZ NOT NULL,
    sync_id      VARCHAR NOT NULL,
    PRIMARY KEY (site, repo, event_id)
);
COMMENT ON TABLE raw.github_issue_events IS 'One row per repo-level issue event (GET /repos/{o}/{r}/issues/events): closed, reopened, labeled, milestoned, assigned, ...';
COMMENT ON COLUMN raw.github_issue_events.site IS 'Site name from program.yaml.';
COMMENT ON COLUMN raw.github_issue_events.repo IS 'owner/name as configured.';
COMMENT ON COLUMN raw.github_issue_events.event_id IS 'GitHub event id.';
COMMENT ON COLUMN raw.github_issue_events.issue_number IS 'Number of the issue the event belongs to (payload.issue.number).';
COMMENT ON COLUMN raw.github_issue_events.created_at IS 'When the event happened.';
COMMENT ON COLUMN raw.github_issue_events.payload IS 'The event object unaltered, including the embedded issue.';
COMMENT ON COLUMN raw.github_issue_events.synced_at IS 'When this row was written (UTC).';
COMMENT ON COLUMN raw.github_issue_events.sync_id IS 'The sync that last wrote this row.';

CREATE TABLE raw.github_milestones (
    site      VARCHAR NOT NULL,
    repo      VARCHAR NOT NULL,
    number    INTEGER NOT NULL,
    payload   JSON NOT NULL,
    synced_at TIMESTAMPTZ NOT NULL,
    sync_id   VARCHAR NOT NULL,
    PRIMARY KEY (site, repo, number)
);
COMMENT ON TABLE raw.github_milestones IS 'One row per GitHub milestone (GET /repos/{o}/{r}/milestones?state=all), as returned.';
COMMENT ON COLUMN raw.github_milestones.site IS 'Site name from program.yaml.';
COMMENT ON COLUMN raw.github_milestones.repo IS 'owner/name as configured.';
COMMENT ON COLUMN raw.github_milestones.number IS 'Milestone number within the repo.';
COMMENT ON COLUMN raw.github_milestones.payload IS 'The milestone object unaltered: title, state, due_on, closed_at, open_issues, closed_issues.';
COMMENT ON COLUMN raw.github_milestones.synced_at IS 'When this row was written (UTC).';
COMMENT ON COLUMN raw.github_milestones.sync_id IS 'The sync that last wrote this row.';

CREATE TABLE raw.github_issue_relations (
    site         VARCHAR NOT NULL,
    repo         VARCHAR NOT NULL,
    number       INTEGER NOT NULL,
    relation     VARCHAR NOT NULL,
    other_id     BIGINT NOT NULL,
    payload      JSON NOT NULL,
    synced_at    TIMESTAMPTZ NOT NULL,
    sync_id      VARCHAR NOT NULL,
    PRIMARY KEY (site, repo, number, relation, other_id)
);
COMMENT ON TABLE raw.github_issue_relations IS 'Sub-issues and "blocked by" dependencies of an issue: one row per related issue, fetched only for issues whose summaries say they have some.';
COMMENT ON COLUMN raw.github_issue_relations.site IS 'Site name from program.yaml.';
COMMENT ON COLUMN raw.github_issue_relations.repo IS 'owner/name of the issue the relation was read from.';
COMMENT ON COLUMN raw.github_issue_relations.number IS 'Number of the issue the relation was read from.';
COMMENT ON COLUMN raw.github_issue_relations.relation IS 'sub_issue (payload is a child of this issue) or blocked_by (payload blocks this issue).';
COMMENT ON COLUMN raw.github_issue_relations.other_id IS 'GitHub global id of the related issue (payload.id).';
COMMENT ON COLUMN raw.github_issue_relations.payload IS 'The related issue object unaltered (it may live in another repository).';
COMMENT ON COLUMN raw.github_issue_relations.synced_at IS 'When this row was written (UTC).';
COMMENT ON COLUMN raw.github_issue_relations.sync_id IS 'The sync that last wrote this row.';

CREATE TABLE meta.sync_runs (
    sync_id     VARCHAR PRIMARY KEY,
    started_at  TIMESTAMPTZ NOT NULL,
    finished_at TIMESTAMPTZ,
    as_of       TIMESTAMPTZ NOT NULL,
    status      VARCHAR NOT NULL
);
COMMENT ON TABLE meta.sync_runs IS 'One row per sync of the trackers.';
COMMENT ON COLUMN meta.sync_runs.sync_id IS 'Unique id of the sync (the Dagster run id when run by Dagster).';
COMMENT ON COLUMN meta.sync_runs.started_at IS 'Wall-clock start (UTC).';
COMMENT ON COLUMN meta.sync_runs.finished_at IS 'Wall-clock end (UTC); null while running or after a failure.';
COMMENT ON COLUMN meta.sync_runs.as_of IS 'The instant the figures describe: the sandbox clock for sandbox runs, else the start of the sync.';
COMMENT ON COLUMN meta.sync_runs.status IS 'running, succeeded or failed.';

CREATE TABLE meta.source_syncs (
    sync_id     VARCHAR NOT NULL,
    site        VARCHAR NOT NULL,
    project_key VARCHAR NOT NULL,
    source      VARCHAR NOT NULL,
    status      VARCHAR NOT NULL,
    items       INTEGER NOT NULL,
    requests    INTEGER NOT NULL,
    error       VARCHAR,
    started_at  TIMESTAMPTZ NOT NULL,
    finished_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (sync_id, site, project_key)
);
COMMENT ON TABLE meta.source_syncs IS 'One row per project or repo per sync: what was fetched, how many requests it took, and any error.';
COMMENT ON COLUMN meta.source_syncs.sync_id IS 'The sync (meta.sync_runs.sync_id).';
COMMENT ON COLUMN meta.source_syncs.site IS 'Site name from program.yaml.';
COMMENT ON COLUMN meta.source_syncs.project_key IS 'Jira project key or GitHub owner/name.';
COMMENT ON COLUMN meta.source_syncs.source IS 'jira or github.';
COMMENT ON COLUMN meta.source_syncs.status IS 'succeeded or failed.';
COMMENT ON COLUMN meta.source_syncs.items IS 'Issues written by this sync for this project.';
COMMENT ON COLUMN meta.source_syncs.requests IS 'HTTP requests made for this project (site metadata counted on its first project).';
COMMENT ON COLUMN meta.source_syncs.error IS 'Error message when status is failed (never contains credentials).';
COMMENT ON COLUMN meta.source_syncs.started_at IS 'Wall-clock start (UTC).';
COMMENT ON COLUMN meta.source_syncs.finished_at IS 'Wall-clock end (UTC).';
