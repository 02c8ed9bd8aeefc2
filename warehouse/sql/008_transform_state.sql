-- What each derived table was last built from, so a build whose inputs did not change does nothing.
CREATE TABLE meta.transform_state (
    schema_name VARCHAR NOT NULL,
    table_name  VARCHAR NOT NULL,
    inputs      VARCHAR NOT NULL,
    built_at    TIMESTAMPTZ NOT NULL,
    row_count   BIGINT NOT NULL,
    PRIMARY KEY (schema_name, table_name)
);
COMMENT ON TABLE meta.transform_state IS 'One row per staging, core and marts table: a digest of the inputs it was last built from (every raw table''s row count and latest synced_at, the program structure from program.yaml, the SQL files, and for marts the as-of instant and the per-project sync outcomes). A build whose digest is unchanged skips the table: a night on which nothing changed transforms nothing.';
COMMENT ON COLUMN meta.transform_state.schema_name IS 'staging, core or marts.';
COMMENT ON COLUMN meta.transform_state.table_name IS 'The table.';
COMMENT ON COLUMN meta.transform_state.inputs IS 'md5 digest of the inputs (transforms.build.inputs_digest).';
COMMENT ON COLUMN meta.transform_state.built_at IS 'When the table was last built (UTC).';
COMMENT ON COLUMN meta.transform_state.row_count IS 'Its rows after that build.';
COMMENT ON COLUMN raw.jira_issues.synced_at IS 'When this row was last landed with a changed payload (UTC): a sync that receives the same payload again moves only sync_id, so the transforms parse nothing that did not change.';
COMMENT ON COLUMN raw.jira_issues.sync_id IS 'The latest sync that returned this row (changed or not): a full sync forgets rows it did not see.';
COMMENT ON COLUMN raw.jira_versions.synced_at IS 'When this row was last landed with a changed payload (UTC): a sync that receives the same payload again moves only sync_id, so the transforms parse nothing that did not change.';
COMMENT ON COLUMN raw.jira_versions.sync_id IS 'The latest sync that returned this row (changed or not): a full sync forgets rows it did not see.';
COMMENT ON COLUMN raw.jira_changelogs.synced_at IS 'When this row was last landed with a changed payload (UTC): a sync that receives the same payload again moves only sync_id, so the transforms parse nothing that did not change.';
COMMENT ON COLUMN raw.jira_changelogs.sync_id IS 'The latest sync that returned this row (changed or not): a full sync forgets rows it did not see.';
COMMENT ON COLUMN raw.jira_remote_links.synced_at IS 'When this row was last landed with a changed payload (UTC): a sync that receives the same payload again moves only sync_id, so the transforms parse nothing that did not change.';
COMMENT ON COLUMN raw.jira_remote_links.sync_id IS 'The latest sync that returned this row (changed or not): a full sync forgets rows it did not see.';
COMMENT ON COLUMN raw.github_repos.synced_at IS 'When this row was last landed with a changed payload (UTC): a sync that receives the same payload again moves only sync_id, so the transforms parse nothing that did not change.';
COMMENT ON COLUMN raw.github_repos.sync_id IS 'The latest sync that returned this row (changed or not): a full sync forgets rows it did not see.';
COMMENT ON COLUMN raw.github_issues.synced_at IS 'When this row was last landed with a changed payload (UTC): a sync that receives the same payload again moves only sync_id, so the transforms parse nothing that did not change.';
COMMENT ON COLUMN raw.github_issues.sync_id IS 'The latest sync that returned this row (changed or not): a full sync forgets rows it did not see.';
COMMENT ON COLUMN raw.github_issue_events.synced_at IS 'When this row was last landed with a changed payload (UTC): a sync that receives the same payload again moves only sync_id, so the transforms parse nothing that did not change.';
COMMENT ON COLUMN raw.github_issue_events.sync_id IS 'The latest sync that returned this row (changed or not): a full sync forgets rows it did not see.';
COMMENT ON COLUMN raw.github_milestones.synced_at IS 'When this row was last landed with a changed payload (UTC): a sync that receives the same payload again moves only sync_id, so the transforms parse nothing that did not change.';
COMMENT ON COLUMN raw.github_milestones.sync_id IS 'The latest sync that returned this row (changed or not): a full sync forgets rows it did not see.';
COMMENT ON COLUMN raw.github_issue_relations.synced_at IS 'When this row was last landed with a changed payload (UTC): a sync that receives the same payload again moves only sync_id, so the transforms parse nothing that did not change.';
COMMENT ON COLUMN raw.github_issue_relations.sync_id IS 'The latest sync that returned this row (changed or not): a full sync forgets rows it did not see.';
