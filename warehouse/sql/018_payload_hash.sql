-- A 64-bit hash of each raw row's payload, written with it (warehouse.store.upsert).
-- A sync that re-reads a row compares hashes to tell an unchanged row (only its sync_id moves)
-- from a changed one (deleted and appended): comparing payloads read every payload of the
-- table for each page (1.7 GB at 100,000 items), a hash 8 bytes a row. Rows written
-- before this migration are hashed here once.

ALTER TABLE raw.github_issue_events ADD COLUMN payload_hash UBIGINT;
UPDATE raw.github_issue_events SET payload_hash = hash(payload);
COMMENT ON COLUMN raw.github_issue_events.payload_hash IS 'hash(payload), DuckDB''s 64-bit hash of the payload as stored: how a sync tells a re-read row unchanged without reading its payload.';

ALTER TABLE raw.github_issue_relations ADD COLUMN payload_hash UBIGINT;
UPDATE raw.github_issue_relations SET payload_hash = hash(payload);
COMMENT ON COLUMN raw.github_issue_relations.payload_hash IS 'hash(payload), DuckDB''s 64-bit hash of the payload as stored: how a sync tells a re-read row unchanged without reading its payload.';

ALTER TABLE raw.github_issues ADD COLUMN payload_hash UBIGINT;
UPDATE raw.github_issues SET payload_hash = hash(payload);
COMMENT ON COLUMN raw.github_issues.payload_hash IS 'hash(payload), DuckDB''s 64-bit hash of the payload as stored: how a sync tells a re-read row unchanged without reading its payload.';

ALTER TABLE raw.github_milestones ADD COLUMN payload_hash UBIGINT;
UPDATE raw.github_milestones SET payload_hash = hash(payload);
COMMENT ON COLUMN raw.github_milestones.payload_hash IS 'hash(payload), DuckDB''s 64-bit hash of the payload as stored: how a sync tells a re-read row unchanged without reading its payload.';

ALTER TABLE raw.github_repos ADD COLUMN payload_hash UBIGINT;
UPDATE raw.github_repos SET payload_hash = hash(payload);
COMMENT ON COLUMN raw.github_repos.payload_hash IS 'hash(payload), DuckDB''s 64-bit hash of the payload as stored: how a sync tells a re-read row unchanged without reading its payload.';

ALTER TABLE raw.jira_board_sprints ADD COLUMN payload_hash UBIGINT;
UPDATE raw.jira_board_sprints SET payload_hash = hash(payload);
COMMENT ON COLUMN raw.jira_board_sprints.payload_hash IS 'hash(payload), DuckDB''s 64-bit hash of the payload as stored: how a sync tells a re-read row unchanged without reading its payload.';

ALTER TABLE raw.jira_changelogs ADD COLUMN payload_hash UBIGINT;
UPDATE raw.jira_changelogs SET payload_hash = hash(payload);
COMMENT ON COLUMN raw.jira_changelogs.payload_hash IS 'hash(payload), DuckDB''s 64-bit hash of the payload as stored: how a sync tells a re-read row unchanged without reading its payload.';

ALTER TABLE raw.jira_issues ADD COLUMN payload_hash UBIGINT;
UPDATE raw.jira_issues SET payload_hash = hash(payload);
COMMENT ON COLUMN raw.jira_issues.payload_hash IS 'hash(payload), DuckDB''s 64-bit hash of the payload as stored: how a sync tells a re-read row unchanged without reading its payload.';

ALTER TABLE raw.jira_remote_links ADD COLUMN payload_hash UBIGINT;
UPDATE raw.jira_remote_links SET payload_hash = hash(payload);
COMMENT ON COLUMN raw.jira_remote_links.payload_hash IS 'hash(payload), DuckDB''s 64-bit hash of the payload as stored: how a sync tells a re-read row unchanged without reading its payload.';

ALTER TABLE raw.jira_versions ADD COLUMN payload_hash UBIGINT;
UPDATE raw.jira_versions SET payload_hash = hash(payload);
COMMENT ON COLUMN raw.jira_versions.payload_hash IS 'hash(payload), DuckDB''s 64-bit hash of the payload as stored: how a sync tells a re-read row unchanged without reading its payload.';
