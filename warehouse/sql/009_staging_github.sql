-- GitHub issues and events parsed once into typed columns (transforms/sql/staging_github_*.sql).
CREATE TABLE staging.github_issues (
    site             VARCHAR NOT NULL,
    repo             VARCHAR NOT NULL,
    number           INTEGER NOT NULL,
    issue_id         BIGINT NOT NULL,
    issue_synced_at  TIMESTAMPTZ NOT NULL,
    is_pull_request  BOOLEAN NOT NULL,
    title            VARCHAR,
    body             VARCHAR,
    state            VARCHAR,
    state_reason     VARCHAR,
    labels           VARCHAR[],
    assignee         VARCHAR,
    author           VARCHAR,
    created_at       TIMESTAMPTZ,
    updated_at       TIMESTAMPTZ,
    closed_at        TIMESTAMPTZ,
    merged_at        TIMESTAMPTZ,
    milestone_number INTEGER,
    url              VARCHAR
);
COMMENT ON TABLE staging.github_issues IS 'One row per raw.github_issues row (issues and pull requests), its JSON parsed once into typed columns; parsed again only when its raw row is landed with a changed payload.';
COMMENT ON COLUMN staging.github_issues.site IS 'GitHub site name from program.yaml.';
COMMENT ON COLUMN staging.github_issues.repo IS 'owner/name as configured.';
COMMENT ON COLUMN staging.github_issues.number IS 'Issue or pull request number.';
COMMENT ON COLUMN staging.github_issues.issue_id IS 'GitHub issue id.';
COMMENT ON COLUMN staging.github_issues.issue_synced_at IS 'raw.github_issues.synced_at of the row parsed: the version this row reflects.';
COMMENT ON COLUMN staging.github_issues.is_pull_request IS 'A pull request: its pull_request object has a url (2012''s plain issues carry an empty one).';
COMMENT ON COLUMN staging.github_issues.title IS 'title (tracker text).';
COMMENT ON COLUMN staging.github_issues.body IS 'body (tracker text, Markdown).';
COMMENT ON COLUMN staging.github_issues.state IS 'open or closed.';
COMMENT ON COLUMN staging.github_issues.state_reason IS 'completed, not_planned, reopened or null.';
COMMENT ON COLUMN staging.github_issues.labels IS 'labels[*].name.';
COMMENT ON COLUMN staging.github_issues.assignee IS 'assignee.login.';
COMMENT ON COLUMN staging.github_issues.author IS 'user.login: who opened it.';
COMMENT ON COLUMN staging.github_issues.created_at IS 'created_at (UTC).';
COMMENT ON COLUMN staging.github_issues.updated_at IS 'updated_at (UTC).';
COMMENT ON COLUMN staging.github_issues.closed_at IS 'closed_at (UTC).';
COMMENT ON COLUMN staging.github_issues.merged_at IS 'pull_request.merged_at (UTC).';
COMMENT ON COLUMN staging.github_issues.milestone_number IS 'milestone.number.';
COMMENT ON COLUMN staging.github_issues.url IS 'html_url.';

CREATE TABLE staging.github_issue_events (
    site            VARCHAR NOT NULL,
    repo            VARCHAR NOT NULL,
    event_id        BIGINT NOT NULL,
    event_synced_at TIMESTAMPTZ NOT NULL,
    issue_id        BIGINT,
    created_at      TIMESTAMPTZ,
    event           VARCHAR,
    actor           VARCHAR,
    assignee        VARCHAR,
    milestone       VARCHAR,
    label           VARCHAR,
    rename_from     VARCHAR,
    rename_to       VARCHAR
);
COMMENT ON TABLE staging.github_issue_events IS 'One row per raw.github_issue_events row, its JSON parsed once into typed columns; parsed again only when landed with a changed payload.';
COMMENT ON COLUMN staging.github_issue_events.site IS 'GitHub site name from program.yaml.';
COMMENT ON COLUMN staging.github_issue_events.repo IS 'owner/name as configured.';
COMMENT ON COLUMN staging.github_issue_events.event_id IS 'GitHub event id.';
COMMENT ON COLUMN staging.github_issue_events.event_synced_at IS 'raw.github_issue_events.synced_at of the row parsed.';
COMMENT ON COLUMN staging.github_issue_events.issue_id IS 'issue.id: the issue the event belongs to.';
COMMENT ON COLUMN staging.github_issue_events.created_at IS 'When the event happened (UTC).';
COMMENT ON COLUMN staging.github_issue_events.event IS 'closed, reopened, labeled, assigned, milestoned, renamed, ...';
COMMENT ON COLUMN staging.github_issue_events.actor IS 'actor.login.';
COMMENT ON COLUMN staging.github_issue_events.assignee IS 'assignee.login (assigned, unassigned).';
COMMENT ON COLUMN staging.github_issue_events.milestone IS 'milestone.title (milestoned, demilestoned).';
COMMENT ON COLUMN staging.github_issue_events.label IS 'label.name (labeled, unlabeled).';
COMMENT ON COLUMN staging.github_issue_events.rename_from IS 'rename.from (renamed).';
COMMENT ON COLUMN staging.github_issue_events.rename_to IS 'rename.to (renamed).';
